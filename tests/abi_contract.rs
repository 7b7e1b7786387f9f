//! The C ABI's boundary rules (docs/contract.md §4), called the way C calls them: every status
//! code, the check order, and what is (not) written, for the int4, packing, group and stats
//! functions. The check order of every C function, in pairs of failing phases and every float
//! type, is the table of `tests/abi_check_order.rs`.

mod common;

use common::sentinel;
use quantize::ffi::*;
use quantize::stats::ErrorStats;
use std::ptr::{null, null_mut};

const SENTINEL_F: f32 = sentinel::F32;
const SENTINEL_B: u8 = sentinel::BYTE;

/// A float pointer that is not 4-byte aligned, inside `buf`.
fn misaligned(buf: &mut [u8]) -> *mut f32 {
    sentinel::misaligned(buf.as_mut_ptr(), 4)
}

#[test]
fn quantize_to_int4_statuses_in_check_order() {
    let src = [1.0f32, -2.0, 3.0, 0.5];
    let mut dst = [7i8; 4];
    let mut scale = SENTINEL_F;
    let mut zp = 5i8;
    let mut raw = [0u8; 32];
    unsafe {
        let q = |src: *const f32, n, m, dst: *mut i8, s: *mut f32, z: *mut i8| {
            quantize_to_int4(src, n, m, dst, s, z)
        };
        // 1. invalid parameters win over everything, even NULL pointers.
        assert_eq!(
            q(null(), 4, 2, null_mut(), null_mut(), null_mut()),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            q(null(), 4, u32::MAX, null_mut(), null_mut(), null_mut()),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            q(
                null(),
                usize::MAX / 2,
                0,
                null_mut(),
                null_mut(),
                null_mut()
            ),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        // 2. NULL before alignment.
        let bad = misaligned(&mut raw);
        assert_eq!(
            q(bad, 4, 0, null_mut(), &mut scale, &mut zp),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            q(src.as_ptr(), 4, 0, dst.as_mut_ptr(), null_mut(), &mut zp),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            q(src.as_ptr(), 4, 0, dst.as_mut_ptr(), &mut scale, null_mut()),
            QUANTIZE_ERR_NULL_POINTER
        );
        // n = 0 with NULL buffers is fine up to the empty check.
        assert_eq!(
            q(null(), 0, 0, null_mut(), &mut scale, &mut zp),
            QUANTIZE_ERR_EMPTY_INPUT
        );
        // 3. alignment, even when n is 0; the scale out-pointer too.
        assert_eq!(
            q(bad, 0, 0, null_mut(), &mut scale, &mut zp),
            QUANTIZE_ERR_MISALIGNED
        );
        assert_eq!(
            q(src.as_ptr(), 4, 0, dst.as_mut_ptr(), bad, &mut zp),
            QUANTIZE_ERR_MISALIGNED
        );
        // 5. overlap: dst over src, scale inside src, zero point inside src.
        let mut both = [1.0f32, 2.0, 3.0, 4.0];
        let p = both.as_mut_ptr();
        assert_eq!(
            q(p, 4, 0, p.cast(), &mut scale, &mut zp),
            QUANTIZE_ERR_OVERLAP
        );
        assert_eq!(
            q(
                src.as_ptr(),
                4,
                0,
                dst.as_mut_ptr(),
                src.as_ptr().add(1) as *mut f32,
                &mut zp
            ),
            QUANTIZE_ERR_OVERLAP
        );
        assert_eq!(
            q(
                p,
                4,
                0,
                dst.as_mut_ptr(),
                &mut scale,
                p.cast::<i8>().add(15)
            ),
            QUANTIZE_ERR_OVERLAP
        );
        // ...but an out-pointer just past the bytes n needs is fine.
        let mut codes_and_zp = [0i8; 5];
        let cz = codes_and_zp.as_mut_ptr();
        assert_eq!(
            q(src.as_ptr(), 4, 0, cz, &mut scale, cz.add(4)),
            QUANTIZE_OK
        );
        // 6. empty before data; 7. data: the first bad element wins.
        assert_eq!(
            q(src.as_ptr(), 0, 0, dst.as_mut_ptr(), &mut scale, &mut zp),
            QUANTIZE_ERR_EMPTY_INPUT
        );
        scale = SENTINEL_F;
        zp = 5;
        let data = [1.0f32, 1e38, f32::NAN];
        assert_eq!(
            q(data.as_ptr(), 3, 0, dst.as_mut_ptr(), &mut scale, &mut zp),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        let data = [1.0f32, f32::NEG_INFINITY, 1e38];
        assert_eq!(
            q(data.as_ptr(), 3, 1, dst.as_mut_ptr(), &mut scale, &mut zp),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(
            (dst, scale, zp),
            ([7; 4], SENTINEL_F, 5),
            "nothing written on error"
        );
        // ±2^126 exactly is accepted.
        let two_126 = f32::from_bits((126 + 127) << 23);
        let edge = [two_126, -two_126];
        assert_eq!(
            q(edge.as_ptr(), 2, 0, dst.as_mut_ptr(), &mut scale, &mut zp),
            QUANTIZE_OK
        );
        assert!(scale.is_finite() && scale > 0.0);
    }
}

#[test]
fn dequantize_from_int4_statuses_in_check_order() {
    let codes = [-8i8, 0, 7, 9];
    let mut out = [SENTINEL_F; 4];
    let mut raw = [0u8; 32];
    unsafe {
        assert_eq!(
            dequantize_from_int4(null(), usize::MAX / 4 + 1, 1.0, 0, null_mut()),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            dequantize_from_int4(null(), 3, 1.0, 0, out.as_mut_ptr()),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 3, 1.0, 0, null_mut()),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            dequantize_from_int4(null(), 0, 1.0, 0, misaligned(&mut raw)),
            QUANTIZE_ERR_MISALIGNED
        );
        assert_eq!(
            dequantize_from_int4(null(), 0, f32::NAN, 100, null_mut()),
            QUANTIZE_OK,
            "n = 0: nothing to check"
        );
        let p = out.as_mut_ptr();
        assert_eq!(
            dequantize_from_int4(p.cast::<i8>().add(3), 4, 1.0, 0, p),
            QUANTIZE_ERR_OVERLAP
        );
        // zero point, then scale, then codes.
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 4, f32::NAN, 8, p),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 4, f32::NAN, -8, p),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 4, f32::INFINITY, 0, p),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 4, 1.0, 0, p),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        // Read through `p` (not `out`), so `p` stays valid under Miri's aliasing models.
        assert_eq!(*p.cast::<[f32; 4]>(), [SENTINEL_F; 4]);
        // Negative and huge finite scales are accepted; the result is the formula's float.
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 3, -0.5, 1, p),
            QUANTIZE_OK
        );
        assert_eq!(*p.cast::<[f32; 4]>(), [4.5, 0.5, -3.0, SENTINEL_F]);
        assert_eq!(
            dequantize_from_int4(codes.as_ptr(), 3, f32::MAX, 0, p),
            QUANTIZE_OK
        );
        assert_eq!(
            *p.cast::<[f32; 3]>(),
            [f32::NEG_INFINITY, 0.0, f32::INFINITY]
        );
    }
}

