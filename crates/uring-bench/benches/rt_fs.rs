//! File I/O through `uring-rt` against the other async runtimes and the raw ring, in
//! one run.
//!
//! `cargo bench -p uring-bench --bench rt_fs`. Two workloads, the same for every
//! implementation: 32 tasks (or, for the raw ring, 32 requests) in flight, each with
//! its own seeded sequence of 4 KiB offsets:
//! - **random reads** from a cached 256 MiB file;
//! - **writes and fsync batches**: each task writes 4 KiB at a random offset of a
//!   64 MiB file (filled beforehand, so writes overwrite) and after every 8th write
//!   calls `fdatasync` on the file.
//!
//! The implementations, interleaved round by round (A B C … A B C …) so that machine
//! noise hits them alike:
//! - `ours`: `uring_rt::fs::File` on the kernel backend, and `ours (engine)` on the
//!   engine backend;
//! - `raw`: a loop on this workspace's `uring::Ring` that does the same requests with
//!   no runtime (a slot per task, its next request pushed when its CQE arrives), on a
//!   ring set up with the flags the runtime asks for (`SINGLE_ISSUER | DEFER_TASKRUN`);
//! - `tokio::fs` (a current-thread runtime; `File` is seek + read/write on the
//!   blocking pool, one `File`, opened on its own, per task), `tokio-uring`, `monoio` (io_uring driver)
//!   and `compio` (io_uring driver), each with its own `File::read_at`/`write_at`.
//!
//! Two more variants of `ours` run only when `URING_BENCH_ONLY` names them, for A/B
//! runs of the ring's setup: `ours-no-taskrun` (`taskrun_flags(false)`: no task-run
//! flags, monoio's setup) and `ours-coop` (`defer_taskrun(false)`: `COOP_TASKRUN`
//! instead of `DEFER_TASKRUN`).
//!
//! The rate is operations (reads, or writes) per second of the timed pass, which
//! starts after a short untimed one on the same runtime and files; every result is
//! checked (a short transfer is an error). The tables show medians over the rounds:
//! rates, what an operation cost the whole process (CPU time of all its threads, io-wq
//! workers included, and context switches), and the ratios; the figures go to
//! `target/bench/rt_fs.json` with the machine and load. The files live in the target directory (`URING_BENCH_DIR` to put them elsewhere):
//! the fsyncs reach that file system's device.
//!
//! Targets (issue 11): ours ≥ 3× tokio::fs, ≥ 1.1× the best of monoio, compio and
//! tokio-uring, ≥ 0.9× the raw loop; ours on the engine ≥ 0.8× ours on the kernel.
//!
//! Environment: `URING_BENCH_ROUNDS` (default 5), `URING_BENCH_QUICK=1` (2 rounds, a
//! tenth of the work), `URING_BENCH_DIR`; for partial runs, which write no JSON
//! (`scripts/rt-fs-instructions.sh` counts instructions with them):
//! `URING_BENCH_ONLY=ours,raw` (only these implementations), `URING_BENCH_WORK=read`
//! (or `write`: only that workload), `URING_BENCH_OPS=N` (operations per round). Without `--bench` (as `cargo test --all-targets` runs it) one
//! tiny round checks that everything works.

use std::io::{self, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use serde_json::{Value, json};
use uring::types::Fd;
use uring::{Backend, Ring, opcode};
use uring_bench::alloc::CountingAlloc;
use uring_bench::report;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const BS: usize = 4096;
/// Tasks (requests) in flight.
const TASKS: usize = 32;
const READ_FILE: u64 = 256 << 20;
const WRITE_FILE: u64 = 64 << 20;
/// Writes of a task between two of its fdatasyncs.
const SYNC_EVERY: u64 = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Work {
    Read,
    Write,
}

/// One request of a task.
#[derive(Clone, Copy, Debug)]
enum Step {
    Read(u64),
    Write(u64),
    Sync,
}

/// The steps of task `task`: `n` reads or writes at seeded random 4 KiB offsets, and
/// for writes an fdatasync after every [`SYNC_EVERY`]th.
fn steps(work: Work, task: usize, n: u64) -> impl Iterator<Item = Step> {
    let blocks = match work {
        Work::Read => READ_FILE,
        Work::Write => WRITE_FILE,
    } / BS as u64;
    // xorshift64, one seed per task.
    let mut x = 0x2545_f491_4f6c_dd1d ^ (task as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..n).flat_map(move |i| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let off = (x % blocks) * BS as u64;
        match work {
            Work::Read => [Some(Step::Read(off)), None],
            Work::Write => [
                Some(Step::Write(off)),
                ((i + 1) % SYNC_EVERY == 0).then_some(Step::Sync),
            ],
        }
        .into_iter()
        .flatten()
    })
}

