//! The I/O driver: one ring, and a slab of op slots that `user_data` indexes.
//!
//! # The op slot owns what the kernel may touch
//! An operation's data (its buffer, iovecs, sockaddr, timespec, path, and the file it
//! names) is moved into a slot *before* its SQE is built, and the SQE points into it.
//! Slots live in fixed chunks that are never moved or freed while the driver lives, so
//! those pointers stay valid wherever the future goes. The slot keeps the data until
//! the op's **final** CQE (one without `IORING_CQE_F_MORE`):
//! - the future polls, sees the final CQE and takes the data back (its buffer in the
//!   [`BufResult`](crate::BufResult));
//! - the future is dropped first: the slot becomes an *orphan*, an `ASYNC_CANCEL` is
//!   sent, and every CQE that still arrives goes to the op's orphan hook (which closes an
//!   fd opened or accepted too late) before the data is dropped with the final one.
//!
//! A push that fails (SQ full) leaves nothing in the SQ, so the data goes back to the
//! future. A submit that fails with a passing errno (`EINTR`, `EAGAIN`, `EBUSY`) leaves
//! the SQEs in the SQ for the next one. Any other errno means the kernel consumed none
//! of them: they are taken back out of the SQ ([`uring::SubmissionQueue::take_back`])
//! and their ops complete with that errno, so nothing the kernel might still read is
//! freed, nothing is lost, and the futures see the error (the fault tokio's io_uring
//! path had: it freed an op whose SQE a failed submit had left in the SQ).
//!
//! # Multishot
//! A slot queues every CQE flagged `IORING_CQE_F_MORE` and the final one marks it done,
//! so one submission can feed a stream ([`Driver::poll_next`]).
//!
//! # Shutting down
//! [`Driver::shutdown`] cancels everything in flight, waits for every final CQE, and
//! only then lets the ring be closed and unmapped. If the kernel does not finish them
//! (an operation it will not cancel, blocked for good), the ring and every slot are
//! leaked instead of freed: the kernel may still write into them.
use std::any::TypeId;
use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use uring::types::Fd;
use uring::{Ring, Sqe, opcode, sys};

use crate::runtime::{Shared, TaskId, local_task};

/// `user_data` of the eventfd read that carries wakes from other threads.
const EVENTFD_UD: u64 = u64::MAX >> 1;
/// `user_data` of the `MSG_RING` message another runtime posts to this ring to make it
/// take its remote queue (see `Shared::notify`).
pub(crate) const MSG_WAKE_UD: u64 = EVENTFD_UD - 1;
/// Bit 63 of a `user_data` marks an `ASYNC_CANCEL`; the other bits name its target.
const CANCEL_BIT: u64 = 1 << 63;
/// `user_data` of the catch-all cancel sent at shutdown.
const CANCEL_ANY_UD: u64 = u64::MAX;
/// Generations are 31 bits, so an op's `user_data` never has bit 63 set.
const GEN_MASK: u32 = u32::MAX >> 1;
/// Slots per chunk.
const CHUNK: usize = 64;
/// How many times a cancel that found nothing (`ENOENT`: the op was not issued yet) is
/// sent again while its op is still in flight.
const CANCEL_RETRIES: u8 = 3;
/// Bytes of op data a slot holds inline; larger data is boxed.
const INLINE: usize = 96;

/// What an operation's data must do for the driver. Implemented by every op in the
/// crate; sealed.
pub trait OpData: 'static {
    /// What the future returns.
    type Output;

    /// The SQE, built with `self` at its final place (pointers into `self` are stable).
    fn sqe(&mut self) -> Sqe;

    /// Turns the final result into the future's output, giving buffers back.
    fn complete(self, result: io::Result<u32>, flags: u32) -> Self::Output;

    /// Called for each CQE that arrives after the future was dropped (and for results
    /// the future never took): closes a descriptor the op created, and so on.
    fn orphan_cqe(&mut self, _res: i32, _flags: u32) {}

    /// Whether [`on_cqe`](Self::on_cqe) does anything (so the driver calls it).
    const SEES_CQES: bool = false;

    /// Called with each CQE of the op as it is dispatched, before the future or
    /// [`orphan_cqe`](Self::orphan_cqe) sees it (a multishot receive resolves a bundle's
    /// buffers there, while the ring's order still says which they are).
    fn on_cqe(&mut self, _res: i32, _flags: u32) {}
}

