//! The NEON level's table of per-tensor kernels. All but `error_sums` are the NEON instance of
//! the int4 kernels written once in `kernels::simd::int4`; `error_sums` stays here (as on
//! x86-64: its eight f64 partial sums are two-lane vectors here, and a shared form would need
//! more f64 primitives than the kernel has lines). It equals the scalar reference bit for bit:
//! each lane adds its elements in index order, one rounding per multiply and per add (never
//! `vmla`/`vfma`).
//!
//! The module is compiled only when NEON is enabled for the whole target (as it is on every
//! aarch64 Linux target). That is the safety argument of every `unsafe` call of a
//! `#[target_feature(enable = "neon")]` function below: it can run on any CPU
//! this build runs on. Inside them, only loads and stores through raw pointers need `unsafe`,
//! each within a chunk whose length bounds it.

use super::super::{scalar, ErrorSums, Kernels, Range};
use crate::kernels::simd::{half::neon as half, int4::neon as int4};
use crate::Result;
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::super::Level::Neon,
    scan,
    quantize,
    quantize_packed,
    dequantize,
    dequantize_packed,
    find_invalid_code,
    pack,
    unpack,
    error_sums,
    widen_f16: |s, d| unsafe { half::widen_f16(s, d) },
    widen_bf16: |s, d| unsafe { half::widen_bf16(s, d) },
    narrow_f16: |s, d| unsafe { half::narrow_f16(s, d) },
    narrow_bf16: |s, d| unsafe { half::narrow_bf16(s, d) },
    blocks: &super::neon_blocks::BLOCKS,
};

/// True when this CPU can run these kernels: always, since the module exists only when NEON is
/// a compile-time feature of the target.
pub(crate) fn available() -> bool {
    cfg!(target_feature = "neon")
}

/// Safe entry points of the `#[target_feature]` int4 kernels, named (a closure coerced to a
/// function pointer is a `FnOnce::call_once` shim in the symbols), so that the optimised
/// build's symbols show every kernel for `scripts/test_aarch64.sh`'s check.
macro_rules! entry {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty;)*) => {$(
        fn $name($($a: $t),*) -> $r {
            // SAFETY: NEON is enabled for the whole target (see the module doc).
            unsafe { int4::$name($($a),*) }
        }
    )*};
}
entry! {
    scan(s: &[f32]) -> Result<Range>;
    quantize(s: &[f32], sc: f32, z: i8, d: &mut [MaybeUninit<i8>]) -> ();
    quantize_packed(s: &[f32], sc: f32, z: i8, d: &mut [MaybeUninit<u8>]) -> ();
    dequantize(s: &[i8], sc: f32, z: i8, d: &mut [MaybeUninit<f32>]) -> ();
    dequantize_packed(s: &[u8], sc: f32, z: i8, d: &mut [MaybeUninit<f32>]) -> ();
    find_invalid_code(s: &[i8]) -> Option<usize>;
    pack(s: &[i8], d: &mut [MaybeUninit<u8>]) -> ();
    unpack(s: &[u8], d: &mut [MaybeUninit<i8>]) -> ();
}

/// All-ones in each lane whose float has `|x|` (as bits) above `limit` (as bits).
#[inline]
#[target_feature(enable = "neon")]
fn above(v: float32x4_t, limit: uint32x4_t) -> uint32x4_t {
    vcgtq_u32(
        vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x7FFF_FFFF)),
        limit,
    )
}

/// The scalar reference's eight partial sums live in four vectors of two lanes (vector k holds
/// lanes 2k and 2k+1); each lane adds its elements in index order, exactly as the reference does.
fn error_sums(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { error_sums_impl(x, y) }
}

#[target_feature(enable = "neon")]
fn error_sums_impl(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    let whole = x.len().min(y.len()) / 8 * 8;
    let zero = vdupq_n_f64(0.0);
    let (mut abs, mut sq, mut xsq, mut max) = ([zero; 4], [zero; 4], [zero; 4], [zero; 4]);
    let mut max_i = [vdupq_n_u64(0); 4];
    // |v| as an integer is above f32::MAX's bits exactly for NaN and ±Inf.
    let finite_max = vdupq_n_u32(f32::MAX.to_bits());
    let mut bad = vdupq_n_u32(0);
    for (blk, (xc, yc)) in x[..whole]
        .chunks_exact(8)
        .zip(y[..whole].chunks_exact(8))
        .enumerate()
    {
        let start = vdupq_n_u64((8 * blk) as u64);
        for h in 0..2 {
            // SAFETY: 4 floats at 4h < 8 == xc.len() == yc.len().
            let (xf, yf) = unsafe {
                (
                    vld1q_f32(xc.as_ptr().add(4 * h)),
                    vld1q_f32(yc.as_ptr().add(4 * h)),
                )
            };
            bad = vorrq_u32(bad, vorrq_u32(above(xf, finite_max), above(yf, finite_max)));
            let a = [vcvt_f64_f32(vget_low_f32(xf)), vcvt_high_f64_f32(xf)];
            let b = [vcvt_f64_f32(vget_low_f32(yf)), vcvt_high_f64_f32(yf)];
            for q in 0..2 {
                let k = 2 * h + q;
                let d = vsubq_f64(a[q], b[q]);
                let ad = vabsq_f64(d);
                // Separate multiplies and adds: no fused multiply-add, as in the reference.
                abs[k] = vaddq_f64(abs[k], ad);
                sq[k] = vaddq_f64(sq[k], vmulq_f64(d, d));
                xsq[k] = vaddq_f64(xsq[k], vmulq_f64(a[q], a[q]));
                // Strictly greater: a lane keeps the first index of its maximum.
                let gt = vcgtq_f64(ad, max[k]);
                max[k] = vbslq_f64(gt, ad, max[k]);
                max_i[k] = vbslq_u64(gt, start, max_i[k]);
            }
        }
    }
    if vmaxvq_u32(bad) != 0 {
        return Err(crate::Error::NonFinite);
    }
    let mut lanes = [[0.0f64; 8]; 4];
    let mut idx = [0u64; 8];
    for k in 0..4 {
        // SAFETY: 2 lanes at 2k < 8 in each 8-element array.
        unsafe {
            vst1q_f64(lanes[0].as_mut_ptr().add(2 * k), abs[k]);
            vst1q_f64(lanes[1].as_mut_ptr().add(2 * k), sq[k]);
            vst1q_f64(lanes[2].as_mut_ptr().add(2 * k), xsq[k]);
            vst1q_f64(lanes[3].as_mut_ptr().add(2 * k), max[k]);
            vst1q_u64(idx.as_mut_ptr().add(2 * k), max_i[k]);
        }
    }
    // A lane's index is its block start plus the lane number (an index below x.len()).
    let lane_max: [(f64, usize); 8] = core::array::from_fn(|l| (lanes[3][l], idx[l] as usize + l));
    scalar::finish_error_sums(x, y, whole, [lanes[0], lanes[1], lanes[2]], lane_max)
}
