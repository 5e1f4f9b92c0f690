//! The network opcodes on loopback (127.0.0.1 only): socket, bind, listen, accept
//! (multishot, direct), connect, send/recv (multishot, bundles, sendto), sendmsg/recvmsg
//! (multishot, parsed with `RecvMsgOut`), zero-copy sends with their notifications,
//! shutdown, socket commands (getsockopt/setsockopt, SIOCINQ), and RECV_ZC's refusal
//! without a zcrx queue.
use uring_testkit as common;
use uring_testkit::test_name;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use common::{pattern, reap, run, run1, tcp_pair};
use uring::types::{CqeFlags, DestinationSlot, Fixed, RecvMsgOut, SockAddr, notif_copied};
use uring::{Cqe, Ring, SqeFlags, opcode, sys};

const LIMIT: Duration = Duration::from_secs(10);

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s
}

fn local_addr(fd: RawFd) -> SocketAddr {
    let mut a = SockAddr::empty();
    // SAFETY: `a` has room for any address and its length says so.
    let r = unsafe { libc::getsockname(fd, a.as_mut_ptr(), a.len_mut()) };
    assert_eq!(r, 0);
    a.to_std().unwrap()
}

fn sorted(mut cqes: Vec<Cqe>) -> Vec<Cqe> {
    cqes.sort_by_key(Cqe::user_data);
    cqes
}

#[test]
fn socket_bind_listen_accept_connect() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::Socket::CODE,
            opcode::Bind::CODE,
            opcode::Listen::CODE,
            opcode::Accept::CODE,
            opcode::Connect::CODE,
            opcode::Send::CODE,
            opcode::Recv::CODE,
        ],
        32,
        |_backend, ring| {
            let sock = |ring: &mut Ring| {
                let s =
                    opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
                        .build();
                // SAFETY: no memory referenced.
                let fd = unsafe { run1(ring, s) }.result();
                assert!(fd >= 0, "socket: {fd}");
                // SAFETY: a fresh descriptor, ours.
                unsafe { OwnedFd::from_raw_fd(fd) }
            };
            let listener = sock(ring);
            let any = SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
            let b = opcode::Bind::new(listener.as_raw_fd(), any.as_ptr(), any.len()).build();
            // SAFETY: `any` outlives the request.
            assert_eq!(unsafe { run1(ring, b) }.result(), 0);
            let l = opcode::Listen::new(listener.as_raw_fd(), 16).build();
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, l) }.result(), 0);
            let addr = local_addr(listener.as_raw_fd());
            assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
            assert_ne!(addr.port(), 0, "bound to a port");

            // ACCEPT (with the peer's address) and CONNECT, in flight together.
            let client = sock(ring);
            let to = SockAddr::from(addr);
            let mut peer = SockAddr::empty();
            let sqes = [
                opcode::Accept::new(listener.as_raw_fd())
                    .addr(peer.as_mut_ptr())
                    .addrlen(peer.len_mut())
                    .flags(libc::SOCK_CLOEXEC)
                    .build()
                    .user_data(1),
                opcode::Connect::new(client.as_raw_fd(), to.as_ptr(), to.len())
                    .build()
                    .user_data(2),
            ];
            // SAFETY: `peer` and `to` outlive the requests.
            let cqes = sorted(unsafe { run(ring, &sqes, 2) });
            let accepted = cqes[0].result();
            assert!(accepted >= 0, "{cqes:?}");
            assert_eq!(cqes[1].result(), 0, "connect");
            // SAFETY: a fresh descriptor, ours.
            let server = unsafe { OwnedFd::from_raw_fd(accepted) };
            assert_eq!(
                peer.to_std(),
                Some(local_addr(client.as_raw_fd())),
                "peer address"
            );

            // Data from the connected client to the accepted socket.
            let msg = b"ping over io_uring";
            let mut buf = [0u8; 64];
            let sqes = [
                opcode::Send::new(client.as_raw_fd(), msg.as_ptr(), msg.len() as u32)
                    .build()
                    .user_data(3),
                opcode::Recv::new(server.as_raw_fd(), buf.as_mut_ptr(), 64)
                    .build()
                    .user_data(4),
            ];
            // SAFETY: `msg` and `buf` outlive the requests.
            let cqes = sorted(unsafe { run(ring, &sqes, 2) });
            assert_eq!(cqes[0].result(), msg.len() as i32);
            assert_eq!(cqes[1].result(), msg.len() as i32);
            assert_eq!(&buf[..msg.len()], msg);

            // CONNECT to a closed port is refused.
            let closed = {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap()
            };
            let c2 = sock(ring);
            let to = SockAddr::from(closed);
            let c = opcode::Connect::new(c2.as_raw_fd(), to.as_ptr(), to.len()).build();
            // SAFETY: `to` outlives the request.
            assert_eq!(unsafe { run1(ring, c) }.result(), -libc::ECONNREFUSED);
        },
    );
}

