//! Completion: posting CQEs (`io_uring/io_uring.c`'s `io_req_complete_post` and
//! `io_cqring_event_overflow`), the overflow list (`IORING_FEAT_NODROP`), completions
//! deferred to the submitter with `DEFER_TASKRUN`, the eventfd, and what a completed
//! request starts or fails after it (links).
use std::cell::Cell;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use uring_sys as sys;

use crate::engine::{Engine, IN_ENTER};
use crate::op::{self, Mode};
use crate::req::Req;
use crate::rings::Completion;

/// The completion side's state, under the completion lock (the single-producer side
/// of the CQ).
#[derive(Default)]
pub(crate) struct CqState {
    /// CQEs that did not fit, in order (`IORING_FEAT_NODROP`).
    pub(crate) overflow: VecDeque<Completion>,
    /// Completions made off the submitter's thread with `DEFER_TASKRUN`, posted at
    /// its next wait.
    pub(crate) deferred: Vec<Completion>,
    /// The registered eventfd, and whether it is only for async completions.
    pub(crate) eventfd: Option<(OwnedFd, bool)>,
    /// Threads waiting for CQEs.
    pub(crate) waiters: u32,
    /// Threads waiting for CQEs on the AIO eventfd (`aio.rs`), kicked by a post.
    pub(crate) aio_waiters: u32,
    /// A CQE was dropped, the overflow list being full (the kernel's
    /// `IO_CHECK_CQ_DROPPED_BIT`): waits fail with `EBADR`.
    pub(crate) dropped: bool,
}

/// What is written to an eventfd to signal it.
pub(crate) static ONE: u64 = 1;

impl Engine {
    /// Completes a request with `res`: posts its CQE (unless skipped on success),
    /// then starts or fails what is linked to it.
    pub(crate) fn complete(self: &Arc<Self>, req: Box<Req>, res: i32) {
        // On an IOPOLL ring's polled path, the completion waits to be reaped.
        let Some(mut req) = self.iopoll.hold(req, res) else {
            return;
        };
        if let Some(o) = &self.observer {
            o.completed(&crate::OpInfo::of(&req), res, req.cflags);
        }
        // An expired TIMEOUT with IORING_TIMEOUT_ETIME_SUCCESS says -ETIME without
        // failing its link; the CQE of a TIMEOUT that expired or met its count is not
        // counted by count timeouts (the kernel's cq_timeouts).
        let timeout = req.opcode() == sys::IORING_OP_TIMEOUT;
        let etime_ok = timeout
            && res == -libc::ETIME
            && req.op_flags() & sys::IORING_TIMEOUT_ETIME_SUCCESS != 0;
        let fail = (res < 0 && !etime_ok) || req.expect.is_some_and(|e| res < e);
        // A LINK_TIMEOUT, fired (-ETIME) or disarmed by its request (-ECANCELED), is
        // completed without being marked failed: IOSQE_CQE_SKIP_SUCCESS skips its CQE
        // whatever the result (io_req_task_link_timeout, io_disarm_next).
        let failed_cqe = fail && req.opcode() != sys::IORING_OP_LINK_TIMEOUT;
        if failed_cqe || !req.has(sys::IOSQE_CQE_SKIP_SUCCESS) {
            self.post_counted(
                Completion {
                    user_data: req.user_data(),
                    res,
                    flags: req.cflags,
                    big: req.big,
                },
                !(timeout && (res == -libc::ETIME || res == 0)),
            );
        }
        if req.ltimeout != 0
            && let Some(lt) = self.timers.disarm_link(req.ltimeout)
        {
            // Completed before its LINK_TIMEOUT fired: that one is cancelled
            // (io_disarm_next).
            self.complete(lt, -libc::ECANCELED);
        }
        // A zero-copy send's notification follows its CQE.
        op::net::post_notif(self, &req);
        let next = req.link.take();
        let hard = req.has(sys::IOSQE_IO_HARDLINK);
        // A failed request that asked to skip its CQE on success posts it anyway, and
        // the requests it fails post none (REQ_F_SKIP_LINK_CQES).
        let skip_links = req.has(sys::IOSQE_CQE_SKIP_SUCCESS);
        let drain_head = req.drain_head;
        self.reqs.put(req);
        self.retire(drain_head);
        if let Some(next) = next {
            if fail && !hard {
                self.fail_links(next, skip_links);
                return;
            }
            // This request's CQE comes before anything of the next one's.
            crate::engine::flush_inline(self);
            if let Some(d) = &self.det {
                // Deterministic mode: issued when its key comes up (det.rs).
                d.issue(next);
            } else {
                self.issue(next, Mode::Inline);
            }
        }
    }

    /// Posts a CQE for a request that stays in flight (a multishot's `F_MORE` one), if
    /// the CQ has room for it: false if not, and the caller ends the multishot with a
    /// final CQE of the same result instead (without `F_MORE`, onto the overflow list).
    /// As the kernel's `io_req_post_cqe`, which never overflows: a multishot whose CQEs
    /// are not reaped stops, rather than growing the overflow list without end.
    #[must_use]
    pub(crate) fn post_more(&self, user_data: u64, res: i32, flags: u32) -> bool {
        self.post_more_counted(user_data, res, flags, true)
    }

