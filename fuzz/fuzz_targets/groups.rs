//! Group-wise int4: quantize_int4_groups and dequantize_int4_groups.
//!
//! Checks: the exact status of §4's check order (data: the first bad element in index order;
//! dequantizing: group by group, zero point before scale); nothing written on an argument
//! error; on bad data nothing written for the groups after the bad one; on success only the
//! bytes n needs written, each group equal to the §2 reference on its own (codes in one packed
//! stream; ABSMAX zero points optional), and the round trip within each group's §2 bound.
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]
// Several arrays are read at the same index.
#![allow(clippy::needless_range_loop)]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::{dequantize_int4_groups, quantize_int4_groups};
use quantize_fuzz::draw::{Draw, Mode};
use quantize_fuzz::expect::{code_ok, first_bad_int4, Arg, Call};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Spec};
use quantize_fuzz::status::*;
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, oracle, Case};

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

fn group_size(d: &mut Draw, n: usize) -> usize {
    match d.byte() % 16 {
        0 => 0,
        1 => usize::MAX,
        2 => n,
        3 => n + 1,
        4..=7 => d.range(1, 8),
        8..=11 => [16, 32, 64, 128, 256][d.byte() as usize % 5],
        _ => d.range(1, 300),
    }
}

fn count(n: usize, g: usize) -> usize {
    if g == 0 {
        0
    } else {
        n.div_ceil(g)
    }
}

fn quantize(cx: &mut Case) {
    let d = &mut cx.d;
    let method = d.enum_value(2);
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let gs = group_size(d, real);
    let cnt = count(real, gs);
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false),       // src
        Spec::draw(d, 1, 1, packed(real), true, true), // codes, codes_len
        Spec::draw(d, 4, 4, cnt, true, true),          // scales, scales_len
        Spec::draw(d, 1, 1, cnt, true, true),          // zero_points, zero_points_len
    ];
    if d.chance(64) {
        specs[3].stated = 0;
    }
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(0, &x);
    let x = mem.f32s(0, real);

    let cnt_n = if huge { 0 } else { count(n, gs) };
    let zp_need = if method == 1 && mem.specs[3].stated == 0 {
        0
    } else {
        cnt_n
    };
    let args = [
        Arg::of(&mem, 0, n),
        Arg::of(&mem, 1, packed(n)),
        Arg::of(&mem, 2, cnt_n),
        Arg::of(&mem, 3, zp_need),
    ];
    let call = Call {
        invalid_params: method > 1 || gs == 0 || huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    let bad = first_bad_int4(&x);
    let want = call.argument_status().unwrap_or(bad.map_or(OK, |b| b.1));
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("quantize_int4_groups", &mem, &before, || unsafe {
        quantize_int4_groups(
            mem.ptr(0) as *const f32,
            n,
            gs,
            method,
            mem.ptr(1),
            mem.specs[1].stated,
            mem.ptr(2) as *mut f32,
            mem.specs[2].stated,
            mem.ptr(3) as *mut i8,
            mem.specs[3].stated,
        )
    });
    assert_status(got, want, "quantize_int4_groups");
    let after = mem.snapshot();
    if got != OK {
        let allowed = match (call.argument_status(), bad) {
            (None, Some((i, _))) => {
                // Groups before the bad one may be written (the byte a group shares with the
                // bad one included), never any after it.
                let g = i / gs;
                let start = g * gs;
                vec![
                    (mem.addr(1), mem.addr(1) + packed(start)),
                    (mem.addr(2), mem.addr(2) + 4 * g),
                    (mem.addr(3), mem.addr(3) + if zp_need > 0 { g } else { 0 }),
                ]
            }
            _ => vec![],
        };
        assert_only_changed(&before, &after, &allowed, "quantize_int4_groups error");
        return;
    }
    let allowed = [args[1].region(), args[2].region(), args[3].region()];
    assert_only_changed(&before, &after, &allowed, "quantize_int4_groups");
    if n == 0 {
        return;
    }

    let codes = mem.bytes(1)[..packed(n)].to_vec();
    let scales = mem.f32s(2, cnt_n);
    let zps = mem.i8s(3, zp_need);
    let mut want_codes = Vec::with_capacity(n);
    for (g, chunk) in x.chunks(gs).enumerate() {
        let p = oracle::int4_params(chunk, method == 1);
        assert_eq!(scales[g].to_bits(), p.scale.to_bits(), "scale of group {g}");
        if zp_need > 0 {
            assert_eq!(zps[g], p.zp, "zero point of group {g}");
        }
        want_codes.extend(chunk.iter().map(|&v| oracle::int4_code(v, p)));
    }
    assert_eq!(codes, oracle::pack(&want_codes), "packed codes");

    // Round trip through the C dequantizer, fresh buffers; zero points optional for ABSMAX.
    let mut y = vec![f32::NAN; n];
    // SAFETY: fresh buffers of the stated sizes.
    let st = unsafe {
        dequantize_int4_groups(
            codes.as_ptr(),
            codes.len(),
            n,
            gs,
            scales.as_ptr(),
            scales.len(),
            zps.as_ptr(),
            zps.len(),
            y.as_mut_ptr(),
        )
    };
    assert_status(
        st,
        OK,
        "dequantize_int4_groups of quantize_int4_groups' output",
    );
    for (g, chunk) in x.chunks(gs).enumerate() {
        let zp = zps.get(g).copied().unwrap_or(0);
        let bound = oracle::int4_bound(chunk, scales[g]);
        for (k, &xi) in chunk.iter().enumerate() {
            let i = g * gs + k;
            let w = oracle::int4_value(want_codes[i], scales[g], zp);
            assert_eq!(y[i].to_bits(), w.to_bits(), "dequantized {i}");
            assert!(y[i].is_finite());
            if let Some(b) = bound {
                let err = (f64::from(xi) - f64::from(y[i])).abs();
                assert!(
                    err <= b,
                    "§2 bound in group {g}: |x - y| = {err:e} > {b:e} at {i}"
                );
            }
        }
    }
}

