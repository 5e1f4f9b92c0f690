//! Submitting and reaping (liburing's `queue.c`): handing out SQEs, publishing them,
//! entering the kernel (or engine) to submit and to wait, with and without timeouts.
//!
//! Memory ordering follows liburing's `barrier.h` and the kernel's comments in
//! `io_uring/io_uring.c` ("the application must use an appropriate smp_rmb() before
//! reading the CQ tail ... and smp_wmb() before writing the SQ tail"), each at the
//! access that needs it.
use core::ffi::{c_int, c_uint, c_void};
use core::ptr;
use core::sync::atomic::{Ordering, fence};

use uring_sys::{self as k, __kernel_timespec, io_uring_cqe, io_uring_getevents_arg, io_uring_sqe};

use crate::backend;
use crate::types::*;

/// `_NSIG / 8`: the size of the kernel's signal set, which io_uring_enter(2) wants.
const SIGSET_SIZE: usize = 8;
/// The `user_data` of the internal timeout SQE on kernels without `EXT_ARG`.
const LIBURING_UDATA_TIMEOUT: u64 = u64::MAX;

/// The `IORING_ENTER_*` flags every enter of `ring` carries (registered ring, no iowait).
///
/// # Safety
/// `ring` must be readable.
#[inline(always)]
unsafe fn ring_enter_flags(ring: *const io_uring) -> u32 {
    // SAFETY: caller's contract.
    u32::from(unsafe { (*ring).int_flags } & INT_FLAGS_ENTER)
}

/// Whether submitting needs `io_uring_enter`: always without SQPOLL; with SQPOLL only
/// to wake a sleeping poller (adding `IORING_ENTER_SQ_WAKEUP` to `flags`).
///
/// # Safety
/// `ring` must be a live ring.
#[inline]
unsafe fn sq_ring_needs_enter(ring: *const io_uring, submit: u32, flags: &mut u32) -> bool {
    if submit == 0 {
        return false;
    }
    // SAFETY: caller's contract; kflags is a live ring word.
    unsafe {
        if (*ring).flags & k::IORING_SETUP_SQPOLL == 0 {
            return true;
        }
        // Full barrier: the SQ tail store must be visible to the poller before we read
        // its NEED_WAKEUP flag. Pairs with the smp_mb__after_atomic() in the kernel's
        // io_sq_thread between setting NEED_WAKEUP and its last look at the SQ tail;
        // without it each side could miss the other and the SQE would sit until the
        // next submit.
        fence(Ordering::SeqCst);
        if load_relaxed((*ring).sq.kflags) & k::IORING_SQ_NEED_WAKEUP != 0 {
            *flags |= k::IORING_ENTER_SQ_WAKEUP;
            return true;
        }
    }
    false
}

/// Whether the CQ needs a kernel visit to fill: overflowed CQEs or pending task work.
///
/// # Safety
/// `ring` must be a live ring.
#[inline]
unsafe fn cq_ring_needs_flush(ring: *const io_uring) -> bool {
    // SAFETY: kflags is a live ring word. A relaxed read (READ_ONCE) is enough: the
    // flag only advises an enter, which then synchronises fully.
    unsafe {
        load_relaxed((*ring).sq.kflags) & (k::IORING_SQ_CQ_OVERFLOW | k::IORING_SQ_TASKRUN) != 0
    }
}

/// # Safety
/// `ring` must be a live ring.
#[inline]
unsafe fn cq_ring_needs_enter(ring: *const io_uring) -> bool {
    // SAFETY: caller's contract.
    unsafe { (*ring).flags & k::IORING_SETUP_IOPOLL != 0 || cq_ring_needs_flush(ring) }
}

/// Marks `nr` CQEs consumed (the header's `io_uring_cq_advance`).
///
/// # Safety
/// `ring` must be a live ring with at least `nr` unconsumed CQEs.
#[inline]
pub(crate) unsafe fn cq_advance(ring: *mut io_uring, nr: u32) {
    if nr != 0 {
        // SAFETY: khead is a live ring word only we write.
        unsafe {
            let khead = (*ring).cq.khead;
            // Release: our reads of the CQEs happen before the kernel may reuse their
            // slots. Pairs with the control dependency on the CQ head in the kernel's
            // io_get_cqe (io_uring.c's header comment: "smp_store_release to store
            // head will do").
            store_release(khead, load_relaxed(khead).wrapping_add(nr));
        }
    }
}

