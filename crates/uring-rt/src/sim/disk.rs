//! What a crash keeps: a shadow of the durable contents of every file a node wrote
//! since it last synced it.
//!
//! # The model
//! The files are real files (in the node's directory); what makes them "volatile" is
//! an undo log kept at sector granularity (512 bytes). The engine's observer calls
//! [`Disk::before_write`] right before a write to a regular file runs: each sector the
//! write touches that is not yet in the log is read first, so the log holds the
//! sector as it was **durable**, before any unsynced write (and the file's size then).
//! A successful `FSYNC` (or `fdatasync`) of the file makes everything written before
//! it durable: the file's log is dropped.
//!
//! A failed `FSYNC` does not: Linux marks the pages it could not write clean and
//! reports the error once; the next `fsync` succeeds without writing them ("fsyncgate").
//! So the sectors in the log when an `fsync` fails are *doomed*: no later `fsync`
//! makes them durable, and a crash always loses them. Until a crash, reads see the
//! new data (it is still in the page cache).
//!
//! At a crash ([`Disk::crash`]), each logged sector independently either reached the
//! disk (kept) or did not (its durable contents written back), chosen by the seed,
//! with one of three policies per file and crash so that the extremes come up often:
//! everything unsynced lost, everything kept, or each sector on its own (a write of
//! several sectors can then be *torn*). The file's size becomes the durable size, or
//! as far as the last kept sector beyond it reaches; a lost sector below that size
//! reads as zeros (a hole).
//!
//! # What is not modelled
//! Metadata: a created, renamed or removed file is durable at once (no directory
//! fsync needed); `ftruncate`, `fallocate` and an `OPENAT` with `O_TRUNC` make the
//! file's state durable at once (what a truncation cut off is forgotten, doomed or
//! not). An `OPENAT2` with `O_TRUNC` is not seen (its flags are behind a pointer).
//! Writes with `RWF_DSYNC`/`RWF_SYNC`, or to files opened `O_SYNC`/`O_DSYNC`, are
//! durable when they complete. Files written through registered (fixed) file slots
//! are seen by their resolved descriptor, like any other. All of these err on the
//! side of keeping data: the model never loses what Linux would keep.
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use super::rng::Rng;

/// Sector size of the model: the unit a write can be torn at.
pub(crate) const SECTOR: u64 = 512;

/// A file's identity: device and inode.
type FileKey = (u64, u64);

/// The log of one file.
struct FileLog {
    /// A duplicate of a descriptor the file was written through, to write the
    /// durable contents back at a crash.
    fd: OwnedFd,
    /// The file's size when it was first written since the last sync.
    durable_len: u64,
    /// Sector index → its durable bytes (fewer than [`SECTOR`] at the durable end of
    /// the file, none beyond it), and whether a failed fsync doomed it.
    sectors: BTreeMap<u64, Sector>,
}

struct Sector {
    durable: Box<[u8]>,
    doomed: bool,
}

/// The undo logs of one node's files.
#[derive(Default)]
pub(crate) struct Disk {
    files: HashMap<FileKey, FileLog>,
    /// Failed `fsync`s since the last crash.
    pub(crate) fsync_failures: u64,
}

/// What a crash did to a node's files.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CrashLoss {
    /// Files that had unsynced writes.
    pub files: u64,
    /// Sectors whose unsynced contents were lost.
    pub sectors_lost: u64,
    /// Sectors whose unsynced contents reached the disk anyway.
    pub sectors_kept: u64,
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: called with the fd of a request that is about to run or just ran: the
    // op slot owns the file until the request's CQE is reaped, so the descriptor is
    // open for this call; the borrow does not outlive it (callers use it at once).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

fn key_of(fd: BorrowedFd<'_>) -> Option<(FileKey, u64)> {
    let st = rustix::fs::fstat(fd).ok()?;
    let regular =
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
    regular.then_some(((st.st_dev, st.st_ino), st.st_size as u64))
}

