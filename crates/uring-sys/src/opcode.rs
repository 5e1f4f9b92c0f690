//! `enum io_uring_op`: the opcodes of the 6.18 kernel, in the kernel's order.

/// `IORING_OP_NOP`.
pub const IORING_OP_NOP: u8 = 0;
/// `IORING_OP_READV`.
pub const IORING_OP_READV: u8 = 1;
/// `IORING_OP_WRITEV`.
pub const IORING_OP_WRITEV: u8 = 2;
/// `IORING_OP_FSYNC`.
pub const IORING_OP_FSYNC: u8 = 3;
/// `IORING_OP_READ_FIXED`.
pub const IORING_OP_READ_FIXED: u8 = 4;
/// `IORING_OP_WRITE_FIXED`.
pub const IORING_OP_WRITE_FIXED: u8 = 5;
/// `IORING_OP_POLL_ADD`.
pub const IORING_OP_POLL_ADD: u8 = 6;
/// `IORING_OP_POLL_REMOVE`.
pub const IORING_OP_POLL_REMOVE: u8 = 7;
/// `IORING_OP_SYNC_FILE_RANGE`.
pub const IORING_OP_SYNC_FILE_RANGE: u8 = 8;
/// `IORING_OP_SENDMSG`.
pub const IORING_OP_SENDMSG: u8 = 9;
/// `IORING_OP_RECVMSG`.
pub const IORING_OP_RECVMSG: u8 = 10;
/// `IORING_OP_TIMEOUT`.
pub const IORING_OP_TIMEOUT: u8 = 11;
/// `IORING_OP_TIMEOUT_REMOVE`.
pub const IORING_OP_TIMEOUT_REMOVE: u8 = 12;
/// `IORING_OP_ACCEPT`.
pub const IORING_OP_ACCEPT: u8 = 13;
/// `IORING_OP_ASYNC_CANCEL`.
pub const IORING_OP_ASYNC_CANCEL: u8 = 14;
/// `IORING_OP_LINK_TIMEOUT`.
pub const IORING_OP_LINK_TIMEOUT: u8 = 15;
/// `IORING_OP_CONNECT`.
pub const IORING_OP_CONNECT: u8 = 16;
/// `IORING_OP_FALLOCATE`.
pub const IORING_OP_FALLOCATE: u8 = 17;
/// `IORING_OP_OPENAT`.
pub const IORING_OP_OPENAT: u8 = 18;
/// `IORING_OP_CLOSE`.
pub const IORING_OP_CLOSE: u8 = 19;
/// `IORING_OP_FILES_UPDATE`.
pub const IORING_OP_FILES_UPDATE: u8 = 20;
/// `IORING_OP_STATX`.
pub const IORING_OP_STATX: u8 = 21;
/// `IORING_OP_READ`.
pub const IORING_OP_READ: u8 = 22;
/// `IORING_OP_WRITE`.
pub const IORING_OP_WRITE: u8 = 23;
/// `IORING_OP_FADVISE`.
pub const IORING_OP_FADVISE: u8 = 24;
/// `IORING_OP_MADVISE`.
pub const IORING_OP_MADVISE: u8 = 25;
/// `IORING_OP_SEND`.
pub const IORING_OP_SEND: u8 = 26;
/// `IORING_OP_RECV`.
pub const IORING_OP_RECV: u8 = 27;
/// `IORING_OP_OPENAT2`.
pub const IORING_OP_OPENAT2: u8 = 28;
/// `IORING_OP_EPOLL_CTL`.
pub const IORING_OP_EPOLL_CTL: u8 = 29;
/// `IORING_OP_SPLICE`.
pub const IORING_OP_SPLICE: u8 = 30;
/// `IORING_OP_PROVIDE_BUFFERS`.
pub const IORING_OP_PROVIDE_BUFFERS: u8 = 31;
/// `IORING_OP_REMOVE_BUFFERS`.
pub const IORING_OP_REMOVE_BUFFERS: u8 = 32;
/// `IORING_OP_TEE`.
pub const IORING_OP_TEE: u8 = 33;
/// `IORING_OP_SHUTDOWN`.
pub const IORING_OP_SHUTDOWN: u8 = 34;
/// `IORING_OP_RENAMEAT`.
pub const IORING_OP_RENAMEAT: u8 = 35;
/// `IORING_OP_UNLINKAT`.
pub const IORING_OP_UNLINKAT: u8 = 36;
/// `IORING_OP_MKDIRAT`.
pub const IORING_OP_MKDIRAT: u8 = 37;
/// `IORING_OP_SYMLINKAT`.
pub const IORING_OP_SYMLINKAT: u8 = 38;
/// `IORING_OP_LINKAT`.
pub const IORING_OP_LINKAT: u8 = 39;
/// `IORING_OP_MSG_RING`.
pub const IORING_OP_MSG_RING: u8 = 40;
/// `IORING_OP_FSETXATTR`.
pub const IORING_OP_FSETXATTR: u8 = 41;
/// `IORING_OP_SETXATTR`.
pub const IORING_OP_SETXATTR: u8 = 42;
/// `IORING_OP_FGETXATTR`.
pub const IORING_OP_FGETXATTR: u8 = 43;
/// `IORING_OP_GETXATTR`.
pub const IORING_OP_GETXATTR: u8 = 44;
/// `IORING_OP_SOCKET`.
pub const IORING_OP_SOCKET: u8 = 45;
/// `IORING_OP_URING_CMD`.
pub const IORING_OP_URING_CMD: u8 = 46;
/// `IORING_OP_SEND_ZC`.
pub const IORING_OP_SEND_ZC: u8 = 47;
/// `IORING_OP_SENDMSG_ZC`.
pub const IORING_OP_SENDMSG_ZC: u8 = 48;
/// `IORING_OP_READ_MULTISHOT`.
pub const IORING_OP_READ_MULTISHOT: u8 = 49;
/// `IORING_OP_WAITID`.
pub const IORING_OP_WAITID: u8 = 50;
/// `IORING_OP_FUTEX_WAIT`.
pub const IORING_OP_FUTEX_WAIT: u8 = 51;
/// `IORING_OP_FUTEX_WAKE`.
pub const IORING_OP_FUTEX_WAKE: u8 = 52;
/// `IORING_OP_FUTEX_WAITV`.
pub const IORING_OP_FUTEX_WAITV: u8 = 53;
/// `IORING_OP_FIXED_FD_INSTALL`.
pub const IORING_OP_FIXED_FD_INSTALL: u8 = 54;
/// `IORING_OP_FTRUNCATE`.
pub const IORING_OP_FTRUNCATE: u8 = 55;
/// `IORING_OP_BIND`.
pub const IORING_OP_BIND: u8 = 56;
/// `IORING_OP_LISTEN`.
pub const IORING_OP_LISTEN: u8 = 57;
/// `IORING_OP_RECV_ZC`.
pub const IORING_OP_RECV_ZC: u8 = 58;
/// `IORING_OP_EPOLL_WAIT`.
pub const IORING_OP_EPOLL_WAIT: u8 = 59;
/// `IORING_OP_READV_FIXED`.
pub const IORING_OP_READV_FIXED: u8 = 60;
/// `IORING_OP_WRITEV_FIXED`.
pub const IORING_OP_WRITEV_FIXED: u8 = 61;
/// `IORING_OP_PIPE`.
pub const IORING_OP_PIPE: u8 = 62;
/// One past the last opcode of the 6.18 kernel (`IORING_OP_LAST`).
pub const IORING_OP_LAST: u8 = 63;

