//! NOP throughput: ours against liburing and the `io-uring` crate, in one run.
//!
//! `cargo bench -p uring-bench --bench nop`. For each configuration (batch 1,
//! 8, 32, 128, and SQPOLL at batch 32) the three implementations run
//! interleaved, A B C B C A C A B …, so that machine noise hits all of them
//! alike and none always runs first or right after the same one; the table
//! shows the median ops/s of each over the rounds, their ratios, and the ratios
//! of ops per second of the thread's CPU time (which leaves out the time a
//! loaded machine kept the thread waiting for a CPU; with SQPOLL it misses the
//! poll thread's work). A second table gives the same ratios paired by round:
//! the median over the rounds of ours against each anchor in the same round,
//! which a change of load between rounds moves less.
//!
//! Each implementation sets its ring up with its library's defaults, and the
//! header says which setup flags those are (ours: `NO_SQARRAY`, as liburing 2.6
//! and later; Debian's liburing 2.3 and the `io-uring` crate: none); the SQPOLL
//! configuration adds `SQPOLL` to each. Ours registers its ring fd on the first
//! enter (its default: `IORING_REGISTER_RING_FDS`, then `IORING_ENTER_REGISTERED_RING`
//! on that thread), which the header checks and says; liburing and the `io-uring`
//! crate enter through the plain fd, their defaults. Ours' `submit_and_wait(n)`
//! submits without `IORING_ENTER_GETEVENTS` and waits only if the CQ is then short
//! (its default on a kernel ring; NOPs complete inline, so one `io_uring_enter` per
//! batch, as for the others, whose call asks for `GETEVENTS`).
//!
//! The figures also go, as JSON, to `target/bench/nop.json` (machine, load
//! average before and after, setup flags, every round's rate, medians, ratios,
//! and the heap allocations per NOP of the Rust implementations' timed loops,
//! counted by [`CountingAlloc`]).
//!
//! Environment:
//! - `URING_BENCH_ROUNDS`: rounds per configuration (default 7).
//! - `URING_BENCH_OPS`: timed NOPs per round (default 2,000,000; 500,000 at batch 1).
//! - `URING_BENCH_QUICK=1`: 2 rounds of 100,000 NOPs (the two above still win).
//! - `URING_BENCH_ONLY=ours,liburing`: run only these implementations (for
//!   `valgrind --tool=callgrind`, see `scripts/nop-instructions.sh`).
//! - `URING_BENCH_BATCHES=32,128`: run only these plain batches; `sqpoll`
//!   selects the SQPOLL configuration.
//!
//! A run narrowed by the last two writes no JSON, so that it cannot overwrite
//! the figures of a full run.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it only checks
//! that every implementation works: one round of 10,000 NOPs per configuration.

use std::io;

use serde_json::{Value, json};
use uring_bench::alloc::CountingAlloc;
use uring_bench::report;
use uring_bench::{NopConfig, Timed, nop_io_uring_crate, nop_liburing, nop_ours};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// One implementation under test.
struct Imp {
    name: &'static str,
    run: fn(&NopConfig) -> io::Result<Timed>,
}

const IMPS: [Imp; 3] = [
    Imp {
        name: "ours",
        run: nop_ours,
    },
    Imp {
        name: "liburing",
        run: nop_liburing,
    },
    Imp {
        name: "io-uring",
        run: nop_io_uring_crate,
    },
];

/// The configurations of the table, in order: (label, batch, sqpoll).
const CONFIGS: [(&str, u32, bool); 5] = [
    ("batch 1", 1, false),
    ("batch 8", 8, false),
    ("batch 32", 32, false),
    ("batch 128", 128, false),
    ("SQPOLL batch 32", 32, true),
];

