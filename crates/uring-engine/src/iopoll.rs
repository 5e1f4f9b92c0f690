//! `IORING_SETUP_IOPOLL`: reads and writes whose completions the application reaps by
//! polling (`io_uring/rw.c`'s `io_do_iopoll`, `io_uring.c`'s `io_iopoll_check`).
//!
//! The kernel's rules, kept here: on such a ring only the ops whose kernel entry says
//! `.iopoll` are accepted (others fail preparation with `-EINVAL`, `Engine::prepare`);
//! a read or write must be on a file opened `O_DIRECT` whose file system can poll its
//! device (`f_op->iopoll`: a block device, ext4, XFS, btrfs) and on a device with poll
//! queues (but for a file system's write, which is not polled), else it
//! completes with `-EOPNOTSUPP` (see [`can_poll`]); and its CQE is posted only when the application reaps it with
//! `io_uring_enter(IORING_ENTER_GETEVENTS)`, which waits only for such requests
//! (never for others, and with no timeout). Other ops (`NOP`, `MSG_RING`, …) complete
//! as on any ring.
//!
//! What the engine does underneath is its usual O_DIRECT path (Linux AIO, `aio.rs`):
//! a request that is done is held here, with its result, until an `enter` reaps it —
//! the device is not polled, the completion is. With `SQPOLL` the kernel's SQ thread
//! reaps; the engine then posts completions as they come, as it does in deterministic
//! mode (one thread: nothing would reap while `enter` waits).
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use uring_sys as sys;

use crate::engine::Engine;
use crate::req::Req;

/// Requests of an IOPOLL ring on the polled path: done ones waiting to be reaped, and
/// how many are still on the device.
#[derive(Default)]
pub(crate) struct Iopoll {
    /// Whether completions are held until reaped (IOPOLL without SQPOLL, threaded).
    hold: bool,
    state: Mutex<State>,
    done_cond: Condvar,
    /// Block devices asked whether they poll ([`device_polls`]), with the answer.
    devices: Mutex<Vec<(libc::dev_t, bool)>>,
}

#[derive(Default)]
struct State {
    /// Completed, not yet reaped: the request and its result.
    done: Vec<(Box<Req>, i32)>,
    /// Issued on the polled path and not yet completed.
    in_flight: usize,
}

/// The read and write opcodes, which go through the polled path (`io_rw_init_file`).
pub(crate) fn is_rw(opcode: u8) -> bool {
    matches!(
        opcode,
        sys::IORING_OP_READV
            | sys::IORING_OP_WRITEV
            | sys::IORING_OP_READ_FIXED
            | sys::IORING_OP_WRITE_FIXED
            | sys::IORING_OP_READ
            | sys::IORING_OP_WRITE
            | sys::IORING_OP_READV_FIXED
            | sys::IORING_OP_WRITEV_FIXED
    )
}

/// Whether a read or write (`write`) of `fd` can be polled, which the kernel asks of
/// the file (`O_DIRECT`, and file operations with `->iopoll`: a block device, or a
/// regular file of ext4, XFS or btrfs) and then of the bio: a device without poll
/// queues (`queue/io_poll` 0) fails a polled bio with `-EOPNOTSUPP`. Of a file system's
/// direct I/O only reads are polled bios there (a write has completion work, and
/// completes as usual; so the 6.18 kernel on ext4 over virtio). `polls(dev)` says
/// whether the block device `dev` has poll queues.
fn can_poll(fd: i32, write: bool, polls: impl Fn(libc::dev_t) -> bool) -> bool {
    // SAFETY: F_GETFL reads the fd's flags; no memory is passed.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 || fl & libc::O_DIRECT == 0 {
        return false;
    }
    // SAFETY: an all-zero stat is a valid out-buffer; fstat writes it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFBLK => polls(st.st_rdev),
        libc::S_IFREG => {
            // SAFETY: as above, for statfs.
            let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
            // SAFETY: `fs` is a valid, writable statfs.
            if unsafe { libc::fstatfs(fd, &mut fs) } != 0 {
                return false;
            }
            const EXT4: i64 = 0xEF53;
            const XFS: i64 = 0x5846_5342;
            const BTRFS: i64 = 0x9123_683E;
            if !matches!(fs.f_type as i64, EXT4 | XFS | BTRFS) {
                return false;
            }
            write || polls(st.st_dev)
        }
        _ => false,
    }
}

