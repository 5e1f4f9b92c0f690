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
            if fd < 0 && refused(fd) && engine::AVAILABLE {
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

/// The engine arm. Without the engine built in, no fd is ever an engine ring, and
/// asking for the engine is answered as a kernel without io_uring would answer.
mod engine {
    use super::*;

    /// No engine in this build.
    pub(super) const AVAILABLE: bool = false;

    /// The engine ring `fd` stands for (with `IORING_ENTER_REGISTERED_RING` in
    /// `flags`, `fd` is a registered index), if any.
    #[inline(always)]
    pub(super) fn lookup(_fd: RawFd, _flags: u32) -> Option<Never> {
        None
    }

    /// Forgets engine ring `fd`, closing it; false if it is not one.
    pub(super) fn remove(_fd: RawFd) -> bool {
        false
    }

    /// `io_uring_setup` on the engine.
    ///
    /// # Safety
    /// As [`sys::io_uring_setup`].
    pub(super) unsafe fn setup(_entries: u32, _p: *mut io_uring_params) -> i32 {
        -libc::ENOSYS
    }

    /// An engine ring; there are none in this build.
    pub(super) enum Never {}

    /// # Safety
    /// As [`sys::io_uring_enter`].
    pub(super) unsafe fn enter(
        r: &Never,
        _: u32,
        _: u32,
        _: u32,
        _: *const c_void,
        _: usize,
    ) -> i32 {
        match *r {}
    }

    /// # Safety
    /// As [`sys::io_uring_register`].
    pub(super) unsafe fn register(r: &Never, _: u32, _: *const c_void, _: u32) -> i32 {
        match *r {}
    }

    pub(super) fn map(r: &Never, _: u64, _: usize) -> Result<*mut c_void, i32> {
        match *r {}
    }
}
