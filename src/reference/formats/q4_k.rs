//! Q4_K: 256 values in 144 bytes (a "super-block" of eight 32-value sub-blocks): fp16 super-scale
//! `d`, fp16 super-minimum `dmin`, 12 bytes holding a 6-bit scale `sc[j]` and a 6-bit minimum
//! `m[j]` per sub-block, then 128 bytes of 4-bit codes (`x ≈ (d * sc[j]) * q - (dmin * m[j])`).
//!
//! GGUF files hold what ggml's `ggml_quantize_chunk` writes without an importance matrix:
//! `quantize_row_q4_K_ref`. The bytes depend on these details of it, all in float32 with every
//! operation rounded on its own (the x86-64 build has no FMA contraction):
//!
//! - Per sub-block, weights `w[i] = sqrt((Σ x²) / 32) + |x[i]|` (squares summed in order).
//! - `make_qkx2_quants` with 15 levels: `min` is the smallest element but at most 0, `max` the
//!   largest (strict comparisons, first wins); equal `max` and `min` give scale 0, codes 0.
//!   Otherwise a first fit from `iscale = 15 / (max - min)`, `scale = 1 / iscale`, scored by the
//!   weighted squared error of `scale * q + min - x`; then 21 candidate inverse scales
//!   `(-1 + 0.1 * k + 15) / (max - min)`, k = 0..=20, each giving codes
//!   `clamp(nearest_int(iscale * (x - min)), 0, 15)` and a weighted least-squares scale and
//!   offset (offset forced to 0, with the scale refit through the origin, when the fit wants a
//!   positive offset). A candidate replaces the current fit only when its error is strictly
//!   smaller, and then its offset replaces `min`: later candidates divide by `max - offset` and
//!   subtract the offset, not the sub-block's minimum (this decides bytes in many blocks). The
//!   sub-block's minimum is the negated final offset.
//! - The largest sub-block scale and the largest minimum (strict comparisons from 0) become
//!   `d = fp16(max_scale / 63)` and `dmin = fp16(max_min / 63)`; each sub-block's 6-bit values
//!   are `nearest_int((63 / max_scale) * scale[j])` (0 when `max_scale` is 0), converted to a
//!   byte modulo 256 and capped at 63, and likewise for the minima.
//! - Packing of the 12 scale bytes: for sub-blocks 0..4, byte `j` holds the scale and byte
//!   `j + 4` the minimum in their low six bits; for sub-blocks 4..8, byte `j + 4` holds the low
//!   four bits of the scale (low nibble) and of the minimum (high nibble), and the top two bits
//!   of the scale and of the minimum go into the top two bits of bytes `j - 4` and `j`.
//! - Second pass: with `D = fp16→f32(d) * sc[j]` and `M = fp16→f32(dmin) * m[j]`, each code is
//!   `clamp(nearest_int((x + M) / D), 0, 15)`; a sub-block with `D == 0` keeps the codes of its
//!   first-pass fit instead.
//! - `nearest_int(v)` adds 12582912 (1.5 · 2^23) in float32 and reads the low 23 bits of the
//!   sum, minus 2^22: round half to even for |v| < 2^22; for larger values and infinities it
//!   returns whatever those bits say (infinity gives -2^22, which the clamps turn into 0).
//! - Non-finite intermediates from finite input, reproduced as ggml gets them on x86-64: when
//!   `max - min` is below 15 / `f32::MAX` (subnormal-sized sub-blocks) the inverse scale is
//!   infinite, `∞ · 0` is a NaN whose `nearest_int` is 0 and `∞ · x` gives -2^22, so every code
//!   is 0; when `63 / max_scale` overflows (`max_scale` below about 1.9e-37) the levels become
//!   `nearest_int(∞)` = -2^22, i.e. byte 0, and `d` is 0 so the first-pass codes stay.
//! - Codes: byte `32 * c + l` of the code area holds element `64 * c + l` in its low nibble and
//!   element `64 * c + 32 + l` in its high nibble.
//!
//! Where ggml has no defined behaviour: NaN or infinity in the input is [`Error::NonFinite`]; a
//! block whose `d` or `dmin` would overflow fp16 is [`Error::ValueOutOfRange`]; dequantizing a
//! block whose `d` or `dmin` is infinite or NaN is [`Error::NonFinite`].

