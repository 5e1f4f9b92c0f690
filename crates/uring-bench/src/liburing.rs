//! The C anchor: `csrc/nop_liburing.c`, built by `build.rs` against the system liburing.

use std::io;
use std::time::Duration;

use crate::{NopConfig, Timed, check_count};

/// The C entry point compiled from `csrc/nop_liburing.c` (static library
/// `nop_liburing`, linked with `-luring`).
mod ffi {
    unsafe extern "C" {
        /// Runs `warmup_ops` untimed then `total_ops` timed NOPs, `batch` per
        /// `io_uring_submit_and_wait`, on a ring of `entries` (SQPOLL when
        /// `sqpoll != 0`). Writes the timed completion count to `*completions`
        /// and the thread CPU time of the timed part to `*cpu_ns`. Returns the
        /// elapsed nanoseconds of the timed part, or `-errno`.
        pub fn liburing_nop(
            entries: u32,
            batch: u32,
            warmup_ops: u64,
            total_ops: u64,
            sqpoll: i32,
            completions: *mut u64,
            cpu_ns: *mut u64,
        ) -> i64;

        /// The setup flags the linked liburing gives a plain ring of `entries`
        /// (`p.flags` after `io_uring_queue_init_params`), or `-errno`.
        pub fn liburing_default_flags(entries: u32) -> i64;
    }
}

/// The setup flags (`IORING_SETUP_*`) the linked liburing gives a plain ring of
/// `entries`: none for liburing 2.3, `NO_SQARRAY` from 2.6 on (the library found at
/// run time decides: `LD_LIBRARY_PATH` can swap in another).
///
/// # Errors
/// The kernel's errno from the ring setup.
pub fn liburing_default_flags(entries: u32) -> io::Result<u32> {
    // SAFETY: takes a number, sets up and tears down its own ring.
    let ret = unsafe { ffi::liburing_default_flags(entries) };
    if ret < 0 {
        let errno = i32::try_from(-ret).unwrap_or(i32::MAX);
        return Err(io::Error::from_raw_os_error(errno));
    }
    // Flags are a u32 in io_uring_params.
    Ok(u32::try_from(ret).unwrap_or(u32::MAX))
}

/// Times `cfg.total` NOPs on liburing (`io_uring_queue_init_params`,
/// `io_uring_prep_nop`, `io_uring_submit_and_wait`, `io_uring_for_each_cqe`).
///
/// # Errors
///
/// The ring setup or a submit failed (the kernel's errno), a CQE had a
/// non-zero result, or the number of completions was not `cfg.total`.
pub fn nop_liburing(cfg: &NopConfig) -> io::Result<Timed> {
    cfg.validate()?;
    let (mut completions, mut cpu_ns) = (0u64, 0u64);
    // SAFETY: `liburing_nop` only writes through `completions` and `cpu_ns`,
    // valid, exclusive `u64`s for the whole call; it keeps no pointer after
    // returning and owns (sets up and tears down) its ring itself.
    let ret = unsafe {
        ffi::liburing_nop(
            cfg.entries,
            cfg.batch,
            cfg.warmup(),
            cfg.total,
            i32::from(cfg.sqpoll),
            &mut completions,
            &mut cpu_ns,
        )
    };
    if ret < 0 {
        // An errno always fits; anything else shows as an unknown error.
        let errno = i32::try_from(-ret).unwrap_or(i32::MAX);
        return Err(io::Error::from_raw_os_error(errno));
    }
    check_count("liburing", completions, cfg.total)?;
    Ok(Timed {
        elapsed: Duration::from_nanos(ret.unsigned_abs()),
        cpu: Duration::from_nanos(cpu_ns),
        allocations: None,
    })
}
