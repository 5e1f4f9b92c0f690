//! Readiness on the real kernel: POLL_ADD (single and multishot, level), POLL_REMOVE
//! (remove and update), EPOLL_CTL and EPOLL_WAIT.
use uring_testkit as common;
use uring_testkit::test_name;

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{reap, run};
use uring::types::{CqeFlags, EpollEvent};
use uring::{Cqe, Ring, opcode, sys};

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

fn sorted(mut cqes: Vec<Cqe>) -> Vec<Cqe> {
    cqes.sort_by_key(Cqe::user_data);
    cqes
}

const POLLIN: u32 = libc::POLLIN as u32;
const POLLOUT: u32 = libc::POLLOUT as u32;

#[test]
fn poll_add_fires_once_on_readiness() {
    common::for_each_backend(
        test_name!(),
        &[opcode::PollAdd::CODE],
        8,
        |_backend, ring| {
            let (r, w) = common::pipe();
            let mut w = std::fs::File::from(w);
            push(
                ring,
                &[opcode::PollAdd::new(r.as_raw_fd(), POLLIN)
                    .build()
                    .user_data(1)],
            );
            assert!(nothing_within(ring, 30), "not readable yet");
            w.write_all(b"x").unwrap();
            let c = reap(ring, 1, LIMIT)[0];
            assert_eq!(c.user_data(), 1);
            assert_ne!(c.result() as u32 & POLLIN, 0, "POLLIN in the result: {c:?}");
            assert!(!c.has_more(), "single shot");
            w.write_all(b"y").unwrap();
            assert!(nothing_within(ring, 30), "it does not fire again");

            // Already ready: fires at once.
            let sqe = opcode::PollAdd::new(r.as_raw_fd(), POLLIN)
                .build()
                .user_data(2);
            // SAFETY: no memory referenced.
            let c = unsafe { run(ring, &[sqe], 1) };
            assert_ne!(c[0].result() as u32 & POLLIN, 0, "{c:?}");
            // IORING_POLL_ADD_LEVEL is in the uapi, but POLL_ADD of 6.18 refuses it (the
            // kernel keeps level-triggered poll for its internal use).
            for multishot in [false, true] {
                let sqe = opcode::PollAdd::new(r.as_raw_fd(), POLLIN)
                    .level(true)
                    .multishot(multishot)
                    .build();
                // SAFETY: no memory referenced.
                let c = unsafe { run(ring, &[sqe], 1) };
                assert_eq!(c[0].result(), -libc::EINVAL, "multishot {multishot}");
            }
        },
    );
}

#[test]
fn poll_multishot_then_remove() {
    common::for_each_backend(
        test_name!(),
        &[opcode::PollAdd::CODE, opcode::PollRemove::CODE],
        8,
        |_backend, ring| {
            let (r, w) = common::pipe();
            let mut w = std::fs::File::from(w);
            let p = opcode::PollAdd::new(r.as_raw_fd(), POLLIN)
                .multishot(true)
                .build()
                .user_data(1);
            assert_eq!(p.as_raw().len, sys::IORING_POLL_ADD_MULTI);
            push(ring, &[p]);
            for i in 0..3 {
                w.write_all(b"x").unwrap();
                let c = reap(ring, 1, LIMIT)[0];
                assert_eq!(c.user_data(), 1);
                assert!(
                    c.result() as u32 & POLLIN != 0 && c.has_more(),
                    "event {i}: {c:?}"
                );
            }
            let sqes = [
                opcode::PollRemove::new(1).build().user_data(10),
                opcode::PollRemove::new(999).build().user_data(11),
            ];
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &sqes, 3) });
            let got: Vec<(u64, i32, bool)> = cqes
                .iter()
                .map(|c| (c.user_data(), c.result(), c.has_more()))
                .collect();
            assert_eq!(
                got,
                [
                    (1, -libc::ECANCELED, false),
                    (10, 0, false),
                    (11, -libc::ENOENT, false)
                ]
            );
            w.write_all(b"x").unwrap();
            assert!(nothing_within(ring, 30), "removed for good");
        },
    );
}

