//! `io_uring_register(2)` opcodes and their argument structs.

// io_uring_register(2) opcodes, `enum io_uring_register_op`.
numbered! {
    $
    /// The name of each register opcode, indexed by its value, without the `IORING_`
    /// prefix (`"REGISTER_BUFFERS"`, `"UNREGISTER_BUFFERS"`, …).
    names IORING_REGISTER_NAMES, last IORING_REGISTER_LAST, lister io_uring_register_ops: u32, prefix "IORING_";
    /// `IORING_REGISTER_BUFFERS`.
    IORING_REGISTER_BUFFERS = 0;
    /// `IORING_UNREGISTER_BUFFERS`.
    IORING_UNREGISTER_BUFFERS = 1;
    /// `IORING_REGISTER_FILES`.
    IORING_REGISTER_FILES = 2;
    /// `IORING_UNREGISTER_FILES`.
    IORING_UNREGISTER_FILES = 3;
    /// `IORING_REGISTER_EVENTFD`.
    IORING_REGISTER_EVENTFD = 4;
    /// `IORING_UNREGISTER_EVENTFD`.
    IORING_UNREGISTER_EVENTFD = 5;
    /// `IORING_REGISTER_FILES_UPDATE`.
    IORING_REGISTER_FILES_UPDATE = 6;
    /// `IORING_REGISTER_EVENTFD_ASYNC`.
    IORING_REGISTER_EVENTFD_ASYNC = 7;
    /// `IORING_REGISTER_PROBE`.
    IORING_REGISTER_PROBE = 8;
    /// `IORING_REGISTER_PERSONALITY`.
    IORING_REGISTER_PERSONALITY = 9;
    /// `IORING_UNREGISTER_PERSONALITY`.
    IORING_UNREGISTER_PERSONALITY = 10;
    /// `IORING_REGISTER_RESTRICTIONS`.
    IORING_REGISTER_RESTRICTIONS = 11;
    /// `IORING_REGISTER_ENABLE_RINGS`.
    IORING_REGISTER_ENABLE_RINGS = 12;
    /// `IORING_REGISTER_FILES2`.
    IORING_REGISTER_FILES2 = 13;
    /// `IORING_REGISTER_FILES_UPDATE2`.
    IORING_REGISTER_FILES_UPDATE2 = 14;
    /// `IORING_REGISTER_BUFFERS2`.
    IORING_REGISTER_BUFFERS2 = 15;
    /// `IORING_REGISTER_BUFFERS_UPDATE`.
    IORING_REGISTER_BUFFERS_UPDATE = 16;
    /// `IORING_REGISTER_IOWQ_AFF`.
    IORING_REGISTER_IOWQ_AFF = 17;
    /// `IORING_UNREGISTER_IOWQ_AFF`.
    IORING_UNREGISTER_IOWQ_AFF = 18;
    /// `IORING_REGISTER_IOWQ_MAX_WORKERS`.
    IORING_REGISTER_IOWQ_MAX_WORKERS = 19;
    /// `IORING_REGISTER_RING_FDS`.
    IORING_REGISTER_RING_FDS = 20;
    /// `IORING_UNREGISTER_RING_FDS`.
    IORING_UNREGISTER_RING_FDS = 21;
    /// `IORING_REGISTER_PBUF_RING`.
    IORING_REGISTER_PBUF_RING = 22;
    /// `IORING_UNREGISTER_PBUF_RING`.
    IORING_UNREGISTER_PBUF_RING = 23;
    /// `IORING_REGISTER_SYNC_CANCEL`.
    IORING_REGISTER_SYNC_CANCEL = 24;
    /// `IORING_REGISTER_FILE_ALLOC_RANGE`.
    IORING_REGISTER_FILE_ALLOC_RANGE = 25;
    /// `IORING_REGISTER_PBUF_STATUS`.
    IORING_REGISTER_PBUF_STATUS = 26;
    /// `IORING_REGISTER_NAPI`.
    IORING_REGISTER_NAPI = 27;
    /// `IORING_UNREGISTER_NAPI`.
    IORING_UNREGISTER_NAPI = 28;
    /// `IORING_REGISTER_CLOCK`.
    IORING_REGISTER_CLOCK = 29;
    /// `IORING_REGISTER_CLONE_BUFFERS`.
    IORING_REGISTER_CLONE_BUFFERS = 30;
    /// `IORING_REGISTER_SEND_MSG_RING`.
    IORING_REGISTER_SEND_MSG_RING = 31;
    /// `IORING_REGISTER_ZCRX_IFQ`.
    IORING_REGISTER_ZCRX_IFQ = 32;
    /// `IORING_REGISTER_RESIZE_RINGS`.
    IORING_REGISTER_RESIZE_RINGS = 33;
    /// `IORING_REGISTER_MEM_REGION`.
    IORING_REGISTER_MEM_REGION = 34;
    /// `IORING_REGISTER_QUERY`.
    IORING_REGISTER_QUERY = 35;
}
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

