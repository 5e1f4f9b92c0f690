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
flags! {
    $
    /// Every setup flag with its name, in bit order (`(IORING_SETUP_SQPOLL, "SQPOLL")`, …).
    table IORING_SETUP_FLAG_NAMES, mask IORING_SETUP_FLAGS, lister io_uring_setup_flags: u32, prefix "IORING_SETUP_";
    /// Busy-poll for completions (O_DIRECT files on polled block devices).
    IORING_SETUP_IOPOLL = 1 << 0;
    /// A kernel thread polls the SQ.
    IORING_SETUP_SQPOLL = 1 << 1;
    /// `sq_thread_cpu` is valid.
    IORING_SETUP_SQ_AFF = 1 << 2;
    /// The application sets the CQ size in `cq_entries`.
    IORING_SETUP_CQSIZE = 1 << 3;
    /// Clamp SQ/CQ sizes to the maximum instead of failing.
    IORING_SETUP_CLAMP = 1 << 4;
    /// Share the io-wq of the ring in `wq_fd`.
    IORING_SETUP_ATTACH_WQ = 1 << 5;
    /// Start disabled; enable with `IORING_REGISTER_ENABLE_RINGS`.
    IORING_SETUP_R_DISABLED = 1 << 6;
    /// Continue submitting after an SQE fails to prepare.
    IORING_SETUP_SUBMIT_ALL = 1 << 7;
    /// Run task work cooperatively, at the next kernel transition, without an IPI.
    IORING_SETUP_COOP_TASKRUN = 1 << 8;
    /// With `COOP_TASKRUN` or `DEFER_TASKRUN`: set `IORING_SQ_TASKRUN` when task work waits.
    IORING_SETUP_TASKRUN_FLAG = 1 << 9;
    /// SQEs are 128 bytes.
    IORING_SETUP_SQE128 = 1 << 10;
    /// CQEs are 32 bytes.
    IORING_SETUP_CQE32 = 1 << 11;
    /// Only one task submits.
    IORING_SETUP_SINGLE_ISSUER = 1 << 12;
    /// Defer task work until the application waits for events.
    IORING_SETUP_DEFER_TASKRUN = 1 << 13;
    /// The application provides the ring memory.
    IORING_SETUP_NO_MMAP = 1 << 14;
    /// Return a registered ring index instead of a file descriptor.
    IORING_SETUP_REGISTERED_FD_ONLY = 1 << 15;
    /// No SQ index array: the SQ tail indexes the SQE array directly.
    IORING_SETUP_NO_SQARRAY = 1 << 16;
    /// Hybrid polling for `IOPOLL`: sleep first, then poll.
    IORING_SETUP_HYBRID_IOPOLL = 1 << 17;
    /// Mixed 16- and 32-byte CQEs in one CQ ring (32-byte ones flagged `IORING_CQE_F_32`).
    IORING_SETUP_CQE_MIXED = 1 << 18;
}