/// A transfer's result: a whole block, or an error.
fn check(what: &str, res: io::Result<usize>) -> io::Result<()> {
    match res {
        Ok(BS) => Ok(()),
        Ok(n) => Err(io::Error::other(format!("{what}: short transfer of {n}"))),
        Err(e) => Err(e),
    }
}

/// The files every implementation works on.
struct Files {
    read: tempfile::NamedTempFile,
    write: tempfile::NamedTempFile,
}

impl Files {
    fn std(&self, work: Work) -> &std::fs::File {
        match work {
            Work::Read => self.read.as_file(),
            Work::Write => self.write.as_file(),
        }
    }

    fn path(&self, work: Work) -> &Path {
        match work {
            Work::Read => self.read.path(),
            Work::Write => self.write.path(),
        }
    }

    /// Creates both in `dir`, filled; the read file read once, so it is cached.
    fn new(dir: &Path, test_mode: bool) -> io::Result<Files> {
        let chunk = vec![0xa5u8; 1 << 20];
        let fill = |len: u64| -> io::Result<tempfile::NamedTempFile> {
            let f = tempfile::NamedTempFile::new_in(dir)?;
            // A test run writes 1 MiB and leaves the rest a hole (reads of holes
            // still transfer whole blocks).
            let data = if test_mode { 1 << 20 } else { len };
            for off in (0..data).step_by(chunk.len()) {
                f.as_file().write_all_at(&chunk, off)?;
            }
            f.as_file().set_len(len)?;
            f.as_file().sync_all()?;
            Ok(f)
        };
        let files = Files {
            read: fill(READ_FILE)?,
            write: fill(WRITE_FILE)?,
        };
        let mut buf = vec![0u8; 1 << 20];
        for off in (0..READ_FILE).step_by(buf.len()) {
            files.read.as_file().read_exact_at(&mut buf, off)?;
        }
        Ok(files)
    }
}

/// What a timed pass measured.
#[derive(Clone, Copy, Debug)]
struct Timed {
    /// Operations (reads or writes) per second.
    rate: f64,
    /// Operations per second of the calling thread's CPU time, which leaves out the
    /// time a loaded machine kept the thread from a CPU (and the work of other threads:
    /// tokio::fs's blocking pool, io_uring's workers).
    cpu_rate: f64,
    /// Heap allocations per operation on the calling thread, where it runs the work
    /// (not for tokio::fs, whose work runs on the blocking pool).
    allocs_per_op: f64,
    /// CPU time of the whole process per operation, in µs: every thread's, the
    /// kernel's io-wq workers (threads of the process) included.
    process_cpu_us_per_op: f64,
    /// Context switches of the whole process per operation (voluntary and not).
    switches_per_op: f64,
}

/// CPU time of the whole process (`CLOCK_PROCESS_CPUTIME_ID`: all its threads, io-wq
/// workers included).
fn process_cpu_time() -> std::time::Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, exclusive timespec for the call to write.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Context switches of the whole process so far (`getrusage`, voluntary + involuntary).
fn process_switches() -> u64 {
    // SAFETY: an all-zero rusage is a valid out-buffer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, exclusive rusage for the call to write.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0;
    }
    (ru.ru_nvcsw + ru.ru_nivcsw) as u64
}

/// The start of a timed pass.
struct Start {
    at: Instant,
    cpu: std::time::Duration,
    process_cpu: std::time::Duration,
    switches: u64,
    allocs: u64,
}

impl Start {
    fn now() -> Start {
        Start {
            allocs: uring_bench::alloc::allocations(),
            switches: process_switches(),
            process_cpu: process_cpu_time(),
            cpu: uring_bench::thread_cpu_time(),
            at: Instant::now(),
        }
    }

