//! C programs built once against the system's `liburing.h` (Debian's liburing 2.3) and
//! run unchanged: against the system's liburing (the control) and against ours by
//! `LD_LIBRARY_PATH`. Both runs must succeed and print the same lines.
mod common;

use common::*;

/// Builds `name` against the system's liburing, runs it on the system's library and
/// on ours (kernel backend), and compares. Returns the binary for further runs.
fn same_as_liburing(name: &str, args: &[&std::path::Path]) -> Option<std::path::PathBuf> {
    if !system_liburing(name) {
        return None;
    }
    let bin = compile(name, false);
    let control = run(&bin, args, Lib::System);
    assert_success(&format!("{name} on the system's liburing"), &control);
    let ours = run(&bin, args, Lib::Ours("kernel"));
    assert_success(&format!("{name} on ours"), &ours);
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&control.stdout),
        "{name}: ours (left) differs from the system's liburing (right)"
    );
    assert!(
        !control.stdout.is_empty(),
        "{name} printed nothing to compare"
    );
    Some(bin)
}

#[test]
fn queue_init_and_exit_with_each_flag() {
    same_as_liburing("init_flags", &[]);
}

#[test]
fn submit_and_wait_with_and_without_timeouts() {
    same_as_liburing("submit_wait", &[]);
}

#[test]
fn sqpoll() {
    same_as_liburing("sqpoll", &[]);
}

#[test]
fn registered_buffers_files_and_the_rest() {
    same_as_liburing("registered", &[]);
}

#[test]
fn buffer_rings() {
    same_as_liburing("buf_ring", &[]);
}

#[test]
fn links_with_fsync() {
    same_as_liburing("link_fsync", &[]);
}

#[test]
fn ring_fd_dup_and_close() {
    same_as_liburing("ring_dup", &[]);
}

#[test]
fn null_arguments() {
    same_as_liburing("null_args", &[]);
}

/// A deterministic, incompressible-looking file of `len` bytes.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn file_copy_program() {
    if !system_liburing("file_copy_program") {
        return;
    }
    let dir = scratch();
    let bin = compile("cp", false);
    for size in [0usize, 1, 4095, 4096, (1 << 20) + 123] {
        let src = dir.join(format!("cp-src-{size}"));
        let data = pattern(size);
        std::fs::write(&src, &data).unwrap();
        let mut outputs = Vec::new();
        for lib in [Lib::System, Lib::Ours("kernel")] {
            let dst = dir.join(format!("cp-dst-{size}-{lib:?}"));
            let out = run(&bin, &[&src, &dst], lib);
            assert_success(&format!("cp of {size} bytes on {lib:?}"), &out);
            assert!(
                std::fs::read(&dst).unwrap() == data,
                "cp of {size} bytes on {lib:?}: copy differs"
            );
            outputs.push(out.stdout);
        }
        assert_eq!(outputs[0], outputs[1], "cp of {size} bytes");
    }
}

/// The binary linked against the system's liburing really loads ours when run with
/// `LD_LIBRARY_PATH`: the dynamic loader says which file it resolved.
#[test]
fn drop_in_is_what_the_program_loads() {
    if !system_liburing("drop_in_is_what_the_program_loads") {
        return;
    }
    let bin = compile("null_args", false);
    let mut cmd = std::process::Command::new(&bin);
    cmd.env("LD_TRACE_LOADED_OBJECTS", "1")
        .env("LD_LIBRARY_PATH", drop_in_dir());
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("liburing.so.2"))
        .expect("liburing.so.2 is loaded");
    assert!(
        line.contains(&drop_in_dir().display().to_string()),
        "resolved elsewhere: {line}"
    );
}

