//! Differential tests of the engine's networking and readiness: the same body runs
//! through the `uring` crate on the kernel and on the engine, and what they complete
//! (results and flags, with fds and timing-dependent values normalised) must agree.
//!
//! Where the kernel refuses io_uring (or lacks an opcode), the body still runs on the
//! engine alone and the kernel half is reported as skipped (a failure under
//! `URING_REQUIRE_KERNEL=1`).
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::types::CqeFlags;
use uring::{Backend, Cqe, Ring, Sqe, SqeFlags, opcode, sys};

const LIMIT: Duration = Duration::from_secs(10);

fn skip(test: &str, why: &str) {
    if std::env::var("URING_REQUIRE_KERNEL").is_ok_and(|v| v == "1") {
        panic!("{test}: would skip, but URING_REQUIRE_KERNEL=1: {why}");
    }
    eprintln!("SKIP {test}: {why}");
}

fn ring(b: Backend, entries: u32) -> Option<Ring> {
    Ring::builder().backend_exact(b).build(entries).ok()
}

/// Whether `ring` offers every opcode of `ops`.
fn offers(ring: &Ring, ops: &[u8]) -> bool {
    let p = ring.submitter().probe().expect("probe");
    ops.iter().all(|&op| p.is_supported(op))
}

/// Runs `body` on the kernel (when it offers `ops`) and on the engine, and asserts
/// they produce the same value.
fn both<T: PartialEq + std::fmt::Debug>(
    test: &str,
    ops: &[u8],
    entries: u32,
    mut body: impl FnMut(&mut Ring) -> T,
) {
    let mut engine = ring(Backend::Engine, entries).expect("engine ring");
    assert!(
        offers(&engine, ops),
        "{test}: the engine lacks one of {ops:?}"
    );
    let on_engine = body(&mut engine);
    drop(engine);
    match ring(Backend::Kernel, entries) {
        Some(mut k) if offers(&k, ops) => {
            let on_kernel = body(&mut k);
            assert_eq!(
                on_engine, on_kernel,
                "{test}: engine (left) and kernel (right)"
            );
        }
        Some(_) => skip(test, "the kernel lacks an opcode"),
        None => skip(test, "io_uring refused by the kernel"),
    }
}

fn push(ring: &mut Ring, sqes: &[Sqe]) {
    // SAFETY: every caller keeps what its SQEs point to alive until they complete or
    // the ring is dropped.
    unsafe { ring.submission().push_multiple(sqes) }.expect("SQ has room");
    ring.submit().expect("submit");
}

/// Reaps `n` CQEs (panics after `LIMIT`).
fn reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(ring.completion());
        if out.len() >= n {
            break;
        }
        let left = LIMIT
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("timed out with {out:?}"));
        let _ = ring.submitter().wait_timeout(1, left);
    }
    out
}

/// Whatever completes within `ms`.
fn drain(ring: &mut Ring, ms: u64) -> Vec<Cqe> {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    loop {
        out.extend(ring.completion());
        let now = Instant::now();
        if now >= until {
            return out;
        }
        let _ = ring.submitter().wait_timeout(1, until - now);
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(LIMIT)).unwrap();
    }
    (a, b)
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors, ours.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// An SQE built field by field.
fn raw(op: u8, fd: RawFd, f: impl FnOnce(&mut sys::io_uring_sqe)) -> Sqe {
    let mut s = sys::io_uring_sqe::zeroed();
    s.opcode = op;
    s.fd = fd;
    f(&mut s);
    Sqe::from_raw(s)
}

/// (result, flags) of every CQE one SQE makes (one, or two for a zero-copy send).
fn outcome(ring: &mut Ring, sqe: Sqe) -> Vec<(i32, u32)> {
    push(ring, &[sqe]);
    let mut c = reap(ring, 1);
    c.extend(drain(ring, 20));
    c.iter().map(|c| (c.result(), c.flags())).collect()
}

