//! Differential tests of the engine's file-system ops, direct descriptors and
//! provided buffers: the same body runs through the `uring` crate on the kernel and on
//! the engine, each in a fresh directory, and the CQEs (user_data, result, flags) and
//! the resulting file-system state must agree.
//!
//! Where the kernel refuses io_uring (or lacks an opcode), the body still runs on the
//! engine alone and the kernel half is reported as skipped (a failure under
//! `URING_REQUIRE_KERNEL=1`).
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use uring::{Backend, Cqe, Ring, Sqe, SqeFlags, opcode, sys};
use uring_testkit::{diff, test_name};

const LIMIT: Duration = Duration::from_secs(10);

/// [`diff::both`] with a fresh directory for each backend's run.
fn both<T: PartialEq + std::fmt::Debug>(
    test: &str,
    ops: &[u8],
    mut body: impl FnMut(&mut Ring, &Dir) -> T,
) {
    diff::both(test, ops, 32, |ring| body(ring, &Dir::new()));
}

/// A temporary directory and an fd on it, so bodies use relative paths.
struct Dir {
    tmp: tempfile::TempDir,
    fd: OwnedFd,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fd = std::fs::File::open(tmp.path()).expect("open dir").into();
        Dir { tmp, fd }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// The tree under the directory: (relative name, kind, size or link target).
    fn state(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                let rel = p.strip_prefix(self.path()).unwrap().display().to_string();
                let m = std::fs::symlink_metadata(&p).unwrap();
                let what = if m.file_type().is_symlink() {
                    format!("link -> {}", std::fs::read_link(&p).unwrap().display())
                } else if m.is_dir() {
                    stack.push(p.clone());
                    "dir".to_string()
                } else {
                    format!("file {:?}", std::fs::read(&p).unwrap())
                };
                out.push((rel, what));
            }
        }
        out.sort();
        out
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A raw SQE of `opcode` with `user_data`.
fn raw(opcode: u8, user_data: u64) -> Sqe {
    let mut sqe = Sqe::from_raw(sys::io_uring_sqe::zeroed());
    sqe.as_raw_mut().opcode = opcode;
    sqe.user_data(user_data)
}

fn openat(dfd: i32, path: &CString, flags: i32, mode: u32, file_index: u32, ud: u64) -> Sqe {
    let mut sqe = raw(sys::IORING_OP_OPENAT, ud);
    let s = sqe.as_raw_mut();
    s.fd = dfd;
    s.addr_or_splice_off_in.addr = path.as_ptr() as u64;
    s.op_flags.open_flags = flags as u32;
    s.len = mode;
    s.splice_fd_in_or_file_index.file_index = file_index;
    sqe
}

fn close_slot(file_index: u32, ud: u64) -> Sqe {
    let mut sqe = raw(sys::IORING_OP_CLOSE, ud);
    sqe.as_raw_mut().splice_fd_in_or_file_index.file_index = file_index;
    sqe
}

fn close_fd(fd: i32, ud: u64) -> Sqe {
    let mut sqe = raw(sys::IORING_OP_CLOSE, ud);
    sqe.as_raw_mut().fd = fd;
    sqe
}

fn rw(opcode: u8, fd: i32, buf: *const u8, len: u32, off: u64, ud: u64) -> Sqe {
    let mut sqe = raw(opcode, ud);
    let s = sqe.as_raw_mut();
    s.fd = fd;
    s.addr_or_splice_off_in.addr = buf as u64;
    s.len = len;
    s.off_or_addr2.off = off;
    sqe
}

/// (user_data, result, flags) of each CQE, by user_data.
type Seen = Vec<(u64, i32, u32)>;