use super::common::{nearest_int, read_f16};
use super::fp16::{f16_is_finite, f16_to_f32, f32_to_f16};
use crate::{Error, Result};

/// Values per super-block (ggml's `QK_K`).
pub(crate) const ELEMENTS: usize = 256;

/// Bytes per super-block.
pub(crate) const BYTES: usize = 144;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "q4_k",
    elements: ELEMENTS,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// Values per sub-block.
const SUB: usize = 32;
/// Sub-blocks per super-block.
const SUBS: usize = ELEMENTS / SUB;
/// Offset of the 12 packed scale/minimum bytes.
const SCALES_AT: usize = 4;
/// Offset of the 128 code bytes.
const CODES_AT: usize = 16;

/// Largest code.
const NMAX: f32 = 15.0;
/// First candidate step and step width of the scale search (ggml's `rmin`, `rdelta`).
const RMIN: f32 = -1.0;
const RDELTA: f32 = 0.1;
/// Last candidate index of the scale search (ggml's `nstep`).
const NSTEP: i32 = 20;
/// Largest 6-bit scale or minimum.
const MAX6: f32 = 63.0;

/// A code from `nearest_int`, clamped to 0..=15.
#[inline]
fn code(l: i32) -> u8 {
    l.clamp(0, 15) as u8
}

/// The fits of the eight sub-blocks: scales, minima (the value subtracted: `x ≈ scale * q -
/// min`) and codes (`codes[i][j]`: element `i` of sub-block `j`).
pub(super) struct Fits {
    pub scale: [f32; SUBS],
    pub min: [f32; SUBS],
    pub codes: [[u8; SUBS]; SUB],
}

/// Lanes: one value per sub-block.
type Lanes = [f32; SUBS];

/// Codes (as floats, 0..=15) of every lane: `code(nearest_int(iscale * (x - min)))`.
#[inline(always)]
fn quantize_lanes(xt: &[Lanes; SUB], iscale: &Lanes, min: &Lanes, q: &mut [Lanes; SUB]) {
    for (qr, xr) in q.iter_mut().zip(xt) {
        for l in 0..SUBS {
            qr[l] = f32::from(code(nearest_int(iscale[l] * (xr[l] - min[l]))));
        }
    }
}

/// ggml's weighted error of every lane: `scale * q + offset - x`, squared, weighted, summed in
/// element order.
#[inline(always)]
fn error_lanes(
    xt: &[Lanes; SUB],
    w: &[Lanes; SUB],
    q: &[Lanes; SUB],
    scale: &Lanes,
    offset: &Lanes,
) -> Lanes {
    let mut err: Lanes = [0.0; SUBS];
    for ((qr, xr), wr) in q.iter().zip(xt).zip(w) {
        for l in 0..SUBS {
            let diff = scale[l] * qr[l] + offset[l] - xr[l];
            err[l] += wr[l] * (diff * diff);
        }
    }
    err
}

