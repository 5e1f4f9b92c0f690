//! Registered files on the real kernel: `IORING_REGISTER_FILES`, `FILES2` (tags,
//! sparse), `FILES_UPDATE`, `FILES_UPDATE2`, `UNREGISTER_FILES`, `FILE_ALLOC_RANGE`;
//! each checked by what a read through [`Fixed`] does.
use uring_testkit as common;
use uring_testkit::test_name;
mod register_common;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;

use common::{for_each_flavor, reap};
use register_common::{LIMIT, assert_errno, file_with, openat_direct, pattern, run1};
use uring::types::Fixed;
use uring::{Ring, opcode, sys};

/// Reads up to 64 bytes at offset 0 of the registered file `index`; the bytes read,
/// or the CQE's `-errno`.
fn read_fixed_file(ring: &mut Ring, index: u32) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; 64];
    let sqe = opcode::Read::new(Fixed(index), buf.as_mut_ptr(), 64)
        .offset(0)
        .build()
        .user_data(0xf11e);
    // SAFETY: `buf` lives until the completion, reaped here.
    let cqe = unsafe { run1(ring, sqe) };
    assert_eq!(cqe.user_data(), 0xf11e);
    if cqe.result() < 0 {
        Err(cqe.result())
    } else {
        buf.truncate(cqe.result() as usize);
        Ok(buf)
    }
}

#[test]
fn fixed_files_are_read_through_their_index() {
    let (a, b, c) = (pattern(64, 1), pattern(64, 2), pattern(64, 3));
    let (fa, fb, fc) = (file_with(&a), file_with(&b), file_with(&c));
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let sub = ring.submitter();
        assert_errno(sub.register_files(&[]), libc::EINVAL, "empty table");
        sub.register_files(&[-1, fa.as_raw_fd()]).unwrap();
        assert_errno(
            sub.register_files(&[fa.as_raw_fd()]),
            libc::EBUSY,
            "second table",
        );
        assert_eq!(read_fixed_file(ring, 1), Ok(a.clone()), "[{}]", f.name);
        assert_eq!(
            read_fixed_file(ring, 0),
            Err(-libc::EBADF),
            "[{}] empty slot",
            f.name
        );
        assert_eq!(
            read_fixed_file(ring, 2),
            Err(-libc::EBADF),
            "[{}] past the end",
            f.name
        );

        // FILES_UPDATE: slot 0 gets b, slot 1 is skipped.
        let n = ring
            .submitter()
            .register_files_update(0, &[fb.as_raw_fd(), sys::IORING_REGISTER_FILES_SKIP])
            .unwrap();
        assert_eq!(n, 2, "[{}]", f.name);
        assert_eq!(read_fixed_file(ring, 0), Ok(b.clone()), "[{}]", f.name);
        assert_eq!(
            read_fixed_file(ring, 1),
            Ok(a.clone()),
            "[{}] skipped",
            f.name
        );
        // FILES_UPDATE2 without tags: slot 1 gets c; -1 clears slot 0.
        let n = ring
            .submitter()
            .register_files_update_tag(0, &[-1, fc.as_raw_fd()], &[])
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            read_fixed_file(ring, 0),
            Err(-libc::EBADF),
            "[{}] cleared",
            f.name
        );
        assert_eq!(read_fixed_file(ring, 1), Ok(c.clone()), "[{}]", f.name);
        assert_errno(
            ring.submitter().register_files_update(2, &[fa.as_raw_fd()]),
            libc::EINVAL,
            "update past the end",
        );

        ring.submitter().unregister_files().unwrap();
        assert_eq!(
            read_fixed_file(ring, 1),
            Err(-libc::EBADF),
            "[{}] unregistered",
            f.name
        );
        assert_errno(
            ring.submitter().unregister_files(),
            libc::ENXIO,
            "unregister twice",
        );
        assert_errno(
            ring.submitter().register_files_update(0, &[fa.as_raw_fd()]),
            libc::ENXIO,
            "update without a table",
        );
    });
}

