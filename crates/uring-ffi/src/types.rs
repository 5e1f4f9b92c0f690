//! `struct io_uring`, `struct io_uring_sq` and `struct io_uring_cq`, byte for byte as
//! liburing's `liburing.h` lays them out (216, 104 and 88 bytes on 64-bit targets), and
//! the atomics on the shared ring words.
//!
//! C code compiled against the system's `liburing.h` reads and writes these fields
//! directly from its inline functions (`io_uring_get_sqe` in newer headers,
//! `io_uring_cqe_seen`, `io_uring_for_each_cqe`, `io_uring_sq_ready`, …), so the
//! layout is ABI, proven by the assertions below and, against the real header, by
//! `tests/layout.rs`.
use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicU32, Ordering};

use uring_sys::{io_uring_cqe, io_uring_sqe};

/// `struct io_uring_sq`: the application's view of the submission queue.
#[repr(C)]
#[derive(Debug)]
pub struct io_uring_sq {
    /// The kernel's SQ head (the kernel consumes).
    pub khead: *mut c_uint,
    /// The kernel's SQ tail (we produce).
    pub ktail: *mut c_uint,
    /// Deprecated in liburing: `ring_mask` holds the same value.
    pub kring_mask: *mut c_uint,
    /// Deprecated in liburing: `ring_entries` holds the same value.
    pub kring_entries: *mut c_uint,
    /// `IORING_SQ_*` flags, written by the kernel.
    pub kflags: *mut c_uint,
    /// Count of invalid SQEs the kernel dropped.
    pub kdropped: *mut c_uint,
    /// The SQ index array (null with `IORING_SETUP_NO_SQARRAY`).
    pub array: *mut c_uint,
    /// The SQE array.
    pub sqes: *mut io_uring_sqe,
    /// First SQE handed out by `io_uring_get_sqe` and not yet published.
    pub sqe_head: c_uint,
    /// Next SQE `io_uring_get_sqe` will hand out.
    pub sqe_tail: c_uint,
    /// Length of the SQ ring mapping (0 when the application provided the memory).
    pub ring_sz: usize,
    /// Start of the SQ ring mapping.
    pub ring_ptr: *mut c_void,
    /// `ring_entries - 1`.
    pub ring_mask: c_uint,
    /// Number of SQ entries.
    pub ring_entries: c_uint,
    /// Reserved.
    pub pad: [c_uint; 2],
}

/// `struct io_uring_cq`: the application's view of the completion queue.
#[repr(C)]
#[derive(Debug)]
pub struct io_uring_cq {
    /// The kernel's CQ head (we consume).
    pub khead: *mut c_uint,
    /// The kernel's CQ tail (the kernel produces).
    pub ktail: *mut c_uint,
    /// Deprecated in liburing: `ring_mask` holds the same value.
    pub kring_mask: *mut c_uint,
    /// Deprecated in liburing: `ring_entries` holds the same value.
    pub kring_entries: *mut c_uint,
    /// `IORING_CQ_*` flags (null if the kernel has none).
    pub kflags: *mut c_uint,
    /// Count of completions lost to overflow.
    pub koverflow: *mut c_uint,
    /// The CQE array.
    pub cqes: *mut io_uring_cqe,
    /// Length of the CQ ring mapping (0 when shared with the SQ ring's or provided).
    pub ring_sz: usize,
    /// Start of the CQ ring mapping.
    pub ring_ptr: *mut c_void,
    /// `ring_entries - 1`.
    pub ring_mask: c_uint,
    /// Number of CQ entries.
    pub ring_entries: c_uint,
    /// Reserved.
    pub pad: [c_uint; 2],
}

/// `struct io_uring`: one ring as liburing's API sees it.
#[repr(C)]
#[derive(Debug)]
pub struct io_uring {
    /// Submission queue.
    pub sq: io_uring_sq,
    /// Completion queue.
    pub cq: io_uring_cq,
    /// `IORING_SETUP_*` flags the ring was created with.
    pub flags: c_uint,
    /// The ring's file descriptor (-1 after `io_uring_close_ring_fd`).
    pub ring_fd: c_int,
    /// `IORING_FEAT_*` flags the kernel reported.
    pub features: c_uint,
    /// The fd (or registered index, with `INT_FLAG_REG_RING`) used to enter.
    pub enter_ring_fd: c_int,
    /// Library-private flags (`INT_FLAG_*`).
    pub int_flags: u8,
    /// Reserved.
    pub pad: [u8; 3],
    /// Reserved.
    pub pad2: c_uint,
}

// The library-private `int_flags`. The header's inline code never reads them; the two
// that matter to io_uring_enter(2) have the value of their `IORING_ENTER_*` flag, so
// the flags of every enter are `int_flags & INT_FLAGS_ENTER` (as newer liburing does).
/// `enter_ring_fd` is a registered ring index: enter with `IORING_ENTER_REGISTERED_RING`.
pub(crate) const INT_FLAG_REG_RING: u8 = uring_sys::IORING_ENTER_REGISTERED_RING as u8;
/// `io_uring_set_iowait(ring, false)`: wait with `IORING_ENTER_NO_IOWAIT`.
pub(crate) const INT_FLAG_NO_IOWAIT: u8 = uring_sys::IORING_ENTER_NO_IOWAIT as u8;
/// Register through the registered index too (`IORING_FEAT_REG_REG_RING`).
pub(crate) const INT_FLAG_REG_REG_RING: u8 = 1;
/// The application, not the kernel, provided the ring memory: don't unmap it.
pub(crate) const INT_FLAG_APP_MEM: u8 = 2;
/// The `int_flags` that are `IORING_ENTER_*` flags.
pub(crate) const INT_FLAGS_ENTER: u8 = INT_FLAG_REG_RING | INT_FLAG_NO_IOWAIT;

