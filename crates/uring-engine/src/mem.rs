//! Ring memory in the kernel's layout: the SQ and CQ rings in one region (what the
//! kernel maps at `IORING_OFF_SQ_RING` and `IORING_OFF_CQ_RING` with
//! `IORING_FEAT_SINGLE_MMAP`), the SQEs in another (`IORING_OFF_SQES`), the offsets
//! written into `io_uring_params` as `io_uring_setup(2)` writes them.
//!
//! The region is ours to lay out, as `struct io_rings` is the kernel's: the offsets are
//! the contract. We put each head and tail on its own cache line, since the two sides
//! here are threads of one process and would otherwise share lines.
use std::io;
use std::ptr::{self, NonNull};

use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use uring_sys as sys;

/// Where each field of the rings region lives.
mod off {
    pub const SQ_HEAD: u32 = 0;
    pub const SQ_TAIL: u32 = 64;
    pub const CQ_HEAD: u32 = 128;
    pub const CQ_TAIL: u32 = 192;
    pub const SQ_RING_MASK: u32 = 256;
    pub const CQ_RING_MASK: u32 = 260;
    pub const SQ_RING_ENTRIES: u32 = 264;
    pub const CQ_RING_ENTRIES: u32 = 268;
    pub const SQ_DROPPED: u32 = 272;
    pub const SQ_FLAGS: u32 = 276;
    pub const CQ_FLAGS: u32 = 280;
    pub const CQ_OVERFLOW: u32 = 284;
    pub const CQES: u32 = 320;
}

/// A region of memory: ours (anonymous, unmapped on drop) or the application's
/// (`IORING_SETUP_NO_MMAP`).
#[derive(Debug)]
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
    owned: bool,
}

// SAFETY: a Region is plain memory; every access to its contents goes through raw
// pointers synchronised by the ring protocol (atomics) or by the engine's locks.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` hands out only the base pointer and length.
unsafe impl Sync for Region {}

impl Region {
    fn anonymous(len: usize) -> io::Result<Region> {
        let page = rustix::param::page_size();
        let len = len.div_ceil(page) * page;
        // Shared, as a kernel ring's mapping is: a child of fork(2) sees the CQEs its
        // parent's engine posts (`Engine::enter_forked`).
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let ptr = unsafe {
            mmap_anonymous(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
            )
        }?;
        Ok(Region {
            ptr: NonNull::new(ptr.cast())
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?,
            len,
            owned: true,
        })
    }

