//! io_uring implemented in user space, over the kernel's ring memory layout and
//! protocol, so the same program runs where the kernel refuses io_uring (Docker's
//! default seccomp profile, `kernel.io_uring_disabled`, WSL), and so a program can be
//! tested on a ring it controls.
//!
//! The API is shaped like the three system calls: [`EngineRing::setup`] is
//! `io_uring_setup(2)` (it fills `io_uring_params` with the ring offsets),
//! [`EngineRing::mmap`] stands for the mappings of the ring fd,
//! [`EngineRing::enter`] is `io_uring_enter(2)` and [`EngineRing::register`] is
//! `io_uring_register(2)`. The `uring` crate drives it as its `Backend::Engine`; the
//! submission and completion code there is the same for both backends.
//!
//! Inside, it mirrors the kernel: an op table with `prep` and `issue` per opcode
//! (`op`), a non-blocking attempt inline, a worker pool in the manner of io-wq
//! (`wq`), links, drain, `CQE_SKIP_SUCCESS`, an overflow list (`IORING_FEAT_NODROP`),
//! an SQ poll thread. What it cannot do in user space it refuses as the kernel
//! refuses what it does not know (`-EINVAL`), and its probe says so.
//!
//! # Layout
//! The files are named after the kernel's `io_uring/` directory, so the code for an
//! opcode or a register op is found where the kernel keeps its own:
//!
//! | engine file | kernel file (`io_uring/`) | what |
//! |---|---|---|
//! | `engine.rs` | `io_uring.c` | submission, links, drain, issue, the ring fd, `enter` |
//! | `complete.rs` | `io_uring.c` (`io_req_complete_post`, overflow) | posting CQEs, the overflow list, deferred completions, the eventfd |
//! | `wait.rs` | `wait.c` | waiting for CQEs (`io_cqring_wait`) |
//! | `rings.rs`, `mem.rs` | `io_uring.c`, `memmap.c` | the SQ/CQ protocol and the ring memory |
//! | `req.rs` | `io_uring_types.h` (`struct io_kiocb`) | one request |
//! | `register.rs` | `register.c` | `io_uring_register(2)` |
//! | `rsrc.rs` | `rsrc.c`, `filetable.c` | registered files and buffers |
//! | `pbuf.rs` | `kbuf.c` | provided buffers and buffer rings |
//! | `reactor.rs` | `poll.c` (fast poll) | waiting for an fd to be ready |
//! | `timer.rs` | `timeout.c` | pending timeouts |
//! | `wq.rs` | `io-wq.c` | the worker pool |
//! | `creds.rs` | `io_uring.c` (`req->creds`), `register.c` (personalities) | the credentials a request runs with |
//! | `sqpoll.rs` | `sqpoll.c` | the SQ poll thread |
//! | `op/mod.rs` | `opdef.c` | the op table |
//! | `op/nop.rs` | `nop.c` | `NOP` |
//! | `op/rw.rs` | `rw.c` | reads, writes, `READ_MULTISHOT` |
//! | `op/sync.rs` | `sync.c` | `FSYNC`, `SYNC_FILE_RANGE`, `FALLOCATE` |
//! | `op/openclose.rs` | `openclose.c` | `OPENAT`, `OPENAT2`, `CLOSE`, `FIXED_FD_INSTALL`, `PIPE` |
//! | `op/statx.rs` | `statx.c` | `STATX` |
//! | `op/fs.rs` | `fs.c` | `RENAMEAT`, `UNLINKAT`, `MKDIRAT`, `SYMLINKAT`, `LINKAT` |
//! | `op/xattr.rs` | `xattr.c` | the four xattr ops |
//! | `op/truncate.rs` | `truncate.c` | `FTRUNCATE` |
//! | `op/advise.rs` | `advise.c` | `FADVISE`, `MADVISE` |
//! | `op/kbuf.rs` | `kbuf.c` | `PROVIDE_BUFFERS`, `REMOVE_BUFFERS` |
//! | `op/rsrc.rs` | `rsrc.c` | `FILES_UPDATE` |
//! | `op/net.rs` | `net.c` | sockets, send, receive |
//! | `op/poll.rs` | `poll.c` | `POLL_ADD`, `POLL_REMOVE` |
//! | `op/epoll.rs` | `epoll.c` | `EPOLL_CTL`, `EPOLL_WAIT` |
//! | `op/splice.rs` | `splice.c` | `SPLICE`, `TEE` |
//! | `op/timeout.rs` | `timeout.c` | `TIMEOUT`, `TIMEOUT_REMOVE`, `LINK_TIMEOUT` |
//! | `op/cancel.rs` | `cancel.c` | `ASYNC_CANCEL`, `REGISTER_SYNC_CANCEL` |
//! | `op/msg_ring.rs` | `msg_ring.c` | `MSG_RING` |
//! | `op/futex.rs` | `futex.c` | `FUTEX_WAIT`, `FUTEX_WAKE`, `FUTEX_WAITV` |
//! | `op/waitid.rs` | `waitid.c` | `WAITID` |
//!
//! `iopoll.rs` holds what `rw.c`'s `io_do_iopoll` and `io_uring.c`'s `io_iopoll_check`
//! do for `IORING_SETUP_IOPOLL`: completions of polled reads and writes wait there
//! until `enter` reaps them.
//!
//! What has no kernel counterpart: `aio.rs` (O_DIRECT reads and writes through Linux
//! AIO, where the kernel hands them to the block layer itself), `assist.rs` (a second
//! thread issuing half of a large batch), `det.rs` (deterministic mode), `fault.rs` and `config.rs` (fault
//! injection), `observe.rs` (an [`Observer`] of every request, and [`DetControl`], a
//! deterministic ring's clock driven from outside, for simulators), `registry.rs` (finding an engine ring by fd), `user.rs` (the engine's
//! `copy_from_user`).
//!
//! # Differences from the kernel
//! The kernel is the oracle: the differential tests (`tests/*_diff.rs`) run each body
//! on both and compare. What still differs, on purpose or because user space cannot do
//! it, is listed here; the details of one op are in its file's docs (`op/net.rs`,
//! `op/cancel.rs`, `op/fs.rs`, `op/openclose.rs`, `reactor.rs`, `det.rs`).
//!
//! - **What user space cannot do is refused** as a kernel without it refuses it:
//!   `URING_CMD` passthrough and zero-copy receive (`-EINVAL`, absent from the probe,
//!   see [`op_support`]), NAPI, ring resizing and memory regions
//!   ([`register_op_support`]); the features it does not report say why
//!   ([`feature_support`]).
//! - **Credentials** (`creds.rs`): a request runs with the submitting thread's
//!   credentials, inline or in a worker, or with its registered personality's, as
//!   `IORING_FEAT_CUR_PERSONALITY` promises, for the user and group ids, file-system
//!   ids, supplementary groups and effective capabilities (not the bounding set,
//!   securebits or LSM labels). Where the engine's threads cannot take them on (a
//!   personality more privileged than the process has become) the request fails with
//!   `-EPERM`; a deterministic ring refuses personalities (`-EINVAL`). Requests the
//!   reactor thread issues again after readiness (sockets, pipes), the assisting
//!   thread's half of a large batch and the SQPOLL thread's run with the process's
//!   credentials (the kernel's SQ thread uses the ring creator's, from setup). A
//!   process that changes its credentials with glibc's `setuid` family while a
//!   worker wears less privileged ones can be aborted by glibc (that worker cannot
//!   follow the change).
//! - **The ring fd is an eventfd**, not an io_uring file. A program that makes the
//!   system calls itself on it (`syscall(__NR_io_uring_enter, ring_fd, …)`, as
//!   liburing's tests `timeout`, `ring-leak2`, `empty-eownerdead`, `accept-reuse` and
//!   `rsrc_tags` do through their own `syscall.h`) reaches the kernel, which answers
//!   `EOPNOTSUPP` or `EBADF`: only calls through a library (the `uring` crate, the
//!   `uring-ffi` drop-in) reach the engine. A `dup` of the ring fd works through the
//!   drop-in (found with `kcmp(2)`, where seccomp allows it).
//! - **A ring does not cross `fork`.** The ring memory is shared with a child, as a
//!   kernel ring's mapping is, and the child can wait for and reap the CQEs the
//!   parent's engine posts; but the engine's threads live in the parent, which would
//!   never see what the child submits, so a submission (or a register call) from the
//!   child fails at once with `EOPNOTSUPP` (`Engine::enter_forked`; with SQPOLL the
//!   parent's SQ thread takes the child's SQEs). liburing's `across-fork` (parent and
//!   child submit on one ring) and `io-cancel` (a child cancels the parent's request;
//!   the parent reaps the child's requests, cancelled when it exits) fail, quickly.
//! - **IOPOLL** follows the kernel's rules (`iopoll.rs`): which files can be polled is
//!   decided from the file system type (ext4, XFS, btrfs) and the device's
//!   `queue/io_poll`, and the completions come from Linux AIO, held until `enter`
//!   reaps them; no device is polled.
//! - **A `RECVMSG` stores back** into the application's `msghdr` only the fields that
//!   changed since preparation (the kernel stores them all, from the receiving task;
//!   the engine's threads store at any moment, and a `msghdr` that went out of scope
//!   after the submit would have a live stack frame overwritten).
//! - **A request blocked in a worker** (a regular file read, say) is interrupted by a
//!   signal when cancelled and completes with `-ECANCELED`, or `-EINTR` if its system
//!   call returned first; a pollable one sent to a worker with `IOSQE_ASYNC` waits for
//!   readiness as a poll, as in the kernel. A cancel that finds such a request running
//!   in its worker (`-EALREADY`) always ends it, wherever the worker moves it next; the
//!   kernel (6.18) may let its worker arm the poll after the cancel looked there, and
//!   the request then waits on (0 to 16 times in 6,000 `IOSQE_ASYNC` pipe reads each
//!   cancelled at once: `tests/time_cancel_diff.rs`).
//! - **A `LINK_TIMEOUT` cancels the request it guards**, found by the timeout's own
//!   id; the kernel looks for it by its `user_data` (`io_req_task_link_timeout`), so
//!   where two requests share one in io-wq it may interrupt the other
//!   (`tests/faults.rs`, `link_timeout_interrupts_its_own_read_not_another_of_its_user_data`).
//! - **Counts and timing**: `ASYNC_CANCEL` with `_ALL`/`_ANY` counts every request it
//!   cancelled (the kernel counts pending io-wq work of one pass once). Readiness is handled by
//!   the reactor thread, or by the program's own thread when it enters to reap, not
//!   in the task that made the fd ready: what a program's own send made ready has
//!   posted its CQEs once it enters (or peeks an empty CQ: the ring shows
//!   `IORING_SQ_TASKRUN` while requests wait for readiness), not already when `send`
//!   returns; a program that sleeps and then reads the CQ without entering sees them
//!   when the reactor thread got to them.
//!
//! liburing's own suite (`liburing-2.3`) on the engine through the drop-in, the command
//! and the figures: `BENCHMARKS.md`, "liburing's own test suite on the engine".
//!
//! # Deterministic replay
//! [`Config::deterministic`] (or `URING_ENGINE_SEED=N`, or `=random` to have a seed
//! picked and printed) runs a ring on one thread: no workers, no helper threads,
//! everything inside `io_uring_enter`, independent requests completing in an order a
//! seeded generator picks among those io_uring allows (links, drains, multishot order
//! and `CQE_SKIP_SUCCESS` kept), timers on a virtual clock that jumps when nothing
//! else can run. The same seed gives the same CQEs in the same order with the same
//! results; other seeds explore other orders, which is how a program that relies on
//! an order io_uring does not promise gets caught. `IORING_SETUP_SQPOLL` is refused
//! (`EINVAL`) in this mode. Details: `det.rs`.
//!
//! # Testing a program with faults
//! A [`FaultPlan`] (or `URING_ENGINE_FAULTS`, in the text form [`FaultPlan::parse`]
//! documents) makes chosen requests fail with an errno, transfer fewer bytes than asked
//! (a short write really writes fewer bytes), be interrupted and restarted, or be
//! delayed: by index among the requests of the opcodes a rule names, or at a rate
//! drawn from a seeded generator. Faults are decided in SQ order, so a plan and a seed
//! give the same faults to the same requests on every run, threaded or deterministic;
//! [`FaultPlan::counts`] and [`FaultPlan::injected`] tell a test what was injected.
//!
//! The classic case: a write-ahead log appends records with a `WRITE` linked to an
//! `FSYNC`. What does it do when the fsync fails? It must not acknowledge the
//! records, and must not retry the fsync and assume (after a failed fsync Linux may
//! have dropped the dirty pages, and the next fsync succeeds); it rewrites from its
//! own buffer. `examples/wal.rs` is such a writer and `tests/wal.rs` tests it this
//! way; in short:
//!
//! ```
//! use uring::{Backend, EngineConfig, Ring, SqeFlags, opcode, sys};
//! use uring_engine::{Fault, FaultPlan, FaultRule};
//! # if std::env::var_os("URING_BACKEND").is_some() { return Ok(()); }
//!
//! // The second FSYNC of the ring fails with EIO.
//! let plan = FaultPlan::new()
//!     .rule(FaultRule::on(&[sys::IORING_OP_FSYNC]).at(1, Fault::Error(libc::EIO)));
//! // Same as URING_ENGINE_FAULTS='ops=FSYNC,at=1:EIO'.
//! assert_eq!(plan.to_string(), "ops=FSYNC,at=1:EIO");
//! let mut ring = Ring::builder()
//!     .backend(Backend::Engine)
//!     .engine_config(EngineConfig::new().deterministic(7).faults(plan.clone()))
//!     .build(8)?;
//! let file = tempfile::tempfile()?;
//! let record = b"record";
//! let mut results = Vec::new();
//! for commit in 0..2u64 {
//!     let write = opcode::Write::new(&file, record.as_ptr(), 6)
//!         .offset(6 * commit)
//!         .build()
//!         .flags(SqeFlags::IO_LINK)
//!         .user_data(1);
//!     let fsync = opcode::Fsync::new(&file).build().user_data(2);
//!     // SAFETY: `record` is static.
//!     unsafe { ring.submission().push_multiple(&[write, fsync]) }.unwrap();
//!     ring.submit_and_wait(2)?;
//!     let mut cqes: Vec<_> = ring.completion().map(|c| (c.user_data(), c.result())).collect();
//!     cqes.sort();
//!     results.push(cqes);
//! }
//! assert_eq!(results[0], [(1, 6), (2, 0)]); // durable: acknowledge
//! assert_eq!(results[1], [(1, 6), (2, -libc::EIO)]); // written, NOT durable
//! assert_eq!(plan.counts().errors, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (Under `URING_BACKEND=kernel` the builder would run this on the kernel, where no
//! fault is injected; tests that need the engine say `backend(Backend::Engine)` and
//! leave `URING_BACKEND` unset.)
#![cfg(target_os = "linux")]
// Requests are boxed on purpose: they move between owners (submitter, workers,
// reactor, timers) and link to each other without being copied.
#![allow(clippy::vec_box)]

