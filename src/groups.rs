//! Group-wise int4: group `g` covers elements `[g*group_size, min((g+1)*group_size, n))` and
//! gets its own scale and zero point by the per-tensor rules (docs/contract.md §2); the codes of
//! all groups form one packed stream, so with an odd group size a byte can hold codes of two
//! groups.

use crate::kernels::chunks::{for_each_chunk, for_each_chunk_into, CHUNK};
use crate::kernels::{self, scalar, Kernels};
use crate::out::uninit;
use crate::pack::packed_len;
pub use crate::reference::int4::group_count;
use crate::reference::int4::{check_params, groups, params_for, Params, ScaleMethod};
use crate::{Error, Floats, FloatsMut, FloatsUninit, Result};
use core::mem::MaybeUninit;

/// Quantizes `src` (n = `src.len()`) group by group.
///
/// `codes` needs `packed_len(n)` bytes and `scales` `group_count(n, group_size)` entries.
/// `zero_points` needs as many for [`ScaleMethod::MinMax`]; for [`ScaleMethod::AbsMax`] it may
/// be empty (nothing written), otherwise it needs as many and gets zeros.
///
/// Errors: `InvalidArgument` (group size 0), `BufferTooSmall`, then the first bad element
/// (`NonFinite`, `ValueOutOfRange`). On bad data, groups before the bad one may have been
/// written, never any after it.
pub fn quantize_int4_groups(
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [u8],
    scales: &mut [f32],
    zero_points: &mut [i8],
) -> Result<()> {
    quantize_int4_groups_uninit(
        src,
        group_size,
        method,
        uninit(codes),
        uninit(scales),
        uninit(zero_points),
    )
}

/// Checks the lengths of the group buffers; returns the group count.
pub(crate) fn check_group_lengths(
    n: usize,
    group_size: usize,
    codes_len: usize,
    scales_len: usize,
    zero_points_len: usize,
    zero_points_optional: bool,
) -> Result<usize> {
    if group_size == 0 {
        return Err(Error::InvalidArgument);
    }
    let count = group_count(n, group_size);
    let zero_points_ok = zero_points_len >= count || (zero_points_optional && zero_points_len == 0);
    if codes_len < packed_len(n) || scales_len < count || !zero_points_ok {
        return Err(Error::BufferTooSmall);
    }
    Ok(count)
}

