//! Provided buffers: groups filled by `IORING_OP_PROVIDE_BUFFERS` and buffer rings
//! registered with `IORING_REGISTER_PBUF_RING` (`io_uring/kbuf.c`), from which
//! requests with `IOSQE_BUFFER_SELECT` pick a buffer.

/// A buffer picked for a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selected {
    pub(crate) addr: u64,
    pub(crate) len: u32,
    pub(crate) bid: u16,
}

/// The provided-buffer groups of one ring.
#[derive(Default)]
pub(crate) struct Pbufs {}

impl Pbufs {
    /// Picks a buffer of group `bgid` for a transfer of at most `want` bytes
    /// (`-ENOBUFS` when the group is empty or unknown).
    pub(crate) fn select(&self, _bgid: u16, _want: u32) -> Result<Selected, i32> {
        Err(-libc::ENOBUFS)
    }

    /// Gives back a buffer picked but not consumed (the request failed or will retry).
    pub(crate) fn recycle(&self, _bgid: u16, _sel: Selected) {}

    /// Marks `used` bytes of a picked buffer consumed; returns the CQE flags
    /// (`IORING_CQE_F_BUFFER | bid << 16`, and `IORING_CQE_F_BUF_MORE` for an
    /// incrementally consumed ring buffer that has room left).
    pub(crate) fn commit(&self, _bgid: u16, sel: Selected, _used: u32) -> u32 {
        uring_sys::IORING_CQE_F_BUFFER | (sel.bid as u32) << uring_sys::IORING_CQE_BUFFER_SHIFT
    }
}