/// Returns the next CQE (null if none) and how many are ready; swallows the internal
/// timeout CQEs of kernels without `EXT_ARG` and the filler entries of `CQE_MIXED`
/// rings. 0 or the error of an internal timeout.
///
/// # Safety
/// `ring` must be a live ring.
pub(crate) unsafe fn peek_cqe(
    ring: *mut io_uring,
    cqe_ptr: &mut *mut io_uring_cqe,
    nr_available: &mut u32,
) -> c_int {
    // SAFETY: the CQ words and CQE array are live ring memory.
    unsafe {
        let mask = (*ring).cq.ring_mask;
        let shift = u32::from((*ring).flags & k::IORING_SETUP_CQE32 != 0);
        let mut err = 0;
        loop {
            // Acquire: the CQE contents are visible once we see the tail that covers
            // them; pairs with the kernel's smp_store_release of the CQ tail in
            // io_commit_cqring.
            let tail = load_acquire((*ring).cq.ktail);
            let head = load_relaxed((*ring).cq.khead);
            let available = tail.wrapping_sub(head);
            *nr_available = available;
            *cqe_ptr = ptr::null_mut();
            if available == 0 {
                break;
            }
            let cqe = (*ring).cq.cqes.add(((head & mask) << shift) as usize);
            if (*ring).flags & k::IORING_SETUP_CQE_MIXED != 0
                && (*cqe).flags & k::IORING_CQE_F_SKIP != 0
            {
                // Its slots, as liburing 2.15 counts them (`io_uring_cqe_nr`).
                let nr = if (*cqe).flags & k::IORING_CQE_F_32 != 0 {
                    2
                } else {
                    1
                };
                cq_advance(ring, nr);
                continue;
            }
            if (*ring).features & k::IORING_FEAT_EXT_ARG == 0
                && (*cqe).user_data == LIBURING_UDATA_TIMEOUT
            {
                if (*cqe).res < 0 {
                    err = (*cqe).res;
                }
                cq_advance(ring, 1);
                if err == 0 {
                    continue;
                }
                break;
            }
            *cqe_ptr = cqe;
            break;
        }
        err
    }
}

/// What one wait asks of `get_cqe`.
struct GetData {
    submit: u32,
    wait_nr: u32,
    get_flags: u32,
    sz: usize,
    /// Whether this wait has a timeout: a `ts` given, or a registered wait (whose
    /// timeout the kernel keeps). One full wait is then all the caller asked for,
    /// and no CQE after it is `-ETIME`.
    has_ts: bool,
    arg: *const c_void,
}

/// The loop behind every wait: peek; enter to submit, to flush, or to wait for
/// `wait_nr` CQEs; repeat until a CQE or an error. The CQE found (or null) goes to
/// `cqe_ptr`. Returns 0, the SQEs submitted by the first enter when it had to loop, or
/// `-errno` (`-EAGAIN`: nothing to reap and nothing to wait for; `-ETIME`: timeout).
///
/// # Safety
/// `ring` must be a live ring; `data.arg`/`data.sz` what `data.get_flags` says.
unsafe fn get_cqe(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    data: &mut GetData,
) -> c_int {
    let mut cqe = ptr::null_mut();
    let mut looped = false;
    let mut err = 0;
    // SAFETY: caller's contract; `cqe_ptr` is written once at the end.
    unsafe {
        loop {
            let mut need_enter = false;
            let mut flags = 0;
            let mut nr_available = 0;
            let ret = peek_cqe(ring, &mut cqe, &mut nr_available);
            if ret != 0 {
                if err == 0 {
                    err = ret;
                }
                break;
            }
            if cqe.is_null() && data.wait_nr == 0 && data.submit == 0 {
                // Already entered once with nothing to submit or wait for: stop.
                if looped || !cq_ring_needs_enter(ring) {
                    if err == 0 {
                        err = -libc::EAGAIN;
                    }
                    break;
                }
                need_enter = true;
            }
            if data.wait_nr > nr_available || need_enter {
                flags = k::IORING_ENTER_GETEVENTS | data.get_flags;
                need_enter = true;
            }
            if sq_ring_needs_enter(ring, data.submit, &mut flags) {
                need_enter = true;
            }
            if !need_enter {
                break;
            }
            if looped && data.has_ts {
                // One full wait with a timeout is all the caller asked for.
                if cqe.is_null() && err == 0 {
                    err = -libc::ETIME;
                }
                break;
            }
            flags |= ring_enter_flags(ring);
            let ret = backend::enter(
                (*ring).enter_ring_fd as u32,
                data.submit,
                data.wait_nr,
                flags,
                data.arg,
                data.sz,
            );
            if ret < 0 {
                if err == 0 {
                    err = ret;
                }
                break;
            }
            data.submit -= ret as u32;
            if !cqe.is_null() {
                break;
            }
            if !looped {
                looped = true;
                err = ret;
            }
        }
        if !cqe_ptr.is_null() {
            *cqe_ptr = cqe;
        }
    }
    err
}

