//! The non-linear 4-bit codebook of ggml's IQ4 formats (the 32-value blocks and the 256-value
//! super-blocks use the same 16 values), with what both do with it: the nearest-entry search
//! and the weighted least-squares scale search over a group of 32 values.
//!
//! The search is `quantize_row_iq4_nl_impl` with `ntry = 7` and no importance matrix: weights
//! `x[j]^2`, over the initial scale `max / 127` and the 15 candidate inverse scales
//! `(t - 127) / max`, t = -7..=7, where `max` is the first element of largest magnitude; a group
//! whose largest magnitude is below 1e-15 gets scale 0.

use super::common::QK;

/// The codebook, ascending (ggml's `kvalues_iq4nl`).
pub(crate) const KVALUES: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// Blocks with max |x| below this get scale 0 (ggml's `GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// Candidate steps either side of the initial inverse scale (ggml's `ntry` for IQ4_NL).
const NTRY: i32 = 7;

#[inline]
pub(crate) fn kv(i: usize) -> f32 {
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
