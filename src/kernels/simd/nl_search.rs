//! The 32-value non-linear codebook format's quantization, `L` blocks at once, one block per
//! lane, so ggml's scale search (`nl_codebook::search_scale`: 16 candidate scales, each with its own codes and weighted sums
//! accumulated in element order) runs with exactly the reference's operations in exactly its
//! order in every lane. Written once (the macro `kernels!`) over the lane primitives of `lanes`
//! and expanded for AVX2 (8 blocks) and AVX-512 (16 blocks). Only the nearest-codebook-entry
//! search is computed differently from the reference, and differently per ISA (a binary search
//! over the midpoints with AVX2, a bucket table with AVX-512: `nl_index`, `nl_nearest`,
//! whose proofs are in `lanes`), tested exhaustively below over the range where the answer
//! changes.

use crate::reference::formats::{iq4_nl, nl_codebook, quantize_each, quantize_runs};
use crate::reference::formats::{BlockFormat, QuantizeBlocks};
use crate::Result;
use core::mem::MaybeUninit;

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives (`lanes::x86_64::avx2`, `lanes::x86_64::avx512` or `lanes::aarch64::neon`), with that level's features.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// The reference's weighted sums `(Σ w q x, Σ w q q)` for inverse scale `id`, every lane
            /// in element order, each product and sum rounded on its own.
            fn sums(x: &[F; 32], w: &[F; 32], id: F, t: NlTables) -> (F, F) {
                let (mut sqx, mut sq2) = (splat(0.0), splat(0.0));
                for j in 0..32 {
                    let q = nl_nearest(mul(id, x[j]), t);
                    let wq = mul(w[j], q);
                    sqx = add(sqx, mul(wq, x[j]));
                    sq2 = add(sq2, mul(wq, q));
                }
                (sqx, sq2)
            }

            /// The first element of largest magnitude of each lane (strict `>` from 0, as the
            /// reference), and that magnitude.
            pub(super) fn first_max(x: &[F; 32]) -> (F, F) {
                let (mut amax, mut max) = (splat(0.0), splat(0.0));
                for &v in x {
                    let a = bits_f(abs_bits(v));
                    let gt = gt(a, amax);
                    (amax, max) = (select(gt, a, amax), select(gt, v, max));
                }
                (amax, max)
            }

            /// `nl_codebook::search_scale` of `L` blocks (lane b: block b) from their elements `x`
            /// (element j of every block in `x[j]`), weights `w = x * x`, largest magnitude and first
            /// largest element.
            pub(super) fn search(x: &[F; 32], w: &[F; 32], amax: F, max: F, t: NlTables) -> F {
                let zero = splat(0.0);
                let d0 = div(neg(max), splat(f32::from(nl_codebook::KVALUES[0])));
                let (sqx, sq2) = sums(x, w, div(splat(1.0), d0), t);
                let mut d = select(gt(sq2, zero), div(sqx, sq2), zero);
                let mut best = mul(d, sqx);
                for itry in -7..=7 {
                    let num = (itry + i32::from(nl_codebook::KVALUES[0])) as f32;
                    let (sqx, sq2) = sums(x, w, div(splat(num), max), t);
                    let better = and_m(gt(sq2, zero), gt(mul(sqx, sqx), mul(best, sq2)));
                    d = select(better, div(sqx, sq2), d);
                    best = select(better, mul(d, sqx), best);
                }
                // Blocks of near-zeros get scale 0.
                select(gt(splat(1e-15), amax), zero, d)
            }

            /// Quantizes `L` whole blocks (`32 L` floats into `L` blocks of bytes), or returns false,
            /// writing nothing, when one of them holds a NaN or infinity or needs a scale beyond fp16.
            fn run(x: &[f32], out: &mut [MaybeUninit<u8>], t: NlTables) -> bool {
                assert!(x.len() >= 32 * L && out.len() >= L * iq4_nl::BYTES);
                for l in 0..2 * L {
                    prefetch(x.as_ptr().wrapping_add(AHEAD / 4 + 16 * l));
                }
                // SAFETY: 32 L floats (asserted).
                let xs = unsafe { load_columns(x.as_ptr()) };
                // NaN or infinity anywhere: the reference reports it.
                let mag = xs.iter().fold(splat_i(0), |m, &v| max_u(m, abs_bits(v)));
                if bits(gt_i(mag, splat_i(f32::MAX.to_bits() as i32))) != 0 {
                    return false;
                }
                let w: [F; 32] = core::array::from_fn(|j| mul(xs[j], xs[j]));
                let (amax, max) = first_max(&xs);
                let d = search(&xs, &w, amax, max, t);
                let Some(dh) = to_f16(d) else {
                    return false;
                };
                let nz = gt(bits_f(abs_bits(d)), splat(0.0));
                let id = lanes(select(nz, div(splat(1.0), d), splat(0.0)));
                // The codes, block by block: best_index(id * x).
                for b in 0..L {
                    let vid = splat(id[b]);
                    let o = &mut out[b * iq4_nl::BYTES..(b + 1) * iq4_nl::BYTES];
                    // SAFETY: block b's 32 floats (asserted above).
                    let v = unsafe { load_block(x.as_ptr().add(32 * b)) };
                    let codes = pack_ggml(v, |v| nl_index(mul(vid, v), t));
                    for (o, h) in o.iter_mut().zip(dh[b].to_le_bytes()) {
                        o.write(h);
                    }
                    // SAFETY: the block's 18 bytes (sliced above) hold 16 at 2.
                    unsafe { store_bytes16(codes, o.as_mut_ptr().add(2).cast()) };
                }
                true
            }

            /// Quantizes IQ4_NL blocks: runs of `L` at once, the rest (and any run holding a bad
            /// block, which the reference then reports in order) by the scalar reference.
            ///
            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_iq4_nl(
                src: &[f32],
                dst: &mut [MaybeUninit<u8>],
            ) -> Result<()> {
                let t = nl_tables();
                quantize_runs(
                    src,
                    dst,
                    (L, iq4_nl::BYTES),
                    |x, out| run(x, out, t),
                    |x, out| quantize_each(x, out, iq4_nl::quantize_block),
                )
            }
            // The level's entries of the block-format tables (`kernels::format_tables`). They are
            // reached only through the level's `KERNELS`, which `kernels::levels()` hands out only
            // when the CPU has the level's features: the safety argument of each call below.
            pub(crate) const QUANTIZE: &[(BlockFormat, QuantizeBlocks)] =
                &[(BlockFormat::Iq4Nl, |s, d| unsafe { quantize_iq4_nl(s, d) })];
        }
    };
}

