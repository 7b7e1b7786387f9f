//! The aarch64 lane primitives of the kernels written once in `kernels::simd`: module `neon`,
//! with the names and meanings of `lanes::x86_64::avx2` (listed in `kernels::lanes`, and at
//! each x86 primitive), so that a kernel written for 8 lanes runs here unchanged. NEON
//! registers hold 4 floats, so every 8-lane value is a pair of them: `F` is
//! `[float32x4_t; 2]` (lanes 0..4 in the first), `I` `[int32x4_t; 2]`, `M` `[uint32x4_t; 2]`
//! (all-ones or zero lanes), `Block` 32 floats as 4 `F`s.
//!
//! Where NEON's instruction differs from the x86 one the primitive is defined by, it is not
//! used as is:
//! - `fmin`/`fmax` return NaN if either input is NaN (and order zeros by sign); `min_f(a, b)`
//!   must be `a < b ? a : b` and `max_f(a, b)` `a > b ? a : b`, so both are a compare and a
//!   bitwise select.
//! - `fcvtzs` saturates (NaN to 0, large values to `i32::MAX`/`MIN`); `cvtt` must give
//!   0x8000_0000 for NaN, ±Inf and out-of-range values, so lanes not below 2^31 (NaN included)
//!   are replaced by it (below -2^31 `fcvtzs` already gives it).
//! - `round_even` is `frintn` (ties to even whatever the FPCR says), `cvt` `fcvtns` (nearest,
//!   ties to even: exact for the small integers it is documented for).
//! - No fused multiply-add anywhere (`vmulq` and `vaddq` separately, each rounded), as the
//!   references round each operation; `scripts/test_aarch64.sh` checks the optimised binary.
//! - `to_f16` is the integer-arithmetic conversion `f16_of4` (the fp16 conversion
//!   intrinsics are above our MSRV, and would depend on the FPCR).
//! - There is no division-free quotient (it needs FMA): `fast_scale` is always false, and
//!   `group_codes` divides (`fdiv` is correctly rounded).
//! - `prefetch` does nothing: the prefetch intrinsic is unstable on aarch64 at our MSRV, and
//!   aarch64 cores' hardware prefetchers follow the sequential streams these kernels read.
//!
//! Every primitive is `#[target_feature(enable = "neon")]` (NEON is a baseline feature of every
//! aarch64 target this is compiled for: see `kernels::aarch64`), `#[inline]`, and safe unless it
//! takes a pointer.

use core::arch::aarch64::*;

// The half-precision conversions of 4 lanes, in integer arithmetic.
with_features! { "neon";
    /// The float16 patterns of 4 floats (as bits), rounded as `crate::reference::formats::fp16::f32_to_f16`
    /// does, in integer arithmetic only (no dependence on the FPCR):
    /// - normal results: rebias the exponent and round the 13 dropped bits with the add-and-shift
    ///   `(abs - 112 << 23 + 0xfff + lsb) >> 13` (a carry into the exponent is the correct result);
    /// - subnormal results (`|x| < 2^-14`): the 24-bit significand shifted right by `s = 126 - e`
    ///   (`e` the biased exponent; capped at 25, where every significand rounds to 0), rounded by the
    ///   same add-and-shift with half a unit `2^(s-1)`;
    /// - `|x| >= 65520` (infinity included) gives infinity, NaN the reference's quiet NaN.
    pub(crate) fn f16_of4(b: uint32x4_t) -> uint16x4_t {
        let sign = vandq_u32(vshrq_n_u32::<16>(b), vdupq_n_u32(0x8000));
        let abs = vandq_u32(b, vdupq_n_u32(0x7fff_ffff));
        // Normal.
        let lsb = vandq_u32(vshrq_n_u32::<13>(abs), vdupq_n_u32(1));
        let rebiased = vsubq_u32(abs, vdupq_n_u32(112 << 23));
        let normal = vshrq_n_u32::<13>(vaddq_u32(rebiased, vaddq_u32(vdupq_n_u32(0x0fff), lsb)));
        // Subnormal.
        let e = vreinterpretq_s32_u32(vshrq_n_u32::<23>(abs));
        let s = vminq_s32(vsubq_s32(vdupq_n_s32(126), e), vdupq_n_s32(25));
        let right = vnegq_s32(s);
        let m = vorrq_u32(
            vandq_u32(abs, vdupq_n_u32(0x007f_ffff)),
            vdupq_n_u32(0x0080_0000),
        );
        let lsb = vandq_u32(vshlq_u32(m, right), vdupq_n_u32(1));
        let half_m1 = vsubq_u32(
            vshlq_u32(vdupq_n_u32(1), vsubq_s32(s, vdupq_n_s32(1))),
            vdupq_n_u32(1),
        );
        let sub = vshlq_u32(vaddq_u32(m, vaddq_u32(half_m1, lsb)), right);
        // Infinity and NaN.
        let nan = vorrq_u32(
            vdupq_n_u32(0x7e00),
            vandq_u32(vshrq_n_u32::<13>(abs), vdupq_n_u32(0x03ff)),
        );
        let v = vbslq_u32(vcgeq_u32(abs, vdupq_n_u32(0x3880_0000)), normal, sub);
        let v = vbslq_u32(
            vcgeq_u32(abs, vdupq_n_u32(0x477f_f000)),
            vdupq_n_u32(0x7c00),
            v,
        );
        let v = vbslq_u32(vcgtq_u32(abs, vdupq_n_u32(0x7f80_0000)), nan, v);
        vmovn_u32(vorrq_u32(v, sign))
    }

    /// The float32 bit patterns of 4 float16 values (in the low half of each lane), exactly as
    /// `crate::reference::formats::fp16::f16_to_f32` computes them: normal values rebias the exponent
    /// (`+ 112 << 23`), subnormals are `mantissa * 2^-24` (an exact integer conversion and an exact
    /// product: both are normal float32 values or zero, so no rounding mode or flush-to-zero setting
    /// can change them), infinities and NaNs keep their payload with the quiet bit set for NaN.
    pub(crate) fn f16x4(h: uint32x4_t) -> uint32x4_t {
        let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
        let exp = vandq_u32(h, vdupq_n_u32(0x7c00));
        let mant = vandq_u32(h, vdupq_n_u32(0x03ff));
        let normal = vaddq_u32(
            vshlq_n_u32::<13>(vandq_u32(h, vdupq_n_u32(0x7fff))),
            vdupq_n_u32(112 << 23),
        );
        let sub = vreinterpretq_u32_f32(vmulq_f32(
            vcvtq_f32_u32(mant),
            vdupq_n_f32(1.0 / 16_777_216.0),
        ));
        let nan_bit = vandq_u32(vtstq_u32(mant, mant), vdupq_n_u32(0x0040_0000));
        let special = vorrq_u32(
            vorrq_u32(vdupq_n_u32(0x7f80_0000), nan_bit),
            vshlq_n_u32::<13>(mant),
        );
        let v = vbslq_u32(vceqzq_u32(exp), sub, normal);
        let v = vbslq_u32(vceqq_u32(exp, vdupq_n_u32(0x7c00)), special, v);
        vorrq_u32(v, sign)
    }

    /// The bfloat16 patterns of 4 floats (as bits), rounded as `crate::float::f32_to_bf16` does:
    /// `(b + 0x7fff + lsb) >> 16`, or `(b >> 16) | 0x40` for NaN; each fits in 16 bits.
    pub(crate) fn bf16x4(b: uint32x4_t) -> uint16x4_t {
        let hi = vshrq_n_u32::<16>(b);
        let bias = vaddq_u32(vdupq_n_u32(0x7fff), vandq_u32(hi, vdupq_n_u32(1)));
        let rounded = vshrq_n_u32::<16>(vaddq_u32(b, bias));
        let abs = vandq_u32(b, vdupq_n_u32(0x7fff_ffff));
        let nan = vcgtq_u32(abs, vdupq_n_u32(0x7f80_0000));
        let quiet = vorrq_u32(hi, vdupq_n_u32(0x40));
        vmovn_u32(vbslq_u32(nan, quiet, rounded))
    }
}

/// `[f(a[0], ..), f(a[1], ..)]`: a 4-lane intrinsic applied to both halves of 8-lane values.
macro_rules! pair {
    ($f:ident($($a:ident),*)) => {
        [$f($($a[0]),*), $f($($a[1]),*)]
    };
}

/// How far ahead (in floats) the streaming loops would prefetch; unused here (see
/// [`prefetch`]).
pub(crate) const AHEAD: usize = 2048;

/// Nothing: see the module doc (hardware prefetchers; the intrinsic is unstable).
#[inline(always)]
pub(crate) fn prefetch(_p: *const f32) {}

/// Always false: NEON has no division-free quotient here (it needs fused multiply-adds,
/// which this level does not use), so `group_codes` always divides.
#[inline(always)]
pub(crate) fn fast_scale(_scale: f32) -> bool {
    false
}

/// NEON: 8 lanes, as pairs of 128-bit registers.
pub(crate) mod neon {
    use core::arch::aarch64::*;

    use super::{bf16x4, f16_of4, f16x4};
    pub(crate) use super::{fast_scale, prefetch, AHEAD};

