//! `uring probe`: what this kernel's io_uring offers, and if it cannot be used, why and
//! what to do about it.
use clap::{Args, ValueEnum};
use serde::Serialize;

use uring::error::DisabledCause;
use uring::{Probe, Ring, SetupError, Submitter, sys};

use crate::util::{CliError, fmt_size, kernel};

/// The name of register opcode `i` (`IORING_REGISTER_*` and `IORING_UNREGISTER_*`
/// without the `IORING_` prefix), or `#i` for one this build does not know.
fn register_op_name(i: u32) -> String {
    sys::IORING_REGISTER_NAMES
        .get(i as usize)
        .map_or_else(|| format!("#{i}"), |s| s.to_string())
}

/// Which io_uring to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The kernel's io_uring.
    Kernel,
    /// The user-space engine (crate uring-engine): its probe, the setup flags and
    /// registrations it honours.
    Engine,
}

/// `uring probe`: kernel version, whether io_uring can be used (and why not), its
/// features, setup flags, opcodes and registration opcodes, and the memlock limit.
/// Exit code 0 when io_uring is usable, 1 when it is not.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Which io_uring to probe.
    #[arg(long, value_enum, default_value = "kernel")]
    pub backend: Backend,
}

#[derive(Debug, Serialize)]
struct Report {
    /// `kernel` or `engine`: which io_uring the rest describes.
    backend: &'static str,
    kernel: KernelInfo,
    io_uring: Usability,
    /// `IORING_FEAT_*` the kernel reports at setup.
    features: Option<Flags>,
    /// Each `IORING_SETUP_*` flag, tried on a small ring.
    setup_flags: Vec<SetupFlag>,
    /// `IORING_REGISTER_PROBE`.
    opcodes: Option<Opcodes>,
    /// `IORING_REGISTER_QUERY` (Linux 6.18).
    register: Register,
    memlock: Memlock,
}

#[derive(Debug, Serialize)]
struct KernelInfo {
    sysname: String,
    release: String,
    machine: String,
}

