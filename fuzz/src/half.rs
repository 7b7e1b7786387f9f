//! float16 and bfloat16 for the `_from` / `_into` functions (docs/contract.md §7.2), written
//! here from the IEEE 754 and bfloat16 definitions rather than taken from the library's
//! `crate::float` or the `half` crate, so the fuzz targets check the library's conversions
//! against an independent rendering: widening is exact (NaN payloads kept), narrowing rounds
//! once to nearest, ties to even, and a float16 overflow gives ±infinity.

use crate::draw::{Draw, Mode};
use crate::oracle;

/// `QUANTIZE_FLOAT_F32`, `_F16`, `_BF16` (docs/contract.md §7.2, written out).
pub const F32: u32 = 0;
pub const F16: u32 = 1;
pub const BF16: u32 = 2;

/// Bytes per element of a valid type (also its alignment); `None` for an unknown type.
pub fn size(t: u32) -> Option<usize> {
    match t {
        F32 => Some(4),
        F16 | BF16 => Some(2),
        _ => None,
    }
}

/// A float type as C may pass it: mostly F16 or BF16, sometimes F32, now and then an unknown
/// value (just past the end, large, any u32).
pub fn draw_type(d: &mut Draw) -> u32 {
    match d.byte() % 16 {
        0..=5 => F16,
        6..=11 => BF16,
        12 | 13 => F32,
        14 => [3, 4, 99, 0x7FFF_FFFF, 0x8000_0000, u32::MAX][d.byte() as usize % 6],
        _ => d.u32(),
    }
}

/// binary16 bits to f32, exactly; a NaN keeps its sign and payload (shifted into the top of
/// the f32 mantissa, as a hardware conversion does).
pub fn f16_to_f32(h: u16) -> f32 {
    if h & 0x7C00 == 0x7C00 && h & 0x03FF != 0 {
        let sign = u32::from(h & 0x8000) << 16;
        return f32::from_bits(sign | 0x7F80_0000 | (u32::from(h & 0x03FF) << 13));
    }
    oracle::f16_to_f32(h)
}

/// bfloat16 bits to f32: the upper half of a binary32 (exact by definition).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// f32 to binary16, to nearest, ties to even; ±Inf stays, overflow gives ±Inf. `None` for a
/// NaN (its payload is the library's choice: any NaN is accepted).
pub fn f32_to_f16(x: f32) -> Option<u16> {
    if x.is_nan() {
        None
    } else if x.is_infinite() {
        Some(if x < 0.0 { 0xFC00 } else { 0x7C00 })
    } else {
        Some(oracle::f32_to_f16(x))
    }
}

/// f32 to bfloat16, to nearest, ties to even (on the bits: add half an ulp of the kept part,
/// minus one unless the kept part is odd, and truncate; an overflow carries into the exponent
/// and gives ±Inf). `None` for a NaN.
pub fn f32_to_bf16(x: f32) -> Option<u16> {
    if x.is_nan() {
        return None;
    }
    let b = x.to_bits();
    let lsb = (b >> 16) & 1;
    Some((b.wrapping_add(0x7FFF + lsb) >> 16) as u16)
}

/// Widens element `i` of a buffer of type `t` (F32, F16 or BF16) held in `bytes`.
pub fn widen(t: u32, bytes: &[u8], i: usize) -> f32 {
    match t {
        F32 => f32::from_ne_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes")),
        _ => {
            let h = u16::from_ne_bytes([bytes[2 * i], bytes[2 * i + 1]]);
            if t == F16 {
                f16_to_f32(h)
            } else {
                bf16_to_f32(h)
            }
        }
    }
}

/// The bits of `x` rounded once to type `t` (F32: its own bits), `None` for a NaN.
pub fn narrow(t: u32, x: f32) -> Option<u32> {
    match t {
        F32 => (!x.is_nan()).then(|| x.to_bits()),
        F16 => f32_to_f16(x).map(u32::from),
        _ => f32_to_bf16(x).map(u32::from),
    }
}

