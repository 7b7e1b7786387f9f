//! The NF4 and FP4 code tables and the decision thresholds of bitsandbytes' quantizer.
//!
//! Values are bitsandbytes' own `float` literals (csrc/kernels.cu: `dDequantizeNF4`,
//! `dDequantizeFP4Tree`, `dQuantizeNF4`, `dQuantizeFP4`; the same literals appear in
//! onnxruntime's CPU port, contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h), rounded
//! to `f32` exactly as a C compiler rounds an `f`-suffixed literal: directly from the decimal,
//! correctly, to nearest. Beware: converting those decimals through `f64` first (as
//! `numpy.float32(float(s))` or a float64 tensor cast does) gives four NF4 thresholds
//! (-0.8480964004993439, 0.1202552504837513, 0.5016634166240692, 0.8614784181118011) one ulp
//! off, because they are double-precision midpoints that sit almost exactly halfway between two
//! `f32`s; the golden vectors' tie cases (oracle: onnxruntime's C++ build) pin the direct values.

/// NF4 values by code: the 4-bit NormalFloat of QLoRA (normal quantiles, asymmetric, with an
/// exact 0 at code 7 and ±1 at the ends).
pub(crate) const NF4_VALUES: [f32; 16] = [
    -1.0,
    -0.6961928,
    -0.52507305,
    -0.3949175,
    -0.28444138,
    -0.18477343,
    -0.091050036,
    0.0,
    0.0795803,
    0.1609302,
    0.2461123,
    0.33791524,
    0.44070983,
    0.562617,
    0.72295684,
    1.0,
];

/// FP4 values by code: bit 3 is the sign; the low three bits select a magnitude of bitsandbytes'
/// "FP4 with bias 3" (0, 0.0625, 8, 12, 4, 6, 2, 3) divided by its maximum 12. The normal
/// magnitudes equal OCP E2M1's normal values divided by 6; the subnormal one is 1/192, where
/// E2M1's would be 1/12. Code 8 is -0.0.
pub(crate) const FP4_VALUES: [f32; 16] = [
    0.0,
    0.0052083335, // 1/192
    0.6666667,    // 2/3
    1.0,
    0.33333334, // 1/3
    0.5,
    0.16666667, // 1/6
    0.25,
    -0.0,
    -0.0052083335,
    -0.6666667,
    -1.0,
    -0.33333334,
    -0.5,
    -0.16666667,
    -0.25,
];

/// NF4 decision thresholds, ascending: the midpoints of neighbouring NF4 values as bitsandbytes
/// wrote them. The code of a scaled value `v` is the number of thresholds `t` with `v > t`
/// (strictly: a value exactly on a threshold takes the lower code; NaN takes code 0).
pub(crate) const NF4_THRESHOLDS: [f32; 15] = [
    -0.84809643,
    -0.6106329,
    -0.45999527,
    -0.33967942,
    -0.2346074,
    -0.13791174,
    -0.045525018,
    0.03979015,
    0.120255254,
    0.20352125,
    0.29201376,
    0.38931254,
    0.5016634,
    0.6427869,
    0.8614784,
];

/// FP4 magnitude thresholds, ascending (midpoints of neighbouring magnitudes, as bitsandbytes
/// wrote them). The rank of `|v|` is the number of thresholds `t` with `|v| > t`.
pub(crate) const FP4_THRESHOLDS: [f32; 7] = [
    0.00260417, 0.0859375, 0.20833333, 0.29166666, 0.4166667, 0.583333, 0.8333333,
];

/// FP4 magnitude code (low three bits) by rank of the magnitude (0 = smallest).
pub(crate) const FP4_CODE_BY_RANK: [u8; 8] =
    [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011];

/// The encoders by shape, for the SIMD kernels, whose primitives are written per shape: a sorted
/// codebook (codes ordered as their values; the code is the number of thresholds below) and a
/// sign-magnitude one (the code is a sign bit and a magnitude code by rank). NF4 is the first,
/// FP4 the second.
pub(crate) const SORTED_THRESHOLDS: [f32; 15] = NF4_THRESHOLDS;
/// The sign-magnitude codebook's magnitude thresholds (see [`SORTED_THRESHOLDS`]).
pub(crate) const MAGNITUDE_THRESHOLDS: [f32; 7] = FP4_THRESHOLDS;
/// The sign-magnitude codebook's magnitude codes by rank (see [`SORTED_THRESHOLDS`]).
pub(crate) const CODE_BY_RANK: [u8; 8] = FP4_CODE_BY_RANK;

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortened literals above must be the very `f32`s of bitsandbytes' full literals.
    #[test]
    #[allow(clippy::excessive_precision)]
    fn literals_match_bitsandbytes_text() {
        let nf4: [f32; 16] = [
            -1.0,
            -0.6961928009986877,
            -0.5250730514526367,
            -0.39491748809814453,
            -0.28444138169288635,
            -0.18477343022823334,
            -0.09105003625154495,
            0.0,
            0.07958029955625534,
            0.16093020141124725,
            0.24611230194568634,
            0.33791524171829224,
            0.44070982933044434,
            0.5626170039176941,
            0.7229568362236023,
            1.0,
        ];
        let fp4_mag: [f32; 8] = [
            0.0,
            5.208333333e-03,
            0.66666667,
            1.0,
            0.33333333,
            0.5,
            0.16666667,
            0.25,
        ];
        let nf4_thr: [f32; 15] = [
            -0.8480964004993439,
            -0.6106329262256622,
            -0.4599952697753906,
            -0.33967943489551544,
            -0.23460740596055984,
            -0.13791173323988914,
            -0.045525018125772476,
            0.03979014977812767,
            0.1202552504837513,
            0.2035212516784668,
            0.2920137718319893,
            0.3893125355243683,
            0.5016634166240692,
            0.6427869200706482,
            0.8614784181118011,
        ];
        let fp4_thr: [f32; 7] = [
            0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333,
        ];
        for i in 0..16 {
            assert_eq!(NF4_VALUES[i].to_bits(), nf4[i].to_bits(), "nf4 {i}");
        }
        for i in 0..8 {
            assert_eq!(FP4_VALUES[i].to_bits(), fp4_mag[i].to_bits(), "fp4 {i}");
            assert_eq!(
                FP4_VALUES[i + 8].to_bits(),
                (-fp4_mag[i]).to_bits(),
                "fp4 {}",
                i + 8
            );
        }
        for i in 0..15 {
            assert_eq!(
                NF4_THRESHOLDS[i].to_bits(),
                nf4_thr[i].to_bits(),
                "nf4 thr {i}"
            );
        }
        for i in 0..7 {
            assert_eq!(
                FP4_THRESHOLDS[i].to_bits(),
                fp4_thr[i].to_bits(),
                "fp4 thr {i}"
            );
        }
    }

    #[test]
    fn thresholds_ascend_and_separate_the_values() {
        for w in NF4_THRESHOLDS.windows(2) {
            assert!(w[0] < w[1]);
        }
        for w in FP4_THRESHOLDS.windows(2) {
            assert!(w[0] < w[1]);
        }
        for (i, t) in NF4_THRESHOLDS.iter().enumerate() {
            assert!(NF4_VALUES[i] < *t && *t < NF4_VALUES[i + 1]);
        }
        for (r, t) in FP4_THRESHOLDS.iter().enumerate() {
            let lo = FP4_VALUES[FP4_CODE_BY_RANK[r] as usize];
            let hi = FP4_VALUES[FP4_CODE_BY_RANK[r + 1] as usize];
            assert!(lo < *t && *t < hi);
        }
    }
}
