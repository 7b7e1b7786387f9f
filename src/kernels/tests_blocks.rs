//! Every level's block-format, codebook and group kernels against the scalar level, bit for bit:
//! block counts 0..=40 and some large, unaligned starts (byte offsets for block buffers, float
//! offsets for float buffers), awkward values, and the error paths (which block fails, which
//! error, and that nothing from the bad block on is written).

use super::*;
use crate::codebook::{absmax_len, codes_len};
use crate::formats::BlockFormat;
use crate::groups::group_count;
use crate::pack::packed_len;
use core::mem::MaybeUninit;

/// xorshift64*, so failures reproduce.
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pow2(&mut self, lo: i32, hi: i32) -> f32 {
        let e = lo + self.below((hi - lo + 1) as u64) as i32;
        f32::from_bits(((e + 127) as u32) << 23)
    }
    /// One block-sized run of values of one "kind", each kind aimed at a decision the kernels
    /// make (ties, zero signs, first largest magnitude, scale overflow, tiny scales, ...).
    ///
    /// `benign` leaves out the kinds that make most formats fail (huge values, fp16 scale
    /// overflow), so that runs of 16 clean blocks, which the AVX-512 kernels take at once, are
    /// common.
    pub(super) fn block(&mut self, len: usize, benign: bool) -> Vec<f32> {
        // (benign blocks stay below 2^16, where every format's fp16 scale fits)
        let scale = if benign {
            self.pow2(-30, 16)
        } else {
            self.pow2(-30, 30)
        };
        let kind = loop {
            let k = self.below(19);
            if !(benign && matches!(k, 6 | 7 | 9 | 13)) {
                break k;
            }
        };
        let offset = [-1.0, 1.0][self.below(2) as usize] * self.pow2(14, 20);
        let spread = self.pow2(0, 16);
        (0..len)
            .map(|_| match kind {
                0 => 0.0,
                1 => [0.0, -0.0][self.below(2) as usize],
                // halves and quarters: ties of many quantizers
                2 => (self.below(64) as f32 - 32.0) * 0.25 * scale,
                3 => (self.below(33) as f32 - 16.0) * scale,
                // subnormals and tiny values
                4 => {
                    f32::from_bits(self.below(0x0080_0000) as u32)
                        * [1.0, -1.0][self.below(2) as usize]
                }
                5 => (self.next() as u32 as f32 / 4.3e9 - 0.5) * self.pow2(-140, -110),
                // magnitudes around fp16 scale overflow (Q4_0 at 8 * 65520, Q4_1, IQ4_NL)
                6 => {
                    [-1.0, 1.0][self.below(2) as usize]
                        * self.pow2(10, 22)
                        * (1.0 + self.below(8) as f32 / 8.0)
                }
                // floats just below powers of two (MXFP4's log2f rounding), both signs
                7 => {
                    // (up to 2^128: the top blocks, where 8 d and 12 d overflow)
                    let p = self.pow2(-126, 128).to_bits();
                    let v = f32::from_bits(p - 1 - self.below(64) as u32);
                    if self.below(2) == 0 {
                        v
                    } else {
                        -v
                    }
                }
                // equal magnitudes of both signs
                8 => [scale, -scale, 0.5 * scale, -0.0][self.below(4) as usize],
                // codebook thresholds and values exactly (with absmax 1: ties of x * (1 / absmax))
                10 | 11 => {
                    use crate::codebook::tables::*;
                    let all: Vec<f32> = NF4_THRESHOLDS
                        .iter()
                        .chain(&FP4_THRESHOLDS)
                        .chain(&NF4_VALUES)
                        .chain(&FP4_VALUES)
                        .copied()
                        .chain([1.0, -1.0])
                        .collect();
                    let v = all[self.below(all.len() as u64) as usize];
                    if self.below(2) == 0 {
                        v
                    } else {
                        -v
                    }
                }
                // uniform in (-scale, scale): most elements near the largest
                12 => (self.next() as u32 as f32 / 4.3e9 - 0.5) * 2.0 * scale,
                // a large common offset: a minimum beyond fp16 with a small range
                13 => offset + (self.next() as u32 as f32 / 4.3e9) * spread,
                // half-integer multiples of a non-power-of-two step from 0 to 15 steps: ties of
                // the int4 minmax codes (the scale is about one step)
                14 => {
                    let k = [0, 30][self.below(2) as usize].max(self.below(31) as i32);
                    (k as f32 * 0.5) * (scale * 0.1)
                }
                // magnitudes around IQ4_NL's 1e-15 cut-off (above the sums' underflow)
                15 => (self.next() as u32 as f32 / 4.3e9 - 0.5) * self.pow2(-58, -45),
                // huge values (beyond 2^126 for the int4 and codebook limits)
                9 => [-1.0, 1.0][self.below(2) as usize] * self.pow2(120, 127),
                _ => {
                    let e = 90 + self.below(70) as u32;
                    f32::from_bits((e << 23) | (self.next() as u32 & 0x807F_FFFF))
                }
            })
            .collect()
    }
    /// Blocks of values: even rounds benign; rounds 2 and 3 with a NaN or infinity (sometimes).
    fn data(&mut self, n: usize, block: usize, round: u32) -> Vec<f32> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let len = block.min(n - v.len());
            v.extend(self.block(len, round.is_multiple_of(2)));
        }
        if round >= 2 {
            self.poison(&mut v);
        }
        v
    }
    /// Puts NaN or ±Inf at a random place (sometimes), returning whether it did.
    pub(super) fn poison(&mut self, x: &mut [f32]) {
        if !x.is_empty() && self.below(2) == 0 {
            let i = self.below(x.len() as u64) as usize;
            x[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][self.below(3) as usize];
        }
    }
}

