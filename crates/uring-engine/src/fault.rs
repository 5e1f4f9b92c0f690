//! Fault injection at run time ([`crate::FaultPlan`]): what each request is given is
//! decided when the ring consumes its SQE, in SQ order (so the same plan and seed give
//! the same faults to the same requests, threaded or not), and applied:
//! - at submission, right after prep: short transfers (the length handed to the
//!   system call is cut, so a short write really writes fewer bytes);
//! - at issue, before the op runs: errors (the op never runs), delays, interrupted
//!   attempts (see [`crate::Fault`]);
//! - when a request that waited for readiness is tried again (the reactor's retry):
//!   interrupted attempts beyond the first, each sending the request to the worker
//!   pool as an attempt that must block does (`at_retry`). One interrupted attempt
//!   is spent at issue; a request given several (two `at` entries for one index, or
//!   several rules) spends the rest on its retries, so a test can make a request
//!   move from the reactor back to the workers.
//!
//! Without a plan the engine pays one branch per request: `req.fault` stays `None`.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uring_sys as sys;

use crate::config::{Config, Fault, FaultRule, Injection, Record, Rng};
use crate::engine::Engine;
use crate::req::Req;

/// What a request was given, to apply when it is issued.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Injected {
    /// Position among all SQEs consumed, for the record.
    op_index: u64,
    /// `-errno`, or 0.
    error: i32,
    /// Interrupted attempts to restart.
    eintr: u32,
    /// Interrupted attempts left for the request's retries after readiness (the
    /// first interrupted attempt is spent at issue).
    retries: u32,
    /// How long to hold the request back.
    delay: Duration,
}

/// The plan of one ring, with its own generator and indexes.
pub(crate) struct Faults {
    record: Arc<Record>,
    state: Mutex<State>,
}

struct State {
    rules: Vec<FaultRule>,
    /// Per rule: how many SQEs it matched so far (the next one's index).
    seen: Vec<u64>,
    /// SQEs consumed so far.
    index: u64,
    rng: Rng,
}

impl Faults {
    pub(crate) fn new(config: &Config) -> Option<Faults> {
        let plan = config.faults.as_ref()?;
        // A stream of its own, so adding faults to a deterministic run does not change
        // the order the run's own generator chooses.
        let seed = config.fault_seed() ^ 0xfa17_fa17_fa17_fa17;
        Some(Faults {
            record: plan.record.clone(),
            state: Mutex::new(State {
                rules: plan.rules.clone(),
                seen: vec![0; plan.rules.len()],
                index: 0,
                rng: Rng::new(seed),
            }),
        })
    }

    /// Decides the faults of a request just prepared (called in SQ order, under the
    /// submission lock), and shortens its transfer if it is given a short one.
    pub(crate) fn decide(&self, req: &mut Req) {
        let mut st = self.state.lock().expect("faults");
        let State {
            rules,
            seen,
            index,
            rng,
        } = &mut *st;
        let op_index = *index;
        *index += 1;
        let op = req.opcode();
        let mut inj = Injected {
            op_index,
            ..Injected::default()
        };
        let mut short = false;
        for (rule, seen) in rules.iter().zip(seen.iter_mut()) {
            if !rule.matches(op) {
                continue;
            }
            let n = *seen;
            *seen += 1;
            let mut give = |f: Fault, inj: &mut Injected| match f {
                Fault::Error(e) if inj.error == 0 => inj.error = -e.abs(),
                Fault::Error(_) => {}
                Fault::Short => short = true,
                Fault::Eintr => inj.eintr += 1,
                Fault::Delay(d) => inj.delay = inj.delay.max(d),
            };
            for &(at, f) in &rule.at {
                if at == n {
                    give(f, &mut inj);
                }
            }
            // Every rate draws whether or not an earlier rule already gave the fault,
            // so each rule's decisions do not depend on the others'.
            if rule.rate > 0.0 && rng.chance(rule.rate) && !rule.errors.is_empty() {
                let e = rule.errors[rng.below(rule.errors.len() as u64) as usize];
                give(Fault::Error(e), &mut inj);
            }
            if rule.short > 0.0 && rng.chance(rule.short) {
                give(Fault::Short, &mut inj);
            }
            if rule.eintr > 0.0 && rng.chance(rule.eintr) {
                give(Fault::Eintr, &mut inj);
            }
            if let Some((d, p)) = rule.delay
                && rng.chance(p)
            {
                give(Fault::Delay(d), &mut inj);
            }
        }
        if short
            && inj.error == 0
            && let Some(len) = shorten(req, rng)
        {
            self.record.note(Injection {
                op_index,
                opcode: op,
                user_data: req.user_data(),
                fault: Fault::Short,
                short_len: Some(len),
            });
        }
        if inj.error != 0 || inj.eintr != 0 || !inj.delay.is_zero() {
            req.fault = Some(inj);
        }
    }

    fn note(&self, req: &Req, op_index: u64, fault: Fault) {
        self.record.note(Injection {
            op_index,
            opcode: req.opcode(),
            user_data: req.user_data(),
            fault,
            short_len: None,
        });
    }
}

