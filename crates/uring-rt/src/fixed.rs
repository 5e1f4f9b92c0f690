//! Registered buffers (`IORING_REGISTER_BUFFERS`): the kernel pins their pages once,
//! and `READ_FIXED`/`WRITE_FIXED` name them by index instead of pinning per request.
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::{Rc, Weak};
use std::task::Waker;

use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::{self, Context};

struct PoolInner {
    /// One allocation per buffer, never moved: registered with the kernel.
    memory: Vec<Box<[u8]>>,
    free: Vec<u16>,
    waiters: Vec<Waker>,
    runtime: Weak<Context>,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // No FixedBuf lives (each holds this Rc), so no op uses the memory: unregister
        // before it is freed, if the ring is still open.
        if let Some(cx) = self.runtime.upgrade()
            && let Ok(d) = cx.driver.try_borrow()
            && let Some(ring) = d.ring()
        {
            let _ = ring.submitter().unregister_buffers();
        }
    }
}

/// A pool of buffers registered with the runtime's ring.
///
/// A ring has one table of registered buffers: a second pool on the same runtime fails
/// with `EBUSY` until the first one and all its buffers are dropped.
///
/// ```no_run
/// # async fn f(file: uring_rt::fs::File) -> std::io::Result<()> {
/// let pool = uring_rt::FixedBufPool::new(4, 4096)?;
/// let buf = pool.next().await;
/// let (n, buf) = file.read_fixed_at(buf, 0).await;
/// println!("{} bytes: {:?}", n?, &buf[..]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FixedBufPool {
    inner: Rc<RefCell<PoolInner>>,
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.inner.borrow();
        f.debug_struct("FixedBufPool")
            .field("buffers", &i.memory.len())
            .field("free", &i.free.len())
            .finish()
    }
}

impl FixedBufPool {
    /// Allocates `count` buffers of `size` bytes (zeroed) and registers them with the
    /// ring of the runtime running on this thread.
    ///
    /// # Errors
    /// `InvalidInput` for `count` 0 or above 16384 (the kernel's limit), or `size` 0 or
    /// above 1 GiB; no runtime on this thread; the kernel's errno (`EBUSY` when the ring
    /// has registered buffers already, `ENOMEM` past the memlock limit).
    pub fn new(count: usize, size: usize) -> io::Result<FixedBufPool> {
        if count == 0 || count > 16384 || size == 0 || size > 1 << 30 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "FixedBufPool: count must be 1..=16384 and size 1..=1 GiB",
            ));
        }
        let Some(cx) = runtime::current() else {
            return Err(io::Error::other(
                "uring_rt: no runtime on this thread (create the pool inside block_on)",
            ));
        };
        let mut memory: Vec<Box<[u8]>> = (0..count).map(|_| vec![0u8; size].into()).collect();
        let iovecs: Vec<libc::iovec> = memory
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        {
            let d = cx.driver.borrow();
            let ring = d
                .ring()
                .ok_or_else(|| io::Error::other("uring_rt: the runtime is shut down"))?;
            // SAFETY: each iovec describes a live heap buffer owned by the pool, which
            // unregisters them before freeing (PoolInner::drop), and lives while any
            // FixedBuf (thus any op using one) does.
            unsafe { ring.submitter().register_buffers(&iovecs) }?;
        }
        Ok(FixedBufPool {
            inner: Rc::new(RefCell::new(PoolInner {
                memory,
                free: (0..count as u16).rev().collect(),
                waiters: Vec::new(),
                runtime: Rc::downgrade(&cx),
            })),
        })
    }

    /// A free buffer, if any (its contents are what the last user left; its
    /// initialised length is 0).
    pub fn try_next(&self) -> Option<FixedBuf> {
        let mut i = self.inner.borrow_mut();
        let index = i.free.pop()?;
        let b = &mut i.memory[usize::from(index)];
        let (ptr, cap) = (b.as_mut_ptr(), b.len());
        Some(FixedBuf {
            pool: self.inner.clone(),
            index,
            ptr,
            cap,
            len: 0,
        })
    }

    /// A free buffer, waiting for one to come back if all are in use.
    pub async fn next(&self) -> FixedBuf {
        std::future::poll_fn(|cx| match self.try_next() {
            Some(b) => std::task::Poll::Ready(b),
            None => {
                self.inner.borrow_mut().waiters.push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// A registered buffer of a [`FixedBufPool`]; back to the pool when dropped. Derefs to
/// its initialised bytes.
pub struct FixedBuf {
    pool: Rc<RefCell<PoolInner>>,
    index: u16,
    ptr: *mut u8,
    cap: usize,
    len: usize,
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .finish()
    }
}

impl FixedBuf {
    /// Its index in the ring's registered buffer table.
    pub fn buf_index(&self) -> u16 {
        self.index
    }

    /// Sets the initialised length to `len` (for writing what was put in through
    /// [`as_mut_slice`](Self::as_mut_slice)); the whole buffer is initialised memory.
    ///
    /// # Errors
    /// `InvalidInput` for `len` above the capacity.
    pub fn set_len(&mut self, len: usize) -> io::Result<()> {
        if len > self.cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "length above the buffer's capacity",
            ));
        }
        self.len = len;
        Ok(())
    }

    /// The whole buffer, to fill.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is the start of a live, zero-initialised allocation of `cap`
        // bytes that this FixedBuf alone uses (the pool hands each index out once).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.cap) }
    }
}

impl std::ops::Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: as in `as_mut_slice`; `len <= cap`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        let waiters = {
            let mut p = self.pool.borrow_mut();
            p.free.push(self.index);
            std::mem::take(&mut p.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }
}

// SAFETY: the memory is a boxed slice owned by the pool, which the Rc keeps alive; it
// never moves.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.cap
    }
    fn fixed_index(&self) -> Option<u16> {
        Some(self.buf_index())
    }
}

// SAFETY: as for IoBuf; this FixedBuf alone writes its memory.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos.min(self.cap));
    }
}
