//! The engine rings of this process, by the fd that stands for each (its pollable
//! fd): how one engine ring finds another named by fd, as the kernel finds a ring
//! through its file (`IORING_REGISTER_CLONE_BUFFERS`, `IORING_OP_MSG_RING`).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::engine::Engine;

fn map() -> &'static Mutex<HashMap<i32, Weak<Engine>>> {
    static MAP: OnceLock<Mutex<HashMap<i32, Weak<Engine>>>> = OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// Records `engine` under `fd` (replacing a dead ring that had the same number).
pub(crate) fn register(fd: i32, engine: Weak<Engine>) {
    let mut m = map().lock().expect("ring registry");
    m.retain(|_, w| w.strong_count() > 0);
    m.insert(fd, engine);
}

/// Forgets `fd` (the ring is being torn down).
pub(crate) fn unregister(fd: i32) {
    map().lock().expect("ring registry").remove(&fd);
}

/// The live engine ring whose fd is `fd`.
pub(crate) fn lookup(fd: i32) -> Option<Arc<Engine>> {
    map().lock().expect("ring registry").get(&fd)?.upgrade()
}

/// The first live engine ring that satisfies `pred` (one a duplicate of its fd names,
/// for `IORING_OP_MSG_RING` to a fixed file, or a ring fd the program `dup`ed).
pub(crate) fn find(mut pred: impl FnMut(&Engine) -> bool) -> Option<Arc<Engine>> {
    let m = map().lock().expect("ring registry");
    m.values().filter_map(Weak::upgrade).find(|e| pred(e))
}
