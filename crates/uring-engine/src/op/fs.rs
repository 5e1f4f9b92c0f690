//! Path ops: `RENAMEAT`, `UNLINKAT`, `MKDIRAT`, `SYMLINKAT` and `LINKAT`, with the prep
//! checks and result codes of the kernel's `io_uring/fs.c`; and the copying of paths
//! from the application that every op naming a file by path shares (`getname`).
//!
//! As in the kernel, paths, xattr names and `setxattr` values are copied at prep
//! (`getname`), so the application may reuse their memory once the SQE is submitted
//! (`IORING_FEAT_SUBMIT_STABLE`); an empty path is `-ENOENT` there unless the op
//! takes `AT_EMPTY_PATH`; a path of 4096 bytes or more without its NUL is
//! `-ENAMETOOLONG`. The path ops run in a worker, as the kernel forces them to io-wq.
//!
//! Difference: a path pointer that is neither null nor valid memory is the
//! application's broken promise (the SQE contract), not an `-EFAULT`: only null is
//! checked.
use std::ffi::CString;
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `PATH_MAX`, counting the NUL.
const PATH_MAX: usize = 4096;

/// Copies a path from the application (`getname`): `-EFAULT` for null, `-ENOENT`
/// for an empty one unless `empty_ok`, `-ENAMETOOLONG` without a NUL in 4096 bytes.
pub(crate) fn user_path(addr: u64, empty_ok: bool) -> Result<CString, i32> {
    let s = user_str(addr, PATH_MAX).ok_or(-libc::ENAMETOOLONG)??;
    if s.is_empty() && !empty_ok {
        return Err(-libc::ENOENT);
    }
    Ok(s)
}

/// Copies a NUL-terminated string of fewer than `max` bytes: `None` if no NUL comes
/// within `max`, `Some(Err(-EFAULT))` for memory that cannot be read.
pub(crate) fn user_str(addr: u64, max: usize) -> Option<Result<CString, i32>> {
    crate::user::read_cstr(addr, max)
}

/// The ops that name files by path refuse `IOSQE_FIXED_FILE` with `-EBADF`.
pub(crate) fn no_fixed(req: &Req) -> Result<(), i32> {
    if req.has(sys::IOSQE_FIXED_FILE) {
        Err(-libc::EBADF)
    } else {
        Ok(())
    }
}

pub(crate) fn splice_fd_in(req: &Req) -> u64 {
    req.file_index() as u64
}

// ---- RENAMEAT / UNLINKAT / MKDIRAT / SYMLINKAT / LINKAT ----

/// Which of the five path ops.
#[derive(Clone, Copy)]
enum PathKind {
    Rename,
    Unlink,
    Mkdir,
    Symlink,
    Link,
}

/// `struct io_rename`, `io_unlink`, `io_mkdir`, `io_link` (symlinks too): the
/// directory fd and the paths, copied at prep.
pub(crate) struct PathOp {
    kind: PathKind,
    dfd: i32,
    /// The (old) path; a symlink's target.
    path: CString,
    /// The new path (`RENAMEAT`, `LINKAT`), the link (`SYMLINKAT`); empty otherwise.
    path2: CString,
}

fn path_op(req: &mut Req, kind: PathKind, path: CString, path2: CString) {
    let dfd = req.sqe.fd;
    req.set_cmd(PathOp {
        kind,
        dfd,
        path,
        path2,
    });
}

pub(crate) fn prep_renameat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let old = user_path(req.addr(), false)?;
    let new = user_path(req.off(), false)?;
    path_op(req, PathKind::Rename, old, new);
    Ok(())
}

pub(crate) fn prep_unlinkat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.off(),
        req.sqe.len as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
    ])?;
    no_fixed(req)?;
    if req.op_flags() & !(libc::AT_REMOVEDIR as u32) != 0 {
        return Err(-libc::EINVAL);
    }
    let path = user_path(req.addr(), false)?;
    path_op(req, PathKind::Unlink, path, CString::default());
    Ok(())
}

pub(crate) fn prep_mkdirat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.off(),
        req.op_flags() as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
    ])?;
    no_fixed(req)?;
    let path = user_path(req.addr(), false)?;
    path_op(req, PathKind::Mkdir, path, CString::default());
    Ok(())
}

pub(crate) fn prep_symlinkat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.sqe.len as u64,
        req.op_flags() as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
    ])?;
    no_fixed(req)?;
    let target = user_path(req.addr(), false)?;
    let link = user_path(req.off(), false)?;
    path_op(req, PathKind::Symlink, target, link);
    Ok(())
}

pub(crate) fn prep_linkat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let empty_ok = req.op_flags() & libc::AT_EMPTY_PATH as u32 != 0;
    let old = user_path(req.addr(), empty_ok)?;
    let new = user_path(req.off(), false)?;
    path_op(req, PathKind::Link, old, new);
    Ok(())
}

pub(crate) fn issue_path(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let a = req.cmd::<PathOp>();
    let dfd = a.dfd;
    let (p1, p2) = (a.path.as_ptr(), a.path2.as_ptr());
    let flags = req.op_flags() as i32;
    // SAFETY: our own NUL-terminated copies of the paths; integers otherwise.
    let r = unsafe {
        match a.kind {
            PathKind::Rename => libc::syscall(
                libc::SYS_renameat2,
                dfd,
                p1,
                req.sqe.len as i32,
                p2,
                flags as u32,
            ) as i32,
            PathKind::Unlink => libc::unlinkat(dfd, p1, flags),
            PathKind::Mkdir => libc::mkdirat(dfd, p1, req.sqe.len as libc::mode_t),
            PathKind::Symlink => libc::symlinkat(p1, dfd, p2),
            PathKind::Link => libc::linkat(dfd, p1, req.sqe.len as i32, p2, flags),
        }
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}
