//! GGUF (versions 2 and 3, little-endian) header reader and writer.
//!
//! Layout: magic "GGUF", version u32, tensor count u64, metadata count u64; the metadata
//! key/value pairs; the tensor infos (name, dims innermost first, ggml type, offset relative to
//! the data section); padding to `general.alignment` (default 32); the data section. Strings are
//! a u64 length and bytes. The reader takes the whole file and checks every tensor's byte range
//! against it, so a header that parses describes data that is really there.

use std::fmt;

use crate::ggml;

pub const MAGIC: &[u8; 4] = b"GGUF";
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's GGML_MAX_DIMS.
pub const MAX_DIMS: usize = 4;
/// Arrays nested deeper than this are rejected (no real file comes near; it bounds recursion).
const MAX_DEPTH: usize = 16;

/// A metadata value. Floats are kept as read, strings as raw bytes and bools as the stored
/// byte, so copying a value writes back exactly the bytes that were read.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(u8),
    Str(Vec<u8>),
    /// Element type and elements (all of that type).
    Array(u32, Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

pub const T_U32: u32 = 4;
pub const T_STRING: u32 = 8;

impl Value {
    /// The GGUF value type id.
    pub fn type_id(&self) -> u32 {
        match self {
            Value::U8(_) => 0,
            Value::I8(_) => 1,
            Value::U16(_) => 2,
            Value::I16(_) => 3,
            Value::U32(_) => 4,
            Value::I32(_) => 5,
            Value::F32(_) => 6,
            Value::Bool(_) => 7,
            Value::Str(_) => 8,
            Value::Array(..) => 9,
            Value::U64(_) => 10,
            Value::I64(_) => 11,
            Value::F64(_) => 12,
        }
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.as_bytes().to_vec())
    }
}

/// One tensor info. `offset` is relative to the data section.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions, innermost first (ne[0] is the row length).
    pub ne: Vec<u64>,
    pub ggml_type: u32,
    pub offset: u64,
    /// Byte size implied by the type and dims.
    pub size: u64,
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub kv: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// File offset of the data section.
    pub data_start: u64,
}

/// Why a GGUF file was rejected: a message, naming the tensor or key where there is one.
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

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], ParseError> {
        let left = self.b.len() - self.pos;
        if n > left as u64 {
            return err(format!(
                "truncated header: {what} at byte {} needs {n} bytes, {left} left",
                self.pos
            ));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ParseError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, ParseError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    fn bytes(&mut self, what: &str) -> Result<&'a [u8], ParseError> {
        let n = self.u64(what)?;
        self.take(n, what)
    }
    fn left(&self) -> u64 {
        (self.b.len() - self.pos) as u64
    }
}

