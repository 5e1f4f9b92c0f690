//! The file opcodes on the real kernel: read/write in every form, sync, allocation,
//! metadata, paths, xattrs, pipes and splicing, provided buffers, the fixed file table.
use uring_testkit as common;
use uring_testkit::test_name;

use std::ffi::CString;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use common::{cpath, for_each_flavor, pattern, run, run1};
use uring::types::{CqeFlags, DestinationSlot, Fixed, OpenHow, Target};
use uring::{Cqe, Ring, SqeFlags, opcode, sys};

const LIMIT: Duration = Duration::from_secs(10);

fn by_user_data(mut cqes: Vec<Cqe>) -> Vec<Cqe> {
    cqes.sort_by_key(Cqe::user_data);
    cqes
}

fn temp_with(data: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(data).unwrap();
    f
}

fn read_all_at(file: &File, off: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut out = vec![0u8; len];
    file.read_exact_at(&mut out, off).unwrap();
    out
}

#[test]
fn read_write_every_flavor() {
    let test = test_name!();
    for_each_flavor(
        test,
        &[opcode::Read::CODE, opcode::Write::CODE],
        8,
        |f, ring| {
            let file = tempfile::tempfile().unwrap();
            let data = pattern(10_000, 1);
            let w = opcode::Write::new(&file, data.as_ptr(), 10_000)
                .offset(512)
                .build()
                .user_data(1);
            // SAFETY: `data` outlives the request (reaped inside run1).
            let c = unsafe { run1(ring, w) };
            assert_eq!((c.user_data(), c.result()), (1, 10_000), "[{}]", f.name);
            assert_eq!(read_all_at(&file, 512, 10_000), data, "[{}]", f.name);

            let mut back = vec![0u8; 10_000];
            let r = opcode::Read::new(&file, back.as_mut_ptr(), 10_000)
                .offset(512)
                .build()
                .user_data(2);
            // SAFETY: `back` outlives the request.
            let c = unsafe { run1(ring, r) };
            assert_eq!(c.result(), 10_000, "[{}]", f.name);
            assert_eq!(back, data, "[{}]", f.name);

            // A short read at the end of the file, and a read past it.
            let r = opcode::Read::new(&file, back.as_mut_ptr(), 10_000)
                .offset(10_000)
                .build()
                .user_data(3);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, r) }.result(), 512, "[{}]", f.name);
            let r = opcode::Read::new(&file, back.as_mut_ptr(), 10)
                .offset(1 << 20)
                .build();
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, r) }.result(), 0, "[{}] EOF", f.name);
        },
    );
}

#[test]
fn readv_writev_every_flavor() {
    let test = test_name!();
    for_each_flavor(
        test,
        &[opcode::Readv::CODE, opcode::Writev::CODE],
        8,
        |f, ring| {
            let file = tempfile::tempfile().unwrap();
            let parts = [pattern(100, 1), pattern(4000, 2), pattern(7, 3)];
            let iov: Vec<libc::iovec> = parts
                .iter()
                .map(|p| libc::iovec {
                    iov_base: p.as_ptr() as *mut _,
                    iov_len: p.len(),
                })
                .collect();
            let w = opcode::Writev::new(&file, iov.as_ptr(), 3)
                .offset(0)
                .build()
                .user_data(1);
            // SAFETY: `parts` and `iov` outlive the request.
            assert_eq!(unsafe { run1(ring, w) }.result(), 4107, "[{}]", f.name);
            assert_eq!(read_all_at(&file, 0, 4107), parts.concat(), "[{}]", f.name);

            // Read back scattered differently: 7 + 4000 + 100.
            let mut outs = [vec![0u8; 7], vec![0u8; 4000], vec![0u8; 100]];
            let iov: Vec<libc::iovec> = outs
                .iter_mut()
                .map(|p| libc::iovec {
                    iov_base: p.as_mut_ptr().cast(),
                    iov_len: p.len(),
                })
                .collect();
            let r = opcode::Readv::new(&file, iov.as_ptr(), 3)
                .offset(0)
                .build()
                .user_data(2);
            // SAFETY: `outs` and `iov` outlive the request.
            assert_eq!(unsafe { run1(ring, r) }.result(), 4107, "[{}]", f.name);
            assert_eq!(outs.concat(), parts.concat(), "[{}]", f.name);
        },
    );
}

#[test]
fn read_write_at_file_position() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Read::CODE, opcode::Write::CODE],
        8,
        |_backend, ring| {
            let file = tempfile::tempfile().unwrap();
            let a = b"hello ";
            let b = b"world";
            // offset -1: the file position, which advances like write(2).
            for (i, chunk) in [&a[..], &b[..]].iter().enumerate() {
                let w = opcode::Write::new(&file, chunk.as_ptr(), chunk.len() as u32)
                    .offset(u64::MAX)
                    .build()
                    .user_data(i as u64);
                // SAFETY: the chunks are statics.
                assert_eq!(unsafe { run1(ring, w) }.result(), chunk.len() as i32);
            }
            assert_eq!(read_all_at(&file, 0, 11), b"hello world");
            let mut pos = &file;
            let mut s = String::new();
            // The position is 11 now: a plain read sees nothing more.
            pos.read_to_string(&mut s).unwrap();
            assert_eq!(s, "");
        },
    );
}

