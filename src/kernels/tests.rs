//! Every kernel level against the scalar reference, bit for bit, on every length 0..=300 and some
//! large ones, at every start offset within a 64-byte vector, on random and awkward values.

use super::*;
use crate::reference::int4::{params_for, ScaleMethod};
use core::mem::MaybeUninit;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Mostly ordinary values, with ties, zeros of both signs, subnormals and extremes mixed in.
    fn awkward_f32(&mut self) -> f32 {
        match self.below(12) {
            0 => 0.0,
            1 => -0.0,
            2 => f32::from_bits(self.below(0x0080_0000) as u32), // subnormal
            3 => f32::from_bits((253 << 23) | (self.below(2) as u32) << 31), // ±2^126
            4 => (self.below(64) as f32 - 32.0) * 0.5,           // halves: ties for scale 1
            5 => (self.below(64) as f32 - 32.0) * 0.125,
            _ => {
                // A random finite float of moderate exponent.
                let e = 100 + self.below(60) as u32;
                f32::from_bits((e << 23) | (self.next() as u32 & 0x807F_FFFF))
            }
        }
    }
}

fn lengths() -> impl Iterator<Item = usize> {
    (0..=300).chain([511, 512, 513, 1000, 4099])
}

/// Runs `f` with an output buffer of `n` elements starting at every offset of a 64-byte
/// vector, so stores are tested unaligned too.
fn uninit_vec<T: Copy>(n: usize, fill: T) -> Vec<MaybeUninit<T>> {
    vec![MaybeUninit::new(fill); n]
}

fn init<T: Copy>(v: &[MaybeUninit<T>]) -> Vec<T> {
    // SAFETY: every test buffer is created initialised (with a fill value).
    v.iter().map(|x| unsafe { x.assume_init() }).collect()
}

fn simd_levels() -> Vec<&'static Kernels> {
    levels()
        .into_iter()
        .filter(|k| k.level != Level::Scalar)
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn scan_matches_reference() {
    let r = &scalar::KERNELS;
    let mut rng = Rng(1);
    for k in simd_levels() {
        for n in lengths().filter(|&n| n > 0) {
            for off in [0, 1, 3, 7, 15] {
                let mut x: Vec<f32> = (0..n + off).map(|_| rng.awkward_f32()).collect();
                let s = &x[off..];
                assert_eq!((k.scan)(s), (r.scan)(s), "{:?} n={n} off={off}", k.level);
                // A bad value at a random place, and a second one after it of the other kind.
                let i = off + rng.below(n as u64) as usize;
                x[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e38, -1e38]
                    [rng.below(5) as usize];
                if i + 1 < x.len() {
                    x[i + 1] = [f32::NAN, 2e38][rng.below(2) as usize];
                }
                let s = &x[off..];
                assert_eq!((k.scan)(s), (r.scan)(s), "{:?} n={n} bad at {i}", k.level);
            }
        }
    }
}

#[test]
fn quantize_and_dequantize_match_reference() {
    let r = &scalar::KERNELS;
    let mut rng = Rng(2);
    for k in simd_levels() {
        for n in lengths() {
            let off = rng.below(16) as usize;
            let x: Vec<f32> = (0..n + off).map(|_| rng.awkward_f32()).collect();
            let x = &x[off..];
            let mut params = vec![
                (1.0f32, 0i8),
                (0.25, -3),
                (f32::MIN_POSITIVE, 7),
                (3.5e-45, -8),
            ];
            if let Ok(range) = (r.scan)(x) {
                for m in ScaleMethod::ALL {
                    let p = params_for(range, m);
                    params.push((p.scale, p.zero_point));
                }
            }
            for (scale, zp) in params {
                let ctx = format!("{:?} n={n} off={off} scale={scale:e} zp={zp}", k.level);
                let (mut a, mut b) = (uninit_vec(n, 0i8), uninit_vec(n, 0i8));
                (k.quantize)(x, scale, zp, &mut a);
                (r.quantize)(x, scale, zp, &mut b);
                let codes = init(&a);
                assert_eq!(codes, init(&b), "quantize {ctx}");

                let m = crate::pack::packed_len(n);
                let (mut a, mut b) = (uninit_vec(m, 0u8), uninit_vec(m, 0u8));
                (k.quantize_packed)(x, scale, zp, &mut a);
                (r.quantize_packed)(x, scale, zp, &mut b);
                let packed = init(&a);
                assert_eq!(packed, init(&b), "quantize_packed {ctx}");

                let (mut a, mut b) = (uninit_vec(n, 0f32), uninit_vec(n, 0f32));
                (k.dequantize)(&codes, scale, zp, &mut a);
                (r.dequantize)(&codes, scale, zp, &mut b);
                assert_eq!(bits(&init(&a)), bits(&init(&b)), "dequantize {ctx}");

                let (mut a, mut b) = (uninit_vec(n, 0f32), uninit_vec(n, 0f32));
                (k.dequantize_packed)(&packed, scale, zp, &mut a);
                (r.dequantize_packed)(&packed, scale, zp, &mut b);
                assert_eq!(bits(&init(&a)), bits(&init(&b)), "dequantize_packed {ctx}");
            }
        }
    }
}

