//! Creating, mapping and tearing down rings (liburing's `setup.c`): `io_uring_queue_*`,
//! the probe, the memory-size calculators and ring resizing.
use core::ffi::{c_int, c_uint, c_void};
use core::ptr;

use uring_sys::{self as k, io_uring_params, io_uring_probe, io_uring_probe_op};

use crate::types::*;
use crate::{backend, register, sys};

pub(crate) use uring_sys::{cqe_size, sqe_size};

/// Unmaps the SQ and CQ ring mappings (not the SQEs).
///
/// # Safety
/// The views must describe live mappings of `fd` that nothing uses any more.
unsafe fn unmap_rings(fd: c_int, sq: *mut io_uring_sq, cq: *mut io_uring_cq) {
    // SAFETY: by the caller's contract; a shared mapping is unmapped once.
    unsafe {
        backend::unmap(fd, (*sq).ring_ptr, (*sq).ring_sz);
        if !(*cq).ring_ptr.is_null() && (*cq).ring_ptr != (*sq).ring_ptr {
            backend::unmap(fd, (*cq).ring_ptr, (*cq).ring_sz);
        }
    }
}

/// Points the SQ and CQ views at the ring words, from the offsets in `p`.
///
/// # Safety
/// `sq.ring_ptr`, `cq.ring_ptr` and `sq.sqes` must be the ring memory `p` describes.
unsafe fn setup_ring_pointers(p: &io_uring_params, sq: *mut io_uring_sq, cq: *mut io_uring_cq) {
    // SAFETY: every offset is inside the ring memory, as the backend that filled `p`
    // laid it out; the mask and entry words are written once at setup, before this.
    unsafe {
        let s = (*sq).ring_ptr.cast::<u8>();
        (*sq).khead = s.add(p.sq_off.head as usize).cast();
        (*sq).ktail = s.add(p.sq_off.tail as usize).cast();
        (*sq).kring_mask = s.add(p.sq_off.ring_mask as usize).cast();
        (*sq).kring_entries = s.add(p.sq_off.ring_entries as usize).cast();
        (*sq).kflags = s.add(p.sq_off.flags as usize).cast();
        (*sq).kdropped = s.add(p.sq_off.dropped as usize).cast();
        if p.flags & k::IORING_SETUP_NO_SQARRAY == 0 {
            (*sq).array = s.add(p.sq_off.array as usize).cast();
        }

        let c = (*cq).ring_ptr.cast::<u8>();
        (*cq).khead = c.add(p.cq_off.head as usize).cast();
        (*cq).ktail = c.add(p.cq_off.tail as usize).cast();
        (*cq).kring_mask = c.add(p.cq_off.ring_mask as usize).cast();
        (*cq).kring_entries = c.add(p.cq_off.ring_entries as usize).cast();
        (*cq).koverflow = c.add(p.cq_off.overflow as usize).cast();
        (*cq).cqes = c.add(p.cq_off.cqes as usize).cast();
        if p.cq_off.flags != 0 {
            (*cq).kflags = c.add(p.cq_off.flags as usize).cast();
        }

        (*sq).ring_mask = load_relaxed((*sq).kring_mask);
        (*sq).ring_entries = load_relaxed((*sq).kring_entries);
        (*cq).ring_mask = load_relaxed((*cq).kring_mask);
        (*cq).ring_entries = load_relaxed((*cq).kring_entries);
    }
}

