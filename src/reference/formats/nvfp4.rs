//! NVFP4: 64 values in 36 bytes, four sub-blocks of 16 values, each with its own UE4M3 scale.
//!
//! Layout: bytes 0..4 are the UE4M3 scale bytes of sub-blocks 0..4; bytes `4 + 8s .. 12 + 8s`
//! hold sub-block `s`'s E2M1 (4-bit float) codes, byte `j` of them carrying element `16s + j` in its low
//! nibble and element `16s + 8 + j` in its high nibble. The codes index
//! [`super::e2m1::KVALUES`] (the E2M1 values doubled), and ggml's scale decoding returns half
//! the UE4M3 value, so `x ≈ KVALUES[q] * (UE4M3 value / 2)`.
//!
//! What ggml's `ggml_quantize_chunk` writes (`quantize_nvfp4`, which ignores any importance
//! matrix and runs `quantize_row_nvfp4_ref`), sub-block by sub-block, and what the bytes depend
//! on:
//! - `amax` is the largest `|x|` of the 16 values, and the scale byte is ggml's UE4M3 encoding
//!   of `amax / 6.0` (a float32 division), see [`fp32_to_ue4m3`]. That encoding is not a
//!   round-to-nearest conversion: it rounds the mantissa half away from zero by looking at one
//!   bit; it sends every value from 256 up (and from 248, by rounding up into the top binade)
//!   to 0x7E (448), never using 0x78..=0x7D; and below 2^-6 it takes `(int)(v * 512 + 0.5)`
//!   in float32, capped at 7, so that values from 7.5 * 2^-9 up to 2^-6 get 0x07 instead of
//!   rounding up to 0x08, and the float addition can round a value just below 2^-10 up to 0x01.
//! - Each code is the E2M1 nearest-value search with the decoded scale `d` (half the UE4M3
//!   value): the first entry of least `|KVALUES[i] * d - x|` ([`super::e2m1::best_index`]).
//!   When the scale rounded down, the largest values saturate at `±12 d`, as in ggml; that is
//!   ordinary rounding, not an error.
//!
//! Our contract where ggml clamps instead: NaN or infinity anywhere in the block is
//! [`Error::NonFinite`], checked first. A block with a sub-block where `amax / 6.0 > 448.0`,
//! evaluated in float32 as ggml evaluates it before clamping its argument to 448, is
//! [`Error::ValueOutOfRange`]. For finite `amax` that condition is exactly `amax > 2688.0`:
//! 2688 / 6 is 448 exactly, and the next float32 above 2688 (2688 + 2^-12) divided by 6 rounds
//! to the float above 448. Every other block is ggml's bytes.
//!
//! Dequantization (`dequantize_row_nvfp4`) accepts every byte, as ggml does: `y = KVALUES[q] *
//! d`, one rounding, with `d` ggml's decoding of the scale byte ([`ue4m3_to_f32`]), which reads
//! only the low seven bits except that 0x7F alone is taken as zero: so 0x80 is zero, 0xFF is 240
//! (half of 480) and every other byte with the top bit set decodes as that byte minus 0x80.

use super::e2m1::{best_index, KVALUES};
use crate::{Error, Result};

/// Values per block (ggml's `QK_NVFP4`).
pub(crate) const ELEMENTS: usize = 64;

/// Bytes per block.
pub(crate) const BYTES: usize = 36;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "nvfp4",
    elements: ELEMENTS,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// Values per sub-block (ggml's `QK_NVFP4_SUB`), one scale byte each.
const SUB: usize = 16;

/// Sub-blocks per block.
const NSUB: usize = ELEMENTS / SUB;

/// The largest UE4M3 value: a sub-block's `amax / 6` above it is out of range.
const UE4M3_MAX: f32 = 448.0;

/// 2^k for -126 <= k <= 127, from its bits (exact).
#[inline]
const fn pow2(k: i32) -> f32 {
    f32::from_bits(((127 + k) as u32) << 23)
}

/// ggml's UE4M3 decoding, halved (`ggml_ue4m3_to_fp32`): 0 for bytes 0 and 0x7F; otherwise,
/// with `e` bits 3..7 and `m` bits 0..3 of the byte (bit 7 ignored), `m * 2^-10` when `e` is 0
/// and `(8 + m) * 2^(e - 11)` otherwise. Every result is exact in float32.
#[inline]
pub(crate) const fn ue4m3_to_f32(b: u8) -> f32 {
    if b == 0 || b == 0x7f {
        return 0.0;
    }
    let e = ((b >> 3) & 0x0f) as i32;
    let m = (b & 0x07) as f32;
    if e == 0 {
        m * pow2(-10)
    } else {
        (8.0 + m) * pow2(e - 11)
    }
}

