//! The submission queue entry and its flags.

/// `struct io_uring_sqe`: one submission queue entry, 64 bytes (the first half of a
/// 128-byte entry with `IORING_SETUP_SQE128`).
///
/// The anonymous unions of the C struct are named after what they hold.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_uring_sqe {
    /// `IORING_OP_*`.
    pub opcode: u8,
    /// `IOSQE_*`.
    pub flags: u8,
    /// I/O priority, or per-op flags for send/recv/accept (`IORING_RECVSEND_*`, …).
    pub ioprio: u16,
    /// File descriptor, or registered file index with `IOSQE_FIXED_FILE`.
    pub fd: i32,
    /// File offset, or second address, or `cmd_op` of `URING_CMD`.
    pub off_or_addr2: off_or_addr2_union,
    /// Buffer address, or iovec array, or `splice_off_in`, or sockopt level/name.
    pub addr_or_splice_off_in: addr_or_splice_off_in_union,
    /// Buffer length, or number of iovecs, or op-specific count.
    pub len: u32,
    /// The op-specific flags word (`rw_flags`, `fsync_flags`, `timeout_flags`, …).
    pub op_flags: op_flags_union,
    /// Travels untouched to the CQE.
    pub user_data: u64,
    /// Registered buffer index, or provided-buffer group.
    pub buf: buf_union,
    /// Registered personality (credentials) to issue with, or 0.
    pub personality: u16,
    /// `splice_fd_in`, or the fixed file slot to install into (`file_index`), or
    /// `optlen`, or `addr_len`.
    pub splice_fd_in_or_file_index: splice_fd_in_or_file_index_union,
    /// Third address, or read/write attributes, or `optval`, or the start of the 80
    /// command bytes of `URING_CMD` in a 128-byte SQE.
    pub addr3_or_cmd: addr3_or_cmd_union,
}

impl io_uring_sqe {
    /// An all-zero SQE: `IORING_OP_NOP`, no flags, `user_data` 0.
    ///
    /// Written field by field (each union through its widest member, so all 64 bytes
    /// are set): this lets the compiler keep a freshly built SQE in registers and store
    /// it straight into the ring slot, where `mem::zeroed` made it go through the stack.
    #[inline(always)]
    pub const fn zeroed() -> Self {
        io_uring_sqe {
            opcode: 0,
            flags: 0,
            ioprio: 0,
            fd: 0,
            off_or_addr2: off_or_addr2_union { off: 0 },
            addr_or_splice_off_in: addr_or_splice_off_in_union { addr: 0 },
            len: 0,
            op_flags: op_flags_union { rw_flags: 0 },
            user_data: 0,
            buf: buf_union { buf_index: 0 },
            personality: 0,
            splice_fd_in_or_file_index: splice_fd_in_or_file_index_union { file_index: 0 },
            addr3_or_cmd: addr3_or_cmd_union {
                addr3: addr3_struct {
                    addr3: 0,
                    __pad2: [0],
                },
            },
        }
    }
}

impl Default for io_uring_sqe {
    fn default() -> Self {
        Self::zeroed()
    }
}

impl core::fmt::Debug for io_uring_sqe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: every variant of these unions is plain integers covering the same
        // bytes; reading the widest integer view is always initialised and valid.
        let (off, addr, op_flags, buf, file, addr3) = unsafe {
            (
                self.off_or_addr2.off,
                self.addr_or_splice_off_in.addr,
                self.op_flags.rw_flags,
                self.buf.buf_index,
                self.splice_fd_in_or_file_index.file_index,
                self.addr3_or_cmd.addr3.addr3,
            )
        };
        f.debug_struct("io_uring_sqe")
            .field("opcode", &self.opcode)
            .field("flags", &self.flags)
            .field("ioprio", &self.ioprio)
            .field("fd", &self.fd)
            .field("off", &off)
            .field("addr", &addr)
            .field("len", &self.len)
            .field("op_flags", &op_flags)
            .field("user_data", &self.user_data)
            .field("buf_index", &buf)
            .field("personality", &self.personality)
            .field("file_index", &file)
            .field("addr3", &addr3)
            .finish()
    }
}

/// The `off` / `addr2` / `cmd_op` union of the SQE.
#[repr(C)]
#[derive(Clone, Copy)]
pub union off_or_addr2_union {
    /// File offset.
    pub off: u64,
    /// Second address (e.g. `newpath` of `RENAMEAT`, the timespec of `TIMEOUT_REMOVE` updates).
    pub addr2: u64,
    /// The `URING_CMD` sub-command.
    pub cmd_op: cmd_op_struct,
}

