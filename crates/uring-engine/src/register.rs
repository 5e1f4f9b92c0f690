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

type Res = Result<u32, i32>;

/// A register op's handler: `arg` and `nr` as `io_uring_register(2)` received them.
type RegFn = unsafe fn(&Arc<Engine>, *const c_void, u32) -> Res;

/// How the engine answers one register op: the kernel's `__io_uring_register` switch,
/// as a table.
#[derive(Clone, Copy)]
pub(crate) enum RegDef {
    /// Done on a ring.
    Ring(RegFn),
    /// Needs no ring: `io_uring_register(2)` with fd -1 ([`crate::register_blind`]);
    /// on a ring it is `-EINVAL`, as in the kernel.
    Blind,
    /// Refused with `-EINVAL`, as a kernel without the op refuses it, and why.
    Unsupported(&'static str),
}

/// Number of register ops of the 6.18 uapi.
const REG_COUNT: usize = sys::IORING_REGISTER_LAST as usize;

/// A [`RegDef::Ring`] entry over `$call`, which may use `$e`, `$arg` and `$nr`.
macro_rules! on_ring {
    (|$e:ident, $arg:ident, $nr:ident| $call:expr) => {
        RegDef::Ring(|$e: &Arc<Engine>, $arg: *const c_void, $nr: u32| {
            // SAFETY: `dispatch`'s contract for `arg` and `nr`, passed on to the op.
            unsafe { $call }
        })
    };
}

/// Every register op, indexed by its number; that none is missing is checked when the
/// crate is built.
const REGISTER_OPS: [RegDef; REG_COUNT] = reg_table();

/// Puts `def` in slot `op`.
const fn set(t: &mut [Option<RegDef>; REG_COUNT], op: u32, def: RegDef) {
    assert!(t[op as usize].is_none(), "two entries for one register op");
    t[op as usize] = Some(def);
}

const fn reg_table() -> [RegDef; REG_COUNT] {
    /// Why NAPI is refused (a kernel built without `CONFIG_NET_RX_BUSY_POLL` answers
    /// `-EINVAL` too).
    const NAPI: &str = "NAPI busy polling polls NIC queues, which user space cannot reach";
    let mut t: [Option<RegDef>; REG_COUNT] = [None; REG_COUNT];
    set(
        &mut t,
        sys::IORING_REGISTER_BUFFERS,
        on_ring!(|e, arg, nr| register_buffers(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_BUFFERS,
        on_ring!(|e, arg, nr| unregister_buffers(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_FILES,
        on_ring!(|e, arg, nr| register_files(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_FILES,
        on_ring!(|e, arg, nr| unregister_files(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_EVENTFD,
        on_ring!(|e, arg, nr| register_eventfd(e, arg.cast(), nr, false)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_EVENTFD,
        on_ring!(|e, arg, nr| unregister_eventfd(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_FILES_UPDATE,
        on_ring!(|e, arg, nr| files_update(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_EVENTFD_ASYNC,
        on_ring!(|e, arg, nr| register_eventfd(e, arg.cast(), nr, true)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_PROBE,
        on_ring!(|_e, arg, nr| probe(arg as *mut u8, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_PERSONALITY,
        on_ring!(|e, arg, nr| register_personality(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_PERSONALITY,
        on_ring!(|e, arg, nr| unregister_personality(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_RESTRICTIONS,
        on_ring!(|e, arg, nr| register_restrictions(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_ENABLE_RINGS,
        on_ring!(|e, arg, nr| enable_rings(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_FILES2,
        on_ring!(|e, arg, nr| register_files2(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_FILES_UPDATE2,
        on_ring!(|e, arg, nr| files_update2(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_BUFFERS2,
        on_ring!(|e, arg, nr| register_buffers2(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_BUFFERS_UPDATE,
        on_ring!(|e, arg, nr| buffers_update(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_IOWQ_AFF,
        on_ring!(|e, arg, nr| register_iowq_aff(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_IOWQ_AFF,
        on_ring!(|e, arg, nr| unregister_iowq_aff(e, arg, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_IOWQ_MAX_WORKERS,
        on_ring!(|e, arg, nr| iowq_max_workers(e, arg as *mut u32, nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_RING_FDS,
        on_ring!(|_e, arg, nr| register_ring_fds(arg as *mut sys::io_uring_rsrc_update, nr)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_RING_FDS,
        on_ring!(|_e, arg, nr| unregister_ring_fds(arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_PBUF_RING,
        on_ring!(|e, arg, nr| register_pbuf_ring(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_UNREGISTER_PBUF_RING,
        on_ring!(|e, arg, nr| unregister_pbuf_ring(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_SYNC_CANCEL,
        on_ring!(|e, arg, nr| op::cancel::sync_cancel(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_FILE_ALLOC_RANGE,
        on_ring!(|e, arg, nr| file_alloc_range(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_PBUF_STATUS,
        on_ring!(|e, arg, nr| pbuf_status(e, arg as *mut _, nr)),
    );
    set(&mut t, sys::IORING_REGISTER_NAPI, RegDef::Unsupported(NAPI));
    set(
        &mut t,
        sys::IORING_UNREGISTER_NAPI,
        RegDef::Unsupported(NAPI),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_CLOCK,
        on_ring!(|e, arg, nr| register_clock(e, arg.cast(), nr)),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_CLONE_BUFFERS,
        on_ring!(|e, arg, nr| clone_buffers(e, arg.cast(), nr)),
    );
    set(&mut t, sys::IORING_REGISTER_SEND_MSG_RING, RegDef::Blind);
    set(
        &mut t,
        sys::IORING_REGISTER_ZCRX_IFQ,
        RegDef::Unsupported("zero-copy receive needs a NIC queue bound to the ring"),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_RESIZE_RINGS,
        RegDef::Unsupported(
            "the application's views of the old rings cannot be moved safely under it",
        ),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_MEM_REGION,
        RegDef::Unsupported("memory regions (registered wait arguments) are the kernel's"),
    );
    set(
        &mut t,
        sys::IORING_REGISTER_QUERY,
        on_ring!(|_e, arg, nr| query(arg as *mut _, nr)),
    );
    let mut out = [RegDef::Blind; REG_COUNT];
    let mut i = 0;
    while i < REG_COUNT {
        out[i] = match t[i] {
            Some(d) => d,
            None => panic!("a register op has no entry in the register table"),
        };
        i += 1;
    }
    out
}

/// Whether the engine honours register op `opcode` (on a ring, or without one for
/// [`RegDef::Blind`]); if not, why.
pub(crate) fn support(opcode: u32) -> Result<(), &'static str> {
    match REGISTER_OPS.get(opcode as usize) {
        None => Err("not a register op of the 6.18 uapi"),
        Some(RegDef::Unsupported(why)) => Err(why),
        Some(_) => Ok(()),
    }
}

const fn ring_op_count() -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < REG_COUNT {
        if let RegDef::Ring(_) = REGISTER_OPS[i] {
            n += 1;
        }
        i += 1;
    }
    n
}

const RING_OPS: [u32; ring_op_count()] = {
    let mut out = [0; ring_op_count()];
    let (mut i, mut n) = (0, 0);
    while i < REG_COUNT {
        if let RegDef::Ring(_) = REGISTER_OPS[i] {
            out[n] = i as u32;
            n += 1;
        }
        i += 1;
    }
    out
};

/// The register ops an engine ring honours, in increasing order (what
/// `uring probe --backend engine` reports): those of the register table with a
/// handler.
pub const SUPPORTED: &[u32] = &RING_OPS;

/// Dispatches one register call.
///
/// # Safety
/// `arg` points to what `opcode` expects, `nr_args` items of it (the caller's contract
/// for `io_uring_register(2)`); it is only read or written within those bounds.
pub(crate) unsafe fn register(e: &Arc<Engine>, opcode: u32, arg: *const c_void, nr: u32) -> Res {
    let opcode = opcode & !sys::IORING_REGISTER_USE_REGISTERED_RING;
    if e.forked() {
        // A child's copy of an ancestor's ring (see `Engine::enter_forked`).
        return Err(-libc::EOPNOTSUPP);
    }
    // SAFETY: the caller's contract, passed on.
    let res = unsafe { dispatch(e, opcode, arg, nr) };
    // Tags of files and buffers the call took out of their tables.
    e.post_tags();
    res
}

/// The register op itself.
///
/// # Safety
/// As [`register`].
unsafe fn dispatch(e: &Arc<Engine>, opcode: u32, arg: *const c_void, nr: u32) -> Res {
    if !e.reg.allows_register(opcode) {
        return Err(-libc::EACCES);
    }
    match REGISTER_OPS.get(opcode as usize) {
        // SAFETY: the caller's contract for `arg`/`nr`, passed on.
        Some(RegDef::Ring(f)) => unsafe { f(e, arg, nr) },
        _ => Err(-libc::EINVAL),
    }
}

/// `IORING_REGISTER_PROBE`: which opcodes the engine honours.
unsafe fn probe(arg: *mut u8, nr: u32) -> Res {
    if arg.is_null() {
        // What 6.18 answers for a null probe (observed; not EFAULT).
        return Err(-libc::EINVAL);
    }
    let nr = nr.min(op::OP_COUNT as u32) as usize;
    let size = size_of::<sys::io_uring_probe>() + nr * size_of::<sys::io_uring_probe_op>();
    // Read, checked and written back as io_probe does (memdup_user, copy_to_user):
    // an unreadable or unwritable buffer is -EFAULT.
    let mut bytes = vec![0u8; size];
    // SAFETY: `bytes` has room for `size` bytes.
    unsafe { crate::user::copy_from_user(bytes.as_mut_ptr(), arg as u64, size) }?;
    if bytes.iter().any(|&b| b != 0) {
        return Err(-libc::EINVAL);
    }
    let head = size_of::<sys::io_uring_probe>();
    bytes[std::mem::offset_of!(sys::io_uring_probe, last_op)] = (op::OP_COUNT - 1) as u8;
    bytes[std::mem::offset_of!(sys::io_uring_probe, ops_len)] = nr as u8;
    let entry = size_of::<sys::io_uring_probe_op>();
    for i in 0..nr {
        let o = head + i * entry;
        bytes[o + std::mem::offset_of!(sys::io_uring_probe_op, op)] = i as u8;
        if op::supported(i as u8) {
            let f = o + std::mem::offset_of!(sys::io_uring_probe_op, flags);
            bytes[f..f + 2].copy_from_slice(&sys::IO_URING_OP_SUPPORTED.to_ne_bytes()[..2]);
        }
    }
    // SAFETY: `bytes` is `size` readable bytes.
    unsafe { crate::user::copy_to_user(arg as u64, bytes.as_ptr(), size) }?;
    Ok(0)
}

/// Reads tag `i` of a tag array (null: no tags), as `copy_from_user` reads
/// (`-EFAULT` for an unreadable one).
///
/// # Safety
/// None: `tags` may be any address.
unsafe fn tag_at(tags: u64, i: u32) -> Result<u64, i32> {
    if tags == 0 {
        return Ok(0);
    }
    // SAFETY: a u64: any bytes are a value.
    unsafe { copy_arg((tags as *const u64).wrapping_add(i as usize)) }
}

/// Fills a new table from `fds` (`-1` leaves a slot empty), tagged by `tags` (an
/// address of `nr` u64s, or 0).
unsafe fn fill_files(e: &Engine, fds: *const i32, nr: u32, tags: u64) -> Res {
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
            // SAFETY: an int, and a u64: any bytes are values.
            let read = unsafe { copy_arg(fds.wrapping_add(i as usize)) }
                .and_then(|fd| Ok((fd, unsafe { tag_at(tags, i) }?)));
            let (fd, tag) = match read {
                Ok(v) => v,
                Err(err) => {
                    // An unreadable fd or tag fails it whole (io_sqe_files_register).
                    t.clear_tags();
                    t.unregister();
                    return Err(err);
                }
            };
            if fd == -1 || fd == sys::IORING_REGISTER_FILES_SKIP {
                if tag != 0 {
                    // A tag needs a file to tag (io_sqe_files_register).
                    // A failed registration posts no tags (io_clear_table_tags).
                    t.clear_tags();
                    t.unregister();
                    return Err(-libc::EINVAL);
                }
                continue;
            }
            if let Err(err) = t.set(i, fd) {
                t.clear_tags();
                t.unregister();
                return Err(err);
            }
            t.set_tag(i, tag);
        }
    }
    Ok(0)
}

unsafe fn register_files(e: &Engine, fds: *const i32, nr: u32) -> Res {
    if fds.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's contract.
    unsafe { fill_files(e, fds, nr, 0) }
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
    // SAFETY: the caller's contract for `data` and `tags`.
    unsafe { fill_files(e, fds, r.nr, r.tags) }
}

fn check_rsrc_register(r: &sys::io_uring_rsrc_register) -> Result<(), i32> {
    if r.resv2 != 0 || r.flags & !sys::IORING_RSRC_REGISTER_SPARSE != 0 {
        return Err(-libc::EINVAL);
    }
    if r.flags & sys::IORING_RSRC_REGISTER_SPARSE != 0 && r.data != 0 {
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

/// Updates `nr` slots from `offset` with `fds` and `tags` (an address of `nr` u64s, or
/// 0); returns how many were updated.
unsafe fn update_files(e: &Engine, offset: u32, fds: *const i32, nr: u32, tags: u64) -> Res {
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
        // SAFETY: an int, and a u64: any bytes are values.
        let read = unsafe { copy_arg(fds.wrapping_add(i as usize)) }
            .and_then(|fd| Ok((fd, unsafe { tag_at(tags, i) }?)));
        let (fd, tag) = match read {
            Ok(v) => v,
            // As __io_sqe_files_update: what was done stands.
            Err(err) => return if done > 0 { Ok(done) } else { Err(err) },
        };
        if (fd == sys::IORING_REGISTER_FILES_SKIP || fd == -1) && tag != 0 {
            return if done > 0 {
                Ok(done)
            } else {
                Err(-libc::EINVAL)
            };
        }
        if fd == sys::IORING_REGISTER_FILES_SKIP {
            done += 1;
            continue;
        }
        if let Err(err) = t.set(offset + i, fd) {
            return if done > 0 { Ok(done) } else { Err(err) };
        }
        if fd != -1 {
            t.set_tag(offset + i, tag);
        }
        done += 1;
    }
    Ok(done)
}

unsafe fn files_update(e: &Engine, up: *const sys::io_uring_files_update, nr: u32) -> Res {
    if up.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let up = unsafe { copy_arg(up) }?;
    if up.resv != 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: the caller's contract for `fds`.
    unsafe { update_files(e, up.offset, up.fds as *const i32, nr, 0) }
}

unsafe fn files_update2(e: &Engine, up: *const sys::io_uring_rsrc_update2, size: u32) -> Res {
    // SAFETY: the caller's contract.
    let up = unsafe { read_arg(up, size)? };
    if up.resv != 0 || up.resv2 != 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: the caller's contract for `data` and `tags`.
    unsafe { update_files(e, up.offset, up.data as *const i32, up.nr, up.tags) }
}

/// Fills a new buffer table from `iovs` (null: all empty), tagged by `tags` (an
/// address of `nr` u64s, or 0).
unsafe fn fill_buffers(e: &Engine, iovs: *const libc::iovec, nr: u32, tags: u64) -> Res {
    let mut t = e.bufs.write().expect("buffer table");
    if t.registered {
        return Err(-libc::EBUSY);
    }
    if nr == 0 || nr > MAX_REG_BUFFERS {
        return Err(-libc::EINVAL);
    }
    let mut slots = Vec::with_capacity(nr as usize);
    let mut slot_tags = Vec::with_capacity(nr as usize);
    for i in 0..nr {
        // SAFETY: a u64: any bytes are a value.
        let tag = unsafe { tag_at(tags, i) }?;
        let buf = if iovs.is_null() {
            None
        } else {
            // SAFETY: an iovec: any bytes are a value (check_iov checks them).
            let v = unsafe { copy_arg(iovs.wrapping_add(i as usize)) }?;
            check_iov(&v)?
        };
        if buf.is_none() && tag != 0 {
            // A tag needs a buffer to tag.
            return Err(-libc::EINVAL);
        }
        slots.push(buf);
        slot_tags.push(tag);
    }
    t.slots = slots;
    t.tags = slot_tags;
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
    unsafe { fill_buffers(e, iovs, nr, 0) }
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
    // SAFETY: the caller's contract for `data` and `tags`.
    unsafe { fill_buffers(e, iovs, r.nr, r.tags) }
}

unsafe fn unregister_buffers(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    let mut t = e.bufs.write().expect("buffer table");
    if !t.registered {
        return Err(-libc::ENXIO);
    }
    t.unregister();
    Ok(0)
}

unsafe fn buffers_update(e: &Engine, up: *const sys::io_uring_rsrc_update2, size: u32) -> Res {
    // SAFETY: the caller's contract.
    let up = unsafe { read_arg(up, size)? };
    if up.resv != 0 || up.resv2 != 0 {
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
        // SAFETY: an iovec and a u64: any bytes are values.
        let read = unsafe { copy_arg(iovs.wrapping_add(i as usize)) }
            .and_then(|v| Ok((v, unsafe { tag_at(up.tags, i) }?)));
        let (v, tag) = match read {
            Ok(r) => r,
            // As __io_sqe_buffers_update: what was done stands.
            Err(err) => return if done > 0 { Ok(done) } else { Err(err) },
        };
        match check_iov(&v) {
            Ok(None) if tag != 0 => {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(-libc::EINVAL)
                };
            }
            Ok(b) => t.put((up.offset + i) as usize, b, tag),
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
    // SAFETY: an int: any bytes are a value.
    let fd = unsafe { copy_arg(fd) }?;
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

/// `IORING_REGISTER_PERSONALITY`: the calling thread's credentials, for SQEs to name
/// (`creds.rs`). A deterministic ring runs everything on the application's thread,
/// which cannot take on other credentials and come back: `-EINVAL` there, as a kernel
/// without personalities answers.
unsafe fn register_personality(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 || e.det.is_some() {
        return Err(-libc::EINVAL);
    }
    e.personalities.register().map(u32::from)
}

/// `IORING_UNREGISTER_PERSONALITY`: drops personality `nr` (`-EINVAL` if none).
unsafe fn unregister_personality(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || e.det.is_some() {
        return Err(-libc::EINVAL);
    }
    e.personalities.unregister(nr).map(|()| 0)
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
    e.reg.arm_restrictions();
    e.enabled.store(true, Ordering::Release);
    Ok(0)
}

/// Reads the one `T` at the application's `p` as the kernel's `copy_from_user` does:
/// `-EFAULT` for an address the process cannot read, not a crash (`user.rs`).
///
/// # Safety
/// Any bytes must be a valid `T` (a plain C struct).
unsafe fn copy_arg<T>(p: *const T) -> Result<T, i32> {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `v` has room for a T; the copy fills every byte or fails.
    unsafe { crate::user::copy_from_user(v.as_mut_ptr().cast(), p as u64, size_of::<T>()) }?;
    // SAFETY: every byte was copied in, and any bytes are a T (the caller's promise).
    Ok(unsafe { v.assume_init() })
}

/// Writes `v` to the application's `p` as the kernel's `copy_to_user` does: `-EFAULT`
/// for an address the process cannot write.
fn write_arg<T>(p: *mut T, v: &T) -> Result<(), i32> {
    // SAFETY: `v` is `size_of::<T>()` readable bytes.
    unsafe { crate::user::copy_to_user(p as u64, (v as *const T).cast(), size_of::<T>()) }
}

unsafe fn iowq_max_workers(e: &Engine, arg: *mut u32, nr: u32) -> Res {
    if nr != 2 {
        return Err(-libc::EINVAL);
    }
    if arg.is_null() {
        return Err(-libc::EFAULT);
    }
    let arg = arg.cast::<[u32; 2]>();
    // SAFETY: two u32s: any bytes are a value.
    let new = unsafe { copy_arg(arg) }?.map(|n| n as usize);
    if new.iter().any(|&n| n > i32::MAX as usize) {
        return Err(-libc::EINVAL);
    }
    let old = e.wq.set_max(new);
    write_arg(arg, &old.map(|n| n.min(u32::MAX as usize) as u32))?;
    Ok(0)
}

/// Registered ring fds: an engine ring is entered through its handle, never through
/// an fd lookup, so the index is only bookkeeping; it is handed out as the kernel
/// does (up to 16 per thread), so code that registers keeps working.
const RING_FD_SLOTS: u32 = 16;

thread_local! {
    static RING_FDS: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
    /// The fd each slot was registered with (0: the registering ring itself).
    static RING_FD_OF: std::cell::RefCell<[i32; RING_FD_SLOTS as usize]> =
        const { std::cell::RefCell::new([0; RING_FD_SLOTS as usize]) };
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
        let at = ups.wrapping_add(i as usize);
        // SAFETY: a plain C struct: any bytes are a value; written back below.
        let mut up = match unsafe { copy_arg(at) } {
            Ok(up) => up,
            // As io_ringfd_register: what was done stands.
            Err(err) => return if done > 0 { Ok(done) } else { Err(err) },
        };
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
        up.offset = slot;
        if let Err(err) = write_arg(at, &up) {
            // The application cannot learn the slot: it is not taken.
            return if done > 0 { Ok(done) } else { Err(err) };
        }
        RING_FDS.with(|c| c.set(used | 1 << slot));
        RING_FD_OF.with(|c| c.borrow_mut()[slot as usize] = up.data as i32);
        done += 1;
    }
    Ok(done)
}

pub(crate) unsafe fn unregister_ring_fds(ups: *const sys::io_uring_rsrc_update, nr: u32) -> Res {
    if nr > RING_FD_SLOTS {
        return Err(-libc::EINVAL);
    }
    if ups.is_null() {
        return Err(-libc::EFAULT);
    }
    let mut done = 0;
    for i in 0..nr {
        // SAFETY: a plain C struct: any bytes are a value.
        let up = match unsafe { copy_arg(ups.wrapping_add(i as usize)) } {
            Ok(up) => up,
            Err(err) => return if done > 0 { Ok(done) } else { Err(err) },
        };
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

/// Reads a sized argument, checking `size` is exactly its size (`-EINVAL`), as
/// [`copy_arg`] reads.
///
/// # Safety
/// As [`copy_arg`].
unsafe fn read_arg<T: Copy>(p: *const T, size: u32) -> Result<T, i32> {
    if size as usize != size_of::<T>() {
        return Err(-libc::EINVAL);
    }
    if p.is_null() {
        return Err(-libc::EFAULT);
    }
    // SAFETY: the caller's contract: any bytes are a T (the register structs are plain).
    unsafe { copy_arg(p) }
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

// ---- Provided-buffer rings ----

unsafe fn register_pbuf_ring(e: &Engine, reg: *const sys::io_uring_buf_reg, nr: u32) -> Res {
    if reg.is_null() || nr != 1 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let reg = unsafe { copy_arg(reg) }?;
    e.pbufs.register_ring(&reg).map(|()| 0)
}

unsafe fn unregister_pbuf_ring(e: &Engine, reg: *const sys::io_uring_buf_reg, nr: u32) -> Res {
    if reg.is_null() || nr != 1 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let reg = unsafe { copy_arg(reg) }?;
    e.pbufs.unregister_ring(&reg).map(|()| 0)
}

unsafe fn pbuf_status(e: &Engine, st: *mut sys::io_uring_buf_status, nr: u32) -> Res {
    if st.is_null() || nr != 1 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let mut s = unsafe { copy_arg(st) }?;
    if s.resv.iter().any(|&r| r != 0) {
        return Err(-libc::EINVAL);
    }
    s.head = e.pbufs.status(s.buf_group)? as u32;
    write_arg(st, &s)?;
    Ok(0)
}

// ---- Files ----

/// `io_register_file_alloc_range`.
unsafe fn file_alloc_range(e: &Engine, r: *const sys::io_uring_file_index_range, nr: u32) -> Res {
    if r.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let r = unsafe { copy_arg(r) }?;
    let end = r.off.checked_add(r.len).ok_or(-libc::EOVERFLOW)?;
    let mut t = e.files.write().expect("file table");
    if r.resv != 0 || end > t.len() {
        return Err(-libc::EINVAL);
    }
    t.set_alloc_range(r.off, r.len);
    Ok(0)
}

// ---- io-wq ----

/// `io_register_iowq_aff`: a CPU mask of `len` bytes for the workers. The kernel
/// refuses a mask with CPUs outside the task's allowed set.
unsafe fn register_iowq_aff(e: &Engine, mask: *const u8, len: u32) -> Res {
    if mask.is_null() || len == 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: all-zero is a valid cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let n = (len as usize).min(size_of::<libc::cpu_set_t>());
    // SAFETY: the caller's `len` bytes; at most the size of `set` copied into it.
    unsafe { std::ptr::copy_nonoverlapping(mask, (&raw mut set).cast::<u8>(), n) };
    // SAFETY: all-zero is a valid cpu_set_t, filled by sched_getaffinity.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a writable cpu_set_t of the size given.
    unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) };
    for cpu in 0..libc::CPU_SETSIZE as usize {
        // SAFETY: CPU_ISSET reads the sets, `cpu` < CPU_SETSIZE.
        if unsafe { libc::CPU_ISSET(cpu, &set) && !libc::CPU_ISSET(cpu, &allowed) } {
            // A CPU past the last possible one is ignored by the kernel.
            if cpu < possible_cpus() {
                return Err(-libc::EINVAL);
            }
        }
    }
    e.wq.set_affinity(Some(set));
    Ok(0)
}

unsafe fn unregister_iowq_aff(e: &Engine, arg: *const c_void, nr: u32) -> Res {
    if !arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    e.wq.set_affinity(None);
    Ok(0)
}

/// Number of possible CPUs (`nr_cpu_ids`), from `/sys/devices/system/cpu/possible`.
fn possible_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            let last = s.trim().rsplit([',', '-']).next()?.to_string();
            last.parse::<usize>().ok().map(|n| n + 1)
        })
        .unwrap_or(libc::CPU_SETSIZE as usize)
}

// ---- Restrictions ----

/// Most entries one `IORING_REGISTER_RESTRICTIONS` takes.
const MAX_RESTRICTIONS: u32 =
    sys::IORING_RESTRICTION_LAST as u32 + sys::IORING_REGISTER_LAST + sys::IORING_OP_LAST as u32;

/// What a restricted ring allows (`struct io_restriction`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Restrictions {
    register_op: u64,
    sqe_op: u64,
    flags_allowed: u8,
    flags_required: u8,
}

impl Restrictions {
    /// `io_check_restriction`.
    pub(crate) fn allows_sqe(&self, opcode: u8, flags: u8) -> bool {
        self.sqe_op & (1 << opcode) != 0
            && flags & self.flags_required == self.flags_required
            && flags & !(self.flags_allowed | self.flags_required) == 0
    }
}

const _: () = assert!(sys::IORING_REGISTER_LAST <= 64 && sys::IORING_OP_LAST as u32 <= 64);

/// Registration state beyond the resource tables: restrictions.
#[derive(Default)]
pub(crate) struct RegState {
    restrictions: std::sync::OnceLock<Restrictions>,
    /// Set when the ring is enabled with restrictions registered
    /// (`ctx->restricted`); read after `enabled`'s acquire, set before its release.
    restricted: std::sync::atomic::AtomicBool,
}

impl RegState {
    /// The restrictions in force, on a restricted ring.
    #[inline]
    pub(crate) fn active(&self) -> Option<&Restrictions> {
        if self.restricted.load(Ordering::Relaxed) {
            self.restrictions.get()
        } else {
            None
        }
    }

    fn allows_register(&self, opcode: u32) -> bool {
        match self.active() {
            Some(r) => opcode < 64 && r.register_op & (1 << opcode) != 0,
            None => true,
        }
    }

    fn arm_restrictions(&self) {
        if self.restrictions.get().is_some() {
            self.restricted.store(true, Ordering::Relaxed);
        }
    }
}

/// `io_register_restrictions`: only on a ring still disabled, once.
unsafe fn register_restrictions(e: &Engine, res: *const sys::io_uring_restriction, nr: u32) -> Res {
    if e.enabled.load(Ordering::Acquire) {
        return Err(-libc::EBADFD);
    }
    if e.reg.restrictions.get().is_some() {
        return Err(-libc::EBUSY);
    }
    if res.is_null() || nr > MAX_RESTRICTIONS {
        return Err(-libc::EINVAL);
    }
    // All read first, as memdup_user: an unreadable one is -EFAULT whatever the others.
    let all: Vec<sys::io_uring_restriction> = (0..nr as usize)
        // SAFETY: a plain C struct (a u8 union inside): any bytes are a value.
        .map(|i| unsafe { copy_arg(res.wrapping_add(i)) })
        .collect::<Result<_, _>>()?;
    let mut r = Restrictions::default();
    for x in all {
        // SAFETY: the union's members are all one u8.
        let v = unsafe { x.register_op_or_sqe_op_or_sqe_flags.sqe_op };
        match x.opcode {
            sys::IORING_RESTRICTION_REGISTER_OP if (v as u32) < sys::IORING_REGISTER_LAST => {
                r.register_op |= 1 << v;
            }
            sys::IORING_RESTRICTION_SQE_OP if v < sys::IORING_OP_LAST => r.sqe_op |= 1 << v,
            sys::IORING_RESTRICTION_SQE_FLAGS_ALLOWED => r.flags_allowed = v,
            sys::IORING_RESTRICTION_SQE_FLAGS_REQUIRED => r.flags_required = v,
            _ => return Err(-libc::EINVAL),
        }
    }
    e.reg.restrictions.set(r).map_err(|_| -libc::EBUSY)?;
    Ok(0)
}

// ---- Clone buffers ----

/// `io_register_clone_buffers` between two engine rings (the source named by its fd,
/// or with `IORING_REGISTER_SRC_REGISTERED` by a registered ring index). A kernel
/// ring as the source is `-EOPNOTSUPP`: its buffers are pinned in the kernel.
unsafe fn clone_buffers(e: &Arc<Engine>, arg: *const sys::io_uring_clone_buffers, nr: u32) -> Res {
    if arg.is_null() || nr != 1 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let a = unsafe { copy_arg(arg) }?;
    let replace = a.flags & sys::IORING_REGISTER_DST_REPLACE != 0;
    if a.flags & !(sys::IORING_REGISTER_SRC_REGISTERED | sys::IORING_REGISTER_DST_REPLACE) != 0 {
        return Err(-libc::EINVAL);
    }
    if !replace && e.bufs.read().expect("buffer table").registered {
        return Err(-libc::EBUSY);
    }
    if a.pad.iter().any(|&p| p != 0) {
        return Err(-libc::EINVAL);
    }
    let src_fd = if a.flags & sys::IORING_REGISTER_SRC_REGISTERED != 0 {
        if a.src_fd >= RING_FD_SLOTS {
            return Err(-libc::EINVAL);
        }
        if RING_FDS.with(|c| c.get()) & (1 << a.src_fd) == 0 {
            return Err(-libc::EBADF);
        }
        match RING_FD_OF.with(|c| c.borrow()[a.src_fd as usize]) {
            0 => e.own_fd(),
            fd => fd,
        }
    } else {
        a.src_fd as i32
    };
    let src = match crate::registry::lookup(src_fd) {
        Some(s) => s,
        // SAFETY: F_GETFD only asks whether the descriptor is open.
        None if unsafe { libc::fcntl(src_fd, libc::F_GETFD) } < 0 => return Err(-libc::EBADF),
        None => return Err(-libc::EOPNOTSUPP),
    };
    let src_slots = if Arc::ptr_eq(&src, e) {
        e.bufs.read().expect("buffer table").slots.clone()
    } else {
        src.bufs.read().expect("buffer table").slots.clone()
    };
    let mut t = e.bufs.write().expect("buffer table");
    if a.nr == 0 && (a.dst_off != 0 || a.src_off != 0) {
        return Err(-libc::EINVAL);
    }
    if t.registered && !replace {
        return Err(-libc::EBUSY);
    }
    let nbufs = src_slots.len() as u32;
    let nr = if a.nr == 0 { nbufs } else { a.nr };
    if nr > nbufs || nr > MAX_REG_BUFFERS {
        return Err(-libc::EINVAL);
    }
    let dst_end = nr.checked_add(a.dst_off).ok_or(-libc::EOVERFLOW)?;
    if dst_end > MAX_REG_BUFFERS {
        return Err(-libc::EINVAL);
    }
    if nbufs == 0 {
        return Err(-libc::ENXIO);
    }
    let src_end = nr.checked_add(a.src_off).ok_or(-libc::EOVERFLOW)?;
    if src_end > nbufs {
        return Err(-libc::EOVERFLOW);
    }
    let mut slots = t.slots.clone();
    if slots.len() < dst_end as usize {
        slots.resize(dst_end as usize, None);
    }
    for i in 0..nr {
        slots[(a.dst_off + i) as usize] = src_slots[(a.src_off + i) as usize];
    }
    t.slots = slots;
    t.registered = true;
    Ok(0)
}

// ---- Query ----

/// The `IOSQE_*` flags the engine accepts (its `SQE_VALID_FLAGS`).
const QUERY_SQE_FLAGS: u64 = (sys::IOSQE_FIXED_FILE
    | sys::IOSQE_IO_DRAIN
    | sys::IOSQE_IO_LINK
    | sys::IOSQE_IO_HARDLINK
    | sys::IOSQE_ASYNC
    | sys::IOSQE_BUFFER_SELECT
    | sys::IOSQE_CQE_SKIP_SUCCESS) as u64;
/// The `IORING_ENTER_*` flags the engine accepts.
const QUERY_ENTER_FLAGS: u64 = (sys::IORING_ENTER_GETEVENTS
    | sys::IORING_ENTER_SQ_WAKEUP
    | sys::IORING_ENTER_SQ_WAIT
    | sys::IORING_ENTER_EXT_ARG
    | sys::IORING_ENTER_REGISTERED_RING
    | sys::IORING_ENTER_ABS_TIMER
    | sys::IORING_ENTER_NO_IOWAIT) as u64;
/// Longest chain of queries (`IO_MAX_QUERY_ENTRIES`).
const MAX_QUERY_ENTRIES: u32 = 1000;
/// Largest query result (`IO_MAX_QUERY_SIZE`).
const MAX_QUERY_SIZE: usize = size_of::<sys::io_uring_query_opcode>();

/// `IORING_REGISTER_QUERY` (`io_query`): the engine's own masks, in the kernel's
/// structs, through the same chain of headers.
unsafe fn query(mut hdr_p: *mut sys::io_uring_query_hdr, nr: u32) -> Res {
    if nr != 0 {
        return Err(-libc::EINVAL);
    }
    let mut count = 0;
    while !hdr_p.is_null() {
        // SAFETY: the caller's chain of headers.
        let mut hdr = unsafe { hdr_p.read_unaligned() };
        let usize_ = hdr.size as usize;
        let size = usize_.min(MAX_QUERY_SIZE);
        let mut res_size = 0;
        let mut data = [0u8; MAX_QUERY_SIZE];
        let ret = if hdr.query_op >= sys::__IO_URING_QUERY_MAX {
            -libc::EOPNOTSUPP
        } else if hdr.__resv.iter().any(|&r| r != 0) || hdr.result != 0 || size == 0 {
            -libc::EINVAL
        } else {
            let out = sys::io_uring_query_opcode {
                nr_request_opcodes: op::OP_COUNT as u32,
                nr_register_opcodes: sys::IORING_REGISTER_LAST,
                feature_flags: crate::FEATURES as u64,
                ring_setup_flags: crate::SETUP_FLAGS as u64,
                enter_flags: QUERY_ENTER_FLAGS,
                sqe_flags: QUERY_SQE_FLAGS,
                nr_query_opcodes: sys::__IO_URING_QUERY_MAX,
                __pad: 0,
            };
            // SAFETY: `out` is plain integers of exactly MAX_QUERY_SIZE bytes.
            data = unsafe {
                std::mem::transmute::<sys::io_uring_query_opcode, [u8; MAX_QUERY_SIZE]>(out)
            };
            res_size = MAX_QUERY_SIZE;
            0
        };
        hdr.result = ret;
        let n = usize_.min(res_size);
        hdr.size = n as u32;
        if usize_ > 0 {
            let dst = hdr.query_data as *mut u8;
            if dst.is_null() {
                return Err(-libc::EFAULT);
            }
            // SAFETY: the caller's `size` writable bytes at `query_data`: the result,
            // then zeros (`copy_struct_to_user`).
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), dst, n);
                std::ptr::write_bytes(dst.add(n), 0, usize_ - n);
            }
        }
        // SAFETY: as above, the header written back.
        unsafe { hdr_p.write_unaligned(hdr) };
        hdr_p = hdr.next_entry as *mut sys::io_uring_query_hdr;
        count += 1;
        if count >= MAX_QUERY_ENTRIES {
            return Err(-libc::ERANGE);
        }
    }
    Ok(0)
}

/// `IORING_REGISTER_CLOCK`: the clock of waits in `io_uring_enter`
/// (`CLOCK_MONOTONIC` or `CLOCK_BOOTTIME`; `-EINVAL` otherwise, for reserved fields or
/// an `nr_args`).
unsafe fn register_clock(e: &Engine, arg: *const sys::io_uring_clock_register, nr: u32) -> Res {
    if arg.is_null() || nr != 0 {
        return Err(-libc::EINVAL);
    }
    // SAFETY: a plain C struct: any bytes are a value.
    let reg = unsafe { copy_arg(arg) }?;
    if reg.__resv.iter().any(|&r| r != 0) {
        return Err(-libc::EINVAL);
    }
    e.timers.set_ring_clock(reg.clockid as libc::clockid_t)?;
    Ok(0)
}
