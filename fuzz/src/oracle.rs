//! Independent references, written from the contract (docs/contract.md §2, §3, §4; bare §n
//! below are its sections) and from ggml's and bitsandbytes' documented formulas, never by
//! calling the library: what each call must produce, bit for bit where the contract fixes the
//! bits.

use crate::draw::pow2;

/// Scale and zero point of §2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub scale: f32,
    pub zp: i8,
}

/// §2: scale and zero point of a valid (finite, |x| <= 2^126), non-empty input.
pub fn int4_params(x: &[f32], absmax: bool) -> Params {
    let identity = Params { scale: 1.0, zp: 0 };
    let p = if absmax {
        let mut a = 0.0f32;
        for &v in x {
            if v.abs() > a {
                a = v.abs();
            }
        }
        Params {
            scale: a / 7.0,
            zp: 0,
        }
    } else {
        let (mut lo, mut hi) = (0.0f32, 0.0f32);
        for &v in x {
            if v < lo {
                lo = v;
            }
            if v > hi {
                hi = v;
            }
        }
        let scale = (hi - lo) / 15.0;
        if scale == 0.0 {
            return identity;
        }
        let zp = (-8.0 - lo / scale).round_ties_even().clamp(-8.0, 7.0);
        Params {
            scale,
            zp: zp as i8,
        }
    };
    if p.scale == 0.0 {
        identity
    } else {
        p
    }
}

/// §2: `clamp(rne(x / scale) + zero_point, -8, 7)`.
pub fn int4_code(x: f32, p: Params) -> i8 {
    let q = (x / p.scale).round_ties_even();
    // |q| is small for every scale §2 computes, so this float sum is exact.
    (q + f32::from(p.zp)).clamp(-8.0, 7.0) as i8
}

/// §2: `(float)(q - zero_point) * scale`, one rounding.
pub fn int4_value(q: i8, scale: f32, zp: i8) -> f32 {
    (i32::from(q) - i32::from(zp)) as f32 * scale
}

/// §2 packing: element 2i in the low nibble of byte i, two's complement, odd count padded with 0.
pub fn pack(codes: &[i8]) -> Vec<u8> {
    codes
        .chunks(2)
        .map(|p| {
            let lo = (p[0] as u8) & 0x0F;
            let hi = (p.get(1).copied().unwrap_or(0) as u8) & 0x0F;
            lo | (hi << 4)
        })
        .collect()
}

/// Sign-extends nibble `k` (0 low, 1 high) of packed byte stream `b` at element `i`.
pub fn nibble(b: &[u8], i: usize) -> i8 {
    let byte = b[i / 2];
    let v = if i.is_multiple_of(2) {
        byte & 0x0F
    } else {
        byte >> 4
    };
    if v >= 8 {
        v as i8 - 16
    } else {
        v as i8
    }
}

/// The §2 error allowance: |x - y| <= scale / 2 plus about an ulp of max |x|. `None` when the
/// scale is subnormal (the bound does not hold there: documented, not checked).
pub fn int4_bound(x: &[f32], scale: f32) -> Option<f64> {
    if scale < f32::MIN_POSITIVE {
        return None;
    }
    let m = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let ulp = f64::from(m) * f64::from(f32::EPSILON);
    Some(f64::from(scale) * 0.5 * (1.0 + 1e-6) + 2.0 * ulp)
}

// ---------------------------------------------------------------- fp16 (IEEE binary16)

/// binary16 bits to f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let e = i32::from((h >> 10) & 0x1F);
    let m = f32::from(h & 0x3FF);
    let mag = match e {
        0 => m * pow2(-24),
        31 if m == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        _ => (1024.0 + m) * pow2(e - 25),
    };
    sign * mag
}

/// Whether binary16 bits are finite.
pub fn f16_finite(h: u16) -> bool {
    h & 0x7C00 != 0x7C00
}

/// f32 to binary16, round to nearest even (what ggml's FP32_TO_FP16 does), for a finite input.
pub fn f32_to_f16(x: f32) -> u16 {
    let sign = if x.is_sign_negative() { 0x8000u16 } else { 0 };
    let a = f64::from(x.abs());
    let bits: u32 = if a < f64::from(pow2(-14)) {
        // Subnormal step 2^-24; 1024 steps is the smallest normal, same encoding.
        (a * 2f64.powi(24)).round_ties_even() as u32
    } else {
        let e = a.log2().floor() as i32; // exact enough: a is a float, checked below
        let e = if 2f64.powi(e) > a {
            e - 1
        } else if 2f64.powi(e + 1) <= a {
            e + 1
        } else {
            e
        };
        let r = (a / 2f64.powi(e - 10)).round_ties_even() as u32; // 1024..=2048
        if e + 15 >= 31 {
            0x7C00
        } else {
            (((e + 15) as u32) << 10) + (r - 1024)
        }
    };
    sign | bits.min(0x7C00) as u16
}

