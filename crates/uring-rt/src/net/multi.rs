//! Multishot operations as streams: `ACCEPT` with `IORING_ACCEPT_MULTISHOT` (one CQE
//! per connection) and `RECV` with `IORING_RECV_MULTISHOT` into a [`BufPool`] (one
//! CQE per receive).
//!
//! A multishot request ends when the kernel posts a CQE without `IORING_CQE_F_MORE`:
//! after an error, when the pool ran out of buffers (`ENOBUFS`), or for its own
//! reasons. The streams here arm it again at their next poll, so the user sees one
//! endless stream; `ENOBUFS` is never an item: a growable pool grows and the stream
//! re-arms at once, any other waits for a buffer to come back, then re-arms. Dropping a
//! stream cancels its request; connections and buffers that arrive after that are
//! closed and given back to the pool.
//!
//! A stream's `RECV` takes bundles (`IORING_RECVSEND_BUNDLE`, one CQE for as many
//! buffers as the data waiting needs) where the ring offers them; the stream yields
//! the bundle's buffers one by one.
//!
//! [`BufPool`]: super::BufPool
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll};

use uring::types::Fd;
use uring::{Sqe, opcode, sys};

use rustix::net::SocketAddrAny;
use rustix::net::addr::SocketAddrStorage;
use uring::types::RecvMsgOut;

use std::collections::VecDeque;

use super::pool::{Group, Pool, RecvBuf};
use super::socket::{Socket, empty_msghdr};
use crate::driver::OpData;
use crate::op::{MultiOp, close_orphan};

/// The data of a multishot `ACCEPT`.
pub(crate) struct AcceptMulti {
    sock: Socket,
}

impl OpData for AcceptMulti {
    type Output = ();

    fn sqe(&mut self) -> Sqe {
        opcode::Accept::new(Fd(self.sock.fd()))
            .flags(libc::SOCK_CLOEXEC)
            .multishot(true)
            .build()
    }

    fn complete(self, _result: io::Result<u32>, _flags: u32) {}

    fn orphan_cqe(&mut self, res: i32, _flags: u32) {
        close_orphan(res);
    }
}

/// Accepted connections from a multishot `ACCEPT`, re-armed when it ends.
pub(crate) struct Accepts {
    sock: Socket,
    op: Option<MultiOp<AcceptMulti>>,
}

impl Accepts {
    pub(crate) fn new(sock: Socket) -> Accepts {
        Accepts { sock, op: None }
    }

    /// The next connection, or the error of one accept (the stream goes on after it).
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        loop {
            let sock = &self.sock;
            let op = self
                .op
                .get_or_insert_with(|| MultiOp::new(AcceptMulti { sock: sock.clone() }));
            match op.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                // Ended (its final CQE was taken earlier): arm again.
                Poll::Ready(None) => self.op = None,
                Poll::Ready(Some((res, flags))) => {
                    if flags & sys::IORING_CQE_F_MORE == 0 {
                        self.op = None;
                    }
                    return Poll::Ready(res.map(|fd| {
                        // SAFETY: the kernel returned a new descriptor that is ours.
                        unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
                    }));
                }
            }
        }
    }
}

/// The data of a multishot receive into a buffer group.
pub(crate) trait MultiRecv: OpData {
    /// Whether the opcode can take bundles (`RECV` can, `RECVMSG` cannot).
    const BUNDLES: bool;

    /// `bundle` asks for `IORING_RECVSEND_BUNDLE` (only where `BUNDLES`).
    fn new(sock: Socket, group: Rc<Group>, bundle: bool) -> Self;
}

