//! SIMD kernels written once and expanded for each level that has the lane primitives they use
//! (`x86_64::lanes::{avx2, avx512}`, `aarch64::lanes::neon`). A kernel here is a macro body instantiated in a module per
//! level (at the end of its file), inside which every function is `#[target_feature]` with that
//! level's features, so the primitives (`#[inline]`, same features) inline into it. Where one
//! ISA has a better form of a step than the shared one, that step is a lane primitive with one
//! implementation per ISA, not a branch in the kernel.

pub(crate) mod multi_block;
pub(crate) mod superblocks;
