//! O_DIRECT reads and writes at depth, on the engine (which sends them through Linux
//! AIO, `aio.rs`) and on the kernel: the same CQEs and the same bytes. The file lives
//! in the target directory, on disk (O_DIRECT on tmpfs needs Linux 6.6).
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use uring::types::Fd;
use uring::{Backend, Ring, opcode};
use uring_testkit::aligned::BLOCK as BS;
use uring_testkit::{Aligned, diff, not_applicable, pattern, reap, test_name};

const N: usize = 32;
const LIMIT: Duration = Duration::from_secs(20);

fn direct_file(name: &str) -> Option<std::fs::File> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path);
    let _ = std::fs::remove_file(&path);
    match f {
        Ok(f) => Some(f),
        Err(e) => {
            not_applicable(name, &format!("{} refuses O_DIRECT: {e}", dir.display()));
            None
        }
    }
}

/// An O_DIRECT file of `N` blocks, block `i` holding `pattern(BS, seed + i)`, and
/// those blocks in memory.
fn filled_direct_file(test: &str, seed: u8) -> Option<(std::fs::File, Aligned)> {
    let file = direct_file(test)?;
    let data = Aligned::patterned(N, seed);
    // SAFETY: `data` is N * BS initialised bytes, aligned for O_DIRECT.
    let n = unsafe { libc::pwrite(file.as_raw_fd(), data.at(0).cast(), N * BS, 0) };
    assert_eq!(n, (N * BS) as isize);
    Some((file, data))
}

/// Submits a read of each of the `N` blocks of `file` into the same block of `back`
/// (`user_data` the block).
fn submit_reads(ring: &mut Ring, file: &std::fs::File, back: &Aligned) {
    {
        let mut sq = ring.submission();
        for i in 0..N {
            let r = opcode::Read::new(Fd(file.as_raw_fd()), back.at(i), BS as u32)
                .offset((i * BS) as u64)
                .build()
                .user_data(i as u64);
            // SAFETY: each caller keeps `back` alive until the ring is dropped.
            unsafe { sq.push(&r) }.unwrap();
        }
    }
    ring.submit().unwrap();
}

fn engine_ring() -> Ring {
    Ring::builder()
        .backend_exact(Backend::Engine)
        .build(64)
        .unwrap()
}

fn results(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut r: Vec<_> = reap(ring, n, LIMIT)
        .iter()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    r.sort_unstable();
    r
}

#[test]
fn direct_io_at_depth_matches_the_kernel() {
    let test = test_name!();
    if direct_file(test).is_none() {
        return;
    }
    diff::both(
        test,
        &[opcode::Read::CODE, opcode::Write::CODE, opcode::Readv::CODE],
        64,
        |ring| {
            let file = direct_file(test).expect("O_DIRECT worked a moment ago");
            let fd = Fd(file.as_raw_fd());
            let out = Aligned::patterned(N, 0);
            // The file's blocks exist before the writes that overwrite them at depth.
            file.set_len((N * BS) as u64).unwrap();
            {
                let mut sq = ring.submission();
                for i in 0..N {
                    let w = opcode::Write::new(fd, out.at(i), BS as u32)
                        .offset((i * BS) as u64)
                        .build()
                        .user_data(i as u64);
                    // SAFETY: `out` outlives the requests (reaped below).
                    unsafe { sq.push(&w) }.unwrap();
                }
            }
            ring.submit().unwrap();
            let mut seen = results(ring, N);
            let back = Aligned::new((N + 2) * BS);
            {
                let mut sq = ring.submission();
                // Read the blocks back in reverse order, each into its own slot.
                for i in 0..N {
                    let r = opcode::Read::new(fd, back.at(N - 1 - i), BS as u32)
                        .offset((i * BS) as u64)
                        .build()
                        .user_data(100 + i as u64);
                    // SAFETY: `back` outlives the requests.
                    unsafe { sq.push(&r) }.unwrap();
                }
                // Past the end: 0 bytes.
                let eof = opcode::Read::new(fd, back.at(N), BS as u32)
                    .offset((N * BS) as u64)
                    .build()
                    .user_data(200);
                // A buffer not aligned for O_DIRECT: EINVAL.
                let odd = opcode::Read::new(fd, back.at(N).wrapping_add(1), 512)
                    .offset(0)
                    .build()
                    .user_data(201);
                // SAFETY: as above.
                unsafe { sq.push(&eof) }.unwrap();
                // SAFETY: as above.
                unsafe { sq.push(&odd) }.unwrap();
            }
            ring.submit().unwrap();
            seen.extend(results(ring, N + 2));
            let mut same = true;
            for i in 0..N {
                let got = &back.slice()[(N - 1 - i) * BS..(N - i) * BS];
                same &= got == &pattern(BS, i as u8)[..];
            }
            (seen, same)
        },
    );
}

