//! Cross-checks every io_uring constant and struct of `linux-raw-sys` (bindgen output
//! of the kernel's uapi headers, 6.17 era) against ours: equal values, and for structs
//! equal size, alignment and field offsets. The anonymous unions bindgen names
//! `__bindgen_anon_N` / `__bindgen_ty_N` are compared against our named ones.
//!
//! What linux-raw-sys 0.12 lacks, with the kernel version that added it:
//!
//! - 6.18: `IORING_SETUP_CQE_MIXED`, `IORING_CQE_F_SKIP`, `IORING_CQE_F_32`,
//!   `IORING_NOP_CQE32`, `IORING_URING_CMD_MULTISHOT` (and `IORING_URING_CMD_MASK`
//!   growing from 1 to 3), `IORING_REGISTER_QUERY` (and `IORING_REGISTER_LAST` growing
//!   from 35 to 36), and all of `<linux/io_uring/query.h>`: `io_uring_query_hdr`,
//!   `io_uring_query_opcode`, `IO_URING_QUERY_OPCODES`, `__IO_URING_QUERY_MAX`.
//!   These are checked against the running kernel in `tests/kernel_query.rs`, and
//!   the two grown values are asserted here as the exact 6.17 -> 6.18 change.
//! - Macros bindgen cannot evaluate (they use a cast or an enum), older than 6.17:
//!   `IOSQE_FIXED_FILE` (5.1), `IOSQE_IO_DRAIN` (5.2), `IOSQE_IO_LINK` (5.3),
//!   `IOSQE_IO_HARDLINK` (5.5), `IOSQE_ASYNC` (5.6), `IOSQE_BUFFER_SELECT` (5.7),
//!   `IOSQE_CQE_SKIP_SUCCESS` (5.17), `IORING_ZCRX_AREA_MASK` (6.15),
//!   `IORING_CQE_F_TSTAMP_HW` (6.17). They are checked here against the `*_BIT` /
//!   `*_SHIFT` values linux-raw-sys does carry.
//! - Not uapi at all: `IORING_OFF_ZCRX_BASE` and `IORING_OFF_ZCRX_SHIFT` mirror the
//!   kernel-internal `io_uring/memmap.h`; the name tables, masks and lister macros of
//!   `src/declare.rs` are ours (this test walks the families with the listers).
#![cfg(target_os = "linux")]

use core::mem::{align_of, offset_of, size_of};

use linux_raw_sys::io_uring as theirs;
use uring_sys as ours;

/// Asserts that each named constant has the same value in both crates (compared as
/// `i128`, so that our narrower or wider integer types and their `u32` / `i32` /
/// `repr(u32)` enums all compare by value).
macro_rules! same_values {
    ($($name:ident),* $(,)?) => {
        $(assert_eq!(
            ours::$name as i128,
            theirs::$name as i128,
            concat!("value of ", stringify!($name)),
        );)*
    };
}

/// Like [`same_values`], for variants of one of linux-raw-sys's `repr(u32)` enums.
macro_rules! same_variants {
    ($enum:ident: $($name:ident),* $(,)?) => {
        $(assert_eq!(
            ours::$name as i128,
            theirs::$enum::$name as i128,
            concat!("value of ", stringify!($name)),
        );)*
    };
}

/// [`same_values`] for every constant of a family of ours (as a uring-sys lister macro
/// passes them), less those 6.18 added, which linux-raw-sys 0.12 lacks (see above).
macro_rules! same_values_but_6_18 {
    () => {};
    (IORING_SETUP_CQE_MIXED $(, $($rest:tt)*)?) => { same_values_but_6_18!($($($rest)*)?); };
    ($name:ident $(, $($rest:tt)*)?) => {
        same_values!($name);
        same_values_but_6_18!($($($rest)*)?);
    };
}