#[test]
fn fixed_buffers_read_write_every_flavor() {
    let test = test_name!();
    let ops = [
        opcode::ReadFixed::CODE,
        opcode::WriteFixed::CODE,
        opcode::ReadvFixed::CODE,
        opcode::WritevFixed::CODE,
    ];
    for_each_flavor(test, &ops, 8, |f, ring| {
        let mut bufs = vec![pattern(16384, 5), vec![0u8; 16384]];
        common::raw_register_buffers(ring, &mut bufs);
        let file = tempfile::tempfile().unwrap();
        let src = bufs[0].as_ptr();
        let dst = bufs[1].as_mut_ptr();

        // WRITE_FIXED from the middle of buffer 0, READ_FIXED into buffer 1.
        let w = opcode::WriteFixed::new(&file, bufs[0][1000..].as_ptr(), 5000, 0)
            .offset(0)
            .build()
            .user_data(1);
        // SAFETY: the registered buffers outlive the request.
        assert_eq!(unsafe { run1(ring, w) }.result(), 5000, "[{}]", f.name);
        assert_eq!(read_all_at(&file, 0, 5000), &pattern(16384, 5)[1000..6000]);
        let r = opcode::ReadFixed::new(&file, dst, 5000, 1)
            .offset(0)
            .build()
            .user_data(2);
        // SAFETY: as above.
        assert_eq!(unsafe { run1(ring, r) }.result(), 5000, "[{}]", f.name);
        assert_eq!(&bufs[1][..5000], &bufs[0][1000..6000], "[{}]", f.name);

        // A range outside the registered buffer is refused.
        let bad = opcode::ReadFixed::new(&file, dst, 20000, 1)
            .build()
            .user_data(3);
        // SAFETY: the kernel refuses it before touching memory.
        let c = unsafe { run1(ring, bad) };
        assert_eq!(c.result(), -libc::EFAULT, "[{}]", f.name);

        // WRITEV_FIXED of two pieces of buffer 0, READV_FIXED into two of buffer 1.
        let wiov = [
            libc::iovec {
                iov_base: src as *mut _,
                iov_len: 100,
            },
            libc::iovec {
                iov_base: bufs[0][8000..].as_ptr() as *mut _,
                iov_len: 300,
            },
        ];
        let w = opcode::WritevFixed::new(&file, wiov.as_ptr(), 2, 0)
            .offset(10_000)
            .build()
            .user_data(4);
        // SAFETY: `wiov` and the buffers outlive the request.
        assert_eq!(unsafe { run1(ring, w) }.result(), 400, "[{}]", f.name);
        bufs[1].fill(0);
        let dst = bufs[1].as_mut_ptr();
        let riov = [
            libc::iovec {
                iov_base: bufs[1][500..].as_mut_ptr().cast(),
                iov_len: 250,
            },
            libc::iovec {
                iov_base: dst.cast(),
                iov_len: 150,
            },
        ];
        let r = opcode::ReadvFixed::new(&file, riov.as_ptr(), 2, 1)
            .offset(10_000)
            .build()
            .user_data(5);
        // SAFETY: `riov` and the buffers outlive the request.
        assert_eq!(unsafe { run1(ring, r) }.result(), 400, "[{}]", f.name);
        let want: Vec<u8> = [&bufs[0][..100], &bufs[0][8000..8300]].concat();
        assert_eq!(&bufs[1][500..750], &want[..250], "[{}]", f.name);
        assert_eq!(&bufs[1][..150], &want[250..], "[{}]", f.name);
    });
}

#[test]
fn fsync_and_fdatasync() {
    common::for_each_backend(test_name!(), &[opcode::Fsync::CODE], 8, |_backend, ring| {
        let file = temp_with(&pattern(4096, 1));
        let sqes = [
            opcode::Fsync::new(&file).build().user_data(1),
            opcode::Fsync::new(&file)
                .flags(sys::IORING_FSYNC_DATASYNC)
                .build()
                .user_data(2),
            opcode::Fsync::new(&file)
                .offset(0)
                .len(4096)
                .build()
                .user_data(3),
            // An unknown flag is refused, a closed fd too.
            opcode::Fsync::new(&file).flags(1 << 7).build().user_data(4),
            opcode::Fsync::new(-1).build().user_data(5),
        ];
        // SAFETY: fsync references no memory.
        let cqes = by_user_data(unsafe { run(ring, &sqes, 5) });
        let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
        assert_eq!(res, [0, 0, 0, -libc::EINVAL, -libc::EBADF]);
    });
}

#[test]
fn sync_file_range_writes_back() {
    common::for_each_backend(
        test_name!(),
        &[opcode::SyncFileRange::CODE],
        8,
        |_backend, ring| {
            let file = temp_with(&pattern(8192, 2));
            let ok = opcode::SyncFileRange::new(&file, 8192)
                .flags(
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                )
                .build()
                .user_data(1);
            let bad = opcode::SyncFileRange::new(&file, 8192)
                .flags(1 << 10)
                .build()
                .user_data(2);
            // SAFETY: no memory referenced.
            let cqes = by_user_data(unsafe { run(ring, &[ok, bad], 2) });
            assert_eq!(cqes[0].result(), 0);
            assert_eq!(cqes[1].result(), -libc::EINVAL);
        },
    );
}