/// Dropping an engine ring with direct reads on the device waits for them: nothing
/// writes into the buffers afterwards.
#[test]
fn engine_drop_waits_for_direct_reads() {
    let test = test_name!();
    let Some((file, data)) = filled_direct_file(test, 7) else {
        return;
    };
    let back = Aligned::new(N * BS);
    let mut ring = engine_ring();
    submit_reads(&mut ring, &file, &back);
    drop(ring);
    // Whatever the drop let finish is in the buffer now; nothing writes it later.
    let after_drop = back.slice().to_vec();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(back.slice(), &after_drop[..]);
    assert!(
        (0..N).all(|i| {
            let b = &back.slice()[i * BS..(i + 1) * BS];
            b == &data.slice()[i * BS..(i + 1) * BS] || b.iter().all(|&x| x == 0)
        }),
        "a block holds neither the file's bytes nor its initial zeros"
    );
}

/// A program that never waits in `io_uring_enter` (it submits, then looks at the CQ,
/// as one that polls the ring fd does) still gets its direct completions: the reaping
/// thread posts them.
#[test]
fn direct_completions_arrive_without_waiting_in_enter() {
    let test = test_name!();
    let Some((file, data)) = filled_direct_file(test, 3) else {
        return;
    };
    let back = Aligned::new(N * BS);
    let mut ring = engine_ring();
    for round in 0..4 {
        submit_reads(&mut ring, &file, &back);
        let start = std::time::Instant::now();
        let mut got = Vec::new();
        while got.len() < N {
            got.extend(ring.completion().map(|c| (c.user_data(), c.result())));
            assert!(
                start.elapsed() < LIMIT,
                "round {round}: {} of {N} completions after {LIMIT:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        got.sort_unstable();
        let want: Vec<(u64, i32)> = (0..N as u64).map(|i| (i, BS as i32)).collect();
        assert_eq!(got, want, "round {round}");
        assert_eq!(back.slice(), data.slice(), "round {round}");
    }
    drop(ring);
}

/// A submission's direct reads go to the device in one `io_submit` on the engine; one
/// that `io_submit` refuses in the middle of it (here a read with `RWF_ATOMIC`, which
/// reads do not take, and a read of an fd closed since the ring last saw it direct)
/// ends as the kernel ends it, and the ones around it are read.
#[test]
fn a_refused_read_inside_a_submission_ends_as_on_the_kernel() {
    /// An fd number far above what the test process opens: nothing else takes it
    /// while it is closed.
    const HIGH_FD: i32 = 4000;
    let test = test_name!();
    let Some((file, data)) = filled_direct_file(test, 11) else {
        return;
    };
    let Some((other, _)) = filled_direct_file(test, 12) else {
        return;
    };
    diff::both(test, &[opcode::Read::CODE], 64, |ring| {
        let fd = Fd(file.as_raw_fd());
        let back = Aligned::new((N + 2) * BS);
        // The ring sees HIGH_FD as a direct file once, then it is closed.
        // SAFETY: dup2 onto a number this test alone uses.
        assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), HIGH_FD) }, HIGH_FD);
        let first = opcode::Read::new(Fd(HIGH_FD), back.at(N), BS as u32)
            .offset(0)
            .build()
            .user_data(300);
        // SAFETY: `back` outlives the request (reaped below).
        unsafe { ring.submission().push(&first) }.unwrap();
        ring.submit().unwrap();
        let mut seen = results(ring, 1);
        // SAFETY: closing our own duplicate.
        unsafe { libc::close(HIGH_FD) };
        {
            let mut sq = ring.submission();
            for i in 0..N {
                let r = opcode::Read::new(fd, back.at(i), BS as u32)
                    .offset((i * BS) as u64)
                    .build()
                    .user_data(i as u64);
                // SAFETY: as above.
                unsafe { sq.push(&r) }.unwrap();
                if i == N / 3 {
                    let atomic = opcode::Read::new(fd, back.at(N), BS as u32)
                        .offset(0)
                        .rw_flags(0x40 /* RWF_ATOMIC */)
                        .build()
                        .user_data(301);
                    // SAFETY: as above.
                    unsafe { sq.push(&atomic) }.unwrap();
                }
                if i == 2 * N / 3 {
                    let closed = opcode::Read::new(Fd(HIGH_FD), back.at(N + 1), BS as u32)
                        .offset(0)
                        .build()
                        .user_data(302);
                    // SAFETY: as above.
                    unsafe { sq.push(&closed) }.unwrap();
                }
            }
        }
        ring.submit().unwrap();
        seen.extend(results(ring, N + 2));
        (seen, back.slice()[..N * BS] == data.slice()[..])
    });
}

