//! Readiness: requests whose fd is not ready (a socket or pipe that said `EAGAIN`)
//! wait here and are issued again when it is (the kernel's `io_uring/poll.c`
//! "fast poll", `IORING_FEAT_FAST_POLL`), and `IORING_OP_POLL_ADD` requests wait for
//! their events.
//!
//! One thread per ring, started on first use, sleeps in `poll(2)` on an epoll set of
//! its own until something in it is ready. epoll keeps one registration per fd, so several requests waiting on
//! the same fd share it: each fd has a list of waiters and is registered for the union
//! of their events, edge-triggered (`EPOLLET`). Arming a waiter always re-registers
//! (`EPOLL_CTL_MOD`, or `ADD`), and epoll re-polls the fd then: readiness that arrived
//! between the request's `EAGAIN` and the arming is reported, never lost.
//!
//! When an fd becomes ready, the reactor thread takes out the waiters whose events
//! match and issues each again with [`Mode::Inline`] (a non-blocking attempt); one that
//! still finds nothing says [`Step::Wait`] again and is re-armed. A multishot poll
//! waiter stays in the list and posts a CQE (`IORING_CQE_F_MORE`) per event, which is
//! per wakeup of the fd, as the kernel's multishot poll (edge-triggered: a pipe written
//! three times before anyone reads it gives three CQEs, or fewer if the writes come
//! faster than the reactor reaps them, as the kernel coalesces wakeups too).
//!
//! Who handles readiness: the reactor thread, or the application's own thread when it
//! enters the ring to reap completions (`IORING_ENTER_GETEVENTS`, [`Reactor::run_ready`]),
//! as the kernel runs its pending task work in `io_uring_enter`. One thread at a time
//! (`Inner::handling`) takes the events out of the set (`epoll_wait` without waiting)
//! and issues what they made ready, so an `enter` that finds the reactor thread at it
//! waits for it to finish: a program that sent data to its own socket and then reaps
//! sees the receive's CQEs, as on the kernel (where the send's wakeup ran the
//! receive), instead of depending on when the reactor thread gets a CPU — on a loaded
//! machine that was milliseconds, and liburing's `recv-multishot` missed CQEs or freed
//! provided buffers the reactor was still receiving into. While requests wait here,
//! the ring shows `IORING_SQ_TASKRUN`, which tells a program that peeks an empty CQ to
//! enter (liburing's `io_uring_peek_cqe` does), as the kernel sets it for pending task
//! work. The cost: an `enter` that reaps while requests wait makes one `epoll_wait`
//! more; nothing when none waits. An `enter` that submits as well (liburing asks for
//! events with every submit while the flag shows) handles readiness only when the
//! reactor thread found some since the last pass ([`Reactor::drive`]), so that a
//! program re-arming a request per CQE does not take the events out one submit at a
//! time ahead of the reactor thread.
//!
//! An eventfd in the set wakes the thread for shutdown. An fd that epoll refuses
//! (`EPERM`: regular files, directories) cannot wait for readiness: a retried request
//! goes to the worker pool (`Engine::run_in_worker` polls it there), a poll completes
//! at once with what `poll(2)` reports, as the kernel completes a poll on a file
//! without a wait queue. An fd closed before arming (`EBADF`) fails the request with
//! `-EBADF`.
//!
//! Cancellation ([`Reactor::take_matching`]) finds waiters in their lists, ready ones
//! included (they stay there until issued, one at a time); the one being issued at
//! that moment is waited for (one non-blocking attempt) and looked for again, so a
//! busy multishot request is always found, as the kernel finds it through its poll
//! ownership.
//!
//! Differences from the kernel: a multishot poll may see an extra event when another
//! request arms the same fd while it is ready (the re-registration re-polls the fd for
//! every waiter on it); a multishot poll does not stop when the CQ is full (its CQEs
//! go to the overflow list; the kernel ends it).
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::{JoinHandle, ThreadId};

use uring_sys as sys;

use crate::engine::Engine;
use crate::op::{self, Mode, Step};
use crate::req::Req;
use crate::wq::Class;

/// epoll data of the wake eventfd (fds are never negative).
const WAKE: u64 = u64::MAX;

