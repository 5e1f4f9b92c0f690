//! One workload on one backend, for profilers (`perf record`, `valgrind --tool=callgrind`,
//! `perf stat`): `cargo run --release -p uring-bench --example engine_ops --
//! <kernel|engine|pread> <nop|read|readv|write> [COUNT] [FILE]`.
//!
//! `nop`: NOPs at batch 32. `read`: 4 KiB random reads at depth 32 from FILE (default: a
//! 64 MiB temporary file, read once so it is cached), offsets as the engine bench draws
//! them; `readv`: the same as `READV` of one iovec (what qemu's block layer submits);
//! `write`: 4 KiB random writes at depth 32 to FILE (overwrites: give a file with data);
//! `pread` runs the same reads with `pread(2)`. `ENGINE_OPS_DIRECT=1` opens FILE
//! with `O_DIRECT`. Prints ops per second.
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::Instant;

use uring::types::Fd;
use uring::{Backend, Ring, opcode};

const BS: usize = 4096;
const DEPTH: u64 = 32;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (backend, work) = match (
        args.get(1).map(String::as_str),
        args.get(2).map(String::as_str),
    ) {
        (Some(b), Some(w)) => (b.to_owned(), w.to_owned()),
        _ => {
            eprintln!(
                "usage: engine_ops <kernel|engine|pread> <nop|read|readv|write> [COUNT] [FILE]"
            );
            std::process::exit(2);
        }
    };
    let count: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let file = match args.get(4) {
        Some(p) => std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(if std::env::var_os("ENGINE_OPS_DIRECT").is_some() {
                libc::O_DIRECT
            } else {
                0
            })
            .open(p)
            .expect("open FILE"),
        None => {
            let f = tempfile::tempfile().expect("temporary file");
            let chunk = vec![0xa5u8; 1 << 20];
            for off in (0..64u64 << 20).step_by(chunk.len()) {
                f.write_all_at(&chunk, off).expect("fill");
            }
            f
        }
    };
    let size = file.metadata().expect("stat").len();
    let blocks = size / BS as u64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut block = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % blocks) * BS as u64
    };
    let t = Instant::now();
    if backend == "pread" {
        let mut buf = vec![0u8; BS];
        for _ in 0..count {
            assert_eq!(file.read_at(&mut buf, block()).expect("pread"), BS);
        }
    } else {
        let backend = match backend.as_str() {
            "kernel" => Backend::Kernel,
            "engine" => Backend::Engine,
            b => panic!("unknown backend {b}"),
        };
        let mut ring = Ring::builder()
            .backend_exact(backend)
            .build(2 * DEPTH as u32)
            .expect("ring");
        let layout = std::alloc::Layout::from_size_align(BS * DEPTH as usize, BS).expect("layout");
        // SAFETY: a non-zero size; freed at the end, after every request was reaped.
        let base = unsafe { std::alloc::alloc_zeroed(layout) };
        let fd = Fd(file.as_raw_fd());
        let iovecs: Vec<libc::iovec> = (0..DEPTH as usize)
            .map(|slot| libc::iovec {
                iov_base: base.wrapping_add(slot * BS).cast(),
                iov_len: BS,
            })
            .collect();
        let make = |slot: u64, off: u64| {
            if work == "nop" {
                opcode::Nop::new().build().user_data(slot)
            } else if work == "readv" {
                // In bounds: slot < DEPTH.
                let iov = iovecs.as_ptr().wrapping_add(slot as usize);
                opcode::Readv::new(fd, iov, 1)
                    .offset(off)
                    .build()
                    .user_data(slot)
            } else if work == "write" {
                // In bounds: slot < DEPTH.
                let buf = base.wrapping_add(slot as usize * BS);
                opcode::Write::new(fd, buf, BS as u32)
                    .offset(off)
                    .build()
                    .user_data(slot)
            } else {
                // In bounds: slot < DEPTH.
                let buf = base.wrapping_add(slot as usize * BS);
                opcode::Read::new(fd, buf, BS as u32)
                    .offset(off)
                    .build()
                    .user_data(slot)
            }
        };
        for slot in 0..DEPTH {
            // SAFETY: the buffers outlive the ring's requests (all reaped below).
            unsafe { ring.submission().push(&make(slot, block())) }.expect("room");
        }
        let (mut issued, mut done) = (DEPTH, 0u64);
        while done < count {
            ring.submit_and_wait(1).expect("enter");
            let mut cq = ring.completion();
            let mut back = [0u64; DEPTH as usize];
            let mut n = 0;
            for c in &mut cq {
                assert!(c.result() >= 0, "result {}", c.result());
                back[n] = c.user_data();
                n += 1;
            }
            drop(cq);
            for &slot in &back[..n] {
                done += 1;
                if issued < count {
                    // SAFETY: as above.
                    unsafe { ring.submission().push(&make(slot, block())) }.expect("room");
                    issued += 1;
                }
            }
        }
        drop(ring);
        // SAFETY: allocated above with this layout; the ring is gone.
        unsafe { std::alloc::dealloc(base, layout) };
    }
    let rate = count as f64 / t.elapsed().as_secs_f64();
    println!("{backend} {work}: {:.0} k/s", rate / 1e3);
}
