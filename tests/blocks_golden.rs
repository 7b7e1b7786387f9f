//! ggml's own output (tests/data/ggml, made by ggml's C code: see its README.md) against ours:
//! quantization byte for byte, dequantization bit for bit, every case, every format.

mod common;

use common::golden;
use quantize::formats::{blocks_len, dequantize_blocks, quantize_blocks, BlockFormat};
use quantize::Error;

fn read(name: &str) -> Vec<u8> {
    golden::read("ggml", name)
}

fn read_f32(name: &str) -> Vec<f32> {
    golden::read_f32("ggml", name)
}

fn cases() -> Vec<(String, usize, Vec<String>)> {
    golden::ggml_cases()
}

/// The formats of this library that ggml wrote for a case.
fn formats_of(listed: &[String]) -> Vec<BlockFormat> {
    BlockFormat::ALL
        .into_iter()
        .filter(|f| listed.iter().any(|l| l == f.name()))
        .collect()
}

#[test]
fn cases_json_lists_the_expected_cases() {
    let names: Vec<String> = cases().into_iter().map(|(n, _, _)| n).collect();
    for must in [
        "normal",
        "special_blocks",
        "ties",
        "sign_ties",
        "subnormal_scale",
        "superblock_special",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} missing from {names:?}"
        );
    }
    assert_eq!(names.len(), 13);
}

#[test]
fn quantize_equals_ggml_bytes() {
    let mut failures = Vec::new();
    for (case, n, listed) in cases() {
        let x = read_f32(&format!("{case}.f32"));
        assert_eq!(x.len(), n, "{case}: element count");
        for format in formats_of(&listed) {
            let want = read(&format!("{case}.{}", format.name()));
            assert_eq!(
                want.len(),
                blocks_len(format, n).unwrap(),
                "{case} {format:?}"
            );
            let mut got = vec![0u8; want.len()];
            let (e, bb) = (format.elements(), format.bytes());
            if format == BlockFormat::Nvfp4 {
                // ggml clips a sub-block whose amax / 6 exceeds 448 (|x| > 2688); we return
                // ValueOutOfRange for exactly those blocks: check them one by one, and take
                // ggml's bytes for them so the comparison below covers the others.
                let mut clipped = 0;
                for (b, xb) in x.chunks(e).enumerate() {
                    let beyond = xb.iter().any(|v| v.abs() > 2688.0);
                    let r = quantize_blocks(format, xb, &mut got[b * bb..][..bb]);
                    if beyond {
                        clipped += 1;
                        if r != Err(Error::ValueOutOfRange) {
                            failures.push(format!("{case} nvfp4 block {b}: {r:?}, want clipped"));
                        }
                        got[b * bb..][..bb].copy_from_slice(&want[b * bb..][..bb]);
                    } else if let Err(err) = r {
                        failures.push(format!("{case} nvfp4 block {b}: error {err:?}"));
                    }
                }
                if ["normal_large", "special_blocks", "superblock_special"].contains(&case.as_str())
                {
                    assert!(clipped > 0, "{case}: the case has clipped NVFP4 blocks");
                }
            } else if let Err(e) = quantize_blocks(format, &x, &mut got) {
                failures.push(format!("{case} {}: error {e:?}", format.name()));
                continue;
            }
            let bad: Vec<usize> = (0..n / format.elements())
                .filter(|&b| got[b * bb..][..bb] != want[b * bb..][..bb])
                .collect();
            if let Some(&b) = bad.first() {
                failures.push(format!(
                    "{case} {}: {} of {} blocks differ, first block {b}: got {:02x?}, ggml {:02x?}",
                    format.name(),
                    bad.len(),
                    n / format.elements(),
                    &got[b * bb..][..bb],
                    &want[b * bb..][..bb],
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn dequantize_equals_ggml_floats() {
    let mut failures = Vec::new();
    for (case, n, listed) in cases() {
        for format in formats_of(&listed) {
            let blocks = read(&format!("{case}.{}", format.name()));
            let want = read_f32(&format!("{case}.{}.deq.f32", format.name()));
            assert_eq!(want.len(), n, "{case} {format:?}");
            let mut got = vec![0.0f32; n];
            if let Err(e) = dequantize_blocks(format, &blocks, &mut got) {
                failures.push(format!("{case} {}: error {e:?}", format.name()));
                continue;
            }
            let first = (0..n).find(|&i| got[i].to_bits() != want[i].to_bits());
            if let Some(i) = first {
                failures.push(format!(
                    "{case} {}: first mismatch in block {} (element {i}): got {:e} ({:#010x}), \
                     ggml {:e} ({:#010x})",
                    format.name(),
                    i / format.elements(),
                    got[i],
                    got[i].to_bits(),
                    want[i],
                    want[i].to_bits(),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
