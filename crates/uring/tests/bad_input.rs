//! Bad input from the application, on both backends: the kernel is the oracle, and
//! the engine must answer as it does — an errno in the CQE or from the call, never a
//! crash or a panic (which aborts a C program using the drop-in library).
use uring_testkit as common;
use uring_testkit::test_name;

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::{diff, reap};
use uring::types::{Fd, OpenHow, Timespec};
use uring::{Ring, SqeFlags, WaitArgs, opcode};

const LIMIT: Duration = Duration::from_secs(10);

/// Waits that could last 292 years (or past what an `Instant` holds) are waits, not
/// panics: the wait ends when the completion comes.
#[test]
fn huge_wait_timeouts_wait_for_the_completion() {
    let huge = Duration::from_secs(i64::MAX as u64);
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE],
        8,
        |backend, ring| {
            let ts = Timespec::from(Duration::from_millis(20));
            for (i, args) in [
                WaitArgs::new().timeout(huge),
                WaitArgs::new().timeout(Duration::MAX),
                WaitArgs::new().timeout(huge).absolute(),
            ]
            .iter()
            .enumerate()
            {
                let t = opcode::Timeout::new(&ts).build().user_data(i as u64);
                // SAFETY: `ts` outlives the request, reaped below.
                unsafe { ring.submission().push(&t) }.unwrap();
                ring.submitter()
                    .submit_with_args(1, args)
                    .unwrap_or_else(|e| panic!("[{}] wait {i}: {e}", backend.name()));
                let c = reap(ring, 1, LIMIT)[0];
                assert_eq!((c.user_data(), c.result()), (i as u64, -libc::ETIME));
            }
        },
    );
}

/// Timeouts of 292 years in SQEs are accepted and can be removed.
#[test]
fn huge_timeout_sqes_are_armed_and_removable() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::Timeout::CODE,
            opcode::TimeoutRemove::CODE,
            opcode::LinkTimeout::CODE,
        ],
        8,
        |_backend, ring| {
            let huge = Timespec::new().sec(i64::MAX as u64).nsec(999_999_999);
            let sqes = [
                opcode::Timeout::new(&huge).build().user_data(1),
                opcode::Nop::new()
                    .build()
                    .flags(SqeFlags::IO_LINK)
                    .user_data(2),
                opcode::LinkTimeout::new(&huge).build().user_data(3),
            ];
            // SAFETY: `huge` outlives the requests, all reaped here.
            let mut got: Vec<_> = unsafe { common::run(ring, &sqes, 2) }
                .iter()
                .map(|c| (c.user_data(), c.result()))
                .collect();
            let rm = opcode::TimeoutRemove::new(1).build().user_data(4);
            // SAFETY: a removal points to nothing.
            got.extend(
                unsafe { common::run(ring, &[rm], 2) }
                    .iter()
                    .map(|c| (c.user_data(), c.result())),
            );
            got.sort();
            assert_eq!(
                got,
                [(1, -libc::ECANCELED), (2, 0), (3, -libc::ECANCELED), (4, 0)]
            );
        },
    );
}

/// An address no mapping covers.
const BAD: u64 = 0x1000;

fn bad<T>() -> *mut T {
    BAD as *mut T
}

/// What the requests of [`bad_pointers_in_sqes_fail_with_efault`] work on.
struct Fixture {
    _dir: tempfile::TempDir,
    file: std::fs::File,
    path: CString,
    dgram: (UnixDatagram, UnixDatagram),
    udp: std::net::UdpSocket,
    tcp: OwnedFd,
    epoll: OwnedFd,
    /// A page mapped without access: a second kind of bad address.
    none: common::Mapping,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 8192]).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let dgram = UnixDatagram::pair().unwrap();
        // Data waiting, so that a receive with a good header would not block.
        dgram.1.send(b"queued").unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // SAFETY: plain socket(2) and epoll_create1(2); the fds are checked and owned.
        let (tcp, epoll) = unsafe {
            let t = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            let e = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            assert!(t >= 0 && e >= 0);
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(t), OwnedFd::from_raw_fd(e))
        };
        Fixture {
            path: common::cpath(&p),
            _dir: dir,
            file,
            dgram,
            udp,
            tcp,
            epoll,
            none: common::Mapping::with_prot(4096, libc::PROT_NONE),
        }
    }
}