#[test]
fn code_kernels_match_reference() {
    let r = &scalar::KERNELS;
    let mut rng = Rng(3);
    for k in simd_levels() {
        for n in lengths() {
            let off = rng.below(32) as usize;
            let all: Vec<i8> = (0..n + off).map(|_| rng.next() as i8).collect();
            let valid: Vec<i8> = all.iter().map(|&q| (q & 0xF) - 8).collect();
            let (all, valid) = (&all[off..], &valid[off..]);
            assert_eq!(
                (k.find_invalid_code)(all),
                (r.find_invalid_code)(all),
                "{:?} n={n}",
                k.level
            );
            assert_eq!((k.find_invalid_code)(valid), None);
            if n > 0 {
                // One bad code at every interesting position relative to the vector width.
                let mut one = valid.to_vec();
                let i = rng.below(n as u64) as usize;
                one[i] = [8, -9, 127, -128][rng.below(4) as usize];
                assert_eq!((k.find_invalid_code)(&one), Some(i), "{:?} n={n}", k.level);
            }
            let m = crate::pack::packed_len(n);
            let (mut a, mut b) = (uninit_vec(m, 0u8), uninit_vec(m, 0u8));
            (k.pack)(valid, &mut a);
            (r.pack)(valid, &mut b);
            let packed = init(&a);
            assert_eq!(packed, init(&b), "pack {:?} n={n}", k.level);
            let bytes: Vec<u8> = (0..m).map(|_| rng.next() as u8).collect();
            let (mut a, mut b) = (uninit_vec(n, 0i8), uninit_vec(n, 0i8));
            (k.unpack)(&bytes, &mut a);
            (r.unpack)(&bytes, &mut b);
            assert_eq!(init(&a), init(&b), "unpack {:?} n={n}", k.level);
        }
    }
}

#[test]
fn error_sums_match_reference() {
    let r = &scalar::KERNELS;
    let mut rng = Rng(4);
    for k in simd_levels() {
        for n in lengths() {
            let off = rng.below(16) as usize;
            let x: Vec<f32> = (0..n + off).map(|_| rng.awkward_f32()).collect();
            let mut y: Vec<f32> = x
                .iter()
                .map(|&v| {
                    if rng.below(3) == 0 {
                        v
                    } else {
                        rng.awkward_f32()
                    }
                })
                .collect();
            // Repeated maxima: the first index must win at every level.
            if n > 8 {
                y[off + 1] = x[off + 1] + 1e30;
                y[off + n - 1] = x[off + n - 1] + 1e30;
            }
            let (x, y) = (&x[off..], &y[off..]);
            let (a, b) = ((k.error_sums)(x, y).unwrap(), (r.error_sums)(x, y).unwrap());
            let key = |s: ErrorSums| {
                (
                    s.sum_abs.to_bits(),
                    s.sum_sq.to_bits(),
                    s.sum_x_sq.to_bits(),
                    s.max_abs.to_bits(),
                    s.max_abs_index,
                )
            };
            assert_eq!(key(a), key(b), "{:?} n={n}", k.level);
            if n > 0 {
                let mut bad = y.to_vec();
                bad[rng.below(n as u64) as usize] =
                    [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.below(3) as usize];
                assert_eq!(
                    (k.error_sums)(x, &bad).map(key),
                    Err(crate::Error::NonFinite)
                );
                assert_eq!(
                    (k.error_sums)(&bad, y).map(key),
                    Err(crate::Error::NonFinite)
                );
            }
        }
    }
}

