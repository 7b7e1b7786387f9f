//! quantize-model's GGUF header parser on arbitrary bytes.
//!
//! Checks: it never panics; on success the alignment is a power of two, the data section starts
//! aligned after the header, every tensor's bytes lie inside it without overlapping another's,
//! and writing the header back (as version 3) and parsing it again gives the same header bytes,
//! metadata and tensors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quantize_model::gguf::{parse, write_header};

fuzz_target!(|data: &[u8]| {
    let Ok(h) = parse(data) else { return };
    assert!(h.alignment.is_power_of_two());
    assert_eq!(h.data_start % h.alignment, 0);
    let data_len = (data.len() as u64).saturating_sub(h.data_start);
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for t in &h.tensors {
        assert_eq!(t.offset % h.alignment, 0, "{}", t.name);
        assert!(t.offset + t.size <= data_len, "{}", t.name);
        if t.size > 0 {
            spans.push((t.offset, t.offset + t.size));
        }
    }
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap");
    }

    let header = write_header(&h.kv, &h.tensors, h.alignment);
    let mut file = header.clone();
    file.extend_from_slice(&data[h.data_start.min(data.len() as u64) as usize..]);
    let again = parse(&file).expect("the written header parses");
    assert_eq!(
        write_header(&again.kv, &again.tensors, again.alignment),
        header
    );
    assert_eq!(again.tensors, h.tensors);
    assert_eq!(again.data_start, header.len() as u64);
});
