//! What setup choices change in the kernel's share of a NOP: variants of ours, liburing
//! and the `io-uring` crate at one batch size, run interleaved in one process (the first
//! variant of each round changes round by round), with the medians over the rounds of
//! each variant's CPU time per NOP and of per-round speed ratios.
//!
//! `cargo run --release -p uring-bench --example nop_setup -- [BATCH] [ROUNDS] [OPS]`
//! (default 32, 9 rounds, 1,000,000 NOPs per variant and round).
//!
//! The variants: ours entering through its plain fd (`plain_ring_fd`, ours before the
//! ring fd was registered by default), with our defaults (`NO_SQARRAY`, the ring fd
//! registered on the first enter), with the SQ index array and the plain fd (`sq_array`,
//! ours before `NO_SQARRAY`), and with `DEFER_TASKRUN`; liburing as linked (its
//! defaults); the `io-uring` crate with its defaults, with `NO_SQARRAY` and with a
//! registered ring fd. Two ratio columns, each a median of per-round ratios: the
//! variant's speed over ours with the plain fd (what the kernel-side choice is worth
//! on the same code), and ours with our defaults over the variant (the benchmark's
//! ratio, above 1 when ours is faster).
use uring::{Builder, sys};
use uring_bench::{NopConfig, Timed, nop_io_uring_crate_with, nop_ours_with};

type Run = Box<dyn Fn(&NopConfig) -> std::io::Result<Timed>>;

fn main() {
    let args: Vec<u64> = match std::env::args().skip(1).map(|a| a.parse()).collect() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("usage: nop_setup [BATCH] [ROUNDS] [OPS] (numbers): {e}");
            std::process::exit(2);
        }
    };
    let batch = args.first().copied().unwrap_or(32) as u32;
    let rounds = args.get(1).copied().unwrap_or(9) as usize;
    let ops = args.get(2).copied().unwrap_or(1_000_000);
    let ours_with = |b: Builder| -> Run { Box::new(move |c| nop_ours_with(c, &b)) };
    let defer = sys::IORING_SETUP_DEFER_TASKRUN | sys::IORING_SETUP_SINGLE_ISSUER;
    let variants: Vec<(&'static str, Run)> = vec![
        (
            "ours plain fd (plain_ring_fd: ours before)",
            ours_with(Builder::default().plain_ring_fd()),
        ),
        (
            "ours default (NO_SQARRAY, fd registered on first enter)",
            ours_with(Builder::default()),
        ),
        (
            "ours SQ array, plain fd",
            ours_with(Builder::default().sq_array().plain_ring_fd()),
        ),
        (
            "ours default + DEFER_TASKRUN",
            ours_with(Builder::default().raw_flags(defer)),
        ),
        ("liburing", Box::new(uring_bench::nop_liburing)),
        (
            "io-uring plain",
            Box::new(|c| nop_io_uring_crate_with(c, &|_| {}, false)),
        ),
        (
            "io-uring NO_SQARRAY",
            Box::new(|c| nop_io_uring_crate_with(c, &no_sqarray, false)),
        ),
        (
            "io-uring regfd",
            Box::new(|c| nop_io_uring_crate_with(c, &|_| {}, true)),
        ),
    ];
    let cfg = NopConfig::new(batch, ops);
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let n = variants.len();
    for r in 0..rounds {
        // A different variant goes first each round, so that no variant always
        // follows the same one.
        for k in 0..n {
            let i = (k + r) % n;
            let t = variants[i].1(&cfg).expect("run");
            cpu[i].push(t.cpu.as_nanos() as f64 / ops as f64);
            wall[i].push(t.elapsed.as_nanos() as f64 / ops as f64);
        }
    }
    println!("batch {batch}, {rounds} rounds of {ops} NOPs per variant");
    println!();
    println!(
        "| variant | ns/NOP (CPU time) | speed over ours plain fd (CPU, wall) | ours default over it (CPU, wall) |"
    );
    println!("|---|---:|---:|---:|");
    let ratio =
        |a: &[f64], b: &[f64]| uring_bench::median(a.iter().zip(b).map(|(a, b)| a / b).collect());
    for (i, (name, _)) in variants.iter().enumerate() {
        println!(
            "| {name} | {:.1} | {:.3}, {:.3} | {:.3}, {:.3} |",
            uring_bench::median(cpu[i].clone()),
            ratio(&cpu[0], &cpu[i]),
            ratio(&wall[0], &wall[i]),
            ratio(&cpu[i], &cpu[1]),
            ratio(&wall[i], &wall[1]),
        );
    }
}

/// The `io-uring` crate's builder with `NO_SQARRAY`.
fn no_sqarray(b: &mut io_uring::Builder) {
    b.setup_no_sqarray();
}
