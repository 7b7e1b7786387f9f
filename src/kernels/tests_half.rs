//! The half-precision rule at every level, for every family: a float16 or bfloat16 input gives
//! bit for bit the scalar reference's float32 result on its widened copy (same status, same
//! bytes, same partial writes), and an output is that float32 result rounded once to the type.
//! Lengths cross the chunk boundaries of `crate::float` (4096) and the block sizes.

use super::tests_blocks::{uninit_vec, Rng};
use super::*;
use crate::codebook::{absmax_len, codes_len};
use crate::float::{self, FloatType, Floats, FloatsUninit};
use crate::formats::BlockFormat;
use crate::groups::group_count;
use crate::int4::{Params, ScaleMethod};
use crate::pack::packed_len;
use core::mem::MaybeUninit;

const HALF: [FloatType; 2] = [FloatType::F16, FloatType::Bf16];

fn widen_ref(t: FloatType, h: &[u16]) -> Vec<f32> {
    h.iter()
        .map(|&v| match t {
            FloatType::F16 => float::f16_to_f32(v),
            _ => float::bf16_to_f32(v),
        })
        .collect()
}

fn narrow_ref(t: FloatType, x: &[f32]) -> Vec<u16> {
    x.iter()
        .map(|&v| match t {
            FloatType::F16 => float::f32_to_f16(v),
            _ => float::f32_to_bf16(v),
        })
        .collect()
}

fn floats(t: FloatType, h: &[u16]) -> Floats<'_> {
    match t {
        FloatType::F16 => Floats::F16(h),
        _ => Floats::Bf16(h),
    }
}

fn out_of(t: FloatType, d: &mut [MaybeUninit<u16>]) -> FloatsUninit<'_> {
    match t {
        FloatType::F16 => FloatsUninit::F16(d),
        _ => FloatsUninit::Bf16(d),
    }
}

fn init<T: Copy>(v: &[MaybeUninit<T>]) -> Vec<T> {
    // SAFETY: the tests create every buffer initialised (`uninit_vec` fills it).
    v.iter().map(|x| unsafe { x.assume_init() }).collect()
}

/// Half-precision values of `n` elements made of the block generator's awkward runs, rounded to
/// the type, with a NaN or infinity now and then (bf16 keeps float32's huge values too).
fn half_input(rng: &mut Rng, t: FloatType, n: usize, benign: bool) -> Vec<u16> {
    let mut x = Vec::with_capacity(n);
    while x.len() < n {
        let mut b = rng.block(32.min(n - x.len()), benign);
        if !benign && rng.below(8) == 0 {
            rng.poison(&mut b);
        }
        x.extend(b);
    }
    let mut h = narrow_ref(t, &x);
    if benign {
        // float16 overflow may have made infinities: keep benign inputs finite.
        for v in &mut h {
            if widen_ref(t, &[*v])[0].is_infinite() {
                *v = 0x3c00 & if t == FloatType::F16 { 0xffff } else { 0 };
            }
        }
    }
    h
}

