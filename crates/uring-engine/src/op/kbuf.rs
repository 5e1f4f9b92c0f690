//! `IORING_OP_PROVIDE_BUFFERS` and `IORING_OP_REMOVE_BUFFERS`: legacy provided-buffer
//! groups (`io_uring/kbuf.c`), with the kernel's prep checks and result codes. The
//! groups themselves live in [`crate::pbuf`].
use std::sync::Arc;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::pbuf::MAX_BIDS_PER_BGID;
use crate::req::Req;

/// Highest user-space address (`TASK_SIZE` on x86-64 and arm64 with 48-bit VAs):
/// `access_ok` refuses a range past it.
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// `struct io_provide_buf`.
pub(crate) struct Kbuf {
    /// How many buffers.
    nbufs: u32,
    /// The group.
    bgid: u16,
    /// Each buffer's length (`PROVIDE_BUFFERS`).
    len: u32,
    /// The first buffer's id (`PROVIDE_BUFFERS`).
    bid: u16,
}

/// `io_provide_buffers_prep`.
pub(crate) fn prep_provide(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.op_flags() != 0 || req.file_index() != 0 {
        return Err(-libc::EINVAL);
    }
    // `sqe->fd` read into a u64: a negative count is huge.
    let nbufs = req.sqe.fd as i64 as u64;
    if nbufs == 0 || nbufs > MAX_BIDS_PER_BGID {
        return Err(-libc::E2BIG);
    }
    let addr = req.addr();
    let len = req.sqe.len;
    if len == 0 {
        return Err(-libc::EINVAL);
    }
    let size = (len as u64).checked_mul(nbufs).ok_or(-libc::EOVERFLOW)?;
    let end = addr.checked_add(size).ok_or(-libc::EOVERFLOW)?;
    if end > TASK_SIZE {
        return Err(-libc::EFAULT);
    }
    let bid = req.off();
    if bid > u16::MAX as u64 {
        return Err(-libc::E2BIG);
    }
    if bid + nbufs > MAX_BIDS_PER_BGID {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Kbuf {
        nbufs: nbufs as u32,
        bgid: req.buf_index(),
        len,
        bid: bid as u16,
    });
    Ok(())
}

/// `io_remove_buffers_prep`.
pub(crate) fn prep_remove(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.op_flags() != 0
        || req.addr() != 0
        || req.sqe.len != 0
        || req.off() != 0
        || req.file_index() != 0
    {
        return Err(-libc::EINVAL);
    }
    let nbufs = req.sqe.fd as i64 as u64;
    if nbufs == 0 || nbufs > MAX_BIDS_PER_BGID {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Kbuf {
        nbufs: nbufs as u32,
        bgid: req.buf_index(),
        len: 0,
        bid: 0,
    });
    Ok(())
}

/// Both run inline: they only touch the engine's lists.
pub(crate) fn issue_provide(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let c = req.cmd::<Kbuf>();
    let res = e.pbufs.provide(c.bgid, req.addr(), c.len, c.nbufs, c.bid);
    Step::Done(req, res)
}

pub(crate) fn issue_remove(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let c = req.cmd::<Kbuf>();
    let res = e.pbufs.remove(c.bgid, c.nbufs);
    Step::Done(req, res)
}
