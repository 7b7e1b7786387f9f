//! 4-bit codebooks (NF4, FP4): quantize_codebook_blocks and dequantize_codebook_blocks.
//!
//! Checks: exact argument statuses (§4; block size a power of two in 32..=4096, codebook 0 or 1);
//! data block by block (NaN/Inf first, then absmax > 2^126; dequantizing: a non-finite absmax);
//! nothing written on argument errors, nothing after the bad block on data errors; on success
//! absmax = max |x| per block, every code the nearest table value to x / absmax (bitsandbytes'
//! thresholds are the midpoints, to float precision), high nibble first, the odd pad nibble the
//! code of 0.0, and dequantization table[code] * absmax bit for bit.
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]
// Several arrays are read at the same index.
#![allow(clippy::needless_range_loop)]

use libfuzzer_sys::fuzz_target;
use quantize::codebook::Codebook;
use quantize::ffi::{dequantize_codebook_blocks, quantize_codebook_blocks};
use quantize_fuzz::draw::{Draw, Mode, TWO_126};
use quantize_fuzz::expect::{Arg, Call};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Spec};
use quantize_fuzz::status::*;
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, Case};

fuzz_target!(|data: &[u8]| {
    check_constants();
    let mut cx = Case::new(data);
    if cx.d.byte() & 1 == 0 {
        quantize(&mut cx);
    } else {
        dequantize(&mut cx);
    }
});

fn packed(n: usize) -> usize {
    n / 2 + n % 2
}

fn block_size(d: &mut Draw) -> usize {
    if d.chance(220) {
        32 << (d.byte() % 8) // 32..=4096
    } else {
        [
            0,
            1,
            2,
            16,
            31,
            33,
            48,
            96,
            4095,
            4097,
            8192,
            usize::MAX,
            1 << 63,
        ][d.byte() as usize % 13]
    }
}

fn valid_block_size(bs: usize) -> bool {
    bs.is_power_of_two() && (32..=4096).contains(&bs)
}

fn blocks(n: usize, bs: usize) -> usize {
    if valid_block_size(bs) {
        n.div_ceil(bs)
    } else {
        0
    }
}

/// The table of a valid codebook value (the library's public table: pinned by its golden tests).
fn table(cb: u32) -> &'static [f32; 16] {
    [Codebook::Nf4, Codebook::Fp4][cb as usize].values()
}

/// Code of element i in a high-nibble-first stream.
fn code(b: &[u8], i: usize) -> usize {
    usize::from(if i.is_multiple_of(2) {
        b[i / 2] >> 4
    } else {
        b[i / 2] & 0x0F
    })
}

fn quantize(cx: &mut Case) {
    let d = &mut cx.d;
    let cb = d.enum_value(2);
    let bs = block_size(d);
    let huge = d.chance(6);
    let n = if huge {
        huge_n(d, 4)
    } else if d.chance(128) {
        d.n()
    } else {
        bs.min(4096) * d.range(0, 2) + d.range(0, 70)
    };
    let real = if huge { d.range(0, 8) } else { n };
    let nb = blocks(real, bs);
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false),       // src
        Spec::draw(d, 1, 1, packed(real), true, true), // codes, codes_len
        Spec::draw(d, 4, 4, nb, true, true),           // absmax, absmax_len
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(0, &x);
    let x = mem.f32s(0, real);

    let nb_n = if huge { 0 } else { blocks(n, bs) };
    let args = [
        Arg::of(&mem, 0, n),
        Arg::of(&mem, 1, packed(n)),
        Arg::of(&mem, 2, nb_n),
    ];
    let call = Call {
        invalid_params: cb > 1 || !valid_block_size(bs) || huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    let arg_status = call.argument_status();
    let bad = if arg_status.is_none() {
        x.chunks(bs).enumerate().find_map(|(b, blk)| {
            if blk.iter().any(|v| !v.is_finite()) {
                Some((b, NON_FINITE))
            } else if blk.iter().any(|v| v.abs() > TWO_126) {
                Some((b, VALUE_OUT_OF_RANGE))
            } else {
                None
            }
        })
    } else {
        None
    };
    let want = arg_status.unwrap_or(bad.map_or(OK, |b| b.1));
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("quantize_codebook_blocks", &mem, &before, || unsafe {
        quantize_codebook_blocks(
            cb,
            mem.ptr(0) as *const f32,
            n,
            bs,
            mem.ptr(1),
            mem.specs[1].stated,
            mem.ptr(2) as *mut f32,
            mem.specs[2].stated,
        )
    });
    assert_status(got, want, "quantize_codebook_blocks");
    let after = mem.snapshot();
    if got != OK {
        let allowed = match bad {
            Some((b, _)) if arg_status.is_none() => vec![
                (mem.addr(1), mem.addr(1) + b * bs / 2),
                (mem.addr(2), mem.addr(2) + 4 * b),
            ],
            _ => vec![],
        };
        assert_only_changed(&before, &after, &allowed, "quantize_codebook_blocks error");
        return;
    }
    assert_only_changed(
        &before,
        &after,
        &[args[1].region(), args[2].region()],
        "quantize_codebook_blocks",
    );
    if n == 0 {
        return;
    }
    let codes = mem.bytes(1)[..packed(n)].to_vec();
    let absmax = mem.f32s(2, nb_n);
    let t = table(cb);
    for (b, blk) in x.chunks(bs).enumerate() {
        let a = blk
            .iter()
            .fold(0.0f32, |m, v| if v.abs() > m { v.abs() } else { m });
        assert_eq!(absmax[b].to_bits(), a.to_bits(), "absmax of block {b}");
        let r = if a == 0.0 { 0.0 } else { 1.0 / a };
        for (k, &xi) in blk.iter().enumerate() {
            let i = b * bs + k;
            let v = xi * r;
            if !v.is_finite() {
                continue; // 0 < absmax < 2^-128: 1/absmax overflows, as in bitsandbytes
            }
            let c = code(&codes, i);
            let best = t
                .iter()
                .map(|&tv| (tv - v).abs())
                .fold(f32::INFINITY, f32::min);
            assert!(
                (t[c] - v).abs() <= best + 1e-6,
                "codebook {cb}: element {i} ({xi:e}, scaled {v:e}) got code {c} ({}), nearest is {best:e} away",
                t[c]
            );
        }
    }
    if !n.is_multiple_of(2) {
        assert_eq!(
            codes[n / 2] & 0x0F,
            [7, 0][cb as usize],
            "pad nibble: the code of 0.0"
        );
    }

    // Round trip through the C dequantizer on fresh buffers.
    let mut y = vec![f32::NAN; n];
    // SAFETY: fresh buffers of the stated sizes.
    let st = unsafe {
        dequantize_codebook_blocks(
            cb,
            codes.as_ptr(),
            codes.len(),
            n,
            bs,
            absmax.as_ptr(),
            absmax.len(),
            y.as_mut_ptr(),
        )
    };
    assert_status(
        st,
        OK,
        "dequantize_codebook_blocks of quantize_codebook_blocks' output",
    );
    let mut sorted = t.to_vec();
    sorted.sort_by(f32::total_cmp);
    let half_gap = sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0.0f32, f32::max)
        / 2.0;
    for i in 0..n {
        let a = absmax[i / bs];
        assert_eq!(
            y[i].to_bits(),
            (t[code(&codes, i)] * a).to_bits(),
            "dequantized {i}"
        );
        if a >= f32::MIN_POSITIVE * 1024.0 {
            let err = (f64::from(x[i]) - f64::from(y[i])).abs();
            let bound = f64::from(a) * (f64::from(half_gap) + 1e-6);
            assert!(
                err <= bound,
                "codebook {cb}: |x - y| = {err:e} > {bound:e} at {i}"
            );
        }
    }
}

