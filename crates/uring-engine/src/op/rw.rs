//! Reads and writes (`READ`, `WRITE`, `READV`, `WRITEV`, `READ_FIXED`, `WRITE_FIXED`,
//! `READV_FIXED`, `WRITEV_FIXED`) and `READ_MULTISHOT`, as `io_uring/rw.c`.
//!
//! Issue tries `preadv2`/`pwritev2` with `RWF_NOWAIT` inline first; a regular file that
//! would block goes to the worker pool, a pipe, socket or terminal waits for readiness.
//! A regular file read or written only in part (part cached) is finished in a worker,
//! as the kernel finishes it; a short result that stays short fails a link.
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step, advance, neg_errno, no_ioprio, reserved, sys_res};
use crate::engine::Engine;
use crate::reactor::poll_now;
use crate::req::Req;

/// Which read or write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RwKind {
    Read,
    Write,
    Readv,
    Writev,
    ReadFixed,
    WriteFixed,
    ReadvFixed,
    WritevFixed,
}

impl RwKind {
    fn is_write(self) -> bool {
        matches!(
            self,
            RwKind::Write | RwKind::Writev | RwKind::WriteFixed | RwKind::WritevFixed
        )
    }

    /// Works on the copied iovec array.
    fn is_vectored(self) -> bool {
        matches!(
            self,
            RwKind::Readv | RwKind::Writev | RwKind::ReadvFixed | RwKind::WritevFixed
        )
    }

    /// Its memory must lie in registered buffer `buf_index`.
    fn is_fixed(self) -> bool {
        matches!(
            self,
            RwKind::ReadFixed | RwKind::WriteFixed | RwKind::ReadvFixed | RwKind::WritevFixed
        )
    }
}

/// `struct io_rw`, with what issue learns between attempts.
pub(crate) struct Rw {
    kind: RwKind,
    /// The file is known to be a stream (pipe, socket): offsets are ignored.
    stream: bool,
    /// Bytes done so far (a read or write finished in a worker after a partial
    /// inline attempt). Below `i32::MAX`: a request goes on only while short of its
    /// length, which is clamped to a CQE's result.
    done: u32,
    /// The copy of the application's iovec array, advanced past `done` (vectored
    /// kinds; empty otherwise).
    pub(crate) iov: Iovecs,
    /// The result of the first inline attempt, made by the submission loop's shortcut
    /// ([`quick`]) and not final: issue goes on from it instead of attempting again.
    tried: Option<i32>,
}

impl Rw {
    /// `n` more bytes are done: the iovecs move past them.
    fn progress(&mut self, n: usize) {
        self.done += n as u32;
        self.iov.advance(n);
    }
}

/// The `RWF_*` flags of `preadv2(2)` the kernel accepts in `rw_flags`.
const RWF_SUPPORTED: u32 = (libc::RWF_HIPRI
    | libc::RWF_DSYNC
    | libc::RWF_SYNC
    | libc::RWF_NOWAIT
    | libc::RWF_APPEND
    | 0x20 /* RWF_NOAPPEND */
    | 0x40 /* RWF_ATOMIC */
    | 0x80/* RWF_DONTCACHE */) as u32;

/// UIO_MAXIOV.
const MAX_IOV: u32 = 1024;

/// The checks of the kernel's `io_prep_rw` common to every read and write.
fn prep_common(req: &mut Req, kind: RwKind) -> Result<(), i32> {
    check_ioprio(req.sqe.ioprio)?;
    // attr_type_mask: integrity (PI) attributes need a block device with metadata; the
    // engine cannot attach them.
    // SAFETY: plain integers over the same bytes.
    if unsafe { req.sqe.addr3_or_cmd.attr.attr_type_mask } != 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Rw {
        kind,
        stream: false,
        done: 0,
        iov: Iovecs::Empty,
        tried: None,
    });
    Ok(())
}

