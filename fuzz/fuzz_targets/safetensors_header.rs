//! quantize-model's safetensors header parser on arbitrary bytes.
//!
//! Checks: it never panics; on success the tensors are in data order, cover the data section
//! exactly (no gap, overlap or trailing byte), each spans the bytes its dtype and shape take, and
//! the header the test-model writer makes from them parses back to the same tensors and metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quantize_model::safetensors_file::{parse, write};

fuzz_target!(|data: &[u8]| {
    let Ok(h) = parse(data) else { return };
    let n = u64::from_le_bytes(data[..8].try_into().unwrap());
    let mut at = 8 + n;
    for t in &h.tensors {
        assert_eq!(
            t.start, at,
            "tensor '{}' starts where the previous ends",
            t.name
        );
        let count: u64 = t.shape.iter().product();
        assert_eq!(
            (t.end - t.start) * 8,
            count * t.dtype.bitsize() as u64,
            "{}",
            t.name
        );
        at = t.end;
    }
    assert_eq!(at, data.len() as u64, "data section covered exactly");

    let dtypes: Vec<String> = h.tensors.iter().map(|t| t.dtype.to_string()).collect();
    let tensors: Vec<(&str, &str, &[u64], &[u8])> = h
        .tensors
        .iter()
        .zip(&dtypes)
        .map(|(t, d)| {
            let bytes = &data[t.start as usize..t.end as usize];
            (t.name.as_str(), d.as_str(), t.shape.as_slice(), bytes)
        })
        .collect();
    let meta: Vec<(&str, &str)> = h
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let again = parse(&write(&tensors, &meta)).expect("the writer's file parses");
    assert_eq!(again.metadata, h.metadata);
    assert_eq!(again.tensors.len(), h.tensors.len());
    for (a, b) in again.tensors.iter().zip(&h.tensors) {
        assert_eq!((&a.name, a.dtype, &a.shape), (&b.name, b.dtype, &b.shape));
        assert_eq!(a.end - a.start, b.end - b.start);
    }
});
