//! Reads and writes of `O_DIRECT` files go through Linux AIO (`io_submit(2)`), which is
//! what makes them asynchronous in user space: the kernel's io_uring hands a direct
//! read to the block layer and returns, and so does `io_submit`, where `preadv2` with
//! `RWF_NOWAIT` waits for the disk (ext4, xfs, block devices), so that 32 reads in
//! flight ran one at a time. On a cached file `io_submit` does the read or write
//! before it returns, as `preadv2` does, with the same results: the two calls can
//! stand in for each other.
//!
//! Only `O_DIRECT` files take this path: on a cached file one `io_submit`
//! per request costs more than a `preadv2` (about 1.6× here), so the cheaper call stays
//! where it does the same. Which fds are direct is asked with `fcntl(F_GETFL)` the
//! first time the ring sees an fd number and again every [`RECHECK`] requests (a
//! number the application closed and reused for another file is found again); a
//! stale answer costs speed only, never a result: AIO and `preadv2` give the same
//! results on both kinds of file.
//!
//! The requests of one submission go to the device in one `io_submit` ([`Batch`]):
//! one block-layer plug, so the device is told once, as the kernel's io_uring plugs
//! a submission.
//!
//! Every iocb carries `RWF_NOWAIT` (as the engine's inline attempt always does) and
//! names the ring's eventfd (`IOCB_FLAG_RESFD`). Completions are read from the AIO
//! ring in user memory (its head is ours to move, as `user_refill_reqs_available` in
//! `fs/aio.c` expects), under one lock, by whoever gets there first: the submitting
//! thread right after `io_submit` (a cached read is there already: no wake-up, no
//! second thread), a thread waiting in `enter` (it waits on the eventfd itself, as the
//! kernel completes direct I/O in the waiting task: one wake-up per completion batch;
//! a CQE posted from elsewhere kicks the eventfd), or else the reaping thread, which
//! waits on the eventfd (quiet while nothing is on the device: the thread costs no CPU
//! then, and a completion wakes it with no hand-off) and stands aside while a thread
//! waits in `enter`, so programs that wait elsewhere (poll on the ring fd, peek the CQ)
//! get their completions too. On a ring whose fd the program polls, completions
//! signal the ring fd itself, and `IORING_SQ_TASKRUN` is set while they are on the
//! device ([`Aio::direct`]): the program wakes on the device's completion, its peek
//! of an empty CQ enters (liburing's does while the flag is set) and `enter` reaps
//! them, as the kernel runs task work in the waiting task; the reaping thread then only
//! takes over completions left unreaped ([`reaper`]). A result goes through the
//! same decisions as a `preadv2` result (`op::rw::finish`): `-EAGAIN` from a regular
//! file goes to the worker pool, from a pipe or socket to the reactor, a partial read
//! of a partly cached file is finished in a worker.
//!
//! Not taken through AIO: requests at the file position (`off == -1`; AIO has none),
//! streams already known, buffer selection, requests with injected faults or a
//! `LINK_TIMEOUT`, deterministic mode (one thread, seeded order), and any ring whose
//! `io_setup` fails (AIO compiled out, a seccomp profile that refuses it, `fs.aio-max-nr`
//! reached), and every ring when `URING_ENGINE_NO_AIO=1` (to compare): those keep the
//! `preadv2` path.
use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;

use uring_sys as sys;

use crate::engine::Engine;
use crate::op::Mode;
use crate::req::Req;

/// `struct iocb` of `<linux/aio_abi.h>` (little-endian field order).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Iocb {
    aio_data: u64,
    aio_key: u32,
    aio_rw_flags: i32,
    aio_lio_opcode: u16,
    aio_reqprio: i16,
    aio_fildes: u32,
    aio_buf: u64,
    aio_nbytes: u64,
    aio_offset: i64,
    aio_reserved2: u64,
    aio_flags: u32,
    aio_resfd: u32,
}

impl Iocb {
    const fn zeroed() -> Iocb {
        Iocb {
            aio_data: 0,
            aio_key: 0,
            aio_rw_flags: 0,
            aio_lio_opcode: 0,
            aio_reqprio: 0,
            aio_fildes: 0,
            aio_buf: 0,
            aio_nbytes: 0,
            aio_offset: 0,
            aio_reserved2: 0,
            aio_flags: 0,
            aio_resfd: 0,
        }
    }
}

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

/// The header of the completion ring `io_setup` maps at the context's address
/// (`struct aio_ring` in `fs/aio.c`), followed by `nr` events.
#[repr(C)]
struct AioRing {
    id: u32,
    nr: u32,
    head: u32,
    tail: u32,
    magic: u32,
    compat_features: u32,
    incompat_features: u32,
    header_length: u32,
}

