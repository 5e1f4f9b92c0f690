//! Registered resources: the fixed file table and the registered buffers
//! (`io_uring/rsrc.c`, `io_uring/filetable.c`).
//!
//! A registered file is a duplicate of the application's fd, so closing the original
//! leaves the slot valid, as the kernel's file reference does. A registered buffer is
//! the application's memory, which it promises to keep (the kernel pins the pages).
//!
//! Resource tags (`IORING_FEAT_RSRC_TAGS`): a slot registered or updated with a non-zero
//! tag posts a CQE (`user_data` = the tag, `res` 0) once its resource leaves the table
//! (replaced, emptied, unregistered). The tables collect those tags; the engine posts
//! them at its next flush (`Engine::post_tags`). The kernel posts a tag once no request
//! in flight uses the resource any more; the engine posts it when the table lets go
//! (a request in flight keeps its own reference to the file, so nothing is lost, but
//! the CQE can come before that request's).
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use uring_sys as sys;

/// Tags of resources that left a table, waiting to be posted.
#[derive(Debug, Default)]
pub(crate) struct DeadTags {
    tags: std::sync::Mutex<Vec<u64>>,
    /// Whether `tags` may be non-empty: read on every flush without the lock.
    pending: AtomicBool,
}

impl DeadTags {
    pub(crate) fn push(&self, tag: u64) {
        if tag != 0 {
            self.tags.lock().expect("tags").push(tag);
            // Release: the tag pushed under the lock is there for whoever sees the flag
            // (and takes the lock to read it).
            self.pending.store(true, Ordering::Release);
        }
    }

    /// The tags to post, in the order their resources went.
    pub(crate) fn take(&self) -> Vec<u64> {
        if !self.pending.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut t = self.tags.lock().expect("tags");
        self.pending.store(false, Ordering::Relaxed);
        std::mem::take(&mut *t)
    }
}

/// The fixed file table.
#[derive(Debug, Default)]
pub(crate) struct FileTable {
    slots: Vec<Option<Arc<OwnedFd>>>,
    /// The tag of each slot (0: none).
    tags: Vec<u64>,
    /// Where the tags of files leaving the table go.
    pub(crate) dead: Arc<DeadTags>,
    /// Whether a table is registered at all (a sparse table of 0 is not).
    pub(crate) registered: bool,
    /// The range `IORING_FILE_INDEX_ALLOC` allocates from.
    pub(crate) alloc_range: (u32, u32),
    /// Where the next allocation starts looking (the kernel's `alloc_hint`: after
    /// the slot last filled, or at the slot last emptied).
    alloc_hint: u32,
}

impl FileTable {
    /// An empty table whose tags go to `dead`.
    pub(crate) fn new(dead: Arc<DeadTags>) -> FileTable {
        FileTable {
            dead,
            ..FileTable::default()
        }
    }

    pub(crate) fn get(&self, index: u32) -> Option<Arc<OwnedFd>> {
        self.slots.get(index as usize)?.clone()
    }

