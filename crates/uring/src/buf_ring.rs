//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`): a ring of buffers the kernel
//! picks from for reads and receives with `IOSQE_BUFFER_SELECT`.
//!
//! A [`BufRing`] owns the ring of `struct io_uring_buf` entries (page-aligned anonymous
//! memory, or memory the kernel allocates and we map) and the buffers themselves. It
//! registers itself for a buffer group, hands a buffer out after the completion that
//! filled it ([`BufRing::get`]), and puts it back at the ring's tail when the
//! [`BorrowedBuf`] is dropped.
//!
//! # Memory ordering
//!
//! The application produces entries and advances the ring's 16-bit tail; the kernel
//! consumes them and advances its head, which it keeps to itself (readable with
//! [`Submitter::buf_ring_head`]). An entry is written with plain stores, then the tail
//! is published with a `Release` store. That store pairs with the kernel's
//! `smp_load_acquire(&br->tail)` in `io_ring_buffer_select()` and
//! `io_ring_buffers_peek()` (`io_uring/kbuf.c`): a kernel that sees the new tail sees
//! the entry's `addr`, `len` and `bid`. Without it, the kernel could read a stale
//! address and write into a buffer still handed out.
//!
//! A buffer goes back to the ring only after the kernel is done with it: its CQE was
//! posted after the kernel advanced its head past the entry (`io_kbuf_commit()`), and
//! that CQE reached us through the CQ tail's acquire load. So the slot we refill is
//! never one the kernel may still read.
//!
//! This module also re-exports the argument types of the registration functions
//! (`register.rs`) until the crate root does.
use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU16, Ordering};

use uring_sys as sys;

use crate::mmap::{Mmap, page_size};
use crate::submit::{Driver, RingFd, RingId};
use crate::{Cqe, Ring, Submitter};

/// Size of one `struct io_uring_buf`.
const ENTRY: usize = size_of::<sys::io_uring_buf>();
/// Offset of the shared tail in the ring: it overlays `bufs[0].resv`.
const TAIL_OFFSET: usize = 14;

const _: () = assert!(ENTRY == 16);
const _: () = assert!(std::mem::offset_of!(sys::io_uring_buf_ring, tail) == TAIL_OFFSET);

/// The bookkeeping of one buffer.
#[derive(Debug, Default)]
struct Slot {
    /// Borrows handed out and not dropped.
    borrows: Cell<u16>,
    /// The kernel gave the buffer back for good (not `IORING_CQE_F_BUF_MORE`), so it
    /// returns to the ring when the last borrow goes.
    returned: Cell<bool>,
    /// With incremental consumption: bytes the kernel already filled.
    consumed: Cell<u32>,
}

/// Options of a [`BufRing`]; see [`BufRing::builder`].
#[derive(Debug, Clone, Copy)]
pub struct BufRingBuilder {
    bgid: u16,
    entries: u16,
    buf_len: u32,
    flags: u16,
}

impl BufRingBuilder {
    /// Incremental consumption (`IOU_PBUF_RING_INC`): the kernel fills a buffer a piece
    /// at a time, posting `IORING_CQE_F_BUF_MORE` while the buffer still has room.
    pub fn incremental(mut self) -> Self {
        self.flags |= sys::IOU_PBUF_RING_INC;
        self
    }

    /// Allocates the buffers and the ring in anonymous memory and registers them on
    /// the ring of `submitter`.
    ///
    /// # Errors
    /// `InvalidInput` if `entries` is not a power of two or `buf_len` is 0; the
    /// kernel's errno of [`Submitter::register_buf_ring`] (`EEXIST` if the group
    /// exists, `EINVAL` for `INC` before 6.12); `ENOMEM` from mmap.
    pub fn build(self, submitter: &Submitter<'_>) -> io::Result<BufRing> {
        self.check()?;
        let ring = Mmap::anonymous(round_up(self.entries as usize * ENTRY))?;
        let reg = sys::io_uring_buf_reg {
            ring_addr: ring.as_ptr() as u64,
            ring_entries: self.entries.into(),
            bgid: self.bgid,
            flags: self.flags,
            resv: [0; 3],
        };
        let buf_ring = self.assemble(ring, submitter.ring_id())?;
        // SAFETY: the ring is page-aligned, entries × 16 bytes, and lives in the
        // returned BufRing; every buffer published (all of them, by `assemble`) lies in
        // its `bufs` mapping. BufRing's contract (see its docs) keeps both valid while
        // requests may pick from the group.
        unsafe { submitter.register_buf_ring(&reg) }?;
        Ok(buf_ring)
    }