#[test]
fn accept_multishot_and_direct() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Accept::CODE, opcode::Recv::CODE],
        32,
        |_backend, ring| {
            common::raw_register_files_sparse(ring, 8);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();

            // Multishot into allocated fixed slots: a CQE per connection, F_MORE while armed.
            let a = opcode::Accept::new(&listener)
                .multishot(true)
                .file_index(DestinationSlot::Alloc)
                .build()
                .user_data(1);
            // SAFETY: no memory referenced.
            unsafe { ring.submission().push(&a) }.unwrap();
            ring.submit().unwrap();
            let mut clients = Vec::new();
            let mut slots = Vec::new();
            for i in 0..3 {
                clients.push(TcpStream::connect(addr).unwrap());
                let c = reap(ring, 1, LIMIT)[0];
                assert_eq!(c.user_data(), 1);
                assert!(c.has_more(), "connection {i}: {c:?}");
                assert!((0..8).contains(&c.result()), "a slot: {c:?}");
                slots.push(c.result() as u32);
            }
            slots.dedup();
            assert_eq!(slots.len(), 3, "distinct slots");
            // Each slot is its connection.
            for (i, (client, &slot)) in clients.iter_mut().zip(&slots).enumerate() {
                let msg = format!("client {i}");
                client.write_all(msg.as_bytes()).unwrap();
                let mut buf = [0u8; 32];
                let r = opcode::Recv::new(Fixed(slot), buf.as_mut_ptr(), 32).build();
                // SAFETY: `buf` outlives the request.
                let n = unsafe { run1(ring, r) }.result();
                assert_eq!(&buf[..n as usize], msg.as_bytes());
            }
            let c = opcode::AsyncCancel::new(1).build().user_data(2);
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &[c], 2) });
            assert_eq!(cqes[0].result(), -libc::ECANCELED);
            assert!(
                !cqes[0].has_more(),
                "the last CQE of a multishot has no F_MORE"
            );

            // Single accept into a given slot completes with 0; multishot needs ALLOC.
            let a = opcode::Accept::new(&listener)
                .file_index(DestinationSlot::Slot(7))
                .build()
                .user_data(3);
            // SAFETY: no memory referenced.
            unsafe { ring.submission().push(&a) }.unwrap();
            ring.submit().unwrap();
            let mut c = TcpStream::connect(addr).unwrap();
            assert_eq!(reap(ring, 1, LIMIT)[0].result(), 0);
            c.write_all(b"seven").unwrap();
            let mut buf = [0u8; 8];
            let r = opcode::Recv::new(Fixed(7), buf.as_mut_ptr(), 8).build();
            // SAFETY: `buf` outlives the request.
            assert_eq!(unsafe { run1(ring, r) }.result(), 5);
            assert_eq!(&buf[..5], b"seven");
            let bad = opcode::Accept::new(&listener)
                .multishot(true)
                .file_index(DestinationSlot::Slot(6))
                .build();
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, bad) }.result(), -libc::EINVAL);

            // Plain multishot: real fds. DONTWAIT with nobody connecting: -EAGAIN.
            let a = opcode::Accept::new(&listener)
                .multishot(true)
                .build()
                .user_data(4);
            // SAFETY: no memory referenced.
            unsafe { ring.submission().push(&a) }.unwrap();
            ring.submit().unwrap();
            let _c = TcpStream::connect(addr).unwrap();
            let c = reap(ring, 1, LIMIT)[0];
            assert!(c.result() >= 0 && c.has_more(), "{c:?}");
            // SAFETY: a fresh descriptor, ours.
            let accepted = unsafe { OwnedFd::from_raw_fd(c.result()) };
            assert_eq!(
                local_addr(accepted.as_raw_fd()),
                addr,
                "the accepted socket's local end is the listener's address"
            );
            let c = opcode::AsyncCancel::new(4).build();
            // SAFETY: no memory referenced.
            unsafe { run(ring, &[c], 2) };
            let nb = opcode::Accept::new(&listener).dontwait(true).build();
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, nb) }.result(), -libc::EAGAIN);
        },
    );
}

