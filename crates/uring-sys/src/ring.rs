//! Setup parameters, ring offsets, and the flags of setup, enter and the shared rings.

/// `struct io_sqring_offsets`: where each field of the SQ ring lies, from the start of
/// the SQ ring mapping. Filled in by `io_uring_setup(2)`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_sqring_offsets {
    /// Offset of the head index (consumer: the kernel).
    pub head: u32,
    /// Offset of the tail index (producer: the application).
    pub tail: u32,
    /// Offset of `ring_entries - 1`.
    pub ring_mask: u32,
    /// Offset of the number of entries.
    pub ring_entries: u32,
    /// Offset of the SQ flags (`IORING_SQ_*`).
    pub flags: u32,
    /// Offset of the count of invalid entries the kernel dropped.
    pub dropped: u32,
    /// Offset of the index array (absent with `IORING_SETUP_NO_SQARRAY`).
    pub array: u32,
    /// Reserved.
    pub resv1: u32,
    /// With `IORING_SETUP_NO_MMAP`: the user address of the SQE array memory.
    pub user_addr: u64,
}

/// `struct io_cqring_offsets`: where each field of the CQ ring lies, from the start of
/// the CQ ring mapping (the SQ ring's one with `IORING_FEAT_SINGLE_MMAP`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_cqring_offsets {
    /// Offset of the head index (consumer: the application).
    pub head: u32,
    /// Offset of the tail index (producer: the kernel).
    pub tail: u32,
    /// Offset of `ring_entries - 1`.
    pub ring_mask: u32,
    /// Offset of the number of entries.
    pub ring_entries: u32,
    /// Offset of the count of completions lost to overflow (only without NODROP).
    pub overflow: u32,
    /// Offset of the CQE array.
    pub cqes: u32,
    /// Offset of the CQ flags (`IORING_CQ_*`).
    pub flags: u32,
    /// Reserved.
    pub resv1: u32,
    /// With `IORING_SETUP_NO_MMAP`: the user address of the ring memory.
    pub user_addr: u64,
}

/// `struct io_uring_params`: passed to `io_uring_setup(2)`, copied back with the
/// actual sizes, the features and the ring offsets.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_params {
    /// SQ entries (out; rounded up to a power of two).
    pub sq_entries: u32,
    /// CQ entries (in with `IORING_SETUP_CQSIZE`, out always).
    pub cq_entries: u32,
    /// `IORING_SETUP_*` flags.
    pub flags: u32,
    /// CPU of the SQ poll thread, with `IORING_SETUP_SQ_AFF`.
    pub sq_thread_cpu: u32,
    /// Milliseconds of idleness before the SQ poll thread sleeps.
    pub sq_thread_idle: u32,
    /// `IORING_FEAT_*` flags (out).
    pub features: u32,
    /// Ring whose io-wq to share, with `IORING_SETUP_ATTACH_WQ`.
    pub wq_fd: u32,
    /// Reserved, must be zero.
    pub resv: [u32; 3],
    /// SQ ring offsets (out; `user_addr` in with `IORING_SETUP_NO_MMAP`).
    pub sq_off: io_sqring_offsets,
    /// CQ ring offsets (out; `user_addr` in with `IORING_SETUP_NO_MMAP`).
    pub cq_off: io_cqring_offsets,
}

