//! The codebook functions through the C ABI: the data statuses and what is written on bad data.
//! (The statuses before the data, in the contract's check order, for every codebook and float
//! type, are the table run by `tests/abi_check_order.rs`, with the calls this file once made
//! among its rows.)

use quantize::ffi::*;

#[test]
fn quantize_codebook_blocks_data_statuses_and_partial_writes() {
    let mut src = [0.5f32; 64];
    let mut codes = [0xA5u8; 33];
    let mut absmax = [-1.0f32; 3];
    let (c, a) = (codes.as_mut_ptr(), absmax.as_mut_ptr());
    unsafe {
        let q = |book, s: *const f32, n, bs, c, cl, a, al| {
            quantize_codebook_blocks(book, s, n, bs, c, cl, a, al)
        };
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
fn dequantize_codebook_blocks_data_statuses_and_partial_writes() {
    let codes = [0x7Fu8; 32];
    let mut absmax = [2.0f32, 3.0];
    let mut out = [-7.0f32; 65];
    let o = out.as_mut_ptr();
    unsafe {
        let d = |book, c: *const u8, cl, n, bs, a: *const f32, al, o| {
            dequantize_codebook_blocks(book, c, cl, n, bs, a, al, o)
        };
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
