//! `io_uring_register(2)` on an engine ring: one function per `IORING_REGISTER_*` op
//! the engine honours, with the kernel's argument checks and error codes
//! (`io_uring/register.c`, `rsrc.c`). Every other op is refused with `-EINVAL`, as the
//! kernel refuses an op it does not know.
use std::ffi::c_void;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use uring_sys as sys;

use crate::engine::Engine;
use crate::op;
use crate::rsrc::{self, RegBuf};

/// Most files a table may hold (`IORING_MAX_FIXED_FILES`).
const MAX_FIXED_FILES: u32 = 1 << 20;
/// Most buffers a table may hold (`IORING_MAX_REG_BUFFERS`).
const MAX_REG_BUFFERS: u32 = 1 << 14;
/// Largest registered buffer (`SZ_1G`).
const MAX_BUF_LEN: u64 = 1 << 30;

/// The register ops the engine honours (what its `IORING_REGISTER_QUERY`-style
/// listings and `uring probe --backend engine` report).
pub const SUPPORTED: &[u32] = &[
    sys::IORING_REGISTER_BUFFERS,
    sys::IORING_UNREGISTER_BUFFERS,
    sys::IORING_REGISTER_FILES,
    sys::IORING_UNREGISTER_FILES,
    sys::IORING_REGISTER_EVENTFD,
    sys::IORING_UNREGISTER_EVENTFD,
    sys::IORING_REGISTER_FILES_UPDATE,
    sys::IORING_REGISTER_EVENTFD_ASYNC,
    sys::IORING_REGISTER_PROBE,
    sys::IORING_REGISTER_ENABLE_RINGS,
    sys::IORING_REGISTER_FILES2,
    sys::IORING_REGISTER_FILES_UPDATE2,
    sys::IORING_REGISTER_BUFFERS2,
    sys::IORING_REGISTER_BUFFERS_UPDATE,
    sys::IORING_REGISTER_IOWQ_MAX_WORKERS,
    sys::IORING_REGISTER_RING_FDS,
    sys::IORING_UNREGISTER_RING_FDS,
];

type Res = Result<u32, i32>;

/// Dispatches one register call.
///
/// # Safety
/// `arg` points to what `opcode` expects, `nr_args` items of it (the caller's contract
/// for `io_uring_register(2)`); it is only read or written within those bounds.
pub(crate) unsafe fn register(e: &Arc<Engine>, opcode: u32, arg: *const c_void, nr: u32) -> Res {
    let opcode = opcode & !sys::IORING_REGISTER_USE_REGISTERED_RING;
    // SAFETY: every arm passes on the caller's contract for `arg`/`nr`.
    unsafe {
        match opcode {
            sys::IORING_REGISTER_PROBE => probe(arg as *mut u8, nr),
            sys::IORING_REGISTER_FILES => register_files(e, arg.cast(), nr),
            sys::IORING_UNREGISTER_FILES => unregister_files(e, arg, nr),
            sys::IORING_REGISTER_FILES_UPDATE => files_update(e, arg.cast(), nr),
            sys::IORING_REGISTER_FILES2 => register_files2(e, arg.cast(), nr),
            sys::IORING_REGISTER_FILES_UPDATE2 => files_update2(e, arg.cast(), nr),
            sys::IORING_REGISTER_BUFFERS => register_buffers(e, arg.cast(), nr),
            sys::IORING_UNREGISTER_BUFFERS => unregister_buffers(e, arg, nr),
            sys::IORING_REGISTER_BUFFERS2 => register_buffers2(e, arg.cast(), nr),
            sys::IORING_REGISTER_BUFFERS_UPDATE => buffers_update(e, arg.cast(), nr),
            sys::IORING_REGISTER_EVENTFD => register_eventfd(e, arg.cast(), nr, false),
            sys::IORING_REGISTER_EVENTFD_ASYNC => register_eventfd(e, arg.cast(), nr, true),
            sys::IORING_UNREGISTER_EVENTFD => unregister_eventfd(e, arg, nr),
            sys::IORING_REGISTER_ENABLE_RINGS => enable_rings(e, arg, nr),
            sys::IORING_REGISTER_IOWQ_MAX_WORKERS => iowq_max_workers(e, arg as *mut u32, nr),
            sys::IORING_REGISTER_RING_FDS => {
                register_ring_fds(arg as *mut sys::io_uring_rsrc_update, nr)
            }
            sys::IORING_UNREGISTER_RING_FDS => unregister_ring_fds(arg.cast(), nr),
            _ => Err(-libc::EINVAL),
        }
    }
}