/// Cuts a read or write to a seeded length in `1..len`; returns the new length.
fn shorten(req: &mut Req, rng: &mut Rng) -> Option<u64> {
    match req.opcode() {
        sys::IORING_OP_READ
        | sys::IORING_OP_WRITE
        | sys::IORING_OP_READ_FIXED
        | sys::IORING_OP_WRITE_FIXED => {
            let len = req.sqe.len as u64;
            if len < 2 {
                return None;
            }
            let n = 1 + rng.below(len - 1);
            req.sqe.len = n as u32;
            Some(n)
        }
        sys::IORING_OP_READV | sys::IORING_OP_WRITEV => {
            let v = &mut req.try_cmd_mut::<crate::op::rw::Rw>()?.iov;
            let total: u64 = v.as_slice().iter().map(|i| i.iov_len as u64).sum();
            if total < 2 {
                return None;
            }
            let n = 1 + rng.below(total - 1);
            let mut left = n as usize;
            let mut keep = 0;
            for iov in v.as_mut_slice() {
                if left == 0 {
                    break;
                }
                iov.iov_len = iov.iov_len.min(left);
                left -= iov.iov_len;
                keep += 1;
            }
            v.truncate(keep);
            Some(n)
        }
        _ => None,
    }
}

/// Applies a request's faults as it is issued (`Engine::issue`, before the op runs).
/// Returns the request if the op is to run now; otherwise it was completed (an
/// error) or handed on (a delay, an interrupted attempt).
pub(crate) fn at_issue(e: &Arc<Engine>, mut req: Box<Req>) -> Option<Box<Req>> {
    let Some(mut f) = req.fault.take() else {
        return Some(req);
    };
    let Some(faults) = e.faults.as_ref() else {
        return Some(req);
    };
    if f.error != 0 {
        faults.note(&req, f.op_index, Fault::Error(-f.error));
        e.complete(req, f.error);
        return None;
    }
    if !f.delay.is_zero() {
        faults.note(&req, f.op_index, Fault::Delay(f.delay));
        if let Some(det) = &e.det {
            // Parked, not slept: the deterministic loop issues it again when due.
            // Parked on the virtual clock (det.rs).
            let until = e.timers.now().saturating_add(f.delay.as_nanos() as u64);
            f.delay = Duration::ZERO;
            req.fault = (f.eintr != 0).then_some(f);
            det.delay(req, until);
        } else {
            // A worker sleeps it (`in_worker`), then runs the op.
            req.fault = Some(f);
            e.punt(req);
        }
        return None;
    }
    if f.eintr != 0 {
        for _ in 0..f.eintr {
            faults.note(&req, f.op_index, Fault::Eintr);
        }
        // The interrupted attempt restarts on the async path, as io-wq restarts work
        // interrupted by a signal; the others wait for the retries (`at_retry`).
        req.fault = retries_left(f.op_index, f.retries + f.eintr - 1);
        e.punt(req);
        return None;
    }
    req.fault = retries_left(f.op_index, f.retries);
    Some(req)
}

/// What is left of a request's faults once its first attempt was made: interrupted
/// retries, if any.
fn retries_left(op_index: u64, retries: u32) -> Option<Injected> {
    (retries > 0).then_some(Injected {
        op_index,
        retries,
        ..Injected::default()
    })
}

/// A retry after readiness (the reactor's, `reactor.rs`): true if it is interrupted
/// (an interrupted attempt left, see the module docs); the caller then sends the
/// request to the worker pool, as a retry that must block.
pub(crate) fn at_retry(req: &mut Req) -> bool {
    let Some(f) = req.fault.as_mut() else {
        return false;
    };
    if f.retries == 0 {
        return false;
    }
    f.retries -= 1;
    if f.retries == 0 && f.error == 0 && f.eintr == 0 && f.delay.is_zero() {
        req.fault = None;
    }
    true
}

/// On a worker, before the op runs: sleeps a delay (interruptible by cancellation)
/// and restarts interrupted attempts. Returns true if the request was cancelled
/// meanwhile.
pub(crate) fn in_worker(e: &Arc<Engine>, req: &mut Req) -> bool {
    let Some(f) = req.fault.take() else {
        return false;
    };
    if !f.delay.is_zero() {
        let until = Instant::now() + f.delay;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let ts = libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            };
            // SAFETY: a valid timespec; no remainder pointer. The worker pool's signal
            // (cancellation, teardown) interrupts it with EINTR.
            let r = unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
            if r != 0 && e.wq.cancelled(req) {
                return true;
            }
        }
    }
    if f.eintr != 0
        && let Some(faults) = e.faults.as_ref()
    {
        for _ in 0..f.eintr {
            faults.note(req, f.op_index, Fault::Eintr);
        }
    }
    // The first interrupted attempt was the one restarted here; the others, and
    // those left from an earlier run, wait for the retries.
    req.fault = retries_left(f.op_index, f.retries + f.eintr.saturating_sub(1));
    false
}
