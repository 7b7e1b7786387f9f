//! AVX-512 IQ4_NL quantization: 16 blocks at once, one block per lane, so ggml's scale search
//! (`iq4_nl::search_scale`: 16 candidate scales, each with its own codes and weighted sums
//! accumulated in element order) runs with exactly the reference's operations in exactly its
//! order in every lane. Only the nearest-codebook-entry search is computed differently (a
//! bucket table instead of a binary search), proved equal below and tested exhaustively near
//! every decision point.

use super::avx512::{prefetch, AHEAD};
use super::avx512_blocks::pack_ggml;
use super::avx512_x16::to_f16;
use crate::formats::{iq4_nl, quantize_each};
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

/// Tables of [`best_index16`]: for bucket b (x + 132 in [8b, 8b + 8), b = 0..31), how many
/// midpoints of neighbouring codebook values lie below the bucket, and the midpoint inside it
/// (+inf if none; no bucket holds two, as neighbouring midpoints are at least 11.5 apart).
/// Evaluated at compile time.
const BUCKETS: ([i32; 32], [f32; 32]) = {
    let mut base = [0i32; 32];
    let mut mid = [f32::INFINITY; 32];
    let mut b = 0;
    while b < 32 {
        let (lo, hi) = (8.0 * b as f32 - 132.0, 8.0 * b as f32 - 124.0);
        let mut i = 0;
        while i < 15 {
            let m = (KV[i] + KV[i + 1]) * 0.5;
            if m < lo {
                base[b] += 1;
            } else if m < hi {
                mid[b] = m;
            }
            i += 1;
        }
        b += 1;
    }
    (base, mid)
};

/// The lookup tables, loaded once per call.
#[derive(Clone, Copy)]
struct Tables {
    base: (__m512i, __m512i),
    mid: (__m512, __m512),
    kv: __m512,
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn tables() -> Tables {
    let (base, mid) = (&BUCKETS.0, &BUCKETS.1);
    // SAFETY: arrays of 32, 32 and 16 elements.
    unsafe {
        Tables {
            base: (
                _mm512_loadu_si512(base.as_ptr().cast()),
                _mm512_loadu_si512(base.as_ptr().add(16).cast()),
            ),
            mid: (
                _mm512_loadu_ps(mid.as_ptr()),
                _mm512_loadu_ps(mid.as_ptr().add(16)),
            ),
            kv: _mm512_loadu_ps(KV.as_ptr()),
        }
    }
}

/// `iq4_nl::best_index` of 16 values.
///
/// Proof. The reference clamps to the ends (x <= -127: 0; x >= 113: 15; NaN falls through to
/// 15), finds by binary search the neighbours `lo = kv[mu - 1] <= x < kv[mu] = hi`, and takes
/// `mu - 1` iff `fl(x - lo) < fl(hi - x)`. Within one unit of a midpoint `m = (lo + hi) / 2`
/// both differences are exact (x's ulp there is at least 2^-21 and divides the integers lo and
/// hi, and the differences, 4.5 to 12, are multiples of it that fit in 24 bits, checked for all
/// 15 midpoints); farther away the exact differences differ by 2 or more, which roundings of
/// relative size 2^-24 cannot reverse. So the index is the number of midpoints `<= x` (a tie
/// goes up, as in the reference). Clamping to [-127, 113] first changes nothing (the ends give
/// 0 and 15 by that count too) and maps NaN to 113, i.e. 15 (`min` returns its second operand
/// for NaN). The count is a bucket table lookup: bucket `floor((x + 132) / 8)` holds at most
/// one midpoint, and no midpoint is within 1 of a bucket boundary, far more than the rounding
/// of `x + 132` (at most 2^-17), so a value near a boundary put in the neighbouring bucket
/// still counts the same midpoints.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn best_index16(v: __m512, t: Tables) -> __m512i {
    let xc = _mm512_max_ps(
        _mm512_min_ps(v, _mm512_set1_ps(113.0)),
        _mm512_set1_ps(-127.0),
    );
    let b = _mm512_cvttps_epi32(_mm512_mul_ps(
        _mm512_add_ps(xc, _mm512_set1_ps(132.0)),
        _mm512_set1_ps(0.125),
    ));
    let base = _mm512_permutex2var_epi32(t.base.0, b, t.base.1);
    let mid = _mm512_permutex2var_ps(t.mid.0, b, t.mid.1);
    let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(xc, mid);
    _mm512_mask_add_epi32(base, up, base, _mm512_set1_epi32(1))
}

