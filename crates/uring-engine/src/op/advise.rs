//! `IORING_OP_FADVISE` and `IORING_OP_MADVISE` (`io_uring/advise.c`). The `FADVISE`
//! advices `NORMAL`, `RANDOM` and `SEQUENTIAL` run inline, as in the kernel; the
//! others in a worker.
use std::sync::Arc;

use super::fs::splice_fd_in;
use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `struct io_fadvise` / `io_madvise`: what the prep decoded.
pub(crate) struct Advise {
    /// The length (64 bits since 6.7).
    len: u64,
}

/// Since 6.7 the length is 64 bits: `addr`, or `len` when `addr` is 0.
pub(crate) fn prep_fadvise(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    let len = match req.addr() {
        0 => req.sqe.len as u64,
        len => len,
    };
    req.set_cmd(Advise { len });
    Ok(())
}

/// Whether a `FADVISE`'s advice does I/O (anything but `NORMAL`, `RANDOM`,
/// `SEQUENTIAL`): its prep then forces it to io-wq (`REQ_F_FORCE_ASYNC`, the op
/// table's `force_async`).
pub(crate) fn does_io(req: &Req) -> bool {
    !matches!(
        req.op_flags() as i32,
        libc::POSIX_FADV_NORMAL | libc::POSIX_FADV_RANDOM | libc::POSIX_FADV_SEQUENTIAL
    )
}

pub(crate) fn issue_fadvise(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    let advice = req.op_flags();
    if mode == Mode::Inline && does_io(&req) {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd (the raw one: glibc's wrapper returns the
    // error instead of setting errno).
    let r = unsafe {
        libc::syscall(
            libc::SYS_fadvise64,
            req.fd,
            req.off() as i64,
            req.cmd::<Advise>().len as i64,
            advice as i32,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

/// Since 6.7 the length is 64 bits: `off`, or `len` when `off` is 0.
pub(crate) fn prep_madvise(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    let len = match req.off() {
        0 => req.sqe.len as u64,
        len => len,
    };
    req.set_cmd(Advise { len });
    Ok(())
}

pub(crate) fn issue_madvise(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: madvise on the application's own range, with its advice, as the
    // kernel's do_madvise on its mm; the application answers for what the advice
    // does to its memory (MADV_DONTNEED and the like), as with madvise(2).
    let r = unsafe {
        libc::madvise(
            req.addr() as *mut libc::c_void,
            req.cmd::<Advise>().len as usize,
            req.op_flags() as i32,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}