#[test]
fn the_kernel_holds_its_own_reference_to_registered_files() {
    common::for_each_backend_only(test_name!(), |backend| {
        let data = pattern(64, 7);
        let mut ring = common::builder(backend).build(4).unwrap();
        let file = file_with(&data);
        ring.submitter()
            .register_files(&[file.as_raw_fd()])
            .unwrap();
        drop(file);
        assert_eq!(read_fixed_file(&mut ring, 0), Ok(data));
    });
}

#[test]
fn file_tags_post_a_cqe_when_replaced_or_unregistered() {
    let (a, b, c) = (pattern(64, 4), pattern(64, 5), pattern(64, 6));
    let (fa, fb, fc) = (file_with(&a), file_with(&b), file_with(&c));
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        if common::lacks_feature(test_name!(), ring, sys::IORING_FEAT_RSRC_TAGS) {
            return;
        }
        let sub = ring.submitter();
        assert_eq!(
            sub.register_files_tags(&[fa.as_raw_fd()], &[1, 2])
                .unwrap_err()
                .kind(),
            std::io::ErrorKind::InvalidInput
        );
        sub.register_files_tags(&[fa.as_raw_fd(), fb.as_raw_fd()], &[5, 6])
            .unwrap();
        assert_eq!(read_fixed_file(ring, 1), Ok(b.clone()), "[{}]", f.name);
        let n = ring
            .submitter()
            .register_files_update_tag(0, &[fc.as_raw_fd()], &[7])
            .unwrap();
        assert_eq!(n, 1);
        ring.submitter().get_events().unwrap();
        let cqes = reap(ring, 1, LIMIT);
        assert_eq!(
            (cqes[0].user_data(), cqes[0].result()),
            (5, 0),
            "[{}]",
            f.name
        );
        assert_eq!(read_fixed_file(ring, 0), Ok(c.clone()), "[{}]", f.name);

        ring.submitter().unregister_files().unwrap();
        ring.submitter().get_events().unwrap();
        let got: BTreeSet<(u64, i32)> = reap(ring, 2, LIMIT)
            .iter()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        assert_eq!(got, BTreeSet::from([(6, 0), (7, 0)]), "[{}]", f.name);
    });
}

#[test]
fn direct_opens_allocate_slots_inside_the_alloc_range() {
    let data = pattern(64, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, &data).unwrap();
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        assert_errno(
            ring.submitter().register_file_alloc_range(0, 4),
            libc::EINVAL,
            "range without a table",
        );
        ring.submitter().register_files_sparse(8).unwrap();
        assert_errno(
            ring.submitter().register_file_alloc_range(6, 4),
            libc::EINVAL,
            "range past the table",
        );
        ring.submitter().register_file_alloc_range(4, 2).unwrap();
        let mut slots = Vec::new();
        for _ in 0..2 {
            let sqe = openat_direct(&cpath, sys::IORING_FILE_INDEX_ALLOC).user_data(0x09e);
            // SAFETY: `cpath` outlives the completion, reaped here.
            let cqe = unsafe { run1(ring, sqe) };
            assert!(cqe.result() >= 0, "[{}] openat: {}", f.name, cqe.result());
            slots.push(cqe.result() as u32);
        }
        slots.sort_unstable();
        assert_eq!(slots, [4, 5], "[{}] allocated inside 4..6", f.name);
        let sqe = openat_direct(&cpath, sys::IORING_FILE_INDEX_ALLOC);
        // SAFETY: as above.
        let cqe = unsafe { run1(ring, sqe) };
        assert_eq!(cqe.result(), -libc::ENFILE, "[{}] range full", f.name);
        assert_eq!(read_fixed_file(ring, 5), Ok(data.clone()), "[{}]", f.name);
        assert_eq!(read_fixed_file(ring, 0), Err(-libc::EBADF), "[{}]", f.name);
        // A direct open into a chosen slot (file_index = slot + 1) ignores the range.
        let sqe = openat_direct(&cpath, 1);
        // SAFETY: as above.
        let cqe = unsafe { run1(ring, sqe) };
        assert_eq!(cqe.result(), 0, "[{}] direct open into slot 0", f.name);
        assert_eq!(read_fixed_file(ring, 0), Ok(data.clone()), "[{}]", f.name);
    });
}
