//! io_uring, in Rust, all the way down.
//!
//! A [`Ring`] is a pair of queues shared with the kernel: SQEs go in through the
//! [`SubmissionQueue`], completions come back through the [`CompletionQueue`], and the
//! [`Submitter`] enters the kernel. Every setup flag of Linux 6.18 is on the
//! [`Builder`]; SQEs are built by the typed builders of [`opcode`], one per opcode.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use uring::{opcode, Ring};
//! let mut ring = Ring::new(8)?;
//! let nop = opcode::Nop::new().build().user_data(42);
//! // SAFETY: a NOP references no memory.
//! unsafe { ring.submission().push(&nop) }.expect("SQ full");
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().expect("a completion");
//! assert_eq!((cqe.user_data(), cqe.result()), (42, 0));
//! # Ok(()) }
//! ```
//!
//! Memory ordering on the rings is written down where it happens: see the module docs
//! of `sq.rs` and `cq.rs` and each atomic's comment.
#![cfg(target_os = "linux")]

/// The examples of the repository's README, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

pub mod buf_ring;
mod cq;
pub mod error;
mod mmap;
pub mod opcode;
pub mod probe;
mod register;
mod setup;
mod sq;
mod submit;
pub mod types;

use std::io;
use std::os::fd::BorrowedFd;

pub use uring_sys as sys;

pub use buf_ring::{BorrowedBuf, BufRing, BufRingBuilder};
pub use cq::{CompletionQueue, Cqe};
pub use error::SetupError;
pub use probe::Probe;
pub use register::{NapiSettings, Restriction, SyncCancel};
pub use setup::{Builder, FEATURE_NAMES, Parameters, SETUP_FLAG_NAMES, flag_names};
pub use sq::{PushError, SubmissionQueue};
pub use submit::{Submitter, WaitArgs};
pub use uring_engine::Config as EngineConfig;

use cq::CqInner;
use setup::RingMemory;
use sq::SqInner;
use submit::Driver;

/// An io_uring instance: the SQ, the CQ, and the means to enter the kernel.
///
/// Created by [`Ring::new`] or [`Ring::builder`]; dropped, it closes the ring (the
/// kernel cancels what is still in flight) and unmaps its memory.
#[derive(Debug)]
pub struct Ring {
    sq: SqInner,
    cq: CqInner,
    // Field order is drop order: the ring is closed before its memory goes away.
    backend: Driver,
    params: Parameters,
    /// On the engine: the index [`Ring::register_ring_fd`] got (bookkeeping only; an
    /// engine ring is entered through its handle), and the thread that got it.
    engine_ring_index: Option<(u32, u64)>,
    id: submit::RingId,
    _memory: RingMemory,
}

impl Ring {
    /// A ring with `entries` SQ entries and default flags.
    ///
    /// Maps to liburing's `io_uring_queue_init`.
    ///
    /// # Errors
    /// See [`Builder::build`].
    pub fn new(entries: u32) -> Result<Ring, SetupError> {
        Builder::default().build(entries)
    }