/// [`same_variants`] for every constant of a family of ours, less those 6.18 added.
macro_rules! same_variants_but_6_18 {
    ($enum:ident:) => {};
    ($enum:ident: IORING_REGISTER_QUERY $(, $($rest:tt)*)?) => {
        same_variants_but_6_18!($enum: $($($rest)*)?);
    };
    ($enum:ident: $name:ident $(, $($rest:tt)*)?) => {
        same_variants!($enum: $name);
        same_variants_but_6_18!($enum: $($($rest)*)?);
    };
}

/// Asserts equal size and alignment, then equal offsets for each field: `a` for a
/// field named alike in both, `a => b` for our `a` against their `b`.
macro_rules! same_layout {
    ($ours:ty, $theirs:ty $(; $($fields:tt)*)?) => {
        assert_eq!(
            size_of::<$ours>(),
            size_of::<$theirs>(),
            concat!("size of ", stringify!($ours)),
        );
        assert_eq!(
            align_of::<$ours>(),
            align_of::<$theirs>(),
            concat!("align of ", stringify!($ours)),
        );
        same_offsets!($ours, $theirs; $($($fields)*)?);
    };
}

/// The field part of [`same_layout`] (a tt muncher over `a` and `a => b`).
macro_rules! same_offsets {
    ($ours:ty, $theirs:ty;) => {};
    ($ours:ty, $theirs:ty; $a:ident => $b:ident $(, $($rest:tt)*)?) => {
        assert_eq!(
            offset_of!($ours, $a),
            offset_of!($theirs, $b),
            concat!("offset of ", stringify!($ours), ".", stringify!($a)),
        );
        same_offsets!($ours, $theirs; $($($rest)*)?);
    };
    ($ours:ty, $theirs:ty; $a:ident $(, $($rest:tt)*)?) => {
        same_offsets!($ours, $theirs; $a => $a $(, $($rest)*)?);
    };
}

#[test]
fn setup_enter_feature_and_ring_flags() {
    uring_sys::io_uring_setup_flags!(same_values_but_6_18);
    uring_sys::io_uring_features!(same_values_but_6_18);
    uring_sys::io_uring_enter_flags!(same_values_but_6_18);
    same_values!(
        IORING_SQ_NEED_WAKEUP,
        IORING_SQ_CQ_OVERFLOW,
        IORING_SQ_TASKRUN,
        IORING_CQ_EVENTFD_DISABLED,
        IORING_OFF_SQ_RING,
        IORING_OFF_CQ_RING,
        IORING_OFF_SQES,
        IORING_OFF_PBUF_RING,
        IORING_OFF_PBUF_SHIFT,
        IORING_OFF_MMAP_MASK,
        IORING_REG_WAIT_TS,
    );
}

