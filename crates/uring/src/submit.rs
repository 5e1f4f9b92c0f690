//! Entering the kernel: submit, wait, wait with a timeout, wake the SQ poll thread,
//! flush overflowed completions. Like liburing's `queue.c`.
use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

use uring_sys as sys;

use crate::cq::CqInner;
use crate::sq::SqInner;

/// The ring's file descriptor: a real fd, or only a registered index
/// (`IORING_SETUP_REGISTERED_FD_ONLY`).
#[derive(Debug)]
pub(crate) enum RingFd {
    Owned(OwnedFd),
    Registered(u32),
}

/// A number unique to the calling thread for the life of the process.
///
/// Registered ring fds live in the registering thread's io_uring context
/// (`current->io_uring->registered_rings`): on any other thread the index means nothing,
/// or names another ring. A ring remembers which thread registered it and enters through
/// the plain fd elsewhere.
///
/// A child of `fork()` starts with no io_uring context (the kernel's `copy_process`
/// leaves `io_uring` unset), so none of its parent's registrations: the forking thread
/// gets a new token in the child ([`fork_child`], a `pthread_atfork` handler), and the
/// rings it inherited enter through their plain fd there.
#[inline]
pub(crate) fn thread_token() -> u64 {
    /// The token, which at thread exit forgets the thread's orphaned registrations (the
    /// kernel drops a thread's registered rings when it exits, and so does the engine's
    /// per-thread table).
    struct Token(std::cell::Cell<u64>);
    impl Drop for Token {
        fn drop(&mut self) {
            orphans::forget_thread(self.0.get());
        }
    }
    thread_local!(static TOKEN: Token = {
        at_fork();
        let token = next_token();
        TOKEN_COPY.set(token);
        Token(std::cell::Cell::new(token))
    });
    /// Called in the child of a `fork()` by the thread that forked: its token (and so
    /// every registration of the parent) is not its own there.
    extern "C" fn fork_child() {
        orphans::forked();
        REGISTRATIONS.set(0);
        let token = next_token();
        TOKEN_COPY.set(token);
        let _ = TOKEN.try_with(|t| t.0.set(token));
    }
    /// Installs [`fork_child`] once per process (and so in every child, which inherits
    /// the handlers).
    fn at_fork() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: `fork_child` is an `extern "C" fn()` that only touches this
            // thread's locals and atomics (no lock: another thread of the parent may
            // have held one at the fork).
            let _ = unsafe { libc::pthread_atfork(None, None, Some(fork_child)) };
        });
    }
    // During thread teardown the token may be gone: a number no registration has.
    TOKEN
        .try_with(|t| t.0.get())
        .unwrap_or_else(|_| next_token())
}

/// A token never handed out before (1, 2, …).
fn next_token() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    /// A copy of this thread's [`thread_token`] once it has one (0 before): a plain
    /// value with no destructor, which a submit reads in one load, with no lazy
    /// initialisation or teardown state to check.
    static TOKEN_COPY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// How many ring fds this library has registered in the calling thread's table
    /// and not yet unregistered (rings registered by default, by
    /// [`Ring::register_ring_fd`](crate::Ring::register_ring_fd), or set up
    /// `REGISTERED_FD_ONLY`). A ring registers itself by default only while this is
    /// below [`DEFAULT_REGISTRATIONS`].
    static REGISTRATIONS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether `token`, a [`thread_token`] (never 0), is the calling thread's.
///
/// Reads [`TOKEN_COPY`]: a thread that never asked for its token holds 0 there and
/// owns no token; one that did holds its own, unique for the life of the process.
#[inline(always)]
fn is_thread_token(token: u64) -> bool {
    TOKEN_COPY.with(std::cell::Cell::get) == token
}

/// The kernel's table of registered rings has `IO_RINGFD_REG_MAX` (16) slots per
/// thread; rings register themselves by default only while the library holds fewer
/// than half of them on the thread, so that an explicit registration (or a
/// `REGISTERED_FD_ONLY` ring, or C code using liburing's `io_uring_register_ring_fd`
/// on the same thread) still finds a free slot.
const DEFAULT_REGISTRATIONS: u32 = 8;

/// Which table a registered ring index lives in: the kernel's (per thread), or the
/// engine's bookkeeping copy of it (per thread as well).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RingTable {
    Kernel,
    Engine,
}

/// Registrations of ring fds whose ring was dropped (or unregistered) on a thread other
/// than the one that registered them.
///
/// A registration can only be undone by its own thread, and it holds the ring alive (the
/// kernel's table keeps a reference to the ring's file): without this, a ring dropped on
/// another thread would keep its slot (one of 16) and its memory until the registering
/// thread exits. Such a registration is handed to that thread, which undoes it the next
/// time it enters, registers or builds a ring (one relaxed load of a flag when there is
/// nothing to do), or forgets it when it exits, when the kernel frees it anyway. A
/// registration of a thread that has exited already is forgotten at once.
pub(crate) mod orphans {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{REGISTRATIONS, RingTable, thread_token};
    use crate::sys;

    /// The orphans, and the tokens of the threads that registered a ring and have not
    /// exited (an orphan of any other thread is gone with its thread's table).
    struct Lists {
        orphans: Vec<(u64, u32, RingTable)>,
        live: Vec<u64>,
    }

    /// [`Lists`] behind a lock of our own rather than a `std::sync::Mutex`: in the
    /// child of a `fork()`, the lock may be held by a thread of the parent that does
    /// not exist there, and a child that then built or dropped a ring would wait for
    /// it forever. The `pthread_atfork` child handler ([`forked`]) frees the lock,
    /// and the first holder in the child replaces the lists without reading them
    /// (that thread may have left them half-updated).
    struct Locked(UnsafeCell<Lists>);
    // SAFETY: the lists are only reached through `Guard`, one holder at a time.
    unsafe impl Sync for Locked {}