const _: () = {
    assert!(size_of::<Iocb>() == 64);
    assert!(std::mem::offset_of!(Iocb, aio_lio_opcode) == 16);
    assert!(std::mem::offset_of!(Iocb, aio_offset) == 40);
    assert!(std::mem::offset_of!(Iocb, aio_resfd) == 60);
    assert!(size_of::<IoEvent>() == 32);
    assert!(size_of::<AioRing>() == 32);
};

#[cfg(target_endian = "big")]
compile_error!("the iocb layout above is the little-endian one");

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;
const IOCB_FLAG_RESFD: u32 = 1;
const AIO_RING_MAGIC: u32 = 0xa10a_10a1;
/// How long the reaping thread leaves the device's completions to a thread waiting in
/// `enter` before it looks again.
const STAND_ASIDE: std::time::Duration = std::time::Duration::from_millis(1);
/// How long a pollable ring's completions go through the reaping thread once the
/// program was found not to reap them (ms), and how many looks ([`STAND_ASIDE`] each)
/// completions lie unreaped before that: for a program that entered for its
/// completions in the last [`HOP_MS`] (it was only slow: preempted on a busy machine),
/// and for one that did not.
const HOP_MS: u64 = 1000;
const HOP_MS_ENTERING: u64 = 20;
const UNREAPED_LOOKS: u32 = 1;
const UNREAPED_LOOKS_ENTERING: u32 = 20;
/// Looks (of [`STAND_ASIDE`] each) with nothing on the device before the reaping thread
/// of a pollable ring sleeps until the next submission.
const IDLE_LOOKS: u32 = 100;
/// Events read from the ring per pass (the stack buffer).
const REAP_BATCH: usize = 64;

/// An AIO context and the eventfd its completions signal.
struct Ctx {
    id: u64,
    efd: OwnedFd,
    /// Whether the ring can be read in user memory (its magic and features are the
    /// ones this code knows); else `io_getevents` reads it.
    user_ring: bool,
}

/// fds whose kind is remembered (higher ones are asked every time).
const HINTS: usize = 4096;
/// Requests on one fd between two `fcntl(F_GETFL)`.
const RECHECK: u32 = 256;
/// A hint: bit 31 set if the fd was direct, bits 0..30 requests since asked (0: never
/// asked).
const DIRECT_BIT: u32 = 1 << 31;

#[derive(Default)]
struct ReaperState {
    handle: Option<JoinHandle<()>>,
    stop: bool,
}

/// The ring's AIO side, set up on first use.
#[derive(Default)]
pub(crate) struct Aio {
    ctx: OnceLock<Option<Ctx>>,
    /// Serialises readers of the completion ring.
    reap_lock: Mutex<()>,
    /// iocbs submitted and not yet reaped.
    outstanding: AtomicUsize,
    /// Set once the ring shuts down: nothing more is submitted.
    closed: AtomicBool,
    reaper: Mutex<ReaperState>,
    reaper_cond: Condvar,
    /// Threads waiting in `enter` on the eventfd ([`Aio::block`]).
    enter_waiters: AtomicUsize,
    /// How many waits in `enter` there were: the reaping thread stands aside while
    /// this moves.
    enter_waits: AtomicU64,
    /// The reaping thread was started.
    reaper_started: AtomicBool,
    /// Per fd number: whether it was opened `O_DIRECT`, and when that was asked.
    hints: OnceLock<Box<[AtomicU32]>>,
    /// iocbs made inside a [`Batch`], submitted together when it ends.
    pending: Mutex<Vec<Iocb>>,
    /// The reaping thread sleeps until a submission wakes it ([`Aio::wake_reaper`]).
    reaper_idle: AtomicBool,
    /// Until when (on [`now_ms`]'s clock) the completions of a pollable ring signal
    /// the AIO eventfd, watched by the reaping thread, rather than the ring fd: the
    /// program left them unreaped ([`reaper`]).
    hop_until: AtomicU64,
    /// When (on [`now_ms`]'s clock) `enter` last found direct completions to reap
    /// ([`Aio::reap_now`]): the program enters for them.
    entered_at: AtomicU64,
    /// Completions have signalled the ring fd ([`Aio::direct`]).
    signals_ring: AtomicBool,
}

/// Milliseconds since the first call, from 1 (the clock of [`Aio::hop_until`]).
fn now_ms() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    start.elapsed().as_millis() as u64 + 1
}

thread_local! {
    /// How many [`Batch`]es this thread is inside: while one is open, its iocbs wait in
    /// `pending` for its end.
    static BATCHING: Cell<u32> = const { Cell::new(0) };
}

/// A submission's worth of AIO requests, submitted in one `io_submit` when it is
/// dropped ([`Aio::batch`]).
pub(crate) struct Batch<'a> {
    e: &'a Arc<Engine>,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let depth = BATCHING.with(|b| {
            b.set(b.get() - 1);
            b.get()
        });
        if depth == 0 {
            self.e.aio.flush(self.e);
        }
    }
}