    /// What the pass measured, `ops` operations since `self`.
    fn end(self, ops: u64) -> Timed {
        let elapsed = self.at.elapsed().as_secs_f64();
        let cpu = uring_bench::thread_cpu_time().saturating_sub(self.cpu);
        let process_cpu = process_cpu_time().saturating_sub(self.process_cpu);
        let switches = process_switches().saturating_sub(self.switches);
        let ops = ops as f64;
        Timed {
            rate: ops / elapsed,
            cpu_rate: ops / cpu.as_secs_f64(),
            allocs_per_op: (uring_bench::alloc::allocations() - self.allocs) as f64 / ops,
            process_cpu_us_per_op: process_cpu.as_secs_f64() * 1e6 / ops,
            switches_per_op: switches as f64 / ops,
        }
    }
}

/// Runs `pass(n)` (n operations per task) untimed with a small `n`, then timed with
/// `total / TASKS`; works inside any runtime.
async fn timed<F, Fut>(total: u64, pass: F) -> io::Result<Timed>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>>,
{
    let per_task = (total / TASKS as u64).max(1);
    pass(per_task.min(64)).await?;
    let start = Start::now();
    pass(per_task).await?;
    Ok(start.end(per_task * TASKS as u64))
}

/// The task body of the runtimes whose files take owned buffers and give them back
/// as `(result, buffer)`: `read`, `write` and `sync` are the runtime's calls on
/// `$file` with `$buf` at `$off`.
macro_rules! owned_buf_task {
    ($name:ident, $file:ty, |$f:ident, $buf:ident, $off:ident| read: $read:expr, write: $write:expr, sync: $sync:expr $(,)?) => {
        async fn $name($f: Rc<$file>, work: Work, task: usize, n: u64) -> io::Result<()> {
            let mut $buf = vec![0xa5u8; BS];
            for step in steps(work, task, n) {
                match step {
                    Step::Read($off) => {
                        let (res, b) = $read;
                        $buf = b;
                        check("read", res)?;
                    }
                    Step::Write($off) => {
                        let (res, b) = $write;
                        $buf = b;
                        check("write", res)?;
                    }
                    Step::Sync => $sync?,
                }
            }
            Ok(())
        }
    };
}

owned_buf_task!(ours_task, uring_rt::fs::File, |f, buf, off|
    read: f.read_at(buf, off).await,
    write: f.write_at(buf, off).await,
    sync: f.sync_data().await,
);

owned_buf_task!(tokio_uring_task, tokio_uring::fs::File, |f, buf, off|
    read: f.read_at(buf, off).await,
    write: f.write_at(buf, off).submit().await,
    sync: f.sync_data().await,
);

owned_buf_task!(monoio_task, monoio::fs::File, |f, buf, off|
    read: f.read_at(buf, off).await,
    write: f.write_at(buf, off).await,
    sync: f.sync_data().await,
);

owned_buf_task!(compio_task, compio::fs::File, |f, buf, off|
    read: {
        let compio::BufResult(res, b) = compio::io::AsyncReadAt::read_at(&*f, buf, off).await;
        (res, b)
    },
    write: {
        let compio::BufResult(res, b) = compio::io::AsyncWriteAt::write_at(&mut &*f, buf, off).await;
        (res, b)
    },
    sync: f.sync_data().await,
);

/// The runtime's ring setups an A/B run compares.
#[derive(Clone, Copy)]
enum Setup {
    /// The runtime's default.
    Default,
    /// `taskrun_flags(false)`: no task-run flags (monoio's setup).
    NoTaskrun,
    /// `defer_taskrun(false)`: `COOP_TASKRUN` instead of `DEFER_TASKRUN`.
    Coop,
}

/// uring-rt on `backend`, its ring set up as `setup` says.
fn ours(
    backend: Backend,
    setup: Setup,
    files: &Files,
    work: Work,
    total: u64,
) -> io::Result<Timed> {
    let b = uring_rt::Runtime::builder().backend_exact(backend);
    let rt = match setup {
        Setup::Default => b,
        Setup::NoTaskrun => b.taskrun_flags(false),
        Setup::Coop => b.defer_taskrun(false),
    }
    .build()?;
    let file = Rc::new(uring_rt::fs::File::from(files.std(work).try_clone()?));
    rt.block_on(timed(total, |n| {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| uring_rt::spawn(ours_task(file.clone(), work, t, n)))
            .collect();
        async move {
            for t in tasks {
                t.await??;
            }
            Ok(())
        }
    }))
}

