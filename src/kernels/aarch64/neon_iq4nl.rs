//! NEON IQ4_NL quantization: four blocks at once, one block per lane, so ggml's scale search
//! (`iq4_nl::search_scale`: an initial scale and 15 candidates, each with its own codes and
//! weighted sums accumulated in element order) runs with exactly the reference's IEEE
//! operations in exactly its order in every lane. Only the nearest-codebook-entry search is
//! computed differently (a count of midpoints instead of a binary search), proved equal below
//! and tested against the reference near every decision point.

use super::neon_blocks::{low_bytes, pack_ggml};
use crate::reference::formats::fp16::{f16_is_finite, f32_to_f16};
use crate::reference::formats::{iq4_nl, quantize_each, quantize_runs};
use crate::Result;
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

/// The midpoints of neighbouring codebook values, `(k[i] + k[i + 1]) / 2` (half-integers,
/// exact), at compile time.
const MIDPOINTS: [f32; 15] = {
    let mut m = [0.0f32; 15];
    let mut i = 0;
    while i < 15 {
        m[i] = (iq4_nl::KVALUES[i] as i32 + iq4_nl::KVALUES[i + 1] as i32) as f32 * 0.5;
        i += 1;
    }
    m
};

/// Blocks with max |x| below this get scale 0 (ggml's `GROUP_MAX_EPS`, as `iq4_nl`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// The constants of the search, loaded once per call.
#[derive(Clone, Copy)]
struct Tables {
    mid: [float32x4_t; 15],
    kv: int8x16_t,
}

#[target_feature(enable = "neon")]
fn tables() -> Tables {
    Tables {
        mid: MIDPOINTS.map(|m| vdupq_n_f32(m)),
        // SAFETY: a 16-byte array.
        kv: unsafe { vld1q_s8(iq4_nl::KVALUES.as_ptr()) },
    }
}

/// `iq4_nl::best_index` of 4 values, as int32 lanes.
///
/// Proof. The reference clamps to the ends (x <= -127: 0; x >= 113: 15; NaN falls through to
/// 15), finds by binary search the neighbours `lo = kv[mu - 1] <= x < kv[mu] = hi`, and takes
/// `mu - 1` iff `fl(x - lo) < fl(hi - x)`. Within one unit of a midpoint `m = (lo + hi) / 2`
/// both differences are exact (x's ulp there is at least 2^-21 and divides the integers lo and
/// hi, and the differences, 4.5 to 12, are multiples of it that fit in 24 bits); farther away
/// the exact differences differ by 2 or more, which roundings of relative size 2^-24 cannot
/// reverse. So the index is the number of midpoints `<= x` (a tie goes up, as in the
/// reference), which also gives 0 and 15 at and beyond the ends and for ±inf. NaN compares
/// false everywhere, so it is first replaced by +inf (index 15, as the reference).
#[inline]
#[target_feature(enable = "neon")]
fn best_index4(v: float32x4_t, t: &Tables) -> uint32x4_t {
    let v = vbslq_f32(vceqq_f32(v, v), v, vdupq_n_f32(f32::INFINITY));
    let mut c = vdupq_n_u32(0);
    for &m in &t.mid {
        // Each true comparison is all-ones, i.e. -1.
        c = vsubq_u32(c, vcgeq_f32(v, m));
    }
    c
}

/// The codebook values (as f32, exact) of 16 indices held in four vectors of int32 lanes.
#[inline]
#[target_feature(enable = "neon")]
fn values16(idx: [uint32x4_t; 4], t: &Tables) -> [float32x4_t; 4] {
    let q = vqtbl1q_s8(t.kv, low_bytes(idx));
    let (lo, hi) = (vmovl_s8(vget_low_s8(q)), vmovl_high_s8(q));
    [
        vmovl_s16(vget_low_s16(lo)),
        vmovl_high_s16(lo),
        vmovl_s16(vget_low_s16(hi)),
        vmovl_high_s16(hi),
    ]
    .map(|w| vcvtq_f32_s32(w))
}

