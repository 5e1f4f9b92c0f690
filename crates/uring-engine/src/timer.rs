//! Timers: `IORING_OP_TIMEOUT` (relative, absolute on three clocks, count, multishot)
//! and `IORING_OP_LINK_TIMEOUT`, as `io_uring/timeout.c` keeps them.
//!
//! Every pending timer is an entry holding its request, ordered by deadline (one
//! `CLOCK_MONOTONIC` scale in nanoseconds) and, for count timeouts, by the number of
//! completions it waits for. One thread per ring, started on first use, sleeps until
//! the nearest deadline and completes what expired. A mode without that thread
//! (deterministic replay) drives the same code itself: [`Timers::set_manual`], then
//! [`Timers::next_deadline`] and [`Timers::run_expired`], optionally on a virtual clock
//! ([`Timers::set_virtual_clock`]).
//!
//! Clocks: a relative timeout counts on the monotonic clock whatever its clock flag
//! (the boot clock only differs across a suspend, which the engine cannot observe
//! while it happens); an absolute one on `IORING_TIMEOUT_BOOTTIME` or
//! `IORING_TIMEOUT_REALTIME` is converted to the monotonic scale when armed, so a
//! later jump of the real-time clock (or a suspend) does not move it, unlike the
//! kernel's hrtimer on that clock.
//!
//! Count timeouts (`off`): the ring counts the CQEs it posts while at least one count
//! timeout is armed (one relaxed load per CQE otherwise, see [`Timers::counting`]);
//! the CQEs of timeouts that expire or whose count is met are not counted, as the
//! kernel subtracts `cq_timeouts`. The engine posts an inline completion at once where
//! the kernel posts the batch's completions at its end, so requests completed inline
//! before a count timeout *in the same submission* count for the kernel and not here.
//!
//! Link timeouts: when a request followed by a `LINK_TIMEOUT` is issued
//! ([`Timers::prepare_link`], from `Engine::issue`), the timeout leaves the chain and
//! waits here, unarmed, tagged with an id the request carries in `Req::ltimeout`;
//! its clock starts once the first issue attempt returned ([`Timers::arm_link`]), as
//! `io_queue_linked_timeout` does — except for requests the kernel sends to io-wq
//! from the start, whose link timeout never starts ([`link_timeout_starts`]). The request's completion takes it out again
//! ([`Timers::disarm_link`]: it completes with `-ECANCELED`). If it fires first, the
//! request is found by that id where it waits (`Engine::take_parked`) and completes
//! with `-ECANCELED`, the timeout with `-ETIME`; a request running in a worker is
//! interrupted (it ends with `-EINTR`) and the timeout says `-EALREADY`; one found
//! nowhere (between two places) is left alone and the timeout says `-ENOENT` — the
//! codes of `io_req_task_link_timeout`. The kernel looks the request up by its
//! `user_data`; the engine by its identity, so a duplicate `user_data` cannot be hit.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use uring_sys as sys;

use crate::engine::Engine;
use crate::op::timeout::Timeout;
use crate::req::Req;

/// Nanoseconds on the monotonic scale of the timers.
pub(crate) type Nanos = u64;

