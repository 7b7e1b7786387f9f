//! The float16 / bfloat16 siblings (docs/contract.md §7.2) of every family: quantize_to_int4_from,
//! dequantize_from_int4_into, quantize_to_int4_packed_from, dequantize_from_int4_packed_into,
//! quantize_int4_groups_from, dequantize_int4_groups_into, quantize_blocks_from,
//! dequantize_blocks_into, quantize_codebook_blocks_from, dequantize_codebook_blocks_into and
//! quantize_measure_error_from.
//!
//! Each input draws a float type (F16, BF16, F32 and unknown values), buffers as the other
//! targets do (NULL, short, overlapping), half-precision pointers offset by an odd number of
//! bytes, and half values that include NaN (quiet, signalling, with payloads), ±Inf,
//! subnormals and bfloat16 values beyond 2^126. Checks:
//!
//! - the argument status of §4.6 (`src/expect.rs`), an unknown float type being
//!   INVALID_ARGUMENT (check 1) and a half pointer that is not 2-byte aligned MISALIGNED; on an
//!   argument error nothing is written;
//! - otherwise the exactness rule: the status is that of the float32 function (the original,
//!   not the `_from`/`_into` with F32) called on fresh buffers holding the widened input (for
//!   the int4 quantizers and the statistics also the one computed here from the widened
//!   values: NaN/Inf half patterns NON_FINITE, bfloat16 beyond 2^126 VALUE_OUT_OF_RANGE); a
//!   quantizer's outputs (codes, blocks, scales, zero points, statistics) are byte for byte the
//!   float32 call's; a dequantizer's output is the float32 result rounded once to the type
//!   (`src/half.rs`, written independently of the library), element for element; on success
//!   exactly the elements the float32 call writes are written (found by running it twice over
//!   two fill patterns); on a data error a byte (element) the float32 call writes may also be
//!   left untouched (§4.7: blocks before the bad one *may* have been written; the half
//!   functions convert chunk by chunk, so they can stop earlier), and nothing the float32 call
//!   leaves is written;
//! - nothing outside the bytes n needs of the outputs changes;
//! - the main call runs at every SIMD level (`at_every_level`), all equal.
#![no_main]
// The buffers' roles, needs, starting bytes and reference copies are read at the same index.
#![allow(clippy::needless_range_loop)]

use core::ffi::c_void;
use libfuzzer_sys::fuzz_target;
use quantize::ffi as q;
use quantize::stats::ErrorStats;
use quantize_fuzz::draw::Draw;
use quantize_fuzz::expect::{first_bad_int4, Arg, Call};
use quantize_fuzz::half::{self, F16};
use quantize_fuzz::mem::{assert_only_changed, draw_overlap, Mem, Region, Spec};
use quantize_fuzz::oracle;
use quantize_fuzz::status::{NON_FINITE, OK};
use quantize_fuzz::{assert_status, at_every_level, check_constants, huge_n, Case};

fuzz_target!(|data: &[u8]| {
    check_constants();
    let mut cx = Case::new(data);
    let d = &mut cx.d;
    let ty = half::draw_type(d);
    match d.byte() % 11 {
        0 => int4_quantize(d, ty),
        1 => int4_dequantize(d, ty),
        2 => packed_quantize(d, ty),
        3 => packed_dequantize(d, ty),
        4 => groups_quantize(d, ty),
        5 => groups_dequantize(d, ty),
        6 => blocks_quantize(d, ty),
        7 => blocks_dequantize(d, ty),
        8 => codebook_quantize(d, ty),
        9 => codebook_dequantize(d, ty),
        _ => stats(d, ty),
    }
});

/// What a buffer of the call is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// Values of the drawn float type, read.
    FloatIn,
    /// Values of the drawn float type, written.
    FloatOut,
    /// Any other input (codes, scales, zero points, blocks, absmax).
    In,
    /// Any other output.
    Out,
    /// A scalar out-pointer (scale, zero point, statistics).
    Scalar,
}

/// One call's description.
struct Shape {
    name: &'static str,
    ty: u32,
    roles: Vec<Role>,
    /// Elements n needs of each buffer.
    needs: Vec<usize>,
    /// Check 1 of §4.6 (unknown type or enum, bad group/block size, n too large).
    invalid: bool,
    bad_length: bool,
    empty: bool,
    empty_is_error: bool,
    /// The data status where this target computes it independently of the library (the int4
    /// quantizers: the first NaN/Inf or |x| > 2^126 of the widened input; statistics: NaN/Inf
    /// in either input); `None` where only the float32 function decides.
    data: Option<i32>,
}

