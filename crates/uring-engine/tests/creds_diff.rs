//! Credentials, differential (engine and kernel): a request runs with the credentials
//! of the thread that submitted it, inline or in a worker
//! (`IORING_FEAT_CUR_PERSONALITY`), or with a registered personality's
//! (`IORING_REGISTER_PERSONALITY`, `sqe->personality`).
//!
//! The credentials part needs root (it drops one thread to `nobody` with the raw
//! system call, which changes that thread only) and says so when it cannot run.
use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use uring::{Ring, SqeFlags, opcode, sys};
use uring_testkit::{diff, test_name};

const NOBODY: libc::c_long = 65534;

/// Opens `path` read-only with `OPENAT` (in a worker with `async_`), with personality
/// `id` (0: none); 0 if it opened, else the CQE's error.
fn open(ring: &mut Ring, path: &CStr, id: u16, async_: bool) -> i32 {
    let mut sqe = opcode::OpenAt::new(libc::AT_FDCWD, path.as_ptr())
        .flags(libc::O_RDONLY)
        .build()
        .personality(id)
        .user_data(7);
    if async_ {
        sqe = sqe.flags(SqeFlags::ASYNC);
    }
    // SAFETY: `path` outlives the completion, reaped here.
    unsafe { ring.submission().push(&sqe) }.expect("SQ has room");
    ring.submit().expect("submit");
    let res = uring_testkit::reap(ring, 1, Duration::from_secs(10))[0].result();
    if res >= 0 {
        // SAFETY: a plain OPENAT returned a new fd that we own.
        drop(unsafe { OwnedFd::from_raw_fd(res) });
        0
    } else {
        res
    }
}

/// A NOP naming personality `id`: its result.
fn nop(ring: &mut Ring, id: u16) -> i32 {
    let sqe = opcode::Nop::new().build().personality(id).user_data(8);
    // SAFETY: a NOP references no memory.
    unsafe { ring.submission().push(&sqe) }.expect("SQ has room");
    ring.submit().expect("submit");
    uring_testkit::reap(ring, 1, Duration::from_secs(10))[0].result()
}

#[test]
fn personalities_register_and_name() {
    diff::both(test_name!(), &[sys::IORING_OP_NOP], 8, |ring| {
        let feature = ring.params().features() & sys::IORING_FEAT_CUR_PERSONALITY != 0;
        let sub = ring.submitter();
        let a = sub.register_personality().expect("register");
        let b = sub.register_personality().expect("register again");
        let mut out = vec![(b > a) as i32, nop(ring, a), nop(ring, a + 100)];
        ring.submitter()
            .unregister_personality(a)
            .expect("unregister");
        out.push(nop(ring, a));
        out.push(nop(ring, b));
        out.push(
            ring.submitter()
                .unregister_personality(a)
                .map_or_else(|e| -e.raw_os_error().unwrap_or(0), |()| 0),
        );
        (feature, out)
    });
}

/// As root: a thread that dropped to `nobody` is refused a root-only file, inline and
/// in a worker (a worker used to open it with the process's root credentials); with
/// root's personality it opens it, and root using `nobody`'s personality is refused.
#[test]
fn requests_run_with_the_submitters_or_the_personalitys_credentials() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        uring_testkit::not_applicable(test_name!(), "not running as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, b"s").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    diff::both(test_name!(), &[sys::IORING_OP_OPENAT], 8, |ring| {
        let root = ring.submitter().register_personality().expect("register");
        let (as_nobody, nobody) = std::thread::scope(|s| {
            s.spawn(|| {
                // The raw system call changes this thread only (glibc's setresuid would
                // change every thread of the process).
                // SAFETY: plain system call; this thread ends right after.
                let r = unsafe { libc::syscall(libc::SYS_setresuid, NOBODY, NOBODY, NOBODY) };
                assert_eq!(r, 0, "setresuid: {}", std::io::Error::last_os_error());
                let got = [
                    open(ring, &path, 0, false),
                    open(ring, &path, 0, true),
                    open(ring, &path, root, false),
                    open(ring, &path, root, true),
                ];
                let nobody = ring.submitter().register_personality().expect("register");
                (got, nobody)
            })
            .join()
            .unwrap()
        });
        let as_root = [
            open(ring, &path, 0, false),
            open(ring, &path, 0, true),
            open(ring, &path, nobody, false),
        ];
        (as_nobody, as_root)
    });
}
