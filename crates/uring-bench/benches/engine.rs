//! The user-space engine against the kernel's io_uring, in one run.
//!
//! `cargo bench -p uring-bench --bench engine`. Three workloads, each run on
//! `Backend::Kernel` and `Backend::Engine` through the same `uring::Ring` code, plus
//! an anchor without io_uring, interleaved round by round (K E A K E A …) so machine
//! noise hits all alike; the table shows medians and the ratios:
//! - NOP at batch 32 (anchor: none);
//! - 4 KiB random reads from a cached 64 MiB file at depth 32 (anchor: `pread` in a
//!   loop);
//! - loopback TCP echo, one connection, 64-byte messages, a SEND then a RECV per
//!   round trip (anchor: blocking `write`/`read`); the echo server is a plain thread.
//!
//! Targets (issue 4): random reads ≥ 0.7× the kernel and ahead of `pread`; NOP ≥ 0.3×
//! the kernel.
//!
//! Environment: `URING_BENCH_ROUNDS` (default 5), `URING_BENCH_QUICK=1` (2 rounds,
//! a tenth of the work). Without `--bench` (as `cargo test --all-targets` runs it)
//! one tiny round checks that everything works.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use uring::types::Fd;
use uring::{Backend, Ring, opcode};

const FILE_SIZE: u64 = 64 << 20;
const BS: usize = 4096;
const DEPTH: u32 = 32;

struct Plan {
    rounds: usize,
    /// Work per round: NOPs, reads, round trips.
    nops: u64,
    reads: u64,
    echoes: u64,
    test_mode: bool,
}

impl Plan {
    fn from_env() -> Plan {
        let test_mode = !std::env::args().any(|a| a == "--bench");
        let quick = std::env::var("URING_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let rounds = std::env::var("URING_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if test_mode {
                1
            } else if quick {
                2
            } else {
                5
            });
        let scale = if test_mode {
            1000
        } else if quick {
            10
        } else {
            1
        };
        Plan {
            rounds,
            nops: 2_000_000 / scale,
            reads: 400_000 / scale,
            echoes: 50_000 / scale,
            test_mode,
        }
    }
}

fn ring(backend: Backend, entries: u32) -> io::Result<Ring> {
    let r = Ring::builder()
        .backend_exact(backend)
        .build(entries)
        .map_err(io::Error::from)?;
    assert_eq!(r.backend(), backend);
    Ok(r)
}

/// NOPs at batch 32: ops per second.
fn nop(backend: Backend, total: u64) -> io::Result<f64> {
    let mut ring = ring(backend, 64)?;
    let run = |ring: &mut Ring, total: u64| -> io::Result<()> {
        let mut done = 0u64;
        while done < total {
            {
                let mut sq = ring.submission();
                for i in 0..32 {
                    let sqe = opcode::Nop::new().build().user_data(done + i);
                    // SAFETY: a NOP references no memory.
                    unsafe { sq.push(&sqe) }.map_err(|_| io::Error::other("SQ full"))?;
                }
            }
            ring.submit_and_wait(32)?;
            let mut seen = 0;
            while seen < 32 {
                for c in ring.completion() {
                    if c.result() != 0 {
                        return Err(io::Error::other(format!("NOP: {}", c.result())));
                    }
                    seen += 1;
                }
                if seen < 32 {
                    ring.submitter().submit_and_wait(32 - seen)?;
                }
            }
            done += 32;
        }
        Ok(())
    };
    run(&mut ring, total.min(10_000))?;
    let t = Instant::now();
    run(&mut ring, total)?;
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

struct Rng(u64);
impl Rng {
    fn block(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % (FILE_SIZE / BS as u64)) * BS as u64
    }
}

