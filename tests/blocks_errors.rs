//! Every status the block functions can return, the order of the checks, and what is (not)
//! written on error (docs/contract.md §3.5, §4.7).

mod common;

use common::sentinel;
use quantize::formats::{
    blocks_len, dequantize_blocks, dequantize_blocks_uninit, quantize_blocks,
    quantize_blocks_uninit, BlockFormat,
};
use quantize::Error;

const SENTINEL: u8 = sentinel::BYTE;

/// 2^e for a normal binary32, from its bits (exact; no libm, which Miri perturbs).
fn pow2(e: i32) -> f32 {
    f32::from_bits(((127 + e) as u32) << 23)
}

/// Every format; under Miri (scripts/miri.sh) not the 256-value ones (Q4_K, IQ4_XS), whose
/// searches take minutes per block there: the length and pointer logic they run is shared with
/// the others, and their data errors are tested natively.
fn formats() -> impl Iterator<Item = BlockFormat> {
    BlockFormat::ALL
        .into_iter()
        .filter(|f| !cfg!(miri) || f.elements() != 256)
}

/// A NaN bit pattern no dequantizer produces: marks floats that must stay untouched.
const SENTINEL_F32: u32 = sentinel::F32_NAN_BITS;

/// n values of a smooth, finite, non-zero signal (amplitude about 3).
fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 3.0 * ((i as f32) * 0.37 + 0.1).sin())
        .collect()
}

fn quantized(format: BlockFormat, x: &[f32]) -> Vec<u8> {
    let mut q = vec![0u8; blocks_len(format, x.len()).unwrap()];
    quantize_blocks(format, x, &mut q).unwrap();
    q
}

/// A valid block's bytes for each format (quantized from the signal).
fn valid_blocks(format: BlockFormat, nblocks: usize) -> Vec<u8> {
    quantized(format, &signal(format.elements() * nblocks))
}

#[test]
fn length_before_buffer_too_small() {
    for format in formats() {
        let e = format.elements();
        for n in [1usize, e - 1, e + 1, 2 * e - 1, 2 * e + 1] {
            let x = signal(n);
            let mut empty: [u8; 0] = [];
            assert_eq!(quantize_blocks(format, &x, &mut empty), Err(Error::Length));
            let mut big = vec![SENTINEL; 1024];
            assert_eq!(quantize_blocks(format, &x, &mut big), Err(Error::Length));
            assert!(big.iter().all(|&b| b == SENTINEL));

            let mut y = vec![f32::from_bits(SENTINEL_F32); n];
            assert_eq!(dequantize_blocks(format, &[], &mut y), Err(Error::Length));
            let src = valid_blocks(format, 4);
            assert_eq!(dequantize_blocks(format, &src, &mut y), Err(Error::Length));
            assert!(y.iter().all(|v| v.to_bits() == SENTINEL_F32));
        }
        assert_eq!(blocks_len(format, e - 1), Err(Error::Length));
    }
}

#[test]
fn buffer_too_small_before_data_errors() {
    for format in formats() {
        let e = format.elements();
        let need = blocks_len(format, 2 * e).unwrap();
        assert_eq!(need, 2 * format.bytes());
        let mut x = signal(2 * e);
        for short in [0, 1, need - 1] {
            let mut dst = vec![SENTINEL; short];
            assert_eq!(
                quantize_blocks(format, &x, &mut dst),
                Err(Error::BufferTooSmall)
            );
            assert!(dst.iter().all(|&b| b == SENTINEL));
        }
        // A bad element does not change the answer: lengths are checked first.
        x[3] = f32::NAN;
        let mut dst = vec![SENTINEL; need - 1];
        assert_eq!(
            quantize_blocks(format, &x, &mut dst),
            Err(Error::BufferTooSmall)
        );

        let mut src = valid_blocks(format, 2);
        poison(format, &mut src[..format.bytes()]);
        for short in [0, 1, need - 1] {
            let mut y = vec![f32::from_bits(SENTINEL_F32); 2 * e];
            assert_eq!(
                dequantize_blocks(format, &src[..short], &mut y),
                Err(Error::BufferTooSmall)
            );
            assert!(y.iter().all(|v| v.to_bits() == SENTINEL_F32));
        }
    }
}

