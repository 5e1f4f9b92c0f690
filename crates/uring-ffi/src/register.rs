//! Registrations (liburing's `register.c`): one function per `IORING_REGISTER_*`
//! operation of Linux 6.18, each returning what the kernel returned or `-errno`.
use core::ffi::{c_int, c_uint, c_void};
use core::ptr;

use uring_sys::{self as k, io_uring_probe};

use crate::types::*;
use crate::{backend, sys};

/// `io_uring_register(2)` on `ring`: through its registered index when it has one and
/// the kernel allows registering that way (`IORING_FEAT_REG_REG_RING`).
///
/// # Safety
/// `ring` must be a live ring; `arg`/`nr` what `opcode` expects.
pub(crate) unsafe fn do_register(
    ring: *mut io_uring,
    opcode: u32,
    arg: *const c_void,
    nr: u32,
) -> c_int {
    // SAFETY: caller's contract.
    unsafe {
        let (fd, opcode) = if (*ring).int_flags & INT_FLAG_REG_REG_RING != 0 {
            (
                (*ring).enter_ring_fd,
                opcode | k::IORING_REGISTER_USE_REGISTERED_RING,
            )
        } else {
            ((*ring).ring_fd, opcode)
        };
        backend::register(fd as u32, opcode, arg, nr)
    }
}

/// 0 on success, else the error: the convention of the registrations whose kernel
/// result carries nothing.
fn zero_or_err(ret: c_int) -> c_int {
    if ret < 0 { ret } else { 0 }
}

/// Defines one exported registration function with its docs, in the manner of
/// liburing's `register.c`: the body is an expression over the arguments.
macro_rules! register_fn {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty { $($body:tt)* }) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `ring` must be a live ring set up by this library; pointer arguments must be
        /// null (the kernel then answers `-EFAULT` or `-EINVAL`) or valid for what the
        /// operation reads and writes, for as long as the registration uses them.
        #[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            // SAFETY: forwarded contract (see `# Safety`).
            unsafe { $($body)* }
        }
    };
}

register_fn! {
    /// Registers `nr_iovecs` fixed buffers (`IORING_REGISTER_BUFFERS`): 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_buffers(3)`.
    fn io_uring_register_buffers(ring: *mut io_uring, iovecs: *const libc::iovec, nr_iovecs: c_uint) -> c_int {
        zero_or_err(do_register(ring, k::IORING_REGISTER_BUFFERS, iovecs.cast(), nr_iovecs))
    }
}

register_fn! {
    /// Registers fixed buffers with tags (`IORING_REGISTER_BUFFERS2`): 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_buffers_tags(3)`.
    fn io_uring_register_buffers_tags(ring: *mut io_uring, iovecs: *const libc::iovec, tags: *const u64, nr: c_uint) -> c_int {
        let reg = k::io_uring_rsrc_register { nr, data: iovecs as u64, tags: tags as u64, ..Default::default() };
        do_register(ring, k::IORING_REGISTER_BUFFERS2, (&raw const reg).cast(), size_of_val(&reg) as u32)
    }
}

register_fn! {
    /// Registers `nr` empty fixed-buffer slots (`IORING_RSRC_REGISTER_SPARSE`).
    ///
    /// liburing: `io_uring_register_buffers_sparse(3)`.
    fn io_uring_register_buffers_sparse(ring: *mut io_uring, nr: c_uint) -> c_int {
        let reg = k::io_uring_rsrc_register { flags: k::IORING_RSRC_REGISTER_SPARSE, nr, ..Default::default() };
        do_register(ring, k::IORING_REGISTER_BUFFERS2, (&raw const reg).cast(), size_of_val(&reg) as u32)
    }
}

register_fn! {
    /// Replaces fixed buffers from slot `off` (`IORING_REGISTER_BUFFERS_UPDATE`):
    /// buffers updated, or `-errno`.
    ///
    /// liburing: `io_uring_register_buffers_update_tag(3)`.
    fn io_uring_register_buffers_update_tag(ring: *mut io_uring, off: c_uint, iovecs: *const libc::iovec, tags: *const u64, nr: c_uint) -> c_int {
        let up = k::io_uring_rsrc_update2 { offset: off, data: iovecs as u64, tags: tags as u64, nr, ..Default::default() };
        do_register(ring, k::IORING_REGISTER_BUFFERS_UPDATE, (&raw const up).cast(), size_of_val(&up) as u32)
    }
}