/// Submits `submit` SQEs (already published) and waits for `wait_nr` CQEs, with
/// signal mask `sigmask` while waiting; the first CQE goes to `cqe_ptr`. 0 or `-errno`.
///
/// liburing: `__io_uring_get_cqe`, behind the header's `io_uring_wait_cqe`,
/// `io_uring_peek_cqe` and `io_uring_wait_cqe_nr`.
///
/// # Safety
/// `ring` must be a live ring set up by this library, `cqe_ptr` writable, `sigmask`
/// null or a signal set.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn __io_uring_get_cqe(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    submit: c_uint,
    wait_nr: c_uint,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    let mut data = GetData {
        submit,
        wait_nr,
        get_flags: 0,
        sz: SIGSET_SIZE,
        has_ts: false,
        arg: sigmask.cast(),
    };
    // SAFETY: forwarded contract.
    unsafe { get_cqe(ring, cqe_ptr, &mut data) }
}

/// One pass of `io_uring_peek_batch_cqe`: up to `count` ready CQEs into `cqes`, their
/// number returned. On a `CQE_MIXED` ring a CQE takes one slot or two
/// (`IORING_CQE_F_32`) and the kernel pads the ring's end with a filler entry
/// (`IORING_CQE_F_SKIP`): only real CQEs are handed out, and a filler is consumed only
/// when it is at the head (before any CQE of the batch, which the caller has yet to
/// mark seen), else the batch stops there.
///
/// # Safety
/// `ring` must be a live ring; `cqes` writable for `count` pointers.
unsafe fn peek_batch(ring: *mut io_uring, cqes: *mut *mut io_uring_cqe, count: u32) -> u32 {
    // SAFETY: caller's contract; entries between head and the acquired tail are
    // complete CQEs.
    unsafe {
        // Acquire pairs with the kernel's smp_store_release of the CQ tail
        // (io_commit_cqring): the CQEs below it are written.
        let tail = load_acquire((*ring).cq.ktail);
        let mut head = load_relaxed((*ring).cq.khead);
        let mask = (*ring).cq.ring_mask;
        if (*ring).flags & k::IORING_SETUP_CQE_MIXED == 0 {
            let shift = u32::from((*ring).flags & k::IORING_SETUP_CQE32 != 0);
            let n = count.min(tail.wrapping_sub(head));
            for i in 0..n {
                *cqes.add(i as usize) = (*ring)
                    .cq
                    .cqes
                    .add(((head.wrapping_add(i) & mask) << shift) as usize);
            }
            return n;
        }
        let mut n = 0;
        while head != tail && n < count {
            let cqe = (*ring).cq.cqes.add((head & mask) as usize);
            if (*cqe).flags & k::IORING_CQE_F_SKIP != 0 {
                if n != 0 {
                    break;
                }
                cq_advance(ring, 1);
                head = head.wrapping_add(1);
                continue;
            }
            head = head.wrapping_add(if (*cqe).flags & k::IORING_CQE_F_32 != 0 {
                2
            } else {
                1
            });
            *cqes.add(n as usize) = cqe;
            n += 1;
        }
        n
    }
}