/// Maps the rings of `fd` as `p` describes and fills in the views: 0 or `-errno`.
///
/// # Safety
/// `sq` and `cq` must be writable, zeroed views; `p` filled in by setup for `fd`.
unsafe fn mmap_rings(
    fd: c_int,
    p: &io_uring_params,
    sq: *mut io_uring_sq,
    cq: *mut io_uring_cq,
) -> c_int {
    let mut sq_sz = p.sq_off.array as usize + p.sq_entries as usize * 4;
    let mut cq_sz = p.cq_off.cqes as usize + p.cq_entries as usize * cqe_size(p.flags);
    let single = p.features & k::IORING_FEAT_SINGLE_MMAP != 0;
    if single {
        sq_sz = sq_sz.max(cq_sz);
        cq_sz = sq_sz;
    }
    // SAFETY: the views are writable (caller); each mapping is recorded as it is
    // made, so the error path unmaps exactly what exists.
    unsafe {
        (*sq).ring_sz = sq_sz;
        (*cq).ring_sz = cq_sz;
        (*sq).ring_ptr = match backend::map(fd, k::IORING_OFF_SQ_RING, sq_sz) {
            Ok(ptr) => ptr,
            Err(e) => return e,
        };
        if single {
            (*cq).ring_ptr = (*sq).ring_ptr;
        } else {
            match backend::map(fd, k::IORING_OFF_CQ_RING, cq_sz) {
                Ok(ptr) => (*cq).ring_ptr = ptr,
                Err(e) => {
                    (*cq).ring_ptr = ptr::null_mut();
                    unmap_rings(fd, sq, cq);
                    return e;
                }
            }
        }
        let sqes_sz = sqe_size(p.flags) * p.sq_entries as usize;
        match backend::map(fd, k::IORING_OFF_SQES, sqes_sz) {
            Ok(ptr) => (*sq).sqes = ptr.cast(),
            Err(e) => {
                unmap_rings(fd, sq, cq);
                return e;
            }
        }
        setup_ring_pointers(p, sq, cq);
    }
    0
}

/// Maps the rings of an already set-up ring `fd` into `ring`: 0 or `-errno`.
///
/// liburing: `io_uring_queue_mmap(3)`.
///
/// # Safety
/// `p` must be the parameters `io_uring_setup` filled in for `fd`, `ring` writable.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_queue_mmap(
    fd: c_int,
    p: *mut io_uring_params,
    ring: *mut io_uring,
) -> c_int {
    // SAFETY: `ring` is writable and all-zero is a valid `io_uring`; `p` is readable.
    unsafe {
        ptr::write_bytes(ring, 0, 1);
        let ret = mmap_rings(fd, &*p, &raw mut (*ring).sq, &raw mut (*ring).cq);
        if ret == 0 {
            (*ring).flags = (*p).flags;
            (*ring).ring_fd = fd;
            (*ring).enter_ring_fd = fd;
            (*ring).features = (*p).features;
            (*ring).int_flags = 0;
        }
        ret
    }
}

/// The memory a `NO_MMAP` ring needs: `(sqes bytes, rings bytes)`, each a whole number
/// of pages, or `-EINVAL` for sizes the kernel refuses.
fn no_mmap_sizes(entries: u32, p: &io_uring_params) -> Result<(usize, usize), c_int> {
    let (sq, cq) = ring_entries(entries, p)?;
    let page = sys::page_size();
    let round = |n: usize| n.div_ceil(page) * page;
    let (rings, sqes) = k::ring_memory_sizes(p.flags, sq, cq);
    Ok((round(sqes), round(rings)))
}

/// The SQ and CQ sizes the kernel will choose for `entries` and `p`, or `-EINVAL`.
fn ring_entries(entries: u32, p: &io_uring_params) -> Result<(u32, u32), c_int> {
    k::ring_sizes(entries, p.flags, p.cq_entries).map_err(|_| -libc::EINVAL)
}

