//! The worker pool, in the manner of the kernel's io-wq (`io_uring/io-wq.c`): work
//! that must block runs here. Two classes, as in io-wq: *bounded* for regular files and
//! block devices (at most `min(sq_entries, 4 × CPUs)` workers: their work always
//! finishes), *unbounded* for everything else (work that may wait forever, up to
//! `RLIMIT_NPROC` workers). Workers start on demand and leave after 5 s idle.
//!
//! Running work is interrupted for cancellation and ring teardown by a signal
//! (`SIGRTMAX - 1`, handled by a no-op installed without `SA_RESTART`), which makes a
//! blocking system call return `EINTR`, as io-wq does with `TIF_NOTIFY_SIGNAL`.
//!
//! # Signals
//! - The engine's threads (workers, the timer, reactor, SQ poll and assisting threads)
//!   block every signal but the pool's own, as the kernel's io threads take none: a
//!   signal meant for the process goes to one of its own threads, and the `SIGXFSZ` a
//!   write or fallocate past `RLIMIT_FSIZE` sends to the thread that made it stays
//!   pending there, unseen, while the request completes with `-EFBIG` — as on io-wq.
//!   The process's dispositions are not changed. Work the engine runs on the
//!   application's thread in the kernel's stead (deterministic mode) blocks `SIGXFSZ`
//!   around it and takes back one it raised.
//! - `SIGRTMAX - 1`: installing the pool's handler replaces the process's disposition
//!   for that one signal. A handler the program had installed before is kept and
//!   called for every `SIGRTMAX - 1` that is not the pool's own (the pool's are
//!   `tgkill`s from this process to a worker thread); a signal sent to the process with
//!   no handler installed before is ignored where it used to terminate. A program that
//!   installs its own handler for it later takes it over: cancellation of running work
//!   then depends on that handler interrupting system calls (no `SA_RESTART`).
//! - A cancellation signal can arrive after the worker checked for cancellation and
//!   before it entered its blocking call, and be lost there: the canceller therefore
//!   signals again (1 ms, doubling to 100 ms) until the worker has left that request.
//!
//! # Handovers
//! A worker may hand its request elsewhere instead of finishing it: to wait for
//! readiness (an attempt said `EAGAIN`), or to the reactor or the timers (an
//! `IOSQE_ASYNC` poll or timeout). Meanwhile the request is in neither place, and a
//! canceller that looked at the parked requests first and at the workers next could
//! miss it, or flag the worker after it let go of the request. So a worker marks the
//! handover ([`Wq::begin_handover`]), under the pool's lock, after checking there
//! whether it was flagged already (then it completes the request `-ECANCELED` rather
//! than hand it over); a canceller that matches a worker in a handover waits for its
//! end (as `Reactor::take` waits for the request it is issuing), then finds the
//! request where it went. And a worker that finished or handed over its request may
//! still show it as running for a moment; the same `user_data` may then be running
//! in another worker already (the application reused it once it saw the CQE), so a
//! cancellation of one request picks the worker that took its request last.
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
    /// The running request's `LINK_TIMEOUT` id (`Req::ltimeout`; 0: none).
    ltimeout: AtomicU64,
    pub(crate) busy: AtomicBool,
    pub(crate) cancel: AtomicBool,
    /// The worker is handing its request over (see the module docs). Written under
    /// the pool's lock.
    handing: AtomicBool,
    /// When the running request was taken, in the pool's order of takes
    /// (`State::taken`): a canceller signalling again knows it is still the same one,
    /// and one choosing among workers showing the same `user_data` takes the latest.
    generation: AtomicU64,
    /// False once the worker's thread is leaving: `thread` may no longer be signalled.
    /// Held while signalling, so the thread cannot leave meanwhile.
    alive: Mutex<bool>,
}