/// Fixed size of one value of a scalar type, None for string and array.
fn scalar_size(t: u32) -> Option<u64> {
    Some(match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

fn read_value(c: &mut Cursor, t: u32, key: &str, depth: usize) -> Result<Value, ParseError> {
    Ok(match t {
        0 => Value::U8(c.arr::<1>(key)?[0]),
        1 => Value::I8(i8::from_le_bytes(c.arr(key)?)),
        2 => Value::U16(u16::from_le_bytes(c.arr(key)?)),
        3 => Value::I16(i16::from_le_bytes(c.arr(key)?)),
        4 => Value::U32(c.u32(key)?),
        5 => Value::I32(i32::from_le_bytes(c.arr(key)?)),
        6 => Value::F32(f32::from_le_bytes(c.arr(key)?)),
        7 => Value::Bool(c.arr::<1>(key)?[0]),
        8 => Value::Str(c.bytes(key)?.to_vec()),
        9 => {
            if depth >= MAX_DEPTH {
                return err(format!("metadata key '{key}': arrays nested too deep"));
            }
            let et = c.u32(key)?;
            let n = c.u64(key)?;
            // Every element takes at least this many bytes: a count the file cannot hold is
            // rejected before anything is allocated for it.
            let min = match et {
                8 => 8,
                9 => 12,
                _ => scalar_size(et).ok_or_else(|| {
                    ParseError(format!(
                        "metadata key '{key}': unknown array element type {et}"
                    ))
                })?,
            };
            if n > c.left() / min {
                return err(format!(
                    "truncated header: metadata key '{key}': array of {n} elements past the end of the file"
                ));
            }
            let mut v = Vec::with_capacity(n as usize);
            for _ in 0..n {
                v.push(read_value(c, et, key, depth + 1)?);
            }
            Value::Array(et, v)
        }
        10 => Value::U64(c.u64(key)?),
        11 => Value::I64(i64::from_le_bytes(c.arr(key)?)),
        12 => Value::F64(f64::from_le_bytes(c.arr(key)?)),
        _ => return err(format!("metadata key '{key}': unknown value type {t}")),
    })
}

/// The largest `general.alignment` accepted (1 MiB): real files use 32 or 64, and the output
/// writer pads with that many bytes, so a huge value would only cost memory (found by fuzzing).
pub const MAX_ALIGNMENT: u32 = 1 << 20;

/// Parses and checks the header of the GGUF file `file` (the whole file): magic, version 2 or 3,
/// no duplicate key or tensor name, `general.alignment` a u32 power of two of at most
/// [`MAX_ALIGNMENT`], every tensor of a
/// known type with 1 to 4 dims whose row is a whole number of blocks, its offset aligned and its
/// bytes inside the data section without overlapping another tensor's.
pub fn parse(file: &[u8]) -> Result<Header, ParseError> {
    let mut c = Cursor { b: file, pos: 0 };
    let magic = c
        .arr::<4>("magic")
        .map_err(|_| ParseError("not a GGUF file (shorter than its magic)".into()))?;
    if &magic != MAGIC {
        return err("not a GGUF file (no GGUF magic)");
    }
    let version = c.u32("version")?;
    match version {
        2 | 3 => {}
        1 => return err("GGUF version 1 is not supported (versions 2 and 3 are)"),
        v if v.swap_bytes() == 2 || v.swap_bytes() == 3 => {
            return err("big-endian GGUF files are not supported")
        }
        v => return err(format!("unsupported GGUF version {v}")),
    }
    let n_tensors = c.u64("tensor count")?;
    let n_kv = c.u64("metadata count")?;
    // A key/value pair takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8.
    if n_kv > c.left() / 13 {
        return err(format!(
            "truncated header: {n_kv} metadata entries cannot fit in the file"
        ));
    }
    if n_tensors > c.left() / 32 {
        return err(format!(
            "truncated header: {n_tensors} tensor infos cannot fit in the file"
        ));
    }
    let mut kv: Vec<(String, Value)> = Vec::with_capacity(n_kv as usize);
    let mut keys = std::collections::HashSet::new();
    for i in 0..n_kv {
        let raw = c.bytes("metadata key")?;
        let key = std::str::from_utf8(raw)
            .map_err(|_| ParseError(format!("metadata key {i} is not UTF-8")))?
            .to_string();
        if !keys.insert(key.clone()) {
            return err(format!("metadata key '{key}' appears twice"));
        }
        let t = c.u32(&key)?;
        let v = read_value(&mut c, t, &key, 0)?;
        kv.push((key, v));
    }
    let alignment = match kv.iter().find(|(k, _)| k == "general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some((_, Value::U32(a))) if a.is_power_of_two() && *a <= MAX_ALIGNMENT => u64::from(*a),
        Some(_) => {
            return err(format!(
                "general.alignment is not a u32 power of two of at most {MAX_ALIGNMENT}"
            ))
        }
    };
    let mut tensors: Vec<TensorInfo> = Vec::with_capacity(n_tensors as usize);
    let mut names = std::collections::HashSet::new();
    for i in 0..n_tensors {
        let raw = c.bytes("tensor name")?;
        let name = std::str::from_utf8(raw)
            .map_err(|_| ParseError(format!("tensor {i}: name is not UTF-8")))?
            .to_string();
        if !names.insert(name.clone()) {
            return err(format!("tensor '{name}' appears twice"));
        }
        let what = format!("tensor '{name}'");
        let n_dims = c.u32(&what)?;
        if n_dims == 0 || n_dims as usize > MAX_DIMS {
            return err(format!(
                "{what}: {n_dims} dimensions (1 to {MAX_DIMS} allowed)"
            ));
        }
        let mut ne = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            ne.push(c.u64(&what)?);
        }
        let ggml_type = c.u32(&what)?;
        let offset = c.u64(&what)?;
        let t = ggml::by_id(ggml_type)
            .ok_or_else(|| ParseError(format!("{what}: unknown ggml type {ggml_type}")))?;
        let size = ggml::tensor_bytes(t, &ne).ok_or_else(|| {
            ParseError(format!(
                "{what}: shape {ne:?} is not a whole number of {} blocks of {} or too large",
                t.name, t.block
            ))
        })?;
        if offset % alignment != 0 {
            return err(format!(
                "{what}: offset {offset} is not a multiple of the alignment {alignment}"
            ));
        }
        tensors.push(TensorInfo {
            name,
            ne,
            ggml_type,
            offset,
            size,
        });
    }
    let header_end = c.pos as u64;
    let data_start = header_end.next_multiple_of(alignment);
    let file_len = file.len() as u64;
    if data_start > file_len && !tensors.is_empty() {
        return err("truncated file: the data section starts past the end of the file");
    }
    let data_len = file_len.saturating_sub(data_start);
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| (tensors[i].offset, tensors[i].size));
    let mut prev: Option<usize> = None;
    for &i in &order {
        let t = &tensors[i];
        let end = t.offset.checked_add(t.size).filter(|&e| e <= data_len);
        let Some(end) = end else {
            return err(format!(
                "tensor '{}': data [{}, +{}) lies past the end of the data section ({data_len} bytes; file truncated?)",
                t.name, t.offset, t.size
            ));
        };
        if let Some(p) = prev {
            let pt = &tensors[p];
            if t.offset < pt.offset + pt.size && t.size > 0 {
                return err(format!(
                    "tensor '{}': data overlaps tensor '{}'",
                    t.name, pt.name
                ));
            }
        }
        if t.size > 0 {
            prev = Some(i);
        }
        let _ = end;
    }
    Ok(Header {
        version,
        kv,
        tensors,
        alignment,
        data_start,
    })
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
        Value::Bool(x) => out.push(*x),
        Value::Str(s) => put_str(out, s),
        Value::Array(et, items) => {
            out.extend_from_slice(&et.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for it in items {
                put_value(out, it);
            }
        }
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
    }
}