const _: () = assert!(align_of::<Req>() >= 2);

/// What one read or write asks of AIO: an iocb's opcode, buffer (or iovec array) and
/// length, offset and `RWF_*` flags.
pub(crate) struct Rw {
    op: u16,
    buf: u64,
    nbytes: u64,
    off: i64,
    rw_flags: i32,
}

impl Rw {
    /// A read or write of `iov` at `off`. A single iovec is a plain `PREAD`/`PWRITE`;
    /// an array must stay where it is until the iocb is submitted (the kernel copies it
    /// during `io_submit`), which may be at the end of a [`Batch`]: the request's own
    /// copy of the array (it lives in the request, which the context owns until it is
    /// reaped).
    pub(crate) fn new(write: bool, iov: &[libc::iovec], off: i64, rw_flags: i32) -> Rw {
        let (op, buf, nbytes) = match (iov, write) {
            ([one], false) => (IOCB_CMD_PREAD, one.iov_base as u64, one.iov_len as u64),
            ([one], true) => (IOCB_CMD_PWRITE, one.iov_base as u64, one.iov_len as u64),
            (v, false) => (IOCB_CMD_PREADV, v.as_ptr() as u64, v.len() as u64),
            (v, true) => (IOCB_CMD_PWRITEV, v.as_ptr() as u64, v.len() as u64),
        };
        Rw {
            op,
            buf,
            nbytes,
            off,
            rw_flags,
        }
    }
}

impl Aio {
    fn ctx(&self, entries: u32) -> Option<&Ctx> {
        self.ctx.get_or_init(|| setup(entries)).as_ref()
    }

    /// Whether a read or write on `fd` should go through AIO: the file is `O_DIRECT`.
    pub(crate) fn wants(&self, fd: i32) -> bool {
        let Some(slot) = usize::try_from(fd).ok().filter(|&f| f < HINTS) else {
            return is_direct(fd);
        };
        let hints = self
            .hints
            .get_or_init(|| (0..HINTS).map(|_| AtomicU32::new(0)).collect());
        let h = &hints[slot];
        // Relaxed: a hint orders nothing; a racing update is a stale hint, re-asked.
        let v = h.load(Ordering::Relaxed);
        let count = v & !DIRECT_BIT;
        if count != 0 && count < RECHECK {
            h.store(v + 1, Ordering::Relaxed);
            return v & DIRECT_BIT != 0;
        }
        let direct = is_direct(fd);
        h.store(if direct { DIRECT_BIT | 1 } else { 1 }, Ordering::Relaxed);
        direct
    }

    /// Whether `fd` was last found `O_DIRECT`, without asking (a hint: for choices
    /// that only cost speed, such as not handing AIO work to the assisting thread,
    /// whose copying would be the device's).
    pub(crate) fn known_direct(&self, fd: i32) -> bool {
        let Some(hints) = self.hints.get() else {
            return false;
        };
        usize::try_from(fd)
            .ok()
            .and_then(|f| hints.get(f))
            .is_some_and(|h| h.load(Ordering::Relaxed) & DIRECT_BIT != 0)
    }

    /// Whether requests are on the device (submitted, not reaped).
    pub(crate) fn in_flight(&self) -> bool {
        self.outstanding.load(Ordering::SeqCst) > 0
    }

