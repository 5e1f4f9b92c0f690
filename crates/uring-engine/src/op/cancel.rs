//! `IORING_OP_ASYNC_CANCEL` and `IORING_REGISTER_SYNC_CANCEL`, with the matching and
//! codes of `io_uring/cancel.c`: by `user_data` (the default), by file
//! (`IORING_ASYNC_CANCEL_FD`, `_FD_FIXED` for a registered index), by opcode
//! (`_OP`), or anything (`_ANY`); the first match, or every one (`_ALL`, implied by
//! `_ANY`).
//!
//! Where requests are found: parked ones (queued for a worker, waiting for readiness,
//! pending timeouts — `Engine::take_parked`) are taken out and complete with
//! `-ECANCELED`, and the cancel says 0; one running in a worker is interrupted (its
//! system call returns `EINTR`) and the cancel says `-EALREADY`, as io-wq's running
//! work. A request moves between those places while it is looked for (a worker hands
//! it to the reactor to wait for readiness; the reactor sends it to a worker when it
//! must block): [`find`] looks in the order it moves, and waits for a move in
//! progress, so it is found once, wherever it is. Futex and waitid waits, which the
//! kernel parks on wait queues and the engine blocks in a worker, count as found and
//! complete with `-ECANCELED`, with the kernel's own matching (by `user_data` or
//! `_ANY` only; never by file) and result: 1 (their cancel functions return a
//! count), and once per kind towards an `_ALL` count.
//! Requests held back by `IOSQE_IO_DRAIN`, or linked behind another, are not
//! cancellable, as in the kernel.
//!
//! Differences: with `_ALL`/`_ANY` the result counts every parked or running request
//! cancelled; the kernel counts all pending io-wq work of one pass as one, and
//! running io-wq work not at all. A request running in a worker is matched by file
//! through the fd number of its SQE (a fixed-file request by its index).
use std::sync::Arc;
use std::time::{Duration, Instant};

use uring_sys as sys;

use super::{Mode, Step};
use crate::engine::Engine;
use crate::req::Req;
use crate::timer::{ts_ns, waits_in_worker};
use crate::wq::Running;

/// `CANCEL_FLAGS`.
const CANCEL_FLAGS: u32 = sys::IORING_ASYNC_CANCEL_ALL
    | sys::IORING_ASYNC_CANCEL_FD
    | sys::IORING_ASYNC_CANCEL_ANY
    | sys::IORING_ASYNC_CANCEL_FD_FIXED
    | sys::IORING_ASYNC_CANCEL_USERDATA
    | sys::IORING_ASYNC_CANCEL_OP;

/// What to cancel (`struct io_cancel_data`); `ASYNC_CANCEL`'s prep keeps it, with the
/// file still unresolved (`struct io_cancel`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub(crate) data: u64,
    pub(crate) flags: u32,
    /// The file to match (resolved: the registered file's descriptor for `_FD_FIXED`).
    pub(crate) file: i32,
    /// The fd as the SQE gave it (a running request shows its SQE's fd).
    pub(crate) sqe_fd: i32,
    pub(crate) opcode: u8,
}

impl Key {
    /// `io_cancel_req_match`, with the futex/waitid rule for those opcodes.
    fn matches(&self, user_data: u64, opcode: u8, same_file: impl FnOnce() -> bool) -> bool {
        let f = self.flags;
        if waits_in_worker(opcode) {
            // io_futex_cancel / io_waitid_cancel.
            if f & (sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_FD_FIXED) != 0 {
                return false;
            }
            return f & sys::IORING_ASYNC_CANCEL_ANY != 0 || user_data == self.data;
        }
        if f & sys::IORING_ASYNC_CANCEL_ANY != 0 {
            return true;
        }
        let by_user_data = f & sys::IORING_ASYNC_CANCEL_USERDATA != 0
            || f & (sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_OP) == 0;
        if f & sys::IORING_ASYNC_CANCEL_OP != 0 && opcode != self.opcode {
            return false;
        }
        if by_user_data && user_data != self.data {
            return false;
        }
        f & sys::IORING_ASYNC_CANCEL_FD == 0 || same_file()
    }

    pub(crate) fn matches_req(&self, r: &Req) -> bool {
        self.matches(r.user_data(), r.opcode(), || same_file(r.fd, self.file))
    }

    fn matches_running(&self, user_data: u64, fd: i32, opcode: u8) -> bool {
        self.matches(user_data, opcode, || fd == self.sqe_fd)
    }

