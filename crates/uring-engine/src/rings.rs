//! The engine's side of the ring protocol: it consumes the SQ (the application
//! produces) and produces the CQ (the application consumes), with the barriers the
//! kernel uses, so the application's code cannot tell the two apart.
//!
//! The pairs, as `io_uring/io_uring.c`'s header comment states them for the kernel:
//! - SQ tail: we load it with `Acquire`, pairing with the application's `Release`
//!   store of the tail after writing the SQEs (liburing's `io_uring_smp_store_release`
//!   in `__io_uring_flush_sq`), so the SQE bytes are visible before we copy them.
//! - SQ head: we store it with `Release` after copying the SQEs out, pairing with the
//!   application's `Acquire` load of the head before it reuses those slots.
//! - CQ tail: we store it with `Release` after writing the CQEs, pairing with the
//!   application's `Acquire` load of the tail before it reads them.
//! - CQ head: we load it with `Acquire`, pairing with the application's `Release` store
//!   of the head once it is done reading the CQEs it frees.
use std::sync::atomic::{AtomicU32, Ordering};

use uring_sys as sys;

use crate::mem::RingMemory;

/// Pointers into one engine ring's memory.
#[derive(Debug)]
pub(crate) struct Rings {
    base: *mut u8,
    sqes: *mut u8,
    array: *mut u32,
    pub(crate) sq_entries: u32,
    pub(crate) cq_entries: u32,
    sqe_size: usize,
    cqe_size: usize,
    /// `IORING_SETUP_CQE_MIXED`: 16-byte slots, 32-byte entries take two.
    mixed: bool,
}

// SAFETY: the pointers refer to the ring memory owned next to this value for as long
// as it lives; shared words are atomics, CQE slots are written only by the single
// producer holding the completion lock, SQE slots only read by the submitting caller.
unsafe impl Send for Rings {}
// SAFETY: as above.
unsafe impl Sync for Rings {}

/// A completion to post: the 16-byte CQE and, for 32-byte CQEs, the extra 16 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Completion {
    /// `user_data` of the SQE.
    pub user_data: u64,
    /// The result, or `-errno`.
    pub res: i32,
    /// `IORING_CQE_F_*`.
    pub flags: u32,
    /// The second half of a 32-byte CQE (`IORING_SETUP_CQE32`, or `IORING_CQE_F_32`
    /// on a mixed ring).
    pub big: [u64; 2],
}

impl Rings {
    /// # Safety
    /// `mem` must outlive the returned value and not be accessed otherwise except by
    /// the application through the ring protocol.
    pub(crate) unsafe fn new(mem: &RingMemory, setup_flags: u32) -> Rings {
        let base = mem.rings.as_ptr();
        Rings {
            base,
            sqes: mem.sqes.as_ptr(),
            // SAFETY: the array offset lies inside the rings region when it has one.
            array: unsafe { base.add(mem.array_offset()).cast() },
            sq_entries: mem.sq_entries,
            cq_entries: mem.cq_entries,
            sqe_size: mem.sqe_size,
            cqe_size: mem.cqe_size,
            mixed: setup_flags & sys::IORING_SETUP_CQE_MIXED != 0,
        }
        .with_array(mem.has_array)
    }

    fn with_array(mut self, has: bool) -> Self {
        if !has {
            self.array = std::ptr::null_mut();
        }
        self
    }

