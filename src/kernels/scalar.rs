//! The portable scalar reference: the definition every SIMD kernel is tested against.

use super::{BlockKernels, ErrorSums, Kernels, Range};
use crate::{Error, Result};
use core::mem::MaybeUninit;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::Level::Scalar,
    scan,
    quantize,
    quantize_packed,
    dequantize,
    dequantize_packed,
    find_invalid_code,
    pack,
    unpack,
    error_sums,
    widen_f16: crate::float::scalar::widen_f16,
    widen_bf16: crate::float::scalar::widen_bf16,
    narrow_f16: crate::float::scalar::narrow_f16,
    narrow_bf16: crate::float::scalar::narrow_bf16,
    blocks: &BLOCKS,
};

pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    // Every format runs its own scalar reference (`formats::Spec`).
    quantize_blocks: [None; crate::reference::formats::BlockFormat::COUNT],
    dequantize_blocks: [None; crate::reference::formats::BlockFormat::COUNT],
    quantize_codebook: crate::reference::codebook::scalar::quantize_blocks,
    dequantize_codebook: crate::reference::codebook::scalar::dequantize_blocks,
    quantize_groups: |src, group_size, method, codes, scales, zero_points| {
        crate::kernels::groups::quantize_groups_with(
            &KERNELS,
            src,
            group_size,
            method,
            codes,
            scales,
            zero_points,
        )
    },
    dequantize_groups: |codes, group_size, scales, zero_points, dst| {
        crate::kernels::groups::dequantize_groups_with(
            dequantize_packed,
            codes,
            group_size,
            scales,
            zero_points,
            dst,
        )
    },
};

/// Largest magnitude the int4 quantizers accept (2^126): beyond it the range `hi - lo` or a
/// dequantized end point could overflow float32.
pub(crate) const MAX_INPUT: f32 = 8.507_059e37; // 2^126, exactly

pub(crate) fn scan(src: &[f32]) -> Result<Range> {
    // Blocks of 16 reduced as trees (straight-line code LLVM vectorises; a running minimum with
    // an early exit per element it does not), the validity rule checked once per block; on a bad
    // value the plain loop below finds the first one and its error. Min and max are values, so
    // the order of the comparisons does not matter (nor, by the contract, the sign of a zero).
    const B: usize = 16;
    let (blocks, rest) = src.as_chunks::<B>();
    let mut range = Range {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };
    let mut bad = false;
    for b in blocks {
        let (mut lo, mut hi) = (*b, *b);
        let mut out = [false; B];
        for (o, &v) in out.iter_mut().zip(b) {
            let ok = v.abs() <= MAX_INPUT; // false for NaN
            *o = !ok;
        }
        let mut n = B;
        while n > 1 {
            n /= 2;
            for i in 0..n {
                lo[i] = if lo[i + n] < lo[i] { lo[i + n] } else { lo[i] };
                hi[i] = if hi[i + n] > hi[i] { hi[i + n] } else { hi[i] };
                out[i] |= out[i + n];
            }
        }
        bad |= out[0];
        range.min = if lo[0] < range.min { lo[0] } else { range.min };
        range.max = if hi[0] > range.max { hi[0] } else { range.max };
    }
    if bad {
        return scan_plain(src);
    }
    for &x in rest {
        check_value(x)?;
        if x < range.min {
            range.min = x;
        }
        if x > range.max {
            range.max = x;
        }
    }
    Ok(range)
}

/// [`scan`] element by element: the first bad element's error.
fn scan_plain(src: &[f32]) -> Result<Range> {
    let mut range = Range {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };
    for &x in src {
        check_value(x)?;
        // Plain comparisons (not f32::min/max) so the sign of a zero never matters.
        if x < range.min {
            range.min = x;
        }
        if x > range.max {
            range.max = x;
        }
    }
    Ok(range)
}