/// [`ue4m3_to_f32`] of every byte, for the dequantizers' one load per sub-block (the function
/// branches on the byte).
pub(crate) static UE4M3_VALUES: [f32; 256] = {
    let mut t = [0.0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = ue4m3_to_f32(b as u8);
        b += 1;
    }
    t
};

/// ggml's UE4M3 encoding (`ggml_fp32_to_ue4m3`), for any float32 `v`:
/// - `v` NaN, zero or negative: 0;
/// - `v` above 448 is first replaced by 448;
/// - below 2^-6 (UE4M3's subnormal range): `m = (int)(v * 512 + 0.5)`, each operation rounded to
///   float32, then 0 if `m` is 0 and 7 if `m` is above 7, else `m`;
/// - otherwise exponent `e = E + 7` from the float32 exponent `E`, mantissa the top three
///   float32 mantissa bits plus the fourth (round half up on the bits); a mantissa carry bumps
///   the exponent; an exponent of 15 or more (so every `v` from 248 up) is 0x7E.
#[inline]
pub(crate) fn fp32_to_ue4m3(v: f32) -> u8 {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    let v = if v > UE4M3_MAX { UE4M3_MAX } else { v };
    let bits = v.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127 + 7;
    if e <= 0 {
        // v < 2^-6, so v * 512 + 0.5 < 8.5: the truncating cast is in range.
        let m = (v * 512.0 + 0.5) as i32;
        return m.min(7) as u8; // m >= 0; m == 0 gives byte 0
    }
    if e >= 15 {
        return 0x7e;
    }
    let mut m = ((bits >> 20) & 0x07) + ((bits >> 19) & 1);
    if m > 7 {
        m = 0;
        e += 1;
        if e >= 15 {
            return 0x7e;
        }
    }
    ((e as u32) << 3 | m) as u8
}

/// Quantizes one block of 64 values (the scalar reference), ggml's bytes exactly.
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element (checked first, over the whole
/// block); [`Error::ValueOutOfRange`] for a block with a sub-block whose `amax / 6.0`, in
/// float32, exceeds 448 (equivalently `amax > 2688.0`), where ggml would clamp the scale and
/// clip.
pub(crate) fn quantize_block(x: &[f32; ELEMENTS]) -> Result<[u8; BYTES]> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }
    let mut out = [0u8; BYTES];
    for s in 0..NSUB {
        let xb = &x[s * SUB..][..SUB];
        let mut amax = 0.0f32;
        for &v in xb {
            if amax < v.abs() {
                amax = v.abs();
            }
        }
        let scaled = amax / 6.0;
        if scaled > UE4M3_MAX {
            return Err(Error::ValueOutOfRange);
        }
        let ue = fp32_to_ue4m3(scaled);
        out[s] = ue;
        let d = ue4m3_to_f32(ue);
        let qs = &mut out[NSUB + s * (SUB / 2)..][..SUB / 2];
        for (j, q) in qs.iter_mut().enumerate() {
            *q = best_index(xb[j], d) | (best_index(xb[j + SUB / 2], d) << 4);
        }
    }
    Ok(out)
}

