//! The group loops the levels share: a level's group kernel is one of these over its own
//! per-tensor kernels, or its dedicated multi-group loop with [`quantize_groups_split`] for
//! the rest.

use super::{scalar, Kernels};
use crate::reference::int4::{check_params, groups, params_for, Params, ScaleMethod};
use crate::Result;
use core::mem::MaybeUninit;

/// The group sizes the SIMD levels' dedicated loops take (`simd::multi_block`): whole blocks of
/// 32, the common sizes of 4-bit model formats (bitsandbytes' 64, GPTQ's and AWQ's 128).
pub(crate) const GROUP_SIZES: [usize; 4] = [32, 64, 128, 256];

/// A SIMD level's group kernel: `multi`, the level's dedicated loop, quantizes the whole groups
/// of a size in [`GROUP_SIZES`] (it gets `src` cut to them, the group size, and the outputs
/// exactly as long as they need); [`quantize_groups_with`] over the level's per-tensor kernels
/// `k` does a last partial group and every other group size. Lengths as
/// `BlockKernels::quantize_groups` states them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn quantize_groups_split(
    k: &Kernels,
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
    multi: impl FnOnce(
        &[f32],
        usize,
        ScaleMethod,
        &mut [MaybeUninit<u8>],
        &mut [MaybeUninit<f32>],
        &mut [MaybeUninit<i8>],
    ) -> Result<()>,
) -> Result<()> {
    if !GROUP_SIZES.contains(&group_size) {
        return quantize_groups_with(k, src, group_size, method, codes, scales, zero_points);
    }
    let count = src.len() / group_size;
    let whole = count * group_size;
    let (codes, codes_rest) = codes.split_at_mut(whole / 2);
    let (scales, scales_rest) = scales.split_at_mut(count);
    // Absmax without zero points: both parts empty.
    let (zps, zps_rest) = zero_points.split_at_mut(if zero_points.is_empty() { 0 } else { count });
    if whole > 0 {
        multi(&src[..whole], group_size, method, codes, scales, zps)?;
    }
    quantize_groups_with(
        k,
        &src[whole..],
        group_size,
        method,
        codes_rest,
        scales_rest,
        zps_rest,
    )
}

/// The group loop on top of one level's per-tensor kernels (`k.scan`, `k.quantize_packed`): the
/// scalar level's group kernel, and the SIMD levels' for group sizes they have no dedicated
/// kernel for. Lengths as `BlockKernels::quantize_groups` states them.
pub(crate) fn quantize_groups_with(
    k: &Kernels,
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()> {
    let n = src.len();
    // The low nibble of a byte whose high nibble belongs to the next group.
    let mut pending: Option<i8> = None;
    for (g, r) in groups(n, group_size).enumerate() {
        let x = &src[r.clone()];
        let p = params_for((k.scan)(x)?, method);
        scales[g].write(p.scale);
        if let Some(z) = zero_points.get_mut(g) {
            z.write(p.zero_point);
        }
        let mut i = r.start;
        if let Some(lo) = pending.take() {
            let hi = scalar::quantize_one(src[i], p.scale, p.zero_point);
            codes[i / 2].write(scalar::pack_pair(lo, hi));
            i += 1;
        }
        // `i` is even here, so the rest of the group starts on a byte boundary.
        let paired = (r.end - i) / 2 * 2;
        let (body, tail) = src[i..r.end].split_at(paired);
        (k.quantize_packed)(
            body,
            p.scale,
            p.zero_point,
            &mut codes[i / 2..(i + paired) / 2],
        );
        if let Some(&x) = tail.first() {
            pending = Some(scalar::quantize_one(x, p.scale, p.zero_point));
        }
    }
    if let Some(lo) = pending {
        codes[n / 2].write(scalar::pack_pair(lo, 0));
    }
    Ok(())
}

/// The group loop on top of a per-tensor packed dequantizer (`Kernels::dequantize_packed`, or a
/// SIMD level's variant without its small-input cut-over, as groups are often small). Lengths as
/// `BlockKernels::dequantize_groups` states them.
pub(crate) fn dequantize_groups_with(
    dequantize_packed: fn(&[u8], f32, i8, &mut [MaybeUninit<f32>]),
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let n = dst.len();
    for (g, r) in groups(n, group_size).enumerate() {
        let p = Params {
            scale: scales[g],
            zero_point: zero_points.get(g).copied().unwrap_or(0),
        };
        check_params(p)?;
        let mut i = r.start;
        if i % 2 == 1 {
            let (_, hi) = scalar::unpack_pair(codes[i / 2]);
            dst[i].write(scalar::dequantize_one(hi, p.scale, p.zero_point));
            i += 1;
        }
        let paired = (r.end - i) / 2 * 2;
        dequantize_packed(
            &codes[i / 2..(i + paired) / 2],
            p.scale,
            p.zero_point,
            &mut dst[i..i + paired],
        );
        if paired < r.end - i {
            let (lo, _) = scalar::unpack_pair(codes[(r.end - 1) / 2]);
            dst[r.end - 1].write(scalar::dequantize_one(lo, p.scale, p.zero_point));
        }
    }
    Ok(())
}
