//! Waiting for completions (`io_uring/wait.c`'s `io_cqring_wait`): until enough CQEs
//! are ready, a timeout passes, or a minimum wait passes with at least one ready.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Engine;

impl Engine {
    /// CQEs (slots) ready for the application.
    pub(crate) fn ready(&self) -> u32 {
        self.rings.cq_used()
    }

    /// Waits until `want` CQEs are ready, `deadline` passes (`ETIME`), or, with a
    /// minimum wait, `min_until` passes with at least one ready (`io_cqring_wait`).
    pub(crate) fn wait(
        self: &Arc<Self>,
        want: u32,
        deadline: Option<Instant>,
        min_until: Option<Instant>,
    ) -> Result<(), i32> {
        loop {
            // Direct completions waiting in the AIO ring: a program woken by the ring
            // fd enters for them (aio.rs).
            self.aio.reap_now(self);
            self.flush();
            let mut st = self.cq.lock().expect("cq");
            let ready = self.ready();
            if ready >= want && st.deferred.is_empty() {
                return Ok(());
            }
            if !st.deferred.is_empty() {
                continue;
            }
            let now = Instant::now();
            if min_until.is_some_and(|m| now >= m) && ready > 0 {
                return Ok(());
            }
            if deadline.is_some_and(|d| now >= d) {
                return Err(-libc::ETIME);
            }
            let until = match (deadline, min_until) {
                (Some(d), Some(m)) if ready > 0 => Some(d.min(m)),
                (d, m) if ready > 0 => d.or(m),
                (d, _) => d,
            };
            if self.assist.busy() {
                // The assistant is finishing this batch: its completions are tens of
                // microseconds away, closer than a sleep and a wake-up.
                drop(st);
                std::thread::yield_now();
                continue;
            }
            if self.aio.in_flight() {
                // Direct I/O on the device: wait for it here and reap it on this
                // thread, as the kernel completes it in the waiting task — one
                // wake-up, not the reaping thread's and then ours. A completion from
                // anywhere else kicks the same eventfd (`after_post`).
                st.aio_waiters += 1;
                drop(st);
                self.aio.block(self, until);
                self.cq.lock().expect("cq").aio_waiters -= 1;
                self.aio.reap_waiting(self);
                continue;
            }
            st.waiters += 1;
            st = match until {
                Some(u) => {
                    self.cq_cond
                        .wait_timeout(st, u.saturating_duration_since(now))
                        .expect("cq")
                        .0
                }
                None => self.cq_cond.wait(st).expect("cq"),
            };
            st.waiters -= 1;
        }
    }
}

/// An absolute time on `clock` (the ring's, `IORING_REGISTER_CLOCK`) as an `Instant`;
/// `None` for one beyond what an `Instant` can hold (the wait is then unbounded, as the
/// kernel's is for a deadline `KTIME_MAX` away).
pub(crate) fn abs_to_instant(abs: Duration, clock: libc::clockid_t) -> Option<Instant> {
    let now = Duration::from_nanos(crate::timer::clock_ns(clock));
    Instant::now().checked_add(abs.saturating_sub(now))
}
