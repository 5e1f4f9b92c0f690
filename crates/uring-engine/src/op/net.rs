//! Networking, as `io_uring/net.c`: `SOCKET` (also into a fixed slot), `BIND`,
//! `LISTEN`, `CONNECT`, `ACCEPT` (multishot, `DONTWAIT`, `POLL_FIRST`, direct),
//! `SEND`/`SENDMSG` (with a destination, `SEND_VECTORIZED`, provided buffers),
//! `RECV`/`RECVMSG` (`MSG_WAITALL`, multishot with provided buffers and
//! `io_uring_recvmsg_out`, the multishot byte limit of 6.17), `SEND_ZC`/`SENDMSG_ZC`
//! and `SHUTDOWN`.
//!
//! Every attempt is non-blocking (`MSG_DONTWAIT`; for `accept4(2)` and `connect(2)`,
//! which have no such flag, the file is made `O_NONBLOCK` for the call when it is
//! not already); `EAGAIN` waits for readiness in the reactor and tries again, also on
//! `O_NONBLOCK` sockets, as the kernel does. `MSG_DONTWAIT` in the SQE (or
//! `IORING_ACCEPT_DONTWAIT`) posts `-EAGAIN` instead. `POLL_FIRST` waits before the
//! first attempt. A multishot request posts its CQEs with `IORING_CQE_F_MORE` and
//! stays; its last CQE has no `F_MORE`. `MSG_WAITALL` on a stream socket keeps going
//! until all is transferred; a short result fails a link (`Req::expect`).
//!
//! `IORING_CQE_F_SOCK_NONEMPTY` is set where the kernel sets it: on receives from TCP
//! (and MPTCP) and `AF_UNIX` stream sockets, which report the bytes left (`SIOCINQ`
//! here), and on accepts from a TCP listener with more connections queued.
//!
//! Zero-copy sends are emulated by copying sends, with the kernel's sequence of CQEs:
//! once past the point where the kernel allocates the notification (after the
//! `addr3` and `IOSQE_CQE_SKIP_SUCCESS` checks), the request's CQE carries
//! `IORING_CQE_F_MORE` whatever its result (a preparation error, `-EOPNOTSUPP` on a
//! socket without zero-copy, i.e. not TCP or UDP, a cancellation), except
//! `-ECANCELED` from a failed link, and a notification CQE (`IORING_CQE_F_NOTIF`)
//! follows it (`Engine::complete`/`fail_chain` call [`post_notif`]). With
//! `IORING_SEND_ZC_REPORT_USAGE` the notification says
//! `IORING_NOTIF_USAGE_ZC_COPIED`, which is what the kernel reports when it copied (as
//! it does on loopback) or sent nothing.
//!
//! Differences from the kernel: `IORING_RECVSEND_BUNDLE` is refused (`-EINVAL`, and
//! `IORING_FEAT_RECVSEND_BUNDLE` is not advertised); a zero-copy send whose
//! preparation fails in the middle of a link says `F_MORE` (the kernel only for a
//! link's head); a multishot request does not stop when the CQ is full (its CQEs go
//! to the overflow list); `MSG_WAITALL` with a provided buffer does not continue into
//! the same buffer (the short result fails the link); user memory an SQE points to
//! (addresses, `msghdr`, iovecs) is copied at preparation as the kernel does, but
//! only a null pointer is reported as `-EFAULT`; `IORING_OP_URING_CMD` socket commands
//! are not offered (the opcode is refused as a whole).
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use uring_sys as sys;

use super::openclose::install_fixed;
use super::{Mode, Step, advance, neg_errno, no_ioprio, reserved};
use crate::engine::Engine;
use crate::pbuf::Selected;
use crate::req::Req;
use crate::rings::Completion;

/// The request went through a readiness wait (the kernel's `REQ_F_POLLED`).
const POLLED: u64 = 1 << 0;
/// The socket's kind below is known.
const KIND_KNOWN: u64 = 1 << 1;
/// The socket reports the bytes left after a receive (`msg_inq`).
const HAS_INQ: u64 = 1 << 2;
/// A stream (or seqpacket) socket: `MSG_WAITALL` continues after a short transfer.
const STREAM: u64 = 1 << 3;
/// The socket supports zero-copy sends (`SOCK_SUPPORT_ZC`: TCP, UDP).
const ZC: u64 = 1 << 4;
/// `CONNECT`: the connection is in progress.
const CONNECTING: u64 = 1 << 5;
/// `CONNECT`: `ECONNABORTED` was seen once.
const ABORTED: u64 = 1 << 6;
/// `RECV` multishot with a byte limit.
const MSHOT_LIM: u64 = 1 << 7;
/// `MSG_WAITALL` with `MSG_TRUNC`/`MSG_CTRUNC` seen: fail the link.
const TRUNCATED: u64 = 1 << 8;
/// A TCP socket (a listener tells whether more connections wait).
const TCP: u64 = 1 << 9;
/// A zero-copy send past the point where the kernel allocates its notification: its
/// CQE is followed by a notification CQE, whatever becomes of it.
const NOTIF: u64 = 1 << 10;

/// `UIO_MAXIOV`.
const MAX_IOV: usize = 1024;
/// Receives a multishot request makes in a row before it waits again.
const MULTISHOT_MAX_RETRY: u32 = 32;
/// Size of `sockaddr_storage`, the largest socket address.
const SOCK_STORAGE: usize = size_of::<libc::sockaddr_storage>();

/// What a network request keeps (the kernel's `struct io_sr_msg`, `io_accept`,
/// `io_connect`, …), with what issue learns between attempts.
#[derive(Default)]
pub(crate) struct Net {
    /// `POLLED`, `KIND_KNOWN`, … above.
    flags: u64,
    /// Bytes done so far (`MSG_WAITALL`).
    done: usize,
    /// What is left of a multishot receive's byte limit (with `MSHOT_LIM`).
    mshot_left: u64,
    /// What the request copied at preparation (boxed: it is large).
    msg: Option<Box<NetMsg>>,
}

