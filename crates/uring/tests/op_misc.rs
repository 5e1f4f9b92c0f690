//! The rest on the real kernel: NOP (injected results, file and buffer checks),
//! MSG_RING between two rings (data and send-fd), futex wait/wake/waitv, waitid on a
//! child process.
use uring_testkit as common;
use uring_testkit::test_name;

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::process::Command;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use common::{reap, run, run1};
use uring::types::{DestinationSlot, Fixed, FutexWaitV, futex2};
use uring::{Cqe, Ring, opcode};

const LIMIT: Duration = Duration::from_secs(10);

fn push(ring: &mut Ring, sqes: &[uring::Sqe]) {
    // SAFETY: every caller keeps what its SQEs point to alive until they are reaped.
    unsafe { ring.submission().push_multiple(sqes) }.unwrap();
    ring.submit().unwrap();
}

fn nothing_within(ring: &mut Ring, ms: u64) -> bool {
    let _ = ring.submitter().wait_timeout(1, Duration::from_millis(ms));
    ring.completion().next().is_none()
}

fn sorted(mut cqes: Vec<Cqe>) -> Vec<(u64, i32)> {
    cqes.sort_by_key(Cqe::user_data);
    cqes.iter().map(|c| (c.user_data(), c.result())).collect()
}

#[test]
fn nop_inject_result_and_file_checks() {
    common::for_each_backend(test_name!(), &[opcode::Nop::CODE], 8, |_backend, ring| {
        let file = tempfile::tempfile().unwrap();
        let sqes = [
            opcode::Nop::new().build().user_data(1),
            opcode::Nop::new().inject_result(12345).build().user_data(2),
            opcode::Nop::new()
                .inject_result(-libc::EIO)
                .build()
                .user_data(3),
            // IORING_NOP_FILE: a good fd passes, a bad one fails the request.
            opcode::Nop::new().fd(file.as_raw_fd()).build().user_data(4),
            opcode::Nop::new().fd(-1).build().user_data(5),
            // A fixed file and a registered buffer that do not exist.
            opcode::Nop::new().fd(Fixed(3)).build().user_data(6),
            opcode::Nop::new().buf_index(0).build().user_data(7),
        ];
        assert_eq!(
            sqes[1].as_raw().len,
            12345,
            "the injected result travels in len"
        );
        // SAFETY: NOPs reference no memory.
        let got = sorted(unsafe { run(ring, &sqes, 7) });
        assert_eq!(
            got,
            [
                (1, 0),
                (2, 12345),
                (3, -libc::EIO),
                (4, 0),
                (5, -libc::EBADF),
                (6, -libc::EBADF),
                (7, -libc::EFAULT)
            ]
        );
        // Unknown NOP flags are refused.
        let bad = opcode::Nop::new().nop_flags(1 << 20).build();
        // SAFETY: as above.
        assert_eq!(unsafe { run1(ring, bad) }.result(), -libc::EINVAL);
    });
}

#[test]
fn msg_ring_data_between_two_rings() {
    let test = test_name!();
    common::for_each_backend(test, &[opcode::MsgRing::CODE], 8, |backend, a| {
        let mut b = common::new_ring(backend, 8);
        let bfd = b.fd().map(|f| f.as_raw_fd()).unwrap();
        let m = opcode::MsgRing::data(bfd, 77, 0xabc).build().user_data(1);
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(a, m) }.result(), 0, "the sender's CQE");
        let c = reap(&mut b, 1, LIMIT)[0];
        assert_eq!((c.user_data(), c.result(), c.flags()), (0xabc, 77, 0));

        // IORING_MSG_RING_FLAGS_PASS: the target CQE's flags are ours to choose.
        let m = opcode::MsgRing::data(bfd, -5, 0xdef)
            .cqe_flags(0x5a5a_0000)
            .build()
            .user_data(2);
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(a, m) }.result(), 0);
        let c = reap(&mut b, 1, LIMIT)[0];
        assert_eq!(
            (c.user_data(), c.result(), c.flags()),
            (0xdef, -5, 0x5a5a_0000)
        );

        // Not a ring: -EBADFD.
        let f = tempfile::tempfile().unwrap();
        let m = opcode::MsgRing::data(f.as_raw_fd(), 1, 1).build();
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(a, m) }.result(), -libc::EBADFD);
    });
}

