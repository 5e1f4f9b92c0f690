//! Helpers of the registration tests (`tests/register_*.rs`), beside the shared harness
//! in `tests/common`: raw SQEs for the ops whose typed builders live elsewhere, one-shot
//! submission, files with known contents.
#![allow(dead_code)]

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use uring::{Cqe, Ring, Sqe, sys};

/// How long any test waits for a completion.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The errno of an `io::Error`, for assertions.
pub fn errno(e: &io::Error) -> i32 {
    e.raw_os_error()
        .unwrap_or_else(|| panic!("not an OS error: {e}"))
}

/// Asserts that `r` failed with `want` (an errno), naming `what`.
#[track_caller]
pub fn assert_errno<T: std::fmt::Debug>(r: io::Result<T>, want: i32, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected errno {want}, got Ok({v:?})"),
        Err(e) => assert_eq!(errno(&e), want, "{what}: {e}"),
    }
}

/// Pushes `sqes`, submits, and reaps `n` CQEs.
///
/// # Safety
/// As `SubmissionQueue::push` for every entry.
pub unsafe fn run(ring: &mut Ring, sqes: &[Sqe], n: usize) -> Vec<Cqe> {
    {
        let mut sq = ring.submission();
        // SAFETY: the caller's contract.
        unsafe { sq.push_multiple(sqes) }.expect("SQ has room");
    }
    ring.submit().expect("submit");
    crate::common::reap(ring, n, LIMIT)
}

/// Runs one SQE and returns its CQE.
///
/// # Safety
/// As [`run`].
pub unsafe fn run1(ring: &mut Ring, sqe: Sqe) -> Cqe {
    // SAFETY: the caller's contract.
    let cqes = unsafe { run(ring, &[sqe], 1) };
    cqes[0]
}

/// A NOP with `user_data`.
pub fn nop(user_data: u64) -> Sqe {
    uring::opcode::Nop::new().build().user_data(user_data)
}

/// A raw SQE of `opcode` (for ops whose typed builders are written elsewhere).
pub fn raw(opcode: u8) -> Sqe {
    let mut sqe = Sqe::from_raw(sys::io_uring_sqe::zeroed());
    sqe.as_raw_mut().opcode = opcode;
    sqe
}

/// `IORING_OP_READ_FIXED` of `len` bytes at file offset `off` into `buf`, which must
/// lie inside registered buffer `index`.
pub fn read_fixed(fd: RawFd, buf: *mut u8, len: u32, off: u64, index: u16) -> Sqe {
    let mut sqe = raw(sys::IORING_OP_READ_FIXED);
    let s = sqe.as_raw_mut();
    s.fd = fd;
    s.addr_or_splice_off_in.addr = buf as u64;
    s.len = len;
    s.off_or_addr2.off = off;
    s.buf.buf_index = index;
    sqe
}

/// `IORING_OP_OPENAT` of `path` (read-only) installing the file into a fixed slot:
/// `file_index` is the slot + 1, or `IORING_FILE_INDEX_ALLOC`.
pub fn openat_direct(path: &std::ffi::CStr, file_index: u32) -> Sqe {
    let mut sqe = raw(sys::IORING_OP_OPENAT);
    let s = sqe.as_raw_mut();
    s.fd = libc::AT_FDCWD;
    s.addr_or_splice_off_in.addr = path.as_ptr() as u64;
    s.op_flags.open_flags = libc::O_RDONLY as u32;
    s.splice_fd_in_or_file_index.file_index = file_index;
    sqe
}

/// A deterministic byte pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// An anonymous temporary file holding `data`.
pub fn file_with(data: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().expect("tempfile");
    f.write_all(data).expect("write tempfile");
    f
}

/// A pipe: (read end, write end), both blocking.
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let (r, w) = rustix::pipe::pipe().expect("pipe");
    (r, w)
}

/// Writes `data` into `fd` fully.
pub fn write_all(fd: &impl AsRawFd, data: &[u8]) {
    // SAFETY: `data` is readable for its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    assert_eq!(
        n,
        data.len() as isize,
        "write: {}",
        io::Error::last_os_error()
    );
}

/// Whether the flavour's ring can be named by an fd (not `REGISTERED_FD_ONLY`).
pub fn has_fd(ring: &Ring) -> bool {
    ring.fd().is_some()
}
