//! float16 and bfloat16 conversions of the NEON level (`Kernels::widen_*` / `narrow_*`), equal
//! bit for bit to the scalar reference in `crate::float::scalar`:
//!
//! - float16 is integer arithmetic too (see `f16x4` and `f16_of4`). The conversion
//!   instructions `fcvtl` / `fcvtn` would do it in one step, but their intrinsics
//!   (`vcvt_f32_f16`, `vcvt_f16_f32`, the `float16x4_t` types) are stable only since Rust 1.94,
//!   above this crate's MSRV; they would also depend on the FPCR (rounding mode, default-NaN,
//!   alternative half precision), which the integer versions do not.
//! - bfloat16 is integer arithmetic: widening is a shift into the upper half (`shll`);
//!   narrowing is the reference's add-and-shift rounding with NaN lanes replaced by the
//!   reference's quiet NaN.
//!
//! Whole steps of 8 values run here; the remainder of a slice runs the scalar code. The module is
//! compiled only when NEON is enabled for the whole target (see `neon`): that is the safety
//! argument of every `unsafe { ..._impl(..) }` call below.

use crate::float::scalar;
use crate::kernels::lanes::aarch64::f16_of4;
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

/// The float32 bit patterns of 4 float16 values (in the low half of each lane), exactly as
/// `crate::reference::formats::fp16::f16_to_f32` computes them: normal values rebias the exponent
/// (`+ 112 << 23`), subnormals are `mantissa * 2^-24` (an exact integer conversion and an exact
/// product: both are normal float32 values or zero, so no rounding mode or flush-to-zero setting
/// can change them), infinities and NaNs keep their payload with the quiet bit set for NaN.
#[inline]
#[target_feature(enable = "neon")]
fn f16x4(h: uint32x4_t) -> uint32x4_t {
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

pub(super) fn widen_f16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { widen_f16_impl(src, dst) }
}

#[target_feature(enable = "neon")]
unsafe fn widen_f16_impl(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<u32>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 halves of `src` and 8 floats of `dst` at i are in bounds.
        unsafe {
            let h = vld1q_u16(s.add(i));
            vst1q_u32(d.add(i), f16x4(vmovl_u16(vget_low_u16(h))));
            vst1q_u32(d.add(i + 4), f16x4(vmovl_high_u16(h)));
        }
    }
    scalar::widen_f16(&src[whole..n], &mut dst[whole..n]);
}

pub(super) fn narrow_f16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { narrow_f16_impl(src, dst) }
}

#[target_feature(enable = "neon")]
unsafe fn narrow_f16_impl(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr().cast::<u32>(), dst.as_mut_ptr().cast::<u16>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 floats of `src` and 8 halves of `dst` at i are in bounds.
        unsafe {
            let lo = f16_of4(vld1q_u32(s.add(i)));
            let hi = f16_of4(vld1q_u32(s.add(i + 4)));
            vst1q_u16(d.add(i), vcombine_u16(lo, hi));
        }
    }
    scalar::narrow_f16(&src[whole..n], &mut dst[whole..n]);
}

pub(super) fn widen_bf16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { widen_bf16_impl(src, dst) }
}

#[target_feature(enable = "neon")]
unsafe fn widen_bf16_impl(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<u32>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 halves of `src` and 8 floats of `dst` at i are in bounds.
        unsafe {
            let h = vld1q_u16(s.add(i));
            vst1q_u32(d.add(i), vshll_n_u16::<16>(vget_low_u16(h)));
            vst1q_u32(d.add(i + 4), vshll_high_n_u16::<16>(h));
        }
    }
    scalar::widen_bf16(&src[whole..n], &mut dst[whole..n]);
}

/// The bfloat16 patterns of 4 floats (as bits), rounded as `crate::float::f32_to_bf16` does:
/// `(b + 0x7fff + lsb) >> 16`, or `(b >> 16) | 0x40` for NaN; each fits in 16 bits.
#[inline]
#[target_feature(enable = "neon")]
fn bf16x4(b: uint32x4_t) -> uint16x4_t {
    let hi = vshrq_n_u32::<16>(b);
    let bias = vaddq_u32(vdupq_n_u32(0x7fff), vandq_u32(hi, vdupq_n_u32(1)));
    let rounded = vshrq_n_u32::<16>(vaddq_u32(b, bias));
    let abs = vandq_u32(b, vdupq_n_u32(0x7fff_ffff));
    let nan = vcgtq_u32(abs, vdupq_n_u32(0x7f80_0000));
    let quiet = vorrq_u32(hi, vdupq_n_u32(0x40));
    vmovn_u32(vbslq_u32(nan, quiet, rounded))
}

pub(super) fn narrow_bf16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { narrow_bf16_impl(src, dst) }
}

#[target_feature(enable = "neon")]
unsafe fn narrow_bf16_impl(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr().cast::<u32>(), dst.as_mut_ptr().cast::<u16>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 floats of `src` and 8 halves of `dst` at i are in bounds.
        unsafe {
            let lo = bf16x4(vld1q_u32(s.add(i)));
            let hi = bf16x4(vld1q_u32(s.add(i + 4)));
            vst1q_u16(d.add(i), vcombine_u16(lo, hi));
        }
    }
    scalar::narrow_bf16(&src[whole..n], &mut dst[whole..n]);
}