/// What `ioprio_check_cap` refuses: an unknown class, or a level with class NONE.
/// (RT needs CAP_SYS_NICE or CAP_SYS_ADMIN; the engine does not apply priorities, so
/// it does not check the capability either.)
fn check_ioprio(ioprio: u16) -> Result<(), i32> {
    let class = ioprio >> 13;
    let level = ioprio & 0x7;
    match class {
        0 if level != 0 => Err(-libc::EINVAL),
        0..=3 => Ok(()),
        _ => Err(-libc::EINVAL),
    }
}

pub(crate) fn prep_read(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req, RwKind::Read)?;
    req.expect = Some(req.sqe.len as i32);
    Ok(())
}

pub(crate) fn prep_write(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req, RwKind::Write)?;
    req.expect = Some(req.sqe.len as i32);
    Ok(())
}

/// Copies the iovec array at prep (the application may free it once submitted:
/// `IORING_FEAT_SUBMIT_STABLE`).
fn prep_vec(req: &mut Req, kind: RwKind) -> Result<(), i32> {
    prep_common(req, kind)?;
    let n = req.sqe.len;
    if n > MAX_IOV {
        return Err(-libc::EINVAL);
    }
    // One iovec (the common case) is kept inline: no allocation.
    let iov = if n == 1 {
        Iovecs::One(crate::user::read::<libc::iovec>(req.addr())?)
    } else {
        Iovecs::Many(crate::user::read_vec::<libc::iovec>(
            req.addr(),
            n as usize,
        )?)
    };
    let v = iov.as_slice();
    // A length is an ssize_t to the kernel: negative is -EINVAL (`iovec_from_user`).
    if v.iter().any(|i| i.iov_len > isize::MAX as usize) {
        return Err(-libc::EINVAL);
    }
    let total = v.iter().fold(0usize, |t, i| t.saturating_add(i.iov_len));
    if total > isize::MAX as usize {
        return Err(-libc::EINVAL);
    }
    req.expect = Some(total.min(i32::MAX as usize) as i32);
    req.cmd_mut::<Rw>().iov = iov;
    Ok(())
}

pub(crate) fn prep_readv(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.has(sys::IOSQE_BUFFER_SELECT) && req.sqe.len != 1 {
        // `io_iov_buffer_select_prep`: one iovec, whose length bounds the read.
        return Err(-libc::EINVAL);
    }
    prep_vec(req, RwKind::Readv)
}

/// `IORING_OP_READV_FIXED` (6.15): iovecs that must lie inside registered buffer
/// `buf_index` (checked at issue, `-EFAULT`, as `io_import_reg_vec`).
pub(crate) fn prep_readv_fixed(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_vec(req, RwKind::ReadvFixed)
}

pub(crate) fn prep_writev_fixed(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_vec(req, RwKind::WritevFixed)
}

pub(crate) fn prep_writev(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_vec(req, RwKind::Writev)
}

pub(crate) fn prep_read_fixed(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req, RwKind::ReadFixed)?;
    req.expect = Some(req.sqe.len as i32);
    Ok(())
}

pub(crate) fn prep_write_fixed(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_common(req, RwKind::WriteFixed)?;
    req.expect = Some(req.sqe.len as i32);
    Ok(())
}

/// Whether `fd` is a regular file or block device (work for the bounded pool, never
/// worth a readiness wait).
pub(crate) fn is_regular(fd: i32) -> bool {
    // SAFETY: an all-zero stat is a valid out-buffer; fstat writes it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return true;
    }
    matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFBLK)
}

/// Issues a read or write: the checks of its flags and registered buffer, then the
/// attempt, through AIO for an `O_DIRECT` file or as `preadv2`/`pwritev2` (non-blocking
/// inline), and what its result leads to ([`finish`]).
pub(crate) fn issue(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    if req.op_flags() & !RWF_SUPPORTED != 0 {
        return Step::Done(req, -libc::EOPNOTSUPP);
    }
    if req.has(sys::IOSQE_BUFFER_SELECT) {
        return issue_select(req, e, mode);
    }
    if let Err(err) = check_fixed(&req, e) {
        return Step::Done(req, err);
    }
    let pos = position(&req);
    let flags = attempt_flags(&req, mode);
    if let Some(ret) = req.cmd_mut::<Rw>().tried.take()
        && mode == Mode::Inline
    {
        // The submission loop made this attempt already ([`quick`]).
        return after_attempt(req, e, mode, pos, ret);
    }
    match try_aio(req, e, pos, flags, mode) {
        Ok(()) => Step::Parked,
        Err(req) => issue_here(req, e, mode, pos, flags),
    }
}

