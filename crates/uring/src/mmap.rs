//! Owned memory mappings: the kernel's ring mappings, and anonymous memory for rings
//! the application provides (`IORING_SETUP_NO_MMAP`).
use std::io;
use std::os::fd::BorrowedFd;
use std::ptr::{self, NonNull};

use rustix::mm::{MapFlags, ProtFlags, mmap, mmap_anonymous, munmap};

/// A mapping unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mmap is a plain owned region of memory; all access to its contents goes
// through raw pointers whose synchronisation is the ring protocol's (atomics).
unsafe impl Send for Mmap {}
// SAFETY: as above; &Mmap hands out nothing but the base pointer and length.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `len` bytes of the io_uring fd at the magic `offset` (`IORING_OFF_*`),
    /// shared and pre-faulted, as liburing does.
    pub(crate) fn map_ring(fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<Mmap> {
        // SAFETY: mapping a fresh region chosen by the kernel (null hint) cannot alias
        // any Rust object; the kernel validates offset and length against the ring.
        let ptr = unsafe {
            mmap(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
                fd,
                offset,
            )
        }?;
        Ok(Mmap {
            ptr: NonNull::new(ptr.cast()).expect("mmap returned null"),
            len,
        })
    }

    /// Maps `len` bytes of zeroed, page-aligned anonymous memory.
    pub(crate) fn anonymous(len: usize) -> io::Result<Mmap> {
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let ptr = unsafe {
            mmap_anonymous(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::POPULATE,
            )
        }?;
        Ok(Mmap {
            ptr: NonNull::new(ptr.cast()).expect("mmap returned null"),
            len,
        })
    }

    /// Takes ownership of a mapping made elsewhere (the engine's mapping of a buffer
    /// ring it allocated), to be unmapped on drop.
    ///
    /// # Safety
    /// `ptr`/`len` must be exactly a mapping that nothing else unmaps or uses as
    /// owned memory.
    pub(crate) unsafe fn from_raw(ptr: *mut u8, len: usize) -> Option<Mmap> {
        Some(Mmap {
            ptr: NonNull::new(ptr)?,
            len,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned, and nothing uses the region
        // after its owner (the Ring) is dropped.
        unsafe {
            let _ = munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The page size, from the auxiliary vector.
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}
