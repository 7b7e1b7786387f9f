//! AVX2 IQ4_NL quantization: 8 blocks at once, one block per lane, so ggml's scale search
//! (`iq4_nl::search_scale`: 16 candidate scales, each with its own codes and weighted sums
//! accumulated in element order) runs with exactly the reference's operations in exactly its
//! order in every lane (the structure of `avx512_iq4nl`). Only the nearest-codebook-entry
//! search is computed differently: a four-step binary search over the codebook's midpoints,
//! whose thresholds come from 8-entry tables (`vpermps`), proved equal below and tested
//! exhaustively over the range where the answer changes.

use super::avx2::{prefetch, AHEAD};
use super::avx2_blocks::pack_ggml;
use crate::reference::formats::{iq4_nl, quantize_each, quantize_runs};
use crate::Result;
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// `iq4_nl::KVALUES` as floats.
const KV: [f32; 16] = {
    let mut k = [0.0f32; 16];
    let mut i = 0;
    while i < 16 {
        k[i] = iq4_nl::KVALUES[i] as f32;
        i += 1;
    }
    k
};

/// The midpoints of neighbouring codebook values, `MID[i] = (KV[i] + KV[i + 1]) / 2` (exact:
/// halves of small integers), strictly ascending.
const MID: [f32; 15] = {
    let mut m = [0.0f32; 15];
    let mut i = 0;
    while i < 15 {
        m[i] = (KV[i] + KV[i + 1]) * 0.5;
        assert!(i == 0 || m[i - 1] < m[i], "midpoints not ascending");
        i += 1;
    }
    m
};

/// The tables of the binary search (see [`search_path`]). A path `k` (the bits found so far,
/// first step highest) is held as `-k` in the permute index, whose low three bits `vpermps`
/// reads: entry `(8 - k) mod 8`.
struct Steps {
    /// Step 2's threshold after step 1 found `a`: `MID[8a + 3]`.
    s2: [f32; 8],
    /// Step 3's after `k = 2a + b`: `MID[4k + 1]`.
    s3: [f32; 8],
    /// Step 4's after `k = 4a + 2b + c`: `MID[2k]`.
    s4: [f32; 8],
    /// The two codebook values step 4 chooses between: `KV[2k]` and `KV[2k + 1]`.
    q0: [f32; 8],
    q1: [f32; 8],
}

const STEPS: Steps = {
    let mut t = Steps {
        s2: [0.0; 8],
        s3: [0.0; 8],
        s4: [0.0; 8],
        q0: [0.0; 8],
        q1: [0.0; 8],
    };
    let mut k = 0;
    while k < 8 {
        let p = (8 - k) & 7;
        if k < 2 {
            t.s2[p] = MID[8 * k + 3];
        }
        if k < 4 {
            t.s3[p] = MID[4 * k + 1];
        }
        t.s4[p] = MID[2 * k];
        t.q0[p] = KV[2 * k];
        t.q1[p] = KV[2 * k + 1];
        k += 1;
    }
    t
};

/// The search tables, loaded once per call.
#[derive(Clone, Copy)]
struct Tables {
    s1: __m256,
    s2: __m256,
    s3: __m256,
    s4: __m256,
    q0: __m256,
    q1: __m256,
}

#[target_feature(enable = "avx2,f16c")]
fn tables() -> Tables {
    let t = &STEPS;
    // SAFETY: 8-element arrays.
    let l = |a: &[f32; 8]| unsafe { _mm256_loadu_ps(a.as_ptr()) };
    Tables {
        s1: _mm256_set1_ps(MID[7]),
        s2: l(&t.s2),
        s3: l(&t.s3),
        s4: l(&t.s4),
        q0: l(&t.q0),
        q1: l(&t.q1),
    }
}

