//! Cancellation, io-wq, busy polling, clock and messages on the real kernel:
//! `IORING_REGISTER_SYNC_CANCEL`, `IOWQ_MAX_WORKERS`, `IOWQ_AFF`,
//! `UNREGISTER_IOWQ_AFF`, `NAPI`, `UNREGISTER_NAPI`, `CLOCK`, `SEND_MSG_RING`,
//! `RING_FDS`.
use uring_testkit as common;
use uring_testkit::test_name;
mod register_common;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::{for_each_flavor, reap};
use register_common::{LIMIT, assert_errno, errno, has_fd, nop, pipe, raw, write_all};
use uring::SyncCancel;
use uring::types::Fd;
use uring::{Ring, SqeFlags, Submitter, WaitArgs, opcode, sys};

/// Pushes reads of the (empty) pipe `fd` with the given user_data and submits them;
/// they stay pending.
fn pending_reads(ring: &mut Ring, fd: i32, bufs: &mut [[u8; 8]], ids: &[u64]) {
    {
        let mut sq = ring.submission();
        for (buf, &id) in bufs.iter_mut().zip(ids) {
            let sqe = opcode::Read::new(Fd(fd), buf.as_mut_ptr(), 8)
                .offset(u64::MAX)
                .build()
                .user_data(id);
            // SAFETY: each `buf` outlives its read: the reads are cancelled and reaped
            // before the caller's buffers go.
            unsafe { sq.push(&sqe) }.unwrap();
        }
    }
    ring.submit().unwrap();
    // With SQPOLL the thread consumes them on its own time: wait until it has (it
    // issues them under the ring lock the cancel then takes).
    let start = Instant::now();
    while !ring.submission().is_empty() {
        assert!(start.elapsed() < LIMIT, "SQ never consumed");
        std::thread::yield_now();
    }
}

#[test]
fn sync_cancel_cancels_pending_reads() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let (r, w) = pipe();
        let mut bufs = [[0u8; 8]; 3];
        pending_reads(ring, r.as_raw_fd(), &mut bufs[..1], &[7]);
        let n = ring
            .submitter()
            .register_sync_cancel(&SyncCancel::user_data(7).timeout(LIMIT))
            .unwrap();
        assert_eq!(n, 0, "[{}] one request, no count", f.name);
        let c = reap(ring, 1, LIMIT);
        assert_eq!(
            (c[0].user_data(), c[0].result()),
            (7, -libc::ECANCELED),
            "[{}]",
            f.name
        );
        assert_errno(
            ring.submitter()
                .register_sync_cancel(&SyncCancel::user_data(7)),
            libc::ENOENT,
            "nothing left to cancel",
        );

        // By fd, all of them.
        pending_reads(ring, r.as_raw_fd(), &mut bufs[..2], &[8, 9]);
        let n = ring
            .submitter()
            .register_sync_cancel(&SyncCancel::fd(r.as_raw_fd()).all())
            .unwrap();
        assert_eq!(n, 2, "[{}] both reads on the fd", f.name);
        let got: BTreeSet<(u64, i32)> = reap(ring, 2, LIMIT)
            .iter()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        assert_eq!(
            got,
            BTreeSet::from([(8, -libc::ECANCELED), (9, -libc::ECANCELED)]),
            "[{}]",
            f.name
        );

        // On the fd, restricted to an opcode that matches none: nothing.
        pending_reads(ring, r.as_raw_fd(), &mut bufs[..1], &[10]);
        assert_errno(
            ring.submitter()
                .register_sync_cancel(&SyncCancel::fd(r.as_raw_fd()).opcode(sys::IORING_OP_WRITE)),
            libc::ENOENT,
            "fd and a non-matching opcode",
        );
        // The read is still pending: data completes it normally.
        write_all(&w, b"ok");
        let c = reap(ring, 1, LIMIT);
        assert_eq!((c[0].user_data(), c[0].result()), (10, 2), "[{}]", f.name);
        assert_eq!(&bufs[0][..2], b"ok");
        // ANY matches whatever is pending (and ignores every other key).
        pending_reads(ring, r.as_raw_fd(), &mut bufs[..1], &[11]);
        let n = ring
            .submitter()
            .register_sync_cancel(&SyncCancel::any().opcode(sys::IORING_OP_WRITE))
            .unwrap();
        assert_eq!(n, 1, "[{}] ANY counts", f.name);
        let c = reap(ring, 1, LIMIT);
        assert_eq!(
            (c[0].user_data(), c[0].result()),
            (11, -libc::ECANCELED),
            "[{}]",
            f.name
        );
        assert_errno(
            ring.submitter().register_sync_cancel(&SyncCancel::fd(-1)),
            libc::EBADF,
            "bad fd",
        );
    });
}

