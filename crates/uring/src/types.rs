//! Small types the opcode builders take.
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use uring_sys as sys;

/// A file descriptor for an SQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fd(pub RawFd);

/// An index into the ring's registered files (`IOSQE_FIXED_FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fixed(pub u32);

/// The file an SQE acts on: a plain descriptor or a registered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A plain file descriptor.
    Fd(RawFd),
    /// A registered file index.
    Fixed(u32),
}

impl Target {
    /// Writes the target into `sqe`: the fd field, and `IOSQE_FIXED_FILE` if fixed.
    #[inline]
    pub(crate) fn apply(self, sqe: &mut sys::io_uring_sqe) {
        match self {
            Target::Fd(fd) => sqe.fd = fd,
            Target::Fixed(i) => {
                sqe.fd = i as i32;
                sqe.flags |= sys::IOSQE_FIXED_FILE;
            }
        }
    }
}

impl From<Fd> for Target {
    fn from(fd: Fd) -> Target {
        Target::Fd(fd.0)
    }
}

impl From<Fixed> for Target {
    fn from(f: Fixed) -> Target {
        Target::Fixed(f.0)
    }
}

impl From<RawFd> for Target {
    fn from(fd: RawFd) -> Target {
        Target::Fd(fd)
    }
}

impl<T: AsRawFd> From<&T> for Target {
    fn from(f: &T) -> Target {
        Target::Fd(f.as_raw_fd())
    }
}

/// What an opcode builder's file argument accepts: [`Fd`], [`Fixed`], a raw fd, a
/// [`Target`], or `&impl AsRawFd` (a `File`, a socket). Sealed: the conversions are
/// this crate's, as the io-uring crate's `UseFixed`; every other argument of a builder
/// takes its plain type.
pub trait IntoTarget: sealed::Sealed {
    /// The conversion.
    fn into_target(self) -> Target;
}

mod sealed {
    /// Only this crate implements [`IntoTarget`](super::IntoTarget).
    pub trait Sealed {}

    impl Sealed for super::Target {}
    impl Sealed for super::Fd {}
    impl Sealed for super::Fixed {}
    impl Sealed for std::os::fd::RawFd {}
    impl<T: std::os::fd::AsRawFd> Sealed for &T {}
}

impl IntoTarget for Target {
    #[inline]
    fn into_target(self) -> Target {
        self
    }
}

impl IntoTarget for Fd {
    #[inline]
    fn into_target(self) -> Target {
        Target::Fd(self.0)
    }
}

impl IntoTarget for Fixed {
    #[inline]
    fn into_target(self) -> Target {
        Target::Fixed(self.0)
    }
}

impl IntoTarget for RawFd {
    #[inline]
    fn into_target(self) -> Target {
        Target::Fd(self)
    }
}

impl<T: AsRawFd> IntoTarget for &T {
    #[inline]
    fn into_target(self) -> Target {
        Target::Fd(self.as_raw_fd())
    }
}

/// A kernel timespec (`struct __kernel_timespec`) for timeouts. The SQE points to it,
/// so it must outlive the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Timespec(pub(crate) sys::__kernel_timespec);

impl Timespec {
    /// Zero.
    pub const fn new() -> Self {
        Timespec(sys::__kernel_timespec {
            tv_sec: 0,
            tv_nsec: 0,
        })
    }

    /// Seconds.
    pub const fn sec(mut self, sec: u64) -> Self {
        self.0.tv_sec = sec as i64;
        self
    }

    /// Nanoseconds.
    pub const fn nsec(mut self, nsec: u32) -> Self {
        self.0.tv_nsec = nsec as i64;
        self
    }
}

impl From<Duration> for Timespec {
    fn from(d: Duration) -> Timespec {
        Timespec::new().sec(d.as_secs()).nsec(d.subsec_nanos())
    }
}

