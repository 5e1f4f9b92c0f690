//! Owned buffers: what an operation may hand to the kernel.
//!
//! An operation takes its buffer by value, keeps it (in its op slot, see `driver.rs`)
//! for as long as the kernel may read or write it, and gives it back with the result:
//! [`BufResult`]. The traits promise what the kernel needs: a pointer that stays valid
//! and does not move while the buffer is owned, whatever happens to the value that
//! holds it (it is moved into the slot and back out).

use std::ops::{Bound, RangeBounds};

/// The result of an operation that took a buffer: the outcome, and the buffer back.
pub type BufResult<T, B> = (std::io::Result<T>, B);

/// `IOV_MAX`: most iovecs one vectored request takes.
const IOV_MAX: usize = 1024;

/// Checks the buffer count `n` of a vectored request: at least one, at most `IOV_MAX`.
pub(crate) fn check_vectored(n: usize) -> std::io::Result<()> {
    let invalid = |msg| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg);
    match n {
        0 => Err(invalid("a vectored request needs at least one buffer")),
        n if n > IOV_MAX => Err(invalid("more than IOV_MAX (1024) buffers")),
        _ => Ok(()),
    }
}

/// Points `iovecs` at the whole capacity of each of `bufs`, in order (a vectored
/// read's array; refilled at each submission, so the pointers are current).
pub(crate) fn iovecs_to_fill<B: IoBufMut>(bufs: &mut [B], iovecs: &mut Vec<libc::iovec>) {
    iovecs.clear();
    iovecs.extend(bufs.iter_mut().map(|b| libc::iovec {
        iov_base: b.stable_mut_ptr().cast(),
        iov_len: b.bytes_total(),
    }));
}

/// Points `iovecs` at the initialised bytes of each of `bufs`, in order (a vectored
/// write's array).
pub(crate) fn iovecs_to_send<B: IoBuf>(bufs: &[B], iovecs: &mut Vec<libc::iovec>) {
    iovecs.clear();
    iovecs.extend(bufs.iter().map(|b| libc::iovec {
        iov_base: b.stable_ptr().cast_mut().cast(),
        iov_len: b.bytes_init(),
    }));
}

/// After a vectored read of `n` bytes into the arrays [`iovecs_to_fill`] made: marks
/// the bytes the kernel wrote as initialised, filling each buffer in turn.
pub(crate) fn set_init_vectored<B: IoBufMut>(bufs: &mut [B], n: usize) {
    let mut left = n;
    for b in bufs {
        let here = left.min(b.bytes_total());
        // SAFETY: the kernel filled the iovecs in order, each to its capacity before
        // the next; `here` bytes of this one.
        unsafe { b.set_init(here) };
        left -= here;
    }
}

/// A buffer the kernel may read from: `bytes_init()` bytes at `stable_ptr()`.
///
/// # Safety
/// The pointer returned by [`stable_ptr`](Self::stable_ptr) must be valid for reads of
/// [`bytes_total`](Self::bytes_total) bytes (of which the first
/// [`bytes_init`](Self::bytes_init) are initialised), and stay valid and unmoved while
/// the value is owned, moved or not, until it is dropped or mutably accessed through
/// its own API: the kernel reads it while the value sits in an op slot.
pub unsafe trait IoBuf: Unpin + 'static {
    /// The start of the buffer; stable while the value is owned.
    fn stable_ptr(&self) -> *const u8;

    /// Bytes initialised, from the start: what a write sends.
    fn bytes_init(&self) -> usize;

    /// Bytes the buffer holds in all (its capacity): what a read may fill.
    fn bytes_total(&self) -> usize;

    /// The index of the registered buffer this one lies in, for `READ_FIXED` and
    /// `WRITE_FIXED` ([`FixedBuf`](crate::FixedBuf) and slices of it); `None` (the
    /// default) for plain memory. A wrong index is the kernel's `EFAULT`, not
    /// undefined behaviour: the kernel checks the range against the registration.
    #[doc(hidden)]
    fn fixed_index(&self) -> Option<u16> {
        None
    }

    /// A view of `range` of this buffer, taken by value; [`Slice::into_inner`] gives
    /// the buffer back.
    ///
    /// # Panics
    /// When the range is reversed or ends past [`bytes_total`](Self::bytes_total), as
    /// slicing a slice does. [`try_slice`](Self::try_slice) returns the buffer instead.
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        match self.try_slice(range) {
            Ok(s) => s,
            Err(b) => panic!(
                "uring_rt: slice range out of bounds of a buffer of {} bytes",
                b.bytes_total()
            ),
        }
    }

    /// A view of `range` of this buffer, or the buffer back when the range is reversed
    /// or ends past [`bytes_total`](Self::bytes_total).
    ///
    /// # Errors
    /// The buffer itself, untouched, for a range out of bounds.
    fn try_slice(self, range: impl RangeBounds<usize>) -> Result<Slice<Self>, Self>
    where
        Self: Sized,
    {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => match n.checked_add(1) {
                Some(n) => n,
                None => return Err(self),
            },
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => match n.checked_add(1) {
                Some(n) => n,
                None => return Err(self),
            },
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.bytes_total(),
        };
        if begin > end || end > self.bytes_total() {
            return Err(self);
        }
        Ok(Slice {
            buf: self,
            begin,
            end,
        })
    }
}