/// `cmd_op` and its padding, inside [`off_or_addr2_union`].
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct cmd_op_struct {
    /// The command.
    pub cmd_op: u32,
    /// Reserved.
    pub __pad1: u32,
}

/// The `addr` / `splice_off_in` / socket-option union of the SQE.
#[repr(C)]
#[derive(Clone, Copy)]
pub union addr_or_splice_off_in_union {
    /// Buffer or iovec array address.
    pub addr: u64,
    /// Input offset of `SPLICE`.
    pub splice_off_in: u64,
    /// `level` and `optname` of a socket `URING_CMD`.
    pub sockopt: sockopt_struct,
}

/// `level` and `optname`, inside [`addr_or_splice_off_in_union`].
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct sockopt_struct {
    /// Socket option level (`SOL_SOCKET`, …).
    pub level: u32,
    /// Socket option name.
    pub optname: u32,
}

/// The per-opcode flags word of the SQE.
#[repr(C)]
#[derive(Clone, Copy)]
pub union op_flags_union {
    /// `RWF_*` for reads and writes.
    pub rw_flags: i32,
    /// `IORING_FSYNC_*`.
    pub fsync_flags: u32,
    /// 16-bit poll events (compatibility).
    pub poll_events: u16,
    /// 32-bit poll events.
    pub poll32_events: u32,
    /// `SYNC_FILE_RANGE_*`.
    pub sync_range_flags: u32,
    /// `MSG_*` for send and receive.
    pub msg_flags: u32,
    /// `IORING_TIMEOUT_*`.
    pub timeout_flags: u32,
    /// `SOCK_*` flags of accept4(2).
    pub accept_flags: u32,
    /// `IORING_ASYNC_CANCEL_*`.
    pub cancel_flags: u32,
    /// `O_*` of openat(2).
    pub open_flags: u32,
    /// `AT_*` of statx(2).
    pub statx_flags: u32,
    /// `POSIX_FADV_*` / `MADV_*`.
    pub fadvise_advice: u32,
    /// `SPLICE_F_*`.
    pub splice_flags: u32,
    /// `RENAME_*`.
    pub rename_flags: u32,
    /// `AT_REMOVEDIR`.
    pub unlink_flags: u32,
    /// `AT_*` of linkat(2).
    pub hardlink_flags: u32,
    /// `XATTR_*`.
    pub xattr_flags: u32,
    /// `IORING_MSG_RING_*`.
    pub msg_ring_flags: u32,
    /// `IORING_URING_CMD_*`.
    pub uring_cmd_flags: u32,
    /// waitid(2) options.
    pub waitid_flags: u32,
    /// `FUTEX2_*`.
    pub futex_flags: u32,
    /// `IORING_FIXED_FD_*`.
    pub install_fd_flags: u32,
    /// `IORING_NOP_*`.
    pub nop_flags: u32,
    /// Not in the 6.18 uapi: `IORING_OP_EPOLL_WAIT` takes no flags there (the
    /// `epoll_flags` / `IORING_EPOLL_WAIT_MULTISHOT` proposal was not merged). Kept as
    /// one more view of the same four bytes; must be 0 for `EPOLL_WAIT`.
    pub epoll_flags: u32,
    /// `O_*` flags of pipe2(2).
    pub pipe_flags: u32,
}

/// The `buf_index` / `buf_group` union of the SQE (packed in C; 2-byte aligned anyway).
#[repr(C)]
#[derive(Clone, Copy)]
pub union buf_union {
    /// Index into the registered buffers.
    pub buf_index: u16,
    /// Provided-buffer group, with `IOSQE_BUFFER_SELECT`.
    pub buf_group: u16,
}

/// The `splice_fd_in` / `file_index` / `optlen` / `addr_len` union of the SQE.
#[repr(C)]
#[derive(Clone, Copy)]
pub union splice_fd_in_or_file_index_union {
    /// Input fd of `SPLICE` / `TEE`.
    pub splice_fd_in: i32,
    /// Fixed file slot + 1 to install a new descriptor into, or `IORING_FILE_INDEX_ALLOC`.
    pub file_index: u32,
    /// Index of the zero-copy receive interface queue, for `RECV_ZC`.
    pub zcrx_ifq_idx: u32,
    /// Option length of a socket `URING_CMD`.
    pub optlen: u32,
    /// Address length for `SEND_ZC` with a destination address.
    pub addr_len: addr_len_struct,
    /// Write stream hint.
    pub write_stream: write_stream_struct,
}

