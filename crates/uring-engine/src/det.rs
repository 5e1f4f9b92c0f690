//! Deterministic mode ([`crate::Config::deterministic`]): one thread, and an order of
//! events chosen by a seeded generator among those io_uring allows.
//!
//! # How it runs
//! No worker, reactor, timer or SQ poll thread is started (SQPOLL is refused at
//! setup). Everything happens inside `io_uring_enter`, on the caller's thread:
//! - each request gets a random *key* when its SQE is consumed (SQ order, so the keys
//!   depend only on the seed and the program);
//! - starting a request, running its blocking part (what the threaded engine punts to
//!   a worker: here run in `Mode::Worker` on this thread), and re-issuing it when its
//!   fd became ready are *items* queued by that key, and `enter` runs them smallest key
//!   first until nothing is runnable;
//! - requests waiting for readiness (a pipe or socket that said `EAGAIN`) are parked
//!   on a list and retried when `poll(2)` says their fd is ready; when the application
//!   waits for CQEs and nothing can run, `enter` polls their fds, with a timeout up to
//!   the next delay or wait deadline.
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
//! Only what comes from outside the program: readiness caused by other processes or
//! the network, and real time (delays, timeouts, wait deadlines are wall-clock).
//! A program whose I/O is among its own files, pipes and sockets gets the same CQEs,
//! in the same order, with the same results, for the same seed.
//!
//! # What blocks
//! An op that can only wait by blocking a thread (in `Mode::Worker`, for a file that
//! is not regular and that said it cannot be tried without blocking) blocks this one
//! thread, and with it the ring. The engine's socket and pipe ops wait by readiness,
//! not by blocking.
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Rng;
use crate::engine::Engine;
use crate::op::{self, Mode, Step};
use crate::req::Req;

/// Longest single wait inside `enter`: another thread may post to this ring
/// (`MSG_RING` from another ring), which neither `poll(2)` on the parked fds nor a
/// sleep would notice.
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
    /// Parked until their fd is ready for these events.
    waiting: Vec<(Box<Req>, i16)>,
    /// Held back by an injected delay until then.
    delayed: Vec<(Instant, Box<Req>)>,
}

enum Item {
    /// Start a submitted request (or chain): `Engine::start_now`.
    Start(Box<Req>),
    /// A link successor whose predecessor completed: `Engine::issue`.
    Issue(Box<Req>),
    /// The blocking part (the threaded engine's worker): true once an inline attempt
    /// was made.
    Punted(Box<Req>, bool),
    /// Its fd became ready: issue again.
    Ready(Box<Req>),
}

impl Item {
    fn req(&self) -> &Req {
        match self {
            Item::Start(r) | Item::Issue(r) | Item::Punted(r, _) | Item::Ready(r) => r,
        }
    }