fn ours_kernel(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    ours(Backend::Kernel, Setup::Default, files, work, total)
}

fn ours_no_taskrun(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    ours(Backend::Kernel, Setup::NoTaskrun, files, work, total)
}

fn ours_coop(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    ours(Backend::Kernel, Setup::Coop, files, work, total)
}

fn ours_engine(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    ours(Backend::Engine, Setup::Default, files, work, total)
}

/// The same requests on a bare `uring::Ring`: slot `t` runs task `t`'s steps, its next
/// request pushed when the CQE of the last one arrives; one `submit_and_wait(1)` per
/// batch of CQEs.
fn raw(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    // The flags the runtime asks for first (it falls back when refused; so does this).
    let taskrun = uring::sys::IORING_SETUP_SINGLE_ISSUER
        | uring::sys::IORING_SETUP_DEFER_TASKRUN
        | uring::sys::IORING_SETUP_TASKRUN_FLAG;
    let build = |flags| {
        Ring::builder()
            .backend_exact(Backend::Kernel)
            .raw_flags(flags)
            .build(2 * TASKS as u32)
    };
    let mut ring = build(taskrun)
        .or_else(|_| build(0))
        .map_err(io::Error::from)?;
    let fd = Fd(files.std(work).as_raw_fd());
    let mut bufs = vec![[0xa5u8; BS]; TASKS];
    let mut pass = |n: u64| -> io::Result<()> {
        let mut plans: Vec<_> = (0..TASKS).map(|t| steps(work, t, n)).collect();
        let mut current = [Step::Sync; TASKS];
        let mut in_flight = 0;
        let mut push = |ring: &mut Ring, t: usize, current: &mut [Step; TASKS]| -> bool {
            let Some(step) = plans[t].next() else {
                return false;
            };
            current[t] = step;
            let buf = bufs[t].as_mut_ptr();
            let sqe = match step {
                Step::Read(off) => opcode::Read::new(fd, buf, BS as u32).offset(off).build(),
                Step::Write(off) => opcode::Write::new(fd, buf, BS as u32).offset(off).build(),
                Step::Sync => opcode::Fsync::new(fd)
                    .flags(uring::sys::IORING_FSYNC_DATASYNC)
                    .build(),
            }
            .user_data(t as u64);
            // SAFETY: `bufs` outlives every request (all are reaped before `pass`
            // returns, or the ring, dropped first on an error, waits for them); one
            // request per slot; the SQ (2 × TASKS) has room for TASKS requests.
            unsafe { ring.submission().push(&sqe) }.expect("SQ has room");
            true
        };
        for t in 0..TASKS {
            in_flight += usize::from(push(&mut ring, t, &mut current));
        }
        let mut done = [(0usize, 0i32); 2 * TASKS];
        while in_flight > 0 {
            ring.submit_and_wait(1)?;
            let mut k = 0;
            for c in ring.completion() {
                done[k] = (c.user_data() as usize, c.result());
                k += 1;
            }
            for &(t, res) in &done[..k] {
                in_flight -= 1;
                let res = if res < 0 {
                    Err(io::Error::from_raw_os_error(-res))
                } else {
                    Ok(res as usize)
                };
                match current[t] {
                    Step::Read(_) => check("read", res)?,
                    Step::Write(_) => check("write", res)?,
                    Step::Sync => drop(res?),
                }
                in_flight += usize::from(push(&mut ring, t, &mut current));
            }
        }
        Ok(())
    };
    let per_task = (total / TASKS as u64).max(1);
    pass(per_task.min(64))?;
    let start = Start::now();
    pass(per_task)?;
    Ok(start.end(per_task * TASKS as u64))
}

