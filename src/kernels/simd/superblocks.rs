//! The formats whose blocks are not 32 values, both directions: Q4_K (256 values, 144 bytes),
//! IQ4_XS (256, 136) and NVFP4 (64, 36), written once (the macro `kernels!`) over the lane
//! primitives of `lanes` and expanded for AVX2 (module `avx2`, 8 lanes) and AVX-512 (`avx512`,
//! 16 lanes), every function `#[target_feature]` with the level's features so that all of it
//! inlines.
//!
//! Each equals its scalar reference (`formats::q4_k`, `formats::iq4_xs`, `formats::nvfp4`) bit
//! for bit: the same IEEE operations per element in the same order (no fused multiply-add);
//! where a kernel computes something differently, a comment proves the result identical.
//!
//! - The Q4_K and IQ4_XS quantizers run their sub-block scale searches one sub-block per lane,
//!   `L / 8` super-blocks per pass (lane b: sub-block b, `x[i]` element i of each), the
//!   reference's branches as lane masks; then per super-block the reference's scalar steps
//!   (levels, fp16 fields) and the codes along the values.
//! - The NVFP4 quantizer takes `L / 4` blocks (`L` sub-blocks of 16) per pass: the sub-blocks'
//!   largest magnitudes through one transposing reduction, their UE4M3 scales in one vector,
//!   then the codes of each sub-block.
//! - A pass in which any block is bad (NaN or infinity, a scale out of range) is declined and
//!   redone by the scalar reference, which reports the first bad block exactly and writes only
//!   the blocks before it: a pass writes nothing unless every block of it passed. The last pass
//!   may be shorter: its missing blocks are zeros, computed and dropped.
//! - The dequantizers go block by block along the values.

use crate::kernels::lanes::{NL_KV, NL_MID};
use crate::reference::formats::common::{nearest_int, read_f16};
use crate::reference::formats::fp16::{self, f16_is_finite, f32_to_f16};
use crate::reference::formats::{
    e2m1, iq4_xs, nl_codebook, nvfp4, q4_k, BlockFormat, DequantizeBlocks, QuantizeBlocks,
};
use crate::{Error, Result};
use core::mem::MaybeUninit;

/// The bits of `f32::MAX`: magnitudes (as bits) above it are NaN or infinite.
const MAX_BITS: i32 = 0x7F7F_FFFF;

/// The largest pass: 2 Q4_K super-blocks (AVX-512), in floats and bytes.
const PASS_FLOATS: usize = 2 * q4_k::ELEMENTS;
const PASS_BYTES: usize = 2 * q4_k::BYTES;

// ---------------------------------------------------------------- scalar steps per super-block

/// The 6-bit scale and minimum of Q4_K sub-block `j` from the 12 packed bytes `s` (the layout
/// of `q4_k`'s module docs, as its `scale_min` reads it). (Always inlined: a call from a
/// kernel's loop would also cost a `vzeroupper`.)
#[inline(always)]
fn q4_k_scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// `q4_k`'s `level6`: `nearest_int` as a byte (modulo 256), capped at 63.
#[inline]
fn level6(v: f32) -> u8 {
    (nearest_int(v) as u8).min(63)
}

/// `q4_k`'s packing of eight 6-bit scales and minima into 12 bytes.
fn pack_scales(ls: &[u8; 8], lm: &[u8; 8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    s[..4].copy_from_slice(&ls[..4]);
    s[4..8].copy_from_slice(&lm[..4]);
    for j in 4..8 {
        s[j + 4] = (ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4);
        s[j - 4] |= (ls[j] >> 4) << 6;
        s[j] |= (lm[j] >> 4) << 6;
    }
    s
}

/// The reference's scalar super-block step of `q4_k::quantize_block` after the eight sub-block
/// fits: the largest scale and minimum, the 6-bit levels, their packing and the fp16 `d` and
/// `dmin`; `None` when either overflows fp16 (the reference then reports `ValueOutOfRange`).
fn q4_k_levels(scales: &[f32], mins: &[f32]) -> Option<([u8; 12], u16, u16)> {
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for j in 0..8 {
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let ls: [u8; 8] = core::array::from_fn(|j| level6(inv_scale * scales[j]));
    let lm: [u8; 8] = core::array::from_fn(|j| level6(inv_min * mins[j]));
    let packed = pack_scales(&ls, &lm);
    let dh = f32_to_f16(max_scale / 63.0);
    let mh = f32_to_f16(max_min / 63.0);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return None;
    }
    Some((packed, dh, mh))
}

/// The reference's scalar super-block step of `iq4_xs::quantize_block` after the eight
/// sub-block scales: the fp16 `d` (`None` when not finite, where the reference reports
/// `ValueOutOfRange`), and per sub-block the stored 6-bit level `l + 32` and the inverse scale
/// `idl` its codes are computed with.
fn iq4_xs_levels(scales: &[f32]) -> Option<(u16, [u8; 8], [f32; 8])> {
    let (mut max_scale, mut amax_scale) = (0.0f32, 0.0f32);
    for &s in scales {
        if s.abs() > amax_scale {
            amax_scale = s.abs();
            max_scale = s;
        }
    }
    let d = -max_scale / 32.0;
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return None;
    }
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (mut ls, mut idl) = ([0u8; 8], [0.0f32; 8]);
    for (ib, &s) in scales.iter().enumerate() {
        let l = nearest_int(id * s).clamp(-32, 31);
        let dl = d * l as f32;
        idl[ib] = if dl != 0.0 { 1.0 / dl } else { 0.0 };
        ls[ib] = (l + 32) as u8; // 0..=63
    }
    Some((dh, ls, idl))
}

