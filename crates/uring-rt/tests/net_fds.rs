//! A dropped accept, or a dropped multishot accept stream, does not leak the
//! connections the kernel accepted anyway: their descriptors are closed (the peer sees
//! end of stream) and the process's socket count is what it was. Alone in their test
//! binary (and one at a time), since they count descriptors.
mod common;

use std::future::{Future, poll_fn};
use std::io::Read;
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
        // Each accepted connection was closed: its client reads end of stream (a
        // leaked one would block until the timeout and fail).
        for mut c in clients.drain(..) {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [0u8; 1];
            assert_eq!(c.read(&mut b).unwrap(), 0, "[{}] open", backend.name());
        }
        assert_eq!(sockets(), before, "[{}] sockets left open", backend.name());
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
        for mut c in clients.drain(..) {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [0u8; 1];
            assert_eq!(c.read(&mut b).unwrap(), 0, "[{}] open", backend.name());
        }
        assert_eq!(sockets(), before, "[{}] sockets left open", backend.name());
    });
}