register_fn! {
    /// Drops all fixed buffers: 0 or `-errno`.
    ///
    /// liburing: `io_uring_unregister_buffers(3)`.
    fn io_uring_unregister_buffers(ring: *mut io_uring) -> c_int {
        zero_or_err(do_register(ring, k::IORING_UNREGISTER_BUFFERS, ptr::null(), 0))
    }
}

/// A file registration, retried once with a raised `RLIMIT_NOFILE` if the kernel says
/// `EMFILE` (registering counts against the open-files limit), as liburing does.
///
/// # Safety
/// As [`do_register`].
unsafe fn register_files_retry(
    ring: *mut io_uring,
    opcode: u32,
    arg: *const c_void,
    nr: u32,
    files: u32,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        let mut ret = do_register(ring, opcode, arg, nr);
        if ret == -libc::EMFILE && sys::raise_nofile(files) {
            ret = do_register(ring, opcode, arg, nr);
        }
        ret
    }
}

register_fn! {
    /// Registers `nr_files` fixed files (`IORING_REGISTER_FILES`): 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_files(3)`.
    fn io_uring_register_files(ring: *mut io_uring, files: *const c_int, nr_files: c_uint) -> c_int {
        zero_or_err(register_files_retry(ring, k::IORING_REGISTER_FILES, files.cast(), nr_files, nr_files))
    }
}

register_fn! {
    /// Registers fixed files with tags (`IORING_REGISTER_FILES2`): 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_files_tags(3)`.
    fn io_uring_register_files_tags(ring: *mut io_uring, files: *const c_int, tags: *const u64, nr: c_uint) -> c_int {
        let reg = k::io_uring_rsrc_register { nr, data: files as u64, tags: tags as u64, ..Default::default() };
        register_files_retry(ring, k::IORING_REGISTER_FILES2, (&raw const reg).cast(), size_of_val(&reg) as u32, nr)
    }
}

register_fn! {
    /// Registers `nr` empty fixed-file slots: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_files_sparse(3)`.
    fn io_uring_register_files_sparse(ring: *mut io_uring, nr: c_uint) -> c_int {
        let reg = k::io_uring_rsrc_register { flags: k::IORING_RSRC_REGISTER_SPARSE, nr, ..Default::default() };
        register_files_retry(ring, k::IORING_REGISTER_FILES2, (&raw const reg).cast(), size_of_val(&reg) as u32, nr)
    }
}

register_fn! {
    /// Replaces fixed files from slot `off`, with tags (`IORING_REGISTER_FILES_UPDATE2`):
    /// files updated, or `-errno`.
    ///
    /// liburing: `io_uring_register_files_update_tag(3)`.
    fn io_uring_register_files_update_tag(ring: *mut io_uring, off: c_uint, files: *const c_int, tags: *const u64, nr_files: c_uint) -> c_int {
        let up = k::io_uring_rsrc_update2 { offset: off, data: files as u64, tags: tags as u64, nr: nr_files, ..Default::default() };
        do_register(ring, k::IORING_REGISTER_FILES_UPDATE2, (&raw const up).cast(), size_of_val(&up) as u32)
    }
}

register_fn! {
    /// Replaces fixed files from slot `off` (`IORING_REGISTER_FILES_UPDATE`): files
    /// updated, or `-errno`.
    ///
    /// liburing: `io_uring_register_files_update(3)`.
    fn io_uring_register_files_update(ring: *mut io_uring, off: c_uint, files: *mut c_int, nr_files: c_uint) -> c_int {
        let up = k::io_uring_files_update { offset: off, resv: 0, fds: files as u64 };
        do_register(ring, k::IORING_REGISTER_FILES_UPDATE, (&raw const up).cast(), nr_files)
    }
}