fn dequantize(cx: &mut Case) {
    let d = &mut cx.d;
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let gs = group_size(d, real);
    let cnt = count(real, gs);
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false), // codes, codes_len
        Spec::draw(d, 4, 4, cnt, true, false),          // scales, scales_len
        Spec::draw(d, 1, 1, cnt, true, false),          // zero_points, zero_points_len
        Spec::draw(d, 4, 4, real, false, true),         // dst
    ];
    if d.chance(64) {
        specs[2].stated = 0;
    }
    if huge {
        specs[3].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    let codes: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.byte()).collect();
    mem.fill(0, &codes);
    let (e, mode) = (d.scale_exp(), d.mode());
    let scales: Vec<f32> = (0..mem.specs[1].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(1, &scales);
    let mode = if d.chance(200) {
        Mode::Clean
    } else {
        Mode::Wild
    };
    let zps: Vec<u8> = (0..mem.specs[2].cap)
        .map(|_| d.code_of(mode) as u8)
        .collect();
    mem.fill(2, &zps);
    let (codes, scales, zps) = (mem.bytes(0), mem.f32s(1, cnt), mem.i8s(2, cnt));

    let cnt_n = if huge { 0 } else { count(n, gs) };
    let zp_need = if mem.specs[2].stated == 0 { 0 } else { cnt_n };
    let args = [
        Arg::of(&mem, 0, packed(n)),
        Arg::of(&mem, 1, cnt_n),
        Arg::of(&mem, 2, zp_need),
        Arg::of(&mem, 3, n),
    ];
    let call = Call {
        invalid_params: gs == 0 || huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    // Group by group: its zero point, then its scale (only read once the lengths are valid).
    let arg_status = call.argument_status();
    let bad = (0..if arg_status.is_none() { cnt_n } else { 0 }).find_map(|g| {
        if zp_need > 0 && !code_ok(zps[g]) {
            Some((g, VALUE_OUT_OF_RANGE))
        } else if !scales[g].is_finite() {
            Some((g, NON_FINITE))
        } else {
            None
        }
    });
    let want = arg_status.unwrap_or(bad.map_or(OK, |b| b.1));
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("dequantize_int4_groups", &mem, &before, || unsafe {
        dequantize_int4_groups(
            mem.ptr(0),
            mem.specs[0].stated,
            n,
            gs,
            mem.ptr(1) as *const f32,
            mem.specs[1].stated,
            mem.ptr(2) as *const i8,
            mem.specs[2].stated,
            mem.ptr(3) as *mut f32,
        )
    });
    assert_status(got, want, "dequantize_int4_groups");
    let after = mem.snapshot();
    if got != OK {
        let allowed = match (call.argument_status(), bad) {
            (None, Some((g, _))) => vec![(mem.addr(3), mem.addr(3) + 4 * (g * gs).min(n))],
            _ => vec![],
        };
        assert_only_changed(&before, &after, &allowed, "dequantize_int4_groups error");
        return;
    }
    assert_only_changed(
        &before,
        &after,
        &[args[3].region()],
        "dequantize_int4_groups",
    );
    let y = mem.f32s(3, n);
    for i in 0..n {
        let g = i / gs;
        let zp = if zp_need > 0 { zps[g] } else { 0 };
        let w = oracle::int4_value(oracle::nibble(&codes, i), scales[g], zp);
        assert_eq!(y[i].to_bits(), w.to_bits(), "y[{i}] = {:e} vs {w:e}", y[i]);
    }
}
