//! Provided-buffer rings on the real kernel: [`BufRing`] (user and kernel-allocated
//! ring memory, incremental consumption) and the raw `IORING_REGISTER_PBUF_RING`,
//! `UNREGISTER_PBUF_RING` and `PBUF_STATUS`; reads from a pipe pick buffers, the data
//! lands in them, and recycled buffers are picked again.
use uring_testkit as common;
use uring_testkit::test_name;
mod register_common;

use std::os::fd::{AsRawFd, OwnedFd};

use common::for_each_flavor;
use register_common::{assert_errno, has_fd, pipe, run1, write_all};
use uring::buf_ring::BufRing;
use uring::types::Fd;
use uring::{Cqe, Ring, SqeFlags, opcode, sys};

/// A READ of up to `len` bytes from `fd` into a buffer of group `bgid`.
fn select_read(fd: &OwnedFd, len: u32, bgid: u16, user_data: u64) -> uring::Sqe {
    opcode::Read::new(Fd(fd.as_raw_fd()), std::ptr::null_mut(), len)
        .offset(u64::MAX)
        .buf_group(bgid)
        .build()
        .flags(SqeFlags::BUFFER_SELECT)
        .user_data(user_data)
}

/// Writes `data` into the pipe and reads it back through group `bgid`.
fn pipe_read(ring: &mut Ring, r: &OwnedFd, w: &OwnedFd, data: &[u8], bgid: u16) -> Cqe {
    write_all(w, data);
    // SAFETY: the read picks a buffer of the group, owned by a BufRing that outlives
    // this completion, reaped here.
    unsafe { run1(ring, select_read(r, 4096, bgid, 0xb1)) }
}

fn payload(i: usize) -> Vec<u8> {
    format!("message number {i}").into_bytes()
}

#[test]
fn reads_pick_buffers_and_recycled_buffers_come_back() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let (r, w) = pipe();
        let bufs = BufRing::new(&ring.submitter(), 3, 4, 64).unwrap();
        assert_eq!((bufs.bgid(), bufs.entries(), bufs.buf_len()), (3, 4, 64));
        assert_eq!(
            ring.submitter().buf_ring_head(3).unwrap(),
            0,
            "[{}]",
            f.name
        );
        let mut seen = Vec::new();
        // Three rounds of the ring: only possible if every buffer is recycled.
        for i in 0..12 {
            let cqe = pipe_read(ring, &r, &w, &payload(i), 3);
            assert_eq!(
                cqe.result(),
                payload(i).len() as i32,
                "[{}] read {i}",
                f.name
            );
            let bid = cqe.buffer_id().expect("a buffer was picked");
            // SAFETY: `cqe` completes a read of this ring that selected from group 3.
            let buf = unsafe { bufs.get(&cqe) }.expect("buffer of the group");
            assert_eq!(buf.bid(), bid);
            assert_eq!(&buf[..], &payload(i)[..], "[{}] read {i}", f.name);
            seen.push(bid);
            drop(buf);
            // The kernel's head has moved past every buffer consumed.
            let head = ring.submitter().buf_ring_head(3).unwrap();
            assert_eq!(head, i as u16 + 1, "[{}] PBUF_STATUS head", f.name);
        }
        // The ring hands buffers out in order, and recycled ones come back in order.
        assert_eq!(seen, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], "[{}]", f.name);
        bufs.unregister(&ring.submitter()).unwrap();
        assert_errno(
            ring.submitter().unregister_buf_ring(3),
            libc::ENOENT,
            "unregister twice",
        );
        assert_errno(
            ring.submitter().buf_ring_head(3),
            libc::ENOENT,
            "status after",
        );
    });
}