/// Runs every SQE alone and returns (name, result).
fn run_each(ring: &mut Ring, sqes: &[(&'static str, uring::Sqe)]) -> Vec<(&'static str, i32)> {
    sqes.iter()
        .map(|(name, sqe)| {
            // SAFETY: each SQE points to the fixture (alive for the call) or to bad
            // addresses, which is what is tested: the ring must not touch them.
            let c = unsafe { common::run1(ring, *sqe) };
            (*name, c.result())
        })
        .collect()
}

/// Every pointer an SQE carries, read at prep (iovecs, msghdr, sockaddr, timespec,
/// paths, open_how, epoll event, futex vector) or written at completion, may be bad:
/// the CQE says `-EFAULT` where the kernel's does, and the process lives on.
#[test]
fn bad_pointers_in_sqes_fail_with_efault() {
    let fx = Fixture::new();
    let file = Fd(fx.file.as_raw_fd());
    let path = fx.path.as_ptr();
    let name = c"user.x".as_ptr();
    let none = fx.none.ptr();
    let mut iov_bad_base = [libc::iovec {
        iov_base: bad(),
        iov_len: 16,
    }];
    let how = OpenHow::new();
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg_bad_iov: libc::msghdr = unsafe { std::mem::zeroed() };
    msg_bad_iov.msg_iov = bad();
    msg_bad_iov.msg_iovlen = 1;
    let mut one = [0u8; 4];
    let mut iov_ok = [libc::iovec {
        iov_base: one.as_mut_ptr().cast(),
        iov_len: 4,
    }];
    // SAFETY: as above.
    let mut msg_bad_name: libc::msghdr = unsafe { std::mem::zeroed() };
    msg_bad_name.msg_iov = iov_ok.as_mut_ptr();
    msg_bad_name.msg_iovlen = 1;
    msg_bad_name.msg_name = bad();
    msg_bad_name.msg_namelen = 16;
    let mut msg_bad_control = msg_bad_name;
    msg_bad_control.msg_name = std::ptr::null_mut();
    msg_bad_control.msg_namelen = 0;
    msg_bad_control.msg_control = bad();
    msg_bad_control.msg_controllen = 64;
    let dgram = Fd(fx.dgram.0.as_raw_fd());
    let udp = Fd(fx.udp.as_raw_fd());
    let payload = b"x";
    let sqes: Vec<(&'static str, uring::Sqe)> = vec![
        (
            "readv iovec array",
            opcode::Readv::new(file, bad(), 1).build(),
        ),
        (
            "writev iovec array",
            opcode::Writev::new(file, bad(), 1).build(),
        ),
        (
            "readv iovec array in a PROT_NONE page",
            opcode::Readv::new(file, none.cast(), 1).build(),
        ),
        (
            "readv iov_base",
            opcode::Readv::new(file, iov_bad_base.as_mut_ptr(), 1).build(),
        ),
        ("read buffer", opcode::Read::new(file, bad(), 16).build()),
        ("write buffer", opcode::Write::new(file, bad(), 16).build()),
        ("sendmsg msghdr", opcode::SendMsg::new(dgram, bad()).build()),
        (
            "recvmsg msghdr",
            opcode::RecvMsg::new(Fd(fx.dgram.1.as_raw_fd()), bad()).build(),
        ),
        (
            "sendmsg msg_iov",
            opcode::SendMsg::new(dgram, &raw const msg_bad_iov).build(),
        ),
        (
            "sendmsg msg_name",
            opcode::SendMsg::new(dgram, &raw const msg_bad_name).build(),
        ),
        (
            "sendmsg msg_control",
            opcode::SendMsg::new(dgram, &raw const msg_bad_control).build(),
        ),
        (
            "sendmsg_zc msghdr",
            opcode::SendMsgZc::new(udp, bad()).build(),
        ),
        (
            "send destination",
            opcode::Send::new(udp, payload.as_ptr(), 1)
                .dest_addr(bad())
                .dest_addr_len(16)
                .build(),
        ),
        (
            "send_zc destination",
            opcode::SendZc::new(udp, payload.as_ptr(), 1)
                .dest_addr(bad())
                .dest_addr_len(16)
                .build(),
        ),
        ("send buffer", opcode::Send::new(dgram, bad(), 8).build()),
        (
            "connect sockaddr",
            opcode::Connect::new(Fd(fx.tcp.as_raw_fd()), bad(), 16).build(),
        ),
        (
            "bind sockaddr",
            opcode::Bind::new(Fd(fx.tcp.as_raw_fd()), bad(), 16).build(),
        ),
        ("timeout timespec", opcode::Timeout::new(bad()).build()),
        (
            "timeout update timespec",
            opcode::TimeoutRemove::new(77)
                .update(BAD as *const Timespec)
                .build(),
        ),
        (
            "openat path",
            opcode::OpenAt::new(libc::AT_FDCWD, bad()).build(),
        ),
        (
            "openat path in a PROT_NONE page",
            opcode::OpenAt::new(libc::AT_FDCWD, none.cast()).build(),
        ),
        (
            "openat2 path",
            opcode::OpenAt2::new(libc::AT_FDCWD, bad(), &raw const how).build(),
        ),
        (
            "openat2 open_how",
            opcode::OpenAt2::new(libc::AT_FDCWD, path, bad()).build(),
        ),
        (
            "statx path",
            opcode::Statx::new(libc::AT_FDCWD, bad(), bad()).build(),
        ),
        (
            "statx buffer",
            opcode::Statx::new(libc::AT_FDCWD, path, bad()).build(),
        ),
        (
            "unlinkat path",
            opcode::UnlinkAt::new(libc::AT_FDCWD, bad()).build(),
        ),
        (
            "mkdirat path",
            opcode::MkDirAt::new(libc::AT_FDCWD, bad()).build(),
        ),
        (
            "renameat path",
            opcode::RenameAt::new(libc::AT_FDCWD, bad(), libc::AT_FDCWD, path).build(),
        ),
        (
            "symlinkat target",
            opcode::SymlinkAt::new(bad(), libc::AT_FDCWD, path).build(),
        ),
        (
            "linkat path",
            opcode::LinkAt::new(libc::AT_FDCWD, bad(), libc::AT_FDCWD, path).build(),
        ),
        (
            "epoll_ctl event",
            opcode::EpollCtl::new(
                Fd(fx.epoll.as_raw_fd()),
                fx.file.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                bad(),
            )
            .build(),
        ),
        (
            "futex_waitv vector",
            opcode::FutexWaitV::new(bad(), 1).build(),
        ),
        (
            "futex_wait word",
            opcode::FutexWait::new(
                bad(),
                0,
                uring::types::futex2::BITSET_MATCH_ANY,
                uring::types::futex2::SIZE_U32 | uring::types::futex2::PRIVATE,
            )
            .build(),
        ),
        (
            "setxattr name",
            opcode::SetXattr::new(path, bad(), payload.as_ptr(), 1).build(),
        ),
        (
            "getxattr value",
            opcode::GetXattr::new(path, name, bad(), 64).build(),
        ),
    ];
    let ops: Vec<u8> = sqes.iter().map(|(_, s)| s.opcode()).collect();
    diff::both(test_name!(), &ops, 8, |ring| {
        let got = run_each(ring, &sqes);
        for (what, res) in &got {
            assert!(*res <= 0 || *what == "send buffer", "{what}: {res}");
        }
        got
    });
}

/// A multishot whose CQEs are not reaped ends when the CQ is full: the CQEs that fit,
/// each with `F_MORE`, then a final one without it (overflowed), and nothing more —
/// the overflow list does not grow with it.
#[test]
fn a_multishot_ends_when_the_cq_is_full() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE],
        4,
        |backend, ring| {
            let cq = ring.params().cq_entries() as usize;
            let every = Timespec::from(Duration::from_millis(1));
            let t = opcode::Timeout::new(&every)
                .flags(uring::sys::IORING_TIMEOUT_MULTISHOT)
                .build()
                .user_data(5);
            // SAFETY: `every` outlives the request, which ends below.
            unsafe { ring.submission().push(&t) }.unwrap();
            ring.submit().unwrap();
            // Not reaped for many periods: the CQ fills, then the multishot ends.
            std::thread::sleep(Duration::from_millis(100));
            let cqes = reap(ring, cq + 1, LIMIT);
            let more: Vec<bool> = cqes
                .iter()
                .map(|c| c.flags() & uring::sys::IORING_CQE_F_MORE != 0)
                .collect();
            let mut want = vec![true; cq];
            want.push(false);
            assert_eq!(more, want, "[{}] F_MORE of each CQE", backend.name());
            assert!(cqes.iter().all(|c| c.result() == -libc::ETIME));
            // Ended: nothing more comes.
            std::thread::sleep(Duration::from_millis(20));
            let _ = ring.submitter().get_events();
            assert_eq!(ring.completion().count(), 0, "[{}]", backend.name());
        },
    );
}

