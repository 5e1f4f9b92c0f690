//! Eventfd notification, personalities and restrictions on the real kernel:
//! `IORING_REGISTER_EVENTFD`, `EVENTFD_ASYNC`, `UNREGISTER_EVENTFD`, `PERSONALITY`,
//! `UNREGISTER_PERSONALITY`, `RESTRICTIONS` (with `ENABLE_RINGS`).
use uring_testkit as common;
use uring_testkit::test_name;
mod register_common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use common::for_each_flavor;
use register_common::{assert_errno, nop, openat_direct, run, run1};
use uring::Restriction;
use uring::types::Fd;
use uring::{Ring, SqeFlags, opcode, sys};

fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) with valid flags returns a new fd or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh fd we own.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The eventfd's counter, reset to 0; 0 if it was not signalled.
fn take(efd: &OwnedFd) -> u64 {
    let mut v = 0u64;
    // SAFETY: reads 8 bytes into `v`.
    let n = unsafe { libc::read(efd.as_raw_fd(), (&raw mut v).cast(), 8) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "read eventfd: {e}");
        return 0;
    }
    v
}

#[test]
fn eventfd_is_signalled_per_completion() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let efd = eventfd();
        let sub = ring.submitter();
        sub.register_eventfd(efd.as_raw_fd()).unwrap();
        assert_errno(
            sub.register_eventfd(efd.as_raw_fd()),
            libc::EBUSY,
            "second eventfd",
        );
        assert_eq!(take(&efd), 0, "[{}] nothing yet", f.name);
        // SAFETY: NOPs reference no memory.
        unsafe { run(ring, &[nop(1), nop(2), nop(3)], 3) };
        let n = take(&efd);
        assert!((1..=3).contains(&n), "[{}] signalled {n} times", f.name);
        // Paused through the CQ flag, nothing is signalled.
        ring.completion().set_eventfd_disabled(true);
        // SAFETY: as above.
        unsafe { run1(ring, nop(4)) };
        assert_eq!(take(&efd), 0, "[{}] disabled", f.name);
        ring.completion().set_eventfd_disabled(false);
        ring.submitter().unregister_eventfd().unwrap();
        // SAFETY: as above.
        unsafe { run1(ring, nop(5)) };
        assert_eq!(take(&efd), 0, "[{}] unregistered", f.name);
        assert_errno(
            ring.submitter().unregister_eventfd(),
            libc::ENXIO,
            "unregister twice",
        );
        let (r, _w) = register_common::pipe();
        assert_errno(
            ring.submitter().register_eventfd(r.as_raw_fd()),
            libc::EINVAL,
            "a pipe is not an eventfd",
        );
    });
}

#[test]
fn async_eventfd_is_signalled_only_from_io_wq() {
    common::for_each_backend_only(test_name!(), |backend| {
        // Completions posted inline (a NOP) do not signal an async eventfd; one completed
        // by an io-wq worker (IOSQE_ASYNC) does. On the default ring the worker posts the
        // CQE itself; other flavours hand it to the submitter's task work.
        let mut ring = common::builder(backend).build(8).unwrap();
        let efd = eventfd();
        ring.submitter()
            .register_eventfd_async(efd.as_raw_fd())
            .unwrap();
        // SAFETY: NOPs reference no memory.
        let c = unsafe { run1(&mut ring, nop(1)) };
        assert_eq!(c.result(), 0);
        assert_eq!(
            take(&efd),
            0,
            "inline completion signalled the async eventfd"
        );
        // SAFETY: as above.
        let c = unsafe { run1(&mut ring, nop(2).flags(SqeFlags::ASYNC)) };
        assert_eq!(c.result(), 0);
        assert_eq!(take(&efd), 1, "io-wq completion did not signal");
        ring.submitter().unregister_eventfd().unwrap();
    });
}

/// Opens `path` read-only with IORING_OP_OPENAT on the calling thread, with
/// `personality` (0: none); the CQE's result.
fn open_with(ring: &mut Ring, path: &std::ffi::CStr, personality: u16) -> i32 {
    let sqe = openat_direct(path, 0).personality(personality);
    // SAFETY: `path` outlives the completion, reaped here.
    let res = unsafe { run1(ring, sqe) }.result();
    if res >= 0 {
        // SAFETY: a plain openat (file_index 0) returned a new fd that we own.
        drop(unsafe { OwnedFd::from_raw_fd(res) });
    }
    res
}

