//! `uring bench`: an I/O benchmark in the manner of fio, with the comparison built in:
//! the same workload on pread/pwrite, Linux AIO and io_uring (in its modes), one run.
mod aio_io;
mod file;
mod report;
mod sync_io;
mod uring_io;
mod worker;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::util::{self, CliError, CpuTime, EXIT_INTERRUPTED, fmt_count, parse_size, stopped};
use file::BenchFile;
pub use report::JobResult;
use worker::{Ctx, Stats};

/// Rounds of the default comparison.
const DEFAULT_ROUNDS: u32 = 3;

/// The most buffer memory a job may ask for (bs x iodepth x threads).
const MAX_BUFFERS: u64 = 4 << 30;

/// Size of the temporary file when --size is not given.
const DEFAULT_SIZE: u64 = 256 << 20;

/// How long each job runs when neither `--runtime` nor `--ops` is given.
const DEFAULT_RUNTIME: Duration = Duration::from_secs(3);

/// Where the I/O goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// pread(2)/pwrite(2), one at a time.
    Sync,
    /// Linux AIO (io_submit/io_getevents), O_DIRECT.
    Aio,
    /// The kernel's io_uring.
    Uring,
    /// The user-space io_uring engine (crate uring-engine): the uring jobs' code on
    /// `Backend::Engine`.
    #[value(name = "engine")]
    #[serde(rename = "engine")]
    UserSpace,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sync => "sync",
            Engine::Aio => "aio",
            Engine::Uring => "uring",
            Engine::UserSpace => "engine",
        }
    }
}

/// What each I/O does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// IORING_OP_NOP: the cost of the ring itself (uring and engine only).
    Nop,
    /// Reads at random block-aligned offsets.
    Randread,
    /// Writes at random block-aligned offsets.
    Randwrite,
    /// Sequential reads.
    Read,
    /// Sequential writes.
    Write,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Nop => "nop",
            Workload::Randread => "randread",
            Workload::Randwrite => "randwrite",
            Workload::Read => "read",
            Workload::Write => "write",
        }
    }

    fn writes(self) -> bool {
        matches!(self, Workload::Write | Workload::Randwrite)
    }
}

fn parse_bs(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if n == 0 {
        return Err("the block size must be at least 1 byte".into());
    }
    if n > 64 << 20 {
        return Err("the block size is at most 64m".into());
    }
    Ok(n)
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    parse_size(s)
}

fn parse_runtime(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(v > 0.0 && v <= 86_400.0) {
        return Err("the runtime is between 0 and 86400 seconds".into());
    }
    Ok(v)
}

/// `uring bench`: with no arguments, 4k random reads at queue depth 32 over a 256 MiB
/// file in the page cache, on sync I/O, Linux AIO and io_uring (plain, registered
/// buffers, O_DIRECT), plus NOPs on io_uring; about 20 seconds.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Engines to run, comma-separated (sync, aio, uring, engine) [default: the
    /// comparison: sync, aio, uring, uring with registered buffers, uring O_DIRECT,
    /// uring nop]
    #[arg(short, long, value_enum, value_delimiter = ',')]
    pub engine: Vec<Engine>,
    /// What each I/O does.
    #[arg(
        short,
        long,
        visible_alias = "rw",
        value_enum,
        default_value = "randread"
    )]
    pub workload: Workload,
    /// Block size of each I/O (e.g. 4k, 128k, 1m).
    #[arg(long, default_value = "4k", value_parser = parse_bs)]
    pub bs: u64,
    /// Requests in flight per thread (aio, uring).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub iodepth: u32,
    /// Completions to wait for before refilling, i.e. the submission batch in steady
    /// state [default: iodepth/4]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch: Option<u32>,
    /// Open the file with O_DIRECT (bypass the page cache). Linux AIO always does.
    #[arg(long)]
    pub direct: bool,
    /// File or block device to use [default: a temporary file in $TMPDIR, removed
    /// afterwards]. A missing file is created with --size bytes. Write workloads
    /// overwrite it.
    #[arg(long)]
    pub filename: Option<PathBuf>,
    /// Size of the temporary file (or the part of --filename to use) [default: 256m]
    #[arg(long, value_parser = parse_size_arg)]
    pub size: Option<u64>,
    /// Seconds each job runs [default: 3, unless --ops]
    #[arg(long, value_parser = parse_runtime, conflicts_with = "ops")]
    pub runtime: Option<f64>,
    /// I/Os each job issues (in total over its threads), instead of a runtime.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
    /// Threads per job, each with its own ring (or AIO context).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// uring: a kernel thread polls the SQ (IORING_SETUP_SQPOLL).
    #[arg(long)]
    pub sqpoll: bool,
    /// uring: poll for completions (IORING_SETUP_IOPOLL; needs --direct and a device
    /// with poll queues).
    #[arg(long)]
    pub iopoll: bool,
    /// uring: registered buffers (READ_FIXED/WRITE_FIXED).
    #[arg(long)]
    pub fixed_buffers: bool,
    /// uring: a registered file (IOSQE_FIXED_FILE).
    #[arg(long)]
    pub fixed_files: bool,
    /// Runs every job this many times over, one after the other, each round a share
    /// of the runtime (or of --ops); the figures add the rounds up. Interleaving evens
    /// out a machine whose speed drifts during the comparison (other load, write-back).
    /// [default: 3 for the default comparison, else 1]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: Option<u32>,
    /// Seed of the offsets' PRNG.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON on stdout instead of the table (no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Draw the comparison (IOPS and p99 latency per job) as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// One job: an engine, a workload and its settings.