#[test]
fn fallocate_allocates_and_punches() {
    let test = test_name!();
    common::for_each_backend(test, &[opcode::Fallocate::CODE], 8, |_backend, ring| {
        let file = tempfile::tempfile().unwrap();
        let f = opcode::Fallocate::new(&file, 1 << 20).build().user_data(1);
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(ring, f) }.result(), 0);
        assert_eq!(
            file.metadata().unwrap().len(),
            1 << 20,
            "fallocate sets the size"
        );

        // Write data, punch a 4 KiB hole in the middle: it reads back as zeros and the size
        // is kept.
        let data = pattern(3 * 4096, 9);
        (&file).write_all(&data).unwrap();
        let punch = opcode::Fallocate::new(&file, 4096)
            .offset(4096)
            .mode(libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE)
            .build()
            .user_data(2);
        // SAFETY: no memory referenced.
        let res = unsafe { run1(ring, punch) }.result();
        if res == -libc::EOPNOTSUPP {
            return common::not_applicable(test, "the temp filesystem cannot punch holes");
        }
        assert_eq!(res, 0);
        let back = read_all_at(&file, 0, 3 * 4096);
        assert_eq!(&back[..4096], &data[..4096]);
        assert!(
            back[4096..8192].iter().all(|&b| b == 0),
            "hole reads as zeros"
        );
        assert_eq!(&back[8192..], &data[8192..]);
        assert_eq!(file.metadata().unwrap().len(), 1 << 20);
    });
}

#[test]
fn ftruncate_sets_the_size() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Ftruncate::CODE],
        8,
        |_backend, ring| {
            let file = temp_with(&pattern(10_000, 1));
            let t = opcode::Ftruncate::new(&file, 100).build().user_data(1);
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, t) }.result(), 0);
            assert_eq!(file.metadata().unwrap().len(), 100);
            let t = opcode::Ftruncate::new(&file, 1 << 16).build().user_data(2);
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, t) }.result(), 0);
            assert_eq!(file.metadata().unwrap().len(), 1 << 16);
            assert_eq!(read_all_at(&file, 0, 100), &pattern(10_000, 1)[..100]);
            assert!(read_all_at(&file, 100, 1000).iter().all(|&b| b == 0));
        },
    );
}

#[test]
fn fadvise_and_madvise() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Fadvise::CODE, opcode::Madvise::CODE],
        8,
        |_backend, ring| {
            let file = temp_with(&pattern(8192, 1));
            let sqes = [
                opcode::Fadvise::new(&file, 0, 8192, libc::POSIX_FADV_WILLNEED)
                    .build()
                    .user_data(1),
                // A length beyond 32 bits takes the 64-bit field.
                opcode::Fadvise::new(&file, 0, 1 << 40, libc::POSIX_FADV_DONTNEED)
                    .build()
                    .user_data(2),
                opcode::Fadvise::new(&file, 0, 8192, 1234)
                    .build()
                    .user_data(3),
            ];
            // SAFETY: no memory referenced.
            let cqes = by_user_data(unsafe { run(ring, &sqes, 3) });
            let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
            assert_eq!(res, [0, 0, -libc::EINVAL]);

            // MADV_DONTNEED on private anonymous memory: it reads back as zeros.
            let len = 4 * 4096;
            let map = common::Mapping::new(len);
            let mem = map.ptr();
            // SAFETY: the mapping is `len` writable bytes.
            unsafe { mem.write_bytes(0xa5, len) };
            let m = opcode::Madvise::new(mem, len as u64, libc::MADV_DONTNEED)
                .build()
                .user_data(4);
            // SAFETY: the mapping outlives the request.
            assert_eq!(unsafe { run1(ring, m) }.result(), 0);
            // SAFETY: still mapped, `len` readable bytes.
            let after = unsafe { std::slice::from_raw_parts(mem, len) };
            assert!(after.iter().all(|&b| b == 0), "DONTNEED dropped the pages");
            drop(map);
        },
    );
}

#[test]
fn statx_by_path_and_fd() {
    common::for_each_backend(test_name!(), &[opcode::Statx::CODE], 8, |_backend, ring| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(12_345, 0)).unwrap();
        let cpath = cpath(&path);
        // SAFETY: all-zero is a valid statx.
        let mut st: [libc::statx; 2] = unsafe { std::mem::zeroed() };
        let file = File::open(&path).unwrap();
        let empty = CString::new("").unwrap();
        let missing = cpath_join(dir.path(), "nope");
        let sqes = [
            opcode::Statx::new(libc::AT_FDCWD, cpath.as_ptr(), &raw mut st[0])
                .mask(libc::STATX_SIZE | libc::STATX_MODE)
                .build()
                .user_data(1),
            opcode::Statx::new(file.as_raw_fd(), empty.as_ptr(), &raw mut st[1])
                .flags(libc::AT_EMPTY_PATH)
                .mask(libc::STATX_SIZE)
                .build()
                .user_data(2),
            opcode::Statx::new(libc::AT_FDCWD, missing.as_ptr(), &raw mut st[1])
                .mask(libc::STATX_SIZE)
                .build()
                .user_data(3),
        ];
        // SAFETY: the paths and `st` outlive the requests.
        let cqes = by_user_data(unsafe { run(ring, &sqes, 3) });
        let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
        assert_eq!(res, [0, 0, -libc::ENOENT]);
        assert_eq!(st[0].stx_size, 12_345);
        assert_eq!(st[0].stx_mode as u32 & libc::S_IFMT, libc::S_IFREG);
        assert_eq!(st[1].stx_size, 12_345);
    });
}

fn cpath_join(dir: &std::path::Path, name: &str) -> CString {
    cpath(&dir.join(name))
}

