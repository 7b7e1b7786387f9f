//! The x86-64 lane primitives of the kernels written once in `kernels::simd` (`multi_block`, ...): for AVX2 (8 lanes) and
//! AVX-512 (16 lanes), modules with the same names and meanings (`L` lanes; `F` floats, `I`
//! 32-bit integers, `M` a comparison's lanes, `Block` a block of 32 floats as `32 / L`
//! vectors). A kernel is written once, as a macro expanded inside each of these modules'
//! users, where every function is `#[target_feature]` with the level's features, so the
//! primitives (`#[inline]`, same features) and their intrinsics inline into it. Operations
//! whose best form differs by ISA (the transposing reduction, packing, MXFP4 codes and scale
//! bytes, fp16 conversion, division-free int4 codes with FMA) have one implementation each;
//! the rest are the same IEEE operation at every width.
//!
//! The primitives that take no pointer are safe: a `#[target_feature]` function can only be
//! called from code with the same features (or through `unsafe`, whose caller checked them).
//!
//! Shared meanings: `min_f(a, b)` is `a < b ? a : b` and `max_f(a, b)` is `a > b ? a : b`
//! (so `b` if either is NaN), as the instructions; `neg` flips the sign; `round_even` rounds to
//! nearest, ties to even, whatever MXCSR says; `cvtt` truncates (0x8000_0000 for NaN, ±Inf and
//! out-of-range values); `cvt` converts exact small integers; `abs_bits` is |x| as integer bits
//! (for finite x ordered as the magnitudes); `max_u` is unsigned, `gt_i` signed; `bits` puts
//! lane i of a mask in bit i; `select(m, a, b)` is `m ? a : b`. `reduce(m, op)` puts in lane b
//! the combination of all lanes of `m[b]` by `op` (associative and commutative on the lanes'
//! bits: min, max), through a transposing tree. `to_f16` gives the fp16 encodings of finite
//! floats, rounded to nearest even (`vcvtps2ph`, equal to `fp16::f32_to_f16` for every finite
//! input: tested over all binary16 rounding boundaries), or `None` if any is infinite (an
//! overflow). `pack_ggml` packs a block's 32 codes (int32 lanes c, 0..=16 or 0x8000_0000: the
//! code is `min(c, 15)`, and 0 for 0x8000_0000, its low byte) as ggml does (byte j = code j |
//! code (j + 16) << 4);
//! `pack_pairs` packs codes -8..=7 two per byte, the first in the low nibble (int4).
//! `scale_bytes` is `mxfp4::scale_byte` of finite magnitudes (as bits); `mxfp4_block` a
//! block's MXFP4 codes for scale byte `e` and `k = 129 - e` (2/d = 2^k; proof at
//! `avx512_blocks::mxfp4_codes`), packed;
//! `group_codes` is `clamp(rne(x / scale) + zp, -8, 7)` for a group's own elements, with
//! `r = 1 / scale` where `fast` (`avx512::fast_scale`) allows a division-free quotient.

/// Defines primitives that are one expression each, with the module's features.
macro_rules! ops {
    ($features:literal; $($name:ident($($a:ident: $t:ty),*) -> $r:ty = $e:expr;)*) => {$(
        #[inline]
        #[target_feature(enable = $features)]
        pub(crate) fn $name($($a: $t),*) -> $r {
            $e
        }
    )*};
}

/// For c = 0..31, how many of the MXFP4 midpoints [1, 3, 5, 7, 10, 14, 20] (in units of d/2)
/// are below c: the code of a magnitude whose `ceil(2|x|/d)` is c.
pub(super) const MXFP4_LUT: [i32; 32] = {
    let (mut t, mut c) = ([0i32; 32], 0);
    while c < 32 {
        let (mut i, mids) = (0, [1, 3, 5, 7, 10, 14, 20]);
        while i < 7 {
            t[c] += (mids[i] < c as i32) as i32;
            i += 1;
        }
        c += 1;
    }
    t
};

/// AVX2 (with F16C): 8 lanes.
pub(crate) mod avx2 {
    use core::arch::x86_64::*;

    pub(crate) use super::super::avx2::{prefetch, AHEAD};
    pub(crate) use super::super::avx512::fast_scale;

    pub(crate) const L: usize = 8;
    pub(crate) type F = __m256;
    pub(crate) type I = __m256i;
    pub(crate) type M = __m256;
    pub(crate) type Block = [__m256; 4];
    /// 16 packed code bytes.
    pub(crate) type Bytes16 = __m128i;

    /// Safety: 16 writable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn store_bytes16(v: Bytes16, p: *mut u8) {
        // SAFETY: the caller passes 16 writable bytes.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }

    /// Safety: 32 readable floats at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn load_block(p: *const f32) -> Block {
        // SAFETY: the caller passes 32 readable floats.
        unsafe {
            [
                _mm256_loadu_ps(p),
                _mm256_loadu_ps(p.add(8)),
                _mm256_loadu_ps(p.add(16)),
                _mm256_loadu_ps(p.add(24)),
            ]
        }
    }

    /// Safety: 8 writable floats at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn store(v: F, p: *mut f32) {
        // SAFETY: the caller passes 8 writable floats.
        unsafe { _mm256_storeu_ps(p, v) }
    }

    /// The low bytes of 8 lanes, each in -128..=127. Safety: 8 writable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn store_i8(v: I, p: *mut i8) {
        // The packs keep -128..=127; the permute brings the two halves' 4 bytes together.
        let w = _mm256_packs_epi32(v, v);
        let b = _mm256_packs_epi16(w, w);
        let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
        // SAFETY: the caller passes 8 writable bytes.
        unsafe { _mm_storel_epi64(p.cast(), _mm256_castsi256_si128(b)) }
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn from_lanes(a: [f32; L]) -> F {
        // SAFETY: an 8-element array.
        unsafe { _mm256_loadu_ps(a.as_ptr()) }
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn lanes(v: F) -> [f32; L] {
        let mut a = [0.0f32; L];
        // SAFETY: an 8-element array.
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
        a
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn lanes_i(v: I) -> [i32; L] {
        let mut a = [0i32; L];
        // SAFETY: an 8-element array.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
        a
    }

    ops! { "avx2,f16c";
        splat(x: f32) -> F = _mm256_set1_ps(x);
        splat_i(x: i32) -> I = _mm256_set1_epi32(x);
        sub_i(a: I, b: I) -> I = _mm256_sub_epi32(a, b);
        cvt_f(a: I) -> F = _mm256_cvtepi32_ps(a);
        bits_f(v: I) -> F = _mm256_castsi256_ps(v);
        bits_i(v: F) -> I = _mm256_castps_si256(v);
        add(a: F, b: F) -> F = _mm256_add_ps(a, b);
        sub(a: F, b: F) -> F = _mm256_sub_ps(a, b);
        mul(a: F, b: F) -> F = _mm256_mul_ps(a, b);
        div(a: F, b: F) -> F = _mm256_div_ps(a, b);
        min_f(a: F, b: F) -> F = _mm256_min_ps(a, b);
        max_f(a: F, b: F) -> F = _mm256_max_ps(a, b);
        neg(a: F) -> F = _mm256_xor_ps(a, _mm256_set1_ps(-0.0));
        round_even(a: F) -> F = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a);
        cvtt(a: F) -> I = _mm256_cvttps_epi32(a);
        cvt(a: F) -> I = _mm256_cvtps_epi32(a);
        abs_bits(a: F) -> I = _mm256_and_si256(_mm256_castps_si256(a), _mm256_set1_epi32(0x7FFF_FFFF));
        max_u(a: I, b: I) -> I = _mm256_max_epu32(a, b);
        gt(a: F, b: F) -> M = _mm256_cmp_ps::<_CMP_GT_OQ>(a, b);
        eq(a: F, b: F) -> M = _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b);
        unord(a: F, b: F) -> M = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
        gt_i(a: I, b: I) -> M = _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b));
        eq_i(a: I, b: I) -> M = _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b));
        or_m(a: M, b: M) -> M = _mm256_or_ps(a, b);
        bits(m: M) -> u32 = _mm256_movemask_ps(m) as u32;
        select(m: M, a: F, b: F) -> F = _mm256_blendv_ps(b, a, m);
        scale_bytes(amax: I) -> I = scale_bytes8(amax);
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn reduce(m: [F; L], op: impl Fn(F, F) -> F) -> F {
        // Level 1: the low halves of a pair with the high halves: block 2k in the low 128
        // bits, block 2k + 1 in the high ones.
        let r1: [F; 4] = core::array::from_fn(|k| {
            let (a, b) = (m[2 * k], m[2 * k + 1]);
            op(
                _mm256_permute2f128_ps::<0x20>(a, b),
                _mm256_permute2f128_ps::<0x31>(a, b),
            )
        });
        // Level 2: within each half, [a.l0, a.l1, b.l0, b.l1] with [a.l2, a.l3, b.l2, b.l3].
        let r2: [F; 2] = core::array::from_fn(|k| {
            let (a, b) = (_mm256_castps_pd(r1[2 * k]), _mm256_castps_pd(r1[2 * k + 1]));
            op(
                _mm256_castpd_ps(_mm256_unpacklo_pd(a, b)),
                _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)),
            )
        });
        // Level 3: within each half, [a.l0, a.l2, b.l0, b.l2] with [a.l1, a.l3, b.l1, b.l3].
        let (a, b) = (r2[0], r2[1]);
        let r3 = op(
            _mm256_shuffle_ps::<0b10_00_10_00>(a, b),
            _mm256_shuffle_ps::<0b11_01_11_01>(a, b),
        );
        // Lanes now hold blocks [0, 2, 4, 6, 1, 3, 5, 7].
        _mm256_permutevar8x32_ps(r3, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn to_f16(v: F) -> Option<[u16; L]> {
        let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
        let e = _mm_set1_epi16(0x7C00);
        let bad = _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, e), e));
        let mut a = [0u16; L];
        // SAFETY: an 8-element array.
        unsafe { _mm_storeu_si128(a.as_mut_ptr().cast(), h) };
        (bad == 0).then_some(a)
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn pack_ggml(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
        let c = [code(x[0]), code(x[1]), code(x[2]), code(x[3])];
        // The saturating packs keep 0..=16 and turn 0x8000_0000 into 0 (its low byte); one
        // byte minimum for all 32 codes; the permute restores element order; codes below 16
        // shift within their bytes.
        let ab = _mm256_packs_epi32(c[0], c[1]);
        let cd = _mm256_packs_epi32(c[2], c[3]);
        let bytes = _mm256_min_epu8(_mm256_packus_epi16(ab, cd), _mm256_set1_epi8(15));
        let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        let lo = _mm256_castsi256_si128(bytes);
        let hi = _mm256_extracti128_si256::<1>(bytes);
        _mm_or_si128(lo, _mm_slli_epi16::<4>(hi))
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn pack_pairs(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
        let c = [code(x[0]), code(x[1]), code(x[2]), code(x[3])];
        // Bytes in element order (packs work within 128-bit lanes; the permute restores the
        // order), then each 16-bit pair becomes lo + 16 * hi.
        let ab = _mm256_packs_epi32(c[0], c[1]);
        let cd = _mm256_packs_epi32(c[2], c[3]);
        let bytes = _mm256_packs_epi16(ab, cd);
        let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        super::super::avx2::pack32(bytes)
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn mxfp4_block(x: Block, e: u8, _k: f32) -> Bytes16 {
        // 2/d = 2^(129 - e), -124..=129: one exact power-of-two multiply up to 2^127 (the
        // largest normal power), two normal factors beyond (blocks below 2^-123).
        let pow2 = |k: i32| splat(f32::from_bits(((k + 127) as u32) << 23));
        let k = 129 - i32::from(e);
        let cap = splat(if e == 253 { 14.0 } else { 31.0 });
        let c = if k <= 127 {
            let s = pow2(k);
            x.map(|v| mxfp4_codes8(v, |m| mul(m, s), cap))
        } else {
            let (s1, s2) = (pow2(k >> 1), pow2(k - (k >> 1)));
            x.map(|v| mxfp4_codes8(v, |m| mul(mul(m, s1), s2), cap))
        };
        // Codes 0..=15 in bytes, in element order; then code 8 (a negative value of index 0:
        // the reference's entry 0, not 8) becomes 0 by one table lookup.
        let ab = _mm256_packs_epi32(c[0], c[1]);
        let cd = _mm256_packs_epi32(c[2], c[3]);
        let bytes = _mm256_packus_epi16(ab, cd);
        let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        let fix = _mm256_setr_epi8(
            0, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10,
            11, 12, 13, 14, 15,
        );
        let bytes = _mm256_shuffle_epi8(fix, bytes);
        let lo = _mm256_castsi256_si128(bytes);
        let hi = _mm256_extracti128_si256::<1>(bytes);
        _mm_or_si128(lo, _mm_slli_epi16::<4>(hi))
    }

    /// A true division (this level has no FMA for the division-free quotient).
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn group_codes(x: F, scale: F, _r: F, zp: F, _fast: bool) -> I {
        let q = add(round_even(div(x, scale)), zp);
        cvt(min_f(max_f(q, splat(-8.0)), splat(7.0)))
    }

    /// [`scale_bytes`] for 8 lanes: the steps of `avx512::scale_bytes16` (which see) with AVX2
    /// instructions. Every compared value is below 2^31, so signed comparisons are unsigned ones.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    fn scale_bytes8(amax: __m256i) -> __m256i {
        let one = _mm256_set1_epi32(1);
        let ebits = _mm256_srli_epi32::<23>(amax);
        let e = _mm256_sub_epi32(ebits, _mm256_set1_epi32(127));
        let k = _mm256_add_epi32(e, one);
        let next_power = _mm256_slli_epi32::<23>(_mm256_add_epi32(ebits, one));
        let a = _mm256_abs_epi32(k);
        let fa = _mm256_castps_si256(_mm256_cvtepi32_ps(a));
        let e2 = _mm256_sub_epi32(_mm256_srli_epi32::<23>(fa), _mm256_set1_epi32(127));
        let pow2 = _mm256_cmpeq_epi32(
            _mm256_and_si256(a, _mm256_sub_epi32(a, one)),
            _mm256_setzero_si256(),
        );
        let pos = _mm256_cmpgt_epi32(k, _mm256_setzero_si256());
        // j - 18 = 6 - e2 (+ 1 for positive powers of two); 0..=7 for k != 0.
        let j = _mm256_sub_epi32(_mm256_set1_epi32(6), e2);
        let j = _mm256_sub_epi32(j, _mm256_and_si256(pos, pow2));
        let table = _mm256_setr_epi32(44, 22, 11, 5, 2, 1, 0, 0);
        let cnt = _mm256_permutevar8x32_epi32(table, j);
        let k_zero = _mm256_cmpeq_epi32(k, _mm256_setzero_si256());
        let cnt = _mm256_andnot_si256(k_zero, cnt);
        // amax >= next_power - cnt
        let up = _mm256_cmpgt_epi32(
            amax,
            _mm256_sub_epi32(_mm256_sub_epi32(next_power, cnt), one),
        );
        let fl = _mm256_blendv_epi8(e, k, up);
        let byte = _mm256_add_epi32(fl, _mm256_set1_epi32(125));
        // amax < 2^-125 (zero included): byte 0.
        let tiny = _mm256_cmpgt_epi32(_mm256_set1_epi32((127 - 125) << 23), amax);
        _mm256_andnot_si256(tiny, byte)
    }

    /// With FMA as well (not part of the AVX2 level's requirements, so chosen at run time).
    pub(crate) mod fma {
        use super::*;

        /// [`super::group_codes`], without a division where `fast`: the correctly rounded
        /// quotient of `avx512::quotient16` (a reciprocal product and two fused corrections;
        /// the proof and the exhaustive test are there), for `|x| <= 32 scale`, which a
        /// group's own elements satisfy (`avx512::codes16_bounded`).
        #[inline]
        #[target_feature(enable = "avx2,f16c,fma")]
        pub(crate) fn group_codes(x: F, scale: F, r: F, zp: F, fast: bool) -> I {
            if !fast {
                return super::group_codes(x, scale, r, zp, fast);
            }
            let q0 = mul(x, r);
            let q1 = _mm256_fmadd_ps(_mm256_fnmadd_ps(q0, scale, x), r, q0);
            let q = _mm256_fmadd_ps(_mm256_fnmadd_ps(q1, scale, x), r, q1);
            let q = add(round_even(q), zp);
            cvt(min_f(max_f(q, splat(-8.0)), splat(7.0)))
        }
    }

    /// MXFP4 codes of 8 values (see `avx512_blocks::mxfp4_codes` for the proof), except that
    /// a negative value of index 0 gets 8 (`mxfp4_block` maps it to 0): `u = 2|x|/d` by exact
    /// power-of-two multiplies (`scale`; where a product underflows, u < 1 either way), then
    /// the count of [1, 3, 5, 7, 10, 14, 20] below `ceil(min(u, cap))` from two byte tables,
    /// plus 8 for a set sign bit.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    fn mxfp4_codes8(x: __m256, scale: impl Fn(__m256) -> __m256, cap: __m256) -> __m256i {
        // `MXFP4_LUT` as bytes (tested); each 128-bit lane holds the same 16 entries.
        let lo = _mm256_setr_epi8(
            0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5,
            5, 5, 6,
        );
        let hi = _mm256_setr_epi8(
            6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7,
            7, 7, 7,
        );
        let bits = _mm256_castps_si256(x);
        let m = _mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32(0x7FFF_FFFF)));
        let u = _mm256_min_ps(scale(m), cap);
        let c = _mm256_cvtps_epi32(_mm256_round_ps::<
            { _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC },
        >(u));
        // Byte 0 of each lane (c <= 31) indexes the tables; bytes 1..3 of c and of c << 3 are
        // 0, so they take entry 0 of the first table, 0. Bit 4 of c (c >= 16) selects the
        // second table: moved to bit 7 of byte 0.
        let (l, h) = (_mm256_shuffle_epi8(lo, c), _mm256_shuffle_epi8(hi, c));
        let idx = _mm256_blendv_epi8(l, h, _mm256_slli_epi32::<3>(c));
        let sign = _mm256_and_si256(_mm256_srli_epi32::<28>(bits), _mm256_set1_epi32(8));
        _mm256_or_si256(idx, sign)
    }

    // Primitives of simd::superblocks.
    //
    // Meanings (the same in every lanes module):
    // load(p): L floats at p. gather32(p): lane b is p[32 b].
    // sqrt: the correctly rounded square root. and_m: both masks. add_i: wrapping int32 sum.
    // inc_if(m, a): m ? a + 1 : a. add_if(m, a, b): m ? a + b : a.
    // shl_i::<N>, shr_i::<N>: logical shifts of the int32 lanes.
    // code15(v): clamp(nearest_int(v), 0, 15) as a float, ggml's nearest_int (0 for NaN).
    // table16(i, t): entry i (0..16) of the 16 floats held by t's 16 / L vectors.
    // nibble_values(p, t): the 16 bytes at p as floats t[b & 15], then t[b >> 4] (the
    //   nibbles themselves for None), each in element order over 16 / L vectors.
    // store_nibbles(lo, hi, p): the L bytes lo | hi << 4 (lanes 0..=15) at p.
    // nibbles16(p, t): the 8 bytes at p as 16 floats: t[b & 15] of each byte, then t[b >> 4].
    // pack16(c): 16 codes 0..=15 (element order over 16 / L vectors) as 8 bytes (a
    //   little-endian u64), byte j = c[j] | c[j + 8] << 4.

    /// `L` floats. Safety: `L` readable floats at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn load(p: *const f32) -> F {
        // SAFETY: the caller passes 8 readable floats.
        unsafe { _mm256_loadu_ps(p) }
    }

    /// Lane b: `p[32 b]`. Safety: `p[32 b]` readable for every b < `L`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn gather32(p: *const f32) -> F {
        let at = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
        // SAFETY: the caller passes p[32 b] for b < 8.
        unsafe { _mm256_i32gather_ps::<4>(p, at) }
    }

    ops! { "avx2,f16c";
        sqrt(a: F) -> F = _mm256_sqrt_ps(a);
        and_m(a: M, b: M) -> M = _mm256_and_ps(a, b);
        add_i(a: I, b: I) -> I = _mm256_add_epi32(a, b);
        inc_if(m: M, a: I) -> I = _mm256_sub_epi32(a, _mm256_castps_si256(m));
        add_if(m: M, a: I, b: I) -> I = _mm256_add_epi32(a, _mm256_and_si256(_mm256_castps_si256(m), b));
    }

    /// Logical `a << N`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn shl_i<const N: i32>(a: I) -> I {
        _mm256_slli_epi32::<N>(a)
    }

    /// Logical `a >> N`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn shr_i<const N: i32>(a: I) -> I {
        _mm256_srli_epi32::<N>(a)
    }

    /// `avx512::code15` (which see for the proof) with AVX2 instructions.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn code15(v: F) -> F {
        use super::avx512::MAGIC;
        let ord = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
        let t = _mm256_castps_si256(add(v, splat(MAGIC)));
        let low = _mm256_and_si256(_mm256_and_si256(t, _mm256_set1_epi32(0x007F_FFFF)), ord);
        let f = _mm256_or_si256(low, _mm256_set1_epi32(0x4B00_0000));
        let n = sub(_mm256_castsi256_ps(f), splat(MAGIC));
        min_f(max_f(n, splat(0.0)), splat(15.0))
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn table16(i: I, t: [F; 16 / L]) -> F {
        // Bit 3 of the index, moved into the sign bit, chooses the upper 8 entries.
        let upper = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(i));
        _mm256_blendv_ps(
            _mm256_permutevar8x32_ps(t[0], i),
            _mm256_permutevar8x32_ps(t[1], i),
            upper,
        )
    }

    /// Safety: 16 readable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn nibble_values(
        p: *const u8,
        t: Option<&[i8; 16]>,
    ) -> ([F; 16 / L], [F; 16 / L]) {
        let Some(t) = t else {
            // The nibbles themselves: 8 bytes widened at a time, no table.
            // SAFETY: the caller passes 16 readable bytes.
            let q =
                unsafe { [0, 8].map(|k| _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(k).cast()))) };
            let nib = _mm256_set1_epi32(0x0F);
            return (
                q.map(|q| cvt_f(_mm256_and_si256(q, nib))),
                q.map(|q| cvt_f(_mm256_srli_epi32::<4>(q))),
            );
        };
        // SAFETY: the caller passes 16 readable bytes; `t` holds 16.
        let (q, tab) = unsafe {
            (
                _mm_loadu_si128(p.cast()),
                _mm_loadu_si128(t.as_ptr().cast()),
            )
        };
        let nib = _mm_set1_epi8(0x0F);
        let lo = _mm_shuffle_epi8(tab, _mm_and_si128(q, nib));
        let hi = _mm_shuffle_epi8(tab, _mm_and_si128(_mm_srli_epi16::<4>(q), nib));
        let f = |b: __m128i| {
            [
                cvt_f(_mm256_cvtepi8_epi32(b)),
                cvt_f(_mm256_cvtepi8_epi32(_mm_srli_si128::<8>(b))),
            ]
        };
        (f(lo), f(hi))
    }

    /// Safety: `L` writable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn store_nibbles(lo: I, hi: I, p: *mut u8) {
        let b = _mm256_or_si256(lo, _mm256_slli_epi32::<4>(hi));
        let w = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
        // SAFETY: the caller passes 8 writable bytes.
        unsafe { _mm_storel_epi64(p.cast(), _mm_packus_epi16(w, w)) }
    }

    /// Safety: 8 readable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn nibbles16(p: *const u8, t: &[i8; 16]) -> [F; 16 / L] {
        // SAFETY: the caller passes 8 readable bytes; `t` holds 16.
        let (q, tab) = unsafe {
            (
                _mm_loadl_epi64(p.cast()),
                _mm_loadu_si128(t.as_ptr().cast()),
            )
        };
        let nib = _mm_set1_epi8(0x0F);
        let k = _mm_unpacklo_epi64(
            _mm_and_si128(q, nib),
            _mm_and_si128(_mm_srli_epi16::<4>(q), nib),
        );
        let k = _mm_shuffle_epi8(tab, k);
        [
            cvt_f(_mm256_cvtepi8_epi32(k)),
            cvt_f(_mm256_cvtepi8_epi32(_mm_srli_si128::<8>(k))),
        ]
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) fn pack16(c: [I; 16 / L]) -> u64 {
        let b = _mm256_or_si256(c[0], _mm256_slli_epi32::<4>(c[1]));
        let w = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
        _mm_cvtsi128_si64(_mm_packus_epi16(w, w)) as u64
    }
}