/// `iq4_nl::weighted_sums` in every lane: `(Σ w q x, Σ w q q)` for the codes chosen with
/// inverse scale `id`, in element order, each product and sum rounded on its own (`w * q * x`
/// is `(w * q) * x`, as the reference's left-to-right evaluation).
#[inline]
#[target_feature(enable = "neon")]
fn sums4(
    x: &[float32x4_t; 32],
    w: &[float32x4_t; 32],
    id: float32x4_t,
    t: &Tables,
) -> (float32x4_t, float32x4_t) {
    let (mut sqx, mut sq2) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
    for j0 in (0..32).step_by(4) {
        let idx: [uint32x4_t; 4] =
            core::array::from_fn(|k| best_index4(vmulq_f32(id, x[j0 + k]), t));
        let q = values16(idx, t);
        for k in 0..4 {
            let wq = vmulq_f32(w[j0 + k], q[k]);
            sqx = vaddq_f32(sqx, vmulq_f32(wq, x[j0 + k]));
            sq2 = vaddq_f32(sq2, vmulq_f32(wq, q[k]));
        }
    }
    (sqx, sq2)
}

/// `iq4_nl::search_scale` of four blocks (block b of `x` in lane b), step for step.
#[target_feature(enable = "neon")]
fn search4(x: &[f32; 128], t: &Tables) -> [f32; 4] {
    // Transpose: xv[j] holds element j of the four blocks.
    let mut xv = [vdupq_n_f32(0.0); 32];
    for j0 in (0..32).step_by(4) {
        // SAFETY: 4 floats at 32 b + j0 + 4 <= 128.
        let r: [float32x4_t; 4] =
            core::array::from_fn(|b| unsafe { vld1q_f32(x.as_ptr().add(32 * b + j0)) });
        let t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1]));
        let t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1]));
        let t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3]));
        let t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
        xv[j0] = vreinterpretq_f32_f64(vtrn1q_f64(t0, t2));
        xv[j0 + 1] = vreinterpretq_f32_f64(vtrn1q_f64(t1, t3));
        xv[j0 + 2] = vreinterpretq_f32_f64(vtrn2q_f64(t0, t2));
        xv[j0 + 3] = vreinterpretq_f32_f64(vtrn2q_f64(t1, t3));
    }
    let w = xv.map(|v| vmulq_f32(v, v));
    // The first element of largest magnitude (strict `>`), with its sign.
    let (mut amax, mut max) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
    for &v in &xv {
        let a = vabsq_f32(v);
        let gt = vcgtq_f32(a, amax);
        amax = vbslq_f32(gt, a, amax);
        max = vbslq_f32(gt, v, max);
    }
    // Lanes of near-zero blocks compute garbage (possibly NaN), replaced by 0 at the end.
    let zero = vdupq_n_f32(0.0);
    let d0 = vdivq_f32(vnegq_f32(max), vdupq_n_f32(f32::from(iq4_nl::KVALUES[0])));
    let (sqx, sq2) = sums4(&xv, &w, vdivq_f32(vdupq_n_f32(1.0), d0), t);
    let mut d = vbslq_f32(vcgtq_f32(sq2, zero), vdivq_f32(sqx, sq2), zero);
    let mut best = vmulq_f32(d, sqx);
    for itry in -7..=7 {
        let k = (itry + i32::from(iq4_nl::KVALUES[0])) as f32;
        let (sqx, sq2) = sums4(&xv, &w, vdivq_f32(vdupq_n_f32(k), max), t);
        let better = vandq_u32(
            vcgtq_f32(sq2, zero),
            vcgtq_f32(vmulq_f32(sqx, sqx), vmulq_f32(best, sq2)),
        );
        let dn = vdivq_f32(sqx, sq2);
        d = vbslq_f32(better, dn, d);
        best = vbslq_f32(better, vmulq_f32(dn, sqx), best);
    }
    let d = vbslq_f32(vcltq_f32(amax, vdupq_n_f32(GROUP_MAX_EPS)), zero, d);
    let mut out = [0.0f32; 4];
    // SAFETY: 4 floats.
    unsafe { vst1q_f32(out.as_mut_ptr(), d) };
    out
}