// io_uring_setup(2) flags.
/// Busy-poll for completions (O_DIRECT files on polled block devices).
pub const IORING_SETUP_IOPOLL: u32 = 1 << 0;
/// A kernel thread polls the SQ.
pub const IORING_SETUP_SQPOLL: u32 = 1 << 1;
/// `sq_thread_cpu` is valid.
pub const IORING_SETUP_SQ_AFF: u32 = 1 << 2;
/// The application sets the CQ size in `cq_entries`.
pub const IORING_SETUP_CQSIZE: u32 = 1 << 3;
/// Clamp SQ/CQ sizes to the maximum instead of failing.
pub const IORING_SETUP_CLAMP: u32 = 1 << 4;
/// Share the io-wq of the ring in `wq_fd`.
pub const IORING_SETUP_ATTACH_WQ: u32 = 1 << 5;
/// Start disabled; enable with `IORING_REGISTER_ENABLE_RINGS`.
pub const IORING_SETUP_R_DISABLED: u32 = 1 << 6;
/// Continue submitting after an SQE fails to prepare.
pub const IORING_SETUP_SUBMIT_ALL: u32 = 1 << 7;
/// Run task work cooperatively, at the next kernel transition, without an IPI.
pub const IORING_SETUP_COOP_TASKRUN: u32 = 1 << 8;
/// With `COOP_TASKRUN` or `DEFER_TASKRUN`: set `IORING_SQ_TASKRUN` when task work waits.
pub const IORING_SETUP_TASKRUN_FLAG: u32 = 1 << 9;
/// SQEs are 128 bytes.
pub const IORING_SETUP_SQE128: u32 = 1 << 10;
/// CQEs are 32 bytes.
pub const IORING_SETUP_CQE32: u32 = 1 << 11;
/// Only one task submits.
pub const IORING_SETUP_SINGLE_ISSUER: u32 = 1 << 12;
/// Defer task work until the application waits for events.
pub const IORING_SETUP_DEFER_TASKRUN: u32 = 1 << 13;
/// The application provides the ring memory.
pub const IORING_SETUP_NO_MMAP: u32 = 1 << 14;
/// Return a registered ring index instead of a file descriptor.
pub const IORING_SETUP_REGISTERED_FD_ONLY: u32 = 1 << 15;
/// No SQ index array: the SQ tail indexes the SQE array directly.
pub const IORING_SETUP_NO_SQARRAY: u32 = 1 << 16;
/// Hybrid polling for `IOPOLL`: sleep first, then poll.
pub const IORING_SETUP_HYBRID_IOPOLL: u32 = 1 << 17;
/// Mixed 16- and 32-byte CQEs in one CQ ring (32-byte ones flagged `IORING_CQE_F_32`).
pub const IORING_SETUP_CQE_MIXED: u32 = 1 << 18;

// io_uring_params->features.
/// SQ and CQ rings share one mapping.
pub const IORING_FEAT_SINGLE_MMAP: u32 = 1 << 0;
/// Completions are never dropped: a full CQ overflows into a kernel list.
pub const IORING_FEAT_NODROP: u32 = 1 << 1;
/// Data referenced by an SQE is stable once submitted.
pub const IORING_FEAT_SUBMIT_STABLE: u32 = 1 << 2;
/// Offset -1 means the current file position.
pub const IORING_FEAT_RW_CUR_POS: u32 = 1 << 3;
/// Requests run with the submitter's credentials.
pub const IORING_FEAT_CUR_PERSONALITY: u32 = 1 << 4;
/// Internal poll instead of a worker for not-ready sockets and pipes.
pub const IORING_FEAT_FAST_POLL: u32 = 1 << 5;
/// 32-bit poll event masks.
pub const IORING_FEAT_POLL_32BITS: u32 = 1 << 6;
/// SQPOLL works with non-registered files.
pub const IORING_FEAT_SQPOLL_NONFIXED: u32 = 1 << 7;
/// `IORING_ENTER_EXT_ARG` is accepted.
pub const IORING_FEAT_EXT_ARG: u32 = 1 << 8;
/// io-wq workers are native threads of the submitter.
pub const IORING_FEAT_NATIVE_WORKERS: u32 = 1 << 9;
/// Registered resources can carry tags.
pub const IORING_FEAT_RSRC_TAGS: u32 = 1 << 10;
/// `IOSQE_CQE_SKIP_SUCCESS` is accepted.
pub const IORING_FEAT_CQE_SKIP: u32 = 1 << 11;
/// Files of linked requests are resolved at issue time.
pub const IORING_FEAT_LINKED_FILE: u32 = 1 << 12;
/// Registration through a registered ring fd.
pub const IORING_FEAT_REG_REG_RING: u32 = 1 << 13;
/// Send/recv bundles.
pub const IORING_FEAT_RECVSEND_BUNDLE: u32 = 1 << 14;
/// `min_wait_usec` in `io_uring_getevents_arg`.
pub const IORING_FEAT_MIN_TIMEOUT: u32 = 1 << 15;
/// Read/write attributes (`attr_ptr`, `attr_type_mask`).
pub const IORING_FEAT_RW_ATTR: u32 = 1 << 16;
/// `IORING_ENTER_NO_IOWAIT`.
pub const IORING_FEAT_NO_IOWAIT: u32 = 1 << 17;

// sq_ring->flags.
/// The SQ poll thread sleeps: wake it with `IORING_ENTER_SQ_WAKEUP`.
pub const IORING_SQ_NEED_WAKEUP: u32 = 1 << 0;
/// The CQ overflowed: completions wait in the kernel's overflow list.
pub const IORING_SQ_CQ_OVERFLOW: u32 = 1 << 1;
/// Task work is pending: enter the kernel to run it.
pub const IORING_SQ_TASKRUN: u32 = 1 << 2;