/// Pushes `sqes`, submits, and reaps as many CQEs, sorted by user_data.
///
/// # Safety
/// What the SQEs point to stays valid until they complete (here).
unsafe fn run(ring: &mut Ring, sqes: &[Sqe]) -> Seen {
    {
        let mut sq = ring.submission();
        // SAFETY: the caller's contract.
        unsafe { sq.push_multiple(sqes) }.expect("SQ has room");
    }
    ring.submit().expect("submit");
    let start = std::time::Instant::now();
    let mut out: Vec<Cqe> = Vec::new();
    while out.len() < sqes.len() {
        out.extend(ring.completion());
        if out.len() >= sqes.len() {
            break;
        }
        assert!(start.elapsed() < LIMIT, "timed out: {out:?}");
        let _ = ring.submitter().wait_timeout(1, Duration::from_millis(100));
    }
    let mut seen: Seen = out
        .iter()
        .map(|c| (c.user_data(), c.result(), c.flags() & !sys::IORING_CQE_F_32))
        .collect();
    seen.sort_unstable();
    seen
}

fn register_sparse(ring: &Ring, n: u32) {
    let reg = sys::io_uring_rsrc_register {
        nr: n,
        flags: sys::IORING_RSRC_REGISTER_SPARSE,
        ..Default::default()
    };
    // SAFETY: a valid io_uring_rsrc_register of the size passed.
    unsafe {
        ring.submitter().register_raw(
            sys::IORING_REGISTER_FILES2,
            (&raw const reg).cast(),
            size_of::<sys::io_uring_rsrc_register>() as u32,
        )
    }
    .expect("register sparse files");
}

#[test]
fn open_write_fsync_close_chain() {
    both(
        test_name!(),
        &[
            opcode::OpenAt::CODE,
            opcode::Write::CODE,
            opcode::Fsync::CODE,
            opcode::Close::CODE,
        ],
        |ring, dir| {
            register_sparse(ring, 4);
            let name = c("log");
            let data = b"one write, then fsync, then close".to_vec();
            let link = SqeFlags::IO_LINK;
            let open =
                openat(dir.fd(), &name, libc::O_CREAT | libc::O_WRONLY, 0o640, 1, 1).flags(link);
            let write = rw(
                sys::IORING_OP_WRITE,
                0,
                data.as_ptr(),
                data.len() as u32,
                0,
                2,
            )
            .flags(link | SqeFlags::FIXED_FILE);
            let mut fsync = raw(sys::IORING_OP_FSYNC, 3).flags(link | SqeFlags::FIXED_FILE);
            fsync.as_raw_mut().fd = 0;
            let close = close_slot(1, 4);
            // SAFETY: `name` and `data` outlive the chain, reaped here.
            let mut seen = unsafe { run(ring, &[open, write, fsync, close]) };
            // The same chain into a plain descriptor: the open's result is an fd.
            let name2 = c("plain");
            let open = openat(
                dir.fd(),
                &name2,
                libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC,
                0o600,
                0,
                5,
            );
            // SAFETY: as above.
            let o = unsafe { run(ring, &[open]) };
            let fd = o[0].1;
            assert!(fd >= 0, "open: {o:?}");
            let write = rw(sys::IORING_OP_WRITE, fd, data.as_ptr(), 9, 0, 6).flags(link);
            let mut fsync = raw(sys::IORING_OP_FSYNC, 7).flags(link);
            fsync.as_raw_mut().fd = fd;
            let close = close_fd(fd, 8);
            // SAFETY: as above.
            seen.extend(unsafe { run(ring, &[write, fsync, close]) });
            // A number that is not open says EBADF. Not `fd` again: tests run in
            // parallel, another may have been given that number already, and closing
            // it would close that test's file.
            // SAFETY: no memory referenced.
            seen.extend(unsafe { run(ring, &[close_fd(i32::MAX, 9)]) });
            let mode = std::fs::metadata(dir.path().join("log"))
                .unwrap()
                .permissions();
            (
                seen,
                dir.state(),
                std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            )
        },
    );
}

