//! NF4 / FP4 codebooks: parameters, lengths, statuses, check order and what is (not) written.

mod common;

use common::golden::bits;
use common::sentinel;
use std::mem::MaybeUninit;

use quantize::codebook::{
    absmax_len, check_block_size, codes_len, dequantize_codebook, dequantize_codebook_uninit,
    quantize_codebook, quantize_codebook_uninit, Codebook, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE,
};
use quantize::Error;

const CODE_SENTINEL: u8 = sentinel::BYTE;
const F32_SENTINEL: f32 = sentinel::F32;
const LIMIT: f32 = 8.507_059e37; // 2^126

/// Deterministic test data (xorshift), values in about [-scale, scale].
fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
            (2.0 * u - 1.0) * scale
        })
        .collect()
}

fn quantize(cb: Codebook, src: &[f32], bs: usize) -> (Vec<u8>, Vec<f32>) {
    let mut codes = vec![CODE_SENTINEL; src.len().div_ceil(2)];
    let mut absmax = vec![F32_SENTINEL; src.len().div_ceil(bs)];
    quantize_codebook(cb, src, bs, &mut codes, &mut absmax).expect("valid input");
    (codes, absmax)
}

#[test]
fn codebook_enum() {
    assert_eq!(Codebook::ALL, [Codebook::Nf4, Codebook::Fp4]);
    assert_eq!(Codebook::from_raw(0), Some(Codebook::Nf4));
    assert_eq!(Codebook::from_raw(1), Some(Codebook::Fp4));
    for v in [2, 3, 255, u32::MAX] {
        assert_eq!(Codebook::from_raw(v), None);
    }
    for cb in Codebook::ALL {
        assert_eq!(Codebook::from_raw(cb.as_raw()), Some(cb));
        assert_eq!(cb as u32, cb.as_raw());
    }
    assert_eq!(Codebook::Nf4.name(), "nf4");
    assert_eq!(Codebook::Fp4.name(), "fp4");
    // the shapes of the tables: NF4 ascending from -1 to 1 with an exact 0 at 7; FP4 a sign
    // bit over eight magnitudes
    let nf4 = Codebook::Nf4.values();
    assert!(nf4.windows(2).all(|w| w[0] < w[1]));
    assert_eq!((nf4[0], nf4[7], nf4[15]), (-1.0, 0.0, 1.0));
    let fp4 = Codebook::Fp4.values();
    for c in 0..8 {
        assert_eq!((-fp4[c]).to_bits(), fp4[c + 8].to_bits());
    }
}

#[test]
fn block_sizes() {
    let accepted: Vec<usize> = (0..=2 * MAX_BLOCK_SIZE + 1)
        .filter(|&b| check_block_size(b).is_ok())
        .collect();
    assert_eq!(accepted, vec![32, 64, 128, 256, 512, 1024, 2048, 4096]);
    assert_eq!((MIN_BLOCK_SIZE, MAX_BLOCK_SIZE), (32, 4096));
    for b in [
        0,
        1,
        16,
        31,
        33,
        48,
        96,
        8192,
        1 << 20,
        usize::MAX,
        usize::MAX / 2 + 1,
    ] {
        assert_eq!(check_block_size(b), Err(Error::InvalidArgument), "{b}");
    }
}

#[test]
fn length_helpers() {
    for (n, c) in [(0, 0), (1, 1), (2, 1), (3, 2), (64, 32), (65, 33)] {
        assert_eq!(codes_len(n), c);
    }
    assert_eq!(codes_len(usize::MAX), usize::MAX / 2 + 1);
    for (n, bs, a) in [
        (0, 32, 0),
        (1, 32, 1),
        (32, 32, 1),
        (33, 32, 2),
        (4096, 4096, 1),
        (4097, 4096, 2),
        (100, 0, 0),
    ] {
        assert_eq!(absmax_len(n, bs), a, "{n} {bs}");
    }
    assert_eq!(absmax_len(usize::MAX, 32), usize::MAX / 32 + 1);
    assert_eq!(absmax_len(usize::MAX, 1), usize::MAX);
}

