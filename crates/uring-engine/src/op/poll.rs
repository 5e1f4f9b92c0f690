//! Readiness ops: `POLL_ADD` (one shot and multishot, 32-bit events), `POLL_REMOVE`
//! (removal, and updates of events and `user_data`), `EPOLL_CTL`, `EPOLL_WAIT` and
//! `READ_MULTISHOT`, as `io_uring/poll.c`, `epoll.c` and `rw.c`.
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
//!
//! Scratch of `POLL_ADD`: `[0]` the events (`EPOLLONESHOT`, `EPOLLET` and the 16 poll
//! bits); of `POLL_REMOVE`: `[0]` the new events; of `EPOLL_CTL`: `[0]` the event's
//! `events`, `[1]` its data.
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step, neg_errno, reserved};
use crate::engine::Engine;
use crate::reactor::{POLL_UNMASK, poll_now};
use crate::req::Req;

const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
const ET: u32 = libc::EPOLLET as u32;
const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

fn no_ioprio(req: &Req) -> Result<(), i32> {
    if req.sqe.ioprio != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

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
    req.scratch = [parse_events(req, flags) as u64, 0, 0, 0];
    Ok(())
}

pub(crate) fn issue_poll_add(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let events = req.scratch[0] as u32;
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
    req.scratch = [0; 4];
    if flags & sys::IORING_POLL_UPDATE_EVENTS != 0 {
        req.scratch[0] = parse_events(req, flags) as u64;
    } else if req.op_flags() != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

pub(crate) fn issue_poll_remove(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let target = req.addr();
    let flags = req.sqe.len;
    let found = e.reactor.take_matching(
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
            let new = req.scratch[0] & 0xffff;
            preq.scratch[0] = (preq.scratch[0] & !0xffff) | new;
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

// ---- EPOLL_CTL, EPOLL_WAIT ----

pub(crate) fn prep_epoll_ctl(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[req.buf_index() as u64, req.file_index() as u64])?;
    req.scratch = [0; 4];
    if req.sqe.len as i32 != libc::EPOLL_CTL_DEL {
        // The event is copied at prep (`ep_op_has_event`).
        crate::user::check(req.addr(), size_of::<libc::epoll_event>())?;
        // SAFETY: the application promises the event is valid during submission;
        // read_unaligned copes with the packed layout.
        let ev = unsafe { (req.addr() as *const libc::epoll_event).read_unaligned() };
        req.scratch[0] = ev.events as u64;
        req.scratch[1] = ev.u64;
    }
    Ok(())
}

pub(crate) fn issue_epoll_ctl(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let mut ev = libc::epoll_event {
        events: req.scratch[0] as u32,
        u64: req.scratch[1],
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

// ---- READ_MULTISHOT ----

pub(crate) fn prep_read_multishot(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if !req.has(sys::IOSQE_BUFFER_SELECT) {
        return Err(-libc::EINVAL);
    }
    no_ioprio(req)?;
    // SAFETY: plain integers over the same bytes.
    if unsafe { req.sqe.addr3_or_cmd.attr.attr_type_mask } != 0 {
        // Only integrity (PI) attributes exist, for block devices with metadata.
        return Err(-libc::EINVAL);
    }
    reserved(&[req.addr(), req.sqe.len as u64])?;
    req.scratch = [0; 4];
    Ok(())
}

pub(crate) fn issue_read_multishot(mut req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    if req.is_regular() {
        // "Multishot MUST be used on a pollable file".
        return Step::Done(req, -libc::EBADFD);
    }
    let bgid = req.buf_index();
    let mut loops = 0;
    loop {
        let sel = match e.pbufs.select(bgid, 0) {
            Ok(s) => s,
            Err(err) => return Step::Done(req, err),
        };
        let iov = libc::iovec {
            iov_base: sel.addr as *mut libc::c_void,
            iov_len: sel.len as usize,
        };
        // SAFETY: the provided buffer is the application's, valid until the CQE.
        let mut r = unsafe { libc::preadv2(req.fd, &iov, 1, -1, libc::RWF_NOWAIT) };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EOPNOTSUPP) {
            // No RWF_NOWAIT for this file: read only when poll says it will not block
            // (the kernel's io_file_supports_nowait).
            r = match poll_now(req.fd, libc::POLLIN) {
                Ok(m) if m != 0 => {
                    // SAFETY: as above.
                    unsafe { libc::read(req.fd, iov.iov_base, iov.iov_len) }
                }
                Ok(_) => {
                    // SAFETY: setting errno for the check below.
                    unsafe { *libc::__errno_location() = libc::EAGAIN };
                    -1
                }
                Err(err) => {
                    // SAFETY: as above.
                    unsafe { *libc::__errno_location() = -err };
                    -1
                }
            };
        }
        if r < 0 {
            let err = neg_errno();
            e.pbufs.recycle(bgid, sel);
            if err == -libc::EAGAIN {
                return Step::Wait(req, libc::POLLIN);
            }
            return Step::Done(req, err);
        }
        if r == 0 {
            e.pbufs.recycle(bgid, sel);
            return Step::Done(req, 0);
        }
        let cflags = e.pbufs.commit(bgid, sel, r as u32);
        e.post_more(req.user_data(), r as i32, cflags);
        loops += 1;
        if loops >= 32 {
            return Step::Wait(req, libc::POLLIN);
        }
    }
}