/// [`quantize_int4_groups`] into possibly uninitialised memory.
pub fn quantize_int4_groups_uninit(
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()> {
    quantize_int4_groups_from_uninit(
        Floats::F32(src),
        group_size,
        method,
        codes,
        scales,
        zero_points,
    )
}

/// Dequantizes `dst.len()` values group by group from `codes` (`packed_len(n)` bytes), `scales`
/// (`group_count` entries) and `zero_points` (as many, or empty: every zero point 0).
///
/// Errors: `InvalidArgument` (group size 0), `BufferTooSmall`, then per group in order: its zero
/// point (`ValueOutOfRange`), its scale (`NonFinite`). Groups before a bad one may have been
/// written, never any after it.
pub fn dequantize_int4_groups(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [f32],
) -> Result<()> {
    dequantize_int4_groups_uninit(codes, group_size, scales, zero_points, uninit(dst))
}

/// [`dequantize_int4_groups`] into possibly uninitialised memory.
pub fn dequantize_int4_groups_uninit(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let dst = FloatsUninit::F32(dst);
    dequantize_int4_groups_into_uninit(codes, group_size, scales, zero_points, dst)
}

/// [`quantize_int4_groups`] from float32, float16 or bfloat16 values: bit for bit what it gives
/// on the values widened to float32. Lengths and errors as there.
pub fn quantize_int4_groups_from(
    src: Floats<'_>,
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [u8],
    scales: &mut [f32],
    zero_points: &mut [i8],
) -> Result<()> {
    quantize_int4_groups_from_uninit(
        src,
        group_size,
        method,
        uninit(codes),
        uninit(scales),
        uninit(zero_points),
    )
}

/// [`quantize_int4_groups_from`] into possibly uninitialised memory.
#[inline]
pub fn quantize_int4_groups_from_uninit(
    src: Floats<'_>,
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()> {
    let k = kernels::active();
    quantize_int4_groups_from_with(k, src, group_size, method, codes, scales, zero_points)
}

/// Groups of at most this many values are quantized whole chunks of groups at a time by the
/// level's group kernel; larger groups are scanned, then quantized, chunk by chunk.
const SMALL_GROUP: usize = CHUNK / 2;

#[inline(always)]
pub(crate) fn quantize_int4_groups_from_with(
    k: &Kernels,
    src: Floats<'_>,
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()> {
    let n = src.len();
    let absmax = method == ScaleMethod::AbsMax;
    let count = check_group_lengths(
        n,
        group_size,
        codes.len(),
        scales.len(),
        zero_points.len(),
        absmax,
    )?;
    let with_zero_points = !zero_points.is_empty();
    let codes = &mut codes[..packed_len(n)];
    let scales = &mut scales[..count];
    let zero_points = &mut zero_points[..if with_zero_points { count } else { 0 }];
    if let Floats::F32(x) = src {
        // Nothing to widen: the level's group kernel on the caller's memory.
        let q = k.blocks.quantize_groups;
        return q(x, group_size, method, codes, scales, zero_points);
    }
    if group_size <= SMALL_GROUP {
        // An even number of whole groups per chunk: chunks start on group and byte boundaries.
        let step = CHUNK / (2 * group_size) * 2 * group_size;
        return for_each_chunk(k, src, step, |start, x| {
            let (g, m) = (start / group_size, group_count(x.len(), group_size));
            (k.blocks.quantize_groups)(
                x,
                group_size,
                method,
                &mut codes[start / 2..][..packed_len(x.len())],
                &mut scales[g..g + m],
                if with_zero_points {
                    &mut zero_points[g..g + m]
                } else {
                    &mut []
                },
            )
        });
    }
    for (g, r) in groups(n, group_size).enumerate() {
        let x = src.slice(r.clone());
        // Validate the whole group (and find its range) before writing any of it.
        let mut range: Option<kernels::Range> = None;
        for_each_chunk(k, x, CHUNK, |_, c| {
            let s = (k.scan)(c)?;
            range = Some(match range {
                None => s,
                Some(a) => kernels::Range {
                    min: if s.min < a.min { s.min } else { a.min },
                    max: if s.max > a.max { s.max } else { a.max },
                },
            });
            Ok(())
        })?;
        let p = params_for(
            range.unwrap_or(kernels::Range { min: 0.0, max: 0.0 }),
            method,
        );
        scales[g].write(p.scale);
        if with_zero_points {
            zero_points[g].write(p.zero_point);
        }
        // A group starting at an odd index shares its first byte with the group before, which
        // wrote that byte's low nibble (and a zero high nibble): complete it.
        let mut body = r.clone();
        if r.start % 2 == 1 {
            let mut first = 0.0f32;
            for_each_chunk(k, src.slice(r.start..r.start + 1), 1, |_, c| {
                first = c[0];
                Ok(())
            })?;
            // SAFETY: the group before wrote this byte (it holds that group's last element).
            let lo = scalar::unpack_pair(unsafe { codes[r.start / 2].assume_init() }).0;
            let hi = scalar::quantize_one(first, p.scale, p.zero_point);
            codes[r.start / 2].write(scalar::pack_pair(lo, hi));
            body.start += 1;
        }
        // From an even index on: whole bytes; an odd end leaves a zero high nibble that the
        // next group completes (or that stays as the padding of the last byte).
        for_each_chunk(k, src.slice(body.clone()), CHUNK, |start, c| {
            let at = body.start + start;
            let out = &mut codes[at / 2..][..packed_len(c.len())];
            (k.quantize_packed)(c, p.scale, p.zero_point, out);
            Ok(())
        })?;
    }
    Ok(())
}

/// [`dequantize_int4_groups`] into float32, float16 or bfloat16 values: the float32 results
/// rounded once to the output type. Lengths and errors as there.
pub fn dequantize_int4_groups_into(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    mut dst: FloatsMut<'_>,
) -> Result<()> {
    dequantize_int4_groups_into_uninit(codes, group_size, scales, zero_points, dst.as_uninit())
}

/// [`dequantize_int4_groups_into`] into possibly uninitialised memory.
#[inline]
pub fn dequantize_int4_groups_into_uninit(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: FloatsUninit<'_>,
) -> Result<()> {
    let k = kernels::active();
    dequantize_int4_groups_into_with(k, codes, group_size, scales, zero_points, dst)
}

#[inline(always)]
pub(crate) fn dequantize_int4_groups_into_with(
    k: &Kernels,
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    mut dst: FloatsUninit<'_>,
) -> Result<()> {
    let n = dst.len();
    let count = check_group_lengths(
        n,
        group_size,
        codes.len(),
        scales.len(),
        zero_points.len(),
        true,
    )?;
    let codes = &codes[..packed_len(n)];
    let scales = &scales[..count];
    let zero_points = if zero_points.is_empty() {
        zero_points
    } else {
        &zero_points[..count]
    };
    if let FloatsUninit::F32(y) = dst {
        let dq = k.blocks.dequantize_groups;
        return dq(codes, group_size, scales, zero_points, y);
    }
    if group_size <= SMALL_GROUP {
        let step = CHUNK / (2 * group_size) * 2 * group_size;
        return for_each_chunk_into(k, dst, step, |start, out| {
            let (g, m) = (start / group_size, group_count(out.len(), group_size));
            (k.blocks.dequantize_groups)(
                &codes[start / 2..][..packed_len(out.len())],
                group_size,
                &scales[g..g + m],
                zero_points.get(g..g + m).unwrap_or(&[]),
                out,
            )
        });
    }
    for (g, r) in groups(n, group_size).enumerate() {
        let p = Params {
            scale: scales[g],
            zero_point: zero_points.get(g).copied().unwrap_or(0),
        };
        check_params(p)?;
        // The group's values as a stream of their own: an element at an odd index is the high
        // nibble of its byte.
        let odd = r.start % 2;
        for_each_chunk_into(k, dst.slice_mut(r.clone()), CHUNK, |start, out| {
            let at = r.start + start;
            if odd == 0 {
                let c = &codes[at / 2..][..packed_len(out.len())];
                (k.dequantize_packed)(c, p.scale, p.zero_point, out);
            } else {
                // Odd start (chunks are even, so every chunk starts odd): one value by hand,
                // then whole bytes.
                let (_, hi) = scalar::unpack_pair(codes[at / 2]);
                out[0].write(scalar::dequantize_one(hi, p.scale, p.zero_point));
                let rest = &mut out[1..];
                let c = &codes[at.div_ceil(2)..][..packed_len(rest.len())];
                (k.dequantize_packed)(c, p.scale, p.zero_point, rest);
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::int4::quantize_to_int4;
    use crate::pack::unpack_int8_to_int4;

    #[test]
    fn group_count_is_ceil_and_zero_for_zero() {
        assert_eq!(group_count(0, 4), 0);
        assert_eq!(group_count(4, 0), 0);
        assert_eq!(group_count(8, 4), 2);
        assert_eq!(group_count(9, 4), 3);
        assert_eq!(group_count(usize::MAX, 1), usize::MAX);
        assert_eq!(group_count(usize::MAX, 2), usize::MAX / 2 + 1);
    }

    #[test]
    fn odd_groups_share_bytes_and_match_per_group_quantization() {
        let src: Vec<f32> = (0..23).map(|i| ((i * 7919) % 31) as f32 - 13.5).collect();
        for gs in [1, 3, 5, 7, 23, 100] {
            for method in ScaleMethod::ALL {
                let count = group_count(src.len(), gs);
                let mut codes = vec![0xEEu8; packed_len(src.len()) + 1];
                let mut scales = vec![0.0f32; count];
                let mut zps = vec![0i8; count];
                quantize_int4_groups(&src, gs, method, &mut codes, &mut scales, &mut zps).unwrap();
                assert_eq!(*codes.last().unwrap(), 0xEE, "byte past the end untouched");
                let mut unpacked = vec![0i8; src.len()];
                unpack_int8_to_int4(&codes, &mut unpacked).unwrap();
                for (g, chunk) in src.chunks(gs).enumerate() {
                    let mut q = vec![0i8; chunk.len()];
                    let p = quantize_to_int4(chunk, method, &mut q).unwrap();
                    assert_eq!(
                        p,
                        Params {
                            scale: scales[g],
                            zero_point: zps[g]
                        }
                    );
                    assert_eq!(q, unpacked[g * gs..g * gs + chunk.len()]);
                }
            }
        }
    }

    #[test]
    fn bad_group_stops_before_writing_it() {
        let src = [1.0, 2.0, 3.0, f32::NAN, 5.0, 6.0];
        let mut codes = [0xEEu8; 3];
        let mut scales = [9.0f32; 3];
        let mut zps = [9i8; 3];
        let r = quantize_int4_groups(
            &src,
            2,
            ScaleMethod::MinMax,
            &mut codes,
            &mut scales,
            &mut zps,
        );
        assert_eq!(r, Err(Error::NonFinite));
        assert_ne!(scales[0], 9.0);
        assert_eq!((scales[1], scales[2], zps[1], zps[2]), (9.0, 9.0, 9, 9));
        assert_eq!(codes[1..], [0xEE, 0xEE]);
    }
}
