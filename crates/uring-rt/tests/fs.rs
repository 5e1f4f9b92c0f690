//! Files and paths, on both backends; std is the oracle for what landed on disk.
mod common;

use std::io::ErrorKind;

use uring_rt::IoBuf;
use uring_rt::fs::{self, File, OpenOptions};

#[test]
fn write_read_sync_close() {
    common::each_backend_in_dir("write_read_sync_close", |rt, _, dir| {
        let path = dir.join("a");
        rt.block_on(async {
            let f = File::create(&path).await.unwrap();
            let (n, buf) = f.write_at(b"hello world".to_vec(), 0).await;
            assert_eq!(n.unwrap(), 11);
            assert_eq!(buf, b"hello world");
            let (r, _) = f.write_all_at(&b"!!"[..], 11).await;
            r.unwrap();
            f.sync_all().await.unwrap();
            f.sync_data().await.unwrap();
            f.close().await.unwrap();

            let f = File::open(&path).await.unwrap();
            let (n, buf) = f.read_at(Vec::with_capacity(64), 6).await;
            assert_eq!(n.unwrap(), 7);
            assert_eq!(buf, b"world!!");
            // A slice reads into its range only.
            let (n, s) = f.read_at(vec![b'.'; 8].slice(2..7), 0).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(s.into_inner(), b"..hello.");
            let (r, buf) = f.read_exact_at(vec![0u8; 13], 0).await;
            r.unwrap();
            assert_eq!(buf, b"hello world!!");
            let (r, buf) = f.read_exact_at(Vec::with_capacity(20), 0).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            assert_eq!(buf, b"hello world!!");
            let m = f.metadata().await.unwrap();
            assert_eq!((m.len(), m.is_file(), m.is_dir()), (13, true, false));
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world!!");
    });
}

#[test]
fn vectored_and_static_buffers() {
    common::each_backend_in_dir("vectored_and_static_buffers", |rt, _, dir| {
        let path = dir.join("v");
        rt.block_on(async {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .await
                .unwrap();
            let (n, bufs) = f.writev_at(vec![&b"abc"[..], &b"defg"[..]], 0).await;
            assert_eq!(n.unwrap(), 7);
            assert_eq!(bufs.len(), 2);
            let (n, _) = f.write_at("xyz", 7).await;
            assert_eq!(n.unwrap(), 3);
            let (n, bufs) = f
                .readv_at(vec![Vec::with_capacity(2), Vec::with_capacity(16)], 1)
                .await;
            assert_eq!(n.unwrap(), 9);
            assert_eq!(bufs[0], b"bc");
            assert_eq!(bufs[1], b"defgxyz");
            let boxed: Box<[u8]> = vec![0u8; 4].into_boxed_slice();
            let (n, boxed) = f.read_at(boxed, 3).await;
            assert_eq!(n.unwrap(), 4);
            assert_eq!(&boxed[..], b"defg");
        });
    });
}

#[test]
fn set_len_fallocate_sync_range() {
    common::each_backend_in_dir("set_len_fallocate_sync_range", |rt, _, dir| {
        let path = dir.join("l");
        rt.block_on(async {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&path)
                .await
                .unwrap();
            f.set_len(10_000).await.unwrap();
            assert_eq!(f.metadata().await.unwrap().len(), 10_000);
            f.fallocate(0, 20_000, 0).await.unwrap();
            assert_eq!(f.metadata().await.unwrap().len(), 20_000);
            f.set_len(5).await.unwrap();
            f.sync_range(0, 0, libc::SYNC_FILE_RANGE_WRITE)
                .await
                .unwrap();
        });
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5);
    });
}

#[test]
fn path_operations() {
    common::each_backend_in_dir("path_operations", |rt, _, dir| {
        let d = dir;
        rt.block_on(async {
            fs::create_dir(d.join("sub")).await.unwrap();
            assert!(fs::metadata(d.join("sub")).await.unwrap().is_dir());
            let e = fs::create_dir(d.join("sub")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AlreadyExists);
            File::create(d.join("sub/f")).await.unwrap();
            fs::rename(d.join("sub/f"), d.join("g")).await.unwrap();
            fs::hard_link(d.join("g"), d.join("h")).await.unwrap();
            assert_eq!(fs::metadata(d.join("g")).await.unwrap().nlink(), 2);
            fs::symlink("g", d.join("s")).await.unwrap();
            assert!(
                fs::symlink_metadata(d.join("s"))
                    .await
                    .unwrap()
                    .is_symlink()
            );
            assert!(fs::metadata(d.join("s")).await.unwrap().is_file());
            fs::remove_file(d.join("s")).await.unwrap();
            fs::remove_file(d.join("h")).await.unwrap();
            fs::remove_dir(d.join("sub")).await.unwrap();
            let e = fs::remove_file(d.join("nope")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound);
        });
        assert!(d.join("g").exists() && !d.join("sub").exists());
    });
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    common::each_backend_in_dir("bad_input_is_an_error_not_a_panic", |rt, _, dir| {
        let path = dir.join("b");
        std::fs::write(&path, b"data").unwrap();
        rt.block_on(async {
            let f = File::open(&path).await.unwrap();
            let big = i64::MAX as u64 + 1;
            let (r, buf) = f.read_at(vec![0u8; 4], big).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
            assert_eq!(buf.len(), 4);
            let (r, _) = f.write_at(&b"x"[..], u64::MAX).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
            assert_eq!(
                f.set_len(big).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            assert_eq!(
                f.fallocate(big, 1, 0).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            assert_eq!(
                f.sync_range(0, 1 << 33, 0).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            let (r, _) = f.readv_at(Vec::<Vec<u8>>::new(), 0).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
            // Zero-length buffers: 0 bytes, as pread(2) says.
            let (r, _) = f.read_at(Vec::new(), 0).await;
            assert_eq!(r.unwrap(), 0);
            let (r, _) = f.read_exact_at(Vec::new(), 0).await;
            r.unwrap();
            // Writing to a read-only file: the kernel's EBADF.
            let (r, _) = f.write_at(&b"x"[..], 0).await;
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
            // A path with a NUL, contradictory options.
            let e = File::open("a\0b").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            let e = OpenOptions::new()
                .create(true)
                .open(&path)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            let e = OpenOptions::new().open(&path).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        });
    });
}

#[test]
fn o_direct_open_and_aligned_read() {
    common::each_backend_in_dir("o_direct_open_and_aligned_read", |rt, _, dir| {
        let path = dir.join("d");
        std::fs::write(&path, vec![7u8; 8192]).unwrap();
        rt.block_on(async {
            let f = match OpenOptions::new().read(true).direct(true).open(&path).await {
                Ok(f) => f,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    eprintln!("SKIP o_direct: the file system refuses O_DIRECT");
                    return;
                }
                Err(e) => panic!("{e}"),
            };
            // An aligned buffer: a 4096-aligned region of a larger Vec, through a slice.
            let v = vec![0u8; 8192];
            let off = v.as_ptr().align_offset(4096);
            let (n, s) = f.read_at(v.slice(off..off + 4096), 0).await;
            assert_eq!(n.unwrap(), 4096);
            assert!(s.into_inner()[off..off + 4096].iter().all(|&b| b == 7));
        });
    });
}