#[test]
fn sqe_flags_and_per_op_flags() {
    same_variants!(io_uring_sqe_flags_bit:
        IOSQE_FIXED_FILE_BIT,
        IOSQE_IO_DRAIN_BIT,
        IOSQE_IO_LINK_BIT,
        IOSQE_IO_HARDLINK_BIT,
        IOSQE_ASYNC_BIT,
        IOSQE_BUFFER_SELECT_BIT,
        IOSQE_CQE_SKIP_SUCCESS_BIT,
    );
    // Macros of `1U << IOSQE_*_BIT`, which bindgen leaves out: the bits just checked
    // run 0, 1, 2, …, and our table lists the flags in bit order, each its bit's mask.
    for (bit, &(flag, name)) in ours::IOSQE_FLAG_NAMES.iter().enumerate() {
        assert_eq!(u32::from(flag), 1 << bit, "IOSQE_{name}");
    }
    assert_eq!(
        ours::IOSQE_FLAG_NAMES.len(),
        theirs::io_uring_sqe_flags_bit::IOSQE_CQE_SKIP_SUCCESS_BIT as usize + 1
    );

    // `(~0U)` in C, `-1` as bindgen types it.
    assert_eq!(
        ours::IORING_FILE_INDEX_ALLOC as i32,
        theirs::IORING_FILE_INDEX_ALLOC
    );

    same_values!(
        IORING_RW_ATTR_FLAG_PI,
        IORING_URING_CMD_FIXED,
        IORING_FSYNC_DATASYNC,
        IORING_TIMEOUT_ABS,
        IORING_TIMEOUT_UPDATE,
        IORING_TIMEOUT_BOOTTIME,
        IORING_TIMEOUT_REALTIME,
        IORING_LINK_TIMEOUT_UPDATE,
        IORING_TIMEOUT_ETIME_SUCCESS,
        IORING_TIMEOUT_MULTISHOT,
        IORING_TIMEOUT_CLOCK_MASK,
        IORING_TIMEOUT_UPDATE_MASK,
        SPLICE_F_FD_IN_FIXED,
        IORING_POLL_ADD_MULTI,
        IORING_POLL_UPDATE_EVENTS,
        IORING_POLL_UPDATE_USER_DATA,
        IORING_POLL_ADD_LEVEL,
        IORING_ASYNC_CANCEL_ALL,
        IORING_ASYNC_CANCEL_FD,
        IORING_ASYNC_CANCEL_ANY,
        IORING_ASYNC_CANCEL_FD_FIXED,
        IORING_ASYNC_CANCEL_USERDATA,
        IORING_ASYNC_CANCEL_OP,
        IORING_RECVSEND_POLL_FIRST,
        IORING_RECV_MULTISHOT,
        IORING_RECVSEND_FIXED_BUF,
        IORING_SEND_ZC_REPORT_USAGE,
        IORING_RECVSEND_BUNDLE,
        IORING_SEND_VECTORIZED,
        IORING_NOTIF_USAGE_ZC_COPIED,
        IORING_ACCEPT_MULTISHOT,
        IORING_ACCEPT_DONTWAIT,
        IORING_ACCEPT_POLL_FIRST,
        IORING_MSG_RING_CQE_SKIP,
        IORING_MSG_RING_FLAGS_PASS,
        IORING_FIXED_FD_NO_CLOEXEC,
        IORING_NOP_INJECT_RESULT,
        IORING_NOP_FILE,
        IORING_NOP_FIXED_FILE,
        IORING_NOP_FIXED_BUFFER,
        IORING_NOP_TW,
    );
    same_variants!(io_uring_msg_ring_flags: IORING_MSG_DATA, IORING_MSG_SEND_FD);
    same_variants!(io_uring_socket_op:
        SOCKET_URING_OP_SIOCINQ,
        SOCKET_URING_OP_SIOCOUTQ,
        SOCKET_URING_OP_GETSOCKOPT,
        SOCKET_URING_OP_SETSOCKOPT,
        SOCKET_URING_OP_TX_TIMESTAMP,
    );

    // 6.18 added IORING_URING_CMD_MULTISHOT to the mask.
    assert_eq!(
        theirs::IORING_URING_CMD_MASK,
        theirs::IORING_URING_CMD_FIXED
    );
    assert_eq!(
        ours::IORING_URING_CMD_MASK,
        theirs::IORING_URING_CMD_MASK | ours::IORING_URING_CMD_MULTISHOT
    );
}

#[test]
fn cqe_flags() {
    same_values!(
        IORING_CQE_F_BUFFER,
        IORING_CQE_F_MORE,
        IORING_CQE_F_SOCK_NONEMPTY,
        IORING_CQE_F_NOTIF,
        IORING_CQE_F_BUF_MORE,
        IORING_CQE_BUFFER_SHIFT,
        IORING_TIMESTAMP_HW_SHIFT,
        IORING_TIMESTAMP_TYPE_SHIFT,
    );
    assert_eq!(
        ours::IORING_CQE_F_TSTAMP_HW,
        1 << theirs::IORING_TIMESTAMP_HW_SHIFT
    );
}

#[test]
fn opcodes() {
    uring_sys::io_uring_ops!(same_variants_but_6_18, io_uring_op:);
    same_variants!(io_uring_op: IORING_OP_LAST);
    same_values!(IO_URING_OP_SUPPORTED);
}

