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

/// The I/O methods of a connected stream socket (`TcpStream`, `UnixStream`), declared
/// once: each forwards to the stream's [`socket::Socket`] in `self.sock`.
macro_rules! stream_io {
    () => {
        /// Reads into `buf` (`IORING_OP_RECV`): up to `buf.bytes_total()` bytes, from the
        /// start of `buf`. Returns the count (0 at end of stream, or for an empty buffer)
        /// and the buffer, its initialised length extended to cover what was read.
        ///
        /// Dropping the op before it completes may lose data the kernel already took
        /// from the socket; to stop a read without losing any, [`Op::cancel`] it and
        /// await it (see [`crate::op`]).
        ///
        /// # Errors
        /// The kernel's (`ECONNRESET`, …).
        pub fn read<B: IoBufMut>(&self, buf: B) -> Op<Receive<B>> {
            self.sock.read(buf)
        }

        /// Writes `buf`'s initialised bytes (`IORING_OP_SEND`, `MSG_NOSIGNAL`). Returns
        /// the count written (maybe short) and the buffer.
        ///
        /// # Errors
        /// The kernel's (`EPIPE`, `ECONNRESET`, …).
        pub fn write<B: IoBuf>(&self, buf: B) -> Op<Transmit<B>> {
            self.sock.write(buf)
        }

        /// Reads into several buffers (`IORING_OP_RECVMSG`), filling each in turn.
        /// Returns the total count and the buffers.
        ///
        /// # Errors
        /// `InvalidInput` for no buffers or more than 1024; the kernel's.
        pub fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> Op<RecvVectored<B>> {
            self.sock.readv(bufs)
        }

        /// Writes the initialised bytes of several buffers (`IORING_OP_SENDMSG`,
        /// `MSG_NOSIGNAL`); maybe short. Returns the total count and the buffers.
        ///
        /// # Errors
        /// `InvalidInput` for no buffers or more than 1024; the kernel's.
        pub fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> Op<SendVectored<B>> {
            self.sock.writev(bufs)
        }

        /// Sends `buf`'s initialised bytes without copying them (`IORING_OP_SEND_ZC`):
        /// the kernel sends from the buffer's pages, and the buffer comes back only once
        /// the notification says the kernel is done with them. Returns the count sent
        /// (maybe short) and the buffer. Worth it for large buffers on a NIC that
        /// supports it; over loopback the kernel copies anyway.
        ///
        /// Dropping the future keeps the buffer in the op until the notification, as for
        /// every op.
        ///
        /// # Errors
        /// The kernel's (`EOPNOTSUPP` on a kernel or socket without zero-copy sends).
        pub async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
            self.sock.send_zc(buf).await
        }

        /// Writes all of `buf`'s initialised bytes, writing again after short writes.
        ///
        /// # Errors
        /// `WriteZero` if the socket takes nothing; otherwise as [`write`](Self::write).
        /// How much was written before an error is not known.
        pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
            self.sock.write_all(buf).await
        }

        /// What the stream receives, as a [`Stream`](futures_core::Stream) of owned
        /// buffers: one multishot `RECV` (taking bundles where the kernel has them) into
        /// the runtime's shared pool (256 buffers of 4 KiB, growing up to 4096 when a
        /// receive finds it empty), re-armed whenever it ends. See [`RecvStream`].
        ///
        /// Reading from the stream in other ways ([`read`](Self::read)) while this is
        /// alive splits the bytes between them in no given order.
        ///
        /// # Errors
        /// The pool's registration (outside a runtime, or the ring refused it).
        pub fn recv_stream(&self) -> io::Result<RecvStream> {
            Ok(RecvStream::new(self.sock.clone(), pool::default_pool()?))
        }

        /// As [`recv_stream`](Self::recv_stream), with the buffers of `pool`.
        pub fn recv_stream_with(&self, pool: &BufPool) -> RecvStream {
            RecvStream::new(self.sock.clone(), pool.pool.clone())
        }

        /// Shuts down the reading, writing or both halves (`IORING_OP_SHUTDOWN`).
        ///
        /// # Errors
        /// The kernel's (`ENOTCONN`).
        pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
            self.sock.shutdown(how).await
        }
    };
}

