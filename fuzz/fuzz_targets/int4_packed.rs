//! Fused per-tensor int4: quantize_to_int4_packed and dequantize_from_int4_packed.
//!
//! Checks: the exact status of §4's check order; nothing written on any error; only the bytes n
//! needs written on success; results equal the §2 reference, and fused == unfused bit for bit
//! (quantize_to_int4 + pack_int4_to_int8, unpack_int8_to_int4 + dequantize_from_int4, called
//! through the C ABI on fresh buffers), data errors included.
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]
// Several arrays are read at the same index.
#![allow(clippy::needless_range_loop)]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::{
    dequantize_from_int4, dequantize_from_int4_packed, pack_int4_to_int8, quantize_to_int4,
    quantize_to_int4_packed, unpack_int8_to_int4,
};
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

fn quantize(cx: &mut Case) {
    let d = &mut cx.d;
    let method = d.enum_value(2);
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false),       // src
        Spec::draw(d, 1, 1, packed(real), true, true), // dst, dst_len
        Spec::scalar_out(d, 4, 4),                     // scale
        Spec::scalar_out(d, 1, 1),                     // zero_point
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(0, &x);
    let x = mem.f32s(0, real);

    let args = [
        Arg::of(&mem, 0, n),
        Arg::of(&mem, 1, packed(n)),
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
    let arg_status = call.argument_status();
    let want = arg_status.unwrap_or_else(|| first_bad_int4(&x).map_or(OK, |b| b.1));
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("quantize_to_int4_packed", &mem, &before, || unsafe {
        quantize_to_int4_packed(
            mem.ptr(0) as *const f32,
            n,
            method,
            mem.ptr(1),
            mem.specs[1].stated,
            mem.ptr(2) as *mut f32,
            mem.ptr(3) as *mut i8,
        )
    });
    assert_status(got, want, "quantize_to_int4_packed");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "quantize_to_int4_packed error");
    } else {
        let allowed = [args[1].region(), args[2].region(), args[3].region()];
        assert_only_changed(&before, &after, &allowed, "quantize_to_int4_packed");
    }
    if arg_status.is_some() {
        return;
    }

    // Unfused, on fresh buffers: same status, same bytes.
    let mut q = vec![0x55u8 as i8; n];
    let (mut s, mut z) = (0.0f32, 0i8);
    // SAFETY: fresh buffers of the right sizes.
    let st = unsafe { quantize_to_int4(x.as_ptr(), n, method, q.as_mut_ptr(), &mut s, &mut z) };
    assert_status(st, got, "quantize_to_int4 (unfused) vs the fused status");
    if got != OK {
        return;
    }
    let mut b = vec![0xAAu8; packed(n)];
    // SAFETY: as above.
    let st = unsafe { pack_int4_to_int8(q.as_ptr(), n, b.as_mut_ptr(), b.len()) };
    assert_status(st, OK, "pack_int4_to_int8 of quantize_to_int4's codes");
    let (scale, zp) = (mem.f32s(2, 1)[0], mem.i8s(3, 1)[0]);
    let fused = &mem.bytes(1)[..packed(n)];
    assert_eq!(
        (scale.to_bits(), zp),
        (s.to_bits(), z),
        "fused scale/zero point != unfused"
    );
    assert_eq!(
        fused,
        &b[..],
        "fused bytes != quantize_to_int4 + pack_int4_to_int8"
    );

    let p = oracle::int4_params(&x, method == 1);
    assert_eq!(
        (scale.to_bits(), zp),
        (p.scale.to_bits(), p.zp),
        "scale/zero point vs §2"
    );
    let codes: Vec<i8> = x.iter().map(|&v| oracle::int4_code(v, p)).collect();
    assert_eq!(fused, &oracle::pack(&codes)[..], "packed codes vs §2");
}

fn dequantize(cx: &mut Case) {
    let d = &mut cx.d;
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false), // src, src_len
        Spec::draw(d, 4, 4, real, false, true),         // dst
    ];
    if huge {
        specs[1].stated = n;
    }
    let (scale, zp) = d.dequantize_params();
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let src: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.byte()).collect();
    mem.fill(0, &src);
    let src = mem.bytes(0);

    let args = [Arg::of(&mem, 0, packed(n)), Arg::of(&mem, 1, n)];
    let call = Call {
        invalid_params: huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    let arg_status = call.argument_status();
    let want = arg_status.unwrap_or(if !code_ok(zp) {
        VALUE_OUT_OF_RANGE
    } else if !scale.is_finite() {
        NON_FINITE
    } else {
        OK
    });
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("dequantize_from_int4_packed", &mem, &before, || unsafe {
        dequantize_from_int4_packed(
            mem.ptr(0),
            mem.specs[0].stated,
            n,
            scale,
            zp,
            mem.ptr(1) as *mut f32,
        )
    });
    assert_status(got, want, "dequantize_from_int4_packed");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "dequantize_from_int4_packed error");
    } else {
        assert_only_changed(
            &before,
            &after,
            &[args[1].region()],
            "dequantize_from_int4_packed",
        );
    }
    if arg_status.is_some() {
        return;
    }

    // Unfused on fresh buffers (n > 0 here, the src bytes are all readable).
    let mut q = vec![0i8; n];
    // SAFETY: fresh buffers of the right sizes.
    let st = unsafe { unpack_int8_to_int4(src.as_ptr(), packed(n), q.as_mut_ptr(), n) };
    assert_status(st, OK, "unpack_int8_to_int4");
    let mut y2 = vec![0.0f32; n];
    // SAFETY: as above.
    let st = unsafe { dequantize_from_int4(q.as_ptr(), n, scale, zp, y2.as_mut_ptr()) };
    assert_status(
        st,
        got,
        "unpack + dequantize_from_int4 (unfused) vs the fused status",
    );
    if got != OK {
        return;
    }
    let y = mem.f32s(1, n);
    for i in 0..n {
        let w = oracle::int4_value(oracle::nibble(&src, i), scale, zp);
        assert_eq!(
            y[i].to_bits(),
            w.to_bits(),
            "y[{i}] = {:e} vs the reference {w:e}",
            y[i]
        );
        assert_eq!(y[i].to_bits(), y2[i].to_bits(), "fused != unfused at {i}");
    }
}
