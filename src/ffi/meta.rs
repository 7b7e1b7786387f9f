//! Metadata and size helpers: status messages, versions, kernel name, buffer sizes.

use super::quantize_status;
use crate::Error;
use core::ffi::c_char;

/// One sentence explaining `status`, for any integer (unknown values get a generic sentence).
/// The string is static, NUL-terminated and never NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn quantize_status_message(status: quantize_status) -> *const c_char {
    let text: &'static core::ffi::CStr = match Error::from_status(status) {
        None if status == super::QUANTIZE_OK => c"success",
        None => c"unknown status code (not one that libquantize returns)",
        Some(Error::NullPointer) => c"a required pointer was NULL (with a non-zero length), or a scalar out-pointer was NULL",
        Some(Error::InvalidArgument) => c"invalid argument: unknown enum value, unsupported group or block size, or a length whose byte size exceeds PTRDIFF_MAX",
        Some(Error::EmptyInput) => c"empty input: statistics (scale, zero point, error measures) of zero elements were asked for",
        Some(Error::NonFinite) => c"non-finite value: NaN or infinity in the input, or a NaN or infinite scale",
        Some(Error::BufferTooSmall) => c"buffer too small: a buffer's stated length is too small for the element count",
        Some(Error::ValueOutOfRange) => c"value out of range: an int4 code or zero point outside -8..7, or a value the format cannot represent",
        Some(Error::Length) => c"length error: the element count is not a whole number of blocks",
        Some(Error::Misaligned) => c"misaligned pointer: a pointer is not aligned for its type",
        Some(Error::Overlap) => c"overlap: an output buffer overlaps another buffer of the same call",
        Some(Error::Internal) => c"internal error: a bug in libquantize was caught at the boundary; please report it",
    };
    text.as_ptr()
}

/// The library's version as "MAJOR.MINOR.PATCH" (static, never NULL): the version of the library
/// actually loaded, which may differ from the header's QUANTIZE_VERSION_* macros.
#[no_mangle]
pub extern "C" fn quantize_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library's version as MAJOR*10000 + MINOR*100 + PATCH.
#[no_mangle]
pub extern "C" fn quantize_version_number() -> u32 {
    super::QUANTIZE_VERSION_NUMBER
}

/// The SIMD level in use: "scalar", "avx2", "avx512" or "neon" (static, never NULL). It is chosen
/// once, at first use, from the CPU's features; the environment variable QUANTIZE_MAX_ISA
/// (e.g. "scalar") may lower it, never raise it.
#[no_mangle]
pub extern "C" fn quantize_kernel_name() -> *const c_char {
    crate::kernels::active().level.c_name().as_ptr()
}

/// Bytes that n packed int4 codes take: (n + 1) / 2, computed without overflow. Also available
/// as the macro QUANTIZE_PACKED_LEN(n).
#[no_mangle]
pub extern "C" fn quantize_packed_len(n: usize) -> usize {
    crate::pack::packed_len(n)
}

/// Number of groups of group_size elements that cover n elements: ceil(n / group_size); 0 when n
/// or group_size is 0. Also available as the macro QUANTIZE_GROUP_COUNT(n, group_size).
#[no_mangle]
pub extern "C" fn quantize_group_count(n: usize, group_size: usize) -> usize {
    crate::groups::group_count(n, group_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::CStr;

    fn text(p: *const c_char) -> &'static str {
        assert!(!p.is_null());
        // SAFETY: the functions return static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn every_status_has_a_distinct_message_and_unknown_ones_get_one() {
        let mut seen = std::collections::HashSet::new();
        for s in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99] {
            let m = text(quantize_status_message(s));
            assert!(m.len() >= 7, "{s}: {m}");
            assert!(seen.insert(m), "duplicate message for {s}");
        }
        for s in [-1, 10, 98, 100, i32::MIN, i32::MAX] {
            assert!(text(quantize_status_message(s)).starts_with("unknown"));
        }
    }

    #[test]
    fn run_time_version_is_the_crate_version() {
        assert_eq!(text(quantize_version()), env!("CARGO_PKG_VERSION"));
        let parts: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            quantize_version_number(),
            parts[0] * 10000 + parts[1] * 100 + parts[2]
        );
    }

    #[test]
    fn kernel_name_is_a_known_level() {
        assert!(["scalar", "avx2", "avx512", "neon"].contains(&text(quantize_kernel_name())));
    }
}