#[derive(Debug, Clone, Serialize)]
pub struct JobSpec {
    /// Label in the table, e.g. `uring fixed-bufs`.
    pub name: String,
    /// Role in the comparison: `sync`, `aio`, `uring`, `uring-fixed`, `uring-direct`,
    /// `uring-nop` (or the engine's name for jobs asked for by --engine).
    pub key: &'static str,
    pub engine: Engine,
    pub workload: Workload,
    pub bs: u64,
    pub iodepth: u32,
    pub batch: u32,
    pub threads: u32,
    pub direct: bool,
    pub sqpoll: bool,
    pub iopoll: bool,
    pub fixed_buffers: bool,
    pub fixed_files: bool,
    pub seed: u64,
    #[serde(skip)]
    pub runtime: Option<Duration>,
    #[serde(skip)]
    pub ops: Option<u64>,
}

impl JobSpec {
    fn label(&self) -> String {
        let mut s = match self.engine {
            Engine::Sync if self.workload.writes() => "sync pwrite".to_string(),
            Engine::Sync => "sync pread".to_string(),
            Engine::Aio => "aio".to_string(),
            Engine::Uring => "uring".to_string(),
            Engine::UserSpace => "engine".to_string(),
        };
        if self.workload == Workload::Nop {
            s.push_str(" nop");
        }
        if self.direct && self.workload != Workload::Nop {
            s.push_str(" O_DIRECT");
        }
        for (on, name) in [
            (self.sqpoll, " sqpoll"),
            (self.iopoll, " iopoll"),
            (
                self.fixed_buffers && self.workload != Workload::Nop,
                " fixed-bufs",
            ),
            (
                self.fixed_files && self.workload != Workload::Nop,
                " fixed-files",
            ),
        ] {
            if on {
                s.push_str(name);
            }
        }
        s
    }
}