    fn provided(addr: u64, len: usize) -> io::Result<Region> {
        let page = rustix::param::page_size() as u64;
        // The kernel refuses unaligned or null user memory with EFAULT/EINVAL.
        if addr == 0 {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        if addr % page != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(Region {
            // SAFETY: checked non-null above.
            ptr: unsafe { NonNull::new_unchecked(addr as *mut u8) },
            len,
            owned: false,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: ptr/len are what mmap returned; the engine that used the region
            // has stopped (the region is dropped last).
            unsafe {
                let _ = munmap(self.ptr.as_ptr().cast(), self.len);
            }
        }
    }
}

/// The memory of one engine ring, and the sizes it was built for.
#[derive(Debug)]
pub(crate) struct RingMemory {
    pub(crate) rings: Region,
    pub(crate) sqes: Region,
    pub(crate) sq_entries: u32,
    pub(crate) cq_entries: u32,
    /// 64 or 128.
    pub(crate) sqe_size: usize,
    /// 16 or 32.
    pub(crate) cqe_size: usize,
    pub(crate) has_array: bool,
}

impl RingMemory {
    /// Allocates (or adopts, with `NO_MMAP`) the memory for rings of these sizes,
    /// initialises masks and entry counts, and writes the offsets into `p`.
    pub(crate) fn new(
        sq_entries: u32,
        cq_entries: u32,
        p: &mut sys::io_uring_params,
    ) -> io::Result<Self> {
        let flags = p.flags;
        let sqe_size = if flags & sys::IORING_SETUP_SQE128 != 0 {
            128
        } else {
            64
        };
        let cqe_size = if flags & sys::IORING_SETUP_CQE32 != 0 {
            32
        } else {
            16
        };
        let has_array = flags & sys::IORING_SETUP_NO_SQARRAY == 0;
        let cqes_end = off::CQES as usize + cq_entries as usize * cqe_size;
        let array = cqes_end.next_multiple_of(64);
        let rings_len = if has_array {
            array + sq_entries as usize * 4
        } else {
            cqes_end
        };
        let sqes_len = sq_entries as usize * sqe_size;

        let (rings, sqes) = if flags & sys::IORING_SETUP_NO_MMAP != 0 {
            (
                Region::provided(p.cq_off.user_addr, rings_len)?,
                Region::provided(p.sq_off.user_addr, sqes_len)?,
            )
        } else {
            (Region::anonymous(rings_len)?, Region::anonymous(sqes_len)?)
        };

        let base = rings.as_ptr();
        // SAFETY: every offset written lies below `rings_len`, inside the region; the
        // region is not shared with anyone yet.
        unsafe {
            let put = |o: u32, v: u32| base.add(o as usize).cast::<u32>().write(v);
            for o in [off::SQ_HEAD, off::SQ_TAIL, off::CQ_HEAD, off::CQ_TAIL] {
                put(o, 0);
            }
            put(off::SQ_RING_MASK, sq_entries - 1);
            put(off::CQ_RING_MASK, cq_entries - 1);
            put(off::SQ_RING_ENTRIES, sq_entries);
            put(off::CQ_RING_ENTRIES, cq_entries);
            for o in [
                off::SQ_DROPPED,
                off::SQ_FLAGS,
                off::CQ_FLAGS,
                off::CQ_OVERFLOW,
            ] {
                put(o, 0);
            }
        }

        let user_sq = p.sq_off.user_addr;
        let user_cq = p.cq_off.user_addr;
        p.sq_off = sys::io_sqring_offsets {
            head: off::SQ_HEAD,
            tail: off::SQ_TAIL,
            ring_mask: off::SQ_RING_MASK,
            ring_entries: off::SQ_RING_ENTRIES,
            flags: off::SQ_FLAGS,
            dropped: off::SQ_DROPPED,
            array: if has_array { array as u32 } else { 0 },
            resv1: 0,
            user_addr: user_sq,
        };
        p.cq_off = sys::io_cqring_offsets {
            head: off::CQ_HEAD,
            tail: off::CQ_TAIL,
            ring_mask: off::CQ_RING_MASK,
            ring_entries: off::CQ_RING_ENTRIES,
            overflow: off::CQ_OVERFLOW,
            cqes: off::CQES,
            flags: off::CQ_FLAGS,
            resv1: 0,
            user_addr: user_cq,
        };
        Ok(RingMemory {
            rings,
            sqes,
            sq_entries,
            cq_entries,
            sqe_size,
            cqe_size,
            has_array,
        })
    }

    /// What `mmap(2)` of the ring fd at `offset` would give: the region and its length.
    pub(crate) fn map(&self, offset: u64) -> io::Result<(*mut u8, usize)> {
        match offset {
            sys::IORING_OFF_SQ_RING | sys::IORING_OFF_CQ_RING => {
                Ok((self.rings.as_ptr(), self.rings.len()))
            }
            sys::IORING_OFF_SQES => Ok((self.sqes.as_ptr(), self.sqes.len())),
            _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        }
    }

    /// The offset of the SQ index array (meaningless without one).
    pub(crate) fn array_offset(&self) -> usize {
        (off::CQES as usize + self.cq_entries as usize * self.cqe_size).next_multiple_of(64)
    }

    pub(crate) const SQ_HEAD: usize = off::SQ_HEAD as usize;
    pub(crate) const SQ_TAIL: usize = off::SQ_TAIL as usize;
    pub(crate) const CQ_HEAD: usize = off::CQ_HEAD as usize;
    pub(crate) const CQ_TAIL: usize = off::CQ_TAIL as usize;
    pub(crate) const SQ_DROPPED: usize = off::SQ_DROPPED as usize;
    pub(crate) const SQ_FLAGS: usize = off::SQ_FLAGS as usize;
    pub(crate) const CQ_FLAGS: usize = off::CQ_FLAGS as usize;
    pub(crate) const CQ_OVERFLOW: usize = off::CQ_OVERFLOW as usize;
    pub(crate) const CQES: usize = off::CQES as usize;
}
