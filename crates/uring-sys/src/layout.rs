//! Compile-time proof that every struct has the kernel's size, alignment and field
//! offsets (x86-64 and every other 64-bit Linux ABI: these structs have no
//! pointer-sized fields).
use core::mem::{align_of, offset_of, size_of};

use crate::*;

macro_rules! check_layout {
    ($ty:ty, size $size:expr, align $align:expr $(, $field:ident @ $off:expr)* $(,)?) => {
        const _: () = {
            assert!(size_of::<$ty>() == $size, concat!("size of ", stringify!($ty)));
            assert!(align_of::<$ty>() == $align, concat!("align of ", stringify!($ty)));
            $(assert!(
                offset_of!($ty, $field) == $off,
                concat!("offset of ", stringify!($ty), ".", stringify!($field))
            );)*
        };
    };
}

check_layout!(io_uring_sqe, size 64, align 8,
    opcode @ 0, flags @ 1, ioprio @ 2, fd @ 4, off_or_addr2 @ 8, addr_or_splice_off_in @ 16,
    len @ 24, op_flags @ 28, user_data @ 32, buf @ 40, personality @ 42,
    splice_fd_in_or_file_index @ 44, addr3_or_cmd @ 48);
check_layout!(off_or_addr2_union, size 8, align 8, off @ 0, addr2 @ 0, cmd_op @ 0);
check_layout!(cmd_op_struct, size 8, align 4, cmd_op @ 0, __pad1 @ 4);
check_layout!(addr_or_splice_off_in_union, size 8, align 8, addr @ 0, splice_off_in @ 0, sockopt @ 0);
check_layout!(sockopt_struct, size 8, align 4, level @ 0, optname @ 4);
check_layout!(op_flags_union, size 4, align 4, rw_flags @ 0, poll_events @ 0, poll32_events @ 0);
check_layout!(buf_union, size 2, align 2, buf_index @ 0, buf_group @ 0);
check_layout!(splice_fd_in_or_file_index_union, size 4, align 4,
    splice_fd_in @ 0, file_index @ 0, zcrx_ifq_idx @ 0, optlen @ 0, addr_len @ 0, write_stream @ 0);
check_layout!(addr_len_struct, size 4, align 2, addr_len @ 0, __pad3 @ 2);
check_layout!(write_stream_struct, size 4, align 1, write_stream @ 0, __pad4 @ 1);
check_layout!(addr3_or_cmd_union, size 16, align 8, addr3 @ 0, attr @ 0, optval @ 0, cmd @ 0);
check_layout!(addr3_struct, size 16, align 8, addr3 @ 0, __pad2 @ 8);
check_layout!(io_uring_attr_pi, size 32, align 8,
    flags @ 0, app_tag @ 2, len @ 4, addr @ 8, seed @ 16, rsvd @ 24);
check_layout!(attr_struct, size 16, align 8, attr_ptr @ 0, attr_type_mask @ 8);
check_layout!(io_uring_cqe, size 16, align 8, user_data @ 0, res @ 8, flags @ 12, big_cqe @ 16);
check_layout!(io_timespec, size 16, align 8, tv_sec @ 0, tv_nsec @ 8);
check_layout!(io_sqring_offsets, size 40, align 8,
    head @ 0, tail @ 4, ring_mask @ 8, ring_entries @ 12, flags @ 16, dropped @ 20,
    array @ 24, resv1 @ 28, user_addr @ 32);
check_layout!(io_cqring_offsets, size 40, align 8,
    head @ 0, tail @ 4, ring_mask @ 8, ring_entries @ 12, overflow @ 16, cqes @ 20,
    flags @ 24, resv1 @ 28, user_addr @ 32);
check_layout!(io_uring_params, size 120, align 8,
    sq_entries @ 0, cq_entries @ 4, flags @ 8, sq_thread_cpu @ 12, sq_thread_idle @ 16,
    features @ 20, wq_fd @ 24, resv @ 28, sq_off @ 40, cq_off @ 80);
check_layout!(io_uring_getevents_arg, size 24, align 8,
    sigmask @ 0, sigmask_sz @ 8, min_wait_usec @ 12, ts @ 16);
check_layout!(io_uring_reg_wait, size 64, align 8,
    ts @ 0, min_wait_usec @ 16, flags @ 20, sigmask @ 24, sigmask_sz @ 32, pad @ 36, pad2 @ 48);