#[test]
fn send_recv_sendto_and_shutdown() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::Send::CODE,
            opcode::Recv::CODE,
            opcode::Shutdown::CODE,
        ],
        32,
        |_backend, ring| {
            let (a, b) = tcp_pair();
            let data = pattern(3000, 1);
            let s = opcode::Send::new(&a, data.as_ptr(), 3000).build();
            // SAFETY: `data` outlives the request.
            assert_eq!(unsafe { run1(ring, s) }.result(), 3000);
            let mut back = vec![0u8; 3000];
            let r = opcode::Recv::new(&b, back.as_mut_ptr(), 3000)
                .flags(libc::MSG_WAITALL)
                .build();
            // SAFETY: `back` outlives the request.
            assert_eq!(unsafe { run1(ring, r) }.result(), 3000);
            assert_eq!(back, data);

            // IORING_SEND_VECTORIZED (6.17): `buf` is an iovec array; the same for SEND_ZC.
            let parts = [pattern(10, 1), pattern(20, 2), pattern(30, 3)];
            let iov: Vec<libc::iovec> = parts
                .iter()
                .map(|p| libc::iovec {
                    iov_base: p.as_ptr() as *mut _,
                    iov_len: p.len(),
                })
                .collect();
            let s = opcode::Send::new(&a, iov.as_ptr().cast::<u8>(), 3)
                .vectorized(true)
                .build();
            // SAFETY: `parts` and `iov` outlive the request.
            assert_eq!(unsafe { run1(ring, s) }.result(), 60);
            let z = opcode::SendZc::new(&a, iov.as_ptr().cast::<u8>(), 3)
                .vectorized(true)
                .build();
            // SAFETY: as above; both CQEs (result and notification) are reaped.
            let cqes = unsafe { run(ring, &[z], 2) };
            assert_eq!(cqes[0].result(), 60, "{cqes:?}");
            assert!(cqes[1].is_notif());
            let mut back2 = vec![0u8; 120];
            (&b).read_exact(&mut back2).unwrap();
            assert_eq!(back2, [parts.concat(), parts.concat()].concat());

            // SHUTDOWN(SHUT_WR): the peer reads end of file; recv on the peer returns 0.
            let sh = opcode::Shutdown::new(&a, libc::SHUT_WR).build();
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, sh) }.result(), 0);
            let r = opcode::Recv::new(&b, back.as_mut_ptr(), 10).build();
            // SAFETY: `back` outlives the request.
            let c = unsafe { run1(ring, r) };
            assert_eq!(c.result(), 0, "EOF after shutdown");
            // Sending after SHUT_WR fails with EPIPE.
            let s = opcode::Send::new(&a, data.as_ptr(), 10).build();
            // SAFETY: `data` outlives the request.
            assert_eq!(unsafe { run1(ring, s) }.result(), -libc::EPIPE);

            // SEND with a destination address: sendto(2) on an unconnected UDP socket.
            let (u1, u2) = (udp(), udp());
            let to = SockAddr::from(u2.local_addr().unwrap());
            let msg = b"datagram";
            let s = opcode::Send::new(&u1, msg.as_ptr(), msg.len() as u32)
                .dest_addr(to.as_ptr())
                .dest_addr_len(to.len())
                .build();
            // SAFETY: `msg` and `to` outlive the request.
            assert_eq!(unsafe { run1(ring, s) }.result(), msg.len() as i32);
            let mut got = [0u8; 16];
            let (n, from) = u2.recv_from(&mut got).unwrap();
            assert_eq!((&got[..n], from), (&msg[..], u1.local_addr().unwrap()));
        },
    );
}

#[test]
fn recv_multishot_with_provided_buffers() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Recv::CODE, opcode::ProvideBuffers::CODE],
        32,
        |_backend, ring| {
            let (mut a, b) = tcp_pair();
            let mut mem = vec![0u8; 8 * 64];
            common::provide_buffers(ring, &mut mem, 64, 8, 1);
            let r = opcode::Recv::new(&b, std::ptr::null_mut(), 0)
                .buf_group(1)
                .multishot(true)
                .build()
                .user_data(9);
            assert!(r.get_flags().contains(SqeFlags::BUFFER_SELECT));
            // SAFETY: the provided buffers outlive the request.
            unsafe { ring.submission().push(&r) }.unwrap();
            ring.submit().unwrap();
            let mut bids = Vec::new();
            for i in 0..3u8 {
                let msg = pattern(10 + i as usize, i);
                a.write_all(&msg).unwrap();
                let c = reap(ring, 1, LIMIT)[0];
                assert_eq!((c.user_data(), c.result()), (9, msg.len() as i32), "{c:?}");
                assert!(c.has_more(), "still armed: {c:?}");
                let bid = c.selected_buffer().expect("a buffer") as usize;
                assert_eq!(&mem[bid * 64..bid * 64 + msg.len()], &msg[..]);
                bids.push(bid);
            }
            bids.sort();
            bids.dedup();
            assert_eq!(bids.len(), 3, "a fresh buffer per receive");
            // The peer closes: a final CQE with 0 and no F_MORE.
            drop(a);
            let c = reap(ring, 1, LIMIT)[0];
            assert_eq!((c.user_data(), c.result()), (9, 0), "{c:?}");
            assert!(!c.has_more());
        },
    );
}

