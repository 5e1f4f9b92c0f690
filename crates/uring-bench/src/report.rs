//! What every benchmark prints and records the same way: the machine and its load,
//! the plan read from the environment, and the JSON figures in `target/bench/`.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Whether the benchmark runs for real (`cargo bench` passes `--bench`) or only
/// checks that everything works (`cargo test --all-targets` runs it without).
pub fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// Whether `URING_BENCH_QUICK` asks for a short run.
pub fn quick() -> bool {
    std::env::var("URING_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A number from the environment (`_` and `,` allowed as separators).
///
/// # Panics
/// When the variable is set to something that is not a number.
pub fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.replace(['_', ','], "");
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

/// Comma-separated values of an environment variable, if set and not empty.
pub fn env_list(name: &str) -> Option<Vec<String>> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    Some(v.split(',').map(|s| s.trim().to_owned()).collect())
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minutes).
pub fn loadavg() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

/// The kernel release, the CPU model and the number of CPUs, as JSON.
pub fn machine() -> Value {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
    let cpu = crate::cpu_model();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({ "kernel": kernel, "cpu": cpu, "nproc": nproc })
}

/// Prints the lines every benchmark's header starts with, as Markdown: the command
/// (with the environment it read), the kernel, the CPU and the load average.
pub fn print_machine(command: &str, machine: &Value) {
    println!("- command: `{command}`");
    println!(
        "- kernel: {}; CPU: {}, nproc {}",
        machine["kernel"].as_str().unwrap_or("unknown"),
        machine["cpu"].as_str().unwrap_or("unknown"),
        machine["nproc"]
    );
    if let Some([one, five, fifteen]) = loadavg() {
        println!("- load average at start: {one} {five} {fifteen} (1, 5, 15 min)");
    }
}

/// The target directory of a benchmark, given the `CARGO_TARGET_TMPDIR` cargo built
/// it with (its parent).
pub fn target_dir(target_tmpdir: &str) -> PathBuf {
    Path::new(target_tmpdir)
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

/// Writes `report` to `<target>/bench/<name>.json`, pretty-printed.
///
/// # Errors
/// Creating the directory or writing the file.
pub fn write_json(target_tmpdir: &str, name: &str, report: &Value) -> io::Result<PathBuf> {
    let dir = target_dir(target_tmpdir).join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}