/// `IORING_REGISTER_PROBE`: which opcodes the engine honours.
unsafe fn probe(arg: *mut u8, nr: u32) -> Res {
    if arg.is_null() {
        return Err(-libc::EFAULT);
    }
    let nr = nr.min(op::OP_COUNT as u32) as usize;
    let size = size_of::<sys::io_uring_probe>() + nr * size_of::<sys::io_uring_probe_op>();
    // SAFETY: the caller provides a probe header followed by `nr` entries.
    let bytes = unsafe { std::slice::from_raw_parts_mut(arg, size) };
    if bytes.iter().any(|&b| b != 0) {
        return Err(-libc::EINVAL);
    }
    let p = arg.cast::<sys::io_uring_probe>();
    // SAFETY: inside the buffer just checked; writes of plain integers.
    unsafe {
        (*p).last_op = (op::OP_COUNT - 1) as u8;
        (*p).ops_len = nr as u8;
        let ops = arg
            .add(size_of::<sys::io_uring_probe>())
            .cast::<sys::io_uring_probe_op>();
        for i in 0..nr {
            let o = &mut *ops.add(i);
            o.op = i as u8;
            if op::supported(i as u8) {
                o.flags = sys::IO_URING_OP_SUPPORTED;
            }
        }
    }
    Ok(0)
}

/// Fills a new table from `fds` (`-1` leaves a slot empty).
unsafe fn fill_files(e: &Engine, fds: *const i32, nr: u32) -> Res {
    let mut t = e.files.write().expect("file table");
    if t.registered {
        return Err(-libc::EBUSY);
    }
    if nr == 0 {
        return Err(-libc::EINVAL);
    }
    if nr > MAX_FIXED_FILES || nr as u64 > nofile_limit() {
        return Err(-libc::EMFILE);
    }
    t.register(nr);
    if !fds.is_null() {
        for i in 0..nr {
            // SAFETY: the caller's `nr` fds.
            let fd = unsafe { fds.add(i as usize).read_unaligned() };
            if fd == -1 || fd == sys::IORING_REGISTER_FILES_SKIP {
                continue;
            }
            if let Err(err) = t.set(i, fd) {
                t.unregister();
                return Err(err);
            }
        }
    }
    Ok(0)
}

unsafe fn register_files(e: &Engine, fds: *const i32, nr: u32) -> Res {
    if fds.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's contract.
    unsafe { fill_files(e, fds, nr) }
}

unsafe fn register_files2(e: &Engine, r: *const sys::io_uring_rsrc_register, size: u32) -> Res {
    // SAFETY: the caller's contract (size checked first).
    let r = unsafe { read_arg(r, size)? };
    check_rsrc_register(&r)?;
    let fds = if r.flags & sys::IORING_RSRC_REGISTER_SPARSE != 0 {
        std::ptr::null()
    } else if r.data == 0 {
        return Err(-libc::EFAULT);
    } else {
        r.data as *const i32
    };
    // SAFETY: the caller's contract for `data`.
    unsafe { fill_files(e, fds, r.nr) }
}

fn check_rsrc_register(r: &sys::io_uring_rsrc_register) -> Result<(), i32> {
    if r.resv2 != 0 || r.flags & !sys::IORING_RSRC_REGISTER_SPARSE != 0 {
        return Err(-libc::EINVAL);
    }
    if r.flags & sys::IORING_RSRC_REGISTER_SPARSE != 0 && r.data != 0 {
        return Err(-libc::EINVAL);
    }
    if r.tags != 0 {
        // Resource tags (IORING_FEAT_RSRC_TAGS) are not honoured by the engine.
        return Err(-libc::EINVAL);
    }
    Ok(())
}

unsafe fn unregister_files(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    let mut t = e.files.write().expect("file table");
    if !t.registered {
        return Err(-libc::ENXIO);
    }
    t.unregister();
    Ok(0)
}

/// Updates `nr` slots from `offset` with `fds`; returns how many were updated.
unsafe fn update_files(e: &Engine, offset: u32, fds: *const i32, nr: u32) -> Res {
    let mut t = e.files.write().expect("file table");
    if !t.registered {
        return Err(-libc::ENXIO);
    }
    if offset.checked_add(nr).is_none_or(|end| end > t.len()) {
        return Err(-libc::EINVAL);
    }
    if fds.is_null() {
        return Err(-libc::EFAULT);
    }
    let mut done = 0;
    for i in 0..nr {
        // SAFETY: the caller's `nr` fds.
        let fd = unsafe { fds.add(i as usize).read_unaligned() };
        if fd == sys::IORING_REGISTER_FILES_SKIP {
            done += 1;
            continue;
        }
        if let Err(err) = t.set(offset + i, fd) {
            return if done > 0 { Ok(done) } else { Err(err) };
        }
        done += 1;
    }
    Ok(done)
}

