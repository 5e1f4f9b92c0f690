//! Compiles the liburing anchor (`csrc/nop_liburing.c`) and links the system liburing.

fn main() {
    println!("cargo:rerun-if-changed=csrc/nop_liburing.c");
    cc::Build::new()
        .file("csrc/nop_liburing.c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .compile("nop_liburing");
    println!("cargo:rustc-link-lib=uring");
}
