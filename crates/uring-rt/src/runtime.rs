//! The runtime: one ring, one thread, a local executor.
//!
//! # The loop
//! Each turn: move wakes that came from other threads into the run queue, poll every
//! task that was runnable at the start of the turn (a task that wakes itself waits for
//! the next turn, so I/O is never starved), then enter the ring once: submit what the
//! turn pushed and, only when no task is runnable, wait for a completion. CQEs are
//! dispatched by `user_data` to their op slots (see `driver.rs`), whose wakers put
//! tasks back in the run queue.
//!
//! # Wakers
//! A task's waker is an `Arc` holding its id, a `scheduled` flag (so a task is queued
//! once however often it is woken) and the runtime's [`Shared`] part. Woken on the
//! runtime's own thread, it pushes to the local run queue; woken anywhere else (another
//! thread, or another runtime on this thread), it pushes to the shared remote queue and
//! notifies the runtime, so one that waits in `io_uring_enter` wakes up: by a
//! `MSG_RING` message from the ring of the runtime the waker runs on, if any (same
//! backend), else by writing the runtime's eventfd, on which a read is armed in the
//! ring. Work sent by a [`Core`](crate::Core) takes the same way.
//!
//! The common wake skips the waker altogether: an op polled by a task of its own
//! runtime records the task's id in its slot (a task's waker is told from others by
//! its `static` vtable, [`local_task`]), the CQE's dispatch lists the id, and the loop
//! queues the listed tasks after the reap ([`Context::schedule_woken`]), with the same
//! `scheduled` flag a wake sets.
//!
//! In the engine's deterministic mode the eventfd read is not armed: that mode runs
//! one thread and only what the program itself does, and an fd waiting for the outside
//! world would tie the virtual clock to real time. Wakes from other threads are still
//! taken at every turn, but cannot interrupt a wait.
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use uring::{Backend, EngineConfig, sys};

use crate::driver::Driver;

/// A task's identity: slab index and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskId {
    index: u32,
    generation: u32,
}

/// The id of the future `block_on` runs.
const MAIN: TaskId = TaskId {
    index: u32::MAX,
    generation: 0,
};

/// What other threads leave for the runtime, taken by the loop at every turn.
#[derive(Default)]
struct Remote {
    /// Tasks woken from elsewhere.
    wakes: Vec<TaskId>,
    /// Work sent from other threads (see [`Core`](crate::Core)): each spawns a task.
    messages: Vec<Message>,
    /// The runtime is shut down: messages are refused (dropped at once).
    closed: bool,
}

/// Work sent to a runtime from another thread; it runs on the runtime's thread,
/// inside its loop.
pub(crate) type Message = Box<dyn FnOnce() + Send>;

/// The part of a runtime other threads can reach through a waker or a
/// [`Core`](crate::Core).
pub(crate) struct Shared {
    remote: Mutex<Remote>,
    /// Set by the first remote wake after the loop last took a notification; only
    /// that wake notifies the runtime. Cleared by the driver when the notification
    /// (the eventfd read, or a `MSG_RING` message) completes.
    pub(crate) notified: AtomicBool,
    eventfd: OwnedFd,
    /// A duplicate of the ring's fd, the target of `MSG_RING` notifications from other
    /// runtimes on the same backend. A duplicate keeps the ring alive while a message
    /// to it may be in flight (one posted to a ring whose runtime is gone lands in a
    /// CQ nobody reads). `None` where the ring has no fd (`REGISTERED_FD_ONLY`) or in
    /// the engine's deterministic mode.
    pub(crate) ring_fd: Option<OwnedFd>,
    pub(crate) backend: Backend,
    /// Notifications sent, by way: `MSG_RING` from another ring, eventfd write.
    pub(crate) notified_by_msg_ring: AtomicU64,
    pub(crate) notified_by_eventfd: AtomicU64,
}

impl Shared {
    fn remote(&self) -> std::sync::MutexGuard<'_, Remote> {
        self.remote.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_remote(self: &Arc<Self>, id: TaskId) {
        self.remote().wakes.push(id);
        self.notify();
    }

    /// Queues `message` for the runtime's thread; gives it back when the runtime is
    /// shut down.
    pub(crate) fn send(self: &Arc<Self>, message: Message) -> Result<(), Message> {
        {
            let mut remote = self.remote();
            if remote.closed {
                return Err(message);
            }
            remote.messages.push(message);
        }
        self.notify();
        Ok(())
    }

