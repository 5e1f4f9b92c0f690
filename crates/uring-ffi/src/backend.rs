//! Where a ring lives: the kernel's io_uring, or (by `URING_BACKEND`) the user-space
//! engine. Every system call of the library goes through here: `io_uring_setup`,
//! `io_uring_enter`, `io_uring_register`, and the mapping, unmapping and closing of
//! ring memory and ring fds.
//!
//! `URING_BACKEND` is read once, at the first ring set up:
//! - `kernel`: the kernel only; its error is the caller's error;
//! - `engine`: the engine only;
//! - `auto` (or unset): the kernel, and the engine when the kernel refuses io_uring
//!   with `EPERM` (seccomp, `kernel.io_uring_disabled`, an LSM) or `ENOSYS`.
use core::ffi::c_void;
use std::os::fd::RawFd;
use std::sync::OnceLock;

use uring_sys::io_uring_params;

use crate::sys;

/// The backend `URING_BACKEND` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    Kernel,
    Engine,
    Auto,
}

/// The `URING_BACKEND` choice, read once; an unknown value is treated as `auto`.
pub(crate) fn choice() -> Choice {
    static CHOICE: OnceLock<Choice> = OnceLock::new();
    *CHOICE.get_or_init(|| match std::env::var("URING_BACKEND").as_deref() {
        Ok("kernel") => Choice::Kernel,
        Ok("engine") => Choice::Engine,
        _ => Choice::Auto,
    })
}

/// Whether a kernel refusal of `io_uring_setup` means "io_uring is not available
/// here", which `auto` answers by using the engine.
pub(crate) fn refused(err: i32) -> bool {
    err == -libc::EPERM || err == -libc::ENOSYS
}

/// `io_uring_setup(2)` on the chosen backend: the ring fd, or `-errno`.
///
/// # Safety
/// As [`sys::io_uring_setup`].
pub(crate) unsafe fn setup(entries: u32, p: *mut io_uring_params) -> i32 {
    match choice() {
        // SAFETY: forwarded contract.
        Choice::Kernel => unsafe { sys::io_uring_setup(entries, p) },
        // SAFETY: forwarded contract.
        Choice::Engine => unsafe { engine::setup(entries, p) },
        Choice::Auto => {
            // SAFETY: forwarded contract.
            let fd = unsafe { sys::io_uring_setup(entries, p) };
            if fd < 0 && refused(fd) {
                // SAFETY: forwarded contract; the kernel wrote nothing into `p`.
                unsafe { engine::setup(entries, p) }
            } else {
                fd
            }
        }
    }
}

/// `io_uring_enter(2)` on whichever backend owns `fd`: SQEs consumed, or `-errno`.
///
/// # Safety
/// As [`sys::io_uring_enter`].
#[inline]
pub(crate) unsafe fn enter(
    fd: u32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> i32 {
    if let Some(ring) = engine::lookup(fd as RawFd, flags) {
        // SAFETY: forwarded contract.
        return unsafe { engine::enter(&ring, to_submit, min_complete, flags, arg, argsz) };
    }
    // SAFETY: forwarded contract.
    unsafe { sys::io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz) }
}

/// `io_uring_register(2)` on whichever backend owns `fd`: the result, or `-errno`.
///
/// # Safety
/// As [`sys::io_uring_register`].
pub(crate) unsafe fn register(fd: u32, opcode: u32, arg: *const c_void, nr: u32) -> i32 {
    let flags = if opcode & uring_sys::IORING_REGISTER_USE_REGISTERED_RING != 0 {
        uring_sys::IORING_ENTER_REGISTERED_RING
    } else {
        0
    };
    if let Some(ring) = engine::lookup(fd as RawFd, flags) {
        // SAFETY: forwarded contract.
        return unsafe { engine::register(&ring, opcode, arg, nr) };
    }
    // SAFETY: forwarded contract.
    unsafe { sys::io_uring_register(fd, opcode, arg, nr) }
}

/// Maps ring region `offset` (`IORING_OFF_*`) of ring `fd`, `len` bytes.
pub(crate) fn map(fd: RawFd, offset: u64, len: usize) -> Result<*mut c_void, i32> {
    if let Some(ring) = engine::lookup(fd, 0) {
        return engine::map(&ring, offset, len);
    }
    sys::mmap_ring(fd, offset, len)
}

/// Undoes [`map`]: the kernel's mappings are unmapped; an engine ring's memory belongs
/// to the engine and goes when the ring is closed.
///
/// # Safety
/// `[ptr, ptr + len)` must have come from [`map`] on `fd` and be unused from now on.
pub(crate) unsafe fn unmap(fd: RawFd, ptr: *mut c_void, len: usize) {
    if engine::lookup(fd, 0).is_none() {
        // SAFETY: forwarded contract.
        unsafe { sys::munmap(ptr, len) }
    }
}

