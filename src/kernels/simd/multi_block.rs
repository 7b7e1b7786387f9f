//! Block quantizers (Q4_0, Q4_1, MXFP4, int4 groups of 32 to 256) that take `L` blocks (or
//! groups) at once, written once (the macro `kernels!`) over the lane primitives of `lanes` and
//! expanded for AVX2 (8 blocks, module `avx2`), AVX-512 (16 blocks, module `avx512`) and NEON (8
//! blocks, module `neon`, over `lanes::aarch64::neon`), every function `#[target_feature]` with
//! the level's features so that all of it inlines. An int4 group of 64, 128 or 256 values is one
//! unit of 2, 4 or 8 blocks: its minimum and maximum fold over its blocks first, then take a lane
//! as a block's do.
//! Each block's reductions (largest magnitude, minimum, maximum) end up in one lane of a vector
//! through a transposing reduction tree, so the per-block parameters (scales, zero points,
//! fp16 conversions) are computed for `L` blocks with one vector operation each, with the same
//! IEEE operations the scalar references apply to each block; the element-wise codes then run
//! block by block with the block's parameters broadcast.
//!
//! A run of `L` blocks in which any block is bad (NaN or infinity, a value beyond a limit, a
//! scale its fp16 field cannot hold) is declined and redone by the scalar reference, which
//! reports the first bad block exactly and writes only the blocks before it: nothing of the run
//! is written here before every block of it has passed. The last run may be shorter: its
//! missing blocks are zero lanes, neither loaded nor written. A last run of one or two blocks
//! (a small call, or the tail of a long one) goes block by block instead: one block's
//! reductions fold in log2(L) steps, where a run's transposing tree costs L - 1 whatever its
//! length.

use crate::kernels::groups::quantize_groups_with;
use crate::kernels::{scalar, Kernels};
use crate::reference::formats::{mxfp4, q4_0, q4_1, BlockFormat, QuantizeBlocks};
use crate::reference::int4::ScaleMethod;
use crate::Result;
use core::mem::MaybeUninit;

/// Floats per block.
const QK: usize = 32;