    /// Makes a runtime that waits in `io_uring_enter` (or is about to) take its remote
    /// queue: a `MSG_RING` message from the ring of the runtime running on this thread
    /// when there is one on the same backend (submitted with that runtime's next
    /// turn, no system call of its own), else a write to the eventfd.
    fn notify(self: &Arc<Self>) {
        // SeqCst: the push to `remote` above is visible to the loop before it can see
        // the flag clear again (pairs with the store in the driver's dispatch of the
        // notification, which precedes the loop's drain of `remote`).
        if self.notified.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.notify_by_msg_ring() {
            self.notified_by_msg_ring.fetch_add(1, Ordering::Relaxed);
        } else {
            self.write_eventfd();
        }
    }

    /// Queues a `MSG_RING` notification on the ring of this thread's runtime.
    fn notify_by_msg_ring(self: &Arc<Self>) -> bool {
        if self.ring_fd.is_none() {
            return false;
        }
        let Some(cx) = current() else {
            return false;
        };
        if Arc::ptr_eq(&cx.shared, self)
            || cx.shared.ring_fd.is_none()
            || cx.shared.backend != self.backend
        {
            return false;
        }
        // Held while a CQE is dispatched (a wake from inside the driver): eventfd.
        let Ok(mut driver) = cx.driver.try_borrow_mut() else {
            return false;
        };
        driver.notify_by_msg_ring(self.clone())
    }

    /// Writes the eventfd, on which the runtime keeps a read armed.
    pub(crate) fn write_eventfd(&self) {
        self.notified_by_eventfd.fetch_add(1, Ordering::Relaxed);
        // An eventfd write of 1 fails only when the counter would overflow, which
        // still leaves the fd readable.
        let _ = rustix::io::write(&self.eventfd, &1u64.to_ne_bytes());
    }
}

/// A task's waker: the data behind an `Arc`, made a [`Waker`] by [`task_waker`].
struct TaskWaker {
    id: TaskId,
    scheduled: AtomicBool,
    shared: Arc<Shared>,
}