/// Calls the function: `Some(t)` the `_from`/`_into` with float type t, `None` the float32
/// original; the pointers and the stated lengths of the buffers, in the Shape's order.
type CallFn<'a> = dyn Fn(Option<u32>, &[*mut u8], &[usize]) -> i32 + 'a;

fn elem(ty: u32) -> usize {
    half::size(ty).unwrap_or(2)
}

/// A float buffer of `ty` without a length parameter: `need` elements; its pointer is offset
/// by an odd number of bytes now and then (MISALIGNED for the half types; F32 also by 2).
fn fspec(d: &mut Draw, ty: u32, need: usize, written: bool) -> Spec {
    let e = elem(ty);
    let mut s = Spec::draw(d, e, e, need, false, written);
    if d.chance(20) {
        s.misalign = [1, 3, 2][d.byte() as usize % 3];
    }
    s
}

/// n: mostly small, sometimes up to 4096, now and then one whose byte size in `ty` exceeds
/// isize::MAX (then `real`, the elements allocated, is small). Returns (n, real, huge).
fn draw_n(d: &mut Draw, ty: u32) -> (usize, usize, bool) {
    if d.chance(6) {
        (huge_n(d, elem(ty)), d.range(0, 8), true)
    } else {
        let n = d.n();
        (n, n, false)
    }
}

fn packed(n: usize) -> usize {
    n / 2 + n % 2
}

fn fill_floats(d: &mut Draw, mem: &Mem, i: usize, ty: u32) {
    let t = if half::size(ty).is_some() { ty } else { F16 };
    let v = half::draw_values(d, t, mem.specs[i].cap);
    mem.fill(i, &v);
}

fn fill_bytes(d: &mut Draw, mem: &Mem, i: usize) {
    let b: Vec<u8> = (0..mem.specs[i].cap * mem.specs[i].elem)
        .map(|_| d.byte())
        .collect();
    mem.fill(i, &b);
}

