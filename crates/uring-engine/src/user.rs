//! Reading application memory at prep time: the engine's `copy_from_user`.
//!
//! The kernel copies what an SQE points to (iovecs, msghdr, socket addresses,
//! timespecs, paths, `open_how`, epoll events, futex vectors, fd arrays) with
//! `copy_from_user`, which fails with `-EFAULT` on an address it cannot read. A C
//! program may pass such an address on purpose (liburing's tests do) and must get the
//! errno, never a crash: so the engine never dereferences a pointer the kernel has not
//! vouched for. Reads go one of three ways, the first that the process's seccomp
//! filter allows (chosen once per process):
//!
//! - Probe, then copy: the kernel is asked whether each page of the range can be read,
//!   without copying it — `rt_sigprocmask(2)` with an invalid `how` copies its 8-byte
//!   signal set from the given address first (`EFAULT` if it cannot: unmapped,
//!   `PROT_NONE`, a file mapping past its end, a kernel address) and then refuses the
//!   `how` (`EINVAL`), changing nothing. A range whose pages all pass is copied with a
//!   plain `memcpy`. One system call at the floor's cost per page touched (a copy
//!   crosses a page boundary rarely), no fd, no state; every seccomp profile that lets
//!   a program run allows `rt_sigprocmask`. What it does not cover: another thread of
//!   the application unmapping or `mprotect`ing the range between the probe and the
//!   copy — memory it handed to this very submission (the SQE contract: what an SQE
//!   points to stays valid until the submission returns) — would crash where the
//!   kernel returns `EFAULT`.
//! - `process_vm_readv(2)` on its own process: one system call per copy, no fd, and
//!   allowed by Docker's default seccomp profile (on kernels ≥ 4.8, the profile's
//!   `minKernel` rule) — the very place the engine exists for — and by the ptrace
//!   access check, which a process always passes for itself. It copies straight into
//!   the engine's buffer; a range that is partly unreadable comes back short, which is
//!   `-EFAULT` as in the kernel.
//! - Where a filter refuses it (`EPERM`, `ENOSYS`: gVisor, stricter profiles), a pipe:
//!   `write(2)` of the range into it (`EFAULT` if unreadable) and `read(2)` back, in
//!   pieces of the pipe's capacity, under a lock. Two system calls per copy; chosen
//!   once per process.
//!
//! Cost on the development machine (AMD EPYC VM, 2 vCPUs, loaded; CPU time per 64-byte
//! copy, `perf stat` task-clock over 200,000 copies): `getppid` 0.29 µs (the system
//! call floor), `process_vm_readv` 1.64 µs, pipe write+read 1.08 µs, `pwrite` to a
//! memfd read back through a mapping 0.93 µs; the `rt_sigprocmask` probe 0.19–0.25 µs
//! (wall clock per call over 200,000, loaded; `process_vm_readv` 1.76–1.86 µs in the
//! same run). `process_vm_readv` costs more per call but needs no fd in the
//! application's table and no per-thread state; the last fallback is the pipe. Only
//! prep-time reads of structures pay it: data buffers go to the system calls
//! themselves, which fault safely on their own. Writes to the application (rare:
//! results written through a pointer) always go through `process_vm_writev` or the
//! pipe: no probe says that a page is writable without writing it.
//!
//! While [`crate::fuzz_prep`] runs on this thread, reads outside the fuzzer's arena
//! are `-EFAULT` before any system call, so a fuzzer can hand prep arbitrary pointers.
use std::cell::Cell;
use std::ffi::CString;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

thread_local! {
    /// The fuzzer's arena on this thread (start, end), or (0, 0).
    static ARENA: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// While a submission is read on this thread ([`Submission`]): the last page the
    /// probe found readable in it, or [`NO_PAGE`]; [`OFF`] outside a submission.
    static PROBED: Cell<u64> = const { Cell::new(OFF) };
}

/// A type every bit pattern of which is a valid value (a plain C struct of integers
/// and pointers), so that bytes copied from the application can be one.
///
/// # Safety
/// Implement only for types without invalid bit patterns (no `bool`, enum, reference,
/// `NonNull`…).
pub(crate) unsafe trait Plain: Copy {}

