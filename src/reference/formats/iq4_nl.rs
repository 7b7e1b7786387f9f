//! IQ4_NL: 32 values in 18 bytes: fp16 scale `d`, then 16 bytes of 4-bit indices into a fixed
//! non-linear codebook (`x ≈ d * KVALUES[q]`).
//!
//! GGUF files hold what ggml's `ggml_quantize_chunk` writes, i.e. `quantize_iq4_nl` with no
//! importance matrix, which runs `quantize_row_iq4_nl_impl` for one 32-element block with
//! `ntry = 7`: a least-squares scale search with weights `x[j]^2` (ggml's choice when there are
//! no importance weights), over the initial scale `max / 127` and the 15 candidate inverse
//! scales `(t - 127) / max`, t = -7..=7, where `max` is the first element of largest magnitude.
//! Blocks whose largest magnitude is below 1e-15 get scale 0. The codes are then recomputed from
//! the float32 scale (only the stored copy is rounded to fp16). `quantize_row_iq4_nl_ref`
//! (`ntry = -1`, no search) is not what GGUF files contain.

use super::common::{check_finite, read_f16, QK};
use super::fp16::{f16_is_finite, f16_to_f32, f32_to_f16};
use crate::{Error, Result};

/// Bytes per block.
pub(crate) const BYTES: usize = 18;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "iq4_nl",
    elements: QK,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// ggml's `kvalues_iq4nl`, the codebook (ascending).
pub(crate) const KVALUES: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// Blocks with max |x| below this get scale 0 (ggml's `GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// Candidate steps either side of the initial inverse scale (ggml's `ntry` for IQ4_NL).
const NTRY: i32 = 7;

#[inline]
fn kv(i: usize) -> f32 {
    f32::from(KVALUES[i])
}

/// Index of the codebook entry nearest to `x`, as ggml's `best_index_int8` decides it: clamp to
/// the ends, binary search, then the lower neighbour only if strictly nearer. NaN gives 15.
/// (Computed without the search, see the body and [`best_value`].)
#[inline(always)]
pub(crate) fn best_index(x: f32) -> usize {
    // Without branches, so that loops of it vectorise: ml is the number of entries above the
    // first that are <= x (the binary search's lower end), then the same tie rule on the same
    // float differences as best_value; past the top end both neighbours are KV[15].
    let mut ml = 0u32;
    let (mut lo, mut hi) = (KV[0], KV[0]);
    for k in 1..16 {
        let step = KV[k] - KV[k - 1];
        ml += u32::from(x >= KV[k]);
        lo += if x >= KV[k] { step } else { 0.0 };
        hi += if x >= KV[k - 1] { step } else { 0.0 };
    }
    let up = if x - lo < hi - x { 0 } else { 1 };
    let i = if x.is_nan() { 15 } else { (ml + up).min(15) };
    i as usize
}

/// The codebook as floats (exact: small integers).
const KV: [f32; 16] = {
    let mut v = [0.0f32; 16];
    let mut i = 0;
    while i < 16 {
        v[i] = KVALUES[i] as f32;
        i += 1;
    }
    v
};

/// `kv(best_index(al))`, computed without branches or table lookups so that a loop of it
/// vectorises: the neighbours `lo = KV[ml]`, `hi = KV[ml + 1]` of the binary search are sums of
/// the codebook's steps selected by comparisons (sums of small integers, exact), then the same
/// tie rule on the same float differences. At the ends both are the end value, which the rule
/// then picks, as the search's clamps do; NaN gives `KV[15]`, as the search does.
#[inline(always)]
fn best_value(al: f32) -> f32 {
    let (mut lo, mut hi) = (KV[0], KV[0]);
    for k in 1..16 {
        let step = KV[k] - KV[k - 1];
        lo += if al >= KV[k] { step } else { 0.0 };
        hi += if al >= KV[k - 1] { step } else { 0.0 };
    }
    let pick = if al - lo < hi - al { lo } else { hi };
    if al.is_nan() {
        KV[15]
    } else {
        pick
    }
}

/// Passes of the scale search: the initial scale and the `2 * NTRY + 1` candidates.
const PASSES: usize = 2 * NTRY as usize + 2;