/// Fills `cqes` with up to `count` ready CQEs (flushing overflowed ones once if none
/// are ready); returns how many.
///
/// liburing: `io_uring_peek_batch_cqe(3)`.
///
/// # Safety
/// `ring` must be a live ring; `cqes` writable for `count` pointers.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_peek_batch_cqe(
    ring: *mut io_uring,
    cqes: *mut *mut io_uring_cqe,
    count: c_uint,
) -> c_uint {
    // SAFETY: caller's contract.
    unsafe {
        let n = peek_batch(ring, cqes, count);
        if n != 0 || !cq_ring_needs_flush(ring) {
            return n;
        }
        let flags = k::IORING_ENTER_GETEVENTS | ring_enter_flags(ring);
        backend::enter((*ring).enter_ring_fd as u32, 0, 0, flags, ptr::null(), 0);
        peek_batch(ring, cqes, count)
    }
}

/// Publishes the SQEs handed out since the last flush by moving the SQ tail; returns
/// how many SQEs the kernel has yet to consume.
///
/// # Safety
/// `ring` must be a live ring.
pub(crate) unsafe fn flush_sq(ring: *mut io_uring) -> u32 {
    // SAFETY: the SQ words are live ring memory; the SQ array was set to the identity
    // at setup, so publishing is moving the tail.
    unsafe {
        let sq = &raw mut (*ring).sq;
        let tail = (*sq).sqe_tail;
        if (*sq).sqe_head != tail {
            (*sq).sqe_head = tail;
            // Release: the SQE stores happen before the kernel sees the tail that
            // covers them. Pairs with the kernel's smp_load_acquire of the SQ tail in
            // io_sqring_entries/io_get_sqe (an SQPOLL thread reads it with no system
            // call between us).
            store_release((*sq).ktail, tail);
        }
        // A stale head only under-reports free room, as liburing notes: a relaxed read.
        tail.wrapping_sub(load_relaxed((*sq).khead))
    }
}

/// Enters to submit `submitted` SQEs and wait for `wait_nr`, when needed.
///
/// # Safety
/// `ring` must be a live ring.
unsafe fn submit(ring: *mut io_uring, submitted: u32, wait_nr: u32, getevents: bool) -> c_int {
    // SAFETY: caller's contract.
    unsafe {
        let cq_needs_enter = getevents || wait_nr != 0 || cq_ring_needs_enter(ring);
        let mut flags = ring_enter_flags(ring);
        if sq_ring_needs_enter(ring, submitted, &mut flags) || cq_needs_enter {
            if cq_needs_enter {
                flags |= k::IORING_ENTER_GETEVENTS;
            }
            backend::enter(
                (*ring).enter_ring_fd as u32,
                submitted,
                wait_nr,
                flags,
                ptr::null(),
                0,
            )
        } else {
            submitted as c_int
        }
    }
}

/// Submits the SQEs got since the last submit: how many, or `-errno`.
///
/// liburing: `io_uring_submit(3)`.
///
/// # Safety
/// `ring` must be a live ring set up by this library; every SQE handed out must be
/// fully prepared and its buffers valid until completion.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_submit(ring: *mut io_uring) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { submit(ring, flush_sq(ring), 0, false) }
}

/// Submits, then waits for `wait_nr` completions: SQEs submitted, or `-errno`.
///
/// liburing: `io_uring_submit_and_wait(3)`.
///
/// # Safety
/// As [`io_uring_submit`].
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_submit_and_wait(ring: *mut io_uring, wait_nr: c_uint) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { submit(ring, flush_sq(ring), wait_nr, false) }
}

/// Submits and always enters to flush completions: SQEs submitted, or `-errno`.
///
/// liburing: `io_uring_submit_and_get_events(3)`.
///
/// # Safety
/// As [`io_uring_submit`].
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_submit_and_get_events(ring: *mut io_uring) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { submit(ring, flush_sq(ring), 0, true) }
}