register_fn! {
    /// Drops all fixed files: 0 or `-errno`.
    ///
    /// liburing: `io_uring_unregister_files(3)`.
    fn io_uring_unregister_files(ring: *mut io_uring) -> c_int {
        zero_or_err(do_register(ring, k::IORING_UNREGISTER_FILES, ptr::null(), 0))
    }
}

register_fn! {
    /// Signals eventfd `fd` on every completion: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_eventfd(3)`.
    fn io_uring_register_eventfd(ring: *mut io_uring, fd: c_int) -> c_int {
        zero_or_err(do_register(ring, k::IORING_REGISTER_EVENTFD, (&raw const fd).cast(), 1))
    }
}

register_fn! {
    /// Signals eventfd `fd` only for completions finished out of line: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_eventfd_async(3)`.
    fn io_uring_register_eventfd_async(ring: *mut io_uring, fd: c_int) -> c_int {
        zero_or_err(do_register(ring, k::IORING_REGISTER_EVENTFD_ASYNC, (&raw const fd).cast(), 1))
    }
}

register_fn! {
    /// Drops the registered eventfd: 0 or `-errno`.
    ///
    /// liburing: `io_uring_unregister_eventfd(3)`.
    fn io_uring_unregister_eventfd(ring: *mut io_uring) -> c_int {
        zero_or_err(do_register(ring, k::IORING_UNREGISTER_EVENTFD, ptr::null(), 0))
    }
}

register_fn! {
    /// Fills `p` (room for `nr` ops) with the supported opcodes: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_probe(3)`.
    fn io_uring_register_probe(ring: *mut io_uring, p: *mut io_uring_probe, nr: c_uint) -> c_int {
        zero_or_err(do_register(ring, k::IORING_REGISTER_PROBE, p.cast(), nr))
    }
}

register_fn! {
    /// Registers the caller's credentials: the personality id, or `-errno`.
    ///
    /// liburing: `io_uring_register_personality(3)`.
    fn io_uring_register_personality(ring: *mut io_uring) -> c_int {
        do_register(ring, k::IORING_REGISTER_PERSONALITY, ptr::null(), 0)
    }
}

register_fn! {
    /// Drops personality `id`: 0 or `-errno`.
    ///
    /// liburing: `io_uring_unregister_personality(3)`.
    fn io_uring_unregister_personality(ring: *mut io_uring, id: c_int) -> c_int {
        do_register(ring, k::IORING_UNREGISTER_PERSONALITY, ptr::null(), id as u32)
    }
}

register_fn! {
    /// Restricts what a disabled (`R_DISABLED`) ring may do: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_restrictions(3)`.
    fn io_uring_register_restrictions(ring: *mut io_uring, res: *mut k::io_uring_restriction, nr_res: c_uint) -> c_int {
        zero_or_err(do_register(ring, k::IORING_REGISTER_RESTRICTIONS, res.cast(), nr_res))
    }
}

register_fn! {
    /// Enables a ring set up with `IORING_SETUP_R_DISABLED`: 0 or `-errno`.
    ///
    /// liburing: `io_uring_enable_rings(3)`.
    fn io_uring_enable_rings(ring: *mut io_uring) -> c_int {
        do_register(ring, k::IORING_REGISTER_ENABLE_RINGS, ptr::null(), 0)
    }
}

register_fn! {
    /// Binds the io-wq workers to the CPUs in `mask` (`cpusz` bytes): 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_iowq_aff(3)`.
    fn io_uring_register_iowq_aff(ring: *mut io_uring, cpusz: usize, mask: *const libc::cpu_set_t) -> c_int {
        if cpusz >= 1 << 31 {
            return -libc::EINVAL;
        }
        do_register(ring, k::IORING_REGISTER_IOWQ_AFF, mask.cast(), cpusz as u32)
    }
}

register_fn! {
    /// Drops the io-wq CPU affinity: 0 or `-errno`.
    ///
    /// liburing: `io_uring_unregister_iowq_aff(3)`.
    fn io_uring_unregister_iowq_aff(ring: *mut io_uring) -> c_int {
        do_register(ring, k::IORING_UNREGISTER_IOWQ_AFF, ptr::null(), 0)
    }
}

