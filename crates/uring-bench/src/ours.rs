//! This workspace's ring (`uring`): not written yet.
//!
//! `uring::Ring` is being written; until it lands this reports `Unsupported`
//! and the benchmark and the smoke test show ours as missing.

use std::io;
use std::time::Duration;

use crate::NopConfig;

/// Times `cfg.total` NOPs on `uring`.
///
/// # Errors
///
/// Always [`io::ErrorKind::Unsupported`] for now: `uring::Ring` is not written yet.
pub fn nop_ours(cfg: &NopConfig) -> io::Result<Duration> {
    cfg.validate()?;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "uring::Ring is not written yet",
    ))
}
