//! Hot loops. One portable scalar reference ([`scalar`]) is the oracle; SIMD variants must equal
//! it bit for bit. The level in use is chosen once, at first use, and reported by
//! [`kernel_name`].

pub(crate) mod scalar;
#[cfg(test)]
mod tests;
#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) mod x86_64;

use crate::Result;
use core::mem::MaybeUninit;

/// The smallest and largest element of a validated input (see [`Kernels::scan`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub min: f32,
    pub max: f32,
}

/// Sums that error statistics are computed from (see `crate::stats`). Every kernel level must
/// produce exactly the same values, so the summation order is fixed by the scalar reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ErrorSums {
    pub sum_abs: f64,
    pub sum_sq: f64,
    pub sum_x_sq: f64,
    pub max_abs: f64,
    pub max_abs_index: usize,
}

/// One SIMD level's implementations of the hot loops. All functions assume their slices have
/// the lengths the caller checked; none of them allocates or panics on valid lengths.
pub(crate) struct Kernels {
    /// "scalar", "avx2", "avx512" or "neon".
    pub name: &'static core::ffi::CStr,
    /// Min and max of `src`; the first element (in index order) that is NaN/±Inf
    /// (`NonFinite`) or beyond ±2^126 (`ValueOutOfRange`) is an error. `src` is non-empty.
    pub scan: fn(src: &[f32]) -> Result<Range>,
    /// `dst[i] = clamp(rne(src[i] / scale) + zp, -8, 7)`; `dst.len() == src.len()`.
    pub quantize: fn(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]),
    /// As `quantize`, packed two per byte; `dst.len() == packed_len(src.len())`.
    pub quantize_packed: fn(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]),
    /// `dst[i] = (src[i] - zp) as f32 * scale`; `dst.len() == src.len()`; codes already valid.
    pub dequantize: fn(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]),
    /// As `dequantize`, from packed codes; `src.len() == packed_len(dst.len())`.
    pub dequantize_packed: fn(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]),
    /// Index of the first code outside -8..7, if any.
    pub find_invalid_code: fn(src: &[i8]) -> Option<usize>,
    /// Packs valid codes; `dst.len() == packed_len(src.len())`.
    pub pack: fn(src: &[i8], dst: &mut [MaybeUninit<u8>]),
    /// Unpacks with sign extension; `src.len() == packed_len(dst.len())`.
    pub unpack: fn(src: &[u8], dst: &mut [MaybeUninit<i8>]),
    /// Error sums of two inputs of equal length; `NonFinite` if either holds NaN or ±Inf.
    pub error_sums: fn(x: &[f32], y: &[f32]) -> Result<ErrorSums>,
}

/// Every level this CPU can run, best first; the scalar reference is always last.
pub(crate) fn levels() -> Vec<&'static Kernels> {
    let mut v: Vec<&'static Kernels> = Vec::new();
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if x86_64::avx512::available() {
            v.push(&x86_64::avx512::KERNELS);
        }
        if x86_64::avx2::available() {
            v.push(&x86_64::avx2::KERNELS);
        }
    }
    v.push(&scalar::KERNELS);
    v
}

/// The best level this CPU can run, lowered to at most `max_isa` (a level name, from the
/// environment variable QUANTIZE_MAX_ISA) when that names a known level.
fn choose(max_isa: Option<&str>) -> &'static Kernels {
    let levels = levels();
    let cap = max_isa.and_then(|m| {
        const ORDER: [&str; 4] = ["scalar", "neon", "avx2", "avx512"];
        ORDER.iter().position(|&l| l.eq_ignore_ascii_case(m.trim()))
    });
    let rank = |k: &Kernels| {
        ["scalar", "neon", "avx2", "avx512"]
            .iter()
            .position(|&l| k.name.to_bytes() == l.as_bytes())
            .unwrap_or(0)
    };
    levels
        .into_iter()
        .find(|k| cap.is_none_or(|c| rank(k) <= c))
        .unwrap_or(&scalar::KERNELS)
}

/// The kernels in use: chosen once, at first use, and cached (the library's only global state).
pub(crate) fn active() -> &'static Kernels {
    static ACTIVE: std::sync::OnceLock<&'static Kernels> = std::sync::OnceLock::new();
    ACTIVE.get_or_init(|| choose(std::env::var("QUANTIZE_MAX_ISA").ok().as_deref()))
}

/// The name of the SIMD level in use: "scalar", "avx2", "avx512" or "neon".
pub fn kernel_name() -> &'static str {
    // The names are ASCII literals.
    active().name.to_str().unwrap_or("scalar")
}
