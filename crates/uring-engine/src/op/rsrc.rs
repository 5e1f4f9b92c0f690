//! `IORING_OP_FILES_UPDATE` (`io_uring/rsrc.c`): updates the fixed file table from the
//! ring, with `IORING_FILE_INDEX_ALLOC`.
use std::os::fd::OwnedFd;
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;

/// `struct io_rsrc_update`.
pub(crate) struct FilesUpdate {
    /// The first slot, or `IORING_FILE_INDEX_ALLOC`.
    offset: u32,
    /// The application's array of fds (slots are written back with `ALLOC`).
    fds: *mut i32,
    /// Their number.
    nr: u32,
}

// SAFETY: `fds` points into application memory whose validity until the CQE is the
// SQE's contract; moving the pointer between threads moves no data.
unsafe impl Send for FilesUpdate {}

/// `io_files_update_prep`.
pub(crate) fn prep_files_update(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.has(sys::IOSQE_FIXED_FILE) {
        return Err(-libc::EINVAL);
    }
    if req.op_flags() != 0 || req.file_index() != 0 {
        return Err(-libc::EINVAL);
    }
    if req.sqe.len == 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(FilesUpdate {
        offset: req.off() as u32,
        fds: req.addr() as *mut i32,
        nr: req.sqe.len,
    });
    Ok(())
}

/// A duplicate of the application's `fd`, to keep in the table (`-EBADF`).
fn dup(fd: i32) -> Result<Arc<OwnedFd>, i32> {
    if super::msg_ring::lookup(fd).is_some() {
        // A ring cannot be a registered file.
        return Err(-libc::EBADF);
    }
    crate::rsrc::dup(fd).map(Arc::new)
}

/// `io_files_update`: replaces `nr` slots from `offset` (`-1` empties one,
/// `IORING_REGISTER_FILES_SKIP` leaves it), or with `IORING_FILE_INDEX_ALLOC` puts each
/// fd in a free slot and writes the slot back; how many were done, or the error of
/// the first.
pub(crate) fn issue_files_update(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let &FilesUpdate { offset, fds, nr } = req.cmd::<FilesUpdate>();
    let mut t = e.files.write().expect("file table");
    let res = if offset == sys::IORING_FILE_INDEX_ALLOC {
        if !t.registered || t.len() == 0 {
            -libc::ENXIO
        } else {
            let mut done = 0;
            let mut err = 0;
            while done < nr {
                let at = fds as u64 + u64::from(done) * 4;
                let fd = match crate::user::read::<i32>(at) {
                    Ok(fd) => fd,
                    Err(e2) => {
                        err = e2;
                        break;
                    }
                };
                let file = match dup(fd) {
                    Ok(f) => f,
                    Err(e2) => {
                        err = e2;
                        break;
                    }
                };
                match t.install_fixed(file, sys::IORING_FILE_INDEX_ALLOC) {
                    Ok(slot) => {
                        if let Err(e2) = crate::user::write::<i32>(at, slot) {
                            err = e2;
                            break;
                        }
                    }
                    Err(e2) => {
                        err = e2;
                        break;
                    }
                }
                done += 1;
            }
            if done > 0 { done as i32 } else { err }
        }
    } else if !t.registered || t.len() == 0 {
        -libc::ENXIO
    } else if offset.checked_add(nr).is_none_or(|end| end > t.len()) {
        -libc::EINVAL
    } else {
        let mut done = 0;
        let mut err = 0;
        while done < nr {
            let fd = match crate::user::read::<i32>(fds as u64 + u64::from(done) * 4) {
                Ok(fd) => fd,
                Err(e2) => {
                    err = e2;
                    break;
                }
            };
            if fd != sys::IORING_REGISTER_FILES_SKIP {
                let file = if fd == -1 {
                    None
                } else {
                    match dup(fd) {
                        Ok(f) => Some(f),
                        Err(e2) => {
                            err = e2;
                            break;
                        }
                    }
                };
                if let Err(e2) = t.install(offset + done, file) {
                    err = e2;
                    break;
                }
            }
            done += 1;
        }
        if done > 0 { done as i32 } else { err }
    };
    drop(t);
    Step::Done(req, res)
}