/// Element `i` of a buffer of type `t` as raw bits.
pub fn bits(t: u32, bytes: &[u8], i: usize) -> u32 {
    match t {
        F32 => u32::from_ne_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes")),
        _ => u32::from(u16::from_ne_bytes([bytes[2 * i], bytes[2 * i + 1]])),
    }
}

/// Whether raw bits of type `t` are a NaN.
pub fn is_nan(t: u32, b: u32) -> bool {
    match t {
        F32 => f32::from_bits(b).is_nan(),
        F16 => b & 0x7C00 == 0x7C00 && b & 0x03FF != 0,
        _ => b & 0x7F80 == 0x7F80 && b & 0x007F != 0,
    }
}

/// Half-precision patterns worth hitting: ±0, the smallest and largest subnormals, the
/// smallest normal, the largest finite, ±Inf, quiet and signalling NaNs with payloads; for
/// bfloat16 also 2^126 and the value just above it (the int4 quantizers' range limit, §2.8).
fn special(d: &mut Draw, t: u32, wild: bool) -> u16 {
    let finite: &[u16] = if t == F16 {
        &[
            0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00, 0x3555,
        ]
    } else {
        &[
            0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7E80, 0x7E81,
        ]
    };
    let other: &[u16] = if t == F16 {
        &[0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0xFD55, 0x7FFF]
    } else {
        &[0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0xFFAA, 0x7FFF]
    };
    if wild && d.chance(90) {
        other[d.byte() as usize % other.len()]
    } else {
        finite[d.byte() as usize % finite.len()]
    }
}

/// The bytes of `count` values of type `t` (F32, F16 or BF16) in `mode`: Clean and Finite
/// values are f32 draws rounded to the type (those that overflow become 0) and finite special
/// patterns; Wild adds raw bit patterns, infinities and NaNs.
pub fn draw_values(d: &mut Draw, t: u32, count: usize) -> Vec<u8> {
    let (e, mode) = (d.scale_exp(), d.mode());
    // Half types have few exponents: keep most arrays within them.
    let e = if t == F32 || d.chance(64) {
        e
    } else {
        e.clamp(-20, 10)
    };
    let mut out = Vec::with_capacity(count * 4);
    for _ in 0..count {
        if t == F32 {
            out.extend_from_slice(&d.float(e, mode).to_ne_bytes());
            continue;
        }
        let wild = mode == Mode::Wild;
        let h = match d.byte() % 16 {
            0 => special(d, t, wild),
            1 if wild => d.u16(),
            _ => {
                let v = narrow(t, d.float(e, mode)).unwrap_or(0) as u16;
                let inf = if t == F16 { 0x7C00 } else { 0x7F80 };
                if !wild && v & inf == inf {
                    0
                } else {
                    v
                }
            }
        };
        out.extend_from_slice(&h.to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_by_hand() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0xFC00), f32::NEG_INFINITY);
        assert_eq!(f16_to_f32(0x7E01).to_bits(), 0x7FC0_2000);
        assert_eq!(bf16_to_f32(0x3F80), 1.0);
        assert_eq!(f32_to_f16(65520.0), Some(0x7C00)); // halfway to 2^16: even is Inf
        assert_eq!(f32_to_f16(65519.99), Some(0x7BFF));
        assert_eq!(f32_to_f16(-0.0), Some(0x8000));
        assert_eq!(f32_to_f16(2f32.powi(-25)), Some(0)); // tie to even 0
        assert_eq!(f32_to_f16(3.0 * 2f32.powi(-25)), Some(2)); // tie to even 2
        assert_eq!(f32_to_f16(f32::NAN), None);
        assert_eq!(f32_to_bf16(1.0 + 2f32.powi(-8)), Some(0x3F80)); // tie to even
        assert_eq!(f32_to_bf16(1.0 + 3.0 * 2f32.powi(-8)), Some(0x3F82));
        assert_eq!(f32_to_bf16(f32::MAX), Some(0x7F80));
        assert_eq!(f32_to_bf16(f32::NEG_INFINITY), Some(0xFF80));
    }
}