/// A last run of at most this many blocks is quantized block by block (`blocks_in_runs`).
const ONE_BY_ONE: usize = 2;

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives (`lanes::x86_64::avx2`, `lanes::x86_64::avx512` or `lanes::aarch64::neon`), with that level's
/// features and kernels.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// Quantizes `src` (whole blocks) into `dst` in runs of `L` blocks of `bytes` bytes, the
            /// last run shorter; a run `run` declines goes to the scalar `reference`, which reports its
            /// first bad block (a run writes nothing unless it succeeds).
            fn blocks_in_runs(
                src: &[f32],
                dst: &mut [MaybeUninit<u8>],
                bytes: usize,
                mut run: impl FnMut(&[f32], &mut [MaybeUninit<u8>], usize) -> bool,
                reference: QuantizeBlocks,
            ) -> Result<()> {
                // The full runs through `chunks_exact`, whose loop has no length clamps (about 35
                // fewer instructions per run: 3% of MXFP4's in-cache time), then the rest.
                let full = src.len() / (QK * L) * (QK * L);
                let ((x, rest), (out, out_rest)) =
                    (src.split_at(full), dst.split_at_mut(full / QK * bytes));
                for (x, out) in x.chunks_exact(QK * L).zip(out.chunks_exact_mut(L * bytes)) {
                    if !run(x, out, L) {
                        reference(x, out)?;
                    }
                }
                let n = rest.len() / QK;
                // (A block that declines sends the whole last run to the reference, which rewrites
                // the same bytes for the blocks before it.)
                let done = if n <= ONE_BY_ONE {
                    rest.chunks_exact(QK)
                        .zip(out_rest.chunks_exact_mut(bytes))
                        .all(|(x, out)| run(x, out, 1))
                } else {
                    run(rest, out_rest, n)
                };
                if !done {
                    reference(rest, out_rest)?;
                }
                Ok(())
            }

            /// (Each run function takes `FULL`: true for the runs of `L` blocks, where `n` is then the
            /// constant `L` and the block loops unroll, false for the last, shorter run.)
            ///
            /// Minimum and maximum of each of the first `n` (of `L`) units of `PER` blocks (lane b:
            /// blocks `PER b..PER (b + 1)`; 0 in the lanes from n on), exact up to the sign of a zero,
            /// when no element is NaN; and whether any element is NaN (the minimum and maximum may
            /// then be anything). A unit is a block of the block formats (`PER` = 1) or an int4 group.
            ///
            /// One unit (`n` = 1, a short last run: see `blocks_in_runs`) has its minimum and
            /// maximum in every lane: `reduce` of L copies, whose levels fold to one operation each.
            fn min_max<const FULL: bool, const PER: usize>(x: &[f32], n: usize) -> (F, F, bool) {
                if FULL || n != 1 {
                    return min_max_run::<FULL, PER>(x, n);
                }
                let (l, h, nan) = unit_min_max::<PER>(x, 0);
                let min = reduce([l; L], |a, b| min_f(a, b));
                (min, reduce([h; L], |a, b| max_f(a, b)), bits(nan) != 0)
            }

            fn min_max_run<const FULL: bool, const PER: usize>(x: &[f32], n: usize) -> (F, F, bool) {
                let n = if FULL { L } else { n };
                assert!(n <= L && x.len() >= QK * PER * n);
                let mut lo = [splat(0.0); L];
                let mut hi = lo;
                let mut nan = unord(lo[0], lo[0]);
                for b in 0..n {
                    let (l, h, m) = unit_min_max::<PER>(x, b);
                    (lo[b], hi[b], nan) = (l, h, or_m(nan, m));
                }
                let min = reduce(lo, |a, b| min_f(a, b));
                let max = reduce(hi, |a, b| max_f(a, b));
                (min, max, bits(nan) != 0)
            }

            /// [`block_min_max`] of unit `u` (blocks `PER u..PER (u + 1)` of `x`), prefetching ahead.
            fn unit_min_max<const PER: usize>(x: &[f32], u: usize) -> (F, F, M) {
                assert!(x.len() >= QK * PER * (u + 1));
                let p = x.as_ptr().wrapping_add(QK * PER * u);
                let load = |j: usize| {
                    let p = p.wrapping_add(QK * j);
                    prefetch(p.wrapping_add(AHEAD));
                    prefetch(p.wrapping_add(AHEAD + 16));
                    // SAFETY: the 32 floats of block PER u + j < PER (u + 1) (asserted).
                    block_min_max(unsafe { load_block(p) })
                };
                let (mut l, mut h, mut nan) = load(0);
                for j in 1..PER {
                    let (l2, h2, m2) = load(j);
                    (l, h, nan) = (min_f(l, l2), max_f(h, h2), or_m(nan, m2));
                }
                (l, h, nan)
            }

            /// Lane by lane over a block's vectors: the minimum, the maximum, and the NaN lanes.
            fn block_min_max(v: Block) -> (F, F, M) {
                let v = v.as_ref();
                let (mut l, mut h) = (v[0], v[0]);
                for k in 1..v.len() {
                    (l, h) = (min_f(l, v[k]), max_f(h, v[k]));
                }
                // One compare finds a NaN in either of two vectors.
                let mut nan = unord(v[0], v[1]);
                for k in (2..v.len()).step_by(2) {
                    nan = or_m(nan, unord(v[k], v[k + 1]));
                }
                (l, h, nan)
            }

            /// True when some block's minimum or maximum lies beyond `±limit` (±Inf are beyond `f32::MAX`).
            fn beyond(min: F, max: F, limit: f32) -> bool {
                let m = or_m(gt(max, splat(limit)), gt(splat(-limit), min));
                bits(m) != 0
            }

            /// Block b's 32 floats, loaded.
            fn block(x: &[f32], b: usize) -> Block {
                assert!(x.len() >= QK * (b + 1));
                // SAFETY: 32 floats at 32 b (asserted).
                unsafe { load_block(x.as_ptr().add(QK * b)) }
            }

            /// The elements of block b where `f` holds, as bits in element order.
            fn block_bits(x: &[f32], b: usize, f: impl Fn(F) -> M) -> u32 {
                let v = block(x, b);
                let v = v.as_ref();
                (0..v.len()).fold(0, |acc, k| acc | bits(f(v[k])) << (L * k))
            }

            /// `id = d != 0 ? 1 / d : 0`, lane by lane (a true division, as the references).
            fn inverse_or_zero(d: F) -> F {
                let nz = gt(bits_f(abs_bits(d)), splat(0.0));
                select(nz, div(splat(1.0), d), splat(0.0))
            }

            /// ggml's code conversion `(uint8_t)MIN(15, (int8_t)v)` (see `formats::common`) for the values
            /// Q4_0 and Q4_1 produce, before `pack_ggml` takes the minimum with 15: `trunc(v)` in int32
            /// lanes. The truncation gives 0x8000_0000 for NaN, ±Inf and out-of-range values, whose low
            /// byte, as the reference's, is 0 (`pack_ggml` keeps it). For finite v the int32 minimum
            /// equals the reference's `int8_t` one because every v these quantizers form lies in [0, 17)
            /// (proved at each call), where the two agree.
            fn trunc_code(v: F) -> I {
                cvtt(v)
            }

            /// Writes `bytes` at `out[at..at + N]`.
            fn put<const N: usize>(out: &mut [MaybeUninit<u8>], at: usize, bytes: [u8; N]) {
                for (o, b) in out[at..at + N].iter_mut().zip(bytes) {
                    o.write(b);
                }
            }

            /// Writes 16 code bytes at `out[at..at + 16]`.
            fn put16(out: &mut [MaybeUninit<u8>], at: usize, v: Bytes16) {
                assert!(at + 16 <= out.len());
                // SAFETY: 16 bytes at `at` (asserted).
                unsafe { store_bytes16(v, out.as_mut_ptr().add(at).cast()) }
            }

            // ---------------------------------------------------------------- Q4_0

            fn q4_0_run<const FULL: bool>(x: &[f32], out: &mut [MaybeUninit<u8>], n: usize) -> bool {
                let n = if FULL { L } else { n };
                // (Up front, so that no store below needs a bounds check of its own.)
                assert!(n <= L && x.len() >= QK * n && out.len() >= n * q4_0::BYTES);
                let (min, max, nan) = min_max::<FULL, 1>(x, n);
                if nan || beyond(min, max, f32::MAX) {
                    return false;
                }
                // The reference keeps the first element of largest magnitude, with its sign. If the maximum
                // is larger than -minimum, every element of that magnitude is the maximum (and vice versa);
                // only where they are equal (both signs present, or all zeros: +0.0) does the first one
                // decide, which a scan of that block finds.
                let nmin = neg(min);
                let mut first = select(gt(max, nmin), max, min);
                let ties = bits(eq(max, nmin));
                if ties != 0 {
                    let (mut a, am) = (lanes(first), lanes(max));
                    for b in (0..n).filter(|b| ties >> b & 1 != 0) {
                        // |max| bits; zero (of either sign) means a block of zeros: +0.0.
                        let bits = am[b].to_bits() & 0x7FFF_FFFF;
                        a[b] = if bits == 0 {
                            0.0
                        } else {
                            let m = splat_i(bits as i32);
                            let hits = block_bits(x, b, |v| eq_i(abs_bits(v), m));
                            x[QK * b + (hits.trailing_zeros() as usize).min(31)]
                        };
                    }
                    first = from_lanes(a);
                }
                // d = max / -8, id = 1 / d (or 0), the fp16 field of d: the reference's operations.
                let d = div(first, splat(-8.0));
                let Some(dh) = to_f16(d) else {
                    return false;
                };
                let id = lanes(inverse_or_zero(d));
                let half = splat(8.5);
                for b in 0..n {
                    let vid = splat(id[b]);
                    // x * id + 8.5, rounded twice. |x| <= |max| and id = 1/d with d = max/-8 (each rounded
                    // once; for subnormal d the relative error is still below 2^-20, and below |d| = 2^-128
                    // id is infinite) give |x * id| <= 8 (1 + 2^-19), so v is in [0.4, 16.6] or NaN/±Inf.
                    let codes = pack_ggml(block(x, b), |v| trunc_code(add(mul(v, vid), half)));
                    put(out, b * q4_0::BYTES, dh[b].to_le_bytes());
                    put16(out, b * q4_0::BYTES + 2, codes);
                }
                true
            }

            // ---------------------------------------------------------------- Q4_1

            /// For the blocks whose `v` lane is a zero of either sign, the first zero of the block with its
            /// sign (what the reference's strict comparisons keep among equal extremes).
            fn first_zeros(x: &[f32], n: usize, v: F) -> F {
                let zero = splat(0.0);
                let zeros = bits(eq(v, zero));
                if zeros == 0 {
                    return v;
                }
                let mut a = lanes(v);
                for b in (0..n).filter(|b| zeros >> b & 1 != 0) {
                    let hits = block_bits(x, b, |v| eq(v, zero));
                    a[b] = x[QK * b + (hits.trailing_zeros() as usize).min(31)];
                }
                from_lanes(a)
            }

            fn q4_1_run<const FULL: bool>(x: &[f32], out: &mut [MaybeUninit<u8>], n: usize) -> bool {
                let n = if FULL { L } else { n };
                // (Up front, so that no store below needs a bounds check of its own.)
                assert!(n <= L && x.len() >= QK * n && out.len() >= n * q4_1::BYTES);
                let (min, max, nan) = min_max::<FULL, 1>(x, n);
                if nan || beyond(min, max, f32::MAX) {
                    return false;
                }
                let (min, max) = (first_zeros(x, n, min), first_zeros(x, n, max));
                let d = div(sub(max, min), splat(15.0));
                let (Some(dh), Some(mh)) = (to_f16(d), to_f16(min)) else {
                    return false;
                };
                let (id, mn) = (lanes(inverse_or_zero(d)), lanes(min));
                let half = splat(0.5);
                for b in 0..n {
                    let (vmin, vid) = (splat(mn[b]), splat(id[b]));
                    // (x - min) * id + 0.5, rounded three times. 0 <= x - min <= max - min (rounding is
                    // monotone) and id = 1/((max - min)/15), so v is in [0.5, 15.6] or NaN/±Inf (id = inf).
                    let codes = pack_ggml(block(x, b), |v| {
                        trunc_code(add(mul(sub(v, vmin), vid), half))
                    });
                    put(out, b * q4_1::BYTES, dh[b].to_le_bytes());
                    put(out, b * q4_1::BYTES + 2, mh[b].to_le_bytes());
                    put16(out, b * q4_1::BYTES + 4, codes);
                }
                true
            }

            // ---------------------------------------------------------------- MXFP4

            fn mxfp4_run<const FULL: bool>(x: &[f32], out: &mut [MaybeUninit<u8>], n: usize) -> bool {
                let n = if FULL { L } else { n };
                assert!(n <= L && x.len() >= QK * n && out.len() >= n * mxfp4::BYTES);
                // The largest magnitude of each block (integer order of the abs bits is the float order).
                let largest = |b: usize| {
                    let v = block(x, b);
                    let v = v.as_ref();
                    let a = (1..v.len()).fold(abs_bits(v[0]), |a, k| max_u(a, abs_bits(v[k])));
                    bits_f(a)
                };
                let max = |a: F, b: F| bits_f(max_u(bits_i(a), bits_i(b)));
                let amax = bits_i(if !FULL && n == 1 {
                    // One block: in every lane (as `min_max`).
                    reduce([largest(0); L], max)
                } else {
                    reduce(
                        core::array::from_fn(|b| {
                            if b >= n {
                                return splat(0.0);
                            }
                            let p = x.as_ptr().wrapping_add(QK * b);
                            prefetch(p.wrapping_add(AHEAD));
                            prefetch(p.wrapping_add(AHEAD + 16));
                            largest(b)
                        }),
                        max,
                    )
                });
                // NaN and ±Inf have abs bits above those of f32::MAX.
                if bits(gt_i(amax, splat_i(f32::MAX.to_bits() as i32))) != 0 {
                    return false;
                }
                let e = scale_bytes(amax);
                // 2/d = 2^(129 - e), as floats for all blocks at once.
                let k = lanes(cvt_f(sub_i(splat_i(129), e)));
                for (b, &e) in lanes_i(e).iter().enumerate().take(n) {
                    let codes = e2m1_block(block(x, b), e as u8, k[b]);
                    put(out, b * mxfp4::BYTES, [e as u8]);
                    put16(out, b * mxfp4::BYTES + 1, codes);
                }
                true
            }

            // ---------------------------------------------------------------- int4 groups of 32 to 256

            /// `params_for` of `L` groups (lane g: group g) from their exact minima and maxima, with the
            /// same operations: MinMax `scale = (hi - lo) / 15`, `zp = clamp(rne(-8 - lo / scale), -8,
            /// 7)`; AbsMax `scale = max(-min, max) / 7` (the larger by `-min > max`), `zp = 0`; scale 1 and
            /// zero point 0 where the scale is not > 0. Signs of zero extremes do not matter (`params_for`
            /// compares them with 0 and uses 0.0 itself).
            fn params(min: F, max: F, method: ScaleMethod) -> (F, F) {
                let zero = splat(0.0);
                let (scale, zp) = match method {
                    ScaleMethod::MinMax => {
                        let lo = select(gt(zero, min), min, zero);
                        let hi = select(gt(max, zero), max, zero);
                        let scale = div(sub(hi, lo), splat(15.0));
                        let z = round_even(sub(splat(-8.0), div(lo, scale)));
                        (scale, max_f(min_f(z, splat(7.0)), splat(-8.0)))
                    }
                    ScaleMethod::AbsMax => {
                        // -min: a sign flip, as the reference's negation.
                        let nmin = neg(min);
                        let a = select(gt(nmin, max), nmin, max);
                        (div(a, splat(7.0)), zero)
                    }
                };
                let ok = gt(scale, zero);
                (select(ok, scale, splat(1.0)), select(ok, zp, zero))
            }

            /// Quantizes `L` groups of `PER` blocks of 32: codes (16 bytes a block), scales and,
            /// unless `zps` is empty, zero points. Declines (writing nothing) if an element is NaN,
            /// infinite or beyond `scalar::MAX_INPUT`.
            fn groups_run<const FULL: bool, const PER: usize>(
                x: &[f32],
                method: ScaleMethod,
                codes: &mut [MaybeUninit<u8>],
                scales: &mut [MaybeUninit<f32>],
                zps: &mut [MaybeUninit<i8>],
                n: usize,
            ) -> bool {
                let n = if FULL { L } else { n };
                assert!(n <= L && x.len() >= QK * PER * n && codes.len() >= 16 * PER * n);
                assert!(scales.len() >= n && (zps.is_empty() || zps.len() >= n));
                let (min, max, nan) = min_max::<FULL, PER>(x, n);
                if nan || beyond(min, max, scalar::MAX_INPUT) {
                    return false;
                }
                let (scale, zp) = params(min, max, method);
                if n == L {
                    // SAFETY: L scales and L zero points (asserted).
                    unsafe {
                        store(scale, scales.as_mut_ptr().cast());
                        if !zps.is_empty() {
                            store_i8(cvt(zp), zps.as_mut_ptr().cast());
                        }
                    }
                } else {
                    for (s, v) in scales[..n].iter_mut().zip(lanes(scale)) {
                        s.write(v);
                    }
                    for (z, v) in zps.iter_mut().take(n).zip(lanes_i(cvt(zp))) {
                        z.write(v as i8);
                    }
                }
                // The reciprocals for the division-free codes where the level has them and the scale
                // allows them (`avx512::codes16_bounded`); elsewhere a true division.
                let inv = lanes(div(splat(1.0), scale));
                let (sc, z) = (lanes(scale), lanes(zp));
                for g in 0..n {
                    let fast = fast_scale(sc[g]);
                    let (vs, vr, vz) = (splat(sc[g]), splat(inv[g]), splat(z[g]));
                    for b in PER * g..PER * (g + 1) {
                        let bytes = pack_pairs(block(x, b), |v| group_codes(v, vs, vr, vz, fast));
                        put16(codes, 16 * b, bytes);
                    }
                }
                true
            }

            /// Whole groups of `PER` blocks of 32 (`groups::quantize_groups_split` does the rest) in
            /// runs of `L` groups; a run with a bad element goes to the level's per-group loop
            /// (`k`), which reports it.
            fn groups<const PER: usize>(
                k: &Kernels,
                src: &[f32],
                method: ScaleMethod,
                codes: &mut [MaybeUninit<u8>],
                scales: &mut [MaybeUninit<f32>],
                zps: &mut [MaybeUninit<i8>],
            ) -> Result<()> {
                let size = QK * PER;
                let (groups, with_zp) = (src.len() / size, !zps.is_empty());
                for r in (0..groups).step_by(L) {
                    let n = (groups - r).min(L);
                    let x = &src[size * r..size * (r + n)];
                    let c = &mut codes[size / 2 * r..size / 2 * (r + n)];
                    let sc = &mut scales[r..r + n];
                    let z = if with_zp { &mut zps[r..r + n] } else { &mut [] };
                    let done = if n == L {
                        groups_run::<true, PER>(x, method, c, sc, z, n)
                    } else if n <= ONE_BY_ONE {
                        // As `blocks_in_runs`: a short last run group by group.
                        (0..n).all(|g| {
                            let z = if with_zp { &mut z[g..] } else { &mut [] };
                            let (x, c) = (&x[size * g..], &mut c[size / 2 * g..]);
                            groups_run::<false, PER>(x, method, c, &mut sc[g..], z, 1)
                        })
                    } else {
                        groups_run::<false, PER>(x, method, c, sc, z, n)
                    };
                    if !done {
                        quantize_groups_with(k, x, size, method, c, sc, z)?;
                    }
                }
                Ok(())
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_q4_0(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
                let run = |x: &[f32], o: &mut [MaybeUninit<u8>], n| {
                    if n == L {
                        q4_0_run::<true>(x, o, n)
                    } else {
                        q4_0_run::<false>(x, o, n)
                    }
                };
                blocks_in_runs(src, dst, q4_0::BYTES, run, q4_0::SPEC.quantize)
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_q4_1(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
                let run = |x: &[f32], o: &mut [MaybeUninit<u8>], n| {
                    if n == L {
                        q4_1_run::<true>(x, o, n)
                    } else {
                        q4_1_run::<false>(x, o, n)
                    }
                };
                blocks_in_runs(src, dst, q4_1::BYTES, run, q4_1::SPEC.quantize)
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_mxfp4(
                src: &[f32],
                dst: &mut [MaybeUninit<u8>],
            ) -> Result<()> {
                let run = |x: &[f32], o: &mut [MaybeUninit<u8>], n| {
                    if n == L {
                        mxfp4_run::<true>(x, o, n)
                    } else {
                        mxfp4_run::<false>(x, o, n)
                    }
                };
                blocks_in_runs(src, dst, mxfp4::BYTES, run, mxfp4::SPEC.quantize)
            }

            /// Whole groups of `group_size` (32, 64, 128 or 256: see
            /// [`GROUP_SIZES`](crate::kernels::groups::GROUP_SIZES)).
            ///
            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_groups(
                k: &Kernels,
                src: &[f32],
                group_size: usize,
                method: ScaleMethod,
                codes: &mut [MaybeUninit<u8>],
                scales: &mut [MaybeUninit<f32>],
                zero_points: &mut [MaybeUninit<i8>],
            ) -> Result<()> {
                let (c, s, z) = (codes, scales, zero_points);
                match group_size {
                    32 => groups::<1>(k, src, method, c, s, z),
                    64 => groups::<2>(k, src, method, c, s, z),
                    128 => groups::<4>(k, src, method, c, s, z),
                    256 => groups::<8>(k, src, method, c, s, z),
                    _ => quantize_groups_with(k, src, group_size, method, c, s, z),
                }
            }
            // The level's entries of the block-format tables (`kernels::format_tables`). They are
            // reached only through the level's `KERNELS`, which `kernels::levels()` hands out only
            // when the CPU has the level's features: the safety argument of each call below.
            #[allow(dead_code)]
            pub(crate) const QUANTIZE: &[(BlockFormat, QuantizeBlocks)] = &[
                (BlockFormat::Q4_0, |s, d| unsafe { quantize_q4_0(s, d) }),
                (BlockFormat::Q4_1, |s, d| unsafe { quantize_q4_1(s, d) }),
                (BlockFormat::Mxfp4, |s, d| unsafe { quantize_mxfp4(s, d) }),
            ];
        }
    };
}

/// AVX2 (with F16C): runs of 8 blocks.
#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) mod avx2 {
    use crate::kernels::lanes::x86_64::avx2::*;
    kernels!("avx2,f16c");
}

/// AVX2 with FMA: as `avx2`, with the division-free int4 codes; only its groups kernel is
/// used (the block formats have no division to save), the rest is not compiled into the
/// library (unused).
#[allow(dead_code)]
#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) mod avx2_fma {
    use crate::kernels::lanes::x86_64::avx2::fma::group_codes;
    use crate::kernels::lanes::x86_64::avx2::*;
    kernels!("avx2,f16c,fma");
}

/// AVX-512: runs of 16 blocks.
#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) mod avx512 {
    use crate::kernels::lanes::x86_64::avx512::*;
    kernels!("avx512f,avx512bw,avx512dq,avx512vl");
}

/// NEON: runs of 8 blocks (8 lanes as pairs of 128-bit registers).
#[cfg(all(target_arch = "aarch64", target_feature = "neon", not(miri)))]
pub(crate) mod neon {
    use crate::kernels::lanes::aarch64::neon::*;
    kernels!("neon");
}
