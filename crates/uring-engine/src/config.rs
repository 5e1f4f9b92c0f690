//! How an engine ring runs: threaded (the default), or deterministic with a seed, and
//! with or without injected faults.

/// Options of an engine ring beyond `io_uring_params`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) _private: (),
}

impl Config {
    /// The default: threaded, no faults.
    pub fn new() -> Config {
        Config::default()
    }

    /// The configuration the environment asks for (see the crate docs).
    pub fn from_env() -> Config {
        Config::default()
    }
}
