//! Creating a ring: the [`Builder`] for every setup flag, the ring memory (one mapping
//! with `IORING_FEAT_SINGLE_MMAP`, separate ones otherwise, or memory we provide with
//! `IORING_SETUP_NO_MMAP`), and the [`Parameters`] the kernel returned.
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use uring_sys as sys;

use crate::Ring;
use crate::cq::CqInner;
use crate::error::{self, MAX_CQ_ENTRIES, MAX_ENTRIES, SetupError};
use crate::mmap::{Mmap, page_size};
use crate::sq::SqInner;
use crate::submit::{Driver, KernelRing, RingFd, RingId};
use crate::{Backend, EngineConfig};

/// Every setup flag with its name, in bit order (declared in `uring-sys`).
pub const SETUP_FLAG_NAMES: &[(u32, &str)] = sys::IORING_SETUP_FLAG_NAMES;

/// Every feature flag with its name, in bit order (declared in `uring-sys`).
pub const FEATURE_NAMES: &[(u32, &str)] = sys::IORING_FEAT_NAMES;

pub use sys::flag_names;

/// When a [`Ring`]'s fd is registered (`IORING_REGISTER_RING_FDS`), chosen with
/// [`Builder::register_ring_fd`] and [`Builder::plain_ring_fd`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum RingFdChoice {
    /// On the first thread that enters the ring, when it can (the default).
    #[default]
    OnFirstEnter,
    /// On the building thread, at setup; a failure fails the setup.
    AtSetup,
    /// Never, unless asked with `Ring::register_ring_fd`.
    Plain,
}

/// Builds a [`Ring`] with any combination of the kernel's setup flags.
///
/// Maps to `io_uring_setup(2)` followed by the ring mappings, as liburing's
/// `io_uring_queue_init_params` does.
///
/// Like liburing (2.6 and later), a ring has no SQ index array by default: `build`
/// asks for `IORING_SETUP_NO_SQARRAY` and, where the kernel (before 6.6) or the engine
/// refuses it with `EINVAL`, sets the ring up again without it. The array only maps
/// SQ slots to SQEs, which this crate always does one to one; without it the kernel
/// skips a load and a bounds check per SQE. [`sq_array`](Self::sq_array) keeps the
/// array; [`no_sqarray`](Self::no_sqarray) insists on having none (no fallback).
///
/// A kernel ring registers its fd (`IORING_REGISTER_RING_FDS`) on the first thread
/// that enters it, and from then on enters through the registered index on that
/// thread (`IORING_ENTER_REGISTERED_RING`), which spares the kernel an `fget`/`fput`
/// of the ring's file per `io_uring_enter`; on any other thread it enters through its
/// fd, as the index means nothing there. When the registration cannot be made (the
/// thread's table of 16 is full, or this crate already holds 8 of its slots on the
/// thread; a kernel before 5.18; a restricted ring), the ring enters through its fd,
/// and nothing is reported. Dropped on the thread that registered it, the ring undoes
/// the registration; dropped on another, it hands the registration to that thread,
/// which undoes it the next time it builds, registers or enters a ring of this crate,
/// or exits (when the kernel drops the thread's table). Until then the kernel's
/// table holds the ring open: its in-flight requests are not cancelled and what it
/// holds (registered files and buffers) is not released. A program that builds or
/// first enters a ring on one thread and drops it on another, while the first goes on
/// without calling into this crate, can choose
/// [`plain_ring_fd`](Self::plain_ring_fd); [`register_ring_fd`](Self::register_ring_fd)
/// registers at setup, on the building thread. In the child of a `fork()`, the
/// rings inherited enter through their fd (the child has none of its parent's
/// registrations).
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use std::time::Duration;
/// let ring = uring::Ring::builder()
///     .sqpoll(Duration::from_millis(100))
///     .cq_entries(1024)
///     .build(256)?;
/// assert_eq!(ring.params().sq_entries(), 256);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    params: sys::io_uring_params,
    /// Set by [`Builder::sq_array`]: do not ask for `NO_SQARRAY`.
    sq_array: bool,
    ring_fd: RingFdChoice,
    /// Set by [`Builder::wait_in_one_enter`].
    wait_in_one_enter: bool,
    separate_mappings: bool,
    backend: Backend,
    /// Set by [`Builder::backend_exact`]: `URING_BACKEND` does not override `backend`.
    backend_exact: bool,
    engine: Option<EngineConfig>,
}

impl Builder {
    fn flag(mut self, flag: u32) -> Self {
        self.params.flags |= flag;
        self
    }

