//! libquantize: float buffers to 4-bit codes and back.
//!
//! The safe core (this crate's public Rust API) works on slices and returns [`Result`]; the C ABI
//! in [`ffi`] is a thin layer over it that checks pointers and lengths, converts integers to
//! enums, catches panics and maps errors to status codes. See `docs/contract.md` (§2–§5) and the
//! README.
//!
//! Length convention of the Rust API: the float (or, for packing, the unpacked) side's slice
//! length is the element count n; the other buffers may be longer than n needs, and what lies
//! past it is neither read nor written.

// The per-level blocks of `kernels::with_features!` take one expansion step per item.
#![recursion_limit = "512"]

pub mod codebook;
pub mod error;
pub mod ffi;
pub mod float;
pub mod formats;
pub mod groups;
pub mod int4;
pub(crate) mod kernels;
pub(crate) mod out;
pub mod pack;
pub(crate) mod reference;
pub mod stats;

pub use error::{Error, Result};
pub use float::{FloatType, Floats, FloatsMut, FloatsUninit};
/// Fuzz builds only (`cfg(fuzzing)`): run calls under a chosen SIMD level (see `fuzz/`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub use kernels::fuzzing;
pub use kernels::kernel_name;