/// 4 KiB random reads at depth 32: IOPS. Every CQE is checked (a short read is an
/// error).
fn randread(backend: Backend, file: &std::fs::File, total: u64) -> io::Result<f64> {
    let mut ring = ring(backend, 2 * DEPTH)?;
    let mut bufs = vec![0u8; BS * DEPTH as usize];
    let base = bufs.as_mut_ptr();
    let fd = Fd(file.as_raw_fd());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let t = Instant::now();
    let push = |ring: &mut Ring, slot: u64, rng: &mut Rng| {
        // SAFETY: slot < DEPTH, inside `bufs`.
        let buf = unsafe { base.add(slot as usize * BS) };
        let sqe = opcode::Read::new(fd, buf, BS as u32)
            .offset(rng.block())
            .build()
            .user_data(slot);
        // SAFETY: `bufs` outlives the ring's requests (all reaped before return); one
        // request per slot at a time.
        unsafe { ring.submission().push(&sqe) }.expect("SQ has room");
    };
    for slot in 0..u64::from(DEPTH) {
        push(&mut ring, slot, &mut rng);
    }
    let (mut issued, mut done) = (u64::from(DEPTH), 0u64);
    while done < total {
        ring.submit_and_wait(1)?;
        let cqes: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (slot, res) in cqes {
            if res != BS as i32 {
                return Err(io::Error::other(format!("read: {res}")));
            }
            done += 1;
            if issued < total {
                push(&mut ring, slot, &mut rng);
                issued += 1;
            }
        }
    }
    let rate = total as f64 / t.elapsed().as_secs_f64();
    // Drain the tail (issued may exceed done by up to DEPTH-1; all reaped above, as
    // done counts up to total == issued).
    Ok(rate)
}