/// tokio::fs on a current-thread runtime: each task its own `File` (seek, then
/// `read_exact` or `write_all`, on the blocking pool).
fn tokio_fs(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    async fn task(mut f: tokio::fs::File, work: Work, task: usize, n: u64) -> io::Result<()> {
        let mut buf = vec![0xa5u8; BS];
        for step in steps(work, task, n) {
            match step {
                Step::Read(off) => {
                    f.seek(SeekFrom::Start(off)).await?;
                    f.read_exact(&mut buf).await?;
                }
                Step::Write(off) => {
                    f.seek(SeekFrom::Start(off)).await?;
                    f.write_all(&buf).await?;
                }
                Step::Sync => f.sync_data().await?,
            }
        }
        f.flush().await
    }
    // One open file description per task: descriptors cloned with dup(2) would share
    // the file position between the tasks' seeks.
    let own: Vec<std::fs::File> = (0..TASKS)
        .map(|_| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(files.path(work))
        })
        .collect::<io::Result<_>>()?;
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(timed(total, |n| {
        let tasks: io::Result<Vec<_>> = own
            .iter()
            .enumerate()
            .map(|(t, std)| {
                let f = tokio::fs::File::from_std(std.try_clone()?);
                Ok(tokio::spawn(task(f, work, t, n)))
            })
            .collect();
        async move {
            for t in tasks? {
                t.await.map_err(io::Error::other)??;
            }
            Ok(())
        }
    }))
}

fn tokio_uring(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    let std = files.std(work).try_clone()?;
    tokio_uring::start(async move {
        let file = Rc::new(tokio_uring::fs::File::from_std(std));
        timed(total, |n| {
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| tokio_uring::spawn(tokio_uring_task(file.clone(), work, t, n)))
                .collect();
            async move {
                for t in tasks {
                    t.await.map_err(io::Error::other)??;
                }
                Ok(())
            }
        })
        .await
    })
}

fn monoio(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    let std = files.std(work).try_clone()?;
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build()?;
    rt.block_on(async move {
        let file = Rc::new(monoio::fs::File::from_std(std)?);
        timed(total, |n| {
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| monoio::spawn(monoio_task(file.clone(), work, t, n)))
                .collect();
            async move {
                for t in tasks {
                    t.await?;
                }
                Ok(())
            }
        })
        .await
    })
}

fn compio(files: &Files, work: Work, total: u64) -> io::Result<Timed> {
    let path = files.path(work).to_owned();
    let rt = compio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let file = Rc::new(
            compio::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .await?,
        );
        timed(total, |n| {
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| compio::runtime::spawn(compio_task(file.clone(), work, t, n)))
                .collect();
            async move {
                for t in tasks {
                    t.await
                        .map_err(|_| io::Error::other("compio task panicked"))??;
                }
                Ok(())
            }
        })
        .await
    })
}

/// One implementation under test.
struct Imp {
    name: &'static str,
    run: fn(&Files, Work, u64) -> io::Result<Timed>,
    /// Runs only when `URING_BENCH_ONLY` names it (a variant for A/B runs).
    opt_in: bool,
}

const IMPS: [Imp; 9] = [
    Imp {
        name: "ours",
        run: ours_kernel,
        opt_in: false,
    },
    Imp {
        name: "ours-no-taskrun",
        run: ours_no_taskrun,
        opt_in: true,
    },
    Imp {
        name: "ours-coop",
        run: ours_coop,
        opt_in: true,
    },
    Imp {
        name: "ours (engine)",
        run: ours_engine,
        opt_in: false,
    },
    Imp {
        name: "raw",
        run: raw,
        opt_in: false,
    },
    Imp {
        name: "tokio::fs",
        run: tokio_fs,
        opt_in: false,
    },
    Imp {
        name: "tokio-uring",
        run: tokio_uring,
        opt_in: false,
    },
    Imp {
        name: "monoio",
        run: monoio,
        opt_in: false,
    },
    Imp {
        name: "compio",
        run: compio,
        opt_in: false,
    },
];

/// The ratios the table and the JSON give, as (key, numerator, denominators, target):
/// a ratio to several denominators is to the best of them.
const RATIOS: [(&str, &str, &[&str], f64); 12] = [
    ("ours/tokio", "ours", &["tokio::fs"], 3.0),
    (
        "ours/best of monoio, compio, tokio-uring",
        "ours",
        &["monoio", "compio", "tokio-uring"],
        1.1,
    ),
    ("ours/monoio", "ours", &["monoio"], 0.0),
    ("ours/compio", "ours", &["compio"], 0.0),
    ("ours/tokio-uring", "ours", &["tokio-uring"], 0.0),
    ("ours/raw", "ours", &["raw"], 0.9),
    ("engine/kernel", "ours (engine)", &["ours"], 0.8),
    ("raw/tokio", "raw", &["tokio::fs"], 0.0),
    ("ours/ours-no-taskrun", "ours", &["ours-no-taskrun"], 0.0),
    (
        "ours-no-taskrun/monoio",
        "ours-no-taskrun",
        &["monoio"],
        0.0,
    ),
    ("ours/ours-coop", "ours", &["ours-coop"], 0.0),
    ("ours-coop/monoio", "ours-coop", &["monoio"], 0.0),
];

