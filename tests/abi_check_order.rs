//! The contract's check order (docs/contract.md §4.6) as one table (`common/check_order.rs`, the
//! cases of `common/order.rs`), run against the C ABI and the Rust API: every fault alone gives
//! its phase's status, every pair of faults of different phases gives the earlier phase's
//! status, and on an argument error (every phase but the data) nothing is written.

mod common;

use common::check_order::{first, rank, Phase};
use common::order::{cases, phase_status, Case, Change, Fault, Func, Params};
use quantize::ffi::*;
use quantize::stats::ErrorStats;
use std::ffi::c_void;

/// Bytes reserved per buffer: any buffer of the call fits at any buffer's place (an overlap
/// fault), with room for a misaligned pointer.
fn slot_size(case: &Case) -> usize {
    let max = case
        .bufs
        .iter()
        .map(|b| b.need * b.elem_size(0).max(4))
        .max()
        .unwrap_or(0);
    (max + 64).next_multiple_of(64)
}

/// A call ready to make: the arena holding every buffer, the pointers and stated lengths.
struct Call {
    params: Params,
    arena: Vec<u64>,
    ptrs: Vec<*mut u8>,
    lens: Vec<usize>,
}

fn build(case: &Case, faults: &[&Fault]) -> Call {
    let changes: Vec<Change> = faults.iter().map(|f| f.change).collect();
    build_with(case, &changes)
}

fn build_with(case: &Case, changes: &[Change]) -> Call {
    let slot = slot_size(case);
    let mut arena = vec![0u64; slot * case.bufs.len() / 8 + 8];
    let base = arena.as_mut_ptr().cast::<u8>();
    let mut params = case.params;
    let mut ptrs: Vec<*mut u8> = (0..case.bufs.len())
        .map(|i| base.wrapping_add(i * slot))
        .collect();
    let mut lens: Vec<usize> = case.bufs.iter().map(|b| b.stated.unwrap_or(0)).collect();
    // Baseline contents: the buffers' fills; outputs get sentinel bytes.
    for (i, b) in case.bufs.iter().enumerate() {
        // SAFETY: slot i lies inside the arena.
        let bytes = unsafe { std::slice::from_raw_parts_mut(ptrs[i], slot) };
        bytes.fill(if b.written { common::sentinel::BYTE } else { 0 });
        bytes[..b.fill.len()].copy_from_slice(&b.fill);
    }
    for change in changes {
        match *change {
            Change::Kind(k) => params.kind = k,
            Change::FloatType(t) => params.float_type = t,
            Change::Size(s) => params.size = s,
            Change::N(n) => params.n = n,
            Change::Empty => params.n = 0,
            Change::Scale(s) => params.scale = s,
            Change::ZeroPoint(z) => params.zero_point = z,
            Change::Null(i) => ptrs[i] = std::ptr::null_mut(),
            Change::Misalign(i) => {
                let align = case.bufs[i].align_of(params.float_type);
                ptrs[i] = common::sentinel::misaligned(ptrs[i], align.max(2));
            }
            Change::Short(i) => lens[i] = case.bufs[i].need - 1,
            Change::Overlap { moved, onto } => ptrs[moved] = base.wrapping_add(onto * slot),
            Change::OverlapAt {
                moved,
                onto,
                offset,
            } => ptrs[moved] = base.wrapping_add(onto * slot + offset),
            Change::Len(i, len) => lens[i] = len,
            Change::Data {
                buf,
                at,
                bytes,
                len,
            } => {
                let p = base.wrapping_add(buf * slot + at);
                // SAFETY: inside slot `buf`.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, len) };
            }
        }
    }
    Call {
        params,
        arena,
        ptrs,
        lens,
    }
}