#[test]
fn openat_openat2_and_close() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::OpenAt::CODE,
            opcode::OpenAt2::CODE,
            opcode::Close::CODE,
        ],
        8,
        |_backend, ring| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            std::fs::write(&path, b"contents").unwrap();
            std::os::unix::fs::symlink(&path, dir.path().join("link")).unwrap();
            let p = cpath(&path);
            let link = cpath_join(dir.path(), "link");
            let newp = cpath_join(dir.path(), "new");

            // OPENAT read-only: the fd reads the file.
            let o = opcode::OpenAt::new(libc::AT_FDCWD, p.as_ptr())
                .flags(libc::O_RDONLY | libc::O_CLOEXEC)
                .build()
                .user_data(1);
            // SAFETY: the path outlives the request.
            let fd = unsafe { run1(ring, o) }.result();
            assert!(fd >= 0, "openat: {fd}");
            // SAFETY: the fd is fresh and ours.
            let mut f = unsafe { File::from_raw_fd(fd) };
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, "contents");

            // O_CREAT with a mode, and O_EXCL on an existing file.
            let sqes = [
                opcode::OpenAt::new(libc::AT_FDCWD, newp.as_ptr())
                    .flags(libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC)
                    .mode(0o640)
                    .build()
                    .user_data(2),
                opcode::OpenAt::new(libc::AT_FDCWD, p.as_ptr())
                    .flags(libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY)
                    .build()
                    .user_data(3),
            ];
            // SAFETY: the paths outlive the requests.
            let cqes = by_user_data(unsafe { run(ring, &sqes, 2) });
            assert!(cqes[0].result() >= 0);
            assert_eq!(cqes[1].result(), -libc::EEXIST);
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("new"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o640 & !umask());

            // CLOSE of a plain fd: gone afterwards.
            let created = cqes[0].result();
            let file = common::fd_identity(created).expect("the created fd is open");
            let c = opcode::Close::new(created).build().user_data(4);
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, c) }.result(), 0);
            assert_ne!(
                common::fd_identity(created),
                Some(file),
                "CLOSE closed it (the number may name another test's file by now)"
            );

            // OPENAT2 follows the symlink by default, refuses it with RESOLVE_NO_SYMLINKS.
            let how = OpenHow::new().flags(libc::O_RDONLY | libc::O_CLOEXEC);
            let strict = how.resolve(libc::RESOLVE_NO_SYMLINKS);
            let sqes = [
                opcode::OpenAt2::new(libc::AT_FDCWD, link.as_ptr(), &raw const how)
                    .build()
                    .user_data(5),
                opcode::OpenAt2::new(libc::AT_FDCWD, link.as_ptr(), &raw const strict)
                    .build()
                    .user_data(6),
            ];
            // SAFETY: the paths and `how`s outlive the requests.
            let cqes = by_user_data(unsafe { run(ring, &sqes, 2) });
            assert!(cqes[0].result() >= 0, "{:?}", cqes[0]);
            // SAFETY: fresh fd, ours.
            let mut f = unsafe { File::from_raw_fd(cqes[0].result()) };
            s.clear();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, "contents");
            assert_eq!(cqes[1].result(), -libc::ELOOP);
        },
    );
}

fn umask() -> u32 {
    // SAFETY: umask has no failure mode; we restore the value at once.
    unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m
    }
}

#[test]
fn open_direct_into_fixed_slots_and_close_them() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::OpenAt::CODE,
            opcode::OpenAt2::CODE,
            opcode::Close::CODE,
            opcode::Read::CODE,
        ],
        8,
        |_backend, ring| {
            common::raw_register_files_sparse(ring, 4);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            std::fs::write(&path, b"direct!").unwrap();
            let p = cpath(&path);
            let how = OpenHow::new().flags(libc::O_RDONLY);
            let sqes = [
                opcode::OpenAt::new(libc::AT_FDCWD, p.as_ptr())
                    .file_index(DestinationSlot::Slot(2))
                    .build()
                    .user_data(1),
                opcode::OpenAt2::new(libc::AT_FDCWD, p.as_ptr(), &raw const how)
                    .file_index(DestinationSlot::Alloc)
                    .build()
                    .user_data(2),
                // A direct descriptor cannot be O_CLOEXEC.
                opcode::OpenAt::new(libc::AT_FDCWD, p.as_ptr())
                    .flags(libc::O_CLOEXEC)
                    .file_index(DestinationSlot::Slot(1))
                    .build()
                    .user_data(3),
            ];
            // SAFETY: the path and `how` outlive the requests.
            let cqes = by_user_data(unsafe { run(ring, &sqes, 3) });
            assert_eq!(cqes[0].result(), 0, "a given slot completes with 0");
            let alloc = cqes[1].result();
            assert!(
                (0..4).contains(&alloc) && alloc != 2,
                "allocated slot {alloc}"
            );
            assert_eq!(cqes[2].result(), -libc::EINVAL);

            for slot in [2u32, alloc as u32] {
                let mut buf = [0u8; 16];
                let r = opcode::Read::new(Fixed(slot), buf.as_mut_ptr(), 16)
                    .build()
                    .user_data(10);
                assert_eq!(r.get_flags() & SqeFlags::FIXED_FILE, SqeFlags::FIXED_FILE);
                // SAFETY: `buf` outlives the request.
                assert_eq!(unsafe { run1(ring, r) }.result(), 7, "slot {slot}");
                assert_eq!(&buf[..7], b"direct!");
            }

            // CLOSE of a fixed slot empties it: reads through it fail afterwards.
            let c = opcode::Close::new(Fixed(2)).build().user_data(11);
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, c) }.result(), 0);
            let mut buf = [0u8; 16];
            let r = opcode::Read::new(Fixed(2), buf.as_mut_ptr(), 16).build();
            // SAFETY: `buf` outlives the request.
            assert_eq!(unsafe { run1(ring, r) }.result(), -libc::EBADF);
            // Closing an empty slot says so.
            let c = opcode::Close::new(Fixed(2)).build().user_data(12);
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, c) }.result(), -libc::EBADF);
        },
    );
}