/// A read or write that AIO refused at the end of a batch (`aio.rs`): the attempt
/// [`issue`] makes when AIO does not take it.
pub(crate) fn issue_without_aio(req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let pos = position(&req);
    let flags = attempt_flags(&req, mode);
    issue_here(req, e, mode, pos, flags)
}

/// The attempt with `preadv2`/`pwritev2` on this thread, and what it leads to.
fn issue_here(req: Box<Req>, e: &Arc<Engine>, mode: Mode, pos: i64, flags: i32) -> Step {
    let ret = attempt(&req, e, mode, pos, flags);
    after_attempt(req, e, mode, pos, ret)
}

/// What an attempt at `pos` that returned `ret` leads to.
fn after_attempt(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode, pos: i64, ret: i32) -> Step {
    if ret == -libc::ESPIPE && pos != -1 {
        // A pipe or socket: io_uring ignores the offset of a stream.
        req.cmd_mut::<Rw>().stream = true;
        return issue(req, e, mode);
    }
    finish(req, e, mode, ret, false)
}

/// What the submission loop's shortcut made of an SQE ([`quick`]).
pub(crate) enum Quick {
    /// Not a plain read: the request takes the full path.
    No,
    /// Read in full by one `preadv2`: the result of its CQE, which is all there is to
    /// the request.
    Done(i32),
    /// Attempted, with this result, which is not final (`-EAGAIN`, short, an error):
    /// the request takes the full path, which goes on from it ([`set_tried`]).
    Tried(i32),
}

/// The submission loop's shortcut for the commonest request, a `READ` (or a `READV` of
/// one iovec) at an offset of a buffered file, with no flags: the inline attempt the
/// full path would make first (`preadv2` with `RWF_NOWAIT`, [`issue`]), made right
/// from the SQE, with no request prepared, queued, issued and completed around it.
/// When it reads everything asked for, that is the request's whole outcome on the
/// full path too (`finish`: done, its length), and the caller posts its CQE. Any
/// other result is handed to the full path as that path's own first attempt, so a
/// request ends exactly as it would have without the shortcut; nothing is attempted
/// twice (a pipe or socket read is not repeatable).
///
/// Only what preparation cannot refuse (no SQE flags, no ioprio, no `RWF_*` flags, no
/// personality, no attributes, a length a CQE can carry, a readable iovec array) and
/// what issue would attempt this way (an offset, not the file position: `off == -1`
/// keeps its path; not an `O_DIRECT` file, which goes to AIO). The caller checks what
/// belongs to the ring and the submission (links, drain, injected faults, observer,
/// restrictions, deterministic mode, IOPOLL, the CQE kept for the end of the
/// submission).
///
/// `buffered_fd`: an fd found not `O_DIRECT` earlier in the submission (-1: none), not
/// asked again (the same fd number through a submission: a stale answer would cost
/// speed only, as in `aio.rs`).
#[inline]
pub(crate) fn quick(e: &Engine, sqe: &sys::io_uring_sqe, buffered_fd: &mut i32) -> Quick {
    // SAFETY: plain integers over the same bytes, for each union read here.
    let (off, addr, rw_flags, attr) = unsafe {
        (
            sqe.off_or_addr2.off,
            sqe.addr_or_splice_off_in.addr,
            sqe.op_flags.rw_flags,
            sqe.addr3_or_cmd.attr.attr_type_mask,
        )
    };
    if sqe.flags != 0
        || sqe.ioprio != 0
        || sqe.personality != 0
        || rw_flags != 0
        || attr != 0
        || off == u64::MAX
        || sqe.fd < 0
    {
        return Quick::No;
    }
    let iov = match sqe.opcode {
        sys::IORING_OP_READ if sqe.len <= i32::MAX as u32 => libc::iovec {
            iov_base: addr as usize as *mut libc::c_void,
            iov_len: sqe.len as usize,
        },
        // The copy preparation makes (EFAULT-safe); a bad pointer or length is
        // preparation's to refuse.
        sys::IORING_OP_READV if sqe.len == 1 => match crate::user::read::<libc::iovec>(addr) {
            Ok(v) if v.iov_len <= i32::MAX as usize => v,
            _ => return Quick::No,
        },
        _ => return Quick::No,
    };
    if sqe.fd != *buffered_fd {
        if e.aio.wants(sqe.fd) {
            return Quick::No;
        }
        *buffered_fd = sqe.fd;
    }
    // SAFETY: the buffer is the application's, valid until the CQE (the push contract).
    let ret = unsafe {
        rw_syscall(
            false,
            sqe.fd,
            std::slice::from_ref(&iov),
            off as i64,
            libc::RWF_NOWAIT,
        )
    };
    let ret = sys_res(ret as isize);
    if ret >= 0 && ret as usize == iov.iov_len {
        Quick::Done(ret)
    } else {
        Quick::Tried(ret)
    }
}