    /// Waits (until `until`, if given) for the eventfd: a direct completion, or a
    /// [`kick`](Self::kick). The caller is a thread waiting in `enter`; while it
    /// waits, the reaping thread stands aside. On a pollable ring direct completions
    /// may signal the ring fd instead ([`direct`](Self::direct)): it waits on both,
    /// the ring fd cleared first, so that only what comes next wakes it (CQEs posted
    /// earlier may have left it readable), and made readable again afterwards if
    /// CQEs wait there.
    pub(crate) fn block(&self, e: &Engine, until: Option<std::time::Instant>) {
        let Some(Some(ctx)) = self.ctx.get() else {
            return;
        };
        let ms = until.map_or(-1, |u| {
            let left = u.saturating_duration_since(std::time::Instant::now());
            // Rounded up: a wait that returns early only loops.
            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
        });
        self.enter_waiters.fetch_add(1, Ordering::SeqCst);
        self.enter_waits.fetch_add(1, Ordering::SeqCst);
        if e.poll_enabled.load(Ordering::SeqCst) {
            let ring = e.notify.as_raw_fd();
            clear_efd(ring);
            // A completion that signalled before the clear is in the AIO ring (the
            // kernel moves the tail before it signals): reaped on return.
            if !events_waiting(ctx) {
                let mut fds = [ctx.efd.as_raw_fd(), ring].map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
                // SAFETY: two valid pollfds.
                unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
                clear_efd(ctx.efd.as_raw_fd());
            }
            if e.signalled.load(Ordering::SeqCst) {
                signal_efd(ring);
            }
        } else {
            wait_efd(ctx, ms);
        }
        self.enter_waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether the next direct completions signal the ring fd rather than the AIO
    /// eventfd: on a pollable ring (its fd handed out for poll/epoll), a program that
    /// waits on the ring fd then wakes on the device's completion itself and reaps in
    /// `enter` ([`reap_now`](Self::reap_now)), where through the reaping thread it
    /// took two wake-ups, and the CQEs of a batch reach it one by one. Not while the
    /// program is found to leave them unreaped ([`reaper`]), not where the AIO ring
    /// cannot be read in user memory (nothing could tell), and not on an `IOPOLL` ring,
    /// whose `enter` waits for the reaping thread to hand it completions
    /// (`iopoll.rs`).
    fn direct(&self, e: &Engine, ctx: &Ctx) -> bool {
        ctx.user_ring
            && !e.is(sys::IORING_SETUP_IOPOLL)
            && e.poll_enabled.load(Ordering::Relaxed)
            && now_ms() >= self.hop_until.load(Ordering::Relaxed)
    }

    /// Whether a program should enter for its completions: direct I/O of a pollable
    /// ring is on the device, and its completions are reaped in `enter`. The ring says
    /// so with `IORING_SQ_TASKRUN` (as the kernel's does for task work to run, though
    /// without `IORING_SETUP_TASKRUN_FLAG`), which makes liburing's peek of an empty
    /// CQ enter.
    pub(crate) fn wants_enter(&self, e: &Engine) -> bool {
        self.outstanding.load(Ordering::SeqCst) > 0
            && e.poll_enabled.load(Ordering::Relaxed)
            && !e.is(sys::IORING_SETUP_IOPOLL)
    }

    /// Reaps what the AIO ring holds now, without waiting: `enter` does, as the
    /// kernel runs task work there.
    pub(crate) fn reap_now(&self, e: &Arc<Engine>) {
        if self.outstanding.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(Some(ctx)) = self.ctx.get()
            && self.reap(e, ctx, false) > 0
        {
            self.entered_at.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// Whether direct completions have signalled the ring fd: it may then be readable
    /// with no CQE to show for it, as the kernel signals after it moves the AIO ring's
    /// tail, and a completion reaped in between signals after the reap.
    pub(crate) fn signals_ring(&self) -> bool {
        self.signals_ring.load(Ordering::Relaxed)
    }

    /// Whether completions wait in the AIO ring (never, where it cannot be read in user
    /// memory).
    pub(crate) fn events_waiting(&self) -> bool {
        matches!(self.ctx.get(), Some(Some(ctx)) if events_waiting(ctx))
    }

    /// Reaps on behalf of a thread that waited in [`block`](Self::block).
    pub(crate) fn reap_waiting(&self, e: &Arc<Engine>) {
        if let Some(Some(ctx)) = self.ctx.get() {
            self.reap(e, ctx, true);
        }
    }

    /// Wakes a thread in [`block`](Self::block): a CQE was posted from elsewhere.
    pub(crate) fn kick(&self) {
        if let Some(Some(ctx)) = self.ctx.get() {
            signal_efd(ctx.efd.as_raw_fd());
        }
    }

    /// Opens a batch: until it is dropped, [`submit`](Self::submit) on this thread
    /// queues its iocbs, and the end of the batch submits them in one `io_submit`.
    /// One call for a submission's requests is one block-layer plug, so the device is
    /// notified once for all of them (a virtio disk's notification is an exit to the
    /// hypervisor), as the kernel's io_uring plugs a submission; `io_submit` of one
    /// iocb does not plug. Whatever the batch is inside must not wait for these
    /// requests' completions.
    pub(crate) fn batch<'a>(&self, e: &'a Arc<Engine>) -> Batch<'a> {
        BATCHING.with(|b| b.set(b.get() + 1));
        Batch { e }
    }

    /// Submits `req` as one iocb (inside a [`batch`](Self::batch): queues it). `Err`
    /// gives it back when AIO cannot take it (no context, the context is full,
    /// `io_submit` refused it — a file without `FMODE_NOWAIT`, a bad fd): the caller
    /// does it with `preadv2` instead, which also gives the error the kernel would. A
    /// queued iocb that `io_submit` refuses goes the same way, from the end of the
    /// batch ([`crate::op::rw::issue_without_aio`]).
    pub(crate) fn submit(
        &self,
        e: &Arc<Engine>,
        req: Box<Req>,
        rw: &Rw,
        mode: Mode,
    ) -> Result<(), Box<Req>> {
        if self.closed.load(Ordering::Acquire) || req.fd < 0 {
            return Err(req);
        }
        let Some(ctx) = self.ctx(e.rings.cq_entries) else {
            return Err(req);
        };
        let fd = req.fd;
        let direct = self.direct(e, ctx);
        let resfd = if direct {
            e.notify.as_raw_fd()
        } else {
            ctx.efd.as_raw_fd()
        };
        let raw = Box::into_raw(req);
        let cb = Iocb {
            aio_data: raw as u64 | u64::from(mode == Mode::Worker),
            aio_rw_flags: rw.rw_flags,
            aio_lio_opcode: rw.op,
            aio_fildes: fd as u32,
            aio_buf: rw.buf,
            aio_nbytes: rw.nbytes,
            aio_offset: rw.off,
            aio_flags: IOCB_FLAG_RESFD,
            aio_resfd: resfd as u32,
            ..Iocb::default()
        };
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        if direct {
            self.signals_ring.store(true, Ordering::Relaxed);
            e.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
        }
        if BATCHING.with(Cell::get) > 0 {
            // The end of the batch submits it.
            self.pending.lock().expect("aio pending").push(cb);
            return Ok(());
        }
        let mut list = [&raw const cb];
        // SAFETY: one valid iocb; the buffers (or the iovec array, copied by the kernel
        // during the call) are the application's, valid until the CQE (the SQE
        // contract); `aio_data` is the request, owned by the context until reaped.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_submit,
                ctx.id,
                1 as libc::c_long,
                list.as_mut_ptr(),
            )
        };
        if n != 1 {
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: not submitted: the request is ours again, from `into_raw` above.
            return Err(unsafe { Box::from_raw(raw) });
        }
        // A cached read or write completed inside io_submit: post it now.
        self.reap(e, ctx, false);
        if self.outstanding.load(Ordering::SeqCst) > 0 {
            self.wake_reaper(e);
        }
        Ok(())
    }

    /// Submits what batches queued: `REAP_BATCH` iocbs per `io_submit`. An iocb that
    /// `io_submit` refuses is done without AIO, as [`submit`](Self::submit)'s `Err`.
    fn flush(&self, e: &Arc<Engine>) {
        let Some(Some(ctx)) = self.ctx.get() else {
            return;
        };
        let mut any = false;
        loop {
            let mut cbs = [const { Iocb::zeroed() }; REAP_BATCH];
            let n = {
                let mut p = self.pending.lock().expect("aio pending");
                let n = p.len().min(REAP_BATCH);
                for (dst, src) in cbs.iter_mut().zip(p.drain(..n)) {
                    *dst = src;
                }
                n
            };
            if n == 0 {
                break;
            }
            any = true;
            let mut list = [std::ptr::null::<Iocb>(); REAP_BATCH];
            for (l, cb) in list.iter_mut().zip(&cbs[..n]) {
                *l = cb;
            }
            let mut at = 0;
            while at < n {
                // SAFETY: `n - at` valid iocbs (as in `submit`); the kernel reads each
                // during the call.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_io_submit,
                        ctx.id,
                        (n - at) as libc::c_long,
                        list[at..n].as_mut_ptr(),
                    )
                };
                if r > 0 {
                    at += r as usize;
                    continue;
                }
                // The iocb at `at` was refused (the ones before it are in): do it
                // without AIO, and go on with the rest.
                self.outstanding.fetch_sub(1, Ordering::SeqCst);
                let data = cbs[at].aio_data;
                at += 1;
                let mode = if data & 1 != 0 {
                    Mode::Worker
                } else {
                    Mode::Inline
                };
                // SAFETY: not submitted: the request is ours again, from the
                // `into_raw` of `submit` (bit 0 carried the mode).
                let req = unsafe { Box::from_raw((data & !1) as *mut Req) };
                let step = crate::op::rw::issue_without_aio(req, e, mode);
                e.apply(step);
            }
        }
        if any {
            self.reap(e, ctx, false);
            if self.outstanding.load(Ordering::SeqCst) > 0 {
                self.wake_reaper(e);
            }
        }
    }

    /// Reads the completion ring until it is empty and finishes each request. The
    /// submitting thread does not wait for the lock (`blocking` false): whoever holds
    /// it reads on, and what lands after its read signals the eventfd, which the
    /// reaping thread (woken by the submitter) watches; the reaping thread waits.
    fn reap(&self, e: &Arc<Engine>, ctx: &Ctx, blocking: bool) -> usize {
        let mut reaped = 0;
        loop {
            let mut ev = [IoEvent::default(); REAP_BATCH];
            let n = {
                let _g = if blocking {
                    self.reap_lock.lock().expect("aio reap")
                } else {
                    match self.reap_lock.try_lock() {
                        Ok(g) => g,
                        Err(_) => return reaped,
                    }
                };
                read_events(ctx, &mut ev)
            };
            if n == 0 {
                return reaped;
            }
            reaped += n;
            if self.outstanding.fetch_sub(n, Ordering::SeqCst) == n {
                self.settle_flag(e);
            }
            for v in &ev[..n] {
                let mode = if v.data & 1 != 0 {
                    Mode::Worker
                } else {
                    Mode::Inline
                };
                // SAFETY: `data` is the `Box::into_raw` of `submit` (a `Req` is 8-byte
                // aligned: bit 0 carried the mode), reaped once (the ring's head moved
                // past it under the lock).
                let req = unsafe { Box::from_raw((v.data & !1) as *mut Req) };
                let res = v.res.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                let step = crate::op::rw::finish_aio(req, e, res, mode);
                e.apply(step);
            }
            if n < REAP_BATCH {
                return reaped;
            }
        }
    }

    /// Nothing is on the device: `IORING_SQ_TASKRUN` goes, unless completions deferred
    /// to the next wait (`DEFER_TASKRUN`, `complete.rs`) want it, or a submission
    /// racing with this one put requests on the device again.
    fn settle_flag(&self, e: &Engine) {
        let st = e.cq.lock().expect("cq");
        if st.deferred.is_empty() {
            e.rings.clear_sq_flag(sys::IORING_SQ_TASKRUN);
        }
        drop(st);
        // Requests waiting for readiness want it too (reactor.rs).
        if self.wants_enter(e) || e.reactor.is_waiting() {
            e.rings.set_sq_flag(sys::IORING_SQ_TASKRUN);
        }
    }

    /// Makes sure the reaping thread runs: requests are on the device. Once started it
    /// waits on the eventfd, which the device's completions signal, or looks at the
    /// AIO ring every [`STAND_ASIDE`]: a submission only wakes it from the sleep of an
    /// idle pollable ring ([`reaper`]).
    fn wake_reaper(&self, e: &Arc<Engine>) {
        if self.reaper_started.load(Ordering::Acquire) {
            // SeqCst: pairs with the reaping thread's store of `reaper_idle` before
            // its load of `outstanding` (this side stored `outstanding` first): one of
            // the two sees the other.
            if self.reaper_idle.load(Ordering::SeqCst) {
                let _st = self.reaper.lock().expect("aio reaper");
                self.reaper_cond.notify_all();
            }
            return;
        }
        let mut st = self.reaper.lock().expect("aio reaper");
        if st.stop {
            return;
        }
        if st.handle.is_none() {
            let weak = Arc::downgrade(e);
            match std::thread::Builder::new()
                .name("uring-aio".into())
                .spawn(move || reaper(weak))
            {
                Ok(h) => {
                    st.handle = Some(h);
                    self.reaper_started.store(true, Ordering::Release);
                }
                Err(_) => {
                    // No thread: the requests are found by the next submission or at
                    // shutdown; say so loudly rather than hang quietly.
                    eprintln!("uring-engine: cannot start the AIO reaping thread");
                }
            }
        }
    }

    /// Stops submitting, waits for every request on the device (posting its CQE),
    /// stops the reaping thread and destroys the context: nothing touches the
    /// application's buffers afterwards.
    pub(crate) fn shutdown(&self, e: &Arc<Engine>) {
        self.closed.store(true, Ordering::Release);
        let h = {
            let mut st = self.reaper.lock().expect("aio reaper");
            st.stop = true;
            st.handle.take()
        };
        self.reaper_cond.notify_all();
        let Some(Some(ctx)) = self.ctx.get() else {
            return;
        };
        // Wake the reaper if it polls the eventfd.
        signal_efd(ctx.efd.as_raw_fd());
        if let Some(h) = h
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        while self.outstanding.load(Ordering::SeqCst) > 0 {
            // Direct completions of a pollable ring signal the ring fd, not this one.
            wait_efd(
                ctx,
                if e.poll_enabled.load(Ordering::SeqCst) {
                    1
                } else {
                    100
                },
            );
            self.reap(e, ctx, true);
        }
        // SAFETY: a context we own, with nothing in flight.
        unsafe { libc::syscall(libc::SYS_io_destroy, ctx.id) };
    }
}