/// The anchor: `pread` in a loop, same offsets.
fn pread(file: &std::fs::File, total: u64) -> io::Result<f64> {
    let mut buf = vec![0u8; BS];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let t = Instant::now();
    for _ in 0..total {
        let n = file.read_at(&mut buf, rng.block())?;
        if n != BS {
            return Err(io::Error::other(format!("pread: {n}")));
        }
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

/// An echo server on loopback: one thread per connection, plain blocking I/O.
fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

const MSG: usize = 64;

/// Round trips per second: SEND then RECV (MSG_WAITALL) of 64 bytes, one at a time.
fn echo(backend: Backend, addr: std::net::SocketAddr, total: u64) -> io::Result<f64> {
    let mut ring = ring(backend, 8)?;
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let fd = Fd(s.as_raw_fd());
    let out = [0x5au8; MSG];
    let mut back = [0u8; MSG];
    let t = Instant::now();
    for _ in 0..total {
        let send = opcode::Send::new(fd, out.as_ptr(), MSG as u32)
            .build()
            .user_data(1);
        let recv = opcode::Recv::new(fd, back.as_mut_ptr(), MSG as u32)
            .flags(libc::MSG_WAITALL)
            .build()
            .user_data(2);
        // SAFETY: `out` and `back` outlive the requests, reaped before the next loop.
        unsafe { ring.submission().push_multiple(&[send, recv]) }.expect("SQ has room");
        ring.submit_and_wait(2)?;
        let mut seen = 0;
        while seen < 2 {
            for c in ring.completion() {
                if c.result() != MSG as i32 {
                    return Err(io::Error::other(format!(
                        "{}: {}",
                        ["", "send", "recv"][c.user_data() as usize],
                        c.result()
                    )));
                }
                seen += 1;
            }
            if seen < 2 {
                ring.submitter().submit_and_wait(1)?;
            }
        }
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

/// The anchor: blocking write + read.
fn echo_sync(addr: std::net::SocketAddr, total: u64) -> io::Result<f64> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let out = [0x5au8; MSG];
    let mut back = [0u8; MSG];
    let t = Instant::now();
    for _ in 0..total {
        s.write_all(&out)?;
        s.read_exact(&mut back)?;
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

fn header(plan: &Plan) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned());
    let cpu = uring_bench::cpu_model();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let env = uring_bench::settings(&["URING_BENCH_QUICK", "URING_BENCH_ROUNDS"]);
    let how = if plan.test_mode {
        " (test mode: no --bench, checking only; numbers mean nothing)"
    } else {
        ""
    };
    println!("## Engine against kernel{how}");
    println!();
    println!("- command: `{env}cargo bench -p uring-bench --bench engine`");
    println!("- kernel: {kernel}; CPU: {cpu}, nproc {nproc}");
    println!(
        "- {} rounds, interleaved; per round: {} NOPs, {} reads, {} round trips",
        plan.rounds, plan.nops, plan.reads, plan.echoes
    );
    println!();
}

type Job<'a> = (&'static str, Box<dyn Fn() -> io::Result<f64> + 'a>);

/// Runs the jobs interleaved for the plan's rounds; medians, or the error.
fn measure(plan: &Plan, jobs: &[Job<'_>]) -> Vec<Result<f64, String>> {
    let mut rates: Vec<Result<Vec<f64>, String>> = jobs.iter().map(|_| Ok(vec![])).collect();
    for _ in 0..plan.rounds {
        for ((name, job), r) in jobs.iter().zip(rates.iter_mut()) {
            if let Ok(v) = r {
                match job() {
                    Ok(x) => v.push(x),
                    Err(e) => *r = Err(format!("{name}: {e}")),
                }
            }
        }
    }
    rates
        .into_iter()
        .map(|r| r.map(uring_bench::median))
        .collect()
}

/// `x` per second, for the table.
fn fmt(r: &Result<f64, String>) -> String {
    match r {
        Ok(x) if *x >= 1e6 => format!("{:.2} M", x / 1e6),
        Ok(x) => format!("{:.0} k", x / 1e3),
        Err(_) => "error".into(),
    }
}

/// `a / b`, for the table.
fn ratio(a: &Result<f64, String>, b: &Result<f64, String>) -> String {
    match (a, b) {
        (Ok(a), Ok(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// Measures `job` on the kernel and on the engine against `anchor` (its name, its
/// job), prints the table row of `workload` with the `target`; the errors.
fn against_kernel<'a>(
    plan: &Plan,
    workload: &str,
    anchor: (&'static str, Box<dyn Fn() -> io::Result<f64> + 'a>),
    target: &str,
    job: impl Fn(Backend) -> Box<dyn Fn() -> io::Result<f64> + 'a>,
) -> Vec<String> {
    let (anchor_name, anchor_job) = anchor;
    let r = measure(
        plan,
        &[
            ("kernel", job(Backend::Kernel)),
            ("engine", job(Backend::Engine)),
            (anchor_name, anchor_job),
        ],
    );
    println!(
        "| {workload} | {} | {} | {} ({anchor_name}) | {} | {} | {target} |",
        fmt(&r[0]),
        fmt(&r[1]),
        fmt(&r[2]),
        ratio(&r[1], &r[0]),
        ratio(&r[1], &r[2])
    );
    r.into_iter().filter_map(Result::err).collect()
}

fn main() {
    let plan = Plan::from_env();
    header(&plan);
    let mut failed = false;
    println!(
        "| workload | kernel /s | engine /s | anchor /s | engine/kernel | engine/anchor | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");

    // NOP.
    let nops = plan.nops;
    let r = measure(
        &plan,
        &[
            ("kernel", Box::new(move || nop(Backend::Kernel, nops))),
            ("engine", Box::new(move || nop(Backend::Engine, nops))),
        ],
    );
    println!(
        "| NOP, batch 32 | {} | {} | - | {} | - | engine ≥ 0.3× kernel |",
        fmt(&r[0]),
        fmt(&r[1]),
        ratio(&r[1], &r[0])
    );
    let mut errors: Vec<String> = r.into_iter().filter_map(Result::err).collect();

    // Random reads from a cached file.
    let dir = std::env::var("CARGO_TARGET_TMPDIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let file = tempfile::tempfile_in(&dir).expect("temporary file");
    let size = if plan.test_mode { 1 << 20 } else { FILE_SIZE };
    let chunk = vec![0xa5u8; 1 << 20];
    for off in (0..size).step_by(chunk.len()) {
        file.write_all_at(&chunk, off).unwrap();
    }
    if plan.test_mode {
        // The random offsets cover FILE_SIZE: make the small file sparse-full.
        file.set_len(FILE_SIZE).unwrap();
    }
    // Cache it: read it all once.
    let mut buf = vec![0u8; 1 << 20];
    for off in (0..FILE_SIZE).step_by(buf.len()) {
        file.read_exact_at(&mut buf, off).unwrap();
    }
    let reads = plan.reads;
    let f = &file;
    errors.extend(against_kernel(
        &plan,
        "4 KiB random read, QD 32, cached",
        ("pread", Box::new(move || pread(f, reads))),
        "engine ≥ 0.7× kernel, > pread",
        |b| Box::new(move || randread(b, f, reads)),
    ));

    // Loopback TCP echo.
    let addr = echo_server();
    let echoes = plan.echoes;
    errors.extend(against_kernel(
        &plan,
        "TCP echo, 64 B, loopback",
        ("write+read", Box::new(move || echo_sync(addr, echoes))),
        "-",
        |b| Box::new(move || echo(b, addr, echoes)),
    ));
    println!();
    for e in &errors {
        eprintln!("error: {e}");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
