//! A write-ahead log writer on io_uring, and what it does when `fsync` fails — tested
//! on the engine with injected faults.
//!
//! Each commit writes the batch of records buffered since the last one with a `WRITE`
//! linked (`IOSQE_IO_LINK`) to an `FSYNC`, and acknowledges the records only when
//! both succeeded:
//! - a **short write** breaks the link: the `FSYNC` completes with `-ECANCELED`; the
//!   writer writes the remainder from its own buffer, again linked to an `FSYNC`;
//! - a **failed write** (`-ENOSPC`, `-EIO`): nothing is acknowledged; the batch stays
//!   buffered and a later commit writes it again at the same offset;
//! - a **failed fsync** (`-EIO`): the batch is *not* durable, and worse, the file's
//!   state is unknown: Linux may have dropped the dirty pages or marked them clean, so
//!   a second `fsync` can succeed without the data ever reaching the disk. The writer
//!   must not retry the fsync and assume; it fails the commit, refuses further
//!   commits ([`WalError::Poisoned`]), and [`Wal::recover`] reopens the file, cuts it
//!   back to what was durable, and rewrites the batch from its own buffer before a new
//!   fsync. (Reopening alone proves nothing: a new descriptor may not even see the old
//!   error.)
//!
//! Run it (the plan fails the second FSYNC unless `URING_ENGINE_FAULTS` says
//! otherwise):
//!
//! ```text
//! cargo run -p uring-engine --example wal
//! URING_ENGINE_FAULTS='ops=WRITE,at=0:short' cargo run -p uring-engine --example wal
//! ```
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use uring::{Backend, EngineConfig, Ring, SqeFlags, opcode, sys};

/// Why a commit acknowledged nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalError {
    /// The write failed with this errno: the batch stays buffered; commit again.
    Write(i32),
    /// The fsync failed with this errno: the batch is not durable and the file is
    /// suspect; [`Wal::recover`] before anything else.
    Sync(i32),
    /// An earlier fsync failed and [`Wal::recover`] has not run since.
    Poisoned,
}

/// What a writer has done, for tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Commits that made their batch durable.
    pub commits: u64,
    /// Remainders written again after a short write.
    pub rewrites: u64,
    /// Recoveries after a failed fsync.
    pub recoveries: u64,
}

/// An append-only log of length-prefixed records.
pub struct Wal {
    ring: Ring,
    path: PathBuf,
    file: File,
    /// Bytes of the file known durable: the acknowledged records.
    durable: u64,
    /// Records acknowledged.
    acked: u64,
    /// Encoded records not yet acknowledged.
    pending: Vec<u8>,
    pending_records: u64,
    poisoned: bool,
    stats: WalStats,
}