/// [`best_index16`] for `|v| <= 134`, as every value of the scale search is (`|x| <= |max|` and
/// the inverse scales are at most 134 / |max|, up to rounding), in lanes of blocks that are
/// not near-zero (whose result is discarded): without the clamp, `(v + 132) / 8` is in
/// [-0.25, 33.25]; truncation gives at least 0, and buckets 32 and 33 (v >= 124) are read as
/// bucket 31, which holds no midpoint and counts all 15, as they would.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn best_index16_bounded(v: __m512, t: Tables) -> __m512i {
    // (v + 132) / 8 rounded once, as the clamped form computes it (the scaling is exact).
    let b = _mm512_cvttps_epi32(_mm512_fmadd_ps(
        v,
        _mm512_set1_ps(0.125),
        _mm512_set1_ps(16.5),
    ));
    let b = _mm512_min_epi32(b, _mm512_set1_epi32(31));
    let base = _mm512_permutex2var_epi32(t.base.0, b, t.base.1);
    let mid = _mm512_permutex2var_ps(t.mid.0, b, t.mid.1);
    let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, mid);
    _mm512_mask_add_epi32(base, up, base, _mm512_set1_epi32(1))
}

/// The reference's weighted sums `(Σ w q x, Σ w q q)` for inverse scale `id`, every lane in
/// element order, each product and sum rounded on its own.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn sums16(x: &[__m512; 32], w: &[__m512; 32], id: __m512, t: Tables) -> (__m512, __m512) {
    let (mut sqx, mut sq2) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for j in 0..32 {
        let q = _mm512_permutexvar_ps(best_index16_bounded(_mm512_mul_ps(id, x[j]), t), t.kv);
        let wq = _mm512_mul_ps(w[j], q);
        sqx = _mm512_add_ps(sqx, _mm512_mul_ps(wq, x[j]));
        sq2 = _mm512_add_ps(sq2, _mm512_mul_ps(wq, q));
    }
    (sqx, sq2)
}

/// Quantizes IQ4_NL blocks: runs of 16 at once, the rest (and any run holding a bad block,
/// which the reference then reports in order) by the scalar reference.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_iq4_nl(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    let t = tables();
    let full = src.len() / 512 * 512;
    let (head, tail) = dst.split_at_mut(full / 32 * iq4_nl::BYTES);
    for (x, out) in src[..full]
        .chunks_exact(512)
        .zip(head.chunks_exact_mut(16 * iq4_nl::BYTES))
    {
        // SAFETY: 512 floats and 16 blocks of bytes.
        if !unsafe { iq4_nl_x16(x, out, t) } {
            quantize_each(x, out, iq4_nl::quantize_block)?;
        }
    }
    quantize_each(&src[full..], tail, iq4_nl::quantize_block)
}

