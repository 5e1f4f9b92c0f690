//! UDP: [`UdpSocket`].
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use rustix::net::{SocketAddrAny, SocketType};

use super::multi::DatagramStream;
use super::pool::{self, BufPool};
use super::socket::{Receive, Socket, Transmit};
use super::tcp::{family, ip_addr, resolve};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::Op;

/// A UDP socket, as `std::net::UdpSocket`, whose I/O goes through the ring with owned
/// buffers. Its methods take `&self`; dropped, it closes its descriptor once the ops
/// that use it have finished.
pub struct UdpSocket {
    sock: Socket,
}

impl UdpSocket {
    /// A socket bound to `addr` (the first of its addresses that binds): `SOCKET` and
    /// `BIND` on the ring where it has them, the system calls otherwise. Port 0 picks
    /// a free port.
    ///
    /// `addr` is resolved with [`ToSocketAddrs`], which blocks the thread on a DNS
    /// lookup for a host name (not for an IP address).
    ///
    /// # Errors
    /// The last address's error (`EADDRINUSE`, …); `InvalidInput` when `addr`
    /// resolves to nothing.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in resolve(addr)? {
            let sock = match Socket::new(family(&a), SocketType::DGRAM).await {
                Ok(s) => s,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            match sock.bind(SocketAddrAny::from(a)).await {
                Ok(()) => return Ok(UdpSocket { sock }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)))
    }

    std_socket!(std::net::UdpSocket, ip_addr, peer_addr);

    /// Sets the default destination and the only source datagrams are taken from
    /// (`IORING_OP_CONNECT`), for [`send`](Self::send) and [`recv`](Self::recv).
    ///
    /// # Errors
    /// The kernel's; `InvalidInput` when `addr` resolves to nothing.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for a in resolve(addr)? {
            match self.sock.connect(SocketAddrAny::from(a)).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)))
    }

    /// Sends `buf`'s initialised bytes as one datagram to `addr`
    /// (`IORING_OP_SENDMSG`). Returns the count sent and the buffer.
    ///
    /// # Errors
    /// The kernel's (`EMSGSIZE`, `ENETUNREACH`, …).
    pub fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> Op<super::SendTo<B>> {
        self.sock.send_to(buf, Some(SocketAddrAny::from(addr)))
    }

    datagram_io! {
        addr: SocketAddr,
        sender: sender,
        unconnected: "EDESTADDRREQ",
        recv_from_errors: "The kernel's (`ECONNREFUSED` after an ICMP error on a connected socket, …).",
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    /// The setsockopt(2)'s.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        Ok(rustix::net::sockopt::set_socket_broadcast(&self.sock, on)?)
    }
}

/// The sender the kernel wrote for a datagram, as an IP address.
fn sender(addr: Option<SocketAddrAny>) -> io::Result<SocketAddr> {
    ip_addr(addr.ok_or_else(|| io::Error::other("recvmsg gave no sender address"))?)
}

socket_impls!(UdpSocket);