/// Waits up to 100 ms for the ring fd to be readable.
fn poll_ring_fd(fd: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, 100) };
}

/// Rounds of direct writes then reads, each reaped the way `reap_round` says: the
/// CQEs (sorted) and whether the bytes read back are the ones written.
fn rounds_through_the_ring_fd(
    ring: &mut Ring,
    test: &str,
    mut reap_round: impl FnMut(&mut Ring, i32) -> Vec<(u64, i32)>,
) -> (Vec<Vec<(u64, i32)>>, bool) {
    let file = direct_file(test).expect("O_DIRECT worked a moment ago");
    file.set_len((N * BS) as u64).unwrap();
    let fd = ring.fd().expect("the ring's fd").as_raw_fd();
    let mut seen = Vec::new();
    let mut same = true;
    for round in 0..3u8 {
        let out = Aligned::patterned(N, round * 40);
        let back = Aligned::new(N * BS);
        for write in [true, false] {
            {
                let mut sq = ring.submission();
                for i in 0..N {
                    let (f, off) = (Fd(file.as_raw_fd()), (i * BS) as u64);
                    let sqe = if write {
                        opcode::Write::new(f, out.at(i), BS as u32)
                            .offset(off)
                            .build()
                    } else {
                        opcode::Read::new(f, back.at(i), BS as u32)
                            .offset(off)
                            .build()
                    }
                    .user_data(i as u64);
                    // SAFETY: `out` and `back` outlive the requests (reaped below).
                    unsafe { sq.push(&sqe) }.unwrap();
                }
            }
            ring.submit().unwrap();
            let mut got = reap_round(ring, fd);
            got.sort_unstable();
            seen.push(got);
        }
        same &= back.slice() == out.slice();
    }
    (seen, same)
}

/// The `N` completions of a round, reaped as a program that waits on the ring fd (poll)
/// does: it reads the CQ whenever the fd is readable and, with `enter_when_asked`,
/// enters once more when the CQ is empty and the ring shows `IORING_SQ_TASKRUN`, as
/// liburing's peek does; without it, it never enters.
fn reap_polling(ring: &mut Ring, fd: i32, enter_when_asked: bool) -> Vec<(u64, i32)> {
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    while got.len() < N {
        assert!(
            start.elapsed() < LIMIT,
            "{} of {N} after {LIMIT:?}",
            got.len()
        );
        poll_ring_fd(fd);
        let mut entered = !enter_when_asked;
        loop {
            let before = got.len();
            got.extend(ring.completion().map(|c| (c.user_data(), c.result())));
            if got.len() > before {
                continue;
            }
            if entered || !ring.submission().taskrun() {
                break;
            }
            ring.submitter().get_events().unwrap();
            entered = true;
        }
    }
    got
}