#[test]
fn poll_update_changes_events_and_user_data() {
    common::for_each_backend(
        test_name!(),
        &[opcode::PollAdd::CODE, opcode::PollRemove::CODE],
        8,
        |_backend, ring| {
            // A connected socket: writable at once, not readable.
            let (a, _b) = UnixStream::pair().unwrap();
            push(
                ring,
                &[opcode::PollAdd::new(&a, POLLIN).build().user_data(1)],
            );
            assert!(nothing_within(ring, 30));
            // Update: wait for POLLOUT instead, and complete as user_data 2.
            let u = opcode::PollRemove::new(1)
                .events(POLLOUT)
                .new_user_data(2u64)
                .build()
                .user_data(10);
            let raw = *u.as_raw();
            assert_eq!(
                raw.len,
                sys::IORING_POLL_UPDATE_EVENTS | sys::IORING_POLL_UPDATE_USER_DATA
            );
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &[u], 2) });
            let got: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.result())).collect();
            assert_eq!(got, [(2, POLLOUT as i32), (10, 0)], "{cqes:?}");
            // Updating a request that is gone: -ENOENT.
            let u = opcode::PollRemove::new(1)
                .events(POLLIN)
                .build()
                .user_data(11);
            // SAFETY: no memory referenced.
            let c = unsafe { run(ring, &[u], 1) };
            assert_eq!(c[0].result(), -libc::ENOENT);
        },
    );
}

#[test]
fn epoll_ctl_and_epoll_wait() {
    common::for_each_backend(
        test_name!(),
        &[opcode::EpollCtl::CODE, opcode::EpollWait::CODE],
        8,
        |_backend, ring| {
            // SAFETY: plain syscall; the fd is wrapped at once.
            let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(epfd >= 0);
            // SAFETY: a fresh descriptor, ours.
            let ep = unsafe { OwnedFd::from_raw_fd(epfd) };
            let (r, w) = common::pipe();
            let mut w = std::fs::File::from(w);
            let ev = EpollEvent {
                events: libc::EPOLLIN as u32,
                u64: 42,
            };
            let add = |ud| {
                opcode::EpollCtl::new(
                    ep.as_raw_fd(),
                    r.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    &raw const ev,
                )
                .build()
                .user_data(ud)
            };
            // SAFETY: `ev` outlives the requests.
            let cqes = sorted(unsafe { run(ring, &[add(1)], 1) });
            assert_eq!(cqes[0].result(), 0);
            // SAFETY: as above.
            let cqes = sorted(unsafe { run(ring, &[add(2)], 1) });
            assert_eq!(cqes[0].result(), -libc::EEXIST, "added twice");

            // EPOLL_WAIT waits for an event, then reports it with our data.
            let mut events = [EpollEvent { events: 0, u64: 0 }; 4];
            push(
                ring,
                &[
                    opcode::EpollWait::new(ep.as_raw_fd(), events.as_mut_ptr(), 4)
                        .build()
                        .user_data(3),
                ],
            );
            assert!(nothing_within(ring, 30), "nothing ready yet");
            w.write_all(b"e").unwrap();
            let c = reap(ring, 1, LIMIT)[0];
            assert_eq!((c.user_data(), c.result()), (3, 1), "one event");
            let (evs, data) = (events[0].events, events[0].u64);
            assert_ne!(evs & libc::EPOLLIN as u32, 0);
            assert_eq!(data, 42);

            // EPOLL_CTL_DEL, then again: -ENOENT.
            let del = |ud| {
                opcode::EpollCtl::new(
                    ep.as_raw_fd(),
                    r.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    std::ptr::null(),
                )
                .build()
                .user_data(ud)
            };
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &[del(4)], 1) });
            assert_eq!(cqes[0].result(), 0);
            // SAFETY: no memory referenced.
            let cqes = sorted(unsafe { run(ring, &[del(5)], 1) });
            assert_eq!(cqes[0].result(), -libc::ENOENT);
        },
    );
}
