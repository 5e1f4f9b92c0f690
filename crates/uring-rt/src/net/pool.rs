//! Provided buffers for multishot receives: [`BufPool`], a [`uring::BufRing`]
//! registered on the runtime's ring, and [`RecvBuf`], one of its buffers, owned,
//! going back to the ring when dropped.
//!
//! # Lifetime of a pool
//! A buffer ring must outlive every request that may pick from it, and stay
//! registered on the ring only while its memory lives. Here each runtime keeps the
//! groups it registered in a per-thread registry for as long as it lives; an op that
//! selects from a group, and every [`RecvBuf`] of it, hold the group too. A
//! [`BufPool`] that is dropped leaves its group in the registry, idle, for the next
//! pool of the same shape: nothing is unregistered while the ring runs (the ring
//! cannot be reached from inside the driver, where the last op of a group ends).
//! Once the runtime is gone (its ring closed, or leaked with the ops that still held
//! their groups), the registry drops its references and idle groups are freed.
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::rc::{Rc, Weak};
use std::task::Waker;

use uring::{BorrowedBuf, BufRing, Cqe};

use crate::buf::IoBuf;
use crate::runtime::{self, Context};

/// The shape of the pool [`recv_stream`](super::TcpStream::recv_stream) uses.
pub(crate) const DEFAULT_ENTRIES: u16 = 256;
/// Each default buffer's size.
pub(crate) const DEFAULT_BUF_LEN: u32 = 4096;

/// One registered buffer group.
pub(crate) struct Group {
    ring: BufRing,
    /// The runtime whose ring the group is registered on: requests of another ring
    /// must not select it (that ring may have a group of the same id, whose buffers
    /// this one would then hand out while its kernel writes into them).
    rt: Weak<Context>,
    /// Buffers handed out as [`RecvBuf`]s.
    out: Cell<usize>,
    /// Buffers given back so far: a stream that ran out of buffers re-arms once this
    /// moved past what it was when the stream armed.
    returns: Cell<u64>,
    /// Streams waiting for a buffer to come back.
    waiters: RefCell<Vec<Waker>>,
}

impl Group {
    pub(crate) fn bgid(&self) -> u16 {
        self.ring.bgid()
    }

    /// Whether the group is registered on the ring of the runtime running here.
    pub(crate) fn on_current_runtime(&self) -> bool {
        runtime::current().is_some_and(|cx| std::ptr::eq(self.rt.as_ptr(), Rc::as_ptr(&cx)))
    }

    pub(crate) fn returns(&self) -> u64 {
        self.returns.get()
    }

    /// Wakes `waker` when the next buffer comes back.
    pub(crate) fn wait_for_return(&self, waker: &Waker) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
    }

    fn returned(&self) {
        self.returns.set(self.returns.get().wrapping_add(1));
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    /// The buffer a completion of a request that selected from this group filled,
    /// owned, or `None` if the CQE carries none.
    ///
    /// # Safety
    /// `res` and `flags` are those of a CQE the ring posted for a request that
    /// selected from this group, not passed here before.
    pub(crate) unsafe fn take(self: &Rc<Self>, res: i32, flags: u32) -> Option<RecvBuf> {
        // SAFETY: the caller's contract is `BufRing::get`'s.
        let buf = unsafe { self.ring.get(&Cqe::new(0, res, flags)) }?;
        // SAFETY: the borrow is of `self.ring`, inside the Rc's allocation, which does
        // not move and which the RecvBuf keeps alive (its `group`) until after the
        // borrow is dropped (RecvBuf's Drop drops `buf` first).
        let buf = unsafe { std::mem::transmute::<BorrowedBuf<'_>, BorrowedBuf<'static>>(buf) };
        self.out.set(self.out.get() + 1);
        let len = buf.len();
        Some(RecvBuf {
            buf: ManuallyDrop::new(buf),
            start: 0,
            len,
            group: self.clone(),
        })
    }

    /// Gives back the buffer of a CQE nobody will see (an orphaned multishot).
    ///
    /// # Safety
    /// As [`take`](Self::take).
    pub(crate) unsafe fn discard(self: &Rc<Self>, res: i32, flags: u32) {
        // SAFETY: the caller's contract.
        drop(unsafe { self.take(res, flags) });
    }
}

/// The groups one runtime registered.
struct RtGroups {
    rt: Weak<Context>,
    groups: Vec<Rc<Group>>,
    next_bgid: u16,
}

thread_local! {
    static REGISTRY: RefCell<Vec<RtGroups>> = const { RefCell::new(Vec::new()) };
}

