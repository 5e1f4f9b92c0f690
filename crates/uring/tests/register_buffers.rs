//! Registered buffers on the real kernel: `IORING_REGISTER_BUFFERS`, `BUFFERS2` (tags,
//! sparse), `BUFFERS_UPDATE`, `UNREGISTER_BUFFERS`, `CLONE_BUFFERS`; each checked by
//! what a `READ_FIXED` through the table does.
use uring_testkit as common;
use uring_testkit::test_name;
mod register_common;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;

use common::{for_each_flavor, reap};
use register_common::{LIMIT, assert_errno, file_with, pattern, read_fixed, run1};
use uring::{Ring, sys};

fn iov(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

/// Reads `len` bytes at `off` of `file` into `buf` (registered as `index`) with
/// READ_FIXED and returns the CQE's result.
fn fixed_read(
    ring: &mut Ring,
    file: &std::fs::File,
    buf: *mut u8,
    len: u32,
    off: u64,
    index: u16,
) -> i32 {
    let sqe = read_fixed(file.as_raw_fd(), buf, len, off, index).user_data(0xf1);
    // SAFETY: `buf` points into a live registered buffer of at least `len` bytes (or,
    // in the refusal cases, the kernel refuses before touching memory); we wait for the
    // completion here.
    let cqe = unsafe { run1(ring, sqe) };
    assert_eq!(cqe.user_data(), 0xf1);
    cqe.result()
}

#[test]
fn read_fixed_goes_through_registered_buffers() {
    let data = pattern(8192, 3);
    let file = file_with(&data);
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        let iovs = [iov(&mut a), iov(&mut b)];
        // SAFETY: `a` and `b` outlive the registration: unregistered below, before
        // they are dropped.
        unsafe { ring.submitter().register_buffers(&iovs) }.unwrap();
        // SAFETY: as above.
        assert_errno(
            unsafe { ring.submitter().register_buffers(&iovs) },
            libc::EBUSY,
            "second registration",
        );

        let res = fixed_read(ring, &file, b.as_mut_ptr(), 4096, 4096, 1);
        assert_eq!(res, 4096, "[{}]", f.name);
        assert_eq!(
            b,
            data[4096..],
            "[{}] buffer 1 holds the second page",
            f.name
        );
        // Half of buffer 0, at an offset inside it.
        let res = fixed_read(ring, &file, a[100..].as_mut_ptr(), 1000, 0, 0);
        assert_eq!(res, 1000, "[{}]", f.name);
        assert_eq!(a[100..1100], data[..1000], "[{}]", f.name);
        // An address outside the registered buffer is refused.
        let mut other = vec![0u8; 64];
        let res = fixed_read(ring, &file, other.as_mut_ptr(), 64, 0, 0);
        assert_eq!(res, -libc::EFAULT, "[{}] address outside buffer 0", f.name);
        assert!(other.iter().all(|&x| x == 0));
        // An index beyond the table is refused.
        let res = fixed_read(ring, &file, a.as_mut_ptr(), 64, 0, 2);
        assert_eq!(res, -libc::EFAULT, "[{}] index 2 of 2", f.name);

        ring.submitter().unregister_buffers().unwrap();
        let res = fixed_read(ring, &file, a.as_mut_ptr(), 64, 0, 0);
        assert_eq!(res, -libc::EFAULT, "[{}] after unregister", f.name);
        assert_errno(
            ring.submitter().unregister_buffers(),
            libc::ENXIO,
            "unregister twice",
        );
    });
}

