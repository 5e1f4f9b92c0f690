//! Unix-domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
use std::cell::OnceCell;
use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketFlags, SocketType};

use super::multi::{DatagramStream, RecvStream, sealed};
use super::pool::{self, BufPool};
use super::socket::{Receive, RecvVectored, SendTo, SendVectored, Socket, Transmit};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::Op;

/// The backlog of [`UnixListener::bind`]; the kernel caps it at `net.core.somaxconn`.
const BACKLOG: i32 = 1024;

/// `path` as a socket address.
fn unix_any(path: &Path) -> io::Result<SocketAddrAny> {
    Ok(SocketAddrUnix::new(path)?.into())
}

thread_local! {
    /// An unnamed address: `std` has no constructor for one, so it comes from an
    /// unbound socket, once per thread.
    static UNNAMED: OnceCell<Option<SocketAddr>> = const { OnceCell::new() };
}

fn unnamed() -> Option<SocketAddr> {
    UNNAMED.with(|u| {
        u.get_or_init(|| {
            std::os::unix::net::UnixDatagram::unbound()
                .and_then(|s| s.local_addr())
                .ok()
        })
        .clone()
    })
}

/// The address the kernel wrote as a `std` Unix address.
fn std_addr(any: SocketAddrAny) -> io::Result<SocketAddr> {
    // No path at all: unnamed. (Checked on the length the kernel gave: rustix reads
    // such an address as an empty abstract name.)
    if any.addr_len() as usize <= std::mem::offset_of!(libc::sockaddr_un, sun_path) {
        return unnamed_addr();
    }
    let u = SocketAddrUnix::try_from(any)?;
    if let Some(path) = u.path_bytes() {
        SocketAddr::from_pathname(Path::new(OsStr::from_bytes(path)))
    } else if let Some(name) = u.abstract_name() {
        SocketAddr::from_abstract_name(name)
    } else {
        unnamed_addr()
    }
}

/// [`unnamed`], or an error where there is none.
fn unnamed_addr() -> io::Result<SocketAddr> {
    unnamed().ok_or_else(|| io::Error::other("no unnamed Unix address"))
}

/// The peer or sender the kernel wrote as a `std` Unix address; unnamed where it wrote
/// none.
fn sender(addr: Option<SocketAddrAny>) -> io::Result<SocketAddr> {
    match addr {
        Some(a) => std_addr(a),
        None => unnamed_addr(),
    }
}

impl sealed::Sealed for SocketAddr {
    fn from_any(addr: SocketAddrAny) -> Option<Self> {
        std_addr(addr).ok()
    }
    fn unnamed() -> Option<Self> {
        unnamed()
    }
}

/// A pair of connected sockets of `ty`.
fn pair(ty: SocketType) -> io::Result<(Socket, Socket)> {
    let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, ty, SocketFlags::CLOEXEC, None)?;
    Ok((Socket::from_fd(a), Socket::from_fd(b)))
}

/// A Unix-domain socket listening for connections, as
/// `std::os::unix::net::UnixListener`. Dropping it does not remove the socket file.
pub struct UnixListener {
    sock: Socket,
}

impl UnixListener {
    /// A listener bound to `path`, with a backlog of 1024: `SOCKET`, `BIND` and
    /// `LISTEN` on the ring where it has them, the system calls otherwise.
    ///
    /// # Errors
    /// `EADDRINUSE` if `path` exists; `ENAMETOOLONG` for a path too long for
    /// `sun_path`; the kernel's.
    pub async fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let addr = unix_any(path.as_ref())?;
        let sock = Socket::new(AddressFamily::UNIX, SocketType::STREAM).await?;
        sock.bind(addr).await?;
        sock.listen(BACKLOG).await?;
        Ok(UnixListener { sock })
    }

    std_socket!(std::os::unix::net::UnixListener, std_addr);

    /// Waits for a connection (`IORING_OP_ACCEPT`). Dropping the future cancels the
    /// accept; a connection the kernel accepted anyway is closed, not leaked.
    ///
    /// # Errors
    /// The kernel's (`EMFILE`, …).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, addr) = self.sock.accept().await?;
        let addr = sender(addr)?;
        Ok((
            UnixStream {
                sock: Socket::from_fd(fd),
            },
            addr,
        ))
    }

    /// The connections, as a never-ending stream on one multishot `ACCEPT`; see
    /// [`TcpListener::incoming`](super::TcpListener::incoming).
    pub fn incoming(&self) -> UnixIncoming {
        UnixIncoming::new(&self.sock)
    }
}