/// The jobs the arguments ask for.
fn jobs(a: &BenchArgs) -> Result<Vec<JobSpec>, CliError> {
    let (runtime, ops) = match (a.runtime, a.ops) {
        (_, Some(n)) => (None, Some(n)),
        (Some(s), None) => (Some(Duration::from_secs_f64(s)), None),
        (None, None) => (Some(DEFAULT_RUNTIME), None),
    };
    let base = JobSpec {
        name: String::new(),
        key: "",
        engine: Engine::Uring,
        workload: a.workload,
        bs: a.bs,
        iodepth: a.iodepth,
        batch: a.batch.unwrap_or((a.iodepth / 4).max(1)).min(a.iodepth),
        threads: a.threads,
        direct: a.direct,
        sqpoll: a.sqpoll,
        iopoll: a.iopoll,
        fixed_buffers: a.fixed_buffers,
        fixed_files: a.fixed_files,
        seed: a.seed,
        runtime,
        ops,
    };
    let job = |key: &'static str, engine: Engine, f: &dyn Fn(&mut JobSpec)| {
        let mut j = base.clone();
        j.key = key;
        j.engine = engine;
        match engine {
            Engine::Sync => {
                j.iodepth = 1;
                j.batch = 1;
            }
            // Linux AIO is asynchronous only with O_DIRECT.
            Engine::Aio => j.direct = true,
            _ => {}
        }
        if engine == Engine::UserSpace {
            j.iopoll = false;
        } else if engine != Engine::Uring {
            j.sqpoll = false;
            j.iopoll = false;
            j.fixed_buffers = false;
            j.fixed_files = false;
        }
        f(&mut j);
        j.name = j.label();
        j
    };
    let mut out = Vec::new();
    if a.engine.is_empty() {
        if a.workload == Workload::Nop {
            out.push(job("uring-nop", Engine::Uring, &|_| {}));
            out.push(job("engine-nop", Engine::UserSpace, &|_| {}));
        } else {
            out.push(job("sync", Engine::Sync, &|_| {}));
            out.push(job("aio", Engine::Aio, &|_| {}));
            out.push(job("uring", Engine::Uring, &|_| {}));
            if !a.fixed_buffers {
                out.push(job("uring-fixed", Engine::Uring, &|j| {
                    j.fixed_buffers = true
                }));
            }
            if !a.direct {
                out.push(job("uring-direct", Engine::Uring, &|j| j.direct = true));
            }
            out.push(job("engine", Engine::UserSpace, &|_| {}));
            out.push(job("uring-nop", Engine::Uring, &|j| {
                j.workload = Workload::Nop;
                j.direct = false;
                j.iopoll = false;
            }));
            out.push(job("engine-nop", Engine::UserSpace, &|j| {
                j.workload = Workload::Nop;
                j.direct = false;
            }));
        }
    } else {
        let mut seen = Vec::new();
        for &e in &a.engine {
            if seen.contains(&e) {
                continue;
            }
            seen.push(e);
            if a.workload == Workload::Nop && !matches!(e, Engine::Uring | Engine::UserSpace) {
                return Err(CliError::usage(format!(
                    "the nop workload runs only on the uring and engine engines (IORING_OP_NOP), not on {}",
                    e.name()
                )));
            }
            let key = match e {
                Engine::Sync => "sync",
                Engine::Aio => "aio",
                Engine::UserSpace => "engine",
                Engine::Uring => "uring",
            };
            out.push(job(key, e, &|_| {}));
        }
    }
    for j in &out {
        let memory = j.bs * u64::from(j.iodepth) * u64::from(j.threads);
        if memory > MAX_BUFFERS {
            return Err(CliError::usage(format!(
                "--bs x --iodepth x --threads asks for {} of buffers; the most is {}",
                util::fmt_size(memory),
                util::fmt_size(MAX_BUFFERS)
            )));
        }
        if j.iopoll && !j.direct && j.workload != Workload::Nop {
            return Err(CliError::usage(
                "--iopoll needs --direct: IOPOLL polls for O_DIRECT completions only",
            ));
        }
        if j.direct && j.workload != Workload::Nop && j.bs % 512 != 0 {
            return Err(CliError::usage(format!(
                "--bs {} cannot be used with O_DIRECT ({}): it must be a multiple of the \
                 device's logical block size (512 or 4096)",
                j.bs,
                if j.engine == Engine::Aio {
                    "Linux AIO always uses it"
                } else {
                    "--direct"
                }
            )));
        }
    }
    Ok(out)
}