#[test]
fn prep_and_issue_errors_match_the_kernel() {
    let ops = [
        sys::IORING_OP_SOCKET,
        sys::IORING_OP_BIND,
        sys::IORING_OP_LISTEN,
        sys::IORING_OP_CONNECT,
        sys::IORING_OP_ACCEPT,
        sys::IORING_OP_SEND,
        sys::IORING_OP_SENDMSG,
        sys::IORING_OP_RECV,
        sys::IORING_OP_RECVMSG,
        sys::IORING_OP_SEND_ZC,
        sys::IORING_OP_SENDMSG_ZC,
        sys::IORING_OP_SHUTDOWN,
        sys::IORING_OP_POLL_ADD,
        sys::IORING_OP_POLL_REMOVE,
        sys::IORING_OP_EPOLL_CTL,
        sys::IORING_OP_EPOLL_WAIT,
        sys::IORING_OP_SPLICE,
        sys::IORING_OP_TEE,
        sys::IORING_OP_READ_MULTISHOT,
    ];
    let (a, _b) = tcp_pair();
    let (ua, _ub) = UnixStream::pair().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let file = tempfile::tempfile().unwrap();
    let (pr, _pw) = pipe();
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let closed = uring::types::SockAddr::from(closed_port);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // SAFETY: plain syscall; the fd is wrapped at once.
    let ep = unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
    let (s, u, l, f, p, e) = (
        a.as_raw_fd(),
        ua.as_raw_fd(),
        listener.as_raw_fd(),
        file.as_raw_fd(),
        pr.as_raw_fd(),
        ep.as_raw_fd(),
    );
    let data = [7u8; 16];
    let d = data.as_ptr() as u64;
    use sys::*;
    let cases: Vec<(&str, Sqe)> = vec![
        // SOCKET
        (
            "socket addr",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
                q.addr_or_splice_off_in.addr = 1;
            }),
        ),
        (
            "socket rw_flags",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
                q.op_flags.rw_flags = 1;
            }),
        ),
        (
            "socket buf_index",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
                q.buf.buf_index = 1;
            }),
        ),
        (
            "socket ioprio",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
                q.ioprio = 1;
            }),
        ),
        (
            "socket type flag",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = (libc::SOCK_STREAM | 0x100) as u64;
            }),
        ),
        (
            "socket cloexec direct",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64;
                q.splice_fd_in_or_file_index.file_index = 1;
            }),
        ),
        (
            "socket direct without table",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
                q.splice_fd_in_or_file_index.file_index = 1;
            }),
        ),
        (
            "socket alloc without table",
            raw(IORING_OP_SOCKET, libc::AF_INET, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
                q.splice_fd_in_or_file_index.file_index = IORING_FILE_INDEX_ALLOC;
            }),
        ),
        (
            "socket family",
            raw(IORING_OP_SOCKET, 4000, |q| {
                q.off_or_addr2.off = libc::SOCK_STREAM as u64;
            }),
        ),
        // BIND, LISTEN, CONNECT
        ("bind len", raw(IORING_OP_BIND, s, |q| q.len = 1)),
        (
            "bind addrlen",
            raw(IORING_OP_BIND, s, |q| {
                q.addr_or_splice_off_in.addr = d;
                q.off_or_addr2.addr2 = 1000;
            }),
        ),
        (
            "bind not a socket",
            raw(IORING_OP_BIND, f, |q| {
                q.addr_or_splice_off_in.addr = closed.as_ptr() as u64;
                q.off_or_addr2.addr2 = closed.len() as u64;
            }),
        ),
        (
            "listen addr",
            raw(IORING_OP_LISTEN, l, |q| q.addr_or_splice_off_in.addr = 1),
        ),
        (
            "listen addr2",
            raw(IORING_OP_LISTEN, l, |q| q.off_or_addr2.addr2 = 1),
        ),
        (
            "listen udp",
            raw(IORING_OP_LISTEN, udp.as_raw_fd(), |q| q.len = 1),
        ),
        ("connect len", raw(IORING_OP_CONNECT, s, |q| q.len = 1)),
        (
            "connect ioprio",
            raw(IORING_OP_CONNECT, s, |q| q.ioprio = 1),
        ),
        ("connect refused", {
            // SAFETY: plain syscall; the socket lives as long as the test process.
            let c = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            raw(IORING_OP_CONNECT, c, |q| {
                q.addr_or_splice_off_in.addr = closed.as_ptr() as u64;
                q.off_or_addr2.addr2 = closed.len() as u64;
            })
        }),
        // ACCEPT
        ("accept len", raw(IORING_OP_ACCEPT, l, |q| q.len = 1)),
        (
            "accept ioprio",
            raw(IORING_OP_ACCEPT, l, |q| q.ioprio = 0x80),
        ),
        (
            "accept flags",
            raw(IORING_OP_ACCEPT, l, |q| q.op_flags.accept_flags = 1),
        ),
        (
            "accept multishot slot",
            raw(IORING_OP_ACCEPT, l, |q| {
                q.ioprio = IORING_ACCEPT_MULTISHOT;
                q.splice_fd_in_or_file_index.file_index = 3;
            }),
        ),
        (
            "accept cloexec slot",
            raw(IORING_OP_ACCEPT, l, |q| {
                q.op_flags.accept_flags = libc::SOCK_CLOEXEC as u32;
                q.splice_fd_in_or_file_index.file_index = 3;
            }),
        ),
        (
            "accept dontwait",
            raw(IORING_OP_ACCEPT, l, |q| q.ioprio = IORING_ACCEPT_DONTWAIT),
        ),
        ("accept not a socket", raw(IORING_OP_ACCEPT, f, |_| {})),
        // SEND, SENDMSG, SEND_ZC
        ("send ioprio", raw(IORING_OP_SEND, s, |q| q.ioprio = 0x80)),
        (
            "send pad3",
            raw(IORING_OP_SEND, s, |q| {
                q.splice_fd_in_or_file_index.addr_len = addr_len_struct {
                    addr_len: 0,
                    __pad3: [1],
                };
            }),
        ),
        (
            "send addr_len",
            raw(IORING_OP_SEND, s, |q| {
                q.off_or_addr2.addr2 = d;
                q.splice_fd_in_or_file_index.addr_len = addr_len_struct {
                    addr_len: 200,
                    __pad3: [0],
                };
            }),
        ),
        (
            "send not a socket",
            raw(IORING_OP_SEND, f, |q| {
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
            }),
        ),
        (
            "send vectorized too many",
            raw(IORING_OP_SEND, s, |q| {
                q.ioprio = IORING_SEND_VECTORIZED;
                q.addr_or_splice_off_in.addr = d;
                q.len = 2000;
            }),
        ),
        (
            "sendmsg addr2",
            raw(IORING_OP_SENDMSG, s, |q| q.off_or_addr2.addr2 = 1),
        ),
        (
            "sendmsg file_index",
            raw(IORING_OP_SENDMSG, s, |q| {
                q.splice_fd_in_or_file_index.file_index = 1;
            }),
        ),
        ("sendmsg null msghdr", raw(IORING_OP_SENDMSG, s, |_| {})),
        (
            "send_zc skip success",
            raw(IORING_OP_SEND_ZC, s, |q| {
                q.flags = IOSQE_CQE_SKIP_SUCCESS;
            }),
        ),
        (
            "send_zc addr3",
            raw(IORING_OP_SEND_ZC, s, |q| {
                q.addr3_or_cmd.addr3 = addr3_struct {
                    addr3: 1,
                    __pad2: [0],
                };
            }),
        ),
        (
            "send_zc ioprio",
            raw(IORING_OP_SEND_ZC, s, |q| q.ioprio = 0x80),
        ),
        (
            "send_zc unix",
            raw(IORING_OP_SEND_ZC, u, |q| {
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
            }),
        ),
        (
            "send_zc unix report",
            raw(IORING_OP_SEND_ZC, u, |q| {
                q.ioprio = IORING_SEND_ZC_REPORT_USAGE;
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
            }),
        ),
        (
            "send_zc fixed, no buffers",
            raw(IORING_OP_SEND_ZC, s, |q| {
                q.ioprio = IORING_RECVSEND_FIXED_BUF;
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
            }),
        ),
        (
            "send_zc udp",
            raw(IORING_OP_SEND_ZC, udp.as_raw_fd(), |q| {
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
                q.off_or_addr2.addr2 = closed.as_ptr() as u64;
                q.splice_fd_in_or_file_index.addr_len = addr_len_struct {
                    addr_len: closed.len() as u16,
                    __pad3: [0],
                };
            }),
        ),
        (
            "sendmsg_zc addr2",
            raw(IORING_OP_SENDMSG_ZC, s, |q| q.off_or_addr2.addr2 = 1),
        ),
        // RECV, RECVMSG
        (
            "recv addr2",
            raw(IORING_OP_RECV, s, |q| q.off_or_addr2.addr2 = 1),
        ),
        ("recv ioprio", raw(IORING_OP_RECV, s, |q| q.ioprio = 0x80)),
        (
            "recv multishot without buffers",
            raw(IORING_OP_RECV, s, |q| {
                q.ioprio = IORING_RECV_MULTISHOT;
            }),
        ),
        (
            "recv optlen",
            raw(IORING_OP_RECV, s, |q| {
                q.splice_fd_in_or_file_index.optlen = 5;
            }),
        ),
        (
            "recv multishot waitall",
            raw(IORING_OP_RECV, s, |q| {
                q.ioprio = IORING_RECV_MULTISHOT;
                q.flags = IOSQE_BUFFER_SELECT;
                q.op_flags.msg_flags = libc::MSG_WAITALL as u32;
            }),
        ),
        (
            "recv no buffers",
            raw(IORING_OP_RECV, s, |q| {
                q.flags = IOSQE_BUFFER_SELECT;
                q.buf.buf_group = 77;
            }),
        ),
        (
            "recv dontwait",
            raw(IORING_OP_RECV, s, |q| {
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
                q.op_flags.msg_flags = libc::MSG_DONTWAIT as u32;
            }),
        ),
        (
            "recv not a socket",
            raw(IORING_OP_RECV, p, |q| {
                q.addr_or_splice_off_in.addr = d;
                q.len = 4;
            }),
        ),
        (
            "recvmsg multishot optlen",
            raw(IORING_OP_RECVMSG, s, |q| {
                q.ioprio = IORING_RECV_MULTISHOT;
                q.flags = IOSQE_BUFFER_SELECT;
                q.splice_fd_in_or_file_index.optlen = 5;
            }),
        ),
        ("recvmsg null msghdr", raw(IORING_OP_RECVMSG, s, |_| {})),
        // SHUTDOWN
        (
            "shutdown off",
            raw(IORING_OP_SHUTDOWN, s, |q| q.off_or_addr2.off = 1),
        ),
        (
            "shutdown ioprio",
            raw(IORING_OP_SHUTDOWN, s, |q| q.ioprio = 1),
        ),
        (
            "shutdown not connected",
            raw(IORING_OP_SHUTDOWN, l, |q| q.len = 5),
        ),
        ("shutdown not a socket", raw(IORING_OP_SHUTDOWN, f, |_| {})),
        // POLL_ADD, POLL_REMOVE
        ("poll_add len", raw(IORING_OP_POLL_ADD, p, |q| q.len = 2)),
        (
            "poll_add level",
            raw(IORING_OP_POLL_ADD, p, |q| q.len = IORING_POLL_ADD_LEVEL),
        ),
        (
            "poll_add addr",
            raw(IORING_OP_POLL_ADD, p, |q| q.addr_or_splice_off_in.addr = 1),
        ),
        (
            "poll_add ioprio",
            raw(IORING_OP_POLL_ADD, p, |q| q.ioprio = 1),
        ),
        (
            "poll_add multishot skip",
            raw(IORING_OP_POLL_ADD, p, |q| {
                q.len = IORING_POLL_ADD_MULTI;
                q.flags = IOSQE_CQE_SKIP_SUCCESS;
            }),
        ),
        (
            "poll_add file",
            raw(IORING_OP_POLL_ADD, f, |q| {
                q.op_flags.poll32_events = (libc::POLLIN | libc::POLLOUT) as u32;
            }),
        ),
        (
            "poll_add bad fd",
            raw(IORING_OP_POLL_ADD, 9999, |q| {
                q.op_flags.poll32_events = libc::POLLIN as u32;
            }),
        ),
        (
            "poll_add ready, 32 bits",
            raw(IORING_OP_POLL_ADD, s, |q| {
                q.op_flags.poll32_events = libc::POLLOUT as u32 | libc::EPOLLEXCLUSIVE as u32;
            }),
        ),
        (
            "poll_remove multi only",
            raw(IORING_OP_POLL_REMOVE, -1, |q| {
                q.len = IORING_POLL_ADD_MULTI;
            }),
        ),
        (
            "poll_remove new ud",
            raw(IORING_OP_POLL_REMOVE, -1, |q| q.off_or_addr2.off = 5),
        ),
        (
            "poll_remove events",
            raw(IORING_OP_POLL_REMOVE, -1, |q| {
                q.op_flags.poll32_events = 1;
            }),
        ),
        (
            "poll_remove missing",
            raw(IORING_OP_POLL_REMOVE, -1, |q| {
                q.addr_or_splice_off_in.addr = 12345;
            }),
        ),
        (
            "poll_remove update missing",
            raw(IORING_OP_POLL_REMOVE, -1, |q| {
                q.addr_or_splice_off_in.addr = 12345;
                q.len = IORING_POLL_UPDATE_EVENTS;
                q.op_flags.poll32_events = 1;
            }),
        ),
        // EPOLL_CTL, EPOLL_WAIT
        (
            "epoll_ctl buf_index",
            raw(IORING_OP_EPOLL_CTL, e, |q| q.buf.buf_index = 1),
        ),
        (
            "epoll_ctl null event",
            raw(IORING_OP_EPOLL_CTL, e, |q| {
                q.len = libc::EPOLL_CTL_ADD as u32;
                q.off_or_addr2.off = p as u64;
            }),
        ),
        (
            "epoll_ctl del missing",
            raw(IORING_OP_EPOLL_CTL, e, |q| {
                q.len = libc::EPOLL_CTL_DEL as u32;
                q.off_or_addr2.off = p as u64;
            }),
        ),
        (
            "epoll_wait off",
            raw(IORING_OP_EPOLL_WAIT, e, |q| q.off_or_addr2.off = 1),
        ),
        (
            "epoll_wait flags",
            raw(IORING_OP_EPOLL_WAIT, e, |q| q.op_flags.rw_flags = 1),
        ),
        (
            "epoll_wait maxevents",
            raw(IORING_OP_EPOLL_WAIT, e, |q| {
                q.addr_or_splice_off_in.addr = d;
            }),
        ),
        (
            "epoll_wait not epoll",
            raw(IORING_OP_EPOLL_WAIT, f, |q| {
                q.addr_or_splice_off_in.addr = d;
                q.len = 1;
            }),
        ),
        // SPLICE, TEE, READ_MULTISHOT
        (
            "splice flags",
            raw(IORING_OP_SPLICE, f, |q| q.op_flags.splice_flags = 0x100),
        ),
        ("splice ioprio", raw(IORING_OP_SPLICE, f, |q| q.ioprio = 1)),
        (
            "splice bad in",
            raw(IORING_OP_SPLICE, f, |q| {
                q.splice_fd_in_or_file_index.splice_fd_in = 9999;
                q.len = 4;
                q.addr_or_splice_off_in.splice_off_in = u64::MAX;
            }),
        ),
        (
            "splice fixed in, no table",
            raw(IORING_OP_SPLICE, f, |q| {
                q.op_flags.splice_flags = SPLICE_F_FD_IN_FIXED;
                q.len = 4;
            }),
        ),
        ("tee off", raw(IORING_OP_TEE, f, |q| q.off_or_addr2.off = 1)),
        (
            "tee splice_off_in",
            raw(IORING_OP_TEE, f, |q| {
                q.addr_or_splice_off_in.splice_off_in = 1;
            }),
        ),
        (
            "read_multishot without select",
            raw(IORING_OP_READ_MULTISHOT, p, |_| {}),
        ),
        (
            "read_multishot len",
            raw(IORING_OP_READ_MULTISHOT, p, |q| {
                q.flags = IOSQE_BUFFER_SELECT;
                q.len = 5;
            }),
        ),
        (
            "read_multishot file",
            raw(IORING_OP_READ_MULTISHOT, f, |q| {
                q.flags = IOSQE_BUFFER_SELECT;
            }),
        ),
    ];
    both("prep_and_issue_errors_match_the_kernel", &ops, 32, |ring| {
        cases
            .iter()
            .map(|(name, sqe)| (*name, outcome(ring, *sqe)))
            .collect::<Vec<_>>()
    });
}

