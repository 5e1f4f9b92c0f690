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
use uring::{Cqe, Ring, Sqe, SqeFlags, opcode, sys};
use uring_testkit::diff::both;
use uring_testkit::{pipe, reap, tcp_pair, test_name};

const LIMIT: Duration = Duration::from_secs(10);

fn push(ring: &mut Ring, sqes: &[Sqe]) {
    // SAFETY: every caller keeps what its SQEs point to alive until they complete or
    // the ring is dropped.
    unsafe { ring.submission().push_multiple(sqes) }.expect("SQ has room");
    ring.submit().expect("submit");
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

/// An SQE built field by field.
fn raw(op: u8, fd: RawFd, f: impl FnOnce(&mut sys::io_uring_sqe)) -> Sqe {
    let mut s = sys::io_uring_sqe::zeroed();
    s.opcode = op;
    s.fd = fd;
    f(&mut s);
    Sqe::from_raw(s)
}

/// One case of an error table: `case!("name", OPCODE, fd, field.path = value, …)`, the
/// SQE of that opcode on `fd` with those fields set.
macro_rules! case {
    ($name:literal, $op:expr, $fd:expr $(, $($field:ident).+ = $value:expr)* $(,)?) => {
        ($name, raw($op, $fd, |_q| { $(_q.$($field).+ = $value;)* }))
    };
}

/// (result, flags) of every CQE one SQE makes (one, or two for a zero-copy send).
fn outcome(ring: &mut Ring, sqe: Sqe) -> Vec<(i32, u32)> {
    push(ring, &[sqe]);
    let mut c = reap(ring, 1, LIMIT);
    c.extend(drain(ring, 20));
    c.iter().map(|c| (c.result(), c.flags())).collect()
}

#[test]
fn prep_and_issue_errors_match_the_kernel() {
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
    #[rustfmt::skip]
    let cases: Vec<(&str, Sqe)> = vec![
        // SOCKET
        case!("socket addr", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = libc::SOCK_STREAM as u64, addr_or_splice_off_in.addr = 1),
        case!("socket rw_flags", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = libc::SOCK_STREAM as u64, op_flags.rw_flags = 1),
        case!("socket buf_index", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = libc::SOCK_STREAM as u64, buf.buf_index = 1),
        case!("socket ioprio", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = libc::SOCK_STREAM as u64, ioprio = 1),
        case!("socket type flag", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = (libc::SOCK_STREAM | 0x100) as u64),
        case!("socket cloexec direct", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64, splice_fd_in_or_file_index.file_index = 1),
        case!("socket direct without table", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = libc::SOCK_STREAM as u64, splice_fd_in_or_file_index.file_index = 1),
        case!("socket alloc without table", IORING_OP_SOCKET, libc::AF_INET, off_or_addr2.off = libc::SOCK_STREAM as u64, splice_fd_in_or_file_index.file_index = IORING_FILE_INDEX_ALLOC),
        case!("socket family", IORING_OP_SOCKET, 4000, off_or_addr2.off = libc::SOCK_STREAM as u64),
        // BIND, LISTEN, CONNECT
        case!("bind len", IORING_OP_BIND, s, len = 1),
        case!("bind addrlen", IORING_OP_BIND, s, addr_or_splice_off_in.addr = d, off_or_addr2.addr2 = 1000),
        case!("bind not a socket", IORING_OP_BIND, f, addr_or_splice_off_in.addr = closed.as_ptr() as u64, off_or_addr2.addr2 = closed.len() as u64),
        case!("listen addr", IORING_OP_LISTEN, l, addr_or_splice_off_in.addr = 1),
        case!("listen addr2", IORING_OP_LISTEN, l, off_or_addr2.addr2 = 1),
        case!("listen udp", IORING_OP_LISTEN, udp.as_raw_fd(), len = 1),
        case!("connect len", IORING_OP_CONNECT, s, len = 1),
        case!("connect ioprio", IORING_OP_CONNECT, s, ioprio = 1),
        ("connect refused", {
            // SAFETY: plain syscall; the socket lives as long as the test process.
            let c = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            raw(IORING_OP_CONNECT, c, |q| {
                q.addr_or_splice_off_in.addr = closed.as_ptr() as u64;
                q.off_or_addr2.addr2 = closed.len() as u64;
            })
        }),
        // ACCEPT
        case!("accept len", IORING_OP_ACCEPT, l, len = 1),
        case!("accept ioprio", IORING_OP_ACCEPT, l, ioprio = 0x80),
        case!("accept flags", IORING_OP_ACCEPT, l, op_flags.accept_flags = 1),
        case!("accept multishot slot", IORING_OP_ACCEPT, l, ioprio = IORING_ACCEPT_MULTISHOT, splice_fd_in_or_file_index.file_index = 3),
        case!("accept cloexec slot", IORING_OP_ACCEPT, l, op_flags.accept_flags = libc::SOCK_CLOEXEC as u32, splice_fd_in_or_file_index.file_index = 3),
        case!("accept dontwait", IORING_OP_ACCEPT, l, ioprio = IORING_ACCEPT_DONTWAIT),
        case!("accept not a socket", IORING_OP_ACCEPT, f),
        // SEND, SENDMSG, SEND_ZC
        case!("send ioprio", IORING_OP_SEND, s, ioprio = 0x80),
        case!("send pad3", IORING_OP_SEND, s, splice_fd_in_or_file_index.addr_len = addr_len_struct { addr_len: 0, __pad3: [1], }),
        case!("send addr_len", IORING_OP_SEND, s, off_or_addr2.addr2 = d, splice_fd_in_or_file_index.addr_len = addr_len_struct { addr_len: 200, __pad3: [0], }),
        case!("send not a socket", IORING_OP_SEND, f, addr_or_splice_off_in.addr = d, len = 4),
        case!("send vectorized too many", IORING_OP_SEND, s, ioprio = IORING_SEND_VECTORIZED, addr_or_splice_off_in.addr = d, len = 2000),
        case!("sendmsg addr2", IORING_OP_SENDMSG, s, off_or_addr2.addr2 = 1),
        case!("sendmsg file_index", IORING_OP_SENDMSG, s, splice_fd_in_or_file_index.file_index = 1),
        case!("sendmsg null msghdr", IORING_OP_SENDMSG, s),
        case!("send_zc skip success", IORING_OP_SEND_ZC, s, flags = IOSQE_CQE_SKIP_SUCCESS),
        case!("send_zc addr3", IORING_OP_SEND_ZC, s, addr3_or_cmd.addr3 = addr3_struct { addr3: 1, __pad2: [0], }),
        case!("send_zc ioprio", IORING_OP_SEND_ZC, s, ioprio = 0x80),
        case!("send_zc unix", IORING_OP_SEND_ZC, u, addr_or_splice_off_in.addr = d, len = 4),
        case!("send_zc unix report", IORING_OP_SEND_ZC, u, ioprio = IORING_SEND_ZC_REPORT_USAGE, addr_or_splice_off_in.addr = d, len = 4),
        case!("send_zc fixed, no buffers", IORING_OP_SEND_ZC, s, ioprio = IORING_RECVSEND_FIXED_BUF, addr_or_splice_off_in.addr = d, len = 4),
        case!("send_zc udp", IORING_OP_SEND_ZC, udp.as_raw_fd(), addr_or_splice_off_in.addr = d, len = 4, off_or_addr2.addr2 = closed.as_ptr() as u64, splice_fd_in_or_file_index.addr_len = addr_len_struct { addr_len: closed.len() as u16, __pad3: [0], }),
        case!("sendmsg_zc addr2", IORING_OP_SENDMSG_ZC, s, off_or_addr2.addr2 = 1),
        // RECV, RECVMSG
        case!("recv addr2", IORING_OP_RECV, s, off_or_addr2.addr2 = 1),
        case!("recv ioprio", IORING_OP_RECV, s, ioprio = 0x80),
        case!("recv multishot without buffers", IORING_OP_RECV, s, ioprio = IORING_RECV_MULTISHOT),
        case!("recv optlen", IORING_OP_RECV, s, splice_fd_in_or_file_index.optlen = 5),
        case!("recv multishot waitall", IORING_OP_RECV, s, ioprio = IORING_RECV_MULTISHOT, flags = IOSQE_BUFFER_SELECT, op_flags.msg_flags = libc::MSG_WAITALL as u32),
        case!("recv no buffers", IORING_OP_RECV, s, flags = IOSQE_BUFFER_SELECT, buf.buf_group = 77),
        case!("recv dontwait", IORING_OP_RECV, s, addr_or_splice_off_in.addr = d, len = 4, op_flags.msg_flags = libc::MSG_DONTWAIT as u32),
        case!("recv not a socket", IORING_OP_RECV, p, addr_or_splice_off_in.addr = d, len = 4),
        case!("recvmsg multishot optlen", IORING_OP_RECVMSG, s, ioprio = IORING_RECV_MULTISHOT, flags = IOSQE_BUFFER_SELECT, splice_fd_in_or_file_index.optlen = 5),
        case!("recvmsg null msghdr", IORING_OP_RECVMSG, s),
        // SHUTDOWN
        case!("shutdown off", IORING_OP_SHUTDOWN, s, off_or_addr2.off = 1),
        case!("shutdown ioprio", IORING_OP_SHUTDOWN, s, ioprio = 1),
        case!("shutdown not connected", IORING_OP_SHUTDOWN, l, len = 5),
        case!("shutdown not a socket", IORING_OP_SHUTDOWN, f),
        // POLL_ADD, POLL_REMOVE
        case!("poll_add len", IORING_OP_POLL_ADD, p, len = 2),
        case!("poll_add level", IORING_OP_POLL_ADD, p, len = IORING_POLL_ADD_LEVEL),
        case!("poll_add addr", IORING_OP_POLL_ADD, p, addr_or_splice_off_in.addr = 1),
        case!("poll_add ioprio", IORING_OP_POLL_ADD, p, ioprio = 1),
        case!("poll_add multishot skip", IORING_OP_POLL_ADD, p, len = IORING_POLL_ADD_MULTI, flags = IOSQE_CQE_SKIP_SUCCESS),
        case!("poll_add file", IORING_OP_POLL_ADD, f, op_flags.poll32_events = (libc::POLLIN | libc::POLLOUT) as u32),
        case!("poll_add bad fd", IORING_OP_POLL_ADD, 9999, op_flags.poll32_events = libc::POLLIN as u32),
        case!("poll_add ready, 32 bits", IORING_OP_POLL_ADD, s, op_flags.poll32_events = libc::POLLOUT as u32 | libc::EPOLLEXCLUSIVE as u32),
        case!("poll_remove multi only", IORING_OP_POLL_REMOVE, -1, len = IORING_POLL_ADD_MULTI),
        case!("poll_remove new ud", IORING_OP_POLL_REMOVE, -1, off_or_addr2.off = 5),
        case!("poll_remove events", IORING_OP_POLL_REMOVE, -1, op_flags.poll32_events = 1),
        case!("poll_remove missing", IORING_OP_POLL_REMOVE, -1, addr_or_splice_off_in.addr = 12345),
        case!("poll_remove update missing", IORING_OP_POLL_REMOVE, -1, addr_or_splice_off_in.addr = 12345, len = IORING_POLL_UPDATE_EVENTS, op_flags.poll32_events = 1),
        // EPOLL_CTL, EPOLL_WAIT
        case!("epoll_ctl buf_index", IORING_OP_EPOLL_CTL, e, buf.buf_index = 1),
        case!("epoll_ctl null event", IORING_OP_EPOLL_CTL, e, len = libc::EPOLL_CTL_ADD as u32, off_or_addr2.off = p as u64),
        case!("epoll_ctl del missing", IORING_OP_EPOLL_CTL, e, len = libc::EPOLL_CTL_DEL as u32, off_or_addr2.off = p as u64),
        case!("epoll_wait off", IORING_OP_EPOLL_WAIT, e, off_or_addr2.off = 1),
        case!("epoll_wait flags", IORING_OP_EPOLL_WAIT, e, op_flags.rw_flags = 1),
        case!("epoll_wait maxevents", IORING_OP_EPOLL_WAIT, e, addr_or_splice_off_in.addr = d),
        case!("epoll_wait not epoll", IORING_OP_EPOLL_WAIT, f, addr_or_splice_off_in.addr = d, len = 1),
        // SPLICE, TEE, READ_MULTISHOT
        case!("splice flags", IORING_OP_SPLICE, f, op_flags.splice_flags = 0x100),
        case!("splice ioprio", IORING_OP_SPLICE, f, ioprio = 1),
        case!("splice bad in", IORING_OP_SPLICE, f, splice_fd_in_or_file_index.splice_fd_in = 9999, len = 4, addr_or_splice_off_in.splice_off_in = u64::MAX),
        case!("splice fixed in, no table", IORING_OP_SPLICE, f, op_flags.splice_flags = SPLICE_F_FD_IN_FIXED, len = 4),
        case!("tee off", IORING_OP_TEE, f, off_or_addr2.off = 1),
        case!("tee splice_off_in", IORING_OP_TEE, f, addr_or_splice_off_in.splice_off_in = 1),
        case!("read_multishot without select", IORING_OP_READ_MULTISHOT, p),
        case!("read_multishot len", IORING_OP_READ_MULTISHOT, p, flags = IOSQE_BUFFER_SELECT, len = 5),
        case!("read_multishot file", IORING_OP_READ_MULTISHOT, f, flags = IOSQE_BUFFER_SELECT),
    ];
    // Every opcode the table uses must be offered.
    let ops: Vec<u8> = cases.iter().map(|(_, sqe)| sqe.as_raw().opcode).collect();
    both(test_name!(), &ops, 32, |ring| {
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
    let ops = [opcode::Accept::CODE, opcode::Recv::CODE, opcode::Send::CODE];
    both(test_name!(), &ops, 64, |ring| {
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
        for c in reap(ring, CONNS, LIMIT) {
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
            for c in reap(ring, 1, LIMIT) {
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
    });
}

/// Multishot accept of several clients, ended by shutting the listener down (the
/// final CQE has no `F_MORE`).
#[test]
fn accept_multishot_of_many_clients() {
    const N: usize = 5;
    both(test_name!(), &[opcode::Accept::CODE], 16, |ring| {
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
            let c = reap(ring, 1, LIMIT)[0];
            assert!(c.result() >= 0, "{c:?}");
            // SAFETY: a fresh descriptor, ours.
            drop(unsafe { OwnedFd::from_raw_fd(c.result()) });
            out.push((c.user_data(), 0, c.has_more()));
        }
        // SAFETY: shutdown(2) of our listener.
        unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
        let c = reap(ring, 1, LIMIT)[0];
        out.push((c.user_data(), c.result(), c.has_more()));
        out
    });
}

/// A multishot poll on a pipe: a CQE per write while armed, then removal.
#[test]
fn poll_multishot_on_a_pipe_then_remove() {
    let ops = [opcode::PollAdd::CODE, opcode::PollRemove::CODE];
    both(test_name!(), &ops, 16, |ring| {
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
            let c = reap(ring, 1, LIMIT)[0];
            out.push(c.user_data() as usize);
            out.push(c.result() as usize);
            out.push(c.has_more() as usize);
        }
        // One shot, ready at once (the write end is writable).
        let o = opcode::PollAdd::new(w.as_raw_fd(), libc::POLLOUT as u32)
            .build()
            .user_data(2);
        push(ring, &[o]);
        let c = reap(ring, 1, LIMIT)[0];
        out.extend([
            c.user_data() as usize,
            c.result() as usize,
            c.has_more() as usize,
        ]);
        // The reader closes: POLLHUP on the write end for a one-shot POLLOUT|POLLERR.
        let rm = opcode::PollRemove::new(1).build().user_data(3);
        push(ring, &[rm]);
        let mut cs = reap(ring, 2, LIMIT);
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
    let ops = [opcode::Recv::CODE, opcode::Nop::CODE];
    both(test_name!(), &ops, 16, |ring| {
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
        let mut cs = reap(ring, 2, LIMIT);
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
        let mut cs = reap(ring, 2, LIMIT);
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
        opcode::Accept::CODE,
        opcode::Connect::CODE,
        opcode::Socket::CODE,
        opcode::Recv::CODE,
        opcode::SendZc::CODE,
    ];
    both(test_name!(), &ops, 16, |ring| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = uring::types::SockAddr::from(listener.local_addr().unwrap());
        let s = opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
            .build()
            .user_data(1);
        push(ring, &[s]);
        let fd = reap(ring, 1, LIMIT)[0].result();
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
        let mut cs = reap(ring, 2, LIMIT);
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
        let cs = reap(ring, 3, LIMIT);
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
        opcode::Recv::CODE,
        opcode::AsyncCancel::CODE,
        opcode::PollAdd::CODE,
    ];
    both(test_name!(), &ops, 16, |ring| {
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
            let mut cs = reap(ring, n, LIMIT);
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
    let ops = [opcode::Accept::CODE, opcode::AsyncCancel::CODE];
    both(test_name!(), &ops, 256, |ring| {
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
                for c in reap(ring, 1, LIMIT) {
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