    /// `IORING_SETUP_IOPOLL`: busy-poll for completions of O_DIRECT I/O on devices that
    /// support polling, instead of waiting for interrupts.
    pub fn iopoll(self) -> Self {
        self.flag(sys::IORING_SETUP_IOPOLL)
    }

    /// `IORING_SETUP_HYBRID_IOPOLL` (with `IOPOLL`): sleep about as long as the device
    /// takes before starting to poll.
    pub fn hybrid_iopoll(self) -> Self {
        self.flag(sys::IORING_SETUP_IOPOLL | sys::IORING_SETUP_HYBRID_IOPOLL)
    }

    /// `IORING_SETUP_SQPOLL`: a kernel thread polls the SQ, so submission needs no
    /// system call while it is awake; it sleeps after `idle` without work (sets
    /// `IORING_SQ_NEED_WAKEUP`; [`Submitter::submit`](crate::Submitter::submit) wakes it).
    pub fn sqpoll(mut self, idle: Duration) -> Self {
        self.params.sq_thread_idle = idle.as_millis().min(u32::MAX as u128) as u32;
        self.flag(sys::IORING_SETUP_SQPOLL)
    }

    /// `IORING_SETUP_SQ_AFF` (with [`sqpoll`](Self::sqpoll)): pin the SQ poll thread to `cpu`.
    pub fn sqpoll_cpu(mut self, cpu: u32) -> Self {
        self.params.sq_thread_cpu = cpu;
        self.flag(sys::IORING_SETUP_SQ_AFF)
    }

    /// `IORING_SETUP_CQSIZE`: a CQ of `entries` (rounded up to a power of two) instead of
    /// twice the SQ size.
    pub fn cq_entries(mut self, entries: u32) -> Self {
        self.params.cq_entries = entries;
        self.flag(sys::IORING_SETUP_CQSIZE)
    }

    /// `IORING_SETUP_CLAMP`: cut sizes above the maximum down to it instead of failing.
    pub fn clamp(self) -> Self {
        self.flag(sys::IORING_SETUP_CLAMP)
    }

    /// `IORING_SETUP_ATTACH_WQ`: share the io-wq worker pool of the ring `fd`.
    pub fn attach_wq(mut self, fd: impl AsRawFd) -> Self {
        self.params.wq_fd = fd.as_raw_fd() as u32;
        self.flag(sys::IORING_SETUP_ATTACH_WQ)
    }

    /// `IORING_SETUP_R_DISABLED`: start disabled, so restrictions can be registered
    /// first; enable with [`Submitter::enable_rings`](crate::Submitter::enable_rings).
    pub fn disabled(self) -> Self {
        self.flag(sys::IORING_SETUP_R_DISABLED)
    }

    /// `IORING_SETUP_SUBMIT_ALL`: keep submitting the batch when an SQE fails to prepare.
    pub fn submit_all(self) -> Self {
        self.flag(sys::IORING_SETUP_SUBMIT_ALL)
    }

    /// `IORING_SETUP_COOP_TASKRUN`: run completion task work at the next kernel
    /// transition instead of interrupting the task.
    pub fn coop_taskrun(self) -> Self {
        self.flag(sys::IORING_SETUP_COOP_TASKRUN)
    }

    /// `IORING_SETUP_TASKRUN_FLAG` (with `COOP_TASKRUN` or `DEFER_TASKRUN`): set
    /// `IORING_SQ_TASKRUN` when task work waits, so the application knows to enter.
    pub fn taskrun_flag(self) -> Self {
        self.flag(sys::IORING_SETUP_TASKRUN_FLAG)
    }

    /// `IORING_SETUP_SQE128`: 128-byte SQEs (needed by some `URING_CMD`s).
    pub fn sqe128(self) -> Self {
        self.flag(sys::IORING_SETUP_SQE128)
    }

    /// `IORING_SETUP_CQE32`: 32-byte CQEs (extra result data for some commands).
    pub fn cqe32(self) -> Self {
        self.flag(sys::IORING_SETUP_CQE32)
    }

    /// `IORING_SETUP_CQE_MIXED`: 16- and 32-byte CQEs in the same CQ.
    pub fn cqe_mixed(self) -> Self {
        self.flag(sys::IORING_SETUP_CQE_MIXED)
    }

    /// `IORING_SETUP_SINGLE_ISSUER`: promise that only one task submits.
    pub fn single_issuer(self) -> Self {
        self.flag(sys::IORING_SETUP_SINGLE_ISSUER)
    }