/// The binary search for the number `n = 8a + 4b + 2c + d` of midpoints `<= v` (ordered
/// compares: a NaN lane finds 0). Returns `-(4a + 2b + c)` (exact, as int32) and the last
/// step's mask (`d`, all ones or zero).
///
/// Each step halves the candidates: with the midpoints ascending, `n >= 8` iff `v >= MID[7]`;
/// given `a`, `n >= 8a + 4` iff `v >= MID[8a + 3]`; given `a, b`, `n >= 8a + 4b + 2` iff
/// `v >= MID[8a + 4b + 1]`; given `a, b, c`, `n >= 8a + 4b + 2c + 1` iff
/// `v >= MID[8a + 4b + 2c]`. Masks are -1 or 0, so `p + p + mask` appends a bit to the
/// negated path `p`.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn search_path(v: __m256, t: Tables) -> (__m256i, __m256) {
    let ge = |m: __m256| _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, m));
    let p = ge(t.s1);
    let b = ge(_mm256_permutevar8x32_ps(t.s2, p));
    let p = _mm256_add_epi32(_mm256_add_epi32(p, p), b);
    let c = ge(_mm256_permutevar8x32_ps(t.s3, p));
    let p = _mm256_add_epi32(_mm256_add_epi32(p, p), c);
    let d = _mm256_cmp_ps::<_CMP_GE_OQ>(v, _mm256_permutevar8x32_ps(t.s4, p));
    (p, d)
}

/// `iq4_nl::best_index` of 8 values (int32 lanes).
///
/// Proof. `avx512_iq4nl::best_index16` proves that the reference's index is the number of
/// midpoints `<= x` for every non-NaN x (a tie goes up), and 15 for NaN. [`search_path`]
/// counts the midpoints of `max(min(x, 113), -127)`: the clamp keeps the count (no midpoint
/// lies outside (-127, 113)) and maps NaN to 113, i.e. 15 (`min` returns its second operand
/// for NaN).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn best_index8(v: __m256, t: Tables) -> __m256i {
    let xc = _mm256_max_ps(
        _mm256_min_ps(v, _mm256_set1_ps(113.0)),
        _mm256_set1_ps(-127.0),
    );
    let (p, d) = search_path(xc, t);
    let neg = _mm256_add_epi32(_mm256_add_epi32(p, p), _mm256_castps_si256(d));
    _mm256_sub_epi32(_mm256_setzero_si256(), neg)
}

/// The codebook value `KV[best_index(v)]` for non-NaN v (every value of the scale search in a
/// lane whose result is kept: finite elements times finite inverse scales): step 4 chooses
/// between `KV[2k]` and `KV[2k + 1]`, `k` the path of the first three steps.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn nearest8(v: __m256, t: Tables) -> __m256 {
    let (p, d) = search_path(v, t);
    _mm256_blendv_ps(
        _mm256_permutevar8x32_ps(t.q0, p),
        _mm256_permutevar8x32_ps(t.q1, p),
        d,
    )
}

/// The reference's weighted sums `(Σ w q x, Σ w q q)` for inverse scale `id`, every lane in
/// element order, each product and sum rounded on its own.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn sums8(x: &[__m256; 32], w: &[__m256; 32], id: __m256, t: Tables) -> (__m256, __m256) {
    let (mut sqx, mut sq2) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for j in 0..32 {
        let q = nearest8(_mm256_mul_ps(id, x[j]), t);
        let wq = _mm256_mul_ps(w[j], q);
        sqx = _mm256_add_ps(sqx, _mm256_mul_ps(wq, x[j]));
        sq2 = _mm256_add_ps(sq2, _mm256_mul_ps(wq, q));
    }
    (sqx, sq2)
}

/// Quantizes IQ4_NL blocks: runs of 8 at once, the rest (and any run holding a bad block,
/// which the reference then reports in order) by the scalar reference.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn quantize_iq4_nl(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    let t = tables();
    quantize_runs(
        src,
        dst,
        (8, iq4_nl::BYTES),
        // SAFETY: 8 blocks of floats and of bytes; AVX2 is enabled here.
        |x, out| unsafe { iq4_nl_x8(x, out, t) },
        |x, out| quantize_each(x, out, iq4_nl::quantize_block),
    )
}