// ---------------------------------------------------------------- ggml block formats

pub const QK: usize = 32;

/// (values, bytes) per block of format 0..=6 (Q4_0, Q4_1, IQ4_NL, MXFP4 from docs/contract.md
/// §3.5; Q4_K, IQ4_XS, NVFP4 from §7.1), `None` for an unknown format.
pub fn block_size(format: u32) -> Option<(usize, usize)> {
    match format {
        0 => Some((32, 18)),
        1 => Some((32, 20)),
        2 => Some((32, 18)),
        3 => Some((32, 17)),
        4 => Some((256, 144)),
        5 => Some((256, 136)),
        6 => Some((64, 36)),
        _ => None,
    }
}

/// ggml's `kvalues_iq4nl`.
pub const IQ4NL: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];
/// ggml's `kvalues_mxfp4` (E2M1 doubled).
pub const MXFP4: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// ggml's GGML_E8M0_TO_FP32_HALF: 2^(e - 128).
pub fn e8m0_half(e: u8) -> f32 {
    pow2(i32::from(e) - 128)
}

/// ggml's `(uint8_t)MIN(15, (int8_t)v)` on x86-64 (a NaN or out-of-range conversion gives the
/// "integer indefinite" 0x80000000, low byte 0).
fn c_code(v: f32) -> u8 {
    let i = if (-2_147_483_648.0..2_147_483_648.0).contains(&v) {
        v as i32
    } else {
        i32::MIN
    };
    (i as i8).min(15) as u8
}

/// ggml's dequantize_row_* for one block of format 0..=6; `None` for what the contract calls
/// NON_FINITE (an fp16 field inf/NaN, E8M0 0xFF; NVFP4 accepts every byte).
pub fn dequant_block(format: u32, b: &[u8]) -> Option<Vec<f32>> {
    let h = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    if format >= 4 {
        return dequant_superblock(format, b);
    }
    let mut y = [0.0f32; QK];
    match format {
        0 | 2 => {
            if !f16_finite(h(0)) {
                return None;
            }
            let d = f16_to_f32(h(0));
            for j in 0..QK / 2 {
                let (lo, hi) = (b[2 + j] & 0x0F, b[2 + j] >> 4);
                if format == 0 {
                    y[j] = (i32::from(lo) - 8) as f32 * d;
                    y[j + 16] = (i32::from(hi) - 8) as f32 * d;
                } else {
                    y[j] = d * f32::from(IQ4NL[usize::from(lo)]);
                    y[j + 16] = d * f32::from(IQ4NL[usize::from(hi)]);
                }
            }
        }
        1 => {
            if !f16_finite(h(0)) || !f16_finite(h(2)) {
                return None;
            }
            let (d, m) = (f16_to_f32(h(0)), f16_to_f32(h(2)));
            for j in 0..QK / 2 {
                let (lo, hi) = (b[4 + j] & 0x0F, b[4 + j] >> 4);
                let p0 = f32::from(lo) * d;
                let p1 = f32::from(hi) * d;
                y[j] = p0 + m;
                y[j + 16] = p1 + m;
            }
        }
        3 => {
            if b[0] == 0xFF {
                return None;
            }
            let d = e8m0_half(b[0]);
            for j in 0..QK / 2 {
                let (lo, hi) = (b[1 + j] & 0x0F, b[1 + j] >> 4);
                y[j] = f32::from(MXFP4[usize::from(lo)]) * d;
                y[j + 16] = f32::from(MXFP4[usize::from(hi)]) * d;
            }
        }
        _ => unreachable!(),
    }
    Some(y.to_vec())
}

