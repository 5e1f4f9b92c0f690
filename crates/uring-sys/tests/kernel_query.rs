//! Checks our 6.18 constants against what the running kernel says about itself through
//! `IORING_REGISTER_QUERY` (`IO_URING_QUERY_OPCODES`): the opcode counts and the masks
//! of every setup, feature, enter and SQE flag. This covers the 6.18 items linux-raw-sys
//! 0.12 lacks (see `tests/linux_raw_sys.rs`).
//!
//! On a 6.18 kernel the values must be equal; on a later one the kernel's must include
//! ours; on an earlier one (no query) the test is skipped, visibly, or fails when
//! `URING_REQUIRE_KERNEL=1`.
#![cfg(target_os = "linux")]

use uring_sys::*;

/// The running kernel's `(major, minor)`, from uname(2).
fn kernel_version() -> (u32, u32) {
    // SAFETY: `utsname` is plain `c_char` arrays, for which all-zero bytes are valid.
    let mut uts: libc::utsname = unsafe { core::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable `utsname`.
    assert_eq!(unsafe { libc::uname(&mut uts) }, 0);
    // SAFETY: the kernel NUL-terminates `release` within the array.
    let release = unsafe { core::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    let release = release.to_str().expect("release is ASCII");
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

#[test]
fn query_opcodes_matches_6_18() {
    let mut out = io_uring_query_opcode::default();
    let mut hdr = io_uring_query_hdr::new(IO_URING_QUERY_OPCODES, &mut out);
    // SAFETY: `hdr` is a valid one-entry query chain whose buffer, `out`, is writable
    // and `size` bytes long; both outlive the call. The fd may be -1: the opcodes query
    // needs no ring.
    let ret =
        unsafe { syscall::io_uring_register(-1, IORING_REGISTER_QUERY, (&raw mut hdr).cast(), 0) };
    if let Err(e) = ret {
        return uring_testkit::skip(
            uring_testkit::test_name!(),
            &format!("IORING_REGISTER_QUERY failed ({e}): kernel older than 6.18?"),
        );
    }
    assert_eq!(hdr.result, 0, "query result");

    // The masks of every flag family as uring-sys declares it.
    let setup = u64::from(IORING_SETUP_FLAGS);
    let features = u64::from(IORING_FEAT_FLAGS);
    let enter = u64::from(IORING_ENTER_FLAGS);
    let sqe = u64::from(IOSQE_FLAGS);

    if kernel_version() == (6, 18) {
        assert_eq!(out.nr_request_opcodes, u32::from(IORING_OP_LAST));
        assert_eq!(out.nr_register_opcodes, IORING_REGISTER_LAST);
        assert_eq!(out.ring_setup_flags, setup, "IORING_SETUP_* mask");
        assert_eq!(out.feature_flags, features, "IORING_FEAT_* mask");
        assert_eq!(out.enter_flags, enter, "IORING_ENTER_* mask");
        assert_eq!(out.sqe_flags, sqe, "IOSQE_* mask");
        assert_eq!(out.nr_query_opcodes, __IO_URING_QUERY_MAX);
    } else {
        eprintln!(
            "kernel {:?} is not 6.18: checking ours is a subset",
            kernel_version()
        );
        assert!(out.nr_request_opcodes >= u32::from(IORING_OP_LAST));
        assert!(out.nr_register_opcodes >= IORING_REGISTER_LAST);
        assert_eq!(out.ring_setup_flags & setup, setup, "IORING_SETUP_* mask");
        assert_eq!(out.feature_flags & features, features, "IORING_FEAT_* mask");
        assert_eq!(out.enter_flags & enter, enter, "IORING_ENTER_* mask");
        assert_eq!(out.sqe_flags & sqe, sqe, "IOSQE_* mask");
        assert!(out.nr_query_opcodes >= __IO_URING_QUERY_MAX);
    }
}
