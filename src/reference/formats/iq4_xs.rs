//! IQ4_XS: 256 values in 136 bytes, eight sub-blocks of 32 sharing one fp16 super-block scale.
//!
//! Layout (little-endian): fp16 `d` (bytes 0..2); `scales_h`, a u16 holding the two high bits of
//! sub-block `i`'s 6-bit scale at bits `2i..2i+2` (bytes 2..4); `scales_l`, four bytes whose low
//! nibble holds the low four bits of the scale of sub-block `2k` and whose high nibble those of
//! sub-block `2k + 1` (bytes 4..8); then 128 bytes of codes, 16 per sub-block, byte `j` of
//! sub-block `i` holding element `32i + j` in its low nibble and element `32i + 16 + j` in its
//! high nibble. The codes index the non-linear codebook ([`super::nl_codebook`]): `x ≈ d * (ls - 32) * KVALUES[q]` with `ls`
//! the 6-bit scale.
//!
//! What ggml's `ggml_quantize_chunk` writes without an importance matrix (`quantize_iq4_xs`,
//! which runs ggml's shared IQ4 quantizer with a super-block of 256, sub-blocks of 32 and
//! `ntry = 7`), and what the bytes depend on:
//! - Each sub-block gets a float32 scale from the codebook's weighted search, the one the
//!   32-value format runs on its one block (weights `x^2`; ggml computes a `sigma2` too, but it
//!   only enters with importance weights): [`super::nl_codebook::search_scale`], 0 for a sub-block whose largest magnitude is
//!   below 1e-15.
//! - The super-block scale comes from the sub-block scale of largest magnitude (the first one
//!   met, compared with a strict `>`, so a NaN sub-block scale, which the search gives when a
//!   value's square overflows float32, is never chosen; that sub-block then gets l = 0 below and
//!   is stored as zeros, as ggml stores it): `d = -s / 32` in float32. Its fp16 rounding is what is stored; the float32 `d` itself is what the rest
//!   of the computation uses. When every sub-block scale is 0 this is `-0.0`, so ggml stores
//!   the fp16 byte pattern of negative zero (0x8000).
//! - Sub-block `i` gets `l = clamp(nearest_int(id * s_i), -32, 31)` with `id = 1 / d` (0 when
//!   `d` is zero), where ggml's `nearest_int` adds 1.5 * 2^23 in float32 and reads the low
//!   mantissa bits: round half to even for the values met here, see [`nearest_int`]. The stored
//!   6-bit field is `l + 32`.
//! - The codes are then recomputed from the rounded sub-block scale: `dl = d * l` (float32),
//!   `idl = 1 / dl` (0 when `dl` is zero), code = the codebook's nearest-entry search on `idl * x`
//!   ([`super::nl_codebook::best_index`], the upper entry on a tie).
//!
//! Our contract where ggml has no defined behaviour: NaN or infinity in the input is
//! [`Error::NonFinite`]; a block whose fp16 `d`, as ggml rounds it, is infinite or NaN is
//! [`Error::ValueOutOfRange`]. Dequantization (`dequantize_row_iq4_xs`): `dl = d * (ls - 32)`,
//! then `y = dl * KVALUES[q]`, each product rounded to float32; a stored `d` that is infinite or
//! NaN is [`Error::NonFinite`].

use super::common::{nearest_int, read_f16};
use super::fp16::{f16_is_finite, f16_to_f32, f32_to_f16};
use super::nl_codebook::{best_index, search_scale, KVALUES};
use crate::{Error, Result};

/// Values per block (ggml's `QK_K`).
pub(crate) const ELEMENTS: usize = 256;

/// Bytes per block.
pub(crate) const BYTES: usize = 136;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "iq4_xs",
    elements: ELEMENTS,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// Values per sub-block (one 6-bit scale each).
const SUB: usize = 32;

/// Sub-blocks per block.
const NSUB: usize = ELEMENTS / SUB;

/// Offset of the first code byte (after `d`, `scales_h` and `scales_l`).
const QS: usize = 8;

