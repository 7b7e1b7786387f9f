//! The one place where C pointers and lengths are checked and turned into slices.
//!
//! Every exported function runs the contract's checks in its order (docs/contract.md §4.6):
//! parameters, NULL pointers, alignment, lengths, overlap, empty input, data. The helpers here
//! cover the pointer phases; lengths and data are checked by the safe core, whose size helpers
//! the C layer shares.

use crate::float::{FloatType, Floats, FloatsUninit};
use crate::{Error, Result};
use core::ffi::c_void;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;

/// Phase 1: `n` elements of `T` must be addressable (at most `isize::MAX` bytes).
pub(crate) fn count<T>(n: usize) -> Result<()> {
    match n.checked_mul(size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(Error::InvalidArgument),
    }
}

/// Phase 2: a buffer may be NULL only when its stated length is 0.
pub(crate) fn non_null<T>(p: *const T, len: usize) -> Result<()> {
    if p.is_null() && len != 0 {
        Err(Error::NullPointer)
    } else {
        Ok(())
    }
}

/// Phase 2: a scalar out-pointer (or the stats struct) is never NULL.
pub(crate) fn required<T>(p: *const T) -> Result<()> {
    non_null(p, 1)
}

/// Phase 3: a pointer must be aligned for its type, whatever the length (NULL is aligned).
pub(crate) fn aligned<T>(p: *const T) -> Result<()> {
    if (p as usize).is_multiple_of(align_of::<T>()) {
        Ok(())
    } else {
        Err(Error::Misaligned)
    }
}

/// The bytes a call needs of one buffer, for the overlap check.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    start: usize,
    end: usize,
    written: bool,
}

/// The first `n` elements behind an input pointer.
pub(crate) fn reads<T>(p: *const T, n: usize) -> Region {
    region(p, n, false)
}

/// The first `n` elements behind an output pointer.
pub(crate) fn writes<T>(p: *mut T, n: usize) -> Region {
    region(p, n, true)
}

fn region<T>(p: *const T, n: usize, written: bool) -> Region {
    let start = p as usize;
    // Saturating: a range that runs past the address space cannot be real memory anyway, and
    // this check must not panic on the caller's lies.
    let end = start.saturating_add(n.saturating_mul(size_of::<T>()));
    Region {
        start,
        end,
        written,
    }
}

/// Phase 5: no two regions of a call share a byte when at least one of them is written. An
/// empty region (n needs no byte of that buffer) shares no byte, wherever its pointer lies
/// (docs/contract.md §4.5).
pub(crate) fn disjoint(regions: &[Region]) -> Result<()> {
    for (i, a) in regions.iter().enumerate() {
        for b in &regions[i + 1..] {
            let empty = a.start == a.end || b.start == b.end;
            let shared = !empty && a.start < b.end && b.start < a.end;
            if shared && (a.written || b.written) {
                return Err(Error::Overlap);
            }
        }
    }
    Ok(())
}

/// The first `n` elements behind `p` as a slice.
///
/// # Safety
/// The checks above have passed for `p` (non-NULL unless `n` is 0, aligned), and `p` points to at
/// least `n` initialised elements that nothing writes during the call (the caller's contract,
/// and phase 5 for our own outputs).
pub(crate) unsafe fn input<'a, T>(p: *const T, n: usize) -> &'a [T] {
    if n == 0 {
        return &[];
    }
    // SAFETY: see the function's contract.
    unsafe { core::slice::from_raw_parts(p, n) }
}

/// The first `n` elements behind `p` as an output slice of possibly uninitialised memory.
///
/// # Safety
/// As for [`input`], but for `n` writable elements that no other slice of the call overlaps.
pub(crate) unsafe fn output<'a, T>(p: *mut T, n: usize) -> &'a mut [MaybeUninit<T>] {
    if n == 0 {
        // A dangling, aligned, non-NULL pointer is the valid empty slice; `p` may be NULL.
        // SAFETY: zero elements are never accessed.
        return unsafe { core::slice::from_raw_parts_mut(NonNull::dangling().as_ptr(), 0) };
    }
    // SAFETY: see the function's contract; `MaybeUninit<T>` has `T`'s layout.
    unsafe { core::slice::from_raw_parts_mut(p.cast::<MaybeUninit<T>>(), n) }
}

/// Stores a scalar result through a checked out-pointer.
///
/// # Safety
/// `p` passed [`required`] and [`aligned`] and points to writable memory for one `T`.
pub(crate) unsafe fn write<T>(p: *mut T, v: T) {
    // SAFETY: see the function's contract; `write` does not read or drop the old value.
    unsafe { p.write(v) }
}

/// Phase 1: the element type of a `void *` float buffer (`quantize_float_type`).
pub(crate) fn float_type(v: u32) -> Result<FloatType> {
    FloatType::from_raw(v).ok_or(Error::InvalidArgument)
}

