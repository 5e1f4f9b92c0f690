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
use std::time::{Duration, Instant};

pub mod alloc;
pub mod report;

/// `struct Queues`, the split parts of a ring of crate `$api`, and its [`NopQueues`]:
/// the `io-uring` crate and ours have the same shape there (`sync`, iterating the CQ),
/// so one body serves both. Each does the two steps where the APIs differ its own
/// best way:
/// - `push(sq, user_data) { … }` pushes a NOP and returns the `push` result: the
///   `io-uring` crate builds the SQE and copies it into the slot; ours writes it in
///   place, as liburing's `io_uring_get_sqe` + `io_uring_prep_nop` do.
/// - `release(cq) { … }` hands the reaped CQ slots back to the kernel: the `io-uring`
///   crate's only way is `sync` (a head store and a tail load); ours has `release`, the
///   head store alone, as liburing's `io_uring_cq_advance`.
macro_rules! nop_queues {
    ($api:ident, push($sq:ident, $user_data:ident) $push:block release($cq:ident) $release:block) => {
        struct Queues<'a> {
            submitter: $api::Submitter<'a>,
            sq: $api::SubmissionQueue<'a>,
            cq: $api::CompletionQueue<'a>,
        }

        impl $crate::NopQueues for Queues<'_> {
            #[inline(always)]
            fn push_nops(&mut self, first: u64, n: u64) -> bool {
                for $user_data in first..first + n {
                    let $sq = &mut self.sq;
                    if $push.is_err() {
                        return false;
                    }
                }
                self.sq.sync();
                true
            }

            #[inline(always)]
            fn submit_and_wait(&mut self, want: usize) -> std::io::Result<usize> {
                self.submitter.submit_and_wait(want)
            }

            #[inline(always)]
            fn reap(
                &mut self,
                mut check: impl FnMut(i32, u64) -> std::io::Result<()>,
            ) -> std::io::Result<usize> {
                self.cq.sync();
                let mut seen = 0;
                for cqe in &mut self.cq {
                    check(cqe.result(), cqe.user_data())?;
                    seen += 1;
                }
                let $cq = &mut self.cq;
                $release;
                Ok(seen)
            }
        }
    };
}

mod io_uring_crate;
mod liburing;
mod ours;

pub use io_uring_crate::{nop_io_uring_crate, nop_io_uring_crate_with};
pub use liburing::{liburing_default_flags, nop_liburing};
pub use ours::{nop_ours, nop_ours_with};

/// The setup flags each implementation's plain ring gets from its library's defaults
/// (the benchmark sets none itself), by name: `(implementation, flags)`. Ours and
/// liburing's are read from a ring set up for the purpose; the `io-uring` crate's
/// builder adds none.
pub fn default_setup_flags(entries: u32) -> Vec<(&'static str, String)> {
    let names = |r: io::Result<u32>| match r {
        Ok(f) => uring::flag_names(f, uring::SETUP_FLAG_NAMES),
        Err(e) => format!("unknown ({e})"),
    };
    let ours = uring::Ring::builder()
        .build(entries)
        .map(|r| r.params().flags())
        .map_err(io::Error::from);
    vec![
        ("ours", names(ours)),
        ("liburing", names(liburing_default_flags(entries))),
        ("io-uring", "none".to_owned()),
    ]
}

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

/// One ring API's split queues, as the NOP loop drives them: the loop is written once,
/// over this, so that every implementation runs the same steps.
trait NopQueues {
    /// Pushes NOPs with `user_data` `first..first + n` and publishes the SQ tail;
    /// false if the SQ is full.
    fn push_nops(&mut self, first: u64, n: u64) -> bool;
    /// Submits what was pushed and waits for `want` completions.
    fn submit_and_wait(&mut self, want: usize) -> io::Result<usize>;
    /// Reads the CQ tail, hands each new CQE's `(result, user_data)` to `check`, and
    /// publishes the new head at once (as `io_uring_cq_advance` does, so that a wait
    /// counts only CQEs not seen yet); the number of CQEs seen.
    fn reap(&mut self, check: impl FnMut(i32, u64) -> io::Result<()>) -> io::Result<usize>;
}

/// What a timed run measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timed {
    /// Wall-clock time of the timed loop (setup and warm-up excluded).
    pub elapsed: Duration,
    /// CPU time the calling thread spent in the timed loop, user and system
    /// (`CLOCK_THREAD_CPUTIME_ID`): unlike `elapsed`, it leaves out the time the
    /// thread waited for a CPU, so it is steadier on a loaded machine. With
    /// SQPOLL it misses the poll thread's work.
    pub cpu: Duration,
    /// Heap allocations made by the timed loop on its thread, if they can be counted: only
    /// with [`alloc::CountingAlloc`] as the global allocator, and not for the C
    /// anchor (liburing allocates with `malloc`, which the counter does not see).
    pub allocations: Option<u64>,
}

/// Runs a warm-up of [`NopConfig::warmup`] NOPs, then times `cfg.total`, on `queues`
/// (`what` names the implementation in errors).
#[inline(always)]
fn time_nops(queues: &mut impl NopQueues, what: &str, cfg: &NopConfig) -> io::Result<Timed> {
    nop_loop(queues, what, cfg.batch, cfg.warmup())?;
    let counting = alloc::counting();
    let before = alloc::allocations();
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let completions = nop_loop(queues, what, cfg.batch, cfg.total)?;
    let elapsed = start.elapsed();
    let cpu = thread_cpu_time().saturating_sub(cpu_start);
    let allocations = counting.then(|| alloc::allocations() - before);
    check_count(what, completions, cfg.total)?;
    Ok(Timed {
        elapsed,
        cpu,
        allocations,
    })
}

/// The calling thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`), through
/// glibc's `clock_gettime` (which valgrind knows how to run, unlike a direct call
/// into the vDSO).
pub fn thread_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, exclusive timespec for the call to write.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if ret != 0 {
        return Duration::ZERO;
    }
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Runs NOPs until `ops` completions have been reaped, `batch` at a time; returns the
/// number of CQEs seen.
#[inline(always)]
fn nop_loop(q: &mut impl NopQueues, what: &str, batch: u32, ops: u64) -> io::Result<u64> {
    let (mut submitted, mut completed) = (0u64, 0u64);
    while completed < ops {
        let n = (ops - submitted).min(u64::from(batch));
        if !q.push_nops(submitted, n) {
            return Err(io::Error::other(format!("{what}: sq full")));
        }
        submitted += n;
        let n = usize::try_from(n).expect("batch fits in usize");
        q.submit_and_wait(n)?;

        // A short wait (signal, SQPOLL lag) is fine: keep reaping until every CQE of
        // this batch has arrived.
        let mut seen = 0usize;
        loop {
            seen += q.reap(|res, user_data| {
                if res != 0 || user_data >= submitted {
                    return Err(bad_cqe(what, res, user_data, submitted));
                }
                Ok(())
            })?;
            if seen >= n {
                break;
            }
            q.submit_and_wait(n - seen)?;
        }
        completed += seen as u64;
    }
    Ok(completed)
}

/// The CPU model (`model name` of `/proc/cpuinfo`), for the benchmarks' headers.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The variables of `keys` that are set, as `K=V ` each, to repeat the command line.
pub fn settings(keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v} ")))
        .collect()
}

/// The median of `v` (the mean of the middle two for an even count); NaN for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[mid],
        _ => (v[mid - 1] + v[mid]) / 2.0,
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