/// Many connections echoing concurrently through one ring: ACCEPT, then per
/// connection RECV and SEND rounds, all in flight together.
#[test]
fn tcp_echo_with_many_concurrent_connections() {
    const CONNS: usize = 8;
    const ROUNDS: usize = 4;
    let ops = [
        sys::IORING_OP_ACCEPT,
        sys::IORING_OP_RECV,
        sys::IORING_OP_SEND,
    ];
    both(
        "tcp_echo_with_many_concurrent_connections",
        &ops,
        64,
        |ring| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let accepts: Vec<Sqe> = (0..CONNS)
                .map(|i| opcode::Accept::new(&listener).build().user_data(i as u64))
                .collect();
            push(ring, &accepts);
            let clients: Vec<_> = (0..CONNS)
                .map(|i| {
                    std::thread::spawn(move || {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.set_read_timeout(Some(LIMIT)).unwrap();
                        for r in 0..ROUNDS {
                            let msg = format!("client {i} round {r}");
                            c.write_all(msg.as_bytes()).unwrap();
                            let mut back = vec![0u8; msg.len()];
                            c.read_exact(&mut back).unwrap();
                            assert_eq!(back, msg.as_bytes());
                        }
                    })
                })
                .collect();
            let mut conns: Vec<OwnedFd> = Vec::new();
            let mut log = Vec::new();
            for c in reap(ring, CONNS) {
                assert!(c.result() >= 0, "{c:?}");
                // SAFETY: a fresh descriptor, ours.
                conns.push(unsafe { OwnedFd::from_raw_fd(c.result()) });
                // (SOCK_NONEMPTY depends on how the connections raced in.)
                log.push((c.user_data(), 0, 0));
            }
            let mut bufs = vec![[0u8; 64]; CONNS];
            let recv = |i: usize, bufs: &mut Vec<[u8; 64]>, conns: &Vec<OwnedFd>| {
                opcode::Recv::new(&conns[i], bufs[i].as_mut_ptr(), 64)
                    .build()
                    .user_data(100 + i as u64)
            };
            let all: Vec<Sqe> = (0..CONNS).map(|i| recv(i, &mut bufs, &conns)).collect();
            push(ring, &all);
            let mut rounds = [0usize; CONNS];
            let mut left = CONNS * ROUNDS * 2;
            while left > 0 {
                for c in reap(ring, 1) {
                    left -= 1;
                    let ud = c.user_data();
                    log.push((ud, c.result(), c.flags()));
                    let i = (ud % 100) as usize;
                    if ud < 200 {
                        // Echo what came in.
                        let n = c.result();
                        assert!(n > 0, "{c:?}");
                        let s = opcode::Send::new(&conns[i], bufs[i].as_ptr(), n as u32)
                            .build()
                            .user_data(200 + i as u64);
                        push(ring, &[s]);
                    } else {
                        rounds[i] += 1;
                        if rounds[i] < ROUNDS {
                            let r = recv(i, &mut bufs, &conns);
                            push(ring, &[r]);
                        }
                    }
                }
            }
            for c in clients {
                c.join().unwrap();
            }
            log.sort();
            log
        },
    );
}

