//! Asynchronous cancellation on the real kernel: by `user_data`, by file, by opcode,
//! any, all, with the kernel's codes (`-ECANCELED` for the victim; `0`, a count,
//! `-ENOENT` or `-EALREADY` for the cancel).
use uring_testkit as common;
use uring_testkit::test_name;

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use common::run;
use uring::types::{Fixed, Target};
use uring::{Cqe, Ring, SqeFlags, opcode, sys};

/// Pushes reads of an empty pipe (they stay pending) with the given user_data.
fn pending_reads(ring: &mut Ring, fd: Target, ids: &[u64], bufs: &mut [[u8; 8]]) {
    let sqes: Vec<uring::Sqe> = ids
        .iter()
        .zip(bufs.iter_mut())
        .map(|(&id, b)| {
            opcode::Read::new(fd, b.as_mut_ptr(), 8)
                .build()
                .user_data(id)
        })
        .collect();
    // SAFETY: the callers keep `bufs` alive until the reads are reaped.
    unsafe { ring.submission().push_multiple(&sqes) }.unwrap();
    ring.submit().unwrap();
    assert!(
        ring.submitter()
            .wait_timeout(1, Duration::from_millis(20))
            .is_err(),
        "reads of an empty pipe must stay pending"
    );
}

fn sorted(mut cqes: Vec<Cqe>) -> Vec<(u64, i32)> {
    cqes.sort_by_key(Cqe::user_data);
    cqes.iter().map(|c| (c.user_data(), c.result())).collect()
}

const CANCEL_OPS: &[u8] = &[
    opcode::AsyncCancel::CODE,
    opcode::Read::CODE,
    opcode::PollAdd::CODE,
];

fn fd(f: &OwnedFd) -> Target {
    Target::Fd(f.as_raw_fd())
}

#[test]
fn cancel_by_user_data() {
    common::for_each_backend(test_name!(), CANCEL_OPS, 16, |_backend, ring| {
        let (r, _w) = common::pipe();
        let mut bufs = [[0u8; 8]; 2];
        pending_reads(ring, fd(&r), &[1, 2], &mut bufs);
        let sqes = [
            opcode::AsyncCancel::new(1).build().user_data(10),
            opcode::AsyncCancel::new(999).build().user_data(11),
        ];
        // SAFETY: no memory referenced by the cancels; `bufs` outlives the reads.
        let got = sorted(unsafe { run(ring, &sqes, 3) });
        assert_eq!(got, [(1, -libc::ECANCELED), (10, 0), (11, -libc::ENOENT)]);
        // Read 2 is untouched: cancel it too to finish cleanly.
        let c = opcode::AsyncCancel::new(2).build().user_data(12);
        // SAFETY: as above.
        let got = sorted(unsafe { run(ring, &[c], 2) });
        assert_eq!(got, [(2, -libc::ECANCELED), (12, 0)]);
    });
}

#[test]
fn cancel_by_fd_first_and_all() {
    common::for_each_backend(test_name!(), CANCEL_OPS, 16, |_backend, ring| {
        let (a, _aw) = common::pipe();
        let (b, _bw) = common::pipe();
        let mut bufs = [[0u8; 8]; 4];
        let (ba, bb) = bufs.split_at_mut(3);
        pending_reads(ring, fd(&a), &[1, 2, 3], ba);
        pending_reads(ring, fd(&b), &[4], bb);
        // By fd, all: the three reads of pipe a; the result is how many.
        let c = opcode::AsyncCancel::by_fd(fd(&a))
            .all(true)
            .build()
            .user_data(10);
        // SAFETY: `bufs` outlives the reads.
        let got = sorted(unsafe { run(ring, &[c], 4) });
        assert_eq!(
            got,
            [
                (1, -libc::ECANCELED),
                (2, -libc::ECANCELED),
                (3, -libc::ECANCELED),
                (10, 3)
            ]
        );
        // By fd without ALL: the first match only, result 0; nothing left: -ENOENT.
        let c = opcode::AsyncCancel::by_fd(fd(&b)).build().user_data(11);
        // SAFETY: as above.
        let got = sorted(unsafe { run(ring, &[c], 2) });
        assert_eq!(got, [(4, -libc::ECANCELED), (11, 0)]);
        let c = opcode::AsyncCancel::by_fd(fd(&b)).build().user_data(12);
        // SAFETY: as above.
        let got = sorted(unsafe { run(ring, &[c], 1) });
        assert_eq!(got, [(12, -libc::ENOENT)]);
    });
}

