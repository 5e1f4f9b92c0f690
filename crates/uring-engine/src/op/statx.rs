//! `IORING_OP_STATX` (`io_uring/statx.c`): forced to a worker, as in the kernel; the
//! path is copied at prep (see `fs.rs`).
//!
//! Scratch: `[0]` dfd. The path in `owned`: [`FsArgs`](super::fs::FsArgs).
use std::sync::Arc;

use super::fs::{FsArgs, args, no_fixed, splice_fd_in, user_path};
use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

pub(crate) fn prep_statx(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let flags = req.op_flags();
    let path = user_path(req.addr(), flags & libc::AT_EMPTY_PATH as u32 != 0)?;
    req.scratch[0] = req.sqe.fd as i64 as u64;
    req.owned = Some(Box::new(FsArgs {
        path,
        ..Default::default()
    }));
    Ok(())
}

pub(crate) fn issue_statx(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let a = args(&req);
    // SAFETY: `addr2` is the application's statx buffer (the SQE contract); the path
    // is our copy.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            req.scratch[0] as i64 as i32,
            a.path.as_ptr(),
            req.op_flags() as i32,
            req.sqe.len,
            req.off() as *mut libc::statx,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}
