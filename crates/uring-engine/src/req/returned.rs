//! The list freed requests come back on: any thread pushes one without a lock, the
//! request cache's owner (the submitter, under the submit lock) takes all of them in
//! one atomic exchange.
//!
//! A Treiber stack whose only removal is "take everything": pushes compare-and-swap the
//! head, the owner swaps it for null. Popping one node at a time would have the ABA
//! problem (a popper reads the head and its `next`, another thread pops that node,
//! recycles it and pushes it back with another `next`, and the first popper's exchange
//! succeeds with a stale `next`). Here no thread reads a node it does not own: a pusher
//! only stores the head it saw into its own node and publishes the node if the head is
//! still the one it saw, which makes the list `node → head → …` whatever happened to
//! `head` meanwhile (taken, reused and pushed again, it is still the list's first node);
//! the owner walks only what its exchange removed, which nobody else can reach any more.
//!
//! The file is also compiled by `tests/loom_returned.rs` with loom's atomics in place
//! of std's (`super::atomic`), which runs it under every interleaving.
use std::marker::PhantomData;
use std::ptr;

use super::atomic::{AtomicPtr, Ordering};

/// A value that can be on a [`Returned`] list: it has a link field, which the list
/// owns while the value is on it.
pub(crate) trait Node: Sized {
    /// The link field: the next node of the list.
    fn next_returned(&self) -> &AtomicPtr<Self>;
}

/// A last-in first-out list of boxed nodes, pushed to by any thread, emptied whole by
/// its owner ([`take_all`](Returned::take_all)).
pub(crate) struct Returned<T: Node> {
    /// The most recently pushed node, or null.
    head: AtomicPtr<T>,
    /// The list owns its nodes.
    _owns: PhantomData<Box<T>>,
}

// SAFETY: the list hands each node (a `Box<T>`) from the thread that pushed it to the
// thread that takes it, with the happens-before edge of `push`'s `Release` exchange and
// `take_all`'s `Acquire` swap; that is sending a `T`, so `T: Send` is all it needs.
// Nothing reads a node through a shared reference to the list.
unsafe impl<T: Node + Send> Sync for Returned<T> {}
// SAFETY: as above: moving the list moves its nodes.
unsafe impl<T: Node + Send> Send for Returned<T> {}

impl<T: Node> Returned<T> {
    pub(crate) fn new() -> Returned<T> {
        Returned {
            head: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Puts `node` on the list. Lock-free: retries only when another push or a
    /// `take_all` changed the head since it was read.
    pub(crate) fn push(&self, node: Box<T>) {
        let node = Box::into_raw(node);
        // Relaxed: the head is only stored into the node, never dereferenced.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` came from `Box::into_raw` above and is published only by the
            // successful exchange below: until then this thread is its only user.
            unsafe { (*node).next_returned().store(head, Ordering::Relaxed) };
            // Release: pairs with `take_all`'s Acquire swap; the node's contents (the
            // request as its last owner left it) and its link are visible to the thread
            // that takes it. The exchanges of later pushes are read-modify-writes, so
            // they continue this release sequence: a swap that reads any later head
            // still synchronises with this push.
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Takes every node on the list, the most recently pushed first.
    pub(crate) fn take_all(&self) -> Drain<T> {
        Drain {
            // Acquire: pairs with the Release exchange of every push whose node is in
            // the list taken (see `push`).
            next: self.head.swap(ptr::null_mut(), Ordering::Acquire),
            _owns: PhantomData,
        }
    }
}

impl<T: Node> Drop for Returned<T> {
    fn drop(&mut self) {
        drop(self.take_all());
    }
}

/// The nodes one [`Returned::take_all`] removed, in a chain only this value can reach.
/// Those not iterated are freed when it is dropped.
pub(crate) struct Drain<T: Node> {
    /// The first node not yet handed out, or null.
    next: *mut T,
    _owns: PhantomData<Box<T>>,
}

impl<T: Node> Drain<T> {
    /// A chain of no nodes.
    pub(crate) fn empty() -> Drain<T> {
        Drain {
            next: ptr::null_mut(),
            _owns: PhantomData,
        }
    }
}

// SAFETY: a `Drain` owns its chain alone (see `next`): moving it to another thread
// moves the nodes, as moving a `Vec<Box<T>>` would.
unsafe impl<T: Node + Send> Send for Drain<T> {}

impl<T: Node> Iterator for Drain<T> {
    type Item = Box<T>;

    fn next(&mut self) -> Option<Box<T>> {
        if self.next.is_null() {
            return None;
        }
        // SAFETY: every node of the chain was made by `Box::into_raw` in `push`, and the
        // swap in `take_all` removed the chain from the list: this `Drain` is the only
        // owner of each node it has not yet handed out, and hands each out once.
        let node = unsafe { Box::from_raw(self.next) };
        // Relaxed: the link was stored before its node's Release exchange, which the
        // Acquire swap of `take_all` synchronised with.
        self.next = node.next_returned().load(Ordering::Relaxed);
        Some(node)
    }
}

impl<T: Node> Drop for Drain<T> {
    fn drop(&mut self) {
        for node in self.by_ref() {
            drop(node);
        }
    }
}
