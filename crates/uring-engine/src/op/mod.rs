//! The op table: for each opcode the engine honours, how to prepare its SQE (validate
//! it as the kernel does, with the same `-EINVAL`) and how to issue it. Mirrors the
//! kernel's `io_issue_defs[]` in `io_uring/opdef.c`.
//!
//! An opcode without an entry is refused with `-EINVAL` at submission, exactly as the
//! kernel refuses an opcode it does not know, and is absent from the engine's probe.
use std::sync::Arc;

use uring_sys as sys;

use crate::engine::Engine;
use crate::req::Req;

pub(crate) mod advise;
pub(crate) mod cancel;
pub(crate) mod epoll;
pub(crate) mod fs;
pub(crate) mod futex;
pub(crate) mod kbuf;
pub(crate) mod msg_ring;
pub(crate) mod net;
pub(crate) mod nop;
pub(crate) mod openclose;
pub(crate) mod poll;
pub(crate) mod rsrc;
pub(crate) mod rw;
pub(crate) mod splice;
pub(crate) mod statx;
pub(crate) mod sync;
pub(crate) mod timeout;
pub(crate) mod truncate;
pub(crate) mod waitid;
pub(crate) mod xattr;

/// How an issue attempt may behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Inline, in the submitting thread: must not block (`RWF_NOWAIT`,
    /// `MSG_DONTWAIT`); may answer [`Step::Block`] or [`Step::Wait`].
    Inline,
    /// In a worker of the pool: may block.
    Worker,
}

/// What became of an issue attempt.
pub(crate) enum Step {
    /// Finished with this result (`-errno` on failure).
    Done(Box<Req>, i32),
    /// Would block: hand to the worker pool.
    Block(Box<Req>),
    /// Not ready: issue again when the request's fd is ready for `events`
    /// (`POLLIN`/`POLLOUT`).
    Wait(Box<Req>, i16),
    /// The op keeps the request (a timer, a poll, a multishot) and completes it later.
    Parked,
}

/// One opcode's entry.
pub(crate) struct OpDef {
    /// Validates the SQE and stores what issue needs in the request.
    pub(crate) prep: fn(&mut Req, &Engine) -> Result<(), i32>,
    /// Does the work, or says why it cannot yet.
    pub(crate) issue: fn(Box<Req>, &Arc<Engine>, Mode) -> Step,
    /// Works on `sqe.fd` (a registered file with `IOSQE_FIXED_FILE`).
    pub(crate) needs_file: bool,
    /// Accepts `IOSQE_BUFFER_SELECT`.
    pub(crate) buffer_select: bool,
}

impl OpDef {
    const fn new(
        prep: fn(&mut Req, &Engine) -> Result<(), i32>,
        issue: fn(Box<Req>, &Arc<Engine>, Mode) -> Step,
    ) -> OpDef {
        OpDef {
            prep,
            issue,
            needs_file: false,
            buffer_select: false,
        }
    }

    const fn file(mut self) -> OpDef {
        self.needs_file = true;
        self
    }

    const fn select(mut self) -> OpDef {
        self.buffer_select = true;
        self
    }
}

/// Number of opcodes of the 6.18 uapi.
pub(crate) const OP_COUNT: usize = sys::IORING_OP_LAST as usize;

/// The table, indexed by opcode.
pub(crate) static OPS: [Option<OpDef>; OP_COUNT] = table();

