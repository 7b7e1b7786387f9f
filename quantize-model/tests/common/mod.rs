//! Helpers of the integration tests: running the binary, scratch folders, and an independent
//! widening of F16/BF16 (not the program's).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quantize_model::gguf::{self, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_quantize-model");

/// A fresh empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("quantize-model")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run quantize-model")
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Names in a folder, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs the tool expecting failure: exit code non-zero, exactly one line on stderr containing
/// every needle, nothing on stdout, and `dir` holding exactly what it held before (no output,
/// no temporary file).
pub fn expect_failure(dir: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = listing(dir);
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {args:?}");
    assert_ne!(out.status.code(), Some(101), "panicked: {err}");
    assert!(out.status.code().is_some(), "killed by a signal: {err}");
    assert_eq!(err.matches('\n').count(), 1, "not one line: {err:?}");
    assert!(err.ends_with('\n'));
    for n in needles {
        assert!(err.contains(n), "stderr {err:?} lacks {n:?}");
    }
    assert!(
        out.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        listing(dir),
        before,
        "folder changed by a failed run: {args:?}"
    );
    err
}

/// binary16 to f32 by the definition (significand times a power of two, in f64), a different
/// path from the program's bit manipulation.
pub fn half(h: u16) -> f32 {
    let s = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let e = i32::from((h >> 10) & 0x1f);
    let m = f64::from(h & 0x3ff);
    let v = match e {
        0 => m * 2f64.powi(-24),
        31 if m == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1024.0 + m) * 2f64.powi(e - 25),
    };
    (s * v) as f32
}

/// bfloat16 to f32: the top half of the f32's bits.
pub fn bfloat(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// Little-endian F32/F16/BF16 bytes (by GGUF type id) as f32.
pub fn floats(ggml_type: u32, b: &[u8]) -> Vec<f32> {
    match ggml_type {
        0 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        1 => b
            .chunks_exact(2)
            .map(|c| half(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        30 => b
            .chunks_exact(2)
            .map(|c| bfloat(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        t => panic!("not a float type {t}"),
    }
}

/// A parsed output file and its bytes.
pub struct Gguf {
    pub bytes: Vec<u8>,
    pub h: gguf::Header,
}

impl Gguf {
    pub fn read(path: &Path) -> Gguf {
        let bytes = std::fs::read(path).unwrap();
        let h = gguf::parse(&bytes).unwrap();
        Gguf { bytes, h }
    }
    pub fn data(&self, name: &str) -> &[u8] {
        let t = self.h.tensors.iter().find(|t| t.name == name).unwrap();
        let s = (self.h.data_start + t.offset) as usize;
        &self.bytes[s..s + t.size as usize]
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.h.kv.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// GGUF tensor type and llama.cpp file type per format, written out from llama.cpp's tables
/// (not taken from the program).
pub fn expected_types(name: &str) -> (u32, u32) {
    match name {
        "q4_0" => (2, 2),
        "q4_1" => (3, 3),
        "q4_k" => (12, 14),
        "iq4_nl" => (20, 25),
        "iq4_xs" => (23, 30),
        "mxfp4" => (39, 38),
        "nvfp4" => (40, 39),
        n => panic!("unknown format {n}"),
    }
}

/// A safetensors file from (name, dtype, shape, bytes) with the JSON header padded by `pad`
/// spaces (so the data section can start at any alignment).
pub fn safetensors(tensors: &[(&str, &str, &[u64], &[u8])], pad: usize) -> Vec<u8> {
    let mut json = String::from("{");
    let mut off = 0;
    for (i, (n, d, s, b)) in tensors.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json += &format!(
            "\"{n}\":{{\"dtype\":\"{d}\",\"shape\":{s:?},\"data_offsets\":[{off},{}]}}",
            off + b.len()
        );
        off += b.len();
    }
    json.push('}');
    json += &" ".repeat(pad);
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    for (_, _, _, b) in tensors {
        out.extend_from_slice(b);
    }
    out
}
