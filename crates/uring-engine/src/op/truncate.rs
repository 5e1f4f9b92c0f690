//! `IORING_OP_FTRUNCATE` (`io_uring/truncate.c`), in a worker as the kernel forces it.
use std::sync::Arc;

use super::fs::splice_fd_in;
use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

pub(crate) fn prep_ftruncate(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.op_flags() as u64,
        req.addr(),
        req.sqe.len as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
        req.addr3(),
    ])
}

pub(crate) fn issue_ftruncate(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd.
    let r = unsafe { libc::ftruncate(req.fd, req.off() as i64) };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}