#[test]
fn buffer_tags_post_a_cqe_when_replaced_or_unregistered() {
    let data = pattern(4096, 9);
    let file = file_with(&data);
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        if common::lacks_feature(test_name!(), ring, sys::IORING_FEAT_RSRC_TAGS) {
            return;
        }
        let mut bufs = [vec![0u8; 512], vec![0u8; 512], vec![0u8; 512]];
        let mut fresh = vec![0u8; 512];
        let iovs: Vec<libc::iovec> = bufs.iter_mut().map(|b| iov(b)).collect();
        let sub = ring.submitter();
        assert!(
            matches!(
                // SAFETY: nothing registered: the tag check fails first.
                unsafe { sub.register_buffers_tags(&iovs, &[1]) },
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput
            ),
            "[{}] one tag for three buffers",
            f.name
        );
        // SAFETY: `bufs` and `fresh` outlive the registration (unregistered below).
        unsafe { sub.register_buffers_tags(&iovs, &[11, 0, 13]) }.unwrap();
        assert!(
            ring.completion().next().is_none(),
            "[{}] no CQE yet",
            f.name
        );

        // Replace slot 0: its tag (11) comes back; the new buffer works.
        // SAFETY: as above.
        let n = unsafe {
            ring.submitter()
                .register_buffers_update_tag(0, &[iov(&mut fresh)], &[21])
        }
        .unwrap();
        assert_eq!(n, 1, "[{}]", f.name);
        ring.submitter().get_events().unwrap();
        let cqes = reap(ring, 1, LIMIT);
        assert_eq!(
            (cqes[0].user_data(), cqes[0].result()),
            (11, 0),
            "[{}]",
            f.name
        );
        let res = fixed_read(ring, &file, fresh.as_mut_ptr(), 512, 0, 0);
        assert_eq!(res, 512, "[{}]", f.name);
        assert_eq!(fresh, data[..512], "[{}]", f.name);
        // The old buffer is out of the table.
        let res = fixed_read(ring, &file, bufs[0].as_mut_ptr(), 512, 0, 0);
        assert_eq!(res, -libc::EFAULT, "[{}] replaced buffer", f.name);

        // An update beyond the table fails.
        // SAFETY: refused by the kernel before anything is registered.
        assert_errno(
            unsafe {
                ring.submitter()
                    .register_buffers_update_tag(3, &[iov(&mut fresh)], &[])
            },
            libc::EINVAL,
            "update past the end",
        );

        // Unregister: tags 21 and 13 come back, tag 0 posts nothing.
        ring.submitter().unregister_buffers().unwrap();
        ring.submitter().get_events().unwrap();
        let got: BTreeSet<(u64, i32)> = reap(ring, 2, LIMIT)
            .iter()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        assert_eq!(got, BTreeSet::from([(13, 0), (21, 0)]), "[{}]", f.name);
        ring.submitter().get_events().unwrap();
        assert!(
            ring.completion().next().is_none(),
            "[{}] nothing for tag 0",
            f.name
        );
    });
}

#[test]
fn sparse_buffer_table_is_filled_by_updates() {
    let data = pattern(4096, 17);
    let file = file_with(&data);
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let sub = ring.submitter();
        sub.register_buffers_sparse(4).unwrap();
        assert_errno(sub.register_buffers_sparse(4), libc::EBUSY, "sparse twice");
        let mut buf = vec![0u8; 256];
        let res = fixed_read(ring, &file, buf.as_mut_ptr(), 256, 0, 2);
        assert_eq!(res, -libc::EFAULT, "[{}] empty slot", f.name);
        // SAFETY: `buf` outlives the registration: the table is unregistered below,
        // before `buf` goes.
        let n = unsafe {
            ring.submitter()
                .register_buffers_update_tag(2, &[iov(&mut buf)], &[])
        }
        .unwrap();
        assert_eq!(n, 1);
        let res = fixed_read(ring, &file, buf.as_mut_ptr(), 256, 256, 2);
        assert_eq!(res, 256, "[{}]", f.name);
        assert_eq!(buf, data[256..512], "[{}]", f.name);
        // Clearing the slot with a null iovec empties it again.
        let null = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: a null iovec registers no memory.
        let n = unsafe {
            ring.submitter()
                .register_buffers_update_tag(2, &[null], &[])
        }
        .unwrap();
        assert_eq!(n, 1);
        let res = fixed_read(ring, &file, buf.as_mut_ptr(), 256, 0, 2);
        assert_eq!(res, -libc::EFAULT, "[{}] cleared slot", f.name);
        ring.submitter().unregister_buffers().unwrap();
    });
}