#[test]
fn max_isa_only_lowers_the_level() {
    let best = levels()[0];
    assert_eq!(choose(None).level, best.level);
    assert_eq!(choose(Some("scalar")).level, Level::Scalar);
    assert_eq!(choose(Some(" SCALAR ")).level, Level::Scalar);
    // Unknown names are ignored; a higher cap than the CPU has changes nothing.
    assert_eq!(choose(Some("nonsense")).level, best.level);
    assert_eq!(choose(Some("avx512")).level, best.level);
    let avx2 = choose(Some("avx2"));
    if cfg!(target_arch = "aarch64") {
        // NEON ranks below AVX2, so an AVX2 cap leaves it in place.
        assert_eq!(avx2.level, best.level);
    } else {
        assert!(avx2.level == Level::Avx2 || avx2.level == Level::Scalar);
        // NEON ranks above scalar only: on x86 a NEON cap means scalar.
        assert_eq!(choose(Some("neon")).level, Level::Scalar);
    }
}

/// The AVX-512 quotient without division (`lanes::x86_64::avx512::quotient16`) against the division itself,
/// bit for bit, around every rounding boundary of the codes (x near h * scale for every
/// half-integer h up to 32.5) and at random, for many scales, mantissas of all ones included.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn markstein_quotient_matches_division() {
    use super::x86_64::avx512;
    use core::arch::x86_64::*;
    if !avx512::available() {
        return;
    }
    let mut rng = Rng(5);
    let mut scales: Vec<f32> = vec![
        1.0,
        3.0,
        0.1,
        1.0 / 15.0,
        1.0 / 7.0,
        f32::from_bits(0x3FFF_FFFF),
        f32::from_bits(0x3F7F_FFFF),
        f32::from_bits(0x3F80_0001),
        f32::from_bits((127 - 100) << 23),
        f32::from_bits((127 + 100) << 23),
        f32::from_bits(((127 + 100) << 23) - 1 + (1 << 23)),
    ];
    scales.extend((0..300).map(|_| {
        f32::from_bits(((27 + rng.below(200)) << 23) as u32 | (rng.next() as u32 & 0x007F_FFFF))
    }));
    for &s in &scales {
        if !crate::kernels::lanes::x86_64::fast_scale(s) {
            continue;
        }
        let r = 1.0 / s;
        let mut xs: Vec<f32> = Vec::new();
        for h2 in -65..=65 {
            let c = (h2 as f32 * 0.5) * s;
            for k in 0..12u32 {
                xs.push(f32::from_bits(c.to_bits().wrapping_add(k)));
                xs.push(f32::from_bits(c.to_bits().wrapping_sub(k)));
            }
        }
        xs.extend((0..400).map(|_| (rng.next() as u32 as f32 / 4.3e9 - 0.5) * 64.0 * s));
        xs.retain(|x| x.is_finite() && x.abs() <= 32.0 * s);
        for chunk in xs.chunks(16) {
            let mut l = [0.0f32; 16];
            l[..chunk.len()].copy_from_slice(chunk);
            let mut got = [0.0f32; 16];
            // SAFETY: AVX-512 is available; 16-element arrays.
            unsafe {
                let q = crate::kernels::lanes::x86_64::avx512::quotient16(
                    _mm512_loadu_ps(l.as_ptr()),
                    _mm512_set1_ps(s),
                    _mm512_set1_ps(r),
                );
                _mm512_storeu_ps(got.as_mut_ptr(), q);
            }
            for (x, g) in l.iter().zip(got) {
                if x.abs() >= 0.25 * s {
                    assert_eq!(g.to_bits(), (x / s).to_bits(), "x = {x:e}, scale = {s:e}");
                } else {
                    // Below a quarter (where steps may underflow) only the rounded code counts.
                    assert!(
                        g.abs() < 0.5 && (x / s).abs() < 0.5,
                        "x = {x:e}, scale = {s:e}"
                    );
                }
            }
        }
    }
}

