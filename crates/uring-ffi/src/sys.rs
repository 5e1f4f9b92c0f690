//! System calls that return `-errno` and never write the thread's `errno`, as
//! liburing's `syscall.h` does: io_uring's three calls are made with an inline
//! `syscall` instruction; memory mappings, `close` and resource limits go through
//! rustix, whose Linux backend makes raw system calls too.
use core::ffi::c_void;
use std::os::fd::RawFd;

use rustix::mm::{self, MapFlags, ProtFlags};

/// Six-argument raw system call: the kernel's return value, `-errno` on failure.
///
/// # Safety
/// The arguments must be what system call `nr` expects; any pointer among them must
/// be valid for what that call reads or writes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn syscall6(nr: i64, a: [usize; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the x86-64 Linux system call convention: number in rax, arguments in
    // rdi, rsi, rdx, r10, r8, r9; the kernel clobbers rcx and r11 and returns in rax.
    // The caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Six-argument raw system call: the kernel's return value, `-errno` on failure.
///
/// # Safety
/// As on x86-64.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn syscall6(nr: i64, a: [usize; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the AArch64 Linux convention: number in x8, arguments in x0-x5, result
    // in x0. The caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

/// Six-argument system call through libc, with `errno` put back as it was.
///
/// # Safety
/// As on x86-64.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn syscall6(nr: i64, a: [usize; 6]) -> i64 {
    // SAFETY: `__errno_location` returns this thread's errno slot; the caller vouches
    // for the system call's arguments.
    unsafe {
        let slot = libc::__errno_location();
        let saved = *slot;
        let ret = libc::syscall(nr as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]);
        if ret == -1 {
            let err = *slot;
            *slot = saved;
            return -(err as i64);
        }
        ret as i64
    }
}

/// `io_uring_setup(2)`: the ring fd, or `-errno`.
///
/// # Safety
/// `p` must be null (the kernel then fails with `EFAULT`) or point to a writable
/// `io_uring_params`; with `IORING_SETUP_NO_MMAP` its `user_addr`s must name memory
/// that stays valid for the life of the ring.
pub(crate) unsafe fn io_uring_setup(entries: u32, p: *mut uring_sys::io_uring_params) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        syscall6(
            libc::SYS_io_uring_setup,
            [entries as usize, p as usize, 0, 0, 0, 0],
        ) as i32
    }
}

/// `io_uring_enter(2)`: SQEs consumed, or `-errno`.
///
/// # Safety
/// As `io_uring_enter(2)` requires: `arg`/`argsz` describe what `flags` say, and every
/// SQE made visible by the SQ tail references memory valid until its completion.
#[inline]
pub(crate) unsafe fn io_uring_enter(
    fd: u32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        syscall6(
            libc::SYS_io_uring_enter,
            [
                fd as usize,
                to_submit as usize,
                min_complete as usize,
                flags as usize,
                arg as usize,
                argsz,
            ],
        ) as i32
    }
}

/// `io_uring_register(2)`: the opcode's result, or `-errno`.
///
/// # Safety
/// `arg` must point to what `opcode` expects, `nr_args` of it (or be null where the
/// opcode takes nothing), valid as long as the registration needs it.
pub(crate) unsafe fn io_uring_register(fd: u32, opcode: u32, arg: *const c_void, nr: u32) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        syscall6(
            libc::SYS_io_uring_register,
            [
                fd as usize,
                opcode as usize,
                arg as usize,
                nr as usize,
                0,
                0,
            ],
        ) as i32
    }
}

/// `-errno` of a rustix error.
pub(crate) fn neg(e: rustix::io::Errno) -> i32 {
    -e.raw_os_error()
}

/// Maps `len` bytes of the ring fd at the magic `offset`, shared and populated, as
/// liburing maps every ring region.
pub(crate) fn mmap_ring(fd: RawFd, offset: u64, len: usize) -> Result<*mut c_void, i32> {
    // SAFETY: a fresh mapping at an address the kernel chooses overlaps nothing of
    // ours; `fd` is only borrowed for the call.
    unsafe {
        mm::mmap(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED | MapFlags::POPULATE,
            std::os::fd::BorrowedFd::borrow_raw(fd),
            offset,
        )
    }
    .map_err(neg)
}

/// Maps `len` bytes of zeroed private anonymous memory.
pub(crate) fn mmap_anonymous(len: usize) -> Result<*mut c_void, i32> {
    // SAFETY: a fresh anonymous mapping overlaps nothing of ours.
    unsafe {
        mm::mmap_anonymous(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .map_err(neg)
}

/// Unmaps `[ptr, ptr + len)`; a null `ptr` or zero `len` is a no-op.
///
/// # Safety
/// The range must be a mapping made by this library that nothing uses any more.
pub(crate) unsafe fn munmap(ptr: *mut c_void, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    // SAFETY: the caller owns the range and is done with it. A failure leaves the
    // mapping in place, which is all liburing does about it too.
    let _ = unsafe { mm::munmap(ptr, len) };
}

/// `madvise(ptr, len, MADV_DONTFORK)`: 0 or `-errno`.
///
/// # Safety
/// `[ptr, ptr + len)` must be mapped memory.
pub(crate) unsafe fn madvise_dontfork(ptr: *mut c_void, len: usize) -> i32 {
    // SAFETY: the caller vouches the range is mapped; DONTFORK changes only what a
    // child inherits.
    match unsafe { mm::madvise(ptr, len, mm::Advice::LinuxDontFork) } {
        Ok(()) => 0,
        Err(e) => neg(e),
    }
}

/// `close(fd)`, ignoring the result as liburing does.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: the fd is the library's own ring fd, closed exactly once, by the caller's
    // contract (queue_exit / close_ring_fd / a failed init).
    unsafe { rustix::io::close(fd) };
}

/// The page size.
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

/// Raises the soft `RLIMIT_NOFILE` to at least `nr` (up to the hard limit), as
/// liburing does before retrying a file registration that failed with `EMFILE`.
pub(crate) fn raise_nofile(nr: u32) -> bool {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let want = u64::from(nr);
    if limit.current.is_some_and(|cur| cur < want) {
        limit.current = Some(match limit.maximum {
            Some(max) => want.min(max),
            None => want,
        });
        return setrlimit(Resource::Nofile, limit).is_ok();
    }
    false
}
