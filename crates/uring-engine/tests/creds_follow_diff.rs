//! Credentials, differential (engine and kernel), in a test binary of its own: the
//! process changes every thread's credentials (glibc's `setresgid`) while an engine
//! worker wears a personality's. The worker follows the change (glibc makes every
//! thread of the process make it) and keeps it when it takes the personality off,
//! rather than going back to what it had before (which would undo the change for
//! that thread): a request it runs next without credentials of its own (a write,
//! which the engine does not give the submitter's) runs with the process's new ones,
//! as on the kernel, where it runs with its submitter's.
//!
//! Needs root, and changes the process's group ids (restored at the end): nothing
//! else may run in this process meanwhile, hence its own file.
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use uring::{Backend, SqeFlags, opcode, sys};
use uring_testkit::{diff, test_name};

/// The personality's group (its user stays root, with every capability).
const BORROWED: u32 = 1234;
/// The group the process changes to while the worker wears the personality.
const CHANGED: u32 = 4321;

/// Whether a thread of this process has all four group ids `gid`.
fn a_thread_has_gid(gid: u32) -> bool {
    let want = format!("Gid:\t{gid}\t{gid}\t{gid}\t{gid}\n");
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("status")).is_ok_and(|s| s.contains(&want)))
}

/// glibc's `setresgid`: every thread of the process changes its group ids.
fn set_process_gid(gid: u32) {
    // SAFETY: no memory arguments.
    let r = unsafe { libc::setresgid(gid, gid, gid) };
    assert_eq!(r, 0, "setresgid: {}", std::io::Error::last_os_error());
}

/// The group id a Unix socket receiver is told the sender of one datagram has
/// (`SO_PASSCRED`, `SCM_CREDENTIALS`).
fn sender_gid(rx: &UnixDatagram) -> u32 {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 16];
    // SAFETY: a zeroed msghdr is valid; its pointers are set to locals below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points to live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(rx.as_raw_fd(), &mut msg, 0) };
    assert_eq!(n, 1, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: walking the control buffer the kernel filled, with its own macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_CREDENTIALS {
                let cred = libc::CMSG_DATA(c).cast::<libc::ucred>().read_unaligned();
                return cred.gid;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    panic!("no SCM_CREDENTIALS");
}

#[test]
fn a_worker_keeps_a_process_wide_change_made_while_it_wore_a_personality() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        uring_testkit::not_applicable(test_name!(), "not running as root");
        return;
    }
    let ops = [sys::IORING_OP_READ, sys::IORING_OP_WRITE];
    diff::both(test_name!(), &ops, 8, |ring| {
        // A personality that differs from the process's credentials in its groups
        // only: a worker wearing it can follow a change of the process's groups.
        let id = std::thread::scope(|s| {
            s.spawn(|| {
                let g = libc::c_long::from(BORROWED);
                // SAFETY: the raw system call changes this thread only, which ends here.
                let r = unsafe { libc::syscall(libc::SYS_setresgid, g, g, g) };
                assert_eq!(r, 0, "setresgid: {}", std::io::Error::last_os_error());
                ring.submitter().register_personality().expect("register")
            })
            .join()
            .unwrap()
        });
        // A read with that personality waits for its byte (on the engine, in a
        // worker wearing the personality; on the kernel, as a poll).
        let (r, w) = uring_testkit::pipe_with(0);
        let w = std::fs::File::from(w);
        let mut byte = [0u8; 1];
        let read = opcode::Read::new(&r, byte.as_mut_ptr(), 1)
            .offset(u64::MAX)
            .build()
            .personality(id)
            .user_data(1);
        // SAFETY: `byte` outlives the read, reaped below.
        unsafe { ring.submission().push(&read) }.expect("SQ has room");
        ring.submit().expect("submit");
        if ring.backend() == Backend::Engine {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !a_thread_has_gid(BORROWED) {
                assert!(Instant::now() < deadline, "no worker wears the personality");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        set_process_gid(CHANGED);
        (&w).write_all(b"r").unwrap();
        let read = uring_testkit::reap(ring, 1, Duration::from_secs(10))[0].result();
        if ring.backend() == Backend::Engine {
            // The worker has taken the personality off (it posts the CQE first): the
            // write below finds it idle, rather than a new worker started meanwhile.
            let deadline = Instant::now() + Duration::from_secs(20);
            while a_thread_has_gid(BORROWED) {
                assert!(Instant::now() < deadline, "the worker kept the personality");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // A write to a Unix socket in a worker: the receiver is told the writer's
        // group, the worker's own on the engine (a write carries no credentials).
        let (tx, rx) = UnixDatagram::pair().unwrap();
        let on: libc::c_int = 1;
        // SAFETY: an int option from a local.
        let r = unsafe {
            libc::setsockopt(
                rx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&raw const on).cast(),
                std::mem::size_of_val(&on) as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        let data = *b"w";
        let write = opcode::Write::new(&tx, data.as_ptr(), 1)
            .build()
            .flags(SqeFlags::ASYNC)
            .user_data(2);
        // SAFETY: `data` outlives the write, reaped below.
        unsafe { ring.submission().push(&write) }.expect("SQ has room");
        ring.submit().expect("submit");
        let wrote = uring_testkit::reap(ring, 1, Duration::from_secs(10))[0].result();
        let gid = sender_gid(&rx);
        set_process_gid(0);
        ring.submitter()
            .unregister_personality(id)
            .expect("unregister");
        (read, wrote, gid)
    });
}
