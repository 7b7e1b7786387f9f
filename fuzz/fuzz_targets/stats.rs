//! Error statistics: quantize_measure_error.
//!
//! Checks: the exact status of §4's check order (the two inputs may alias; the stats struct may
//! not overlap them; its own alignment); nothing written on any error; on success only the
//! struct written, every field bit for bit what the documented fixed summation order gives
//! (double-precision differences, partial sums by i % 8, a fixed reduction tree), so every SIMD
//! level returns identical statistics.
//!
//! Section numbers (§n) are those of docs/contract.md.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quantize::ffi::quantize_measure_error;
use quantize::stats::ErrorStats;
use quantize_fuzz::expect::{Arg, Call};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Spec};
use quantize_fuzz::status::*;
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, oracle, Case};

fuzz_target!(|data: &[u8]| {
    check_constants();
    let mut cx = Case::new(data);
    measure(&mut cx);
});

fn measure(cx: &mut Case) {
    let size = core::mem::size_of::<ErrorStats>();
    let align = core::mem::align_of::<ErrorStats>();
    assert_eq!(
        (size, align),
        (48, 8),
        "quantize_error_stats: five doubles and a size_t"
    );
    let d = &mut cx.d;
    let huge = d.chance(6);
    let n = if huge { huge_n(d, 4) } else { d.n() };
    let real = if huge { d.range(0, 8) } else { n };
    let mut specs = vec![
        Spec::draw(d, 4, 4, real, false, false), // original
        Spec::draw(d, 4, 4, real, false, false), // restored
        Spec::scalar_out(d, size, align),        // out
    ];
    if huge {
        specs[0].stated = n;
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2]);
    let mem = Mem::new(specs, overlap, d.byte());
    let (e, mode) = (d.scale_exp(), d.mode());
    let x: Vec<f32> = (0..mem.specs[0].cap).map(|_| d.float(e, mode)).collect();
    mem.fill_f32s(0, &x);
    let how = d.byte() % 4;
    let mode2 = d.mode();
    let y: Vec<f32> = (0..mem.specs[1].cap)
        .map(|i| match how {
            0 => x.get(i).copied().unwrap_or(0.0), // exact: SQNR +inf
            1 => {
                let v = x.get(i).copied().unwrap_or(0.0);
                f32::from_bits(v.to_bits() ^ u32::from(d.byte() & 0x0F)) // a few ulps off
            }
            _ => d.float(e, mode2),
        })
        .collect();
    mem.fill_f32s(1, &y);
    let (x, y) = (mem.f32s(0, real), mem.f32s(1, real));

    let args = [
        Arg::of(&mem, 0, n),
        Arg::of(&mem, 1, n),
        Arg::scalar(&mem, 2),
    ];
    let call = Call {
        invalid_params: huge,
        args: &args,
        bad_length: false,
        empty: n == 0,
        empty_is_error: true,
    };
    let want = call.argument_status().unwrap_or_else(|| {
        if x.iter().chain(&y).all(|v| v.is_finite()) {
            OK
        } else {
            NON_FINITE
        }
    });
    let before = mem.snapshot();
    // SAFETY: every pointer is NULL or points to at least its stated length of memory.
    let got = at_every_level("quantize_measure_error", &mem, &before, || unsafe {
        quantize_measure_error(
            mem.ptr(0) as *const f32,
            mem.ptr(1) as *const f32,
            n,
            mem.ptr(2) as *mut ErrorStats,
        )
    });
    assert_status(got, want, "quantize_measure_error");
    let after = mem.snapshot();
    if got != OK {
        assert_only_changed(&before, &after, &[], "quantize_measure_error error");
        return;
    }
    assert_only_changed(
        &before,
        &after,
        &[args[2].region()],
        "quantize_measure_error",
    );
    let raw = mem.bytes(2);
    let field = |k: usize| u64::from_ne_bytes(raw[8 * k..8 * k + 8].try_into().unwrap());
    let got: [u64; 6] = core::array::from_fn(field);
    let want = oracle::error_stats(&x, &y);
    let names = [
        "mean_abs_error",
        "max_abs_error",
        "mean_squared_error",
        "rmse",
        "sqnr_db",
        "max_abs_index",
    ];
    for k in 0..6 {
        assert_eq!(
            got[k], want[k],
            "{}: {:#x} vs the fixed-order reference {:#x}",
            names[k], got[k], want[k]
        );
    }
}
