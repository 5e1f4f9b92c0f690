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
//!
//! # Growing
//! A buffer ring's size is fixed when it is registered, so a pool that grows does it by
//! generations: when a receive finds the ring empty (`ENOBUFS`) and no buffer came back
//! since it was armed, a growable pool registers a group twice the size (up to its
//! maximum) and receives are armed on it from then on. Buffers of the older
//! generations go back to their own rings; the pool keeps every generation until it is
//! dropped (then they are idle in the registry, for the next pool of their shape).
//!
//! # Bundles
//! With `IORING_RECVSEND_BUNDLE` (Linux 6.10) one CQE covers several buffers: the
//! kernel takes them from consecutive ring positions, starting at the head, and names
//! only the first. Each group therefore mirrors the ring's order: which buffer it put
//! at each position (`order`), and where each buffer was last put (`pos_of`). A buffer
//! goes back to the ring only through [`RecvBuf`]'s drop, which records it at the
//! position [`BufRing`] writes it to (its tail, one past the last).
//!
//! The bundle's buffers are looked up when its CQE is dispatched
//! ([`Group::resolve_bundle`], from the op's `on_cqe`), and chained buffer to buffer
//! for the stream to take later: at dispatch, every buffer the kernel took since the
//! bundle's first is still out (their CQEs come after it, none is taken yet), so at
//! most `entries` minus those are back in the ring and our tail has not come round to
//! the bundle's positions. Later it may have: other streams of the group go on taking
//! and giving back buffers while this one's CQE waits in its queue. A mirror that
//! disagrees with the CQE (the first position does not hold the buffer it names) is an
//! error, never a wrong buffer.
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::rc::{Rc, Weak};
use std::task::Waker;

use uring::{BorrowedBuf, BufRing, Cqe, sys};

use crate::buf::IoBuf;
use crate::runtime::{self, Context};

