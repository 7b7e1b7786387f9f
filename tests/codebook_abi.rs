//! The codebook functions' statuses through the C ABI, in the contract's check order (the order
//! itself, for every C function and float type, is the table of `tests/abi_check_order.rs`).

use quantize::ffi::*;
use std::ptr::{null, null_mut};

#[test]
fn quantize_codebook_blocks_statuses() {
    let mut src = [0.5f32; 64];
    let mut codes = [0xA5u8; 33];
    let mut absmax = [-1.0f32; 3];
    let (c, a) = (codes.as_mut_ptr(), absmax.as_mut_ptr());
    unsafe {
        let q = |book, s: *const f32, n, bs, c, cl, a, al| {
            quantize_codebook_blocks(book, s, n, bs, c, cl, a, al)
        };
        assert_eq!(
            q(2, null(), 64, 32, null_mut(), 0, null_mut(), 0),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        for bad_bs in [0, 16, 48, 8192] {
            assert_eq!(
                q(
                    QUANTIZE_CODEBOOK_NF4,
                    null(),
                    64,
                    bad_bs,
                    null_mut(),
                    0,
                    null_mut(),
                    0
                ),
                QUANTIZE_ERR_INVALID_ARGUMENT
            );
        }
        assert_eq!(
            q(QUANTIZE_CODEBOOK_NF4, null(), 64, 32, c, 32, a, 2),
            QUANTIZE_ERR_NULL_POINTER
        );
        let odd = (a as *mut u8).wrapping_add(1).cast::<f32>();
        assert_eq!(
            q(QUANTIZE_CODEBOOK_FP4, src.as_ptr(), 64, 32, c, 32, odd, 2),
            QUANTIZE_ERR_MISALIGNED
        );
        assert_eq!(
            q(QUANTIZE_CODEBOOK_FP4, src.as_ptr(), 64, 32, c, 31, a, 2),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            q(QUANTIZE_CODEBOOK_FP4, src.as_ptr(), 64, 32, c, 32, a, 1),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            q(
                QUANTIZE_CODEBOOK_FP4,
                src.as_ptr(),
                64,
                32,
                src.as_mut_ptr().cast(),
                32,
                a,
                2
            ),
            QUANTIZE_ERR_OVERLAP
        );
        assert_eq!(
            q(
                QUANTIZE_CODEBOOK_NF4,
                null(),
                0,
                64,
                null_mut(),
                0,
                null_mut(),
                0
            ),
            QUANTIZE_OK
        );
        // Bad data in block 1: block 0 written, block 1 not, nothing past the needed bytes.
        src[40] = f32::NAN;
        assert_eq!(
            q(QUANTIZE_CODEBOOK_NF4, src.as_ptr(), 64, 32, c, 33, a, 3),
            QUANTIZE_ERR_NON_FINITE
        );
        // Outputs are read through `c` and `a`, so they stay valid under Miri's aliasing models.
        assert_eq!((*a, *a.add(1)), (0.5, -1.0));
        assert_eq!(*c.add(16).cast::<[u8; 17]>(), [0xA5; 17]);
        src[40] = 1e38;
        assert_eq!(
            q(QUANTIZE_CODEBOOK_NF4, src.as_ptr(), 64, 32, c, 33, a, 3),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        src[40] = 1.0;
        assert_eq!(
            q(QUANTIZE_CODEBOOK_NF4, src.as_ptr(), 64, 32, c, 33, a, 3),
            QUANTIZE_OK
        );
        assert_eq!((*a.add(1), *a.add(2), *c.add(32)), (1.0, -1.0, 0xA5));
    }
}

#[test]
fn dequantize_codebook_blocks_statuses() {
    let codes = [0x7Fu8; 32];
    let mut absmax = [2.0f32, 3.0];
    let mut out = [-7.0f32; 65];
    let o = out.as_mut_ptr();
    unsafe {
        let d = |book, c: *const u8, cl, n, bs, a: *const f32, al, o| {
            dequantize_codebook_blocks(book, c, cl, n, bs, a, al, o)
        };
        assert_eq!(
            d(7, codes.as_ptr(), 32, 64, 32, absmax.as_ptr(), 2, o),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            d(
                QUANTIZE_CODEBOOK_NF4,
                codes.as_ptr(),
                32,
                64,
                33,
                absmax.as_ptr(),
                2,
                o
            ),
            QUANTIZE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            d(
                QUANTIZE_CODEBOOK_NF4,
                codes.as_ptr(),
                32,
                64,
                32,
                absmax.as_ptr(),
                2,
                null_mut()
            ),
            QUANTIZE_ERR_NULL_POINTER
        );
        assert_eq!(
            d(
                QUANTIZE_CODEBOOK_NF4,
                codes.as_ptr(),
                31,
                64,
                32,
                absmax.as_ptr(),
                2,
                o
            ),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            d(
                QUANTIZE_CODEBOOK_NF4,
                codes.as_ptr(),
                32,
                64,
                32,
                absmax.as_ptr(),
                1,
                o
            ),
            QUANTIZE_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            d(QUANTIZE_CODEBOOK_NF4, codes.as_ptr(), 32, 64, 32, o, 2, o),
            QUANTIZE_ERR_OVERLAP
        );
        absmax[1] = f32::INFINITY;
        assert_eq!(
            d(
                QUANTIZE_CODEBOOK_NF4,
                codes.as_ptr(),
                32,
                64,
                32,
                absmax.as_ptr(),
                2,
                o
            ),
            QUANTIZE_ERR_NON_FINITE
        );
        assert_eq!(
            (*o, *o.add(32)),
            (0.0, -7.0),
            "block 0 written, block 1 not"
        );
        absmax[1] = -3.0;
        assert_eq!(
            d(
                QUANTIZE_CODEBOOK_NF4,
                codes.as_ptr(),
                32,
                64,
                32,
                absmax.as_ptr(),
                2,
                o
            ),
            QUANTIZE_OK
        );
        // 0x7F: high nibble (first element) code 7 = 0.0, low nibble code 15 = 1.0.
        // Read through `o` (not `out`), so `o` stays valid under Miri's aliasing models.
        assert_eq!((*o.add(32), *o.add(33), *o.add(64)), (-0.0, -3.0, -7.0));
    }
}