/// Closes ring `fd`, whichever backend owns it.
pub(crate) fn close(fd: RawFd) {
    if !engine::remove(fd) {
        sys::close(fd);
    }
}

/// The engine arm: a registry from the fds of engine rings to their [`EngineRing`].
///
/// The engine's ring fd is a pollable eventfd it owns; C code holds it as `ring_fd`
/// and passes it to every call, which comes here first. Registered ring indices
/// (`IORING_REGISTER_RING_FDS`) of engine rings are handed out by this module as
/// `ENGINE_INDEX | fd`, a range the kernel's indices (below 16) never reach, so a
/// `REGISTERED_RING` enter finds its backend without any per-thread table.
mod engine {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, RwLock};

    use uring_engine::EngineRing;
    use uring_sys as k;

    use super::*;

    /// The bit that marks a registered index as an engine ring's.
    const ENGINE_INDEX: u32 = 1 << 30;

    /// One engine ring and what still refers to it.
    struct Entry {
        fd: RawFd,
        ring: Arc<EngineRing>,
        /// The fd was handed to C and not closed yet.
        fd_open: bool,
        /// Registered as a ring index and not unregistered yet.
        registered: bool,
    }

    /// How many engine rings exist: zero lets every call of a kernel-only program
    /// skip the registry. Relaxed is enough: an fd only reaches another thread
    /// through something that synchronises (the C code passing it on), and the
    /// count rose before the fd was returned.
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static RINGS: RwLock<Vec<Entry>> = RwLock::new(Vec::new());

    /// The engine ring `fd` stands for (with `IORING_ENTER_REGISTERED_RING` in
    /// `flags`, `fd` is a registered index), if any.
    #[inline(always)]
    pub(super) fn lookup(fd: RawFd, flags: u32) -> Option<Arc<EngineRing>> {
        if COUNT.load(Ordering::Relaxed) == 0 {
            return None;
        }
        lookup_slow(fd, flags)
    }

    #[cold]
    fn lookup_slow(fd: RawFd, flags: u32) -> Option<Arc<EngineRing>> {
        let fd = if flags & k::IORING_ENTER_REGISTERED_RING != 0 {
            if fd as u32 & ENGINE_INDEX == 0 {
                return None;
            }
            (fd as u32 & !ENGINE_INDEX) as RawFd
        } else {
            fd
        };
        let rings = RINGS.read().unwrap_or_else(|e| e.into_inner());
        rings
            .iter()
            .find(|e| e.fd == fd)
            .or_else(|| rings.iter().find(|e| e.ring.owns_fd(fd)))
            .map(|e| Arc::clone(&e.ring))
    }

    /// Applies `change` to the entry of `fd` (the ring fd setup returned or, that not
    /// matching, a `dup` of it the program made) and drops the ring once nothing refers
    /// to it; false if `fd` is not an engine ring.
    fn update(fd: RawFd, change: impl FnOnce(&mut Entry)) -> bool {
        let mut rings = RINGS.write().unwrap_or_else(|e| e.into_inner());
        let Some(i) = rings
            .iter()
            .position(|e| e.fd == fd)
            .or_else(|| rings.iter().position(|e| e.ring.owns_fd(fd)))
        else {
            return false;
        };
        change(&mut rings[i]);
        if !rings[i].fd_open && !rings[i].registered {
            let entry = rings.swap_remove(i);
            COUNT.fetch_sub(1, Ordering::Relaxed);
            drop(rings);
            // Dropping the last reference stops the ring's threads and closes its fd.
            drop(entry);
        }
        true
    }

    /// Forgets C's fd of an engine ring, dropping the ring unless a registered index
    /// still refers to it; false if `fd` is not an engine ring. A `dup` of the ring fd
    /// is closed here (the ring closes only the fd it returned).
    pub(super) fn remove(fd: RawFd) -> bool {
        let mut dup = false;
        let found = COUNT.load(Ordering::Relaxed) != 0
            && update(fd, |e| {
                dup = e.fd != fd;
                e.fd_open = false;
            });
        if dup {
            sys::close(fd);
        }
        found
    }

    /// `io_uring_setup` on the engine: the ring's fd (its registered index with
    /// `IORING_SETUP_REGISTERED_FD_ONLY`), or `-errno`.
    ///
    /// # Safety
    /// As [`sys::io_uring_setup`].
    pub(super) unsafe fn setup(entries: u32, p: *mut io_uring_params) -> i32 {
        if p.is_null() {
            return -libc::EFAULT;
        }
        let config = match uring_engine::Config::from_env() {
            Ok(c) => c,
            Err(e) => return -e.raw_os_error().unwrap_or(libc::EINVAL),
        };
        // SAFETY: `p` is a writable io_uring_params (caller's contract), not aliased
        // during the call; NO_MMAP memory is the caller's to keep valid while the ring
        // lives, as io_uring_setup(2) requires of it.
        let ring = match unsafe { EngineRing::with_user_memory(entries, &mut *p, config) } {
            Ok(ring) => ring,
            Err(e) => return -e.raw_os_error().unwrap_or(libc::EINVAL),
        };
        let fd = ring.fd();
        // SAFETY: as above; the engine filled `p` in.
        let fd_only = unsafe { (*p).flags } & k::IORING_SETUP_REGISTERED_FD_ONLY != 0;
        let mut rings = RINGS.write().unwrap_or_else(|e| e.into_inner());
        for stale in rings.iter_mut().filter(|e| e.fd == fd) {
            // The program closed this ring's fd itself (close(2), not
            // io_uring_queue_exit), and the number now names the new ring. The old
            // ring lives on for any duplicate of its fd (found by `owns_fd`), as a
            // kernel ring does, but no longer answers to the number.
            stale.fd = -1;
        }
        rings.push(Entry {
            fd,
            ring: Arc::new(ring),
            fd_open: !fd_only,
            registered: fd_only,
        });
        drop(rings);
        COUNT.fetch_add(1, Ordering::Relaxed);
        if fd_only {
            (ENGINE_INDEX | fd as u32) as i32
        } else {
            fd
        }
    }

    /// `io_uring_enter` on an engine ring.
    ///
    /// # Safety
    /// As [`sys::io_uring_enter`].
    pub(super) unsafe fn enter(
        ring: &EngineRing,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> i32 {
        // The index has done its job of finding the ring.
        let flags = flags & !k::IORING_ENTER_REGISTERED_RING;
        // SAFETY: forwarded contract.
        match unsafe { ring.enter(to_submit, min_complete, flags, arg, argsz) } {
            Ok(n) => n as i32,
            Err(e) => -e.raw_os_error().unwrap_or(libc::EINVAL),
        }
    }

    /// `io_uring_register` on an engine ring; ring-fd registration is this
    /// module's (see above), the rest the engine's.
    ///
    /// # Safety
    /// As [`sys::io_uring_register`].
    pub(super) unsafe fn register(
        ring: &EngineRing,
        opcode: u32,
        arg: *const c_void,
        nr: u32,
    ) -> i32 {
        let opcode = opcode & !k::IORING_REGISTER_USE_REGISTERED_RING;
        match opcode {
            // SAFETY: forwarded contract: `arg` holds `nr` updates.
            k::IORING_REGISTER_RING_FDS => unsafe { ring_fds(arg.cast_mut().cast(), nr, true) },
            // SAFETY: as above.
            k::IORING_UNREGISTER_RING_FDS => unsafe { ring_fds(arg.cast_mut().cast(), nr, false) },
            // SAFETY: forwarded contract.
            _ => match unsafe { ring.register(opcode, arg, nr) } {
                Ok(n) => n as i32,
                Err(e) => -e.raw_os_error().unwrap_or(libc::EINVAL),
            },
        }
    }

    /// Registers (or unregisters) engine rings as indices: `ENGINE_INDEX | fd`.
    /// Returns how many updates were done, or `-errno` for the first.
    ///
    /// # Safety
    /// `ups` must be null or point to `nr` writable updates.
    unsafe fn ring_fds(ups: *mut k::io_uring_rsrc_update, nr: u32, add: bool) -> i32 {
        if ups.is_null() {
            return -libc::EFAULT;
        }
        let mut done = 0;
        for i in 0..nr as usize {
            // SAFETY: within the caller's `nr` updates.
            let up = unsafe { &mut *ups.add(i) };
            let fd = if add {
                up.data as RawFd
            } else {
                (up.offset & !ENGINE_INDEX) as RawFd
            };
            let valid = up.resv == 0 && (add || up.offset & ENGINE_INDEX != 0);
            if !valid || !update(fd, |e| e.registered = add) {
                return if done > 0 { done } else { -libc::EINVAL };
            }
            if add {
                up.offset = ENGINE_INDEX | fd as u32;
            }
            done += 1;
        }
        done
    }

    /// What mmap of the engine ring at `offset` gives.
    pub(super) fn map(ring: &EngineRing, offset: u64, _len: usize) -> Result<*mut c_void, i32> {
        ring.mmap(offset)
            .map(|(ptr, _)| ptr.cast())
            .map_err(|e| -e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}
