//! Multishot accept and receive as streams, on both backends: a connection flood, a
//! pool that runs dry (`ENOBUFS`, re-armed, never an error), a dropped stream giving
//! its buffers back, receive bundles, a pool that grows.
mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use uring_rt::net::{BufPool, Incoming, TcpListener, TcpStream};
use uring_rt::{Backend, spawn, time};

/// The bytes client `i` sends.
fn message(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// The echo server: `n` connections from `incoming` (one multishot accept), each
/// echoed from its multishot receive, into the runtime's shared pool or into a pool of
/// its own of `own_pool` (count, length) buffers.
async fn echo_server(mut incoming: Incoming, n: usize, own_pool: Option<(u16, u32)>) {
    let mut conns = Vec::new();
    for _ in 0..n {
        let conn = incoming.next().await.unwrap().unwrap();
        conns.push(spawn(async move {
            let mut bytes = match own_pool {
                Some((count, len)) => conn.recv_stream_with(&BufPool::new(count, len).unwrap()),
                None => conn.recv_stream().unwrap(),
            };
            while let Some(buf) = bytes.next().await {
                let (res, _) = conn.write_all(buf.unwrap()).await;
                res.unwrap();
            }
        }));
    }
    for c in conns {
        c.await.unwrap();
    }
}

/// Client `i` of the echo server at `addr`: sends `message(i, len)`, reads the echo
/// (`chunk` bytes at a time) until it is as long, checks it, and shuts its writing
/// half.
async fn echo_client(addr: SocketAddr, i: usize, len: usize, chunk: usize) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (res, msg) = stream.write_all(message(i, len)).await;
    res.unwrap();
    let mut got = Vec::with_capacity(len);
    while got.len() < len {
        let (res, buf) = stream.read(Vec::with_capacity(chunk)).await;
        assert!(
            res.unwrap() > 0,
            "client {i}: end of stream before the echo"
        );
        got.extend_from_slice(&buf);
    }
    assert!(
        got == msg,
        "client {i}: the echo differs (bytes lost or reordered)"
    );
    stream.shutdown(std::net::Shutdown::Write).await.unwrap();
}

#[test]
fn multishot_accept_and_recv_under_a_connection_flood() {
    const CONNS: usize = 200;
    const LEN: usize = 3000;
    common::each_backend("multishot_flood", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spawn(echo_server(listener.incoming(), CONNS, None));
            let clients: Vec<_> = (0..CONNS)
                .map(|i| spawn(echo_client(addr, i, LEN, LEN)))
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            time::timeout(Duration::from_secs(20), server)
                .await
                .unwrap_or_else(|_| panic!("[{}] the server did not finish", backend.name()))
                .unwrap();
        });
    });
}

#[test]
fn a_pool_that_runs_dry_is_rearmed_not_an_error() {
    common::each_backend("enobufs_rearm", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            // 10 KB waits in the socket before the receive is armed: two 64-byte
            // buffers run out at once.
            let sent = message(7, 10_000);
            client.write_all(&sent).unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let pool = BufPool::new(2, 64).unwrap();
            let mut bytes = conn.recv_stream_with(&pool);
            let mut got = Vec::new();
            let mut held = Vec::new();
            while let Some(buf) = bytes.next().await {
                let buf = buf.expect("ENOBUFS is not an item");
                assert!(buf.len() <= 64);
                got.extend_from_slice(&buf);
                // Hold one buffer at a time, so the pool is dry at every receive.
                held.push(buf);
                if held.len() > 1 {
                    held.remove(0);
                }
            }
            assert!(got == sent, "[{}] bytes lost or reordered", backend.name());
            assert!(
                bytes.arms() > 1,
                "[{}] the pool never ran dry (armed {} times)",
                backend.name(),
                bytes.arms()
            );
            drop(held);
            assert_eq!(pool.handed_out(), 0);
        });
    });
}