/// A program that waits on the ring fd (poll) and enters only when the ring asks it
/// to, as liburing's peek of an empty CQ does (`IORING_SQ_TASKRUN`: on the engine,
/// direct I/O is on the device and its completions are reaped in `enter`), gets every
/// direct completion and the bytes, as on the kernel.
#[test]
fn direct_io_reaped_by_a_program_polling_the_ring_fd_matches_the_kernel() {
    let test = test_name!();
    if direct_file(test).is_none() {
        return;
    }
    diff::both(
        test,
        &[opcode::Read::CODE, opcode::Write::CODE],
        64,
        |ring| rounds_through_the_ring_fd(ring, test, |ring, fd| reap_polling(ring, fd, true)),
    );
}

/// A program that polls the ring fd but never enters (it reads the CQ when the fd is
/// readable) still gets every direct completion: on the engine the reaping thread
/// finds them left in the AIO ring and posts them.
#[test]
fn direct_io_of_a_program_that_polls_the_ring_fd_and_never_enters_matches_the_kernel() {
    let test = test_name!();
    if direct_file(test).is_none() {
        return;
    }
    diff::both(
        test,
        &[opcode::Read::CODE, opcode::Write::CODE],
        64,
        |ring| rounds_through_the_ring_fd(ring, test, |ring, fd| reap_polling(ring, fd, false)),
    );
}

/// An `IOPOLL` ring whose fd was handed out (as liburing's programs have it): direct
/// writes and the reads of what they wrote end as on the kernel (a device without poll
/// queues, as a virtio disk, refuses the polled reads with `-EOPNOTSUPP` on both). On
/// the engine its completions keep going through the reaping thread, which `enter`
/// waits for on such a ring.
#[test]
fn direct_io_on_an_iopoll_ring_with_its_fd_out_matches_the_kernel() {
    let test = test_name!();
    if direct_file(test).is_none() {
        return;
    }
    diff::both_backends(test, |b| {
        let Ok(mut ring) = Ring::builder().backend_exact(b).iopoll().build(64) else {
            return None;
        };
        let _ = ring.fd();
        let file = direct_file(test).expect("O_DIRECT worked a moment ago");
        file.set_len((N * BS) as u64).unwrap();
        let out = Aligned::patterned(N, 21);
        let back = Aligned::new(N * BS);
        let mut seen = Vec::new();
        for write in [true, false] {
            {
                let mut sq = ring.submission();
                for i in 0..N {
                    let (f, off) = (Fd(file.as_raw_fd()), (i * BS) as u64);
                    let sqe = if write {
                        opcode::Write::new(f, out.at(i), BS as u32)
                            .offset(off)
                            .build()
                    } else {
                        opcode::Read::new(f, back.at(i), BS as u32)
                            .offset(off)
                            .build()
                    }
                    .user_data(i as u64);
                    // SAFETY: `out` and `back` outlive the requests (reaped below).
                    unsafe { sq.push(&sqe) }.unwrap();
                }
            }
            ring.submit().unwrap();
            let start = std::time::Instant::now();
            let mut got = Vec::new();
            while got.len() < N {
                assert!(
                    start.elapsed() < LIMIT,
                    "{} of {N} after {LIMIT:?}",
                    got.len()
                );
                let _ = ring.submit_and_wait(1);
                got.extend(ring.completion().map(|c| (c.user_data(), c.result())));
            }
            got.sort_unstable();
            seen.push(got);
        }
        let read_ok = seen[1].iter().all(|&(_, r)| r == BS as i32);
        Some((seen, !read_ok || back.slice() == out.slice()))
    });
}
