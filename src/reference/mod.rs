//! The bottom layer: each format's and family's exact scalar arithmetic, with no dependence on the
//! kernels or the safe API. The layers, each using only those below it:
//!
//! 1. `reference`: the scalar references (the oracle), the enums and the pure size rules;
//! 2. `kernels`: the SIMD levels and their dispatch table, and the drivers that run a kernel
//!    over a buffer (block runs with a reference fallback, group loops, half-precision chunks);
//! 3. the safe Rust API (`int4`, `pack`, `groups`, `formats`, `codebook`, `stats`): lengths,
//!    layouts, results;
//! 4. `ffi`: pointers, statuses and panics at the C boundary.
//!
//! `error`, `float` (the float types and their exact conversions) and `out` sit beside layer 1.

pub(crate) mod codebook;
pub(crate) mod formats;
pub(crate) mod int4;
