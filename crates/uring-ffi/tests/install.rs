//! `scripts/install-liburing.sh` into a temporary prefix: the libraries, their links and
//! `liburing.pc` land there; a C program built with `pkg-config --cflags --libs liburing`
//! loads our library from the prefix and runs; `--uninstall` takes back exactly what
//! was installed and leaves a file it did not install.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn script(args: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new(workspace_root().join("scripts/install-liburing.sh"))
        .args(args)
        .output()
        .expect("run scripts/install-liburing.sh");
    assert_success("install-liburing.sh", &out);
    out
}

fn pkg_config(prefix: &Path, args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .args(args)
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("run pkg-config (apt-get install pkg-config)");
    assert_success("pkg-config", &out);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

const PROGRAM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <liburing.h>
#include <stdio.h>

int main(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	Dl_info info;
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret < 1 || io_uring_peek_cqe(&ring, &cqe) || cqe->res != 0) {
		fprintf(stderr, "nop: %d\n", ret);
		return 1;
	}
	io_uring_queue_exit(&ring);
	if (!dladdr((void *) io_uring_queue_init, &info))
		return 1;
	printf("%s\n", info.dli_fname);
	return 0;
}
"#;

#[test]
fn install_build_with_pkg_config_run_uninstall() {
    let test = "install_build_with_pkg_config_run_uninstall";
    // Headers: liburing 2.15's, installed by the script, where liburing's git
    // directory is at hand; otherwise the system's.
    let headers = if std::env::var_os("LIBURING_GIT_DIR").is_some() {
        "--headers"
    } else if system_liburing(test) {
        "--no-headers"
    } else {
        return;
    };
    let prefix = scratch().join("prefix");
    let lib = built_library("liburing_ffi.so");
    let libdir = prefix.join("lib");
    // A link the script did not make (as a distribution's development link would be):
    // it must be kept, and left by --uninstall.
    let foreign = libdir.join("liburing.so");
    std::fs::create_dir_all(&libdir).unwrap();
    let _ = std::fs::remove_file(&foreign);
    std::os::unix::fs::symlink("liburing.so.2", &foreign).unwrap();

    let out = script(&[
        "--lib-from".as_ref(),
        lib.parent().unwrap().as_os_str(),
        headers.as_ref(),
        prefix.as_os_str(),
    ]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("kept (not ours): {}", foreign.display())),
        "{report}"
    );
    assert_eq!(
        std::fs::read_link(libdir.join("liburing.so.2")).unwrap(),
        Path::new("liburing.so.2.15")
    );
    assert_eq!(pkg_config(&prefix, &["--modversion", "liburing"]), "2.15");
    let libs = pkg_config(&prefix, &["--libs", "liburing"]);
    assert!(
        libs.contains(&format!("-L{}", libdir.display())) && libs.contains("-luring"),
        "{libs}"
    );

    let src = scratch().join("installed.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let bin = scratch().join("installed");
    let flags = pkg_config(&prefix, &["--cflags", "--libs", "liburing"]);
    let cc = Command::new("cc")
        .args(["-O1", "-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg("-ldl")
        .output()
        .unwrap();
    assert_success("cc with pkg-config's flags", &cc);
    let run = Command::new(&bin)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert_success("the program built against the prefix", &run);
    let loaded = String::from_utf8_lossy(&run.stdout).trim().to_owned();
    assert_eq!(
        Path::new(&loaded).canonicalize().unwrap(),
        libdir.join("liburing.so.2.15").canonicalize().unwrap(),
        "the program loaded {loaded}"
    );
    // Stripped, yet every versioned name is still exported.
    let syms = Command::new("objdump")
        .arg("-T")
        .arg(libdir.join("liburing.so.2.15"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&syms.stdout).contains("LIBURING_2.15"));

    script(&["--uninstall".as_ref(), prefix.as_os_str()]);
    for gone in [
        "lib/liburing.so.2.15",
        "lib/liburing.so.2",
        "lib/pkgconfig/liburing.pc",
        "include/liburing.h",
        "share/uring-ffi/installed-files",
    ] {
        assert!(
            !prefix.join(gone).exists() && std::fs::symlink_metadata(prefix.join(gone)).is_err(),
            "{gone} left after --uninstall"
        );
    }
    assert_eq!(
        std::fs::read_link(&foreign).unwrap(),
        Path::new("liburing.so.2"),
        "the link the script did not make is gone"
    );
}