#[test]
fn held_buffers_are_not_picked_again_until_dropped() {
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::builder(backend).build(8).unwrap();
        let (r, w) = pipe();
        let bufs = BufRing::new(&ring.submitter(), 9, 2, 32).unwrap();
        let c0 = pipe_read(&mut ring, &r, &w, b"first", 9);
        let c1 = pipe_read(&mut ring, &r, &w, b"second", 9);
        // SAFETY: both complete reads of this ring that selected from group 9, once each.
        let (b0, b1) = unsafe { (bufs.get(&c0).unwrap(), bufs.get(&c1).unwrap()) };
        assert_eq!((&b0[..], &b1[..]), (&b"first"[..], &b"second"[..]));
        // SAFETY: a repeated CQE is refused by the bookkeeping (no second borrow).
        assert!(unsafe { bufs.get(&c0) }.is_none(), "handed out twice");
        // Both buffers are out: the ring is empty, so the kernel has none to give.
        let c2 = pipe_read(&mut ring, &r, &w, b"third", 9);
        assert_eq!(c2.result(), -libc::ENOBUFS);
        assert_eq!(c2.buffer_id(), None);
        drop(b1);
        // The data of the failed read is still in the pipe; it now lands in buffer 1.
        // SAFETY: as `pipe_read`.
        let c3 = unsafe { run1(&mut ring, select_read(&r, 4096, 9, 0xb3)) };
        // SAFETY: as above.
        let b3 = unsafe { bufs.get(&c3) }.unwrap();
        assert_eq!((b3.bid(), &b3[..]), (1, &b"third"[..]));
        assert_eq!(&b0[..], b"first", "buffer 0 untouched while held");
        drop((b0, b3));
        // A group nobody registered.
        let c4 = pipe_read(&mut ring, &r, &w, b"x", 10);
        assert_eq!(c4.result(), -libc::ENOBUFS);
        bufs.unregister(&ring.submitter()).unwrap();
    });
}

#[test]
fn a_buf_ring_refuses_to_unregister_from_another_ring() {
    // Two rings with a group of the same id: unregistering the first ring's BufRing
    // through the second ring's submitter would remove the second ring's group and
    // free memory the first ring still hands out. It must be refused, and both groups
    // must keep working.
    common::for_each_backend_only("a_buf_ring_refuses_another_ring", |backend| {
        let mut a = common::builder(backend).build(4).unwrap();
        let mut b = common::builder(backend).build(4).unwrap();
        let bufs_a = BufRing::new(&a.submitter(), 7, 2, 32).unwrap();
        let bufs_b = BufRing::new(&b.submitter(), 7, 2, 32).unwrap();
        let e = bufs_a.unregister(&b.submitter()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        // b's group is still there, and so is a's (the refused BufRing was not freed:
        // a read through a's group still lands in live memory).
        assert_errno(
            BufRing::new(&b.submitter(), 7, 2, 32),
            libc::EEXIST,
            "b's group",
        );
        assert_errno(
            BufRing::new(&a.submitter(), 7, 2, 32),
            libc::EEXIST,
            "a's group",
        );
        let (r, w) = pipe();
        for (ring, bufs) in [(&mut a, None), (&mut b, Some(&bufs_b))] {
            let cqe = pipe_read(ring, &r, &w, b"still here", 7);
            assert_eq!(cqe.result(), 10);
            if let Some(bufs) = bufs {
                // SAFETY: `cqe` completes a read of ring b that selected from group 7.
                assert_eq!(&unsafe { bufs.get(&cqe) }.unwrap()[..], b"still here");
            }
        }
        bufs_b.unregister(&b.submitter()).unwrap();
    });
}

#[test]
fn buffer_group_ids_are_exclusive_and_arguments_checked() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend).build(4).unwrap();
        let sub = ring.submitter();
        let bufs = BufRing::new(&sub, 5, 4, 16).unwrap();
        assert_errno(
            BufRing::new(&sub, 5, 4, 16),
            libc::EEXIST,
            "same group twice",
        );
        assert_eq!(
            BufRing::new(&sub, 6, 3, 16).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput,
            "entries not a power of two"
        );
        // The raw call checks for itself: an unaligned ring is refused.
        let mut mem = vec![0u8; 8192];
        let reg = sys::io_uring_buf_reg {
            ring_addr: mem.as_mut_ptr() as u64 | 8,
            ring_entries: 4,
            bgid: 7,
            ..Default::default()
        };
        // SAFETY: the kernel refuses the unaligned address before keeping anything.
        assert_errno(
            unsafe { sub.register_buf_ring(&reg) },
            libc::EINVAL,
            "unaligned ring",
        );
        bufs.unregister(&sub).unwrap();
        // Unregistered, the group can be registered again.
        BufRing::new(&sub, 5, 4, 16)
            .unwrap()
            .unregister(&sub)
            .unwrap();
    });
}