/// What a network request copied at preparation.
pub(crate) struct NetMsg {
    /// The address to send to, bind or connect to.
    addr: libc::sockaddr_storage,
    addrlen: u32,
    /// The iovecs (`SENDMSG`/`RECVMSG`, `SEND_VECTORIZED`), advanced past what is done.
    iov: Vec<libc::iovec>,
    /// The application's control buffer (`msghdr.msg_control`), read or written at
    /// issue, as the kernel does.
    control: *mut libc::c_void,
    controllen: usize,
    /// `RECVMSG`: where the source address goes (`msg_name`) and the room there.
    name: *mut libc::c_void,
    namelen: u32,
    /// `RECVMSG` with provided buffers: the length asked for (`iov[0].iov_len`), and
    /// for multishot the room for the name and control data in each buffer.
    sel_len: u32,
    mshot_namelen: u32,
    mshot_controllen: u32,
    /// `RECVMSG`: the application's `msg_namelen`, `msg_controllen` and `msg_flags`
    /// as they were at preparation ([`write_back_msghdr`]).
    at_prep: (u32, usize, i32),
}

// SAFETY: the raw pointers are the application's memory, valid until the CQE by the
// SQE's contract; moving them between threads moves no data.
unsafe impl Send for NetMsg {}

impl NetMsg {
    fn new() -> Box<NetMsg> {
        Box::new(NetMsg {
            // SAFETY: all-zero is a valid sockaddr_storage.
            addr: unsafe { std::mem::zeroed() },
            addrlen: 0,
            iov: Vec::new(),
            control: std::ptr::null_mut(),
            controllen: 0,
            name: std::ptr::null_mut(),
            namelen: 0,
            sel_len: 0,
            mshot_namelen: 0,
            mshot_controllen: 0,
            at_prep: (0, 0, 0),
        })
    }
}

fn msg(req: &Req) -> Option<&NetMsg> {
    req.cmd::<Net>().msg.as_deref()
}

fn msg_mut(req: &mut Req) -> Option<&mut NetMsg> {
    req.cmd_mut::<Net>().msg.as_deref_mut()
}

// ---- Helpers ----

/// Reads a `T` from application memory (`copy_from_user`).
fn read_user<T: crate::user::Plain>(addr: u64) -> Result<T, i32> {
    crate::user::read(addr)
}

/// `move_addr_to_kernel`: copies a socket address of `len` bytes into `m`.
fn copy_addr(m: &mut NetMsg, addr: u64, len: i64) -> Result<(), i32> {
    if len < 0 || len as usize > SOCK_STORAGE {
        return Err(-libc::EINVAL);
    }
    if len == 0 {
        m.addrlen = 0;
        return Ok(());
    }
    // SAFETY: `len` ≤ SOCK_STORAGE bytes fit in `m.addr`.
    unsafe { crate::user::copy_from_user((&raw mut m.addr).cast::<u8>(), addr, len as usize)? };
    m.addrlen = len as u32;
    Ok(())
}

/// `__import_iovec`: copies `n` iovecs at `addr`.
fn copy_iovecs(addr: u64, n: usize, too_many: i32) -> Result<Vec<libc::iovec>, i32> {
    if n > MAX_IOV {
        return Err(too_many);
    }
    let v = crate::user::read_vec::<libc::iovec>(addr, n)?;
    let mut total: usize = 0;
    for i in &v {
        if i.iov_len > isize::MAX as usize {
            return Err(-libc::EINVAL);
        }
        total = total.saturating_add(i.iov_len);
    }
    if total > isize::MAX as usize {
        return Err(-libc::EINVAL);
    }
    Ok(v)
}

fn iov_total(iov: &[libc::iovec]) -> usize {
    iov.iter().map(|i| i.iov_len).sum()
}

/// Waits for readiness (the kernel's poll arming sets `REQ_F_POLLED`).
fn wait(mut req: Box<Req>, events: i16) -> Step {
    req.cmd_mut::<Net>().flags |= POLLED;
    Step::Wait(req, events)
}

fn polled(req: &Req) -> bool {
    req.cmd::<Net>().flags & POLLED != 0
}

fn getsockopt_int(fd: i32, level: i32, name: i32) -> Result<i32, i32> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid out-pointers for an int option.
    let r = unsafe { libc::getsockopt(fd, level, name, (&raw mut v).cast(), &mut len) };
    if r < 0 { Err(neg_errno()) } else { Ok(v) }
}

/// Learns (once per request) what kind of socket the request's fd is.
fn sock_kind(req: &mut Req) -> Result<u64, i32> {
    if req.cmd::<Net>().flags & KIND_KNOWN == 0 {
        let proto = getsockopt_int(req.fd, libc::SOL_SOCKET, libc::SO_PROTOCOL)?;
        let ty = getsockopt_int(req.fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
        let mut k = KIND_KNOWN;
        if ty == libc::SOCK_STREAM || ty == libc::SOCK_SEQPACKET {
            k |= STREAM;
        }
        match proto {
            libc::IPPROTO_TCP => k |= HAS_INQ | ZC | TCP,
            libc::IPPROTO_MPTCP => k |= HAS_INQ,
            libc::IPPROTO_UDP => k |= ZC,
            0 if ty == libc::SOCK_STREAM
                && getsockopt_int(req.fd, libc::SOL_SOCKET, libc::SO_DOMAIN)? == libc::AF_UNIX =>
            {
                k |= HAS_INQ;
            }
            _ => {}
        }
        req.cmd_mut::<Net>().flags |= k;
    }
    Ok(req.cmd::<Net>().flags)
}

/// Bytes waiting in the socket (`SIOCINQ`).
fn inq(fd: i32) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if r < 0 { 0 } else { n }
}

/// Runs `f` on the request's fd with `O_NONBLOCK` set on the file for the call (for
/// `accept4(2)` and `connect(2)`, which have no `MSG_DONTWAIT`); `-errno` on failure.
fn nonblocking(fd: i32, f: impl FnOnce(i32) -> i32) -> Result<i32, i32> {
    // SAFETY: F_GETFL/F_SETFL on an integer fd touch no memory.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(neg_errno());
    }
    if fl & libc::O_NONBLOCK != 0 {
        let r = f(fd);
        return if r < 0 { Err(neg_errno()) } else { Ok(r) };
    }
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) };
    let r = f(fd);
    let res = if r < 0 { Err(neg_errno()) } else { Ok(r) };
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl) };
    res
}

