//! Many cores: `Builder::run`, tasks and descriptors sent between runtimes, on both
//! backends.
mod common;

use std::future::Future;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use uring_rt::fs::File;
use uring_rt::{Backend, Builder, Core, JoinError, Runtime, cores};

/// `Builder::run` with `n` runtimes on `backend`, or `None` (a visible skip) when the
/// kernel refuses io_uring.
fn run_on<T: Send, F: Future<Output = T>>(
    test: &str,
    backend: Backend,
    n: usize,
    main: impl Fn() -> F + Sync,
) -> Option<Vec<T>> {
    // The kernel half is skipped (or fails under URING_REQUIRE_KERNEL) as the
    // harness's single runtimes are.
    common::build_on(test, backend, |b| b)?;
    Some(
        Builder::new()
            .backend_exact(backend)
            .threads(n)
            .run(main)
            .unwrap_or_else(|e| panic!("{test} [{}]: run: {e}", backend.name())),
    )
}

fn thread_id() -> std::thread::ThreadId {
    std::thread::current().id()
}

#[test]
fn run_starts_one_runtime_per_thread_and_returns_in_order() {
    for b in common::backends() {
        let Some(out) = run_on("run_starts_one_runtime", b, 3, || async {
            let me = Core::current().expect("inside a runtime");
            assert_eq!(cores().len(), 3);
            assert!(cores()[me.index()].same(&me));
            (me.index(), thread_id())
        }) else {
            continue;
        };
        let indexes: Vec<usize> = out.iter().map(|o| o.0).collect();
        assert_eq!(indexes, [0, 1, 2]);
        assert_ne!(out[0].1, out[1].1);
        assert_ne!(out[1].1, out[2].1);
    }
}

#[test]
fn tasks_sent_to_another_core_run_there() {
    for b in common::backends() {
        let Some(out) = run_on("tasks_sent_to_another_core_run_there", b, 2, || async {
            let me = Core::current().unwrap();
            let other = cores()[1 - me.index()].clone();
            let mut handles = Vec::new();
            for i in 0..200u64 {
                // A Send future, run on the other core.
                handles.push(other.spawn(async move {
                    uring_rt::yield_now().await;
                    (i, Core::current().unwrap().index(), thread_id())
                }));
            }
            let mut sum = 0;
            for h in handles {
                let (i, index, thread) = h.await.expect("the task ran");
                assert_eq!(index, other.index());
                assert_ne!(thread, thread_id());
                sum += i;
            }
            // A future that is not Send, made on the other core.
            let rc = other
                .spawn_with(|| {
                    let rc = std::rc::Rc::new(5);
                    async move { *rc + 1 }
                })
                .await
                .unwrap();
            (sum, rc, other.notifications())
        }) else {
            continue;
        };
        for (sum, rc, (by_msg_ring, _)) in out {
            assert_eq!(sum, 199 * 200 / 2);
            assert_eq!(rc, 6);
            // Sent from a runtime on the same backend: notified through MSG_RING
            // (the kernel's and the engine's), not only by eventfd writes.
            assert!(by_msg_ring > 0, "[{}] no MSG_RING notification", b.name());
        }
    }
}

/// Waits for `fut` on this plain thread (no runtime): parks until woken.
fn park_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn a_plain_thread_spawns_on_a_runtime_and_awaits_the_handle() {
    common::each_backend("a_plain_thread_spawns_on_a_runtime", |rt, _| {
        let core = rt.core();
        let runtime_thread = thread_id();
        let sender = std::thread::spawn(move || {
            let h = core.spawn(async { (40 + 2, thread_id()) });
            park_on(h)
        });
        // The runtime waits in the ring until the eventfd write wakes it.
        let out = rt.block_on(async {
            loop {
                if sender.is_finished() {
                    break sender.join().unwrap();
                }
                uring_rt::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        });
        assert_eq!(out, Ok((42, runtime_thread)));
    });
}

/// A pipe, both ends close-on-exec; the read end non-blocking.
fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let flags = rustix::fs::fcntl_getfl(&r).unwrap();
    rustix::fs::fcntl_setfl(&r, flags | rustix::fs::OFlags::NONBLOCK).unwrap();
    (r, w)
}

