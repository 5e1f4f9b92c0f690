//! liburing's inline helpers as real functions, for `liburing-ffi.so.2` (compiled only
//! as the `uring-ffi-inline` package, `cfg(liburing_ffi)`): the SQE prep helpers, the
//! SQE/CQE accessors, the ring counters, and the buffer-ring helpers, to liburing
//! 2.15. Each writes the SQE exactly as liburing 2.15's header does
//! (`ffi-inline/tests/inline.rs` compares the bytes with the inline versions of that
//! header, and of the system's).
use core::ffi::{c_int, c_uint, c_void};

use uring_sys::{self as k, io_uring_buf_ring, io_uring_cqe, io_uring_probe, io_uring_sqe};

use crate::queue;
use crate::types::*;

/// Defines exported helpers sharing one safety contract: pointers must be valid
/// for what the helper reads and writes (an SQE from `io_uring_get_sqe`, a live ring,
/// a CQE not yet marked seen), and memory an SQE points to must stay valid until its
/// completion. Bodies run inside `unsafe` under that contract.
macro_rules! helpers {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? { $($body:tt)* })*) => {
        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// Pointer arguments must be valid for what liburing's inline version of
            /// this helper reads and writes; memory an SQE refers to must stay valid
            /// until the request completes.
            #[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
            pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: the contract above, forwarded from the caller.
                unsafe { $($body)* }
            }
        )*
        symver!($($name),*);
    };
}

/// The body of every prep helper: `io_uring_prep_rw`. As in liburing 2.6 and later,
/// it writes only these five fields: the others were cleared when
/// `io_uring_get_sqe` handed the SQE out, and a caller may have set some (flags,
/// personality) before preparing it.
///
/// # Safety
/// `sqe` must be writable.
#[inline(always)]
unsafe fn prep_rw(op: u8, sqe: *mut io_uring_sqe, fd: c_int, addr: u64, len: u32, off: u64) {
    // SAFETY: caller's contract.
    unsafe {
        (*sqe).opcode = op;
        (*sqe).fd = fd;
        (*sqe).off_or_addr2.off = off;
        (*sqe).addr_or_splice_off_in.addr = addr;
        (*sqe).len = len;
    }
}

/// `IORING_FILE_INDEX_ALLOC` (allocate a slot) is stored as is, so one less goes to
/// [`set_target_fixed_file`]: liburing's "offset by 1 for allocation".
fn alloc_index(file_index: u32) -> u32 {
    if file_index == k::IORING_FILE_INDEX_ALLOC {
        file_index - 1
    } else {
        file_index
    }
}

/// `file_index + 1` into the SQE: the fixed-file slot a request installs into.
///
/// # Safety
/// `sqe` must be writable.
unsafe fn set_target_fixed_file(sqe: *mut io_uring_sqe, file_index: u32) {
    // SAFETY: caller's contract.
    unsafe { (*sqe).splice_fd_in_or_file_index.file_index = file_index.wrapping_add(1) }
}