#[test]
fn iowq_max_workers_round_trip() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend).build(4).unwrap();
        let sub = ring.submitter();
        let before = sub.register_iowq_max_workers(0, 0).unwrap();
        assert!(before[0] > 0 && before[1] > 0, "defaults {before:?}");
        assert_eq!(sub.register_iowq_max_workers(3, 7).unwrap(), before);
        assert_eq!(sub.register_iowq_max_workers(0, 0).unwrap(), [3, 7]);
        // 0 leaves one limit alone.
        assert_eq!(sub.register_iowq_max_workers(0, 5).unwrap(), [3, 7]);
        assert_eq!(sub.register_iowq_max_workers(0, 0).unwrap(), [3, 5]);
        assert_errno(
            sub.register_iowq_max_workers(u32::MAX, 0),
            libc::EINVAL,
            "above INT_MAX",
        );
        sub.register_iowq_max_workers(before[0], before[1]).unwrap();
    });
}

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: all-zero is a valid cpu_set_t; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size given.
    let r = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(r, 0);
    // SAFETY: CPU_ISSET reads the set.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// `Cpus_allowed_list` of the io-wq workers this thread's requests spawned
/// (`iou-wrk-<tid>`).
fn worker_cpus() -> Vec<String> {
    // SAFETY: gettid has no preconditions.
    let me = format!("iou-wrk-{}", unsafe { libc::gettid() });
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        if status
            .lines()
            .any(|l| l.trim_start_matches("Name:").trim() == me)
        {
            let list = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .unwrap();
            out.push(list.trim().to_string());
        }
    }
    out
}

#[test]
fn iowq_affinity_pins_new_workers() {
    common::for_each_backend_only(test_name!(), |backend| {
        let cpus = allowed_cpus();
        if cpus.len() < 2 {
            common::not_applicable(test_name!(), "fewer than two CPUs to choose from");
            return;
        }
        let target = *cpus.last().unwrap();
        let mut ring = common::builder(backend).build(4).unwrap();
        // SAFETY: all-zero is an empty cpu_set_t.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `target` < CPU_SETSIZE.
        unsafe { libc::CPU_SET(target, &mut set) };
        ring.submitter().register_iowq_aff(&set).unwrap();
        // A read forced into io-wq blocks a worker on the empty pipe.
        let (r, w) = pipe();
        let mut buf = [0u8; 4];
        let read = opcode::Read::new(Fd(r.as_raw_fd()), buf.as_mut_ptr(), 4)
            .offset(u64::MAX)
            .build()
            .flags(SqeFlags::ASYNC)
            .user_data(1);
        // SAFETY: `buf` outlives the read, reaped below.
        unsafe { ring.submission().push(&read) }.unwrap();
        ring.submit().unwrap();
        let start = Instant::now();
        let mut seen = worker_cpus();
        while seen.is_empty() && start.elapsed() < LIMIT {
            std::thread::sleep(Duration::from_millis(5));
            seen = worker_cpus();
        }
        write_all(&w, b"done");
        let c = reap(&mut ring, 1, LIMIT);
        assert_eq!(c[0].result(), 4);
        assert!(!seen.is_empty(), "no io-wq worker appeared");
        assert!(
            seen.iter().all(|l| *l == target.to_string()),
            "workers on {seen:?}, expected CPU {target}"
        );
        ring.submitter().unregister_iowq_aff().unwrap();
        // (The kernel accepts an empty mask, and ignores bits past the last possible CPU:
        // only a CPU outside the task's cpuset is refused, which this machine cannot show.)
    });
}