/// Sets up a ring and its memory: the body of every `io_uring_queue_init*`. With
/// `IORING_SETUP_NO_MMAP`, the rings go in `buf` (`buf_size` bytes) if given, else
/// in memory this library maps. Returns the bytes of `buf` used, 0, or `-errno`.
///
/// # Safety
/// `ring` writable; `p` readable and writable; `buf`, if not null, valid for
/// `buf_size` bytes and page-aligned, and alive until `io_uring_queue_exit`.
unsafe fn queue_init(
    entries: u32,
    ring: *mut io_uring,
    p: *mut io_uring_params,
    buf: *mut c_void,
    buf_size: usize,
) -> c_int {
    // SAFETY: by the caller's contract; each pointer is used within what it covers.
    unsafe {
        let flags = (*p).flags;
        let no_mmap = flags & k::IORING_SETUP_NO_MMAP != 0;
        let mut used = 0usize;
        let mut ours: Option<(*mut c_void, usize)> = None;
        let mut mem = (ptr::null_mut::<c_void>(), 0usize, 0usize);
        if no_mmap {
            let (sqes, rings) = match no_mmap_sizes(entries, &*p) {
                Ok(s) => s,
                Err(e) => return e,
            };
            used = sqes + rings;
            let base = if buf.is_null() {
                match sys::mmap_anonymous(used) {
                    Ok(b) => {
                        ours = Some((b, used));
                        b
                    }
                    Err(e) => return e,
                }
            } else {
                if buf_size < used {
                    return -libc::ENOMEM;
                }
                buf
            };
            mem = (base, sqes, rings);
            (*p).sq_off.user_addr = base as u64;
            (*p).cq_off.user_addr = base as u64 + sqes as u64;
        }

        let fd = backend::setup(entries, p);
        if fd < 0 {
            if let Some((b, len)) = ours {
                sys::munmap(b, len);
            }
            return fd;
        }

        ptr::write_bytes(ring, 0, 1);
        if no_mmap {
            let (base, sqes, rings) = mem;
            let sq = &raw mut (*ring).sq;
            let cq = &raw mut (*ring).cq;
            (*sq).sqes = base.cast();
            (*sq).ring_ptr = base.cast::<u8>().add(sqes).cast();
            (*cq).ring_ptr = (*sq).ring_ptr;
            if ours.is_some() {
                // Ours to unmap at exit: the SQE part goes with the SQEs, the rest here.
                (*sq).ring_sz = rings;
            } else {
                (*ring).int_flags |= INT_FLAG_APP_MEM;
            }
            setup_ring_pointers(&*p, sq, cq);
        } else {
            let ret = mmap_rings(fd, &*p, &raw mut (*ring).sq, &raw mut (*ring).cq);
            if ret != 0 {
                backend::close(fd);
                return ret;
            }
        }

        // Directly map SQ slots to SQEs: io_uring_get_sqe hands SQEs out in ring order.
        let sq = &raw mut (*ring).sq;
        if !(*sq).array.is_null() {
            for i in 0..(*sq).ring_entries {
                *(*sq).array.add(i as usize) = i;
            }
        }
        (*ring).features = (*p).features;
        (*ring).flags = (*p).flags;
        (*ring).enter_ring_fd = fd;
        if flags & k::IORING_SETUP_REGISTERED_FD_ONLY != 0 {
            // `fd` is a registered index, not a file descriptor.
            (*ring).ring_fd = -1;
            (*ring).int_flags |= INT_FLAG_REG_RING | INT_FLAG_REG_REG_RING;
        } else {
            (*ring).ring_fd = fd;
        }
        if buf.is_null() { 0 } else { used as c_int }
    }
}

/// Sets up a ring of at least `entries` SQEs with the parameters in `p` (updated
/// with what the kernel chose): 0 or `-errno`.
///
/// liburing: `io_uring_queue_init_params(3)`.
///
/// # Safety
/// `ring` must be writable and `p` a readable, writable `io_uring_params`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_queue_init_params(
    entries: c_uint,
    ring: *mut io_uring,
    p: *mut io_uring_params,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { queue_init(entries, ring, p, ptr::null_mut(), 0) }
}

/// Sets up a ring with setup `flags`: 0 or `-errno`.
///
/// liburing: `io_uring_queue_init(3)`.
///
/// # Safety
/// `ring` must be writable.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_queue_init(
    entries: c_uint,
    ring: *mut io_uring,
    flags: c_uint,
) -> c_int {
    let mut p = io_uring_params {
        flags,
        ..Default::default()
    };
    // SAFETY: forwarded contract; `p` is a local.
    unsafe { queue_init(entries, ring, &mut p, ptr::null_mut(), 0) }
}

