//! The completion queue: the kernel produces CQEs and advances the tail; the
//! application consumes them and advances the head.
//!
//! Memory ordering, from the kernel's `io_uring/io_uring.c` header comment: the tail is
//! loaded with `Acquire`, pairing with the kernel's `smp_store_release` of the CQ tail
//! in `io_commit_cqring()` (so the CQEs it covers are fully written before we read
//! them); the head is stored with `Release`, ordering our CQE loads before it, which
//! pairs with the control dependency in the kernel's `io_get_cqe()` that reads the
//! head before overwriting a slot (so the kernel never reuses a slot we still read).
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use uring_sys as sys;

/// Pointers into the shared CQ ring, fixed for the life of the ring.
#[derive(Debug)]
pub(crate) struct CqInner {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    overflow: *const AtomicU32,
    flags: *const AtomicU32,
    pub(crate) ring_mask: u32,
    pub(crate) ring_entries: u32,
    cqes: *const u8,
    /// log2 of the slot size: 4 (16 bytes) or 5 (`CQE32`).
    cqe_shift: u32,
    /// `CQE_MIXED`: 16-byte slots, 32-byte CQEs take two and are flagged.
    mixed: bool,
    /// Neither `CQE32` nor `CQE_MIXED`: every slot is one 16-byte CQE.
    plain: bool,
}

// SAFETY: the pointers refer to ring memory owned by the Ring alongside this value;
// shared fields are only touched through atomics, and CQE slots are only read.
unsafe impl Send for CqInner {}
// SAFETY: as above.
unsafe impl Sync for CqInner {}

impl CqInner {
    /// # Safety
    /// `base` must point to a CQ ring laid out as `p` describes, valid for as long as
    /// the returned value is used.
    pub(crate) unsafe fn new(base: *mut u8, p: &sys::io_uring_params) -> Self {
        let off = &p.cq_off;
        // SAFETY: the offsets come from the kernel for this very memory.
        unsafe {
            let at = |o: u32| base.add(o as usize);
            CqInner {
                head: at(off.head).cast(),
                tail: at(off.tail).cast(),
                overflow: at(off.overflow).cast(),
                flags: at(off.flags).cast(),
                ring_mask: *at(off.ring_mask).cast::<u32>(),
                ring_entries: *at(off.ring_entries).cast::<u32>(),
                cqes: at(off.cqes),
                cqe_shift: if p.flags & sys::IORING_SETUP_CQE32 != 0 {
                    5
                } else {
                    4
                },
                mixed: p.flags & sys::IORING_SETUP_CQE_MIXED != 0,
                plain: p.flags & (sys::IORING_SETUP_CQE32 | sys::IORING_SETUP_CQE_MIXED) == 0,
            }
        }
    }

    /// The shared head. Only the application writes it: relaxed reads our own store.
    #[inline]
    pub(crate) fn head(&self) -> u32 {
        // SAFETY: `head` points into live ring memory.
        unsafe { (*self.head).load(Ordering::Relaxed) }
    }

    /// The shared tail with `Acquire`: pairs with the kernel's release store of the CQ
    /// tail, so every CQE before it is visible.
    #[inline]
    pub(crate) fn tail(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.tail).load(Ordering::Acquire) }
    }

    /// Frees the slots before `head` with `Release`: our CQE reads happen before the
    /// kernel can see the slots free and overwrite them.
    #[inline]
    pub(crate) fn set_head(&self, head: u32) {
        // SAFETY: as for `head`.
        unsafe { (*self.head).store(head, Ordering::Release) }
    }

    /// Completions lost to overflow (only without `IORING_FEAT_NODROP`).
    pub(crate) fn overflow(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.overflow).load(Ordering::Acquire) }
    }

    /// The CQ flags word.
    pub(crate) fn flags(&self) -> &AtomicU32 {
        // SAFETY: as for `head`.
        unsafe { &*self.flags }
    }

    /// Where the CQEs are and how they are laid out, for a [`CompletionQueue`] to keep.
    #[inline]
    fn layout(&self) -> CqLayout {
        CqLayout {
            cqes: self.cqes,
            mask: self.ring_mask,
            cqe_shift: self.cqe_shift,
            mixed: self.mixed,
            plain: self.plain,
        }
    }
}