    static LISTS: Locked = Locked(UnsafeCell::new(Lists {
        orphans: Vec::new(),
        live: Vec::new(),
    }));
    /// The lock of [`LISTS`]: taken with an `Acquire` compare-exchange that pairs with
    /// the `Release` store of the last holder's [`Guard`] drop, so each holder sees
    /// the lists as the last one left them.
    static LOCKED: AtomicBool = AtomicBool::new(false);
    /// Whether `orphans` may be non-empty: a hint read with `Relaxed` on every enter,
    /// so that the common case takes no lock. The lock orders the list itself; a
    /// thread that reads a stale `false` undoes its orphans at its next call.
    static ANY: AtomicBool = AtomicBool::new(false);
    /// Set in the child of a `fork()`: the lists are the parent's, whose threads
    /// (other than the one that forked, which has a new token) do not exist here.
    static FORKED: AtomicBool = AtomicBool::new(false);

    /// The lists, locked until the guard is dropped.
    struct Guard;

    impl std::ops::Deref for Guard {
        type Target = Lists;
        fn deref(&self) -> &Lists {
            // SAFETY: the guard holds the lock.
            unsafe { &*LISTS.0.get() }
        }
    }

    impl std::ops::DerefMut for Guard {
        fn deref_mut(&mut self) -> &mut Lists {
            // SAFETY: the guard holds the lock, and is borrowed mutably.
            unsafe { &mut *LISTS.0.get() }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            // Release: pairs with the next holder's Acquire in `lists`.
            LOCKED.store(false, Ordering::Release);
        }
    }

    fn lists() -> Guard {
        // Acquire: pairs with the Release of the previous holder's Guard drop. Held
        // for a few list operations at a time (a registration, a drop, a thread's
        // exit), so a waiter yields rather than sleeps.
        while LOCKED
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        let mut guard = Guard;
        if FORKED.swap(false, Ordering::Relaxed) {
            // SAFETY: the guard holds the lock. The old vectors are not read or
            // dropped, only forgotten: a thread of the parent may have been changing
            // them at the fork.
            unsafe {
                std::ptr::write(
                    &raw mut *guard,
                    Lists {
                        orphans: Vec::new(),
                        live: Vec::new(),
                    },
                );
            }
            ANY.store(false, Ordering::Relaxed);
        }
        guard
    }

    /// Takes the lock of the lists, for a test of what a forked child does while a
    /// thread of the parent held it.
    #[cfg(test)]
    pub(super) fn hold() -> impl Drop {
        lists()
    }

    /// Notes that the calling thread, whose token is `me`, holds a registration in
    /// `table`, so that an orphan of it is kept until it is undone.
    pub(crate) fn registered(me: u64, table: RingTable) {
        if table == RingTable::Kernel {
            REGISTRATIONS.set(REGISTRATIONS.get() + 1);
        }
        let mut l = lists();
        if !l.live.contains(&me) {
            l.live.push(me);
        }
    }

    /// Hands the registration `index` of thread `owner` in `table` to that thread, or
    /// forgets it if that thread has exited (its table went with it).
    pub(crate) fn adopt(owner: u64, index: u32, table: RingTable) {
        let mut l = lists();
        if !l.live.contains(&owner) {
            return;
        }
        l.orphans.push((owner, index, table));
        ANY.store(true, Ordering::Relaxed);
    }

    /// Whether some thread may have orphaned registrations to undo.
    #[inline]
    pub(crate) fn any() -> bool {
        ANY.load(Ordering::Relaxed)
    }

    /// Undoes the calling thread's orphaned registrations, if any.
    #[inline]
    pub(crate) fn reap() {
        if any() {
            reap_slow();
        }
    }

    #[cold]
    fn reap_slow() {
        let me = thread_token();
        let mine: Vec<(u32, RingTable)> = {
            let mut l = lists();
            let mut mine = Vec::new();
            l.orphans.retain(|&(owner, index, table)| {
                let keep = owner != me;
                if !keep {
                    mine.push((index, table));
                }
                keep
            });
            ANY.store(!l.orphans.is_empty(), Ordering::Relaxed);
            mine
        };
        for (index, table) in mine {
            // Nothing to report to: the ring is gone, and a failure leaves the slot to
            // the thread's exit, as before.
            let _ = unregister(index, table);
        }
    }

    /// Removes the orphans of a thread that exits.
    pub(crate) fn forget_thread(token: u64) {
        let mut l = lists();
        l.live.retain(|&t| t != token);
        l.orphans.retain(|&(owner, _, _)| owner != token);
        ANY.store(!l.orphans.is_empty(), Ordering::Relaxed);
    }

    /// In the child of a `fork()`, where only the forking thread runs: the lists are
    /// stale (see [`FORKED`]), and the lock may be held by a thread that is not there
    /// (see [`Locked`]). The forking thread itself never forks while it holds it.
    pub(crate) fn forked() {
        FORKED.store(true, Ordering::Relaxed);
        ANY.store(false, Ordering::Relaxed);
        // Relaxed: one thread runs in the child; its next `lists` sees FORKED.
        LOCKED.store(false, Ordering::Relaxed);
    }

    /// Undoes registration `index` of the calling thread in `table`.
    pub(crate) fn unregister(index: u32, table: RingTable) -> std::io::Result<()> {
        let up = sys::io_uring_rsrc_update {
            offset: index,
            resv: 0,
            data: 0,
        };
        match table {
            // The registered ring itself is the ring the call goes through
            // (IORING_REGISTER_USE_REGISTERED_RING takes a reference for the call), so
            // this works when no fd of the ring is left.
            RingTable::Kernel => {
                // SAFETY: `up` is one valid io_uring_rsrc_update naming the slot.
                unsafe {
                    sys::syscall::io_uring_register(
                        index as i32,
                        sys::IORING_UNREGISTER_RING_FDS | sys::IORING_REGISTER_USE_REGISTERED_RING,
                        (&raw const up).cast(),
                        1,
                    )
                }?;
                REGISTRATIONS.set(REGISTRATIONS.get().saturating_sub(1));
                Ok(())
            }
            RingTable::Engine => uring_engine::unregister_ring_index(index),
        }
    }
}