/// The float32 scale ggml's search settles on (0 for a block of near-zeros).
///
/// Each pass sums `w q x` and `w q q` over the block in element order, as ggml does, so the sums
/// cannot be vectorised within a pass; but the passes are independent, so the loop runs over
/// the elements outside and the 16 passes inside, each pass in its own lane: every lane adds
/// its terms in element order, and LLVM vectorises across the passes.
pub(crate) fn search_scale(x: &[f32; QK]) -> f32 {
    let mut w = [0.0f32; QK];
    for j in 0..QK {
        w[j] = x[j] * x[j];
    }
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        let ax = v.abs();
        if ax > amax {
            amax = ax;
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        return 0.0;
    }
    // Pass 0: the initial scale; pass 1 + t: itry = t - NTRY.
    let d0 = -max / kv(0);
    let mut ids = [0.0f32; PASSES];
    ids[0] = 1.0 / d0;
    for (id, itry) in ids[1..].iter_mut().zip(-NTRY..=NTRY) {
        *id = (itry + i32::from(KVALUES[0])) as f32 / max;
    }
    let mut sumqx = [0.0f32; PASSES];
    let mut sumq2 = [0.0f32; PASSES];
    // Eight passes at a time, so that their sums stay in registers across the element loop.
    const G: usize = 8;
    for ((sumqx, sumq2), ids) in sumqx
        .chunks_exact_mut(G)
        .zip(sumq2.chunks_exact_mut(G))
        .zip(ids.chunks_exact(G))
    {
        let (mut sx, mut s2) = ([0.0f32; G], [0.0f32; G]);
        for j in 0..QK {
            for p in 0..G {
                let q = best_value(ids[p] * x[j]);
                sx[p] += w[j] * q * x[j];
                s2[p] += w[j] * q * q;
            }
        }
        sumqx.copy_from_slice(&sx);
        sumq2.copy_from_slice(&s2);
    }
    let mut d = if sumq2[0] > 0.0 {
        sumqx[0] / sumq2[0]
    } else {
        0.0
    };
    let mut best = d * sumqx[0];
    for p in 1..PASSES {
        let (sumqx, sumq2) = (sumqx[p], sumq2[p]);
        if sumq2 > 0.0 && sumqx * sumqx > best * sumq2 {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    d
}

/// Quantizes one block of 32 values (the scalar reference).
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element; [`Error::ValueOutOfRange`] when
/// the scale the search finds is not a finite fp16 (max |x| above about 8.3e6, or intermediate
/// sums overflowing float32).
pub(crate) fn quantize_block(x: &[f32; QK]) -> Result<[u8; BYTES]> {
    check_finite(x)?;
    let d = search_scale(x);
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return Err(Error::ValueOutOfRange);
    }
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut out = [0u8; BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    for j in 0..QK / 2 {
        let l0 = best_index(id * x[j]) as u8;
        let l1 = best_index(id * x[j + QK / 2]) as u8;
        out[2 + j] = l0 | (l1 << 4);
    }
    Ok(out)
}

/// Dequantizes one block: `y = d * KVALUES[q]`, one rounding.
///
/// Errors: [`Error::NonFinite`] when the stored fp16 scale is infinite or NaN.
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; QK]> {
    let dh = read_f16(b, 0);
    if !f16_is_finite(dh) {
        return Err(Error::NonFinite);
    }
    let d = f16_to_f32(dh);
    let mut y = [0.0f32; QK];
    for j in 0..QK / 2 {
        let q = b[2 + j];
        y[j] = d * kv(usize::from(q & 0x0f));
        y[j + QK / 2] = d * kv(usize::from(q >> 4));
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_index_picks_nearest_and_upper_on_ties() {
        assert_eq!(best_index(-1000.0), 0);
        assert_eq!(best_index(1000.0), 15);
        assert_eq!(best_index(0.0), 8); // 1 is nearer than -10
        assert_eq!(best_index(-4.5), 8); // tie between -10 and 1: the upper one
        assert_eq!(best_index(-4.6), 7);
        assert_eq!(best_index(101.0), 15); // tie between 89 and 113
        for (i, &v) in KVALUES.iter().enumerate() {
            assert_eq!(best_index(f32::from(v)), i);
        }
    }
}