#[test]
fn recv_multishot_stops_at_total_len_and_on_no_buffers() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Recv::CODE, opcode::ProvideBuffers::CODE],
        32,
        |_backend, ring| {
            let (mut a, b) = tcp_pair();
            let mut mem = vec![0u8; 2 * 16];
            common::provide_buffers(ring, &mut mem, 16, 2, 4);
            // A 10-byte limit on the whole multishot (Linux 6.17): it ends after the first
            // receive that reaches it. That receive fills its 16-byte buffer: the limit ends the
            // request, it does not cap each receive.
            let r = opcode::Recv::new(&b, std::ptr::null_mut(), 0)
                .buf_group(4)
                .multishot(true)
                .mshot_total_len(10)
                .build()
                .user_data(1);
            a.write_all(&pattern(24, 3)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: the provided buffers outlive the request.
            let c = unsafe { run1(ring, r) };
            assert_eq!(c.result(), 16, "{c:?}");
            assert!(!c.has_more(), "the limit ends the multishot: {c:?}");
            assert!(c.sock_nonempty(), "8 bytes are left in the socket: {c:?}");
            let bid = c.selected_buffer().unwrap() as usize;
            assert_eq!(&mem[bid * 16..bid * 16 + 16], &pattern(24, 3)[..16]);

            // One buffer left: the next receive takes it, then the group is empty: -ENOBUFS
            // ends the multishot.
            let r = opcode::Recv::new(&b, std::ptr::null_mut(), 0)
                .buf_group(4)
                .multishot(true)
                .build()
                .user_data(2);
            // SAFETY: as above.
            unsafe { ring.submission().push(&r) }.unwrap();
            ring.submit().unwrap();
            let mut cqes = reap(ring, 1, LIMIT);
            if cqes[0].has_more() {
                a.write_all(b"more").unwrap();
                cqes.extend(reap(ring, 1, LIMIT));
            }
            let last = cqes.last().unwrap();
            assert_eq!(last.result(), -libc::ENOBUFS, "{cqes:?}");
            assert!(!last.has_more());
            let got: i32 = cqes[..cqes.len() - 1].iter().map(Cqe::result).sum();
            assert_eq!(
                got,
                8 + 4 * (cqes.len() as i32 - 2),
                "the rest of the data: {cqes:?}"
            );
        },
    );
}

/// A provided-buffer ring registered through the raw API, with buffers of chosen
/// lengths (as bundles need: the legacy provided buffers give one buffer per request).
struct RawBufRing {
    /// The ring's page (unmapped when dropped: the kernel pinned its pages, and no
    /// request is in flight any more).
    ring: common::Mapping,
    mem: Vec<u8>,
    buf_len: usize,
    mask: u16,
    tail: u16,
}

impl RawBufRing {
    fn register(ring: &Ring, bgid: u16, entries: u16, buf_len: usize) -> RawBufRing {
        Self::register_with(ring, bgid, entries, buf_len, 0)
    }

    /// With `IOU_PBUF_RING_*` flags (`IOU_PBUF_RING_INC` for incremental consumption).
    fn register_with(
        ring: &Ring,
        bgid: u16,
        entries: u16,
        buf_len: usize,
        flags: u16,
    ) -> RawBufRing {
        let ring_len = 4096;
        assert!(entries as usize * 16 <= ring_len && entries.is_power_of_two());
        let mem = common::Mapping::new(ring_len);
        let reg = sys::io_uring_buf_reg {
            ring_addr: mem.ptr() as u64,
            ring_entries: entries as u32,
            bgid,
            flags,
            ..Default::default()
        };
        // SAFETY: `reg` describes the page-aligned ring just mapped; the kernel pins its
        // pages during the call.
        unsafe {
            ring.submitter().register_raw(
                sys::IORING_REGISTER_PBUF_RING,
                (&raw const reg).cast(),
                1,
            )
        }
        .expect("register a buffer ring");
        RawBufRing {
            ring: mem,
            mem: vec![0; entries as usize * buf_len],
            buf_len,
            mask: entries - 1,
            tail: 0,
        }
    }