/// Where an opcode that creates a descriptor (`OPENAT`, `ACCEPT`, `SOCKET`, `PIPE`, the
/// fd sent by `MSG_RING`) installs it in the ring's registered file table instead of
/// the process's fd table ("direct descriptors").
///
/// Encoded in the SQE's `file_index` as slot + 1, or `IORING_FILE_INDEX_ALLOC`; the
/// CQE then carries 0 for a given slot, or the slot allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationSlot {
    /// This slot of the registered file table (replacing what it holds).
    Slot(u32),
    /// A free slot the kernel picks (`IORING_FILE_INDEX_ALLOC`), from the range set by
    /// `IORING_REGISTER_FILE_ALLOC_RANGE` if any; the CQE's result is its index.
    Alloc,
}

impl DestinationSlot {
    /// The value of the SQE's `file_index` field: slot + 1, or
    /// `IORING_FILE_INDEX_ALLOC`.
    #[inline]
    pub const fn kernel_index_arg(self) -> u32 {
        match self {
            DestinationSlot::Slot(i) => i + 1,
            DestinationSlot::Alloc => sys::IORING_FILE_INDEX_ALLOC,
        }
    }
}

/// `struct open_how` of openat2(2), for [`OpenAt2`](crate::opcode::OpenAt2). The SQE
/// points to it; with `IORING_FEAT_SUBMIT_STABLE` it is read at submission.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OpenHow {
    /// `O_*` flags.
    pub flags: u64,
    /// Mode of a created file.
    pub mode: u64,
    /// `RESOLVE_*` flags.
    pub resolve: u64,
}

impl OpenHow {
    /// All zero: `O_RDONLY`, no mode, no resolve restrictions.
    pub const fn new() -> Self {
        OpenHow {
            flags: 0,
            mode: 0,
            resolve: 0,
        }
    }

    /// Sets the `O_*` flags.
    pub const fn flags(mut self, flags: i32) -> Self {
        self.flags = flags as u32 as u64;
        self
    }

    /// Sets the mode of a created file.
    pub const fn mode(mut self, mode: u32) -> Self {
        self.mode = mode as u64;
        self
    }

    /// Sets the `RESOLVE_*` flags.
    pub const fn resolve(mut self, resolve: u64) -> Self {
        self.resolve = resolve;
        self
    }
}

// Layout proof: `struct open_how` is three u64 (include/uapi/linux/openat2.h).
const _: () = {
    assert!(size_of::<OpenHow>() == 24);
    assert!(align_of::<OpenHow>() == 8);
    assert!(std::mem::offset_of!(OpenHow, mode) == 8);
    assert!(std::mem::offset_of!(OpenHow, resolve) == 16);
    assert!(size_of::<OpenHow>() == size_of::<libc::open_how>());
};

/// `struct futex_waitv` of futex_waitv(2), an entry of the array
/// [`FutexWaitV`](crate::opcode::FutexWaitV) waits on.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FutexWaitV {
    /// The value the futex word must hold for the wait to start.
    pub val: u64,
    /// Address of the futex word.
    pub uaddr: u64,
    /// `FUTEX2_*` flags (size, `FUTEX2_PRIVATE`).
    pub flags: u32,
    /// Reserved: zero.
    pub reserved: u32,
}

impl FutexWaitV {
    /// An entry waiting on `uaddr` while it holds `val`, with `FUTEX2_*` `flags`.
    pub fn new(uaddr: *const u32, val: u64, flags: u32) -> Self {
        FutexWaitV {
            val,
            uaddr: uaddr as u64,
            flags,
            reserved: 0,
        }
    }
}

// Layout proof: include/uapi/linux/futex.h, `struct futex_waitv`.
const _: () = {
    assert!(size_of::<FutexWaitV>() == 24);
    assert!(align_of::<FutexWaitV>() == 8);
    assert!(std::mem::offset_of!(FutexWaitV, uaddr) == 8);
    assert!(std::mem::offset_of!(FutexWaitV, flags) == 16);
};

