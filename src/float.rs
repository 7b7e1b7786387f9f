//! float16 and bfloat16 data: the element types, the exact conversions, and the chunk loops that
//! let every family take half-precision input and return half-precision output.
//!
//! The rule every `_from` / `_into` function follows: an input is widened to float32 exactly
//! (every float16 and bfloat16 value is a float32 value), then the float32 rules apply, so the
//! result is bit for bit what the float32 function returns on the widened buffer; an output is
//! the float32 result rounded once to the output type, to nearest, ties to even, as a C cast does
//! (a float16 overflow gives ±infinity; bfloat16 has float32's range).
//!
//! Half-precision data never goes through a whole-buffer float32 copy: the loops in
//! `crate::kernels::chunks` widen (or narrow) one chunk at a time in a buffer on the stack, small
//! enough to stay in the L1 cache, and run the float32 kernel of the active SIMD level on it.

use core::mem::MaybeUninit;
use core::ops::Range;

/// An element type of float buffers. The discriminants are the C constants `QUANTIZE_FLOAT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FloatType {
    /// IEEE 754 binary32.
    F32 = 0,
    /// IEEE 754 binary16.
    F16 = 1,
    /// bfloat16: the upper 16 bits of a binary32.
    Bf16 = 2,
}

impl FloatType {
    /// Every type, in the order of their C constants.
    pub const ALL: [FloatType; 3] = [FloatType::F32, FloatType::F16, FloatType::Bf16];

    /// The type whose C constant is `v`, or `None` for an unknown value.
    pub fn from_raw(v: u32) -> Option<FloatType> {
        FloatType::ALL.into_iter().find(|t| *t as u32 == v)
    }

    /// Bytes per element (also the alignment a buffer of this type needs): 4, 2, 2.
    pub const fn size(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F16 | FloatType::Bf16 => 2,
        }
    }

    /// "f32", "f16" or "bf16".
    pub const fn name(self) -> &'static str {
        match self {
            FloatType::F32 => "f32",
            FloatType::F16 => "f16",
            FloatType::Bf16 => "bf16",
        }
    }
}

/// An input buffer of floats of any [`FloatType`]; half-precision values as their bit patterns.
#[derive(Debug, Clone, Copy)]
pub enum Floats<'a> {
    /// binary32 values.
    F32(&'a [f32]),
    /// binary16 bit patterns.
    F16(&'a [u16]),
    /// bfloat16 bit patterns.
    Bf16(&'a [u16]),
}

impl<'a> Floats<'a> {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Floats::F32(s) => s.len(),
            Floats::F16(s) | Floats::Bf16(s) => s.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn float_type(&self) -> FloatType {
        match self {
            Floats::F32(_) => FloatType::F32,
            Floats::F16(_) => FloatType::F16,
            Floats::Bf16(_) => FloatType::Bf16,
        }
    }

    /// The values in `r` (panics if out of bounds, like slicing).
    pub fn slice(&self, r: Range<usize>) -> Floats<'a> {
        match *self {
            Floats::F32(s) => Floats::F32(&s[r]),
            Floats::F16(s) => Floats::F16(&s[r]),
            Floats::Bf16(s) => Floats::Bf16(&s[r]),
        }
    }

    /// The first `n` values, or `None` when there are fewer.
    pub fn get(&self, n: usize) -> Option<Floats<'a>> {
        (n <= self.len()).then(|| self.slice(0..n))
    }
}

/// An output buffer of floats of any [`FloatType`].
#[derive(Debug)]
pub enum FloatsMut<'a> {
    /// binary32 values.
    F32(&'a mut [f32]),
    /// binary16 bit patterns.
    F16(&'a mut [u16]),
    /// bfloat16 bit patterns.
    Bf16(&'a mut [u16]),
}

impl FloatsMut<'_> {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            FloatsMut::F32(s) => s.len(),
            FloatsMut::F16(s) | FloatsMut::Bf16(s) => s.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same buffer as possibly uninitialised memory, for the `_uninit` functions.
    pub fn as_uninit(&mut self) -> FloatsUninit<'_> {
        match self {
            FloatsMut::F32(s) => FloatsUninit::F32(crate::out::uninit(s)),
            FloatsMut::F16(s) => FloatsUninit::F16(crate::out::uninit(s)),
            FloatsMut::Bf16(s) => FloatsUninit::Bf16(crate::out::uninit(s)),
        }
    }
}

/// An output buffer of floats of any [`FloatType`] in possibly uninitialised memory.
#[derive(Debug)]
pub enum FloatsUninit<'a> {
    /// binary32 values.
    F32(&'a mut [MaybeUninit<f32>]),
    /// binary16 bit patterns.
    F16(&'a mut [MaybeUninit<u16>]),
    /// bfloat16 bit patterns.
    Bf16(&'a mut [MaybeUninit<u16>]),
}

impl FloatsUninit<'_> {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            FloatsUninit::F32(s) => s.len(),
            FloatsUninit::F16(s) | FloatsUninit::Bf16(s) => s.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values in `r` (panics if out of bounds, like slicing).
    pub fn slice_mut(&mut self, r: Range<usize>) -> FloatsUninit<'_> {
        match self {
            FloatsUninit::F32(s) => FloatsUninit::F32(&mut s[r]),
            FloatsUninit::F16(s) => FloatsUninit::F16(&mut s[r]),
            FloatsUninit::Bf16(s) => FloatsUninit::Bf16(&mut s[r]),
        }
    }
}

