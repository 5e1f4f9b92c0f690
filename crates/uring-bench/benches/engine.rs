//! The user-space engine against the kernel's io_uring, in one run.
//!
//! `cargo bench -p uring-bench --bench engine`. Three workloads, each run on
//! `Backend::Kernel` and `Backend::Engine` through the same `uring::Ring` code, plus
//! an anchor without io_uring, interleaved round by round (K E A K E A …) so machine
//! noise hits all alike; the table shows medians and the ratios:
//! - NOP at batch 32 (anchor: none);
//! - 4 KiB random reads from a cached 64 MiB file at depth 32 (anchor: `pread` in a
//!   loop), then the same as `READV` of one iovec (what qemu's block layer submits:
//!   the engine copies the iovec array at preparation, EFAULT-safe; anchor: `preadv`);
//! - loopback TCP echo, one connection, 64-byte messages, a SEND then a RECV per
//!   round trip (anchor: blocking `write`/`read`); the echo server is a plain thread;
//! - O_DIRECT 4 KiB random reads, then writes, at depth 32 on a 64 MiB file on disk
//!   (in the target directory; skipped, visibly, where that is tmpfs), no anchor.
//!
//! Targets (issue 16): cached reads and O_DIRECT reads and writes ≥ 0.9× the kernel,
//! NOP ≥ 1.0× the kernel.
//!
//! The figures also go to `target/bench/engine.json` (rates, ratios, machine), to
//! compare runs.
//!
//! Environment: `URING_BENCH_ROUNDS` (default 5), `URING_BENCH_QUICK=1` (2 rounds,
//! a tenth of the work). Without `--bench` (as `cargo test --all-targets` runs it)
//! one tiny round checks that everything works.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use serde_json::{Value, json};
use uring::types::Fd;
use uring::{Backend, Ring, opcode};
use uring_bench::report;

const FILE_SIZE: u64 = 64 << 20;
const BS: usize = 4096;
const DEPTH: u32 = 32;

struct Plan {
    rounds: usize,
    /// Work per round: NOPs, reads, round trips.
    nops: u64,
    reads: u64,
    echoes: u64,
    /// O_DIRECT reads and writes per round.
    direct: u64,
    test_mode: bool,
}

