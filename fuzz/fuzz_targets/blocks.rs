//! ggml block formats (Q4_0, Q4_1, IQ4_NL, MXFP4, Q4_K, IQ4_XS, NVFP4 and unknown values):
//! quantize_blocks, dequantize_blocks, quantize_block_elements, quantize_block_bytes.
//!
//! Checks: exact argument statuses (§4, LENGTH before BUFFER_TOO_SMALL, with each format's own
//! block size); for data, block by block: NaN/Inf first within a block (NON_FINITE), then a
//! scale the format cannot hold (VALUE_OUT_OF_RANGE: computed independently for Q4_0, Q4_1 and
//! NVFP4 (a sub-block's amax / 6 above 448, §7.1), never for MXFP4, and for IQ4_NL, Q4_K and
//! IQ4_XS taken from one-block calls, which must agree with the whole call and may only reject a
//! block with some |x| > 1e6); nothing written on argument errors, nothing at or after the bad
//! block on data errors; on success Q4_0, Q4_1, MXFP4 and NVFP4 bytes equal ggml's reference
//! quantizers (reimplemented here), IQ4_NL, Q4_K and IQ4_XS bytes equal their one-block calls,
//! and dequantize_blocks equals ggml's dequantize_row_* (reimplemented here, all seven formats)
//! bit for bit, with the round trip within each format's error bound where one is written
//! (Q4_0, Q4_1, MXFP4, NVFP4; every format: finite).
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]
// Several arrays are read at the same index.
#![allow(clippy::needless_range_loop)]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::{
    dequantize_blocks, quantize_block_bytes, quantize_block_elements, quantize_blocks,
};
use quantize_fuzz::draw::MAX_N;
use quantize_fuzz::draw::{pow2, Draw};
use quantize_fuzz::expect::{Arg, Call};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Spec};
use quantize_fuzz::oracle::{self, BlockRef};
use quantize_fuzz::status::*;
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, Case};

fuzz_target!(|data: &[u8]| {
    check_constants();
    let mut cx = Case::new(data);
    let f = cx.d.enum_value(7);
    // The size helpers, for any value.
    let got = (quantize_block_elements(f), quantize_block_bytes(f));
    assert_eq!(
        got,
        oracle::block_size(f).unwrap_or((0, 0)),
        "sizes of format {f}"
    );
    if cx.d.byte() & 1 == 0 {
        quantize(&mut cx);
    } else {
        dequantize(&mut cx);
    }
});

/// An element count: usually whole blocks of `el` values; sometimes whole 32-value blocks that
/// are not whole blocks of a larger format, or any n.
fn block_n(d: &mut Draw, el: usize) -> usize {
    if d.chance(40) {
        d.n()
    } else if d.chance(40) {
        32 * d.range(0, 24)
    } else {
        el * match d.byte() % 8 {
            0..=5 => d.range(0, 4),
            6 => d.range(0, 16),
            _ => d.range(0, MAX_N / el),
        }
    }
}

/// A value at one of `format`'s edges (nudged by a few ulps or a few percent, either sign):
/// NVFP4's out-of-range limit 6 * 448 = 2688 and its UE4M3 scale steps, the fp16 overflow of
/// Q4_K's d (63 * 65520 per sub-block scale) and dmin and of IQ4_XS's d (about 127 * 32 *
/// 65520), IQ4_XS's square overflow (sqrt(f32::MAX)) and zero-scale threshold (1e-15), Q4_K's
/// subnormal-range sub-blocks, and for every format NaN, ±Inf, subnormals.
fn edge(d: &mut Draw, format: u32) -> f32 {
    let base: f32 = match (format, d.byte() % 8) {
        (_, 0) => [f32::NAN, f32::INFINITY, f32::MAX, 1.0e-40, 1.0e-45, 0.0][d.byte() as usize % 6],
        (6, _) => [
            2688.0,
            1488.0,
            1536.0,
            1440.0,
            0.09375,
            0.005_859_375,
            0.087_890_625,
            0.0,
        ][d.byte() as usize % 8],
        (4, _) => [
            4_127_760.0,
            61_916_400.0,
            1.0e-38,
            4.4e-38,
            1.9e-37,
            65520.0,
        ][d.byte() as usize % 6],
        (5, _) => [2.66e8, 2.7e8, 1.844_674_4e19, 1.0e-15, 1.0e-20, 8.3e6][d.byte() as usize % 6],
        _ => [65504.0, 524_288.0, 8.3e6, 1.0e-38][d.byte() as usize % 4],
    };
    let v = match d.byte() % 4 {
        0 => base,
        1 => f32::from_bits((base.to_bits() as i32 + i32::from(d.byte() % 5) - 2).max(0) as u32),
        _ => base * (1.0 + (f32::from(d.byte() % 17) - 8.0) / 64.0),
    };
    if d.byte() & 1 == 1 {
        -v
    } else {
        v
    }
}

