//! `IORING_OP_NOP`, with every `nop_flags` bit of 6.18 (`io_uring/nop.c`).
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;

const NOP_FLAGS: u32 = sys::IORING_NOP_INJECT_RESULT
    | sys::IORING_NOP_FIXED_FILE
    | sys::IORING_NOP_FIXED_BUFFER
    | sys::IORING_NOP_FILE
    | sys::IORING_NOP_TW
    | sys::IORING_NOP_CQE32;

/// What `NOP` posts.
pub(crate) struct Nop {
    /// The result: `len` with `IORING_NOP_INJECT_RESULT`, else 0.
    res: i32,
}

pub(crate) fn nop_prep(req: &mut Req, e: &Engine) -> Result<(), i32> {
    let flags = req.op_flags();
    if flags & !NOP_FLAGS != 0 {
        return Err(-libc::EINVAL);
    }
    let res = if flags & sys::IORING_NOP_INJECT_RESULT != 0 {
        req.sqe.len as i32
    } else {
        0
    };
    req.set_cmd(Nop { res });
    if flags & sys::IORING_NOP_CQE32 != 0 {
        if e.flags & (sys::IORING_SETUP_CQE32 | sys::IORING_SETUP_CQE_MIXED) == 0 {
            return Err(-libc::EINVAL);
        }
        req.big = [req.off(), req.addr()];
        if e.flags & sys::IORING_SETUP_CQE_MIXED != 0 {
            req.cflags |= sys::IORING_CQE_F_32;
        }
    }
    Ok(())
}

pub(crate) fn nop_issue(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let flags = req.op_flags();
    if flags & sys::IORING_NOP_FILE != 0 {
        let ok = if flags & sys::IORING_NOP_FIXED_FILE != 0 {
            e.files
                .read()
                .expect("file table")
                .get(req.sqe.fd as u32)
                .is_some()
        } else {
            // SAFETY: F_GETFD on any integer is harmless; it only tells if it is open.
            unsafe { libc::fcntl(req.sqe.fd, libc::F_GETFD) >= 0 }
        };
        if !ok {
            return Step::Done(req, -libc::EBADF);
        }
    }
    if flags & sys::IORING_NOP_FIXED_BUFFER != 0
        && e.bufs
            .read()
            .expect("buffer table")
            .get(req.buf_index())
            .is_none()
    {
        return Step::Done(req, -libc::EFAULT);
    }
    let res = req.cmd::<Nop>().res;
    Step::Done(req, res)
}