fn simd_levels() -> Vec<&'static Kernels> {
    levels()
        .into_iter()
        .filter(|k| k.name != c"scalar")
        .collect()
}

pub(super) fn uninit_vec<T: Copy>(n: usize, fill: T) -> Vec<MaybeUninit<T>> {
    vec![MaybeUninit::new(fill); n]
}

fn init<T: Copy>(v: &[MaybeUninit<T>]) -> Vec<T> {
    // SAFETY: every test buffer is created initialised.
    v.iter().map(|x| unsafe { x.assume_init() }).collect()
}

/// A copy of `v` starting `off` elements into a fresh buffer (unaligned starts).
fn shifted<T: Copy + Default>(v: &[T], off: usize) -> (Vec<T>, usize) {
    let mut b = vec![T::default(); off];
    b.extend_from_slice(v);
    (b, off)
}

/// Compares a kernel's output with the scalar level's after both ran on the same input: the
/// same result; on success the same bytes; on error everything from unit `bad` on untouched
/// (`fill`) and every earlier unit either equal to the scalar output or untouched.
fn check_units<T: Copy + PartialEq + core::fmt::Debug>(
    ctx: &str,
    got: (Result<()>, Vec<T>),
    want: (Result<()>, Vec<T>),
    unit: usize,
    fill: T,
) {
    assert_eq!(got.0, want.0, "{ctx}: result");
    if want.0.is_ok() {
        assert_eq!(got.1, want.1, "{ctx}: output");
        return;
    }
    // The scalar level stops at the bad unit: its first untouched unit is the bad one.
    let bad = want
        .1
        .chunks(unit)
        .position(|c| c.iter().all(|&v| v == fill))
        .unwrap_or(want.1.len() / unit.max(1));
    for (i, (g, w)) in got.1.chunks(unit).zip(want.1.chunks(unit)).enumerate() {
        if i >= bad {
            assert!(
                g.iter().all(|&v| v == fill),
                "{ctx}: unit {i} at/after bad {bad} written"
            );
        } else {
            assert!(
                g == w || g.iter().all(|&v| v == fill),
                "{ctx}: unit {i} before bad {bad}"
            );
        }
    }
}

fn block_counts() -> impl Iterator<Item = usize> {
    (0..=40).chain([97, 1000])
}

