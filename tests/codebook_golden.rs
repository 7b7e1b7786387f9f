//! NF4 / FP4 codebooks against golden vectors from onnxruntime's port of bitsandbytes'
//! quantizer (tests/data/bnb, made by scripts/gen_bnb_vectors.py).

mod common;

use common::golden::{bits, f32s};
use std::collections::BTreeSet;
use std::mem::MaybeUninit;

use quantize::codebook::{
    dequantize_codebook, dequantize_codebook_uninit, quantize_codebook, quantize_codebook_uninit,
    Codebook,
};

fn read(name: &str) -> Vec<u8> {
    common::golden::read("bnb", name)
}

struct Vector {
    case: String,
    codebook: Codebook,
    block_size: usize,
    input: Vec<f32>,
    codes: Vec<u8>,
    absmax: Vec<f32>,
    deq: Vec<f32>,
}

fn vectors() -> Vec<Vector> {
    let manifest = String::from_utf8(read("manifest.txt")).expect("utf-8 manifest");
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 4, "manifest line {line:?}");
        let codebook = match f[1] {
            "nf4" => Codebook::Nf4,
            "fp4" => Codebook::Fp4,
            other => panic!("unknown codebook {other}"),
        };
        let block_size: usize = f[2].parse().expect("block size");
        let n: usize = f[3].parse().expect("n");
        let input = f32s(&read(&format!("{}.f32", f[0])));
        assert_eq!(input.len(), n, "{line}");
        // sizes computed here, independently of the library's helpers
        let ncodes = n.div_ceil(2);
        let nblocks = n.div_ceil(block_size);
        let bin = read(&format!("{}.{}.bs{}.bin", f[0], f[1], f[2]));
        assert_eq!(bin.len(), ncodes + 4 * nblocks + 4 * n, "{line}");
        let (codes, rest) = bin.split_at(ncodes);
        let (absmax, deq) = rest.split_at(4 * nblocks);
        out.push(Vector {
            case: f[0].to_string(),
            codebook,
            block_size,
            input,
            codes: codes.to_vec(),
            absmax: f32s(absmax),
            deq: f32s(deq),
        });
    }
    out
}

#[test]
fn the_vectors_cover_what_they_should() {
    let v = vectors();
    for cb in Codebook::ALL {
        let sizes: BTreeSet<usize> = v
            .iter()
            .filter(|x| x.codebook == cb)
            .map(|x| x.block_size)
            .collect();
        let want: BTreeSet<usize> = (5..=12).map(|k| 1usize << k).collect();
        assert_eq!(sizes, want, "{cb:?}: every block size 32..4096");
        let sel = || v.iter().filter(move |x| x.codebook == cb);
        assert!(sel().any(|x| x.input.len() % 2 == 1), "odd n");
        assert!(
            sel().any(|x| x.input.len() % x.block_size != 0),
            "partial block"
        );
        assert!(
            sel().any(|x| x.input.len() < x.block_size),
            "n below one block"
        );
        assert!(sel().any(|x| x.absmax.contains(&0.0)), "zero blocks");
        assert!(
            sel().any(|x| x.absmax.iter().any(|&a| a > 0.0 && a < 1e-38)),
            "subnormal absmax"
        );
        assert!(sel().any(|x| x.case == "ties"), "threshold ties");
        assert!(sel().any(|x| x.case == "reciprocal"), "x * (1/a) vs x / a");
    }
}

#[test]
fn quantize_matches_golden_codes_and_absmax() {
    for v in vectors() {
        let what = format!("{} {:?} bs{}", v.case, v.codebook, v.block_size);
        let mut codes = vec![0xA5u8; v.codes.len()];
        let mut absmax = vec![f32::NAN; v.absmax.len()];
        quantize_codebook(v.codebook, &v.input, v.block_size, &mut codes, &mut absmax)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        if codes != v.codes {
            let i = codes
                .iter()
                .zip(&v.codes)
                .position(|(a, b)| a != b)
                .unwrap();
            panic!(
                "{what}: byte {i} is {:#04x}, golden {:#04x} (inputs {:?})",
                codes[i],
                v.codes[i],
                &v.input[2 * i..(2 * i + 2).min(v.input.len())]
            );
        }
        assert_eq!(bits(&absmax), bits(&v.absmax), "{what}: absmax");
    }
}

