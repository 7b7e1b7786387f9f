//! AVX2 kernels (8 floats per vector). Each equals the scalar reference bit for bit: the same
//! operations in the same order per element (true division, ties-to-even rounding, one rounding
//! per multiply, no fused multiply-add), with the remainder of a slice handled by the scalar
//! code itself.

use super::super::{scalar, ErrorSums, Kernels, Range};
use crate::Result;
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::super::Level::Avx2,
    scan,
    quantize,
    quantize_packed,
    dequantize,
    dequantize_packed,
    find_invalid_code,
    pack,
    unpack,
    error_sums,
    widen_f16: super::half::avx2_widen_f16,
    widen_bf16: super::half::avx2_widen_bf16,
    narrow_f16: super::half::avx2_narrow_f16,
    narrow_bf16: super::half::avx2_narrow_bf16,
    blocks: &super::avx2_blocks::BLOCKS,
};

/// True when this CPU can run these kernels (AVX2, and F16C for the block formats' fp16
/// scales: every AVX2 CPU has it).
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c")
}

/// How far ahead (in floats) the streaming loops prefetch (see `avx512::AHEAD`).
pub(crate) const AHEAD: usize = 2048;

/// Prefetches the 64-byte line holding `p` (any address: a prefetch never faults).
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    // SAFETY: prefetching has no architectural effect and accepts any address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
}

// The public wrappers below are only reachable through `KERNELS`, which `kernels::levels()`
// hands out only when `available()` is true: that is the safety argument of every
// `unsafe { ..._impl(..) }` call in this file.

fn scan(src: &[f32]) -> Result<Range> {
    if src.len() < 8 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return scalar::scan(src);
    }
    // SAFETY: AVX2 is available (see above).
    unsafe { scan_impl(src) }
}

#[target_feature(enable = "avx2")]
unsafe fn scan_impl(src: &[f32]) -> Result<Range> {
    let abs_mask = _mm256_set1_epi32(0x7FFF_FFFF);
    // |x| as an integer is above this for NaN, ±Inf and beyond ±2^126.
    let limit = _mm256_set1_epi32(scalar::MAX_INPUT.to_bits() as i32);
    let mut bad = _mm256_setzero_si256();
    let mut lo = [_mm256_set1_ps(f32::INFINITY); 4];
    let mut hi = [_mm256_set1_ps(f32::NEG_INFINITY); 4];
    // Four independent accumulators over 32 floats, then one over 8, then scalar.
    let (n, p) = (src.len(), src.as_ptr());
    let mut i = 0;
    while i + 32 <= n {
        prefetch(p.wrapping_add(i + AHEAD));
        prefetch(p.wrapping_add(i + AHEAD + 16));
        for j in 0..4 {
            // SAFETY: i + 32 <= n.
            let v = unsafe { _mm256_loadu_ps(p.add(i + 8 * j)) };
            let a = _mm256_and_si256(_mm256_castps_si256(v), abs_mask);
            bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(a, limit));
            lo[j] = _mm256_min_ps(lo[j], v);
            hi[j] = _mm256_max_ps(hi[j], v);
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let v = unsafe { _mm256_loadu_ps(p.add(i)) };
        let a = _mm256_and_si256(_mm256_castps_si256(v), abs_mask);
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(a, limit));
        lo[0] = _mm256_min_ps(lo[0], v);
        hi[0] = _mm256_max_ps(hi[0], v);
        i += 8;
    }
    let tail = &src[i..];
    if _mm256_testz_si256(bad, bad) == 0 {
        // The scalar scan finds the first bad element and its kind.
        return scalar::scan(src);
    }
    let lo = _mm256_min_ps(_mm256_min_ps(lo[0], lo[1]), _mm256_min_ps(lo[2], lo[3]));
    let hi = _mm256_max_ps(_mm256_max_ps(hi[0], hi[1]), _mm256_max_ps(hi[2], hi[3]));
    let (mut lo_l, mut hi_l) = ([0.0f32; 8], [0.0f32; 8]);
    // SAFETY: 8-element arrays.
    unsafe {
        _mm256_storeu_ps(lo_l.as_mut_ptr(), lo);
        _mm256_storeu_ps(hi_l.as_mut_ptr(), hi);
    }
    let mut r = if tail.is_empty() {
        Range {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    } else {
        scalar::scan(tail)?
    };
    for (&l, &h) in lo_l.iter().zip(&hi_l) {
        if l < r.min {
            r.min = l;
        }
        if h > r.max {
            r.max = h;
        }
    }
    Ok(r)
}