/// Calls the C function.
fn call_c(func: Func, c: &Call) -> i32 {
    let p = &c.params;
    let (ptr, len) = (&c.ptrs, &c.lens);
    let f = |i: usize| ptr[i].cast::<f32>();
    let v = |i: usize| ptr[i].cast::<c_void>();
    let i8p = |i: usize| ptr[i].cast::<i8>();
    let u8p = |i: usize| ptr[i];
    // SAFETY: every pointer is NULL or points into the arena with room for what its stated
    // length (or n) needs; faults only make the library return before touching memory.
    unsafe {
        match func {
            Func::QuantizeToInt4 => quantize_to_int4(f(0), p.n, p.kind, i8p(1), f(2), i8p(3)),
            Func::QuantizeToInt4From => {
                quantize_to_int4_from(p.float_type, v(0), p.n, p.kind, i8p(1), f(2), i8p(3))
            }
            Func::QuantizeToInt4Packed => {
                quantize_to_int4_packed(f(0), p.n, p.kind, u8p(1), len[1], f(2), i8p(3))
            }
            Func::QuantizeToInt4PackedFrom => quantize_to_int4_packed_from(
                p.float_type,
                v(0),
                p.n,
                p.kind,
                u8p(1),
                len[1],
                f(2),
                i8p(3),
            ),
            Func::DequantizeFromInt4 => {
                dequantize_from_int4(i8p(0), p.n, p.scale, p.zero_point, f(1))
            }
            Func::DequantizeFromInt4Into => {
                dequantize_from_int4_into(i8p(0), p.n, p.scale, p.zero_point, p.float_type, v(1))
            }
            Func::DequantizeFromInt4Packed => {
                dequantize_from_int4_packed(u8p(0), len[0], p.n, p.scale, p.zero_point, f(1))
            }
            Func::DequantizeFromInt4PackedInto => dequantize_from_int4_packed_into(
                u8p(0),
                len[0],
                p.n,
                p.scale,
                p.zero_point,
                p.float_type,
                v(1),
            ),
            Func::PackInt4ToInt8 => pack_int4_to_int8(i8p(0), p.n, u8p(1), len[1]),
            Func::UnpackInt8ToInt4 => unpack_int8_to_int4(u8p(0), len[0], i8p(1), p.n),
            Func::QuantizeInt4Groups => quantize_int4_groups(
                f(0),
                p.n,
                p.size,
                p.kind,
                u8p(1),
                len[1],
                f(2),
                len[2],
                i8p(3),
                len[3],
            ),
            Func::QuantizeInt4GroupsFrom => quantize_int4_groups_from(
                p.float_type,
                v(0),
                p.n,
                p.size,
                p.kind,
                u8p(1),
                len[1],
                f(2),
                len[2],
                i8p(3),
                len[3],
            ),
            Func::DequantizeInt4Groups => dequantize_int4_groups(
                u8p(0),
                len[0],
                p.n,
                p.size,
                f(1),
                len[1],
                i8p(2),
                len[2],
                f(3),
            ),
            Func::DequantizeInt4GroupsInto => dequantize_int4_groups_into(
                u8p(0),
                len[0],
                p.n,
                p.size,
                f(1),
                len[1],
                i8p(2),
                len[2],
                p.float_type,
                v(3),
            ),
            Func::QuantizeBlocks => quantize_blocks(p.kind, f(0), p.n, u8p(1), len[1]),
            Func::QuantizeBlocksFrom => {
                quantize_blocks_from(p.kind, p.float_type, v(0), p.n, u8p(1), len[1])
            }
            Func::DequantizeBlocks => dequantize_blocks(p.kind, u8p(0), len[0], f(1), p.n),
            Func::DequantizeBlocksInto => {
                dequantize_blocks_into(p.kind, u8p(0), len[0], p.float_type, v(1), p.n)
            }
            Func::QuantizeCodebookBlocks => {
                quantize_codebook_blocks(p.kind, f(0), p.n, p.size, u8p(1), len[1], f(2), len[2])
            }
            Func::QuantizeCodebookBlocksFrom => quantize_codebook_blocks_from(
                p.kind,
                p.float_type,
                v(0),
                p.n,
                p.size,
                u8p(1),
                len[1],
                f(2),
                len[2],
            ),
            Func::DequantizeCodebookBlocks => {
                dequantize_codebook_blocks(p.kind, u8p(0), len[0], p.n, p.size, f(1), len[1], f(2))
            }
            Func::DequantizeCodebookBlocksInto => dequantize_codebook_blocks_into(
                p.kind,
                u8p(0),
                len[0],
                p.n,
                p.size,
                f(1),
                len[1],
                p.float_type,
                v(2),
            ),
            Func::MeasureError => {
                quantize_measure_error(f(0), f(1), p.n, ptr[2].cast::<ErrorStats>())
            }
            Func::MeasureErrorFrom => quantize_measure_error_from(
                p.float_type,
                v(0),
                v(1),
                p.n,
                ptr[2].cast::<ErrorStats>(),
            ),
        }
    }
}