/// Dequantizes one block: `y = KVALUES[q] * d` with `d` the decoded scale of the value's
/// sub-block, one rounding, as ggml's `dequantize_row_nvfp4`. Every byte pattern is accepted
/// (results are at most 12 * 240 in magnitude), so this never fails; it returns a `Result` like
/// the other formats' dequantizers.
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; ELEMENTS]> {
    let mut y = [0.0f32; ELEMENTS];
    for s in 0..NSUB {
        let d = ue4m3_to_f32(b[s]);
        let qs = &b[NSUB + s * (SUB / 2)..][..SUB / 2];
        let yb = &mut y[s * SUB..][..SUB];
        for (j, &q) in qs.iter().enumerate() {
            yb[j] = f32::from(KVALUES[usize::from(q & 0x0f)]) * d;
            yb[j + SUB / 2] = f32::from(KVALUES[usize::from(q >> 4)]) * d;
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::formats::golden::{block_of, read, read_f32};

    fn cases() -> Vec<(String, usize)> {
        crate::reference::formats::golden::cases("nvfp4")
    }

    /// The sub-blocks ggml clips: some |x| above 6 * 448 = 2688 (see the module doc).
    fn clipped_sub_blocks(x: &[f32; ELEMENTS]) -> Vec<usize> {
        (0..NSUB)
            .filter(|&s| x[s * SUB..][..SUB].iter().any(|v| v.abs() > 2688.0))
            .collect()
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn golden_quantize_matches_ggml_bytes_or_rejects_clipped_blocks() {
        let cases = cases();
        assert!(cases.len() >= 13, "cases listing nvfp4: {cases:?}");
        let mut total = 0;
        for (case, n) in cases {
            let x = read_f32(&format!("{case}.f32"));
            let want = read(&format!("{case}.nvfp4"));
            assert_eq!(x.len(), n, "{case}");
            assert_eq!(want.len(), n / ELEMENTS * BYTES, "{case}");
            let mut clipped = 0;
            for i in 0..n / ELEMENTS {
                let xb: [f32; ELEMENTS] = block_of(&x, i);
                let wb: [u8; BYTES] = block_of(&want, i);
                let got = quantize_block(&xb);
                let clip = clipped_sub_blocks(&xb);
                if !clip.is_empty() {
                    clipped += 1;
                    for &s in &clip {
                        assert_eq!(wb[s], 0x7e, "{case} block {i}: ggml clamped sub-block {s}");
                    }
                    assert_eq!(
                        got,
                        Err(Error::ValueOutOfRange),
                        "{case} block {i}: ggml clipped sub-blocks {clip:?}, ggml {wb:02x?}"
                    );
                    continue;
                }
                let got = got.unwrap_or_else(|e| panic!("{case} block {i}: {e:?}, ggml {wb:02x?}"));
                assert!(
                    got == wb,
                    "{case} block {i} differs:\n ours {got:02x?}\n ggml {wb:02x?}"
                );
                total += 1;
            }
            if ["normal_large", "special_blocks", "superblock_special"].contains(&case.as_str()) {
                assert!(clipped > 0, "{case}: expected blocks ggml clipped");
            }
        }
        assert!(total >= 400, "only {total} blocks compared");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the golden files (Miri runs isolated); tests/blocks_golden.rs too"
    )]
    fn golden_dequantize_matches_ggml_floats() {
        for (case, n) in cases() {
            let bytes = read(&format!("{case}.nvfp4"));
            let want = read_f32(&format!("{case}.nvfp4.deq.f32"));
            assert_eq!(want.len(), n, "{case}");
            for i in 0..n / ELEMENTS {
                let b: [u8; BYTES] = block_of(&bytes, i);
                let w: [f32; ELEMENTS] = block_of(&want, i);
                let got = dequantize_block(&b).expect("every byte pattern is accepted");
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

    /// Every scale byte against ggml's definition evaluated in f64: 0 and 0x7F are zero, bit 7
    /// is ignored, subnormals are m / 512, normals (1 + m / 8) * 2^(e - 7), all halved.
    #[test]
    fn ue4m3_decoding_of_every_byte() {
        for b in 0..=255u8 {
            let want = if b == 0 || b == 0x7f {
                0.0
            } else {
                let e = i32::from((b >> 3) & 15);
                let m = f64::from(b & 7);
                let raw = if e == 0 {
                    m / 512.0
                } else {
                    // 2^(e - 7) from its bits: exact everywhere (Miri perturbs `powi`).
                    (1.0 + m / 8.0) * f64::from_bits(((e - 7 + 1023) as u64) << 52)
                };
                raw * 0.5
            };
            let got = ue4m3_to_f32(b);
            assert_eq!(f64::from(got), want, "{b:#04x}");
            assert!(got.is_sign_positive(), "{b:#04x}");
        }
        assert_eq!(ue4m3_to_f32(0x7e), 224.0);
        assert_eq!(ue4m3_to_f32(0xff), 240.0);
        assert_eq!(ue4m3_to_f32(0x80), 0.0);
        assert_eq!(ue4m3_to_f32(0x38), 0.5);
        assert_eq!(ue4m3_to_f32(0x01), 1.0 / 1024.0);
    }

    #[test]
    fn ue4m3_encoding_quirks() {
        let below = |v: f32| f32::from_bits(v.to_bits() - 1);
        let cases: [(f32, u8); 24] = [
            (0.0, 0),
            (-0.0, 0),
            (-1.0, 0),
            (f32::NAN, 0),
            (1.0, 0x38),
            (1.0625, 0x39),        // halfway between 1 and 1.125: up, not to even
            (below(1.0625), 0x38), // just below halfway
            (1.9375, 0x40),        // mantissa carry: 2.0
            (240.0, 0x77),
            (below(248.0), 0x77),
            (248.0, 0x7e), // rounds into exponent 15: 448, not 256
            (256.0, 0x7e),
            (300.0, 0x7e),
            (448.0, 0x7e),
            (1.0e6, 0x7e),           // clamped to 448 first
            (0.015625, 0x08),        // 2^-6, the smallest normal
            (below(0.015625), 0x07), // (int)(8 - tiny + 0.5) = 8, capped at 7
            (7.5 / 512.0, 0x07),
            (6.4 / 512.0, 0x06),
            (1.0 / 512.0, 0x01),
            (1.0 / 1024.0, 0x01),               // 0.5 + 0.5 = 1
            (below(1.0 / 1024.0), 0x01),        // (0.5 - 2^-25) + 0.5 rounds to 1.0 in float32
            (below(below(1.0 / 1024.0)), 0x00), // (0.5 - 2^-24) + 0.5 is exact, below 1
            (1.0e-40, 0x00),                    // float32 subnormal
        ];
        for (v, want) in cases {
            assert_eq!(fp32_to_ue4m3(v), want, "{v:e} ({:#010x})", v.to_bits());
        }
    }

    #[test]
    fn non_finite_input_is_rejected_first() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 17, 63] {
                let mut x = [1.0e6f32; ELEMENTS]; // would also be out of range
                x[at] = bad;
                assert_eq!(quantize_block(&x), Err(Error::NonFinite), "{bad} at {at}");
            }
        }
    }

    #[test]
    fn clamp_boundary_at_amax_2688() {
        let above = f32::from_bits(2688f32.to_bits() + 1);
        assert_eq!(above, 2688.0 + 1.0 / 4096.0);
        for s in 0..NSUB {
            for sign in [1.0f32, -1.0] {
                let mut x = [0.25f32; ELEMENTS];
                x[s * SUB + 5] = sign * 2688.0;
                let b = quantize_block(&x).expect("amax = 2688 is in range");
                assert_eq!(b[s], 0x7e);
                // 2688 = 12 * 224: code 7 (+12) or 15 (-12), element 5 is a low nibble.
                let code = if sign > 0.0 { 7 } else { 15 };
                assert_eq!(b[NSUB + s * 8 + 5] & 0x0f, code);
                x[s * SUB + 5] = sign * above;
                assert_eq!(
                    quantize_block(&x),
                    Err(Error::ValueOutOfRange),
                    "sub-block {s}"
                );
            }
        }
        // The largest in-range value just below the boundary, and a whole block of them.
        let below = f32::from_bits(2688f32.to_bits() - 1);
        assert!(quantize_block(&[below; ELEMENTS]).is_ok());
        assert_eq!(
            quantize_block(&[above; ELEMENTS]),
            Err(Error::ValueOutOfRange)
        );
    }

    #[test]
    fn layout_by_hand() {
        // Sub-block 2 holds 1.0 at element 32 + 1 and -3.0 at element 32 + 9: amax 3, scale
        // byte for 0.5 is 0x30 (e = 6, m = 0), decoded d = 0.25; 1.0 = 4 * d (code 4), -3.0 =
        // -12 * d (code 15). Everything else is zero: byte 0, codes 0.
        let mut x = [0.0f32; ELEMENTS];
        x[33] = 1.0;
        x[41] = -3.0;
        let b = quantize_block(&x).unwrap();
        let mut want = [0u8; BYTES];
        want[2] = 0x30;
        want[NSUB + 16 + 1] = 0xf4;
        assert_eq!(b, want);
        let y = dequantize_block(&b).unwrap();
        let mut yw = [0.0f32; ELEMENTS];
        yw[33] = 1.0;
        yw[41] = -3.0;
        assert_eq!(y, yw);
    }

    #[test]
    fn dequantize_accepts_every_scale_byte() {
        for s in 0..=255u8 {
            let mut b = [0x77u8; BYTES]; // code 7 (+12) everywhere
            b[..NSUB].copy_from_slice(&[s; NSUB]);
            let y = dequantize_block(&b).unwrap();
            assert!(y.iter().all(|v| v.is_finite() && *v >= 0.0), "{s:#04x}");
        }
        let mut b = [0x77u8; BYTES];
        b[..NSUB].copy_from_slice(&[0xff, 0x7f, 0x80, 0x7e]);
        let y = dequantize_block(&b).unwrap();
        assert_eq!((y[0], y[16], y[32], y[48]), (2880.0, 0.0, 0.0, 2688.0));
    }
}
