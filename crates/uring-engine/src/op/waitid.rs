//! `IORING_OP_WAITID` (`io_uring/waitid.c`): waitid(2) for a child, completing with 0
//! and writing the fields the kernel writes into `infop` (`si_signo` — `SIGCHLD`, or 0
//! when `WNOHANG` found nothing — `si_errno`, `si_code`, `si_pid`, `si_uid`,
//! `si_status`; the rest of the caller's `siginfo_t` is left as it was).
//!
//! Tried inline with `WNOHANG`; if no child is ready, it blocks in a worker of the
//! unbounded pool (the kernel waits on the child-exit queue without a thread).
//! Cancellation interrupts the worker: the wait completes with `-ECANCELED`. (A
//! cancellation landing in the instant between the worker's check and its system
//! call is only seen when a child changes state.)
//!
//! Scratch: `[0]` `idtype` (`len`), `[1]` the id (`fd`), `[2]` the options
//! (`file_index`); `infop` is `addr2`.
use std::sync::Arc;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;
use crate::wq::Class;

/// `struct io_waitid`.
pub(crate) struct Waitid {
    /// `idtype_t`.
    which: libc::c_int,
    /// The id.
    upid: libc::c_int,
    /// `WEXITED`, `WNOHANG`, … .
    options: i32,
}

/// `io_waitid_prep`.
pub(crate) fn prep(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.addr() != 0 || req.buf_index() != 0 || req.addr3() != 0 || req.op_flags() != 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Waitid {
        which: req.sqe.len as libc::c_int,
        upid: req.sqe.fd,
        options: req.file_index() as i32,
    });
    Ok(())
}

/// waitid(2) with `options`; the siginfo it filled, or `Err(errno)`.
fn waitid(req: &Req, options: i32) -> Result<libc::siginfo_t, i32> {
    // SAFETY: all-zero is a valid siginfo_t.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes one siginfo_t into `info`, ours; no rusage.
    let r = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            req.cmd::<Waitid>().which,
            req.cmd::<Waitid>().upid,
            &raw mut info,
            options,
            std::ptr::null_mut::<libc::rusage>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        Ok(info)
    }
}

/// `io_waitid_copy_si`: the six fields, at their places in the caller's `siginfo_t`.
fn copy_out(req: &Req, info: &libc::siginfo_t) -> i32 {
    let infop = req.off() as *mut u8;
    if infop.is_null() {
        return 0;
    }
    let found = info.si_signo == libc::SIGCHLD;
    // SAFETY: for SIGCHLD the pid/uid/status members of the union are the ones set;
    // otherwise waitid wrote zeros there.
    let (pid, uid, status) = unsafe { (info.si_pid(), info.si_uid(), info.si_status()) };
    let fields: [(usize, i32); 6] = [
        (0, if found { libc::SIGCHLD } else { 0 }),
        (4, 0),
        (8, info.si_code),
        (16, pid),
        (20, uid as i32),
        (24, status),
    ];
    for (off, v) in fields {
        // SAFETY: the SQE contract: `addr2` points to a writable siginfo_t (128
        // bytes) valid until the completion; these offsets lie in it (`si_signo`,
        // `si_errno`, `si_code`, then the `_sigchld` member of the union at 16).
        unsafe { infop.add(off).cast::<i32>().write_unaligned(v) };
    }
    0
}

pub(crate) fn issue(req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let options = req.cmd::<Waitid>().options;
    if mode == Mode::Inline {
        return match waitid(&req, options | libc::WNOHANG) {
            Err(err) => Step::Done(req, -err),
            Ok(info) if info.si_signo == libc::SIGCHLD || options & libc::WNOHANG != 0 => {
                let res = copy_out(&req, &info);
                Step::Done(req, res)
            }
            Ok(_) => {
                e.wq.push(e, Class::Unbounded, req);
                Step::Parked
            }
        };
    }
    loop {
        if e.wq.cancelled(&req) {
            return Step::Done(req, -libc::ECANCELED);
        }
        match waitid(&req, options) {
            Ok(info) => {
                let res = copy_out(&req, &info);
                return Step::Done(req, res);
            }
            Err(libc::EINTR) => {}
            Err(err) => return Step::Done(req, -err),
        }
    }
}