// `enum io_wq_type`: indexes of the two-entry array of IORING_REGISTER_IOWQ_MAX_WORKERS.
/// Bounded io-wq workers (regular file and block I/O).
pub const IO_WQ_BOUND: u32 = 0;
/// Unbounded io-wq workers (sockets, pipes and other potentially blocking I/O).
pub const IO_WQ_UNBOUND: u32 = 1;

/// `struct io_uring_files_update`: the argument of `IORING_REGISTER_FILES_UPDATE`
/// (deprecated in favour of [`io_uring_rsrc_update`], same layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_files_update {
    /// First slot to update.
    pub offset: u32,
    /// Reserved.
    pub resv: u32,
    /// Pointer to an array of `i32` descriptors (`-1` clears a slot,
    /// [`IORING_REGISTER_FILES_SKIP`] leaves it alone).
    pub fds: u64,
}

// io_uring_region_desc.flags.
/// Back the region with user memory at `user_addr` instead of kernel memory.
pub const IORING_MEM_REGION_TYPE_USER: u32 = 1;

/// `struct io_uring_region_desc`: a memory region shared between the application and
/// the kernel (registered wait arguments, zero-copy receive refill rings).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_region_desc {
    /// User memory, with `IORING_MEM_REGION_TYPE_USER`.
    pub user_addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// `IORING_MEM_REGION_TYPE_*`.
    pub flags: u32,
    /// Region id (reserved; zero).
    pub id: u32,
    /// Out: the offset to mmap(2) a kernel-allocated region at.
    pub mmap_offset: u64,
    /// Reserved.
    pub __resv: [u64; 4],
}

// io_uring_mem_region_reg.flags.
/// Use the region for registered wait arguments (`IORING_ENTER_EXT_ARG_REG`).
pub const IORING_MEM_REGION_REG_WAIT_ARG: u32 = 1;

/// `struct io_uring_mem_region_reg`: the argument of `IORING_REGISTER_MEM_REGION`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_mem_region_reg {
    /// Pointer to an [`io_uring_region_desc`].
    pub region_uptr: u64,
    /// `IORING_MEM_REGION_REG_*`.
    pub flags: u64,
    /// Reserved.
    pub __resv: [u64; 2],
}

/// `io_uring_rsrc_register.flags`: register `nr` empty slots instead of an array.
pub const IORING_RSRC_REGISTER_SPARSE: u32 = 1 << 0;

/// `struct io_uring_rsrc_register`: the argument of `IORING_REGISTER_FILES2` and
/// `IORING_REGISTER_BUFFERS2`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_rsrc_register {
    /// Number of entries.
    pub nr: u32,
    /// `IORING_RSRC_REGISTER_*`.
    pub flags: u32,
    /// Reserved.
    pub resv2: u64,
    /// Pointer to the array of fds or iovecs.
    pub data: u64,
    /// Pointer to an array of `nr` `u64` tags, or 0.
    pub tags: u64,
}

/// `struct io_uring_rsrc_update2`: the argument of `IORING_REGISTER_FILES_UPDATE2` and
/// `IORING_REGISTER_BUFFERS_UPDATE`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_rsrc_update2 {
    /// First slot to update.
    pub offset: u32,
    /// Reserved.
    pub resv: u32,
    /// Pointer to the array of fds or iovecs.
    pub data: u64,
    /// Pointer to an array of `nr` `u64` tags, or 0.
    pub tags: u64,
    /// Number of entries.
    pub nr: u32,
    /// Reserved.
    pub resv2: u32,
}

