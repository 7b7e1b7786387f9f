//! Per-tensor int4: quantize_to_int4 and dequantize_from_int4, called as C calls them.
//!
//! Checks: the exact status of §4's check order; nothing written on any error; on
//! success only the bytes n needs written, codes/scale/zero point equal to the §2 reference bit
//! for bit, and the round trip within |x - y| <= scale / 2 (+ an ulp of max |x|).
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]
// Several arrays are read at the same index.
#![allow(clippy::needless_range_loop)]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::{dequantize_from_int4, quantize_to_int4};
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

fn quantize(cx: &mut Case) {
    let d = &mut cx.d;
    let method = d.enum_value(2);
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false), // src
        Spec::draw(d, 1, 1, real, false, true),  // dst
        Spec::scalar_out(d, 4, 4),               // scale
        Spec::scalar_out(d, 1, 1),               // zero_point
    ];
    if huge {
        specs[0].stated = n;
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(0, &x);
    let x = mem.f32s(0, real); // as it is in memory (an overlapping buffer may share bytes)

    let args = [
        Arg::of(&mem, 0, n),
        Arg::of(&mem, 1, n),
        Arg::scalar(&mem, 2),
        Arg::scalar(&mem, 3),
    ];
    let call = Call {
        invalid_params: method > 1 || huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: true,
    };
    let want = call
        .argument_status()
        .unwrap_or_else(|| first_bad_int4(&x).map_or(OK, |b| b.1));
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("quantize_to_int4", &mem, &before, || unsafe {
        quantize_to_int4(
            mem.ptr(0) as *const f32,
            n,
            method,
            mem.ptr(1) as *mut i8,
            mem.ptr(2) as *mut f32,
            mem.ptr(3) as *mut i8,
        )
    });
    assert_status(got, want, "quantize_to_int4");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "quantize_to_int4 error");
        return;
    }
    let allowed = [args[1].region(), args[2].region(), args[3].region()];
    assert_only_changed(&before, &after, &allowed, "quantize_to_int4");

    let p = oracle::int4_params(&x, method == 1);
    let (scale, zp) = (mem.f32s(2, 1)[0], mem.i8s(3, 1)[0]);
    assert_eq!(
        (scale.to_bits(), zp),
        (p.scale.to_bits(), p.zp),
        "scale/zero point: got {scale:e}/{zp}, §2 gives {:e}/{}",
        p.scale,
        p.zp
    );
    assert!(scale.is_finite() && scale > 0.0);
    let q = mem.i8s(1, n);
    for (i, (&qi, &xi)) in q.iter().zip(&x).enumerate() {
        assert_eq!(
            qi,
            oracle::int4_code(xi, p),
            "code {i} of x = {xi:e} (scale {scale:e}, zp {zp})"
        );
    }

    // Round trip through the C dequantizer on fresh buffers.
    let mut y = vec![f32::NAN; n];
    // SAFETY: both buffers hold n elements.
    let st = unsafe { dequantize_from_int4(q.as_ptr(), n, scale, zp, y.as_mut_ptr()) };
    assert_status(st, OK, "dequantize_from_int4 of quantize_to_int4's output");
    let bound = oracle::int4_bound(&x, scale);
    for i in 0..n {
        let want = oracle::int4_value(q[i], scale, zp);
        assert_eq!(y[i].to_bits(), want.to_bits(), "dequantized {i}");
        assert!(y[i].is_finite(), "§2: every y is finite");
        if let Some(b) = bound {
            let err = (f64::from(x[i]) - f64::from(y[i])).abs();
            assert!(err <= b, "§2 bound: |x - y| = {err:e} > {b:e} at {i} (x {:e}, y {:e}, scale {scale:e}, zp {zp})", x[i], y[i]);
        }
    }
}

fn dequantize(cx: &mut Case) {
    let d = &mut cx.d;
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 1, 1, real, false, false), // src codes
        Spec::draw(d, 4, 4, real, false, true),  // dst
    ];
    if huge {
        specs[0].stated = n;
        specs[1].stated = n;
    }
    let (scale, zp) = d.dequantize_params();
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let mode = d.mode();
    let q: Vec<u8> = (0..mem.specs[0].cap)
        .map(|_| d.code_of(mode) as u8)
        .collect();
    mem.fill(0, &q);
    let q = mem.i8s(0, real);

    let args = [Arg::of(&mem, 0, n), Arg::of(&mem, 1, n)];
    let call = Call {
        invalid_params: huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    let want = call.argument_status().unwrap_or(if !code_ok(zp) {
        VALUE_OUT_OF_RANGE
    } else if !scale.is_finite() {
        NON_FINITE
    } else if !q.iter().all(|&c| code_ok(c)) {
        VALUE_OUT_OF_RANGE
    } else {
        OK
    });
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("dequantize_from_int4", &mem, &before, || unsafe {
        dequantize_from_int4(
            mem.ptr(0) as *const i8,
            n,
            scale,
            zp,
            mem.ptr(1) as *mut f32,
        )
    });
    assert_status(got, want, "dequantize_from_int4");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "dequantize_from_int4 error");
        return;
    }
    assert_only_changed(&before, &after, &[args[1].region()], "dequantize_from_int4");
    let y = mem.f32s(1, n);
    for i in 0..n {
        let w = oracle::int4_value(q[i], scale, zp);
        assert_eq!(
            y[i].to_bits(),
            w.to_bits(),
            "y[{i}] = {:e}, want {w:e}",
            y[i]
        );
    }
}