fn is_send_zc(op: u8) -> bool {
    op == sys::IORING_OP_SEND_ZC || op == sys::IORING_OP_SENDMSG_ZC
}

// ---- SHUTDOWN ----

pub(crate) fn prep_shutdown(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[
        req.off(),
        req.addr(),
        req.op_flags() as u64,
        req.buf_index() as u64,
        req.file_index() as u64,
    ])
}

pub(crate) fn issue_shutdown(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        // REQ_F_FORCE_ASYNC.
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd.
    let r = unsafe { libc::shutdown(req.fd, req.sqe.len as i32) };
    let res = if r < 0 { neg_errno() } else { 0 };
    Step::Done(req, res)
}

// ---- SOCKET ----

pub(crate) fn prep_socket(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[req.addr(), req.op_flags() as u64, req.buf_index() as u64])?;
    let ty = req.off() as i32;
    let flags = ty & !0xf; // SOCK_TYPE_MASK
    if req.file_index() != 0 && flags & libc::SOCK_CLOEXEC != 0 {
        return Err(-libc::EINVAL);
    }
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

pub(crate) fn issue_socket(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let fixed = req.file_index();
    let mut ty = req.off() as i32;
    if fixed != 0 {
        // The engine's own descriptor behind the slot.
        ty |= libc::SOCK_CLOEXEC;
    }
    // SAFETY: socket(2) has no memory arguments.
    let fd = unsafe { libc::socket(req.sqe.fd, ty, req.sqe.len as i32) };
    if fd < 0 {
        return Step::Done(req, neg_errno());
    }
    if fixed == 0 {
        return Step::Done(req, fd);
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let res = install_fixed(e, file, fixed);
    Step::Done(req, res)
}

// ---- BIND, LISTEN, CONNECT ----

pub(crate) fn prep_bind(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[
        req.sqe.len as u64,
        req.buf_index() as u64,
        req.op_flags() as u64,
        req.file_index() as u64,
    ])?;
    let mut m = NetMsg::new();
    copy_addr(&mut m, req.addr(), req.off() as i32 as i64)?;
    req.set_cmd(Net {
        msg: Some(m),
        ..Net::default()
    });
    Ok(())
}

pub(crate) fn issue_bind(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let m = msg(&req).expect("bind prepared its address");
    // SAFETY: the address was copied at prep; `addrlen` bytes of it are valid.
    let r = unsafe { libc::bind(req.fd, (&raw const m.addr).cast(), m.addrlen) };
    let res = if r < 0 { neg_errno() } else { 0 };
    Step::Done(req, res)
}

pub(crate) fn prep_listen(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[
        req.addr(),
        req.buf_index() as u64,
        req.op_flags() as u64,
        req.file_index() as u64,
        req.off(),
    ])
}

pub(crate) fn issue_listen(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    // SAFETY: a plain system call on an fd.
    let r = unsafe { libc::listen(req.fd, req.sqe.len as i32) };
    let res = if r < 0 { neg_errno() } else { 0 };
    Step::Done(req, res)
}

pub(crate) fn prep_connect(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    no_ioprio(req)?;
    reserved(&[
        req.sqe.len as u64,
        req.buf_index() as u64,
        req.op_flags() as u64,
        req.file_index() as u64,
    ])?;
    let mut m = NetMsg::new();
    copy_addr(&mut m, req.addr(), req.off() as i32 as i64)?;
    req.set_cmd(Net {
        msg: Some(m),
        ..Net::default()
    });
    Ok(())
}

pub(crate) fn issue_connect(mut req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let fd = req.fd;
    if req.cmd::<Net>().flags & CONNECTING != 0 {
        // Woken while connecting: the socket's error, or connected, or (a spurious
        // wakeup) still connecting.
        match getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR) {
            Err(err) => return Step::Done(req, err),
            Ok(0) => {}
            Ok(err) => return Step::Done(req, -err),
        }
        // SAFETY: an all-zero sockaddr_storage is a valid out-buffer of its size.
        let mut a: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = SOCK_STORAGE as libc::socklen_t;
        // SAFETY: `a` and `len` describe a writable buffer.
        let r = unsafe { libc::getpeername(fd, (&raw mut a).cast(), &mut len) };
        if r == 0 {
            return Step::Done(req, 0);
        }
        return wait(req, libc::POLLOUT);
    }
    let m = msg(&req).expect("connect prepared its address");
    let (addr, len) = ((&raw const m.addr).cast::<libc::sockaddr>(), m.addrlen);
    // SAFETY: the address copied at prep, `len` bytes of it valid.
    let r = nonblocking(fd, |fd| unsafe { libc::connect(fd, addr, len) });
    match r {
        Ok(_) => Step::Done(req, 0),
        Err(err) if err == -libc::EINPROGRESS => {
            req.cmd_mut::<Net>().flags |= CONNECTING;
            wait(req, libc::POLLOUT)
        }
        Err(err) if err == -libc::EAGAIN => wait(req, libc::POLLOUT),
        Err(err) if err == -libc::ECONNABORTED && req.cmd::<Net>().flags & ABORTED == 0 => {
            req.cmd_mut::<Net>().flags |= ABORTED;
            wait(req, libc::POLLOUT)
        }
        Err(err) => Step::Done(req, err),
    }
}

// ---- ACCEPT ----

const ACCEPT_FLAGS: u16 =
    sys::IORING_ACCEPT_MULTISHOT | sys::IORING_ACCEPT_DONTWAIT | sys::IORING_ACCEPT_POLL_FIRST;

pub(crate) fn prep_accept(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.sqe.len as u64, req.buf_index() as u64])?;
    let iou = req.sqe.ioprio;
    if iou & !ACCEPT_FLAGS != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags() as i32;
    let slot = req.file_index();
    if slot != 0 {
        if flags & libc::SOCK_CLOEXEC != 0 {
            return Err(-libc::EINVAL);
        }
        if iou & sys::IORING_ACCEPT_MULTISHOT != 0 && slot != sys::IORING_FILE_INDEX_ALLOC {
            return Err(-libc::EINVAL);
        }
    }
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Net::default());
    Ok(())
}