impl TaskWaker {
    fn wake_by_ref(&self) {
        // Acquire/Release: the loop's clear of `scheduled` (before it polls the task)
        // happens before a wake that must queue the task again.
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let local = CURRENT
            .try_with(|c| match &*c.borrow() {
                Some(cx) if Arc::ptr_eq(&cx.shared, &self.shared) => {
                    cx.run_queue.borrow_mut().push(self.id);
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if !local {
            self.shared.wake_remote(self.id);
        }
    }
}

/// The vtable of every task's [`Waker`]: a `static`, so its address tells a task's
/// waker from any other (see [`local_task`]). The data pointer is an
/// `Arc<TaskWaker>`'s (`Arc::into_raw`), owning one strong count.
static TASK_WAKER: RawWakerVTable =
    RawWakerVTable::new(task_clone, task_wake, task_wake_by_ref, task_drop);

/// # Safety
/// `p` is the data of a waker made by [`task_waker`] (a live `Arc<TaskWaker>`).
unsafe fn task_clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` came from `Arc::into_raw` and its count is held by the waker being
    // cloned; the new waker owns the count added here.
    unsafe { Arc::increment_strong_count(p.cast::<TaskWaker>()) };
    RawWaker::new(p, &TASK_WAKER)
}

/// # Safety
/// As [`task_clone`]; the waker's count is consumed.
unsafe fn task_wake(p: *const ()) {
    // SAFETY: the waker owned this count (from `Arc::into_raw`); it is dropped here.
    let w = unsafe { Arc::from_raw(p.cast::<TaskWaker>()) };
    w.wake_by_ref();
}

/// # Safety
/// As [`task_clone`].
unsafe fn task_wake_by_ref(p: *const ()) {
    // SAFETY: the waker holds a count, so the `TaskWaker` lives for this call.
    unsafe { &*p.cast::<TaskWaker>() }.wake_by_ref();
}

/// # Safety
/// As [`task_clone`]; the waker's count is consumed.
unsafe fn task_drop(p: *const ()) {
    // SAFETY: the waker owned this count (from `Arc::into_raw`).
    drop(unsafe { Arc::from_raw(p.cast::<TaskWaker>()) });
}

/// `w` as a [`Waker`] (one strong count moves into it).
fn task_waker(w: Arc<TaskWaker>) -> Waker {
    let raw = RawWaker::new(Arc::into_raw(w).cast::<()>(), &TASK_WAKER);
    // SAFETY: the vtable's functions keep `RawWaker`'s contract for this data: clone
    // adds a count, wake and drop consume one, wake_by_ref borrows; `TaskWaker` is
    // `Send + Sync` (atomics, an `Arc<Shared>` of `Send + Sync` parts).
    unsafe { Waker::from_raw(raw) }
}

/// The task `waker` wakes, when it is a spawned task's waker of the runtime whose
/// shared part is `shared`: the driver then records the id rather than a clone of the
/// waker, and queues the task itself when the op completes (no reference count, no
/// thread-local look-up). `None` for any other waker (another runtime's, the future
/// of `block_on`, a combinator's own).
pub(crate) fn local_task(waker: &Waker, shared: &Arc<Shared>) -> Option<TaskId> {
    if !std::ptr::eq(waker.vtable(), &TASK_WAKER) {
        return None;
    }
    // SAFETY: a waker with this vtable was made by `task_waker`: its data is a live
    // `Arc<TaskWaker>`'s, kept alive by `waker` for this borrow.
    let w = unsafe { &*waker.data().cast::<TaskWaker>() };
    (Arc::ptr_eq(&w.shared, shared) && w.id.index != MAIN.index).then_some(w.id)
}

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

struct Task {
    generation: u32,
    /// `None` while the task is being polled (or once it is gone).
    future: Option<LocalFuture>,
    waker: Arc<TaskWaker>,
    /// `waker` as a `Waker`, made once: lent to each poll (taken out, put back), so a
    /// poll costs no reference count. `None` while the task is being polled.
    handle: Option<Waker>,
    /// Aborted while it was being polled: dropped right after the poll.
    aborted: bool,
}

/// The tasks of a runtime, in a slab indexed by [`TaskId`].
#[derive(Default)]
struct Tasks {
    slots: Vec<Option<Task>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    len: usize,
}

impl Tasks {
    fn get_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        self.slots
            .get_mut(id.index as usize)?
            .as_mut()
            .filter(|t| t.generation == id.generation)
    }

    fn get(&self, id: TaskId) -> Option<&Task> {
        self.slots
            .get(id.index as usize)?
            .as_ref()
            .filter(|t| t.generation == id.generation)
    }

    fn vacant(&mut self) -> TaskId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        TaskId {
            index,
            generation: self.generations[index as usize],
        }
    }

    fn insert(&mut self, id: TaskId, task: Task) {
        self.slots[id.index as usize] = Some(task);
        self.len += 1;
    }

    fn remove(&mut self, id: TaskId) -> Option<Task> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.as_ref()?.generation != id.generation {
            return None;
        }
        let task = slot.take();
        let g = &mut self.generations[id.index as usize];
        *g = g.wrapping_add(1);
        self.free.push(id.index);
        self.len -= 1;
        task
    }

    /// Takes every task out, to drop them with no borrow held.
    fn drain(&mut self) -> Vec<Task> {
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            if let Some(t) = &self.slots[i] {
                let id = TaskId {
                    index: i as u32,
                    generation: t.generation,
                };
                out.extend(self.remove(id));
            }
        }
        out
    }
}

/// Where the runtime takes the time from.
pub(crate) enum Clock {
    /// `CLOCK_MONOTONIC`.
    Real,
    /// Virtual time (the engine's deterministic mode): it starts at the runtime's
    /// creation and moves only when a timer of this runtime fires, to that timer's
    /// deadline, as the engine's own clock does.
    Virtual { now: Cell<Instant> },
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real => Instant::now(),
            Clock::Virtual { now, .. } => now.get(),
        }
    }

    /// Sets virtual time to `t` (a simulator keeping several runtimes on one clock);
    /// real time ignores it.
    pub(crate) fn set(&self, t: Instant) {
        if let Clock::Virtual { now, .. } = self {
            now.set(t);
        }
    }

    /// A timer with `deadline` fired.
    pub(crate) fn advance_to(&self, deadline: Instant) {
        if let Clock::Virtual { now, .. } = self
            && deadline > now.get()
        {
            now.set(deadline);
        }
    }
}

/// The runtime's state, shared (by `Rc`) with the futures of its ops and tasks.
pub(crate) struct Context {
    pub(crate) driver: RefCell<Driver>,
    tasks: RefCell<Tasks>,
    /// Tasks to poll at the next turn, in wake order. A turn takes the whole list
    /// (see [`Turn`]) and polls it without touching this cell per task.
    run_queue: RefCell<Vec<TaskId>>,
    /// The storage of the list the last turn polled, kept for the next one.
    spare_queue: RefCell<Vec<TaskId>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Clock,
    /// Op ids whose futures were dropped while the driver was borrowed.
    pub(crate) deferred_drops: RefCell<Vec<crate::driver::OpId>>,
    /// The runtimes started together with this one by [`Builder::run`], if it was.
    pub(crate) pool: RefCell<Option<crate::cores::Membership>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Context>>> = const { RefCell::new(None) };
}

/// The runtime running on this thread, if any.
pub(crate) fn current() -> Option<Rc<Context>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Sets [`CURRENT`] for the life of the guard.
struct Enter {
    prev: Option<Rc<Context>>,
}

impl Enter {
    fn new(cx: &Rc<Context>) -> Enter {
        let prev = CURRENT.with(|c| c.replace(Some(cx.clone())));
        Enter { prev }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|c| c.replace(prev));
    }
}

impl Context {
    fn spawn_task(self: &Rc<Self>, future: LocalFuture) -> TaskId {
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.vacant();
        let waker = Arc::new(TaskWaker {
            id,
            scheduled: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        tasks.insert(
            id,
            Task {
                generation: id.generation,
                future: Some(future),
                handle: Some(task_waker(waker.clone())),
                waker,
                aborted: false,
            },
        );
        drop(tasks);
        self.run_queue.borrow_mut().push(id);
        id
    }

    /// Polls task `id` once.
    fn poll_task(&self, id: TaskId) {
        let (mut future, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(task) = tasks.get_mut(id) else {
                return;
            };
            // Cleared before the poll: a wake during the poll queues it again.
            task.waker.scheduled.store(false, Ordering::Release);
            match task.future.take() {
                Some(f) => {
                    let waker = task
                        .handle
                        .take()
                        .unwrap_or_else(|| task_waker(task.waker.clone()));
                    (f, waker)
                }
                None => return,
            }
        };
        let ready = future
            .as_mut()
            .poll(&mut TaskContext::from_waker(&waker))
            .is_ready();
        let done = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get_mut(id) {
                Some(task) if !ready && !task.aborted => {
                    task.future = Some(future);
                    task.handle = Some(waker);
                    None
                }
                Some(_) => {
                    tasks.remove(id);
                    Some(future)
                }
                None => Some(future),
            }
        };
        // Dropped with no borrow held: its drop may cancel ops or spawn.
        drop(done);
    }

    fn abort(&self, id: TaskId) {
        let future = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get_mut(id) {
                Some(t) if t.future.is_some() => tasks.remove(id).and_then(|t| t.future),
                Some(t) => {
                    t.aborted = true;
                    None
                }
                None => None,
            }
        };
        drop(future);
    }

    /// Queues the tasks the driver's completions woke (see [`local_task`]), in their
    /// CQEs' order, each once: as its waker's `wake` would, without the thread-local
    /// look-up.
    fn schedule_woken(&self, driver: &mut Driver) {
        let woken = driver.woken();
        if woken.is_empty() {
            return;
        }
        let tasks = self.tasks.borrow();
        let mut run_queue = self.run_queue.borrow_mut();
        for id in woken.drain(..) {
            // As in `TaskWaker::wake_by_ref`; a task gone since (aborted) is skipped.
            if let Some(task) = tasks.get(id)
                && !task.waker.scheduled.swap(true, Ordering::AcqRel)
            {
                run_queue.push(id);
            }
        }
    }

    /// Moves remote wakes into the run queue and runs the messages sent from other
    /// threads (each spawns a task); returns whether there were any.
    fn take_remote(&self) -> bool {
        let messages = {
            let mut remote = self.shared.remote();
            if remote.wakes.is_empty() && remote.messages.is_empty() {
                return false;
            }
            self.run_queue.borrow_mut().extend(remote.wakes.drain(..));
            std::mem::take(&mut remote.messages)
        };
        // Run with the lock released: a message may send to this runtime again.
        for message in messages {
            message();
        }
        true
    }

    /// Refuses messages from now on and drops those not run yet (their handles
    /// say [`JoinError::Cancelled`]).
    fn close_remote(&self) {
        let messages = {
            let mut remote = self.shared.remote();
            remote.closed = true;
            std::mem::take(&mut remote.messages)
        };
        drop(messages);
    }

    fn flush_deferred_drops(&self) {
        let ids = std::mem::take(&mut *self.deferred_drops.borrow_mut());
        if ids.is_empty() {
            return;
        }
        let mut driver = self.driver.borrow_mut();
        for &id in &ids {
            driver.drop_op(id);
        }
    }
}

/// The tasks one turn of `block_on` polls: the run queue as it was at the start of
/// the turn (wakes during the turn go to the queue for the next one). Dropped, it
/// puts back at the head of the queue the tasks it did not reach (the turn ended
/// early: `block_on`'s future completed, or a task panicked), and keeps its storage
/// for the next turn.
struct Turn<'a> {
    cx: &'a Context,
    ids: Vec<TaskId>,
    next: usize,
}

impl<'a> Turn<'a> {
    fn start(cx: &'a Context) -> Turn<'a> {
        let spare = std::mem::take(&mut *cx.spare_queue.borrow_mut());
        let ids = std::mem::replace(&mut *cx.run_queue.borrow_mut(), spare);
        Turn { cx, ids, next: 0 }
    }

    fn next(&mut self) -> Option<TaskId> {
        let id = self.ids.get(self.next).copied();
        self.next += 1;
        id
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut ids = std::mem::take(&mut self.ids);
        if self.next < ids.len() {
            let mut queue = self.cx.run_queue.borrow_mut();
            queue.splice(0..0, ids[self.next..].iter().copied());
        }
        ids.clear();
        *self.cx.spare_queue.borrow_mut() = ids;
    }
}

/// Configures and builds a [`Runtime`].
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let rt = uring_rt::Runtime::builder().entries(512).build()?;
/// rt.block_on(async { /* ... */ });
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    entries: u32,
    backend: Backend,
    backend_exact: bool,
    sqpoll: Option<Duration>,
    taskrun: bool,
    defer_taskrun: bool,
    engine: Option<EngineConfig>,
    /// Runtimes [`Builder::run`] starts; 0: one per CPU.
    pub(crate) threads: usize,
    /// Whether [`Builder::run`] pins each runtime's thread to a CPU.
    pub(crate) pin: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            entries: 256,
            backend: Backend::Auto,
            backend_exact: false,
            sqpoll: None,
            taskrun: true,
            defer_taskrun: true,
            engine: None,
            threads: 0,
            pin: true,
        }
    }
}

impl Builder {
    /// A builder with the defaults: 256 SQ entries, [`Backend::Auto`], task-run flags
    /// where the kernel has them, no SQPOLL.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// SQ entries of the ring (rounded up to a power of two; the CQ has twice as many).
    /// More entries let more ops wait in one submission. Default 256.
    pub fn entries(mut self, entries: u32) -> Self {
        self.entries = entries;
        self
    }

    /// The backend: [`Backend::Kernel`], [`Backend::Engine`], or [`Backend::Auto`] (the
    /// default: the kernel, or the engine where io_uring is refused). The environment
    /// variable `URING_BACKEND` overrides it.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self.backend_exact = false;
        self
    }

    /// The backend, whatever `URING_BACKEND` says (for harnesses that run one body on
    /// each backend).
    #[doc(hidden)]
    pub fn backend_exact(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self.backend_exact = true;
        self
    }

    /// Options of the engine backend (deterministic mode, fault injection). Without
    /// it, the engine reads `URING_ENGINE_SEED` and `URING_ENGINE_FAULTS`.
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = Some(config);
        self
    }

    /// `IORING_SETUP_SQPOLL`: a kernel thread polls the SQ, so submitting needs no
    /// system call while it is awake; it sleeps after `idle`. Off by default (it costs
    /// a CPU while busy). Replaces the task-run flags, which SQPOLL excludes.
    pub fn sqpoll(mut self, idle: Duration) -> Self {
        self.sqpoll = Some(idle);
        self
    }

    /// Whether to ask for `SINGLE_ISSUER | DEFER_TASKRUN` (or else `COOP_TASKRUN`) with
    /// `TASKRUN_FLAG` when the kernel has them (default true; each is tried in turn
    /// and dropped when refused). These spare the kernel interrupting the thread to
    /// post completions; the runtime's thread-per-core shape satisfies their rules.
    pub fn taskrun_flags(mut self, on: bool) -> Self {
        self.taskrun = on;
        self
    }

    /// With the task-run flags on, whether `DEFER_TASKRUN` is tried first (default
    /// true); false asks for `COOP_TASKRUN` straight away.
    pub fn defer_taskrun(mut self, on: bool) -> Self {
        self.defer_taskrun = on;
        self
    }

    /// How many runtimes [`Builder::run`] starts, each on its own thread with its own
    /// ring (0, the default: one per CPU this process may run on). [`Builder::build`]
    /// ignores it.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Whether [`Builder::run`] pins runtime `i` to the `i`-th CPU this process may
    /// run on (`sched_setaffinity`; wrapping around when there are more runtimes than
    /// CPUs). Default true: a thread-per-core runtime keeps its ring, its tasks and
    /// their data in one CPU's caches.
    pub fn pin_threads(mut self, on: bool) -> Self {
        self.pin = on;
        self
    }

    /// Builds the runtime on this thread.
    ///
    /// # Errors
    /// The ring's setup error (io_uring refused with no fallback, memlock, entries out
    /// of range), a malformed `URING_BACKEND` or engine variable, or the eventfd's.
    pub fn build(&self) -> io::Result<Runtime> {
        let backend = if self.backend_exact {
            self.backend
        } else {
            Backend::from_env()?.unwrap_or(self.backend)
        };
        let engine = match &self.engine {
            Some(c) => c.clone(),
            None => EngineConfig::try_from_env()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
        };
        let base = uring::Ring::builder()
            .backend_exact(backend)
            .engine_config(engine.clone());
        let attempts: &[u32] = match (self.sqpoll, self.taskrun) {
            (Some(_), _) => &[sys::IORING_SETUP_SINGLE_ISSUER, 0],
            (None, true) if !self.defer_taskrun => &[
                sys::IORING_SETUP_SINGLE_ISSUER
                    | sys::IORING_SETUP_COOP_TASKRUN
                    | sys::IORING_SETUP_TASKRUN_FLAG,
                sys::IORING_SETUP_COOP_TASKRUN | sys::IORING_SETUP_TASKRUN_FLAG,
                0,
            ],
            (None, true) => &[
                sys::IORING_SETUP_SINGLE_ISSUER
                    | sys::IORING_SETUP_DEFER_TASKRUN
                    | sys::IORING_SETUP_TASKRUN_FLAG,
                sys::IORING_SETUP_COOP_TASKRUN | sys::IORING_SETUP_TASKRUN_FLAG,
                0,
            ],
            (None, false) => &[0],
        };
        let mut b = base;
        if let Some(idle) = self.sqpoll {
            b = b.sqpoll(idle);
        }
        let ring = b.build_preferring(self.entries, attempts)?;
        let deterministic = ring.backend() == Backend::Engine && engine.seed().is_some();
        let eventfd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        let reader = if deterministic {
            None
        } else {
            Some(eventfd.as_fd().try_clone_to_owned()?)
        };
        let ring_fd = match ring.fd() {
            Some(fd) if !deterministic => Some(fd.try_clone_to_owned()?),
            _ => None,
        };
        let shared = Arc::new(Shared {
            remote: Mutex::new(Remote::default()),
            notified: AtomicBool::new(false),
            eventfd,
            ring_fd,
            backend: ring.backend(),
            notified_by_msg_ring: AtomicU64::new(0),
            notified_by_eventfd: AtomicU64::new(0),
        });
        let clock = if deterministic {
            Clock::Virtual {
                now: Cell::new(Instant::now()),
            }
        } else {
            Clock::Real
        };
        let cx = Rc::new(Context {
            driver: RefCell::new(Driver::new(ring, reader, shared.clone())),
            tasks: RefCell::new(Tasks::default()),
            run_queue: RefCell::new(Vec::new()),
            spare_queue: RefCell::new(Vec::new()),
            shared,
            clock,
            deferred_drops: RefCell::new(Vec::new()),
            pool: RefCell::new(None),
        });
        Ok(Runtime {
            cx,
            _not_send: PhantomData,
        })
    }
}

/// A thread-per-core runtime: one ring and a local executor, on the thread that
/// created it (`Runtime` is neither `Send` nor `Sync`).
///
/// Dropping it drops every task (their ops are cancelled), waits for the last CQE of
/// every op, then closes and unmaps the ring. If the kernel does not finish some op
/// within 5 seconds of the last progress (an op it will not cancel, blocked for good),
/// the ring and the op slots are **leaked**, not freed, since the kernel may still
/// write into them; [`Runtime::shutdown`] says which happened.
pub struct Runtime {
    cx: Rc<Context>,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.cx.driver.borrow();
        f.debug_struct("Runtime")
            .field("backend", &d.ring().map(|r| r.backend()))
            .field("ops_in_flight", &d.in_flight())
            .field("tasks", &self.cx.tasks.borrow().len)
            .finish()
    }
}

impl Runtime {
    /// A runtime with the default settings (see [`Builder::new`]).
    ///
    /// # Errors
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`].
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// This runtime as a [`Core`](crate::Core): a `Send + Sync` handle other threads
    /// use to send it work and descriptors.
    pub fn core(&self) -> crate::Core {
        let index = self.cx.pool.borrow().as_ref().map_or(0, |m| m.index());
        crate::Core::new(index, self.cx.shared.clone())
    }

    pub(crate) fn context(&self) -> &Rc<Context> {
        &self.cx
    }

    /// Turns on NAPI busy polling for the sockets this ring waits on
    /// (`IORING_REGISTER_NAPI`, Linux 6.9): while it waits for completions, the
    /// ring's task polls the network device's receive queue for up to `busy_poll`
    /// instead of sleeping until an interrupt; `prefer_busy_poll` also defers the
    /// device's interrupts while the application polls. Returns the settings the
    /// kernel had before.
    ///
    /// # Errors
    /// `EINVAL` from a kernel without it (or built without
    /// `CONFIG_NET_RX_BUSY_POLL`), and from the engine, which cannot reach a device's
    /// queues from user space: run without it there.
    pub fn register_napi(
        &self,
        busy_poll: Duration,
        prefer_busy_poll: bool,
    ) -> io::Result<uring::NapiSettings> {
        let usec = u32::try_from(busy_poll.as_micros()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "busy_poll: over u32::MAX µs")
        })?;
        let d = self.cx.driver.borrow();
        let ring = d
            .ring()
            .ok_or_else(|| io::Error::other("the runtime is shut down"))?;
        ring.submitter().register_napi(usec, prefer_busy_poll, 0)
    }

    /// The backend the ring runs on ([`Backend::Kernel`] or [`Backend::Engine`]).
    pub fn backend(&self) -> Backend {
        self.cx
            .driver
            .borrow()
            .ring()
            .map_or(Backend::Kernel, |r| r.backend())
    }

    /// Runs `f` with this runtime as the thread's current one (so `spawn` and ops
    /// reach it), for a driver of several runtimes on one thread (`sim`).
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _enter = Enter::new(&self.cx);
        f()
    }

    /// One turn of the loop that never blocks, for a driver of several runtimes on
    /// one thread (`sim`; [`block_on`](Self::block_on) refuses to nest): the tasks
    /// runnable now are polled in the order `order` leaves them in (it may permute
    /// them), then the ring is entered once, without waiting, and its completions
    /// dispatched. Returns how many tasks were polled, and whether tasks are runnable
    /// after it (woken by the completions, or by themselves).
    ///
    /// # Errors
    /// The ring's, as [`block_on`](Self::block_on) panics with.
    pub(crate) fn turn_now(
        &self,
        order: &mut dyn FnMut(&mut [TaskId]),
    ) -> io::Result<(usize, bool)> {
        let _enter = Enter::new(&self.cx);
        let cx = &self.cx;
        cx.take_remote();
        let mut ids: Vec<TaskId> = cx.run_queue.borrow_mut().drain(..).collect();
        order(&mut ids);
        for &id in &ids {
            if id.index != MAIN.index {
                cx.poll_task(id);
            }
        }
        cx.flush_deferred_drops();
        {
            let mut driver = cx.driver.borrow_mut();
            driver.turn(false)?;
            cx.schedule_woken(&mut driver);
        }
        let runnable = !cx.run_queue.borrow().is_empty() || cx.take_remote();
        Ok((ids.len(), runnable))
    }

    /// Ops in flight or cancelled and not yet finished (for tests of cancellation).
    #[doc(hidden)]
    pub fn ops_in_flight(&self) -> usize {
        self.cx.driver.borrow().in_flight()
    }

    /// The features the ring reports (`IORING_FEAT_*`): the kernel's, or those the
    /// engine honours.
    pub fn features(&self) -> u32 {
        self.cx
            .driver
            .borrow()
            .ring()
            .map_or(0, |r| r.params().features())
    }

    /// The setup flags the ring got (`IORING_SETUP_*`), after the fallbacks.
    pub fn setup_flags(&self) -> u32 {
        self.cx
            .driver
            .borrow()
            .ring()
            .map_or(0, |r| r.params().flags())
    }

    /// Runs `future` to completion on this thread, with the tasks it spawns.
    ///
    /// Tasks still running when `future` completes stay in the runtime, and run again
    /// at the next `block_on`.
    ///
    /// # Panics
    /// When called from inside a runtime's `block_on` (nested), when a task panics
    /// (the panic goes on through `block_on`), when the ring fails beyond repair (an
    /// errno other than `EINTR`, `EAGAIN`, `EBUSY` from `io_uring_enter` with no SQE
    /// waiting to take it: a failed submit that left SQEs in the SQ is not a panic,
    /// their ops complete with its errno), and in the engine's deterministic mode when
    /// no task can ever run again (a deadlock).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            current().is_none(),
            "uring_rt: block_on called from inside a runtime (nested block_on)"
        );
        let _enter = Enter::new(&self.cx);
        let cx = &self.cx;
        let main = Arc::new(TaskWaker {
            id: MAIN,
            scheduled: AtomicBool::new(true),
            shared: cx.shared.clone(),
        });
        let main_waker = task_waker(main.clone());
        let mut future = pin!(future);
        cx.run_queue.borrow_mut().push(MAIN);
        loop {
            cx.take_remote();
            let mut turn = Turn::start(cx);
            while let Some(id) = turn.next() {
                if id == MAIN {
                    main.scheduled.store(false, Ordering::Release);
                    if let Poll::Ready(v) = future
                        .as_mut()
                        .poll(&mut TaskContext::from_waker(&main_waker))
                    {
                        return v;
                    }
                } else if id.index != MAIN.index {
                    cx.poll_task(id);
                }
            }
            drop(turn);
            cx.flush_deferred_drops();
            let idle = cx.run_queue.borrow().is_empty() && !cx.take_remote();
            let mut driver = cx.driver.borrow_mut();
            if idle && driver.in_flight() == 0 && matches!(cx.clock, Clock::Virtual { .. }) {
                panic!("uring_rt: deadlock: no task can run and no operation is in flight");
            }
            if let Err(e) = driver.turn(idle) {
                panic!("uring_rt: the ring failed: {e}");
            }
            cx.schedule_woken(&mut driver);
        }
    }

    /// Cancels every op, drops every task and waits for the last CQE; then closes the
    /// ring. Returns `true` when the drain finished, `false` when the kernel did not
    /// finish some op within `give_up_after` of the last progress and the ring and
    /// the op slots were leaked instead (see the type's docs). Dropping the runtime
    /// does the same with 5 seconds.
    pub fn shutdown(self, give_up_after: Duration) -> bool {
        self.shutdown_inner(give_up_after)
    }

    fn shutdown_inner(&self, give_up_after: Duration) -> bool {
        let _enter = (current().is_none()).then(|| Enter::new(&self.cx));
        self.cx.close_remote();
        loop {
            let tasks = self.cx.tasks.borrow_mut().drain();
            if tasks.is_empty() {
                break;
            }
            drop(tasks);
        }
        self.cx.run_queue.borrow_mut().clear();
        self.cx.flush_deferred_drops();
        let mut d = self.cx.driver.borrow_mut();
        d.shutdown(give_up_after);
        !d.leaked()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown_inner(Duration::from_secs(5));
    }
}