/// The per-element validity rule of the int4 quantizers.
#[inline]
pub(crate) fn check_value(x: f32) -> Result<()> {
    if !x.is_finite() {
        Err(Error::NonFinite)
    } else if x.abs() > MAX_INPUT {
        Err(Error::ValueOutOfRange)
    } else {
        Ok(())
    }
}

/// `clamp(rne(x / scale) + zp, -8, 7)`: a true division (ONNX QuantizeLinear), ties to even.
#[inline]
pub(crate) fn quantize_one(x: f32, scale: f32, zp: i8) -> i8 {
    let r = rne(x / scale);
    // What `(r as i32).saturating_add(zp)` and the clamp give, in operations that vectorise on
    // SSE2 (the saturating conversion does not): NaN to 0, and a clamp of r far beyond the
    // codes, where either way the sum clamps to -8 or 7.
    let r = if r.is_nan() { 0.0 } else { r };
    let r = if r > -1024.0 { r } else { -1024.0 };
    let r = if r < 1024.0 { r } else { 1024.0 };
    // SAFETY: -1024 <= r <= 1024, an integer.
    let q = unsafe { r.to_int_unchecked::<i32>() } + i32::from(zp);
    q.clamp(-8, 7) as i8
}

/// `v.round_ties_even()`, in operations SSE2 has (the library call it becomes on baseline x86-64
/// stops every loop around it from vectorising): adding and subtracting 2^23 rounds |v| < 2^23 to
/// an integer, ties to even, in the default rounding mode; larger floats are integers already.
/// NaN stays NaN, the sign of a zero is kept.
#[inline]
pub(crate) fn rne(v: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    let a = v.abs();
    let r = if a < TWO_23 { (a + TWO_23) - TWO_23 } else { a };
    r.copysign(v)
}

/// `(q - zp) as f32 * scale`: one rounding.
#[inline]
pub(crate) fn dequantize_one(q: i8, scale: f32, zp: i8) -> f32 {
    (i32::from(q) - i32::from(zp)) as f32 * scale
}

/// Two codes in one byte: `lo` in bits 0..4, `hi` in bits 4..8, two's complement nibbles.
#[inline]
pub(crate) fn pack_pair(lo: i8, hi: i8) -> u8 {
    (lo as u8 & 0x0F) | ((hi as u8) << 4)
}

/// The low and high nibble of a byte, sign-extended.
#[inline]
pub(crate) fn unpack_pair(b: u8) -> (i8, i8) {
    (((b << 4) as i8) >> 4, (b as i8) >> 4)
}

fn quantize(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        d.write(quantize_one(x, scale, zp));
    }
}

fn quantize_packed(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    // Whole pairs first (a loop without branches, which vectorises), then an odd last value.
    let (pairs, rest) = src.as_chunks::<2>();
    for (d, &[lo, hi]) in dst.iter_mut().zip(pairs) {
        d.write(pack_pair(
            quantize_one(lo, scale, zp),
            quantize_one(hi, scale, zp),
        ));
    }
    if let (Some(&x), Some(d)) = (rest.first(), dst.get_mut(pairs.len())) {
        d.write(pack_pair(quantize_one(x, scale, zp), 0));
    }
}

fn dequantize(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    for (d, &q) in dst.iter_mut().zip(src) {
        d.write(dequantize_one(q, scale, zp));
    }
}

fn dequantize_packed(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    for (pair, &b) in dst.chunks_mut(2).zip(src) {
        let (lo, hi) = unpack_pair(b);
        pair[0].write(dequantize_one(lo, scale, zp));
        if let Some(d) = pair.get_mut(1) {
            d.write(dequantize_one(hi, scale, zp));
        }
    }
}

fn find_invalid_code(src: &[i8]) -> Option<usize> {
    src.iter().position(|q| !(-8..=7).contains(q))
}

fn pack(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    for (d, pair) in dst.iter_mut().zip(src.chunks(2)) {
        d.write(pack_pair(pair[0], pair.get(1).copied().unwrap_or(0)));
    }
}