/// Runs the call and checks it (see the module doc).
fn check(s: &Shape, mem: &Mem, call: &CallFn) {
    let k = s.roles.len();
    let stated: Vec<usize> = mem.specs.iter().map(|p| p.stated).collect();
    let args: Vec<Arg> = (0..k)
        .map(|i| {
            if s.roles[i] == Role::Scalar {
                Arg::scalar(mem, i)
            } else {
                Arg::of(mem, i, s.needs[i])
            }
        })
        .collect();
    let arg_status = Call {
        invalid_params: s.invalid || half::size(s.ty).is_none(),
        args: &args,
        bad_length: s.bad_length,
        empty: s.empty,
        empty_is_error: s.empty_is_error,
    }
    .argument_status();
    let before = mem.snapshot();
    let start: Vec<Vec<u8>> = (0..k).map(|i| mem.bytes(i)).collect();
    let ptrs: Vec<*mut u8> = (0..k).map(|i| mem.ptr(i)).collect();
    let got = at_every_level(s.name, mem, &before, || call(Some(s.ty), &ptrs, &stated));
    let after = mem.snapshot();
    if let Some(want) = arg_status {
        assert_status(got, want, s.name);
        assert_only_changed(&before, &after, &[], s.name);
        return;
    }
    let ty = s.ty;

    // The float32 original on fresh, aligned, disjoint buffers: the widened input, copies of
    // the other inputs and of the outputs' starting bytes, float outputs filled with `fill`.
    let reference = |fill: u8| -> (i32, Vec<Vec<u8>>) {
        let mut bufs: Vec<Vec<u64>> = Vec::with_capacity(k);
        let mut lens = Vec::with_capacity(k);
        for i in 0..k {
            let bytes: Vec<u8> = match s.roles[i] {
                Role::FloatIn => (0..s.needs[i])
                    .flat_map(|j| half::widen(ty, &start[i], j).to_ne_bytes())
                    .collect(),
                Role::FloatOut => vec![fill; 4 * s.needs[i]],
                _ => start[i].clone(),
            };
            let mut v = vec![0u64; bytes.len().div_ceil(8).max(1)];
            // SAFETY: v holds at least bytes.len() bytes; u64 has no invalid bit patterns.
            unsafe {
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr().cast(), bytes.len())
            };
            lens.push(bytes.len());
            bufs.push(v);
        }
        let p: Vec<*mut u8> = bufs.iter_mut().map(|v| v.as_mut_ptr().cast()).collect();
        let st = call(None, &p, &stated);
        let out = bufs
            .iter()
            .zip(&lens)
            .map(|(v, &len)| {
                // SAFETY: v holds at least len bytes.
                unsafe { core::slice::from_raw_parts(v.as_ptr().cast::<u8>(), len) }.to_vec()
            })
            .collect();
        (st, out)
    };
    let (want, ra) = reference(0xA5);
    if let Some(w) = s.data {
        assert_status(want, w, "the float32 function on the widened input");
    }
    assert_status(got, want, s.name);
    let float_out = s.roles.contains(&Role::FloatOut);
    let rb = if float_out {
        let (st, rb) = reference(0x5A);
        assert_eq!(
            st, want,
            "{}: the float32 call is not deterministic",
            s.name
        );
        rb
    } else {
        Vec::new()
    };

    let allowed: Vec<Region> = (0..k)
        .filter(|&i| matches!(s.roles[i], Role::Out | Role::Scalar | Role::FloatOut))
        .map(|i| args[i].region())
        .collect();
    assert_only_changed(&before, &after, &allowed, s.name);
    let tn = ["f32", "f16", "bf16"][ty as usize];
    for i in 0..k {
        let now = mem.bytes(i);
        match s.roles[i] {
            Role::Out | Role::Scalar => {
                let nb = s.needs[i] * mem.specs[i].elem;
                // On a data error the blocks before the bad one may or may not have been
                // written (§4.7): each byte is then the float32 call's or untouched.
                let ok = |j: usize| now[j] == ra[i][j] || (got != 0 && now[j] == start[i][j]);
                if let Some(j) = (0..nb).find(|&j| !ok(j)) {
                    panic!(
                        "{} ({tn}, status {got}): byte {j} of buffer {i} is {:#04x}, the float32 \
                         function on the widened input writes {:#04x}",
                        s.name, now[j], ra[i][j]
                    );
                }
            }
            Role::FloatOut => {
                let (fa, fb) = (u32::from_ne_bytes([0xA5; 4]), u32::from_ne_bytes([0x5A; 4]));
                for j in 0..s.needs[i] {
                    let a = f32::from_ne_bytes(ra[i][4 * j..4 * j + 4].try_into().unwrap());
                    let b = f32::from_ne_bytes(rb[i][4 * j..4 * j + 4].try_into().unwrap());
                    let g = half::bits(ty, &now, j);
                    if a.to_bits() == fa && b.to_bits() == fb {
                        let was = half::bits(ty, &start[i], j);
                        assert_eq!(
                            g, was,
                            "{} ({tn}, status {got}): element {j} written, the float32 function \
                             leaves it",
                            s.name
                        );
                        continue;
                    }
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "{}: float32 call element {j}",
                        s.name
                    );
                    if got != 0 && g == half::bits(ty, &start[i], j) {
                        continue; // a data error: this part may be left unwritten (§4.7)
                    }
                    match half::narrow(ty, a) {
                        Some(w) => assert_eq!(
                            g, w,
                            "{} ({tn}, status {got}): element {j} is {g:#06x}, the float32 result \
                             {a:e} rounded once is {w:#06x}",
                            s.name
                        ),
                        None => assert!(half::is_nan(ty, g), "{}: element {j}: NaN", s.name),
                    }
                }
            }
            _ => {}
        }
    }
}

/// The widened first `n` values of buffer `i` (`None` for an unknown type or a buffer shorter
/// than n: then an argument error decides).
fn widened(mem: &Mem, i: usize, ty: u32, n: usize) -> Option<Vec<f32>> {
    let b = mem.bytes(i);
    (half::size(ty)? * n <= b.len()).then(|| (0..n).map(|j| half::widen(ty, &b, j)).collect())
}

/// §2.8 for the int4 quantizers (input buffer 0): the first NaN/Inf (NON_FINITE) or
/// |x| > 2^126 (VALUE_OUT_OF_RANGE) of the widened values.
fn int4_data(mem: &Mem, ty: u32, n: usize) -> Option<i32> {
    let x = widened(mem, 0, ty, n)?;
    Some(first_bad_int4(&x).map_or(OK, |b| b.1))
}