    /// Has the kernel allocate the ring (`IOU_PBUF_RING_MMAP`), maps it from the ring
    /// fd at `IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT`, and registers it.
    /// The buffers are still ours.
    ///
    /// On the engine backend the engine allocates the ring and maps it for us the
    /// same way (a mapping of its pages that we own).
    ///
    /// # Errors
    /// `Unsupported` for a ring without an fd (`REGISTERED_FD_ONLY`), and the errors of
    /// [`build`](Self::build).
    pub fn build_mapped(mut self, ring: &Ring) -> io::Result<BufRing> {
        self.check()?;
        let kernel = match &ring.backend {
            Driver::Kernel(k) => k,
            Driver::Engine(engine) => {
                if ring.fd().is_none() {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "a REGISTERED_FD_ONLY ring has no fd to map a buffer ring from",
                    ));
                }
                return self.build_engine_mapped(ring, engine);
            }
        };
        let fd = match &kernel.fd {
            RingFd::Owned(fd) => {
                use std::os::fd::AsFd;
                fd.as_fd()
            }
            RingFd::Registered(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "a REGISTERED_FD_ONLY ring has no fd to map a buffer ring from",
                ));
            }
        };
        self.flags |= sys::IOU_PBUF_RING_MMAP;
        let reg = sys::io_uring_buf_reg {
            ring_addr: 0,
            ring_entries: self.entries.into(),
            bgid: self.bgid,
            flags: self.flags,
            resv: [0; 3],
        };
        let submitter = ring.submitter();
        // SAFETY: with IOU_PBUF_RING_MMAP the kernel allocates the ring; the buffers
        // we publish below come from our own mapping, kept alive by the BufRing.
        unsafe { submitter.register_buf_ring(&reg) }?;
        let mapped = map_kernel_ring(fd, self.bgid, self.entries)
            .and_then(|m| self.assemble(m, submitter.ring_id()));
        match mapped {
            Ok(b) => Ok(b),
            Err(e) => {
                // Nothing was published (an empty kernel ring): unregistering is clean.
                let _ = submitter.unregister_buf_ring(self.bgid);
                Err(e)
            }
        }
    }

    /// [`build_mapped`](Self::build_mapped) on the engine: registered with
    /// `IOU_PBUF_RING_MMAP`, then mapped through [`uring_engine::EngineRing::mmap`].
    fn build_engine_mapped(
        mut self,
        ring: &Ring,
        engine: &uring_engine::EngineRing,
    ) -> io::Result<BufRing> {
        self.flags |= sys::IOU_PBUF_RING_MMAP;
        let reg = sys::io_uring_buf_reg {
            ring_addr: 0,
            ring_entries: self.entries.into(),
            bgid: self.bgid,
            flags: self.flags,
            resv: [0; 3],
        };
        let submitter = ring.submitter();
        // SAFETY: with IOU_PBUF_RING_MMAP the engine allocates the ring; the buffers
        // we publish below come from our own mapping, kept alive by the BufRing.
        unsafe { submitter.register_buf_ring(&reg) }?;
        let offset =
            sys::IORING_OFF_PBUF_RING | (u64::from(self.bgid) << sys::IORING_OFF_PBUF_SHIFT);
        let mapped = engine
            .mmap(offset)
            .and_then(|(ptr, len)| {
                // SAFETY: for a PBUF_RING offset the engine returns a fresh mapping of
                // the ring's pages that the caller owns (EngineRing::mmap's contract).
                unsafe { Mmap::from_raw(ptr, len) }
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
            })
            .and_then(|m| self.assemble(m, submitter.ring_id()));
        match mapped {
            Ok(b) => Ok(b),
            Err(e) => {
                let _ = submitter.unregister_buf_ring(self.bgid);
                Err(e)
            }
        }
    }

    fn check(&self) -> io::Result<()> {
        if !self.entries.is_power_of_two() || self.buf_len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "entries must be a power of two and buf_len non-zero",
            ));
        }
        Ok(())
    }

    /// Allocates the buffers around the ring memory `ring` and publishes all of them,
    /// for the group registered on the ring `owner`.
    fn assemble(self, ring: Mmap, owner: RingId) -> io::Result<BufRing> {
        let total = (self.entries as usize)
            .checked_mul(self.buf_len as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "buffers too large"))?;
        let bufs = Mmap::anonymous(round_up(total))?;
        let br = BufRing {
            ring,
            bufs,
            owner,
            bgid: self.bgid,
            mask: self.entries - 1,
            entries: self.entries,
            buf_len: self.buf_len,
            incremental: self.flags & sys::IOU_PBUF_RING_INC != 0,
            tail: Cell::new(0),
            slots: (0..self.entries).map(|_| Slot::default()).collect(),
            _not_sync: PhantomData,
        };
        for bid in 0..self.entries {
            br.write_entry(bid);
        }
        br.publish();
        Ok(br)
    }
}

