//! Build script: gives the shared library (cdylib) an ELF SONAME of `libquantize.so.<MAJOR>`,
//! so programs linked against it keep loading any later compatible release (`make install`
//! installs `libquantize.so.<VERSION>` with the symlinks `libquantize.so.<MAJOR>` and
//! `libquantize.so`). Nothing else: the crate itself needs no build-time code generation.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let family = env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let vendor = env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    // SONAME is an ELF concept; Apple (install names) and Windows (DLL names) work differently.
    let elf = family.split(',').any(|f| f == "unix") && vendor != "apple" && os != "aix";
    if elf {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".to_string());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libquantize.so.{major}");
    }
}