/// How much to run.
struct Plan {
    rounds: usize,
    /// Fixed ops per round, or `None` for the per-batch defaults.
    ops: Option<u64>,
    /// Under `cargo test`: check, do not measure.
    test_mode: bool,
    /// `URING_BENCH_ONLY`: implementations to run (all when `None`).
    only: Option<Vec<String>>,
    /// `URING_BENCH_BATCHES`: configurations to run (all when `None`).
    batches: Option<Vec<String>>,
}

impl Plan {
    fn from_env() -> Self {
        let test_mode = report::test_mode();
        let quick = report::quick();
        let (rounds, ops) = if test_mode {
            (1, Some(10_000))
        } else if quick {
            (2, Some(100_000))
        } else {
            (7, None)
        };
        Self {
            rounds: report::env_number("URING_BENCH_ROUNDS").map_or(rounds, |r| r.max(1) as usize),
            ops: report::env_number("URING_BENCH_OPS").or(ops),
            test_mode,
            only: report::env_list("URING_BENCH_ONLY"),
            batches: report::env_list("URING_BENCH_BATCHES"),
        }
    }

    fn runs_imp(&self, imp: &Imp) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|n| n == imp.name))
    }

    fn runs_config(&self, batch: u32, sqpoll: bool) -> bool {
        self.batches.as_ref().is_none_or(|b| {
            b.iter().any(|t| {
                if sqpoll {
                    t == "sqpoll"
                } else {
                    t.parse() == Ok(batch)
                }
            })
        })
    }

    fn ops(&self, batch: u32) -> u64 {
        self.ops
            .unwrap_or(if batch == 1 { 500_000 } else { 2_000_000 })
    }
}

/// One implementation's rounds in one configuration.
#[derive(Default)]
struct Rounds {
    /// Mops/s of each round.
    rates: Vec<f64>,
    /// Mops per second of the thread's CPU time, each round.
    cpu_rates: Vec<f64>,
    /// Heap allocations of each round's timed loop, when counted.
    allocations: Vec<u64>,
    /// Set when a round failed or is unsupported: no more rounds.
    failed: bool,
    /// Not selected by `URING_BENCH_ONLY`.
    skipped: bool,
}

impl Rounds {
    fn median(&self) -> Option<f64> {
        (!self.failed && !self.skipped && !self.rates.is_empty())
            .then(|| uring_bench::median(self.rates.clone()))
    }

    /// The median over the rounds of `a`'s rate over `b`'s in the same round (wall
    /// clock, or CPU time with `cpu`); `None` unless both ran every round.
    fn paired(a: &Rounds, b: &Rounds, cpu: bool) -> Option<f64> {
        let (x, y) = if cpu {
            (&a.cpu_rates, &b.cpu_rates)
        } else {
            (&a.rates, &b.rates)
        };
        (a.median().is_some() && b.median().is_some() && x.len() == y.len())
            .then(|| uring_bench::median(x.iter().zip(y).map(|(x, y)| x / y).collect()))
    }

    fn cpu_median(&self) -> Option<f64> {
        (!self.failed && !self.skipped && !self.cpu_rates.is_empty())
            .then(|| uring_bench::median(self.cpu_rates.clone()))
    }
}

