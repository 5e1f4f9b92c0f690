//! How an engine ring runs: threaded (the default) or deterministic with a seed, and
//! with or without a plan of injected faults.
//!
//! # Deterministic mode
//! [`Config::deterministic`] (or `URING_ENGINE_SEED`): one thread, no workers, no
//! helper threads; all work runs inside `io_uring_enter`, in an order a seeded
//! generator chooses among the orders io_uring allows. The same seed and the same
//! program give the same CQEs in the same order (see `det.rs` for what is and is not
//! covered).
//!
//! # Fault injection
//! A [`FaultPlan`] (or `URING_ENGINE_FAULTS`) says which requests fail, come up short,
//! are interrupted or delayed: by rate (drawn from a seeded generator) or by index, for
//! the opcodes a rule names. Decisions are taken when the SQEs are consumed, in SQ
//! order, so a plan gives the same faults to the same requests on every run, in the
//! threaded mode too.
//!
//! # The environment
//! - `URING_ENGINE_SEED=N` (decimal or `0x` hex): deterministic mode with seed `N`.
//!   `URING_ENGINE_SEED=random` picks a seed and prints it to stderr, so a failing run
//!   can be replayed.
//! - `URING_ENGINE_FAULTS=PLAN`: the plan in the text form [`FaultPlan::parse`]
//!   documents, e.g. `ops=READ|WRITE,rate=0.01,errors=EIO|ENOSPC,short=0.1` or
//!   `ops=FSYNC,at=2:EIO`.
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uring_sys as sys;

/// Options of an engine ring beyond `io_uring_params`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) seed: Option<u64>,
    pub(crate) faults: Option<FaultPlan>,
    pub(crate) overflow_limit: Option<usize>,
    pub(crate) observer: Option<crate::observe::ObserverBox>,
}

/// How many CQEs the overflow list holds by default before it drops them: about 32 MiB
/// (the kernel's list is bounded by the memory it may charge to the process; a limit
/// in entries is the engine's equivalent).
pub const DEFAULT_OVERFLOW_LIMIT: usize = 1 << 20;

impl Config {
    /// The default: threaded, no faults.
    pub fn new() -> Config {
        Config::default()
    }

    /// Deterministic mode with `seed`: one thread, every request run inside
    /// `io_uring_enter`, completions in an order the seed chooses within what io_uring
    /// guarantees. `IORING_SETUP_SQPOLL` is refused (`EINVAL`) in this mode: a polling
    /// thread is what it rules out.
    pub fn deterministic(mut self, seed: u64) -> Config {
        self.seed = Some(seed);
        self
    }

    /// Injects the faults of `plan`. Its generator is seeded by [`FaultPlan::seed`],
    /// or else by the deterministic seed, or else 0.
    pub fn faults(mut self, plan: FaultPlan) -> Config {
        self.faults = Some(plan);
        self
    }

    /// Bounds the overflow list (CQEs that did not fit in the CQ, `IORING_FEAT_NODROP`)
    /// to `limit` entries ([`DEFAULT_OVERFLOW_LIMIT`] otherwise). A CQE beyond it is
    /// dropped as the kernel drops one it cannot allocate: the CQ ring's `overflow`
    /// counter counts it, and waits fail with `EBADR` from then on.
    pub fn overflow_limit(mut self, limit: usize) -> Config {
        self.overflow_limit = Some(limit);
        self
    }

    /// Reports every request's submission, issue and completion to `observer`
    /// ([`Observer`](crate::Observer)): for a simulator that hashes a run or keeps a
    /// page cache.
    pub fn observer(mut self, observer: Arc<dyn crate::Observer>) -> Config {
        self.observer = Some(crate::observe::ObserverBox(observer));
        self
    }

    /// The deterministic seed, if the ring runs deterministically.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The fault plan, if any.
    pub fn fault_plan(&self) -> Option<&FaultPlan> {
        self.faults.as_ref()
    }

    /// The configuration the environment asks for: `URING_ENGINE_SEED` and
    /// `URING_ENGINE_FAULTS` (see the module docs); the default when neither is set.
    ///
    /// # Errors
    /// `EINVAL` when either variable is malformed, with the reason written to stderr:
    /// a test that believes it injects faults must not silently run without them, and
    /// a C program gets it from `io_uring_queue_init` as an errno, not as an abort.
    /// [`try_from_env`](Self::try_from_env) returns the reason as a value.
    pub fn from_env() -> std::io::Result<Config> {
        Config::try_from_env().map_err(|e| {
            eprintln!("uring-engine: {e}");
            std::io::Error::from_raw_os_error(libc::EINVAL)
        })
    }