#[test]
fn empty_input_is_ok_and_writes_nothing() {
    for cb in Codebook::ALL {
        let mut codes = [CODE_SENTINEL; 4];
        let mut absmax = [F32_SENTINEL; 2];
        assert_eq!(
            quantize_codebook(cb, &[], 64, &mut codes, &mut absmax),
            Ok(())
        );
        assert_eq!(quantize_codebook(cb, &[], 64, &mut [], &mut []), Ok(()));
        assert_eq!(codes, [CODE_SENTINEL; 4]);
        assert_eq!(absmax, [F32_SENTINEL; 2]);
        let mut dst: [f32; 0] = [];
        assert_eq!(dequantize_codebook(cb, &[], 64, &[], &mut dst), Ok(()));
        // NaN absmax is never looked at when n is 0
        assert_eq!(
            dequantize_codebook(cb, &[1], 64, &[f32::NAN], &mut dst),
            Ok(())
        );
    }
}

#[test]
fn invalid_block_size_comes_before_lengths_and_writes_nothing() {
    let src = data(100, 1, 1.0);
    for cb in Codebook::ALL {
        for bs in [0, 16, 48, 8192] {
            let mut codes = [CODE_SENTINEL; 2];
            let mut absmax = [F32_SENTINEL; 1];
            // buffers far too small, and a NaN: the block size still wins
            let mut bad = src.clone();
            bad[0] = f32::NAN;
            assert_eq!(
                quantize_codebook(cb, &bad, bs, &mut codes, &mut absmax),
                Err(Error::InvalidArgument)
            );
            assert_eq!(codes, [CODE_SENTINEL; 2]);
            assert_eq!(absmax, [F32_SENTINEL; 1]);
            let mut dst = [F32_SENTINEL; 3];
            assert_eq!(
                dequantize_codebook(cb, &[], bs, &[f32::NAN], &mut dst),
                Err(Error::InvalidArgument)
            );
            assert_eq!(dst, [F32_SENTINEL; 3]);
            // even with n == 0
            assert_eq!(
                quantize_codebook(cb, &[], bs, &mut [], &mut []),
                Err(Error::InvalidArgument)
            );
            assert_eq!(
                dequantize_codebook(cb, &[], bs, &[], &mut []),
                Err(Error::InvalidArgument)
            );
        }
    }
}

#[test]
fn buffers_too_small_come_before_data_and_write_nothing() {
    for cb in Codebook::ALL {
        for (n, bs) in [(1, 32), (64, 32), (65, 32), (100, 64), (4097, 4096)] {
            let mut src = data(n, 2, 1.0);
            src[n - 1] = f32::NAN; // data errors come later
            let (nc, na) = (n.div_ceil(2), n.div_ceil(bs));
            for (lc, la) in [(nc - 1, na), (nc, na - 1), (0, 0), (nc - 1, na - 1)] {
                let mut codes = vec![CODE_SENTINEL; lc];
                let mut absmax = vec![F32_SENTINEL; la];
                assert_eq!(
                    quantize_codebook(cb, &src, bs, &mut codes, &mut absmax),
                    Err(Error::BufferTooSmall),
                    "n {n} bs {bs} codes {lc} absmax {la}"
                );
                assert!(codes.iter().all(|&b| b == CODE_SENTINEL));
                assert!(absmax.iter().all(|&a| a == F32_SENTINEL));

                // dequantize: short inputs, with a NaN scale that must not be reached
                let codes_in = vec![0x37u8; lc];
                let mut absmax_in = vec![1.0f32; la];
                if let Some(a) = absmax_in.first_mut() {
                    *a = f32::NAN;
                }
                let mut dst = vec![F32_SENTINEL; n];
                assert_eq!(
                    dequantize_codebook(cb, &codes_in, bs, &absmax_in, &mut dst),
                    Err(Error::BufferTooSmall)
                );
                assert!(dst.iter().all(|&y| y == F32_SENTINEL));
            }
        }
    }
}