/// The cases to run: all of them, or under Miri (scripts/miri.sh) those in float32 and not of
/// the 256-value formats (Q4_K 4, IQ4_XS 5), whose searches take minutes per call there; the
/// pointer checks they go through are the other formats'.
fn run_cases() -> Vec<Case> {
    let super_block = |c: &Case| {
        matches!(
            c.func,
            Func::QuantizeBlocks
                | Func::DequantizeBlocks
                | Func::QuantizeBlocksFrom
                | Func::DequantizeBlocksInto
        ) && (c.params.kind == 4 || c.params.kind == 5)
    };
    cases()
        .into_iter()
        .filter(|c| !cfg!(miri) || (c.params.float_type == 0 && !super_block(c)))
        .collect()
}

/// The combinable pairs of a case's faults.
fn pairs(case: &Case, keep: impl Fn(&Fault) -> bool) -> Vec<Vec<&Fault>> {
    let faults: Vec<&Fault> = case.faults.iter().filter(|f| keep(f)).collect();
    let mut out = Vec::new();
    for (i, &a) in faults.iter().enumerate() {
        for &b in &faults[i + 1..] {
            if case.combinable(a, b) {
                out.push(vec![a, b]);
            }
        }
    }
    out
}

/// The fault sets of a case: none, each fault alone, each combinable pair (not under Miri,
/// which checks the pointer handling of each call: the single faults and the rows reach every
/// check; the pairs only add orderings).
fn fault_sets(case: &Case, keep: impl Fn(&Fault) -> bool) -> Vec<Vec<&Fault>> {
    let mut sets = vec![vec![]];
    sets.extend(case.faults.iter().filter(|f| keep(f)).map(|f| vec![f]));
    if !cfg!(miri) {
        sets.extend(pairs(case, keep));
    }
    sets
}

/// What the table says the call returns, and the deciding phase (None: no fault, OK).
fn expected(case: &Case, set: &[&Fault]) -> (i32, Option<Phase>) {
    match first(set.iter().map(|f| f.phase)) {
        None => (0, None),
        Some(p) => {
            let f = set
                .iter()
                .find(|f| f.phase == p)
                .expect("the deciding fault");
            (phase_status(case, f), Some(p))
        }
    }
}

fn describe(case: &Case, set: &[&Fault]) -> String {
    let names: Vec<&str> = set.iter().map(|f| f.what.as_str()).collect();
    format!("{} [{}]", case.label, names.join(" + "))
}

