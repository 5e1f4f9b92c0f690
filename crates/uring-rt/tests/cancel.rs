//! Cancellation, proven: `select(read, sleep(random 0–1 ms))` on pipes and files, on
//! both backends and on the engine with injected faults (short transfers, EINTR,
//! delays) to hit the races between cancel and completion; no byte lost or duplicated,
//! the process's fd count constant; a dropped open closes the fd that arrives late.
//!
//! The tests of this file count the process's descriptors, so they run one at a time
//! (a lock), and alone in their process (their own test binary).
//!
//! The long run: `URING_RT_TORTURE_ITERS=1000000 cargo test -p uring-rt --release
//! --test cancel -- --ignored --nocapture`.
mod common;

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use uring_engine::{FaultPlan, FaultRule, Rng};
use uring_rt::fs::File;
use uring_rt::{Backend, EngineConfig, Runtime, spawn, time, yield_now};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Byte `i` of the stream the writer sends.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

enum Won<T> {
    Op(T),
    Sleep,
}

/// Polls `op` then `sleep`; whichever is ready first wins. `op` is left in place.
async fn race<O: Future + Unpin>(op: &mut O, sleep: &mut time::Sleep) -> Won<O::Output> {
    poll_fn(|cx| {
        if let Poll::Ready(v) = Pin::new(&mut *op).poll(cx) {
            return Poll::Ready(Won::Op(v));
        }
        Pin::new(&mut *sleep).poll(cx).map(|()| Won::Sleep)
    })
    .await
}

fn pipe_pair() -> (File, File) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    (File::from(r), File::from(w))
}

/// A writer task streams `total` pattern bytes into a pipe in random chunks with random
/// pauses; the reader races each read against a random sleep of 0–1 ms and, when the
/// sleep wins, cancels the read and awaits its outcome. Every byte must arrive once,
/// in order.
fn pipe_torture(rt: &Runtime, iters: u64, seed: u64) {
    rt.block_on(async move {
        let (r, w) = pipe_pair();
        let writer = spawn(async move {
            let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
            let mut sent = 0u64;
            for _ in 0..iters {
                let n = 1 + rng.below(64);
                let chunk: Vec<u8> = (sent..sent + n).map(pattern).collect();
                let (res, _) = w.write_all_at(chunk, 0).await;
                res.unwrap();
                sent += n;
                match rng.below(4) {
                    0 => time::sleep(Duration::from_micros(rng.below(500))).await,
                    1 => yield_now().await,
                    _ => {}
                }
            }
            sent
        });
        let mut rng = Rng::new(seed);
        let mut got = 0u64;
        let (mut cancelled, mut won) = (0u64, 0u64);
        loop {
            let cap = 1 + rng.below(128) as usize;
            let mut read = r.read(Vec::with_capacity(cap));
            let mut sleep = time::sleep(Duration::from_micros(rng.below(1000)));
            let (res, buf) = match race(&mut read, &mut sleep).await {
                Won::Op(out) => out,
                Won::Sleep => {
                    read.cancel();
                    cancelled += 1;
                    read.await
                }
            };
            let n = match res {
                Ok(0) => break, // EOF: the writer is done and dropped its end
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("read: {e}"),
            };
            won += 1;
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(
                    b,
                    pattern(got + k as u64),
                    "byte {} (seed {seed})",
                    got + k as u64
                );
            }
            got += n as u64;
        }
        let sent = writer.await.unwrap();
        assert_eq!(got, sent, "bytes received vs sent (seed {seed})");
        eprintln!("pipe torture: {iters} writes, {got} bytes, {won} reads, {cancelled} cancelled");
    });
}

