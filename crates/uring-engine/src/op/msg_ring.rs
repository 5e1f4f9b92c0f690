//! `IORING_OP_MSG_RING` between engine rings (`io_uring/msg_ring.c`): `IORING_MSG_DATA`
//! posts a CQE of the sender's choosing on the target ring, `IORING_MSG_SEND_FD`
//! installs one of the sender's registered files in the target's table (and tells it
//! with a CQE unless `IORING_MSG_RING_CQE_SKIP`). Also the ring-less form,
//! `IORING_REGISTER_SEND_MSG_RING` ([`sync_msg`]), and the `IORING_SETUP_ATTACH_WQ`
//! check.
//!
//! A ring is named by its fd: for an engine ring, the descriptor
//! [`EngineRing::fd`](crate::EngineRing::fd) returns, which the process-wide registry
//! (`registry.rs`) maps to its engine; a duplicate of such a descriptor (a registered
//! file) is recognised with `kcmp(2)`. A kernel ring's fd is not an engine ring: a message to
//! it fails with `-EBADFD`, as one to any other file does.
//!
//! A message to a `DEFER_TASKRUN` ring lands in its CQ at once rather than when its
//! task next runs; a full CQ keeps the message on the overflow list, so `-EOVERFLOW`
//! never happens.
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;
use crate::rings::Completion;

/// `IORING_MSG_RING_MASK`.
const MSG_RING_FLAGS: u32 = sys::IORING_MSG_RING_CQE_SKIP | sys::IORING_MSG_RING_FLAGS_PASS;

/// The engine ring `fd` names: its own fd (see `registry`), or a duplicate of it
/// (a registered file, say), recognised with `kcmp(2)`.
pub(crate) fn lookup(fd: RawFd) -> Option<Arc<Engine>> {
    if fd < 0 {
        return None;
    }
    crate::registry::lookup(fd).or_else(|| crate::registry::find(|e| e.is_ring_file(fd)))
}

