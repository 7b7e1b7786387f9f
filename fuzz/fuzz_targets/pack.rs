//! pack_int4_to_int8 and unpack_int8_to_int4 (and the helpers quantize_packed_len,
//! quantize_group_count, quantize_status_message).
//!
//! Checks: the exact status of §4's check order; nothing written on any error; on success only
//! the bytes n needs written, equal to the §2 layout (low nibble first, two's complement, odd
//! count padded with 0; unpacking sign-extends and ignores the padding nibble).
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::{
    pack_int4_to_int8, quantize_group_count, quantize_packed_len, quantize_status_message,
    unpack_int8_to_int4,
};
use quantize_fuzz::expect::{code_ok, Arg, Call};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Spec};
use quantize_fuzz::status::*;
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, oracle, Case};

fuzz_target!(|data: &[u8]| {
    check_constants();
    let mut cx = Case::new(data);
    match cx.d.byte() % 8 {
        0 => sizes(&mut cx),
        1..=4 => pack(&mut cx),
        _ => unpack(&mut cx),
    }
});

fn packed(n: usize) -> usize {
    n / 2 + n % 2
}

fn sizes(cx: &mut Case) {
    let d = &mut cx.d;
    let n = if d.chance(128) {
        d.u64() as usize
    } else {
        d.n()
    };
    let g = match d.byte() % 4 {
        0 => 0,
        1 => d.u64() as usize,
        _ => d.range(1, 300),
    };
    // The contract's formulas, in arithmetic that cannot overflow.
    assert_eq!(
        quantize_packed_len(n),
        n / 2 + n % 2,
        "quantize_packed_len({n})"
    );
    let want = if n == 0 || g == 0 {
        0
    } else {
        n / g + usize::from(!n.is_multiple_of(g))
    };
    assert_eq!(
        quantize_group_count(n, g),
        want,
        "quantize_group_count({n}, {g})"
    );
    // Any integer has a one-sentence message: static, NUL-terminated, never NULL.
    let s = d.u32() as i32;
    let m = quantize_status_message(s);
    assert!(!m.is_null(), "quantize_status_message({s}) is NULL");
    // SAFETY: non-NULL, and the contract says NUL-terminated and static.
    let text = unsafe { std::ffi::CStr::from_ptr(m) }.to_str();
    assert!(
        matches!(text, Ok(t) if !t.is_empty()),
        "quantize_status_message({s}): {text:?}"
    );
}

fn pack(cx: &mut Case) {
    let d = &mut cx.d;
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 1) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 1, 1, real, false, false),       // src
        Spec::draw(d, 1, 1, packed(real), true, true), // dst, dst_len
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let mode = d.mode();
    let q: Vec<u8> = (0..mem.specs[0].cap)
        .map(|_| d.code_of(mode) as u8)
        .collect();
    mem.fill(0, &q);
    let q = mem.i8s(0, real);

    let args = [Arg::of(&mem, 0, n), Arg::of(&mem, 1, packed(n))];
    let call = Call {
        invalid_params: huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
    };
    let want = call
        .argument_status()
        .unwrap_or(if q.iter().all(|&c| code_ok(c)) {
            OK
        } else {
            VALUE_OUT_OF_RANGE
        });
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("pack_int4_to_int8", &mem, &before, || unsafe {
        pack_int4_to_int8(mem.ptr(0) as *const i8, n, mem.ptr(1), mem.specs[1].stated)
    });
    assert_status(got, want, "pack_int4_to_int8");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "pack_int4_to_int8 error");
        return;
    }
    assert_only_changed(&before, &after, &[args[1].region()], "pack_int4_to_int8");
    assert_eq!(
        &mem.bytes(1)[..packed(n)],
        &oracle::pack(&q)[..],
        "packed bytes"
    );
}

fn unpack(cx: &mut Case) {
    let d = &mut cx.d;
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 1) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false), // src, src_len
        Spec::draw(d, 1, 1, real, false, true),         // dst
    ];
    if huge {
        specs[1].stated = n;
    }
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
    let want = call.argument_status().unwrap_or(OK);
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("unpack_int8_to_int4", &mem, &before, || unsafe {
        unpack_int8_to_int4(mem.ptr(0), mem.specs[0].stated, mem.ptr(1) as *mut i8, n)
    });
    assert_status(got, want, "unpack_int8_to_int4");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "unpack_int8_to_int4 error");
        return;
    }
    assert_only_changed(&before, &after, &[args[1].region()], "unpack_int8_to_int4");
    let q = mem.i8s(1, n);
    for (i, &c) in q.iter().enumerate() {
        assert_eq!(c, oracle::nibble(&src, i), "code {i}");
    }
}
