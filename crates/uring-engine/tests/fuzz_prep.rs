//! The fuzz target's property in the normal test suite: the engine's prep, given any
//! SQE bytes, never crashes and answers 0 or one of the kernel's error codes.
//! `fuzz/` runs the same function under libFuzzer (`cargo +nightly fuzz run prep`);
//! this test feeds it 200 000 seeded random SQEs, and every opcode with random
//! fields, on the setup flavours that change prep.
use uring::sys;
use uring_engine::{Rng, fuzz_prep};

mod prep_codes;

use prep_codes::{ALLOWED, FLAVOURS};

/// A field value: zero half the time (most fields must be zero to get past the
/// reserved-field checks), else a small number, a flag-like bit, or anything.
fn field(r: &mut Rng, bytes: usize) -> u64 {
    let mask = if bytes == 8 {
        u64::MAX
    } else {
        (1u64 << (bytes * 8)) - 1
    };
    let v = match r.next_u64() % 8 {
        0..=3 => 0,
        4 => r.next_u64() % 16,
        5 => 1 << (r.next_u64() % (bytes as u64 * 8)),
        6 => u64::MAX,
        _ => r.next_u64(),
    };
    v & mask
}

/// A random SQE of `opcode` (its fields laid out as `io_uring_sqe`), a control byte
/// and an arena.
fn sqe(r: &mut Rng, opcode: u8, size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(size + 1 + 256);
    b.push(opcode);
    b.push(if r.next_u64() % 2 == 0 {
        0
    } else {
        field(r, 1) as u8
    }); // flags
    b.extend_from_slice(&(field(r, 2) as u16).to_le_bytes()); // ioprio
    b.extend_from_slice(&(field(r, 4) as u32).to_le_bytes()); // fd
    b.extend_from_slice(&field(r, 8).to_le_bytes()); // off / addr2
    b.extend_from_slice(&field(r, 8).to_le_bytes()); // addr
    b.extend_from_slice(&(field(r, 4) as u32).to_le_bytes()); // len
    b.extend_from_slice(&(field(r, 4) as u32).to_le_bytes()); // op flags
    b.extend_from_slice(&r.next_u64().to_le_bytes()); // user_data
    b.extend_from_slice(&(field(r, 2) as u16).to_le_bytes()); // buf_index
    b.extend_from_slice(&(field(r, 2) as u16).to_le_bytes()); // personality
    b.extend_from_slice(&(field(r, 4) as u32).to_le_bytes()); // file_index
    b.extend_from_slice(&field(r, 8).to_le_bytes()); // addr3
    b.extend_from_slice(&field(r, 8).to_le_bytes()); // pad2
    while b.len() < size {
        b.push(if r.next_u64() % 4 == 0 {
            r.next_u64() as u8
        } else {
            0
        });
    }
    b.push(r.next_u64() as u8); // which address fields point into the arena
    let arena = (r.next_u64() % 256) as usize;
    for _ in 0..arena {
        b.push(match r.next_u64() % 4 {
            0 => 0,
            1 => r.next_u64() as u8 % 8,
            _ => r.next_u64() as u8,
        });
    }
    b
}

fn check(bytes: &[u8], flags: u32, seen: &mut std::collections::BTreeMap<i32, u64>) {
    let res = fuzz_prep(bytes, flags);
    assert!(
        ALLOWED.contains(&res),
        "prep returned {res} for opcode {} (flags {flags:#x}): {bytes:02x?}",
        bytes[0]
    );
    *seen.entry(res).or_default() += 1;
}

#[test]
fn random_sqes_get_kernel_error_codes() {
    let mut r = Rng::new(0x5eed);
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..200_000u32 {
        let flags = FLAVOURS[i as usize % FLAVOURS.len()];
        let size = if flags & sys::IORING_SETUP_SQE128 != 0 {
            128
        } else {
            64
        };
        // Mostly opcodes the engine knows, some past the end.
        let opcode = (r.next_u64() % (sys::IORING_OP_LAST as u64 + 4)) as u8;
        let mut b = sqe(&mut r, opcode, size);
        if i % 16 == 0 {
            // Raw noise too, of any length.
            let len = (r.next_u64() % 200) as usize;
            b = (0..len).map(|_| r.next_u64() as u8).collect();
            b.resize(b.len().max(1), 0);
        }
        check(&b, flags, &mut seen);
    }
    eprintln!("results: {seen:?}");
    // The generator reaches prep's success path often enough to mean something.
    assert!(seen.get(&0).copied().unwrap_or(0) > 1000, "{seen:?}");
}

#[test]
fn every_opcode_with_random_fields() {
    let mut r = Rng::new(0x0bc0de);
    for opcode in 0..=255u8 {
        let mut seen = std::collections::BTreeMap::new();
        for i in 0..400 {
            let flags = FLAVOURS[i % FLAVOURS.len()];
            let size = if flags & sys::IORING_SETUP_SQE128 != 0 {
                128
            } else {
                64
            };
            check(&sqe(&mut r, opcode, size), flags, &mut seen);
        }
        if opcode >= sys::IORING_OP_LAST || !uring_engine::supports_opcode(opcode) {
            assert_eq!(
                seen.keys().collect::<Vec<_>>(),
                [&-libc::EINVAL],
                "opcode {opcode}"
            );
        }
    }
}

#[test]
fn a_zeroed_nop_prepares() {
    assert_eq!(fuzz_prep(&[0u8; 64], 0), 0);
    assert_eq!(fuzz_prep(&[], 0), 0);
    // Bad SQE flags, a personality, an unknown opcode.
    let mut b = [0u8; 64];
    b[1] = 0x80;
    assert_eq!(fuzz_prep(&b, 0), -libc::EINVAL);
    b[1] = 0;
    b[42] = 1;
    assert_eq!(fuzz_prep(&b, 0), -libc::EINVAL);
    b[42] = 0;
    b[0] = 200;
    assert_eq!(fuzz_prep(&b, 0), -libc::EINVAL);
}
