//! The future of one operation.
//!
//! [`Op`] is what every I/O method returns. It starts the operation at its first poll
//! (nothing happens before), and it can be cancelled two ways:
//! - **dropped**: the op's slot keeps the buffer and everything else the kernel may
//!   touch, sends `ASYNC_CANCEL`, and frees them at the final CQE. A result that
//!   arrives anyway is disposed of (an fd opened too late is closed), so a dropped
//!   *read* may have consumed data that nobody sees: from a file that is harmless
//!   (read it again at its offset); from a pipe or socket, it is lost.
//! - **[`Op::cancel`], then awaited**: the cancel is sent and the future goes on to
//!   give the outcome: `ECANCELED` with the buffer, or, if the op won the race, its
//!   result with the data. Nothing is lost. This is the pattern for a `select` over
//!   a read from a stream:
//!
//! ```no_run
//! # use std::{future::{poll_fn, Future}, pin::Pin, task::Poll, time::Duration};
//! # async fn f(pipe: uring_rt::fs::File) -> std::io::Result<()> {
//! let mut read = pipe.read(Vec::with_capacity(4096));
//! let mut sleep = uring_rt::time::sleep(Duration::from_millis(1));
//! // Whichever is ready first; `read` stays where it is.
//! let first = poll_fn(|cx| match Pin::new(&mut read).poll(cx) {
//!     Poll::Ready(out) => Poll::Ready(Some(out)),
//!     Poll::Pending => Pin::new(&mut sleep).poll(cx).map(|()| None),
//! })
//! .await;
//! let (res, buf) = match first {
//!     Some(out) => out,
//!     None => {
//!         read.cancel();
//!         read.await // Err(ECANCELED), or Ok(n) with the n bytes in `buf`
//!     }
//! };
//! match res {
//!     Ok(n) => println!("{:?}", &buf[..n]),
//!     Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => println!("timed out"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
use std::fmt;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::driver::{OpData, OpId, StartError};
use crate::runtime::{self, Context as RtContext};

/// Private supertrait of [`Operation`]: the hooks the driver calls.
pub(crate) mod sealed {
    pub use crate::driver::OpData as Sealed;
}

/// The data of an operation (its buffer, its file, …), owned by its slot while the
/// kernel may use it. Sealed: the operations are those of this crate.
pub trait Operation: sealed::Sealed {}

impl<T: OpData> Operation for T {}

// A tag byte first: which state it is, is one compare (not a niche decoded from the
// data's fields), in every poll and in the drop glue.
#[repr(u8)]
enum State<T> {
    /// Not polled yet (or waiting for room in the SQ).
    Idle(T),
    /// Fails at its first poll, without reaching the kernel (bad input).
    Failed(io::Error, T),
    /// In its slot.
    Submitted {
        cx: Rc<RtContext>,
        id: OpId,
    },
    Done,
}

/// The future of one operation; see the [module docs](self) for how it is
/// cancelled. Its output is the operation's, with any buffer given back.
#[must_use = "an operation does nothing until awaited"]
pub struct Op<T: Operation> {
    /// Dropped by `Op`'s `Drop`, which skips the drop glue of `Done` (the state of
    /// every op that was awaited to the end).
    state: ManuallyDrop<State<T>>,
}

// The data is never pinned: it moves into the slot, and out again, by value.
impl<T: Operation> Unpin for Op<T> {}

impl<T: Operation> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self.state {
            State::Idle(_) => "idle",
            State::Failed(..) => "failed",
            State::Submitted { .. } => "submitted",
            State::Done => "done",
        };
        f.debug_struct("Op").field("state", &s).finish()
    }
}

impl<T: Operation> Op<T> {
    pub(crate) fn new(data: T) -> Op<T> {
        Op {
            state: ManuallyDrop::new(State::Idle(data)),
        }
    }

    /// An op that starts with `data` if `check` passed, or else gives `check`'s error
    /// (and its data back) at its first poll: bad input never reaches the kernel.
    pub(crate) fn checked<C>(check: io::Result<C>, data: T) -> Op<T> {
        match check {
            Ok(_) => Op::new(data),
            Err(e) => Op::failed(e, data),
        }
    }

