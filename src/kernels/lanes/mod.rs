//! Lane primitives: the per-ISA operations over which the kernels of `kernels::simd` are
//! written once. A module per level (`x86_64::avx2` with 8 lanes, `x86_64::avx512` with 16,
//! `aarch64::neon` with 8 as pairs of 128-bit registers) defines the same names with the same
//! meanings (`L` lanes; `F` floats, `I` 32-bit integers, `M` a comparison's lanes, `Block` a
//! block of 32 floats as `32 / L` vectors). A kernel is a macro expanded inside a module that
//! imports one level's primitives, where every function is `#[target_feature]` with the level's
//! features, so the primitives (`#[inline]`, same features) and their intrinsics inline into it.
//! Operations whose best form differs by ISA (the transposing reduction, packing, E2M1 codes
//! and scale bytes, fp16 conversion, division-free int4 codes with FMA, the non-linear
//! codebook's nearest entry) have one implementation each; the rest are the same IEEE
//! operation at every width.
//!
//! This is the bottom layer of the kernels: it imports only the reference (for its tables),
//! never a level's dispatch tables or the shared kernels, which import it.
//!
//! The primitives that take no pointer are safe: a `#[target_feature]` function can only be
//! called from code with the same features (or through `unsafe`, whose caller checked them).
//!
//! Shared meanings: `min_f(a, b)` is `a < b ? a : b` and `max_f(a, b)` is `a > b ? a : b`
//! (so `b` if either is NaN), as the x86 instructions; `neg` flips the sign; `round_even`
//! rounds to nearest, ties to even, whatever MXCSR or FPCR says; `cvtt` truncates (0x8000_0000
//! for NaN, ±Inf and out-of-range values); `cvt` converts exact small integers; `abs_bits` is
//! |x| as integer bits (for finite x ordered as the magnitudes); `max_u` is unsigned, `gt_i`
//! signed; `bits` puts lane i of a mask in bit i; `select(m, a, b)` is `m ? a : b`.
//! `reduce(m, op)` puts in lane b the combination of all lanes of `m[b]` by `op` (associative
//! and commutative on the lanes' bits: min, max), through a transposing tree. `to_f16` gives
//! the fp16 encodings of finite floats, rounded to nearest even (equal to `fp16::f32_to_f16`
//! for every finite input: tested over all binary16 rounding boundaries), or `None` if any is
//! infinite (an overflow). `pack_ggml` packs a block's 32 codes (int32 lanes c, 0..=16 or
//! 0x8000_0000: the code is `min(c, 15)`, and 0 for 0x8000_0000, its low byte) as ggml does
//! (byte j = code j | code (j + 16) << 4); `pack_pairs` packs codes -8..=7 two per byte, the
//! first in the low nibble (int4). `scale_bytes` is the E8M0 scale byte of
//! the 32-value E2M1 format (the reference's `scale_byte`) of finite magnitudes (as bits); `e2m1_block` a block's E2M1 codes for
//! scale byte `e` and `k = 129 - e` (2/d = 2^k; proof at `x86_64::avx512::e2m1_codes`),
//! packed; `group_codes` is `clamp(rne(x / scale) + zp, -8, 7)` for a group's own elements,
//! with `r = 1 / scale` where `fast_scale` allows a division-free quotient. `nl_nearest`
//! is the non-linear codebook's nearest entry (`nl_codebook::best_index`) as a value.
//!
//! A level's primitives are defined in one `with_features!` block (see `kernels`), which gives
//! each function in it `#[inline]` and the level's `#[target_feature]`.

use crate::reference::formats::nl_codebook;

/// For c = 0..31, how many of the E2M1 midpoints [1, 3, 5, 7, 10, 14, 20] (in units of d/2)
/// are below c: the code magnitude of an element whose `ceil(2|x|/d)` is c.
pub(crate) const E2M1_LUT: [u8; 32] = {
    let (mut t, mut c) = ([0u8; 32], 0);
    while c < 32 {
        let (mut i, mids) = (0, [1, 3, 5, 7, 10, 14, 20]);
        while i < 7 {
            t[c] += (mids[i] < c) as u8;
            i += 1;
        }
        c += 1;
    }
    t
};

/// The non-linear codebook's values (`nl_codebook::KVALUES`) as floats.
pub(crate) const NL_KV: [f32; 16] = {
    let mut k = [0.0f32; 16];
    let mut i = 0;
    while i < 16 {
        k[i] = nl_codebook::KVALUES[i] as f32;
        i += 1;
    }
    k
};

/// The midpoints of neighbouring codebook values, `NL_MID[i] = (NL_KV[i] + NL_KV[i + 1]) / 2`
/// (exact: halves of small integers), strictly ascending.
pub(crate) const NL_MID: [f32; 15] = {
    let mut m = [0.0f32; 15];
    let mut i = 0;
    while i < 15 {
        m[i] = (NL_KV[i] + NL_KV[i + 1]) * 0.5;
        assert!(i == 0 || m[i - 1] < m[i], "midpoints not ascending");
        i += 1;
    }
    m
};

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;