    /// `IORING_SETUP_DEFER_TASKRUN` (sets `SINGLE_ISSUER` too, which it requires): run
    /// completion work only when the application waits for completions.
    pub fn defer_taskrun(self) -> Self {
        self.flag(sys::IORING_SETUP_DEFER_TASKRUN | sys::IORING_SETUP_SINGLE_ISSUER)
    }

    /// `IORING_SETUP_NO_MMAP`: the rings live in memory this library allocates and
    /// hands to the kernel, instead of memory mapped from the ring fd.
    pub fn no_mmap(self) -> Self {
        self.flag(sys::IORING_SETUP_NO_MMAP)
    }

    /// `IORING_SETUP_REGISTERED_FD_ONLY` (sets `NO_MMAP` too, which it requires): the
    /// ring has no file descriptor, only a registered index; all system calls use it.
    pub fn registered_fd_only(self) -> Self {
        self.flag(sys::IORING_SETUP_REGISTERED_FD_ONLY | sys::IORING_SETUP_NO_MMAP)
    }

    /// `IORING_SETUP_NO_SQARRAY`: no SQ index array; the SQ tail indexes SQEs directly.
    ///
    /// Rings have none by default already; this makes it a requirement: where the
    /// backend lacks the flag, `build` fails (`EINVAL`) instead of falling back to a
    /// ring with the array.
    pub fn no_sqarray(mut self) -> Self {
        self.sq_array = false;
        self.flag(sys::IORING_SETUP_NO_SQARRAY)
    }

    /// Keeps the SQ index array (`sq_off.array`), which rings otherwise do without
    /// (see [`Builder`]): the ring is set up without `IORING_SETUP_NO_SQARRAY`, as
    /// before Linux 6.6. The array holds the identity (slot `i` submits SQE `i`), as
    /// this crate's [`SubmissionQueue`](crate::SubmissionQueue) needs; only code that
    /// drives the ring's memory itself, through the array, has a use for it.
    pub fn sq_array(mut self) -> Self {
        self.sq_array = true;
        self.params.flags &= !sys::IORING_SETUP_NO_SQARRAY;
        self
    }

    /// Registers the ring fd right after setup, on the calling thread
    /// (`IORING_REGISTER_RING_FDS`), and fails if that cannot be done. Without it a
    /// ring registers itself on the first thread that enters it, when it can (see
    /// [`Builder`]).
    pub fn register_ring_fd(mut self) -> Self {
        self.ring_fd = RingFdChoice::AtSetup;
        self
    }

    /// Never registers the ring fd by default: every `io_uring_enter` passes the
    /// plain fd (as before this crate registered rings by default, and as liburing
    /// and the `io-uring` crate do unless asked), until
    /// [`Ring::register_ring_fd`](crate::Ring::register_ring_fd) is called. For a
    /// ring that is built on one thread and dropped on another while the first goes
    /// on without calling into this crate (see [`Builder`] for why), or to keep the
    /// thread's 16 slots for other uses.
    pub fn plain_ring_fd(mut self) -> Self {
        self.ring_fd = RingFdChoice::Plain;
        self
    }

    /// Makes [`Submitter::submit_and_wait`](crate::Submitter::submit_and_wait) always
    /// submit and wait in one `io_uring_enter` (with `IORING_ENTER_GETEVENTS`), as
    /// liburing's `io_uring_submit_and_wait` does, instead of submitting first and
    /// waiting only if the completions are not in the CQ when the submit returns (the
    /// default on a kernel ring; see `submit_and_wait`). For a program that counts its
    /// system calls, or whose requests never complete inline.
    pub fn wait_in_one_enter(mut self) -> Self {
        self.wait_in_one_enter = true;
        self
    }

    /// Maps the SQ and CQ rings separately even when the kernel offers one mapping
    /// for both (`IORING_FEAT_SINGLE_MMAP`), as kernels before 5.4 require. Only
    /// useful to exercise that path.
    #[doc(hidden)]
    pub fn separate_mappings(mut self) -> Self {
        self.separate_mappings = true;
        self
    }

    /// Runs the ring on `backend` (default [`Backend::Kernel`]). The environment
    /// variable `URING_BACKEND` overrides it.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Runs the ring on `backend`, whatever `URING_BACKEND` says. For harnesses that
    /// run one body on each backend in turn (the crate's own tests), where the
    /// environment variable would turn the kernel half into a second engine run.
    #[doc(hidden)]
    pub fn backend_exact(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self.backend_exact = true;
        self
    }