fn unpack(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    for (pair, &b) in dst.chunks_mut(2).zip(src) {
        let (lo, hi) = unpack_pair(b);
        pair[0].write(lo);
        if let Some(d) = pair.get_mut(1) {
            d.write(hi);
        }
    }
}

/// Number of partial sums. Element `i` is added to lane `i % LANES`, and the lanes are combined
/// as a 512-bit vector of f64 is reduced (halves, then quarters), so a SIMD kernel can return
/// exactly these sums.
pub(crate) const SUM_LANES: usize = 8;

/// Combines the lanes: `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`.
pub(crate) fn reduce_lanes(l: [f64; SUM_LANES]) -> f64 {
    let half = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    let quarter = [half[0] + half[2], half[1] + half[3]];
    quarter[0] + quarter[1]
}

fn error_sums(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    let mut acc = ErrorAcc::new();
    acc.add(x, y, 0)?;
    Ok(acc.finish())
}

/// The reference's error sums, fed piece by piece: pieces of whole multiples of [`SUM_LANES`]
/// values (but the last) keep every element in its lane, so the result is the same as one call
/// of [`error_sums`] on the concatenation. The half-precision statistics use it.
pub(crate) struct ErrorAcc {
    sums: [[f64; SUM_LANES]; 3],
    max_abs: f64,
    max_abs_index: usize,
}

impl ErrorAcc {
    pub(crate) fn new() -> ErrorAcc {
        ErrorAcc {
            sums: [[0.0; SUM_LANES]; 3],
            max_abs: 0.0,
            max_abs_index: 0,
        }
    }

