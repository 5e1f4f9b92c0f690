//! Waiting for loopback TCP to settle, so a run does not depend on the kernel's pace.
//!
//! Loopback TCP is *nearly* synchronous: a segment sent is usually processed by the
//! receiving socket before `send` returns. But the receive side runs in a softirq, and
//! on a busy machine the kernel defers softirqs to `ksoftirqd`: the data, the FIN or
//! the RST then arrives a little later, and a node (or the relay) that looks at its
//! socket in between would see a different world than in another run of the seed.
//! So the simulator waits, in real time and briefly, for what it knows was sent to
//! arrive before it goes on. It counts the bytes each side sent (a node's `SEND`
//! completions, the relay's writes) and waits until the other side's
//! `tcpi_bytes_received` reached that count (acknowledgements would not do: the
//! receiver may delay them for 40 ms); a FIN (a shutdown, a close) until the other
//! side left `ESTABLISHED`; a reset until the node's socket is closed; a `connect`
//! until the relay's listener has the connection.
//! Each wait gives up after [`PATIENCE`] (then the run may differ from another run of
//! its seed; the trace hash would tell).
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The longest wait for one thing to arrive.
pub(crate) const PATIENCE: Duration = Duration::from_secs(1);

/// Polls `done` until it holds or [`PATIENCE`] ran out; yields the CPU between tries
/// (the softirq thread may need it). Returns whether it held.
pub(crate) fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    if done() {
        return true;
    }
    let start = Instant::now();
    let mut tries = 0u32;
    loop {
        if tries < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
        tries += 1;
        if done() {
            return true;
        }
        if start.elapsed() > PATIENCE {
            return false;
        }
    }
}

fn tcp_info(fd: RawFd) -> Option<libc::tcp_info> {
    // SAFETY: `tcp_info` is plain integers; zeroes are a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the buffer and its length are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(info)
}

/// The TCP state of `fd` (`TCP_ESTABLISHED` = 1, `TCP_CLOSE` = 7, …), or `None`.
pub(crate) fn tcp_state(fd: RawFd) -> Option<u8> {
    tcp_info(fd).map(|i| i.tcpi_state)
}

/// Bytes TCP socket `fd` received (processed by its receive path), or `None`.
pub(crate) fn received(fd: RawFd) -> Option<u64> {
    tcp_info(fd).map(|i| i.tcpi_bytes_received)
}

pub(crate) const TCP_ESTABLISHED: u8 = 1;
pub(crate) const TCP_CLOSE: u8 = 7;

/// `(local port, peer port)` of an IPv4 or IPv6 TCP socket, or `None`.
pub(crate) fn ports(fd: RawFd) -> Option<(u16, u16)> {
    fn port(fd: RawFd, peer: bool) -> Option<u16> {
        // SAFETY: sockaddr_storage is plain bytes; zeroes are valid.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let p = (&raw mut ss).cast::<libc::sockaddr>();
        // SAFETY: the buffer and its length are valid for the call.
        let r = unsafe {
            if peer {
                libc::getpeername(fd, p, &mut len)
            } else {
                libc::getsockname(fd, p, &mut len)
            }
        };
        if r != 0 {
            return None;
        }
        match i32::from(ss.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in (family AF_INET).
                let a = unsafe { &*(&raw const ss).cast::<libc::sockaddr_in>() };
                Some(u16::from_be(a.sin_port))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6).
                let a = unsafe { &*(&raw const ss).cast::<libc::sockaddr_in6>() };
                Some(u16::from_be(a.sin6_port))
            }
            _ => None,
        }
    }
    tcp_state(fd)?;
    Some((port(fd, false)?, port(fd, true)?))
}

/// The inode of `fd` (which tells one socket from another that got the same
/// descriptor number later), or `None` if it is closed.
pub(crate) fn inode(fd: RawFd) -> Option<u64> {
    // SAFETY: `stat` is plain integers; zeroes are a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid stat buffer; a bad fd fails with EBADF.
    let r = unsafe { libc::fstat(fd, &mut st) };
    (r == 0).then_some(st.st_ino)
}

/// Whether `fd` has something to accept or read (poll without waiting).
pub(crate) fn readable(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}
