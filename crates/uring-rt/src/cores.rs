//! Many cores: [`Builder::run`] starts one runtime per thread (thread-per-core: each
//! its own ring, its tasks never leave it), and [`Core`] sends work, and file
//! descriptors, from one to another (see [`Core`] for how).
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

use crate::runtime::{self, Builder, JoinError, Shared};

/// One runtime, seen from any thread: send it work with [`spawn`](Core::spawn) and
/// descriptors with [`spawn_with_fd`](Core::spawn_with_fd). `Clone`, `Send`, `Sync`.
///
/// Get the cores of a pool with [`cores`], this thread's with [`Core::current`], a
/// lone runtime's with [`Runtime::core`](crate::Runtime::core).
///
/// # How work crosses
/// A [`Core`] is the `Send + Sync` side of one runtime. [`Core::spawn`] puts a closure
/// in that runtime's remote queue and notifies it: when the sender is itself a runtime
/// on the same backend, by an `IORING_OP_MSG_RING` message from the sender's ring to
/// the target's (`IORING_MSG_DATA`: a CQE posted in the target's CQ, which ends its
/// wait in `io_uring_enter`), pushed with the sender's next submission, so the
/// notification costs no system call of its own; from any other thread, or if the
/// message fails (a kernel before 5.18), by a write to the target's eventfd, on which
/// every runtime keeps a read armed. Only the first notification after the target
/// last looked at its queue is sent; the rest ride with it.
///
/// # File descriptors
/// [`Core::spawn_with_fd`] hands a descriptor to a task on another core. The
/// runtime's descriptors are ordinary ones, in the file table all threads of the
/// process share, so the [`OwnedFd`] itself travels in the message: no copy, no
/// system call. `MSG_RING`'s other form, `IORING_MSG_SEND_FD`, moves a *direct*
/// descriptor (an entry of one ring's private file table) into another ring's table;
/// it is the way across for direct descriptors, and would cost an ordinary one a
/// registration on the sender, a `FIXED_FD_INSTALL` and two closes on the receiver.
/// A descriptor whose target has shut down is closed with the message, never leaked.
#[derive(Clone)]
pub struct Core {
    index: usize,
    shared: Arc<Shared>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("index", &self.index)
            .field("backend", &self.shared.backend)
            .finish()
    }
}

impl Core {
    pub(crate) fn new(index: usize, shared: Arc<Shared>) -> Core {
        Core { index, shared }
    }

    /// The core of the runtime running on this thread; `None` outside a runtime.
    pub fn current() -> Option<Core> {
        let cx = runtime::current()?;
        let index = cx.pool.borrow().as_ref().map_or(0, Membership::index);
        Some(Core::new(index, cx.shared.clone()))
    }

    /// Its place among the cores of its pool (0 for a lone runtime).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The backend of its ring.
    pub fn backend(&self) -> crate::Backend {
        self.shared.backend
    }

    /// Whether `self` and `other` are the same runtime.
    pub fn same(&self, other: &Core) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Runs `future` as a task on this core. The task stays there (like every task
    /// it spawns); its output comes back through the handle, which any runtime (or
    /// none: see [`RemoteJoinHandle`]) can await.
    pub fn spawn<F>(&self, future: F) -> RemoteJoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(move || future)
    }