    /// Adds `x[i]`, `y[i]` as the elements `base + i`; `NonFinite` at the first NaN or ±Inf.
    pub(crate) fn add(&mut self, x: &[f32], y: &[f32], base: usize) -> Result<()> {
        for (i, (&a, &b)) in x.iter().zip(y).enumerate() {
            if !(a.is_finite() && b.is_finite()) {
                return Err(Error::NonFinite);
            }
            let lane = (base + i) % SUM_LANES;
            let a = f64::from(a);
            let d = a - f64::from(b);
            // Separate multiply and add: no fused multiply-add, so every level rounds alike.
            let d_sq = d * d;
            let a_sq = a * a;
            self.sums[0][lane] += d.abs();
            self.sums[1][lane] += d_sq;
            self.sums[2][lane] += a_sq;
            if d.abs() > self.max_abs {
                self.max_abs = d.abs();
                self.max_abs_index = base + i;
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> ErrorSums {
        ErrorSums {
            sum_abs: reduce_lanes(self.sums[0]),
            sum_sq: reduce_lanes(self.sums[1]),
            sum_x_sq: reduce_lanes(self.sums[2]),
            max_abs: self.max_abs,
            max_abs_index: self.max_abs_index,
        }
    }
}

/// Adds the elements from `start` on to the per-lane partial sums (in the reference's lane
/// order) and combines everything as the reference does. `lane_max` holds each lane's maximum
/// |x - y| and the first index where it occurs (index meaningless when the maximum is 0).
pub(crate) fn finish_error_sums(
    x: &[f32],
    y: &[f32],
    start: usize,
    mut sums: [[f64; SUM_LANES]; 3],
    mut lane_max: [(f64, usize); SUM_LANES],
) -> Result<ErrorSums> {
    for (i, (&a, &b)) in x.iter().zip(y).enumerate().skip(start) {
        if !(a.is_finite() && b.is_finite()) {
            return Err(Error::NonFinite);
        }
        let lane = i % SUM_LANES;
        let a = f64::from(a);
        let d = a - f64::from(b);
        let d_sq = d * d;
        let a_sq = a * a;
        sums[0][lane] += d.abs();
        sums[1][lane] += d_sq;
        sums[2][lane] += a_sq;
        if d.abs() > lane_max[lane].0 {
            lane_max[lane] = (d.abs(), i);
        }
    }
    // The first index of the overall maximum; a maximum of 0 is reported at index 0.
    let (mut max_abs, mut max_abs_index) = (0.0f64, 0usize);
    for &(m, i) in &lane_max {
        if m > max_abs || (m == max_abs && m > 0.0 && i < max_abs_index) {
            (max_abs, max_abs_index) = (m, i);
        }
    }
    Ok(ErrorSums {
        sum_abs: reduce_lanes(sums[0]),
        sum_sq: reduce_lanes(sums[1]),
        sum_x_sq: reduce_lanes(sums[2]),
        max_abs,
        max_abs_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_input_is_two_to_the_126() {
        // Biased exponent 126 + 127, zero mantissa (bit-exact, unlike powi under Miri).
        assert_eq!(MAX_INPUT.to_bits(), (126 + 127) << 23);
    }

    #[test]
    fn nibbles_round_trip_every_byte() {
        for b in 0..=255u8 {
            let (lo, hi) = unpack_pair(b);
            assert!((-8..=7).contains(&lo) && (-8..=7).contains(&hi));
            assert_eq!(pack_pair(lo, hi), b);
            // Independent statement of the layout: low nibble first, two's complement.
            let expect = |n: u8| if n >= 8 { n as i8 - 16 } else { n as i8 };
            assert_eq!(lo, expect(b & 0xF));
            assert_eq!(hi, expect(b >> 4));
        }
    }

    #[test]
    fn quantize_one_rounds_ties_to_even_and_saturates() {
        assert_eq!(quantize_one(0.5, 1.0, 0), 0);
        assert_eq!(quantize_one(1.5, 1.0, 0), 2);
        assert_eq!(quantize_one(2.5, 1.0, 0), 2);
        assert_eq!(quantize_one(-2.5, 1.0, 0), -2);
        assert_eq!(quantize_one(-0.5, 1.0, 0), 0);
        assert_eq!(quantize_one(100.0, 1.0, 0), 7);
        assert_eq!(quantize_one(-100.0, 1.0, 0), -8);
        assert_eq!(quantize_one(3.0, 1.0, -8), -5);
        assert_eq!(quantize_one(f32::MAX, f32::MIN_POSITIVE, 7), 7);
    }

    #[test]
    fn rne_is_round_ties_even() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut probes = vec![
            0.5f32,
            1.5,
            2.5,
            -0.5,
            -2.5,
            0.0,
            -0.0,
            8_388_607.5,
            8_388_608.0,
        ];
        probes.extend([
            4_194_303.5,
            -4_194_304.5,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            3e9,
        ]);
        for _ in 0..100_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            probes.push(f32::from_bits(s as u32));
        }
        for v in probes {
            let (a, b) = (rne(v), v.round_ties_even());
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{v:e}"
            );
        }
    }

    #[test]
    fn scan_reports_the_first_bad_value() {
        let mut x = vec![1.0f32; 100];
        x[40] = 1e38; // out of range (above 2^126)
        x[70] = f32::NAN;
        assert_eq!(scan(&x), Err(Error::ValueOutOfRange));
        x[20] = f32::INFINITY;
        assert_eq!(scan(&x), Err(Error::NonFinite));
        let y: Vec<f32> = (0..37).map(|i| i as f32 - 20.5).collect();
        let r = scan(&y).unwrap();
        assert_eq!((r.min, r.max), (-20.5, 15.5));
    }

    #[test]
    fn reduce_order_is_the_documented_tree() {
        // Values chosen so any other association gives a different result.
        let l = [1e16, 1.0, -1e16, 1.0, 1.0, 3.0, 1.0, -1.0];
        let expect = ((1e16 + 1.0) + (-1e16 + 1.0)) + ((1.0 + 3.0) + (1.0 + -1.0));
        assert_eq!(reduce_lanes(l), expect);
    }
}