helpers! {
    /// Fills `sqe` for opcode `op`: liburing's `io_uring_prep_rw`.
    fn io_uring_prep_rw(op: c_int, sqe: *mut io_uring_sqe, fd: c_int, addr: *const c_void, len: c_uint, offset: u64) {
        prep_rw(op as u8, sqe, fd, addr as u64, len, offset)
    }
    /// `IORING_OP_NOP`.
    fn io_uring_prep_nop(sqe: *mut io_uring_sqe) {
        prep_rw(k::IORING_OP_NOP, sqe, -1, 0, 0, 0)
    }
    /// `IORING_OP_READ` of `nbytes` at `offset`.
    fn io_uring_prep_read(sqe: *mut io_uring_sqe, fd: c_int, buf: *mut c_void, nbytes: c_uint, offset: u64) {
        prep_rw(k::IORING_OP_READ, sqe, fd, buf as u64, nbytes, offset)
    }
    /// `IORING_OP_WRITE` of `nbytes` at `offset`.
    fn io_uring_prep_write(sqe: *mut io_uring_sqe, fd: c_int, buf: *const c_void, nbytes: c_uint, offset: u64) {
        prep_rw(k::IORING_OP_WRITE, sqe, fd, buf as u64, nbytes, offset)
    }
    /// `IORING_OP_READV`.
    fn io_uring_prep_readv(sqe: *mut io_uring_sqe, fd: c_int, iovecs: *const libc::iovec, nr_vecs: c_uint, offset: u64) {
        prep_rw(k::IORING_OP_READV, sqe, fd, iovecs as u64, nr_vecs, offset)
    }
    /// `IORING_OP_READV` with `RWF_*` flags.
    fn io_uring_prep_readv2(sqe: *mut io_uring_sqe, fd: c_int, iovecs: *const libc::iovec, nr_vecs: c_uint, offset: u64, flags: c_int) {
        prep_rw(k::IORING_OP_READV, sqe, fd, iovecs as u64, nr_vecs, offset);
        (*sqe).op_flags.rw_flags = flags;
    }
    /// `IORING_OP_WRITEV`.
    fn io_uring_prep_writev(sqe: *mut io_uring_sqe, fd: c_int, iovecs: *const libc::iovec, nr_vecs: c_uint, offset: u64) {
        prep_rw(k::IORING_OP_WRITEV, sqe, fd, iovecs as u64, nr_vecs, offset)
    }
    /// `IORING_OP_WRITEV` with `RWF_*` flags.
    fn io_uring_prep_writev2(sqe: *mut io_uring_sqe, fd: c_int, iovecs: *const libc::iovec, nr_vecs: c_uint, offset: u64, flags: c_int) {
        prep_rw(k::IORING_OP_WRITEV, sqe, fd, iovecs as u64, nr_vecs, offset);
        (*sqe).op_flags.rw_flags = flags;
    }
    /// `IORING_OP_READ_FIXED` into registered buffer `buf_index`.
    fn io_uring_prep_read_fixed(sqe: *mut io_uring_sqe, fd: c_int, buf: *mut c_void, nbytes: c_uint, offset: u64, buf_index: c_int) {
        prep_rw(k::IORING_OP_READ_FIXED, sqe, fd, buf as u64, nbytes, offset);
        (*sqe).buf.buf_index = buf_index as u16;
    }
    /// `IORING_OP_WRITE_FIXED` from registered buffer `buf_index`.
    fn io_uring_prep_write_fixed(sqe: *mut io_uring_sqe, fd: c_int, buf: *const c_void, nbytes: c_uint, offset: u64, buf_index: c_int) {
        prep_rw(k::IORING_OP_WRITE_FIXED, sqe, fd, buf as u64, nbytes, offset);
        (*sqe).buf.buf_index = buf_index as u16;
    }
    /// `IORING_OP_FSYNC` (`IORING_FSYNC_DATASYNC` in `fsync_flags` for fdatasync).
    fn io_uring_prep_fsync(sqe: *mut io_uring_sqe, fd: c_int, fsync_flags: c_uint) {
        prep_rw(k::IORING_OP_FSYNC, sqe, fd, 0, 0, 0);
        (*sqe).op_flags.fsync_flags = fsync_flags;
    }
    /// `IORING_OP_SYNC_FILE_RANGE`.
    fn io_uring_prep_sync_file_range(sqe: *mut io_uring_sqe, fd: c_int, len: c_uint, offset: u64, flags: c_int) {
        prep_rw(k::IORING_OP_SYNC_FILE_RANGE, sqe, fd, 0, len, offset);
        (*sqe).op_flags.sync_range_flags = flags as u32;
    }
    /// `IORING_OP_FALLOCATE`.
    fn io_uring_prep_fallocate(sqe: *mut io_uring_sqe, fd: c_int, mode: c_int, offset: u64, len: u64) {
        prep_rw(k::IORING_OP_FALLOCATE, sqe, fd, 0, mode as u32, offset);
        (*sqe).addr_or_splice_off_in.addr = len;
    }
    /// `IORING_OP_FADVISE`.
    fn io_uring_prep_fadvise(sqe: *mut io_uring_sqe, fd: c_int, offset: u64, len: u32, advice: c_int) {
        prep_rw(k::IORING_OP_FADVISE, sqe, fd, 0, len, offset);
        (*sqe).op_flags.fadvise_advice = advice as u32;
    }
    /// `IORING_OP_MADVISE`.
    fn io_uring_prep_madvise(sqe: *mut io_uring_sqe, addr: *mut c_void, length: u32, advice: c_int) {
        prep_rw(k::IORING_OP_MADVISE, sqe, -1, addr as u64, length, 0);
        (*sqe).op_flags.fadvise_advice = advice as u32;
    }
    /// `IORING_OP_FTRUNCATE` to `len`.
    fn io_uring_prep_ftruncate(sqe: *mut io_uring_sqe, fd: c_int, len: i64) {
        prep_rw(k::IORING_OP_FTRUNCATE, sqe, fd, 0, 0, len as u64)
    }
    /// `IORING_OP_SPLICE`.
    fn io_uring_prep_splice(sqe: *mut io_uring_sqe, fd_in: c_int, off_in: i64, fd_out: c_int, off_out: i64, nbytes: c_uint, splice_flags: c_uint) {
        prep_rw(k::IORING_OP_SPLICE, sqe, fd_out, 0, nbytes, off_out as u64);
        (*sqe).addr_or_splice_off_in.splice_off_in = off_in as u64;
        (*sqe).splice_fd_in_or_file_index.splice_fd_in = fd_in;
        (*sqe).op_flags.splice_flags = splice_flags;
    }
    /// `IORING_OP_TEE`.
    fn io_uring_prep_tee(sqe: *mut io_uring_sqe, fd_in: c_int, fd_out: c_int, nbytes: c_uint, splice_flags: c_uint) {
        prep_rw(k::IORING_OP_TEE, sqe, fd_out, 0, nbytes, 0);
        (*sqe).addr_or_splice_off_in.splice_off_in = 0;
        (*sqe).splice_fd_in_or_file_index.splice_fd_in = fd_in;
        (*sqe).op_flags.splice_flags = splice_flags;
    }
    /// `IORING_OP_TIMEOUT`: completes after `ts` or after `count` other completions.
    fn io_uring_prep_timeout(sqe: *mut io_uring_sqe, ts: *mut k::__kernel_timespec, count: c_uint, flags: c_uint) {
        prep_rw(k::IORING_OP_TIMEOUT, sqe, -1, ts as u64, 1, u64::from(count));
        (*sqe).op_flags.timeout_flags = flags;
    }
    /// `IORING_OP_TIMEOUT_REMOVE` of the timeout with `user_data`.
    fn io_uring_prep_timeout_remove(sqe: *mut io_uring_sqe, user_data: u64, flags: c_uint) {
        prep_rw(k::IORING_OP_TIMEOUT_REMOVE, sqe, -1, 0, 0, 0);
        (*sqe).addr_or_splice_off_in.addr = user_data;
        (*sqe).op_flags.timeout_flags = flags;
    }
    /// `IORING_OP_TIMEOUT_REMOVE` with `IORING_TIMEOUT_UPDATE`: a new `ts`.
    fn io_uring_prep_timeout_update(sqe: *mut io_uring_sqe, ts: *mut k::__kernel_timespec, user_data: u64, flags: c_uint) {
        prep_rw(k::IORING_OP_TIMEOUT_REMOVE, sqe, -1, 0, 0, ts as u64);
        (*sqe).addr_or_splice_off_in.addr = user_data;
        (*sqe).op_flags.timeout_flags = flags | k::IORING_TIMEOUT_UPDATE;
    }
    /// `IORING_OP_LINK_TIMEOUT` for the request before it in the link.
    fn io_uring_prep_link_timeout(sqe: *mut io_uring_sqe, ts: *mut k::__kernel_timespec, flags: c_uint) {
        prep_rw(k::IORING_OP_LINK_TIMEOUT, sqe, -1, ts as u64, 1, 0);
        (*sqe).op_flags.timeout_flags = flags;
    }
    /// `IORING_OP_POLL_ADD` for `poll_mask` events.
    fn io_uring_prep_poll_add(sqe: *mut io_uring_sqe, fd: c_int, poll_mask: c_uint) {
        prep_rw(k::IORING_OP_POLL_ADD, sqe, fd, 0, 0, 0);
        (*sqe).op_flags.poll32_events = poll_mask;
    }
    /// Multishot `IORING_OP_POLL_ADD`.
    fn io_uring_prep_poll_multishot(sqe: *mut io_uring_sqe, fd: c_int, poll_mask: c_uint) {
        io_uring_prep_poll_add(sqe, fd, poll_mask);
        (*sqe).len = k::IORING_POLL_ADD_MULTI;
    }
    /// `IORING_OP_POLL_REMOVE` of the poll with `user_data`.
    fn io_uring_prep_poll_remove(sqe: *mut io_uring_sqe, user_data: u64) {
        prep_rw(k::IORING_OP_POLL_REMOVE, sqe, -1, 0, 0, 0);
        (*sqe).addr_or_splice_off_in.addr = user_data;
    }
    /// `IORING_OP_POLL_REMOVE` updating a poll's events or user data.
    fn io_uring_prep_poll_update(sqe: *mut io_uring_sqe, old_user_data: u64, new_user_data: u64, poll_mask: c_uint, flags: c_uint) {
        prep_rw(k::IORING_OP_POLL_REMOVE, sqe, -1, 0, flags, new_user_data);
        (*sqe).addr_or_splice_off_in.addr = old_user_data;
        (*sqe).op_flags.poll32_events = poll_mask;
    }
    /// `IORING_OP_ACCEPT`.
    fn io_uring_prep_accept(sqe: *mut io_uring_sqe, fd: c_int, addr: *mut libc::sockaddr, addrlen: *mut libc::socklen_t, flags: c_int) {
        prep_rw(k::IORING_OP_ACCEPT, sqe, fd, addr as u64, 0, addrlen as u64);
        (*sqe).op_flags.accept_flags = flags as u32;
    }
    /// `IORING_OP_ACCEPT` into fixed-file slot `file_index`.
    fn io_uring_prep_accept_direct(sqe: *mut io_uring_sqe, fd: c_int, addr: *mut libc::sockaddr, addrlen: *mut libc::socklen_t, flags: c_int, file_index: c_uint) {
        io_uring_prep_accept(sqe, fd, addr, addrlen, flags);
        set_target_fixed_file(sqe, alloc_index(file_index));
    }
    /// Multishot `IORING_OP_ACCEPT`.
    fn io_uring_prep_multishot_accept(sqe: *mut io_uring_sqe, fd: c_int, addr: *mut libc::sockaddr, addrlen: *mut libc::socklen_t, flags: c_int) {
        io_uring_prep_accept(sqe, fd, addr, addrlen, flags);
        (*sqe).ioprio |= k::IORING_ACCEPT_MULTISHOT;
    }
    /// Multishot `IORING_OP_ACCEPT` into allocated fixed-file slots.
    fn io_uring_prep_multishot_accept_direct(sqe: *mut io_uring_sqe, fd: c_int, addr: *mut libc::sockaddr, addrlen: *mut libc::socklen_t, flags: c_int) {
        io_uring_prep_multishot_accept(sqe, fd, addr, addrlen, flags);
        set_target_fixed_file(sqe, k::IORING_FILE_INDEX_ALLOC - 1);
    }
    /// `IORING_OP_CONNECT`.
    fn io_uring_prep_connect(sqe: *mut io_uring_sqe, fd: c_int, addr: *const libc::sockaddr, addrlen: libc::socklen_t) {
        prep_rw(k::IORING_OP_CONNECT, sqe, fd, addr as u64, 0, u64::from(addrlen))
    }
    /// `IORING_OP_SEND`.
    fn io_uring_prep_send(sqe: *mut io_uring_sqe, sockfd: c_int, buf: *const c_void, len: usize, flags: c_int) {
        prep_rw(k::IORING_OP_SEND, sqe, sockfd, buf as u64, len as u32, 0);
        (*sqe).op_flags.msg_flags = flags as u32;
    }
    /// `IORING_OP_RECV`.
    fn io_uring_prep_recv(sqe: *mut io_uring_sqe, sockfd: c_int, buf: *mut c_void, len: usize, flags: c_int) {
        prep_rw(k::IORING_OP_RECV, sqe, sockfd, buf as u64, len as u32, 0);
        (*sqe).op_flags.msg_flags = flags as u32;
    }
    /// Multishot `IORING_OP_RECV`.
    fn io_uring_prep_recv_multishot(sqe: *mut io_uring_sqe, sockfd: c_int, buf: *mut c_void, len: usize, flags: c_int) {
        io_uring_prep_recv(sqe, sockfd, buf, len, flags);
        (*sqe).ioprio |= k::IORING_RECV_MULTISHOT;
    }
    /// `IORING_OP_SENDMSG`.
    fn io_uring_prep_sendmsg(sqe: *mut io_uring_sqe, fd: c_int, msg: *const libc::msghdr, flags: c_uint) {
        prep_rw(k::IORING_OP_SENDMSG, sqe, fd, msg as u64, 1, 0);
        (*sqe).op_flags.msg_flags = flags;
    }
    /// `IORING_OP_RECVMSG`.
    fn io_uring_prep_recvmsg(sqe: *mut io_uring_sqe, fd: c_int, msg: *mut libc::msghdr, flags: c_uint) {
        prep_rw(k::IORING_OP_RECVMSG, sqe, fd, msg as u64, 1, 0);
        (*sqe).op_flags.msg_flags = flags;
    }
    /// Multishot `IORING_OP_RECVMSG`.
    fn io_uring_prep_recvmsg_multishot(sqe: *mut io_uring_sqe, fd: c_int, msg: *mut libc::msghdr, flags: c_uint) {
        io_uring_prep_recvmsg(sqe, fd, msg, flags);
        (*sqe).ioprio |= k::IORING_RECV_MULTISHOT;
    }
    /// `IORING_OP_SHUTDOWN`.
    fn io_uring_prep_shutdown(sqe: *mut io_uring_sqe, fd: c_int, how: c_int) {
        prep_rw(k::IORING_OP_SHUTDOWN, sqe, fd, 0, how as u32, 0)
    }
    /// `IORING_OP_SOCKET`.
    fn io_uring_prep_socket(sqe: *mut io_uring_sqe, domain: c_int, ty: c_int, protocol: c_int, flags: c_uint) {
        prep_rw(k::IORING_OP_SOCKET, sqe, domain, 0, protocol as u32, ty as u64);
        (*sqe).op_flags.rw_flags = flags as i32;
    }
    /// `IORING_OP_SOCKET` into fixed-file slot `file_index`.
    fn io_uring_prep_socket_direct(sqe: *mut io_uring_sqe, domain: c_int, ty: c_int, protocol: c_int, file_index: c_uint, flags: c_uint) {
        io_uring_prep_socket(sqe, domain, ty, protocol, flags);
        set_target_fixed_file(sqe, alloc_index(file_index));
    }
    /// `IORING_OP_SOCKET` into an allocated fixed-file slot.
    fn io_uring_prep_socket_direct_alloc(sqe: *mut io_uring_sqe, domain: c_int, ty: c_int, protocol: c_int, flags: c_uint) {
        io_uring_prep_socket(sqe, domain, ty, protocol, flags);
        set_target_fixed_file(sqe, k::IORING_FILE_INDEX_ALLOC - 1);
    }
    /// `IORING_OP_CLOSE`.
    fn io_uring_prep_close(sqe: *mut io_uring_sqe, fd: c_int) {
        prep_rw(k::IORING_OP_CLOSE, sqe, fd, 0, 0, 0)
    }
    /// `IORING_OP_CLOSE` of fixed-file slot `file_index`.
    fn io_uring_prep_close_direct(sqe: *mut io_uring_sqe, file_index: c_uint) {
        prep_rw(k::IORING_OP_CLOSE, sqe, 0, 0, 0, 0);
        set_target_fixed_file(sqe, file_index);
    }
    /// `IORING_OP_OPENAT`.
    fn io_uring_prep_openat(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, flags: c_int, mode: libc::mode_t) {
        prep_rw(k::IORING_OP_OPENAT, sqe, dfd, path as u64, mode, 0);
        (*sqe).op_flags.open_flags = flags as u32;
    }
    /// `IORING_OP_OPENAT` into fixed-file slot `file_index`.
    fn io_uring_prep_openat_direct(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, flags: c_int, mode: libc::mode_t, file_index: c_uint) {
        io_uring_prep_openat(sqe, dfd, path, flags, mode);
        set_target_fixed_file(sqe, alloc_index(file_index));
    }
    /// `IORING_OP_OPENAT2` with an `open_how`.
    fn io_uring_prep_openat2(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, how: *mut c_void) {
        prep_rw(k::IORING_OP_OPENAT2, sqe, dfd, path as u64, 24, how as u64)
    }
    /// `IORING_OP_STATX`.
    fn io_uring_prep_statx(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, flags: c_int, mask: c_uint, statxbuf: *mut c_void) {
        prep_rw(k::IORING_OP_STATX, sqe, dfd, path as u64, mask, statxbuf as u64);
        (*sqe).op_flags.statx_flags = flags as u32;
    }
    /// `IORING_OP_UNLINKAT`.
    fn io_uring_prep_unlinkat(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, flags: c_int) {
        prep_rw(k::IORING_OP_UNLINKAT, sqe, dfd, path as u64, 0, 0);
        (*sqe).op_flags.unlink_flags = flags as u32;
    }
    /// `IORING_OP_UNLINKAT` relative to the working directory.
    fn io_uring_prep_unlink(sqe: *mut io_uring_sqe, path: *const libc::c_char, flags: c_int) {
        io_uring_prep_unlinkat(sqe, libc::AT_FDCWD, path, flags)
    }
    /// `IORING_OP_RENAMEAT`.
    fn io_uring_prep_renameat(sqe: *mut io_uring_sqe, olddfd: c_int, oldpath: *const libc::c_char, newdfd: c_int, newpath: *const libc::c_char, flags: c_uint) {
        prep_rw(k::IORING_OP_RENAMEAT, sqe, olddfd, oldpath as u64, newdfd as u32, newpath as u64);
        (*sqe).op_flags.rename_flags = flags;
    }
    /// `IORING_OP_RENAMEAT` relative to the working directory.
    fn io_uring_prep_rename(sqe: *mut io_uring_sqe, oldpath: *const libc::c_char, newpath: *const libc::c_char) {
        io_uring_prep_renameat(sqe, libc::AT_FDCWD, oldpath, libc::AT_FDCWD, newpath, 0)
    }
    /// `IORING_OP_MKDIRAT`.
    fn io_uring_prep_mkdirat(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, mode: libc::mode_t) {
        prep_rw(k::IORING_OP_MKDIRAT, sqe, dfd, path as u64, mode, 0)
    }
    /// `IORING_OP_MKDIRAT` relative to the working directory.
    fn io_uring_prep_mkdir(sqe: *mut io_uring_sqe, path: *const libc::c_char, mode: libc::mode_t) {
        io_uring_prep_mkdirat(sqe, libc::AT_FDCWD, path, mode)
    }
    /// `IORING_OP_SYMLINKAT`.
    fn io_uring_prep_symlinkat(sqe: *mut io_uring_sqe, target: *const libc::c_char, newdirfd: c_int, linkpath: *const libc::c_char) {
        prep_rw(k::IORING_OP_SYMLINKAT, sqe, newdirfd, target as u64, 0, linkpath as u64)
    }
    /// `IORING_OP_SYMLINKAT` relative to the working directory.
    fn io_uring_prep_symlink(sqe: *mut io_uring_sqe, target: *const libc::c_char, linkpath: *const libc::c_char) {
        io_uring_prep_symlinkat(sqe, target, libc::AT_FDCWD, linkpath)
    }
    /// `IORING_OP_LINKAT`.
    fn io_uring_prep_linkat(sqe: *mut io_uring_sqe, olddfd: c_int, oldpath: *const libc::c_char, newdfd: c_int, newpath: *const libc::c_char, flags: c_int) {
        prep_rw(k::IORING_OP_LINKAT, sqe, olddfd, oldpath as u64, newdfd as u32, newpath as u64);
        (*sqe).op_flags.hardlink_flags = flags as u32;
    }
    /// `IORING_OP_LINKAT` relative to the working directory.
    fn io_uring_prep_link(sqe: *mut io_uring_sqe, oldpath: *const libc::c_char, newpath: *const libc::c_char, flags: c_int) {
        io_uring_prep_linkat(sqe, libc::AT_FDCWD, oldpath, libc::AT_FDCWD, newpath, flags)
    }
    /// `IORING_OP_ASYNC_CANCEL` of the request with `user_data`.
    fn io_uring_prep_cancel64(sqe: *mut io_uring_sqe, user_data: u64, flags: c_int) {
        prep_rw(k::IORING_OP_ASYNC_CANCEL, sqe, -1, 0, 0, 0);
        (*sqe).addr_or_splice_off_in.addr = user_data;
        (*sqe).op_flags.cancel_flags = flags as u32;
    }
    /// `IORING_OP_ASYNC_CANCEL` of the request whose user data is `user_data`.
    fn io_uring_prep_cancel(sqe: *mut io_uring_sqe, user_data: *mut c_void, flags: c_int) {
        io_uring_prep_cancel64(sqe, user_data as u64, flags)
    }
    /// `IORING_OP_ASYNC_CANCEL` of requests on `fd`.
    fn io_uring_prep_cancel_fd(sqe: *mut io_uring_sqe, fd: c_int, flags: c_uint) {
        prep_rw(k::IORING_OP_ASYNC_CANCEL, sqe, fd, 0, 0, 0);
        (*sqe).op_flags.cancel_flags = flags | k::IORING_ASYNC_CANCEL_FD;
    }
    /// `IORING_OP_PROVIDE_BUFFERS`.
    fn io_uring_prep_provide_buffers(sqe: *mut io_uring_sqe, addr: *mut c_void, len: c_int, nr: c_int, bgid: c_int, bid: c_int) {
        prep_rw(k::IORING_OP_PROVIDE_BUFFERS, sqe, nr, addr as u64, len as u32, bid as u64);
        (*sqe).buf.buf_group = bgid as u16;
    }
    /// `IORING_OP_REMOVE_BUFFERS`.
    fn io_uring_prep_remove_buffers(sqe: *mut io_uring_sqe, nr: c_int, bgid: c_int) {
        prep_rw(k::IORING_OP_REMOVE_BUFFERS, sqe, nr, 0, 0, 0);
        (*sqe).buf.buf_group = bgid as u16;
    }
    /// `IORING_OP_FILES_UPDATE`.
    fn io_uring_prep_files_update(sqe: *mut io_uring_sqe, fds: *mut c_int, nr_fds: c_uint, offset: c_int) {
        prep_rw(k::IORING_OP_FILES_UPDATE, sqe, -1, fds as u64, nr_fds, offset as u64)
    }
    /// `IORING_OP_MSG_RING`: posts a CQE (`len`, `data`) to ring `fd`.
    fn io_uring_prep_msg_ring(sqe: *mut io_uring_sqe, fd: c_int, len: c_uint, data: u64, flags: c_uint) {
        prep_rw(k::IORING_OP_MSG_RING, sqe, fd, 0, len, data);
        (*sqe).op_flags.msg_ring_flags = flags;
    }
    /// `IORING_OP_EPOLL_CTL`.
    fn io_uring_prep_epoll_ctl(sqe: *mut io_uring_sqe, epfd: c_int, fd: c_int, op: c_int, ev: *mut libc::epoll_event) {
        prep_rw(k::IORING_OP_EPOLL_CTL, sqe, epfd, ev as u64, op as u32, fd as u32 as u64)
    }

    /// Sets the SQE's user data to the pointer `data`.
    fn io_uring_sqe_set_data(sqe: *mut io_uring_sqe, data: *mut c_void) {
        (*sqe).user_data = data as u64;
    }
    /// Sets the SQE's user data.
    fn io_uring_sqe_set_data64(sqe: *mut io_uring_sqe, data: u64) {
        (*sqe).user_data = data;
    }
    /// Sets the SQE's `IOSQE_*` flags.
    fn io_uring_sqe_set_flags(sqe: *mut io_uring_sqe, flags: c_uint) {
        (*sqe).flags = flags as u8;
    }
    /// The CQE's user data as a pointer.
    fn io_uring_cqe_get_data(cqe: *const io_uring_cqe) -> *mut c_void {
        (*cqe).user_data as *mut c_void
    }
    /// The CQE's user data.
    fn io_uring_cqe_get_data64(cqe: *const io_uring_cqe) -> u64 {
        (*cqe).user_data
    }
    /// Whether probe `p` says opcode `op` is supported.
    fn io_uring_opcode_supported(p: *const io_uring_probe, op: c_int) -> c_int {
        if op < 0 || op > c_int::from((*p).last_op) {
            return 0;
        }
        let entry = (*p).ops.as_ptr().add(op as usize);
        c_int::from((*entry).flags & k::IO_URING_OP_SUPPORTED != 0)
    }

    /// Marks `nr` CQEs consumed.
    fn io_uring_cq_advance(ring: *mut io_uring, nr: c_uint) {
        queue::cq_advance(ring, nr)
    }
    /// Marks `cqe` consumed (null is a no-op): its slots, two for a 32-byte CQE of a
    /// `CQE_MIXED` ring.
    fn io_uring_cqe_seen(ring: *mut io_uring, cqe: *mut io_uring_cqe) {
        if !cqe.is_null() {
            queue::cq_advance(ring, io_uring_cqe_nr(cqe));
        }
    }
    /// SQEs handed out and not yet consumed by the kernel.
    fn io_uring_sq_ready(ring: *const io_uring) -> c_uint {
        // With SQPOLL the poller moves the head: acquire pairs with its
        // smp_store_release in io_commit_sqring. Without, only our enter moves it.
        let head = if (*ring).flags & k::IORING_SETUP_SQPOLL != 0 {
            load_acquire((*ring).sq.khead)
        } else {
            load_relaxed((*ring).sq.khead)
        };
        (*ring).sq.sqe_tail.wrapping_sub(head)
    }
    /// Free SQ entries.
    fn io_uring_sq_space_left(ring: *const io_uring) -> c_uint {
        (*ring).sq.ring_entries - io_uring_sq_ready(ring)
    }
    /// With SQPOLL, waits for SQ room when full: 0 or `-errno`.
    fn io_uring_sqring_wait(ring: *mut io_uring) -> c_int {
        if (*ring).flags & k::IORING_SETUP_SQPOLL == 0 || io_uring_sq_space_left(ring) != 0 {
            return 0;
        }
        queue::__io_uring_sqring_wait(ring)
    }
    /// CQEs ready to reap.
    fn io_uring_cq_ready(ring: *const io_uring) -> c_uint {
        // Acquire pairs with the kernel's smp_store_release of the CQ tail.
        load_acquire((*ring).cq.ktail).wrapping_sub(load_relaxed((*ring).cq.khead))
    }
    /// Whether completions wait in the kernel's overflow list.
    fn io_uring_cq_has_overflow(ring: *const io_uring) -> bool {
        load_relaxed((*ring).sq.kflags) & k::IORING_SQ_CQ_OVERFLOW != 0
    }
    /// Whether the registered eventfd is signalled.
    fn io_uring_cq_eventfd_enabled(ring: *const io_uring) -> bool {
        (*ring).cq.kflags.is_null() || load_relaxed((*ring).cq.kflags) & k::IORING_CQ_EVENTFD_DISABLED == 0
    }
    /// Turns eventfd signalling on or off: 0 or `-EOPNOTSUPP`.
    fn io_uring_cq_eventfd_toggle(ring: *mut io_uring, enabled: bool) -> c_int {
        if enabled == io_uring_cq_eventfd_enabled(ring) {
            return 0;
        }
        if (*ring).cq.kflags.is_null() {
            return -libc::EOPNOTSUPP;
        }
        let mut flags = load_relaxed((*ring).cq.kflags);
        if enabled {
            flags &= !k::IORING_CQ_EVENTFD_DISABLED;
        } else {
            flags |= k::IORING_CQ_EVENTFD_DISABLED;
        }
        // WRITE_ONCE: the kernel only reads this advisory word.
        store_relaxed((*ring).cq.kflags, flags);
        0
    }
    /// The next CQE if one is ready, else `-EAGAIN`.
    fn io_uring_peek_cqe(ring: *mut io_uring, cqe_ptr: *mut *mut io_uring_cqe) -> c_int {
        let mut nr = 0;
        if queue::peek_cqe(ring, &mut *cqe_ptr, &mut nr) == 0 {
            if !(*cqe_ptr).is_null() {
                return 0;
            }
            // Nothing the kernel could flush into the CQ (no IOPOLL completions to
            // reap, no overflowed CQEs, no pending task work): no system call, as
            // liburing 2.15. The flags word is advisory, a plain read (READ_ONCE).
            if (*ring).flags & k::IORING_SETUP_IOPOLL == 0
                && load_relaxed((*ring).sq.kflags)
                    & (k::IORING_SQ_CQ_OVERFLOW | k::IORING_SQ_TASKRUN)
                    == 0
            {
                return -libc::EAGAIN;
            }
        }
        queue::__io_uring_get_cqe(ring, cqe_ptr, 0, 0, core::ptr::null_mut())
    }
    /// The next CQE, waiting for one.
    fn io_uring_wait_cqe(ring: *mut io_uring, cqe_ptr: *mut *mut io_uring_cqe) -> c_int {
        let mut nr = 0;
        if queue::peek_cqe(ring, &mut *cqe_ptr, &mut nr) == 0 && !(*cqe_ptr).is_null() {
            return 0;
        }
        queue::__io_uring_get_cqe(ring, cqe_ptr, 0, 1, core::ptr::null_mut())
    }
    /// The next CQE, waiting for `wait_nr`.
    fn io_uring_wait_cqe_nr(ring: *mut io_uring, cqe_ptr: *mut *mut io_uring_cqe, wait_nr: c_uint) -> c_int {
        queue::__io_uring_get_cqe(ring, cqe_ptr, 0, wait_nr, core::ptr::null_mut())
    }

    /// Empties buffer ring `br`.
    fn io_uring_buf_ring_init(br: *mut io_uring_buf_ring) {
        set_tail(br, 0)
    }
    /// Puts buffer `bid` (`addr`, `len`) at `buf_offset` past the tail.
    fn io_uring_buf_ring_add(br: *mut io_uring_buf_ring, addr: *mut c_void, len: c_uint, bid: u16, mask: c_int, buf_offset: c_int) {
        let tail = u32::from(tail(br));
        let slot = (tail.wrapping_add(buf_offset as u32) & mask as u32) as usize;
        let buf = br.cast::<k::io_uring_buf>().add(slot);
        (*buf).addr = addr as u64;
        (*buf).len = len;
        (*buf).bid = bid;
    }
    /// Publishes `count` added buffers.
    fn io_uring_buf_ring_advance(br: *mut io_uring_buf_ring, count: c_int) {
        let new_tail = tail(br).wrapping_add(count as u16);
        // Release: the buffer entries are written before the kernel sees the tail;
        // pairs with the kernel's smp_load_acquire of the buffer ring tail
        // (io_ring_buffer_select / io_ring_buffers_peek).
        tail_atomic(br).store(new_tail, core::sync::atomic::Ordering::Release);
    }
    /// Publishes `count` buffers and marks `count` CQEs seen.
    fn __io_uring_buf_ring_cq_advance(ring: *mut io_uring, br: *mut io_uring_buf_ring, cq_count: c_int, buf_count: c_int) {
        // The CQ head's release store below orders this plain tail update too, as
        // liburing relies on.
        set_tail(br, tail(br).wrapping_add(buf_count as u16));
        queue::cq_advance(ring, cq_count as u32);
    }
    /// Publishes `count` buffers and marks `count` CQEs seen.
    fn io_uring_buf_ring_cq_advance(ring: *mut io_uring, br: *mut io_uring_buf_ring, count: c_int) {
        __io_uring_buf_ring_cq_advance(ring, br, count, count)
    }
}