/// Multishot accept of several clients, ended by shutting the listener down (the
/// final CQE has no `F_MORE`).
#[test]
fn accept_multishot_of_many_clients() {
    const N: usize = 5;
    both(
        "accept_multishot_of_many_clients",
        &[sys::IORING_OP_ACCEPT],
        16,
        |ring| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let a = opcode::Accept::new(&listener)
                .multishot(true)
                .build()
                .user_data(1);
            push(ring, &[a]);
            let mut clients = Vec::new();
            let mut out = Vec::new();
            for _ in 0..N {
                clients.push(TcpStream::connect(addr).unwrap());
                let c = reap(ring, 1)[0];
                assert!(c.result() >= 0, "{c:?}");
                // SAFETY: a fresh descriptor, ours.
                drop(unsafe { OwnedFd::from_raw_fd(c.result()) });
                out.push((c.user_data(), 0, c.has_more()));
            }
            // SAFETY: shutdown(2) of our listener.
            unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
            let c = reap(ring, 1)[0];
            out.push((c.user_data(), c.result(), c.has_more()));
            out
        },
    );
}

/// A multishot poll on a pipe: a CQE per write while armed, then removal.
#[test]
fn poll_multishot_on_a_pipe_then_remove() {
    let ops = [sys::IORING_OP_POLL_ADD, sys::IORING_OP_POLL_REMOVE];
    both("poll_multishot_on_a_pipe_then_remove", &ops, 16, |ring| {
        let (r, w) = pipe();
        let mut w = std::fs::File::from(w);
        let p = opcode::PollAdd::new(r.as_raw_fd(), libc::POLLIN as u32)
            .multishot(true)
            .build()
            .user_data(1);
        push(ring, &[p]);
        let mut out = Vec::new();
        out.push(drain(ring, 30).len());
        for _ in 0..3 {
            w.write_all(b"x").unwrap();
            let c = reap(ring, 1)[0];
            out.push(c.user_data() as usize);
            out.push(c.result() as usize);
            out.push(c.has_more() as usize);
        }
        // One shot, ready at once (the write end is writable).
        let o = opcode::PollAdd::new(w.as_raw_fd(), libc::POLLOUT as u32)
            .build()
            .user_data(2);
        push(ring, &[o]);
        let c = reap(ring, 1)[0];
        out.extend([
            c.user_data() as usize,
            c.result() as usize,
            c.has_more() as usize,
        ]);
        // The reader closes: POLLHUP on the write end for a one-shot POLLOUT|POLLERR.
        let rm = opcode::PollRemove::new(1).build().user_data(3);
        push(ring, &[rm]);
        let mut cs = reap(ring, 2);
        cs.sort_by_key(Cqe::user_data);
        for c in cs {
            out.extend([
                c.user_data() as usize,
                c.result() as u32 as usize,
                c.has_more() as usize,
            ]);
        }
        w.write_all(b"y").unwrap();
        out.push(drain(ring, 30).len());
        out
    });
}

