//! Watching a ring from the inside ([`crate::Observer`]), and driving the clock of a
//! deterministic ring from outside ([`crate::DetControl`]): what a simulator that
//! runs several rings on one thread needs (uring-rt's `sim`: a trace hash of every
//! submission and completion, a page cache that knows which writes were synced, one
//! virtual clock for every ring).
//!
//! Neither has a kernel counterpart. The observer costs a ring without one a branch
//! per request.
use std::os::fd::RawFd;
use std::sync::Arc;

use uring_sys as sys;

use crate::engine::Engine;
use crate::req::Req;

/// What a request is, as an [`Observer`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// `IORING_OP_*`.
    pub opcode: u8,
    /// The SQE's `user_data`.
    pub user_data: u64,
    /// The file it works on: the SQE's fd, or the registered file's once resolved
    /// (at issue); -1 before that for a registered file, or for ops without a file.
    pub fd: RawFd,
    /// The SQE's `off` (a file offset for reads and writes).
    pub offset: u64,
    /// The bytes a read or write moves, after an injected short transfer cut it (for
    /// vectored ops, the iovecs' total); the SQE's `len` for other ops.
    pub len: u64,
    /// The op's flags word (`rw_flags`, `fsync_flags`, …).
    pub op_flags: u32,
}

impl OpInfo {
    pub(crate) fn of(req: &Req) -> OpInfo {
        let vectored = matches!(req.opcode(), sys::IORING_OP_READV | sys::IORING_OP_WRITEV);
        let len = match req.try_cmd::<crate::op::rw::Rw>() {
            Some(rw) if vectored => rw.iov.as_slice().iter().map(|v| v.iov_len as u64).sum(),
            _ => u64::from(req.sqe.len),
        };
        OpInfo {
            opcode: req.opcode(),
            user_data: req.user_data(),
            fd: if req.fd >= 0 || req.has(sys::IOSQE_FIXED_FILE) {
                req.fd
            } else {
                req.sqe.fd
            },
            offset: req.off(),
            len,
            op_flags: req.op_flags(),
        }
    }
}

/// Sees what an engine ring does, in the order it does it ([`crate::Config::observer`]).
///
/// In deterministic mode every call comes from the thread in `io_uring_enter` (or
/// from [`DetControl`]), one at a time, in the seeded order: a simulator can hash
/// them to prove two runs equal, or act on them (a write about to run: save what it
/// will overwrite). In the threaded mode the calls come from whichever thread does the
/// work, concurrently.
pub trait Observer: Send + Sync {
    /// An SQE was consumed and prepared (in SQ order); `prep_error` is the `-errno`
    /// its preparation failed with (it completes with it), or 0.
    fn submitted(&self, op: &OpInfo, prep_error: i32) {
        let _ = (op, prep_error);
    }

    /// The op is about to run (its system call, or its attempt at one): a write will
    /// change the file now. Called again when an attempt that could not finish is
    /// retried (on a worker, or when the fd became ready). Not called for a request
    /// that an injected error completes without running.
    fn issuing(&self, op: &OpInfo) {
        let _ = op;
    }

    /// The request completed with `res` (its CQE is posted, unless
    /// `IOSQE_CQE_SKIP_SUCCESS` skips it); `flags` are the CQE's.
    fn completed(&self, op: &OpInfo, res: i32, flags: u32) {
        let _ = (op, res, flags);
    }
}

/// The observer of a [`crate::Config`], with `Debug` for it.
#[derive(Clone)]
pub(crate) struct ObserverBox(pub(crate) Arc<dyn Observer>);

impl std::fmt::Debug for ObserverBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// The virtual clock of a deterministic ring, driven from outside: for a program that
/// runs several such rings on one thread and keeps them on one clock (a simulator).
///
/// Found by the ring's fd ([`DetControl::of`]); it keeps the ring's engine alive
/// (not its fd): drop it with the ring.
pub struct DetControl {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for DetControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetControl")
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

impl DetControl {
    /// The control of the deterministic engine ring whose fd is `ring_fd`
    /// (`uring::Ring::fd`); `None` if it is no engine ring, or not deterministic.
    pub fn of(ring_fd: RawFd) -> Option<DetControl> {
        let engine = crate::registry::lookup(ring_fd)?;
        engine.det.as_ref()?;
        Some(DetControl { engine })
    }

    /// The ring's virtual clock, in nanoseconds (it started at `CLOCK_MONOTONIC`'s
    /// value when the ring was set up).
    pub fn now(&self) -> u64 {
        self.engine.timers.now()
    }

    /// The next time something waits for on the virtual clock: a pending timeout, or
    /// a request held back by an injected delay. `None` when nothing does.
    pub fn next_event(&self) -> Option<u64> {
        let det = self.engine.det.as_ref()?;
        [self.engine.timers.next_deadline(), det.next_delayed()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether requests wait for a file descriptor to become ready (a socket or pipe
    /// with nothing to read): only another ring, thread or process can end that wait.
    pub fn waits_on_fds(&self) -> bool {
        self.engine.det.as_ref().is_some_and(|d| d.parked() > 0)
    }

    /// Runs what can run without time passing, as `io_uring_enter` does after
    /// submitting: requests that are runnable, whose fd became ready, or that are due;
    /// their CQEs are posted.
    pub fn run(&self) {
        let Some(det) = &self.engine.det else { return };
        let _in = crate::engine::EnterGuard::new();
        det.run(&self.engine);
        self.engine.flush();
    }

    /// Moves the virtual clock to `to` (never backwards), fires what is due by then
    /// and runs what that made runnable, as a wait in `io_uring_enter` does when it
    /// jumps to the next deadline.
    pub fn advance(&self, to: u64) {
        let Some(det) = &self.engine.det else { return };
        let _in = crate::engine::EnterGuard::new();
        self.engine.timers.run_expired(&self.engine, to);
        det.run(&self.engine);
        self.engine.flush();
    }
}
