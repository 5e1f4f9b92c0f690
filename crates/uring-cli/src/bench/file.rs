//! The file a benchmark reads and writes: the user's (`--filename`, a file or a block
//! device), or a temporary one in `$TMPDIR`, filled with data and removed afterwards —
//! on error and on Ctrl-C too, since every exit path drops the guard.
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::util::{CliError, XorShift, fmt_size, stopped};

/// What sort of thing the benchmark file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    BlockDevice,
}

/// The benchmark's file. A temporary one is removed when this is dropped.
#[derive(Debug)]
pub struct BenchFile {
    pub path: PathBuf,
    pub size: u64,
    pub temporary: bool,
    pub kind: Kind,
}

impl Drop for BenchFile {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl BenchFile {
    /// A temporary file of `size` bytes in `$TMPDIR`, filled with pseudo-random data
    /// (not zeros, so no file system can shortcut it) and synced, so it sits in the
    /// page cache and on disk.
    pub fn temporary(size: u64) -> Result<BenchFile, CliError> {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("uring-bench-{}.dat", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                CliError::new(format!(
                    "cannot create the benchmark file {}: {e} (set TMPDIR to a writable \
                     directory, or pass --filename)",
                    path.display()
                ))
            })?;
        // From here on, dropping `bf` removes the file.
        let bf = BenchFile {
            path,
            size,
            temporary: true,
            kind: Kind::File,
        };
        fill(&file, size, &bf.path)?;
        Ok(bf)
    }

    /// The user's file or block device. A missing file is created with `size` bytes
    /// (and kept); an existing one is used as it is, up to `size` bytes if `size_given`.
    pub fn user(path: &Path, size: u64, size_given: bool) -> Result<BenchFile, CliError> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(path)
                    .map_err(|e| CliError::new(format!("cannot create {}: {e}", path.display())))?;
                fill(&file, size, path)?;
                return Ok(BenchFile {
                    path: path.to_owned(),
                    size,
                    temporary: false,
                    kind: Kind::File,
                });
            }
            Err(e) => return Err(CliError::new(format!("{}: {e}", path.display()))),
        };
        let ft = meta.file_type();
        let (kind, len) = if ft.is_block_device() {
            let mut f = File::open(path)
                .map_err(|e| CliError::new(format!("cannot open {}: {e}", path.display())))?;
            let len = f
                .seek(SeekFrom::End(0))
                .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
            (Kind::BlockDevice, len)
        } else if ft.is_file() {
            (Kind::File, meta.len())
        } else {
            return Err(CliError::new(format!(
                "{} is neither a regular file nor a block device",
                path.display()
            )));
        };
        let size = if size_given { size.min(len) } else { len };
        Ok(BenchFile {
            path: path.to_owned(),
            size,
            temporary: false,
            kind,
        })
    }
}

/// Writes `size` bytes of pseudo-random data, then fsyncs.
fn fill(mut file: &File, size: u64, path: &Path) -> Result<(), CliError> {
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK];
    let mut rng = XorShift::new(0x5eed);
    for w in buf.chunks_exact_mut(8) {
        w.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let mut left = size;
    while left > 0 {
        if stopped() {
            return Err(CliError {
                msg: "interrupted".into(),
                code: crate::util::EXIT_INTERRUPTED,
            });
        }
        let n = left.min(CHUNK as u64) as usize;
        // Vary each chunk a little, so no two blocks are alike.
        buf[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        file.write_all(&buf[..n]).map_err(|e| {
            CliError::new(format!(
                "filling {} ({} wanted): {e}",
                path.display(),
                fmt_size(size)
            ))
        })?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| CliError::new(format!("fsync {}: {e}", path.display())))
}
