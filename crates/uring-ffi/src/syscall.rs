//! The raw system call wrappers liburing exports (its `syscall.c`): each returns the
//! kernel's result or `-errno`, never touching `errno`, and goes to whichever backend
//! owns the ring.
use core::ffi::{c_int, c_uint, c_void};

use uring_sys::io_uring_params;

use crate::backend;

/// `io_uring_setup(2)` on the backend `URING_BACKEND` chooses: the ring fd, or
/// `-errno`.
///
/// liburing: `io_uring_setup(2)`.
///
/// # Safety
/// `p` must be null (`-EFAULT`) or a readable, writable `io_uring_params`; with
/// `IORING_SETUP_NO_MMAP` its `user_addr`s must name memory that outlives the ring.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_setup(entries: c_uint, p: *mut io_uring_params) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { backend::setup(entries, p) }
}

/// `io_uring_enter(2)` with a signal mask: SQEs consumed, or `-errno`.
///
/// liburing: `io_uring_enter(2)`.
///
/// # Safety
/// `sig` null or a signal set; the SQEs published must reference memory valid until
/// their completions.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_enter(
    fd: c_uint,
    to_submit: c_uint,
    min_complete: c_uint,
    flags: c_uint,
    sig: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded contract; `_NSIG / 8` is the kernel's signal-set size.
    unsafe { backend::enter(fd, to_submit, min_complete, flags, sig.cast(), 8) }
}

/// `io_uring_enter2(2)`: `io_uring_enter` with an argument of `sz` bytes, whose kind
/// `flags` say (signal set, `io_uring_getevents_arg`, wait-region offset).
///
/// liburing: `io_uring_enter2(2)`.
///
/// # Safety
/// As [`io_uring_enter`], with `arg`/`sz` what `flags` say.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_enter2(
    fd: c_uint,
    to_submit: c_uint,
    min_complete: c_uint,
    flags: c_uint,
    arg: *mut c_void,
    sz: usize,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { backend::enter(fd, to_submit, min_complete, flags, arg, sz) }
}

/// `io_uring_register(2)`: the operation's result, or `-errno`.
///
/// liburing: `io_uring_register(2)`.
///
/// # Safety
/// `arg` null or what `opcode` expects, `nr_args` of it.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_register(
    fd: c_uint,
    opcode: c_uint,
    arg: *const c_void,
    nr_args: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { backend::register(fd, opcode, arg, nr_args) }
}

symver!(
    io_uring_enter,
    io_uring_enter2,
    io_uring_register,
    io_uring_setup
);
