//! Output buffers.
//!
//! Kernels write into `&mut [MaybeUninit<T>]`: the C layer can hand us memory that C has not
//! initialised, and a `&mut [T]` over such memory would be undefined behaviour. Safe Rust callers
//! pass ordinary `&mut [T]`, which [`uninit`] views as the same type.

use core::mem::MaybeUninit;

/// Views an initialised slice as a slice of possibly-uninitialised elements.
pub(crate) fn uninit<T: Copy>(s: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has the same size, alignment and layout as `T`. The kernels only
    // ever store initialised values through the returned slice (never `MaybeUninit::uninit()`),
    // so `s` stays fully initialised, and `T: Copy` means no destructor is skipped.
    unsafe { &mut *(s as *mut [T] as *mut [MaybeUninit<T>]) }
}
