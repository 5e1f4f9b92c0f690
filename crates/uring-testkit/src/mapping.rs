//! Anonymous memory mappings, for tests that need whole pages of their own: a buffer
//! ring the kernel pins, memory whose protection changes under a request, a page that
//! faults.

/// `len` bytes of zeroed, anonymous, private memory (mmap(2)), unmapped on drop.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// `len` readable and writable bytes.
    ///
    /// # Panics
    /// When the mmap(2) fails.
    pub fn new(len: usize) -> Mapping {
        Mapping::with_prot(len, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// `len` bytes with protection `prot` (`PROT_NONE`: every access faults).
    ///
    /// # Panics
    /// When the mmap(2) fails.
    pub fn with_prot(len: usize, prot: i32) -> Mapping {
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
        Mapping { ptr: p.cast(), len }
    }

    /// The first byte.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The length asked for.
    pub fn size(&self) -> usize {
        self.len
    }

    /// The first byte and the length, for the caller to unmap (munmap(2)): the
    /// mapping is no longer unmapped on drop.
    pub fn into_raw(self) -> (*mut u8, usize) {
        let m = std::mem::ManuallyDrop::new(self);
        (m.ptr, m.len)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `with_prot`; the tests drop it only once no
        // request uses it any more.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}