pub(crate) fn issue_accept(mut req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let iou = req.sqe.ioprio;
    if iou & sys::IORING_ACCEPT_POLL_FIRST != 0 && !polled(&req) {
        return wait(req, libc::POLLIN);
    }
    let slot = req.file_index();
    let multishot = iou & sys::IORING_ACCEPT_MULTISHOT != 0;
    let mut flags = req.op_flags() as i32;
    if slot != 0 {
        flags |= libc::SOCK_CLOEXEC;
    }
    let (addr, addrlen) = (
        req.addr() as *mut libc::sockaddr,
        req.off() as *mut libc::socklen_t,
    );
    let mut loops = 0;
    loop {
        // SAFETY: `addr`/`addrlen` are the application's (or null), valid until the
        // CQE by the SQE's contract.
        let r = nonblocking(req.fd, |fd| unsafe {
            libc::accept4(fd, addr, addrlen, flags)
        });
        let fd = match r {
            Ok(fd) => fd,
            Err(err) if err == -libc::EAGAIN && iou & sys::IORING_ACCEPT_DONTWAIT == 0 => {
                return wait(req, libc::POLLIN);
            }
            Err(err) => return Step::Done(req, err),
        };
        let res = if slot != 0 {
            // SAFETY: a fresh descriptor nobody else owns.
            install_fixed(e, unsafe { OwnedFd::from_raw_fd(fd) }, slot)
        } else {
            fd
        };
        // Whether more connections wait (the kernel knows for TCP listeners).
        let kind = sock_kind(&mut req).unwrap_or(0);
        let known = kind & TCP != 0;
        let mut cflags = 0;
        if known && res >= 0 && crate::reactor::poll_now(req.fd, libc::POLLIN).unwrap_or(0) != 0 {
            cflags |= sys::IORING_CQE_F_SOCK_NONEMPTY;
        }
        if res >= 0 && multishot && e.post_more(req.user_data(), res, cflags) {
            loops += 1;
            if (cflags != 0 || !known) && loops < MULTISHOT_MAX_RETRY {
                continue;
            }
            return wait(req, libc::POLLIN);
        }
        req.cflags |= cflags;
        return Step::Done(req, res);
    }
}

// ---- SEND, SENDMSG, SEND_ZC, SENDMSG_ZC ----

const SEND_FLAGS: u16 = sys::IORING_RECVSEND_POLL_FIRST | sys::IORING_SEND_VECTORIZED;
const ZC_FLAGS: u16 = sys::IORING_RECVSEND_POLL_FIRST
    | sys::IORING_RECVSEND_FIXED_BUF
    | sys::IORING_SEND_ZC_REPORT_USAGE
    | sys::IORING_SEND_VECTORIZED;

/// Copies the `msghdr` of `SENDMSG`/`RECVMSG` (`io_msg_copy_hdr`, `__copy_msghdr`).
fn copy_msghdr(req: &Req, m: &mut NetMsg, recv: bool) -> Result<libc::msghdr, i32> {
    let h: libc::msghdr = read_user(req.addr())?;
    let mut namelen = h.msg_namelen as i32;
    if h.msg_name.is_null() {
        namelen = 0;
    }
    if namelen < 0 {
        return Err(-libc::EINVAL);
    }
    namelen = namelen.min(SOCK_STORAGE as i32);
    if !h.msg_name.is_null() && namelen != 0 {
        if recv {
            m.name = h.msg_name;
            m.namelen = namelen as u32;
        } else {
            copy_addr(m, h.msg_name as u64, namelen as i64)?;
        }
    }
    if h.msg_iovlen > MAX_IOV {
        return Err(-libc::EMSGSIZE);
    }
    m.control = h.msg_control;
    m.controllen = h.msg_controllen;
    Ok(h)
}

pub(crate) fn prep_send(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    let op = req.opcode();
    let zc = is_send_zc(op);
    let iou = req.sqe.ioprio;
    if zc {
        // SAFETY: plain integers over the same bytes.
        let pad2 = unsafe { req.sqe.addr3_or_cmd.addr3.__pad2[0] };
        if pad2 != 0 || req.addr3() != 0 {
            return Err(-libc::EINVAL);
        }
        if req.has(sys::IOSQE_CQE_SKIP_SUCCESS) {
            return Err(-libc::EINVAL);
        }
        // The kernel allocates the notification here: from now on, failing or not,
        // the request's CQE has F_MORE (but for a failed link's -ECANCELED) and a
        // notification follows it (see `post_notif`).
        req.set_cmd(Net {
            flags: NOTIF,
            ..Net::default()
        });
        req.cflags |= sys::IORING_CQE_F_MORE;
        if iou & !ZC_FLAGS != 0 {
            return Err(-libc::EINVAL);
        }
    } else if iou & !(SEND_FLAGS | sys::IORING_RECVSEND_BUNDLE) != 0 {
        return Err(-libc::EINVAL);
    }
    if iou & sys::IORING_RECVSEND_BUNDLE != 0 {
        // Bundles are not done by the engine (nor advertised).
        return Err(-libc::EINVAL);
    }
    let mut m = NetMsg::new();
    let total: usize;
    if op == sys::IORING_OP_SEND || op == sys::IORING_OP_SEND_ZC {
        // SAFETY: plain integers over the same bytes.
        let (addr_len, pad3) = unsafe {
            let a = req.sqe.splice_fd_in_or_file_index.addr_len;
            (a.addr_len, a.__pad3[0])
        };
        if pad3 != 0 {
            return Err(-libc::EINVAL);
        }
        let dest = req.off();
        if dest != 0 {
            copy_addr(&mut m, dest, addr_len as i64)?;
        }
        if iou & sys::IORING_RECVSEND_FIXED_BUF != 0 {
            if iou & sys::IORING_SEND_VECTORIZED != 0 {
                return Err(-libc::EINVAL);
            }
            total = req.sqe.len as usize;
        } else if req.has(sys::IOSQE_BUFFER_SELECT) {
            total = 0;
        } else if iou & sys::IORING_SEND_VECTORIZED != 0 {
            m.iov = copy_iovecs(req.addr(), req.sqe.len as usize, -libc::EINVAL)?;
            total = iov_total(&m.iov);
        } else {
            total = req.sqe.len as usize;
        }
    } else {
        if req.off() != 0 || req.file_index() != 0 {
            return Err(-libc::EINVAL);
        }
        let h = copy_msghdr(req, &mut m, false)?;
        m.iov = copy_iovecs(h.msg_iov as u64, h.msg_iovlen, -libc::EMSGSIZE)?;
        total = iov_total(&m.iov);
    }
    if req.op_flags() as i32 & libc::MSG_WAITALL != 0 && total > 0 {
        req.expect = Some(total.min(i32::MAX as usize) as i32);
    }
    if !zc {
        req.set_cmd(Net::default());
    }
    req.cmd_mut::<Net>().msg = Some(m);
    Ok(())
}