    /// [`from_env`](Self::from_env), returning malformed variables as errors.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable and what is wrong with it.
    pub fn try_from_env() -> Result<Config, ConfigError> {
        let mut c = Config::default();
        if let Some(v) = std::env::var_os("URING_ENGINE_SEED") {
            let v = v.to_string_lossy();
            let seed = if v.trim() == "random" {
                let s = random_seed();
                eprintln!(
                    "uring-engine: deterministic mode, seed {s} (URING_ENGINE_SEED={s} replays this run)"
                );
                s
            } else {
                parse_u64(v.trim()).ok_or_else(|| ConfigError {
                    var: "URING_ENGINE_SEED",
                    msg: format!("{v:?}: expected a number (decimal or 0x hex) or `random`"),
                })?
            };
            c.seed = Some(seed);
        }
        if let Some(v) = std::env::var_os("URING_ENGINE_FAULTS") {
            let plan = FaultPlan::parse(&v.to_string_lossy()).map_err(|mut e| {
                e.var = "URING_ENGINE_FAULTS";
                e
            })?;
            c.faults = Some(plan);
        }
        Ok(c)
    }

    /// The seed of the fault generator.
    pub(crate) fn fault_seed(&self) -> u64 {
        self.faults
            .as_ref()
            .and_then(|p| p.seed)
            .or(self.seed)
            .unwrap_or(0)
    }
}

/// A malformed `URING_ENGINE_SEED` or fault plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    var: &'static str,
    msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.msg)
    }
}

impl std::error::Error for ConfigError {}

fn plan_err(msg: String) -> ConfigError {
    ConfigError {
        var: "fault plan",
        msg,
    }
}

/// One fault a request can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Fail with this errno (positive: `Error(libc::EIO)` posts `-EIO`) before the op
    /// runs: nothing is read, written or synced.
    Error(i32),
    /// Transfer fewer bytes than asked (reads and writes: `READ`, `WRITE`, `READV`,
    /// `WRITEV`, `READ_FIXED`, `WRITE_FIXED`): the length given to the system call is
    /// cut to a seeded amount in `1..len`, so a short write really writes only that
    /// much, and the short result fails a link as a real one does. Ignored for other
    /// opcodes and for transfers of fewer than 2 bytes.
    Short,
    /// An interrupted attempt: the engine's attempt is taken as interrupted by a
    /// signal before it transferred anything, and restarted (on the worker pool, or
    /// later in the deterministic loop) as the kernel restarts a system call after a
    /// signal. Invisible to the application but in [`FaultPlan::counts`]. To hand
    /// `-EINTR` to the application instead, use `Error(libc::EINTR)`. A request given
    /// more than one (two `at` entries for its index, or several rules) spends the
    /// first on its first attempt and the others on its retries after readiness,
    /// each then restarted on the worker pool, as a retry that must block.
    Eintr,
    /// Hold the request back this long before it runs (on a worker in the threaded
    /// mode; parked, without blocking the thread, in the deterministic mode).
    Delay(Duration),
}

/// One rule of a [`FaultPlan`]: which opcodes it looks at, and what it does to them,
/// by rate or by index.
///
/// Indexes count the SQEs the rule matches, from 0, in the order the ring consumes
/// them: `FaultRule::on(&[IORING_OP_FSYNC]).at(2, Fault::Error(libc::EIO))` fails the
/// third `FSYNC`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Bit `op` set: the rule applies to opcode `op`.
    pub(crate) ops: u64,
    pub(crate) rate: f64,
    pub(crate) errors: Vec<i32>,
    pub(crate) short: f64,
    pub(crate) eintr: f64,
    pub(crate) delay: Option<(Duration, f64)>,
    pub(crate) at: Vec<(u64, Fault)>,
}

impl FaultRule {
    /// A rule for every opcode.
    pub fn all() -> FaultRule {
        FaultRule {
            ops: u64::MAX,
            rate: 0.0,
            errors: Vec::new(),
            short: 0.0,
            eintr: 0.0,
            delay: None,
            at: Vec::new(),
        }
    }

    /// A rule for these opcodes (`IORING_OP_*`).
    pub fn on(opcodes: &[u8]) -> FaultRule {
        let mut r = FaultRule::all();
        r.ops = opcodes
            .iter()
            .filter(|&&op| op < 64)
            .fold(0, |m, &op| m | 1 << op);
        r
    }

