//! `IORING_REGISTER_QUERY` (6.18): the header `<linux/io_uring/query.h>`.
//!
//! A query is a chain of [`io_uring_query_hdr`] passed to `io_uring_register(2)` with
//! `IORING_REGISTER_QUERY` and `nr_args` 0; the fd may be -1, since no query of 6.18
//! needs a ring. Each header names a query op and a buffer; the kernel fills the
//! buffer and sets `result` (a negative errno, e.g. `-EOPNOTSUPP` for an op it lacks).

/// `struct io_uring_query_hdr`: one entry of a query chain.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_query_hdr {
    /// Pointer to the next header, or 0 to end the chain.
    pub next_entry: u64,
    /// Pointer to the op's result buffer (e.g. an [`io_uring_query_opcode`]).
    pub query_data: u64,
    /// `IO_URING_QUERY_*`.
    pub query_op: u32,
    /// Size of the buffer at `query_data` (in; the kernel writes at most this much).
    pub size: u32,
    /// Out: 0, or a negative errno.
    pub result: i32,
    /// Reserved.
    pub __resv: [u32; 3],
}

impl io_uring_query_hdr {
    /// The last entry of a chain (`next_entry` 0) asking query `query_op` into `data`,
    /// whose size it records; link an earlier header to it through its `next_entry`.
    /// The header holds `data`'s address: `data` must outlive the query.
    pub fn new<T>(query_op: u32, data: &mut T) -> Self {
        io_uring_query_hdr {
            query_data: core::ptr::from_mut(data) as u64,
            query_op,
            size: size_of::<T>() as u32,
            ..Default::default()
        }
    }
}

/// Query op: what the kernel supports, into an [`io_uring_query_opcode`].
pub const IO_URING_QUERY_OPCODES: u32 = 0;
/// One past the last query op of 6.18.
pub const __IO_URING_QUERY_MAX: u32 = 1;

/// `struct io_uring_query_opcode`: the result of `IO_URING_QUERY_OPCODES`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_query_opcode {
    /// Number of `IORING_OP_*` opcodes (`IORING_OP_LAST`).
    pub nr_request_opcodes: u32,
    /// Number of `IORING_[UN]REGISTER_*` opcodes (`IORING_REGISTER_LAST`).
    pub nr_register_opcodes: u32,
    /// Every supported `IORING_FEAT_*` flag.
    pub feature_flags: u64,
    /// Every supported `IORING_SETUP_*` flag.
    pub ring_setup_flags: u64,
    /// Every supported `IORING_ENTER_*` flag.
    pub enter_flags: u64,
    /// Every supported `IOSQE_*` flag.
    pub sqe_flags: u64,
    /// Number of query ops.
    pub nr_query_opcodes: u32,
    /// Reserved.
    pub __pad: u32,
}