mod aio;
mod assist;
mod complete;
mod config;
mod creds;
mod det;
mod engine;
mod fault;
mod iopoll;
mod mem;
mod observe;
pub mod op;
mod pbuf;
mod reactor;
mod register;
mod registry;
mod req;
mod rings;
mod rsrc;
mod sqpoll;
mod timer;
mod user;
mod wait;
mod wq;

use std::ffi::c_void;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use uring_sys as sys;

pub use config::{
    Config, ConfigError, DEFAULT_OVERFLOW_LIMIT, Fault, FaultCounts, FaultPlan, FaultRule,
    Injection, Rng,
};
pub use observe::{DetControl, Observer, OpInfo};
pub use register::SUPPORTED as SUPPORTED_REGISTER_OPS;
pub use rings::Completion;

use engine::Engine;
use mem::RingMemory;

/// Every setup flag the engine honours.
pub const SETUP_FLAGS: u32 = sys::IORING_SETUP_IOPOLL
    | sys::IORING_SETUP_HYBRID_IOPOLL
    | sys::IORING_SETUP_SQPOLL
    | sys::IORING_SETUP_SQ_AFF
    | sys::IORING_SETUP_CQSIZE
    | sys::IORING_SETUP_CLAMP
    | sys::IORING_SETUP_ATTACH_WQ
    | sys::IORING_SETUP_R_DISABLED
    | sys::IORING_SETUP_SUBMIT_ALL
    | sys::IORING_SETUP_COOP_TASKRUN
    | sys::IORING_SETUP_TASKRUN_FLAG
    | sys::IORING_SETUP_SQE128
    | sys::IORING_SETUP_CQE32
    | sys::IORING_SETUP_SINGLE_ISSUER
    | sys::IORING_SETUP_DEFER_TASKRUN
    | sys::IORING_SETUP_NO_MMAP
    | sys::IORING_SETUP_REGISTERED_FD_ONLY
    | sys::IORING_SETUP_NO_SQARRAY
    | sys::IORING_SETUP_CQE_MIXED;

