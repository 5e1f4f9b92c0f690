//! The submission queue: the application produces SQEs and advances the tail; the
//! kernel (or its SQ poll thread) consumes them and advances the head.
//!
//! Memory ordering, as the kernel's `io_uring/io_uring.c` header comment states it:
//! the application must order its SQE stores before the tail store (we store the tail
//! with `Release`, pairing with the kernel's `smp_load_acquire(&rings->sq.tail)` in
//! `io_sqring_entries()`), and order its load of the head before overwriting the SQEs
//! the head frees (we load the head with `Acquire`, pairing with the kernel's
//! `smp_store_release(&rings->sq.head)` in `io_commit_sqring()`). With SQPOLL, the
//! check of `IORING_SQ_NEED_WAKEUP` after the tail store needs a full barrier (see
//! [`SqInner::need_wakeup`]).
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use uring_sys as sys;

use crate::Sqe;

/// Pointers into the shared SQ ring, fixed for the life of the ring.
#[derive(Debug)]
pub(crate) struct SqInner {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    flags: *const AtomicU32,
    dropped: *const AtomicU32,
    pub(crate) ring_mask: u32,
    pub(crate) ring_entries: u32,
    sqes: *mut u8,
    /// log2 of the SQE size: 6 (64 bytes) or 7 (`SQE128`).
    sqe_shift: u32,
    /// `IORING_SETUP_SQPOLL`: a kernel thread consumes the SQ at any time.
    sqpoll: bool,
}

// SAFETY: the pointers refer to ring memory owned by the Ring alongside this value;
// shared fields are only touched through atomics, and SQE slots only through
// `&mut SubmissionQueue`, so moving or sharing the view across threads is sound.
unsafe impl Send for SqInner {}
// SAFETY: as above.
unsafe impl Sync for SqInner {}

impl SqInner {
    /// # Safety
    /// `base` must point to an SQ ring and `sqes` to an SQE array laid out as `p`
    /// describes, valid for as long as the returned value is used.
    pub(crate) unsafe fn new(base: *mut u8, sqes: *mut u8, p: &sys::io_uring_params) -> Self {
        let off = &p.sq_off;
        // SAFETY: the offsets come from the kernel for this very memory (caller's
        // contract), so every pointer below is in bounds and suitably aligned.
        unsafe {
            let at = |o: u32| base.add(o as usize);
            let sq = SqInner {
                head: at(off.head).cast(),
                tail: at(off.tail).cast(),
                flags: at(off.flags).cast(),
                dropped: at(off.dropped).cast(),
                ring_mask: *at(off.ring_mask).cast::<u32>(),
                ring_entries: *at(off.ring_entries).cast::<u32>(),
                sqes,
                sqe_shift: if p.flags & sys::IORING_SETUP_SQE128 != 0 {
                    7
                } else {
                    6
                },
                sqpoll: p.flags & sys::IORING_SETUP_SQPOLL != 0,
            };
            if p.flags & sys::IORING_SETUP_NO_SQARRAY == 0 {
                // The index array is the identity, written once, as liburing does:
                // slot `tail & mask` always holds the SQE of the same index.
                let array = at(off.array).cast::<u32>();
                for i in 0..sq.ring_entries {
                    array.add(i as usize).write(i);
                }
            }
            sq
        }
    }

    /// The shared head, loaded with `Acquire`: pairs with the kernel's
    /// `smp_store_release(&rings->sq.head)`, so the SQEs it frees are ours to overwrite.
    #[inline]
    pub(crate) fn head(&self) -> u32 {
        // SAFETY: `head` points into live ring memory (construction contract).
        unsafe { (*self.head).load(Ordering::Acquire) }
    }