#[test]
fn register_opcodes_and_constants() {
    uring_sys::io_uring_register_ops!(same_variants_but_6_18, io_uring_register_op:);
    same_variants!(io_uring_register_op: IORING_REGISTER_USE_REGISTERED_RING);
    // 6.18 added IORING_REGISTER_QUERY where 6.17's IORING_REGISTER_LAST was.
    assert_eq!(
        ours::IORING_REGISTER_QUERY,
        theirs::io_uring_register_op::IORING_REGISTER_LAST as u32
    );
    assert_eq!(ours::IORING_REGISTER_LAST, ours::IORING_REGISTER_QUERY + 1);

    same_variants!(io_wq_type: IO_WQ_BOUND, IO_WQ_UNBOUND);
    same_variants!(io_uring_register_pbuf_ring_flags: IOU_PBUF_RING_MMAP, IOU_PBUF_RING_INC);
    same_variants!(io_uring_napi_op:
        IO_URING_NAPI_REGISTER_OP,
        IO_URING_NAPI_STATIC_ADD_ID,
        IO_URING_NAPI_STATIC_DEL_ID,
    );
    same_variants!(io_uring_napi_tracking_strategy:
        IO_URING_NAPI_TRACKING_DYNAMIC,
        IO_URING_NAPI_TRACKING_STATIC,
        IO_URING_NAPI_TRACKING_INACTIVE,
    );
    same_variants!(io_uring_register_restriction_op:
        IORING_RESTRICTION_REGISTER_OP,
        IORING_RESTRICTION_SQE_OP,
        IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
        IORING_RESTRICTION_SQE_FLAGS_REQUIRED,
        IORING_RESTRICTION_LAST,
    );
    same_variants!(io_uring_zcrx_area_flags: IORING_ZCRX_AREA_DMABUF);
    same_values!(
        IORING_RSRC_REGISTER_SPARSE,
        IORING_REGISTER_FILES_SKIP,
        IORING_MEM_REGION_TYPE_USER,
        IORING_MEM_REGION_REG_WAIT_ARG,
        IORING_REGISTER_SRC_REGISTERED,
        IORING_REGISTER_DST_REPLACE,
        IORING_ZCRX_AREA_SHIFT,
    );
    assert_eq!(
        ours::IORING_ZCRX_AREA_MASK,
        !((1u64 << theirs::IORING_ZCRX_AREA_SHIFT) - 1)
    );
}