    fn into_req(self) -> Box<Req> {
        match self {
            Item::Start(r) | Item::Issue(r) | Item::Punted(r, _) | Item::Ready(r) => r,
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

impl Det {
    pub(crate) fn new(seed: u64) -> Det {
        Det {
            st: Mutex::new(State {
                keys: Rng::new(seed),
                seq: 0,
                runnable: BinaryHeap::new(),
                waiting: Vec::new(),
                delayed: Vec::new(),
            }),
        }
    }

    /// The key of a request whose SQE is being consumed.
    pub(crate) fn key(&self) -> u64 {
        self.st.lock().expect("det").keys.next_u64()
    }

    fn push(&self, item: Item) {
        let mut st = self.st.lock().expect("det");
        let key = item.req().key;
        st.seq += 1;
        let seq = st.seq;
        st.runnable.push(Entry { key, seq, item });
    }

    /// `Engine::start`: a submitted request, started when its key comes up.
    pub(crate) fn start(&self, req: Box<Req>) {
        self.push(Item::Start(req));
    }

    /// `Engine::complete` issuing a link successor.
    pub(crate) fn issue(&self, req: Box<Req>) {
        self.push(Item::Issue(req));
    }

    /// `Engine::punt`: its blocking part, run in this thread when its key comes up.
    pub(crate) fn punt(&self, req: Box<Req>) {
        self.push(Item::Punted(req, false));
    }

    /// `Engine::wait_ready`: parked until its fd is ready.
    pub(crate) fn park(&self, req: Box<Req>, events: i16) {
        self.st.lock().expect("det").waiting.push((req, events));
    }

    /// An injected delay: issued again at `until`.
    pub(crate) fn delay(&self, req: Box<Req>, until: Instant) {
        self.st.lock().expect("det").delayed.push((until, req));
    }

    /// Runs everything runnable, smallest key first, until nothing is: what `enter`
    /// does after submitting. Never blocks but in an op's `Mode::Worker` part.
    pub(crate) fn run(&self, e: &Arc<Engine>) {
        loop {
            let next = {
                let mut st = self.st.lock().expect("det");
                if st.runnable.is_empty() {
                    promote_delayed(&mut st, Instant::now());
                }
                if st.runnable.is_empty() && !st.waiting.is_empty() {
                    poll_waiting(&mut st, 0);
                }
                st.runnable.pop()
            };
            // The lock is released: the item's own completions and hand-offs queue
            // more items.
            let Some(entry) = next else { break };
            self.execute(e, entry.item);
        }
    }

    fn execute(&self, e: &Arc<Engine>, item: Item) {
        match item {
            Item::Start(req) => e.start_now(req, Mode::Inline),
            Item::Issue(req) => e.issue(req, Mode::Inline),
            Item::Ready(req) => {
                let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
                let step = (def.issue)(req, e, Mode::Inline);
                self.dispatch(e, step, Mode::Inline);
            }
            Item::Punted(req, tried) => {
                // The threaded engine's worker may block; so may we, for regular
                // files only (their work always finishes). For anything else, first
                // a non-blocking attempt, which parks on readiness if need be.
                let mode = if tried || req.fd < 0 || op::rw::is_regular(req.fd) {
                    Mode::Worker
                } else {
                    Mode::Inline
                };
                let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
                let step = (def.issue)(req, e, mode);
                self.dispatch(e, step, mode);
            }
        }
    }

    fn dispatch(&self, e: &Arc<Engine>, step: Step, mode: Mode) {
        match step {
            Step::Done(r, res) => e.complete(r, res),
            Step::Block(r) => self.push(Item::Punted(r, mode == Mode::Inline)),
            Step::Wait(r, events) => self.park(r, events),
            Step::Parked => {}
        }
    }

    /// `io_cqring_wait` in this mode: runs what can run and, while fewer than `want`
    /// CQEs are ready, waits for something that lets more run (a parked fd, a delay,
    /// a deadline).
    pub(crate) fn wait(
        &self,
        e: &Arc<Engine>,
        want: u32,
        deadline: Option<Instant>,
        min_until: Option<Instant>,
    ) -> Result<(), i32> {
        loop {
            self.run(e);
            e.flush();
            let ready = e.rings.cq_used();
            if ready >= want {
                return Ok(());
            }
            let now = Instant::now();
            if min_until.is_some_and(|m| now >= m) && ready > 0 {
                return Ok(());
            }
            if deadline.is_some_and(|d| now >= d) {
                return Err(-libc::ETIME);
            }
            // Nothing can run: sleep until something may.
            let mut until = now + SLICE;
            for t in [deadline, min_until.filter(|_| ready > 0)]
                .into_iter()
                .flatten()
            {
                until = until.min(t);
            }
            let mut fds = {
                let st = self.st.lock().expect("det");
                if let Some(d) = st.delayed.iter().map(|(t, _)| *t).min() {
                    until = until.min(d);
                }
                pollfds(&st)
            };
            if fds.is_empty() {
                // A post from another thread (MSG_RING) wakes this.
                let _ = e.wait(want, Some(until), None);
            } else {
                let ms = until
                    .saturating_duration_since(now)
                    .as_micros()
                    .div_ceil(1000) as i32;
                // Without the lock: what became ready is taken by the next `run`.
                // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            }
        }
    }

    /// Takes out queued, parked and delayed requests matching `pred` (cancellation).
    pub(crate) fn take_matching(
        &self,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        let mut st = self.st.lock().expect("det");
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
        let mut i = 0;
        while i < st.waiting.len() {
            if (all || out.is_empty()) && pred(&st.waiting[i].0) {
                out.push(st.waiting.remove(i).0);
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < st.delayed.len() {
            if (all || out.is_empty()) && pred(&st.delayed[i].1) {
                out.push(st.delayed.remove(i).1);
            } else {
                i += 1;
            }
        }
        out
    }

    /// Teardown: drops every request held (no thread can touch them afterwards).
    pub(crate) fn clear(&self) {
        let mut st = self.st.lock().expect("det");
        st.runnable.clear();
        st.waiting.clear();
        st.delayed.clear();
    }
}

/// Moves delayed requests that are due to the runnable queue, in key order.
fn promote_delayed(st: &mut State, now: Instant) {
    let mut i = 0;
    while i < st.delayed.len() {
        if st.delayed[i].0 <= now {
            let req = st.delayed.swap_remove(i).1;
            st.seq += 1;
            let seq = st.seq;
            st.runnable.push(Entry {
                key: req.key,
                seq,
                item: Item::Issue(req),
            });
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
    // Walk backwards so removals keep the remaining indexes valid.
    for i in (0..fds.len()).rev() {
        if fds[i].revents != 0 {
            let (req, _) = st.waiting.remove(i);
            st.seq += 1;
            let seq = st.seq;
            st.runnable.push(Entry {
                key: req.key,
                seq,
                item: Item::Ready(req),
            });
        }
    }
}

/// The parked requests' fds, in list order.
fn pollfds(st: &State) -> Vec<libc::pollfd> {
    st.waiting
        .iter()
        .map(|(r, ev)| libc::pollfd {
            fd: r.fd,
            events: *ev,
            revents: 0,
        })
        .collect()
}