#[test]
fn napi_settings_round_trip() {
    for_each_flavor(test_name!(), &[], 4, |f, ring| {
        if !common::register_gate(test_name!(), f, &[sys::IORING_REGISTER_NAPI]) {
            return;
        }
        let sub = ring.submitter();
        let prev = sub
            .register_napi(100, true, sys::IO_URING_NAPI_TRACKING_DYNAMIC)
            .unwrap();
        assert_eq!(
            (prev.busy_poll_usec, prev.prefer_busy_poll, prev.tracking),
            (0, false, sys::IO_URING_NAPI_TRACKING_INACTIVE),
            "[{}] initial",
            f.name
        );
        // Static ids need the static strategy.
        assert_errno(
            sub.register_napi_add_id(1 << 20),
            libc::EINVAL,
            "dynamic add",
        );
        let prev = sub
            .register_napi(50_000, false, sys::IO_URING_NAPI_TRACKING_STATIC)
            .unwrap();
        assert_eq!(
            (prev.busy_poll_usec, prev.prefer_busy_poll, prev.tracking),
            (100, true, sys::IO_URING_NAPI_TRACKING_DYNAMIC),
            "[{}]",
            f.name
        );
        sub.register_napi_add_id(1 << 20).unwrap();
        assert_errno(sub.register_napi_add_id(1 << 20), libc::EEXIST, "add twice");
        assert_errno(sub.register_napi_add_id(0), libc::EINVAL, "invalid id");
        sub.register_napi_del_id(1 << 20).unwrap();
        assert_errno(sub.register_napi_del_id(1 << 20), libc::ENOENT, "del twice");
        assert_errno(
            sub.register_napi(0, false, 7),
            libc::EINVAL,
            "unknown strategy",
        );
        let last = sub.unregister_napi().unwrap();
        // The kernel caps the spin at 10 ms.
        assert_eq!(
            (last.busy_poll_usec, last.prefer_busy_poll),
            (10_000, false),
            "[{}] unregister reports the settings",
            f.name
        );
        let now = sub.unregister_napi().unwrap();
        assert_eq!((now.busy_poll_usec, now.prefer_busy_poll), (0, false));
    });
    let ring = common::builder(uring::Backend::Kernel)
        .iopoll()
        .build(4)
        .unwrap();
    assert_errno(
        ring.submitter()
            .register_napi(10, false, sys::IO_URING_NAPI_TRACKING_DYNAMIC),
        libc::EINVAL,
        "NAPI on an IOPOLL ring",
    );
}

fn clock_ns(clock: libc::clockid_t) -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Waits for a CQE that never comes until the absolute time `deadline_ns` of the
/// ring's clock; how long it took.
fn wait_until(sub: &Submitter<'_>, deadline_ns: u128) -> Duration {
    let start = Instant::now();
    let d = Duration::from_nanos(deadline_ns as u64);
    let r = sub.submit_with_args(1, &WaitArgs::new().timeout(d).absolute());
    assert_eq!(errno(&r.unwrap_err()), libc::ETIME);
    start.elapsed()
}

#[test]
fn clock_registration_switches_absolute_waits() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend).build(4).unwrap();
        let sub = ring.submitter();
        assert_errno(
            sub.register_clock(libc::CLOCK_REALTIME),
            libc::EINVAL,
            "realtime",
        );
        let mono = clock_ns(libc::CLOCK_MONOTONIC);
        let boot = clock_ns(libc::CLOCK_BOOTTIME);
        let gap = boot.saturating_sub(mono);
        // A deadline 100 ms ahead on the monotonic clock.
        let took = wait_until(&sub, clock_ns(libc::CLOCK_MONOTONIC) + 100_000_000);
        assert!(
            took >= Duration::from_millis(80) && took < LIMIT,
            "{took:?}"
        );
        sub.register_clock(libc::CLOCK_BOOTTIME).unwrap();
        let took = wait_until(&sub, clock_ns(libc::CLOCK_BOOTTIME) + 100_000_000);
        assert!(
            took >= Duration::from_millis(80) && took < LIMIT,
            "{took:?}"
        );
        if gap > 1_000_000_000 {
            // The machine has slept: a monotonic deadline is long past on the boot clock.
            let took = wait_until(&sub, clock_ns(libc::CLOCK_MONOTONIC) + 500_000_000);
            assert!(took < Duration::from_millis(100), "{took:?}");
        } else {
            common::not_applicable(
                test_name!(),
                "boot and monotonic clocks agree (never suspended): cannot tell them apart",
            );
        }
        sub.register_clock(libc::CLOCK_MONOTONIC).unwrap();
    });
}

/// An IORING_OP_MSG_RING SQE posting (user_data, res) to the ring `fd`.
fn msg_data(fd: i32, user_data: u64, res: u32) -> uring::Sqe {
    let mut sqe = raw(sys::IORING_OP_MSG_RING);
    let s = sqe.as_raw_mut();
    s.fd = fd;
    s.addr_or_splice_off_in.addr = u64::from(sys::IORING_MSG_DATA);
    s.len = res;
    s.off_or_addr2.off = user_data;
    sqe
}

