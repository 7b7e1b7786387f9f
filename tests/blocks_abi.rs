//! The block functions through the C ABI: sizes, the data statuses and partial writes, and
//! agreement with ggml's golden bytes. (The statuses before the data, in the contract's check
//! order, are the table run by `tests/abi_check_order.rs`.)

mod common;

use common::golden;
use quantize::ffi::*;

/// The formats of 32-value blocks (the tests below are written for them). The check order of
/// every format, Q4_K, IQ4_XS and NVFP4 included, in every float type (`quantize_blocks_from`,
/// `dequantize_blocks_into`), is the table of `tests/abi_check_order.rs`, with the calls these
/// tests once made for the 32-value formats among its rows.
const FORMATS: [(quantize_block_format, usize, &str); 4] = [
    (QUANTIZE_FORMAT_Q4_0, 18, "q4_0"),
    (QUANTIZE_FORMAT_Q4_1, 20, "q4_1"),
    (QUANTIZE_FORMAT_IQ4_NL, 18, "iq4_nl"),
    (QUANTIZE_FORMAT_MXFP4, 17, "mxfp4"),
];

fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 2.5 * ((i as f32) * 0.61 + 0.3).sin())
        .collect()
}

#[test]
fn sizes() {
    for (f, bytes, _) in FORMATS {
        assert_eq!(quantize_block_elements(f), 32);
        assert_eq!(quantize_block_bytes(f), bytes);
    }
    for (f, e, bytes) in [
        (QUANTIZE_FORMAT_Q4_K, 256, 144),
        (QUANTIZE_FORMAT_IQ4_XS, 256, 136),
        (QUANTIZE_FORMAT_NVFP4, 64, 36),
    ] {
        assert_eq!(quantize_block_elements(f), e);
        assert_eq!(quantize_block_bytes(f), bytes);
    }
    for bad in [7u32, 8, 0x8000_0000, u32::MAX] {
        assert_eq!(quantize_block_elements(bad), 0);
        assert_eq!(quantize_block_bytes(bad), 0);
    }
}

/// What is written on bad data and past the end. (The statuses before the data, in the
/// contract's check order, are rows of the table in `tests/common/order.rs`, run by
/// `tests/abi_check_order.rs` for every format and float type.)
#[test]
fn quantize_blocks_partial_writes_and_data_statuses() {
    for (f, bb, _) in FORMATS {
        let mut src = signal(64);
        let mut dst = vec![0xA5u8; 2 * bb + 5];
        let d = dst.as_mut_ptr();
        unsafe {
            // 7. data: block 1 bad, block 0 written, block 1 and past the end untouched.
            src[40] = f32::NAN;
            assert_eq!(
                quantize_blocks(f, src.as_ptr(), 64, d, dst.len()),
                QUANTIZE_ERR_NON_FINITE
            );
            let mut alone = vec![0u8; bb];
            assert_eq!(
                quantize_blocks(f, src.as_ptr(), 32, alone.as_mut_ptr(), bb),
                QUANTIZE_OK
            );
            assert_eq!(dst[..bb], alone[..]);
            assert!(dst[bb..].iter().all(|&b| b == 0xA5));
            src[40] = 1.0;
            assert_eq!(
                quantize_blocks(f, src.as_ptr(), 64, d, dst.len()),
                QUANTIZE_OK
            );
            assert!(
                dst[2 * bb..].iter().all(|&b| b == 0xA5),
                "past the end untouched"
            );
        }
    }
    // VALUE_OUT_OF_RANGE: a Q4_0 scale beyond fp16 (|max| / 8 >= 65520), after NON_FINITE in the
    // same block.
    let mut src = signal(32);
    src[3] = -65520.0 * 8.0;
    let mut dst = [0u8; 18];
    unsafe {
        let d = dst.as_mut_ptr();
        assert_eq!(
            quantize_blocks(QUANTIZE_FORMAT_Q4_0, src.as_ptr(), 32, d, 18),
            QUANTIZE_ERR_VALUE_OUT_OF_RANGE
        );
        src[30] = f32::INFINITY;
        assert_eq!(
            quantize_blocks(QUANTIZE_FORMAT_Q4_0, src.as_ptr(), 32, d, 18),
            QUANTIZE_ERR_NON_FINITE
        );
    }
}

/// What is written on bad data. (The statuses before the data: see above.)
#[test]
fn dequantize_blocks_partial_writes_and_data_statuses() {
    for (f, bb, _) in FORMATS {
        let mut src = vec![0u8; 2 * bb + 3];
        unsafe {
            assert_eq!(
                quantize_blocks(f, signal(64).as_ptr(), 64, src.as_mut_ptr(), src.len()),
                QUANTIZE_OK
            );
        }
        let mut out = vec![-7.0f32; 65];
        let o = out.as_mut_ptr();
        unsafe {
            // Bad block 1: block 0 written, block 1 not.
            if f == QUANTIZE_FORMAT_MXFP4 {
                src[bb] = 0xFF;
            } else {
                src[bb..bb + 2].copy_from_slice(&0x7E00u16.to_le_bytes());
            }
            assert_eq!(
                dequantize_blocks(f, src.as_ptr(), src.len(), o, 64),
                QUANTIZE_ERR_NON_FINITE
            );
            assert!(out[..32].iter().all(|&v| v != -7.0));
            assert!(out[32..].iter().all(|&v| v == -7.0));
            // Only the first block: OK, and out[32..] still untouched.
            assert_eq!(
                dequantize_blocks(f, src.as_ptr(), src.len(), o, 32),
                QUANTIZE_OK
            );
            assert!(out[32..].iter().all(|&v| v == -7.0));
        }
    }
}

#[test]
fn c_layer_gives_ggml_golden_bytes() {
    let floats = |name: &str| golden::read_f32("ggml", name);
    for case in ["normal", "special_blocks", "sign_ties"] {
        let x = floats(&format!("{case}.f32"));
        for (f, bb, name) in FORMATS {
            let want = golden::read("ggml", &format!("{case}.{name}"));
            let mut got = vec![0u8; x.len() / 32 * bb];
            let st =
                unsafe { quantize_blocks(f, x.as_ptr(), x.len(), got.as_mut_ptr(), got.len()) };
            assert_eq!(st, QUANTIZE_OK);
            assert!(got == want, "{case} {name}");
            let want = floats(&format!("{case}.{name}.deq.f32"));
            let mut y = vec![0.0f32; x.len()];
            let st =
                unsafe { dequantize_blocks(f, got.as_ptr(), got.len(), y.as_mut_ptr(), y.len()) };
            assert_eq!(st, QUANTIZE_OK);
            assert!(
                y.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{case} {name}"
            );
        }
    }
}