/// Whether block device `dev` (or, for a partition, its disk) has poll queues:
/// `/sys/dev/block/MAJ:MIN/queue/io_poll` says 1.
fn device_polls(dev: libc::dev_t) -> bool {
    let base = format!("/sys/dev/block/{}:{}", libc::major(dev), libc::minor(dev));
    ["queue/io_poll", "../queue/io_poll"]
        .iter()
        .find_map(|q| std::fs::read_to_string(format!("{base}/{q}")).ok())
        .is_some_and(|v| v.trim() == "1")
}

impl Iopoll {
    pub(crate) fn new(flags: u32, deterministic: bool) -> Iopoll {
        Iopoll {
            hold: flags & sys::IORING_SETUP_IOPOLL != 0
                && flags & sys::IORING_SETUP_SQPOLL == 0
                && !deterministic,
            ..Iopoll::default()
        }
    }

    /// Whether `enter` reaps completions by polling (the kernel's `syscall_iopoll`).
    pub(crate) fn reaps_in_enter(&self) -> bool {
        self.hold
    }

    /// Takes a finished request whose completion is held (it was put on the polled
    /// path): kept, with its result, until reaped. Returns it back otherwise.
    /// Inline: every completion asks, and nearly all are not held.
    #[inline]
    pub(crate) fn hold(&self, req: Box<Req>, res: i32) -> Option<Box<Req>> {
        if !req.iopoll {
            return Some(req);
        }
        self.keep(req, res);
        None
    }

    /// [`hold`](Self::hold) of a request on the polled path.
    #[cold]
    fn keep(&self, mut req: Box<Req>, res: i32) {
        req.iopoll = false;
        let mut st = self.state.lock().expect("iopoll");
        st.in_flight -= 1;
        st.done.push((req, res));
        drop(st);
        self.done_cond.notify_all();
    }

    /// Drops what was never reaped (the ring is going away).
    pub(crate) fn shutdown(&self) {
        let done = std::mem::take(&mut self.state.lock().expect("iopoll").done);
        drop(done);
    }
}

impl Engine {
    /// A read or write about to be issued on an IOPOLL ring: `-EOPNOTSUPP` unless its
    /// file can be polled (`io_rw_init_file`); otherwise it goes on the polled path,
    /// where its completion waits to be reaped.
    pub(crate) fn iopoll_claim(&self, req: &mut Req) -> Result<(), i32> {
        let write = matches!(
            req.opcode(),
            sys::IORING_OP_WRITEV
                | sys::IORING_OP_WRITE_FIXED
                | sys::IORING_OP_WRITE
                | sys::IORING_OP_WRITEV_FIXED
        );
        let polls = |dev| {
            let mut known = self.iopoll.devices.lock().expect("iopoll devices");
            match known.iter().find(|(d, _)| *d == dev) {
                Some(&(_, p)) => p,
                None => {
                    let p = device_polls(dev);
                    known.push((dev, p));
                    p
                }
            }
        };
        if !can_poll(req.fd, write, polls) {
            return Err(-libc::EOPNOTSUPP);
        }
        if self.iopoll.hold {
            req.iopoll = true;
            self.iopoll.state.lock().expect("iopoll").in_flight += 1;
        }
        Ok(())
    }

    /// `io_iopoll_check`: reaps held completions into the CQ until `min` were reaped
    /// or nothing is left on the polled path; returns at once if the CQ already has
    /// CQEs. Never waits for other requests. `deadline`, which the kernel ignores here,
    /// only bounds the engine's wait for a device that never answers.
    pub(crate) fn iopoll_check(
        self: &Arc<Self>,
        min: u32,
        deadline: Option<Instant>,
    ) -> Result<(), i32> {
        self.flush();
        if self.cq.lock().expect("cq").dropped {
            return Err(-libc::EBADR);
        }
        if self.ready() > 0 {
            return Ok(());
        }
        let min = min.min(self.rings.cq_entries) as usize;
        let mut reaped = 0;
        loop {
            let mut st = self.iopoll.state.lock().expect("iopoll");
            if st.done.is_empty() {
                if st.in_flight == 0 || reaped >= min {
                    return Ok(());
                }
                let now = Instant::now();
                match deadline {
                    Some(d) if now >= d => return Ok(()),
                    Some(d) => drop(
                        self.iopoll
                            .done_cond
                            .wait_timeout(st, d - now)
                            .expect("iopoll"),
                    ),
                    None => drop(self.iopoll.done_cond.wait(st).expect("iopoll")),
                }
                continue;
            }
            let done = std::mem::take(&mut st.done);
            drop(st);
            reaped += done.len();
            for (req, res) in done {
                self.complete(req, res);
            }
            if reaped >= min {
                return Ok(());
            }
        }
    }
}