/// The I/O methods of a datagram socket (`UdpSocket`, `UnixDatagram`), declared once:
/// each forwards to the socket's [`socket::Socket`] in `self.sock`. What differs comes
/// in as parameters: the type's address and the function (`sender`) that makes one of
/// the sender the kernel wrote (`None` when it wrote none), the `errno` of a `send` on
/// an unconnected socket, and the `recv_from` errors worth naming.
macro_rules! datagram_io {
    (
        addr: $addr:ty,
        sender: $sender:ident,
        unconnected: $unconnected:literal,
        recv_from_errors: $recv_from_errors:literal $(,)?
    ) => {
        /// Receives one datagram into `buf` (`IORING_OP_RECVMSG`), truncated to
        /// `buf.bytes_total()` bytes. Returns its length, its sender, and the buffer.
        ///
        /// # Errors
        #[doc = $recv_from_errors]
        pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, $addr), B> {
            let (res, buf) = self.sock.recv_from(buf).await;
            (res.and_then(|(n, addr)| Ok((n, $sender(addr)?))), buf)
        }

        /// Sends `buf`'s initialised bytes as one datagram to the connected peer
        /// (`IORING_OP_SEND`). Returns the count sent and the buffer.
        ///
        /// # Errors
        #[doc = concat!("`", $unconnected, "` when not connected; the kernel's.")]
        pub fn send<B: IoBuf>(&self, buf: B) -> Op<Transmit<B>> {
            self.sock.write(buf)
        }

        /// Receives one datagram into `buf` (`IORING_OP_RECV`), truncated to
        /// `buf.bytes_total()` bytes; once connected, only from the connected peer.
        /// Returns its length and the buffer.
        ///
        /// # Errors
        /// The kernel's.
        pub fn recv<B: IoBufMut>(&self, buf: B) -> Op<Receive<B>> {
            self.sock.read(buf)
        }

        /// The datagrams the socket receives, as a stream of `(buffer, sender)`: one
        /// multishot `RECVMSG` into the runtime's shared pool (256 buffers of 4 KiB,
        /// growing up to 4096, so datagrams up to 3952 bytes), re-armed whenever it ends. See
        /// [`DatagramStream`].
        ///
        /// # Errors
        /// The pool's registration (outside a runtime, or the ring refused it).
        pub fn recv_stream(&self) -> io::Result<DatagramStream<$addr>> {
            Ok(DatagramStream::new(
                self.sock.clone(),
                pool::default_pool()?,
            ))
        }

        /// As [`recv_stream`](Self::recv_stream), with the buffers of `pool`.
        pub fn recv_stream_with(&self, pool: &BufPool) -> DatagramStream<$addr> {
            DatagramStream::new(self.sock.clone(), pool.pool.clone())
        }
    };
}

/// What every socket type (holding its [`socket::Socket`] in `self.sock`) implements
/// alike: `Debug` (its name and descriptor), `AsFd` and `AsRawFd`.
macro_rules! socket_impls {
    ($($t:ident),* $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).field("fd", &self.sock).finish()
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.sock)
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.sock)
            }
        }
    )*};
}

/// The methods every socket type has alike, declared once: `from_std` and `into_std`
/// to and from its `std` namesake `$std`, and `local_addr` (`$addr` making the
/// type's address of the kernel's); then, as named, `into_fd` and `peer_addr`. The
/// type holds its [`socket::Socket`] in `self.sock`.
macro_rules! std_socket {
    ($std:ty, $addr:ident $(, $extra:ident)*) => {
        #[doc = concat!("Takes over a `", stringify!($std), "` made elsewhere, put in")]
        /// blocking mode: the ring waits for readiness itself.
        ///
        /// # Errors
        /// The `ioctl(FIONBIO)`'s.
        pub fn from_std(socket: $std) -> io::Result<Self> {
            Ok(Self {
                sock: Socket::from_std(socket.into())?,
            })
        }

        #[doc = concat!("The socket as a `", stringify!($std), "` (in blocking mode). If a")]
        /// dropped op still uses the descriptor, this is a duplicate of it.
        ///
        /// # Errors
        /// The duplication's (`EMFILE`).
        pub fn into_std(self) -> io::Result<$std> {
            Ok(self.sock.into_fd()?.into())
        }

        /// The local address (getsockname(2)).
        ///
        /// # Errors
        /// The system call's.
        pub fn local_addr(&self) -> io::Result<SocketAddr> {
            $addr(self.sock.local_addr()?)
        }

        $(std_socket!(@$extra $addr);)*
    };
    (@into_fd $addr:ident) => {
        /// The socket's descriptor, given up (as [`into_std`](Self::into_std)).
        ///
        /// # Errors
        /// As [`into_std`](Self::into_std).
        pub fn into_fd(self) -> io::Result<std::os::fd::OwnedFd> {
            self.sock.into_fd()
        }
    };
    (@peer_addr $addr:ident) => {
        /// The connected peer's address (getpeername(2)).
        ///
        /// # Errors
        /// `ENOTCONN` when not connected; the system call's.
        pub fn peer_addr(&self) -> io::Result<SocketAddr> {
            $addr(self.sock.peer_addr()?)
        }
    };
}

/// The stream of a listener's multishot accept (`TcpListener::incoming`,
/// `UnixListener::incoming`), declared once: `$name`, whose items are `$conn`s.
macro_rules! incoming {
    ($(#[$doc:meta])* $name:ident => $conn:ident) => {
        $(#[$doc])*
        pub struct $name {
            accepts: super::multi::Accepts,
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        impl $name {
            fn new(sock: &Socket) -> $name {
                $name {
                    accepts: super::multi::Accepts::new(sock.clone()),
                }
            }

            /// The next connection (never `None`).
            ///
            /// # Errors
            /// One accept's (`EMFILE`, `ECONNABORTED`, …); the stream goes on after it.
            pub async fn next(&mut self) -> Option<io::Result<$conn>> {
                std::future::poll_fn(|cx| {
                    futures_core::Stream::poll_next(std::pin::Pin::new(&mut *self), cx)
                })
                .await
            }
        }

        impl futures_core::Stream for $name {
            type Item = io::Result<$conn>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.get_mut().accepts.poll_accept(cx).map(|r| {
                    Some(r.map(|fd| $conn {
                        sock: Socket::from_fd(fd),
                    }))
                })
            }
        }
    };
}

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
