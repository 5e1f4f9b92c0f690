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
    /// Bytes done so far (a read or write finished in a worker after a partial
    /// inline attempt).
    done: usize,
    /// The file is known to be a stream (pipe, socket): offsets are ignored.
    stream: bool,
    /// The copy of the application's iovec array (vectored kinds; empty otherwise).
    pub(crate) iov: Iovecs,
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
        done: 0,
        stream: false,
        iov: Iovecs(Vec::new()),
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
    let v = crate::user::read_vec::<libc::iovec>(req.addr(), n as usize)?;
    // A length is an ssize_t to the kernel: negative is -EINVAL (`iovec_from_user`).
    if v.iter().any(|i| i.iov_len > isize::MAX as usize) {
        return Err(-libc::EINVAL);
    }
    let total = v.iter().fold(0usize, |t, i| t.saturating_add(i.iov_len));
    if total > isize::MAX as usize {
        return Err(-libc::EINVAL);
    }
    req.expect = Some(total.min(i32::MAX as usize) as i32);
    req.cmd_mut::<Rw>().iov = Iovecs(v);
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

pub(crate) fn issue(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let kind = req.cmd::<Rw>().kind;
    let user_flags = req.op_flags();
    if user_flags & !RWF_SUPPORTED != 0 {
        return Step::Done(req, -libc::EOPNOTSUPP);
    }
    if req.has(sys::IOSQE_BUFFER_SELECT) {
        return issue_select(req, e, mode);
    }
    let done = req.cmd::<Rw>().done;
    // One buffer (possibly a registered one) or the copied iovecs, advanced past what
    // is done.
    let mut one = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut vec: Vec<libc::iovec>;
    let iov: &[libc::iovec] = if !kind.is_vectored() {
        let (addr, len) = (req.addr(), req.sqe.len as u64);
        if kind.is_fixed() {
            let Some(buf) = e.bufs.read().expect("buffer table").get(req.buf_index()) else {
                return Step::Done(req, -libc::EFAULT);
            };
            if let Err(err) = buf.check(addr, len) {
                return Step::Done(req, err);
            }
        }
        one.iov_base = (addr as usize + done) as *mut libc::c_void;
        one.iov_len = len as usize - done;
        std::slice::from_ref(&one)
    } else {
        let v = &req.cmd::<Rw>().iov;
        if kind.is_fixed() {
            let Some(buf) = e.bufs.read().expect("buffer table").get(req.buf_index()) else {
                return Step::Done(req, -libc::EFAULT);
            };
            for i in &v.0 {
                if let Err(err) = buf.check(i.iov_base as u64, i.iov_len as u64) {
                    return Step::Done(req, err);
                }
            }
        }
        vec = v.0.clone();
        advance(&mut vec, done);
        &vec
    };
    let stream = req.cmd::<Rw>().stream;
    let off = if stream || req.off() == u64::MAX {
        -1
    } else {
        (req.off() as i64).wrapping_add(done as i64)
    };
    let flags = if mode == Mode::Inline {
        user_flags as i32 | libc::RWF_NOWAIT
    } else {
        user_flags as i32
    };
    if off >= 0
        && done == 0
        && req.fault.is_none()
        && req.ltimeout == 0
        && e.det.is_none()
        && e.aio.wants(req.fd)
    {
        // O_DIRECT through AIO (aio.rs): asynchronous, as the kernel's direct I/O. From
        // a worker too (without RWF_NOWAIT): `io_submit` may block there for block
        // allocation, and the worker is free again once the I/O is on the device.
        let rw = crate::aio::Rw {
            write: kind.is_write(),
            iov,
            off,
            rw_flags: flags,
        };
        match e.aio.submit(e, req, &rw, mode) {
            Ok(()) => return Step::Parked,
            Err(r) => req = r,
        }
    }
    let ret = loop {
        // SAFETY: the buffers are the application's, valid until the CQE (the push
        // contract); registered ones were checked against their registration.
        let r = unsafe {
            if kind.is_write() {
                libc::pwritev2(req.fd, iov.as_ptr(), iov.len() as i32, off, flags)
            } else {
                libc::preadv2(req.fd, iov.as_ptr(), iov.len() as i32, off, flags)
            }
        };
        let r = sys_res(r as isize);
        if r == -libc::ESPIPE && !stream && off != -1 {
            // A pipe or socket: io_uring ignores the offset of a stream.
            req.cmd_mut::<Rw>().stream = true;
            return issue(req, e, mode);
        }
        if r == -libc::EINTR && mode == Mode::Worker && !e.wq.cancelled(&req) {
            continue;
        }
        break r;
    };
    finish(req, e, mode, ret, false)
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
    let done = req.cmd::<Rw>().done;
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
        req.cmd_mut::<Rw>().done = total;
        return Step::Block(req);
    }
    if ret > 0 && total < want && !stream && mode == Mode::Worker {
        // A blocking read that came up short before EOF: keep going until 0.
        req.cmd_mut::<Rw>().done = total;
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
        rw.iov.0[0].iov_len.min(u32::MAX as usize) as u32
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
        let r = unsafe { libc::preadv2(req.fd, &iov, 1, off, flags) };
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

/// A copy of the application's iovec array.
pub(crate) struct Iovecs(pub(crate) Vec<libc::iovec>);

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
