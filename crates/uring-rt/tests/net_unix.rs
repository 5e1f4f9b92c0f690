//! Unix-domain sockets on both backends: stream listener (accept, multishot accept,
//! multishot receive), pairs, datagrams with their senders' addresses.
mod common;

use std::io::{Read, Write};

use uring_rt::net::{UnixDatagram, UnixListener, UnixStream};
use uring_rt::spawn;

#[test]
fn unix_listener_and_stream() {
    common::each_backend("unix_stream", |rt, backend| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        rt.block_on(async {
            let listener = UnixListener::bind(&path).await.unwrap();
            assert_eq!(
                listener.local_addr().unwrap().as_pathname(),
                Some(path.as_path())
            );
            // A path longer than sun_path: an error, no panic.
            let long = dir.path().join("x".repeat(200));
            let e = UnixListener::bind(&long).await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENAMETOOLONG), "{e}");
            // Binding the same path again fails.
            let e = UnixListener::bind(&path).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
            let p = path.clone();
            let client = spawn(async move {
                let c = UnixStream::connect(&p).await.unwrap();
                assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(p.as_path()));
                let (res, _) = c.write_all(b"over unix".to_vec()).await;
                res.unwrap();
                c.shutdown(std::net::Shutdown::Write).await.unwrap();
                let (res, buf) = c.read(Vec::with_capacity(64)).await;
                assert_eq!(res.unwrap(), 4);
                assert_eq!(buf, b"back");
            });
            let (conn, peer) = listener.accept().await.unwrap();
            assert!(peer.is_unnamed(), "{peer:?}");
            let mut bytes = conn.recv_stream().unwrap();
            let mut got = Vec::new();
            while let Some(buf) = bytes.next().await {
                got.extend_from_slice(&buf.unwrap());
            }
            assert_eq!(got, b"over unix", "[{}]", backend.name());
            let (res, _) = conn.write_all(b"back".as_slice()).await;
            res.unwrap();
            client.await.unwrap();

            // Multishot accept: three connections from std clients.
            let mut incoming = listener.incoming();
            let mut clients: Vec<_> = (0..3)
                .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
                .collect();
            for (i, c) in clients.iter_mut().enumerate() {
                let conn = incoming.next().await.unwrap().unwrap();
                c.write_all(&[i as u8]).unwrap();
                let (res, buf) = conn.read(Vec::with_capacity(1)).await;
                assert_eq!(res.unwrap(), 1);
                // Accepted in connection order.
                assert_eq!(buf, [i as u8]);
            }

            // A pair, and the std conversions.
            let (a, b) = UnixStream::pair().unwrap();
            let (res, _) = a.write_all(b"pair".as_slice()).await;
            res.unwrap();
            let mut b = b.into_std().unwrap();
            let mut four = [0u8; 4];
            b.read_exact(&mut four).unwrap();
            assert_eq!(&four, b"pair");
            b.write_all(b"!").unwrap();
            let b = UnixStream::from_std(b).unwrap();
            let (res, buf) = a.read(Vec::with_capacity(8)).await;
            assert_eq!(res.unwrap(), 1);
            assert_eq!(buf, b"!");
            drop(b);
            let (res, _) = a.read(Vec::with_capacity(8)).await;
            assert_eq!(res.unwrap(), 0, "end of stream after the peer closed");
        });
    });
}

#[test]
fn unix_datagram() {
    common::each_backend("unix_datagram", |rt, backend| {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        rt.block_on(async {
            let a = UnixDatagram::bind(&pa).await.unwrap();
            let b = UnixDatagram::bind(&pb).await.unwrap();
            let (res, _) = a.send_to(b"to b".to_vec(), &pb).await;
            assert_eq!(res.unwrap(), 4);
            let (res, buf) = b.recv_from(Vec::with_capacity(16)).await;
            let (n, from) = res.unwrap();
            assert_eq!((n, from.as_pathname()), (4, Some(pa.as_path())));
            assert_eq!(buf, b"to b");
            // From an unbound socket: an unnamed sender.
            let u = UnixDatagram::unbound().await.unwrap();
            let (res, _) = u.send_to(b"anon".as_slice(), &pb).await;
            res.unwrap();
            let (res, _) = b.recv_from(Vec::with_capacity(16)).await;
            assert!(res.unwrap().1.is_unnamed());
            // To nobody: the kernel's error, and the buffer back.
            let (res, buf) = a.send_to(b"x".to_vec(), dir.path().join("none")).await;
            assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::NotFound);
            assert_eq!(buf, b"x");
            // Connected, and the multishot stream with senders.
            a.connect(&pb).await.unwrap();
            let mut datagrams = b.recv_stream().unwrap();
            // Sent from another task: a Unix datagram socket's queue is short
            // (net.unix.max_dgram_qlen, 10 by default), so the senders wait for the
            // receiver.
            let pb2 = pb.clone();
            let senders = spawn(async move {
                for i in 0..20u8 {
                    let (res, _) = a.send(vec![i; i as usize + 1]).await;
                    res.unwrap();
                    let (res, _) = u.send_to(vec![200 + i], &pb2).await;
                    res.unwrap();
                }
            });
            let (mut na, mut nu) = (0u8, 0u8);
            while na < 20 || nu < 20 {
                let (buf, from) = datagrams.next().await.unwrap().unwrap();
                if from.is_unnamed() {
                    assert_eq!(&buf[..], &[200 + nu]);
                    nu += 1;
                } else {
                    assert_eq!(
                        from.as_pathname(),
                        Some(pa.as_path()),
                        "[{}]",
                        backend.name()
                    );
                    assert_eq!(&buf[..], &vec![na; na as usize + 1][..]);
                    na += 1;
                }
            }
            senders.await.unwrap();
            drop(datagrams);
            // A pair.
            let (x, y) = UnixDatagram::pair().unwrap();
            let (res, _) = x.send(b"dg".as_slice()).await;
            res.unwrap();
            let (res, buf) = y.recv(Vec::with_capacity(8)).await;
            assert_eq!(res.unwrap(), 2);
            assert_eq!(buf, b"dg");
        });
    });
}

#[test]
fn unix_stream_through_poll_io() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use uring_rt::compat::PollIo;
    common::each_backend("unix_poll_io", |rt, _| {
        rt.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let (mut a, mut b) = (PollIo::new(a), PollIo::new(b));
            a.write_all(b"through the traits").await.unwrap();
            a.flush().await.unwrap();
            let mut got = [0u8; 18];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"through the traits");
        });
    });
}