const _: () = {
    use core::mem::{offset_of, size_of};
    if cfg!(target_pointer_width = "64") {
        assert!(size_of::<io_uring_sq>() == 104);
        assert!(size_of::<io_uring_cq>() == 88);
        assert!(size_of::<io_uring>() == 216);
        assert!(offset_of!(io_uring_sq, sqe_head) == 64);
        assert!(offset_of!(io_uring_sq, ring_sz) == 72);
        assert!(offset_of!(io_uring_sq, ring_mask) == 88);
        assert!(offset_of!(io_uring_cq, ring_sz) == 56);
        assert!(offset_of!(io_uring_cq, ring_mask) == 72);
        assert!(offset_of!(io_uring, flags) == 192);
        assert!(offset_of!(io_uring, enter_ring_fd) == 204);
        assert!(offset_of!(io_uring, int_flags) == 208);
    }
};

/// Loads a ring word with acquire ordering: liburing's `io_uring_smp_load_acquire`.
///
/// # Safety
/// `p` must point to a live, 4-byte aligned ring word.
#[inline(always)]
pub(crate) unsafe fn load_acquire(p: *const c_uint) -> u32 {
    // SAFETY: by the caller's contract; every access to shared ring words goes through
    // atomics of this size (the kernel's READ_ONCE/WRITE_ONCE and acquire/release).
    unsafe { AtomicU32::from_ptr(p.cast_mut()) }.load(Ordering::Acquire)
}

/// Loads a ring word with no ordering: liburing's `IO_URING_READ_ONCE`.
///
/// # Safety
/// As [`load_acquire`].
#[inline(always)]
pub(crate) unsafe fn load_relaxed(p: *const c_uint) -> u32 {
    // SAFETY: as in `load_acquire`.
    unsafe { AtomicU32::from_ptr(p.cast_mut()) }.load(Ordering::Relaxed)
}

/// Stores a ring word with release ordering: liburing's `io_uring_smp_store_release`.
///
/// # Safety
/// As [`load_acquire`].
#[inline(always)]
pub(crate) unsafe fn store_release(p: *mut c_uint, v: u32) {
    // SAFETY: as in `load_acquire`.
    unsafe { AtomicU32::from_ptr(p) }.store(v, Ordering::Release)
}

/// Stores a ring word with no ordering: liburing's `IO_URING_WRITE_ONCE`.
///
/// # Safety
/// As [`load_acquire`].
#[inline(always)]
#[cfg_attr(not(liburing_ffi), allow(dead_code))]
pub(crate) unsafe fn store_relaxed(p: *mut c_uint, v: u32) {
    // SAFETY: as in `load_acquire`.
    unsafe { AtomicU32::from_ptr(p) }.store(v, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};
    use std::collections::HashMap;
    use std::process::Command;

    /// Our size and offsets, named as `tests/c/layout.c` prints liburing's.
    fn ours() -> Vec<(String, usize)> {
        macro_rules! off {
            ($t:ident: $($f:ident),*) => {
                [(concat!("sizeof(", stringify!($t), ")"), size_of::<$t>())]
                    .into_iter()
                    .chain([$((concat!(stringify!($t), ".", stringify!($f)), offset_of!($t, $f))),*])
                    .map(|(n, v)| (n.to_owned(), v))
                    .collect::<Vec<_>>()
            };
        }
        let mut all = off!(io_uring_sq: khead, ktail, kring_mask, kring_entries, kflags,
            kdropped, array, sqes, sqe_head, sqe_tail, ring_sz, ring_ptr, ring_mask,
            ring_entries, pad);
        all.extend(
            off!(io_uring_cq: khead, ktail, kring_mask, kring_entries, kflags,
            koverflow, cqes, ring_sz, ring_ptr, ring_mask, ring_entries, pad),
        );
        all.extend(
            off!(io_uring: sq, cq, flags, ring_fd, features, enter_ring_fd,
            int_flags, pad, pad2),
        );
        all
    }

    /// The layout of `struct io_uring` and its parts equals what the system's
    /// `liburing.h` (liburing-dev) says, field by field.
    #[test]
    fn layout_matches_system_liburing_h() {
        if !std::path::Path::new("/usr/include/liburing.h").exists() {
            return uring_testkit::skip(
                uring_testkit::test_name!(),
                "/usr/include/liburing.h missing (install liburing-dev)",
            );
        }
        let dir = std::env::temp_dir().join(format!("uring-ffi-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("layout");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/layout.c");
        let cc = Command::new("cc")
            .arg("-o")
            .arg(&bin)
            .arg(src)
            .status()
            .expect("run cc");
        assert!(cc.success(), "cc failed on {src}");
        let out = Command::new(&bin).output().expect("run layout");
        assert!(out.status.success());
        let theirs: HashMap<String, usize> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').unwrap();
                (name.to_owned(), value.parse().unwrap())
            })
            .collect();
        let ours = ours();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "the C program and this test list different fields"
        );
        for (name, value) in ours {
            assert_eq!(
                theirs.get(&name),
                Some(&value),
                "{name}: liburing.h says {:?}, we {value}",
                theirs.get(&name)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
