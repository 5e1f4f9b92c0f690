//! Linux AIO (`io_setup`, `io_submit`, `io_getevents`, `io_destroy`), the interface
//! io_uring replaced, called directly through `syscall(2)` with the ABI of
//! `<linux/aio_abi.h>` — no libaio.
//!
//! In practice it is asynchronous only for O_DIRECT: with buffered files `io_submit`
//! performs the I/O before it returns.
use std::io;
use std::mem::{offset_of, size_of};

/// `IOCB_CMD_PREAD`.
pub const IOCB_CMD_PREAD: u16 = 0;
/// `IOCB_CMD_PWRITE`.
pub const IOCB_CMD_PWRITE: u16 = 1;

/// `struct iocb` of `<linux/aio_abi.h>`, little-endian field order (`aio_key` before
/// `aio_rw_flags`, as the header's `PADDED` macro lays them out there).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Iocb {
    /// Returned in `io_event::data`.
    pub aio_data: u64,
    /// The kernel's key (written by io_submit).
    pub aio_key: u32,
    /// `RWF_*` flags.
    pub aio_rw_flags: i32,
    /// `IOCB_CMD_*`.
    pub aio_lio_opcode: u16,
    /// Request priority.
    pub aio_reqprio: i16,
    /// The file.
    pub aio_fildes: u32,
    /// The buffer.
    pub aio_buf: u64,
    /// Its length.
    pub aio_nbytes: u64,
    /// The file offset.
    pub aio_offset: i64,
    /// Reserved.
    pub aio_reserved2: u64,
    /// `IOCB_FLAG_*`.
    pub aio_flags: u32,
    /// eventfd to signal with `IOCB_FLAG_RESFD`.
    pub aio_resfd: u32,
}

/// `struct io_event`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct IoEvent {
    /// The iocb's `aio_data`.
    pub data: u64,
    /// The iocb's address.
    pub obj: u64,
    /// The result: bytes transferred, or `-errno`.
    pub res: i64,
    /// Secondary result.
    pub res2: i64,
}

// Layout proofs against <linux/aio_abi.h> (x86_64 and every 64-bit little-endian arch).
#[cfg(target_endian = "little")]
const _: () = {
    assert!(size_of::<Iocb>() == 64);
    assert!(align_of::<Iocb>() == 8);
    assert!(offset_of!(Iocb, aio_data) == 0);
    assert!(offset_of!(Iocb, aio_key) == 8);
    assert!(offset_of!(Iocb, aio_rw_flags) == 12);
    assert!(offset_of!(Iocb, aio_lio_opcode) == 16);
    assert!(offset_of!(Iocb, aio_reqprio) == 18);
    assert!(offset_of!(Iocb, aio_fildes) == 20);
    assert!(offset_of!(Iocb, aio_buf) == 24);
    assert!(offset_of!(Iocb, aio_nbytes) == 32);
    assert!(offset_of!(Iocb, aio_offset) == 40);
    assert!(offset_of!(Iocb, aio_reserved2) == 48);
    assert!(offset_of!(Iocb, aio_flags) == 56);
    assert!(offset_of!(Iocb, aio_resfd) == 60);
    assert!(size_of::<IoEvent>() == 32);
    assert!(offset_of!(IoEvent, data) == 0);
    assert!(offset_of!(IoEvent, obj) == 8);
    assert!(offset_of!(IoEvent, res) == 16);
    assert!(offset_of!(IoEvent, res2) == 24);
};

fn check(ret: libc::c_long) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// An AIO context (`aio_context_t`), destroyed on drop.
///
/// `io_destroy` waits for every request still in flight, so buffers that outlive the
/// context are never written after it is gone.
#[derive(Debug)]
pub struct AioContext {
    ctx: libc::c_ulong,
}

impl AioContext {
    /// `io_setup(nr_events, &ctx)`.
    ///
    /// # Errors
    /// `EAGAIN` when `nr_events` exceeds `/proc/sys/fs/aio-max-nr` headroom, `ENOSYS`
    /// without AIO.
    pub fn new(nr_events: u32) -> io::Result<AioContext> {
        let mut ctx: libc::c_ulong = 0;
        // SAFETY: io_setup writes one aio_context_t (unsigned long) through the pointer,
        // which points to our local, zero as the call requires.
        let ret = unsafe { libc::syscall(libc::SYS_io_setup, nr_events, &raw mut ctx) };
        check(ret)?;
        Ok(AioContext { ctx })
    }

    /// `io_submit(ctx, n, iocbpp)`: returns how many were queued (may be fewer than
    /// asked; the rest are not submitted).
    ///
    /// # Errors
    /// The kernel's errno for the first iocb when none could be queued.
    ///
    /// # Safety
    /// Each pointer must point to a valid [`Iocb`] whose buffer stays valid (and, for
    /// reads, unaliased) until its event is reaped or the context is destroyed.
    pub unsafe fn submit(&self, iocbs: &[*mut Iocb]) -> io::Result<usize> {
        // SAFETY: the slice gives n valid iocb pointers (caller's contract).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_io_submit,
                self.ctx,
                iocbs.len() as libc::c_long,
                iocbs.as_ptr(),
            )
        };
        check(ret)
    }

    /// `io_getevents(ctx, min_nr, events.len(), events, NULL)`: waits for at least
    /// `min_nr` completions, returns how many were written into `events`.
    ///
    /// # Errors
    /// `EINTR` when a signal arrives first.
    pub fn getevents(&self, min_nr: usize, events: &mut [IoEvent]) -> io::Result<usize> {
        // SAFETY: `events` is a writable array of events.len() io_events; no timeout.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                self.ctx,
                min_nr as libc::c_long,
                events.len() as libc::c_long,
                events.as_mut_ptr(),
                std::ptr::null::<libc::timespec>(),
            )
        };
        check(ret)
    }
}

impl Drop for AioContext {
    fn drop(&mut self) {
        // SAFETY: ctx came from io_setup and is destroyed once; io_destroy blocks until
        // in-flight requests are done.
        unsafe { libc::syscall(libc::SYS_io_destroy, self.ctx) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn read_back() {
        let path = std::env::temp_dir().join(format!("uring-cli-aio-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"hello, aio").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let ctx = AioContext::new(4).unwrap();
        let mut buf = [0u8; 10];
        let mut cb = Iocb {
            aio_data: 77,
            aio_lio_opcode: IOCB_CMD_PREAD,
            aio_fildes: f.as_raw_fd() as u32,
            aio_buf: buf.as_mut_ptr() as u64,
            aio_nbytes: 10,
            ..Iocb::default()
        };
        let ptrs = [&raw mut cb];
        // SAFETY: cb and buf outlive the request: we reap it below before they go.
        assert_eq!(unsafe { ctx.submit(&ptrs) }.unwrap(), 1);
        let mut ev = [IoEvent::default(); 1];
        assert_eq!(ctx.getevents(1, &mut ev).unwrap(), 1);
        assert_eq!((ev[0].data, ev[0].res), (77, 10));
        assert_eq!(&buf, b"hello, aio");
    }
}