/// The name of each opcode, indexed by its value (`"NOP"`, `"READV"`, …).
pub const IORING_OP_NAMES: [&str; 63] = [
    "NOP",
    "READV",
    "WRITEV",
    "FSYNC",
    "READ_FIXED",
    "WRITE_FIXED",
    "POLL_ADD",
    "POLL_REMOVE",
    "SYNC_FILE_RANGE",
    "SENDMSG",
    "RECVMSG",
    "TIMEOUT",
    "TIMEOUT_REMOVE",
    "ACCEPT",
    "ASYNC_CANCEL",
    "LINK_TIMEOUT",
    "CONNECT",
    "FALLOCATE",
    "OPENAT",
    "CLOSE",
    "FILES_UPDATE",
    "STATX",
    "READ",
    "WRITE",
    "FADVISE",
    "MADVISE",
    "SEND",
    "RECV",
    "OPENAT2",
    "EPOLL_CTL",
    "SPLICE",
    "PROVIDE_BUFFERS",
    "REMOVE_BUFFERS",
    "TEE",
    "SHUTDOWN",
    "RENAMEAT",
    "UNLINKAT",
    "MKDIRAT",
    "SYMLINKAT",
    "LINKAT",
    "MSG_RING",
    "FSETXATTR",
    "SETXATTR",
    "FGETXATTR",
    "GETXATTR",
    "SOCKET",
    "URING_CMD",
    "SEND_ZC",
    "SENDMSG_ZC",
    "READ_MULTISHOT",
    "WAITID",
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_WAITV",
    "FIXED_FD_INSTALL",
    "FTRUNCATE",
    "BIND",
    "LISTEN",
    "RECV_ZC",
    "EPOLL_WAIT",
    "READV_FIXED",
    "WRITEV_FIXED",
    "PIPE",
];
