//! The socket under every type of [`crate::net`]: its shared descriptor, the opcodes
//! the ring offers, and the ops every socket type uses.
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};

use rustix::net::addr::SocketAddrStorage;
use rustix::net::{AddressFamily, SocketAddrAny, SocketFlags, SocketType};
use uring::types::Fd;
use uring::{Sqe, opcode};

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::driver::{OpData, unit_op};
use crate::op::{Op, SharedFd, close_orphan};
use crate::runtime::{self, Context};

/// The largest length one request carries; longer buffers transfer short.
const MAX_LEN: usize = u32::MAX as usize;

/// The opcodes of the running ring that have a system-call fallback.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Caps {
    pub(crate) socket: bool,
    pub(crate) bind: bool,
    pub(crate) listen: bool,
}

thread_local! {
    /// The capabilities of the runtime last asked about. The `Weak` keeps that
    /// runtime's allocation, so another runtime never has the same address.
    static CAPS: RefCell<Option<(Weak<Context>, Caps)>> = const { RefCell::new(None) };
}

/// What the current runtime's ring offers (`IORING_REGISTER_PROBE`, once per runtime);
/// nothing outside a runtime or when the probe fails.
pub(crate) fn caps() -> Caps {
    let Some(cx) = runtime::current() else {
        return Caps::default();
    };
    CAPS.with(|cell| {
        let mut cell = cell.borrow_mut();
        if let Some((rt, caps)) = cell.as_ref()
            && std::ptr::eq(rt.as_ptr(), Rc::as_ptr(&cx))
        {
            return *caps;
        }
        let probe = cx
            .driver
            .borrow()
            .ring()
            .and_then(|r| r.submitter().probe().ok());
        let caps = probe.map_or_else(Caps::default, |p| Caps {
            socket: p.is_supported(opcode::Socket::CODE),
            bind: p.is_supported(opcode::Bind::CODE),
            listen: p.is_supported(opcode::Listen::CODE),
        });
        *cell = Some((Rc::downgrade(&cx), caps));
        caps
    })
}

/// A socket's descriptor, shared by the socket and its ops in flight.
#[derive(Clone)]
pub(crate) struct Socket(Rc<SharedFd>);

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.fd)
    }
}

impl Socket {
    /// A socket of `domain` and `ty` (`SOCK_CLOEXEC` added): `IORING_OP_SOCKET`, or
    /// socket(2) where the ring lacks it.
    pub(crate) async fn new(domain: AddressFamily, ty: SocketType) -> io::Result<Socket> {
        let fd = if caps().socket {
            Op::new(NewSocket {
                domain: i32::from(domain.as_raw()),
                ty: ty.as_raw() as i32 | libc::SOCK_CLOEXEC,
            })
            .await?
        } else {
            rustix::net::socket_with(domain, ty, SocketFlags::CLOEXEC, None)?
        };
        Ok(Socket::from_fd(fd))
    }

