//! The x86-64 lane primitives (`kernels::lanes` defines their meanings): AVX2 with F16C (8
//! lanes) and AVX-512 F, BW, DQ, VL (16 lanes).

use core::arch::x86_64::*;

/// True when this CPU has the AVX2 primitives' features (AVX2, and F16C for the block formats'
/// fp16 scales: every AVX2 CPU has it).
pub(crate) fn avx2_available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c")
}

/// True when this CPU has the AVX-512 primitives' features.
pub(crate) fn avx512_available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
}

/// How far ahead (in floats) the streaming loops prefetch: far enough to cover DRAM latency at
/// these kernels' speeds (a compute-heavy loop keeps too few loads in flight on its own).
pub(crate) const AHEAD: usize = 2048;

/// Prefetches the 64-byte line holding `p` (any address: a prefetch never faults).
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    // SAFETY: prefetching has no architectural effect and accepts any address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
}

/// Scales for which `avx512::codes16_fast` is used: `scale` and `1 / scale` normal with room to spare
/// (2^-100 ..= 2^100), so `32 * scale` is exact and no step below over- or underflows where it
/// matters.
#[inline]
pub(crate) fn fast_scale(scale: f32) -> bool {
    const LO: f32 = f32::from_bits((127 - 100) << 23); // 2^-100
    const HI: f32 = f32::from_bits((127 + 100) << 23); // 2^100
    (LO..=HI).contains(&scale)
}

/// AVX2 (with F16C): 8 lanes.
pub(crate) mod avx2 {
    use core::arch::x86_64::*;

    pub(crate) use super::{fast_scale, prefetch, AHEAD};

    with_features! { "avx2,f16c";
        pub(crate) const L: usize = 8;
        pub(crate) type F = __m256;
        pub(crate) type I = __m256i;
        pub(crate) type M = __m256;
        pub(crate) type Block = [__m256; 4];
        /// 16 packed code bytes.
        pub(crate) type Bytes16 = __m128i;

        /// Packs 32 codes (bytes in -8..7, element order) into 16 bytes, low nibble first.
        pub(crate) fn pack32(codes: __m256i) -> __m128i {
            let nibbles = _mm256_and_si256(codes, _mm256_set1_epi8(0x0F));
            // Each 16-bit lane becomes lo + 16 * hi (at most 255).
            let pairs = _mm256_maddubs_epi16(nibbles, _mm256_set1_epi16(0x1001));
            let bytes = _mm256_packus_epi16(pairs, pairs);
            _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(bytes))
        }

        /// Safety: 16 writable bytes at `p`.
        pub(crate) unsafe fn store_bytes16(v: Bytes16, p: *mut u8) {
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { _mm_storeu_si128(p.cast(), v) }
        }

        /// Safety: 32 readable floats at `p`.
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
        pub(crate) unsafe fn store(v: F, p: *mut f32) {
            // SAFETY: the caller passes 8 writable floats.
            unsafe { _mm256_storeu_ps(p, v) }
        }

        /// The low bytes of 8 lanes, each in -128..=127. Safety: 8 writable bytes at `p`.
        pub(crate) unsafe fn store_i8(v: I, p: *mut i8) {
            // The packs keep -128..=127; the permute brings the two halves' 4 bytes together.
            let w = _mm256_packs_epi32(v, v);
            let b = _mm256_packs_epi16(w, w);
            let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
            // SAFETY: the caller passes 8 writable bytes.
            unsafe { _mm_storel_epi64(p.cast(), _mm256_castsi256_si128(b)) }
        }

        pub(crate) fn from_lanes(a: [f32; L]) -> F {
            // SAFETY: an 8-element array.
            unsafe { _mm256_loadu_ps(a.as_ptr()) }
        }

        pub(crate) fn lanes(v: F) -> [f32; L] {
            let mut a = [0.0f32; L];
            // SAFETY: an 8-element array.
            unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
            a
        }

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