incoming! {
    /// The connections of a [`UnixListener`]; see [`UnixListener::incoming`].
    UnixIncoming => UnixStream
}

/// A Unix-domain stream connection, as `std::os::unix::net::UnixStream`, whose I/O
/// goes through the ring with owned buffers; as [`TcpStream`](super::TcpStream).
pub struct UnixStream {
    sock: Socket,
}

impl UnixStream {
    /// Connects to the socket at `path` (`SOCKET`, then `IORING_OP_CONNECT`).
    ///
    /// # Errors
    /// `ENOENT`, `ECONNREFUSED`, …; `ENAMETOOLONG` for a path too long.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = unix_any(path.as_ref())?;
        let sock = Socket::new(AddressFamily::UNIX, SocketType::STREAM).await?;
        sock.connect(addr).await?;
        Ok(UnixStream { sock })
    }

    /// A connected pair (socketpair(2)).
    ///
    /// # Errors
    /// The system call's (`EMFILE`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = pair(SocketType::STREAM)?;
        Ok((UnixStream { sock: a }, UnixStream { sock: b }))
    }

    std_socket!(std::os::unix::net::UnixStream, std_addr, into_fd, peer_addr);

    stream_io!();
}

/// A Unix-domain datagram socket, as `std::os::unix::net::UnixDatagram`, whose I/O
/// goes through the ring with owned buffers. Dropping it does not remove the socket
/// file.
pub struct UnixDatagram {
    sock: Socket,
}

impl UnixDatagram {
    /// A socket bound to `path` (`SOCKET` and `BIND` where the ring has them).
    ///
    /// # Errors
    /// `EADDRINUSE` if `path` exists; `ENAMETOOLONG` for a path too long.
    pub async fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let addr = unix_any(path.as_ref())?;
        let sock = Socket::new(AddressFamily::UNIX, SocketType::DGRAM).await?;
        sock.bind(addr).await?;
        Ok(UnixDatagram { sock })
    }

    /// A socket bound to no address (its datagrams come from an unnamed sender).
    ///
    /// # Errors
    /// The socket's.
    pub async fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            sock: Socket::new(AddressFamily::UNIX, SocketType::DGRAM).await?,
        })
    }

    /// A connected pair (socketpair(2)).
    ///
    /// # Errors
    /// The system call's (`EMFILE`).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = pair(SocketType::DGRAM)?;
        Ok((UnixDatagram { sock: a }, UnixDatagram { sock: b }))
    }

    std_socket!(std::os::unix::net::UnixDatagram, std_addr, peer_addr);

    /// Sets the default destination and the only source (`IORING_OP_CONNECT`).
    ///
    /// # Errors
    /// The kernel's; `ENAMETOOLONG` for a path too long.
    pub async fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.sock.connect(unix_any(path.as_ref())?).await
    }

    /// Sends `buf`'s initialised bytes as one datagram to the socket at `path`
    /// (`IORING_OP_SENDMSG`).
    ///
    /// # Errors
    /// The kernel's (`ENOENT`, `ECONNREFUSED`, …); `ENAMETOOLONG` for a path too long
    /// (the buffer is given back).
    pub async fn send_to<B: IoBuf>(&self, buf: B, path: impl AsRef<Path>) -> BufResult<usize, B> {
        match unix_any(path.as_ref()) {
            Ok(addr) => self.send_to_op(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    fn send_to_op<B: IoBuf>(&self, buf: B, addr: SocketAddrAny) -> Op<SendTo<B>> {
        self.sock.send_to(buf, Some(addr))
    }

    datagram_io! {
        addr: SocketAddr,
        sender: sender,
        unconnected: "ENOTCONN",
        recv_from_errors: "The kernel's.",
    }

    /// Shuts down the reading, writing or both halves (`IORING_OP_SHUTDOWN`).
    ///
    /// # Errors
    /// The kernel's.
    pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.sock.shutdown(how).await
    }
}

socket_impls!(UnixListener, UnixStream, UnixDatagram);
