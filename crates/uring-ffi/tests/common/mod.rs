//! Shared by the C ABI tests: finding our built library, compiling the C programs of
//! `tests/c/` against the system's `liburing.h`, running them against the system's
//! liburing and against ours, and the visible-skip convention of the workspace.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

#[allow(unused_imports)]
pub use uring_testkit::{require_kernel, skip};

/// The directory cargo put this test binary's libraries in (`target/<profile>`).
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Our built shared library `file` (`liburing_ffi.so` …), as cargo built it for this
/// test run: of `target/<profile>/deps/` (where `cargo test` writes it) and
/// `target/<profile>/` (where `cargo build` copies it, and which `cargo test` leaves
/// as it was), the newer.
pub fn built_library(file: &str) -> PathBuf {
    let dir = target_profile_dir();
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [dir.join("deps").join(file), dir.join(file)]
        .into_iter()
        .filter_map(|p| modified(&p).map(|t| (t, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
        .unwrap_or_else(|| {
            panic!(
                "{file} not found under {}: cargo builds it before the tests",
                dir.display()
            )
        })
}

/// A scratch directory for this test process.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("uring-ffi-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A directory holding our `liburing.so.2` (and `liburing.so`, for linking against it
/// directly), for `LD_LIBRARY_PATH` and `-L`.
pub fn drop_in_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let lib = built_library("liburing_ffi.so");
        let dir = scratch().join("lib");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["liburing.so.2", "liburing.so"] {
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&lib, &link).unwrap();
        }
        dir
    })
}

/// Whether the system's liburing (header and shared library) is there to build the
/// programs against; reports the skip if not.
pub fn system_liburing(test: &str) -> bool {
    let ok = Path::new("/usr/include/liburing.h").exists()
        && Command::new("cc")
            .args(["-print-file-name=liburing.so.2"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim().starts_with('/'));
    if !ok {
        skip(
            test,
            "the system's liburing is not installed (apt-get install liburing-dev)",
        );
    }
    ok
}

/// Compiles `tests/c/<name>.c` against the system's `liburing.h`, linked against the
/// system's liburing (`ours = false`) or against ours.
pub fn compile(name: &str, ours: bool) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(format!("{name}.c"));
    // One binary per call: tests run in parallel, and two of them compiling the same
    // program into one path would run it while the other's linker rewrites it.
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bin = scratch().join(if ours {
        format!("{name}-ours-{seq}")
    } else {
        format!("{name}-{seq}")
    });
    let mut cc = Command::new("cc");
    cc.args(["-O1", "-Wall", "-Werror", "-Wno-unused-result", "-o"])
        .arg(&bin)
        .arg(&src);
    if ours {
        cc.arg("-L").arg(drop_in_dir());
    }
    cc.arg("-luring");
    let out = cc.output().expect("run cc");
    assert!(
        out.status.success(),
        "cc {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Which library a run loads, and on which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lib {
    /// The system's liburing.
    System,
    /// Ours, by `LD_LIBRARY_PATH`, with `URING_BACKEND` set to this value.
    Ours(&'static str),
}

/// Runs `bin` with `args` on `lib`.
pub fn run(bin: &Path, args: &[&Path], lib: Lib) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("URING_BACKEND");
    if let Lib::Ours(backend) = lib {
        cmd.env("LD_LIBRARY_PATH", drop_in_dir())
            .env("URING_BACKEND", backend);
    }
    cmd.output().expect("run test program")
}

/// Asserts that a run exited 0, showing its output if not.
pub fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The workspace's root directory (where `scripts/` is), found from this package's.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("scripts/liburing-headers.sh").exists())
        .expect("the workspace root above this package")
        .to_path_buf()
}

/// liburing's headers at `tag` (an include directory), made by
/// `scripts/liburing-headers.sh` from the git directory of liburing named by
/// `LIBURING_GIT_DIR`; reports the skip and gives `None` without it. (`.ci/run` sets
/// it; locally: `git clone --bare https://github.com/axboe/liburing` and point it
/// there.)
pub fn liburing_headers(test: &str, tag: &str) -> Option<PathBuf> {
    let Some(git_dir) = std::env::var_os("LIBURING_GIT_DIR") else {
        // Not a kernel limitation: liburing's git history is a test input that a
        // machine without access to github.com cannot have. Visible, not a failure.
        eprintln!(
            "N/A {test}: LIBURING_GIT_DIR is not set (a git directory of axboe/liburing with its tags)"
        );
        return None;
    };
    let dest = scratch().join(format!("include-{tag}"));
    let out = Command::new(workspace_root().join("scripts/liburing-headers.sh"))
        .arg(&dest)
        .arg(tag)
        .env("LIBURING_GIT_DIR", git_dir)
        .output()
        .expect("run scripts/liburing-headers.sh");
    assert!(
        out.status.success(),
        "liburing-headers.sh {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dest)
}

/// File `path` of liburing at `tag`, from the git directory `LIBURING_GIT_DIR` names;
/// reports the skip and gives `None` without it.
pub fn liburing_file(test: &str, tag: &str, path: &str) -> Option<String> {
    let Some(git_dir) = std::env::var_os("LIBURING_GIT_DIR") else {
        // Not a kernel limitation: liburing's git history is a test input that a
        // machine without access to github.com cannot have. Visible, not a failure.
        eprintln!(
            "N/A {test}: LIBURING_GIT_DIR is not set (a git directory of axboe/liburing with its tags)"
        );
        return None;
    };
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["show", &format!("{tag}:{path}")])
        .output()
        .expect("run git");
    assert_success(&format!("git show {tag}:{path}"), &out);
    Some(String::from_utf8(out.stdout).expect("UTF-8"))
}
