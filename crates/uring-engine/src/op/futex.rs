//! `IORING_OP_FUTEX_WAIT`, `IORING_OP_FUTEX_WAKE` and `IORING_OP_FUTEX_WAITV`, with the
//! checks of `io_uring/futex.c` (futex2 flags: 32-bit words only, values and masks
//! that fit them) and the futex2 system calls (`futex_wait(2)`, `futex_wake(2)`,
//! `futex_waitv(2)`; `FUTEX_WAIT_BITSET`/`FUTEX_WAKE_BITSET` before Linux 6.7).
//!
//! A wait is tried inline with a deadline already past: a word that does not hold
//! the value fails at once with `-EAGAIN`, as the kernel's `futex_wait_setup` at
//! issue. Otherwise it blocks in a worker of the unbounded pool (the kernel queues it
//! on the futex without a thread). The wait is the process's futex wait, so
//! `futex(2)` from anywhere wakes it. Cancellation interrupts the worker (the wait
//! completes with `-ECANCELED`, the cancel with 0); the worker also wakes every
//! second to look for a cancellation it might have missed, and re-waits. A word that
//! changed between the submission and the worker's wait (or between two waits)
//! counts as a wake-up: 0 (`WAITV`: the index of the word that changed), where the
//! kernel would have been woken by whoever changed it — a spurious wake-up at worst,
//! which futex users must accept anyway.
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use uring_sys as sys;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;
use crate::timer::clock_ns;
use crate::wq::Class;

const FUTEX2_SIZE_MASK: u32 = 0x03;
const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_NUMA: u32 = 0x04;
const FUTEX2_MPOL: u32 = 0x08;
const FUTEX2_PRIVATE: u32 = 128;
/// `FUTEX2_VALID_MASK`.
const FUTEX2_VALID: u32 = FUTEX2_SIZE_MASK | FUTEX2_NUMA | FUTEX2_MPOL | FUTEX2_PRIVATE;
/// `FUTEX_WAITV_MAX`.
const WAITV_MAX: u32 = 128;
/// `futex_wake(2)` and `futex_wait(2)`: the same numbers on every architecture
/// (Linux 6.7).
const SYS_FUTEX_WAKE: libc::c_long = 454;
const SYS_FUTEX_WAIT: libc::c_long = 455;
/// How long a worker waits before it looks for a missed cancellation.
const RECHECK_NS: u64 = 1_000_000_000;

/// `struct io_futex` of `FUTEX_WAIT` and `FUTEX_WAKE`.
pub(crate) struct Futex {
    /// The futex word.
    addr: u64,
    /// The value a wait expects; the count a wake wakes.
    val: u64,
    mask: u64,
    /// Set once an attempt found the word holding `val` (the wait was armed): a
    /// later mismatch means it changed since, a wake-up.
    probed: bool,
}

/// `struct io_futex` of `FUTEX_WAITV`.
pub(crate) struct Futexv {
    /// The vector, copied and checked at prep.
    waitv: Vec<FutexWaitv>,
    /// As [`Futex::probed`].
    probed: bool,
}

/// `struct futex_waitv`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

// SAFETY: integers and an address, as `struct futex_waitv`: any bits are a value.
unsafe impl crate::user::Plain for FutexWaitv {}