/// The `FUTEX2_*` flags of futex2 (include/uapi/linux/futex.h), for
/// [`FutexWait`](crate::opcode::FutexWait), [`FutexWake`](crate::opcode::FutexWake)
/// and [`FutexWaitV`].
pub mod futex2 {
    /// An 8-bit futex word.
    pub const SIZE_U8: u32 = 0x00;
    /// A 16-bit futex word.
    pub const SIZE_U16: u32 = 0x01;
    /// A 32-bit futex word (the classic futex).
    pub const SIZE_U32: u32 = 0x02;
    /// A 64-bit futex word.
    pub const SIZE_U64: u32 = 0x03;
    /// NUMA-aware futex.
    pub const NUMA: u32 = 0x04;
    /// Private to the process (no shared-mapping lookup).
    pub const PRIVATE: u32 = 128;
    /// The wait/wake mask that matches every waiter (`FUTEX_BITSET_MATCH_ANY`).
    pub const BITSET_MATCH_ANY: u64 = 0xffff_ffff;
}

/// `struct statx` of statx(2), written by [`Statx`](crate::opcode::Statx).
pub type Statx = libc::statx;
/// `struct epoll_event`, for [`EpollCtl`](crate::opcode::EpollCtl) and
/// [`EpollWait`](crate::opcode::EpollWait).
pub type EpollEvent = libc::epoll_event;
/// `siginfo_t`, written by [`WaitId`](crate::opcode::WaitId).
pub type SigInfo = libc::siginfo_t;
/// `struct msghdr`, for the `*MSG*` opcodes.
pub type MsgHdr = libc::msghdr;

/// A socket address in C layout (`sockaddr_storage` plus its length), to hand to
/// `BIND`, `CONNECT`, `SEND`'s destination, or to receive `ACCEPT`'s peer into.
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// Room for any address, e.g. for `ACCEPT` to fill (length: the room).
    pub fn empty() -> Self {
        SockAddr {
            // SAFETY: sockaddr_storage is plain integers; all-zero is AF_UNSPEC.
            storage: unsafe { std::mem::zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// The address for the kernel to read.
    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }

    /// The address for the kernel to write.
    pub fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&raw mut self.storage).cast()
    }

    /// The length in use.
    pub fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// Whether the length is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length, for the kernel to write (`ACCEPT`'s `addrlen`).
    pub fn len_mut(&mut self) -> *mut libc::socklen_t {
        &raw mut self.len
    }

    /// The address as a std address, if it is IPv4 or IPv6.
    pub fn to_std(&self) -> Option<std::net::SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
        match self.storage.ss_family as i32 {
            libc::AF_INET if self.len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in, which it is
                // large and aligned enough for.
                let sin = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_in>() };
                Some(
                    SocketAddrV4::new(
                        Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                        u16::from_be(sin.sin_port),
                    )
                    .into(),
                )
            }
            libc::AF_INET6 if self.len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_in6>() };
                Some(
                    SocketAddrV6::new(
                        Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                        u16::from_be(sin6.sin6_port),
                        sin6.sin6_flowinfo,
                        sin6.sin6_scope_id,
                    )
                    .into(),
                )
            }
            _ => None,
        }
    }
}

impl From<std::net::SocketAddr> for SockAddr {
    fn from(addr: std::net::SocketAddr) -> SockAddr {
        let mut out = SockAddr::empty();
        match addr {
            std::net::SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*v4.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe {
                    (&raw mut out.storage)
                        .cast::<libc::sockaddr_in>()
                        .write(sin)
                };
                out.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            std::net::SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe {
                    (&raw mut out.storage)
                        .cast::<libc::sockaddr_in6>()
                        .write(sin6)
                };
                out.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        out
    }
}

impl std::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SockAddr")
            .field("family", &self.storage.ss_family)
            .field("len", &self.len)
            .field("addr", &self.to_std())
            .finish()
    }
}

/// What a `MSG_RING` request does on the target ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgRingCmd {
    /// `IORING_MSG_DATA`: post a CQE with `res` and `user_data` to the target ring.
    Data {
        /// The target CQE's `res`.
        res: i32,
        /// The target CQE's `user_data`.
        user_data: u64,
    },
    /// `IORING_MSG_SEND_FD`: install our registered file `src` in the target ring's
    /// file table at `dest`, and post a CQE with `user_data` there.
    SendFd {
        /// Our registered file index.
        src: u32,
        /// The slot in the target's table.
        dest: DestinationSlot,
        /// The target CQE's `user_data`.
        user_data: u64,
    },
}

