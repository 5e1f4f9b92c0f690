//! Timers on the ring's `IORING_OP_TIMEOUT`: each sleep is one relative timeout in its
//! op slot, no timer thread, no wheel. A dropped sleep cancels its timeout.
//!
//! The time is the runtime's: real (`CLOCK_MONOTONIC`) on the kernel and the threaded
//! engine; in the engine's deterministic mode, virtual, moving only when a timer fires
//! (to that timer's deadline), as the engine's own clock does — so a program that
//! sleeps an hour runs in no time and [`now`] says an hour passed.
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use uring::types::Timespec;
use uring::{Sqe, opcode};

use crate::driver::OpData;
use crate::op::Op;
use crate::runtime;

/// The runtime's current time (see the module docs); `Instant::now()` outside a
/// runtime.
pub fn now() -> Instant {
    match runtime::current() {
        Some(cx) => cx.clock.now(),
        None => Instant::now(),
    }
}

/// The data of a timer.
#[derive(Debug)]
pub struct TimeoutOp {
    ts: Timespec,
}

impl OpData for TimeoutOp {
    type Output = io::Result<()>;

    fn sqe(&mut self) -> Sqe {
        opcode::Timeout::new(&raw const self.ts).build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        match result {
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            other => other.map(drop),
        }
    }
}

#[derive(Debug)]
enum When {
    After(Duration),
    At(Instant),
}

/// The future of [`sleep`] and [`sleep_until`].
#[derive(Debug)]
#[must_use = "a sleep does nothing until awaited"]
pub struct Sleep {
    when: When,
    deadline: Option<Instant>,
    op: Option<Op<TimeoutOp>>,
}

/// Waits for `duration` (one `IORING_OP_TIMEOUT`, relative).
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        when: When::After(duration),
        deadline: None,
        op: None,
    }
}

/// Waits until `deadline` on the runtime's clock (a relative timeout of what is left
/// when first polled; at once if it has passed).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        when: When::At(deadline),
        deadline: None,
        op: None,
    }
}

impl Sleep {
    /// When it fires, once it was first polled.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    /// # Panics
    /// When polled outside a runtime.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if this.op.is_none() {
                let Some(rt) = runtime::current() else {
                    panic!("uring_rt::time::sleep polled outside a runtime");
                };
                let now = rt.clock.now();
                let (deadline, left) = match this.when {
                    When::After(d) => (now.checked_add(d), d),
                    When::At(t) => (Some(t), t.saturating_duration_since(now)),
                };
                this.deadline = deadline;
                if let Some(d) = deadline {
                    // A re-arm (below) waits for what is left, not the whole duration.
                    this.when = When::At(d);
                }
                this.op = Some(Op::new(TimeoutOp {
                    ts: Timespec::from(left),
                }));
            }
            let Some(op) = this.op.as_mut() else {
                unreachable!("set above");
            };
            match Pin::new(op).poll(cx) {
                Poll::Ready(Err(e)) if e.raw_os_error() != Some(libc::ECANCELED) => {
                    // The timeout itself failed (an injected fault, a passing error of
                    // the ring): arm it again for the time left, rather than end early.
                    this.op = None;
                }
                Poll::Ready(_) => {
                    // Fired, or cancelled because the runtime shuts down: that is the end.
                    if let (Some(rt), Some(d)) = (runtime::current(), this.deadline) {
                        rt.clock.advance_to(d);
                    }
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The error of [`timeout`]: the time ran out first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// The future of [`timeout`].
#[derive(Debug)]
#[must_use = "a timeout does nothing until awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`] (and `future` is
/// dropped, which cancels its ops).
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: never moved out of the pinned
        // Timeout, and Timeout has no Drop impl or Unpin impl that would move it.
        // `sleep` is Unpin and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        Pin::new(&mut this.sleep)
            .poll(cx)
            .map(|()| Err(Elapsed(())))
    }
}

/// Ticks every `period` (see [`interval`]).
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Option<Instant>,
}

/// An [`Interval`] whose first tick is at once and then every `period`. A tick that
/// comes late (the task was busy) does not make the next ones come faster: the
/// schedule restarts from the late tick. A zero period ticks at every call.
pub fn interval(period: Duration) -> Interval {
    Interval { period, next: None }
}

impl Interval {
    /// Waits for the next tick; returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        let deadline = match self.next {
            Some(t) => t,
            None => now(),
        };
        sleep_until(deadline).await;
        let now = now();
        let next = deadline.checked_add(self.period).unwrap_or(deadline);
        self.next = Some(if next < now {
            now.checked_add(self.period).unwrap_or(now)
        } else {
            next
        });
        deadline
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::MultiOp;

    /// A multishot timeout: the driver's stream of CQEs from one submission.
    struct Ticks {
        ts: Timespec,
        count: u32,
    }

    impl OpData for Ticks {
        type Output = ();
        fn sqe(&mut self) -> Sqe {
            opcode::Timeout::new(&raw const self.ts)
                .count(self.count)
                .flags(uring::sys::IORING_TIMEOUT_MULTISHOT)
                .build()
        }
        fn complete(self, _: io::Result<u32>, _: u32) {}
    }

    #[test]
    fn a_multishot_op_yields_a_stream_of_cqes() {
        for backend in [uring::Backend::Kernel, uring::Backend::Engine] {
            let rt = crate::Runtime::builder()
                .backend_exact(backend)
                .build()
                .unwrap();
            let got = rt.block_on(async {
                let mut op = MultiOp::new(Ticks {
                    ts: Timespec::from(Duration::from_millis(1)),
                    count: 3,
                });
                let mut got = Vec::new();
                while let Some((res, flags)) = std::future::poll_fn(|cx| op.poll_next(cx)).await {
                    got.push((
                        res.unwrap_err().raw_os_error(),
                        flags & uring::sys::IORING_CQE_F_MORE != 0,
                    ));
                }
                // Dropping a live stream cancels it and frees its slot.
                let mut live = MultiOp::new(Ticks {
                    ts: Timespec::from(Duration::from_secs(3600)),
                    count: 0,
                });
                assert!(
                    std::future::poll_fn(|cx| Poll::Ready(live.poll_next(cx).is_pending())).await
                );
                drop(live);
                got
            });
            let etime = Some(libc::ETIME);
            assert_eq!(
                got,
                vec![(etime, true), (etime, true), (etime, false)],
                "{backend:?}"
            );
            assert!(rt.shutdown(Duration::from_secs(5)));
        }
    }
}