/// Hands the result of [`quick`]'s attempt to the prepared request, whose issue goes
/// on from it.
pub(crate) fn set_tried(req: &mut Req, ret: i32) {
    req.cmd_mut::<Rw>().tried = Some(ret);
}

/// A registered buffer kind's memory must lie inside registered buffer `buf_index`
/// (`io_import_fixed`, `io_import_reg_vec`): `-EFAULT` otherwise.
fn check_fixed(req: &Req, e: &Engine) -> Result<(), i32> {
    let rw = req.cmd::<Rw>();
    if !rw.kind.is_fixed() {
        return Ok(());
    }
    let buf = e
        .bufs
        .read()
        .expect("buffer table")
        .get(req.buf_index())
        .ok_or(-libc::EFAULT)?;
    if rw.kind.is_vectored() {
        rw.iov
            .as_slice()
            .iter()
            .try_for_each(|i| buf.check(i.iov_base as u64, i.iov_len as u64))
    } else {
        buf.check(req.addr(), req.sqe.len as u64)
    }
}

/// The file offset of the next attempt, past what is done; -1 for a stream or
/// `off == -1` (the file position).
fn position(req: &Req) -> i64 {
    let rw = req.cmd::<Rw>();
    if rw.stream || req.off() == u64::MAX {
        -1
    } else {
        (req.off() as i64).wrapping_add(i64::from(rw.done))
    }
}

/// The `RWF_*` flags of an attempt: the SQE's, and `RWF_NOWAIT` inline.
fn attempt_flags(req: &Req, mode: Mode) -> i32 {
    let user = req.op_flags() as i32;
    if mode == Mode::Inline {
        user | libc::RWF_NOWAIT
    } else {
        user
    }
}

/// Calls `f` with the memory an attempt reads or writes: the SQE's buffer past what
/// is done, or the copied iovecs (kept advanced past it).
fn with_iov<R>(req: &Req, f: impl FnOnce(&[libc::iovec]) -> R) -> R {
    let rw = req.cmd::<Rw>();
    if rw.kind.is_vectored() {
        return f(rw.iov.as_slice());
    }
    let done = rw.done as usize;
    let one = libc::iovec {
        iov_base: (req.addr() as usize).wrapping_add(done) as *mut libc::c_void,
        iov_len: (req.sqe.len as usize).saturating_sub(done),
    };
    f(std::slice::from_ref(&one))
}