/// Reads a file at offsets, each read raced against a random sleep; a read that loses
/// is simply dropped (a file keeps its data: read again at the same offset) or, every
/// other time, cancelled and awaited. Every completed read must hold the file's bytes.
fn file_torture(rt: &Runtime, iters: u64, seed: u64) {
    const LEN: u64 = 1 << 16;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, (0..LEN).map(pattern).collect::<Vec<_>>()).unwrap();
    rt.block_on(async move {
        let f = File::open(&path).await.unwrap();
        let mut rng = Rng::new(seed);
        let (mut pos, mut reads, mut dropped) = (0u64, 0u64, 0u64);
        for i in 0..iters {
            let cap = 1 + rng.below(4096) as usize;
            let mut read = f.read_at(Vec::with_capacity(cap), pos);
            let mut sleep = time::sleep(Duration::from_micros(rng.below(1000)));
            let (res, buf) = match race(&mut read, &mut sleep).await {
                Won::Op(out) => out,
                Won::Sleep if i % 2 == 0 => {
                    drop(read);
                    dropped += 1;
                    continue;
                }
                Won::Sleep => {
                    read.cancel();
                    read.await
                }
            };
            let n = match res {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("read: {e}"),
            };
            reads += 1;
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(
                    b,
                    pattern(pos + k as u64),
                    "offset {} (seed {seed})",
                    pos + k as u64
                );
            }
            pos = if n == 0 { 0 } else { (pos + n as u64) % LEN };
        }
        eprintln!("file torture: {iters} iterations, {reads} reads, {dropped} dropped");
    });
}

/// The engine with faults on reads, writes and timeouts: short transfers, interrupted
/// attempts, delays.
fn faulty_engine(seed: u64) -> EngineConfig {
    let ops = [
        uring::sys::IORING_OP_READ,
        uring::sys::IORING_OP_WRITE,
        uring::sys::IORING_OP_TIMEOUT,
    ];
    EngineConfig::new().faults(
        FaultPlan::new().seed(seed).rule(
            FaultRule::on(&ops)
                .short(0.2)
                .eintr(0.1)
                .delay(Duration::from_micros(300), 0.2),
        ),
    )
}

/// Each configuration the torture runs on: the kernel, the engine, the faulty engine.
fn configs() -> Vec<(Backend, Option<EngineConfig>, &'static str)> {
    let mut v = Vec::new();
    for b in common::backends() {
        v.push((b, None, b.name()));
        if b == Backend::Engine {
            v.push((b, Some(faulty_engine(7)), "engine+faults"));
        }
    }
    v
}

fn torture(iters: u64) {
    let _g = serial();
    for (backend, cfg, name) in configs() {
        let before = fd_count();
        {
            let Some(rt) = common::runtime_on("torture", backend, cfg) else {
                continue;
            };
            eprintln!("[{name}]");
            pipe_torture(&rt, iters, 1);
            file_torture(&rt, iters, 2);
            assert!(rt.shutdown(Duration::from_secs(10)), "[{name}] drain");
        }
        assert_eq!(fd_count(), before, "[{name}] descriptors leaked");
    }
}

#[test]
fn select_read_sleep_torture() {
    torture(1500);
}

#[test]
#[ignore = "long: URING_RT_TORTURE_ITERS=1000000, see the file's docs"]
fn select_read_sleep_torture_long() {
    let iters = std::env::var("URING_RT_TORTURE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    torture(iters);
}

/// Descriptors of this process open on `path`.
fn fds_on(path: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l == path)
        .count()
}

#[test]
fn a_dropped_open_closes_the_late_fd() {
    let _g = serial();
    common::each_backend_in_dir("a_dropped_open_closes_the_late_fd", |rt, backend, dir| {
        let path = dir.join("o");
        std::fs::write(&path, b"x").unwrap();
        rt.block_on(async {
            for i in 0..200 {
                let mut open = Box::pin(File::open(&path));
                // Started: its SQE is pushed (and the cancel follows it when dropped).
                assert!(poll_fn(|cx| Poll::Ready(open.as_mut().poll(cx).is_pending())).await);
                // Half the time, let the open complete before the future is dropped:
                // the slot holds the fd nobody took.
                if i % 2 == 1 {
                    yield_now().await;
                    yield_now().await;
                }
                drop(open);
            }
            // Let the orphans finish.
            time::sleep(Duration::from_millis(20)).await;
        });
        // Checked by what the descriptors point at: the engine opens descriptors of
        // its own on first use, so a bare count would blame it.
        assert_eq!(fds_on(&path), 0, "[{}] late fds left open", backend.name());
    });
}

#[test]
fn dropping_the_runtime_with_ops_in_flight_drains_them() {
    let _g = serial();
    for backend in common::backends() {
        let before = fd_count();
        {
            let Some(rt) = common::runtime_on("drop_drains", backend, None) else {
                continue;
            };
            let (r, w) = pipe_pair();
            let r = std::rc::Rc::new(r);
            rt.block_on(async move {
                // Reads that will never complete by themselves, and a long sleep.
                for _ in 0..8 {
                    let r = r.clone();
                    drop(spawn(async move {
                        let _ = r.read(vec![0u8; 64]).await;
                    }));
                }
                let _keep = w;
                drop(spawn(time::sleep(Duration::from_secs(3600))));
                yield_now().await;
                yield_now().await;
            });
            // The runtime is dropped here with all of that in flight.
        }
        assert_eq!(fd_count(), before, "[{}]", backend.name());
    }
}

