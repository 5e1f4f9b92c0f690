//! Ring memory and capabilities on the real kernel: `IORING_REGISTER_MEM_REGION`
//! (registered wait arguments), `RESIZE_RINGS`, `QUERY`, `ZCRX_IFQ`.
use std::os::fd::AsRawFd;
use uring_testkit as common;
use uring_testkit::test_name;
mod register_common;

use std::ffi::c_void;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use register_common::{LIMIT, assert_errno, errno, nop};
use uring::{Ring, Submitter, sys};

/// Memory mapped for a test: anonymous, or a ring's; unmapped on drop.
struct Map {
    ptr: *mut u8,
    len: usize,
}

impl Map {
    /// `len` bytes of anonymous memory.
    fn anonymous(len: usize) -> Map {
        let (ptr, len) = common::Mapping::new(len).into_raw();
        Map { ptr, len }
    }

    /// Maps `len` bytes of the ring `fd` at `offset`.
    fn ring(fd: RawFd, offset: u64, len: usize) -> std::io::Result<Map> {
        // SAFETY: a fresh shared mapping of the ring; the kernel checks the offset.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Map { ptr: p.cast(), len })
    }

    fn read<T: Copy>(&self, off: usize) -> T {
        assert!(off + size_of::<T>() <= self.len);
        // SAFETY: in bounds (checked); the ring fields read are plain integers.
        unsafe { self.ptr.add(off).cast::<T>().read_volatile() }
    }