    /// [`post_more`](Self::post_more), saying whether the CQE counts for count
    /// timeouts.
    #[must_use]
    pub(crate) fn post_more_counted(
        &self,
        user_data: u64,
        res: i32,
        flags: u32,
        counted: bool,
    ) -> bool {
        let c = Completion {
            user_data,
            res,
            flags: flags | sys::IORING_CQE_F_MORE,
            big: [0; 2],
        };
        let in_enter = IN_ENTER.with(Cell::get);
        let mut st = self.cq.lock().expect("cq");
        if self.is(sys::IORING_SETUP_DEFER_TASKRUN) && !in_enter {
            // Posted at the submitter's next wait: room is what the CQ has then, less
            // what is already deferred.
            let used = self.rings.cq_tail().wrapping_sub(self.rings.cq_head()) as usize;
            let room = (self.rings.cq_entries as usize).saturating_sub(used);
            if !st.overflow.is_empty() || st.deferred.len() >= room {
                return false;
            }
            st.deferred.push(c);
            if self.is(sys::IORING_SETUP_TASKRUN_FLAG) {
                self.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
            }
        } else {
            self.post_deferred_first(&mut st);
            if !st.overflow.is_empty() {
                return false;
            }
            let tail = self.rings.cq_tail();
            match self.rings.write_cqe(tail, self.rings.cq_head(), &c) {
                Some(t) => self.rings.set_cq_tail(t),
                None => return false,
            }
        }
        self.after_post(st, in_enter);
        if counted && self.timers.counting() {
            self.timers.count_cqe();
        }
        true
    }

    /// Fails a chain whose preparation failed (`io_queue_sqe_fallback`): the head posts
    /// its error (or `-ECANCELED` for a member's), the rest as [`fail_links`] says, with
    /// their CQEs skipped if the head asked to skip its own on success.
    ///
    /// [`fail_links`]: Self::fail_links
    pub(crate) fn fail_chain(self: &Arc<Self>, mut req: Box<Req>) {
        let next = req.link.take();
        let skip_links = req.has(sys::IOSQE_CQE_SKIP_SUCCESS);
        self.fail_links(req, false);
        if let Some(next) = next {
            self.fail_links(next, skip_links);
        }
    }

    /// Fails the requests of a chain from `req` on (`io_fail_links`): each completes
    /// with its own preparation error, or `-ECANCELED`, and posts a CQE unless
    /// `skip_cqes` (the request that failed them had `IOSQE_CQE_SKIP_SUCCESS`),
    /// whatever its own flags say.
    pub(crate) fn fail_links(self: &Arc<Self>, mut req: Box<Req>, skip_cqes: bool) {
        loop {
            let res = req.failed.unwrap_or(-libc::ECANCELED);
            if !skip_cqes {
                self.post(Completion {
                    user_data: req.user_data(),
                    res,
                    flags: op::net::fail_flags(&req),
                    big: req.big,
                });
                op::net::post_notif(self, &req);
            }
            let next = req.link.take();
            let drain_head = req.drain_head;
            self.reqs.put(req);
            self.retire(drain_head);
            match next {
                Some(n) => req = n,
                None => break,
            }
        }
    }

    /// Posts one CQE: into the CQ if it has room and nothing waits in overflow, else
    /// onto the overflow list (`IORING_SQ_CQ_OVERFLOW`); with `DEFER_TASKRUN`, a
    /// completion made off the submitter's thread waits for its next wait.
    pub(crate) fn post(&self, c: Completion) {
        self.post_counted(c, true);
    }

    /// [`post`](Self::post), saying whether the CQE counts for count timeouts (those of
    /// expiring timeouts do not; see `timer.rs`).
    pub(crate) fn post_counted(&self, c: Completion, counted: bool) {
        // Made while this thread issues a submission: posted at its end.
        let Some(c) = crate::engine::defer_inline(self, c, counted) else {
            return;
        };
        let in_enter = IN_ENTER.with(Cell::get);
        let mut st = self.cq.lock().expect("cq");
        self.post_or_defer(&mut st, c, in_enter);
        self.after_post(st, in_enter);
        if counted && self.timers.counting() {
            self.timers.count_cqe();
        }
    }

    /// Posts `cqes` (each with whether it counts for count timeouts) as
    /// [`post_counted`](Self::post_counted) would one by one, under one completion
    /// lock and with one wake-up; leaves the vector empty.
    pub(crate) fn post_all(&self, cqes: &mut Vec<(Completion, bool)>) {
        if cqes.is_empty() {
            return;
        }
        let in_enter = IN_ENTER.with(Cell::get);
        let mut st = self.cq.lock().expect("cq");
        let mut counted = 0;
        for (c, count) in cqes.drain(..) {
            self.post_or_defer(&mut st, c, in_enter);
            counted += usize::from(count);
        }
        self.after_post(st, in_enter);
        if self.timers.counting() {
            for _ in 0..counted {
                self.timers.count_cqe();
            }
        }
    }