#[test]
fn direct_descriptors_allocate_as_the_kernel() {
    both(
        test_name!(),
        &[opcode::OpenAt::CODE, opcode::Close::CODE],
        |ring, dir| {
            std::fs::write(dir.path().join("f"), b"x").unwrap();
            let f = c("f");
            let alloc = sys::IORING_FILE_INDEX_ALLOC;
            let mut seen = Vec::new();
            // No table yet: allocation finds nothing, a slot has no table.
            // SAFETY: `f` outlives each request, reaped at once (so for every run here).
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, alloc, 1)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, 3, 2)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[close_slot(1, 3)]) });
            register_sparse(ring, 8);
            for ud in 10..12 {
                // SAFETY: what the SQE names outlives it; it is reaped here.
                seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, alloc, ud)]) });
            }
            // An explicit slot moves the allocation hint past it.
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, 6, 12)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, alloc, 13)]) });
            // Emptying a slot moves the hint back to it.
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[close_slot(2, 14)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, alloc, 15)]) });
            // Replacing a filled slot, closing an empty one, a slot past the end.
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, 1, 16)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[close_slot(5, 17)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, 9, 18)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[close_slot(9, 19)]) });
            // O_CLOEXEC means nothing for a direct descriptor: refused.
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, libc::O_CLOEXEC, 0, 4, 20)]) });
            // A slot and an fd at once.
            let mut both_set = close_slot(1, 21);
            both_set.as_raw_mut().fd = 1;
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[both_set]) });
            // The allocation range: only slots 2..4.
            let range = sys::io_uring_file_index_range {
                off: 2,
                len: 2,
                resv: 0,
            };
            // SAFETY: a valid io_uring_file_index_range.
            unsafe {
                ring.submitter().register_raw(
                    sys::IORING_REGISTER_FILE_ALLOC_RANGE,
                    (&raw const range).cast(),
                    0,
                )
            }
            .unwrap();
            for ud in 22..24 {
                // SAFETY: what the SQE names outlives it; it is reaped here.
                seen.extend(unsafe { run(ring, &[close_slot(ud as u32 - 19, ud)]) });
            }
            for ud in 24..27 {
                // SAFETY: what the SQE names outlives it; it is reaped here.
                seen.extend(unsafe { run(ring, &[openat(dir.fd(), &f, 0, 0, alloc, ud)]) });
            }
            seen
        },
    );
}

#[test]
fn provided_buffer_reads() {
    both(
        test_name!(),
        &[
            opcode::ProvideBuffers::CODE,
            opcode::RemoveBuffers::CODE,
            opcode::Read::CODE,
        ],
        |ring, dir| {
            let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
            std::fs::write(dir.path().join("src"), &data).unwrap();
            let file = std::fs::File::open(dir.path().join("src")).unwrap();
            let fd = file.as_raw_fd();
            let mut mem = vec![0u8; 400];
            let provide = |addr: *mut u8, len: u32, nbufs: i32, bgid: u16, bid: u64, ud: u64| {
                let mut sqe = raw(sys::IORING_OP_PROVIDE_BUFFERS, ud);
                let s = sqe.as_raw_mut();
                s.fd = nbufs;
                s.addr_or_splice_off_in.addr = addr as u64;
                s.len = len;
                s.buf.buf_group = bgid;
                s.off_or_addr2.off = bid;
                sqe
            };
            let remove = |nbufs: i32, bgid: u16, ud: u64| {
                let mut sqe = raw(sys::IORING_OP_REMOVE_BUFFERS, ud);
                sqe.as_raw_mut().fd = nbufs;
                sqe.as_raw_mut().buf.buf_group = bgid;
                sqe
            };
            let read = |len: u32, off: u64, bgid: u16, ud: u64| {
                let mut sqe = rw(sys::IORING_OP_READ, fd, std::ptr::null(), len, off, ud)
                    .flags(SqeFlags::BUFFER_SELECT);
                sqe.as_raw_mut().buf.buf_group = bgid;
                sqe
            };
            let m = mem.as_mut_ptr();
            let mut seen = Vec::new();
            // SAFETY: the buffers live in `mem`, which outlives the ring's use of them
            // (everything is reaped before the body returns).
            seen.extend(unsafe { run(ring, &[provide(m, 100, 4, 7, 10, 1)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[read(0, 0, 7, 2)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[read(50, 300, 7, 3)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[remove(1, 7, 4)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[read(100, 500, 7, 5)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[read(100, 0, 7, 6)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[remove(5, 7, 7)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[remove(1, 8, 8)]) });
            // Bad arguments.
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[provide(m, 100, 0, 7, 0, 9)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[provide(m, 0, 1, 7, 0, 10)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[provide(m, 1, 2, 7, 65535, 11)]) });
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[remove(0, 7, 12)]) });
            let mut readv = rw(sys::IORING_OP_READV, fd, std::ptr::null(), 2, 0, 13)
                .flags(SqeFlags::BUFFER_SELECT);
            readv.as_raw_mut().buf.buf_group = 7;
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[readv]) });
            // A READV with one iovec, whose length bounds the read.
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[provide(m, 100, 1, 9, 3, 14)]) });
            let iov = libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 30,
            };
            let mut readv = rw(
                sys::IORING_OP_READV,
                fd,
                (&raw const iov).cast(),
                1,
                900,
                15,
            )
            .flags(SqeFlags::BUFFER_SELECT);
            readv.as_raw_mut().buf.buf_group = 9;
            // SAFETY: what the SQE names outlives it; it is reaped here.
            seen.extend(unsafe { run(ring, &[readv]) });
            (seen, mem)
        },
    );
}

