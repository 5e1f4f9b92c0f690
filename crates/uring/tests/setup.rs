//! Setup: sizes, flags, errors users will meet, the probe.
use uring_testkit as common;
use uring_testkit::test_name;

use uring::error::{MAX_CQ_ENTRIES, MAX_ENTRIES};
use uring::{Probe, Ring, SetupError, opcode, probe, sys};

#[test]
fn zero_entries_is_refused_with_the_limit() {
    common::for_each_backend_only(test_name!(), |backend| {
        let err = common::builder(backend).build(0).unwrap_err();
        assert!(
            matches!(err, SetupError::Entries { requested: 0, .. }),
            "{err:?}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        assert!(err.to_string().contains("at least 1"), "{err}");
    });
}

#[test]
fn too_many_entries_names_the_maximum_and_clamp() {
    common::for_each_backend_only(test_name!(), |backend| {
        let err = common::builder(backend).build(MAX_ENTRIES + 1).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("32768") && msg.contains("clamp"), "{msg}");
        let err = common::builder(backend)
            .cq_entries(MAX_CQ_ENTRIES * 2)
            .build(8)
            .unwrap_err();
        assert!(err.to_string().contains("65536"), "{err}");
    });
}

#[test]
fn clamp_cuts_sizes_down_to_the_maximum() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend)
            .clamp()
            .cq_entries(1 << 20)
            .build(1 << 20)
            .unwrap();
        assert_eq!(ring.params().sq_entries(), MAX_ENTRIES);
        assert_eq!(ring.params().cq_entries(), MAX_CQ_ENTRIES);
    });
}

#[test]
fn sizes_round_up_and_cq_defaults_to_twice_sq() {
    common::for_each_backend_only(test_name!(), |backend| {
        let ring = common::builder(backend).build(100).unwrap();
        assert_eq!(ring.params().sq_entries(), 128);
        assert_eq!(ring.params().cq_entries(), 256);
        let ring = common::builder(backend).cq_entries(1000).build(8).unwrap();
        assert_eq!(ring.params().cq_entries(), 1024);
    });
}

#[test]
fn flag_combinations_the_kernel_forbids_are_explained() {
    common::for_each_backend_only(test_name!(), |backend| {
        let cases = [
            (
                common::builder(backend).raw_flags(sys::IORING_SETUP_DEFER_TASKRUN),
                "SINGLE_ISSUER",
            ),
            (
                common::builder(backend).raw_flags(sys::IORING_SETUP_SQ_AFF),
                "SQPOLL",
            ),
            (
                common::builder(backend).raw_flags(sys::IORING_SETUP_REGISTERED_FD_ONLY),
                "NO_MMAP",
            ),
            (
                common::builder(backend).raw_flags(sys::IORING_SETUP_TASKRUN_FLAG),
                "COOP_TASKRUN",
            ),
            (common::builder(backend).cqe32().cqe_mixed(), "exclusive"),
            (
                common::builder(backend)
                    .sqpoll(std::time::Duration::from_millis(1))
                    .coop_taskrun(),
                "SQPOLL",
            ),
        ];
        for (builder, word) in cases {
            let err = builder.build(8).unwrap_err();
            assert!(matches!(err, SetupError::Flags { .. }), "{err:?}");
            assert!(err.to_string().contains(word), "{err}");
            // The kernel agrees that these are invalid: the same flags, unchecked, fail
            // with EINVAL at the system call.
            let mut p = sys::io_uring_params {
                flags: builder.flags(),
                ..Default::default()
            };
            // SAFETY: no NO_MMAP here except with REGISTERED_FD_ONLY, refused by the kernel
            // before it reads user_addr (0).
            let r = unsafe { sys::syscall::io_uring_setup(8, &mut p) };
            assert_eq!(
                r.unwrap_err().raw_os_error(),
                Some(libc::EINVAL),
                "{}",
                builder.flags()
            );
        }
    });
}

/// Rings have no SQ index array by default (`NO_SQARRAY`, as liburing 2.6 and later
/// set up), keep it with `sq_array()`, and carry NOPs through several wraps of the SQ
/// either way. A refused setup is tried again without the default flag, so the error
/// names the caller's flags only; asked for explicitly, `NO_SQARRAY` stays.
#[test]
fn rings_have_no_sq_array_unless_asked_for() {
    common::for_each_backend_only(test_name!(), |backend| {
        let nosq = sys::IORING_SETUP_NO_SQARRAY;
        let b = || common::builder(backend);
        let cases = [
            ("default", b(), false),
            ("sq_array", b().sq_array(), true),
            (
                "sq_array then no_sqarray",
                b().sq_array().no_sqarray(),
                false,
            ),
            (
                "no_sqarray then sq_array",
                b().no_sqarray().sq_array(),
                true,
            ),
        ];
        for (what, builder, array) in cases {
            let mut ring = builder.build(8).unwrap();
            assert_eq!(ring.params().is_setup(nosq), !array, "{what}");
            assert_eq!(ring.params().raw().sq_off.array != 0, array, "{what}");
            for round in 0..5u64 {
                let mut sq = ring.submission();
                for i in 0..6 {
                    // SAFETY: a NOP references no memory.
                    unsafe { sq.push(&opcode::Nop::new().build().user_data(round * 6 + i)) }
                        .unwrap();
                }
                drop(sq);
                ring.submit_and_wait(6).unwrap();
                let got: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
                let want: Vec<u64> = (round * 6..round * 6 + 6).collect();
                assert_eq!(got, want, "{what}, round {round}");
            }
        }

        let refused = b().cq_entries(4).build(8).unwrap_err();
        assert!(matches!(refused, SetupError::Invalid { .. }), "{refused:?}");
        let msg = refused.to_string();
        assert!(
            msg.contains("CQSIZE") && !msg.contains("NO_SQARRAY"),
            "{msg}"
        );
        let refused = b().no_sqarray().cq_entries(4).build(8).unwrap_err();
        assert!(refused.to_string().contains("NO_SQARRAY"), "{refused}");
    });
}