/// ggml's `get_scale_min_k4`: sub-block j's 6-bit scale and minimum from Q4_K's 12 bytes.
fn q4k_scale_min(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// ggml's `ggml_ue4m3_to_fp32`: the UE4M3 byte's value halved (bit 7 ignored; 0 and 0x7F are
/// zero), computed here in f64 from the definition (exact in f32).
pub fn ue4m3_half(x: u8) -> f32 {
    if x == 0 || x == 0x7F {
        return 0.0;
    }
    let (e, m) = (i32::from((x >> 3) & 0x0F), f64::from(x & 7));
    let raw = if e == 0 {
        m / 512.0
    } else {
        (1.0 + m / 8.0) * 2f64.powi(e - 7)
    };
    (raw * 0.5) as f32
}

/// ggml's `ggml_fp32_to_ue4m3` (ggml-impl.h): not a round-to-nearest; see the steps.
pub fn f32_to_ue4m3(x: f32) -> u8 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    let x = x.min(448.0);
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xFF) as i32 - 127 + 7;
    if e <= 0 {
        // Subnormal: (int)(x * 512 + 0.5), each step rounded to f32, in 1..=7 or 0.
        let m = (x * 512.0 + 0.5) as i32;
        return if m < 1 { 0 } else { m.min(7) as u8 };
    }
    if e >= 15 {
        return 0x7E;
    }
    let mut m = ((bits >> 20) & 7) + ((bits >> 19) & 1);
    if m > 7 {
        m = 0;
        e += 1;
        if e >= 15 {
            return 0x7E;
        }
    }
    ((e as u32) << 3 | m) as u8
}

/// ggml's `best_index_mxfp4`: the first table entry of least |k * d - x|.
fn best_mxfp4(x: f32, d: f32) -> u8 {
    let mut bi = 0u8;
    let mut be = (f32::from(MXFP4[0]) * d - x).abs();
    for (i, &k) in MXFP4.iter().enumerate().skip(1) {
        let err = (f32::from(k) * d - x).abs();
        if err < be {
            bi = i as u8;
            be = err;
        }
    }
    bi
}

