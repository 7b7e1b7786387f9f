//! libquantize: float buffers to 4-bit codes and back.
//!
//! The safe core (this crate's public Rust API) works on slices and returns [`Result`]; the C ABI
//! in [`ffi`] is a thin layer over it that checks pointers and lengths, converts integers to
//! enums, catches panics and maps errors to status codes. See `DESIGN.md` §2–§5 and the README.

pub mod error;
pub mod formats;
pub mod codebook;
pub(crate) mod out;

pub use error::{Error, Result};
