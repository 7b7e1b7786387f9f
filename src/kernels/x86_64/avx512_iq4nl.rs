//! AVX-512 IQ4_NL quantization: 16 blocks at once, one block per lane, so ggml's scale search
//! (`iq4_nl::search_scale`: 16 candidate scales, each with its own codes and weighted sums
//! accumulated in element order) runs with exactly the reference's operations in exactly its
//! order in every lane. Only the nearest-codebook-entry search is computed differently (a
//! bucket table instead of a binary search), proved equal below and tested exhaustively near
//! every decision point.

use super::avx512::{prefetch, AHEAD};
use super::avx512_blocks::pack_ggml;
use super::lanes::avx512::to_f16_bits as to_f16;
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

/// Width of the buckets of the nearest-entry lookup, as the reciprocal the lookup multiplies by:
/// bucket `k = round(v * 4 / 41)` covers `[(k - 1/2) 10.25, (k + 1/2) 10.25)`. Neighbouring
/// midpoints of the codebook are at least 11.5 apart, so no bucket holds two, and the width
/// is chosen so that no midpoint is within 0.6 of a bucket boundary (both checked when
/// [`BUCKETS`] is evaluated, at compile time).
const BUCKET_SCALE: f32 = 4.0 / 41.0;

/// 1.5 * 2^23. `v * BUCKET_SCALE + MAGIC`, rounded once, is `MAGIC + k` with the bucket `k`
/// (two's complement) in the low mantissa bits; the permutes read the low five bits, i.e.
/// `k mod 32`, which is one-to-one for the buckets in use (`|k| <= 13`).
const MAGIC: f32 = 12_582_912.0;

/// Per bucket `k` (at index `k mod 32`, k = -16..=15): how many midpoints of neighbouring
/// codebook values lie below the bucket, the codebook value that count selects, and the
/// midpoint inside the bucket (+inf if none).
struct Buckets {
    base: [i32; 32],
    qlo: [f32; 32],
    mid: [f32; 32],
}

const BUCKETS: Buckets = {
    let mut t = Buckets {
        base: [0; 32],
        qlo: [0.0; 32],
        mid: [f32::INFINITY; 32],
    };
    let mut k = -16i32;
    while k < 16 {
        let i = (k & 31) as usize;
        let (lo, hi) = ((k as f32 - 0.5) * 10.25, (k as f32 + 0.5) * 10.25);
        let mut m = 0;
        while m < 15 {
            let mid = (KV[m] + KV[m + 1]) * 0.5;
            assert!(
                mid - lo > 0.6 || lo - mid > 0.6,
                "midpoint near a bucket boundary"
            );
            if mid < lo {
                t.base[i] += 1;
            } else if mid < hi {
                assert!(t.mid[i] == f32::INFINITY, "two midpoints in one bucket");
                t.mid[i] = mid;
            }
            m += 1;
        }
        t.qlo[i] = KV[t.base[i] as usize];
        k += 1;
    }
    t
};

/// The lookup tables, loaded once per call (pairs: entries 0..16 and 16..32).
#[derive(Clone, Copy)]
struct Tables {
    base: (__m512i, __m512i),
    qlo: (__m512, __m512),
    mid: (__m512, __m512),
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn tables() -> Tables {
    let t = &BUCKETS;
    // SAFETY: arrays of 32 elements, read in two halves of 16.
    unsafe {
        let f = |a: &[f32; 32]| {
            (
                _mm512_loadu_ps(a.as_ptr()),
                _mm512_loadu_ps(a.as_ptr().add(16)),
            )
        };
        Tables {
            base: (
                _mm512_loadu_si512(t.base.as_ptr().cast()),
                _mm512_loadu_si512(t.base.as_ptr().add(16).cast()),
            ),
            qlo: f(&t.qlo),
            mid: f(&t.mid),
        }
    }
}

/// The bucket of each lane, in the low five bits (see [`MAGIC`]). The fused multiply-add is no
/// reference operation: it only picks a bucket, and a value within rounding of a bucket
/// boundary counts the same midpoints in either neighbour.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn bucket(v: __m512) -> __m512i {
    _mm512_castps_si512(_mm512_fmadd_ps(
        v,
        _mm512_set1_ps(BUCKET_SCALE),
        _mm512_set1_ps(MAGIC),
    ))
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
/// for NaN). The count is the bucket's base plus one if x is at or above the bucket's midpoint;
/// the bucket is exact but within about 1e-6 of a boundary, where either neighbour counts the
/// same midpoints (none is within 0.6 of a boundary).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn best_index16(v: __m512, t: Tables) -> __m512i {
    let xc = _mm512_max_ps(
        _mm512_min_ps(v, _mm512_set1_ps(113.0)),
        _mm512_set1_ps(-127.0),
    );
    let b = bucket(xc);
    let base = _mm512_permutex2var_epi32(t.base.0, b, t.base.1);
    let mid = _mm512_permutex2var_ps(t.mid.0, b, t.mid.1);
    let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(xc, mid);
    _mm512_mask_add_epi32(base, up, base, _mm512_set1_epi32(1))
}

/// The codebook value `kv[best_index(v)]` for `|v| <= 134.01`, as every value of the scale
/// search is (`|x| <= |max|` and the inverse scales are at most 134 / |max|, up to rounding),
/// in lanes of blocks that are not near-zero (whose result is discarded). No clamp is needed:
/// those values fall in buckets -13..=13, which the table holds; beyond the codebook's ends the
/// buckets hold no midpoint and give the end values, as the reference does.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn nearest16_bounded(v: __m512, t: Tables) -> __m512 {
    let b = bucket(v);
    let qlo = _mm512_permutex2var_ps(t.qlo.0, b, t.qlo.1);
    let mid = _mm512_permutex2var_ps(t.mid.0, b, t.mid.1);
    let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, mid);
    // At or above the midpoint: the upper neighbour, 2 mid - lo (exact: small integers and
    // halves). One instruction, fused or not.
    _mm512_mask3_fmsub_ps(mid, _mm512_set1_ps(2.0), qlo, up)
}

/// The reference's weighted sums `(Σ w q x, Σ w q q)` for inverse scale `id`, every lane in
/// element order, each product and sum rounded on its own.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn sums16(x: &[__m512; 32], w: &[__m512; 32], id: __m512, t: Tables) -> (__m512, __m512) {
    let (mut sqx, mut sq2) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for j in 0..32 {
        let q = nearest16_bounded(_mm512_mul_ps(id, x[j]), t);
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
    quantize_runs(
        src,
        dst,
        (16, iq4_nl::BYTES),
        // SAFETY: 16 blocks of floats and of bytes; AVX-512 is enabled here.
        |x, out| unsafe { iq4_nl_x16(x, out, t) },
        |x, out| quantize_each(x, out, iq4_nl::quantize_block),
    )
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
        // Bucket boundaries, and the bound of the unclamped lookup.
        points.extend((-16..=16).map(|k| (k as f32 + 0.5) * 10.25));
        points.extend([134.01, -134.01]);
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
            let (mut got, mut bounded) = ([0i32; 16], [0.0f32; 16]);
            // SAFETY: AVX-512 is available; 16-element arrays.
            unsafe {
                let v = _mm512_loadu_ps(l.as_ptr());
                _mm512_storeu_si512(got.as_mut_ptr().cast(), best_index16(v, t));
                _mm512_storeu_ps(bounded.as_mut_ptr(), nearest16_bounded(v, t));
            }
            for (x, q) in l.iter().zip(bounded) {
                if x.abs() <= 134.01 {
                    assert_eq!(q, KV[iq4_nl::best_index(*x)], "bounded, x = {x:e}");
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