    /// Options for the engine backend (deterministic mode, fault injection), used
    /// when the ring runs on the engine. Without it the engine reads them from the
    /// environment ([`EngineConfig::from_env`]).
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = Some(config);
        self
    }

    /// Adds raw `IORING_SETUP_*` bits, for flags newer than this builder.
    pub fn raw_flags(self, flags: u32) -> Self {
        self.flag(flags)
    }

    /// The setup flags chosen so far. `NO_SQARRAY` shows only if asked for with
    /// [`no_sqarray`](Self::no_sqarray): the default adds it at [`build`](Self::build)
    /// (see [`Ring::params`] for the flags a ring got).
    pub fn flags(&self) -> u32 {
        self.params.flags
    }

    /// Creates the ring with `entries` SQ entries (rounded up to a power of two).
    ///
    /// Maps to `io_uring_setup(2)` and `mmap(2)` of the rings.
    ///
    /// # Errors
    /// A [`SetupError`] that says why: entries out of range, a flag combination the
    /// kernel forbids, io_uring disabled (naming the sysctl or seccomp), memlock too
    /// small, or another errno of the kernel's.
    pub fn build(&self, entries: u32) -> Result<Ring, SetupError> {
        let backend = if self.backend_exact {
            self.backend
        } else {
            Backend::from_env()
                .map_err(SetupError::Io)?
                .unwrap_or(self.backend)
        };
        match backend {
            Backend::Kernel => self.without_sq_array(|b| b.build_kernel(entries)),
            Backend::Engine => self.without_sq_array(|b| b.build_engine(entries)),
            Backend::Auto => match self.without_sq_array(|b| b.build_kernel(entries)) {
                Err(SetupError::Disabled { .. }) => {
                    self.without_sq_array(|b| b.build_engine(entries))
                }
                other => other,
            },
        }
    }

    /// Runs `build` with `NO_SQARRAY` added, unless [`sq_array`](Self::sq_array) or
    /// [`no_sqarray`](Self::no_sqarray) said otherwise, and again without it if the
    /// backend refuses it with `EINVAL` (a kernel before 6.6), as liburing's
    /// `io_uring_queue_init_params` does. A refusal for another reason comes back
    /// from the second try as well.
    fn without_sq_array(
        &self,
        build: impl Fn(&Builder) -> Result<Ring, SetupError>,
    ) -> Result<Ring, SetupError> {
        if self.sq_array || self.params.flags & sys::IORING_SETUP_NO_SQARRAY != 0 {
            return build(self);
        }
        match build(&self.clone().flag(sys::IORING_SETUP_NO_SQARRAY)) {
            Err(SetupError::Invalid { .. }) => build(self),
            other => other,
        }
    }

    /// Creates the ring with the first of `preferred` flag sets that the backend
    /// accepts: each set is added in turn to the flags chosen so far, and a refusal
    /// with `EINVAL` ([`SetupError::Invalid`]: a flag this kernel, or the engine, does
    /// not know) moves on to the next. End the list with `0` to fall back to the
    /// builder's own flags. For optional flags such as `DEFER_TASKRUN` (Linux 6.1) or
    /// `COOP_TASKRUN` (5.19), which a program wants where it can have them.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), uring::SetupError> {
    /// use uring::sys;
    /// let ring = uring::Ring::builder().build_preferring(
    ///     256,
    ///     &[
    ///         sys::IORING_SETUP_SINGLE_ISSUER | sys::IORING_SETUP_DEFER_TASKRUN,
    ///         sys::IORING_SETUP_COOP_TASKRUN,
    ///         0,
    ///     ],
    /// )?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Any other error at once (as [`build`](Self::build)); when every set is
    /// refused, the last refusal. An empty `preferred` builds with no extra flags.
    pub fn build_preferring(&self, entries: u32, preferred: &[u32]) -> Result<Ring, SetupError> {
        let Some((&last, first)) = preferred.split_last() else {
            return self.build(entries);
        };
        for &extra in first {
            match self.clone().flag(extra).build(entries) {
                Err(SetupError::Invalid { .. }) => {}
                other => return other,
            }
        }
        self.clone().flag(last).build(entries)
    }

    fn build_kernel(&self, entries: u32) -> Result<Ring, SetupError> {
        // Free the slots of this thread's registered rings dropped elsewhere first: a
        // REGISTERED_FD_ONLY ring needs one.
        crate::submit::orphans::reap();
        let mut params = self.params;
        validate(entries, &params)?;
        let flags = params.flags;

        // With NO_MMAP, the memory goes to the kernel inside the setup call.
        let provided = if flags & sys::IORING_SETUP_NO_MMAP != 0 {
            Some(ProvidedMemory::allocate(entries, &mut params)?)
        } else {
            None
        };

        // SAFETY: with NO_MMAP, user_addr fields point into `provided`, which is kept
        // alive in the Ring for as long as the ring exists (dropped after the fd).
        let ret = unsafe { sys::syscall::io_uring_setup(entries, &mut params) };
        let raw = ret.map_err(|e| classify(e, &params))?;

        let fd = if flags & sys::IORING_SETUP_REGISTERED_FD_ONLY != 0 {
            RingFd::Registered(raw)
        } else {
            // SAFETY: io_uring_setup returned a new file descriptor that we own.
            RingFd::Owned(unsafe { OwnedFd::from_raw_fd(raw as RawFd) })
        };
        let mut ring = Ring::from_kernel(fd, params, provided, self.separate_mappings)?;
        if let Some(k) = ring.backend.kernel_mut() {
            if self.wait_in_one_enter {
                k.wait_in_one_enter();
            }
            match self.ring_fd {
                RingFdChoice::OnFirstEnter => k.register_on_first_enter(),
                RingFdChoice::AtSetup => {
                    k.register_ring_fd().map_err(SetupError::Io)?;
                }
                RingFdChoice::Plain => {}
            }
        }
        Ok(ring)
    }

    /// The same ring on the user-space engine: same checks, same layout.
    fn build_engine(&self, entries: u32) -> Result<Ring, SetupError> {
        let mut params = self.params;
        validate(entries, &params)?;
        let provided = if params.flags & sys::IORING_SETUP_NO_MMAP != 0 {
            Some(ProvidedMemory::allocate(entries, &mut params)?)
        } else {
            None
        };
        let config = match &self.engine {
            Some(c) => c.clone(),
            None => EngineConfig::from_env().map_err(SetupError::Io)?,
        };
        // SAFETY: with NO_MMAP, user_addr fields point into `provided`, sized for these
        // entries and flags, which the Ring keeps alive after the EngineRing (field
        // order: the backend is dropped before the memory).
        let engine =
            unsafe { uring_engine::EngineRing::with_user_memory(entries, &mut params, config) }
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::EINVAL) => SetupError::Invalid {
                        flags: flag_names(params.flags, SETUP_FLAG_NAMES),
                        source: e,
                    },
                    _ => SetupError::Io(e),
                })?;
        let map = |off| engine.mmap(off).map(|(p, _)| p).map_err(SetupError::Io);
        let (rings, sqes) = (map(sys::IORING_OFF_SQ_RING)?, map(sys::IORING_OFF_SQES)?);
        // SAFETY: the engine laid its memory out as `params` says and keeps it alive
        // as long as the EngineRing, which the Ring holds next to the views (or it is
        // our provided memory, kept in the Ring as well).
        let (sq, cq) = unsafe {
            (
                SqInner::new(rings, sqes, &params),
                CqInner::new(rings, &params),
            )
        };
        let mut ring = Ring {
            sq,
            cq,
            backend: Driver::Engine(engine),
            params: Parameters(params),
            engine_ring_index: None,
            id: RingId::next(),
            _memory: match provided {
                Some(p) => RingMemory::Provided(p),
                None => RingMemory::Engine,
            },
        };
        if self.ring_fd == RingFdChoice::AtSetup {
            ring.register_ring_fd().map_err(SetupError::Io)?;
        }
        Ok(ring)
    }
}