/// Runs `future` on a new runtime with the default settings (see [`Builder::new`]) and
/// returns its output; the runtime is dropped afterwards.
///
/// # Panics
/// When the runtime cannot be built (io_uring refused with no fallback possible), and
/// as [`Runtime::block_on`].
pub fn block_on<F: Future>(future: F) -> F::Output {
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("uring_rt::block_on: cannot build a runtime: {e}"),
    };
    rt.block_on(future)
}

/// Why a [`JoinHandle`] has no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The task was aborted ([`JoinHandle::abort`]) or its runtime was dropped.
    Cancelled,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was cancelled")
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        io::Error::new(io::ErrorKind::Interrupted, e)
    }
}

struct JoinState<T> {
    output: Option<Result<T, JoinError>>,
    waiter: Option<Waker>,
}

/// Completes the join state when the task ends, or with [`JoinError::Cancelled`] when
/// its future is dropped before.
struct Completer<T>(Rc<RefCell<JoinState<T>>>);

impl<T> Completer<T> {
    fn finish(&self, output: Result<T, JoinError>) {
        let waiter = {
            let mut s = self.0.borrow_mut();
            if s.output.is_none() {
                s.output = Some(output);
            }
            s.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let unfinished = self.0.borrow().output.is_none();
        if unfinished {
            self.finish(Err(JoinError::Cancelled));
        }
    }
}

/// The handle of a spawned task: await it for the task's output, or abort the task.
/// Dropping the handle detaches the task, which runs on.
#[must_use = "dropping a JoinHandle detaches the task; await it or call abort"]
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
    cx: Weak<Context>,
    id: TaskId,
    taken: bool,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Stops the task: its future is dropped (now, or right after its current poll if
    /// it is running), which cancels its ops. Awaiting the handle then gives
    /// [`JoinError::Cancelled`], unless the task had already finished.
    pub fn abort(&self) {
        if let Some(cx) = self.cx.upgrade() {
            cx.abort(self.id);
        }
    }

    /// Whether the task has finished (or was aborted).
    pub fn is_finished(&self) -> bool {
        self.taken || self.state.borrow().output.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.taken {
            return Poll::Ready(Err(JoinError::Cancelled));
        }
        let mut s = this.state.borrow_mut();
        match s.output.take() {
            Some(out) => {
                this.taken = true;
                Poll::Ready(out)
            }
            None => {
                s.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Spawns `future` as a task on the runtime of this thread. Tasks are not `Send`: they
/// run on this thread only.
///
/// # Panics
/// When no runtime runs on this thread (call it inside [`Runtime::block_on`]).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(cx) = current() else {
        panic!("uring_rt::spawn called outside a runtime (call it inside block_on)");
    };
    let state = Rc::new(RefCell::new(JoinState {
        output: None,
        waiter: None,
    }));
    let completer = Completer(state.clone());
    let id = cx.spawn_task(Box::pin(async move {
        let out = future.await;
        completer.finish(Ok(out));
    }));
    JoinHandle {
        state,
        cx: Rc::downgrade(&cx),
        id,
        taken: false,
    }
}

/// Yields to the other tasks: the current task runs again at the next turn of the
/// loop, after the ring was entered once.
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}
