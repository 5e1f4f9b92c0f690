//! The exported symbols of our `liburing.so.2`: every name of `liburing.map` with its
//! version, nothing else; that map is liburing 2.15's; every function the system's
//! liburing exports with the same version; and the SONAME.
mod common;
#[path = "../map.rs"]
mod map;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

/// The defined, exported functions of a shared object: name → version, from
/// `objdump -T` (`… DF .text … VERSION name`).
fn exported_functions(lib: &Path) -> BTreeMap<String, String> {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(lib)
        .output()
        .expect("run objdump");
    assert!(out.status.success(), "objdump -T {}", lib.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" DF ") && !l.contains("*UND*"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (version, name) = (f[f.len() - 2], f[f.len() - 1]);
            (
                name.to_owned(),
                version.trim_matches(|c| c == '(' || c == ')').to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_name_of_the_map_with_its_version_and_nothing_else() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/liburing.map")).unwrap();
    let want: BTreeMap<String, String> = map::parse_map(&text).into_iter().collect();
    assert!(want.len() > 70, "the map lists {} names", want.len());
    let have = exported_functions(&built_library("liburing_ffi.so"));
    assert_eq!(
        have, want,
        "exported functions (left) differ from liburing.map (right)"
    );
}

/// Our `liburing.map` (which the test above holds the library to) names exactly the
/// functions of liburing 2.15's, each at the same version.
#[test]
fn the_map_is_liburing_2_15s() {
    let Some(theirs) = liburing_file(
        "the_map_is_liburing_2_15s",
        "liburing-2.15",
        "src/liburing.map",
    ) else {
        return;
    };
    let ours =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/liburing.map")).unwrap();
    let theirs: BTreeMap<String, String> = map::parse_map(&theirs).into_iter().collect();
    let ours: BTreeMap<String, String> = map::parse_map(&ours).into_iter().collect();
    assert!(
        theirs.len() > 80,
        "liburing 2.15's map lists {} names",
        theirs.len()
    );
    assert_eq!(
        ours, theirs,
        "our liburing.map (left) against liburing 2.15's (right)"
    );
}

#[test]
fn every_function_of_the_system_liburing_with_the_same_version() {
    if !system_liburing("every_function_of_the_system_liburing_with_the_same_version") {
        return;
    }
    let out = Command::new("cc")
        .arg("-print-file-name=liburing.so.2")
        .output()
        .unwrap();
    let system = String::from_utf8(out.stdout).unwrap();
    let theirs = exported_functions(Path::new(system.trim()));
    assert!(
        theirs.len() > 50,
        "{} functions in the system's liburing",
        theirs.len()
    );
    let ours = exported_functions(&built_library("liburing_ffi.so"));
    for (name, version) in &theirs {
        assert_eq!(
            ours.get(name),
            Some(version),
            "{name}: the system's liburing has it at {version}"
        );
    }
}

#[test]
fn soname_is_liburing_so_2() {
    let out = Command::new("objdump")
        .arg("-p")
        .arg(built_library("liburing_ffi.so"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let soname = text
        .lines()
        .find(|l| l.trim_start().starts_with("SONAME"))
        .expect("a SONAME");
    assert_eq!(soname.split_whitespace().nth(1), Some("liburing.so.2"));
}