/// Checks what the kernel would refuse, to say why in words.
fn validate(entries: u32, p: &sys::io_uring_params) -> Result<(), SetupError> {
    let flags = p.flags;
    match sys::ring_sizes(entries, flags, p.cq_entries) {
        Err(sys::RingSizeError::SqEntries) => {
            return Err(SetupError::Entries {
                queue: "SQ",
                requested: entries,
                max: MAX_ENTRIES,
            });
        }
        Err(sys::RingSizeError::CqEntries) => {
            return Err(SetupError::Entries {
                queue: "CQ",
                requested: p.cq_entries,
                max: MAX_CQ_ENTRIES,
            });
        }
        // A CQ smaller than the SQ: the backend's EINVAL says it.
        Err(sys::RingSizeError::CqSmallerThanSq) | Ok(_) => {}
    }
    let rules: &[(u32, u32, &str)] = &[
        (
            sys::IORING_SETUP_DEFER_TASKRUN,
            sys::IORING_SETUP_SINGLE_ISSUER,
            "DEFER_TASKRUN requires SINGLE_ISSUER",
        ),
        (
            sys::IORING_SETUP_SQ_AFF,
            sys::IORING_SETUP_SQPOLL,
            "SQ_AFF requires SQPOLL",
        ),
        (
            sys::IORING_SETUP_REGISTERED_FD_ONLY,
            sys::IORING_SETUP_NO_MMAP,
            "REGISTERED_FD_ONLY requires NO_MMAP (rings cannot be mapped without an fd)",
        ),
        (
            sys::IORING_SETUP_HYBRID_IOPOLL,
            sys::IORING_SETUP_IOPOLL,
            "HYBRID_IOPOLL requires IOPOLL",
        ),
    ];
    for &(flag, needs, rule) in rules {
        if flags & flag != 0 && flags & needs == 0 {
            return Err(SetupError::Flags {
                flags: flag_names(flag, SETUP_FLAG_NAMES),
                rule,
            });
        }
    }
    let taskrun = sys::IORING_SETUP_COOP_TASKRUN | sys::IORING_SETUP_DEFER_TASKRUN;
    if flags & sys::IORING_SETUP_TASKRUN_FLAG != 0 && flags & taskrun == 0 {
        return Err(SetupError::Flags {
            flags: "TASKRUN_FLAG".into(),
            rule: "TASKRUN_FLAG requires COOP_TASKRUN or DEFER_TASKRUN",
        });
    }
    let no_ipi = taskrun | sys::IORING_SETUP_TASKRUN_FLAG;
    if flags & sys::IORING_SETUP_SQPOLL != 0 && flags & no_ipi != 0 {
        return Err(SetupError::Flags {
            flags: flag_names(
                flags & (no_ipi | sys::IORING_SETUP_SQPOLL),
                SETUP_FLAG_NAMES,
            ),
            rule: "task-run flags (COOP_TASKRUN, TASKRUN_FLAG, DEFER_TASKRUN) make no sense \
                   with SQPOLL, whose thread runs the work",
        });
    }
    if flags & sys::IORING_SETUP_CQE_MIXED != 0 && flags & sys::IORING_SETUP_CQE32 != 0 {
        return Err(SetupError::Flags {
            flags: "CQE32|CQE_MIXED".into(),
            rule: "CQE_MIXED and CQE32 are exclusive",
        });
    }
    Ok(())
}