/// ggml's `make_qkx2_quants(32, 15, x, w, ..., -1, 0.1, 20, false)` for each sub-block.
///
/// ggml fits the sub-blocks one after the other; every sum in a fit runs over its 32 elements
/// in order, and each search step depends on the best fit so far, so a fit cannot be vectorised
/// within itself. The eight fits are independent, though: here they run side by side, sub-block
/// `j` in lane `j` of every array (`[element][lane]`), each lane doing exactly its fit's float
/// operations in its order, with selects where ggml branches (a branch it does not take only
/// computes values that are then not selected). LLVM vectorises across the lanes.
pub(super) fn fit_sub_blocks(x: &[f32; ELEMENTS]) -> Fits {
    const L: usize = SUBS;
    let mut xt = [[0.0f32; L]; SUB];
    for (i, row) in xt.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = x[SUB * j + i];
        }
    }
    let mut sum_x2: Lanes = [0.0; L];
    for row in &xt {
        for l in 0..L {
            sum_x2[l] += row[l] * row[l];
        }
    }
    let av_x: Lanes = core::array::from_fn(|l| (sum_x2[l] / 32.0).sqrt());
    let mut w = [[0.0f32; L]; SUB];
    for (wr, xr) in w.iter_mut().zip(&xt) {
        for l in 0..L {
            wr[l] = av_x[l] + xr[l].abs();
        }
    }

    let mut min = xt[0];
    let mut max = xt[0];
    let mut sum_w = w[0];
    let mut sum_x: Lanes = core::array::from_fn(|l| w[0][l] * xt[0][l]);
    for (wr, xr) in w.iter().zip(&xt).skip(1) {
        for l in 0..L {
            min[l] = if xr[l] < min[l] { xr[l] } else { min[l] };
            max[l] = if xr[l] > max[l] { xr[l] } else { max[l] };
            sum_w[l] += wr[l];
            sum_x[l] += wr[l] * xr[l];
        }
    }
    for m in &mut min {
        *m = if *m > 0.0 { 0.0 } else { *m };
    }
    // ggml returns at once for a flat sub-block (scale 0, codes 0, this minimum).
    let min0 = min;

    let iscale: Lanes = core::array::from_fn(|l| NMAX / (max[l] - min[l]));
    let mut scale: Lanes = core::array::from_fn(|l| 1.0 / iscale[l]);
    let mut codes = [[0.0f32; L]; SUB];
    quantize_lanes(&xt, &iscale, &min, &mut codes);
    let mut best_error = error_lanes(&xt, &w, &codes, &scale, &min);

    let mut aux = [[0.0f32; L]; SUB];
    for step in 0..=NSTEP {
        // `min` is the offset of the best fit so far, as in ggml (not the sub-block minimum).
        let iscale: Lanes =
            core::array::from_fn(|l| ((RMIN + RDELTA * step as f32) + NMAX) / (max[l] - min[l]));
        quantize_lanes(&xt, &iscale, &min, &mut aux);
        let mut sum_l: Lanes = [0.0; L];
        let mut sum_l2: Lanes = [0.0; L];
        let mut sum_xl: Lanes = [0.0; L];
        for ((qr, xr), wr) in aux.iter().zip(&xt).zip(&w) {
            for l in 0..L {
                sum_l[l] += wr[l] * qr[l];
                sum_l2[l] += wr[l] * qr[l] * qr[l];
                sum_xl[l] += wr[l] * qr[l] * xr[l];
            }
        }
        let det: Lanes = core::array::from_fn(|l| sum_w[l] * sum_l2[l] - sum_l[l] * sum_l[l]);
        let mut this_scale: Lanes =
            core::array::from_fn(|l| (sum_w[l] * sum_xl[l] - sum_x[l] * sum_l[l]) / det[l]);
        let mut this_min: Lanes =
            core::array::from_fn(|l| (sum_l2[l] * sum_x[l] - sum_l[l] * sum_xl[l]) / det[l]);
        for l in 0..L {
            let clip = this_min[l] > 0.0;
            this_min[l] = if clip { 0.0 } else { this_min[l] };
            this_scale[l] = if clip {
                sum_xl[l] / sum_l2[l]
            } else {
                this_scale[l]
            };
        }
        let cur_error = error_lanes(&xt, &w, &aux, &this_scale, &this_min);
        // ggml computes the candidate only when det > 0.
        let better: [bool; L] =
            core::array::from_fn(|l| det[l] > 0.0 && cur_error[l] < best_error[l]);
        for (cr, ar) in codes.iter_mut().zip(&aux) {
            for l in 0..L {
                cr[l] = if better[l] { ar[l] } else { cr[l] };
            }
        }
        for l in 0..L {
            best_error[l] = if better[l] {
                cur_error[l]
            } else {
                best_error[l]
            };
            scale[l] = if better[l] { this_scale[l] } else { scale[l] };
            min[l] = if better[l] { this_min[l] } else { min[l] };
        }
    }

    let flat: [bool; L] = core::array::from_fn(|l| max[l] == min0[l]);
    let mut fits = Fits {
        scale: core::array::from_fn(|l| if flat[l] { 0.0 } else { scale[l] }),
        min: core::array::from_fn(|l| if flat[l] { -min0[l] } else { -min[l] }),
        codes: [[0u8; L]; SUB],
    };
    for (fr, cr) in fits.codes.iter_mut().zip(&codes) {
        for l in 0..L {
            fr[l] = if flat[l] { 0 } else { cr[l] as u8 };
        }
    }
    fits
}