/// Events the kernel's poll always reports (`IO_POLL_UNMASK`, less `EPOLLNVAL`).
pub(crate) const POLL_UNMASK: u32 = (libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32;

/// What a waiter does when its fd is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Issue the request again (fast poll).
    Retry,
    /// `IORING_OP_POLL_ADD`: complete with the events (one shot), or post them and
    /// stay armed (multishot).
    Poll { multishot: bool },
}

struct Waiter {
    req: Box<Req>,
    /// The poll events waited for (`POLLIN`, `POLLOUT`, …).
    events: u32,
    kind: Kind,
    /// Found ready, queued for issue (or, a one-shot poll, for completion with
    /// `mask`): it stays in its list, where cancellation finds it, until then.
    ready: bool,
    mask: u32,
}

impl Waiter {
    /// The events of `revents` that concern this waiter.
    fn matches(&self, revents: u32) -> u32 {
        match self.kind {
            Kind::Retry => revents & (self.events | (libc::EPOLLERR | libc::EPOLLHUP) as u32),
            Kind::Poll { .. } => revents & (self.events | POLL_UNMASK) & 0xffff,
        }
    }

    /// What epoll must watch for this waiter.
    fn interest(&self) -> u32 {
        match self.kind {
            Kind::Retry => self.events & 0xffff,
            Kind::Poll { .. } => (self.events & 0xffff) | libc::EPOLLRDHUP as u32,
        }
    }
}

#[derive(Default)]
struct FdWaiters {
    waiters: Vec<Waiter>,
    /// The events the fd is registered for (0: not registered).
    registered: u32,
}

#[derive(Default)]
struct Inner {
    epoll: Option<OwnedFd>,
    wake: Option<OwnedFd>,
    handle: Option<JoinHandle<()>>,
    fds: HashMap<RawFd, FdWaiters>,
    /// The fds each `user_data` waits on, once per waiter: where a removal by
    /// `user_data` (`POLL_REMOVE`, a poll update) looks, instead of in every list (the
    /// kernel's hash of polls by `user_data`).
    by_user_data: HashMap<u64, Vec<RawFd>>,
    /// Fds with waiters marked ready, in the order they became ready (an fd once per
    /// ready waiter).
    ready: VecDeque<RawFd>,
    /// The request being issued now, outside the lock.
    busy: Option<Busy>,
    /// Counts issues, telling one busy request from the next.
    seq: u64,
    /// A thread is taking events out of the set and issuing what they made ready;
    /// others wait for it on `Reactor::idle` ([`Reactor::run_ready`]).
    handling: bool,
    /// Threads waiting for the one handling to finish: only then is there anyone to
    /// wake (a wake-up is a system call).
    handling_waiters: usize,
    shut: bool,
}

/// What cancellation needs to know of the request being issued.
struct Busy {
    sqe: sys::io_uring_sqe,
    fd: RawFd,
    /// Its `LINK_TIMEOUT`'s id, which a firing timeout looks for.
    ltimeout: u64,
    seq: u64,
    thread: ThreadId,
}

/// The readiness reactor of one ring.
#[derive(Default)]
pub(crate) struct Reactor {
    inner: Mutex<Inner>,
    /// Signalled when the busy request is done (its issue returned), and when a
    /// thread stops handling.
    idle: Condvar,
    /// Requests waiting here, counting the one being issued: read without the lock by
    /// `enter` ([`Reactor::drive`]) to skip everything when none waits.
    waiting: AtomicUsize,
    /// The reactor thread found the set readable (its `poll` returned) since the last
    /// pass took events out of it ([`Reactor::drive`]).
    signalled: AtomicBool,
    /// Counts the requests sent from here to the worker pool (a retry that must
    /// block): a move against the order cancellation looks in ([`Reactor::moves`]).
    moved: AtomicU64,
}

/// How `arm` ended for a waiter it could not keep.
enum Refused {
    /// epoll does not take this fd (`EPERM`).
    NotPollable(Waiter),
    /// Another error (`-errno`), or the reactor is shut down (`-ECANCELED`).
    Fail(Waiter, i32),
}

impl Reactor {
    /// Parks `req` until its fd is ready for `events` (`POLLIN`/`POLLOUT`), then
    /// issues it again.
    pub(crate) fn arm(&self, e: &Arc<Engine>, req: Box<Req>, events: i16) {
        let w = Waiter {
            req,
            events: events as u16 as u32,
            kind: Kind::Retry,
            ready: false,
            mask: 0,
        };
        self.arm_waiter(e, w);
    }

