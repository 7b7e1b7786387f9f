//! E2M1, the 4-bit float element (1 sign, 2 exponent, 1 mantissa bit: ±0, 0.5, 1, 1.5, 2, 3, 4,
//! 6) of the 4-bit float block formats with a power-of-two scale (OCP MX) and with an UE4M3 scale
//! (NVIDIA's): its values, as ggml stores them (doubled, so integers; the formats' scale
//! decodings return half the scale, which gives the same products), and the nearest-value
//! search both formats' quantizers use.

/// The E2M1 values times two, indexed by the 4-bit code (ggml's `kvalues_mxfp4`).
pub(crate) const KVALUES: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// Index of the first entry of least `|KVALUES[i] * d - x|` (ggml's `best_index_mxfp4`, which
/// NVFP4 uses too).
#[inline]
pub(crate) fn best_index(x: f32, d: f32) -> u8 {
    let mut best = 0u8;
    let mut best_err = (f32::from(KVALUES[0]) * d - x).abs();
    for (i, &k) in KVALUES.iter().enumerate().skip(1) {
        let err = (f32::from(k) * d - x).abs();
        if err < best_err {
            best = i as u8;
            best_err = err;
        }
    }
    best
}