/// Turns an `io_uring_setup` errno into a [`SetupError`] with its cause.
fn classify(e: io::Error, p: &sys::io_uring_params) -> SetupError {
    match e.raw_os_error() {
        Some(errno @ (libc::EPERM | libc::ENOSYS)) => SetupError::Disabled {
            errno,
            cause: error::disabled_cause(errno),
        },
        Some(libc::ENOMEM) => SetupError::Memlock {
            limit: error::memlock_limit(),
            source: e,
        },
        Some(libc::EINVAL) => SetupError::Invalid {
            flags: flag_names(p.flags, SETUP_FLAG_NAMES),
            source: e,
        },
        _ => SetupError::Io(e),
    }
}

/// Ring memory the application provides (`IORING_SETUP_NO_MMAP`): one region for the
/// SQ and CQ rings, one for the SQEs, both page-aligned anonymous memory.
#[derive(Debug)]
pub(crate) struct ProvidedMemory {
    pub(crate) rings: Mmap,
    pub(crate) sqes: Mmap,
}

impl ProvidedMemory {
    /// Sizes the regions as the kernel's `rings_size()` will, with room to spare, and
    /// writes their addresses into `params`.
    fn allocate(entries: u32, p: &mut sys::io_uring_params) -> Result<Self, SetupError> {
        let flags = p.flags;
        let (sq, cq) =
            sys::ring_sizes(entries, flags, p.cq_entries).map_err(|_| SetupError::Invalid {
                flags: flag_names(flags, SETUP_FLAG_NAMES),
                source: io::Error::from_raw_os_error(libc::EINVAL),
            })?;
        let (rings, sqes) = sys::ring_memory_sizes(flags, sq, cq);
        let page = page_size();
        let round = |n: usize| n.div_ceil(page) * page;
        let rings = Mmap::anonymous(round(rings)).map_err(SetupError::Io)?;
        let sqes = Mmap::anonymous(round(sqes)).map_err(SetupError::Io)?;
        p.cq_off.user_addr = rings.as_ptr() as u64;
        p.sq_off.user_addr = sqes.as_ptr() as u64;
        Ok(ProvidedMemory { rings, sqes })
    }
}