/// Declares the data of an operation whose outcome is `io::Result<()>`: its fields,
/// and the SQE built from them (`$d` names the data).
macro_rules! unit_op {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? } |$d:ident| $sqe:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            $($field: $ty),*
        }

        impl $crate::driver::OpData for $name {
            type Output = ::std::io::Result<()>;

            fn sqe(&mut self) -> ::uring::Sqe {
                let $d = &*self;
                $sqe
            }

            fn complete(
                self,
                result: ::std::io::Result<u32>,
                _flags: u32,
            ) -> ::std::io::Result<()> {
                result.map(drop)
            }
        }
    };
}
pub(crate) use unit_op;

/// A slot's identity: index and generation, packed into `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpId {
    index: u32,
    generation: u32,
}

impl OpId {
    fn user_data(self) -> u64 {
        u64::from(self.generation) << 32 | u64::from(self.index)
    }

    fn from_user_data(ud: u64) -> OpId {
        OpId {
            index: ud as u32,
            generation: (ud >> 32) as u32,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    InFlight,
    Done,
    Orphan,
}

#[repr(C, align(16))]
struct Storage(MaybeUninit<[u8; INLINE]>);

/// How to handle the type-erased data of a slot.
#[derive(Clone, Copy)]
struct Erased {
    drop: unsafe fn(*mut Storage),
    orphan: unsafe fn(*mut Storage, i32, u32),
    /// `OpData::on_cqe`, for the types that have one (`SEES_CQES`).
    on_cqe: Option<unsafe fn(*mut Storage, i32, u32)>,
    type_id: fn() -> TypeId,
}

const fn fits<T>() -> bool {
    size_of::<T>() <= INLINE && align_of::<T>() <= 16
}

/// The data of type `T` in `s`.
///
/// # Safety
/// `s` holds a live `T` written by [`put`].
unsafe fn data_ptr<T>(s: *mut Storage) -> *mut T {
    if fits::<T>() {
        s.cast()
    } else {
        // SAFETY: `put` stored a `Box<T>`'s raw pointer at the start of `s`.
        unsafe { s.cast::<*mut T>().read() }
    }
}

/// Moves `value` into `s` (inline, or boxed when it does not fit).
///
/// # Safety
/// `s` holds no live data.
unsafe fn put<T>(s: *mut Storage, value: T) {
    if fits::<T>() {
        // SAFETY: `T` fits in the storage's size and alignment; it is empty.
        unsafe { s.cast::<T>().write(value) }
    } else {
        // SAFETY: a pointer fits; the storage is empty.
        unsafe { s.cast::<*mut T>().write(Box::into_raw(Box::new(value))) }
    }
}

/// Moves the `T` out of `s`, leaving it empty.
///
/// # Safety
/// `s` holds a live `T` written by [`put`].
unsafe fn take<T>(s: *mut Storage) -> T {
    if fits::<T>() {
        // SAFETY: the caller's contract; the storage is empty afterwards.
        unsafe { s.cast::<T>().read() }
    } else {
        // SAFETY: `put` stored `Box::into_raw` of a `Box<T>`.
        *unsafe { Box::from_raw(s.cast::<*mut T>().read()) }
    }
}

/// # Safety
/// `s` holds a live `T` written by [`put`]; it is empty afterwards.
unsafe fn drop_erased<T>(s: *mut Storage) {
    // SAFETY: the caller's contract.
    drop(unsafe { take::<T>(s) });
}

/// # Safety
/// `s` holds a live `T` written by [`put`].
unsafe fn orphan_erased<T: OpData>(s: *mut Storage, res: i32, flags: u32) {
    // SAFETY: the caller's contract; the reference lives for this call only.
    unsafe { &mut *data_ptr::<T>(s) }.orphan_cqe(res, flags);
}

/// # Safety
/// `s` holds a live `T` written by [`put`].
unsafe fn on_cqe_erased<T: OpData>(s: *mut Storage, res: i32, flags: u32) {
    // SAFETY: the caller's contract; the reference lives for this call only.
    unsafe { &mut *data_ptr::<T>(s) }.on_cqe(res, flags);
}

/// Who waits for a slot's next CQE.
enum Waiter {
    None,
    /// A task of this runtime (see [`local_task`]): queued by the loop, through
    /// [`Driver::woken`], without a waker.
    Task(TaskId),
    /// Any other waker.
    Waker(Waker),
}

impl Waiter {
    /// Makes `waker` the waiter; `local` is its task when it is a task of this
    /// runtime (`local_task`).
    fn set(&mut self, waker: &Waker, local: Option<TaskId>) {
        match (local, &*self) {
            (Some(id), _) => *self = Waiter::Task(id),
            (None, Waiter::Waker(w)) if w.will_wake(waker) => {}
            (None, _) => *self = Waiter::Waker(waker.clone()),
        }
    }
}

struct Slot {
    generation: u32,
    state: State,
    waiter: Waiter,
    res: i32,
    flags: u32,
    cancel_sent: bool,
    cancel_tries: u8,
    /// The final CQE went to the future (through `poll_next`).
    final_taken: bool,
    /// CQEs flagged `F_MORE` the future has not taken (multishot, zero-copy send).
    queue: VecDeque<(i32, u32)>,
    erased: Option<&'static Erased>,
    storage: Storage,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            generation: 0,
            state: State::Free,
            waiter: Waiter::None,
            res: 0,
            flags: 0,
            cancel_sent: false,
            cancel_tries: 0,
            final_taken: false,
            queue: VecDeque::new(),
            erased: None,
            storage: Storage(MaybeUninit::uninit()),
        }
    }