#[test]
fn the_table_is_sound() {
    let all = cases();
    // Every fallible C function, and every phase somewhere.
    for func in [
        Func::QuantizeToInt4,
        Func::QuantizeToInt4From,
        Func::DequantizeFromInt4,
        Func::DequantizeFromInt4Into,
        Func::PackInt4ToInt8,
        Func::UnpackInt8ToInt4,
        Func::QuantizeToInt4Packed,
        Func::QuantizeToInt4PackedFrom,
        Func::DequantizeFromInt4Packed,
        Func::DequantizeFromInt4PackedInto,
        Func::QuantizeInt4Groups,
        Func::QuantizeInt4GroupsFrom,
        Func::DequantizeInt4Groups,
        Func::DequantizeInt4GroupsInto,
        Func::QuantizeBlocks,
        Func::QuantizeBlocksFrom,
        Func::DequantizeBlocks,
        Func::DequantizeBlocksInto,
        Func::QuantizeCodebookBlocks,
        Func::QuantizeCodebookBlocksFrom,
        Func::DequantizeCodebookBlocks,
        Func::DequantizeCodebookBlocksInto,
        Func::MeasureError,
        Func::MeasureErrorFrom,
    ] {
        assert!(all.iter().any(|c| c.func == func), "{func:?} has no case");
    }
    for (phase, _) in common::check_order::CHECK_ORDER {
        assert!(
            all.iter().flat_map(|c| &c.faults).any(|f| f.phase == phase),
            "no fault for {phase:?}"
        );
    }
    // The seven block formats, both ways, in every float type.
    for (format, name, _, _) in common::order::FORMATS {
        for func in [
            Func::QuantizeBlocks,
            Func::QuantizeBlocksFrom,
            Func::DequantizeBlocks,
            Func::DequantizeBlocksInto,
        ] {
            assert!(
                all.iter()
                    .any(|c| c.func == func && c.params.kind == format),
                "{func:?} {name}"
            );
        }
    }
    // Combined cases exist for every pair of argument phases somewhere.
    let ranks: Vec<usize> = (0..common::check_order::CHECK_ORDER.len()).collect();
    for &a in &ranks[..6] {
        for &b in &ranks[a + 1..7] {
            let (pa, pb) = (
                common::check_order::CHECK_ORDER[a].0,
                common::check_order::CHECK_ORDER[b].0,
            );
            let found = all.iter().any(|c| {
                pairs(c, |_| true).iter().any(|s| {
                    s.len() == 2
                        && s.iter().any(|f| f.phase == pa)
                        && s.iter().any(|f| f.phase == pb)
                })
            });
            // n = 0 is a value of n (as is LENGTH) and needs no byte of a buffer: it cannot fail
            // together with LENGTH, BUFFER_TOO_SMALL or OVERLAP.
            let impossible = pb == Phase::EmptyInput && rank(pa) >= rank(Phase::Length);
            assert!(found || impossible, "no combined case {pa:?} + {pb:?}");
        }
    }
    assert!(rank(Phase::InvalidArgument) < rank(Phase::Data));
}

#[test]
fn c_abi_follows_the_check_order() {
    let mut failures = Vec::new();
    let mut calls = 0usize;
    for case in run_cases() {
        for set in fault_sets(&case, |_| true) {
            let (want, phase) = expected(&case, &set);
            let mut call = build(&case, &set);
            let before = call.arena.clone();
            let got = call_c(case.func, &call);
            calls += 1;
            if got != want {
                failures.push(format!("{}: got {got}, want {want}", describe(&case, &set)));
            } else if phase.is_some_and(|p| p != Phase::Data) && call.arena != before {
                failures.push(format!(
                    "{}: wrote on an argument error",
                    describe(&case, &set)
                ));
            }
            call.arena.clear();
        }
    }
    for case in run_cases() {
        for row in &case.rows {
            let want = common::check_order::status(row.phase).unwrap_or(case.empty_status);
            let mut call = build_with(&case, &row.changes);
            let before = call.arena.clone();
            let got = call_c(case.func, &call);
            calls += 1;
            if got != want {
                failures.push(format!(
                    "{} row {:?}: got {got}, want {want}",
                    case.label, row.what
                ));
            } else if call.arena != before {
                failures.push(format!(
                    "{} row {:?}: wrote on an argument error",
                    case.label, row.what
                ));
            }
            call.arena.clear();
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls broke the check order:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{calls} C calls");
}

// ---------------------------------------------------------------------------------------------
// The Rust API: slices, so no NULL, alignment or overlap, and enums, so no unknown values; n is
// the length of the implicit-length slices. Its phases are the rest.

/// Whether a fault exists in the Rust API.
fn in_rust(f: &Fault) -> bool {
    match f.change {
        Change::Size(_) | Change::Short(_) | Change::Empty | Change::Data { .. } => true,
        Change::Scale(_) | Change::ZeroPoint(_) => true,
        Change::N(_) => f.phase == Phase::Length,
        Change::Kind(_) | Change::FloatType(_) => false,
        Change::Null(_) | Change::Misalign(_) | Change::Overlap { .. } => false,
        Change::OverlapAt { .. } | Change::Len(..) => false,
    }
}

/// The buffers as the Rust API sees them: copies of the baseline slots (Rust has no NULL or
/// overlap), each with the length of its slice (its stated length, or n).
fn rust_buffers(case: &Case, call: &Call) -> Vec<(Vec<u64>, usize)> {
    let base = call.arena.as_ptr().cast::<u8>();
    let slot = slot_size(case);
    case.bufs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut words = vec![0u64; slot / 8];
            // SAFETY: slot i lies inside the arena; `words` has `slot` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(base.add(i * slot), words.as_mut_ptr().cast(), slot)
            };
            let len = if b.stated.is_some() {
                call.lens[i]
            } else if b.scalar {
                1
            } else {
                call.params.n
            };
            (words, len)
        })
        .collect()
}