/// Writes the fp16 `d` and the packed 6-bit levels of an IQ4_XS block (bytes 0..8).
fn iq4_xs_header(out: &mut [u8], dh: u16, ls: &[u8; 8]) {
    out[..2].copy_from_slice(&dh.to_le_bytes());
    let (mut scales_h, mut scales_l) = (0u16, [0u8; 4]);
    for (ib, &l) in ls.iter().enumerate() {
        scales_l[ib / 2] |= (l & 0x0f) << (4 * (ib % 2));
        scales_h |= u16::from(l >> 4) << (2 * ib);
    }
    out[2..4].copy_from_slice(&scales_h.to_le_bytes());
    out[4..8].copy_from_slice(&scales_l);
}

/// The midpoints of neighbouring E2M1 magnitudes, in units of the scale `d`: (0 + 1) / 2,
/// (1 + 2) / 2, ..., (8 + 12) / 2 (`e2m1::KVALUES` 0..8 are 0, 1, 2, 3, 4, 6, 8, 12).
const NVFP4_MIDS: [f32; 7] = [0.5, 1.5, 2.5, 3.5, 5.0, 7.0, 10.0];

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives (`lanes::x86_64::avx2`, `lanes::x86_64::avx512` or `lanes::aarch64::neon`), with that level's features.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// Vectors per NVFP4 sub-block of 16 values.
            const S16: usize = 16 / L;
            /// Vectors per sub-block of 32 values.
            const S32: usize = 32 / L;

            /// `m ? a : b` on integer lanes.
            fn select_i(m: M, a: I, b: I) -> I {
                bits_i(select(m, bits_f(a), bits_f(b)))
            }

            /// `|x|`.
            fn abs(x: F) -> F {
                bits_f(abs_bits(x))
            }

            /// Quantizes `src` (whole blocks of `elems` floats into `bytes` bytes) in passes of `per`
            /// blocks: `pass` fills `per * bytes` bytes of a scratch buffer from `per * elems` floats,
            /// or declines; a pass it declines goes to the scalar `reference`, which reports its first
            /// bad block. The last, shorter pass runs on a zero-padded copy.
            fn in_passes(
                src: &[f32],
                dst: &mut [MaybeUninit<u8>],
                (elems, bytes, per): (usize, usize, usize),
                pass: impl Fn(&[f32], &mut [u8]) -> bool,
                reference: QuantizeBlocks,
            ) -> Result<()> {
                assert!(per * elems <= PASS_FLOATS && per * bytes <= PASS_BYTES);
                let mut buf = [0u8; PASS_BYTES];
                for (x, out) in src.chunks(per * elems).zip(dst.chunks_mut(per * bytes)) {
                    let n = x.len() / elems;
                    let ok = if n == per {
                        pass(x, &mut buf)
                    } else {
                        let mut pad = [0.0f32; PASS_FLOATS];
                        pad[..x.len()].copy_from_slice(x);
                        pass(&pad, &mut buf)
                    };
                    if ok {
                        for (o, b) in out.iter_mut().zip(&buf[..n * bytes]) {
                            o.write(*b);
                        }
                    } else {
                        reference(x, out)?;
                    }
                }
                Ok(())
            }

            /// The `L` sub-blocks of 32 at the start of `x` transposed (`[i]` lane b: element i of
            /// sub-block b), or `None` when one of their elements is NaN or infinite.
            fn sub_blocks(x: &[f32]) -> Option<[F; 32]> {
                assert!(x.len() >= 32 * L);
                let mut xs = [splat(0.0); 32];
                let mut mag = splat_i(0);
                for (i, v) in xs.iter_mut().enumerate() {
                    // SAFETY: lane b reads x[32 b + i] with b < L (asserted).
                    *v = unsafe { gather32(x.as_ptr().add(i)) };
                    mag = max_u(mag, abs_bits(*v));
                }
                (bits(gt_i(mag, splat_i(MAX_BITS))) == 0).then_some(xs)
            }

            // ------------------------------------------------------------ dequantization

            /// Safety: the CPU has the level's features.
            ///
            /// Q4_K: `y = (d * sc) * q - (dmin * m)`: the two products per sub-block are the
            /// reference's scalar float32 products; per element a multiply and a subtraction, each
            /// rounded (no FMA).
            pub(crate) unsafe fn dequantize_q4_k(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                for (b, out) in src
                    .chunks_exact(q4_k::BYTES)
                    .zip(dst.chunks_exact_mut(q4_k::ELEMENTS))
                {
                    let (dh, mh) = (read_f16(b, 0), read_f16(b, 2));
                    if !f16_is_finite(dh) || !f16_is_finite(mh) {
                        return Err(Error::NonFinite);
                    }
                    let (d, dmin) = (fp16::f16_to_f32(dh), fp16::f16_to_f32(mh));
                    let s = &b[4..16];
                    let o = out.as_mut_ptr().cast::<f32>();
                    for c in 0..4 {
                        // Low nibbles: sub-block 2 c; high nibbles: sub-block 2 c + 1.
                        let mut f = [(splat(0.0), splat(0.0)); 2];
                        for (k, f) in f.iter_mut().enumerate() {
                            let (sc, m) = q4_k_scale_min(2 * c + k, s);
                            *f = (splat(d * f32::from(sc)), splat(dmin * f32::from(m)));
                        }
                        for h in 0..2 {
                            // SAFETY: 16 code bytes at 16 + 32 c + 16 h <= 128; L floats at
                            // 64 c + 32 k + 16 h + L i <= 256 - L.
                            unsafe {
                                let (lo, hi) =
                                    nibble_values(b.as_ptr().add(16 + 32 * c + 16 * h), None);
                                for (k, q) in [lo, hi].into_iter().enumerate() {
                                    for (i, q) in q.into_iter().enumerate() {
                                        let y = sub(mul(q, f[k].0), f[k].1);
                                        store(y, o.add(64 * c + 32 * k + 16 * h + L * i));
                                    }
                                }
                            }
                        }
                    }
                }
                Ok(())
            }

            /// Safety: the CPU has the level's features.
            ///
            /// IQ4_XS: `dl = d * (ls - 32)` per sub-block (the reference's scalar product), then
            /// `y = dl * KVALUES[q]`, one rounding (multiplication commutes).
            pub(crate) unsafe fn dequantize_iq4_xs(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                for (b, out) in src
                    .chunks_exact(iq4_xs::BYTES)
                    .zip(dst.chunks_exact_mut(iq4_xs::ELEMENTS))
                {
                    let dh = read_f16(b, 0);
                    if !f16_is_finite(dh) {
                        return Err(Error::NonFinite);
                    }
                    let d = f16_to_f32(dh);
                    let scales_h = read_f16(b, 2);
                    let o = out.as_mut_ptr().cast::<f32>();
                    for ib in 0..8 {
                        let low = (b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f;
                        let high = ((scales_h >> (2 * ib)) & 3) as u8;
                        let ls = i32::from(low | (high << 4));
                        let dl = splat(d * (ls - 32) as f32);
                        // Byte j: element j (low nibble) and element j + 16 (high nibble).
                        // SAFETY: 16 code bytes at 8 + 16 ib <= 120; L floats at
                        // 32 ib + 16 k + L i <= 256 - L.
                        unsafe {
                            let (lo, hi) =
                                nibble_values(b.as_ptr().add(8 + 16 * ib), Some(&nl_codebook::KVALUES));
                            for (k, q) in [lo, hi].into_iter().enumerate() {
                                for (i, q) in q.into_iter().enumerate() {
                                    store(mul(q, dl), o.add(32 * ib + 16 * k + L * i));
                                }
                            }
                        }
                    }
                }
                Ok(())
            }

            /// Safety: the CPU has the level's features.
            ///
            /// NVFP4: `y = KVALUES[q] * d` with `d` the decoded scale of the value's sub-block (the
            /// reference's own decoding), one rounding. Every byte is accepted.
            pub(crate) unsafe fn dequantize_nvfp4(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                for (b, out) in src
                    .chunks_exact(nvfp4::BYTES)
                    .zip(dst.chunks_exact_mut(nvfp4::ELEMENTS))
                {
                    let o = out.as_mut_ptr().cast::<f32>();
                    for s in 0..4 {
                        let d = splat(nvfp4::UE4M3_VALUES[usize::from(b[s])]);
                        // SAFETY: 8 code bytes at 4 + 8 s <= 28; L floats at 16 s + L k <= 64 - L.
                        unsafe {
                            let q = nibbles16(b.as_ptr().add(4 + 8 * s), &e2m1::KVALUES);
                            for (k, q) in q.into_iter().enumerate() {
                                store(mul(q, d), o.add(16 * s + L * k));
                            }
                        }
                    }
                }
                Ok(())
            }

            // ------------------------------------------------------------ NVFP4 quantization

            /// `e2m1::best_index(x, d)` of `L` values with `d` an NVFP4 decoded scale, from the
            /// thresholds `t` (`NVFP4_MIDS[i] * d`, or +inf for every i when `d` is 0) and
            /// `nt0 = -t[0]`: the number of thresholds strictly below `m = |x|`, plus 8 for
            /// `x < -t[0]`.
            ///
            /// Proof. The reference takes the first index of least `|fl(KVALUES[i] * d - x)|` over
            /// all 16 entries. Sign: for x >= 0 (and -0.0) the entries 8..15 (k = -K) have errors
            /// `|fl(-K d - x)| = fl(K d + x) >= x`, entry 0's (rounding is monotone), and come later,
            /// so they never win with a strict `<`. For x < 0, entries 1..7 have errors
            /// `fl(K d + m) >= m`, entry 0's; entry 8 (k = 0) ties it; entries 9..15 have
            /// `|fl(-K d - x)| = |fl(K d - m)|`, the errors entries 1..7 have for m, in the same
            /// order: the index is the one for m plus 8, unless it is 0, i.e. unless `m <= t[0]`; so
            /// 8 is added exactly when `x < 0` and `m > t[0]`, i.e. `x < -t[0]`. Magnitude: `d` is 0 (all
            /// errors are m: index 0, and every threshold is +inf) or has at most 4 significant
            /// bits (UE4M3), so the products `M_j = K_j d` and the thresholds `(M_j + M_(j+1)) / 2`
            /// (at most 9 significant bits) are exact, and all are multiples of `u = 2^-10` or of the
            /// UE4M3 exponent's unit, which is at least the spacing of floats near any `m >= d`. If
            /// `M_i <= m < M_(i+1)` with i >= 1: `m - M_i` is a multiple of ulp(m) below m, so exact,
            /// and `M_(i+1) - m` is exact by Sterbenz (`M_(i+1) <= 2 M_i <= 2 m`); the entries before
            /// i and after i + 1 have larger exact errors, which round to no less (monotone), and the
            /// earlier of equal errors wins, so the index is i + 1 exactly when
            /// `M_(i+1) - m < m - M_i`, i.e. `m > (M_i + M_(i+1)) / 2`. For m < d (i = 0): the error
            /// of entry 0 is m (exact); if m >= d / 2, `d - m` is exact (Sterbenz) and the same
            /// holds; if m < d / 2, entry 0's error m is below d / 2 <= fl(d - m): index 0, and m is
            /// below the first threshold. For m >= 12 d every threshold is below m: index 7, the
            /// nearest entry. So the index for m is the number of thresholds below m.
            pub(super) fn nvfp4_codes(x: F, t: &[F; 7], nt0: F) -> I {
                let m = abs(x);
                let mut idx = splat_i(0);
                for &ti in t {
                    idx = inc_if(gt(m, ti), idx);
                }
                add_if(gt(nt0, x), idx, splat_i(8))
            }

            /// `nvfp4::fp32_to_ue4m3` of `v = amax / 6` (finite, `0 <= v <= 448`), as int32 lanes.
            ///
            /// Proof. Below 2^-6 (float32 exponent field E at most 120, zero and subnormals
            /// included) the reference's `min((int)(v * 512 + 0.5), 7)`: the same float operations,
            /// and truncating `min(y, 7)` equals the minimum of the truncation and 7 (y > 0,
            /// truncation is monotone). Otherwise, with `B = bits >> 19 = 16 E + m4` (m4 the top four
            /// mantissa bits; the sign bit is 0), `(B + 1) >> 1 = 8 E + (m4 + 1) / 2 = 8 E + m3 + b`
            /// for `m4 = 2 m3 + b`: the reference's rounded mantissa `m3 + b`, and for m4 = 15 the
            /// carry `8 (E + 1) + 0`, the reference's `m = 0, e + 1`. Less `8 * 120` that is
            /// `8 e + m` with the reference's `e = E - 120` (at least 1 here); an exponent of 15 or
            /// more, before or after the carry, is a value of at least 120, where the reference
            /// gives 0x7E. (No clamp to 448 is needed: larger values are declined.)
            pub(super) fn ue4m3_encode(v: F) -> I {
                let b = shr_i::<19>(bits_i(v));
                let normal = sub_i(shr_i::<1>(add_i(b, splat_i(1))), splat_i(8 * 120));
                let normal = select_i(gt_i(normal, splat_i(119)), splat_i(0x7e), normal);
                let ms = cvtt(min_f(add(mul(v, splat(512.0)), splat(0.5)), splat(7.0)));
                select_i(gt(splat(1.0 / 64.0), v), ms, normal)
            }

            /// `nvfp4::ue4m3_to_f32` of bytes (int32 lanes 0..=0x7E, never 0x7F): `m * 2^-10` for
            /// exponent field 0 (bytes below 8, where m is the byte), else `(8 + m) * 2^(e - 11)`,
            /// whose float32 bits are `(e + 119) << 23 | m << 20`, i.e. `(byte << 20) + (119 << 23)`
            /// (exact, as in the reference).
            pub(super) fn ue4m3_decode(ue: I) -> F {
                let normal = bits_f(add_i(shl_i::<20>(ue), splat_i(119 << 23)));
                let sub = mul(cvt_f(ue), splat(1.0 / 1024.0));
                select(gt_i(splat_i(8), ue), sub, normal)
            }

            /// `L / 4` NVFP4 blocks (`L` sub-blocks of 16, sub-block s in vectors `S16 s ..`): the
            /// largest magnitudes of all sub-blocks in one vector (one transposing reduction; the
            /// order of the magnitudes' bits is that of the finite values), their scales in one
            /// vector ([`ue4m3_encode`], [`ue4m3_decode`]), then the codes of each sub-block. `false`
            /// when a block holds NaN or infinity or a sub-block's `amax / 6` exceeds 448.
            fn nvfp4_pass(x: &[f32], out: &mut [u8]) -> bool {
                assert!(x.len() >= 16 * L && out.len() >= L / 4 * nvfp4::BYTES);
                prefetch(x.as_ptr().wrapping_add(AHEAD));
                prefetch(x.as_ptr().wrapping_add(AHEAD + 8 * L));
                // SAFETY: 16 L floats (asserted).
                let v: [F; 16] = core::array::from_fn(|k| unsafe { load(x.as_ptr().add(L * k)) });
                let m: [F; L] = core::array::from_fn(|s| {
                    let a = v[S16 * s..][..S16].iter();
                    bits_f(a.fold(splat_i(0), |a, &v| max_u(a, abs_bits(v))))
                });
                let amax = bits_i(reduce(m, |a, b| bits_f(max_u(bits_i(a), bits_i(b)))));
                if bits(gt_i(amax, splat_i(MAX_BITS))) != 0 {
                    return false;
                }
                let scaled = div(bits_f(amax), splat(6.0));
                if bits(gt(scaled, splat(448.0))) != 0 {
                    return false;
                }
                let ue = ue4m3_encode(scaled);
                let d = ue4m3_decode(ue);
                let zero_d = eq(d, splat(0.0));
                let t: [F; 7] = core::array::from_fn(|i| {
                    select(zero_d, splat(f32::INFINITY), mul(splat(NVFP4_MIDS[i]), d))
                });
                // Per sub-block, from memory: the thresholds and -t[0].
                let ts: [[f32; L]; 8] =
                    core::array::from_fn(|i| lanes(if i < 7 { t[i] } else { neg(t[0]) }));
                let ue = lanes_i(ue);
                for s in 0..L {
                    let at = s / 4 * nvfp4::BYTES;
                    out[at + s % 4] = ue[s] as u8;
                    let t: [F; 7] = core::array::from_fn(|i| splat(ts[i][s]));
                    let c: [I; S16] =
                        core::array::from_fn(|k| nvfp4_codes(v[S16 * s + k], &t, splat(ts[7][s])));
                    // Byte j: code j | code (j + 8) << 4.
                    let p = 4 + at + 8 * (s % 4);
                    out[p..p + 8].copy_from_slice(&pack16(c).to_le_bytes());
                }
                true
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_nvfp4(
                src: &[f32],
                dst: &mut [MaybeUninit<u8>],
            ) -> Result<()> {
                let shape = (nvfp4::ELEMENTS, nvfp4::BYTES, L / 4);
                in_passes(
                    src,
                    dst,
                    shape,
                    |x, o| nvfp4_pass(x, o),
                    nvfp4::SPEC.quantize,
                )
            }

            // ------------------------------------------------------------ Q4_K quantization

            /// `q4_k`'s `weighted_error` in every lane: `Σ w (scale q + offset - x)^2` in element
            /// order, each operation rounded on its own.
            fn weighted_error(x: &[F; 32], w: &[F; 32], q: &[F; 32], scale: F, offset: F) -> F {
                let mut err = splat(0.0);
                for i in 0..32 {
                    let diff = sub(add(mul(scale, q[i]), offset), x[i]);
                    err = add(err, mul(w[i], mul(diff, diff)));
                }
                err
            }

            /// One candidate of `q4_k`'s search in every lane: the codes `code(iscale (x - min))` into
            /// `aux` and the weighted sums `(Σ w l, Σ w l l, Σ w l x)` in element order, with `code`
            /// the reference's clamped `nearest_int` (or a form equal to it for the arguments met).
            fn candidate(
                (x, w): (&[F; 32], &[F; 32]),
                iscale: F,
                min: F,
                aux: &mut [F; 32],
                code: impl Fn(F) -> F,
            ) -> (F, F, F) {
                let zero = splat(0.0);
                let (mut sum_l, mut sum_l2, mut sum_xl) = (zero, zero, zero);
                for i in 0..32 {
                    let l = code(mul(iscale, sub(x[i], min)));
                    aux[i] = l;
                    let wl = mul(w[i], l);
                    sum_l = add(sum_l, wl);
                    sum_l2 = add(sum_l2, mul(wl, l));
                    sum_xl = add(sum_xl, mul(wl, x[i]));
                }
                (sum_l, sum_l2, sum_xl)
            }

            /// `q4_k`'s `fit_sub_block` (ggml's `make_qkx2_quants`) of `L` sub-blocks, lane b holding
            /// sub-block b: the same operations in the same order in every lane, the reference's
            /// branches as lane masks. Returns the scale, the minimum as the reference returns it
            /// (the negated final offset) and the codes (as floats).
            ///
            /// Two shortcuts, both exact. The codes of the best fit are not kept as the search goes:
            /// they are `code(iscale (x - min))` with that fit's `iscale` and the `min` it was
            /// computed from, recomputed once at the end with the same operations. And where every
            /// lane's `|iscale (x - min)|` is below 2^21 (bounded per candidate, below), `nearest_int`
            /// is rounding to nearest even (see `common::nearest_int`), so the code is
            /// `min(max(round_even(v), 0), 15)` (+0.0 for code 0, as `code15` gives).
            fn fit(x: &[F; 32]) -> (F, F, [F; 32]) {
                let zero = splat(0.0);
                let mut sum_x2 = zero;
                for v in x {
                    sum_x2 = add(sum_x2, mul(*v, *v));
                }
                let av_x = sqrt(div(sum_x2, splat(32.0)));
                let w: [F; 32] = core::array::from_fn(|i| add(av_x, abs(x[i])));
                let (mut lo, mut max) = (x[0], x[0]);
                let mut sum_w = w[0];
                let mut sum_x = mul(sum_w, x[0]);
                for i in 1..32 {
                    lo = select(gt(lo, x[i]), x[i], lo);
                    max = select(gt(x[i], max), x[i], max);
                    sum_w = add(sum_w, w[i]);
                    sum_x = add(sum_x, mul(w[i], x[i]));
                }
                let mut min = select(gt(lo, zero), zero, lo);
                // Lanes with max == min return scale 0, codes 0 and -min (blended in at the end).
                let flat = eq(max, min);
                let min0 = min;

                let iscale = div(splat(15.0), sub(max, min));
                let mut scale = div(splat(1.0), iscale);
                let mut aux = [zero; 32];
                for (a, v) in aux.iter_mut().zip(x) {
                    *a = code15(mul(iscale, sub(*v, min)));
                }
                let mut best_error = weighted_error(x, &w, &aux, scale, min);
                // The inverse scale and offset the best fit's codes come from.
                let (mut code_iscale, mut code_min) = (iscale, min);

                let all = (1u32 << L) - 1;
                for step in 0..=20 {
                    // The reference's candidate, the same float32 operations on the same constants.
                    let num = (-1.0f32 + 0.1f32 * step as f32) + 15.0f32;
                    let iscale = div(splat(num), sub(max, min));
                    // Every x lies in [lo, max], so (rounding being monotone) |fl(x - min)| is at
                    // most r and |fl(iscale fl(x - min))| at most fl(|iscale| r), which is then below
                    // 2^21 (false for NaN or infinity).
                    let r = max_f(abs(sub(max, min)), abs(sub(lo, min)));
                    let small = gt(splat(2_097_152.0), mul(abs(iscale), r));
                    let sums = if bits(small) == all {
                        let code = |v| min_f(max_f(round_even(v), zero), splat(15.0));
                        candidate((x, &w), iscale, min, &mut aux, code)
                    } else {
                        candidate((x, &w), iscale, min, &mut aux, |v| code15(v))
                    };
                    let (sum_l, sum_l2, sum_xl) = sums;
                    let det = sub(mul(sum_w, sum_l2), mul(sum_l, sum_l));
                    let pos = gt(det, zero);
                    if bits(pos) == 0 {
                        continue;
                    }
                    let mut this_scale = div(sub(mul(sum_w, sum_xl), mul(sum_x, sum_l)), det);
                    let mut this_min = div(sub(mul(sum_l2, sum_x), mul(sum_l, sum_xl)), det);
                    let up = gt(this_min, zero);
                    this_min = select(up, zero, this_min);
                    this_scale = select(up, div(sum_xl, sum_l2), this_scale);
                    let cur = weighted_error(x, &w, &aux, this_scale, this_min);
                    let better = and_m(pos, gt(best_error, cur));
                    code_iscale = select(better, iscale, code_iscale);
                    code_min = select(better, min, code_min);
                    best_error = select(better, cur, best_error);
                    scale = select(better, this_scale, scale);
                    min = select(better, this_min, min);
                }
                let codes = core::array::from_fn(|i| {
                    let c = code15(mul(code_iscale, sub(x[i], code_min)));
                    select(flat, zero, c)
                });
                scale = select(flat, zero, scale);
                min = select(flat, min0, min);
                // The reference returns -min: negation flips the sign bit only.
                (scale, neg(min), codes)
            }

            /// The rest of `q4_k::quantize_block` for one super-block (`x`, 256 floats) after its
            /// eight sub-block fits (`sc`, `mn`; first-pass codes in lanes `lane0 + j` of `first`):
            /// [`q4_k_levels`], then the second pass, `L` elements per vector with the reference's
            /// operations (`(x + dm) / d`, `nearest_int`, clamp), into `out` (144 bytes). `false`
            /// when `d` or `dmin` overflows fp16.
            fn q4_k_finish(
                x: &[f32],
                (sc, mn): (&[f32], &[f32]),
                first: &[F; 32],
                lane0: usize,
                out: &mut [u8],
            ) -> bool {
                assert!(x.len() == q4_k::ELEMENTS && out.len() == q4_k::BYTES);
                let Some((packed, dh, mh)) = q4_k_levels(sc, mn) else {
                    return false;
                };
                let (d_all, dmin_all) = (f16_to_f32(dh), f16_to_f32(mh));
                let mut codes = [[splat_i(0); S32]; 8];
                for (j, cj) in codes.iter_mut().enumerate() {
                    let (s, m) = q4_k_scale_min(j, &packed);
                    let d = d_all * f32::from(s);
                    if d == 0.0 {
                        // The reference keeps the first-pass codes of this sub-block.
                        let c: [f32; 32] = core::array::from_fn(|i| lanes(first[i])[lane0 + j]);
                        for (h, v) in cj.iter_mut().enumerate() {
                            *v = cvtt(from_lanes(core::array::from_fn(|l| c[L * h + l])));
                        }
                        continue;
                    }
                    let (vd, vdm) = (splat(d), splat(dmin_all * f32::from(m)));
                    for (h, v) in cj.iter_mut().enumerate() {
                        // SAFETY: L floats at 32 j + L h <= 256 - L.
                        let xv = unsafe { load(x.as_ptr().add(32 * j + L * h)) };
                        *v = cvtt(code15(div(add(xv, vdm), vd)));
                    }
                }
                out[..2].copy_from_slice(&dh.to_le_bytes());
                out[2..4].copy_from_slice(&mh.to_le_bytes());
                out[4..16].copy_from_slice(&packed);
                for c in 0..4 {
                    for h in 0..S32 {
                        // Byte 32 c + L h + l: element L h + l of sub-block 2 c (low nibble) and of
                        // sub-block 2 c + 1 (high nibble).
                        // SAFETY: L bytes at 16 + 32 c + L h <= 144 - L.
                        unsafe {
                            let p = out.as_mut_ptr().add(16 + 32 * c + L * h);
                            store_nibbles(codes[2 * c][h], codes[2 * c + 1][h], p);
                        }
                    }
                }
                true
            }

            /// `L / 8` Q4_K super-blocks, the fits of their sub-blocks at once, or `false` when one
            /// holds NaN or infinity or overflows fp16.
            fn q4_k_pass(x: &[f32], out: &mut [u8]) -> bool {
                let Some(xs) = sub_blocks(x) else {
                    return false;
                };
                let (scale, min, first) = fit(&xs);
                let (sc, mn) = (lanes(scale), lanes(min));
                for k in 0..L / 8 {
                    let (x, o) = (
                        &x[q4_k::ELEMENTS * k..][..q4_k::ELEMENTS],
                        &mut out[q4_k::BYTES * k..][..q4_k::BYTES],
                    );
                    let r = 8 * k..8 * k + 8;
                    if !q4_k_finish(x, (&sc[r.clone()], &mn[r]), &first, 8 * k, o) {
                        return false;
                    }
                }
                true
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_q4_k(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
                let shape = (q4_k::ELEMENTS, q4_k::BYTES, L / 8);
                in_passes(src, dst, shape, |x, o| q4_k_pass(x, o), q4_k::SPEC.quantize)
            }

            // ------------------------------------------------------------ IQ4_XS quantization

            /// `nl_codebook::best_index` of `L` values: the number of codebook midpoints at or below `v`,
            /// and 15 for NaN, as 15 minus the number of midpoints above `v` (none for NaN: every
            /// comparison with NaN is false). That the reference's clamp, binary search and strict
            /// comparison give exactly this count for every non-NaN float (ties going up) is proved
            /// at `lanes::x86_64::avx512::nl_index`; the reference sends NaN past both clamps and its
            /// binary search up to 15.
            pub(super) fn iq4_index(v: F) -> I {
                let mut above = splat_i(0);
                for &m in &NL_MID {
                    above = inc_if(gt(splat(m), v), above);
                }
                sub_i(splat_i(15), above)
            }

            /// The reference's weighted sums `(Σ w q x, Σ w q q)` (`q = KVALUES[best_index(id x)]`)
            /// in every lane, in element order, each product and sum rounded on its own.
            fn iq4_sums(x: &[F; 32], w: &[F; 32], id: F, kv: [F; S16]) -> (F, F) {
                let (mut sqx, mut sq2) = (splat(0.0), splat(0.0));
                for j in 0..32 {
                    let q = table16(iq4_index(mul(id, x[j])), kv);
                    let wq = mul(w[j], q);
                    sqx = add(sqx, mul(wq, x[j]));
                    sq2 = add(sq2, mul(wq, q));
                }
                (sqx, sq2)
            }

            /// `nl_codebook::search_scale` of `L` sub-blocks of 32 (lane b: sub-block b): the reference's
            /// operations in its order in every lane, its branches as lane masks.
            fn iq4_search(x: &[F; 32]) -> F {
                // SAFETY: L floats at L k < 16.
                let kv: [F; S16] = core::array::from_fn(|k| unsafe { load(NL_KV.as_ptr().add(L * k)) });
                let zero = splat(0.0);
                let w: [F; 32] = core::array::from_fn(|j| mul(x[j], x[j]));
                // The first element of largest magnitude, with its sign (strict `>` from 0).
                let (mut amax, mut max) = (zero, zero);
                for v in x {
                    let a = abs(*v);
                    let gt = gt(a, amax);
                    amax = select(gt, a, amax);
                    max = select(gt, *v, max);
                }
                let d0 = div(neg(max), splat(NL_KV[0]));
                let id0 = div(splat(1.0), d0);
                let (sqx, sq2) = iq4_sums(x, &w, id0, kv);
                let mut d = select(gt(sq2, zero), div(sqx, sq2), zero);
                let mut best = mul(d, sqx);
                for itry in -7..=7 {
                    let num = (itry + i32::from(nl_codebook::KVALUES[0])) as f32;
                    let id = div(splat(num), max);
                    let (sqx, sq2) = iq4_sums(x, &w, id, kv);
                    let better = and_m(gt(sq2, zero), gt(mul(sqx, sqx), mul(best, sq2)));
                    d = select(better, div(sqx, sq2), d);
                    best = select(better, mul(d, sqx), best);
                }
                // Sub-blocks of near-zeros get scale 0.
                select(gt(splat(1e-15), amax), zero, d)
            }

            /// `L / 8` IQ4_XS super-blocks, the scale searches of their sub-blocks at once, then per
            /// super-block [`iq4_xs_levels`] and the codes `best_index(idl * x)`; `false` when one
            /// holds NaN or infinity or its fp16 `d` is not finite.
            fn iq4_xs_pass(x: &[f32], out: &mut [u8]) -> bool {
                let Some(xs) = sub_blocks(x) else {
                    return false;
                };
                let sc = lanes(iq4_search(&xs));
                for k in 0..L / 8 {
                    let Some((dh, ls, idl)) = iq4_xs_levels(&sc[8 * k..8 * k + 8]) else {
                        return false;
                    };
                    let o = &mut out[iq4_xs::BYTES * k..][..iq4_xs::BYTES];
                    iq4_xs_header(o, dh, &ls);
                    for (ib, &r) in idl.iter().enumerate() {
                        let r = splat(r);
                        // SAFETY: 32 floats at 256 k + 32 ib <= 32 L - 32 (`sub_blocks` asserted
                        // 32 L); 16 bytes at 8 + 16 ib <= 120 of 136.
                        unsafe {
                            let v = load_block(x.as_ptr().add(iq4_xs::ELEMENTS * k + 32 * ib));
                            // Byte j: element j (low nibble) and element j + 16 (high nibble).
                            let b = pack_ggml(v, |v| iq4_index(mul(r, v)));
                            store_bytes16(b, o.as_mut_ptr().add(8 + 16 * ib));
                        }
                    }
                }
                true
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_iq4_xs(
                src: &[f32],
                dst: &mut [MaybeUninit<u8>],
            ) -> Result<()> {
                let shape = (iq4_xs::ELEMENTS, iq4_xs::BYTES, L / 8);
                in_passes(
                    src,
                    dst,
                    shape,
                    |x, o| iq4_xs_pass(x, o),
                    iq4_xs::SPEC.quantize,
                )
            }
            // The level's entries of the block-format tables (`kernels::format_tables`). They are
            // reached only through the level's `KERNELS`, which `kernels::levels()` hands out only
            // when the CPU has the level's features: the safety argument of each call below.
            pub(crate) const QUANTIZE: &[(BlockFormat, QuantizeBlocks)] = &[
                (BlockFormat::Q4K, |s, d| unsafe { quantize_q4_k(s, d) }),
                (BlockFormat::Iq4Xs, |s, d| unsafe { quantize_iq4_xs(s, d) }),
                (BlockFormat::Nvfp4, |s, d| unsafe { quantize_nvfp4(s, d) }),
            ];

            pub(crate) const DEQUANTIZE: &[(BlockFormat, DequantizeBlocks)] = &[
                (BlockFormat::Q4K, |s, d| unsafe { dequantize_q4_k(s, d) }),
                (BlockFormat::Iq4Xs, |s, d| unsafe {
                    dequantize_iq4_xs(s, d)
                }),
                (BlockFormat::Nvfp4, |s, d| unsafe { dequantize_nvfp4(s, d) }),
            ];
        }
    };
}

instantiate_per_level!();

#[cfg(all(
    test,
    any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    ),
    not(miri)
))]
mod tests {
    use super::*;