    /// An op that gives `error` (and its data back) at its first poll.
    pub(crate) fn failed(error: io::Error, data: T) -> Op<T> {
        Op {
            state: ManuallyDrop::new(State::Failed(error, data)),
        }
    }

    /// Asks the kernel to cancel the operation. Awaiting it afterwards gives the
    /// outcome: `ECANCELED` (`ErrorKind::Other` with raw errno 125), or the op's
    /// result if it completed first. An op not started yet fails with `ECANCELED`
    /// without starting.
    pub fn cancel(&mut self) {
        match std::mem::replace(&mut *self.state, State::Done) {
            State::Idle(data) => {
                *self.state = State::Failed(io::Error::from_raw_os_error(libc::ECANCELED), data)
            }
            State::Submitted { cx, id } => {
                cx.driver.borrow_mut().cancel(id);
                *self.state = State::Submitted { cx, id };
            }
            other => *self.state = other,
        }
    }

    /// Whether the operation has reached the kernel (been polled once).
    pub fn is_submitted(&self) -> bool {
        matches!(*self.state, State::Submitted { .. })
    }
}

/// Makes the next submit of this thread's runtime that has SQEs to submit fail with
/// `errno` before it enters the ring, as a broken ring would: the ops whose SQEs it
/// held complete with that errno (see the driver's docs). Returns false outside a
/// runtime. For tests of that recovery.
#[doc(hidden)]
pub fn fail_next_submit(errno: i32) -> bool {
    match runtime::current() {
        Some(rt) => {
            rt.driver.borrow_mut().fail_next_submit(errno);
            true
        }
        None => false,
    }
}

/// The error for an op polled with no runtime on the thread.
fn no_runtime() -> io::Error {
    io::Error::other("uring_rt: no runtime on this thread (await the op inside block_on)")
}

fn shut_down() -> io::Error {
    io::Error::other("uring_rt: the runtime is shut down")
}

/// A CQE result as the outcome of an op.
pub(crate) fn result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as u32)
    }
}

impl<T: Operation> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        // `Op` is Unpin: its data lives in the slot once submitted.
        let this = self.get_mut();
        if let State::Submitted { cx: rt, id } = &*this.state {
            let taken = rt.driver.borrow_mut().poll_take::<T>(*id, cx);
            let Poll::Ready((data, res, flags)) = taken else {
                return Poll::Pending;
            };
            // Dropped as what it is known to be, not through the state's drop glue.
            if let State::Submitted { cx: rt, .. } =
                std::mem::replace(&mut *this.state, State::Done)
            {
                drop(rt);
            }
            return Poll::Ready(data.complete(result(res), flags));
        }
        match std::mem::replace(&mut *this.state, State::Done) {
            State::Idle(data) => {
                let Some(rt) = runtime::current() else {
                    return Poll::Ready(data.complete(Err(no_runtime()), 0));
                };
                let started = rt.driver.borrow_mut().start_with_waker(data, cx.waker());
                // `this.state` is `Done` (taken above): nothing to drop where the new
                // state goes, so the old one is forgotten rather than run through the
                // state's drop glue.
                match started {
                    Ok(id) => std::mem::forget(std::mem::replace(
                        &mut *this.state,
                        State::Submitted { cx: rt, id },
                    )),
                    Err(StartError::Full(data)) => {
                        rt.driver.borrow_mut().wait_for_sq(cx.waker());
                        std::mem::forget(std::mem::replace(&mut *this.state, State::Idle(data)));
                    }
                    Err(StartError::Closed(data)) => {
                        return Poll::Ready(data.complete(Err(shut_down()), 0));
                    }
                }
                Poll::Pending
            }
            State::Failed(e, data) => Poll::Ready(data.complete(Err(e), 0)),
            State::Submitted { .. } => unreachable!("handled above"),
            State::Done => panic!("uring_rt: an Op polled after it completed"),
        }
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        match &*self.state {
            State::Done => return,
            State::Submitted { cx, id } => match cx.driver.try_borrow_mut() {
                Ok(mut d) => d.drop_op(*id),
                // Dropped from inside the driver (a waker's side effect): the loop
                // handles it at the end of the turn.
                Err(_) => cx.deferred_drops.borrow_mut().push(*id),
            },
            State::Idle(_) | State::Failed(..) => {}
        }
        // SAFETY: dropped once, here (`Done`, which owns nothing, returned above);
        // `self.state` is not used after.
        unsafe { ManuallyDrop::drop(&mut self.state) }
    }
}