/// The flag bits of a CQE, readable on a [`Cqe`](crate::Cqe) or on a raw `flags` word.
///
/// `IORING_CQE_F_BUFFER` (with the buffer id), `F_MORE`, `F_SOCK_NONEMPTY`, `F_NOTIF`,
/// `F_BUF_MORE`: see io_uring_enter(2), "IO completion data structure".
pub trait CqeFlags {
    /// The raw `IORING_CQE_F_*` word.
    fn cqe_flags(&self) -> u32;

    /// The id of the provided buffer the request used, if `IORING_CQE_F_BUFFER` is set.
    #[inline]
    fn selected_buffer(&self) -> Option<u16> {
        let f = self.cqe_flags();
        (f & sys::IORING_CQE_F_BUFFER != 0).then_some((f >> sys::IORING_CQE_BUFFER_SHIFT) as u16)
    }

    /// `IORING_CQE_F_MORE`: a multishot request stays armed (more CQEs follow), or a
    /// zero-copy send will post a notification.
    #[inline]
    fn has_more(&self) -> bool {
        self.cqe_flags() & sys::IORING_CQE_F_MORE != 0
    }

    /// `IORING_CQE_F_SOCK_NONEMPTY`: the socket still held data after this receive.
    #[inline]
    fn sock_nonempty(&self) -> bool {
        self.cqe_flags() & sys::IORING_CQE_F_SOCK_NONEMPTY != 0
    }

    /// `IORING_CQE_F_NOTIF`: a zero-copy send's notification (its buffer may be reused),
    /// not its result.
    #[inline]
    fn is_notif(&self) -> bool {
        self.cqe_flags() & sys::IORING_CQE_F_NOTIF != 0
    }

    /// `IORING_CQE_F_BUF_MORE`: the (incrementally consumed) provided buffer is not used
    /// up and will receive more.
    #[inline]
    fn buf_more(&self) -> bool {
        self.cqe_flags() & sys::IORING_CQE_F_BUF_MORE != 0
    }
}

impl CqeFlags for crate::Cqe {
    #[inline]
    fn cqe_flags(&self) -> u32 {
        self.flags()
    }
}

impl CqeFlags for u32 {
    #[inline]
    fn cqe_flags(&self) -> u32 {
        *self
    }
}

/// Whether a zero-copy notification CQE (with `IORING_SEND_ZC_REPORT_USAGE`) says the
/// data was copied rather than sent from the user pages (`IORING_NOTIF_USAGE_ZC_COPIED`).
#[inline]
pub fn notif_copied(cqe: &crate::Cqe) -> bool {
    cqe.is_notif() && (cqe.result() as u32) & sys::IORING_NOTIF_USAGE_ZC_COPIED != 0
}

/// One message of a multishot `RECVMSG`, parsed from the provided buffer it landed in:
/// a `struct io_uring_recvmsg_out` header, then `msg_namelen` bytes of room for the
/// source address, then `msg_controllen` bytes of room for control data, then the
/// payload (see io_uring_prep_recvmsg_multishot(3)).
#[derive(Debug, Clone, Copy)]
pub struct RecvMsgOut<'buf> {
    header: sys::io_uring_recvmsg_out,
    name: &'buf [u8],
    control: &'buf [u8],
    payload: &'buf [u8],
}

/// Why a multishot `RECVMSG` buffer could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMsgOutError;

impl std::fmt::Display for RecvMsgOutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("buffer too short for the io_uring_recvmsg_out header, name and control")
    }
}

impl std::error::Error for RecvMsgOutError {}

impl<'buf> RecvMsgOut<'buf> {
    const HEADER: usize = size_of::<sys::io_uring_recvmsg_out>();

