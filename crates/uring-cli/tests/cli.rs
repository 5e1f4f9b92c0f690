//! The `uring` binary, run as a user would: its output, files and exit codes.
//!
//! Tests that need something this machine may not allow (root for a private mount
//! namespace, O_DIRECT on $TMPDIR) print `SKIP: …` and return; with
//! `URING_REQUIRE_KERNEL=1` a skip is a failure.
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use uring_testkit::{skip, test_name};

const BIN: &str = env!("CARGO_BIN_EXE_uring");

fn uring(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run the uring binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", stdout(o), stderr(o)))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Deterministic bytes, different at every offset.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn direct_ok(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let p = dir.join(".direct-probe");
    fs::write(&p, b"").unwrap();
    let ok = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&p)
        .is_ok();
    fs::remove_file(&p).unwrap();
    ok
}

// ---------------------------------------------------------------- probe

#[test]
fn probe_json_matches_the_library() {
    let o = uring(&["probe", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["io_uring"]["usable"], true);
    let ours: BTreeSet<u64> = v["opcodes"]["supported"]
        .as_array()
        .expect("opcodes.supported")
        .iter()
        .map(|op| op["code"].as_u64().unwrap())
        .collect();
    let lib: BTreeSet<u64> = uring::Probe::with_new_ring()
        .expect("probe")
        .supported()
        .map(u64::from)
        .collect();
    assert_eq!(ours, lib);
    // Names come from the opcode table.
    let nop = &v["opcodes"]["supported"][0];
    assert_eq!(
        (nop["code"].as_u64(), nop["name"].as_str()),
        (Some(0), Some("NOP"))
    );
    // Features are those a ring reports.
    let ring = uring::Ring::new(2).unwrap();
    assert_eq!(
        v["features"]["mask"].as_u64(),
        Some(u64::from(ring.params().features()))
    );
    // Every setup flag of the library was tried.
    assert_eq!(
        v["setup_flags"].as_array().unwrap().len(),
        uring::sys::IORING_SETUP_FLAG_NAMES.len()
    );
    let release = v["kernel"]["release"].as_str().unwrap();
    assert!(!release.is_empty());
    assert!(v["memlock"].get("soft").is_some());
}

#[test]
fn probe_table_names_what_it_found() {
    let o = uring(&["probe"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "kernel",
        "usable",
        "kernel.io_uring_disabled",
        "memlock",
        "opcodes",
        "READ_FIXED",
    ] {
        assert!(s.contains(want), "no {want:?} in:\n{s}");
    }
}

/// `probe --backend engine`: the engine's own probe, the setup flags and registrations
/// it honours, the features of an engine ring.
#[test]
fn probe_engine_backend_reports_the_engine() {
    let o = uring(&["probe", "--backend", "engine", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["backend"], "engine");
    assert_eq!(v["io_uring"]["usable"], true);
    let ring = uring::Ring::builder()
        .backend_exact(uring::Backend::Engine)
        .build(2)
        .unwrap();
    let ours: BTreeSet<u64> = v["opcodes"]["supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["code"].as_u64().unwrap())
        .collect();
    let lib: BTreeSet<u64> = ring
        .submitter()
        .probe()
        .unwrap()
        .supported()
        .map(u64::from)
        .collect();
    assert_eq!(ours, lib);
    assert!(ours.contains(&u64::from(uring::sys::IORING_OP_READ)));
    assert_eq!(
        v["features"]["mask"].as_u64(),
        Some(u64::from(ring.params().features()))
    );
    assert_eq!(
        v["features"]["mask"].as_u64(),
        Some(u64::from(uring_engine::FEATURES))
    );
    // Setup flags: exactly those the engine honours, IOPOLL among them.
    let flags = v["setup_flags"].as_array().unwrap();
    assert_eq!(flags.len(), uring::sys::IORING_SETUP_FLAG_NAMES.len());
    for f in flags {
        let bit = f["flag"].as_u64().unwrap() as u32;
        assert_eq!(
            f["supported"].as_bool(),
            Some(uring_engine::SETUP_FLAGS & bit != 0),
            "{f}"
        );
        if f["name"] == "IOPOLL" {
            assert_eq!(f["supported"], true, "{f}");
        }
    }
    assert_eq!(
        v["register"]["ops"].as_array().unwrap().len(),
        uring_engine::SUPPORTED_REGISTER_OPS.len()
    );
    assert!(
        v["register"]["ops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "REGISTER_PROBE")
    );
    let o = uring(&["probe", "--backend", "engine"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "engine",
        "usable",
        "honoured by the engine",
        "opcodes",
        "unsupported",
    ] {
        assert!(s.contains(want), "no {want:?} in:\n{s}");
    }
}

/// A `uring` command that runs under a seccomp filter refusing io_uring_setup with
/// EPERM, as Docker's default profile does.
fn under_seccomp(args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    // SAFETY: between fork and exec the closure makes only two prctl calls, which are
    // async-signal-safe, and allocates nothing.
    unsafe { cmd.pre_exec(uring_testkit::deny_io_uring_setup) };
    cmd.output().expect("run under seccomp")
}

/// Under the filter, probe says io_uring is unusable, names seccomp, and exits 1.
#[test]
fn probe_under_seccomp_names_the_cause() {
    let o = under_seccomp(&["probe", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["io_uring"]["usable"], false);
    assert_eq!(v["io_uring"]["cause"], "seccomp");
    assert_eq!(v["io_uring"]["seccomp"], "filter");
    let err = v["io_uring"]["error"].as_str().unwrap();
    assert!(err.contains("seccomp"), "{err}");
    assert!(v["opcodes"].is_null());
    let o = under_seccomp(&["probe"]);
    assert!(stdout(&o).contains("NOT USABLE"), "{}", stdout(&o));
    // The engine is what remains: usable, exit 0.
    let o = under_seccomp(&["probe", "--backend", "engine", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["io_uring"]["usable"], true);
}

/// Without io_uring, bench still runs the other engines, fails the uring job with the
/// reason, and exits 1.
#[test]
fn bench_without_io_uring_says_why() {
    let dir = tmp();
    let f = dir.path().join("f");
    let bench = |engines| {
        under_seccomp(&[
            "bench",
            "-e",
            engines,
            "--ops",
            "500",
            "--size",
            "1m",
            "--json",
            "--filename",
            f.to_str().unwrap(),
        ])
    };
    let o = bench("sync,uring");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(
        (jobs[0]["engine"].as_str(), jobs[0]["ok"].as_bool()),
        (Some("sync"), Some(true))
    );
    assert_eq!(jobs[0]["ios"], 500);
    assert_eq!(jobs[1]["ok"], false);
    assert!(
        jobs[1]["failure"].as_str().unwrap().contains("seccomp"),
        "{}",
        jobs[1]
    );
    // The engine runs the same jobs where the kernel refuses.
    let o = bench("engine");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["jobs"][0]["ok"], true, "{v}");
    assert_eq!(v["jobs"][0]["ios"], 500);
}

// ---------------------------------------------------------------- bench

/// Every job of the default comparison, briefly: each completes its I/Os, all checked.
#[test]
fn bench_every_engine_reports_checked_io() {
    let dir = tmp();
    let o = Command::new(BIN)
        .args(["bench", "--ops", "3000", "--size", "8m", "--json"])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let v = json(&o);
    let jobs = v["jobs"].as_array().unwrap();
    let keys: Vec<&str> = jobs.iter().map(|j| j["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "sync",
            "aio",
            "uring",
            "uring-fixed",
            "uring-direct",
            "engine",
            "uring-nop",
            "engine-nop"
        ]
    );
    for j in jobs {
        let name = j["name"].as_str().unwrap();
        assert_eq!(j["ok"], true, "{name}: {j}");
        assert_eq!(j["ios"], 3000, "{name}");
        assert_eq!(
            (j["errors"].as_u64(), j["short"].as_u64()),
            (Some(0), Some(0))
        );
        assert!(j["iops"].as_f64().unwrap() > 0.0, "{name}");
        assert!(j["lat_ns"]["p99"].as_f64().unwrap() > 0.0, "{name}");
        assert!(j["syscalls"].as_u64().unwrap() > 0, "{name}");
        let bytes = j["bytes"].as_u64().unwrap();
        if j["workload"] == "nop" {
            assert_eq!(bytes, 0);
        } else {
            assert_eq!(bytes, 3000 * 4096, "{name}");
        }
    }
    // Batching: io_uring enters the kernel far less than once per I/O; pread, once.
    let per_op = |k: &str| {
        jobs.iter().find(|j| j["key"] == k).unwrap()["syscalls_per_op"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(per_op("sync"), 1.0);
    // The default comparison interleaves its jobs in rounds; the counts add up.
    assert_eq!(v["header"]["rounds"], 3);
    assert!(per_op("uring") < 0.5, "{}", per_op("uring"));
    assert!(per_op("engine") < 0.5, "{}", per_op("engine"));
    // The engine against the kernel, in the comparisons.
    let whats: Vec<&str> = v["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert!(
        whats
            .iter()
            .any(|w| w.starts_with("engine vs kernel uring")),
        "{whats:?}"
    );
    // The temporary file is gone.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `uring bench --ops 2000 --size 4m --filename f --json args…`, which must succeed with
/// every job ok: 2000 I/Os each, no error, no short transfer. Its JSON report.
fn bench_2000_ios(f: &str, args: &[&str]) -> Value {
    let mut all = vec![
        "bench",
        "--ops",
        "2000",
        "--size",
        "4m",
        "--filename",
        f,
        "--json",
    ];
    all.extend_from_slice(args);
    let o = uring(&all);
    assert!(
        o.status.success(),
        "{args:?}: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let v = json(&o);
    for j in v["jobs"].as_array().unwrap() {
        assert_eq!(j["ok"], true, "{args:?}: {j}");
        assert_eq!(j["ios"], 2000, "{args:?}: {j}");
        assert_eq!(
            (j["errors"].as_u64(), j["short"].as_u64()),
            (Some(0), Some(0)),
            "{args:?}: {j}"
        );
    }
    v
}

#[test]
fn bench_uring_modes_and_workloads() {
    let dir = tmp();
    let file = dir.path().join("f");
    let f = file.to_str().unwrap();
    for args in [
        &[
            "-e",
            "uring",
            "-w",
            "randwrite",
            "--fixed-files",
            "--fixed-buffers",
        ][..],
        &["-e", "uring", "-w", "read", "--sqpoll", "--threads", "2"],
        &[
            "-e",
            "uring,sync,aio",
            "-w",
            "write",
            "--bs",
            "16k",
            "--iodepth",
            "4",
        ],
        &["-e", "uring,sync", "--rounds", "3", "--threads", "2"],
    ] {
        bench_2000_ios(f, args);
    }
    // A --filename is the user's: kept.
    assert_eq!(fs::metadata(&file).unwrap().len(), 4 << 20);
}

#[test]
fn bench_table_and_plot() {
    let dir = tmp();
    let svg = dir.path().join("plot.svg");
    let o = Command::new(BIN)
        .args(["bench", "--ops", "1000", "--size", "4m", "--plot"])
        .arg(&svg)
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "IOPS",
        "p99",
        "sync pread",
        "aio O_DIRECT",
        "uring fixed-bufs",
        "uring nop",
        "engine nop",
        "engine vs kernel uring",
    ] {
        assert!(s.contains(want), "no {want:?} in:\n{s}");
    }
    let plot = fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") || plot.starts_with("<?xml"),
        "{plot}"
    );
    assert!(plot.contains("uring fixed-bufs") && plot.contains("IOPS"));
    assert!(plot.trim_end().ends_with("</svg>"));
}

/// `-e engine` runs the uring jobs on the user-space engine, in each of its modes.
#[test]
fn bench_engine_runs_the_uring_jobs_on_the_engine() {
    let dir = tmp();
    let f = dir.path().join("f");
    let f = f.to_str().unwrap();
    for args in [
        &["-e", "engine"][..],
        &["-e", "engine", "-w", "nop"],
        &[
            "-e",
            "engine",
            "-w",
            "randwrite",
            "--fixed-files",
            "--fixed-buffers",
        ],
        &["-e", "engine", "-w", "read", "--sqpoll", "--threads", "2"],
        &["-e", "engine,uring", "--iodepth", "8", "--batch", "3"],
    ] {
        let v = bench_2000_ios(f, args);
        assert_eq!(v["jobs"][0]["engine"], "engine", "{args:?}");
    }
    // IOPOLL on the engine follows the kernel's rules: the same outcome as the kernel's
    // (O_DIRECT writes complete when reaped, or both say EOPNOTSUPP where the file
    // system does not poll).
    let o = uring(&[
        "bench",
        "--ops",
        "200",
        "--size",
        "4m",
        "--filename",
        f,
        "--json",
        "-e",
        "engine,uring",
        "--direct",
        "--iopoll",
        "-w",
        "randwrite",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let v = json(&o);
    let jobs = v["jobs"].as_array().unwrap();
    let outcome = |j: &Value| (j["ok"].clone(), j["ios"].clone(), j["errors"].clone());
    assert_eq!(jobs.len(), 2, "{v}");
    assert_eq!(jobs[0]["engine"], "engine", "{v}");
    assert_eq!(outcome(&jobs[0]), outcome(&jobs[1]), "{v}");
}

#[test]
fn bench_bad_arguments() {
    for (args, want) in [
        (&["bench", "--bs", "4x"][..], "--bs"),
        (&["bench", "--bs", "0"], "--bs"),
        (&["bench", "-w", "scribble"], "invalid value 'scribble'"),
        (&["bench", "--iodepth", "0"], "--iodepth"),
        (
            &["bench", "-e", "sync", "-w", "nop"],
            "only on the uring and engine engines",
        ),
        (
            &["bench", "--iopoll", "-e", "uring"],
            "--iopoll needs --direct",
        ),
        (
            &["bench", "--direct", "--bs", "1000", "-e", "uring"],
            "multiple of",
        ),
        (
            &["bench", "--runtime", "1", "--ops", "5"],
            "cannot be used with",
        ),
    ] {
        let o = uring(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// I/O errors are counted, printed, and make the exit code 1: random writes into a
/// sparse file on a 1 MiB tmpfs run out of space.
#[test]
fn bench_io_errors_fail_the_run() {
    let dir = tmp();
    let script = format!(
        "mount -t tmpfs -o size=1m none {d} && truncate -s 64m {d}/f && \
         {BIN} bench -e uring,sync -w randwrite --ops 2000 --filename {d}/f --json",
        d = dir.path().display()
    );
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    if stdout(&o).is_empty() {
        return skip(
            test_name!(),
            &format!("needs a private mount namespace (root): {}", stderr(&o)),
        );
    }
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["ok"], false);
    for j in v["jobs"].as_array().unwrap() {
        assert_eq!(j["ok"], false, "{j}");
        assert!(j["errors"].as_u64().unwrap() > 0, "{j}");
        assert!(j["first_error"].as_str().unwrap().contains("ENOSPC"), "{j}");
        // Failed I/Os are not counted as I/O.
        assert!(j["ios"].as_u64().unwrap() < 2000, "{j}");
    }
}

// ---------------------------------------------------------------- cp

fn cp_ok(args: &[&str]) {
    let o = uring(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

#[test]
fn cp_copies_byte_exact() {
    let dir = tmp();
    let direct = direct_ok(dir.path());
    if !direct {
        skip(
            test_name!(),
            "O_DIRECT is not supported in $TMPDIR: --direct copies not tested",
        );
    }
    for (i, size) in [0usize, 1, 4095, 4096, (1 << 20) + 1, 3 << 20]
        .into_iter()
        .enumerate()
    {
        let src = dir.path().join(format!("src{size}"));
        let data = pattern(size, i as u8);
        fs::write(&src, &data).unwrap();
        let mut modes = vec![vec![]];
        if direct {
            modes.push(vec!["--direct"]);
        }
        // Small chunks and one chain: many chains' worth of steps on small files.
        modes.push(vec!["--bs", "4k", "--chains", "1"]);
        for extra in modes {
            let dst = dir.path().join(format!("dst{size}{}", extra.join("")));
            let mut args = vec!["cp", src.to_str().unwrap(), dst.to_str().unwrap()];
            args.extend_from_slice(&extra);
            cp_ok(&args);
            let got = fs::read(&dst).unwrap();
            assert!(got == data, "size {size} {extra:?}: contents differ");
        }
    }
}

#[test]
fn cp_sparse_file_keeps_contents_and_holes() {
    let dir = tmp();
    let src = dir.path().join("sparse");
    let f = fs::File::create(&src).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&pattern(5000, 1), 10 << 20).unwrap();
    f.write_all_at(&pattern(100, 2), (64 << 20) - 100).unwrap();
    drop(f);
    let src_blocks = fs::metadata(&src).unwrap().blocks();
    let mut modes = vec![vec![]];
    if direct_ok(dir.path()) {
        modes.push(vec!["--direct"]);
    }
    for extra in modes {
        let dst = dir.path().join(format!("dst{}", extra.join("")));
        let mut args = vec!["cp", src.to_str().unwrap(), dst.to_str().unwrap()];
        args.extend_from_slice(&extra);
        cp_ok(&args);
        assert!(
            fs::read(&src).unwrap() == fs::read(&dst).unwrap(),
            "{extra:?}"
        );
        let dst_blocks = fs::metadata(&dst).unwrap().blocks();
        if src_blocks * 512 < 1 << 20 {
            // The file system made the source sparse: the copy is sparse too.
            assert!(dst_blocks * 512 < 1 << 20, "{extra:?}: {dst_blocks} blocks");
        } else {
            skip(
                test_name!(),
                "the file system stores no holes: hole keeping not checked",
            );
        }
    }
}

#[test]
fn cp_keeps_permissions_and_copies_into_a_directory() {
    let dir = tmp();
    let src = dir.path().join("script");
    fs::write(&src, b"#!/bin/sh\n").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o751)).unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    cp_ok(&["cp", src.to_str().unwrap(), sub.to_str().unwrap()]);
    let dst = sub.join("script");
    assert_eq!(fs::read(&dst).unwrap(), b"#!/bin/sh\n");
    assert_eq!(
        fs::metadata(&dst).unwrap().permissions().mode() & 0o7777,
        0o751
    );
    // Over an existing file with other permissions: content and mode replaced.
    let other = dir.path().join("other");
    fs::write(&other, vec![7u8; 10000]).unwrap();
    fs::set_permissions(&other, fs::Permissions::from_mode(0o600)).unwrap();
    cp_ok(&["cp", src.to_str().unwrap(), other.to_str().unwrap()]);
    assert_eq!(fs::read(&other).unwrap(), b"#!/bin/sh\n");
    assert_eq!(
        fs::metadata(&other).unwrap().permissions().mode() & 0o7777,
        0o751
    );
}

#[test]
fn cp_errors_are_clear() {
    let dir = tmp();
    let d = |n: &str| -> PathBuf { dir.path().join(n) };
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    fs::write(d("f"), b"data").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![s(&d("missing")), s(&d("x"))], "No such file"),
        (vec![s(&d("f")), s(&d("f"))], "same file"),
        (
            vec![dir.path().to_str().unwrap().into(), s(&d("x"))],
            "is a directory",
        ),
        (
            vec![s(&d("f")), format!("{}/", s(&d("nodir")))],
            "is not a directory",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["cp"];
        all.extend(args.iter().map(String::as_str));
        let o = uring(&all);
        assert_eq!(o.status.code(), Some(1), "{all:?}");
        assert!(stderr(&o).contains(want), "{all:?}: {}", stderr(&o));
    }
    assert!(!d("x").exists());
    let o = uring(&["cp", "--bs", "1000", "a", "b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("multiple of 4096"), "{}", stderr(&o));
    let o = uring(&["cp", "onlyone"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A device that is always full: ENOSPC, said so, exit 1, and the device is not
/// "removed".
#[test]
fn cp_to_dev_full_reports_no_space() {
    let dir = tmp();
    let src = dir.path().join("src");
    fs::write(&src, pattern(1 << 20, 3)).unwrap();
    let o = uring(&["cp", src.to_str().unwrap(), "/dev/full"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no space left"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("removed"), "{}", stderr(&o));
    assert!(Path::new("/dev/full").exists());
}

/// Disk full on a real file system (a 1 MiB tmpfs): the partial file is removed and
/// the message says so.
#[test]
fn cp_disk_full_removes_the_partial_destination() {
    let dir = tmp();
    let src = dir.path().join("src");
    fs::write(&src, pattern(4 << 20, 4)).unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m none {m} || exit 99; {BIN} cp {s} {m}/copy; echo \"exit=$?\"; ls -A {m}",
        m = mnt.display(),
        s = src.display()
    );
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let out = stdout(&o);
    if !out.contains("exit=") {
        return skip(
            test_name!(),
            &format!("needs a private mount namespace (root): {}", stderr(&o)),
        );
    }
    assert!(out.contains("exit=1"), "{out}");
    assert!(!out.contains("copy"), "partial file left: {out}");
    let err = stderr(&o);
    assert!(err.contains("no space left on device"), "{err}");
    assert!(err.contains("was removed"), "{err}");
}