    /// Queues buffer `bid` with `len` bytes (its data, for a send).
    fn add(&mut self, bid: u16, len: usize) {
        assert!(len <= self.buf_len);
        let i = (self.tail & self.mask) as usize;
        let entry = sys::io_uring_buf {
            addr: self.buf(bid).as_ptr() as u64,
            len: len as u32,
            bid,
            resv: 0,
        };
        // SAFETY: entry i is inside the ring mapping; fields written one by one so that
        // entry 0's `resv`, the shared tail, is left alone.
        unsafe {
            let e = self.ring.ptr().add(i * 16).cast::<sys::io_uring_buf>();
            (&raw mut (*e).addr).write(entry.addr);
            (&raw mut (*e).len).write(entry.len);
            (&raw mut (*e).bid).write(entry.bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the queued entries: a release store of the tail, pairing with the
    /// kernel's `smp_load_acquire(&br->tail)`.
    fn publish(&self) {
        // SAFETY: the tail is the aligned u16 at offset 14 of the ring mapping.
        let tail = unsafe { &*self.ring.ptr().add(14).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    fn buf(&self, bid: u16) -> &[u8] {
        &self.mem[bid as usize * self.buf_len..(bid as usize + 1) * self.buf_len]
    }

    fn buf_mut(&mut self, bid: u16) -> &mut [u8] {
        &mut self.mem[bid as usize * self.buf_len..(bid as usize + 1) * self.buf_len]
    }
}

#[test]
fn recv_and_send_bundles() {
    let test = test_name!();
    common::for_each_backend(
        test,
        &[opcode::Recv::CODE, opcode::Send::CODE],
        32,
        |_backend, ring| {
            if common::lacks_feature(test, ring, sys::IORING_FEAT_RECVSEND_BUNDLE) {
                return;
            }
            let (mut a, b) = tcp_pair();

            // RECV bundle: 40 bytes waiting, 16-byte buffers: a CQE covers several consecutive
            // buffers, the first one's id in the CQE (how many per CQE is the kernel's choice:
            // 6.18 takes two on the first receive, then SOCK_NONEMPTY says more is waiting).
            let mut rx = RawBufRing::register(ring, 5, 8, 16);
            for bid in 0..8 {
                rx.add(bid, 16);
            }
            rx.publish();
            let data = pattern(40, 8);
            a.write_all(&data).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let r = opcode::Recv::new(&b, std::ptr::null_mut(), 0)
                .buf_group(5)
                .bundle(true)
                .build()
                .user_data(1);
            let mut got = Vec::new();
            let mut next_bid = 0u16;
            for round in 0..4 {
                // SAFETY: the ring's buffers outlive the request.
                let c = unsafe { run1(ring, r) };
                let n = c.result();
                assert!(n > 0, "{c:?}");
                if round == 0 {
                    assert!(n > 16, "the first CQE spans more than one buffer: {c:?}");
                }
                let first = c.selected_buffer().unwrap();
                assert_eq!(first, next_bid, "buffers are taken in ring order");
                let nbufs = (n as usize).div_ceil(16) as u16;
                for bid in first..first + nbufs {
                    got.extend_from_slice(rx.buf(bid));
                }
                got.truncate(got.len() - (nbufs as usize * 16 - n as usize));
                next_bid = first + nbufs;
                if got.len() == 40 {
                    assert!(!c.sock_nonempty());
                    break;
                }
                assert!(c.sock_nonempty(), "the rest is waiting: {c:?}");
            }
            assert_eq!(got, data, "the data spans consecutive buffers");

            // SEND bundle: three queued buffers of 5, 7 and 9 bytes go out in one request.
            let mut tx = RawBufRing::register(ring, 6, 4, 16);
            let parts = [pattern(5, 1), pattern(7, 2), pattern(9, 3)];
            for (bid, p) in parts.iter().enumerate() {
                tx.buf_mut(bid as u16)[..p.len()].copy_from_slice(p);
                tx.add(bid as u16, p.len());
            }
            tx.publish();
            let s = opcode::Send::new(&a, std::ptr::null(), 0)
                .buf_group(6)
                .bundle(true)
                .build()
                .user_data(2);
            // SAFETY: the ring's buffers outlive the request.
            let c = unsafe { run1(ring, s) };
            assert_eq!(c.result(), 21, "{c:?}");
            assert_eq!(c.selected_buffer(), Some(0));
            let mut back = [0u8; 21];
            (&b).read_exact(&mut back).unwrap();
            assert_eq!(back.to_vec(), parts.concat());
        },
    );
}

fn msghdr(
    name: *mut libc::sockaddr,
    namelen: u32,
    iov: &mut [libc::iovec],
    control: &mut [u8],
) -> libc::msghdr {
    // SAFETY: all-zero is a valid msghdr; the fields are set below.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_name = name.cast();
    m.msg_namelen = namelen;
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = iov.len();
    m.msg_control = if control.is_empty() {
        std::ptr::null_mut()
    } else {
        control.as_mut_ptr().cast()
    };
    m.msg_controllen = control.len();
    m
}

#[test]
fn sendmsg_and_recvmsg() {
    common::for_each_backend(
        test_name!(),
        &[opcode::SendMsg::CODE, opcode::RecvMsg::CODE],
        32,
        |_backend, ring| {
            let (u1, u2) = (udp(), udp());
            // SENDMSG: two iovecs, to u2's address.
            let mut to = SockAddr::from(u2.local_addr().unwrap());
            let (p1, p2) = (b"gather ".to_vec(), b"write".to_vec());
            let mut iov = [
                libc::iovec {
                    iov_base: p1.as_ptr() as *mut _,
                    iov_len: p1.len(),
                },
                libc::iovec {
                    iov_base: p2.as_ptr() as *mut _,
                    iov_len: p2.len(),
                },
            ];
            let tolen = to.len();
            let m = msghdr(to.as_mut_ptr(), tolen, &mut iov, &mut []);
            let s = opcode::SendMsg::new(&u1, &raw const m).build().user_data(1);
            // SAFETY: `m` and everything it points to outlive the request.
            assert_eq!(unsafe { run1(ring, s) }.result(), 12);

            // RECVMSG: scatter into two iovecs, with the sender's address.
            let mut from = SockAddr::empty();
            let (mut r1, mut r2) = ([0u8; 4], [0u8; 16]);
            let mut iov = [
                libc::iovec {
                    iov_base: r1.as_mut_ptr().cast(),
                    iov_len: 4,
                },
                libc::iovec {
                    iov_base: r2.as_mut_ptr().cast(),
                    iov_len: 16,
                },
            ];
            let fromlen = from.len();
            let mut m = msghdr(from.as_mut_ptr(), fromlen, &mut iov, &mut []);
            let r = opcode::RecvMsg::new(&u2, &raw mut m).build().user_data(2);
            // SAFETY: `m` and everything it points to outlive the request.
            assert_eq!(unsafe { run1(ring, r) }.result(), 12);
            assert_eq!([&r1[..], &r2[..8]].concat(), b"gather write");
            assert_eq!(m.msg_namelen as usize, size_of::<libc::sockaddr_in>());
            assert_eq!(
                from.to_std(),
                Some(u1.local_addr().unwrap()),
                "msg_name filled"
            );
        },
    );
}

#[test]
fn recvmsg_multishot_parsed_with_recvmsg_out() {
    common::for_each_backend(
        test_name!(),
        &[opcode::RecvMsg::CODE, opcode::ProvideBuffers::CODE],
        32,
        |_backend, ring| {
            let rx = udp();
            let one: libc::c_int = 1;
            // SAFETY: a valid int option for a UDP socket.
            let r = unsafe {
                libc::setsockopt(
                    rx.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    (&raw const one).cast(),
                    4,
                )
            };
            assert_eq!(r, 0);
            let buf_len = 256;
            let mut mem = vec![0u8; 4 * buf_len];
            common::provide_buffers(ring, &mut mem, buf_len, 4, 2);
            // The msghdr only sets the room for the name and the control data.
            let namelen = size_of::<libc::sockaddr_in>() as u32;
            let controllen = 64;
            // SAFETY: all-zero is a valid msghdr.
            let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
            m.msg_namelen = namelen;
            m.msg_controllen = controllen;
            let r = opcode::RecvMsg::new(&rx, &raw mut m)
                .flags(libc::MSG_TRUNC)
                .buf_group(2)
                .multishot(true)
                .build()
                .user_data(7);
            // SAFETY: `m` and the provided buffers outlive the request.
            unsafe { ring.submission().push(&r) }.unwrap();
            ring.submit().unwrap();

            let senders = [udp(), udp()];
            let to = rx.local_addr().unwrap();
            let big = pattern(300, 4);
            let msgs: [&[u8]; 3] = [b"from the first", b"from the second", &big];
            for (i, msg) in msgs.iter().enumerate() {
                let sender = &senders[i % 2];
                sender.send_to(msg, to).unwrap();
                let c = reap(ring, 1, LIMIT)[0];
                assert_eq!(c.user_data(), 7);
                assert!(c.has_more(), "{c:?}");
                let bid = c.selected_buffer().unwrap() as usize;
                let buf = &mem[bid * buf_len..bid * buf_len + c.result() as usize];
                let out = RecvMsgOut::parse(buf, &m).expect("a well-formed buffer");
                assert_eq!(
                    out.source(),
                    Some(sender.local_addr().unwrap()),
                    "message {i}"
                );
                assert!(!out.is_name_truncated());
                // IP_PKTINFO: one cmsg of level IPPROTO_IP, type IP_PKTINFO.
                let ctl = out.control_data();
                assert!(
                    ctl.len() >= size_of::<libc::cmsghdr>(),
                    "control data: {ctl:?}"
                );
                // SAFETY: the control area starts with a cmsghdr; read_unaligned copes with
                // the buffer's alignment.
                let cmsg = unsafe { ctl.as_ptr().cast::<libc::cmsghdr>().read_unaligned() };
                assert_eq!(
                    (cmsg.cmsg_level, cmsg.cmsg_type),
                    (libc::IPPROTO_IP, libc::IP_PKTINFO)
                );
                assert!(!out.is_control_truncated());
                let room = buf_len - 16 - namelen as usize - controllen;
                if msg.len() <= room {
                    assert_eq!(out.payload_data(), *msg);
                    assert!(!out.is_payload_truncated());
                } else {
                    // The 300-byte datagram does not fit: truncated, MSG_TRUNC; the request's
                    // MSG_TRUNC flag makes the header report its full length.
                    assert_eq!(out.payload_data(), &msg[..room]);
                    assert!(out.is_payload_truncated());
                    assert_eq!(out.incoming_payload_len(), 300);
                    assert_ne!(out.flags() & libc::MSG_TRUNC as u32, 0);
                }
            }
            // A buffer too short for the header and both areas is refused by the parser.
            assert!(RecvMsgOut::parse(&mem[..40], &m).is_err());
            let c = opcode::AsyncCancel::new(7).build();
            // SAFETY: no memory referenced.
            unsafe { run(ring, &[c], 2) };
        },
    );
}

#[test]
fn send_zc_and_sendmsg_zc_post_notifications() {
    common::for_each_backend(
        test_name!(),
        &[opcode::SendZc::CODE, opcode::SendMsgZc::CODE],
        32,
        |_backend, ring| {
            let (a, b) = tcp_pair();
            let mut bufs = vec![pattern(8192, 6)];
            common::raw_register_buffers(ring, &mut bufs);
            let data = pattern(5000, 2);
            let mut iov = [libc::iovec {
                iov_base: data.as_ptr() as *mut _,
                iov_len: 5000,
            }];
            let m = msghdr(std::ptr::null_mut(), 0, &mut iov, &mut []);
            let cases = [
                (
                    "send_zc",
                    opcode::SendZc::new(&a, data.as_ptr(), 5000)
                        .report_usage(true)
                        .build(),
                    &data[..],
                ),
                (
                    "send_zc fixed",
                    opcode::SendZc::new(&a, bufs[0][100..].as_ptr(), 5000)
                        .buf_index(0)
                        .build(),
                    &bufs[0][100..5100],
                ),
                (
                    "sendmsg_zc",
                    opcode::SendMsgZc::new(&a, &raw const m).build(),
                    &data[..],
                ),
            ];
            for (name, sqe, want) in cases {
                // SAFETY: the data, registered buffers and `m` outlive the request, whose two
                // CQEs are both reaped here.
                let cqes = unsafe { run(ring, &[sqe.user_data(3)], 2) };
                let (res, notif) = (cqes[0], cqes[1]);
                assert_eq!(res.result(), 5000, "{name}: {cqes:?}");
                assert!(
                    res.has_more() && !res.is_notif(),
                    "{name}: a notification follows"
                );
                assert_eq!(notif.user_data(), 3, "{name}");
                assert!(notif.is_notif() && !notif.has_more(), "{name}: {notif:?}");
                if name == "send_zc" {
                    // Loopback delivers by copying the pages: the usage report says so.
                    assert!(notif_copied(&notif), "{name}: {notif:?}");
                } else {
                    assert_eq!(notif.result(), 0, "{name}: no usage asked for");
                }
                let mut back = vec![0u8; 5000];
                (&b).read_exact(&mut back).unwrap();
                assert_eq!(back, want, "{name}");
            }
            // CQE_SKIP_SUCCESS is refused on zero-copy sends.
            let s = opcode::SendZc::new(&a, data.as_ptr(), 10)
                .build()
                .flags(SqeFlags::CQE_SKIP_SUCCESS);
            // SAFETY: refused at prep, no memory used.
            assert_eq!(unsafe { run1(ring, s) }.result(), -libc::EINVAL);

            // SEND_ZC with a destination: a zero-copy sendto(2) on UDP.
            let (u1, u2) = (udp(), udp());
            let to = SockAddr::from(u2.local_addr().unwrap());
            let z = opcode::SendZc::new(&u1, data.as_ptr(), 100)
                .dest_addr(to.as_ptr())
                .dest_addr_len(to.len())
                .build()
                .user_data(4);
            // SAFETY: `data` and `to` outlive the request; both CQEs are reaped.
            let cqes = unsafe { run(ring, &[z], 2) };
            assert_eq!(cqes[0].result(), 100, "{cqes:?}");
            assert!(cqes[1].is_notif());
            let mut got = [0u8; 128];
            let (n, from) = u2.recv_from(&mut got).unwrap();
            assert_eq!((&got[..n], from), (&data[..100], u1.local_addr().unwrap()));
        },
    );
}

#[test]
fn uring_cmd_socket_options_and_queues() {
    common::for_each_backend(
        test_name!(),
        &[opcode::UringCmd::CODE],
        32,
        |_backend, ring| {
            let (mut a, b) = tcp_pair();
            let fd = b.as_raw_fd();
            // SETSOCKOPT SO_RCVBUF, then GETSOCKOPT: the kernel doubles the value (socket(7)).
            let want: libc::c_int = 65536;
            let set = opcode::UringCmd::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const want).cast(),
                4,
            )
            .build()
            .user_data(1);
            // SAFETY: `want` outlives the request.
            assert_eq!(unsafe { run1(ring, set) }.result(), 0);
            let mut got: libc::c_int = 0;
            let get = opcode::UringCmd::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw mut got).cast(),
                4,
            )
            .build()
            .user_data(2);
            // SAFETY: `got` outlives the request.
            let c = unsafe { run1(ring, get) };
            assert_eq!(c.result(), 4, "the option's length");
            assert_eq!(got, 2 * want);
            let mut check: libc::c_int = 0;
            let mut len: libc::socklen_t = 4;
            // SAFETY: valid out-pointers for an int option.
            let r = unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&raw mut check).cast(),
                    &mut len,
                )
            };
            assert_eq!((r, check), (0, got), "the same as getsockopt(2)");
            // Only SOL_SOCKET is served.
            let other = opcode::UringCmd::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&raw mut got).cast(),
                4,
            )
            .build();
            // SAFETY: `got` outlives the request.
            let c = unsafe { run1(ring, other) };
            assert_eq!(c.result(), -libc::EOPNOTSUPP);

            // SIOCINQ: bytes waiting; SIOCOUTQ on the sender: nothing unsent on loopback.
            a.write_all(b"seven b").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let sqes = [
                opcode::UringCmd::siocinq(fd).build().user_data(3),
                opcode::UringCmd::siocoutq(&a).build().user_data(4),
            ];
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &sqes, 2) });
            assert_eq!(cqes[0].result(), 7);
            assert!(cqes[1].result() >= 0);
            // Not a socket (nor a driver with ->uring_cmd): refused.
            let f = tempfile::tempfile().unwrap();
            let c = opcode::UringCmd::siocinq(&f).build();
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, c) }.result(), -libc::EOPNOTSUPP);
        },
    );
}