/// The 6-bit scale and minimum of sub-block `j` from the 12 packed bytes (ggml's
/// `get_scale_min_k4`).
#[inline]
fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// Packs eight 6-bit scales and minima into 12 bytes (the inverse of [`scale_min`]).
fn pack_scales(ls: &[u8; SUBS], lm: &[u8; SUBS]) -> [u8; 12] {
    let mut s = [0u8; 12];
    s[..4].copy_from_slice(&ls[..4]);
    s[4..8].copy_from_slice(&lm[..4]);
    for j in 4..SUBS {
        s[j + 4] = (ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4);
        s[j - 4] |= (ls[j] >> 4) << 6;
        s[j] |= (lm[j] >> 4) << 6;
    }
    s
}

/// A 6-bit level as ggml stores it: `nearest_int` converted to a byte (modulo 256), capped at 63.
#[inline]
fn level6(v: f32) -> u8 {
    (nearest_int(v) as u8).min(63)
}

/// Quantizes one super-block of 256 values (the scalar reference).
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element; [`Error::ValueOutOfRange`] when
/// `d` or `dmin` is not a finite fp16 (largest sub-block scale or minimum at or above
/// 63 · 65520, about 4.1e6, which needs values of magnitude around 6e7 for the scale, 4.1e6
/// for a negative minimum).
pub(crate) fn quantize_block(x: &[f32; ELEMENTS]) -> Result<[u8; BYTES]> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }

    let fits = fit_sub_blocks(x);
    let (scales, mins) = (fits.scale, fits.min);
    let mut codes = [0u8; ELEMENTS];
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..SUBS {
        for (i, c) in codes[SUB * j..][..SUB].iter_mut().enumerate() {
            *c = fits.codes[i][j];
        }
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }

    let inv_scale = if max_scale > 0.0 {
        MAX6 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { MAX6 / max_min } else { 0.0 };
    let mut ls = [0u8; SUBS];
    let mut lm = [0u8; SUBS];
    for j in 0..SUBS {
        ls[j] = level6(inv_scale * scales[j]);
        lm[j] = level6(inv_min * mins[j]);
    }
    let packed = pack_scales(&ls, &lm);

    let dh = f32_to_f16(max_scale / MAX6);
    let mh = f32_to_f16(max_min / MAX6);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return Err(Error::ValueOutOfRange);
    }

    // Second pass: codes from the stored (rounded) scales and minima.
    let d_all = f16_to_f32(dh);
    let dmin_all = f16_to_f32(mh);
    for j in 0..SUBS {
        let (sc, m) = scale_min(j, &packed);
        let d = d_all * f32::from(sc);
        if d == 0.0 {
            continue; // ggml keeps the first-pass codes of this sub-block
        }
        let dm = dmin_all * f32::from(m);
        for i in SUB * j..SUB * (j + 1) {
            codes[i] = code(nearest_int((x[i] + dm) / d));
        }
    }

    let mut out = [0u8; BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    out[2..4].copy_from_slice(&mh.to_le_bytes());
    out[SCALES_AT..CODES_AT].copy_from_slice(&packed);
    for c in 0..ELEMENTS / 64 {
        for l in 0..32 {
            out[CODES_AT + 32 * c + l] = codes[64 * c + l] | (codes[64 * c + 32 + l] << 4);
        }
    }
    Ok(out)
}