struct Plan {
    rounds: usize,
    reads: u64,
    writes: u64,
    /// `URING_BENCH_WORK`: only this workload.
    work: Option<String>,
    test_mode: bool,
    only: Option<Vec<String>>,
    dir: PathBuf,
}

impl Plan {
    fn from_env() -> Plan {
        let test_mode = report::test_mode();
        let quick = report::quick();
        let (rounds, scale) = if test_mode {
            (1, 200)
        } else if quick {
            (2, 10)
        } else {
            (5, 1)
        };
        Plan {
            rounds: report::env_number("URING_BENCH_ROUNDS").map_or(rounds, |r| r.max(1) as usize),
            reads: report::env_number("URING_BENCH_OPS").unwrap_or(320_000 / scale),
            writes: report::env_number("URING_BENCH_OPS").unwrap_or(16_000 / scale),
            work: std::env::var("URING_BENCH_WORK")
                .ok()
                .filter(|w| !w.is_empty()),
            test_mode,
            only: report::env_list("URING_BENCH_ONLY"),
            dir: std::env::var_os("URING_BENCH_DIR")
                .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from),
        }
    }

    fn runs(&self, imp: &Imp) -> bool {
        match &self.only {
            Some(o) => o.iter().any(|n| n == imp.name),
            None => !imp.opt_in,
        }
    }

    /// Whether the tables show `imp`: every implementation but an opt-in one not run.
    fn shows(&self, imp: &Imp) -> bool {
        !imp.opt_in || self.runs(imp)
    }
}

fn command() -> String {
    let env = uring_bench::settings(&[
        "URING_BENCH_QUICK",
        "URING_BENCH_ROUNDS",
        "URING_BENCH_ONLY",
        "URING_BENCH_DIR",
        "URING_BENCH_OPS",
        "URING_BENCH_WORK",
    ]);
    format!("{env}cargo bench -p uring-bench --bench rt_fs")
}

/// One implementation's rounds of one workload.
#[derive(Default)]
struct Rounds {
    rates: Vec<f64>,
    cpu_rates: Vec<f64>,
    allocs_per_op: Vec<f64>,
    process_cpu_us_per_op: Vec<f64>,
    switches_per_op: Vec<f64>,
    error: Option<String>,
}

impl Rounds {
    fn median_of(&self, v: &[f64]) -> Option<f64> {
        (self.error.is_none() && !v.is_empty()).then(|| uring_bench::median(v.to_vec()))
    }

    fn median(&self) -> Option<f64> {
        self.median_of(&self.rates)
    }

    fn cpu_median(&self) -> Option<f64> {
        self.median_of(&self.cpu_rates)
    }
}

fn rate(x: Option<f64>) -> String {
    match x {
        Some(x) if x >= 1e6 => format!("{:.2} M", x / 1e6),
        Some(x) => format!("{:.1} k", x / 1e3),
        None => "n/a".into(),
    }
}

/// The ratio `key` over the medians of `imps`: `None` when a side is missing.
fn ratio(medians: &[(&str, Option<f64>)], num: &str, dens: &[&str]) -> Option<f64> {
    let get = |n: &str| medians.iter().find(|(m, _)| *m == n).and_then(|(_, r)| *r);
    let best = dens
        .iter()
        .map(|d| get(d))
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .fold(f64::NAN, f64::max);
    Some(get(num)? / best)
}

