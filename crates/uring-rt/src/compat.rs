//! Poll-based I/O over the ring's owned-buffer streams, for the ecosystem's traits:
//! [`PollIo`] implements `hyper::rt::{Read, Write}` (feature `hyper`),
//! `tokio::io::{AsyncRead, AsyncWrite}` (feature `tokio`) and
//! `futures_io::{AsyncRead, AsyncBufRead, AsyncWrite}` (feature `futures-io`).
//!
//! # What it costs
//! Those traits lend the stream a buffer for the length of one call, but a ring op
//! needs memory that stays put until its completion, which may come after the call
//! returned (or after the caller's buffer is gone). So [`PollIo`] owns one buffer each
//! way and copies:
//! - **reads**: the kernel receives into the read buffer (16 KiB, or what
//!   [`PollIo::with_capacity`] says); each poll copies from there into the caller's
//!   buffer. One `memcpy` of every byte read, on top of the kernel's copy; a caller
//!   with a smaller buffer takes the rest from memory at its next poll, without a
//!   system call.
//! - **writes**: a write copies the caller's bytes into the write buffer, starts the
//!   send, and returns at once with all of them accepted (write-behind, as a
//!   `BufWriter`); the next write or flush waits for that send to finish (sending
//!   what a short send left) before taking more. One `memcpy` of every byte written;
//!   an error of the send comes out of the next write, flush or shutdown.
//!
//! The owned-buffer methods of the streams themselves (`read`, `write_all`) copy
//! nothing: use them where no trait stands in the way.
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::buf::{IoBuf, Slice};
use crate::net::{Receive, TcpStream, Transmit, UnixStream};
use crate::op::Op;

/// The default size of [`PollIo`]'s read buffer.
const READ_CAPACITY: usize = 16 * 1024;

mod sealed {
    pub trait Sealed {}
}

/// A stream whose reads and writes are ring ops on owned buffers: [`TcpStream`] (and
/// the crate's other stream sockets). Sealed.
pub trait OwnedStream: sealed::Sealed + AsFd {
    #[doc(hidden)]
    fn read_owned(&self, buf: Vec<u8>) -> Op<Receive<Vec<u8>>>;
    #[doc(hidden)]
    fn write_owned(&self, buf: Slice<Vec<u8>>) -> Op<Transmit<Slice<Vec<u8>>>>;
}

/// The stream sockets' [`OwnedStream`]: their own `read` and `write`.
macro_rules! owned_stream {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}

        impl OwnedStream for $t {
            fn read_owned(&self, buf: Vec<u8>) -> Op<Receive<Vec<u8>>> {
                self.read(buf)
            }
            fn write_owned(&self, buf: Slice<Vec<u8>>) -> Op<Transmit<Slice<Vec<u8>>>> {
                self.write(buf)
            }
        }
    )*};
}

owned_stream!(TcpStream, UnixStream);

/// A stream with poll-based reads and writes (see the [module docs](self) for the
/// copies that costs), for hyper, tokio and futures-io. Build it with
/// [`PollIo::new`]; it must be polled on the runtime that owns the stream.
pub struct PollIo<S: OwnedStream> {
    stream: S,
    capacity: usize,
    /// Received bytes not yet handed out: `read_buf[read_pos..]`.
    read_buf: Option<Vec<u8>>,
    read_pos: usize,
    read_op: Option<Op<Receive<Vec<u8>>>>,
    /// The write buffer while no send is in flight.
    write_buf: Option<Vec<u8>>,
    write_op: Option<Op<Transmit<Slice<Vec<u8>>>>>,
    /// An error of a write-behind send, reported by the next call.
    write_error: Option<io::Error>,
}

// Nothing in it is pinned: the ops own their buffers and are `Unpin`.
impl<S: OwnedStream> Unpin for PollIo<S> {}

impl<S: OwnedStream + fmt::Debug> fmt::Debug for PollIo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollIo")
            .field("stream", &self.stream)
            .field("reading", &self.read_op.is_some())
            .field("writing", &self.write_op.is_some())
            .finish()
    }
}

impl<S: OwnedStream> PollIo<S> {
    /// Wraps `stream`, with a 16 KiB read buffer.
    pub fn new(stream: S) -> PollIo<S> {
        PollIo::with_capacity(READ_CAPACITY, stream)
    }