/// A blend by mask: `m ? b : a` (masks all ones or zero).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn select(a: __m256, b: __m256, m: __m256) -> __m256 {
    _mm256_blendv_ps(a, b, m)
}

/// `iq4_nl::search_scale` of 8 blocks (lane b: block b) from their elements `x` (element j of
/// every block in `x[j]`), weights `w = x * x`, largest magnitude and first largest element.
#[target_feature(enable = "avx2,f16c")]
fn search8(x: &[__m256; 32], w: &[__m256; 32], amax: __m256, max: __m256, t: Tables) -> __m256 {
    let zero = _mm256_setzero_ps();
    let nmax = _mm256_xor_ps(max, _mm256_set1_ps(-0.0));
    let d0 = _mm256_div_ps(nmax, _mm256_set1_ps(f32::from(iq4_nl::KVALUES[0])));
    let id0 = _mm256_div_ps(_mm256_set1_ps(1.0), d0);
    let (sqx, sq2) = sums8(x, w, id0, t);
    let pos = _mm256_cmp_ps::<_CMP_GT_OQ>(sq2, zero);
    let mut d = _mm256_and_ps(pos, _mm256_div_ps(sqx, sq2));
    let mut best = _mm256_mul_ps(d, sqx);
    for itry in -7..=7 {
        let num = (itry + i32::from(iq4_nl::KVALUES[0])) as f32;
        let id = _mm256_div_ps(_mm256_set1_ps(num), max);
        let (sqx, sq2) = sums8(x, w, id, t);
        let better = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GT_OQ>(sq2, zero),
            _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_mul_ps(sqx, sqx), _mm256_mul_ps(best, sq2)),
        );
        d = select(d, _mm256_div_ps(sqx, sq2), better);
        best = select(best, _mm256_mul_ps(d, sqx), better);
    }
    // Blocks of near-zeros get scale 0.
    let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(amax, _mm256_set1_ps(1e-15));
    _mm256_andnot_ps(tiny, d)
}

/// Transposes 8 rows of 8 floats (row b: 8 consecutive elements of block b) into 8 columns
/// (column j: element j of every block).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    // u_k: element k (low half) and k + 4 (high half) of rows 0..3 or 4..7.
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// `|v|` (clears the sign bit).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn abs8(v: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), v)
}

/// The first element of largest magnitude of each lane (strict `>` from 0, as the reference),
/// and that magnitude.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn first_max(x: &[__m256; 32]) -> (__m256, __m256) {
    let (mut amax, mut max) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for v in x {
        let a = abs8(*v);
        let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(a, amax);
        amax = select(amax, a, gt);
        max = select(max, *v, gt);
    }
    (amax, max)
}

