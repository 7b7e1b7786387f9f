//! The per-tensor int4 kernels (scan, quantize, quantize_packed, dequantize, dequantize_packed,
//! find_invalid_code, pack, unpack), written once (the macro `kernels!`) over the
//! lane primitives of `lanes` and expanded for AVX2 and AVX-512. Each equals the scalar
//! reference bit for bit: the same operations in the same order per element (a true division
//! or a quotient proved equal to it, ties-to-even rounding, one rounding per multiply), the
//! remainder of a slice handled by the scalar code itself. Below the sizes where a vector loop
//! pays for its set-up, the scalar kernels do all of it.

use crate::kernels::{scalar, Range};
use crate::Result;
use core::mem::MaybeUninit;

/// Floats per block of the loops (a `Block`).
const QK: usize = 32;

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives (`lanes::x86_64::avx2`, `lanes::x86_64::avx512` or `lanes::aarch64::neon`), with that level's features.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn scan(src: &[f32]) -> Result<Range> {
                if src.len() < L {
                    // Less than one vector: the scalar loop has no set-up to pay for.
                    return scalar::scan(src);
                }
                let (n, p) = (src.len(), src.as_ptr());
                // |x| as integer bits is above the limit's for NaN, ±Inf and beyond ±2^126.
                let limit = splat_i(scalar::MAX_INPUT.to_bits() as i32);
                let mut bad = splat_i(0);
                // Four independent accumulators over 4 L floats (AVX2 has 16 registers), then one
                // over L, then scalar.
                let mut lo = [splat(f32::INFINITY); 4];
                let mut hi = [splat(f32::NEG_INFINITY); 4];
                let mut i = 0;
                while i + 4 * L <= n {
                    for l in 0..L / 4 {
                        prefetch(p.wrapping_add(i + AHEAD + 16 * l));
                    }
                    // SAFETY: i + 4 L <= n.
                    let v: [F; 4] = core::array::from_fn(|j| unsafe { load(p.add(i + L * j)) });
                    bad = mark_above(bad, v, limit);
                    for j in 0..4 {
                        (lo[j], hi[j]) = (min_f(lo[j], v[j]), max_f(hi[j], v[j]));
                    }
                    i += 4 * L;
                }
                while i + L <= n {
                    // SAFETY: i + L <= n.
                    let v = unsafe { load(p.add(i)) };
                    bad = mark_above(bad, [v; 4], limit);
                    (lo[0], hi[0]) = (min_f(lo[0], v), max_f(hi[0], v));
                    i += L;
                }
                if any_marked(bad, limit) {
                    // The scalar scan finds the first bad element and its kind.
                    return scalar::scan(src);
                }
                let tail = &src[i..];
                let mut r = if tail.is_empty() {
                    Range {
                        min: f32::INFINITY,
                        max: f32::NEG_INFINITY,
                    }
                } else {
                    scalar::scan(tail)?
                };
                let lo = lanes(lo.into_iter().reduce(|a, b| min_f(a, b)).unwrap());
                let hi = lanes(hi.into_iter().reduce(|a, b| max_f(a, b)).unwrap());
                for (&l, &h) in lo.iter().zip(&hi) {
                    if l < r.min {
                        r.min = l;
                    }
                    if h > r.max {
                        r.max = h;
                    }
                }
                Ok(r)
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize(
                src: &[f32],
                scale: f32,
                zp: i8,
                dst: &mut [MaybeUninit<i8>],
            ) {
                let whole = src.len() / QK * QK;
                assert!(dst.len() >= whole);
                let (s, z) = (splat(scale), splat(f32::from(zp)));
                let (fast, r) = (fast_scale(scale), splat(1.0 / scale));
                for i in (0..whole).step_by(QK) {
                    let p = src.as_ptr().wrapping_add(i);
                    prefetch(p.wrapping_add(AHEAD));
                    prefetch(p.wrapping_add(AHEAD + 16));
                    // SAFETY: 32 floats and 32 bytes at i (i + 32 <= whole, asserted for dst).
                    unsafe {
                        let x = load_block(p);
                        store_codes(
                            x,
                            |v| int4_codes(v, s, r, z, fast),
                            dst.as_mut_ptr().add(i).cast(),
                        );
                    }
                }
                (scalar::KERNELS.quantize)(&src[whole..], scale, zp, &mut dst[whole..]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_packed(
                src: &[f32],
                scale: f32,
                zp: i8,
                dst: &mut [MaybeUninit<u8>],
            ) {
                let whole = src.len() / QK * QK;
                assert!(dst.len() >= whole / 2);
                let (s, z) = (splat(scale), splat(f32::from(zp)));
                let (fast, r) = (fast_scale(scale), splat(1.0 / scale));
                for i in (0..whole).step_by(QK) {
                    let p = src.as_ptr().wrapping_add(i);
                    prefetch(p.wrapping_add(AHEAD));
                    prefetch(p.wrapping_add(AHEAD + 16));
                    // SAFETY: 32 floats at i; 16 bytes at i / 2 (asserted).
                    unsafe {
                        let bytes = pack_pairs(load_block(p), |v| int4_codes(v, s, r, z, fast));
                        store_bytes16(bytes, dst.as_mut_ptr().add(i / 2).cast());
                    }
                }
                (scalar::KERNELS.quantize_packed)(&src[whole..], scale, zp, &mut dst[whole / 2..]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize(
                src: &[i8],
                scale: f32,
                zp: i8,
                dst: &mut [MaybeUninit<f32>],
            ) {
                let whole = src.len() / L * L;
                assert!(dst.len() >= whole);
                let (s, z) = (splat(scale), splat_i(i32::from(zp)));
                for i in (0..whole).step_by(L) {
                    // SAFETY: L codes and L floats at i (asserted).
                    unsafe {
                        let q = load_i8(src.as_ptr().add(i));
                        store(mul(cvt_f(sub_i(q, z)), s), dst.as_mut_ptr().add(i).cast());
                    }
                }
                (scalar::KERNELS.dequantize)(&src[whole..], scale, zp, &mut dst[whole..]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_packed(
                src: &[u8],
                scale: f32,
                zp: i8,
                dst: &mut [MaybeUninit<f32>],
            ) {
                if dst.len() < 2 * QK {
                    // Below two iterations the scalar loop (which the compiler vectorises) is as fast.
                    return (scalar::KERNELS.dequantize_packed)(src, scale, zp, dst);
                }
                let whole = dst.len() / QK * QK;
                assert!(src.len() >= whole / 2);
                let t = int4_table(scale, zp);
                for i in (0..whole).step_by(QK) {
                    // SAFETY: 16 bytes at i / 2 (asserted) and 32 floats at i.
                    unsafe {
                        let v = int4_values(src.as_ptr().add(i / 2), t);
                        for (k, v) in v.into_iter().enumerate() {
                            store(v, dst.as_mut_ptr().add(i + L * k).cast());
                        }
                    }
                }
                (scalar::KERNELS.dequantize_packed)(&src[whole / 2..], scale, zp, &mut dst[whole..]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn find_invalid_code(src: &[i8]) -> Option<usize> {
                let whole = src.len() / CODES * CODES;
                let mut bad = zero_codes();
                for i in (0..whole).step_by(CODES) {
                    // SAFETY: CODES bytes at i + CODES <= whole.
                    let v = unsafe { load_codes(src.as_ptr().add(i)) };
                    // Valid codes -8..=7 become 0..=15: any bit of the high nibble marks a bad one.
                    bad = or_codes(bad, code_offsets(v));
                }
                if any_high_nibble(bad) {
                    return (scalar::KERNELS.find_invalid_code)(&src[..whole]);
                }
                (scalar::KERNELS.find_invalid_code)(&src[whole..]).map(|i| i + whole)
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn pack(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
                let whole = src.len() / CODES * CODES;
                assert!(dst.len() >= whole / 2);
                for i in (0..whole).step_by(CODES) {
                    // SAFETY: CODES codes at i, CODES / 2 bytes at i / 2 (asserted).
                    unsafe {
                        pack_codes(
                            load_codes(src.as_ptr().add(i)),
                            dst.as_mut_ptr().add(i / 2).cast(),
                        )
                    };
                }
                (scalar::KERNELS.pack)(&src[whole..], &mut dst[whole / 2..]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn unpack(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
                let whole = dst.len() / 64 * 64;
                assert!(src.len() >= whole / 2);
                for i in (0..whole).step_by(64) {
                    // SAFETY: 32 bytes at i / 2 (asserted), 64 codes at i.
                    unsafe { unpack_codes(src.as_ptr().add(i / 2), dst.as_mut_ptr().add(i).cast()) };
                }
                (scalar::KERNELS.unpack)(&src[whole / 2..], &mut dst[whole..]);
            }
        }
    };
}

instantiate_per_level!();