#[test]
fn msg_ring_sends_a_fixed_file_to_another_ring() {
    let test = test_name!();
    let ops = [opcode::MsgRing::CODE, opcode::Read::CODE];
    common::for_each_backend(test, &ops, 8, |backend, a| {
        let mut b = common::new_ring(backend, 8);
        let file = tempfile::tempfile().unwrap();
        file.write_all_at(b"sent across rings", 0).unwrap();
        common::raw_register_files(a, &[file.as_raw_fd()]);
        common::raw_register_files_sparse(&b, 4);
        let bfd = b.fd().map(|f| f.as_raw_fd()).unwrap();

        let m = opcode::MsgRing::send_fd(bfd, 0, DestinationSlot::Slot(2), 0x11)
            .build()
            .user_data(1);
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(a, m) }.result(), 0);
        let c = reap(&mut b, 1, LIMIT)[0];
        assert_eq!((c.user_data(), c.result()), (0x11, 0));
        let mut buf = [0u8; 32];
        let r = opcode::Read::new(Fixed(2), buf.as_mut_ptr(), 32).build();
        // SAFETY: `buf` outlives the request.
        assert_eq!(unsafe { run1(&mut b, r) }.result(), 17);
        assert_eq!(&buf[..17], b"sent across rings");

        // Into an allocated slot: both sides learn it. With CQE_SKIP, the target gets no CQE.
        let m = opcode::MsgRing::send_fd(bfd, 0, DestinationSlot::Alloc, 0x22)
            .build()
            .user_data(2);
        // SAFETY: no memory referenced.
        let slot = unsafe { run1(a, m) }.result();
        assert!((0..4).contains(&slot) && slot != 2, "allocated {slot}");
        let c = reap(&mut b, 1, LIMIT)[0];
        assert_eq!((c.user_data(), c.result()), (0x22, slot));
        let m = opcode::MsgRing::send_fd(bfd, 0, DestinationSlot::Slot(3), 0x33)
            .cqe_skip(true)
            .build()
            .user_data(3);
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(a, m) }.result(), 0);
        assert!(
            nothing_within(&mut b, 30),
            "CQE_SKIP: the target is not told"
        );
        let r = opcode::Read::new(Fixed(3), buf.as_mut_ptr(), 4).build();
        // SAFETY: `buf` outlives the request.
        let c = unsafe { run1(&mut b, r) };
        assert_eq!(c.result(), 4, "but the file is there");
        // A source slot we do not have: -EBADF.
        let m = opcode::MsgRing::send_fd(bfd, 9, DestinationSlot::Slot(1), 0x44).build();
        // SAFETY: no memory referenced.
        assert_eq!(unsafe { run1(a, m) }.result(), -libc::EBADF);
    });
}

const FUTEX_FLAGS: u32 = futex2::SIZE_U32 | futex2::PRIVATE;

#[test]
fn futex_wait_and_wake() {
    common::for_each_backend(
        test_name!(),
        &[opcode::FutexWait::CODE, opcode::FutexWake::CODE],
        8,
        |_backend, ring| {
            let word = AtomicU32::new(0);
            let addr = word.as_ptr().cast_const();
            let any = futex2::BITSET_MATCH_ANY;
            push(
                ring,
                &[opcode::FutexWait::new(addr, 0, 0b01, FUTEX_FLAGS)
                    .build()
                    .user_data(1)],
            );
            assert!(nothing_within(ring, 30), "waiting while the word is 0");
            // A wait on a value the word does not hold fails at once.
            let w = opcode::FutexWait::new(addr, 1, any, FUTEX_FLAGS)
                .build()
                .user_data(2);
            // SAFETY: `word` outlives the request.
            assert_eq!(unsafe { run1(ring, w) }.result(), -libc::EAGAIN);
            // A wake whose mask does not intersect the waiter's (0b01) wakes nobody.
            let wake = opcode::FutexWake::new(addr, 1, 0b10, FUTEX_FLAGS)
                .build()
                .user_data(3);
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, wake) }.result(), 0);
            let wake = opcode::FutexWake::new(addr, 1, any, FUTEX_FLAGS)
                .build()
                .user_data(4);
            // SAFETY: as above.
            let got = sorted(unsafe { run(ring, &[wake], 2) });
            assert_eq!(got, [(1, 0), (4, 1)], "one woken, and it completes with 0");

            // The futex is the process's: futex(2) from another thread wakes the ring's waiter.
            push(
                ring,
                &[opcode::FutexWait::new(addr, 0, any, FUTEX_FLAGS)
                    .build()
                    .user_data(5)],
            );
            assert!(nothing_within(ring, 30));
            let woke = std::thread::scope(|s| {
                s.spawn(|| {
                    // SAFETY: FUTEX_WAKE_PRIVATE on a live, aligned u32.
                    unsafe {
                        libc::syscall(
                            libc::SYS_futex,
                            word.as_ptr(),
                            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                            1,
                        )
                    }
                })
                .join()
                .unwrap()
            });
            assert_eq!(woke, 1);
            assert_eq!(sorted(reap(ring, 1, LIMIT)), [(5, 0)]);
            // Bad futex2 flags are refused.
            let w = opcode::FutexWait::new(addr, 0, any, 1 << 12).build();
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, w) }.result(), -libc::EINVAL);
        },
    );
}