    /// Runs the orphan hook on a CQE.
    fn orphan_cqe(&mut self, res: i32, flags: u32) {
        if let Some(e) = self.erased {
            // SAFETY: `erased` is set exactly while the storage holds the data it
            // describes.
            unsafe { (e.orphan)(&raw mut self.storage, res, flags) };
        }
    }

    /// Drops the data and frees the slot under a new generation.
    fn release(&mut self) {
        if let Some(e) = self.erased.take() {
            // SAFETY: as in `orphan_cqe`; `erased` is cleared with it.
            unsafe { (e.drop)(&raw mut self.storage) };
        }
        self.state = State::Free;
        self.waiter = Waiter::None;
        if !self.queue.is_empty() {
            self.queue.clear();
        }
        self.cancel_sent = false;
        self.cancel_tries = 0;
        self.final_taken = false;
        self.generation = self.generation.wrapping_add(1) & GEN_MASK;
    }
}

/// Why an op could not start.
pub(crate) enum StartError<T> {
    /// The SQ is full even after a submit: wait for [`Driver::wait_for_sq`].
    Full(T),
    /// The runtime is shutting down or shut down.
    Closed(T),
}

/// The slots, free list and bookkeeping: everything but the ring, so CQEs can be
/// dispatched while the CQ is borrowed.
struct Ops {
    chunks: Vec<Box<[Slot; CHUNK]>>,
    free: Vec<u32>,
    /// Slots in flight or orphaned: not `Free` and not `Done`.
    in_flight: usize,
    /// Cancels to push at the next turn (the SQ was full, or a retry).
    cancel_backlog: Vec<u64>,
    /// Tasks waiting for room in the SQ.
    sq_waiters: Vec<Waker>,
    eventfd_armed: bool,
    shared: Arc<Shared>,
    /// The `user_data` of SQEs taken back after a failed submit (kept for its room).
    taken_back: Vec<u64>,
    /// Tasks of this runtime woken by CQEs ([`Waiter::Task`]), for the loop to queue.
    woken: Vec<TaskId>,
}

impl Ops {
    fn slot(&mut self, index: u32) -> Option<&mut Slot> {
        let i = index as usize;
        self.chunks.get_mut(i / CHUNK).map(|c| &mut c[i % CHUNK])
    }

    fn slot_of(&mut self, id: OpId) -> Option<&mut Slot> {
        self.slot(id.index)
            .filter(|s| s.generation == id.generation && s.state != State::Free)
    }