#[test]
fn cloned_buffers_work_in_the_destination_ring() {
    common::for_each_backend_only(test_name!(), |backend| {
        let data = pattern(4096, 29);
        let file = file_with(&data);
        let mut a = vec![0u8; 1024];
        let mut b = vec![0u8; 1024];
        let mut src = common::builder(backend).build(8).unwrap();
        // SAFETY: `a` and `b` outlive every ring they end up registered in (all rings are
        // dropped at the end of the test, before the buffers, which were declared first).
        unsafe {
            src.submitter()
                .register_buffers(&[iov(&mut a), iov(&mut b)])
        }
        .unwrap();

        for f in common::flavors()
            .into_iter()
            .filter(|f| f.backend == backend)
        {
            let Some(mut dst) = common::ring(test_name!(), &f, 8) else {
                continue;
            };
            let dst = &mut dst;
            // SAFETY: as above.
            unsafe { dst.submitter().clone_buffers(&src) }.unwrap();
            let res = fixed_read(dst, &file, b.as_mut_ptr(), 1024, 1024, 1);
            assert_eq!(res, 1024, "[{}]", f.name);
            assert_eq!(b, data[1024..2048], "[{}]", f.name);
            // Again without DST_REPLACE: the table is taken.
            // SAFETY: as above.
            assert_errno(
                unsafe { dst.submitter().clone_buffers(&src) },
                libc::EBUSY,
                "clone into a full table",
            );
            // Offsets without a count are refused.
            // SAFETY: as above.
            assert_errno(
                unsafe {
                    dst.submitter().clone_buffers_offset(
                        &src,
                        2,
                        0,
                        0,
                        sys::IORING_REGISTER_DST_REPLACE,
                    )
                },
                libc::EINVAL,
                "offset without nr",
            );
            // Source buffer 0 into destination slot 2, keeping slots 0 and 1.
            // SAFETY: as above.
            unsafe {
                dst.submitter().clone_buffers_offset(
                    &src,
                    2,
                    0,
                    1,
                    sys::IORING_REGISTER_DST_REPLACE,
                )
            }
            .unwrap();
            let res = fixed_read(dst, &file, a.as_mut_ptr(), 1024, 2048, 2);
            assert_eq!(res, 1024, "[{}] slot 2 is source buffer 0", f.name);
            assert_eq!(a, data[2048..3072], "[{}]", f.name);
            let res = fixed_read(dst, &file, a.as_mut_ptr(), 1024, 0, 0);
            assert_eq!(res, 1024, "[{}] slot 0 kept", f.name);
            assert_eq!(a, data[..1024], "[{}]", f.name);
        }

        // By registered index: SRC_REGISTERED.
        let mut dst = common::builder(backend).build(8).unwrap();
        let src_fd = src.fd().map(|f| f.as_raw_fd()).unwrap();
        let index = dst.submitter().register_ring_fd_of(src_fd).unwrap();
        // SAFETY: as above.
        unsafe {
            dst.submitter()
                .clone_buffers_raw(index, 0, 0, 0, sys::IORING_REGISTER_SRC_REGISTERED)
        }
        .unwrap();
        dst.submitter().unregister_ring_fd_index(index).unwrap();
        // Unregistered from the source, the buffers stay in the clone.
        src.submitter().unregister_buffers().unwrap();
        let res = fixed_read(&mut dst, &file, b.as_mut_ptr(), 1024, 3072, 1);
        assert_eq!(res, 1024);
        assert_eq!(b, data[3072..]);
        let res = fixed_read(&mut src, &file, b.as_mut_ptr(), 1024, 0, 1);
        assert_eq!(res, -libc::EFAULT, "gone from the source");
        drop((dst, src));
    });
}

#[test]
fn clone_from_a_ring_without_fd_uses_its_registered_index() {
    common::for_each_backend_only(test_name!(), |backend| {
        let data = pattern(4096, 41);
        let file = file_with(&data);
        let mut buf = vec![0u8; 4096];
        let src = match common::builder(backend).registered_fd_only().build(4) {
            Ok(r) => r,
            Err(e) => {
                common::skip("clone_buffers registered_fd_only", &e.to_string());
                return;
            }
        };
        assert!(src.fd().map(|f| f.as_raw_fd()).is_none());
        // SAFETY: `buf` outlives both rings (declared before them).
        unsafe { src.submitter().register_buffers(&[iov(&mut buf)]) }.unwrap();
        let mut dst = common::builder(backend).build(4).unwrap();
        // SAFETY: as above.
        unsafe { dst.submitter().clone_buffers(&src) }.unwrap();
        let res = fixed_read(&mut dst, &file, buf.as_mut_ptr(), 4096, 0, 0);
        assert_eq!(res, 4096);
        assert_eq!(buf, data);
        drop((dst, src));
    });
}
