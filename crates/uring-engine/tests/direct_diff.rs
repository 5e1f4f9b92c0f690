//! O_DIRECT reads and writes at depth, on the engine (which sends them through Linux
//! AIO, `aio.rs`) and on the kernel: the same CQEs and the same bytes. The file lives
//! in the target directory, on disk (O_DIRECT on tmpfs needs Linux 6.6).
use std::alloc::Layout;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use uring::types::Fd;
use uring::{Backend, Ring, opcode};
use uring_testkit::{diff, not_applicable, pattern, reap, test_name};

const BS: usize = 4096;
const N: usize = 32;
const LIMIT: Duration = Duration::from_secs(20);

/// Page-aligned memory, as O_DIRECT wants.
struct Aligned {
    ptr: *mut u8,
    layout: Layout,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let layout = Layout::from_size_align(len, BS).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Aligned { ptr, layout }
    }

    fn at(&self, i: usize) -> *mut u8 {
        assert!(i * BS < self.layout.size());
        self.ptr.wrapping_add(i * BS)
    }

    fn slice(&self) -> &[u8] {
        // SAFETY: `layout.size()` initialised bytes; no request writes them while the
        // slice lives (the callers reap first).
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

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
            let out = Aligned::new(N * BS);
            for i in 0..N {
                // SAFETY: block i of `out`, BS bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(pattern(BS, i as u8).as_ptr(), out.at(i), BS)
                };
            }
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
    let Some(file) = direct_file(test) else {
        return;
    };
    let data = Aligned::new(N * BS);
    for i in 0..N {
        // SAFETY: block i of `data`.
        unsafe { std::ptr::copy_nonoverlapping(pattern(BS, 7 + i as u8).as_ptr(), data.at(i), BS) };
    }
    // SAFETY: `data` is N * BS initialised bytes, aligned for O_DIRECT.
    let n = unsafe { libc::pwrite(file.as_raw_fd(), data.ptr.cast(), N * BS, 0) };
    assert_eq!(n, (N * BS) as isize);
    let back = Aligned::new(N * BS);
    let mut ring = Ring::builder()
        .backend_exact(Backend::Engine)
        .build(64)
        .unwrap();
    {
        let mut sq = ring.submission();
        for i in 0..N {
            let r = opcode::Read::new(Fd(file.as_raw_fd()), back.at(i), BS as u32)
                .offset((i * BS) as u64)
                .build()
                .user_data(i as u64);
            // SAFETY: `back` outlives the ring (dropped below, before it).
            unsafe { sq.push(&r) }.unwrap();
        }
    }
    ring.submit().unwrap();
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
    let Some(file) = direct_file(test) else {
        return;
    };
    let data = Aligned::new(N * BS);
    for i in 0..N {
        // SAFETY: block i of `data`.
        unsafe { std::ptr::copy_nonoverlapping(pattern(BS, 3 + i as u8).as_ptr(), data.at(i), BS) };
    }
    // SAFETY: `data` is N * BS initialised bytes, aligned for O_DIRECT.
    let n = unsafe { libc::pwrite(file.as_raw_fd(), data.ptr.cast(), N * BS, 0) };
    assert_eq!(n, (N * BS) as isize);
    let back = Aligned::new(N * BS);
    let mut ring = Ring::builder()
        .backend_exact(Backend::Engine)
        .build(64)
        .unwrap();
    for round in 0..4 {
        {
            let mut sq = ring.submission();
            for i in 0..N {
                let r = opcode::Read::new(Fd(file.as_raw_fd()), back.at(i), BS as u32)
                    .offset((i * BS) as u64)
                    .build()
                    .user_data(i as u64);
                // SAFETY: `back` outlives the ring (dropped after it).
                unsafe { sq.push(&r) }.unwrap();
            }
        }
        ring.submit().unwrap();
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