/// Whether `fd` was opened with `O_DIRECT` (`fcntl(F_GETFL)`); false if it cannot be
/// asked (the read or write then reports the bad fd).
fn is_direct(fd: i32) -> bool {
    // SAFETY: F_GETFL takes no argument and only reads the fd's flags.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    fl >= 0 && fl & libc::O_DIRECT != 0
}

/// `io_setup` with room for a full CQ of requests, and the eventfd.
fn setup(entries: u32) -> Option<Ctx> {
    if std::env::var_os("URING_ENGINE_NO_AIO").is_some_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    let mut id: u64 = 0;
    let nr = entries.clamp(64, 4096) as libc::c_long;
    // SAFETY: `id` is a valid, zeroed aio_context_t for the kernel to fill.
    if unsafe { libc::syscall(libc::SYS_io_setup, nr, &raw mut id) } != 0 {
        return None;
    }
    // SAFETY: eventfd has no memory arguments.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if efd < 0 {
        // SAFETY: the context just made.
        unsafe { libc::syscall(libc::SYS_io_destroy, id) };
        return None;
    }
    // SAFETY: the context's id is the address of its mapped ring header, readable as
    // long as the context lives.
    let ring = unsafe { &*(id as *const AioRing) };
    let user_ring = ring.magic == AIO_RING_MAGIC
        && ring.incompat_features == 0
        && ring.header_length as usize == size_of::<AioRing>();
    Some(Ctx {
        id,
        // SAFETY: a fresh fd we own.
        efd: unsafe { OwnedFd::from_raw_fd(efd) },
        user_ring,
    })
}