/// §3.7: NaN or Inf in either widened input is NON_FINITE.
fn stats_data(mem: &Mem, ty: u32, n: usize) -> Option<i32> {
    let (x, y) = (widened(mem, 0, ty, n)?, widened(mem, 1, ty, n)?);
    Some(if x.iter().chain(&y).all(|v| v.is_finite()) {
        OK
    } else {
        NON_FINITE
    })
}

fn int4_quantize(d: &mut Draw, ty: u32) {
    let method = d.enum_value(2);
    let (n, real, huge) = draw_n(d, ty);
    let mut specs = vec![
        fspec(d, ty, real, false),
        Spec::draw(d, 1, 1, real, false, true),
        Spec::scalar_out(d, 4, 4),
        Spec::scalar_out(d, 1, 1),
    ];
    if huge {
        specs[0].stated = n;
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_floats(d, &mem, 0, ty);
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "quantize_to_int4_from",
        ty,
        roles: vec![Role::FloatIn, Role::Out, Role::Scalar, Role::Scalar],
        needs: vec![nn, nn, 1, 1],
        invalid: method > 1 || huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: true,
        data: int4_data(&mem, ty, nn),
    };
    check(&s, &mem, &|t, p, _st| {
        // SAFETY: every pointer is NULL or valid for its stated length (the float buffer for n
        // elements of the type, the float32 reference's for n floats).
        unsafe {
            match t {
                Some(t) => q::quantize_to_int4_from(
                    t,
                    p[0] as *const c_void,
                    n,
                    method,
                    p[1].cast(),
                    p[2].cast(),
                    p[3].cast(),
                ),
                None => q::quantize_to_int4(
                    p[0] as *const f32,
                    n,
                    method,
                    p[1].cast(),
                    p[2].cast(),
                    p[3].cast(),
                ),
            }
        }
    });
}

fn int4_dequantize(d: &mut Draw, ty: u32) {
    let (n, real, huge) = draw_n(d, ty);
    let mut specs = vec![
        Spec::draw(d, 1, 1, real, false, false),
        fspec(d, ty, real, true),
    ];
    if huge {
        specs[0].stated = n;
        specs[1].stated = n;
    }
    let (scale, zp) = d.dequantize_params();
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let codes: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.code() as u8).collect();
    mem.fill(0, &codes);
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "dequantize_from_int4_into",
        ty,
        roles: vec![Role::In, Role::FloatOut],
        needs: vec![nn, nn],
        invalid: huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, _st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::dequantize_from_int4_into(p[0].cast(), n, scale, zp, t, p[1].cast()),
                None => q::dequantize_from_int4(p[0].cast(), n, scale, zp, p[1].cast()),
            }
        }
    });
}

fn packed_quantize(d: &mut Draw, ty: u32) {
    let method = d.enum_value(2);
    let (n, real, huge) = draw_n(d, ty);
    let mut specs = vec![
        fspec(d, ty, real, false),
        Spec::draw(d, 1, 1, packed(real), true, true),
        Spec::scalar_out(d, 4, 4),
        Spec::scalar_out(d, 1, 1),
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_floats(d, &mem, 0, ty);
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "quantize_to_int4_packed_from",
        ty,
        roles: vec![Role::FloatIn, Role::Out, Role::Scalar, Role::Scalar],
        needs: vec![nn, packed(nn), 1, 1],
        invalid: method > 1 || huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: true,
        data: int4_data(&mem, ty, nn),
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::quantize_to_int4_packed_from(
                    t,
                    p[0] as *const c_void,
                    n,
                    method,
                    p[1],
                    st[1],
                    p[2].cast(),
                    p[3].cast(),
                ),
                None => q::quantize_to_int4_packed(
                    p[0] as *const f32,
                    n,
                    method,
                    p[1],
                    st[1],
                    p[2].cast(),
                    p[3].cast(),
                ),
            }
        }
    });
}