/// The `IORING_FEAT_*` flags the engine reports: only what it honours.
pub const FEATURES: u32 = sys::IORING_FEAT_SINGLE_MMAP
    | sys::IORING_FEAT_NODROP
    | sys::IORING_FEAT_SUBMIT_STABLE
    | sys::IORING_FEAT_CUR_PERSONALITY
    | sys::IORING_FEAT_RW_CUR_POS
    | sys::IORING_FEAT_FAST_POLL
    | sys::IORING_FEAT_POLL_32BITS
    | sys::IORING_FEAT_SQPOLL_NONFIXED
    | sys::IORING_FEAT_EXT_ARG
    | sys::IORING_FEAT_CQE_SKIP
    | sys::IORING_FEAT_LINKED_FILE
    | sys::IORING_FEAT_RSRC_TAGS
    | sys::IORING_FEAT_MIN_TIMEOUT
    | sys::IORING_FEAT_NO_IOWAIT;

/// The `IORING_FEAT_*` flags of the 6.18 uapi the engine does not report, and why.
const REFUSED_FEATURES: [(u32, &str); 4] = [
    (
        sys::IORING_FEAT_NATIVE_WORKERS,
        "the engine's workers are threads of the process shared by every submitting \
         thread, not io-wq threads of each submitting task",
    ),
    (
        sys::IORING_FEAT_REG_REG_RING,
        "io_uring_register(2) through a registered ring index is a system call on the \
         kernel's table; an engine ring is reached through its handle",
    ),
    (
        sys::IORING_FEAT_RECVSEND_BUNDLE,
        "bundles are not implemented: the engine refuses IORING_RECVSEND_BUNDLE with EINVAL",
    ),
    (
        sys::IORING_FEAT_RW_ATTR,
        "read/write attributes (integrity PI) need a block device with metadata: \
         attr_type_mask is refused with EINVAL",
    ),
];