    /// A [`Builder`] for rings with setup flags.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The submission queue.
    #[inline]
    pub fn submission(&mut self) -> SubmissionQueue<'_> {
        SubmissionQueue::new(&self.sq)
    }

    /// The completion queue.
    #[inline]
    pub fn completion(&mut self) -> CompletionQueue<'_> {
        CompletionQueue::new(&self.cq)
    }

    /// The submitter.
    #[inline]
    pub fn submitter(&self) -> Submitter<'_> {
        Submitter::new(
            &self.backend,
            &self.sq,
            &self.cq,
            self.params.flags(),
            self.id,
        )
    }

    /// All three at once, to push, submit and reap without re-borrowing the ring.
    #[inline]
    pub fn split(&mut self) -> (Submitter<'_>, SubmissionQueue<'_>, CompletionQueue<'_>) {
        (
            self.submitter(),
            SubmissionQueue::new(&self.sq),
            CompletionQueue::new(&self.cq),
        )
    }

    /// Submits what the SQ holds. See [`Submitter::submit`].
    ///
    /// # Errors
    /// The kernel's errno.
    #[inline]
    pub fn submit(&self) -> io::Result<usize> {
        self.submitter().submit()
    }

    /// Submits and waits for `want` completions. See [`Submitter::submit_and_wait`].
    ///
    /// # Errors
    /// The kernel's errno.
    #[inline]
    pub fn submit_and_wait(&self, want: usize) -> io::Result<usize> {
        self.submitter().submit_and_wait(want)
    }

    /// What the kernel returned at setup.
    pub fn params(&self) -> &Parameters {
        &self.params
    }

    /// The ring's file descriptor; `None` for a ring with only a registered index
    /// (`REGISTERED_FD_ONLY`).
    ///
    /// On the engine, a descriptor that poll/epoll report readable once CQEs have been
    /// posted (see [`uring_engine::EngineRing::fd`]).
    ///
    /// Borrowed from the ring, so it cannot outlive it (`Ring` does not implement
    /// `AsFd`/`AsRawFd`: a ring may have no descriptor).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        let raw = match &self.backend {
            Driver::Kernel(k) => k.raw_fd(),
            Driver::Engine(_) if self.params.is_setup(sys::IORING_SETUP_REGISTERED_FD_ONLY) => None,
            Driver::Engine(e) => Some(e.fd()),
        }?;
        // SAFETY: the kernel ring's fd, or the engine's pollable fd, is owned by this
        // ring and stays open as long as it: the borrow cannot outlive it.
        Some(unsafe { BorrowedFd::borrow_raw(raw) })
    }

    /// Which backend runs this ring: [`Backend::Kernel`] or [`Backend::Engine`] (never
    /// `Auto`, which chooses one of them at setup).
    pub fn backend(&self) -> Backend {
        match self.backend {
            Driver::Kernel(_) => Backend::Kernel,
            Driver::Engine(_) => Backend::Engine,
        }
    }

    /// Registers the ring fd in the ring (`IORING_REGISTER_RING_FDS`); from then on
    /// `io_uring_enter` passes the index with `IORING_ENTER_REGISTERED_RING`, sparing
    /// the kernel an fd lookup per call. Returns the index.
    ///
    /// The registration belongs to the calling thread (the kernel keeps it in the
    /// thread's io_uring context). If the ring moves to another thread, it enters
    /// through its plain fd there, so nothing breaks, but the saving is lost. A ring
    /// registered in another thread's table (by default, on the first thread that
    /// entered it) is unregistered there (handed to that thread) and registered in
    /// the calling thread's.
    ///
    /// Maps to liburing's `io_uring_register_ring_fd`.
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` before 5.18, `EBUSY` if the table is full).
    pub fn register_ring_fd(&mut self) -> io::Result<u32> {
        submit::orphans::reap();
        match &mut self.backend {
            Driver::Kernel(k) => k.register_ring_fd(),
            // The engine is entered through its handle; the index is bookkeeping.
            Driver::Engine(_) => {
                if let Some((i, _)) = self.engine_ring_index {
                    return Ok(i);
                }
                let mut up = sys::io_uring_rsrc_update {
                    offset: u32::MAX,
                    ..Default::default()
                };
                // SAFETY: one valid io_uring_rsrc_update, written back by the engine.
                unsafe {
                    self.submitter().register_raw(
                        sys::IORING_REGISTER_RING_FDS,
                        (&raw mut up).cast(),
                        1,
                    )
                }?;
                let me = submit::thread_token();
                submit::orphans::registered(me, submit::RingTable::Engine);
                self.engine_ring_index = Some((up.offset, me));
                Ok(up.offset)
            }
        }
    }

    /// The index of the ring's fd in the calling thread's table of registered rings
    /// (`IORING_REGISTER_RING_FDS`), if it is registered there: a kernel ring then
    /// enters through it on this thread. `None` on the engine, which is entered
    /// through its handle.
    ///
    /// A kernel ring registers itself on the first thread that enters it, unless
    /// built with [`Builder::plain_ring_fd`] (see [`Builder`]).
    pub fn registered_ring_index(&self) -> Option<u32> {
        self.backend.kernel()?.registered_index()
    }

    /// Undoes [`register_ring_fd`](Self::register_ring_fd), and the default
    /// registration: the ring enters through its plain fd from now on.
    ///
    /// Only the thread that registered the ring can undo the registration (it lives in
    /// that thread's table). Called on another thread, this hands it to that thread,
    /// which undoes it the next time it enters, registers or builds a ring, or when it
    /// exits; the ring enters through its fd from now on either way. Dropping a ring
    /// does the same.
    ///
    /// # Errors
    /// The kernel's errno; `InvalidInput` for a `REGISTERED_FD_ONLY` ring, which has
    /// nothing but its registered index.
    pub fn unregister_ring_fd(&mut self) -> io::Result<()> {
        if self.params.is_setup(sys::IORING_SETUP_REGISTERED_FD_ONLY) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a REGISTERED_FD_ONLY ring has only its registered index",
            ));
        }
        if let Some(k) = self.backend.kernel_mut() {
            return k.unregister_ring_fd();
        }
        self.unregister_engine_index()
    }

    /// The engine half of [`unregister_ring_fd`](Self::unregister_ring_fd).
    fn unregister_engine_index(&mut self) -> io::Result<()> {
        let Some((index, owner)) = self.engine_ring_index else {
            return Ok(());
        };
        if owner != submit::thread_token() {
            submit::orphans::adopt(owner, index, submit::RingTable::Engine);
            self.engine_ring_index = None;
            return Ok(());
        }
        let up = sys::io_uring_rsrc_update {
            offset: index,
            ..Default::default()
        };
        // SAFETY: one valid io_uring_rsrc_update naming our slot.
        unsafe {
            self.submitter().register_raw(
                sys::IORING_UNREGISTER_RING_FDS,
                (&raw const up).cast(),
                1,
            )
        }?;
        self.engine_ring_index = None;
        Ok(())
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The kernel's registration is undone by KernelRing's own Drop; the engine's
        // bookkeeping index here, as the kernel's would be (a slot of 16 per thread).
        if matches!(self.backend, Driver::Engine(_)) {
            let _ = self.unregister_engine_index();
        }
    }
}

/// Which implementation of io_uring a [`Ring`] runs on.
///
/// Chosen with [`Builder::backend`]; the environment variable `URING_BACKEND`
/// (`kernel`, `engine` or `auto`) overrides the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// The kernel's io_uring (the default).
    #[default]
    Kernel,
    /// The user-space engine (crate `uring-engine`): the same ring layout and
    /// protocol, run by threads of this process.
    Engine,
    /// The kernel, falling back to the engine when the kernel refuses io_uring
    /// (`EPERM`, `ENOSYS`: disabled by sysctl, filtered by seccomp, not built in).
    Auto,
}

impl Backend {
    /// The backend `URING_BACKEND` names, if set.
    ///
    /// # Errors
    /// A value other than `kernel`, `engine` or `auto`.
    pub fn from_env() -> io::Result<Option<Backend>> {
        match std::env::var("URING_BACKEND") {
            Err(_) => Ok(None),
            Ok(v) => match v.as_str() {
                "kernel" => Ok(Some(Backend::Kernel)),
                "engine" => Ok(Some(Backend::Engine)),
                "auto" | "" => Ok(Some(Backend::Auto)),
                other => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("URING_BACKEND={other}: expected kernel, engine or auto"),
                )),
            },
        }
    }

    /// `"kernel"`, `"engine"` or `"auto"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Kernel => "kernel",
            Backend::Engine => "engine",
            Backend::Auto => "auto",
        }
    }
}