    fn all(&self) -> bool {
        self.flags & (sys::IORING_ASYNC_CANCEL_ALL | sys::IORING_ASYNC_CANCEL_ANY) != 0
    }
}

/// Whether two descriptors name the same open file (the kernel compares `struct
/// file`): equal numbers, or `kcmp(KCMP_FILE)` says so (a registered file is a
/// duplicate of the application's).
pub(crate) fn same_file(a: i32, b: i32) -> bool {
    if a < 0 || b < 0 {
        return false;
    }
    if a == b {
        return true;
    }
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp compares two descriptors of this process; no memory is passed.
    let r = unsafe {
        let pid = libc::getpid() as libc::c_long;
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            a as libc::c_long,
            b as libc::c_long,
        )
    };
    r == 0
}

/// Resolves the file of a cancel by fd: a registered index (`fixed`) or a
/// descriptor that must be open (`-EBADF`).
fn resolve_file(e: &Engine, fd: i32, fixed: bool) -> Result<i32, i32> {
    if fixed {
        let f = e.files.read().expect("file table").get(fd as u32);
        f.map(|f| std::os::fd::AsRawFd::as_raw_fd(&*f))
            .ok_or(-libc::EBADF)
    } else {
        // SAFETY: F_GETFD on any integer only asks whether it is open.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            Err(-libc::EBADF)
        } else {
            Ok(fd)
        }
    }
}

/// What [`find`] took out of its place, and interrupted in the workers.
pub(crate) struct Found {
    /// Parked requests taken out: the caller completes them (`-ECANCELED`).
    pub(crate) taken: Vec<Box<Req>>,
    /// Requests running in a worker, flagged and interrupted.
    pub(crate) running: Vec<Running>,
}

/// Looks for the requests matching `parked` (where they wait) and `running` (in a
/// worker): the first, or every one (`all`). A request moves while it is looked
/// for, so the places are looked at in the order it moves through them: the parked
/// requests (the reactor waits for the one it is issuing, which may go to the
/// worker pool), the pool's queue again, the workers (which wait for one handing
/// its request over), the parked requests again (where a handed-over request
/// went). Like `io_try_cancel`, a running match does not end the search: a parked
/// one is still taken (without `all`, the kernel's poll cancellation after io-wq's
/// `-EALREADY`).
///
/// One move goes against that order: the reactor sending a request whose retry must
/// block to the worker pool (looked at before the reactor). A request doing that
/// after the workers were looked at, having come back to the reactor from a worker
/// meanwhile, passes behind every look; so when the reactor sent anything to the
/// pool during a search that leaves something unfound (nothing at all, or with
/// `all` anything), the search is made again ([`Reactor::moves`]), skipping the
/// running requests it interrupted already. Each further search needs another
/// such move during the last one.
///
/// [`Reactor::moves`]: crate::reactor::Reactor::moves
pub(crate) fn find(
    e: &Arc<Engine>,
    parked: &mut dyn FnMut(&Req) -> bool,
    running: &mut dyn FnMut(&Running) -> bool,
    all: bool,
) -> Found {
    let mut found = Found {
        taken: Vec::new(),
        running: Vec::new(),
    };
    loop {
        let moves = e.reactor.moves();
        let mut taken = e.take_parked(parked, all);
        hooks::looked(Look::Parked);
        if taken.is_empty() || all {
            taken.extend(e.wq.take_queued(&mut *parked, all));
        }
        hooks::looked(Look::Queued);
        if !taken.is_empty() && !all {
            found.taken.extend(taken);
            return found;
        }
        let seen = &found.running;
        let more = e.wq.interrupt_running(
            |r| !seen.iter().any(|s| s.generation == r.generation) && running(r),
            all,
        );
        hooks::looked(Look::Running);
        if taken.is_empty() || all {
            taken.extend(e.take_parked(parked, all));
        }
        hooks::looked(Look::ParkedAgain);
        found.taken.extend(taken);
        found.running.extend(more);
        // Without `all`, one match (parked or running) is the answer.
        let one = !all && (!found.taken.is_empty() || !found.running.is_empty());
        if one || e.reactor.moves() == moves {
            return found;
        }
    }
}

/// The steps of [`find`], for a test that moves a request between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// The parked requests.
    Parked,
    /// The pool's queue, again.
    Queued,
    /// The workers.
    Running,
    /// The parked requests, again.
    ParkedAgain,
}

#[cfg(not(test))]
mod hooks {
    #[inline(always)]
    pub(super) fn looked(_: super::Look) {}
}