    /// Floats `k` either side of each of `points` (both signs, and the points), plus the
    /// specials.
    fn near(points: &[f32], k: u32) -> Vec<f32> {
        let mut xs = vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e-30,
            -1e-30,
        ];
        for p in points {
            for q in [*p, -*p] {
                for i in 0..=k {
                    xs.push(f32::from_bits(q.to_bits().wrapping_add(i)));
                    xs.push(f32::from_bits(q.to_bits().wrapping_sub(i)));
                }
            }
        }
        xs
    }

    #[test]
    fn iq4_index_matches_best_index_near_every_midpoint() {
        let mut points = NL_MID.to_vec();
        points.extend(NL_KV);
        points.extend([1e10, 3e38]);
        let mut xs = near(&points, 300);
        xs.extend((0..100_000).map(|i| i as f32 * 0.003 - 150.0));
        let xs = &xs[..];
        each_level!(|l, k, xs: &[f32]| {
            for chunk in xs.chunks(l::L) {
                let mut v = [0.0f32; l::L];
                v[..chunk.len()].copy_from_slice(chunk);
                let got = l::lanes_i(k::iq4_index(l::from_lanes(v)));
                for (x, g) in v.iter().zip(got) {
                    assert_eq!(
                        g as usize,
                        nl_codebook::best_index(*x),
                        "{x:e}, {} lanes",
                        l::L
                    );
                }
            }
        });
    }

    #[test]
    fn nvfp4_codes_match_best_index_for_every_scale() {
        each_level!(|l, k| {
            for ue in 0..=0x7fu8 {
                let d = nvfp4::ue4m3_to_f32(ue);
                let mut points: Vec<f32> = NVFP4_MIDS.iter().map(|m| m * d).collect();
                points.extend(e2m1::KVALUES.iter().map(|&q| f32::from(q) * d));
                points.extend([13.7 * d, 18.0 * d, 19.9 * d]);
                let t: [l::F; 7] = core::array::from_fn(|i| {
                    l::splat(if d == 0.0 {
                        f32::INFINITY
                    } else {
                        NVFP4_MIDS[i] * d
                    })
                });
                let nt0 = l::neg(t[0]);
                for chunk in near(&points, 40).chunks(l::L) {
                    let mut v = [0.0f32; l::L];
                    v[..chunk.len()].copy_from_slice(chunk);
                    let got = l::lanes_i(k::nvfp4_codes(l::from_lanes(v), &t, nt0));
                    for (x, g) in v.iter().zip(got) {
                        if x.is_finite() && x.abs() <= 20.0 * d.max(1e-30) {
                            let want = e2m1::best_index(*x, d);
                            assert_eq!(g as u8, want, "d = {d:e}, x = {x:e}, {} lanes", l::L);
                        }
                    }
                }
            }
        });
    }

    /// `code15` against `q4_k`'s `code(nearest_int(v))`, i.e. `nearest_int` clamped.
    #[test]
    fn q4_k_codes_match_nearest_int() {
        let mut points: Vec<f32> = (0..=16).map(|k| k as f32 + 0.5).collect();
        points.extend((0..=16).map(|k| k as f32));
        points.extend([4_194_304.0, 5.0e6, 12_582_912.0, 16_777_216.0, 3e38]);
        let xs = near(&points, 50);
        let xs = &xs[..];
        each_level!(|l, _k, xs: &[f32]| {
            for chunk in xs.chunks(l::L) {
                let mut v = [0.0f32; l::L];
                v[..chunk.len()].copy_from_slice(chunk);
                let got = l::lanes(l::code15(l::from_lanes(v)));
                for (x, g) in v.iter().zip(got) {
                    let want = nearest_int(*x).clamp(0, 15) as f32;
                    assert_eq!(g, want, "{x:e}, {} lanes", l::L);
                }
            }
        });
    }

    /// The vector UE4M3 encoding and decoding against the reference's, near every boundary of
    /// the encoding (every byte's value and the midpoints, 2^-10, 2^-6, 248, 256, 448) and on a
    /// sweep of all magnitudes.
    #[test]
    fn ue4m3_vector_encoding_matches_the_reference() {
        let mut points: Vec<f32> = (0..=0x7eu8).map(|b| 2.0 * nvfp4::ue4m3_to_f32(b)).collect();
        points.extend((0..0x7eu8).map(|b| nvfp4::ue4m3_to_f32(b) + nvfp4::ue4m3_to_f32(b + 1)));
        points.extend([1.0 / 1024.0, 1.0 / 64.0, 248.0, 256.0, 448.0, 1.0 / 512.0]);
        let mut xs: Vec<f32> = near(&points, 40)
            .into_iter()
            .filter(|v| (0.0..=448.0).contains(v))
            .collect();
        xs.extend((0..=448 * 64).map(|i| i as f32 / 64.0));
        xs.extend(
            (1..2000)
                .map(|i| f32::from_bits(i * 0x0004_0000))
                .filter(|v| *v <= 448.0),
        );
        let xs = &xs[..];
        each_level!(|l, k, xs: &[f32]| {
            for chunk in xs.chunks(l::L) {
                let mut v = [0.0f32; l::L];
                v[..chunk.len()].copy_from_slice(chunk);
                let got = l::lanes_i(k::ue4m3_encode(l::from_lanes(v)));
                for (x, g) in v.iter().zip(got) {
                    let want = nvfp4::fp32_to_ue4m3(*x);
                    assert_eq!(
                        g as u8,
                        want,
                        "{x:e} ({:#010x}), {} lanes",
                        x.to_bits(),
                        l::L
                    );
                }
            }
            for b in (0..=0x7e).collect::<Vec<i32>>().chunks(l::L) {
                let mut v = [0i32; l::L];
                v[..b.len()].copy_from_slice(b);
                let got = l::lanes(k::ue4m3_decode(l::bits_i(l::from_lanes(
                    v.map(|b| f32::from_bits(b as u32)),
                ))));
                for (b, g) in v.iter().zip(got) {
                    let want = nvfp4::ue4m3_to_f32(*b as u8);
                    assert_eq!(g.to_bits(), want.to_bits(), "byte {b:#04x}, {} lanes", l::L);
                }
            }
        });
    }
}
