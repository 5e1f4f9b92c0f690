//! Gives the shared library its name and symbol versions.
//!
//! Two packages build these sources: `uring-ffi` makes `liburing.so.2` (symbol
//! versions of `liburing.map`), `uring-ffi-inline` makes `liburing-ffi.so.2` (those of
//! `liburing-ffi.map`, with the inline helpers, under `cfg(liburing_ffi)`).
//!
//! Symbol versions: rustc hands the linker its own (anonymous) version script that
//! exports every `#[no_mangle]` name unversioned, and GNU ld keeps the first binding
//! of a name. Our script is still read, so its version *nodes* exist; the binding is
//! made in the object files instead, by a `.symver name, name@@NODE` directive per
//! exported function: this script turns the map into the `symver!` macro
//! (`$OUT_DIR/symver.rs`), which each module invokes with the functions it exports
//! (one source of truth: the map; a name missing from it fails the build).
#[path = "map.rs"]
mod map;

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let package = env::var("CARGO_PKG_NAME").unwrap();
    println!("cargo:rustc-check-cfg=cfg(liburing_ffi)");
    // The directory of uring-ffi, where this script, the maps and the sources live.
    let home = match package.as_str() {
        "uring-ffi" => manifest.clone(),
        "uring-ffi-inline" => manifest.join(".."),
        other => panic!("build.rs of uring-ffi used by an unknown package {other}"),
    };
    let (map, soname) = if package == "uring-ffi" {
        (home.join("liburing.map"), "liburing.so.2")
    } else {
        println!("cargo:rustc-cfg=liburing_ffi");
        (home.join("liburing-ffi.map"), "liburing-ffi.so.2")
    };
    for file in [&map, &home.join("build.rs"), &home.join("map.rs")] {
        println!("cargo:rerun-if-changed={}", display(file));
    }

    let text = fs::read_to_string(&map).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    let mut rules = String::from(
        "/// `symver!(f, g, …)`: binds exported functions to their version in the map.\n\
         /// Invoked in the module that defines them, so the directive lands in the\n\
         /// same object file (codegen unit) as the definition, as `.symver` requires.\n\
         macro_rules! symver {\n    ($($name:ident),* $(,)?) => { $( symver!(@one $name); )* };\n",
    );
    for (symbol, node) in map::parse_map(&text) {
        rules.push_str(&format!(
            "    (@one {symbol}) => {{ #[cfg(not(test))] core::arch::global_asm!(\".symver {symbol}, {symbol}@@{node}\"); }};\n"
        ));
    }
    rules.push_str(
        "    (@one $other:ident) => { compile_error!(concat!(stringify!($other), \" is exported but not in the version map\")); };\n}\n",
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("symver.rs"), rules).unwrap();

    // Only the cdylib gets these: the staticlib and the test harness are not linked
    // as shared objects.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        display(&map)
    );
}

fn display(p: &Path) -> String {
    p.to_str()
        .expect("a UTF-8 path to the version script")
        .to_owned()
}
