//! Descriptors and the fixed file table: `IORING_OP_FIXED_FD_INSTALL`,
//! `IORING_OP_FILES_UPDATE` (with `IORING_FILE_INDEX_ALLOC`) and `IORING_OP_PIPE`
//! (`io_uring/openclose.c`, `rsrc.c`).
//!
//! A fixed file of an engine ring is a duplicate descriptor the engine owns, so
//! installing one as a regular fd duplicates it again: the same open file, as
//! `receive_fd` gives.
//!
//! Scratch: `FIXED_FD_INSTALL` none; `FILES_UPDATE` `[0]` the offset, `[1]` the
//! address of the fds, `[2]` their number; `PIPE` `[0]` the address of the two fds,
//! `[1]` the pipe2(2) flags, `[2]` the file index.
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use uring_sys as sys;

use super::msg_ring::install_fixed;
use super::{Mode, Step, neg_errno};
use crate::engine::Engine;
use crate::req::Req;

/// `io_install_fixed_fd_prep`.
pub(crate) fn prep_install(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.off() != 0
        || req.addr() != 0
        || req.sqe.len != 0
        || req.buf_index() != 0
        || req.file_index() != 0
        || req.addr3() != 0
    {
        return Err(-libc::EINVAL);
    }
    if !req.has(sys::IOSQE_FIXED_FILE) {
        return Err(-libc::EBADF);
    }
    if req.op_flags() & !sys::IORING_FIXED_FD_NO_CLOEXEC != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

/// `io_install_fixed_fd`: a new descriptor for the fixed file (`O_CLOEXEC` unless
/// `IORING_FIXED_FD_NO_CLOEXEC`).
pub(crate) fn issue_install(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let cmd = if req.op_flags() & sys::IORING_FIXED_FD_NO_CLOEXEC != 0 {
        libc::F_DUPFD
    } else {
        libc::F_DUPFD_CLOEXEC
    };
    // SAFETY: duplicating a descriptor we hold open (the fixed file) touches no memory.
    let fd = unsafe { libc::fcntl(req.fd, cmd, 0) };
    let res = if fd < 0 { neg_errno() } else { fd };
    Step::Done(req, res)
}

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
    req.scratch[0] = req.off() as u32 as u64;
    req.scratch[1] = req.addr();
    req.scratch[2] = req.sqe.len as u64;
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
    let (offset, fds, nr) = (
        req.scratch[0] as u32,
        req.scratch[1] as *mut i32,
        req.scratch[2] as u32,
    );
    let mut t = e.files.write().expect("file table");
    let res = if offset == sys::IORING_FILE_INDEX_ALLOC {
        if !t.registered || t.len() == 0 {
            -libc::ENXIO
        } else {
            let mut done = 0;
            let mut err = 0;
            while done < nr {
                if fds.is_null() {
                    err = -libc::EFAULT;
                    break;
                }
                // SAFETY: the SQE contract: `addr` points to `len` ints, writable,
                // valid until the completion.
                let fd = unsafe { fds.add(done as usize).read_unaligned() };
                let file = match dup(fd) {
                    Ok(f) => f,
                    Err(e2) => {
                        err = e2;
                        break;
                    }
                };
                match install_fixed(&mut t, file, sys::IORING_FILE_INDEX_ALLOC) {
                    // SAFETY: as above.
                    Ok(slot) => unsafe { fds.add(done as usize).write_unaligned(slot) },
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
            if fds.is_null() {
                err = -libc::EFAULT;
                break;
            }
            // SAFETY: as above.
            let fd = unsafe { fds.add(done as usize).read_unaligned() };
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

/// `O_NOTIFICATION_PIPE` (`O_EXCL`).
const O_NOTIFICATION_PIPE: u32 = libc::O_EXCL as u32;

/// `io_pipe_prep`.
pub(crate) fn prep_pipe(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.sqe.fd != 0 || req.off() != 0 || req.addr3() != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    let valid = (libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) as u32 | O_NOTIFICATION_PIPE;
    if flags & !valid != 0 {
        return Err(-libc::EINVAL);
    }
    req.scratch[0] = req.addr();
    req.scratch[1] = flags as u64;
    req.scratch[2] = req.file_index() as u64;
    Ok(())
}

/// `io_pipe`: pipe2(2), both ends as descriptors or as direct descriptors (slots
/// `file_index - 1` and the next, or two allocated), reported in `fds`.
pub(crate) fn issue_pipe(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let out = req.scratch[0] as *mut i32;
    let flags = req.scratch[1] as i32;
    let slot = req.scratch[2] as u32;
    if out.is_null() {
        return Step::Done(req, -libc::EFAULT);
    }
    let direct = slot != 0;
    if direct && flags & libc::O_CLOEXEC != 0 {
        return Step::Done(req, -libc::EINVAL);
    }
    let mut fds = [-1i32; 2];
    // Direct ends are the engine's own descriptors: close-on-exec.
    let pflags = if direct {
        flags | libc::O_CLOEXEC
    } else {
        flags
    };
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), pflags) } < 0 {
        return Step::Done(req, neg_errno());
    }
    if !direct {
        // SAFETY: the SQE contract: `addr` points to two writable ints.
        unsafe { out.cast::<[i32; 2]>().write_unaligned(fds) };
        return Step::Done(req, 0);
    }
    // SAFETY: two fresh descriptors nobody else owns.
    let ends = unsafe { [OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])] };
    let mut t = e.files.write().expect("file table");
    let mut slots = [-1i32; 2];
    let mut res = 0;
    for (i, end) in ends.into_iter().enumerate() {
        let index = if slot == sys::IORING_FILE_INDEX_ALLOC {
            slot
        } else {
            slot + i as u32
        };
        match install_fixed(&mut t, Arc::new(end), index) {
            Ok(s) => {
                slots[i] = if index == sys::IORING_FILE_INDEX_ALLOC {
                    s
                } else {
                    index as i32 - 1
                }
            }
            Err(err) => {
                res = err;
                break;
            }
        }
    }
    if res < 0 {
        for s in slots.into_iter().filter(|&s| s >= 0) {
            let _ = t.install(s as u32, None);
        }
    } else {
        // SAFETY: as above.
        unsafe { out.cast::<[i32; 2]>().write_unaligned(slots) };
    }
    drop(t);
    Step::Done(req, res)
}