/// Writes one block with scale `d` from the search and its finite fp16 copy `dh` (the tail of
/// `iq4_nl::quantize_block`).
#[inline]
#[target_feature(enable = "neon")]
fn write_block(x: &[f32], d: f32, dh: u16, out: &mut [MaybeUninit<u8>], t: &Tables) {
    let id = vdupq_n_f32(if d != 0.0 { 1.0 / d } else { 0.0 });
    let half = |h: usize| {
        let idx: [uint32x4_t; 4] = core::array::from_fn(|k| {
            // SAFETY: 4 floats at 16 h + 4 k + 4 <= 32 = x.len().
            let v = unsafe { vld1q_f32(x[16 * h + 4 * k..][..4].as_ptr()) };
            best_index4(vmulq_f32(id, v), t)
        });
        low_bytes(idx)
    };
    let codes = pack_ggml(half(0), half(1));
    let [h0, h1] = dh.to_le_bytes();
    out[0].write(h0);
    out[1].write(h1);
    let rest = &mut out[2..2 + 16];
    // SAFETY: 16 bytes (bounds-checked above).
    unsafe { vst1q_u8(rest.as_mut_ptr().cast(), codes) };
}

/// True when any of the floats is NaN or ±Inf.
#[inline]
#[target_feature(enable = "neon")]
fn any_non_finite(x: &[f32]) -> bool {
    let limit = vdupq_n_u32(f32::MAX.to_bits());
    let mut bad = vdupq_n_u32(0);
    for c in x.chunks_exact(4) {
        // SAFETY: 4 floats.
        let v = unsafe { vld1q_f32(c.as_ptr()) };
        let a = vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x7FFF_FFFF));
        bad = vorrq_u32(bad, vcgtq_u32(a, limit));
    }
    vmaxvq_u32(bad) != 0 || x.chunks_exact(4).remainder().iter().any(|v| !v.is_finite())
}

/// The kernel of `BlockKernels::quantize_blocks[IQ4_NL]`: runs of four blocks; a run holding
/// NaN or ±Inf, or a block whose scale fp16 cannot hold, and the last one to three blocks go to
/// the scalar reference, which reports the first bad block after writing the ones before it.
pub(super) fn quantize_iq4_nl(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    // SAFETY: NEON is enabled for the whole target (see `neon_blocks`).
    unsafe { quantize_iq4_nl_impl(src, dst) }
}

#[target_feature(enable = "neon")]
fn quantize_iq4_nl_impl(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    const B: usize = iq4_nl::BYTES;
    let t = tables();
    quantize_runs(
        src,
        dst,
        (4, B),
        |x, out| {
            let Ok(x4) = <&[f32; 128]>::try_from(x) else {
                return false;
            };
            if any_non_finite(x) {
                return false;
            }
            let d = search4(x4, &t);
            let dh = d.map(f32_to_f16);
            if !dh.iter().all(|&h| f16_is_finite(h)) {
                return false;
            }
            for (((xb, ob), &db), &h) in x
                .chunks_exact(32)
                .zip(out.chunks_exact_mut(B))
                .zip(&d)
                .zip(&dh)
            {
                write_block(xb, db, h, ob, &t);
            }
            true
        },
        |x, out| quantize_each(x, out, iq4_nl::quantize_block),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The midpoint count against `iq4_nl::best_index` on every float within 2^12 ulps of each
    /// midpoint and codebook value, both signs of zero, ±inf, NaN and a sweep of [-300, 300].
    #[test]
    fn best_index_by_midpoints_matches_the_reference() {
        let mut xs = vec![0.0f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
        let centres = MIDPOINTS.iter().copied().chain(
            iq4_nl::KVALUES
                .iter()
                .map(|&k| f32::from(k))
                .chain([0.0, 134.0, -134.0]),
        );
        for c in centres {
            for d in -4096i32..=4096 {
                let b = c.to_bits() as i32 + d;
                let x = f32::from_bits(b as u32);
                if x.is_finite() {
                    xs.push(x);
                }
            }
        }
        let mut s = -300.0f32;
        while s < 300.0 {
            xs.push(s);
            s += 1.0 / 64.0;
        }
        // SAFETY: NEON is enabled for the whole target.
        let t = unsafe { tables() };
        for c in xs.chunks(4) {
            let mut v = [0.0f32; 4];
            v[..c.len()].copy_from_slice(c);
            let mut got = [0u32; 4];
            // SAFETY: NEON is enabled for the whole target; 4-element arrays.
            unsafe { vst1q_u32(got.as_mut_ptr(), best_index4(vld1q_f32(v.as_ptr()), &t)) };
            for (g, &x) in got.iter().zip(&v) {
                assert_eq!(*g as usize, iq4_nl::best_index(x), "x = {x:e}");
            }
        }
    }
}
