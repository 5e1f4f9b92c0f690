//! The worker pool, in the manner of the kernel's io-wq (`io_uring/io-wq.c`): work
//! that must block runs here. Two classes, as in io-wq: *bounded* for regular files and
//! block devices (at most `min(sq_entries, 4 × CPUs)` workers: their work always
//! finishes), *unbounded* for everything else (work that may wait forever, up to
//! `RLIMIT_NPROC` workers). Workers start on demand and leave after 5 s idle.
//!
//! Running work is interrupted for cancellation and ring teardown by a signal
//! (`SIGRTMAX - 1`, handled by a no-op installed without `SA_RESTART`), which makes a
//! blocking system call return `EINTR`, as io-wq does with `TIF_NOTIFY_SIGNAL`.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::Engine;
use crate::req::Req;

/// How long an idle worker waits for work before it exits.
const IDLE: Duration = Duration::from_secs(5);

/// The two classes of io-wq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Bounded = 0,
    Unbounded = 1,
}

/// What a worker is doing, visible to cancellation.
#[derive(Debug)]
pub(crate) struct Slot {
    thread: libc::pthread_t,
    /// `user_data` of the running request (valid while `busy`).
    pub(crate) user_data: AtomicU64,
    /// The running request's fd and opcode, packed `fd << 8 | opcode`.
    pub(crate) fd_op: AtomicU64,
    pub(crate) busy: AtomicBool,
    pub(crate) cancel: AtomicBool,
}

#[derive(Default)]
struct State {
    queue: [VecDeque<Box<Req>>; 2],
    idle: [usize; 2],
    count: [usize; 2],
    slots: Vec<Arc<Slot>>,
    handles: Vec<JoinHandle<()>>,
    shutdown: bool,
}

/// The pool of one ring (or of several, shared with `IORING_SETUP_ATTACH_WQ`).
pub(crate) struct Wq {
    state: Mutex<State>,
    cond: Condvar,
    max: Mutex<[usize; 2]>,
    /// `IORING_REGISTER_IOWQ_AFF`: the CPUs workers run on, with a generation that
    /// running workers compare to re-apply it.
    aff: Mutex<(u64, Option<libc::cpu_set_t>)>,
}

thread_local! {
    /// The slot of the worker running on this thread, if any.
    static CURRENT: std::cell::RefCell<Option<Arc<Slot>>> = const { std::cell::RefCell::new(None) };
}

fn signal() -> i32 {
    libc::SIGRTMAX() - 1
}

extern "C" fn on_signal(_: i32) {}

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask is valid;
        // the handler does nothing, so it is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0; // no SA_RESTART: interrupted calls return EINTR
            libc::sigaction(signal(), &sa, std::ptr::null_mut());
        }
    });
}