    /// Calls `make` on this core and runs the future it returns as a task there. The
    /// future itself need not be `Send`: it is made where it runs (so it may hold
    /// `Rc`s and the runtime's own files and sockets).
    pub fn spawn_with<M, F>(&self, make: M) -> RemoteJoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let state = Arc::new(Mutex::new(RemoteState {
            output: None,
            waiter: None,
        }));
        let completer = RemoteCompleter(state.clone());
        let message: runtime::Message = Box::new(move || {
            // Detached: the handle is `completer`'s, not the local JoinHandle's.
            drop(crate::spawn(async move {
                let out = make().await;
                completer.finish(Ok(out));
            }));
        });
        // Refused (the runtime is shut down): dropping the message cancels the handle.
        if let Err(message) = self.shared.send(message) {
            drop(message);
        }
        RemoteJoinHandle { state }
    }

    /// Hands `fd` to a task on this core: calls `make(fd)` there and runs the future it
    /// returns, as [`spawn_with`](Core::spawn_with). If the core has shut down, `fd` is
    /// closed (with the message) and the handle says [`JoinError::Cancelled`]. See
    /// [`Core`] for why the descriptor travels in the message rather than by
    /// `IORING_MSG_SEND_FD`.
    pub fn spawn_with_fd<M, F>(&self, fd: OwnedFd, make: M) -> RemoteJoinHandle<F::Output>
    where
        M: FnOnce(OwnedFd) -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(move || make(fd))
    }

    /// How many times this core was notified of remote work by a `MSG_RING` message
    /// from another ring, and by an eventfd write (for tests and benchmarks).
    #[doc(hidden)]
    pub fn notifications(&self) -> (u64, u64) {
        (
            self.shared.notified_by_msg_ring.load(Ordering::Relaxed),
            self.shared.notified_by_eventfd.load(Ordering::Relaxed),
        )
    }
}

impl crate::net::TcpListener {
    /// A listener on `addr` with `SO_REUSEPORT` set (and `SO_REUSEADDR`, as
    /// [`bind`](Self::bind)), so that several can listen on one port: one per core,
    /// each bound on its own core, and the kernel spreads the incoming connections
    /// among them (by a hash of their addresses and ports), with no hand-off between
    /// cores. Every listener of such a group must be made by the same user.
    ///
    /// With port 0 each call gets a port of its own: bind the first, then the others
    /// to its [`local_addr`](Self::local_addr).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// use uring_rt::net::TcpListener;
    /// uring_rt::Builder::new().run(|| async {
    ///     let listener = TcpListener::bind_reuseport("127.0.0.1:8080").await?;
    ///     loop {
    ///         let (stream, _) = listener.accept().await?;
    ///         drop(uring_rt::spawn(async move { /* serve `stream` on this core */ drop(stream) }));
    ///     }
    /// })?
    /// .into_iter()
    /// .collect::<std::io::Result<Vec<()>>>()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`bind`](Self::bind); `EADDRINUSE` when a listener without `SO_REUSEPORT`
    /// (or another user's) holds the port.
    pub async fn bind_reuseport(
        addr: impl std::net::ToSocketAddrs,
    ) -> io::Result<crate::net::TcpListener> {
        Self::bind_with(addr, |fd| {
            Ok(rustix::net::sockopt::set_socket_reuseport(fd, true)?)
        })
        .await
    }
}

/// The cores of the pool this thread's runtime belongs to ([`Builder::run`]), in
/// order; a lone runtime's own core alone. Empty outside a runtime.
pub fn cores() -> Vec<Core> {
    let Some(cx) = runtime::current() else {
        return Vec::new();
    };
    match cx.pool.borrow().as_ref() {
        Some(m) => m.pool.cores.clone(),
        None => vec![Core::new(0, cx.shared.clone())],
    }
}