// SAFETY: integers.
unsafe impl Plain for u8 {}
// SAFETY: integers.
unsafe impl Plain for i32 {}
// SAFETY: integers.
unsafe impl Plain for u64 {}
// SAFETY: a pointer and a length, any bits.
unsafe impl Plain for libc::iovec {}
// SAFETY: integers and pointers.
unsafe impl Plain for libc::msghdr {}
// SAFETY: integers.
unsafe impl Plain for libc::epoll_event {}
// SAFETY: integers.
unsafe impl Plain for uring_sys::__kernel_timespec {}

/// Whether `len` bytes at `addr` may be read at prep: `-EFAULT` for null, and while
/// fuzzing, for anything outside the arena.
#[inline]
fn check(addr: u64, len: usize) -> Result<(), i32> {
    if addr == 0 {
        return Err(-libc::EFAULT);
    }
    let (start, end) = ARENA.with(Cell::get);
    if end != 0 {
        let a = addr as usize;
        if a < start || a > end || end - a < len {
            return Err(-libc::EFAULT);
        }
    }
    Ok(())
}

/// Copies `len` bytes at application address `addr` to `dst`: `copy_from_user`.
///
/// # Safety
/// `dst` must be valid for writes of `len` bytes.
pub(crate) unsafe fn copy_from_user(dst: *mut u8, addr: u64, len: usize) -> Result<(), i32> {
    if len == 0 {
        return Ok(());
    }
    check(addr, len)?;
    if ARENA.with(Cell::get).1 != 0 {
        // Fuzzing: the range lies in the arena (checked), which is ours.
        // SAFETY: `addr..addr+len` is inside the live arena; `dst` is the caller's.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, dst, len) };
        return Ok(());
    }
    if PROBE.load(Ordering::Relaxed) != NO {
        match probe_readable(addr, len) {
            Ok(()) => {
                // SAFETY: every page of `addr..addr+len` was readable an instant ago,
                // and stays so: the application does not unmap or protect memory it
                // handed to the submission in progress (the SQE contract); `dst` is
                // the caller's. The two may overlap (a string read to the end of its
                // page runs over whatever the heap put after it, which can be `dst`):
                // `copy` is `memmove`.
                unsafe { std::ptr::copy(addr as *const u8, dst, len) };
                return Ok(());
            }
            Err(Some(e)) => return Err(e),
            // The probe is refused here: the copying system calls below.
            Err(None) => {}
        }
    }
    // SAFETY: forwarded: `dst` holds `len` bytes.
    unsafe { kernel_copy(dst, addr, len, Dir::FromUser) }
}

/// [`PROBED`] outside a submission: nothing is remembered.
const OFF: u64 = u64::MAX;
/// [`PROBED`] in a submission before any page was found readable.
const NO_PAGE: u64 = u64::MAX - 1;

/// The page size, asked once: `rustix::param::page_size` (through libc's `sysconf`
/// here) cost about 50 instructions per call, once per copy.
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(rustix::param::page_size)
}

/// The reading of one submission's SQEs on this thread (`Engine::submit`), during which
/// a page the probe found readable is not probed again: the application keeps what
/// those SQEs point to mapped until the submission returns (the SQE contract the probe
/// already relies on), so within it a page stays readable. A batch of `READV`s whose
/// iovecs share a page costs one probe, not one each.
pub(crate) struct Submission(());

impl Submission {
    pub(crate) fn begin() -> Submission {
        PROBED.with(|p| p.set(NO_PAGE));
        Submission(())
    }
}

impl Drop for Submission {
    fn drop(&mut self) {
        PROBED.with(|p| p.set(OFF));
    }
}

/// Whether the `rt_sigprocmask` probe was refused in this process ([`NO`]).
static PROBE: AtomicU8 = AtomicU8::new(UNKNOWN);
const NO: u8 = 2;

/// An invalid `how` for `rt_sigprocmask`: the kernel copies the set in, then refuses it.
const BAD_HOW: libc::c_long = 0x7fff;

