//! A loom model of the request cache's returned list (`src/req/returned.rs`, compiled
//! here with loom's atomics in place of std's): requests completed on other threads are
//! pushed without a lock while the submitter takes the list whole, reuses what it took
//! and gives some back itself (an inline completion), as `ReqCache` does.
//!
//! Loom runs every interleaving and every weak-memory outcome the C++11 model allows;
//! each node carries a loom `UnsafeCell` that its completer writes before pushing it
//! and the submitter reads after taking it, so a read not ordered after that write (a
//! push's `Release` or the take's `Acquire` weakened to `Relaxed`: both were tried, and
//! loom reports the race) fails the model, as does a node lost or taken twice (an
//! exchange that dropped or repeated a link).
//!
//! It runs in the normal test suite (three threads, three nodes, at most two preemptions); for
//! a deeper search:
//! `LOOM_MAX_PREEMPTIONS=4 cargo test -p uring-engine --test loom_returned --release`.
// The nodes are boxes on purpose: the list links the boxes themselves.
#![allow(clippy::vec_box)]
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// What `returned.rs` names as `super::atomic`.
mod atomic {
    pub(crate) use loom::sync::atomic::{AtomicPtr, Ordering};
}

#[path = "../src/req/returned.rs"]
#[allow(dead_code)]
mod returned;

use atomic::AtomicPtr;
use returned::{Node, Returned};

/// A request, as far as the list cares: an id and what its last owner wrote.
struct Req {
    id: usize,
    data: UnsafeCell<usize>,
    next: AtomicPtr<Req>,
    /// Loom reports an `Arc` not dropped by the end of the model: a node the list
    /// lost or failed to free.
    _alive: Arc<()>,
}

impl Node for Req {
    fn next_returned(&self) -> &AtomicPtr<Req> {
        &self.next
    }
}

fn req(id: usize) -> Box<Req> {
    Box::new(Req {
        id,
        data: UnsafeCell::new(0),
        next: AtomicPtr::new(std::ptr::null_mut()),
        _alive: Arc::new(()),
    })
}

/// The completer's side of a request: writes it (its result), then gives it back.
fn complete(list: &Returned<Req>, r: Box<Req>, value: usize) {
    // SAFETY: this thread owns `r`; the write is what the model checks is ordered
    // before the taker's read.
    r.data.with_mut(|p| unsafe { *p = value });
    list.push(r);
}

/// Takes everything returned, checking what each completer wrote; the ids seen.
fn take(list: &Returned<Req>, seen: &mut [usize]) -> Vec<Box<Req>> {
    let mut got = Vec::new();
    for r in list.take_all() {
        // SAFETY: the node was taken off the list; its completer's write must be
        // visible (loom fails the model on a read racing with it).
        let v = r.data.with(|p| unsafe { *p });
        assert_eq!(v, 100 + r.id, "request {} as its completer left it", r.id);
        seen[r.id] += 1;
        got.push(r);
    }
    got
}

/// Runs `f` under loom, with at most 2 preemptions unless `LOOM_MAX_PREEMPTIONS` says.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

#[test]
fn returned_requests_come_back_once_with_their_contents() {
    model(|| {
        let list = Arc::new(Returned::new());
        // Two completers on other threads, one request each.
        let l1 = list.clone();
        let a = req(0);
        let t1 = thread::spawn(move || complete(&l1, a, 100));
        let l2 = list.clone();
        let b = req(1);
        let t2 = thread::spawn(move || complete(&l2, b, 101));
        // The submitter: completes one inline, takes what came back, reuses it (a
        // fresh value written, given back again: the ABA case for the pushers'
        // exchanges, which may have read this very head), then takes the rest.
        let mut seen = [0usize; 3];
        complete(&list, req(2), 102);
        let first = take(&list, &mut seen);
        assert!(!first.is_empty(), "the submitter's own request is there");
        for r in first {
            let id = r.id;
            seen[id] -= 1;
            complete(&list, r, 100 + id);
        }
        t1.join().unwrap();
        t2.join().unwrap();
        let rest = take(&list, &mut seen);
        assert_eq!(seen, [1, 1, 1], "each request back exactly once");
        assert_eq!(rest.len(), 3);
        assert!(take(&list, &mut seen).is_empty());
    });
}

#[test]
fn a_list_dropped_with_requests_on_it_frees_them() {
    model(|| {
        let list = Arc::new(Returned::new());
        let l = list.clone();
        let t = thread::spawn(move || complete(&l, req(0), 100));
        complete(&list, req(1), 101);
        t.join().unwrap();
        // Loom reports a leaked `Arc` (each node holds one) at the end of the model:
        // dropping the list must free both nodes.
        drop(list);
    });
}