instantiate_per_level!();

#[cfg(test)]
mod tests {
    use crate::kernels::lanes::{NL_KV as KV, NL_MID as MID};
    use crate::reference::formats::nl_codebook;

    /// The search alone, compared as float32 scales (before any fp16 rounding hides a
    /// difference), on `L`-block groups of many shapes and magnitudes.
    #[test]
    fn scale_search_matches_the_reference() {
        let mut s = 0x9E37_79B9u32;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        let groups: Vec<[f32; 32]> = (0..1500 * 16)
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
        let groups = &groups[..];
        each_level!(|l, k, groups: &[[f32; 32]]| {
            let t = l::nl_tables();
            for blocks in groups.chunks_exact(l::L) {
                let x: [l::F; 32] =
                    core::array::from_fn(|j| l::from_lanes(core::array::from_fn(|b| blocks[b][j])));
                let w: [l::F; 32] = core::array::from_fn(|j| l::mul(x[j], x[j]));
                let (amax, max) = k::first_max(&x);
                let got = l::lanes(k::search(&x, &w, amax, max, t));
                for (blk, g) in blocks.iter().zip(got) {
                    let want = nl_codebook::search_scale(blk);
                    assert_eq!(g.to_bits(), want.to_bits(), "{} lanes, block {blk:?}", l::L);
                }
            }
        });
    }

    /// Runs both lookups of each level on `xs` against the reference: the index for every
    /// value, the codebook value for every one the scale search can ask for (`|x| <= 134.01`).
    fn check_lookups(xs: &[f32]) {
        each_level!(|l, _k, xs: &[f32]| {
            let t = l::nl_tables();
            for chunk in xs.chunks(l::L) {
                let mut v = [0.0f32; l::L];
                v[..chunk.len()].copy_from_slice(chunk);
                let got = l::lanes_i(l::nl_index(l::from_lanes(v), t));
                let q = l::lanes(l::nl_nearest(l::from_lanes(v), t));
                for ((x, g), q) in v.iter().zip(got).zip(q) {
                    let want = nl_codebook::best_index(*x);
                    let bits = x.to_bits();
                    assert_eq!(g as usize, want, "x = {x:e} ({bits:#010x}), {} lanes", l::L);
                    if x.abs() <= 134.01 {
                        assert_eq!(
                            q,
                            KV[want],
                            "nearest, x = {x:e} ({bits:#010x}), {} lanes",
                            l::L
                        );
                    }
                }
            }
        });
    }

    #[test]
    fn lookups_match_the_reference_near_every_decision() {
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
        // AVX-512's bucket boundaries, and the bound of its unclamped lookup.
        points.extend((-16..=16).map(|k| (k as f32 + 0.5) * 10.25));
        points.extend([134.01, -134.01, 1e10, -1e10]);
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
        check_lookups(&xs);
    }

    /// Every float of magnitude in [4, 256) (all the midpoints and codebook values lie there;
    /// every 61st in unoptimised builds, which the test above covers near each decision), and
    /// every 4099th bit pattern of all (smaller magnitudes, huge ones, infinities, NaNs).
    #[test]
    fn lookups_match_the_reference_exhaustively() {
        let (lo, hi) = (4.0f32.to_bits(), 256.0f32.to_bits());
        let mut xs = Vec::with_capacity(1 << 16);
        let flush = |xs: &mut Vec<f32>, force: bool| {
            if force || xs.len() == 1 << 16 {
                check_lookups(xs);
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