    /// Takes `fd` over. It is put in blocking mode: the ring waits for readiness
    /// itself, and the engine's fallback counts on it.
    pub(crate) fn from_std(fd: OwnedFd) -> io::Result<Socket> {
        rustix::io::ioctl_fionbio(&fd, false)?;
        Ok(Socket::from_fd(fd))
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> Socket {
        Socket(SharedFd::new(fd))
    }

    /// The descriptor, or a duplicate of it while a dropped op still uses it.
    pub(crate) fn into_fd(self) -> io::Result<OwnedFd> {
        SharedFd::try_take(self.0).or_else(|shared| Socket(shared).as_fd().try_clone_to_owned())
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.0.fd
    }

    /// bind(2): `IORING_OP_BIND`, or the system call where the ring lacks it.
    pub(crate) async fn bind(&self, addr: SocketAddrAny) -> io::Result<()> {
        if caps().bind {
            Op::new(Bind {
                sock: self.clone(),
                addr,
            })
            .await
        } else {
            Ok(rustix::net::bind(self, &addr)?)
        }
    }

    /// listen(2): `IORING_OP_LISTEN`, or the system call where the ring lacks it.
    pub(crate) async fn listen(&self, backlog: i32) -> io::Result<()> {
        if caps().listen {
            Op::new(Listen {
                sock: self.clone(),
                backlog,
            })
            .await
        } else {
            Ok(rustix::net::listen(self, backlog)?)
        }
    }

    pub(crate) fn connect(&self, addr: SocketAddrAny) -> Op<Connect> {
        Op::new(Connect {
            sock: self.clone(),
            addr,
        })
    }

    pub(crate) fn accept(&self) -> Op<Accept> {
        Op::new(Accept {
            sock: self.clone(),
            addr: MaybeUninit::uninit(),
            len: size_of::<SocketAddrStorage>() as libc::socklen_t,
        })
    }

    pub(crate) fn read<B: IoBufMut>(&self, buf: B) -> Op<Receive<B>> {
        Op::new(Receive {
            sock: self.clone(),
            buf,
        })
    }

    pub(crate) fn write<B: IoBuf>(&self, buf: B) -> Op<Transmit<B>> {
        Op::new(Transmit {
            sock: self.clone(),
            buf,
        })
    }

    /// Writes all of `buf`'s initialised bytes, writing again after short writes.
    pub(crate) async fn write_all<B: IoBuf>(&self, mut buf: B) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        while done < total {
            let (res, slice) = self.write(buf.slice(done..total)).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    return (
                        Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "the socket accepted 0 bytes",
                        )),
                        buf,
                    );
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// shutdown(2) through `IORING_OP_SHUTDOWN`.
    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Op::new(ShutdownOp {
            sock: self.clone(),
            how,
        })
        .await
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddrAny> {
        Ok(rustix::net::getsockname(self)?)
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddrAny> {
        rustix::net::getpeername(self)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOTCONN))
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open while `self` (which holds the Rc) lives.
        unsafe { BorrowedFd::borrow_raw(self.0.fd) }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd
    }
}

/// The data of a `SOCKET`.
struct NewSocket {
    domain: i32,
    ty: i32,
}

impl OpData for NewSocket {
    type Output = io::Result<OwnedFd>;

    fn sqe(&mut self) -> Sqe {
        opcode::Socket::new(self.domain, self.ty, 0).build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        // SAFETY: the kernel returned a new descriptor that is ours.
        result.map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }

    fn orphan_cqe(&mut self, res: i32, _flags: u32) {
        close_orphan(res);
    }
}

unit_op! {
    /// The data of a `BIND`.
    Bind { sock: Socket, addr: SocketAddrAny }
    |d| opcode::Bind::new(Fd(d.sock.fd()), d.addr.as_ptr().cast(), d.addr.addr_len()).build()
}

unit_op! {
    /// The data of a `LISTEN`.
    Listen { sock: Socket, backlog: i32 }
    |d| opcode::Listen::new(Fd(d.sock.fd()), d.backlog).build()
}

unit_op! {
    /// The data of a `CONNECT`.
    Connect { sock: Socket, addr: SocketAddrAny }
    |d| opcode::Connect::new(Fd(d.sock.fd()), d.addr.as_ptr().cast(), d.addr.addr_len()).build()
}

/// The data of an `ACCEPT`: the new connection's descriptor and the peer's address.
pub struct Accept {
    sock: Socket,
    addr: MaybeUninit<SocketAddrStorage>,
    len: libc::socklen_t,
}

impl fmt::Debug for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accept").field("fd", &self.sock).finish()
    }
}

impl OpData for Accept {
    type Output = io::Result<(OwnedFd, Option<SocketAddrAny>)>;

    fn sqe(&mut self) -> Sqe {
        opcode::Accept::new(Fd(self.sock.fd()))
            .addr(self.addr.as_mut_ptr().cast())
            .addrlen(&raw mut self.len)
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        // SAFETY: the kernel returned a new descriptor that is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(result? as RawFd) };
        let len = self.len as usize;
        let addr = (len >= size_of::<libc::sa_family_t>() && len <= size_of::<SocketAddrStorage>())
            // SAFETY: the kernel wrote an address of `len` bytes (checked in bounds).
            .then(|| unsafe { SocketAddrAny::read(self.addr.as_ptr(), self.len) });
        Ok((fd, addr))
    }