/// Enters only to flush completions (overflow, task work): 0 or `-errno`.
///
/// liburing: `io_uring_get_events(3)`.
///
/// # Safety
/// `ring` must be a live ring set up by this library.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_get_events(ring: *mut io_uring) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        let flags = k::IORING_ENTER_GETEVENTS | ring_enter_flags(ring);
        backend::enter((*ring).enter_ring_fd as u32, 0, 0, flags, ptr::null(), 0)
    }
}

/// Hands out the next free SQE (not zeroed), or null if the SQ is full.
///
/// # Safety
/// `ring` must be a live ring.
#[inline]
pub(crate) unsafe fn get_sqe(ring: *mut io_uring) -> *mut io_uring_sqe {
    // SAFETY: the SQ words are live ring memory; the slot handed out is between the
    // kernel's head and our tail, so the kernel is done with it.
    unsafe {
        let sq = &raw mut (*ring).sq;
        let next = (*sq).sqe_tail.wrapping_add(1);
        let head = if (*ring).flags & k::IORING_SETUP_SQPOLL == 0 {
            // Without SQPOLL only our own io_uring_enter moves the head: a plain read.
            load_relaxed((*sq).khead)
        } else {
            // Acquire pairs with the SQ poll thread's smp_store_release of the SQ head
            // (io_commit_sqring): it has finished reading the SQEs it consumed before
            // we hand their slots out again.
            load_acquire((*sq).khead)
        };
        if next.wrapping_sub(head) > (*sq).ring_entries {
            return ptr::null_mut();
        }
        let shift = u32::from((*ring).flags & k::IORING_SETUP_SQE128 != 0);
        let sqe = (*sq)
            .sqes
            .add((((*sq).sqe_tail & (*sq).ring_mask) << shift) as usize);
        (*sq).sqe_tail = next;
        sqe
    }
}

/// Clears the SQE fields a prep helper may leave unset (flags, ioprio, op flags,
/// buffer index, personality, file index, addr3), as liburing 2.15's
/// `io_uring_initialize_sqe` does for every SQE it hands out: helpers such as
/// `io_uring_prep_uring_cmd` write only their own fields.
///
/// # Safety
/// `sqe` must be writable.
#[inline(always)]
pub(crate) unsafe fn initialize_sqe(sqe: *mut io_uring_sqe) {
    // SAFETY: caller's contract.
    unsafe {
        (*sqe).flags = 0;
        (*sqe).ioprio = 0;
        (*sqe).op_flags.rw_flags = 0;
        (*sqe).buf.buf_index = 0;
        (*sqe).personality = 0;
        (*sqe).splice_fd_in_or_file_index.file_index = 0;
        (*sqe).addr3_or_cmd.addr3 = k::addr3_struct {
            addr3: 0,
            __pad2: [0],
        };
    }
}

/// The next free SQE to fill, cleared as [`initialize_sqe`] says, or null if the SQ
/// is full. (Headers of liburing 2.2 and later inline this; programs built against
/// older ones, and other languages through `liburing-ffi.so.2`, call it.)
///
/// liburing: `io_uring_get_sqe(3)`.
///
/// # Safety
/// `ring` must be a live ring set up by this library.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_get_sqe(ring: *mut io_uring) -> *mut io_uring_sqe {
    // SAFETY: forwarded contract; a non-null SQE is a free slot of the SQE array.
    unsafe {
        let sqe = get_sqe(ring);
        if !sqe.is_null() {
            initialize_sqe(sqe);
        }
        sqe
    }
}

/// With SQPOLL, waits until the SQ has room (`IORING_ENTER_SQ_WAIT`): 0 or `-errno`.
///
/// liburing: `__io_uring_sqring_wait`, behind the header's `io_uring_sqring_wait(3)`.
///
/// # Safety
/// `ring` must be a live ring set up by this library.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn __io_uring_sqring_wait(ring: *mut io_uring) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        let flags = k::IORING_ENTER_SQ_WAIT | ring_enter_flags(ring);
        backend::enter((*ring).enter_ring_fd as u32, 0, 0, flags, ptr::null(), 0)
    }
}