#[test]
fn recv_zc_needs_a_zcrx_queue() {
    let test = test_name!();
    common::for_each_backend(test, &[opcode::RecvZc::CODE], 32, |_backend, ring| {
        let (_a, b) = tcp_pair();
        // No zcrx instance is registered: the kernel refuses the request at prep.
        let r = opcode::RecvZc::new(&b, 0).ifq(0).build();
        assert_eq!(
            r.as_raw().ioprio & sys::IORING_RECV_MULTISHOT,
            sys::IORING_RECV_MULTISHOT
        );
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(ring, r) }.result(), -libc::EINVAL);
        common::not_applicable(
            test,
            "receiving needs a zcrx queue (IORING_REGISTER_ZCRX_IFQ) on a NIC with header \
             split and flow steering; loopback has none",
        );
    });
}

#[test]
fn recv_into_an_incremental_buffer_ring_flags_buf_more() {
    common::for_each_backend(test_name!(), &[opcode::Recv::CODE], 32, |_backend, ring| {
        let (mut a, b) = tcp_pair();
        // One 64-byte buffer consumed incrementally: two receives share it, the first CQE
        // says the buffer has more room (IORING_CQE_F_BUF_MORE).
        let mut rx = RawBufRing::register_with(ring, 3, 1, 64, sys::IOU_PBUF_RING_INC);
        rx.add(0, 64);
        rx.publish();
        let recv = || {
            opcode::Recv::new(&b, std::ptr::null_mut(), 0)
                .buf_group(3)
                .build()
        };
        a.write_all(b"first").unwrap();
        // SAFETY: the ring's buffer outlives the request.
        let c = unsafe { run1(ring, recv()) };
        assert_eq!((c.result(), c.selected_buffer()), (5, Some(0)), "{c:?}");
        assert!(c.buf_more(), "the buffer is not used up: {c:?}");
        a.write_all(b"second").unwrap();
        // SAFETY: as above.
        let c = unsafe { run1(ring, recv()) };
        assert_eq!((c.result(), c.selected_buffer()), (6, Some(0)), "{c:?}");
        assert_eq!(
            &rx.buf(0)[..11],
            b"firstsecond",
            "appended in the same buffer"
        );
    });
}

