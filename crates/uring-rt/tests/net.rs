//! Sockets on both backends: TCP connect/accept/read/write, errors, `std` conversions.
mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::rc::Rc;

use uring_rt::net::{TcpListener, TcpStream};
use uring_rt::spawn;

/// Accepts one connection on `listener` and reads it to its end: every byte received.
async fn accept_and_read_all(listener: TcpListener) -> Vec<u8> {
    let (conn, _) = listener.accept().await.unwrap();
    let mut got = Vec::new();
    loop {
        let (res, buf) = conn.read(Vec::with_capacity(1 << 16)).await;
        if res.unwrap() == 0 {
            return got;
        }
        got.extend_from_slice(&buf);
    }
}

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

#[test]
fn udp_send_to_recv_from_connect_and_stream() {
    use uring_rt::net::{BufPool, UdpSocket};
    common::each_backend("udp", |rt, backend| {
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            let (res, _) = a.send_to(b"one".to_vec(), b_addr).await;
            assert_eq!(res.unwrap(), 3);
            let (res, buf) = b.recv_from(Vec::with_capacity(100)).await;
            assert_eq!(res.unwrap(), (3, a_addr));
            assert_eq!(buf, b"one");
            // A datagram longer than the buffer is cut to it.
            let (res, _) = a.send_to(vec![9u8; 50], b_addr).await;
            res.unwrap();
            let (res, buf) = b.recv_from(Vec::with_capacity(10)).await;
            assert_eq!(res.unwrap().0, 10);
            assert_eq!(buf, [9u8; 10]);
            // Connected: send and recv.
            a.connect(b_addr).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b_addr);
            let (res, _) = a.send(b"two".as_slice()).await;
            res.unwrap();
            let (res, buf) = b.recv_from(Vec::with_capacity(100)).await;
            assert_eq!(res.unwrap(), (3, a_addr));
            assert_eq!(buf, b"two");
            b.connect(a_addr).await.unwrap();
            let (res, _) = b.send(b"three".as_slice()).await;
            res.unwrap();
            let (res, buf) = a.recv(Vec::with_capacity(100)).await;
            assert_eq!(res.unwrap(), 5);
            assert_eq!(buf, b"three");
            // The multishot stream: 100 datagrams from two senders, each with its
            // sender, in order per sender, through a small pool that runs dry.
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = server.local_addr().unwrap();
            let pool = BufPool::new(4, 256).unwrap();
            let mut datagrams = server.recv_stream_with(&pool);
            let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for i in 0..50u8 {
                let (res, _) = a.send_to(vec![i; 10 + i as usize], to).await;
                res.unwrap();
                let (res, _) = c.send_to(vec![100 + i; 5], to).await;
                res.unwrap();
            }
            let (mut from_a, mut from_c) = (0u8, 0u8);
            while from_a < 50 || from_c < 50 {
                let (buf, from) = datagrams.next().await.unwrap().unwrap();
                if from == a_addr {
                    assert_eq!(&buf[..], &vec![from_a; 10 + from_a as usize][..]);
                    from_a += 1;
                } else {
                    assert_eq!(from, c.local_addr().unwrap());
                    assert_eq!(&buf[..], &[100 + from_c; 5]);
                    from_c += 1;
                }
            }
            assert!(
                datagrams.arms() > 1,
                "[{}] the 4-buffer pool never ran dry",
                backend.name()
            );
            // Echo the received buffer itself back (to `c`: `a` is connected to `b`,
            // and takes datagrams from `b` only).
            let (res, _) = c.send_to(b"echo".to_vec(), to).await;
            res.unwrap();
            let (buf, from) = datagrams.next().await.unwrap().unwrap();
            let (res, _) = server.send_to(buf, from).await;
            res.unwrap();
            let (res, buf) = c.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(res.unwrap(), (4, to));
            assert_eq!(buf, b"echo");
            drop(datagrams);
            assert_eq!(pool.handed_out(), 0);
        });
    });
}