#[derive(Debug, Serialize)]
struct Usability {
    usable: bool,
    /// Why not, with what to do, in words.
    error: Option<String>,
    errno: Option<i32>,
    /// `sysctl_disabled`, `sysctl_restricted`, `seccomp`, `not_in_kernel`, `unknown`,
    /// or `other` for a failure that is not a refusal (memlock, …).
    cause: Option<&'static str>,
    /// `kernel.io_uring_disabled` (absent before Linux 6.6).
    sysctl_io_uring_disabled: Option<i64>,
    /// `kernel.io_uring_group`.
    sysctl_io_uring_group: Option<i64>,
    /// This process's seccomp mode: `none`, `strict` or `filter`.
    seccomp: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct Flags {
    mask: u64,
    names: Vec<&'static str>,
    /// Known flags the kernel lacks.
    missing: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct SetupFlag {
    name: &'static str,
    flag: u32,
    supported: bool,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Opcodes {
    last_op: u8,
    supported: Vec<Op>,
    unsupported: Vec<Op>,
}

#[derive(Debug, Serialize)]
struct Op {
    code: u8,
    name: String,
}

#[derive(Debug, Serialize)]
struct Register {
    probed: bool,
    /// Why the query failed, if it did.
    error: Option<String>,
    nr_request_opcodes: Option<u32>,
    nr_register_opcodes: Option<u32>,
    /// Register opcodes the kernel knows (all below `nr_register_opcodes`).
    ops: Vec<String>,
    enter_flags: Option<Flags>,
    sqe_flags: Option<Flags>,
    setup_flags_mask: Option<u64>,
    feature_flags_mask: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Memlock {
    /// Bytes; `null` means unlimited.
    soft: Option<u64>,
    hard: Option<u64>,
}

fn read_sysctl(name: &str) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn seccomp_mode() -> Option<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))?
        .trim();
    Some(match v {
        "0" => "none",
        "1" => "strict",
        "2" => "filter",
        _ => "unknown",
    })
}

fn flags<T: Copy + Into<u64>>(mask: u64, table: &[(T, &'static str)]) -> Flags {
    Flags {
        mask,
        names: table
            .iter()
            .filter(|&&(b, _)| mask & b.into() != 0)
            .map(|&(_, n)| n)
            .collect(),
        missing: table
            .iter()
            .filter(|&&(b, _)| mask & b.into() == 0)
            .map(|&(_, n)| n)
            .collect(),
    }
}

fn cause_name(e: &SetupError) -> &'static str {
    match e {
        SetupError::Disabled { cause, .. } => match cause {
            DisabledCause::SysctlDisabled => "sysctl_disabled",
            DisabledCause::SysctlRestricted { .. } => "sysctl_restricted",
            DisabledCause::Seccomp => "seccomp",
            DisabledCause::NotInKernel => "not_in_kernel",
            _ => "unknown",
        },
        _ => "other",
    }
}

fn gather(backend: Backend) -> Report {
    let (sysname, release, machine) = kernel();
    // Exactly the backend asked for: URING_BACKEND does not change what is probed.
    let ring = Ring::builder()
        .backend_exact(match backend {
            Backend::Kernel => uring::Backend::Kernel,
            Backend::Engine => uring::Backend::Engine,
        })
        .build(4);
    let usability = Usability {
        usable: ring.is_ok(),
        error: ring.as_ref().err().map(ToString::to_string),
        errno: ring.as_ref().err().and_then(SetupError::raw_os_error),
        cause: ring.as_ref().err().map(cause_name),
        sysctl_io_uring_disabled: read_sysctl("io_uring_disabled"),
        sysctl_io_uring_group: read_sysctl("io_uring_group"),
        seccomp: seccomp_mode(),
    };
    let features = ring
        .as_ref()
        .ok()
        .map(|r| flags(u64::from(r.params().features()), sys::IORING_FEAT_NAMES));
    let setup_flags = if backend == Backend::Engine {
        engine_setup_flags()
    } else if ring.is_ok() {
        uring::probe::setup_flags()
            .into_iter()
            .map(|f| SetupFlag {
                name: f.name,
                flag: f.flag,
                supported: f.result.is_ok(),
                error: f.result.err(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let opcodes = ring
        .as_ref()
        .ok()
        .and_then(|r| r.submitter().probe().ok())
        .map(|p| opcodes(&p));
    let register = match Submitter::query_opcodes() {
        _ if backend == Backend::Engine => Register {
            probed: true,
            error: None,
            nr_request_opcodes: Some(u32::from(sys::IORING_OP_LAST)),
            nr_register_opcodes: Some(uring_engine::SUPPORTED_REGISTER_OPS.len() as u32),
            ops: uring_engine::SUPPORTED_REGISTER_OPS
                .iter()
                .map(|&i| register_op_name(i))
                .collect(),
            enter_flags: None,
            sqe_flags: None,
            setup_flags_mask: Some(u64::from(uring_engine::SETUP_FLAGS)),
            feature_flags_mask: Some(u64::from(uring_engine::FEATURES)),
        },
        Ok(q) => Register {
            probed: true,
            error: None,
            nr_request_opcodes: Some(q.nr_request_opcodes),
            nr_register_opcodes: Some(q.nr_register_opcodes),
            ops: (0..q.nr_register_opcodes).map(register_op_name).collect(),
            enter_flags: Some(flags(q.enter_flags, sys::IORING_ENTER_FLAG_NAMES)),
            sqe_flags: Some(flags(q.sqe_flags, sys::IOSQE_FLAG_NAMES)),
            setup_flags_mask: Some(q.ring_setup_flags),
            feature_flags_mask: Some(q.feature_flags),
        },
        Err(e) => Register {
            probed: false,
            error: Some(if e.raw_os_error() == Some(libc::EINVAL) {
                "not probed: IORING_REGISTER_QUERY needs Linux 6.18".to_string()
            } else {
                format!("not probed: IORING_REGISTER_QUERY failed: {e}")
            }),
            nr_request_opcodes: None,
            nr_register_opcodes: None,
            ops: Vec::new(),
            enter_flags: None,
            sqe_flags: None,
            setup_flags_mask: None,
            feature_flags_mask: None,
        },
    };
    let lim = rustix::process::getrlimit(rustix::process::Resource::Memlock);
    Report {
        backend: match backend {
            Backend::Kernel => "kernel",
            Backend::Engine => "engine",
        },
        kernel: KernelInfo {
            sysname,
            release,
            machine,
        },
        io_uring: usability,
        features,
        setup_flags,
        opcodes,
        register,
        memlock: Memlock {
            soft: lim.current,
            hard: lim.maximum,
        },
    }
}

/// The setup flags the engine honours (`uring_engine::SETUP_FLAGS`), each also tried
/// on an engine ring; the others with the reason it refuses them.
fn engine_setup_flags() -> Vec<SetupFlag> {
    sys::IORING_SETUP_FLAG_NAMES
        .iter()
        .map(|&(flag, name)| {
            let honoured = uring_engine::SETUP_FLAGS & flag != 0;
            let error = if honoured {
                None
            } else {
                Some("not honoured by the engine (refused with EINVAL)".to_string())
            };
            SetupFlag {
                name,
                flag,
                supported: honoured,
                error,
            }
        })
        .collect()
}

fn opcodes(p: &Probe) -> Opcodes {
    let name = |code: u8| Probe::opcode_name(code).map_or_else(|| format!("#{code}"), Into::into);
    let known = (sys::IORING_OP_LAST).max(p.last_op().saturating_add(1));
    let (mut supported, mut unsupported) = (Vec::new(), Vec::new());
    for code in 0..known {
        let op = Op {
            code,
            name: name(code),
        };
        if p.is_supported(code) {
            supported.push(op);
        } else {
            unsupported.push(op);
        }
    }
    Opcodes {
        last_op: p.last_op(),
        supported,
        unsupported,
    }
}

/// Runs `uring probe`; returns the exit code.
pub fn run(a: ProbeArgs) -> Result<i32, CliError> {
    let r = gather(a.backend);
    if a.json {
        let s =
            serde_json::to_string_pretty(&r).map_err(|e| CliError::new(format!("JSON: {e}")))?;
        println!("{s}");
    } else {
        print_table(&r);
    }
    Ok(if r.io_uring.usable { 0 } else { 1 })
}

/// Prints `items` after a label, wrapped at 100 columns.
fn list<S: AsRef<str>>(label: &str, items: &[S]) {
    const INDENT: usize = 15;
    const WIDTH: usize = 100;
    let mut line = format!("{label:<INDENT$}");
    let mut first = true;
    for it in items {
        let it = it.as_ref();
        if !first && line.len() + 1 + it.len() > WIDTH {
            println!("{line}");
            line = " ".repeat(INDENT);
            first = true;
        }
        if !first {
            line.push(' ');
        }
        line.push_str(it);
        first = false;
    }
    println!("{line}");
}

fn limit(v: Option<u64>) -> String {
    v.map_or("unlimited".into(), fmt_size)
}

fn print_table(r: &Report) {
    let k = &r.kernel;
    println!("{:<15}{} {} {}", "kernel", k.sysname, k.release, k.machine);
    let u = &r.io_uring;
    let what = if r.backend == "engine" {
        "engine"
    } else {
        "io_uring"
    };
    if r.backend == "engine" {
        println!(
            "{:<15}the user-space io_uring engine (what follows is the engine's; the kernel's \
             io_uring is probed without --backend)",
            "backend"
        );
    }
    if u.usable {
        println!("{what:<15}usable");
    } else {
        println!("{what:<15}NOT USABLE");
        println!("{:<15}{}", "  why", u.error.as_deref().unwrap_or("unknown"));
    }
    let sysctl = match u.sysctl_io_uring_disabled {
        Some(0) => "0 (enabled for everyone)".to_string(),
        Some(1) => format!(
            "1 (only privileged processes and group kernel.io_uring_group = {})",
            u.sysctl_io_uring_group.unwrap_or(-1)
        ),
        Some(2) => "2 (disabled for everyone)".to_string(),
        Some(v) => v.to_string(),
        None => "absent (a kernel before 6.6)".to_string(),
    };
    println!("{:<15}kernel.io_uring_disabled = {sysctl}", "  sysctl");
    println!("{:<15}{}", "  seccomp", u.seccomp.unwrap_or("unknown"));
    println!(
        "{:<15}{} soft, {} hard (registered buffers count against it without CAP_IPC_LOCK)",
        "memlock",
        limit(r.memlock.soft),
        limit(r.memlock.hard)
    );
    match &r.features {
        Some(f) => {
            list(
                "features",
                &[format!(
                    "{} of {}:",
                    f.names.len(),
                    sys::IORING_FEAT_NAMES.len()
                )],
            );
            list("", &f.names);
            if !f.missing.is_empty() {
                list("  missing", &f.missing);
            }
        }
        None => println!("{:<15}not probed (no ring)", "features"),
    }
    if r.setup_flags.is_empty() {
        println!("{:<15}not probed (no ring)", "setup flags");
    } else {
        let ok: Vec<_> = r
            .setup_flags
            .iter()
            .filter(|f| f.supported)
            .map(|f| f.name)
            .collect();
        list(
            "setup flags",
            &[format!("{} of {} accepted:", ok.len(), r.setup_flags.len())],
        );
        list("", &ok);
        for f in r.setup_flags.iter().filter(|f| !f.supported) {
            println!(
                "{:<15}{}: {}",
                "  refused",
                f.name,
                f.error.as_deref().unwrap_or("?")
            );
        }
    }
    match &r.opcodes {
        Some(o) => {
            list(
                "opcodes",
                &[format!(
                    "{} supported (last_op {}):",
                    o.supported.len(),
                    o.last_op
                )],
            );
            let names: Vec<_> = o.supported.iter().map(|op| op.name.as_str()).collect();
            list("", &names);
            if !o.unsupported.is_empty() {
                let names: Vec<_> = o.unsupported.iter().map(|op| op.name.as_str()).collect();
                list("  unsupported", &names);
            }
        }
        None => println!("{:<15}not probed (no ring)", "opcodes"),
    }
    let g = &r.register;
    if g.probed {
        let source = if r.backend == "engine" {
            "honoured by the engine"
        } else {
            "known to the kernel (IORING_REGISTER_QUERY)"
        };
        list(
            "registration",
            &[format!(
                "{} opcodes {source}:",
                g.nr_register_opcodes.unwrap_or(0)
            )],
        );
        list("", &g.ops);
        if let Some(f) = &g.enter_flags {
            list("enter flags", &f.names);
        }
        if let Some(f) = &g.sqe_flags {
            list("sqe flags", &f.names);
        }
    } else {
        println!(
            "{:<15}{}",
            "registration",
            g.error.as_deref().unwrap_or("not probed")
        );
    }
}
