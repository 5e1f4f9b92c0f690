//! The op table: for each opcode the engine honours, how to prepare its SQE (validate
//! it as the kernel does, with the same `-EINVAL`) and how to issue it. Mirrors the
//! kernel's `io_issue_defs[]` in `io_uring/opdef.c`.
//!
//! Every opcode of the uapi has an entry, with its name; one the engine cannot do in
//! user space says why ([`support`]), is refused with `-EINVAL` at submission, exactly
//! as the kernel refuses an opcode it does not know, and is absent from the engine's
//! probe.
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

/// Declares [`Cmd`], with one variant per op struct, and the [`OpCmd`] conversions.
macro_rules! cmds {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// What an op's prep keeps for its issue: the op's own struct, with named
        /// fields, inline in the request (the kernel's `io_kiocb_to_cmd(req, struct
        /// io_sync)`). Read through [`Req::cmd`], written by [`Req::set_cmd`].
        #[derive(Default)]
        pub(crate) enum Cmd {
            /// Nothing prepared (the op reads only its SQE).
            #[default]
            None,
            $($(#[$doc])* $variant($ty),)*
        }

        $(
            impl OpCmd for $ty {
                #[inline]
                fn of(cmd: &Cmd) -> Option<&Self> {
                    match cmd {
                        Cmd::$variant(c) => Some(c),
                        _ => None,
                    }
                }

                #[inline]
                fn of_mut(cmd: &mut Cmd) -> Option<&mut Self> {
                    match cmd {
                        Cmd::$variant(c) => Some(c),
                        _ => None,
                    }
                }

                #[inline]
                fn into_cmd(self) -> Cmd {
                    Cmd::$variant(self)
                }
            }
        )*
    };
}

// Every request carries a `Cmd`: an op whose state would make it bigger than six
// words boxes the large part (`Net::msg`, `Xattr::ctx`, `Open::how`).
const _: () = assert!(size_of::<Cmd>() <= 48);

/// An op's struct, one variant of [`Cmd`].
pub(crate) trait OpCmd: Sized {
    fn of(cmd: &Cmd) -> Option<&Self>;
    fn of_mut(cmd: &mut Cmd) -> Option<&mut Self>;
    fn into_cmd(self) -> Cmd;
}

cmds! {
    /// `NOP` (`nop.rs`).
    Nop(nop::Nop),
    /// Reads and writes (`rw.rs`).
    Rw(rw::Rw),
    /// Networking (`net.rs`).
    Net(net::Net),
    /// `FADVISE`, `MADVISE` (`advise.rs`).
    Advise(advise::Advise),
    /// `EPOLL_CTL` (`epoll.rs`).
    EpollCtl(epoll::EpollCtl),
    /// `PROVIDE_BUFFERS`, `REMOVE_BUFFERS` (`kbuf.rs`).
    Kbuf(kbuf::Kbuf),
    /// `FILES_UPDATE` (`rsrc.rs`).
    FilesUpdate(rsrc::FilesUpdate),
    /// `WAITID` (`waitid.rs`).
    Waitid(waitid::Waitid),
    /// `PIPE` (`openclose.rs`).
    Pipe(openclose::Pipe),
    /// `OPENAT`, `OPENAT2` (`openclose.rs`).
    Open(openclose::Open),
    /// `STATX` (`statx.rs`).
    Statx(statx::Statx),
    /// `RENAMEAT`, `UNLINKAT`, `MKDIRAT`, `SYMLINKAT`, `LINKAT` (`fs.rs`).
    PathOp(fs::PathOp),
    /// The four xattr ops (`xattr.rs`).
    Xattr(xattr::Xattr),
    /// `POLL_ADD` (`poll.rs`).
    Poll(poll::Poll),
    /// `POLL_REMOVE` (`poll.rs`).
    PollUpdate(poll::PollUpdate),
    /// `ASYNC_CANCEL` (`cancel.rs`).
    Cancel(cancel::Key),
    /// `TIMEOUT`, `LINK_TIMEOUT` (`timeout.rs`, armed by `timer.rs`).
    Timeout(timeout::Timeout),
    /// `TIMEOUT_REMOVE` (`timeout.rs`).
    TimeoutRemove(timeout::TimeoutRemove),
    /// `MSG_RING` (`msg_ring.rs`).
    MsgRing(msg_ring::Msg),
    /// `FUTEX_WAIT`, `FUTEX_WAKE` (`futex.rs`).
    Futex(futex::Futex),
    /// `FUTEX_WAITV` (`futex.rs`).
    Futexv(futex::Futexv),
}

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

/// Prepares a request: validates its SQE as the kernel does and stores what issue needs.
pub(crate) type PrepFn = fn(&mut Req, &Engine) -> Result<(), i32>;
/// Issues a request: does the work, or says why it cannot yet.
pub(crate) type IssueFn = fn(Box<Req>, &Arc<Engine>, Mode) -> Step;

/// One opcode's entry (the kernel's `struct io_issue_def` with its `io_cold_def`'s
/// name).
pub(crate) struct OpDef {
    /// The opcode's name without `IORING_OP_` (`"READV"`), from uring-sys.
    pub(crate) name: &'static str,
    /// Validates the SQE and stores what issue needs in the request.
    pub(crate) prep: PrepFn,
    /// Does the work, or says why it cannot yet.
    pub(crate) issue: IssueFn,
    /// Works on `sqe.fd` (a registered file with `IOSQE_FIXED_FILE`).
    pub(crate) needs_file: bool,
    /// Accepts `IOSQE_BUFFER_SELECT`.
    pub(crate) buffer_select: bool,
    /// Reads `sqe.ioprio` (a priority, or the op's own flags); any other op fails
    /// with `-EINVAL` if it is not zero (`io_init_req`).
    pub(crate) ioprio: bool,
    /// Allowed on an `IORING_SETUP_IOPOLL` ring; any other op fails there with
    /// `-EINVAL` (`io_init_req`).
    pub(crate) iopoll: bool,
    /// Waits for its file to be readable or writable (the kernel's `pollin` or
    /// `pollout`): sent to a worker with `IOSQE_ASYNC`, it is tried without blocking
    /// and then waits for readiness rather than blocking the worker
    /// (`io_wq_submit_work`), so it stays cancellable as a poll.
    pub(crate) pollable: bool,
    /// Why the engine refuses the opcode, for one user space cannot do: it is then
    /// absent from the probe and refused with `-EINVAL` at submission, as the kernel
    /// refuses an opcode it does not know.
    pub(crate) unsupported: Option<&'static str>,
    /// Whether the kernel's prep sets `REQ_F_FORCE_ASYNC` (the request goes to io-wq
    /// without an inline attempt): what decides whether a `LINK_TIMEOUT` behind it
    /// starts (`timer.rs`).
    pub(crate) force_async: ForceAsync,
    /// Its inline attempt moves data (a read, a write, a send, a receive): a batch of
    /// such requests is worth issuing on two threads (`assist.rs`).
    pub(crate) copies: bool,
    /// The kernel parks it outside io-wq (on a futex or child wait queue) where the
    /// engine runs it in a blocked worker: cancelling it counts as found, not running
    /// (`cancel.rs`, `timer.rs`).
    pub(crate) waits_in_worker: bool,
}

/// Whether an op's prep forces it to io-wq (`REQ_F_FORCE_ASYNC`).
#[derive(Clone, Copy)]
pub(crate) enum ForceAsync {
    Never,
    Always,
    /// Depending on the SQE (an `OPENAT` that creates or truncates, a `FADVISE` whose
    /// advice does I/O).
    If(fn(&Req) -> bool),
}

impl ForceAsync {
    /// Whether `req` goes to io-wq from the start.
    pub(crate) fn applies(self, req: &Req) -> bool {
        match self {
            ForceAsync::Never => false,
            ForceAsync::Always => true,
            ForceAsync::If(f) => f(req),
        }
    }
}

impl OpDef {
    const fn new(prep: PrepFn, issue: IssueFn) -> OpDef {
        OpDef {
            name: "",
            prep,
            issue,
            needs_file: false,
            buffer_select: false,
            ioprio: false,
            iopoll: false,
            pollable: false,
            unsupported: None,
            force_async: ForceAsync::Never,
            copies: false,
            waits_in_worker: false,
        }
    }

    /// An opcode the engine refuses, and why (the kernel's `io_eopnotsupp_prep`).
    const fn unsupported(why: &'static str) -> OpDef {
        OpDef {
            unsupported: Some(why),
            ..OpDef::new(refused_prep, refused_issue)
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

    const fn force_async(mut self) -> OpDef {
        self.force_async = ForceAsync::Always;
        self
    }

    const fn force_async_if(mut self, when: fn(&Req) -> bool) -> OpDef {
        self.force_async = ForceAsync::If(when);
        self
    }

    const fn copies(mut self) -> OpDef {
        self.copies = true;
        self
    }

    const fn waits_in_worker(mut self) -> OpDef {
        self.waits_in_worker = true;
        self
    }
}

fn refused_prep(_req: &mut Req, _e: &Engine) -> Result<(), i32> {
    Err(-libc::EINVAL)
}

fn refused_issue(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    Step::Done(req, -libc::EINVAL)
}

/// Number of opcodes of the 6.18 uapi.
pub(crate) const OP_COUNT: usize = sys::IORING_OP_LAST as usize;

const _: () = assert!(sys::IORING_OP_NAMES.len() == OP_COUNT);

/// The table, indexed by opcode: one entry for every opcode of the uapi, checked
/// when the crate is built (the kernel's `BUILD_BUG_ON(ARRAY_SIZE(io_issue_defs) !=
/// IORING_OP_LAST)` and its check that every entry has a prep).
pub(crate) static OPS: [OpDef; OP_COUNT] = table();

/// Puts `def` in slot `op`, named after the opcode.
const fn set(t: &mut [OpDef; OP_COUNT], op: u8, def: OpDef) {
    let op = op as usize;
    assert!(t[op].name.is_empty(), "two entries for one opcode");
    t[op] = OpDef {
        name: sys::IORING_OP_NAMES[op],
        ..def
    };
}

const fn table() -> [OpDef; OP_COUNT] {
    let mut t = [const { OpDef::new(refused_prep, refused_issue) }; OP_COUNT];
    set(
        &mut t,
        sys::IORING_OP_NOP,
        OpDef::new(nop::nop_prep, nop::nop_issue),
    );
    set(
        &mut t,
        sys::IORING_OP_READV,
        OpDef::new(rw::prep_readv, rw::issue)
            .copies()
            .file()
            .select(),
    );
    set(
        &mut t,
        sys::IORING_OP_WRITEV,
        OpDef::new(rw::prep_writev, rw::issue).copies().file(),
    );
    set(
        &mut t,
        sys::IORING_OP_READ_FIXED,
        OpDef::new(rw::prep_read_fixed, rw::issue).copies().file(),
    );
    set(
        &mut t,
        sys::IORING_OP_WRITE_FIXED,
        OpDef::new(rw::prep_write_fixed, rw::issue).copies().file(),
    );
    set(
        &mut t,
        sys::IORING_OP_READ,
        OpDef::new(rw::prep_read, rw::issue)
            .copies()
            .file()
            .select(),
    );
    set(
        &mut t,
        sys::IORING_OP_WRITE,
        OpDef::new(rw::prep_write, rw::issue).copies().file(),
    );
    set(
        &mut t,
        sys::IORING_OP_FSYNC,
        OpDef::new(sync::prep_fsync, sync::issue_fsync)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_SYNC_FILE_RANGE,
        OpDef::new(sync::prep_sync_file_range, sync::issue_sync_file_range)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_READV_FIXED,
        OpDef::new(rw::prep_readv_fixed, rw::issue).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_WRITEV_FIXED,
        OpDef::new(rw::prep_writev_fixed, rw::issue).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_OPENAT,
        OpDef::new(openclose::prep_openat, openclose::issue_openat)
            .force_async_if(openclose::creates),
    );
    set(
        &mut t,
        sys::IORING_OP_OPENAT2,
        OpDef::new(openclose::prep_openat2, openclose::issue_openat),
    );
    set(
        &mut t,
        sys::IORING_OP_CLOSE,
        OpDef::new(openclose::prep_close, openclose::issue_close),
    );
    set(
        &mut t,
        sys::IORING_OP_STATX,
        OpDef::new(statx::prep_statx, statx::issue_statx).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_FALLOCATE,
        OpDef::new(sync::prep_fallocate, sync::issue_fallocate)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_FADVISE,
        OpDef::new(advise::prep_fadvise, advise::issue_fadvise)
            .force_async_if(advise::does_io)
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_MADVISE,
        OpDef::new(advise::prep_madvise, advise::issue_madvise).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_RENAMEAT,
        OpDef::new(fs::prep_renameat, fs::issue_path).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_UNLINKAT,
        OpDef::new(fs::prep_unlinkat, fs::issue_path).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_MKDIRAT,
        OpDef::new(fs::prep_mkdirat, fs::issue_path).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_SYMLINKAT,
        OpDef::new(fs::prep_symlinkat, fs::issue_path).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_LINKAT,
        OpDef::new(fs::prep_linkat, fs::issue_path).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_FSETXATTR,
        OpDef::new(xattr::prep_fsetxattr, xattr::issue_xattr)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_SETXATTR,
        OpDef::new(xattr::prep_setxattr, xattr::issue_xattr).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_FGETXATTR,
        OpDef::new(xattr::prep_fgetxattr, xattr::issue_xattr)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_GETXATTR,
        OpDef::new(xattr::prep_getxattr, xattr::issue_xattr).force_async(),
    );
    set(
        &mut t,
        sys::IORING_OP_FTRUNCATE,
        OpDef::new(truncate::prep_ftruncate, truncate::issue_ftruncate)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_PROVIDE_BUFFERS,
        OpDef::new(kbuf::prep_provide, kbuf::issue_provide),
    );
    set(
        &mut t,
        sys::IORING_OP_REMOVE_BUFFERS,
        OpDef::new(kbuf::prep_remove, kbuf::issue_remove),
    );
    set(
        &mut t,
        sys::IORING_OP_SOCKET,
        OpDef::new(net::prep_socket, net::issue_socket),
    );
    set(
        &mut t,
        sys::IORING_OP_BIND,
        OpDef::new(net::prep_bind, net::issue_bind).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_LISTEN,
        OpDef::new(net::prep_listen, net::issue_listen).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_CONNECT,
        OpDef::new(net::prep_connect, net::issue_connect).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_ACCEPT,
        OpDef::new(net::prep_accept, net::issue_accept).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_SEND,
        OpDef::new(net::prep_send, net::issue_send)
            .copies()
            .file()
            .select(),
    );
    set(
        &mut t,
        sys::IORING_OP_SENDMSG,
        OpDef::new(net::prep_send, net::issue_send).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_SEND_ZC,
        OpDef::new(net::prep_send, net::issue_send).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_SENDMSG_ZC,
        OpDef::new(net::prep_send, net::issue_send).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_RECV,
        OpDef::new(net::prep_recv, net::issue_recv)
            .copies()
            .file()
            .select(),
    );
    set(
        &mut t,
        sys::IORING_OP_RECVMSG,
        OpDef::new(net::prep_recv, net::issue_recv).file().select(),
    );
    set(
        &mut t,
        sys::IORING_OP_SHUTDOWN,
        OpDef::new(net::prep_shutdown, net::issue_shutdown).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_POLL_ADD,
        OpDef::new(poll::prep_poll_add, poll::issue_poll_add).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_POLL_REMOVE,
        OpDef::new(poll::prep_poll_remove, poll::issue_poll_remove),
    );
    set(
        &mut t,
        sys::IORING_OP_EPOLL_CTL,
        OpDef::new(epoll::prep_epoll_ctl, epoll::issue_epoll_ctl),
    );
    set(
        &mut t,
        sys::IORING_OP_EPOLL_WAIT,
        OpDef::new(epoll::prep_epoll_wait, epoll::issue_epoll_wait).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_READ_MULTISHOT,
        OpDef::new(rw::prep_read_multishot, rw::issue_read_multishot)
            .file()
            .select(),
    );
    set(
        &mut t,
        sys::IORING_OP_SPLICE,
        OpDef::new(splice::prep_splice, splice::issue)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_TEE,
        OpDef::new(splice::prep_tee, splice::issue)
            .force_async()
            .file(),
    );
    set(
        &mut t,
        sys::IORING_OP_TIMEOUT,
        OpDef::new(timeout::prep_timeout, timeout::issue_timeout),
    );
    set(
        &mut t,
        sys::IORING_OP_TIMEOUT_REMOVE,
        OpDef::new(timeout::prep_remove, timeout::issue_remove),
    );
    set(
        &mut t,
        sys::IORING_OP_LINK_TIMEOUT,
        OpDef::new(timeout::prep_link_timeout, timeout::issue_link_timeout),
    );
    set(
        &mut t,
        sys::IORING_OP_ASYNC_CANCEL,
        OpDef::new(cancel::prep, cancel::issue),
    );
    set(
        &mut t,
        sys::IORING_OP_MSG_RING,
        OpDef::new(msg_ring::prep, msg_ring::issue).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_FUTEX_WAIT,
        OpDef::new(futex::prep, futex::issue_wait).waits_in_worker(),
    );
    set(
        &mut t,
        sys::IORING_OP_FUTEX_WAKE,
        OpDef::new(futex::prep, futex::issue_wake),
    );
    set(
        &mut t,
        sys::IORING_OP_FUTEX_WAITV,
        OpDef::new(futex::prep_waitv, futex::issue_waitv).waits_in_worker(),
    );
    set(
        &mut t,
        sys::IORING_OP_WAITID,
        OpDef::new(waitid::prep, waitid::issue).waits_in_worker(),
    );
    set(
        &mut t,
        sys::IORING_OP_FIXED_FD_INSTALL,
        OpDef::new(openclose::prep_install, openclose::issue_install).file(),
    );
    set(
        &mut t,
        sys::IORING_OP_FILES_UPDATE,
        OpDef::new(rsrc::prep_files_update, rsrc::issue_files_update),
    );
    set(
        &mut t,
        sys::IORING_OP_PIPE,
        OpDef::new(openclose::prep_pipe, openclose::issue_pipe),
    );
    set(
        &mut t,
        sys::IORING_OP_URING_CMD,
        OpDef::unsupported(
            "driver passthrough (NVMe, ublk, socket commands) reaches a driver's \
             ->uring_cmd, which no system call exposes",
        ),
    );
    set(
        &mut t,
        sys::IORING_OP_RECV_ZC,
        OpDef::unsupported("zero-copy receive needs a NIC queue bound to the ring (zcrx)"),
    );
    // The opcodes whose kernel entry says `.ioprio = 1` and `.iopoll = 1`.
    const IOPRIO: [u8; 16] = [
        sys::IORING_OP_READV,
        sys::IORING_OP_WRITEV,
        sys::IORING_OP_READ_FIXED,
        sys::IORING_OP_WRITE_FIXED,
        sys::IORING_OP_SENDMSG,
        sys::IORING_OP_RECVMSG,
        sys::IORING_OP_ACCEPT,
        sys::IORING_OP_READ,
        sys::IORING_OP_WRITE,
        sys::IORING_OP_SEND,
        sys::IORING_OP_RECV,
        sys::IORING_OP_SEND_ZC,
        sys::IORING_OP_SENDMSG_ZC,
        sys::IORING_OP_RECV_ZC,
        sys::IORING_OP_READV_FIXED,
        sys::IORING_OP_WRITEV_FIXED,
    ];
    const IOPOLL: [u8; 14] = [
        sys::IORING_OP_NOP,
        sys::IORING_OP_READV,
        sys::IORING_OP_WRITEV,
        sys::IORING_OP_READ_FIXED,
        sys::IORING_OP_WRITE_FIXED,
        sys::IORING_OP_FILES_UPDATE,
        sys::IORING_OP_READ,
        sys::IORING_OP_WRITE,
        sys::IORING_OP_PROVIDE_BUFFERS,
        sys::IORING_OP_REMOVE_BUFFERS,
        sys::IORING_OP_MSG_RING,
        sys::IORING_OP_URING_CMD,
        sys::IORING_OP_READV_FIXED,
        sys::IORING_OP_WRITEV_FIXED,
    ];
    // `.pollin = 1` or `.pollout = 1`.
    const POLLABLE: [u8; 19] = [
        sys::IORING_OP_READV,
        sys::IORING_OP_WRITEV,
        sys::IORING_OP_READ_FIXED,
        sys::IORING_OP_WRITE_FIXED,
        sys::IORING_OP_SENDMSG,
        sys::IORING_OP_RECVMSG,
        sys::IORING_OP_ACCEPT,
        sys::IORING_OP_CONNECT,
        sys::IORING_OP_READ,
        sys::IORING_OP_WRITE,
        sys::IORING_OP_SEND,
        sys::IORING_OP_RECV,
        sys::IORING_OP_SEND_ZC,
        sys::IORING_OP_SENDMSG_ZC,
        sys::IORING_OP_READ_MULTISHOT,
        sys::IORING_OP_RECV_ZC,
        sys::IORING_OP_EPOLL_WAIT,
        sys::IORING_OP_READV_FIXED,
        sys::IORING_OP_WRITEV_FIXED,
    ];
    let mut i = 0;
    while i < POLLABLE.len() {
        t[POLLABLE[i] as usize].pollable = true;
        i += 1;
    }
    i = 0;
    while i < IOPRIO.len() {
        t[IOPRIO[i] as usize].ioprio = true;
        i += 1;
    }
    i = 0;
    while i < IOPOLL.len() {
        t[IOPOLL[i] as usize].iopoll = true;
        i += 1;
    }
    i = 0;
    while i < OP_COUNT {
        assert!(
            !t[i].name.is_empty(),
            "an opcode has no entry in the op table"
        );
        i += 1;
    }
    t
}

/// The entry of `opcode`, if the engine honours it.
#[inline]
pub(crate) fn def(opcode: u8) -> Option<&'static OpDef> {
    OPS.get(opcode as usize).filter(|d| d.unsupported.is_none())
}

/// Whether the engine honours `opcode` (what its probe reports); if not, why.
pub fn support(opcode: u8) -> Result<(), &'static str> {
    match OPS.get(opcode as usize) {
        None => Err("not an opcode of the 6.18 uapi"),
        Some(d) => d.unsupported.map_or(Ok(()), Err),
    }
}

/// Whether the engine honours `opcode` (what its probe reports).
pub fn supported(opcode: u8) -> bool {
    support(opcode).is_ok()
}

/// Drops the first `n` bytes from `iov` (the kernel's `iov_iter_advance`).
pub(crate) fn advance(iov: &mut Vec<libc::iovec>, mut n: usize) {
    let mut skip = 0;
    for v in iov.iter_mut() {
        if n == 0 {
            break;
        }
        if n >= v.iov_len {
            n -= v.iov_len;
            skip += 1;
        } else {
            v.iov_base = (v.iov_base as usize + n) as *mut libc::c_void;
            v.iov_len -= n;
            n = 0;
        }
    }
    iov.drain(..skip);
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