#[test]
fn sqe_layout() {
    same_layout!(ours::io_uring_sqe, theirs::io_uring_sqe;
        opcode, flags, ioprio, fd,
        off_or_addr2 => __bindgen_anon_1,
        addr_or_splice_off_in => __bindgen_anon_2,
        len,
        op_flags => __bindgen_anon_3,
        user_data,
        buf => __bindgen_anon_4,
        personality,
        splice_fd_in_or_file_index => __bindgen_anon_5,
        addr3_or_cmd => __bindgen_anon_6,
    );
    same_layout!(ours::off_or_addr2_union, theirs::io_uring_sqe__bindgen_ty_1;
        off, addr2, cmd_op => __bindgen_anon_1);
    same_layout!(ours::cmd_op_struct, theirs::io_uring_sqe__bindgen_ty_1__bindgen_ty_1;
        cmd_op, __pad1);
    same_layout!(ours::addr_or_splice_off_in_union, theirs::io_uring_sqe__bindgen_ty_2;
        addr, splice_off_in, sockopt => __bindgen_anon_1);
    same_layout!(ours::sockopt_struct, theirs::io_uring_sqe__bindgen_ty_2__bindgen_ty_1;
        level, optname);
    // Every op-flags view linux-raw-sys has; ours also keeps `epoll_flags`.
    same_layout!(ours::op_flags_union, theirs::io_uring_sqe__bindgen_ty_3;
        rw_flags, fsync_flags, poll_events, poll32_events, sync_range_flags, msg_flags,
        timeout_flags, accept_flags, cancel_flags, open_flags, statx_flags, fadvise_advice,
        splice_flags, rename_flags, unlink_flags, hardlink_flags, xattr_flags,
        msg_ring_flags, uring_cmd_flags, waitid_flags, futex_flags, install_fd_flags,
        nop_flags, pipe_flags);
    // The C union is `__attribute__((packed))` (alignment 1); ours has the natural
    // alignment 2. Both sit at offset 40 of the SQE, which is 8-aligned, so the SQE
    // layout is the same (checked above); compare size and offsets only.
    assert_eq!(
        size_of::<ours::buf_union>(),
        size_of::<theirs::io_uring_sqe__bindgen_ty_4>()
    );
    assert_eq!(align_of::<theirs::io_uring_sqe__bindgen_ty_4>(), 1);
    same_offsets!(ours::buf_union, theirs::io_uring_sqe__bindgen_ty_4; buf_index, buf_group);
    same_layout!(ours::splice_fd_in_or_file_index_union, theirs::io_uring_sqe__bindgen_ty_5;
        splice_fd_in, file_index, zcrx_ifq_idx, optlen,
        addr_len => __bindgen_anon_1, write_stream => __bindgen_anon_2);
    same_layout!(ours::addr_len_struct, theirs::io_uring_sqe__bindgen_ty_5__bindgen_ty_1;
        addr_len, __pad3);
    same_layout!(ours::write_stream_struct, theirs::io_uring_sqe__bindgen_ty_5__bindgen_ty_2;
        write_stream, __pad4);
    same_layout!(ours::addr3_or_cmd_union, theirs::io_uring_sqe__bindgen_ty_6;
        addr3 => __bindgen_anon_1, attr => __bindgen_anon_2, optval, cmd);
    same_layout!(ours::addr3_struct, theirs::io_uring_sqe__bindgen_ty_6__bindgen_ty_1;
        addr3, __pad2);
    same_layout!(ours::attr_struct, theirs::io_uring_sqe__bindgen_ty_6__bindgen_ty_2;
        attr_ptr, attr_type_mask);
    same_layout!(ours::io_uring_attr_pi, theirs::io_uring_attr_pi;
        flags, app_tag, len, addr, seed, rsvd);
}

#[test]
fn cqe_and_ring_layouts() {
    same_layout!(ours::io_uring_cqe, theirs::io_uring_cqe; user_data, res, flags, big_cqe);
    same_layout!(ours::io_timespec, theirs::io_timespec; tv_sec, tv_nsec);
    same_layout!(ours::__kernel_timespec, theirs::__kernel_timespec; tv_sec, tv_nsec);
    same_layout!(ours::io_sqring_offsets, theirs::io_sqring_offsets;
        head, tail, ring_mask, ring_entries, flags, dropped, array, resv1, user_addr);
    same_layout!(ours::io_cqring_offsets, theirs::io_cqring_offsets;
        head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1, user_addr);
    same_layout!(ours::io_uring_params, theirs::io_uring_params;
        sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv,
        sq_off, cq_off);
    same_layout!(ours::io_uring_getevents_arg, theirs::io_uring_getevents_arg;
        sigmask, sigmask_sz, min_wait_usec, ts);
    same_layout!(ours::io_uring_reg_wait, theirs::io_uring_reg_wait;
        ts, min_wait_usec, flags, sigmask, sigmask_sz, pad, pad2);
}