impl Plan {
    fn from_env() -> Plan {
        let test_mode = report::test_mode();
        let quick = report::quick();
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
            direct: 30_000 / scale,
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

/// Page-aligned buffers, as O_DIRECT wants.
struct Bufs {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Bufs {
    fn new() -> Bufs {
        let layout = std::alloc::Layout::from_size_align(BS * DEPTH as usize, BS).expect("layout");
        // SAFETY: a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        Bufs { ptr, layout }
    }
}

impl Drop for Bufs {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

/// Which request a random I/O job submits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Io {
    Read,
    /// `READV` of one iovec.
    Readv,
    Write,
}

/// 4 KiB random reads (or writes) at depth 32: IOPS. Every CQE is checked (a short
/// transfer is an error).
fn randio(backend: Backend, file: &std::fs::File, total: u64, io: Io) -> io::Result<f64> {
    let bufs = Bufs::new();
    let mut ring = ring(backend, 2 * DEPTH)?;
    let base = bufs.ptr;
    // One iovec per slot, for `READV`: stable until every request is reaped.
    let iovecs: Vec<libc::iovec> = (0..DEPTH as usize)
        .map(|slot| libc::iovec {
            iov_base: base.wrapping_add(slot * BS).cast(),
            iov_len: BS,
        })
        .collect();
    let fd = Fd(file.as_raw_fd());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let t = Instant::now();
    let push = |ring: &mut Ring, slot: u64, rng: &mut Rng| {
        // In bounds: slot < DEPTH.
        let buf = base.wrapping_add(slot as usize * BS);
        let sqe = match io {
            Io::Write => opcode::Write::new(fd, buf, BS as u32)
                .offset(rng.block())
                .build(),
            Io::Read => opcode::Read::new(fd, buf, BS as u32)
                .offset(rng.block())
                .build(),
            Io::Readv => opcode::Readv::new(fd, iovecs.as_ptr().wrapping_add(slot as usize), 1)
                .offset(rng.block())
                .build(),
        }
        .user_data(slot);
        // SAFETY: `bufs` and `iovecs` outlive the ring's requests (all reaped before
        // return; on an error the ring is dropped first, which waits for them); one
        // request per slot.
        unsafe { ring.submission().push(&sqe) }.expect("SQ has room");
    };
    for slot in 0..u64::from(DEPTH) {
        push(&mut ring, slot, &mut rng);
    }
    let (mut issued, mut done) = (u64::from(DEPTH), 0u64);
    let mut back = [(0u64, 0i32); 2 * DEPTH as usize];
    while done < total {
        ring.submit_and_wait(1)?;
        let mut n = 0;
        for c in ring.completion() {
            back[n] = (c.user_data(), c.result());
            n += 1;
        }
        for &(slot, res) in &back[..n] {
            if res != BS as i32 {
                let what = match io {
                    Io::Read => "read",
                    Io::Readv => "readv",
                    Io::Write => "write",
                };
                return Err(io::Error::other(format!("{what}: {res}")));
            }
            done += 1;
            if issued < total {
                push(&mut ring, slot, &mut rng);
                issued += 1;
            }
        }
    }
    let rate = total as f64 / t.elapsed().as_secs_f64();
    // Every request was reaped: done counts up to total == issued.
    drop(ring);
    Ok(rate)
}

/// 4 KiB random reads at depth 32: IOPS.
fn randread(backend: Backend, file: &std::fs::File, total: u64) -> io::Result<f64> {
    randio(backend, file, total, Io::Read)
}

/// A 64 MiB file on disk for O_DIRECT, filled with data (blocks that exist, so
/// writes overwrite), or why there is none.
fn direct_file(size: u64) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    // SAFETY: an all-zero statfs is a valid out-buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let cdir =
        std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path and a writable statfs.
    if unsafe { libc::statfs(cdir.as_ptr(), &mut st) } == 0 && st.f_type == libc::TMPFS_MAGIC {
        return Err(format!("{} is tmpfs, not a disk", dir.display()));
    }
    let path = dir.join(format!("engine-bench-direct-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .map_err(|e| format!("{}: O_DIRECT: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    let file = file?;
    let chunk = Bufs::new();
    // SAFETY: the buffer is BS * DEPTH writable bytes.
    unsafe { chunk.ptr.write_bytes(0x5a, BS * DEPTH as usize) };
    let len = BS * DEPTH as usize;
    for off in (0..size).step_by(len) {
        // SAFETY: `chunk` is `len` initialised bytes, aligned for O_DIRECT.
        let n = unsafe { libc::pwrite(file.as_raw_fd(), chunk.ptr.cast(), len, off as i64) };
        if n != len as isize {
            return Err(format!("filling: {}", io::Error::last_os_error()));
        }
    }
    file.sync_all().map_err(|e| e.to_string())?;
    Ok(file)
}

/// The anchor of `READV`: `preadv` of one iovec in a loop, same offsets.
fn preadv(file: &std::fs::File, total: u64) -> io::Result<f64> {
    let mut buf = vec![0u8; BS];
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: BS,
    };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let t = Instant::now();
    for _ in 0..total {
        // SAFETY: one iovec over `buf`, which outlives the call.
        let n = unsafe { libc::preadv(file.as_raw_fd(), &iov, 1, rng.block() as i64) };
        if n != BS as isize {
            return Err(io::Error::other(format!(
                "preadv: {n}: {}",
                io::Error::last_os_error()
            )));
        }
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
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
    let env = uring_bench::settings(&["URING_BENCH_QUICK", "URING_BENCH_ROUNDS"]);
    let how = if plan.test_mode {
        " (test mode: no --bench, checking only; numbers mean nothing)"
    } else {
        ""
    };
    println!("## Engine against kernel{how}");
    println!();
    report::print_machine(
        &format!("{env}cargo bench -p uring-bench --bench engine"),
        &report::machine(),
    );
    println!(
        "- {} rounds, interleaved; per round: {} NOPs, {} reads, {} round trips, {} O_DIRECT reads and as many writes",
        plan.rounds, plan.nops, plan.reads, plan.echoes, plan.direct
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

/// One line of the table (and of `engine.json`).
struct Row {
    workload: String,
    kernel: Result<f64, String>,
    engine: Result<f64, String>,
    anchor: Option<(&'static str, Result<f64, String>)>,
    target: String,
}

/// Measures `job` on the kernel and on the engine (and `anchor`, its name and job, if
/// any), prints the table row of `workload` with the `target`, keeps it in `rows`;
/// the errors.
fn against_kernel<'a>(
    plan: &Plan,
    rows: &mut Vec<Row>,
    workload: &str,
    anchor: Option<Job<'a>>,
    target: &str,
    job: impl Fn(Backend) -> Box<dyn Fn() -> io::Result<f64> + 'a>,
) -> Vec<String> {
    let mut jobs: Vec<Job<'a>> = vec![
        ("kernel", job(Backend::Kernel)),
        ("engine", job(Backend::Engine)),
    ];
    let anchor_name = anchor.as_ref().map(|a| a.0);
    if let Some(a) = anchor {
        jobs.push(a);
    }
    let mut r = measure(plan, &jobs).into_iter();
    let kernel = r.next().expect("kernel");
    let engine = r.next().expect("engine");
    let anchor = anchor_name.map(|n| (n, r.next().expect("anchor")));
    let (a_rate, a_ratio) = match &anchor {
        Some((n, a)) => (format!("{} ({n})", fmt(a)), ratio(&engine, a)),
        None => ("-".into(), "-".into()),
    };
    println!(
        "| {workload} | {} | {} | {a_rate} | {} | {a_ratio} | {target} |",
        fmt(&kernel),
        fmt(&engine),
        ratio(&engine, &kernel),
    );
    let errors = [&kernel, &engine]
        .into_iter()
        .chain(anchor.as_ref().map(|a| &a.1))
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    rows.push(Row {
        workload: workload.into(),
        kernel,
        engine,
        anchor,
        target: target.into(),
    });
    errors
}

/// `target/bench/engine.json`: the machine, the plan and every row (rates per second,
/// ratios), to compare runs.
fn write_json(
    plan: &Plan,
    rows: &[Row],
    skipped: &[(String, String)],
) -> io::Result<std::path::PathBuf> {
    let ok = |r: &Result<f64, String>| r.as_ref().ok().copied();
    let ratio = |a: &Result<f64, String>, b: &Result<f64, String>| Some(ok(a)? / ok(b)?);
    let machine = report::machine();
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "workload": r.workload,
                "kernel_per_s": ok(&r.kernel),
                "engine_per_s": ok(&r.engine),
                "anchor": r.anchor.as_ref().map(|a| a.0),
                "anchor_per_s": r.anchor.as_ref().and_then(|a| ok(&a.1)),
                "engine_over_kernel": ratio(&r.engine, &r.kernel),
                "engine_over_anchor": r.anchor.as_ref().and_then(|a| ratio(&r.engine, &a.1)),
                "target": r.target,
            })
        })
        .collect();
    let figures = json!({
        "bench": "engine",
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "kernel": machine["kernel"],
        "cpu": machine["cpu"],
        "nproc": machine["nproc"],
        "loadavg": report::loadavg(),
        "rounds": plan.rounds,
        "test_mode": plan.test_mode,
        "rows": rows,
        "skipped": skipped
            .iter()
            .map(|(w, why)| json!({ "workload": w, "why": why }))
            .collect::<Vec<_>>(),
    });
    report::write_json(env!("CARGO_TARGET_TMPDIR"), "engine", &figures)
}

fn main() {
    let plan = Plan::from_env();
    header(&plan);
    let mut failed = false;
    let mut rows = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    println!(
        "| workload | kernel /s | engine /s | anchor /s | engine/kernel | engine/anchor | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");

    // NOP.
    let nops = plan.nops;
    let mut errors = against_kernel(
        &plan,
        &mut rows,
        "NOP, batch 32",
        None,
        "engine ≥ 1.0× kernel",
        |b| Box::new(move || nop(b, nops)),
    );

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
        &mut rows,
        "4 KiB random read, QD 32, cached",
        Some(("pread", Box::new(move || pread(f, reads)))),
        "engine ≥ 0.9× kernel",
        |b| Box::new(move || randread(b, f, reads)),
    ));
    errors.extend(against_kernel(
        &plan,
        &mut rows,
        "4 KiB random readv (1 iovec), QD 32, cached",
        Some(("preadv", Box::new(move || preadv(f, reads)))),
        "-",
        |b| Box::new(move || randio(b, f, reads, Io::Readv)),
    ));

    // O_DIRECT on disk.
    match direct_file(if plan.test_mode { 1 << 20 } else { FILE_SIZE }) {
        Ok(dfile) => {
            if plan.test_mode {
                dfile.set_len(FILE_SIZE).unwrap();
            }
            let n = plan.direct;
            let d = &dfile;
            for (name, io) in [
                ("4 KiB random read, QD 32, O_DIRECT", Io::Read),
                ("4 KiB random write, QD 32, O_DIRECT", Io::Write),
            ] {
                errors.extend(against_kernel(
                    &plan,
                    &mut rows,
                    name,
                    None,
                    "engine ≥ 0.9× kernel",
                    |b| Box::new(move || randio(b, d, n, io)),
                ));
            }
        }
        Err(why) => {
            println!("| O_DIRECT reads and writes | - | - | - | - | - | not run: {why} |");
            skipped.push(("O_DIRECT".into(), why));
        }
    }

    // Loopback TCP echo.
    let addr = echo_server();
    let echoes = plan.echoes;
    errors.extend(against_kernel(
        &plan,
        &mut rows,
        "TCP echo, 64 B, loopback",
        Some(("write+read", Box::new(move || echo_sync(addr, echoes)))),
        "-",
        |b| Box::new(move || echo(b, addr, echoes)),
    ));
    println!();
    if !plan.test_mode {
        // (A test-mode run would overwrite a real run's figures with meaningless ones.)
        match write_json(&plan, &rows, &skipped) {
            Ok(p) => println!("figures: {}", p.display()),
            Err(e) => errors.push(format!("writing engine.json: {e}")),
        }
    }
    for e in &errors {
        eprintln!("error: {e}");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