    /// Wraps `stream`, receiving up to `capacity` bytes at a time (at least 1).
    pub fn with_capacity(capacity: usize, stream: S) -> PollIo<S> {
        PollIo {
            stream,
            capacity: capacity.max(1),
            read_buf: None,
            read_pos: 0,
            read_op: None,
            write_buf: None,
            write_op: None,
            write_error: None,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream back. Bytes received and not read yet are dropped, and so is a send
    /// in flight (cancelled: flush first to be sure it went).
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Received bytes not handed out yet, receiving when there are none; an empty
    /// slice at the end of the stream. Take them with [`consume`](Self::consume).
    pub fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let buffered = self
            .read_buf
            .as_ref()
            .is_some_and(|b| self.read_pos < b.len());
        if !buffered {
            let op = match &mut self.read_op {
                Some(op) => op,
                None => {
                    let mut buf = self
                        .read_buf
                        .take()
                        .unwrap_or_else(|| Vec::with_capacity(self.capacity));
                    buf.clear();
                    self.read_op.insert(self.stream.read_owned(buf))
                }
            };
            let (res, buf) = ready!(Pin::new(op).poll(cx));
            self.read_op = None;
            self.read_buf = Some(buf);
            self.read_pos = 0;
            res?;
        }
        let buf = self.read_buf.as_deref().unwrap_or_default();
        Poll::Ready(Ok(&buf[self.read_pos..]))
    }

    /// Marks `n` bytes of [`poll_fill_buf`](Self::poll_fill_buf)'s as read.
    pub fn consume(&mut self, n: usize) {
        let len = self.read_buf.as_ref().map_or(0, Vec::len);
        self.read_pos = (self.read_pos + n).min(len);
    }

    /// Reads into `dst` as `AsyncRead::poll_read` does: `Ok(0)` at the end of the
    /// stream (or for an empty `dst`).
    pub fn poll_read_slice(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut n = 0;
        ready!(self.poll_read_into(cx, dst.len(), |src| {
            n = src.len();
            dst[..n].copy_from_slice(src);
        }))?;
        Poll::Ready(Ok(n))
    }

    /// The body of every `poll_read`: hands up to `room` received bytes to `put`
    /// (receiving first when none are buffered) and marks them read; nothing, and
    /// ready at once, for no room. At the end of the stream `put` gets no bytes.
    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<()>> {
        if room == 0 {
            return Poll::Ready(Ok(()));
        }
        let src = ready!(self.poll_fill_buf(cx))?;
        let n = src.len().min(room);
        put(&src[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }

    /// Waits for the send in flight, sending again what a short send left.
    fn poll_write_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(op) = &mut self.write_op {
            let (res, slice) = ready!(Pin::new(op).poll(cx));
            self.write_op = None;
            let begin = slice.begin();
            let buf = slice.into_inner();
            match res {
                Ok(0) if begin < buf.len() => {
                    self.write_buf = Some(buf);
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) if begin + n < buf.len() => {
                    let rest = buf.slice(begin + n..);
                    self.write_op = Some(self.stream.write_owned(rest));
                }
                Ok(_) => self.write_buf = Some(buf),
                Err(e) => {
                    self.write_buf = Some(buf);
                    return Poll::Ready(Err(e));
                }
            }
        }
        match self.write_error.take() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Writes `src` as `AsyncWrite::poll_write` does: once the previous send has
    /// finished, copies all of `src` and starts sending it (see the module docs).
    pub fn poll_write_slice(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_write_done(cx))?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut buf = self.write_buf.take().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(src);
        let mut op = self.stream.write_owned(buf.slice(..));
        // Started now, so the send goes with this turn's submission.
        match Pin::new(&mut op).poll(cx) {
            Poll::Pending => self.write_op = Some(op),
            Poll::Ready((res, slice)) => {
                let buf = slice.into_inner();
                match res {
                    Ok(n) if n < buf.len() => {
                        self.write_op = Some(self.stream.write_owned(buf.slice(n..)));
                    }
                    Ok(_) => self.write_buf = Some(buf),
                    Err(e) => {
                        self.write_buf = Some(buf);
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
        Poll::Ready(Ok(src.len()))
    }

    /// Waits until everything written has been sent.
    pub fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_done(cx)
    }

    /// Flushes, then shuts the writing half down (`shutdown(2)`, `SHUT_WR`).
    pub fn poll_shutdown_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_done(cx))?;
        match rustix::net::shutdown(self.stream.as_fd(), rustix::net::Shutdown::Write) {
            Ok(()) | Err(rustix::io::Errno::NOTCONN) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

impl<S: OwnedStream> AsFd for PollIo<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl<S: OwnedStream> AsRawFd for PollIo<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_fd().as_raw_fd()
    }
}

/// Implements a poll-based write trait over [`PollIo`]'s own poll methods:
/// tokio's `AsyncWrite`, futures-io's and hyper's `Write` differ only in their path
/// and the name of the shutdown (`$shutdown`).
#[cfg(any(feature = "tokio", feature = "futures-io", feature = "hyper"))]
macro_rules! poll_write_impl {
    ($(#[$attr:meta])* $trait:path, $shutdown:ident) => {
        $(#[$attr])*
        impl<S: OwnedStream> $trait for PollIo<S> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                src: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().poll_write_slice(cx, src)
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_flush_io(cx)
            }
            fn $shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_shutdown_io(cx)
            }
        }
    };
}
#[cfg(feature = "hyper")]
pub(crate) use poll_write_impl;

#[cfg(feature = "tokio")]
mod tokio_io {
    use super::*;
    use tokio::io::ReadBuf;

    /// Copies once each way; see the [module docs](super).
    impl<S: OwnedStream> tokio::io::AsyncRead for PollIo<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            dst: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let room = dst.remaining();
            self.get_mut()
                .poll_read_into(cx, room, |src| dst.put_slice(src))
        }
    }

    poll_write_impl! {
        /// Copies once each way; see the [module docs](super).
        tokio::io::AsyncWrite, poll_shutdown
    }
}

#[cfg(feature = "futures-io")]
mod futures_impl {
    use super::*;

    /// Copies once each way; see the [module docs](super).
    impl<S: OwnedStream> futures_io::AsyncRead for PollIo<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            dst: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().poll_read_slice(cx, dst)
        }
    }

    /// Copies out of the read buffer only what the caller takes.
    impl<S: OwnedStream> futures_io::AsyncBufRead for PollIo<S> {
        fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
            self.get_mut().poll_fill_buf(cx)
        }
        fn consume(self: Pin<&mut Self>, amt: usize) {
            PollIo::consume(self.get_mut(), amt)
        }
    }

    poll_write_impl! {
        /// Copies once; see the [module docs](super).
        futures_io::AsyncWrite, poll_close
    }
}