/// Gives each tensor the next `alignment`-aligned offset after the previous one's data (in
/// order), and returns the data section's length (its last tensor padded too).
pub fn layout(tensors: &mut [TensorInfo], alignment: u64) -> u64 {
    let mut off = 0u64;
    for t in tensors {
        t.offset = off;
        off = (off + t.size).next_multiple_of(alignment);
    }
    off
}

/// A version 3 header: everything before the data section, padded to `alignment`.
pub fn write_header(kv: &[(String, Value)], tensors: &[TensorInfo], alignment: u64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(kv.len() as u64).to_le_bytes());
    for (k, v) in kv {
        put_str(&mut out, k.as_bytes());
        out.extend_from_slice(&v.type_id().to_le_bytes());
        put_value(&mut out, v);
    }
    for t in tensors {
        put_str(&mut out, t.name.as_bytes());
        out.extend_from_slice(&(t.ne.len() as u32).to_le_bytes());
        for d in &t.ne {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&t.ggml_type.to_le_bytes());
        out.extend_from_slice(&t.offset.to_le_bytes());
    }
    out.resize((out.len() as u64).next_multiple_of(alignment) as usize, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<(String, Value)>, Vec<TensorInfo>) {
        let kv = vec![
            ("general.architecture".to_string(), Value::str("llama")),
            ("a.u8".to_string(), Value::U8(7)),
            ("a.f32".to_string(), Value::F32(f32::from_bits(0x7fc0_1234))),
            ("a.bool".to_string(), Value::Bool(1)),
            (
                "a.nested".to_string(),
                Value::Array(
                    9,
                    vec![
                        Value::Array(8, vec![Value::str("x")]),
                        Value::Array(4, vec![]),
                    ],
                ),
            ),
            ("a.f64".to_string(), Value::F64(-0.5)),
            ("a.i64".to_string(), Value::I64(-3)),
        ];
        let mut tensors = vec![
            TensorInfo {
                name: "w".into(),
                ne: vec![64, 2],
                ggml_type: 2,
                offset: 0,
                size: 72,
            },
            TensorInfo {
                name: "b".into(),
                ne: vec![3],
                ggml_type: 0,
                offset: 0,
                size: 12,
            },
        ];
        layout(&mut tensors, DEFAULT_ALIGNMENT);
        (kv, tensors)
    }

    #[test]
    fn round_trip() {
        let (kv, tensors) = sample();
        let mut file = write_header(&kv, &tensors, 32);
        let start = file.len() as u64;
        file.resize(file.len() + 96 + 12, 0xAB);
        let h = parse(&file).unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(h.kv.len(), kv.len());
        for (a, b) in h.kv.iter().zip(&kv) {
            assert_eq!(a.0, b.0);
            let (mut x, mut y) = (Vec::new(), Vec::new());
            put_value(&mut x, &a.1);
            put_value(&mut y, &b.1);
            assert_eq!(x, y, "{}", a.0);
        }
        assert_eq!(h.tensors, tensors);
        assert_eq!(h.data_start, start);
        assert_eq!(tensors[1].offset, 96);
    }

    #[test]
    fn rejects() {
        let (kv, tensors) = sample();
        let mut file = write_header(&kv, &tensors, 32);
        file.resize(file.len() + 96 + 12, 0);
        for cut in 0..file.len() - 1 {
            assert!(parse(&file[..cut]).is_err(), "cut at {cut}");
        }
        // Version 2 has the same layout: accepted.
        let mut v2 = file.clone();
        v2[4] = 2;
        assert_eq!(parse(&v2).unwrap().version, 2);
        let mut bad = file.clone();
        bad[4] = 1;
        assert!(parse(&bad).unwrap_err().0.contains("version 1"));
        let mut t2 = tensors.clone();
        t2[1].offset = 64;
        let mut f2 = write_header(&kv, &t2, 32);
        f2.resize(f2.len() + 200, 0);
        assert!(parse(&f2).unwrap_err().0.contains("overlaps"));
    }

    /// A header whose only key is `general.alignment` = `a` (u32), and no tensors.
    fn with_alignment(a: u32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(b"GGUF");
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes()); // tensors
        f.extend_from_slice(&1u64.to_le_bytes()); // keys
        let key = b"general.alignment";
        f.extend_from_slice(&(key.len() as u64).to_le_bytes());
        f.extend_from_slice(key);
        f.extend_from_slice(&4u32.to_le_bytes()); // UINT32
        f.extend_from_slice(&a.to_le_bytes());
        f.resize(f.len().next_multiple_of(64), 0);
        f
    }

    #[test]
    fn alignment_must_be_a_small_power_of_two() {
        assert_eq!(parse(&with_alignment(64)).map(|h| h.alignment), Ok(64));
        assert_eq!(
            parse(&with_alignment(MAX_ALIGNMENT)).map(|h| h.alignment),
            Ok(u64::from(MAX_ALIGNMENT))
        );
        for bad in [0, 48, MAX_ALIGNMENT * 2, 1 << 30] {
            let e = parse(&with_alignment(bad)).map(|h| h.alignment);
            assert!(e.is_err(), "alignment {bad} accepted");
        }
    }
}