    /// Fails `rate` (0 to 1) of the matching requests, each with one of `errnos`
    /// (positive values) chosen by the generator.
    pub fn errors(mut self, errnos: &[i32], rate: f64) -> FaultRule {
        self.errors = errnos.iter().map(|e| e.abs()).collect();
        self.rate = rate;
        self
    }

    /// Shortens `rate` of the matching transfers ([`Fault::Short`]).
    pub fn short(mut self, rate: f64) -> FaultRule {
        self.short = rate;
        self
    }

    /// Interrupts `rate` of the matching requests ([`Fault::Eintr`]).
    pub fn eintr(mut self, rate: f64) -> FaultRule {
        self.eintr = rate;
        self
    }

    /// Delays `rate` of the matching requests by `by` ([`Fault::Delay`]).
    pub fn delay(mut self, by: Duration, rate: f64) -> FaultRule {
        self.delay = Some((by, rate));
        self
    }

    /// Gives `fault` to the matching request of index `index` (from 0).
    pub fn at(mut self, index: u64, fault: Fault) -> FaultRule {
        self.at.push((index, fault));
        self
    }

    #[inline]
    pub(crate) fn matches(&self, opcode: u8) -> bool {
        opcode < 64 && self.ops & (1 << opcode) != 0
    }
}

/// What faults to inject, and a record of those injected.
///
/// Clones share the record ([`counts`](Self::counts), [`injected`](Self::injected)),
/// so a test keeps a clone of the plan it hands to [`Config::faults`] and reads what
/// happened; each ring keeps its own generator and indexes.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub(crate) seed: Option<u64>,
    pub(crate) rules: Vec<FaultRule>,
    pub(crate) record: Arc<Record>,
}

/// How many faults of each kind a plan injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests failed with an injected errno.
    pub errors: u64,
    /// Transfers shortened.
    pub shorts: u64,
    /// Interrupted attempts restarted.
    pub eintr: u64,
    /// Requests delayed.
    pub delays: u64,
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// Position of the request among all SQEs the ring consumed, from 0.
    pub op_index: u64,
    /// Its opcode.
    pub opcode: u8,
    /// Its `user_data`.
    pub user_data: u64,
    /// What it was given.
    pub fault: Fault,
    /// For [`Fault::Short`]: the length the transfer was cut to.
    pub short_len: Option<u64>,
}

/// The record a plan and its clones share.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) counts: Mutex<FaultCounts>,
    pub(crate) log: Mutex<Vec<Injection>>,
}

/// The record keeps at most this many injections (the counts go on).
const LOG_MAX: usize = 4096;

impl Record {
    pub(crate) fn note(&self, i: Injection) {
        {
            let mut c = self.counts.lock().expect("fault counts");
            match i.fault {
                Fault::Error(_) => c.errors += 1,
                Fault::Short => c.shorts += 1,
                Fault::Eintr => c.eintr += 1,
                Fault::Delay(_) => c.delays += 1,
            }
        }
        let mut log = self.log.lock().expect("fault log");
        if log.len() < LOG_MAX {
            log.push(i);
        }
    }
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Seeds the plan's generator (by default the deterministic seed, or 0).
    pub fn seed(mut self, seed: u64) -> FaultPlan {
        self.seed = Some(seed);
        self
    }

    /// Adds a rule. Every rule that matches a request is applied; when several give
    /// it an error, the first rule's wins.
    pub fn rule(mut self, rule: FaultRule) -> FaultPlan {
        self.rules.push(rule);
        self
    }

    /// The faults injected so far, by kind (by every ring built with this plan or a
    /// clone of it).
    pub fn counts(&self) -> FaultCounts {
        *self.record.counts.lock().expect("fault counts")
    }

    /// The faults injected so far (the first 4096), in the order they were applied.
    pub fn injected(&self) -> Vec<Injection> {
        self.record.log.lock().expect("fault log").clone()
    }