/// `IORING_SETUP_ATTACH_WQ` on an engine ring: `wq_fd` must name an engine ring
/// (`-ENXIO` for a closed fd, `-EINVAL` for another file), with an SQ thread if the
/// new ring wants to share one (`-EINVAL`). Each engine ring keeps its own worker pool
/// and SQ thread nonetheless: the sharing shows only in thread counts.
pub(crate) fn check_attach_wq(wq_fd: u32, sqpoll: bool) -> Result<(), i32> {
    let fd = wq_fd as RawFd;
    // SAFETY: F_GETFD on any integer only asks whether it is open.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(-libc::ENXIO);
    }
    let target = lookup(fd).ok_or(-libc::EINVAL)?;
    if sqpoll && target.sqpoll.is_none() {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

/// `io_msg_ring_prep`.
pub(crate) fn prep(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_msg(req)
}

/// A parsed message (`struct io_msg`).
pub(crate) struct Msg {
    user_data: u64,
    len: u32,
    /// `IORING_MSG_DATA` or `IORING_MSG_SEND_FD` (`addr`).
    cmd: u64,
    /// The source slot of `SEND_FD` (`addr3`).
    src_fd: u64,
    /// The destination slot (`SEND_FD`) or the CQE flags (`DATA` with `FLAGS_PASS`).
    dst: u32,
    flags: u32,
}

/// `__io_msg_ring_data`: posts the message's CQE on `target`.
fn msg_data(target: &Engine, m: &Msg) -> i32 {
    if m.src_fd != 0 || m.flags & !sys::IORING_MSG_RING_FLAGS_PASS != 0 {
        return -libc::EINVAL;
    }
    if m.flags & sys::IORING_MSG_RING_FLAGS_PASS == 0 && m.dst != 0 {
        return -libc::EINVAL;
    }
    if !target.enabled.load(std::sync::atomic::Ordering::Acquire) {
        return -libc::EBADFD;
    }
    let flags = if m.flags & sys::IORING_MSG_RING_FLAGS_PASS != 0 {
        m.dst
    } else {
        0
    };
    target.post(Completion {
        user_data: m.user_data,
        res: m.len as i32,
        flags,
        big: [0; 2],
    });
    0
}

/// `io_msg_send_fd`.
fn msg_send_fd(src: &Arc<Engine>, target: &Arc<Engine>, m: &Msg) -> i32 {
    if m.len != 0 {
        return -libc::EINVAL;
    }
    if Arc::ptr_eq(src, target) {
        return -libc::EINVAL;
    }
    if !target.enabled.load(std::sync::atomic::Ordering::Acquire) {
        return -libc::EBADFD;
    }
    let file = src
        .files
        .read()
        .expect("file table")
        .get(m.src_fd.min(u32::MAX as u64) as u32);
    let Some(file) = file else {
        return -libc::EBADF;
    };
    if lookup(file.as_raw_fd()).is_some() {
        // A ring cannot be a registered file of another.
        return -libc::EBADF;
    }
    let ret = {
        let mut t = target.files.write().expect("file table");
        match t.install_fixed(file, m.dst) {
            Ok(r) => r,
            Err(err) => return err,
        }
    };
    if m.flags & sys::IORING_MSG_RING_CQE_SKIP == 0 {
        target.post(Completion {
            user_data: m.user_data,
            res: ret,
            flags: 0,
            big: [0; 2],
        });
    }
    ret
}

/// `io_msg_ring`: the target must be an engine ring (`-EBADFD`).
pub(crate) fn issue(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let m = req.cmd::<Msg>();
    let Some(target) = lookup(req.fd) else {
        return Step::Done(req, -libc::EBADFD);
    };
    let res = match m.cmd {
        c if c == sys::IORING_MSG_DATA as u64 => msg_data(&target, m),
        c if c == sys::IORING_MSG_SEND_FD as u64 => msg_send_fd(e, &target, m),
        _ => -libc::EINVAL,
    };
    Step::Done(req, res)
}

/// `IORING_REGISTER_SEND_MSG_RING` (`io_uring_register` with fd -1): an
/// `IORING_MSG_DATA` message from no ring. `-EINVAL` for SQE flags, another opcode or
/// command; `-EBADF` for a closed fd, `-EBADFD` for one that is not an engine ring.
///
/// # Safety
/// None: `arg` may be any address (an unreadable one is `-EFAULT`).
pub(crate) unsafe fn sync_msg(arg: *const sys::io_uring_sqe, nr: u32) -> Result<u32, i32> {
    if arg.is_null() || nr != 1 {
        return Err(-libc::EINVAL);
    }
    // Read as copy_from_user reads: an unreadable SQE is -EFAULT, not a crash.
    let mut sqe = std::mem::MaybeUninit::<sys::io_uring_sqe>::uninit();
    // SAFETY: `sqe` has room for one SQE.
    unsafe { crate::user::copy_from_user(sqe.as_mut_ptr().cast(), arg as u64, size_of_val(&sqe)) }?;
    // SAFETY: every byte was copied in; any bytes are a valid SQE (plain integers).
    let sqe = unsafe { sqe.assume_init() };
    if sqe.flags != 0 || sqe.opcode != sys::IORING_OP_MSG_RING {
        return Err(-libc::EINVAL);
    }
    let mut req = Req::new(sqe, [0; 64]);
    if req.sqe.personality != 0 {
        return Err(-libc::EINVAL);
    }
    prep_msg(&mut req)?;
    let m = req.cmd::<Msg>();
    if m.cmd != sys::IORING_MSG_DATA as u64 {
        return Err(-libc::EINVAL);
    }
    let fd = req.sqe.fd;
    // SAFETY: F_GETFD on any integer only asks whether it is open.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(-libc::EBADF);
    }
    let target = lookup(fd).ok_or(-libc::EBADFD)?;
    match msg_data(&target, m) {
        0 => Ok(0),
        err => Err(err),
    }
}

fn prep_msg(req: &mut Req) -> Result<(), i32> {
    if req.buf_index() != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    if flags & !MSG_RING_FLAGS != 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Msg {
        user_data: req.off(),
        len: req.sqe.len,
        cmd: req.addr(),
        src_fd: req.addr3(),
        dst: req.file_index(),
        flags,
    });
    Ok(())
}