fn quantize(cx: &mut Case) {
    let d = &mut cx.d;
    let format = d.enum_value(7);
    let (el, bb) = oracle::block_size(format).unwrap_or((32, 18));
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { block_n(d, el) };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false),         // src
        Spec::draw(d, 1, 1, real / el * bb, true, true), // dst, dst_len
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let mut x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    if !x.is_empty() && d.chance(90) {
        for _ in 0..d.range(1, 4) {
            let at = d.range(0, x.len() - 1);
            x[at] = edge(d, format);
        }
    }
    mem.fill_f32s(0, &x);
    let x = mem.f32s(0, real);

    let need = if huge { 0 } else { n / el * bb };
    let args = [Arg::of(&mem, 0, n), Arg::of(&mem, 1, need)];
    let call = Call {
        invalid_params: oracle::block_size(format).is_none() || huge,
        args: &args,
        bad_length: !n.is_multiple_of(el),
        empty: n == 0,
        empty_is_error: false,
    };
    let arg_status = call.argument_status();
    // Per block: the reference, or for IQ4_NL, Q4_K and IQ4_XS (finite blocks) a one-block C
    // call on fresh buffers.
    let mut refs: Vec<BlockRef> = Vec::new();
    let mut bad: Option<(usize, i32)> = None;
    if arg_status.is_none() {
        for (b, blk) in x.chunks_exact(el).enumerate() {
            let r = match oracle::quant_block(format, blk) {
                BlockRef::Unknown => {
                    let mut one = vec![0u8; bb];
                    // SAFETY: fresh buffers of el floats and bb bytes.
                    let st = unsafe {
                        quantize_blocks(format, blk.as_ptr(), el, one.as_mut_ptr(), one.len())
                    };
                    assert!(
                        st == OK || st == VALUE_OUT_OF_RANGE,
                        "format {format}: block of finite values: status {st}"
                    );
                    // The fp16 scales overflow only far beyond any value below 1e6 (IQ4_NL's
                    // d near max/127, Q4_K's d and dmin 63 * 65520 per 6-bit step, IQ4_XS's
                    // d a further 32 times larger).
                    let amax = blk.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                    assert!(
                        st == OK || amax > 1.0e6,
                        "format {format}: block {b} with max |x| {amax:e} rejected as out of range"
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
    for (b, (blk, yb)) in x.chunks_exact(el).zip(y.chunks_exact(el)).enumerate() {
        let bytes = &out[b * bb..(b + 1) * bb];
        let bound = round_trip_bound(format, blk, bytes);
        for (j, (&xi, &yi)) in blk.iter().zip(yb).enumerate() {
            let bound = bound.as_ref().map(|f| f(j));
            assert!(yi.is_finite(), "block {b}: y[{j}] = {yi:e} not finite");
            if let Some(bd) = bound {
                let err = (f64::from(xi) - f64::from(yi)).abs();
                assert!(err <= bd, "format {format} block {b}: |x - y| = {err:e} > {bd:e} at {j} (x {xi:e}, y {yi:e})");
            }
        }
    }
}

/// How far a reconstructed element may be from its input, from the format's definition, per
/// element index within the block.
fn round_trip_bound(format: u32, x: &[f32], bytes: &[u8]) -> Option<Box<dyn Fn(usize) -> f64>> {
    if format == 6 {
        // NVFP4, per sub-block of 16 with decoded scale d: within ±12 d the nearest of the
        // doubled E2M1 values (gaps up to 4 d) is at most 2 d away; beyond, the value is clipped
        // to ±12 d (a scale that rounded down).
        let b: Vec<f64> = (0..4)
            .map(|s| {
                let d = f64::from(oracle::ue4m3_half(bytes[s]));
                let amax = x[16 * s..16 * s + 16]
                    .iter()
                    .fold(0.0f64, |a, v| a.max(f64::from(v.abs())));
                (2.0 * d).max(amax - 12.0 * d) * (1.0 + 1e-6) + 1e-44
            })
            .collect();
        return Some(Box::new(move |j| b[j / 16]));
    }
    round_trip_bound32(format, x, bytes).map(|b| Box::new(move |_| b) as Box<dyn Fn(usize) -> f64>)
}

/// [`round_trip_bound`] of the 32-value formats: one bound per block.
fn round_trip_bound32(format: u32, x: &[f32], bytes: &[u8]) -> Option<f64> {
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
    let format = d.enum_value(7);
    let (el, bb) = oracle::block_size(format).unwrap_or((32, 18));
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { block_n(d, el) };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 1, 1, real / el * bb, true, false), // src, src_len
        Spec::draw(d, 4, 4, real, false, true),           // dst
    ];
    if huge {
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let mut src: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.byte()).collect();
    // Arbitrary bytes; now and then a non-finite fp16 field or an E8M0 0xFF where a block's
    // scale goes (NVFP4: UE4M3 bytes 0x7F/0xFF, the quirks of its decoding), or a finite one in
    // place of a non-finite one.
    for b in 0..src.len() / bb {
        match d.byte() % 16 {
            0 => src[b * bb + 1] |= 0x7C,
            1 if format == 1 || format == 4 => src[b * bb + 3] |= 0x7C,
            1 if format == 6 => {
                src[b * bb + d.range(0, 3)] = [0x7F, 0xFF, 0x80, 0x7E][d.byte() as usize % 4]
            }
            2 => src[b * bb] = 0xFF,
            3..=9 => src[b * bb + 1] &= 0xBB,
            _ => {}
        }
    }
    mem.fill(0, &src);
    let src = mem.bytes(0);

    let need = if huge { 0 } else { n / el * bb };
    let args = [Arg::of(&mem, 0, need), Arg::of(&mem, 1, n)];
    let call = Call {
        invalid_params: oracle::block_size(format).is_none() || huge,
        args: &args,
        bad_length: !n.is_multiple_of(el),
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
            Some(b) if arg_status.is_none() => vec![(mem.addr(1), mem.addr(1) + 4 * el * b)],
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