    /// Parks a poll request until its fd reports one of `events` (poll bits): it
    /// completes with them, or with `multishot` posts them and stays.
    pub(crate) fn arm_poll(&self, e: &Arc<Engine>, req: Box<Req>, events: u32, multishot: bool) {
        let w = Waiter {
            req,
            events: events & 0xffff,
            kind: Kind::Poll { multishot },
            ready: false,
            mask: 0,
        };
        self.arm_waiter(e, w);
    }

    fn arm_waiter(&self, e: &Arc<Engine>, w: Waiter) {
        let refused = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            Self::try_arm(&mut g, e, w).err()
        };
        match refused {
            None => {}
            Some(Refused::Fail(w, err)) => e.complete(w.req, err),
            Some(Refused::NotPollable(w)) => match w.kind {
                Kind::Retry => {
                    // Wait for it in a worker with poll(2), as `run_in_worker` does
                    // for work marked so (`wait_events`), then issue it there.
                    let mut req = w.req;
                    req.wait_events = Some(w.events as u16 as i16);
                    e.wq.push(e, Class::Unbounded, req);
                    // A retry's re-arm refused (the fd now names a file) moves it
                    // from here to the workers.
                    self.count_move();
                }
                Kind::Poll { .. } => {
                    // No wait queue: the kernel completes with the events the file
                    // reports now, or -EINVAL when none of them is asked for.
                    let mask = poll_now(w.req.fd, w.events as i16);
                    let res = match mask {
                        Ok(m) if m & (w.events | POLL_UNMASK) != 0 => {
                            (m & (w.events | POLL_UNMASK)) as i32
                        }
                        Ok(_) => -libc::EINVAL,
                        Err(err) => err,
                    };
                    e.complete(w.req, res);
                }
            },
        }
    }

    /// Registers the waiter's interest and keeps it, or says why not.
    fn try_arm(g: &mut Inner, e: &Arc<Engine>, w: Waiter) -> Result<(), Refused> {
        if g.shut {
            return Err(Refused::Fail(w, -libc::ECANCELED));
        }
        if g.epoll.is_none()
            && let Err(err) = Self::start(g, e)
        {
            return Err(Refused::Fail(w, err));
        }
        let epfd = g.epoll.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let fd = w.req.fd;
        if fd < 0 {
            return Err(Refused::Fail(w, -libc::EBADF));
        }
        let entry = g.fds.entry(fd).or_default();
        let want = entry
            .waiters
            .iter()
            .fold(w.interest(), |acc, o| acc | o.interest());
        // Always (re)register: epoll polls the fd again and reports what is already
        // there, so readiness since the request's last attempt is not lost.
        let first = if entry.registered == 0 {
            libc::EPOLL_CTL_ADD
        } else {
            libc::EPOLL_CTL_MOD
        };
        let mut r = ctl(epfd, first, fd, want);
        if r == Err(libc::ENOENT) {
            // The fd was closed (and maybe reopened) since it was registered.
            r = ctl(epfd, libc::EPOLL_CTL_ADD, fd, want);
        } else if r == Err(libc::EEXIST) {
            r = ctl(epfd, libc::EPOLL_CTL_MOD, fd, want);
        }
        match r {
            Ok(()) => {
                entry.registered = want;
                let user_data = w.req.user_data();
                entry.waiters.push(w);
                g.by_user_data.entry(user_data).or_default().push(fd);
                // SeqCst, then the flag: pairs with `settle_taskrun`'s clear-then-read,
                // so one of the two sees the other and the flag stays while we wait.
                e.reactor.waiting.fetch_add(1, Ordering::SeqCst);
                if e.det.is_none() {
                    e.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
                }
                Ok(())
            }
            Err(err) => {
                if entry.waiters.is_empty() {
                    g.fds.remove(&fd);
                }
                if err == libc::EPERM {
                    Err(Refused::NotPollable(w))
                } else {
                    Err(Refused::Fail(w, -err))
                }
            }
        }
    }

    /// Creates the epoll set and the wake eventfd and starts the thread.
    fn start(g: &mut Inner, e: &Arc<Engine>) -> Result<(), i32> {
        // SAFETY: epoll_create1 has no memory arguments.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(op::neg_errno());
        }
        // SAFETY: a fresh fd we own.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        // SAFETY: eventfd has no memory arguments.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(op::neg_errno());
        }
        // SAFETY: a fresh fd we own.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE,
        };
        // SAFETY: valid fds and a valid event.
        if unsafe {
            libc::epoll_ctl(
                ep.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                wake.as_raw_fd(),
                &mut ev,
            )
        } < 0
        {
            return Err(op::neg_errno());
        }
        if e.det.is_some() {
            // Deterministic mode: no thread; the ring's `enter` reaps the set itself
            // (`poll_once`, det.rs).
            g.epoll = Some(ep);
            g.wake = Some(wake);
            return Ok(());
        }
        let weak = Arc::downgrade(e);
        let epfd = ep.as_raw_fd();
        let handle = std::thread::Builder::new()
            .name("uring-reactor".into())
            .spawn(move || run(weak, epfd))
            .map_err(|err| -err.raw_os_error().unwrap_or(libc::EAGAIN))?;
        g.epoll = Some(ep);
        g.wake = Some(wake);
        g.handle = Some(handle);
        Ok(())
    }

    /// Deterministic mode: reaps what is ready, waiting up to `timeout_ms`, and
    /// handles it on the caller's thread, as the reactor thread would. Returns whether
    /// anything was ready.
    pub(crate) fn poll_once(&self, e: &Arc<Engine>, timeout_ms: i32) -> bool {
        let epfd = {
            let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if !g.fds.values().any(|f| !f.waiters.is_empty()) {
                return false;
            }
            match &g.epoll {
                Some(ep) => ep.as_raw_fd(),
                None => return false,
            }
        };
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: `evs` has room for 64 events; `epfd` stays open while the reactor
        // lives, which the caller's reference to the engine guarantees.
        let n = unsafe { libc::epoll_wait(epfd, evs.as_mut_ptr(), 64, timeout_ms) };
        if n <= 0 {
            return false;
        }
        handle(e, epfd, &evs[..n as usize]);
        true
    }

    /// What `enter` does before it reaps (`IORING_ENTER_GETEVENTS`): handles what is
    /// ready on the caller's thread, or waits for the thread handling it now
    /// ([`run_ready`](Self::run_ready)), when requests wait here. An enter that only
    /// reaps (`reaping`) always does, so that what became ready before it has posted
    /// its CQEs when it returns; one that submitted too (liburing adds
    /// `IORING_ENTER_GETEVENTS` to every submit while the ring shows
    /// `IORING_SQ_TASKRUN`, which it does while requests wait here) only when the
    /// reactor thread found something ready since the last pass (`signalled`): a
    /// program that re-arms a poll per CQE would otherwise take every event out of the
    /// set one submit at a time, ahead of the reactor thread, which then wakes for
    /// nothing (liburing's poll-mshot-update: ten times the `epoll_wait`s, 11% more
    /// CPU). What such a submit leaves is handled by the reactor thread, or by the
    /// program's next reaping enter (a peek of an empty CQ enters while the flag
    /// shows). Nothing at all when no request waits.
    #[inline]
    pub(crate) fn drive(&self, e: &Arc<Engine>, reaping: bool) {
        if self.waiting.load(Ordering::Relaxed) != 0
            && (reaping || self.signalled.load(Ordering::Relaxed))
        {
            self.run_ready(e);
        }
    }

    /// Takes what is ready out of the epoll set, without waiting, and issues it on the
    /// caller's thread, once no other thread is doing so (waiting for one that is, so
    /// that what it found has posted its CQEs when this returns). False once the
    /// reactor is shut down.
    pub(crate) fn run_ready(&self, e: &Arc<Engine>) -> bool {
        let epfd = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            while g.handling {
                g.handling_waiters += 1;
                g = self.idle.wait(g).unwrap_or_else(|p| p.into_inner());
                g.handling_waiters -= 1;
            }
            if g.shut {
                return false;
            }
            let Some(ep) = &g.epoll else { return true };
            let epfd = ep.as_raw_fd();
            g.handling = true;
            epfd
        };
        let _handling = Handling(self);
        // This pass takes out what the reactor thread was woken for.
        self.signalled.store(false, Ordering::Relaxed);
        const BATCH: usize = 64;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            // SAFETY: `evs` has room for BATCH events; `epfd` stays open while the
            // reactor lives, which the caller's reference to the engine guarantees.
            let n = unsafe { libc::epoll_wait(epfd, evs.as_mut_ptr(), BATCH as i32, 0) };
            if n <= 0 {
                return true;
            }
            if !handle(e, epfd, &evs[..n as usize]) {
                return false;
            }
            if (n as usize) < BATCH {
                return true;
            }
        }
    }

    /// Whether requests wait here (the one being issued counts): the ring then shows
    /// `IORING_SQ_TASKRUN`, which the other users of the flag leave set.
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) != 0
    }

    /// Keeps `IORING_SQ_TASKRUN` set while requests wait here, and clears it when
    /// none does and neither deferred completions (after `enter` flushed those) nor
    /// direct I/O on the device (`aio.rs`) need it.
    #[inline]
    pub(crate) fn settle_taskrun(&self, e: &Engine) {
        if self.waiting.load(Ordering::Relaxed) != 0
            || e.rings.sq_flags().load(Ordering::Relaxed) & sys::IORING_SQ_TASKRUN != 0
        {
            self.settle_taskrun_now(e);
        }
    }

    #[cold]
    fn settle_taskrun_now(&self, e: &Engine) {
        if e.det.is_some() {
            return;
        }
        let flags = e.rings.sq_flags();
        if self.waiting.load(Ordering::SeqCst) != 0 {
            e.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
            return;
        }
        if flags.load(Ordering::Relaxed) & sys::IORING_SQ_TASKRUN == 0 {
            return;
        }
        let st = e.cq.lock().expect("cq");
        if st.deferred.is_empty() && !e.aio.wants_enter(e) {
            e.rings.clear_sq_flag(sys::IORING_SQ_TASKRUN);
            // Paired with `try_arm`'s count-then-set: a request armed meanwhile has
            // counted itself by now or sets the flag after this clear.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.waiting.load(Ordering::SeqCst) != 0 {
                e.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
            }
        }
    }

    /// How many requests went from here to the worker pool so far. A cancellation
    /// that found nothing reads it before and after its looks: a request that moved
    /// meanwhile (from the reactor, looked at after the pool's queue, to the queue or
    /// a worker) may have passed behind its looks, so it looks again
    /// (`op::cancel::find`). `Acquire`: pairs with the `Release` increment in
    /// [`count_move`](Self::count_move), made after the request was queued.
    pub(crate) fn moves(&self) -> u64 {
        self.moved.load(Ordering::Acquire)
    }

    /// Counts a request sent from here to the worker pool, once it is queued there;
    /// `Release`: pairs with [`moves`](Self::moves). (A canceller that waited for the
    /// request being issued also sees it through the lock: the count comes before
    /// `Inner::busy` is cleared.)
    fn count_move(&self) {
        self.moved.fetch_add(1, Ordering::Release);
    }

    /// One request less waits here (saturating: shutdown forgets them all at once,
    /// and the one being issued then still counts itself out).
    fn done_waiting(&self) {
        let _ = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// The epoll set's fd, while requests wait in it (deterministic mode polls it).
    pub(crate) fn armed_fd(&self) -> Option<RawFd> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.fds.values().any(|f| !f.waiters.is_empty()) {
            g.epoll.as_ref().map(AsRawFd::as_raw_fd)
        } else {
            None
        }
    }

    /// Takes out parked requests matching `pred` (all of them, or the first), for
    /// cancellation; the caller completes them. A matching request that the reactor
    /// is issuing at this moment is waited for (one non-blocking attempt), then looked
    /// for again: it has completed, or is back in its list.
    pub(crate) fn take_matching(
        &self,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        self.take(None, pred, all)
    }

    /// [`take_matching`](Self::take_matching) among the requests of `user_data` only,
    /// found through their index rather than by looking at every waiter.
    pub(crate) fn take_user_data(
        &self,
        user_data: u64,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        self.take(Some(user_data), pred, all)
    }

    fn take(
        &self,
        user_data: Option<u64>,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        let mut out = Vec::new();
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let inner = &mut *g;
            let mut fds: Vec<RawFd> = match user_data {
                Some(ud) => inner.by_user_data.get(&ud).cloned().unwrap_or_default(),
                None => inner.fds.keys().copied().collect(),
            };
            fds.sort_unstable();
            fds.dedup();
            for fd in fds {
                let Some(entry) = inner.fds.get_mut(&fd) else {
                    continue;
                };
                let mut i = 0;
                while i < entry.waiters.len() {
                    let r = &entry.waiters[i].req;
                    if user_data.is_none_or(|ud| r.user_data() == ud) && pred(r) {
                        let req = entry.waiters.remove(i).req;
                        unindex(&mut inner.by_user_data, req.user_data(), fd);
                        self.done_waiting();
                        out.push(req);
                        if !all {
                            return out;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            let busy = match &g.busy {
                Some(b) if b.thread != std::thread::current().id() => {
                    let mut ghost = Req::new(b.sqe, [0; 64]);
                    ghost.fd = b.fd;
                    ghost.ltimeout = b.ltimeout;
                    pred(&ghost).then_some(b.seq)
                }
                _ => None,
            };
            let Some(seq) = busy else {
                return out;
            };
            while g.busy.as_ref().is_some_and(|b| b.seq == seq) {
                g = self.idle.wait(g).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Stops the reactor thread, if any, and cancels what waits (`-ECANCELED`).
    pub(crate) fn shutdown(&self, e: &Arc<Engine>) {
        let (handle, parked) = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            g.shut = true;
            if let Some(w) = &g.wake {
                wake(w.as_raw_fd());
            }
            g.ready.clear();
            g.by_user_data.clear();
            let parked: Vec<Box<Req>> = g
                .fds
                .drain()
                .flat_map(|(_, f)| f.waiters.into_iter().map(|w| w.req))
                .collect();
            self.waiting.store(0, Ordering::SeqCst);
            (g.handle.take(), parked)
        };
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        for r in parked {
            e.complete(r, -libc::ECANCELED);
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        let g = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        g.shut = true;
        if let Some(w) = &g.wake {
            wake(w.as_raw_fd());
        }
        if let Some(h) = g.handle.take()
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

/// Ends a thread's turn at handling readiness (`Inner::handling`), however it ends.
struct Handling<'a>(&'a Reactor);

impl Drop for Handling<'_> {
    fn drop(&mut self) {
        let mut g = self.0.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.handling = false;
        let waiters = g.handling_waiters;
        drop(g);
        if waiters > 0 {
            self.0.idle.notify_all();
        }
    }
}

fn wake(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writing 8 bytes from a valid u64 to an eventfd we own.
    unsafe { libc::write(fd, (&raw const one).cast(), 8) };
}

/// `epoll_ctl(2)` for `fd` with `events`, edge-triggered; `Err(errno)`.
fn ctl(epfd: RawFd, op: i32, fd: RawFd, events: u32) -> Result<(), i32> {
    let mut ev = libc::epoll_event {
        events: events | libc::EPOLLET as u32,
        u64: fd as u64,
    };
    // SAFETY: a valid event; the fds are plain integers to the kernel.
    if unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } < 0 {
        Err(-op::neg_errno())
    } else {
        Ok(())
    }
}

/// What `poll(2)` reports for `fd` now (`-EBADF` for a closed fd).
pub(crate) fn poll_now(fd: RawFd, events: i16) -> Result<u32, i32> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut pfd, 1, 0) };
    if r < 0 {
        return Err(op::neg_errno());
    }
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(-libc::EBADF);
    }
    Ok(pfd.revents as u16 as u32)
}