/// Whether a zero-copy send got as far as its notification (a failed prep may have
/// stopped before).
fn notif(req: &Req) -> bool {
    req.try_cmd::<Net>().is_some_and(|n| n.flags & NOTIF != 0)
}

/// The CQE flags of a request failed without being issued (`Engine::fail_chain`): a
/// zero-copy send that failed its own preparation after the notification was
/// allocated says `F_MORE` (the kernel's `io_sendrecv_fail`), one cancelled because
/// its link failed does not (`io_req_tw_fail_links`).
pub(crate) fn fail_flags(req: &Req) -> u32 {
    if is_send_zc(req.opcode()) && notif(req) && req.failed.is_some() {
        sys::IORING_CQE_F_MORE
    } else {
        0
    }
}

/// After a zero-copy send's CQE: its notification (`IORING_CQE_F_NOTIF`), with
/// `IORING_NOTIF_USAGE_ZC_COPIED` when usage reports were asked for, since the engine
/// always copies (as the kernel reports when it copied, or sent nothing).
pub(crate) fn post_notif(e: &Engine, req: &Req) {
    if !is_send_zc(req.opcode()) || !notif(req) {
        return;
    }
    let res = if req.sqe.ioprio & sys::IORING_SEND_ZC_REPORT_USAGE != 0 {
        sys::IORING_NOTIF_USAGE_ZC_COPIED as i32
    } else {
        0
    };
    e.post(Completion {
        user_data: req.user_data(),
        res,
        flags: sys::IORING_CQE_F_NOTIF,
        big: [0; 2],
    });
}

pub(crate) fn issue_send(mut req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let op = req.opcode();
    let iou = req.sqe.ioprio;
    let done = req.cmd::<Net>().done;
    // (A zero-copy send's F_MORE and notification come with its completion.)
    if is_send_zc(op) {
        match sock_kind(&mut req) {
            Err(err) => return Step::Done(req, err),
            Ok(k) if k & ZC == 0 => return Step::Done(req, -libc::EOPNOTSUPP),
            Ok(_) => {}
        }
    }
    if iou & sys::IORING_RECVSEND_POLL_FIRST != 0 && !polled(&req) {
        return wait(req, libc::POLLOUT);
    }
    let user_flags = req.op_flags() as i32;
    let flags = user_flags | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    let bgid = req.buf_index();
    let single = (op == sys::IORING_OP_SEND || op == sys::IORING_OP_SEND_ZC)
        && iou & sys::IORING_SEND_VECTORIZED == 0;
    let picked = if single {
        send_buffer(&req, e, done)
    } else if iou & sys::IORING_RECVSEND_FIXED_BUF != 0 {
        check_fixed_iovecs(&req, e).map(|()| (EMPTY_IOV, None))
    } else {
        Ok((EMPTY_IOV, None))
    };
    let (mut one, sel) = match picked {
        Ok(b) => b,
        Err(err) => return Step::Done(req, err),
    };
    let m = msg(&req).expect("send prepared its state");
    let h = send_hdr(m, single.then_some(&mut one));
    let want = if single {
        one.iov_len
    } else {
        iov_total(&m.iov)
    };
    // SAFETY: the msghdr points to the copied address and iovecs, and to the
    // application's buffers and control data, valid until the CQE.
    let ret = unsafe { libc::sendmsg(req.fd, &h, flags) };
    if ret < 0 {
        let err = neg_errno();
        if let Some(s) = sel {
            e.pbufs.recycle(bgid, s);
        }
        if err == -libc::EAGAIN && user_flags & libc::MSG_DONTWAIT == 0 {
            return wait(req, libc::POLLOUT);
        }
        return Step::Done(req, if done > 0 { done as i32 } else { err });
    }
    let ret = ret as usize;
    if user_flags & libc::MSG_WAITALL != 0
        && ret > 0
        && ret < want
        && sel.is_none()
        && sock_kind(&mut req).unwrap_or(0) & STREAM != 0
    {
        return send_rest(req, done + ret, ret, single);
    }
    if let Some(s) = sel {
        req.cflags |= e.pbufs.commit(bgid, s, ret as u32);
    }
    Step::Done(req, (done + ret) as i32)
}

/// An empty iovec, filled in where one buffer is used.
const EMPTY_IOV: libc::iovec = libc::iovec {
    iov_base: std::ptr::null_mut(),
    iov_len: 0,
};

/// The one buffer of a `SEND`/`SEND_ZC`, past what is done: a provided one
/// (`IOSQE_BUFFER_SELECT`, returned to commit or recycle), a registered one
/// (`IORING_RECVSEND_FIXED_BUF`, checked) or the application's.
fn send_buffer(req: &Req, e: &Engine, done: usize) -> Result<(libc::iovec, Option<Selected>), i32> {
    if req.has(sys::IOSQE_BUFFER_SELECT) {
        let s = e.pbufs.select(req.buf_index(), req.sqe.len)?;
        let one = libc::iovec {
            iov_base: s.addr as *mut libc::c_void,
            iov_len: s.len as usize,
        };
        return Ok((one, Some(s)));
    }
    let (addr, len) = (req.addr(), req.sqe.len as u64);
    if req.sqe.ioprio & sys::IORING_RECVSEND_FIXED_BUF != 0 {
        let buf = e
            .bufs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(req.buf_index());
        if buf.is_none_or(|b| b.check(addr, len).is_err()) {
            return Err(-libc::EFAULT);
        }
    }
    let one = libc::iovec {
        iov_base: (addr as usize + done) as *mut libc::c_void,
        iov_len: len as usize - done.min(len as usize),
    };
    Ok((one, None))
}