#[test]
fn block_quantizers_match_scalar() {
    let mut rng = Rng(11);
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let q = k.quantize_blocks(f);
            let qr = scalar::KERNELS.quantize_blocks(f);
            for nb in block_counts() {
                for round in 0..4 {
                    let n = nb * 32;
                    let x = rng.data(n, 32, round);
                    let off = rng.below(16) as usize;
                    let (buf, off) = shifted(&x, off);
                    let src = &buf[off..];
                    let m = nb * f.bytes();
                    let boff = rng.below(64) as usize;
                    let (mut a, mut b) = (uninit_vec(m + boff, 0xA5u8), uninit_vec(m, 0xA5u8));
                    let ra = q(src, &mut a[boff..]);
                    let rb = qr(src, &mut b);
                    let ctx = format!("{:?} {} quantize nb={nb} round={round}", k.name, f.name());
                    check_units(
                        &ctx,
                        (ra, init(&a[boff..])),
                        (rb, init(&b)),
                        f.bytes(),
                        0xA5,
                    );
                }
            }
        }
    }
}

/// Zero signs and equal magnitudes at every position of a block, inside runs of 16 blocks: the
/// references keep the first of equal extremes (Q4_0's signed maximum, Q4_1's zero minimum and
/// maximum), which the kernels must reproduce.
#[test]
fn block_quantizers_keep_the_first_of_equal_extremes() {
    let mut rng = Rng(15);
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let mut x = Vec::new();
            for pos in 0..32 {
                for (fill, odd) in [(0.0f32, -0.0f32), (-0.0, 0.0), (1.5, -1.5), (-1.5, 1.5)] {
                    let mut b = vec![fill; 32];
                    b[pos] = odd;
                    if rng.below(2) == 0 {
                        // a smaller nonzero value somewhere keeps only one extreme tied
                        let j = rng.below(32) as usize;
                        if j != pos {
                            b[j] = fill * 0.25 + 0.125;
                        }
                    }
                    x.extend(b);
                }
            }
            let nb = x.len() / 32;
            let m = nb * f.bytes();
            let (mut a, mut b) = (uninit_vec(m, 0u8), uninit_vec(m, 0u8));
            let ra = (k.quantize_blocks(f))(&x, &mut a);
            let rb = (scalar::KERNELS.quantize_blocks(f))(&x, &mut b);
            assert_eq!(ra, rb);
            assert_eq!(init(&a), init(&b), "{:?} {}", k.name, f.name());
        }
    }
}