/// A submission queue entry, built by an [`opcode`] builder. 64 bytes, `Copy`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Sqe(pub(crate) sys::io_uring_sqe);

bitflags::bitflags! {
    /// `IOSQE_*` flags of an SQE.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SqeFlags: u8 {
        /// `IOSQE_FIXED_FILE`: `fd` is a registered file index (set by [`types::Fixed`]).
        const FIXED_FILE = sys::IOSQE_FIXED_FILE;
        /// `IOSQE_IO_DRAIN`: start after every earlier request has completed.
        const IO_DRAIN = sys::IOSQE_IO_DRAIN;
        /// `IOSQE_IO_LINK`: the next SQE starts after this one; a failure cancels it.
        const IO_LINK = sys::IOSQE_IO_LINK;
        /// `IOSQE_IO_HARDLINK`: like `IO_LINK`, but the chain survives failures.
        const IO_HARDLINK = sys::IOSQE_IO_HARDLINK;
        /// `IOSQE_ASYNC`: issue from an io-wq worker, never inline.
        const ASYNC = sys::IOSQE_ASYNC;
        /// `IOSQE_BUFFER_SELECT`: pick a provided buffer from the SQE's group.
        const BUFFER_SELECT = sys::IOSQE_BUFFER_SELECT;
        /// `IOSQE_CQE_SKIP_SUCCESS`: post no CQE on success.
        const CQE_SKIP_SUCCESS = sys::IOSQE_CQE_SKIP_SUCCESS;
    }
}