register_fn! {
    /// Sets (and returns the old) io-wq worker limits, bounded and unbounded, in
    /// `values[0..2]`: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_iowq_max_workers(3)`.
    fn io_uring_register_iowq_max_workers(ring: *mut io_uring, values: *mut c_uint) -> c_int {
        do_register(ring, k::IORING_REGISTER_IOWQ_MAX_WORKERS, values.cast(), 2)
    }
}

register_fn! {
    /// Registers the ring's own fd (`IORING_REGISTER_RING_FDS`) so every enter skips
    /// the fd lookup: 1, or `-errno` (`-EEXIST` if already registered).
    ///
    /// liburing: `io_uring_register_ring_fd(3)`.
    fn io_uring_register_ring_fd(ring: *mut io_uring) -> c_int {
        if (*ring).int_flags & INT_FLAG_REG_RING != 0 {
            return -libc::EEXIST;
        }
        let up = k::io_uring_rsrc_update { offset: u32::MAX, resv: 0, data: (*ring).ring_fd as u64 };
        let ret = do_register(ring, k::IORING_REGISTER_RING_FDS, (&raw const up).cast(), 1);
        if ret == 1 {
            (*ring).enter_ring_fd = up.offset as c_int;
            (*ring).int_flags |= INT_FLAG_REG_RING;
            if (*ring).features & k::IORING_FEAT_REG_REG_RING != 0 {
                (*ring).int_flags |= INT_FLAG_REG_REG_RING;
            }
        }
        ret
    }
}

register_fn! {
    /// Drops the ring's registered fd: 1, or `-errno` (`-EINVAL` if none).
    ///
    /// liburing: `io_uring_unregister_ring_fd(3)`.
    fn io_uring_unregister_ring_fd(ring: *mut io_uring) -> c_int {
        if (*ring).int_flags & INT_FLAG_REG_RING == 0 {
            return -libc::EINVAL;
        }
        let up = k::io_uring_rsrc_update { offset: (*ring).enter_ring_fd as u32, resv: 0, data: 0 };
        let ret = do_register(ring, k::IORING_UNREGISTER_RING_FDS, (&raw const up).cast(), 1);
        if ret == 1 {
            (*ring).enter_ring_fd = (*ring).ring_fd;
            (*ring).int_flags &= !(INT_FLAG_REG_RING | INT_FLAG_REG_REG_RING);
        }
        ret
    }
}

register_fn! {
    /// Closes the ring's fd once it is registered, leaving only the registered index:
    /// 1, or `-errno` (`-EOPNOTSUPP` without `IORING_FEAT_REG_REG_RING`, `-EINVAL` if
    /// not registered, `-EBADF` if already closed).
    ///
    /// liburing: `io_uring_close_ring_fd(3)`.
    fn io_uring_close_ring_fd(ring: *mut io_uring) -> c_int {
        if (*ring).features & k::IORING_FEAT_REG_REG_RING == 0 {
            return -libc::EOPNOTSUPP;
        }
        if (*ring).int_flags & INT_FLAG_REG_RING == 0 {
            return -libc::EINVAL;
        }
        if (*ring).ring_fd == -1 {
            return -libc::EBADF;
        }
        backend::close((*ring).ring_fd);
        (*ring).ring_fd = -1;
        1
    }
}

register_fn! {
    /// Registers a provided-buffer ring (`IORING_REGISTER_PBUF_RING`), `flags`
    /// (`IOU_PBUF_RING_MMAP`, `IOU_PBUF_RING_INC`) or-ed into `reg.flags` as liburing
    /// 2.15 does: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_buf_ring(3)`.
    fn io_uring_register_buf_ring(ring: *mut io_uring, reg: *mut k::io_uring_buf_reg, flags: c_uint) -> c_int {
        if !reg.is_null() {
            (*reg).flags |= flags as u16;
        }
        do_register(ring, k::IORING_REGISTER_PBUF_RING, reg.cast(), 1)
    }
}