/// `SENDMSG_ZC` over registered buffers: every iovec must lie inside the buffer
/// (`-EFAULT`).
fn check_fixed_iovecs(req: &Req, e: &Engine) -> Result<(), i32> {
    let buf = e
        .bufs
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(req.buf_index());
    let m = msg(req).expect("sendmsg prepared its msghdr");
    let ok = buf.is_some_and(|b| {
        m.iov
            .iter()
            .all(|i| b.check(i.iov_base as u64, i.iov_len as u64).is_ok())
    });
    if ok { Ok(()) } else { Err(-libc::EFAULT) }
}

/// The `msghdr` of one send: the copied destination address, and `one` buffer or the
/// copied iovecs with the control data.
fn send_hdr(m: &NetMsg, one: Option<&mut libc::iovec>) -> libc::msghdr {
    // SAFETY: all-zero is a valid msghdr; the fields are set below.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    if m.addrlen > 0 {
        h.msg_name = (&raw const m.addr).cast_mut().cast();
        h.msg_namelen = m.addrlen;
    }
    match one {
        Some(one) => {
            h.msg_iov = one;
            h.msg_iovlen = 1;
        }
        None => {
            h.msg_iov = m.iov.as_ptr().cast_mut();
            h.msg_iovlen = m.iov.len();
            h.msg_control = m.control;
            h.msg_controllen = m.controllen;
        }
    }
    h
}

/// A short `MSG_WAITALL` send on a stream socket: `done` bytes are sent (`sent` by
/// this attempt), the rest goes when the socket has room.
fn send_rest(mut req: Box<Req>, done: usize, sent: usize, single: bool) -> Step {
    req.cmd_mut::<Net>().done = done;
    if !single && let Some(m) = msg_mut(&mut req) {
        advance(&mut m.iov, sent);
        // The control data went with the first part.
        m.control = std::ptr::null_mut();
        m.controllen = 0;
    }
    wait(req, libc::POLLOUT)
}

// ---- RECV, RECVMSG ----

const RECV_FLAGS: u16 = sys::IORING_RECVSEND_POLL_FIRST | sys::IORING_RECV_MULTISHOT;

pub(crate) fn prep_recv(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    let op = req.opcode();
    if req.off() != 0 {
        return Err(-libc::EINVAL);
    }
    let iou = req.sqe.ioprio;
    if iou & !(RECV_FLAGS | sys::IORING_RECVSEND_BUNDLE) != 0 {
        return Err(-libc::EINVAL);
    }
    let select = req.has(sys::IOSQE_BUFFER_SELECT);
    let flags = req.op_flags() as i32;
    let optlen = req.file_index();
    req.set_cmd(Net::default());
    if iou & sys::IORING_RECV_MULTISHOT != 0 {
        if !select || flags & libc::MSG_WAITALL != 0 {
            return Err(-libc::EINVAL);
        }
        if op == sys::IORING_OP_RECV {
            if optlen != 0 {
                let n = req.cmd_mut::<Net>();
                n.flags |= MSHOT_LIM;
                n.mshot_left = optlen as u64;
            }
        } else if optlen != 0 {
            return Err(-libc::EINVAL);
        }
    } else if optlen != 0 {
        return Err(-libc::EINVAL);
    }
    if iou & sys::IORING_RECVSEND_BUNDLE != 0 {
        // Not for RECVMSG in the kernel either; RECV bundles are not done by the
        // engine.
        return Err(-libc::EINVAL);
    }
    let mut total = req.sqe.len as usize;
    if op == sys::IORING_OP_RECVMSG {
        let mut m = NetMsg::new();
        let h = copy_msghdr(req, &mut m, true)?;
        m.at_prep = (h.msg_namelen, h.msg_controllen, h.msg_flags);
        if select {
            match h.msg_iovlen {
                0 => m.sel_len = 0,
                1 => {
                    let iov: libc::iovec = read_user(h.msg_iov as u64)?;
                    m.sel_len = iov.iov_len as u32;
                }
                _ => return Err(-libc::EINVAL),
            }
            if iou & sys::IORING_RECV_MULTISHOT != 0 {
                // The room for the name and the control data in each buffer.
                let namelen = h.msg_namelen as i32;
                if namelen < 0 {
                    return Err(-libc::EOVERFLOW);
                }
                let hdr = (size_of::<sys::io_uring_recvmsg_out>() as u64)
                    .checked_add(namelen as u64)
                    .and_then(|v| v.checked_add(h.msg_controllen as u64));
                if hdr.is_none_or(|v| v > i32::MAX as u64) {
                    return Err(-libc::EOVERFLOW);
                }
                m.mshot_namelen = namelen as u32;
                m.mshot_controllen = h.msg_controllen as u32;
            }
            total = 0;
        } else {
            m.iov = copy_iovecs(h.msg_iov as u64, h.msg_iovlen, -libc::EMSGSIZE)?;
            total = if m.controllen == 0 {
                iov_total(&m.iov)
            } else {
                // "disable partial retry for recvmsg with cmsg attached"
                0
            };
        }
        req.cmd_mut::<Net>().msg = Some(m);
    }
    if flags & libc::MSG_WAITALL != 0 && !select && total > 0 {
        req.expect = Some(total.min(i32::MAX as usize) as i32);
    }
    Ok(())
}

/// The `msghdr` for one receive.
fn recv_hdr(req: &Req, iov: *mut libc::iovec, iovlen: usize) -> libc::msghdr {
    // SAFETY: all-zero is a valid msghdr; the fields are set below.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    h.msg_iov = iov;
    h.msg_iovlen = iovlen;
    if let Some(m) = msg(req) {
        h.msg_name = m.name;
        h.msg_namelen = m.namelen;
        h.msg_control = m.control;
        h.msg_controllen = m.controllen;
    }
    h
}

