//! `uring`: what this kernel's io_uring offers (`probe`), how fast it is against the
//! alternatives (`bench`), and a file copy built on linked SQEs (`cp`).
mod aio;
mod bench;
mod cp;
mod plot;
mod probe;
mod util;

use clap::{Parser, Subcommand};

use util::CliError;

/// io_uring from the command line: probe the kernel, benchmark, copy files.
#[derive(Debug, Parser)]
#[command(name = "uring", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// What this kernel's io_uring offers; if it is blocked, why and what to do.
    ///
    /// Kernel version, whether io_uring is usable (sysctl kernel.io_uring_disabled,
    /// seccomp, missing system call), features, setup flags (each tried), opcodes,
    /// registration opcodes and the memlock limit. Exit code 0 when io_uring is
    /// usable, 1 when it is not.
    Probe(probe::ProbeArgs),
    /// Benchmark I/O: sync, Linux AIO and io_uring side by side (fio-like).
    ///
    /// With no arguments: 4k random reads, queue depth 32, over a 256 MiB file in the
    /// page cache (a temporary file in $TMPDIR, removed afterwards), on pread, Linux AIO
    /// (O_DIRECT), io_uring plain, with registered buffers and with O_DIRECT, and
    /// io_uring NOPs, in three interleaved rounds. About 20 seconds. Exit code 1 if any I/O failed or came up short.
    Bench(bench::BenchArgs),
    /// Copy a file with linked read→write SQE chains over registered buffers, then
    /// fsync.
    ///
    /// Several chains are in flight; holes are kept; the source's permissions are
    /// copied. On any error (disk full included) the partial destination is removed.
    Cp(cp::CpArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe(a) => probe::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Cp(a) => cp::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(CliError { msg, code }) => {
            eprintln!("uring: {msg}");
            std::process::exit(code);
        }
    }
}