register_fn! {
    /// Drops provided-buffer ring `bgid`: 0 or `-errno`.
    ///
    /// liburing: `io_uring_unregister_buf_ring(3)`.
    fn io_uring_unregister_buf_ring(ring: *mut io_uring, bgid: c_int) -> c_int {
        let reg = k::io_uring_buf_reg { bgid: bgid as u16, ..Default::default() };
        do_register(ring, k::IORING_UNREGISTER_PBUF_RING, (&raw const reg).cast(), 1)
    }
}

register_fn! {
    /// Reads the kernel's head of provided-buffer ring `buf_group` into `head`
    /// (`IORING_REGISTER_PBUF_STATUS`): 0 or `-errno`.
    ///
    /// liburing: `io_uring_buf_ring_head(3)`.
    fn io_uring_buf_ring_head(ring: *mut io_uring, buf_group: c_int, head: *mut u16) -> c_int {
        let mut status = k::io_uring_buf_status { buf_group: buf_group as u32, ..Default::default() };
        let ret = do_register(ring, k::IORING_REGISTER_PBUF_STATUS, (&raw mut status).cast(), 1);
        if ret != 0 {
            return ret;
        }
        *head = status.head as u16;
        0
    }
}

register_fn! {
    /// Maps and registers a provided-buffer ring of `nentries` for group `bgid`,
    /// initialised empty; null with `*err` set on failure.
    ///
    /// liburing: `io_uring_setup_buf_ring(3)`.
    fn io_uring_setup_buf_ring(ring: *mut io_uring, nentries: c_uint, bgid: c_int, flags: c_uint, err: *mut c_int) -> *mut k::io_uring_buf_ring {
        let len = nentries as usize * size_of::<k::io_uring_buf>();
        let mut reg = k::io_uring_buf_reg { ring_entries: nentries, bgid: bgid as u16, flags: flags as u16, ..Default::default() };
        let mmap = flags & u32::from(k::IOU_PBUF_RING_MMAP) != 0;
        let mut br = ptr::null_mut();
        if !mmap {
            br = match sys::mmap_anonymous(len) {
                Ok(p) => p,
                Err(e) => {
                    *err = e;
                    return ptr::null_mut();
                }
            };
            reg.ring_addr = br as u64;
        }
        let ret = io_uring_register_buf_ring(ring, &mut reg, flags);
        if ret != 0 {
            sys::munmap(br, len);
            *err = ret;
            return ptr::null_mut();
        }
        if mmap {
            // The kernel allocated the ring: map it at its offset for this group.
            let off = k::IORING_OFF_PBUF_RING | (u64::from(bgid as u16) << k::IORING_OFF_PBUF_SHIFT);
            br = match backend::map((*ring).ring_fd, off, len) {
                Ok(p) => p,
                Err(e) => {
                    io_uring_unregister_buf_ring(ring, bgid);
                    *err = e;
                    return ptr::null_mut();
                }
            };
        }
        let br = br.cast::<k::io_uring_buf_ring>();
        // The tail lives in the `resv` of the first buffer: `io_uring_buf_ring_init`.
        // Relaxed: nothing is published yet; the kernel only reads it once we advance.
        store_relaxed_u16(br, 0);
        *err = 0;
        br
    }
}

/// Stores `tail` into the tail word of buffer ring `br`.
///
/// # Safety
/// `br` must point to a live buffer ring.
unsafe fn store_relaxed_u16(br: *mut k::io_uring_buf_ring, tail: u16) {
    // SAFETY: the tail is the u16 at offset 14 of the ring (overlaying the first
    // buffer's `resv`), 2-byte aligned; the kernel only loads it.
    unsafe {
        let p = br.cast::<u8>().add(14).cast::<u16>();
        core::sync::atomic::AtomicU16::from_ptr(p)
            .store(tail, core::sync::atomic::Ordering::Relaxed);
    }
}

register_fn! {
    /// Unregisters provided-buffer ring `bgid` and unmaps `br` (`nentries` entries).
    ///
    /// liburing: `io_uring_free_buf_ring(3)`.
    fn io_uring_free_buf_ring(ring: *mut io_uring, br: *mut k::io_uring_buf_ring, nentries: c_uint, bgid: c_int) -> c_int {
        let ret = io_uring_unregister_buf_ring(ring, bgid);
        if ret != 0 {
            return ret;
        }
        sys::munmap(br.cast(), nentries as usize * size_of::<k::io_uring_buf>());
        0
    }
}