pub(crate) fn issue_recv(mut req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let iou = req.sqe.ioprio;
    if iou & sys::IORING_RECVSEND_POLL_FIRST != 0 && !polled(&req) {
        return wait(req, libc::POLLIN);
    }
    let multishot_recvmsg =
        iou & sys::IORING_RECV_MULTISHOT != 0 && req.opcode() == sys::IORING_OP_RECVMSG;
    let mut loops = 0;
    loop {
        let flow = if multishot_recvmsg {
            recvmsg_multishot_once(req, e, &mut loops)
        } else {
            recv_once(req, e, &mut loops)
        };
        match flow {
            Flow::Again(r) => req = r,
            Flow::Stop(step) => return step,
        }
    }
}

/// What a receive leaves to do.
enum Flow {
    /// Receive again: the rest of a `MSG_WAITALL`, the next CQE of a multishot.
    Again(Box<Req>),
    /// Done for now.
    Stop(Step),
}

/// The buffer of one receive: a provided one (`IOSQE_BUFFER_SELECT`, returned to
/// commit or recycle), or `RECV`'s own past what is done; empty for `RECVMSG`'s
/// iovecs.
fn recv_buffer(req: &Req, e: &Engine, done: usize) -> Result<(libc::iovec, Option<Selected>), i32> {
    let op = req.opcode();
    if req.has(sys::IOSQE_BUFFER_SELECT) {
        let want = if op == sys::IORING_OP_RECV {
            req.sqe.len
        } else {
            msg(req).map_or(0, |m| m.sel_len)
        };
        let s = e.pbufs.select(req.buf_index(), want)?;
        let one = libc::iovec {
            iov_base: s.addr as *mut libc::c_void,
            iov_len: s.len as usize,
        };
        return Ok((one, Some(s)));
    }
    if op == sys::IORING_OP_RECV {
        let len = req.sqe.len as usize;
        let one = libc::iovec {
            iov_base: (req.addr() as usize + done) as *mut libc::c_void,
            iov_len: len - done.min(len),
        };
        return Ok((one, None));
    }
    Ok((EMPTY_IOV, None))
}

/// One receive of a multishot `RECVMSG`, into a provided buffer.
fn recvmsg_multishot_once(mut req: Box<Req>, e: &Engine, loops: &mut u32) -> Flow {
    let user_flags = req.op_flags() as i32;
    let bgid = req.buf_index();
    let done = req.cmd::<Net>().done;
    let s = match recv_buffer(&req, e, done) {
        Ok((_, sel)) => sel.expect("multishot selects a buffer"),
        Err(err) => return Flow::Stop(Step::Done(req, err)),
    };
    match recvmsg_multishot(&req, s, user_flags | libc::MSG_DONTWAIT) {
        Ok(None) => {
            e.pbufs.recycle(bgid, s);
            if user_flags & libc::MSG_DONTWAIT != 0 {
                return Flow::Stop(Step::Done(req, -libc::EAGAIN));
            }
            Flow::Stop(wait(req, libc::POLLIN))
        }
        Ok(Some((res, finished))) => {
            let cflags = e.pbufs.commit(bgid, s, res as u32);
            if finished {
                req.cflags |= cflags;
                return Flow::Stop(Step::Done(req, res));
            }
            if !e.post_more(req.user_data(), res, cflags) {
                req.cflags |= cflags;
                return Flow::Stop(Step::Done(req, res));
            }
            *loops += 1;
            // Datagram sockets do not say what is left: try again.
            if *loops < MULTISHOT_MAX_RETRY {
                return Flow::Again(req);
            }
            Flow::Stop(wait(req, libc::POLLIN))
        }
        Err(err) => {
            e.pbufs.recycle(bgid, s);
            Flow::Stop(Step::Done(req, err))
        }
    }
}

/// One receive of `RECV` (one shot or multishot) or a one-shot `RECVMSG`.
fn recv_once(mut req: Box<Req>, e: &Engine, loops: &mut u32) -> Flow {
    let op = req.opcode();
    let user_flags = req.op_flags() as i32;
    let bgid = req.buf_index();
    let done = req.cmd::<Net>().done;
    let (mut one, sel) = match recv_buffer(&req, e, done) {
        Ok(b) => b,
        Err(err) => return Flow::Stop(Step::Done(req, err)),
    };
    let mut h = if op == sys::IORING_OP_RECVMSG && !req.has(sys::IOSQE_BUFFER_SELECT) {
        let m = msg(&req).expect("recvmsg prepared its msghdr");
        recv_hdr(&req, m.iov.as_ptr().cast_mut(), m.iov.len())
    } else {
        let mut h = recv_hdr(&req, &mut one, 1);
        if op == sys::IORING_OP_RECV {
            h.msg_name = std::ptr::null_mut();
            h.msg_namelen = 0;
        }
        h
    };
    // SAFETY: the msghdr points to the application's buffers (or a provided
    // one), name and control buffers, valid until the CQE.
    let ret = unsafe { libc::recvmsg(req.fd, &mut h, user_flags | libc::MSG_DONTWAIT) };
    if ret < 0 {
        let err = neg_errno();
        if let Some(s) = sel {
            e.pbufs.recycle(bgid, s);
        }
        if err == -libc::EAGAIN && user_flags & libc::MSG_DONTWAIT == 0 {
            return Flow::Stop(wait(req, libc::POLLIN));
        }
        return Flow::Stop(Step::Done(req, if done > 0 { done as i32 } else { err }));
    }
    let ret = ret as usize;
    if op == sys::IORING_OP_RECVMSG {
        write_back_msghdr(&req, &h);
    }
    if user_flags & libc::MSG_WAITALL != 0 {
        if h.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
            req.cmd_mut::<Net>().flags |= TRUNCATED;
        }
        let want = req.expect.map_or(0, |w| w as usize);
        if ret > 0 && done + ret < want && sock_kind(&mut req).unwrap_or(0) & STREAM != 0 {
            req.cmd_mut::<Net>().done = done + ret;
            if op == sys::IORING_OP_RECVMSG
                && let Some(m) = msg_mut(&mut req)
            {
                advance(&mut m.iov, ret);
            }
            return Flow::Again(req);
        }
    }
    recv_done(req, e, sel, done + ret, ret > 0, loops)
}