/// An idle group of this shape of the current runtime, or a new one.
fn group(entries: u16, buf_len: u32) -> io::Result<Rc<Group>> {
    let cx = runtime::current().ok_or_else(|| {
        io::Error::other("uring_rt: no runtime on this thread (make the pool inside block_on)")
    })?;
    REGISTRY.with(|reg| {
        let mut reg = reg.borrow_mut();
        // Runtimes that are gone: their rings are closed (or leaked, with the ops that
        // still hold their groups), so idle groups can be freed.
        reg.retain(|r| r.rt.strong_count() > 0);
        let i = match reg
            .iter()
            .position(|r| std::ptr::eq(r.rt.as_ptr(), Rc::as_ptr(&cx)))
        {
            Some(i) => i,
            None => {
                reg.push(RtGroups {
                    rt: Rc::downgrade(&cx),
                    groups: Vec::new(),
                    next_bgid: 0,
                });
                reg.len() - 1
            }
        };
        let rt = &mut reg[i];
        if let Some(g) = rt.groups.iter().find(|g| {
            Rc::strong_count(g) == 1 && g.ring.entries() == entries && g.ring.buf_len() == buf_len
        }) {
            return Ok(g.clone());
        }
        let bgid = rt.next_bgid;
        rt.next_bgid = bgid.checked_add(1).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                "uring_rt: 65536 buffer groups registered on this runtime",
            )
        })?;
        let driver = cx.driver.borrow();
        let ring = driver
            .ring()
            .ok_or_else(|| io::Error::other("uring_rt: the runtime is shut down"))?;
        let buf_ring = BufRing::new(&ring.submitter(), bgid, entries, buf_len)?;
        let g = Rc::new(Group {
            ring: buf_ring,
            rt: Rc::downgrade(&cx),
            out: Cell::new(0),
            returns: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
        });
        rt.groups.push(g.clone());
        Ok(g)
    })
}

/// The pool [`recv_stream`](super::TcpStream::recv_stream) uses: 256 buffers of
/// 4 KiB, shared by every stream of the runtime.
pub(crate) fn default_group() -> io::Result<Rc<Group>> {
    thread_local! {
        static DEFAULT: RefCell<Option<(Weak<Context>, Rc<Group>)>> = const { RefCell::new(None) };
    }
    let cx = runtime::current();
    DEFAULT.with(|d| {
        let mut d = d.borrow_mut();
        if let (Some((rt, g)), Some(cx)) = (d.as_ref(), cx.as_ref())
            && std::ptr::eq(rt.as_ptr(), Rc::as_ptr(cx))
        {
            return Ok(g.clone());
        }
        // Let go of another runtime's group before asking for one.
        *d = None;
        let g = group(DEFAULT_ENTRIES, DEFAULT_BUF_LEN)?;
        if let Some(cx) = cx {
            *d = Some((Rc::downgrade(&cx), g.clone()));
        }
        Ok(g)
    })
}

/// A pool of provided buffers (a buffer ring, `IORING_REGISTER_PBUF_RING`) that
/// multishot receives fill: `entries` buffers of `buf_len` bytes, registered on the
/// current runtime's ring. Streams that share a pool share its buffers; a stream
/// polled on another runtime than the pool's fails (its ring does not know the pool).
///
/// A stream that finds the pool empty (`ENOBUFS`) waits until one of its buffers is
/// dropped, then receives again: the data waits in the socket meanwhile, nothing is
/// lost and no error reaches the stream. Hold on to [`RecvBuf`]s only as long as
/// needed: a pool whose buffers are all held stops its streams.
#[derive(Clone)]
pub struct BufPool {
    pub(crate) group: Rc<Group>,
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("bgid", &self.group.bgid())
            .field("entries", &self.group.ring.entries())
            .field("buf_len", &self.group.ring.buf_len())
            .field("handed_out", &self.group.out.get())
            .finish()
    }
}

impl BufPool {
    /// A pool of `entries` buffers (a power of two, at most 32768) of `buf_len` bytes
    /// on the current runtime's ring. An idle pool of the same shape is reused.
    ///
    /// # Errors
    /// `InvalidInput` if `entries` is not a power of two or `buf_len` is 0; the
    /// registration's errno; an error outside a runtime.
    pub fn new(entries: u16, buf_len: u32) -> io::Result<BufPool> {
        if !entries.is_power_of_two() || entries > 32768 || buf_len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BufPool: entries must be a power of two up to 32768 and buf_len non-zero",
            ));
        }
        Ok(BufPool {
            group: group(entries, buf_len)?,
        })
    }

    /// Number of buffers.
    pub fn entries(&self) -> usize {
        self.group.ring.entries().into()
    }

    /// Each buffer's size.
    pub fn buf_len(&self) -> usize {
        self.group.ring.buf_len() as usize
    }

    /// Buffers handed out as [`RecvBuf`]s and not yet dropped.
    pub fn handed_out(&self) -> usize {
        self.group.out.get()
    }
}

/// A buffer of a [`BufPool`] that a receive filled, owned: it dereferences to the
/// bytes received and goes back to the pool when dropped. It is an [`IoBuf`], so it
/// can be written out as it is.
pub struct RecvBuf {
    buf: ManuallyDrop<BorrowedBuf<'static>>,
    start: usize,
    len: usize,
    group: Rc<Group>,
}

impl RecvBuf {
    /// Narrows the view to `start..start + len` of the current view.
    pub(crate) fn narrow(&mut self, start: usize, len: usize) {
        debug_assert!(start + len <= self.len);
        self.start += start;
        self.len = len;
    }

    /// The buffer id in its pool.
    pub fn bid(&self) -> u16 {
        self.buf.bid()
    }
}

impl fmt::Debug for RecvBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBuf")
            .field("bid", &self.buf.bid())
            .field("len", &self.len)
            .finish()
    }
}

impl Deref for RecvBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl DerefMut for RecvBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        // SAFETY: dropped once, here, before `group` (which owns the ring it borrows).
        unsafe { ManuallyDrop::drop(&mut self.buf) };
        self.group.out.set(self.group.out.get() - 1);
        self.group.returned();
    }
}

// SAFETY: the bytes lie in the pool's mapping, which the RecvBuf keeps alive (its
// `group`) and which does not move; nobody else writes them until it is dropped and
// the buffer goes back to the ring.
unsafe impl IoBuf for RecvBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.deref().as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
}