    /// Parses `buf`: the first `cqe.result()` bytes of the provided buffer, for a request
    /// made with `msghdr` (whose `msg_namelen` and `msg_controllen` give the room).
    ///
    /// Maps to liburing's `io_uring_recvmsg_validate` and its accessors.
    ///
    /// # Errors
    /// [`RecvMsgOutError`] if `buf` cannot hold the header and both areas.
    pub fn parse(buf: &'buf [u8], msghdr: &libc::msghdr) -> Result<Self, RecvMsgOutError> {
        Self::parse_with(buf, msghdr.msg_namelen as usize, msghdr.msg_controllen)
    }

    /// As [`parse`](Self::parse), with the room of the name and control areas given
    /// directly.
    ///
    /// # Errors
    /// [`RecvMsgOutError`] if `buf` cannot hold the header and both areas.
    pub fn parse_with(
        buf: &'buf [u8],
        namelen: usize,
        controllen: usize,
    ) -> Result<Self, RecvMsgOutError> {
        let payload_at = Self::HEADER
            .checked_add(namelen)
            .and_then(|n| n.checked_add(controllen))
            .ok_or(RecvMsgOutError)?;
        if buf.len() < payload_at {
            return Err(RecvMsgOutError);
        }
        // SAFETY: buf holds at least HEADER bytes; read_unaligned copes with any
        // alignment, and every bit pattern is a valid io_uring_recvmsg_out (u32s).
        let header = unsafe {
            buf.as_ptr()
                .cast::<sys::io_uring_recvmsg_out>()
                .read_unaligned()
        };
        let name_area = &buf[Self::HEADER..Self::HEADER + namelen];
        let control_area = &buf[Self::HEADER + namelen..payload_at];
        let name = &name_area[..(header.namelen as usize).min(namelen)];
        let control = &control_area[..(header.controllen as usize).min(controllen)];
        let rest = &buf[payload_at..];
        let payload = &rest[..(header.payloadlen as usize).min(rest.len())];
        Ok(RecvMsgOut {
            header,
            name,
            control,
            payload,
        })
    }

    /// The header as the kernel wrote it.
    pub fn header(&self) -> &sys::io_uring_recvmsg_out {
        &self.header
    }

    /// The source address bytes that fitted (a `sockaddr_*`).
    pub fn name_data(&self) -> &'buf [u8] {
        self.name
    }

    /// The source address as a std address, if it is a complete IPv4 or IPv6 one.
    pub fn source(&self) -> Option<std::net::SocketAddr> {
        let mut addr = SockAddr::empty();
        if self.is_name_truncated() || self.name.len() > size_of::<libc::sockaddr_storage>() {
            return None;
        }
        // SAFETY: the storage has room for name.len() bytes (checked above) and does not
        // overlap the borrowed buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.name.as_ptr(),
                addr.as_mut_ptr().cast::<u8>(),
                self.name.len(),
            )
        };
        addr.len = self.name.len() as libc::socklen_t;
        addr.to_std()
    }

    /// Whether the source address was longer than the room given.
    pub fn is_name_truncated(&self) -> bool {
        self.header.namelen as usize > self.name.len()
    }

    /// The control data (cmsgs) that fitted.
    pub fn control_data(&self) -> &'buf [u8] {
        self.control
    }

    /// Whether the control data was longer than the room given (`MSG_CTRUNC`).
    pub fn is_control_truncated(&self) -> bool {
        self.header.flags & libc::MSG_CTRUNC as u32 != 0
            || self.header.controllen as usize > self.control.len()
    }

    /// The payload bytes in the buffer.
    pub fn payload_data(&self) -> &'buf [u8] {
        self.payload
    }

    /// The payload's length as the kernel reports it: what was received, or, if the
    /// request passed `MSG_TRUNC`, the datagram's full length (beyond what fitted).
    pub fn incoming_payload_len(&self) -> u32 {
        self.header.payloadlen
    }

    /// Whether the payload did not fit the buffer (`MSG_TRUNC` in the message flags).
    pub fn is_payload_truncated(&self) -> bool {
        self.header.flags & libc::MSG_TRUNC as u32 != 0
            || self.header.payloadlen as usize > self.payload.len()
    }

    /// The `MSG_*` flags of the message (`MSG_TRUNC`, `MSG_CTRUNC`, …).
    pub fn flags(&self) -> u32 {
        self.header.flags
    }
}