/// Sets up a ring whose memory is `buf` (`IORING_SETUP_NO_MMAP`): the bytes of `buf`
/// used, or `-errno` (`-ENOMEM` if `buf_size` is too small).
///
/// liburing: `io_uring_queue_init_mem(3)`.
///
/// # Safety
/// As [`io_uring_queue_init_params`]; `buf` must be page-aligned, valid for
/// `buf_size` bytes and outlive the ring.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_queue_init_mem(
    entries: c_uint,
    ring: *mut io_uring,
    p: *mut io_uring_params,
    buf: *mut c_void,
    buf_size: usize,
) -> c_int {
    if buf.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: forwarded contract.
    unsafe {
        (*p).flags |= k::IORING_SETUP_NO_MMAP;
        queue_init(entries, ring, p, buf, buf_size)
    }
}

/// Tears a ring down: unmaps its memory, drops its registered fd, closes it.
///
/// liburing: `io_uring_queue_exit(3)`.
///
/// # Safety
/// `ring` must have been set up by this library and not be used afterwards.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_queue_exit(ring: *mut io_uring) {
    // SAFETY: the ring's views describe its live memory (caller's contract); each
    // region is released once.
    unsafe {
        let fd = (*ring).ring_fd;
        let sq = &raw mut (*ring).sq;
        if (*ring).int_flags & INT_FLAG_APP_MEM == 0 {
            let len = sqe_size((*ring).flags) * (*sq).ring_entries as usize;
            backend::unmap(fd, (*sq).sqes.cast(), len);
            unmap_rings(fd, sq, &raw mut (*ring).cq);
        }
        // Not required, but frees the slot now rather than at exit.
        if (*ring).int_flags & INT_FLAG_REG_RING != 0 {
            register::io_uring_unregister_ring_fd(ring);
        }
        if fd != -1 {
            backend::close(fd);
        }
    }
}

/// Keeps the ring memory out of children made by `fork(2)` (`MADV_DONTFORK`): 0 or
/// `-errno`.
///
/// liburing: `io_uring_ring_dontfork(3)`.
///
/// # Safety
/// `ring` must be a ring set up by this library.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_ring_dontfork(ring: *mut io_uring) -> c_int {
    // SAFETY: the ranges are the ring's live mappings.
    unsafe {
        let sq = &raw const (*ring).sq;
        let cq = &raw const (*ring).cq;
        if (*sq).ring_ptr.is_null() || (*sq).sqes.is_null() || (*cq).ring_ptr.is_null() {
            return -libc::EINVAL;
        }
        let len = sqe_size((*ring).flags) * (*sq).ring_entries as usize;
        let ret = sys::madvise_dontfork((*sq).sqes.cast(), len);
        if ret < 0 {
            return ret;
        }
        let ret = sys::madvise_dontfork((*sq).ring_ptr, (*sq).ring_sz);
        if ret < 0 {
            return ret;
        }
        if (*cq).ring_ptr != (*sq).ring_ptr {
            let ret = sys::madvise_dontfork((*cq).ring_ptr, (*cq).ring_sz);
            if ret < 0 {
                return ret;
            }
        }
    }
    0
}

/// Number of opcode entries a probe has room for.
const PROBE_OPS: usize = 256;

/// A probe of `ring`'s opcodes, allocated with `malloc` (free it with
/// [`io_uring_free_probe`]), or null.
///
/// liburing: `io_uring_get_probe_ring(3)`.
///
/// # Safety
/// `ring` must be a ring set up by this library.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_get_probe_ring(ring: *mut io_uring) -> *mut io_uring_probe {
    let len = size_of::<io_uring_probe>() + PROBE_OPS * size_of::<io_uring_probe_op>();
    // SAFETY: calloc of a nonzero size; the result is checked before use.
    let probe = unsafe { libc::calloc(1, len) }.cast::<io_uring_probe>();
    if probe.is_null() {
        return probe;
    }
    // SAFETY: `probe` has room for PROBE_OPS entries.
    if unsafe { register::io_uring_register_probe(ring, probe, PROBE_OPS as c_uint) } >= 0 {
        return probe;
    }
    // SAFETY: allocated above with calloc, not handed out.
    unsafe { libc::free(probe.cast()) };
    ptr::null_mut()
}