/// Runs `uring bench`; returns the exit code.
pub fn run(a: BenchArgs) -> Result<i32, CliError> {
    let jobs = jobs(&a)?;
    util::install_stop_handler();
    let needs_file = jobs.iter().any(|j| j.workload != Workload::Nop);
    let size = a.size.unwrap_or(DEFAULT_SIZE);
    let show_progress = !a.json && util::stderr_is_tty();

    let bench_file = if needs_file {
        if a.filename.is_none() && show_progress {
            eprint!("filling a {} temporary file…\r", util::fmt_size(size));
        }
        let bf = match &a.filename {
            Some(p) => BenchFile::user(p, size, a.size.is_some())?,
            None => BenchFile::temporary(size)?,
        };
        if a.filename.is_none() && show_progress {
            eprint!("\r\x1b[2K");
        }
        if bf.size < a.bs {
            return Err(CliError::new(format!(
                "{} holds {} bytes, less than one block of --bs {}",
                bf.path.display(),
                bf.size,
                a.bs
            )));
        }
        Some(bf)
    } else {
        None
    };

    // Jobs of the comparison this machine cannot run are left out, visibly.
    let mut not_run: Vec<(String, String)> = Vec::new();
    let mut jobs = jobs;
    if a.engine.is_empty()
        && let Some(bf) = &bench_file
        && !direct_supported(&bf.path)
    {
        jobs.retain(|j| j.key != "uring-direct");
        not_run.push((
            "uring O_DIRECT".into(),
            format!(
                "the file system of {} does not support O_DIRECT (tmpfs before Linux 6.6, for one): set TMPDIR \
                 to a disk file system to compare with AIO",
                bf.path.display()
            ),
        ));
    }
    let rounds = a.rounds.unwrap_or(if a.engine.is_empty() {
        DEFAULT_ROUNDS
    } else {
        1
    });
    let header = report::Header::new(&a, &jobs, bench_file.as_ref(), rounds);
    if !a.json {
        header.print();
    }
    let mut acc: Vec<Option<JobResult>> = jobs.iter().map(|_| None).collect();
    'rounds: for round in 0..rounds {
        for (i, spec) in jobs.iter().enumerate() {
            if stopped() {
                break 'rounds;
            }
            if acc[i].as_ref().is_some_and(|r| r.failure.is_some()) {
                continue; // could not start: no use trying again
            }
            let mut part = spec.clone();
            part.runtime = spec.runtime.map(|d| d / rounds);
            part.ops = spec.ops.map(|n| {
                n / u64::from(rounds) + u64::from(u64::from(round) < n % u64::from(rounds))
            });
            let prefix = if rounds > 1 {
                format!("{} {}/{rounds}", spec.name, round + 1)
            } else {
                spec.name.clone()
            };
            let mut r = run_job(part, bench_file.as_ref(), show_progress, prefix);
            if stopped() {
                r.notes
                    .push("interrupted: the figures cover the part that ran".into());
            }
            r.spec = spec.clone();
            match &mut acc[i] {
                Some(sum) => sum.then(r),
                slot => *slot = Some(r),
            }
            if rounds == 1 && !a.json {
                report::print_row(acc[i].as_ref().expect("just run"), header.name_width);
            }
        }
    }
    let results: Vec<JobResult> = acc.into_iter().flatten().collect();
    if rounds > 1 && !a.json {
        for r in &results {
            report::print_row(r, header.name_width);
        }
    }
    let interrupted = stopped();
    let ok = results.iter().all(JobResult::ok);
    if a.json {
        report::print_json(&header, &results, &not_run, interrupted)?;
    } else {
        report::print_summary(&results, &not_run, interrupted);
    }
    if let Some(path) = &a.plot {
        let svg = crate::plot::svg(&header.title(), &results);
        std::fs::write(path, svg)
            .map_err(|e| CliError::new(format!("writing the plot {}: {e}", path.display())))?;
        if !a.json {
            println!("plot: {}", path.display());
        }
    }
    drop(bench_file);
    Ok(if interrupted {
        EXIT_INTERRUPTED
    } else if ok {
        0
    } else {
        1
    })
}

/// Whether `path` can be opened with O_DIRECT (tmpfs before Linux 6.6 refuses it).
fn direct_supported(path: &std::path::Path) -> bool {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .map_or_else(|e| e.raw_os_error() != Some(libc::EINVAL), |_| true)
}

