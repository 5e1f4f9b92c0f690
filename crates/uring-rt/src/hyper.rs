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
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};
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
        let this = self.get_mut();
        if dst.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let src = ready!(this.poll_fill_buf(cx))?;
        let n = src.len().min(dst.remaining());
        dst.put_slice(&src[..n]);
        this.consume(n);
        Poll::Ready(Ok(()))
    }
}

/// Copies once; see [`compat`](crate::compat).
impl<S: OwnedStream> ::hyper::rt::Write for PollIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_slice(cx, src)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_io(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown_io(cx)
    }
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

/// `hyper::rt::Timer` on the ring's timeouts ([`crate::time::sleep_until`]).
///
/// hyper wants its sleeps `Send + Sync`, which a ring timeout (tied to its runtime)
/// is not; so each sleep is a small task on the runtime of the thread that first
/// polls it, and the sleep hyper holds is a shared flag that task sets. Dropping the
/// sleep ends the task, which cancels the timeout. A sleep first polled outside any
/// runtime waits on a thread of its own.
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
                deadline,
                fired: false,
                dropped: false,
                waiter: None,
                driver: None,
            })),
            started: false,
        })
    }
}

/// A deadline no sleep reaches (about 30 years on).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

struct SleepState {
    deadline: Instant,
    fired: bool,
    /// The [`Sleep`] was dropped: its task ends.
    dropped: bool,
    /// The waker of whoever awaits the [`Sleep`].
    waiter: Option<Waker>,
    /// The waker of the task that owns the ring timeout.
    driver: Option<Waker>,
}

fn lock(state: &Mutex<SleepState>) -> MutexGuard<'_, SleepState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sleep of [`Timer`].
struct Sleep {
    state: Arc<Mutex<SleepState>>,
    started: bool,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("Sleep")
            .field("deadline", &s.deadline)
            .field("fired", &s.fired)
            .finish()
    }
}

impl Sleep {
    /// Starts what sets the flag at the deadline: a task on this thread's runtime, or
    /// a thread.
    fn start(&self) {
        let state = self.state.clone();
        let deadline = lock(&state).deadline;
        if crate::runtime::current().is_none() {
            std::thread::spawn(move || {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                fire(&state);
            });
            return;
        }
        drop(crate::spawn(async move {
            let mut timeout = crate::time::sleep_until(deadline);
            poll_fn(|cx| {
                {
                    let mut s = lock(&state);
                    if s.dropped {
                        return Poll::Ready(());
                    }
                    s.driver = Some(cx.waker().clone());
                }
                ready!(Pin::new(&mut timeout).poll(cx));
                fire(&state);
                Poll::Ready(())
            })
            .await;
        }));
    }
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

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
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
        let driver = {
            let mut s = lock(&self.state);
            s.dropped = true;
            s.driver.take()
        };
        // The task sees `dropped` and ends, cancelling its timeout.
        if let Some(w) = driver {
            w.wake();
        }
    }
}
