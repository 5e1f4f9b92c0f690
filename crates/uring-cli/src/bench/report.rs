//! What a benchmark prints: the header, a row per job, the comparison, or JSON.
use serde::Serialize;

use super::file::{BenchFile, Kind};
use super::worker::Stats;
use super::{BenchArgs, Engine, JobSpec, Workload};
use crate::util::{CliError, CpuTime, fmt_count, fmt_ns, fmt_size, kernel};

/// The outcome of one job.
pub struct JobResult {
    pub spec: JobSpec,
    pub stats: Option<Stats>,
    /// Why the job could not run (setup failed), if it could not.
    pub failure: Option<String>,
    pub cpu: CpuTime,
    pub notes: Vec<String>,
}

impl JobResult {
    pub fn new(spec: JobSpec, stats: Stats, cpu: CpuTime, notes: Vec<String>) -> JobResult {
        JobResult {
            spec,
            stats: Some(stats),
            failure: None,
            cpu,
            notes,
        }
    }

    pub fn failed(spec: JobSpec, msg: String, notes: Vec<String>) -> JobResult {
        JobResult {
            spec,
            stats: None,
            failure: Some(msg),
            cpu: CpuTime::default(),
            notes,
        }
    }

    /// Adds a later round of the same job: counts, times, CPU and histograms add up;
    /// a failure in any round is the job's.
    pub fn then(&mut self, later: JobResult) {
        if let (Some(a), Some(b)) = (&mut self.stats, later.stats) {
            a.then(b);
        }
        if self.failure.is_none() {
            self.failure = later.failure;
        }
        self.cpu.user += later.cpu.user;
        self.cpu.sys += later.cpu.sys;
        for n in later.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }

    /// Ran, with every I/O complete and correct.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
            && self
                .stats
                .as_ref()
                .is_some_and(|s| s.errors == 0 && s.short == 0)
    }

    /// Full I/Os per second.
    pub fn iops(&self) -> Option<f64> {
        let s = self.stats.as_ref()?;
        let secs = s.elapsed.as_secs_f64();
        (secs > 0.0).then(|| s.ios as f64 / secs)
    }

    /// Bytes per second.
    pub fn bandwidth(&self) -> Option<f64> {
        let s = self.stats.as_ref()?;
        let secs = s.elapsed.as_secs_f64();
        (secs > 0.0).then(|| s.bytes as f64 / secs)
    }

    /// Latency at quantile `q`, in ns.
    pub fn latency(&self, q: f64) -> Option<f64> {
        let s = self.stats.as_ref()?;
        (!s.hist.is_empty()).then(|| s.hist.value_at_quantile(q) as f64)
    }

    fn per_op(&self, total_ns: f64) -> Option<f64> {
        let s = self.stats.as_ref()?;
        (s.ios > 0).then(|| total_ns / s.ios as f64)
    }

    fn issues(&self) -> Option<String> {
        if let Some(f) = &self.failure {
            return Some(f.clone());
        }
        let s = self.stats.as_ref()?;
        if s.errors == 0 && s.short == 0 {
            return None;
        }
        Some(format!(
            "{} failed, {} short of {} I/Os (first: {})",
            s.errors,
            s.short,
            s.ios + s.errors + s.short,
            s.first_error.as_deref().unwrap_or("?")
        ))
    }
}

/// The run's settings and surroundings.
#[derive(Serialize)]
pub struct Header {
    pub workload: Workload,
    pub bs: u64,
    pub iodepth: u32,
    pub batch: u32,
    pub threads: u32,
    pub runtime_s: Option<f64>,
    pub ops: Option<u64>,
    /// The jobs ran this many times over, interleaved; figures add the rounds up.
    pub rounds: u32,
    pub file: Option<FileInfo>,
    pub kernel: String,
    pub cpus: usize,
    /// Width of the job column.
    #[serde(skip)]
    pub name_width: usize,
}

#[derive(Serialize)]
pub struct FileInfo {
    pub path: String,
    pub size: u64,
    pub temporary: bool,
    pub kind: &'static str,
}