#[test]
fn path_ops_rename_unlink_mkdir_symlink_link() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::RenameAt::CODE,
            opcode::UnlinkAt::CODE,
            opcode::MkDirAt::CODE,
            opcode::SymlinkAt::CODE,
            opcode::LinkAt::CODE,
        ],
        8,
        |_backend, ring| {
            let dir = tempfile::tempdir().unwrap();
            let d = File::open(dir.path()).unwrap();
            let dfd = d.as_raw_fd();
            std::fs::write(dir.path().join("a"), b"A").unwrap();
            std::fs::write(dir.path().join("other"), b"O").unwrap();
            let c = |s: &str| CString::new(s).unwrap();
            let (a, b, sub, sym, hard, other, nope) = (
                c("a"),
                c("b"),
                c("sub"),
                c("sym"),
                c("hard"),
                c("other"),
                c("nope"),
            );

            let steps: Vec<(uring::Sqe, i32)> = vec![
                (
                    opcode::MkDirAt::new(dfd, sub.as_ptr()).mode(0o700).build(),
                    0,
                ),
                (
                    opcode::MkDirAt::new(dfd, sub.as_ptr()).build(),
                    -libc::EEXIST,
                ),
                (
                    opcode::RenameAt::new(dfd, a.as_ptr(), dfd, b.as_ptr()).build(),
                    0,
                ),
                (
                    opcode::RenameAt::new(dfd, b.as_ptr(), dfd, other.as_ptr())
                        .flags(libc::RENAME_NOREPLACE)
                        .build(),
                    -libc::EEXIST,
                ),
                (
                    opcode::SymlinkAt::new(b.as_ptr(), dfd, sym.as_ptr()).build(),
                    0,
                ),
                (
                    opcode::LinkAt::new(dfd, b.as_ptr(), dfd, hard.as_ptr()).build(),
                    0,
                ),
                (
                    opcode::UnlinkAt::new(dfd, nope.as_ptr()).build(),
                    -libc::ENOENT,
                ),
            ];
            for (i, (sqe, want)) in steps.into_iter().enumerate() {
                // SAFETY: the names outlive the request.
                let got = unsafe { run1(ring, sqe.user_data(i as u64)) }.result();
                assert_eq!(got, want, "step {i}");
            }
            let p = dir.path();
            assert!(p.join("sub").is_dir());
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(p.join("sub"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
            assert!(!p.join("a").exists() && std::fs::read(p.join("b")).unwrap() == b"A");
            assert_eq!(
                std::fs::read(p.join("other")).unwrap(),
                b"O",
                "NOREPLACE kept it"
            );
            assert_eq!(
                std::fs::read_link(p.join("sym")).unwrap(),
                std::path::Path::new("b")
            );
            use std::os::unix::fs::MetadataExt;
            assert_eq!(std::fs::metadata(p.join("b")).unwrap().nlink(), 2);

            // UNLINKAT of the hard link and of the directory (AT_REMOVEDIR).
            let u = opcode::UnlinkAt::new(dfd, hard.as_ptr())
                .build()
                .user_data(20);
            // SAFETY: the name outlives the request.
            assert_eq!(unsafe { run1(ring, u) }.result(), 0);
            let u = opcode::UnlinkAt::new(dfd, sub.as_ptr())
                .build()
                .user_data(21);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, u) }.result(), -libc::EISDIR);
            let u = opcode::UnlinkAt::new(dfd, sub.as_ptr())
                .flags(libc::AT_REMOVEDIR)
                .build()
                .user_data(22);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, u) }.result(), 0);
            assert!(!p.join("hard").exists() && !p.join("sub").exists());
            assert_eq!(std::fs::metadata(p.join("b")).unwrap().nlink(), 1);
        },
    );
}

#[test]
fn xattrs_set_and_get_by_path_and_fd() {
    let test = test_name!();
    common::for_each_backend(
        test,
        &[
            opcode::SetXattr::CODE,
            opcode::GetXattr::CODE,
            opcode::FSetXattr::CODE,
            opcode::FGetXattr::CODE,
        ],
        8,
        |_backend, ring| {
            // The target dir, where user xattrs are more likely than on tmpfs.
            let base = std::env::var("CARGO_TARGET_TMPDIR").unwrap_or_else(|_| ".".into());
            let dir = tempfile::tempdir_in(base).unwrap();
            let path = dir.path().join("x");
            std::fs::write(&path, b"").unwrap();
            let p = cpath(&path);
            let n1 = CString::new("user.uring.one").unwrap();
            let n2 = CString::new("user.uring.two").unwrap();
            let n3 = CString::new("user.uring.none").unwrap();
            let v1 = b"hello";
            let set = opcode::SetXattr::new(p.as_ptr(), n1.as_ptr(), v1.as_ptr(), 5)
                .build()
                .user_data(1);
            // SAFETY: names and values outlive the request.
            let res = unsafe { run1(ring, set) }.result();
            if res == -libc::EOPNOTSUPP {
                return common::not_applicable(
                    test,
                    "the filesystem refuses user xattrs (EOPNOTSUPP)",
                );
            }
            assert_eq!(res, 0);

            let file = File::options().read(true).write(true).open(&path).unwrap();
            let v2 = b"world!";
            let sqes = [
                opcode::FSetXattr::new(&file, n2.as_ptr(), v2.as_ptr(), 6)
                    .flags(libc::XATTR_CREATE)
                    .build()
                    .user_data(2),
                // CREATE of an existing one, REPLACE of a missing one.
                opcode::SetXattr::new(p.as_ptr(), n1.as_ptr(), v1.as_ptr(), 5)
                    .flags(libc::XATTR_CREATE)
                    .build()
                    .user_data(3),
                opcode::FSetXattr::new(&file, n3.as_ptr(), v1.as_ptr(), 5)
                    .flags(libc::XATTR_REPLACE)
                    .build()
                    .user_data(4),
            ];
            // SAFETY: as above.
            let cqes = by_user_data(unsafe { run(ring, &sqes, 3) });
            let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
            assert_eq!(res, [0, -libc::EEXIST, -libc::ENODATA]);

            let mut b1 = [0u8; 64];
            let mut b2 = [0u8; 64];
            let mut b3 = [0u8; 64];
            let sqes = [
                opcode::GetXattr::new(p.as_ptr(), n2.as_ptr(), b1.as_mut_ptr(), 64)
                    .build()
                    .user_data(5),
                opcode::FGetXattr::new(&file, n1.as_ptr(), b2.as_mut_ptr(), 64)
                    .build()
                    .user_data(6),
                opcode::FGetXattr::new(&file, n3.as_ptr(), b3.as_mut_ptr(), 64)
                    .build()
                    .user_data(7),
            ];
            // SAFETY: names and buffers outlive the requests.
            let cqes = by_user_data(unsafe { run(ring, &sqes, 3) });
            let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
            assert_eq!(res, [6, 5, -libc::ENODATA]);
            assert_eq!(&b1[..6], b"world!");
            assert_eq!(&b2[..5], b"hello");
        },
    );
}