impl Disk {
    /// A write of `len` bytes at `offset` (`u64::MAX`: the file position) to `fd` is
    /// about to run: logs the durable contents of the sectors it will change.
    pub(crate) fn before_write(&mut self, fd: RawFd, offset: u64, len: u64, rw_flags: u32) {
        if len == 0 || fd < 0 {
            return;
        }
        let bfd = borrow(fd);
        let sync_flags = (libc::RWF_DSYNC | libc::RWF_SYNC) as u32;
        if rw_flags & sync_flags != 0 {
            return;
        }
        let Ok(fl) = rustix::fs::fcntl_getfl(bfd) else {
            return;
        };
        if fl.intersects(rustix::fs::OFlags::SYNC | rustix::fs::OFlags::DSYNC) {
            return;
        }
        let Some((key, size)) = key_of(bfd) else {
            return;
        };
        let offset = if offset == u64::MAX {
            if fl.contains(rustix::fs::OFlags::APPEND) {
                size
            } else {
                match rustix::fs::seek(bfd, rustix::fs::SeekFrom::Current(0)) {
                    Ok(p) => p,
                    Err(_) => return,
                }
            }
        } else if fl.contains(rustix::fs::OFlags::APPEND) {
            // pwrite on an O_APPEND file appends, whatever the offset.
            size
        } else {
            offset
        };
        let log = match self.files.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let Ok(dup) = rustix::io::fcntl_dupfd_cloexec(bfd, 0) else {
                    return;
                };
                v.insert(FileLog {
                    fd: dup,
                    durable_len: size,
                    sectors: BTreeMap::new(),
                })
            }
        };
        let first = offset / SECTOR;
        let last = (offset.saturating_add(len) - 1) / SECTOR;
        for s in first..=last {
            if log.sectors.contains_key(&s) {
                continue;
            }
            let start = s * SECTOR;
            let durable_end = log.durable_len.min(start + SECTOR);
            let mut bytes = vec![0u8; durable_end.saturating_sub(start) as usize];
            let mut got = 0;
            while got < bytes.len() {
                match rustix::io::pread(bfd, &mut bytes[got..], start + got as u64) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            bytes.truncate(got);
            log.sectors.insert(
                s,
                Sector {
                    durable: bytes.into_boxed_slice(),
                    doomed: false,
                },
            );
        }
    }

    /// An `fsync`/`fdatasync` of `fd` completed with `res`.
    pub(crate) fn synced(&mut self, fd: RawFd, res: i32) {
        if fd < 0 {
            return;
        }
        let Some((key, size)) = key_of(borrow(fd)) else {
            return;
        };
        let Some(log) = self.files.get_mut(&key) else {
            return;
        };
        if res < 0 {
            self.fsync_failures += 1;
            for s in log.sectors.values_mut() {
                s.doomed = true;
            }
            return;
        }
        log.sectors.retain(|_, s| s.doomed);
        if log.sectors.is_empty() {
            self.files.remove(&key);
        } else {
            log.durable_len = log.durable_len.max(size);
        }
    }

    /// `fallocate` on `fd`: its state becomes durable at once (see the module docs),
    /// except what a failed fsync doomed.
    pub(crate) fn metadata_changed(&mut self, fd: RawFd) {
        self.synced(fd, 0);
    }

    /// `ftruncate` of `fd` to `len`, or an open with `O_TRUNC` (`len` 0): the pages
    /// past `len` are gone, doomed or not; the rest is durable at once, except what a
    /// failed fsync doomed.
    pub(crate) fn truncated(&mut self, fd: RawFd, len: u64) {
        if fd < 0 {
            return;
        }
        let Some((key, _)) = key_of(borrow(fd)) else {
            return;
        };
        let Some(log) = self.files.get_mut(&key) else {
            return;
        };
        log.sectors
            .retain(|&s, sector| sector.doomed && (s + 1) * SECTOR <= len);
        log.durable_len = len;
        if log.sectors.is_empty() {
            self.files.remove(&key);
        }
    }

    /// The node crashed: every file with unsynced writes gets its durable contents
    /// back, sector by sector as `rng` decides (see the module docs). The log is
    /// empty afterwards.
    pub(crate) fn crash(&mut self, rng: &mut Rng) -> CrashLoss {
        let mut loss = CrashLoss::default();
        let mut files: Vec<(FileKey, FileLog)> = self.files.drain().collect();
        // HashMap order is not deterministic; the inode order is.
        files.sort_by_key(|(k, _)| *k);
        for (_, log) in files {
            loss.files += 1;
            // 0: lose all, 1: keep all, 2: each sector on its own.
            let policy = rng.below(3);
            let mut lost = Vec::new();
            let mut kept_end = 0u64;
            for (&s, sector) in &log.sectors {
                let keep = !sector.doomed
                    && match policy {
                        0 => false,
                        1 => true,
                        _ => rng.chance(0.5),
                    };
                if keep {
                    loss.sectors_kept += 1;
                    kept_end = kept_end.max((s + 1) * SECTOR);
                } else {
                    loss.sectors_lost += 1;
                    lost.push(s);
                }
            }
            let fd = log.fd.as_fd();
            let Ok(st) = rustix::fs::fstat(fd) else {
                continue;
            };
            let cur_len = st.st_size as u64;
            let new_len = log.durable_len.max(kept_end.min(cur_len));
            if new_len != cur_len {
                let _ = rustix::fs::ftruncate(fd, new_len);
            }
            for s in lost {
                let start = s * SECTOR;
                if start >= new_len {
                    continue;
                }
                let end = new_len.min(start + SECTOR);
                let mut bytes = vec![0u8; (end - start) as usize];
                let durable = &log.sectors[&s].durable;
                let n = durable.len().min(bytes.len());
                bytes[..n].copy_from_slice(&durable[..n]);
                let mut put = 0;
                while put < bytes.len() {
                    match rustix::io::pwrite(fd, &bytes[put..], start + put as u64) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => put += n,
                    }
                }
            }
        }
        self.fsync_failures = 0;
        loss
    }
}
