//! Golden data under `tests/data/<set>/` (`int4`, `ggml`, `gguf`, `bnb`): paths, raw files,
//! little-endian float32 files and ggml's `cases.json`.

use std::path::PathBuf;

/// `tests/data/<set>/`.
pub fn dir(set: &str) -> PathBuf {
    super::manifest_dir().join("tests").join("data").join(set)
}

/// `tests/data/<set>/<name>`.
pub fn path(set: &str, name: &str) -> PathBuf {
    dir(set).join(name)
}

/// The bytes of `tests/data/<set>/<name>` (panics with the path if it cannot be read).
pub fn read(set: &str, name: &str) -> Vec<u8> {
    let path = path(set, name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of `tests/data/<set>/<name>`.
pub fn read_text(set: &str, name: &str) -> String {
    String::from_utf8(read(set, name)).unwrap_or_else(|_| panic!("{set}/{name} is not UTF-8"))
}

/// Little-endian float32 values.
pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    assert_eq!(bytes.len() % 4, 0, "not whole float32 values");
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The float32 values of `tests/data/<set>/<name>`.
pub fn read_f32(set: &str, name: &str) -> Vec<f32> {
    let bytes = read(set, name);
    assert_eq!(bytes.len() % 4, 0, "{name}: not whole float32 values");
    f32s(&bytes)
}

/// The bit patterns of floats, for bit-for-bit comparisons.
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The cases of `tests/data/ggml/cases.json`: name, element count and the formats ggml wrote for
/// it (those whose block size divides the count):
/// `{"name": {"elements": N, "formats": ["q4_0", ...]}, ...}`.
pub fn ggml_cases() -> Vec<(String, usize, Vec<String>)> {
    let text = read_text("ggml", "cases.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("cases.json parses");
    let obj = json.as_object().expect("cases.json is an object");
    obj.iter()
        .map(|(name, case)| {
            let n = case["elements"].as_u64().expect("elements") as usize;
            let formats = case["formats"]
                .as_array()
                .expect("formats")
                .iter()
                .map(|f| f.as_str().expect("format name").to_string())
                .collect();
            (name.clone(), n, formats)
        })
        .collect()
}