/// Runs of 8 (AVX2) and 16 (AVX-512) blocks decide each block's parameters in its own lane:
/// every block of a run gets its own kind of extreme (|max| tied with both signs, first
/// positive or first negative; one sign dominating; all zeros with mixed signs; zero extremes
/// whose sign only the first zero decides) at its own position and magnitude, so a lane taking
/// another block's decision, or the tie of another lane, shows.
#[test]
fn multi_block_runs_decide_each_block_alone() {
    use crate::int4::ScaleMethod;
    let mut rng = Rng(21);
    for k in simd_levels() {
        for nb in [8, 16, 24, 17, 40, 9, 33] {
            for _ in 0..20 {
                let mut x = Vec::with_capacity(32 * nb);
                for _ in 0..nb {
                    let m = (1.0 + rng.below(1000) as f32 / 7.0)
                        * [1.0, 0.01, 300.0][rng.below(3) as usize];
                    let mut b: Vec<f32> = (0..32)
                        .map(|_| (rng.below(2001) as f32 - 1000.0) / 1001.0 * m)
                        .collect();
                    let (i, j) = (rng.below(32) as usize, rng.below(32) as usize);
                    match rng.below(6) {
                        // |max| tied with both signs: the first decides.
                        0 => (b[i], b[j]) = (m, -m),
                        1 => (b[i], b[j]) = (-m, m),
                        // one sign dominates
                        2 => b[i] = 2.0 * m,
                        3 => b[i] = -2.0 * m,
                        // all zeros, mixed signs
                        4 => b
                            .iter_mut()
                            .for_each(|v| *v = [0.0, -0.0][rng.below(2) as usize]),
                        // non-negative (or non-positive) with zeros: zero extremes
                        _ => {
                            let sign = [1.0f32, -1.0][rng.below(2) as usize];
                            b.iter_mut().for_each(|v| *v = v.abs() * sign);
                            (b[i], b[j]) = ([0.0, -0.0][rng.below(2) as usize], -0.0);
                        }
                    }
                    x.extend(b);
                }
                for f in [BlockFormat::Q4_0, BlockFormat::Q4_1, BlockFormat::Mxfp4] {
                    let n = nb * f.bytes();
                    let (mut a, mut b) = (uninit_vec(n, 0u8), uninit_vec(n, 0u8));
                    let ra = (k.quantize_blocks(f))(&x, &mut a);
                    let rb = (scalar::KERNELS.quantize_blocks(f))(&x, &mut b);
                    assert_eq!(ra, rb);
                    assert_eq!(init(&a), init(&b), "{:?} {} nb={nb}", k.name, f.name());
                }
                for method in ScaleMethod::ALL {
                    let r = scalar::KERNELS.blocks;
                    let (mut ca, mut cb) = (uninit_vec(16 * nb, 0u8), uninit_vec(16 * nb, 0u8));
                    let (mut sa, mut sb) = (uninit_vec(nb, 0.0f32), uninit_vec(nb, 0.0f32));
                    let (mut za, mut zb) = (uninit_vec(nb, 0i8), uninit_vec(nb, 0i8));
                    let ra = (k.blocks.quantize_groups)(&x, 32, method, &mut ca, &mut sa, &mut za);
                    let rb = (r.quantize_groups)(&x, 32, method, &mut cb, &mut sb, &mut zb);
                    assert_eq!(ra, rb);
                    let ctx = format!("{:?} groups {method:?} nb={nb}", k.name);
                    assert_eq!(init(&ca), init(&cb), "{ctx}");
                    let bits = |v: &[MaybeUninit<f32>]| {
                        init(v).iter().map(|s| s.to_bits()).collect::<Vec<_>>()
                    };
                    assert_eq!(bits(&sa), bits(&sb), "{ctx}");
                    assert_eq!(init(&za), init(&zb), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn block_dequantizers_match_scalar() {
    let mut rng = Rng(12);
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let dq = k.dequantize_blocks(f);
            let dqr = scalar::KERNELS.dequantize_blocks(f);
            for nb in block_counts() {
                for round in 0..3 {
                    let m = nb * f.bytes();
                    let mut bytes: Vec<u8> = (0..m).map(|_| rng.next() as u8).collect();
                    // Mostly finite scale fields (random bytes make many inf/NaN fp16 fields),
                    // except in round 2.
                    for blk in bytes.chunks_mut(f.bytes()) {
                        match f {
                            BlockFormat::Mxfp4 => {
                                if round < 2 && blk[0] == 0xFF {
                                    blk[0] = rng.below(255) as u8;
                                }
                            }
                            _ => {
                                let fields = if f == BlockFormat::Q4_1 { 2 } else { 1 };
                                for h in 0..fields {
                                    if round < 2 {
                                        blk[2 * h + 1] &= 0xBF; // exponent never all ones
                                    }
                                }
                            }
                        }
                    }
                    let boff = rng.below(64) as usize;
                    let (buf, boff) = shifted(&bytes, boff);
                    let src = &buf[boff..];
                    let n = nb * 32;
                    let off = rng.below(16) as usize;
                    let (mut a, mut b) = (uninit_vec(n + off, -7.25f32), uninit_vec(n, -7.25f32));
                    let ra = dq(src, &mut a[off..]);
                    let rb = dqr(src, &mut b);
                    let bits = |v: &[MaybeUninit<f32>]| {
                        init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    };
                    let ctx = format!("{:?} {} dequantize nb={nb} round={round}", k.name, f.name());
                    check_units(
                        &ctx,
                        (ra, bits(&a[off..])),
                        (rb, bits(&b)),
                        32,
                        (-7.25f32).to_bits(),
                    );
                }
            }
        }
    }
}

#[test]
fn codebook_kernels_match_scalar() {
    use crate::codebook::Codebook;
    let r = scalar::KERNELS.blocks;
    let mut rng = Rng(13);
    for k in simd_levels() {
        for book in Codebook::ALL {
            for bs in [32, 64, 128, 256, 4096] {
                let sizes: Vec<usize> = block_counts()
                    .filter(|&nb| nb * bs <= 40_000)
                    .flat_map(|nb| [nb * bs, nb * bs + 1 + rng.below(bs as u64) as usize])
                    .collect();
                for n in sizes {
                    for round in 0..4 {
                        let x = rng.data(n, bs, round);
                        let off = rng.below(16) as usize;
                        let (buf, off) = shifted(&x, off);
                        let src = &buf[off..];
                        let (nc, na) = (codes_len(n), absmax_len(n, bs));
                        let boff = rng.below(64) as usize;
                        let (mut ca, mut cb) =
                            (uninit_vec(nc + boff, 0xA5u8), uninit_vec(nc, 0xA5u8));
                        let (mut aa, mut ab) = (uninit_vec(na, -3.0f32), uninit_vec(na, -3.0f32));
                        let ra =
                            (k.blocks.quantize_codebook)(book, src, bs, &mut ca[boff..], &mut aa);
                        let rb = (r.quantize_codebook)(book, src, bs, &mut cb, &mut ab);
                        let ctx =
                            format!("{:?} {} bs={bs} n={n} round={round}", k.name, book.name());
                        let bits = |v: &[MaybeUninit<f32>]| {
                            init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                        };
                        check_units(
                            &ctx,
                            (ra, bits(&aa)),
                            (rb, bits(&ab)),
                            1,
                            (-3.0f32).to_bits(),
                        );
                        check_units(&ctx, (ra, init(&ca[boff..])), (rb, init(&cb)), bs / 2, 0xA5);

                        // Dequantize arbitrary codes with the scales (some non-finite).
                        let codes: Vec<u8> = (0..nc).map(|_| rng.next() as u8).collect();
                        let mut scales: Vec<f32> =
                            (0..na).map(|_| rng.block(1, false)[0]).collect();
                        if round == 2 {
                            rng.poison(&mut scales);
                        }
                        let (cbuf, coff) = shifted(&codes, rng.below(64) as usize);
                        let codes = &cbuf[coff..];
                        let (mut ya, mut yb) = (uninit_vec(n + off, 0.5f32), uninit_vec(n, 0.5f32));
                        let ra = (k.blocks.dequantize_codebook)(
                            book,
                            codes,
                            bs,
                            &scales,
                            &mut ya[off..],
                        );
                        let rb = (r.dequantize_codebook)(book, codes, bs, &scales, &mut yb);
                        check_units(
                            &ctx,
                            (ra, bits(&ya[off..])),
                            (rb, bits(&yb)),
                            bs,
                            0.5f32.to_bits(),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn group_kernels_match_scalar() {
    use crate::int4::ScaleMethod;
    let r = scalar::KERNELS.blocks;
    let mut rng = Rng(14);
    for k in simd_levels() {
        for gs in [32, 1, 7, 16, 33, 64] {
            for nb in block_counts() {
                let n = nb * gs + [0, 1, gs / 2, gs - 1][rng.below(4) as usize];
                for round in 0..4 {
                    let x = rng.data(n, gs, round);
                    let off = rng.below(16) as usize;
                    let (buf, off) = shifted(&x, off);
                    let src = &buf[off..];
                    for method in ScaleMethod::ALL {
                        let count = group_count(n, gs);
                        let nz = if method == ScaleMethod::AbsMax && round == 1 {
                            0
                        } else {
                            count
                        };
                        let m = packed_len(n);
                        let boff = rng.below(64) as usize;
                        let (mut ca, mut cb) =
                            (uninit_vec(m + boff, 0xA5u8), uninit_vec(m, 0xA5u8));
                        let (mut sa, mut sb) =
                            (uninit_vec(count, -3.0f32), uninit_vec(count, -3.0f32));
                        let (mut za, mut zb) = (uninit_vec(nz, 99i8), uninit_vec(nz, 99i8));
                        let ra = (k.blocks.quantize_groups)(
                            src,
                            gs,
                            method,
                            &mut ca[boff..],
                            &mut sa,
                            &mut za,
                        );
                        let rb = (r.quantize_groups)(src, gs, method, &mut cb, &mut sb, &mut zb);
                        let ctx = format!("{:?} gs={gs} n={n} {method:?} round={round}", k.name);
                        let bits = |v: &[MaybeUninit<f32>]| {
                            init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                        };
                        check_units(
                            &ctx,
                            (ra, bits(&sa)),
                            (rb, bits(&sb)),
                            1,
                            (-3.0f32).to_bits(),
                        );
                        check_units(&ctx, (ra, init(&za)), (rb, init(&zb)), 1, 99);
                        if ra.is_ok() {
                            assert_eq!(init(&ca[boff..]), init(&cb), "{ctx}: codes");
                        } else if gs % 2 == 0 {
                            check_units(
                                &ctx,
                                (ra, init(&ca[boff..])),
                                (rb, init(&cb)),
                                gs / 2,
                                0xA5,
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn group_dequantize_kernels_match_scalar() {
    let r = scalar::KERNELS.blocks;
    let mut rng = Rng(15);
    for k in simd_levels() {
        for gs in [32, 1, 7, 16, 33, 64, 96] {
            for nb in block_counts() {
                let n = nb * gs + [0, 1, gs / 2, gs - 1][rng.below(4) as usize];
                let count = group_count(n, gs);
                for round in 0..4 {
                    let codes: Vec<u8> = (0..packed_len(n)).map(|_| rng.next() as u8).collect();
                    let mut scales: Vec<f32> = (0..count)
                        .map(|_| {
                            let s = rng.pow2(-140, 120) * (1.0 + rng.below(1 << 20) as f32 / 1e6);
                            if rng.below(4) == 0 {
                                -s
                            } else {
                                s
                            }
                        })
                        .collect();
                    let mut zps: Vec<i8> = if round == 1 {
                        Vec::new()
                    } else {
                        (0..count).map(|_| rng.below(16) as i8 - 8).collect()
                    };
                    // One bad group in round 3: a non-finite scale or, if there are zero
                    // points, one outside -8..=7 (the zero point is checked first).
                    if round == 3 && count > 0 {
                        let g = rng.below(count as u64) as usize;
                        match rng.below(3) {
                            0 => scales[g] = f32::NAN,
                            1 => scales[g] = f32::NEG_INFINITY,
                            _ if !zps.is_empty() => zps[g] = [8, -9, 127, -128][g % 4],
                            _ => scales[g] = f32::INFINITY,
                        }
                    }
                    let off = rng.below(16) as usize;
                    let (mut da, mut db) = (uninit_vec(n + off, -7.0f32), uninit_vec(n, -7.0f32));
                    let ra =
                        (k.blocks.dequantize_groups)(&codes, gs, &scales, &zps, &mut da[off..]);
                    let rb = (r.dequantize_groups)(&codes, gs, &scales, &zps, &mut db);
                    let ctx = format!("{:?} gs={gs} n={n} round={round}", k.name);
                    let bits = |v: &[MaybeUninit<f32>]| {
                        init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    };
                    if round == 3 && count > 0 {
                        assert!(rb.is_err(), "{ctx}: the bad group is not reported");
                    }
                    check_units(
                        &ctx,
                        (ra, bits(&da[off..])),
                        (rb, bits(&db)),
                        gs,
                        (-7.0f32).to_bits(),
                    );
                }
            }
        }
    }
}

/// A NaN or infinity at every position of a run of 16 benign blocks (the SIMD kernels take such
/// runs at once and must still report the first bad block and write nothing from it on).
#[test]
fn block_quantizers_see_every_non_finite_position() {
    let mut rng = Rng(16);
    // Values every format accepts, so the kernels take the run at once.
    let clean: Vec<f32> = (0..16 * 32)
        .map(|_| (rng.below(1 << 20) as f32 / (1 << 17) as f32 - 4.0) * 1.3)
        .collect();
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let q = k.quantize_blocks(f);
            let qr = scalar::KERNELS.quantize_blocks(f);
            for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for i in 0..clean.len() {
                    let mut x = clean.clone();
                    x[i] = bad;
                    let m = 16 * f.bytes();
                    let (mut a, mut b) = (uninit_vec(m, 0xA5u8), uninit_vec(m, 0xA5u8));
                    assert_eq!(qr(&clean, &mut b), Ok(()));
                    let mut b = uninit_vec(m, 0xA5u8);
                    let ra = q(&x, &mut a);
                    let rb = qr(&x, &mut b);
                    let ctx = format!("{:?} {} {bad} at {i}", k.name, f.name());
                    assert!(rb.is_err(), "{ctx}: the reference accepts it");
                    check_units(&ctx, (ra, init(&a)), (rb, init(&b)), f.bytes(), 0xA5);
                }
            }
        }
    }
}
