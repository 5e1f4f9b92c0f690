//! `IORING_OP_STATX` (`io_uring/statx.c`): forced to a worker, as in the kernel; the
//! path is copied at prep (see `fs.rs`).
use std::ffi::CString;
use std::sync::Arc;

use super::fs::{no_fixed, splice_fd_in, user_path};
use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `struct io_statx`.
pub(crate) struct Statx {
    dfd: i32,
    /// The path, copied at prep.
    path: CString,
}

pub(crate) fn prep_statx(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let flags = req.op_flags();
    let path = user_path(req.addr(), flags & libc::AT_EMPTY_PATH as u32 != 0)?;
    let dfd = req.sqe.fd;
    req.set_cmd(Statx { dfd, path });
    Ok(())
}

pub(crate) fn issue_statx(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let a = req.cmd::<Statx>();
    // SAFETY: `addr2` is the application's statx buffer (the SQE contract); the path
    // is our copy.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            a.dfd,
            a.path.as_ptr(),
            req.op_flags() as i32,
            req.sqe.len,
            req.off() as *mut libc::statx,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}