#[test]
fn a_dropped_stream_gives_its_buffers_back() {
    common::each_backend("dropped_stream_buffers", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            client.write_all(&[1u8; 4096]).unwrap();
            let pool = BufPool::new(8, 64).unwrap();
            for round in 0..20 {
                // The kernel fills the pool's buffers; the stream takes one and is
                // dropped with the others in its queue.
                let mut bytes = conn.recv_stream_with(&pool);
                let first = bytes.next().await.unwrap().unwrap();
                drop(first);
                drop(bytes);
                client.write_all(&[2u8; 1024]).unwrap();
                // All eight must be back: a stream that holds eight at once gets them.
                let mut bytes = conn.recv_stream_with(&pool);
                let mut held = Vec::new();
                let all = time::timeout(Duration::from_secs(10), async {
                    while held.len() < 8 {
                        held.push(bytes.next().await.unwrap().unwrap());
                    }
                })
                .await;
                assert!(
                    all.is_ok(),
                    "[{}] round {round}: {} of 8 buffers came back",
                    backend.name(),
                    held.len()
                );
                assert_eq!(pool.handed_out(), 8);
                drop(held);
                drop(bytes);
                client.write_all(&[3u8; 1024]).unwrap();
            }
            assert_eq!(pool.handed_out(), 0);
        });
    });
}

#[test]
fn a_pool_serves_only_its_own_runtime() {
    common::each_backend("pool_of_another_runtime", |rt, backend| {
        // A second runtime on this thread, with a pool of its own (whose group id the
        // first runtime's first pool has too).
        let Some(other) = common::runtime_on("pool_of_another_runtime", backend, None) else {
            return;
        };
        let foreign = other.block_on(async { BufPool::new(4, 64).unwrap() });
        rt.block_on(async {
            let _mine = BufPool::new(4, 64).unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            client.write_all(b"data").unwrap();
            let mut bytes = conn.recv_stream_with(&foreign);
            let e = bytes.next().await.unwrap().unwrap_err();
            assert!(
                e.to_string().contains("runtime"),
                "[{}] {e}",
                backend.name()
            );
            assert!(bytes.next().await.is_none());
            // The data is still there for a stream on this runtime's pool.
            let mut bytes = conn.recv_stream().unwrap();
            assert_eq!(&bytes.next().await.unwrap().unwrap()[..], b"data");
        });
        drop(foreign);
        assert!(other.shutdown(Duration::from_secs(10)));
    });
}

#[test]
fn echo_through_delayed_socket_ops_on_the_faulty_engine() {
    use uring_engine::{FaultPlan, FaultRule};
    use uring_rt::{Backend, EngineConfig};
    if !common::backends().contains(&Backend::Engine) {
        return;
    }
    // Delays on every socket op the streams use, so completions come in other orders
    // (the engine's short-transfer faults apply to file reads and writes only).
    let ops = [
        uring::sys::IORING_OP_SEND,
        uring::sys::IORING_OP_RECV,
        uring::sys::IORING_OP_SENDMSG,
        uring::sys::IORING_OP_RECVMSG,
        uring::sys::IORING_OP_ACCEPT,
        uring::sys::IORING_OP_CONNECT,
    ];
    let plan = FaultPlan::new()
        .seed(11)
        .rule(FaultRule::on(&ops).delay(Duration::from_micros(200), 0.2));
    let config = EngineConfig::new().faults(plan.clone());
    let rt = common::runtime_on("faulty_echo", Backend::Engine, Some(config)).unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(echo_server(listener.incoming(), 20, Some((8, 512))));
        let clients: Vec<_> = (0..20)
            .map(|i| spawn(echo_client(addr, i, 20_000, 4096)))
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    });
    assert!(rt.shutdown(Duration::from_secs(10)));
    let counts = plan.counts();
    assert!(counts.delays > 0, "no fault injected: {counts:?}");
}

/// Receives everything `stream` yields until end of stream, holding up to `hold`
/// buffers and giving them back out of order (the middle one first, then the newest):
/// the bytes in the order the stream yielded them.
async fn drain_scrambled(bytes: &mut uring_rt::net::RecvStream, hold: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut held = Vec::new();
    while let Some(buf) = bytes.next().await {
        let buf = buf.unwrap();
        got.extend_from_slice(&buf);
        held.push(buf);
        if held.len() >= hold {
            drop(held.remove(hold / 2));
            drop(held.pop());
        }
    }
    got
}