/// Asks the kernel whether `len > 0` bytes at `addr` can be read, one page at a time
/// (see the module's documentation): `Ok`, `Err(Some(-EFAULT))`, or `Err(None)` if the
/// probe is not available (a seccomp filter refused it, and it is not tried again).
fn probe_readable(addr: u64, len: usize) -> Result<(), Option<i32>> {
    let page = page_size() as u64;
    let end = addr.checked_add(len as u64).ok_or(Some(-libc::EFAULT))?;
    let mut at = addr;
    let known = PROBED.with(Cell::get);
    while at < end {
        let page_start = at & !(page - 1);
        if page_start == known {
            // Found readable earlier in this submission.
            at = page_start + page;
            continue;
        }
        // 8 bytes inside this page, at or after `addr` where the page allows: the
        // page's readability is all that is asked.
        let probe = at.min(page_start + page - 8);
        // SAFETY: with an invalid `how` the kernel only copies 8 bytes from `probe`
        // (with its fault handling) and returns; no signal mask is read or changed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                BAD_HOW,
                probe as *const libc::c_void,
                std::ptr::null_mut::<libc::c_void>(),
                8 as libc::size_t,
            )
        };
        match (r, std::io::Error::last_os_error().raw_os_error()) {
            (-1, Some(libc::EINVAL)) => {
                if known != OFF {
                    PROBED.with(|p| p.set(page_start));
                }
            }
            (-1, Some(libc::EFAULT)) => return Err(Some(-libc::EFAULT)),
            _ => {
                PROBE.store(NO, Ordering::Relaxed);
                return Err(None);
            }
        }
        at = page_start + page;
    }
    Ok(())
}

/// Copies `len` bytes from `src` to application address `addr`: `copy_to_user`.
///
/// # Safety
/// `src` must be valid for reads of `len` bytes.
pub(crate) unsafe fn copy_to_user(addr: u64, src: *const u8, len: usize) -> Result<(), i32> {
    if len == 0 {
        return Ok(());
    }
    check(addr, len)?;
    if ARENA.with(Cell::get).1 != 0 {
        // SAFETY: `addr..addr+len` is inside the live arena; `src` is the caller's.
        unsafe { std::ptr::copy_nonoverlapping(src, addr as *mut u8, len) };
        return Ok(());
    }
    // SAFETY: forwarded: `src` holds `len` bytes.
    unsafe { kernel_copy(src.cast_mut(), addr, len, Dir::ToUser) }
}

/// Writes `v` at application address `addr`.
pub(crate) fn write<T: Plain>(addr: u64, v: T) -> Result<(), i32> {
    // SAFETY: `v` is `size_of::<T>()` readable bytes.
    unsafe { copy_to_user(addr, (&raw const v).cast(), size_of::<T>()) }
}

/// Reads a `T` at application address `addr`.
pub(crate) fn read<T: Plain>(addr: u64) -> Result<T, i32> {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `v` has room for a T; the copy fills every byte or fails.
    unsafe { copy_from_user(v.as_mut_ptr().cast(), addr, size_of::<T>())? };
    // SAFETY: every byte was written, and any bytes are a valid T (`Plain`).
    Ok(unsafe { v.assume_init() })
}

/// Reads `n` consecutive `T`s at application address `addr` (alignment not required,
/// as the kernel does not require it).
pub(crate) fn read_vec<T: Plain>(addr: u64, n: usize) -> Result<Vec<T>, i32> {
    let bytes = n.checked_mul(size_of::<T>()).ok_or(-libc::EFAULT)?;
    let mut v = Vec::<T>::with_capacity(n);
    // SAFETY: `v` has room for `n` Ts, `bytes` bytes.
    unsafe { copy_from_user(v.as_mut_ptr().cast(), addr, bytes)? };
    // SAFETY: all `n` were written, and any bytes are valid Ts (`Plain`).
    unsafe { v.set_len(n) };
    Ok(v)
}

