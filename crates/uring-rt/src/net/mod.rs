//! Sockets on the ring: `SOCKET`, `BIND`, `LISTEN`, `ACCEPT`, `CONNECT`, `SEND`, `RECV`,
//! `SENDMSG`, `RECVMSG`, `SEND_ZC`, `SHUTDOWN`, and the multishot forms of `ACCEPT`,
//! `RECV` and `RECVMSG` with provided buffers.
//!
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`], [`UnixStream`] and
//! [`UnixDatagram`] work as their `std` namesakes, with the I/O as ring operations that
//! take owned buffers and give them back ([`BufResult`]), as the files of [`crate::fs`]
//! do. Creating, binding and listening go through the `SOCKET`, `BIND` and `LISTEN`
//! opcodes where the ring has them (Linux 5.19 and 6.11, and the engine), and through
//! the plain system calls otherwise: the result is the same socket.
//!
//! Every op holds the socket's descriptor while the kernel may use it, so dropping a
//! socket with ops in flight closes the descriptor when the last of them ends, never
//! under them. Dropping an op's future cancels it (see [`crate::op`]); an accepted
//! connection that arrives after its `accept` was dropped is closed, never leaked.
//!
//! # Multishot streams
//! [`TcpListener::incoming`] (and [`UnixListener::incoming`]) is one multishot
//! `ACCEPT`; [`TcpStream::recv_stream`] (and [`UnixStream::recv_stream`]) one
//! multishot `RECV`; [`UdpSocket::recv_stream`] (and [`UnixDatagram::recv_stream`]) one
//! multishot `RECVMSG`, each datagram with its sender. The receives fill the buffers of
//! a [`BufPool`] (a provided-buffer ring) and yield them as [`RecvBuf`]s, which go back
//! to the pool when dropped. Each is a `futures_core::Stream` with an inherent
//! `next()`. A request the kernel ends is armed again by the stream; `ENOBUFS` is never
//! an item (the stream waits for a buffer to come back). Dropping a stream cancels its
//! request; connections and buffers that arrive for it afterwards are closed and given
//! back.
//!
//! Receive bundles (`IORING_RECVSEND_BUNDLE`, several buffers per CQE) are not used: a
//! bundle names its first buffer and the kernel's ring positions after it, and this
//! pool puts buffers back in the order they are dropped, so those positions may hold
//! other buffers by the time the CQE is read.
//!
//! Socket options go through [`AsFd`](std::os::fd::AsFd) with any crate that takes
//! one (`rustix::net::sockopt`, `socket2::SockRef`); the common ones have methods.
//!
//! ```no_run
//! use uring_rt::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! uring_rt::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let client = uring_rt::spawn(async move {
//!         let stream = TcpStream::connect(addr).await?;
//!         let (res, _) = stream.write_all(b"ping".to_vec()).await;
//!         res
//!     });
//!     let (stream, _peer) = listener.accept().await?;
//!     let (res, buf) = stream.read(Vec::with_capacity(16)).await;
//!     println!("{} bytes: {:?}", res?, buf);
//!     client.await??;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! [`BufResult`]: crate::BufResult

mod multi;
mod pool;
mod socket;
mod tcp;
mod udp;
mod unix;

pub use multi::{DatagramAddr, DatagramStream, RecvStream};
pub use pool::{BufPool, RecvBuf};
pub use socket::{Receive, RecvFrom, RecvVectored, SendTo, SendVectored, Transmit};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};
