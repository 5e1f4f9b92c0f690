//! NOP throughput of three io_uring implementations, measured the same way.
//!
//! Each function builds a ring of [`NopConfig::entries`], runs a short untimed
//! warm-up, then times a loop that pushes [`NopConfig::batch`] NOPs, submits
//! and waits for that many completions, and reaps them, until
//! [`NopConfig::total`] completions have arrived. Every CQE is checked
//! (`res == 0`, `user_data` one of ours) and the count must equal `total`
//! exactly, or the run is an error.
//!
//! - [`nop_liburing`]: the C loop in `csrc/nop_liburing.c` on the system liburing.
//! - [`nop_io_uring_crate`]: the same loop on the `io-uring` crate (tokio-rs).
//! - [`nop_ours`]: the same loop on this workspace's `uring` crate.
//!
//! The benchmark that compares them is `benches/nop.rs`
//! (`cargo bench -p uring-bench --bench nop`).

use std::io;
use std::time::Duration;

mod io_uring_crate;
mod liburing;
mod ours;

pub use io_uring_crate::nop_io_uring_crate;
pub use liburing::nop_liburing;
pub use ours::nop_ours;

/// Ring entries used by the benchmark: large enough for the biggest batch (128).
pub const DEFAULT_ENTRIES: u32 = 256;

/// SQPOLL thread idle time, long enough that the thread never sleeps mid-run.
pub const SQPOLL_IDLE: Duration = Duration::from_millis(2000);

/// One NOP throughput run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NopConfig {
    /// SQ entries asked of the kernel (the CQ gets its default, twice that).
    pub entries: u32,
    /// NOPs pushed per `submit_and_wait`; at most `entries`.
    pub batch: u32,
    /// Completions to time.
    pub total: u64,
    /// Use `IORING_SETUP_SQPOLL` with an idle time of [`SQPOLL_IDLE`].
    pub sqpoll: bool,
}

impl NopConfig {
    /// A plain (interrupt-driven, no SQPOLL) run with [`DEFAULT_ENTRIES`].
    pub fn new(batch: u32, total: u64) -> Self {
        Self {
            entries: DEFAULT_ENTRIES,
            batch,
            total,
            sqpoll: false,
        }
    }

    /// The same run with `IORING_SETUP_SQPOLL`.
    pub fn with_sqpoll(self) -> Self {
        Self {
            sqpoll: true,
            ..self
        }
    }

    /// Untimed NOPs run first on the same ring: enough to fault in the rings
    /// and wake the SQPOLL thread, small next to `total`.
    pub fn warmup(&self) -> u64 {
        self.total.min(10_000)
    }

    fn validate(&self) -> io::Result<()> {
        if self.batch == 0 || self.batch > self.entries {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "batch {} must be in 1..={} (entries)",
                    self.batch, self.entries
                ),
            ));
        }
        Ok(())
    }
}

/// The error for a CQE that is not a successful NOP of ours.
fn bad_cqe(what: &str, res: i32, user_data: u64, submitted: u64) -> io::Error {
    if res < 0 {
        return io::Error::from_raw_os_error(-res);
    }
    io::Error::other(format!(
        "{what}: bad NOP completion: res {res}, user_data {user_data} (submitted {submitted})"
    ))
}

/// Checks that the timed loop saw exactly `total` completions.
fn check_count(what: &str, completions: u64, total: u64) -> io::Result<()> {
    if completions == total {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what}: {completions} completions, expected {total}"
        )))
    }
}