/// Queues a `TIMEOUT` SQE with `LIBURING_UDATA_TIMEOUT` for kernels without
/// `EXT_ARG`, and publishes it: SQEs to submit, or `-errno`.
///
/// # Safety
/// `ring` must be a live ring; `ts` valid until the timeout completes.
unsafe fn submit_timeout(ring: *mut io_uring, wait_nr: u32, ts: *const __kernel_timespec) -> c_int {
    // SAFETY: caller's contract; the SQE is ours until published.
    unsafe {
        let mut sqe = get_sqe(ring);
        if sqe.is_null() {
            let ret = io_uring_submit(ring);
            if ret < 0 {
                return ret;
            }
            sqe = get_sqe(ring);
            if sqe.is_null() {
                return -libc::EAGAIN;
            }
        }
        sqe.write(io_uring_sqe::zeroed());
        (*sqe).opcode = k::IORING_OP_TIMEOUT;
        (*sqe).fd = -1;
        (*sqe).addr_or_splice_off_in.addr = ts as u64;
        (*sqe).len = 1;
        (*sqe).off_or_addr2.off = u64::from(wait_nr);
        (*sqe).user_data = LIBURING_UDATA_TIMEOUT;
        flush_sq(ring) as c_int
    }
}

/// The `EXT_ARG` wait with timeout, minimum wait and signal mask.
///
/// # Safety
/// `ring` live; `ts`, `sigmask` null or valid.
unsafe fn wait_ext(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    submit: u32,
    wait_nr: u32,
    ts: *const __kernel_timespec,
    min_wait_usec: u32,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let arg = io_uring_getevents_arg {
        sigmask: sigmask as u64,
        sigmask_sz: SIGSET_SIZE as u32,
        min_wait_usec,
        ts: ts as u64,
    };
    let mut data = GetData {
        submit,
        wait_nr,
        get_flags: k::IORING_ENTER_EXT_ARG,
        sz: size_of::<io_uring_getevents_arg>(),
        has_ts: !ts.is_null(),
        arg: (&raw const arg).cast(),
    };
    // SAFETY: forwarded contract; `arg` outlives the call.
    unsafe { get_cqe(ring, cqe_ptr, &mut data) }
}

/// Waits for `wait_nr` CQEs, at most `ts` (null: no limit), with `sigmask` while
/// waiting; the first CQE goes to `cqe_ptr`. 0 or `-errno` (`-ETIME` on timeout).
///
/// liburing: `io_uring_wait_cqes(3)`.
///
/// # Safety
/// `ring` must be a live ring set up by this library, `cqe_ptr` writable, `ts` and
/// `sigmask` null or valid.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_wait_cqes(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    wait_nr: c_uint,
    ts: *mut __kernel_timespec,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        let mut to_submit = 0;
        if !ts.is_null() {
            if (*ring).features & k::IORING_FEAT_EXT_ARG != 0 {
                return wait_ext(ring, cqe_ptr, 0, wait_nr, ts, 0, sigmask);
            }
            let ret = submit_timeout(ring, wait_nr, ts);
            if ret < 0 {
                return ret;
            }
            to_submit = ret as u32;
        }
        __io_uring_get_cqe(ring, cqe_ptr, to_submit, wait_nr, sigmask)
    }
}

/// [`io_uring_wait_cqes`] with a minimum wait of `min_wait_usec` before returning
/// with fewer than `wait_nr` (`IORING_FEAT_MIN_TIMEOUT`, Linux 6.12; else `-EINVAL`).
///
/// liburing: `io_uring_wait_cqes_min_timeout(3)`.
///
/// # Safety
/// As [`io_uring_wait_cqes`].
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_wait_cqes_min_timeout(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    wait_nr: c_uint,
    ts: *mut __kernel_timespec,
    min_wait_usec: c_uint,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        if (*ring).features & k::IORING_FEAT_MIN_TIMEOUT == 0 {
            return -libc::EINVAL;
        }
        wait_ext(ring, cqe_ptr, 0, wait_nr, ts, min_wait_usec, sigmask)
    }
}

