//! What the engine's prep is held to, shared by the fuzz target
//! (`fuzz/fuzz_targets/prep.rs`, which includes this file by path) and its property
//! test in the normal suite (`tests/fuzz_prep.rs`).

/// What prep may answer: the codes the kernel's prep paths return.
pub const ALLOWED: &[i32] = &[
    0,
    -libc::EINVAL,
    -libc::EOPNOTSUPP,
    -libc::EBADF,
    -libc::EFAULT,
    -libc::ENOMEM,
    -libc::EPERM,
    -libc::EACCES,
    -libc::ENOENT,
    -libc::E2BIG,
    -libc::ERANGE,
    -libc::ENAMETOOLONG,
    -libc::EMSGSIZE,
    -libc::EOVERFLOW,
];

/// The ring setups that change prep.
pub const FLAVOURS: &[u32] = &[
    0,
    uring_sys::IORING_SETUP_SQE128 | uring_sys::IORING_SETUP_CQE32,
    uring_sys::IORING_SETUP_CQE_MIXED,
    uring_sys::IORING_SETUP_NO_SQARRAY,
    uring_sys::IORING_SETUP_SINGLE_ISSUER | uring_sys::IORING_SETUP_DEFER_TASKRUN,
];