/// Dequantizes one super-block: `y = (d * sc) * q - (dmin * m)`, each product and the difference
/// rounded on its own (no FMA).
///
/// Errors: [`Error::NonFinite`] when the stored `d` or `dmin` is infinite or NaN.
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; ELEMENTS]> {
    let dh = read_f16(b, 0);
    let mh = read_f16(b, 2);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return Err(Error::NonFinite);
    }
    let d = f16_to_f32(dh);
    let dmin = f16_to_f32(mh);
    let packed = &b[SCALES_AT..CODES_AT];
    let mut y = [0.0f32; ELEMENTS];
    for c in 0..ELEMENTS / 64 {
        let (sc0, m0) = scale_min(2 * c, packed);
        let (sc1, m1) = scale_min(2 * c + 1, packed);
        let (d0, dm0) = (d * f32::from(sc0), dmin * f32::from(m0));
        let (d1, dm1) = (d * f32::from(sc1), dmin * f32::from(m1));
        for l in 0..32 {
            let q = b[CODES_AT + 32 * c + l];
            y[64 * c + l] = d0 * f32::from(q & 0x0f) - dm0;
            y[64 * c + 32 + l] = d1 * f32::from(q >> 4) - dm1;
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::formats::golden;

    fn data(name: &str) -> Vec<u8> {
        golden::read(name)
    }

    fn floats(bytes: &[u8]) -> Vec<f32> {
        assert_eq!(bytes.len() % 4, 0);
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// The cases of cases.json that list q4_k.
    fn q4_k_cases() -> Vec<String> {
        golden::cases("q4_k").into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn golden_cases_are_there() {
        let cases = q4_k_cases();
        for must in ["normal", "tiny", "subnormal_scale", "superblock_special"] {
            assert!(cases.iter().any(|c| c == must), "{must} not in {cases:?}");
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn quantize_equals_ggml_bytes() {
        let mut failures = Vec::new();
        let mut blocks = 0;
        for case in q4_k_cases() {
            let x = floats(&data(&format!("{case}.f32")));
            let want = data(&format!("{case}.q4_k"));
            assert_eq!(x.len() % ELEMENTS, 0, "{case}");
            assert_eq!(want.len(), x.len() / ELEMENTS * BYTES, "{case}");
            let mut bad = Vec::new();
            for (i, (xb, wb)) in x
                .chunks_exact(ELEMENTS)
                .zip(want.chunks_exact(BYTES))
                .enumerate()
            {
                blocks += 1;
                let got = quantize_block(xb.try_into().unwrap());
                match got {
                    Ok(g) if g[..] == wb[..] => {}
                    other => bad.push((i, other)),
                }
            }
            if let Some((i, got)) = bad.first() {
                failures.push(format!(
                    "{case}: {} of {} blocks differ, first block {i}:\n  got  {:02x?}\n  ggml {:02x?}",
                    bad.len(),
                    x.len() / ELEMENTS,
                    got,
                    &want[i * BYTES..][..BYTES],
                ));
            }
        }
        assert!(blocks >= 80, "only {blocks} golden blocks");
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn dequantize_equals_ggml_floats() {
        let mut failures = Vec::new();
        for case in q4_k_cases() {
            let blocks = data(&format!("{case}.q4_k"));
            let want = floats(&data(&format!("{case}.q4_k.deq.f32")));
            assert_eq!(want.len(), blocks.len() / BYTES * ELEMENTS, "{case}");
            for (i, (b, wy)) in blocks
                .chunks_exact(BYTES)
                .zip(want.chunks_exact(ELEMENTS))
                .enumerate()
            {
                let y = match dequantize_block(b.try_into().unwrap()) {
                    Ok(y) => y,
                    Err(e) => {
                        failures.push(format!("{case} block {i}: {e:?}"));
                        break;
                    }
                };
                if let Some(k) = (0..ELEMENTS).find(|&k| y[k].to_bits() != wy[k].to_bits()) {
                    failures.push(format!(
                        "{case} block {i} element {k}: got {:e} ({:#010x}), ggml {:e} ({:#010x}); \
                         block {:02x?}",
                        y[k],
                        y[k].to_bits(),
                        wy[k],
                        wy[k].to_bits(),
                        b
                    ));
                    break;
                }
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn nearest_int_matches_the_magic_number_trick() {
        // Round half to even below 2^22.
        let small = [
            (0.0, 0),
            (-0.0, 0),
            (0.5, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (0.499_999_97, 0),
            (14.5, 14),
            (15.5, 16),
            (-3.7, -4),
            (4_194_303.0, 4_194_303),
            (-4_194_303.0, -4_194_303),
        ];
        for (v, want) in small {
            assert_eq!(nearest_int(v), want, "{v}");
        }
        // 2^22 + 1.5 * 2^23 = 2^24: mantissa 0, so -2^22.
        assert_eq!(nearest_int(4_194_304.0), -4_194_304);
        // 5e6 + 12582912 = 17582912 (exact), mantissa (17582912 - 2^24) / 2 = 402848.
        assert_eq!(nearest_int(5.0e6), 402_848 - 4_194_304);
        // Infinity: mantissa 0.
        assert_eq!(nearest_int(f32::INFINITY), -4_194_304);
        // -infinity and values below -1.5 * 2^23 + ...: -inf has mantissa 0 too.
        assert_eq!(nearest_int(f32::NEG_INFINITY), -4_194_304);
        // -2^24: sum -4194304 = -2^22, mantissa 0.
        assert_eq!(nearest_int(-16_777_216.0), -4_194_304);
        // The default NaN (mantissa 0x400000) gives 0.
        assert_eq!(nearest_int(f32::NAN), 0);
        assert_eq!(nearest_int(0.0 * f32::INFINITY), 0);
    }

    #[test]
    fn level6_wraps_like_a_c_byte_conversion() {
        assert_eq!(level6(63.000_004), 63);
        assert_eq!(level6(62.5), 62);
        assert_eq!(level6(64.0), 63);
        assert_eq!(level6(-1.0), 63); // -1 as uint8_t is 255, capped at 63
        assert_eq!(level6(256.0), 0); // 256 as uint8_t is 0
        assert_eq!(level6(f32::INFINITY), 0); // -2^22 as uint8_t is 0
    }

    #[test]
    fn non_finite_input_is_rejected() {
        let base: [f32; ELEMENTS] = core::array::from_fn(|i| (i as f32 - 128.0) * 0.01);
        for pos in [0, 1, 31, 32, 100, 128, 223, 255] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN] {
                let mut x = base;
                x[pos] = bad;
                assert_eq!(quantize_block(&x), Err(Error::NonFinite), "{bad} at {pos}");
            }
        }
        // NaN wins over a block that would also overflow.
        let mut x = [1.0e30f32; ELEMENTS];
        x[200] = f32::NAN;
        assert_eq!(quantize_block(&x), Err(Error::NonFinite));
        assert!(quantize_block(&base).is_ok());
    }

    #[test]
    fn scale_overflow_is_out_of_range() {
        // Magnitudes of 1e6 fit: the sub-block scale is about 2e6 / 15, d about 2100.
        let x: [f32; ELEMENTS] =
            core::array::from_fn(|i| ((i * 37 % 256) as f32 - 127.5) * (1.0e6 / 127.5));
        let b = quantize_block(&x).expect("1e6 magnitudes fit");
        let d = f16_to_f32(read_f16(&b, 0));
        assert!(d > 1500.0 && d < 3000.0, "d = {d}");
        let y = dequantize_block(&b).unwrap();
        for i in 0..ELEMENTS {
            assert!(
                (y[i] - x[i]).abs() <= 1.0e6 / 15.0 * 1.2,
                "{i}: {} vs {}",
                y[i],
                x[i]
            );
        }

        // One value of 1e8: scale about 1e8 / 15, d about 1.06e5 > 65504.
        let mut x = [0.0f32; ELEMENTS];
        x[77] = 1.0e8;
        assert_eq!(quantize_block(&x), Err(Error::ValueOutOfRange));
        let mut x = [0.5f32; ELEMENTS];
        x[3] = -7.0e7;
        assert_eq!(quantize_block(&x), Err(Error::ValueOutOfRange));

        // Constant -5e6: scale 0, minimum 5e6, dmin = 5e6 / 63 = 79365 overflows fp16.
        assert_eq!(
            quantize_block(&[-5.0e6; ELEMENTS]),
            Err(Error::ValueOutOfRange)
        );
        assert_eq!(
            quantize_block(&[f32::MAX; ELEMENTS]),
            Err(Error::ValueOutOfRange)
        );
        let mut x = [f32::MAX; ELEMENTS];
        x[0] = -f32::MAX; // max - min overflows float32
        assert_eq!(quantize_block(&x), Err(Error::ValueOutOfRange));
    }

    #[test]
    fn constant_negative_block_near_fp16_max() {
        // Constant -4e6: every sub-block has scale 0 and minimum 4e6. d = 0; the 6-bit minimum
        // is nearest_int(63 / 4e6 * 4e6) = 63; dmin = fp16(4e6 / 63 = 63492.06) = 63488 (spacing
        // 32 there), 0x7bc0. With d = 0 the first-pass codes (0) stay.
        let b = quantize_block(&[-4.0e6; ELEMENTS]).unwrap();
        let mut want = [0u8; BYTES];
        want[2..4].copy_from_slice(&0x7bc0u16.to_le_bytes());
        // minimum 63 for every sub-block: bytes 4..8 low six bits; sub-blocks 4..8 put 15 in the
        // high nibble of bytes 8..12 and 3 in the top two bits of bytes 4..8.
        for j in 0..4 {
            want[SCALES_AT + 4 + j] = 63 | (3 << 6);
            want[SCALES_AT + 8 + j] = 0xf0;
        }
        assert_eq!(b, want);
        let y = dequantize_block(&b).unwrap();
        assert!(y
            .iter()
            .all(|&v| v.to_bits() == (-3_999_744.0f32).to_bits()));
    }

    // The three blocks below pin paths the golden files do not reach. Their expected bytes are
    // derived by hand in the comments and were confirmed against ggml's own C functions
    // (`quantize_row_q4_K_ref` and its helpers from src/ggml-quants.c, built with gcc -O3
    // -DNDEBUG on x86-64); a version with a saturating `nearest_int`, or without the infinite
    // intermediates, gives other bytes for each of them.

    /// Sub-block 0 is constant -1e6 (scale 0, minimum 1e6), sub-block 1 is -5000 plus 0, 1 or 2
    /// units of 2^-11 (scale about 6.5e-5, minimum 5000), the rest zero. So d is tiny
    /// (fp16 0x0011, 17 · 2^-24) and sub-block 1 gets level 63, while its minimum level is
    /// nearest_int(63 · 5000 / 1e6 = 0.315) = 0. The second pass then divides about -5000 by
    /// 17 · 63 · 2^-24 ≈ 6.4e-5: quotients near -7.8e7, far outside the magic number's range.
    /// Adding 1.5 · 2^23 gives about -6.6e7, whose low 23 bits minus 2^22 are positive and
    /// above 15, so ggml stores code 15 (a saturating rounding would store 0).
    #[test]
    fn second_pass_quotients_beyond_2_pow_22_follow_the_magic_number() {
        let mut x = [0.0f32; ELEMENTS];
        x[..32].fill(-1.0e6);
        for i in 0..32 {
            x[32 + i] = -5000.0 + (i % 3) as f32 * (1.0 / 2048.0);
        }
        let b = quantize_block(&x).unwrap();
        let mut want = [0u8; BYTES];
        want[..4].copy_from_slice(&[0x11, 0x00, 0xc0, 0x73]); // d = 17 · 2^-24, dmin = 15872
        want[SCALES_AT + 1] = 63; // sub-block 1: scale level 63
        want[SCALES_AT + 4] = 63; // sub-block 0: minimum level 63
                                  // Sub-block 0 (low nibbles of bytes 0..32): scale level 0, so D = 0 and its first-pass
                                  // codes (0, a constant sub-block) stay. Sub-block 1 (high nibbles): 15.
        want[CODES_AT..CODES_AT + 32].fill(0xf0);
        assert_eq!(b, want);
    }

    /// Every sub-block is 0, 1e-38, ..., 15e-38 twice: max - min = 1.5e-37, inverse scale 1e38
    /// (finite), scale 1e-38 = max_scale, and 63 / 1e-38 overflows to infinity, so every scale
    /// level is nearest_int(∞) as a byte = 0. The minima are 0 (as is dmin), d = fp16(1e-38/63)
    /// = 0: the second pass skips every sub-block and the first-pass codes, q = i % 16, stay.
    #[test]
    fn infinite_inverse_super_scale_gives_level_zero() {
        let x: [f32; ELEMENTS] = core::array::from_fn(|i| (i % 16) as f32 * 1.0e-38);
        let b = quantize_block(&x).unwrap();
        let mut want = [0u8; BYTES];
        for l in 0..128 {
            want[CODES_AT + l] = (l % 16) as u8 * 0x11;
        }
        assert_eq!(b, want);
    }

    /// Subnormal inputs: -6..=6 units of 2^-149. max - min = 12 · 2^-149, 15 / that overflows
    /// to infinity; the minimum element gives ∞ · 0 = NaN (code 0), the others ∞ (code 0).
    /// Every candidate of the search has all-zero codes (no fit), so every byte is 0.
    #[test]
    fn subnormal_sub_blocks_give_zero_codes() {
        let unit = f32::from_bits(1);
        let x: [f32; ELEMENTS] =
            core::array::from_fn(|i| ((i * 7) % 13) as f32 * unit - 6.0 * unit);
        assert!(x.iter().any(|&v| v != 0.0));
        assert_eq!(quantize_block(&x), Ok([0u8; BYTES]));
    }

    #[test]
    fn zeros_give_zero_bytes() {
        assert_eq!(quantize_block(&[0.0; ELEMENTS]), Ok([0u8; BYTES]));
        assert_eq!(quantize_block(&[-0.0; ELEMENTS]), Ok([0u8; BYTES]));
    }

    #[test]
    fn dequantize_unpacks_scales_and_codes() {
        let mut b = [0u8; BYTES];
        b[0..2].copy_from_slice(&0x3c00u16.to_le_bytes()); // d = 1
        b[2..4].copy_from_slice(&0x3800u16.to_le_bytes()); // dmin = 0.5
        let scales = [1 | 0x40, 2, 3, 4, 5 | 0x80, 6, 7, 8, 0x9a, 0xbc, 0xde, 0xf0];
        b[4..16].copy_from_slice(&scales);
        for q in &mut b[16..] {
            *q = 0x21; // low nibble 1, high nibble 2
        }
        // (sc, m) per sub-block: 0: (1, 5); 1: (2, 6); 2: (3, 7); 3: (4, 8);
        // 4: (0xa | 1 << 4 = 26, 9 | 2 << 4 = 41); 5: (12, 11); 6: (14, 13); 7: (0, 15).
        // Sub-blocks 0, 2, 4, 6 take low nibbles (q = 1), 1, 3, 5, 7 high nibbles (q = 2).
        let want = [
            1.0 - 2.5,
            4.0 - 3.0,
            3.0 - 3.5,
            8.0 - 4.0,
            26.0 - 20.5,
            24.0 - 5.5,
            14.0 - 6.5,
            0.0 - 7.5,
        ];
        let y = dequantize_block(&b).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(v.to_bits(), f32::to_bits(want[i / 32]), "element {i}");
        }
    }

    #[test]
    fn dequantize_rejects_non_finite_fields_only() {
        for (at, h) in [
            (0, 0x7c00u16),
            (0, 0xfc00),
            (0, 0x7e00),
            (2, 0x7c00),
            (2, 0xfc00),
            (2, 0x7c01),
        ] {
            let mut b = [0u8; BYTES];
            b[at..at + 2].copy_from_slice(&h.to_le_bytes());
            assert_eq!(
                dequantize_block(&b),
                Err(Error::NonFinite),
                "{h:#06x} at {at}"
            );
        }
        // Everything else is accepted, largest finite fields and all-ones scales included:
        // d1 = 65504 * 63, m1 = -65504 * 63, y = d1 * 15 + 65504 * 63 = 65504 * 63 * 16.
        let mut b = [0xffu8; BYTES];
        b[0..2].copy_from_slice(&0x7bffu16.to_le_bytes());
        b[2..4].copy_from_slice(&0xfbffu16.to_le_bytes());
        let y = dequantize_block(&b).unwrap();
        assert!(y.iter().all(|&v| v == 65504.0 * 63.0 * 16.0));
    }
}
