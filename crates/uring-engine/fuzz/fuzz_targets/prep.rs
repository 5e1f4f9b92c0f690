//! Arbitrary SQE bytes into the engine's prep (`uring_engine::fuzz_prep`): never a
//! crash, only 0 or one of the kernel's error codes. The first byte picks the ring's
//! setup flavour; the rest is the SQE, a control byte and an arena its address fields
//! may point into (see `fuzz_prep`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/prep_codes/mod.rs"]
mod prep_codes;

use prep_codes::{ALLOWED, FLAVOURS};

fuzz_target!(|data: &[u8]| {
    let Some((&flavour, sqe)) = data.split_first() else {
        return;
    };
    let flags = FLAVOURS[flavour as usize % FLAVOURS.len()];
    let res = uring_engine::fuzz_prep(sqe, flags);
    assert!(
        ALLOWED.contains(&res),
        "prep returned {res} for opcode {:?}",
        sqe.first()
    );
});