#[test]
fn empty_input_is_ok_and_writes_nothing() {
    for format in formats() {
        assert_eq!(blocks_len(format, 0), Ok(0));
        let mut dst = [SENTINEL; 8];
        assert_eq!(quantize_blocks(format, &[], &mut dst), Ok(()));
        assert_eq!(quantize_blocks(format, &[], &mut []), Ok(()));
        assert!(dst.iter().all(|&b| b == SENTINEL));
        assert_eq!(dequantize_blocks(format, &[], &mut []), Ok(()));
        assert_eq!(dequantize_blocks(format, &[0xff; 20], &mut []), Ok(()));
    }
}

#[test]
fn blocks_len_sizes_and_overflow() {
    for format in formats() {
        assert_eq!(
            blocks_len(format, format.elements() * 5),
            Ok(5 * format.bytes())
        );
        assert_eq!(blocks_len(format, usize::MAX), Err(Error::InvalidArgument));
        // Too large comes before not-a-multiple.
        assert_eq!(
            blocks_len(format, usize::MAX - 5),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            blocks_len(format, isize::MAX as usize / 4 + 1),
            Err(Error::InvalidArgument)
        );
    }
}

/// Quantizes 4 blocks whose block 2 holds `bad`; checks the error, that blocks 0 and 1 hold what
/// quantizing them alone gives, and that block 2, block 3 and the bytes past the end are
/// untouched.
fn check_quantize_error(format: BlockFormat, block2: &[f32], want: Error) {
    let e = format.elements();
    let mut x = signal(4 * e);
    x[2 * e..3 * e].copy_from_slice(block2);
    let bb = format.bytes();
    let mut dst = vec![SENTINEL; 4 * bb + 7];
    assert_eq!(
        quantize_blocks(format, &x, &mut dst),
        Err(want),
        "{format:?}"
    );
    assert_eq!(
        dst[..2 * bb],
        quantized(format, &x[..2 * e])[..],
        "{format:?}: blocks before"
    );
    assert!(
        dst[2 * bb..].iter().all(|&b| b == SENTINEL),
        "{format:?}: bad block and after"
    );
}

#[test]
fn non_finite_input() {
    for format in formats() {
        let e = format.elements();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN] {
            for at in [0, 17, e - 1] {
                let mut b = vec![1.0f32; e];
                b[at] = bad;
                check_quantize_error(format, &b, Error::NonFinite);
            }
        }
        // Within a block a non-finite element wins over an unrepresentable scale, wherever it is.
        let mut b = vec![1.0e30f32; e];
        b[e - 1] = f32::NAN;
        check_quantize_error(format, &b, Error::NonFinite);
        b[e - 1] = -1.0e30;
        b[0] = f32::INFINITY;
        check_quantize_error(format, &b, Error::NonFinite);
    }
}

/// A block whose largest magnitude is `max` (first element) and otherwise small values.
fn block_with_max(max: f32) -> [f32; 32] {
    let mut b = [0.0f32; 32];
    for (i, v) in b.iter_mut().enumerate() {
        *v = (i as f32 - 16.0) * 0.25;
    }
    b[0] = max;
    b
}

fn quantize_one(format: BlockFormat, b: &[f32; 32]) -> Result<Vec<u8>, Error> {
    let mut q = vec![0u8; format.bytes()];
    quantize_blocks(format, b, &mut q).map(|()| q)
}

#[test]
fn q4_0_scale_overflow() {
    // d = max / -8 is stored as fp16: 65504 is the largest finite, 65520 rounds to infinity.
    for max in [65520.0f32 * 8.0, -65520.0 * 8.0, 1.0e6, -3.0e38] {
        check_quantize_error(
            BlockFormat::Q4_0,
            &block_with_max(max),
            Error::ValueOutOfRange,
        );
    }
    for (max, d) in [
        (65504.0f32 * 8.0, 0xfbffu16),
        (-524_159.0, 0x7bff),
        (-8.0, 0x3c00),
    ] {
        let q = quantize_one(BlockFormat::Q4_0, &block_with_max(max)).unwrap();
        assert_eq!(u16::from_le_bytes([q[0], q[1]]), d, "max {max}");
    }
}