/// For every bad value at every position class: blocks before the bad one are written exactly
/// as a clean run writes them, the bad block and all later ones are untouched.
#[test]
fn bad_data_stops_at_its_block() {
    let bs = 64;
    let n = 5 * bs + 7;
    let clean = data(n, 3, 4.0);
    let above = f32::from_bits(LIMIT.to_bits() + 1);
    let cases = [
        (f32::NAN, Error::NonFinite),
        (-f32::NAN, Error::NonFinite),
        (f32::INFINITY, Error::NonFinite),
        (f32::NEG_INFINITY, Error::NonFinite),
        (above, Error::ValueOutOfRange),
        (-above, Error::ValueOutOfRange),
        (f32::MAX, Error::ValueOutOfRange),
        (-1e38, Error::ValueOutOfRange),
    ];
    for cb in Codebook::ALL {
        let (ref_codes, ref_absmax) = quantize(cb, &clean, bs);
        for &(bad, err) in &cases {
            for pos in [0, 1, bs - 1, bs, 2 * bs + 33, 3 * bs + 2, n - 1] {
                let mut src = clean.clone();
                src[pos] = bad;
                let mut codes = vec![CODE_SENTINEL; n.div_ceil(2) + 3];
                let mut absmax = vec![F32_SENTINEL; n.div_ceil(bs) + 1];
                assert_eq!(
                    quantize_codebook(cb, &src, bs, &mut codes, &mut absmax),
                    Err(err),
                    "{cb:?} {bad} at {pos}"
                );
                let b = pos / bs;
                assert_eq!(&codes[..b * bs / 2], &ref_codes[..b * bs / 2]);
                assert!(codes[b * bs / 2..].iter().all(|&c| c == CODE_SENTINEL));
                assert_eq!(bits(&absmax[..b]), bits(&ref_absmax[..b]));
                assert!(absmax[b..].iter().all(|&a| a == F32_SENTINEL));
            }
        }
    }
}

#[test]
fn within_a_block_non_finite_beats_out_of_range_and_the_first_block_wins() {
    let bs = 32;
    let above = f32::from_bits(LIMIT.to_bits() + 1);
    for cb in Codebook::ALL {
        let mut codes = vec![0u8; 64];
        let mut absmax = vec![0f32; 4];
        // huge first, NaN later in the same block
        let mut src = vec![1.0f32; 3 * bs];
        src[3] = above;
        src[30] = f32::NAN;
        assert_eq!(
            quantize_codebook(cb, &src, bs, &mut codes, &mut absmax),
            Err(Error::NonFinite)
        );
        // huge in block 0, NaN in block 1
        let mut src = vec![1.0f32; 3 * bs];
        src[31] = -above;
        src[32] = f32::NAN;
        assert_eq!(
            quantize_codebook(cb, &src, bs, &mut codes, &mut absmax),
            Err(Error::ValueOutOfRange)
        );
        // NaN in block 0, huge in block 1
        let mut src = vec![1.0f32; 3 * bs];
        src[31] = f32::INFINITY;
        src[32] = above;
        assert_eq!(
            quantize_codebook(cb, &src, bs, &mut codes, &mut absmax),
            Err(Error::NonFinite)
        );
    }
}

#[test]
fn the_range_limit_is_inclusive() {
    for cb in Codebook::ALL {
        let src = [LIMIT, -LIMIT, 0.5 * LIMIT, -0.25 * LIMIT, 0.0, 1.0];
        let (codes, absmax) = quantize(cb, &src, 32);
        assert_eq!(absmax, vec![LIMIT]);
        let mut dst = [0f32; 6];
        dequantize_codebook(cb, &codes, 32, &absmax, &mut dst).unwrap();
        assert!(dst.iter().all(|y| y.is_finite()));
        assert_eq!((dst[0], dst[1]), (LIMIT, -LIMIT));
    }
}

#[test]
fn dequantize_rejects_non_finite_scales_block_by_block() {
    let bs = 32;
    let n = 4 * bs + 5;
    let src = data(n, 4, 2.0);
    for cb in Codebook::ALL {
        let (codes, absmax) = quantize(cb, &src, bs);
        let mut reference = vec![0f32; n];
        dequantize_codebook(cb, &codes, bs, &absmax, &mut reference).unwrap();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for b in 0..absmax.len() {
                let mut scales = absmax.clone();
                scales[b] = bad;
                let mut dst = vec![F32_SENTINEL; n + 4];
                assert_eq!(
                    dequantize_codebook(cb, &codes, bs, &scales, &mut dst[..n]),
                    Err(Error::NonFinite)
                );
                assert_eq!(bits(&dst[..b * bs]), bits(&reference[..b * bs]));
                assert!(dst[b * bs..].iter().all(|&y| y == F32_SENTINEL));
            }
        }
        // a bad scale past the blocks n needs is never read
        let mut scales = absmax.clone();
        scales.push(f32::NAN);
        let mut dst = vec![0f32; n];
        dequantize_codebook(cb, &codes, bs, &scales, &mut dst).unwrap();
        assert_eq!(bits(&dst), bits(&reference));
    }
}