/// AVX-512 (F, BW, DQ, VL): 16 lanes.
pub(crate) mod avx512 {
    use core::arch::x86_64::*;

    pub(crate) use super::super::avx2::{prefetch, AHEAD};
    pub(crate) use super::super::avx512::fast_scale;

    pub(crate) const L: usize = 16;
    pub(crate) type F = __m512;
    pub(crate) type I = __m512i;
    pub(crate) type M = __mmask16;
    pub(crate) type Block = [__m512; 2];
    /// 16 packed code bytes.
    pub(crate) type Bytes16 = __m128i;

    /// Safety: 16 writable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn store_bytes16(v: Bytes16, p: *mut u8) {
        // SAFETY: the caller passes 16 writable bytes.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }

    /// Safety: 32 readable floats at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn load_block(p: *const f32) -> Block {
        // SAFETY: the caller passes 32 readable floats.
        unsafe { [_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16))] }
    }

    /// Safety: 16 writable floats at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn store(v: F, p: *mut f32) {
        // SAFETY: the caller passes 16 writable floats.
        unsafe { _mm512_storeu_ps(p, v) }
    }

    /// The low bytes of 16 lanes. Safety: 16 writable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn store_i8(v: I, p: *mut i8) {
        // SAFETY: the caller passes 16 writable bytes.
        unsafe { _mm_storeu_si128(p.cast(), _mm512_cvtepi32_epi8(v)) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn from_lanes(a: [f32; L]) -> F {
        // SAFETY: a 16-element array.
        unsafe { _mm512_loadu_ps(a.as_ptr()) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn lanes(v: F) -> [f32; L] {
        let mut a = [0.0f32; L];
        // SAFETY: a 16-element array.
        unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
        a
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn lanes_i(v: I) -> [i32; L] {
        let mut a = [0i32; L];
        // SAFETY: a 16-element array.
        unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
        a
    }

    ops! { "avx512f,avx512bw,avx512dq,avx512vl";
        splat(x: f32) -> F = _mm512_set1_ps(x);
        splat_i(x: i32) -> I = _mm512_set1_epi32(x);
        sub_i(a: I, b: I) -> I = _mm512_sub_epi32(a, b);
        cvt_f(a: I) -> F = _mm512_cvtepi32_ps(a);
        bits_f(v: I) -> F = _mm512_castsi512_ps(v);
        bits_i(v: F) -> I = _mm512_castps_si512(v);
        add(a: F, b: F) -> F = _mm512_add_ps(a, b);
        sub(a: F, b: F) -> F = _mm512_sub_ps(a, b);
        mul(a: F, b: F) -> F = _mm512_mul_ps(a, b);
        div(a: F, b: F) -> F = _mm512_div_ps(a, b);
        min_f(a: F, b: F) -> F = _mm512_min_ps(a, b);
        max_f(a: F, b: F) -> F = _mm512_max_ps(a, b);
        neg(a: F) -> F = _mm512_xor_ps(a, _mm512_set1_ps(-0.0));
        round_even(a: F) -> F = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a);
        cvtt(a: F) -> I = _mm512_cvttps_epi32(a);
        cvt(a: F) -> I = _mm512_cvtps_epi32(a);
        abs_bits(a: F) -> I = _mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFF_FFFF));
        max_u(a: I, b: I) -> I = _mm512_max_epu32(a, b);
        gt(a: F, b: F) -> M = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b);
        eq(a: F, b: F) -> M = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b);
        unord(a: F, b: F) -> M = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
        gt_i(a: I, b: I) -> M = _mm512_cmpgt_epi32_mask(a, b);
        eq_i(a: I, b: I) -> M = _mm512_cmpeq_epi32_mask(a, b);
        or_m(a: M, b: M) -> M = a | b;
        bits(m: M) -> u32 = u32::from(m);
        select(m: M, a: F, b: F) -> F = _mm512_mask_mov_ps(b, m, a);
        scale_bytes(amax: I) -> I = scale_bytes16(amax);
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn reduce(m: [F; L], op: impl Fn(F, F) -> F) -> F {
        let op =
            |a: I, b: I| _mm512_castps_si512(op(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b)));
        let mut bits = [_mm512_setzero_si512(); L];
        for (b, v) in bits.iter_mut().zip(m) {
            *b = _mm512_castps_si512(v);
        }
        _mm512_castsi512_ps(reduce16(bits, op))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn to_f16(v: F) -> Option<[u16; L]> {
        let h = to_f16_bits(v);
        let e = _mm256_set1_epi16(0x7C00);
        let bad = _mm256_cmpeq_epi16_mask(_mm256_and_si256(h, e), e);
        let mut a = [0u16; L];
        // SAFETY: a 16-element array.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), h) };
        (bad == 0).then_some(a)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn pack_ggml(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
        let m = _mm512_set1_epi32(15);
        let (lo, hi) = (
            _mm512_min_epi32(code(x[0]), m),
            _mm512_min_epi32(code(x[1]), m),
        );
        // The truncation keeps each lane's low byte.
        _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn pack_pairs(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
        let (even, odd) = super::super::avx512_blocks::even_odd(code(x[0]), code(x[1]));
        let nib = _mm512_set1_epi32(0x0F);
        let bytes = _mm512_or_si512(
            _mm512_and_si512(even, nib),
            _mm512_slli_epi32::<4>(_mm512_and_si512(odd, nib)),
        );
        _mm512_cvtepi32_epi8(bytes)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn mxfp4_block(x: Block, e: u8, k: f32) -> Bytes16 {
        use super::super::avx512_blocks::mxfp4_codes;
        let scale2 = splat(k);
        let cap = splat(if e == 253 { 14.0 } else { 31.0 });
        // SAFETY: a 32-element array.
        let (lut_lo, lut_hi) = unsafe {
            (
                _mm512_loadu_si512(super::MXFP4_LUT.as_ptr().cast()),
                _mm512_loadu_si512(super::MXFP4_LUT.as_ptr().add(16).cast()),
            )
        };
        let (lo, hi) = (
            mxfp4_codes(x[0], scale2, cap, lut_lo, lut_hi),
            mxfp4_codes(x[1], scale2, cap, lut_lo, lut_hi),
        );
        // Codes 0..=15: `pack_ggml` without its minimum (which would cost 2 of the loop's 20
        // instructions here).
        _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)))
    }

    /// The division-free quotient (FMA) where `fast`, else a true division.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn group_codes(x: F, scale: F, r: F, zp: F, fast: bool) -> I {
        if fast {
            super::super::avx512::codes16_bounded(x, scale, r, zp)
        } else {
            super::super::avx512_blocks::codes16(x, scale, zp)
        }
    }

    /// Reduces 16 vectors to one: lane b of the result combines all lanes of `m[b]` with `op`
    /// (associative and commutative: max, min). Four levels pair the halves, quarters, pairs and
    /// single lanes of two inputs at a time (each step combines partial results of one block only),
    /// then a permutation puts block b in lane b.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    fn reduce16(m: [__m512i; 16], op: impl Fn(__m512i, __m512i) -> __m512i) -> __m512i {
        // Level 1: [a.q0, a.q1, b.q0, b.q1] with [a.q2, a.q3, b.q2, b.q3]: blocks 2k, 2k+1 in halves.
        let r1: [__m512i; 8] = core::array::from_fn(|k| {
            let (a, b) = (m[2 * k], m[2 * k + 1]);
            op(
                _mm512_shuffle_i32x4::<0x44>(a, b),
                _mm512_shuffle_i32x4::<0xEE>(a, b),
            )
        });
        // Level 2: [a.q0, a.q2, b.q0, b.q2] with [a.q1, a.q3, b.q1, b.q3]: blocks 4k..4k+3 in quarters.
        let r2: [__m512i; 4] = core::array::from_fn(|k| {
            let (a, b) = (r1[2 * k], r1[2 * k + 1]);
            op(
                _mm512_shuffle_i32x4::<0x88>(a, b),
                _mm512_shuffle_i32x4::<0xDD>(a, b),
            )
        });
        // Level 3: within each quarter, [a.l0, a.l1, b.l0, b.l1] with [a.l2, a.l3, b.l2, b.l3].
        let r3: [__m512i; 2] = core::array::from_fn(|k| {
            let (a, b) = (r2[2 * k], r2[2 * k + 1]);
            op(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
        });
        // Level 4: within each quarter, [a.l0, a.l2, b.l0, b.l2] with [a.l1, a.l3, b.l1, b.l3].
        let (a, b) = (_mm512_castsi512_ps(r3[0]), _mm512_castsi512_ps(r3[1]));
        let r4 = op(
            _mm512_castps_si512(_mm512_shuffle_ps::<0b10_00_10_00>(a, b)),
            _mm512_castps_si512(_mm512_shuffle_ps::<0b11_01_11_01>(a, b)),
        );
        // Lane 4q + r now holds block 4r + q.
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm512_permutexvar_epi32(order, r4)
    }

    /// The fp16 encodings of 16 floats, rounded to nearest even: `vcvtps2ph` equals
    /// `fp16::f32_to_f16` for every finite input (including overflow to infinity at 65520 and
    /// subnormal results; tested over all binary16 rounding boundaries), and our inputs are finite.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn to_f16_bits(v: __m512) -> __m256i {
        _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v)
    }

    /// `mxfp4::scale_byte` of 16 finite magnitudes (as bits), lane by lane, with the same integer
    /// steps: `floor(log2f(amax))` is the exponent of amax, plus one when amax is among the
    /// `floats_rounding_up_to(k)` floats just below 2^k, k = exponent + 1; that count is 0 for
    /// k = 0 and otherwise depends on j = 24 - floor(log2 |k|) (25 - for positive powers of two).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    fn scale_bytes16(amax: __m512i) -> __m512i {
        let one = _mm512_set1_epi32(1);
        let ebits = _mm512_srli_epi32::<23>(amax);
        let e = _mm512_sub_epi32(ebits, _mm512_set1_epi32(127));
        let k = _mm512_add_epi32(e, one);
        let next_power = _mm512_slli_epi32::<23>(_mm512_add_epi32(ebits, one));
        let a = _mm512_abs_epi32(k);
        // floor(log2 a) from the exponent of a as a float (exact: a <= 128).
        let fa = _mm512_castps_si512(_mm512_cvtepi32_ps(a));
        let e2 = _mm512_sub_epi32(_mm512_srli_epi32::<23>(fa), _mm512_set1_epi32(127));
        let pow2 = _mm512_testn_epi32_mask(a, _mm512_sub_epi32(a, one));
        let pos = _mm512_cmpgt_epi32_mask(k, _mm512_setzero_si512());
        let j = _mm512_sub_epi32(_mm512_set1_epi32(24), e2);
        let j = _mm512_mask_add_epi32(j, pos & pow2, j, one);
        // Counts by j - 16 (j is 18..=25 for k != 0; see `mxfp4::floats_rounding_up_to`).
        let table = _mm512_setr_epi32(0, 0, 44, 22, 11, 5, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        let cnt = _mm512_permutexvar_epi32(_mm512_sub_epi32(j, _mm512_set1_epi32(16)), table);
        let k_zero = _mm512_cmpeq_epi32_mask(k, _mm512_setzero_si512());
        let cnt = _mm512_mask_mov_epi32(cnt, k_zero, _mm512_setzero_si512());
        let up = _mm512_cmpge_epu32_mask(amax, _mm512_sub_epi32(next_power, cnt));
        let fl = _mm512_mask_mov_epi32(e, up, k);
        let byte = _mm512_add_epi32(fl, _mm512_set1_epi32(125));
        // amax < 2^-125 (zero included): byte 0.
        let tiny = _mm512_cmplt_epu32_mask(amax, _mm512_set1_epi32((127 - 125) << 23));
        _mm512_maskz_mov_epi32(!tiny, byte)
    }

    // Primitives of simd::superblocks (meanings: see the list in `avx2`).

    /// `L` floats. Safety: `L` readable floats at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn load(p: *const f32) -> F {
        // SAFETY: the caller passes 16 readable floats.
        unsafe { _mm512_loadu_ps(p) }
    }

    /// Lane b: `p[32 b]`. Safety: `p[32 b]` readable for every b < `L`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn gather32(p: *const f32) -> F {
        let at = _mm512_setr_epi32(
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 480,
        );
        // SAFETY: the caller passes p[32 b] for b < 16.
        unsafe { _mm512_i32gather_ps::<4>(at, p.cast()) }
    }

    ops! { "avx512f,avx512bw,avx512dq,avx512vl";
        sqrt(a: F) -> F = _mm512_sqrt_ps(a);
        and_m(a: M, b: M) -> M = a & b;
        add_i(a: I, b: I) -> I = _mm512_add_epi32(a, b);
        inc_if(m: M, a: I) -> I = _mm512_mask_add_epi32(a, m, a, _mm512_set1_epi32(1));
        add_if(m: M, a: I, b: I) -> I = _mm512_mask_add_epi32(a, m, a, b);
    }

    /// Logical `a << N`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn shl_i<const N: u32>(a: I) -> I {
        _mm512_slli_epi32::<N>(a)
    }

    /// Logical `a >> N`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn shr_i<const N: u32>(a: I) -> I {
        _mm512_srli_epi32::<N>(a)
    }

    /// 1.5 * 2^23, ggml's `nearest_int` constant.
    pub(crate) const MAGIC: f32 = 12_582_912.0;

    /// `clamp(nearest_int(v), 0, 15)` as a float, ggml's `nearest_int` being the low 23 bits of
    /// `fl(v + 1.5 * 2^23)` minus 2^22 (0 for NaN).
    ///
    /// Proof. OR-ing the low 23 bits of the sum into the exponent of 2^23 gives the float
    /// `2^23 + low` exactly; subtracting 1.5 * 2^23 gives `low - 2^22` exactly (an integer of
    /// magnitude at most 2^22); the float clamp to [0, 15] is the integer clamp. NaN lanes get
    /// `low = 0`, i.e. -2^22, clamped to 0 as the reference's 0 is.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn code15(v: F) -> F {
        let ord = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(v, v);
        let t = _mm512_castps_si512(add(v, splat(MAGIC)));
        // (t & 0x7FFFFF) | 0x4B000000 (bits of 2^23), zero in NaN lanes.
        let f = _mm512_maskz_ternarylogic_epi32::<0xEA>(
            ord,
            t,
            _mm512_set1_epi32(0x007F_FFFF),
            _mm512_set1_epi32(0x4B00_0000),
        );
        let n = sub(_mm512_castsi512_ps(f), splat(MAGIC));
        min_f(max_f(n, splat(0.0)), splat(15.0))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn table16(i: I, t: [F; 16 / L]) -> F {
        _mm512_permutexvar_ps(i, t[0])
    }

    /// Safety: 16 readable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn nibble_values(
        p: *const u8,
        t: Option<&[i8; 16]>,
    ) -> ([F; 16 / L], [F; 16 / L]) {
        const NIBBLES: [i8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let t = t.unwrap_or(&NIBBLES);
        // SAFETY: the caller passes 16 readable bytes; `t` holds 16.
        let (q, tab) = unsafe {
            (
                _mm_loadu_si128(p.cast()),
                _mm_loadu_si128(t.as_ptr().cast()),
            )
        };
        let tab = cvt_f(_mm512_cvtepi8_epi32(tab));
        // The permutation reads the low 4 bits of each index: the low nibble needs no mask.
        let q = _mm512_cvtepu8_epi32(q);
        (
            [_mm512_permutexvar_ps(q, tab)],
            [_mm512_permutexvar_ps(_mm512_srli_epi32::<4>(q), tab)],
        )
    }

    /// Safety: `L` writable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn store_nibbles(lo: I, hi: I, p: *mut u8) {
        let b = _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)));
        // SAFETY: the caller passes 16 writable bytes.
        unsafe { _mm_storeu_si128(p.cast(), b) }
    }

    /// Safety: 8 readable bytes at `p`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) unsafe fn nibbles16(p: *const u8, t: &[i8; 16]) -> [F; 16 / L] {
        // SAFETY: the caller passes 8 readable bytes; `t` holds 16.
        let (q, tab) = unsafe {
            (
                _mm_loadl_epi64(p.cast()),
                _mm_loadu_si128(t.as_ptr().cast()),
            )
        };
        let tab = cvt_f(_mm512_cvtepi8_epi32(tab));
        // The 8 bytes in lanes 0..8 and again in 8..16, shifted by 0 and by 4; the permutation
        // reads the low 4 bits of each index.
        let q = _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(q, q));
        let by = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
        [_mm512_permutexvar_ps(_mm512_srlv_epi32(q, by), tab)]
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(crate) fn pack16(c: [I; 16 / L]) -> u64 {
        // Codes below 16: the 16-bit shift keeps each nibble in its byte.
        let b = _mm512_cvtepi32_epi8(c[0]);
        _mm_cvtsi128_si64(_mm_or_si128(b, _mm_slli_epi16::<4>(_mm_srli_si128::<8>(b)))) as u64
    }
}

