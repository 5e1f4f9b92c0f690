//! The `aio` engine: Linux AIO, `iodepth` iocbs in flight, refilled as events arrive.
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Workload;
use super::worker::{Ctx, Stats};
use crate::aio::{AioContext, IOCB_CMD_PREAD, IOCB_CMD_PWRITE, IoEvent, Iocb};
use crate::util::{AlignedBuf, CliError, errno_name, stopped};

pub fn run(ctx: &Ctx<'_>) -> Result<Stats, CliError> {
    let spec = ctx.spec;
    let file = ctx.file.expect("AIO needs a file");
    let depth = spec.iodepth as usize;
    let batch = spec.batch as usize;
    let bs = spec.bs;
    let opcode = match spec.workload {
        Workload::Read | Workload::Randread => IOCB_CMD_PREAD,
        Workload::Write | Workload::Randwrite => IOCB_CMD_PWRITE,
        Workload::Nop => unreachable!("checked when the job was made"),
    };

    // Everything per I/O is allocated here, once: buffers, iocbs, the pointer array
    // io_submit takes, the event array, the free-slot stack, submit times.
    let mut bufs = AlignedBuf::new(depth * bs as usize);
    bufs.as_mut_slice().fill(0xa5);
    let base = bufs.as_ptr();
    let mut iocbs: Box<[Iocb]> = (0..depth)
        .map(|slot| Iocb {
            aio_data: slot as u64,
            aio_lio_opcode: opcode,
            aio_fildes: file.as_raw_fd() as u32,
            // The slot's part of `bufs`, in bounds: slot < depth.
            aio_buf: base as u64 + slot as u64 * bs,
            aio_nbytes: bs,
            ..Iocb::default()
        })
        .collect();
    let mut pending: Vec<*mut Iocb> = Vec::with_capacity(depth);
    let mut events = vec![IoEvent::default(); depth];
    let mut free: Vec<usize> = (0..depth).rev().collect();
    let mut submit_ns = vec![0u64; depth];

    let aio = AioContext::new(spec.iodepth).map_err(|e| {
        CliError::new(format!(
            "io_setup({depth}): {e} (see /proc/sys/fs/aio-max-nr and aio-nr)"
        ))
    })?;

    let mut offsets = ctx.offsets();
    let mut st = Stats::new();
    let quota = ctx.quota.unwrap_or(u64::MAX);
    let limit_ns = ctx.runtime.map_or(u64::MAX, |d| d.as_nanos() as u64);
    let mut issued = 0u64;
    let mut in_flight = 0usize;
    let mut stop_issuing = false;
    let mut fatal: Option<String> = None;
    let start = Instant::now();
    let mut now = 0u64;

    loop {
        if now >= limit_ns || issued >= quota || stopped() {
            stop_issuing = true;
        }
        while !stop_issuing && in_flight + pending.len() < depth && issued < quota {
            let slot = free.pop().expect("a free slot below iodepth");
            let cb = &mut iocbs[slot];
            cb.aio_offset = offsets.next_offset() as i64;
            pending.push(&raw mut *cb);
            submit_ns[slot] = now;
            issued += 1;
        }
        if !pending.is_empty() {
            // SAFETY: each pointer is an iocb of `iocbs`, whose buffer is a slot of
            // `bufs`; both outlive `aio`, which is dropped (io_destroy waits for what is
            // in flight) before them, and a slot is reused only after its event.
            let r = unsafe { aio.submit(&pending) };
            st.syscalls += 1;
            match r {
                Ok(n) => {
                    in_flight += n;
                    pending.drain(..n);
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => {
                    // The first iocb was refused: nothing of `pending` was queued.
                    st.errors += pending.len() as u64;
                    let msg = format!("io_submit: {}", errno_name(e.raw_os_error().unwrap_or(0)));
                    st.first_error.get_or_insert(msg.clone());
                    fatal = Some(msg);
                    for p in pending.drain(..) {
                        // SAFETY: p points into `iocbs`, alive and not in flight.
                        free.push(unsafe { (*p).aio_data } as usize);
                    }
                    stop_issuing = true;
                }
            }
        }
        if in_flight == 0 {
            if pending.is_empty() && (stop_issuing || fatal.is_some()) {
                break;
            }
            continue;
        }
        let want = in_flight.min(batch);
        let r = aio.getevents(want, &mut events);
        st.syscalls += 1;
        now = start.elapsed().as_nanos() as u64;
        let n = match r {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => 0,
            Err(e) => {
                // Cannot reap: io_destroy (on drop of `aio`, before the buffers) waits
                // for what is in flight.
                return Err(CliError::new(format!("io_getevents: {e}")));
            }
        };
        for ev in &events[..n] {
            let slot = ev.data as usize;
            if slot >= depth {
                st.errors += 1;
                st.first_error
                    .get_or_insert(format!("event with unknown data {}", ev.data));
                continue;
            }
            if st.complete(ev.res, bs, now - submit_ns[slot]) {
                stop_issuing = true;
            }
            free.push(slot);
        }
        in_flight -= n;
        ctx.progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    st.elapsed = start.elapsed();
    drop(aio);
    drop(bufs);
    Ok(st)
}