    pub(crate) fn len(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Registers `n` slots, all empty.
    pub(crate) fn register(&mut self, n: u32) {
        self.slots = (0..n).map(|_| None).collect();
        self.tags = vec![0; n as usize];
        self.registered = true;
        self.set_alloc_range(0, n);
    }

    /// Sets the range `IORING_FILE_INDEX_ALLOC` allocates from
    /// (`io_file_table_set_alloc_range`).
    pub(crate) fn set_alloc_range(&mut self, start: u32, len: u32) {
        self.alloc_range = (start, len);
        self.alloc_hint = start;
    }

    pub(crate) fn unregister(&mut self) {
        for (s, &t) in self.slots.iter().zip(&self.tags) {
            if s.is_some() {
                self.dead.push(t);
            }
        }
        let dead = self.dead.clone();
        *self = FileTable::default();
        self.dead = dead;
    }

    /// Forgets every tag (a registration that failed half-way posts none).
    pub(crate) fn clear_tags(&mut self) {
        self.tags.iter_mut().for_each(|t| *t = 0);
    }

    /// Tags the resource in `slot` (which must exist).
    pub(crate) fn set_tag(&mut self, slot: u32, tag: u64) {
        self.tags[slot as usize] = tag;
    }

    /// Puts a duplicate of `fd` in `slot` (or empties it for `fd == -1`); the slot
    /// must exist.
    pub(crate) fn set(&mut self, slot: u32, fd: i32) -> Result<(), i32> {
        let file = if fd == -1 {
            None
        } else {
            if is_ring(fd) {
                // io_sqe_files_register: a ring in its own table would never be freed.
                return Err(-libc::EBADF);
            }
            Some(Arc::new(dup(fd)?))
        };
        self.install(slot, file)
    }

    /// Installs an owned file in `slot`, closing what was there.
    pub(crate) fn install(&mut self, slot: u32, file: Option<Arc<OwnedFd>>) -> Result<(), i32> {
        let s = self.slots.get_mut(slot as usize).ok_or(-libc::EINVAL)?;
        if s.is_some() {
            // The file leaves the table: its tag is due.
            self.dead
                .push(std::mem::take(&mut self.tags[slot as usize]));
        }
        match (s.is_some(), file.is_some()) {
            (false, true) => self.alloc_hint = slot + 1,
            (true, false) => self.alloc_hint = slot,
            _ => {}
        }
        *s = file;
        Ok(())
    }

    /// `__io_fixed_fd_install`: puts `file` in slot `file_index - 1`, or in a free slot
    /// of the allocation range for `IORING_FILE_INDEX_ALLOC` (returning it; else 0).
    /// `-ENFILE` when no table is registered or no slot is free, `-ENXIO` for a slot
    /// with no table, `-EINVAL` past its end.
    pub(crate) fn install_fixed(
        &mut self,
        file: Arc<OwnedFd>,
        file_index: u32,
    ) -> Result<i32, i32> {
        if file_index == sys::IORING_FILE_INDEX_ALLOC {
            if !self.registered {
                return Err(-libc::ENFILE);
            }
            let slot = self.alloc().ok_or(-libc::ENFILE)?;
            self.install(slot, Some(file))?;
            return Ok(slot as i32);
        }
        let slot = file_index.wrapping_sub(1);
        if !self.registered || self.len() == 0 {
            return Err(-libc::ENXIO);
        }
        if slot >= self.len() {
            return Err(-libc::EINVAL);
        }
        self.install(slot, Some(file))?;
        Ok(0)
    }

    /// A free slot of the allocation range (`IORING_FILE_INDEX_ALLOC`): the first
    /// from the hint to the end of the range, then from its start (`io_file_bitmap_get`).
    pub(crate) fn alloc(&self) -> Option<u32> {
        let (start, len) = self.alloc_range;
        let end = start.saturating_add(len).min(self.len());
        let hint = self.alloc_hint.clamp(start, end);
        let free = |i: &u32| self.slots[*i as usize].is_none();
        (hint..end).find(free).or_else(|| (start..hint).find(free))
    }
}

/// Duplicates `fd` with close-on-exec, as a registered file reference.
/// Whether `fd` is an io_uring instance, which a file table refuses (the kernel's
/// `io_is_uring_fops`): an engine ring's fd (or a duplicate) or a kernel ring's.
pub(crate) fn is_ring(fd: i32) -> bool {
    crate::op::msg_ring::lookup(fd).is_some()
        || std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|l| l.as_os_str() == "anon_inode:[io_uring]")
}

pub(crate) fn dup(fd: i32) -> Result<OwnedFd, i32> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor or fails; it touches no memory.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(-libc::EBADF);
    }
    // SAFETY: `new` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// One registered buffer: application memory `[addr, addr + len)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegBuf {
    pub(crate) addr: u64,
    pub(crate) len: u64,
}

impl RegBuf {
    /// Checks that `[addr, addr + len)` lies inside the buffer (`-EFAULT` otherwise, as
    /// the kernel's `io_import_fixed`).
    pub(crate) fn check(&self, addr: u64, len: u64) -> Result<(), i32> {
        let end = addr.checked_add(len).ok_or(-libc::EFAULT)?;
        if addr < self.addr || end > self.addr + self.len {
            return Err(-libc::EFAULT);
        }
        Ok(())
    }
}

/// The registered buffer table.
#[derive(Debug, Default)]
pub(crate) struct BufTable {
    pub(crate) slots: Vec<Option<RegBuf>>,
    /// The tag of each slot (0: none).
    pub(crate) tags: Vec<u64>,
    pub(crate) registered: bool,
    /// Where the tags of buffers leaving the table go.
    pub(crate) dead: Arc<DeadTags>,
}

impl BufTable {
    /// Replaces slot `i` (which must exist), posting the old buffer's tag.
    pub(crate) fn put(&mut self, i: usize, buf: Option<RegBuf>, tag: u64) {
        if self.slots[i].is_some() {
            self.dead.push(self.tags[i]);
        }
        self.slots[i] = buf;
        self.tags[i] = tag;
    }

    /// Drops every buffer, posting their tags.
    pub(crate) fn unregister(&mut self) {
        for (s, &t) in self.slots.iter().zip(&self.tags) {
            if s.is_some() {
                self.dead.push(t);
            }
        }
        let dead = self.dead.clone();
        *self = BufTable::default();
        self.dead = dead;
    }

    pub(crate) fn get(&self, index: u16) -> Option<RegBuf> {
        *self.slots.get(index as usize)?
    }
}