/// Issues a request the reactor found ready, inline on the reactor thread.
fn reissue(e: &Arc<Engine>, mut req: Box<Req>) {
    if req.fault.is_some() && crate::fault::at_retry(&mut req) {
        // An injected interrupted retry: restarted on the worker pool (fault.rs).
        return to_worker(e, req);
    }
    let def = op::def(req.opcode()).expect("parked requests have an entry");
    match (def.issue)(req, e, Mode::Inline) {
        Step::Done(r, res) => e.complete(r, res),
        Step::Block(r) => to_worker(e, r),
        Step::Wait(r, events) => e.wait_ready(r, events),
        Step::Parked => {}
    }
}

/// Sends a request whose retry must block to the worker pool, counting the move
/// ([`Reactor::moves`]).
fn to_worker(e: &Arc<Engine>, req: Box<Req>) {
    e.punt(req);
    e.reactor.count_move();
}

/// The reactor thread: sleeps until something in the set is ready, then handles it
/// ([`Reactor::run_ready`]: the events are taken out of the set by whichever thread
/// handles them, never while another does).
fn run(engine: Weak<Engine>, epfd: RawFd) {
    // The kernel's io threads take no signals (see wq.rs).
    crate::wq::block_signals(false);
    loop {
        let mut pfd = libc::pollfd {
            fd: epfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; `epfd` stays open until this thread is joined
        // (`Reactor::shutdown` / `Drop`).
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        let Some(e) = engine.upgrade() else { return };
        e.reactor.signalled.store(true, Ordering::Relaxed);
        if !e.reactor.run_ready(&e) {
            return;
        }
    }
}

/// Handles the events `epoll_wait` returned: marks the waiters they concern ready
/// (posting multishot poll CQEs at once, under the lock, so a removal that takes the
/// request out sees no CQE after its own), then issues or completes the ready ones,
/// one at a time, each in view of cancellation (`Inner::busy`). False once the
/// reactor is shut down.
fn handle(e: &Arc<Engine>, epfd: RawFd, evs: &[libc::epoll_event]) -> bool {
    let reactor = &e.reactor;
    let mut g = reactor.inner.lock().unwrap_or_else(|p| p.into_inner());
    if g.shut {
        return false;
    }
    let inner = &mut *g;
    for ev in evs {
        let (revents, data) = (ev.events, ev.u64);
        if data == WAKE {
            continue;
        }
        let fd = data as RawFd;
        let Some(entry) = inner.fds.get_mut(&fd) else {
            ctl_del(epfd, fd);
            continue;
        };
        if entry.waiters.is_empty() {
            // Nobody waits any more (registrations are kept between waits, saving a
            // system call per wait): stop watching.
            ctl_del(epfd, fd);
            inner.fds.remove(&fd);
            continue;
        }
        for w in entry.waiters.iter_mut() {
            let mask = w.matches(revents);
            if mask == 0 || w.ready {
                continue;
            }
            if w.kind == (Kind::Poll { multishot: true })
                && e.post_more(w.req.user_data(), mask as i32, 0)
            {
                continue;
            }
            // A oneshot poll, a retry, or a multishot poll whose CQE found the CQ full:
            // completed with the mask (the multishot's final CQE).
            w.ready = true;
            w.mask = mask;
            inner.ready.push_back(fd);
        }
    }
    loop {
        let Some(fd) = g.ready.pop_front() else {
            return true;
        };
        let Some(entry) = g.fds.get_mut(&fd) else {
            continue;
        };
        let Some(i) = entry.waiters.iter().position(|w| w.ready) else {
            // Taken by a cancellation meanwhile.
            continue;
        };
        let w = entry.waiters.remove(i);
        unindex(&mut g.by_user_data, w.req.user_data(), fd);
        g.seq += 1;
        let seq = g.seq;
        g.busy = Some(Busy {
            sqe: w.req.sqe,
            fd: w.req.fd,
            ltimeout: w.req.ltimeout,
            seq,
            thread: std::thread::current().id(),
        });
        drop(g);
        match w.kind {
            Kind::Poll { .. } => e.complete(w.req, w.mask as i32),
            Kind::Retry => reissue(e, w.req),
        }
        // Counted out only now, so `drive` sees it waiting while it is issued (a
        // retry waiting again has counted itself in by now).
        reactor.done_waiting();
        g = reactor.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.busy = None;
        reactor.idle.notify_all();
        if g.shut {
            return false;
        }
    }
}

/// Forgets one wait of `user_data` on `fd` in the index (`Inner::by_user_data`).
fn unindex(index: &mut HashMap<u64, Vec<RawFd>>, user_data: u64, fd: RawFd) {
    if let Some(fds) = index.get_mut(&user_data) {
        if let Some(i) = fds.iter().position(|&f| f == fd) {
            fds.swap_remove(i);
        }
        if fds.is_empty() {
            index.remove(&user_data);
        }
    }
}

fn ctl_del(epfd: RawFd, fd: RawFd) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: plain integers and a valid (ignored) event.
    unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
}