        pub(crate) fn to_f16(v: F) -> Option<[u16; L]> {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            let e = _mm_set1_epi16(0x7C00);
            let bad = _mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, e), e));
            let mut a = [0u16; L];
            // SAFETY: an 8-element array.
            unsafe { _mm_storeu_si128(a.as_mut_ptr().cast(), h) };
            (bad == 0).then_some(a)
        }

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

        pub(crate) fn pack_pairs(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let c = [code(x[0]), code(x[1]), code(x[2]), code(x[3])];
            // Bytes in element order (packs work within 128-bit lanes; the permute restores the
            // order), then each 16-bit pair becomes lo + 16 * hi.
            let ab = _mm256_packs_epi32(c[0], c[1]);
            let cd = _mm256_packs_epi32(c[2], c[3]);
            let bytes = _mm256_packs_epi16(ab, cd);
            let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            pack32(bytes)
        }

        pub(crate) fn e2m1_block(x: Block, e: u8, _k: f32) -> Bytes16 {
            // 2/d = 2^(129 - e), -124..=129: one exact power-of-two multiply up to 2^127 (the
            // largest normal power), two normal factors beyond (blocks below 2^-123).
            let pow2 = |k: i32| splat(f32::from_bits(((k + 127) as u32) << 23));
            let k = 129 - i32::from(e);
            let cap = splat(if e == 253 { 14.0 } else { 31.0 });
            let c = if k <= 127 {
                let s = pow2(k);
                x.map(|v| e2m1_steps8(v, |m| mul(m, s), cap))
            } else {
                let (s1, s2) = (pow2(k >> 1), pow2(k - (k >> 1)));
                x.map(|v| e2m1_steps8(v, |m| mul(mul(m, s1), s2), cap))
            };
            // The 32 signed steps (-31..=31) as bytes in element order; the table lookups and the
            // sign then take all 32 at once.
            let ab = _mm256_packs_epi32(c[0], c[1]);
            let cd = _mm256_packs_epi32(c[2], c[3]);
            let steps = _mm256_packs_epi16(ab, cd);
            let steps = _mm256_permutevar8x32_epi32(steps, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            // `lanes::E2M1_LUT` (tested); each 128-bit lane holds the same 16 entries.
            let lo = _mm256_setr_epi8(
                0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5,
                5, 5, 6,
            );
            let hi = _mm256_setr_epi8(
                6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7,
                7, 7, 7,
            );
            // |c| <= 31: its low four bits index the tables, bit 4 (moved to bit 7 by the shift,
            // which moves no bit across bytes because bits 5..7 are 0) picks the second.
            let a = _mm256_abs_epi8(steps);
            let (l, h) = (_mm256_shuffle_epi8(lo, a), _mm256_shuffle_epi8(hi, a));
            let idx = _mm256_blendv_epi8(l, h, _mm256_slli_epi16::<3>(a));
            // Sign bit 8 for negative values of index > 0 (steps <= -2); a negative value of index
            // 0 is the reference's entry 0, not 8.
            let neg = _mm256_cmpgt_epi8(_mm256_set1_epi8(-1), steps);
            let codes = _mm256_or_si256(idx, _mm256_and_si256(neg, _mm256_set1_epi8(8)));
            let lo = _mm256_castsi256_si128(codes);
            let hi = _mm256_extracti128_si256::<1>(codes);
            _mm_or_si128(lo, _mm_slli_epi16::<4>(hi))
        }

        /// A true division (this level has no FMA for the division-free quotient).
        pub(crate) fn group_codes(x: F, scale: F, _r: F, zp: F, _fast: bool) -> I {
            let q = add(round_even(div(x, scale)), zp);
            cvt(min_f(max_f(q, splat(-8.0)), splat(7.0)))
        }

        /// [`scale_bytes`] for 8 lanes: the steps of `avx512::scale_bytes16` (which see) with AVX2
        /// instructions. Every compared value is below 2^31, so signed comparisons are unsigned ones.
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

        /// The E2M1 step of 8 values (see `x86_64::avx512::e2m1_codes` for the proof), with the
        /// value's sign: `u = 2|x|/d` by exact power-of-two multiplies (`scale`; where a product
        /// underflows, u < 1 either way), then `±ceil(min(u, cap))`, whose magnitude indexes
        /// `lanes::E2M1_LUT` (`e2m1_block`). `vpsignd` keeps 0 for x = +0.0, whose step is 0.
        fn e2m1_steps8(x: __m256, scale: impl Fn(__m256) -> __m256, cap: __m256) -> __m256i {
            let bits = _mm256_castps_si256(x);
            let m = _mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32(0x7FFF_FFFF)));
            let u = _mm256_min_ps(scale(m), cap);
            let c = _mm256_cvtps_epi32(_mm256_round_ps::<
                { _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC },
            >(u));
            _mm256_sign_epi32(c, bits)
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
        pub(crate) unsafe fn load(p: *const f32) -> F {
            // SAFETY: the caller passes 8 readable floats.
            unsafe { _mm256_loadu_ps(p) }
        }

        /// Lane b: `p[32 b]`. Safety: `p[32 b]` readable for every b < `L`.
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
        pub(crate) fn shl_i<const N: i32>(a: I) -> I {
            _mm256_slli_epi32::<N>(a)
        }

        /// Logical `a >> N`.
        pub(crate) fn shr_i<const N: i32>(a: I) -> I {
            _mm256_srli_epi32::<N>(a)
        }

        /// `avx512::code15` (which see for the proof) with AVX2 instructions.
        pub(crate) fn code15(v: F) -> F {
            use super::avx512::MAGIC;
            let ord = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
            let t = _mm256_castps_si256(add(v, splat(MAGIC)));
            let low = _mm256_and_si256(_mm256_and_si256(t, _mm256_set1_epi32(0x007F_FFFF)), ord);
            let f = _mm256_or_si256(low, _mm256_set1_epi32(0x4B00_0000));
            let n = sub(_mm256_castsi256_ps(f), splat(MAGIC));
            min_f(max_f(n, splat(0.0)), splat(15.0))
        }

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
        pub(crate) unsafe fn store_nibbles(lo: I, hi: I, p: *mut u8) {
            let b = _mm256_or_si256(lo, _mm256_slli_epi32::<4>(hi));
            let w = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
            // SAFETY: the caller passes 8 writable bytes.
            unsafe { _mm_storel_epi64(p.cast(), _mm_packus_epi16(w, w)) }
        }

        /// Safety: 8 readable bytes at `p`.
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

        pub(crate) fn pack16(c: [I; 16 / L]) -> u64 {
            let b = _mm256_or_si256(c[0], _mm256_slli_epi32::<4>(c[1]));
            let w = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
            _mm_cvtsi128_si64(_mm_packus_epi16(w, w)) as u64
        }

        // Primitives of simd::nl_search.

        /// Safety: `32 L` readable floats at `p`; vector j gets element j of each of the L blocks of 32 there (lane b: block b).
        pub(crate) unsafe fn load_columns(p: *const f32) -> [F; 32] {
            let mut xs = [_mm256_setzero_ps(); 32];
            for g in 0..4 {
                // SAFETY: row b reads p[32 b + 8 g .. 32 b + 8 g + 8], within the caller's 256.
                let rows = core::array::from_fn(|b| unsafe { _mm256_loadu_ps(p.add(32 * b + 8 * g)) });
                xs[8 * g..8 * g + 8].copy_from_slice(&transpose8(rows));
            }
            xs
        }

        /// Transposes 8 rows of 8 floats (row b: 8 consecutive elements of block b) into 8 columns
        /// (column j: element j of every block).
        fn transpose8(r: [F; 8]) -> [F; 8] {
            let lo = |a, b| _mm256_unpacklo_ps(a, b);
            let hi = |a, b| _mm256_unpackhi_ps(a, b);
            let t = [
                lo(r[0], r[1]),
                hi(r[0], r[1]),
                lo(r[2], r[3]),
                hi(r[2], r[3]),
                lo(r[4], r[5]),
                hi(r[4], r[5]),
                lo(r[6], r[7]),
                hi(r[6], r[7]),
            ];
            // u[k]: element k (low half) and k + 4 (high half) of rows 0..3 (k < 4) or 4..7.
            let u: [F; 8] = core::array::from_fn(|k| {
                let i = 4 * (k / 4) + k % 4 / 2;
                if k % 2 == 0 {
                    _mm256_shuffle_ps::<0x44>(t[i], t[i + 2])
                } else {
                    _mm256_shuffle_ps::<0xEE>(t[i], t[i + 2])
                }
            });
            core::array::from_fn(|j| {
                let (a, b) = (u[j % 4], u[j % 4 + 4]);
                if j < 4 {
                    _mm256_permute2f128_ps::<0x20>(a, b)
                } else {
                    _mm256_permute2f128_ps::<0x31>(a, b)
                }
            })
        }

        /// The tables of the binary search (see [`nl_path`]). A path `k` (the bits found so far,
        /// first step highest) is held as `-k` in the permute index, whose low three bits `vpermps`
        /// reads: entry `(8 - k) mod 8`. `s2`: step 2's threshold after step 1 found `a`,
        /// `MID[8a + 3]`; `s3`: step 3's after `k = 2a + b`, `MID[4k + 1]`; `s4`: step 4's after
        /// `k = 4a + 2b + c`, `MID[2k]`; `q0`, `q1`: the two codebook values step 4 chooses
        /// between, `KV[2k]` and `KV[2k + 1]`.
        const STEPS: [[f32; 8]; 5] = {
            use super::super::{NL_KV as KV, NL_MID as MID};
            let mut t = [[0.0; 8]; 5];
            let mut k = 0;
            while k < 8 {
                let p = (8 - k) & 7;
                if k < 2 {
                    t[0][p] = MID[8 * k + 3];
                }
                if k < 4 {
                    t[1][p] = MID[4 * k + 1];
                }
                t[2][p] = MID[2 * k];
                t[3][p] = KV[2 * k];
                t[4][p] = KV[2 * k + 1];
                k += 1;
            }
            t
        };

        /// The nearest-entry search's tables (`STEPS`), loaded once per kernel call.
        pub(crate) type NlTables = [F; 5];

        /// Loads [`NlTables`].
        pub(crate) fn nl_tables() -> NlTables {
            STEPS.map(|t| from_lanes(t))
        }

        /// The binary search for the number `n = 8a + 4b + 2c + d` of midpoints `<= v` (ordered
        /// compares: a NaN lane finds 0). Returns `-(4a + 2b + c)` (exact, as int32) and the last
        /// step's mask (`d`, all ones or zero).
        ///
        /// Each step halves the candidates: with the midpoints ascending, `n >= 8` iff `v >= MID[7]`;
        /// given `a`, `n >= 8a + 4` iff `v >= MID[8a + 3]`; given `a, b`, `n >= 8a + 4b + 2` iff
        /// `v >= MID[8a + 4b + 1]`; given `a, b, c`, `n >= 8a + 4b + 2c + 1` iff
        /// `v >= MID[8a + 4b + 2c]`. Masks are -1 or 0, so `p + p + mask` appends a bit to the
        /// negated path `p`.
        fn nl_path(v: F, t: NlTables) -> (I, F) {
            let ge = |m: F| _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, m));
            let p = ge(splat(super::super::NL_MID[7]));
            let b = ge(_mm256_permutevar8x32_ps(t[0], p));
            let p = _mm256_add_epi32(_mm256_add_epi32(p, p), b);
            let c = ge(_mm256_permutevar8x32_ps(t[1], p));
            let p = _mm256_add_epi32(_mm256_add_epi32(p, p), c);
            let d = _mm256_cmp_ps::<_CMP_GE_OQ>(v, _mm256_permutevar8x32_ps(t[2], p));
            (p, d)
        }

        /// `nl_codebook::best_index` of each lane (any float, NaN included).
        ///
        /// Proof. `avx512::nl_index` proves that the reference's index is the number of
        /// midpoints `<= x` for every non-NaN x (a tie goes up), and 15 for NaN. [`nl_path`]
        /// counts the midpoints of `max(min(x, 113), -127)`: the clamp keeps the count (no midpoint
        /// lies outside (-127, 113)) and maps NaN to 113, i.e. 15 (`min` returns its second operand
        /// for NaN).
        pub(crate) fn nl_index(v: F, t: NlTables) -> I {
            let (p, d) = nl_path(max_f(min_f(v, splat(113.0)), splat(-127.0)), t);
            let neg = _mm256_add_epi32(_mm256_add_epi32(p, p), _mm256_castps_si256(d));
            _mm256_sub_epi32(_mm256_setzero_si256(), neg)
        }

        /// `KV[nl_codebook::best_index(v)]` of each lane, for `|v| <= 134.01` (here: any non-NaN v):
        /// step 4 chooses between `KV[2k]` and `KV[2k + 1]`, `k` the path of the first three steps.
        pub(crate) fn nl_nearest(v: F, t: NlTables) -> F {
            let (p, d) = nl_path(v, t);
            let q0 = _mm256_permutevar8x32_ps(t[3], p);
            _mm256_blendv_ps(q0, _mm256_permutevar8x32_ps(t[4], p), d)
        }

        // Primitives of simd::dequantize_blocks.

        /// 16 small integers for [`ggml_values`].
        pub(crate) type ByteTable = __m128i;

        /// Loads a [`ByteTable`].
        pub(crate) fn byte_table(t: &[i8; 16]) -> ByteTable {
            // SAFETY: a 16-byte array.
            unsafe { _mm_loadu_si128(t.as_ptr().cast()) }
        }

        /// Safety: 16 readable bytes at `p`; `t[code]` as floats for the ggml block's 32 codes there (element j: byte j's low nibble, j + 16: its high one).
        pub(crate) unsafe fn ggml_values(p: *const u8, t: ByteTable) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { _mm_loadu_si128(p.cast()) };
            let m = _mm_set1_epi8(0x0F);
            let lo = _mm_shuffle_epi8(t, _mm_and_si128(b, m));
            let hi = _mm_shuffle_epi8(t, _mm_and_si128(_mm_srli_epi16::<4>(b), m));
            let f = |v| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
            [
                lo,
                _mm_unpackhi_epi64(lo, lo),
                hi,
                _mm_unpackhi_epi64(hi, hi),
            ]
            .map(f)
        }

        /// Safety: 16 readable bytes at `p`; the ggml block's 32 codes there as floats (in the order of [`ggml_values`]).
        pub(crate) unsafe fn ggml_codes(p: *const u8) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { _mm_loadu_si128(p.cast()) };
            let m = _mm_set1_epi8(0x0F);
            let (lo, hi) = (
                _mm_and_si128(b, m),
                _mm_and_si128(_mm_srli_epi16::<4>(b), m),
            );
            let f = |v| _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
            [
                lo,
                _mm_unpackhi_epi64(lo, lo),
                hi,
                _mm_unpackhi_epi64(hi, hi),
            ]
            .map(f)
        }

        /// Safety: 16 readable bytes at `p`; their 32 int4 codes (-8..=7), two per byte, the first in the low nibble.
        pub(crate) unsafe fn unpack_pairs(p: *const u8) -> [I; 4] {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { _mm_loadu_si128(p.cast()) };
            let (m, eight) = (_mm_set1_epi8(0x0F), _mm_set1_epi8(8));
            let (lo, hi) = (
                _mm_and_si128(b, m),
                _mm_and_si128(_mm_srli_epi16::<4>(b), m),
            );
            // (n ^ 8) - 8 sign-extends a nibble.
            let ext = |v| _mm_sub_epi8(_mm_xor_si128(v, eight), eight);
            let (e0, e1) = (
                ext(_mm_unpacklo_epi8(lo, hi)),
                ext(_mm_unpackhi_epi8(lo, hi)),
            );
            [
                e0,
                _mm_unpackhi_epi64(e0, e0),
                e1,
                _mm_unpackhi_epi64(e1, e1),
            ]
            .map(|e| _mm256_cvtepi8_epi32(e))
        }

        /// The finite binary16 `h` as f32 (`vcvtph2ps` is exact, as `fp16::f16_to_f32`).
        pub(crate) fn f16_to_f32(h: u16) -> f32 {
            _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h))))
        }

        // Primitives of simd::half. float16 goes through F16C (`vcvtph2ps`, and `vcvtps2ph` with
        // round-to-nearest-even in the immediate, so MXCSR's rounding mode does not matter):
        // both convert a NaN as the reference does (quiet bit set, sign and top payload bits
        // kept), `vcvtph2ps` converts subnormals exactly, and `vcvtps2ph` produces them ignoring
        // MXCSR.DAZ/FTZ for the half-precision side (a float32 subnormal rounds to ±0 either way).
        // bfloat16 is integer arithmetic: widening is a shift into the upper half; narrowing is
        // the reference's add-and-shift rounding with NaN lanes replaced by its quiet NaN.

        /// Safety: 8 readable halves at `p`.
        pub(crate) unsafe fn load_f16(p: *const u16) -> F {
            // SAFETY: the caller passes 8 readable halves.
            _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
        }

        /// Safety: 8 writable halves at `p`.
        pub(crate) unsafe fn store_f16(v: F, p: *mut u16) {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            // SAFETY: the caller passes 8 writable halves.
            unsafe { _mm_storeu_si128(p.cast(), h) }
        }

        /// Safety: 8 readable halves at `p`.
        pub(crate) unsafe fn load_bf16(p: *const u16) -> F {
            // SAFETY: the caller passes 8 readable halves.
            let h = _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(p.cast()) });
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(h))
        }

        /// `crate::float::f32_to_bf16` of 8 floats: `(b + 0x7fff + lsb) >> 16`, or
        /// `(b >> 16) | 0x40` for NaN. Safety: 8 writable halves at `p`.
        pub(crate) unsafe fn store_bf16(v: F, p: *mut u16) {
            let b = _mm256_castps_si256(v);
            let hi = _mm256_srli_epi32::<16>(b);
            let lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
            let bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb);
            let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(b, bias));
            let abs = _mm256_and_si256(b, _mm256_set1_epi32(0x7fff_ffff));
            let nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f80_0000));
            let h = _mm256_blendv_epi8(rounded, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
            // Every lane is at most 0xffff: the unsigned pack keeps it; the permute brings the two
            // halves' 4 values together.
            let h = _mm256_permute4x64_epi64::<0b1000>(_mm256_packus_epi32(h, h));
            // SAFETY: the caller passes 8 writable halves.
            unsafe { _mm_storeu_si128(p.cast(), _mm256_castsi256_si128(h)) }
        }

        // Primitives of simd::codebook.

        /// A 16-entry float table for [`codebook_values`].
        pub(crate) type FloatTable = (F, F);

        /// Loads a [`FloatTable`].
        pub(crate) fn float_table(t: &[f32; 16]) -> FloatTable {
            let (lo, hi) = t.split_at(8);
            (
                from_lanes(lo.try_into().unwrap()),
                from_lanes(hi.try_into().unwrap()),
            )
        }

        /// A 16-entry float table lookup by the low 4 bits of each lane.
        fn lookup16(t: FloatTable, idx: I) -> F {
            let a = _mm256_permutevar8x32_ps(t.0, idx);
            let b = _mm256_permutevar8x32_ps(t.1, idx);
            _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)))
        }

        /// Safety: 16 readable bytes at `p`; `t[code]` for their 32 codes, two per byte, the first in the high nibble.
        pub(crate) unsafe fn codebook_values(p: *const u8, t: FloatTable) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { _mm_loadu_si128(p.cast()) };
            let m = _mm_set1_epi8(0x0F);
            let (h, l) = (
                _mm_and_si128(_mm_srli_epi16::<4>(b), m),
                _mm_and_si128(b, m),
            );
            let (n0, n1) = (_mm_unpacklo_epi8(h, l), _mm_unpackhi_epi8(h, l));
            [
                n0,
                _mm_unpackhi_epi64(n0, n0),
                n1,
                _mm_unpackhi_epi64(n1, n1),
            ]
            .map(|n| lookup16(t, _mm256_cvtepu8_epi32(n)))
        }

        /// The codebook encoders' tables: the sorted codebook's 15 thresholds (+inf after), the
        /// sign-magnitude codebook's 7 magnitude thresholds (+inf after) and its codes by rank.
        #[derive(Clone, Copy)]
        pub(crate) struct CodebookTables {
            sorted: FloatTable,
            magnitudes: F,
            by_rank: I,
        }

        /// Loads [`CodebookTables`].
        pub(crate) fn codebook_tables() -> CodebookTables {
            use crate::reference::codebook::tables::{
                CODE_BY_RANK, MAGNITUDE_THRESHOLDS, SORTED_THRESHOLDS,
            };
            let mut sorted = [f32::INFINITY; 16];
            sorted[..15].copy_from_slice(&SORTED_THRESHOLDS);
            let mut magnitudes = [f32::INFINITY; 8];
            magnitudes[..7].copy_from_slice(&MAGNITUDE_THRESHOLDS);
            let by_rank: [i32; 8] = core::array::from_fn(|r| i32::from(CODE_BY_RANK[r]));
            CodebookTables {
                sorted: float_table(&sorted),
                magnitudes: from_lanes(magnitudes),
                // SAFETY: an 8-element array.
                by_rank: unsafe { _mm256_loadu_si256(by_rank.as_ptr().cast()) },
            }
        }

        /// `idx + step` in the lanes where `v > t` (ordered: NaN never).
        fn step_if_above(idx: I, v: F, t: F, step: i32) -> I {
            let gt = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(v, t));
            _mm256_add_epi32(idx, _mm256_and_si256(gt, _mm256_set1_epi32(step)))
        }

        /// The sorted codebook's encoder (`codebook::scalar`) of each lane: a binary search for the number of
        /// thresholds strictly below v (ordered compares: NaN finds 0).
        pub(crate) fn sorted_codes(v: F, t: &CodebookTables) -> I {
            use crate::reference::codebook::tables::SORTED_THRESHOLDS;
            let mut idx = step_if_above(splat_i(0), v, splat(SORTED_THRESHOLDS[7]), 8);
            for step in [4, 2, 1] {
                let probe = _mm256_add_epi32(idx, splat_i(step - 1));
                idx = step_if_above(idx, v, lookup16(t.sorted, probe), step);
            }
            idx
        }

        /// The sign-magnitude codebook's encoder (`codebook::scalar`) of each lane: the rank of |v| among the magnitude
        /// thresholds (a binary search, strictly greater; NaN: 0) mapped through
        /// `CODE_BY_RANK`, plus 8 when v < 0.
        pub(crate) fn sign_magnitude_codes(v: F, t: &CodebookTables) -> I {
            use crate::reference::codebook::tables::MAGNITUDE_THRESHOLDS;
            let m = bits_f(abs_bits(v));
            let mut idx = step_if_above(splat_i(0), m, splat(MAGNITUDE_THRESHOLDS[3]), 4);
            for step in [2, 1] {
                let probe = _mm256_add_epi32(idx, splat_i(step - 1));
                idx = step_if_above(idx, m, _mm256_permutevar8x32_ps(t.magnitudes, probe), step);
            }
            let code = _mm256_permutevar8x32_epi32(t.by_rank, idx);
            let neg = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(v, splat(0.0)));
            _mm256_or_si256(code, _mm256_and_si256(neg, splat_i(8)))
        }

        /// Packs a block's 32 codes (0..=15) two per byte, the first in the high nibble.
        pub(crate) fn pack_hi_first(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let c = x.map(code);
            let ab = _mm256_packs_epi32(c[0], c[1]);
            let cd = _mm256_packs_epi32(c[2], c[3]);
            let bytes = _mm256_packus_epi16(ab, cd);
            let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            // Each 16-bit lane becomes 16 * first + second (at most 255).
            let pairs = _mm256_maddubs_epi16(bytes, _mm256_set1_epi16(0x0110));
            let packed = _mm256_packus_epi16(pairs, pairs);
            _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(packed))
        }

        /// The largest lane, unsigned.
        pub(crate) fn max_lane_u(v: I) -> u32 {
            let m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
            let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
            _mm_cvtsi128_si32(m) as u32
        }

        // Primitives of simd::int4.

        /// `acc` with the lanes marked where some `|v[j]|` (as bits) exceeds `limit` (see [`any_marked`]).
        pub(crate) fn mark_above(acc: I, v: [F; 4], limit: I) -> I {
            // Compares or-ed in: the chain through `acc` is faster here than one of unsigned maxima.
            v.iter().fold(acc, |a, &v| {
                _mm256_or_si256(a, _mm256_cmpgt_epi32(abs_bits(v), limit))
            })
        }

        /// Whether some lane of a [`mark_above`] accumulator (from `splat_i(0)`) is marked.
        pub(crate) fn any_marked(acc: I, _limit: I) -> bool {
            _mm256_testz_si256(acc, acc) == 0
        }

        /// Safety: L readable bytes at `p`; they are int8 codes, sign-extended.
        pub(crate) unsafe fn load_i8(p: *const i8) -> I {
            // SAFETY: the caller passes 8 readable bytes.
            _mm256_cvtepi8_epi32(unsafe { _mm_loadl_epi64(p.cast()) })
        }

        /// Safety: 32 writable bytes at `p`; stores a block's 32 codes (-8..=7) there, one per byte.
        pub(crate) unsafe fn store_codes(x: Block, code: impl Fn(F) -> I, p: *mut i8) {
            let c = x.map(code);
            // The packs work within 128-bit lanes; the permute restores element order.
            let ab = _mm256_packs_epi32(c[0], c[1]);
            let cd = _mm256_packs_epi32(c[2], c[3]);
            let bytes = _mm256_packs_epi16(ab, cd);
            let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            // SAFETY: the caller passes 32 writable bytes.
            unsafe { _mm256_storeu_si256(p.cast(), bytes) }
        }

        /// `clamp(rne(x / scale) + zp, -8, 7)` for any finite x and positive scale (a true
        /// division: this level has no FMA for the division-free quotient).
        pub(crate) fn int4_codes(x: F, scale: F, r: F, zp: F, _fast: bool) -> I {
            group_codes(x, scale, r, zp, false)
        }

        /// `CODES` int8 codes (one per byte) in one vector.
        pub(crate) type Codes = __m256i;
        pub(crate) const CODES: usize = 32;

        /// Safety: `CODES` readable bytes at `p`.
        pub(crate) unsafe fn load_codes(p: *const i8) -> Codes {
            // SAFETY: the caller passes 32 readable bytes.
            unsafe { _mm256_loadu_si256(p.cast()) }
        }

        ops! { "avx2,f16c";
            zero_codes() -> Codes = _mm256_setzero_si256();
            or_codes(a: Codes, b: Codes) -> Codes = _mm256_or_si256(a, b);
            code_offsets(v: Codes) -> Codes = _mm256_add_epi8(v, _mm256_set1_epi8(8));
            any_high_nibble(v: Codes) -> bool = _mm256_testz_si256(v, _mm256_set1_epi8(-16)) == 0;
        }

        /// Safety: `CODES / 2` writable bytes at `p`; the codes (-8..=7) two per byte, the first in the low nibble.
        pub(crate) unsafe fn pack_codes(v: Codes, p: *mut u8) {
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { _mm_storeu_si128(p.cast(), pack32(v)) }
        }

        /// Safety: 32 readable bytes at `p`, and 64 writable ones at `q`: their codes, two per byte (the first in the low nibble), sign-extended.
        pub(crate) unsafe fn unpack_codes(p: *const u8, q: *mut i8) {
            // SAFETY: the caller passes 32 readable bytes.
            let b = unsafe { _mm256_loadu_si256(p.cast()) };
            let (m, eight) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(8));
            // Sign-extend a nibble n: (n ^ 8) - 8.
            let ext = |v| _mm256_sub_epi8(_mm256_xor_si256(v, eight), eight);
            let lo = ext(_mm256_and_si256(b, m));
            let hi = ext(_mm256_and_si256(_mm256_srli_epi16::<4>(b), m));
            // Interleave within 128-bit lanes, then put the lanes in order.
            let (a, c) = (_mm256_unpacklo_epi8(lo, hi), _mm256_unpackhi_epi8(lo, hi));
            // SAFETY: the caller passes 64 writable bytes.
            unsafe {
                _mm256_storeu_si256(q.cast(), _mm256_permute2x128_si256::<0x20>(a, c));
                _mm256_storeu_si256(q.add(32).cast(), _mm256_permute2x128_si256::<0x31>(a, c));
            }
        }

        /// `scalar::dequantize_one(code, scale, zp)` for the 16 codes, by nibble, for [`int4_values`].
        pub(crate) type Int4Table = FloatTable;

        /// Builds an [`Int4Table`] (by the scalar formula, so a lookup is bit-identical to it).
        pub(crate) fn int4_table(scale: f32, zp: i8) -> Int4Table {
            let t: [f32; 16] = core::array::from_fn(|nib| {
                let code = if nib < 8 { nib as i8 } else { nib as i8 - 16 };
                crate::kernels::scalar::dequantize_one(code, scale, zp)
            });
            float_table(&t)
        }

        /// Safety: 16 readable bytes at `p`; the table's values of their 32 codes, two per byte, the first in the low nibble.
        pub(crate) unsafe fn int4_values(p: *const u8, t: Int4Table) -> Block {
            // Lane j takes nibble j of a little-endian 32-bit word: element order.
            let shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
            core::array::from_fn(|k| {
                // SAFETY: 4 bytes at 4 k < 16 (the caller's).
                let word = unsafe { p.add(4 * k).cast::<u32>().read_unaligned() };
                lookup16(t, _mm256_srlv_epi32(_mm256_set1_epi32(word as i32), shifts))
            })
        }
    }
}

