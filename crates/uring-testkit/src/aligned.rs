//! Page-aligned buffers, as O_DIRECT wants them.
use std::alloc::Layout;

/// The block size of the buffers (and of the O_DIRECT I/O the tests do with them).
pub const BLOCK: usize = 4096;

/// `len` zeroed bytes aligned to [`BLOCK`], freed on drop.
pub struct Aligned {
    ptr: *mut u8,
    layout: Layout,
}

impl Aligned {
    /// `len` zeroed bytes (`len` > 0).
    ///
    /// # Panics
    /// If `len` is 0 or the allocation fails.
    pub fn new(len: usize) -> Aligned {
        let layout = Layout::from_size_align(len, BLOCK).expect("layout");
        assert!(len > 0, "an empty buffer");
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Aligned { ptr, layout }
    }

    /// [`BLOCK`] bytes, each `byte`.
    pub fn filled(byte: u8) -> Aligned {
        let a = Aligned::new(BLOCK);
        // SAFETY: `a` is BLOCK writable bytes.
        unsafe { a.ptr.write_bytes(byte, BLOCK) };
        a
    }

    /// `n` blocks, block `i` holding `pattern(BLOCK, seed + i)`.
    pub fn patterned(n: usize, seed: u8) -> Aligned {
        let a = Aligned::new(n * BLOCK);
        for i in 0..n {
            let p = crate::pattern(BLOCK, seed.wrapping_add(i as u8));
            // SAFETY: block i of `a`, BLOCK writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), a.at(i), BLOCK) };
        }
        a
    }

    /// The start of block `i`.
    ///
    /// # Panics
    /// If block `i` is past the end.
    pub fn at(&self, i: usize) -> *mut u8 {
        assert!(i * BLOCK < self.layout.size());
        self.ptr.wrapping_add(i * BLOCK)
    }

    /// The bytes. No request may write them while the slice lives (reap first).
    pub fn slice(&self) -> &[u8] {
        // SAFETY: `layout.size()` initialised bytes, alive as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}