#[test]
fn socket_direct_into_a_fixed_slot() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::Socket::CODE,
            opcode::Connect::CODE,
            opcode::Send::CODE,
        ],
        32,
        |_backend, ring| {
            common::raw_register_files_sparse(ring, 4);
            let sqes = [
                opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0)
                    .file_index(DestinationSlot::Alloc)
                    .build()
                    .user_data(1),
                opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0)
                    .file_index(DestinationSlot::Slot(3))
                    .build()
                    .user_data(2),
                // A direct descriptor cannot be close-on-exec.
                opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
                    .file_index(DestinationSlot::Slot(2))
                    .build()
                    .user_data(3),
            ];
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &sqes, 3) });
            let slot = cqes[0].result();
            assert!((0..3).contains(&slot), "allocated {cqes:?}");
            assert_eq!(cqes[1].result(), 0);
            assert_eq!(cqes[2].result(), -libc::EINVAL);

            // The slot is a working socket: connect it and send through it.
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let to = SockAddr::from(l.local_addr().unwrap());
            let c = opcode::Connect::new(Fixed(3), to.as_ptr(), to.len()).build();
            // SAFETY: `to` outlives the request.
            assert_eq!(unsafe { run1(ring, c) }.result(), 0);
            let (mut peer, _) = l.accept().unwrap();
            peer.set_read_timeout(Some(LIMIT)).unwrap();
            let s = opcode::Send::new(Fixed(3), b"direct".as_ptr(), 6).build();
            // SAFETY: the data is static.
            assert_eq!(unsafe { run1(ring, s) }.result(), 6);
            let mut got = [0u8; 6];
            peer.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"direct");
        },
    );
}