const _: () = {
    let mut refused = 0;
    let mut i = 0;
    while i < REFUSED_FEATURES.len() {
        refused |= REFUSED_FEATURES[i].0;
        i += 1;
    }
    // Each feature is either reported or refused with a reason, never both.
    assert!(refused & FEATURES == 0 && refused | FEATURES == sys::IORING_FEAT_FLAGS);
};

/// Whether the engine honours `opcode` (what its probe reports).
pub fn supports_opcode(opcode: u8) -> bool {
    op::supported(opcode)
}

/// Whether the engine honours `opcode` (`IORING_OP_*`); if not, why: an opcode user
/// space cannot do (refused with `-EINVAL` and absent from the probe, as the kernel
/// treats an opcode it does not know), or one the 6.18 uapi does not have.
///
/// ```
/// use uring_engine::op_support;
/// use uring_sys as sys;
/// assert!(op_support(sys::IORING_OP_READ).is_ok());
/// assert!(op_support(sys::IORING_OP_URING_CMD).is_err());
/// ```
pub fn op_support(opcode: u8) -> Result<(), &'static str> {
    op::support(opcode)
}

/// Whether the engine honours register op `opcode` (`IORING_[UN]REGISTER_*`, without
/// `IORING_REGISTER_USE_REGISTERED_RING`); if not, why (it is refused with `-EINVAL`,
/// as a kernel without it refuses it). [`SUPPORTED_REGISTER_OPS`] lists those done on
/// a ring; `IORING_REGISTER_SEND_MSG_RING` is honoured without one
/// ([`register_blind`]).
pub fn register_op_support(opcode: u32) -> Result<(), &'static str> {
    register::support(opcode)
}

