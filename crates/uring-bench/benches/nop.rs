//! NOP throughput: ours against liburing and the `io-uring` crate, in one run.
//!
//! `cargo bench -p uring-bench --bench nop`. For each configuration (batch 1,
//! 8, 32, 128, and SQPOLL at batch 32) the three implementations run
//! interleaved, A B C A B C …, so that machine noise hits all of them alike;
//! the table shows the median ops/s of each over the rounds.
//!
//! Environment:
//! - `URING_BENCH_ROUNDS`: rounds per configuration (default 7).
//! - `URING_BENCH_OPS`: timed NOPs per round (default 2,000,000; 500,000 at batch 1).
//! - `URING_BENCH_QUICK=1`: 2 rounds of 100,000 NOPs (the two above still win).
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it only checks
//! that every implementation works: one round of 10,000 NOPs per configuration.

use std::io;
use std::process::Command;
use std::time::Duration;

use uring_bench::{NopConfig, nop_io_uring_crate, nop_liburing, nop_ours};

/// One implementation under test.
struct Imp {
    name: &'static str,
    run: fn(&NopConfig) -> io::Result<Duration>,
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
}

impl Plan {
    fn from_env() -> Self {
        let test_mode = !std::env::args().any(|a| a == "--bench");
        let quick = std::env::var("URING_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let (rounds, ops) = if test_mode {
            (1, Some(10_000))
        } else if quick {
            (2, Some(100_000))
        } else {
            (7, None)
        };
        Self {
            rounds: env_number("URING_BENCH_ROUNDS").map_or(rounds, |r| r.max(1) as usize),
            ops: env_number("URING_BENCH_OPS").or(ops),
            test_mode,
        }
    }

    fn ops(&self, batch: u32) -> u64 {
        self.ops
            .unwrap_or(if batch == 1 { 500_000 } else { 2_000_000 })
    }
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.replace(['_', ','], "");
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

fn main() {
    let plan = Plan::from_env();
    print_header(&plan);

    println!(
        "| config | ours Mops/s | liburing Mops/s | io-uring Mops/s | ours/liburing | ours/io-uring |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let (mut errors, mut skipped) = (Vec::new(), Vec::new());
    for (label, batch, sqpoll) in CONFIGS {
        let mut cfg = NopConfig::new(batch, plan.ops(batch));
        if sqpoll {
            cfg = cfg.with_sqpoll();
        }
        // Mops/s of each round, per implementation; None once it failed.
        let mut rates: Vec<Option<Vec<f64>>> = IMPS.iter().map(|_| Some(Vec::new())).collect();
        for _ in 0..plan.rounds {
            for (imp, rates) in IMPS.iter().zip(rates.iter_mut()) {
                let Some(r) = rates else { continue };
                match (imp.run)(&cfg) {
                    Ok(elapsed) => r.push(cfg.total as f64 / elapsed.as_secs_f64() / 1e6),
                    Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                        skipped.push(format!("{label}, {}: {e}", imp.name));
                        *rates = None;
                    }
                    Err(e) => {
                        errors.push(format!("{label}, {}: {e}", imp.name));
                        *rates = None;
                    }
                }
            }
        }
        let medians: Vec<Option<f64>> = rates
            .into_iter()
            .map(|r| r.map(uring_bench::median))
            .collect();
        let cell = |m: Option<f64>| m.map_or("n/a".to_owned(), |m| format!("{m:.2}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "-".to_owned(),
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            cell(medians[0]),
            cell(medians[1]),
            cell(medians[2]),
            ratio(medians[0], medians[1]),
            ratio(medians[0], medians[2]),
        );
    }
    println!();
    for s in &skipped {
        println!("- n/a: {s}");
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}

/// Prints the machine, the command line and the plan, as Markdown.
fn print_header(plan: &Plan) {
    let kernel = Command::new("uname")
        .arg("-r")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/osrelease").ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
    let cpu = uring_bench::cpu_model();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());

    let env =
        uring_bench::settings(&["URING_BENCH_QUICK", "URING_BENCH_ROUNDS", "URING_BENCH_OPS"]);
    let how = if plan.test_mode {
        " (test mode: no --bench, checking only; numbers mean nothing)"
    } else {
        ""
    };
    println!("## NOP throughput{how}");
    println!();
    println!("- command: `{}cargo bench -p uring-bench --bench nop`", env);
    println!("- kernel: {kernel}");
    println!("- CPU: {cpu}, nproc {nproc}");
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
    println!();
}