/// Signals the worker of `slot` again while it still runs the cancelled request of
/// `generation` (see the module docs: the first signal can come too early).
fn kick_until_left(slot: Arc<Slot>, generation: u64) {
    block_signals(false);
    let mut wait = Duration::from_millis(1);
    loop {
        std::thread::sleep(wait);
        let alive = slot.alive.lock().unwrap_or_else(|e| e.into_inner());
        if !*alive
            || !slot.busy.load(Ordering::Acquire)
            || slot.generation.load(Ordering::Acquire) != generation
        {
            return;
        }
        // SAFETY: the thread has not left (`alive`, held): its pthread_t is valid.
        unsafe { libc::pthread_kill(slot.thread, signal()) };
        drop(alive);
        wait = (wait * 2).min(Duration::from_millis(100));
    }
}

#[derive(Default)]
struct State {
    queue: [VecDeque<Box<Req>>; 2],
    idle: [usize; 2],
    count: [usize; 2],
    slots: Vec<Arc<Slot>>,
    handles: Vec<JoinHandle<()>>,
    shutdown: bool,
    /// Counts the requests workers took from the queues (`Slot::generation`).
    taken: u64,
}

/// What cancellation sees of a request a worker is running.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Running {
    pub(crate) user_data: u64,
    /// The fd of its SQE.
    pub(crate) fd: i32,
    pub(crate) opcode: u8,
    /// Its `LINK_TIMEOUT`'s id (`Req::ltimeout`; 0: none).
    pub(crate) ltimeout: u64,
    /// When its worker took it (`Slot::generation`): the same running request, seen
    /// by a second look, has the same one.
    pub(crate) generation: u64,
}

impl Slot {
    /// The running request, as cancellation sees it. Under the pool's lock, where the
    /// worker wrote it.
    fn running(&self) -> Running {
        let fd_op = self.fd_op.load(Ordering::Relaxed);
        Running {
            user_data: self.user_data.load(Ordering::Relaxed),
            fd: (fd_op >> 8) as i32,
            opcode: fd_op as u8,
            ltimeout: self.ltimeout.load(Ordering::Relaxed),
            generation: self.generation.load(Ordering::Relaxed),
        }
    }
}

/// A worker's handover of its request (see the module docs), from
/// [`Wq::begin_handover`] until dropped.
pub(crate) struct Handover<'a> {
    wq: &'a Wq,
    slot: Option<Arc<Slot>>,
    /// The request came back to the worker, which goes on running it.
    resumed: bool,
}

impl Handover<'_> {
    /// Ends the handover with the request back in the worker's hands (an attempt
    /// that must block): it shows as running again.
    pub(crate) fn resume(mut self) {
        self.resumed = true;
    }
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        let Some(slot) = &self.slot else { return };
        let _st = self.wq.state.lock().unwrap_or_else(|e| e.into_inner());
        slot.handing.store(false, Ordering::Relaxed);
        if !self.resumed {
            // The request is elsewhere now (or completed): this worker no longer
            // shows it.
            slot.busy.store(false, Ordering::Release);
        }
        self.wq.handed.notify_all();
    }
}

/// The pool of one ring (or of several, shared with `IORING_SETUP_ATTACH_WQ`).
pub(crate) struct Wq {
    state: Mutex<State>,
    cond: Condvar,
    /// Signalled when a worker's handover ends.
    handed: Condvar,
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

thread_local! {
    /// Whether this thread is a worker of some pool (read in the signal handler: a
    /// const-initialised Cell without destructor, so reading it is signal-safe).
    static IS_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The disposition of `SIGRTMAX - 1` before the pool installed its handler.
static PREVIOUS: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();

extern "C" fn on_signal(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // SAFETY: getpid is async-signal-safe.
    let ours = code == libc::SI_TKILL && pid == unsafe { libc::getpid() };
    if ours && IS_WORKER.with(std::cell::Cell::get) {
        // The pool's: its only purpose, interrupting the system call, is done.
        return;
    }
    let Some(prev) = PREVIOUS.get() else { return };
    if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the program installed this as an SA_SIGINFO handler.
        let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(prev.sa_sigaction) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the program installed this as a plain handler.
        let f: extern "C" fn(i32) = unsafe { std::mem::transmute(prev.sa_sigaction) };
        f(sig);
    }
}

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask is valid;
        // the handler only reads its arguments and calls the program's previous
        // handler, as the signal would have; `old` receives the previous disposition.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            // No SA_RESTART: interrupted calls return EINTR.
            sa.sa_flags = libc::SA_SIGINFO;
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal(), std::ptr::null(), &mut old) == 0 {
                let _ = PREVIOUS.set(old);
            }
            libc::sigaction(signal(), &sa, std::ptr::null_mut());
        }
    });
}

