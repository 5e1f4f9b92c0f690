//! `uring`: what this kernel's io_uring offers (`probe`), how fast it is against the
//! alternatives (`bench`), and a file copy built on linked SQEs (`cp`).
mod aio;
mod bench;
mod plot;
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
    /// Benchmark I/O: sync, Linux AIO and io_uring side by side (fio-like).
    ///
    /// With no arguments: 4k random reads, queue depth 32, over a 256 MiB file in the
    /// page cache (a temporary file in $TMPDIR, removed afterwards), on pread, Linux AIO
    /// (O_DIRECT), io_uring plain, with registered buffers and with O_DIRECT, and
    /// io_uring NOPs. About 20 seconds. Exit code 1 if any I/O failed or came up short.
    Bench(bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(CliError { msg, code }) => {
            eprintln!("uring: {msg}");
            std::process::exit(code);
        }
    }
}
