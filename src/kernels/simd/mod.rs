//! SIMD kernels written once and expanded for each level that has the lane primitives they use
//! (`lanes::x86_64::{avx2, avx512}`, `lanes::aarch64::neon`). A kernel here is a macro body
//! instantiated in a module per level (at the end of its file), whose functions are in a
//! `with_features!` block: each is `#[target_feature]` with that level's features, so the
//! primitives (`#[inline]`, same features) inline into it. This layer imports the primitives
//! and the reference, never a level's files: the levels import it (their tables are filled from
//! the `QUANTIZE`/`DEQUANTIZE` lists below and from each file's level modules). Where one
//! ISA has a better form of a step than the shared one, that step is a lane primitive with one
//! implementation per ISA, not a branch in the kernel.

/// For the tests (the files below see it, being declared after it): runs `body` with each
/// level's lanes (`l`) and the calling file's kernels of that level (`k`, its module `avx2`,
/// `avx512` or `neon`), where the CPU has them.
#[cfg(test)]
macro_rules! each_level {
    (|$l:ident, $k:ident $(, $a:ident: $t:ty)*| $body:block) => {{
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::lanes::x86_64::avx2_available() {
            #[allow(unused_imports)]
            use super::avx2 as $k;
            use crate::kernels::lanes::x86_64::avx2 as $l;
            #[target_feature(enable = "avx2,f16c")]
            fn run($($a: $t),*) $body
            // SAFETY: AVX2 and F16C are available.
            unsafe { run($($a),*) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::lanes::x86_64::avx512_available() {
            #[allow(unused_imports)]
            use super::avx512 as $k;
            use crate::kernels::lanes::x86_64::avx512 as $l;
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
            fn run($($a: $t),*) $body
            // SAFETY: AVX-512 is available.
            unsafe { run($($a),*) };
        }
        #[cfg(target_arch = "aarch64")]
        {
            #[allow(unused_imports)]
            use super::neon as $k;
            use crate::kernels::lanes::aarch64::neon as $l;
            #[target_feature(enable = "neon")]
            fn run($($a: $t),*) $body
            // SAFETY: NEON is enabled for the whole target (see `kernels::aarch64`).
            unsafe { run($($a),*) };
        }
    }};
}

/// Expands the calling file's `kernels!` (its kernels, written once) for every level, each in a
/// module named for the level, over that level's lane primitives and with its target features:
/// `avx2` (AVX2 with F16C, 8 lanes), `avx512` (16 lanes) and `neon` (8 lanes as pairs of 128-bit
/// registers). Each module is compiled only where its level can exist.
macro_rules! instantiate_per_level {
    () => {
        /// AVX2 with F16C: 8 lanes.
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        pub(crate) mod avx2 {
            use crate::kernels::lanes::x86_64::avx2::*;
            kernels!("avx2,f16c");
        }

        /// AVX-512 (F, BW, DQ, VL): 16 lanes.
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        pub(crate) mod avx512 {
            use crate::kernels::lanes::x86_64::avx512::*;
            kernels!("avx512f,avx512bw,avx512dq,avx512vl");
        }

        /// NEON: 8 lanes as pairs of 128-bit registers.
        #[cfg(all(target_arch = "aarch64", target_feature = "neon", not(miri)))]
        pub(crate) mod neon {
            use crate::kernels::lanes::aarch64::neon::*;
            kernels!("neon");
        }
    };
}

pub(crate) mod codebook;
pub(crate) mod dequantize_blocks;
pub(crate) mod half;
pub(crate) mod int4;
pub(crate) mod multi_block;
pub(crate) mod nl_search;
pub(crate) mod superblocks;

/// Each level's block-format kernels from the files above, as lists for
/// `kernels::format_tables`: what a level's table takes from here without naming the files.
macro_rules! level_tables {
    ($($(#[$cfg:meta])* $level:ident;)*) => {$(
        $(#[$cfg])*
        pub(crate) mod $level {
            use crate::kernels::{DequantizeBlocks, QuantizeBlocks};
            use crate::reference::formats::BlockFormat;

            /// The level's block quantizers.
            pub(crate) const QUANTIZE: &[&[(BlockFormat, QuantizeBlocks)]] = &[
                super::multi_block::$level::QUANTIZE,
                super::nl_search::$level::QUANTIZE,
                super::superblocks::$level::QUANTIZE,
            ];

            /// The level's block dequantizers.
            pub(crate) const DEQUANTIZE: &[&[(BlockFormat, DequantizeBlocks)]] = &[
                super::dequantize_blocks::$level::DEQUANTIZE,
                super::superblocks::$level::DEQUANTIZE,
            ];
        }
    )*};
}

level_tables! {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    avx2;
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    avx512;
    #[cfg(all(target_arch = "aarch64", target_feature = "neon", not(miri)))]
    neon;
}