    fn write<T: Copy>(&self, off: usize, v: T) {
        assert!(off + size_of::<T>() <= self.len);
        // SAFETY: in bounds (checked), and the mapping is writable.
        unsafe { self.ptr.add(off).cast::<T>().write_volatile(v) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: exactly what mmap returned.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Waits on `ring` with the registered wait argument at byte `offset` of its region;
/// returns the errno and how long it took.
fn wait_registered(ring: &Ring, offset: usize) -> (i32, Duration) {
    let start = Instant::now();
    let flags =
        sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_EXT_ARG | sys::IORING_ENTER_EXT_ARG_REG;
    // SAFETY: with EXT_ARG_REG the argument is an offset into the registered region,
    // and the size that of one io_uring_reg_wait; nothing is submitted.
    let r = unsafe {
        ring.submitter().enter(
            0,
            1,
            flags,
            offset as *const c_void,
            size_of::<sys::io_uring_reg_wait>(),
        )
    };
    (errno(&r.expect_err("nothing completes")), start.elapsed())
}

fn wait_slot(timeout: Duration) -> sys::io_uring_reg_wait {
    sys::io_uring_reg_wait {
        ts: sys::__kernel_timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: timeout.subsec_nanos() as i64,
        },
        flags: sys::IORING_REG_WAIT_TS,
        ..Default::default()
    }
}

#[test]
fn registered_wait_arguments_come_from_the_region() {
    common::for_each_backend_with_register_ops(
        test_name!(),
        &[sys::IORING_REGISTER_MEM_REGION],
        |backend| {
            let page = 4096;
            // User memory, on a ring still disabled.
            let mem = Map::anonymous(page);
            let ring = common::builder(backend).disabled().build(4).unwrap();
            let mut rd = sys::io_uring_region_desc {
                user_addr: mem.ptr as u64,
                size: page as u64,
                flags: sys::IORING_MEM_REGION_TYPE_USER,
                ..Default::default()
            };
            let reg = sys::io_uring_mem_region_reg {
                region_uptr: (&raw mut rd) as u64,
                flags: sys::IORING_MEM_REGION_REG_WAIT_ARG.into(),
                __resv: [0; 2],
            };
            // SAFETY: `rd` is a valid descriptor; `mem` is a page-aligned page that outlives
            // the ring (dropped after it: declared first).
            unsafe { ring.submitter().register_region(&reg) }.unwrap();
            // SAFETY: as above.
            assert_errno(
                unsafe { ring.submitter().register_region(&reg) },
                libc::EBUSY,
                "second region",
            );
            ring.submitter().enable_rings().unwrap();
            // Slot 1 (byte offset 64) holds a 200 ms timeout; the kernel reads it from there.
            mem.write(64, wait_slot(Duration::from_millis(200)));
            let (e, took) = wait_registered(&ring, 64);
            assert_eq!(e, libc::ETIME);
            assert!(
                took >= Duration::from_millis(180) && took < LIMIT,
                "{took:?}"
            );
            // Rewriting the slot changes the next wait: 1 ms.
            mem.write(64, wait_slot(Duration::from_millis(1)));
            let (e, took) = wait_registered(&ring, 64);
            assert_eq!(e, libc::ETIME);
            assert!(took < Duration::from_millis(150), "{took:?}");
            // An offset past the region, or not a multiple of 8, is refused.
            assert_eq!(wait_registered(&ring, page).0, libc::EFAULT);
            assert_eq!(wait_registered(&ring, 68).0, libc::EFAULT);
            drop(ring);
            drop(mem);
        },
    );
}

#[test]
fn wait_regions_need_a_disabled_ring_and_kernel_regions_map() {
    common::for_each_backend_with_register_ops(
        test_name!(),
        &[sys::IORING_REGISTER_MEM_REGION],
        |backend| {
            let ring = common::builder(backend).build(4).unwrap();
            let mut rd = sys::io_uring_region_desc {
                size: 4096,
                ..Default::default()
            };
            let reg = sys::io_uring_mem_region_reg {
                region_uptr: (&raw mut rd) as u64,
                flags: sys::IORING_MEM_REGION_REG_WAIT_ARG.into(),
                __resv: [0; 2],
            };
            // SAFETY: kernel memory (no TYPE_USER): only the descriptor is ours, and it is
            // valid for the call.
            assert_errno(
                unsafe { ring.submitter().register_region(&reg) },
                libc::EINVAL,
                "REG_WAIT_ARG on an enabled ring",
            );

            // Kernel memory, mapped at the offset the kernel returns.
            let ring = common::builder(backend).disabled().build(4).unwrap();
            // SAFETY: as above.
            unsafe { ring.submitter().register_region(&reg) }.unwrap();
            assert_ne!(rd.mmap_offset, 0, "the kernel says where to map it");
            let region = Map::ring(
                ring.fd().map(|f| f.as_raw_fd()).unwrap(),
                rd.mmap_offset,
                4096,
            )
            .unwrap();
            ring.submitter().enable_rings().unwrap();
            region.write(128, wait_slot(Duration::from_millis(30)));
            let (e, took) = wait_registered(&ring, 128);
            assert_eq!(e, libc::ETIME);
            assert!(took >= Duration::from_millis(20), "{took:?}");
            drop(region);
        },
    );
}

#[test]
fn query_reports_the_kernel_without_a_ring() {
    let q = Submitter::query_opcodes().unwrap();
    assert_eq!(q.nr_request_opcodes, u32::from(sys::IORING_OP_LAST), "6.18");
    assert_eq!(q.nr_register_opcodes, sys::IORING_REGISTER_LAST, "6.18");
    assert_eq!(q.sqe_flags, 0x7f, "the seven IOSQE_* flags");
    let ring = common::new_ring(uring::Backend::Kernel, 4);
    let feats = u64::from(ring.params().features());
    assert_eq!(
        q.feature_flags & feats,
        feats,
        "every feature setup reports"
    );
    for &(flag, name) in sys::IORING_SETUP_FLAG_NAMES {
        assert!(
            q.ring_setup_flags & u64::from(flag) != 0,
            "setup flag {name}"
        );
    }
    assert_eq!(q.enter_flags, 0xff, "IORING_ENTER_* up to NO_IOWAIT");
    assert_eq!(q.nr_query_opcodes, sys::__IO_URING_QUERY_MAX);

    // A chain: an unknown query reports its own error, the next one still runs.
    let mut second = sys::io_uring_query_opcode::default();
    let mut unknown = [0u8; 16];
    let mut hdr2 = sys::io_uring_query_hdr::new(sys::IO_URING_QUERY_OPCODES, &mut second);
    let mut hdr1 = sys::io_uring_query_hdr {
        next_entry: (&raw mut hdr2) as u64,
        ..sys::io_uring_query_hdr::new(99, &mut unknown)
    };
    // SAFETY: two valid headers linked by next_entry, each with a buffer of its size.
    unsafe { Submitter::query_raw(&mut hdr1) }.unwrap();
    assert_eq!(hdr1.result, -libc::EOPNOTSUPP);
    assert_eq!(hdr2.result, 0);
    assert_eq!(second, q);
}

/// The sizes of the rings as the kernel wrote them into the ring memory, read through
/// a fresh mapping at the offsets `p` gives.
fn mapped_sizes(fd: RawFd, p: &sys::io_uring_params) -> (Map, u32, u32) {
    let len = (p.sq_off.array as usize + p.sq_entries as usize * 4)
        .max(p.cq_off.cqes as usize + p.cq_entries as usize * 16);
    let m = Map::ring(fd, sys::IORING_OFF_SQ_RING, len).unwrap();
    let sq: u32 = m.read(p.sq_off.ring_entries as usize);
    let cq: u32 = m.read(p.cq_off.ring_entries as usize);
    (m, sq, cq)
}

#[test]
fn resize_moves_pending_completions_into_new_rings() {
    common::for_each_backend_with_register_ops(
        test_name!(),
        &[sys::IORING_REGISTER_RESIZE_RINGS],
        |backend| {
            let mut plain = common::builder(backend).build(4).unwrap();
            let mut p = sys::io_uring_params {
                sq_entries: 8,
                cq_entries: 32,
                flags: sys::IORING_SETUP_CQSIZE,
                ..Default::default()
            };
            // SAFETY: refused (no DEFER_TASKRUN): the ring is left as it was.
            assert_errno(
                unsafe { plain.submitter().register_resize_rings_raw(&mut p) },
                libc::EINVAL,
                "resize without DEFER_TASKRUN",
            );
            // SAFETY: NOPs reference no memory.
            let c = unsafe { register_common::run1(&mut plain, nop(1)) };
            assert_eq!(
                (c.user_data(), c.result()),
                (1, 0),
                "the refused ring still works"
            );

            let mut ring = common::builder(backend).defer_taskrun().build(4).unwrap();
            let fd = ring.fd().map(|f| f.as_raw_fd()).unwrap();
            let mut bad = sys::io_uring_params {
                flags: sys::IORING_SETUP_SQPOLL,
                ..p
            };
            // SAFETY: refused (flag other than CQSIZE/CLAMP): the ring is unchanged.
            assert_errno(
                unsafe { ring.submitter().register_resize_rings_raw(&mut bad) },
                libc::EINVAL,
                "resize with SQPOLL",
            );
            // Three completions wait in the CQ.
            {
                let mut sq = ring.submission();
                for i in 0..3 {
                    // SAFETY: as above.
                    unsafe { sq.push(&nop(100 + i)) }.unwrap();
                }
            }
            ring.submit_and_wait(3).unwrap();
            // Too small a CQ for them: refused, nothing lost.
            let mut tiny = sys::io_uring_params {
                sq_entries: 1,
                cq_entries: 2,
                flags: sys::IORING_SETUP_CQSIZE,
                ..Default::default()
            };
            // SAFETY: refused with EOVERFLOW before any swap: the ring is unchanged.
            assert_errno(
                unsafe { ring.submitter().register_resize_rings_raw(&mut tiny) },
                libc::EOVERFLOW,
                "pending CQEs do not fit",
            );
            assert_eq!(
                ring.completion().len(),
                3,
                "still there after a refused resize"
            );

            // SAFETY: on success the Ring's views are stale: from here on it is only read
            // through our own mapping, then dropped.
            unsafe { ring.submitter().register_resize_rings_raw(&mut p) }.unwrap();
            assert_eq!((p.sq_entries, p.cq_entries), (8, 32), "sizes written back");
            let (m, sq, cq) = mapped_sizes(fd, &p);
            assert_eq!((sq, cq), (8, 32), "the new rings");
            let head: u32 = m.read(p.cq_off.head as usize);
            let tail: u32 = m.read(p.cq_off.tail as usize);
            assert_eq!(tail.wrapping_sub(head), 3, "the pending CQEs moved over");
            let ids: Vec<u64> = (0..3)
                .map(|i| {
                    let slot = (head.wrapping_add(i) & 31) as usize;
                    m.read::<u64>(p.cq_off.cqes as usize + slot * 16)
                })
                .collect();
            assert_eq!(ids, [100, 101, 102]);
            drop(m);
            drop(ring);
        },
    );
}

#[test]
fn zcrx_needs_its_ring_flags_and_a_capable_nic() {
    common::for_each_backend_with_register_ops(
        test_name!(),
        &[sys::IORING_REGISTER_ZCRX_IFQ],
        |backend| {
            let area = Map::anonymous(64 * 1024);
            let mut area_reg = sys::io_uring_zcrx_area_reg {
                addr: area.ptr as u64,
                len: area.len as u64,
                ..Default::default()
            };
            let mut rd = sys::io_uring_region_desc {
                size: 4 * 4096,
                ..Default::default()
            };
            let (area_ptr, region_ptr) = ((&raw mut area_reg) as u64, (&raw mut rd) as u64);
            let reg_for = |if_idx: u32| sys::io_uring_zcrx_ifq_reg {
                if_idx,
                if_rxq: 0,
                rq_entries: 64,
                area_ptr,
                region_ptr,
                ..Default::default()
            };
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            let plain = common::builder(backend).build(4).unwrap();
            let mut reg = reg_for(1);
            // SAFETY: the area and region descriptor are valid and outlive the ring; the call
            // is refused anyway.
            assert_errno(
                unsafe { plain.submitter().register_ifq(&mut reg) },
                if root { libc::EINVAL } else { libc::EPERM },
                "zcrx on a ring without DEFER_TASKRUN and CQE32",
            );
            let ring = match common::builder(backend).defer_taskrun().cqe32().build(4) {
                Ok(r) => r,
                Err(e) => panic!("DEFER_TASKRUN|CQE32 ring: {e}"),
            };
            for (name, idx) in [
                ("lo", 1u32),
                ("eth0", 0),
                ("no such interface", 0x7fff_0000),
            ] {
                let idx = if name == "eth0" {
                    // SAFETY: a NUL-terminated name.
                    unsafe { libc::if_nametoindex(c"eth0".as_ptr()) }
                } else {
                    idx
                };
                if idx == 0 {
                    continue;
                }
                let mut reg = reg_for(idx);
                // SAFETY: as above.
                match unsafe { ring.submitter().register_ifq(&mut reg) } {
                    Ok(()) => common::not_applicable(
                        test_name!(),
                        &format!("{name} accepted zero-copy receive (id {})", reg.zcrx_id),
                    ),
                    Err(e) => {
                        let n = errno(&e);
                        assert!(
                            [libc::EPERM, libc::EOPNOTSUPP, libc::ENODEV, libc::EINVAL]
                                .contains(&n),
                            "{name}: unexpected {e}"
                        );
                        if name == "no such interface" && root {
                            assert_eq!(n, libc::ENODEV, "{name}");
                        }
                        common::not_applicable(
                            test_name!(),
                            &format!("{name} (ifindex {idx}) refuses zero-copy receive: {e}"),
                        );
                    }
                }
            }
            drop((plain, ring));
            drop(area);
        },
    );
}