/// AVX-512 (F, BW, DQ, VL): 16 lanes.
pub(crate) mod avx512 {
    use core::arch::x86_64::*;

    pub(crate) use super::{fast_scale, prefetch, AHEAD};

    with_features! { "avx512f,avx512bw,avx512dq,avx512vl";
        pub(crate) const L: usize = 16;
        pub(crate) type F = __m512;
        pub(crate) type I = __m512i;
        pub(crate) type M = __mmask16;
        pub(crate) type Block = [__m512; 2];
        /// 16 packed code bytes.
        pub(crate) type Bytes16 = __m128i;

        /// `RN(x / scale)` for `|x| <= 32 scale`, from `r = RN(1 / scale)` without a division: the
        /// product `q0 = RN(x r)` is within two ulps of the quotient; one correction
        /// `q1 = RN(q0 + RN(x - q0 scale) r)` (fused multiply-adds) brings it within one ulp (its
        /// error is that of `q0` times about 2^-23, plus the final rounding); then Markstein's theorem
        /// (with `r` correctly rounded and `q1` faithful, the residual `x - q1 scale` is exact and
        /// `RN(q1 + (x - q1 scale) r)` is the correctly rounded quotient) gives exactly what the
        /// division gives, ties and all. For `|x / scale| < 1/4`, where exponents could underflow, every
        /// step stays below 1/2 in magnitude, so the code (0 after rounding) is the same either way.
        /// Tested exhaustively against the division over every float in `[scale/4, 32 scale]` for many
        /// scales (`markstein_quotient_is_exact`).
        pub(crate) fn quotient16(x: __m512, scale: __m512, r: __m512) -> __m512 {
            let q0 = _mm512_mul_ps(x, r);
            let e0 = _mm512_fnmadd_ps(q0, scale, x);
            let q1 = _mm512_fmadd_ps(e0, r, q0);
            let e1 = _mm512_fnmadd_ps(q1, scale, x);
            _mm512_fmadd_ps(e1, r, q1)
        }

        /// `clamp(rne(q) + zp, -8, 7)` for quotients `|q| <= 32` (rounded to an integer with an
        /// explicit ties-to-even, independent of MXCSR; then the scalar's integer arithmetic).
        fn codes_from_quotient(q: __m512, zp: __m512) -> __m512i {
            let n = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q);
            let n = _mm512_add_epi32(n, _mm512_cvttps_epi32(zp));
            _mm512_min_epi32(
                _mm512_max_epi32(n, _mm512_set1_epi32(-8)),
                _mm512_set1_epi32(7),
            )
        }