    /// Posts `c`, or, on a `DEFER_TASKRUN` ring outside `enter`, keeps it for the next
    /// `enter` (flagging `IORING_SQ_TASKRUN` where the ring asked for the flag).
    #[inline]
    fn post_or_defer(&self, st: &mut CqState, c: Completion, in_enter: bool) {
        if self.is(sys::IORING_SETUP_DEFER_TASKRUN) && !in_enter {
            st.deferred.push(c);
            if self.is(sys::IORING_SETUP_TASKRUN_FLAG) {
                self.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
            }
        } else {
            self.post_deferred_first(st);
            self.post_locked(st, c);
        }
    }

    /// On a `DEFER_TASKRUN` ring, a CQE posted from inside `enter` goes to the CQ after
    /// what waits in the deferred list, as the kernel runs a ring's pending task work in
    /// order: otherwise a multishot's `F_MORE` CQEs, deferred by the reactor thread, would
    /// come after its final CQE posted by an enter's readiness pass, and a program that
    /// retires the request at its final CQE would lose them (and the data they carry).
    #[inline]
    fn post_deferred_first(&self, st: &mut CqState) {
        if self.is(sys::IORING_SETUP_DEFER_TASKRUN) && !st.deferred.is_empty() {
            for c in std::mem::take(&mut st.deferred) {
                self.post_locked(st, c);
            }
        }
    }

    fn post_locked(&self, st: &mut CqState, c: Completion) {
        if st.overflow.is_empty() {
            let tail = self.rings.cq_tail();
            if let Some(t) = self.rings.write_cqe(tail, self.rings.cq_head(), &c) {
                self.rings.set_cq_tail(t);
                return;
            }
        }
        if st.overflow.len() >= self.overflow_limit {
            st.dropped = true;
            self.rings.count_dropped_cqe();
            return;
        }
        st.overflow.push_back(c);
        self.rings.set_sq_flag(sys::IORING_SQ_CQ_OVERFLOW);
    }

    /// Wakes waiters, the registered eventfd and the ring's own pollable fd.
    fn after_post(&self, st: std::sync::MutexGuard<'_, CqState>, in_enter: bool) {
        if let Some((efd, async_only)) = &st.eventfd
            && !(*async_only && in_enter)
            && self.rings.cq_flags() & sys::IORING_CQ_EVENTFD_DISABLED == 0
        {
            // SAFETY: writing 8 bytes from a valid u64 to an eventfd we own.
            unsafe { libc::write(efd.as_raw_fd(), (&raw const ONE).cast(), 8) };
        }
        let waiters = st.waiters;
        let aio_waiters = st.aio_waiters;
        drop(st);
        if waiters > 0 {
            self.cq_cond.notify_all();
        }
        if aio_waiters > 0 {
            self.aio.kick();
        }
        if self.poll_enabled.load(Ordering::Relaxed) && !self.signalled.swap(true, Ordering::SeqCst)
        {
            // SAFETY: as above, on our own eventfd.
            unsafe { libc::write(self.notify.as_raw_fd(), (&raw const ONE).cast(), 8) };
        }
    }

    /// Moves deferred completions and overflowed CQEs into the CQ as far as it has
    /// room (`io_cqring_overflow_flush`, task work run at wait).
    pub(crate) fn flush(&self) {
        self.post_tags();
        let mut st = self.cq.lock().expect("cq");
        if !st.deferred.is_empty() {
            let d = std::mem::take(&mut st.deferred);
            for c in d {
                self.post_locked(&mut st, c);
            }
            // Direct I/O on the device keeps it (aio.rs), and requests waiting for
            // readiness (reactor.rs).
            if !self.aio.wants_enter(self) && !self.reactor.is_waiting() {
                self.rings.clear_sq_flag(sys::IORING_SQ_TASKRUN);
            }
        }
        if !st.overflow.is_empty() {
            let mut tail = self.rings.cq_tail();
            let head = self.rings.cq_head();
            while let Some(c) = st.overflow.front() {
                match self.rings.write_cqe(tail, head, c) {
                    Some(t) => {
                        tail = t;
                        st.overflow.pop_front();
                    }
                    None => break,
                }
            }
            self.rings.set_cq_tail(tail);
            if st.overflow.is_empty() {
                self.rings.clear_sq_flag(sys::IORING_SQ_CQ_OVERFLOW);
            }
        }
    }

    /// Posts the tags of registered resources that left their tables
    /// (`IORING_FEAT_RSRC_TAGS`): `user_data` the tag, `res` 0.
    pub(crate) fn post_tags(&self) {
        for tag in self.dead_tags.take() {
            self.post(Completion {
                user_data: tag,
                res: 0,
                flags: 0,
                big: [0; 2],
            });
        }
    }

    /// Registers (or with `None` unregisters) the eventfd.
    pub(crate) fn set_eventfd(&self, efd: Option<(OwnedFd, bool)>) -> Result<(), i32> {
        let mut st = self.cq.lock().expect("cq");
        match (&st.eventfd, &efd) {
            (Some(_), Some(_)) => return Err(-libc::EBUSY),
            (None, None) => return Err(-libc::ENXIO),
            _ => {}
        }
        st.eventfd = efd;
        Ok(())
    }
}