#[test]
fn quantize_leaves_bytes_past_n_alone() {
    for v in vectors() {
        let mut codes = vec![0xA5u8; v.codes.len() + 7];
        let mut absmax = vec![-3.25f32; v.absmax.len() + 3];
        quantize_codebook(v.codebook, &v.input, v.block_size, &mut codes, &mut absmax).unwrap();
        assert_eq!(&codes[..v.codes.len()], &v.codes[..]);
        assert!(codes[v.codes.len()..].iter().all(|&b| b == 0xA5));
        assert_eq!(bits(&absmax[..v.absmax.len()]), bits(&v.absmax));
        assert!(absmax[v.absmax.len()..].iter().all(|&a| a == -3.25));
    }
}

#[test]
fn quantize_uninit_matches_golden() {
    for v in vectors() {
        let mut codes = vec![MaybeUninit::<u8>::uninit(); v.codes.len()];
        let mut absmax = vec![MaybeUninit::<f32>::uninit(); v.absmax.len()];
        quantize_codebook_uninit(v.codebook, &v.input, v.block_size, &mut codes, &mut absmax)
            .unwrap();
        // SAFETY: on success every element of both exactly sized buffers was written.
        let codes: Vec<u8> = codes.iter().map(|c| unsafe { c.assume_init() }).collect();
        let absmax: Vec<f32> = absmax.iter().map(|a| unsafe { a.assume_init() }).collect();
        assert_eq!(codes, v.codes);
        assert_eq!(bits(&absmax), bits(&v.absmax));
    }
}

#[test]
fn dequantize_matches_the_formula_bit_for_bit() {
    for v in vectors() {
        let what = format!("{} {:?} bs{}", v.case, v.codebook, v.block_size);
        let mut dst = vec![f32::NAN; v.input.len()];
        dequantize_codebook(v.codebook, &v.codes, v.block_size, &v.absmax, &mut dst)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (got, want) = (bits(&dst), bits(&v.deq));
        if got != want {
            let i = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            panic!("{what}: element {i} is {:e}, golden {:e}", dst[i], v.deq[i]);
        }

        let mut dst = vec![MaybeUninit::<f32>::uninit(); v.input.len()];
        dequantize_codebook_uninit(v.codebook, &v.codes, v.block_size, &v.absmax, &mut dst)
            .unwrap();
        // SAFETY: on success every element of dst was written.
        let dst: Vec<f32> = dst.iter().map(|y| unsafe { y.assume_init() }).collect();
        assert_eq!(bits(&dst), want, "{what}: uninit");
    }
}

#[test]
fn tables_equal_bitsandbytes_literals() {
    let t = f32s(&read("tables.f32"));
    assert_eq!(t.len(), 32);
    assert_eq!(bits(Codebook::Nf4.values()), bits(&t[..16]));
    assert_eq!(bits(Codebook::Fp4.values()), bits(&t[16..]));
}

#[test]
fn fp4_normal_values_are_e2m1_over_six() {
    // From ml_dtypes.float4_e2m1fn: NaN where bitsandbytes' FP4 code has no E2M1 counterpart.
    let rel = f32s(&read("fp4_e2m1.f32"));
    let fp4 = Codebook::Fp4.values();
    let mut without = Vec::new();
    for c in 0..16 {
        if rel[c].is_nan() {
            without.push(c);
        } else {
            assert_eq!(fp4[c].to_bits(), rel[c].to_bits(), "code {c}");
        }
    }
    // only the subnormal codes (+-1/192; E2M1's subnormal would be 1/12) differ
    assert_eq!(without, vec![1, 9]);
}