#[test]
fn q4_1_scale_or_minimum_overflow() {
    // The minimum itself is stored as fp16.
    let mut b = block_with_max(0.0);
    b[5] = -65520.0;
    check_quantize_error(BlockFormat::Q4_1, &b, Error::ValueOutOfRange);
    // (max - min) / 15 >= 65520 with a representable minimum.
    let mut b = [0.0f32; 32];
    b[9] = 65520.0 * 15.0;
    check_quantize_error(BlockFormat::Q4_1, &b, Error::ValueOutOfRange);
    // max - min overflowing float32 (each alone finite).
    let mut b = [0.0f32; 32];
    b[1] = 3.0e38;
    b[2] = -3.0e38;
    check_quantize_error(BlockFormat::Q4_1, &b, Error::ValueOutOfRange);
    // The largest representable: m = -65504 and d = 65504 (max - min = 15 * 65504).
    let mut b = [0.0f32; 32];
    b[0] = -65504.0;
    b[1] = 65504.0 * 14.0;
    let q = quantize_one(BlockFormat::Q4_1, &b).unwrap();
    assert_eq!(u16::from_le_bytes([q[0], q[1]]), 0x7bff);
    assert_eq!(u16::from_le_bytes([q[2], q[3]]), 0xfbff);
}

#[test]
fn iq4_nl_scale_overflow() {
    // The scale is about max / 113 .. max / 127: far beyond fp16 for max = 1e7.
    let b: [f32; 32] = core::array::from_fn(|i| 1.0e7 * ((i as f32) * 0.37 + 0.1).sin());
    check_quantize_error(BlockFormat::Iq4Nl, &b, Error::ValueOutOfRange);
    let b: [f32; 32] = core::array::from_fn(|i| 1.0e5 * ((i as f32) * 0.37 + 0.1).sin());
    assert!(quantize_one(BlockFormat::Iq4Nl, &b).is_ok());
}

#[test]
fn mxfp4_extremes_have_a_scale() {
    let b = [f32::MAX; 32];
    let q = quantize_one(BlockFormat::Mxfp4, &b).unwrap();
    // log2f(FLT_MAX) rounds to 128.0: e = 128 - 2 + 127; d = 2^125; 6 * 2^125 is the nearest
    // finite candidate (8 * 2^125 and 12 * 2^125 overflow): code 5 everywhere.
    assert_eq!(q[0], 253);
    assert!(q[1..].iter().all(|&c| c == 0x55));
    let b = [-f32::MAX; 32];
    let q = quantize_one(BlockFormat::Mxfp4, &b).unwrap();
    assert_eq!(q[0], 253);
    assert!(q[1..].iter().all(|&c| c == 0xdd)); // -6: code 13
}

#[test]
fn mxfp4_tiny_block_gets_scale_byte_zero() {
    // 0 < max|x| < 2^-125: scale byte 0 (d = 2^-128), codes from the nearest-value search over
    // k * 2^-128 for the doubled E2M1 values k = 0, 1, 2, 3, 4, 6, 8, 12, -0, -1, ... -12.
    let u = f32::from_bits(0x0020_0000); // 2^-128 = 2^21 * 2^-149 (subnormal)
                                         // (value in units of 2^-128, expected code)
    let cases: [(f32, u8); 16] = [
        (0.0, 0),
        (1.0, 1),
        (2.0, 2),
        (3.0, 3),
        (4.0, 4),
        (6.0, 5),
        (-1.0, 9),
        (-2.0, 10),
        (-3.0, 11),
        (-4.0, 12),
        (-6.0, 13),
        (5.0, 4),   // tie between 4 and 6: the first entry (4)
        (7.0, 5),   // tie between 6 and 8: the first entry (6)
        (7.5, 6),   // nearer to 8
        (-7.5, 14), // nearer to -8
        (0.25, 0),  // nearer to 0
    ];
    let mut b = [0.0f32; 32];
    for (j, &(k, _)) in cases.iter().enumerate() {
        b[j] = k * u;
        b[j + 16] = -k * u;
    }
    let amax = b.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    assert!(amax > 0.0 && amax < pow2(-125));
    let q = quantize_one(BlockFormat::Mxfp4, &b).unwrap();
    assert_eq!(q[0], 0, "scale byte");
    let neg = |c: u8| if c == 0 { 0 } else { c ^ 8 }; // the same magnitude, other sign
    for (j, &(_, code)) in cases.iter().enumerate() {
        assert_eq!(q[1 + j] & 0x0f, code, "element {j}");
        assert_eq!(q[1 + j] >> 4, neg(code), "element {}", j + 16);
    }
    // And they dequantize to k * 2^-128 exactly.
    let mut y = [0.0f32; 32];
    dequantize_blocks(BlockFormat::Mxfp4, &q, &mut y).unwrap();
    assert_eq!(y[3], 3.0 * u);
    assert_eq!(y[13], 8.0 * u); // 7.5 went to 8
    assert_eq!(y[16 + 13], -8.0 * u);
    // max|x| exactly 2^-125 and just above: floor(log2) = -125 gives e = 0, then -124 gives 1.
    let q = quantize_one(BlockFormat::Mxfp4, &[pow2(-125); 32]).unwrap();
    assert_eq!(q[0], 0);
    let q = quantize_one(BlockFormat::Mxfp4, &[pow2(-124); 32]).unwrap();
    assert_eq!(q[0], 1);
    // A lone f32 subnormal, the smallest: e = 0, and it is nearer to 0 than to 2^-128.
    let mut b = [0.0f32; 32];
    b[0] = f32::from_bits(1);
    assert_eq!(quantize_one(BlockFormat::Mxfp4, &b).unwrap(), vec![0u8; 17]);
}

