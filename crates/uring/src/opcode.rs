//! Typed builders for SQEs, one per opcode, declared once each in the table below.
//!
//! Each entry generates a struct with the opcode's required arguments (taken by
//! `new`), optional ones (setters with the kernel's defaults), a `CODE` constant for
//! the probe, and `build()`, which writes a zeroed SQE. [`DECLARED`] lists every code
//! declared here; a test checks it against the kernel's probe.
//!
//! Every argument takes its plain type, except a file: that takes anything
//! [`IntoTarget`] (an [`Fd`](crate::types::Fd), a [`Fixed`](crate::types::Fixed) index,
//! a raw fd, `&File`), sealed as the io-uring crate's `UseFixed`. An optional argument
//! that is unset by default (`Option<T>` inside) is set by its bare value
//! (`.file_index(DestinationSlot::Alloc)`). Pointers the SQE carries must stay valid
//! until the completion arrives (the contract of
//! [`SubmissionQueue::push`](crate::SubmissionQueue::push)).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use uring::{opcode, types::Fd, Ring};
//! let mut ring = Ring::new(8)?;
//! let mut buf = [0u8; 4096];
//! let read = opcode::Read::new(Fd(0), buf.as_mut_ptr(), buf.len() as u32)
//!     .offset(0)
//!     .build()
//!     .user_data(7);
//! // SAFETY: `buf` outlives the request: we wait for its completion below.
//! unsafe { ring.submission().push(&read) }.expect("SQ full");
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().expect("one completion");
//! assert_eq!(cqe.user_data(), 7);
//! # Ok(()) }
//! ```
//!
//! # Coverage
//!
//! Every opcode of Linux 6.18, its builder, and the test that runs it on the kernel
//! (`tests/op_coverage.rs` checks this table against [`DECLARED`] and the test sources).
//!
//! | code | opcode | builder | test |
//! |-----:|--------|---------|------|
//! | 0 | `NOP` | [`Nop`] | `op_misc::nop_inject_result_and_file_checks` |
//! | 1 | `READV` | [`Readv`] | `op_files::readv_writev_every_flavor` |
//! | 2 | `WRITEV` | [`Writev`] | `op_files::readv_writev_every_flavor` |
//! | 3 | `FSYNC` | [`Fsync`] | `op_files::fsync_and_fdatasync`, `op_link::writes_linked_to_fsync_every_flavor` |
//! | 4 | `READ_FIXED` | [`ReadFixed`] | `op_files::fixed_buffers_read_write_every_flavor` |
//! | 5 | `WRITE_FIXED` | [`WriteFixed`] | `op_files::fixed_buffers_read_write_every_flavor` |
//! | 6 | `POLL_ADD` | [`PollAdd`] | `op_poll::poll_add_fires_once_on_readiness`, `op_poll::poll_multishot_then_remove` |
//! | 7 | `POLL_REMOVE` | [`PollRemove`] | `op_poll::poll_multishot_then_remove`, `op_poll::poll_update_changes_events_and_user_data` |
//! | 8 | `SYNC_FILE_RANGE` | [`SyncFileRange`] | `op_files::sync_file_range_writes_back` |
//! | 9 | `SENDMSG` | [`SendMsg`] | `op_net::sendmsg_and_recvmsg` |
//! | 10 | `RECVMSG` | [`RecvMsg`] | `op_net::sendmsg_and_recvmsg`, `op_net::recvmsg_multishot_parsed_with_recvmsg_out` |
//! | 11 | `TIMEOUT` | [`Timeout`] | `op_timeout::timeout_relative_expires_with_etime`, `op_timeout::timeout_absolute_on_monotonic_and_realtime`, `op_timeout::timeout_count_completes_after_n_others`, `op_timeout::timeout_multishot_fires_count_times` |
//! | 12 | `TIMEOUT_REMOVE` | [`TimeoutRemove`] | `op_timeout::timeout_update_and_remove`, `op_timeout::link_timeout_update_shortens_it` |
//! | 13 | `ACCEPT` | [`Accept`] | `op_net::socket_bind_listen_accept_connect`, `op_net::accept_multishot_and_direct` |
//! | 14 | `ASYNC_CANCEL` | [`AsyncCancel`] | `op_cancel::cancel_by_user_data`, `op_cancel::cancel_by_fd_first_and_all`, `op_cancel::cancel_by_fixed_fd`, `op_cancel::cancel_any_and_by_opcode`, `op_cancel::cancel_of_running_work_is_ealready` |
//! | 15 | `LINK_TIMEOUT` | [`LinkTimeout`] | `op_timeout::link_timeout_cancels_a_slow_request`, `op_timeout::link_timeout_disarmed_by_a_fast_request` |
//! | 16 | `CONNECT` | [`Connect`] | `op_net::socket_bind_listen_accept_connect`, `op_net::socket_direct_into_a_fixed_slot` |
//! | 17 | `FALLOCATE` | [`Fallocate`] | `op_files::fallocate_allocates_and_punches` |
//! | 18 | `OPENAT` | [`OpenAt`] | `op_files::openat_openat2_and_close`, `op_files::open_direct_into_fixed_slots_and_close_them` |
//! | 19 | `CLOSE` | [`Close`] | `op_files::openat_openat2_and_close`, `op_files::open_direct_into_fixed_slots_and_close_them` |
//! | 20 | `FILES_UPDATE` | [`FilesUpdate`] | `op_files::files_update_replaces_and_allocates_slots` |
//! | 21 | `STATX` | [`Statx`] | `op_files::statx_by_path_and_fd` |
//! | 22 | `READ` | [`Read`] | `op_files::read_write_every_flavor`, `op_files::provide_buffers_read_select_and_remove`, `op_files::rw_flags_and_ioprio` |
//! | 23 | `WRITE` | [`Write`] | `op_files::read_write_every_flavor`, `op_files::read_write_at_file_position`, `op_files::rw_flags_and_ioprio` |
//! | 24 | `FADVISE` | [`Fadvise`] | `op_files::fadvise_and_madvise` |
//! | 25 | `MADVISE` | [`Madvise`] | `op_files::fadvise_and_madvise` |
//! | 26 | `SEND` | [`Send`] | `op_net::send_recv_sendto_and_shutdown`, `op_net::recv_and_send_bundles` |
//! | 27 | `RECV` | [`Recv`] | `op_net::recv_multishot_with_provided_buffers`, `op_net::recv_multishot_stops_at_total_len_and_on_no_buffers`, `op_net::recv_and_send_bundles`, `op_net::recv_into_an_incremental_buffer_ring_flags_buf_more` |
//! | 28 | `OPENAT2` | [`OpenAt2`] | `op_files::openat_openat2_and_close`, `op_files::open_direct_into_fixed_slots_and_close_them` |
//! | 29 | `EPOLL_CTL` | [`EpollCtl`] | `op_poll::epoll_ctl_and_epoll_wait` |
//! | 30 | `SPLICE` | [`Splice`] | `op_files::splice_file_to_pipe_to_file_and_tee`, `op_files::splice_from_a_fixed_file` |
//! | 31 | `PROVIDE_BUFFERS` | [`ProvideBuffers`] | `op_files::provide_buffers_read_select_and_remove` |
//! | 32 | `REMOVE_BUFFERS` | [`RemoveBuffers`] | `op_files::provide_buffers_read_select_and_remove` |
//! | 33 | `TEE` | [`Tee`] | `op_files::splice_file_to_pipe_to_file_and_tee` |
//! | 34 | `SHUTDOWN` | [`Shutdown`] | `op_net::send_recv_sendto_and_shutdown` |
//! | 35 | `RENAMEAT` | [`RenameAt`] | `op_files::path_ops_rename_unlink_mkdir_symlink_link` |
//! | 36 | `UNLINKAT` | [`UnlinkAt`] | `op_files::path_ops_rename_unlink_mkdir_symlink_link` |
//! | 37 | `MKDIRAT` | [`MkDirAt`] | `op_files::path_ops_rename_unlink_mkdir_symlink_link` |
//! | 38 | `SYMLINKAT` | [`SymlinkAt`] | `op_files::path_ops_rename_unlink_mkdir_symlink_link` |
//! | 39 | `LINKAT` | [`LinkAt`] | `op_files::path_ops_rename_unlink_mkdir_symlink_link` |
//! | 40 | `MSG_RING` | [`MsgRing`] | `op_misc::msg_ring_data_between_two_rings`, `op_misc::msg_ring_sends_a_fixed_file_to_another_ring` |
//! | 41 | `FSETXATTR` | [`FSetXattr`] | `op_files::xattrs_set_and_get_by_path_and_fd` |
//! | 42 | `SETXATTR` | [`SetXattr`] | `op_files::xattrs_set_and_get_by_path_and_fd` |
//! | 43 | `FGETXATTR` | [`FGetXattr`] | `op_files::xattrs_set_and_get_by_path_and_fd` |
//! | 44 | `GETXATTR` | [`GetXattr`] | `op_files::xattrs_set_and_get_by_path_and_fd` |
//! | 45 | `SOCKET` | [`Socket`] | `op_net::socket_bind_listen_accept_connect`, `op_net::socket_direct_into_a_fixed_slot` |
//! | 46 | `URING_CMD` | [`UringCmd`] | `op_net::uring_cmd_socket_options_and_queues` |
//! | 47 | `SEND_ZC` | [`SendZc`] | `op_net::send_zc_and_sendmsg_zc_post_notifications` |
//! | 48 | `SENDMSG_ZC` | [`SendMsgZc`] | `op_net::send_zc_and_sendmsg_zc_post_notifications` |
//! | 49 | `READ_MULTISHOT` | [`ReadMulti`] | `op_files::read_multishot_on_a_pipe_with_provided_buffers` |
//! | 50 | `WAITID` | [`WaitId`] | `op_misc::waitid_reaps_a_child` |
//! | 51 | `FUTEX_WAIT` | [`FutexWait`] | `op_misc::futex_wait_and_wake` |
//! | 52 | `FUTEX_WAKE` | [`FutexWake`] | `op_misc::futex_wait_and_wake`, `op_misc::futex_waitv_reports_the_woken_index` |
//! | 53 | `FUTEX_WAITV` | [`FutexWaitV`] | `op_misc::futex_waitv_reports_the_woken_index` |
//! | 54 | `FIXED_FD_INSTALL` | [`FixedFdInstall`] | `op_files::fixed_fd_install_makes_a_plain_fd` |
//! | 55 | `FTRUNCATE` | [`Ftruncate`] | `op_files::ftruncate_sets_the_size` |
//! | 56 | `BIND` | [`Bind`] | `op_net::socket_bind_listen_accept_connect` |
//! | 57 | `LISTEN` | [`Listen`] | `op_net::socket_bind_listen_accept_connect` |
//! | 58 | `RECV_ZC` | [`RecvZc`] | `op_net::recv_zc_needs_a_zcrx_queue` |
//! | 59 | `EPOLL_WAIT` | [`EpollWait`] | `op_poll::epoll_ctl_and_epoll_wait` |
//! | 60 | `READV_FIXED` | [`ReadvFixed`] | `op_files::fixed_buffers_read_write_every_flavor` |
//! | 61 | `WRITEV_FIXED` | [`WritevFixed`] | `op_files::fixed_buffers_read_write_every_flavor` |
//! | 62 | `PIPE` | [`Pipe`] | `op_files::pipe_creates_fds_and_direct_slots` |
#![allow(clippy::new_without_default)]