/// Takes up to `ev.len()` completions off the ring (the caller holds the reap lock).
fn read_events(ctx: &Ctx, ev: &mut [IoEvent]) -> usize {
    if !ctx.user_ring {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ev` has room for `ev.len()` events; a zero timeout does not block.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                ctx.id,
                0 as libc::c_long,
                ev.len() as libc::c_long,
                ev.as_mut_ptr(),
                &raw const zero,
            )
        };
        return n.max(0) as usize;
    }
    let ring = ctx.id as *mut AioRing;
    // SAFETY: the ring header lives as long as the context; `nr` never changes.
    let nr = unsafe { (*ring).nr };
    // SAFETY: as above; head is only written by the reader holding the reap lock (us:
    // the kernel reads it, writing it only inside io_getevents, which we do not call
    // on a user-read ring).
    let head_ptr = unsafe { &*(&raw const (*ring).head).cast::<std::sync::atomic::AtomicU32>() };
    // SAFETY: as above.
    let tail_ptr = unsafe { &*(&raw const (*ring).tail).cast::<std::sync::atomic::AtomicU32>() };
    let mut head = head_ptr.load(Ordering::Relaxed);
    // Acquire: pairs with the smp_wmb() in aio_complete between writing the event and
    // storing the tail: the events before the tail are written.
    let tail = tail_ptr.load(Ordering::Acquire);
    let events = ring.wrapping_add(1).cast::<IoEvent>();
    let mut n = 0;
    while head != tail && n < ev.len() {
        if head >= nr {
            head = 0;
            continue;
        }
        // SAFETY: `head < nr`: inside the mapped ring.
        ev[n] = unsafe { events.add(head as usize).read_volatile() };
        n += 1;
        head = (head + 1) % nr;
    }
    // Release: the events are read before the kernel may reuse their slots (it reads
    // the head in user_refill_reqs_available).
    head_ptr.store(head, Ordering::Release);
    n
}

/// The AIO ring's head and tail, where it can be read in user memory.
fn ring_pos(ctx: &Ctx) -> Option<(u32, u32)> {
    if !ctx.user_ring {
        return None;
    }
    let ring = ctx.id as *const AioRing;
    // SAFETY: the ring header lives as long as the context; the kernel writes the tail
    // and reads the head, the reap lock's holder writes the head (`read_events`).
    let head = unsafe { &*(&raw const (*ring).head).cast::<std::sync::atomic::AtomicU32>() };
    // SAFETY: as above.
    let tail = unsafe { &*(&raw const (*ring).tail).cast::<std::sync::atomic::AtomicU32>() };
    // Acquire on the tail: pairs with the kernel's smp_wmb() before it stores the tail
    // (and signals the eventfd after): a signal already consumed shows here.
    let t = tail.load(Ordering::Acquire);
    Some((head.load(Ordering::Acquire), t))
}

/// Whether completions wait in the AIO ring (false where it cannot be read in user
/// memory).
fn events_waiting(ctx: &Ctx) -> bool {
    ring_pos(ctx).is_some_and(|(h, t)| h != t)
}

/// Makes an eventfd readable.
fn signal_efd(fd: i32) {
    // SAFETY: writing a u64 to an eventfd of ours.
    unsafe { libc::write(fd, (&raw const crate::complete::ONE).cast(), 8) };
}

/// Clears an eventfd of ours (non-blocking: nothing to clear is not an error).
fn clear_efd(fd: i32) {
    let mut v = 0u64;
    // SAFETY: reading 8 bytes into a u64 from a non-blocking eventfd.
    unsafe { libc::read(fd, (&raw mut v).cast(), 8) };
}

/// Waits up to `ms` for the eventfd, then clears it.
fn wait_efd(ctx: &Ctx, ms: i32) {
    let mut pfd = libc::pollfd {
        fd: ctx.efd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) };
    let mut v = 0u64;
    // SAFETY: reading 8 bytes into a u64 from our non-blocking eventfd.
    unsafe { libc::read(ctx.efd.as_raw_fd(), (&raw mut v).cast(), 8) };
}

/// The reaping thread: waits for the eventfd and reaps. It waits there also while
/// nothing is on the device (the eventfd stays quiet then): the first completion of the
/// next request wakes it directly, where a thread asleep elsewhere would need a
/// submission to wake it first, one more context switch before each completion.
///
/// It stands aside while a thread waits in `enter` or did since it last looked:
/// two threads polling the eventfd are both woken by every completion, one of them
/// for nothing. Looking only at who waits at the moment was not enough: the waiting
/// thread leaves its wait for every batch it reaps, and a look that fell in that gap
/// put the reaping thread back on the eventfd, where it stayed woken beside the
/// waiter for the rest of the run (twice the context switches in about half the
/// runs of `engine_ops engine write`).
///
/// On a pollable ring whose completions signal the ring fd ([`Aio::direct`]) it does
/// not wait on the eventfd: it looks at the AIO ring every [`STAND_ASIDE`], and when
/// completions lay there unreaped for a look (the program reads the CQ without
/// entering), or for [`UNREAPED_LOOKS_ENTERING`] if the program entered for earlier
/// ones (it was preempted), it reaps them, and for [`HOP_MS`] (or
/// [`HOP_MS_ENTERING`]) the completions signal the eventfd and it watches that, as on
/// any other ring. With nothing on the device for
/// [`IDLE_LOOKS`] looks it sleeps until a submission.
fn reaper(engine: Weak<Engine>) {
    let mut seen = 0;
    // The AIO ring's head when a look found completions waiting there, and how many
    // looks since found them there with the head unmoved.
    let mut waiting_at = None;
    let mut unreaped = 0;
    let mut idle = 0;
    loop {
        let Some(e) = engine.upgrade() else { return };
        let a = &e.aio;
        let Some(Some(ctx)) = a.ctx.get() else { return };
        let mut take_over = false;
        {
            let mut st = a.reaper.lock().expect("aio reaper");
            loop {
                if st.stop {
                    return;
                }
                let waits = a.enter_waits.load(Ordering::SeqCst);
                if a.enter_waiters.load(Ordering::SeqCst) > 0 || waits != seen {
                    // A thread waiting in enter reaps: stand aside, and look again
                    // in a while (it may stop waiting and leave requests behind).
                    seen = waits;
                    st = a
                        .reaper_cond
                        .wait_timeout(st, STAND_ASIDE)
                        .expect("aio reaper")
                        .0;
                    continue;
                }
                if !a.direct(&e, ctx) {
                    break;
                }
                match ring_pos(ctx) {
                    Some((head, tail)) if head != tail => {
                        if waiting_at == Some(head) {
                            unreaped += 1;
                        } else {
                            waiting_at = Some(head);
                            unreaped = 0;
                        }
                        let now = now_ms();
                        let entering =
                            now.saturating_sub(a.entered_at.load(Ordering::Relaxed)) < HOP_MS;
                        let (looks, hop) = if entering {
                            (UNREAPED_LOOKS_ENTERING, HOP_MS_ENTERING)
                        } else {
                            (UNREAPED_LOOKS, HOP_MS)
                        };
                        if unreaped >= looks {
                            waiting_at = None;
                            a.hop_until.store(now + hop, Ordering::Relaxed);
                            take_over = true;
                            break;
                        }
                    }
                    _ => waiting_at = None,
                }
                if a.outstanding.load(Ordering::SeqCst) == 0 {
                    // The last completions may have signalled the ring fd after they
                    // were reaped: with nothing on the device, no peek enters to
                    // clear it, and a program polling it would find it readable for
                    // ever.
                    e.reset_pollable();
                    idle += 1;
                    if idle >= IDLE_LOOKS {
                        idle = 0;
                        // SeqCst: see `wake_reaper`.
                        a.reaper_idle.store(true, Ordering::SeqCst);
                        if a.outstanding.load(Ordering::SeqCst) == 0 && !st.stop {
                            st = a.reaper_cond.wait(st).expect("aio reaper");
                        }
                        a.reaper_idle.store(false, Ordering::SeqCst);
                        continue;
                    }
                } else {
                    idle = 0;
                }
                st = a
                    .reaper_cond
                    .wait_timeout(st, STAND_ASIDE)
                    .expect("aio reaper")
                    .0;
            }
        }
        if !take_over {
            // On a pollable ring, completions submitted before a hop signal the ring
            // fd: look at the AIO ring every while too.
            let ms = if e.poll_enabled.load(Ordering::Relaxed) {
                STAND_ASIDE.as_millis() as i32
            } else {
                -1
            };
            wait_efd(ctx, ms);
        }
        a.reap(&e, ctx, true);
    }
}