const fn table() -> [Option<OpDef>; OP_COUNT] {
    let mut t = [const { None }; OP_COUNT];
    t[sys::IORING_OP_NOP as usize] = Some(OpDef::new(nop::nop_prep, nop::nop_issue));
    t[sys::IORING_OP_READV as usize] = Some(OpDef::new(rw::prep_readv, rw::issue).file().select());
    t[sys::IORING_OP_WRITEV as usize] = Some(OpDef::new(rw::prep_writev, rw::issue).file());
    t[sys::IORING_OP_READ_FIXED as usize] = Some(OpDef::new(rw::prep_read_fixed, rw::issue).file());
    t[sys::IORING_OP_WRITE_FIXED as usize] =
        Some(OpDef::new(rw::prep_write_fixed, rw::issue).file());
    t[sys::IORING_OP_READ as usize] = Some(OpDef::new(rw::prep_read, rw::issue).file().select());
    t[sys::IORING_OP_WRITE as usize] = Some(OpDef::new(rw::prep_write, rw::issue).file());
    t[sys::IORING_OP_FSYNC as usize] = Some(OpDef::new(sync::prep_fsync, sync::issue_fsync).file());
    t[sys::IORING_OP_SYNC_FILE_RANGE as usize] =
        Some(OpDef::new(sync::prep_sync_file_range, sync::issue_sync_file_range).file());
    t[sys::IORING_OP_READV_FIXED as usize] =
        Some(OpDef::new(rw::prep_readv_fixed, rw::issue).file());
    t[sys::IORING_OP_WRITEV_FIXED as usize] =
        Some(OpDef::new(rw::prep_writev_fixed, rw::issue).file());
    t[sys::IORING_OP_OPENAT as usize] =
        Some(OpDef::new(openclose::prep_openat, openclose::issue_openat));
    t[sys::IORING_OP_OPENAT2 as usize] =
        Some(OpDef::new(openclose::prep_openat2, openclose::issue_openat));
    t[sys::IORING_OP_CLOSE as usize] =
        Some(OpDef::new(openclose::prep_close, openclose::issue_close));
    t[sys::IORING_OP_STATX as usize] = Some(OpDef::new(statx::prep_statx, statx::issue_statx));
    t[sys::IORING_OP_FALLOCATE as usize] =
        Some(OpDef::new(sync::prep_fallocate, sync::issue_fallocate).file());
    t[sys::IORING_OP_FADVISE as usize] =
        Some(OpDef::new(advise::prep_fadvise, advise::issue_fadvise).file());
    t[sys::IORING_OP_MADVISE as usize] =
        Some(OpDef::new(advise::prep_madvise, advise::issue_madvise));
    t[sys::IORING_OP_RENAMEAT as usize] = Some(OpDef::new(fs::prep_renameat, fs::issue_path));
    t[sys::IORING_OP_UNLINKAT as usize] = Some(OpDef::new(fs::prep_unlinkat, fs::issue_path));
    t[sys::IORING_OP_MKDIRAT as usize] = Some(OpDef::new(fs::prep_mkdirat, fs::issue_path));
    t[sys::IORING_OP_SYMLINKAT as usize] = Some(OpDef::new(fs::prep_symlinkat, fs::issue_path));
    t[sys::IORING_OP_LINKAT as usize] = Some(OpDef::new(fs::prep_linkat, fs::issue_path));
    t[sys::IORING_OP_FSETXATTR as usize] =
        Some(OpDef::new(xattr::prep_fsetxattr, xattr::issue_xattr).file());
    t[sys::IORING_OP_SETXATTR as usize] =
        Some(OpDef::new(xattr::prep_setxattr, xattr::issue_xattr));
    t[sys::IORING_OP_FGETXATTR as usize] =
        Some(OpDef::new(xattr::prep_fgetxattr, xattr::issue_xattr).file());
    t[sys::IORING_OP_GETXATTR as usize] =
        Some(OpDef::new(xattr::prep_getxattr, xattr::issue_xattr));
    t[sys::IORING_OP_FTRUNCATE as usize] =
        Some(OpDef::new(truncate::prep_ftruncate, truncate::issue_ftruncate).file());
    t[sys::IORING_OP_PROVIDE_BUFFERS as usize] =
        Some(OpDef::new(kbuf::prep_provide, kbuf::issue_provide));
    t[sys::IORING_OP_REMOVE_BUFFERS as usize] =
        Some(OpDef::new(kbuf::prep_remove, kbuf::issue_remove));
    t[sys::IORING_OP_SOCKET as usize] = Some(OpDef::new(net::prep_socket, net::issue_socket));
    t[sys::IORING_OP_BIND as usize] = Some(OpDef::new(net::prep_bind, net::issue_bind).file());
    t[sys::IORING_OP_LISTEN as usize] =
        Some(OpDef::new(net::prep_listen, net::issue_listen).file());
    t[sys::IORING_OP_CONNECT as usize] =
        Some(OpDef::new(net::prep_connect, net::issue_connect).file());
    t[sys::IORING_OP_ACCEPT as usize] =
        Some(OpDef::new(net::prep_accept, net::issue_accept).file());
    t[sys::IORING_OP_SEND as usize] =
        Some(OpDef::new(net::prep_send, net::issue_send).file().select());
    t[sys::IORING_OP_SENDMSG as usize] = Some(OpDef::new(net::prep_send, net::issue_send).file());
    t[sys::IORING_OP_SEND_ZC as usize] = Some(OpDef::new(net::prep_send, net::issue_send).file());
    t[sys::IORING_OP_SENDMSG_ZC as usize] =
        Some(OpDef::new(net::prep_send, net::issue_send).file());
    t[sys::IORING_OP_RECV as usize] =
        Some(OpDef::new(net::prep_recv, net::issue_recv).file().select());
    t[sys::IORING_OP_RECVMSG as usize] =
        Some(OpDef::new(net::prep_recv, net::issue_recv).file().select());
    t[sys::IORING_OP_SHUTDOWN as usize] =
        Some(OpDef::new(net::prep_shutdown, net::issue_shutdown).file());
    t[sys::IORING_OP_POLL_ADD as usize] =
        Some(OpDef::new(poll::prep_poll_add, poll::issue_poll_add).file());
    t[sys::IORING_OP_POLL_REMOVE as usize] =
        Some(OpDef::new(poll::prep_poll_remove, poll::issue_poll_remove));
    t[sys::IORING_OP_EPOLL_CTL as usize] =
        Some(OpDef::new(epoll::prep_epoll_ctl, epoll::issue_epoll_ctl));
    t[sys::IORING_OP_EPOLL_WAIT as usize] =
        Some(OpDef::new(epoll::prep_epoll_wait, epoll::issue_epoll_wait).file());
    t[sys::IORING_OP_READ_MULTISHOT as usize] = Some(
        OpDef::new(rw::prep_read_multishot, rw::issue_read_multishot)
            .file()
            .select(),
    );
    t[sys::IORING_OP_SPLICE as usize] = Some(OpDef::new(splice::prep_splice, splice::issue).file());
    t[sys::IORING_OP_TEE as usize] = Some(OpDef::new(splice::prep_tee, splice::issue).file());
    t[sys::IORING_OP_TIMEOUT as usize] =
        Some(OpDef::new(timeout::prep_timeout, timeout::issue_timeout));
    t[sys::IORING_OP_TIMEOUT_REMOVE as usize] =
        Some(OpDef::new(timeout::prep_remove, timeout::issue_remove));
    t[sys::IORING_OP_LINK_TIMEOUT as usize] = Some(OpDef::new(
        timeout::prep_link_timeout,
        timeout::issue_link_timeout,
    ));
    t[sys::IORING_OP_ASYNC_CANCEL as usize] = Some(OpDef::new(cancel::prep, cancel::issue));
    t[sys::IORING_OP_MSG_RING as usize] = Some(OpDef::new(msg_ring::prep, msg_ring::issue).file());
    t[sys::IORING_OP_FUTEX_WAIT as usize] = Some(OpDef::new(futex::prep, futex::issue_wait));
    t[sys::IORING_OP_FUTEX_WAKE as usize] = Some(OpDef::new(futex::prep, futex::issue_wake));
    t[sys::IORING_OP_FUTEX_WAITV as usize] =
        Some(OpDef::new(futex::prep_waitv, futex::issue_waitv));
    t[sys::IORING_OP_WAITID as usize] = Some(OpDef::new(waitid::prep, waitid::issue));
    t[sys::IORING_OP_FIXED_FD_INSTALL as usize] =
        Some(OpDef::new(openclose::prep_install, openclose::issue_install).file());
    t[sys::IORING_OP_FILES_UPDATE as usize] = Some(OpDef::new(
        rsrc::prep_files_update,
        rsrc::issue_files_update,
    ));
    t[sys::IORING_OP_PIPE as usize] = Some(OpDef::new(openclose::prep_pipe, openclose::issue_pipe));
    t
}

/// The entry of `opcode`, if the engine honours it.
#[inline]
pub(crate) fn def(opcode: u8) -> Option<&'static OpDef> {
    OPS.get(opcode as usize).and_then(Option::as_ref)
}

/// Whether the engine honours `opcode` (what its probe reports).
pub fn supported(opcode: u8) -> bool {
    def(opcode).is_some()
}

/// `ioprio` must be zero for ops that take no priority (`-EINVAL`).
#[inline]
pub(crate) fn no_ioprio(req: &Req) -> Result<(), i32> {
    if req.sqe.ioprio != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

/// Fails unless every field in `fields` is zero (the kernel's checks of reserved
/// fields: `-EINVAL`).
#[inline]
pub(crate) fn reserved(fields: &[u64]) -> Result<(), i32> {
    if fields.iter().any(|&f| f != 0) {
        Err(-libc::EINVAL)
    } else {
        Ok(())
    }
}

/// The last OS error as `-errno`.
#[inline]
pub(crate) fn neg_errno() -> i32 {
    -std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A system call's return as a CQE result: the value, or `-errno`.
#[inline]
pub(crate) fn sys_res(ret: isize) -> i32 {
    if ret < 0 { neg_errno() } else { ret as i32 }
}
