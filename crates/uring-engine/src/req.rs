//! A request: one SQE copied out of the ring, with what its op prepared, its place in
//! a link chain, and the file it resolved.
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use uring_sys as sys;

use crate::op::{Cmd, OpCmd};

mod returned;

/// The atomics `returned.rs` is written against: std's here, loom's in its model
/// (`tests/loom_returned.rs`).
mod atomic {
    pub(super) use std::sync::atomic::{AtomicPtr, Ordering};
}

use atomic::AtomicPtr;
use returned::{Drain, Returned};

/// One request in flight. Owned by whoever holds it at the moment: the submitting
/// thread, a worker, the reactor, a timer list; never shared.
pub(crate) struct Req {
    /// The SQE as the application wrote it (the first 64 bytes).
    pub(crate) sqe: sys::io_uring_sqe,
    /// The second 64 bytes of a 128-byte SQE, copied as the kernel copies them; no op
    /// the engine honours reads them yet (URING_CMD, which does, is refused).
    #[allow(dead_code)]
    pub(crate) ext: [u8; 64],
    /// The file: the SQE's fd, or the registered file's (resolved at issue time, as
    /// the kernel does since `IORING_FEAT_LINKED_FILE`).
    pub(crate) fd: RawFd,
    /// Keeps a registered file open while the request uses it.
    pub(crate) file: Option<Arc<OwnedFd>>,
    /// `IORING_CQE_F_*` to post with the result.
    pub(crate) cflags: u32,
    /// The extra 16 bytes of a 32-byte CQE.
    pub(crate) big: [u64; 2],
    /// A result other than this one fails the link (a short read or write does;
    /// `None`: only a negative result does).
    pub(crate) expect: Option<i32>,
    /// Set when preparation failed inside a link chain: the error it posts when the
    /// chain is failed.
    pub(crate) failed: Option<i32>,
    /// The head of a chain submitted with `IOSQE_IO_DRAIN`, started by the drain
    /// logic: its completion lets the requests queued behind it go.
    pub(crate) drain_head: bool,
    /// Whether the file is a regular file or block device, found once by `fstat` and
    /// kept with the fd it was found for ([`Req::is_regular`]).
    regular: Option<(i32, bool)>,
    /// The next request of the chain (`IOSQE_IO_LINK` / `IOSQE_IO_HARDLINK`).
    pub(crate) link: Option<Box<Req>>,
    /// What the op's prep kept for its issue ([`Req::cmd`]).
    cmd: Cmd,
    /// Set when a worker is to wait for the fd to be ready for these events
    /// (`POLLIN`/`POLLOUT`) before it issues the request: the fd could not be
    /// watched by the reactor (`Engine::run_in_worker`).
    pub(crate) wait_events: Option<i16>,
    /// The id of the `LINK_TIMEOUT` guarding this request once it was issued (0:
    /// none; see `timer.rs`).
    pub(crate) ltimeout: u64,
    /// Faults injected into this request, applied at issue (`fault.rs`).
    pub(crate) fault: Option<crate::fault::Injected>,
    /// Deterministic mode: its place in the seeded order (`det.rs`).
    pub(crate) key: u64,
    /// On an IOPOLL ring's polled path: its completion waits to be reaped by `enter`
    /// (`iopoll.rs`).
    pub(crate) iopoll: bool,
    /// The next request on the request cache's returned list while this one is on it
    /// (`req/returned.rs`); meaningless otherwise.
    next_returned: AtomicPtr<Req>,
    /// The credentials a worker runs it with: its personality's, or the submitting
    /// thread's once it left `enter` for a worker (`creds.rs`).
    pub(crate) creds: Option<Arc<crate::creds::Creds>>,
}

impl returned::Node for Req {
    #[inline]
    fn next_returned(&self) -> &AtomicPtr<Req> {
        &self.next_returned
    }
}