#[test]
fn recvmsg_out_parser_on_a_synthetic_buffer() {
    // Header, 8 bytes of name room (the name was 16: truncated), 4 bytes of control
    // room (2 used), payload of 5 of 9 bytes (MSG_TRUNC).
    let mut buf = Vec::new();
    for v in [16u32, 2, 9, libc::MSG_TRUNC as u32] {
        buf.extend_from_slice(&v.to_ne_bytes());
    }
    buf.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    buf.extend_from_slice(&[0xc1, 0xc2, 0, 0]);
    buf.extend_from_slice(b"hello");
    let out = RecvMsgOut::parse_with(&buf, 8, 4).unwrap();
    assert_eq!(out.name_data(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(out.is_name_truncated());
    assert_eq!(out.source(), None, "a truncated name is no address");
    assert_eq!(out.control_data(), &[0xc1, 0xc2]);
    assert!(!out.is_control_truncated());
    assert_eq!(out.payload_data(), b"hello");
    assert!(out.is_payload_truncated());
    assert_eq!(out.incoming_payload_len(), 9);
    // Too short for the areas; and a length overflow.
    assert!(RecvMsgOut::parse_with(&buf[..27], 8, 4).is_err());
    assert!(RecvMsgOut::parse_with(&buf, usize::MAX, 4).is_err());
}
