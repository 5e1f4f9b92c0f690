//! The engine proper: submission (SQEs into requests, link chains, drain), issue
//! (inline, worker pool, readiness), the ring fd and `enter`. Mirrors
//! `io_uring/io_uring.c`; completion is in `complete.rs`, waiting in `wait.rs` (the
//! kernel's `wait.c`).
use std::cell::Cell;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use uring_sys as sys;

use crate::assist::{self, Assist};
use crate::complete::{CqState, ONE};
use crate::config::Config;
use crate::mem::RingMemory;
use crate::op::{self, Mode, Step};
use crate::pbuf::Pbufs;
use crate::reactor::Reactor;
use crate::req::Req;
use crate::rings::{Completion, Rings};
use crate::rsrc::{BufTable, DeadTags, FileTable};
use crate::timer::Timers;
use crate::wq::{Class, Wq};

/// The `IOSQE_*` flags the kernel accepts (`SQE_VALID_FLAGS`).
const SQE_VALID_FLAGS: u8 = sys::IOSQE_FIXED_FILE
    | sys::IOSQE_IO_DRAIN
    | sys::IOSQE_IO_LINK
    | sys::IOSQE_IO_HARDLINK
    | sys::IOSQE_ASYNC
    | sys::IOSQE_BUFFER_SELECT
    | sys::IOSQE_CQE_SKIP_SUCCESS;

/// Bumped in every child of `fork(2)` (a `pthread_atfork` handler): an engine whose
/// generation differs was set up by an ancestor, whose threads the child lacks.
static FORK_GENERATION: AtomicUsize = AtomicUsize::new(0);

extern "C" fn forked_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The current fork generation, the handler installed on first use.
fn fork_generation() -> usize {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic (async-signal-safe,
        // as a child handler of a multithreaded fork must be).
        unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

thread_local! {
    /// Set while this thread is inside `enter` of some engine ring: completions it
    /// makes are the submitter's own (what `DEFER_TASKRUN` and the async eventfd care
    /// about).
    pub(crate) static IN_ENTER: Cell<bool> = const { Cell::new(false) };
}

/// CQEs kept for the end of a submission's issue, each with whether it counts for
/// count timeouts.
type KeptCqes = Vec<(Completion, bool)>;

thread_local! {
    /// While this thread issues a submission: its engine, and the vector (in the
    /// engine's [`SubmitState`], under the submit lock this thread holds) where the CQEs
    /// of the completions it makes wait for the end of the issue (the kernel's
    /// `io_submit_flush_completions`): one completion lock and one wake-up per
    /// submission instead of one per request. Null pointers otherwise.
    ///
    /// Set and cleared by [`InlineBatch`] only, which holds the vector's `&mut` borrow
    /// all the while the pointer is set: nothing but this thread, through this
    /// pointer, touches the vector meanwhile, and no reference made from it outlives
    /// the function that made it.
    static INLINE_CQES: Cell<(*const Engine, *mut KeptCqes)> =
        const { Cell::new((std::ptr::null(), std::ptr::null_mut())) };

    /// Requests of the engine this thread batches for (see [`INLINE_CQES`]) that
    /// completed while its batch was open, not yet counted out of flight: how many,
    /// and how many of them were drain heads. Counted out when the batch's CQEs are
    /// posted ([`post_kept`]): a drain counts CQEs posted, as the kernel's
    /// `req_need_defer` compares the CQ tail, so a drained request started by another
    /// thread cannot post its CQE before those kept here.
    static KEPT_RETIRES: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Whether this thread keeps the CQEs `e` posts for the end of a submission.
#[inline]
fn keeps_for(e: &Engine) -> bool {
    std::ptr::eq(INLINE_CQES.get().0, e)
}

/// Keeps `c`, a CQE `e` posts from this thread, for the end of the submission of `e`
/// this thread is issuing, if it is issuing one; else gives it back, to be posted now.
#[inline]
pub(crate) fn defer_inline(e: &Engine, c: Completion, counted: bool) -> Option<Completion> {
    let (engine, cqes) = INLINE_CQES.get();
    if !std::ptr::eq(engine, e) {
        return Some(c);
    }
    // SAFETY: set, so valid and this thread's alone to use (see INLINE_CQES); the
    // reference ends with this statement.
    unsafe { (*cqes).push((c, counted)) };
    None
}

/// Posts now the CQEs kept by [`defer_inline`] for `e`, the batch staying open: before
/// a completion starts what waited for it (the next request of a link, a drained
/// request), whose CQE, if another thread posts it, must not come first (as the
/// kernel posts a batch before it queues the links of its requests).
pub(crate) fn flush_inline(e: &Arc<Engine>) {
    let (engine, cqes) = INLINE_CQES.get();
    if std::ptr::eq(engine, &**e) {
        post_kept(e, cqes);
    }
}

/// Posts what `slot`, the vector of an open or closing [`InlineBatch`], holds and leaves
/// it empty, keeping its capacity. What posting them
/// completes (a count timeout met) may add to `slot` again meanwhile, through
/// [`defer_inline`], when the batch is open: that waits for the next flush.
///
/// Then counts out of flight the requests whose CQEs those were ([`KEPT_RETIRES`]),
/// taken before posting: a request that posting completes is counted out at the
/// next flush, with its CQE.
fn post_kept(e: &Arc<Engine>, slot: *mut KeptCqes) {
    let (done, heads) = KEPT_RETIRES.replace((0, 0));
    // SAFETY: `slot` is the batch's vector (see INLINE_CQES); each reference made from
    // it ends within its statement, before `post_all` may push through the pointer.
    let mut cqes = std::mem::take(unsafe { &mut *slot });
    if cqes.is_empty() {
        // SAFETY: as above.
        unsafe { *slot = cqes };
    } else {
        e.post_all(&mut cqes);
        // SAFETY: as above.
        let now = unsafe { &mut *slot };
        if now.is_empty() {
            // The capacity goes back: no allocation per submission.
            *now = cqes;
        }
    }
    if done > 0 {
        e.retire_now(done, heads);
    }
}

/// While alive, the CQEs this thread posts for its engine wait for its end
/// ([`defer_inline`]), which posts them.
struct InlineBatch<'a> {
    engine: &'a Arc<Engine>,
    /// The vector the CQEs wait in, borrowed for the batch's life (null: no batch).
    cqes: *mut KeptCqes,
    _borrow: std::marker::PhantomData<&'a mut KeptCqes>,
}

impl<'a> InlineBatch<'a> {
    /// Opens the batch of `e` on this thread, keeping CQEs in `cqes`, unless
    /// completions made here are not posted at once anyway (`DEFER_TASKRUN` outside
    /// `enter`: the deferred list) or this thread already batches for some engine.
    fn open(e: &'a Arc<Engine>, cqes: &'a mut KeptCqes) -> InlineBatch<'a> {
        let mut batch = InlineBatch {
            engine: e,
            cqes: std::ptr::null_mut(),
            _borrow: std::marker::PhantomData,
        };
        if (e.is(sys::IORING_SETUP_DEFER_TASKRUN) && !IN_ENTER.with(Cell::get))
            || !INLINE_CQES.get().0.is_null()
        {
            return batch;
        }
        batch.cqes = cqes;
        INLINE_CQES.set((&**e, batch.cqes));
        batch
    }
}

impl InlineBatch<'_> {
    /// Whether CQEs wait here for the end of the issue.
    fn keeps(&self) -> bool {
        !self.cqes.is_null()
    }

    /// Keeps `c` (counted for count timeouts) for the end of the issue, as
    /// [`defer_inline`] would, without looking the batch up. Only where
    /// [`keeps`](Self::keeps).
    fn keep(&self, c: Completion) {
        assert!(self.keeps(), "a CQE kept by a batch that keeps none");
        // SAFETY: set, so valid and this thread's alone to use (see INLINE_CQES); the
        // reference ends with this statement.
        unsafe { (*self.cqes).push((c, true)) };
    }
}

