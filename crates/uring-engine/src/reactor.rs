//! Readiness: requests whose fd is not ready (a socket or pipe that said `EAGAIN`)
//! wait here and are issued again when it is (the kernel's `io_uring/poll.c`
//! "fast poll", `IORING_FEAT_FAST_POLL`).
//!
//! For now every waiting request occupies a worker of the unbounded pool, blocked in
//! `poll(2)` (see `Engine::run_in_worker`); one epoll thread for all replaces it.
use std::sync::Arc;

use crate::engine::Engine;
use crate::req::Req;
use crate::wq::Class;

/// The readiness reactor of one ring.
#[derive(Default)]
pub(crate) struct Reactor {}

impl Reactor {
    /// Parks `req` until its fd is ready for `events`, then issues it again.
    pub(crate) fn arm(&self, e: &Arc<Engine>, mut req: Box<Req>, events: i16) {
        req.scratch[3] = events as u16 as u64 | 1 << 32;
        e.wq.push(e, Class::Unbounded, req);
    }

    /// Takes out parked requests matching `pred` (all of them, or the first), for
    /// cancellation; the caller completes them.
    pub(crate) fn take_matching(
        &self,
        _pred: &mut dyn FnMut(&Req) -> bool,
        _all: bool,
    ) -> Vec<Box<Req>> {
        Vec::new()
    }

    /// Stops the reactor thread, if any.
    pub(crate) fn shutdown(&self) {}
}