fn round_up(n: usize) -> usize {
    n.max(1).div_ceil(page_size()) * page_size()
}

fn map_kernel_ring(fd: BorrowedFd<'_>, bgid: u16, entries: u16) -> io::Result<Mmap> {
    let offset = sys::IORING_OFF_PBUF_RING | (u64::from(bgid) << sys::IORING_OFF_PBUF_SHIFT);
    Mmap::map_ring(fd, offset, entries as usize * ENTRY)
}

/// A provided-buffer ring that owns its buffers: `entries` buffers of `buf_len`
/// bytes, buffer id `i` at offset `i × buf_len`, registered for buffer group `bgid`.
///
/// Requests pick from it with `IOSQE_BUFFER_SELECT` and `buf_group` = [`bgid`](Self::bgid);
/// their CQE carries the buffer id ([`Cqe::buffer_id`]); [`get`](Self::get) turns the
/// CQE into a [`BorrowedBuf`], which puts the buffer back in the ring when dropped.
///
/// # Lifetime
///
/// The `BufRing` does not borrow the ring, so that both can live side by side. Its
/// registration outlives neither: unregister it with
/// [`unregister`](Self::unregister) on the ring it was registered on (it knows that
/// ring and refuses any other), or close the ring. Dropping a `BufRing` frees its memory without unregistering (it has no ring
/// to do it with); the group then stays registered until the ring closes, and any
/// SQE that still selects from it names freed memory — which breaks the contract of
/// [`SubmissionQueue::push`](crate::SubmissionQueue::push). Likewise, an SQE that
/// selects from the group must complete (its last CQE, without `IORING_CQE_F_MORE`,
/// must arrive) before the `BufRing` is dropped: that is the push contract for the
/// buffers it may write into.
///
/// Bundles (`IORING_RECVSEND_BUNDLE`, several buffers per CQE) are not handled by
/// [`get`](Self::get).
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use uring::buf_ring::BufRing;
/// use uring::{opcode, types::Fd, Ring, SqeFlags};
/// let mut ring = Ring::new(8)?;
/// let bufs = BufRing::new(&ring.submitter(), 7, 4, 4096)?;
/// let read = opcode::Read::new(Fd(0), std::ptr::null_mut(), 4096)
///     .buf_group(bufs.bgid())
///     .build()
///     .flags(SqeFlags::BUFFER_SELECT);
/// // SAFETY: the read picks a buffer of `bufs`, which outlives its completion.
/// unsafe { ring.submission().push(&read) }.expect("SQ full");
/// ring.submit_and_wait(1)?;
/// let cqe = ring.completion().next().expect("a completion");
/// // SAFETY: `cqe` completes a request of this ring that selected from `bufs`' group.
/// if let Some(buf) = unsafe { bufs.get(&cqe) } {
///     println!("read {:?}", &buf[..]);
/// } // dropped: the buffer goes back to the ring
/// bufs.unregister(&ring.submitter())?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BufRing {
    // Field order is drop order; neither mapping is used by Drop.
    ring: Mmap,
    bufs: Mmap,
    /// The ring the group is registered on: the only one allowed to unregister it.
    owner: RingId,
    bgid: u16,
    mask: u16,
    entries: u16,
    buf_len: u32,
    incremental: bool,
    /// Our producer index: the next position to fill. Published to the shared tail.
    tail: Cell<u16>,
    slots: Box<[Slot]>,
    /// `Cell`s make it `!Sync` anyway; said out loud: one producer at a time.
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: the mappings are owned, and the kernel's accesses to them are synchronised
// by the tail protocol (module docs), not by the thread we run on; the bookkeeping is
// plain data moving with the value. Not Sync: `tail` and `slots` are Cells.
unsafe impl Send for BufRing {}