/// Whether the engine reports feature `feature` (one `IORING_FEAT_*` flag) in
/// [`FEATURES`]; if not, why.
pub fn feature_support(feature: u32) -> Result<(), &'static str> {
    if feature.count_ones() != 1 || feature & sys::IORING_FEAT_FLAGS == 0 {
        return Err("not one IORING_FEAT_* flag of the 6.18 uapi");
    }
    match REFUSED_FEATURES.iter().find(|(f, _)| *f == feature) {
        Some((_, why)) => Err(why),
        None => Ok(()),
    }
}

/// An engine ring. Dropping it stops its threads (interrupting blocked workers and
/// waiting for them), so nothing touches the application's buffers afterwards.
pub struct EngineRing {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for EngineRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineRing")
            .field("flags", &self.engine.flags)
            .field("sq_entries", &self.engine.rings.sq_entries)
            .field("cq_entries", &self.engine.rings.cq_entries)
            .finish()
    }
}

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(-e)
}

impl EngineRing {
    /// `io_uring_setup(2)` in user space, with the configuration the environment
    /// asks for ([`Config::from_env`]).
    ///
    /// # Errors
    /// As the kernel's: `EINVAL` for sizes or flag combinations it refuses, `ENOMEM`. `EINVAL` too for
    /// a malformed `URING_ENGINE_SEED` or `URING_ENGINE_FAULTS` (the reason goes to
    /// stderr), and for `IORING_SETUP_NO_MMAP`, whose ring memory is the caller's: that
    /// takes [`with_user_memory`](Self::with_user_memory), which is `unsafe`.
    pub fn setup(entries: u32, params: &mut sys::io_uring_params) -> io::Result<EngineRing> {
        Self::with_config(entries, params, Config::from_env()?)
    }

    /// [`setup`](Self::setup) with an explicit [`Config`].
    ///
    /// # Errors
    /// As [`setup`](Self::setup).
    pub fn with_config(
        entries: u32,
        p: &mut sys::io_uring_params,
        config: Config,
    ) -> io::Result<EngineRing> {
        if p.flags & sys::IORING_SETUP_NO_MMAP != 0 {
            // `user_addr` would be written as ring memory, for as long as the ring
            // lives, on the word of a safe caller: only the unsafe entry point takes it.
            return Err(err(-libc::EINVAL));
        }
        // SAFETY: without NO_MMAP the engine allocates the ring memory itself.
        unsafe { Self::with_user_memory(entries, p, config) }
    }

    /// [`with_config`](Self::with_config), and with `IORING_SETUP_NO_MMAP` the rings
    /// live in the caller's memory, as the kernel's do: the SQ/CQ header and CQEs at
    /// `p.cq_off.user_addr`, the SQEs at `p.sq_off.user_addr` (both page-aligned;
    /// otherwise `EFAULT` for null, `EINVAL` unaligned). Without `NO_MMAP` it is
    /// `with_config`.
    ///
    /// # Errors
    /// As [`setup`](Self::setup), except that `NO_MMAP` is taken.
    ///
    /// # Safety
    /// With `IORING_SETUP_NO_MMAP`: the memory at `p.cq_off.user_addr` must be valid
    /// for reads and writes of the rings' size (the CQE array's end, and the SQ index
    /// array's, as `io_uring_setup(2)` sizes them), and that at `p.sq_off.user_addr`
    /// of `sq_entries` SQEs; both must stay valid, and be accessed only through the
    /// ring protocol, until the returned `EngineRing` has been dropped (its drop stops
    /// every thread that writes CQEs).
    pub unsafe fn with_user_memory(
        entries: u32,
        p: &mut sys::io_uring_params,
        config: Config,
    ) -> io::Result<EngineRing> {
        let (sq, cq) = check_params(entries, p).map_err(err)?;
        if config.seed.is_some() && p.flags & sys::IORING_SETUP_SQPOLL != 0 {
            // Deterministic mode is one thread; an SQ poll thread is what it excludes.
            return Err(err(-libc::EINVAL));
        }
        p.sq_entries = sq;
        p.cq_entries = cq;
        p.features = FEATURES;
        if p.flags & sys::IORING_SETUP_SQPOLL != 0 && p.sq_thread_idle == 0 {
            p.sq_thread_idle = 1000;
        }
        let mem = RingMemory::new(sq, cq, p)?;
        let engine = Arc::new(Engine::new(mem, p, config)?);
        if engine.det.is_some() {
            // Deterministic mode: no timer thread, and time is virtual (det.rs).
            engine.timers.set_manual();
            engine
                .timers
                .set_virtual_clock(crate::timer::clock_ns(libc::CLOCK_MONOTONIC));
        }
        registry::register(engine.own_fd(), Arc::downgrade(&engine));
        if let Some(s) = &engine.sqpoll
            && engine.enabled.load(std::sync::atomic::Ordering::Relaxed)
        {
            s.start(&engine)?;
        }
        Ok(EngineRing { engine })
    }

