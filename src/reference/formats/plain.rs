//! Test only: the straightforward element-by-element renderings of the scalar references that
//! the faster ones replaced (ggml's loops transcribed as they are, as the references read before
//! they were rewritten to vectorise), and tests that the current references give the same bytes
//! on awkward blocks: ties of +m and -m, signed zeros, subnormals, huge values, constant blocks,
//! scales whose inverse overflows.

use super::common::{nearest_int, QK};
use super::fp16::{f16_is_finite, f32_to_f16};
use super::{nl_codebook, q4_0, q4_1, q4_k};
use crate::{Error, Result};

/// ggml's float-to-code conversion, with the branch (see `common::c_float_to_u8_code`).
fn c_float_to_u8_code(v: f32) -> u8 {
    let i = if (-2_147_483_648.0..2_147_483_648.0).contains(&v) {
        v as i32 // truncation toward zero, in range
    } else {
        i32::MIN // NaN, ±inf, out of range
    };
    let t = i as i8; // (int8_t): the low byte
    let m = i32::from(t).min(15); // MIN(15, ...)
    m as u8 // (uint8_t): modulo 256
}

/// Q4_0, as ggml's loops read.
pub(super) fn q4_0_block(x: &[f32; QK]) -> Result<[u8; q4_0::BYTES]> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }

    // The first element of largest magnitude, with its sign.
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }

    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return Err(Error::ValueOutOfRange);
    }

    let mut out = [0u8; q4_0::BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    for j in 0..QK / 2 {
        let x0 = x[j] * id;
        let x1 = x[j + QK / 2] * id;
        let q0 = c_float_to_u8_code(x0 + 8.5);
        let q1 = c_float_to_u8_code(x1 + 8.5);
        out[2 + j] = q0 | (q1 << 4);
    }
    Ok(out)
}

/// Q4_1, as ggml's loops read.
pub(super) fn q4_1_block(x: &[f32; QK]) -> Result<[u8; q4_1::BYTES]> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite);
    }

    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }

    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let dh = f32_to_f16(d);
    let mh = f32_to_f16(min);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return Err(Error::ValueOutOfRange);
    }

    let mut out = [0u8; q4_1::BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    out[2..4].copy_from_slice(&mh.to_le_bytes());
    for j in 0..QK / 2 {
        let x0 = (x[j] - min) * id;
        let x1 = (x[j + QK / 2] - min) * id;
        let q0 = c_float_to_u8_code(x0 + 0.5);
        let q1 = c_float_to_u8_code(x1 + 0.5);
        out[4 + j] = q0 | (q1 << 4);
    }
    Ok(out)
}

const KVALUES: [i8; 16] = nl_codebook::KVALUES;
const GROUP_MAX_EPS: f32 = 1e-15;
const NTRY: i32 = 7;

fn kv(i: usize) -> f32 {
    f32::from(KVALUES[i])
}