#[cfg(test)]
mod tests {
    use crate::reference::formats::fp16::f32_to_f16;
    use crate::reference::formats::mxfp4;

    /// Runs `f` with AVX2 lanes and with AVX-512 lanes, where the CPU has them.
    macro_rules! each_level {
        (|$l:ident $(, $a:ident: $t:ty)?| $body:block) => {{
            if super::super::avx2::available() {
                use super::avx2 as $l;
                #[target_feature(enable = "avx2,f16c")]
                fn run($($a: $t)?) $body
                // SAFETY: AVX2 and F16C are available.
                unsafe { run($($a)?) };
            }
            if super::super::avx512::available() {
                use super::avx512 as $l;
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
                fn run($($a: $t)?) $body
                // SAFETY: AVX-512 is available.
                unsafe { run($($a)?) };
            }
        }};
    }

    #[test]
    fn reduce_puts_block_b_in_lane_b() {
        each_level!(|l| {
            // Vector b holds distinct values whose maximum and minimum sit in different lanes
            // for every b (and the order of blocks and lanes is visible in the result).
            let vals = |b: usize, i: usize| ((b * 37 + i * 11) % 97) as f32 - 40.0 + b as f32;
            let m: [l::F; l::L] =
                core::array::from_fn(|b| l::from_lanes(core::array::from_fn(|i| vals(b, i))));
            let max = l::lanes(l::reduce(m, |a, b| l::max_f(a, b)));
            let min = l::lanes(l::reduce(m, |a, b| l::min_f(a, b)));
            for b in 0..l::L {
                let v: Vec<f32> = (0..l::L).map(|i| vals(b, i)).collect();
                assert_eq!(
                    max[b],
                    v.iter().copied().fold(f32::MIN, f32::max),
                    "{}",
                    l::L
                );
                assert_eq!(
                    min[b],
                    v.iter().copied().fold(f32::MAX, f32::min),
                    "{}",
                    l::L
                );
            }
        });
    }

