//! Random cases from the PyPI `gguf` package (gguf.quants, 0.19.0; made by
//! scripts/gen_gguf_vectors.py, listed in tests/data/gguf/manifest.txt) against ours:
//! quantization byte for byte (Q4_0, Q4_1, MXFP4), dequantization bit for bit (all four).

mod common;

use common::golden;
use quantize::formats::{dequantize_blocks, quantize_blocks, BlockFormat};

fn read(name: &str) -> Vec<u8> {
    golden::read("gguf", name)
}

fn read_f32(name: &str) -> Vec<f32> {
    golden::read_f32("gguf", name)
}

fn format_named(name: &str) -> BlockFormat {
    BlockFormat::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .expect("known format name")
}

struct Check {
    quantize: bool,
    format: BlockFormat,
    input: String,
    n: usize,
    expected: String,
}

fn manifest() -> Vec<Check> {
    let text = String::from_utf8(read("manifest.txt")).expect("manifest is UTF-8");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "manifest line {l:?}");
            Check {
                quantize: match f[0] {
                    "quantize" => true,
                    "dequantize" => false,
                    other => panic!("unknown check {other:?}"),
                },
                format: format_named(f[1]),
                input: f[2].to_string(),
                n: f[3].parse().expect("element count"),
                expected: f[4].to_string(),
            }
        })
        .collect()
}

#[test]
fn manifest_covers_every_format_both_ways() {
    let checks = manifest();
    for format in BlockFormat::ALL {
        assert!(
            checks.iter().any(|c| !c.quantize && c.format == format),
            "{format:?} deq"
        );
        // gguf 0.19.0 quantizes Q4_0, Q4_1 and MXFP4 only (the golden ggml files cover the rest).
        if matches!(
            format,
            BlockFormat::Q4_0 | BlockFormat::Q4_1 | BlockFormat::Mxfp4
        ) {
            assert!(
                checks.iter().any(|c| c.quantize && c.format == format),
                "{format:?} q"
            );
        }
    }
}

#[test]
fn quantize_equals_gguf_bytes() {
    let mut failures = Vec::new();
    let mut count = 0;
    for c in manifest().into_iter().filter(|c| c.quantize) {
        let x = read_f32(&c.input);
        assert_eq!(x.len(), c.n, "{}", c.input);
        let want = read(&c.expected);
        let mut got = vec![0u8; want.len()];
        if let Err(e) = quantize_blocks(c.format, &x, &mut got) {
            failures.push(format!("{}: error {e:?}", c.expected));
            continue;
        }
        let bb = c.format.bytes();
        let first = (0..c.n / 32).find(|&b| got[b * bb..][..bb] != want[b * bb..][..bb]);
        if let Some(b) = first {
            failures.push(format!(
                "{}: first mismatching block {b}: got {:02x?}, gguf {:02x?}",
                c.expected,
                &got[b * bb..][..bb],
                &want[b * bb..][..bb]
            ));
        }
        count += 1;
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(count >= 3, "quantize checks ran: {count}");
}

#[test]
fn dequantize_equals_gguf_floats() {
    let mut failures = Vec::new();
    let mut count = 0;
    for c in manifest().into_iter().filter(|c| !c.quantize) {
        let blocks = read(&c.input);
        let want = read_f32(&c.expected);
        assert_eq!(want.len(), c.n, "{}", c.expected);
        let mut got = vec![0.0f32; c.n];
        if let Err(e) = dequantize_blocks(c.format, &blocks, &mut got) {
            failures.push(format!("{}: error {e:?}", c.expected));
            continue;
        }
        let first = (0..c.n).find(|&i| got[i].to_bits() != want[i].to_bits());
        if let Some(i) = first {
            failures.push(format!(
                "{}: first mismatch in block {} (element {i}): got {:e} ({:#010x}), gguf {:e} \
                 ({:#010x})",
                c.expected,
                i / 32,
                got[i],
                got[i].to_bits(),
                want[i],
                want[i].to_bits()
            ));
        }
        count += 1;
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(count >= 4, "dequantize checks ran: {count}");
}