    /// A file descriptor standing for the ring, for poll/epoll: readable when CQEs
    /// have been posted since `enter` last found the CQ empty. (An application that
    /// empties the CQ without entering may see it readable with nothing to reap.)
    pub fn fd(&self) -> RawFd {
        self.engine.pollable()
    }

    /// Whether `fd` names this ring: [`fd`](Self::fd), or a duplicate of it (even once
    /// the program closed the original, as it may a kernel ring's fd).
    pub fn owns_fd(&self, fd: RawFd) -> bool {
        self.engine.is_ring_file(fd)
    }

    /// The descriptor that names this ring to other engine rings
    /// (`IORING_REGISTER_CLONE_BUFFERS`, `IORING_OP_MSG_RING`): the same number as
    /// [`fd`](Self::fd), without arming it for poll.
    pub fn ring_fd(&self) -> RawFd {
        self.engine.own_fd()
    }

    /// What `mmap(2)` of a kernel ring fd at `offset` gives (`IORING_OFF_SQ_RING`,
    /// `IORING_OFF_CQ_RING`, `IORING_OFF_SQES`): a pointer and a length. The memory
    /// lives as long as the ring.
    ///
    /// `IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT`, for a buffer ring the
    /// engine allocated (`IOU_PBUF_RING_MMAP`), is different: it returns a new
    /// mapping of the ring's pages, which the caller owns and unmaps with
    /// `munmap(2)`, and which outlives the registration, as a mapping of the
    /// kernel's ring fd does.
    ///
    /// # Errors
    /// `EINVAL` for any other offset.
    pub fn mmap(&self, offset: u64) -> io::Result<(*mut u8, usize)> {
        if offset & sys::IORING_OFF_MMAP_MASK == sys::IORING_OFF_PBUF_RING {
            let bgid = (offset & !sys::IORING_OFF_MMAP_MASK) >> sys::IORING_OFF_PBUF_SHIFT;
            return self.engine.pbufs.map(bgid as u16).map_err(err);
        }
        self.engine.memory().map(offset)
    }

    /// `io_uring_enter(2)`: submits up to `to_submit` SQEs, then with
    /// `IORING_ENTER_GETEVENTS` waits for `min_complete` CQEs. Returns how many SQEs
    /// were consumed.
    ///
    /// # Errors
    /// The kernel's codes: `EINVAL` (flags, argument size), `EBADFD` (disabled ring),
    /// `EEXIST` (another thread on a `SINGLE_ISSUER` ring), `ETIME` (the wait timed
    /// out and nothing was submitted).
    ///
    /// # Safety
    /// Every SQE published must reference memory valid until its completion is
    /// posted, as with the kernel. (`arg` may be any address: with
    /// `IORING_ENTER_EXT_ARG` it and its timespec are read as the kernel's
    /// `copy_from_user` reads them, and an unreadable one is `EFAULT`.)
    pub unsafe fn enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> io::Result<u32> {
        // SAFETY: the caller's contract.
        unsafe {
            self.engine
                .enter(to_submit, min_complete, flags, arg, argsz)
        }
        .map_err(err)
    }

    /// `io_uring_register(2)`.
    ///
    /// # Errors
    /// The kernel's codes for each op; `EINVAL` for an op the engine does not honour.
    ///
    /// # Safety
    /// `arg` must point to what `opcode` expects, `nr_args` items of it, as for the
    /// system call (`IORING_REGISTER_SYNC_CANCEL` reads it as the kernel does: any
    /// address, an unreadable one is `EFAULT`); registered buffers must stay valid
    /// while registered.
    pub unsafe fn register(
        &self,
        opcode: u32,
        arg: *const c_void,
        nr_args: u32,
    ) -> io::Result<u32> {
        // SAFETY: the caller's contract.
        unsafe { register::register(&self.engine, opcode, arg, nr_args) }.map_err(err)
    }
}