/// The memory of a ring, held for as long as the ring (dropping it unmaps the memory),
/// and read only to name its regions ([`Ring::dontfork`]).
#[derive(Debug)]
pub(crate) enum RingMemory {
    /// Mapped from the ring fd: the SQ ring (and the CQ ring with SINGLE_MMAP), the CQ
    /// ring when separate, and the SQE array.
    Mapped {
        sq_ring: Mmap,
        cq_ring: Option<Mmap>,
        sqes: Mmap,
    },
    /// Provided by us (`NO_MMAP`).
    Provided(ProvidedMemory),
    /// Owned by the engine ring.
    Engine,
}

impl Ring {
    /// Keeps the ring's memory out of child processes: `madvise(MADV_DONTFORK)` over
    /// the SQ ring, the CQ ring and the SQE array, as liburing's
    /// `io_uring_ring_dontfork` does.
    ///
    /// Without it, a child of fork(2) inherits the mappings: a kernel ring's are
    /// shared (`MAP_SHARED` of the ring fd), so whatever the child writes there the
    /// parent's ring sees, and the kernel consumes on the next `io_uring_enter` from
    /// either process; rings in anonymous memory (`NO_MMAP`, the engine) are copied
    /// on write, so the child holds a stale copy of the queues. With it, the child has
    /// no mapping at those addresses at all (an access faults), and cannot disturb the
    /// parent's queues through memory. The ring fd itself is still inherited, as any
    /// fd is, unless the child closes it; the child must not drop this `Ring` either
    /// (exit with `_exit`, or `exec`), as for any state shared across fork(2).
    ///
    /// Registered buffers and buffer rings are memory of their own: apply
    /// `MADV_DONTFORK` to them where needed.
    ///
    /// # Errors
    /// The kernel's errno from madvise(2) (`EINVAL` on a kernel without
    /// `MADV_DONTFORK`, which is every Linux since 2.6.16).
    pub fn dontfork(&self) -> io::Result<()> {
        for (ptr, len) in self.memory_regions() {
            // SAFETY: (ptr, len) is one whole mapping of this ring's memory, alive as
            // long as `self`; MADV_DONTFORK changes only what fork(2) copies, never
            // the contents or the mapping in this process.
            unsafe { rustix::mm::madvise(ptr.cast(), len, rustix::mm::Advice::LinuxDontFork) }?;
        }
        Ok(())
    }

    /// The memory regions of the ring (start, length): the SQ ring, the CQ ring if
    /// mapped apart, the SQE array. What [`dontfork`](Self::dontfork) covers; exposed
    /// for its tests.
    #[doc(hidden)]
    pub fn memory_regions(&self) -> Vec<(*mut u8, usize)> {
        match (&self._memory, &self.backend) {
            (
                RingMemory::Mapped {
                    sq_ring,
                    cq_ring,
                    sqes,
                },
                _,
            ) => [Some(sq_ring), cq_ring.as_ref(), Some(sqes)]
                .into_iter()
                .flatten()
                .map(|m| (m.as_ptr(), m.len()))
                .collect(),
            (RingMemory::Provided(p), _) => vec![
                (p.rings.as_ptr(), p.rings.len()),
                (p.sqes.as_ptr(), p.sqes.len()),
            ],
            (RingMemory::Engine, Driver::Engine(e)) => {
                [sys::IORING_OFF_SQ_RING, sys::IORING_OFF_SQES]
                    .into_iter()
                    .filter_map(|off| e.mmap(off).ok())
                    .collect()
            }
            (RingMemory::Engine, Driver::Kernel(_)) => Vec::new(),
        }
    }

