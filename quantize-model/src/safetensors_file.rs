//! Safetensors header reader (and a small writer for test models).
//!
//! A safetensors file is a u64 little-endian header length N, N bytes of JSON, then the data
//! section. The JSON maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
//! (offsets relative to the data section) and may hold `"__metadata__"`, a map of strings. The
//! `safetensors` crate supplies the entry schema (its `TensorInfo` and `Dtype`); the checks are
//! ours so that every rejection names the tensor: no duplicate name, a shape whose byte size is
//! what its offsets span, offsets inside the data section, and no overlap, gap or trailing byte
//! (the format's rule that the data section is covered exactly).

use std::collections::HashSet;
use std::fmt;

use safetensors::tensor::TensorInfo as StInfo;
use safetensors::Dtype;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::ggml;

/// Largest header accepted (the `safetensors` crate's limit).
pub const MAX_HEADER: u64 = 100_000_000;

/// One tensor of a safetensors file; `start..end` are absolute file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    pub dtype: Dtype,
    /// Outermost first, as PyTorch and numpy give it.
    pub shape: Vec<u64>,
    pub start: u64,
    pub end: u64,
}

/// A parsed header: the tensors in data order and the `__metadata__` entries sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub tensors: Vec<Tensor>,
    pub metadata: Vec<(String, String)>,
}

/// Why a safetensors file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// The top-level JSON object as (key, raw value) pairs in file order, keeping duplicates so they
/// can be reported (a map type would silently keep the last one).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry::<String, serde_json::Value>()? {
                    v.push(e);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The GGUF type a safetensors dtype is stored as, if GGUF has one.
pub fn ggml_type(dtype: Dtype) -> Option<u32> {
    Some(match dtype {
        Dtype::F32 => ggml::F32,
        Dtype::F16 => ggml::F16,
        Dtype::BF16 => ggml::BF16,
        Dtype::I8 => ggml::I8,
        Dtype::I16 => ggml::I16,
        Dtype::I32 => ggml::I32,
        Dtype::I64 => ggml::I64,
        Dtype::F64 => ggml::F64,
        _ => return None,
    })
}

/// Parses and checks the header of the safetensors file `file` (the whole file).
pub fn parse(file: &[u8]) -> Result<Header, ParseError> {
    let Some(len) = file.get(..8) else {
        return err(format!(
            "truncated: {} bytes, shorter than the 8-byte header length",
            file.len()
        ));
    };
    let n = u64::from_le_bytes(len.try_into().unwrap_or([0; 8]));
    if n > MAX_HEADER {
        return err(format!(
            "header length {n} is larger than the {MAX_HEADER}-byte limit"
        ));
    }
    if n > file.len() as u64 - 8 {
        return err(format!(
            "header length {n} runs past the end of the file ({} bytes)",
            file.len()
        ));
    }
    let json = &file[8..8 + n as usize];
    let entries: Entries = serde_json::from_slice(json)
        .map_err(|e| ParseError(format!("header is not valid JSON: {e}")))?;
    let data_start = 8 + n;
    let data_len = file.len() as u64 - data_start;
    let mut seen = HashSet::new();
    let mut tensors = Vec::new();
    let mut metadata = Vec::new();
    for (key, value) in entries.0 {
        if !seen.insert(key.clone()) {
            return err(format!("'{key}' appears twice in the header"));
        }
        if key == "__metadata__" {
            let m: std::collections::BTreeMap<String, String> = serde_json::from_value(value)
                .map_err(|e| ParseError(format!("__metadata__ is not a map of strings: {e}")))?;
            metadata = m.into_iter().collect();
            continue;
        }
        let info: StInfo = serde_json::from_value(value)
            .map_err(|e| ParseError(format!("tensor '{key}': bad entry: {e}")))?;
        let (b, e) = info.data_offsets;
        let (b, e) = (b as u64, e as u64);
        if e < b || e > data_len {
            return err(format!(
                "tensor '{key}': data_offsets [{b}, {e}] lie outside the data section ({data_len} bytes; file truncated?)"
            ));
        }
        let count = info
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64));
        let bits = count.and_then(|c| c.checked_mul(info.dtype.bitsize() as u64));
        match bits {
            Some(bits) if bits % 8 == 0 && bits / 8 == e - b => {}
            _ => {
                return err(format!(
                "tensor '{key}': shape {:?} of {} does not take the {} bytes its data_offsets span",
                info.shape,
                info.dtype,
                e - b
            ))
            }
        }
        tensors.push(Tensor {
            name: key,
            dtype: info.dtype,
            shape: info.shape.iter().map(|&d| d as u64).collect(),
            start: data_start + b,
            end: data_start + e,
        });
    }
    tensors.sort_by_key(|t| (t.start, t.end));
    let mut at = data_start;
    for (i, t) in tensors.iter().enumerate() {
        if t.start < at {
            return err(format!(
                "tensor '{}': data overlaps tensor '{}'",
                t.name,
                tensors[i - 1].name
            ));
        }
        if t.start > at {
            return err(format!(
                "tensor '{}': {} unused bytes before its data (the data section must have no gaps)",
                t.name,
                t.start - at
            ));
        }
        at = t.end;
    }
    if at != file.len() as u64 {
        return err(format!(
            "{} bytes past the last tensor's data (the data section must have no trailing bytes)",
            file.len() as u64 - at
        ));
    }
    Ok(Header { tensors, metadata })
}

/// A safetensors file with these tensors (name, dtype name such as "F32", shape, little-endian
/// bytes), stored in the given order, and `__metadata__` when not empty. For test models.
pub fn write(tensors: &[(&str, &str, &[u64], &[u8])], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        header.insert("__metadata__".into(), m.into());
    }
    let mut off = 0usize;
    for (name, dtype, shape, data) in tensors {
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [off, off + data.len()]}),
        );
        off += data.len();
    }
    let mut json = serde_json::to_vec(&header).unwrap_or_default();
    // Pad the header with spaces so the data section starts 8-byte aligned, as the reference
    // writer does (readers may then view F32 data in place).
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    for (_, _, _, data) in tensors {
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let a = [0u8; 16];
        let b = [1u8; 6];
        let f = write(
            &[("a", "F32", &[2, 2], &a), ("b", "I16", &[3], &b)],
            &[("format", "pt")],
        );
        let h = parse(&f).unwrap();
        assert_eq!(h.tensors.len(), 2);
        assert_eq!(h.tensors[1].name, "b");
        assert_eq!(h.tensors[1].end, f.len() as u64);
        assert_eq!(h.metadata, vec![("format".to_string(), "pt".to_string())]);
        for cut in 0..f.len() {
            assert!(parse(&f[..cut]).is_err());
        }
        let mut longer = f.clone();
        longer.push(0);
        assert!(parse(&longer).unwrap_err().0.contains("trailing"));
    }
}