#[cfg(test)]
mod hooks {
    use std::cell::RefCell;

    /// What a test runs after each step.
    pub(super) type Hook = Box<dyn FnMut(super::Look)>;

    thread_local! {
        /// Called after each step of a `find` made on this thread.
        pub(super) static LOOKED: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    pub(super) fn looked(look: super::Look) {
        LOOKED.with(|h| {
            if let Some(f) = h.borrow_mut().as_mut() {
                f(look);
            }
        });
    }
}

/// `__io_async_cancel`: cancels what `key` matches; 0 / count / `-ENOENT` /
/// `-EALREADY`.
pub(crate) fn cancel(e: &Arc<Engine>, key: &Key) -> i32 {
    let all = key.all();
    let found = find(
        e,
        &mut |r: &Req| key.matches_req(r),
        &mut |r: &Running| key.matches_running(r.user_data, r.fd, r.opcode),
        all,
    );
    let n = found.taken.len();
    for r in found.taken {
        e.complete(r, -libc::ECANCELED);
    }
    let (mut futex, mut waitid, mut running) = (0usize, 0usize, 0usize);
    for r in &found.running {
        match r.opcode {
            sys::IORING_OP_WAITID => waitid += 1,
            op if waits_in_worker(op) => futex += 1,
            _ => running += 1,
        }
    }
    // io_futex_cancel and io_waitid_cancel take every match in one pass and return
    // how many; a pass counts once towards an ALL count, and without ALL that
    // number is the result (1, not 0).
    let passes = (futex > 0) as usize + (waitid > 0) as usize;
    if all {
        (n + passes + running).min(i32::MAX as usize) as i32
    } else if n > 0 {
        0
    } else if futex + waitid > 0 {
        1
    } else if running > 0 {
        -libc::EALREADY
    } else {
        -libc::ENOENT
    }
}

/// `io_async_cancel_prep`.
pub(crate) fn prep(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.off() != 0 || req.file_index() != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    if flags & !CANCEL_FLAGS != 0 {
        return Err(-libc::EINVAL);
    }
    let any = flags & sys::IORING_ASYNC_CANCEL_ANY != 0;
    let mut fd = 0u32;
    let mut opcode = 0u8;
    if flags & sys::IORING_ASYNC_CANCEL_FD != 0 {
        if any {
            return Err(-libc::EINVAL);
        }
        fd = req.sqe.fd as u32;
    }
    if flags & sys::IORING_ASYNC_CANCEL_OP != 0 {
        if any {
            return Err(-libc::EINVAL);
        }
        opcode = req.sqe.len as u8;
    }
    let data = req.addr();
    req.set_cmd(Key {
        data,
        flags,
        file: -1,
        sqe_fd: fd as i32,
        opcode,
    });
    Ok(())
}

/// `io_async_cancel`.
pub(crate) fn issue(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let mut key = *req.cmd::<Key>();
    let (flags, sqe_fd) = (key.flags, key.sqe_fd);
    if flags & sys::IORING_ASYNC_CANCEL_FD != 0 {
        let fixed =
            req.has(sys::IOSQE_FIXED_FILE) || flags & sys::IORING_ASYNC_CANCEL_FD_FIXED != 0;
        match resolve_file(e, sqe_fd, fixed) {
            Ok(f) => key.file = f,
            Err(err) => return Step::Done(req, err),
        }
    }
    let res = cancel(e, &key);
    Step::Done(req, res)
}

/// `IORING_REGISTER_SYNC_CANCEL` (`io_sync_cancel`): cancels as `ASYNC_CANCEL` does,
/// and when the match is running, interrupts it again until it is gone, or the
/// timeout passes (`-ETIME`).
///
/// `arg` is read as the kernel's `copy_from_user` reads (`user.rs`): an address the
/// process cannot read is `-EFAULT`, not a crash.
///
/// # Safety
/// None beyond the register call's: `arg` may be any address.
pub(crate) unsafe fn sync_cancel(
    e: &Arc<Engine>,
    arg: *const sys::io_uring_sync_cancel_reg,
    nr: u32,
) -> Result<u32, i32> {
    if arg.is_null() || nr != 1 {
        return Err(-libc::EINVAL);
    }
    let mut sc = std::mem::MaybeUninit::<sys::io_uring_sync_cancel_reg>::uninit();
    // SAFETY: `sc` has room for the struct; copy_from_user reads `arg` only where the
    // kernel says it can be read.
    unsafe { crate::user::copy_from_user(sc.as_mut_ptr().cast(), arg as u64, size_of_val(&sc)) }?;
    // SAFETY: every byte was copied in; any bytes are a valid value of this C struct.
    let sc = unsafe { sc.assume_init() };
    if sc.flags & !CANCEL_FLAGS != 0
        || sc.pad.iter().any(|&b| b != 0)
        || sc.pad2.iter().any(|&w| w != 0)
    {
        return Err(-libc::EINVAL);
    }
    // Requests an SQ poll thread took from the SQ are issued before we look.
    e.quiesce_submission();
    let by_fd = sc.flags & sys::IORING_ASYNC_CANCEL_FD != 0;
    let fixed = sc.flags & sys::IORING_ASYNC_CANCEL_FD_FIXED != 0;
    let mut key = Key {
        data: sc.addr,
        flags: sc.flags,
        file: -1,
        sqe_fd: sc.fd,
        opcode: sc.opcode,
    };
    if by_fd && !fixed {
        key.file = resolve_file(e, sc.fd, false)?;
    }
    let attempt = |key: &mut Key| -> i32 {
        if by_fd && fixed {
            // The registered file is looked up at every attempt.
            match resolve_file(e, sc.fd, true) {
                Ok(f) => key.file = f,
                Err(err) => return err,
            }
        }
        cancel(e, key)
    };
    let mut ret = attempt(&mut key);
    if ret == -libc::EALREADY {
        let forever = sc.timeout.tv_sec == -1 && sc.timeout.tv_nsec == -1;
        // Saturating: a deadline past what an Instant holds is none.
        let deadline = (!forever)
            .then(|| {
                let ts = sys::__kernel_timespec {
                    tv_sec: sc.timeout.tv_sec.max(0),
                    tv_nsec: sc.timeout.tv_nsec.max(0),
                };
                Instant::now().checked_add(Duration::from_nanos(ts_ns(&ts)))
            })
            .flatten();
        loop {
            std::thread::sleep(Duration::from_millis(1));
            ret = attempt(&mut key);
            if ret != -libc::EALREADY {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                ret = -libc::ETIME;
                break;
            }
        }
        if ret == -libc::ENOENT || ret > 0 {
            ret = 0;
        }
    }
    if ret < 0 { Err(ret) } else { Ok(ret as u32) }
}

#[cfg(test)]
mod tests {
    use std::sync::{Condvar, Mutex};