#[test]
fn bundles_fill_several_buffers_and_keep_their_bytes_in_order() {
    const LEN: usize = 256 * 1024;
    common::each_backend("recv_bundles", |rt, backend| {
        let has_bundles = rt.features() & uring::sys::IORING_FEAT_RECVSEND_BUNDLE != 0;
        match backend {
            Backend::Kernel if !has_bundles => {
                uring_testkit::skip(
                    "recv_bundles [kernel]",
                    "the kernel lacks IORING_FEAT_RECVSEND_BUNDLE (Linux 6.10)",
                );
            }
            Backend::Engine => {
                // Straight to stderr, past the harness's capture, as skips are.
                let _ = writeln!(
                    std::io::stderr(),
                    "ENGINE N/A recv_bundles: {} (the stream receives one buffer per completion there)",
                    uring_engine::feature_support(uring::sys::IORING_FEAT_RECVSEND_BUNDLE)
                        .err()
                        .unwrap_or("the engine has bundles")
                );
            }
            _ => {}
        }
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let sent = message(3, LEN);
            let to_send = sent.clone();
            // A thread writes in pieces while the stream receives, so bundles of every
            // size meet buffers that came back in every order.
            let writer = std::thread::spawn(move || {
                let mut client = std::net::TcpStream::connect(addr).unwrap();
                for piece in to_send.chunks(10_000) {
                    client.write_all(piece).unwrap();
                    std::thread::sleep(Duration::from_micros(200));
                }
            });
            let (conn, _) = listener.accept().await.unwrap();
            let pool = BufPool::new(16, 512).unwrap();
            let mut bytes = conn.recv_stream_with(&pool);
            let got = time::timeout(Duration::from_secs(20), drain_scrambled(&mut bytes, 6))
                .await
                .unwrap_or_else(|_| panic!("[{}] the stream stalled", backend.name()));
            writer.join().unwrap();
            assert!(
                got == sent,
                "[{}] {} bytes of {LEN}, or bytes out of place",
                backend.name(),
                got.len()
            );
            if backend == Backend::Kernel && has_bundles {
                assert!(
                    bytes.bundles() > 0,
                    "[kernel] no completion filled more than one buffer"
                );
            } else {
                assert_eq!(bytes.bundles(), 0, "[{}]", backend.name());
            }
            drop(bytes);
            assert_eq!(pool.handed_out(), 0);
        });
    });
}

#[test]
fn a_growable_pool_grows_when_a_receive_finds_it_empty() {
    common::each_backend("pool_grows", |rt, backend| {
        rt.block_on(async {
            // Without bundles and with them (where the kernel has them).
            for bundles in [false, true] {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut client = std::net::TcpStream::connect(addr).unwrap();
                let (conn, _) = listener.accept().await.unwrap();
                // 10 KB waits in the socket: two 64-byte buffers run out at once, and
                // the stream's user holds on to every buffer, so none comes back: only
                // a pool that grows lets the stream go on.
                let sent = message(5, 10_000);
                client.write_all(&sent).unwrap();
                client.shutdown(std::net::Shutdown::Write).unwrap();
                let pool = BufPool::growable(2, 64, 256).unwrap();
                pool.set_bundles(bundles);
                let mut bytes = conn.recv_stream_with(&pool);
                let mut held = Vec::new();
                let all = time::timeout(Duration::from_secs(10), async {
                    while let Some(buf) = bytes.next().await {
                        held.push(buf.expect("ENOBUFS is not an item"));
                    }
                })
                .await;
                let name = format!("{} bundles={bundles}", backend.name());
                assert!(
                    all.is_ok(),
                    "[{name}] the stream waited for a buffer to come back ({} held, pool of {})",
                    held.len(),
                    pool.entries()
                );
                let got: Vec<u8> = held.iter().flat_map(|b| b.iter().copied()).collect();
                assert!(got == sent, "[{name}] bytes lost or reordered");
                assert!(
                    pool.entries() > 2 && bytes.arms() > 1,
                    "[{name}] the pool did not grow ({} buffers, armed {} times)",
                    pool.entries(),
                    bytes.arms()
                );
                assert_eq!(pool.handed_out(), held.len(), "[{name}]");
                drop(held);
                assert_eq!(pool.handed_out(), 0, "[{name}]");
            }
        });
    });
}

#[test]
fn a_pool_that_cannot_grow_past_its_maximum_waits() {
    common::each_backend("pool_at_max", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            client.write_all(&message(9, 4096)).unwrap();
            let pool = BufPool::growable(2, 64, 4).unwrap();
            let mut bytes = conn.recv_stream_with(&pool);
            let mut held = Vec::new();
            // 2 + 4 buffers of the two generations, all held: the stream must wait.
            let r = time::timeout(Duration::from_millis(300), async {
                loop {
                    held.push(bytes.next().await.unwrap().unwrap());
                }
            })
            .await;
            assert!(r.is_err(), "[{}] the stream never waited", backend.name());
            assert_eq!(pool.entries(), 4, "[{}]", backend.name());
            assert_eq!(held.len(), 6, "[{}]", backend.name());
            // A buffer back: the stream goes on.
            held.truncate(5);
            let next = time::timeout(Duration::from_secs(10), bytes.next()).await;
            assert!(
                next.is_ok(),
                "[{}] the stream did not go on",
                backend.name()
            );
        });
    });
}