use std::ffi::c_char;
use std::os::fd::RawFd;

use uring_sys as sys;

use crate::Sqe;
use crate::types::{
    DestinationSlot, EpollEvent, FutexWaitV as FutexWaitVEntry, IntoTarget, MsgHdr, MsgRingCmd,
    OpenHow, SigInfo, Statx as StatxBuf, Target, Timespec,
};

macro_rules! opcodes {
    ($(
        $(#[$meta:meta])*
        $name:ident = $code:ident {
            new($($req:ident : $({ $($conv:tt)+ })? $($req_ty:ty)?),* $(,)?);
            $(
                $(#[$odoc:meta])*
                opt $opt:ident
                    $(: $opt_ty:ty = $default:expr;)?
                    $(?: $({ $($oconv:tt)+ })? $($oin:ty)?;)?
            )*
            build($s:ident, $sqe:ident) $body:block
        }
    )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy)]
            #[must_use = "an opcode builder does nothing until built and pushed"]
            pub struct $name {
                $($req: opcodes!(@field $([$($conv)+])? $([$req_ty])?),)*
                $($opt: opcodes!(@opt_field $([$opt_ty])? $(? $([$($oconv)+])? $({$oin})?)?),)*
            }

            impl $name {
                /// The opcode (`IORING_OP_*`).
                pub const CODE: u8 = sys::$code;

                /// The builder with its required arguments; optional ones take the
                /// kernel's defaults.
                #[inline]
                pub fn new($($req: $($($conv)+)? $($req_ty)?),*) -> Self {
                    $name {
                        $($req: opcodes!(@value $req $([$($conv)+])?),)*
                        $($opt: opcodes!(@default $($default)? $(? $([$($oconv)+])? $({$oin})?)?),)*
                    }
                }

                $(
                    opcodes!(@setter $opt [$(#[$odoc])*]
                        $([$opt_ty])? $(? $([$($oconv)+])? $({$oin})?)?);
                )*

                /// Builds the SQE.
                #[inline]
                pub fn build(self) -> Sqe {
                    let mut sqe = Sqe(sys::io_uring_sqe::zeroed());
                    self.write(&mut sqe);
                    sqe
                }

                /// Writes the SQE into `sqe` in place, every field of it (zeroed,
                /// then this opcode's): the way to fill a slot of the SQ without
                /// building a copy first, with
                /// [`SubmissionQueue::push_with`](crate::SubmissionQueue::push_with).
                #[inline]
                pub fn write(self, sqe: &mut Sqe) -> &mut Sqe {
                    let $s = self;
                    sqe.0 = sys::io_uring_sqe::zeroed();
                    {
                        let $sqe = &mut sqe.0;
                        $sqe.opcode = Self::CODE;
                        $body
                    }
                    sqe
                }
            }
        )*

        /// Every opcode declared in this module, with its builder's name.
        pub const DECLARED: &[(u8, &str)] = &[$((sys::$code, stringify!($name))),*];
    };

    // A required argument: `name: Type` is taken and kept as is; `name: { impl
    // IntoTarget }` takes any file-like value and keeps the `Target`.
    (@field [impl IntoTarget]) => { Target };
    (@field [$t:ty]) => { $t };
    (@value $v:ident [impl IntoTarget]) => { $v.into_target() };
    (@value $v:ident) => { $v };

    // An optional argument: `opt name: Type = default;` is set by `.name(Type)`;
    // `opt name?: Type;` is an `Option<Type>`, `None` unless `.name(Type)` sets it;
    // `opt name?: { impl IntoTarget };` likewise an `Option<Target>`.
    (@opt_field [$t:ty]) => { $t };
    (@opt_field ? [impl IntoTarget]) => { Option<Target> };
    (@opt_field ? {$t:ty}) => { Option<$t> };
    (@default $d:expr) => { $d };
    (@default ? $($rest:tt)*) => { None };
    (@setter $opt:ident [$($doc:tt)*] [$t:ty]) => {
        #[doc = concat!("Sets `", stringify!($opt), "`.")]
        #[doc = ""]
        $($doc)*
        #[inline]
        pub fn $opt(mut self, $opt: $t) -> Self {
            self.$opt = $opt;
            self
        }
    };
    (@setter $opt:ident [$($doc:tt)*] ? [impl IntoTarget]) => {
        #[doc = concat!("Sets `", stringify!($opt), "` (unset by default).")]
        #[doc = ""]
        $($doc)*
        #[inline]
        pub fn $opt(mut self, $opt: impl IntoTarget) -> Self {
            self.$opt = Some($opt.into_target());
            self
        }
    };
    (@setter $opt:ident [$($doc:tt)*] ? {$t:ty}) => {
        #[doc = concat!("Sets `", stringify!($opt), "` (unset by default).")]
        #[doc = ""]
        $($doc)*
        #[inline]
        pub fn $opt(mut self, $opt: $t) -> Self {
            self.$opt = Some($opt);
            self
        }
    };
}

// Small writers for the SQE's unions, so each builder reads as the list of fields the
// kernel's `*_prep` function takes. Writing a union field is safe; the kernel reads the
// view its opcode defines.

#[inline]
fn set_addr3(sqe: &mut sys::io_uring_sqe, addr3: u64) {
    sqe.addr3_or_cmd.addr3 = sys::addr3_struct { addr3, __pad2: [0] };
}

#[inline]
fn set_attr_pi(sqe: &mut sys::io_uring_sqe, pi: Option<*const sys::io_uring_attr_pi>) {
    if let Some(pi) = pi {
        sqe.addr3_or_cmd.attr = sys::attr_struct {
            attr_ptr: pi as u64,
            attr_type_mask: sys::IORING_RW_ATTR_FLAG_PI as u64,
        };
    }
}

#[inline]
fn set_write_stream(sqe: &mut sys::io_uring_sqe, stream: u8) {
    if stream != 0 {
        sqe.splice_fd_in_or_file_index.write_stream = sys::write_stream_struct {
            write_stream: stream,
            __pad4: [0; 3],
        };
    }
}

#[inline]
fn set_file_index(sqe: &mut sys::io_uring_sqe, slot: Option<DestinationSlot>) {
    if let Some(slot) = slot {
        sqe.splice_fd_in_or_file_index.file_index = slot.kernel_index_arg();
    }
}

#[inline]
fn set_buf_group(sqe: &mut sys::io_uring_sqe, group: Option<u16>) {
    if let Some(group) = group {
        sqe.buf.buf_group = group;
        sqe.flags |= sys::IOSQE_BUFFER_SELECT;
    }
}

#[inline]
fn set_dest_addr(sqe: &mut sys::io_uring_sqe, addr: *const libc::sockaddr, len: libc::socklen_t) {
    if !addr.is_null() {
        sqe.off_or_addr2.addr2 = addr as u64;
        sqe.splice_fd_in_or_file_index.addr_len = sys::addr_len_struct {
            addr_len: len as u16,
            __pad3: [0],
        };
    }
}

/// The common fields of the read/write family, as liburing's `io_uring_prep_rw`.
#[inline]
#[allow(clippy::too_many_arguments)]
fn prep_rw(
    sqe: &mut sys::io_uring_sqe,
    fd: Target,
    addr: u64,
    len: u32,
    offset: u64,
    ioprio: u16,
    rw_flags: i32,
) {
    fd.apply(sqe);
    sqe.addr_or_splice_off_in.addr = addr;
    sqe.len = len;
    sqe.off_or_addr2.off = offset;
    sqe.ioprio = ioprio;
    sqe.op_flags.rw_flags = rw_flags;
}

/// The fd of an opcode whose descriptor names a registered file through an op flag, not
/// `IOSQE_FIXED_FILE` (the kernel refuses that flag on these with `EBADF`): the index,
/// and whether it is fixed.
#[inline]
fn fd_and_fixed(fd: Target) -> (i32, bool) {
    match fd {
        Target::Fd(fd) => (fd, false),
        Target::Fixed(i) => (i as i32, true),
    }
}

opcodes! {
    /// Does nothing and completes with 0, or with an injected result; can also resolve a
    /// file or a registered buffer on the way, to test those paths.
    ///
    /// Maps to liburing's `io_uring_prep_nop`. `IORING_OP_NOP`, Linux 5.1 (flags 6.10).
    Nop = IORING_OP_NOP {
        new();
        /// Raw `IORING_NOP_*` flags, OR-ed with those the setters below imply
        /// (`IORING_NOP_TW`, `IORING_NOP_CQE32`, …).
        opt nop_flags: u32 = 0;
        /// `IORING_NOP_INJECT_RESULT`: complete with this result.
        opt inject_result?: i32;
        /// `IORING_NOP_FILE` (and `IORING_NOP_FIXED_FILE` for a registered index): look
        /// the file up; a bad one fails the request.
        opt fd?: { impl IntoTarget };
        /// `IORING_NOP_FIXED_BUFFER`: look up this registered buffer.
        opt buf_index?: u16;
        build(s, sqe) {
            let mut flags = s.nop_flags;
            if let Some(res) = s.inject_result {
                flags |= sys::IORING_NOP_INJECT_RESULT;
                sqe.len = res as u32;
            }
            if let Some(fd) = s.fd {
                let (fd, fixed) = fd_and_fixed(fd);
                flags |= sys::IORING_NOP_FILE;
                if fixed {
                    flags |= sys::IORING_NOP_FIXED_FILE;
                }
                sqe.fd = fd;
            }
            if let Some(i) = s.buf_index {
                flags |= sys::IORING_NOP_FIXED_BUFFER;
                sqe.buf.buf_index = i;
            }
            sqe.op_flags.nop_flags = flags;
        }
    }

    /// Vectored read, like preadv2(2): `iovecs` points to `len` iovecs (`offset` -1:
    /// the file position). With a buffer group, one iovec whose length caps the read,
    /// and the kernel picks the buffer.
    ///
    /// Maps to liburing's `io_uring_prep_readv2`. `IORING_OP_READV`, Linux 5.1.
    Readv = IORING_OP_READV {
        new(fd: { impl IntoTarget }, iovecs: *const libc::iovec, len: u32);
        /// File offset; -1 (`u64::MAX`) reads at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of preadv2(2).
        opt rw_flags: i32 = 0;
        /// Read into a buffer of this provided-buffer group (`IOSQE_BUFFER_SELECT`).
        opt buf_group?: u16;
        /// Protection information (`IORING_RW_ATTR_FLAG_PI`), for O_DIRECT on devices
        /// with integrity metadata.
        opt attr_pi?: *const sys::io_uring_attr_pi;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.iovecs as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            set_buf_group(sqe, s.buf_group);
            set_attr_pi(sqe, s.attr_pi);
        }
    }

    /// Vectored write, like pwritev2(2): `iovecs` points to `len` iovecs (`offset` -1:
    /// the file position).
    ///
    /// Maps to liburing's `io_uring_prep_writev2`. `IORING_OP_WRITEV`, Linux 5.1.
    Writev = IORING_OP_WRITEV {
        new(fd: { impl IntoTarget }, iovecs: *const libc::iovec, len: u32);
        /// File offset; -1 (`u64::MAX`) writes at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of pwritev2(2).
        opt rw_flags: i32 = 0;
        /// Protection information (`IORING_RW_ATTR_FLAG_PI`).
        opt attr_pi?: *const sys::io_uring_attr_pi;
        /// Write stream hint (Linux 6.16), 0 for none.
        opt write_stream: u8 = 0;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.iovecs as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            set_attr_pi(sqe, s.attr_pi);
            set_write_stream(sqe, s.write_stream);
        }
    }

    /// fsync(2), or fdatasync(2) with `IORING_FSYNC_DATASYNC`; with `len`, only that
    /// range from `offset`.
    ///
    /// Maps to liburing's `io_uring_prep_fsync`. `IORING_OP_FSYNC`, Linux 5.1.
    Fsync = IORING_OP_FSYNC {
        new(fd: { impl IntoTarget });
        /// `IORING_FSYNC_DATASYNC` for fdatasync(2).
        opt flags: u32 = 0;
        /// Start of the range to sync.
        opt offset: u64 = 0;
        /// Length of the range to sync; 0: to the end.
        opt len: u32 = 0;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.op_flags.fsync_flags = s.flags;
            sqe.off_or_addr2.off = s.offset;
            sqe.len = s.len;
        }
    }

    /// Read into part of registered buffer `buf_index`: `buf`..`buf + len` must lie
    /// inside it.
    ///
    /// Maps to liburing's `io_uring_prep_read_fixed`. `IORING_OP_READ_FIXED`, Linux 5.1.
    ReadFixed = IORING_OP_READ_FIXED {
        new(fd: { impl IntoTarget }, buf: *mut u8, len: u32, buf_index: u16);
        /// File offset; -1 (`u64::MAX`) reads at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of preadv2(2).
        opt rw_flags: i32 = 0;
        /// Protection information (`IORING_RW_ATTR_FLAG_PI`).
        opt attr_pi?: *const sys::io_uring_attr_pi;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.buf as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            sqe.buf.buf_index = s.buf_index;
            set_attr_pi(sqe, s.attr_pi);
        }
    }

    /// Write from part of registered buffer `buf_index`: `buf`..`buf + len` must lie
    /// inside it.
    ///
    /// Maps to liburing's `io_uring_prep_write_fixed`. `IORING_OP_WRITE_FIXED`,
    /// Linux 5.1.
    WriteFixed = IORING_OP_WRITE_FIXED {
        new(fd: { impl IntoTarget }, buf: *const u8, len: u32, buf_index: u16);
        /// File offset; -1 (`u64::MAX`) writes at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of pwritev2(2).
        opt rw_flags: i32 = 0;
        /// Protection information (`IORING_RW_ATTR_FLAG_PI`).
        opt attr_pi?: *const sys::io_uring_attr_pi;
        /// Write stream hint (Linux 6.16), 0 for none.
        opt write_stream: u8 = 0;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.buf as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            sqe.buf.buf_index = s.buf_index;
            set_attr_pi(sqe, s.attr_pi);
            set_write_stream(sqe, s.write_stream);
        }
    }

    /// Waits for `events` (`POLLIN`, …) on a file and completes with the events that
    /// fired; multishot stays armed and posts a CQE per event with `IORING_CQE_F_MORE`.
    ///
    /// Maps to liburing's `io_uring_prep_poll_add` / `io_uring_prep_poll_multishot`.
    /// `IORING_OP_POLL_ADD`, Linux 5.1 (multishot 5.13).
    PollAdd = IORING_OP_POLL_ADD {
        new(fd: { impl IntoTarget }, events: u32);
        /// `IORING_POLL_ADD_MULTI`.
        opt multishot: bool = false;
        /// `IORING_POLL_ADD_LEVEL`: level-triggered. In the uapi, but 6.18's `POLL_ADD`
        /// refuses it with `-EINVAL`.
        opt level: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.op_flags.poll32_events = s.events;
            let mut flags = 0;
            if s.multishot {
                flags |= sys::IORING_POLL_ADD_MULTI;
            }
            if s.level {
                flags |= sys::IORING_POLL_ADD_LEVEL;
            }
            sqe.len = flags;
        }
    }

    /// Removes the poll request whose `user_data` is given (`-ENOENT` if none), or with
    /// [`events`](Self::events) / [`new_user_data`](Self::new_user_data), updates it in
    /// place.
    ///
    /// Maps to liburing's `io_uring_prep_poll_remove` / `io_uring_prep_poll_update`.
    /// `IORING_OP_POLL_REMOVE`, Linux 5.1 (update 5.13).
    PollRemove = IORING_OP_POLL_REMOVE {
        new(user_data: u64);
        /// `IORING_POLL_UPDATE_EVENTS`: the poll's new event mask.
        opt events?: u32;
        /// `IORING_POLL_UPDATE_USER_DATA`: the poll's new `user_data`.
        opt new_user_data?: u64;
        /// `IORING_POLL_ADD_MULTI` with an update: the updated poll is multishot.
        opt multishot: bool = false;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.user_data;
            let mut flags = 0;
            if let Some(events) = s.events {
                flags |= sys::IORING_POLL_UPDATE_EVENTS;
                sqe.op_flags.poll32_events = events;
            }
            if let Some(new) = s.new_user_data {
                flags |= sys::IORING_POLL_UPDATE_USER_DATA;
                sqe.off_or_addr2.off = new;
            }
            if s.multishot {
                flags |= sys::IORING_POLL_ADD_MULTI;
            }
            sqe.len = flags;
        }
    }

    /// sync_file_range(2): starts or waits for writeback of `len` bytes at `offset`.
    ///
    /// Maps to liburing's `io_uring_prep_sync_file_range`. `IORING_OP_SYNC_FILE_RANGE`,
    /// Linux 5.2.
    SyncFileRange = IORING_OP_SYNC_FILE_RANGE {
        new(fd: { impl IntoTarget }, len: u32);
        /// Start of the range.
        opt offset: u64 = 0;
        /// `SYNC_FILE_RANGE_*`.
        opt flags: u32 = 0;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.len = s.len;
            sqe.off_or_addr2.off = s.offset;
            sqe.op_flags.sync_range_flags = s.flags;
        }
    }

    /// sendmsg(2) of the message `msg` describes.
    ///
    /// Maps to liburing's `io_uring_prep_sendmsg`. `IORING_OP_SENDMSG`, Linux 5.3.
    SendMsg = IORING_OP_SENDMSG {
        new(fd: { impl IntoTarget }, msg: *const MsgHdr);
        /// `MSG_*` flags (`MSG_NOSIGNAL` is always added by the kernel).
        opt flags: i32 = 0;
        /// `IORING_RECVSEND_POLL_FIRST`: wait for room before trying.
        opt poll_first: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.msg as u64;
            sqe.len = 1;
            sqe.op_flags.msg_flags = s.flags as u32;
            if s.poll_first {
                sqe.ioprio |= sys::IORING_RECVSEND_POLL_FIRST;
            }
        }
    }

    /// recvmsg(2) into the message `msg` describes. Multishot (with a buffer group)
    /// posts a CQE per message, each buffer holding an `io_uring_recvmsg_out` header,
    /// name, control and payload: parse it with [`RecvMsgOut`](crate::types::RecvMsgOut).
    ///
    /// Maps to liburing's `io_uring_prep_recvmsg` /
    /// `io_uring_prep_recvmsg_multishot`. `IORING_OP_RECVMSG`, Linux 5.3 (multishot
    /// 6.0).
    RecvMsg = IORING_OP_RECVMSG {
        new(fd: { impl IntoTarget }, msg: *mut MsgHdr);
        /// `MSG_*` flags.
        opt flags: i32 = 0;
        /// Receive into a buffer of this provided-buffer group (`IOSQE_BUFFER_SELECT`);
        /// `msg`'s single iovec, if any, only caps the length.
        opt buf_group?: u16;
        /// `IORING_RECV_MULTISHOT` (needs a buffer group).
        opt multishot: bool = false;
        /// `IORING_RECVSEND_POLL_FIRST`: wait for data before trying.
        opt poll_first: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.msg as u64;
            sqe.len = 1;
            sqe.op_flags.msg_flags = s.flags as u32;
            set_buf_group(sqe, s.buf_group);
            if s.multishot {
                sqe.ioprio |= sys::IORING_RECV_MULTISHOT;
            }
            if s.poll_first {
                sqe.ioprio |= sys::IORING_RECVSEND_POLL_FIRST;
            }
        }
    }

    /// Completes after `timespec` (with `-ETIME`), or after `count` other completions
    /// (with 0), whichever comes first. `IORING_TIMEOUT_MULTISHOT` re-arms it: a CQE per
    /// expiry with `IORING_CQE_F_MORE`, `count` times (0: until removed). The timespec
    /// must outlive the request.
    ///
    /// Maps to liburing's `io_uring_prep_timeout`. `IORING_OP_TIMEOUT`, Linux 5.4
    /// (multishot 6.4).
    Timeout = IORING_OP_TIMEOUT {
        new(timespec: *const Timespec);
        /// Completions to wait for (0: time only); for multishot, the number of shots.
        opt count: u32 = 0;
        /// `IORING_TIMEOUT_ABS`, `_BOOTTIME`, `_REALTIME`, `_MULTISHOT`, and
        /// `_ETIME_SUCCESS` (the CQE still says `-ETIME`, but the expiry no longer fails
        /// a link chain).
        opt flags: u32 = 0;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.timespec as u64;
            sqe.len = 1;
            sqe.off_or_addr2.off = s.count as u64;
            sqe.op_flags.timeout_flags = s.flags;
        }
    }

    /// Removes the timeout whose `user_data` is given (it completes with `-ECANCELED`;
    /// this with 0, or `-ENOENT`, or `-EALREADY` if it is firing); with
    /// [`update`](Self::update), gives it a new expiry instead.
    ///
    /// Maps to liburing's `io_uring_prep_timeout_remove` /
    /// `io_uring_prep_timeout_update`. `IORING_OP_TIMEOUT_REMOVE`, Linux 5.5 (update
    /// 5.11).
    TimeoutRemove = IORING_OP_TIMEOUT_REMOVE {
        new(user_data: u64);
        /// Timeout flags of the update (`IORING_TIMEOUT_ABS`, clocks).
        opt flags: u32 = 0;
        /// `IORING_TIMEOUT_UPDATE`: the new expiry (must outlive the request).
        opt update?: *const Timespec;
        /// With an update: the target is a linked timeout (`IORING_LINK_TIMEOUT_UPDATE`).
        opt link: bool = false;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.user_data;
            let mut flags = s.flags;
            if let Some(ts) = s.update {
                sqe.off_or_addr2.addr2 = ts as u64;
                // The kernel takes any request without `IORING_TIMEOUT_UPDATE` for a
                // removal, so a linked-timeout update carries both bits (as liburing's
                // `io_uring_prep_timeout_update` does).
                flags |= sys::IORING_TIMEOUT_UPDATE;
                if s.link {
                    flags |= sys::IORING_LINK_TIMEOUT_UPDATE;
                }
            }
            sqe.op_flags.timeout_flags = flags;
        }
    }

    /// accept4(2): completes with the new connection's fd (or 0 / its slot with a
    /// [`file_index`](Self::file_index)); multishot posts one CQE per connection.
    ///
    /// Maps to liburing's `io_uring_prep_accept`, `io_uring_prep_accept_direct`,
    /// `io_uring_prep_multishot_accept[_direct]`. `IORING_OP_ACCEPT`, Linux 5.5
    /// (direct 5.15, multishot 5.19).
    Accept = IORING_OP_ACCEPT {
        new(fd: { impl IntoTarget });
        /// Where to write the peer's address (null: not wanted).
        opt addr: *mut libc::sockaddr = std::ptr::null_mut();
        /// In: room at `addr`; out: the address length.
        opt addrlen: *mut libc::socklen_t = std::ptr::null_mut();
        /// `SOCK_NONBLOCK`, `SOCK_CLOEXEC`.
        opt flags: i32 = 0;
        /// Install the socket in the registered file table (a direct descriptor).
        opt file_index?: DestinationSlot;
        /// `IORING_ACCEPT_MULTISHOT` (with a file index, only `Alloc`).
        opt multishot: bool = false;
        /// `IORING_ACCEPT_DONTWAIT`: `-EAGAIN` instead of waiting for a connection.
        opt dontwait: bool = false;
        /// `IORING_ACCEPT_POLL_FIRST`: wait for a connection before trying.
        opt poll_first: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.addr as u64;
            sqe.off_or_addr2.addr2 = s.addrlen as u64;
            sqe.op_flags.accept_flags = s.flags as u32;
            set_file_index(sqe, s.file_index);
            if s.multishot {
                sqe.ioprio |= sys::IORING_ACCEPT_MULTISHOT;
            }
            if s.dontwait {
                sqe.ioprio |= sys::IORING_ACCEPT_DONTWAIT;
            }
            if s.poll_first {
                sqe.ioprio |= sys::IORING_ACCEPT_POLL_FIRST;
            }
        }
    }

    /// Cancels in-flight requests: by `user_data` (the default), by file
    /// ([`fd`](Self::fd)), by opcode, or any; the first match or [`all`](Self::all).
    /// Completes with 0 (or the count, with `all`), `-ENOENT` if nothing matched,
    /// `-EALREADY` if the match was already running and could not be stopped; the
    /// cancelled request completes with `-ECANCELED` (or `-EINTR` if interrupted).
    ///
    /// Maps to liburing's `io_uring_prep_cancel64` / `io_uring_prep_cancel_fd`.
    /// `IORING_OP_ASYNC_CANCEL`, Linux 5.5 (keys 5.19, opcode 6.6).
    AsyncCancel = IORING_OP_ASYNC_CANCEL {
        new(user_data: u64);
        /// `IORING_ASYNC_CANCEL_FD` (`_FD_FIXED` for a registered index): match the file
        /// (and, if `user_data` is non-zero, also the `user_data`).
        opt fd?: { impl IntoTarget };
        /// `IORING_ASYNC_CANCEL_OP`: match the opcode (and `user_data` if non-zero).
        opt opcode?: u8;
        /// `IORING_ASYNC_CANCEL_ANY`: match every request (implies `all`).
        opt any: bool = false;
        /// `IORING_ASYNC_CANCEL_ALL`: cancel every match; the result is their number (0,
        /// not `-ENOENT`, when nothing matched).
        opt all: bool = false;
        /// Raw `IORING_ASYNC_CANCEL_*` flags OR-ed in.
        opt flags: u32 = 0;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.user_data;
            let mut flags = s.flags;
            if let Some(fd) = s.fd {
                let (fd, fixed) = fd_and_fixed(fd);
                sqe.fd = fd;
                flags |= sys::IORING_ASYNC_CANCEL_FD;
                if fixed {
                    flags |= sys::IORING_ASYNC_CANCEL_FD_FIXED;
                }
            }
            if let Some(op) = s.opcode {
                flags |= sys::IORING_ASYNC_CANCEL_OP;
                sqe.len = op as u32;
            }
            if (s.fd.is_some() || s.opcode.is_some()) && s.user_data != 0 {
                flags |= sys::IORING_ASYNC_CANCEL_USERDATA;
            }
            if s.any {
                flags |= sys::IORING_ASYNC_CANCEL_ANY;
            }
            if s.all {
                flags |= sys::IORING_ASYNC_CANCEL_ALL;
            }
            sqe.op_flags.cancel_flags = flags;
        }
    }

    /// A timeout for the request it follows in a link chain (set `IO_LINK` on that
    /// one): if it fires first, the request is cancelled (`-ECANCELED`) and this
    /// completes with `-ETIME`; if the request completes first, this completes with
    /// `-ECANCELED`.
    ///
    /// Maps to liburing's `io_uring_prep_link_timeout`. `IORING_OP_LINK_TIMEOUT`,
    /// Linux 5.5.
    LinkTimeout = IORING_OP_LINK_TIMEOUT {
        new(timespec: *const Timespec);
        /// `IORING_TIMEOUT_ABS`, clocks, `_ETIME_SUCCESS`.
        opt flags: u32 = 0;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.timespec as u64;
            sqe.len = 1;
            sqe.op_flags.timeout_flags = s.flags;
        }
    }

    /// connect(2) to the address at `addr`.
    ///
    /// Maps to liburing's `io_uring_prep_connect`. `IORING_OP_CONNECT`, Linux 5.5.
    Connect = IORING_OP_CONNECT {
        new(fd: { impl IntoTarget }, addr: *const libc::sockaddr, addrlen: libc::socklen_t);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.addr as u64;
            sqe.off_or_addr2.off = s.addrlen as u64;
        }
    }

    /// fallocate(2): allocates (or with `mode`, punches, zeroes…) `len` bytes at
    /// `offset`.
    ///
    /// Maps to liburing's `io_uring_prep_fallocate`. `IORING_OP_FALLOCATE`, Linux 5.6.
    Fallocate = IORING_OP_FALLOCATE {
        new(fd: { impl IntoTarget }, len: u64);
        /// Start of the range.
        opt offset: u64 = 0;
        /// `FALLOC_FL_*`.
        opt mode: i32 = 0;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.len;
            sqe.off_or_addr2.off = s.offset;
            sqe.len = s.mode as u32;
        }
    }

    /// openat(2) of the NUL-terminated `path`: completes with the fd, or with a
    /// [`file_index`](Self::file_index), installs it in the registered file table
    /// (0, or the allocated slot).
    ///
    /// Maps to liburing's `io_uring_prep_openat` / `io_uring_prep_openat_direct`.
    /// `IORING_OP_OPENAT`, Linux 5.6 (direct 5.15).
    OpenAt = IORING_OP_OPENAT {
        new(dirfd: RawFd, path: *const c_char);
        /// `O_*` flags (a direct descriptor refuses `O_CLOEXEC`).
        opt flags: i32 = 0;
        /// Mode of a created file.
        opt mode: u32 = 0;
        /// Install as a direct descriptor.
        opt file_index?: DestinationSlot;
        build(s, sqe) {
            sqe.fd = s.dirfd;
            sqe.addr_or_splice_off_in.addr = s.path as u64;
            sqe.len = s.mode;
            sqe.op_flags.open_flags = s.flags as u32;
            set_file_index(sqe, s.file_index);
        }
    }

    /// close(2); for a registered index, removes it from the file table (the kernel
    /// refuses `IOSQE_FIXED_FILE` here: the index goes in `file_index`).
    ///
    /// Maps to liburing's `io_uring_prep_close` / `io_uring_prep_close_direct`.
    /// `IORING_OP_CLOSE`, Linux 5.6 (direct 5.15).
    Close = IORING_OP_CLOSE {
        new(fd: { impl IntoTarget });
        build(s, sqe) {
            match s.fd {
                Target::Fd(fd) => sqe.fd = fd,
                Target::Fixed(i) => {
                    sqe.fd = 0;
                    sqe.splice_fd_in_or_file_index.file_index = i + 1;
                }
            }
        }
    }

    /// Updates `len` registered files from `offset` with the fds at `fds` (-1 clears a
    /// slot, `IORING_REGISTER_FILES_SKIP` keeps it); with offset
    /// `IORING_FILE_INDEX_ALLOC`, allocates slots and writes their indexes back into
    /// `fds`. Completes with the number updated.
    ///
    /// Maps to liburing's `io_uring_prep_files_update`. `IORING_OP_FILES_UPDATE`,
    /// Linux 5.6.
    FilesUpdate = IORING_OP_FILES_UPDATE {
        new(fds: *mut RawFd, len: u32);
        /// First slot, or `IORING_FILE_INDEX_ALLOC`.
        opt offset: u32 = 0;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.fds as u64;
            sqe.len = s.len;
            sqe.off_or_addr2.off = s.offset as u64;
        }
    }

    /// statx(2) of `path` relative to `dirfd` (`AT_EMPTY_PATH` with "" for `dirfd`
    /// itself) into `statxbuf`.
    ///
    /// Maps to liburing's `io_uring_prep_statx`. `IORING_OP_STATX`, Linux 5.6.
    Statx = IORING_OP_STATX {
        new(dirfd: RawFd, path: *const c_char, statxbuf: *mut StatxBuf);
        /// `AT_*` flags.
        opt flags: i32 = 0;
        /// `STATX_*` fields wanted.
        opt mask: u32 = 0;
        build(s, sqe) {
            sqe.fd = s.dirfd;
            sqe.addr_or_splice_off_in.addr = s.path as u64;
            sqe.off_or_addr2.addr2 = s.statxbuf as u64;
            sqe.len = s.mask;
            sqe.op_flags.statx_flags = s.flags as u32;
        }
    }

    /// Reads into a buffer, like pread(2) (`offset` -1: the file position); with a
    /// buffer group, into a provided buffer (`buf` null, `len` caps the read) whose id
    /// the CQE carries.
    ///
    /// Maps to liburing's `io_uring_prep_read`. `IORING_OP_READ`, Linux 5.6.
    Read = IORING_OP_READ {
        new(fd: { impl IntoTarget }, buf: *mut u8, len: u32);
        /// File offset; -1 (`u64::MAX`) reads at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of preadv2(2).
        opt rw_flags: i32 = 0;
        /// Read into a buffer of this provided-buffer group (`IOSQE_BUFFER_SELECT`).
        opt buf_group?: u16;
        /// Protection information (`IORING_RW_ATTR_FLAG_PI`).
        opt attr_pi?: *const sys::io_uring_attr_pi;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.buf as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            set_buf_group(sqe, s.buf_group);
            set_attr_pi(sqe, s.attr_pi);
        }
    }

    /// Writes a buffer, like pwrite(2) (`offset` -1: the file position).
    ///
    /// Maps to liburing's `io_uring_prep_write`. `IORING_OP_WRITE`, Linux 5.6.
    Write = IORING_OP_WRITE {
        new(fd: { impl IntoTarget }, buf: *const u8, len: u32);
        /// File offset; -1 (`u64::MAX`) writes at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of pwritev2(2).
        opt rw_flags: i32 = 0;
        /// Protection information (`IORING_RW_ATTR_FLAG_PI`).
        opt attr_pi?: *const sys::io_uring_attr_pi;
        /// Write stream hint (Linux 6.16), 0 for none.
        opt write_stream: u8 = 0;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.buf as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            set_attr_pi(sqe, s.attr_pi);
            set_write_stream(sqe, s.write_stream);
        }
    }

    /// posix_fadvise(2) on `len` bytes at `offset` (0: to the end).
    ///
    /// Maps to liburing's `io_uring_prep_fadvise` / `io_uring_prep_fadvise64`.
    /// `IORING_OP_FADVISE`, Linux 5.6 (64-bit length 6.7).
    Fadvise = IORING_OP_FADVISE {
        new(fd: { impl IntoTarget }, offset: u64, len: u64, advice: i32);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.off_or_addr2.off = s.offset;
            // A length that fits 32 bits goes in `len`, which every kernel reads; a
            // larger one in `addr`, which 6.7+ reads first.
            match u32::try_from(s.len) {
                Ok(len) => sqe.len = len,
                Err(_) => sqe.addr_or_splice_off_in.addr = s.len,
            }
            sqe.op_flags.fadvise_advice = s.advice as u32;
        }
    }

    /// madvise(2) on `len` bytes at `addr`.
    ///
    /// Maps to liburing's `io_uring_prep_madvise` / `io_uring_prep_madvise64`.
    /// `IORING_OP_MADVISE`, Linux 5.6 (64-bit length 6.7).
    Madvise = IORING_OP_MADVISE {
        new(addr: *const u8, len: u64, advice: i32);
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.addr as u64;
            match u32::try_from(s.len) {
                Ok(len) => sqe.len = len,
                Err(_) => sqe.off_or_addr2.off = s.len,
            }
            sqe.op_flags.fadvise_advice = s.advice as u32;
        }
    }

    /// send(2) or, with a destination, sendto(2). With a buffer group the data comes
    /// from provided buffers; as a bundle, from as many as are queued.
    ///
    /// Maps to liburing's `io_uring_prep_send`, `io_uring_prep_sendto`,
    /// `io_uring_prep_send_bundle`. `IORING_OP_SEND`, Linux 5.6 (sendto 6.10, bundles
    /// 6.10, vectorized 6.17).
    Send = IORING_OP_SEND {
        new(fd: { impl IntoTarget }, buf: *const u8, len: u32);
        /// `MSG_*` flags (`MSG_NOSIGNAL` is always added by the kernel).
        opt flags: i32 = 0;
        /// Destination address (sendto(2)); null: the connected peer.
        opt dest_addr: *const libc::sockaddr = std::ptr::null();
        /// Length of the destination address.
        opt dest_addr_len: libc::socklen_t = 0;
        /// Send from a buffer of this provided-buffer group (`IOSQE_BUFFER_SELECT`).
        opt buf_group?: u16;
        /// `IORING_RECVSEND_BUNDLE`: send as many provided buffers as are queued.
        opt bundle: bool = false;
        /// `IORING_RECVSEND_POLL_FIRST`: wait for room before trying.
        opt poll_first: bool = false;
        /// `IORING_SEND_VECTORIZED`: `buf` is an iovec array of `len` entries.
        opt vectorized: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.buf as u64;
            sqe.len = s.len;
            sqe.op_flags.msg_flags = s.flags as u32;
            set_dest_addr(sqe, s.dest_addr, s.dest_addr_len);
            set_buf_group(sqe, s.buf_group);
            if s.bundle {
                sqe.ioprio |= sys::IORING_RECVSEND_BUNDLE;
            }
            if s.poll_first {
                sqe.ioprio |= sys::IORING_RECVSEND_POLL_FIRST;
            }
            if s.vectorized {
                sqe.ioprio |= sys::IORING_SEND_VECTORIZED;
            }
        }
    }

    /// recv(2). With a buffer group, into a provided buffer (`buf` null, `len` 0 or a
    /// cap); multishot posts a CQE per receive while armed (`IORING_CQE_F_MORE`); a
    /// bundle fills several buffers per CQE.
    ///
    /// Maps to liburing's `io_uring_prep_recv` / `io_uring_prep_recv_multishot`.
    /// `IORING_OP_RECV`, Linux 5.6 (multishot 6.0, bundles 6.10).
    Recv = IORING_OP_RECV {
        new(fd: { impl IntoTarget }, buf: *mut u8, len: u32);
        /// `MSG_*` flags (not `MSG_WAITALL` with multishot).
        opt flags: i32 = 0;
        /// Receive into a buffer of this provided-buffer group (`IOSQE_BUFFER_SELECT`).
        opt buf_group?: u16;
        /// `IORING_RECV_MULTISHOT` (needs a buffer group).
        opt multishot: bool = false;
        /// `IORING_RECVSEND_BUNDLE`: fill as many provided buffers as the data needs.
        opt bundle: bool = false;
        /// `IORING_RECVSEND_POLL_FIRST`: wait for data before trying.
        opt poll_first: bool = false;
        /// With multishot: end the request (no more `F_MORE`) once this many bytes in
        /// total have been received (Linux 6.17; 0: no limit). Not a cap on each
        /// receive: the last one may fill its whole buffer and go past it.
        opt mshot_total_len: u32 = 0;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.buf as u64;
            sqe.len = s.len;
            sqe.op_flags.msg_flags = s.flags as u32;
            set_buf_group(sqe, s.buf_group);
            if s.multishot {
                sqe.ioprio |= sys::IORING_RECV_MULTISHOT;
            }
            if s.bundle {
                sqe.ioprio |= sys::IORING_RECVSEND_BUNDLE;
            }
            if s.poll_first {
                sqe.ioprio |= sys::IORING_RECVSEND_POLL_FIRST;
            }
            if s.mshot_total_len != 0 {
                sqe.splice_fd_in_or_file_index.optlen = s.mshot_total_len;
            }
        }
    }

    /// openat2(2) of `path` with the [`OpenHow`] at `how`; direct like
    /// [`OpenAt`].
    ///
    /// Maps to liburing's `io_uring_prep_openat2` / `io_uring_prep_openat2_direct`.
    /// `IORING_OP_OPENAT2`, Linux 5.6.
    OpenAt2 = IORING_OP_OPENAT2 {
        new(dirfd: RawFd, path: *const c_char, how: *const OpenHow);
        /// Install as a direct descriptor.
        opt file_index?: DestinationSlot;
        build(s, sqe) {
            sqe.fd = s.dirfd;
            sqe.addr_or_splice_off_in.addr = s.path as u64;
            sqe.len = size_of::<OpenHow>() as u32;
            sqe.off_or_addr2.addr2 = s.how as u64;
            set_file_index(sqe, s.file_index);
        }
    }

    /// epoll_ctl(2): `op` (`EPOLL_CTL_ADD`, …) of `fd` with `event` on the epoll
    /// instance `epfd`.
    ///
    /// Maps to liburing's `io_uring_prep_epoll_ctl`. `IORING_OP_EPOLL_CTL`, Linux 5.6.
    EpollCtl = IORING_OP_EPOLL_CTL {
        new(epfd: { impl IntoTarget }, fd: RawFd, op: i32, event: *const EpollEvent);
        build(s, sqe) {
            s.epfd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.event as u64;
            sqe.len = s.op as u32;
            sqe.off_or_addr2.off = s.fd as u32 as u64;
        }
    }

    /// splice(2) of `len` bytes from `fd_in` (at `off_in`, -1 for none or a pipe) to
    /// `fd_out` (at `off_out`); one side must be a pipe.
    ///
    /// Maps to liburing's `io_uring_prep_splice`. `IORING_OP_SPLICE`, Linux 5.7.
    Splice = IORING_OP_SPLICE {
        new(fd_in: { impl IntoTarget }, off_in: i64, fd_out: { impl IntoTarget }, off_out: i64, len: u32);
        /// `SPLICE_F_*` (`SPLICE_F_FD_IN_FIXED` is set for a registered `fd_in`).
        opt flags: u32 = 0;
        build(s, sqe) {
            s.fd_out.apply(sqe);
            sqe.off_or_addr2.off = s.off_out as u64;
            sqe.addr_or_splice_off_in.splice_off_in = s.off_in as u64;
            sqe.len = s.len;
            let (fd_in, fixed) = fd_and_fixed(s.fd_in);
            sqe.splice_fd_in_or_file_index.splice_fd_in = fd_in;
            sqe.op_flags.splice_flags =
                s.flags | if fixed { sys::SPLICE_F_FD_IN_FIXED } else { 0 };
        }
    }

    /// Gives the kernel `nbufs` buffers of `len` bytes each, contiguous from `addr`,
    /// as group `bgid` with ids from `bid` (the legacy provided buffers; see
    /// `buf_ring` for the ring-mapped kind).
    ///
    /// Maps to liburing's `io_uring_prep_provide_buffers`.
    /// `IORING_OP_PROVIDE_BUFFERS`, Linux 5.7.
    ProvideBuffers = IORING_OP_PROVIDE_BUFFERS {
        new(addr: *mut u8, len: i32, nbufs: u16, bgid: u16, bid: u16);
        build(s, sqe) {
            sqe.fd = s.nbufs as i32;
            sqe.addr_or_splice_off_in.addr = s.addr as u64;
            sqe.len = s.len as u32;
            sqe.off_or_addr2.off = s.bid as u64;
            sqe.buf.buf_group = s.bgid;
        }
    }

    /// Takes back up to `nbufs` buffers of group `bgid`; completes with how many.
    ///
    /// Maps to liburing's `io_uring_prep_remove_buffers`.
    /// `IORING_OP_REMOVE_BUFFERS`, Linux 5.7.
    RemoveBuffers = IORING_OP_REMOVE_BUFFERS {
        new(nbufs: u16, bgid: u16);
        build(s, sqe) {
            sqe.fd = s.nbufs as i32;
            sqe.buf.buf_group = s.bgid;
        }
    }

    /// tee(2): duplicates `len` bytes from pipe `fd_in` into pipe `fd_out` without
    /// consuming them.
    ///
    /// Maps to liburing's `io_uring_prep_tee`. `IORING_OP_TEE`, Linux 5.8.
    Tee = IORING_OP_TEE {
        new(fd_in: { impl IntoTarget }, fd_out: { impl IntoTarget }, len: u32);
        /// `SPLICE_F_*` (`SPLICE_F_FD_IN_FIXED` is set for a registered `fd_in`).
        opt flags: u32 = 0;
        build(s, sqe) {
            s.fd_out.apply(sqe);
            sqe.len = s.len;
            let (fd_in, fixed) = fd_and_fixed(s.fd_in);
            sqe.splice_fd_in_or_file_index.splice_fd_in = fd_in;
            sqe.op_flags.splice_flags =
                s.flags | if fixed { sys::SPLICE_F_FD_IN_FIXED } else { 0 };
        }
    }

    /// shutdown(2) of a socket; `how` is `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    ///
    /// Maps to liburing's `io_uring_prep_shutdown`. `IORING_OP_SHUTDOWN`, Linux 5.11.
    Shutdown = IORING_OP_SHUTDOWN {
        new(fd: { impl IntoTarget }, how: i32);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.len = s.how as u32;
        }
    }

    /// renameat2(2) of `oldpath` (relative to `olddirfd`) to `newpath` (to
    /// `newdirfd`).
    ///
    /// Maps to liburing's `io_uring_prep_renameat`. `IORING_OP_RENAMEAT`, Linux 5.11.
    RenameAt = IORING_OP_RENAMEAT {
        new(olddirfd: RawFd, oldpath: *const c_char, newdirfd: RawFd, newpath: *const c_char);
        /// `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `RENAME_WHITEOUT`.
        opt flags: u32 = 0;
        build(s, sqe) {
            sqe.fd = s.olddirfd;
            sqe.addr_or_splice_off_in.addr = s.oldpath as u64;
            sqe.len = s.newdirfd as u32;
            sqe.off_or_addr2.addr2 = s.newpath as u64;
            sqe.op_flags.rename_flags = s.flags;
        }
    }

    /// unlinkat(2) of `path` relative to `dirfd` (`AT_REMOVEDIR` for a directory).
    ///
    /// Maps to liburing's `io_uring_prep_unlinkat`. `IORING_OP_UNLINKAT`, Linux 5.11.
    UnlinkAt = IORING_OP_UNLINKAT {
        new(dirfd: RawFd, path: *const c_char);
        /// `AT_REMOVEDIR`.
        opt flags: i32 = 0;
        build(s, sqe) {
            sqe.fd = s.dirfd;
            sqe.addr_or_splice_off_in.addr = s.path as u64;
            sqe.op_flags.unlink_flags = s.flags as u32;
        }
    }

    /// mkdirat(2) of `path` relative to `dirfd`.
    ///
    /// Maps to liburing's `io_uring_prep_mkdirat`. `IORING_OP_MKDIRAT`, Linux 5.15.
    MkDirAt = IORING_OP_MKDIRAT {
        new(dirfd: RawFd, path: *const c_char);
        /// Mode of the directory (before the umask).
        opt mode: u32 = 0o777;
        build(s, sqe) {
            sqe.fd = s.dirfd;
            sqe.addr_or_splice_off_in.addr = s.path as u64;
            sqe.len = s.mode;
        }
    }

    /// symlinkat(2): creates `linkpath` (relative to `newdirfd`) pointing to `target`.
    ///
    /// Maps to liburing's `io_uring_prep_symlinkat`. `IORING_OP_SYMLINKAT`, Linux 5.15.
    SymlinkAt = IORING_OP_SYMLINKAT {
        new(target: *const c_char, newdirfd: RawFd, linkpath: *const c_char);
        build(s, sqe) {
            sqe.fd = s.newdirfd;
            sqe.addr_or_splice_off_in.addr = s.target as u64;
            sqe.off_or_addr2.addr2 = s.linkpath as u64;
        }
    }

    /// linkat(2): a hard link `newpath` (relative to `newdirfd`) to `oldpath` (to
    /// `olddirfd`).
    ///
    /// Maps to liburing's `io_uring_prep_linkat`. `IORING_OP_LINKAT`, Linux 5.15.
    LinkAt = IORING_OP_LINKAT {
        new(olddirfd: RawFd, oldpath: *const c_char, newdirfd: RawFd, newpath: *const c_char);
        /// `AT_SYMLINK_FOLLOW`, `AT_EMPTY_PATH`.
        opt flags: i32 = 0;
        build(s, sqe) {
            sqe.fd = s.olddirfd;
            sqe.addr_or_splice_off_in.addr = s.oldpath as u64;
            sqe.len = s.newdirfd as u32;
            sqe.off_or_addr2.addr2 = s.newpath as u64;
            sqe.op_flags.hardlink_flags = s.flags as u32;
        }
    }

    /// Sends a message to another ring, `ring_fd`: a CQE with chosen `res` and
    /// `user_data` ([`MsgRingCmd::Data`]), or one of our registered files for its file
    /// table ([`MsgRingCmd::SendFd`]). Completes here with 0 (or the slot allocated).
    ///
    /// Maps to liburing's `io_uring_prep_msg_ring`, `io_uring_prep_msg_ring_cqe_flags`,
    /// `io_uring_prep_msg_ring_fd[_alloc]`. `IORING_OP_MSG_RING`, Linux 5.18 (send-fd
    /// 6.0).
    MsgRing = IORING_OP_MSG_RING {
        new(ring_fd: { impl IntoTarget }, cmd: MsgRingCmd);
        /// `IORING_MSG_RING_CQE_SKIP`: post no CQE on the target (send-fd only).
        opt cqe_skip: bool = false;
        /// `IORING_MSG_RING_FLAGS_PASS`: the target CQE's `flags` (data only).
        opt cqe_flags?: u32;
        build(s, sqe) {
            s.ring_fd.apply(sqe);
            let mut flags = 0;
            match s.cmd {
                MsgRingCmd::Data { res, user_data } => {
                    sqe.addr_or_splice_off_in.addr = sys::IORING_MSG_DATA as u64;
                    sqe.len = res as u32;
                    sqe.off_or_addr2.off = user_data;
                }
                MsgRingCmd::SendFd { src, dest, user_data } => {
                    sqe.addr_or_splice_off_in.addr = sys::IORING_MSG_SEND_FD as u64;
                    sqe.off_or_addr2.off = user_data;
                    set_addr3(sqe, src as u64);
                    sqe.splice_fd_in_or_file_index.file_index = dest.kernel_index_arg();
                }
            }
            if s.cqe_skip {
                flags |= sys::IORING_MSG_RING_CQE_SKIP;
            }
            if let Some(cqe_flags) = s.cqe_flags {
                flags |= sys::IORING_MSG_RING_FLAGS_PASS;
                sqe.splice_fd_in_or_file_index.file_index = cqe_flags;
            }
            sqe.op_flags.msg_ring_flags = flags;
        }
    }

    /// fsetxattr(2): sets extended attribute `name` of a file to `len` bytes at `value`.
    ///
    /// Maps to liburing's `io_uring_prep_fsetxattr`. `IORING_OP_FSETXATTR`, Linux 5.19.
    FSetXattr = IORING_OP_FSETXATTR {
        new(fd: { impl IntoTarget }, name: *const c_char, value: *const u8, len: u32);
        /// `XATTR_CREATE`, `XATTR_REPLACE`.
        opt flags: i32 = 0;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.name as u64;
            sqe.off_or_addr2.addr2 = s.value as u64;
            sqe.len = s.len;
            sqe.op_flags.xattr_flags = s.flags as u32;
        }
    }

    /// setxattr(2) on `path`.
    ///
    /// Maps to liburing's `io_uring_prep_setxattr`. `IORING_OP_SETXATTR`, Linux 5.19.
    SetXattr = IORING_OP_SETXATTR {
        new(path: *const c_char, name: *const c_char, value: *const u8, len: u32);
        /// `XATTR_CREATE`, `XATTR_REPLACE`.
        opt flags: i32 = 0;
        build(s, sqe) {
            sqe.addr_or_splice_off_in.addr = s.name as u64;
            sqe.off_or_addr2.addr2 = s.value as u64;
            set_addr3(sqe, s.path as u64);
            sqe.len = s.len;
            sqe.op_flags.xattr_flags = s.flags as u32;
        }
    }

    /// fgetxattr(2): reads extended attribute `name` into `len` bytes at `value`;
    /// completes with its size.
    ///
    /// Maps to liburing's `io_uring_prep_fgetxattr`. `IORING_OP_FGETXATTR`, Linux 5.19.
    FGetXattr = IORING_OP_FGETXATTR {
        new(fd: { impl IntoTarget }, name: *const c_char, value: *mut u8, len: u32);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.name as u64;
            sqe.off_or_addr2.addr2 = s.value as u64;
            sqe.len = s.len;
        }
    }

    /// getxattr(2) on `path`.
    ///
    /// Maps to liburing's `io_uring_prep_getxattr`. `IORING_OP_GETXATTR`, Linux 5.19.
    GetXattr = IORING_OP_GETXATTR {
        new(path: *const c_char, name: *const c_char, value: *mut u8, len: u32);
        build(s, sqe) {
            sqe.addr_or_splice_off_in.addr = s.name as u64;
            sqe.off_or_addr2.addr2 = s.value as u64;
            set_addr3(sqe, s.path as u64);
            sqe.len = s.len;
        }
    }

    /// socket(2); `socket_type` may carry `SOCK_NONBLOCK` / `SOCK_CLOEXEC`. Completes
    /// with the fd, or installs it as a direct descriptor.
    ///
    /// Maps to liburing's `io_uring_prep_socket`, `io_uring_prep_socket_direct[_alloc]`.
    /// `IORING_OP_SOCKET`, Linux 5.19.
    Socket = IORING_OP_SOCKET {
        new(domain: i32, socket_type: i32, protocol: i32);
        /// Install as a direct descriptor (`SOCK_CLOEXEC` is refused then).
        opt file_index?: DestinationSlot;
        build(s, sqe) {
            sqe.fd = s.domain;
            sqe.off_or_addr2.off = s.socket_type as u32 as u64;
            sqe.len = s.protocol as u32;
            set_file_index(sqe, s.file_index);
        }
    }

    /// A command for the file's driver (`->uring_cmd`), like ioctl(2): NVMe passthrough,
    /// ublk, or on sockets `SOCKET_URING_OP_*` (see [`UringCmd::getsockopt`] and
    /// friends). The 16 command bytes of a 64-byte SQE are [`cmd`](Self::cmd); an
    /// `SQE128` ring carries 64 more through
    /// [`push128`](crate::SubmissionQueue::push128).
    ///
    /// Maps to liburing's `io_uring_prep_uring_cmd` / `io_uring_prep_cmd_sock`.
    /// `IORING_OP_URING_CMD`, Linux 5.19 (sockets 6.7, multishot 6.18).
    UringCmd = IORING_OP_URING_CMD {
        new(fd: { impl IntoTarget }, cmd_op: u32);
        /// The command bytes of a 64-byte SQE (`addr3` and its padding).
        opt cmd: [u8; 16] = [0; 16];
        /// The `addr` word (a buffer, or a socket option's level and name).
        opt addr: u64 = 0;
        /// The `len` word.
        opt len: u32 = 0;
        /// The `optlen` / `file_index` word.
        opt optlen: u32 = 0;
        /// `IORING_URING_CMD_FIXED`: the command uses registered buffer `buf_index`.
        opt buf_index?: u16;
        /// `IORING_URING_CMD_MULTISHOT` with buffers from this provided-buffer group.
        opt buf_group?: u16;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.off_or_addr2.cmd_op = sys::cmd_op_struct { cmd_op: s.cmd_op, __pad1: 0 };
            sqe.addr_or_splice_off_in.addr = s.addr;
            sqe.len = s.len;
            sqe.splice_fd_in_or_file_index.optlen = s.optlen;
            let (lo, hi) = s.cmd.split_at(8);
            sqe.addr3_or_cmd.addr3 = sys::addr3_struct {
                addr3: u64::from_ne_bytes(lo.try_into().expect("8 bytes")),
                __pad2: [u64::from_ne_bytes(hi.try_into().expect("8 bytes"))],
            };
            let mut flags = 0;
            if let Some(i) = s.buf_index {
                flags |= sys::IORING_URING_CMD_FIXED;
                sqe.buf.buf_index = i;
            }
            if s.buf_group.is_some() {
                flags |= sys::IORING_URING_CMD_MULTISHOT;
                set_buf_group(sqe, s.buf_group);
            }
            sqe.op_flags.uring_cmd_flags = flags;
        }
    }

    /// send(2) with zero copy: the pages of `buf` go to the NIC. Two CQEs: the result
    /// (with `IORING_CQE_F_MORE`), then a notification (`IORING_CQE_F_NOTIF`, same
    /// `user_data`) once the buffer may be reused. `IOSQE_CQE_SKIP_SUCCESS` is refused.
    ///
    /// Maps to liburing's `io_uring_prep_send_zc` / `io_uring_prep_send_zc_fixed`.
    /// `IORING_OP_SEND_ZC`, Linux 6.0.
    SendZc = IORING_OP_SEND_ZC {
        new(fd: { impl IntoTarget }, buf: *const u8, len: u32);
        /// `MSG_*` flags.
        opt flags: i32 = 0;
        /// Destination address (sendto(2)); null: the connected peer.
        opt dest_addr: *const libc::sockaddr = std::ptr::null();
        /// Length of the destination address.
        opt dest_addr_len: libc::socklen_t = 0;
        /// `IORING_RECVSEND_FIXED_BUF`: `buf` lies in registered buffer `buf_index`.
        opt buf_index?: u16;
        /// `IORING_SEND_ZC_REPORT_USAGE`: the notification's `res` says whether the
        /// data was copied after all (`IORING_NOTIF_USAGE_ZC_COPIED`).
        opt report_usage: bool = false;
        /// `IORING_RECVSEND_POLL_FIRST`: wait for room before trying.
        opt poll_first: bool = false;
        /// `IORING_SEND_VECTORIZED`: `buf` is an iovec array of `len` entries.
        opt vectorized: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.buf as u64;
            sqe.len = s.len;
            sqe.op_flags.msg_flags = s.flags as u32;
            set_dest_addr(sqe, s.dest_addr, s.dest_addr_len);
            if let Some(i) = s.buf_index {
                sqe.ioprio |= sys::IORING_RECVSEND_FIXED_BUF;
                sqe.buf.buf_index = i;
            }
            if s.report_usage {
                sqe.ioprio |= sys::IORING_SEND_ZC_REPORT_USAGE;
            }
            if s.poll_first {
                sqe.ioprio |= sys::IORING_RECVSEND_POLL_FIRST;
            }
            if s.vectorized {
                sqe.ioprio |= sys::IORING_SEND_VECTORIZED;
            }
        }
    }

    /// sendmsg(2) with zero copy; CQEs as [`SendZc`].
    ///
    /// Maps to liburing's `io_uring_prep_sendmsg_zc`. `IORING_OP_SENDMSG_ZC`,
    /// Linux 6.1.
    SendMsgZc = IORING_OP_SENDMSG_ZC {
        new(fd: { impl IntoTarget }, msg: *const MsgHdr);
        /// `MSG_*` flags.
        opt flags: i32 = 0;
        /// `IORING_RECVSEND_FIXED_BUF`: the iovecs lie in registered buffer
        /// `buf_index` (Linux 6.15).
        opt buf_index?: u16;
        /// `IORING_SEND_ZC_REPORT_USAGE`.
        opt report_usage: bool = false;
        /// `IORING_RECVSEND_POLL_FIRST`: wait for room before trying.
        opt poll_first: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.msg as u64;
            sqe.len = 1;
            sqe.op_flags.msg_flags = s.flags as u32;
            if let Some(i) = s.buf_index {
                sqe.ioprio |= sys::IORING_RECVSEND_FIXED_BUF;
                sqe.buf.buf_index = i;
            }
            if s.report_usage {
                sqe.ioprio |= sys::IORING_SEND_ZC_REPORT_USAGE;
            }
            if s.poll_first {
                sqe.ioprio |= sys::IORING_RECVSEND_POLL_FIRST;
            }
        }
    }

    /// Multishot read of a pollable file (pipe, socket, eventfd…) into provided buffers
    /// of group `buf_group`: a CQE per read, with the buffer id and `F_MORE` while
    /// armed.
    ///
    /// Maps to liburing's `io_uring_prep_read_multishot`. `IORING_OP_READ_MULTISHOT`,
    /// Linux 6.7.
    ReadMulti = IORING_OP_READ_MULTISHOT {
        new(fd: { impl IntoTarget }, buf_group: u16);
        /// Bytes per read; 0: the buffer's size.
        opt len: u32 = 0;
        /// File offset (-1: the file position).
        opt offset: u64 = 0;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.len = s.len;
            sqe.off_or_addr2.off = s.offset;
            set_buf_group(sqe, Some(s.buf_group));
        }
    }

    /// waitid(2): waits for a child state change (`WEXITED`, …) of `id` in `idtype`
    /// (`P_PID`, `P_ALL`, …), filling `infop`. Completes with 0.
    ///
    /// Maps to liburing's `io_uring_prep_waitid`. `IORING_OP_WAITID`, Linux 6.7.
    WaitId = IORING_OP_WAITID {
        new(idtype: libc::idtype_t, id: libc::id_t, options: i32);
        /// Where to write the child's `siginfo_t` (null: not wanted).
        opt infop: *mut SigInfo = std::ptr::null_mut();
        build(s, sqe) {
            sqe.fd = s.id as i32;
            sqe.len = s.idtype;
            sqe.splice_fd_in_or_file_index.file_index = s.options as u32;
            sqe.off_or_addr2.addr2 = s.infop as u64;
        }
    }

    /// Waits on the futex word at `futex` while it holds `val`, for a wake matching
    /// `mask`; `futex_flags` are futex2's ([`futex2`](crate::types::futex2)). Completes
    /// with 0 when woken, `-EAGAIN` if the value differed.
    ///
    /// Maps to liburing's `io_uring_prep_futex_wait`. `IORING_OP_FUTEX_WAIT`, Linux 6.7.
    FutexWait = IORING_OP_FUTEX_WAIT {
        new(futex: *const u32, val: u64, mask: u64, futex_flags: u32);
        build(s, sqe) {
            sqe.fd = s.futex_flags as i32;
            sqe.addr_or_splice_off_in.addr = s.futex as u64;
            sqe.off_or_addr2.addr2 = s.val;
            set_addr3(sqe, s.mask);
        }
    }

    /// Wakes up to `val` waiters of the futex word at `futex` whose mask matches;
    /// completes with how many were woken.
    ///
    /// Maps to liburing's `io_uring_prep_futex_wake`. `IORING_OP_FUTEX_WAKE`, Linux 6.7.
    FutexWake = IORING_OP_FUTEX_WAKE {
        new(futex: *const u32, val: u64, mask: u64, futex_flags: u32);
        build(s, sqe) {
            sqe.fd = s.futex_flags as i32;
            sqe.addr_or_splice_off_in.addr = s.futex as u64;
            sqe.off_or_addr2.addr2 = s.val;
            set_addr3(sqe, s.mask);
        }
    }

    /// Waits on `nr` futexes at once ([`FutexWaitV`](crate::types::FutexWaitV)
    /// entries); completes with the index of the one woken.
    ///
    /// Maps to liburing's `io_uring_prep_futex_waitv`. `IORING_OP_FUTEX_WAITV`,
    /// Linux 6.7.
    FutexWaitV = IORING_OP_FUTEX_WAITV {
        new(futexv: *const FutexWaitVEntry, nr: u32);
        build(s, sqe) {
            sqe.addr_or_splice_off_in.addr = s.futexv as u64;
            sqe.len = s.nr;
        }
    }

    /// Installs registered file `fd` as a regular fd of the process; completes with it.
    ///
    /// Maps to liburing's `io_uring_prep_fixed_fd_install`.
    /// `IORING_OP_FIXED_FD_INSTALL`, Linux 6.8.
    FixedFdInstall = IORING_OP_FIXED_FD_INSTALL {
        new(fd: u32);
        /// `IORING_FIXED_FD_NO_CLOEXEC`: without `O_CLOEXEC`.
        opt flags: u32 = 0;
        build(s, sqe) {
            Target::Fixed(s.fd).apply(sqe);
            sqe.op_flags.install_fd_flags = s.flags;
        }
    }

    /// ftruncate(2) to `len` bytes.
    ///
    /// Maps to liburing's `io_uring_prep_ftruncate`. `IORING_OP_FTRUNCATE`, Linux 6.9.
    Ftruncate = IORING_OP_FTRUNCATE {
        new(fd: { impl IntoTarget }, len: u64);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.off_or_addr2.off = s.len;
        }
    }

    /// bind(2) to the address at `addr`.
    ///
    /// Maps to liburing's `io_uring_prep_bind`. `IORING_OP_BIND`, Linux 6.11.
    Bind = IORING_OP_BIND {
        new(fd: { impl IntoTarget }, addr: *const libc::sockaddr, addrlen: libc::socklen_t);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.addr as u64;
            sqe.off_or_addr2.addr2 = s.addrlen as u64;
        }
    }

    /// listen(2) with `backlog`.
    ///
    /// Maps to liburing's `io_uring_prep_listen`. `IORING_OP_LISTEN`, Linux 6.11.
    Listen = IORING_OP_LISTEN {
        new(fd: { impl IntoTarget }, backlog: i32);
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.len = s.backlog as u32;
        }
    }

    /// Zero-copy receive into the memory area of zcrx interface queue `ifq` (registered
    /// with `IORING_REGISTER_ZCRX_IFQ`, which needs a NIC with header split and flow
    /// steering). Always multishot; each CQE is 32 bytes, its second half an
    /// `io_uring_zcrx_cqe` locating the data.
    ///
    /// Maps to liburing's `io_uring_prep_recv_zc`. `IORING_OP_RECV_ZC`, Linux 6.15.
    RecvZc = IORING_OP_RECV_ZC {
        new(fd: { impl IntoTarget }, len: u32);
        /// The zcrx instance (`zcrx_id` of its registration).
        opt ifq: u32 = 0;
        /// `IORING_RECVSEND_POLL_FIRST`.
        opt poll_first: bool = false;
        build(s, sqe) {
            s.fd.apply(sqe);
            sqe.len = s.len;
            sqe.ioprio = sys::IORING_RECV_MULTISHOT
                | if s.poll_first { sys::IORING_RECVSEND_POLL_FIRST } else { 0 };
            sqe.splice_fd_in_or_file_index.zcrx_ifq_idx = s.ifq;
        }
    }

    /// epoll_wait(2) on `epfd` for up to `max_events` into `events`; completes with the
    /// number of events (waiting for one if none is ready).
    ///
    /// Maps to liburing's `io_uring_prep_epoll_wait`. `IORING_OP_EPOLL_WAIT`, Linux 6.15.
    EpollWait = IORING_OP_EPOLL_WAIT {
        new(epfd: { impl IntoTarget }, events: *mut EpollEvent, max_events: u32);
        build(s, sqe) {
            s.epfd.apply(sqe);
            sqe.addr_or_splice_off_in.addr = s.events as u64;
            sqe.len = s.max_events;
        }
    }

    /// Vectored read into registered buffer `buf_index`: each of the `len` iovecs at
    /// `iovecs` must lie inside it.
    ///
    /// Maps to liburing's `io_uring_prep_readv_fixed`. `IORING_OP_READV_FIXED`,
    /// Linux 6.15.
    ReadvFixed = IORING_OP_READV_FIXED {
        new(fd: { impl IntoTarget }, iovecs: *const libc::iovec, len: u32, buf_index: u16);
        /// File offset; -1 (`u64::MAX`) reads at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of preadv2(2).
        opt rw_flags: i32 = 0;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.iovecs as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            sqe.buf.buf_index = s.buf_index;
        }
    }

    /// Vectored write from registered buffer `buf_index`: each of the `len` iovecs at
    /// `iovecs` must lie inside it.
    ///
    /// Maps to liburing's `io_uring_prep_writev_fixed`. `IORING_OP_WRITEV_FIXED`,
    /// Linux 6.15.
    WritevFixed = IORING_OP_WRITEV_FIXED {
        new(fd: { impl IntoTarget }, iovecs: *const libc::iovec, len: u32, buf_index: u16);
        /// File offset; -1 (`u64::MAX`) writes at the file position.
        opt offset: u64 = 0;
        /// I/O priority, as ioprio_set(2).
        opt ioprio: u16 = 0;
        /// `RWF_*` flags of pwritev2(2).
        opt rw_flags: i32 = 0;
        /// Write stream hint (Linux 6.16), 0 for none.
        opt write_stream: u8 = 0;
        build(s, sqe) {
            prep_rw(sqe, s.fd, s.iovecs as u64, s.len, s.offset, s.ioprio, s.rw_flags);
            sqe.buf.buf_index = s.buf_index;
            set_write_stream(sqe, s.write_stream);
        }
    }

    /// pipe2(2): writes the read and write ends into `fds[0]` and `fds[1]`; as direct
    /// descriptors, they take slots `n` and `n + 1` (or two allocated ones, written to
    /// `fds`).
    ///
    /// Maps to liburing's `io_uring_prep_pipe` / `io_uring_prep_pipe_direct`.
    /// `IORING_OP_PIPE`, Linux 6.16.
    Pipe = IORING_OP_PIPE {
        new(fds: *mut RawFd);
        /// `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT`.
        opt flags: u32 = 0;
        /// Install both ends as direct descriptors.
        opt file_index?: DestinationSlot;
        build(s, sqe) {
            sqe.addr_or_splice_off_in.addr = s.fds as u64;
            sqe.op_flags.pipe_flags = s.flags;
            set_file_index(sqe, s.file_index);
        }
    }
}

