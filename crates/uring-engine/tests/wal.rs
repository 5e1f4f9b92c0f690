//! The write-ahead log of `examples/wal.rs` under injected faults: what it
//! acknowledges is exactly what the file durably holds.
#[path = "../examples/wal.rs"]
#[allow(dead_code)]
mod wal;

use std::path::Path;

use uring::{EngineConfig, opcode};
use uring_engine::{Fault, FaultPlan};
use wal::{Wal, WalError, engine_ring, read_log};

fn records(batch: u32, n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("batch {batch} record {i}").into_bytes())
        .collect()
}

/// Runs `body` once in each mode of the engine (threaded, and deterministic with a
/// seed) under the fault plan `plan`, on a fresh log holding `n` appended (not yet
/// committed) records of batch 0; the plan, for what it injected.
fn in_each_mode(plan: &str, n: u32, body: impl Fn(&str, &mut Wal, &Path)) -> FaultPlan {
    let plan = FaultPlan::parse(plan).unwrap();
    let modes = [
        ("threaded", EngineConfig::new()),
        ("deterministic", EngineConfig::new().deterministic(11)),
    ];
    for (mode, cfg) in modes {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut wal = Wal::create(&path, engine_ring(cfg.faults(plan.clone()))).unwrap();
        for r in records(0, n) {
            wal.append(&r);
        }
        body(mode, &mut wal, &path);
    }
    plan
}

#[test]
fn failed_fsync_is_not_acknowledged_and_the_batch_is_rewritten() {
    // The second FSYNC fails.
    let plan = in_each_mode("ops=FSYNC,at=1:EIO", 2, |mode, wal, path| {
        assert_eq!(wal.commit(), Ok(2), "{mode}");
        let durable = wal.durable_len();
        for r in records(1, 3) {
            wal.append(&r);
        }
        // The loss is reported, and nothing of the batch acknowledged.
        assert_eq!(wal.commit(), Err(WalError::Sync(libc::EIO)), "{mode}");
        assert_eq!(wal.acked(), 2, "{mode}");
        assert_eq!(wal.durable_len(), durable, "{mode}");
        // No retry-and-assume: the writer refuses until it recovers.
        assert_eq!(wal.commit(), Err(WalError::Poisoned), "{mode}");
        assert_eq!(wal.acked(), 2, "{mode}");
        // Recovery rewrites the batch from the writer's buffer, with a new fsync.
        assert_eq!(wal.recover(), Ok(5), "{mode}");
        let mut want = records(0, 2);
        want.extend(records(1, 3));
        assert_eq!(read_log(path).unwrap(), want, "{mode}: each record once");
        assert_eq!(std::fs::metadata(path).unwrap().len(), wal.durable_len());
        assert_eq!(wal.stats().recoveries, 1);
    });
    let hits = plan.injected();
    assert_eq!(hits.len(), 2, "one failed FSYNC per ring");
    assert!(
        hits.iter()
            .all(|i| i.opcode == opcode::Fsync::CODE && i.fault == Fault::Error(libc::EIO))
    );
}

#[test]
fn short_write_cancels_the_fsync_and_the_rest_is_rewritten() {
    let plan = in_each_mode("ops=WRITE,at=0:short", 4, |mode, wal, path| {
        assert_eq!(wal.commit(), Ok(4), "{mode}");
        assert_eq!(
            wal.stats().rewrites,
            1,
            "{mode}: the remainder written again"
        );
        assert_eq!(read_log(path).unwrap(), records(0, 4), "{mode}");
    });
    assert_eq!(plan.counts().shorts, 2);
}

#[test]
fn failed_write_keeps_the_batch_for_the_next_commit() {
    in_each_mode("ops=WRITE,at=0:ENOSPC", 2, |mode, wal, path| {
        assert_eq!(wal.commit(), Err(WalError::Write(libc::ENOSPC)), "{mode}");
        assert_eq!(wal.acked(), 0);
        assert_eq!(wal.commit(), Ok(2), "{mode}");
        assert_eq!(read_log(path).unwrap(), records(0, 2), "{mode}");
    });
}

#[test]
fn under_random_faults_what_is_acknowledged_is_what_is_durable() {
    // Writes fail or come up short, fsyncs fail, at random; for many seeds the
    // acknowledged prefix of the file always holds exactly the acknowledged records.
    for seed in 0..24u64 {
        let plan = FaultPlan::parse(&format!(
            "seed={seed};ops=WRITE,rate=0.15,errors=EIO|ENOSPC,short=0.25;ops=FSYNC,rate=0.15,errors=EIO"
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let cfg = EngineConfig::new().deterministic(seed).faults(plan.clone());
        let mut wal = Wal::create(&path, engine_ring(cfg)).unwrap();
        let mut acked: Vec<Vec<u8>> = Vec::new();
        let mut pending: Vec<Vec<u8>> = Vec::new();
        for batch in 0..12 {
            for r in records(batch, 3) {
                wal.append(&r);
                pending.push(r);
            }
            let mut result = wal.commit();
            for _ in 0..20 {
                match result {
                    Err(WalError::Sync(_)) | Err(WalError::Poisoned) => result = wal.recover(),
                    Err(WalError::Write(_)) => result = wal.commit(),
                    Ok(_) => break,
                }
            }
            let n = result.unwrap_or_else(|e| panic!("seed {seed}: still {e:?}"));
            acked.append(&mut pending);
            assert_eq!(n as usize, acked.len(), "seed {seed}");
            let durable = wal.durable_len() as usize;
            let bytes = std::fs::read(&path).unwrap();
            let tmp = dir.path().join("prefix");
            std::fs::write(&tmp, &bytes[..durable]).unwrap();
            assert_eq!(read_log(&tmp).unwrap(), acked, "seed {seed}, batch {batch}");
        }
        let c = plan.counts();
        assert!(c.errors + c.shorts > 0 || seed > 0, "seed {seed}: {c:?}");
    }
}