impl BufRing {
    /// `entries` buffers of `buf_len` bytes in anonymous memory, registered for the
    /// buffer group `bgid` on the ring of `submitter`. `entries` must be a power of two
    /// (at most 32768).
    ///
    /// Maps to liburing's `io_uring_setup_buf_ring`.
    ///
    /// # Errors
    /// As [`BufRingBuilder::build`].
    pub fn new(
        submitter: &Submitter<'_>,
        bgid: u16,
        entries: u16,
        buf_len: u32,
    ) -> io::Result<BufRing> {
        Self::builder(bgid, entries, buf_len).build(submitter)
    }

    /// A builder, for incremental consumption or a kernel-allocated ring.
    pub fn builder(bgid: u16, entries: u16, buf_len: u32) -> BufRingBuilder {
        BufRingBuilder {
            bgid,
            entries,
            buf_len,
            flags: 0,
        }
    }

    /// The buffer group id, for the SQE's `buf_group`.
    pub fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Number of buffers (and ring entries).
    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// Size of each buffer.
    pub fn buf_len(&self) -> u32 {
        self.buf_len
    }

    /// Whether the ring consumes buffers incrementally (`IOU_PBUF_RING_INC`).
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// The buffer the completion `cqe` filled: its `result()` bytes, from where the
    /// kernel started writing. `None` if the CQE carries no buffer
    /// (`IORING_CQE_F_BUFFER` unset), names a buffer id out of range, one still handed
    /// out (non-incremental), or a length that does not fit.
    ///
    /// With incremental consumption, a CQE flagged `IORING_CQE_F_BUF_MORE` yields the
    /// piece just filled while the kernel keeps the rest of the buffer; the buffer goes
    /// back to the ring once the final piece's CQE has been taken and every piece
    /// dropped.
    ///
    /// # Safety
    /// `cqe` must be a completion the kernel posted, on the ring this `BufRing` is
    /// registered with, for a request that selected a buffer from this group, and must
    /// not have been passed to `get` before. (A CQE does not say which group its buffer
    /// came from, and [`Cqe::new`] can make any CQE: handing out a buffer the kernel may
    /// still pick and write into would be a data race.)
    pub unsafe fn get(&self, cqe: &Cqe) -> Option<BorrowedBuf<'_>> {
        let bid = cqe.buffer_id()?;
        let slot = self.slots.get(bid as usize)?;
        let len = u32::try_from(cqe.result()).unwrap_or(0);
        let more = self.incremental && cqe.flags() & sys::IORING_CQE_F_BUF_MORE != 0;
        let start = if self.incremental {
            slot.consumed.get()
        } else {
            0
        };
        if slot.returned.get() || (!self.incremental && slot.borrows.get() != 0) {
            return None;
        }
        if start.checked_add(len)? > self.buf_len {
            return None;
        }
        if more {
            slot.consumed.set(start + len);
        } else {
            slot.returned.set(true);
        }
        slot.borrows.set(slot.borrows.get() + 1);
        // SAFETY: bid < entries, so the buffer and the piece [start, start + len),
        // which fits in buf_len, lie inside the `bufs` mapping.
        let ptr = unsafe {
            self.bufs
                .as_ptr()
                .add(bid as usize * self.buf_len as usize + start as usize)
        };
        Some(BorrowedBuf {
            ring: self,
            bid,
            ptr,
            len: len as usize,
        })
    }

    /// Unregisters the group from the ring of `submitter`, which must be the ring it
    /// was registered on, and frees the memory.
    ///
    /// Maps to liburing's `io_uring_free_buf_ring`.
    ///
    /// # Errors
    /// `InvalidInput` if `submitter` belongs to another ring (which may have a group
    /// of the same id: unregistering that one would free memory this ring still hands
    /// out); the kernel's errno (`ENOENT` if the group is not registered). On error the
    /// memory is leaked rather than freed, since the ring it is registered on may still
    /// pick buffers from it.
    pub fn unregister(self, submitter: &Submitter<'_>) -> io::Result<()> {
        if submitter.ring_id() != self.owner {
            std::mem::forget(self);
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BufRing::unregister: the submitter is of another ring than the one the \
                 group is registered on (the buffers are leaked, not freed)",
            ));
        }
        match submitter.unregister_buf_ring(self.bgid) {
            Ok(()) => Ok(()),
            Err(e) => {
                std::mem::forget(self);
                Err(e)
            }
        }
    }

    /// Writes the entry for buffer `bid` at our tail and advances our (private) tail.
    /// The kernel sees it at the next [`publish`](Self::publish).
    fn write_entry(&self, bid: u16) {
        let tail = self.tail.get();
        let index = (tail & self.mask) as usize;
        let addr = self.bufs.as_ptr() as u64 + u64::from(bid) * u64::from(self.buf_len);
        // SAFETY: index < entries, so the entry is inside the ring mapping (entries ×
        // 16 bytes, 16-byte aligned as the mapping is page-aligned). The kernel does
        // not read this slot: either the ring is being filled and nothing is published
        // yet, or `bid` came back through a CQE (`get`'s contract), so the kernel's
        // head is past it, at most `entries - 1` buffers are in the ring, and
        // `tail & mask` lies outside [head, tail). Fields are written one by one so
        // that entry 0's `resv`, which is the shared tail, is not overwritten.
        unsafe {
            let e = self
                .ring
                .as_ptr()
                .add(index * ENTRY)
                .cast::<sys::io_uring_buf>();
            (&raw mut (*e).addr).write(addr);
            (&raw mut (*e).len).write(self.buf_len);
            (&raw mut (*e).bid).write(bid);
        }
        self.tail.set(tail.wrapping_add(1));
    }

    /// Publishes the entries written so far: `Release` store of the shared tail,
    /// pairing with the kernel's `smp_load_acquire(&br->tail)` in
    /// `io_ring_buffer_select()` / `io_ring_buffers_peek()`, so the entry stores are
    /// visible before the kernel can use them.
    fn publish(&self) {
        // SAFETY: the tail is a naturally aligned u16 at offset 14 of the page-aligned
        // ring mapping, shared with the kernel, which only reads it.
        let tail = unsafe { &*self.ring.as_ptr().add(TAIL_OFFSET).cast::<AtomicU16>() };
        tail.store(self.tail.get(), Ordering::Release);
    }

    /// Puts buffer `bid` back at the ring's tail.
    fn recycle(&self, bid: u16) {
        let slot = &self.slots[bid as usize];
        slot.returned.set(false);
        slot.consumed.set(0);
        self.write_entry(bid);
        self.publish();
    }
}