/// dequantize_row_q4_K / _iq4_xs / _nvfp4 (ggml-quants.c) for one block.
fn dequant_superblock(format: u32, b: &[u8]) -> Option<Vec<f32>> {
    let h = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let mut y = Vec::with_capacity(256);
    match format {
        4 => {
            if !f16_finite(h(0)) || !f16_finite(h(2)) {
                return None;
            }
            let (d, min) = (f16_to_f32(h(0)), f16_to_f32(h(2)));
            let (scales, q) = (&b[4..16], &b[16..144]);
            for c in 0..4 {
                let (sc0, m0) = q4k_scale_min(2 * c, scales);
                let (sc1, m1) = q4k_scale_min(2 * c + 1, scales);
                let (d1, dm1) = (d * f32::from(sc0), min * f32::from(m0));
                let (d2, dm2) = (d * f32::from(sc1), min * f32::from(m1));
                let qc = &q[32 * c..32 * c + 32];
                y.extend(qc.iter().map(|&v| d1 * f32::from(v & 0x0F) - dm1));
                y.extend(qc.iter().map(|&v| d2 * f32::from(v >> 4) - dm2));
            }
        }
        5 => {
            if !f16_finite(h(0)) {
                return None;
            }
            let d = f16_to_f32(h(0));
            let scales_h = h(2);
            for ib in 0..8 {
                let lo = (b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0F;
                let hi = ((scales_h >> (2 * ib)) & 3) as u8;
                let dl = d * (i32::from(lo | (hi << 4)) - 32) as f32;
                let qs = &b[8 + 16 * ib..8 + 16 * ib + 16];
                y.extend(
                    qs.iter()
                        .map(|&v| dl * f32::from(IQ4NL[usize::from(v & 0x0F)])),
                );
                y.extend(
                    qs.iter()
                        .map(|&v| dl * f32::from(IQ4NL[usize::from(v >> 4)])),
                );
            }
        }
        6 => {
            for s in 0..4 {
                let d = ue4m3_half(b[s]);
                let qs = &b[4 + 8 * s..12 + 8 * s];
                y.extend(
                    qs.iter()
                        .map(|&v| f32::from(MXFP4[usize::from(v & 0x0F)]) * d),
                );
                y.extend(
                    qs.iter()
                        .map(|&v| f32::from(MXFP4[usize::from(v >> 4)]) * d),
                );
            }
        }
        _ => unreachable!(),
    }
    Some(y)
}

/// quantize_row_nvfp4_ref (ggml-quants.c) for one finite block of 64, with the contract's
/// rule (§7.1): a sub-block whose f32 `amax / 6` exceeds 448 is out of range.
fn quant_nvfp4(x: &[f32]) -> BlockRef {
    let mut out = vec![0u8; 36];
    for s in 0..4 {
        let xb = &x[16 * s..16 * s + 16];
        let amax = xb
            .iter()
            .fold(0.0f32, |a, v| if a < v.abs() { v.abs() } else { a });
        let scaled = amax / 6.0;
        if scaled > 448.0 {
            return BlockRef::OutOfRange;
        }
        let ue = f32_to_ue4m3(scaled);
        out[s] = ue;
        let d = ue4m3_half(ue);
        for j in 0..8 {
            out[4 + 8 * s + j] = best_mxfp4(xb[j], d) | (best_mxfp4(xb[j + 8], d) << 4);
        }
    }
    BlockRef::Bytes(out)
}

/// Outcome of quantizing one block by a reference.
pub enum BlockRef {
    /// The exact bytes.
    Bytes(Vec<u8>),
    /// NaN/Inf in the block.
    NonFinite,
    /// The fp16 scale or minimum would not be finite.
    OutOfRange,
    /// No exact reference (IQ4_NL's scale search): only checked by round trip.
    Unknown,
}

/// ggml's quantize_row_*_ref for one block (Q4_0, Q4_1, MXFP4, NVFP4; IQ4_NL, Q4_K and IQ4_XS,
/// whose scale searches are not reimplemented here, Unknown unless a value is NaN/Inf).
pub fn quant_block(format: u32, x: &[f32]) -> BlockRef {
    if x.iter().any(|v| !v.is_finite()) {
        return BlockRef::NonFinite;
    }
    match format {
        0 => {
            let (mut amax, mut max) = (0.0f32, 0.0f32);
            for &v in x {
                if amax < v.abs() {
                    amax = v.abs();
                    max = v;
                }
            }
            let d = max / -8.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            let dh = f32_to_f16(d);
            if !f16_finite(dh) {
                return BlockRef::OutOfRange;
            }
            let mut out = dh.to_le_bytes().to_vec();
            for j in 0..QK / 2 {
                let p0 = x[j] * id;
                let p1 = x[j + 16] * id;
                out.push(c_code(p0 + 8.5) | (c_code(p1 + 8.5) << 4));
            }
            BlockRef::Bytes(out)
        }
        1 => {
            let (mut min, mut max) = (f32::MAX, -f32::MAX);
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
            let (dh, mh) = if d.is_finite() {
                (f32_to_f16(d), f32_to_f16(min))
            } else {
                (0x7C00, 0)
            };
            if !f16_finite(dh) || !f16_finite(mh) {
                return BlockRef::OutOfRange;
            }
            let mut out = dh.to_le_bytes().to_vec();
            out.extend_from_slice(&mh.to_le_bytes());
            for j in 0..QK / 2 {
                let p0 = (x[j] - min) * id;
                let p1 = (x[j + 16] - min) * id;
                out.push(c_code(p0 + 0.5) | (c_code(p1 + 0.5) << 4));
            }
            BlockRef::Bytes(out)
        }
        3 => {
            let mut amax = 0.0f32;
            for &v in x {
                if amax < v.abs() {
                    amax = v.abs();
                }
            }
            // floor(log2f(amax)) with log2f rounded to nearest; the contract gives byte 0 for
            // amax < 2^-125 (where ggml's cast is undefined).
            let e: u8 = if amax < pow2(-125) {
                0
            } else {
                let l = (f64::from(amax).log2() as f32).floor() as i32;
                (l - 2 + 127) as u8
            };
            let d = e8m0_half(e);
            let best = |v: f32| best_mxfp4(v, d);
            let mut out = vec![e];
            for j in 0..QK / 2 {
                out.push(best(x[j]) | (best(x[j + 16]) << 4));
            }
            BlockRef::Bytes(out)
        }
        6 => quant_nvfp4(x),
        _ => BlockRef::Unknown,
    }
}

// ---------------------------------------------------------------- error statistics

/// §3.7: differences and sums in double precision, in the scalar reference's documented
/// fixed order: element i goes to partial sum i % 8, and the eight partial sums are combined as
/// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Returns the six fields of quantize_error_stats.
pub fn error_stats(x: &[f32], y: &[f32]) -> [u64; 6] {
    let mut abs = [0.0f64; 8];
    let mut sq = [0.0f64; 8];
    let mut xsq = [0.0f64; 8];
    let (mut max, mut at) = (0.0f64, 0usize);
    for i in 0..x.len() {
        let a = f64::from(x[i]);
        let diff = a - f64::from(y[i]);
        let d2 = diff * diff;
        let a2 = a * a;
        abs[i % 8] += diff.abs();
        sq[i % 8] += d2;
        xsq[i % 8] += a2;
        if diff.abs() > max {
            max = diff.abs();
            at = i;
        }
    }
    let red = |l: [f64; 8]| ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    let (sa, ss, sx) = (red(abs), red(sq), red(xsq));
    let n = x.len() as f64;
    let mse = ss / n;
    let sqnr = if ss == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (sx / ss).log10()
    };
    [
        (sa / n).to_bits(),
        max.to_bits(),
        mse.to_bits(),
        mse.sqrt().to_bits(),
        sqnr.to_bits(),
        at as u64,
    ]
}