/// A sub-block as the fixed-size array the codebook's search takes.
#[inline]
fn sub_block(x: &[f32; ELEMENTS], ib: usize) -> &[f32; SUB] {
    x[ib * SUB..][..SUB]
        .try_into()
        .expect("a sub-block is SUB values")
}

/// Quantizes one block of 256 values (the scalar reference), ggml's bytes exactly.
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element (checked first);
/// [`Error::ValueOutOfRange`] when the fp16 rounding of the super-block scale `d` is not finite
/// (its float32 value, `-s / 32` with `s` the largest sub-block scale, at or beyond 65520 in
/// magnitude, or NaN).
pub(crate) fn quantize_block(x: &[f32; ELEMENTS]) -> Result<[u8; BYTES]> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }

    let mut scales = [0.0f32; NSUB];
    let mut max_scale = 0.0f32;
    let mut amax_scale = 0.0f32;
    for (ib, s) in scales.iter_mut().enumerate() {
        *s = search_scale(sub_block(x, ib));
        // A sub-block of near-zeros has scale 0, which can never win the strict comparison.
        if s.abs() > amax_scale {
            amax_scale = s.abs();
            max_scale = *s;
        }
    }

    let d = -max_scale / 32.0;
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return Err(Error::ValueOutOfRange);
    }
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };

    let mut out = [0u8; BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    let mut scales_h = 0u16;
    for (ib, &s) in scales.iter().enumerate() {
        let l = nearest_int(id * s).clamp(-32, 31);
        let dl = d * l as f32;
        let idl = if dl != 0.0 { 1.0 / dl } else { 0.0 };
        let xb = sub_block(x, ib);
        let qs = &mut out[QS + ib * (SUB / 2)..][..SUB / 2];
        for (j, q) in qs.iter_mut().enumerate() {
            let lo = best_index(idl * xb[j]) as u8;
            let hi = best_index(idl * xb[j + SUB / 2]) as u8;
            *q = lo | (hi << 4);
        }
        let ls = (l + 32) as u8; // 0..=63
        out[4 + ib / 2] |= (ls & 0x0f) << (4 * (ib % 2));
        scales_h |= u16::from(ls >> 4) << (2 * ib);
    }
    out[2..4].copy_from_slice(&scales_h.to_le_bytes());
    Ok(out)
}

