//! Parallel inline issue: when one `enter` brings many requests that copy data (reads
//! and writes of cached files, sends and receives), a second thread attempts half of
//! them, non-blocking, while the submitting thread does the other half.
//!
//! The kernel does all of a batch inline in the submitting task; in user space each
//! attempt is a system call of its own, slower than the kernel's in-place issue, and a
//! second core is how the engine keeps up. Order is not observable: io_uring promises
//! none between independent requests, and a link chain always stays on one thread.
//!
//! Only while the second core is free: when the assistant finds itself preempted (a gap
//! in its spin, or work it picks up late), hand-offs stop for [`BACK_OFF`] and the
//! submitter issues whole batches alone, which on a busy machine is faster than
//! waiting for a thread the scheduler does not run.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::req::Req;

/// Fewest copying requests in one batch worth handing half of to the assistant.
pub(crate) const MIN_BATCH: usize = 8;

/// How long the assistant looks for more work before it sleeps: a batch every few
/// tens of microseconds keeps it awake, so handing work over costs no wake-up.
const SPIN: Duration = Duration::from_micros(50);

/// A gap this long between two turns of the assistant's spin, or between a hand-off and
/// its pickup by the spinning assistant, means the scheduler gave its CPU to something
/// else: the other core is busy. (A scheduler slice is a millisecond or more; the
/// jitter of an idle VM's vCPU, tens of microseconds, stays below.)
const PREEMPTED: Duration = Duration::from_micros(200);

/// How long hand-offs stop once the assistant found its CPU taken: the submitter does
/// its batches alone, as it would on one CPU, instead of waiting for a thread the
/// scheduler does not run (and the assistant's spinning no longer takes CPU time from
/// the submitter or from whoever else needs it).
const BACK_OFF: Duration = Duration::from_millis(100);

/// Nanoseconds since the first call, for the atomics below.
fn now_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[derive(Default)]
struct State {
    work: Vec<Box<Req>>,
    stop: bool,
    handle: Option<JoinHandle<()>>,
}

/// The assisting thread of one ring, started on first use.
#[derive(Default)]
pub(crate) struct Assist {
    state: Mutex<State>,
    cond: Condvar,
    /// Work is waiting (read by the spinning thread without the lock).
    pending: AtomicBool,
    /// The thread sleeps on `cond` and must be notified.
    sleeping: AtomicBool,
    /// The thread is issuing a batch.
    running: AtomicBool,
    /// No hand-off before this time ([`now_ns`]): the assistant was preempted.
    off_until: AtomicU64,
    /// When the pending work was handed over ([`now_ns`]).
    given_at: AtomicU64,
}

impl Assist {
    /// Hands `batch[from..]` to the assisting thread (starting it if needed). False if
    /// the thread cannot be had: the requests stay in `batch`, for the caller.
    pub(crate) fn give(&self, e: &Arc<Engine>, batch: &mut Vec<Box<Req>>, from: usize) -> bool {
        // Relaxed: a hint about the machine, ordering nothing.
        if now_ns() < self.off_until.load(Ordering::Relaxed) {
            return false;
        }
        let mut st = self.state.lock().expect("assist");
        if st.stop {
            return false;
        }
        if st.handle.is_none() {
            // Room for a whole SQ in both work lists from the start: a hand-off never
            // allocates, even the first one after a back-off.
            let cap = e.rings.sq_entries as usize;
            st.work.reserve(cap);
            let weak = Arc::downgrade(e);
            match std::thread::Builder::new()
                .name("uring-assist".into())
                .spawn(move || run(weak, cap))
            {
                Ok(h) => st.handle = Some(h),
                Err(_) => return false,
            }
        }
        // Moved, not reallocated: both vectors keep their capacity from batch to batch.
        st.work.extend(batch.drain(from..));
        self.given_at.store(now_ns(), Ordering::Relaxed);
        // Release: the work pushed under the lock is there for whoever sees the flag
        // (the spinning thread takes the lock anyway).
        self.pending.store(true, Ordering::Release);
        drop(st);
        if self.sleeping.load(Ordering::SeqCst) {
            self.cond.notify_one();
        }
        true
    }

    /// Whether a hand-off now would be taken: not backed off (a hint; [`give`](Self::give)
    /// decides).
    pub(crate) fn ready(&self) -> bool {
        // Relaxed: as in `give`.
        now_ns() >= self.off_until.load(Ordering::Relaxed)
    }

    /// Stops hand-offs for [`BACK_OFF`].
    fn back_off(&self) {
        self.off_until
            .store(now_ns() + BACK_OFF.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Whether the assistant holds or runs work handed to it.
    pub(crate) fn busy(&self) -> bool {
        self.pending.load(Ordering::Acquire) || self.running.load(Ordering::Acquire)
    }

    /// Stops the thread once it has issued what it was given.
    pub(crate) fn shutdown(&self) {
        let h = {
            let mut st = self.state.lock().expect("assist");
            st.stop = true;
            st.handle.take()
        };
        self.cond.notify_all();
        if let Some(h) = h
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

fn run(engine: Weak<Engine>, cap: usize) {
    // The kernel's io threads take no signals (see wq.rs).
    crate::wq::block_signals(false);
    // Swapped with the shared list: the two vectors trade places, keeping capacity.
    let mut work = Vec::with_capacity(cap);
    loop {
        let Some(e) = engine.upgrade() else { return };
        let a = &e.assist;
        let mut last = Instant::now();
        let spin_until = last + SPIN;
        let mut spun = true;
        while !a.pending.load(Ordering::Acquire) && last < spin_until {
            std::hint::spin_loop();
            let now = Instant::now();
            if now - last > PREEMPTED {
                a.back_off();
                spun = false;
                break;
            }
            last = now;
        }
        if spun
            && a.pending.load(Ordering::Acquire)
            && now_ns().saturating_sub(a.given_at.load(Ordering::Relaxed))
                > PREEMPTED.as_nanos() as u64
        {
            // Handed over while we spun, found late: we were not running.
            a.back_off();
        }
        {
            let mut st = a.state.lock().expect("assist");
            loop {
                if !st.work.is_empty() {
                    a.running.store(true, Ordering::Release);
                    a.pending.store(false, Ordering::Relaxed);
                    std::mem::swap(&mut work, &mut st.work);
                    break;
                }
                if st.stop {
                    return;
                }
                // SeqCst with `give`'s load of `sleeping` after its push: either it
                // sees us asleep and notifies, or we see its work (under the lock).
                a.sleeping.store(true, Ordering::SeqCst);
                st = a.cond.wait(st).expect("assist");
                a.sleeping.store(false, Ordering::SeqCst);
            }
        }
        e.issue_batch_as_submitter(&mut work);
        a.running.store(false, Ordering::Release);
    }
}