/// A buffer of a [`BufRing`] that a completion filled; dereferences to the bytes the
/// kernel wrote. Dropping it puts the buffer back in the ring (with incremental
/// consumption, once the kernel has finished with the whole buffer).
#[derive(Debug)]
pub struct BorrowedBuf<'a> {
    ring: &'a BufRing,
    bid: u16,
    ptr: *mut u8,
    len: usize,
}

impl BorrowedBuf<'_> {
    /// The buffer id.
    pub fn bid(&self) -> u16 {
        self.bid
    }
}

impl Deref for BorrowedBuf<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is inside the BufRing's buffer mapping (checked in
        // `get`), which outlives 'a; the kernel wrote it before posting the CQE we got
        // it from (seen through the CQ tail's acquire load) and does not write it again
        // until the buffer is recycled, after this borrow ends. Incremental pieces of
        // one buffer are disjoint.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for BorrowedBuf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; no other borrow covers these bytes (one BorrowedBuf
        // per piece, `get` refuses to hand a buffer out twice).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for BorrowedBuf<'_> {
    fn drop(&mut self) {
        let slot = &self.ring.slots[self.bid as usize];
        let left = slot.borrows.get() - 1;
        slot.borrows.set(left);
        if left == 0 && slot.returned.get() {
            self.ring.recycle(self.bid);
        }
    }
}