    fn alloc(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            return i;
        }
        let base = self.chunks.len() * CHUNK;
        self.chunks
            .push(Box::new(std::array::from_fn(|_| Slot::new())));
        // Hand out low indexes first.
        self.free
            .extend((base as u32 + 1..(base + CHUNK) as u32).rev());
        base as u32
    }

    fn release(&mut self, index: u32) {
        if let Some(s) = self.slot(index) {
            s.release();
            self.free.push(index);
        }
    }

    /// One CQE.
    fn dispatch(&mut self, ud: u64, res: i32, flags: u32) {
        if ud == EVENTFD_UD || ud == MSG_WAKE_UD {
            // Wakes from other threads are in the remote queue; clear the flag before
            // the loop drains that queue (pairs with the swap in `Shared::notify`).
            self.shared.notified.store(false, Ordering::SeqCst);
            if ud == EVENTFD_UD {
                self.eventfd_armed = false;
            }
            return;
        }
        if ud & CANCEL_BIT != 0 {
            if ud != CANCEL_ANY_UD && res == -libc::ENOENT {
                // The cancel found nothing: the op may not have been issued yet (the
                // engine issues a batch in any order). Send it again a few times.
                let target = ud & !CANCEL_BIT;
                let id = OpId::from_user_data(target);
                if let Some(s) = self.slot_of(id)
                    && matches!(s.state, State::InFlight | State::Orphan)
                    && s.cancel_tries < CANCEL_RETRIES
                {
                    s.cancel_tries += 1;
                    self.cancel_backlog.push(target);
                }
            }
            return;
        }
        let id = OpId::from_user_data(ud);
        let Some(slot) = self.slot_of(id) else {
            return;
        };
        let more = flags & sys::IORING_CQE_F_MORE != 0;
        if let Some(on_cqe) = slot.erased.and_then(|e| e.on_cqe) {
            // SAFETY: `erased` is set exactly while the storage holds the data it
            // describes.
            unsafe { on_cqe(&raw mut slot.storage, res, flags) };
        }
        match slot.state {
            State::InFlight => {
                if more {
                    slot.queue.push_back((res, flags));
                } else {
                    slot.res = res;
                    slot.flags = flags;
                    slot.state = State::Done;
                }
                let waiter = std::mem::replace(&mut slot.waiter, Waiter::None);
                if !more {
                    self.in_flight -= 1;
                }
                match waiter {
                    Waiter::Task(id) => self.woken.push(id),
                    Waiter::Waker(w) => w.wake(),
                    Waiter::None => {}
                }
            }
            State::Orphan => {
                slot.orphan_cqe(res, flags);
                if !more {
                    self.in_flight -= 1;
                    self.release(id.index);
                }
            }
            State::Done | State::Free => {}
        }
    }
}

/// A `MSG_RING` notification to another runtime's ring: `IORING_MSG_DATA` with
/// [`MSG_WAKE_UD`] posted to the target's CQ (waking it from `io_uring_enter`).
struct MsgWake {
    /// Holds the target's ring fd (a duplicate, in `Shared`) open until the message is
    /// issued, so the fd in the SQE cannot name another file meanwhile.
    target: Arc<Shared>,
}

impl OpData for MsgWake {
    type Output = ();

    fn sqe(&mut self) -> Sqe {
        let fd = self.target.ring_fd.as_ref().map_or(-1, |f| f.as_raw_fd());
        opcode::MsgRing::data(Fd(fd), 0, MSG_WAKE_UD).build()
    }

    fn complete(self, _: io::Result<u32>, _: u32) {}

    fn orphan_cqe(&mut self, res: i32, _flags: u32) {
        // Not delivered (a kernel without MSG_RING, the target ring gone, cancelled at
        // shutdown): the eventfd carries the notification instead, so it is not lost.
        if res < 0 {
            self.target.write_eventfd();
        }
    }
}

/// The ring and its op slots.
pub(crate) struct Driver {
    ring: Option<Ring>,
    ops: Ops,
    eventfd: Option<OwnedFd>,
    /// The eventfd read's 8-byte buffer, at a stable heap address.
    eventfd_buf: Box<u64>,
    /// Set when a drain could not finish: slots and ring are leaked, never freed.
    leaked: bool,
    /// An errno the next submit with SQEs to submit fails with, without entering the
    /// ring (tests of the recovery, [`crate::op::fail_next_submit`]).
    fail_next_submit: Option<i32>,
}

impl Driver {
    pub(crate) fn new(ring: Ring, eventfd: Option<OwnedFd>, shared: Arc<Shared>) -> Driver {
        Driver {
            ring: Some(ring),
            ops: Ops {
                chunks: Vec::new(),
                free: Vec::new(),
                in_flight: 0,
                cancel_backlog: Vec::new(),
                sq_waiters: Vec::new(),
                eventfd_armed: false,
                shared,
                taken_back: Vec::new(),
                woken: Vec::new(),
            },
            fail_next_submit: None,
            eventfd,
            eventfd_buf: Box::new(0),
            leaked: false,
        }
    }

