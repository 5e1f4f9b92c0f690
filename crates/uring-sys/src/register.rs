//! `io_uring_register(2)` opcodes and their argument structs.

// io_uring_register(2) opcodes.
/// `IORING_REGISTER_BUFFERS`.
pub const IORING_REGISTER_BUFFERS: u32 = 0;
/// `IORING_UNREGISTER_BUFFERS`.
pub const IORING_UNREGISTER_BUFFERS: u32 = 1;
/// `IORING_REGISTER_FILES`.
pub const IORING_REGISTER_FILES: u32 = 2;
/// `IORING_UNREGISTER_FILES`.
pub const IORING_UNREGISTER_FILES: u32 = 3;
/// `IORING_REGISTER_EVENTFD`.
pub const IORING_REGISTER_EVENTFD: u32 = 4;
/// `IORING_UNREGISTER_EVENTFD`.
pub const IORING_UNREGISTER_EVENTFD: u32 = 5;
/// `IORING_REGISTER_FILES_UPDATE`.
pub const IORING_REGISTER_FILES_UPDATE: u32 = 6;
/// `IORING_REGISTER_EVENTFD_ASYNC`.
pub const IORING_REGISTER_EVENTFD_ASYNC: u32 = 7;
/// `IORING_REGISTER_PROBE`.
pub const IORING_REGISTER_PROBE: u32 = 8;
/// `IORING_REGISTER_PERSONALITY`.
pub const IORING_REGISTER_PERSONALITY: u32 = 9;
/// `IORING_UNREGISTER_PERSONALITY`.
pub const IORING_UNREGISTER_PERSONALITY: u32 = 10;
/// `IORING_REGISTER_RESTRICTIONS`.
pub const IORING_REGISTER_RESTRICTIONS: u32 = 11;
/// `IORING_REGISTER_ENABLE_RINGS`.
pub const IORING_REGISTER_ENABLE_RINGS: u32 = 12;
/// `IORING_REGISTER_FILES2`.
pub const IORING_REGISTER_FILES2: u32 = 13;
/// `IORING_REGISTER_FILES_UPDATE2`.
pub const IORING_REGISTER_FILES_UPDATE2: u32 = 14;
/// `IORING_REGISTER_BUFFERS2`.
pub const IORING_REGISTER_BUFFERS2: u32 = 15;
/// `IORING_REGISTER_BUFFERS_UPDATE`.
pub const IORING_REGISTER_BUFFERS_UPDATE: u32 = 16;
/// `IORING_REGISTER_IOWQ_AFF`.
pub const IORING_REGISTER_IOWQ_AFF: u32 = 17;
/// `IORING_UNREGISTER_IOWQ_AFF`.
pub const IORING_UNREGISTER_IOWQ_AFF: u32 = 18;
/// `IORING_REGISTER_IOWQ_MAX_WORKERS`.
pub const IORING_REGISTER_IOWQ_MAX_WORKERS: u32 = 19;
/// `IORING_REGISTER_RING_FDS`.
pub const IORING_REGISTER_RING_FDS: u32 = 20;
/// `IORING_UNREGISTER_RING_FDS`.
pub const IORING_UNREGISTER_RING_FDS: u32 = 21;
/// `IORING_REGISTER_PBUF_RING`.
pub const IORING_REGISTER_PBUF_RING: u32 = 22;
/// `IORING_UNREGISTER_PBUF_RING`.
pub const IORING_UNREGISTER_PBUF_RING: u32 = 23;
/// `IORING_REGISTER_SYNC_CANCEL`.
pub const IORING_REGISTER_SYNC_CANCEL: u32 = 24;
/// `IORING_REGISTER_FILE_ALLOC_RANGE`.
pub const IORING_REGISTER_FILE_ALLOC_RANGE: u32 = 25;
/// `IORING_REGISTER_PBUF_STATUS`.
pub const IORING_REGISTER_PBUF_STATUS: u32 = 26;
/// `IORING_REGISTER_NAPI`.
pub const IORING_REGISTER_NAPI: u32 = 27;
/// `IORING_UNREGISTER_NAPI`.
pub const IORING_UNREGISTER_NAPI: u32 = 28;
/// `IORING_REGISTER_CLOCK`.
pub const IORING_REGISTER_CLOCK: u32 = 29;
/// `IORING_REGISTER_CLONE_BUFFERS`.
pub const IORING_REGISTER_CLONE_BUFFERS: u32 = 30;
/// `IORING_REGISTER_SEND_MSG_RING`.
pub const IORING_REGISTER_SEND_MSG_RING: u32 = 31;
/// `IORING_REGISTER_ZCRX_IFQ`.
pub const IORING_REGISTER_ZCRX_IFQ: u32 = 32;
/// `IORING_REGISTER_RESIZE_RINGS`.
pub const IORING_REGISTER_RESIZE_RINGS: u32 = 33;
/// `IORING_REGISTER_MEM_REGION`.
pub const IORING_REGISTER_MEM_REGION: u32 = 34;
/// `IORING_REGISTER_QUERY`.
pub const IORING_REGISTER_QUERY: u32 = 35;
/// One past the last register opcode of 6.18 (`IORING_REGISTER_LAST`).
pub const IORING_REGISTER_LAST: u32 = 36;
/// Flag or-ed into the opcode: the fd argument is a registered ring index.
pub const IORING_REGISTER_USE_REGISTERED_RING: u32 = 1 << 31;

/// `io_uring_probe_op.flags`: the opcode is supported.
pub const IO_URING_OP_SUPPORTED: u16 = 1 << 0;

/// `struct io_uring_probe_op`: one opcode's entry in a probe.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_probe_op {
    /// The opcode.
    pub op: u8,
    /// Reserved.
    pub resv: u8,
    /// `IO_URING_OP_*`.
    pub flags: u16,
    /// Reserved.
    pub resv2: u32,
}

/// `struct io_uring_probe`: the header of a probe; `ops_len` entries of
/// [`io_uring_probe_op`] follow it in memory (a flexible array in C).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_probe {
    /// The last opcode the kernel knows.
    pub last_op: u8,
    /// How many entries of `ops` the kernel filled in.
    pub ops_len: u8,
    /// Reserved.
    pub resv: u16,
    /// Reserved.
    pub resv2: [u32; 3],
    /// The entries (flexible array in C).
    pub ops: [io_uring_probe_op; 0],
}

/// `struct io_uring_rsrc_update`: the argument of `IORING_REGISTER_RING_FDS` and
/// `IORING_REGISTER_FILES_UPDATE`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_rsrc_update {
    /// Slot (`-1` for any, with ring fds).
    pub offset: u32,
    /// Reserved.
    pub resv: u32,
    /// The data: an fd, or a pointer to an array of fds.
    pub data: u64,
}