    fn orphan_cqe(&mut self, res: i32, _flags: u32) {
        close_orphan(res);
    }
}

/// The data of a stream socket's `read` (`IORING_OP_RECV`).
pub struct Receive<B> {
    sock: Socket,
    buf: B,
}

impl<B> fmt::Debug for Receive<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receive").field("fd", &self.sock).finish()
    }
}

impl<B: IoBufMut> OpData for Receive<B> {
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> Sqe {
        let len = self.buf.bytes_total().min(MAX_LEN) as u32;
        opcode::Recv::new(Fd(self.sock.fd()), self.buf.stable_mut_ptr(), len).build()
    }

    fn complete(mut self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        let result = result.map(|n| {
            // SAFETY: the kernel wrote `n <= len <= bytes_total` bytes from the start.
            unsafe { self.buf.set_init(n as usize) };
            n as usize
        });
        (result, self.buf)
    }
}

/// The data of a stream socket's `write` (`IORING_OP_SEND`).
pub struct Transmit<B> {
    sock: Socket,
    buf: B,
}

impl<B> fmt::Debug for Transmit<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit").field("fd", &self.sock).finish()
    }
}

impl<B: IoBuf> OpData for Transmit<B> {
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> Sqe {
        let len = self.buf.bytes_init().min(MAX_LEN) as u32;
        opcode::Send::new(Fd(self.sock.fd()), self.buf.stable_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.buf)
    }
}

unit_op! {
    /// The data of a `SHUTDOWN`.
    ShutdownOp { sock: Socket, how: i32 }
    |d| opcode::Shutdown::new(Fd(d.sock.fd()), d.how).build()
}

/// A `msghdr` with every field empty.
pub(crate) fn empty_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain data (pointers, lengths, flags); all zeros is the empty
    // message (null pointers with zero lengths).
    unsafe { std::mem::zeroed() }
}

/// A `msghdr` naming the `len` iovecs at `iov` and nothing else.
fn msghdr(iov: *mut libc::iovec, len: usize) -> libc::msghdr {
    let mut msg = empty_msghdr();
    msg.msg_iov = iov;
    msg.msg_iovlen = len;
    msg
}

/// The data of `send_to` (`IORING_OP_SENDMSG` with a destination): `buf`'s initialised
/// bytes to `addr`, or to the connected peer when `addr` is `None`.
pub struct SendTo<B> {
    sock: Socket,
    buf: B,
    addr: Option<SocketAddrAny>,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<B> fmt::Debug for SendTo<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTo").field("fd", &self.sock).finish()
    }
}

impl<B: IoBuf> OpData for SendTo<B> {
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> Sqe {
        self.iov = libc::iovec {
            iov_base: self.buf.stable_ptr().cast_mut().cast(),
            iov_len: self.buf.bytes_init(),
        };
        self.msg = msghdr(&raw mut self.iov, 1);
        if let Some(a) = &self.addr {
            self.msg.msg_name = a.as_ptr().cast_mut().cast();
            self.msg.msg_namelen = a.addr_len();
        }
        opcode::SendMsg::new(Fd(self.sock.fd()), &raw const self.msg)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.buf)
    }
}

/// The data of `recv_from` (`IORING_OP_RECVMSG`): into `buf`, with the sender's
/// address.
pub struct RecvFrom<B> {
    sock: Socket,
    buf: B,
    addr: MaybeUninit<SocketAddrStorage>,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<B> fmt::Debug for RecvFrom<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFrom").field("fd", &self.sock).finish()
    }
}

impl<B: IoBufMut> OpData for RecvFrom<B> {
    type Output = BufResult<(usize, Option<SocketAddrAny>), B>;

    fn sqe(&mut self) -> Sqe {
        self.iov = libc::iovec {
            iov_base: self.buf.stable_mut_ptr().cast(),
            iov_len: self.buf.bytes_total(),
        };
        self.msg = msghdr(&raw mut self.iov, 1);
        self.msg.msg_name = self.addr.as_mut_ptr().cast();
        self.msg.msg_namelen = size_of::<SocketAddrStorage>() as libc::socklen_t;
        opcode::RecvMsg::new(Fd(self.sock.fd()), &raw mut self.msg).build()
    }