/// Copies a NUL-terminated string of fewer than `max` bytes at application address
/// `addr` (`strncpy_from_user`): `None` if no NUL comes within `max`, `-EFAULT` if the
/// memory before the NUL cannot be read.
pub(crate) fn read_cstr(addr: u64, max: usize) -> Option<Result<CString, i32>> {
    if let Err(e) = check(addr, 1) {
        return Some(Err(e));
    }
    let page = page_size();
    let mut out = Vec::<u8>::new();
    let mut at = addr;
    // Page by page, so that a string that ends before an unreadable page is read.
    while out.len() < max {
        let in_page = page - (at as usize % page);
        let n = in_page.min(max - out.len());
        let start = out.len();
        out.resize(start + n, 0);
        // SAFETY: `out` has `n` bytes from `start`.
        if let Err(e) = unsafe { copy_from_user(out.as_mut_ptr().add(start), at, n) } {
            return Some(Err(e));
        }
        if let Some(nul) = out[start..].iter().position(|&b| b == 0) {
            out.truncate(start + nul);
            return Some(Ok(CString::new(out).expect("no NUL before the first")));
        }
        at += n as u64;
    }
    None
}

/// Runs `f` with `[start, end)` as the only readable memory for prep on this thread.
pub(crate) fn with_arena<R>(start: usize, end: usize, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ARENA.with(|a| a.set((0, 0)));
        }
    }
    ARENA.with(|a| a.set((start, end)));
    let _reset = Reset;
    f()
}

/// How copies are made: not chosen yet, `process_vm_readv`, or the pipe.
static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const VM_READV: u8 = 1;
const PIPE: u8 = 2;

/// This process's pid, for `process_vm_readv`; 0 until known, reset in a forked child
/// (whose pid differs: with the parent's, it would read the parent's memory).
static PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

fn pid() -> i32 {
    let p = PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    static AT_FORK: std::sync::Once = std::sync::Once::new();
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, which is
        // async-signal-safe as a forked child requires.
        unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
    });
    // SAFETY: getpid has no preconditions.
    let p = unsafe { libc::getpid() };
    PID.store(p, Ordering::Relaxed);
    p
}

/// Which way a copy goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    FromUser,
    ToUser,
}