    /// The ring, while the runtime runs.
    pub(crate) fn ring(&self) -> Option<&Ring> {
        self.ring.as_ref()
    }

    /// The tasks of this runtime woken by the CQEs dispatched since the loop last
    /// emptied this list, in their CQEs' order (a task may appear more than once).
    pub(crate) fn woken(&mut self) -> &mut Vec<TaskId> {
        &mut self.ops.woken
    }

    /// Ops in flight (not counting the eventfd read).
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.in_flight
    }

    /// Pushes `sqe`, submitting once to make room if the SQ is full.
    ///
    /// # Safety
    /// As [`uring::SubmissionQueue::push`]: what the SQE points to stays valid until its
    /// final CQE.
    unsafe fn push(ring: &mut Ring, sqe: &Sqe) -> bool {
        // SAFETY: the caller's contract.
        if unsafe { ring.submission().push(sqe) }.is_ok() {
            return true;
        }
        // SQ full: submit what it holds (errors leave it full; the caller waits).
        let _ = ring.submit();
        // SAFETY: the caller's contract.
        unsafe { ring.submission().push(sqe) }.is_ok()
    }

    /// Starts an op: moves `data` into a slot, builds its SQE there and pushes it.
    pub(crate) fn start<T: OpData>(&mut self, data: T) -> Result<OpId, StartError<T>> {
        self.start_inner(data, None)
    }

    /// [`start`](Self::start), with `waker` registered for the final CQE at once (what
    /// a first poll of [`poll_take`](Self::poll_take) would do, without a second look-up:
    /// no CQE can have arrived before the next submit).
    pub(crate) fn start_with_waker<T: OpData>(
        &mut self,
        data: T,
        waker: &Waker,
    ) -> Result<OpId, StartError<T>> {
        self.start_inner(data, Some(waker))
    }

    fn start_inner<T: OpData>(
        &mut self,
        data: T,
        waker: Option<&Waker>,
    ) -> Result<OpId, StartError<T>> {
        let Some(ring) = self.ring.as_mut() else {
            return Err(StartError::Closed(data));
        };
        let local = waker.and_then(|w| local_task(w, &self.ops.shared));
        let index = self.ops.alloc();
        let Some(slot) = self.ops.slot(index) else {
            unreachable!("alloc returns a slot that exists");
        };
        // SAFETY: a free slot holds no data.
        unsafe { put(&raw mut slot.storage, data) };
        // One table per data type, in static memory: a slot keeps a pointer to it.
        slot.erased = Some(
            const {
                &Erased {
                    drop: drop_erased::<T>,
                    orphan: orphan_erased::<T>,
                    on_cqe: if T::SEES_CQES {
                        Some(on_cqe_erased::<T>)
                    } else {
                        None
                    },
                    type_id: TypeId::of::<T>,
                }
            },
        );
        let id = OpId {
            index,
            generation: slot.generation,
        };
        // SAFETY: the storage holds the `T` just put; the reference ends with the call.
        let sqe = unsafe { &mut *data_ptr::<T>(&raw mut slot.storage) }
            .sqe()
            .user_data(id.user_data());
        // SAFETY: the SQE points into the slot's data (or memory it owns), which stays
        // at its place until the final CQE releases the slot (see the module docs).
        if unsafe { Self::push(ring, &sqe) } {
            slot.state = State::InFlight;
            if let Some(w) = waker {
                slot.waiter.set(w, local);
            }
            self.ops.in_flight += 1;
            Ok(id)
        } else {
            // Never pushed: the kernel cannot see it, so the data can go back.
            slot.erased = None;
            // SAFETY: the storage holds the `T` put above; `erased` is cleared.
            let data = unsafe { take::<T>(&raw mut slot.storage) };
            self.ops.release(index);
            Err(StartError::Full(data))
        }
    }

    /// Starts an op no future waits for: its slot is an orphan from the start, so its
    /// CQEs go to the data's orphan hook and the final one frees it. Returns whether
    /// it was pushed (the SQ may be full).
    pub(crate) fn start_detached<T: OpData>(&mut self, data: T) -> bool {
        let Ok(id) = self.start(data) else {
            return false;
        };
        if let Some(slot) = self.ops.slot_of(id) {
            slot.state = State::Orphan;
            // Not to be cancelled when dropped; shutdown's cancel-all still reaches it.
            slot.cancel_sent = true;
        }
        true
    }

    /// Queues a `MSG_RING` that makes `target` (another runtime on this backend) take
    /// its remote queue. Submitted with this ring's next turn; if it fails there, the
    /// target's eventfd is written instead. Returns false when it could not be pushed.
    pub(crate) fn notify_by_msg_ring(&mut self, target: Arc<Shared>) -> bool {
        self.start_detached(MsgWake { target })
    }

    /// Registers `waker` to be woken once the SQ has room (after the next submit).
    pub(crate) fn wait_for_sq(&mut self, waker: &Waker) {
        self.ops.sq_waiters.push(waker.clone());
    }

    /// The op's data back with its final CQE's `(res, flags)`, once that arrived; the
    /// slot is freed then. Until then, `cx`'s waker is kept to be woken by it.
    ///
    /// # Panics
    /// If `id` names no live op or `T` is not its data type (bugs of this crate).
    pub(crate) fn poll_take<T: OpData>(
        &mut self,
        id: OpId,
        cx: &mut Context<'_>,
    ) -> Poll<(T, i32, u32)> {
        let slot = self.ops.slot_of(id).expect("poll_take: a live op slot");
        if slot.state != State::Done {
            let local = local_task(cx.waker(), &self.ops.shared);
            let Some(slot) = self.ops.slot_of(id) else {
                unreachable!("looked up above");
            };
            slot.waiter.set(cx.waker(), local);
            return Poll::Pending;
        }
        let erased = slot.erased.take().expect("poll_take: the slot holds data");
        assert_eq!(
            (erased.type_id)(),
            TypeId::of::<T>(),
            "poll_take: op data type"
        );
        let (res, flags) = (slot.res, slot.flags);
        // SAFETY: the storage holds a `T` (type checked above); `erased` is cleared.
        let data = unsafe { take::<T>(&raw mut slot.storage) };
        slot.release();
        self.ops.free.push(id.index);
        Poll::Ready((data, res, flags))
    }

    /// The next CQE of a multishot op: `Some((res, flags))` for each, the final one
    /// included, then `None`.
    pub(crate) fn poll_next(&mut self, id: OpId, cx: &mut Context<'_>) -> Poll<Option<(i32, u32)>> {
        let Some(slot) = self.ops.slot_of(id) else {
            return Poll::Ready(None);
        };
        if let Some(c) = slot.queue.pop_front() {
            return Poll::Ready(Some(c));
        }
        if slot.state == State::Done {
            if slot.final_taken {
                return Poll::Ready(None);
            }
            slot.final_taken = true;
            return Poll::Ready(Some((slot.res, slot.flags)));
        }
        let local = local_task(cx.waker(), &self.ops.shared);
        let Some(slot) = self.ops.slot_of(id) else {
            unreachable!("looked up above");
        };
        slot.waiter.set(cx.waker(), local);
        Poll::Pending
    }

    /// Runs `f` on the data of a live op, in its slot.
    ///
    /// # Panics
    /// If `T` is not the op's data type (a bug of this crate).
    #[allow(dead_code)] // used by multishot streams
    pub(crate) fn with_data<T: OpData, R>(
        &mut self,
        id: OpId,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let slot = self.ops.slot_of(id)?;
        let erased = slot.erased?;
        assert_eq!(
            (erased.type_id)(),
            TypeId::of::<T>(),
            "with_data: op data type"
        );
        // SAFETY: the storage holds a live `T` (checked above); the borrow ends with `f`.
        Some(f(unsafe { &mut *data_ptr::<T>(&raw mut slot.storage) }))
    }

    /// Asks the kernel to cancel the op; its future stays and gets the outcome
    /// (`ECANCELED`, or the result if it won the race).
    pub(crate) fn cancel(&mut self, id: OpId) {
        if let Some(slot) = self.ops.slot_of(id)
            && slot.state == State::InFlight
            && !slot.cancel_sent
        {
            slot.cancel_sent = true;
            self.push_cancel(id.user_data());
        }
    }

    fn push_cancel(&mut self, target: u64) {
        let sqe = opcode::AsyncCancel::new(target)
            .build()
            .user_data(CANCEL_BIT | target);
        let pushed = match self.ring.as_mut() {
            // SAFETY: ASYNC_CANCEL by user_data references no memory.
            Some(ring) => unsafe { Self::push(ring, &sqe) },
            None => return,
        };
        if !pushed {
            self.ops.cancel_backlog.push(target);
        }
    }

    /// The future of op `id` is gone: free the slot if the op is over, else make it an
    /// orphan and cancel it. Results the future never took go to the orphan hook.
    pub(crate) fn drop_op(&mut self, id: OpId) {
        let Some(slot) = self.ops.slot_of(id) else {
            return;
        };
        slot.waiter = Waiter::None;
        while let Some((res, flags)) = slot.queue.pop_front() {
            slot.orphan_cqe(res, flags);
        }
        match slot.state {
            State::Done => {
                if !slot.final_taken {
                    let (res, flags) = (slot.res, slot.flags);
                    slot.orphan_cqe(res, flags);
                }
                self.ops.release(id.index);
            }
            State::InFlight => {
                slot.state = State::Orphan;
                let sent = std::mem::replace(&mut slot.cancel_sent, true);
                if !sent && self.ring.is_some() {
                    self.push_cancel(id.user_data());
                }
            }
            State::Orphan | State::Free => {}
        }
    }

    /// Arms the eventfd read that carries wakes from other threads, if not armed.
    fn arm_eventfd(&mut self) {
        let (Some(ring), Some(efd)) = (self.ring.as_mut(), self.eventfd.as_ref()) else {
            return;
        };
        if self.ops.eventfd_armed {
            return;
        }
        let buf: *mut u64 = &raw mut *self.eventfd_buf;
        let sqe = opcode::Read::new(Fd(efd.as_raw_fd()), buf.cast::<u8>(), 8)
            .build()
            .user_data(EVENTFD_UD);
        // SAFETY: the 8-byte buffer is boxed in the driver, which outlives the read:
        // shutdown waits for its final CQE (or leaks the driver's memory).
        if unsafe { Self::push(ring, &sqe) } {
            self.ops.eventfd_armed = true;
        }
    }

    /// One turn of I/O: pushes pending cancels, submits (and waits for a completion
    /// when `wait`), then dispatches every CQE. One `io_uring_enter` at most, unless
    /// the SQ filled up on the way.
    ///
    /// # Errors
    /// An errno of the ring other than the passing ones (`EINTR`, `EAGAIN`, `EBUSY`).
    pub(crate) fn turn(&mut self, wait: bool) -> io::Result<()> {
        let backlog = std::mem::take(&mut self.ops.cancel_backlog);
        for &target in &backlog {
            self.push_cancel(target);
        }
        let mut backlog = backlog;
        backlog.clear();
        if self.ops.cancel_backlog.is_empty() {
            self.ops.cancel_backlog = backlog;
        }
        self.arm_eventfd();
        let Some(ring) = self.ring.as_mut() else {
            return Ok(());
        };
        let r = match self.fail_next_submit {
            Some(errno) if !ring.submission().is_empty() => {
                self.fail_next_submit = None;
                Err(io::Error::from_raw_os_error(errno))
            }
            _ if wait => ring.submit_and_wait(1),
            _ => ring.submit(),
        };
        match r {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                ) => {}
            // The error goes to the ops whose SQEs did not reach the kernel; with none,
            // the ring itself failed.
            Err(e) => {
                if self.fail_unsubmitted(e.raw_os_error().unwrap_or(libc::EIO)) == 0 {
                    return Err(e);
                }
            }
        }
        for w in self.ops.sq_waiters.drain(..) {
            w.wake();
        }
        self.reap();
        Ok(())
    }

    /// After a submit failed with `errno`: takes back the SQEs still in the SQ (the
    /// kernel never saw them) and completes their ops with `-errno`, as if the kernel
    /// had failed each: the futures get the error and their buffers, orphans free their
    /// data. A cancel taken back is sent again at the next turn if its op is still in
    /// the kernel's hands; the eventfd read is armed again. Returns how many SQEs were
    /// taken back (none on an SQPOLL ring, whose SQEs stay for the next submit).
    fn fail_unsubmitted(&mut self, errno: i32) -> usize {
        let Some(ring) = self.ring.as_mut() else {
            return 0;
        };
        let mut taken = std::mem::take(&mut self.ops.taken_back);
        let n = ring
            .submission()
            .take_back(|sqe| taken.push(sqe.get_user_data()));
        for &ud in &taken {
            match ud {
                EVENTFD_UD => self.ops.eventfd_armed = false,
                CANCEL_ANY_UD => {}
                ud if ud & CANCEL_BIT != 0 => {
                    let target = ud & !CANCEL_BIT;
                    if let Some(s) = self.ops.slot_of(OpId::from_user_data(target))
                        && matches!(s.state, State::InFlight | State::Orphan)
                    {
                        self.ops.cancel_backlog.push(target);
                    }
                }
                ud => self.ops.dispatch(ud, -errno, 0),
            }
        }
        taken.clear();
        self.ops.taken_back = taken;
        n
    }

    /// Dispatches the CQEs in the CQ, without entering the kernel.
    pub(crate) fn reap(&mut self) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        for cqe in ring.completion() {
            self.ops
                .dispatch(cqe.user_data(), cqe.result(), cqe.flags());
        }
    }

    /// Cancels everything and waits for every final CQE (see the module docs). Ops
    /// whose futures still live keep their data in their slot, done or cancelled; the
    /// ring is closed and unmapped when the drain finished, leaked when it did not.
    pub(crate) fn shutdown(&mut self, give_up_after: Duration) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let any = opcode::AsyncCancel::new(0)
            .any(true)
            .build()
            .user_data(CANCEL_ANY_UD);
        let ext_arg = ring.params().is_feature_ext_arg();
        let mut last_progress = Instant::now();
        let mut send_cancel = true;
        while self.ops.in_flight > 0 || self.ops.eventfd_armed {
            let Some(ring) = self.ring.as_mut() else {
                return;
            };
            if send_cancel {
                // SAFETY: ASYNC_CANCEL of everything references no memory.
                let _ = unsafe { Self::push(ring, &any) };
                send_cancel = false;
            }
            let before = (self.ops.in_flight, self.ops.eventfd_armed);
            let r = if ext_arg {
                ring.submitter().wait_timeout(1, Duration::from_millis(50))
            } else {
                ring.submit_and_wait(1)
            };
            // A failed submit: what it left in the SQ never reached the kernel and ends
            // here; with nothing left there, the ring is beyond use.
            if let Err(e) = r
                && !matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ETIME)
                )
                && self.fail_unsubmitted(e.raw_os_error().unwrap_or(libc::EIO)) == 0
            {
                break;
            }
            self.reap();
            if (self.ops.in_flight, self.ops.eventfd_armed) != before {
                last_progress = Instant::now();
            } else {
                // Ops issued after the last cancel, or the kernel's own pace: ask again.
                send_cancel = true;
                if last_progress.elapsed() > give_up_after {
                    break;
                }
            }
        }
        if self.ops.in_flight > 0 || self.ops.eventfd_armed {
            // The kernel may still write into slots and ring memory: leak them.
            self.leaked = true;
            std::mem::forget(self.ring.take());
            std::mem::forget(std::mem::take(&mut self.ops.chunks));
            std::mem::forget(std::mem::replace(&mut self.eventfd_buf, Box::new(0)));
        } else {
            self.ring = None;
        }
    }

    /// Makes the next submit that has SQEs to submit fail with `errno` without entering
    /// the ring.
    pub(crate) fn fail_next_submit(&mut self, errno: i32) {
        self.fail_next_submit = Some(errno);
    }

    /// Whether shutdown had to leak the ring.
    pub(crate) fn leaked(&self) -> bool {
        self.leaked
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.ring.is_some() {
            self.shutdown(Duration::from_secs(5));
        }
        // Slots still holding data (results no future took): release them. After a
        // drain that did not finish, `chunks` was leaked and is empty here.
        for chunk in &mut self.ops.chunks {
            for slot in chunk.iter_mut() {
                if slot.state == State::Done && !slot.final_taken {
                    let (res, flags) = (slot.res, slot.flags);
                    slot.orphan_cqe(res, flags);
                }
                if slot.state != State::Free {
                    slot.release();
                }
            }
        }
    }
}
