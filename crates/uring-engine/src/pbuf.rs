//! Provided buffers: groups filled by `IORING_OP_PROVIDE_BUFFERS` ("legacy" groups)
//! and buffer rings registered with `IORING_REGISTER_PBUF_RING`, from which requests
//! with `IOSQE_BUFFER_SELECT` pick a buffer (`io_uring/kbuf.c`).
//!
//! # The buffer-ring protocol
//!
//! A buffer ring is an array of `struct io_uring_buf` (16 bytes each) whose 16-bit
//! tail overlays the `resv` of entry 0. The application writes entries with plain
//! stores and then publishes them with a release store of the tail (liburing's
//! `io_uring_buf_ring_advance`, `uring::buf_ring::BufRing::publish`). The engine reads
//! the tail with an acquire load in [`Pbufs::select`], which pairs with that release
//! store: an engine that sees the new tail sees the entries' `addr`, `len` and `bid`.
//! The head is the engine's own (the kernel's `bl->head`), readable through
//! `IORING_REGISTER_PBUF_STATUS`; the application learns that an entry was consumed
//! from the CQE naming its buffer id, which it reads through the CQ tail's acquire.
//!
//! # How requests use a group
//!
//! `select` takes a buffer (`-ENOBUFS` when there is none); then exactly one of
//! `commit` (the transfer happened: the CQE flags to post), `recycle` (nothing was
//! transferred and the request will retry or fail without reporting the buffer:
//! `-EAGAIN` before a readiness wait) or `fail` (a final error: the CQE flags to post,
//! which name the buffer where the kernel names it).
//!
//! Selection takes the entry at the head and advances the head at once, so that
//! concurrent requests (the submitter and workers) never pick the same buffer; the
//! kernel gets the same from its `uring_lock`. A buffer given back (`recycle`, or the
//! rest of an incrementally consumed buffer) returns to the head if nothing was
//! picked after it, exactly as in the kernel, where the head had not moved; otherwise
//! it waits in a small per-group stash that is served first.
//!
//! Incremental consumption (`IOU_PBUF_RING_INC`): as the kernel's `io_kbuf_inc_commit`,
//! a transfer from a pollable file (pipe, socket) consumes what it transferred, writes
//! the advanced `addr` and reduced `len` back into the entry and posts
//! `IORING_CQE_F_BUF_MORE` while the buffer has room left. A transfer from a file
//! that cannot be polled (a regular file) consumes the whole length it selected and
//! still posts `BUF_MORE` while the buffer has room, as the kernel does when it
//! commits at selection time.
use std::collections::{HashMap, VecDeque};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};

use uring_sys as sys;

/// Size of one ring entry (`struct io_uring_buf`).
const ENTRY: usize = 16;
/// Offset of the tail in the ring (the `resv` of entry 0).
const TAIL: usize = 14;
/// Buffer ids are 16 bits: at most this many buffers per group (`MAX_BIDS_PER_BGID`).
pub(crate) const MAX_BIDS_PER_BGID: u64 = 1 << 16;
/// Largest single transfer (`MAX_RW_COUNT`).
const MAX_RW_COUNT: u32 = i32::MAX as u32 & !4095;

/// Where a selected buffer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Legacy,
    /// The ring entry at `pos`.
    Ring,
    /// The group's stash of given-back ring buffers.
    Stash,
}

/// A buffer picked for a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selected {
    pub(crate) addr: u64,
    /// The length to transfer at most.
    pub(crate) len: u32,
    pub(crate) bid: u16,
    /// The whole remaining length of the buffer (ring groups).
    entry_len: u32,
    /// The head index it was taken at (ring groups).
    pos: u16,
    origin: Origin,
    /// Picked for a pollable file: consumption follows what was transferred.
    pollable: bool,
}

/// One buffer of a legacy group, or one given back to a ring group.
#[derive(Debug, Clone, Copy)]
struct Buf {
    addr: u64,
    len: u32,
    bid: u16,
}