unsafe fn files_update(e: &Engine, up: *const sys::io_uring_files_update, nr: u32) -> Res {
    if up.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's contract.
    let up = unsafe { up.read_unaligned() };
    if up.resv != 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: the caller's contract for `fds`.
    unsafe { update_files(e, up.offset, up.fds as *const i32, nr) }
}

unsafe fn files_update2(e: &Engine, up: *const sys::io_uring_rsrc_update2, size: u32) -> Res {
    // SAFETY: the caller's contract.
    let up = unsafe { read_arg(up, size)? };
    if up.resv != 0 || up.resv2 != 0 || up.tags != 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: the caller's contract for `data`.
    unsafe { update_files(e, up.offset, up.data as *const i32, up.nr) }
}

/// Fills a new buffer table from `iovs` (null: all empty).
unsafe fn fill_buffers(e: &Engine, iovs: *const libc::iovec, nr: u32) -> Res {
    let mut t = e.bufs.write().expect("buffer table");
    if t.registered {
        return Err(-libc::EBUSY);
    }
    if nr == 0 || nr > MAX_REG_BUFFERS {
        return Err(-libc::EINVAL);
    }
    let mut slots = Vec::with_capacity(nr as usize);
    for i in 0..nr {
        if iovs.is_null() {
            slots.push(None);
            continue;
        }
        // SAFETY: the caller's `nr` iovecs.
        let v = unsafe { iovs.add(i as usize).read_unaligned() };
        slots.push(check_iov(&v)?);
    }
    t.slots = slots;
    t.registered = true;
    Ok(0)
}

/// The kernel's `io_buffer_validate`: null with length 0 is an empty slot; otherwise
/// non-null, at most 1 GiB.
fn check_iov(v: &libc::iovec) -> Result<Option<RegBuf>, i32> {
    if v.iov_base.is_null() {
        return if v.iov_len == 0 {
            Ok(None)
        } else {
            Err(-libc::EFAULT)
        };
    }
    if v.iov_len == 0 || v.iov_len as u64 > MAX_BUF_LEN {
        return Err(-libc::EFAULT);
    }
    Ok(Some(RegBuf {
        addr: v.iov_base as u64,
        len: v.iov_len as u64,
    }))
}

unsafe fn register_buffers(e: &Engine, iovs: *const libc::iovec, nr: u32) -> Res {
    if iovs.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's contract.
    unsafe { fill_buffers(e, iovs, nr) }
}

unsafe fn register_buffers2(e: &Engine, r: *const sys::io_uring_rsrc_register, size: u32) -> Res {
    // SAFETY: the caller's contract.
    let r = unsafe { read_arg(r, size)? };
    check_rsrc_register(&r)?;
    let iovs = if r.flags & sys::IORING_RSRC_REGISTER_SPARSE != 0 {
        std::ptr::null()
    } else if r.data == 0 {
        return Err(-libc::EFAULT);
    } else {
        r.data as *const libc::iovec
    };
    // SAFETY: the caller's contract for `data`.
    unsafe { fill_buffers(e, iovs, r.nr) }
}

unsafe fn unregister_buffers(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    let mut t = e.bufs.write().expect("buffer table");
    if !t.registered {
        return Err(-libc::ENXIO);
    }
    *t = Default::default();
    Ok(0)
}

unsafe fn buffers_update(e: &Engine, up: *const sys::io_uring_rsrc_update2, size: u32) -> Res {
    // SAFETY: the caller's contract.
    let up = unsafe { read_arg(up, size)? };
    if up.resv != 0 || up.resv2 != 0 || up.tags != 0 {
        return Err(-libc::EINVAL);
    }
    let mut t = e.bufs.write().expect("buffer table");
    if !t.registered {
        return Err(-libc::ENXIO);
    }
    if up
        .offset
        .checked_add(up.nr)
        .is_none_or(|end| end as usize > t.slots.len())
    {
        return Err(-libc::EINVAL);
    }
    if up.data == 0 {
        return Err(-libc::EFAULT);
    }
    let iovs = up.data as *const libc::iovec;
    let mut done = 0;
    for i in 0..up.nr {
        // SAFETY: the caller's `nr` iovecs.
        let v = unsafe { iovs.add(i as usize).read_unaligned() };
        match check_iov(&v) {
            Ok(b) => t.slots[(up.offset + i) as usize] = b,
            Err(err) => return if done > 0 { Ok(done) } else { Err(err) },
        }
        done += 1;
    }
    Ok(done)
}

