//! No allocation per I/O in steady state: a counting global allocator counts what the
//! runtime's thread allocates over 1,000 reads and writes after a warm-up, on both
//! backends. (The engine's own worker threads are not counted: what is measured is
//! the runtime's path — op slots, wakers, submission and dispatch.)
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use uring_rt::fs::File;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread-local without destructor, so counting never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_per_read_or_write_after_warm_up() {
    common::each_backend_in_dir("no_allocation_per_read_or_write", |rt, backend, dir| {
        let path = dir.join("a");
        std::fs::write(&path, vec![1u8; 1 << 16]).unwrap();
        rt.block_on(async {
            let f = File::from(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .unwrap(),
            );
            let mut buf = vec![0u8; 4096];
            let mut round = async |n: u64| {
                for i in 0..n {
                    let pos = (i % 16) * 4096;
                    let (r, b) = f.read_at(std::mem::take(&mut buf), pos).await;
                    assert_eq!(r.unwrap(), 4096);
                    let (r, b) = f.write_at(b, pos).await;
                    assert_eq!(r.unwrap(), 4096);
                    buf = b;
                }
            };
            // Warm-up: a burst of 64 reads and 64 writes at once grows every cache on
            // the way (the op slab, the run queue, the engine's request cache: a
            // request a worker still holds when its CQE is seen makes the next one
            // allocate, until the cache holds enough), and, where writes go to the
            // engine's workers, starts several of them: with one worker only, a write
            // pushed while that worker is still on its way back from the last one
            // (preempted after posting its CQE) starts a new thread, which allocates;
            // with idle workers to spare it never has to. Then a steady run.
            let f2 = std::rc::Rc::new(File::from(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .unwrap(),
            ));
            let burst: Vec<_> = (0..64)
                .map(|i| {
                    let f2 = f2.clone();
                    uring_rt::spawn(async move {
                        f2.read_at(vec![0u8; 512], i * 512).await.0?;
                        f2.write_at(vec![1u8; 512], (64 + i) * 512).await.0
                    })
                })
                .collect();
            for h in burst {
                h.await.unwrap().unwrap();
            }
            round(500).await;
            COUNT.with(|c| c.set(0));
            COUNTING.with(|on| on.set(true));
            round(1000).await;
            COUNTING.with(|on| on.set(false));
            let allocs = COUNT.with(|c| c.get());
            assert_eq!(
                allocs,
                0,
                "[{}] {allocs} allocations over 1,000 reads + 1,000 writes",
                backend.name()
            );
        });
    });
}