/// `futex2_to_flags` + `futex_flags_valid`: only 32-bit futexes exist.
fn check_flags(flags: u32) -> Result<(), i32> {
    if flags & !FUTEX2_VALID != 0 || flags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

/// `futex_validate_input` for a 32-bit futex.
fn check_input(v: u64) -> Result<(), i32> {
    if v >> 32 != 0 {
        Err(-libc::EINVAL)
    } else {
        Ok(())
    }
}

/// `io_futex_prep` (WAIT and WAKE).
pub(crate) fn prep(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.sqe.len != 0 || req.op_flags() != 0 || req.buf_index() != 0 || req.file_index() != 0 {
        return Err(-libc::EINVAL);
    }
    check_flags(req.sqe.fd as u32)?;
    let (val, mask) = (req.off(), req.addr3());
    check_input(val)?;
    check_input(mask)?;
    req.set_cmd(Futex {
        addr: req.addr(),
        val,
        mask,
        probed: false,
    });
    Ok(())
}

/// `io_futexv_prep`: copies and checks the vector.
pub(crate) fn prep_waitv(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.sqe.fd != 0
        || req.buf_index() != 0
        || req.file_index() != 0
        || req.off() != 0
        || req.op_flags() != 0
        || req.addr3() != 0
    {
        return Err(-libc::EINVAL);
    }
    let nr = req.sqe.len;
    if nr == 0 || nr > WAITV_MAX {
        return Err(-libc::EINVAL);
    }
    let v = crate::user::read_vec::<FutexWaitv>(req.addr(), nr as usize)?;
    for w in &v {
        if w.flags & !FUTEX2_VALID != 0 || w.reserved != 0 {
            return Err(-libc::EINVAL);
        }
        check_flags(w.flags)?;
        check_input(w.val)?;
    }
    req.set_cmd(Futexv {
        waitv: v,
        probed: false,
    });
    Ok(())
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn abs_ts(deadline: u64) -> sys::__kernel_timespec {
    sys::__kernel_timespec {
        tv_sec: (deadline / 1_000_000_000) as i64,
        tv_nsec: (deadline % 1_000_000_000) as i64,
    }
}

/// Waits while the word at `addr` holds `val`, until `deadline` (absolute, monotonic
/// ns); `Err(errno)`.
fn futex_wait(addr: u64, val: u64, mask: u64, flags: u32, deadline: u64) -> Result<(), i32> {
    let ts = abs_ts(deadline);
    // SAFETY: futex_wait reads the 32-bit word at `addr` (the application keeps it
    // valid while the request is pending, the SQE contract) and the timespec on our
    // stack; the kernel checks the address itself (EFAULT).
    let r = unsafe {
        libc::syscall(
            SYS_FUTEX_WAIT,
            addr,
            val,
            mask,
            flags as libc::c_long,
            &raw const ts,
            libc::CLOCK_MONOTONIC as libc::c_long,
        )
    };
    if r >= 0 {
        return Ok(());
    }
    let err = errno();
    if err != libc::ENOSYS {
        return Err(err);
    }
    // Before 6.7: FUTEX_WAIT_BITSET, whose timeout is absolute on CLOCK_MONOTONIC.
    if flags & (FUTEX2_NUMA | FUTEX2_MPOL) != 0 {
        return Err(libc::EINVAL);
    }
    let op = libc::FUTEX_WAIT_BITSET
        | if flags & FUTEX2_PRIVATE != 0 {
            libc::FUTEX_PRIVATE_FLAG
        } else {
            0
        };
    let ts = libc::timespec {
        tv_sec: ts.tv_sec as libc::time_t,
        tv_nsec: ts.tv_nsec as libc::c_long,
    };
    // SAFETY: as above, the classic futex call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            addr,
            op,
            val as u32,
            &raw const ts,
            std::ptr::null::<u32>(),
            mask as u32,
        )
    };
    if r >= 0 { Ok(()) } else { Err(errno()) }
}

/// Wakes up to `nr` waiters of the word at `addr` whose mask meets `mask`.
fn futex_wake(addr: u64, nr: u64, mask: u64, flags: u32) -> i32 {
    // SAFETY: futex_wake only looks the address up (the kernel checks it); no memory
    // of ours is passed.
    let r = unsafe {
        libc::syscall(
            SYS_FUTEX_WAKE,
            addr,
            mask,
            nr as libc::c_int as libc::c_long,
            flags as libc::c_long,
        )
    };
    if r >= 0 {
        return r as i32;
    }
    let err = errno();
    if err != libc::ENOSYS {
        return -err;
    }
    if flags & (FUTEX2_NUMA | FUTEX2_MPOL) != 0 || mask == 0 {
        return -libc::EINVAL;
    }
    if nr == 0 {
        // futex_wake's FLAGS_STRICT: waking 0 wakes nobody.
        return 0;
    }
    let op = libc::FUTEX_WAKE_BITSET
        | if flags & FUTEX2_PRIVATE != 0 {
            libc::FUTEX_PRIVATE_FLAG
        } else {
            0
        };
    // SAFETY: as above, the classic futex call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            addr,
            op,
            nr as libc::c_int,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            mask as u32,
        )
    };
    if r >= 0 { r as i32 } else { -errno() }
}

