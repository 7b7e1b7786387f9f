//! float16 and bfloat16 conversions (`Kernels::widen_*` / `narrow_*`), `L` values per step,
//! written once over the lane primitives `load_f16`, `store_f16`, `load_bf16` and `store_bf16`.
//! Each primitive equals the scalar reference (`crate::float::scalar`) bit for bit, by a
//! different route per ISA, argued at the primitive: F16C / AVX-512F conversion instructions
//! with the rounding in the immediate (they convert NaN as the reference does, and subnormals
//! exactly, ignoring MXCSR for the half-precision side), NEON integer arithmetic (its fp16
//! intrinsics are above the MSRV and depend on the FPCR), and integer arithmetic for bfloat16
//! everywhere (AVX-512 BF16's `vcvtneps2bf16` is not used: it flushes subnormals, where the
//! reference rounds them). `tests_half` checks every float16 pattern and every float32 NaN class
//! at every level. The remainder of a slice (fewer than `L` values) runs the scalar code.

use crate::float::scalar;
use core::mem::MaybeUninit;

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives, with that level's features.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn widen_f16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
                let n = src.len().min(dst.len());
                let whole = n / L * L;
                for i in (0..whole).step_by(L) {
                    // SAFETY: i + L <= n: L halves of `src` and L floats of `dst` at i.
                    unsafe { store(load_f16(src.as_ptr().add(i)), dst.as_mut_ptr().add(i).cast()) }
                }
                scalar::widen_f16(&src[whole..n], &mut dst[whole..n]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn widen_bf16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
                let n = src.len().min(dst.len());
                let whole = n / L * L;
                for i in (0..whole).step_by(L) {
                    // SAFETY: i + L <= n: L halves of `src` and L floats of `dst` at i.
                    unsafe { store(load_bf16(src.as_ptr().add(i)), dst.as_mut_ptr().add(i).cast()) }
                }
                scalar::widen_bf16(&src[whole..n], &mut dst[whole..n]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn narrow_f16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
                let n = src.len().min(dst.len());
                let whole = n / L * L;
                for i in (0..whole).step_by(L) {
                    // SAFETY: i + L <= n: L floats of `src` and L halves of `dst` at i.
                    unsafe { store_f16(load(src.as_ptr().add(i)), dst.as_mut_ptr().add(i).cast()) }
                }
                scalar::narrow_f16(&src[whole..n], &mut dst[whole..n]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn narrow_bf16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
                let n = src.len().min(dst.len());
                let whole = n / L * L;
                for i in (0..whole).step_by(L) {
                    // SAFETY: i + L <= n: L floats of `src` and L halves of `dst` at i.
                    unsafe { store_bf16(load(src.as_ptr().add(i)), dst.as_mut_ptr().add(i).cast()) }
                }
                scalar::narrow_bf16(&src[whole..n], &mut dst[whole..n]);
            }
        }
    };
}

instantiate_per_level!();