/// `iq4_nl::search_scale` of 16 blocks (lane b: block b) from their elements `x` (element j
/// of every block in `x[j]`), weights `w = x * x`, largest magnitude and first largest element.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn search16(x: &[__m512; 32], w: &[__m512; 32], amax: __m512, max: __m512, t: Tables) -> __m512 {
    let zero = _mm512_setzero_ps();
    let nmax = _mm512_xor_ps(max, _mm512_set1_ps(-0.0));
    let d0 = _mm512_div_ps(nmax, _mm512_set1_ps(f32::from(iq4_nl::KVALUES[0])));
    let id0 = _mm512_div_ps(_mm512_set1_ps(1.0), d0);
    let (sqx, sq2) = sums16(x, w, id0, t);
    let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(sq2, zero);
    let mut d = _mm512_maskz_div_ps(pos, sqx, sq2);
    let mut best = _mm512_mul_ps(d, sqx);
    for itry in -7..=7 {
        let num = (itry + i32::from(iq4_nl::KVALUES[0])) as f32;
        let id = _mm512_div_ps(_mm512_set1_ps(num), max);
        let (sqx, sq2) = sums16(x, w, id, t);
        let better = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(sq2, zero)
            & _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_mul_ps(sqx, sqx), _mm512_mul_ps(best, sq2));
        d = _mm512_mask_div_ps(d, better, sqx, sq2);
        best = _mm512_mask_mul_ps(best, better, d, sqx);
    }
    // Blocks of near-zeros get scale 0.
    let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(amax, _mm512_set1_ps(1e-15));
    _mm512_mask_mov_ps(d, tiny, zero)
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn iq4_nl_x16(x: &[f32], out: &mut [MaybeUninit<u8>], t: Tables) -> bool {
    debug_assert!(x.len() >= 512);
    // Element j of the 16 blocks in one vector (lane b: block b).
    let lanes = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(32),
    );
    for l in 0..32 {
        prefetch(x.as_ptr().wrapping_add(AHEAD / 4 + 16 * l));
    }
    let mut xs = [_mm512_setzero_ps(); 32];
    for (j, v) in xs.iter_mut().enumerate() {
        // SAFETY: lane b reads x[32 b + j] < 512.
        *v = unsafe { _mm512_i32gather_ps::<4>(lanes, x.as_ptr().add(j).cast()) };
    }
    // NaN or infinity anywhere: the reference reports it.
    let mut mag = _mm512_setzero_si512();
    for v in &xs {
        mag = _mm512_max_epu32(
            mag,
            _mm512_and_si512(_mm512_castps_si512(*v), _mm512_set1_epi32(0x7FFF_FFFF)),
        );
    }
    if _mm512_cmpgt_epu32_mask(mag, _mm512_set1_epi32(f32::MAX.to_bits() as i32)) != 0 {
        return false;
    }
    let w: [__m512; 32] = core::array::from_fn(|j| _mm512_mul_ps(xs[j], xs[j]));
    // The first element of largest magnitude, with its sign (strict `>` from 0).
    let (mut amax, mut max) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for v in &xs {
        let a = _mm512_castsi512_ps(_mm512_and_si512(
            _mm512_castps_si512(*v),
            _mm512_set1_epi32(0x7FFF_FFFF),
        ));
        let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, amax);
        amax = _mm512_mask_mov_ps(amax, gt, a);
        max = _mm512_mask_mov_ps(max, gt, *v);
    }
    let d = search16(&xs, &w, amax, max, t);
    let zero = _mm512_setzero_ps();
    let dh = to_f16(d);
    let e = _mm256_set1_epi16(0x7C00);
    if _mm256_cmpeq_epi16_mask(_mm256_and_si256(dh, e), e) != 0 {
        return false;
    }
    let nz = _mm512_cmp_ps_mask::<_CMP_NEQ_OQ>(d, zero);
    let id = _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0), d);
    let (mut ids, mut dhs) = ([0.0f32; 16], [0u16; 16]);
    // SAFETY: 16-element arrays.
    unsafe {
        _mm512_storeu_ps(ids.as_mut_ptr(), id);
        _mm256_storeu_si256(dhs.as_mut_ptr().cast(), dh);
    }
    // The codes, block by block: best_index(id * x).
    for b in 0..16 {
        let vid = _mm512_set1_ps(ids[b]);
        // SAFETY: block b's 32 floats and 18 bytes.
        unsafe {
            let p = x.as_ptr().add(32 * b);
            let c0 = best_index16(_mm512_mul_ps(vid, _mm512_loadu_ps(p)), t);
            let c1 = best_index16(_mm512_mul_ps(vid, _mm512_loadu_ps(p.add(16))), t);
            let o = out.as_mut_ptr().add(b * iq4_nl::BYTES).cast::<u8>();
            o.cast::<[u8; 2]>().write_unaligned(dhs[b].to_le_bytes());
            _mm_storeu_si128(o.add(2).cast(), pack_ggml(c0, c1));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search alone, compared as float32 scales (before any fp16 rounding hides a
    /// difference), on blocks of many shapes and magnitudes.
    #[test]
    fn scale_search_matches_the_reference() {
        if !super::super::avx512::available() {
            return;
        }
        let mut s = 0x9E37_79B9u32;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        // SAFETY: AVX-512 is available.
        let t = unsafe { tables() };
        for _ in 0..400 {
            let blocks: Vec<[f32; 32]> = (0..16)
                .map(|_| {
                    let e = (next() % 60) as i32 - 50; // 2^-50 .. 2^9
                    let scale = f32::from_bits(((127 + e) as u32) << 23);
                    let kind = next() % 4;
                    core::array::from_fn(|_| {
                        let u = next() as f32 / 4.3e9 - 0.5;
                        match kind {
                            0 => u * scale,
                            1 => (u * 8.0).round() * scale, // repeated values, ties
                            2 => u * u * u * scale,         // heavy tails
                            _ => [scale, -scale, 0.0, u * scale][(next() % 4) as usize],
                        }
                    })
                })
                .collect();
            let mut xs = [[0.0f32; 16]; 32];
            for (b, blk) in blocks.iter().enumerate() {
                for j in 0..32 {
                    xs[j][b] = blk[j];
                }
            }
            // SAFETY: AVX-512 is available; 16-element arrays.
            let got = unsafe {
                let x: [__m512; 32] = core::array::from_fn(|j| _mm512_loadu_ps(xs[j].as_ptr()));
                let w: [__m512; 32] = core::array::from_fn(|j| _mm512_mul_ps(x[j], x[j]));
                let (mut amax, mut max) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                for v in &x {
                    let a = _mm512_abs_ps(*v);
                    let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, amax);
                    amax = _mm512_mask_mov_ps(amax, gt, a);
                    max = _mm512_mask_mov_ps(max, gt, *v);
                }
                let mut d = [0.0f32; 16];
                _mm512_storeu_ps(d.as_mut_ptr(), search16(&x, &w, amax, max, t));
                d
            };
            for (b, blk) in blocks.iter().enumerate() {
                let want = iq4_nl::search_scale(blk);
                assert_eq!(got[b].to_bits(), want.to_bits(), "block {blk:?}");
            }
        }
    }

    #[test]
    fn best_index_matches_the_reference_near_every_decision() {
        if !super::super::avx512::available() {
            return;
        }
        let kv = KV;
        let mut xs: Vec<f32> = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e-30];
        let mut points: Vec<f32> = kv.to_vec();
        points.extend((0..15).map(|i| (kv[i] + kv[i + 1]) * 0.5));
        points.extend((-17..=16).map(|b| 8.0 * b as f32 - 4.0));
        for p in points {
            for d in 0..3000u32 {
                xs.push(f32::from_bits(p.to_bits().wrapping_add(d)));
                xs.push(f32::from_bits(p.to_bits().wrapping_sub(d)));
            }
        }
        let mut s = 0x1234_5678u32;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            xs.push((s as f32 / 4.3e9 - 0.5) * 300.0);
        }
        // SAFETY: AVX-512 is available.
        let t = unsafe { tables() };
        for chunk in xs.chunks(16) {
            let mut l = [0.0f32; 16];
            l[..chunk.len()].copy_from_slice(chunk);
            let (mut got, mut bounded) = ([0i32; 16], [0i32; 16]);
            // SAFETY: AVX-512 is available; 16-element arrays.
            unsafe {
                let v = _mm512_loadu_ps(l.as_ptr());
                _mm512_storeu_si512(got.as_mut_ptr().cast(), best_index16(v, t));
                _mm512_storeu_si512(bounded.as_mut_ptr().cast(), best_index16_bounded(v, t));
            }
            for (x, b) in l.iter().zip(bounded) {
                if x.abs() <= 134.0 {
                    assert_eq!(b as usize, iq4_nl::best_index(*x), "bounded, x = {x:e}");
                }
            }
            for (x, g) in l.iter().zip(got) {
                assert_eq!(
                    g as usize,
                    iq4_nl::best_index(*x),
                    "x = {x:e} ({:#010x})",
                    x.to_bits()
                );
            }
        }
    }
}
