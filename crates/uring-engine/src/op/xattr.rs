//! The xattr ops: `FGETXATTR`, `GETXATTR`, `FSETXATTR` and `SETXATTR`
//! (`io_uring/xattr.c`). The name, the path and a `setxattr` value are copied at prep.
use std::ffi::CString;
use std::sync::Arc;

use super::fs::{no_fixed, user_path, user_str};
use super::{Mode, Step, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `XATTR_NAME_MAX + 1`.
const XATTR_NAME_LEN: usize = 256;
/// `XATTR_SIZE_MAX`.
const XATTR_SIZE_MAX: u32 = 65536;

/// An xattr name (`strncpy_from_user` into `XATTR_NAME_MAX + 1`): `-ERANGE` for
/// an empty or too long one.
fn xattr_name(addr: u64) -> Result<CString, i32> {
    match user_str(addr, XATTR_NAME_LEN) {
        None => Err(-libc::ERANGE),
        Some(Err(e)) => Err(e),
        Some(Ok(s)) if s.is_empty() => Err(-libc::ERANGE),
        Some(Ok(s)) => Ok(s),
    }
}

/// Which of the four xattr ops.
#[derive(Clone, Copy, PartialEq, Eq)]
enum XattrKind {
    Fget,
    Get,
    Fset,
    Set,
}

/// `struct io_xattr`.
pub(crate) struct Xattr {
    kind: XattrKind,
    /// The copies made at prep (boxed: three buffers would make every request bigger).
    ctx: Box<XattrCtx>,
}

/// `struct kernel_xattr_ctx` with the path: what prep copied.
struct XattrCtx {
    name: CString,
    /// The path (`GETXATTR`, `SETXATTR`); empty for the fd forms.
    path: CString,
    /// The value to set (`FSETXATTR`, `SETXATTR`).
    value: Vec<u8>,
}

/// `__io_getxattr_prep` (+ the path of `GETXATTR`).
fn prep_get(req: &mut Req, kind: XattrKind) -> Result<(), i32> {
    no_fixed(req)?;
    if req.op_flags() != 0 {
        return Err(-libc::EINVAL);
    }
    let name = xattr_name(req.addr())?;
    let path = if kind == XattrKind::Get {
        user_path(req.addr3(), false)?
    } else {
        CString::default()
    };
    req.set_cmd(Xattr {
        kind,
        ctx: Box::new(XattrCtx {
            name,
            path,
            value: Vec::new(),
        }),
    });
    Ok(())
}

/// `__io_setxattr_prep` / `setxattr_copy` (+ the path of `SETXATTR`): the value
/// is copied here.
fn prep_set(req: &mut Req, kind: XattrKind) -> Result<(), i32> {
    no_fixed(req)?;
    let flags = req.op_flags();
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) as u32 != 0 {
        return Err(-libc::EINVAL);
    }
    let name = xattr_name(req.addr())?;
    let size = req.sqe.len;
    let mut value = Vec::new();
    if size > 0 {
        if size > XATTR_SIZE_MAX {
            return Err(-libc::E2BIG);
        }
        value = crate::user::read_vec::<u8>(req.off(), size as usize)?;
    }
    let path = if kind == XattrKind::Set {
        user_path(req.addr3(), false)?
    } else {
        CString::default()
    };
    req.set_cmd(Xattr {
        kind,
        ctx: Box::new(XattrCtx { name, path, value }),
    });
    Ok(())
}

pub(crate) fn prep_fgetxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_get(req, XattrKind::Fget)
}

pub(crate) fn prep_getxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_get(req, XattrKind::Get)
}

pub(crate) fn prep_fsetxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_set(req, XattrKind::Fset)
}

pub(crate) fn prep_setxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_set(req, XattrKind::Set)
}

pub(crate) fn issue_xattr(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let x = req.cmd::<Xattr>();
    let a = &x.ctx;
    let value = req.off() as *mut libc::c_void;
    let size = req.sqe.len as usize;
    // SAFETY: our copies of the name, path and set value; a get writes at most
    // `size` bytes into the application's buffer at `addr2` (the SQE contract).
    let r = unsafe {
        match x.kind {
            XattrKind::Fget => libc::fgetxattr(req.fd, a.name.as_ptr(), value, size),
            XattrKind::Get => libc::getxattr(a.path.as_ptr(), a.name.as_ptr(), value, size),
            XattrKind::Fset => libc::fsetxattr(
                req.fd,
                a.name.as_ptr(),
                a.value.as_ptr().cast(),
                a.value.len(),
                req.op_flags() as i32,
            ) as isize,
            XattrKind::Set => libc::setxattr(
                a.path.as_ptr(),
                a.name.as_ptr(),
                a.value.as_ptr().cast(),
                a.value.len(),
                req.op_flags() as i32,
            ) as isize,
        }
    };
    let res = sys_res(r);
    Step::Done(req, res)
}