impl Header {
    pub fn new(a: &BenchArgs, jobs: &[JobSpec], bf: Option<&BenchFile>, rounds: u32) -> Header {
        let (sys, release, machine) = kernel();
        let first = jobs.first();
        Header {
            workload: a.workload,
            bs: a.bs,
            iodepth: a.iodepth,
            batch: jobs
                .iter()
                .find(|j| j.engine != Engine::Sync)
                .map_or(1, |j| j.batch),
            threads: a.threads,
            runtime_s: first.and_then(|j| j.runtime).map(|d| d.as_secs_f64()),
            ops: first.and_then(|j| j.ops),
            rounds,
            file: bf.map(|b| FileInfo {
                path: b.path.display().to_string(),
                size: b.size,
                temporary: b.temporary,
                kind: match b.kind {
                    Kind::File => "file",
                    Kind::BlockDevice => "block device",
                },
            }),
            kernel: format!("{sys} {release} {machine}"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            name_width: jobs.iter().map(|j| j.name.len()).max().unwrap_or(0).max(20),
        }
    }

    /// One line for the plot: `randread 4k, QD32 — Linux 6.18 x86_64`.
    pub fn title(&self) -> String {
        format!(
            "{} {}, iodepth {}, {} thread{} — {}",
            self.workload.name(),
            crate::util::fmt_size_short(self.bs),
            self.iodepth,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.kernel
        )
    }

    pub fn print(&self) {
        let mut limit = match (self.runtime_s, self.ops) {
            (Some(s), _) => format!("{s} s per job"),
            (None, Some(n)) => format!("{n} I/Os per job"),
            _ => String::new(),
        };
        if self.rounds > 1 {
            limit.push_str(&format!(" in {} interleaved rounds", self.rounds));
        }
        let bs = if self.workload == Workload::Nop {
            String::new()
        } else {
            format!(" {}", crate::util::fmt_size_short(self.bs))
        };
        println!(
            "uring bench: {}{bs}, iodepth {} (batch {}), {} thread{}, {limit}",
            self.workload.name(),
            self.iodepth,
            self.batch,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
        );
        if let Some(f) = &self.file {
            println!(
                "file:   {} ({}, {}{})",
                f.path,
                fmt_size(f.size),
                f.kind,
                if f.temporary {
                    ", temporary, in the page cache after filling"
                } else {
                    ""
                }
            );
        }
        println!("kernel: {}, {} CPUs", self.kernel, self.cpus);
        println!();
        println!(
            "{:<w$} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "job",
            "QD",
            "IOPS",
            "MiB/s",
            "p50",
            "p99",
            "p99.9",
            "usr/op",
            "sys/op",
            "calls/op",
            w = self.name_width
        );
    }
}

/// One row of the table (or the job's failure).
pub fn print_row(r: &JobResult, w: usize) {
    let s = &r.spec;
    let Some(st) = r.stats.as_ref().filter(|_| r.failure.is_none()) else {
        println!(
            "{:<w$} {:>4}  failed: {}",
            s.name,
            s.iodepth,
            r.failure.as_deref().unwrap_or("?"),
        );
        return;
    };
    let lat = |q| r.latency(q).map_or("-".into(), fmt_ns);
    let per_op = |d: std::time::Duration| r.per_op(d.as_nanos() as f64).map_or("-".into(), fmt_ns);
    let mib = if s.workload == Workload::Nop {
        "-".to_string()
    } else {
        r.bandwidth()
            .map_or("-".into(), |b| format!("{:.1}", b / (1 << 20) as f64))
    };
    let calls = if st.ios > 0 {
        format!("{:.3}", st.syscalls as f64 / st.ios as f64)
    } else {
        "-".into()
    };
    println!(
        "{:<w$} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        s.name,
        s.iodepth,
        r.iops().map_or("-".into(), fmt_count),
        mib,
        lat(0.5),
        lat(0.99),
        lat(0.999),
        per_op(r.cpu.user),
        per_op(r.cpu.sys),
        calls
    );
    if let Some(i) = r.issues() {
        println!("{:<w$} ^ ERRORS: {i}", "");
    }
    for n in &r.notes {
        println!("{:<w$} ^ note: {n}", "");
    }
}

/// The comparisons the run allows: (numerator key, denominator key, what it says).
const COMPARISONS: &[(&str, &str, &str)] = &[
    ("uring", "sync", "uring vs sync (IOPS)"),
    ("uring-direct", "aio", "uring vs aio, both O_DIRECT (IOPS)"),
    (
        "uring-fixed",
        "uring",
        "registered buffers vs plain uring (IOPS)",
    ),
    ("engine", "uring", "engine vs kernel uring (IOPS)"),
    ("engine", "sync", "engine vs sync (IOPS)"),
    (
        "engine-nop",
        "uring-nop",
        "engine vs kernel uring, NOP (ops/s)",
    ),
];

fn find<'a>(results: &'a [JobResult], key: &str) -> Option<&'a JobResult> {
    results.iter().find(|r| r.spec.key == key && r.ok())
}