/// Phase 1: `n` elements of type `t` must be addressable (at most `isize::MAX` bytes).
pub(crate) fn count_of(t: FloatType, n: usize) -> Result<()> {
    match n.checked_mul(t.size()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(Error::InvalidArgument),
    }
}

/// Phase 3: a `void *` float buffer must be aligned for its element type (2 or 4 bytes).
pub(crate) fn aligned_of(p: *const c_void, t: FloatType) -> Result<()> {
    if (p as usize).is_multiple_of(t.size()) {
        Ok(())
    } else {
        Err(Error::Misaligned)
    }
}

/// The first `n` elements of type `t` behind an input pointer.
pub(crate) fn reads_of(p: *const c_void, t: FloatType, n: usize) -> Region {
    region(p.cast::<u8>(), n.saturating_mul(t.size()), false)
}

/// The first `n` elements of type `t` behind an output pointer.
pub(crate) fn writes_of(p: *mut c_void, t: FloatType, n: usize) -> Region {
    region(
        p.cast_const().cast::<u8>(),
        n.saturating_mul(t.size()),
        true,
    )
}

/// The first `n` elements of type `t` behind `p`.
///
/// # Safety
/// As for [`input`], with [`float_type`], [`count_of`], [`non_null`] and [`aligned_of`] passed.
pub(crate) unsafe fn input_floats<'a>(t: FloatType, p: *const c_void, n: usize) -> Floats<'a> {
    // SAFETY: see the function's contract; the checks make `p` valid for `n` elements of `t`.
    unsafe {
        match t {
            FloatType::F32 => Floats::F32(input(p.cast::<f32>(), n)),
            FloatType::F16 => Floats::F16(input(p.cast::<u16>(), n)),
            FloatType::Bf16 => Floats::Bf16(input(p.cast::<u16>(), n)),
        }
    }
}

/// The first `n` elements of type `t` behind `p`, as output.
///
/// # Safety
/// As for [`output`], with [`float_type`], [`count_of`], [`non_null`] and [`aligned_of`] passed.
pub(crate) unsafe fn output_floats<'a>(t: FloatType, p: *mut c_void, n: usize) -> FloatsUninit<'a> {
    // SAFETY: see the function's contract.
    unsafe {
        match t {
            FloatType::F32 => FloatsUninit::F32(output(p.cast::<f32>(), n)),
            FloatType::F16 => FloatsUninit::F16(output(p.cast::<u16>(), n)),
            FloatType::Bf16 => FloatsUninit::Bf16(output(p.cast::<u16>(), n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_limits_bytes_to_isize_max() {
        assert_eq!(count::<f32>(isize::MAX as usize / 4), Ok(()));
        assert_eq!(
            count::<f32>(isize::MAX as usize / 4 + 1),
            Err(Error::InvalidArgument)
        );
        assert_eq!(count::<u8>(isize::MAX as usize), Ok(()));
        assert_eq!(count::<u8>(usize::MAX), Err(Error::InvalidArgument));
    }

    #[test]
    fn null_is_fine_only_when_empty() {
        assert_eq!(non_null(core::ptr::null::<f32>(), 0), Ok(()));
        assert_eq!(
            non_null(core::ptr::null::<f32>(), 1),
            Err(Error::NullPointer)
        );
        assert_eq!(required(core::ptr::null::<f32>()), Err(Error::NullPointer));
    }

    #[test]
    fn overlap_needs_a_shared_byte_and_a_writer() {
        let buf = [0u8; 16];
        let p = buf.as_ptr();
        let w = p as *mut u8;
        // Touching but not sharing.
        assert!(disjoint(&[reads(p, 8), writes(w.wrapping_add(8), 8)]).is_ok());
        assert_eq!(
            disjoint(&[reads(p, 9), writes(w.wrapping_add(8), 8)]),
            Err(Error::Overlap)
        );
        // Two inputs may alias; empty regions never overlap.
        assert!(disjoint(&[reads(p, 8), reads(p, 8)]).is_ok());
        assert!(disjoint(&[reads(p, 8), writes(w, 0)]).is_ok());
        assert!(disjoint(&[writes(w, 8), reads(p.wrapping_add(3), 0)]).is_ok());
        assert!(disjoint(&[reads(p, 8), writes(w.wrapping_add(3), 0)]).is_ok());
        assert_eq!(disjoint(&[writes(w, 1), writes(w, 1)]), Err(Error::Overlap));
        // Element size counts: two floats cover 8 bytes.
        let f = p as *mut f32;
        assert_eq!(
            disjoint(&[writes(f, 2), reads(p.wrapping_add(7), 1)]),
            Err(Error::Overlap)
        );
    }
}