#[test]
fn cancel_by_fixed_fd() {
    common::for_each_backend(test_name!(), CANCEL_OPS, 16, |_backend, ring| {
        let (r, _w) = common::pipe();
        common::raw_register_files(ring, &[r.as_raw_fd()]);
        let mut bufs = [[0u8; 8]; 2];
        pending_reads(ring, Target::Fixed(0), &[1, 2], &mut bufs);
        let c = opcode::AsyncCancel::by_fd(Fixed(0))
            .all(true)
            .build()
            .user_data(10);
        assert_eq!(
            c.as_raw().fd,
            0,
            "the fixed index travels in fd, without IOSQE_FIXED_FILE"
        );
        assert!(!c.get_flags().contains(SqeFlags::FIXED_FILE));
        // SAFETY: `bufs` outlives the reads.
        let got = sorted(unsafe { run(ring, &[c], 3) });
        assert_eq!(got, [(1, -libc::ECANCELED), (2, -libc::ECANCELED), (10, 2)]);
    });
}

#[test]
fn cancel_any_and_by_opcode() {
    common::for_each_backend(test_name!(), CANCEL_OPS, 16, |_backend, ring| {
        let (r, _w) = common::pipe();
        let (r2, _w2) = common::pipe();
        let mut bufs = [[0u8; 8]; 2];
        pending_reads(ring, fd(&r), &[1, 2], &mut bufs);
        let poll = opcode::PollAdd::new(fd(&r2), libc::POLLIN as u32)
            .build()
            .user_data(3);
        // SAFETY: no memory referenced.
        unsafe { ring.submission().push(&poll) }.unwrap();
        ring.submit().unwrap();

        // By opcode: only the poll goes.
        let c = opcode::AsyncCancel::new(0)
            .opcode(sys::IORING_OP_POLL_ADD)
            .all(true)
            .build()
            .user_data(10);
        // SAFETY: as above.
        let got = sorted(unsafe { run(ring, &[c], 2) });
        assert_eq!(got, [(3, -libc::ECANCELED), (10, 1)]);

        // ANY implies ALL: everything left, i.e. the two reads; the result is the count.
        let c = opcode::AsyncCancel::new(0).any(true).build().user_data(11);
        // SAFETY: `bufs` outlives the reads.
        let got = sorted(unsafe { run(ring, &[c], 3) });
        assert_eq!(got, [(1, -libc::ECANCELED), (2, -libc::ECANCELED), (11, 2)]);

        // ANY with nothing in flight: a count of 0, not -ENOENT.
        let c = opcode::AsyncCancel::new(0).any(true).build().user_data(12);
        // SAFETY: no memory referenced.
        assert_eq!(sorted(unsafe { run(ring, &[c], 1) }), [(12, 0)]);
        // Likewise ALL by user_data with no match.
        let c = opcode::AsyncCancel::new(777)
            .all(true)
            .build()
            .user_data(14);
        // SAFETY: no memory referenced.
        assert_eq!(sorted(unsafe { run(ring, &[c], 1) }), [(14, 0)]);
        // ANY with FD is contradictory.
        let c = opcode::AsyncCancel::by_fd(fd(&r))
            .any(true)
            .build()
            .user_data(13);
        // SAFETY: no memory referenced.
        let got = sorted(unsafe { run(ring, &[c], 1) });
        assert_eq!(got, [(13, -libc::EINVAL)]);
    });
}

#[test]
fn cancel_of_running_work_is_ealready() {
    // A SPLICE always runs in an io-wq worker; from an empty pipe it blocks there.
    // Cancelling it finds it running: the cancel says -EALREADY, and the worker is
    // interrupted, so the splice ends instead of blocking for ever. On 6.18 its CQE
    // carries the kernel-internal -ERESTARTSYS (512), not -EINTR.
    let test = test_name!();
    common::for_each_backend(
        test,
        &[opcode::AsyncCancel::CODE, opcode::Splice::CODE],
        8,
        |_backend, ring| {
            let (r, _w) = common::pipe();
            let file = tempfile::tempfile().unwrap();
            // The worker may not have picked the splice up yet (then the cancel removes it from
            // the queue: 0 and -ECANCELED); under load, give it longer and try again.
            for attempt in 1..=5u64 {
                let s = opcode::Splice::new(fd(&r), -1, &file, 0, 100)
                    .build()
                    .user_data(1);
                // SAFETY: no user memory referenced.
                unsafe { ring.submission().push(&s) }.unwrap();
                ring.submit().unwrap();
                std::thread::sleep(Duration::from_millis(50 * attempt));
                let c = opcode::AsyncCancel::new(1).build().user_data(2);
                // SAFETY: no memory referenced.
                let got = sorted(unsafe { run(ring, &[c], 2) });
                if got == [(1, -libc::ECANCELED), (2, 0)] {
                    continue;
                }
                assert_eq!(got[1], (2, -libc::EALREADY), "{got:?}");
                const ERESTARTSYS: i32 = 512;
                assert!(
                    got[0] == (1, -ERESTARTSYS) || got[0] == (1, -libc::EINTR),
                    "the interrupted splice: {got:?}"
                );
                return;
            }
            panic!("the splice never got to run in a worker");
        },
    );
}
