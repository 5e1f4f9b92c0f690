//! liburing-ffi.so.2: its symbols and versions against `liburing-ffi.map`, its SONAME,
//! and its helpers against the inline versions in the system's `liburing.h` and in
//! liburing 2.15's.
#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../map.rs"]
mod map;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;

const LIB: &str = "liburing_ffi_inline.so";

fn exported_functions() -> BTreeMap<String, String> {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(built_library(LIB))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" DF ") && !l.contains("*UND*"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[f.len() - 1].to_owned(), f[f.len() - 2].to_owned())
        })
        .collect()
}

#[test]
fn every_name_of_the_ffi_map_with_its_version_and_nothing_else() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../liburing-ffi.map"))
        .unwrap();
    let want: BTreeMap<String, String> = map::parse_map(&text).into_iter().collect();
    assert!(want.len() > 150, "the map lists {} names", want.len());
    assert_eq!(
        exported_functions(),
        want,
        "exported (left) against liburing-ffi.map (right)"
    );
}

/// Our `liburing-ffi.map` (which the test above holds the library to) names every
/// function of liburing 2.15's at the same version, plus `io_uring_buf_ring_head`,
/// which liburing.so.2 exports and liburing 2.15's ffi map leaves out.
#[test]
fn the_ffi_map_covers_liburing_2_15s() {
    let Some(theirs) = liburing_file(
        "the_ffi_map_covers_liburing_2_15s",
        "liburing-2.15",
        "src/liburing-ffi.map",
    ) else {
        return;
    };
    let ours = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../liburing-ffi.map"))
        .unwrap();
    let theirs: BTreeMap<String, String> = map::parse_map(&theirs).into_iter().collect();
    let mut ours: BTreeMap<String, String> = map::parse_map(&ours).into_iter().collect();
    assert!(
        theirs.len() > 200,
        "liburing 2.15's ffi map lists {} names",
        theirs.len()
    );
    assert_eq!(
        ours.remove("io_uring_buf_ring_head").as_deref(),
        Some("LIBURING_2.4")
    );
    assert_eq!(
        ours, theirs,
        "our liburing-ffi.map (left) against liburing 2.15's (right)"
    );
}

#[test]
fn soname_is_liburing_ffi_so_2() {
    let out = Command::new("objdump")
        .arg("-p")
        .arg(built_library(LIB))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let soname = text
        .lines()
        .find(|l| l.trim_start().starts_with("SONAME"))
        .expect("a SONAME");
    assert_eq!(soname.split_whitespace().nth(1), Some("liburing-ffi.so.2"));
}

/// Every prep helper the system's header has writes the same SQE bytes; the ring and
/// buffer-ring helpers give the same answers.
#[test]
fn helpers_match_the_system_header() {
    if !system_liburing("helpers_match_the_system_header") {
        return;
    }
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/inline_bytes.c");
    let bin = scratch().join("inline_bytes");
    let cc = Command::new("cc")
        .args(["-O1", "-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(src)
        .args(["-luring", "-ldl"])
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&bin).arg(built_library(LIB)).output().unwrap();
    assert_success("inline_bytes", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0 differ"), "{text}");
}

/// Every helper of liburing 2.15's header, the newer ones included, writes the same
/// SQE bytes as ours, on junk the header's helpers leave alone; the ring and
/// buffer-ring helpers give the same answers. The program is built against that
/// header and linked against our `liburing-ffi.so.2` alone.
#[test]
fn helpers_match_the_liburing_2_15_header() {
    let test = "helpers_match_the_liburing_2_15_header";
    let Some(include) = liburing_headers(test, "liburing-2.15") else {
        return;
    };
    let lib = built_library(LIB);
    let dir = scratch().join("ffi-lib");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["liburing-ffi.so", "liburing-ffi.so.2"] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&lib, &link).unwrap();
    }
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/inline_bytes.c");
    let bin = scratch().join("inline_bytes_2_15");
    let cc = Command::new("cc")
        .args(["-O1", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg("-o")
        .arg(&bin)
        .arg(src)
        .arg("-L")
        .arg(&dir)
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .args(["-luring-ffi", "-ldl"])
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&bin).arg(&lib).output().unwrap();
    assert_success("inline_bytes (2.15)", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    // The newer helpers ran: 2.15's header has about 60 more than 2.3's.
    let compared: usize = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(compared > 120 && text.contains(" 0 differ"), "{text}");
}