register_fn! {
    /// Cancels requests synchronously (`IORING_REGISTER_SYNC_CANCEL`): 0, a count, or
    /// `-errno`.
    ///
    /// liburing: `io_uring_register_sync_cancel(3)`.
    fn io_uring_register_sync_cancel(ring: *mut io_uring, reg: *mut k::io_uring_sync_cancel_reg) -> c_int {
        do_register(ring, k::IORING_REGISTER_SYNC_CANCEL, reg.cast(), 1)
    }
}

register_fn! {
    /// Sets the fixed-file slots direct-descriptor allocation may use: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_file_alloc_range(3)`.
    fn io_uring_register_file_alloc_range(ring: *mut io_uring, off: c_uint, len: c_uint) -> c_int {
        let range = k::io_uring_file_index_range { off, len, resv: 0 };
        do_register(ring, k::IORING_REGISTER_FILE_ALLOC_RANGE, (&raw const range).cast(), 0)
    }
}

register_fn! {
    /// Enables NAPI busy polling as `napi` says: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_napi(3)`.
    fn io_uring_register_napi(ring: *mut io_uring, napi: *mut k::io_uring_napi) -> c_int {
        do_register(ring, k::IORING_REGISTER_NAPI, napi.cast(), 1)
    }
}

register_fn! {
    /// Disables NAPI busy polling, writing the old settings to `napi` if not null.
    ///
    /// liburing: `io_uring_unregister_napi(3)`.
    fn io_uring_unregister_napi(ring: *mut io_uring, napi: *mut k::io_uring_napi) -> c_int {
        do_register(ring, k::IORING_UNREGISTER_NAPI, napi.cast(), 1)
    }
}

register_fn! {
    /// Chooses the clock of wait timeouts (`IORING_REGISTER_CLOCK`): 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_clock(3)`.
    fn io_uring_register_clock(ring: *mut io_uring, arg: *mut k::io_uring_clock_register) -> c_int {
        do_register(ring, k::IORING_REGISTER_CLOCK, arg.cast(), 0)
    }
}

register_fn! {
    /// Copies `nr` fixed buffers of `src` from `src_off` into `dst` at `dst_off`
    /// (`IORING_REGISTER_CLONE_BUFFERS`, `flags` such as `IORING_REGISTER_DST_REPLACE`):
    /// 0 or `-errno`.
    ///
    /// liburing: `__io_uring_clone_buffers_offset`.
    fn __io_uring_clone_buffers_offset(dst: *mut io_uring, src: *mut io_uring, dst_off: c_uint, src_off: c_uint, nr: c_uint, flags: c_uint) -> c_int {
        let mut buf = k::io_uring_clone_buffers { src_fd: (*src).ring_fd as u32, flags, src_off, dst_off, nr, ..Default::default() };
        if (*src).int_flags & INT_FLAG_REG_REG_RING != 0 {
            buf.src_fd = (*src).enter_ring_fd as u32;
            buf.flags |= k::IORING_REGISTER_SRC_REGISTERED;
        }
        do_register(dst, k::IORING_REGISTER_CLONE_BUFFERS, (&raw const buf).cast(), 1)
    }
}

register_fn! {
    /// Clones a range of `src`'s fixed buffers into `dst`.
    ///
    /// liburing: `io_uring_clone_buffers_offset(3)`.
    fn io_uring_clone_buffers_offset(dst: *mut io_uring, src: *mut io_uring, dst_off: c_uint, src_off: c_uint, nr: c_uint, flags: c_uint) -> c_int {
        __io_uring_clone_buffers_offset(dst, src, dst_off, src_off, nr, flags)
    }
}

register_fn! {
    /// Clones all of `src`'s fixed buffers into `dst`, with `flags`.
    ///
    /// liburing: `__io_uring_clone_buffers`.
    fn __io_uring_clone_buffers(dst: *mut io_uring, src: *mut io_uring, flags: c_uint) -> c_int {
        __io_uring_clone_buffers_offset(dst, src, 0, 0, 0, flags)
    }
}

