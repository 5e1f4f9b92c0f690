//! Bad input from the application, on both backends: the kernel is the oracle, and
//! the engine must answer as it does — an errno in the CQE or from the call, never a
//! crash or a panic (which aborts a C program using the drop-in library).
use uring_testkit as common;
use uring_testkit::test_name;

use std::time::Duration;

use common::reap;
use uring::types::Timespec;
use uring::{SqeFlags, WaitArgs, opcode};

const LIMIT: Duration = Duration::from_secs(10);

/// Waits that could last 292 years (or past what an `Instant` holds) are waits, not
/// panics: the wait ends when the completion comes.
#[test]
fn huge_wait_timeouts_wait_for_the_completion() {
    let huge = Duration::from_secs(i64::MAX as u64);
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE],
        8,
        |backend, ring| {
            let ts = Timespec::from(Duration::from_millis(20));
            for (i, args) in [
                WaitArgs::new().timeout(huge),
                WaitArgs::new().timeout(Duration::MAX),
                WaitArgs::new().timeout(huge).absolute(),
            ]
            .iter()
            .enumerate()
            {
                let t = opcode::Timeout::new(&ts).build().user_data(i as u64);
                // SAFETY: `ts` outlives the request, reaped below.
                unsafe { ring.submission().push(&t) }.unwrap();
                ring.submitter()
                    .submit_with_args(1, args)
                    .unwrap_or_else(|e| panic!("[{}] wait {i}: {e}", backend.name()));
                let c = reap(ring, 1, LIMIT)[0];
                assert_eq!((c.user_data(), c.result()), (i as u64, -libc::ETIME));
            }
        },
    );
}

/// Timeouts of 292 years in SQEs are accepted and can be removed.
#[test]
fn huge_timeout_sqes_are_armed_and_removable() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::Timeout::CODE,
            opcode::TimeoutRemove::CODE,
            opcode::LinkTimeout::CODE,
        ],
        8,
        |_backend, ring| {
            let huge = Timespec::new().sec(i64::MAX as u64).nsec(999_999_999);
            let sqes = [
                opcode::Timeout::new(&huge).build().user_data(1),
                opcode::Nop::new()
                    .build()
                    .flags(SqeFlags::IO_LINK)
                    .user_data(2),
                opcode::LinkTimeout::new(&huge).build().user_data(3),
            ];
            // SAFETY: `huge` outlives the requests, all reaped here.
            let mut got: Vec<_> = unsafe { common::run(ring, &sqes, 2) }
                .iter()
                .map(|c| (c.user_data(), c.result()))
                .collect();
            let rm = opcode::TimeoutRemove::new(1).build().user_data(4);
            // SAFETY: a removal points to nothing.
            got.extend(
                unsafe { common::run(ring, &[rm], 2) }
                    .iter()
                    .map(|c| (c.user_data(), c.result())),
            );
            got.sort();
            assert_eq!(
                got,
                [(1, -libc::ECANCELED), (2, 0), (3, -libc::ECANCELED), (4, 0)]
            );
        },
    );
}