/// O_DIRECT through AIO (aio.rs): asynchronous, as the kernel's direct I/O. From a
/// worker too (without `RWF_NOWAIT`): `io_submit` may block there for block
/// allocation, and the worker is free again once the I/O is on the device. Gives the
/// request back where AIO does not apply or refuses it.
fn try_aio(
    req: Box<Req>,
    e: &Arc<Engine>,
    pos: i64,
    flags: i32,
    mode: Mode,
) -> Result<(), Box<Req>> {
    if pos < 0
        || req.cmd::<Rw>().done != 0
        || req.fault.is_some()
        || req.ltimeout != 0
        || e.det.is_some()
        || !e.aio.wants(req.fd)
    {
        return Err(req);
    }
    let rw = with_iov(&req, |iov| {
        crate::aio::Rw::new(req.cmd::<Rw>().kind.is_write(), iov, pos, flags)
    });
    e.aio.submit(e, req, &rw, mode)
}

/// `preadv2(2)` or `pwritev2(2)` as the bare system call: glibc's wrappers are
/// cancellation points, and the enabling and disabling of asynchronous cancellation
/// around the call cost about 30 instructions per read (callgrind), for threads that
/// are never cancelled. The offset is passed as glibc passes it (low and high halves;
/// the kernel's `pos_from_hilo`).
///
/// # Safety
/// Every iovec in `iov` must be valid for the transfer: writable (a read) or readable
/// (a write) for its length, as `preadv2(2)`/`pwritev2(2)` require.
unsafe fn rw_syscall(
    write: bool,
    fd: i32,
    iov: &[libc::iovec],
    pos: i64,
    flags: i32,
) -> libc::c_long {
    let nr = if write {
        libc::SYS_pwritev2
    } else {
        libc::SYS_preadv2
    };
    // SAFETY: the caller's contract; the arguments are those of the system call.
    unsafe {
        libc::syscall(
            nr,
            fd as libc::c_long,
            iov.as_ptr(),
            iov.len() as libc::c_long,
            pos as libc::c_long,
            ((pos as u64) >> 32) as libc::c_long,
            flags as libc::c_long,
        )
    }
}

/// One `preadv2`/`pwritev2` attempt, repeated in a worker when a signal interrupts
/// it: its result, or `-errno`.
fn attempt(req: &Req, e: &Engine, mode: Mode, pos: i64, flags: i32) -> i32 {
    let write = req.cmd::<Rw>().kind.is_write();
    with_iov(req, |iov| {
        loop {
            // SAFETY: the buffers are the application's, valid until the CQE (the push
            // contract); registered ones were checked against their registration.
            let r = unsafe { rw_syscall(write, req.fd, iov, pos, flags) };
            let r = sys_res(r as isize);
            if r == -libc::EINTR && mode == Mode::Worker && !e.wq.cancelled(req) {
                continue;
            }
            break r;
        }
    })
}

/// An AIO read or write's result (aio.rs), submitted in `mode`: what a
/// `preadv2`/`pwritev2` attempt returning `ret` leads to.
pub(crate) fn finish_aio(req: Box<Req>, e: &Arc<Engine>, ret: i32, mode: Mode) -> Step {
    finish(req, e, mode, ret, true)
}

/// What an attempt that returned `ret` leads to: done, finished in a worker, or
/// retried when the fd is ready. `aio`: the result came from the AIO reaper, which
/// must not block: a worker's read that needs another attempt goes back to a worker.
fn finish(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode, ret: i32, aio: bool) -> Step {
    let kind = req.cmd::<Rw>().kind;
    let done = req.cmd::<Rw>().done as usize;
    let stream = req.cmd::<Rw>().stream;
    let user_nowait = req.op_flags() & libc::RWF_NOWAIT as u32 != 0;
    if ret == -libc::EAGAIN && !user_nowait {
        if req.is_regular() {
            return if mode == Mode::Inline {
                Step::Block(req)
            } else {
                // A regular file that says EAGAIN to a blocking call (O_NONBLOCK on a
                // file that honours it): the kernel posts it.
                Step::Done(req, ret)
            };
        }
        let events = if kind.is_write() {
            libc::POLLOUT
        } else {
            libc::POLLIN
        };
        return Step::Wait(req, events);
    }
    if ret == -libc::EOPNOTSUPP && mode == Mode::Inline && !user_nowait {
        // No RWF_NOWAIT on this file: do it blocking.
        return Step::Block(req);
    }
    if ret < 0 {
        return Step::Done(req, if done > 0 { done as i32 } else { ret });
    }
    let total = done + ret as usize;
    let want = req.expect.unwrap_or(0) as usize;
    if ret > 0
        && total < want
        && !stream
        && mode == Mode::Inline
        && !user_nowait
        && req.is_regular()
    {
        // Part of it was cached: finish the rest in a worker, as the kernel does.
        req.cmd_mut::<Rw>().progress(ret as usize);
        return Step::Block(req);
    }
    if ret > 0 && total < want && !stream && mode == Mode::Worker && req.is_regular() {
        // A blocking read of a regular file or block device that came up short before
        // EOF: keep going until 0 (the kernel's `need_complete_io`; a pipe or socket
        // read at the file position returns what it got, as read(2) does).
        req.cmd_mut::<Rw>().progress(ret as usize);
        if aio {
            return Step::Block(req);
        }
        return issue(req, e, mode);
    }
    Step::Done(req, total as i32)
}

