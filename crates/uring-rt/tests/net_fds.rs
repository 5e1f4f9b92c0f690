//! A dropped accept, or a dropped multishot accept stream, does not leak the
//! connections the kernel accepted anyway: their descriptors are closed (the peer sees
//! end of stream) and the process's socket count is what it was. Alone in their test
//! binary (and one at a time), since they count descriptors.
mod common;

use std::future::{Future, poll_fn};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use uring_rt::net::TcpListener;
use uring_rt::yield_now;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sockets this process has open.
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Asserts that the connection of each of `clients` was closed on the accepting side
/// (the client reads end of stream; a leaked one would block until the timeout and
/// fail), and that the process has `before` sockets open again.
fn all_closed(clients: Vec<std::net::TcpStream>, before: usize, backend: &str) {
    for mut c in clients {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 1];
        assert_eq!(c.read(&mut b).unwrap(), 0, "[{backend}] open");
    }
    assert_eq!(sockets(), before, "[{backend}] sockets left open");
}

#[test]
fn a_dropped_accept_closes_the_late_fd() {
    let _g = serial();
    common::each_backend("a_dropped_accept_closes_the_late_fd", |rt, backend| {
        let before = sockets();
        let mut clients = Vec::new();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for i in 0..100 {
                // Queued in the backlog before the accept starts: the accept succeeds
                // at once, in the same submission as the cancel that follows it.
                let client = std::net::TcpStream::connect(addr).unwrap();
                let mut accept = Box::pin(listener.accept());
                assert!(poll_fn(|cx| Poll::Ready(accept.as_mut().poll(cx).is_pending())).await);
                // Some of the time, let the accept complete before the future is
                // dropped: the slot then holds the fd nobody took.
                if i % 2 == 1 {
                    yield_now().await;
                    yield_now().await;
                }
                drop(accept);
                clients.push(client);
            }
            // Let the orphans finish.
            while rt.ops_in_flight() > 0 {
                uring_rt::time::sleep(Duration::from_millis(1)).await;
            }
        });
        all_closed(clients, before, backend.name());
    });
}

#[test]
fn a_dropped_incoming_stream_closes_the_late_fds() {
    let _g = serial();
    common::each_backend("a_dropped_incoming_closes_late_fds", |rt, backend| {
        let before = sockets();
        let mut clients = Vec::new();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for round in 0..20 {
                // Connections queued before the multishot accept starts: it accepts
                // them all, and its CQEs queue up unseen.
                for _ in 0..5 {
                    clients.push(std::net::TcpStream::connect(addr).unwrap());
                }
                let mut incoming = listener.incoming();
                if round % 2 == 0 {
                    // Take one; the others stay queued in the dropped stream.
                    drop(incoming.next().await.unwrap().unwrap());
                } else {
                    let mut next = Box::pin(incoming.next());
                    assert!(poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx).is_pending())).await);
                }
                drop(incoming);
                // The dropped accept ends before the next round's clients connect
                // (else it could take them, and close them).
                while rt.ops_in_flight() > 0 {
                    uring_rt::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        all_closed(clients, before, backend.name());
    });
}

/// The `n` lowest descriptor numbers not in use (the kernel hands out the lowest).
fn free_fds(n: usize) -> Vec<i32> {
    let probes: Vec<_> = (0..n)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    probes.iter().map(|f| f.as_raw_fd()).collect()
}

fn set_nofile(soft: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let old = lim.rlim_cur;
    lim.rlim_cur = soft;
    // SAFETY: setrlimit reads one rlimit; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    old
}

#[test]
fn a_multishot_accept_that_ends_is_rearmed() {
    let _g = serial();
    common::each_backend("multishot_accept_rearm", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let _clients: Vec<_> = (0..6)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            // Room for two more descriptors: the third accept fails with EMFILE,
            // which ends the multishot request (a CQE without F_MORE).
            let room = free_fds(2);
            let old = set_nofile(room[1] as u64 + 1);
            let mut incoming = listener.incoming();
            let mut accepted = Vec::new();
            let mut errors = Vec::new();
            while accepted.len() < 2 && errors.is_empty() {
                match incoming.next().await.unwrap() {
                    Ok(c) => accepted.push(c),
                    Err(e) => errors.push(e),
                }
            }
            let third = incoming.next().await.unwrap();
            set_nofile(old);
            assert!(errors.is_empty(), "[{}] {errors:?}", backend.name());
            let e = match third {
                Ok(c) => panic!(
                    "[{}] a third connection (fd {}) with room for {room:?}; accepted {:?}",
                    backend.name(),
                    c.as_raw_fd(),
                    accepted.iter().map(|c| c.as_raw_fd()).collect::<Vec<_>>()
                ),
                Err(e) => e,
            };
            assert_eq!(
                e.raw_os_error(),
                Some(libc::EMFILE),
                "[{}] {e}",
                backend.name()
            );
            // The same stream arms the accept again and takes the rest.
            while accepted.len() < 6 {
                accepted.push(incoming.next().await.unwrap().unwrap());
            }
        });
    });
}
