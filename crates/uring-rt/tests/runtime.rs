//! The executor: block_on, spawn, join, abort, yield, wakes from other threads.
mod common;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use uring_rt::{JoinError, spawn, time, yield_now};

#[test]
fn block_on_spawn_join_and_yield() {
    common::each_backend("block_on_spawn_join_and_yield", |rt, _| {
        let out = rt.block_on(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let mut handles = Vec::new();
            for i in 0..4 {
                let log = log.clone();
                handles.push(spawn(async move {
                    for step in 0..3 {
                        log.borrow_mut().push((i, step));
                        yield_now().await;
                    }
                    i * 10
                }));
            }
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            // Yielding interleaves the tasks: each step of every task before the next.
            let log = log.borrow();
            assert_eq!(log.len(), 12);
            assert_eq!(&log[..4], &[(0, 0), (1, 0), (2, 0), (3, 0)]);
            sum
        });
        assert_eq!(out, 60);
    });
}

#[test]
fn abort_cancels_the_task_and_its_sleep() {
    common::each_backend("abort_cancels_the_task_and_its_sleep", |rt, _| {
        rt.block_on(async {
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            let h = spawn(async move {
                time::sleep(Duration::from_secs(3600)).await;
                r.set(true);
            });
            yield_now().await; // the task starts and arms its timeout
            h.abort();
            assert_eq!(h.await, Err(JoinError::Cancelled));
            assert!(!ran.get());
            // A finished task's output survives a late abort.
            let h = spawn(async { 7 });
            yield_now().await;
            yield_now().await;
            h.abort();
            assert_eq!(h.await, Ok(7));
        });
    });
}

#[test]
fn a_detached_task_runs_on() {
    common::each_backend("a_detached_task_runs_on", |rt, _| {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        rt.block_on(async move {
            drop(spawn(async move {
                time::sleep(Duration::from_millis(1)).await;
                d.set(true);
            }));
            time::sleep(Duration::from_millis(20)).await;
        });
        assert!(done.get());
    });
}

/// A one-shot slot a plain thread fills and wakes.
#[derive(Default)]
struct Slot {
    value: Option<u32>,
    waker: Option<Waker>,
}

#[test]
fn a_wake_from_another_thread_reaches_a_waiting_runtime() {
    common::each_backend("a_wake_from_another_thread", |rt, _| {
        for round in 0..20 {
            let slot = Arc::new(Mutex::new(Slot::default()));
            let s = slot.clone();
            let got = rt.block_on(async move {
                // Nothing else in flight: the loop waits in io_uring_enter until the
                // eventfd read completes.
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(2));
                    let mut g = s.lock().unwrap();
                    g.value = Some(round);
                    if let Some(w) = g.waker.take() {
                        w.wake();
                    }
                });
                let v = poll_fn(|cx| {
                    let mut g = slot.lock().unwrap();
                    match g.value {
                        Some(v) => Poll::Ready(v),
                        None => {
                            g.waker = Some(cx.waker().clone());
                            Poll::Pending
                        }
                    }
                })
                .await;
                t.join().unwrap();
                v
            });
            assert_eq!(got, round);
        }
    });
}

#[test]
fn wakers_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Waker>();
    uring_rt::block_on(async {
        let w = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        std::thread::spawn(move || w.wake()).join().unwrap();
    });
}

#[test]
fn builder_probes_setup_flags() {
    common::each_backend("builder_probes_setup_flags", |rt, backend| {
        let flags = rt.setup_flags();
        if backend == uring_rt::Backend::Kernel {
            // 6.1+ has DEFER_TASKRUN; older kernels fall back (COOP_TASKRUN, or none).
            eprintln!("kernel setup flags: {flags:#x}");
        }
        assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    });
}

#[test]
#[should_panic(expected = "outside a runtime")]
fn spawn_outside_a_runtime_panics_clearly() {
    drop(spawn(async {}));
}

#[test]
fn an_op_outside_a_runtime_is_an_error() {
    let f = std::fs::File::open("/proc/self/stat").unwrap();
    let f = uring_rt::fs::File::from(f);
    // Polled by a foreign executor: an error, not a panic.
    let waker = Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut op = f.read_at(vec![0u8; 16], 0);
    match std::pin::Pin::new(&mut op).poll(&mut cx) {
        Poll::Ready((Err(e), _)) => assert!(e.to_string().contains("no runtime")),
        other => panic!("{:?}", other.map(|(r, _)| r.map_err(|e| e.to_string()))),
    }
}

#[test]
fn sqpoll_runtime_does_io() {
    for backend in common::backends() {
        let b = uring_rt::Runtime::builder()
            .backend_exact(backend)
            .sqpoll(Duration::from_millis(10));
        let rt = match b.build() {
            Ok(rt) => rt,
            Err(e)
                if backend == uring_rt::Backend::Kernel
                    && e.raw_os_error() == Some(libc::EPERM) =>
            {
                eprintln!("SKIP sqpoll_runtime_does_io [kernel]: {e}");
                continue;
            }
            Err(e) => panic!("[{}] {e}", backend.name()),
        };
        assert_ne!(rt.setup_flags() & uring::sys::IORING_SETUP_SQPOLL, 0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        rt.block_on(async {
            let f = uring_rt::fs::File::create(&path).await.unwrap();
            for i in 0..50u64 {
                let (r, _) = f.write_at(vec![i as u8; 100], i * 100).await;
                assert_eq!(r.unwrap(), 100);
            }
            f.sync_all().await.unwrap();
            time::sleep(Duration::from_millis(20)).await; // the poll thread sleeps; wake it
            let (r, _) = f.write_at(vec![9u8; 1], 5000).await;
            assert_eq!(r.unwrap(), 1);
        });
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), 5001);
        assert!(
            data[..5000]
                .chunks(100)
                .enumerate()
                .all(|(i, c)| c.iter().all(|&b| b == i as u8))
        );
    }
}

#[test]
fn a_tiny_ring_under_many_ops_waits_for_room_and_loses_nothing() {
    // 2 SQ entries, 4 CQ entries, 200 reads and 50 sleeps at once: pushes find the SQ
    // full (the op waits for room, its data back in its future), and completions
    // overflow the CQ (the kernel keeps them; submit says EBUSY until they are reaped).
    for backend in common::backends() {
        let Some(rt) = common::runtime_on("tiny_ring", backend, None)
            .map(|_| ())
            .and_then(|()| {
                uring_rt::Runtime::builder()
                    .backend_exact(backend)
                    .entries(2)
                    .build()
                    .ok()
            })
        else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, (0..=255u8).collect::<Vec<_>>()).unwrap();
        let total = rt.block_on(async {
            let f = Rc::new(uring_rt::fs::File::open(&path).await.unwrap());
            let mut hs = Vec::new();
            for i in 0..200u64 {
                let f = f.clone();
                hs.push(spawn(async move {
                    let (r, b) = f.read_at(Vec::with_capacity(1), i % 256).await;
                    assert_eq!(r.unwrap(), 1);
                    assert_eq!(b[0], (i % 256) as u8);
                    1u64
                }));
            }
            for _ in 0..50 {
                hs.push(spawn(async {
                    time::sleep(Duration::from_micros(100)).await;
                    0
                }));
            }
            let mut total = 0;
            for h in hs {
                total += h.await.unwrap();
            }
            total
        });
        assert_eq!(total, 200, "[{}]", backend.name());
        assert!(rt.shutdown(Duration::from_secs(10)));
    }
}
