//! Test support: ggml's golden vectors in `tests/data/ggml` (see its README), for the formats'
//! own unit tests. The integration test `tests/blocks_golden.rs` runs every format through the
//! public API; these let a format's module test its reference functions directly.

use std::path::PathBuf;

/// The bytes of `tests/data/ggml/NAME`.
pub(crate) fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ggml")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The little-endian float32 values of `tests/data/ggml/NAME`.
pub(crate) fn read_f32(name: &str) -> Vec<f32> {
    let bytes = read(name);
    assert_eq!(bytes.len() % 4, 0, "{name}: not whole float32 values");
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The cases of cases.json that list `format`, with their element counts.
pub(crate) fn cases(format: &str) -> Vec<(String, usize)> {
    let text = String::from_utf8(read("cases.json")).expect("cases.json is UTF-8");
    let json: serde_json::Value = serde_json::from_str(&text).expect("cases.json parses");
    json.as_object()
        .expect("cases.json is an object")
        .iter()
        .filter(|(_, c)| {
            c["formats"]
                .as_array()
                .expect("formats")
                .iter()
                .any(|f| f.as_str() == Some(format))
        })
        .map(|(name, c)| {
            let n = c["elements"].as_u64().expect("elements") as usize;
            (name.clone(), n)
        })
        .collect()
}

/// Block `i` of `v` as an array of `N` elements.
pub(crate) fn block_of<T: Copy + Default, const N: usize>(v: &[T], i: usize) -> [T; N] {
    let mut a = [T::default(); N];
    a.copy_from_slice(&v[i * N..][..N]);
    a
}