#[test]
fn q4_tiny_blocks_follow_x86_ggml() {
    // With max|x| < 2^-125, 1/d overflows to infinity in ggml's Q4_0 and Q4_1 reference code,
    // and the float-to-int8 cast of an infinite or NaN value is undefined in C. ggml built for
    // x86-64 (GCC 12, -O0 to -O3, with or without -march=native; checked on a hand-made block)
    // stores code 0 for every element there; the fp16 scale is 0 (Q4_1: the minimum is too).
    let b: [f32; 32] =
        core::array::from_fn(|j| ((j % 3) as f32 - 1.0) * 1.0e-39 * (j + 1) as f32 / 32.0);
    // max is element 30, negative: d = max / -8 = +1.2e-40, fp16 +0.
    let q = quantize_one(BlockFormat::Q4_0, &b).unwrap();
    assert_eq!(q, vec![0u8; 18]);
    // d = (max - min) / 15: fp16 +0; m = min, negative: fp16 -0.
    let q = quantize_one(BlockFormat::Q4_1, &b).unwrap();
    assert_eq!(q[..4], [0x00, 0x00, 0x00, 0x80]);
    assert!(q[4..].iter().all(|&c| c == 0));
}

/// Makes a block's stored fields non-finite (scale inf for the fp16 formats, 0xFF for MXFP4).
/// (NVFP4 accepts every byte: its blocks stay as they are.)
fn poison(format: BlockFormat, block: &mut [u8]) {
    match format {
        BlockFormat::Mxfp4 => block[0] = 0xff,
        BlockFormat::Nvfp4 => {}
        _ => block[..2].copy_from_slice(&0x7c00u16.to_le_bytes()),
    }
}