#[test]
fn splice_file_to_pipe_to_file_and_tee() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Splice::CODE, opcode::Tee::CODE],
        8,
        |_backend, ring| {
            let data = pattern(4000, 7);
            let src = temp_with(&data);
            let dst = tempfile::tempfile().unwrap();
            let (pr, pw) = common::pipe();
            let (qr, qw) = common::pipe();
            let fd = |f: &OwnedFd| Target::Fd(f.as_raw_fd());

            // file[100..1100] -> pipe -> dst at 50; and a tee of what is in the pipe.
            let s1 = opcode::Splice::new(&src, 100, fd(&pw), -1, 1000)
                .build()
                .user_data(1);
            // SAFETY: no user memory referenced.
            assert_eq!(unsafe { run1(ring, s1) }.result(), 1000);
            let t = opcode::Tee::new(fd(&pr), fd(&qw), 1000)
                .build()
                .user_data(2);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, t) }.result(), 1000);
            let s2 = opcode::Splice::new(fd(&pr), -1, &dst, 50, 1000)
                .flags(libc::SPLICE_F_MOVE)
                .build()
                .user_data(3);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, s2) }.result(), 1000);
            assert_eq!(read_all_at(&dst, 50, 1000), &data[100..1100]);
            // The tee'd copy is in the second pipe, the first is drained.
            let mut copy = vec![0u8; 1000];
            File::from(qr).read_exact(&mut copy).unwrap();
            assert_eq!(copy, &data[100..1100]);
            // Neither side a pipe: EINVAL.
            let bad = opcode::Splice::new(&src, 0, &dst, 0, 10)
                .build()
                .user_data(4);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, bad) }.result(), -libc::EINVAL);
            drop(pw);
        },
    );
}

#[test]
fn splice_from_a_fixed_file() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Splice::CODE],
        8,
        |_backend, ring| {
            let data = pattern(600, 3);
            let src = temp_with(&data);
            let (pr, pw) = common::pipe();
            common::raw_register_files(ring, &[src.as_raw_fd(), pw.as_raw_fd()]);
            // Both ends fixed: fd_out by IOSQE_FIXED_FILE, fd_in by SPLICE_F_FD_IN_FIXED.
            let s = opcode::Splice::new(Fixed(0), 0, Fixed(1), -1, 600).build();
            // SAFETY: no user memory referenced.
            assert_eq!(unsafe { run1(ring, s) }.result(), 600);
            let mut got = vec![0u8; 600];
            File::from(pr).read_exact(&mut got).unwrap();
            assert_eq!(got, data);
        },
    );
}

#[test]
fn pipe_creates_fds_and_direct_slots() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Pipe::CODE, opcode::Read::CODE, opcode::Write::CODE],
        8,
        |_backend, ring| {
            let mut fds: [RawFd; 2] = [-1, -1];
            let p = opcode::Pipe::new(fds.as_mut_ptr())
                .flags(libc::O_CLOEXEC as u32)
                .build()
                .user_data(1);
            // SAFETY: `fds` outlives the request.
            assert_eq!(unsafe { run1(ring, p) }.result(), 0);
            // SAFETY: two fresh descriptors, ours.
            let (r, w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
            (&w).write_all(b"through the pipe").unwrap();
            drop(w);
            let mut s = String::new();
            (&r).read_to_string(&mut s).unwrap();
            assert_eq!(s, "through the pipe");

            // Direct: both ends into slots 1 and 2.
            common::raw_register_files_sparse(ring, 4);
            let mut slots: [RawFd; 2] = [-1, -1];
            let p = opcode::Pipe::new(slots.as_mut_ptr())
                .file_index(DestinationSlot::Slot(1))
                .build()
                .user_data(2);
            // SAFETY: `slots` outlives the request.
            assert_eq!(unsafe { run1(ring, p) }.result(), 0);
            assert_eq!(slots, [1, 2], "the slots are reported in fds");
            let msg = b"fixed pipe";
            let w = opcode::Write::new(Fixed(2), msg.as_ptr(), msg.len() as u32)
                .build()
                .user_data(3);
            // SAFETY: `msg` is static.
            assert_eq!(unsafe { run1(ring, w) }.result(), msg.len() as i32);
            let mut buf = [0u8; 32];
            let rd = opcode::Read::new(Fixed(1), buf.as_mut_ptr(), 32)
                .build()
                .user_data(4);
            // SAFETY: `buf` outlives the request.
            assert_eq!(unsafe { run1(ring, rd) }.result(), msg.len() as i32);
            assert_eq!(&buf[..msg.len()], msg);

            // Allocated: two free slots (0 and 3 are left), written back into fds.
            let mut slots: [RawFd; 2] = [-1, -1];
            let p = opcode::Pipe::new(slots.as_mut_ptr())
                .file_index(DestinationSlot::Alloc)
                .build()
                .user_data(5);
            // SAFETY: `slots` outlives the request.
            assert_eq!(unsafe { run1(ring, p) }.result(), 0);
            let mut got = slots;
            got.sort();
            assert_eq!(got, [0, 3], "the two free slots");
            // Unknown pipe2(2) flags are refused.
            let p = opcode::Pipe::new(slots.as_mut_ptr()).flags(1 << 30).build();
            // SAFETY: `slots` outlives the request.
            assert_eq!(unsafe { run1(ring, p) }.result(), -libc::EINVAL);
        },
    );
}

