//! ggml block formats: quantize_blocks, dequantize_blocks, quantize_block_elements,
//! quantize_block_bytes.
//!
//! Checks: exact argument statuses (§4, LENGTH before BUFFER_TOO_SMALL); for data, block by
//! block: NaN/Inf first within a block (NON_FINITE), then a scale the format cannot hold
//! (VALUE_OUT_OF_RANGE, computed independently for Q4_0 and Q4_1, never for MXFP4, and for
//! IQ4_NL taken from one-block calls, which must agree with the whole call); nothing written on
//! argument errors, nothing after the bad block on data errors; on success Q4_0, Q4_1 and MXFP4
//! bytes equal ggml's reference quantizers, IQ4_NL bytes equal its one-block calls, and
//! dequantize_blocks equals ggml's dequantize_row_* (reimplemented here) bit for bit, with the
//! round trip within each format's error bound.
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]
// Several arrays are read at the same index.
#![allow(clippy::needless_range_loop)]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::{
    dequantize_blocks, quantize_block_bytes, quantize_block_elements, quantize_blocks,
};
use quantize_fuzz::draw::{pow2, Draw};
use quantize_fuzz::expect::{Arg, Call};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Spec};
use quantize_fuzz::oracle::{self, BlockRef, QK};
use quantize_fuzz::status::*;
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, Case};

fuzz_target!(|data: &[u8]| {
    check_constants();
    let mut cx = Case::new(data);
    let f = cx.d.enum_value(7);
    // The size helpers, for any value.
    let (el, by) = (quantize_block_elements(f), quantize_block_bytes(f));
    match (oracle::block_bytes(f), f) {
        (Some(b), _) => assert_eq!((el, by), (32, b), "sizes of format {f}"),
        (None, 4) => assert_eq!((el, by), (256, 144), "sizes of Q4_K"),
        (None, 5) => assert_eq!((el, by), (256, 136), "sizes of IQ4_XS"),
        (None, 6) => assert_eq!((el, by), (64, 36), "sizes of NVFP4"),
        (None, _) => assert_eq!((el, by), (0, 0), "sizes of unknown format {f}"),
    }
    if cx.d.byte() & 1 == 0 {
        quantize(&mut cx);
    } else {
        dequantize(&mut cx);
    }
});

/// An element count: usually whole blocks.
fn block_n(d: &mut Draw) -> usize {
    if d.chance(40) {
        d.n()
    } else {
        QK * match d.byte() % 8 {
            0..=5 => d.range(0, 4),
            6 => d.range(0, 16),
            _ => d.range(0, 128),
        }
    }
}