    with_features! { "neon";
        pub(crate) const L: usize = 8;
        pub(crate) type F = [float32x4_t; 2];
        pub(crate) type I = [int32x4_t; 2];
        pub(crate) type M = [uint32x4_t; 2];
        pub(crate) type Block = [F; 4];
        /// 16 packed code bytes.
        pub(crate) type Bytes16 = uint8x16_t;

        /// Safety: 16 writable bytes at `p`.
        pub(crate) unsafe fn store_bytes16(v: Bytes16, p: *mut u8) {
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { vst1q_u8(p, v) }
        }

        /// Safety: 32 readable floats at `p`.
        pub(crate) unsafe fn load_block(p: *const f32) -> Block {
            // SAFETY: the caller passes 32 readable floats; vector j reads floats 4j..4j+4.
            let q: [float32x4_t; 8] = core::array::from_fn(|j| unsafe { vld1q_f32(p.add(4 * j)) });
            [[q[0], q[1]], [q[2], q[3]], [q[4], q[5]], [q[6], q[7]]]
        }

        /// Safety: 8 writable floats at `p`.
        pub(crate) unsafe fn store(v: F, p: *mut f32) {
            // SAFETY: the caller passes 8 writable floats.
            unsafe {
                vst1q_f32(p, v[0]);
                vst1q_f32(p.add(4), v[1]);
            }
        }

        /// The low bytes of 8 lanes, each in -128..=127 (so narrowing keeps the value). Safety: 8
        /// writable bytes at `p`.
        pub(crate) unsafe fn store_i8(v: I, p: *mut i8) {
            let h = vcombine_s16(vmovn_s32(v[0]), vmovn_s32(v[1]));
            // SAFETY: the caller passes 8 writable bytes.
            unsafe { vst1_s8(p, vmovn_s16(h)) }
        }

        pub(crate) fn from_lanes(a: [f32; L]) -> F {
            // SAFETY: an 8-element array.
            unsafe { [vld1q_f32(a.as_ptr()), vld1q_f32(a.as_ptr().add(4))] }
        }

        pub(crate) fn lanes(v: F) -> [f32; L] {
            let mut a = [0.0f32; L];
            // SAFETY: an 8-element array.
            unsafe {
                vst1q_f32(a.as_mut_ptr(), v[0]);
                vst1q_f32(a.as_mut_ptr().add(4), v[1]);
            }
            a
        }

        pub(crate) fn lanes_i(v: I) -> [i32; L] {
            let mut a = [0i32; L];
            // SAFETY: an 8-element array.
            unsafe {
                vst1q_s32(a.as_mut_ptr(), v[0]);
                vst1q_s32(a.as_mut_ptr().add(4), v[1]);
            }
            a
        }

        // 4-lane forms of the primitives that are more than one intrinsic.

        fn min4(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vbslq_f32(vcltq_f32(a, b), a, b)
        }

        fn max4(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vbslq_f32(vcgtq_f32(a, b), a, b)
        }

        fn neg4(a: float32x4_t) -> float32x4_t {
            let s = vdupq_n_u32(0x8000_0000);
            vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), s))
        }

        /// `fcvtzs`, with 0x8000_0000 where `a` is not below 2^31 (NaN, +Inf, large); below
        /// -2^31 (and at -Inf) `fcvtzs` saturates to that value already.
        fn cvtt4(a: float32x4_t) -> int32x4_t {
            let ok = vcltq_f32(a, vdupq_n_f32(2_147_483_648.0));
            vbslq_s32(ok, vcvtq_s32_f32(a), vdupq_n_s32(i32::MIN))
        }

        fn abs_bits4(a: float32x4_t) -> int32x4_t {
            vreinterpretq_s32_u32(vandq_u32(
                vreinterpretq_u32_f32(a),
                vdupq_n_u32(0x7FFF_FFFF),
            ))
        }

        fn max_u4(a: int32x4_t, b: int32x4_t) -> int32x4_t {
            vreinterpretq_s32_u32(vmaxq_u32(
                vreinterpretq_u32_s32(a),
                vreinterpretq_u32_s32(b),
            ))
        }

        /// All-ones where `a` or `b` is NaN (a NaN is the only value not equal to itself).
        fn unord4(a: float32x4_t, b: float32x4_t) -> uint32x4_t {
            vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b)))
        }

        ops! { "neon";
            splat(x: f32) -> F = [vdupq_n_f32(x); 2];
            splat_i(x: i32) -> I = [vdupq_n_s32(x); 2];
            sub_i(a: I, b: I) -> I = pair!(vsubq_s32(a, b));
            cvt_f(a: I) -> F = pair!(vcvtq_f32_s32(a));
            bits_f(v: I) -> F = pair!(vreinterpretq_f32_s32(v));
            bits_i(v: F) -> I = pair!(vreinterpretq_s32_f32(v));
            add(a: F, b: F) -> F = pair!(vaddq_f32(a, b));
            sub(a: F, b: F) -> F = pair!(vsubq_f32(a, b));
            mul(a: F, b: F) -> F = pair!(vmulq_f32(a, b));
            div(a: F, b: F) -> F = pair!(vdivq_f32(a, b));
            min_f(a: F, b: F) -> F = pair!(min4(a, b));
            max_f(a: F, b: F) -> F = pair!(max4(a, b));
            neg(a: F) -> F = pair!(neg4(a));
            round_even(a: F) -> F = pair!(vrndnq_f32(a));
            cvtt(a: F) -> I = pair!(cvtt4(a));
            cvt(a: F) -> I = pair!(vcvtnq_s32_f32(a));
            abs_bits(a: F) -> I = pair!(abs_bits4(a));
            max_u(a: I, b: I) -> I = pair!(max_u4(a, b));
            gt(a: F, b: F) -> M = pair!(vcgtq_f32(a, b));
            eq(a: F, b: F) -> M = pair!(vceqq_f32(a, b));
            unord(a: F, b: F) -> M = pair!(unord4(a, b));
            gt_i(a: I, b: I) -> M = pair!(vcgtq_s32(a, b));
            eq_i(a: I, b: I) -> M = pair!(vceqq_s32(a, b));
            or_m(a: M, b: M) -> M = pair!(vorrq_u32(a, b));
            select(m: M, a: F, b: F) -> F = pair!(vbslq_f32(m, a, b));
            scale_bytes(amax: I) -> I = pair!(scale_bytes4(amax));
        }

        /// Lane i of the mask in bit i: each lane (all-ones or zero) keeps its own bit, and the
        /// bits of the two halves, disjoint, add up across the lanes.
        pub(crate) fn bits(m: M) -> u32 {
            const BIT: [u32; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
            // SAFETY: 4 elements at 0 and at 4 of an 8-element array.
            let (b0, b1) = unsafe { (vld1q_u32(BIT.as_ptr()), vld1q_u32(BIT.as_ptr().add(4))) };
            vaddvq_u32(vorrq_u32(vandq_u32(m[0], b0), vandq_u32(m[1], b1)))
        }

        /// Lane b of the result combines all 8 lanes of `m[b]` by `op`, through a transposing tree
        /// of 7 `op`s (each on two 4-lane halves, so each `op` step combines partial results of one
        /// block only); the last step leaves blocks 0..4 in the first half and 4..8 in the second.
        pub(crate) fn reduce(m: [F; L], op: impl Fn(F, F) -> F) -> F {
            // Level 1: each block's two halves: r1[k] holds block 2k in its first half, 2k + 1 in
            // its second.
            let r1: [F; 4] = core::array::from_fn(|k| {
                op(
                    [m[2 * k][0], m[2 * k + 1][0]],
                    [m[2 * k][1], m[2 * k + 1][1]],
                )
            });
            // Level 2: lanes 0, 1 of a block against its lanes 2, 3 (64-bit zips): r2[j]'s first
            // half holds blocks 4j, 4j + 1 (two lanes each), its second half 4j + 2, 4j + 3.
            let z = |a: float32x4_t, b: float32x4_t, hi: bool| {
                let (a, b) = (vreinterpretq_u64_f32(a), vreinterpretq_u64_f32(b));
                vreinterpretq_f32_u64(if hi {
                    vzip2q_u64(a, b)
                } else {
                    vzip1q_u64(a, b)
                })
            };
            let r2: [F; 2] = core::array::from_fn(|j| {
                let (a, b) = (r1[2 * j], r1[2 * j + 1]);
                op(
                    [z(a[0], a[1], false), z(b[0], b[1], false)],
                    [z(a[0], a[1], true), z(b[0], b[1], true)],
                )
            });
            // Level 3: even lanes against odd lanes: block 4h + i in lane i of half h.
            let (a, b) = (r2[0], r2[1]);
            op(
                [vuzp1q_f32(a[0], a[1]), vuzp1q_f32(b[0], b[1])],
                [vuzp2q_f32(a[0], a[1]), vuzp2q_f32(b[0], b[1])],
            )
        }

        /// `f16_of4`'s integer conversion (equal to `fp16::f32_to_f16` for every input: tested
        /// below over all binary16 rounding boundaries); `None` if a lane's encoding has an
        /// all-ones exponent (an overflow to infinity, for the finite inputs it is given).
        pub(crate) fn to_f16(v: F) -> Option<[u16; L]> {
            let h = vcombine_u16(
                f16_of4(vreinterpretq_u32_f32(v[0])),
                f16_of4(vreinterpretq_u32_f32(v[1])),
            );
            let e = vdupq_n_u16(0x7C00);
            let bad = vmaxvq_u16(vceqq_u16(vandq_u16(h, e), e));
            let mut a = [0u16; L];
            // SAFETY: an 8-element array.
            unsafe { vst1q_u16(a.as_mut_ptr(), h) };
            (bad == 0).then_some(a)
        }

        /// The low byte of each of 16 32-bit lanes (four vectors, in order). Little-endian: the
        /// even 16-bit half of a 32-bit lane is its low half, the even byte of a 16-bit lane its
        /// low byte.
        fn low_bytes(c: [uint32x4_t; 4]) -> uint8x16_t {
            let ab = vuzp1q_u16(vreinterpretq_u16_u32(c[0]), vreinterpretq_u16_u32(c[1]));
            let cd = vuzp1q_u16(vreinterpretq_u16_u32(c[2]), vreinterpretq_u16_u32(c[3]));
            vuzp1q_u8(vreinterpretq_u8_u16(ab), vreinterpretq_u8_u16(cd))
        }

        /// The low bytes of the codes of a block's two halves: elements 0..16 and 16..32.
        fn code_bytes(x: Block, code: impl Fn(F) -> I) -> (uint8x16_t, uint8x16_t) {
            let c = x.map(|v| code(v).map(|q| vreinterpretq_u32_s32(q)));
            (
                low_bytes([c[0][0], c[0][1], c[1][0], c[1][1]]),
                low_bytes([c[2][0], c[2][1], c[3][0], c[3][1]]),
            )
        }

        /// Codes 0..=16 keep their low byte and 0x8000_0000 gives its low byte 0; an unsigned byte
        /// minimum with 15 then gives `min(c, 15)`; byte j = code j | code (j + 16) << 4 (shift
        /// left and insert keeps the low nibble of the first code under the second).
        pub(crate) fn pack_ggml(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let (lo, hi) = code_bytes(x, code);
            let m = vdupq_n_u8(15);
            vsliq_n_u8::<4>(vminq_u8(lo, m), vminq_u8(hi, m))
        }

        /// Codes -8..=7 keep their value in their low byte; [`pack_nibbles`] packs pairs.
        pub(crate) fn pack_pairs(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let (lo, hi) = code_bytes(x, code);
            pack_nibbles(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
        }

        /// A block's E2M1 codes for scale byte `e` (finite `x`), the steps of `avx2::e2m1_block`
        /// (proof at `x86_64::avx512::e2m1_codes`): `u = 2|x|/d` by exact power-of-two multiplies
        /// (2/d = 2^(129 - e): one factor up to 2^127, two normal ones beyond; where a product
        /// underflows, u < 1 either way), then the count of midpoints below `ceil(min(u, cap))` by a
        /// 32-byte table lookup (`fcvtpu` rounds toward +inf: ceil, for these u in [0, 31]; no NaN
        /// reaches `vminq_f32`), plus 8 for a negative x unless its index is 0.
        pub(crate) fn e2m1_block(x: Block, e: u8, _k: f32) -> Bytes16 {
            let pow2 = |k: i32| vdupq_n_f32(f32::from_bits(((k + 127) as u32) << 23));
            let k = 129 - i32::from(e);
            let cap = vdupq_n_f32(if e == 253 { 14.0 } else { 31.0 });
            // SAFETY: 16 bytes at 0 and at 16 of a 32-byte array.
            let lut = unsafe {
                uint8x16x2_t(
                    vld1q_u8(super::super::E2M1_LUT.as_ptr()),
                    vld1q_u8(super::super::E2M1_LUT.as_ptr().add(16)),
                )
            };
            let (s1, s2) = if k <= 127 {
                (pow2(k), None)
            } else {
                (pow2(k >> 1), Some(pow2(k - (k >> 1))))
            };
            let codes = |q: [float32x4_t; 4]| {
                let c = q.map(|v| {
                    let u = vmulq_f32(vabsq_f32(v), s1);
                    let u = match s2 {
                        Some(s2) => vmulq_f32(u, s2),
                        None => u,
                    };
                    vcvtpq_u32_f32(vminq_f32(u, cap))
                });
                let idx = vqtbl2q_u8(lut, low_bytes(c));
                let neg = low_bytes(q.map(|v| vcltzq_f32(v)));
                let sign = vandq_u8(vandq_u8(neg, vtstq_u8(idx, idx)), vdupq_n_u8(8));
                vorrq_u8(idx, sign)
            };
            let lo = codes([x[0][0], x[0][1], x[1][0], x[1][1]]);
            let hi = codes([x[2][0], x[2][1], x[3][0], x[3][1]]);
            vsliq_n_u8::<4>(lo, hi)
        }

        /// A true division, as the reference (there is no division-free form here).
        pub(crate) fn group_codes(x: F, scale: F, _r: F, zp: F, _fast: bool) -> I {
            let q = add(round_even(div(x, scale)), zp);
            cvt(min_f(max_f(q, splat(-8.0)), splat(7.0)))
        }

        /// [`scale_bytes`] for 4 lanes: the steps of `avx512::scale_bytes16` (which see), with
        /// `floor(log2 |k|)` from a count of leading zeros and the table of counts by
        /// `j = 6 - floor(log2 |k|)` (+ 1 for positive powers of two), `[44, 22, 11, 5, 2, 1, 0, 0]`,
        /// as the shift `44 >> j`.
        fn scale_bytes4(amax: int32x4_t) -> int32x4_t {
            let amax = vreinterpretq_u32_s32(amax);
            let one = vdupq_n_s32(1);
            let ebits = vreinterpretq_s32_u32(vshrq_n_u32::<23>(amax));
            let e = vsubq_s32(ebits, vdupq_n_s32(127));
            let k = vaddq_s32(e, one);
            let next_power = vreinterpretq_u32_s32(vshlq_n_s32::<23>(vaddq_s32(ebits, one)));
            let a = vabsq_s32(k);
            let pow2 = vceqzq_s32(vandq_s32(a, vsubq_s32(a, one)));
            let pos = vcgtzq_s32(k);
            // j = clz(a) - 25 = 6 - floor(log2 a), plus 1 (minus an all-ones lane) for positive
            // powers of two: 0..=7 for k != 0.
            let j = vsubq_s32(vclzq_s32(a), vdupq_n_s32(25));
            let j = vsubq_s32(j, vreinterpretq_s32_u32(vandq_u32(pos, pow2)));
            // A negative shift count shifts right.
            let cnt = vshlq_u32(vdupq_n_u32(44), vnegq_s32(j));
            let cnt = vbicq_u32(cnt, vceqzq_s32(k));
            let up = vcgeq_u32(amax, vsubq_u32(next_power, cnt));
            let fl = vbslq_s32(up, k, e);
            let byte = vaddq_s32(fl, vdupq_n_s32(125));
            // amax < 2^-125 (zero included): byte 0.
            let tiny = vcltq_u32(amax, vdupq_n_u32((127 - 125) << 23));
            vbicq_s32(byte, vreinterpretq_s32_u32(tiny))
        }

        // Primitives of simd::superblocks (meanings: see the list in `lanes::x86_64::avx2`). NEON
        // has no gather (lane loads instead) and no 8-lane permutation (byte table lookups instead).

        /// `L` floats. Safety: `L` readable floats at `p`.
        pub(crate) unsafe fn load(p: *const f32) -> F {
            // SAFETY: the caller passes 8 readable floats.
            unsafe { [vld1q_f32(p), vld1q_f32(p.add(4))] }
        }

        /// Lane b: `p[32 b]` (NEON has no gather: one lane load each). Safety: `p[32 b]` readable
        /// for every b < `L`.
        pub(crate) unsafe fn gather32(p: *const f32) -> F {
            // SAFETY: the caller passes p[32 b] for b < 8.
            from_lanes(core::array::from_fn(|b| unsafe { *p.add(32 * b) }))
        }

        /// `add_if`'s 4-lane form: `a + (m & b)`.
        fn add_if4(m: uint32x4_t, a: int32x4_t, b: int32x4_t) -> int32x4_t {
            vaddq_s32(a, vandq_s32(vreinterpretq_s32_u32(m), b))
        }

        /// `inc_if`'s 4-lane form: `a - m` (an all-ones lane is -1).
        fn inc_if4(m: uint32x4_t, a: int32x4_t) -> int32x4_t {
            vsubq_s32(a, vreinterpretq_s32_u32(m))
        }

        ops! { "neon";
            sqrt(a: F) -> F = pair!(vsqrtq_f32(a));
            and_m(a: M, b: M) -> M = pair!(vandq_u32(a, b));
            add_i(a: I, b: I) -> I = pair!(vaddq_s32(a, b));
            inc_if(m: M, a: I) -> I = pair!(inc_if4(m, a));
            add_if(m: M, a: I, b: I) -> I = pair!(add_if4(m, a, b));
        }

        /// Logical `a << N`.
        pub(crate) fn shl_i<const N: i32>(a: I) -> I {
            [vshlq_n_s32::<N>(a[0]), vshlq_n_s32::<N>(a[1])]
        }

        /// Logical `a >> N`.
        pub(crate) fn shr_i<const N: i32>(a: I) -> I {
            let r = |v: int32x4_t| vreinterpretq_s32_u32(vshrq_n_u32::<N>(vreinterpretq_u32_s32(v)));
            [r(a[0]), r(a[1])]
        }

        /// 1.5 * 2^23, ggml's `nearest_int` constant.
        const MAGIC: f32 = 12_582_912.0;

        /// `code15`'s 4-lane form: the steps of `avx512::code15` (which see for the proof).
        fn code15_4(v: float32x4_t) -> float32x4_t {
            let ord = vceqq_f32(v, v);
            let t = vreinterpretq_u32_f32(vaddq_f32(v, vdupq_n_f32(MAGIC)));
            let low = vandq_u32(vandq_u32(t, vdupq_n_u32(0x007F_FFFF)), ord);
            let f = vorrq_u32(low, vdupq_n_u32(0x4B00_0000));
            let n = vsubq_f32(vreinterpretq_f32_u32(f), vdupq_n_f32(MAGIC));
            min4(max4(n, vdupq_n_f32(0.0)), vdupq_n_f32(15.0))
        }

        ops! { "neon";
            code15(v: F) -> F = pair!(code15_4(v));
        }

        /// Lane j: entry `i[j]` (0..16) of the 16 floats `t` (`t[i / 8]` lane `i % 8`): one 64-byte
        /// table lookup of the entries' bytes (entry i is bytes 4i..4i+4, so byte k of a lane takes
        /// byte `4i + k`, i.e. the index `i * 0x04040404 + 0x03020100`).
        pub(crate) fn table16(i: I, t: [F; 16 / L]) -> F {
            let tbl = uint8x16x4_t(
                vreinterpretq_u8_f32(t[0][0]),
                vreinterpretq_u8_f32(t[0][1]),
                vreinterpretq_u8_f32(t[1][0]),
                vreinterpretq_u8_f32(t[1][1]),
            );
            let look = |i: int32x4_t| {
                let i = vreinterpretq_u32_s32(i);
                let idx = vaddq_u32(vmulq_n_u32(i, 0x0404_0404), vdupq_n_u32(0x0302_0100));
                vreinterpretq_f32_u8(vqtbl4q_u8(tbl, vreinterpretq_u8_u32(idx)))
            };
            [look(i[0]), look(i[1])]
        }

        /// 16 signed bytes as floats (exact), in order, 8 per vector.
        fn floats_s8(b: int8x16_t) -> [F; 2] {
            let (l, h) = (vmovl_s8(vget_low_s8(b)), vmovl_high_s8(b));
            let f = |w: int16x8_t| {
                [
                    vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))),
                    vcvtq_f32_s32(vmovl_high_s16(w)),
                ]
            };
            [f(l), f(h)]
        }

        /// 16 unsigned bytes as floats (exact), in order, 8 per vector.
        fn floats_u8(b: uint8x16_t) -> [F; 2] {
            let (l, h) = (vmovl_u8(vget_low_u8(b)), vmovl_high_u8(b));
            let f = |w: uint16x8_t| {
                [
                    vcvtq_f32_u32(vmovl_u16(vget_low_u16(w))),
                    vcvtq_f32_u32(vmovl_high_u16(w)),
                ]
            };
            [f(l), f(h)]
        }

        /// The values of the 16 bytes' low nibbles and of their high nibbles, in byte order:
        /// `t[nibble]` (a byte table lookup, then exact conversions), or the nibbles themselves
        /// without a table. Safety: 16 readable bytes at `p`.
        pub(crate) unsafe fn nibble_values(
            p: *const u8,
            t: Option<&[i8; 16]>,
        ) -> ([F; 16 / L], [F; 16 / L]) {
            // SAFETY: the caller passes 16 readable bytes.
            let q = unsafe { vld1q_u8(p) };
            let (lo, hi) = (vandq_u8(q, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(q));
            match t {
                None => (floats_u8(lo), floats_u8(hi)),
                Some(t) => {
                    // SAFETY: `t` holds 16 bytes.
                    let tab = unsafe { vld1q_s8(t.as_ptr()) };
                    (
                        floats_s8(vqtbl1q_s8(tab, lo)),
                        floats_s8(vqtbl1q_s8(tab, hi)),
                    )
                }
            }
        }

        /// `[t[p[j] & 15] for j < 8, then t[p[j] >> 4] for j < 8]` as floats, `16 / L` vectors.
        /// Safety: 8 readable bytes at `p`.
        pub(crate) unsafe fn nibbles16(p: *const u8, t: &[i8; 16]) -> [F; 16 / L] {
            // SAFETY: the caller passes 8 readable bytes; `t` holds 16.
            let (q, tab) = unsafe { (vld1_u8(p), vld1q_s8(t.as_ptr())) };
            let k = vcombine_u8(vand_u8(q, vdup_n_u8(0x0F)), vshr_n_u8::<4>(q));
            floats_s8(vqtbl1q_s8(tab, k))
        }

        /// The low bytes of 8 lanes (values 0..=255 fit; here codes).
        fn narrow8(v: I) -> uint8x8_t {
            let h = vcombine_u16(
                vmovn_u32(vreinterpretq_u32_s32(v[0])),
                vmovn_u32(vreinterpretq_u32_s32(v[1])),
            );
            vmovn_u16(h)
        }

        /// Byte j: `lo[j] | hi[j] << 4` (codes 0..15). Safety: `L` writable bytes at `p`.
        pub(crate) unsafe fn store_nibbles(lo: I, hi: I, p: *mut u8) {
            let b = vsli_n_u8::<4>(narrow8(lo), narrow8(hi));
            // SAFETY: the caller passes 8 writable bytes.
            unsafe { vst1_u8(p, b) }
        }

        /// Byte j: `c[0][j] | c[1][j] << 4` (codes 0..15), little-endian.
        pub(crate) fn pack16(c: [I; 16 / L]) -> u64 {
            let b = vsli_n_u8::<4>(narrow8(c[0]), narrow8(c[1]));
            vget_lane_u64::<0>(vreinterpret_u64_u8(b))
        }

        // Primitives of simd::int4 (meanings: the list in `lanes::x86_64::avx2`; `load`, which it
        // also uses, is with simd::superblocks').

        /// `acc` raised to the largest `|v[j]|` (as bits) per lane: an unsigned maximum is one
        /// instruction here, where x86's or-ed compares are two.
        pub(crate) fn mark_above(acc: I, v: [F; 4], _limit: I) -> I {
            v.iter().fold(acc, |a, &v| max_u(a, abs_bits(v)))
        }

        /// Whether some lane of a [`mark_above`] accumulator (from `splat_i(0)`) is above `limit`.
        pub(crate) fn any_marked(acc: I, limit: I) -> bool {
            let m = vmaxq_u32(vreinterpretq_u32_s32(acc[0]), vreinterpretq_u32_s32(acc[1]));
            vmaxvq_u32(m) > vgetq_lane_u32::<0>(vreinterpretq_u32_s32(limit[0]))
        }

        /// Safety: L readable bytes at `p`; they are int8 codes, sign-extended.
        pub(crate) unsafe fn load_i8(p: *const i8) -> I {
            // SAFETY: the caller passes 8 readable bytes.
            let h = vmovl_s8(unsafe { vld1_s8(p) });
            [vmovl_s16(vget_low_s16(h)), vmovl_high_s16(h)]
        }

        /// Safety: 32 writable bytes at `p`; stores a block's 32 codes (-8..=7) there, one per
        /// byte (their low bytes: the values themselves).
        pub(crate) unsafe fn store_codes(x: Block, code: impl Fn(F) -> I, p: *mut i8) {
            let (lo, hi) = code_bytes(x, code);
            // SAFETY: the caller passes 32 writable bytes.
            unsafe {
                vst1q_u8(p.cast(), lo);
                vst1q_u8(p.add(16).cast(), hi);
            }
        }

        /// `clamp(rne(x / scale) + zp, -8, 7)` for any finite x and positive scale (a true
        /// division: see [`fast_scale`]).
        pub(crate) fn int4_codes(x: F, scale: F, r: F, zp: F, _fast: bool) -> I {
            group_codes(x, scale, r, zp, false)
        }

        /// `CODES` int8 codes (one per byte) in two registers.
        pub(crate) type Codes = [int8x16_t; 2];
        pub(crate) const CODES: usize = 32;

        /// Safety: `CODES` readable bytes at `p`.
        pub(crate) unsafe fn load_codes(p: *const i8) -> Codes {
            // SAFETY: the caller passes 32 readable bytes.
            unsafe { [vld1q_s8(p), vld1q_s8(p.add(16))] }
        }

        ops! { "neon";
            zero_codes() -> Codes = [vdupq_n_s8(0); 2];
            or_codes(a: Codes, b: Codes) -> Codes = pair!(vorrq_s8(a, b));
            code_offsets(v: Codes) -> Codes = [vaddq_s8(v[0], vdupq_n_s8(8)), vaddq_s8(v[1], vdupq_n_s8(8))];
            any_high_nibble(v: Codes) -> bool = vmaxvq_u8(vreinterpretq_u8_s8(vorrq_s8(v[0], v[1]))) > 15;
        }

        /// Safety: `CODES / 2` writable bytes at `p`; the codes (-8..=7) two per byte, the first
        /// in the low nibble.
        pub(crate) unsafe fn pack_codes(v: Codes, p: *mut u8) {
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { vst1q_u8(p, pack_nibbles(v[0], v[1])) }
        }

        /// Packs 32 codes (`a` = elements 0..16, `b` = 16..32) into 16 bytes, low nibble first, as
        /// `scalar::pack_pair`: `(even & 0x0F) | (odd << 4)` (shift left and insert keeps the low
        /// 4 bits of the even code under the odd one).
        fn pack_nibbles(a: int8x16_t, b: int8x16_t) -> uint8x16_t {
            let (a, b) = (vreinterpretq_u8_s8(a), vreinterpretq_u8_s8(b));
            vsliq_n_u8::<4>(vuzp1q_u8(a, b), vuzp2q_u8(a, b))
        }

        /// The low and high nibbles of 16 bytes, sign-extended (as `scalar::unpack_pair`).
        fn signed_nibbles(b: uint8x16_t) -> (int8x16_t, int8x16_t) {
            let b = vreinterpretq_s8_u8(b);
            (vshrq_n_s8::<4>(vshlq_n_s8::<4>(b)), vshrq_n_s8::<4>(b))
        }

        /// Safety: 32 readable bytes at `p`, and 64 writable ones at `q`: their codes, two per
        /// byte (the first in the low nibble), sign-extended.
        pub(crate) unsafe fn unpack_codes(p: *const u8, q: *mut i8) {
            for k in 0..2 {
                // SAFETY: 16 bytes at 16 k < 32 (the caller's); 32 codes at 32 k < 64.
                unsafe {
                    let (lo, hi) = signed_nibbles(vld1q_u8(p.add(16 * k)));
                    // The interleaving store writes lo0, hi0, lo1, hi1, ...
                    vst2q_s8(q.add(32 * k), int8x16x2_t(lo, hi));
                }
            }
        }

        /// `scalar::dequantize_one(code, scale, zp)` is `(code - zp) as f32 * scale`: here the
        /// table is that formula's operands (the scale, the zero point in 8 bytes), computed
        /// exactly as it is (an exact difference, an exact conversion, one rounding).
        pub(crate) type Int4Table = (float32x4_t, int8x8_t);

        /// Builds an [`Int4Table`].
        pub(crate) fn int4_table(scale: f32, zp: i8) -> Int4Table {
            (vdupq_n_f32(scale), vdup_n_s8(zp))
        }

        /// `(q - zp) as f32 * scale` for 16 codes, in order, as 4 vectors of 4.
        fn values16(q: int8x16_t, t: Int4Table) -> [float32x4_t; 4] {
            let lo = vsubl_s8(vget_low_s8(q), t.1);
            let hi = vsubl_high_s8(q, vcombine_s8(t.1, t.1));
            [
                vmovl_s16(vget_low_s16(lo)),
                vmovl_high_s16(lo),
                vmovl_s16(vget_low_s16(hi)),
                vmovl_high_s16(hi),
            ]
            .map(|d| vmulq_f32(vcvtq_f32_s32(d), t.0))
        }

        /// Safety: 16 readable bytes at `p`; `scalar::dequantize_one` of their 32 codes, two per
        /// byte, the first in the low nibble.
        pub(crate) unsafe fn int4_values(p: *const u8, t: Int4Table) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let (lo, hi) = signed_nibbles(unsafe { vld1q_u8(p) });
            // Interleaving the nibbles restores element order: lo0, hi0, lo1, hi1, ...
            let a = values16(vzip1q_s8(lo, hi), t);
            let b = values16(vzip2q_s8(lo, hi), t);
            [[a[0], a[1]], [a[2], a[3]], [b[0], b[1]], [b[2], b[3]]]
        }

        // Primitives of simd::dequantize_blocks.

        /// The 4 int32 lanes of each quarter of 16 bytes (signed), in order.
        fn widen_s8(b: int8x16_t) -> [int32x4_t; 4] {
            let (lo, hi) = (vmovl_s8(vget_low_s8(b)), vmovl_high_s8(b));
            [
                vmovl_s16(vget_low_s16(lo)),
                vmovl_high_s16(lo),
                vmovl_s16(vget_low_s16(hi)),
                vmovl_high_s16(hi),
            ]
        }

        /// The 32 values of two vectors of 16 bytes (`a`: elements 0..16, `b`: 16..32) as a block
        /// of floats (exact small integers), signed bytes.
        fn block_of_bytes(a: int8x16_t, b: int8x16_t) -> Block {
            let (a, b) = (widen_s8(a), widen_s8(b));
            let f = |v: int32x4_t| vcvtq_f32_s32(v);
            [
                [f(a[0]), f(a[1])],
                [f(a[2]), f(a[3])],
                [f(b[0]), f(b[1])],
                [f(b[2]), f(b[3])],
            ]
        }

        /// 16 small integers for [`ggml_values`].
        pub(crate) type ByteTable = int8x16_t;

        /// Loads a [`ByteTable`].
        pub(crate) fn byte_table(t: &[i8; 16]) -> ByteTable {
            // SAFETY: a 16-byte array.
            unsafe { vld1q_s8(t.as_ptr()) }
        }

        /// Safety: 16 readable bytes at `p`; `t[code]` as floats for the ggml block's 32 codes
        /// there (element j: byte j's low nibble, j + 16: its high one).
        pub(crate) unsafe fn ggml_values(p: *const u8, t: ByteTable) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { vld1q_u8(p) };
            let lo = vqtbl1q_s8(t, vandq_u8(b, vdupq_n_u8(0x0F)));
            let hi = vqtbl1q_s8(t, vshrq_n_u8::<4>(b));
            block_of_bytes(lo, hi)
        }

        /// Safety: 16 readable bytes at `p`; the ggml block's 32 codes there as floats (in the
        /// order of [`ggml_values`]).
        pub(crate) unsafe fn ggml_codes(p: *const u8) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { vld1q_u8(p) };
            // Codes 0..=15 are the same as signed bytes.
            let lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F)));
            let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(b));
            block_of_bytes(lo, hi)
        }

        /// Safety: 16 readable bytes at `p`; their 32 int4 codes (-8..=7), two per byte, the first
        /// in the low nibble.
        pub(crate) unsafe fn unpack_pairs(p: *const u8) -> [I; 4] {
            // SAFETY: the caller passes 16 readable bytes.
            let (lo, hi) = signed_nibbles(unsafe { vld1q_u8(p) });
            let (a, b) = (widen_s8(vzip1q_s8(lo, hi)), widen_s8(vzip2q_s8(lo, hi)));
            [[a[0], a[1]], [a[2], a[3]], [b[0], b[1]], [b[2], b[3]]]
        }

        /// The finite binary16 `h` as f32 (the reference's exact conversion: the fp16 intrinsics
        /// are above our MSRV).
        pub(crate) fn f16_to_f32(h: u16) -> f32 {
            crate::reference::formats::fp16::f16_to_f32(h)
        }

        // Primitives of simd::half: integer arithmetic (`f16x4`, `f16_of4`, `bf16x4`). The
        // conversion instructions `fcvtl` / `fcvtn` would do float16 in one step, but their
        // intrinsics are stable only since Rust 1.94, above this crate's MSRV, and would depend on
        // the FPCR (rounding mode, default-NaN, alternative half precision).

        /// Safety: 8 readable halves at `p`.
        pub(crate) unsafe fn load_f16(p: *const u16) -> F {
            // SAFETY: the caller passes 8 readable halves.
            let h = unsafe { vld1q_u16(p) };
            let (lo, hi) = (f16x4(vmovl_u16(vget_low_u16(h))), f16x4(vmovl_high_u16(h)));
            [vreinterpretq_f32_u32(lo), vreinterpretq_f32_u32(hi)]
        }

        /// Safety: 8 writable halves at `p`.
        pub(crate) unsafe fn store_f16(v: F, p: *mut u16) {
            let [lo, hi] = v.map(|v| f16_of4(vreinterpretq_u32_f32(v)));
            // SAFETY: the caller passes 8 writable halves.
            unsafe { vst1q_u16(p, vcombine_u16(lo, hi)) }
        }

        /// Safety: 8 readable halves at `p`.
        pub(crate) unsafe fn load_bf16(p: *const u16) -> F {
            // SAFETY: the caller passes 8 readable halves.
            let h = unsafe { vld1q_u16(p) };
            let (lo, hi) = (vshll_n_u16::<16>(vget_low_u16(h)), vshll_high_n_u16::<16>(h));
            [vreinterpretq_f32_u32(lo), vreinterpretq_f32_u32(hi)]
        }

        /// Safety: 8 writable halves at `p`.
        pub(crate) unsafe fn store_bf16(v: F, p: *mut u16) {
            let [lo, hi] = v.map(|v| bf16x4(vreinterpretq_u32_f32(v)));
            // SAFETY: the caller passes 8 writable halves.
            unsafe { vst1q_u16(p, vcombine_u16(lo, hi)) }
        }

        // Primitives of simd::codebook.

        /// A 16-entry float table for [`codebook_values`], as its byte planes: plane k holds byte
        /// k of every entry, so that one byte lookup per plane and two rounds of interleaving
        /// give the entries by index.
        pub(crate) type FloatTable = uint8x16x4_t;

        /// Loads a [`FloatTable`].
        pub(crate) fn float_table(t: &[f32; 16]) -> FloatTable {
            // SAFETY: 16 bytes at 16 j < 64 of a 64-byte array.
            let tbl = unsafe {
                let p = t.as_ptr().cast::<u8>();
                uint8x16x4_t(
                    vld1q_u8(p),
                    vld1q_u8(p.add(16)),
                    vld1q_u8(p.add(32)),
                    vld1q_u8(p.add(48)),
                )
            };
            // Byte k of entry i is byte 4 i + k of the table.
            let i0: [u8; 16] = core::array::from_fn(|i| 4 * i as u8);
            // SAFETY: a 16-byte array.
            let i0 = unsafe { vld1q_u8(i0.as_ptr()) };
            let plane = |k: u8| vqtbl4q_u8(tbl, vaddq_u8(i0, vdupq_n_u8(k)));
            uint8x16x4_t(plane(0), plane(1), plane(2), plane(3))
        }

        /// The entries of `t` for 16 indices (each 0..15), in order, as 4 vectors.
        fn lookup16(t: FloatTable, idx: uint8x16_t) -> [float32x4_t; 4] {
            let b = [t.0, t.1, t.2, t.3].map(|p| vqtbl1q_u8(p, idx));
            // Little-endian: bytes 0, 1 of a float, then its bytes 2, 3, then the four together.
            let z = |a: uint8x16_t, b: uint8x16_t, hi: bool| {
                vreinterpretq_u16_u8(if hi { vzip2q_u8(a, b) } else { vzip1q_u8(a, b) })
            };
            let (l01, h01) = (z(b[0], b[1], false), z(b[0], b[1], true));
            let (l23, h23) = (z(b[2], b[3], false), z(b[2], b[3], true));
            let f = |v: uint16x8_t| vreinterpretq_f32_u16(v);
            [
                f(vzip1q_u16(l01, l23)),
                f(vzip2q_u16(l01, l23)),
                f(vzip1q_u16(h01, h23)),
                f(vzip2q_u16(h01, h23)),
            ]
        }

        /// Safety: 16 readable bytes at `p`; `t[code]` for their 32 codes, two per byte, the first
        /// in the high nibble.
        pub(crate) unsafe fn codebook_values(p: *const u8, t: FloatTable) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { vld1q_u8(p) };
            let (h, l) = (vshrq_n_u8::<4>(b), vandq_u8(b, vdupq_n_u8(0x0F)));
            let a = lookup16(t, vzip1q_u8(h, l));
            let c = lookup16(t, vzip2q_u8(h, l));
            [[a[0], a[1]], [a[2], a[3]], [c[0], c[1]], [c[2], c[3]]]
        }

        /// The codebook encoders' thresholds (each in every lane) and the sign-magnitude codebook's
        /// codes by rank.
        #[derive(Clone, Copy)]
        pub(crate) struct CodebookTables {
            sorted: [float32x4_t; 15],
            magnitudes: [float32x4_t; 7],
            by_rank: uint8x16_t,
        }

        /// Loads [`CodebookTables`].
        pub(crate) fn codebook_tables() -> CodebookTables {
            use crate::reference::codebook::tables::{
                CODE_BY_RANK, MAGNITUDE_THRESHOLDS, SORTED_THRESHOLDS,
            };
            let mut by_rank = [0u8; 16];
            by_rank[..8].copy_from_slice(&CODE_BY_RANK);
            CodebookTables {
                sorted: SORTED_THRESHOLDS.map(|t| vdupq_n_f32(t)),
                magnitudes: MAGNITUDE_THRESHOLDS.map(|t| vdupq_n_f32(t)),
                // SAFETY: a 16-byte array.
                by_rank: unsafe { vld1q_u8(by_rank.as_ptr()) },
            }
        }

        /// The number of thresholds strictly below `v` in each lane (each true comparison is
        /// all-ones, i.e. -1; NaN compares false everywhere: 0). With 32 registers every threshold
        /// stays in one, so counting is cheaper here than x86's binary search through lookups.
        fn count_above(v: float32x4_t, t: &[float32x4_t]) -> int32x4_t {
            let c = t
                .iter()
                .fold(vdupq_n_u32(0), |c, &ti| vsubq_u32(c, vcgtq_f32(v, ti)));
            vreinterpretq_s32_u32(c)
        }

        /// The sorted codebook's encoder (`codebook::scalar`) of each lane: the number of thresholds strictly below v.
        pub(crate) fn sorted_codes(v: F, t: &CodebookTables) -> I {
            [count_above(v[0], &t.sorted), count_above(v[1], &t.sorted)]
        }

        /// The sign-magnitude codebook's encoder (`codebook::scalar`) of 4 lanes: the rank of |v| among the magnitude
        /// thresholds (strictly greater; NaN: 0) mapped through `CODE_BY_RANK` (a byte lookup
        /// whose other three index bytes are out of range, giving 0), plus 8 when v < 0.
        fn sign_magnitude_codes4(v: float32x4_t, t: &CodebookTables) -> int32x4_t {
            let rank = vreinterpretq_u32_s32(count_above(vabsq_f32(v), &t.magnitudes));
            let idx = vorrq_u32(rank, vdupq_n_u32(0xFFFF_FF00));
            let code = vreinterpretq_u32_u8(vqtbl1q_u8(t.by_rank, vreinterpretq_u8_u32(idx)));
            let neg = vandq_u32(vcltzq_f32(v), vdupq_n_u32(8));
            vreinterpretq_s32_u32(vorrq_u32(code, neg))
        }

        /// The sign-magnitude codebook's encoder (`codebook::scalar`) of each lane.
        pub(crate) fn sign_magnitude_codes(v: F, t: &CodebookTables) -> I {
            [sign_magnitude_codes4(v[0], t), sign_magnitude_codes4(v[1], t)]
        }

        /// Packs a block's 32 codes (0..=15) two per byte, the first in the high nibble.
        pub(crate) fn pack_hi_first(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let (a, b) = code_bytes(x, code);
            let (even, odd) = (vuzp1q_u8(a, b), vuzp2q_u8(a, b));
            // (even << 4) | (odd & 0x0F).
            vsliq_n_u8::<4>(odd, even)
        }

        /// The largest lane, unsigned.
        pub(crate) fn max_lane_u(v: I) -> u32 {
            vmaxvq_u32(vmaxq_u32(
                vreinterpretq_u32_s32(v[0]),
                vreinterpretq_u32_s32(v[1]),
            ))
        }

        // Primitives of simd::nl_search (`and_m`, which it also uses, is with simd::superblocks').

        /// Element j of 8 blocks of 32 floats at `p`: lane b is `p[32 b + j]`. Safety: 256
        /// readable floats at `p`.
        pub(crate) unsafe fn load_columns(p: *const f32) -> [F; 32] {
            // Blocks 4 h..4 h + 4, element j in `c[j]`.
            let half = |h: usize| {
                let mut c = [vdupq_n_f32(0.0); 32];
                for j0 in (0..32).step_by(4) {
                    // SAFETY: 4 floats at 32 (4 h + b) + j0 + 4 <= 256 (the caller's).
                    let r: [float32x4_t; 4] =
                        core::array::from_fn(|b| unsafe { vld1q_f32(p.add(32 * (4 * h + b) + j0)) });
                    // A 4x4 transpose: 32-bit then 64-bit interleaves.
                    let d = |v: float32x4_t| vreinterpretq_f64_f32(v);
                    let t0 = d(vtrn1q_f32(r[0], r[1]));
                    let t1 = d(vtrn2q_f32(r[0], r[1]));
                    let t2 = d(vtrn1q_f32(r[2], r[3]));
                    let t3 = d(vtrn2q_f32(r[2], r[3]));
                    let f = |v: float64x2_t| vreinterpretq_f32_f64(v);
                    c[j0] = f(vtrn1q_f64(t0, t2));
                    c[j0 + 1] = f(vtrn1q_f64(t1, t3));
                    c[j0 + 2] = f(vtrn2q_f64(t0, t2));
                    c[j0 + 3] = f(vtrn2q_f64(t1, t3));
                }
                c
            };
            let (a, b) = (half(0), half(1));
            core::array::from_fn(|j| [a[j], b[j]])
        }

        /// The nearest-entry search's tables: the 15 midpoints (each in every lane) and the
        /// codebook values as bytes.
        #[derive(Clone, Copy)]
        pub(crate) struct NlTables {
            mid: [float32x4_t; 15],
            kv: int8x16_t,
        }

        /// Loads [`NlTables`].
        pub(crate) fn nl_tables() -> NlTables {
            use super::super::NL_MID as MID;
            NlTables {
                mid: MID.map(|m| vdupq_n_f32(m)),
                // SAFETY: a 16-byte array.
                kv: unsafe { vld1q_s8(crate::reference::formats::nl_codebook::KVALUES.as_ptr()) },
            }
        }

        /// The number of midpoints `<= v` in each lane (NaN: 0).
        fn nl_count(v: float32x4_t, t: &NlTables) -> uint32x4_t {
            // Each true comparison is all-ones, i.e. -1.
            t.mid
                .iter()
                .fold(vdupq_n_u32(0), |c, &m| vsubq_u32(c, vcgeq_f32(v, m)))
        }

        /// `nl_codebook::best_index` of each lane (any float, NaN included).
        ///
        /// Proof. `avx512::nl_index` proves that the reference's index is the number of
        /// midpoints `<= x` for every non-NaN x (a tie goes up), and 15 for NaN: NaN is replaced by
        /// +inf (which counts all 15) before counting.
        pub(crate) fn nl_index(v: F, t: NlTables) -> I {
            let inf = vdupq_n_f32(f32::INFINITY);
            v.map(|v| {
                let v = vbslq_f32(vceqq_f32(v, v), v, inf);
                vreinterpretq_s32_u32(nl_count(v, &t))
            })
        }

        /// `KV[nl_codebook::best_index(v)]` of each lane, for any non-NaN v: the count of
        /// [`nl_index`] (without its NaN step), narrowed to bytes, looked up in the codebook's
        /// bytes and widened back.
        pub(crate) fn nl_nearest(v: F, t: NlTables) -> F {
            let c = v.map(|v| vreinterpretq_u16_u32(nl_count(v, &t)));
            // The low byte of each count (0..=15), lanes 0..8 in bytes 0..8.
            let idx = vuzp1q_u8(vreinterpretq_u8_u16(vuzp1q_u16(c[0], c[1])), vdupq_n_u8(0));
            let q = vmovl_s8(vget_low_s8(vqtbl1q_s8(t.kv, idx)));
            [
                vcvtq_f32_s32(vmovl_s16(vget_low_s16(q))),
                vcvtq_f32_s32(vmovl_high_s16(q)),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::neon as l;
    use crate::reference::formats::fp16::{f16_to_f32, f32_to_f16};
    use crate::reference::formats::mxfp4;

    /// Awkward floats: zeros, NaNs, infinities, ±2^31 and neighbours, halves, subnormals.
    fn specials() -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7F80_0001),
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            1e-45,
            -1e-45,
            2_147_483_648.0,
            -2_147_483_648.0,
            f32::from_bits(2_147_483_648f32.to_bits() - 1),
            f32::from_bits(2_147_483_648f32.to_bits() + 1),
            f32::from_bits((-2_147_483_648f32).to_bits() + 1),
            -3e9,
            3e9,
        ];
        for k in -9..=9 {
            v.extend([k as f32 + 0.5, k as f32, k as f32 - 0.25, k as f32 + 0.75]);
        }
        v
    }

    /// Calls `f` with every pair of specials in lanes a and b, 8 lanes at a time (the pairs
    /// shifted across lanes so every lane position sees every pair).
    fn each_pair(f: impl Fn([f32; 8], [f32; 8])) {
        let s = specials();
        let pairs: Vec<(f32, f32)> = s
            .iter()
            .flat_map(|&a| s.iter().map(move |&b| (a, b)))
            .collect();
        for start in 0..8 {
            for c in pairs[start..].chunks(8) {
                let mut a = [0.0f32; 8];
                let mut b = [0.0f32; 8];
                for (i, &(x, y)) in c.iter().enumerate() {
                    (a[i], b[i]) = (x, y);
                }
                f(a, b);
            }
        }
    }

    fn bits8(a: [f32; 8]) -> [u32; 8] {
        a.map(f32::to_bits)
    }

    #[test]
    fn float_primitives_follow_the_documented_x86_semantics() {
        #[target_feature(enable = "neon")]
        fn run() {
            each_pair(|a, b| {
                let (va, vb) = (l::from_lanes(a), l::from_lanes(b));
                let lt: [f32; 8] = core::array::from_fn(|i| if a[i] < b[i] { a[i] } else { b[i] });
                let gt: [f32; 8] = core::array::from_fn(|i| if a[i] > b[i] { a[i] } else { b[i] });
                assert_eq!(
                    bits8(l::lanes(l::min_f(va, vb))),
                    bits8(lt),
                    "min {a:?} {b:?}"
                );
                assert_eq!(
                    bits8(l::lanes(l::max_f(va, vb))),
                    bits8(gt),
                    "max {a:?} {b:?}"
                );
                let m = |f: fn(f32, f32) -> bool| -> u32 {
                    (0..8).map(|i| u32::from(f(a[i], b[i])) << i).sum()
                };
                assert_eq!(l::bits(l::gt(va, vb)), m(|x, y| x > y));
                assert_eq!(l::bits(l::eq(va, vb)), m(|x, y| x == y));
                assert_eq!(
                    l::bits(l::unord(va, vb)),
                    m(|x, y| x.is_nan() || y.is_nan())
                );
                let sel = l::lanes(l::select(l::gt(va, vb), va, vb));
                assert_eq!(bits8(sel), bits8(gt));
                let (ia, ib) = (a.map(|x| x.to_bits() as i32), b.map(|x| x.to_bits() as i32));
                let (wa, wb) = (l::bits_i(va), l::bits_i(vb));
                assert_eq!(
                    l::bits(l::gt_i(wa, wb)),
                    m(|x, y| (x.to_bits() as i32) > (y.to_bits() as i32))
                );
                assert_eq!(
                    l::bits(l::eq_i(wa, wb)),
                    m(|x, y| x.to_bits() == y.to_bits())
                );
                let mu: [i32; 8] =
                    core::array::from_fn(|i| (ia[i] as u32).max(ib[i] as u32) as i32);
                assert_eq!(l::lanes_i(l::max_u(wa, wb)), mu);
                let d: [i32; 8] = core::array::from_fn(|i| ia[i].wrapping_sub(ib[i]));
                assert_eq!(l::lanes_i(l::sub_i(wa, wb)), d);
                let o = l::lanes(l::bits_f(l::sub_i(wa, wb)));
                assert_eq!(o.map(|x| x.to_bits() as i32), d);
                for (got, want) in [
                    (l::add(va, vb), core::array::from_fn(|i| a[i] + b[i])),
                    (l::sub(va, vb), core::array::from_fn(|i| a[i] - b[i])),
                    (l::mul(va, vb), core::array::from_fn(|i| a[i] * b[i])),
                    (l::div(va, vb), core::array::from_fn(|i| a[i] / b[i])),
                ] {
                    let (got, want): ([f32; 8], [f32; 8]) = (l::lanes(got), want);
                    for i in 0..8 {
                        // NaN payloads are not specified.
                        assert!(
                            got[i].to_bits() == want[i].to_bits()
                                || got[i].is_nan() && want[i].is_nan(),
                            "{} {} -> {} {}",
                            a[i],
                            b[i],
                            got[i],
                            want[i]
                        );
                    }
                }
            });
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    #[test]
    fn conversions_and_roundings_follow_the_documented_x86_semantics() {
        #[target_feature(enable = "neon")]
        fn run() {
            let mut s = specials();
            s.extend((-100..=100).map(|k| k as f32 * 0.125));
            s.extend((0..2000u32).map(|i| f32::from_bits(i.wrapping_mul(0x9E37_79B9))));
            while !s.len().is_multiple_of(8) {
                s.push(0.5);
            }
            for c in s.chunks(8) {
                let a: [f32; 8] = c.try_into().unwrap();
                let v = l::from_lanes(a);
                // cvtt: truncation, 0x8000_0000 for NaN, ±Inf and out of range (as `cvttps2dq`).
                let t = a.map(|x| {
                    if x.is_finite() && x.trunc() >= -2_147_483_648.0 && x.trunc() < 2_147_483_648.0
                    {
                        x.trunc() as i32
                    } else {
                        i32::MIN
                    }
                });
                assert_eq!(l::lanes_i(l::cvtt(v)), t, "{a:?}");
                // round_even: ties to even; NaN stays NaN.
                let r = l::lanes(l::round_even(v));
                for (x, y) in a.iter().zip(r) {
                    let want = x.round_ties_even();
                    assert!(
                        y.to_bits() == want.to_bits() || y.is_nan() && x.is_nan(),
                        "{x} {y}"
                    );
                }
                let n = l::lanes(l::neg(v));
                assert_eq!(bits8(n), a.map(|x| x.to_bits() ^ 0x8000_0000));
                let ab = l::lanes_i(l::abs_bits(v));
                assert_eq!(ab, a.map(|x| (x.to_bits() & 0x7FFF_FFFF) as i32));
                // cvt of exact small integers, cvt_f back.
                let k: [f32; 8] = a.map(|x| {
                    if x.is_finite() {
                        x.round_ties_even().clamp(-1e6, 1e6)
                    } else {
                        0.0
                    }
                });
                let ki = l::lanes_i(l::cvt(l::from_lanes(k)));
                assert_eq!(ki, k.map(|x| x as i32));
                assert_eq!(l::lanes(l::cvt_f(l::splat_i(-7))), [-7.0; 8]);
                assert_eq!(
                    bits8(l::lanes(l::cvt_f(l::cvt(l::from_lanes(k))))),
                    bits8(k.map(|x| x + 0.0))
                );
            }
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    #[test]
    fn stores_and_packs_keep_element_order() {
        #[target_feature(enable = "neon")]
        fn run() {
            let x: [f32; 32] = core::array::from_fn(|i| i as f32 - 8.0);
            let mut out = [0.0f32; 8];
            let mut bytes = [0i8; 8];
            let mut b16 = [0u8; 16];
            // SAFETY: 32 floats read, 8 floats, 8 bytes and 16 bytes written, all in arrays.
            let blk = unsafe { l::load_block(x.as_ptr()) };
            for (k, v) in blk.iter().enumerate() {
                unsafe { l::store(*v, out.as_mut_ptr()) };
                assert_eq!(out, core::array::from_fn(|i| x[8 * k + i]));
                unsafe { l::store_i8(l::cvt(*v), bytes.as_mut_ptr()) };
                assert_eq!(bytes, core::array::from_fn(|i| (8 * k + i) as i8 - 8));
            }
            // pack_pairs: codes -8..=7 (x - 16 wraps into -8..=7 by masking), first in low nibble.
            let code = |v: l::F| l::sub_i(l::cvt(v), l::splat_i(0));
            let xs: [f32; 32] = core::array::from_fn(|i| ((i * 7) % 16) as f32 - 8.0);
            let blk = unsafe { l::load_block(xs.as_ptr()) };
            unsafe { l::store_bytes16(l::pack_pairs(blk, code), b16.as_mut_ptr()) };
            let want: [u8; 16] = core::array::from_fn(|j| {
                (xs[2 * j] as i8 as u8 & 0x0F) | ((xs[2 * j + 1] as i8 as u8) << 4)
            });
            assert_eq!(b16, want);
            // pack_ggml: codes 0..=16 and 0x8000_0000 (NaN through cvtt).
            let xs: [f32; 32] = core::array::from_fn(|i| {
                if i % 11 == 3 {
                    f32::NAN
                } else {
                    (i % 17) as f32
                }
            });
            let blk = unsafe { l::load_block(xs.as_ptr()) };
            unsafe { l::store_bytes16(l::pack_ggml(blk, |v| l::cvtt(v)), b16.as_mut_ptr()) };
            let c = |v: f32| if v.is_nan() { 0u8 } else { (v as u8).min(15) };
            let want: [u8; 16] = core::array::from_fn(|j| c(xs[j]) | c(xs[j + 16]) << 4);
            assert_eq!(b16, want);
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    #[test]
    fn reduce_puts_block_b_in_lane_b() {
        #[target_feature(enable = "neon")]
        fn run() {
            let vals = |b: usize, i: usize| ((b * 37 + i * 11) % 97) as f32 - 40.0 + b as f32;
            let m: [l::F; 8] =
                core::array::from_fn(|b| l::from_lanes(core::array::from_fn(|i| vals(b, i))));
            let max = l::lanes(l::reduce(m, |a, b| l::max_f(a, b)));
            let min = l::lanes(l::reduce(m, |a, b| l::min_f(a, b)));
            for b in 0..8 {
                let v: Vec<f32> = (0..8).map(|i| vals(b, i)).collect();
                assert_eq!(max[b], v.iter().copied().fold(f32::MIN, f32::max));
                assert_eq!(min[b], v.iter().copied().fold(f32::MAX, f32::min));
            }
            // Each lane's own contribution is visible: a sum (commutative, associative on these
            // small integers) of distinct powers of two.
            let m: [l::F; 8] = core::array::from_fn(|b| {
                l::from_lanes(core::array::from_fn(|i| {
                    ((b * 8 + i) % 23) as f32 * 1024.0 + (1 << i) as f32
                }))
            });
            let sum = l::lanes(l::reduce(m, |a, b| l::add(a, b)));
            for (b, s) in sum.iter().enumerate() {
                let want: f32 = (0..8)
                    .map(|i| ((b * 8 + i) % 23) as f32 * 1024.0 + (1 << i) as f32)
                    .sum();
                assert_eq!(*s, want, "block {b}");
            }
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    #[test]
    fn scale_bytes_match_the_reference_near_every_power_of_two() {
        #[target_feature(enable = "neon")]
        fn run() {
            let mut amax: Vec<u32> = vec![0, 1, 0x0020_0000, 0x7F7F_FFFF];
            for k in -127i32..=128 {
                let p = ((k + 127).max(0) as u32) << 23;
                for d in 0..100u32 {
                    amax.push(p.saturating_sub(d).min(0x7F7F_FFFF));
                    amax.push((p + d).min(0x7F7F_FFFF));
                }
            }
            while !amax.len().is_multiple_of(8) {
                amax.push(0);
            }
            for c in amax.chunks(8) {
                let lanes: [f32; 8] = core::array::from_fn(|i| f32::from_bits(c[i]));
                let got = l::lanes_i(l::scale_bytes(l::bits_i(l::from_lanes(lanes))));
                for (a, g) in lanes.iter().zip(got) {
                    assert_eq!(g, i32::from(mxfp4::scale_byte(*a)), "amax {a:e}");
                }
            }
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    #[test]
    fn the_e2m1_table_counts_the_midpoints() {
        #[target_feature(enable = "neon")]
        fn run() {
            let lo = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6];
            let hi = [6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
            assert_eq!(super::super::E2M1_LUT[..16], lo);
            assert_eq!(super::super::E2M1_LUT[16..], hi);
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    #[test]
    fn f16_conversion_equals_the_reference() {
        #[target_feature(enable = "neon")]
        fn run() {
            let mut xs: Vec<f32> = Vec::new();
            for h in 0u16..0x7C00 {
                let lo = f16_to_f32(h);
                let hi = if h == 0x7BFF {
                    65536.0
                } else {
                    f16_to_f32(h + 1)
                };
                let mid = ((f64::from(lo) + f64::from(hi)) / 2.0) as f32;
                for v in [
                    lo,
                    mid,
                    f32::from_bits(mid.to_bits() + 1),
                    f32::from_bits(mid.to_bits().wrapping_sub(1)),
                ] {
                    xs.push(v);
                    xs.push(-v);
                }
            }
            xs.extend(
                (0..u32::MAX / 40_009)
                    .map(|i| f32::from_bits(i * 40_009))
                    .filter(|v| !v.is_nan()),
            );
            for chunk in xs.chunks(8) {
                let mut lanes = [0.0f32; 8];
                lanes[..chunk.len()].copy_from_slice(chunk);
                let want = lanes.map(f32_to_f16);
                match l::to_f16(l::from_lanes(lanes)) {
                    Some(got) => assert_eq!(got, want, "{lanes:?}"),
                    None => assert!(want.iter().any(|h| h & 0x7C00 == 0x7C00), "{lanes:?}"),
                }
            }
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }

    /// The primitives of `simd::superblocks` against scalar models of their meanings.
    #[test]
    fn superblock_primitives_follow_their_meanings() {
        #[target_feature(enable = "neon")]
        fn run() {
            let xs: [f32; 256] = core::array::from_fn(|i| i as f32 * 0.5 - 60.0);
            // SAFETY: 8 floats at 0; p[32 b] for b < 8 within 256.
            let (v, g) = unsafe { (l::load(xs.as_ptr()), l::gather32(xs.as_ptr().add(3))) };
            assert_eq!(l::lanes(v), core::array::from_fn(|i| xs[i]));
            assert_eq!(l::lanes(g), core::array::from_fn(|b| xs[32 * b + 3]));
            let sq = l::lanes(l::sqrt(l::from_lanes([
                2.0,
                0.0,
                -0.0,
                1e-40,
                3.0,
                f32::MAX,
                0.25,
                7.0,
            ])));
            for (s, x) in sq
                .iter()
                .zip([2.0f32, 0.0, -0.0, 1e-40, 3.0, f32::MAX, 0.25, 7.0])
            {
                assert_eq!(s.to_bits(), x.sqrt().to_bits());
            }
            let a: [i32; 8] = [0, 1, -1, 7, i32::MAX, i32::MIN, 0x1234_5678, -5];
            let b: [i32; 8] = [3, -3, 1, 9, 1, -1, 0x0F0F_0F0F, 5];
            let ia = l::bits_i(l::from_lanes(a.map(|x| f32::from_bits(x as u32))));
            let ib = l::bits_i(l::from_lanes(b.map(|x| f32::from_bits(x as u32))));
            assert_eq!(l::lanes_i(ia), a);
            let want: [i32; 8] = core::array::from_fn(|i| a[i].wrapping_add(b[i]));
            assert_eq!(l::lanes_i(l::add_i(ia, ib)), want);
            let m = l::gt_i(ia, ib);
            let and = l::and_m(m, l::eq_i(ia, ia));
            assert_eq!(l::bits(and), l::bits(m));
            let inc: [i32; 8] = core::array::from_fn(|i| a[i].wrapping_add(i32::from(a[i] > b[i])));
            assert_eq!(l::lanes_i(l::inc_if(m, ia)), inc);
            let addif: [i32; 8] = core::array::from_fn(|i| {
                if a[i] > b[i] {
                    a[i].wrapping_add(b[i])
                } else {
                    a[i]
                }
            });
            assert_eq!(l::lanes_i(l::add_if(m, ia, ib)), addif);
            assert_eq!(
                l::lanes_i(l::shl_i::<20>(ia)),
                a.map(|x| ((x as u32) << 20) as i32)
            );
            assert_eq!(
                l::lanes_i(l::shr_i::<19>(ia)),
                a.map(|x| ((x as u32) >> 19) as i32)
            );
            // table16: lane i gets entry idx[i] of 16.
            let t: [f32; 16] = core::array::from_fn(|i| i as f32 * 1.25 - 3.0);
            let tv = [
                l::from_lanes(core::array::from_fn(|i| t[i])),
                l::from_lanes(core::array::from_fn(|i| t[8 + i])),
            ];
            for start in 0..16 {
                let idx: [i32; 8] = core::array::from_fn(|i| ((start + 5 * i) % 16) as i32);
                let iv = l::bits_i(l::from_lanes(idx.map(|x| f32::from_bits(x as u32))));
                let got = l::lanes(l::table16(iv, tv));
                assert_eq!(got, idx.map(|k| t[k as usize]), "{idx:?}");
            }
            // nibble_values (with and without a table), nibbles16, store_nibbles, pack16.
            let tab: [i8; 16] = core::array::from_fn(|i| (i as i8 - 8) * 3);
            let bytes: [u8; 16] = core::array::from_fn(|j| (j as u8).wrapping_mul(0x9D) ^ 0x5A);
            let f8 = |v: [l::F; 2]| -> Vec<f32> { v.iter().flat_map(|&x| l::lanes(x)).collect() };
            let lo_t: Vec<f32> = bytes
                .iter()
                .map(|b| f32::from(tab[usize::from(b & 15)]))
                .collect();
            let hi_t: Vec<f32> = bytes
                .iter()
                .map(|b| f32::from(tab[usize::from(b >> 4)]))
                .collect();
            let lo_n: Vec<f32> = bytes.iter().map(|b| f32::from(b & 15)).collect();
            let hi_n: Vec<f32> = bytes.iter().map(|b| f32::from(b >> 4)).collect();
            // SAFETY: 16 bytes readable.
            let ((lt, ht), (ln, hn)) = unsafe {
                (
                    l::nibble_values(bytes.as_ptr(), Some(&tab)),
                    l::nibble_values(bytes.as_ptr(), None),
                )
            };
            assert_eq!((f8(lt), f8(ht)), (lo_t.clone(), hi_t.clone()));
            assert_eq!((f8(ln), f8(hn)), (lo_n.clone(), hi_n.clone()));
            // SAFETY: 8 bytes readable.
            let n16 = unsafe { l::nibbles16(bytes.as_ptr(), &tab) };
            let want: Vec<f32> = lo_t[..8].iter().chain(&hi_t[..8]).copied().collect();
            assert_eq!(f8(n16), want);
            let codes = |v: &[f32]| l::cvt(l::from_lanes(core::array::from_fn(|i| v[i])));
            let (lo, hi) = (codes(&lo_n[..8]), codes(&hi_n[..8]));
            let mut back = [0u8; 8];
            // SAFETY: 8 bytes writable.
            unsafe { l::store_nibbles(lo, hi, back.as_mut_ptr()) };
            assert_eq!(back, bytes[..8]);
            let packed = u64::from_le_bytes(core::array::from_fn(|j| bytes[j]));
            assert_eq!(l::pack16([lo, hi]), packed);
        }
        // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
        unsafe { run() }
    }
}