/// The tail of buffer ring `br` (in the first entry's `resv`), atomically.
///
/// # Safety
/// `br` must point to a live buffer ring.
unsafe fn tail_atomic<'a>(br: *mut io_uring_buf_ring) -> &'a core::sync::atomic::AtomicU16 {
    // SAFETY: the tail is the 2-byte aligned u16 at offset 14 of the ring, shared
    // with the kernel, which only reads it.
    unsafe { core::sync::atomic::AtomicU16::from_ptr(br.cast::<u8>().add(14).cast()) }
}

/// # Safety
/// As [`tail_atomic`].
unsafe fn tail(br: *mut io_uring_buf_ring) -> u16 {
    // SAFETY: caller's contract; only this thread writes the tail.
    unsafe { tail_atomic(br) }.load(core::sync::atomic::Ordering::Relaxed)
}

/// # Safety
/// As [`tail_atomic`].
unsafe fn set_tail(br: *mut io_uring_buf_ring, v: u16) {
    // SAFETY: caller's contract.
    unsafe { tail_atomic(br) }.store(v, core::sync::atomic::Ordering::Relaxed)
}

/// The index mask of a buffer ring of `ring_entries`: `ring_entries - 1`.
///
/// liburing: `io_uring_buf_ring_mask(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_buf_ring_mask(ring_entries: u32) -> c_int {
    ring_entries.wrapping_sub(1) as c_int
}