/// `IORING_UNREGISTER_RING_FDS` of slot `index` in the calling thread's table of
/// registered rings, without a ring to call it on: what a ring dropped on another
/// thread leaves for the thread that registered it (the table is per thread, as the
/// kernel's).
///
/// # Errors
/// `EINVAL` for an index out of range.
pub fn unregister_ring_index(index: u32) -> io::Result<()> {
    let up = sys::io_uring_rsrc_update {
        offset: index,
        resv: 0,
        data: 0,
    };
    // SAFETY: one valid update, on the stack for the call.
    unsafe { register::unregister_ring_fds(&up, 1) }
        .map(drop)
        .map_err(err)
}

/// Whether `fd` names a live engine ring (the fd [`EngineRing::fd`] returned, or a
/// duplicate of it): where a blind register call about that ring must go.
pub fn is_engine_ring(fd: RawFd) -> bool {
    op::msg_ring::lookup(fd).is_some()
}

/// `io_uring_register(2)` with fd `-1`, for an engine ring: the blind opcodes.
/// `IORING_REGISTER_SEND_MSG_RING` posts an `IORING_MSG_DATA` message (an
/// `IORING_OP_MSG_RING` SQE at `arg`, `nr_args` 1) to the engine ring its `fd` names.
///
/// # Errors
/// As the kernel's: `EINVAL` for SQE flags, another opcode or command, or another
/// register opcode; `EBADF` for a closed fd; `EBADFD` for an fd that is not an engine
/// ring.
///
/// # Safety
/// `arg` must point to what `opcode` expects (a 64-byte SQE).
pub unsafe fn register_blind(opcode: u32, arg: *const c_void, nr_args: u32) -> io::Result<u32> {
    match opcode {
        // SAFETY: the caller's contract.
        sys::IORING_REGISTER_SEND_MSG_RING => unsafe {
            op::msg_ring::sync_msg(arg.cast(), nr_args)
        },
        _ => Err(-libc::EINVAL),
    }
    .map_err(err)
}

/// Runs only the engine's preparation of one SQE (the checks of `io_init_req` and
/// the op's prep) on a ring set up with `setup_flags`, and returns 0 or the `-errno`
/// its CQE would carry. Never issues: an arbitrary SQE carries arbitrary pointers.
/// For the fuzz target (`fuzz/`) and its test.
///
/// `bytes`: the SQE (64 bytes, or 128 with `IORING_SETUP_SQE128`; a short input is
/// zero-padded), then one byte whose bits 0, 1, 2 redirect a non-zero `addr`,
/// `off`/`addr2`, `addr3` into an arena filled with the rest of the input (else they
/// stay as given). While it runs, prep may read the arena only: any other address
/// gives `-EFAULT`, as `copy_from_user` does (`user.rs`). Setup flags the engine
/// cannot take without more arguments (SQPOLL, ATTACH_WQ, NO_MMAP, …) are masked off;
/// a combination setup refuses returns setup's error.
#[doc(hidden)]
pub fn fuzz_prep(bytes: &[u8], setup_flags: u32) -> i32 {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const TAKEN: u32 = sys::IORING_SETUP_SQE128
        | sys::IORING_SETUP_CQE32
        | sys::IORING_SETUP_CQE_MIXED
        | sys::IORING_SETUP_NO_SQARRAY
        | sys::IORING_SETUP_SINGLE_ISSUER
        | sys::IORING_SETUP_DEFER_TASKRUN
        | sys::IORING_SETUP_SUBMIT_ALL
        | sys::IORING_SETUP_COOP_TASKRUN
        | sys::IORING_SETUP_TASKRUN_FLAG;
    const ARENA: usize = 8192;
    thread_local! {
        static RINGS: RefCell<HashMap<u32, Result<EngineRing, i32>>> = RefCell::new(HashMap::new());
    }
    let flags = setup_flags & TAKEN;
    RINGS.with(|rings| {
        let mut rings = rings.borrow_mut();
        let ring = rings.entry(flags).or_insert_with(|| {
            let mut p = sys::io_uring_params {
                flags,
                ..Default::default()
            };
            EngineRing::with_config(8, &mut p, Config::new())
                .map_err(|e| -e.raw_os_error().unwrap_or(libc::EINVAL))
        });
        let ring = match ring {
            Ok(r) => r,
            Err(e) => return *e,
        };
        let sqe_size = if flags & sys::IORING_SETUP_SQE128 != 0 {
            128
        } else {
            64
        };
        let mut raw = [0u8; 128];
        let n = bytes.len().min(sqe_size);
        raw[..n].copy_from_slice(&bytes[..n]);
        let control = bytes.get(sqe_size).copied().unwrap_or(0);
        let mut arena = vec![0u8; ARENA];
        let rest = bytes.get(sqe_size + 1..).unwrap_or(&[]);
        let k = rest.len().min(ARENA - 1); // the last byte stays NUL
        arena[..k].copy_from_slice(&rest[..k]);
        let base = arena.as_ptr() as u64;
        // SAFETY: io_uring_sqe is 64 bytes of plain integers: any bytes are a value.
        let mut sqe: sys::io_uring_sqe = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
        let into = |v: u64| if v == 0 { 0 } else { base + v % ARENA as u64 };
        // SAFETY: (the three unions) plain integers over the same bytes.
        unsafe {
            if control & 1 != 0 {
                sqe.addr_or_splice_off_in.addr = into(sqe.addr_or_splice_off_in.addr);
            }
            if control & 2 != 0 {
                sqe.off_or_addr2.off = into(sqe.off_or_addr2.off);
            }
            if control & 4 != 0 {
                sqe.addr3_or_cmd.addr3.addr3 = into(sqe.addr3_or_cmd.addr3.addr3);
            }
        }
        let mut ext = [0u8; 64];
        ext.copy_from_slice(&raw[64..]);
        let mut req = req::Req::new(sqe, ext);
        let end = base as usize + ARENA;
        match user::with_arena(base as usize, end, || ring.engine.prepare(&mut req)) {
            Ok(()) => 0,
            Err(e) => e,
        }
    })
}