/// The CQE array and its layout, copied into each [`CompletionQueue`] so that the
/// compiler keeps it in registers while reaping.
#[derive(Debug, Clone, Copy)]
struct CqLayout {
    cqes: *const u8,
    mask: u32,
    cqe_shift: u32,
    mixed: bool,
    plain: bool,
}

impl CqLayout {
    /// Reads the CQE at `head`, and how many slots it takes (0 for a skip entry of a
    /// mixed ring, whose slot is consumed but yields no CQE).
    ///
    /// # Safety
    /// `head` must be before the tail last loaded with `Acquire`.
    #[inline(always)]
    unsafe fn read(&self, head: u32) -> (Cqe, u32) {
        let i = (head & self.mask) as usize;
        if self.plain {
            // The common ring: 16-byte CQEs (a constant shift), nothing more to read.
            // SAFETY: i < ring_entries, so the slot is inside the CQE array; the
            // caller ensures the kernel has published it.
            let c = unsafe { self.cqes.add(i << 4).cast::<sys::io_uring_cqe>().read() };
            return (Cqe::new(c.user_data, c.res, c.flags), 1);
        }
        // SAFETY: as above, for slots of `1 << cqe_shift` bytes; a 32-byte CQE (CQE32,
        // or flagged on a mixed ring) has its second half in the same or next slot,
        // which the kernel never wraps (it posts a skip entry first).
        unsafe {
            let p = self.cqes.add(i << self.cqe_shift);
            let c = p.cast::<sys::io_uring_cqe>().read();
            let mut cqe = Cqe::new(c.user_data, c.res, c.flags);
            if self.cqe_shift == 5 {
                cqe.big = p.add(16).cast::<[u64; 2]>().read();
                (cqe, 1)
            } else if self.mixed && c.flags & sys::IORING_CQE_F_SKIP != 0 {
                (cqe, 0)
            } else if self.mixed && c.flags & sys::IORING_CQE_F_32 != 0 {
                cqe.big = p.add(16).cast::<[u64; 2]>().read();
                (cqe, 2)
            } else {
                (cqe, 1)
            }
        }
    }
}

/// A completion: the `user_data` of its SQE, the result, the flags, and (on 32-byte
/// CQEs) 16 more bytes.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Cqe {
    user_data: u64,
    res: i32,
    flags: u32,
    big: [u64; 2],
}

impl Cqe {
    /// The `user_data` of the SQE this completes.
    #[inline]
    pub fn user_data(&self) -> u64 {
        self.user_data
    }

    /// The result: what the system call would return, or `-errno`.
    #[inline]
    pub fn result(&self) -> i32 {
        self.res
    }

    /// The result as an `io::Result`: `Ok(n)` for `n >= 0`, the errno otherwise.
    ///
    /// # Errors
    /// The CQE's `-errno` as an [`std::io::Error`].
    pub fn io_result(&self) -> std::io::Result<u32> {
        if self.res < 0 {
            Err(std::io::Error::from_raw_os_error(-self.res))
        } else {
            Ok(self.res as u32)
        }
    }

    /// The `IORING_CQE_F_*` flags (and the buffer id in the upper bits).
    #[inline]
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The selected buffer's id, if `IORING_CQE_F_BUFFER` is set.
    pub fn buffer_id(&self) -> Option<u16> {
        (self.flags & sys::IORING_CQE_F_BUFFER != 0)
            .then_some((self.flags >> sys::IORING_CQE_BUFFER_SHIFT) as u16)
    }

    /// `IORING_CQE_F_MORE`: the request stays armed and will post more CQEs.
    pub fn more(&self) -> bool {
        self.flags & sys::IORING_CQE_F_MORE != 0
    }

    /// The extra 16 bytes of a 32-byte CQE (zero on 16-byte CQEs).
    pub fn big(&self) -> [u64; 2] {
        self.big
    }

    /// Builds a CQE, e.g. for tests of code that consumes them.
    #[inline]
    pub fn new(user_data: u64, res: i32, flags: u32) -> Cqe {
        Cqe {
            user_data,
            res,
            flags,
            big: [0; 2],
        }
    }
}

impl fmt::Debug for Cqe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Cqe");
        d.field("user_data", &self.user_data)
            .field("res", &self.res)
            .field("flags", &format_args!("{:#x}", self.flags));
        if self.big != [0; 2] {
            d.field("big", &self.big);
        }
        d.finish()
    }
}