/// `clamp(rne(x / scale) + zp, -8, 7)` as 8 int32 lanes. The clamp happens in float: for any
/// finite x and positive scale this equals the scalar's saturating integer arithmetic.
#[inline]
#[target_feature(enable = "avx2")]
fn codes8(x: __m256, scale: __m256, zp: __m256) -> __m256i {
    let q = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_div_ps(
        x, scale,
    ));
    let q = _mm256_add_ps(q, zp);
    let q = _mm256_min_ps(_mm256_max_ps(q, _mm256_set1_ps(-8.0)), _mm256_set1_ps(7.0));
    _mm256_cvtps_epi32(q)
}

/// 32 codes, in element order, as bytes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn codes32(p: *const f32, scale: __m256, zp: __m256) -> __m256i {
    // SAFETY: the caller guarantees 32 readable floats at `p`.
    let (a, b, c, d) = unsafe {
        (
            codes8(_mm256_loadu_ps(p), scale, zp),
            codes8(_mm256_loadu_ps(p.add(8)), scale, zp),
            codes8(_mm256_loadu_ps(p.add(16)), scale, zp),
            codes8(_mm256_loadu_ps(p.add(24)), scale, zp),
        )
    };
    // packs work within 128-bit lanes; the permute restores element order.
    let ab = _mm256_packs_epi32(a, b);
    let cd = _mm256_packs_epi32(c, d);
    let bytes = _mm256_packs_epi16(ab, cd);
    _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// Packs 32 codes (bytes in -8..7, element order) into 16 bytes, low nibble first.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn pack32(codes: __m256i) -> __m128i {
    let nibbles = _mm256_and_si256(codes, _mm256_set1_epi8(0x0F));
    // Each 16-bit lane becomes lo + 16 * hi (at most 255).
    let pairs = _mm256_maddubs_epi16(nibbles, _mm256_set1_epi16(0x1001));
    let bytes = _mm256_packus_epi16(pairs, pairs);
    _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(bytes))
}

fn quantize(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    if src.len() < 32 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.quantize)(src, scale, zp, dst);
    }
    // SAFETY: AVX2 is available.
    unsafe { quantize_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn quantize_impl(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    let (s, z) = (_mm256_set1_ps(scale), _mm256_set1_ps(f32::from(zp)));
    let whole = src.len() / 32 * 32;
    for i in (0..whole).step_by(32) {
        // SAFETY: i + 32 <= whole <= src.len() == dst.len().
        unsafe {
            prefetch(src.as_ptr().wrapping_add(i + AHEAD));
            prefetch(src.as_ptr().wrapping_add(i + AHEAD + 16));
            let c = codes32(src.as_ptr().add(i), s, z);
            _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), c);
        }
    }
    (scalar::KERNELS.quantize)(&src[whole..], scale, zp, &mut dst[whole..]);
}

fn quantize_packed(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    if src.len() < 32 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.quantize_packed)(src, scale, zp, dst);
    }
    // SAFETY: AVX2 is available.
    unsafe { quantize_packed_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn quantize_packed_impl(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    let (s, z) = (_mm256_set1_ps(scale), _mm256_set1_ps(f32::from(zp)));
    let whole = src.len() / 32 * 32;
    for i in (0..whole).step_by(32) {
        // SAFETY: 32 floats at i; 16 bytes at i/2 (dst.len() == ceil(src.len()/2)).
        unsafe {
            prefetch(src.as_ptr().wrapping_add(i + AHEAD));
            prefetch(src.as_ptr().wrapping_add(i + AHEAD + 16));
            let c = codes32(src.as_ptr().add(i), s, z);
            _mm_storeu_si128(dst.as_mut_ptr().add(i / 2).cast(), pack32(c));
        }
    }
    (scalar::KERNELS.quantize_packed)(&src[whole..], scale, zp, &mut dst[whole / 2..]);
}

/// The 16 possible outputs `(code - zp) * scale`, indexed by nibble (0..15 = codes 0..7, -8..-1),
/// computed by the scalar formula so a table lookup is bit-identical to it.
fn table(scale: f32, zp: i8) -> [f32; 16] {
    core::array::from_fn(|nib| {
        let code = if nib < 8 { nib as i8 } else { nib as i8 - 16 };
        scalar::dequantize_one(code, scale, zp)
    })
}

fn dequantize(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    if dst.len() < 8 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.dequantize)(src, scale, zp, dst);
    }
    // SAFETY: AVX2 is available.
    unsafe { dequantize_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn dequantize_impl(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    let s = _mm256_set1_ps(scale);
    let z = _mm256_set1_epi32(i32::from(zp));
    let whole = src.len() / 8 * 8;
    for i in (0..whole).step_by(8) {
        // SAFETY: 8 codes and 8 floats at i are in bounds.
        unsafe {
            let q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(src.as_ptr().add(i).cast()));
            let y = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, z)), s);
            _mm256_storeu_ps(dst.as_mut_ptr().add(i).cast(), y);
        }
    }
    (scalar::KERNELS.dequantize)(&src[whole..], scale, zp, &mut dst[whole..]);
}