/// Dequantizes 4 blocks whose block 2 is `bad`; checks the error, that blocks 0 and 1 were
/// written as dequantizing them alone gives, and that blocks 2 and 3 are untouched.
fn check_dequantize_error(format: BlockFormat, bad: &[u8]) {
    let bb = format.bytes();
    let mut src = valid_blocks(format, 4);
    src[2 * bb..3 * bb].copy_from_slice(bad);
    let e = format.elements();
    let mut y = vec![f32::from_bits(SENTINEL_F32); 4 * e];
    assert_eq!(
        dequantize_blocks(format, &src, &mut y),
        Err(Error::NonFinite),
        "{format:?}"
    );
    let mut first = vec![0.0f32; 2 * e];
    dequantize_blocks(format, &src[..2 * bb], &mut first).unwrap();
    assert!(y[..2 * e]
        .iter()
        .zip(&first)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(
        y[2 * e..].iter().all(|v| v.to_bits() == SENTINEL_F32),
        "{format:?}: after"
    );
}

#[test]
fn non_finite_stored_fields() {
    for format in [BlockFormat::Q4_0, BlockFormat::Iq4Nl, BlockFormat::Q4_1] {
        let good = valid_blocks(format, 1);
        for bits in [0x7c00u16, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7fff] {
            let mut bad = good.clone();
            bad[..2].copy_from_slice(&bits.to_le_bytes());
            check_dequantize_error(format, &bad);
            if format == BlockFormat::Q4_1 {
                // The minimum too.
                let mut bad = good.clone();
                bad[2..4].copy_from_slice(&bits.to_le_bytes());
                check_dequantize_error(format, &bad);
            }
        }
    }
    let mut bad = valid_blocks(BlockFormat::Mxfp4, 1);
    bad[0] = 0xff;
    check_dequantize_error(BlockFormat::Mxfp4, &bad);
}

#[test]
fn extreme_but_valid_stored_fields() {
    // E8M0 0xFE and 0xFD are accepted; the largest codes then overflow to +-inf (the formula's
    // float32 value), the smaller ones stay finite.
    let mut b = [0u8; 17];
    b[0] = 0xfe;
    b[1] = 0x70; // element 0: code 0 -> 0, element 16: code 7 -> 12 * 2^126 = inf
    b[2] = 0xf4; // element 1: code 4 -> 4 * 2^126 = 2^128 = inf; element 17: code 15 -> -inf
    b[3] = 0x03; // element 2: 3 * 2^126
    let mut y = [0.0f32; 32];
    dequantize_blocks(BlockFormat::Mxfp4, &b, &mut y).unwrap();
    assert_eq!(y[0], 0.0);
    assert_eq!(y[16], f32::INFINITY);
    assert_eq!(y[1], f32::INFINITY);
    assert_eq!(y[17], f32::NEG_INFINITY);
    assert_eq!(y[2], 3.0 * pow2(126));
    // fp16 65504 and -65504 scale, subnormal scale, negative scale: all fine.
    for d in [0x7bffu16, 0xfbff, 0x0001, 0x8001, 0xbc00] {
        let mut b = [0x0fu8; 18];
        b[..2].copy_from_slice(&d.to_le_bytes());
        let mut y = [0.0f32; 32];
        dequantize_blocks(BlockFormat::Q4_0, &b, &mut y).unwrap();
        dequantize_blocks(BlockFormat::Iq4Nl, &b, &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn bytes_past_n_are_never_touched() {
    for format in formats() {
        let n = 3 * format.elements();
        let x = signal(n);
        let need = blocks_len(format, n).unwrap();
        let mut dst = vec![SENTINEL; need + 33];
        quantize_blocks(format, &x, &mut dst).unwrap();
        assert_eq!(dst[..need], quantized(format, &x)[..]);
        assert!(dst[need..].iter().all(|&b| b == SENTINEL));

        // Dequantize: extra input bytes (even a bad block) are ignored.
        let mut src = dst[..need].to_vec();
        let mut extra = valid_blocks(format, 1);
        poison(format, &mut extra);
        src.extend_from_slice(&extra);
        let mut y = vec![0.0f32; n];
        assert_eq!(dequantize_blocks(format, &src, &mut y), Ok(()));
    }
}

#[test]
fn uninit_variants_initialise_exactly_the_needed_prefix() {
    use core::mem::MaybeUninit;
    for format in formats() {
        let n = 2 * format.elements();
        let x = signal(n);
        let need = blocks_len(format, n).unwrap();
        let mut dst = vec![MaybeUninit::<u8>::uninit(); need];
        quantize_blocks_uninit(format, &x, &mut dst).unwrap();
        // SAFETY: the call succeeded, so all `need` bytes were written.
        let bytes: Vec<u8> = dst.iter().map(|b| unsafe { b.assume_init() }).collect();
        assert_eq!(bytes, quantized(format, &x));

        let mut y = vec![MaybeUninit::<f32>::uninit(); n];
        dequantize_blocks_uninit(format, &bytes, &mut y).unwrap();
        // SAFETY: the call succeeded, so all n values were written.
        let got: Vec<f32> = y.iter().map(|v| unsafe { v.assume_init() }).collect();
        let mut want = vec![0.0f32; n];
        dequantize_blocks(format, &bytes, &mut want).unwrap();
        assert_eq!(got, want);
    }
}
