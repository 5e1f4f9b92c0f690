//! What every engine's worker thread gets and gives back, and the offsets it visits.
use std::fs::File;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{JobSpec, Workload};
use crate::util::{XorShift, errno_name};

/// One worker thread's view of a job.
pub struct Ctx<'a> {
    pub spec: &'a JobSpec,
    pub file: Option<&'a File>,
    /// Blocks of `spec.bs` in the file.
    pub blocks: u64,
    /// Which thread this is (0-based).
    pub thread: u32,
    /// I/Os this thread issues, if the job is bounded by `--ops`.
    pub quota: Option<u64>,
    /// How long this thread runs, if bounded by `--runtime`.
    pub runtime: Option<Duration>,
    /// Completed I/Os, for the progress bar (added to in batches).
    pub progress: &'a AtomicU64,
}

impl Ctx<'_> {
    /// The offsets this thread visits.
    pub fn offsets(&self) -> Offsets {
        let spec = self.spec;
        let threads = u64::from(spec.threads);
        match spec.workload {
            Workload::Randread | Workload::Randwrite => Offsets {
                rng: XorShift::new(spec.seed.wrapping_add(u64::from(self.thread))),
                random: true,
                base: 0,
                blocks: self.blocks.max(1),
                next: 0,
                bs: spec.bs,
            },
            // Sequential: each thread walks its own share of the file, wrapping around.
            _ => {
                let share = (self.blocks / threads).max(1);
                Offsets {
                    rng: XorShift::new(0),
                    random: false,
                    base: (u64::from(self.thread) * share).min(self.blocks.saturating_sub(1)),
                    blocks: share,
                    next: 0,
                    bs: spec.bs,
                }
            }
        }
    }
}

/// Block-aligned offsets: uniform random over the file, or sequential over a share.
pub struct Offsets {
    rng: XorShift,
    random: bool,
    base: u64,
    blocks: u64,
    next: u64,
    bs: u64,
}

impl Offsets {
    #[inline]
    pub fn next_offset(&mut self) -> u64 {
        let block = if self.random {
            self.rng.below(self.blocks)
        } else {
            let b = self.base + self.next;
            self.next += 1;
            if self.next == self.blocks {
                self.next = 0;
            }
            b
        };
        block * self.bs
    }
}

/// What a worker thread measured.
pub struct Stats {
    /// I/Os that completed in full.
    pub ios: u64,
    pub bytes: u64,
    /// I/Os that failed (negative result).
    pub errors: u64,
    /// I/Os that transferred less than asked.
    pub short: u64,
    /// The first failure, in words.
    pub first_error: Option<String>,
    /// System calls this thread made for I/O (pread, io_submit, io_uring_enter, …).
    pub syscalls: u64,
    /// Submit-to-complete latency of each full I/O, in nanoseconds.
    pub hist: Histogram<u64>,
    /// Wall time of the I/O loop.
    pub elapsed: Duration,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            ios: 0,
            bytes: 0,
            errors: 0,
            short: 0,
            first_error: None,
            syscalls: 0,
            hist: new_histogram(),
            elapsed: Duration::ZERO,
        }
    }

    /// Accounts one completion with result `res` (bytes, or `-errno`) for an I/O of
    /// `want` bytes, `lat_ns` after it was submitted. Returns whether it failed.
    #[inline]
    pub fn complete(&mut self, res: i64, want: u64, lat_ns: u64) -> bool {
        if res < 0 {
            self.errors += 1;
            if self.first_error.is_none() {
                self.first_error = Some(errno_name(-res as i32));
            }
            true
        } else if res as u64 != want {
            self.short += 1;
            if self.first_error.is_none() {
                self.first_error = Some(format!("short transfer: {res} of {want} bytes"));
            }
            false
        } else {
            self.ios += 1;
            self.bytes += want;
            self.hist.saturating_record(lat_ns.max(1));
            false
        }
    }

    /// Adds the figures of a later round of the same job: the times add up.
    pub fn then(&mut self, later: Stats) {
        let elapsed = self.elapsed + later.elapsed;
        self.merge(later);
        self.elapsed = elapsed;
    }

    /// Adds another thread's figures to these (threads run at once: the longest
    /// thread's time is the job's).
    pub fn merge(&mut self, other: Stats) {
        self.ios += other.ios;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.short += other.short;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.syscalls += other.syscalls;
        self.hist
            .add(&other.hist)
            .expect("histograms of the same bounds");
        self.elapsed = self.elapsed.max(other.elapsed);
    }
}

/// A histogram of 1 ns to 100 s with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Bytes each I/O of a workload moves (0 for NOP).
pub fn io_bytes(spec: &JobSpec) -> u64 {
    if spec.workload == Workload::Nop {
        0
    } else {
        spec.bs
    }
}
