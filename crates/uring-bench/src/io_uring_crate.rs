//! The Rust anchor: the `io-uring` crate (tokio-rs), driven like the C loop.

use std::io;

use io_uring::IoUring;

use crate::{NopConfig, SQPOLL_IDLE, Timed, time_nops};

/// Times `cfg.total` NOPs on the `io-uring` crate (`IoUring::builder`,
/// `opcode::Nop`, `Submitter::submit_and_wait`).
///
/// # Errors
///
/// The ring setup or a submit failed, a CQE had a non-zero result or an
/// unknown `user_data`, or the number of completions was not `cfg.total`.
pub fn nop_io_uring_crate(cfg: &NopConfig) -> io::Result<Timed> {
    cfg.validate()?;
    let mut builder = IoUring::builder();
    if cfg.sqpoll {
        let idle = u32::try_from(SQPOLL_IDLE.as_millis()).unwrap_or(u32::MAX);
        builder.setup_sqpoll(idle);
    }
    let mut ring = builder.build(cfg.entries)?;

    let (submitter, sq, cq) = ring.split();
    time_nops(&mut Queues { submitter, sq, cq }, "io-uring", cfg)
}

/// [`nop_io_uring_crate`] on a ring `setup` configures, its fd registered if
/// `register_ring_fd` (plain runs only).
///
/// # Errors
/// As [`nop_io_uring_crate`].
#[doc(hidden)]
pub fn nop_io_uring_crate_with(
    cfg: &NopConfig,
    setup: &dyn Fn(&mut io_uring::Builder),
    register_ring_fd: bool,
) -> io::Result<Timed> {
    cfg.validate()?;
    let mut builder = IoUring::builder();
    setup(&mut builder);
    let mut ring = builder.build(cfg.entries)?;
    let (mut submitter, sq, cq) = ring.split();
    if register_ring_fd {
        submitter.register_ring_fd()?;
    }
    let mut queues = Queues { submitter, sq, cq };
    let timed = time_nops(&mut queues, "io-uring", cfg);
    if register_ring_fd {
        // The slot (one of 16 per thread) would otherwise hold the ring until the
        // thread exits.
        queues.submitter.unregister_ring_fd()?;
    }
    timed
}

nop_queues!(io_uring, push(sq, user_data) {
    let sqe = io_uring::opcode::Nop::new().build().user_data(user_data);
    // SAFETY: a NOP points at no buffer or fd, so there is nothing that has to stay
    // valid until its completion.
    unsafe { sq.push(&sqe) }
} release(cq) { cq.sync() });