/// A buffer the kernel may write into.
///
/// # Safety
/// As [`IoBuf`], and [`stable_mut_ptr`](Self::stable_mut_ptr) is valid for writes of
/// [`bytes_total`](IoBuf::bytes_total) bytes under the same conditions.
pub unsafe trait IoBufMut: IoBuf {
    /// The start of the buffer, for writing; stable while the value is owned.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that the first `pos` bytes are initialised (after a read filled them).
    /// A `pos` below [`bytes_init`](IoBuf::bytes_init) changes nothing.
    ///
    /// # Safety
    /// The first `pos` bytes must have been written, and `pos <= bytes_total()`.
    unsafe fn set_init(&mut self, pos: usize);
}

/// `IoBuf` for a type with `as_ptr` and `len` (the initialised bytes) and `$total`
/// (`len`, or `capacity` for a growable one). Each use says why its memory is stable.
macro_rules! io_buf {
    ($(#[$attr:meta])* $ty:ty, total: $total:ident) => {
        $(#[$attr])*
        // SAFETY: as the invocation says: the memory at `as_ptr` neither moves nor goes
        // away while the value is owned.
        unsafe impl IoBuf for $ty {
            fn stable_ptr(&self) -> *const u8 {
                self.as_ptr()
            }
            fn bytes_init(&self) -> usize {
                self.len()
            }
            fn bytes_total(&self) -> usize {
                self.$total()
            }
        }
    };
}

/// `IoBufMut` for a type of [`io_buf!`] with `as_mut_ptr`: a growable one (`grow`:
/// `set_len` records what a read filled) or one initialised throughout (`full`).
macro_rules! io_buf_mut {
    ($(#[$attr:meta])* $ty:ty, grow) => {
        $(#[$attr])*
        // SAFETY: as for its IoBuf; the spare capacity is writable.
        unsafe impl IoBufMut for $ty {
            fn stable_mut_ptr(&mut self) -> *mut u8 {
                self.as_mut_ptr()
            }
            unsafe fn set_init(&mut self, pos: usize) {
                if self.len() < pos {
                    // SAFETY: the caller wrote the first `pos <= capacity` bytes.
                    unsafe { self.set_len(pos) };
                }
            }
        }
    };
    ($(#[$attr:meta])* $ty:ty, full) => {
        $(#[$attr])*
        // SAFETY: as for its IoBuf; all of it is initialised and writable.
        unsafe impl IoBufMut for $ty {
            fn stable_mut_ptr(&mut self) -> *mut u8 {
                self.as_mut_ptr()
            }
            unsafe fn set_init(&mut self, _pos: usize) {}
        }
    };
}

// A Vec's heap buffer does not move when the Vec value moves; it is only reallocated
// through `&mut Vec` methods, which the op slot never calls.
io_buf!(Vec<u8>, total: capacity);
io_buf_mut!(Vec<u8>, grow);
// A boxed slice's heap memory does not move with the Box.
io_buf!(Box<[u8]>, total: len);
io_buf_mut!(Box<[u8]>, full);
// 'static memory never moves nor goes away.
io_buf!(&'static [u8], total: len);
io_buf!(&'static str, total: len);
// `Bytes` points to shared heap (or 'static) memory that does not move with the
// handle and stays alive while the handle lives.
io_buf!(#[cfg(feature = "bytes")] bytes::Bytes, total: len);
// `BytesMut` owns its heap memory uniquely; it moves only through `&mut` methods that
// grow it, which the op slot never calls.
io_buf!(#[cfg(feature = "bytes")] bytes::BytesMut, total: capacity);
io_buf_mut!(
    #[cfg(feature = "bytes")]
    bytes::BytesMut,
    grow
);

/// A range of an owned buffer, itself an owned buffer: reads fill and writes send only
/// that range. Made by [`IoBuf::slice`].
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T> Slice<T> {
    /// The offset of the range's start in the buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// The offset of the range's end in the buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The whole buffer.
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

// SAFETY: a sub-range of a stable buffer is stable; `begin <= end <= bytes_total`
// (checked when the slice was made; the buffer cannot shrink while it is owned here).
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf
            .bytes_init()
            .clamp(self.begin, self.end)
            .saturating_sub(self.begin)
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
    fn fixed_index(&self) -> Option<u16> {
        self.buf.fixed_index()
    }
}

// SAFETY: as for IoBuf.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Only when the bytes before `begin` are initialised already: otherwise this
        // would declare a gap of uninitialised bytes initialised.
        if self.begin <= self.buf.bytes_init() {
            // SAFETY: the caller wrote `pos` bytes from `begin`, and the bytes before
            // `begin` are initialised (checked above).
            unsafe { self.buf.set_init(self.begin + pos) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_bounds_and_init() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"abcd");
        let s = v.slice(2..10);
        assert_eq!((s.bytes_init(), s.bytes_total()), (2, 8));
        let v = s.into_inner();
        let e = v.try_slice(3..17).unwrap_err();
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 5..4;
        assert!(e.try_slice(reversed).is_err());
    }

    #[cfg(feature = "bytes")]
    #[test]
    fn bytes_types_are_buffers() {
        let mut m = bytes::BytesMut::with_capacity(8);
        m.extend_from_slice(b"ab");
        assert_eq!((m.bytes_init(), m.bytes_total() >= 8), (2, true));
        // SAFETY: nothing is written; 1 <= len keeps what is there.
        unsafe { m.set_init(1) };
        assert_eq!(m.len(), 2);
        let b = m.freeze();
        assert_eq!((b.bytes_init(), b.bytes_total()), (2, 2));
        assert_eq!(b.slice(1..).bytes_init(), 1);
    }
}