/// `addr_len` and its padding, inside [`splice_fd_in_or_file_index_union`].
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct addr_len_struct {
    /// Socket address length.
    pub addr_len: u16,
    /// Reserved.
    pub __pad3: [u16; 1],
}

/// `write_stream` and its padding, inside [`splice_fd_in_or_file_index_union`].
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct write_stream_struct {
    /// Write stream id.
    pub write_stream: u8,
    /// Reserved.
    pub __pad4: [u8; 3],
}

/// The last 16 bytes of the SQE.
#[repr(C)]
#[derive(Clone, Copy)]
pub union addr3_or_cmd_union {
    /// Third address and padding.
    pub addr3: addr3_struct,
    /// Read/write attributes (`IORING_FEAT_RW_ATTR`).
    pub attr: attr_struct,
    /// `optval` of a socket `URING_CMD`.
    pub optval: u64,
    /// Start of the command bytes of `URING_CMD` (80 bytes with `IORING_SETUP_SQE128`).
    pub cmd: [u8; 0],
}

/// `addr3` and its padding, inside [`addr3_or_cmd_union`].
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct addr3_struct {
    /// Third address.
    pub addr3: u64,
    /// Reserved.
    pub __pad2: [u64; 1],
}

/// Read/write attributes, inside [`addr3_or_cmd_union`].
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct attr_struct {
    /// Pointer to attribute information (e.g. `io_uring_attr_pi`).
    pub attr_ptr: u64,
    /// `IORING_RW_ATTR_FLAG_*` mask of the attributes present.
    pub attr_type_mask: u64,
}

// sqe->flags bits.
/// Bit of [`IOSQE_FIXED_FILE`].
pub const IOSQE_FIXED_FILE_BIT: u8 = 0;
/// Bit of [`IOSQE_IO_DRAIN`].
pub const IOSQE_IO_DRAIN_BIT: u8 = 1;
/// Bit of [`IOSQE_IO_LINK`].
pub const IOSQE_IO_LINK_BIT: u8 = 2;
/// Bit of [`IOSQE_IO_HARDLINK`].
pub const IOSQE_IO_HARDLINK_BIT: u8 = 3;
/// Bit of [`IOSQE_ASYNC`].
pub const IOSQE_ASYNC_BIT: u8 = 4;
/// Bit of [`IOSQE_BUFFER_SELECT`].
pub const IOSQE_BUFFER_SELECT_BIT: u8 = 5;
/// Bit of [`IOSQE_CQE_SKIP_SUCCESS`].
pub const IOSQE_CQE_SKIP_SUCCESS_BIT: u8 = 6;

// sqe->flags.
flags! {
    $
    /// Every SQE flag with its name, in bit order (`(IOSQE_FIXED_FILE, "FIXED_FILE")`, …).
    table IOSQE_FLAG_NAMES, mask IOSQE_FLAGS, lister io_uring_sqe_flags: u8, prefix "IOSQE_";
    /// `fd` is an index into the registered files.
    IOSQE_FIXED_FILE = 1 << IOSQE_FIXED_FILE_BIT;
    /// Issue after all earlier requests completed.
    IOSQE_IO_DRAIN = 1 << IOSQE_IO_DRAIN_BIT;
    /// Link the next SQE: it starts after this one, and is cancelled if this one fails.
    IOSQE_IO_LINK = 1 << IOSQE_IO_LINK_BIT;
    /// Like `IO_LINK`, but the chain survives failures.
    IOSQE_IO_HARDLINK = 1 << IOSQE_IO_HARDLINK_BIT;
    /// Always issue from an io-wq worker.
    IOSQE_ASYNC = 1 << IOSQE_ASYNC_BIT;
    /// Pick a buffer from the provided-buffer group `buf_group`.
    IOSQE_BUFFER_SELECT = 1 << IOSQE_BUFFER_SELECT_BIT;
    /// Post no CQE if the request succeeds.
    IOSQE_CQE_SKIP_SUCCESS = 1 << IOSQE_CQE_SKIP_SUCCESS_BIT;
}

/// `file_index` value asking the kernel to allocate a free fixed-file slot.
pub const IORING_FILE_INDEX_ALLOC: u32 = !0;

// sqe->fsync_flags.
/// fdatasync(2) semantics.
pub const IORING_FSYNC_DATASYNC: u32 = 1 << 0;