/// Reads `clock` in nanoseconds.
pub(crate) fn clock_ns(clock: libc::clockid_t) -> Nanos {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A `__kernel_timespec` as nanoseconds (saturating; the caller checked the signs).
pub(crate) fn ts_ns(ts: &sys::__kernel_timespec) -> Nanos {
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// What kind of timer an entry is.
enum Kind {
    /// `IORING_OP_TIMEOUT`. `left`: for a multishot, the shots still to fire after
    /// this one (0 with `forever`).
    Timeout {
        multishot: bool,
        forever: bool,
        left: u32,
    },
    /// `IORING_OP_LINK_TIMEOUT` guarding the request whose `ltimeout` is the entry's
    /// id. Unarmed until its request has been issued once.
    Link { armed: bool },
}

struct Entry {
    req: Box<Req>,
    kind: Kind,
    /// Relative length (ns) or absolute time (per `flags`), from the SQE.
    ts: Nanos,
    /// `IORING_TIMEOUT_*` of the SQE (the clock and `ABS`).
    flags: u32,
    deadline: Option<Nanos>,
    /// With a count: the number of counted CQEs at which it completes.
    target_seq: Option<u64>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// By id: arming order, the order cancellation searches in.
    entries: BTreeMap<u64, Entry>,
    by_deadline: BTreeSet<(Nanos, u64)>,
    by_seq: BTreeSet<(u64, u64)>,
    /// CQEs counted while count timeouts were armed.
    events: u64,
    stopped: bool,
    started: bool,
}

impl Inner {
    fn unlink(&mut self, id: u64, seq_armed: &AtomicUsize) -> Option<Entry> {
        let e = self.entries.remove(&id)?;
        if let Some(d) = e.deadline {
            self.by_deadline.remove(&(d, id));
        }
        if let Some(t) = e.target_seq {
            self.by_seq.remove(&(t, id));
            seq_armed.fetch_sub(1, Ordering::Relaxed);
        }
        Some(e)
    }

    fn find(&self, mut pred: impl FnMut(&Entry) -> bool) -> Option<u64> {
        self.entries
            .iter()
            .find(|(_, e)| pred(e))
            .map(|(&id, _)| id)
    }
}

/// The state the timer thread shares (it holds no strong reference to the engine
/// while it sleeps).
#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    cond: Condvar,
}

/// The timers of one ring.
pub(crate) struct Timers {
    shared: Arc<Shared>,
    /// Count timeouts armed: read on every CQE the ring posts.
    seq_armed: AtomicUsize,
    /// No thread: the owner calls `run_expired` itself.
    manual: AtomicBool,
    /// With a virtual clock: its time (`u64::MAX`: the real monotonic clock).
    virtual_now: AtomicU64,
    /// The ring (set at the first timer armed), for completions made from a CQE
    /// count or at shutdown.
    engine: OnceLock<Weak<Engine>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The clock of waits in `io_uring_enter` (`IORING_REGISTER_CLOCK`).
    ring_clock: AtomicI32,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            shared: Arc::default(),
            seq_armed: AtomicUsize::new(0),
            manual: AtomicBool::new(false),
            virtual_now: AtomicU64::new(u64::MAX),
            engine: OnceLock::new(),
            thread: Mutex::new(None),
            ring_clock: AtomicI32::new(libc::CLOCK_MONOTONIC),
        }
    }
}

/// What expiring did to an entry.
enum Fired {
    /// A multishot shot: post `-ETIME` with `F_MORE` for this `user_data`; the entry
    /// (this id) stays, re-armed, unless the CQ is full.
    Shot(u64, u64),
    /// A timeout ends with `-ETIME`.
    Done(Box<Req>),
    /// A link timeout fired: cancel its request (the one whose `ltimeout` is this id).
    Link(Box<Req>, u64),
}

