//! The `uring` engine: the kernel's io_uring through `uring::Ring`.
//!
//! The loop keeps `iodepth` requests in flight: it fills every free slot, makes one
//! `io_uring_enter` that submits them all and waits for `batch` completions, then
//! reaps every CQE there is. Nothing is allocated per I/O: buffers, the slot stack and
//! the submit times are made once; `user_data` is the slot index.
//!
//! System calls are counted exactly because this loop makes them itself, through
//! [`uring::Submitter::enter`], with the same rules as `Submitter::submit_and_wait`:
//! no call at all when SQPOLL's thread is awake and nothing needs waiting for.
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use uring::types::Target;
use uring::{Ring, Sqe, Submitter, opcode, sys};

use super::Workload;
use super::worker::{Ctx, Stats, io_bytes};
use crate::util::{AlignedBuf, CliError, errno_name, rw_sqe, stopped};

/// How long the SQ poll thread spins without work before it sleeps.
const SQPOLL_IDLE: Duration = Duration::from_millis(100);

pub fn run(ctx: &Ctx<'_>) -> Result<Stats, CliError> {
    let spec = ctx.spec;
    let depth = spec.iodepth as usize;
    let batch = spec.batch as usize;
    let bs = spec.bs;
    let want_bytes = io_bytes(spec);

    let mut bufs = AlignedBuf::new(depth * bs as usize);
    bufs.as_mut_slice().fill(0xa5);

    // Exactly the backend the job names: URING_BACKEND must not turn the kernel's job
    // into a second engine run (or the reverse).
    let backend = if spec.engine == super::Engine::UserSpace {
        uring::Backend::Engine
    } else {
        uring::Backend::Kernel
    };
    let mut builder = Ring::builder().backend_exact(backend);
    if spec.sqpoll {
        builder = builder.sqpoll(SQPOLL_IDLE);
    }
    if spec.iopoll {
        builder = builder.iopoll();
    }
    // SQ entries >= iodepth (rounded up to a power of two), CQ twice that: the rings
    // cannot fill, since no more than iodepth requests are ever outstanding. With
    // SQPOLL, the poll thread may post CQEs of a batch before it moves the SQ head past
    // it, so SQEs of completed requests can still hold their slots: twice iodepth.
    let entries = if spec.sqpoll {
        spec.iodepth * 2
    } else {
        spec.iodepth
    };
    let mut ring = builder
        .build(entries)
        .map_err(|e| CliError::new(e.to_string()))?;

    if spec.fixed_buffers && spec.workload != Workload::Nop {
        register_buffers(&ring, &bufs, depth, bs)?;
    }
    let target = match ctx.file {
        Some(f) if spec.fixed_files => {
            ring.submitter()
                .register_files(&[f.as_raw_fd()])
                .map_err(|e| CliError::new(format!("IORING_REGISTER_FILES: {e}")))?;
            Target::Fixed(0)
        }
        Some(f) => Target::Fd(f.as_raw_fd()),
        None => Target::Fd(-1),
    };
    let sqpoll = ring.params().is_setup(sys::IORING_SETUP_SQPOLL);
    let iopoll = ring.params().is_setup(sys::IORING_SETUP_IOPOLL);

    let base = bufs.as_ptr();
    let make = |slot: usize, offset: u64| -> Sqe {
        // The slot's part of `bufs`: in bounds since slot < depth.
        let buf = base.wrapping_add(slot * bs as usize);
        let fixed = spec.fixed_buffers.then_some(slot as u16);
        let sqe = match spec.workload {
            Workload::Nop => opcode::Nop::new().build(),
            Workload::Read | Workload::Randread => {
                rw_sqe(false, target, buf, bs as u32, offset, fixed)
            }
            Workload::Write | Workload::Randwrite => {
                rw_sqe(true, target, buf, bs as u32, offset, fixed)
            }
        };
        sqe.user_data(slot as u64)
    };

    let mut free: Vec<usize> = (0..depth).rev().collect();
    let mut submit_ns = vec![0u64; depth];
    let mut offsets = ctx.offsets();
    let mut st = Stats::new();
    let quota = ctx.quota.unwrap_or(u64::MAX);
    let limit_ns = ctx.runtime.map_or(u64::MAX, |d| d.as_nanos() as u64);
    let mut issued = 0u64;
    let mut outstanding = 0usize;
    let mut stop_issuing = false;

    let (submitter, mut sq, mut cq) = ring.split();
    let start = Instant::now();
    // One clock read per loop: taken after the wait, it stamps both the completions
    // reaped and the requests queued right after.
    let mut now = 0u64;
    loop {
        if now >= limit_ns || issued >= quota || stopped() {
            stop_issuing = true;
        }
        while !stop_issuing && outstanding < depth && issued < quota {
            let slot = free.pop().expect("a free slot below iodepth");
            let sqe = make(slot, offsets.next_offset());
            // SAFETY: the SQE names the slot's part of `bufs` (registered or not) and
            // the job's file (or its registered index); `bufs` and the file outlive
            // the ring's requests: the loop reaps every completion before returning,
            // and on a failed enter the buffers are leaked rather than freed.
            if unsafe { sq.push(&sqe) }.is_err() {
                // Only if the SQ poll thread lags behind its own completions: submit
                // what is queued, reap, and come back.
                free.push(slot);
                break;
            }
            submit_ns[slot] = now;
            outstanding += 1;
            issued += 1;
        }
        if outstanding == 0 {
            break;
        }
        sq.sync();
        let to_submit = sq.len() as u32;
        let mut want = outstanding.min(batch) as u32;
        if sqpoll {
            // The poll thread submits; if completions are already there, reap them
            // without a system call.
            cq.sync();
            if !cq.is_empty() {
                want = 0;
            }
        }
        match enter(
            &submitter,
            sqpoll,
            iopoll,
            to_submit,
            want,
            &mut st.syscalls,
        ) {
            Ok(()) => {}
            // A signal (Ctrl-C: the loop stops issuing), or the kernel's backlog
            // (reap, then retry): both are retried after reaping.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                ) => {}
            Err(e) => {
                // Requests may still be in flight with our buffers: never free them.
                bufs.leak();
                return Err(CliError::new(format!(
                    "io_uring_enter: {}",
                    errno_name(e.raw_os_error().unwrap_or(0))
                )));
            }
        }
        now = start.elapsed().as_nanos() as u64;
        cq.sync();
        let mut reaped = 0u64;
        for cqe in cq.by_ref() {
            let slot = cqe.user_data() as usize;
            if slot >= depth {
                st.errors += 1;
                st.first_error
                    .get_or_insert(format!("CQE with unknown user_data {}", cqe.user_data()));
                continue;
            }
            if st.complete(i64::from(cqe.result()), want_bytes, now - submit_ns[slot]) {
                stop_issuing = true;
            }
            free.push(slot);
            outstanding -= 1;
            reaped += 1;
        }
        ctx.progress.fetch_add(reaped, Ordering::Relaxed);
    }
    st.elapsed = start.elapsed();
    Ok(st)
}