fn main() {
    let plan = Plan::from_env();
    let machine = report::machine();
    let load_before = report::loadavg();
    let how = if plan.test_mode {
        " (test mode: no --bench, checking only; numbers mean nothing)"
    } else {
        ""
    };
    println!("## uring-rt files against other runtimes{how}");
    println!();
    report::print_machine(&command(), &machine);
    println!(
        "- {} rounds, interleaved; per round {} reads, {} writes (an fdatasync per {SYNC_EVERY} writes of a task); {TASKS} tasks; files in {}",
        plan.rounds,
        plan.reads,
        plan.writes,
        plan.dir.display()
    );
    println!();
    let files = match Files::new(&plan.dir, plan.test_mode) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: creating the files in {}: {e}", plan.dir.display());
            std::process::exit(1);
        }
    };

    let mut errors = Vec::new();
    let mut results = Vec::new();
    let mut table = Vec::new();
    let mut costs = Vec::new();
    for (work, label, total) in [
        (
            Work::Read,
            "4 KiB random read, 32 tasks, cached",
            plan.reads,
        ),
        (
            Work::Write,
            "4 KiB write + fdatasync per 8, 32 tasks",
            plan.writes,
        ),
    ] {
        let name = match work {
            Work::Read => "read",
            Work::Write => "write",
        };
        if plan.work.as_ref().is_some_and(|w| w != name) {
            continue;
        }
        let mut rounds: Vec<Rounds> = IMPS.iter().map(|_| Rounds::default()).collect();
        for _ in 0..plan.rounds {
            for (imp, r) in IMPS.iter().zip(rounds.iter_mut()) {
                if r.error.is_some() || !plan.runs(imp) {
                    continue;
                }
                match (imp.run)(&files, work, total) {
                    Ok(t) => {
                        r.rates.push(t.rate);
                        r.cpu_rates.push(t.cpu_rate);
                        r.allocs_per_op.push(t.allocs_per_op);
                        r.process_cpu_us_per_op.push(t.process_cpu_us_per_op);
                        r.switches_per_op.push(t.switches_per_op);
                    }
                    Err(e) => r.error = Some(format!("{label}, {}: {e}", imp.name)),
                }
            }
        }
        errors.extend(rounds.iter().filter_map(|r| r.error.clone()));
        let medians: Vec<(&str, Option<f64>)> = IMPS
            .iter()
            .zip(&rounds)
            .map(|(imp, r)| (imp.name, r.median()))
            .collect();
        let cpu_medians: Vec<(&str, Option<f64>)> = IMPS
            .iter()
            .zip(&rounds)
            .map(|(imp, r)| (imp.name, r.cpu_median()))
            .collect();
        let ratios_of = |m: &[(&str, Option<f64>)]| -> Vec<(&str, Option<f64>, f64)> {
            RATIOS
                .iter()
                .map(|&(key, num, dens, target)| (key, ratio(m, num, dens), target))
                .collect()
        };
        let ratios = ratios_of(&medians);
        let cpu_ratios = ratios_of(&cpu_medians);
        table.push((label, medians.clone(), ratios.clone(), cpu_ratios.clone()));
        costs.push((
            label,
            rounds
                .iter()
                .map(|r| {
                    Some((
                        r.median_of(&r.process_cpu_us_per_op)?,
                        r.median_of(&r.switches_per_op)?,
                    ))
                })
                .collect::<Vec<_>>(),
        ));
        results.push(json!({
            "workload": label,
            "ops_per_round": total,
            "implementations": IMPS.iter().zip(&rounds).filter(|(imp, _)| plan.runs(imp)).map(|(imp, r)| {
                (imp.name.to_owned(), json!({
                    "ops_per_s_per_round": r.rates,
                    "median_ops_per_s": r.median(),
                    "ops_per_thread_cpu_s_per_round": r.cpu_rates,
                    "median_ops_per_thread_cpu_s": r.cpu_median(),
                    "allocations_per_op_per_round": r.allocs_per_op,
                    "process_cpu_us_per_op_per_round": r.process_cpu_us_per_op,
                    "context_switches_per_op_per_round": r.switches_per_op,
                    "error": r.error,
                }))
            }).collect::<serde_json::Map<String, Value>>(),
            "ratios": ratios.iter().zip(&cpu_ratios).map(|(&(k, r, target), &(_, c, _))| {
                (k.to_owned(), json!({
                    "ratio": r,
                    "ratio_of_thread_cpu_rates": c,
                    "target": (target > 0.0).then_some(target),
                }))
            }).collect::<serde_json::Map<String, Value>>(),
        }));
    }

    // Rates.
    print!("| workload |");
    let shown: Vec<bool> = IMPS.iter().map(|imp| plan.shows(imp)).collect();
    for imp in IMPS.iter().filter(|imp| plan.shows(imp)) {
        print!(" {} /s |", imp.name);
    }
    println!();
    println!(
        "|---|{}",
        "---:|".repeat(shown.iter().filter(|s| **s).count())
    );
    for (label, medians, _, _) in &table {
        print!("| {label} |");
        for ((_, m), _) in medians.iter().zip(&shown).filter(|(_, s)| **s) {
            print!(" {} |", rate(*m));
        }
        println!();
    }
    println!();
    // What each operation cost the whole process.
    print!("| process CPU µs / context switches per op |");
    for imp in IMPS.iter().filter(|imp| plan.shows(imp)) {
        print!(" {} |", imp.name);
    }
    println!();
    println!(
        "|---|{}",
        "---:|".repeat(shown.iter().filter(|s| **s).count())
    );
    for (label, c) in &costs {
        print!("| {label} |");
        for (c, _) in c.iter().zip(&shown).filter(|(_, s)| **s) {
            match c {
                Some((cpu, sw)) => print!(" {cpu:.2} / {sw:.2} |"),
                None => print!(" n/a |"),
            }
        }
        println!();
    }
    println!();
    // Ratios, against their targets.
    print!("| workload |");
    // A ratio with an opt-in implementation not run is left out.
    let ratio_shown: Vec<bool> = RATIOS
        .iter()
        .map(|(_, num, dens, _)| {
            std::iter::once(num)
                .chain(dens.iter())
                .all(|n| IMPS.iter().any(|imp| imp.name == *n && plan.shows(imp)))
        })
        .collect();
    for ((key, _, _, target), _) in RATIOS.iter().zip(&ratio_shown).filter(|(_, s)| **s) {
        if *target > 0.0 {
            print!(" {key} (≥ {target}) |");
        } else {
            print!(" {key} |");
        }
    }
    println!();
    println!(
        "|---|{}",
        "---:|".repeat(ratio_shown.iter().filter(|s| **s).count())
    );
    for (label, _, ratios, cpu_ratios) in &table {
        for (how, ratios) in [("", ratios), (", thread CPU time", cpu_ratios)] {
            print!("| {label}{how} |");
            for ((_, r, target), _) in ratios.iter().zip(&ratio_shown).filter(|(_, s)| **s) {
                let mark = match r {
                    Some(r) if *target > 0.0 && *r < *target => " (missed)",
                    _ => "",
                };
                print!(" {}{mark} |", r.map_or("-".into(), |r| format!("{r:.2}")));
            }
            println!();
        }
    }
    println!();
    println!(
        "- thread CPU time: rates per second of the runtime thread's CPU time; they leave out the work of other threads (tokio::fs's blocking pool, the kernel's io-wq workers, the engine's), so compare them between implementations that work on their own thread"
    );
    println!();

    if plan.only.is_some() || plan.work.is_some() || report::env_number("URING_BENCH_OPS").is_some()
    {
        println!("- a partial run (URING_BENCH_ONLY, _WORK or _OPS): no JSON written");
    } else if !plan.test_mode {
        let fs_type = fs_type(&plan.dir);
        let out = json!({
            "benchmark": "rt_fs",
            "command": command(),
            "machine": machine,
            "load_average_before": load_before,
            "load_average_after": report::loadavg(),
            "rounds": plan.rounds,
            "tasks": TASKS,
            "block_size": BS,
            "read_file_bytes": READ_FILE,
            "write_file_bytes": WRITE_FILE,
            "sync_every": SYNC_EVERY,
            "dir": plan.dir.display().to_string(),
            "dir_fs_magic": fs_type,
            "results": results,
            "errors": errors,
        });
        match report::write_json(env!("CARGO_TARGET_TMPDIR"), "rt_fs", &out) {
            Ok(p) => println!("- figures written to {}", p.display()),
            Err(e) => errors.push(format!("writing rt_fs.json: {e}")),
        }
    }
    // Removes the files now: `exit` below would skip their destructors and leave
    // 320 MiB in the target directory.
    drop(files);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}

/// `statfs`'s `f_type` of `dir` (0xef53 ext4, 0x01021994 tmpfs, …), to tell what the
/// fsyncs reached.
fn fs_type(dir: &Path) -> Option<String> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: an all-zero statfs is a valid out-buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a writable statfs.
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then(|| format!("{:#x}", st.f_type))
}