// sqe->timeout_flags.
/// The timespec is absolute.
pub const IORING_TIMEOUT_ABS: u32 = 1 << 0;
/// Update an existing timeout (`TIMEOUT_REMOVE`).
pub const IORING_TIMEOUT_UPDATE: u32 = 1 << 1;
/// Use `CLOCK_BOOTTIME`.
pub const IORING_TIMEOUT_BOOTTIME: u32 = 1 << 2;
/// Use `CLOCK_REALTIME`.
pub const IORING_TIMEOUT_REALTIME: u32 = 1 << 3;
/// Update an existing link timeout.
pub const IORING_LINK_TIMEOUT_UPDATE: u32 = 1 << 4;
/// An expired timeout still completes with `-ETIME`, but does not count as a failure:
/// a chain it is linked into goes on.
pub const IORING_TIMEOUT_ETIME_SUCCESS: u32 = 1 << 5;
/// Re-arm after each expiry.
pub const IORING_TIMEOUT_MULTISHOT: u32 = 1 << 6;
/// The clock bits of the timeout flags.
pub const IORING_TIMEOUT_CLOCK_MASK: u32 = IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_REALTIME;
/// The update bits of the timeout flags.
pub const IORING_TIMEOUT_UPDATE_MASK: u32 = IORING_TIMEOUT_UPDATE | IORING_LINK_TIMEOUT_UPDATE;

// sqe->nop_flags.
/// Complete the NOP with the result in `len` (as an `i32`).
pub const IORING_NOP_INJECT_RESULT: u32 = 1 << 0;
/// Resolve `fd` as a file.
pub const IORING_NOP_FILE: u32 = 1 << 1;
/// Resolve `fd` as a fixed file.
pub const IORING_NOP_FIXED_FILE: u32 = 1 << 2;
/// Resolve `buf_index` as a registered buffer.
pub const IORING_NOP_FIXED_BUFFER: u32 = 1 << 3;
/// Complete through task work.
pub const IORING_NOP_TW: u32 = 1 << 4;
/// Post a 32-byte CQE on a `CQE_MIXED` ring.
pub const IORING_NOP_CQE32: u32 = 1 << 5;

// sqe->attr_type_mask flags.
/// `attr_ptr` points to an [`io_uring_attr_pi`] (protection information).
pub const IORING_RW_ATTR_FLAG_PI: u32 = 1 << 0;

/// `struct io_uring_attr_pi`: protection information (integrity metadata) attached to
/// a read or write through `attr_ptr`, with `IORING_RW_ATTR_FLAG_PI`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_attr_pi {
    /// `IO_INTEGRITY_CHK_*` checks to perform.
    pub flags: u16,
    /// Application tag.
    pub app_tag: u16,
    /// Length of the integrity buffer in bytes.
    pub len: u32,
    /// Address of the integrity buffer.
    pub addr: u64,
    /// Seed of the reference tag.
    pub seed: u64,
    /// Reserved.
    pub rsvd: u64,
}

// sqe->uring_cmd_flags (the top 8 bits are reserved to the kernel).
/// Use a registered buffer, whose index is in `buf_index`.
pub const IORING_URING_CMD_FIXED: u32 = 1 << 0;
/// Multishot command; requires `IOSQE_BUFFER_SELECT` and excludes `IORING_URING_CMD_FIXED`.
pub const IORING_URING_CMD_MULTISHOT: u32 = 1 << 1;
/// Every `IORING_URING_CMD_*` flag userspace may set.
pub const IORING_URING_CMD_MASK: u32 = IORING_URING_CMD_FIXED | IORING_URING_CMD_MULTISHOT;

// sqe->splice_flags, beyond splice(2)'s own `SPLICE_F_*`.
/// `splice_fd_in` is a registered file index.
pub const SPLICE_F_FD_IN_FIXED: u32 = 1 << 31;

// POLL_ADD / POLL_REMOVE command flags, stored in sqe->len.
/// Multishot poll: one CQE per event, flagged `IORING_CQE_F_MORE` while armed.
pub const IORING_POLL_ADD_MULTI: u32 = 1 << 0;
/// `POLL_REMOVE`: update the events of the poll matching `addr`.
pub const IORING_POLL_UPDATE_EVENTS: u32 = 1 << 1;
/// `POLL_REMOVE`: update the `user_data` of the poll matching `addr` to `off`.
pub const IORING_POLL_UPDATE_USER_DATA: u32 = 1 << 2;
/// Level-triggered poll.
pub const IORING_POLL_ADD_LEVEL: u32 = 1 << 3;