fn packed_dequantize(d: &mut Draw, ty: u32) {
    let (n, real, huge) = draw_n(d, ty);
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false),
        fspec(d, ty, real, true),
    ];
    if huge {
        specs[1].stated = n;
    }
    let (scale, zp) = d.dequantize_params();
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_bytes(d, &mem, 0);
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "dequantize_from_int4_packed_into",
        ty,
        roles: vec![Role::In, Role::FloatOut],
        needs: vec![packed(nn), nn],
        invalid: huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => {
                    q::dequantize_from_int4_packed_into(p[0], st[0], n, scale, zp, t, p[1].cast())
                }
                None => q::dequantize_from_int4_packed(p[0], st[0], n, scale, zp, p[1].cast()),
            }
        }
    });
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

fn groups_quantize(d: &mut Draw, ty: u32) {
    let method = d.enum_value(2);
    let (n, real, huge) = draw_n(d, ty);
    let gs = group_size(d, real);
    let cnt = count(real, gs);
    let mut specs = vec![
        fspec(d, ty, real, false),
        Spec::draw(d, 1, 1, packed(real), true, true),
        Spec::draw(d, 4, 4, cnt, true, true),
        Spec::draw(d, 1, 1, cnt, true, true),
    ];
    if d.chance(64) {
        specs[3].stated = 0;
    }
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_floats(d, &mem, 0, ty);
    let nn = if huge { 0 } else { n };
    let cn = count(nn, gs);
    let zp_need = if method == 1 && mem.specs[3].stated == 0 {
        0
    } else {
        cn
    };
    let s = Shape {
        name: "quantize_int4_groups_from",
        ty,
        roles: vec![Role::FloatIn, Role::Out, Role::Out, Role::Out],
        needs: vec![nn, packed(nn), cn, zp_need],
        invalid: method > 1 || gs == 0 || huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
        data: int4_data(&mem, ty, nn),
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::quantize_int4_groups_from(
                    t,
                    p[0] as *const c_void,
                    n,
                    gs,
                    method,
                    p[1],
                    st[1],
                    p[2].cast(),
                    st[2],
                    p[3].cast(),
                    st[3],
                ),
                None => q::quantize_int4_groups(
                    p[0] as *const f32,
                    n,
                    gs,
                    method,
                    p[1],
                    st[1],
                    p[2].cast(),
                    st[2],
                    p[3].cast(),
                    st[3],
                ),
            }
        }
    });
}

fn groups_dequantize(d: &mut Draw, ty: u32) {
    let (n, real, huge) = draw_n(d, ty);
    let gs = group_size(d, real);
    let cnt = count(real, gs);
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false),
        Spec::draw(d, 4, 4, cnt, true, false),
        Spec::draw(d, 1, 1, cnt, true, false),
        fspec(d, ty, real, true),
    ];
    if d.chance(64) {
        specs[2].stated = 0;
    }
    if huge {
        specs[3].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2, 3]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_bytes(d, &mem, 0);
    let mut scales = Vec::new();
    for _ in 0..mem.specs[1].cap {
        let (sc, _) = d.dequantize_params();
        scales.push(sc);
    }
    mem.fill_f32s(1, &scales);
    let zps: Vec<u8> = (0..mem.specs[2].cap)
        .map(|_| {
            if d.chance(240) {
                ((d.byte() % 16) as i8 - 8) as u8
            } else {
                d.byte()
            }
        })
        .collect();
    mem.fill(2, &zps);
    let nn = if huge { 0 } else { n };
    let cn = count(nn, gs);
    let zp_need = if mem.specs[2].stated == 0 { 0 } else { cn };
    let s = Shape {
        name: "dequantize_int4_groups_into",
        ty,
        roles: vec![Role::In, Role::In, Role::In, Role::FloatOut],
        needs: vec![packed(nn), cn, zp_need, nn],
        invalid: gs == 0 || huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::dequantize_int4_groups_into(
                    p[0],
                    st[0],
                    n,
                    gs,
                    p[1].cast(),
                    st[1],
                    p[2].cast(),
                    st[2],
                    t,
                    p[3].cast(),
                ),
                None => q::dequantize_int4_groups(
                    p[0],
                    st[0],
                    n,
                    gs,
                    p[1].cast(),
                    st[1],
                    p[2].cast(),
                    st[2],
                    p[3].cast(),
                ),
            }
        }
    });
}