    /// The shared tail. Only the application writes it, so a relaxed load reads back
    /// our own last store.
    #[inline]
    pub(crate) fn tail(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.tail).load(Ordering::Relaxed) }
    }

    /// Publishes `tail` with `Release`: orders our SQE stores before it, pairing with
    /// the kernel's `smp_load_acquire(&rings->sq.tail)`.
    #[inline]
    pub(crate) fn set_tail(&self, tail: u32) {
        // SAFETY: as for `head`.
        unsafe { (*self.tail).store(tail, Ordering::Release) }
    }

    /// SQEs published (tail stored) and not yet consumed by the kernel.
    #[inline]
    pub(crate) fn pending(&self) -> u32 {
        self.tail().wrapping_sub(self.head())
    }

    /// The SQ flags (`IORING_SQ_*`). Relaxed: the flags are hints that a following
    /// `io_uring_enter` re-checks in the kernel.
    #[inline]
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.flags).load(Ordering::Relaxed) }
    }

    /// Whether the SQ poll thread sleeps and must be woken.
    ///
    /// The full fence orders our earlier tail store before this flags load. It pairs
    /// with the `smp_mb__after_atomic()` in the kernel's `io_sq_thread()` between
    /// setting `IORING_SQ_NEED_WAKEUP` and re-reading the tail: either the thread sees
    /// our new tail and keeps going, or we see its flag and wake it. Without it, both
    /// could miss each other and the SQEs would sit until the next submission.
    #[inline]
    pub(crate) fn need_wakeup(&self) -> bool {
        fence(Ordering::SeqCst);
        self.flags() & sys::IORING_SQ_NEED_WAKEUP != 0
    }

    /// Number of SQEs the kernel dropped as invalid.
    pub(crate) fn dropped(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.dropped).load(Ordering::Relaxed) }
    }
}

/// The submission queue of a ring, borrowed: push SQEs, then [`sync`](Self::sync) (or
/// drop) to make them visible, then submit with the [`Submitter`](crate::Submitter).
///
/// Holds a local copy of the tail and of the kernel's head (as the tail at which the
/// SQ is full); the shared tail is written only on sync, and the shared head is loaded
/// only when the SQ looks full (or asked how full it is), so a push touches no shared
/// cache line but its SQE slot. The ring's geometry is copied in too, so that the
/// compiler keeps it in registers across a batch of pushes.
pub struct SubmissionQueue<'a> {
    /// The tail at which the SQ is full: the kernel's head as last loaded, plus the
    /// entries. A push compares its tail with this and nothing else.
    limit: u32,
    tail: u32,
    mask: u32,
    entries: u32,
    sqes: *mut u8,
    /// log2 of the SQE size: 6 or 7 (`SQE128`).
    sqe_shift: u32,
    inner: &'a SqInner,
}

/// The SQ has no free entry: submit (or wait for the SQ poll thread) and retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushError;

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("submission queue is full")
    }
}

impl std::error::Error for PushError {}

impl<'a> SubmissionQueue<'a> {
    pub(crate) fn new(inner: &'a SqInner) -> Self {
        SubmissionQueue {
            limit: inner.head().wrapping_add(inner.ring_entries),
            tail: inner.tail(),
            mask: inner.ring_mask,
            entries: inner.ring_entries,
            sqes: inner.sqes,
            sqe_shift: inner.sqe_shift,
            inner,
        }
    }

    /// Publishes the pushed SQEs to the kernel: one store of the tail, with `Release`.
    /// Like liburing's `__io_uring_flush_sq`.
    ///
    /// The kernel's head is not loaded here: a push loads it when the SQ looks full,
    /// [`len`](Self::len) and the like when asked.
    #[inline]
    pub fn sync(&mut self) {
        self.inner.set_tail(self.tail);
    }