/// `READ` / `READV` with `IOSQE_BUFFER_SELECT`: a buffer of group `buf_group` is
/// picked for each attempt (given back when the attempt would block), and the CQE
/// names it (`IORING_CQE_F_BUFFER`). A short read is final: the buffer was picked for
/// what one read returns.
fn issue_select(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let bgid = req.buf_index();
    let rw = req.cmd::<Rw>();
    let want = if rw.kind == RwKind::Readv {
        rw.iov.as_slice()[0].iov_len.min(u32::MAX as usize) as u32
    } else {
        req.sqe.len
    };
    let regular = req.is_regular();
    let sel = match e.pbufs.select_for(bgid, want, !regular) {
        Ok(s) => s,
        Err(err) => return Step::Done(req, err),
    };
    let user_flags = req.op_flags();
    let user_nowait = user_flags & libc::RWF_NOWAIT as u32 != 0;
    let flags = if mode == Mode::Inline {
        user_flags as i32 | libc::RWF_NOWAIT
    } else {
        user_flags as i32
    };
    let iov = libc::iovec {
        iov_base: sel.addr as *mut libc::c_void,
        iov_len: sel.len as usize,
    };
    let stream = req.cmd::<Rw>().stream;
    let off = if stream || req.off() == u64::MAX {
        -1
    } else {
        req.off() as i64
    };
    let ret = loop {
        // SAFETY: the buffer is the application's provided buffer, valid until the
        // CQE that names it (the PROVIDE_BUFFERS / buffer ring contract).
        let r = unsafe { rw_syscall(false, req.fd, std::slice::from_ref(&iov), off, flags) };
        let r = sys_res(r as isize);
        if r == -libc::EINTR && mode == Mode::Worker && !e.wq.cancelled(&req) {
            continue;
        }
        break r;
    };
    if ret == -libc::ESPIPE && !stream && off != -1 {
        req.cmd_mut::<Rw>().stream = true;
        e.pbufs.recycle(bgid, sel);
        return issue_select(req, e, mode);
    }
    if ret == -libc::EAGAIN && !user_nowait {
        if regular && mode == Mode::Worker {
            req.cflags |= e.pbufs.fail(bgid, sel);
            return Step::Done(req, ret);
        }
        e.pbufs.recycle(bgid, sel);
        return if regular {
            Step::Block(req)
        } else {
            Step::Wait(req, libc::POLLIN)
        };
    }
    if ret == -libc::EOPNOTSUPP && mode == Mode::Inline && !user_nowait {
        e.pbufs.recycle(bgid, sel);
        return Step::Block(req);
    }
    if ret < 0 {
        req.cflags |= e.pbufs.fail(bgid, sel);
        return Step::Done(req, ret);
    }
    req.cflags |= e.pbufs.commit(bgid, sel, ret as u32);
    req.expect = Some(sel.len as i32);
    Step::Done(req, ret)
}

/// A copy of the application's iovec array: one iovec inline, more on the heap.
pub(crate) enum Iovecs {
    Empty,
    One(libc::iovec),
    Many(Vec<libc::iovec>),
}