impl Drop for EngineRing {
    fn drop(&mut self) {
        if self.engine.forked() {
            // A child of fork(2) holds a copy of its ancestor's engine, whose threads it
            // lacks: there is nothing to stop and nothing safe to join or free.
            std::mem::forget(Arc::clone(&self.engine));
            return;
        }
        registry::unregister(self.engine.own_fd());
        self.engine.shutdown();
    }
}

/// Whether the calling thread may run on `cpu` (the SQ poll thread's, with
/// `IORING_SETUP_SQ_AFF`).
fn cpu_allowed(cpu: u32) -> bool {
    if cpu as usize >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: all-zero is a valid cpu_set_t, which sched_getaffinity fills for this
    // thread (pid 0); CPU_ISSET reads it within CPU_SETSIZE, checked above.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) == 0
            && libc::CPU_ISSET(cpu as usize, &set)
    }
}

/// The checks of `io_uring_setup` and `io_uring_create`; returns the SQ and CQ sizes.
fn check_params(entries: u32, p: &sys::io_uring_params) -> Result<(u32, u32), i32> {
    let f = p.flags;
    if p.resv.iter().any(|&r| r != 0) {
        return Err(-libc::EINVAL);
    }
    if f & !SETUP_FLAGS != 0 {
        return Err(-libc::EINVAL);
    }
    let needs = |flag: u32, other: u32| f & flag != 0 && f & other == 0;
    if needs(sys::IORING_SETUP_SQ_AFF, sys::IORING_SETUP_SQPOLL)
        || needs(sys::IORING_SETUP_HYBRID_IOPOLL, sys::IORING_SETUP_IOPOLL)
        || needs(
            sys::IORING_SETUP_DEFER_TASKRUN,
            sys::IORING_SETUP_SINGLE_ISSUER,
        )
        || needs(
            sys::IORING_SETUP_REGISTERED_FD_ONLY,
            sys::IORING_SETUP_NO_MMAP,
        )
        || needs(
            sys::IORING_SETUP_TASKRUN_FLAG,
            sys::IORING_SETUP_COOP_TASKRUN | sys::IORING_SETUP_DEFER_TASKRUN,
        )
    {
        return Err(-libc::EINVAL);
    }
    if f & sys::IORING_SETUP_SQ_AFF != 0 && !cpu_allowed(p.sq_thread_cpu) {
        // io_sq_offload_create: a CPU this task may not run on is -EINVAL.
        return Err(-libc::EINVAL);
    }
    let taskrun = sys::IORING_SETUP_COOP_TASKRUN
        | sys::IORING_SETUP_TASKRUN_FLAG
        | sys::IORING_SETUP_DEFER_TASKRUN;
    if f & sys::IORING_SETUP_SQPOLL != 0 && f & taskrun != 0 {
        return Err(-libc::EINVAL);
    }
    if f & sys::IORING_SETUP_CQE32 != 0 && f & sys::IORING_SETUP_CQE_MIXED != 0 {
        return Err(-libc::EINVAL);
    }
    let (sq, cq) = sys::ring_sizes(entries, f, p.cq_entries).map_err(|_| -libc::EINVAL)?;
    if f & sys::IORING_SETUP_ATTACH_WQ != 0 {
        // The pool (and SQ thread) of another engine ring: `wq_fd` must name one, as
        // the kernel checks (-ENXIO, -EINVAL); the engine keeps one pool per ring
        // nonetheless, the sharing being observable only in thread counts.
        op::msg_ring::check_attach_wq(p.wq_fd, f & sys::IORING_SETUP_SQPOLL != 0)?;
    }
    Ok((sq, cq))
}