    /// Total entries in the SQ.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.entries as usize
    }

    /// Entries pushed and not yet consumed by the kernel (pushed since the last sync
    /// included), loading the kernel's head.
    #[inline]
    pub fn len(&self) -> usize {
        self.tail.wrapping_sub(self.inner.head()) as usize
    }

    /// Whether no entry is waiting, loading the kernel's head.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no entry is free, loading the kernel's head.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Free entries, loading the kernel's head.
    #[inline]
    pub fn space_left(&mut self) -> usize {
        self.limit = self.inner.head().wrapping_add(self.entries);
        self.limit.wrapping_sub(self.tail) as usize
    }

    /// Whether the SQ poll thread sleeps and needs a wake-up
    /// (`IORING_SQ_NEED_WAKEUP`); always false without SQPOLL.
    pub fn need_wakeup(&self) -> bool {
        self.inner.need_wakeup()
    }

    /// Whether completions overflowed the CQ and wait in the kernel
    /// (`IORING_SQ_CQ_OVERFLOW`): entering the kernel flushes them.
    pub fn cq_overflow(&self) -> bool {
        self.inner.flags() & sys::IORING_SQ_CQ_OVERFLOW != 0
    }

    /// Whether task work waits to run (`IORING_SQ_TASKRUN`, with `TASKRUN_FLAG`).
    pub fn taskrun(&self) -> bool {
        self.inner.flags() & sys::IORING_SQ_TASKRUN != 0
    }

    /// Number of invalid SQEs the kernel dropped.
    pub fn dropped(&self) -> u32 {
        self.inner.dropped()
    }

    /// Writes `sqe` into the next free slot; it reaches the kernel at the next sync and
    /// submit.
    ///
    /// On an `SQE128` ring the second half of the slot is zeroed.
    ///
    /// # Errors
    /// [`PushError`] if the SQ is full; nothing is written then.
    ///
    /// # Safety
    /// Every buffer, fd and pointer the SQE names must stay valid until its completion
    /// arrives (or, with `IORING_FEAT_SUBMIT_STABLE`, for pointers read at submission,
    /// until the submit call returns).
    #[inline]
    pub unsafe fn push(&mut self, sqe: &Sqe) -> Result<(), PushError> {
        // SAFETY: the caller's contract is push_with's.
        unsafe { self.push_with(|slot| *slot = *sqe) }
    }

    /// Fills the next free slot in place: `fill` gets the slot, zeroed, and writes the
    /// SQE into it, typically with an opcode builder's
    /// [`write`](crate::opcode::Nop::write). It reaches the kernel at the next sync and
    /// submit. Like liburing's `io_uring_get_sqe` followed by an `io_uring_prep_*`:
    /// no SQE is built elsewhere and copied.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// use uring::{opcode, Ring};
    /// let mut ring = Ring::new(8)?;
    /// let mut sq = ring.submission();
    /// // SAFETY: a NOP names no buffer or fd.
    /// unsafe {
    ///     sq.push_with(|sqe| {
    ///         opcode::Nop::new().write(sqe).set_user_data(7);
    ///     })
    /// }
    /// .expect("SQ full");
    /// # Ok(()) }
    /// ```
    ///
    /// On an `SQE128` ring all 128 bytes of the slot are zeroed; `fill` sees the first
    /// 64.
    ///
    /// # Errors
    /// [`PushError`] if the SQ is full; `fill` is not called then.
    ///
    /// # Safety
    /// As for [`push`](Self::push), for the SQE `fill` writes.
    #[inline]
    pub unsafe fn push_with(&mut self, fill: impl FnOnce(&mut Sqe)) -> Result<(), PushError> {
        let tail = self.tail;
        if tail == self.limit {
            // Looks full: only now learn how far the kernel got.
            self.limit = self.inner.head().wrapping_add(self.entries);
            if tail == self.limit {
                return Err(PushError);
            }
        }
        let (sqes, shift) = (self.sqes, self.sqe_shift);
        let i = (tail & self.mask) as usize;
        // SAFETY: `i <= mask < entries`, and the SQE array holds `entries` slots of
        // `1 << sqe_shift` bytes, aligned to 64. The slot is between the kernel's head
        // and our tail's next value, so the kernel no longer reads it (head loaded with
        // Acquire) and does not yet (tail not published): this `&mut` is the only
        // access to it until the tail store in `sync`.
        unsafe {
            // Two branches with a constant shift each, rather than a shift by a
            // variable: a loop of pushes is split on this test once.
            let slot = if shift == 6 {
                sqes.add(i << 6)
            } else {
                let slot = sqes.add(i << 7);
                slot.add(64).write_bytes(0, 64);
                slot
            };
            let sqe = &mut *slot.cast::<Sqe>();
            *sqe = Sqe(sys::io_uring_sqe::zeroed());
            fill(sqe);
        }
        // Only once `fill` returned: if it panics, the slot is not published.
        self.tail = tail.wrapping_add(1);
        Ok(())
    }

    /// Pushes a 128-byte SQE (both halves) on an `SQE128` ring.
    ///
    /// # Errors
    /// [`PushError`] if the SQ is full.
    ///
    /// # Panics
    /// If the ring was not set up with `SQE128`.
    ///
    /// # Safety
    /// As for [`push`](Self::push).
    pub unsafe fn push128(&mut self, sqe: &Sqe, cmd: &[u8; 64]) -> Result<(), PushError> {
        assert!(self.sqe_shift == 7, "push128 on a ring without SQE128");
        // SAFETY: the caller's contract is push's.
        unsafe { self.push(sqe)? };
        let i = (self.tail.wrapping_sub(1) & self.mask) as usize;
        // SAFETY: the slot just written is 128 bytes (SQE128), inside the SQE array,
        // and still ours (tail not published).
        unsafe {
            self.sqes
                .add((i << self.sqe_shift) + 64)
                .copy_from_nonoverlapping(cmd.as_ptr(), 64)
        };
        Ok(())
    }

    /// Takes back the SQEs that were pushed and not consumed yet, so that they are
    /// never submitted: `seen` gets each, oldest first, and the tail moves back to the
    /// kernel's head. Returns how many. This is how a program recovers from a submit
    /// that failed (`io_uring_enter` consumed nothing and returned an errno): once
    /// taken back, the memory those SQEs name is the program's again.
    ///
    /// Takes nothing back (returns 0) on an `SQPOLL` ring, whose poll thread may be
    /// consuming the entries at this very moment.
    ///
    /// Without SQPOLL, the kernel (and the engine) consumes SQEs only inside
    /// `io_uring_enter`, and no one enters this ring while this `&mut` borrow of it
    /// lives (short of calling the system call on its raw fd behind its back): the
    /// entries from the head to the tail stay where they are until the tail moves.
    pub fn take_back(&mut self, mut seen: impl FnMut(&Sqe)) -> usize {
        if self.inner.sqpoll {
            return 0;
        }
        // Acquire: pairs with the kernel's `smp_store_release(&rings->sq.head)`; the
        // entries before it were consumed, the ones from it on were not.
        let head = self.inner.head();
        let n = self.tail.wrapping_sub(head);
        for k in 0..n {
            let i = (head.wrapping_add(k) & self.mask) as usize;
            // SAFETY: `i <= mask < entries` slots of `1 << sqe_shift` bytes, aligned to
            // 64, in the SQE array; an entry between the head and our tail that nobody
            // consumes (see above) and that we wrote whole in `push_with`.
            let sqe = unsafe { &*self.sqes.add(i << self.sqe_shift).cast::<Sqe>() };
            seen(sqe);
        }
        self.limit = head.wrapping_add(self.entries);
        self.tail = head;
        // Release, as every tail store; nothing of the taken-back entries is read again.
        self.inner.set_tail(head);
        n as usize
    }

    /// Pushes all of `sqes`, or none if they do not all fit.
    ///
    /// # Errors
    /// [`PushError`] if fewer than `sqes.len()` entries are free.
    ///
    /// # Safety
    /// As for [`push`](Self::push), for each entry.
    pub unsafe fn push_multiple(&mut self, sqes: &[Sqe]) -> Result<(), PushError> {
        let cached = self.limit.wrapping_sub(self.tail) as usize;
        if cached < sqes.len() && self.space_left() < sqes.len() {
            return Err(PushError);
        }
        for sqe in sqes {
            // SAFETY: room was checked above; the caller's contract covers each entry.
            unsafe { self.push(sqe)? };
        }
        Ok(())
    }
}

impl Drop for SubmissionQueue<'_> {
    fn drop(&mut self) {
        self.inner.set_tail(self.tail);
    }
}

impl fmt::Debug for SubmissionQueue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmissionQueue")
            .field("head", &self.limit.wrapping_sub(self.entries))
            .field("tail", &self.tail)
            .field("capacity", &self.capacity())
            .finish()
    }
}