/// The API of liburing 2.4 to 2.15 (the system's 2.3 lacks it): built against ours
/// directly, checked inside the program.
#[test]
fn newer_api() {
    if !system_liburing("newer_api") {
        return;
    }
    let bin = compile("newer", true);
    let out = run(&bin, &[], Lib::Ours("kernel"));
    assert_success("newer", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wait region ok") && text.contains("2.15 registrations ok (query 0"),
        "{text}"
    );
}

/// Programs whose operations the engine honours, run unchanged on ours with
/// `URING_BACKEND=engine`: the same output as on the kernel.
#[test]
fn same_programs_on_the_engine() {
    if !system_liburing("same_programs_on_the_engine") {
        return;
    }
    for name in [
        "link_fsync",
        "sqpoll",
        "submit_wait",
        "buf_ring",
        "ring_dup",
    ] {
        let bin = compile(name, false);
        let kernel = run(&bin, &[], Lib::Ours("kernel"));
        assert_success(&format!("{name} on the kernel"), &kernel);
        let engine = run(&bin, &[], Lib::Ours("engine"));
        assert_success(&format!("{name} on the engine"), &engine);
        assert_eq!(
            String::from_utf8_lossy(&engine.stdout),
            String::from_utf8_lossy(&kernel.stdout),
            "{name}: the engine (left) differs from the kernel (right)"
        );
    }
    let bin = compile("cp", false);
    let src = scratch().join("engine-cp-src");
    let dst = scratch().join("engine-cp-dst");
    let data = pattern((1 << 20) + 4097);
    std::fs::write(&src, &data).unwrap();
    let out = run(&bin, &[&src, &dst], Lib::Ours("engine"));
    assert_success("cp on the engine", &out);
    assert!(
        std::fs::read(&dst).unwrap() == data,
        "cp on the engine: copy differs"
    );
}

/// With io_uring refused by seccomp (EPERM, as Docker's default profile does), the
/// system's liburing fails to set up a ring; ours with `URING_BACKEND` unset falls
/// back to the engine and the program works; with `URING_BACKEND=kernel` it fails
/// as liburing does.
#[test]
fn auto_falls_back_to_the_engine_when_io_uring_is_refused() {
    if !system_liburing("auto_falls_back_to_the_engine_when_io_uring_is_refused") {
        return;
    }
    let bin = compile("seccomp_fallback", false);
    let first_line = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let control = run(&bin, &[], Lib::System);
    assert_success("seccomp_fallback on the system's liburing", &control);
    assert_eq!(
        first_line(&control),
        "queue_init = -1",
        "EPERM from the filter"
    );

    let kernel = run(&bin, &[], Lib::Ours("kernel"));
    assert_success("seccomp_fallback on ours, kernel only", &kernel);
    assert_eq!(first_line(&kernel), first_line(&control));

    let mut cmd = std::process::Command::new(&bin);
    cmd.env("LD_LIBRARY_PATH", drop_in_dir())
        .env_remove("URING_BACKEND");
    let auto = cmd.output().unwrap();
    assert_success("seccomp_fallback on ours, auto", &auto);
    let text = String::from_utf8_lossy(&auto.stdout);
    assert_eq!(first_line(&auto), "queue_init = 0", "{text}");
    assert!(
        text.contains("fsync = 0") && text.contains("file contents match"),
        "{text}"
    );
}

/// A LONG_MAX-second wait timeout waits (it aborted the process on the engine: an
/// Instant overflow panicked inside the library), and a malformed engine variable makes
/// io_uring_queue_init return -EINVAL with the reason on stderr (it aborted too).
#[test]
fn limits_are_errors_or_waits_never_aborts() {
    if !system_liburing("limits_are_errors_or_waits_never_aborts") {
        return;
    }
    let bin = compile("limits", false);
    let kernel = run(&bin, &[], Lib::Ours("kernel"));
    assert_success("limits on the kernel", &kernel);
    let engine = run(&bin, &[], Lib::Ours("engine"));
    assert_success("limits on the engine", &engine);
    assert_eq!(
        String::from_utf8_lossy(&engine.stdout),
        String::from_utf8_lossy(&kernel.stdout),
        "the engine (left) differs from the kernel (right)"
    );
    for (var, value) in [
        ("URING_ENGINE_SEED", "banana"),
        ("URING_ENGINE_FAULTS", "at=x"),
    ] {
        let out = std::process::Command::new(&bin)
            .env("LD_LIBRARY_PATH", drop_in_dir())
            .env("URING_BACKEND", "engine")
            .env(var, value)
            .output()
            .unwrap();
        assert_success(&format!("limits with {var}={value}"), &out);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "queue_init = -22\n",
            "{var}={value}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(var),
            "{var}={value}: no reason on stderr"
        );
    }
}