/// Declares the data of a multishot receive into a buffer group: the socket, the
/// group, `$field`s made with `$init`, and the SQE — `$sqe`'s builder with the group
/// and the multishot flag added (`$d` names the data). Its CQEs that nobody takes give
/// their buffers back to the group.
macro_rules! multi_recv {
    (
        $(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty = $init:expr),* $(,)? }
        bundles: $bundles:literal, |$d:ident| $sqe:expr
    ) => {
        $(#[$doc])*
        pub(crate) struct $name {
            sock: Socket,
            group: Rc<Group>,
            bundle: bool,
            $($field: $ty),*
        }

        impl OpData for $name {
            type Output = ();

            fn sqe(&mut self) -> Sqe {
                let $d = &mut *self;
                let bgid = $d.group.bgid();
                $sqe.buf_group(bgid).multishot(true).build()
            }

            fn complete(self, _result: io::Result<u32>, _flags: u32) {}

            const SEES_CQES: bool = $bundles;

            fn on_cqe(&mut self, res: i32, flags: u32) {
                if self.bundle {
                    self.group.resolve_bundle(res, flags);
                }
            }

            fn orphan_cqe(&mut self, res: i32, flags: u32) {
                if self.bundle {
                    // SAFETY: a CQE of this request, which selects bundles from
                    // `group`, resolved at its dispatch (`on_cqe` runs first), that
                    // nobody took.
                    unsafe { self.group.discard_bundle(res, flags) };
                } else {
                    // SAFETY: a CQE of this request, which selects from `group`, that
                    // nobody took.
                    unsafe { self.group.discard(res, flags) };
                }
            }
        }

        impl MultiRecv for $name {
            const BUNDLES: bool = $bundles;

            fn new(sock: Socket, group: Rc<Group>, bundle: bool) -> Self {
                $name {
                    sock,
                    group,
                    bundle: bundle && $bundles,
                    $($field: $init),*
                }
            }
        }
    };
}

multi_recv! {
    /// The data of a multishot `RECV` into a buffer group, bundles or not.
    RecvMulti {}
    bundles: true,
    |d| opcode::Recv::new(Fd(d.sock.fd()), std::ptr::null_mut(), 0).bundle(d.bundle)
}

/// Room for the source address in each buffer of a multishot `RECVMSG`.
pub(crate) const NAME_ROOM: usize = size_of::<SocketAddrStorage>();

multi_recv! {
    /// The data of a multishot `RECVMSG` into a buffer group: each buffer holds an
    /// `io_uring_recvmsg_out` header, [`NAME_ROOM`] bytes for the address, the payload.
    RecvMsgMulti { msg: libc::msghdr = empty_msghdr() }
    bundles: false,
    |d| {
        d.msg = empty_msghdr();
        d.msg.msg_namelen = NAME_ROOM as libc::socklen_t;
        opcode::RecvMsg::new(Fd(d.sock.fd()), &raw mut d.msg)
    }
}

/// Where a receive stream is.
enum RecvState<T: MultiRecv> {
    /// Not armed (first poll, or its multishot ended): arm at the next poll.
    Idle,
    Armed {
        op: MultiOp<T>,
        /// The group it selects from.
        group: Rc<Group>,
        /// The group's return count when armed.
        armed_at: u64,
        /// It takes bundles.
        bundle: bool,
    },
    /// Ran out of buffers: re-arm once `group`'s return count moves past this.
    NoBufs(Rc<Group>, u64),
    /// End of stream, or an error was returned: the stream is over.
    Done,
}

/// Received buffers from a multishot `RECV` or `RECVMSG`, re-armed when it ends.
pub(crate) struct Recvs<T: MultiRecv> {
    sock: Socket,
    pool: Rc<Pool>,
    state: RecvState<T>,
    /// Buffers of a bundle not yet yielded.
    ready: VecDeque<RecvBuf>,
    /// Requests armed so far.
    arms: u64,
    /// Completions that filled more than one buffer.
    bundles: u64,
}

impl<T: MultiRecv> Recvs<T> {
    pub(crate) fn new(sock: Socket, pool: Rc<Pool>) -> Recvs<T> {
        Recvs {
            sock,
            pool,
            state: RecvState::Idle,
            ready: VecDeque::new(),
            arms: 0,
            bundles: 0,
        }
    }

