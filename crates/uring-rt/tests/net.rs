//! Sockets on both backends: TCP connect/accept/read/write, errors, `std` conversions.
mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::rc::Rc;

use uring_rt::net::{TcpListener, TcpStream};
use uring_rt::spawn;

#[test]
fn tcp_echo_round_trip() {
    common::each_backend("tcp_echo_round_trip", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            assert_ne!(addr.port(), 0);
            let client = spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                assert!(stream.nodelay().unwrap());
                assert_eq!(stream.peer_addr().unwrap(), addr);
                let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
                let (res, msg) = stream.write_all(msg).await;
                res.unwrap();
                stream.shutdown(Shutdown::Write).await.unwrap();
                let mut got = Vec::new();
                loop {
                    let (res, buf) = stream.read(Vec::with_capacity(7000)).await;
                    if res.unwrap() == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf);
                }
                assert!(got == msg, "the echo differs");
                stream.local_addr().unwrap()
            });
            let (conn, peer) = listener.accept().await.unwrap();
            assert_eq!(conn.local_addr().unwrap(), addr);
            // Echo until the client's end of stream.
            let mut buf = Vec::with_capacity(4096);
            loop {
                buf.clear();
                let (res, b) = conn.read(buf).await;
                let n = res.unwrap();
                if n == 0 {
                    break;
                }
                assert_eq!(b.len(), n);
                let (res, b) = conn.write_all(b).await;
                res.unwrap();
                buf = b;
            }
            drop(conn);
            let client_addr = client.await.unwrap();
            assert_eq!(client_addr, peer, "[{}] accept's peer", backend.name());
        });
    });
}

#[test]
fn tcp_reader_and_writer_tasks_share_a_stream() {
    common::each_backend("tcp_reader_and_writer_tasks", |rt, _| {
        rt.block_on(async {
            // IPv6 may be off on the host; IPv4 then.
            let listener = match TcpListener::bind("[::1]:0").await {
                Ok(l) => l,
                Err(_) => TcpListener::bind("127.0.0.1:0").await.unwrap(),
            };
            let addr = listener.local_addr().unwrap();
            let server = spawn(async move {
                let (conn, _) = listener.accept().await.unwrap();
                let (res, _) = conn.write_all(vec![7u8; 50_000]).await;
                res.unwrap();
            });
            let stream = Rc::new(TcpStream::connect(addr).await.unwrap());
            let writer = {
                let stream = stream.clone();
                spawn(async move {
                    let (res, _) = stream.write_all(b"hello".as_slice()).await;
                    res.unwrap();
                })
            };
            let mut total = 0;
            while total < 50_000 {
                let (res, buf) = stream.read(vec![0u8; 0].into_boxed_slice()).await;
                // An empty buffer reads nothing and says so.
                assert_eq!(res.unwrap(), 0);
                drop(buf);
                let (res, buf) = stream.read(Vec::with_capacity(8192)).await;
                let n = res.unwrap();
                assert!(n > 0 && buf.iter().all(|&b| b == 7));
                total += n;
            }
            assert_eq!(total, 50_000);
            writer.await.unwrap();
            server.await.unwrap();
        });
    });
}

#[test]
fn tcp_errors_are_errors() {
    common::each_backend("tcp_errors_are_errors", |rt, _| {
        rt.block_on(async {
            // A port nobody listens on: bind one, note it, close it.
            let addr = {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                l.local_addr().unwrap()
            };
            let e = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
            // The address is taken (SO_REUSEADDR does not let two listeners share it).
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let e = TcpListener::bind(l.local_addr().unwrap())
                .await
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
            // Nothing to resolve.
            let none: &[std::net::SocketAddr] = &[];
            let e = TcpListener::bind(none).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            // Writing after the peer is gone: EPIPE or ECONNRESET, no SIGPIPE.
            let addr = l.local_addr().unwrap();
            let c = TcpStream::connect(addr).await.unwrap();
            drop(l.accept().await.unwrap());
            let mut failed = None;
            for _ in 0..100 {
                let (res, _) = c.write(vec![1u8; 65536]).await;
                if let Err(e) = res {
                    failed = Some(e);
                    break;
                }
            }
            let e = failed.expect("writes to a closed peer fail");
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{e}"
            );
        });
    });
}

#[test]
fn tcp_std_conversions() {
    common::each_backend("tcp_std_conversions", |rt, _| {
        rt.block_on(async {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            std_listener.set_nonblocking(true).unwrap();
            let addr = std_listener.local_addr().unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let mut std_client = std::net::TcpStream::connect(addr).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            std_client.write_all(b"abc").unwrap();
            let (res, buf) = conn.read(Vec::with_capacity(3)).await;
            assert_eq!(res.unwrap(), 3);
            assert_eq!(buf, b"abc");
            // Back to std: a blocking stream that still works.
            let mut std_conn = conn.into_std().unwrap();
            std_conn.write_all(b"xyz").unwrap();
            let mut got = [0u8; 3];
            std_client.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"xyz");
            // And a std stream taken over.
            let conn = TcpStream::from_std(std_conn).unwrap();
            let (res, _) = conn.write_all(b"!".as_slice()).await;
            res.unwrap();
            std_client.read_exact(&mut got[..1]).unwrap();
            assert_eq!(got[0], b'!');
            let back = listener.into_std().unwrap();
            assert_eq!(back.local_addr().unwrap(), addr);
        });
    });
}
