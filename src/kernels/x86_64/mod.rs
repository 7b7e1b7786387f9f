//! x86-64 kernels: AVX2 (with F16C) and AVX-512 (F, BW, DQ, VL).

pub(crate) mod avx2;
mod avx2_blocks;
mod avx2_iq4nl;
pub(crate) mod avx512;
mod avx512_blocks;
mod avx512_iq4nl;
mod half;
pub(crate) mod lanes;
