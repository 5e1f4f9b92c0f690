//! A loom model of the SQ/CQ head/tail protocol between the application and the
//! engine (`src/rings.rs` on the engine's side, `uring`'s `sq.rs`/`cq.rs` on the
//! application's): loom runs every interleaving and every weak-memory outcome the
//! C++11 model allows, and its `UnsafeCell` reports any read of a slot not ordered
//! after its write (a torn or stale entry) and any write not ordered after the read
//! it replaces (an overwrite of an unread entry).
//!
//! Both queues are one single-producer single-consumer ring:
//! - the producer writes the entry, then publishes the tail with `Release`
//!   (engine: `Rings::set_cq_tail`; application: the SQ tail store in `sq.rs`);
//! - the consumer loads the tail with `Acquire` before reading entries (application:
//!   the CQ tail load in `cq.rs`; engine: `Rings::sq_tail`), reads them, then frees
//!   them by storing the head with `Release` (application: CQ head; engine:
//!   `Rings::set_sq_head`);
//! - the producer loads the head with `Acquire` before overwriting a freed slot
//!   (engine: `Rings::cq_head`; application: the SQ head load).
//!
//! The model checks that with these orderings nothing is lost, torn, duplicated,
//! reordered or overwritten unread, on both queues at once (an SQE goes one way, its
//! CQE comes back, as a request does); and, with `#[should_panic]`, that weakening
//! any one of the eight (four per queue) to `Relaxed` lets loom find the bug.
//!
//! It runs in the normal test suite (a ring of 2 slots and 3 entries each way keeps
//! it to seconds); for a deeper search:
//! `LOOM_MAX_PREEMPTIONS=4 cargo test -p uring-engine --test loom_ring --release`.
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};

/// Slots per ring: small, so the producer wraps and reuses slots.
const N: u32 = 2;
/// Entries sent each way.
const ITEMS: u64 = 3;

/// The four orderings of the protocol.
#[derive(Clone, Copy)]
struct Orders {
    /// Producer's store of the tail (`Release`).
    tail_store: Ordering,
    /// Consumer's load of the tail (`Acquire`).
    tail_load: Ordering,
    /// Consumer's store of the head (`Release`).
    head_store: Ordering,
    /// Producer's load of the head (`Acquire`).
    head_load: Ordering,
}

const KERNEL: Orders = Orders {
    tail_store: Ordering::Release,
    tail_load: Ordering::Acquire,
    head_store: Ordering::Release,
    head_load: Ordering::Acquire,
};

/// One SPSC ring in the kernel's layout: free-running u32 head and tail, entries
/// at `index & (N - 1)`. An entry is two words (`user_data` and a check word), so a
/// torn read shows.
struct Ring {
    head: AtomicU32,
    tail: AtomicU32,
    slots: Vec<UnsafeCell<(u64, u64)>>,
    o: Orders,
}

impl Ring {
    fn new(o: Orders) -> Ring {
        Ring {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: (0..N).map(|_| UnsafeCell::new((0, 0))).collect(),
            o,
        }
    }

    /// Producer: writes `v` if there is room (`io_uring_get_sqe` + flush on the
    /// SQ; `Engine::post_locked` + `write_cqe` on the CQ).
    fn push(&self, v: u64) -> bool {
        // Only the producer stores the tail: its own last store, `Relaxed`.
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(self.o.head_load);
        if tail.wrapping_sub(head) == N {
            return false;
        }
        self.slots[(tail & (N - 1)) as usize].with_mut(|p| {
            // SAFETY: loom checks the claim: the consumer is done with this slot
            // (its head store happened before our head load).
            unsafe { *p = (v, !v) }
        });
        self.tail.store(tail.wrapping_add(1), self.o.tail_store);
        true
    }

    /// Consumer: takes the next entry if any (`Engine::submit` on the SQ; the CQ
    /// iterator on the application's side).
    fn pop(&self) -> Option<u64> {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(self.o.tail_load);
        if head == tail {
            return None;
        }
        let (v, check) = self.slots[(head & (N - 1)) as usize].with(|p| {
            // SAFETY: loom checks the claim: the producer's write of this slot
            // happened before its tail store, which our tail load saw.
            unsafe { *p }
        });
        assert_eq!(check, !v, "torn entry");
        self.head.store(head.wrapping_add(1), self.o.head_store);
        Some(v)
    }
}

/// The application submits ITEMS SQEs and reaps their CQEs; the engine consumes the
/// SQEs and posts a CQE for each: the SQ with `sq` orderings, the CQ with `cq`.
fn model(sq: Orders, cq: Orders) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(move || {
        let sqr = Arc::new(Ring::new(sq));
        let cqr = Arc::new(Ring::new(cq));
        let engine = {
            let (sqr, cqr) = (sqr.clone(), cqr.clone());
            loom::thread::spawn(move || {
                // The engine: each SQE becomes a CQE with the same user_data.
                let mut done = 0;
                while done < ITEMS {
                    match sqr.pop() {
                        Some(v) => {
                            while !cqr.push(v) {
                                loom::thread::yield_now();
                            }
                            done += 1;
                        }
                        None => loom::thread::yield_now(),
                    }
                }
            })
        };
        // The application: submits 1..=ITEMS as room allows, reaps as they come.
        let (mut next, mut seen) = (1, Vec::new());
        while seen.len() < ITEMS as usize {
            if next <= ITEMS && sqr.push(next) {
                next += 1;
            }
            match cqr.pop() {
                Some(v) => seen.push(v),
                None => loom::thread::yield_now(),
            }
        }
        engine.join().unwrap();
        assert_eq!(
            seen,
            (1..=ITEMS).collect::<Vec<_>>(),
            "lost, duplicated or reordered"
        );
    });
}

#[test]
fn the_protocol_loses_tears_and_overwrites_nothing() {
    model(KERNEL, KERNEL);
}

fn weaken(f: impl Fn(&mut Orders)) -> Orders {
    let mut o = KERNEL;
    f(&mut o);
    o
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_cq_tail_store_is_found() {
    // The engine publishes the tail before its CQE writes are visible.
    model(KERNEL, weaken(|o| o.tail_store = Ordering::Relaxed));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_cq_tail_load_is_found() {
    // The application reads CQEs not yet visible to it.
    model(KERNEL, weaken(|o| o.tail_load = Ordering::Relaxed));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_cq_head_store_is_found() {
    // The application frees a CQE it may still be reading: the engine overwrites it.
    model(KERNEL, weaken(|o| o.head_store = Ordering::Relaxed));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_sq_head_load_is_found() {
    // The application reuses an SQE slot the engine may still be copying.
    model(weaken(|o| o.head_load = Ordering::Relaxed), KERNEL);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_sq_tail_store_is_found() {
    // The application publishes SQEs before writing them, as the engine sees it.
    model(weaken(|o| o.tail_store = Ordering::Relaxed), KERNEL);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_sq_tail_load_is_found() {
    // The engine copies SQEs the application's writes have not reached.
    model(weaken(|o| o.tail_load = Ordering::Relaxed), KERNEL);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_cq_head_load_is_found() {
    // The engine overwrites a CQE slot the application may still be reading.
    model(KERNEL, weaken(|o| o.head_load = Ordering::Relaxed));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_sq_head_store_is_found() {
    // The engine frees SQE slots before it finished copying them.
    model(weaken(|o| o.head_store = Ordering::Relaxed), KERNEL);
}