/// What [`Engine::quick_reads`] did.
struct QuickReads {
    /// SQEs consumed (read in full, and one dropped if `stop`).
    consumed: u32,
    /// Of them, plain reads completed.
    done: u32,
    /// Its attempt at the next SQE (not consumed), which the full path goes on from.
    tried: Option<i32>,
    /// An SQE was dropped (an index out of range): the submission ends.
    stop: bool,
}

impl Drop for InlineBatch<'_> {
    fn drop(&mut self) {
        if self.cqes.is_null() {
            return;
        }
        // Closed first: what posting these completes (a count timeout met) posts at once.
        INLINE_CQES.set((std::ptr::null(), std::ptr::null_mut()));
        post_kept(self.engine, self.cqes);
    }
}

/// Requests held back by `IOSQE_IO_DRAIN`.
#[derive(Default)]
struct DrainState {
    queue: VecDeque<Box<Req>>,
    /// Drain heads started and not yet completed.
    running: usize,
}

/// What the submit lock guards, kept from one submission to the next.
#[derive(Default)]
struct SubmitState {
    /// Empty between submissions; kept for its capacity.
    batch: Vec<Box<Req>>,
    /// Free requests for the next SQEs.
    spare: crate::req::Spare,
    /// Empty between submissions: the CQEs of its inline completions (`InlineBatch`).
    cqes: KeptCqes,
}

/// One engine ring. Shared (`Arc`) by the handle, the workers and the helper threads.
pub(crate) struct Engine {
    pub(crate) rings: Rings,
    /// `IORING_SETUP_*`.
    pub(crate) flags: u32,
    /// Most CQEs the overflow list holds ([`Config::overflow_limit`]).
    pub(crate) overflow_limit: usize,
    pub(crate) cq: Mutex<CqState>,
    pub(crate) cq_cond: Condvar,
    drain: Mutex<DrainState>,
    /// Requests issued and not yet completed (for drain).
    inflight: AtomicUsize,
    /// Whether the drain logic has anything queued or running; read after every
    /// completion (see [`Engine::retire`]).
    drain_pending: AtomicBool,
    /// A chain was drained for a member's `IOSQE_IO_DRAIN`: the request after it is
    /// drained too (the kernel's `drain_next`). Read and written under the submit lock.
    drain_next: AtomicBool,
    pub(crate) files: RwLock<FileTable>,
    pub(crate) bufs: RwLock<BufTable>,
    /// Tags of registered files and buffers that left their tables (`rsrc.rs`).
    pub(crate) dead_tags: Arc<DeadTags>,
    pub(crate) wq: Wq,
    /// Requests waiting for their fd to be ready.
    pub(crate) reactor: Reactor,
    /// Registered personalities (`creds.rs`).
    pub(crate) personalities: crate::creds::Personalities,
    /// Pending timeouts.
    pub(crate) timers: Timers,
    /// Provided buffers.
    pub(crate) pbufs: Pbufs,
    /// The thread that issues half of a large batch.
    pub(crate) assist: Assist,
    /// Reads and writes in flight through Linux AIO (`aio.rs`).
    pub(crate) aio: crate::aio::Aio,
    /// IOPOLL completions held until reaped (`iopoll.rs`).
    pub(crate) iopoll: crate::iopoll::Iopoll,
    /// Restrictions (and other registration state without a table of its own).
    pub(crate) reg: crate::register::RegState,
    /// Serialises consumers of the SQ (the kernel's `uring_lock` around submission).
    /// Holds what submissions reuse: the batch vector (no allocation per submission)
    /// and the spare requests (`req.rs`).
    submit_lock: Mutex<SubmitState>,
    /// Freed requests, reused by the next submissions (`req.rs`).
    pub(crate) reqs: crate::req::ReqCache,
    /// The engine's own descriptor of the eventfd that stands for the ring, made
    /// readable when CQEs are posted (once [`Engine::pollable`] asked for it). The
    /// application holds another ([`Engine::own_fd`]), which it may `dup` and close as
    /// it pleases, as it may a kernel ring's fd; the engine reads and writes this one.
    pub(crate) notify: OwnedFd,
    /// The application's descriptor of the same eventfd: the ring fd, as setup
    /// returns it. Closed with the engine if it still names that eventfd.
    ring_fd: i32,
    pub(crate) poll_enabled: AtomicBool,
    pub(crate) signalled: AtomicBool,
    /// False while `IORING_SETUP_R_DISABLED` holds the ring.
    pub(crate) enabled: AtomicBool,
    /// With `SINGLE_ISSUER`: the only thread allowed to submit.
    pub(crate) issuer: Mutex<Option<std::thread::ThreadId>>,
    /// The SQ poll thread, with `SQPOLL`.
    pub(crate) sqpoll: Option<crate::sqpoll::SqPoll>,
    /// Deterministic mode's scheduler (`det.rs`): `Some` means one thread, no
    /// workers or helper threads, everything run inside `enter` in seeded order.
    pub(crate) det: Option<crate::det::Det>,
    /// The fault plan's state (`fault.rs`), if the config has one.
    pub(crate) faults: Option<crate::fault::Faults>,
    /// What watches the requests (`observe.rs`), if the config has one.
    pub(crate) observer: Option<Arc<dyn crate::Observer>>,
    /// The fork generation of the process that set the ring up ([`Engine::forked`]).
    fork_generation: usize,
    /// Kept for last: the memory the rings point into.
    _mem: RingMemory,
}