/// A multishot operation: one submission, a stream of CQEs (each flagged
/// `IORING_CQE_F_MORE` but the last). Dropping it cancels the op; CQEs that arrive
/// afterwards go to the data's orphan hook (an accepted fd is closed, a provided
/// buffer returned).
pub(crate) struct MultiOp<T: Operation> {
    state: State<T>,
}

#[allow(dead_code)] // the base of the multishot streams (accept, recv) of `net`
impl<T: Operation> MultiOp<T> {
    pub(crate) fn new(data: T) -> MultiOp<T> {
        MultiOp {
            state: State::Idle(data),
        }
    }

    /// The next CQE as `(result, flags)`; `None` after the final one.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(io::Result<u32>, u32)>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Idle(data) => {
                    let Some(rt) = runtime::current() else {
                        return Poll::Ready(Some((Err(no_runtime()), 0)));
                    };
                    let started = rt.driver.borrow_mut().start(data);
                    match started {
                        Ok(id) => self.state = State::Submitted { cx: rt, id },
                        Err(StartError::Full(data)) => {
                            rt.driver.borrow_mut().wait_for_sq(cx.waker());
                            self.state = State::Idle(data);
                            return Poll::Pending;
                        }
                        Err(StartError::Closed(_)) => {
                            return Poll::Ready(Some((Err(shut_down()), 0)));
                        }
                    }
                }
                State::Failed(e, _) => return Poll::Ready(Some((Err(e), 0))),
                State::Submitted { cx: rt, id } => {
                    let next = rt.driver.borrow_mut().poll_next(id, cx);
                    self.state = State::Submitted { cx: rt, id };
                    return next.map(|o| o.map(|(res, flags)| (result(res), flags)));
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }

    /// Runs `f` on the op's data where it lives (in its slot once started).
    pub(crate) fn with_data<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        match &mut self.state {
            State::Idle(d) | State::Failed(_, d) => Some(f(d)),
            State::Submitted { cx, id } => cx.driver.borrow_mut().with_data(*id, f),
            State::Done => None,
        }
    }
}

impl<T: Operation> Drop for MultiOp<T> {
    fn drop(&mut self) {
        if let State::Submitted { cx, id } = &self.state {
            match cx.driver.try_borrow_mut() {
                Ok(mut d) => d.drop_op(*id),
                Err(_) => cx.deferred_drops.borrow_mut().push(*id),
            }
        }
    }
}

/// A descriptor shared (behind an `Rc`) by a file or socket and the ops that name it,
/// so that it is closed only once the last of them has finished: an op never meets a
/// closed, or reused, descriptor number.
#[derive(Debug)]
pub(crate) struct SharedFd {
    /// The number; -1 once taken back.
    pub(crate) fd: RawFd,
}

impl SharedFd {
    pub(crate) fn new(fd: OwnedFd) -> Rc<SharedFd> {
        Rc::new(SharedFd {
            fd: fd.into_raw_fd(),
        })
    }

    /// The descriptor back, when nothing else (no op in flight) shares it; else the
    /// `Rc` back.
    pub(crate) fn try_take(this: Rc<SharedFd>) -> Result<OwnedFd, Rc<SharedFd>> {
        let mut inner = Rc::try_unwrap(this)?;
        let fd = std::mem::replace(&mut inner.fd, -1);
        // SAFETY: the descriptor was ours; `inner` no longer closes it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

impl Drop for SharedFd {
    fn drop(&mut self) {
        if self.fd >= 0 {
            // SAFETY: we own the descriptor and no op uses it any more (ops hold this
            // Rc while the kernel may see the number).
            drop(unsafe { OwnedFd::from_raw_fd(self.fd) });
        }
    }
}

/// Closes a descriptor the kernel made (`OPENAT`, `ACCEPT`, `SOCKET`) for an op whose
/// future is gone: `res`, the CQE's result, when it is one.
pub(crate) fn close_orphan(res: i32) {
    if res >= 0 {
        // SAFETY: a descriptor the kernel created for a future that is gone: ours to
        // close, and nobody else knows its number.
        drop(unsafe { OwnedFd::from_raw_fd(res) });
    }
}