    /// Parses the text form (`URING_ENGINE_FAULTS`):
    ///
    /// ```text
    /// plan  = rule { ";" rule }
    /// rule  = item { "," item }
    /// item  = "ops=" OP { "|" OP }        opcodes: READ, WRITE, FSYNC, … (IORING_OP_
    ///                                      names, any case, or numbers); default all
    ///       | "errors=" ERR { "|" ERR }    errnos: EIO, ENOSPC, … or numbers
    ///       | "rate=" P                    fail P (0..1) of the matching requests with
    ///                                      one of the errors (default EIO); with
    ///                                      `errors=` and no `rate=` nor `at=`: all
    ///       | "short=" P                   shorten P of the matching transfers
    ///       | "eintr=" P                   interrupt P of them (restarted, counted)
    ///       | "delay=" DUR [ "@" P ]       delay P (default all) of them by DUR
    ///       | "at=" N [":" ACT] { "|" N [":" ACT] }
    ///                                      the matching request of index N (from 0);
    ///                                      ACT: an errno, "short", "eintr" or
    ///                                      "delay=DUR"; default the first of
    ///                                      `errors=`, else EIO
    ///       | "seed=" N                    seeds the generator
    /// DUR   = N ("ns" | "us" | "ms" | "s")
    /// ```
    ///
    /// `ops=READ|WRITE,rate=0.01,errors=EIO|ENOSPC,short=0.1;ops=FSYNC,at=2:EIO` fails
    /// 1% of reads and writes with EIO or ENOSPC, shortens 10% of them, and fails the
    /// third FSYNC with EIO.
    ///
    /// # Errors
    /// What is malformed, quoted.
    pub fn parse(text: &str) -> Result<FaultPlan, ConfigError> {
        let mut plan = FaultPlan::new();
        for rule_text in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut rule = FaultRule::all();
            let (mut rate, mut at_text) = (None, None);
            let mut seed_only = true;
            for item in rule_text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let (key, value) = item
                    .split_once('=')
                    .ok_or_else(|| plan_err(format!("{item:?}: expected key=value")))?;
                let (key, value) = (key.trim(), value.trim());
                seed_only &= key == "seed";
                match key {
                    "ops" => {
                        rule.ops = 0;
                        for name in value.split('|') {
                            let op = parse_opcode(name.trim()).ok_or_else(|| {
                                plan_err(format!("{name:?}: not an io_uring opcode"))
                            })?;
                            rule.ops |= 1 << op;
                        }
                    }
                    "errors" => {
                        rule.errors = value
                            .split('|')
                            .map(|e| {
                                parse_errno(e.trim())
                                    .ok_or_else(|| plan_err(format!("{e:?}: not an errno")))
                            })
                            .collect::<Result<_, _>>()?;
                    }
                    "rate" => rate = Some(parse_rate(value)?),
                    "short" => rule.short = parse_rate(value)?,
                    "eintr" => rule.eintr = parse_rate(value)?,
                    "delay" => {
                        let (d, p) = match value.split_once('@') {
                            Some((d, p)) => (d, parse_rate(p)?),
                            None => (value, 1.0),
                        };
                        rule.delay = Some((parse_duration(d.trim())?, p));
                    }
                    "at" => at_text = Some(value),
                    "seed" => {
                        plan.seed =
                            Some(parse_u64(value).ok_or_else(|| {
                                plan_err(format!("seed={value:?}: not a number"))
                            })?);
                    }
                    _ => {
                        return Err(plan_err(format!(
                            "{key:?}: unknown key (expected ops, errors, rate, short, eintr, delay, at, seed)"
                        )));
                    }
                }
            }
            let default_error = rule.errors.first().copied().unwrap_or(libc::EIO);
            if let Some(at) = at_text {
                for entry in at.split('|') {
                    let (n, act) = match entry.split_once(':') {
                        Some((n, a)) => (n.trim(), Some(a.trim())),
                        None => (entry.trim(), None),
                    };
                    let n = parse_u64(n)
                        .ok_or_else(|| plan_err(format!("at={entry:?}: not an index")))?;
                    let fault = match act {
                        None => Fault::Error(default_error),
                        Some("short") => Fault::Short,
                        Some("eintr") => Fault::Eintr,
                        Some(a) if a.starts_with("delay=") => {
                            Fault::Delay(parse_duration(&a["delay=".len()..])?)
                        }
                        Some(a) => Fault::Error(parse_errno(a).ok_or_else(|| {
                            plan_err(format!(
                                "at={entry:?}: {a:?} is not an errno, short, eintr or delay=DUR"
                            ))
                        })?),
                    };
                    rule.at.push((n, fault));
                }
            }
            rule.rate = match rate {
                Some(r) => r,
                None if !rule.errors.is_empty() && rule.at.is_empty() => 1.0,
                None => 0.0,
            };
            if rule.rate > 0.0 && rule.errors.is_empty() {
                rule.errors.push(libc::EIO);
            }
            if !seed_only {
                plan.rules.push(rule);
            }
        }
        Ok(plan)
    }
}