#[test]
fn a_bundle_waiting_in_its_stream_survives_another_stream_cycling_the_pool() {
    common::each_backend("bundle_behind_another_stream", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client_a = std::net::TcpStream::connect(addr).unwrap();
            let (conn_a, _) = listener.accept().await.unwrap();
            let mut client_b = std::net::TcpStream::connect(addr).unwrap();
            let (conn_b, _) = listener.accept().await.unwrap();
            // One pool of eight 256-byte buffers for both streams. A's 1 KiB arrives
            // first (a bundle of four buffers, where the kernel has bundles); A's user
            // does not look at it while B goes round the pool's ring many times.
            let pool = BufPool::new(8, 256).unwrap();
            let mut a = conn_a.recv_stream_with(&pool);
            // Armed (a first look finds nothing), then fed: A's CQEs wait in its queue.
            assert!(
                time::timeout(Duration::from_millis(20), a.next())
                    .await
                    .is_err()
            );
            let sent_a = message(1, 1024);
            client_a.write_all(&sent_a).unwrap();
            client_a.shutdown(std::net::Shutdown::Write).unwrap();
            time::sleep(Duration::from_millis(50)).await;
            let mut got_a = Vec::new();
            let sent_b = message(2, 64 * 1024);
            let to_send = sent_b.clone();
            let writer = std::thread::spawn(move || {
                for piece in to_send.chunks(700) {
                    client_b.write_all(piece).unwrap();
                    std::thread::sleep(Duration::from_micros(100));
                }
            });
            let mut b = conn_b.recv_stream_with(&pool);
            let mut got_b = Vec::new();
            let received = time::timeout(Duration::from_secs(20), async {
                while got_b.len() < sent_b.len() {
                    match b.next().await {
                        Some(buf) => got_b.extend_from_slice(&buf.unwrap()),
                        None => break,
                    }
                }
            })
            .await;
            writer.join().unwrap();
            assert!(
                received.is_ok(),
                "[{}] B stalled at {} bytes",
                backend.name(),
                got_b.len()
            );
            assert!(got_b == sent_b, "[{}] B's bytes", backend.name());
            while let Some(Ok(buf)) = a.next().await {
                got_a.extend_from_slice(&buf);
            }
            assert!(
                got_a == sent_a,
                "[{}] A's bytes after B went round the ring",
                backend.name()
            );
        });
    });
}

#[test]
fn a_stream_dropped_with_completions_in_its_queue_gives_their_buffers_back() {
    common::each_backend("dropped_stream_queued_bundles", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            let pool = BufPool::new(16, 64).unwrap();
            for round in 0..10 {
                let mut bytes = conn.recv_stream_with(&pool);
                // Armed (a first look may take what the last round left in the
                // socket), then fed in pieces while nobody looks: each piece is a
                // completion (of two buffers, where the kernel has bundles) that waits
                // in the stream's queue; then some arrive after the stream is gone.
                drop(time::timeout(Duration::from_millis(5), bytes.next()).await);
                for _ in 0..4 {
                    client.write_all(&[round as u8; 100]).unwrap();
                    time::sleep(Duration::from_millis(5)).await;
                }
                drop(bytes);
                client.write_all(&[round as u8; 100]).unwrap();
                time::sleep(Duration::from_millis(20)).await;
                assert_eq!(
                    pool.handed_out(),
                    0,
                    "[{}] round {round}: buffers of a dropped stream's completions",
                    backend.name()
                );
            }
            // All sixteen are back in the ring: a stream that holds sixteen gets them.
            client.write_all(&[0xee; 2048]).unwrap();
            let mut bytes = conn.recv_stream_with(&pool);
            let mut held = Vec::new();
            let all = time::timeout(Duration::from_secs(5), async {
                while held.len() < 16 {
                    held.push(bytes.next().await.unwrap().unwrap());
                }
            })
            .await;
            assert!(
                all.is_ok(),
                "[{}] {} of 16 buffers came back",
                backend.name(),
                held.len()
            );
        });
    });
}