/// The `N` buffers of a call, each borrowed on its own.
fn parts<const N: usize>(bufs: &mut [(Vec<u64>, usize)]) -> [(&mut [u64], usize); N] {
    let v: Vec<(&mut [u64], usize)> = bufs
        .iter_mut()
        .map(|(w, l)| (w.as_mut_slice(), *l))
        .collect();
    v.try_into()
        .unwrap_or_else(|_| panic!("expected {N} buffers"))
}

/// A buffer as a slice of `T`.
fn typed<T>((words, len): (&mut [u64], usize)) -> &mut [T] {
    assert!(len * std::mem::size_of::<T>() <= words.len() * 8);
    // SAFETY: plain-data element types (f32, u16, u8, i8), 8-byte-aligned storage of enough
    // bytes, borrowed mutably for the slice's lifetime.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<T>(), len) }
}

/// A buffer as float input of type `ft`.
fn floats(ft: u32, buf: (&mut [u64], usize)) -> quantize::float::Floats<'_> {
    use quantize::float::Floats;
    match ft {
        0 => Floats::F32(typed(buf)),
        1 => Floats::F16(typed(buf)),
        _ => Floats::Bf16(typed(buf)),
    }
}

/// A buffer as float output of type `ft`.
fn floats_mut(ft: u32, buf: (&mut [u64], usize)) -> quantize::float::FloatsMut<'_> {
    use quantize::float::FloatsMut;
    match ft {
        0 => FloatsMut::F32(typed(buf)),
        1 => FloatsMut::F16(typed(buf)),
        _ => FloatsMut::Bf16(typed(buf)),
    }
}

fn status<T>(r: quantize::Result<T>) -> i32 {
    r.map_or_else(|e| e.status(), |_| 0)
}