/// Blocks, on the calling engine thread, every signal but the pool's own (for a
/// worker) or every signal (for the others): see the module docs.
pub(crate) fn block_signals(worker: bool) {
    // SAFETY: a sigset filled and edited with the libc calls made for it, then applied
    // to this thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        if worker {
            libc::sigdelset(&mut set, signal());
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Runs `f`, a request's work done on the application's thread in the kernel's
/// stead, with `SIGXFSZ` blocked, and takes back a `SIGXFSZ` it raised on this thread
/// (the kernel's io-wq worker would have got it, and ignored it): the request says
/// `-EFBIG`, the process is not killed.
pub(crate) fn without_sigxfsz<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: sigsets built by their libc calls; the mask is this thread's and is
    // restored below; sigtimedwait with a zero timeout only takes a pending SIGXFSZ.
    unsafe {
        let mut xfsz: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut xfsz);
        libc::sigaddset(&mut xfsz, libc::SIGXFSZ);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &xfsz, &mut old);
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGXFSZ) == 1;
        let r = f();
        libc::sigpending(&mut pending);
        if !was_pending && libc::sigismember(&pending, libc::SIGXFSZ) == 1 {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&xfsz, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
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
            handed: Condvar::new(),
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
            let name = format!("iou-wrk-{tid}");
            // With the process's credentials, not a submitting thread's own (creds.rs).
            let spawned = crate::creds::spawn(std::thread::Builder::new(), move || {
                worker(weak, class, &name)
            });
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

    /// Interrupts running requests matching `pred`: every one (`all`), or the one
    /// taken last (a worker may still show a request it finished or handed over, whose
    /// `user_data` the application may have reused since). A matching worker that is
    /// handing its request over is waited for, and the workers looked at again: the
    /// request is then where it went, for the caller to look there next. Returns the
    /// requests interrupted.
    pub(crate) fn interrupt_running(
        &self,
        pred: impl FnMut(&Running) -> bool,
        all: bool,
    ) -> Vec<Running> {
        self.interrupt(pred, all, true)
    }

    fn interrupt(
        &self,
        mut pred: impl FnMut(&Running) -> bool,
        all: bool,
        wait: bool,
    ) -> Vec<Running> {
        // The calling thread's own slot is left alone: its request is not in a system
        // call (this thread is here), and a cancellation that its own completion
        // issued (a linked one) finds it finished. A worker that is itself in a
        // handover does not wait for another's: two could wait for each other.
        let me = CURRENT.with(|c| c.borrow().clone());
        let wait = wait
            && !me
                .as_ref()
                .is_some_and(|s| s.handing.load(Ordering::Relaxed));
        let mut st = self.state.lock().expect("wq state");
        loop {
            let mut hits: Vec<(&Arc<Slot>, Running)> = st
                .slots
                .iter()
                .filter(|s| {
                    s.busy.load(Ordering::Acquire)
                        && !me.as_ref().is_some_and(|m| Arc::ptr_eq(m, s))
                })
                .map(|s| (s, s.running()))
                .filter(|(_, r)| pred(r))
                .collect();
            if !all && hits.len() > 1 {
                let latest = hits
                    .iter()
                    .copied()
                    .max_by_key(|(s, _)| s.generation.load(Ordering::Relaxed))
                    .expect("not empty");
                hits = vec![latest];
            }
            if wait
                && let Some(&(s, _)) = hits.iter().find(|(s, _)| s.handing.load(Ordering::Relaxed))
            {
                let (s, generation) = (s.clone(), s.generation.load(Ordering::Relaxed));
                while s.handing.load(Ordering::Relaxed)
                    && s.generation.load(Ordering::Relaxed) == generation
                {
                    st = self.handed.wait(st).expect("wq state");
                }
                continue;
            }
            let mut out = Vec::new();
            for (s, running) in hits {
                if s.handing.load(Ordering::Relaxed) {
                    // Not waited for: it is not running the request any more.
                    continue;
                }
                s.cancel.store(true, Ordering::Release);
                // SAFETY: the thread is alive: its slot is in the list until it exits,
                // and it removes itself under the same lock we hold.
                unsafe { libc::pthread_kill(s.thread, signal()) };
                let (slot, generation) = (s.clone(), s.generation.load(Ordering::Acquire));
                // If the signal came before the worker blocked, it is lost: repeat it.
                let _ = std::thread::Builder::new()
                    .name("iou-wrk-cancel".into())
                    .spawn(move || kick_until_left(slot, generation));
                out.push(running);
            }
            return out;
        }
    }

    /// Whether the running request of the calling worker was cancelled.
    pub(crate) fn cancelled(&self, _req: &Req) -> bool {
        CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|s| s.cancel.load(Ordering::Acquire))
        })
    }

    /// The calling worker is about to hand its request over (see the module docs):
    /// until the returned guard is dropped, a canceller matching it waits. `None` if
    /// it was cancelled already: the caller completes it with `-ECANCELED` instead.
    /// Off a worker's thread (deterministic mode), a guard that does nothing.
    pub(crate) fn begin_handover(&self) -> Option<Handover<'_>> {
        let slot = CURRENT.with(|c| c.borrow().clone());
        if let Some(s) = &slot {
            // Under the lock `interrupt_running` holds as it flags: it flagged the
            // worker before, or it sees the handover.
            let _st = self.state.lock().expect("wq state");
            if s.cancel.load(Ordering::Acquire) {
                return None;
            }
            s.handing.store(true, Ordering::Relaxed);
        }
        Some(Handover {
            wq: self,
            slot,
            resumed: false,
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
                self.interrupt(|_| true, true, false);
                self.cond.notify_all();
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = h.join();
        }
    }
}