/// IQ4_NL's nearest entry, ggml's binary search; its weighted sums and scale search.
pub(super) fn best_index(x: f32) -> usize {
    if x <= kv(0) {
        return 0;
    }
    if x >= kv(15) {
        return 15;
    }
    let mut ml = 0usize;
    let mut mu = 15usize;
    while mu - ml > 1 {
        let mav = (ml + mu) / 2;
        if x < kv(mav) {
            mu = mav;
        } else {
            ml = mav;
        }
    }
    if x - kv(mu - 1) < kv(mu) - x {
        mu - 1
    } else {
        mu
    }
}
fn weighted_sums(x: &[f32; QK], w: &[f32; QK], id: f32) -> (f32, f32) {
    let mut sumqx = 0.0f32;
    let mut sumq2 = 0.0f32;
    for j in 0..QK {
        let q = kv(best_index(id * x[j]));
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
    (sumqx, sumq2)
}
pub(super) fn search_scale(x: &[f32; QK]) -> f32 {
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

    let d0 = -max / kv(0);
    let (sumqx, sumq2) = weighted_sums(x, &w, 1.0 / d0);
    let mut d = if sumq2 > 0.0 { sumqx / sumq2 } else { 0.0 };
    let mut best = d * sumqx;
    for itry in -NTRY..=NTRY {
        let id = (itry + i32::from(KVALUES[0])) as f32 / max;
        let (sumqx, sumq2) = weighted_sums(x, &w, id);
        if sumq2 > 0.0 && sumqx * sumqx > best * sumq2 {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    d
}

/// Q4_K's sub-block fit, one sub-block at a time.
mod q4k {
    use super::nearest_int;

    const SUB: usize = 32;
    const NMAX: f32 = 15.0;
    const RMIN: f32 = -1.0;
    const RDELTA: f32 = 0.1;
    const NSTEP: i32 = 20;

    fn code(l: i32) -> u8 {
        l.clamp(0, 15) as u8
    }

    pub(super) struct Fit {
        pub scale: f32,
        pub min: f32,
        pub codes: [u8; SUB],
    }
    fn weighted_error(
        x: &[f32; SUB],
        w: &[f32; SUB],
        q: &[u8; SUB],
        scale: f32,
        offset: f32,
    ) -> f32 {
        let mut err = 0.0f32;
        for i in 0..SUB {
            let diff = scale * f32::from(q[i]) + offset - x[i];
            err += w[i] * (diff * diff);
        }
        err
    }
    pub(super) fn fit_sub_block(x: &[f32; SUB]) -> Fit {
        let mut sum_x2 = 0.0f32;
        for &v in x {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        let mut w = [0.0f32; SUB];
        for i in 0..SUB {
            w[i] = av_x + x[i].abs();
        }

        let mut min = x[0];
        let mut max = x[0];
        let mut sum_w = w[0];
        let mut sum_x = sum_w * x[0];
        for i in 1..SUB {
            if x[i] < min {
                min = x[i];
            }
            if x[i] > max {
                max = x[i];
            }
            sum_w += w[i];
            sum_x += w[i] * x[i];
        }
        if min > 0.0 {
            min = 0.0;
        }
        let mut codes = [0u8; SUB];
        if max == min {
            return Fit {
                scale: 0.0,
                min: -min,
                codes,
            };
        }

        let iscale = NMAX / (max - min);
        let mut scale = 1.0 / iscale;
        for i in 0..SUB {
            codes[i] = code(nearest_int(iscale * (x[i] - min)));
        }
        let mut best_error = weighted_error(x, &w, &codes, scale, min);

        let mut aux = [0u8; SUB];
        for step in 0..=NSTEP {
            // `min` is the offset of the best fit so far, as in ggml (not the sub-block minimum).
            let iscale = ((RMIN + RDELTA * step as f32) + NMAX) / (max - min);
            let mut sum_l = 0.0f32;
            let mut sum_l2 = 0.0f32;
            let mut sum_xl = 0.0f32;
            for i in 0..SUB {
                let q = code(nearest_int(iscale * (x[i] - min)));
                aux[i] = q;
                let l = f32::from(q);
                sum_l += w[i] * l;
                sum_l2 += w[i] * l * l;
                sum_xl += w[i] * l * x[i];
            }
            let det = sum_w * sum_l2 - sum_l * sum_l;
            if det > 0.0 {
                let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
                let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
                if this_min > 0.0 {
                    this_min = 0.0;
                    this_scale = sum_xl / sum_l2;
                }
                let cur_error = weighted_error(x, &w, &aux, this_scale, this_min);
                if cur_error < best_error {
                    codes = aux;
                    best_error = cur_error;
                    scale = this_scale;
                    min = this_min;
                }
            }
        }
        Fit {
            scale,
            min: -min,
            codes,
        }
    }
}

/// Awkward blocks of `n` values: a pool of special values mixed with random ones, whole-block
/// patterns (zeros of both signs, constants, ties of +m and -m, one non-zero), and scaled copies
/// reaching subnormals and values near the float32 limit.
fn awkward_blocks(n: usize, count: usize) -> Vec<Vec<f32>> {
    // Miri runs these too (the references hold unsafe conversions), on fewer blocks.
    let count = if cfg!(miri) { count / 100 } else { count };
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        8.0,
        -8.0,
        1e-40,
        -1e-40,
        1e-38,
        3e-39,
        1e-20,
        65504.0,
        -65520.0,
        1e7,
        -3.0e38,
        3.4e38,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
    ];
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut out = Vec::new();
    for k in 0..count {
        let r = next();
        let scale = [1.0f32, 1e-3, 1e-30, 1e-39, 1e30, 1e37][(r % 6) as usize];
        let mut b: Vec<f32> = (0..n)
            .map(|_| {
                let r = next();
                if r % 5 == 0 {
                    special[(r >> 8) as usize % special.len()]
                } else {
                    let u = ((r >> 16) & 0xFFFF) as f32 / 32768.0 - 1.0;
                    u * scale
                }
            })
            .collect();
        match k % 8 {
            0 => b
                .iter_mut()
                .for_each(|v| *v = if next() % 2 == 0 { 0.0 } else { -0.0 }),
            1 => b.iter_mut().for_each(|v| *v = 2.5 * scale),
            2 => {
                // +m and -m both at the largest magnitude, in either order.
                let m = b.iter().fold(0.0f32, |a, v| a.max(v.abs())) * 2.0;
                let (i, j) = ((next() as usize) % n, (next() as usize) % n);
                b[i] = m;
                b[j] = -m;
            }
            3 => {
                b.iter_mut().for_each(|v| *v = 0.0);
                b[(next() as usize) % n] = -scale;
            }
            _ => {}
        }
        out.push(b);
    }
    out
}

#[test]
fn q4_0_and_q4_1_equal_the_plain_loops() {
    for b in awkward_blocks(QK, 20_000) {
        let x: &[f32; QK] = b.as_slice().try_into().unwrap();
        assert_eq!(q4_0::quantize_block(x), q4_0_block(x), "q4_0 {x:?}");
        assert_eq!(q4_1::quantize_block(x), q4_1_block(x), "q4_1 {x:?}");
    }
}

#[test]
fn iq4_nl_search_and_index_equal_the_plain_loops() {
    for b in awkward_blocks(QK, 3_000) {
        let x: &[f32; QK] = b.as_slice().try_into().unwrap();
        if !x.iter().all(|v| v.is_finite()) {
            continue;
        }
        let (new, old) = (nl_codebook::search_scale(x), search_scale(x));
        // Sums that overflow give NaN (the block is then out of range), whose sign and payload
        // Rust does not fix (Miri varies them): any NaN equals any NaN here.
        assert!(
            new.to_bits() == old.to_bits() || (new.is_nan() && old.is_nan()),
            "{new:e} {old:e} {x:?}"
        );
    }
    // The index on every float near each entry and midpoint, the ends and beyond, NaN.
    let mut probes = vec![
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e30,
        -1e30,
    ];
    for k in 0..16 {
        for base in [
            kv(k),
            if k < 15 {
                (kv(k) + kv(k + 1)) / 2.0
            } else {
                kv(k)
            },
        ] {
            let bits = base.to_bits();
            for d in 0..64u32 {
                probes.push(f32::from_bits(bits.wrapping_add(d)));
                probes.push(f32::from_bits(bits.wrapping_sub(d)));
            }
        }
    }
    for x in probes {
        assert_eq!(nl_codebook::best_index(x), best_index(x), "{x:e}");
    }
}

#[test]
fn q4_k_fits_equal_the_plain_loops() {
    let blocks = awkward_blocks(QK, 4_000);
    for group in blocks.chunks_exact(8) {
        let x: Vec<f32> = group.iter().flatten().copied().collect();
        if !x.iter().all(|v| v.is_finite()) {
            continue;
        }
        let x: &[f32; 256] = x.as_slice().try_into().unwrap();
        let fits = q4_k::fit_sub_blocks(x);
        for (j, xs) in group.iter().enumerate() {
            let plain = q4k::fit_sub_block(xs.as_slice().try_into().unwrap());
            assert_eq!(
                fits.scale[j].to_bits(),
                plain.scale.to_bits(),
                "scale {j} {xs:?}"
            );
            assert_eq!(fits.min[j].to_bits(), plain.min.to_bits(), "min {j} {xs:?}");
            let codes: Vec<u8> = (0..32).map(|i| fits.codes[i][j]).collect();
            assert_eq!(codes, plain.codes, "codes {j} {xs:?}");
        }
    }
}