/// `futex_waitv(2)` until `deadline`: the index woken, or `Err(errno)`.
fn futex_waitv(v: &[FutexWaitv], deadline: u64) -> Result<i32, i32> {
    let ts = abs_ts(deadline);
    // SAFETY: `v` is `v.len()` futex_waitv entries we own; the words they point to
    // are the application's, valid while the request is pending (the SQE contract);
    // the kernel checks the addresses.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            v.as_ptr(),
            v.len() as libc::c_uint,
            0 as libc::c_uint,
            &raw const ts,
            libc::CLOCK_MONOTONIC,
        )
    };
    if r >= 0 { Ok(r as i32) } else { Err(errno()) }
}

pub(crate) fn issue_wake(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let f = req.cmd::<Futex>();
    let res = futex_wake(f.addr, f.val, f.mask, req.sqe.fd as u32);
    Step::Done(req, res)
}

pub(crate) fn issue_wait(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let &Futex {
        addr, val, mask, ..
    } = req.cmd::<Futex>();
    let flags = req.sqe.fd as u32;
    if mask == 0 {
        return Step::Done(req, -libc::EINVAL);
    }
    if mode == Mode::Inline {
        return match futex_wait(addr, val, mask, flags, 0) {
            Ok(()) => Step::Done(req, 0),
            Err(libc::ETIMEDOUT) => {
                req.cmd_mut::<Futex>().probed = true;
                e.wq.push(e, Class::Unbounded, req);
                Step::Parked
            }
            Err(err) => Step::Done(req, -err),
        };
    }
    loop {
        if e.wq.cancelled(&req) {
            return Step::Done(req, -libc::ECANCELED);
        }
        let deadline = clock_ns(libc::CLOCK_MONOTONIC) + RECHECK_NS;
        match futex_wait(addr, val, mask, flags, deadline) {
            Ok(()) => return Step::Done(req, 0),
            Err(libc::EAGAIN) if req.cmd::<Futex>().probed => return Step::Done(req, 0),
            Err(libc::ETIMEDOUT | libc::EINTR) => req.cmd_mut::<Futex>().probed = true,
            Err(err) => return Step::Done(req, -err),
        }
    }
}

/// The index of the first word of `v` that no longer holds its value.
fn changed(v: &[FutexWaitv]) -> Option<i32> {
    v.iter()
        .position(|w| {
            // SAFETY: the word is the application's, valid while the request is pending
            // (the SQE contract), and 4-byte aligned (the kernel refused it otherwise).
            let now = unsafe { AtomicU32::from_ptr(w.uaddr as *mut u32) }.load(Ordering::SeqCst);
            now as u64 != w.val
        })
        .map(|i| i as i32)
}

pub(crate) fn issue_waitv(mut req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let v: Vec<FutexWaitv> = req.cmd::<Futexv>().waitv.clone();
    if mode == Mode::Inline {
        return match futex_waitv(&v, 0) {
            Ok(i) => Step::Done(req, i),
            Err(libc::ETIMEDOUT) => {
                req.cmd_mut::<Futexv>().probed = true;
                e.wq.push(e, Class::Unbounded, req);
                Step::Parked
            }
            Err(err) => Step::Done(req, -err),
        };
    }
    loop {
        if e.wq.cancelled(&req) {
            return Step::Done(req, -libc::ECANCELED);
        }
        let deadline = clock_ns(libc::CLOCK_MONOTONIC) + RECHECK_NS;
        match futex_waitv(&v, deadline) {
            Ok(i) => return Step::Done(req, i),
            Err(libc::EAGAIN) if req.cmd::<Futexv>().probed => {
                if let Some(i) = changed(&v) {
                    return Step::Done(req, i);
                }
            }
            Err(libc::ETIMEDOUT | libc::EINTR) => req.cmd_mut::<Futexv>().probed = true,
            Err(err) => return Step::Done(req, -err),
        }
    }
}
