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

nop_queues!(io_uring, push(sq, user_data) {
    let sqe = io_uring::opcode::Nop::new().build().user_data(user_data);
    // SAFETY: a NOP points at no buffer or fd, so there is nothing that has to stay
    // valid until its completion.
    unsafe { sq.push(&sqe) }
} release(cq) { cq.sync() });