        /// `codes16` without a division, for a scale with [`fast_scale`] and `r = 1 / scale`: x is
        /// first clamped to `[-32 scale, 32 scale]` (exact bounds; beyond them the quotient rounds to
        /// at least 32 in magnitude and the code saturates either way), then [`quotient16`].
        pub(crate) fn codes16_fast(x: __m512, scale: __m512, r: __m512, zp: __m512) -> __m512i {
            let lim = _mm512_mul_ps(scale, _mm512_set1_ps(32.0));
            let neg = _mm512_xor_ps(lim, _mm512_set1_ps(-0.0));
            let xc = _mm512_min_ps(_mm512_max_ps(x, neg), lim);
            codes_from_quotient(quotient16(xc, scale, r), zp)
        }

        /// [`codes16_fast`] for values known to satisfy `|x| <= 32 scale` (no clamp): a group's own
        /// elements with the parameters `params_for` derives from its minimum and maximum, for which
        /// `|x / scale|` is at most 15 (minmax) or 7 (absmax) up to rounding, or x is 0 (or below the
        /// smallest subnormal times 15) where the scale is the identity's 1.
        pub(crate) fn codes16_bounded(x: __m512, scale: __m512, r: __m512, zp: __m512) -> __m512i {
            codes_from_quotient(quotient16(x, scale, r), zp)
        }

