//! hyper 1.x on the runtime (feature `hyper`): [`PollIo`] implements
//! `hyper::rt::{Read, Write}` for the crate's streams, [`Executor`] spawns hyper's
//! background tasks on the runtime of the thread, and [`Timer`] is `hyper::rt::Timer`
//! on the ring's timeouts. axum runs on it through hyper-util's server with these.
//!
//! Reads and writes copy once each way; see [`compat`](crate::compat).
//!
//! ```no_run
//! use std::convert::Infallible;
//! use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
//! use uring_rt::{compat::PollIo, net::TcpListener};
//!
//! # fn main() -> std::io::Result<()> {
//! uring_rt::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         uring_rt::spawn(async move {
//!             let service = service_fn(|_req: Request<Incoming>| async {
//!                 Ok::<_, Infallible>(Response::new(String::from("hello")))
//!             });
//!             let _ = http1::Builder::new()
//!                 .timer(uring_rt::hyper::Timer)
//!                 .serve_connection(PollIo::new(stream), service)
//!                 .await;
//!         });
//!     }
//! })
//! # }
//! ```
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use ::hyper::rt::ReadBufCursor;

use crate::compat::OwnedStream;
pub use crate::compat::PollIo;

/// Copies once each way; see [`compat`](crate::compat).
impl<S: OwnedStream> ::hyper::rt::Read for PollIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut dst: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let room = dst.remaining();
        self.get_mut()
            .poll_read_into(cx, room, |src| dst.put_slice(src))
    }
}

crate::compat::poll_write_impl! {
    /// Copies once; see [`compat`](crate::compat).
    ::hyper::rt::Write, poll_shutdown
}

/// `hyper::rt::Executor`: runs hyper's background futures (HTTP/2 streams, client
/// connections) as tasks of the runtime on the calling thread ([`crate::spawn`]).
/// They need not be `Send`.
///
/// # Panics
/// When hyper calls it outside a runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Executor;

impl<F> ::hyper::rt::Executor<F> for Executor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        // Detached: hyper drives its own futures to their end.
        drop(crate::spawn(fut));
    }
}

/// `hyper::rt::Timer` on the ring's timeouts.
///
/// hyper wants its sleeps `Send + Sync`, which a ring timeout (tied to its runtime)
/// is not, and it makes one per request (the header-read timeout), dropped as soon as
/// the request arrives. So the sleeps of a runtime share one timer: their deadlines sit
/// in an ordered map, and one task keeps a single `IORING_OP_TIMEOUT` armed for the
/// earliest. A new sleep re-arms it only when it is due sooner; a dropped one leaves
/// the map and arms nothing (the timeout, if it was for that sleep, fires for nothing
/// and is armed again for the next). Steady state: no ring operation per sleep, at
/// most one timeout in flight per runtime. A sleep first polled outside any runtime
/// waits on a thread of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timer;

impl ::hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        let deadline = crate::time::now()
            .checked_add(duration)
            .unwrap_or_else(far_future);
        self.sleep_until(deadline)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(Sleep {
            state: Arc::new(Mutex::new(SleepState {
                fired: false,
                waiter: None,
            })),
            deadline,
            entry: None,
        })
    }

    fn now(&self) -> Instant {
        crate::time::now()
    }
}

/// A deadline no sleep reaches (about 30 years on).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// What a [`Sleep`] shares with the timer that fires it.
struct SleepState {
    fired: bool,
    /// The waker of whoever awaits the [`Sleep`].
    waiter: Option<Waker>,
}

type Shared = Arc<Mutex<SleepState>>;

fn lock(state: &Mutex<SleepState>) -> MutexGuard<'_, SleepState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn fire(state: &Mutex<SleepState>) {
    let waiter = {
        let mut s = lock(state);
        s.fired = true;
        s.waiter.take()
    };
    if let Some(w) = waiter {
        w.wake();
    }
}

/// The sleeps of one runtime, by deadline, and the task that fires them.
struct Wheel {
    /// The runtime it belongs to (a thread may run several runtimes in turn).
    owner: Weak<crate::runtime::Context>,
    /// By deadline, then by an id unique in the process (so that a key of another
    /// runtime's wheel never names an entry of this one).
    entries: RefCell<BTreeMap<(Instant, u64), Shared>>,
    /// The deadline the task's timeout is armed for.
    armed: Cell<Option<Instant>>,
    /// The task's waker, to re-arm for a sooner deadline.
    task: RefCell<Option<Waker>>,
}

thread_local! {
    static WHEEL: RefCell<Option<Rc<Wheel>>> = const { RefCell::new(None) };
}