#[test]
fn incremental_ring_reads_from_a_regular_file() {
    both(test_name!(), &[opcode::Read::CODE], |ring, dir| {
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        std::fs::write(dir.path().join("src"), &data).unwrap();
        let file = std::fs::File::open(dir.path().join("src")).unwrap();
        let bufs = uring::buf_ring::BufRing::builder(3, 2, 64)
            .incremental()
            .build(&ring.submitter())
            .expect("buffer ring");
        let mut seen = Vec::new();
        for (i, (len, off)) in [(10u32, 0u64), (20, 100), (0, 200), (40, 0)]
            .into_iter()
            .enumerate()
        {
            let mut sqe = rw(
                sys::IORING_OP_READ,
                file.as_raw_fd(),
                std::ptr::null(),
                len,
                off,
                i as u64,
            )
            .flags(SqeFlags::BUFFER_SELECT);
            sqe.as_raw_mut().buf.buf_group = 3;
            // SAFETY: the buffers belong to `bufs`, which outlives the read.
            seen.extend(unsafe { run(ring, &[sqe]) });
            seen.push((
                100 + i as u64,
                ring.submitter().buf_ring_head(3).unwrap() as i32,
                0,
            ));
        }
        bufs.unregister(&ring.submitter()).unwrap();
        seen
    });
}

#[test]
fn path_ops_leave_the_same_tree() {
    both(
        test_name!(),
        &[
            opcode::MkDirAt::CODE,
            opcode::SymlinkAt::CODE,
            opcode::LinkAt::CODE,
            opcode::RenameAt::CODE,
            opcode::UnlinkAt::CODE,
            opcode::Statx::CODE,
        ],
        |ring, dir| {
            std::fs::write(dir.path().join("a"), b"data of a").unwrap();
            let (d, a, b, s, l, gone) = (c("d"), c("a"), c("d/b"), c("s"), c("l"), c("gone"));
            let path2 = |op: u8, p1: &CString, p2: &CString, ud: u64| {
                let mut sqe = raw(op, ud);
                let x = sqe.as_raw_mut();
                x.fd = dir.fd();
                x.addr_or_splice_off_in.addr = p1.as_ptr() as u64;
                x.off_or_addr2.off = p2.as_ptr() as u64;
                sqe
            };
            let mut mkdir = raw(sys::IORING_OP_MKDIRAT, 1);
            mkdir.as_raw_mut().fd = dir.fd();
            mkdir.as_raw_mut().addr_or_splice_off_in.addr = d.as_ptr() as u64;
            mkdir.as_raw_mut().len = 0o750;
            let mut link = path2(sys::IORING_OP_LINKAT, &a, &l, 3);
            link.as_raw_mut().len = dir.fd() as u32;
            let mut rename = path2(sys::IORING_OP_RENAMEAT, &a, &b, 4);
            rename.as_raw_mut().len = dir.fd() as u32;
            let mut symlink = path2(sys::IORING_OP_SYMLINKAT, &b, &s, 2);
            symlink.as_raw_mut().fd = dir.fd();
            let link_flag = SqeFlags::IO_LINK;
            // SAFETY: what the SQE names outlives it; it is reaped here.
            let mut seen = unsafe {
                // SAFETY: the paths outlive the chain, reaped here.
                run(
                    ring,
                    &[
                        mkdir.flags(link_flag),
                        symlink.flags(link_flag),
                        link.flags(link_flag),
                        rename,
                    ],
                )
            };
            // SAFETY: what the SQE names outlives it; it is reaped here.
            let mut st: libc::statx = unsafe { std::mem::zeroed() };
            let mut statx = path2(sys::IORING_OP_STATX, &s, &s, 5);
            statx.as_raw_mut().off_or_addr2.off = (&raw mut st) as u64;
            statx.as_raw_mut().len = libc::STATX_SIZE | libc::STATX_TYPE;
            // SAFETY: `st` and the path outlive the request.
            seen.extend(unsafe { run(ring, &[statx]) });
            let size_mode = (st.stx_size, st.stx_mode as u32 & libc::S_IFMT);
            let mut unlink = path2(sys::IORING_OP_UNLINKAT, &l, &l, 6);
            unlink.as_raw_mut().off_or_addr2.off = 0;
            let mut unlink_gone = path2(sys::IORING_OP_UNLINKAT, &gone, &gone, 7);
            unlink_gone.as_raw_mut().off_or_addr2.off = 0;
            let mut rmdir_full = path2(sys::IORING_OP_UNLINKAT, &d, &d, 8);
            rmdir_full.as_raw_mut().off_or_addr2.off = 0;
            rmdir_full.as_raw_mut().op_flags.unlink_flags = libc::AT_REMOVEDIR as u32;
            let mut mkdir_again = raw(sys::IORING_OP_MKDIRAT, 9);
            mkdir_again.as_raw_mut().fd = dir.fd();
            mkdir_again.as_raw_mut().addr_or_splice_off_in.addr = d.as_ptr() as u64;
            // SAFETY: as above.
            seen.extend(unsafe { run(ring, &[unlink, unlink_gone, rmdir_full, mkdir_again]) });
            (seen, size_mode, dir.state())
        },
    );
}