impl Timers {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("timers")
    }

    // ---- Time ----

    /// Now, on the timers' scale: `CLOCK_MONOTONIC`, or the virtual clock.
    pub(crate) fn now(&self) -> Nanos {
        match self.virtual_now.load(Ordering::Relaxed) {
            u64::MAX => clock_ns(libc::CLOCK_MONOTONIC),
            v => v,
        }
    }

    /// No timer thread: whoever drives the ring calls [`run_expired`](Self::run_expired)
    /// (deterministic mode). Call before the first timer is armed.
    pub(crate) fn set_manual(&self) {
        self.manual.store(true, Ordering::Relaxed);
    }

    /// Runs the timers on a virtual clock starting at `start` (it advances only through
    /// [`run_expired`](Self::run_expired)). Absolute timeouts are then read on it.
    pub(crate) fn set_virtual_clock(&self, start: Nanos) {
        self.virtual_now.store(start, Ordering::Relaxed);
    }

    /// The nearest deadline of a pending timer, if any.
    pub(crate) fn next_deadline(&self) -> Option<Nanos> {
        self.lock().by_deadline.first().map(|&(d, _)| d)
    }

    /// The deadline of a timer of `ts` with `flags`, armed now.
    fn deadline(&self, ts: Nanos, flags: u32) -> Nanos {
        let now = self.now();
        if flags & sys::IORING_TIMEOUT_ABS == 0 {
            return now.saturating_add(ts);
        }
        let clock = match flags & sys::IORING_TIMEOUT_CLOCK_MASK {
            sys::IORING_TIMEOUT_BOOTTIME => libc::CLOCK_BOOTTIME,
            sys::IORING_TIMEOUT_REALTIME => libc::CLOCK_REALTIME,
            _ => return ts,
        };
        now.saturating_add(ts.saturating_sub(clock_ns(clock)))
    }

    /// The clock `io_uring_enter` waits on (`IORING_REGISTER_CLOCK`).
    pub(crate) fn ring_clock(&self) -> libc::clockid_t {
        self.ring_clock.load(Ordering::Relaxed)
    }

    /// `IORING_REGISTER_CLOCK`: `CLOCK_MONOTONIC` or `CLOCK_BOOTTIME`.
    pub(crate) fn set_ring_clock(&self, clock: libc::clockid_t) -> Result<(), i32> {
        match clock {
            libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME => {
                self.ring_clock.store(clock, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(-libc::EINVAL),
        }
    }

    // ---- Arming ----

    fn remember(&self, e: &Arc<Engine>) {
        self.engine.get_or_init(|| Arc::downgrade(e));
    }

    /// Starts the thread if it is wanted and not running, and wakes it to look at a
    /// new deadline.
    fn kick(&self, e: &Arc<Engine>, g: &mut Inner) {
        if self.manual.load(Ordering::Relaxed) {
            return;
        }
        if !g.started {
            g.started = true;
            let shared = self.shared.clone();
            let weak = Arc::downgrade(e);
            let spawned = std::thread::Builder::new()
                .name("uring-timer".into())
                .spawn(move || timer_thread(shared, weak));
            match spawned {
                Ok(h) => *self.thread.lock().expect("timer thread") = Some(h),
                Err(_) => g.started = false,
            }
        }
        self.shared.cond.notify_one();
    }

    /// Arms an `IORING_OP_TIMEOUT` prepared by `op::timeout`.
    pub(crate) fn arm_timeout(&self, e: &Arc<Engine>, req: Box<Req>) {
        self.remember(e);
        let &Timeout { ts, flags, off } = req.cmd::<Timeout>();
        let multishot = flags & sys::IORING_TIMEOUT_MULTISHOT != 0;
        let mut g = self.lock();
        if g.stopped {
            drop(g);
            return e.complete(req, -libc::ECANCELED);
        }
        let id = next_id(&mut g);
        let deadline = self.deadline(ts, flags);
        let target_seq = (!multishot && off != 0).then(|| g.events + off as u64);
        if let Some(t) = target_seq {
            g.by_seq.insert((t, id));
            self.seq_armed.fetch_add(1, Ordering::Relaxed);
        }
        g.by_deadline.insert((deadline, id));
        g.entries.insert(
            id,
            Entry {
                req,
                kind: Kind::Timeout {
                    multishot,
                    forever: multishot && off == 0,
                    left: off.saturating_sub(1),
                },
                ts,
                flags,
                deadline: Some(deadline),
                target_seq,
            },
        );
        self.kick(e, &mut g);
    }

    /// Takes the `LINK_TIMEOUT` that follows `x` in its chain out of it and keeps it,
    /// unarmed, tagged for `x` (`x.ltimeout`). Returns the tag, 0 if the timers are
    /// stopped (the timeout then completed with `-ECANCELED`).
    pub(crate) fn prepare_link(&self, e: &Arc<Engine>, x: &mut Req) -> u64 {
        let Some(mut lt) = x.link.take() else {
            return 0;
        };
        x.link = lt.link.take();
        self.remember(e);
        let mut g = self.lock();
        if g.stopped {
            drop(g);
            e.complete(lt, -libc::ECANCELED);
            return 0;
        }
        let id = next_id(&mut g);
        x.ltimeout = id;
        let &Timeout { ts, flags, .. } = lt.cmd::<Timeout>();
        g.entries.insert(
            id,
            Entry {
                req: lt,
                kind: Kind::Link { armed: false },
                ts,
                flags,
                deadline: None,
                target_seq: None,
            },
        );
        id
    }

    /// Starts the clock of link timeout `id`, unless its request already completed.
    pub(crate) fn arm_link(&self, e: &Arc<Engine>, id: u64) {
        let mut g = self.lock();
        let Some(entry) = g.entries.get_mut(&id) else {
            return;
        };
        let Kind::Link { armed, .. } = &mut entry.kind else {
            return;
        };
        if *armed {
            return;
        }
        *armed = true;
        let d = self.deadline(entry.ts, entry.flags);
        entry.deadline = Some(d);
        g.by_deadline.insert((d, id));
        self.kick(e, &mut g);
    }

    /// The request guarded by link timeout `id` completed: takes the timeout out (to
    /// complete with `-ECANCELED`), unless it fired already.
    pub(crate) fn disarm_link(&self, id: u64) -> Option<Box<Req>> {
        let mut g = self.lock();
        if !matches!(g.entries.get(&id)?.kind, Kind::Link { .. }) {
            return None;
        }
        g.unlink(id, &self.seq_armed).map(|e| e.req)
    }

    // ---- Removal and update (TIMEOUT_REMOVE) ----

    /// Takes out the pending `IORING_OP_TIMEOUT` with `user_data` (`-ENOENT`).
    pub(crate) fn remove(&self, user_data: u64) -> Result<Box<Req>, i32> {
        let mut g = self.lock();
        let id = g
            .find(|e| matches!(e.kind, Kind::Timeout { .. }) && e.req.user_data() == user_data)
            .ok_or(-libc::ENOENT)?;
        Ok(g.unlink(id, &self.seq_armed).expect("found").req)
    }

    /// `IORING_TIMEOUT_UPDATE` (or, with `link`, `IORING_LINK_TIMEOUT_UPDATE`): gives
    /// the timeout (an armed link timeout) with `user_data` a new expiry, on its own
    /// clock; an updated timeout no longer counts completions (`-ENOENT`).
    pub(crate) fn update(
        &self,
        e: &Arc<Engine>,
        user_data: u64,
        ts: Nanos,
        abs: bool,
        link: bool,
    ) -> Result<(), i32> {
        let mut g = self.lock();
        let id = g
            .find(|en| {
                en.req.user_data() == user_data
                    && match en.kind {
                        Kind::Timeout { .. } => !link,
                        Kind::Link { armed, .. } => link && armed,
                    }
            })
            .ok_or(-libc::ENOENT)?;
        let mut entry = g.unlink(id, &self.seq_armed).expect("found");
        entry.flags = (entry.flags & !sys::IORING_TIMEOUT_ABS)
            | if abs { sys::IORING_TIMEOUT_ABS } else { 0 };
        entry.ts = ts;
        let d = self.deadline(ts, entry.flags);
        entry.deadline = Some(d);
        g.by_deadline.insert((d, id));
        g.entries.insert(id, entry);
        self.kick(e, &mut g);
        Ok(())
    }

    // ---- Cancellation ----

    /// Takes out pending timeouts (`IORING_OP_TIMEOUT` only, as the kernel's
    /// `timeout_list`) matching `pred`, for cancellation.
    pub(crate) fn take_matching(
        &self,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        let mut g = self.lock();
        let ids: Vec<u64> = g
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.kind, Kind::Timeout { .. }))
            .filter(|(_, e)| pred(&e.req))
            .map(|(&id, _)| id)
            .take(if all { usize::MAX } else { 1 })
            .collect();
        ids.into_iter()
            .filter_map(|id| g.unlink(id, &self.seq_armed))
            .map(|e| e.req)
            .collect()
    }

    // ---- Counting ----

    /// Whether CQEs are being counted (a count timeout is armed). Relaxed: a CQE
    /// posted while a count timeout is being armed on another thread may or may not
    /// count, as it is concurrent with it.
    #[inline]
    pub(crate) fn counting(&self) -> bool {
        self.seq_armed.load(Ordering::Relaxed) != 0
    }

    /// One CQE was posted: completes (with 0) the count timeouts whose count is met
    /// (`io_flush_timeouts`).
    pub(crate) fn count_cqe(&self) {
        let met: Vec<Box<Req>> = {
            let mut g = self.lock();
            g.events += 1;
            let mut out = Vec::new();
            while let Some(&(t, id)) = g.by_seq.first() {
                if t > g.events {
                    break;
                }
                out.extend(g.unlink(id, &self.seq_armed).map(|e| e.req));
            }
            out
        };
        if met.is_empty() {
            return;
        }
        if let Some(e) = self.engine.get().and_then(Weak::upgrade) {
            for req in met {
                e.complete(req, 0);
            }
        }
    }

    // ---- Expiry ----

    /// Fires every timer whose deadline is at or before `now`, in deadline order.
    pub(crate) fn run_expired(&self, e: &Arc<Engine>, now: Nanos) {
        if self.virtual_now.load(Ordering::Relaxed) != u64::MAX {
            self.virtual_now.fetch_max(now, Ordering::Relaxed);
        }
        loop {
            let fired = {
                let mut g = self.lock();
                let Some(&(d, id)) = g.by_deadline.first() else {
                    return;
                };
                if d > now {
                    return;
                }
                self.expire(&mut g, id, now)
            };
            match fired {
                Fired::Shot(user_data, id) => {
                    if !e.post_more_counted(user_data, -libc::ETIME, 0, false) {
                        // The CQ is full: the multishot ends, its final CQE overflows
                        // (io_timeout_complete when io_req_post_cqe fails).
                        let entry = self.lock().unlink(id, &self.seq_armed);
                        if let Some(entry) = entry {
                            e.complete(entry.req, -libc::ETIME);
                        }
                    }
                }
                Fired::Done(req) => e.complete(req, -libc::ETIME),
                Fired::Link(lt, id) => fire_link(e, lt, id),
            }
        }
    }

    fn expire(&self, g: &mut Inner, id: u64, now: Nanos) -> Fired {
        let entry = g.entries.get_mut(&id).expect("indexed entries exist");
        if let Kind::Timeout {
            multishot: true,
            forever,
            left,
        } = &mut entry.kind
            && (*forever || *left > 0)
        {
            if !*forever {
                *left -= 1;
            }
            let old = entry.deadline.expect("expiring entries have one");
            let d = now.saturating_add(entry.ts);
            entry.deadline = Some(d);
            let user_data = entry.req.user_data();
            g.by_deadline.remove(&(old, id));
            g.by_deadline.insert((d, id));
            return Fired::Shot(user_data, id);
        }
        let entry = g
            .unlink(id, &self.seq_armed)
            .expect("indexed entries exist");
        match entry.kind {
            Kind::Timeout { .. } => Fired::Done(entry.req),
            Kind::Link { .. } => Fired::Link(entry.req, id),
        }
    }

    /// Stops the timer thread and cancels every pending timer (`-ECANCELED`); timers
    /// armed afterwards are cancelled at once.
    pub(crate) fn shutdown(&self) {
        let pending: Vec<Box<Req>> = {
            let mut g = self.lock();
            g.stopped = true;
            let ids: Vec<u64> = g.entries.keys().copied().collect();
            ids.into_iter()
                .filter_map(|id| g.unlink(id, &self.seq_armed))
                .map(|e| e.req)
                .collect()
        };
        self.shared.cond.notify_all();
        let handle = self.thread.lock().expect("timer thread").take();
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        if let Some(e) = self.engine.get().and_then(Weak::upgrade) {
            for req in pending {
                e.complete(req, -libc::ECANCELED);
            }
        }
    }
}