#[test]
fn futex_waitv_reports_the_woken_index() {
    common::for_each_backend(
        test_name!(),
        &[opcode::FutexWaitV::CODE, opcode::FutexWake::CODE],
        8,
        |_backend, ring| {
            let words = [AtomicU32::new(0), AtomicU32::new(5), AtomicU32::new(9)];
            let mut v: Vec<FutexWaitV> = words
                .iter()
                .map(|w| {
                    FutexWaitV::new(
                        w.as_ptr(),
                        w.load(std::sync::atomic::Ordering::Relaxed) as u64,
                        FUTEX_FLAGS,
                    )
                })
                .collect();
            push(
                ring,
                &[opcode::FutexWaitV::new(v.as_ptr(), 3).build().user_data(1)],
            );
            assert!(nothing_within(ring, 30));
            let wake =
                opcode::FutexWake::new(words[2].as_ptr(), 1, futex2::BITSET_MATCH_ANY, FUTEX_FLAGS)
                    .build()
                    .user_data(2);
            // SAFETY: `words` and `v` outlive the requests.
            let got = sorted(unsafe { run(ring, &[wake], 2) });
            assert_eq!(
                got,
                [(1, 2), (2, 1)],
                "the waitv completes with the woken index"
            );
            // A value that does not match: -EAGAIN at once.
            v[1].val = 6;
            let w = opcode::FutexWaitV::new(v.as_ptr(), 3).build();
            // SAFETY: as above.
            assert_eq!(unsafe { run1(ring, w) }.result(), -libc::EAGAIN);
        },
    );
}

#[test]
fn waitid_reaps_a_child() {
    common::for_each_backend(
        test_name!(),
        &[opcode::WaitId::CODE],
        8,
        |_backend, ring| {
            for (prog, status) in [("true", 0), ("false", 1)] {
                let mut child = Command::new(prog).spawn().unwrap();
                let pid = child.id();
                // SAFETY: all-zero is a valid siginfo_t.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                let w = opcode::WaitId::new(libc::P_PID, pid, libc::WEXITED)
                    .infop(&raw mut info)
                    .build()
                    .user_data(1);
                // SAFETY: `info` outlives the request.
                assert_eq!(unsafe { run1(ring, w) }.result(), 0, "{prog}");
                assert_eq!(info.si_signo, libc::SIGCHLD);
                assert_eq!(info.si_code, libc::CLD_EXITED);
                // SAFETY: for SIGCHLD the pid/status union members are the valid ones.
                let (spid, sstatus) = unsafe { (info.si_pid(), info.si_status()) };
                assert_eq!((spid as u32, sstatus), (pid, status), "{prog}");
                // The ring reaped it: the child is gone for wait(2).
                let err = child.try_wait().unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{prog}");
            }
            // No such child.
            let w = opcode::WaitId::new(libc::P_PID, 1, libc::WEXITED).build();
            // SAFETY: no memory referenced.
            assert_eq!(unsafe { run1(ring, w) }.result(), -libc::ECHILD);
        },
    );
}