/// The shape of the pool [`recv_stream`](super::TcpStream::recv_stream) uses.
pub(crate) const DEFAULT_ENTRIES: u16 = 256;
/// Each default buffer's size.
pub(crate) const DEFAULT_BUF_LEN: u32 = 4096;
/// How many buffers the default pool may grow to (16 MiB of 4 KiB buffers).
pub(crate) const DEFAULT_MAX_ENTRIES: u16 = 4096;

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
    /// The buffer at each ring position (index `position & mask`), as we filled it.
    order: Box<[Cell<u16>]>,
    /// The position each buffer was last put at.
    pos_of: Box<[Cell<u16>]>,
    /// Our next position: where the next buffer back goes.
    tail: Cell<u16>,
    /// For a buffer in a resolved bundle, the bundle's next buffer.
    chain: Box<[Cell<u16>]>,
    /// For the first buffer of a resolved bundle, how many buffers it has (0: none
    /// resolved, or the mirror disagreed).
    bundle_len: Box<[Cell<u16>]>,
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

    fn entries(&self) -> u16 {
        self.ring.entries()
    }

    /// Buffer `bid` went back to the ring, at its tail (see the module docs).
    fn recycled(&self, bid: u16) {
        let tail = self.tail.get();
        let mask = usize::from(self.ring.entries() - 1);
        self.order[usize::from(tail) & mask].set(bid);
        self.pos_of[usize::from(bid)].set(tail);
        self.tail.set(tail.wrapping_add(1));
        self.out.set(self.out.get() - 1);
        self.returned();
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

    /// Looks up the buffers of a bundle CQE (`IORING_RECVSEND_BUNDLE`) as it is
    /// dispatched, for [`take_bundle`](Self::take_bundle): `res` bytes in the buffers
    /// at the ring positions from the first one's (named by the CQE) on (see the module
    /// docs). Nothing for `res <= 0` (the kernel took no buffer).
    pub(crate) fn resolve_bundle(&self, res: i32, flags: u32) {
        let Some((first, n)) = self.bundle_shape(res, flags) else {
            return;
        };
        let mask = usize::from(self.ring.entries() - 1);
        let start = usize::from(self.pos_of[usize::from(first)].get());
        if n > usize::from(self.ring.entries()) || self.order[start & mask].get() != first {
            // The mirror disagrees: `take_bundle` reports it.
            self.bundle_len[usize::from(first)].set(0);
            return;
        }
        let mut bid = first;
        for k in 1..n {
            let next = self.order[(start + k) & mask].get();
            self.chain[usize::from(bid)].set(next);
            bid = next;
        }
        self.bundle_len[usize::from(first)].set(n as u16);
    }

    /// The first buffer and the number of buffers of a bundle CQE, if it has any.
    fn bundle_shape(&self, res: i32, flags: u32) -> Option<(u16, usize)> {
        let res = usize::try_from(res).ok().filter(|&r| r > 0)?;
        if flags & sys::IORING_CQE_F_BUFFER == 0 {
            return None;
        }
        let first = (flags >> sys::IORING_CQE_BUFFER_SHIFT) as u16;
        (first < self.ring.entries()).then(|| (first, res.div_ceil(self.ring.buf_len() as usize)))
    }

    /// The buffers of a bundle CQE that [`resolve_bundle`](Self::resolve_bundle) saw,
    /// owned, appended to `out` in the order the kernel filled them (each full but
    /// the last). None for `res <= 0`.
    ///
    /// # Errors
    /// `InvalidData` when the CQE names no buffer, or when the ring's order did not
    /// place its buffers where the kernel took them (a bug: then no buffer of it is
    /// handed out).
    ///
    /// # Safety
    /// `res` and `flags` are those of a CQE the ring posted for a request of this ring
    /// that selected from this group with `IORING_RECVSEND_BUNDLE`, resolved when it
    /// was dispatched and not passed here before.
    pub(crate) unsafe fn take_bundle(
        self: &Rc<Self>,
        res: i32,
        flags: u32,
        out: &mut std::collections::VecDeque<RecvBuf>,
    ) -> io::Result<()> {
        if res <= 0 {
            return Ok(());
        }
        let bad = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("uring_rt: a bundle receive's buffers: {what}"),
            )
        };
        let (first, n) = self
            .bundle_shape(res, flags)
            .ok_or_else(|| bad("the CQE names none in the pool"))?;
        if usize::from(self.bundle_len[usize::from(first)].replace(0)) != n {
            return Err(bad("not where the ring's order puts them"));
        }
        let (res, buf_len) = (res as usize, self.ring.buf_len() as usize);
        let mut bid = first;
        for k in 0..n {
            let len = buf_len.min(res - k * buf_len) as i32;
            let one = sys::IORING_CQE_F_BUFFER | u32::from(bid) << sys::IORING_CQE_BUFFER_SHIFT;
            // SAFETY: the kernel took this buffer for the bundle (chained at dispatch
            // from the ring's order, see the module docs), filled `len` bytes of it and
            // posted the bundle's CQE after moving its head past it: it is ours as a
            // single-buffer CQE's would be, handed out once (here).
            match unsafe { self.take(len, one) } {
                Some(b) => out.push_back(b),
                None => return Err(bad("one is already handed out")),
            }
            bid = self.chain[usize::from(bid)].get();
        }
        Ok(())
    }

    /// Gives back the buffer of a CQE nobody will see (an orphaned multishot).
    ///
    /// # Safety
    /// As [`take`](Self::take).
    pub(crate) unsafe fn discard(self: &Rc<Self>, res: i32, flags: u32) {
        // SAFETY: the caller's contract.
        drop(unsafe { self.take(res, flags) });
    }

    /// Gives back the buffers of a bundle CQE nobody will see (an orphaned
    /// multishot).
    ///
    /// # Safety
    /// As [`take_bundle`](Self::take_bundle).
    pub(crate) unsafe fn discard_bundle(self: &Rc<Self>, res: i32, flags: u32) {
        let mut bufs = std::collections::VecDeque::new();
        // SAFETY: the caller's contract.
        let _ = unsafe { self.take_bundle(res, flags, &mut bufs) };
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
        // `BufRing` fills its ring with buffers 0, 1, … at positions 0, 1, …
        let g = Rc::new(Group {
            ring: buf_ring,
            rt: Rc::downgrade(&cx),
            out: Cell::new(0),
            returns: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            order: (0..entries).map(Cell::new).collect(),
            pos_of: (0..entries).map(Cell::new).collect(),
            tail: Cell::new(entries),
            chain: (0..entries).map(|_| Cell::new(0)).collect(),
            bundle_len: (0..entries).map(|_| Cell::new(0)).collect(),
        });
        rt.groups.push(g.clone());
        Ok(g)
    })
}

/// The pool [`recv_stream`](super::TcpStream::recv_stream) uses: 256 buffers of
/// 4 KiB, growing up to 4096, shared by every stream of the runtime.
pub(crate) fn default_pool() -> io::Result<Rc<Pool>> {
    thread_local! {
        static DEFAULT: RefCell<Option<(Weak<Context>, Rc<Pool>)>> = const { RefCell::new(None) };
    }
    let cx = runtime::current();
    DEFAULT.with(|d| {
        let mut d = d.borrow_mut();
        if let (Some((rt, p)), Some(cx)) = (d.as_ref(), cx.as_ref())
            && std::ptr::eq(rt.as_ptr(), Rc::as_ptr(cx))
        {
            return Ok(p.clone());
        }
        // Let go of another runtime's pool before asking for one.
        *d = None;
        let p = Pool::new(DEFAULT_ENTRIES, DEFAULT_BUF_LEN, DEFAULT_MAX_ENTRIES)?;
        if let Some(cx) = cx {
            *d = Some((Rc::downgrade(&cx), p.clone()));
        }
        Ok(p)
    })
}

/// Whether the current runtime's ring takes receive bundles
/// (`IORING_FEAT_RECVSEND_BUNDLE`; the engine refuses them).
pub(crate) fn ring_bundles() -> bool {
    runtime::current().is_some_and(|cx| {
        cx.driver
            .borrow()
            .ring()
            .is_some_and(|r| r.params().has_feature(sys::IORING_FEAT_RECVSEND_BUNDLE))
    })
}