/// Ratios of IOPS between jobs of the run, as `(what, ratio)`.
fn ratios(results: &[JobResult]) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for &(a, b, what) in COMPARISONS {
        // With --direct, plain uring is the O_DIRECT one to hold against AIO.
        let a_job = find(results, a).or_else(|| {
            (a == "uring-direct")
                .then(|| find(results, "uring"))
                .flatten()
                .filter(|r| r.spec.direct)
        });
        let (Some(x), Some(y)) = (a_job, find(results, b)) else {
            continue;
        };
        if a == "uring-direct" && !(x.spec.direct && y.spec.direct && y.notes.is_empty()) {
            continue;
        }
        if let (Some(p), Some(q)) = (x.iops(), y.iops())
            && q > 0.0
        {
            out.push((what.to_string(), p / q));
        }
    }
    out
}

pub fn print_summary(results: &[JobResult], not_run: &[(String, String)], interrupted: bool) {
    println!();
    for (what, ratio) in ratios(results) {
        println!("{what:<42} {ratio:.2}x");
    }
    for (what, why) in not_run {
        println!("{what:<42} not run: {why}");
    }
    let bad: Vec<_> = results.iter().filter(|r| !r.ok()).collect();
    if !bad.is_empty() {
        println!();
        for r in bad {
            println!("error: {}: {}", r.spec.name, r.issues().unwrap_or_default());
        }
    }
    if interrupted {
        println!("interrupted: the remaining jobs were not run");
    }
}

#[derive(Serialize)]
struct JsonOut<'a> {
    header: &'a Header,
    jobs: Vec<JsonJob<'a>>,
    comparisons: Vec<JsonRatio>,
    not_run: Vec<JsonNotRun<'a>>,
    ok: bool,
    interrupted: bool,
}

#[derive(Serialize)]
struct JsonRatio {
    what: String,
    iops_ratio: f64,
}

#[derive(Serialize)]
struct JsonNotRun<'a> {
    job: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonJob<'a> {
    #[serde(flatten)]
    spec: &'a JobSpec,
    ok: bool,
    failure: Option<&'a str>,
    ios: u64,
    bytes: u64,
    errors: u64,
    short: u64,
    first_error: Option<&'a str>,
    elapsed_s: f64,
    iops: f64,
    bw_bytes_per_s: f64,
    lat_ns: JsonLat,
    cpu_user_ns_per_op: Option<f64>,
    cpu_sys_ns_per_op: Option<f64>,
    syscalls: u64,
    syscalls_per_op: Option<f64>,
    notes: &'a [String],
}

#[derive(Serialize, Default)]
struct JsonLat {
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    mean: Option<f64>,
    max: Option<f64>,
}

pub fn print_json(
    header: &Header,
    results: &[JobResult],
    not_run: &[(String, String)],
    interrupted: bool,
) -> Result<(), CliError> {
    let jobs = results
        .iter()
        .map(|r| {
            let st = r.stats.as_ref();
            let ios = st.map_or(0, |s| s.ios);
            let has_lat = st.is_some_and(|s| !s.hist.is_empty());
            JsonJob {
                spec: &r.spec,
                ok: r.ok(),
                failure: r.failure.as_deref(),
                ios,
                bytes: st.map_or(0, |s| s.bytes),
                errors: st.map_or(0, |s| s.errors),
                short: st.map_or(0, |s| s.short),
                first_error: st.and_then(|s| s.first_error.as_deref()),
                elapsed_s: st.map_or(0.0, |s| s.elapsed.as_secs_f64()),
                iops: r.iops().unwrap_or(0.0),
                bw_bytes_per_s: r.bandwidth().unwrap_or(0.0),
                lat_ns: if has_lat {
                    let h = &st.expect("has stats").hist;
                    JsonLat {
                        p50: r.latency(0.5),
                        p99: r.latency(0.99),
                        p999: r.latency(0.999),
                        mean: Some(h.mean()),
                        max: Some(h.max() as f64),
                    }
                } else {
                    JsonLat::default()
                },
                cpu_user_ns_per_op: r.per_op(r.cpu.user.as_nanos() as f64),
                cpu_sys_ns_per_op: r.per_op(r.cpu.sys.as_nanos() as f64),
                syscalls: st.map_or(0, |s| s.syscalls),
                syscalls_per_op: st
                    .filter(|_| ios > 0)
                    .map(|s| s.syscalls as f64 / ios as f64),
                notes: &r.notes,
            }
        })
        .collect();
    let out = JsonOut {
        header,
        jobs,
        comparisons: ratios(results)
            .into_iter()
            .map(|(what, iops_ratio)| JsonRatio { what, iops_ratio })
            .collect(),
        not_run: not_run
            .iter()
            .map(|(job, reason)| JsonNotRun { job, reason })
            .collect(),
        ok: results.iter().all(JobResult::ok),
        interrupted,
    };
    let s = serde_json::to_string_pretty(&out).map_err(|e| CliError::new(format!("JSON: {e}")))?;
    println!("{s}");
    Ok(())
}