fn dequantize_packed(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    if dst.len() < 8 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.dequantize_packed)(src, scale, zp, dst);
    }
    // SAFETY: AVX2 is available.
    unsafe { dequantize_packed_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn dequantize_packed_impl(
    src: &[u8],
    scale: f32,
    zp: i8,
    dst: &mut [MaybeUninit<f32>],
) {
    let t = table(scale, zp);
    // SAFETY: 16-element array.
    let (t_lo, t_hi) = unsafe {
        (
            _mm256_loadu_ps(t.as_ptr()),
            _mm256_loadu_ps(t.as_ptr().add(8)),
        )
    };
    // Lane j takes nibble j of a little-endian 32-bit word: element order.
    let shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    let whole = dst.len() / 8 * 8;
    for i in (0..whole).step_by(8) {
        // SAFETY: 4 bytes at i/2 (src.len() == ceil(dst.len()/2)) and 8 floats at i.
        unsafe {
            let word = (src.as_ptr().add(i / 2) as *const u32).read_unaligned();
            let idx = _mm256_and_si256(
                _mm256_srlv_epi32(_mm256_set1_epi32(word as i32), shifts),
                _mm256_set1_epi32(0xF),
            );
            let lo = _mm256_permutevar8x32_ps(t_lo, idx);
            let hi = _mm256_permutevar8x32_ps(t_hi, idx);
            // Bit 3 of the nibble selects the upper half of the table.
            let sel = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx));
            _mm256_storeu_ps(
                dst.as_mut_ptr().add(i).cast(),
                _mm256_blendv_ps(lo, hi, sel),
            );
        }
    }
    (scalar::KERNELS.dequantize_packed)(&src[whole / 2..], scale, zp, &mut dst[whole..]);
}

fn find_invalid_code(src: &[i8]) -> Option<usize> {
    // SAFETY: AVX2 is available.
    unsafe { find_invalid_code_impl(src) }
}

#[target_feature(enable = "avx2")]
unsafe fn find_invalid_code_impl(src: &[i8]) -> Option<usize> {
    let whole = src.len() / 32 * 32;
    let mut bad = _mm256_setzero_si256();
    for i in (0..whole).step_by(32) {
        // SAFETY: 32 bytes at i.
        let v = unsafe { _mm256_loadu_si256(src.as_ptr().add(i).cast()) };
        // Valid codes -8..7 become 0..15: any bit of the high nibble marks a bad one.
        bad = _mm256_or_si256(bad, _mm256_add_epi8(v, _mm256_set1_epi8(8)));
    }
    let any_bad = _mm256_testz_si256(bad, _mm256_set1_epi8(-16)) == 0;
    if any_bad {
        return (scalar::KERNELS.find_invalid_code)(&src[..whole]);
    }
    (scalar::KERNELS.find_invalid_code)(&src[whole..]).map(|i| i + whole)
}