/// The text form [`FaultPlan::parse`] reads (what to put in `URING_ENGINE_FAULTS` to
/// replay the plan).
impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errno = |e: i32| {
            ERRNOS
                .iter()
                .find(|&&(_, v)| v == e)
                .map_or_else(|| e.to_string(), |(n, _)| (*n).to_string())
        };
        let dur = |d: Duration| {
            if d.subsec_nanos() == 0 {
                format!("{}s", d.as_secs())
            } else if d.as_nanos() % 1_000_000 == 0 {
                format!("{}ms", d.as_millis())
            } else if d.as_nanos() % 1_000 == 0 {
                format!("{}us", d.as_micros())
            } else {
                format!("{}ns", d.as_nanos())
            }
        };
        let mut rules = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            let mut items = Vec::new();
            if let Some(seed) = self.seed.filter(|_| i == 0) {
                items.push(format!("seed={seed}"));
            }
            if r.ops != u64::MAX {
                let names: Vec<&str> = (0..sys::IORING_OP_LAST)
                    .filter(|&op| r.matches(op))
                    .map(|op| sys::IORING_OP_NAMES[op as usize])
                    .collect();
                items.push(format!("ops={}", names.join("|")));
            }
            if !r.errors.is_empty() {
                let e: Vec<String> = r.errors.iter().map(|&e| errno(e)).collect();
                items.push(format!("errors={}", e.join("|")));
            }
            if !r.errors.is_empty() || r.rate > 0.0 {
                items.push(format!("rate={}", r.rate));
            }
            if r.short > 0.0 {
                items.push(format!("short={}", r.short));
            }
            if r.eintr > 0.0 {
                items.push(format!("eintr={}", r.eintr));
            }
            if let Some((d, p)) = r.delay {
                items.push(format!("delay={}@{p}", dur(d)));
            }
            if !r.at.is_empty() {
                let at: Vec<String> =
                    r.at.iter()
                        .map(|&(n, fault)| match fault {
                            Fault::Error(e) => format!("{n}:{}", errno(e)),
                            Fault::Short => format!("{n}:short"),
                            Fault::Eintr => format!("{n}:eintr"),
                            Fault::Delay(d) => format!("{n}:delay={}", dur(d)),
                        })
                        .collect();
                items.push(format!("at={}", at.join("|")));
            }
            rules.push(items.join(","));
        }
        if let (Some(seed), true) = (self.seed, self.rules.is_empty()) {
            rules.push(format!("seed={seed}"));
        }
        f.write_str(&rules.join(";"))
    }
}

impl std::str::FromStr for FaultPlan {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<FaultPlan, ConfigError> {
        FaultPlan::parse(s)
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_rate(s: &str) -> Result<f64, ConfigError> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(plan_err(format!("{s:?}: expected a rate from 0 to 1"))),
    }
}

fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| plan_err(format!("{s:?}: expected a duration like 1ms")))?;
    Ok(match unit {
        "ns" => Duration::from_nanos(n),
        "us" => Duration::from_micros(n),
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        _ => {
            return Err(plan_err(format!(
                "{s:?}: expected a duration unit ns, us, ms or s"
            )));
        }
    })
}

/// An opcode by name (`READ`, `ioring_op_read`, `read`) or number.
pub(crate) fn parse_opcode(s: &str) -> Option<u8> {
    if let Some(n) = parse_u64(s) {
        return (n < sys::IORING_OP_LAST as u64).then_some(n as u8);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("IORING_OP_").unwrap_or(&up);
    sys::IORING_OP_NAMES
        .iter()
        .position(|&n| n == name)
        .map(|i| i as u8)
}

/// The errnos a plan can name (and any number).
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("ENODEV", libc::ENODEV),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("ESPIPE", libc::ESPIPE),
    ("EROFS", libc::EROFS),
    ("EPIPE", libc::EPIPE),
    ("ENODATA", libc::ENODATA),
    ("ETIME", libc::ETIME),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("ENOTCONN", libc::ENOTCONN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("ECANCELED", libc::ECANCELED),
    ("EDQUOT", libc::EDQUOT),
];

/// An errno by name (`EIO`, `eio`) or number (`5`, `-5`), as a positive value.
pub(crate) fn parse_errno(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (n != 0 && n.unsigned_abs() < 4096).then_some(n.abs());
    }
    let up = s.to_ascii_uppercase();
    ERRNOS.iter().find(|(n, _)| *n == up).map(|&(_, e)| e)
}

fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Rng::new(t ^ (std::process::id() as u64) << 32).next_u64()
}

/// A small seeded generator (splitmix64): fast, well mixed, and the same sequence
/// for the same seed on every machine. The engine's fault plans and deterministic
/// mode draw from it, and so does `uring_rt::sim` (one instance per purpose, so one's
/// draws never shift another's): a seed replays the same run only while this
/// sequence stays as it is.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence `seed` fixes.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 bits of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        Rng::mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a float in [0, 1).
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// splitmix64's finaliser: `z` well mixed (each output bit depends on every input
    /// bit), for deriving one seed from others.
    pub fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let p = FaultPlan::parse(
            "ops=READ|WRITE,rate=0.01,errors=EIO|ENOSPC,short=0.1;ops=FSYNC,at=2:EIO",
        )
        .unwrap();
        assert_eq!(p.rules.len(), 2);
        let r = &p.rules[0];
        assert!(r.matches(sys::IORING_OP_READ) && r.matches(sys::IORING_OP_WRITE));
        assert!(!r.matches(sys::IORING_OP_FSYNC));
        assert_eq!(r.rate, 0.01);
        assert_eq!(r.errors, vec![libc::EIO, libc::ENOSPC]);
        assert_eq!(r.short, 0.1);
        let f = &p.rules[1];
        assert_eq!(f.at, vec![(2, Fault::Error(libc::EIO))]);
        assert_eq!(f.rate, 0.0);
    }

    #[test]
    fn parses_every_item() {
        let p = FaultPlan::parse(
            " seed=0x10 , ops=ioring_op_fsync|3|write, errors=-28, delay=5ms@0.5, eintr=1, at=0|4:short|7:delay=2us|9:eintr ",
        )
        .unwrap();
        assert_eq!(p.seed, Some(16));
        let r = &p.rules[0];
        assert!(r.matches(sys::IORING_OP_FSYNC) && r.matches(sys::IORING_OP_WRITE));
        assert_eq!(r.errors, vec![libc::ENOSPC]);
        assert_eq!(
            r.rate, 0.0,
            "errors with at= and no rate= only give at's default"
        );
        assert_eq!(r.delay, Some((Duration::from_millis(5), 0.5)));
        assert_eq!(r.eintr, 1.0);
        assert_eq!(
            r.at,
            vec![
                (0, Fault::Error(libc::ENOSPC)),
                (4, Fault::Short),
                (7, Fault::Delay(Duration::from_micros(2))),
                (9, Fault::Eintr)
            ]
        );
        let all = FaultPlan::parse("errors=EIO").unwrap();
        assert_eq!(all.rules[0].rate, 1.0);
        assert_eq!(all.rules[0].ops, u64::MAX);
        let rate_only = FaultPlan::parse("rate=0.5").unwrap();
        assert_eq!(rate_only.rules[0].errors, vec![libc::EIO]);
    }

    #[test]
    fn displays_what_parses_back() {
        for text in [
            "ops=READ|WRITE,rate=0.01,errors=EIO|ENOSPC,short=0.1;ops=FSYNC,at=2:EIO",
            "seed=9;eintr=0.5,delay=3ms@0.25,at=1:short|2:delay=7us|3:eintr|4:77",
        ] {
            let p = FaultPlan::parse(text).unwrap();
            let again = FaultPlan::parse(&p.to_string()).unwrap();
            assert_eq!(p.rules, again.rules, "{p}");
            assert_eq!(p.seed, again.seed);
        }
    }

    #[test]
    fn refuses_what_is_malformed() {
        for bad in [
            "ops=READX",
            "errors=EWHAT",
            "rate=2",
            "rate=x",
            "delay=5",
            "delay=5min",
            "at=x",
            "at=1:bogus",
            "frobnicate=1",
            "rate",
            "seed=x",
        ] {
            let e = FaultPlan::parse(bad).unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad}");
        }
    }

    #[test]
    fn rng_is_a_fixed_sequence() {
        // splitmix64's published first outputs for seed 0.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut r = Rng::new(7);
        assert!((0..1000).all(|_| r.below(10) < 10));
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
    }
}