#[test]
fn bad_input_gets_the_kernels_codes() {
    both(
        test_name!(),
        &[
            opcode::OpenAt::CODE,
            opcode::OpenAt2::CODE,
            opcode::Close::CODE,
            opcode::Statx::CODE,
            opcode::UnlinkAt::CODE,
            opcode::Ftruncate::CODE,
            opcode::Fallocate::CODE,
            opcode::FGetXattr::CODE,
            opcode::GetXattr::CODE,
        ],
        |ring, dir| {
            std::fs::write(dir.path().join("f"), b"0123456789").unwrap();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(dir.path().join("f"))
                .unwrap();
            let (f, missing, empty, name) = (c("f"), c("missing"), c(""), c("user.none"));
            let mut sqes = vec![
                openat(dir.fd(), &missing, 0, 0, 0, 1),
                openat(dir.fd(), &empty, 0, 0, 0, 2),
                openat(dir.fd(), &f, 0, 0, 0, 3).flags(SqeFlags::FIXED_FILE),
                close_fd(987_654, 5),
            ];
            let mut bad = openat(dir.fd(), &f, 0, 0, 0, 4);
            bad.as_raw_mut().buf.buf_index = 1;
            sqes.push(bad);
            let mut bad = close_fd(987_654, 6);
            bad.as_raw_mut().addr_or_splice_off_in.addr = 1;
            sqes.push(bad);
            // SAFETY: what the SQE names outlives it; it is reaped here.
            let mut st: libc::statx = unsafe { std::mem::zeroed() };
            let mut statx = raw(sys::IORING_OP_STATX, 7);
            statx.as_raw_mut().fd = dir.fd();
            statx.as_raw_mut().addr_or_splice_off_in.addr = missing.as_ptr() as u64;
            statx.as_raw_mut().off_or_addr2.off = (&raw mut st) as u64;
            sqes.push(statx);
            let mut statx = raw(sys::IORING_OP_STATX, 8);
            statx.as_raw_mut().addr_or_splice_off_in.addr = f.as_ptr() as u64;
            statx.as_raw_mut().splice_fd_in_or_file_index.splice_fd_in = 1;
            sqes.push(statx);
            let mut unlink = raw(sys::IORING_OP_UNLINKAT, 9);
            unlink.as_raw_mut().fd = dir.fd();
            unlink.as_raw_mut().addr_or_splice_off_in.addr = f.as_ptr() as u64;
            unlink.as_raw_mut().op_flags.unlink_flags = 0x1000;
            sqes.push(unlink);
            let mut trunc = raw(sys::IORING_OP_FTRUNCATE, 10);
            trunc.as_raw_mut().fd = file.as_raw_fd();
            trunc.as_raw_mut().len = 1;
            sqes.push(trunc);
            let mut falloc = raw(sys::IORING_OP_FALLOCATE, 11);
            falloc.as_raw_mut().fd = 987_654;
            falloc.as_raw_mut().addr_or_splice_off_in.addr = 10;
            sqes.push(falloc);
            let mut getx = raw(sys::IORING_OP_FGETXATTR, 12);
            getx.as_raw_mut().fd = file.as_raw_fd();
            getx.as_raw_mut().addr_or_splice_off_in.addr = name.as_ptr() as u64;
            getx.as_raw_mut().op_flags.xattr_flags = 1;
            sqes.push(getx);
            let mut getx = raw(sys::IORING_OP_GETXATTR, 13);
            getx.as_raw_mut().addr_or_splice_off_in.addr = empty.as_ptr() as u64;
            getx.as_raw_mut().addr3_or_cmd.addr3.addr3 = f.as_ptr() as u64;
            sqes.push(getx);
            // OPENAT2: a short open_how, and a longer one with a non-zero tail.
            let how = [0u64; 5];
            let mut tail = [0u64; 5];
            tail[4] = 1;
            for (ud, len, p) in [
                (14, 8u32, how.as_ptr()),
                (15, 40, tail.as_ptr()),
                (16, 40, how.as_ptr()),
            ] {
                let mut o2 = raw(sys::IORING_OP_OPENAT2, ud);
                o2.as_raw_mut().fd = dir.fd();
                o2.as_raw_mut().addr_or_splice_off_in.addr = missing.as_ptr() as u64;
                o2.as_raw_mut().off_or_addr2.off = p as u64;
                o2.as_raw_mut().len = len;
                sqes.push(o2);
            }
            // OPENAT2 with an unknown resolve bit: refused at issue.
            let weird = [0u64, 0, 1 << 40];
            let mut o2 = raw(sys::IORING_OP_OPENAT2, 17);
            o2.as_raw_mut().fd = dir.fd();
            o2.as_raw_mut().addr_or_splice_off_in.addr = f.as_ptr() as u64;
            o2.as_raw_mut().off_or_addr2.off = weird.as_ptr() as u64;
            o2.as_raw_mut().len = 24;
            sqes.push(o2);
            // SAFETY: everything referenced lives until the CQEs are reaped here.
            let seen = unsafe { run(ring, &sqes) };
            // The engine's own fd, and a kernel ring's, cannot be closed.
            seen
        },
    );
}

#[test]
fn closing_a_ring_fd_is_refused() {
    let mut engine = diff::ring_on(Backend::Engine, 4).expect("engine ring");
    let own = engine.fd().map(|f| f.as_raw_fd()).expect("an fd");
    // SAFETY: no memory referenced.
    let seen = unsafe { run(&mut engine, &[close_fd(own, 1)]) };
    assert_eq!(seen, [(1, -libc::EBADF, 0)], "the engine's own fd");
    if let Ok(k) = diff::ring_on(Backend::Kernel, 4) {
        let kfd = k.fd().map(|f| f.as_raw_fd()).expect("kernel ring fd");
        // SAFETY: as above.
        let seen = unsafe { run(&mut engine, &[close_fd(kfd, 2)]) };
        assert_eq!(seen, [(2, -libc::EBADF, 0)], "a kernel ring's fd");
        let mut k = k;
        // SAFETY: as above.
        let seen = unsafe { run(&mut k, &[close_fd(kfd, 3)]) };
        assert_eq!(seen, [(3, -libc::EBADF, 0)], "the kernel refuses its own");
    } else {
        uring_testkit::skip(test_name!(), "io_uring refused by the kernel");
    }
}