impl Wheel {
    /// The wheel of the runtime running on this thread (made, and its task spawned,
    /// at the first sleep); `None` outside a runtime.
    fn current() -> Option<Rc<Wheel>> {
        let cx = crate::runtime::current()?;
        WHEEL
            .try_with(|w| {
                let mut w = w.borrow_mut();
                if let Some(wheel) = w.as_ref()
                    && wheel.owner.upgrade().is_some_and(|o| Rc::ptr_eq(&o, &cx))
                {
                    return wheel.clone();
                }
                let wheel = Rc::new(Wheel {
                    owner: Rc::downgrade(&cx),
                    entries: RefCell::new(BTreeMap::new()),
                    armed: Cell::new(None),
                    task: RefCell::new(None),
                });
                drop(crate::spawn(Wheel::run(Rc::downgrade(&wheel))));
                *w = Some(wheel.clone());
                wheel
            })
            .ok()
    }

    fn insert(&self, deadline: Instant, state: Shared) -> (Instant, u64) {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.entries.borrow_mut().insert((deadline, id), state);
        if self.armed.get().is_none_or(|a| deadline < a) {
            // Due before the armed timeout (or none is armed): the task re-arms.
            if let Some(w) = self.task.borrow_mut().take() {
                w.wake();
            }
        }
        (deadline, id)
    }

    fn remove(&self, key: (Instant, u64)) {
        self.entries.borrow_mut().remove(&key);
    }

    /// The task: fires what is due, keeps one timeout armed for the earliest deadline.
    /// Ends with its runtime (or once the wheel is replaced and dropped).
    async fn run(wheel: Weak<Wheel>) {
        let mut timeout: Option<(Instant, crate::time::Sleep)> = None;
        poll_fn(|cx| {
            loop {
                let Some(wheel) = wheel.upgrade() else {
                    return Poll::Ready(());
                };
                let now = crate::time::now();
                let due: Vec<Shared> = {
                    let mut entries = wheel.entries.borrow_mut();
                    let later = entries.split_off(&(now, u64::MAX));
                    std::mem::replace(&mut *entries, later)
                        .into_values()
                        .collect()
                };
                for state in &due {
                    fire(state);
                }
                let next = wheel.entries.borrow().keys().next().map(|k| k.0);
                *wheel.task.borrow_mut() = Some(cx.waker().clone());
                let Some(next) = next else {
                    wheel.armed.set(None);
                    timeout = None;
                    return Poll::Pending;
                };
                if timeout.as_ref().is_none_or(|(at, _)| *at != next) {
                    timeout = Some((next, crate::time::sleep_until(next)));
                }
                wheel.armed.set(Some(next));
                let Some((_, sleep)) = timeout.as_mut() else {
                    unreachable!("set above");
                };
                match Pin::new(sleep).poll(cx) {
                    Poll::Ready(()) => timeout = None,
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }
}

/// The sleep of [`Timer`].
struct Sleep {
    state: Shared,
    deadline: Instant,
    /// Where it is registered once first polled: the wheel of that runtime's thread
    /// (through the thread's `WHEEL`) and its key there.
    entry: Option<Entry>,
}

struct Entry {
    thread: std::thread::ThreadId,
    key: (Instant, u64),
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("fired", &lock(&self.state).fired)
            .finish()
    }
}

impl Sleep {
    /// Registers the sleep with this thread's runtime, or a thread outside one.
    fn start(&mut self) {
        match Wheel::current() {
            Some(wheel) => {
                let key = wheel.insert(self.deadline, self.state.clone());
                self.entry = Some(Entry {
                    thread: std::thread::current().id(),
                    key,
                });
            }
            None => {
                let (state, deadline) = (self.state.clone(), self.deadline);
                std::thread::spawn(move || {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    fire(&state);
                });
                self.entry = Some(Entry {
                    thread: std::thread::current().id(),
                    key: (deadline, u64::MAX),
                });
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.entry.is_none() {
            this.start();
        }
        let mut s = lock(&this.state);
        if s.fired {
            return Poll::Ready(());
        }
        match &s.waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl ::hyper::rt::Sleep for Sleep {}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(entry) = &self.entry else {
            return;
        };
        // Out of the map when dropped on its runtime's thread; elsewhere (hyper's
        // sleeps are `Send`) it stays until its deadline, when firing it wakes no one.
        if entry.thread == std::thread::current().id() && entry.key.1 != u64::MAX {
            let _ = WHEEL.try_with(|w| {
                if let Some(wheel) = w.borrow().as_ref() {
                    wheel.remove(entry.key);
                }
            });
        }
    }
}