#[test]
fn rw_flags_and_ioprio() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Read::CODE, opcode::Write::CODE],
        8,
        |_backend, ring| {
            let file = temp_with(b"0123456789");
            // RWF_APPEND: written at the end whatever the offset says.
            let w = opcode::Write::new(&file, b"tail".as_ptr(), 4)
                .offset(0)
                .rw_flags(libc::RWF_APPEND)
                .build();
            // SAFETY: the data is static.
            assert_eq!(unsafe { run1(ring, w) }.result(), 4);
            assert_eq!(read_all_at(&file, 0, 14), b"0123456789tail");
            // An I/O priority in the best-effort class is taken; an invalid class is refused.
            const IOPRIO_CLASS_SHIFT: u16 = 13;
            let mut buf = [0u8; 4];
            let ok = opcode::Read::new(&file, buf.as_mut_ptr(), 4)
                .ioprio((2 << IOPRIO_CLASS_SHIFT) | 4)
                .build()
                .user_data(1);
            let bad = opcode::Read::new(&file, buf.as_mut_ptr(), 4)
                .ioprio(7 << IOPRIO_CLASS_SHIFT)
                .build()
                .user_data(2);
            // SAFETY: `buf` outlives the requests.
            let cqes = by_user_data(unsafe { run(ring, &[ok, bad], 2) });
            let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
            assert_eq!(res, [4, -libc::EINVAL]);
            // Unknown RWF_* flags are refused.
            let w = opcode::Write::new(&file, b"x".as_ptr(), 1)
                .rw_flags(1 << 30)
                .build();
            // SAFETY: the data is static.
            assert_eq!(unsafe { run1(ring, w) }.result(), -libc::EOPNOTSUPP);
        },
    );
}

#[test]
fn provide_buffers_read_select_and_remove() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::ProvideBuffers::CODE,
            opcode::RemoveBuffers::CODE,
            opcode::Read::CODE,
            opcode::Readv::CODE,
        ],
        8,
        |_backend, ring| {
            let mut mem = vec![0u8; 4 * 64];
            common::provide_buffers(ring, &mut mem, 64, 4, 3);
            let file = temp_with(&pattern(100, 4));

            // READ with buffer select: the kernel picks a buffer and names it in the CQE.
            let r = opcode::Read::new(&file, std::ptr::null_mut(), 40)
                .offset(10)
                .buf_group(3)
                .build()
                .user_data(1);
            assert!(r.get_flags().contains(SqeFlags::BUFFER_SELECT));
            // SAFETY: the provided buffers outlive the request.
            let c = unsafe { run1(ring, r) };
            assert_eq!(c.result(), 40);
            let bid = c.selected_buffer().expect("a buffer id");
            assert_eq!(c.buffer_id(), Some(bid));
            assert!(bid < 4);
            let at = bid as usize * 64;
            assert_eq!(&mem[at..at + 40], &pattern(100, 4)[10..50]);

            // READV with buffer select: one iovec, its length caps the read.
            let iov = libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 30,
            };
            let r = opcode::Readv::new(&file, &raw const iov, 1)
                .buf_group(3)
                .build()
                .user_data(2);
            // SAFETY: `iov` and the buffers outlive the request.
            let c = unsafe { run1(ring, r) };
            assert_eq!(c.result(), 30);
            let bid2 = c.selected_buffer().expect("a buffer id");
            assert_ne!(bid2, bid, "a used buffer is not handed out again");
            let at = bid2 as usize * 64;
            assert_eq!(&mem[at..at + 30], &pattern(100, 4)[..30]);

            // Two buffers are left: REMOVE_BUFFERS takes them back and says how many.
            let rm = opcode::RemoveBuffers::new(16, 3).build().user_data(3);
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, rm) }.result(), 2);
            // An empty (now unknown) group: reads fail with ENOBUFS.
            let r = opcode::Read::new(&file, std::ptr::null_mut(), 40)
                .buf_group(3)
                .build()
                .user_data(4);
            // SAFETY: nothing to write into.
            assert_eq!(unsafe { run1(ring, r) }.result(), -libc::ENOBUFS);
        },
    );
}