// sqe->cancel_flags (ASYNC_CANCEL and IORING_REGISTER_SYNC_CANCEL).
/// Cancel every request that matches, not just the first.
pub const IORING_ASYNC_CANCEL_ALL: u32 = 1 << 0;
/// Match on `fd` instead of `user_data`.
pub const IORING_ASYNC_CANCEL_FD: u32 = 1 << 1;
/// Match any request.
pub const IORING_ASYNC_CANCEL_ANY: u32 = 1 << 2;
/// The `fd` to match is a registered file index.
pub const IORING_ASYNC_CANCEL_FD_FIXED: u32 = 1 << 3;
/// Match on `user_data` (the default when no other key is given).
pub const IORING_ASYNC_CANCEL_USERDATA: u32 = 1 << 4;
/// Match on the opcode in `len`.
pub const IORING_ASYNC_CANCEL_OP: u32 = 1 << 5;

// send/sendmsg and recv/recvmsg flags, stored in sqe->ioprio.
/// Arm poll first instead of trying the transfer first.
pub const IORING_RECVSEND_POLL_FIRST: u16 = 1 << 0;
/// Multishot receive: one CQE per receive, flagged `IORING_CQE_F_MORE` while armed.
pub const IORING_RECV_MULTISHOT: u16 = 1 << 1;
/// Use the registered buffer whose index is in `buf_index`.
pub const IORING_RECVSEND_FIXED_BUF: u16 = 1 << 2;
/// `SEND[MSG]_ZC`: report in the notification's `res` whether the data was copied.
pub const IORING_SEND_ZC_REPORT_USAGE: u16 = 1 << 3;
/// With `IOSQE_BUFFER_SELECT`: send or receive into as many provided buffers as fit.
pub const IORING_RECVSEND_BUNDLE: u16 = 1 << 4;
/// `SEND[_ZC]`: `addr` points to an iovec array of `len` entries.
pub const IORING_SEND_VECTORIZED: u16 = 1 << 5;

/// `res` bit of a zero-copy notification CQE (with `IORING_SEND_ZC_REPORT_USAGE`): the
/// data was copied, at least in part. The other bits of `res` are reserved.
pub const IORING_NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

// accept flags, stored in sqe->ioprio.
/// Multishot accept: one CQE per connection, flagged `IORING_CQE_F_MORE` while armed.
pub const IORING_ACCEPT_MULTISHOT: u16 = 1 << 0;
/// Fail with `-EAGAIN` instead of waiting when no connection is pending.
pub const IORING_ACCEPT_DONTWAIT: u16 = 1 << 1;
/// Arm poll first instead of trying to accept first.
pub const IORING_ACCEPT_POLL_FIRST: u16 = 1 << 2;

// IORING_OP_MSG_RING command types (`enum io_uring_msg_ring_flags`), stored in sqe->addr.
/// Post a CQE to the target ring with `res` = `len` and `user_data` = `off`.
pub const IORING_MSG_DATA: u32 = 0;
/// Send a registered file to the target ring's file table.
pub const IORING_MSG_SEND_FD: u32 = 1;

// IORING_OP_MSG_RING flags, stored in sqe->msg_ring_flags.
/// Post no CQE to the target ring (not for `IORING_MSG_DATA`).
pub const IORING_MSG_RING_CQE_SKIP: u32 = 1 << 0;
/// Pass `file_index` through as the target CQE's `flags`.
pub const IORING_MSG_RING_FLAGS_PASS: u32 = 1 << 1;

// IORING_OP_FIXED_FD_INSTALL flags, stored in sqe->install_fd_flags.
/// Don't mark the installed descriptor `O_CLOEXEC`.
pub const IORING_FIXED_FD_NO_CLOEXEC: u32 = 1 << 0;

// `enum io_uring_socket_op`: cmd_op of IORING_OP_URING_CMD on a socket.
/// Bytes waiting to be read, as `ioctl(SIOCINQ)`.
pub const SOCKET_URING_OP_SIOCINQ: u32 = 0;
/// Bytes waiting to be sent, as `ioctl(SIOCOUTQ)`.
pub const SOCKET_URING_OP_SIOCOUTQ: u32 = 1;
/// getsockopt(2), with `level`, `optname`, `optval` and `optlen`.
pub const SOCKET_URING_OP_GETSOCKOPT: u32 = 2;
/// setsockopt(2), with `level`, `optname`, `optval` and `optlen`.
pub const SOCKET_URING_OP_SETSOCKOPT: u32 = 3;
/// Multishot read of transmit timestamps from the error queue (one 32-byte CQE each).
pub const SOCKET_URING_OP_TX_TIMESTAMP: u32 = 4;