/// Opens the job's file with its flags.
fn open(spec: &JobSpec, bf: &BenchFile, notes: &mut Vec<String>) -> Result<File, CliError> {
    let open = |direct: bool| {
        let mut o = OpenOptions::new();
        o.read(true).write(spec.workload.writes());
        if direct {
            o.custom_flags(libc::O_DIRECT);
        }
        o.open(&bf.path)
    };
    match open(spec.direct) {
        Ok(f) => Ok(f),
        Err(e) if spec.direct && e.raw_os_error() == Some(libc::EINVAL) => {
            if spec.engine == Engine::Aio {
                notes.push(
                    "O_DIRECT refused by the file system: buffered AIO, where io_submit \
                     does each I/O before it returns"
                        .into(),
                );
                open(false).map_err(|e| CliError::new(format!("{}: {e}", bf.path.display())))
            } else {
                Err(CliError::new(format!(
                    "the file system of {} does not support O_DIRECT (tmpfs before Linux 6.6, for one); drop --direct \
                     or use --filename on a disk file system",
                    bf.path.display()
                )))
            }
        }
        Err(e) => Err(CliError::new(format!("{}: {e}", bf.path.display()))),
    }
}

fn run_job(
    spec: JobSpec,
    bf: Option<&BenchFile>,
    show_progress: bool,
    prefix: String,
) -> JobResult {
    let mut notes = Vec::new();
    let file = match (bf, spec.workload) {
        (_, Workload::Nop) | (None, _) => None,
        (Some(bf), _) => match open(&spec, bf, &mut notes) {
            Ok(f) => Some(f),
            Err(e) => return JobResult::failed(spec, e.msg, notes),
        },
    };
    let blocks = bf.map_or(0, |b| b.size / spec.bs);

    let pb = progress_bar(&spec, show_progress, prefix);
    let progress = AtomicU64::new(0);
    let cpu0 = CpuTime::now();
    let t0 = Instant::now();
    let threads = spec.threads;
    let outcome: Vec<Result<Stats, CliError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ctx = Ctx {
                    spec: &spec,
                    file: file.as_ref(),
                    blocks,
                    thread: t,
                    quota: spec.ops.map(|n| {
                        n / u64::from(threads) + u64::from(u64::from(t) < n % u64::from(threads))
                    }),
                    runtime: spec.runtime,
                    progress: &progress,
                };
                s.spawn(move || match ctx.spec.engine {
                    Engine::Sync => sync_io::run(&ctx),
                    Engine::Aio => aio_io::run(&ctx),
                    Engine::Uring | Engine::UserSpace => uring_io::run(&ctx),
                })
            })
            .collect();
        let mut last = (0u64, Instant::now());
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            let done = progress.load(Ordering::Relaxed);
            let now = Instant::now();
            let rate = (done - last.0) as f64 / now.duration_since(last.1).as_secs_f64();
            if now.duration_since(last.1) >= Duration::from_millis(250) {
                pb.set_message(format!("{} IOPS", fmt_count(rate)));
                last = (done, now);
            }
            match spec.runtime {
                Some(_) => pb.set_position(t0.elapsed().as_millis() as u64),
                None => pb.set_position(done),
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a benchmark thread panicked"))
            .collect()
    });
    let cpu = CpuTime::now().since(cpu0);
    pb.finish_and_clear();

    let mut total: Option<Stats> = None;
    for r in outcome {
        match r {
            Ok(st) => match &mut total {
                Some(t) => t.merge(st),
                None => total = Some(st),
            },
            Err(e) => return JobResult::failed(spec, e.msg, notes),
        }
    }
    let total = total.expect("at least one thread");
    if spec.iopoll
        && total
            .first_error
            .as_deref()
            .is_some_and(|e| e.starts_with("EOPNOTSUPP"))
    {
        notes.push(
            "IOPOLL needs a block device with poll queues (NVMe: the nvme.poll_queues \
             module parameter); this file's device has none"
                .into(),
        );
    }
    JobResult::new(spec, total, cpu, notes)
}

fn progress_bar(spec: &JobSpec, show: bool, prefix: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let (len, unit) = match (spec.runtime, spec.ops) {
        (Some(d), _) => (d.as_millis() as u64, "{elapsed}"),
        (None, Some(n)) => (n, "{pos}/{len}"),
        (None, None) => (0, ""),
    };
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = format!("{{prefix:26}} [{{bar:30}}] {unit} {{msg}}");
    pb.set_style(
        ProgressStyle::with_template(&template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix);
    pb
}