impl Wq {
    pub(crate) fn new(sq_entries: u32) -> Wq {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: getrlimit writes the struct or fails.
        let nproc = unsafe {
            let mut r: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NPROC, &mut r) == 0 {
                r.rlim_cur.min(4096) as usize
            } else {
                1024
            }
        };
        Wq {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            max: Mutex::new([(sq_entries as usize).min(4 * cpus).max(1), nproc.max(1)]),
            aff: Mutex::new((0, None)),
        }
    }

    /// `IORING_REGISTER_IOWQ_MAX_WORKERS`: sets the limits that are non-zero, returns
    /// the previous ones.
    pub(crate) fn set_max(&self, new: [usize; 2]) -> [usize; 2] {
        let mut max = self.max.lock().expect("wq limits");
        let old = *max;
        for i in 0..2 {
            if new[i] != 0 {
                max[i] = new[i];
            }
        }
        old
    }

    /// `IORING_REGISTER_IOWQ_AFF` / `UNREGISTER_IOWQ_AFF` (`None`): the CPUs the
    /// workers may run on, applied to new workers and to running ones before their
    /// next request.
    pub(crate) fn set_affinity(&self, set: Option<libc::cpu_set_t>) {
        let mut a = self.aff.lock().expect("wq affinity");
        a.0 += 1;
        a.1 = set;
    }

    /// Applies the affinity on the calling worker if it changed since `seen`.
    fn apply_affinity(&self, seen: &mut u64) {
        let a = self.aff.lock().expect("wq affinity");
        if a.0 == *seen {
            return;
        }
        *seen = a.0;
        let set = match a.1 {
            Some(s) => s,
            None => {
                // Unregistered: every CPU the process may use.
                // SAFETY: all-zero is a valid cpu_set_t, filled by sched_getaffinity.
                let mut s: libc::cpu_set_t = unsafe { std::mem::zeroed() };
                // SAFETY: pid 0 is the calling process's main thread here only as a
                // source of the allowed mask; `s` is writable and of the size given.
                unsafe {
                    libc::sched_getaffinity(libc::getpid(), size_of::<libc::cpu_set_t>(), &mut s)
                };
                s
            }
        };
        // SAFETY: pid 0 is this thread; `set` is a valid cpu_set_t of the size given.
        unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    }

    /// Queues `req` for a worker of `class`, starting one if none is idle.
    pub(crate) fn push(&self, engine: &Arc<Engine>, class: Class, req: Box<Req>) {
        if let Some(d) = &engine.det {
            // Deterministic mode: no workers; the ring's own thread does the work in
            // `enter` (det.rs).
            return d.work(req, class);
        }
        let c = class as usize;
        let max = self.max.lock().expect("wq limits")[c];
        let mut st = self.state.lock().expect("wq state");
        if st.shutdown {
            drop(st);
            engine.complete(req, -libc::ECANCELED);
            return;
        }
        st.queue[c].push_back(req);
        // Every queued request needs a waiting worker of its own, or a new one: a
        // request that blocks forever must not hold up the next (a pipe read queued
        // before the write that would satisfy it).
        if st.idle[c] > 0 {
            self.cond.notify_all();
        }
        if st.queue[c].len() <= st.idle[c] {
            return;
        }
        if st.count[c] < max {
            st.count[c] += 1;
            st.handles.retain(|h| !h.is_finished());
            let weak = Arc::downgrade(engine);
            // Named as the kernel names io-wq workers: after the submitting task.
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            let spawned = std::thread::Builder::new()
                .name(format!("iou-wrk-{tid}"))
                .spawn(move || worker(weak, class));
            match spawned {
                Ok(h) => st.handles.push(h),
                Err(_) => st.count[c] -= 1,
            }
        }
    }

    /// Removes queued (not yet running) requests matching `pred`; the caller
    /// completes them.
    pub(crate) fn take_queued(
        &self,
        mut pred: impl FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        let mut st = self.state.lock().expect("wq state");
        let mut out = Vec::new();
        for q in st.queue.iter_mut() {
            let mut i = 0;
            while i < q.len() {
                if pred(&q[i]) {
                    out.extend(q.remove(i));
                    if !all {
                        return out;
                    }
                } else {
                    i += 1;
                }
            }
        }
        out
    }

    /// Interrupts running requests matching `pred(user_data, fd, opcode)`; returns
    /// how many.
    pub(crate) fn interrupt_running(
        &self,
        mut pred: impl FnMut(u64, i32, u8) -> bool,
        all: bool,
    ) -> usize {
        let st = self.state.lock().expect("wq state");
        let mut n = 0;
        for s in &st.slots {
            if !s.busy.load(Ordering::Acquire) {
                continue;
            }
            let fd_op = s.fd_op.load(Ordering::Relaxed);
            if pred(
                s.user_data.load(Ordering::Relaxed),
                (fd_op >> 8) as i32,
                fd_op as u8,
            ) {
                s.cancel.store(true, Ordering::Release);
                // SAFETY: the thread is alive: its slot is in the list until it exits,
                // and it removes itself under the same lock we hold.
                unsafe { libc::pthread_kill(s.thread, signal()) };
                n += 1;
                if !all {
                    break;
                }
            }
        }
        n
    }

    /// Whether the running request of the calling worker was cancelled.
    pub(crate) fn cancelled(&self, _req: &Req) -> bool {
        CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|s| s.cancel.load(Ordering::Acquire))
        })
    }

    /// Stops the pool: queued work is cancelled, running work interrupted, and every
    /// worker joined, so no worker touches application memory afterwards.
    pub(crate) fn shutdown(&self, engine: &Arc<Engine>) {
        let (queued, handles) = {
            let mut st = self.state.lock().expect("wq state");
            st.shutdown = true;
            let q: Vec<_> = st.queue.iter_mut().flat_map(|q| q.drain(..)).collect();
            (q, std::mem::take(&mut st.handles))
        };
        for r in queued {
            engine.complete(r, -libc::ECANCELED);
        }
        self.cond.notify_all();
        let me = std::thread::current().id();
        for h in handles {
            if h.thread().id() == me {
                continue;
            }
            while !h.is_finished() {
                self.interrupt_running(|_, _, _| true, true);
                self.cond.notify_all();
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = h.join();
        }
    }
}

fn worker(engine: Weak<Engine>, class: Class) {
    install_handler();
    let c = class as usize;
    let slot = Arc::new(Slot {
        // SAFETY: pthread_self has no preconditions.
        thread: unsafe { libc::pthread_self() },
        user_data: AtomicU64::new(0),
        fd_op: AtomicU64::new(0),
        busy: AtomicBool::new(false),
        cancel: AtomicBool::new(false),
    });
    CURRENT.with(|cur| *cur.borrow_mut() = Some(slot.clone()));
    let Some(e) = engine.upgrade() else { return };
    let wq = &e.wq;
    wq.state.lock().expect("wq state").slots.push(slot.clone());
    let mut aff_seen = 0;
    let mut st = wq.state.lock().expect("wq state");
    loop {
        if let Some(req) = st.queue[c].pop_front() {
            wq.apply_affinity(&mut aff_seen);
            slot.user_data.store(req.user_data(), Ordering::Relaxed);
            slot.fd_op.store(
                ((req.sqe.fd as u32 as u64) << 8) | req.opcode() as u64,
                Ordering::Relaxed,
            );
            slot.cancel.store(false, Ordering::Relaxed);
            slot.busy.store(true, Ordering::Release);
            drop(st);
            e.run_in_worker(req);
            st = wq.state.lock().expect("wq state");
            slot.busy.store(false, Ordering::Release);
            continue;
        }
        if st.shutdown {
            break;
        }
        st.idle[c] += 1;
        let (guard, timeout) = wq.cond.wait_timeout(st, IDLE).expect("wq state");
        st = guard;
        st.idle[c] -= 1;
        if st.queue[c].is_empty() && (timeout.timed_out() || st.shutdown) {
            break;
        }
    }
    st.count[c] -= 1;
    st.slots.retain(|s| !Arc::ptr_eq(s, &slot));
}