/// A block format (0..=6 or unknown), its (values, bytes) per block, and an n: mostly whole
/// blocks, sometimes whole 32-value blocks or any n.
fn block_args(d: &mut Draw, ty: u32) -> (u32, usize, usize, usize, usize, bool) {
    let format = d.enum_value(7);
    let (el, bb) = oracle::block_size(format).unwrap_or((32, 18));
    let (n, real, huge) = if d.chance(6) {
        (huge_n(d, elem(ty)), d.range(0, 8), true)
    } else {
        let n = match d.byte() % 8 {
            0 => d.n(),
            1 => 32 * d.range(0, 16),
            _ => el * d.range(0, 4),
        };
        (n, n, false)
    };
    (format, el, bb, n, real, huge)
}

fn blocks_quantize(d: &mut Draw, ty: u32) {
    let (format, el, bb, n, real, huge) = block_args(d, ty);
    let mut specs = vec![
        fspec(d, ty, real, false),
        Spec::draw(d, 1, 1, real / el * bb, true, true),
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_floats(d, &mem, 0, ty);
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "quantize_blocks_from",
        ty,
        roles: vec![Role::FloatIn, Role::Out],
        needs: vec![nn, nn / el * bb],
        invalid: oracle::block_size(format).is_none() || huge,
        bad_length: !n.is_multiple_of(el),
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => {
                    q::quantize_blocks_from(format, t, p[0] as *const c_void, n, p[1], st[1])
                }
                None => q::quantize_blocks(format, p[0] as *const f32, n, p[1], st[1]),
            }
        }
    });
}

fn blocks_dequantize(d: &mut Draw, ty: u32) {
    let (format, el, bb, n, real, huge) = block_args(d, ty);
    let mut specs = vec![
        Spec::draw(d, 1, 1, real / el * bb, true, false),
        fspec(d, ty, real, true),
    ];
    if huge {
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1]);
    let mem = Mem::new(specs, overlap, d.byte());
    let mut src: Vec<u8> = (0..mem.specs[0].cap).map(|_| d.byte()).collect();
    // Mostly finite fp16 fields (bit 14 clear in the high byte of the first two fields).
    for b in 0..src.len() / bb {
        if d.chance(220) {
            src[b * bb + 1] &= 0xBB;
            if bb > 3 {
                src[b * bb + 3] &= 0xBB;
            }
        }
    }
    mem.fill(0, &src);
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "dequantize_blocks_into",
        ty,
        roles: vec![Role::In, Role::FloatOut],
        needs: vec![nn / el * bb, nn],
        invalid: oracle::block_size(format).is_none() || huge,
        bad_length: !n.is_multiple_of(el),
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::dequantize_blocks_into(format, p[0], st[0], t, p[1].cast(), n),
                None => q::dequantize_blocks(format, p[0], st[0], p[1].cast(), n),
            }
        }
    });
}

fn valid_block_size(bs: usize) -> bool {
    bs.is_power_of_two() && (32..=4096).contains(&bs)
}

/// A codebook, a block size (valid or not) and n.
fn codebook_args(d: &mut Draw, ty: u32) -> (u32, usize, usize, usize, bool, usize) {
    let cb = d.enum_value(2);
    let bs = if d.chance(220) {
        32 << (d.byte() % 8)
    } else {
        [0, 1, 16, 31, 33, 48, 8192, usize::MAX][d.byte() as usize % 8]
    };
    let (n, real, huge) = if d.chance(6) {
        (huge_n(d, elem(ty)), d.range(0, 8), true)
    } else if d.chance(128) {
        let n = d.n();
        (n, n, false)
    } else {
        let n = bs.min(4096) * d.range(0, 1) + d.range(0, 70);
        (n, n, false)
    };
    let nb = if valid_block_size(bs) {
        real.div_ceil(bs)
    } else {
        0
    };
    (cb, bs, n, real, huge, nb)
}

fn codebook_quantize(d: &mut Draw, ty: u32) {
    let (cb, bs, n, real, huge, nb) = codebook_args(d, ty);
    let mut specs = vec![
        fspec(d, ty, real, false),
        Spec::draw(d, 1, 1, packed(real), true, true),
        Spec::draw(d, 4, 4, nb, true, true),
    ];
    if huge {
        specs[0].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_floats(d, &mem, 0, ty);
    let nn = if huge { 0 } else { n };
    let nbn = if valid_block_size(bs) {
        nn.div_ceil(bs)
    } else {
        0
    };
    let s = Shape {
        name: "quantize_codebook_blocks_from",
        ty,
        roles: vec![Role::FloatIn, Role::Out, Role::Out],
        needs: vec![nn, packed(nn), nbn],
        invalid: cb > 1 || !valid_block_size(bs) || huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::quantize_codebook_blocks_from(
                    cb,
                    t,
                    p[0] as *const c_void,
                    n,
                    bs,
                    p[1],
                    st[1],
                    p[2].cast(),
                    st[2],
                ),
                None => q::quantize_codebook_blocks(
                    cb,
                    p[0] as *const f32,
                    n,
                    bs,
                    p[1],
                    st[1],
                    p[2].cast(),
                    st[2],
                ),
            }
        }
    });
}