#[test]
fn dequantize_accepts_any_finite_scale() {
    for cb in Codebook::ALL {
        let t = cb.values();
        // byte i holds codes 2i (high) and 2i+1 (low): all 16 codes in order
        let codes: Vec<u8> = (0..8u8).map(|i| (2 * i) << 4 | (2 * i + 1)).collect();
        for a in [
            1.0f32,
            -1.0,
            3.7,
            -3.7,
            0.0,
            -0.0,
            1e-42,
            -f32::MAX,
            f32::MAX,
        ] {
            let mut dst = [0f32; 16];
            dequantize_codebook(cb, &codes, 32, &[a], &mut dst).unwrap();
            for c in 0..16 {
                assert_eq!(
                    dst[c].to_bits(),
                    (t[c] * a).to_bits(),
                    "{cb:?} code {c} absmax {a}"
                );
            }
            // a negative scale is the exact negation (IEEE multiply is sign-symmetric)
            let mut neg = [0f32; 16];
            dequantize_codebook(cb, &codes, 32, &[-a], &mut neg).unwrap();
            for c in 0..16 {
                assert_eq!(neg[c].to_bits(), (-dst[c]).to_bits());
            }
        }
    }
}

#[test]
fn nibble_order_and_padding() {
    for cb in Codebook::ALL {
        let t = cb.values();
        // the first element is the high nibble
        let mut dst = [0f32; 2];
        dequantize_codebook(cb, &[0x3C], 32, &[1.0], &mut dst).unwrap();
        assert_eq!(bits(&dst), bits(&[t[3], t[12]]));
        // the padding nibble of an odd n is ignored
        for pad in 0..16u8 {
            let mut dst = [F32_SENTINEL; 4];
            dequantize_codebook(cb, &[0xF0, 0x50 | pad], 32, &[2.0], &mut dst[..3]).unwrap();
            assert_eq!(
                bits(&dst[..3]),
                bits(&[t[15] * 2.0, t[0] * 2.0, t[5] * 2.0])
            );
            assert_eq!(dst[3], F32_SENTINEL);
        }
        // quantizing an odd n pads with the code of 0.0 (NF4 7, FP4 0), like bitsandbytes
        let zero_code = t.iter().position(|&v| v.to_bits() == 0).unwrap() as u8;
        assert_eq!(zero_code, if cb == Codebook::Nf4 { 7 } else { 0 });
        let (codes, _) = quantize(cb, &[1.0, -1.0, 1.0], 32);
        assert_eq!(codes[1] & 0x0F, zero_code);
    }
}

#[test]
fn zero_blocks_encode_zero_and_decode_to_zero() {
    for cb in Codebook::ALL {
        for bs in [32, 4096] {
            for n in [1, 2, bs - 1, bs, bs + 3] {
                let mut src = vec![0.0f32; n];
                for x in src.iter_mut().skip(1).step_by(3) {
                    *x = -0.0;
                }
                let (codes, absmax) = quantize(cb, &src, bs);
                assert!(absmax.iter().all(|a| a.to_bits() == 0), "absmax +0.0");
                let z = if cb == Codebook::Nf4 { 0x77 } else { 0x00 };
                assert!(codes.iter().all(|&c| c == z), "{cb:?} {n}: {codes:02x?}");
                let mut dst = vec![F32_SENTINEL; n];
                dequantize_codebook(cb, &codes, bs, &absmax, &mut dst).unwrap();
                assert!(dst.iter().all(|y| y.to_bits() == 0), "+0.0");
            }
        }
    }
}