#[test]
fn read_multishot_on_a_pipe_with_provided_buffers() {
    common::for_each_backend(
        test_name!(),
        &[opcode::ReadMulti::CODE, opcode::ProvideBuffers::CODE],
        8,
        |_backend, ring| {
            let mut mem = vec![0u8; 4 * 32];
            common::provide_buffers(ring, &mut mem, 32, 4, 9);
            let (r, w) = common::pipe();
            let mut w = File::from(w);
            let rm = opcode::ReadMulti::new(r.as_raw_fd(), 9)
                .build()
                .user_data(77);
            // SAFETY: the provided buffers outlive the request.
            unsafe { ring.submission().push(&rm) }.unwrap();
            ring.submit().unwrap();
            assert!(
                ring.submitter()
                    .wait_timeout(1, Duration::from_millis(50))
                    .is_err(),
                "nothing to read yet"
            );

            let mut seen = Vec::new();
            for (i, msg) in [&b"first"[..], &b"second message"[..]].iter().enumerate() {
                w.write_all(msg).unwrap();
                let c = common::reap(ring, 1, LIMIT)[0];
                assert_eq!(c.user_data(), 77);
                assert_eq!(c.result(), msg.len() as i32, "read {i}");
                assert!(c.has_more(), "still armed after read {i}: {c:?}");
                let bid = c.selected_buffer().expect("buffer id") as usize;
                assert_eq!(&mem[bid * 32..bid * 32 + msg.len()], *msg);
                seen.push(bid);
            }
            assert_ne!(seen[0], seen[1]);
            // EOF ends it: result 0, no F_MORE.
            drop(w);
            let c = common::reap(ring, 1, LIMIT)[0];
            assert_eq!((c.user_data(), c.result()), (77, 0), "{c:?}");
            assert!(!c.has_more());
        },
    );
}

#[test]
fn files_update_replaces_and_allocates_slots() {
    common::for_each_backend(
        test_name!(),
        &[opcode::FilesUpdate::CODE, opcode::Read::CODE],
        8,
        |_backend, ring| {
            let a = temp_with(b"AAAA");
            let b = temp_with(b"BBBB");
            let c = temp_with(b"CCCC");
            common::raw_register_files(ring, &[a.as_raw_fd(), -1, -1, -1]);
            let read_slot = |ring: &mut Ring, slot: u32| -> (i32, [u8; 4]) {
                let mut buf = [0u8; 4];
                let r = opcode::Read::new(Fixed(slot), buf.as_mut_ptr(), 4).build();
                // SAFETY: `buf` outlives the request.
                let res = unsafe { run1(ring, r) }.result();
                (res, buf)
            };
            assert_eq!(read_slot(ring, 0), (4, *b"AAAA"));
            assert_eq!(read_slot(ring, 1).0, -libc::EBADF);

            // Slot 1 <- b, slot 0 cleared (-1).
            let mut fds = [-1, b.as_raw_fd()];
            let u = opcode::FilesUpdate::new(fds.as_mut_ptr(), 2)
                .offset(0)
                .build();
            // SAFETY: `fds` outlives the request.
            assert_eq!(unsafe { run1(ring, u) }.result(), 2);
            assert_eq!(read_slot(ring, 0).0, -libc::EBADF);
            assert_eq!(read_slot(ring, 1), (4, *b"BBBB"));

            // IORING_FILE_INDEX_ALLOC: the kernel picks the slot and writes it back into fds.
            let mut fds = [c.as_raw_fd()];
            let u = opcode::FilesUpdate::new(fds.as_mut_ptr(), 1)
                .offset(sys::IORING_FILE_INDEX_ALLOC)
                .build();
            // SAFETY: `fds` outlives the request.
            assert_eq!(unsafe { run1(ring, u) }.result(), 1);
            let slot = fds[0];
            assert!((0..4).contains(&slot) && slot != 1, "allocated {slot}");
            assert_eq!(read_slot(ring, slot as u32), (4, *b"CCCC"));
        },
    );
}

#[test]
fn fixed_fd_install_makes_a_plain_fd() {
    common::for_each_backend(
        test_name!(),
        &[opcode::FixedFdInstall::CODE, opcode::OpenAt::CODE],
        8,
        |_backend, ring| {
            common::raw_register_files_sparse(ring, 2);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            std::fs::write(&path, b"installed").unwrap();
            let p = cpath(&path);
            let o = opcode::OpenAt::new(libc::AT_FDCWD, p.as_ptr())
                .file_index(DestinationSlot::Slot(0))
                .build();
            // SAFETY: the path outlives the request.
            assert_eq!(unsafe { run1(ring, o) }.result(), 0);

            let install = opcode::FixedFdInstall::new(0).build().user_data(1);
            assert!(install.get_flags().contains(SqeFlags::FIXED_FILE));
            let plain = opcode::FixedFdInstall::new(0)
                .flags(sys::IORING_FIXED_FD_NO_CLOEXEC)
                .build()
                .user_data(2);
            let empty = opcode::FixedFdInstall::new(1).build().user_data(3);
            // SAFETY: no user memory referenced.
            let cqes = by_user_data(unsafe { run(ring, &[install, plain, empty], 3) });
            let (fd1, fd2) = (cqes[0].result(), cqes[1].result());
            assert!(fd1 >= 0 && fd2 >= 0 && fd1 != fd2, "{cqes:?}");
            assert_eq!(cqes[2].result(), -libc::EBADF, "empty slot");
            // SAFETY: F_GETFD only queries.
            let (c1, c2) = unsafe {
                (
                    libc::fcntl(fd1, libc::F_GETFD),
                    libc::fcntl(fd2, libc::F_GETFD),
                )
            };
            assert_eq!(
                c1 & libc::FD_CLOEXEC,
                libc::FD_CLOEXEC,
                "O_CLOEXEC by default"
            );
            assert_eq!(c2 & libc::FD_CLOEXEC, 0, "NO_CLOEXEC");
            // Both are the same open file (one file position): read each at offset 0.
            for fd in [fd1, fd2] {
                // SAFETY: fresh descriptors, ours.
                let f = unsafe { File::from_raw_fd(fd) };
                assert_eq!(read_all_at(&f, 0, 9), b"installed");
            }
        },
    );
}
