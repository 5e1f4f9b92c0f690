//! Arbitrary SQE bytes into the engine's prep (`uring_engine::fuzz_prep`): never a
//! crash, only 0 or one of the kernel's error codes. The first byte picks the ring's
//! setup flavour; the rest is the SQE, a control byte and an arena its address fields
//! may point into (see `fuzz_prep`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use uring_sys as sys;

const FLAVOURS: &[u32] = &[
    0,
    sys::IORING_SETUP_SQE128 | sys::IORING_SETUP_CQE32,
    sys::IORING_SETUP_CQE_MIXED,
    sys::IORING_SETUP_NO_SQARRAY,
    sys::IORING_SETUP_SINGLE_ISSUER | sys::IORING_SETUP_DEFER_TASKRUN,
];

/// The codes the kernel's prep paths return (as `tests/fuzz_prep.rs`).
const ALLOWED: &[i32] = &[
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

fuzz_target!(|data: &[u8]| {
    let Some((&flavour, sqe)) = data.split_first() else {
        return;
    };
    let flags = FLAVOURS[flavour as usize % FLAVOURS.len()];
    let res = uring_engine::fuzz_prep(sqe, flags);
    assert!(
        ALLOWED.contains(&res),
        "prep returned {res} for opcode {:?}",
        sqe.first()
    );
});
