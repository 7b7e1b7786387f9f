//! The C ABI (`include/quantize.h` is generated from this module by cbindgen).
//!
//! Every function here only checks pointers and lengths, converts integers to enums, calls the
//! safe core, catches panics and maps errors to status codes. Enumerations cross the boundary as
//! `uint32_t`, never as Rust enums: C may pass any value, and an unknown one is
//! `QUANTIZE_ERR_INVALID_ARGUMENT`.
#![allow(non_camel_case_types)]

// The families, in the order of the header (cbindgen emits functions in source order): the
// library itself, per-tensor int4, groups, ggml blocks, codebooks, error statistics; then
// the float types every family's `_from`/`_into` sibling takes.
mod meta;

mod int4;

mod groups;

mod blocks;

mod codebook;

mod stats;

mod float;

pub(crate) mod boundary;
pub(crate) mod check;

pub use blocks::*;
pub use codebook::*;
pub use float::*;
pub use groups::*;
pub use int4::*;
pub use meta::*;
pub use stats::*;

/// Status code returned by every fallible function: `QUANTIZE_OK` (0) or a `QUANTIZE_ERR_*`
/// value. The values are fixed; new ones are only ever appended.
pub type quantize_status = i32;
/// Success.
pub const QUANTIZE_OK: quantize_status = 0;
/// A required pointer was NULL (with a non-zero length), or a scalar out-pointer was NULL.
pub const QUANTIZE_ERR_NULL_POINTER: quantize_status = 1;
/// Unknown enum value, group or block size 0 or unsupported, or an n whose byte size exceeds
/// PTRDIFF_MAX.
pub const QUANTIZE_ERR_INVALID_ARGUMENT: quantize_status = 2;
/// Statistics (scale, zero point, error measures) of zero elements were asked for.
pub const QUANTIZE_ERR_EMPTY_INPUT: quantize_status = 3;
/// NaN or infinity in the input, or a NaN/infinite scale.
pub const QUANTIZE_ERR_NON_FINITE: quantize_status = 4;
/// A buffer's stated length is too small for n.
pub const QUANTIZE_ERR_BUFFER_TOO_SMALL: quantize_status = 5;
/// An int4 code or zero point outside -8..7, or a value the format cannot represent (a finite
/// input beyond +-2^126 for the int4 quantizers).
pub const QUANTIZE_ERR_VALUE_OUT_OF_RANGE: quantize_status = 6;
/// n is not a whole number of blocks.
pub const QUANTIZE_ERR_LENGTH: quantize_status = 7;
/// A pointer not aligned for its type (float: 4 bytes).
pub const QUANTIZE_ERR_MISALIGNED: quantize_status = 8;
/// An output buffer overlaps another buffer of the same call.
pub const QUANTIZE_ERR_OVERLAP: quantize_status = 9;
/// A bug in libquantize: a Rust panic was caught at the boundary. Please report it.
pub const QUANTIZE_ERR_INTERNAL: quantize_status = 99;

/// How quantize_to_int4 and friends derive the scale: one of `QUANTIZE_SCALE_*`.
pub type quantize_scale_method = u32;
/// Asymmetric: [min(0, min x), max(0, max x)] maps onto -8..7, with a zero point.
pub const QUANTIZE_SCALE_MINMAX: quantize_scale_method = 0;
/// Symmetric: max |x| maps onto 7; the zero point is 0.
pub const QUANTIZE_SCALE_ABSMAX: quantize_scale_method = 1;

/// Major version of this header (the library's run-time value: quantize_version_number()).
pub const QUANTIZE_VERSION_MAJOR: u32 = 0;
/// Minor version of this header.
pub const QUANTIZE_VERSION_MINOR: u32 = 1;
/// Patch version of this header.
pub const QUANTIZE_VERSION_PATCH: u32 = 0;
/// MAJOR*10000 + MINOR*100 + PATCH of this header.
pub const QUANTIZE_VERSION_NUMBER: u32 =
    QUANTIZE_VERSION_MAJOR * 10000 + QUANTIZE_VERSION_MINOR * 100 + QUANTIZE_VERSION_PATCH;

/// The core's scale method for a C value.
pub(crate) fn scale_method(v: quantize_scale_method) -> crate::Result<crate::int4::ScaleMethod> {
    crate::int4::ScaleMethod::from_raw(v).ok_or(crate::Error::InvalidArgument)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn status_constants_match_the_error_type() {
        let pairs = [
            (Error::NullPointer, QUANTIZE_ERR_NULL_POINTER),
            (Error::InvalidArgument, QUANTIZE_ERR_INVALID_ARGUMENT),
            (Error::EmptyInput, QUANTIZE_ERR_EMPTY_INPUT),
            (Error::NonFinite, QUANTIZE_ERR_NON_FINITE),
            (Error::BufferTooSmall, QUANTIZE_ERR_BUFFER_TOO_SMALL),
            (Error::ValueOutOfRange, QUANTIZE_ERR_VALUE_OUT_OF_RANGE),
            (Error::Length, QUANTIZE_ERR_LENGTH),
            (Error::Misaligned, QUANTIZE_ERR_MISALIGNED),
            (Error::Overlap, QUANTIZE_ERR_OVERLAP),
            (Error::Internal, QUANTIZE_ERR_INTERNAL),
        ];
        for (e, s) in pairs {
            assert_eq!(e.status(), s);
            assert_eq!(Error::from_status(s), Some(e));
        }
        // The contract's numbers, written out independently of the constants.
        let numbers: Vec<i32> = Error::ALL.iter().map(|e| e.status()).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 99]);
        assert_eq!(QUANTIZE_OK, 0);
    }

    #[test]
    fn version_constants_match_the_crate_version() {
        let v = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(QUANTIZE_VERSION_MAJOR, v(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(QUANTIZE_VERSION_MINOR, v(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(QUANTIZE_VERSION_PATCH, v(env!("CARGO_PKG_VERSION_PATCH")));
        assert_eq!(
            QUANTIZE_VERSION_NUMBER,
            v(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
                + v(env!("CARGO_PKG_VERSION_MINOR")) * 100
                + v(env!("CARGO_PKG_VERSION_PATCH"))
        );
    }

    #[test]
    fn scale_methods_are_the_contract_values() {
        assert_eq!(scale_method(0), Ok(crate::int4::ScaleMethod::MinMax));
        assert_eq!(scale_method(1), Ok(crate::int4::ScaleMethod::AbsMax));
        for bad in [2, 3, 0x8000_0000, u32::MAX] {
            assert_eq!(scale_method(bad), Err(Error::InvalidArgument));
        }
    }
}
