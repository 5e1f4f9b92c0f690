//! This workspace's ring (`uring`), driven like the C loop.

use std::io;
use std::time::Duration;

use uring::Ring;

use crate::{NopConfig, SQPOLL_IDLE, time_nops};

/// Times `cfg.total` NOPs on `uring` (`Ring::builder`, `opcode::Nop`,
/// `Submitter::submit_and_wait`).
///
/// # Errors
///
/// The ring setup or a submit failed, a CQE had a non-zero result or an
/// unknown `user_data`, or the number of completions was not `cfg.total`.
pub fn nop_ours(cfg: &NopConfig) -> io::Result<Duration> {
    cfg.validate()?;
    let mut ring = if cfg.sqpoll {
        Ring::builder().sqpoll(SQPOLL_IDLE).build(cfg.entries)?
    } else {
        Ring::builder().build(cfg.entries)?
    };

    let (submitter, sq, cq) = ring.split();
    time_nops(&mut Queues { submitter, sq, cq }, "ours", cfg)
}

nop_queues!(uring);
