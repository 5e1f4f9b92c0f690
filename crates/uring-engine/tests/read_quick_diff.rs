//! Plain reads, as the engine's submission loop completes them itself (`op::rw::quick`:
//! a `READ`, or a `READV` of one iovec, at an offset, with no flags), against the
//! kernel: every result a plain read can have — whole, short at the end of the file,
//! nothing past it, a bad buffer or iovec array, a bad offset or fd, a pipe whose
//! offset is ignored, the file position — the bytes read, the order of the CQEs of one
//! submission, reads held back by a drain, and reads in a link chain. Each body runs on
//! the engine and on the kernel, which must agree. (Not here: a read next to a buffered
//! write of the same bytes in one submission. The kernel sends an ext4 write to io-wq,
//! so which of the two comes first is a race on both backends.)
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use uring::types::Target;
use uring::{Ring, Sqe, SqeFlags, opcode, sys};
use uring_testkit::{diff, pipe, test_name};

const OPS: &[u8] = &[
    sys::IORING_OP_READ,
    sys::IORING_OP_READV,
    sys::IORING_OP_NOP,
];

/// A file of `len` bytes, byte `i` being `i * 7` (mod 256).
fn file(len: usize) -> std::fs::File {
    let f = tempfile::tempfile().expect("temporary file");
    let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    f.write_all_at(&data, 0).expect("fill");
    f
}

/// Pushes `sqes` as one submission and reaps as many CQEs, in arrival order, as
/// (user_data, result).
///
/// # Safety
/// What the SQEs point to stays valid until they complete (here).
unsafe fn run(ring: &mut Ring, sqes: &[Sqe]) -> Vec<(u64, i32)> {
    // SAFETY: the caller's contract.
    unsafe { ring.submission().push_multiple(sqes) }.expect("SQ has room");
    ring.submit().expect("submit");
    uring_testkit::reap(ring, sqes.len(), Duration::from_secs(10))
        .iter()
        .map(|c| (c.user_data(), c.result()))
        .collect()
}

/// Writes all of `bytes` into the pipe `tx`.
fn send(tx: &std::os::fd::OwnedFd, bytes: &[u8]) {
    // SAFETY: a valid fd and `bytes.len()` readable bytes.
    let n = unsafe { libc::write(tx.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize, "write to the pipe");
}

fn read(fd: i32, buf: &mut [u8], off: u64, ud: u64) -> Sqe {
    opcode::Read::new(Target::Fd(fd), buf.as_mut_ptr(), buf.len() as u32)
        .offset(off)
        .build()
        .user_data(ud)
}

/// Every kind of result of a plain read, in one submission, and the bytes read.
#[test]
fn plain_reads_end_as_on_the_kernel() {
    diff::both(test_name!(), OPS, 32, |ring| {
        let f = file(10_000);
        let fd = f.as_raw_fd();
        let (rx, tx) = pipe();
        send(&tx, b"piped");
        let mut bufs = vec![vec![0u8; 4096]; 8];
        let mut one = vec![0u8; 4096];
        let iov = libc::iovec {
            iov_base: one.as_mut_ptr().cast(),
            iov_len: one.len(),
        };
        let [b0, b1, b2, b3, b4, b5, b6, b7] = &mut bufs[..] else {
            unreachable!()
        };
        let sqes = [
            // Whole.
            read(fd, b0, 0, 1),
            // Short: 10,000 - 8,192 bytes are left.
            read(fd, b1, 8192, 2),
            // Past the end.
            read(fd, &mut b2[..100], 20_000, 3),
            // Into unmapped memory (page 0).
            opcode::Read::new(Target::Fd(fd), std::ptr::null_mut(), 100)
                .offset(0)
                .build()
                .user_data(4),
            // One iovec, whole.
            opcode::Readv::new(Target::Fd(fd), &iov, 1)
                .offset(100)
                .build()
                .user_data(5),
            // An iovec array in unmapped memory.
            opcode::Readv::new(Target::Fd(fd), std::ptr::null(), 1)
                .offset(0)
                .build()
                .user_data(6),
            // A negative offset other than -1.
            read(fd, b3, (-2i64) as u64, 7),
            // Nothing asked.
            read(fd, &mut b4[..0], 0, 8),
            // An fd that is not open.
            read(9999, b5, 0, 9),
            // A pipe: the offset is ignored.
            read(rx.as_raw_fd(), &mut b6[..5], 4096, 10),
            // The file position (0: nothing read it yet).
            read(fd, &mut b7[..64], u64::MAX, 11),
        ];
        // SAFETY: the buffers, the iovec and the pipe outlive the reaped requests.
        let mut cqes = unsafe { run(ring, &sqes) };
        cqes.sort_unstable();
        let bytes: Vec<Vec<u8>> = [&b0[..], &b1[..1808], &b6[..5], &b7[..64], &one[..]]
            .iter()
            .map(|b| b.to_vec())
            .collect();
        (cqes, bytes)
    });
}

/// The CQEs of one submission's plain reads come in SQ order, before and after a
/// request that takes the full path (a NOP), as the kernel issues them.
#[test]
fn one_submissions_reads_post_in_sq_order() {
    diff::both(test_name!(), OPS, 32, |ring| {
        let f = file(64 << 10);
        let fd = f.as_raw_fd();
        let mut bufs = vec![vec![0u8; 512]; 6];
        let mut sqes: Vec<Sqe> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| read(fd, b, (i * 4096) as u64, i as u64))
            .collect();
        sqes.insert(3, opcode::Nop::new().build().user_data(100));
        // SAFETY: the buffers outlive the reaped requests.
        unsafe { run(ring, &sqes) }
    });
}

/// A read after a drained request waits for it, and a read of a link chain stays in
/// it: a pipe read that waits for data, a drained NOP, a plain read behind them, and a
/// chain whose short read fails the read it links to.
#[test]
fn reads_wait_for_drains_and_keep_links() {
    diff::both(test_name!(), OPS, 32, |ring| {
        let f = file(6000);
        let fd = f.as_raw_fd();
        let (rx, tx) = pipe();
        let mut p = [0u8; 4];
        let mut a = [0u8; 4096];
        let mut b = [0u8; 4096];
        let mut c = [0u8; 64];
        let sqes = [
            read(rx.as_raw_fd(), &mut p, 0, 1),
            opcode::Nop::new()
                .build()
                .flags(SqeFlags::IO_DRAIN)
                .user_data(2),
            read(fd, &mut a, 0, 3),
        ];
        // SAFETY: the buffers and the pipe outlive the requests, all reaped below.
        unsafe { ring.submission().push_multiple(&sqes) }.expect("SQ has room");
        ring.submit().expect("submit");
        std::thread::sleep(Duration::from_millis(50));
        let early: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
        send(&tx, b"ping");
        let drained: Vec<(u64, i32)> =
            uring_testkit::reap(ring, 3 - early.len(), Duration::from_secs(10))
                .iter()
                .map(|c| (c.user_data(), c.result()))
                .collect();
        // A short read (2,000 bytes left) fails the read linked to it.
        let chain = [
            read(fd, &mut b, 4000, 4).flags(SqeFlags::IO_LINK),
            read(fd, &mut c, 0, 5),
        ];
        // SAFETY: as above.
        let linked = unsafe { run(ring, &chain) };
        (early, drained, linked, p, c)
    });
}