fn codebook_dequantize(d: &mut Draw, ty: u32) {
    let (cb, bs, n, real, huge, nb) = codebook_args(d, ty);
    let mut specs = vec![
        Spec::draw(d, 1, 1, packed(real), true, false),
        Spec::draw(d, 4, 4, nb, true, false),
        fspec(d, ty, real, true),
    ];
    if huge {
        specs[2].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_bytes(d, &mem, 0);
    // Absmax values: large ones overflow float16 after the multiplication (±Inf there).
    let mut absmax = Vec::new();
    for _ in 0..mem.specs[1].cap {
        let (a, _) = d.dequantize_params();
        absmax.push(if d.chance(30) { a * 65536.0 } else { a });
    }
    mem.fill_f32s(1, &absmax);
    let nn = if huge { 0 } else { n };
    let nbn = if valid_block_size(bs) {
        nn.div_ceil(bs)
    } else {
        0
    };
    let s = Shape {
        name: "dequantize_codebook_blocks_into",
        ty,
        roles: vec![Role::In, Role::In, Role::FloatOut],
        needs: vec![packed(nn), nbn, nn],
        invalid: cb > 1 || !valid_block_size(bs) || huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: false,
        data: None,
    };
    check(&s, &mem, &|t, p, st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::dequantize_codebook_blocks_into(
                    cb,
                    p[0],
                    st[0],
                    n,
                    bs,
                    p[1].cast(),
                    st[1],
                    t,
                    p[2].cast(),
                ),
                None => q::dequantize_codebook_blocks(
                    cb,
                    p[0],
                    st[0],
                    n,
                    bs,
                    p[1].cast(),
                    st[1],
                    p[2].cast(),
                ),
            }
        }
    });
}

fn stats(d: &mut Draw, ty: u32) {
    let (size, align) = (
        core::mem::size_of::<ErrorStats>(),
        core::mem::align_of::<ErrorStats>(),
    );
    let (n, real, huge) = draw_n(d, ty);
    let mut specs = vec![
        fspec(d, ty, real, false),
        fspec(d, ty, real, false),
        Spec::scalar_out(d, size, align),
    ];
    if huge {
        specs[0].stated = n;
        specs[1].stated = n;
    }
    let overlap = draw_overlap(d, &specs, &[0, 1, 2]);
    let mem = Mem::new(specs, overlap, d.byte());
    fill_floats(d, &mem, 0, ty);
    if d.chance(128) {
        // The restored values a few ulps from the originals (or equal: SQNR +inf).
        let mut b = mem.bytes(0);
        let flip = d.byte() & 3;
        for (j, v) in b.iter_mut().enumerate() {
            if j % elem(ty) == 0 {
                *v ^= flip;
            }
        }
        mem.fill(1, &b);
    } else {
        fill_floats(d, &mem, 1, ty);
    }
    let nn = if huge { 0 } else { n };
    let s = Shape {
        name: "quantize_measure_error_from",
        ty,
        roles: vec![Role::FloatIn, Role::FloatIn, Role::Scalar],
        needs: vec![nn, nn, 1],
        invalid: huge,
        bad_length: false,
        empty: n == 0,
        empty_is_error: true,
        data: stats_data(&mem, ty, nn),
    };
    check(&s, &mem, &|t, p, _st| {
        // SAFETY: as in int4_quantize.
        unsafe {
            match t {
                Some(t) => q::quantize_measure_error_from(
                    t,
                    p[0] as *const c_void,
                    p[1] as *const c_void,
                    n,
                    p[2].cast(),
                ),
                None => q::quantize_measure_error(
                    p[0] as *const f32,
                    p[1] as *const f32,
                    n,
                    p[2].cast(),
                ),
            }
        }
    });
}
