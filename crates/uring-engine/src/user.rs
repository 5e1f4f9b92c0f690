//! Reading application memory at prep time: the engine's `copy_from_user`.
//!
//! The kernel copies what an SQE points to with `copy_from_user`, which fails with
//! `-EFAULT` on an address it cannot read. The engine reads the memory directly (the
//! SQE contract says it is valid), but every prep-time read goes through
//! [`check`] first, which refuses a null address as the kernel does, and, while
//! [`crate::fuzz_prep`] runs on this thread, any range outside the fuzzer's arena: so
//! a fuzzer can hand prep arbitrary pointers and get `-EFAULT`, never a crash.
use std::cell::Cell;

thread_local! {
    /// The fuzzer's arena on this thread (start, end), or (0, 0).
    static ARENA: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Whether `len` bytes at `addr` may be read at prep: `-EFAULT` for null, and while
/// fuzzing, for anything outside the arena.
#[inline]
pub(crate) fn check(addr: u64, len: usize) -> Result<(), i32> {
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

/// How many bytes from `addr` lie in the fuzzer's arena (`usize::MAX` when not
/// fuzzing): the bound of a scan for a terminating NUL.
#[inline]
pub(crate) fn readable_from(addr: u64) -> usize {
    let (start, end) = ARENA.with(Cell::get);
    if end == 0 {
        return usize::MAX;
    }
    let a = addr as usize;
    if a < start || a > end { 0 } else { end - a }
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