#[test]
fn absmax_is_the_block_maximum_magnitude_for_every_block_size() {
    for cb in Codebook::ALL {
        for k in 5..=12 {
            let bs = 1usize << k;
            let n = 3 * bs + 17;
            let mut src = data(n, k as u64, 1.0);
            // distinct block maxima, one of them negative
            for b in 0..4 {
                let i = b * bs + (b * 7) % (n - b * bs).min(bs);
                src[i] = if b == 2 { -10.0 } else { 2.0 + b as f32 };
            }
            let (codes, absmax) = quantize(cb, &src, bs);
            assert_eq!(absmax, vec![2.0, 3.0, 10.0, 5.0], "{cb:?} bs {bs}");
            // every element comes back within half the largest gap of its block's table
            let t = cb.values();
            let mut sorted = *t;
            sorted.sort_by(f32::total_cmp);
            let half_gap = sorted.windows(2).map(|w| w[1] - w[0]).fold(0.0, f32::max) / 2.0;
            let mut dst = vec![0f32; n];
            dequantize_codebook(cb, &codes, bs, &absmax, &mut dst).unwrap();
            for i in 0..n {
                let a = absmax[i / bs];
                assert!((src[i] - dst[i]).abs() <= half_gap * a * 1.000_001, "{i}");
            }
            // the element holding the maximum comes back exactly (code ±1)
            assert_eq!(dst[2 * bs + (14 % bs)], -10.0);
        }
    }
}

#[test]
fn blocks_are_independent() {
    let bs = 128;
    let src = data(5 * bs + 9, 5, 3.0);
    for cb in Codebook::ALL {
        let (codes, absmax) = quantize(cb, &src, bs);
        for (b, block) in src.chunks(bs).enumerate() {
            let (c, a) = quantize(cb, block, bs);
            assert_eq!(&codes[b * bs / 2..b * bs / 2 + c.len()], &c[..]);
            assert_eq!(absmax[b].to_bits(), a[0].to_bits());
        }
    }
}

#[test]
fn uninit_variants_equal_the_safe_ones() {
    let bs = 256;
    let src = data(3 * bs + 1, 6, 1.0);
    for cb in Codebook::ALL {
        let (codes, absmax) = quantize(cb, &src, bs);
        let mut c = vec![MaybeUninit::<u8>::uninit(); codes.len() + 2];
        let mut a = vec![MaybeUninit::<f32>::uninit(); absmax.len()];
        quantize_codebook_uninit(cb, &src, bs, &mut c, &mut a).unwrap();
        for i in 0..codes.len() {
            // SAFETY: the first codes_len(n) bytes are written on success.
            assert_eq!(unsafe { c[i].assume_init() }, codes[i]);
        }
        for i in 0..absmax.len() {
            // SAFETY: every absmax the blocks need is written on success.
            assert_eq!(unsafe { a[i].assume_init() }.to_bits(), absmax[i].to_bits());
        }
        let mut want = vec![0f32; src.len()];
        dequantize_codebook(cb, &codes, bs, &absmax, &mut want).unwrap();
        let mut d = vec![MaybeUninit::<f32>::uninit(); src.len()];
        dequantize_codebook_uninit(cb, &codes, bs, &absmax, &mut d).unwrap();
        for i in 0..src.len() {
            // SAFETY: all of dst is written on success.
            assert_eq!(unsafe { d[i].assume_init() }.to_bits(), want[i].to_bits());
        }
        // errors through the uninit entry points too
        assert_eq!(
            quantize_codebook_uninit(cb, &src, 100, &mut c, &mut a),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            quantize_codebook_uninit(cb, &src, bs, &mut c[..1], &mut a),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(
            dequantize_codebook_uninit(cb, &codes, bs, &[f32::NAN; 4], &mut d),
            Err(Error::NonFinite)
        );
    }
}

#[test]
fn inputs_are_not_modified_and_codes_may_be_longer() {
    let bs = 64;
    let src = data(129, 7, 1.0);
    for cb in Codebook::ALL {
        let (codes, absmax) = quantize(cb, &src, bs);
        let mut long_codes = codes.clone();
        long_codes.extend([0xFF; 9]);
        let mut long_absmax = absmax.clone();
        long_absmax.extend([f32::NAN; 2]);
        let (c0, a0) = (long_codes.clone(), long_absmax.clone());
        let mut dst = vec![0f32; src.len()];
        dequantize_codebook(cb, &long_codes, bs, &long_absmax, &mut dst).unwrap();
        assert_eq!(long_codes, c0);
        assert_eq!(bits(&long_absmax), bits(&a0));
        let mut dst2 = vec![0f32; src.len()];
        dequantize_codebook(cb, &codes, bs, &absmax, &mut dst2).unwrap();
        assert_eq!(bits(&dst), bits(&dst2));
    }
}
