//! The contract's check order (docs/contract.md §4.6), written once: the phases every fallible C
//! function checks, earliest first, and the status each returns. The first failing phase decides
//! the status; later phases are not looked at.
//!
//! Dependency-free on purpose: besides `tests/common` (the table of `order.rs` derives its
//! expected statuses from it), the fuzz crate's oracle compiles this file
//! (`fuzz/src/expect.rs`, `#[path]`), so both read the order from here. The statuses are the
//! numbers of docs/contract.md §3.4, not taken from the library.

/// One phase of the checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// An unknown enum value (format, codebook, method, float type), a bad group or block size,
    /// or n too large for the buffers' byte sizes.
    InvalidArgument,
    /// A NULL pointer with a non-zero stated length, or a NULL scalar out-pointer.
    NullPointer,
    /// A pointer not aligned to its element type (even when n is 0).
    Misaligned,
    /// n is not a whole number of blocks (block formats).
    Length,
    /// A stated buffer length shorter than what n needs.
    BufferTooSmall,
    /// The bytes n needs of an output share a byte with another buffer of the call.
    Overlap,
    /// n is 0: `QUANTIZE_ERR_EMPTY_INPUT` for the functions whose result describes the whole
    /// input (`quantize_to_int4*`, `quantize_measure_error*`), else `QUANTIZE_OK`, nothing done.
    EmptyInput,
    /// The data itself (NON_FINITE, VALUE_OUT_OF_RANGE): decided by each family, element by
    /// element or block by block.
    Data,
}

/// QUANTIZE_OK.
pub const OK: i32 = 0;
/// QUANTIZE_ERR_EMPTY_INPUT.
pub const EMPTY_INPUT: i32 = 3;

/// The phases in the order the C functions check them, with the status each returns (`None`:
/// the phase has no single status; see [`Phase::EmptyInput`] and [`Phase::Data`]).
pub const CHECK_ORDER: [(Phase, Option<i32>); 8] = [
    (Phase::InvalidArgument, Some(2)),
    (Phase::NullPointer, Some(1)),
    (Phase::Misaligned, Some(8)),
    (Phase::Length, Some(7)),
    (Phase::BufferTooSmall, Some(5)),
    (Phase::Overlap, Some(9)),
    (Phase::EmptyInput, None),
    (Phase::Data, None),
];

/// Where `phase` stands in [`CHECK_ORDER`] (0 is checked first).
pub fn rank(phase: Phase) -> usize {
    CHECK_ORDER
        .iter()
        .position(|&(p, _)| p == phase)
        .expect("every phase is in CHECK_ORDER")
}

/// The status `phase` returns when it is the first to fail (`None` for the phases whose status
/// depends on the function or the data).
pub fn status(phase: Phase) -> Option<i32> {
    CHECK_ORDER[rank(phase)].1
}

/// Of several failing phases, the one that decides: the earliest in [`CHECK_ORDER`].
pub fn first(phases: impl IntoIterator<Item = Phase>) -> Option<Phase> {
    phases.into_iter().min_by_key(|&p| rank(p))
}