/// The completion queue of a ring, borrowed: iterate to take CQEs; they are released to
/// the kernel at [`sync`](Self::sync) or drop.
pub struct CompletionQueue<'a> {
    head: u32,
    tail: u32,
    layout: CqLayout,
    inner: &'a CqInner,
}

impl<'a> CompletionQueue<'a> {
    pub(crate) fn new(inner: &'a CqInner) -> Self {
        CompletionQueue {
            head: inner.head(),
            tail: inner.tail(),
            layout: inner.layout(),
            inner,
        }
    }

    /// Releases the consumed slots to the kernel (one store of the head, `Release`) and
    /// loads the new tail (`Acquire`).
    #[inline]
    pub fn sync(&mut self) {
        self.inner.set_head(self.head);
        self.tail = self.inner.tail();
    }

    /// Releases the consumed slots to the kernel, one store of the head with
    /// `Release`, without looking for new CQEs. Like liburing's
    /// `io_uring_cq_advance`: after taking a batch of CQEs, this is all a waiting
    /// `io_uring_enter` needs (it counts the CQEs between the head and the tail).
    #[inline]
    pub fn release(&mut self) {
        self.inner.set_head(self.head);
    }

    /// Total slots in the CQ.
    pub fn capacity(&self) -> usize {
        self.inner.ring_entries as usize
    }

    /// Slots ready, as of the last sync (a 32-byte CQE of a mixed ring takes two).
    #[inline]
    pub fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head) as usize
    }

    /// Whether no CQE is ready, as of the last sync.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the CQ is full, as of the last sync.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Completions the kernel dropped for want of space. Always 0 with
    /// `IORING_FEAT_NODROP`, where overflow is kept in the kernel and flushed at the
    /// next `io_uring_enter` (see [`SubmissionQueue::cq_overflow`](crate::SubmissionQueue::cq_overflow)).
    pub fn overflow(&self) -> u32 {
        self.inner.overflow()
    }

    /// Whether eventfd notification is off (`IORING_CQ_EVENTFD_DISABLED`).
    pub fn eventfd_disabled(&self) -> bool {
        self.inner.flags().load(Ordering::Relaxed) & sys::IORING_CQ_EVENTFD_DISABLED != 0
    }

    /// Turns eventfd notification off or on (`IORING_CQ_EVENTFD_DISABLED`).
    pub fn set_eventfd_disabled(&mut self, disabled: bool) {
        let flags = self.inner.flags();
        if disabled {
            flags.fetch_or(sys::IORING_CQ_EVENTFD_DISABLED, Ordering::Release);
        } else {
            flags.fetch_and(!sys::IORING_CQ_EVENTFD_DISABLED, Ordering::Release);
        }
    }

    /// The next CQE without consuming it.
    pub fn peek(&mut self) -> Option<Cqe> {
        let mut head = self.head;
        while head != self.tail {
            // SAFETY: head is before the acquired tail.
            let (cqe, n) = unsafe { self.layout.read(head) };
            if n != 0 {
                return Some(cqe);
            }
            head = head.wrapping_add(1);
            self.head = head; // a skip entry is consumed for good
        }
        None
    }

    /// Copies up to `out.len()` CQEs into `out`, consuming them; returns how many.
    pub fn fill(&mut self, out: &mut [Cqe]) -> usize {
        let mut n = 0;
        while n < out.len() {
            match self.next() {
                Some(cqe) => {
                    out[n] = cqe;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }
}

impl Iterator for CompletionQueue<'_> {
    type Item = Cqe;

    #[inline]
    fn next(&mut self) -> Option<Cqe> {
        while self.head != self.tail {
            // SAFETY: head is before the acquired tail.
            let (cqe, n) = unsafe { self.layout.read(self.head) };
            self.head = self.head.wrapping_add(n.max(1));
            if n != 0 {
                return Some(cqe);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (
            if self.layout.mixed { 0 } else { self.len() },
            Some(self.len()),
        )
    }
}

impl Drop for CompletionQueue<'_> {
    fn drop(&mut self) {
        self.inner.set_head(self.head);
    }
}

impl fmt::Debug for CompletionQueue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("head", &self.head)
            .field("tail", &self.tail)
            .field("capacity", &self.capacity())
            .finish()
    }
}