/// A descriptor value of a files update that leaves its slot unchanged.
pub const IORING_REGISTER_FILES_SKIP: i32 = -2;

// `enum io_uring_register_restriction_op`: io_uring_restriction.opcode.
/// Allow the `io_uring_register(2)` opcode in `register_op`.
pub const IORING_RESTRICTION_REGISTER_OP: u16 = 0;
/// Allow the SQE opcode in `sqe_op`.
pub const IORING_RESTRICTION_SQE_OP: u16 = 1;
/// Allow the `IOSQE_*` flags in `sqe_flags`.
pub const IORING_RESTRICTION_SQE_FLAGS_ALLOWED: u16 = 2;
/// Require the `IOSQE_*` flags in `sqe_flags` on every SQE.
pub const IORING_RESTRICTION_SQE_FLAGS_REQUIRED: u16 = 3;
/// One past the last restriction opcode.
pub const IORING_RESTRICTION_LAST: u16 = 4;

/// `struct io_uring_restriction`: one entry of the `IORING_REGISTER_RESTRICTIONS`
/// array.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_uring_restriction {
    /// `IORING_RESTRICTION_*`.
    pub opcode: u16,
    /// The opcode or flags the restriction is about.
    pub register_op_or_sqe_op_or_sqe_flags: register_op_or_sqe_op_or_sqe_flags_union,
    /// Reserved.
    pub resv: u8,
    /// Reserved.
    pub resv2: [u32; 3],
}

impl Default for io_uring_restriction {
    fn default() -> Self {
        Self {
            opcode: 0,
            register_op_or_sqe_op_or_sqe_flags: register_op_or_sqe_op_or_sqe_flags_union {
                register_op: 0,
            },
            resv: 0,
            resv2: [0; 3],
        }
    }
}

impl core::fmt::Debug for io_uring_restriction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: every variant of the union is a `u8` covering the same byte.
        let arg = unsafe { self.register_op_or_sqe_op_or_sqe_flags.register_op };
        f.debug_struct("io_uring_restriction")
            .field("opcode", &self.opcode)
            .field("register_op_or_sqe_op_or_sqe_flags", &arg)
            .finish_non_exhaustive()
    }
}

/// The `register_op` / `sqe_op` / `sqe_flags` union of [`io_uring_restriction`].
#[repr(C)]
#[derive(Clone, Copy)]
pub union register_op_or_sqe_op_or_sqe_flags_union {
    /// With `IORING_RESTRICTION_REGISTER_OP`: an `IORING_REGISTER_*` opcode.
    pub register_op: u8,
    /// With `IORING_RESTRICTION_SQE_OP`: an `IORING_OP_*` opcode.
    pub sqe_op: u8,
    /// With `IORING_RESTRICTION_SQE_FLAGS_*`: `IOSQE_*` flags.
    pub sqe_flags: u8,
}

/// `struct io_uring_clock_register`: the argument of `IORING_REGISTER_CLOCK`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_clock_register {
    /// `CLOCK_MONOTONIC` or `CLOCK_BOOTTIME`, for waits and absolute timeouts.
    pub clockid: u32,
    /// Reserved.
    pub __resv: [u32; 3],
}

// io_uring_clone_buffers.flags.
/// `src_fd` is a registered ring index.
pub const IORING_REGISTER_SRC_REGISTERED: u32 = 1 << 0;
/// Replace buffers already registered in the destination range.
pub const IORING_REGISTER_DST_REPLACE: u32 = 1 << 1;

/// `struct io_uring_clone_buffers`: the argument of `IORING_REGISTER_CLONE_BUFFERS`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_clone_buffers {
    /// The ring to clone from.
    pub src_fd: u32,
    /// `IORING_REGISTER_SRC_REGISTERED`, `IORING_REGISTER_DST_REPLACE`.
    pub flags: u32,
    /// First source buffer.
    pub src_off: u32,
    /// First destination slot.
    pub dst_off: u32,
    /// Number of buffers (0: all).
    pub nr: u32,
    /// Reserved.
    pub pad: [u32; 3],
}

/// `struct io_uring_buf`: one entry of a provided-buffer ring.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_buf {
    /// Buffer address.
    pub addr: u64,
    /// Buffer length.
    pub len: u32,
    /// Buffer id, returned in the CQE flags.
    pub bid: u16,
    /// Reserved (the ring tail in entry 0, see [`io_uring_buf_ring`]).
    pub resv: u16,
}

