//! This workspace's ring (`uring`), driven like the C loop.

use std::io;

use uring::Ring;

use crate::{NopConfig, SQPOLL_IDLE, Timed, time_nops};

/// Times `cfg.total` NOPs on `uring` (`Ring::builder`, `opcode::Nop::write`
/// into the slot with `SubmissionQueue::push_with`, as liburing's
/// `io_uring_get_sqe` + `io_uring_prep_nop` do; `Submitter::submit_and_wait`).
///
/// # Errors
///
/// The ring setup or a submit failed, a CQE had a non-zero result or an
/// unknown `user_data`, or the number of completions was not `cfg.total`.
pub fn nop_ours(cfg: &NopConfig) -> io::Result<Timed> {
    cfg.validate()?;
    let mut ring = if cfg.sqpoll {
        Ring::builder().sqpoll(SQPOLL_IDLE).build(cfg.entries)?
    } else {
        Ring::builder().build(cfg.entries)?
    };

    let (submitter, sq, cq) = ring.split();
    time_nops(&mut Queues { submitter, sq, cq }, "ours", cfg)
}

/// [`nop_ours`] on a ring built by `builder` (plain runs only).
///
/// # Errors
/// As [`nop_ours`].
#[doc(hidden)]
pub fn nop_ours_with(cfg: &NopConfig, builder: &uring::Builder) -> io::Result<Timed> {
    cfg.validate()?;
    let mut ring = builder.build(cfg.entries)?;
    let (submitter, sq, cq) = ring.split();
    time_nops(&mut Queues { submitter, sq, cq }, "ours", cfg)
}

nop_queues!(uring, push(sq, user_data) {
    // SAFETY: a NOP points at no buffer or fd, so there is nothing that has to stay
    // valid until its completion.
    unsafe {
        sq.push_with(|sqe| {
            uring::opcode::Nop::new().write(sqe).set_user_data(user_data);
        })
    }
} release(cq) { cq.release() });