// cq_ring->flags.
/// Don't signal the registered eventfd.
pub const IORING_CQ_EVENTFD_DISABLED: u32 = 1 << 0;

// io_uring_enter(2) flags.
/// Wait for `min_complete` completions.
pub const IORING_ENTER_GETEVENTS: u32 = 1 << 0;
/// Wake the SQ poll thread.
pub const IORING_ENTER_SQ_WAKEUP: u32 = 1 << 1;
/// Wait until the SQ has room.
pub const IORING_ENTER_SQ_WAIT: u32 = 1 << 2;
/// `arg` points to an `io_uring_getevents_arg`.
pub const IORING_ENTER_EXT_ARG: u32 = 1 << 3;
/// `fd` is a registered ring index.
pub const IORING_ENTER_REGISTERED_RING: u32 = 1 << 4;
/// The timeout in the ext arg is absolute (on the ring's registered clock).
pub const IORING_ENTER_ABS_TIMER: u32 = 1 << 5;
/// `arg` is an offset into a registered wait region.
pub const IORING_ENTER_EXT_ARG_REG: u32 = 1 << 6;
/// Don't account the wait as iowait.
pub const IORING_ENTER_NO_IOWAIT: u32 = 1 << 7;

// Magic mmap offsets.
/// mmap offset of the SQ ring.
pub const IORING_OFF_SQ_RING: u64 = 0;
/// mmap offset of the CQ ring.
pub const IORING_OFF_CQ_RING: u64 = 0x800_0000;
/// mmap offset of the SQE array.
pub const IORING_OFF_SQES: u64 = 0x1000_0000;
/// mmap offset of a kernel-allocated provided-buffer ring (`| bgid << IORING_OFF_PBUF_SHIFT`).
pub const IORING_OFF_PBUF_RING: u64 = 0x8000_0000;
/// Shift of the buffer group id in a `IORING_OFF_PBUF_RING` offset.
pub const IORING_OFF_PBUF_SHIFT: u64 = 16;
/// Mask of the magic part of an mmap offset.
pub const IORING_OFF_MMAP_MASK: u64 = 0xf800_0000;
/// Shift of the zero-copy receive instance id in a refill-queue region's mmap offset
/// ([`IORING_OFF_ZCRX_BASE`]` | id << IORING_OFF_ZCRX_SHIFT`).
///
/// Not uapi: the kernel-internal `IORING_OFF_ZCRX_SHIFT` of `io_uring/memmap.h`. The
/// uapi way is the `mmap_offset` the kernel writes into the refill queue's
/// `io_uring_region_desc`.
pub const IORING_OFF_ZCRX_SHIFT: u64 = 16;
/// mmap offset base of the zero-copy receive refill-queue regions.
///
/// Not uapi: the kernel-internal `IORING_MAP_OFF_ZCRX_REGION` of `io_uring/memmap.h`
/// (`0x30000000`); prefer the `mmap_offset` the kernel returns in the region descriptor.
pub const IORING_OFF_ZCRX_BASE: u64 = 0x3000_0000;

/// `struct io_uring_getevents_arg`: the extended argument of `io_uring_enter(2)` with
/// `IORING_ENTER_EXT_ARG`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_getevents_arg {
    /// Pointer to a signal mask to apply while waiting, or 0.
    pub sigmask: u64,
    /// Size of that signal mask in bytes.
    pub sigmask_sz: u32,
    /// Minimum wait, in microseconds, before returning with fewer than `min_complete`
    /// completions (`IORING_FEAT_MIN_TIMEOUT`).
    pub min_wait_usec: u32,
    /// Pointer to a `__kernel_timespec` bounding the wait, or 0.
    pub ts: u64,
}

/// `struct io_uring_reg_wait`: one slot of a registered wait region, used with
/// `IORING_ENTER_EXT_ARG_REG`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct io_uring_reg_wait {
    /// The wait timeout.
    pub ts: crate::__kernel_timespec,
    /// Minimum wait in microseconds.
    pub min_wait_usec: u32,
    /// `IORING_REG_WAIT_TS` when `ts` is valid.
    pub flags: u32,
    /// Signal mask pointer, or 0.
    pub sigmask: u64,
    /// Signal mask size.
    pub sigmask_sz: u32,
    /// Reserved.
    pub pad: [u32; 3],
    /// Reserved.
    pub pad2: [u64; 2],
}

/// `io_uring_reg_wait.flags`: `ts` holds a timeout.
pub const IORING_REG_WAIT_TS: u32 = 1 << 0;