/// A probe of this system's opcodes (on a small ring set up for the purpose), or null.
///
/// liburing: `io_uring_get_probe(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_get_probe() -> *mut io_uring_probe {
    let mut ring = core::mem::MaybeUninit::<io_uring>::uninit();
    // SAFETY: queue_init writes the whole ring before it is read; on success the ring
    // is ours until queue_exit.
    unsafe {
        if io_uring_queue_init(2, ring.as_mut_ptr(), 0) < 0 {
            return ptr::null_mut();
        }
        let probe = io_uring_get_probe_ring(ring.as_mut_ptr());
        io_uring_queue_exit(ring.as_mut_ptr());
        probe
    }
}

/// Frees a probe from [`io_uring_get_probe`] or [`io_uring_get_probe_ring`]; null is
/// a no-op.
///
/// liburing: `io_uring_free_probe(3)`.
///
/// # Safety
/// `probe` must be null or a probe from this library, not freed before.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_free_probe(probe: *mut io_uring_probe) {
    // SAFETY: malloc'd by this library (or null), by the caller's contract.
    unsafe { libc::free(probe.cast()) }
}

/// The `RLIMIT_MEMLOCK` bytes a ring of `entries` with `p` needs: 0 on kernels that
/// account ring memory to the cgroup (5.12 and later, `IORING_FEAT_NATIVE_WORKERS`),
/// the kernel's page count for older ones, or `-errno`.
///
/// liburing: `io_uring_mlock_size_params(3)`.
///
/// # Safety
/// `p` must be a readable `io_uring_params`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_mlock_size_params(
    entries: c_uint,
    p: *mut io_uring_params,
) -> isize {
    // Ask the kernel what it is with a throwaway ring; a failure leaves no features,
    // the answer of an old kernel.
    let mut lp = io_uring_params::default();
    let mut ring = core::mem::MaybeUninit::<io_uring>::uninit();
    // SAFETY: `lp` is a local; the ring is exited only if it was set up.
    unsafe {
        if queue_init(entries, ring.as_mut_ptr(), &mut lp, ptr::null_mut(), 0) == 0 {
            io_uring_queue_exit(ring.as_mut_ptr());
        }
    }
    if lp.features & k::IORING_FEAT_NATIVE_WORKERS != 0 {
        return 0;
    }
    // SAFETY: readable by the caller's contract.
    let p = unsafe { &*p };
    let (sq, cq) = match ring_entries(entries, p) {
        Ok(v) => v,
        Err(e) => return e as isize,
    };
    // Old kernels charge whole power-of-two page blocks for each of the two regions.
    let page = sys::page_size();
    let pages = |bytes: usize| bytes.div_ceil(page).next_power_of_two();
    let cq_bytes = (cq as usize * cqe_size(p.flags) + 320).next_multiple_of(64);
    let sq_bytes = sq as usize * sqe_size(p.flags);
    ((pages(cq_bytes) + pages(sq_bytes)) * page) as isize
}

/// [`io_uring_mlock_size_params`] with only setup `flags`.
///
/// liburing: `io_uring_mlock_size(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_mlock_size(entries: c_uint, flags: c_uint) -> isize {
    let mut p = io_uring_params {
        flags,
        ..Default::default()
    };
    // SAFETY: `p` is a local.
    unsafe { io_uring_mlock_size_params(entries, &mut p) }
}

/// The bytes of memory `io_uring_queue_init_mem` needs for a ring of `entries` with
/// `p`, or `-EINVAL`.
///
/// liburing: `io_uring_memory_size_params(3)`.
///
/// # Safety
/// `p` must be a readable `io_uring_params`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_memory_size_params(
    entries: c_uint,
    p: *mut io_uring_params,
) -> isize {
    // SAFETY: readable by the caller's contract.
    match no_mmap_sizes(entries, unsafe { &*p }) {
        Ok((sqes, rings)) => (sqes + rings) as isize,
        Err(e) => e as isize,
    }
}