/// A number naming one [`Ring`](crate::Ring) for the life of the process, never reused,
/// so that what belongs to a ring (a [`BufRing`](crate::BufRing)'s registration) can
/// tell its ring from another, even one at the same address after the first is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingId(u64);

impl RingId {
    pub(crate) fn next() -> RingId {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        RingId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// [`KernelRing::reg`] of a ring that is not registered: every thread enters through
/// the plain fd.
const PLAIN: u64 = 0;
/// [`KernelRing::reg`] of a ring not registered yet: the first thread that enters it
/// registers it (the default, see [`KernelRing::try_register`]).
const LAZY: u64 = u64::MAX;

/// [`KernelRing::reg`] of a ring registered at `index` in the table of the thread
/// whose [`thread_token`] is `token`.
fn registered_at(token: u64, index: u32) -> u64 {
    debug_assert!(index < 256 && token != 0 && token < (1 << 56));
    (token << 8) | u64::from(index)
}

/// A ring of the kernel's io_uring.
#[derive(Debug)]
pub(crate) struct KernelRing {
    pub(crate) fd: RingFd,
    /// The ring's own fd, or -1 for a `REGISTERED_FD_ONLY` ring, which has none.
    raw: i32,
    /// Whether and where the ring's fd is registered, in one word that a submit reads
    /// with one load: [`PLAIN`], [`LAZY`], or [`registered_at`] `(token, index)`.
    ///
    /// `Relaxed` throughout: the word carries its whole meaning (no other memory is
    /// published with it), and the index in it is only used by the thread whose token
    /// it names, which stored it itself. It changes from `LAZY` once (a
    /// compare-exchange: of two threads entering at once, one registers), otherwise
    /// only through `&mut self`.
    reg: std::sync::atomic::AtomicU64,
    /// Whether [`Submitter::submit_and_wait`] submits and waits in two steps: 0 when
    /// it does (the last try found the completions posted by the submit itself), or
    /// how many more waits go through one `io_uring_enter` with `GETEVENTS` before
    /// trying again ([`INLINE_NEVER`]: never). A hint: `Relaxed`, and a lost update
    /// only moves a try.
    inline_hint: std::sync::atomic::AtomicU8,
}

/// Waits through one `io_uring_enter` with `GETEVENTS` after the completions of a
/// submit were not all there when it returned, before trying the two steps again
/// (see [`Submitter::submit_and_wait`]): at most one wasted system call in this many
/// waits for a ring whose requests never complete inline.
const INLINE_BACKOFF: u8 = 64;
/// [`KernelRing::inline_hint`] of a ring that always submits and waits in one
/// `io_uring_enter` ([`Builder::wait_in_one_enter`](crate::Builder::wait_in_one_enter)).
const INLINE_NEVER: u8 = u8::MAX;

impl KernelRing {
    /// A ring with the fd `fd`; unless `lazy` is false, registered in the table of
    /// the first thread that enters it.
    pub(crate) fn new(fd: RingFd, lazy: bool) -> Self {
        let (raw, reg) = match fd {
            RingFd::Owned(ref owned) => (owned.as_raw_fd(), if lazy { LAZY } else { PLAIN }),
            RingFd::Registered(index) => {
                let me = thread_token();
                orphans::registered(me, RingTable::Kernel);
                (-1, registered_at(me, index))
            }
        };
        KernelRing {
            fd,
            raw,
            reg: std::sync::atomic::AtomicU64::new(reg),
            inline_hint: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// Registers the ring in the table of the first thread that enters it, unless it
    /// is registered already (the default of [`Builder`](crate::Builder)).
    pub(crate) fn register_on_first_enter(&mut self) {
        let w = self.reg.get_mut();
        if *w == PLAIN && self.raw >= 0 {
            *w = LAZY;
        }
    }

    /// Makes [`Submitter::submit_and_wait`] always submit and wait in one call.
    pub(crate) fn wait_in_one_enter(&mut self) {
        *self.inline_hint.get_mut() = INLINE_NEVER;
    }

    /// The real fd, if the ring has one.
    pub(crate) fn raw_fd(&self) -> Option<RawFd> {
        match &self.fd {
            RingFd::Owned(fd) => Some(fd.as_raw_fd()),
            RingFd::Registered(_) => None,
        }
    }

    /// The thread token and index of the ring's registration, if it has one.
    fn registration(&self) -> Option<(u64, u32)> {
        match self.reg.load(std::sync::atomic::Ordering::Relaxed) {
            PLAIN | LAZY => None,
            w => Some((w >> 8, (w & 0xff) as u32)),
        }
    }

    /// The index of the ring's fd in the calling thread's table of registered rings,
    /// if it is registered there (it then enters through the index here).
    pub(crate) fn registered_index(&self) -> Option<u32> {
        self.registration()
            .filter(|&(owner, _)| owner == thread_token())
            .map(|(_, index)| index)
    }

    /// The fd and flag to enter with: the registered index on the thread that
    /// registered it, the plain fd on any other. A ring not registered yet
    /// ([`LAZY`]) is registered here first.
    fn enter_target(&self) -> io::Result<(i32, u32)> {
        if self.reg.load(std::sync::atomic::Ordering::Relaxed) == LAZY {
            self.try_register();
        }
        match self.registration() {
            None => Ok((self.raw, 0)),
            Some((owner, index)) if owner == thread_token() => {
                Ok((index as i32, sys::IORING_ENTER_REGISTERED_RING))
            }
            Some(_) if self.raw >= 0 => Ok((self.raw, 0)),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a REGISTERED_FD_ONLY ring can only be used on the thread that created it \
                 (its registered index belongs to that thread)",
            )),
        }
    }

    /// The default registration, at the first enter: registers the ring fd in the
    /// calling thread's table, unless the library holds [`DEFAULT_REGISTRATIONS`] of
    /// its slots already. Leaves the word `PLAIN` when it cannot (the table is full,
    /// `EINVAL` before Linux 5.18, a restricted ring's `EACCES`, …): nothing is
    /// reported, the ring enters through its fd. Of two threads entering at once, one
    /// registers it; the other undoes its own registration.
    #[cold]
    #[inline(never)]
    fn try_register(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let index = if REGISTRATIONS.get() < DEFAULT_REGISTRATIONS {
            register_fd(self.raw).ok()
        } else {
            None
        };
        let Some(index) = index else {
            let _ = self.reg.compare_exchange(LAZY, PLAIN, Relaxed, Relaxed);
            return;
        };
        let me = thread_token();
        if self
            .reg
            .compare_exchange(LAZY, registered_at(me, index), Relaxed, Relaxed)
            .is_ok()
        {
            orphans::registered(me, RingTable::Kernel);
        } else {
            let up = sys::io_uring_rsrc_update {
                offset: index,
                resv: 0,
                data: 0,
            };
            // SAFETY: one valid io_uring_rsrc_update naming our own slot.
            let _ = unsafe {
                sys::syscall::io_uring_register(
                    self.raw,
                    sys::IORING_UNREGISTER_RING_FDS,
                    (&raw const up).cast(),
                    1,
                )
            };
        }
    }

    /// `io_uring_register(2)` on this ring, through the registered index when the ring
    /// has no fd.
    ///
    /// # Safety
    /// As [`sys::syscall::io_uring_register`].
    pub(crate) unsafe fn register(
        &self,
        opcode: u32,
        arg: *const c_void,
        nr_args: u32,
    ) -> io::Result<u32> {
        let (fd, op) = match &self.fd {
            RingFd::Owned(fd) => (fd.as_raw_fd(), opcode),
            RingFd::Registered(i) => {
                self.enter_target()?;
                (*i as i32, opcode | sys::IORING_REGISTER_USE_REGISTERED_RING)
            }
        };
        // SAFETY: the caller's contract.
        unsafe { sys::syscall::io_uring_register(fd, op, arg, nr_args) }
    }

    /// Registers the ring fd in the calling thread's table (if it is not registered
    /// there already) and enters through the index on this thread from now on. A
    /// registration in another thread's table is handed back to that thread first.
    pub(crate) fn register_ring_fd(&mut self) -> io::Result<u32> {
        let me = thread_token();
        match (self.registration(), &self.fd) {
            (Some((owner, index)), _) if owner == me => return Ok(index),
            (Some((_, index)), RingFd::Registered(_)) => return Ok(index),
            (Some(_), RingFd::Owned(_)) => self.unregister_ring_fd()?,
            (None, _) => {}
        }
        let index = register_fd(self.raw)?;
        *self.reg.get_mut() = registered_at(me, index);
        orphans::registered(me, RingTable::Kernel);
        Ok(index)
    }

    /// Unregisters the ring fd, if registered, and enters through the fd from now on
    /// (no default registration either). On a thread other than the one that
    /// registered it, the registration is handed to that thread ([`orphans`]).
    pub(crate) fn unregister_ring_fd(&mut self) -> io::Result<()> {
        let Some((owner, index)) = self.registration() else {
            *self.reg.get_mut() = PLAIN;
            return Ok(());
        };
        if owner == thread_token() {
            orphans::unregister(index, RingTable::Kernel)?;
        } else {
            orphans::adopt(owner, index, RingTable::Kernel);
        }
        if let RingFd::Owned(_) = &self.fd {
            *self.reg.get_mut() = PLAIN;
        }
        Ok(())
    }
}

/// Registers the ring fd `fd` in the calling thread's table, at any free slot
/// (`IORING_REGISTER_RING_FDS`, offset -1); the slot.
fn register_fd(fd: RawFd) -> io::Result<u32> {
    let mut up = sys::io_uring_rsrc_update {
        offset: u32::MAX,
        resv: 0,
        data: fd as u64,
    };
    // SAFETY: `up` is a valid io_uring_rsrc_update; offset -1 asks for any slot, which
    // the kernel writes back into it.
    let n = unsafe {
        sys::syscall::io_uring_register(fd, sys::IORING_REGISTER_RING_FDS, (&raw mut up).cast(), 1)
    }?;
    if n != 1 {
        return Err(io::Error::other(
            "IORING_REGISTER_RING_FDS registered no fd",
        ));
    }
    Ok(up.offset)
}

impl Drop for KernelRing {
    fn drop(&mut self) {
        // A registration holds the ring alive (the kernel's table keeps a reference to
        // its file), so closing the fd is not enough: undo it here, or hand it to the
        // thread that made it. Failing on the owner thread leaves it to that thread's
        // exit (nothing better to do from a destructor).
        let _ = self.unregister_ring_fd();
    }
}

/// The arguments of one `io_uring_enter2(2)` call, as [`Submitter::enter`] takes them.
#[derive(Clone, Copy)]
struct EnterArgs {
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    size: usize,
}

/// Where a ring's submissions go: the kernel, or the user-space engine.
#[derive(Debug)]
pub(crate) enum Driver {
    Kernel(KernelRing),
    Engine(uring_engine::EngineRing),
}

impl Driver {
    /// The fd and flag to enter a kernel ring with in the common cases, with no
    /// orphaned registration waiting to be undone: the plain fd (valid on every
    /// thread), or the registered index on the thread that registered it, with
    /// `IORING_ENTER_REGISTERED_RING`. [`Submitter::enter`] makes that system call
    /// inline and leaves everything else to [`enter_other`](Self::enter_other).
    #[inline(always)]
    fn fast_target(&self) -> Option<(i32, u32)> {
        match self {
            Driver::Kernel(k) if !orphans::any() => {
                let w = k.reg.load(std::sync::atomic::Ordering::Relaxed);
                if w == PLAIN {
                    // SAFETY: a ring whose word is `PLAIN` has its own fd in `raw`
                    // (a `REGISTERED_FD_ONLY` ring, whose `raw` is -1, is never
                    // `PLAIN`), never -1. Told to the compiler, it drops the check
                    // that `BorrowedFd::borrow_raw` makes on every call.
                    unsafe { std::hint::assert_unchecked(k.raw != -1) };
                    Some((k.raw, 0))
                } else if is_thread_token(w >> 8) {
                    // A registered index (0..16), on the thread whose table holds it
                    // (`LAZY` names no thread: its token bits are all ones).
                    Some(((w & 0xff) as i32, sys::IORING_ENTER_REGISTERED_RING))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// `io_uring_enter2(2)` on the kernel's ring or the engine's, in the cases
    /// [`fast_target`](Self::fast_target) leaves out: the first enter of a ring that
    /// registers itself then, a registered ring fd used on another thread than the
    /// one that registered it (whose index means nothing there), orphaned
    /// registrations to undo first, the engine.
    ///
    /// Marked cold, so that the compiler lays out and optimizes its callers for the
    /// plain case (without it, the arguments were stored to memory before the test).
    ///
    /// # Safety
    /// As [`Submitter::enter`].
    #[cold]
    #[inline(never)]
    unsafe fn enter_other(&self, args: EnterArgs) -> io::Result<u32> {
        orphans::reap();
        let EnterArgs {
            to_submit,
            min_complete,
            flags,
            arg,
            size,
        } = args;
        match self {
            Driver::Kernel(k) => {
                let (fd, reg) = k.enter_target()?;
                // SAFETY: fd is this ring's fd, or its index registered by this very
                // thread (`reg` says which); arg/size are the caller's.
                unsafe {
                    sys::syscall::io_uring_enter(
                        fd,
                        to_submit,
                        min_complete,
                        flags | reg,
                        arg,
                        size,
                    )
                }
            }
            // SAFETY: the caller's contract, which is the engine's too.
            Driver::Engine(e) => unsafe { e.enter(to_submit, min_complete, flags, arg, size) },
        }
    }

    pub(crate) fn kernel(&self) -> Option<&KernelRing> {
        match self {
            Driver::Kernel(k) => Some(k),
            Driver::Engine(_) => None,
        }
    }

    pub(crate) fn kernel_mut(&mut self) -> Option<&mut KernelRing> {
        match self {
            Driver::Kernel(k) => Some(k),
            Driver::Engine(_) => None,
        }
    }
}

/// [`Submitter::submit_and_wait`] with SQPOLL: the poll thread takes the SQEs, so a
/// system call is made only to wake it or to wait, and what is reported as submitted
/// is what was handed to it.
///
/// Takes the submitter's fields, not `&Submitter`: a call with the address of the
/// caller's submitter would keep it (and often the SQ and CQ views beside it) in
/// memory across the whole loop around the call, instead of in registers.
#[inline(never)]
fn submit_and_wait_sqpoll(
    backend: &Driver,
    sq: &SqInner,
    cq: &CqInner,
    setup_flags: u32,
    ring: RingId,
    want: usize,
) -> io::Result<usize> {
    let submitter = Submitter::new(backend, sq, cq, setup_flags, ring);
    let to_submit = submitter.pending();
    let mut flags = 0;
    if want > 0 || submitter.cq_needs_enter() {
        flags |= sys::IORING_ENTER_GETEVENTS;
    }
    if to_submit > 0 && sq.need_wakeup() {
        flags |= sys::IORING_ENTER_SQ_WAKEUP;
    }
    if flags != 0 {
        let want = u32::try_from(want).unwrap_or(u32::MAX);
        // SAFETY: no ext arg; pushed SQEs carry the push contract.
        unsafe { submitter.enter(to_submit, want, flags, ptr::null(), 0) }?;
    }
    Ok(to_submit as usize)
}

/// Arguments of a wait: a timeout, a minimum wait, a signal mask.
///
/// Maps to `struct io_uring_getevents_arg` with `IORING_ENTER_EXT_ARG`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitArgs<'a> {
    timeout: Option<Duration>,
    absolute: bool,
    min_wait: Option<Duration>,
    sigmask: Option<&'a libc::sigset_t>,
}

impl<'a> WaitArgs<'a> {
    /// No timeout, no minimum wait, the current signal mask.
    pub fn new() -> Self {
        WaitArgs::default()
    }

    /// Give up after `timeout`; the wait then fails with `ETIME`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout is an absolute time on the ring's clock (`CLOCK_MONOTONIC` unless
    /// registered otherwise) rather than a duration (`IORING_ENTER_ABS_TIMER`).
    pub fn absolute(mut self) -> Self {
        self.absolute = true;
        self
    }

    /// Wait at least this long for the full count before returning with whatever has
    /// completed, if anything (`min_wait_usec`, `IORING_FEAT_MIN_TIMEOUT`).
    pub fn min_wait(mut self, min: Duration) -> Self {
        self.min_wait = Some(min);
        self
    }

    /// The signal mask to apply while waiting, as in pselect(2).
    pub fn sigmask(mut self, mask: &'a libc::sigset_t) -> Self {
        self.sigmask = Some(mask);
        self
    }
}

/// Enters the kernel on behalf of a ring: submits what the SQ holds, waits for
/// completions. Cheap to copy; borrowed from the [`Ring`](crate::Ring).
#[derive(Clone, Copy)]
pub struct Submitter<'a> {
    backend: &'a Driver,
    sq: &'a SqInner,
    cq: &'a CqInner,
    setup_flags: u32,
    ring: RingId,
}

impl std::fmt::Debug for Submitter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter")
            .field("setup_flags", &self.setup_flags)
            .finish()
    }
}

impl<'a> Submitter<'a> {
    pub(crate) fn new(
        backend: &'a Driver,
        sq: &'a SqInner,
        cq: &'a CqInner,
        setup_flags: u32,
        ring: RingId,
    ) -> Self {
        Submitter {
            backend,
            sq,
            cq,
            setup_flags,
            ring,
        }
    }

    /// Which ring this submitter enters.
    pub(crate) fn ring_id(&self) -> RingId {
        self.ring
    }

    #[inline]
    fn is(&self, flag: u32) -> bool {
        self.setup_flags & flag != 0
    }

    /// SQEs published (synced) and not yet consumed by the kernel.
    #[inline]
    fn pending(&self) -> u32 {
        self.sq.pending()
    }

    /// Whether the kernel must be entered with `GETEVENTS` to make completions
    /// visible: overflowed CQEs to flush, deferred task work to run, or IOPOLL, whose
    /// completions are only found by polling (liburing's `cq_ring_needs_enter`).
    #[inline]
    fn cq_needs_enter(&self) -> bool {
        self.is(sys::IORING_SETUP_IOPOLL)
            || self.sq.flags() & (sys::IORING_SQ_CQ_OVERFLOW | sys::IORING_SQ_TASKRUN) != 0
    }

    /// Raw `io_uring_enter2(2)`.
    ///
    /// # Errors
    /// The kernel's errno.
    ///
    /// # Safety
    /// `arg`/`size` must be what `flags` announce (see [`sys::syscall::io_uring_enter`]),
    /// and every SQE published must reference memory valid until it completes.
    #[inline(always)]
    pub unsafe fn enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const c_void,
        size: usize,
    ) -> io::Result<u32> {
        if let Some((fd, registered)) = self.backend.fast_target() {
            // The system call inline (rustix's `syscall` instruction): a submit in a
            // loop makes no function call.
            // SAFETY: `fd` is this ring's own fd, or its index registered by this
            // very thread (`registered` says which); the rest is the caller's contract.
            return unsafe {
                sys::syscall::io_uring_enter(
                    fd,
                    to_submit,
                    min_complete,
                    flags | registered,
                    arg,
                    size,
                )
            };
        }
        // The arguments are packed (stored to memory) only on this path.
        let args = EnterArgs {
            to_submit,
            min_complete,
            flags,
            arg,
            size,
        };
        // Through the driver, not `self`: the call then takes no address inside the
        // caller's `Submitter`, which the compiler can keep in registers.
        // SAFETY: the caller's contract.
        unsafe { self.backend.enter_other(args) }
    }

    /// Submits the published SQEs without waiting. Returns how many were submitted.
    ///
    /// Maps to liburing's `io_uring_submit`.
    ///
    /// # Errors
    /// The kernel's errno (`EBUSY`/`EAGAIN` when it cannot take more now, `EBADR` if
    /// completions were lost, `EINTR`).
    #[inline]
    pub fn submit(&self) -> io::Result<usize> {
        self.submit_and_wait(0)
    }

    /// Submits the published SQEs and waits until at least `want` completions are in
    /// the CQ. Returns how many SQEs were submitted.
    ///
    /// With SQPOLL, no system call is made unless the poll thread needs waking or a
    /// wait is asked for. Overflowed completions are flushed into the CQ on the way.
    /// Maps to liburing's `io_uring_submit_and_wait`.
    ///
    /// On a kernel ring (without `DEFER_TASKRUN`, whose completions are only posted
    /// by a wait), waiting for no more than it submits, this enters the kernel to
    /// submit only, and waits (a second `io_uring_enter`, with `GETEVENTS`) only if
    /// the CQ is then short: requests that complete inline (NOPs, reads served from
    /// the page cache) have posted their CQEs when the submit returns, and the kernel
    /// is spared its wait path. After a submit whose completions were not all there,
    /// the next 64 such calls submit and wait in one system call, as liburing does
    /// (always, on a ring built with
    /// [`wait_in_one_enter`](crate::Builder::wait_in_one_enter)).
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    #[inline(always)]
    pub fn submit_and_wait(&self, want: usize) -> io::Result<usize> {
        if self.is(sys::IORING_SETUP_SQPOLL) {
            return submit_and_wait_sqpoll(
                self.backend,
                self.sq,
                self.cq,
                self.setup_flags,
                self.ring,
                want,
            );
        }
        let to_submit = self.pending();
        let needs_enter = self.cq_needs_enter();
        let (mut flags, mut min_complete) = (0, 0);
        if needs_enter {
            flags = sys::IORING_ENTER_GETEVENTS;
        }
        // Whether to submit only, and wait after only if the CQ is short.
        let mut then_wait = false;
        if want > 0 {
            then_wait = want <= to_submit as usize && !needs_enter && self.inline_likely();
            if !then_wait {
                flags = sys::IORING_ENTER_GETEVENTS;
                min_complete = u32::try_from(want).unwrap_or(u32::MAX);
            }
        }
        if to_submit == 0 && flags == 0 {
            return Ok(0);
        }
        // SAFETY: no ext arg; pushed SQEs carry the push contract.
        let n = unsafe { self.enter(to_submit, min_complete, flags, ptr::null(), 0) }?;
        // The CQ counted as the kernel's wait counts it (`__io_cqring_events_user`:
        // the shared tail less the shared head), the tail with `Acquire` as a reap
        // loads it (pairs with the kernel's release of the CQ tail after posting).
        // A submit that took fewer SQEs than asked returns without waiting, as the
        // kernel's one-call form does.
        if then_wait
            && n == to_submit
            && (self.cq.tail().wrapping_sub(self.cq.head()) as usize) < want
        {
            self.wait_after_submit(want);
        }
        Ok(n as usize)
    }

    /// Whether [`submit_and_wait`](Self::submit_and_wait) should submit and wait in
    /// two steps: on a kernel ring without `DEFER_TASKRUN` (whose completions only a
    /// wait posts), unless a recent submit's completions were not there when it
    /// returned (see [`KernelRing::inline_hint`]).
    #[inline(always)]
    fn inline_likely(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let Driver::Kernel(k) = self.backend else {
            return false;
        };
        if self.is(sys::IORING_SETUP_DEFER_TASKRUN) {
            return false;
        }
        let hint = k.inline_hint.load(Relaxed);
        if hint != 0 && hint != INLINE_NEVER {
            k.inline_hint.store(hint - 1, Relaxed);
        }
        hint == 0
    }

    /// The second step of [`submit_and_wait`](Self::submit_and_wait) when the
    /// submit's completions were not all there: waits for `want` (`GETEVENTS`), and
    /// makes the next [`INLINE_BACKOFF`] such calls wait in the submit's own call.
    ///
    /// An error of the wait (`EINTR`) is not reported: the SQEs were submitted, and
    /// the kernel's one-call form reports those then too (`io_uring_enter` returns
    /// the wait's error only when it submitted nothing).
    #[cold]
    #[inline(never)]
    fn wait_after_submit(&self, want: usize) {
        if let Driver::Kernel(k) = self.backend {
            k.inline_hint
                .store(INLINE_BACKOFF, std::sync::atomic::Ordering::Relaxed);
        }
        let want = u32::try_from(want).unwrap_or(u32::MAX);
        // SAFETY: no ext arg, nothing new to submit.
        let _ = unsafe { self.enter(0, want, sys::IORING_ENTER_GETEVENTS, ptr::null(), 0) };
    }

    /// Submits and waits for `want` completions with a timeout, minimum wait or
    /// signal mask (`IORING_ENTER_EXT_ARG`, `IORING_FEAT_EXT_ARG`).
    ///
    /// Maps to liburing's `io_uring_submit_and_wait_min_timeout` /
    /// `io_uring_wait_cqes`.
    ///
    /// # Errors
    /// `ETIME` when the timeout passes before `want` completions arrive (SQEs are still
    /// submitted); `EINVAL` if the kernel lacks `EXT_ARG` (or `MIN_TIMEOUT` for a
    /// minimum wait); the kernel's other errnos as for [`submit`](Self::submit).
    pub fn submit_with_args(&self, want: usize, args: &WaitArgs<'_>) -> io::Result<usize> {
        let to_submit = self.pending();
        let mut flags = sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_EXT_ARG;
        if self.is(sys::IORING_SETUP_SQPOLL) && to_submit > 0 && self.sq.need_wakeup() {
            flags |= sys::IORING_ENTER_SQ_WAKEUP;
        }
        if args.absolute {
            flags |= sys::IORING_ENTER_ABS_TIMER;
        }
        // Saturating: a Duration past i64::MAX seconds would turn negative (EINVAL);
        // i64::MAX seconds already means never.
        let ts = args.timeout.map(|t| sys::__kernel_timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: t.subsec_nanos() as i64,
        });
        let arg = sys::io_uring_getevents_arg {
            sigmask: args.sigmask.map_or(0, |m| ptr::from_ref(m) as u64),
            sigmask_sz: if args.sigmask.is_some() { 8 } else { 0 },
            min_wait_usec: args
                .min_wait
                .map_or(0, |m| m.as_micros().min(u32::MAX as u128) as u32),
            ts: ts.as_ref().map_or(0, |t| ptr::from_ref(t) as u64),
        };
        // SAFETY: `arg` (and `ts`, which it points to) live across the call; size is
        // its size; the sigmask (kernel's 8-byte sigset) outlives the call by borrow.
        let n = unsafe {
            self.enter(
                to_submit,
                want as u32,
                flags,
                (&raw const arg).cast(),
                size_of::<sys::io_uring_getevents_arg>(),
            )
        }?;
        Ok(if self.is(sys::IORING_SETUP_SQPOLL) {
            to_submit as usize
        } else {
            n as usize
        })
    }

