//! Gives the shared library its name and symbol versions.
//!
//! Two packages build these sources: `uring-ffi` makes `liburing.so.2` (symbol
//! versions of `liburing.map`), `uring-ffi-inline` makes `liburing-ffi.so.2` (those of
//! `liburing-ffi.map`, with the inline helpers, under `cfg(liburing_ffi)`).
//!
//! Symbol versions: rustc hands the linker its own (anonymous) version script that
//! exports every `#[no_mangle]` name unversioned, and GNU ld keeps the first binding
//! of a name. Our script is still read, so its version *nodes* exist; the binding is
//! made in the object files instead, by a `.symver thunk, name@@NODE` directive per
//! exported function, on a small assembly thunk that jumps to the Rust function (a
//! `.symver` must sit in the object that defines the symbol, which codegen units and
//! LTO do not promise for a Rust function). This script turns the map into the
//! `symver!` macro (`$OUT_DIR/symver.rs`), which each module invokes with the
//! functions it exports (one source of truth: the map; a name missing from it fails
//! the build).
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
    // Where the thunks below can be written, the exported names are versioned; on
    // other architectures the functions are exported plainly (`#[no_mangle]`).
    let jump = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => Some("jmp"),
        Ok("aarch64") => Some("b"),
        _ => None,
    };
    println!("cargo:rustc-check-cfg=cfg(versioned_symbols)");
    if jump.is_some() {
        println!("cargo:rustc-cfg=versioned_symbols");
    }
    let mut rules = String::from(
        "/// `symver!(f, g, …)`: exports functions under their name and version in the map.\n\
         /// For each, a thunk written in assembly jumps to the Rust function and carries\n\
         /// the C name through `.symver name@@NODE`. Being in the same object as the\n\
         /// directive, it works whatever codegen units and LTO do with the Rust code.\n\
         macro_rules! symver {\n    ($($name:ident),* $(,)?) => { $( symver!(@one $name); )* };\n",
    );
    for (symbol, node) in map::parse_map(&text) {
        let thunk = format!("{symbol}__uring_ffi_v");
        let asm = match jump {
            Some(jump) => format!(
                "#[cfg(all(versioned_symbols, not(test)))] core::arch::global_asm!(\
                 \".pushsection .text.{thunk},\\\"ax\\\",%progbits\", \
                 \".globl {thunk}\", \".type {thunk},%function\", \"{thunk}:\", \
                 \"{jump} {{f}}\", \".size {thunk}, .-{thunk}\", \".popsection\", \
                 \".symver {thunk}, {symbol}@@{node}\", f = sym {symbol});"
            ),
            None => String::new(),
        };
        rules.push_str(&format!("    (@one {symbol}) => {{ {asm} }};\n"));
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
