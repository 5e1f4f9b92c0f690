//! `SPLICE` and `TEE`, as `io_uring/splice.c`: always issued from a worker (the kernel
//! forces them async), blocking; `SPLICE_F_FD_IN_FIXED` takes the input from the
//! fixed file table. A result other than `len` fails a link.
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step, neg_errno};
use crate::engine::Engine;
use crate::req::Req;

/// `SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT`.
const SPLICE_F_ALL: u32 = 0xf;

/// `__io_splice_prep`.
fn prep_common(req: &mut Req) -> Result<(), i32> {
    if req.sqe.ioprio != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    if flags & !(sys::SPLICE_F_FD_IN_FIXED | SPLICE_F_ALL) != 0 {
        return Err(-libc::EINVAL);
    }
    req.expect = Some(req.sqe.len as i32);
    Ok(())
}

pub(crate) fn prep_splice(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req)
}

pub(crate) fn prep_tee(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.addr() != 0 || req.off() != 0 {
        return Err(-libc::EINVAL);
    }
    prep_common(req)
}

pub(crate) fn issue(req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        // REQ_F_FORCE_ASYNC.
        return Step::Block(req);
    }
    let flags = req.op_flags();
    // SAFETY: plain integers over the same bytes.
    let fd_in = unsafe { req.sqe.splice_fd_in_or_file_index.splice_fd_in };
    let _keep;
    let fd_in = if flags & sys::SPLICE_F_FD_IN_FIXED != 0 {
        let file = e
            .files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(fd_in as u32);
        let Some(file) = file else {
            return Step::Done(req, -libc::EBADF);
        };
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        _keep = file;
        fd
    } else {
        fd_in
    };
    let len = req.sqe.len as usize;
    if len == 0 {
        return Step::Done(req, 0);
    }
    let flags = flags & SPLICE_F_ALL;
    let ret = loop {
        let r = if req.opcode() == sys::IORING_OP_TEE {
            // SAFETY: plain system call on fds.
            unsafe { libc::tee(fd_in, req.fd, len, flags) }
        } else {
            let mut off_in = req.addr() as i64;
            let mut off_out = req.off() as i64;
            let p_in: *mut i64 = if off_in == -1 {
                std::ptr::null_mut()
            } else {
                &mut off_in
            };
            let p_out: *mut i64 = if off_out == -1 {
                std::ptr::null_mut()
            } else {
                &mut off_out
            };
            // SAFETY: the offsets are locals (or null); the fds are integers.
            unsafe { libc::splice(fd_in, p_in, req.fd, p_out, len, flags) }
        };
        if r < 0 {
            let err = neg_errno();
            if err == -libc::EINTR && !e.wq.cancelled(&req) {
                continue;
            }
            break err;
        }
        break r as i32;
    };
    Step::Done(req, ret)
}