/// Names the calling thread (`PR_SET_NAME`, at most 15 bytes: longer names are cut),
/// as `/proc/self/task/*/status` and `ps` show it.
fn set_name(name: &str) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    if let Ok(name) = std::ffi::CStr::from_bytes_until_nul(&buf) {
        // A thread left with its creator's name still works; only `ps` shows it.
        let _ = rustix::thread::set_name(name);
    }
}

fn worker(engine: Weak<Engine>, class: Class, name: &str) {
    install_handler();
    block_signals(true);
    IS_WORKER.with(|w| w.set(true));
    let c = class as usize;
    let slot = Arc::new(Slot {
        // SAFETY: pthread_self has no preconditions.
        thread: unsafe { libc::pthread_self() },
        user_data: AtomicU64::new(0),
        fd_op: AtomicU64::new(0),
        ltimeout: AtomicU64::new(0),
        busy: AtomicBool::new(false),
        cancel: AtomicBool::new(false),
        handing: AtomicBool::new(false),
        generation: AtomicU64::new(0),
        alive: Mutex::new(true),
    });
    /// Marks the slot left when the worker returns, whichever way.
    struct Leave(Arc<Slot>);
    impl Drop for Leave {
        fn drop(&mut self) {
            *self.0.alive.lock().unwrap_or_else(|e| e.into_inner()) = false;
        }
    }
    let _leave = Leave(slot.clone());
    CURRENT.with(|cur| *cur.borrow_mut() = Some(slot.clone()));
    let Some(e) = engine.upgrade() else { return };
    let wq = &e.wq;
    // Pinned before it takes its io-wq name, as the kernel creates an io-wq worker with
    // its affinity already set: whoever finds the ring's workers by name never sees one
    // on CPUs the ring's IOWQ_AFF leaves out. (A name given by `thread::Builder` is set
    // before this function runs.)
    let mut aff_seen = 0;
    wq.apply_affinity(&mut aff_seen);
    set_name(name);
    wq.state.lock().expect("wq state").slots.push(slot.clone());
    let mut st = wq.state.lock().expect("wq state");
    loop {
        if let Some(req) = st.queue[c].pop_front() {
            wq.apply_affinity(&mut aff_seen);
            slot.user_data.store(req.user_data(), Ordering::Relaxed);
            slot.fd_op.store(
                ((req.sqe.fd as u32 as u64) << 8) | req.opcode() as u64,
                Ordering::Relaxed,
            );
            slot.ltimeout.store(req.ltimeout, Ordering::Relaxed);
            slot.cancel.store(false, Ordering::Relaxed);
            st.taken += 1;
            slot.generation.store(st.taken, Ordering::Release);
            slot.busy.store(true, Ordering::Release);
            drop(st);
            // With the submitting thread's or its personality's credentials (creds.rs).
            match crate::creds::Assumed::take_on(req.creds.as_deref()) {
                Ok(wearing) => {
                    e.run_in_worker(req);
                    drop(wearing);
                }
                Err(err) => e.complete(req, err),
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    /// A cancellation signal that arrives while the worker is still in user space,
    /// before its blocking call, must not leave the call blocked: the canceller
    /// signals again until the worker has left the request.
    #[test]
    fn a_cancel_signalled_before_the_blocking_call_is_not_lost() {
        let wq = Arc::new(Wq::new(4));
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the pipe's two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (r, w) = (fds[0], fds[1]);
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let pool = wq.clone();
        let worker = std::thread::spawn(move || {
            install_handler();
            block_signals(true);
            IS_WORKER.with(|w| w.set(true));
            let slot = Arc::new(Slot {
                // SAFETY: pthread_self has no preconditions.
                thread: unsafe { libc::pthread_self() },
                user_data: AtomicU64::new(7),
                fd_op: AtomicU64::new(0),
                ltimeout: AtomicU64::new(0),
                busy: AtomicBool::new(true),
                cancel: AtomicBool::new(false),
                handing: AtomicBool::new(false),
                generation: AtomicU64::new(1),
                alive: Mutex::new(true),
            });
            pool.state.lock().unwrap().slots.push(slot.clone());
            ready_tx.send(()).unwrap();
            // Busy in user space while the first signal comes and goes.
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_millis(100) {
                std::hint::spin_loop();
            }
            let mut byte = 0u8;
            // SAFETY: a one-byte read into a local.
            let n = unsafe { libc::read(r, (&raw mut byte).cast(), 1) };
            let err = std::io::Error::last_os_error().raw_os_error();
            slot.busy.store(false, Ordering::Release);
            *slot.alive.lock().unwrap() = false;
            pool.state.lock().unwrap().slots.clear();
            done_tx.send((n, err)).unwrap();
        });
        ready_rx.recv().unwrap();
        assert_eq!(wq.interrupt_running(|r| r.user_data == 7, true).len(), 1);
        let got = done_rx.recv_timeout(Duration::from_secs(10));
        // Unblock the read whatever happened, so the thread ends.
        // SAFETY: our pipe's write end.
        unsafe { libc::close(w) };
        worker.join().unwrap();
        // SAFETY: our pipe's read end.
        unsafe { libc::close(r) };
        let (n, err) = got.expect("the blocking read was not interrupted: the signal was lost");
        assert_eq!((n, err), (-1, Some(libc::EINTR)));
    }

    /// A slot for a test thread standing in for a worker, running `user_data` as the
    /// pool's `generation`-th take, registered in `wq`; the thread can take the
    /// pool's signal.
    fn stand_in(wq: &Wq, user_data: u64, generation: u64) -> Arc<Slot> {
        install_handler();
        block_signals(true);
        IS_WORKER.with(|w| w.set(true));
        let slot = Arc::new(Slot {
            // SAFETY: pthread_self has no preconditions.
            thread: unsafe { libc::pthread_self() },
            user_data: AtomicU64::new(user_data),
            fd_op: AtomicU64::new(0),
            ltimeout: AtomicU64::new(0),
            busy: AtomicBool::new(true),
            cancel: AtomicBool::new(false),
            handing: AtomicBool::new(false),
            generation: AtomicU64::new(generation),
            alive: Mutex::new(true),
        });
        CURRENT.with(|c| *c.borrow_mut() = Some(slot.clone()));
        wq.state.lock().unwrap().slots.push(slot.clone());
        slot
    }

    /// The stand-in leaves: no longer busy, signalled or listed.
    fn leave(wq: &Wq, slot: &Arc<Slot>) {
        slot.busy.store(false, Ordering::Release);
        *slot.alive.lock().unwrap() = false;
        wq.state
            .lock()
            .unwrap()
            .slots
            .retain(|s| !Arc::ptr_eq(s, slot));
    }

    /// A canceller that matches a worker handing its request over waits until the
    /// handover ends, and then leaves that worker alone: the request is elsewhere.
    #[test]
    fn a_canceller_waits_for_a_handover_and_does_not_flag_it() {
        let wq = Arc::new(Wq::new(4));
        let ended = Arc::new(AtomicBool::new(false));
        let (handing_tx, handing_rx) = mpsc::channel();
        let (_never_tx, never_rx) = mpsc::channel::<()>();
        let (pool, end) = (wq.clone(), ended.clone());
        let worker = std::thread::spawn(move || {
            let slot = stand_in(&pool, 7, 1);
            let handover = pool.begin_handover().expect("not flagged yet");
            handing_tx.send(()).unwrap();
            // Give the canceller time to start waiting (the outcome must not depend
            // on it).
            let _ = never_rx.recv_timeout(Duration::from_millis(100));
            end.store(true, Ordering::SeqCst);
            drop(handover);
            let flagged = slot.cancel.load(Ordering::Acquire);
            let busy = slot.busy.load(Ordering::Acquire);
            leave(&pool, &slot);
            (flagged, busy)
        });
        handing_rx.recv().unwrap();
        let hit = wq.interrupt_running(|r| r.user_data == 7, false);
        assert!(ended.load(Ordering::SeqCst), "returned during the handover");
        assert!(hit.is_empty(), "{hit:?}");
        assert_eq!(worker.join().unwrap(), (false, false), "(flagged, busy)");
    }

    /// Two workers show the same `user_data` (one still shows a request it finished;
    /// the application reused its `user_data`): a cancellation of one request
    /// interrupts the worker that took its request last; with `all`, both.
    #[test]
    fn one_cancel_interrupts_the_latest_of_two_workers_with_one_user_data() {
        let wq = Arc::new(Wq::new(4));
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut releases = Vec::new();
        let mut workers = Vec::new();
        for generation in [1, 2] {
            let (pool, ready) = (wq.clone(), ready_tx.clone());
            let (release_tx, release_rx) = mpsc::channel::<()>();
            releases.push(release_tx);
            workers.push(std::thread::spawn(move || {
                let slot = stand_in(&pool, 7, generation);
                ready.send(()).unwrap();
                // Interrupted by the pool's signal, maybe: recv goes on waiting.
                let _ = release_rx.recv();
                let flagged = slot.cancel.load(Ordering::Acquire);
                leave(&pool, &slot);
                flagged
            }));
        }
        ready_rx.recv().unwrap();
        ready_rx.recv().unwrap();
        let hit = wq.interrupt_running(|r| r.user_data == 7, false);
        assert_eq!(hit.len(), 1);
        let flagged: Vec<bool> = {
            let st = wq.state.lock().unwrap();
            let mut v: Vec<_> = st
                .slots
                .iter()
                .map(|s| {
                    (
                        s.generation.load(Ordering::Relaxed),
                        s.cancel.load(Ordering::Acquire),
                    )
                })
                .collect();
            v.sort();
            v.into_iter().map(|(_, c)| c).collect()
        };
        assert_eq!(flagged, [false, true], "flagged, by generation");
        assert_eq!(wq.interrupt_running(|r| r.user_data == 7, true).len(), 2);
        drop(releases);
        let flagged: Vec<bool> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(flagged, [true, true]);
    }
}
