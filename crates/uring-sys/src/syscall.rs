//! The three io_uring system calls.
//!
//! These are raw: they return the kernel's value, or its error as an
//! [`std::io::Error`]. Through `libc::syscall` (setup, register, and enter with an
//! argument) a failure sets the thread's `errno`, which is where the error is read
//! from; the enter without an argument goes through rustix's raw system call and leaves
//! `errno` alone. A C ABI that promises liburing's convention (`-errno`, `errno`
//! untouched) makes its own calls, as `uring-ffi` does.
//!
//! Why `libc::syscall` and not rustix's `io_uring` module: rustix's wrappers fix the
//! argument types in ways the full ABI does not allow: `io_uring_setup` returns an
//! `OwnedFd`, which is wrong when `IORING_SETUP_REGISTERED_FD_ONLY` makes the result a
//! registered ring *index* (dropping it would close an unrelated descriptor); its
//! register opcode is a closed enum that ends before `IORING_REGISTER_MEM_REGION` and
//! `IORING_REGISTER_QUERY`; and `io_uring_enter` is split by argument type. The
//! kernel's calling convention is three plain integer-or-pointer calls, so we make them
//! directly. The hot path, `io_uring_enter` without an argument (every submit and
//! plain wait), does go through rustix's inlined raw system call, which spares the
//! libc `syscall()` trampoline and its errno store. rustix is used for everything else
//! (mmap, files).
use std::ffi::c_void;
use std::io;

use crate::io_uring_params;

#[inline]
fn check(ret: libc::c_long) -> io::Result<u32> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as u32)
    }
}

/// `io_uring_setup(entries, params)`: creates a ring, returning its fd (or, with
/// `IORING_SETUP_REGISTERED_FD_ONLY`, its registered index).
///
/// # Errors
/// The kernel's `errno`: `EINVAL` for bad flags or sizes, `EPERM` or `ENOSYS` when
/// io_uring is disabled or filtered, `ENOMEM` when memlock is too small.
///
/// # Safety
/// With `IORING_SETUP_NO_MMAP`, `params.sq_off.user_addr` and `params.cq_off.user_addr`
/// must point to memory that is valid, suitably sized and aligned, and stays mapped
/// for the life of the ring. Otherwise the call is safe.
///
/// # References
/// io_uring_setup(2).
pub unsafe fn io_uring_setup(entries: u32, params: &mut io_uring_params) -> io::Result<u32> {
    // SAFETY: `params` is a valid, writable io_uring_params; the caller upholds the
    // NO_MMAP memory contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_setup,
            entries as libc::c_uint,
            params as *mut io_uring_params,
        )
    };
    check(ret)
}

/// `io_uring_enter2(fd, to_submit, min_complete, flags, arg, argsz)`: submits and/or
/// waits. Returns the number of SQEs consumed.
///
/// # Errors
/// The kernel's `errno`: `EINTR`, `ETIME` (timeout with `EXT_ARG`), `EBUSY`/`EAGAIN`
/// (CQ overflow backlog), `EBADR` (overflowed completions dropped), `EBADF`, `EINVAL`.
///
/// # Safety
/// `fd` must be an io_uring fd (or, with `IORING_ENTER_REGISTERED_RING`, a registered
/// index); `arg`/`argsz` must describe what `flags` say they are (a signal set, or an
/// `io_uring_getevents_arg`, or a registered-wait offset); every SQE made visible by the
/// SQ tail must reference memory valid until its completion.
///
/// # References
/// io_uring_enter(2).
#[inline]
pub unsafe fn io_uring_enter(
    fd: i32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> io::Result<u32> {
    if arg.is_null() {
        // The hot path (submit, submit-and-wait): rustix's raw system call, inlined,
        // with no errno round trip through libc.
        let flags = rustix::io_uring::IoringEnterFlags::from_bits_retain(flags);
        // SAFETY: `fd` is only passed through to the kernel, which validates it (an
        // index with REGISTERED_RING); it is never closed through this borrow. The
        // caller upholds the SQE contract.
        return unsafe {
            let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
            rustix::io_uring::io_uring_enter(fd, to_submit, min_complete, flags)
        }
        .map_err(io::Error::from);
    }
    // SAFETY: the caller upholds the contract above; all arguments are plain integers
    // or pointers the kernel validates.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd as libc::c_long,
            to_submit as libc::c_long,
            min_complete as libc::c_long,
            flags as libc::c_long,
            arg,
            argsz,
        )
    };
    check(ret)
}

/// `io_uring_register(fd, opcode, arg, nr_args)`: registers or queries resources.
///
/// # Errors
/// The kernel's `errno` for the given opcode.
///
/// # Safety
/// `arg` must point to what `opcode` expects, `nr_args` items of it, valid (and, for
/// buffers, mapped) for as long as the registration needs.
///
/// # References
/// io_uring_register(2).
pub unsafe fn io_uring_register(
    fd: i32,
    opcode: u32,
    arg: *const c_void,
    nr_args: u32,
) -> io::Result<u32> {
    // SAFETY: the caller upholds the contract above.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd as libc::c_long,
            opcode as libc::c_long,
            arg,
            nr_args as libc::c_long,
        )
    };
    check(ret)
}
