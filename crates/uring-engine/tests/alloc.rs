//! No heap allocation per request in steady state: a counting global allocator (every
//! thread of the process: the submitter, the assisting thread, the AIO reaper) sees
//! none while an engine ring runs thousands of NOPs at batch 32, cached 4 KiB reads
//! at depth 32 and the same as `READV` of one iovec (whose copy is kept in the
//! request), once the ring is warm (its request cache filled, its threads started).
//!
//! Its own test binary: the counter is process-wide, so nothing else may run beside it.
use std::alloc::{GlobalAlloc, Layout, System};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

use uring::types::Fd;
use uring::{Backend, Ring, opcode};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; counting allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `GlobalAlloc::alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `GlobalAlloc::alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `GlobalAlloc::realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `GlobalAlloc::dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const BS: usize = 4096;
const DEPTH: u64 = 32;
const BLOCKS: u64 = 256;

/// Runs `rounds` batches of 32 requests made by `make(slot, round)`, reaping each
/// batch whole; every result must be `want`.
fn run(ring: &mut Ring, rounds: u64, want: i32, make: &dyn Fn(u64, u64) -> uring::Sqe) {
    let mut results = [0i32; DEPTH as usize];
    for round in 0..rounds {
        {
            let mut sq = ring.submission();
            for slot in 0..DEPTH {
                // SAFETY: the SQEs name memory that outlives the batch (reaped below).
                unsafe { sq.push(&make(slot, round)) }.expect("SQ has room");
            }
        }
        let mut seen = 0;
        while seen < DEPTH as usize {
            ring.submit_and_wait(1).expect("enter");
            for c in ring.completion() {
                results[seen] = c.result();
                seen += 1;
            }
        }
        assert!(results.iter().all(|&r| r == want), "results {results:?}");
    }
}

#[test]
fn steady_state_requests_do_not_allocate() {
    let file = tempfile::tempfile().expect("temporary file");
    file.write_all_at(&vec![0x5au8; BLOCKS as usize * BS], 0)
        .expect("fill");
    let fd = Fd(file.as_raw_fd());
    let mut bufs = vec![0u8; DEPTH as usize * BS];
    let base = bufs.as_mut_ptr();
    let mut ring = Ring::builder()
        .backend_exact(Backend::Engine)
        .build(2 * DEPTH as u32)
        .expect("engine ring");
    let nop = |slot: u64, _: u64| opcode::Nop::new().build().user_data(slot);
    let read = |slot: u64, round: u64| {
        // In bounds: slot < DEPTH.
        let buf = base.wrapping_add(slot as usize * BS);
        opcode::Read::new(fd, buf, BS as u32)
            .offset((slot * 7 + round * 13) % BLOCKS * BS as u64)
            .build()
            .user_data(slot)
    };
    // One iovec per slot, for READV.
    let iovecs: Vec<libc::iovec> = (0..DEPTH as usize)
        .map(|slot| libc::iovec {
            iov_base: base.wrapping_add(slot * BS).cast(),
            iov_len: BS,
        })
        .collect();
    let readv = |slot: u64, round: u64| {
        // In bounds: slot < DEPTH.
        let iov = iovecs.as_ptr().wrapping_add(slot as usize);
        opcode::Readv::new(fd, iov, 1)
            .offset((slot * 5 + round * 11) % BLOCKS * BS as u64)
            .build()
            .user_data(slot)
    };
    // Warm up: the request cache fills, the assisting thread starts, the vectors of
    // the submission path reach their size.
    run(&mut ring, 64, 0, &nop);
    run(&mut ring, 64, BS as i32, &read);
    run(&mut ring, 64, BS as i32, &readv);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    run(&mut ring, 300, 0, &nop);
    let nops = ALLOCATIONS.load(Ordering::SeqCst) - before;
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    run(&mut ring, 300, BS as i32, &read);
    let reads = ALLOCATIONS.load(Ordering::SeqCst) - before;
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    run(&mut ring, 300, BS as i32, &readv);
    let readvs = ALLOCATIONS.load(Ordering::SeqCst) - before;
    drop(ring);
    drop(iovecs);
    drop(bufs);
    assert_eq!(
        (nops, reads, readvs),
        (0, 0, 0),
        "heap allocations during 9,600 NOPs, 9,600 cached reads and 9,600 cached READVs \
         (after warm-up)"
    );
}