/// Exhaustive form of the above over every float x in [scale/4, 32 scale] (both signs) for a
/// few scales. Slow in a debug build: `cargo test --release -- --ignored markstein`.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
#[ignore = "exhaustive; run in release"]
fn markstein_quotient_exhaustive() {
    use super::x86_64::avx512;
    use core::arch::x86_64::*;
    if !avx512::available() {
        return;
    }
    let mut rng = Rng(6);
    let mut scales = vec![
        1.0f32,
        0.1,
        f32::from_bits(0x3FFF_FFFF),
        f32::from_bits(0x3F80_0001),
        1.0 / 15.0,
        0.339_874_2,
        7.9e-31,
        1.2e30,
    ];
    let random = (0..24).map(|_| {
        f32::from_bits(((27 + rng.below(200)) << 23) as u32 | (rng.next() as u32 & 0x007F_FFFF))
    });
    scales.extend(random);
    for s in scales {
        if !crate::kernels::lanes::x86_64::fast_scale(s) {
            continue;
        }
        let r = 1.0 / s;
        let (lo, hi) = ((s * 0.25).to_bits(), (s * 32.0).to_bits());
        let mut bad = 0u64;
        for sign in [0u32, 0x8000_0000] {
            let mut b = lo;
            while b <= hi {
                let mut l = [0.0f32; 16];
                for (j, v) in l.iter_mut().enumerate() {
                    *v = f32::from_bits((b + j as u32).min(hi) | sign);
                }
                let mut got = [0.0f32; 16];
                // SAFETY: AVX-512 is available; 16-element arrays.
                unsafe {
                    let q = crate::kernels::lanes::x86_64::avx512::quotient16(
                        _mm512_loadu_ps(l.as_ptr()),
                        _mm512_set1_ps(s),
                        _mm512_set1_ps(r),
                    );
                    _mm512_storeu_ps(got.as_mut_ptr(), q);
                }
                for (x, g) in l.iter().zip(got) {
                    bad += u64::from(g.to_bits() != (x / s).to_bits());
                }
                b += 16;
            }
        }
        assert_eq!(bad, 0, "scale {s:e}");
    }
}

/// Codes at their rounding boundaries: x within a few ulps of (k + 1/2) scale for every k, for
/// scales that are not powers of two (where a product by the reciprocal and the division can
/// round differently), every zero point. Guards any division-free quantizer.
#[test]
fn quantize_ties_match_reference() {
    let r = &scalar::KERNELS;
    let mut rng = Rng(7);
    let mut scales = vec![0.1f32, 1.0 / 3.0, 1.0 / 15.0, 0.7, 3.0, 6.0e-5, 1.7e12];
    scales.extend((0..40).map(|_| {
        f32::from_bits(((100 + rng.below(50)) << 23) as u32 | (rng.next() as u32 & 0x007F_FFFF))
    }));
    for k in simd_levels() {
        for &s in &scales {
            let mut x: Vec<f32> = Vec::new();
            for h2 in -41..=41 {
                let c = (h2 as f32 * 0.5) * s;
                for d in 0..6u32 {
                    x.push(f32::from_bits(c.to_bits().wrapping_add(d)));
                    x.push(f32::from_bits(c.to_bits().wrapping_sub(d)));
                }
            }
            x.retain(|v| v.is_finite());
            for zp in [-8i8, -3, 0, 5, 7] {
                let n = x.len();
                let (mut a, mut b) = (uninit_vec(n, 0i8), uninit_vec(n, 0i8));
                (k.quantize)(&x, s, zp, &mut a);
                (r.quantize)(&x, s, zp, &mut b);
                assert_eq!(init(&a), init(&b), "{:?} scale {s:e} zp {zp}", k.level);
                let m = crate::pack::packed_len(n);
                let (mut a, mut b) = (uninit_vec(m, 0u8), uninit_vec(m, 0u8));
                (k.quantize_packed)(&x, s, zp, &mut a);
                (r.quantize_packed)(&x, s, zp, &mut b);
                assert_eq!(
                    init(&a),
                    init(&b),
                    "{:?} packed scale {s:e} zp {zp}",
                    k.level
                );
            }
        }
    }
}
