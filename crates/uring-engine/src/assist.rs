//! Parallel inline issue: when one `enter` brings many requests that copy data (reads
//! and writes of cached files, sends and receives), a second thread attempts half of
//! them, non-blocking, while the submitting thread does the other half.
//!
//! The kernel does all of a batch inline in the submitting task; in user space each
//! attempt is a system call of its own, slower than the kernel's in-place issue, and a
//! second core is how the engine keeps up. Order is not observable: io_uring promises
//! none between independent requests, and a link chain always stays on one thread.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uring_sys as sys;

use crate::engine::Engine;
use crate::req::Req;

/// Fewest copying requests in one batch worth handing half of to the assistant.
pub(crate) const MIN_BATCH: usize = 8;

/// How long the assistant looks for more work before it sleeps: a batch every few
/// tens of microseconds keeps it awake, so handing work over costs no wake-up.
const SPIN: Duration = Duration::from_micros(50);

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
}

/// Whether `opcode` moves data in its inline attempt (worth running in parallel).
pub(crate) fn copies(opcode: u8) -> bool {
    matches!(
        opcode,
        sys::IORING_OP_READ
            | sys::IORING_OP_WRITE
            | sys::IORING_OP_READV
            | sys::IORING_OP_WRITEV
            | sys::IORING_OP_READ_FIXED
            | sys::IORING_OP_WRITE_FIXED
            | sys::IORING_OP_SEND
            | sys::IORING_OP_RECV
    )
}

impl Assist {
    /// Hands `batch[from..]` to the assisting thread (starting it if needed). False if
    /// the thread cannot be had: the requests stay in `batch`, for the caller.
    pub(crate) fn give(&self, e: &Arc<Engine>, batch: &mut Vec<Box<Req>>, from: usize) -> bool {
        let mut st = self.state.lock().expect("assist");
        if st.stop {
            return false;
        }
        if st.handle.is_none() {
            let weak = Arc::downgrade(e);
            match std::thread::Builder::new()
                .name("uring-assist".into())
                .spawn(move || run(weak))
            {
                Ok(h) => st.handle = Some(h),
                Err(_) => return false,
            }
        }
        // Moved, not reallocated: both vectors keep their capacity from batch to batch.
        st.work.extend(batch.drain(from..));
        // Release: the work pushed under the lock is there for whoever sees the flag
        // (the spinning thread takes the lock anyway).
        self.pending.store(true, Ordering::Release);
        drop(st);
        if self.sleeping.load(Ordering::SeqCst) {
            self.cond.notify_one();
        }
        true
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

fn run(engine: Weak<Engine>) {
    // The kernel's io threads take no signals (see wq.rs).
    crate::wq::block_signals(false);
    // Swapped with the shared list: the two vectors trade places, keeping capacity.
    let mut work = Vec::new();
    loop {
        let Some(e) = engine.upgrade() else { return };
        let a = &e.assist;
        let spin_until = Instant::now() + SPIN;
        while !a.pending.load(Ordering::Acquire) && Instant::now() < spin_until {
            std::hint::spin_loop();
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
