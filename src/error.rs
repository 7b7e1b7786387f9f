//! The one error type of the safe core, and its mapping to the C status codes.

/// Everything that can go wrong in a call. Each variant has a fixed C status code
/// ([`Error::status`]); the numbers are part of the ABI and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required pointer was NULL with a non-zero length (C callers only).
    #[error("a required pointer was NULL")]
    NullPointer,
    /// An unknown enum value, a group or block size the function does not accept, or a length
    /// whose byte size exceeds `isize::MAX`.
    #[error("invalid argument: unknown enum value, unsupported group or block size, or a length too large to address")]
    InvalidArgument,
    /// Statistics (scale, zero point, error measures) of zero elements were asked for.
    #[error("empty input: statistics of zero elements were asked for")]
    EmptyInput,
    /// NaN or infinity in the input data or in a scale.
    #[error("non-finite value: NaN or infinity in the input")]
    NonFinite,
    /// A buffer's stated length is too small for the element count.
    #[error("buffer too small for the element count")]
    BufferTooSmall,
    /// An int4 code or zero point outside -8..7, or a value the format cannot represent.
    #[error("value out of range: an int4 code or zero point outside -8..7, or a value the format cannot represent")]
    ValueOutOfRange,
    /// The element count is not a whole number of blocks.
    #[error("length is not a whole number of blocks")]
    Length,
    /// A pointer is not aligned for its type (C callers only).
    #[error("pointer not aligned for its type")]
    Misaligned,
    /// An output buffer overlaps an input buffer (C callers only).
    #[error("an output buffer overlaps another buffer of the call")]
    Overlap,
    /// A bug: a panic was caught at the C boundary.
    #[error("internal error: a bug in libquantize (a panic was caught); please report it")]
    Internal,
}

impl Error {
    /// The C status code of this error (`QUANTIZE_ERR_*`).
    pub const fn status(self) -> i32 {
        match self {
            Error::NullPointer => 1,
            Error::InvalidArgument => 2,
            Error::EmptyInput => 3,
            Error::NonFinite => 4,
            Error::BufferTooSmall => 5,
            Error::ValueOutOfRange => 6,
            Error::Length => 7,
            Error::Misaligned => 8,
            Error::Overlap => 9,
            Error::Internal => 99,
        }
    }

    /// Every variant, in status order (for tests and for `quantize_status_message`).
    pub const ALL: [Error; 10] = [
        Error::NullPointer,
        Error::InvalidArgument,
        Error::EmptyInput,
        Error::NonFinite,
        Error::BufferTooSmall,
        Error::ValueOutOfRange,
        Error::Length,
        Error::Misaligned,
        Error::Overlap,
        Error::Internal,
    ];

    /// The error whose status code is `status`, if any.
    pub fn from_status(status: i32) -> Option<Error> {
        Error::ALL.into_iter().find(|e| e.status() == status)
    }
}

/// Result alias of the safe core.
pub type Result<T> = core::result::Result<T, Error>;
