//! x86-64 kernels: AVX2 and AVX-512 (F, BW, DQ, VL).

pub(crate) mod avx2;
pub(crate) mod avx512;
mod avx512_blocks;