/// Memory the engine allocated for a ring (`IOU_PBUF_RING_MMAP`): shared anonymous
/// pages, so that the application's mapping of them (see [`Pbufs::map`]) outlives
/// the registration, as a mapping of the kernel's ring fd does.
#[derive(Debug)]
struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

impl Region {
    fn new(len: usize) -> Result<Region, i32> {
        // SAFETY: a fresh shared anonymous mapping aliases no Rust object.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(-libc::ENOMEM);
        }
        Ok(Region {
            ptr: NonNull::new(p.cast()).ok_or(-libc::ENOMEM)?,
            len,
        })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`; the group that used it is gone.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A registered buffer ring.
#[derive(Debug)]
struct Ring {
    /// The entries (application memory, or `region`).
    base: NonNull<u8>,
    mask: u16,
    /// The consumer index (the kernel's `bl->head`).
    head: u16,
    inc: bool,
    /// Buffers taken from the ring and given back after something else was taken.
    stash: Vec<(Buf, u16)>,
    region: Option<Region>,
}

impl Ring {
    fn entry(&self, index: u16) -> *mut sys::io_uring_buf {
        // SAFETY: `index & mask` < entries, and the ring spans entries × 16 bytes
        // (checked at registration).
        unsafe {
            self.base
                .as_ptr()
                .add((index & self.mask) as usize * ENTRY)
                .cast()
        }
    }

    /// The application's tail: acquire, pairing with its release store that
    /// published the entries before it.
    fn tail(&self) -> u16 {
        // SAFETY: the tail is an aligned u16 at offset 14 of the ring, which lives as
        // long as the registration (the application's promise, or `region`).
        let tail = unsafe { &*self.base.as_ptr().add(TAIL).cast::<AtomicU16>() };
        tail.load(Ordering::Acquire)
    }

    /// Gives back a buffer taken at `pos` with `buf` left in it: to the ring if
    /// nothing was taken after it (writing the entry back, as `io_kbuf_inc_commit`
    /// does), else to the stash.
    fn give_back(&mut self, sel: &Selected, buf: Buf) {
        if sel.origin == Origin::Ring && self.head == sel.pos.wrapping_add(1) {
            self.head = sel.pos;
            let e = self.entry(sel.pos);
            // SAFETY: the entry lies between head and tail: the application does not
            // write it until we post its buffer id; volatile as the kernel's
            // WRITE_ONCE of shared memory.
            unsafe {
                (&raw mut (*e).addr).write_volatile(buf.addr);
                (&raw mut (*e).len).write_volatile(buf.len);
            }
        } else {
            self.stash.push((buf, sel.pos));
        }
    }
}

enum Group {
    Legacy(VecDeque<Buf>),
    Ring(Ring),
}

/// The provided-buffer groups of one ring.
#[derive(Default)]
pub(crate) struct Pbufs {
    groups: Mutex<HashMap<u16, Group>>,
}

// SAFETY: the raw pointers in the groups point to ring memory that the application
// keeps valid while registered (or that the group owns); they are only used under the
// mutex, from any thread, as the kernel uses them from any task.
unsafe impl Send for Pbufs {}
// SAFETY: as above; all access goes through the mutex.
unsafe impl Sync for Pbufs {}

impl Pbufs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Group>> {
        self.groups.lock().expect("pbufs")
    }

    // ---- Selection ----

    /// Picks a buffer of group `bgid` for a transfer of at most `want` bytes (0: the
    /// buffer's length) from a pollable file (`-ENOBUFS` when the group is empty or
    /// unknown).
    pub(crate) fn select(&self, bgid: u16, want: u32) -> Result<Selected, i32> {
        self.select_for(bgid, want, true)
    }

    /// [`select`](Self::select), saying whether the file can be polled (see the
    /// module docs on incremental consumption).
    pub(crate) fn select_for(&self, bgid: u16, want: u32, pollable: bool) -> Result<Selected, i32> {
        let clamp = |len: u32| if want == 0 || want > len { len } else { want };
        let mut g = self.lock();
        match g.get_mut(&bgid) {
            None => Err(-libc::ENOBUFS),
            Some(Group::Legacy(bufs)) => {
                let b = bufs.pop_front().ok_or(-libc::ENOBUFS)?;
                Ok(Selected {
                    addr: b.addr,
                    len: clamp(b.len),
                    bid: b.bid,
                    entry_len: b.len,
                    pos: 0,
                    origin: Origin::Legacy,
                    pollable,
                })
            }
            Some(Group::Ring(r)) => {
                if let Some((b, pos)) = r.stash.pop() {
                    return Ok(Selected {
                        addr: b.addr,
                        len: clamp(b.len),
                        bid: b.bid,
                        entry_len: b.len,
                        pos,
                        origin: Origin::Stash,
                        pollable,
                    });
                }
                if r.tail() == r.head {
                    return Err(-libc::ENOBUFS);
                }
                let e = r.entry(r.head);
                // SAFETY: a published entry (before the tail just loaded with
                // acquire); volatile as the kernel's READ_ONCE of shared memory.
                let (addr, len, bid) = unsafe {
                    (
                        (&raw const (*e).addr).read_volatile(),
                        (&raw const (*e).len).read_volatile(),
                        (&raw const (*e).bid).read_volatile(),
                    )
                };
                let pos = r.head;
                r.head = r.head.wrapping_add(1);
                Ok(Selected {
                    addr,
                    len: clamp(len),
                    bid,
                    entry_len: len,
                    pos,
                    origin: Origin::Ring,
                    pollable,
                })
            }
        }
    }

    /// Gives back a buffer picked but not used (the request will retry, or fails
    /// without naming it).
    pub(crate) fn recycle(&self, bgid: u16, sel: Selected) {
        let buf = Buf {
            addr: sel.addr,
            len: sel.entry_len,
            bid: sel.bid,
        };
        let mut g = self.lock();
        match g.get_mut(&bgid) {
            Some(Group::Legacy(bufs)) if sel.origin == Origin::Legacy => bufs.push_front(buf),
            Some(Group::Ring(r)) if sel.origin != Origin::Legacy => r.give_back(&sel, buf),
            // The group was removed or replaced meanwhile: the buffer goes with it.
            _ => {}
        }
    }

    /// Marks `used` bytes of a picked buffer consumed; returns the CQE flags
    /// (`IORING_CQE_F_BUFFER | bid << 16`, and `IORING_CQE_F_BUF_MORE` for an
    /// incrementally consumed ring buffer that has room left).
    pub(crate) fn commit(&self, bgid: u16, sel: Selected, used: u32) -> u32 {
        let flags = sys::IORING_CQE_F_BUFFER | (sel.bid as u32) << sys::IORING_CQE_BUFFER_SHIFT;
        if sel.origin == Origin::Legacy {
            return flags;
        }
        let mut g = self.lock();
        let Some(Group::Ring(r)) = g.get_mut(&bgid) else {
            return flags;
        };
        if !r.inc {
            return flags;
        }
        if !sel.pollable {
            // Committed at selection in the kernel: the selected length is consumed,
            // whatever was transferred; BUF_MORE while the buffer has room left.
            let left = sel.entry_len - sel.len;
            if left == 0 && sel.len > 0 {
                return flags;
            }
            let buf = Buf {
                addr: sel.addr + sel.len as u64,
                len: left,
                bid: sel.bid,
            };
            r.give_back(&sel, buf);
            return flags | sys::IORING_CQE_F_BUF_MORE;
        }
        let used = used.min(sel.entry_len);
        if used == 0 {
            // `io_kbuf_inc_commit` with nothing transferred leaves the buffer as it
            // was, and reports no BUF_MORE.
            let buf = Buf {
                addr: sel.addr,
                len: sel.entry_len,
                bid: sel.bid,
            };
            r.give_back(&sel, buf);
            return flags;
        }
        let left = sel.entry_len - used;
        if left == 0 {
            return flags;
        }
        let buf = Buf {
            addr: sel.addr + used as u64,
            len: left,
            bid: sel.bid,
        };
        r.give_back(&sel, buf);
        flags | sys::IORING_CQE_F_BUF_MORE
    }

    /// A request that picked a buffer failed: the CQE flags to post. The kernel
    /// gives an uncommitted ring buffer back (a pollable file) and names nothing;
    /// a legacy buffer, or a ring buffer committed at selection, is consumed and
    /// named in the CQE.
    pub(crate) fn fail(&self, bgid: u16, sel: Selected) -> u32 {
        if sel.pollable && sel.origin != Origin::Legacy {
            self.recycle(bgid, sel);
            return 0;
        }
        self.commit(bgid, sel, sel.len)
    }

    // ---- IORING_OP_PROVIDE_BUFFERS / REMOVE_BUFFERS ----

    /// Adds `nbufs` buffers of `len` bytes from `addr`, ids from `bid`, to legacy
    /// group `bgid` (`io_add_buffers`): 0, or `-EINVAL` for a ring group,
    /// `-EOVERFLOW` for a group that already holds 65535.
    pub(crate) fn provide(&self, bgid: u16, addr: u64, len: u32, nbufs: u32, bid: u16) -> i32 {
        let mut g = self.lock();
        let group = g
            .entry(bgid)
            .or_insert_with(|| Group::Legacy(VecDeque::new()));
        let Group::Legacy(bufs) = group else {
            return -libc::EINVAL;
        };
        let mut added = 0;
        let mut a = addr;
        let mut id = bid;
        for _ in 0..nbufs {
            if bufs.len() >= u16::MAX as usize {
                break;
            }
            bufs.push_back(Buf {
                addr: a,
                len: len.min(MAX_RW_COUNT),
                bid: id,
            });
            a = a.wrapping_add(len as u64);
            id = id.wrapping_add(1);
            added += 1;
        }
        if added == 0 { -libc::EOVERFLOW } else { 0 }
    }

    /// Removes up to `nbufs` buffers of legacy group `bgid`: how many, or `-ENOENT`
    /// (no such group), `-EINVAL` (a ring group).
    pub(crate) fn remove(&self, bgid: u16, nbufs: u32) -> i32 {
        let mut g = self.lock();
        match g.get_mut(&bgid) {
            None => -libc::ENOENT,
            Some(Group::Ring(_)) => -libc::EINVAL,
            Some(Group::Legacy(bufs)) => {
                let n = (nbufs as usize).min(bufs.len());
                bufs.drain(..n);
                n as i32
            }
        }
    }

    // ---- Registration ----

    /// `IORING_REGISTER_PBUF_RING` (`io_register_pbuf_ring`).
    pub(crate) fn register_ring(&self, reg: &sys::io_uring_buf_reg) -> Result<(), i32> {
        if reg.resv.iter().any(|&r| r != 0) {
            return Err(-libc::EINVAL);
        }
        if reg.flags & !(sys::IOU_PBUF_RING_MMAP | sys::IOU_PBUF_RING_INC) != 0 {
            return Err(-libc::EINVAL);
        }
        if !reg.ring_entries.is_power_of_two() || reg.ring_entries >= 65536 {
            return Err(-libc::EINVAL);
        }
        let mut g = self.lock();
        match g.get(&reg.bgid) {
            Some(Group::Ring(_)) => return Err(-libc::EEXIST),
            Some(Group::Legacy(b)) if !b.is_empty() => return Err(-libc::EEXIST),
            _ => {}
        }
        let page = page_size();
        let size = (reg.ring_entries as usize * ENTRY).div_ceil(page) * page;
        let (base, region) = if reg.flags & sys::IOU_PBUF_RING_MMAP != 0 {
            let region = Region::new(size)?;
            (region.ptr, Some(region))
        } else {
            // `io_create_region` over user memory.
            if reg.ring_addr == 0 {
                return Err(-libc::EFAULT);
            }
            if reg.ring_addr % page as u64 != 0 {
                return Err(-libc::EINVAL);
            }
            if reg.ring_addr.checked_add(size as u64).is_none() {
                return Err(-libc::EOVERFLOW);
            }
            if !mapped(reg.ring_addr, size) {
                return Err(-libc::EFAULT);
            }
            (
                NonNull::new(reg.ring_addr as *mut u8).ok_or(-libc::EFAULT)?,
                None,
            )
        };
        g.insert(
            reg.bgid,
            Group::Ring(Ring {
                base,
                mask: (reg.ring_entries - 1) as u16,
                head: 0,
                inc: reg.flags & sys::IOU_PBUF_RING_INC != 0,
                stash: Vec::new(),
                region,
            }),
        );
        Ok(())
    }

    /// `IORING_UNREGISTER_PBUF_RING`.
    pub(crate) fn unregister_ring(&self, reg: &sys::io_uring_buf_reg) -> Result<(), i32> {
        if reg.resv.iter().any(|&r| r != 0) || reg.flags != 0 {
            return Err(-libc::EINVAL);
        }
        let mut g = self.lock();
        match g.get(&reg.bgid) {
            None => Err(-libc::ENOENT),
            Some(Group::Legacy(_)) => Err(-libc::EINVAL),
            Some(Group::Ring(_)) => {
                g.remove(&reg.bgid);
                Ok(())
            }
        }
    }

    /// `IORING_REGISTER_PBUF_STATUS`: the head of ring group `bgid`.
    pub(crate) fn status(&self, bgid: u32) -> Result<u16, i32> {
        let g = self.lock();
        let bgid = u16::try_from(bgid).map_err(|_| -libc::ENOENT)?;
        match g.get(&bgid) {
            None => Err(-libc::ENOENT),
            Some(Group::Legacy(_)) => Err(-libc::EINVAL),
            // Buffers in the stash were taken from the ring and not consumed.
            Some(Group::Ring(r)) => Ok(r.head.wrapping_sub(r.stash.len() as u16)),
        }
    }

    /// What `mmap(ring_fd, IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT)`
    /// gives: a new mapping of the pages of an engine-allocated ring, which the caller
    /// owns and unmaps (it keeps the pages alive after unregistration, as a mapping
    /// of the kernel's ring does). `-EINVAL` if `bgid` has no such ring.
    pub(crate) fn map(&self, bgid: u16) -> Result<(*mut u8, usize), i32> {
        let g = self.lock();
        let Some(Group::Ring(Ring {
            region: Some(region),
            ..
        })) = g.get(&bgid)
        else {
            return Err(-libc::EINVAL);
        };
        // SAFETY: mremap with old_size 0 of a shared mapping creates a second mapping
        // of the same pages at an address the kernel picks; nothing is moved or freed.
        let p = unsafe {
            libc::mremap(
                region.ptr.as_ptr().cast(),
                0,
                region.len,
                libc::MREMAP_MAYMOVE,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(crate::op::neg_errno());
        }
        Ok((p.cast(), region.len))
    }
}

fn page_size() -> usize {
    rustix::param::page_size()
}

/// Whether `[addr, addr + len)` is mapped in this process (what pinning the pages
/// checks in the kernel): `madvise(MADV_NORMAL)` fails with `ENOMEM` on a hole.
fn mapped(addr: u64, len: usize) -> bool {
    // SAFETY: MADV_NORMAL changes no contents and no protection; on an unmapped range
    // it fails with ENOMEM, which is all we ask.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_NORMAL) == 0 }
}