/// Whether every write end of the pipe whose read end is `r` is closed, once the data
/// is read: a read gives 0 (end of file) rather than `EAGAIN`.
fn writers_closed(r: &impl AsFd) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match rustix::io::read(r, &mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(rustix::io::Errno::AGAIN) => return false,
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn a_descriptor_handed_to_another_core_arrives_works_and_is_closed() {
    for b in common::backends() {
        let Some(out) = run_on("a_descriptor_handed_to_another_core", b, 2, || async {
            let me = Core::current().unwrap();
            let other = cores()[1 - me.index()].clone();
            for round in 0..50u32 {
                let (r, w) = pipe();
                let msg = format!("core {} round {round}", other.index());
                let expect = msg.clone();
                // The write end goes to the other core, which writes through its ring
                // and drops it.
                let n = other
                    .spawn_with_fd(w, move |fd| async move {
                        let file = File::from(fd);
                        let (res, _) = file.write_all_at(msg.into_bytes(), 0).await;
                        res.map(|()| Core::current().unwrap().index())
                    })
                    .await
                    .expect("the task ran")
                    .expect("the write");
                assert_eq!(n, other.index());
                // Read back here, through this core's ring.
                let reader = File::from(r.try_clone().unwrap());
                let (res, buf) = reader.read(Vec::with_capacity(64)).await;
                assert_eq!(res.unwrap(), expect.len());
                assert_eq!(buf, expect.as_bytes());
                drop(reader);
                // The other core dropped the write end: nothing leaked.
                assert!(writers_closed(&r), "round {round}: the write end is open");
            }
            true
        }) else {
            continue;
        };
        assert_eq!(out, [true, true]);
    }
}

#[test]
fn a_descriptor_sent_to_a_shut_down_core_is_closed() {
    for b in common::backends() {
        let Some(rt) = common::runtime_on("a_descriptor_sent_to_a_shut_down_core", b, None) else {
            continue;
        };
        let core = rt.core();
        assert!(rt.shutdown(std::time::Duration::from_secs(5)));
        let (r, w) = pipe();
        let h = core.spawn_with_fd(w, |fd| async move {
            let _ = std::io::stderr().write_all(b"unreachable: the core is shut down\n");
            drop(fd);
        });
        assert_eq!(park_on(h), Err(JoinError::Cancelled));
        assert!(writers_closed(&r));
    }
}

#[test]
fn tasks_left_on_a_core_when_its_runtime_drops_are_cancelled() {
    for b in common::backends() {
        let Some(rt) = common::runtime_on("tasks_left_on_a_core", b, None) else {
            continue;
        };
        let core = rt.core();
        let (r, w) = pipe();
        // Queued but never run (no block_on), then the runtime drops.
        let h = core.spawn_with_fd(w, |fd| async move {
            std::future::pending::<()>().await;
            drop(fd);
        });
        drop(rt);
        assert_eq!(park_on(h), Err(JoinError::Cancelled));
        assert!(writers_closed(&r));
        // And one that started: dropped with the runtime's tasks.
        let rt = common::runtime_on("tasks_left_on_a_core", b, None).unwrap();
        let (r, w) = pipe();
        let h = rt.core().spawn_with_fd(w, |fd| async move {
            std::future::pending::<()>().await;
            drop(fd);
        });
        rt.block_on(uring_rt::yield_now());
        assert!(!h.is_finished());
        drop(rt);
        assert_eq!(park_on(h), Err(JoinError::Cancelled));
        assert!(writers_closed(&r));
    }
}

#[test]
fn a_lone_runtime_is_its_own_single_core() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let all = cores();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].index(), 0);
        assert!(all[0].same(&Core::current().unwrap()));
        // Spawning on oneself goes through the queue too.
        assert_eq!(all[0].spawn(async { 3 }).await, Ok(3));
    });
    assert!(Core::current().is_none());
    assert!(cores().is_empty());
}

/// Answers each connection with `index`, for ever.
async fn answer_with(listener: uring_rt::net::TcpListener, index: u8) {
    loop {
        let (s, _) = listener.accept().await.unwrap();
        let (res, _) = s.write_all(vec![index]).await;
        res.unwrap();
    }
}

#[test]
fn reuseport_listeners_on_two_cores_share_one_port() {
    use std::io::Read;
    use uring_rt::net::TcpListener;
    const CONNS: usize = 64;
    for b in common::backends() {
        let Some(out) = run_on("reuseport_listeners", b, 2, || async {
            if Core::current().unwrap().index() == 1 {
                // Serves what core 0 sends it until core 0 is done.
                return None;
            }
            let l0 = TcpListener::bind_reuseport("127.0.0.1:0").await.unwrap();
            let port = l0.local_addr().unwrap().port();
            // Core 1 binds the same port; the handle comes back once it has.
            cores()[1]
                .spawn_with(move || async move {
                    let l1 = TcpListener::bind_reuseport(("127.0.0.1", port))
                        .await
                        .unwrap();
                    drop(uring_rt::spawn(answer_with(l1, 1)));
                })
                .await
                .unwrap();
            drop(uring_rt::spawn(answer_with(l0, 0)));
            let client = std::thread::spawn(move || {
                let mut by_core = [0usize; 2];
                for _ in 0..CONNS {
                    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b).unwrap();
                    by_core[b[0] as usize] += 1;
                }
                by_core
            });
            while !client.is_finished() {
                uring_rt::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            Some(client.join().unwrap())
        }) else {
            continue;
        };
        let by_core = out[0].unwrap();
        assert_eq!(by_core[0] + by_core[1], CONNS);
        // Spread by a hash of the client's port: both listeners took some (all 64 on
        // one would be a 1-in-2^63 draw).
        assert!(by_core[0] > 0 && by_core[1] > 0, "{by_core:?}");
    }
}

/// The CPUs the calling thread may run on.
fn my_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(r, 0);
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

#[test]
fn run_defaults_to_one_pinned_runtime_per_cpu() {
    let allowed = my_cpus();
    let Some(b) = common::backends().pop() else {
        return;
    };
    if common::build_on("run_defaults", b, |b| b).is_none() {
        return;
    }
    let out = Builder::new()
        .backend_exact(b)
        .run(|| async { (Core::current().unwrap().index(), my_cpus()) })
        .unwrap();
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(out.len(), n);
    for (i, (index, cpus)) in out.iter().enumerate() {
        assert_eq!(*index, i);
        // Pinned to one of the CPUs the process may use, each core its own while
        // there are enough.
        assert_eq!(cpus, &[allowed[i % allowed.len()]]);
    }
    // Not pinned when asked so.
    let out = Builder::new()
        .backend_exact(b)
        .threads(2)
        .pin_threads(false)
        .run(|| async { my_cpus() })
        .unwrap();
    assert!(out.iter().all(|cpus| cpus == &allowed));
}