    fn complete(mut self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        let n = match result {
            Ok(n) => n as usize,
            Err(e) => return (Err(e), self.buf),
        };
        // SAFETY: the kernel wrote `n <= bytes_total` bytes from the start.
        unsafe { self.buf.set_init(n) };
        let len = self.msg.msg_namelen as usize;
        let addr = (len >= size_of::<libc::sa_family_t>() && len <= size_of::<SocketAddrStorage>())
            // SAFETY: the kernel wrote an address of `len` bytes (checked in bounds).
            .then(|| unsafe { SocketAddrAny::read(self.addr.as_ptr(), len as u32) });
        (Ok((n, addr)), self.buf)
    }
}

impl Socket {
    pub(crate) fn send_to<B: IoBuf>(&self, buf: B, addr: Option<SocketAddrAny>) -> Op<SendTo<B>> {
        Op::new(SendTo {
            sock: self.clone(),
            buf,
            addr,
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            msg: empty_msghdr(),
        })
    }

    pub(crate) fn recv_from<B: IoBufMut>(&self, buf: B) -> Op<RecvFrom<B>> {
        Op::new(RecvFrom {
            sock: self.clone(),
            buf,
            addr: MaybeUninit::uninit(),
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            msg: empty_msghdr(),
        })
    }
}

/// Declares the data of a stream socket's vectored op (`readv`, `writev`): the
/// socket, the buffers, their iovecs and the `msghdr` that names them; its `Debug`;
/// and `op`, which checks the buffer count and makes the op.
macro_rules! vectored_op {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<B> {
            sock: Socket,
            bufs: Vec<B>,
            iovecs: Vec<libc::iovec>,
            msg: libc::msghdr,
        }

        impl<B> fmt::Debug for $name<B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.sock)
                    .field("bufs", &self.bufs.len())
                    .finish()
            }
        }

        impl<B> $name<B>
        where
            $name<B>: OpData,
        {
            fn op(sock: &Socket, bufs: Vec<B>) -> Op<Self> {
                let check = crate::buf::check_vectored(bufs.len());
                Op::checked(
                    check,
                    $name {
                        sock: sock.clone(),
                        iovecs: Vec::with_capacity(bufs.len()),
                        bufs,
                        msg: empty_msghdr(),
                    },
                )
            }
        }
    };
}

vectored_op! {
    /// The data of a stream socket's `readv` (`IORING_OP_RECVMSG` with several iovecs).
    RecvVectored
}

vectored_op! {
    /// The data of a stream socket's `writev` (`IORING_OP_SENDMSG` with several iovecs).
    SendVectored
}

impl<B: IoBufMut> OpData for RecvVectored<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn sqe(&mut self) -> Sqe {
        crate::buf::iovecs_to_fill(&mut self.bufs, &mut self.iovecs);
        self.msg = msghdr(self.iovecs.as_mut_ptr(), self.iovecs.len());
        opcode::RecvMsg::new(Fd(self.sock.fd()), &raw mut self.msg).build()
    }

    fn complete(mut self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        let result = result.map(|n| {
            crate::buf::set_init_vectored(&mut self.bufs, n as usize);
            n as usize
        });
        (result, self.bufs)
    }
}

impl<B: IoBuf> OpData for SendVectored<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn sqe(&mut self) -> Sqe {
        crate::buf::iovecs_to_send(&self.bufs, &mut self.iovecs);
        self.msg = msghdr(self.iovecs.as_mut_ptr(), self.iovecs.len());
        opcode::SendMsg::new(Fd(self.sock.fd()), &raw const self.msg)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.bufs)
    }
}

/// The data of a zero-copy send (`IORING_OP_SEND_ZC`): the buffer stays here until
/// the notification CQE says the kernel is done with its pages.
pub(crate) struct SendZc<B> {
    sock: Socket,
    buf: Option<B>,
}

impl<B: IoBuf> OpData for SendZc<B> {
    type Output = ();