/// Copies `len` bytes between the engine's `buf` and the application's `addr` through
/// the kernel, which faults safely.
///
/// # Safety
/// `buf` must be valid for writes (`FromUser`) or reads (`ToUser`) of `len` bytes.
unsafe fn kernel_copy(buf: *mut u8, addr: u64, len: usize, dir: Dir) -> Result<(), i32> {
    if MODE.load(Ordering::Relaxed) != PIPE {
        let local = libc::iovec {
            iov_base: buf.cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: one local iovec over the caller's `buf`, one remote range of our own
        // process, accessed by the kernel with its fault handling.
        let n = unsafe {
            match dir {
                Dir::FromUser => libc::process_vm_readv(pid(), &local, 1, &remote, 1, 0),
                Dir::ToUser => libc::process_vm_writev(pid(), &local, 1, &remote, 1, 0),
            }
        };
        if n == len as isize {
            MODE.store(VM_READV, Ordering::Relaxed);
            return Ok(());
        }
        match (n, std::io::Error::last_os_error().raw_os_error()) {
            // A short copy: the range ends in memory that cannot be accessed.
            (0.., _) | (_, Some(libc::EFAULT)) => return Err(-libc::EFAULT),
            (_, Some(libc::EPERM | libc::ENOSYS)) if MODE.load(Ordering::Relaxed) == UNKNOWN => {
                MODE.store(PIPE, Ordering::Relaxed);
            }
            (_, Some(e)) => return Err(-e),
            (_, None) => return Err(-libc::EFAULT),
        }
    }
    // SAFETY: forwarded.
    unsafe { pipe_copy(buf, addr, len, dir) }
}

/// The fallback: through a pipe of this process, in pieces of its capacity.
///
/// # Safety
/// As [`kernel_copy`].
unsafe fn pipe_copy(buf: *mut u8, addr: u64, len: usize, dir: Dir) -> Result<(), i32> {
    /// The pipe (read end, write end) and its capacity; one copy at a time.
    static PIPE_FDS: Mutex<Option<(i32, i32, usize)>> = Mutex::new(None);
    let mut guard = PIPE_FDS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(-std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::ENOMEM));
        }
        // SAFETY: F_GETPIPE_SZ on our pipe.
        let cap = unsafe { libc::fcntl(fds[1], libc::F_GETPIPE_SZ) }.max(4096) as usize;
        *guard = Some((fds[0], fds[1], cap));
    }
    let (r, w, cap) = guard.expect("pipe made above");
    let (from, to) = match dir {
        Dir::FromUser => (addr as usize, buf as usize),
        Dir::ToUser => (buf as usize, addr as usize),
    };
    let mut done = 0;
    while done < len {
        let n = cap.min(len - done);
        // SAFETY: the kernel reads `n` bytes at `from + done`, with its fault handling
        // for the application's side; the pipe is empty (every piece is read back).
        let wrote = unsafe { libc::write(w, (from + done) as *const libc::c_void, n) };
        if wrote <= 0 {
            return Err(-libc::EFAULT);
        }
        let wrote = wrote as usize;
        // SAFETY: the kernel writes `wrote` ≤ `len - done` bytes at `to + done`, with
        // its fault handling for the application's side.
        let got = unsafe { libc::read(r, (to + done) as *mut libc::c_void, wrote) };
        if got != wrote as isize {
            // Unwritable destination: empty the pipe for the next copy.
            let mut sink = [0u8; 4096];
            // SAFETY: reads into a local buffer until the non-blocking pipe is empty.
            while unsafe { libc::read(r, sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
            return Err(-libc::EFAULT);
        }
        if wrote < n {
            // A partial write stops at the first unreadable page.
            return Err(-libc::EFAULT);
        }
        done += wrote;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh private anonymous mapping of `n` readable and writable pages.
    fn pages(n: usize) -> *mut u8 {
        let page = page_size();
        // SAFETY: a new mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                n * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p.cast()
    }

    #[test]
    fn copies_what_is_readable_and_faults_on_the_rest() {
        let data: [u64; 3] = [1, 2, 3];
        assert_eq!(read::<u64>(data.as_ptr() as u64 + 8), Ok(2));
        assert_eq!(read_vec::<u64>(data.as_ptr() as u64, 3), Ok(vec![1, 2, 3]));
        assert_eq!(read::<u64>(0x1000), Err(-libc::EFAULT));
        assert_eq!(read::<u64>(0), Err(-libc::EFAULT));
        let s = c"hello";
        assert_eq!(read_cstr(s.as_ptr() as u64, 64), Some(Ok(CString::from(s))));
        assert_eq!(read_cstr(s.as_ptr() as u64, 3), None);
        assert_eq!(read_cstr(0x1000, 64), Some(Err(-libc::EFAULT)));
    }

    #[test]
    fn the_pipe_fallback_copies_and_faults_the_same() {
        let data = vec![7u8; 200_000];
        let mut out = vec![0u8; data.len()];
        // SAFETY: `out` has room for all of it.
        unsafe {
            pipe_copy(
                out.as_mut_ptr(),
                data.as_ptr() as u64,
                data.len(),
                Dir::FromUser,
            )
        }
        .unwrap();
        assert_eq!(out, data);
        // SAFETY: as above.
        let bad = unsafe { pipe_copy(out.as_mut_ptr(), 0x1000, 16, Dir::FromUser) };
        assert_eq!(bad, Err(-libc::EFAULT));
        let mut back = vec![0u8; 100];
        // SAFETY: both directions between our own buffers, then to a bad address.
        unsafe {
            pipe_copy(out.as_mut_ptr(), back.as_mut_ptr() as u64, 100, Dir::ToUser).unwrap();
            assert_eq!(back, vec![7u8; 100]);
            let bad = pipe_copy(out.as_mut_ptr(), 0x1000, 16, Dir::ToUser);
            assert_eq!(bad, Err(-libc::EFAULT));
            // The pipe is empty again: the next copy is right.
            pipe_copy(out.as_mut_ptr(), back.as_mut_ptr() as u64, 100, Dir::ToUser).unwrap();
        }
        assert_eq!(write(0x1000, 5u64), Err(-libc::EFAULT));
        let mut x = 0u64;
        write(&raw mut x as u64, 9u64).unwrap();
        assert_eq!(x, 9);
    }

    #[test]
    fn the_probe_passes_readable_pages_only() {
        let page = page_size();
        let p = pages(3);
        // SAFETY: the mapping's last page, made unreadable.
        unsafe { libc::mprotect(p.add(2 * page).cast(), page, libc::PROT_NONE) };
        let p = p as u64;
        let page = page as u64;
        let fault = Err(Some(-libc::EFAULT));
        assert_eq!(probe_readable(p, 1), Ok(()));
        // Across the boundary of two readable pages; up to the last byte before the
        // unreadable one, even shorter than a probe.
        assert_eq!(probe_readable(p + page - 8, 16), Ok(()));
        assert_eq!(probe_readable(p + 2 * page - 3, 3), Ok(()));
        assert_eq!(probe_readable(p + 2 * page - 3, 4), fault);
        assert_eq!(probe_readable(p + 2 * page, 1), fault);
        assert_eq!(probe_readable(p, 3 * page as usize), fault);
        // A kernel address, and a range that wraps.
        assert_eq!(probe_readable(0xffff_ffff_8100_0000, 8), fault);
        assert_eq!(probe_readable(u64::MAX - 4, 8), fault);
        let mut out = [0u8; 8];
        // SAFETY: `out` has room for 8 bytes.
        let r = unsafe { copy_from_user(out.as_mut_ptr(), p + 2 * page - 4, 8) };
        assert_eq!(r, Err(-libc::EFAULT));
        // SAFETY: `out` has room for 8 bytes.
        let r = unsafe { copy_from_user(out.as_mut_ptr(), p + 2 * page - 8, 8) };
        assert_eq!(r, Ok(()));
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(p as *mut libc::c_void, 3 * page as usize) };
    }

    #[test]
    fn a_submission_probes_a_page_once() {
        let page = page_size();
        let p = pages(2).cast::<libc::c_void>();
        let a = p as u64;
        let fault = Err(Some(-libc::EFAULT));
        {
            let _s = Submission::begin();
            assert_eq!(probe_readable(a, 16), Ok(()));
            // Made unreadable behind the submission's back (what the SQE contract
            // forbids): the page found readable is not asked again...
            // SAFETY: our own mapping.
            unsafe { libc::mprotect(p, page, libc::PROT_NONE) };
            assert_eq!(probe_readable(a + 64, 16), Ok(()));
            // ...but any other page is.
            // SAFETY: as above.
            unsafe { libc::mprotect(p.cast::<u8>().add(page).cast(), page, libc::PROT_NONE) };
            assert_eq!(probe_readable(a + page as u64, 16), fault);
        }
        // The next submission asks again.
        let _s = Submission::begin();
        assert_eq!(probe_readable(a, 16), fault);
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(p, 2 * page) };
    }

    #[test]
    fn a_string_that_ends_before_an_unreadable_page_is_read() {
        let page = page_size();
        let p = pages(2);
        // SAFETY: the mapping's pages: "ab\0" at the end of the first, the second made
        // unreadable.
        unsafe {
            let s = p.add(page - 3);
            s.copy_from_nonoverlapping(c"ab".as_ptr().cast::<u8>(), 3);
            libc::mprotect(p.add(page).cast(), page, libc::PROT_NONE);
            assert_eq!(
                read_cstr(s as u64, 4096),
                Some(Ok(CString::new("ab").unwrap()))
            );
            // Without its NUL the string runs into the unreadable page.
            *p.add(page - 1) = b'c';
            assert_eq!(read_cstr(s as u64, 4096), Some(Err(-libc::EFAULT)));
            libc::munmap(p.cast(), 2 * page);
        }
    }
}