/// `struct io_uring_buf_ring`: a provided-buffer ring. The C struct is a union of the
/// `bufs` flexible array and this 16-byte header, whose `tail` overlays the `resv` of
/// `bufs[0]`, so that the ring fits in exactly `entries` × 16 bytes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_buf_ring {
    /// The entries, starting at offset 0 (flexible array in C, overlaying the header).
    pub bufs: [io_uring_buf; 0],
    /// Reserved (`bufs[0].addr`).
    pub resv1: u64,
    /// Reserved (`bufs[0].len`).
    pub resv2: u32,
    /// Reserved (`bufs[0].bid`).
    pub resv3: u16,
    /// Producer index (application), published with a release store.
    pub tail: u16,
}

// `enum io_uring_register_pbuf_ring_flags`: io_uring_buf_reg.flags.
/// The kernel allocates the ring; map it at `IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT`.
pub const IOU_PBUF_RING_MMAP: u16 = 1;
/// Buffers are consumed incrementally (`IORING_CQE_F_BUF_MORE`).
pub const IOU_PBUF_RING_INC: u16 = 2;

/// `struct io_uring_buf_reg`: the argument of `IORING_(UN)REGISTER_PBUF_RING`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_buf_reg {
    /// Address of the ring (0 with `IOU_PBUF_RING_MMAP`).
    pub ring_addr: u64,
    /// Number of entries, a power of two.
    pub ring_entries: u32,
    /// Buffer group id.
    pub bgid: u16,
    /// `IOU_PBUF_RING_*`.
    pub flags: u16,
    /// Reserved.
    pub resv: [u64; 3],
}

/// `struct io_uring_buf_status`: the argument of `IORING_REGISTER_PBUF_STATUS`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_buf_status {
    /// In: the buffer group.
    pub buf_group: u32,
    /// Out: the kernel's head index.
    pub head: u32,
    /// Reserved.
    pub resv: [u32; 8],
}

// `enum io_uring_napi_op`: io_uring_napi.opcode.
/// Register (or unregister) busy polling, `op_param` being the tracking strategy.
pub const IO_URING_NAPI_REGISTER_OP: u8 = 0;
/// Add the NAPI id in `op_param` to the statically tracked list.
pub const IO_URING_NAPI_STATIC_ADD_ID: u8 = 1;
/// Remove the NAPI id in `op_param` from the statically tracked list.
pub const IO_URING_NAPI_STATIC_DEL_ID: u8 = 2;

// `enum io_uring_napi_tracking_strategy`: io_uring_napi.op_param of the register op.
/// Track NAPI ids from the sockets the ring uses.
pub const IO_URING_NAPI_TRACKING_DYNAMIC: u32 = 0;
/// Track only the NAPI ids added with `IO_URING_NAPI_STATIC_ADD_ID`.
pub const IO_URING_NAPI_TRACKING_STATIC: u32 = 1;
/// No tracking (busy polling off).
pub const IO_URING_NAPI_TRACKING_INACTIVE: u32 = 255;

/// `struct io_uring_napi`: the argument of `IORING_(UN)REGISTER_NAPI`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_napi {
    /// Busy-poll timeout in microseconds.
    pub busy_poll_to: u32,
    /// Prefer busy polling over interrupts.
    pub prefer_busy_poll: u8,
    /// `IO_URING_NAPI_*` operation.
    pub opcode: u8,
    /// Reserved.
    pub pad: [u8; 2],
    /// The tracking strategy, or the NAPI id to add or remove.
    pub op_param: u32,
    /// Reserved.
    pub resv: u32,
}

/// `struct io_uring_sync_cancel_reg`: the argument of `IORING_REGISTER_SYNC_CANCEL`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_sync_cancel_reg {
    /// The `user_data` to match.
    pub addr: u64,
    /// The fd to match, with `IORING_ASYNC_CANCEL_FD`.
    pub fd: i32,
    /// `IORING_ASYNC_CANCEL_*`.
    pub flags: u32,
    /// How long to wait for the cancellation (`-1`/`-1` for ever).
    pub timeout: crate::__kernel_timespec,
    /// The opcode to match, with `IORING_ASYNC_CANCEL_OP`.
    pub opcode: u8,
    /// Reserved.
    pub pad: [u8; 7],
    /// Reserved.
    pub pad2: [u64; 3],
}