unsafe fn register_eventfd(e: &Engine, fd: *const i32, nr: u32, async_only: bool) -> Res {
    if nr != 1 {
        return Err(-libc::EINVAL);
    }
    if fd.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's one int.
    let fd = unsafe { fd.read_unaligned() };
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|_| -libc::EBADF)?;
    if link.as_os_str() != "anon_inode:[eventfd]" {
        return Err(-libc::EINVAL);
    }
    let owned: OwnedFd = rsrc::dup(fd)?;
    e.set_eventfd(Some((owned, async_only))).map(|()| 0)
}

unsafe fn unregister_eventfd(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    e.set_eventfd(None).map(|()| 0)
}

unsafe fn enable_rings(e: &Arc<Engine>, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    if e.enabled.load(Ordering::Acquire) {
        return Err(-libc::EBADFD);
    }
    if e.is(sys::IORING_SETUP_SINGLE_ISSUER) {
        *e.issuer.lock().expect("issuer") = Some(std::thread::current().id());
    }
    if let Some(s) = &e.sqpoll {
        s.start(e)
            .map_err(|err| -err.raw_os_error().unwrap_or(libc::ENOMEM))?;
    }
    e.enabled.store(true, Ordering::Release);
    Ok(0)
}

unsafe fn iowq_max_workers(e: &Engine, arg: *mut u32, nr: u32) -> Res {
    if nr != 2 {
        return Err(-libc::EINVAL);
    }
    if arg.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's two u32s, read and written back.
    unsafe {
        let new = [
            arg.read_unaligned() as usize,
            arg.add(1).read_unaligned() as usize,
        ];
        let old = e.wq.set_max(new);
        arg.write_unaligned(old[0].min(u32::MAX as usize) as u32);
        arg.add(1)
            .write_unaligned(old[1].min(u32::MAX as usize) as u32);
    }
    Ok(0)
}

/// Registered ring fds: an engine ring is entered through its handle, never through
/// an fd lookup, so the index is only bookkeeping; it is handed out as the kernel
/// does (up to 16 per thread), so code that registers keeps working.
const RING_FD_SLOTS: u32 = 16;

thread_local! {
    static RING_FDS: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

unsafe fn register_ring_fds(ups: *mut sys::io_uring_rsrc_update, nr: u32) -> Res {
    if nr > RING_FD_SLOTS {
        return Err(-libc::EINVAL);
    }
    if ups.is_null() {
        return Err(-libc::EFAULT);
    }
    let mut done = 0;
    for i in 0..nr {
        // SAFETY: the caller's `nr` updates, read and written back.
        let up = unsafe { &mut *ups.add(i as usize) };
        if up.resv != 0 {
            return if done > 0 {
                Ok(done)
            } else {
                Err(-libc::EINVAL)
            };
        }
        let used = RING_FDS.with(|c| c.get());
        let slot = if up.offset == u32::MAX {
            match (0..RING_FD_SLOTS).find(|s| used & (1 << s) == 0) {
                Some(s) => s,
                None => {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(-libc::EBUSY)
                    };
                }
            }
        } else if up.offset < RING_FD_SLOTS {
            up.offset
        } else {
            return if done > 0 {
                Ok(done)
            } else {
                Err(-libc::EINVAL)
            };
        };
        RING_FDS.with(|c| c.set(used | 1 << slot));
        up.offset = slot;
        done += 1;
    }
    Ok(done)
}

unsafe fn unregister_ring_fds(ups: *const sys::io_uring_rsrc_update, nr: u32) -> Res {
    if nr > RING_FD_SLOTS {
        return Err(-libc::EINVAL);
    }
    if ups.is_null() {
        return Err(-libc::EFAULT);
    }
    let mut done = 0;
    for i in 0..nr {
        // SAFETY: the caller's `nr` updates.
        let up = unsafe { ups.add(i as usize).read_unaligned() };
        if up.resv != 0 || up.data != 0 || up.offset >= RING_FD_SLOTS {
            return if done > 0 {
                Ok(done)
            } else {
                Err(-libc::EINVAL)
            };
        }
        RING_FDS.with(|c| c.set(c.get() & !(1 << up.offset)));
        done += 1;
    }
    Ok(done)
}

/// Reads a sized argument, checking `size` is exactly its size (`-EINVAL`).
unsafe fn read_arg<T: Copy>(p: *const T, size: u32) -> Result<T, i32> {
    if size as usize != size_of::<T>() {
        return Err(-libc::EINVAL);
    }
    if p.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's contract: `p` points to a T.
    Ok(unsafe { p.read_unaligned() })
}

/// `RLIMIT_NOFILE`'s soft limit.
fn nofile_limit() -> u64 {
    // SAFETY: getrlimit writes the struct or fails.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur
        } else {
            u64::MAX
        }
    }
}