impl Engine {
    pub(crate) fn new(
        mem: RingMemory,
        p: &sys::io_uring_params,
        config: Config,
    ) -> std::io::Result<Engine> {
        // SAFETY: `mem` moves into the Engine next to `rings` and is dropped after it.
        let rings = unsafe { Rings::new(&mem, p.flags) };
        // SAFETY: eventfd has no memory arguments.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The engine's own descriptor of it, above the numbers programs expect to see
        // allocated (anywhere, if the limit on open files is that low).
        // SAFETY: F_DUPFD_CLOEXEC duplicates an fd we own; no memory is passed.
        let own = match unsafe { libc::fcntl(efd, libc::F_DUPFD_CLOEXEC, 100) } {
            // SAFETY: as above.
            -1 => unsafe { libc::fcntl(efd, libc::F_DUPFD_CLOEXEC, 0) },
            fd => fd,
        };
        if own < 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: closing the fd made above, used nowhere else.
            unsafe { libc::close(efd) };
            return Err(e);
        }
        let sqpoll = if p.flags & sys::IORING_SETUP_SQPOLL != 0 {
            Some(crate::sqpoll::SqPoll::new(p))
        } else {
            None
        };
        let det = config.seed.map(crate::det::Det::new);
        if det.is_none() {
            // Workers for requests of other credentials start from there (creds.rs).
            crate::creds::start_factory();
        }
        let dead_tags = Arc::new(DeadTags::default());
        let faults = crate::fault::Faults::new(&config);
        Ok(Engine {
            rings,
            flags: p.flags,
            overflow_limit: config
                .overflow_limit
                .unwrap_or(crate::config::DEFAULT_OVERFLOW_LIMIT),
            cq: Mutex::new(CqState::default()),
            cq_cond: Condvar::new(),
            drain: Mutex::new(DrainState::default()),
            inflight: AtomicUsize::new(0),
            drain_pending: AtomicBool::new(false),
            drain_next: AtomicBool::new(false),
            files: RwLock::new(FileTable::new(dead_tags.clone())),
            bufs: RwLock::new(BufTable {
                dead: dead_tags.clone(),
                ..BufTable::default()
            }),
            dead_tags,
            wq: Wq::new(p.sq_entries),
            reactor: Reactor::default(),
            personalities: crate::creds::Personalities::default(),
            timers: Timers::default(),
            pbufs: Pbufs::default(),
            assist: Assist::default(),
            aio: Default::default(),
            iopoll: crate::iopoll::Iopoll::new(p.flags, config.seed.is_some()),
            reg: Default::default(),
            submit_lock: Mutex::default(),
            reqs: crate::req::ReqCache::new(),
            // SAFETY: a fresh fd we own.
            notify: unsafe { std::os::fd::FromRawFd::from_raw_fd(own) },
            ring_fd: efd,
            poll_enabled: AtomicBool::new(false),
            signalled: AtomicBool::new(false),
            enabled: AtomicBool::new(p.flags & sys::IORING_SETUP_R_DISABLED == 0),
            issuer: Mutex::new(
                (p.flags & sys::IORING_SETUP_SINGLE_ISSUER != 0
                    && p.flags & sys::IORING_SETUP_R_DISABLED == 0)
                    .then(|| std::thread::current().id()),
            ),
            sqpoll,
            det,
            faults,
            observer: config.observer.map(|o| o.0),
            fork_generation: fork_generation(),
            _mem: mem,
        })
    }

    /// Whether this is a child of `fork(2)` holding a copy of a ring its ancestor set
    /// up: the ring memory is shared with the parent, whose engine runs the ring, and
    /// none of the engine's threads exist here.
    #[inline]
    pub(crate) fn forked(&self) -> bool {
        FORK_GENERATION.load(Ordering::Relaxed) != self.fork_generation
    }

    #[inline]
    pub(crate) fn is(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub(crate) fn memory(&self) -> &RingMemory {
        &self._mem
    }

    // ---- Submission ----

    /// Consumes up to `to_submit` SQEs (`io_submit_sqes`). Returns how many were
    /// consumed, counting one that failed to prepare (its CQE carries the error).
    pub(crate) fn submit(self: &Arc<Self>, to_submit: u32) -> u32 {
        let mut held = self.submit_lock.lock().expect("submit lock");
        let SubmitState { batch, spare, cqes } = &mut *held;
        // Pages of application memory found readable stay so until this returns.
        let _probes = crate::user::Submission::begin();
        let head = self.rings.sq_head();
        let avail = self
            .rings
            .sq_tail()
            .wrapping_sub(head)
            .min(self.rings.sq_entries);
        let n = to_submit.min(avail);
        let mut chain: Vec<Box<Req>> = Vec::new();
        // Queued requests not yet counted in flight (see `queue`).
        let mut uncounted = 0;
        // Opened before the SQEs are read: what completes in `quick_reads` is posted
        // when the issue ends, after the SQ head moved.
        let kept = InlineBatch::open(self, cqes);
        let quick = self.quick_reads(&kept, head, n, spare);
        let mut consumed = quick.consumed;
        let mut submitted = quick.done;
        if quick.done > 0 {
            // Their CQEs are kept: in flight (for a drain later in the submission)
            // until they are posted.
            uncounted += quick.done as usize;
            let (done, heads) = KEPT_RETIRES.get();
            KEPT_RETIRES.set((done + quick.done as usize, heads));
        }
        let n = if quick.stop { consumed } else { n };
        // The shortcut's attempt at the SQE it stopped at, the next one.
        let mut tried = quick.tried;
        while consumed < n {
            let mut req = self.reqs.take(spare);
            let ok = self
                .rings
                .sqe(head.wrapping_add(consumed), &mut req.sqe, &mut req.ext);
            consumed += 1;
            if !ok {
                // Dropped (an index out of range): consumed, not submitted; stop.
                self.reqs.put(req);
                break;
            }
            submitted += 1;
            if let Some(d) = &self.det {
                // Deterministic mode: the request's place in the seeded order (det.rs).
                req.key = d.key();
            }
            let prepared = self.prepare(&mut req).and_then(|()| {
                // A LINK_TIMEOUT must follow a request linked to it (timeout.rs).
                op::timeout::check_position(&req, chain.last().map(|r| &**r))
            });
            if let Some(ret) = tried.take()
                && prepared.is_ok()
            {
                op::rw::set_tried(&mut req, ret);
            }
            if prepared.is_ok()
                && let Some(f) = &self.faults
            {
                // Fault injection: decided here, in SQ order (fault.rs).
                f.decide(&mut req);
            }
            if let Some(o) = &self.observer {
                o.submitted(&crate::OpInfo::of(&req), prepared.err().unwrap_or(0));
            }
            let in_chain = !chain.is_empty();
            let links = req.links_next();
            if prepared.is_ok() {
                self.drain_member(&mut req, &mut chain);
            }
            if let Err(err) = prepared {
                // `io_submit_fail_init`: fail the request; in a chain, fail the head
                // too and keep assembling; at the end of a chain, queue it failed.
                req.failed = Some(err);
                if in_chain || links {
                    if let Some(h) = chain.first_mut() {
                        h.failed.get_or_insert(-libc::ECANCELED);
                    }
                    chain.push(req);
                    if links {
                        continue;
                    }
                    self.queue(link_up(std::mem::take(&mut chain)), batch, &mut uncounted);
                } else {
                    self.queue(req, batch, &mut uncounted);
                }
                if !self.is(sys::IORING_SETUP_SUBMIT_ALL) {
                    break;
                }
                continue;
            }
            if in_chain || links {
                chain.push(req);
                if !links {
                    self.queue(link_up(std::mem::take(&mut chain)), batch, &mut uncounted);
                }
            } else {
                self.queue(req, batch, &mut uncounted);
            }
        }
        if !chain.is_empty() {
            // A chain left open at the end of the batch is submitted as it is.
            self.queue(link_up(chain), batch, &mut uncounted);
        }
        // Counted in flight before any starts: a completion counts itself out.
        self.count_in_flight(&mut uncounted);
        // The SQEs are copied out: give the slots back before anything completes, so
        // an application that sees a CQE also sees its SQE consumed (with SQPOLL, a
        // CQE reaped before the head moved made the next submit count the old SQE
        // and the SQ look full).
        self.rings.set_sq_head(head.wrapping_add(consumed));
        self.dispatch(batch, quick.done as usize);
        drop(kept);
        submitted
    }

    /// `IOSQE_IO_DRAIN` on a member of a chain drains the chain (its head) and the
    /// request after the chain (`io_init_drain`); `chain` is the chain `req` joins.
    /// Under the submit lock.
    fn drain_member(&self, req: &mut Req, chain: &mut [Box<Req>]) {
        if let Some(head) = chain.first_mut() {
            if req.has(sys::IOSQE_IO_DRAIN) {
                // The kernel's REQ_F_IO_DRAIN on the head: the SQE's copy carries it.
                head.sqe.flags |= sys::IOSQE_IO_DRAIN;
                self.drain_next.store(true, Ordering::Relaxed);
            }
        } else if self.drain_next.load(Ordering::Relaxed) {
            // (A load first: no locked exchange per request.)
            self.drain_next.store(false, Ordering::Relaxed);
            req.sqe.flags |= sys::IOSQE_IO_DRAIN;
        }
    }

    /// The submission's shortcut for plain reads (`op::rw::quick`), run on the SQEs at
    /// the head of the SQ while they are plain reads read in full: their CQEs are kept
    /// in `kept`, and no request is prepared for them. All of them, or half of a batch
    /// big enough to share with the assisting thread while it can run (`dispatch` gives
    /// it the rest). Not while a drain holds requests back (those after it wait too),
    /// nor where the ring wants to see each request
    /// ([`quick_allowed`](Self::quick_allowed)). Apart from the submission loop, so that
    /// the loop's code stays as it was for the other requests.
    #[inline(never)]
    fn quick_reads(
        &self,
        kept: &InlineBatch<'_>,
        head: u32,
        n: u32,
        spare: &mut crate::req::Spare,
    ) -> QuickReads {
        let mut out = QuickReads {
            consumed: 0,
            done: 0,
            tried: None,
            stop: false,
        };
        if !self.quick_allowed(kept)
            || self.drain_next.load(Ordering::Relaxed)
            || self.drain_pending.load(Ordering::SeqCst)
        {
            return out;
        }
        let limit = if n as usize >= 2 * assist::MIN_BATCH
            && self.assist_allowed()
            && self.assist.ready()
        {
            n / 2
        } else {
            n
        };
        // One request, for its SQE copy: none is prepared.
        let mut req = self.reqs.take(spare);
        // The fd last found not `O_DIRECT` in this submission.
        let mut buffered_fd = -1;
        while out.consumed < limit {
            if !self
                .rings
                .sqe(head.wrapping_add(out.consumed), &mut req.sqe, &mut req.ext)
            {
                // Dropped (an index out of range, counted): consumed, and the
                // submission stops there.
                out.consumed += 1;
                out.stop = true;
                break;
            }
            match op::rw::quick(self, &req.sqe, &mut buffered_fd) {
                op::rw::Quick::Done(res) => {
                    kept.keep(Completion {
                        user_data: req.sqe.user_data,
                        res,
                        flags: 0,
                        big: [0; 2],
                    });
                    out.consumed += 1;
                    out.done += 1;
                }
                op::rw::Quick::Tried(ret) => {
                    out.tried = Some(ret);
                    break;
                }
                op::rw::Quick::No => break,
            }
        }
        self.reqs.put(req);
        out
    }

    /// Whether the submission may complete plain reads itself
    /// ([`quick_reads`](Self::quick_reads)): their CQEs wait for the end of the issue in
    /// `kept`, and nothing of the ring's wants to see each request (deterministic order,
    /// injected faults, an observer, restrictions, IOPOLL's polled completions).
    fn quick_allowed(&self, kept: &InlineBatch<'_>) -> bool {
        kept.keeps()
            && self.det.is_none()
            && self.faults.is_none()
            && self.observer.is_none()
            && self.reg.active().is_none()
            && !self.is(sys::IORING_SETUP_IOPOLL)
    }
    /// Starts what a submission made ready: half of it on the assisting thread when
    /// it is a batch of copying requests and there is a second CPU (see `assist.rs`).
    /// `done_here`: requests of the submission completed by
    /// [`quick_reads`](Self::quick_reads), counted in the submitting thread's half.
    fn dispatch(self: &Arc<Self>, batch: &mut Vec<Box<Req>>, done_here: usize) {
        if batch.len() >= assist::MIN_BATCH
            && self.assist_allowed()
            && batch
                .iter()
                .filter(|r| {
                    op::def(r.opcode()).is_some_and(|d| d.copies)
                        && !self.aio.known_direct(r.sqe.fd)
                })
                .count()
                >= assist::MIN_BATCH
        {
            let half = ((batch.len() + done_here) / 2).saturating_sub(done_here);
            self.assist.give(self, batch, half);
        }
        let _aio = self.aio.batch(self);
        for r in batch.drain(..) {
            self.start(r, Mode::Inline);
        }
    }

    /// Whether a second thread may issue inline work: there is a second CPU, and the
    /// ring is not in deterministic mode (one thread).
    fn assist_allowed(&self) -> bool {
        use std::sync::OnceLock;
        static CPUS: OnceLock<usize> = OnceLock::new();
        self.det.is_none()
            && *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
    }

    /// Issues requests on behalf of the submitter, from the assisting thread.
    pub(crate) fn issue_batch_as_submitter(self: &Arc<Self>, batch: &mut Vec<Box<Req>>) {
        let _in = EnterGuard::new();
        let _aio = self.aio.batch(self);
        for r in batch.drain(..) {
            self.start(r, Mode::Inline);
        }
    }

    /// Waits until no submission is in progress: what a submission took from the SQ
    /// is then issued or parked where cancellation finds it (the kernel's register
    /// calls take the `uring_lock` its submission holds).
    pub(crate) fn quiesce_submission(&self) {
        drop(self.submit_lock.lock().expect("submit lock"));
    }

    /// The checks of `io_init_req` and the op's prep. Inline: the submission loop runs
    /// it for every SQE.
    #[inline]
    pub(crate) fn prepare(&self, req: &mut Req) -> Result<(), i32> {
        let Some(def) = op::def(req.opcode()) else {
            return Err(-libc::EINVAL);
        };
        let f = req.sqe.flags;
        if f & !SQE_VALID_FLAGS != 0 {
            return Err(-libc::EINVAL);
        }
        if f & sys::IOSQE_BUFFER_SELECT != 0 && !def.buffer_select {
            return Err(-libc::EOPNOTSUPP);
        }
        if let Some(r) = self.reg.active()
            && !r.allows_sqe(req.opcode(), f)
        {
            return Err(-libc::EACCES);
        }
        if !def.ioprio && req.sqe.ioprio != 0 {
            return Err(-libc::EINVAL);
        }
        if !def.iopoll && self.is(sys::IORING_SETUP_IOPOLL) {
            return Err(-libc::EINVAL);
        }
        if req.sqe.personality != 0 {
            // Runs with the personality's credentials, in a worker (creds.rs).
            req.creds = Some(self.personalities.get(req.sqe.personality)?);
        }
        (def.prep)(req, self)
    }

    /// Queues a request (with its chain) for issue, subject to drain: into `batch`,
    /// started once the submission is read, or held back.
    ///
    /// A request queued without drain is counted in flight in `uncounted`, which the
    /// submission adds to `inflight` in one go before it starts anything (one atomic
    /// per submission, not per request); the drain logic, which reads `inflight`, gets
    /// the count first.
    #[inline]
    fn queue(self: &Arc<Self>, req: Box<Req>, batch: &mut Vec<Box<Req>>, uncounted: &mut usize) {
        let req = if req.has(sys::IOSQE_IO_DRAIN) || self.drain_pending.load(Ordering::SeqCst) {
            self.count_in_flight(uncounted);
            match self.defer(req) {
                Some(r) => r,
                None => return,
            }
        } else {
            *uncounted += chain_len(&req);
            req
        };
        batch.push(req);
    }

    /// Adds the requests a submission queued to those in flight (see `queue`).
    #[inline]
    fn count_in_flight(&self, uncounted: &mut usize) {
        if *uncounted > 0 {
            self.inflight
                .fetch_add(std::mem::take(uncounted), Ordering::SeqCst);
        }
    }

    /// Starts a queued chain: issues its head, or fails it whole if preparation failed.
    #[inline]
    fn start(self: &Arc<Self>, req: Box<Req>, mode: Mode) {
        if let Some(d) = &self.det {
            // Deterministic mode: started when its key comes up (det.rs).
            return d.start(req);
        }
        self.start_now(req, mode);
    }

    /// [`start`](Self::start), now.
    #[inline]
    pub(crate) fn start_now(self: &Arc<Self>, req: Box<Req>, mode: Mode) {
        if req.failed.is_some() {
            self.fail_chain(req);
        } else {
            self.issue(req, mode);
        }
    }

    // ---- Drain ----

    /// Holds `req` back if drain requires (returning `None`), or returns it to start
    /// now, counted in flight.
    fn defer(&self, mut req: Box<Req>) -> Option<Box<Req>> {
        let mut d = self.drain.lock().expect("drain");
        // Set before reading `inflight`, paired with `retire`'s decrement-then-read:
        // either we see the last completion, or it sees this flag and re-checks.
        self.drain_pending.store(true, Ordering::SeqCst);
        let count = chain_len(&req);
        if d.queue.is_empty() && d.running == 0 {
            if !req.has(sys::IOSQE_IO_DRAIN) {
                self.drain_pending.store(false, Ordering::SeqCst);
                self.inflight.fetch_add(count, Ordering::SeqCst);
                return Some(req);
            }
            if self.inflight.load(Ordering::SeqCst) == 0 {
                d.running += 1;
                req.drain_head = true;
                self.inflight.fetch_add(count, Ordering::SeqCst);
                return Some(req);
            }
        }
        d.queue.push_back(req);
        None
    }

    /// A request completed: counts it out of flight and lets drained requests go.
    #[inline]
    ///
    /// Made while this thread's submission keeps CQEs (`InlineBatch`), the count waits
    /// until they are posted ([`KEPT_RETIRES`]).
    pub(crate) fn retire(self: &Arc<Self>, drain_head: bool) {
        if keeps_for(self) {
            let (done, heads) = KEPT_RETIRES.get();
            KEPT_RETIRES.set((done + 1, heads + usize::from(drain_head)));
            return;
        }
        self.retire_now(1, usize::from(drain_head));
    }

    /// Counts `done` completed requests, `heads` of them drain heads, out of flight.
    #[inline]
    fn retire_now(self: &Arc<Self>, done: usize, heads: usize) {
        self.inflight.fetch_sub(done, Ordering::SeqCst);
        if heads > 0 || self.drain_pending.load(Ordering::SeqCst) {
            self.retire_drained(heads);
        }
    }

    /// [`retire`](Self::retire) with drained requests waiting or running.
    #[cold]
    fn retire_drained(self: &Arc<Self>, heads: usize) {
        let mut ready = Vec::new();
        {
            let mut d = self.drain.lock().expect("drain");
            d.running -= heads;
            while let Some(front) = d.queue.front() {
                if front.has(sys::IOSQE_IO_DRAIN) {
                    if d.running > 0 || self.inflight.load(Ordering::SeqCst) != 0 {
                        break;
                    }
                    let mut r = d.queue.pop_front().expect("front");
                    r.drain_head = true;
                    d.running += 1;
                    self.inflight.fetch_add(chain_len(&r), Ordering::SeqCst);
                    ready.push(r);
                    break;
                }
                if d.running > 0 {
                    break;
                }
                let r = d.queue.pop_front().expect("front");
                self.inflight.fetch_add(chain_len(&r), Ordering::SeqCst);
                ready.push(r);
            }
            if d.queue.is_empty() && d.running == 0 {
                self.drain_pending.store(false, Ordering::SeqCst);
            }
        }
        if !ready.is_empty() {
            // The CQEs they were drained behind come first.
            flush_inline(self);
        }
        for r in ready {
            self.start(r, Mode::Inline);
        }
    }

    // ---- Issue ----

    /// Issues a request: resolves its file, then tries it inline or hands it on.
    ///
    /// A `LINK_TIMEOUT` right behind it leaves the chain for the timers, and its
    /// clock starts once this first attempt returned, whatever became of the request
    /// (`io_queue_linked_timeout`), unless the kernel would have sent the request to
    /// io-wq from the start (see `timer.rs`).
    pub(crate) fn issue(self: &Arc<Self>, mut req: Box<Req>, mode: Mode) {
        let lt = if req.ltimeout == 0
            && req
                .link
                .as_ref()
                .is_some_and(|n| n.opcode() == sys::IORING_OP_LINK_TIMEOUT)
        {
            self.timers.prepare_link(self, &mut req)
        } else {
            0
        };
        let starts = lt != 0 && crate::timer::link_timeout_starts(&req);
        self.issue_now(req, mode);
        if starts {
            self.timers.arm_link(self, lt);
        }
    }

    fn issue_now(self: &Arc<Self>, mut req: Box<Req>, mode: Mode) {
        let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
        if def.needs_file && req.file.is_none() {
            if req.has(sys::IOSQE_FIXED_FILE) {
                let file = self
                    .files
                    .read()
                    .expect("file table")
                    .get(req.sqe.fd as u32);
                match file {
                    Some(f) => req.set_file(f),
                    None => return self.complete(req, -libc::EBADF),
                }
            } else {
                req.fd = req.sqe.fd;
            }
        }
        if self.is(sys::IORING_SETUP_IOPOLL)
            && crate::iopoll::is_rw(req.opcode())
            && let Err(e) = self.iopoll_claim(&mut req)
        {
            return self.complete(req, e);
        }
        if req.fault.is_some() {
            // Fault injection (fault.rs): an error completes it here, a delay or an
            // interrupted attempt hands it on.
            match crate::fault::at_issue(self, req) {
                Some(r) => req = r,
                None => return,
            }
        }
        if mode == Mode::Inline && (req.has(sys::IOSQE_ASYNC) || req.creds.is_some()) {
            // A personality's credentials are taken on by a worker (creds.rs).
            return self.punt(req);
        }
        self.observe_issue(&req);
        self.apply((def.issue)(req, self, mode));
    }

    /// Tells the observer, if any, that `req`'s op is about to run (`observe.rs`).
    #[inline]
    pub(crate) fn observe_issue(&self, req: &Req) {
        if let Some(o) = &self.observer {
            o.issuing(&crate::OpInfo::of(req));
        }
    }

    /// Carries out what an inline issue attempt decided.
    pub(crate) fn apply(self: &Arc<Self>, step: Step) {
        match step {
            Step::Done(r, res) => self.complete(r, res),
            Step::Block(r) => self.punt(r),
            Step::Wait(r, events) => self.wait_ready(r, events),
            Step::Parked => {}
        }
    }

    /// Hands a request to the worker pool: the bounded class for regular files (and
    /// work without a file), the unbounded one for the rest.
    pub(crate) fn punt(self: &Arc<Self>, mut req: Box<Req>) {
        let class = if req.fd < 0 || req.is_regular() {
            Class::Bounded
        } else {
            Class::Unbounded
        };
        if req.creds.is_none()
            && crate::creds::matter_for(req.opcode())
            && self.det.is_none()
            && IN_ENTER.with(Cell::get)
        {
            // Leaving the submitting thread: its credentials go along (creds.rs).
            req.creds = crate::creds::capture();
        }
        self.wq.push(self, class, req);
    }

    /// Waits for the request's fd to be ready, then issues it again.
    pub(crate) fn wait_ready(self: &Arc<Self>, req: Box<Req>, events: i16) {
        let lt = req.ltimeout;
        if let Some(d) = &self.det {
            // Deterministic mode: no reactor thread; `enter` polls it (det.rs).
            d.park(req, events);
        } else {
            self.reactor.arm(self, req, events);
        }
        if lt != 0 {
            // It now waits: its LINK_TIMEOUT starts (io_arm_ltimeout; a no-op if it
            // already did, or if the request completed meanwhile; see timer.rs). Only
            // once the request is parked, where the timeout firing finds it: armed
            // before, a short timeout fired with nothing to cancel (-ENOENT) and left
            // the request waiting.
            self.timers.arm_link(self, lt);
        }
    }

    /// Takes out every request parked anywhere (queued for a worker, waiting for
    /// readiness, a pending timeout, held back by drain) that matches `pred`: all of
    /// them, or only the first. The caller completes them (cancellation).
    pub(crate) fn take_parked(
        &self,
        pred: &mut dyn FnMut(&Req) -> bool,
        all: bool,
    ) -> Vec<Box<Req>> {
        let mut out = self.wq.take_queued(&mut *pred, all);
        if !all && !out.is_empty() {
            return out;
        }
        out.extend(self.reactor.take_matching(pred, all));
        if !all && !out.is_empty() {
            return out;
        }
        out.extend(self.timers.take_matching(pred, all));
        if let Some(d) = &self.det
            && (all || out.is_empty())
        {
            // Deterministic mode keeps its queued and parked requests itself.
            out.extend(d.take_matching(pred, all));
        }
        out
    }

    /// Runs a request on a worker thread: may block.
    pub(crate) fn run_in_worker(self: &Arc<Self>, mut req: Box<Req>) {
        let def = op::def(req.opcode()).expect("prepared opcodes have an entry");
        if req.fault.is_some() && crate::fault::in_worker(self, &mut req) {
            // An injected delay, cancelled while it slept (fault.rs).
            return self.complete(req, -libc::ECANCELED);
        }
        if def.pollable
            && req.has(sys::IOSQE_ASYNC)
            && req.wait_events.is_none()
            && !req.is_regular()
        {
            // Sent here by IOSQE_ASYNC: a file that can be polled is tried without
            // blocking, and then waits for readiness, where a cancellation finds it as
            // a poll (io_wq_submit_work's needs_poll); the worker does not block. The
            // attempt may hand it over (to wait, or, a poll or timeout, to park): all
            // of it in view of cancellation as a handover (wq.rs).
            let Some(handover) = self.wq.begin_handover() else {
                return self.complete(req, -libc::ECANCELED);
            };
            match (def.issue)(req, self, Mode::Inline) {
                Step::Block(r) => {
                    handover.resume();
                    req = r;
                }
                step => {
                    self.apply(step);
                    drop(handover);
                    return;
                }
            }
        }
        loop {
            if let Some(events) = req.wait_events.take() {
                // Waiting for readiness first.
                let mut pfd = libc::pollfd {
                    fd: req.fd,
                    events,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                let r = unsafe { libc::poll(&mut pfd, 1, -1) };
                if r < 0 && self.wq.cancelled(&req) {
                    return self.complete(req, -libc::ECANCELED);
                }
            }
            if self.wq.cancelled(&req) {
                return self.complete(req, -libc::ECANCELED);
            }
            self.observe_issue(&req);
            match (def.issue)(req, self, Mode::Worker) {
                Step::Done(r, res) => return self.complete(r, res),
                Step::Block(r) => req = r,
                // Readiness is the reactor's; one that epoll refuses comes back here
                // marked for the poll(2) above. Moved there as a handover (wq.rs): a
                // cancellation (or LINK_TIMEOUT) that flagged this worker before gets
                // it completed here; one that comes during waits, then finds it there.
                Step::Wait(r, events) => {
                    let Some(handover) = self.wq.begin_handover() else {
                        return self.complete(r, -libc::ECANCELED);
                    };
                    self.wait_ready(r, events);
                    drop(handover);
                    return;
                }
                Step::Parked => return,
            }
        }
    }

    // ---- The ring fd ----

    /// The ring fd (the pollable fd) as setup returned it, which `IORING_OP_CLOSE` must
    /// not close, as the kernel refuses to close an io_uring fd.
    pub(crate) fn own_fd(&self) -> i32 {
        self.ring_fd
    }

    /// Whether `fd` names this ring: the ring fd, or a duplicate of it (`kcmp(2)`
    /// against the engine's own descriptor, which the application cannot close).
    /// Leaves `errno` as it found it (a C caller's wrappers promise that).
    pub(crate) fn is_ring_file(&self, fd: i32) -> bool {
        if fd < 0 || fd == self.ring_fd {
            return fd >= 0;
        }
        // SAFETY: __errno_location is the calling thread's errno, always valid.
        let saved = unsafe { *libc::__errno_location() };
        let same = crate::op::cancel::same_file(fd, self.notify.as_raw_fd());
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = saved };
        same
    }

    /// The fd that stands for the ring in poll/epoll: readable when CQEs were posted
    /// since the last time the application found the CQ empty in `enter`.
    pub(crate) fn pollable(&self) -> i32 {
        self.poll_enabled.store(true, Ordering::SeqCst);
        if self.ready() > 0 && !self.signalled.swap(true, Ordering::SeqCst) {
            // SAFETY: writing a u64 to our own eventfd.
            unsafe { libc::write(self.notify.as_raw_fd(), (&raw const ONE).cast(), 8) };
        }
        self.ring_fd
    }

    /// Re-arms the pollable fd when the application has emptied the CQ. Direct
    /// completions signal it too, uncounted by `signalled` (aio.rs): once they have,
    /// it is cleared whenever the CQ is empty.
    pub(crate) fn reset_pollable(&self) {
        if !self.poll_enabled.load(Ordering::Relaxed)
            || !(self.signalled.load(Ordering::Relaxed) || self.aio.signals_ring())
        {
            return;
        }
        if self.ready() == 0 {
            self.signalled.store(false, Ordering::SeqCst);
            let mut v = 0u64;
            // SAFETY: reading 8 bytes into a valid u64 from our non-blocking eventfd.
            unsafe { libc::read(self.notify.as_raw_fd(), (&raw mut v).cast(), 8) };
            // A post racing with the reset: it saw `signalled` still set and did not
            // write, so write for it. Likewise a direct completion that signalled the
            // fd before the read, waiting in the AIO ring (aio.rs).
            if (self.ready() > 0 || self.aio.events_waiting())
                && !self.signalled.swap(true, Ordering::SeqCst)
            {
                // SAFETY: as above.
                unsafe { libc::write(self.notify.as_raw_fd(), (&raw const ONE).cast(), 8) };
            }
        }
    }

    // ---- enter ----

    /// `io_uring_enter(2)`.
    ///
    /// # Safety
    /// None for `arg` (read as `copy_from_user` reads, see `wait_args`); the SQEs'
    /// memory as the public `enter` says.
    pub(crate) unsafe fn enter(
        self: &Arc<Self>,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const libc::c_void,
        argsz: usize,
    ) -> Result<u32, i32> {
        const VALID: u32 = sys::IORING_ENTER_GETEVENTS
            | sys::IORING_ENTER_SQ_WAKEUP
            | sys::IORING_ENTER_SQ_WAIT
            | sys::IORING_ENTER_EXT_ARG
            | sys::IORING_ENTER_REGISTERED_RING
            | sys::IORING_ENTER_ABS_TIMER
            | sys::IORING_ENTER_NO_IOWAIT;
        if flags & !VALID != 0 {
            return Err(-libc::EINVAL);
        }
        if !self.enabled.load(Ordering::Acquire) {
            return Err(-libc::EBADFD);
        }
        if self.forked() {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.enter_forked(to_submit, min_complete, flags, arg, argsz) };
        }
        // SAFETY: the caller's contract, passed on.
        let (timeout, min_wait) = unsafe { wait_args(flags, arg, argsz) }?;
        if self.is(sys::IORING_SETUP_SINGLE_ISSUER) {
            let me = std::thread::current().id();
            let mut issuer = self.issuer.lock().expect("issuer");
            match *issuer {
                Some(t) if t != me => return Err(-libc::EEXIST),
                Some(_) => {}
                None => *issuer = Some(me),
            }
        }
        let start = Instant::now();
        let _in = EnterGuard::new();
        let mut submitted = 0;
        if let Some(sqp) = &self.sqpoll {
            if flags & sys::IORING_ENTER_SQ_WAKEUP != 0 {
                sqp.wake();
            }
            if flags & sys::IORING_ENTER_SQ_WAIT != 0 {
                sqp.wait_for_space(self);
            }
            // The kernel reports what it was asked to submit: the thread does it.
            submitted = to_submit;
        } else if to_submit > 0 {
            submitted = self.submit(to_submit);
            if submitted != to_submit {
                if let Some(d) = &self.det {
                    d.run(self);
                }
                // The kernel returns without waiting when it could not submit all.
                return Ok(submitted);
            }
        }
        if let Some(d) = &self.det {
            // Deterministic mode: all the work happens here, on the caller's thread,
            // in the seeded order (det.rs).
            d.run(self);
        }
        if flags & sys::IORING_ENTER_GETEVENTS != 0 {
            if self.det.is_none() {
                // Readiness that arrived is handled now, on this thread, as the
                // kernel runs pending task work here (reactor.rs).
                self.reactor.drive(self, submitted == 0);
            }
            // Completions were lost (io_cqring_wait's IO_CHECK_CQ_DROPPED_BIT): after
            // flushing what was kept, a wait that would block fails instead.
            self.flush();
            self.reactor.settle_taskrun(self);
            if self.ready() < min_complete.min(self.rings.cq_entries)
                && self.cq.lock().expect("cq").dropped
            {
                return if submitted > 0 {
                    Ok(submitted)
                } else {
                    Err(-libc::EBADR)
                };
            }
            // A deadline past what an Instant holds (a valid timespec can be 292
            // years away) is no deadline: the kernel saturates to KTIME_MAX and waits.
            let deadline = timeout.and_then(|ts| {
                let d = Duration::from_nanos(crate::timer::ts_ns(&ts));
                if flags & sys::IORING_ENTER_ABS_TIMER != 0 {
                    crate::wait::abs_to_instant(d, self.timers.ring_clock())
                } else {
                    start.checked_add(d)
                }
            });
            let min_until = min_wait.and_then(|m| start.checked_add(m));
            let want = min_complete.min(self.rings.cq_entries);
            let waited = match &self.det {
                Some(d) => d.wait(self, want, deadline, min_until),
                // IOPOLL: reap the polled requests, wait for nothing else.
                None if self.iopoll.reaps_in_enter() => self.iopoll_check(want, deadline),
                None => self.wait(want, deadline, min_until),
            };
            if let Err(e) = waited {
                return if submitted > 0 { Ok(submitted) } else { Err(e) };
            }
        }
        self.reset_pollable();
        Ok(submitted)
    }

    /// `enter` in a child of `fork(2)` on its copy of an ancestor's ring: the ring
    /// memory is shared (a kernel ring's is too), but what is submitted here would run
    /// in this process's copy of the engine, with none of its threads, and the parent
    /// would never see it. So submitting fails at once (`EOPNOTSUPP`) instead of
    /// hanging (but for SQPOLL, whose thread in the parent consumes the shared SQ); waiting watches the shared CQ for what the parent's engine posts, until
    /// `min_complete` CQEs are there or the timeout passes (`ETIME`).
    ///
    /// # Safety
    /// As [`enter`](Self::enter).
    unsafe fn enter_forked(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const libc::c_void,
        argsz: usize,
    ) -> Result<u32, i32> {
        if to_submit > 0 && self.sqpoll.is_none() {
            return Err(-libc::EOPNOTSUPP);
        }
        // With SQPOLL the parent's SQ thread consumes the shared SQ, as the kernel's
        // (which works with its creator's files) does for every process on the ring.
        let submitted = if self.sqpoll.is_some() { to_submit } else { 0 };
        if flags & sys::IORING_ENTER_GETEVENTS == 0 {
            return Ok(submitted);
        }
        // SAFETY: the caller's contract, passed on.
        let (timeout, _) = unsafe { wait_args(flags, arg, argsz) }?;
        let deadline = timeout.and_then(|ts| {
            Instant::now().checked_add(Duration::from_nanos(crate::timer::ts_ns(&ts)))
        });
        let want = min_complete.min(self.rings.cq_entries);
        while self.ready() < want {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(-libc::ETIME);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(submitted)
    }

    /// Stops everything that could touch the application's memory: the SQ poll
    /// thread, the workers (interrupting their blocking calls).
    pub(crate) fn shutdown(self: &Arc<Self>) {
        if let Some(s) = &self.sqpoll {
            s.stop();
        }
        if let Some(d) = &self.det {
            d.clear();
        }
        self.assist.shutdown();
        self.aio.shutdown(self);
        self.timers.shutdown();
        self.reactor.shutdown(self);
        self.wq.shutdown(self);
        self.iopoll.shutdown();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The application's ring fd, unless it closed that number itself (and it may
        // now name another file, not ours to close).
        if crate::op::cancel::same_file(self.ring_fd, self.notify.as_raw_fd()) {
            // SAFETY: the fd names the engine's eventfd (checked), which nothing else
            // closes.
            unsafe { libc::close(self.ring_fd) };
        }
    }
}