/// A pool's generations of groups (see the module docs), the last one current.
pub(crate) struct Pool {
    groups: RefCell<Vec<Rc<Group>>>,
    buf_len: u32,
    /// The most buffers the current generation may have.
    max_entries: u16,
    /// Whether receives from this pool may take bundles.
    bundles: Cell<bool>,
}

impl Pool {
    fn new(entries: u16, buf_len: u32, max_entries: u16) -> io::Result<Rc<Pool>> {
        Ok(Rc::new(Pool {
            groups: RefCell::new(vec![group(entries, buf_len)?]),
            buf_len,
            max_entries: max_entries.max(entries),
            bundles: Cell::new(true),
        }))
    }

    /// The group receives are armed on now.
    pub(crate) fn current(&self) -> Rc<Group> {
        let groups = self.groups.borrow();
        groups[groups.len() - 1].clone()
    }

    /// Whether receives may take bundles.
    pub(crate) fn bundles(&self) -> bool {
        self.bundles.get()
    }

    /// `dry`, the group a receive found empty with no buffer back since, is replaced
    /// by one twice its size (up to the maximum). Returns whether a receive armed now
    /// gets a bigger group than `dry` (this grew it, or another stream did already).
    pub(crate) fn grow(&self, dry: &Rc<Group>) -> bool {
        let current = self.current();
        if !Rc::ptr_eq(&current, dry) {
            return true;
        }
        let entries = current.entries();
        if entries >= self.max_entries {
            return false;
        }
        let bigger = entries.saturating_mul(2).min(self.max_entries);
        match group(bigger, self.buf_len) {
            Ok(g) => {
                self.groups.borrow_mut().push(g);
                true
            }
            // No room for more (memlock, ENOMEM): wait for buffers to come back.
            Err(_) => false,
        }
    }
}

/// A pool of provided buffers (a buffer ring, `IORING_REGISTER_PBUF_RING`) that
/// multishot receives fill: `entries` buffers of `buf_len` bytes, registered on the
/// current runtime's ring. Streams that share a pool share its buffers; a stream
/// polled on another runtime than the pool's fails (its ring does not know the pool).
///
/// A stream that finds the pool empty (`ENOBUFS`) receives again at once from a pool
/// twice the size if the pool is [growable](Self::growable) and below its maximum;
/// otherwise it waits until one of its buffers is dropped. The data waits in the socket
/// meanwhile, nothing is lost and no error reaches the stream. Hold on to
/// [`RecvBuf`]s only as long as needed: a pool whose buffers are all held (at its
/// maximum) stops its streams.
#[derive(Clone)]
pub struct BufPool {
    pub(crate) pool: Rc<Pool>,
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.pool.current();
        f.debug_struct("BufPool")
            .field("bgid", &current.bgid())
            .field("entries", &current.entries())
            .field("max_entries", &self.pool.max_entries)
            .field("buf_len", &self.pool.buf_len)
            .field("handed_out", &self.handed_out())
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
        Self::growable(entries, buf_len, entries)
    }

    /// A pool of `entries` buffers of `buf_len` bytes that grows, up to `max_entries`
    /// buffers (a power of two, at most 32768), when a receive finds it empty: instead
    /// of waiting for a buffer to come back, the stream goes on at once with a pool
    /// twice the size (see [`entries`](Self::entries)). Every size it had stays
    /// registered, and its memory allocated, until the pool is dropped.
    ///
    /// # Errors
    /// As [`new`](Self::new); `InvalidInput` also if `max_entries` is not a power of
    /// two or is below `entries`.
    pub fn growable(entries: u16, buf_len: u32, max_entries: u16) -> io::Result<BufPool> {
        let pow2 = |n: u16| n.is_power_of_two() && n <= 32768;
        if !pow2(entries) || !pow2(max_entries) || max_entries < entries || buf_len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BufPool: entries and max_entries must be powers of two up to 32768, \
                 max_entries at least entries, and buf_len non-zero",
            ));
        }
        Ok(BufPool {
            pool: Pool::new(entries, buf_len, max_entries)?,
        })
    }

    /// Turns bundles off (or on again) for the receives armed from now on: with them
    /// (the default, where the kernel has `IORING_FEAT_RECVSEND_BUNDLE`), one
    /// completion fills as many buffers as the data waiting needs; the stream still
    /// yields one buffer per item.
    pub fn set_bundles(&self, on: bool) {
        self.pool.bundles.set(on);
    }

    /// Number of buffers receives pick from now (it grows with a growable pool).
    pub fn entries(&self) -> usize {
        self.pool.current().entries().into()
    }

    /// Each buffer's size.
    pub fn buf_len(&self) -> usize {
        self.pool.buf_len as usize
    }

    /// Buffers handed out as [`RecvBuf`]s and not yet dropped.
    pub fn handed_out(&self) -> usize {
        self.pool.groups.borrow().iter().map(|g| g.out.get()).sum()
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
        let bid = self.buf.bid();
        // SAFETY: dropped once, here, before `group` (which owns the ring it borrows).
        // The group's buffers are never incremental and lent once, so this puts the
        // buffer back at the ring's tail, as `recycled` records.
        unsafe { ManuallyDrop::drop(&mut self.buf) };
        self.group.recycled(bid);
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