/// One `io_uring_enter`, when one is needed: to submit (unless SQPOLL's thread is
/// awake), to wait for `want` completions, or to poll (IOPOLL). Counts it.
#[inline]
fn enter(
    sub: &Submitter<'_>,
    sqpoll: bool,
    iopoll: bool,
    to_submit: u32,
    want: u32,
    syscalls: &mut u64,
) -> std::io::Result<()> {
    let mut flags = 0;
    if want > 0 || iopoll {
        flags |= sys::IORING_ENTER_GETEVENTS;
    }
    if sqpoll {
        if to_submit > 0 && sub.sq_need_wakeup() {
            flags |= sys::IORING_ENTER_SQ_WAKEUP;
        }
        if flags == 0 {
            return Ok(());
        }
    } else if to_submit == 0 && flags == 0 {
        return Ok(());
    }
    *syscalls += 1;
    // SAFETY: no extended argument; every published SQE names memory that outlives
    // its request (see the push in `run`).
    unsafe { sub.enter(to_submit, want, flags, ptr::null(), 0) }.map(drop)
}

/// Registers one buffer per slot (`IORING_REGISTER_BUFFERS`), so `READ_FIXED` /
/// `WRITE_FIXED` skip pinning pages on every I/O.
fn register_buffers(ring: &Ring, bufs: &AlignedBuf, depth: usize, bs: u64) -> Result<(), CliError> {
    let iovecs: Vec<libc::iovec> = (0..depth)
        .map(|slot| libc::iovec {
            iov_base: bufs.as_ptr().wrapping_add(slot * bs as usize).cast(),
            iov_len: bs as usize,
        })
        .collect();
    // SAFETY: each iovec is a slot of `bufs`, valid for reads and writes; `bufs`
    // outlives the registration: it is declared before the ring in `run`, so it is
    // dropped after the ring is closed (or leaked).
    unsafe { ring.submitter().register_buffers(&iovecs) }.map_err(|e| {
        let mut msg = format!("registering {depth} buffers of {bs} bytes: {e}");
        if e.raw_os_error() == Some(libc::ENOMEM) {
            let lim = rustix::process::getrlimit(rustix::process::Resource::Memlock).current;
            if let Some(l) = lim {
                msg.push_str(&format!(
                    "; RLIMIT_MEMLOCK is {l} bytes: raise it (`ulimit -l`) or lower --iodepth/--bs"
                ));
            }
        }
        CliError::new(msg)
    })
}