fn pack(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    // SAFETY: AVX2 is available.
    unsafe { pack_impl(src, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn pack_impl(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    let whole = src.len() / 32 * 32;
    for i in (0..whole).step_by(32) {
        // SAFETY: 32 codes at i, 16 bytes at i/2.
        unsafe {
            let c = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            _mm_storeu_si128(dst.as_mut_ptr().add(i / 2).cast(), pack32(c));
        }
    }
    (scalar::KERNELS.pack)(&src[whole..], &mut dst[whole / 2..]);
}

fn unpack(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    // SAFETY: AVX2 is available.
    unsafe { unpack_impl(src, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn unpack_impl(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    let low4 = _mm256_set1_epi8(0x0F);
    let eight = _mm256_set1_epi8(8);
    let whole = dst.len() / 64 * 64;
    for i in (0..whole).step_by(64) {
        // SAFETY: 32 bytes at i/2, 64 codes at i.
        unsafe {
            let b = _mm256_loadu_si256(src.as_ptr().add(i / 2).cast());
            // Sign-extend a nibble n: (n ^ 8) - 8.
            let lo = _mm256_sub_epi8(_mm256_xor_si256(_mm256_and_si256(b, low4), eight), eight);
            let hi4 = _mm256_and_si256(_mm256_srli_epi16::<4>(b), low4);
            let hi = _mm256_sub_epi8(_mm256_xor_si256(hi4, eight), eight);
            // Interleave within 128-bit lanes, then put the lanes in order.
            let a = _mm256_unpacklo_epi8(lo, hi);
            let c = _mm256_unpackhi_epi8(lo, hi);
            let first = _mm256_permute2x128_si256::<0x20>(a, c);
            let second = _mm256_permute2x128_si256::<0x31>(a, c);
            let out = dst.as_mut_ptr().add(i).cast::<__m256i>();
            _mm256_storeu_si256(out, first);
            _mm256_storeu_si256(out.add(1), second);
        }
    }
    (scalar::KERNELS.unpack)(&src[whole / 2..], &mut dst[whole..]);
}

fn error_sums(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    // SAFETY: AVX2 is available.
    unsafe { error_sums_impl(x, y) }
}

/// Lanes 0..3 and 4..7 of the scalar reference's eight partial sums live in two vectors; each
/// lane adds its elements in index order, exactly as the reference does.
#[target_feature(enable = "avx2")]
unsafe fn error_sums_impl(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    let n = x.len().min(y.len());
    let whole = n / 8 * 8;
    let sign = _mm256_set1_pd(-0.0);
    let zero = _mm256_setzero_pd();
    let (mut abs, mut sq, mut xsq, mut max) = ([zero; 2], [zero; 2], [zero; 2], [zero; 2]);
    let mut max_i = [_mm256_setzero_si256(); 2];
    // |v| as an integer is above f32::MAX's bits exactly for NaN and ±Inf.
    let (abs_mask, finite_max) = (_mm_set1_epi32(0x7FFF_FFFF), _mm_set1_epi32(0x7F7F_FFFF));
    let mut bad = _mm_setzero_si128();
    for i in (0..whole).step_by(8) {
        for h in 0..2 {
            // SAFETY: 4 floats at i + 4h < whole <= n.
            let (xf, yf) = unsafe {
                (
                    _mm_loadu_ps(x.as_ptr().add(i + 4 * h)),
                    _mm_loadu_ps(y.as_ptr().add(i + 4 * h)),
                )
            };
            for v in [xf, yf] {
                let a = _mm_and_si128(_mm_castps_si128(v), abs_mask);
                bad = _mm_or_si128(bad, _mm_cmpgt_epi32(a, finite_max));
            }
            let (a, b) = (_mm256_cvtps_pd(xf), _mm256_cvtps_pd(yf));
            let d = _mm256_sub_pd(a, b);
            let ad = _mm256_andnot_pd(sign, d);
            abs[h] = _mm256_add_pd(abs[h], ad);
            sq[h] = _mm256_add_pd(sq[h], _mm256_mul_pd(d, d));
            xsq[h] = _mm256_add_pd(xsq[h], _mm256_mul_pd(a, a));
            // Strictly greater: a lane keeps the first index of its maximum.
            let gt = _mm256_cmp_pd::<_CMP_GT_OQ>(ad, max[h]);
            max[h] = _mm256_blendv_pd(max[h], ad, gt);
            let idx = _mm256_set1_epi64x(i as i64);
            max_i[h] = _mm256_blendv_epi8(max_i[h], idx, _mm256_castpd_si256(gt));
        }
    }
    if _mm_testz_si128(bad, bad) == 0 {
        return Err(crate::Error::NonFinite);
    }
    let mut lanes = [[0.0f64; 8]; 4];
    let mut idx = [0i64; 8];
    for h in 0..2 {
        // SAFETY: stores of 4 lanes into 8-element arrays at offset 4h.
        unsafe {
            _mm256_storeu_pd(lanes[0].as_mut_ptr().add(4 * h), abs[h]);
            _mm256_storeu_pd(lanes[1].as_mut_ptr().add(4 * h), sq[h]);
            _mm256_storeu_pd(lanes[2].as_mut_ptr().add(4 * h), xsq[h]);
            _mm256_storeu_pd(lanes[3].as_mut_ptr().add(4 * h), max[h]);
            _mm256_storeu_si256(idx.as_mut_ptr().add(4 * h).cast(), max_i[h]);
        }
    }
    let lane_max: [(f64, usize); 8] = core::array::from_fn(|l| (lanes[3][l], idx[l] as usize + l));
    scalar::finish_error_sums(x, y, whole, [lanes[0], lanes[1], lanes[2]], lane_max)
}