#[test]
fn send_msg_ring_without_a_source_ring() {
    for_each_flavor(test_name!(), &[], 4, |f, ring| {
        let Some(fd) = ring.fd().map(|f| f.as_raw_fd()) else {
            // Nothing to name the target by: the blind message takes a real fd.
            return;
        };
        Submitter::register_sync_msg(&msg_data(fd, 0xfeed, 0x1234)).unwrap();
        let c = reap(ring, 1, LIMIT);
        assert_eq!(
            (c[0].user_data(), c[0].result(), c[0].flags()),
            (0xfeed, 0x1234, 0),
            "[{}]",
            f.name
        );
        // With FLAGS_PASS, the CQE's flags are ours.
        let mut sqe = msg_data(fd, 0xbeef, 1);
        sqe.as_raw_mut().op_flags.msg_ring_flags = sys::IORING_MSG_RING_FLAGS_PASS;
        sqe.as_raw_mut().splice_fd_in_or_file_index.file_index = 0x40_0000;
        Submitter::register_sync_msg(&sqe).unwrap();
        let c = reap(ring, 1, LIMIT);
        assert_eq!(
            (c[0].user_data(), c[0].flags()),
            (0xbeef, 0x40_0000),
            "[{}]",
            f.name
        );
    });
    // The refusals are the kernel's register call's own, whatever the target.
    let ring = common::new_ring(uring::Backend::Kernel, 4);
    let fd = ring.fd().map(|f| f.as_raw_fd()).unwrap();
    assert_errno(
        Submitter::register_sync_msg(&msg_data(fd, 1, 1).flags(SqeFlags::ASYNC)),
        libc::EINVAL,
        "SQE flags",
    );
    assert_errno(
        Submitter::register_sync_msg(&nop(1)),
        libc::EINVAL,
        "not MSG_RING",
    );
    let mut send_fd = msg_data(fd, 1, 1);
    send_fd.as_raw_mut().addr_or_splice_off_in.addr = u64::from(sys::IORING_MSG_SEND_FD);
    assert_errno(
        Submitter::register_sync_msg(&send_fd),
        libc::EINVAL,
        "SEND_FD needs a source ring",
    );
    let (r, _w) = pipe();
    assert_errno(
        Submitter::register_sync_msg(&msg_data(r.as_raw_fd(), 1, 1)),
        libc::EBADFD,
        "target not a ring",
    );
}

#[test]
fn other_ring_fds_can_be_registered_and_used_by_index() {
    common::for_each_backend_only(test_name!(), |backend| {
        if backend == uring::Backend::Engine {
            // Deliberate: the index is used with the raw io_uring_enter(2), which
            // only the kernel answers; an engine ring is entered through its handle.
            eprintln!(
                "ENGINE N/A other_ring_fds_can_be_registered_and_used_by_index: \
                     entered by the raw syscall, which only reaches the kernel"
            );
            return;
        }
        let mut target = common::builder(backend).build(4).unwrap();
        let ring = common::builder(backend).build(4).unwrap();
        let index = ring
            .submitter()
            .register_ring_fd_of(target.fd().map(|f| f.as_raw_fd()).unwrap())
            .unwrap();
        // The index names the target ring in io_uring_enter: a NOP submitted through it
        // lands in the target's CQ.
        {
            let mut sq = target.submission();
            // SAFETY: a NOP references no memory.
            unsafe { sq.push(&nop(77)) }.unwrap();
        }
        // SAFETY: no argument; the SQE pushed is a NOP.
        let n = unsafe {
            sys::syscall::io_uring_enter(
                index as i32,
                1,
                1,
                sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_REGISTERED_RING,
                std::ptr::null(),
                0,
            )
        }
        .unwrap_or_else(|e| panic!("enter by index {index}: {e}"));
        assert_eq!(n, 1);
        let c = reap(&mut target, 1, LIMIT);
        assert_eq!(c[0].user_data(), 77);
        ring.submitter().unregister_ring_fd_index(index).unwrap();
        let (r, _w) = pipe();
        assert_errno(
            ring.submitter().register_ring_fd_of(r.as_raw_fd()),
            libc::EOPNOTSUPP,
            "not a ring",
        );
        assert!(has_fd(&ring));
    });
}
