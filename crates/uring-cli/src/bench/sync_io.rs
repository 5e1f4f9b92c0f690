//! The `sync` engine: one pread(2)/pwrite(2) at a time, as most programs do I/O.
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Workload;
use super::worker::{Ctx, Stats};
use crate::util::{AlignedBuf, CliError, stopped};

/// How many I/Os between progress updates.
const PROGRESS_EVERY: u64 = 256;

pub fn run(ctx: &Ctx<'_>) -> Result<Stats, CliError> {
    let spec = ctx.spec;
    let file = ctx.file.expect("sync I/O needs a file");
    let bs = spec.bs;
    let write = matches!(spec.workload, Workload::Write | Workload::Randwrite);
    let mut buf = AlignedBuf::new(bs as usize);
    buf.as_mut_slice().fill(0xa5);
    let mut offsets = ctx.offsets();
    let mut st = Stats::new();
    let quota = ctx.quota.unwrap_or(u64::MAX);
    let limit_ns = ctx.runtime.map_or(u64::MAX, |d| d.as_nanos() as u64);

    let start = Instant::now();
    // One clock read per I/O: the end of one is the start of the next.
    let mut t = 0u64;
    let mut done = 0u64;
    while done < quota && t < limit_ns && !stopped() {
        let off = offsets.next_offset();
        let r = if write {
            rustix::io::pwrite(file, buf.as_slice(), off)
        } else {
            rustix::io::pread(file, buf.as_mut_slice(), off)
        };
        st.syscalls += 1;
        let now = start.elapsed().as_nanos() as u64;
        let res = match r {
            Ok(n) => n as i64,
            Err(e) => -i64::from(e.raw_os_error()),
        };
        let failed = st.complete(res, bs, now - t);
        t = now;
        done += 1;
        if done % PROGRESS_EVERY == 0 {
            ctx.progress.fetch_add(PROGRESS_EVERY, Ordering::Relaxed);
        }
        if failed {
            break;
        }
    }
    ctx.progress
        .fetch_add(done % PROGRESS_EVERY, Ordering::Relaxed);
    st.elapsed = start.elapsed();
    Ok(st)
}
