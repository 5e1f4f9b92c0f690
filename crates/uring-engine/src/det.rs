//! Deterministic mode ([`crate::Config::deterministic`]): one thread, and an order of
//! events chosen by a seeded generator among those io_uring allows.
//!
//! # How it runs
//! No worker, reactor, timer or SQ poll thread is started (SQPOLL is refused at
//! setup). Everything happens inside `io_uring_enter`, on the caller's thread:
//! - each request gets a random *key* when its SQE is consumed (SQ order, so the keys
//!   depend only on the seed and the program);
//! - starting a request, running its blocking part (what the threaded engine hands
//!   to a worker), and issuing it again when its fd became ready are *items* queued
//!   by that key, and `enter` runs them smallest key first until nothing is runnable;
//! - work of the pool's bounded class (regular files, work without a file) runs in
//!   `Mode::Worker` on this thread: it may block, but it always finishes; work of the
//!   unbounded class (pipes, sockets, futex and child waits) is only ever attempted
//!   without blocking: what cannot progress waits on a *blocked* list and is tried
//!   again once something else has run;
//! - requests waiting for readiness (a pipe or socket that said `EAGAIN`) are parked
//!   on a list and retried when `poll(2)` says their fd is ready;
//! - `POLL_ADD` requests wait in the reactor's epoll set, which `enter` reaps without
//!   the reactor's thread.
//!
//! # Time is virtual
//! The timers (`timer.rs`, without their thread) run on a virtual clock that starts at
//! the real monotonic time and advances only while the application waits in `enter`
//! with nothing runnable: then it jumps to the next deadline (a timeout, an injected
//! delay, the wait's own timeout). A 10-second timeout fires at once if nothing else
//! can happen first, and it fires at the same point of the sequence on every run, on
//! a loaded machine or not. Only while requests wait for something only the outside
//! world can bring (a parked fd, a blocked futex or child wait) does the clock follow
//! real time, for as long as the wait lasts.
//!
//! # What is ordered, and what io_uring still guarantees
//! Independent requests complete in the order of their keys: a random permutation,
//! whatever the SQ order, the page cache or the machine's speed (a read that the
//! threaded engine would finish inline or on a worker finishes at the same point of the
//! sequence either way, because its item keeps its key). Within that, every guarantee
//! of io_uring holds because the engine's own logic enforces it: a linked request is
//! issued only once its predecessor completed (so its CQE follows), a multishot
//! request's CQEs come in order, `IOSQE_IO_DRAIN` waits for everything before it,
//! `CQE_SKIP_SUCCESS` posts nothing on success. Independent requests in one submission
//! may be *issued* in any order too, as they may on the kernel (a request punted to
//! io-wq runs after later ones): a program that needs an order uses links.
//!
//! # What makes a run differ
//! Only what comes from outside the program: another thread or process writing to a
//! pipe or socket the ring waits on, waking a futex, a child exiting, or a peer on the
//! network. A program whose I/O is among its own files, pipes and sockets, with its
//! own timers, gets the same CQEs, in the same order, with the same results, for the
//! same seed. (A multi-threaded program sharing the ring, or another thread's
//! `MSG_RING` into it, is such an outside event.)
//!
//! # What a program sees differently from the threaded engine
//! - `IORING_SETUP_SQPOLL` is refused (`EINVAL`): a polling thread is what this mode
//!   rules out.
//! - Nothing runs concurrently with the application: a cancellation never finds a
//!   request running (`-EALREADY`); with `IORING_REGISTER_EVENTFD_ASYNC` nothing is
//!   ever completed "from io-wq"; elapsed real time is not what the timeouts say
//!   (virtual time).
//! - Blocking work runs on this thread: a `SPLICE`/`TEE` first waits for its pipes; a
//!   futex wait is retried without blocking and completes when the futex word
//!   changes (a `FUTEX_WAKE` that leaves the word as it was does not wake it); an op
//!   on a file without `RWF_NOWAIT` that blocks (a terminal read) blocks the ring.
//! - Order-dependent programs see other orders: that is the point.
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Rng;
use crate::engine::Engine;
use crate::op::{self, Mode, Step};
use crate::req::Req;
use crate::wq::Class;
use uring_sys as sys;