    #[inline]
    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is one of RingMemory's field offsets, 4-aligned, inside the
        // region, which lives as long as `self` (construction contract).
        unsafe { &*self.base.add(off).cast::<AtomicU32>() }
    }

    /// The SQ tail, `Acquire`: pairs with the application's `Release` store of it.
    #[inline]
    pub(crate) fn sq_tail(&self) -> u32 {
        self.word(RingMemory::SQ_TAIL).load(Ordering::Acquire)
    }

    /// The SQ head: only we store it, so `Relaxed` reads our own last store.
    #[inline]
    pub(crate) fn sq_head(&self) -> u32 {
        self.word(RingMemory::SQ_HEAD).load(Ordering::Relaxed)
    }

    /// Publishes the SQ head, `Release`: the slots up to it are copied out, pairing
    /// with the application's `Acquire` load before it reuses them.
    #[inline]
    pub(crate) fn set_sq_head(&self, head: u32) {
        self.word(RingMemory::SQ_HEAD)
            .store(head, Ordering::Release);
    }

    /// Copies the SQE at SQ position `pos` out of the ring; `None` when the index
    /// array names a slot out of range (the kernel counts it in `sq.dropped`).
    ///
    /// The copy is taken before the head moves past `pos`, so the application
    /// cannot overwrite it meanwhile (the `Acquire` of the tail made its bytes ours).
    #[inline]
    pub(crate) fn sqe(&self, pos: u32, out: &mut sys::io_uring_sqe, ext: &mut [u8; 64]) -> bool {
        let mask = self.sq_entries - 1;
        let index = if self.array.is_null() {
            pos & mask
        } else {
            // SAFETY: the array has sq_entries slots; `pos & mask` is in range. The
            // application wrote it before its Release store of the tail.
            let i = unsafe { self.array.add((pos & mask) as usize).read_volatile() };
            if i >= self.sq_entries {
                self.word(RingMemory::SQ_DROPPED)
                    .fetch_add(1, Ordering::Relaxed);
                return false;
            }
            i
        };
        // SAFETY: `index < sq_entries`, so the slot is inside the SQE region; the
        // bytes were published by the tail's Release store, acquired in `sq_tail`.
        unsafe {
            let src = self.sqes.add(index as usize * self.sqe_size);
            *out = src.cast::<sys::io_uring_sqe>().read_volatile();
            if self.sqe_size == 128 {
                std::ptr::copy_nonoverlapping(src.add(64), ext.as_mut_ptr(), 64);
            }
        }
        true
    }

    /// The SQ flags word (`IORING_SQ_*`).
    #[inline]
    pub(crate) fn sq_flags(&self) -> &AtomicU32 {
        self.word(RingMemory::SQ_FLAGS)
    }

    /// Counts a CQE dropped for want of room (`cq_overflow`, which the kernel bumps
    /// with `WRITE_ONCE` under the completion lock, as this is under ours). Relaxed: a
    /// statistic the application reads when told of the loss (`-EBADR`).
    pub(crate) fn count_dropped_cqe(&self) {
        self.word(RingMemory::CQ_OVERFLOW)
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The CQ flags word (`IORING_CQ_*`), written by the application.
    #[inline]
    pub(crate) fn cq_flags(&self) -> u32 {
        self.word(RingMemory::CQ_FLAGS).load(Ordering::Relaxed)
    }

    /// The CQ head, `Acquire`: pairs with the application's `Release` store after it
    /// read the CQEs it frees, so we may overwrite them.
    #[inline]
    pub(crate) fn cq_head(&self) -> u32 {
        self.word(RingMemory::CQ_HEAD).load(Ordering::Acquire)
    }

    /// The CQ tail: only the producer (holding the completion lock) stores it.
    #[inline]
    pub(crate) fn cq_tail(&self) -> u32 {
        self.word(RingMemory::CQ_TAIL).load(Ordering::Relaxed)
    }

    /// Publishes the CQ tail, `Release`: pairs with the application's `Acquire` load
    /// of the tail before it reads the CQEs.
    #[inline]
    pub(crate) fn set_cq_tail(&self, tail: u32) {
        self.word(RingMemory::CQ_TAIL)
            .store(tail, Ordering::Release);
    }

    /// CQ slots in use (each 16 bytes on a mixed ring).
    #[inline]
    pub(crate) fn cq_used(&self) -> u32 {
        self.cq_tail().wrapping_sub(self.cq_head())
    }

    /// Writes `c` at `tail` if it fits; returns the new tail (not yet published).
    ///
    /// Must be called by the single producer (under the completion lock).
    pub(crate) fn write_cqe(&self, tail: u32, head: u32, c: &Completion) -> Option<u32> {
        let used = tail.wrapping_sub(head);
        let free = self.cq_entries - used;
        let mask = self.cq_entries - 1;
        let big = c.flags & sys::IORING_CQE_F_32 != 0;
        if self.mixed && big {
            // A 32-byte entry takes two slots and may not wrap: pad the last slot
            // with a skip entry first, as the kernel does.
            let at_end = (tail & mask) == mask;
            let need = if at_end { 3 } else { 2 };
            if free < need {
                return None;
            }
            let mut t = tail;
            if at_end {
                self.store(
                    t,
                    &Completion {
                        user_data: 0,
                        res: 0,
                        flags: sys::IORING_CQE_F_SKIP,
                        big: [0; 2],
                    },
                    false,
                );
                t = t.wrapping_add(1);
            }
            self.store(t, c, true);
            return Some(t.wrapping_add(2));
        }
        if free == 0 {
            return None;
        }
        self.store(tail, c, self.cqe_size == 32);
        Some(tail.wrapping_add(1))
    }

    fn store(&self, pos: u32, c: &Completion, big: bool) {
        let mask = self.cq_entries - 1;
        let slot = if self.mixed { 16 } else { self.cqe_size };
        // SAFETY: `pos & mask` indexes a slot inside the CQE array; a big entry on a
        // mixed ring never starts at the last slot (checked by the caller), on a CQE32
        // ring each slot is 32 bytes. The slot is free: the application's head is past it.
        unsafe {
            let p = self
                .base
                .add(RingMemory::CQES + (pos & mask) as usize * slot)
                .cast::<u64>();
            p.write(c.user_data);
            p.add(1).cast::<i32>().write(c.res);
            p.add(1).cast::<u32>().add(1).write(c.flags);
            if big {
                p.add(2).write(c.big[0]);
                p.add(3).write(c.big[1]);
            }
        }
    }

    /// Sets bits in the SQ flags; `Release` so that what led to them (an overflow
    /// entry, task work) is visible to whoever acts on them.
    pub(crate) fn set_sq_flag(&self, bit: u32) {
        if self.sq_flags().load(Ordering::Relaxed) & bit == 0 {
            self.sq_flags().fetch_or(bit, Ordering::Release);
        }
    }

    /// Clears bits in the SQ flags.
    pub(crate) fn clear_sq_flag(&self, bit: u32) {
        if self.sq_flags().load(Ordering::Relaxed) & bit != 0 {
            self.sq_flags().fetch_and(!bit, Ordering::Release);
        }
    }
}