fn next_id(g: &mut Inner) -> u64 {
    g.next_id += 1;
    g.next_id
}

/// Whether the kernel parks requests of `opcode` outside io-wq (a futex or child wait
/// queue) where the engine runs them in a blocked worker (the op table's
/// `waits_in_worker`): cancelling them counts as found, not running.
pub(crate) fn waits_in_worker(opcode: u8) -> bool {
    crate::op::OPS
        .get(opcode as usize)
        .is_some_and(|d| d.waits_in_worker)
}

/// Whether the clock of a `LINK_TIMEOUT` starts when the request before it is issued.
/// The kernel starts it (`io_arm_ltimeout`, `io_queue_linked_timeout`) when an issue
/// attempt leaves the request waiting (for readiness, or queued for io-wq after a
/// non-blocking attempt failed). A request sent to io-wq from the start —
/// `IOSQE_ASYNC`, or an op whose prep sets `REQ_F_FORCE_ASYNC` (the op table's
/// `force_async`) — gets its one attempt
/// there: if it then waits for readiness, the timeout starts (`Engine::wait_ready`);
/// if it blocks, the timeout never starts and ends with `-ECANCELED` when the request
/// completes. The engine does the same (an `IOSQE_ASYNC` read or write of a pipe or
/// socket is tried without blocking in the worker and then waits for readiness, as in
/// io-wq: its link timeout starts then). (`OPENAT2`'s flags live in memory the engine does not re-read here: its
/// link timeout starts.)
pub(crate) fn link_timeout_starts(req: &Req) -> bool {
    !req.has(sys::IOSQE_ASYNC)
        && !crate::op::def(req.opcode()).is_some_and(|d| d.force_async.applies(req))
}