impl Iovecs {
    pub(crate) fn as_slice(&self) -> &[libc::iovec] {
        match self {
            Iovecs::Empty => &[],
            Iovecs::One(one) => std::slice::from_ref(one),
            Iovecs::Many(v) => v,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [libc::iovec] {
        match self {
            Iovecs::Empty => &mut [],
            Iovecs::One(one) => std::slice::from_mut(one),
            Iovecs::Many(v) => v,
        }
    }

    /// Keeps the first `n` iovecs.
    pub(crate) fn truncate(&mut self, n: usize) {
        match self {
            Iovecs::Many(v) => v.truncate(n),
            _ if n == 0 => *self = Iovecs::Empty,
            _ => {}
        }
    }

    /// Drops the first `n` bytes (the kernel's `iov_iter_advance`).
    fn advance(&mut self, n: usize) {
        match self {
            Iovecs::Empty => {}
            Iovecs::One(one) => {
                let n = n.min(one.iov_len);
                one.iov_base = (one.iov_base as usize).wrapping_add(n) as *mut libc::c_void;
                one.iov_len -= n;
            }
            Iovecs::Many(v) => advance(v, n),
        }
    }
}

// SAFETY: the iovecs point into application memory whose validity until the CQE is
// the SQE's contract; moving the pointers between threads moves no data.
unsafe impl Send for Iovecs {}

// ---- READ_MULTISHOT ----

pub(crate) fn prep_read_multishot(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if !req.has(sys::IOSQE_BUFFER_SELECT) {
        return Err(-libc::EINVAL);
    }
    no_ioprio(req)?;
    // SAFETY: plain integers over the same bytes.
    if unsafe { req.sqe.addr3_or_cmd.attr.attr_type_mask } != 0 {
        // Only integrity (PI) attributes exist, for block devices with metadata.
        return Err(-libc::EINVAL);
    }
    reserved(&[req.addr(), req.sqe.len as u64])
}

pub(crate) fn issue_read_multishot(mut req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    if req.is_regular() {
        // "Multishot MUST be used on a pollable file".
        return Step::Done(req, -libc::EBADFD);
    }
    let bgid = req.buf_index();
    let mut loops = 0;
    loop {
        let sel = match e.pbufs.select(bgid, 0) {
            Ok(s) => s,
            Err(err) => return Step::Done(req, err),
        };
        let iov = libc::iovec {
            iov_base: sel.addr as *mut libc::c_void,
            iov_len: sel.len as usize,
        };
        // SAFETY: the provided buffer is the application's, valid until the CQE.
        let mut r = unsafe { libc::preadv2(req.fd, &iov, 1, -1, libc::RWF_NOWAIT) };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EOPNOTSUPP) {
            // No RWF_NOWAIT for this file: read only when poll says it will not block
            // (the kernel's io_file_supports_nowait).
            r = match poll_now(req.fd, libc::POLLIN) {
                Ok(m) if m != 0 => {
                    // SAFETY: as above.
                    unsafe { libc::read(req.fd, iov.iov_base, iov.iov_len) }
                }
                Ok(_) => {
                    // SAFETY: setting errno for the check below.
                    unsafe { *libc::__errno_location() = libc::EAGAIN };
                    -1
                }
                Err(err) => {
                    // SAFETY: as above.
                    unsafe { *libc::__errno_location() = -err };
                    -1
                }
            };
        }
        if r < 0 {
            let err = neg_errno();
            e.pbufs.recycle(bgid, sel);
            if err == -libc::EAGAIN {
                return Step::Wait(req, libc::POLLIN);
            }
            return Step::Done(req, err);
        }
        if r == 0 {
            e.pbufs.recycle(bgid, sel);
            return Step::Done(req, 0);
        }
        let cflags = e.pbufs.commit(bgid, sel, r as u32);
        if !e.post_more(req.user_data(), r as i32, cflags) {
            req.cflags |= cflags;
            return Step::Done(req, r as i32);
        }
        loops += 1;
        if loops >= 32 {
            return Step::Wait(req, libc::POLLIN);
        }
    }
}