#[test]
fn personality_carries_the_registering_credentials() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        if !common::register_gate(test_name!(), f, &[sys::IORING_REGISTER_PERSONALITY]) {
            return;
        }
        let sub = ring.submitter();
        let id = sub.register_personality().unwrap();
        assert_ne!(id, 0, "[{}] 0 means no personality", f.name);
        // SAFETY: NOPs reference no memory.
        let ok = unsafe { run1(ring, nop(1).personality(id)) };
        assert_eq!(ok.result(), 0, "[{}]", f.name);
        // SAFETY: as above.
        let bad = unsafe { run1(ring, nop(2).personality(id.wrapping_add(1000))) };
        assert_eq!(bad.result(), -libc::EINVAL, "[{}] unknown id", f.name);
        ring.submitter().unregister_personality(id).unwrap();
        // SAFETY: as above.
        let gone = unsafe { run1(ring, nop(3).personality(id)) };
        assert_eq!(gone.result(), -libc::EINVAL, "[{}] unregistered id", f.name);
        assert_errno(
            ring.submitter().unregister_personality(id),
            libc::EINVAL,
            "unregister twice",
        );
    });

    // The credentials themselves: a thread that dropped to an unprivileged uid cannot
    // open a root-only file, except with the personality root registered.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        common::not_applicable("register_personality creds", "not running as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, b"s").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut ring = common::new_ring(uring::Backend::Kernel, 4);
    let id = ring.submitter().register_personality().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            // setresuid(2) through the raw system call changes this thread only
            // (glibc's wrapper would change every thread of the process).
            // SAFETY: plain system call; this thread ends right after.
            let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(r, 0, "setresuid: {}", std::io::Error::last_os_error());
            assert_eq!(open_with(&mut ring, &cpath, 0), -libc::EACCES, "as nobody");
            assert!(
                open_with(&mut ring, &cpath, id) >= 0,
                "with root's personality"
            );
        })
        .join()
        .unwrap();
    });
}

#[test]
fn restrictions_limit_a_disabled_ring_once_enabled() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend).build(4).unwrap();
        assert_errno(
            ring.submitter()
                .register_restrictions(&[Restriction::sqe_op(sys::IORING_OP_NOP)]),
            libc::EBADFD,
            "restrictions on an enabled ring",
        );
        assert_errno(
            ring.submitter().enable_rings(),
            libc::EBADFD,
            "enable twice",
        );

        let mut ring = common::builder(backend).disabled().build(4).unwrap();
        let sub = ring.submitter();
        assert_errno(
            sub.register_restrictions(&[Restriction::sqe_op(200)]),
            libc::EINVAL,
            "opcode out of range",
        );
        sub.register_restrictions(&[
            Restriction::sqe_op(sys::IORING_OP_NOP),
            Restriction::register_op(sys::IORING_REGISTER_PROBE as u8),
            Restriction::sqe_flags_allowed(SqeFlags::ASYNC),
        ])
        .unwrap();
        assert_errno(
            sub.register_restrictions(&[Restriction::sqe_op(sys::IORING_OP_NOP)]),
            libc::EBUSY,
            "second set",
        );
        // Disabled: submission is refused until enabled.
        {
            let mut sq = ring.submission();
            // SAFETY: a NOP references no memory.
            unsafe { sq.push(&nop(0)) }.unwrap();
        }
        assert_errno(ring.submit(), libc::EBADFD, "submit while disabled");
        ring.submitter().enable_rings().unwrap();
        // The NOP pushed while disabled goes now.
        ring.submit_and_wait(1).unwrap();
        let c = common::reap(&mut ring, 1, register_common::LIMIT);
        assert_eq!((c[0].user_data(), c[0].result()), (0, 0));

        let mut buf = [0u8; 8];
        let read = opcode::Read::new(Fd(0), buf.as_mut_ptr(), 8)
            .build()
            .user_data(2);
        // SAFETY: NOPs reference no memory; the READ is refused before it reads (and
        // `buf` outlives it anyway).
        let cqes = unsafe {
            run(
                &mut ring,
                &[
                    nop(1),
                    read,
                    nop(3).flags(SqeFlags::ASYNC),
                    nop(4).flags(SqeFlags::IO_DRAIN),
                ],
                4,
            )
        };
        let mut got: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.result())).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [(1, 0), (2, -libc::EACCES), (3, 0), (4, -libc::EACCES)],
            "READ and a flag not allowed are refused"
        );
        // Register opcodes: PROBE allowed, the rest refused.
        ring.submitter().probe().unwrap();
        assert_errno(
            ring.submitter().register_files(&[0]),
            libc::EACCES,
            "register op not allowed",
        );
        assert_errno(
            ring.submitter().register_personality(),
            libc::EACCES,
            "register op not allowed",
        );
    });
}

#[test]
fn required_sqe_flags_are_enforced() {
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::builder(backend).disabled().build(4).unwrap();
        ring.submitter()
            .register_restrictions(&[
                Restriction::sqe_op(sys::IORING_OP_NOP),
                Restriction::sqe_flags_required(SqeFlags::ASYNC),
            ])
            .unwrap();
        ring.submitter().enable_rings().unwrap();
        // SAFETY: NOPs reference no memory.
        let cqes = unsafe { run(&mut ring, &[nop(1), nop(2).flags(SqeFlags::ASYNC)], 2) };
        let mut got: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.result())).collect();
        got.sort_unstable();
        assert_eq!(got, [(1, -libc::EACCES), (2, 0)]);
    });
}