    fn sqe(&mut self) -> Sqe {
        let (ptr, len) = match &self.buf {
            Some(b) => (b.stable_ptr(), b.bytes_init().min(MAX_LEN) as u32),
            None => (std::ptr::null(), 0),
        };
        opcode::SendZc::new(Fd(self.sock.fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn complete(self, _result: io::Result<u32>, _flags: u32) {}
}

impl Socket {
    pub(crate) fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> Op<RecvVectored<B>> {
        RecvVectored::op(self, bufs)
    }

    pub(crate) fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> Op<SendVectored<B>> {
        SendVectored::op(self, bufs)
    }

    /// A zero-copy send (`IORING_OP_SEND_ZC`): the result comes in the first CQE, the
    /// buffer back only after the notification CQE (`IORING_CQE_F_NOTIF`).
    pub(crate) async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        // A multishot op that cannot start drops its data; make sure this one can
        // (nothing changes before its first poll, below, in this same poll).
        match runtime::current() {
            Some(cx) if cx.driver.borrow().ring().is_some() => {}
            Some(_) => {
                return (
                    Err(io::Error::other("uring_rt: the runtime is shut down")),
                    buf,
                );
            }
            None => {
                return (
                    Err(io::Error::other(
                        "uring_rt: no runtime on this thread (await the op inside block_on)",
                    )),
                    buf,
                );
            }
        }
        let mut op = crate::op::MultiOp::new(SendZc {
            sock: self.clone(),
            buf: Some(buf),
        });
        let mut result = None;
        while let Some((res, flags)) = std::future::poll_fn(|cx| op.poll_next(cx)).await {
            if flags & uring::sys::IORING_CQE_F_NOTIF == 0 {
                result = Some(res.map(|n| n as usize));
            }
            if flags & uring::sys::IORING_CQE_F_MORE == 0 {
                break;
            }
        }
        let buf = op
            .with_data(|d| d.buf.take())
            .flatten()
            .expect("uring_rt: a zero-copy send's buffer stays in its data until taken here");
        let result = result.unwrap_or_else(|| {
            Err(io::Error::other(
                "uring_rt: a zero-copy send ended without its result",
            ))
        });
        (result, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{TcpListener, TcpStream, UnixDatagram};
    use crate::{Backend, Runtime};

    /// Makes the current runtime look like a ring without `SOCKET`, `BIND` and
    /// `LISTEN` (Linux before 5.19 and 6.11).
    fn without_socket_ops() {
        let cx = runtime::current().expect("inside block_on");
        CAPS.with(|c| *c.borrow_mut() = Some((Rc::downgrade(&cx), Caps::default())));
        let caps = caps();
        assert!(!caps.socket && !caps.bind && !caps.listen);
    }

    #[test]
    fn the_system_calls_stand_in_for_missing_socket_ops() {
        for backend in [Backend::Kernel, Backend::Engine] {
            let rt = match Runtime::builder().backend_exact(backend).build() {
                Ok(rt) => rt,
                Err(e) if backend == Backend::Kernel => {
                    assert!(
                        std::env::var_os("URING_REQUIRE_KERNEL").is_none_or(|v| v != "1"),
                        "the kernel refused io_uring: {e}"
                    );
                    eprintln!("SKIP the_system_calls_stand_in [kernel]: {e}");
                    continue;
                }
                Err(e) => panic!("engine: {e}"),
            };
            rt.block_on(async {
                without_socket_ops();
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let client = crate::spawn(async move {
                    let c = TcpStream::connect(addr).await.unwrap();
                    let (res, _) = c.write_all(b"fallback".as_slice()).await;
                    res.unwrap();
                });
                let (conn, _) = listener.accept().await.unwrap();
                let (res, buf) = conn.read(Vec::with_capacity(16)).await;
                assert_eq!(res.unwrap(), 8);
                assert_eq!(buf, b"fallback");
                client.await.unwrap();
                let dir =
                    std::env::temp_dir().join(format!("uring-rt-fallback-{}", std::process::id()));
                let _ = std::fs::remove_file(&dir);
                let d = UnixDatagram::bind(&dir).await.unwrap();
                assert_eq!(d.local_addr().unwrap().as_pathname(), Some(dir.as_path()));
                drop(d);
                std::fs::remove_file(&dir).unwrap();
            });
        }
    }
}
