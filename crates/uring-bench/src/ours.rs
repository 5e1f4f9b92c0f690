//! This workspace's ring (`uring`), driven like the C loop.

use std::io;
use std::time::{Duration, Instant};

use uring::{Ring, opcode};

use crate::{NopConfig, SQPOLL_IDLE, bad_cqe, check_count};

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

    nop_loop(&mut ring, cfg.batch, cfg.warmup())?;
    let start = Instant::now();
    let completions = nop_loop(&mut ring, cfg.batch, cfg.total)?;
    let elapsed = start.elapsed();
    check_count("ours", completions, cfg.total)?;
    Ok(elapsed)
}

/// Runs NOPs until `ops` completions have been reaped, `batch` at a time;
/// returns the number of CQEs seen.
fn nop_loop(ring: &mut Ring, batch: u32, ops: u64) -> io::Result<u64> {
    let (submitter, mut sq, mut cq) = ring.split();
    let (mut submitted, mut completed) = (0u64, 0u64);
    while completed < ops {
        let n = (ops - submitted).min(u64::from(batch));
        for i in 0..n {
            let sqe = opcode::Nop::new().build().user_data(submitted + i);
            // SAFETY: a NOP points at no buffer or fd, so there is nothing
            // that has to stay valid until its completion.
            unsafe { sq.push(&sqe) }.map_err(|_| io::Error::other("ours: sq full"))?;
        }
        submitted += n;
        sq.sync();
        let n = usize::try_from(n).expect("batch fits in usize");
        submitter.submit_and_wait(n)?;

        // A short wait (signal, SQPOLL lag) is fine: keep reaping until
        // every CQE of this batch has arrived.
        let mut seen = 0usize;
        loop {
            cq.sync();
            for cqe in &mut cq {
                if cqe.result() != 0 || cqe.user_data() >= submitted {
                    return Err(bad_cqe("ours", cqe.result(), cqe.user_data(), submitted));
                }
                seen += 1;
            }
            // Publish the new head now, as io_uring_cq_advance does, so the
            // kernel's wait below counts only CQEs we have not seen.
            cq.sync();
            if seen >= n {
                break;
            }
            submitter.submit_and_wait(n - seen)?;
        }
        completed += seen as u64;
    }
    Ok(completed)
}