/// Waits for one CQE, at most `ts`: 0 or `-errno`.
///
/// liburing: `io_uring_wait_cqe_timeout(3)`.
///
/// # Safety
/// As [`io_uring_wait_cqes`].
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_wait_cqe_timeout(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    ts: *mut __kernel_timespec,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { io_uring_wait_cqes(ring, cqe_ptr, 1, ts, ptr::null_mut()) }
}

/// Submits, then waits for `wait_nr` CQEs at most `ts`: SQEs submitted (or 0), or
/// `-errno`.
///
/// liburing: `io_uring_submit_and_wait_timeout(3)`.
///
/// # Safety
/// As [`io_uring_wait_cqes`] and [`io_uring_submit`].
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_submit_and_wait_timeout(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    wait_nr: c_uint,
    ts: *mut __kernel_timespec,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        let to_submit = if !ts.is_null() {
            if (*ring).features & k::IORING_FEAT_EXT_ARG != 0 {
                return wait_ext(ring, cqe_ptr, flush_sq(ring), wait_nr, ts, 0, sigmask);
            }
            let ret = submit_timeout(ring, wait_nr, ts);
            if ret < 0 {
                return ret;
            }
            ret as u32
        } else {
            flush_sq(ring)
        };
        __io_uring_get_cqe(ring, cqe_ptr, to_submit, wait_nr, sigmask)
    }
}

/// [`io_uring_submit_and_wait_timeout`] with a minimum wait (`IORING_FEAT_MIN_TIMEOUT`,
/// else `-EINVAL`).
///
/// liburing: `io_uring_submit_and_wait_min_timeout(3)`.
///
/// # Safety
/// As [`io_uring_submit_and_wait_timeout`].
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_submit_and_wait_min_timeout(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    wait_nr: c_uint,
    ts: *mut __kernel_timespec,
    min_wait_usec: c_uint,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        if (*ring).features & k::IORING_FEAT_MIN_TIMEOUT == 0 {
            return -libc::EINVAL;
        }
        wait_ext(
            ring,
            cqe_ptr,
            flush_sq(ring),
            wait_nr,
            ts,
            min_wait_usec,
            sigmask,
        )
    }
}

/// Submits, then waits as slot `reg_index` of the registered wait region says
/// (`IORING_ENTER_EXT_ARG_REG`, Linux 6.13): SQEs submitted (or 0), or `-errno`
/// (`-ETIME` when one full wait brought no CQE, the slot's timeout being the kernel's).
///
/// liburing: `io_uring_submit_and_wait_reg(3)`.
///
/// # Safety
/// As [`io_uring_submit`]; a wait region must be registered with that slot.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub unsafe extern "C" fn io_uring_submit_and_wait_reg(
    ring: *mut io_uring,
    cqe_ptr: *mut *mut io_uring_cqe,
    wait_nr: c_uint,
    reg_index: c_int,
) -> c_int {
    // SAFETY: forwarded contract; the argument is an offset, not a pointer.
    unsafe {
        let mut data = GetData {
            submit: flush_sq(ring),
            wait_nr,
            get_flags: k::IORING_ENTER_EXT_ARG | k::IORING_ENTER_EXT_ARG_REG,
            sz: size_of::<k::io_uring_reg_wait>(),
            has_ts: true,
            arg: (reg_index as usize).wrapping_mul(size_of::<k::io_uring_reg_wait>())
                as *const c_void,
        };
        // As liburing 2.15: the SQEs are published above, then a ring without
        // EXT_ARG refuses the wait.
        if (*ring).features & k::IORING_FEAT_EXT_ARG == 0 {
            return -libc::EINVAL;
        }
        get_cqe(ring, cqe_ptr, &mut data)
    }
}

symver!(
    __io_uring_get_cqe,
    __io_uring_sqring_wait,
    io_uring_get_events,
    io_uring_get_sqe,
    io_uring_peek_batch_cqe,
    io_uring_submit,
    io_uring_submit_and_get_events,
    io_uring_submit_and_wait,
    io_uring_submit_and_wait_min_timeout,
    io_uring_submit_and_wait_reg,
    io_uring_submit_and_wait_timeout,
    io_uring_wait_cqe_timeout,
    io_uring_wait_cqes,
    io_uring_wait_cqes_min_timeout
);