    #[test]
    fn scale_bytes_match_the_reference_near_every_power_of_two() {
        let mut amax: Vec<u32> = vec![0, 1, 0x0020_0000, 0x7F7F_FFFF];
        for k in -127i32..=128 {
            let p = ((k + 127).max(0) as u32) << 23;
            for d in 0..100u32 {
                amax.push(p.saturating_sub(d).min(0x7F7F_FFFF));
                amax.push((p + d).min(0x7F7F_FFFF));
            }
        }
        let amax = &amax[..];
        each_level!(|l, amax: &[u32]| {
            for chunk in amax.chunks(l::L) {
                let mut lanes = [0i32; l::L];
                for (a, &c) in lanes.iter_mut().zip(chunk) {
                    *a = c as i32;
                }
                let v = l::bits_i(l::from_lanes(lanes.map(|a| f32::from_bits(a as u32))));
                let got = l::lanes_i(l::scale_bytes(v));
                for (a, g) in lanes.iter().zip(got) {
                    let want = mxfp4::scale_byte(f32::from_bits(*a as u32));
                    assert_eq!(g, i32::from(want), "amax bits {a:#010x}, {} lanes", l::L);
                }
            }
        });
    }

    #[test]
    fn the_avx2_mxfp4_byte_tables_are_the_lut() {
        // The literal tables of `avx2::mxfp4_codes8`.
        let lo = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6];
        let hi = [6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
        assert_eq!(super::MXFP4_LUT[..16], lo);
        assert_eq!(super::MXFP4_LUT[16..], hi);
    }

    #[test]
    fn hardware_f16_conversion_equals_ours() {
        use crate::reference::formats::fp16::f16_to_f32;
        // Every binary16 value, the midpoints between neighbours and their f32 neighbours, plus
        // a stride over all f32 bit patterns (NaN excluded: our inputs are finite).
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
            (0..u32::MAX / 4099)
                .map(|i| f32::from_bits(i * 4099))
                .filter(|v| !v.is_nan()),
        );
        let xs = &xs[..];
        each_level!(|l, xs: &[f32]| {
            for chunk in xs.chunks(l::L) {
                let mut lanes = [0.0f32; l::L];
                lanes[..chunk.len()].copy_from_slice(chunk);
                let want = lanes.map(f32_to_f16);
                match l::to_f16(l::from_lanes(lanes)) {
                    Some(got) => assert_eq!(got, want, "{lanes:?}"),
                    // Only when some encoding overflows to infinity.
                    None => assert!(want.iter().any(|h| h & 0x7C00 == 0x7C00), "{lanes:?}"),
                }
            }
        });
    }
}