/// Nanoseconds on the timers' (virtual) clock.
type Nanos = u64;

/// Longest single real-time wait inside `enter`, so that an event no `poll(2)` here
/// sees (a post from another thread, a futex woken) is noticed soon.
const SLICE: Duration = Duration::from_millis(10);

/// The deterministic scheduler of one ring.
pub(crate) struct Det {
    st: Mutex<State>,
}

struct State {
    keys: Rng,
    /// Tie-breaker for equal keys (and the order of items of one request).
    seq: u64,
    runnable: BinaryHeap<Entry>,
    /// Work of the unbounded class that could not progress, tried again once
    /// something else ran.
    blocked: Vec<Box<Req>>,
    /// Parked until this fd (the request's, or the input of a SPLICE) is ready for
    /// these events.
    waiting: Vec<(Box<Req>, RawFd, i16)>,
    /// Held back by an injected delay until then (virtual clock).
    delayed: Vec<(Nanos, Box<Req>)>,
    /// The key of the unbounded work being attempted: if it hands itself to the pool
    /// again, it is blocked.
    attempting: Option<u64>,
    /// Items run since the blocked list was last retried.
    progress: u64,
}

enum Item {
    /// Start a submitted request (or chain): `Engine::start_now`.
    Start(Box<Req>),
    /// Issue a request (a link successor whose predecessor completed, a delayed
    /// request that is due): `Engine::issue`.
    Issue(Box<Req>),
    /// The part the threaded engine gives the worker pool, of this class.
    Work(Box<Req>, Class),
    /// Its fd became ready: issue again, inline.
    Ready(Box<Req>),
}

impl Item {
    fn req(&self) -> &Req {
        match self {
            Item::Start(r) | Item::Issue(r) | Item::Work(r, _) | Item::Ready(r) => r,
        }
    }

    fn into_req(self) -> Box<Req> {
        match self {
            Item::Start(r) | Item::Issue(r) | Item::Work(r, _) | Item::Ready(r) => r,
        }
    }
}

struct Entry {
    key: u64,
    seq: u64,
    item: Item,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.key, self.seq) == (o.key, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed: `BinaryHeap` is a max-heap and we run the smallest key first.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.key, o.seq).cmp(&(self.key, self.seq))
    }
}

impl State {
    fn push(&mut self, item: Item) {
        self.seq += 1;
        let (key, seq) = (item.req().key, self.seq);
        self.runnable.push(Entry { key, seq, item });
    }
}