register_fn! {
    /// Clones all of `src`'s fixed buffers into `dst`.
    ///
    /// liburing: `io_uring_clone_buffers(3)`.
    fn io_uring_clone_buffers(dst: *mut io_uring, src: *mut io_uring) -> c_int {
        __io_uring_clone_buffers_offset(dst, src, 0, 0, 0, 0)
    }
}

register_fn! {
    /// Registers a memory region (`IORING_REGISTER_MEM_REGION`, Linux 6.13), e.g. the
    /// wait region of `io_uring_submit_and_wait_reg`: 0 or `-errno`.
    ///
    /// liburing: `io_uring_register_region(3)`.
    fn io_uring_register_region(ring: *mut io_uring, reg: *mut k::io_uring_mem_region_reg) -> c_int {
        do_register(ring, k::IORING_REGISTER_MEM_REGION, reg.cast(), 1)
    }
}

/// The wait-region registration of a kernel interface withdrawn before Linux 6.13 was
/// released; as in liburing, always `-EINVAL`: register the region with
/// `io_uring_register_region` instead.
///
/// liburing: `io_uring_register_wait_reg(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_register_wait_reg(
    _ring: *mut io_uring,
    _reg: *mut k::io_uring_reg_wait,
    _nr: c_int,
) -> c_int {
    -libc::EINVAL
}

register_fn! {
    /// Registers a zero-copy receive interface queue (`IORING_REGISTER_ZCRX_IFQ`).
    ///
    /// liburing: `io_uring_register_ifq(3)`.
    fn io_uring_register_ifq(ring: *mut io_uring, reg: *mut k::io_uring_zcrx_ifq_reg) -> c_int {
        do_register(ring, k::IORING_REGISTER_ZCRX_IFQ, reg.cast(), 1)
    }
}

/// `IORING_REGISTER_ZCRX_CTRL` and `IORING_REGISTER_BPF_FILTER`: register opcodes of
/// liburing 2.15's header, newer than Linux 6.18 (whose `IORING_REGISTER_LAST` is 36).
/// A kernel without them answers `-EINVAL`, which is what liburing returns there too.
const IORING_REGISTER_ZCRX_CTRL: u32 = 36;
const IORING_REGISTER_BPF_FILTER: u32 = 37;

register_fn! {
    /// Controls a zero-copy receive queue (`IORING_REGISTER_ZCRX_CTRL`, `ctrl` a
    /// `struct zcrx_ctrl`): 0 or `-errno` (`-EINVAL` on kernels before it).
    ///
    /// liburing: `io_uring_register_zcrx_ctrl(3)`.
    fn io_uring_register_zcrx_ctrl(ring: *mut io_uring, ctrl: *mut c_void) -> c_int {
        do_register(ring, IORING_REGISTER_ZCRX_CTRL, ctrl, 0)
    }
}

register_fn! {
    /// Attaches a classic-BPF filter of requests to `ring` (`IORING_REGISTER_BPF_FILTER`,
    /// `bpf` a `struct io_uring_bpf`): 0 or `-errno` (`-EINVAL` on kernels before it).
    ///
    /// liburing: `io_uring_register_bpf_filter(3)`.
    fn io_uring_register_bpf_filter(ring: *mut io_uring, bpf: *mut c_void) -> c_int {
        do_register(ring, IORING_REGISTER_BPF_FILTER, bpf, 1)
    }
}

/// Attaches a classic-BPF filter to every ring the calling task creates from now on
/// (`IORING_REGISTER_BPF_FILTER` with no ring, fd -1): 0 or `-errno`.
///
/// liburing: `io_uring_register_bpf_filter_task(3)`.
///
/// # Safety
/// `bpf` must be null or point to a readable `struct io_uring_bpf` whose filter
/// program is readable.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_register_bpf_filter_task(bpf: *mut c_void) -> c_int {
    // SAFETY: forwarded contract; fd -1 names no ring, as the task-wide form requires.
    unsafe { backend::register(u32::MAX, IORING_REGISTER_BPF_FILTER, bpf, 1) }
}

