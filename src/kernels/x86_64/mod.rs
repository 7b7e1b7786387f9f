//! x86-64 kernels: AVX2 (with F16C) and AVX-512 (F, BW, DQ, VL).

pub(crate) mod avx2;
mod avx2_blocks;
pub(crate) mod avx512;
mod avx512_blocks;
