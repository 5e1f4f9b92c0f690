//! Who an op's completion wakes: the task that polled it last (the driver queues a
//! task of its own runtime without a waker), or whatever other waker polled it last.
mod common;

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use uring_rt::fs::File;
use uring_rt::{spawn, yield_now};

fn pipe_pair() -> (File, File) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    (File::from(r), File::from(w))
}

/// A task's output within 10 s: a completion that wakes nobody fails the test instead
/// of hanging it (the timeout's own timer wakes the main future, which is no task).
async fn within<T: 'static>(task: uring_rt::JoinHandle<T>) -> T {
    uring_rt::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the completion woke the task within 10 s")
        .unwrap()
}

/// A read started by one task and finished by another: the completion wakes the task
/// that polled it last, not the one that started it (which has ended meanwhile).
#[test]
fn op_moved_to_another_task_wakes_that_task() {
    common::each_backend("op_moved_to_another_task_wakes_that_task", |rt, _| {
        rt.block_on(async {
            let (r, w) = pipe_pair();
            let r = Rc::new(r);
            let slot = Rc::new(RefCell::new(None));
            let (r2, slot2) = (r.clone(), slot.clone());
            let starter = spawn(async move {
                let mut read = r2.read(Vec::with_capacity(16));
                // One poll: the read is in the ring, waiting for data.
                let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut read).poll(cx))).await;
                assert!(first.is_pending(), "an empty pipe has nothing to read");
                *slot2.borrow_mut() = Some(read);
            });
            starter.await.unwrap();
            let read = slot.borrow_mut().take().expect("the read handed over");
            let finisher = spawn(read);
            yield_now().await;
            let (n, _) = w.write(b"moved".to_vec()).await;
            assert_eq!(n.unwrap(), 5);
            let (n, buf) = within(finisher).await;
            assert_eq!(&buf[..n.unwrap()], b"moved");
        });
    });
}

/// Counts its wakes and passes each on to the task's own waker.
struct Counting {
    wakes: AtomicUsize,
    inner: Waker,
}

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

/// An op polled with a waker that is not a task's (a combinator's own) gets that waker
/// woken by its completion.
#[test]
fn op_polled_with_a_foreign_waker_wakes_it() {
    common::each_backend("op_polled_with_a_foreign_waker_wakes_it", |rt, _| {
        rt.block_on(async {
            let (r, w) = pipe_pair();
            let reader = spawn(async move {
                let mut read = r.read(Vec::with_capacity(16));
                let mut counting: Option<Arc<Counting>> = None;
                let out = poll_fn(|cx| {
                    let c = counting.get_or_insert_with(|| {
                        Arc::new(Counting {
                            wakes: AtomicUsize::new(0),
                            inner: cx.waker().clone(),
                        })
                    });
                    let waker = Waker::from(c.clone());
                    Pin::new(&mut read).poll(&mut Context::from_waker(&waker))
                })
                .await;
                let wakes = counting.map_or(0, |c| c.wakes.load(Ordering::SeqCst));
                (out, wakes)
            });
            yield_now().await;
            let (n, _) = w.write(b"foreign".to_vec()).await;
            assert_eq!(n.unwrap(), 7);
            let ((n, buf), wakes) = within(reader).await;
            assert_eq!(&buf[..n.unwrap()], b"foreign");
            assert!(
                wakes >= 1,
                "the completion woke the waker the op was polled with"
            );
        });
    });
}