/// Asks the kernel what it supports (`IORING_REGISTER_QUERY`, Linux 6.18): fills the
/// chain of `struct io_uring_query_hdr` starting at `query`; 0 or `-errno`.
///
/// liburing: `io_uring_register_query(3)`.
///
/// # Safety
/// `query` must be null or the first of a chain of query headers, each with its
/// `query_data` buffer valid for `size` bytes.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_register_query(query: *mut k::io_uring_query_hdr) -> c_int {
    // SAFETY: forwarded contract; a query needs no ring (fd -1) and `nr_args` 0.
    unsafe { backend::register(u32::MAX, k::IORING_REGISTER_QUERY, query.cast(), 0) }
}

/// Posts the `MSG_RING` request `sqe` without a source ring
/// (`IORING_REGISTER_SEND_MSG_RING`, Linux 6.13): 0 or `-errno`.
///
/// liburing: `io_uring_register_sync_msg(3)`.
///
/// # Safety
/// `sqe` must be null or a readable SQE.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_register_sync_msg(sqe: *mut k::io_uring_sqe) -> c_int {
    // SAFETY: forwarded contract; fd -1 names no ring, as this operation requires.
    unsafe { backend::register(u32::MAX, k::IORING_REGISTER_SEND_MSG_RING, sqe.cast(), 1) }
}

/// Chooses whether waits count as iowait (`IORING_ENTER_NO_IOWAIT` when not, Linux
/// 6.15): 0, or `-EOPNOTSUPP` without `IORING_FEAT_NO_IOWAIT`.
///
/// liburing: `io_uring_set_iowait(3)`.
///
/// # Safety
/// `ring` must be a ring set up by this library.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_set_iowait(ring: *mut io_uring, enable_iowait: bool) -> c_int {
    // SAFETY: caller's contract.
    unsafe {
        if (*ring).features & k::IORING_FEAT_NO_IOWAIT == 0 {
            return -libc::EOPNOTSUPP;
        }
        if enable_iowait {
            (*ring).int_flags &= !INT_FLAG_NO_IOWAIT;
        } else {
            (*ring).int_flags |= INT_FLAG_NO_IOWAIT;
        }
    }
    0
}

symver!(
    __io_uring_clone_buffers,
    __io_uring_clone_buffers_offset,
    io_uring_buf_ring_head,
    io_uring_clone_buffers,
    io_uring_clone_buffers_offset,
    io_uring_close_ring_fd,
    io_uring_enable_rings,
    io_uring_free_buf_ring,
    io_uring_register_buf_ring,
    io_uring_register_buffers,
    io_uring_register_buffers_sparse,
    io_uring_register_buffers_tags,
    io_uring_register_buffers_update_tag,
    io_uring_register_bpf_filter,
    io_uring_register_bpf_filter_task,
    io_uring_register_clock,
    io_uring_register_eventfd,
    io_uring_register_eventfd_async,
    io_uring_register_file_alloc_range,
    io_uring_register_files,
    io_uring_register_files_sparse,
    io_uring_register_files_tags,
    io_uring_register_files_update,
    io_uring_register_files_update_tag,
    io_uring_register_ifq,
    io_uring_register_iowq_aff,
    io_uring_register_iowq_max_workers,
    io_uring_register_napi,
    io_uring_register_personality,
    io_uring_register_probe,
    io_uring_register_query,
    io_uring_register_region,
    io_uring_register_restrictions,
    io_uring_register_ring_fd,
    io_uring_register_sync_cancel,
    io_uring_register_sync_msg,
    io_uring_register_zcrx_ctrl,
    io_uring_register_wait_reg,
    io_uring_set_iowait,
    io_uring_setup_buf_ring,
    io_uring_unregister_buf_ring,
    io_uring_unregister_buffers,
    io_uring_unregister_eventfd,
    io_uring_unregister_files,
    io_uring_unregister_iowq_aff,
    io_uring_unregister_napi,
    io_uring_unregister_personality,
    io_uring_unregister_ring_fd
);