#[test]
fn register_layouts() {
    same_layout!(ours::io_uring_files_update, theirs::io_uring_files_update;
        offset, resv, fds);
    same_layout!(ours::io_uring_region_desc, theirs::io_uring_region_desc;
        user_addr, size, flags, id, mmap_offset, __resv);
    same_layout!(ours::io_uring_mem_region_reg, theirs::io_uring_mem_region_reg;
        region_uptr, flags, __resv);
    same_layout!(ours::io_uring_rsrc_register, theirs::io_uring_rsrc_register;
        nr, flags, resv2, data, tags);
    same_layout!(ours::io_uring_rsrc_update, theirs::io_uring_rsrc_update;
        offset, resv, data);
    same_layout!(ours::io_uring_rsrc_update2, theirs::io_uring_rsrc_update2;
        offset, resv, data, tags, nr, resv2);
    same_layout!(ours::io_uring_probe_op, theirs::io_uring_probe_op;
        op, resv, flags, resv2);
    same_layout!(ours::io_uring_probe, theirs::io_uring_probe;
        last_op, ops_len, resv, resv2, ops);
    same_layout!(ours::io_uring_restriction, theirs::io_uring_restriction;
        opcode, register_op_or_sqe_op_or_sqe_flags => __bindgen_anon_1, resv, resv2);
    same_layout!(ours::register_op_or_sqe_op_or_sqe_flags_union,
        theirs::io_uring_restriction__bindgen_ty_1;
        register_op, sqe_op, sqe_flags);
    same_layout!(ours::io_uring_clock_register, theirs::io_uring_clock_register;
        clockid, __resv);
    same_layout!(ours::io_uring_clone_buffers, theirs::io_uring_clone_buffers;
        src_fd, flags, src_off, dst_off, nr, pad);
    same_layout!(ours::io_uring_buf, theirs::io_uring_buf; addr, len, bid, resv);
    // Theirs nests the header and the flexible array in a union-like struct; ours
    // flattens both into one struct whose zero-sized `bufs` sits at offset 0.
    same_layout!(ours::io_uring_buf_ring, theirs::io_uring_buf_ring);
    same_layout!(
        ours::io_uring_buf_ring,
        theirs::io_uring_buf_ring__bindgen_ty_1
    );
    assert_eq!(offset_of!(theirs::io_uring_buf_ring, __bindgen_anon_1), 0);
    // The zero-sized `__empty_bufs` placeholder bindgen puts before `bufs`.
    assert_eq!(
        size_of::<theirs::io_uring_buf_ring__bindgen_ty_1__bindgen_ty_2__bindgen_ty_1>(),
        0
    );
    same_layout!(ours::io_uring_buf_ring, theirs::io_uring_buf_ring__bindgen_ty_1__bindgen_ty_1;
        resv1, resv2, resv3, tail);
    assert_eq!(
        offset_of!(ours::io_uring_buf_ring, bufs),
        offset_of!(theirs::io_uring_buf_ring__bindgen_ty_1__bindgen_ty_2, bufs)
    );
    same_layout!(ours::io_uring_buf_reg, theirs::io_uring_buf_reg;
        ring_addr, ring_entries, bgid, flags, resv);
    same_layout!(ours::io_uring_buf_status, theirs::io_uring_buf_status;
        buf_group, head, resv);
    same_layout!(ours::io_uring_napi, theirs::io_uring_napi;
        busy_poll_to, prefer_busy_poll, opcode, pad, op_param, resv);
    same_layout!(ours::io_uring_sync_cancel_reg, theirs::io_uring_sync_cancel_reg;
        addr, fd, flags, timeout, opcode, pad, pad2);
    same_layout!(ours::io_uring_file_index_range, theirs::io_uring_file_index_range;
        off, len, resv);
    same_layout!(ours::io_uring_recvmsg_out, theirs::io_uring_recvmsg_out;
        namelen, controllen, payloadlen, flags);
}

#[test]
fn zcrx_layouts() {
    same_layout!(ours::io_uring_zcrx_rqe, theirs::io_uring_zcrx_rqe; off, len, __pad);
    same_layout!(ours::io_uring_zcrx_cqe, theirs::io_uring_zcrx_cqe; off, __pad);
    same_layout!(ours::io_uring_zcrx_offsets, theirs::io_uring_zcrx_offsets;
        head, tail, rqes, __resv2, __resv);
    same_layout!(ours::io_uring_zcrx_area_reg, theirs::io_uring_zcrx_area_reg;
        addr, len, rq_area_token, flags, dmabuf_fd, __resv2);
    same_layout!(ours::io_uring_zcrx_ifq_reg, theirs::io_uring_zcrx_ifq_reg;
        if_idx, if_rxq, rq_entries, flags, area_ptr, region_ptr, offsets, zcrx_id, __resv2,
        __resv);
}
