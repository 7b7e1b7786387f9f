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
                    use crate::reference::codebook::tables::*;
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
        .filter(|k| k.level != Level::Scalar)
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

/// [`block_counts`] for a block format, the large count scaled to about 32000 values.
fn block_counts_of(f: BlockFormat) -> impl Iterator<Item = usize> {
    (0..=40).chain([97, 1000 * 32 / f.elements()])
}

/// Benign data made benign for NVFP4 too, whose limit (a sub-block's largest magnitude at most
/// 2688) is far below the others': values beyond it are scaled by 2^-12 (exactly) until inside,
/// so that runs of clean blocks, which the kernels take at once, are common.
fn in_range(f: BlockFormat, mut x: Vec<f32>) -> Vec<f32> {
    if f == BlockFormat::Nvfp4 {
        for v in &mut x {
            while v.is_finite() && v.abs() > 2688.0 {
                *v *= 1.0 / 4096.0;
            }
        }
    }
    x
}

#[test]
fn block_quantizers_match_scalar() {
    let mut rng = Rng(11);
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let q = k.quantize_blocks(f);
            let qr = scalar::KERNELS.quantize_blocks(f);
            let e = f.elements();
            for nb in block_counts_of(f) {
                for round in 0..4 {
                    let n = nb * e;
                    // The generator's kinds per 32 values or per block: the sub-blocks of the
                    // larger formats then differ in kind, or share one.
                    let kind_len = [32, e][rng.below(2) as usize];
                    let x = rng.data(n, kind_len, round);
                    let x = if round % 2 == 0 { in_range(f, x) } else { x };
                    let off = rng.below(16) as usize;
                    let (buf, off) = shifted(&x, off);
                    let src = &buf[off..];
                    let m = nb * f.bytes();
                    let boff = rng.below(64) as usize;
                    let (mut a, mut b) = (uninit_vec(m + boff, 0xA5u8), uninit_vec(m, 0xA5u8));
                    let ra = q(src, &mut a[boff..]);
                    let rb = qr(src, &mut b);
                    let ctx = format!("{:?} {} quantize nb={nb} round={round}", k.level, f.name());
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
            let nb = x.len() / f.elements();
            let m = nb * f.bytes();
            let (mut a, mut b) = (uninit_vec(m, 0u8), uninit_vec(m, 0u8));
            let ra = (k.quantize_blocks(f))(&x, &mut a);
            let rb = (scalar::KERNELS.quantize_blocks(f))(&x, &mut b);
            assert_eq!(ra, rb);
            assert_eq!(init(&a), init(&b), "{:?} {}", k.level, f.name());
            // Each block alone too: a call of one block takes the one-block path.
            for (i, x) in x.chunks_exact(f.elements()).enumerate() {
                let (mut a, mut b) = (uninit_vec(f.bytes(), 0u8), uninit_vec(f.bytes(), 0u8));
                let ra = (k.quantize_blocks(f))(x, &mut a);
                let rb = (scalar::KERNELS.quantize_blocks(f))(x, &mut b);
                assert_eq!(ra, rb);
                assert_eq!(
                    init(&a),
                    init(&b),
                    "{:?} {} block {i} alone",
                    k.level,
                    f.name()
                );
            }
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
                    assert_eq!(init(&a), init(&b), "{:?} {} nb={nb}", k.level, f.name());
                }
                for method in ScaleMethod::ALL {
                    let r = scalar::KERNELS.blocks;
                    let (mut ca, mut cb) = (uninit_vec(16 * nb, 0u8), uninit_vec(16 * nb, 0u8));
                    let (mut sa, mut sb) = (uninit_vec(nb, 0.0f32), uninit_vec(nb, 0.0f32));
                    let (mut za, mut zb) = (uninit_vec(nb, 0i8), uninit_vec(nb, 0i8));
                    let ra = (k.blocks.quantize_groups)(&x, 32, method, &mut ca, &mut sa, &mut za);
                    let rb = (r.quantize_groups)(&x, 32, method, &mut cb, &mut sb, &mut zb);
                    assert_eq!(ra, rb);
                    let ctx = format!("{:?} groups {method:?} nb={nb}", k.level);
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
            for nb in block_counts_of(f) {
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
                            // NVFP4 accepts every byte: no fp16 fields.
                            BlockFormat::Nvfp4 => {}
                            _ => {
                                let fields = match f {
                                    BlockFormat::Q4_1 | BlockFormat::Q4K => 2,
                                    _ => 1,
                                };
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
                    let n = nb * f.elements();
                    let off = rng.below(16) as usize;
                    let (mut a, mut b) = (uninit_vec(n + off, -7.25f32), uninit_vec(n, -7.25f32));
                    let ra = dq(src, &mut a[off..]);
                    let rb = dqr(src, &mut b);
                    let bits = |v: &[MaybeUninit<f32>]| {
                        init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    };
                    let ctx = format!(
                        "{:?} {} dequantize nb={nb} round={round}",
                        k.level,
                        f.name()
                    );
                    check_units(
                        &ctx,
                        (ra, bits(&a[off..])),
                        (rb, bits(&b)),
                        f.elements(),
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
                            format!("{:?} {} bs={bs} n={n} round={round}", k.level, book.name());
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
        for gs in [32, 1, 7, 16, 33, 64, 96, 128, 256] {
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
                        let ctx = format!("{:?} gs={gs} n={n} {method:?} round={round}", k.level);
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
        for gs in [32, 1, 7, 16, 33, 64, 96, 128, 256] {
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
                    let ctx = format!("{:?} gs={gs} n={n} round={round}", k.level);
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

/// A NaN or infinity at every position of 18 benign blocks (the SIMD kernels take runs of 8 or
/// 16 at once, the last 2 block by block, and must still report the first bad block and write
/// nothing from it on). For
/// the 256-value formats, whose scalar references are slow, runs of 4 blocks (two of the pairs
/// the AVX-512 kernels take at once) and every 5th position plus the first and last two of every
/// sub-block of 32.
#[test]
fn block_quantizers_see_every_non_finite_position() {
    let mut rng = Rng(16);
    // Values every format accepts, so the kernels take the run at once.
    let clean: Vec<f32> = (0..18 * 64)
        .map(|_| (rng.below(1 << 20) as f32 / (1 << 17) as f32 - 4.0) * 1.3)
        .collect();
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let q = k.quantize_blocks(f);
            let qr = scalar::KERNELS.quantize_blocks(f);
            let run = if f.elements() <= 64 { 18 } else { 4 };
            let clean = &clean[..run * f.elements()];
            let positions: Vec<usize> = (0..clean.len())
                .filter(|&i| f.elements() <= 64 || i % 5 == 0 || (i + 2) % 32 < 4)
                .collect();
            let m = run * f.bytes();
            let mut b = uninit_vec(m, 0xA5u8);
            assert_eq!(qr(clean, &mut b), Ok(()));
            for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for &i in &positions {
                    let mut x = clean.to_vec();
                    x[i] = bad;
                    let mut a = uninit_vec(m, 0xA5u8);
                    let mut b = uninit_vec(m, 0xA5u8);
                    let ra = q(&x, &mut a);
                    let rb = qr(&x, &mut b);
                    let ctx = format!("{:?} {} {bad} at {i}", k.level, f.name());
                    assert!(rb.is_err(), "{ctx}: the reference accepts it");
                    check_units(&ctx, (ra, init(&a)), (rb, init(&b)), f.bytes(), 0xA5);
                }
            }
        }
    }
}

/// Values just below and above `v` (`k` floats either side, and `v`).
fn around(v: f32, k: u32) -> Vec<f32> {
    (0..=2 * k)
        .map(|i| f32::from_bits((v.to_bits() + i).wrapping_sub(k)))
        .collect()
}

/// Runs the quantizers of every level on `blocks` (each `f.elements()` values) one by one and
/// concatenated (so that the kernels take them in their runs), against the scalar level, and
/// dequantizes what the scalar level wrote on every level too.
fn check_edge_blocks(f: BlockFormat, blocks: &[Vec<f32>]) {
    let (e, nb) = (f.elements(), f.bytes());
    for b in blocks {
        assert_eq!(b.len(), e);
    }
    let all: Vec<f32> = blocks.concat();
    for k in simd_levels() {
        let q = k.quantize_blocks(f);
        let qr = scalar::KERNELS.quantize_blocks(f);
        // Whole runs, then from every block on (a bad block anywhere in a run).
        for start in 0..blocks.len() {
            let x = &all[start * e..];
            let m = x.len() / e * nb;
            let (mut a, mut b) = (uninit_vec(m, 0xA5u8), uninit_vec(m, 0xA5u8));
            let ra = q(x, &mut a);
            let rb = qr(x, &mut b);
            let ctx = format!("{:?} {} edge blocks from {start}", k.level, f.name());
            check_units(&ctx, (ra, init(&a)), (rb, init(&b)), nb, 0xA5);
            // The blocks the scalar level wrote, dequantized on both levels.
            let good = match rb {
                Ok(()) => m / nb,
                Err(_) => init(&b)
                    .chunks(nb)
                    .position(|c| c.iter().all(|&v| v == 0xA5))
                    .unwrap_or(m / nb),
            };
            let bytes = &init(&b)[..good * nb];
            let (mut ya, mut yb) = (uninit_vec(good * e, 0.5f32), uninit_vec(good * e, 0.5f32));
            let da = (k.dequantize_blocks(f))(bytes, &mut ya);
            let db = (scalar::KERNELS.dequantize_blocks(f))(bytes, &mut yb);
            assert_eq!(da, db, "{ctx}: dequantize");
            let bits =
                |v: &[MaybeUninit<f32>]| init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ya), bits(&yb), "{ctx}: dequantized");
        }
    }
}

/// NVFP4 at the UE4M3 boundaries: `amax / 6` around 2^-10 (where the `+ 0.5` rounds a value up
/// to 0x01), 2^-9, 2^-6 (0x07 instead of 0x08), 248..256 (rounding into 448), 448, and around
/// 2688 (above it the block is `ValueOutOfRange`); the other values of each sub-block at the
/// decision points of the code search (midpoints of `k d`, one float either side).
#[test]
fn nvfp4_edges_match_scalar() {
    use crate::reference::formats::nvfp4::{fp32_to_ue4m3, ue4m3_to_f32};
    let mut amaxes = Vec::new();
    for v in [
        1.0 / 1024.0,
        1.0 / 512.0,
        7.5 / 512.0,
        1.0 / 64.0,
        1.0625,
        240.0,
        248.0,
        252.0,
        256.0,
        448.0,
    ] {
        amaxes.extend(around(6.0 * v, 3));
        amaxes.extend(around(v, 2).into_iter().map(|a| a * 6.0));
    }
    amaxes.extend(around(2688.0, 3));
    amaxes.extend([0.0, 1e-40, 3.0, 2687.999]);
    let mut rng = Rng(21);
    let mut subs: Vec<Vec<f32>> = Vec::new();
    for &amax in &amaxes {
        let d = ue4m3_to_f32(fp32_to_ue4m3(amax / 6.0));
        let mut s = vec![amax, -amax];
        // Midpoints of the codebook (times d) and their neighbours, both signs.
        for (lo, hi) in [
            (0.0, 1.0),
            (1.0, 2.0),
            (2.0, 3.0),
            (3.0, 4.0),
            (4.0, 6.0),
            (6.0, 8.0),
        ] {
            let mid = (lo + hi) * 0.5 * d;
            for v in around(mid, 1) {
                if v.abs() <= amax {
                    s.push(if rng.below(2) == 0 { v } else { -v });
                }
            }
        }
        while s.len() < 16 {
            s.push((rng.below(2001) as f32 / 1000.0 - 1.0) * amax);
        }
        s.truncate(16);
        subs.push(s);
    }
    let blocks: Vec<Vec<f32>> = subs
        .chunks(4)
        .filter(|c| c.len() == 4)
        .map(|c| c.concat())
        .collect();
    assert!(blocks.len() >= 20);
    check_edge_blocks(BlockFormat::Nvfp4, &blocks);
}

/// Q4_K: ties of `nearest_int` (halves on the first fit's grid), subnormal sub-blocks, zero and
/// constant sub-blocks, sub-blocks of one sign, and `d` / `dmin` at and beyond fp16's range.
#[test]
fn q4_k_edges_match_scalar() {
    let mut rng = Rng(22);
    let unit = f32::from_bits(1);
    type Kind<'a> = Box<dyn Fn(&mut Rng) -> Vec<f32> + 'a>;
    let kinds: Vec<Kind> = vec![
        // halves on the grid of max - min = 15 (and scaled by powers of two)
        Box::new(|r| (0..32).map(|_| r.below(31) as f32 * 0.5).collect()),
        Box::new(|r| {
            (0..32)
                .map(|_| (r.below(31) as f32 * 0.5 - 7.5) * 0.125)
                .collect()
        }),
        Box::new(|r| {
            let mut v: Vec<f32> = (0..32).map(|_| r.below(31) as f32 * 0.5).collect();
            v[0] = 0.0;
            v[1] = 15.0;
            v
        }),
        // subnormal values
        Box::new(|r| (0..32).map(|_| (r.below(13) as f32 - 6.0) * unit).collect()),
        Box::new(|r| {
            (0..32)
                .map(|_| {
                    f32::from_bits(r.below(0x0080_0000) as u32) * [1.0, -1.0][r.below(2) as usize]
                })
                .collect()
        }),
        // zero, negative zero, constants
        Box::new(|_| vec![0.0; 32]),
        Box::new(|r| (0..32).map(|_| [0.0, -0.0][r.below(2) as usize]).collect()),
        Box::new(|_| vec![-3.0; 32]),
        Box::new(|_| vec![2.5; 32]),
        // all negative, all positive, with a large offset
        Box::new(|r| {
            (0..32)
                .map(|_| -1000.0 - r.below(100) as f32 * 0.25)
                .collect()
        }),
        Box::new(|r| {
            (0..32)
                .map(|_| 1000.0 + r.below(100) as f32 * 0.25)
                .collect()
        }),
        // tiny scales (63 / max_scale overflows)
        Box::new(|r| (0..32).map(|_| r.below(16) as f32 * 1.0e-38).collect()),
        // large magnitudes: d near and beyond fp16's range, dmin too
        Box::new(|r| {
            (0..32)
                .map(|_| (r.below(2001) as f32 - 1000.0) * 6.0e4)
                .collect()
        }),
        Box::new(|_| vec![-4.0e6; 32]),
        Box::new(|_| vec![-5.0e6; 32]),
        Box::new(|r| {
            let mut v = vec![0.5; 32];
            v[r.below(32) as usize] = [1.0e8, -7.0e7, 6.0e7][r.below(3) as usize];
            v
        }),
        // ordinary
        Box::new(|r| {
            (0..32)
                .map(|_| (r.below(1 << 16) as f32 / 32768.0 - 1.0) * 3.0)
                .collect()
        }),
    ];
    let mut blocks = Vec::new();
    for i in 0..120 {
        let mut b = Vec::new();
        for j in 0..8 {
            // Mostly one kind per block (so that many blocks are valid), sometimes mixed.
            let k = if i % 3 == 0 {
                (i * 7 + j * 3) % kinds.len()
            } else {
                i % kinds.len()
            };
            b.extend(kinds[k](&mut rng));
        }
        blocks.push(b);
    }
    check_edge_blocks(BlockFormat::Q4K, &blocks);
}

/// IQ4_XS: an all-zero block (fp16 `d` = -0.0), huge values (fp16 overflow of `d`, and a square
/// that overflows float32), tiny ones; and dequantization of `d` = -0.0, subnormal, largest.
#[test]
fn iq4_xs_edges_match_scalar() {
    let mut blocks = vec![vec![0.0f32; 256], vec![-0.0f32; 256]];
    let mut b = vec![1.0f32; 256];
    b[40] = 1.0e20;
    blocks.push(b);
    for big in [1.0e9f32, -3.0e8, 1.0e7, 2.4e8] {
        let mut b = vec![0.5f32; 256];
        b[200] = big;
        blocks.push(b);
    }
    blocks.push((0..256).map(|i| (i as f32 - 128.0) * 1.0e-16).collect());
    check_edge_blocks(BlockFormat::Iq4Xs, &blocks);

    let mut rng = Rng(23);
    let mut bytes = Vec::new();
    for d in [
        0x8000u16, 0x0000, 0x0001, 0x83ff, 0x7bff, 0xfbff, 0x3c00, 0x7c00,
    ] {
        let mut blk: Vec<u8> = (0..136).map(|_| rng.next() as u8).collect();
        blk[..2].copy_from_slice(&d.to_le_bytes());
        bytes.extend(blk);
    }
    for k in simd_levels() {
        for f in [BlockFormat::Iq4Xs, BlockFormat::Q4K] {
            let bytes = &bytes[..bytes.len() / f.bytes() * f.bytes()];
            let n = bytes.len() / f.bytes() * f.elements();
            let (mut ya, mut yb) = (uninit_vec(n, 0.5f32), uninit_vec(n, 0.5f32));
            let ra = (k.dequantize_blocks(f))(bytes, &mut ya);
            let rb = (scalar::KERNELS.dequantize_blocks(f))(bytes, &mut yb);
            let bits =
                |v: &[MaybeUninit<f32>]| init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let ctx = format!("{:?} {} dequantize edges", k.level, f.name());
            check_units(
                &ctx,
                (ra, bits(&ya)),
                (rb, bits(&yb)),
                f.elements(),
                0.5f32.to_bits(),
            );
        }
    }
}

/// NVFP4 dequantization of every scale byte (each in every sub-block position) with random codes.
#[test]
fn nvfp4_dequantizes_every_scale_byte() {
    let mut rng = Rng(24);
    let mut bytes = Vec::new();
    for s in 0..=255u8 {
        let mut blk: Vec<u8> = (0..36).map(|_| rng.next() as u8).collect();
        blk[..4].copy_from_slice(&[
            s,
            s.wrapping_add(64),
            s.wrapping_add(128),
            s.wrapping_add(192),
        ]);
        bytes.extend(blk);
    }
    let n = bytes.len() / 36 * 64;
    for k in simd_levels() {
        let f = BlockFormat::Nvfp4;
        let (mut ya, mut yb) = (uninit_vec(n, 0.5f32), uninit_vec(n, 0.5f32));
        assert_eq!((k.dequantize_blocks(f))(&bytes, &mut ya), Ok(()));
        assert_eq!(
            (scalar::KERNELS.dequantize_blocks(f))(&bytes, &mut yb),
            Ok(())
        );
        let bits = |v: &[MaybeUninit<f32>]| init(v).iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ya), bits(&yb), "{:?}", k.level);
    }
}

/// Q4_K's search compares weighted errors that are often close: many ordinary blocks (sums of
/// uniforms, as model weights look, at several magnitudes) so that a change in any rounding of
/// the search shows.
#[test]
fn q4_k_ordinary_blocks_match_scalar() {
    let mut rng = Rng(25);
    let f = BlockFormat::Q4K;
    let nb = 600;
    let x: Vec<f32> = (0..nb * 256)
        .map(|i| {
            let u = (0..4)
                .map(|_| rng.below(1 << 16) as f32 / 65536.0)
                .sum::<f32>()
                - 2.0;
            u * [1.0, 0.02, 37.0, 1.0e-3][i / 2048 % 4]
        })
        .collect();
    for k in simd_levels() {
        let (mut a, mut b) = (
            uninit_vec(nb * f.bytes(), 0u8),
            uninit_vec(nb * f.bytes(), 0u8),
        );
        assert_eq!((k.quantize_blocks(f))(&x, &mut a), Ok(()));
        assert_eq!((scalar::KERNELS.quantize_blocks(f))(&x, &mut b), Ok(()));
        let (a, b) = (init(&a), init(&b));
        if let Some(i) = (0..nb).find(|&i| a[i * 144..][..144] != b[i * 144..][..144]) {
            panic!(
                "{:?} block {i}:\n got {:?}\nwant {:?}",
                k.level,
                &a[i * 144..][..144],
                &b[i * 144..][..144]
            );
        }
    }
}

/// Every format has a kernel of its own at every SIMD level, in both directions: the level
/// comparisons above would pass just as well if a table lost an entry (the level would run the
/// scalar reference), so the registration itself is checked here.
#[test]
fn every_simd_level_accelerates_every_format() {
    for k in simd_levels() {
        for f in BlockFormat::ALL {
            let i = f as usize;
            assert!(
                k.blocks.quantize_blocks[i].is_some(),
                "{:?} quantize {f:?}",
                k.level
            );
            assert!(
                k.blocks.dequantize_blocks[i].is_some(),
                "{:?} dequantize {f:?}",
                k.level
            );
        }
    }
}