/// Calls the Rust API's counterpart of the C function.
fn call_rust(func: Func, case: &Case, call: &Call) -> i32 {
    use quantize::codebook::*;
    use quantize::formats::*;
    use quantize::groups::*;
    use quantize::int4::*;
    use quantize::pack::*;
    use quantize::stats::{measure_error, measure_error_from};
    let p = call.params;
    let ft = p.float_type;
    let mut bufs = rust_buffers(case, call);
    let b = &mut bufs;
    let method = match p.kind {
        0 => ScaleMethod::MinMax,
        _ => ScaleMethod::AbsMax,
    };
    let format = BlockFormat::ALL
        .into_iter()
        .find(|f| *f as u32 == p.kind)
        .unwrap_or(BlockFormat::Q4_0);
    let codebook = if p.kind == 0 {
        Codebook::Nf4
    } else {
        Codebook::Fp4
    };
    let params = Params {
        scale: p.scale,
        zero_point: p.zero_point,
    };
    match func {
        Func::QuantizeToInt4 => {
            let [src, dst, _, _] = parts(b);
            status(quantize_to_int4(typed(src), method, typed(dst)))
        }
        Func::QuantizeToInt4From => {
            let [src, dst, _, _] = parts(b);
            status(quantize_to_int4_from(floats(ft, src), method, typed(dst)))
        }
        Func::QuantizeToInt4Packed => {
            let [src, dst, _, _] = parts(b);
            status(quantize_to_int4_packed(typed(src), method, typed(dst)))
        }
        Func::QuantizeToInt4PackedFrom => {
            let [src, dst, _, _] = parts(b);
            status(quantize_to_int4_packed_from(
                floats(ft, src),
                method,
                typed(dst),
            ))
        }
        Func::DequantizeFromInt4 => {
            let [src, dst] = parts(b);
            status(dequantize_from_int4(typed(src), params, typed(dst)))
        }
        Func::DequantizeFromInt4Into => {
            let [src, dst] = parts(b);
            status(dequantize_from_int4_into(
                typed(src),
                params,
                floats_mut(ft, dst),
            ))
        }
        Func::DequantizeFromInt4Packed => {
            let [src, dst] = parts(b);
            status(dequantize_from_int4_packed(typed(src), params, typed(dst)))
        }
        Func::DequantizeFromInt4PackedInto => {
            let [src, dst] = parts(b);
            status(dequantize_from_int4_packed_into(
                typed(src),
                params,
                floats_mut(ft, dst),
            ))
        }
        Func::PackInt4ToInt8 => {
            let [src, dst] = parts(b);
            status(pack_int4_to_int8(typed(src), typed(dst)))
        }
        Func::UnpackInt8ToInt4 => {
            let [src, dst] = parts(b);
            status(unpack_int8_to_int4(typed(src), typed(dst)))
        }
        Func::QuantizeInt4Groups => {
            let [src, codes, scales, zps] = parts(b);
            status(quantize_int4_groups(
                typed(src),
                p.size,
                method,
                typed(codes),
                typed(scales),
                typed(zps),
            ))
        }
        Func::QuantizeInt4GroupsFrom => {
            let [src, codes, scales, zps] = parts(b);
            status(quantize_int4_groups_from(
                floats(ft, src),
                p.size,
                method,
                typed(codes),
                typed(scales),
                typed(zps),
            ))
        }
        Func::DequantizeInt4Groups => {
            let [codes, scales, zps, dst] = parts(b);
            status(dequantize_int4_groups(
                typed(codes),
                p.size,
                typed(scales),
                typed(zps),
                typed(dst),
            ))
        }
        Func::DequantizeInt4GroupsInto => {
            let [codes, scales, zps, dst] = parts(b);
            status(dequantize_int4_groups_into(
                typed(codes),
                p.size,
                typed(scales),
                typed(zps),
                floats_mut(ft, dst),
            ))
        }
        Func::QuantizeBlocks => {
            let [src, dst] = parts(b);
            status(quantize_blocks(format, typed(src), typed(dst)))
        }
        Func::QuantizeBlocksFrom => {
            let [src, dst] = parts(b);
            status(quantize_blocks_from(format, floats(ft, src), typed(dst)))
        }
        Func::DequantizeBlocks => {
            let [src, dst] = parts(b);
            status(dequantize_blocks(format, typed(src), typed(dst)))
        }
        Func::DequantizeBlocksInto => {
            let [src, dst] = parts(b);
            status(dequantize_blocks_into(
                format,
                typed(src),
                floats_mut(ft, dst),
            ))
        }
        Func::QuantizeCodebookBlocks => {
            let [src, codes, absmax] = parts(b);
            status(quantize_codebook(
                codebook,
                typed(src),
                p.size,
                typed(codes),
                typed(absmax),
            ))
        }
        Func::QuantizeCodebookBlocksFrom => {
            let [src, codes, absmax] = parts(b);
            status(quantize_codebook_from(
                codebook,
                floats(ft, src),
                p.size,
                typed(codes),
                typed(absmax),
            ))
        }
        Func::DequantizeCodebookBlocks => {
            let [codes, absmax, dst] = parts(b);
            status(dequantize_codebook(
                codebook,
                typed(codes),
                p.size,
                typed(absmax),
                typed(dst),
            ))
        }
        Func::DequantizeCodebookBlocksInto => {
            let [codes, absmax, dst] = parts(b);
            status(dequantize_codebook_into(
                codebook,
                typed(codes),
                p.size,
                typed(absmax),
                floats_mut(ft, dst),
            ))
        }
        Func::MeasureError => {
            let [x, y, _] = parts(b);
            status(measure_error(typed(x), typed(y)))
        }
        Func::MeasureErrorFrom => {
            let [x, y, _] = parts(b);
            status(measure_error_from(floats(ft, x), floats(ft, y)))
        }
    }
}

#[test]
fn rust_api_follows_the_check_order() {
    let mut failures = Vec::new();
    let mut calls = 0usize;
    for case in run_cases() {
        for set in fault_sets(&case, in_rust) {
            let (want, _) = expected(&case, &set);
            let call = build(&case, &set);
            let got = call_rust(case.func, &case, &call);
            calls += 1;
            if got != want {
                failures.push(format!("{}: got {got}, want {want}", describe(&case, &set)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} Rust calls broke the check order:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{calls} Rust calls");
}