        /// E2M1 codes of 16 values for scale byte `e` (`d = 2^(e - 128)`), given `2 / d` as the
        /// exponent `129 - e` for `vscalefps`.
        ///
        /// Proof of equality with `e2m1::best_index(x, d)` (first index of least
        /// `|fl(KVALUES[i] * d - x)|`), for `m = |x| < 16 d` (true for every element of a block, whose
        /// scale makes `amax < 16 d`): the products `k d` are exact; write M = [0, 1, 2, 3, 4, 6, 8, 12]
        /// times d. For `M_j <= m` the difference `m - M_j` is exact (a multiple of ulp(m), because
        /// ulp(m) <= d divides M_j, and at most m). If `M_i < m <= M_(i+1)`: the differences to
        /// M_0..M_i are exact and decrease, so i beats every earlier index; `M_(i+1) - m` is exact
        /// (Sterbenz, as M_(i+1) <= 2 M_i for i >= 1; for i = 0 it is at least d/2 > m when m < d/2);
        /// every later `M_j - m` rounds to at least it, so cannot win with a strict `<`. So the index is
        /// i + 1 exactly when `m > (M_i + M_(i+1)) / 2`, i.e. the number of the midpoints
        /// [0.5, 1.5, 2.5, 3.5, 5, 7, 10] d strictly below m. A negative x: the entries with k > 0 are
        /// at least as far as entry 0 (and come after it), entry 8 (k = 0) ties entry 0, and entries
        /// 9..15 (k = -1..-12) see the same errors as 1..7 do for m, in the same order: the index is
        /// the positive one plus 8 unless it is 0. In units of d/2 the midpoints are the integers
        /// [1, 3, 5, 7, 10, 14, 20]; u = 2m/d is exact (a power-of-two scaling; where it underflows,
        /// u < 1 either way), and `u > T` for an integer T exactly when `ceil(u) > T`, so the index is
        /// a table lookup by `ceil(min(u, 31))`. One exception: for e = 253 (d = 2^125, blocks whose
        /// amax log2f rounds to 128) the entries 8 d and 12 d overflow to infinity and never win, so
        /// the index stops at 5 (6 d): `cap` is then 14 (u <= 14 gives at most 5) instead of 31.
        pub(crate) fn e2m1_codes(
            x: __m512,
            scale2: __m512,
            cap: __m512,
            lut_lo: __m512i,
            lut_hi: __m512i,
        ) -> __m512i {
            let m = _mm512_castsi512_ps(abs_bits(x));
            let u = _mm512_min_ps(_mm512_scalef_ps(m, scale2), cap);
            let c = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC }>(u);
            let idx = _mm512_permutex2var_epi32(lut_lo, c, lut_hi);
            let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps())
                & _mm512_test_epi32_mask(idx, idx);
            _mm512_mask_or_epi32(idx, neg, idx, _mm512_set1_epi32(8))
        }

        /// Indices that pick the even lanes of (a, b) as one vector, and the odd lanes.
        pub(crate) fn even_odd(a: __m512i, b: __m512i) -> (__m512i, __m512i) {
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
            (
                _mm512_permutex2var_epi32(a, even, b),
                _mm512_permutex2var_epi32(a, odd, b),
            )
        }

        /// `clamp(rne(x / scale) + zp, -8, 7)` in int32 lanes, with a true division (as
        /// `scalar::quantize_one`; the clamp in float equals its saturating integer one for finite x
        /// and positive scale).
        pub(crate) fn codes16(x: __m512, scale: __m512, zp: __m512) -> __m512i {
            let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                _mm512_div_ps(x, scale),
            );
            let q = _mm512_add_ps(q, zp);
            let q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-8.0)), _mm512_set1_ps(7.0));
            _mm512_cvtps_epi32(q)
        }

        /// Safety: 16 writable bytes at `p`.
        pub(crate) unsafe fn store_bytes16(v: Bytes16, p: *mut u8) {
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { _mm_storeu_si128(p.cast(), v) }
        }

        /// Safety: 32 readable floats at `p`.
        pub(crate) unsafe fn load_block(p: *const f32) -> Block {
            // SAFETY: the caller passes 32 readable floats.
            unsafe { [_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16))] }
        }

        /// Safety: 16 writable floats at `p`.
        pub(crate) unsafe fn store(v: F, p: *mut f32) {
            // SAFETY: the caller passes 16 writable floats.
            unsafe { _mm512_storeu_ps(p, v) }
        }

        /// The low bytes of 16 lanes. Safety: 16 writable bytes at `p`.
        pub(crate) unsafe fn store_i8(v: I, p: *mut i8) {
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { _mm_storeu_si128(p.cast(), _mm512_cvtepi32_epi8(v)) }
        }

        pub(crate) fn from_lanes(a: [f32; L]) -> F {
            // SAFETY: a 16-element array.
            unsafe { _mm512_loadu_ps(a.as_ptr()) }
        }

        pub(crate) fn lanes(v: F) -> [f32; L] {
            let mut a = [0.0f32; L];
            // SAFETY: a 16-element array.
            unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
            a
        }

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

        pub(crate) fn reduce(m: [F; L], op: impl Fn(F, F) -> F) -> F {
            let op =
                |a: I, b: I| _mm512_castps_si512(op(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b)));
            let mut bits = [_mm512_setzero_si512(); L];
            for (b, v) in bits.iter_mut().zip(m) {
                *b = _mm512_castps_si512(v);
            }
            _mm512_castsi512_ps(reduce16(bits, op))
        }

        pub(crate) fn to_f16(v: F) -> Option<[u16; L]> {
            let h = to_f16_bits(v);
            let e = _mm256_set1_epi16(0x7C00);
            let bad = _mm256_cmpeq_epi16_mask(_mm256_and_si256(h, e), e);
            let mut a = [0u16; L];
            // SAFETY: a 16-element array.
            unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), h) };
            (bad == 0).then_some(a)
        }

        pub(crate) fn pack_ggml(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let m = _mm512_set1_epi32(15);
            let (lo, hi) = (
                _mm512_min_epi32(code(x[0]), m),
                _mm512_min_epi32(code(x[1]), m),
            );
            // The truncation keeps each lane's low byte.
            _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)))
        }

        pub(crate) fn pack_pairs(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let (even, odd) = even_odd(code(x[0]), code(x[1]));
            let nib = _mm512_set1_epi32(0x0F);
            let bytes = _mm512_or_si512(
                _mm512_and_si512(even, nib),
                _mm512_slli_epi32::<4>(_mm512_and_si512(odd, nib)),
            );
            _mm512_cvtepi32_epi8(bytes)
        }

        pub(crate) fn e2m1_block(x: Block, e: u8, k: f32) -> Bytes16 {
            /// `lanes::E2M1_LUT` as int32 lanes, for `vpermi2d`.
            const E2M1_LUT32: [i32; 32] = {
                let mut t = [0i32; 32];
                let mut c = 0;
                while c < 32 {
                    t[c] = super::super::E2M1_LUT[c] as i32;
                    c += 1;
                }
                t
            };
            let scale2 = splat(k);
            let cap = splat(if e == 253 { 14.0 } else { 31.0 });
            // SAFETY: a 32-element array.
            let (lut_lo, lut_hi) = unsafe {
                (
                    _mm512_loadu_si512(E2M1_LUT32.as_ptr().cast()),
                    _mm512_loadu_si512(E2M1_LUT32.as_ptr().add(16).cast()),
                )
            };
            let (lo, hi) = (
                e2m1_codes(x[0], scale2, cap, lut_lo, lut_hi),
                e2m1_codes(x[1], scale2, cap, lut_lo, lut_hi),
            );
            // Codes 0..=15: `pack_ggml` without its minimum (which would cost 2 of the loop's 20
            // instructions here).
            _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)))
        }

        /// The division-free quotient (FMA) where `fast`, else a true division.
        pub(crate) fn group_codes(x: F, scale: F, r: F, zp: F, fast: bool) -> I {
            if fast {
                codes16_bounded(x, scale, r, zp)
            } else {
                codes16(x, scale, zp)
            }
        }

        /// Reduces 16 vectors to one: lane b of the result combines all lanes of `m[b]` with `op`
        /// (associative and commutative: max, min). Four levels pair the halves, quarters, pairs and
        /// single lanes of two inputs at a time (each step combines partial results of one block only),
        /// then a permutation puts block b in lane b.
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
        pub(crate) fn to_f16_bits(v: __m512) -> __m256i {
            _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v)
        }

        /// The E8M0 scale byte (the reference's `scale_byte`) of 16 finite magnitudes (as bits), lane by lane, with the same integer
        /// steps: `floor(log2f(amax))` is the exponent of amax, plus one when amax is among the
        /// `floats_rounding_up_to(k)` floats just below 2^k, k = exponent + 1; that count is 0 for
        /// k = 0 and otherwise depends on j = 24 - floor(log2 |k|) (25 - for positive powers of two).
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
            // Counts by j - 16 (j is 18..=25 for k != 0; see the reference's `floats_rounding_up_to`).
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
        pub(crate) unsafe fn load(p: *const f32) -> F {
            // SAFETY: the caller passes 16 readable floats.
            unsafe { _mm512_loadu_ps(p) }
        }

        /// Lane b: `p[32 b]`. Safety: `p[32 b]` readable for every b < `L`.
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
        pub(crate) fn shl_i<const N: u32>(a: I) -> I {
            _mm512_slli_epi32::<N>(a)
        }

        /// Logical `a >> N`.
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

        pub(crate) fn table16(i: I, t: [F; 16 / L]) -> F {
            _mm512_permutexvar_ps(i, t[0])
        }

        /// Safety: 16 readable bytes at `p`.
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
        pub(crate) unsafe fn store_nibbles(lo: I, hi: I, p: *mut u8) {
            let b = _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)));
            // SAFETY: the caller passes 16 writable bytes.
            unsafe { _mm_storeu_si128(p.cast(), b) }
        }

        /// Safety: 8 readable bytes at `p`.
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

        pub(crate) fn pack16(c: [I; 16 / L]) -> u64 {
            // Codes below 16: the 16-bit shift keeps each nibble in its byte.
            let b = _mm512_cvtepi32_epi8(c[0]);
            _mm_cvtsi128_si64(_mm_or_si128(b, _mm_slli_epi16::<4>(_mm_srli_si128::<8>(b)))) as u64
        }

        // Primitives of simd::nl_search.

        /// Safety: `32 L` readable floats at `p`; vector j gets element j of each of the L blocks of 32 there (lane b: block b).
        pub(crate) unsafe fn load_columns(p: *const f32) -> [F; 32] {
            let at = _mm512_setr_epi32(
                0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 480,
            );
            // SAFETY: lane b of vector j reads p[32 b + j], within the caller's 512.
            core::array::from_fn(|j| unsafe { _mm512_i32gather_ps::<4>(at, p.add(j).cast()) })
        }

        /// Width of the buckets of the nearest-entry lookup, as the reciprocal the lookup multiplies
        /// by: bucket `k = round(v * 4 / 41)` covers `[(k - 1/2) 10.25, (k + 1/2) 10.25)`.
        /// Neighbouring midpoints of the codebook are at least 11.5 apart, so no bucket holds two,
        /// and the width is chosen so that no midpoint is within 0.6 of a bucket boundary (both
        /// checked when [`BUCKETS`] is evaluated, at compile time).
        const BUCKET_SCALE: f32 = 4.0 / 41.0;

        // With MAGIC = 1.5 * 2^23, `v * BUCKET_SCALE + MAGIC`, rounded once, is `MAGIC + k` with the
        // bucket `k` (two's complement) in the low mantissa bits; the permutes read the low five
        // bits, i.e. `k mod 32`, which is one-to-one for the buckets in use (`|k| <= 13`).

        /// Per bucket `k` (at index `k mod 32`, k = -16..=15): how many midpoints of neighbouring
        /// codebook values lie below the bucket, the codebook value that count selects, and the
        /// midpoint inside the bucket (+inf if none).
        struct Buckets {
            base: [i32; 32],
            qlo: [f32; 32],
            mid: [f32; 32],
        }

        const BUCKETS: Buckets = {
            use super::super::{NL_KV as KV, NL_MID as MID};
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
                    let mid = MID[m];
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

        /// The nearest-entry search's tables ([`BUCKETS`], each as its entries 0..16 and 16..32),
        /// loaded once per kernel call.
        #[derive(Clone, Copy)]
        pub(crate) struct NlTables {
            base: (I, I),
            qlo: (F, F),
            mid: (F, F),
        }

        /// Loads [`NlTables`].
        pub(crate) fn nl_tables() -> NlTables {
            let t = &BUCKETS;
            // SAFETY: arrays of 32 elements, read in two halves of 16.
            unsafe {
                let f = |a: &[f32; 32]| {
                    (
                        _mm512_loadu_ps(a.as_ptr()),
                        _mm512_loadu_ps(a.as_ptr().add(16)),
                    )
                };
                NlTables {
                    base: (
                        _mm512_loadu_si512(t.base.as_ptr().cast()),
                        _mm512_loadu_si512(t.base.as_ptr().add(16).cast()),
                    ),
                    qlo: f(&t.qlo),
                    mid: f(&t.mid),
                }
            }
        }

        /// The bucket of each lane, in the low five bits (see [`MAGIC`]). The fused multiply-add is
        /// no reference operation: it only picks a bucket, and a value within rounding of a bucket
        /// boundary counts the same midpoints in either neighbour.
        fn nl_bucket(v: F) -> I {
            _mm512_castps_si512(_mm512_fmadd_ps(v, splat(BUCKET_SCALE), splat(MAGIC)))
        }

        /// `nl_codebook::best_index` of each lane (any float, NaN included).
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
        pub(crate) fn nl_index(v: F, t: NlTables) -> I {
            let xc = max_f(min_f(v, splat(113.0)), splat(-127.0));
            let b = nl_bucket(xc);
            let base = _mm512_permutex2var_epi32(t.base.0, b, t.base.1);
            let mid = _mm512_permutex2var_ps(t.mid.0, b, t.mid.1);
            let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(xc, mid);
            _mm512_mask_add_epi32(base, up, base, _mm512_set1_epi32(1))
        }

        /// `KV[nl_codebook::best_index(v)]` of each lane, for `|v| <= 134.01` (every value of the scale
        /// search: `|x| <= |max|` and the inverse scales are at most 134 / |max|, up to rounding).
        /// No clamp is needed: those values fall in buckets -13..=13, which the table holds; beyond
        /// the codebook's ends the buckets hold no midpoint and give the end values, as the
        /// reference does.
        pub(crate) fn nl_nearest(v: F, t: NlTables) -> F {
            let b = nl_bucket(v);
            let qlo = _mm512_permutex2var_ps(t.qlo.0, b, t.qlo.1);
            let mid = _mm512_permutex2var_ps(t.mid.0, b, t.mid.1);
            let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, mid);
            // At or above the midpoint: the upper neighbour, 2 mid - lo (exact: small integers and
            // halves). One instruction, fused or not.
            _mm512_mask3_fmsub_ps(mid, splat(2.0), qlo, up)
        }

        // Primitives of simd::dequantize_blocks.

        /// 16 small integers for [`ggml_values`], as floats (exact).
        pub(crate) type ByteTable = F;

        /// Loads a [`ByteTable`].
        pub(crate) fn byte_table(t: &[i8; 16]) -> ByteTable {
            from_lanes(t.map(f32::from))
        }

        /// Safety: 16 readable bytes at `p`; `t[code]` as floats for the ggml block's 32 codes there (element j: byte j's low nibble, j + 16: its high one).
        pub(crate) unsafe fn ggml_values(p: *const u8, t: ByteTable) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let v = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(p.cast()) });
            // The permutes read the low four bits of each lane: byte j's low nibble, then its high one.
            [
                _mm512_permutexvar_ps(v, t),
                _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(v), t),
            ]
        }

        /// Safety: 16 readable bytes at `p`; the ggml block's 32 codes there as floats (in the order of [`ggml_values`]).
        pub(crate) unsafe fn ggml_codes(p: *const u8) -> Block {
            let t = from_lanes(core::array::from_fn(|i| i as f32));
            // SAFETY: the caller passes 16 readable bytes.
            unsafe { ggml_values(p, t) }
        }

        /// Safety: 16 readable bytes at `p`; their 32 int4 codes (-8..=7), two per byte, the first in the low nibble.
        pub(crate) unsafe fn unpack_pairs(p: *const u8) -> [I; 2] {
            // SAFETY: the caller passes 16 readable bytes.
            let v = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(p.cast()) });
            // Each nibble moved to the top bits and shifted back arithmetically: sign-extended.
            let lo = _mm512_srai_epi32::<28>(_mm512_slli_epi32::<28>(v));
            let hi = _mm512_srai_epi32::<28>(_mm512_slli_epi32::<24>(v));
            let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
            [
                _mm512_permutex2var_epi32(lo, first, hi),
                _mm512_permutex2var_epi32(lo, second, hi),
            ]
        }

        /// The finite binary16 `h` as f32 (`vcvtph2ps` is exact, as `fp16::f16_to_f32`).
        pub(crate) fn f16_to_f32(h: u16) -> f32 {
            _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h))))
        }

        // Primitives of simd::half: as AVX2's (which see), with AVX-512F's conversions.

        /// Safety: 16 readable halves at `p`.
        pub(crate) unsafe fn load_f16(p: *const u16) -> F {
            // SAFETY: the caller passes 16 readable halves.
            _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.cast()) })
        }

        /// Safety: 16 writable halves at `p`.
        pub(crate) unsafe fn store_f16(v: F, p: *mut u16) {
            let h = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            // SAFETY: the caller passes 16 writable halves.
            unsafe { _mm256_storeu_si256(p.cast(), h) }
        }

        /// Safety: 16 readable halves at `p`.
        pub(crate) unsafe fn load_bf16(p: *const u16) -> F {
            // SAFETY: the caller passes 16 readable halves.
            let h = _mm512_cvtepu16_epi32(unsafe { _mm256_loadu_si256(p.cast()) });
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(h))
        }

        /// As AVX2's `store_bf16`, 16 floats. Safety: 16 writable halves at `p`.
        pub(crate) unsafe fn store_bf16(v: F, p: *mut u16) {
            let b = _mm512_castps_si512(v);
            let hi = _mm512_srli_epi32::<16>(b);
            let lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
            let bias = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb);
            let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(b, bias));
            let abs = _mm512_and_si512(b, _mm512_set1_epi32(0x7fff_ffff));
            let nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
            let quiet = _mm512_or_si512(hi, _mm512_set1_epi32(0x40));
            // Every lane is at most 0xffff: the truncating narrow keeps it whole.
            let h = _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
            // SAFETY: the caller passes 16 writable halves.
            unsafe { _mm256_storeu_si256(p.cast(), h) }
        }

        // Primitives of simd::codebook.

        /// A 16-entry float table for [`codebook_values`].
        pub(crate) type FloatTable = F;

        /// Loads a [`FloatTable`].
        pub(crate) fn float_table(t: &[f32; 16]) -> FloatTable {
            from_lanes(*t)
        }

        /// Safety: 16 readable bytes at `p`; `t[code]` for their 32 codes, two per byte, the first in the high nibble.
        pub(crate) unsafe fn codebook_values(p: *const u8, t: FloatTable) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let lo = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(p.cast()) });
            let hi = _mm512_srli_epi32::<4>(lo);
            let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
            // Element 2j is byte j's high nibble, element 2j + 1 its low nibble (the permutes read
            // the low four bits of each lane).
            let (h, l) = (_mm512_permutexvar_ps(hi, t), _mm512_permutexvar_ps(lo, t));
            [
                _mm512_permutex2var_ps(h, first, l),
                _mm512_permutex2var_ps(h, second, l),
            ]
        }

        /// Bucket tables of the codebook encoders: the scaled value's range is cut into buckets of
        /// 1/16; for each, the number of thresholds below the bucket, and the one threshold inside it
        /// (+inf if none). Every bucket holds at most one threshold and no threshold lies within 0.001
        /// of a bucket edge (the closest, 0.5016634, is 0.0017 above 1/2), far more than the one
        /// rounding of the bucket position, so a value rounded into a neighbouring bucket still counts
        /// the same thresholds; the count is then exact: the thresholds below the bucket, plus the one
        /// inside if the value is strictly above it (as the references compare).
        #[derive(Clone, Copy)]
        pub(crate) struct CodebookTables {
            /// The sorted codebook, 32 buckets over [-1, 1]: count below, threshold inside.
            sorted_base: (I, I),
            sorted_thr: (F, F),
            /// The magnitudes, 16 buckets over [0, 1]: code of the rank below and of the rank above
            /// the threshold inside, and the threshold.
            magnitude_lo: I,
            magnitude_hi: I,
            magnitude_thr: F,
        }

        /// For each of `B` buckets of 1/16 from `start`: the number of thresholds below it and the
        /// one inside it (+inf if none). Evaluated at compile time.
        const fn bucket_counts<const B: usize>(thresholds: &[f32], start: f32) -> ([i32; B], [f32; B]) {
            let mut base = [0i32; B];
            let mut thr = [f32::INFINITY; B];
            let mut b = 0;
            while b < B {
                let (lo, hi) = (start + b as f32 / 16.0, start + (b + 1) as f32 / 16.0);
                let mut i = 0;
                while i < thresholds.len() {
                    let t = thresholds[i];
                    if t < lo {
                        base[b] += 1;
                    } else if t < hi {
                        thr[b] = t;
                    }
                    i += 1;
                }
                b += 1;
            }
            (base, thr)
        }

        const SORTED_BUCKETS: ([i32; 32], [f32; 32]) =
            bucket_counts(&crate::reference::codebook::tables::SORTED_THRESHOLDS, -1.0);
        const MAGNITUDE_BUCKETS: ([i32; 16], [f32; 16]) =
            bucket_counts(&crate::reference::codebook::tables::MAGNITUDE_THRESHOLDS, 0.0);

        /// Magnitude codes by bucket: of the rank below the bucket's threshold (`UP` false) or above it.
        const fn magnitude_bucket_codes<const UP: bool>() -> [i32; 16] {
            let mut c = [0i32; 16];
            let mut b = 0;
            while b < 16 {
                let mut r = MAGNITUDE_BUCKETS.0[b] as usize + UP as usize;
                if r > 7 {
                    r = 7;
                }
                c[b] = crate::reference::codebook::tables::CODE_BY_RANK[r] as i32;
                b += 1;
            }
            c
        }

        const MAGNITUDE_LO: [i32; 16] = magnitude_bucket_codes::<false>();
        const MAGNITUDE_HI: [i32; 16] = magnitude_bucket_codes::<true>();

        /// Loads [`CodebookTables`].
        pub(crate) fn codebook_tables() -> CodebookTables {
            let (nb, nt) = (&SORTED_BUCKETS.0, &SORTED_BUCKETS.1);
            // SAFETY: arrays of 32 and 16 elements.
            unsafe {
                CodebookTables {
                    sorted_base: (
                        _mm512_loadu_si512(nb.as_ptr().cast()),
                        _mm512_loadu_si512(nb.as_ptr().add(16).cast()),
                    ),
                    sorted_thr: (
                        _mm512_loadu_ps(nt.as_ptr()),
                        _mm512_loadu_ps(nt.as_ptr().add(16)),
                    ),
                    magnitude_lo: _mm512_loadu_si512(MAGNITUDE_LO.as_ptr().cast()),
                    magnitude_hi: _mm512_loadu_si512(MAGNITUDE_HI.as_ptr().cast()),
                    magnitude_thr: _mm512_loadu_ps(MAGNITUDE_BUCKETS.1.as_ptr()),
                }
            }
        }

        /// The sorted codebook's encoder (`codebook::scalar`) of each lane (the number of thresholds strictly below v;
        /// NaN: 0). The value is clamped to [-1, 1] first, which keeps that count (every threshold
        /// is inside) and sends NaN to -1 (`max` returns its second operand for NaN), i.e. code 0;
        /// the bucket is `16 v + 16`, rounded once.
        pub(crate) fn sorted_codes(v: F, t: &CodebookTables) -> I {
            let vc = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-1.0)), _mm512_set1_ps(1.0));
            let u = _mm512_fmadd_ps(vc, _mm512_set1_ps(16.0), _mm512_set1_ps(16.0));
            let b = _mm512_min_epi32(_mm512_cvttps_epi32(u), _mm512_set1_epi32(31));
            let base = _mm512_permutex2var_epi32(t.sorted_base.0, b, t.sorted_base.1);
            let thr = _mm512_permutex2var_ps(t.sorted_thr.0, b, t.sorted_thr.1);
            let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(vc, thr);
            _mm512_mask_add_epi32(base, gt, base, _mm512_set1_epi32(1))
        }

        /// The sign-magnitude codebook's encoder (`codebook::scalar`) of each lane: the rank of |v| among the magnitude
        /// thresholds (strictly greater; NaN: 0) mapped through `CODE_BY_RANK`, plus the sign
        /// bit when v < 0. |v| is clamped to [0, 1] first (NaN to 0 by `max`, keeping every rank),
        /// the bucket is `16 |v|`.
        pub(crate) fn sign_magnitude_codes(v: F, t: &CodebookTables) -> I {
            let m = bits_f(abs_bits(v));
            let mc = _mm512_min_ps(_mm512_max_ps(m, _mm512_setzero_ps()), _mm512_set1_ps(1.0));
            let b = _mm512_cvttps_epi32(_mm512_mul_ps(mc, _mm512_set1_ps(16.0)));
            let b = _mm512_min_epi32(b, _mm512_set1_epi32(15));
            let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(mc, _mm512_permutexvar_ps(b, t.magnitude_thr));
            let code = _mm512_mask_blend_epi32(
                gt,
                _mm512_permutexvar_epi32(b, t.magnitude_lo),
                _mm512_permutexvar_epi32(b, t.magnitude_hi),
            );
            let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_setzero_ps());
            _mm512_mask_or_epi32(code, neg, code, _mm512_set1_epi32(8))
        }

        /// Packs a block's 32 codes (0..=15) two per byte, the first in the high nibble.
        pub(crate) fn pack_hi_first(x: Block, code: impl Fn(F) -> I) -> Bytes16 {
            let (even, odd) = even_odd(code(x[0]), code(x[1]));
            _mm512_cvtepi32_epi8(_mm512_or_si512(_mm512_slli_epi32::<4>(even), odd))
        }

        /// The largest lane, unsigned.
        pub(crate) fn max_lane_u(v: I) -> u32 {
            _mm512_reduce_max_epu32(v)
        }

        // Primitives of simd::int4.

        /// `acc` with the lanes marked where some `|v[j]|` (as bits) exceeds `limit` (see [`any_marked`]).
        pub(crate) fn mark_above(acc: I, v: [F; 4], _limit: I) -> I {
            // The largest |x| bits, by a tree: one step per call in the chain through `acc`.
            let a = v.map(|v| abs_bits(v));
            max_u(acc, max_u(max_u(a[0], a[1]), max_u(a[2], a[3])))
        }

        /// Whether some lane of a [`mark_above`] accumulator (from `splat_i(0)`) is marked.
        pub(crate) fn any_marked(acc: I, limit: I) -> bool {
            _mm512_cmpgt_epu32_mask(acc, limit) != 0
        }

        /// Safety: L readable bytes at `p`; they are int8 codes, sign-extended.
        pub(crate) unsafe fn load_i8(p: *const i8) -> I {
            // SAFETY: the caller passes 16 readable bytes.
            _mm512_cvtepi8_epi32(unsafe { _mm_loadu_si128(p.cast()) })
        }

        /// Safety: 32 writable bytes at `p`; stores a block's 32 codes (-8..=7) there, one per byte.
        pub(crate) unsafe fn store_codes(x: Block, code: impl Fn(F) -> I, p: *mut i8) {
            let (a, b) = (code(x[0]), code(x[1]));
            // SAFETY: the caller passes 32 writable bytes.
            unsafe {
                _mm_storeu_si128(p.cast(), _mm512_cvtepi32_epi8(a));
                _mm_storeu_si128(p.add(16).cast(), _mm512_cvtepi32_epi8(b));
            }
        }

        /// `clamp(rne(x / scale) + zp, -8, 7)` for any finite x and positive scale: the
        /// division-free quotient (`avx512::codes16_fast`, x clamped first) where `fast`
        /// (`fast_scale(scale)`, `r = 1 / scale`), else a true division.
        pub(crate) fn int4_codes(x: F, scale: F, r: F, zp: F, fast: bool) -> I {
            if fast {
                codes16_fast(x, scale, r, zp)
            } else {
                codes16(x, scale, zp)
            }
        }

        /// `CODES` int8 codes (one per byte) in one vector.
        pub(crate) type Codes = __m512i;
        pub(crate) const CODES: usize = 64;

        /// Safety: `CODES` readable bytes at `p`.
        pub(crate) unsafe fn load_codes(p: *const i8) -> Codes {
            // SAFETY: the caller passes 64 readable bytes.
            unsafe { _mm512_loadu_si512(p.cast()) }
        }

        ops! { "avx512f,avx512bw,avx512dq,avx512vl";
            zero_codes() -> Codes = _mm512_setzero_si512();
            or_codes(a: Codes, b: Codes) -> Codes = _mm512_or_si512(a, b);
            code_offsets(v: Codes) -> Codes = _mm512_add_epi8(v, _mm512_set1_epi8(8));
            any_high_nibble(v: Codes) -> bool = _mm512_test_epi8_mask(v, _mm512_set1_epi8(-16)) != 0;
        }

        /// Safety: `CODES / 2` writable bytes at `p`; the codes (-8..=7) two per byte, the first in the low nibble.
        pub(crate) unsafe fn pack_codes(v: Codes, p: *mut u8) {
            let nibbles = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
            // Each 16-bit lane becomes lo + 16 * hi (at most 255), then one byte.
            let pairs = _mm512_maddubs_epi16(nibbles, _mm512_set1_epi16(0x1001));
            // SAFETY: the caller passes 32 writable bytes.
            unsafe { _mm256_storeu_si256(p.cast(), _mm512_cvtepi16_epi8(pairs)) }
        }

        /// Safety: 32 readable bytes at `p`, and 64 writable ones at `q`: their codes, two per byte (the first in the low nibble), sign-extended.
        pub(crate) unsafe fn unpack_codes(p: *const u8, q: *mut i8) {
            // SAFETY: the caller passes 32 readable bytes.
            let b = _mm512_cvtepu8_epi16(unsafe { _mm256_loadu_si256(p.cast()) });
            // Each 16-bit lane: low byte = low nibble (element 2i), high byte = high nibble.
            let lo = _mm512_and_si512(b, _mm512_set1_epi16(0x0F));
            let hi = _mm512_slli_epi16::<4>(_mm512_and_si512(b, _mm512_set1_epi16(0xF0)));
            // Sign-extend a nibble n: (n ^ 8) - 8.
            let eight = _mm512_set1_epi8(8);
            let codes = _mm512_sub_epi8(_mm512_xor_si512(_mm512_or_si512(lo, hi), eight), eight);
            // SAFETY: the caller passes 64 writable bytes.
            unsafe { _mm512_storeu_si512(q.cast(), codes) }
        }

        /// `code - zp` by nibble, as bytes (-15..=15), and the scale, for [`int4_values`].
        pub(crate) type Int4Table = (__m128i, F);

        /// Builds an [`Int4Table`].
        pub(crate) fn int4_table(scale: f32, zp: i8) -> Int4Table {
            let codes = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
            (_mm_sub_epi8(codes, _mm_set1_epi8(zp)), splat(scale))
        }

        /// Safety: 16 readable bytes at `p`; `scalar::dequantize_one` of their 32 codes, two per byte, the first in the low nibble (an exact integer difference, converted exactly, one rounding).
        pub(crate) unsafe fn int4_values(p: *const u8, t: Int4Table) -> Block {
            // SAFETY: the caller passes 16 readable bytes.
            let b = unsafe { _mm_loadu_si128(p.cast()) };
            let m = _mm_set1_epi8(0x0F);
            let (lo, hi) = (
                _mm_and_si128(b, m),
                _mm_and_si128(_mm_srli_epi16::<4>(b), m),
            );
            // Element order: byte j's low nibble, then its high nibble.
            let f = |v| {
                mul(
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_shuffle_epi8(t.0, v))),
                    t.1,
                )
            };
            [f(_mm_unpacklo_epi8(lo, hi)), f(_mm_unpackhi_epi8(lo, hi))]
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::reference::formats::fp16::f32_to_f16;
    use crate::reference::formats::mxfp4;

    /// Runs `f` with AVX2 lanes and with AVX-512 lanes, where the CPU has them.
    macro_rules! each_level {
        (|$l:ident $(, $a:ident: $t:ty)?| $body:block) => {{
            if super::avx2_available() {
                use super::avx2 as $l;
                #[target_feature(enable = "avx2,f16c")]
                fn run($($a: $t)?) $body
                // SAFETY: AVX2 and F16C are available.
                unsafe { run($($a)?) };
            }
            if super::avx512_available() {
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
    fn the_avx2_e2m1_byte_tables_are_the_lut() {
        // The literal tables of `avx2::e2m1_block`.
        let lo = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6];
        let hi = [6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
        assert_eq!(super::super::E2M1_LUT[..16], lo);
        assert_eq!(super::super::E2M1_LUT[16..], hi);
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