// io_uring_params->features.
flags! {
    $
    /// Every feature flag with its name, in bit order (`(IORING_FEAT_NODROP, "NODROP")`, …).
    table IORING_FEAT_NAMES, mask IORING_FEAT_FLAGS, lister io_uring_features: u32, prefix "IORING_FEAT_";
    /// SQ and CQ rings share one mapping.
    IORING_FEAT_SINGLE_MMAP = 1 << 0;
    /// Completions are never dropped: a full CQ overflows into a kernel list.
    IORING_FEAT_NODROP = 1 << 1;
    /// Data referenced by an SQE is stable once submitted.
    IORING_FEAT_SUBMIT_STABLE = 1 << 2;
    /// Offset -1 means the current file position.
    IORING_FEAT_RW_CUR_POS = 1 << 3;
    /// Requests run with the submitter's credentials.
    IORING_FEAT_CUR_PERSONALITY = 1 << 4;
    /// Internal poll instead of a worker for not-ready sockets and pipes.
    IORING_FEAT_FAST_POLL = 1 << 5;
    /// 32-bit poll event masks.
    IORING_FEAT_POLL_32BITS = 1 << 6;
    /// SQPOLL works with non-registered files.
    IORING_FEAT_SQPOLL_NONFIXED = 1 << 7;
    /// `IORING_ENTER_EXT_ARG` is accepted.
    IORING_FEAT_EXT_ARG = 1 << 8;
    /// io-wq workers are native threads of the submitter.
    IORING_FEAT_NATIVE_WORKERS = 1 << 9;
    /// Registered resources can carry tags.
    IORING_FEAT_RSRC_TAGS = 1 << 10;
    /// `IOSQE_CQE_SKIP_SUCCESS` is accepted.
    IORING_FEAT_CQE_SKIP = 1 << 11;
    /// Files of linked requests are resolved at issue time.
    IORING_FEAT_LINKED_FILE = 1 << 12;
    /// Registration through a registered ring fd.
    IORING_FEAT_REG_REG_RING = 1 << 13;
    /// Send/recv bundles.
    IORING_FEAT_RECVSEND_BUNDLE = 1 << 14;
    /// `min_wait_usec` in `io_uring_getevents_arg`.
    IORING_FEAT_MIN_TIMEOUT = 1 << 15;
    /// Read/write attributes (`attr_ptr`, `attr_type_mask`).
    IORING_FEAT_RW_ATTR = 1 << 16;
    /// `IORING_ENTER_NO_IOWAIT`.
    IORING_FEAT_NO_IOWAIT = 1 << 17;
}

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
flags! {
    $
    /// Every enter flag with its name, in bit order (`(IORING_ENTER_GETEVENTS, "GETEVENTS")`, …).
    table IORING_ENTER_FLAG_NAMES, mask IORING_ENTER_FLAGS, lister io_uring_enter_flags: u32, prefix "IORING_ENTER_";
    /// Wait for `min_complete` completions.
    IORING_ENTER_GETEVENTS = 1 << 0;
    /// Wake the SQ poll thread.
    IORING_ENTER_SQ_WAKEUP = 1 << 1;
    /// Wait until the SQ has room.
    IORING_ENTER_SQ_WAIT = 1 << 2;
    /// `arg` points to an `io_uring_getevents_arg`.
    IORING_ENTER_EXT_ARG = 1 << 3;
    /// `fd` is a registered ring index.
    IORING_ENTER_REGISTERED_RING = 1 << 4;
    /// The timeout in the ext arg is absolute (on the ring's registered clock).
    IORING_ENTER_ABS_TIMER = 1 << 5;
    /// `arg` is an offset into a registered wait region.
    IORING_ENTER_EXT_ARG_REG = 1 << 6;
    /// Don't account the wait as iowait.
    IORING_ENTER_NO_IOWAIT = 1 << 7;
}

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

/// The most SQ entries a ring can have (the kernel-internal `IORING_MAX_ENTRIES` of
/// `io_uring/io_uring.h`); more is `EINVAL`, or clamped with [`IORING_SETUP_CLAMP`].
pub const IORING_MAX_ENTRIES: u32 = 32768;
/// The most CQ entries a ring can have (the kernel-internal `IORING_MAX_CQ_ENTRIES`).
pub const IORING_MAX_CQ_ENTRIES: u32 = 2 * IORING_MAX_ENTRIES;

/// Why `io_uring_setup(2)` refuses the sizes asked for (each is `EINVAL` there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RingSizeError {
    /// `entries` is 0, or above [`IORING_MAX_ENTRIES`] without `IORING_SETUP_CLAMP`.
    SqEntries,
    /// With `IORING_SETUP_CQSIZE`: `cq_entries` is 0, or above
    /// [`IORING_MAX_CQ_ENTRIES`] without `IORING_SETUP_CLAMP`.
    CqEntries,
    /// With `IORING_SETUP_CQSIZE`: the CQ, once rounded, is smaller than the SQ.
    CqSmallerThanSq,
}