#[test]
fn kernel_allocated_ring_works_like_ours() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        if !has_fd(ring) {
            let e = BufRing::builder(4, 4, 64).build_mapped(ring).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "[{}]", f.name);
            return;
        }
        let (r, w) = pipe();
        let bufs = BufRing::builder(4, 4, 64).build_mapped(ring).unwrap();
        for i in 0..8 {
            let cqe = pipe_read(ring, &r, &w, &payload(i), 4);
            // SAFETY: completes a read of this ring that selected from group 4.
            let buf = unsafe { bufs.get(&cqe) }.expect("a buffer");
            assert_eq!(buf.bid(), (i % 4) as u16, "[{}]", f.name);
            assert_eq!(&buf[..], &payload(i)[..], "[{}]", f.name);
        }
        bufs.unregister(&ring.submitter()).unwrap();
    });
}

#[test]
fn incremental_consumption_fills_one_buffer_piece_by_piece() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let (r, w) = pipe();
        let bufs = match BufRing::builder(2, 2, 16)
            .incremental()
            .build(&ring.submitter())
        {
            Ok(b) => b,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                common::skip(test_name!(), "kernel lacks IOU_PBUF_RING_INC (6.12)");
                return;
            }
            Err(e) => panic!("[{}] {e}", f.name),
        };
        assert!(bufs.is_incremental());
        let c1 = pipe_read(ring, &r, &w, b"abc", 2);
        let c2 = pipe_read(ring, &r, &w, b"defgh", 2);
        for c in [&c1, &c2] {
            assert!(
                c.flags() & sys::IORING_CQE_F_BUF_MORE != 0,
                "[{}] BUF_MORE: {c:?}",
                f.name
            );
            assert_eq!(c.buffer_id(), Some(0), "[{}] same buffer", f.name);
        }
        // SAFETY: each completes a read of this ring from group 2, passed once.
        let (p1, p2) = unsafe { (bufs.get(&c1).unwrap(), bufs.get(&c2).unwrap()) };
        assert_eq!(
            (&p1[..], &p2[..]),
            (&b"abc"[..], &b"defgh"[..]),
            "[{}]",
            f.name
        );
        // The pieces are consecutive in the buffer.
        assert_eq!(p2.as_ptr(), p1.as_ptr().wrapping_add(3), "[{}]", f.name);
        // The kernel has not moved past the buffer: it is still being filled.
        assert_eq!(
            ring.submitter().buf_ring_head(2).unwrap(),
            0,
            "[{}]",
            f.name
        );
        // 8 bytes fill the remaining 8 exactly: the buffer is done, no BUF_MORE.
        let c3 = pipe_read(ring, &r, &w, b"ijklmnop", 2);
        assert_eq!(c3.result(), 8, "[{}]", f.name);
        assert_eq!(
            c3.flags() & sys::IORING_CQE_F_BUF_MORE,
            0,
            "[{}] {c3:?}",
            f.name
        );
        assert_eq!(
            ring.submitter().buf_ring_head(2).unwrap(),
            1,
            "[{}]",
            f.name
        );
        // SAFETY: as above.
        let p3 = unsafe { bufs.get(&c3).unwrap() };
        assert_eq!(&p3[..], b"ijklmnop");
        // The next read goes to buffer 1; buffer 0 only returns once all pieces drop.
        let c4 = pipe_read(ring, &r, &w, b"q", 2);
        assert_eq!(c4.buffer_id(), Some(1), "[{}]", f.name);
        // SAFETY: as above.
        drop(unsafe { bufs.get(&c4) });
        drop((p1, p2, p3));
        bufs.unregister(&ring.submitter()).unwrap();
    });
}