impl Sqe {
    /// Sets `user_data`, returned in the CQE.
    #[inline]
    #[must_use]
    pub const fn user_data(mut self, user_data: u64) -> Sqe {
        self.0.user_data = user_data;
        self
    }

    /// Adds `IOSQE_*` flags.
    #[inline]
    #[must_use]
    pub const fn flags(mut self, flags: SqeFlags) -> Sqe {
        self.0.flags |= flags.bits();
        self
    }

    /// Issues with a registered personality (credentials).
    #[inline]
    #[must_use]
    pub const fn personality(mut self, personality: u16) -> Sqe {
        self.0.personality = personality;
        self
    }

    /// Sets `user_data` in place (for an SQE written in its slot, see
    /// [`SubmissionQueue::push_with`]).
    #[inline]
    pub const fn set_user_data(&mut self, user_data: u64) -> &mut Sqe {
        self.0.user_data = user_data;
        self
    }

    /// Adds `IOSQE_*` flags in place.
    #[inline]
    pub const fn insert_flags(&mut self, flags: SqeFlags) -> &mut Sqe {
        self.0.flags |= flags.bits();
        self
    }

    /// Sets the personality in place.
    #[inline]
    pub const fn set_personality(&mut self, personality: u16) -> &mut Sqe {
        self.0.personality = personality;
        self
    }

    /// The `user_data`.
    pub const fn get_user_data(&self) -> u64 {
        self.0.user_data
    }

    /// The opcode.
    pub const fn opcode(&self) -> u8 {
        self.0.opcode
    }

    /// The `IOSQE_*` flags.
    pub const fn get_flags(&self) -> SqeFlags {
        SqeFlags::from_bits_retain(self.0.flags)
    }

    /// The raw kernel SQE.
    pub const fn as_raw(&self) -> &sys::io_uring_sqe {
        &self.0
    }

    /// The raw kernel SQE, to set fields no builder covers.
    pub const fn as_raw_mut(&mut self) -> &mut sys::io_uring_sqe {
        &mut self.0
    }

    /// Wraps a raw kernel SQE.
    pub const fn from_raw(sqe: sys::io_uring_sqe) -> Sqe {
        Sqe(sqe)
    }
}

impl std::fmt::Debug for Sqe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