    use super::*;
    use crate::{Config, EngineRing, Fault, FaultPlan, FaultRule, Observer, OpInfo};

    /// Holds every attempt of one request on a worker until the test lets it go,
    /// and keeps the results.
    #[derive(Default)]
    struct Gate {
        /// (attempts started, attempts let go, results)
        state: Mutex<(u32, u32, Vec<i32>)>,
        cond: Condvar,
    }

    const READ: u64 = 1;

    impl Gate {
        fn wait_until(&self, done: impl Fn(&(u32, u32, Vec<i32>)) -> bool) {
            let mut g = self.state.lock().unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !done(&g) {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "the read did not get there: {:?}", *g);
                g = self.cond.wait_timeout(g, left).unwrap().0;
            }
        }

        fn let_go(&self, attempts: u32) {
            self.state.lock().unwrap().1 = attempts;
            self.cond.notify_all();
        }
    }

    impl Observer for Gate {
        fn issuing(&self, op: &OpInfo) {
            if op.user_data != READ {
                return;
            }
            let mut g = self.state.lock().unwrap();
            g.0 += 1;
            let me = g.0;
            self.cond.notify_all();
            while g.1 < me {
                g = self.cond.wait(g).unwrap();
            }
        }

        fn completed(&self, op: &OpInfo, res: i32, _flags: u32) {
            if op.user_data == READ {
                self.state.lock().unwrap().2.push(res);
                self.cond.notify_all();
            }
        }
    }

