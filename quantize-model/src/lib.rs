//! quantize-model: a safetensors or GGUF model in, a 4-bit GGUF file out, with libquantize.
//!
//! The binary is a thin command line over [`convert::run`]; the format readers are exposed here
//! so the fuzz targets and the tests can call them directly.

pub mod bench;
pub mod convert;
pub mod ggml;
pub mod gguf;
pub mod input;
pub mod report;
pub mod safetensors_file;
pub mod testmodel;