fn quantize(cx: &mut Case) {
    let d = &mut cx.d;
    let format = oracle_format(d.enum_value(4));
    let bb = oracle::block_bytes(format).unwrap_or(18);
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { block_n(d) };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false),         // src
        Spec::draw(d, 1, 1, real / QK * bb, true, true), // dst, dst_len
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(0, &x);
    let x = mem.f32s(0, real);

    let need = if huge { 0 } else { n / QK * bb };
    let args = [Arg::of(&mem, 0, n), Arg::of(&mem, 1, need)];
    let call = Call {
        invalid_params: format > 3 || huge,
        args: &args,
        bad_length: !n.is_multiple_of(QK),
        empty: n == 0,
        empty_is_error: false,
    };
    let arg_status = call.argument_status();
    // Per block: the reference, or for IQ4_NL a one-block C call on fresh buffers.
    let mut refs: Vec<BlockRef> = Vec::new();
    let mut bad: Option<(usize, i32)> = None;
    if arg_status.is_none() {
        for (b, blk) in x.chunks_exact(QK).enumerate() {
            let r = match oracle::quant_block(format, blk) {
                BlockRef::Unknown => {
                    let mut one = [0u8; 18];
                    // SAFETY: fresh buffers of 32 floats and 18 bytes.
                    let st = unsafe {
                        quantize_blocks(format, blk.as_ptr(), QK, one.as_mut_ptr(), one.len())
                    };
                    assert!(
                        st == OK || st == VALUE_OUT_OF_RANGE,
                        "IQ4_NL block of finite values: status {st}"
                    );
                    if st == OK {
                        BlockRef::Bytes(one.to_vec())
                    } else {
                        BlockRef::OutOfRange
                    }
                }
                r => r,
            };
            let s = match r {
                BlockRef::NonFinite => Some(NON_FINITE),
                BlockRef::OutOfRange => Some(VALUE_OUT_OF_RANGE),
                _ => None,
            };
            refs.push(r);
            if let Some(s) = s {
                bad = Some((b, s));
                break;
            }
        }
    }
    let want = arg_status.unwrap_or(bad.map_or(OK, |b| b.1));
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("quantize_blocks", &mem, &before, || unsafe {
        quantize_blocks(
            format,
            mem.ptr(0) as *const f32,
            n,
            mem.ptr(1),
            mem.specs[1].stated,
        )
    });
    assert_status(got, want, "quantize_blocks");
    let after = mem.snapshot();
    if got != OK {
        let allowed = match bad {
            Some((b, _)) if arg_status.is_none() => vec![(mem.addr(1), mem.addr(1) + b * bb)],
            _ => vec![],
        };
        assert_only_changed(&before, &after, &allowed, "quantize_blocks error");
        return;
    }
    assert_only_changed(&before, &after, &[args[1].region()], "quantize_blocks");
    if n == 0 {
        return;
    }
    let out = mem.bytes(1)[..need].to_vec();
    for (b, r) in refs.iter().enumerate() {
        if let BlockRef::Bytes(w) = r {
            assert_eq!(
                &out[b * bb..(b + 1) * bb],
                &w[..],
                "block {b} of format {format}: bytes vs ggml's reference"
            );
        }
    }

    // Round trip through the C dequantizer on fresh buffers.
    let mut y = vec![f32::NAN; n];
    // SAFETY: fresh buffers of the stated sizes.
    let st = unsafe { dequantize_blocks(format, out.as_ptr(), out.len(), y.as_mut_ptr(), n) };
    assert_status(st, OK, "dequantize_blocks of quantize_blocks' output");
    for (b, (blk, yb)) in x.chunks_exact(QK).zip(y.chunks_exact(QK)).enumerate() {
        let bytes = &out[b * bb..(b + 1) * bb];
        let bound = round_trip_bound(format, blk, bytes);
        for (j, (&xi, &yi)) in blk.iter().zip(yb).enumerate() {
            assert!(yi.is_finite(), "block {b}: y[{j}] = {yi:e} not finite");
            if let Some(bd) = bound {
                let err = (f64::from(xi) - f64::from(yi)).abs();
                assert!(err <= bd, "format {format} block {b}: |x - y| = {err:e} > {bd:e} at {j} (x {xi:e}, y {yi:e})");
            }
        }
    }
}