/// Marks the thread as inside `enter` for its lifetime.
pub(crate) struct EnterGuard(bool);

impl EnterGuard {
    pub(crate) fn new() -> EnterGuard {
        EnterGuard(IN_ENTER.with(|c| c.replace(true)))
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        IN_ENTER.with(|c| c.set(self.0));
    }
}

/// Builds a chain from its members in order: each owns the next.
fn link_up(chain: Vec<Box<Req>>) -> Box<Req> {
    let mut next: Option<Box<Req>> = None;
    for mut r in chain.into_iter().rev() {
        r.link = next;
        next = Some(r);
    }
    next.expect("a chain has a head")
}

/// Requests in a chain.
fn chain_len(req: &Req) -> usize {
    let mut n = 1;
    let mut r = req;
    while let Some(next) = &r.link {
        n += 1;
        r = next;
    }
    n
}

/// The wait arguments of an `enter` (`IORING_ENTER_EXT_ARG`): its timeout, checked as
/// the kernel checks it, and its minimum wait; `-EINVAL` for a malformed argument or
/// `ABS_TIMER` without one, `-EFAULT` for an argument or timespec the process cannot
/// read (both are read as `copy_from_user` reads, `user.rs`).
///
/// # Safety
/// None: `arg` may be any address.
unsafe fn wait_args(
    flags: u32,
    arg: *const libc::c_void,
    argsz: usize,
) -> Result<(Option<sys::__kernel_timespec>, Option<Duration>), i32> {
    if flags & sys::IORING_ENTER_EXT_ARG == 0 {
        if flags & sys::IORING_ENTER_ABS_TIMER != 0 {
            return Err(-libc::EINVAL);
        }
        return Ok((None, None));
    }
    if argsz != size_of::<sys::io_uring_getevents_arg>() || arg.is_null() {
        return Err(-libc::EINVAL);
    }
    // Read as the kernel's copy_from_user reads (user.rs): an address the process
    // cannot read (a C program's mistake) is -EFAULT, not a crash.
    let mut a = std::mem::MaybeUninit::<sys::io_uring_getevents_arg>::uninit();
    // SAFETY: `a` has room for `argsz` bytes (checked above); copy_from_user reads `arg`
    // only where the kernel says it can be read.
    unsafe { crate::user::copy_from_user(a.as_mut_ptr().cast(), arg as u64, argsz) }?;
    // SAFETY: every byte was copied in; any bytes are a valid value of this C struct.
    let a = unsafe { a.assume_init() };
    let mut timeout = None;
    if a.ts != 0 {
        let ts = crate::user::read::<sys::__kernel_timespec>(a.ts)?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(-libc::EINVAL);
        }
        timeout = Some(ts);
    }
    let min_wait = (a.min_wait_usec != 0).then(|| Duration::from_micros(a.min_wait_usec as u64));
    Ok((timeout, min_wait))
}
