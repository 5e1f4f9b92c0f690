//! File syncs and allocation: `FSYNC`, `SYNC_FILE_RANGE` and `FALLOCATE`
//! (`io_uring/sync.c`), all in a worker, as the kernel forces them to io-wq.
use std::sync::Arc;

use uring_sys as sys;

use super::fs::splice_fd_in;
use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `io_fsync_prep` (the flags stay in the SQE).
pub(crate) fn prep_fsync(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.addr(), req.buf_index() as u64, req.file_index() as u64])?;
    let flags = req.op_flags();
    if flags & !sys::IORING_FSYNC_DATASYNC != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

pub(crate) fn issue_fsync(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        // Always blocks: the kernel forces it async too.
        return Step::Block(req);
    }
    // The engine syncs the whole file; the kernel's range (off, len) narrows what it
    // writes back, never what it guarantees for the range.
    // SAFETY: plain system calls on an fd.
    let r = unsafe {
        if req.op_flags() & sys::IORING_FSYNC_DATASYNC != 0 {
            libc::fdatasync(req.fd)
        } else {
            libc::fsync(req.fd)
        }
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

pub(crate) fn prep_sync_file_range(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.addr(), req.buf_index() as u64, req.file_index() as u64])
}

pub(crate) fn issue_sync_file_range(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd.
    let r = unsafe {
        libc::sync_file_range(req.fd, req.off() as i64, req.sqe.len as i64, req.op_flags())
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

pub(crate) fn prep_fallocate(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.buf_index() as u64,
        req.op_flags() as u64,
        splice_fd_in(req),
    ])
}

pub(crate) fn issue_fallocate(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd.
    let r = unsafe {
        libc::fallocate(
            req.fd,
            req.sqe.len as i32,
            req.off() as i64,
            req.addr() as i64,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}