/// The SQ and CQ sizes `io_uring_setup(2)` gives a ring of `entries` with setup `flags`
/// (and `cq_entries`, read with `IORING_SETUP_CQSIZE`), as the kernel's
/// `io_uring_fill_params()` computes them: each rounded up to a power of two, clamped to
/// the maxima with `IORING_SETUP_CLAMP`, the CQ twice the SQ unless `CQSIZE` says.
///
/// ```
/// use uring_sys::{IORING_SETUP_CLAMP, IORING_SETUP_CQSIZE, RingSizeError, ring_sizes};
/// assert_eq!(ring_sizes(5, 0, 0), Ok((8, 16)));
/// assert_eq!(ring_sizes(8, IORING_SETUP_CQSIZE, 100), Ok((8, 128)));
/// assert_eq!(ring_sizes(1 << 20, IORING_SETUP_CLAMP, 0), Ok((32768, 65536)));
/// assert_eq!(ring_sizes(0, 0, 0), Err(RingSizeError::SqEntries));
/// assert_eq!(ring_sizes(16, IORING_SETUP_CQSIZE, 8), Err(RingSizeError::CqSmallerThanSq));
/// ```
///
/// # Errors
/// The [`RingSizeError`] for sizes the kernel refuses.
pub const fn ring_sizes(
    entries: u32,
    flags: u32,
    cq_entries: u32,
) -> Result<(u32, u32), RingSizeError> {
    let clamp = flags & IORING_SETUP_CLAMP != 0;
    if entries == 0 || (entries > IORING_MAX_ENTRIES && !clamp) {
        return Err(RingSizeError::SqEntries);
    }
    let sq = min(entries, IORING_MAX_ENTRIES).next_power_of_two();
    if flags & IORING_SETUP_CQSIZE == 0 {
        return Ok((sq, 2 * sq));
    }
    if cq_entries == 0 || (cq_entries > IORING_MAX_CQ_ENTRIES && !clamp) {
        return Err(RingSizeError::CqEntries);
    }
    let cq = min(cq_entries, IORING_MAX_CQ_ENTRIES).next_power_of_two();
    if cq < sq {
        return Err(RingSizeError::CqSmallerThanSq);
    }
    Ok((sq, cq))
}

const fn min(a: u32, b: u32) -> u32 {
    if a < b { a } else { b }
}

/// Bytes that hold the ring memory of a ring with setup `flags` and `sq` / `cq` entries
/// (sizes from [`ring_sizes`]), as `(rings, sqes)`: the SQ and CQ rings with their CQEs
/// and SQ index array, and the SQE array. Each is at least what the kernel's
/// `rings_size()` asks of memory given with `IORING_SETUP_NO_MMAP` (its `struct io_rings`
/// header is under 1 KiB on every architecture), not rounded to pages.
pub const fn ring_memory_sizes(flags: u32, sq: u32, cq: u32) -> (usize, usize) {
    let mut rings = 1024 + cq as usize * cqe_size(flags);
    if flags & IORING_SETUP_NO_SQARRAY == 0 {
        rings += 64 + sq as usize * 4;
    }
    (rings, sq as usize * sqe_size(flags))
}

/// Bytes of one SQE of a ring with setup `flags`: 64, or 128 with [`IORING_SETUP_SQE128`].
pub const fn sqe_size(flags: u32) -> usize {
    if flags & IORING_SETUP_SQE128 != 0 {
        128
    } else {
        64
    }
}

/// Bytes of one CQE slot of a ring with setup `flags`: 16, or 32 with
/// [`IORING_SETUP_CQE32`].
pub const fn cqe_size(flags: u32) -> usize {
    if flags & IORING_SETUP_CQE32 != 0 {
        32
    } else {
        16
    }
}