/// Dequantizes one block: per sub-block `dl = d * (ls - 32)`, then `y = dl * KVALUES[q]`, each
/// product rounded to float32, as ggml's `dequantize_row_iq4_xs`.
///
/// Errors: [`Error::NonFinite`] when the stored fp16 `d` is infinite or NaN.
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; ELEMENTS]> {
    let dh = read_f16(b, 0);
    if !f16_is_finite(dh) {
        return Err(Error::NonFinite);
    }
    let d = f16_to_f32(dh);
    let scales_h = read_f16(b, 2); // a little-endian u16, like the fp16 field
    let mut y = [0.0f32; ELEMENTS];
    for ib in 0..NSUB {
        let low = (b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f;
        let high = ((scales_h >> (2 * ib)) & 3) as u8;
        let ls = i32::from(low | (high << 4));
        let dl = d * (ls - 32) as f32;
        let qs = &b[QS + ib * (SUB / 2)..][..SUB / 2];
        let yb = &mut y[ib * SUB..][..SUB];
        for (j, &q) in qs.iter().enumerate() {
            yb[j] = dl * f32::from(KVALUES[usize::from(q & 0x0f)]);
            yb[j + SUB / 2] = dl * f32::from(KVALUES[usize::from(q >> 4)]);
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::formats::golden::{block_of, read, read_f32};

    fn cases() -> Vec<(String, usize)> {
        crate::reference::formats::golden::cases("iq4_xs")
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn golden_quantize_matches_ggml_bytes() {
        let cases = cases();
        assert!(cases.len() >= 11, "cases listing iq4_xs: {cases:?}");
        let mut blocks = 0;
        for (case, n) in cases {
            let x = read_f32(&format!("{case}.f32"));
            let want = read(&format!("{case}.iq4_xs"));
            assert_eq!(x.len(), n, "{case}");
            assert_eq!(want.len(), n / ELEMENTS * BYTES, "{case}");
            for i in 0..n / ELEMENTS {
                let xb: [f32; ELEMENTS] = block_of(&x, i);
                let wb: [u8; BYTES] = block_of(&want, i);
                let got = quantize_block(&xb)
                    .unwrap_or_else(|e| panic!("{case} block {i}: {e:?}, ggml {wb:02x?}"));
                assert!(
                    got == wb,
                    "{case} block {i} differs:\n ours {got:02x?}\n ggml {wb:02x?}"
                );
                blocks += 1;
            }
        }
        assert!(blocks >= 100, "only {blocks} blocks");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn golden_dequantize_matches_ggml_floats() {
        for (case, n) in cases() {
            let bytes = read(&format!("{case}.iq4_xs"));
            let want = read_f32(&format!("{case}.iq4_xs.deq.f32"));
            assert_eq!(want.len(), n, "{case}");
            for i in 0..n / ELEMENTS {
                let b: [u8; BYTES] = block_of(&bytes, i);
                let w: [f32; ELEMENTS] = block_of(&want, i);
                let got = dequantize_block(&b)
                    .unwrap_or_else(|e| panic!("{case} block {i}: {e:?}, bytes {b:02x?}"));
                if let Some(j) = (0..ELEMENTS).find(|&j| got[j].to_bits() != w[j].to_bits()) {
                    panic!(
                        "{case} block {i} element {j}: ours {:e} ({:#010x}), ggml {:e} \
                         ({:#010x}); block bytes {b:02x?}",
                        got[j],
                        got[j].to_bits(),
                        w[j],
                        w[j].to_bits()
                    );
                }
            }
        }
    }

    #[test]
    fn nearest_int_rounds_half_to_even_and_wraps_like_the_bit_trick() {
        assert_eq!(nearest_int(0.0), 0);
        assert_eq!(nearest_int(-0.0), 0);
        assert_eq!(nearest_int(0.5), 0);
        assert_eq!(nearest_int(1.5), 2);
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(-2.5), -2);
        assert_eq!(nearest_int(-31.5), -32);
        assert_eq!(nearest_int(31.49), 31);
        assert_eq!(nearest_int(-32.000_004), -32);
        assert_eq!(nearest_int(4_194_303.0), 4_194_303);
        assert_eq!(nearest_int(f32::INFINITY), -4_194_304);
        assert_eq!(nearest_int(f32::NEG_INFINITY), -4_194_304);
        assert_eq!(nearest_int(f32::NAN), 0);
    }

    #[test]
    fn all_zero_block_stores_negative_zero_scale() {
        let got = quantize_block(&[0.0; ELEMENTS]).unwrap();
        let mut want = [0x88u8; BYTES]; // code 8 (KVALUES[8] = 1) everywhere
        want[..2].copy_from_slice(&[0x00, 0x80]); // fp16 -0.0
        want[2..4].copy_from_slice(&[0xaa, 0xaa]); // every 6-bit scale is 32: high bits 0b10
        want[4..8].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(got, want);
        // -0.0 * (32 - 32) * 1 is -0.0, as in ggml's float arithmetic.
        let y = dequantize_block(&got).unwrap();
        assert!(y.iter().all(|v| v.to_bits() == (-0.0f32).to_bits()));
    }

    #[test]
    fn non_finite_input_is_rejected_first() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 37, 255] {
                let mut x = [1.0e30f32; ELEMENTS]; // would also overflow the fp16 scale
                x[at] = bad;
                assert_eq!(quantize_block(&x), Err(Error::NonFinite), "{bad} at {at}");
            }
        }
    }

    #[test]
    fn fp16_scale_overflow_is_value_out_of_range() {
        // A sub-block whose largest magnitude is m gets a scale near m / 113 or m / 127, and
        // d is that over 32: past 65504 once m exceeds about 2.4e8 to 2.7e8.
        let mut x = [0.0f32; ELEMENTS];
        x[3] = 1.0e9;
        assert_eq!(quantize_block(&x), Err(Error::ValueOutOfRange));
        let mut x = [0.5f32; ELEMENTS];
        x[200] = -3.0e8;
        assert_eq!(quantize_block(&x), Err(Error::ValueOutOfRange));
        // Comfortably inside the range: a block is written.
        let mut x = [0.0f32; ELEMENTS];
        x[3] = 1.0e7;
        assert!(quantize_block(&x).is_ok());
    }

    /// A sub-block holding a value whose square overflows float32 gets a NaN scale from the
    /// search (inf / inf); ggml skips it when choosing `d`, and `nearest_int` of the NaN gives
    /// l = 0, so the sub-block is stored as zeros. The expected bytes are what ggml's C
    /// `quantize_iq4_xs` (ggml-org/ggml at d99724f, built for x86-64) writes for this block.
    #[test]
    fn sub_block_with_overflowing_square_is_zeroed_like_ggml() {
        let mut x = [1.0f32; ELEMENTS];
        x[40] = 1.0e20;
        let mut want = [0xffu8; BYTES]; // code 15 (113) for every 1.0 under l = -32
        want[..8].copy_from_slice(&[0x88, 0x8c, 0x08, 0x00, 0, 0, 0, 0]);
        want[QS + 16..QS + 32].copy_from_slice(&[0x88; 16]); // sub-block 1: l = 0, code 8
        assert_eq!(quantize_block(&x).unwrap(), want);
    }

    #[test]
    fn dequantize_rejects_non_finite_scale() {
        for dh in [0x7c00u16, 0xfc00, 0x7e00, 0xfe01, 0x7c01] {
            let mut b = [0u8; BYTES];
            b[..2].copy_from_slice(&dh.to_le_bytes());
            assert_eq!(dequantize_block(&b), Err(Error::NonFinite), "{dh:#06x}");
        }
        let mut b = [0u8; BYTES];
        b[..2].copy_from_slice(&0x7bffu16.to_le_bytes()); // 65504: finite, accepted
        assert!(dequantize_block(&b).is_ok());
    }

    #[test]
    fn dequantize_layout_by_hand() {
        // d = 0.5; sub-block 0 scale 33 (l = 1), sub-block 1 scale 0 (l = -32), sub-block 7
        // scale 63 (l = 31); the rest 32 (l = 0).
        let mut b = [0u8; BYTES];
        b[..2].copy_from_slice(&0x3800u16.to_le_bytes());
        let ls = [33u8, 0, 32, 32, 32, 32, 32, 63];
        let mut h = 0u16;
        for (i, &s) in ls.iter().enumerate() {
            b[4 + i / 2] |= (s & 15) << (4 * (i % 2));
            h |= u16::from(s >> 4) << (2 * i);
        }
        b[2..4].copy_from_slice(&h.to_le_bytes());
        b[QS] = 0xf0; // sub-block 0: element 0 code 0 (-127), element 16 code 15 (113)
        b[QS + 16 + 1] = 0x08; // sub-block 1: element 33 code 8 (1), element 49 code 0 (-127)
        b[QS + 7 * 16 + 15] = 0x9f; // sub-block 7: element 239 code 15, element 255 code 9
        let y = dequantize_block(&b).unwrap();
        assert_eq!(y[0], -63.5);
        assert_eq!(y[16], 56.5);
        assert_eq!(y[1], -63.5); // code 0 everywhere else in sub-block 0
        assert_eq!(y[33], -16.0);
        assert_eq!(y[49], 2032.0);
        assert_eq!(y[64], 0.0); // l = 0
        assert_eq!(y[239], 113.0 * 15.5);
        assert_eq!(y[255], 13.0 * 15.5);
    }
}
