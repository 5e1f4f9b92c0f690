//! `IORING_OP_TIMEOUT`, `IORING_OP_TIMEOUT_REMOVE` and `IORING_OP_LINK_TIMEOUT`, with
//! the checks and codes of `io_uring/timeout.c`; the timers themselves live in
//! `timer.rs`.
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;
use crate::timer::ts_ns;

/// The flags `TIMEOUT` and `LINK_TIMEOUT` take.
const TIMEOUT_FLAGS: u32 = sys::IORING_TIMEOUT_ABS
    | sys::IORING_TIMEOUT_CLOCK_MASK
    | sys::IORING_TIMEOUT_ETIME_SUCCESS
    | sys::IORING_TIMEOUT_MULTISHOT;

/// `struct io_timeout` of `TIMEOUT` and `LINK_TIMEOUT`, read by `timer.rs` when it
/// arms one.
pub(crate) struct Timeout {
    /// The timespec in nanoseconds (read at prep, as the kernel copies it).
    pub(crate) ts: u64,
    /// `IORING_TIMEOUT_*`.
    pub(crate) flags: u32,
    /// The completion count to wait for (`off`; 0: none).
    pub(crate) off: u32,
}

/// `struct io_timeout_rem`.
pub(crate) struct TimeoutRemove {
    /// The `user_data` of the timeout to remove or update.
    target: u64,
    /// `IORING_TIMEOUT_*`.
    flags: u32,
    /// An update's new timespec in nanoseconds.
    ts: u64,
}

/// Reads the timespec at `addr` (`-EFAULT` for null, `-EINVAL` if negative).
fn read_timespec(addr: u64) -> Result<u64, i32> {
    let ts = crate::user::read::<sys::__kernel_timespec>(addr)?;
    if ts.tv_sec < 0 || ts.tv_nsec < 0 {
        return Err(-libc::EINVAL);
    }
    Ok(ts_ns(&ts))
}

/// `__io_timeout_prep`.
fn prep_common(req: &mut Req, link: bool) -> Result<(), i32> {
    if req.buf_index() != 0 || req.sqe.len != 1 || req.file_index() != 0 {
        return Err(-libc::EINVAL);
    }
    let off = req.off() as u32;
    if off != 0 && link {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    if flags & !TIMEOUT_FLAGS != 0 {
        return Err(-libc::EINVAL);
    }
    if (flags & sys::IORING_TIMEOUT_CLOCK_MASK).count_ones() > 1 {
        return Err(-libc::EINVAL);
    }
    // Multishot only makes sense relative.
    let both = sys::IORING_TIMEOUT_MULTISHOT | sys::IORING_TIMEOUT_ABS;
    if flags & both == both {
        return Err(-libc::EINVAL);
    }
    let ts = read_timespec(req.addr())?;
    req.set_cmd(Timeout { ts, flags, off });
    Ok(())
}

pub(crate) fn prep_timeout(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req, false)
}

pub(crate) fn prep_link_timeout(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req, true)
}

/// Where a `LINK_TIMEOUT` may stand (checked by `Engine::submit`, which knows the
/// chain being built): after a request that links to it, and not after another link
/// timeout (`-EINVAL`).
pub(crate) fn check_position(req: &Req, prev: Option<&Req>) -> Result<(), i32> {
    if req.opcode() != sys::IORING_OP_LINK_TIMEOUT {
        return Ok(());
    }
    match prev {
        Some(p) if p.opcode() != sys::IORING_OP_LINK_TIMEOUT => Ok(()),
        _ => Err(-libc::EINVAL),
    }
}

pub(crate) fn issue_timeout(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    e.timers.arm_timeout(e, req);
    Step::Parked
}

/// A link timeout is taken out of its chain when the request before it is issued
/// (`Timers::prepare_link`), so it is never issued itself; as the kernel's
/// `io_no_issue`, it would fail with `-ECANCELED`.
pub(crate) fn issue_link_timeout(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    Step::Done(req, -libc::ECANCELED)
}

/// `io_timeout_remove_prep`.
pub(crate) fn prep_remove(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.has(sys::IOSQE_FIXED_FILE) {
        return Err(-libc::EINVAL);
    }
    if req.buf_index() != 0 || req.sqe.len != 0 || req.file_index() != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    let mut ts = 0;
    if flags & sys::IORING_TIMEOUT_UPDATE_MASK != 0 {
        if (flags & sys::IORING_TIMEOUT_CLOCK_MASK).count_ones() > 1 {
            return Err(-libc::EINVAL);
        }
        if flags & !(sys::IORING_TIMEOUT_UPDATE_MASK | sys::IORING_TIMEOUT_ABS) != 0 {
            return Err(-libc::EINVAL);
        }
        // The new expiry is at `addr2`, the `off` word of the SQE.
        ts = read_timespec(req.off())?;
    } else if flags != 0 {
        return Err(-libc::EINVAL);
    }
    let target = req.addr();
    req.set_cmd(TimeoutRemove { target, flags, ts });
    Ok(())
}

/// `io_timeout_remove`: removes (the timeout completes with `-ECANCELED`, this with
/// 0) or updates; `-ENOENT` when there is no such timeout.
pub(crate) fn issue_remove(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let &TimeoutRemove { target, flags, ts } = req.cmd::<TimeoutRemove>();
    let res = if flags & sys::IORING_TIMEOUT_UPDATE == 0 {
        match e.timers.remove(target) {
            Ok(t) => {
                e.complete(t, -libc::ECANCELED);
                0
            }
            Err(err) => err,
        }
    } else {
        let abs = flags & sys::IORING_TIMEOUT_ABS != 0;
        let link = flags & sys::IORING_LINK_TIMEOUT_UPDATE != 0;
        match e.timers.update(e, target, ts, abs, link) {
            Ok(()) => 0,
            Err(err) => err,
        }
    };
    Step::Done(req, res)
}