#[test]
fn vectored_and_zero_copy_sends() {
    use uring_rt::net::UnixStream;
    common::each_backend("vectored_and_send_zc", |rt, backend| {
        rt.block_on(async {
            // writev/readv on a Unix pair.
            let (a, b) = UnixStream::pair().unwrap();
            let (res, bufs) = a
                .writev(vec![b"ab".to_vec(), Vec::new(), b"cde".to_vec()])
                .await;
            assert_eq!(res.unwrap(), 5);
            assert_eq!(bufs.len(), 3);
            let (res, bufs) = b
                .readv(vec![Vec::with_capacity(1), Vec::with_capacity(10)])
                .await;
            assert_eq!(res.unwrap(), 5);
            assert_eq!(bufs, [b"a".to_vec(), b"bcde".to_vec()]);
            // No buffers: an error, before the kernel.
            let (res, _) = a.writev(Vec::<Vec<u8>>::new()).await;
            assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);

            // send_zc over TCP: the result, and the buffer back after the notification.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = spawn(accept_and_read_all(listener));
            let c = TcpStream::connect(addr).await.unwrap();
            let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
            let mut sent = 0;
            let mut buf = data.clone();
            while sent < data.len() {
                let (res, b) = c.send_zc(uring_rt::IoBuf::slice(buf, sent..)).await;
                buf = b.into_inner();
                sent += res.unwrap_or_else(|e| panic!("[{}] send_zc: {e}", backend.name()));
            }
            assert_eq!(buf, data, "the buffer comes back whole");
            c.shutdown(Shutdown::Write).await.unwrap();
            assert!(
                reader.await.unwrap() == data,
                "[{}] bytes differ",
                backend.name()
            );
            // To a closed peer: the error, and the buffer back.
            let (x, y) = UnixStream::pair().unwrap();
            drop(y);
            let (res, buf) = x.send_zc(vec![1u8; 10]).await;
            assert!(
                res.is_err(),
                "[{}] send_zc to a closed peer",
                backend.name()
            );
            assert_eq!(buf, [1u8; 10]);
        });
    });
}

#[test]
fn a_dropped_zero_copy_send_keeps_its_buffer_until_the_notification() {
    use std::cell::Cell;
    use std::pin::pin;
    use std::task::Poll;
    use std::time::Duration;

    /// A buffer that counts its drops.
    struct Tracked(Vec<u8>, Rc<Cell<u32>>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.1.set(self.1.get() + 1);
        }
    }
    // SAFETY: the Vec's heap block does not move while the Tracked is owned, moves
    // included; its length is initialised.
    unsafe impl uring_rt::IoBuf for Tracked {
        fn stable_ptr(&self) -> *const u8 {
            self.0.as_ptr()
        }
        fn bytes_init(&self) -> usize {
            self.0.len()
        }
        fn bytes_total(&self) -> usize {
            self.0.capacity()
        }
    }

    common::each_backend("dropped_send_zc", |rt, backend| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = spawn(accept_and_read_all(listener));
            let c = TcpStream::connect(addr).await.unwrap();
            let data: Vec<u8> = (0..256 * 1024u32).map(|i| (i % 251) as u8).collect();
            let drops = Rc::new(Cell::new(0));
            {
                let mut send = pin!(c.send_zc(Tracked(data.clone(), drops.clone())));
                // One poll pushes the SQE; no CQE can come before the next submit.
                let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
                assert!(first.is_pending(), "[{}]", backend.name());
            }
            // Dropped before any CQE: the op's slot keeps the buffer the kernel may
            // still send from, and lets it go once, after the final CQE.
            assert_eq!(
                drops.get(),
                0,
                "[{}] freed under the kernel",
                backend.name()
            );
            for _ in 0..10_000 {
                if drops.get() > 0 {
                    break;
                }
                uring_rt::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(drops.get(), 1, "[{}] released once", backend.name());
            c.shutdown(Shutdown::Write).await.unwrap();
            // Cancelled, the send may have gone out whole, in part or not at all; what
            // went out is the buffer's bytes.
            let got = reader.await.unwrap();
            assert!(
                data.starts_with(&got),
                "[{}] {} bytes received differ from the buffer's",
                backend.name(),
                got.len()
            );
        });
    });
}