/// The lengths tried: small, around block sizes, around the chunk size.
fn lengths(multiple: usize) -> Vec<usize> {
    let mut v = vec![
        0, 1, 15, 16, 17, 31, 33, 63, 64, 255, 256, 257, 4095, 4096, 4097, 9000,
    ];
    v.extend([1, 2, 16, 17, 40].map(|k| k * multiple));
    v.retain(|n| n % multiple == 0);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of values through every format: too slow under Miri"
)]
fn blocks_from_and_into_follow_the_widening_rule() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for k in levels() {
        for f in BlockFormat::ALL {
            for t in HALF {
                for n in lengths(f.elements()) {
                    for benign in [true, false] {
                        let h = half_input(&mut rng, t, n, benign);
                        let x = widen_ref(t, &h);
                        let need = crate::formats::blocks_len(f, n).unwrap();
                        let mut a = uninit_vec(need + 3, 0xA5u8);
                        let mut b = uninit_vec(need + 3, 0xA5u8);
                        let ra =
                            crate::formats::quantize_blocks_from_with(k, f, floats(t, &h), &mut a);
                        let rb = (scalar::KERNELS.quantize_blocks(f))(&x, &mut b[..need]);
                        let ctx = format!("{:?} {} {t:?} n={n}", k.level, f.name());
                        assert_eq!(ra, rb, "{ctx}");
                        assert_eq!(init(&a), init(&b), "{ctx}");

                        // Dequantize the reference's blocks (or random bytes on error paths).
                        let blocks: Vec<u8> = if rb.is_ok() {
                            init(&b[..need])
                        } else {
                            (0..need).map(|_| rng.next() as u8).collect()
                        };
                        let mut y = uninit_vec(n, 0.0f32);
                        let ry = (scalar::KERNELS.dequantize_blocks(f))(&blocks, &mut y);
                        let mut d = uninit_vec(n + 2, 0x5A5Au16);
                        let rd = crate::formats::dequantize_blocks_into_with(
                            k,
                            f,
                            &blocks,
                            out_of(t, &mut d[..n]),
                        );
                        assert_eq!(rd, ry, "into {ctx}");
                        if ry.is_ok() {
                            let mut want = narrow_ref(t, &init(&y));
                            want.extend([0x5A5A, 0x5A5A]);
                            assert_eq!(init(&d), want, "into {ctx}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of values through every format: too slow under Miri"
)]
fn int4_from_and_into_follow_the_widening_rule() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    for k in levels() {
        for t in HALF {
            for n in lengths(1) {
                for method in ScaleMethod::ALL {
                    let benign = rng.below(3) != 0;
                    let h = half_input(&mut rng, t, n, benign);
                    let x = widen_ref(t, &h);
                    let ctx = format!("{:?} {t:?} n={n} {method:?}", k.level);

                    let mut a = uninit_vec(n + 1, 0x55i8);
                    let pa =
                        crate::int4::quantize_to_int4_from_with(k, floats(t, &h), method, &mut a);
                    let mut b = uninit_vec(n + 1, 0x55i8);
                    let pb =
                        with_scalar(|| crate::int4::quantize_to_int4_uninit(&x, method, &mut b));
                    assert_eq!(pa, pb, "{ctx}");
                    assert_eq!(init(&a), init(&b), "{ctx}");

                    let mut a = uninit_vec(packed_len(n) + 1, 0x55u8);
                    let qa = crate::int4::quantize_to_int4_packed_from_with(
                        k,
                        floats(t, &h),
                        method,
                        &mut a,
                    );
                    let mut b = uninit_vec(packed_len(n) + 1, 0x55u8);
                    let qb = with_scalar(|| {
                        crate::int4::quantize_to_int4_packed_uninit(&x, method, &mut b)
                    });
                    assert_eq!(qa, qb, "packed {ctx}");
                    assert_eq!(init(&a), init(&b), "packed {ctx}");

                    // Dequantize codes with parameters, good and bad.
                    let p = match pb {
                        Ok(p) if rng.below(4) != 0 => p,
                        _ => Params {
                            scale: [1e-3, f32::INFINITY, -2.5, 3e38][rng.below(4) as usize],
                            zero_point: [0, 3, -8, 9][rng.below(4) as usize],
                        },
                    };
                    let codes: Vec<i8> = (0..n)
                        .map(|_| {
                            (rng.below(16) as i8 - 8) + if rng.below(500) == 0 { 9 } else { 0 }
                        })
                        .collect();
                    let packed: Vec<u8> = (0..packed_len(n)).map(|_| rng.next() as u8).collect();
                    let mut y = uninit_vec(n, 0.0f32);
                    let ry =
                        with_scalar(|| crate::int4::dequantize_from_int4_uninit(&codes, p, &mut y));
                    let mut d = uninit_vec(n, 0x5A5Au16);
                    let rd = crate::int4::dequantize_from_int4_into_with(
                        k,
                        &codes,
                        p,
                        out_of(t, &mut d),
                    );
                    assert_eq!(rd, ry, "deq {ctx}");
                    let want = if ry.is_ok() {
                        narrow_ref(t, &init(&y))
                    } else {
                        vec![0x5A5A; n]
                    };
                    assert_eq!(init(&d), want, "deq {ctx} (nothing written on error)");

                    let mut y = uninit_vec(n, 0.0f32);
                    let ry = with_scalar(|| {
                        crate::int4::dequantize_from_int4_packed_uninit(&packed, p, &mut y)
                    });
                    let mut d = uninit_vec(n, 0x5A5Au16);
                    let rd = crate::int4::dequantize_from_int4_packed_into_with(
                        k,
                        &packed,
                        p,
                        out_of(t, &mut d),
                    );
                    assert_eq!(rd, ry, "deq packed {ctx}");
                    let want = if ry.is_ok() {
                        narrow_ref(t, &init(&y))
                    } else {
                        vec![0x5A5A; n]
                    };
                    assert_eq!(init(&d), want, "deq packed {ctx}");
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of values through every format: too slow under Miri"
)]
fn groups_from_and_into_follow_the_widening_rule() {
    let mut rng = Rng(0xfeed_beef_1357_9bdf);
    for k in levels() {
        for t in HALF {
            // Small groups (chunked whole), odd ones (shared bytes), and groups above half a
            // chunk (scanned, then quantized, chunk by chunk).
            for gs in [1, 3, 32, 33, 64, 2048, 2049, 4097, 5000] {
                for n in [0, 1, gs, gs + 1, 2 * gs + 3, 9001] {
                    for method in ScaleMethod::ALL {
                        let benign = rng.below(4) != 0;
                        let h = half_input(&mut rng, t, n, benign);
                        let x = widen_ref(t, &h);
                        let ctx = format!("{:?} {t:?} gs={gs} n={n} {method:?}", k.level);
                        let cnt = group_count(n, gs);
                        let zps = if method == ScaleMethod::AbsMax && rng.below(2) == 0 {
                            0
                        } else {
                            cnt
                        };
                        let run = |from: bool| {
                            let mut c = uninit_vec(packed_len(n) + 1, 0xEEu8);
                            let mut s = uninit_vec(cnt + 1, -1.0f32);
                            let mut z = uninit_vec(zps + 1, 0x11i8);
                            let r = if from {
                                crate::groups::quantize_int4_groups_from_with(
                                    k,
                                    floats(t, &h),
                                    gs,
                                    method,
                                    &mut c,
                                    &mut s,
                                    &mut z[..zps],
                                )
                            } else {
                                with_scalar(|| {
                                    crate::groups::quantize_int4_groups_uninit(
                                        &x,
                                        gs,
                                        method,
                                        &mut c,
                                        &mut s,
                                        &mut z[..zps],
                                    )
                                })
                            };
                            let s: Vec<u32> = init(&s).iter().map(|v| v.to_bits()).collect();
                            (r, init(&c), s, init(&z))
                        };
                        let (a, b) = (run(true), run(false));
                        assert_eq!(a, b, "{ctx}");

                        // Dequantize the codes with the scales found (or bad ones).
                        let codes: Vec<u8> = (0..packed_len(n)).map(|_| rng.next() as u8).collect();
                        let mut scales: Vec<f32> =
                            (0..cnt).map(|g| (g as f32 + 0.37) * 1e-2).collect();
                        let mut zp: Vec<i8> = (0..zps).map(|g| (g % 16) as i8 - 8).collect();
                        if cnt > 0 && rng.below(3) == 0 {
                            let g = rng.below(cnt as u64) as usize;
                            if zps > 0 && rng.below(2) == 0 {
                                zp[g] = 8;
                            } else {
                                scales[g] = f32::NAN;
                            }
                        }
                        let mut y = uninit_vec(n, 0.0f32);
                        let ry = with_scalar(|| {
                            crate::groups::dequantize_int4_groups_uninit(
                                &codes, gs, &scales, &zp, &mut y,
                            )
                        });
                        let mut d = uninit_vec(n, 0x5A5Au16);
                        let rd = crate::groups::dequantize_int4_groups_into_with(
                            k,
                            &codes,
                            gs,
                            &scales,
                            &zp,
                            out_of(t, &mut d),
                        );
                        assert_eq!(rd, ry, "deq {ctx}");
                        if ry.is_ok() {
                            assert_eq!(init(&d), narrow_ref(t, &init(&y)), "deq {ctx}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of values through every format: too slow under Miri"
)]
fn codebook_from_and_into_follow_the_widening_rule() {
    let mut rng = Rng(0xc0de_b00c_0000_0001);
    for k in levels() {
        for book in crate::codebook::Codebook::ALL {
            for t in HALF {
                for bs in [32, 64, 4096] {
                    for n in [0, 1, 31, 33, bs, bs + 7, 4096, 4097, 9000] {
                        let benign = rng.below(3) != 0;
                        let h = half_input(&mut rng, t, n, benign);
                        let x = widen_ref(t, &h);
                        let ctx = format!("{:?} {book:?} {t:?} bs={bs} n={n}", k.level);
                        let (cl, al) = (codes_len(n), absmax_len(n, bs));
                        let mut ca = uninit_vec(cl + 1, 0xEEu8);
                        let mut aa = uninit_vec(al + 1, -1.0f32);
                        let ra = crate::codebook::quantize_codebook_from_with(
                            k,
                            book,
                            floats(t, &h),
                            bs,
                            &mut ca,
                            &mut aa,
                        );
                        let mut cb = uninit_vec(cl + 1, 0xEEu8);
                        let mut ab = uninit_vec(al + 1, -1.0f32);
                        let rb = with_scalar(|| {
                            crate::codebook::quantize_codebook_uninit(
                                book, &x, bs, &mut cb, &mut ab,
                            )
                        });
                        assert_eq!(ra, rb, "{ctx}");
                        assert_eq!(init(&ca), init(&cb), "{ctx}");
                        let bits = |v: &[MaybeUninit<f32>]| -> Vec<u32> {
                            init(v).iter().map(|f| f.to_bits()).collect()
                        };
                        assert_eq!(bits(&aa), bits(&ab), "{ctx}");

                        let codes: Vec<u8> = (0..cl).map(|_| rng.next() as u8).collect();
                        let mut absmax: Vec<f32> = (0..al).map(|b| b as f32 * 0.5 - 1.0).collect();
                        if al > 0 && rng.below(3) == 0 {
                            absmax[rng.below(al as u64) as usize] = f32::INFINITY;
                        }
                        let mut y = uninit_vec(n, 0.0f32);
                        let ry = with_scalar(|| {
                            crate::codebook::dequantize_codebook_uninit(
                                book, &codes, bs, &absmax, &mut y,
                            )
                        });
                        let mut d = uninit_vec(n, 0x5A5Au16);
                        let rd = crate::codebook::dequantize_codebook_into_with(
                            k,
                            book,
                            &codes,
                            bs,
                            &absmax,
                            out_of(t, &mut d),
                        );
                        assert_eq!(rd, ry, "deq {ctx}");
                        if ry.is_ok() {
                            assert_eq!(init(&d), narrow_ref(t, &init(&y)), "deq {ctx}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of values through every format: too slow under Miri"
)]
fn measure_error_from_follows_the_widening_rule() {
    let mut rng = Rng(0x5eed_0000_1111_2222);
    for k in levels() {
        for t in HALF {
            for n in lengths(1) {
                let benign = rng.below(4) != 0;
                let x = half_input(&mut rng, t, n, benign);
                let y = half_input(&mut rng, t, n, true);
                let ctx = format!("{:?} {t:?} n={n}", k.level);
                let got = crate::stats::measure_error_from_with(k, floats(t, &x), floats(t, &y));
                let (wx, wy) = (widen_ref(t, &x), widen_ref(t, &y));
                let want = with_scalar(|| crate::stats::measure_error(&wx, &wy));
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{ctx}");
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of values through every format: too slow under Miri"
)]
fn conversions_of_every_level_equal_the_scalar_ones() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    for k in levels() {
        for off in [0, 1, 3] {
            let src = &all[off..];
            let mut a = uninit_vec(src.len(), 0.0f32);
            let mut b = uninit_vec(src.len(), 0.0f32);
            (k.widen_f16)(src, &mut a);
            float::scalar::widen_f16(src, &mut b);
            let bits = |v: &[MaybeUninit<f32>]| -> Vec<u32> {
                init(v).iter().map(|f| f.to_bits()).collect()
            };
            assert_eq!(bits(&a), bits(&b), "{:?} widen f16", k.level);
            (k.widen_bf16)(src, &mut a);
            float::scalar::widen_bf16(src, &mut b);
            assert_eq!(bits(&a), bits(&b), "{:?} widen bf16", k.level);
        }
        // Narrowing: every float16 value and the midpoints and near-midpoints between
        // neighbours, plus a pseudo-random sweep of all float32 patterns.
        let mut xs: Vec<f32> = Vec::new();
        for h in 0..=u16::MAX {
            let v = float::f16_to_f32(h);
            let b = v.to_bits();
            xs.extend([
                v,
                f32::from_bits(b.wrapping_add(0x1000)),
                f32::from_bits(b.wrapping_add(0xfff)),
                f32::from_bits(b.wrapping_add(0x1001)),
            ]);
            xs.extend([
                f32::from_bits(u32::from(h) << 16 | 0x8000),
                f32::from_bits(u32::from(h) << 16 | 0x7fff),
            ]);
        }
        let mut s = 0x2545_f491u32;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            xs.push(f32::from_bits(s));
        }
        // Every class of float32 NaN (both signs): quiet and signalling, with the payload only
        // in the bits float16 keeps, only in the bits it drops (a truncation without the quiet
        // bit would make these infinities), in both, and all ones; and their neighbours.
        for sign in [0, 0x8000_0000u32] {
            for m in [
                0x0040_0000u32,
                0x0000_0001,
                0x0000_1fff,
                0x0000_2000,
                0x0020_0000,
                0x003f_e000,
                0x003f_ffff,
                0x0040_0001,
                0x0040_2000,
                0x007f_ffff,
                0x0001_0000,
                0x0000_8000,
                0x0000_7fff,
            ] {
                xs.push(f32::from_bits(sign | 0x7f80_0000 | m));
            }
            xs.push(f32::from_bits(sign | 0x7f80_0000));
            xs.push(f32::from_bits(sign | 0x7f7f_ffff));
        }
        for off in [0, 1, 5] {
            let src = &xs[off..];
            let mut a = uninit_vec(src.len(), 0u16);
            let mut b = uninit_vec(src.len(), 0u16);
            (k.narrow_f16)(src, &mut a);
            float::scalar::narrow_f16(src, &mut b);
            assert_eq!(init(&a), init(&b), "{:?} narrow f16", k.level);
            (k.narrow_bf16)(src, &mut a);
            float::scalar::narrow_bf16(src, &mut b);
            assert_eq!(init(&a), init(&b), "{:?} narrow bf16", k.level);
        }
    }
}

/// Each conversion on short slices and at every start offset: the vector loops, the scalar
/// remainder and their seam, for lengths around one and two vectors of every level. The values
/// cycle through awkward classes (NaNs, infinities, subnormals, ties, overflow) so each class
/// lands in every lane and in the remainder. Nothing past the slice is written.
#[test]
fn conversions_equal_the_scalar_ones_at_every_length_and_offset() {
    const LENS: [usize; 22] = [
        0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 24, 31, 32, 33, 47, 63, 64, 65,
    ];
    let mut halves: Vec<u16> = vec![
        0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x7c00,
        0xfc00, 0x7c01, 0xfc01, 0x7dff, 0x7e00, 0xfe00, 0x7fff, 0xffff, 0x7f80, 0xff80, 0x7f81,
        0x7fc0, 0xffc1, 0x0080, 0x007f, 0x3f80,
    ];
    let mut floats: Vec<f32> = [
        0u32,
        0x8000_0000,
        0x0000_0001,
        0x8001_8000,
        0x0001_8000,
        0x0000_8000,
        0x3380_0000, // 2^-24, the smallest float16 subnormal
        0x3300_0000, // half of it: a tie to 0
        0x3300_0001,
        0x33c0_0000, // 1.5 * 2^-24: a tie to 2 * 2^-24
        0x3880_0000, // 2^-14, the smallest float16 normal
        0x387f_e000,
        0x387f_f000,
        0x3f80_1000, // 1 + 2^-11: a float16 tie to even (down)
        0x3f80_3000, // 1 + 3 * 2^-11: a tie up
        0x3f80_8000, // a bfloat16 tie (down)
        0x3f81_8000, // a bfloat16 tie (up)
        0x477f_e000, // 65504
        0x477f_efff,
        0x477f_f000, // 65520: overflows float16
        0x7f7f_ffff, // overflows bfloat16 too
        0xff7f_ffff,
        0x7f80_0000,
        0xff80_0000,
        0x7f80_0001,
        0xff80_1fff,
        0x7fa0_0000,
        0x7fc0_0000,
        0xffc0_0001,
        0x7fff_ffff,
        0xffff_ffff,
    ]
    .map(f32::from_bits)
    .to_vec();
    // Some values of no class, so the classes do not line up with vector lanes.
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..13 {
        halves.push(rng.next() as u16);
        floats.push(f32::from_bits(rng.next() as u32));
    }
    let bits =
        |v: &[MaybeUninit<f32>]| -> Vec<u32> { init(v).iter().map(|f| f.to_bits()).collect() };
    for k in levels() {
        for rot in 0..halves.len().max(floats.len()) {
            let h: Vec<u16> = (0..80).map(|i| halves[(i + rot) % halves.len()]).collect();
            let x: Vec<f32> = (0..80).map(|i| floats[(i + rot) % floats.len()]).collect();
            for off in 0..4 {
                for n in LENS {
                    let ctx = format!("{:?} rot={rot} off={off} n={n}", k.level);
                    let src = &h[off..off + n];
                    let (mut a, mut b) = (uninit_vec(n + 1, 0.5f32), uninit_vec(n + 1, 0.5f32));
                    (k.widen_f16)(src, &mut a[..n]);
                    float::scalar::widen_f16(src, &mut b[..n]);
                    assert_eq!(bits(&a), bits(&b), "widen f16 {ctx}");
                    (k.widen_bf16)(src, &mut a[..n]);
                    float::scalar::widen_bf16(src, &mut b[..n]);
                    assert_eq!(bits(&a), bits(&b), "widen bf16 {ctx}");
                    let src = &x[off..off + n];
                    let (mut a, mut b) = (uninit_vec(n + 1, 0x5a5au16), uninit_vec(n + 1, 0x5a5a));
                    (k.narrow_f16)(src, &mut a[..n]);
                    float::scalar::narrow_f16(src, &mut b[..n]);
                    assert_eq!(init(&a), init(&b), "narrow f16 {ctx}");
                    (k.narrow_bf16)(src, &mut a[..n]);
                    float::scalar::narrow_bf16(src, &mut b[..n]);
                    assert_eq!(init(&a), init(&b), "narrow bf16 {ctx}");
                }
            }
        }
    }
}

/// Runs `f` (a public function of the crate) on the scalar level: the reference.
fn with_scalar<R>(f: impl FnOnce() -> R) -> R {
    with_kernels(&scalar::KERNELS, f)
}