    /// The next buffer received; `None` at end of stream and after an error.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<RecvBuf>>> {
        if let Some(buf) = self.ready.pop_front() {
            return Poll::Ready(Some(Ok(buf)));
        }
        loop {
            match &mut self.state {
                RecvState::Done => return Poll::Ready(None),
                RecvState::Idle => {
                    let group = self.pool.current();
                    if !group.on_current_runtime() {
                        self.state = RecvState::Done;
                        return Poll::Ready(Some(Err(io::Error::other(
                            "uring_rt: a receive stream polled outside the runtime of its buffer pool",
                        ))));
                    }
                    let bundle = T::BUNDLES && self.pool.bundles() && super::pool::ring_bundles();
                    self.arms += 1;
                    self.state = RecvState::Armed {
                        op: MultiOp::new(T::new(self.sock.clone(), group.clone(), bundle)),
                        armed_at: group.returns(),
                        group,
                        bundle,
                    };
                }
                RecvState::NoBufs(group, at) => {
                    if group.returns() == *at {
                        group.wait_for_return(cx.waker());
                        return Poll::Pending;
                    }
                    self.state = RecvState::Idle;
                }
                RecvState::Armed {
                    op,
                    group,
                    armed_at,
                    bundle,
                } => {
                    let (armed_at, bundle) = (*armed_at, *bundle);
                    let (res, flags) = match op.poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(None) => {
                            self.state = RecvState::Idle;
                            continue;
                        }
                        Poll::Ready(Some(c)) => c,
                    };
                    let group = group.clone();
                    let more = flags & sys::IORING_CQE_F_MORE != 0;
                    if !more {
                        // Dropping the op frees its slot (its final CQE is taken).
                        self.state = RecvState::Idle;
                    }
                    let n = match res {
                        Ok(n) => n,
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            // The ring was empty. A buffer came back since the request
                            // was armed: arm again. Else a growable pool grows (and the
                            // next request gets the bigger group), or the stream waits
                            // for a buffer to come back.
                            self.state = if group.returns() != armed_at || self.pool.grow(&group) {
                                RecvState::Idle
                            } else {
                                RecvState::NoBufs(group, armed_at)
                            };
                            continue;
                        }
                        Err(e) => {
                            if !more {
                                self.state = RecvState::Done;
                            }
                            return Poll::Ready(Some(Err(e)));
                        }
                    };
                    if bundle {
                        // SAFETY: a CQE of this request, which selects bundles from
                        // `group`, resolved at its dispatch (`on_cqe`), taken once
                        // (here).
                        let taken = unsafe { group.take_bundle(n as i32, flags, &mut self.ready) };
                        if let Err(e) = taken {
                            self.state = RecvState::Done;
                            return Poll::Ready(Some(Err(e)));
                        }
                        if self.ready.len() > 1 {
                            self.bundles += 1;
                        }
                        match self.ready.pop_front() {
                            Some(buf) => return Poll::Ready(Some(Ok(buf))),
                            // End of stream: no bytes, no buffer taken.
                            None => {
                                self.state = RecvState::Done;
                                return Poll::Ready(None);
                            }
                        }
                    }
                    // SAFETY: a CQE of this request, which selects from `group`,
                    // taken once (here).
                    let buf = unsafe { group.take(n as i32, flags) };
                    match buf {
                        // End of stream: no bytes (and the buffer, if the kernel
                        // picked one, goes back).
                        _ if n == 0 => {
                            drop(buf);
                            self.state = RecvState::Done;
                            return Poll::Ready(None);
                        }
                        Some(buf) => return Poll::Ready(Some(Ok(buf))),
                        None => {
                            return Poll::Ready(Some(Err(io::Error::other(
                                "uring_rt: a multishot receive completed without its buffer",
                            ))));
                        }
                    }
                }
            }
        }
    }
}

/// The buffers a stream socket receives, as a [`Stream`](futures_core::Stream):
/// a multishot `RECV` into a [`BufPool`](super::BufPool), re-armed whenever it ends.
/// Each item is a [`RecvBuf`] that goes back to the pool when dropped; the stream
/// ends (`None`) at the peer's end of stream, and after an error item.
///
/// `next().await` works without importing anything. Dropping the stream cancels the
/// receive; bytes the kernel received for it after that are lost with it (their
/// buffers go back to the pool), as with a dropped read.
pub struct RecvStream {
    recvs: Recvs<RecvMulti>,
}

impl std::fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvStream")
            .field("fd", &self.recvs.sock)
            .finish()
    }
}

impl RecvStream {
    pub(crate) fn new(sock: Socket, pool: Rc<Pool>) -> RecvStream {
        RecvStream {
            recvs: Recvs::new(sock, pool),
        }
    }

    /// How many completions filled more than one buffer (receive bundles, where the
    /// kernel has them: see [`BufPool::set_bundles`](super::BufPool::set_bundles)).
    pub fn bundles(&self) -> u64 {
        self.recvs.bundles
    }

    /// How many times the multishot receive was armed: 1, plus one for each time the
    /// kernel ended it (the pool ran out of buffers, or its own reasons) and the
    /// stream armed it again. A figure for sizing a [`BufPool`](super::BufPool).
    pub fn arms(&self) -> u64 {
        self.recvs.arms
    }