/// A buffer that counts its drops, to see that a slot frees what it held exactly once.
struct Counted {
    bytes: Vec<u8>,
    drops: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

// SAFETY: the bytes are a Vec's heap memory, which does not move with the value and
// lives until it is dropped.
unsafe impl uring_rt::IoBuf for Counted {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.capacity()
    }
}

// SAFETY: as for IoBuf; the spare capacity is writable.
unsafe impl uring_rt::IoBufMut for Counted {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.bytes.len() < pos {
            // SAFETY: the caller wrote the first `pos <= capacity` bytes.
            unsafe { self.bytes.set_len(pos) };
        }
    }
}

/// A submit that fails after ops were pushed (an errno from `io_uring_enter` that says
/// the ring consumed none of them, injected on both backends): each op whose SQE it
/// held completes with that errno and its buffer back, a dropped one frees its buffer
/// once, an op the kernel already held is untouched, no slot stays in use, and the
/// ring goes on working. Nothing hangs or panics.
#[test]
fn a_failed_submit_fails_its_ops_and_loses_nothing() {
    let _g = serial();
    for backend in common::backends() {
        let before = fd_count();
        let Some(rt) = common::runtime_on("failed_submit", backend, None) else {
            continue;
        };
        let name = backend.name();
        let mut data = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut data, &[7u8; 8192]).unwrap();
        let file = File::from(data);
        let (r, w) = pipe_pair();
        let drops = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = |n: usize| Counted {
            bytes: Vec::with_capacity(n),
            drops: drops.clone(),
        };
        rt.block_on(async {
            // An op the kernel holds before the failure: a read of the empty pipe.
            let mut held = r.read(counted(16));
            assert!(poll_fn(|cx| Poll::Ready(Pin::new(&mut held).poll(cx).is_pending())).await);
            yield_now().await;
            assert!(held.is_submitted());

            // Eight reads and a dropped one, pushed in one turn; that turn's submit fails.
            let mut reads: Vec<_> = (0..8u64)
                .map(|i| file.read_at(counted(512), i * 512))
                .collect();
            let mut dropped = file.read_at(counted(512), 0);
            poll_fn(|cx| {
                for op in reads.iter_mut().chain([&mut dropped]) {
                    assert!(Pin::new(op).poll(cx).is_pending());
                }
                Poll::Ready(())
            })
            .await;
            drop(dropped);
            assert!(uring_rt::op::fail_next_submit(libc::ENXIO));
            for op in reads {
                let (res, buf) = op.await;
                let e = res.expect_err("the submit failed");
                assert_eq!(e.raw_os_error(), Some(libc::ENXIO), "[{name}]");
                assert_eq!(buf.bytes.capacity(), 512, "[{name}] the buffer came back");
                assert!(buf.bytes.is_empty(), "[{name}] nothing was read into it");
                std::mem::forget(buf); // counted apart from the dropped op's
            }
            assert_eq!(
                drops.get(),
                1,
                "[{name}] the dropped op's buffer, freed once"
            );

            // The ring works on: the same reads now succeed, and the held op completes.
            let (res, buf) = file.read_at(counted(512), 512).await;
            assert_eq!(res.unwrap(), 512, "[{name}]");
            assert!(buf.bytes.iter().all(|&b| b == 7), "[{name}]");
            drop(buf);
            let (res, _) = w.write(b"after".to_vec()).await;
            assert_eq!(res.unwrap(), 5, "[{name}]");
            let (res, buf) = held.await;
            assert_eq!(
                res.unwrap(),
                5,
                "[{name}] the op the kernel held is untouched"
            );
            assert_eq!(buf.bytes, b"after", "[{name}]");
        });
        assert_eq!(rt.ops_in_flight(), 0, "[{name}] no slot left in use");
        assert_eq!(drops.get(), 3, "[{name}] every buffer dropped once");
        assert!(rt.shutdown(Duration::from_secs(10)), "[{name}] drained");
        drop((file, r, w));
        assert_eq!(fd_count(), before, "[{name}]");
    }
}
