//! AVX-512 kernels (placeholder until written): not yet available.
use super::super::Kernels;
pub(crate) static KERNELS: Kernels = super::super::scalar::KERNELS_COPY;
pub(crate) fn available() -> bool {
    false
}
