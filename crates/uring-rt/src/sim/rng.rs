//! The simulator's randomness: the engine's generator ([`uring_engine::Rng`],
//! splitmix64, the same sequence for a seed on every machine), with the draws only
//! the simulator makes. Each purpose has its own instance, seeded from the run's seed
//! by [`derive`], so the engine's choices and the simulator's do not shift each other.

pub(crate) use uring_engine::Rng;

/// The simulator's draws over [`Rng`].
pub(crate) trait SimRng {
    /// Uniform in `lo..=hi` nanoseconds.
    fn between(&mut self, lo: u64, hi: u64) -> u64;
    /// Shuffles `v` (Fisher–Yates).
    fn shuffle<T>(&mut self, v: &mut [T]);
}

impl SimRng for Rng {
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// The seed of sub-stream `label` of `seed`.
pub(crate) fn derive(seed: u64, label: u64) -> u64 {
    Rng::mix(seed ^ Rng::mix(label.wrapping_add(0x5851_f42d_4c95_7f2d)))
}