impl Det {
    pub(crate) fn new(seed: u64) -> Det {
        Det {
            st: Mutex::new(State {
                keys: Rng::new(seed),
                seq: 0,
                runnable: BinaryHeap::new(),
                blocked: Vec::new(),
                waiting: Vec::new(),
                delayed: Vec::new(),
                attempting: None,
                progress: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key of a request whose SQE is being consumed.
    pub(crate) fn key(&self) -> u64 {
        self.lock().keys.next_u64()
    }

    /// The earliest time a request held back by an injected delay is due.
    pub(crate) fn next_delayed(&self) -> Option<Nanos> {
        self.lock().delayed.iter().map(|(t, _)| *t).min()
    }

    /// How many requests wait for their fd to be ready.
    pub(crate) fn parked(&self) -> usize {
        self.lock().waiting.len()
    }

    /// `Engine::start`: a submitted request, started when its key comes up.
    pub(crate) fn start(&self, req: Box<Req>) {
        self.lock().push(Item::Start(req));
    }

    /// `Engine::complete` issuing a link successor.
    pub(crate) fn issue(&self, req: Box<Req>) {
        self.lock().push(Item::Issue(req));
    }

    /// `Wq::push`: the work a worker would do, run in this thread when its key comes
    /// up; unbounded work handing itself back while attempted is blocked.
    pub(crate) fn work(&self, req: Box<Req>, class: Class) {
        let mut st = self.lock();
        if class == Class::Unbounded && st.attempting == Some(req.key) {
            st.blocked.push(req);
        } else {
            st.push(Item::Work(req, class));
        }
    }

    /// `Engine::wait_ready`: parked until its fd is ready.
    pub(crate) fn park(&self, req: Box<Req>, events: i16) {
        let fd = req.fd;
        self.lock().waiting.push((req, fd, events));
    }

    /// An injected delay: issued again once the virtual clock reaches `until`.
    pub(crate) fn delay(&self, req: Box<Req>, until: Nanos) {
        self.lock().delayed.push((until, req));
    }

    /// Runs everything runnable, smallest key first, and the timers due on the
    /// virtual clock, until nothing is left: what `enter` does after submitting.
    /// Blocks only in bounded work (`Mode::Worker` on a regular file).
    pub(crate) fn run(&self, e: &Arc<Engine>) {
        // Whatever blocked may progress now that the application has run.
        self.lock().progress += 1;
        loop {
            self.run_items(e);
            // Poll requests the reactor's epoll set holds (no reactor thread).
            if e.reactor.poll_once(e, 0) {
                continue;
            }
            let now = e.timers.now();
            if e.timers.next_deadline().is_none_or(|d| d > now) {
                break;
            }
            // Timers complete their requests inline, outside our lock.
            e.timers.run_expired(e, now);
        }
    }

    fn run_items(&self, e: &Arc<Engine>) {
        loop {
            let next = {
                let mut st = self.lock();
                if st.runnable.is_empty() {
                    self.refill(e, &mut st);
                }
                st.runnable.pop()
            };
            // The lock is released: the item's own completions and hand-offs queue
            // more items.
            let Some(entry) = next else { break };
            self.execute(e, entry.item);
        }
    }

    /// Refills an empty runnable queue from what became due or ready, and retries
    /// the blocked list once something ran since its last try.
    fn refill(&self, e: &Arc<Engine>, st: &mut State) {
        let now = e.timers.now();
        promote_delayed(st, now);
        if !st.waiting.is_empty() {
            poll_waiting(st, 0);
        }
        if st.runnable.is_empty() && !st.blocked.is_empty() && st.progress > 0 {
            st.progress = 0;
            for req in std::mem::take(&mut st.blocked) {
                st.push(Item::Work(req, Class::Unbounded));
            }
        }
    }

    fn execute(&self, e: &Arc<Engine>, item: Item) {
        let is_retry = matches!(item, Item::Work(_, Class::Unbounded));
        match item {
            Item::Start(req) => e.start_now(req, Mode::Inline),
            Item::Issue(req) => e.issue(req, Mode::Inline),
            Item::Ready(req) => {
                let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
                e.observe_issue(&req);
                let step = (def.issue)(req, e, Mode::Inline);
                self.dispatch(e, step, Class::Unbounded);
            }
            Item::Work(req, _) if splice_blocker(e, &req).is_some() => {
                // A SPLICE or TEE would block a worker on a pipe: wait for the pipe.
                let (fd, events) = splice_blocker(e, &req).expect("just checked");
                self.lock().waiting.push((req, fd, events));
            }
            Item::Work(req, Class::Bounded) => {
                // Finite work: do it blocking, as the worker would.
                let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
                e.observe_issue(&req);
                // A worker's work, on the application's thread: no SIGXFSZ for it.
                let step = crate::wq::without_sigxfsz(|| (def.issue)(req, e, Mode::Worker));
                self.dispatch(e, step, Class::Bounded);
            }
            Item::Work(req, Class::Unbounded) => {
                // Work that may wait forever: only a non-blocking attempt.
                self.lock().attempting = Some(req.key);
                let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
                e.observe_issue(&req);
                let step = (def.issue)(req, e, Mode::Inline);
                self.lock().attempting = None;
                self.dispatch(e, step, Class::Unbounded);
            }
        }
        if !is_retry {
            self.lock().progress += 1;
        }
    }

    fn dispatch(&self, e: &Arc<Engine>, step: Step, class: Class) {
        match step {
            Step::Done(r, res) => e.complete(r, res),
            // Blocking work that still cannot finish: later.
            Step::Block(r) if class == Class::Bounded => self.lock().blocked.push(r),
            // The op needs the blocking path (a forced-async op, a file without
            // RWF_NOWAIT): a worker's part, which waits for nothing but the system
            // call (SPLICE/TEE wait for their pipes first, see `splice_blocker`).
            Step::Block(r) => self.lock().push(Item::Work(r, Class::Bounded)),
            Step::Wait(r, events) => self.park(r, events),
            Step::Parked => {}
        }
    }

    /// `io_cqring_wait` in this mode: runs what can run and, while fewer than `want`
    /// CQEs are ready, lets time pass (virtually, or really while requests wait on the
    /// outside world).
    pub(crate) fn wait(
        &self,
        e: &Arc<Engine>,
        want: u32,
        deadline: Option<Instant>,
        min_until: Option<Instant>,
    ) -> Result<(), i32> {
        // The wait's own deadlines, on the virtual clock.
        let (real0, virt0) = (Instant::now(), e.timers.now());
        let virt = |t: Instant| {
            virt0.saturating_add(t.saturating_duration_since(real0).as_nanos() as Nanos)
        };
        let deadline = deadline.map(virt);
        let min_until = min_until.map(virt);
        loop {
            self.run(e);
            e.flush();
            let ready = e.rings.cq_used();
            if ready >= want {
                return Ok(());
            }
            let now = e.timers.now();
            if min_until.is_some_and(|m| now >= m) && ready > 0 {
                return Ok(());
            }
            if deadline.is_some_and(|d| now >= d) {
                return Err(-libc::ETIME);
            }
            // Nothing can run: let time pass until something may.
            let (mut fds, delay, mut outside) = {
                let st = self.lock();
                (
                    pollfds(&st),
                    st.delayed.iter().map(|(t, _)| *t).min(),
                    !st.waiting.is_empty() || !st.blocked.is_empty(),
                )
            };
            if let Some(ep) = e.reactor.armed_fd() {
                fds.push(libc::pollfd {
                    fd: ep,
                    events: libc::POLLIN,
                    revents: 0,
                });
                outside = true;
            }
            let next = [
                deadline,
                min_until.filter(|_| ready > 0),
                e.timers.next_deadline(),
                delay,
            ]
            .into_iter()
            .flatten()
            .min();
            if outside {
                // Requests wait for the outside world: wait for it in real time, up to
                // the next deadline, and let the virtual clock follow.
                let span = next.map_or(SLICE, |n| {
                    Duration::from_nanos(n.saturating_sub(now)).min(SLICE)
                });
                let t = Instant::now();
                if fds.is_empty() {
                    std::thread::sleep(span.min(Duration::from_millis(1)));
                } else {
                    let ms = span.as_micros().div_ceil(1000) as i32;
                    // SAFETY: `fds` is a valid array of `fds.len()` pollfds. Without
                    // the lock: what became ready is taken by the next `run`.
                    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
                }
                let passed = (t.elapsed().as_nanos() as Nanos).min(span.as_nanos() as Nanos);
                e.timers.run_expired(e, now.saturating_add(passed));
                self.lock().progress += 1;
            } else if let Some(n) = next {
                // Nothing but time can make progress: jump to the next deadline.
                e.timers.run_expired(e, n);
            } else {
                // Nothing in flight here; another thread may still post (MSG_RING).
                let _ = e.wait(want, Some(Instant::now() + SLICE), None);
            }
        }
    }

    /// Takes out queued, blocked, parked and delayed requests matching `pred`
    /// (cancellation).
    pub(crate) fn take_matching(
        &self,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        let mut st = self.lock();
        let mut out = Vec::new();
        let mut keep = Vec::new();
        // In key order, so which one "the first" is does not depend on heap layout.
        while let Some(entry) = st.runnable.pop() {
            if (all || out.is_empty()) && pred(entry.item.req()) {
                out.push(entry.item.into_req());
            } else {
                keep.push(entry);
            }
        }
        st.runnable.extend(keep);
        take_from(&mut st.blocked, |r| r, |r| r, &mut out, pred, all);
        take_from(
            &mut st.waiting,
            |(r, _, _)| r,
            |(r, _, _)| r,
            &mut out,
            pred,
            all,
        );
        take_from(&mut st.delayed, |(_, r)| r, |(_, r)| r, &mut out, pred, all);
        out
    }

    /// Teardown: drops every request held (no thread can touch them afterwards).
    pub(crate) fn clear(&self) {
        let mut st = self.lock();
        st.runnable.clear();
        st.blocked.clear();
        st.waiting.clear();
        st.delayed.clear();
    }
}

/// Moves the elements of `v` whose request matches `pred` to `out` (all, or until
/// `out` has one).
fn take_from<T>(
    v: &mut Vec<T>,
    req: fn(&T) -> &Box<Req>,
    into: fn(T) -> Box<Req>,
    out: &mut Vec<Box<Req>>,
    pred: &mut dyn FnMut(&Req) -> bool,
    all: bool,
) {
    let mut i = 0;
    while i < v.len() {
        if (all || out.is_empty()) && pred(req(&v[i])) {
            out.push(into(v.remove(i)));
        } else {
            i += 1;
        }
    }
}

/// Moves delayed requests that are due to the runnable queue.
fn promote_delayed(st: &mut State, now: Nanos) {
    let mut i = 0;
    while i < st.delayed.len() {
        if st.delayed[i].0 <= now {
            let req = st.delayed.swap_remove(i).1;
            st.push(Item::Issue(req));
        } else {
            i += 1;
        }
    }
}

/// `poll(2)` on the parked fds for up to `timeout_ms`; moves the ready ones to the
/// runnable queue.
fn poll_waiting(st: &mut State, timeout_ms: i32) {
    let mut fds = pollfds(st);
    // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n <= 0 {
        return;
    }
    // Backwards, so removals keep the remaining indexes valid.
    for i in (0..fds.len()).rev() {
        if fds[i].revents != 0 {
            let (req, _, _) = st.waiting.remove(i);
            st.push(Item::Ready(req));
        }
    }
}

/// The parked requests' fds, in list order.
fn pollfds(st: &State) -> Vec<libc::pollfd> {
    st.waiting
        .iter()
        .map(|&(_, fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect()
}

fn is_splice(req: &Req) -> bool {
    matches!(req.opcode(), sys::IORING_OP_SPLICE | sys::IORING_OP_TEE)
}

/// What a `SPLICE` or `TEE` would block on in a worker: an input pipe with nothing
/// to read, or an output pipe that is full (regular files never block it for long).
/// The threaded engine lets a worker block there; one thread cannot, so it waits for
/// the pipe to be ready first.
fn splice_blocker(e: &Engine, req: &Req) -> Option<(RawFd, i16)> {
    if !is_splice(req) {
        return None;
    }
    // SAFETY: plain integers over the same bytes.
    let mut fd_in = unsafe { req.sqe.splice_fd_in_or_file_index.splice_fd_in };
    if req.op_flags() & sys::SPLICE_F_FD_IN_FIXED != 0 {
        use std::os::fd::AsRawFd;
        let files = e.files.read().unwrap_or_else(|p| p.into_inner());
        // The table keeps the file open; a slot emptied meanwhile fails the op.
        fd_in = files.get(fd_in as u32).map_or(-1, |f| f.as_raw_fd());
    }
    [(fd_in, libc::POLLIN), (req.fd, libc::POLLOUT)]
        .into_iter()
        .find(|&(fd, events)| {
            fd >= 0
                && !op::rw::is_regular(fd)
                && crate::reactor::poll_now(fd, events).is_ok_and(|m| m == 0)
        })
}
