//! Multishot accept and receive as streams, on both backends: a connection flood, a
//! pool that runs dry (`ENOBUFS`, re-armed, never an error), a dropped stream giving
//! its buffers back.
mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use uring_rt::net::{BufPool, Incoming, TcpListener, TcpStream};
use uring_rt::{spawn, time};

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
