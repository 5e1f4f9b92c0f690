//! `IORING_OP_EPOLL_CTL` and `IORING_OP_EPOLL_WAIT` (`io_uring/epoll.c`).
use std::sync::Arc;

use super::no_ioprio;
use super::{Mode, Step, neg_errno, reserved};
use crate::engine::Engine;
use crate::req::Req;

/// `struct io_epoll`: the event, copied at prep (`ep_op_has_event`).
#[derive(Default)]
pub(crate) struct EpollCtl {
    /// The event's `events`.
    events: u32,
    /// The event's data.
    data: u64,
}

pub(crate) fn prep_epoll_ctl(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[req.buf_index() as u64, req.file_index() as u64])?;
    let mut cmd = EpollCtl::default();
    if req.sqe.len as i32 != libc::EPOLL_CTL_DEL {
        // The event is copied at prep (`ep_op_has_event`).
        let ev = crate::user::read::<libc::epoll_event>(req.addr())?;
        cmd = EpollCtl {
            events: ev.events,
            data: ev.u64,
        };
    }
    req.set_cmd(cmd);
    Ok(())
}

pub(crate) fn issue_epoll_ctl(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let cmd = req.cmd::<EpollCtl>();
    let mut ev = libc::epoll_event {
        events: cmd.events,
        u64: cmd.data,
    };
    // SAFETY: a valid event; the fds are plain integers to the kernel.
    let r = unsafe { libc::epoll_ctl(req.sqe.fd, req.sqe.len as i32, req.off() as i32, &mut ev) };
    let res = if r < 0 { neg_errno() } else { r };
    Step::Done(req, res)
}

pub(crate) fn prep_epoll_wait(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[
        req.off(),
        req.op_flags() as u64,
        req.buf_index() as u64,
        req.file_index() as u64,
    ])
}

pub(crate) fn issue_epoll_wait(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    // SAFETY: the events array is the application's, `len` entries valid until the
    // CQE (the SQE's contract); the kernel checks it like epoll_sendevents.
    let r = unsafe {
        libc::epoll_wait(
            req.fd,
            req.addr() as *mut libc::epoll_event,
            req.sqe.len as i32,
            0,
        )
    };
    match r {
        0 => Step::Wait(req, libc::POLLIN),
        r if r < 0 => {
            let err = neg_errno();
            if err == -libc::EINTR {
                return Step::Wait(req, libc::POLLIN);
            }
            Step::Done(req, err)
        }
        n => Step::Done(req, n),
    }
}