struct RemoteState<T> {
    output: Option<Result<T, JoinError>>,
    waiter: Option<Waker>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Completes a remote handle when the task ends, or with [`JoinError::Cancelled`] when
/// it is dropped first (the task aborted, its runtime dropped, the message refused).
struct RemoteCompleter<T>(Arc<Mutex<RemoteState<T>>>);

impl<T> RemoteCompleter<T> {
    fn finish(&self, output: Result<T, JoinError>) {
        let waiter = {
            let mut s = lock(&self.0);
            if s.output.is_none() {
                s.output = Some(output);
            }
            s.waiter.take()
        };
        // Woken with the lock released: the waker may run the waiter's runtime code.
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> Drop for RemoteCompleter<T> {
    fn drop(&mut self) {
        if lock(&self.0).output.is_none() {
            self.finish(Err(JoinError::Cancelled));
        }
    }
}

/// The handle of a task sent to another core: await it (on any runtime, or with any
/// executor: its waker is the only thing it uses) for the task's output, or
/// [`JoinError::Cancelled`] if the task was dropped first (its core shut down).
/// Dropping the handle detaches the task. `Send` when the output is.
#[must_use = "dropping a RemoteJoinHandle detaches the task; await it to get its output"]
pub struct RemoteJoinHandle<T> {
    state: Arc<Mutex<RemoteState<T>>>,
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> RemoteJoinHandle<T> {
    /// Whether the task has finished (or was dropped).
    pub fn is_finished(&self) -> bool {
        lock(&self.state).output.is_some()
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = lock(&self.state);
        match s.output.take() {
            Some(out) => {
                // Taken once; a second poll would wait forever, so say so instead.
                s.output = Some(Err(JoinError::Cancelled));
                Poll::Ready(out)
            }
            None => {
                match &s.waiter {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.waiter = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

/// What the runtimes of one [`Builder::run`] share.
pub(crate) struct Pool {
    cores: Vec<Core>,
    /// Runtimes whose main future has not finished yet.
    running: AtomicUsize,
    /// Runtimes whose main future finished, waiting for the others (they go on
    /// serving the tasks sent to them meanwhile).
    waiting: Mutex<Vec<Waker>>,
}

/// A runtime's place in its pool.
pub(crate) struct Membership {
    index: usize,
    pool: Arc<Pool>,
}

impl Membership {
    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

impl Pool {
    /// A runtime's main future finished (or panicked): the last one wakes the others.
    fn leave(&self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            for w in std::mem::take(&mut *lock(&self.waiting)) {
                w.wake();
            }
        }
    }

    /// Waits until every runtime's main future has finished.
    async fn all_finished(&self) {
        poll_fn(|cx| {
            let mut waiting = lock(&self.waiting);
            // Acquire: pairs with the AcqRel decrement of the last runtime to leave,
            // which takes `waiting` after it (under the same lock).
            if self.running.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            waiting.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// Leaves the pool when dropped: when the main future finishes, and when it panics.
struct Leave<'a>(&'a Pool);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Holds threads until the caller has spawned them all (or failed to).
struct Gate {
    open: Mutex<Option<bool>>,
    cv: Condvar,
}

impl Gate {
    fn set(&self, go: bool) {
        *lock(&self.open) = Some(go);
        self.cv.notify_all();
    }

    fn wait(&self) -> bool {
        let mut open = lock(&self.open);
        loop {
            if let Some(go) = *open {
                return go;
            }
            open = self.cv.wait(open).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The CPUs the calling thread may run on, in order: sched_getaffinity(2). Empty
/// when the call fails.
///
/// [`Builder::run`] pins its runtimes to these, one each; a benchmark can place its
/// own threads and processes with them and [`pin_current_thread`].
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`: sched_setaffinity(2). Threads and processes it
/// starts afterwards inherit the pinning.
///
/// # Errors
/// `InvalidInput` for a CPU number of `CPU_SETSIZE` (1024) or more; the system call's
/// (`EINVAL` for a CPU this process may not use).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a CPU number past CPU_SETSIZE",
        ));
    }
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above), the set's capacity.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; 0 is this thread.
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Builder {
    /// Starts [`threads`](Builder::threads) runtimes, each on its own thread with its
    /// own ring (built from this builder's settings) and, by default, pinned to its
    /// own CPU ([`pin_threads`](Builder::pin_threads)); runs `main()` on each (its
    /// tasks stay on that core: they need not be `Send`) and returns their outputs in
    /// core order. [`cores`] gives each the others, to send work and descriptors to.
    ///
    /// A runtime whose `main` finished goes on running the tasks it has and those
    /// sent to it until every `main` has finished; then all are dropped (which
    /// cancels what is left, as dropping a [`Runtime`](crate::Runtime) does).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let outputs = uring_rt::Builder::new().threads(2).run(|| async {
    ///     let me = uring_rt::Core::current().unwrap();
    ///     let next = &uring_rt::cores()[(me.index() + 1) % 2];
    ///     // Runs on the other core; the handle comes back here.
    ///     next.spawn(async { uring_rt::Core::current().unwrap().index() }).await.unwrap()
    /// })?;
    /// assert_eq!(outputs, [1, 0]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The first runtime's build error (as [`Builder::build`]), or pinning's; then no
    /// `main` runs. The thread's error if one cannot be spawned.
    ///
    /// # Panics
    /// When a `main` or a task panics (the panic goes on once every thread ended).
    pub fn run<M, F>(&self, main: M) -> io::Result<Vec<F::Output>>
    where
        M: Fn() -> F + Sync,
        F: Future,
        F::Output: Send,
    {
        let cpus = allowed_cpus();
        let n = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let gate = Gate {
            open: Mutex::new(None),
            cv: Condvar::new(),
        };
        let built = Barrier::new(n);
        let cores: Mutex<Vec<Option<Core>>> = Mutex::new(vec![None; n]);
        let failed: Mutex<Option<io::Error>> = Mutex::new(None);
        let pool: Mutex<Option<Arc<Pool>>> = Mutex::new(None);
        let started = Barrier::new(n);
        let outputs = std::thread::scope(|scope| {
            let mut handles = Vec::with_capacity(n);
            for i in 0..n {
                let (gate, built, started, cores, failed, pool, main) =
                    (&gate, &built, &started, &cores, &failed, &pool, &main);
                let cpu = (self.pin && !cpus.is_empty()).then(|| cpus[i % cpus.len()]);
                let spawned = std::thread::Builder::new()
                    .name(format!("uring-rt-{i}"))
                    .spawn_scoped(scope, move || {
                        if !gate.wait() {
                            return None;
                        }
                        let rt = cpu
                            .map_or(Ok(()), pin_current_thread)
                            .and_then(|()| self.build());
                        match &rt {
                            Ok(rt) => {
                                lock(cores)[i] = Some(Core::new(i, rt.context().shared.clone()));
                            }
                            Err(e) => {
                                let mut f = lock(failed);
                                if f.is_none() {
                                    *f = Some(io::Error::new(e.kind(), e.to_string()));
                                }
                            }
                        }
                        // Every runtime is built (or failed) before any runs.
                        if built.wait().is_leader() && lock(failed).is_none() {
                            let all = lock(cores).iter().flatten().cloned().collect();
                            *lock(pool) = Some(Arc::new(Pool {
                                cores: all,
                                running: AtomicUsize::new(n),
                                waiting: Mutex::new(Vec::new()),
                            }));
                        }
                        started.wait();
                        let (Ok(rt), Some(pool)) = (rt, lock(pool).clone()) else {
                            return None;
                        };
                        rt.join_pool(i, pool.clone());
                        let out = rt.block_on(async {
                            let leave = Leave(&pool);
                            let out = main().await;
                            drop(leave);
                            pool.all_finished().await;
                            out
                        });
                        Some(out)
                    });
                match spawned {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        // The threads spawned so far return at the gate.
                        gate.set(false);
                        return Err(e);
                    }
                }
            }
            gate.set(true);
            let mut outputs = Vec::with_capacity(n);
            let mut panic = None;
            for h in handles {
                match h.join() {
                    Ok(out) => outputs.push(out),
                    Err(p) => panic = panic.or(Some(p)),
                }
            }
            if let Some(p) = panic {
                std::panic::resume_unwind(p);
            }
            Ok(outputs)
        })?;
        if let Some(e) = lock(&failed).take() {
            return Err(e);
        }
        Ok(outputs.into_iter().flatten().collect())
    }
}

impl crate::Runtime {
    /// Joins `pool` as its core `index`.
    fn join_pool(&self, index: usize, pool: Arc<Pool>) {
        *self.context().pool.borrow_mut() = Some(Membership { index, pool });
    }
}