    /// Publishes one SQE in the ring's SQ and submits it.
    fn submit(ring: &EngineRing, p: &sys::io_uring_params, sqe: sys::io_uring_sqe) {
        let (sq, _) = ring.mmap(sys::IORING_OFF_SQ_RING).unwrap();
        let (sqes, _) = ring.mmap(sys::IORING_OFF_SQES).unwrap();
        // SAFETY: the offsets are the ring's own, inside its SQ ring mapping; the SQE
        // slot is inside the SQE array; this thread is the ring's only producer, and
        // the tail's Release store publishes the slot (the engine's Acquire load).
        unsafe {
            let tail = &*sq
                .add(p.sq_off.tail as usize)
                .cast::<std::sync::atomic::AtomicU32>();
            let mask = *sq.add(p.sq_off.ring_mask as usize).cast::<u32>();
            let t = tail.load(std::sync::atomic::Ordering::Relaxed);
            let i = t & mask;
            sqes.cast::<sys::io_uring_sqe>().add(i as usize).write(sqe);
            *sq.add(p.sq_off.array as usize)
                .cast::<u32>()
                .add(i as usize) = i;
            tail.store(t.wrapping_add(1), std::sync::atomic::Ordering::Release);
            assert_eq!(ring.enter(1, 0, 0, std::ptr::null(), 0).unwrap(), 1);
        }
    }

    /// A read moves from a worker to the reactor (its attempt said `EAGAIN`) and from
    /// the reactor back to a worker (its retry after readiness must block; here an
    /// injected interrupted retry) while one cancellation looks for it: back in the
    /// reactor after the workers were looked at, and gone to a worker again before
    /// the reactor was looked at a second time. The read is in a worker, not
    /// finished, when the cancellation ends: it must be found there (`-EALREADY`),
    /// as the kernel finds a request it runs; it said `-ENOENT`, and the read ran to
    /// its own result.
    #[test]
    fn a_cancel_finds_a_read_the_reactor_sends_back_to_a_worker_between_its_looks() {
        let gate = Arc::new(Gate::default());
        // Two interrupted attempts: the first at issue (to a worker), the second at
        // the retry after readiness (from the reactor to a worker).
        let plan = FaultPlan::new().rule(
            FaultRule::on(&[sys::IORING_OP_READ])
                .at(0, Fault::Eintr)
                .at(0, Fault::Eintr),
        );
        let config = Config::new().faults(plan).observer(gate.clone());
        let mut p = sys::io_uring_params::default();
        let ring = EngineRing::with_config(8, &mut p, config).unwrap();
        let e = ring.engine.clone();
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        let made = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) };
        assert_eq!(made, 0);
        let (r, w) = (fds[0], fds[1]);
        // One byte: the read has it all in one attempt.
        let mut buf = [0u8; 1];
        let mut sqe = sys::io_uring_sqe::zeroed();
        sqe.opcode = sys::IORING_OP_READ;
        sqe.fd = r;
        sqe.addr_or_splice_off_in.addr = buf.as_mut_ptr() as u64;
        sqe.len = buf.len() as u32;
        sqe.off_or_addr2.off = u64::MAX;
        sqe.user_data = READ;
        submit(&ring, &p, sqe);
        // On a worker, held before its first attempt.
        gate.wait_until(|g| g.0 == 1);
        let mut first = true;
        let (hook_gate, hook_e) = (gate.clone(), e.clone());
        hooks::LOOKED.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |look| match look {
                // Not parked, not queued: running. Its attempt says EAGAIN and it
                // goes to wait for readiness, before the workers are looked at.
                Look::Queued if first => {
                    hook_gate.let_go(1);
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while !hook_e.reactor.is_waiting() {
                        assert!(Instant::now() < deadline, "the read did not wait");
                        std::thread::yield_now();
                    }
                }
                // The workers are looked at (the handover waited for): the pipe
                // becomes readable, the reactor's retry is interrupted and the read
                // goes to a worker, held there before its attempt.
                Look::Running if first => {
                    first = false;
                    // SAFETY: one byte from a local to our pipe.
                    assert_eq!(unsafe { libc::write(w, [7u8].as_ptr().cast(), 1) }, 1);
                    hook_gate.wait_until(|g| g.0 == 2);
                }
                _ => {}
            }));
        });
        let key = Key {
            data: READ,
            flags: 0,
            file: -1,
            sqe_fd: 0,
            opcode: 0,
        };
        let res = cancel(&e, &key);
        hooks::LOOKED.with(|h| *h.borrow_mut() = None);
        gate.let_go(2);
        gate.wait_until(|g| !g.2.is_empty());
        let read = gate.state.lock().unwrap().2.clone();
        drop(ring);
        // SAFETY: our pipe's descriptors.
        unsafe {
            libc::close(r);
            libc::close(w);
        }
        assert_eq!(res, -libc::EALREADY, "the cancel's result (read: {read:?})");
        // Found running: it ends cancelled, or with its byte if its attempt was past
        // the check (io-wq's -EALREADY promises no more).
        assert!(read == [1] || read == [-libc::ECANCELED], "{read:?}");
    }
}