/// A `MSG_WAITALL` receive that comes up short (the peer stops) fails its link; one
/// that gets everything over several segments does not.
#[test]
fn recv_waitall_short_fails_the_link() {
    let ops = [sys::IORING_OP_RECV, sys::IORING_OP_NOP];
    both("recv_waitall_short_fails_the_link", &ops, 16, |ring| {
        let (mut a, b) = tcp_pair();
        let mut buf = vec![0u8; 100];
        let r = opcode::Recv::new(&b, buf.as_mut_ptr(), 100)
            .flags(libc::MSG_WAITALL)
            .build()
            .user_data(1)
            .flags(SqeFlags::IO_LINK);
        let n = opcode::Nop::new().build().user_data(2);
        push(ring, &[r, n]);
        a.write_all(&[1; 30]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        a.write_all(&[2; 30]).unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut cs = reap(ring, 2);
        cs.sort_by_key(Cqe::user_data);
        let mut out: Vec<(u64, i32)> = cs.iter().map(|c| (c.user_data(), c.result())).collect();
        // All of it, in pieces: the link holds.
        let (mut a, b) = tcp_pair();
        let r = opcode::Recv::new(&b, buf.as_mut_ptr(), 100)
            .flags(libc::MSG_WAITALL)
            .build()
            .user_data(3)
            .flags(SqeFlags::IO_LINK);
        let n = opcode::Nop::new().build().user_data(4);
        push(ring, &[r, n]);
        for _ in 0..4 {
            a.write_all(&[3; 25]).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut cs = reap(ring, 2);
        cs.sort_by_key(Cqe::user_data);
        out.extend(cs.iter().map(|c| (c.user_data(), c.result())));
        out
    });
}

/// `POLL_FIRST` on accept and receive, connect through the ring, and a zero-copy
/// send's two CQEs.
#[test]
fn poll_first_connect_and_send_zc() {
    let ops = [
        sys::IORING_OP_ACCEPT,
        sys::IORING_OP_CONNECT,
        sys::IORING_OP_SOCKET,
        sys::IORING_OP_RECV,
        sys::IORING_OP_SEND_ZC,
    ];
    both("poll_first_connect_and_send_zc", &ops, 16, |ring| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = uring::types::SockAddr::from(listener.local_addr().unwrap());
        let s = opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
            .build()
            .user_data(1);
        push(ring, &[s]);
        let fd = reap(ring, 1)[0].result();
        assert!(fd >= 0);
        // SAFETY: a fresh descriptor, ours.
        let client = unsafe { OwnedFd::from_raw_fd(fd) };
        let a = opcode::Accept::new(&listener)
            .poll_first(true)
            .build()
            .user_data(2);
        let c = opcode::Connect::new(client.as_raw_fd(), to.as_ptr(), to.len())
            .build()
            .user_data(3);
        push(ring, &[a, c]);
        let mut cs = reap(ring, 2);
        cs.sort_by_key(Cqe::user_data);
        assert!(cs[0].result() >= 0);
        // SAFETY: a fresh descriptor, ours.
        let server = unsafe { OwnedFd::from_raw_fd(cs[0].result()) };
        let mut out = vec![(2, 0, 0), (3, cs[1].result(), cs[1].flags())];
        let mut buf = [0u8; 32];
        let r = opcode::Recv::new(&server, buf.as_mut_ptr(), 32)
            .poll_first(true)
            .build()
            .user_data(4);
        push(ring, &[r]);
        out.push((0, drain(ring, 30).len() as i32, 0));
        let msg = b"zero copy, or so it says";
        let z = opcode::SendZc::new(client.as_raw_fd(), msg.as_ptr(), msg.len() as u32)
            .report_usage(true)
            .build()
            .user_data(5);
        push(ring, &[z]);
        let cs = reap(ring, 3);
        let mut cs: Vec<(u64, i32, u32)> = cs
            .iter()
            .map(|c| (c.user_data(), c.result(), c.flags()))
            .collect();
        // The receive and the send race; the notification follows its send.
        let notif = cs
            .iter()
            .position(|c| c.2 & sys::IORING_CQE_F_NOTIF != 0)
            .unwrap();
        let send = cs
            .iter()
            .position(|c| c.0 == 5 && c.2 & sys::IORING_CQE_F_NOTIF == 0);
        assert!(send.unwrap() < notif, "{cs:?}");
        cs.sort();
        out.extend(cs);
        assert_eq!(&buf[..msg.len()], msg);
        out
    });
}

/// A receive parked for readiness is found and cancelled by `ASYNC_CANCEL`.
#[test]
fn cancel_of_a_parked_recv() {
    let ops = [
        sys::IORING_OP_RECV,
        sys::IORING_OP_ASYNC_CANCEL,
        sys::IORING_OP_POLL_ADD,
    ];
    let engine = ring(Backend::Engine, 8).expect("engine ring");
    if !offers(&engine, &ops) {
        eprintln!("SKIP cancel_of_a_parked_recv: the engine has no ASYNC_CANCEL yet");
        return;
    }
    drop(engine);
    both("cancel_of_a_parked_recv", &ops, 16, |ring| {
        let (_a, b) = tcp_pair();
        let (r, _w) = pipe();
        let mut buf = [0u8; 16];
        let rv = opcode::Recv::new(&b, buf.as_mut_ptr(), 16)
            .build()
            .user_data(1);
        let p = opcode::PollAdd::new(r.as_raw_fd(), libc::POLLIN as u32)
            .multishot(true)
            .build()
            .user_data(2);
        push(ring, &[rv, p]);
        let mut out = vec![drain(ring, 30).len() as i32];
        for (ud, n) in [(1u64, 2), (2, 2), (1, 1)] {
            let c = opcode::AsyncCancel::new(ud).build().user_data(10 + ud);
            push(ring, &[c]);
            let mut cs = reap(ring, n);
            cs.sort_by_key(Cqe::user_data);
            out.extend(
                cs.iter()
                    .flat_map(|c| [c.user_data() as i32, c.result(), c.flags() as i32]),
            );
        }
        out
    });
}

/// A multishot accept cancelled again and again while connections pour in: the cancel
/// always finds it (it may be in the middle of an attempt) and its last CQE is
/// `-ECANCELED` without `F_MORE`, with nothing after.
#[test]
fn cancel_races_a_busy_multishot_accept() {
    let ops = [sys::IORING_OP_ACCEPT, sys::IORING_OP_ASYNC_CANCEL];
    both("cancel_races_a_busy_multishot_accept", &ops, 256, |ring| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flood = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(c) = TcpStream::connect(addr) {
                        drop(c);
                    }
                }
            })
        };
        let mut out = Vec::new();
        for round in 0..20u64 {
            let ud = 1000 + round;
            let a = opcode::Accept::new(&listener)
                .multishot(true)
                .build()
                .user_data(ud);
            push(ring, &[a]);
            std::thread::sleep(Duration::from_micros(200 * (round % 7)));
            let c = opcode::AsyncCancel::new(ud).build().user_data(1);
            push(ring, &[c]);
            let (mut cancel, mut last) = (None, None);
            while cancel.is_none() || last.is_none() {
                for c in reap(ring, 1) {
                    if c.user_data() == 1 {
                        cancel = Some(c.result());
                    } else if c.has_more() {
                        assert!(c.result() >= 0, "{c:?}");
                        // SAFETY: a fresh descriptor, ours.
                        drop(unsafe { OwnedFd::from_raw_fd(c.result()) });
                    } else {
                        assert_eq!(c.user_data(), ud);
                        last = Some(c.result());
                    }
                }
            }
            assert!(
                drain(ring, 5).iter().all(|c| c.user_data() != ud),
                "nothing after the last"
            );
            out.push((cancel.unwrap(), last.unwrap()));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        flood.join().unwrap();
        out
    });
}