#[test]
fn pack_and_unpack_statuses() {
    let codes = [1i8, -1, 7];
    let mut bytes = [SENTINEL_B; 3];
    let mut back = [9i8; 4];
    unsafe {
        assert_eq!(
            pack_int4_to_int8(null(), usize::MAX, null_mut(), 0),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            pack_int4_to_int8(null(), 1, bytes.as_mut_ptr(), 3),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            pack_int4_to_int8(codes.as_ptr(), 3, null_mut(), 1),
            QUANTIZE_ERR_NULL_POINTER
        );
        // NULL with length 0 is an empty buffer: too small for 3 codes.
        assert_eq!(
            pack_int4_to_int8(codes.as_ptr(), 3, null_mut(), 0),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            pack_int4_to_int8(codes.as_ptr(), 3, bytes.as_mut_ptr(), 1),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        let p = back.as_mut_ptr();
        // Too small comes before overlap.
        assert_eq!(
            pack_int4_to_int8(p, 4, p.cast(), 1),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            pack_int4_to_int8(p, 4, p.cast::<u8>().add(3), 2),
            QUANTIZE_ERR_OVERLAP
        );
        // A destination right after the source is fine.
        assert_eq!(
            pack_int4_to_int8(codes.as_ptr(), 3, bytes.as_mut_ptr(), 3),
            QUANTIZE_OK
        );
        assert_eq!(
            bytes,
            [0xF1, 0x07, SENTINEL_B],
            "byte past what n needs untouched"
        );
        let bad = [1i8, 2, -9];
        assert_eq!(
            pack_int4_to_int8(bad.as_ptr(), 3, bytes.as_mut_ptr(), 3),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        assert_eq!(bytes, [0xF1, 0x07, SENTINEL_B]);
        assert_eq!(pack_int4_to_int8(null(), 0, null_mut(), 0), QUANTIZE_OK);

        assert_eq!(
            unpack_int8_to_int4(null(), 1, back.as_mut_ptr(), 3),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            unpack_int8_to_int4(bytes.as_ptr(), 1, back.as_mut_ptr(), 3),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            unpack_int8_to_int4(bytes.as_ptr(), 2, bytes.as_mut_ptr().cast::<i8>().add(1), 3),
            QUANTIZE_ERR_OVERLAP
        );
        assert_eq!(
            unpack_int8_to_int4(bytes.as_ptr(), 2, back.as_mut_ptr(), 3),
            QUANTIZE_OK
        );
        assert_eq!(back, [1, -1, 7, 9]);
    }
}

#[test]
fn fused_functions_statuses() {
    let src = [0.5f32, -1.0, 2.0];
    let mut bytes = [SENTINEL_B; 3];
    let (mut scale, mut zp) = (SENTINEL_F, 5i8);
    let mut out = [SENTINEL_F; 3];
    unsafe {
        let q = quantize_to_int4_packed;
        assert_eq!(
            q(src.as_ptr(), 3, 7, null_mut(), 0, null_mut(), null_mut()),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            q(
                src.as_ptr(),
                3,
                0,
                bytes.as_mut_ptr(),
                3,
                null_mut(),
                &mut zp
            ),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            q(
                src.as_ptr(),
                3,
                0,
                bytes.as_mut_ptr(),
                1,
                &mut scale,
                &mut zp
            ),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            q(
                src.as_ptr(),
                3,
                0,
                src.as_ptr() as *mut u8,
                2,
                &mut scale,
                &mut zp
            ),
            QUANTIZE_ERR_OVERLAP
        );
        assert_eq!(
            q(
                src.as_ptr(),
                0,
                0,
                bytes.as_mut_ptr(),
                0,
                &mut scale,
                &mut zp
            ),
            QUANTIZE_ERR_EMPTY_INPUT
        );
        let nan = [0.5f32, f32::NAN, 2.0];
        assert_eq!(
            q(
                nan.as_ptr(),
                3,
                0,
                bytes.as_mut_ptr(),
                3,
                &mut scale,
                &mut zp
            ),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!((bytes, scale, zp), ([SENTINEL_B; 3], SENTINEL_F, 5));
        assert_eq!(
            q(
                src.as_ptr(),
                3,
                0,
                bytes.as_mut_ptr(),
                3,
                &mut scale,
                &mut zp
            ),
            QUANTIZE_OK
        );
        assert_eq!(bytes[2], SENTINEL_B);

        let d = dequantize_from_int4_packed;
        assert_eq!(
            d(bytes.as_ptr(), 2, 3, 1.0, 0, null_mut()),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            d(bytes.as_ptr(), 1, 3, 1.0, 0, out.as_mut_ptr()),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            d(bytes.as_ptr(), 2, 3, 1.0, -9, out.as_mut_ptr()),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            d(bytes.as_ptr(), 2, 3, f32::NEG_INFINITY, 0, out.as_mut_ptr()),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(out, [SENTINEL_F; 3]);
        let p = out.as_mut_ptr();
        assert_eq!(d(p.cast(), 2, 3, 1.0, 0, p), QUANTIZE_ERR_OVERLAP);
    }
}

#[test]
fn group_statuses_and_partial_writes() {
    let src = [1.0f32, 2.0, 3.0, 4.0, f32::NAN, 6.0];
    let mut codes = [SENTINEL_B; 4];
    let mut scales = [SENTINEL_F; 4];
    let mut zps = [5i8; 4];
    unsafe {
        let g = |src: *const f32, n, gs, m, c: *mut u8, cl, s: *mut f32, sl, z: *mut i8, zl| {
            quantize_int4_groups(src, n, gs, m, c, cl, s, sl, z, zl)
        };
        // Outputs are read back through these pointers only (valid under Miri's aliasing models).
        let (c, s, z) = (codes.as_mut_ptr(), scales.as_mut_ptr(), zps.as_mut_ptr());
        assert_eq!(
            g(null(), 0, 0, 0, null_mut(), 0, null_mut(), 0, null_mut(), 0),
            QUANTIZE_ERR_INVALID_ARGUMENT,
            "group size 0 even when n is 0"
        );
        assert_eq!(
            g(src.as_ptr(), 6, 2, 2, c, 4, s, 4, z, 4),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            g(src.as_ptr(), 6, 2, 0, c, 4, null_mut(), 4, z, 4),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            g(src.as_ptr(), 6, 2, 0, c, 2, s, 4, z, 4),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            g(src.as_ptr(), 6, 2, 0, c, 3, s, 2, z, 4),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        // MINMAX needs the zero points; ABSMAX may omit them but not give too few.
        assert_eq!(
            g(src.as_ptr(), 6, 2, 0, c, 3, s, 3, null_mut(), 0),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            g(src.as_ptr(), 6, 2, 1, c, 3, s, 3, z, 2),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            g(src.as_ptr(), 6, 2, 1, c, 3, s, 3, s.cast(), 3),
            QUANTIZE_ERR_OVERLAP
        );
        // Bad data in group 2: groups 0 and 1 written, group 2 and beyond not.
        assert_eq!(
            g(src.as_ptr(), 6, 2, 0, c, 4, s, 4, z, 4),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_ne!(*s.add(1), SENTINEL_F);
        assert_eq!(
            (*s.add(2), *z.add(2), *c.add(2)),
            (SENTINEL_F, 5, SENTINEL_B)
        );
        // ABSMAX without zero points.
        let ok = [1.0f32, -2.0, 3.0, 4.0, 5.0];
        assert_eq!(
            g(ok.as_ptr(), 5, 2, 1, c, 3, s, 3, null_mut(), 0),
            QUANTIZE_OK
        );
        assert_eq!(
            (*c.add(3), *s.add(3)),
            (SENTINEL_B, SENTINEL_F),
            "past what n needs untouched"
        );

        let mut out = [SENTINEL_F; 5];
        let d = |c: *const u8, cl, n, gs, s: *const f32, sl, z: *const i8, zl, o: *mut f32| {
            dequantize_int4_groups(c, cl, n, gs, s, sl, z, zl, o)
        };
        let o = out.as_mut_ptr();
        assert_eq!(
            d(c, 3, 5, 0, s, 3, null(), 0, o),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(d(c, 3, 5, 2, s, 3, null(), 1, o), QUANTIZE_ERR_NULL_POINTER);
        assert_eq!(d(c, 3, 5, 2, s, 3, z, 1, o), QUANTIZE_ERR_BUFFER_TOO_SMALL);
        assert_eq!(
            d(c, 3, 5, 2, s, 2, null(), 0, o),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(d(c, 3, 5, 2, o, 3, null(), 0, o), QUANTIZE_ERR_OVERLAP);
        // Group 1 has a bad zero point and group 2 a bad scale: group 0 written only.
        let sc = [1.0f32, 1.0, f32::NAN];
        let zp = [0i8, 8, 0];
        assert_eq!(
            d(c, 3, 5, 2, sc.as_ptr(), 3, zp.as_ptr(), 3, o),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        assert_ne!(*o, SENTINEL_F);
        assert_eq!(*o.add(2).cast::<[f32; 3]>(), [SENTINEL_F; 3]);
        let zp = [0i8, 0, 0];
        assert_eq!(
            d(c, 3, 5, 2, sc.as_ptr(), 3, zp.as_ptr(), 3, o),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(*o.add(4), SENTINEL_F);
        assert_eq!(d(c, 3, 5, 2, s, 3, null(), 0, o), QUANTIZE_OK);
    }
}

/// docs/contract.md §4.5: a buffer of which n needs no byte overlaps nothing, wherever its
/// pointer lies. Optional zero points (`zero_points_len` 0) pointing inside another buffer of
/// the call are no overlap.
#[test]
fn zero_length_zero_points_overlap_nothing() {
    let src = [1.0f32, -2.0, 3.0, 0.5, -4.0];
    let mut codes = [SENTINEL_B; 3];
    let mut scales = [SENTINEL_F; 3];
    unsafe {
        let (c, s) = (codes.as_mut_ptr(), scales.as_mut_ptr());
        // ABSMAX without zero points; the unused pointer lies inside src, codes or scales.
        let inside_src = src.as_ptr().cast::<i8>().wrapping_add(5).cast_mut();
        for zp in [
            inside_src,
            c.cast::<i8>().wrapping_add(1),
            s.cast::<i8>().wrapping_add(2),
        ] {
            assert_eq!(
                quantize_int4_groups(src.as_ptr(), 5, 2, QUANTIZE_SCALE_ABSMAX, c, 3, s, 3, zp, 0),
                QUANTIZE_OK
            );
        }
        assert_eq!(*s, 2.0 / 7.0);

        // Dequantizing with zero_points_len 0 (all zero points 0): the pointer inside dst.
        let mut out = [SENTINEL_F; 5];
        let o = out.as_mut_ptr();
        let inside_dst = o.cast::<i8>().wrapping_add(3).cast_const();
        assert_eq!(
            dequantize_int4_groups(c, 3, 5, 2, s, 3, inside_dst, 0, o),
            QUANTIZE_OK
        );
        assert!((0..5).all(|i| *o.add(i) != SENTINEL_F));
        // A zero point buffer that n needs still may not overlap an output.
        let zps = o.cast::<i8>().cast_const();
        assert_eq!(
            dequantize_int4_groups(c, 3, 5, 2, s, 3, zps, 3, o),
            QUANTIZE_ERR_OVERLAP
        );
    }
}

#[test]
fn measure_error_statuses() {
    let x = [1.0f32, 2.0];
    let y = [1.5f32, 2.0];
    let mut stats = ErrorStats {
        sqnr_db: 42.0,
        ..Default::default()
    };
    let mut raw = [0u8; 64];
    unsafe {
        assert_eq!(
            quantize_measure_error(x.as_ptr(), null(), 2, &mut stats),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            quantize_measure_error(x.as_ptr(), y.as_ptr(), 2, null_mut()),
            QUANTIZE_ERR_NULL_POINTER
        );
        let base = raw.as_mut_ptr();
        let odd = base
            .wrapping_add(8 - base as usize % 8 + 4)
            .cast::<ErrorStats>();
        assert_eq!(
            quantize_measure_error(x.as_ptr(), y.as_ptr(), 2, odd),
            QUANTIZE_ERR_MISALIGNED
        );
        assert_eq!(
            quantize_measure_error(null(), null(), 0, &mut stats),
            QUANTIZE_ERR_EMPTY_INPUT
        );
        let nan = [1.0f32, f32::NAN];
        assert_eq!(
            quantize_measure_error(x.as_ptr(), nan.as_ptr(), 2, &mut stats),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(stats.sqnr_db, 42.0, "untouched on error");
        // Inputs may alias each other.
        assert_eq!(
            quantize_measure_error(x.as_ptr(), x.as_ptr(), 2, &mut stats),
            QUANTIZE_OK
        );
        assert_eq!(stats.sqnr_db, f64::INFINITY);
        assert_eq!(
            quantize_measure_error(x.as_ptr(), y.as_ptr(), 2, &mut stats),
            QUANTIZE_OK
        );
        assert_eq!(
            (
                stats.max_abs_error,
                stats.max_abs_index,
                stats.mean_abs_error
            ),
            (0.5, 0, 0.25)
        );
        // An out-pointer over the inputs is caught before anything is written.
        let mut words = [0u64; 8];
        let bp = words.as_mut_ptr();
        assert_eq!(
            quantize_measure_error(bp.cast(), bp.cast(), 16, bp.cast()),
            QUANTIZE_ERR_OVERLAP
        );
        assert_eq!(words, [0; 8]);
    }
}

#[test]
fn size_helpers_and_metadata() {
    assert_eq!(quantize_packed_len(0), 0);
    assert_eq!(quantize_packed_len(5), 3);
    assert_eq!(quantize_packed_len(usize::MAX), 1usize << 63);
    assert_eq!(quantize_group_count(10, 3), 4);
    assert_eq!(quantize_group_count(0, 3), 0);
    assert_eq!(quantize_group_count(10, 0), 0);
}