check_layout!(__kernel_timespec, size 16, align 8, tv_sec @ 0, tv_nsec @ 8);
check_layout!(io_uring_probe_op, size 8, align 4, op @ 0, resv @ 1, flags @ 2, resv2 @ 4);
check_layout!(io_uring_probe, size 16, align 4, last_op @ 0, ops_len @ 1, resv @ 2, resv2 @ 4, ops @ 16);
check_layout!(io_uring_rsrc_update, size 16, align 8, offset @ 0, resv @ 4, data @ 8);
check_layout!(io_uring_files_update, size 16, align 8, offset @ 0, resv @ 4, fds @ 8);
check_layout!(io_uring_region_desc, size 64, align 8,
    user_addr @ 0, size @ 8, flags @ 16, id @ 20, mmap_offset @ 24, __resv @ 32);
check_layout!(io_uring_mem_region_reg, size 32, align 8, region_uptr @ 0, flags @ 8, __resv @ 16);
check_layout!(io_uring_rsrc_register, size 32, align 8,
    nr @ 0, flags @ 4, resv2 @ 8, data @ 16, tags @ 24);
check_layout!(io_uring_rsrc_update2, size 32, align 8,
    offset @ 0, resv @ 4, data @ 8, tags @ 16, nr @ 24, resv2 @ 28);
check_layout!(io_uring_restriction, size 16, align 4,
    opcode @ 0, register_op_or_sqe_op_or_sqe_flags @ 2, resv @ 3, resv2 @ 4);
check_layout!(register_op_or_sqe_op_or_sqe_flags_union, size 1, align 1,
    register_op @ 0, sqe_op @ 0, sqe_flags @ 0);
check_layout!(io_uring_clock_register, size 16, align 4, clockid @ 0, __resv @ 4);
check_layout!(io_uring_clone_buffers, size 32, align 4,
    src_fd @ 0, flags @ 4, src_off @ 8, dst_off @ 12, nr @ 16, pad @ 20);
check_layout!(io_uring_buf, size 16, align 8, addr @ 0, len @ 8, bid @ 12, resv @ 14);
check_layout!(io_uring_buf_ring, size 16, align 8,
    bufs @ 0, resv1 @ 0, resv2 @ 8, resv3 @ 12, tail @ 14);
check_layout!(io_uring_buf_reg, size 40, align 8,
    ring_addr @ 0, ring_entries @ 8, bgid @ 12, flags @ 14, resv @ 16);
check_layout!(io_uring_buf_status, size 40, align 4, buf_group @ 0, head @ 4, resv @ 8);
check_layout!(io_uring_napi, size 16, align 4,
    busy_poll_to @ 0, prefer_busy_poll @ 4, opcode @ 5, pad @ 6, op_param @ 8, resv @ 12);
check_layout!(io_uring_sync_cancel_reg, size 64, align 8,
    addr @ 0, fd @ 8, flags @ 12, timeout @ 16, opcode @ 32, pad @ 33, pad2 @ 40);
check_layout!(io_uring_file_index_range, size 16, align 8, off @ 0, len @ 4, resv @ 8);
check_layout!(io_uring_recvmsg_out, size 16, align 4,
    namelen @ 0, controllen @ 4, payloadlen @ 8, flags @ 12);
check_layout!(io_uring_zcrx_rqe, size 16, align 8, off @ 0, len @ 8, __pad @ 12);
check_layout!(io_uring_zcrx_cqe, size 16, align 8, off @ 0, __pad @ 8);
check_layout!(io_uring_zcrx_offsets, size 32, align 8,
    head @ 0, tail @ 4, rqes @ 8, __resv2 @ 12, __resv @ 16);
check_layout!(io_uring_zcrx_area_reg, size 48, align 8,
    addr @ 0, len @ 8, rq_area_token @ 16, flags @ 24, dmabuf_fd @ 28, __resv2 @ 32);
check_layout!(io_uring_zcrx_ifq_reg, size 96, align 8,
    if_idx @ 0, if_rxq @ 4, rq_entries @ 8, flags @ 12, area_ptr @ 16, region_ptr @ 24,
    offsets @ 32, zcrx_id @ 64, __resv2 @ 68, __resv @ 72);
check_layout!(io_uring_query_hdr, size 40, align 8,
    next_entry @ 0, query_data @ 8, query_op @ 16, size @ 20, result @ 24, __resv @ 28);
check_layout!(io_uring_query_opcode, size 48, align 8,
    nr_request_opcodes @ 0, nr_register_opcodes @ 4, feature_flags @ 8, ring_setup_flags @ 16,
    enter_flags @ 24, sqe_flags @ 32, nr_query_opcodes @ 40, __pad @ 44);
