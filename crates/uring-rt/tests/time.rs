//! Timers on TIMEOUT, on both backends; and virtual time on the deterministic engine.
mod common;

use std::time::{Duration, Instant};

use uring_rt::time::{self, Elapsed};
use uring_rt::{EngineConfig, FixedBufPool, Runtime, yield_now};

#[test]
fn sleep_timeout_and_interval() {
    common::each_backend("sleep_timeout_and_interval", |rt, _| {
        rt.block_on(async {
            let t0 = Instant::now();
            time::sleep(Duration::from_millis(5)).await;
            assert!(t0.elapsed() >= Duration::from_millis(5));
            time::sleep_until(Instant::now() - Duration::from_secs(1)).await; // passed: at once
            let r = time::timeout(
                Duration::from_millis(1),
                time::sleep(Duration::from_secs(3600)),
            )
            .await;
            let e: Elapsed = r.unwrap_err();
            assert_eq!(e.to_string(), "deadline has elapsed");
            let r = time::timeout(Duration::from_secs(3600), async { 5 }).await;
            assert_eq!(r, Ok(5));
            let mut iv = time::interval(Duration::from_millis(2));
            let a = iv.tick().await;
            let b = iv.tick().await;
            let c = iv.tick().await;
            assert!(b >= a + Duration::from_millis(2) && c >= b + Duration::from_millis(2));
        });
    });
}

#[test]
fn a_dropped_sleep_cancels_its_timeout() {
    common::each_backend("a_dropped_sleep_cancels_its_timeout", |rt, _| {
        rt.block_on(async {
            let mut sleeps: Vec<_> = (0..50)
                .map(|_| time::sleep(Duration::from_secs(3600)))
                .collect();
            // Start them all.
            std::future::poll_fn(|cx| {
                for s in &mut sleeps {
                    assert!(std::pin::Pin::new(s).poll(cx).is_pending());
                }
                std::task::Poll::Ready(())
            })
            .await;
            yield_now().await;
            assert_eq!(rt.ops_in_flight(), 50);
            drop(sleeps);
            // The cancels go out with the next submit and the timeouts end.
            let deadline = Instant::now() + Duration::from_secs(10);
            while rt.ops_in_flight() > 0 {
                assert!(
                    Instant::now() < deadline,
                    "{} timeouts left",
                    rt.ops_in_flight()
                );
                time::sleep(Duration::from_millis(1)).await;
            }
        });
    });
}

#[test]
fn deterministic_engine_runs_on_virtual_time() {
    let rt = Runtime::builder()
        .backend_exact(uring_rt::Backend::Engine)
        .engine_config(EngineConfig::new().deterministic(42))
        .build()
        .unwrap();
    let real = Instant::now();
    let virt = rt.block_on(async {
        let t0 = time::now();
        let h = uring_rt::spawn(async {
            time::sleep(Duration::from_secs(1800)).await;
            time::now()
        });
        time::sleep(Duration::from_secs(3600)).await;
        let mid = h.await.unwrap();
        assert!(mid - t0 >= Duration::from_secs(1800));
        time::now() - t0
    });
    assert!(
        virt >= Duration::from_secs(3600),
        "virtual time moved {virt:?}"
    );
    assert!(
        real.elapsed() < Duration::from_secs(60),
        "an hour of sleep took {:?}",
        real.elapsed()
    );
}

#[test]
fn fixed_buffers_read_write_and_return_to_the_pool() {
    common::each_backend_in_dir("fixed_buffers", |rt, _, dir| {
        let path = dir.join("x");
        rt.block_on(async {
            let f = uring_rt::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&path)
                .await
                .unwrap();
            let pool = FixedBufPool::new(2, 4096).unwrap();
            let mut a = pool.next().await;
            let b = pool.try_next().unwrap();
            assert!(pool.try_next().is_none());
            a.as_mut_slice()[..5].copy_from_slice(b"fixed");
            a.set_len(5).unwrap();
            assert!(a.set_len(5000).is_err());
            let (n, a) = f.write_fixed_at(a, 0).await;
            assert_eq!(n.unwrap(), 5);
            drop(a);
            let c = pool.try_next().expect("a buffer came back");
            let (n, c) = f.read_fixed_at(c, 0).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(&c[..], b"fixed");
            drop((b, c));
            assert!(FixedBufPool::new(0, 1).is_err());
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"fixed");
    });
}

#[test]
fn a_failing_timeout_is_armed_again_not_cut_short() {
    use uring_engine::{Fault, FaultPlan, FaultRule};
    let plan = FaultPlan::new().rule(
        FaultRule::on(&[uring::sys::IORING_OP_TIMEOUT])
            .at(0, Fault::Error(libc::EIO))
            .at(1, Fault::Error(libc::EINTR)),
    );
    let Some(rt) = common::runtime_on(
        "a_failing_timeout",
        uring_rt::Backend::Engine,
        Some(EngineConfig::new().faults(plan.clone())),
    ) else {
        return;
    };
    rt.block_on(async {
        let t0 = Instant::now();
        time::sleep(Duration::from_millis(5)).await;
        assert!(t0.elapsed() >= Duration::from_millis(5));
    });
    assert_eq!(plan.counts().errors, 2);
}