fn main() {
    let plan = Plan::from_env();
    let machine = report::machine();
    let load_before = report::loadavg();
    let setup = uring_bench::default_setup_flags(uring_bench::DEFAULT_ENTRIES);
    print_header(&plan, &machine, &setup);

    println!(
        "| config | ours Mops/s | liburing Mops/s | io-uring Mops/s | ours/liburing | ours/io-uring | CPU time: ours/liburing | ours/io-uring | ours allocs/op |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut errors, mut skipped) = (Vec::new(), Vec::new());
    let mut results = Vec::new();
    let mut paired = Vec::new();
    for (label, batch, sqpoll) in CONFIGS {
        if !plan.runs_config(batch, sqpoll) {
            continue;
        }
        let mut cfg = NopConfig::new(batch, plan.ops(batch));
        if sqpoll {
            cfg = cfg.with_sqpoll();
        }
        let mut rounds: Vec<Rounds> = IMPS
            .iter()
            .map(|imp| Rounds {
                skipped: !plan.runs_imp(imp),
                ..Rounds::default()
            })
            .collect();
        for round in 0..plan.rounds {
            for k in 0..IMPS.len() {
                let i = (k + round) % IMPS.len();
                let (imp, r) = (&IMPS[i], &mut rounds[i]);
                if r.failed || r.skipped {
                    continue;
                }
                match (imp.run)(&cfg) {
                    Ok(t) => {
                        let mops =
                            |d: std::time::Duration| cfg.total as f64 / d.as_secs_f64() / 1e6;
                        r.rates.push(mops(t.elapsed));
                        r.cpu_rates.push(mops(t.cpu));
                        r.allocations.extend(t.allocations);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                        skipped.push(format!("{label}, {}: {e}", imp.name));
                        r.failed = true;
                    }
                    Err(e) => {
                        errors.push(format!("{label}, {}: {e}", imp.name));
                        r.failed = true;
                    }
                }
            }
        }
        let paired_row = [
            Rounds::paired(&rounds[0], &rounds[1], false),
            Rounds::paired(&rounds[0], &rounds[2], false),
            Rounds::paired(&rounds[0], &rounds[1], true),
            Rounds::paired(&rounds[0], &rounds[2], true),
        ];
        paired.push((label, paired_row));
        let medians: Vec<Option<f64>> = rounds.iter().map(Rounds::median).collect();
        let cpu: Vec<Option<f64>> = rounds.iter().map(Rounds::cpu_median).collect();
        let cell = |m: Option<f64>| m.map_or("n/a".to_owned(), |m| format!("{m:.2}"));
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
        let show = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.2}"));
        let per_op = |r: &Rounds| {
            (!r.allocations.is_empty()).then(|| {
                r.allocations.iter().sum::<u64>() as f64
                    / (cfg.total as f64 * r.allocations.len() as f64)
            })
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(medians[0]),
            cell(medians[1]),
            cell(medians[2]),
            show(ratio(medians[0], medians[1])),
            show(ratio(medians[0], medians[2])),
            show(ratio(cpu[0], cpu[1])),
            show(ratio(cpu[0], cpu[2])),
            per_op(&rounds[0]).map_or("n/a".to_owned(), |a| format!("{a}")),
        );
        let imps: serde_json::Map<String, Value> = IMPS
            .iter()
            .zip(&rounds)
            .filter(|(_, r)| !r.skipped)
            .map(|(imp, r)| {
                let v = json!({
                    "mops_per_round": r.rates,
                    "median_mops": r.median(),
                    "mops_per_cpu_second_per_round": r.cpu_rates,
                    "median_mops_per_cpu_second": r.cpu_median(),
                    "allocations_per_round": (!r.allocations.is_empty()).then_some(&r.allocations),
                    "allocations_per_op": per_op(r),
                    "failed": r.failed,
                });
                (imp.name.to_owned(), v)
            })
            .collect();
        results.push(json!({
            "config": label,
            "batch": batch,
            "sqpoll": sqpoll,
            "ops_per_round": cfg.total,
            "implementations": imps,
            "ours_over_liburing": ratio(medians[0], medians[1]),
            "ours_over_io_uring": ratio(medians[0], medians[2]),
            "cpu_time_ours_over_liburing": ratio(cpu[0], cpu[1]),
            "cpu_time_ours_over_io_uring": ratio(cpu[0], cpu[2]),
            "paired_ours_over_liburing": paired_row[0],
            "paired_ours_over_io_uring": paired_row[1],
            "paired_cpu_time_ours_over_liburing": paired_row[2],
            "paired_cpu_time_ours_over_io_uring": paired_row[3],
        }));
    }
    println!();
    println!("Paired by round (median over the rounds of ours / the anchor in the same round):");
    println!();
    println!(
        "| config | ours/liburing | ours/io-uring | CPU time: ours/liburing | ours/io-uring |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (label, row) in &paired {
        let cells: Vec<String> = row
            .iter()
            .map(|r| r.map_or("-".to_owned(), |r| format!("{r:.2}")))
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    println!();
    for s in &skipped {
        println!("- n/a: {s}");
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    if plan.only.is_some() || plan.batches.is_some() {
        println!("- a partial run (URING_BENCH_ONLY/BATCHES): no JSON written");
    } else if !plan.test_mode {
        let figures = json!({
            "benchmark": "nop",
            "command": command(),
            "machine": machine,
            "load_average_before": load_before,
            "load_average_after": report::loadavg(),
            "rounds": plan.rounds,
            "entries": uring_bench::DEFAULT_ENTRIES,
            "sqpoll_idle_ms": uring_bench::SQPOLL_IDLE.as_millis() as u64,
            "setup_flags": setup.iter().map(|(imp, f)| (imp.to_string(), json!(f))).collect::<serde_json::Map<_, _>>(),
            "results": results,
            "errors": errors,
            "skipped": skipped,
        });
        match report::write_json(env!("CARGO_TARGET_TMPDIR"), "nop", &figures) {
            Ok(path) => println!("- figures written to {}", path.display()),
            Err(e) => eprintln!("warning: could not write the JSON figures: {e}"),
        }
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}

/// The command that reproduces this run, with the environment it read.
fn command() -> String {
    let env = uring_bench::settings(&[
        "URING_BENCH_QUICK",
        "URING_BENCH_ROUNDS",
        "URING_BENCH_OPS",
        "URING_BENCH_ONLY",
        "URING_BENCH_BATCHES",
    ]);
    format!("{env}cargo bench -p uring-bench --bench nop")
}

/// Prints the machine, the command line, the plan and each implementation's setup
/// flags, as Markdown.
fn print_header(plan: &Plan, machine: &Value, setup: &[(&str, String)]) {
    let how = if plan.test_mode {
        " (test mode: no --bench, checking only; numbers mean nothing)"
    } else {
        ""
    };
    println!("## NOP throughput{how}");
    println!();
    report::print_machine(&command(), machine);
    let ops = match plan.ops {
        Some(n) => format!("{n} NOPs per round"),
        None => "500,000 NOPs per round at batch 1, 2,000,000 otherwise".to_owned(),
    };
    println!(
        "- {} rounds, interleaved (ours, liburing, io-uring, …), median shown; {ops}; {} entries; SQPOLL idle {} ms",
        plan.rounds,
        uring_bench::DEFAULT_ENTRIES,
        uring_bench::SQPOLL_IDLE.as_millis()
    );
    let flags: Vec<String> = setup.iter().map(|(imp, f)| format!("{imp} {f}")).collect();
    println!(
        "- setup flags of a plain ring, each library's defaults: {}",
        flags.join("; ")
    );
    println!(
        "- ring fd, each library's default: ours {}; liburing and io-uring the plain fd",
        ours_ring_fd()
    );
    println!(
        "- waiting, each library's default: ours submits, then waits only if the CQ is short \
         (one io_uring_enter per batch of NOPs); liburing and io-uring submit and wait in one \
         io_uring_enter with GETEVENTS"
    );
    println!();
}

/// How ours enters a plain ring by default: through the index of its registered ring
/// fd or through the fd, as a ring built and entered once on this thread shows.
fn ours_ring_fd() -> String {
    let entered = uring::Ring::builder()
        .build(uring_bench::DEFAULT_ENTRIES)
        .map_err(io::Error::from)
        .and_then(|ring| ring.submitter().get_events().map(|()| ring));
    match entered {
        Ok(ring) => match ring.registered_ring_index() {
            Some(i) => format!("registered on the first enter (index {i})"),
            None => "the plain fd (not registered)".to_owned(),
        },
        Err(e) => format!("unknown ({e})"),
    }
}
