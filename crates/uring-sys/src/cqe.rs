//! The completion queue entry and its flags.

/// `struct io_uring_cqe`: one completion queue entry, 16 bytes; 32 with
/// `IORING_SETUP_CQE32` (or when flagged `IORING_CQE_F_32` with `IORING_SETUP_CQE_MIXED`),
/// the extra 16 bytes following as `big_cqe`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_cqe {
    /// The `user_data` of the SQE this completes.
    pub user_data: u64,
    /// Result: what the equivalent system call returns, or `-errno`.
    pub res: i32,
    /// `IORING_CQE_F_*`, and the buffer id in the upper 16 bits with `IORING_CQE_F_BUFFER`.
    pub flags: u32,
    /// The extra 16 bytes of a 32-byte CQE (flexible array in C).
    pub big_cqe: [u64; 0],
}

/// The buffer id in the upper bits of `flags` is valid.
pub const IORING_CQE_F_BUFFER: u32 = 1 << 0;
/// More CQEs will follow for the same SQE (multishot).
pub const IORING_CQE_F_MORE: u32 = 1 << 1;
/// More data is waiting in the socket after this receive.
pub const IORING_CQE_F_SOCK_NONEMPTY: u32 = 1 << 2;
/// This is a zero-copy send notification, not the send's result.
pub const IORING_CQE_F_NOTIF: u32 = 1 << 3;
/// The buffer (incrementally consumed) will be used for more completions.
pub const IORING_CQE_F_BUF_MORE: u32 = 1 << 4;
/// Padding entry of a `CQE_MIXED` ring: skip it.
pub const IORING_CQE_F_SKIP: u32 = 1 << 5;
/// This entry is 32 bytes, on a `CQE_MIXED` ring.
pub const IORING_CQE_F_32: u32 = 1 << 15;
/// Shift of the buffer id in `flags`.
pub const IORING_CQE_BUFFER_SHIFT: u32 = 16;

// SOCKET_URING_OP_TX_TIMESTAMP completions.
/// Bit of `flags` that says the timestamp is a hardware one ([`IORING_CQE_F_TSTAMP_HW`]).
pub const IORING_TIMESTAMP_HW_SHIFT: u32 = 16;
/// The bit of `flags` from which the timestamp type (`SCM_TSTAMP_*`) is stored.
pub const IORING_TIMESTAMP_TYPE_SHIFT: u32 = IORING_TIMESTAMP_HW_SHIFT + 1;
/// The timestamp in the CQE is a hardware timestamp.
pub const IORING_CQE_F_TSTAMP_HW: u32 = 1 << IORING_TIMESTAMP_HW_SHIFT;

/// `struct io_timespec`: the timestamp a `SOCKET_URING_OP_TX_TIMESTAMP` completion
/// carries in the second half of its 32-byte CQE.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct io_timespec {
    /// Seconds.
    pub tv_sec: u64,
    /// Nanoseconds.
    pub tv_nsec: u64,
}