impl Wal {
    /// Creates the log at `path` (empty), driven by `ring`.
    pub fn create(path: &Path, ring: Ring) -> io::Result<Wal> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Wal {
            ring,
            path: path.to_path_buf(),
            file,
            durable: 0,
            acked: 0,
            pending: Vec::new(),
            pending_records: 0,
            poisoned: false,
            stats: WalStats::default(),
        })
    }

    /// Buffers a record for the next commit.
    pub fn append(&mut self, record: &[u8]) {
        self.pending
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.pending.extend_from_slice(record);
        self.pending_records += 1;
    }

    /// Records acknowledged (durable) so far.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Bytes of the log known durable.
    pub fn durable_len(&self) -> u64 {
        self.durable
    }

    pub fn stats(&self) -> WalStats {
        self.stats
    }

    /// Writes the buffered records linked to an fsync; acknowledges them only when
    /// both succeeded. Returns the number of records acknowledged in all.
    ///
    /// # Errors
    /// [`WalError`]: nothing of this batch is acknowledged.
    pub fn commit(&mut self) -> Result<u64, WalError> {
        if self.poisoned {
            return Err(WalError::Poisoned);
        }
        let mut done = 0usize;
        while done < self.pending.len() || self.pending.is_empty() {
            let rest_len = self.pending.len() - done;
            let rest = self.pending[done..].as_ptr();
            let write = opcode::Write::new(&self.file, rest, rest_len as u32)
                .offset(self.durable + done as u64)
                .build()
                .flags(SqeFlags::IO_LINK)
                .user_data(1);
            let fsync = opcode::Fsync::new(&self.file)
                .flags(sys::IORING_FSYNC_DATASYNC)
                .build()
                .user_data(2);
            // SAFETY: `rest` points into `self.pending`, which is not touched until both
            // completions are reaped below.
            unsafe { self.ring.submission().push_multiple(&[write, fsync]) }
                .expect("the ring has room for two");
            let (w, f) = self.reap_two();
            if w < 0 {
                return Err(WalError::Write(-w));
            }
            let w = w as usize;
            if w < rest_len {
                // Short: the link is broken (the fsync says -ECANCELED). Write the
                // rest from our buffer; its fsync covers the whole file.
                assert_eq!(f, -libc::ECANCELED, "a short write cancels its link");
                if w == 0 {
                    return Err(WalError::Write(libc::ENOSPC));
                }
                done += w;
                self.stats.rewrites += 1;
                continue;
            }
            if f < 0 {
                // Not durable, and the page cache can no longer be trusted: no retry
                // of the fsync, no acknowledgement; only a rewrite can make it right.
                self.poisoned = true;
                return Err(WalError::Sync(-f));
            }
            break;
        }
        self.durable += self.pending.len() as u64;
        self.acked += self.pending_records;
        self.pending.clear();
        self.pending_records = 0;
        self.stats.commits += 1;
        Ok(self.acked)
    }

    /// After a failed fsync: reopens the file, cuts it back to what was durable
    /// (dropping whatever part of the failed batch reached it), and commits the
    /// batch again from the writer's own buffer.
    ///
    /// # Errors
    /// As [`commit`](Self::commit); reopening or truncating errors as `Write`.
    pub fn recover(&mut self) -> Result<u64, WalError> {
        let io = |e: io::Error| WalError::Write(e.raw_os_error().unwrap_or(libc::EIO));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        file.set_len(self.durable).map_err(io)?;
        self.file = file;
        self.poisoned = false;
        self.stats.recoveries += 1;
        self.commit()
    }

    /// Waits for the write's and the fsync's CQEs: (write result, fsync result).
    fn reap_two(&mut self) -> (i32, i32) {
        self.ring.submit_and_wait(2).expect("io_uring_enter");
        let (mut w, mut f) = (None, None);
        while w.is_none() || f.is_none() {
            for c in self.ring.completion() {
                match c.user_data() {
                    1 => w = Some(c.result()),
                    _ => f = Some(c.result()),
                }
            }
            if w.is_none() || f.is_none() {
                self.ring.submitter().wait(1).expect("io_uring_enter");
            }
        }
        (w.unwrap(), f.unwrap())
    }
}

/// Reads the records of a log file back (up to a torn or missing tail).
pub fn read_log(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        if at + 4 + len > data.len() {
            break;
        }
        out.push(data[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    Ok(out)
}

/// A ring on the engine with `config` (whatever `URING_BACKEND` says).
pub fn engine_ring(config: EngineConfig) -> Ring {
    Ring::builder()
        .backend_exact(Backend::Engine)
        .engine_config(config)
        .build(8)
        .expect("engine ring")
}

fn main() -> io::Result<()> {
    let plan = match std::env::var("URING_ENGINE_FAULTS") {
        Ok(text) => text,
        Err(_) => "ops=FSYNC,at=1:EIO".to_string(),
    };
    let plan = uring_engine::FaultPlan::parse(&plan).map_err(io::Error::other)?;
    println!("fault plan: {plan}");
    let dir = std::env::temp_dir().join(format!("uring-wal-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("log");
    let ring = engine_ring(EngineConfig::new().faults(plan.clone()));
    let mut wal = Wal::create(&path, ring)?;
    for batch in 0..3 {
        for i in 0..3 {
            wal.append(format!("batch {batch} record {i}").as_bytes());
        }
        match wal.commit() {
            Ok(n) => println!("batch {batch}: durable, {n} records acknowledged"),
            Err(WalError::Sync(e)) => {
                println!(
                    "batch {batch}: fsync failed ({}): NOT acknowledged ({} records stay acknowledged); recovering",
                    io::Error::from_raw_os_error(e),
                    wal.acked()
                );
                assert_eq!(wal.commit(), Err(WalError::Poisoned));
                match wal.recover() {
                    Ok(n) => println!(
                        "batch {batch}: rewritten from the buffer and durable, {n} acknowledged"
                    ),
                    Err(e) => println!("batch {batch}: recovery failed: {e:?}"),
                }
            }
            Err(e) => println!("batch {batch}: {e:?}: nothing acknowledged, batch kept"),
        }
    }
    println!(
        "stats: {:?}; faults injected: {:?}",
        wal.stats(),
        plan.counts()
    );
    let records = read_log(&path)?;
    println!("the log holds {} records", records.len());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
