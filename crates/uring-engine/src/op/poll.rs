//! Readiness ops: `POLL_ADD` (one shot and multishot, 32-bit events), `POLL_REMOVE`
//! (removal, and updates of events and `user_data`), as `io_uring/poll.c`.
//!
//! `POLL_ADD` is edge-triggered as the kernel's (`IORING_POLL_ADD_LEVEL` is refused by
//! the kernel's `POLL_ADD` too): a one-shot poll completes at once when the fd is
//! ready, else at its next wakeup; a multishot one posts a CQE with
//! `IORING_CQE_F_MORE` per wakeup (the reactor's edge-triggered registration). The
//! result is the ready events among those asked for, plus `POLLERR`, `POLLHUP` and
//! `POLLRDHUP`, which the kernel always reports. Of the upper 16 bits of the 32-bit
//! events only `EPOLLONESHOT` changes anything (a multishot poll with it is one shot,
//! as in the kernel); `EPOLLEXCLUSIVE` is accepted and has no effect (one waiter per
//! request: there is nobody to wake exclusively of).
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step, no_ioprio, reserved};
use crate::engine::Engine;
use crate::reactor::{POLL_UNMASK, poll_now};
use crate::req::Req;

const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
const ET: u32 = libc::EPOLLET as u32;
const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

/// `io_poll_parse_events`.
fn parse_events(req: &Req, flags: u32) -> u32 {
    let mut events = req.op_flags();
    if flags & sys::IORING_POLL_ADD_MULTI == 0 {
        events |= ONESHOT;
    }
    if flags & sys::IORING_POLL_ADD_LEVEL == 0 {
        events |= ET;
    }
    (events & 0xffff) | (events & (EXCLUSIVE | ONESHOT | ET))
}

/// `struct io_poll`.
pub(crate) struct Poll {
    /// `EPOLLONESHOT`, `EPOLLET` and the 16 poll bits (`io_poll_parse_events`).
    events: u32,
}

/// `struct io_poll_update`.
pub(crate) struct PollUpdate {
    /// The new events, with `IORING_POLL_UPDATE_EVENTS` (else 0).
    events: u32,
}

pub(crate) fn prep_poll_add(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[req.buf_index() as u64, req.off(), req.addr()])?;
    let flags = req.sqe.len;
    if flags & !sys::IORING_POLL_ADD_MULTI != 0 {
        return Err(-libc::EINVAL);
    }
    if flags & sys::IORING_POLL_ADD_MULTI != 0 && req.has(sys::IOSQE_CQE_SKIP_SUCCESS) {
        return Err(-libc::EINVAL);
    }
    let events = parse_events(req, flags);
    req.set_cmd(Poll { events });
    Ok(())
}

pub(crate) fn issue_poll_add(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let events = req.cmd::<Poll>().events;
    let want = events & 0xffff;
    if events & ONESHOT != 0 {
        // Ready already: complete now, as the kernel's arming does.
        match poll_now(req.fd, (want | libc::POLLRDHUP as u32) as u16 as i16) {
            Err(err) => return Step::Done(req, err),
            Ok(m) if m & (want | POLL_UNMASK) != 0 => {
                let res = (m & (want | POLL_UNMASK)) as i32;
                return Step::Done(req, res);
            }
            Ok(_) => {}
        }
        e.reactor.arm_poll(e, req, want, false);
    } else {
        e.reactor.arm_poll(e, req, want, true);
    }
    Step::Parked
}

pub(crate) fn prep_poll_remove(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[req.buf_index() as u64, req.file_index() as u64])?;
    let flags = req.sqe.len;
    let valid = sys::IORING_POLL_UPDATE_EVENTS
        | sys::IORING_POLL_UPDATE_USER_DATA
        | sys::IORING_POLL_ADD_MULTI;
    if flags & !valid != 0 || flags == sys::IORING_POLL_ADD_MULTI {
        return Err(-libc::EINVAL);
    }
    if flags & sys::IORING_POLL_UPDATE_USER_DATA == 0 && req.off() != 0 {
        return Err(-libc::EINVAL);
    }
    let mut events = 0;
    if flags & sys::IORING_POLL_UPDATE_EVENTS != 0 {
        events = parse_events(req, flags);
    } else if req.op_flags() != 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(PollUpdate { events });
    Ok(())
}

pub(crate) fn issue_poll_remove(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let target = req.addr();
    let flags = req.sqe.len;
    let found = e.reactor.take_user_data(
        target,
        &mut |r: &Req| r.opcode() == sys::IORING_OP_POLL_ADD && r.user_data() == target,
        false,
    );
    let Some(mut preq) = found.into_iter().next() else {
        return Step::Done(req, -libc::ENOENT);
    };
    let update = sys::IORING_POLL_UPDATE_EVENTS | sys::IORING_POLL_UPDATE_USER_DATA;
    if flags & update != 0 {
        if flags & sys::IORING_POLL_UPDATE_EVENTS != 0 {
            // Only the event bits change; one shot or multishot stays.
            let new = req.cmd::<PollUpdate>().events & 0xffff;
            let p = preq.cmd_mut::<Poll>();
            p.events = (p.events & !0xffff) | new;
        }
        if flags & sys::IORING_POLL_UPDATE_USER_DATA != 0 {
            preq.sqe.user_data = req.off();
        }
        // Armed again; it may complete at once.
        match issue_poll_add(preq, e, Mode::Inline) {
            Step::Done(p, res) => e.complete(p, res),
            Step::Parked => {}
            Step::Block(p) => e.punt(p),
            Step::Wait(p, ev) => e.wait_ready(p, ev),
        }
    } else {
        e.complete(preq, -libc::ECANCELED);
    }
    Step::Done(req, 0)
}