/// `struct io_uring_file_index_range`: the argument of
/// `IORING_REGISTER_FILE_ALLOC_RANGE`, the range `[off, off + len)`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_file_index_range {
    /// First slot.
    pub off: u32,
    /// Number of slots.
    pub len: u32,
    /// Reserved.
    pub resv: u64,
}

/// `struct io_uring_recvmsg_out`: the header a multishot `RECVMSG` writes at the start
/// of each provided buffer, followed by the name, the control data and the payload.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_recvmsg_out {
    /// Length of the source address (may exceed the room given in `msg_namelen`).
    pub namelen: u32,
    /// Length of the control data (may exceed the room given).
    pub controllen: u32,
    /// Length of the payload (may exceed what fitted).
    pub payloadlen: u32,
    /// `MSG_*` flags of the received message.
    pub flags: u32,
}

/// `struct io_uring_zcrx_rqe`: one entry of a zero-copy receive refill queue.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_zcrx_rqe {
    /// Offset of the buffer to return, area id in the bits from `IORING_ZCRX_AREA_SHIFT`.
    pub off: u64,
    /// Length to return.
    pub len: u32,
    /// Reserved.
    pub __pad: u32,
}

/// `struct io_uring_zcrx_cqe`: the second half of a `RECV_ZC` 32-byte CQE.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_zcrx_cqe {
    /// Offset of the data in the area, area id in the bits from `IORING_ZCRX_AREA_SHIFT`.
    pub off: u64,
    /// Reserved.
    pub __pad: u64,
}

/// The bit from which the area id is encoded into zero-copy receive offsets.
pub const IORING_ZCRX_AREA_SHIFT: u32 = 48;
/// The area-id bits of a zero-copy receive offset.
pub const IORING_ZCRX_AREA_MASK: u64 = !((1u64 << IORING_ZCRX_AREA_SHIFT) - 1);

/// `struct io_uring_zcrx_offsets`: where the fields of a refill queue lie in its region.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_zcrx_offsets {
    /// Offset of the head index.
    pub head: u32,
    /// Offset of the tail index.
    pub tail: u32,
    /// Offset of the [`io_uring_zcrx_rqe`] array.
    pub rqes: u32,
    /// Reserved.
    pub __resv2: u32,
    /// Reserved.
    pub __resv: [u64; 2],
}

// `enum io_uring_zcrx_area_flags`: io_uring_zcrx_area_reg.flags.
/// The area is a dma-buf, `dmabuf_fd`, instead of user memory.
pub const IORING_ZCRX_AREA_DMABUF: u32 = 1;

/// `struct io_uring_zcrx_area_reg`: a memory area to receive into.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_zcrx_area_reg {
    /// User address of the area (or offset into the dma-buf).
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
    /// Out: the token to OR into refill-queue offsets of this area.
    pub rq_area_token: u64,
    /// `IORING_ZCRX_AREA_*`.
    pub flags: u32,
    /// The dma-buf fd, with `IORING_ZCRX_AREA_DMABUF`.
    pub dmabuf_fd: u32,
    /// Reserved.
    pub __resv2: [u64; 2],
}

/// `struct io_uring_zcrx_ifq_reg`: the argument of `IORING_REGISTER_ZCRX_IFQ`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_zcrx_ifq_reg {
    /// Network interface index.
    pub if_idx: u32,
    /// Hardware receive queue of the interface.
    pub if_rxq: u32,
    /// Refill queue entries (in; rounded up, out).
    pub rq_entries: u32,
    /// `ZCRX_REG_*` flags (none defined in 6.18: zero).
    pub flags: u32,
    /// Pointer to an [`io_uring_zcrx_area_reg`].
    pub area_ptr: u64,
    /// Pointer to the [`io_uring_region_desc`] of the refill queue.
    pub region_ptr: u64,
    /// Out: the refill queue layout.
    pub offsets: io_uring_zcrx_offsets,
    /// Out: the id of the new zero-copy receive instance (for `zcrx_ifq_idx`).
    pub zcrx_id: u32,
    /// Reserved.
    pub __resv2: u32,
    /// Reserved.
    pub __resv: [u64; 3],
}