    /// Waits for `want` completions, submitting nothing new beyond what is published.
    ///
    /// # Errors
    /// As [`submit_and_wait`](Self::submit_and_wait).
    pub fn wait(&self, want: usize) -> io::Result<usize> {
        self.submit_and_wait(want)
    }

    /// Waits for `want` completions or until `timeout` passes (`ETIME`).
    ///
    /// # Errors
    /// As [`submit_with_args`](Self::submit_with_args).
    pub fn wait_timeout(&self, want: usize, timeout: Duration) -> io::Result<usize> {
        self.submit_with_args(want, &WaitArgs::new().timeout(timeout))
    }

    /// Flushes completions the kernel holds back (CQ overflow, deferred task work) into
    /// the CQ, without waiting (`io_uring_enter` with `GETEVENTS`, min 0).
    ///
    /// Maps to liburing's `io_uring_get_events`.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn get_events(&self) -> io::Result<()> {
        // SAFETY: no arg.
        unsafe { self.enter(0, 0, sys::IORING_ENTER_GETEVENTS, ptr::null(), 0) }.map(drop)
    }

    /// Wakes the SQ poll thread (`IORING_ENTER_SQ_WAKEUP`).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn squeue_wakeup(&self) -> io::Result<()> {
        // SAFETY: no arg.
        unsafe { self.enter(0, 0, sys::IORING_ENTER_SQ_WAKEUP, ptr::null(), 0) }.map(drop)
    }

    /// With SQPOLL, waits until the SQ has a free entry (`IORING_ENTER_SQ_WAIT`).
    ///
    /// Maps to liburing's `io_uring_sqring_wait`.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn squeue_wait(&self) -> io::Result<()> {
        // SAFETY: no arg.
        unsafe { self.enter(0, 0, sys::IORING_ENTER_SQ_WAIT, ptr::null(), 0) }.map(drop)
    }

    /// Whether the SQ poll thread sleeps (`IORING_SQ_NEED_WAKEUP`).
    pub fn sq_need_wakeup(&self) -> bool {
        self.sq.need_wakeup()
    }

    /// Whether completions wait in the kernel's overflow list (`IORING_SQ_CQ_OVERFLOW`).
    pub fn cq_overflow(&self) -> bool {
        self.sq.flags() & sys::IORING_SQ_CQ_OVERFLOW != 0
    }

    /// Raw `io_uring_register(2)` on this ring.
    ///
    /// # Errors
    /// The kernel's errno.
    ///
    /// # Safety
    /// `arg` must point to what `opcode` expects, `nr_args` items of it, valid as long
    /// as the registration needs.
    pub unsafe fn register_raw(
        &self,
        opcode: u32,
        arg: *const c_void,
        nr_args: u32,
    ) -> io::Result<u32> {
        match self.backend {
            // SAFETY: the caller's contract.
            Driver::Kernel(k) => unsafe { k.register(opcode, arg, nr_args) },
            // SAFETY: the caller's contract, which is the engine's too.
            Driver::Engine(e) => unsafe { e.register(opcode, arg, nr_args) },
        }
    }

    /// Enables a ring created with [`disabled`](crate::Builder::disabled)
    /// (`IORING_REGISTER_ENABLE_RINGS`).
    ///
    /// # Errors
    /// `EBADFD` if the ring is not disabled.
    pub fn enable_rings(&self) -> io::Result<()> {
        // SAFETY: ENABLE_RINGS takes no argument.
        unsafe { self.register_raw(sys::IORING_REGISTER_ENABLE_RINGS, ptr::null(), 0) }.map(drop)
    }

    /// Which opcodes this ring's kernel supports (`IORING_REGISTER_PROBE`).
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` before 5.6).
    pub fn probe(&self) -> io::Result<crate::Probe> {
        crate::Probe::from_submitter(self)
    }
}

#[cfg(test)]
mod tests {
    use super::orphans;
    use crate::{Backend, Ring, opcode};

    /// A kernel ring, or `None` (said on stderr) where the kernel refuses io_uring
    /// and `URING_REQUIRE_KERNEL` is not set.
    fn kernel_ring() -> Option<Ring> {
        match Ring::builder().backend_exact(Backend::Kernel).build(4) {
            Ok(ring) => Some(ring),
            Err(e) if std::env::var_os("URING_REQUIRE_KERNEL").is_none() => {
                eprintln!("SKIP: no kernel ring: {e}");
                None
            }
            Err(e) => panic!("kernel ring: {e}"),
        }
    }

    fn nop_through(ring: &mut Ring) {
        // SAFETY: a NOP references no memory.
        unsafe { ring.submission().push(&opcode::Nop::new().build()) }.unwrap();
        assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
        assert!(ring.completion().next().is_some());
    }

    #[test]
    fn a_forked_child_is_not_locked_out_by_a_thread_of_its_parent() {
        // A thread of the parent holds the lock of the orphan lists at the fork: the
        // child, where that thread does not exist, must still register (here a ring's
        // registration is only noted: the lock is the point).
        let _ = super::thread_token(); // installs the pthread_atfork handler
        let (held, holding) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _guard = orphans::hold();
            held.send(()).unwrap();
            released.recv().unwrap();
        });
        holding.recv().unwrap();
        // SAFETY: fork(2); the child only notes a registration (glibc keeps malloc
        // usable in a child) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            orphans::registered(super::thread_token(), super::RingTable::Engine);
            // SAFETY: leaves the child at once.
            unsafe { libc::_exit(0) };
        }
        release.send(()).unwrap();
        holder.join().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut status = 0;
        loop {
            // SAFETY: our own child; WNOHANG returns at once.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if std::time::Instant::now() > deadline {
                // SAFETY: our own child, stuck.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                // SAFETY: reaps it.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                panic!("the child waited for a lock held by a thread it does not have");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn a_registration_is_handed_to_its_live_thread_and_forgotten_with_a_dead_one() {
        // (The only test of this binary that registers rings, so nothing else sets
        // the orphans' flag meanwhile.)
        let Some(ring) = kernel_ring() else { return };
        // Registered by a thread that then exits: the kernel dropped that thread's
        // table, so dropping the ring leaves no orphan behind (which would send every
        // enter of the process down the slow path for good).
        let ring = std::thread::spawn(move || {
            let mut ring = ring;
            nop_through(&mut ring);
            assert!(ring.registered_ring_index().is_some());
            ring
        })
        .join()
        .unwrap();
        drop(ring);
        assert!(!orphans::any(), "an orphan of an exited thread was kept");

        // Registered by a thread that lives on: its registration is handed to it, and
        // undone at its next build.
        let (to_owner, from_main) = std::sync::mpsc::channel::<()>();
        let (to_main, from_owner) = std::sync::mpsc::channel::<Ring>();
        let owner = std::thread::spawn(move || {
            let mut ring = kernel_ring().unwrap();
            nop_through(&mut ring);
            let index = ring.registered_ring_index();
            to_main.send(ring).unwrap();
            from_main.recv().unwrap();
            let mut next = kernel_ring().unwrap();
            nop_through(&mut next);
            assert_eq!(next.registered_ring_index(), index, "the slot was freed");
        });
        drop(from_owner.recv().unwrap());
        assert!(orphans::any(), "the registration was handed to its thread");
        to_owner.send(()).unwrap();
        owner.join().unwrap();
        assert!(!orphans::any(), "the owner undid it");
    }
}
