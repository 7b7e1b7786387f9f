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
            /// Runs `step(i)` for each whole step of `L` values below `n` (`i` its first index);
            /// returns where the rest begins.
            fn whole_steps(n: usize, step: impl Fn(usize)) -> usize {
                let whole = n / L * L;
                (0..whole).step_by(L).for_each(step);
                whole
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn widen_f16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
                let (n, s, d) = (src.len().min(dst.len()), src.as_ptr(), dst.as_mut_ptr());
                // SAFETY (all four): i + L <= n, so L values of `src` and of `dst` at i.
                let whole = whole_steps(n, |i| unsafe { store(load_f16(s.add(i)), d.add(i).cast()) });
                scalar::widen_f16(&src[whole..n], &mut dst[whole..n]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn widen_bf16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
                let (n, s, d) = (src.len().min(dst.len()), src.as_ptr(), dst.as_mut_ptr());
                let whole = whole_steps(n, |i| unsafe { store(load_bf16(s.add(i)), d.add(i).cast()) });
                scalar::widen_bf16(&src[whole..n], &mut dst[whole..n]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn narrow_f16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
                let (n, s, d) = (src.len().min(dst.len()), src.as_ptr(), dst.as_mut_ptr());
                let whole = whole_steps(n, |i| unsafe { store_f16(load(s.add(i)), d.add(i).cast()) });
                scalar::narrow_f16(&src[whole..n], &mut dst[whole..n]);
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn narrow_bf16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
                let (n, s, d) = (src.len().min(dst.len()), src.as_ptr(), dst.as_mut_ptr());
                let whole = whole_steps(n, |i| unsafe { store_bf16(load(s.add(i)), d.add(i).cast()) });
                scalar::narrow_bf16(&src[whole..n], &mut dst[whole..n]);
            }
        }
    };
}

instantiate_per_level!();