symver!(io_uring_buf_ring_mask);

/// Values of liburing 2.15's header that are newer than Linux 6.18 (which `uring-sys`
/// follows): a kernel without them fails the request (`-EINVAL`) or the setup.
mod newer {
    /// `IORING_OP_NOP128`: a NOP in a 128-byte slot of an `SQE_MIXED` ring.
    pub const IORING_OP_NOP128: u8 = 63;
    /// `IORING_OP_URING_CMD128`: a passthrough command in a 128-byte slot.
    pub const IORING_OP_URING_CMD128: u8 = 64;
    /// `IORING_SETUP_SQE_MIXED`: 64- and 128-byte SQEs in one SQ.
    pub const IORING_SETUP_SQE_MIXED: u32 = 1 << 19;
    /// `SOCKET_URING_OP_GETSOCKNAME`.
    pub const SOCKET_URING_OP_GETSOCKNAME: u32 = 5;
    /// `BLOCK_URING_CMD_DISCARD`: `_IO(0x12, 0)` of `<linux/fs.h>`.
    pub const BLOCK_URING_CMD_DISCARD: u32 = 0x12 << 8;
}

/// The body of `io_uring_prep_uring_cmd*`: liburing's `__io_uring_prep_uring_cmd`,
/// which sets only the command's own fields (the rest was cleared when the SQE was
/// handed out).
///
/// # Safety
/// `sqe` must be writable.
unsafe fn prep_uring_cmd(sqe: *mut io_uring_sqe, op: u8, cmd_op: u32, fd: c_int) {
    // SAFETY: caller's contract.
    unsafe {
        (*sqe).opcode = op;
        (*sqe).fd = fd;
        (*sqe).off_or_addr2.cmd_op = k::cmd_op_struct { cmd_op, __pad1: 0 };
        (*sqe).addr_or_splice_off_in.addr = 0;
        (*sqe).len = 0;
    }
}