#[test]
fn unknown_flags_say_the_kernel_refused_them() {
    common::for_each_backend_only(test_name!(), |backend| {
        let err = common::builder(backend)
            .raw_flags(1 << 30)
            .build(8)
            .unwrap_err();
        assert!(matches!(err, SetupError::Invalid { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("0x40000000") && msg.contains("probe"), "{msg}");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    });
}

#[test]
fn every_setup_flag_of_6_18_is_accepted() {
    for s in probe::setup_flags() {
        match &s.result {
            Ok(()) => {}
            Err(e) => common::skip(&format!("setup flag {}", s.name), e),
        }
    }
}

#[test]
fn probe_reports_the_core_opcodes() {
    let probe = Probe::with_new_ring().unwrap();
    for &(code, name) in opcode::DECLARED {
        if !probe.is_supported(code) {
            common::skip(&format!("probe {name}"), "kernel lacks the opcode");
        }
    }
    assert!(probe.is_supported(sys::IORING_OP_NOP));
    assert!(probe.last_op() >= sys::IORING_OP_READ);
    assert_eq!(Probe::opcode_name(sys::IORING_OP_FSYNC), Some("FSYNC"));
    if probe.last_op() < sys::IORING_OP_LAST - 1 {
        common::skip(
            "probe last_op",
            &format!("kernel older than 6.16: {}", probe.last_op()),
        );
    }
}

#[test]
fn register_ring_fd_round_trip() {
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::builder(backend)
            .register_ring_fd()
            .build(4)
            .unwrap();
        // Already registered by the builder: asking again returns the same index.
        let i = ring.register_ring_fd().unwrap();
        assert_eq!(ring.register_ring_fd().unwrap(), i);
        ring.unregister_ring_fd().unwrap();
        // Still usable through the plain fd.
        let nop = opcode::Nop::new().build().user_data(3);
        // SAFETY: a NOP references no memory.
        unsafe { ring.submission().push(&nop) }.unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completion().next().unwrap().user_data(), 3);
    });
}

/// Runs in a child process (see below) under a seccomp filter that refuses
/// io_uring_setup with EPERM, as Docker's default profile does.
#[test]
#[ignore = "run by seccomp_refusal_is_named (as a child process)"]
fn seccomp_child() {
    if std::env::var("URING_TEST_SECCOMP_CHILD").is_err() {
        return;
    }
    common::deny_io_uring_setup().expect("install the seccomp filter");
    let err = common::builder(uring::Backend::Kernel)
        .build(4)
        .unwrap_err();
    println!("ERROR: {err}");
    println!("UNAVAILABLE: {}", err.is_unavailable());
}

#[test]
fn seccomp_refusal_is_named() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "seccomp_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("URING_TEST_SECCOMP_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("seccomp filter"), "{stdout}");
    assert!(stdout.contains("URING_BACKEND=engine"), "{stdout}");
    assert!(stdout.contains("UNAVAILABLE: true"), "{stdout}");
}

/// Runs in a child process under the same seccomp filter: `Backend::Auto` (chosen by
/// the builder, or by `URING_BACKEND=auto|engine` over a default builder) falls back
/// to the engine, which runs a NOP.
#[test]
#[ignore = "run by auto_backend_falls_back_to_the_engine_under_seccomp (as a child)"]
fn seccomp_auto_child() {
    let Ok(how) = std::env::var("URING_TEST_SECCOMP_AUTO") else {
        return;
    };
    common::deny_io_uring_setup().expect("install the seccomp filter");
    let mut ring = match how.as_str() {
        "builder" => Ring::builder().backend(uring::Backend::Auto).build(4),
        _ => Ring::new(4),
    }
    .expect("the engine takes over");
    let nop = uring::opcode::Nop::new().build().user_data(42);
    // SAFETY: a NOP references no memory.
    unsafe { ring.submission().push(&nop) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let c = ring.completion().next().expect("a CQE");
    println!("BACKEND: {}", ring.backend().name());
    println!("CQE: {} {}", c.user_data(), c.result());
}

#[test]
fn auto_backend_falls_back_to_the_engine_under_seccomp() {
    // (how, URING_BACKEND): the builder's Auto with no variable; a default builder
    // under URING_BACKEND=auto and =engine.
    for (how, env) in [
        ("builder", None),
        ("default", Some("auto")),
        ("default", Some("engine")),
    ] {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "seccomp_auto_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("URING_TEST_SECCOMP_AUTO", how)
        .env_remove("URING_BACKEND");
        if let Some(v) = env {
            cmd.env("URING_BACKEND", v);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ctx = format!("{how} URING_BACKEND={env:?}");
        assert!(
            out.status.success(),
            "{ctx}: child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("BACKEND: engine"), "{ctx}: {stdout}");
        assert!(stdout.contains("CQE: 42 0"), "{ctx}: {stdout}");
    }
}