/// How far a reconstructed element may be from its input, from the format's definition.
fn round_trip_bound(format: u32, x: &[f32], bytes: &[u8]) -> Option<f64> {
    let h = |at: usize| oracle::f16_to_f32(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let slack = 4.0 * f64::from(amax) * f64::from(f32::EPSILON) + 1e-44;
    match format {
        0 => {
            // q - 8 = round(x / d) except at +8 (clamped to 7): |x - (q-8) d| <= |d|; the stored
            // d16 adds 8 |d - d16|.
            let max = x
                .iter()
                .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            let dd = f64::from(max / -8.0);
            Some(dd.abs() + 8.0 * (dd - f64::from(h(0))).abs() + slack)
        }
        1 => {
            let min = x.iter().fold(f32::MAX, |m, &v| m.min(v));
            let max = x.iter().fold(-f32::MAX, |m, &v| m.max(v));
            let dd = f64::from((max - min) / 15.0);
            Some(
                0.5 * dd * (1.0 + 1e-6)
                    + 15.0 * (dd - f64::from(h(0))).abs()
                    + (f64::from(min) - f64::from(h(2))).abs()
                    + slack,
            )
        }
        // Doubled E2M1 values: gaps up to 4 (8 -> 12), and amax < 16 d rounds to at most 12 d.
        3 => Some(4.0 * f64::from(pow2(i32::from(bytes[0]) - 128)) + slack),
        _ => None,
    }
}

fn dequantize(cx: &mut Case) {
    let d = &mut cx.d;
    let format = oracle_format(d.enum_value(4));
    let bb = oracle::block_bytes(format).unwrap_or(18);
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { block_n(d) };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 1, 1, real / QK * bb, true, false), // src, src_len
        Spec::draw(d, 4, 4, real, false, true),           // dst
    ];
    if huge {
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let mut src: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.byte()).collect();
    // Arbitrary bytes; now and then a non-finite fp16 field or an E8M0 0xFF where a block's
    // scale goes, or a finite one in place of a non-finite one.
    for b in 0..src.len() / bb {
        match d.byte() % 16 {
            0 => src[b * bb + 1] |= 0x7C,
            1 if format == 1 => src[b * bb + 3] |= 0x7C,
            2 => src[b * bb] = 0xFF,
            3..=9 => src[b * bb + 1] &= 0xBB,
            _ => {}
        }
    }
    mem.fill(0, &src);
    let src = mem.bytes(0);

    let need = if huge { 0 } else { n / QK * bb };
    let args = [Arg::of(&mem, 0, need), Arg::of(&mem, 1, n)];
    let call = Call {
        invalid_params: format > 3 || huge,
        args: &args,
        bad_length: !n.is_multiple_of(QK),
        empty: n == 0,
        empty_is_error: false,
    };
    let arg_status = call.argument_status();
    let mut want_y: Vec<f32> = Vec::new();
    let mut bad = None;
    if arg_status.is_none() {
        for (b, blk) in src[..need].chunks_exact(bb).enumerate() {
            match oracle::dequant_block(format, blk) {
                Some(y) => want_y.extend_from_slice(&y),
                None => {
                    bad = Some(b);
                    break;
                }
            }
        }
    }
    let want = arg_status.unwrap_or(if bad.is_some() { NON_FINITE } else { OK });
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("dequantize_blocks", &mem, &before, || unsafe {
        dequantize_blocks(
            format,
            mem.ptr(0),
            mem.specs[0].stated,
            mem.ptr(1) as *mut f32,
            n,
        )
    });
    assert_status(got, want, "dequantize_blocks");
    let after = mem.snapshot();
    if got != OK {
        let allowed = match bad {
            Some(b) if arg_status.is_none() => vec![(mem.addr(1), mem.addr(1) + 4 * QK * b)],
            _ => vec![],
        };
        assert_only_changed(&before, &after, &allowed, "dequantize_blocks error");
        return;
    }
    assert_only_changed(&before, &after, &[args[1].region()], "dequantize_blocks");
    let y = mem.f32s(1, n);
    for i in 0..n {
        assert_eq!(
            y[i].to_bits(),
            want_y[i].to_bits(),
            "format {format}: y[{i}] = {:e} vs ggml's {:e}",
            y[i],
            want_y[i]
        );
    }
}

/// The formats this target's oracle defines (those of 32-value blocks) and invalid values: Q4_K,
/// IQ4_XS and NVFP4 (4..=6), which the oracle does not model yet, become the invalid value 7, so
/// the drawn value's validity stays what the oracle expects. (Those formats are checked against
/// ggml's golden bytes and, at every SIMD level, against the scalar reference in the crate's own
/// tests.)
fn oracle_format(f: u32) -> u32 {
    if (4..=6).contains(&f) {
        7
    } else {
        f
    }
}
