//! TCP: [`TcpListener`] and [`TcpStream`].
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::net::{AddressFamily, SocketAddrAny, SocketType, sockopt};

use super::multi::RecvStream;
use super::pool::{self, BufPool};
use super::socket::{Receive, RecvVectored, SendVectored, Socket, Transmit};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::Op;

/// The backlog of [`TcpListener::bind`]; the kernel caps it at `net.core.somaxconn`.
const BACKLOG: i32 = 1024;

/// `addr`'s addresses, or `InvalidInput` when there are none.
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        ));
    }
    Ok(addrs)
}

pub(crate) fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// A `SocketAddrAny` of an IP socket as a `SocketAddr`.
pub(crate) fn ip_addr(addr: SocketAddrAny) -> io::Result<SocketAddr> {
    Ok(SocketAddr::try_from(addr)?)
}

/// A TCP socket listening for connections, as `std::net::TcpListener`.
///
/// Dropped, it closes its descriptor once the ops that use it have finished.
pub struct TcpListener {
    sock: Socket,
}

impl TcpListener {
    /// A listener bound to `addr` (the first of its addresses that binds), with
    /// `SO_REUSEADDR` set and a backlog of 1024: `SOCKET`, `BIND` and `LISTEN` on the
    /// ring where it has them, the system calls otherwise.
    ///
    /// `addr` is resolved with [`ToSocketAddrs`], which blocks the thread on a DNS
    /// lookup for a host name (not for an IP address).
    ///
    /// # Errors
    /// The last address's error (`EADDRINUSE`, `EACCES`, …); `InvalidInput` when
    /// `addr` resolves to nothing.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with(addr, |_| Ok(())).await
    }

    /// As [`bind`](Self::bind), with `configure` called on the socket before it is
    /// bound: to set options such as `SO_REUSEPORT` or `IPV6_V6ONLY`.
    ///
    /// # Errors
    /// As [`bind`](Self::bind), and `configure`'s.
    pub async fn bind_with(
        addr: impl ToSocketAddrs,
        configure: impl Fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> io::Result<TcpListener> {
        let mut last = None;
        for a in resolve(addr)? {
            match Self::bind_one(a, &configure).await {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)))
    }

    async fn bind_one(
        addr: SocketAddr,
        configure: &impl Fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> io::Result<TcpListener> {
        let sock = Socket::new(family(&addr), SocketType::STREAM).await?;
        sockopt::set_socket_reuseaddr(&sock, true)?;
        configure(sock.as_fd())?;
        sock.bind(SocketAddrAny::from(addr)).await?;
        sock.listen(BACKLOG).await?;
        Ok(TcpListener { sock })
    }

    std_socket!(std::net::TcpListener, ip_addr);

    /// Waits for a connection (`IORING_OP_ACCEPT`) and returns it with the peer's
    /// address. Dropping the future before it completes cancels the accept; a
    /// connection the kernel accepted anyway is closed, not leaked.
    ///
    /// # Errors
    /// The kernel's (`EMFILE`, `ECONNABORTED`, …).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self.sock.accept().await?;
        let stream = TcpStream {
            sock: Socket::from_fd(fd),
        };
        let addr = match addr {
            Some(a) => ip_addr(a)?,
            None => stream.peer_addr()?,
        };
        Ok((stream, addr))
    }
}

impl TcpListener {
    /// The connections, as a [`Stream`](futures_core::Stream) that never ends: one
    /// multishot `ACCEPT` (`IORING_ACCEPT_MULTISHOT`, one CQE per connection),
    /// re-armed whenever the kernel ends it. An accept's error is an item and the
    /// stream goes on. Dropping the stream cancels the accept; connections accepted
    /// after that are closed, not leaked.
    ///
    /// `next().await` works without importing anything.
    pub fn incoming(&self) -> Incoming {
        Incoming::new(&self.sock)
    }
}

incoming! {
    /// The connections of a [`TcpListener`]; see [`TcpListener::incoming`].
    Incoming => TcpStream
}

/// A TCP connection, as `std::net::TcpStream`, whose I/O goes through the ring with
/// owned buffers.
///
/// Its methods take `&self`: one task may read while another writes (share the
/// stream with an `Rc`). Dropped, it closes its descriptor once the ops that use it
/// have finished.
pub struct TcpStream {
    sock: Socket,
}

impl TcpStream {
    /// Connects to `addr` (each of its addresses in turn until one connects):
    /// `SOCKET` (or socket(2)) then `IORING_OP_CONNECT`.
    ///
    /// `addr` is resolved with [`ToSocketAddrs`], which blocks the thread on a DNS
    /// lookup for a host name (not for an IP address).
    ///
    /// # Errors
    /// The last address's error (`ECONNREFUSED`, `ETIMEDOUT`, …); `InvalidInput`
    /// when `addr` resolves to nothing.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr)? {
            match Self::connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let sock = Socket::new(family(&addr), SocketType::STREAM).await?;
        sock.connect(SocketAddrAny::from(addr)).await?;
        Ok(TcpStream { sock })
    }

    std_socket!(std::net::TcpStream, ip_addr, into_fd, peer_addr);

    /// Sets `TCP_NODELAY` (Nagle's algorithm off when `true`).
    ///
    /// # Errors
    /// The setsockopt(2)'s.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        Ok(sockopt::set_tcp_nodelay(&self.sock, on)?)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// The getsockopt(2)'s.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(sockopt::tcp_nodelay(&self.sock)?)
    }

    stream_io!();
}

socket_impls!(TcpListener, TcpStream);
