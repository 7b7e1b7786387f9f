//! The half-precision chunk loops: every `_from` / `_into` function of the safe API runs the
//! level's float32 kernel on pieces of at most [`CHUNK`] values, widened into (or narrowed from)
//! a buffer on the stack; float32 buffers are handed over whole.

use super::Kernels;
use crate::float::{Floats, FloatsUninit};
use crate::Result;
use core::mem::MaybeUninit;

/// Values per chunk of the half-precision loops: a multiple of every block size of the library
/// (32, 64, 256, and the codebooks' powers of two up to 4096), 16 KiB of float32.
pub(crate) const CHUNK: usize = 4096;

/// Widens `src` (at most `dst.len()` values) into the start of `dst` with the level's
/// conversion (float32 is copied) and returns the widened values.
pub(crate) fn widen<'b>(
    k: &Kernels,
    src: Floats<'_>,
    dst: &'b mut [MaybeUninit<f32>],
) -> &'b [f32] {
    let m = src.len();
    match src {
        Floats::F32(s) => {
            for (d, &v) in dst.iter_mut().zip(s) {
                d.write(v);
            }
        }
        Floats::F16(s) => (k.widen_f16)(s, &mut dst[..s.len()]),
        Floats::Bf16(s) => (k.widen_bf16)(s, &mut dst[..s.len()]),
    }
    // SAFETY: the conversion initialised `dst[..m]`.
    unsafe { &*(&dst[..m] as *const [MaybeUninit<f32>] as *const [f32]) }
}

/// Calls `f(start, values)` for consecutive pieces of `src` of `step` values (the last one may
/// be shorter), in order, stopping at the first error; half-precision pieces are widened into a
/// stack buffer. Float32 input needs no widening and is handed over whole, as one piece (so the
/// float32 functions are these same loops at no cost): callers accept any piece length that is
/// a multiple of `step`. `step` is at most [`CHUNK`].
pub(crate) fn for_each_chunk(
    k: &Kernels,
    src: Floats<'_>,
    step: usize,
    mut f: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<()> {
    debug_assert!(step > 0 && step <= CHUNK);
    if let Floats::F32(s) = src {
        return if s.is_empty() { Ok(()) } else { f(0, s) };
    }
    half_chunks(k, src, step, f)
}

/// The half-precision part of [`for_each_chunk`], out of line: its 16 KiB buffer would otherwise
/// make every float32 call pay for a stack frame that size (probed page by page), which is
/// most of the cost of a one-block call.
#[inline(never)]
fn half_chunks(
    k: &Kernels,
    src: Floats<'_>,
    step: usize,
    mut f: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<()> {
    let n = src.len();
    let mut buf = [MaybeUninit::<f32>::uninit(); CHUNK];
    let mut start = 0;
    while start < n {
        let end = n.min(start + step);
        let m = end - start;
        let x = widen(k, src.slice(start..end), &mut buf[..m]);
        f(start, x)?;
        start = end;
    }
    Ok(())
}

/// Calls `f(start, out)` for consecutive pieces of `dst` of `step` values (the last one may be
/// shorter), in order; `f` must initialise all of `out`. For half precision `f` fills a stack
/// buffer that is then rounded into `dst`, only once `f` has succeeded (on an error, that piece
/// of `dst` is not written). Float32 output is the caller's memory, handed over whole as one
/// piece (see [`for_each_chunk`]). `step` is at most [`CHUNK`].
pub(crate) fn for_each_chunk_into(
    k: &Kernels,
    dst: FloatsUninit<'_>,
    step: usize,
    mut f: impl FnMut(usize, &mut [MaybeUninit<f32>]) -> Result<()>,
) -> Result<()> {
    debug_assert!(step > 0 && step <= CHUNK);
    if let FloatsUninit::F32(d) = dst {
        return if d.is_empty() { Ok(()) } else { f(0, d) };
    }
    half_chunks_into(k, dst, step, f)
}

/// The half-precision part of [`for_each_chunk_into`], out of line (see [`half_chunks`]).
#[inline(never)]
fn half_chunks_into(
    k: &Kernels,
    mut dst: FloatsUninit<'_>,
    step: usize,
    mut f: impl FnMut(usize, &mut [MaybeUninit<f32>]) -> Result<()>,
) -> Result<()> {
    let n = dst.len();
    let mut buf = [MaybeUninit::<f32>::uninit(); CHUNK];
    let mut start = 0;
    while start < n {
        let end = n.min(start + step);
        let m = end - start;
        f(start, &mut buf[..m])?;
        // SAFETY: `f` succeeded, so it initialised `buf[..m]` (its contract).
        let y = unsafe { &*(&buf[..m] as *const [MaybeUninit<f32>] as *const [f32]) };
        match dst.slice_mut(start..end) {
            FloatsUninit::F16(d) => (k.narrow_f16)(y, d),
            FloatsUninit::Bf16(d) => (k.narrow_bf16)(y, d),
            FloatsUninit::F32(_) => unreachable!("handled above"),
        }
        start = end;
    }
    Ok(())
}