/// Quantizes 8 whole blocks (256 floats into 8 * 18 bytes), or returns false, writing
/// nothing, when one of them holds a NaN or infinity or needs a scale beyond fp16.
#[target_feature(enable = "avx2,f16c")]
unsafe fn iq4_nl_x8(x: &[f32], out: &mut [MaybeUninit<u8>], t: Tables) -> bool {
    debug_assert!(x.len() >= 256 && out.len() >= 8 * iq4_nl::BYTES);
    for l in 0..16 {
        prefetch(x.as_ptr().wrapping_add(AHEAD / 4 + 16 * l));
    }
    // Element j of the 8 blocks in one vector (lane b: block b).
    let mut xs = [_mm256_setzero_ps(); 32];
    for g in 0..4 {
        // SAFETY: row b reads x[32 b + 8 g .. 32 b + 8 g + 8], within 256.
        let rows =
            core::array::from_fn(|b| unsafe { _mm256_loadu_ps(x.as_ptr().add(32 * b + 8 * g)) });
        xs[8 * g..8 * g + 8].copy_from_slice(&transpose8(rows));
    }
    // NaN or infinity anywhere: the reference reports it.
    let mut mag = _mm256_setzero_si256();
    for v in &xs {
        mag = _mm256_max_epu32(mag, _mm256_castps_si256(abs8(*v)));
    }
    let limit = _mm256_set1_epi32(f32::MAX.to_bits() as i32);
    let bad = _mm256_cmpgt_epi32(mag, limit);
    if _mm256_testz_si256(bad, bad) == 0 {
        return false;
    }
    let w: [__m256; 32] = core::array::from_fn(|j| _mm256_mul_ps(xs[j], xs[j]));
    let (amax, max) = first_max(&xs);
    let d = search8(&xs, &w, amax, max, t);
    let zero = _mm256_setzero_ps();
    let dh = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(d);
    let e = _mm_set1_epi16(0x7C00);
    if _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(dh, e), e)) != 0 {
        return false;
    }
    let nz = _mm256_cmp_ps::<_CMP_NEQ_OQ>(d, zero);
    let id = _mm256_and_ps(nz, _mm256_div_ps(_mm256_set1_ps(1.0), d));
    let (mut ids, mut dhs) = ([0.0f32; 8], [0u16; 8]);
    // SAFETY: 8-element arrays.
    unsafe {
        _mm256_storeu_ps(ids.as_mut_ptr(), id);
        _mm_storeu_si128(dhs.as_mut_ptr().cast(), dh);
    }
    // The codes, block by block: best_index(id * x).
    for b in 0..8 {
        let vid = _mm256_set1_ps(ids[b]);
        // SAFETY: block b's 32 floats and 18 bytes.
        unsafe {
            let p = x.as_ptr().add(32 * b);
            let c: [__m256i; 4] = core::array::from_fn(|i| {
                best_index8(_mm256_mul_ps(vid, _mm256_loadu_ps(p.add(8 * i))), t)
            });
            let o = out.as_mut_ptr().add(b * iq4_nl::BYTES).cast::<u8>();
            o.cast::<[u8; 2]>().write_unaligned(dhs[b].to_le_bytes());
            _mm_storeu_si128(o.add(2).cast(), pack_ggml(c));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available() -> bool {
        super::super::avx2::available()
    }

    /// The search alone, compared as float32 scales (before any fp16 rounding hides a
    /// difference), on 8-block groups of many shapes and magnitudes.
    #[test]
    fn scale_search_matches_the_reference() {
        if !available() {
            return;
        }
        let mut s = 0x9E37_79B9u32;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        // SAFETY: AVX2 and F16C are available.
        let t = unsafe { tables() };
        for _ in 0..1500 {
            let blocks: Vec<[f32; 32]> = (0..8)
                .map(|_| {
                    let e = (next() % 80) as i32 - 60; // 2^-60 .. 2^19
                    let scale = f32::from_bits(((127 + e) as u32) << 23);
                    let kind = next() % 6;
                    core::array::from_fn(|_| {
                        let u = next() as f32 / 4.3e9 - 0.5;
                        match kind {
                            0 => u * scale,
                            1 => (u * 8.0).round() * scale, // repeated values, ties
                            2 => u * u * u * scale,         // heavy tails
                            3 => [scale, -scale, 0.0, u * scale][(next() % 4) as usize],
                            // codebook values and midpoints times a step: ties in the search
                            4 => {
                                let i = (next() % 15) as usize;
                                [KV[i], MID[i]][(next() % 2) as usize] * scale
                            }
                            _ => {
                                // one large element among small ones
                                if next() % 16 == 0 {
                                    scale
                                } else {
                                    u * scale * 1e-3
                                }
                            }
                        }
                    })
                })
                .collect();
            let mut xs = [[0.0f32; 8]; 32];
            for (b, blk) in blocks.iter().enumerate() {
                for j in 0..32 {
                    xs[j][b] = blk[j];
                }
            }
            // SAFETY: AVX2 and F16C are available; 8-element arrays.
            let got = unsafe {
                let x: [__m256; 32] = core::array::from_fn(|j| _mm256_loadu_ps(xs[j].as_ptr()));
                let w: [__m256; 32] = core::array::from_fn(|j| _mm256_mul_ps(x[j], x[j]));
                let (amax, max) = first_max(&x);
                let mut d = [0.0f32; 8];
                _mm256_storeu_ps(d.as_mut_ptr(), search8(&x, &w, amax, max, t));
                d
            };
            for (b, blk) in blocks.iter().enumerate() {
                let want = iq4_nl::search_scale(blk);
                assert_eq!(got[b].to_bits(), want.to_bits(), "block {blk:?}");
            }
        }
    }

    /// Runs both lookups on `xs` (in chunks of 8) against the reference: the index for every
    /// value, the codebook value for every non-NaN one.
    fn check_lookups(xs: &[f32], t: Tables) {
        for chunk in xs.chunks(8) {
            let mut l = [0.0f32; 8];
            l[..chunk.len()].copy_from_slice(chunk);
            let (mut got, mut q) = ([0i32; 8], [0.0f32; 8]);
            // SAFETY: AVX2 and F16C are available (checked by the callers); 8-element arrays.
            unsafe {
                let v = _mm256_loadu_ps(l.as_ptr());
                _mm256_storeu_si256(got.as_mut_ptr().cast(), best_index8(v, t));
                _mm256_storeu_ps(q.as_mut_ptr(), nearest8(v, t));
            }
            for ((x, g), q) in l.iter().zip(got).zip(q) {
                let want = iq4_nl::best_index(*x);
                assert_eq!(g as usize, want, "x = {x:e} ({:#010x})", x.to_bits());
                if !x.is_nan() {
                    assert_eq!(q, KV[want], "nearest, x = {x:e} ({:#010x})", x.to_bits());
                }
            }
        }
    }

    #[test]
    fn lookups_match_the_reference_near_every_decision() {
        if !available() {
            return;
        }
        let mut xs: Vec<f32> = vec![
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            0.0,
            -0.0,
            1e-30,
            -1e-45,
        ];
        let mut points: Vec<f32> = KV.to_vec();
        points.extend(MID);
        points.extend([134.01, -134.01, 1e10, -1e10]);
        for p in points {
            for d in 0..3000u32 {
                xs.push(f32::from_bits(p.to_bits().wrapping_add(d)));
                xs.push(f32::from_bits(p.to_bits().wrapping_sub(d)));
            }
        }
        // SAFETY: AVX2 and F16C are available.
        let t = unsafe { tables() };
        check_lookups(&xs, t);
    }

    /// Every float of magnitude in [4, 256) (all the midpoints and codebook values lie there;
    /// every 61st in unoptimised builds, which the test above covers near each decision), and
    /// every 4099th bit pattern of all (smaller magnitudes, huge ones, infinities, NaNs).
    #[test]
    fn lookups_match_the_reference_exhaustively() {
        if !available() {
            return;
        }
        // SAFETY: AVX2 and F16C are available.
        let t = unsafe { tables() };
        let (lo, hi) = (4.0f32.to_bits(), 256.0f32.to_bits());
        let mut xs = Vec::with_capacity(1 << 16);
        let flush = |xs: &mut Vec<f32>, force: bool| {
            if force || xs.len() == 1 << 16 {
                check_lookups(xs, t);
                xs.clear();
            }
        };
        for sign in [0u32, 0x8000_0000] {
            for bits in (lo..hi).step_by(if cfg!(debug_assertions) { 61 } else { 1 }) {
                xs.push(f32::from_bits(bits | sign));
                flush(&mut xs, false);
            }
        }
        for bits in (0..=u32::MAX).step_by(4099) {
            xs.push(f32::from_bits(bits));
            flush(&mut xs, false);
        }
        flush(&mut xs, true);
    }
}
