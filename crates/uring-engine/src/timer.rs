//! Timers: `IORING_OP_TIMEOUT`, `LINK_TIMEOUT` and wait deadlines that outlive a
//! request (`io_uring/timeout.c`).
use crate::req::Req;

/// The timers of one ring.
#[derive(Default)]
pub(crate) struct Timers {}

impl Timers {
    /// Takes out pending timeouts matching `pred`, for cancellation.
    pub(crate) fn take_matching(
        &self,
        _pred: &mut dyn FnMut(&Req) -> bool,
        _all: bool,
    ) -> Vec<Box<Req>> {
        Vec::new()
    }

    /// Stops the timer thread, if any.
    pub(crate) fn shutdown(&self) {}
}