    /// The next buffer received: `None` at end of stream.
    ///
    /// # Errors
    /// The receive's (`ECONNRESET`, …); the stream ends after it.
    pub async fn next(&mut self) -> Option<io::Result<RecvBuf>> {
        std::future::poll_fn(|cx| self.recvs.poll_recv(cx)).await
    }
}

impl futures_core::Stream for RecvStream {
    type Item = io::Result<RecvBuf>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().recvs.poll_recv(cx)
    }
}

/// An address type of datagram sockets: `std::net::SocketAddr` (UDP) and
/// `std::os::unix::net::SocketAddr` (Unix). Sealed.
pub trait DatagramAddr: sealed::Sealed + Sized {}

pub(crate) mod sealed {
    use rustix::net::SocketAddrAny;

    pub trait Sealed: Sized {
        /// The address the kernel wrote, or `None` if it is not one of this type.
        fn from_any(addr: SocketAddrAny) -> Option<Self>;
        /// The address of a sender that has none (an unbound Unix socket).
        fn unnamed() -> Option<Self>;
    }
}

impl<A: sealed::Sealed> DatagramAddr for A {}

/// The datagrams a socket receives, as a [`Stream`](futures_core::Stream) of
/// `(buffer, sender)`: a multishot `RECVMSG` into a [`BufPool`](super::BufPool),
/// re-armed whenever it ends; the buffer holds the payload and goes back to the pool
/// when dropped. A datagram longer than the pool's buffers (less the 144 bytes of
/// header and address that share them) is truncated, as by recvfrom(2). The stream
/// does not end; an error is an item and the stream ends after it.
pub struct DatagramStream<A: DatagramAddr> {
    recvs: Recvs<RecvMsgMulti>,
    _addr: std::marker::PhantomData<fn() -> A>,
}

impl<A: DatagramAddr> std::fmt::Debug for DatagramStream<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramStream")
            .field("fd", &self.recvs.sock)
            .finish()
    }
}

impl<A: DatagramAddr> DatagramStream<A> {
    pub(crate) fn new(sock: Socket, pool: Rc<Pool>) -> DatagramStream<A> {
        DatagramStream {
            recvs: Recvs::new(sock, pool),
            _addr: std::marker::PhantomData,
        }
    }

    /// How many times the multishot receive was armed (see [`RecvStream::arms`]).
    pub fn arms(&self) -> u64 {
        self.recvs.arms
    }

    /// The next datagram and its sender.
    ///
    /// # Errors
    /// The receive's; the stream ends after it.
    pub async fn next(&mut self) -> Option<io::Result<(RecvBuf, A)>> {
        std::future::poll_fn(|cx| self.poll_datagram(cx)).await
    }

    fn poll_datagram(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<(RecvBuf, A)>>> {
        let mut buf = match std::task::ready!(self.recvs.poll_recv(cx)) {
            Some(Ok(buf)) => buf,
            Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            None => return Poll::Ready(None),
        };
        let Ok(out) = RecvMsgOut::parse_with(&buf, NAME_ROOM, 0) else {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "uring_rt: a multishot RECVMSG buffer too short for its header",
            ))));
        };
        let name = out.name_data();
        let addr = if name.len() >= size_of::<libc::sa_family_t>() && !out.is_name_truncated() {
            // SAFETY: the kernel wrote an address of `name.len()` bytes (at most
            // NAME_ROOM, the size of the storage) at `name`; `read` copies it.
            let any = unsafe { SocketAddrAny::read(name.as_ptr().cast(), name.len() as u32) };
            A::from_any(any)
        } else {
            A::unnamed()
        };
        let Some(addr) = addr else {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "uring_rt: a datagram from an address of another family",
            ))));
        };
        let start = out.payload_data().as_ptr() as usize - buf.as_ptr() as usize;
        let len = out.payload_data().len();
        buf.narrow(start, len);
        Poll::Ready(Some(Ok((buf, addr))))
    }
}

impl<A: DatagramAddr> futures_core::Stream for DatagramStream<A> {
    type Item = io::Result<(RecvBuf, A)>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_datagram(cx)
    }
}

impl sealed::Sealed for std::net::SocketAddr {
    fn from_any(addr: SocketAddrAny) -> Option<Self> {
        std::net::SocketAddr::try_from(addr).ok()
    }
    fn unnamed() -> Option<Self> {
        None
    }
}