/// Freed requests kept for reuse, as the kernel keeps `io_kiocb`s in its request cache
/// (`io_alloc_req`, and `io_req_add_to_cache` on completion): in steady state a
/// submission takes its requests from here and a completion gives them back, so no
/// request costs a heap allocation.
///
/// Two lists, no lock of its own. Requests are taken only by the submission, under the
/// engine's submit lock, from the [`Spare`] chain that lock guards; they are given back
/// by whichever thread completes them (the submitter, a worker, the reactor, a timer,
/// the AIO reaper) onto a lock-free list (`req/returned.rs`), which the submission
/// takes whole, in one atomic exchange, when its spare ones run out. A request costs
/// following a link to take and one compare-and-swap to give back.
///
/// As the kernel's cache, it keeps what it was given until the ring goes: at most as
/// many requests as were once taken and not yet given back at the same time.
pub(crate) struct ReqCache {
    /// Requests completed since the submission last took the list.
    returned: Returned<Req>,
}

/// The submitter's free requests, under the submit lock: taken by [`ReqCache::take`].
pub(crate) struct Spare(Drain<Req>);

impl Default for Spare {
    fn default() -> Spare {
        Spare(Drain::empty())
    }
}

impl ReqCache {
    pub(crate) fn new() -> ReqCache {
        ReqCache {
            returned: Returned::new(),
        }
    }

    /// A blank request, whose SQE the caller fills in place (the ring's slot is copied
    /// once, straight into it): a spare one if there is one, else a returned one, else
    /// a new one. Its `ext` holds what the last SQE of this ring put there (zeros on a
    /// ring of 64-byte SQEs, whose requests never write it).
    #[inline]
    pub(crate) fn take(&self, spare: &mut Spare) -> Box<Req> {
        match spare.0.next() {
            Some(r) => r,
            None => self.refill(spare),
        }
    }

    /// [`take`](Self::take) with no spare request: the returned ones become the spare
    /// ones; takes one of them, or makes one.
    #[cold]
    fn refill(&self, spare: &mut Spare) -> Box<Req> {
        spare.0 = self.returned.take_all();
        spare
            .0
            .next()
            .unwrap_or_else(|| Req::new(sys::io_uring_sqe::zeroed(), [0; 64]))
    }

    /// Gives back a finished request, from any thread. What it holds (a registered
    /// file's reference, its op's state, a chain) is released now, not when the box is
    /// reused, and the rest is made blank for its next SQE.
    #[inline]
    pub(crate) fn put(&self, mut req: Box<Req>) {
        req.reset();
        self.returned.push(req);
    }
}

impl Req {
    pub(crate) fn new(sqe: sys::io_uring_sqe, ext: [u8; 64]) -> Box<Req> {
        Box::new(Req::value(sqe, ext))
    }

    /// Every field but the SQE (and the returned list's link) as a fresh request has
    /// it, releasing what the request held. (A new field must be added here: the
    /// pattern names them all.)
    fn reset(&mut self) {
        let Req {
            sqe: _,
            ext: _,
            fd,
            file,
            cflags,
            big,
            expect,
            failed,
            drain_head,
            regular,
            link,
            cmd,
            wait_events,
            ltimeout,
            fault,
            key,
            iopoll,
            next_returned: _,
            creds,
        } = self;
        *fd = -1;
        *file = None;
        *cflags = 0;
        *big = [0; 2];
        *expect = None;
        *failed = None;
        *drain_head = false;
        *regular = None;
        *link = None;
        *cmd = Cmd::None;
        *wait_events = None;
        *ltimeout = 0;
        *fault = None;
        *key = 0;
        *iopoll = false;
        *creds = None;
    }

    /// A fresh request for `sqe`, by value.
    fn value(sqe: sys::io_uring_sqe, ext: [u8; 64]) -> Req {
        Req {
            sqe,
            ext,
            fd: -1,
            file: None,
            cflags: 0,
            big: [0; 2],
            expect: None,
            failed: None,
            drain_head: false,
            regular: None,
            link: None,
            cmd: Cmd::None,
            wait_events: None,
            ltimeout: 0,
            fault: None,
            key: 0,
            iopoll: false,
            next_returned: AtomicPtr::new(std::ptr::null_mut()),
            creds: None,
        }
    }

    #[inline]
    pub(crate) fn opcode(&self) -> u8 {
        self.sqe.opcode
    }