/// [`io_uring_memory_size_params`] with only setup `flags`.
///
/// liburing: `io_uring_memory_size(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_memory_size(entries: c_uint, flags: c_uint) -> isize {
    let p = io_uring_params {
        flags,
        ..Default::default()
    };
    match no_mmap_sizes(entries, &p) {
        Ok((sqes, rings)) => (sqes + rings) as isize,
        Err(e) => e as isize,
    }
}

/// Resizes the rings to the sizes in `p` (`IORING_REGISTER_RESIZE_RINGS`, Linux 6.13)
/// and remaps them; pending SQEs and CQEs are carried over by the kernel. 0 or
/// `-errno`.
///
/// liburing: `io_uring_resize_rings(3)`.
///
/// # Safety
/// `ring` must be a ring set up by this library, with no SQE or CQE pointer into the
/// old memory still in use; `p` readable and writable.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_resize_rings(
    ring: *mut io_uring,
    p: *mut io_uring_params,
) -> c_int {
    // SAFETY: by the caller's contract; the old mappings are released only after the
    // kernel switched to the new rings and the new ones are mapped.
    unsafe {
        if (*ring).flags & k::IORING_SETUP_NO_MMAP != 0 {
            return -libc::EINVAL;
        }
        (*p).sq_off = Default::default();
        (*p).cq_off = Default::default();
        let ret = register::do_register(ring, k::IORING_REGISTER_RESIZE_RINGS, p.cast(), 1);
        if ret < 0 {
            return ret;
        }
        let fd = (*ring).ring_fd;
        // The kernel fills in the ring's own flags, not the resize-only ones.
        let mut np = *p;
        np.flags = (*ring).flags;
        np.features = (*ring).features;
        if np.flags & k::IORING_SETUP_NO_SQARRAY == 0 && np.sq_off.array == 0 {
            // Linux 6.18 does not report the new SQ array's offset after a resize. It
            // is where the kernel's rings_size() puts it: right after the CQEs,
            // cache-line aligned.
            let cqes_end = np.cq_off.cqes as usize + np.cq_entries as usize * cqe_size(np.flags);
            np.sq_off.array = cqes_end.next_multiple_of(64) as u32;
        }
        // The new rings are mapped before the old ones go, as liburing 2.15 does: if
        // mapping fails, the ring's views stay as they were.
        // All-zero is a valid view (plain pointers and integers), as before mapping.
        let mut new_sq: io_uring_sq = core::mem::zeroed();
        let mut new_cq: io_uring_cq = core::mem::zeroed();
        let ret = mmap_rings(fd, &np, &raw mut new_sq, &raw mut new_cq);
        if ret != 0 {
            return ret;
        }
        let sq = &raw mut (*ring).sq;
        let cq = &raw mut (*ring).cq;
        let (head, tail) = ((*sq).sqe_head, (*sq).sqe_tail);
        let old_sqes = sqe_size((*ring).flags) * (*sq).ring_entries as usize;
        backend::unmap(fd, (*sq).sqes.cast(), old_sqes);
        unmap_rings(fd, sq, cq);
        sq.write(new_sq);
        cq.write(new_cq);
        (*sq).sqe_head = head;
        (*sq).sqe_tail = tail;
        if !(*sq).array.is_null() {
            for i in 0..(*sq).ring_entries {
                *(*sq).array.add(i as usize) = i;
            }
        }
        0
    }
}

symver!(
    io_uring_free_probe,
    io_uring_get_probe,
    io_uring_get_probe_ring,
    io_uring_memory_size,
    io_uring_memory_size_params,
    io_uring_mlock_size,
    io_uring_mlock_size_params,
    io_uring_queue_exit,
    io_uring_queue_init,
    io_uring_queue_init_mem,
    io_uring_queue_init_params,
    io_uring_queue_mmap,
    io_uring_resize_rings,
    io_uring_ring_dontfork
);
