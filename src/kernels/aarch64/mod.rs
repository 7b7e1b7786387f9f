//! aarch64 kernels: NEON (Advanced SIMD), which every aarch64 Linux target has as a baseline
//! feature. Little-endian only: `aarch64_be` is not built or tested (the kernels' lane and
//! nibble order assumes little-endian memory, as the x86-64 ones do).
//!
//! `neon` holds the level's table of per-tensor kernels (and `error_sums`), `neon_blocks` its
//! table of block-wise kernels; the kernels written once in `kernels::simd`, instantiated for
//! NEON over `lanes::aarch64::neon`, fill most of both tables.

pub(crate) mod neon;
mod neon_blocks;

#[cfg(test)]
mod tests {
    use super::super::{choose, kernel_name, levels, scalar, Kernels, Level};
    use core::mem::MaybeUninit;

    fn neon() -> &'static Kernels {
        &super::neon::KERNELS
    }

    #[test]
    fn neon_is_the_best_level_here() {
        let names: Vec<_> = levels().iter().map(|k| k.level).collect();
        assert_eq!(names, [Level::Neon, Level::Scalar]);
    }

    #[test]
    fn max_isa_caps_neon() {
        assert_eq!(choose(None).level, Level::Neon);
        assert_eq!(choose(Some("neon")).level, Level::Neon);
        assert_eq!(choose(Some(" NEON ")).level, Level::Neon);
        assert_eq!(choose(Some("scalar")).level, Level::Scalar);
        // x86 levels rank above NEON: capping at them changes nothing here.
        assert_eq!(choose(Some("avx2")).level, Level::Neon);
        assert_eq!(choose(Some("avx512")).level, Level::Neon);
        assert_eq!(choose(Some("nonsense")).level, Level::Neon);
    }

    /// The level the library really uses: NEON unless QUANTIZE_MAX_ISA lowers it. The aarch64
    /// test script runs this with the variable unset and set to "scalar", and checks it ran.
    #[test]
    fn active_level_follows_the_environment() {
        let cap = std::env::var("QUANTIZE_MAX_ISA").ok();
        let expect = match cap.as_deref().map(str::trim) {
            None => "neon",
            Some(c) if c.eq_ignore_ascii_case("scalar") => "scalar",
            Some(c) if c.eq_ignore_ascii_case("neon") => "neon",
            Some(_) => choose(cap.as_deref()).level.name(),
        };
        assert_eq!(kernel_name(), expect, "QUANTIZE_MAX_ISA={cap:?}");
        println!(
            "active kernel level: {} (QUANTIZE_MAX_ISA={cap:?})",
            kernel_name()
        );
    }

    /// Differences of ~44 significant bits, whose squares do not fit a double, summed in one
    /// lane at a time (the other elements are zero): a fused multiply-add changes the last bits
    /// of some of these sums. The shared tests cannot see that: their 1e30 outliers, or the
    /// rounding of the final reduction, absorb a one-ulp difference in a lane.
    #[test]
    fn error_sums_round_twice_like_the_reference() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u32
        };
        for n in [9, 16, 17, 64, 100, 257, 1000, 4099] {
            for lane in 0..8 {
                let mut x = vec![0.0f32; n];
                let mut y = vec![0.0f32; n];
                for i in (lane..n).step_by(8) {
                    // x in [1, 2), y = ±[2^-20, 2^-19): x - y needs about 44 bits.
                    x[i] = f32::from_bits(0x3F80_0000 | (next() & 0x007F_FFFF));
                    y[i] = f32::from_bits((107 << 23) | (next() & 0x807F_FFFF));
                }
                let a = (neon().error_sums)(&x, &y).unwrap();
                let b = (scalar::KERNELS.error_sums)(&x, &y).unwrap();
                let ctx = format!("n={n} lane={lane}");
                assert_eq!(a.sum_sq.to_bits(), b.sum_sq.to_bits(), "sum_sq {ctx}");
                assert_eq!(a.sum_abs.to_bits(), b.sum_abs.to_bits(), "sum_abs {ctx}");
                assert_eq!(a.sum_x_sq.to_bits(), b.sum_x_sq.to_bits(), "sum_x_sq {ctx}");
                assert_eq!(a.max_abs.to_bits(), b.max_abs.to_bits(), "max_abs {ctx}");
                assert_eq!(a.max_abs_index, b.max_abs_index, "max_abs_index {ctx}");
            }
        }
    }

    /// One bad code among codes whose (code + 8) bits OR to nothing else: 8 among -8s gives
    /// exactly 16, -9 among 7s gives 255.
    #[test]
    fn find_invalid_code_sees_a_lone_bad_code() {
        for n in 1..=200 {
            for (fill, bad) in [(-8i8, 8i8), (7, -9), (-8, -128), (0, 127)] {
                for i in 0..n {
                    let mut v = vec![fill; n];
                    v[i] = bad;
                    assert_eq!((neon().find_invalid_code)(&v), Some(i), "n={n} i={i}");
                }
                assert_eq!((neon().find_invalid_code)(&vec![fill; n]), None);
            }
        }
    }

    /// Codes from huge and infinite quotients (subnormal and tiny scales) saturate as the
    /// reference's `as i32` and `saturating_add` do. The kernel's domain is a positive finite
    /// scale (`simd::int4`, as on x86-64): the quantizers never pass 0, a negative, infinite
    /// or NaN scale, whose NaN quotients the shared kernel clamps instead of zeroing.
    #[test]
    fn quantize_saturates_like_the_reference() {
        let x: Vec<f32> = (0..64)
            .map(|i| [0.0, -0.0, 1.0, -1.0, 3.0e38, -3.0e38, 0.5, -2.5][i % 8])
            .collect();
        for scale in [1e-45f32, 1e-40, f32::MIN_POSITIVE, 1e-30, 1.0, 3e38] {
            for zp in [-8i8, -1, 0, 3, 7] {
                let (mut a, mut b) = (
                    vec![MaybeUninit::new(0i8); x.len()],
                    vec![MaybeUninit::new(0i8); x.len()],
                );
                (neon().quantize)(&x, scale, zp, &mut a);
                (scalar::KERNELS.quantize)(&x, scale, zp, &mut b);
                // SAFETY: both buffers were created initialised.
                let (a, b): (Vec<i8>, Vec<i8>) = unsafe {
                    (
                        a.iter().map(|v| v.assume_init()).collect(),
                        b.iter().map(|v| v.assume_init()).collect(),
                    )
                };
                assert_eq!(a, b, "scale={scale:e} zp={zp}");
            }
        }
    }

    /// Single blocks at the decisions the NEON block kernels make their own way, against the
    /// scalar level (result and bytes): Q4_0's and Q4_1's fp16 scale just below and at the
    /// overflow boundary (|max| / 8 and (max - min) / 15 around 65520, |min| around 65520),
    /// reciprocals that round (non-power-of-two scales) with elements on the code boundaries
    /// (`x * id + 8.5` and `(x - min) * id + 0.5` near integers), subnormal and tiny scales
    /// (`1 / d` infinite: NaN, +inf and -inf codes), MXFP4 around powers of two and at the top
    /// and bottom scale bytes, IQ4_NL's near-zero cut-off, codebook thresholds and subnormal
    /// absmax.
    #[test]
    fn block_kernels_at_their_edges() {
        use crate::reference::codebook::tables::{FP4_THRESHOLDS, NF4_THRESHOLDS};
        use crate::reference::codebook::Codebook;
        use crate::reference::formats::BlockFormat;
        let (nb, sb) = (super::neon::KERNELS.blocks, scalar::KERNELS.blocks);
        let up = |x: f32| f32::from_bits(x.to_bits() + 1);
        let down = |x: f32| f32::from_bits(x.to_bits().saturating_sub(1));
        // 2^e for e >= -149 (subnormal below -126).
        let p2 = |e: i32| {
            if e < -126 {
                f32::from_bits(1 << (e + 149))
            } else {
                f32::from_bits(((e + 127) as u32) << 23)
            }
        };
        // Extremes (the block's first element, or its negation).
        let mut tops = vec![
            1.0f32,
            3.0,
            7.0,
            0.1,
            1.0 / 3.0,
            24.0,
            1e-3,
            f32::MAX,
            p2(126),
        ];
        for t in [
            8.0 * 65520.0,
            8.0 * 65504.0,
            65520.0,
            65504.0,
            15.0 * 65520.0,
        ] {
            tops.extend([t, down(t), up(t)]);
        }
        for e in [
            -149, -140, -130, -128, -127, -126, -125, -124, -120, 0, 10, 127,
        ] {
            tops.extend([p2(e), down(p2(e)), up(p2(e))]);
        }
        tops.extend([1e-45, 3e-45, 1e-40, 1e-38]);
        // IQ4_NL's near-zero cut-off (max |x| < 1e-15: scale 0).
        tops.extend([1e-15, down(1e-15), up(1e-15), 5e-16, 1e-16, 1e-14]);
        // Fractions of the extreme: code boundaries of Q4_0 (k / 8 around .5 steps), Q4_1
        // (k / 15), MXFP4 midpoints (m / 12), codebook thresholds, zeros.
        let mut fracs: Vec<f32> = vec![0.0, -0.0, 1.0, -1.0];
        for k in -16..=16 {
            for den in [16.0f32, 30.0, 24.0] {
                let f = k as f32 / den;
                fracs.extend([f, down(f.abs()).copysign(f), up(f.abs()).copysign(f)]);
            }
        }
        fracs.extend(
            NF4_THRESHOLDS
                .iter()
                .chain(&FP4_THRESHOLDS)
                .flat_map(|&t| [t, -t]),
        );
        let mut blocks: Vec<[f32; 32]> = Vec::new();
        for &t in &tops {
            for (r, sign) in [1.0f32, -1.0].into_iter().enumerate() {
                for start in [0, 7, 31] {
                    let mut b = [0.0f32; 32];
                    for (i, v) in b.iter_mut().enumerate() {
                        let f = fracs[(i * 13 + start * 5 + r * 3) % fracs.len()];
                        *v = f.clamp(-1.0, 1.0) * t;
                    }
                    b[start] = sign * t;
                    blocks.push(b);
                    // A large common offset (Q4_1's minimum near the fp16 boundary).
                    let mut o = b;
                    for v in &mut o {
                        *v = (*v * 1e-4) - sign * t;
                    }
                    blocks.push(o);
                }
            }
        }
        let mut out_of_range = [0usize; BlockFormat::COUNT];
        for b in &blocks {
            for f in BlockFormat::ALL.into_iter().filter(|f| f.elements() == 32) {
                let m = f.bytes();
                let (mut a, mut s) = (
                    vec![MaybeUninit::new(0xA5u8); m],
                    vec![MaybeUninit::new(0xA5u8); m],
                );
                let ra = (super::neon::KERNELS.quantize_blocks(f))(b, &mut a);
                let rs = (scalar::KERNELS.quantize_blocks(f))(b, &mut s);
                assert_eq!(ra, rs, "{} {b:?}", f.name());
                out_of_range[f as usize] += usize::from(rs == Err(crate::Error::ValueOutOfRange));
                // SAFETY: both buffers were created initialised.
                let (a, s): (Vec<u8>, Vec<u8>) = unsafe {
                    (
                        a.iter().map(|v| v.assume_init()).collect(),
                        s.iter().map(|v| v.assume_init()).collect(),
                    )
                };
                assert_eq!(a, s, "{} {b:?}", f.name());
            }
            for book in Codebook::ALL {
                let (mut ca, mut cs) = (
                    vec![MaybeUninit::new(0u8); 16],
                    vec![MaybeUninit::new(0u8); 16],
                );
                let (mut aa, mut as_) =
                    (vec![MaybeUninit::new(0f32)], vec![MaybeUninit::new(0f32)]);
                let ra = (nb.quantize_codebook)(book, b, 32, &mut ca, &mut aa);
                let rs = (sb.quantize_codebook)(book, b, 32, &mut cs, &mut as_);
                assert_eq!(ra, rs, "{} {b:?}", book.name());
                if ra.is_ok() {
                    // SAFETY: both buffers were created initialised.
                    let (ca, cs): (Vec<u8>, Vec<u8>) = unsafe {
                        (
                            ca.iter().map(|v| v.assume_init()).collect(),
                            cs.iter().map(|v| v.assume_init()).collect(),
                        )
                    };
                    assert_eq!(ca, cs, "{} {b:?}", book.name());
                }
            }
        }
        // The fp16 boundary is crossed both ways (Q4_0, Q4_1, IQ4_NL; MXFP4 has no such error).
        assert!(out_of_range[..3]
            .iter()
            .all(|&c| c > 0 && c < blocks.len() / 2));
    }
}