impl AsyncCancel {
    /// Cancels requests on file `fd` (the first, or all with [`all`](Self::all)).
    ///
    /// Maps to liburing's `io_uring_prep_cancel_fd`.
    pub fn by_fd(fd: impl IntoTarget) -> Self {
        AsyncCancel::new(0).fd(fd)
    }
}

impl MsgRing {
    /// Posts a CQE with `res` and `user_data` on the ring `ring_fd`.
    ///
    /// Maps to liburing's `io_uring_prep_msg_ring`.
    pub fn data(ring_fd: impl IntoTarget, res: i32, user_data: u64) -> Self {
        MsgRing::new(ring_fd, MsgRingCmd::Data { res, user_data })
    }

    /// Installs our registered file `src` in the file table of ring `ring_fd` at
    /// `dest`, and posts a CQE with `user_data` there.
    ///
    /// Maps to liburing's `io_uring_prep_msg_ring_fd`.
    pub fn send_fd(
        ring_fd: impl IntoTarget,
        src: u32,
        dest: DestinationSlot,
        user_data: u64,
    ) -> Self {
        MsgRing::new(
            ring_fd,
            MsgRingCmd::SendFd {
                src,
                dest,
                user_data,
            },
        )
    }
}

impl UringCmd {
    /// The `addr` of a socket-option command: `level` and `optname` side by side, as
    /// `struct { __u32 level; __u32 optname; }` in the SQE.
    fn sockopt_addr(level: i32, optname: i32) -> u64 {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(level as u32).to_ne_bytes());
        b[4..].copy_from_slice(&(optname as u32).to_ne_bytes());
        u64::from_ne_bytes(b)
    }

    fn with_optval(self, optval: u64) -> Self {
        let mut cmd = [0u8; 16];
        cmd[..8].copy_from_slice(&optval.to_ne_bytes());
        self.cmd(cmd)
    }

    /// getsockopt(2) through `SOCKET_URING_OP_GETSOCKOPT`: writes up to `optlen` bytes
    /// of option `optname` at `level` (only `SOL_SOCKET` in 6.18) to `optval`;
    /// completes with the option's length.
    ///
    /// Maps to liburing's `io_uring_prep_cmd_sock(SOCKET_URING_OP_GETSOCKOPT, …)`.
    pub fn getsockopt(
        fd: impl IntoTarget,
        level: i32,
        optname: i32,
        optval: *mut u8,
        optlen: u32,
    ) -> Self {
        UringCmd::new(fd, sys::SOCKET_URING_OP_GETSOCKOPT)
            .addr(Self::sockopt_addr(level, optname))
            .optlen(optlen)
            .with_optval(optval as u64)
    }

    /// setsockopt(2) through `SOCKET_URING_OP_SETSOCKOPT`; completes with 0.
    ///
    /// Maps to liburing's `io_uring_prep_cmd_sock(SOCKET_URING_OP_SETSOCKOPT, …)`.
    pub fn setsockopt(
        fd: impl IntoTarget,
        level: i32,
        optname: i32,
        optval: *const u8,
        optlen: u32,
    ) -> Self {
        UringCmd::new(fd, sys::SOCKET_URING_OP_SETSOCKOPT)
            .addr(Self::sockopt_addr(level, optname))
            .optlen(optlen)
            .with_optval(optval as u64)
    }

    /// `SOCKET_URING_OP_SIOCINQ`: completes with the bytes waiting to be read.
    pub fn siocinq(fd: impl IntoTarget) -> Self {
        UringCmd::new(fd, sys::SOCKET_URING_OP_SIOCINQ)
    }

    /// `SOCKET_URING_OP_SIOCOUTQ`: completes with the bytes not yet sent.
    pub fn siocoutq(fd: impl IntoTarget) -> Self {
        UringCmd::new(fd, sys::SOCKET_URING_OP_SIOCOUTQ)
    }
}