    #[inline]
    pub(crate) fn user_data(&self) -> u64 {
        self.sqe.user_data
    }

    #[inline]
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.sqe.flags & flag != 0
    }

    /// Whether the SQE continues a chain into the next one.
    #[inline]
    pub(crate) fn links_next(&self) -> bool {
        self.has(sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK)
    }

    /// `off` (the file offset) of the SQE.
    #[inline]
    pub(crate) fn off(&self) -> u64 {
        // SAFETY: every member of the union is plain integers over the same 8 bytes.
        unsafe { self.sqe.off_or_addr2.off }
    }

    /// `addr` of the SQE.
    #[inline]
    pub(crate) fn addr(&self) -> u64 {
        // SAFETY: as for `off`.
        unsafe { self.sqe.addr_or_splice_off_in.addr }
    }

    /// The op-specific flags word (`rw_flags`, `fsync_flags`, …) as unsigned.
    #[inline]
    pub(crate) fn op_flags(&self) -> u32 {
        // SAFETY: as for `off`.
        unsafe { self.sqe.op_flags.fsync_flags }
    }

    /// `buf_index` / `buf_group`.
    #[inline]
    pub(crate) fn buf_index(&self) -> u16 {
        // SAFETY: as for `off`.
        unsafe { self.sqe.buf.buf_index }
    }

    /// `file_index` / `splice_fd_in` / `optlen`.
    #[inline]
    pub(crate) fn file_index(&self) -> u32 {
        // SAFETY: as for `off`.
        unsafe { self.sqe.splice_fd_in_or_file_index.file_index }
    }

    /// `addr3`.
    #[inline]
    pub(crate) fn addr3(&self) -> u64 {
        // SAFETY: as for `off`.
        unsafe { self.sqe.addr3_or_cmd.addr3.addr3 }
    }

    /// Whether the request's fd is a regular file or block device (work for the
    /// bounded pool, never worth a readiness wait). One `fstat` per request and fd: the
    /// issue path, the punt to a worker and a retry ask the same question.
    pub(crate) fn is_regular(&mut self) -> bool {
        match self.regular {
            Some((fd, r)) if fd == self.fd => r,
            _ => {
                let r = crate::op::rw::is_regular(self.fd);
                self.regular = Some((self.fd, r));
                r
            }
        }
    }

    /// The op's struct its prep stored (the kernel's `io_kiocb_to_cmd`).
    ///
    /// # Panics
    /// If the prep of this request's op did not store a `T`: the op table pairs each
    /// issue with the prep that stores what it reads.
    #[inline]
    pub(crate) fn cmd<T: OpCmd>(&self) -> &T {
        T::of(&self.cmd).expect("the op's prep stores its struct")
    }

    /// [`cmd`](Self::cmd), mutable.
    #[inline]
    pub(crate) fn cmd_mut<T: OpCmd>(&mut self) -> &mut T {
        T::of_mut(&mut self.cmd).expect("the op's prep stores its struct")
    }

    /// [`cmd`](Self::cmd), or `None` if the request holds no `T` (its prep failed
    /// before storing it, or it is of another op).
    #[inline]
    pub(crate) fn try_cmd<T: OpCmd>(&self) -> Option<&T> {
        T::of(&self.cmd)
    }

    /// [`cmd_mut`](Self::cmd_mut), or `None` if the request holds no `T` (its prep
    /// failed, or it is of another op).
    #[inline]
    pub(crate) fn try_cmd_mut<T: OpCmd>(&mut self) -> Option<&mut T> {
        T::of_mut(&mut self.cmd)
    }

    /// Stores the op's struct (at prep).
    #[inline]
    pub(crate) fn set_cmd<T: OpCmd>(&mut self, cmd: T) {
        self.cmd = cmd.into_cmd();
    }

    /// Sets the resolved file.
    pub(crate) fn set_file(&mut self, file: Arc<OwnedFd>) {
        self.fd = file.as_raw_fd();
        self.file = Some(file);
    }
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Req")
            .field("opcode", &self.sqe.opcode)
            .field("user_data", &self.sqe.user_data)
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}
