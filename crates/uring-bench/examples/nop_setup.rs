//! What setup choices change in the kernel's share of a NOP: variants of ours, liburing
//! and the `io-uring` crate at one batch size, run interleaved in one process (the first
//! variant of each round changes round by round), with the medians over the rounds of
//! each variant's CPU time per NOP and of per-round speed ratios.
//!
//! `cargo run --release -p uring-bench --example nop_setup -- [BATCH] [ROUNDS] [OPS]`
//! (default 32, 9 rounds, 1,000,000 NOPs per variant and round);
//! `URING_NOP_SETUP_ONLY=0,1,4` runs only those variants (by their place in the list).
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
            "ours plain fd, one enter (plain_ring_fd, wait_in_one_enter: ours before)",
            ours_with(Builder::default().plain_ring_fd().wait_in_one_enter()),
        ),
        (
            "ours default (NO_SQARRAY, fd registered on first enter, submit then wait)",
            ours_with(Builder::default()),
        ),
        (
            "ours default but wait_in_one_enter (GETEVENTS in the submit's call)",
            ours_with(Builder::default().wait_in_one_enter()),
        ),
        (
            "ours SQ array, plain fd, one enter",
            ours_with(
                Builder::default()
                    .sq_array()
                    .plain_ring_fd()
                    .wait_in_one_enter(),
            ),
        ),
        (
            "ours default + DEFER_TASKRUN",
            ours_with(Builder::default().raw_flags(defer)),
        ),
        (
            "ours hand loop, one enter with GETEVENTS (ours before)",
            Box::new(|c| nop_hand_loop(c, true)),
        ),
        (
            "ours hand loop, submit (no GETEVENTS), wait only if short",
            Box::new(|c| nop_hand_loop(c, false)),
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
    // The variants to run (default all): URING_NOP_SETUP_ONLY=0,1,4 keeps those, by
    // their place in the list above; the ratio columns stay relative to the first two
    // kept.
    let variants: Vec<(&'static str, Run)> = match std::env::var("URING_NOP_SETUP_ONLY") {
        Ok(only) => {
            let keep: Vec<usize> = only
                .split(',')
                .filter_map(|i| i.trim().parse().ok())
                .collect();
            variants
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep.contains(i))
                .map(|(_, v)| v)
                .collect()
        }
        Err(_) => variants,
    };
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

/// NOPs on ours with our defaults, in a loop of its own: push a batch, then either
/// one `io_uring_enter` that submits and waits (`IORING_ENTER_GETEVENTS`, what
/// `submit_and_wait` did before it learned to skip the wait) or a plain `submit` (no
/// `GETEVENTS`: NOPs complete inline, so the CQ already holds the batch when it
/// returns) followed by a wait only when the CQ is short. What sparing the kernel its
/// wait path (`io_cqring_wait`) is worth per batch.
fn nop_hand_loop(cfg: &NopConfig, getevents: bool) -> std::io::Result<Timed> {
    let mut ring = uring::Ring::builder().build(cfg.entries)?;
    let batch = u64::from(cfg.batch);
    let mut run = |ops: u64| -> std::io::Result<()> {
        let (submitter, mut sq, mut cq) = ring.split();
        let (mut next, mut done) = (0u64, 0u64);
        while done < ops {
            let n = (ops - next).min(batch);
            for user_data in next..next + n {
                // SAFETY: a NOP references no memory.
                unsafe {
                    sq.push_with(|sqe| {
                        uring::opcode::Nop::new()
                            .write(sqe)
                            .set_user_data(user_data);
                    })
                }
                .map_err(std::io::Error::other)?;
            }
            sq.sync();
            next += n;
            let n = n as usize;
            if getevents {
                // One `io_uring_enter` that submits and waits, as `submit_and_wait`
                // did before it learned to skip the wait.
                // SAFETY: no argument; the SQEs pushed are NOPs.
                unsafe {
                    submitter.enter(
                        n as u32,
                        n as u32,
                        uring::sys::IORING_ENTER_GETEVENTS,
                        std::ptr::null(),
                        0,
                    )
                }?;
            } else {
                submitter.submit()?;
            }
            let mut seen = 0;
            loop {
                cq.sync();
                for cqe in &mut cq {
                    if cqe.result() != 0 || cqe.user_data() >= next {
                        return Err(std::io::Error::other("bad NOP completion"));
                    }
                    seen += 1;
                }
                cq.release();
                if seen >= n {
                    break;
                }
                submitter.submit_and_wait(n - seen)?;
            }
            done += seen as u64;
        }
        Ok(())
    };
    run(cfg.warmup())?;
    let cpu_start = uring_bench::thread_cpu_time();
    let start = std::time::Instant::now();
    run(cfg.total)?;
    Ok(Timed {
        elapsed: start.elapsed(),
        cpu: uring_bench::thread_cpu_time().saturating_sub(cpu_start),
        allocations: None,
    })
}

/// The `io-uring` crate's builder with `NO_SQARRAY`.
fn no_sqarray(b: &mut io_uring::Builder) {
    b.setup_no_sqarray();
}