/// The float32 value of a float16 bit pattern (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    crate::reference::formats::fp16::f16_to_f32(h)
}

/// The float16 bit pattern nearest to `x`, ties to even (±infinity past 65504, NaN stays NaN).
pub fn f32_to_f16(x: f32) -> u16 {
    crate::reference::formats::fp16::f32_to_f16(x)
}

/// The float32 value of a bfloat16 bit pattern (exact: the pattern is the upper half).
#[inline]
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// The bfloat16 bit pattern nearest to `x`, ties to even (NaN stays a quiet NaN of its sign).
#[inline]
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x0040) as u16;
    }
    // Add just under half a unit of the kept part, plus one when the kept part is odd: the
    // carry rounds up exactly when the dropped half is above the midpoint, or on it with an odd
    // kept part. No overflow: the largest non-NaN pattern is 0xff80_0000.
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The scalar conversions: the reference the SIMD levels' versions are tested against.
pub(crate) mod scalar {
    use core::mem::MaybeUninit;

    pub(crate) fn widen_f16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
        for (d, &h) in dst.iter_mut().zip(src) {
            d.write(super::f16_to_f32(h));
        }
    }

    pub(crate) fn widen_bf16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
        for (d, &h) in dst.iter_mut().zip(src) {
            d.write(super::bf16_to_f32(h));
        }
    }

    pub(crate) fn narrow_f16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
        for (d, &v) in dst.iter_mut().zip(src) {
            d.write(super::f32_to_f16(v));
        }
    }

    pub(crate) fn narrow_bf16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
        for (d, &v) in dst.iter_mut().zip(src) {
            d.write(super::f32_to_bf16(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_type_table() {
        for (i, t) in FloatType::ALL.into_iter().enumerate() {
            assert_eq!(FloatType::from_raw(i as u32), Some(t));
        }
        assert_eq!(FloatType::from_raw(3), None);
        assert_eq!(FloatType::from_raw(u32::MAX), None);
        assert_eq!(
            FloatType::ALL.map(FloatType::size),
            [4, 2, 2],
            "element sizes"
        );
    }

    #[test]
    fn bf16_widening_is_the_upper_half() {
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc000), -2.0);
        assert_eq!(bf16_to_f32(0x7f80), f32::INFINITY);
        assert!(bf16_to_f32(0x7fc1).is_nan());
        assert_eq!(bf16_to_f32(0x0001).to_bits(), 0x0001_0000); // a float32 subnormal
    }

    #[test]
    fn bf16_narrowing_rounds_to_nearest_even() {
        // Exactly representable values pass through.
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(f32_to_bf16(-0.0), 0x8000);
        // 1 + 2^-8 is the midpoint between 1 and 1 + 2^-7: ties to the even pattern 0x3f80.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        // 1 + 3 * 2^-8 is the midpoint above 0x3f81 (odd): rounds up to 0x3f82.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        // Just above / below a midpoint.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_7fff)), 0x3f81);
        // The largest float32 rounds up to infinity (its dropped half is above the midpoint).
        assert_eq!(f32_to_bf16(f32::MAX), 0x7f80);
        assert_eq!(f32_to_bf16(f32::NEG_INFINITY), 0xff80);
        let nan = f32_to_bf16(f32::from_bits(0x7f80_0001));
        assert!(
            bf16_to_f32(nan).is_nan(),
            "a signalling NaN stays NaN: {nan:#x}"
        );
    }

    #[test]
    fn bf16_narrowing_matches_exact_arithmetic() {
        // Compare with rounding done in f64: the two bfloat16 neighbours of x and which is nearer.
        let mut s = 0x9e37_79b9u32;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let x = f32::from_bits(s);
            if !x.is_finite() {
                continue;
            }
            let lo = f32::from_bits(s & 0xffff_0000);
            let hi = f32::from_bits((s & 0xffff_0000) + 0x1_0000);
            if hi.is_infinite() {
                continue; // the overflow boundary is tested above
            }
            let got = f32_to_bf16(x);
            let dlo = (f64::from(x) - f64::from(lo)).abs();
            let dhi = (f64::from(hi) - f64::from(x)).abs();
            let want = if dlo < dhi || (dlo == dhi && (s >> 16) & 1 == 0) {
                lo.to_bits() >> 16
            } else {
                hi.to_bits() >> 16
            } as u16;
            assert_eq!(got, want, "x = {x:e} ({s:#010x})");
        }
    }
}