fn dequantize(cx: &mut Case) {
    let d = &mut cx.d;
    let cb = d.enum_value(2);
    let bs = block_size(d);
    let huge = d.chance(6);
    let n = if huge {
        huge_n(d, 4)
    } else if d.chance(128) {
        d.n()
    } else {
        bs.min(4096) * d.range(0, 2) + d.range(0, 70)
    };
    let real = if huge { d.range(0, 8) } else { n };
    let nb = blocks(real, bs);
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false), // codes, codes_len
        Spec::draw(d, 4, 4, nb, true, false),           // absmax, absmax_len
        Spec::draw(d, 4, 4, real, false, true),         // dst
    ];
    if huge {
        specs[2].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2]);
    let mem = Mem::new(specs, overlap, d.byte());
    let codes: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.byte()).collect();
    mem.fill(0, &codes);
    let e = d.scale_exp();
    let mode = if d.chance(200) {
        Mode::Finite
    } else {
        Mode::Wild
    };
    let absmax: Vec<f32> = (0..mem.specs[1].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(1, &absmax);
    let (codes, absmax) = (mem.bytes(0), mem.f32s(1, nb));

    let nb_n = if huge { 0 } else { blocks(n, bs) };
    let args = [
        Arg::of(&mem, 0, packed(n)),
        Arg::of(&mem, 1, nb_n),
        Arg::of(&mem, 2, n),
    ];
    let call = Call {
        invalid_params: cb > 1 || !valid_block_size(bs) || huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    let arg_status = call.argument_status();
    let bad = if arg_status.is_none() {
        absmax[..nb_n].iter().position(|a| !a.is_finite())
    } else {
        None
    };
    let want = arg_status.unwrap_or(if bad.is_some() { NON_FINITE } else { OK });
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("dequantize_codebook_blocks", &mem, &before, || unsafe {
        dequantize_codebook_blocks(
            cb,
            mem.ptr(0),
            mem.specs[0].stated,
            n,
            bs,
            mem.ptr(1) as *const f32,
            mem.specs[1].stated,
            mem.ptr(2) as *mut f32,
        )
    });
    assert_status(got, want, "dequantize_codebook_blocks");
    let after = mem.snapshot();
    if got != OK {
        let allowed = match bad {
            Some(b) if arg_status.is_none() => {
                vec![(mem.addr(2), mem.addr(2) + 4 * (b * bs).min(n))]
            }
            _ => vec![],
        };
        assert_only_changed(
            &before,
            &after,
            &allowed,
            "dequantize_codebook_blocks error",
        );
        return;
    }
    assert_only_changed(
        &before,
        &after,
        &[args[2].region()],
        "dequantize_codebook_blocks",
    );
    let y = mem.f32s(2, n);
    let t = table(cb);
    for i in 0..n {
        let w = t[code(&codes, i)] * absmax[i / bs];
        assert_eq!(y[i].to_bits(), w.to_bits(), "y[{i}] = {:e} vs {w:e}", y[i]);
    }
}