/// A link timeout fired (`io_link_timeout_fn`, `io_req_task_link_timeout`): cancels
/// the request it guards, then completes with `-ETIME`, `-EALREADY` or `-ENOENT`. The
/// request is looked for by the timeout's id, wherever it is (`op::cancel::find`):
/// parked, running in a worker (as the worker shows it: a worker still showing a
/// request it let go of cannot be taken for it), or handed over by a worker meanwhile.
fn fire_link(e: &Arc<Engine>, lt: Box<Req>, id: u64) {
    let found = crate::op::cancel::find(
        e,
        &mut |r: &Req| r.ltimeout == id,
        &mut |r: &crate::wq::Running| r.ltimeout == id,
        false,
    );
    let res = if !found.taken.is_empty() {
        for x in found.taken {
            e.complete(x, -libc::ECANCELED);
        }
        -libc::ETIME
    } else {
        match found.running.first() {
            None => -libc::ENOENT,
            Some(r) if waits_in_worker(r.opcode) => -libc::ETIME,
            Some(_) => -libc::EALREADY,
        }
    };
    e.complete(lt, res);
}

/// The timer thread: sleeps until the nearest deadline, fires what expired.
fn timer_thread(shared: Arc<Shared>, engine: Weak<Engine>) {
    // The kernel's io threads take no signals (see wq.rs).
    crate::wq::block_signals(false);
    loop {
        {
            let mut g = shared.inner.lock().expect("timers");
            loop {
                if g.stopped {
                    return;
                }
                let now = clock_ns(libc::CLOCK_MONOTONIC);
                match g.by_deadline.first() {
                    Some(&(d, _)) if d <= now => break,
                    Some(&(d, _)) => {
                        g = shared
                            .cond
                            .wait_timeout(g, Duration::from_nanos(d - now))
                            .expect("timers")
                            .0;
                    }
                    None => g = shared.cond.wait(g).expect("timers"),
                }
            }
        }
        let Some(e) = engine.upgrade() else {
            return;
        };
        e.timers.run_expired(&e, clock_ns(libc::CLOCK_MONOTONIC));
    }
}