/// `sqe->addr3 = v`: only the first 8 bytes of the addr3 union.
///
/// # Safety
/// `sqe` must be writable.
unsafe fn set_addr3(sqe: *mut io_uring_sqe, v: u64) {
    // SAFETY: caller's contract.
    unsafe { (*sqe).addr3_or_cmd.addr3.addr3 = v }
}

/// `CMSG_ALIGN`: a control-message length rounded up to `size_t`.
const fn cmsg_align(len: usize) -> usize {
    (len + size_of::<usize>() - 1) & !(size_of::<usize>() - 1)
}

/// `struct io_uring_cqe_iter`: a walk over the CQEs ready when it was made (liburing
/// 2.15's `io_uring_for_each_cqe`), laid out as liburing's header declares it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct io_uring_cqe_iter {
    cqes: *mut io_uring_cqe,
    mask: c_uint,
    shift: c_uint,
    head: c_uint,
    tail: c_uint,
}

// The helpers liburing added from 2.4 to 2.15 (`liburing-ffi.map`'s newer names).
helpers! {
    /// Sets the destination address of a `SEND`/`SEND_ZC` (`addr2`, `addr_len`).
    fn io_uring_prep_send_set_addr(sqe: *mut io_uring_sqe, dest_addr: *const libc::sockaddr, addr_len: u16) {
        (*sqe).off_or_addr2.addr2 = dest_addr as u64;
        (*sqe).splice_fd_in_or_file_index.addr_len.addr_len = addr_len;
    }
    /// `IORING_OP_SEND` to `addr`.
    fn io_uring_prep_sendto(sqe: *mut io_uring_sqe, sockfd: c_int, buf: *const c_void, len: usize, flags: c_int, addr: *const libc::sockaddr, addrlen: libc::socklen_t) {
        io_uring_prep_send(sqe, sockfd, buf, len, flags);
        io_uring_prep_send_set_addr(sqe, addr, addrlen as u16);
    }
    /// `IORING_OP_SEND_ZC` with `IORING_SEND_ZC_*`/`IORING_RECVSEND_*` flags `zc_flags`.
    fn io_uring_prep_send_zc(sqe: *mut io_uring_sqe, sockfd: c_int, buf: *const c_void, len: usize, flags: c_int, zc_flags: c_uint) {
        prep_rw(k::IORING_OP_SEND_ZC, sqe, sockfd, buf as u64, len as u32, 0);
        (*sqe).op_flags.msg_flags = flags as u32;
        (*sqe).ioprio = zc_flags as u16;
    }
    /// `IORING_OP_SEND_ZC` from registered buffer `buf_index`.
    fn io_uring_prep_send_zc_fixed(sqe: *mut io_uring_sqe, sockfd: c_int, buf: *const c_void, len: usize, flags: c_int, zc_flags: c_uint, buf_index: c_uint) {
        io_uring_prep_send_zc(sqe, sockfd, buf, len, flags, zc_flags);
        (*sqe).ioprio |= k::IORING_RECVSEND_FIXED_BUF;
        (*sqe).buf.buf_index = buf_index as u16;
    }
    /// `IORING_OP_SENDMSG_ZC`.
    fn io_uring_prep_sendmsg_zc(sqe: *mut io_uring_sqe, fd: c_int, msg: *const libc::msghdr, flags: c_uint) {
        io_uring_prep_sendmsg(sqe, fd, msg, flags);
        (*sqe).opcode = k::IORING_OP_SENDMSG_ZC;
    }
    /// `IORING_OP_SENDMSG_ZC` from registered buffer `buf_index`.
    fn io_uring_prep_sendmsg_zc_fixed(sqe: *mut io_uring_sqe, fd: c_int, msg: *const libc::msghdr, flags: c_uint, buf_index: c_uint) {
        io_uring_prep_sendmsg_zc(sqe, fd, msg, flags);
        (*sqe).ioprio |= k::IORING_RECVSEND_FIXED_BUF;
        (*sqe).buf.buf_index = buf_index as u16;
    }
    /// Bundle `IORING_OP_SEND`: as many provided buffers as `len` covers.
    fn io_uring_prep_send_bundle(sqe: *mut io_uring_sqe, sockfd: c_int, len: usize, flags: c_int) {
        io_uring_prep_send(sqe, sockfd, core::ptr::null(), len, flags);
        (*sqe).ioprio |= k::IORING_RECVSEND_BUNDLE;
    }
    /// `IORING_OP_GETXATTR` of `name` on `path` into `value`.
    fn io_uring_prep_getxattr(sqe: *mut io_uring_sqe, name: *const libc::c_char, value: *mut libc::c_char, path: *const libc::c_char, len: c_uint) {
        prep_rw(k::IORING_OP_GETXATTR, sqe, 0, name as u64, len, value as u64);
        set_addr3(sqe, path as u64);
        (*sqe).op_flags.xattr_flags = 0;
    }
    /// `IORING_OP_FGETXATTR` of `name` on `fd` into `value`.
    fn io_uring_prep_fgetxattr(sqe: *mut io_uring_sqe, fd: c_int, name: *const libc::c_char, value: *mut libc::c_char, len: c_uint) {
        prep_rw(k::IORING_OP_FGETXATTR, sqe, fd, name as u64, len, value as u64);
        (*sqe).op_flags.xattr_flags = 0;
    }
    /// `IORING_OP_SETXATTR` of `name` on `path`.
    fn io_uring_prep_setxattr(sqe: *mut io_uring_sqe, name: *const libc::c_char, value: *const libc::c_char, path: *const libc::c_char, flags: c_int, len: c_uint) {
        prep_rw(k::IORING_OP_SETXATTR, sqe, 0, name as u64, len, value as u64);
        set_addr3(sqe, path as u64);
        (*sqe).op_flags.xattr_flags = flags as u32;
    }
    /// `IORING_OP_FSETXATTR` of `name` on `fd`.
    fn io_uring_prep_fsetxattr(sqe: *mut io_uring_sqe, fd: c_int, name: *const libc::c_char, value: *const libc::c_char, flags: c_int, len: c_uint) {
        prep_rw(k::IORING_OP_FSETXATTR, sqe, fd, name as u64, len, value as u64);
        (*sqe).op_flags.xattr_flags = flags as u32;
    }
    /// `IORING_OP_OPENAT2` into fixed-file slot `file_index`.
    fn io_uring_prep_openat2_direct(sqe: *mut io_uring_sqe, dfd: c_int, path: *const libc::c_char, how: *mut c_void, file_index: c_uint) {
        io_uring_prep_openat2(sqe, dfd, path, how);
        set_target_fixed_file(sqe, alloc_index(file_index));
    }
    /// `IORING_OP_OPENAT` relative to the working directory.
    fn io_uring_prep_open(sqe: *mut io_uring_sqe, path: *const libc::c_char, flags: c_int, mode: libc::mode_t) {
        io_uring_prep_openat(sqe, libc::AT_FDCWD, path, flags, mode)
    }
    /// `IORING_OP_OPENAT` relative to the working directory, into slot `file_index`.
    fn io_uring_prep_open_direct(sqe: *mut io_uring_sqe, path: *const libc::c_char, flags: c_int, mode: libc::mode_t, file_index: c_uint) {
        io_uring_prep_openat_direct(sqe, libc::AT_FDCWD, path, flags, mode, file_index)
    }
    /// `IORING_OP_MSG_RING` posting a CQE with flags `cqe_flags` (`IORING_MSG_RING_FLAGS_PASS`).
    fn io_uring_prep_msg_ring_cqe_flags(sqe: *mut io_uring_sqe, fd: c_int, len: c_uint, data: u64, flags: c_uint, cqe_flags: c_uint) {
        prep_rw(k::IORING_OP_MSG_RING, sqe, fd, 0, len, data);
        (*sqe).op_flags.msg_ring_flags = k::IORING_MSG_RING_FLAGS_PASS | flags;
        (*sqe).splice_fd_in_or_file_index.file_index = cqe_flags;
    }
    /// `IORING_OP_MSG_RING` sending fixed file `source_fd` into slot `target_fd` of ring `fd`.
    fn io_uring_prep_msg_ring_fd(sqe: *mut io_uring_sqe, fd: c_int, source_fd: c_int, target_fd: c_int, data: u64, flags: c_uint) {
        prep_rw(k::IORING_OP_MSG_RING, sqe, fd, u64::from(k::IORING_MSG_SEND_FD), 0, data);
        // `sqe->addr3 = source_fd`: an int widened to 64 bits, sign and all.
        set_addr3(sqe, i64::from(source_fd) as u64);
        set_target_fixed_file(sqe, alloc_index(target_fd as u32));
        (*sqe).op_flags.msg_ring_flags = flags;
    }
    /// `IORING_OP_MSG_RING` sending fixed file `source_fd` into an allocated slot.
    fn io_uring_prep_msg_ring_fd_alloc(sqe: *mut io_uring_sqe, fd: c_int, source_fd: c_int, data: u64, flags: c_uint) {
        io_uring_prep_msg_ring_fd(sqe, fd, source_fd, k::IORING_FILE_INDEX_ALLOC as c_int, data, flags)
    }
    /// `IORING_OP_URING_CMD` with command `cmd_op` on `fd`.
    fn io_uring_prep_uring_cmd(sqe: *mut io_uring_sqe, cmd_op: c_int, fd: c_int) {
        prep_uring_cmd(sqe, k::IORING_OP_URING_CMD, cmd_op as u32, fd)
    }
    /// `IORING_OP_URING_CMD128`: a command in a 128-byte slot (`SQE_MIXED` rings).
    fn io_uring_prep_uring_cmd128(sqe: *mut io_uring_sqe, cmd_op: c_int, fd: c_int) {
        prep_uring_cmd(sqe, newer::IORING_OP_URING_CMD128, cmd_op as u32, fd)
    }
    /// A socket command (`SOCKET_URING_OP_*`) with `getsockopt`/`setsockopt` arguments.
    fn io_uring_prep_cmd_sock(sqe: *mut io_uring_sqe, cmd_op: c_int, fd: c_int, level: c_int, optname: c_int, optval: *mut c_void, optlen: c_int) {
        io_uring_prep_uring_cmd(sqe, cmd_op, fd);
        (*sqe).addr3_or_cmd.optval = optval as u64;
        (*sqe).addr_or_splice_off_in.sockopt.optname = optname as u32;
        (*sqe).splice_fd_in_or_file_index.optlen = optlen as u32;
        (*sqe).addr_or_splice_off_in.sockopt.level = level as u32;
    }
    /// `SOCKET_URING_OP_GETSOCKNAME` (the peer's name if `peer`).
    fn io_uring_prep_cmd_getsockname(sqe: *mut io_uring_sqe, fd: c_int, sockaddr: *mut libc::sockaddr, sockaddr_len: *mut libc::socklen_t, peer: c_int) {
        io_uring_prep_uring_cmd(sqe, newer::SOCKET_URING_OP_GETSOCKNAME as c_int, fd);
        (*sqe).addr_or_splice_off_in.addr = sockaddr as u64;
        set_addr3(sqe, sockaddr_len as u64);
        (*sqe).splice_fd_in_or_file_index.optlen = peer as u32;
    }
    /// `BLOCK_URING_CMD_DISCARD` of `nbytes` at `offset` on a block device.
    fn io_uring_prep_cmd_discard(sqe: *mut io_uring_sqe, fd: c_int, offset: u64, nbytes: u64) {
        io_uring_prep_uring_cmd(sqe, newer::BLOCK_URING_CMD_DISCARD as c_int, fd);
        (*sqe).addr_or_splice_off_in.addr = offset;
        set_addr3(sqe, nbytes);
    }
    /// `IORING_OP_READ_MULTISHOT` into buffers of group `buf_group`.
    fn io_uring_prep_read_multishot(sqe: *mut io_uring_sqe, fd: c_int, nbytes: c_uint, offset: u64, buf_group: c_int) {
        prep_rw(k::IORING_OP_READ_MULTISHOT, sqe, fd, 0, nbytes, offset);
        (*sqe).buf.buf_group = buf_group as u16;
        (*sqe).flags = k::IOSQE_BUFFER_SELECT;
    }
    /// `IORING_OP_WAITID` (`idtype_t`, `id_t`, `siginfo_t *` as in `waitid(2)`).
    fn io_uring_prep_waitid(sqe: *mut io_uring_sqe, idtype: c_uint, id: u32, infop: *mut c_void, options: c_int, flags: c_uint) {
        prep_rw(k::IORING_OP_WAITID, sqe, id as c_int, 0, idtype, 0);
        (*sqe).op_flags.waitid_flags = flags;
        (*sqe).splice_fd_in_or_file_index.file_index = options as u32;
        (*sqe).off_or_addr2.addr2 = infop as u64;
    }
    /// `IORING_OP_FUTEX_WAKE`.
    fn io_uring_prep_futex_wake(sqe: *mut io_uring_sqe, futex: *const u32, val: u64, mask: u64, futex_flags: u32, flags: c_uint) {
        prep_rw(k::IORING_OP_FUTEX_WAKE, sqe, futex_flags as c_int, futex as u64, 0, val);
        (*sqe).op_flags.futex_flags = flags;
        set_addr3(sqe, mask);
    }
    /// `IORING_OP_FUTEX_WAIT`.
    fn io_uring_prep_futex_wait(sqe: *mut io_uring_sqe, futex: *const u32, val: u64, mask: u64, futex_flags: u32, flags: c_uint) {
        prep_rw(k::IORING_OP_FUTEX_WAIT, sqe, futex_flags as c_int, futex as u64, 0, val);
        (*sqe).op_flags.futex_flags = flags;
        set_addr3(sqe, mask);
    }
    /// `IORING_OP_FUTEX_WAITV` over `nr_futex` `struct futex_waitv`.
    fn io_uring_prep_futex_waitv(sqe: *mut io_uring_sqe, futex: *const c_void, nr_futex: u32, flags: c_uint) {
        prep_rw(k::IORING_OP_FUTEX_WAITV, sqe, 0, futex as u64, nr_futex, 0);
        (*sqe).op_flags.futex_flags = flags;
    }
    /// `IORING_OP_FIXED_FD_INSTALL`: a normal fd for fixed file `fd`.
    fn io_uring_prep_fixed_fd_install(sqe: *mut io_uring_sqe, fd: c_int, flags: c_uint) {
        prep_rw(k::IORING_OP_FIXED_FD_INSTALL, sqe, fd, 0, 0, 0);
        (*sqe).flags = k::IOSQE_FIXED_FILE;
        (*sqe).op_flags.install_fd_flags = flags;
    }
    /// `IORING_OP_FADVISE` with a 64-bit length.
    fn io_uring_prep_fadvise64(sqe: *mut io_uring_sqe, fd: c_int, offset: u64, len: libc::off_t, advice: c_int) {
        prep_rw(k::IORING_OP_FADVISE, sqe, fd, 0, 0, offset);
        (*sqe).addr_or_splice_off_in.addr = len as u64;
        (*sqe).op_flags.fadvise_advice = advice as u32;
    }
    /// `IORING_OP_MADVISE` with a 64-bit length.
    fn io_uring_prep_madvise64(sqe: *mut io_uring_sqe, addr: *mut c_void, length: libc::off_t, advice: c_int) {
        prep_rw(k::IORING_OP_MADVISE, sqe, -1, addr as u64, 0, length as u64);
        (*sqe).op_flags.fadvise_advice = advice as u32;
    }
    /// `IORING_OP_BIND`.
    fn io_uring_prep_bind(sqe: *mut io_uring_sqe, fd: c_int, addr: *const libc::sockaddr, addrlen: libc::socklen_t) {
        prep_rw(k::IORING_OP_BIND, sqe, fd, addr as u64, 0, u64::from(addrlen))
    }
    /// `IORING_OP_LISTEN`.
    fn io_uring_prep_listen(sqe: *mut io_uring_sqe, fd: c_int, backlog: c_int) {
        prep_rw(k::IORING_OP_LISTEN, sqe, fd, 0, backlog as u32, 0)
    }
    /// `IORING_OP_EPOLL_WAIT` for up to `maxevents` events.
    fn io_uring_prep_epoll_wait(sqe: *mut io_uring_sqe, fd: c_int, events: *mut libc::epoll_event, maxevents: c_int, flags: c_uint) {
        prep_rw(k::IORING_OP_EPOLL_WAIT, sqe, fd, events as u64, maxevents as u32, 0);
        (*sqe).op_flags.rw_flags = flags as i32;
    }
    /// `IORING_OP_READV_FIXED`: vectored read into registered buffer `buf_index`.
    fn io_uring_prep_readv_fixed(sqe: *mut io_uring_sqe, fd: c_int, iovecs: *const libc::iovec, nr_vecs: c_uint, offset: u64, flags: c_int, buf_index: c_int) {
        io_uring_prep_readv2(sqe, fd, iovecs, nr_vecs, offset, flags);
        (*sqe).opcode = k::IORING_OP_READV_FIXED;
        (*sqe).buf.buf_index = buf_index as u16;
    }
    /// `IORING_OP_WRITEV_FIXED`: vectored write from registered buffer `buf_index`.
    fn io_uring_prep_writev_fixed(sqe: *mut io_uring_sqe, fd: c_int, iovecs: *const libc::iovec, nr_vecs: c_uint, offset: u64, flags: c_int, buf_index: c_int) {
        io_uring_prep_writev2(sqe, fd, iovecs, nr_vecs, offset, flags);
        (*sqe).opcode = k::IORING_OP_WRITEV_FIXED;
        (*sqe).buf.buf_index = buf_index as u16;
    }
    /// `IORING_OP_PIPE` into `fds[2]`.
    fn io_uring_prep_pipe(sqe: *mut io_uring_sqe, fds: *mut c_int, pipe_flags: c_int) {
        prep_rw(k::IORING_OP_PIPE, sqe, 0, fds as u64, 0, 0);
        (*sqe).op_flags.pipe_flags = pipe_flags as u32;
    }
    /// `IORING_OP_PIPE` into fixed-file slots from `file_index`.
    fn io_uring_prep_pipe_direct(sqe: *mut io_uring_sqe, fds: *mut c_int, pipe_flags: c_int, file_index: c_uint) {
        io_uring_prep_pipe(sqe, fds, pipe_flags);
        set_target_fixed_file(sqe, alloc_index(file_index));
    }
    /// `IORING_OP_NOP128`: a NOP in a 128-byte slot (`SQE_MIXED` rings).
    fn io_uring_prep_nop128(sqe: *mut io_uring_sqe) {
        prep_rw(newer::IORING_OP_NOP128, sqe, -1, 0, 0, 0)
    }
    /// Selects provided buffers from group `bgid`.
    fn io_uring_sqe_set_buf_group(sqe: *mut io_uring_sqe, bgid: c_int) {
        (*sqe).buf.buf_group = bgid as u16;
    }

    /// The header of a multishot `RECVMSG` result in `buf` (`buf_len` bytes), or null
    /// if the buffer cannot hold the name and control lengths `msgh` asked for.
    fn io_uring_recvmsg_validate(buf: *mut c_void, buf_len: c_int, msgh: *mut libc::msghdr) -> *mut k::io_uring_recvmsg_out {
        let hdr = size_of::<k::io_uring_recvmsg_out>() as u64;
        let ulen = u64::from(buf_len as u32);
        let namelen = u64::from((*msgh).msg_namelen);
        let controllen = (*msgh).msg_controllen as u64;
        // Each subtraction is checked separately, so nothing overflows.
        if buf_len < 0 || ulen < hdr || namelen > ulen - hdr || controllen > ulen - hdr - namelen {
            return core::ptr::null_mut();
        }
        buf.cast()
    }
    /// The first control message, or null if there is none.
    fn io_uring_recvmsg_cmsg_firsthdr(o: *mut k::io_uring_recvmsg_out, msgh: *mut libc::msghdr) -> *mut libc::cmsghdr {
        if ((*o).controllen as usize) < size_of::<libc::cmsghdr>() {
            return core::ptr::null_mut();
        }
        io_uring_recvmsg_name(o).cast::<u8>().wrapping_add((*msgh).msg_namelen as usize).cast()
    }
    /// The control message after `cmsg`, or null at the end.
    fn io_uring_recvmsg_cmsg_nexthdr(o: *mut k::io_uring_recvmsg_out, msgh: *mut libc::msghdr, cmsg: *mut libc::cmsghdr) -> *mut libc::cmsghdr {
        if (*cmsg).cmsg_len < size_of::<libc::cmsghdr>() {
            return core::ptr::null_mut();
        }
        let end = io_uring_recvmsg_cmsg_firsthdr(o, msgh).cast::<u8>().wrapping_add((*o).controllen as usize);
        let next = cmsg.cast::<u8>().wrapping_add(cmsg_align((*cmsg).cmsg_len));
        if next.wrapping_add(size_of::<libc::cmsghdr>()) > end {
            return core::ptr::null_mut();
        }
        let next = next.cast::<libc::cmsghdr>();
        if next.cast::<u8>().wrapping_add(cmsg_align((*next).cmsg_len)) > end {
            return core::ptr::null_mut();
        }
        next
    }
    /// The payload, after the name and control areas.
    fn io_uring_recvmsg_payload(o: *mut k::io_uring_recvmsg_out, msgh: *mut libc::msghdr) -> *mut c_void {
        io_uring_recvmsg_name(o)
            .cast::<u8>()
            .wrapping_add((*msgh).msg_namelen as usize + (*msgh).msg_controllen)
            .cast()
    }
    /// The payload's length in a result of `buf_len` bytes.
    fn io_uring_recvmsg_payload_length(o: *mut k::io_uring_recvmsg_out, buf_len: c_int, msgh: *mut libc::msghdr) -> c_uint {
        if buf_len < 0 {
            return 0;
        }
        let start = io_uring_recvmsg_payload(o, msgh) as usize;
        let end = (o as usize).wrapping_add(buf_len as usize);
        if start >= end {
            return 0;
        }
        (end - start) as c_uint
    }

    /// Buffers of ring `br` (group `bgid`) the kernel has not consumed, or `-errno`.
    fn io_uring_buf_ring_available(ring: *mut io_uring, br: *mut io_uring_buf_ring, bgid: u16) -> c_int {
        let mut head = 0u16;
        let ret = crate::register::io_uring_buf_ring_head(ring, c_int::from(bgid), &mut head);
        if ret != 0 {
            return ret;
        }
        c_int::from(tail(br).wrapping_sub(head))
    }
    /// CQ slots `cqe` takes: 2 for a 32-byte CQE of a `CQE_MIXED` ring, else 1.
    fn io_uring_cqe_nr(cqe: *const io_uring_cqe) -> c_uint {
        1 << u32::from((*cqe).flags & k::IORING_CQE_F_32 != 0)
    }
    /// A 128-byte SQE: any SQE of an `SQE128` ring; on an `SQE_MIXED` ring two
    /// adjacent slots (a NOP that posts no CQE fills the last slot when the pair
    /// would wrap); otherwise null.
    fn io_uring_get_sqe128(ring: *mut io_uring) -> *mut io_uring_sqe {
        if (*ring).flags & k::IORING_SETUP_SQE128 != 0 {
            return queue::io_uring_get_sqe(ring);
        }
        if (*ring).flags & newer::IORING_SETUP_SQE_MIXED == 0 {
            return core::ptr::null_mut();
        }
        let sq = &raw mut (*ring).sq;
        let head = if (*ring).flags & k::IORING_SETUP_SQPOLL != 0 {
            // Acquire pairs with the SQ poll thread's smp_store_release of the SQ
            // head: it is done reading the slots it consumed.
            load_acquire((*sq).khead)
        } else {
            load_relaxed((*sq).khead)
        };
        let mut tail = (*sq).sqe_tail;
        if tail.wrapping_add(1) & (*sq).ring_mask == 0 {
            if tail.wrapping_add(2).wrapping_sub(head) >= (*sq).ring_entries {
                return core::ptr::null_mut();
            }
            let pad = queue::io_uring_get_sqe(ring);
            io_uring_prep_nop(pad);
            (*pad).flags |= k::IOSQE_CQE_SKIP_SUCCESS;
            tail = (*sq).sqe_tail;
        } else if tail.wrapping_add(1).wrapping_sub(head) >= (*sq).ring_entries {
            return core::ptr::null_mut();
        }
        let sqe = (*sq).sqes.add((tail & (*sq).ring_mask) as usize);
        (*sq).sqe_tail = tail.wrapping_add(2);
        queue::initialize_sqe(sqe);
        sqe
    }
    /// An iterator over the CQEs ready now.
    fn io_uring_cqe_iter_init(ring: *const io_uring) -> io_uring_cqe_iter {
        io_uring_cqe_iter {
            cqes: (*ring).cq.cqes,
            mask: (*ring).cq.ring_mask,
            shift: u32::from((*ring).flags & k::IORING_SETUP_CQE32 != 0),
            head: load_relaxed((*ring).cq.khead),
            // Acquire pairs with the kernel's smp_store_release of the CQ tail
            // (io_commit_cqring): the CQEs below it are written.
            tail: load_acquire((*ring).cq.ktail),
        }
    }
    /// The iterator's next CQE into `cqe`; false at its end.
    fn io_uring_cqe_iter_next(iter: *mut io_uring_cqe_iter, cqe: *mut *mut io_uring_cqe) -> bool {
        let it = &mut *iter;
        if it.head == it.tail {
            return false;
        }
        let c = it.cqes.add(((it.head & it.mask) << it.shift) as usize);
        it.head = it.head.wrapping_add(1);
        if (*c).flags & k::IORING_CQE_F_32 != 0 {
            it.head = it.head.wrapping_add(1);
        }
        *cqe = c;
        true
    }
    /// The next CQE (null if none) and, if `nr_available` is not null, how many are
    /// ready; skips internal timeouts and filler entries. 0 or an internal timeout's error.
    fn __io_uring_peek_cqe(ring: *mut io_uring, cqe_ptr: *mut *mut io_uring_cqe, nr_available: *mut c_uint) -> c_int {
        let mut nr = 0;
        let ret = queue::peek_cqe(ring, &mut *cqe_ptr, &mut nr);
        if !nr_available.is_null() {
            *nr_available = nr;
        }
        ret
    }
}

/// The source address of a multishot `RECVMSG` result, right after its header.
///
/// liburing: `io_uring_recvmsg_name(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_recvmsg_name(o: *mut k::io_uring_recvmsg_out) -> *mut c_void {
    o.wrapping_add(1).cast()
}

symver!(io_uring_recvmsg_name);
