//! include/quantize.h must be exactly what cbindgen generates from the source.
//! To regenerate it: `QUANTIZE_BLESS=1 cargo test --test abi_header`.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    // Only the C layer (and the one core struct it exposes) is parsed, so no other public Rust
    // item can leak into the header.
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .with_src(root.join("src/stats.rs"))
        .generate()
        .expect("cbindgen failed to generate the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");
    let path = root.join("include/quantize.h");
    if std::env::var_os("QUANTIZE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/quantize.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/quantize.h is out of date: run `QUANTIZE_BLESS=1 cargo test --test abi_header` \
         and commit the result"
    );
}