/// What `recvmsg(2)` writes back into the application's `msghdr` (`RECVMSG`): only
/// the fields whose value changed since preparation. The kernel stores them all, from
/// the receiving task inside `io_uring_enter`; the engine stores from another thread,
/// at any moment, so a program that let its `msghdr` go out of scope after the submit
/// (the kernel copied it; liburing's recv-msgall-stream test does) would find a live
/// stack frame overwritten. Storing a value that is already there changes nothing.
fn write_back_msghdr(req: &Req, h: &libc::msghdr) {
    let umsg = req.addr() as *mut libc::msghdr;
    let (namelen, controllen, flags) = msg(req).map_or((0, 0, 0), |m| m.at_prep);
    // SAFETY: the application's msghdr, valid until the CQE.
    unsafe {
        if !h.msg_name.is_null() && h.msg_namelen != namelen {
            (&raw mut (*umsg).msg_namelen).write_unaligned(h.msg_namelen);
        }
        if h.msg_controllen != controllen {
            (&raw mut (*umsg).msg_controllen).write_unaligned(h.msg_controllen);
        }
        if h.msg_flags != flags {
            (&raw mut (*umsg).msg_flags).write_unaligned(h.msg_flags);
        }
    }
}

/// After a receive of `total` bytes in all (`got`: this attempt received some): the
/// CQE flags, the provided buffer, and for a multishot the next receive.
fn recv_done(
    mut req: Box<Req>,
    e: &Engine,
    sel: Option<Selected>,
    total: usize,
    got: bool,
    loops: &mut u32,
) -> Flow {
    let bgid = req.buf_index();
    let mut cflags = 0;
    if got && sock_kind(&mut req).unwrap_or(0) & HAS_INQ != 0 && inq(req.fd) > 0 {
        cflags |= sys::IORING_CQE_F_SOCK_NONEMPTY;
    }
    if let Some(s) = sel {
        if total > 0 {
            cflags |= e.pbufs.commit(bgid, s, total as u32);
        } else {
            e.pbufs.recycle(bgid, s);
        }
    }
    if req.cmd::<Net>().flags & TRUNCATED != 0 {
        // MSG_WAITALL and truncated: the kernel fails the request's link.
        req.expect = Some(i32::MAX);
    }
    if req.sqe.ioprio & sys::IORING_RECV_MULTISHOT != 0 && total > 0 {
        let mut finished = false;
        if req.cmd::<Net>().flags & MSHOT_LIM != 0 {
            let n = req.cmd_mut::<Net>();
            n.mshot_left = n.mshot_left.saturating_sub(total as u64);
            finished = n.mshot_left == 0;
        }
        if !finished && !e.post_more(req.user_data(), total as i32, cflags) {
            finished = true;
        }
        if !finished {
            req.cmd_mut::<Net>().done = 0;
            *loops += 1;
            let more = cflags & sys::IORING_CQE_F_SOCK_NONEMPTY != 0
                || sock_kind(&mut req).unwrap_or(0) & HAS_INQ == 0;
            if more && *loops < MULTISHOT_MAX_RETRY {
                return Flow::Again(req);
            }
            return Flow::Stop(wait(req, libc::POLLIN));
        }
    }
    req.cflags |= cflags;
    Flow::Stop(Step::Done(req, total as i32))
}

/// One receive of a multishot `RECVMSG` into provided buffer `s`: the buffer gets an
/// `io_uring_recvmsg_out` header, the name, the control data and the payload
/// (`io_recvmsg_multishot`). `Ok(None)`: nothing to receive; `Ok(Some((res,
/// finished)))`.
fn recvmsg_multishot(req: &Req, s: Selected, flags: i32) -> Result<Option<(i32, bool)>, i32> {
    let m = msg(req).expect("recvmsg prepared its msghdr");
    let out = size_of::<sys::io_uring_recvmsg_out>();
    let (namelen, controllen) = (m.mshot_namelen as usize, m.mshot_controllen as usize);
    let hdr = out + namelen + controllen;
    if (s.len as usize) < hdr {
        return Err(-libc::EFAULT);
    }
    let base = s.addr as usize;
    let payload_room = s.len as usize - hdr;
    let mut iov = libc::iovec {
        iov_base: (base + hdr) as *mut libc::c_void,
        iov_len: payload_room,
    };
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    if namelen > 0 {
        h.msg_name = (&raw mut name).cast();
        h.msg_namelen = SOCK_STORAGE as u32;
    }
    if controllen > 0 {
        h.msg_control = (base + out + namelen) as *mut libc::c_void;
        h.msg_controllen = controllen;
    }
    h.msg_iov = &mut iov;
    h.msg_iovlen = 1;
    // SAFETY: the msghdr points into the provided buffer (room checked above) and to
    // locals.
    let r = unsafe { libc::recvmsg(req.fd, &mut h, flags) };
    if r < 0 {
        let err = neg_errno();
        return if err == -libc::EAGAIN {
            Ok(None)
        } else {
            Err(err)
        };
    }
    let r = r as usize;
    let header = sys::io_uring_recvmsg_out {
        namelen: if namelen > 0 { h.msg_namelen } else { 0 },
        controllen: if controllen > 0 {
            h.msg_controllen as u32
        } else {
            0
        },
        payloadlen: r as u32,
        flags: h.msg_flags as u32,
    };
    let copy_name = (header.namelen as usize).min(namelen);
    // SAFETY: the header and the name fit in the buffer (checked above).
    unsafe {
        (base as *mut sys::io_uring_recvmsg_out).write_unaligned(header);
        std::ptr::copy_nonoverlapping(
            (&raw const name).cast::<u8>(),
            (base + out) as *mut u8,
            copy_name,
        );
    }
    let res = hdr + r.min(payload_room);
    Ok(Some((res as i32, r == 0)))
}