    /// Maps the rings of a freshly set-up kernel ring and builds the queue views.
    fn from_kernel(
        fd: RingFd,
        params: sys::io_uring_params,
        provided: Option<ProvidedMemory>,
        separate_mappings: bool,
    ) -> Result<Ring, SetupError> {
        let p = &params;
        let (sqe_size, cqe_size) = (sys::sqe_size(p.flags), sys::cqe_size(p.flags));
        let (memory, sq_base, cq_base, sqes) = match (provided, &fd) {
            (Some(mem), _) => {
                let (r, s) = (mem.rings.as_ptr(), mem.sqes.as_ptr());
                (RingMemory::Provided(mem), r, r, s)
            }
            (None, RingFd::Owned(owned)) => {
                let fd = owned.as_fd();
                let mut sq_len = p.sq_off.array as usize + p.sq_entries as usize * 4;
                if p.flags & sys::IORING_SETUP_NO_SQARRAY != 0 {
                    // No array: the SQ ring ends where the fields end; the CQ part of
                    // struct io_rings follows, which a single mapping must cover anyway.
                    sq_len = p.sq_off.dropped as usize + 4;
                }
                let cq_len = p.cq_off.cqes as usize + p.cq_entries as usize * cqe_size;
                let single = p.features & sys::IORING_FEAT_SINGLE_MMAP != 0 && !separate_mappings;
                let sq_ring = Mmap::map_ring(
                    fd,
                    sys::IORING_OFF_SQ_RING,
                    if single { sq_len.max(cq_len) } else { sq_len },
                )
                .map_err(SetupError::Io)?;
                let cq_ring = if single {
                    None
                } else {
                    Some(
                        Mmap::map_ring(fd, sys::IORING_OFF_CQ_RING, cq_len)
                            .map_err(SetupError::Io)?,
                    )
                };
                let sqes =
                    Mmap::map_ring(fd, sys::IORING_OFF_SQES, p.sq_entries as usize * sqe_size)
                        .map_err(SetupError::Io)?;
                let sq_base = sq_ring.as_ptr();
                let cq_base = cq_ring.as_ref().map_or(sq_base, Mmap::as_ptr);
                let sqe_base = sqes.as_ptr();
                (
                    RingMemory::Mapped {
                        sq_ring,
                        cq_ring,
                        sqes,
                    },
                    sq_base,
                    cq_base,
                    sqe_base,
                )
            }
            (None, RingFd::Registered(_)) => unreachable!("REGISTERED_FD_ONLY implies NO_MMAP"),
        };
        // SAFETY: the bases point to ring memory laid out as `params` describes (the
        // kernel filled the offsets for exactly this memory), which `memory` keeps
        // alive inside the Ring for as long as the views exist.
        let (sq, cq) = unsafe { (SqInner::new(sq_base, sqes, p), CqInner::new(cq_base, p)) };
        let backend = Driver::Kernel(KernelRing::new(fd, false));
        Ok(Ring {
            sq,
            cq,
            backend,
            params: Parameters(params),
            engine_ring_index: None,
            id: RingId::next(),
            _memory: memory,
        })
    }
}

/// What the kernel returned from setup: sizes, features, flags.
#[derive(Debug, Clone, Copy)]
pub struct Parameters(pub(crate) sys::io_uring_params);

impl Parameters {
    /// Number of SQ entries.
    pub fn sq_entries(&self) -> u32 {
        self.0.sq_entries
    }
    /// Number of CQ entries (in 16-byte slots with `CQE_MIXED`).
    pub fn cq_entries(&self) -> u32 {
        self.0.cq_entries
    }
    /// The `IORING_SETUP_*` flags the ring was created with.
    pub fn flags(&self) -> u32 {
        self.0.flags
    }
    /// The `IORING_FEAT_*` flags of the kernel.
    pub fn features(&self) -> u32 {
        self.0.features
    }
    /// Whether the kernel has feature `feat` (`IORING_FEAT_*`).
    pub fn has_feature(&self, feat: u32) -> bool {
        self.0.features & feat == feat
    }
    /// `IORING_FEAT_NODROP`: completions are never dropped on CQ overflow.
    pub fn is_feature_nodrop(&self) -> bool {
        self.has_feature(sys::IORING_FEAT_NODROP)
    }
    /// `IORING_FEAT_EXT_ARG`: waits can carry a timeout.
    pub fn is_feature_ext_arg(&self) -> bool {
        self.has_feature(sys::IORING_FEAT_EXT_ARG)
    }
    /// `IORING_FEAT_MIN_TIMEOUT`: waits can carry a minimum wait time.
    pub fn is_feature_min_timeout(&self) -> bool {
        self.has_feature(sys::IORING_FEAT_MIN_TIMEOUT)
    }
    /// Whether the ring was set up with `flag` (`IORING_SETUP_*`).
    pub fn is_setup(&self, flag: u32) -> bool {
        self.0.flags & flag == flag
    }
    /// SQ poll thread idle time in milliseconds.
    pub fn sq_thread_idle(&self) -> u32 {
        self.0.sq_thread_idle
    }
    /// The raw `io_uring_params`.
    pub fn raw(&self) -> &sys::io_uring_params {
        &self.0
    }
}