/// A FALLOCATE, or a write done off the submitting thread, past `RLIMIT_FSIZE`
/// completes with `-EFBIG` and the process lives on: the kernel's io-wq worker gets
/// the `SIGXFSZ`, and ignores it. Run in a child process (the limit and the signal's
/// disposition are the process's).
#[test]
fn writes_past_rlimit_fsize_are_efbig_not_sigxfsz() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_writes_past_rlimit_fsize"])
        .args(["--nocapture", "--test-threads=1"])
        .output()
        .expect("run the test binary");
    assert!(
        out.status.success(),
        "child: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("efbig ok"));
}

#[test]
#[ignore = "run by writes_past_rlimit_fsize_are_efbig_not_sigxfsz in a child process"]
fn child_writes_past_rlimit_fsize() {
    // SAFETY: getrlimit/setrlimit on this (child) process, lowering the soft limit.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut r), 0);
        r.rlim_cur = 64 << 10;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &r), 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let data = vec![1u8; 4096];
    let rings: Vec<(&str, uring::Builder)> = vec![
        ("kernel", common::builder(uring::Backend::Kernel)),
        ("engine", common::builder(uring::Backend::Engine)),
        (
            "engine/deterministic",
            common::builder(uring::Backend::Engine)
                .engine_config(uring::EngineConfig::new().deterministic(3)),
        ),
    ];
    for (name, builder) in rings {
        let mut ring = match builder.build(4) {
            Ok(r) => r,
            Err(e) if name == "kernel" => {
                common::skip("child_writes_past_rlimit_fsize [kernel]", &e.to_string());
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let file = std::fs::File::create(dir.path().join(name.replace('/', "-"))).unwrap();
        let fd = Fd(file.as_raw_fd());
        let sqes = [
            opcode::Fallocate::new(fd, 1 << 20).build().user_data(1),
            opcode::Write::new(fd, data.as_ptr(), 4096)
                .offset(1 << 20)
                .build()
                .flags(SqeFlags::ASYNC)
                .user_data(2),
        ];
        for sqe in sqes {
            // SAFETY: `data` outlives the request, reaped here.
            let c = unsafe { common::run1(&mut ring, sqe) };
            assert_eq!(
                c.result(),
                -libc::EFBIG,
                "{name}: request {}",
                c.user_data()
            );
        }
    }
    println!("efbig ok");
}

/// An SQ poll thread pinned to a CPU this process may not run on is refused at setup
/// (`EINVAL`), on both backends.
#[test]
fn sqpoll_on_a_cpu_out_of_reach_is_einval() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    common::for_each_backend_only(test_name!(), |backend| {
        for cpu in [cpus + 64, 1023] {
            let e = common::builder(backend)
                .sqpoll(Duration::from_millis(10))
                .sqpoll_cpu(cpu)
                .build(4)
                .unwrap_err();
            assert!(
                e.to_string().contains("Invalid argument"),
                "[{}] cpu {cpu}: {e}",
                backend.name()
            );
        }
    });
}

/// A ring's own fd cannot be a registered file (`EBADF`), and a registration that
/// names one fails as a whole, keeping none of the other files.
#[test]
fn a_ring_cannot_be_a_registered_file() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend).build(4).unwrap();
        let other = common::builder(backend).build(4).unwrap();
        let (r, w) = common::pipe();
        for ring_fd in [
            ring.fd().unwrap().as_raw_fd(),
            other.fd().unwrap().as_raw_fd(),
        ] {
            let fds = [r.as_raw_fd(), w.as_raw_fd(), -1, ring_fd, -1];
            let e = ring.submitter().register_files(&fds).unwrap_err();
            assert_eq!(
                e.raw_os_error(),
                Some(libc::EBADF),
                "[{}] {e}",
                backend.name()
            );
        }
        // Nothing stayed registered: a registration without the ring now succeeds.
        ring.submitter()
            .register_files(&[r.as_raw_fd(), w.as_raw_fd()])
            .unwrap();
    });
}
