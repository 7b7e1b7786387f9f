//! Golden vectors for the per-tensor and group-wise int4 API (docs/contract.md §2).
//!
//! The expected values in `tests/data/int4/*.txt` come from `scripts/gen_int4_vectors.py`: an
//! independent numpy float32 implementation of §2, cross-checked bit for bit against the ONNX
//! reference evaluator (QuantizeLinear / DequantizeLinear with INT4, opset 21) and onnx's own
//! int4 packing. Nothing here is computed by the code under test; this test needs no Python.
//!
//! Per-tensor files, one case per line (`#` lines are comments):
//!
//! ```text
//! name method n scale_bits zp x_bits... | q... | packed_hex | y_bits...
//! ```
//!
//! Group file (`groups.txt`):
//!
//! ```text
//! name method n group_size | x_bits... | scale_bits... | zp... | packed_hex | y_bits...
//! ```
//!
//! Floats are 8-hex-digit `u32` bit patterns; codes and zero points signed decimal;
//! `packed_hex` is 2 hex digits per byte, byte 0 first.

mod common;

use common::golden::bits as f32_bits;
use common::sentinel;
use quantize::groups::{dequantize_int4_groups, group_count, quantize_int4_groups};
use quantize::int4::{
    dequantize_from_int4, dequantize_from_int4_packed, quantize_to_int4, quantize_to_int4_packed,
    Params, ScaleMethod,
};
use quantize::pack::{pack_int4_to_int8, packed_len, unpack_int8_to_int4};
use std::path::PathBuf;

/// Bytes past what n needs must never be written: outputs get this many extra sentinel slots.
const SLACK: usize = 3;
const SENTINEL_U8: u8 = sentinel::BYTE;
const SENTINEL_I8: i8 = sentinel::I8; // 90: not a valid code
const SENTINEL_F32_BITS: u32 = sentinel::F32_NAN_BITS; // a NaN no dequantization produces

/// At most this many failure messages are kept per file (the count is always reported).
const MAX_REPORTED: usize = 40;

#[derive(Debug, Clone)]
struct Case {
    name: String,
    method: ScaleMethod,
    scale_bits: u32,
    zero_point: i8,
    x: Vec<f32>,
    q: Vec<i8>,
    packed: Vec<u8>,
    y_bits: Vec<u32>,
}

#[derive(Debug, Clone)]
struct GroupCase {
    name: String,
    method: ScaleMethod,
    group_size: usize,
    x: Vec<f32>,
    scale_bits: Vec<u32>,
    zero_points: Vec<i8>,
    packed: Vec<u8>,
    y_bits: Vec<u32>,
}

// ------------------------------------------------------------------------------------------
// Parsing (panics with file:line on malformed data: the data is committed, not user input)
// ------------------------------------------------------------------------------------------

fn data_path(file: &str) -> PathBuf {
    common::golden::path("int4", file)
}

/// The non-comment, non-blank lines of a data file, with their 1-based line numbers.
fn data_lines(file: &str) -> Vec<(usize, String)> {
    let path = data_path(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

fn parse_method(s: &str, at: &str) -> ScaleMethod {
    match s {
        "minmax" => ScaleMethod::MinMax,
        "absmax" => ScaleMethod::AbsMax,
        _ => panic!("{at}: unknown method {s:?}"),
    }
}

fn parse_bits(s: &str, at: &str) -> u32 {
    assert_eq!(
        s.len(),
        8,
        "{at}: float bit pattern {s:?} is not 8 hex digits"
    );
    u32::from_str_radix(s, 16).unwrap_or_else(|e| panic!("{at}: bad hex {s:?}: {e}"))
}

fn parse_code(s: &str, at: &str) -> i8 {
    let v: i8 = s
        .parse()
        .unwrap_or_else(|e| panic!("{at}: bad integer {s:?}: {e}"));
    assert!(
        (-8..=7).contains(&v),
        "{at}: code/zero point {v} outside -8..7"
    );
    v
}

fn parse_usize(s: &str, at: &str) -> usize {
    s.parse()
        .unwrap_or_else(|e| panic!("{at}: bad count {s:?}: {e}"))
}

fn parse_hex_bytes(s: &str, at: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "{at}: odd-length hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .unwrap_or_else(|e| panic!("{at}: bad packed hex at {i}: {e}"))
        })
        .collect()
}

/// Splits a line into its `|`-separated sections of whitespace-separated tokens.
fn sections(line: &str) -> Vec<Vec<&str>> {
    line.split('|')
        .map(|sec| sec.split_whitespace().collect())
        .collect()
}

fn parse_per_tensor(file: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for (lineno, line) in data_lines(file) {
        let at = format!("{file}:{lineno}");
        let secs = sections(&line);
        assert_eq!(secs.len(), 4, "{at}: expected 4 '|'-separated sections");
        let head = &secs[0];
        assert!(head.len() >= 5, "{at}: short header");
        let name = head[0].to_string();
        let method = parse_method(head[1], &at);
        let n = parse_usize(head[2], &at);
        assert!(n >= 1, "{at}: n = 0");
        let scale_bits = parse_bits(head[3], &at);
        let zero_point = parse_code(head[4], &at);
        let x: Vec<f32> = head[5..]
            .iter()
            .map(|s| f32::from_bits(parse_bits(s, &at)))
            .collect();
        let q: Vec<i8> = secs[1].iter().map(|s| parse_code(s, &at)).collect();
        assert_eq!(secs[2].len(), 1, "{at}: packed section must be one token");
        let packed = parse_hex_bytes(secs[2][0], &at);
        let y_bits: Vec<u32> = secs[3].iter().map(|s| parse_bits(s, &at)).collect();
        assert_eq!(x.len(), n, "{at}: {} inputs, n = {n}", x.len());
        assert_eq!(q.len(), n, "{at}: {} codes, n = {n}", q.len());
        assert_eq!(packed.len(), n.div_ceil(2), "{at}: packed length");
        assert_eq!(y_bits.len(), n, "{at}: {} outputs, n = {n}", y_bits.len());
        out.push(Case {
            name,
            method,
            scale_bits,
            zero_point,
            x,
            q,
            packed,
            y_bits,
        });
    }
    out
}

fn parse_groups(file: &str) -> Vec<GroupCase> {
    let mut out = Vec::new();
    for (lineno, line) in data_lines(file) {
        let at = format!("{file}:{lineno}");
        let secs = sections(&line);
        assert_eq!(secs.len(), 6, "{at}: expected 6 '|'-separated sections");
        let head = &secs[0];
        assert_eq!(head.len(), 4, "{at}: header is name method n group_size");
        let name = head[0].to_string();
        let method = parse_method(head[1], &at);
        let n = parse_usize(head[2], &at);
        let group_size = parse_usize(head[3], &at);
        assert!(n >= 1 && group_size >= 1, "{at}: n or group size 0");
        let x: Vec<f32> = secs[1]
            .iter()
            .map(|s| f32::from_bits(parse_bits(s, &at)))
            .collect();
        let scale_bits: Vec<u32> = secs[2].iter().map(|s| parse_bits(s, &at)).collect();
        let zero_points: Vec<i8> = secs[3].iter().map(|s| parse_code(s, &at)).collect();
        assert_eq!(secs[4].len(), 1, "{at}: packed section must be one token");
        let packed = parse_hex_bytes(secs[4][0], &at);
        let y_bits: Vec<u32> = secs[5].iter().map(|s| parse_bits(s, &at)).collect();
        let groups = n.div_ceil(group_size);
        assert_eq!(x.len(), n, "{at}: input count");
        assert_eq!(scale_bits.len(), groups, "{at}: scale count");
        assert_eq!(zero_points.len(), groups, "{at}: zero point count");
        assert_eq!(packed.len(), n.div_ceil(2), "{at}: packed length");
        assert_eq!(y_bits.len(), n, "{at}: output count");
        out.push(GroupCase {
            name,
            method,
            group_size,
            x,
            scale_bits,
            zero_points,
            packed,
            y_bits,
        });
    }
    out
}

// ------------------------------------------------------------------------------------------
// Checks
// ------------------------------------------------------------------------------------------

/// The first index where two sequences differ, for readable failure messages.
fn first_diff<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T]) -> String {
    if got.len() != want.len() {
        return format!("length {} != {}", got.len(), want.len());
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        Some(i) => format!(
            "first difference at {i}: got {:?}, want {:?}",
            got[i], want[i]
        ),
        None => "equal".to_string(),
    }
}

fn ensure_eq<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: &[T],
    want: &[T],
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {}", first_diff(got, want)))
    }
}

fn ensure_untouched<T: PartialEq + Copy + std::fmt::Debug>(
    what: &str,
    tail: &[T],
    sentinel: T,
) -> Result<(), String> {
    match tail.iter().position(|v| *v != sentinel) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}: wrote past n at slack index {i}: {:?}",
            tail[i]
        )),
    }
}

fn ensure_params(what: &str, got: Params, scale_bits: u32, zero_point: i8) -> Result<(), String> {
    if got.scale.to_bits() != scale_bits || got.zero_point != zero_point {
        return Err(format!(
            "{what}: params scale {:#010x} ({:e}) zp {}, want scale {:#010x} ({:e}) zp {}",
            got.scale.to_bits(),
            got.scale,
            got.zero_point,
            scale_bits,
            f32::from_bits(scale_bits),
            zero_point
        ));
    }
    Ok(())
}

fn new_f32_out(n: usize) -> Vec<f32> {
    vec![f32::from_bits(SENTINEL_F32_BITS); n]
}

/// Everything one per-tensor golden case pins, through the safe API.
fn check_case(c: &Case) -> Result<(), String> {
    let n = c.x.len();
    let want = Params {
        scale: f32::from_bits(c.scale_bits),
        zero_point: c.zero_point,
    };
    if packed_len(n) != c.packed.len() {
        return Err(format!("packed_len({n}) = {}", packed_len(n)));
    }

    // quantize_to_int4
    let mut q = vec![SENTINEL_I8; n + SLACK];
    let p =
        quantize_to_int4(&c.x, c.method, &mut q).map_err(|e| format!("quantize_to_int4: {e:?}"))?;
    ensure_params("quantize_to_int4", p, c.scale_bits, c.zero_point)?;
    ensure_eq("quantize_to_int4 codes", &q[..n], &c.q)?;
    ensure_untouched("quantize_to_int4", &q[n..], SENTINEL_I8)?;

    // pack_int4_to_int8 (from the golden codes)
    let mut packed = vec![SENTINEL_U8; c.packed.len() + SLACK];
    pack_int4_to_int8(&c.q, &mut packed).map_err(|e| format!("pack_int4_to_int8: {e:?}"))?;
    ensure_eq("pack_int4_to_int8", &packed[..c.packed.len()], &c.packed)?;
    ensure_untouched("pack_int4_to_int8", &packed[c.packed.len()..], SENTINEL_U8)?;

    // unpack_int8_to_int4, also with a longer source and a non-zero padding nibble
    let mut src = c.packed.clone();
    if n % 2 == 1 {
        if let Some(last) = src.last_mut() {
            *last |= 0xF0; // the padding nibble must be ignored
        }
    }
    src.push(0x77);
    let mut unpacked = vec![SENTINEL_I8; n];
    unpack_int8_to_int4(&c.packed, &mut unpacked)
        .map_err(|e| format!("unpack_int8_to_int4: {e:?}"))?;
    ensure_eq("unpack_int8_to_int4", &unpacked, &c.q)?;
    let mut unpacked = vec![SENTINEL_I8; n];
    unpack_int8_to_int4(&src, &mut unpacked)
        .map_err(|e| format!("unpack_int8_to_int4 (dirty padding): {e:?}"))?;
    ensure_eq("unpack_int8_to_int4 (dirty padding)", &unpacked, &c.q)?;

    // dequantize_from_int4 (golden codes and params)
    let mut y = new_f32_out(n);
    dequantize_from_int4(&c.q, want, &mut y).map_err(|e| format!("dequantize_from_int4: {e:?}"))?;
    ensure_eq("dequantize_from_int4 bits", &f32_bits(&y), &c.y_bits)?;

    // fused: quantize_to_int4_packed
    let mut packed = vec![SENTINEL_U8; c.packed.len() + SLACK];
    let p = quantize_to_int4_packed(&c.x, c.method, &mut packed)
        .map_err(|e| format!("quantize_to_int4_packed: {e:?}"))?;
    ensure_params("quantize_to_int4_packed", p, c.scale_bits, c.zero_point)?;
    ensure_eq(
        "quantize_to_int4_packed bytes",
        &packed[..c.packed.len()],
        &c.packed,
    )?;
    ensure_untouched(
        "quantize_to_int4_packed",
        &packed[c.packed.len()..],
        SENTINEL_U8,
    )?;

    // fused: dequantize_from_int4_packed, exact source and dirty/longer source
    for (label, source) in [("", &c.packed), (" (dirty padding)", &src)] {
        let mut y = new_f32_out(n);
        dequantize_from_int4_packed(source, want, &mut y)
            .map_err(|e| format!("dequantize_from_int4_packed{label}: {e:?}"))?;
        ensure_eq(
            &format!("dequantize_from_int4_packed{label} bits"),
            &f32_bits(&y),
            &c.y_bits,
        )?;
    }

    // group-wise with one group (group_size = n) equals per-tensor
    if group_count(n, n) != 1 {
        return Err(format!("group_count({n}, {n}) = {}", group_count(n, n)));
    }
    let zp_lens: &[usize] = match c.method {
        ScaleMethod::AbsMax => &[1, 0], // zero points are optional for absmax
        _ => &[1],
    };
    for &zl in zp_lens {
        let what = format!("quantize_int4_groups(group_size = n, {zl} zero points)");
        let mut codes = vec![SENTINEL_U8; c.packed.len() + SLACK];
        let mut scales = [f32::from_bits(SENTINEL_F32_BITS); 1 + SLACK];
        let mut zps = vec![SENTINEL_I8; zl];
        quantize_int4_groups(&c.x, n, c.method, &mut codes, &mut scales, &mut zps)
            .map_err(|e| format!("{what}: {e:?}"))?;
        let zp = zps.first().copied().unwrap_or(0);
        let got = Params {
            scale: scales[0],
            zero_point: zp,
        };
        ensure_params(&what, got, c.scale_bits, c.zero_point)?;
        ensure_eq(
            &format!("{what} codes"),
            &codes[..c.packed.len()],
            &c.packed,
        )?;
        ensure_untouched(&what, &codes[c.packed.len()..], SENTINEL_U8)?;
        ensure_untouched(&what, &f32_bits(&scales[1..]), SENTINEL_F32_BITS)?;

        let what = format!("dequantize_int4_groups(group_size = n, {zl} zero points)");
        let dzps: Vec<i8> = vec![c.zero_point; zl];
        let mut y = new_f32_out(n);
        dequantize_int4_groups(&c.packed, n, &[want.scale], &dzps, &mut y)
            .map_err(|e| format!("{what}: {e:?}"))?;
        ensure_eq(&format!("{what} bits"), &f32_bits(&y), &c.y_bits)?;
    }
    Ok(())
}

/// Everything one group-wise golden case pins.
fn check_group_case(c: &GroupCase) -> Result<(), String> {
    let n = c.x.len();
    let g = c.scale_bits.len();
    if group_count(n, c.group_size) != g {
        return Err(format!(
            "group_count({n}, {}) = {}, want {g}",
            c.group_size,
            group_count(n, c.group_size)
        ));
    }
    let zp_lens: &[usize] = match c.method {
        ScaleMethod::AbsMax => &[g, 0],
        _ => &[g],
    };
    for &zl in zp_lens {
        let what = format!("quantize_int4_groups({zl} zero points)");
        let mut codes = vec![SENTINEL_U8; c.packed.len() + SLACK];
        let mut scales = vec![f32::from_bits(SENTINEL_F32_BITS); g + SLACK];
        let mut zps = vec![SENTINEL_I8; zl + if zl > 0 { SLACK } else { 0 }];
        quantize_int4_groups(
            &c.x,
            c.group_size,
            c.method,
            &mut codes,
            &mut scales,
            &mut zps,
        )
        .map_err(|e| format!("{what}: {e:?}"))?;
        ensure_eq(
            &format!("{what} scale bits"),
            &f32_bits(&scales[..g]),
            &c.scale_bits,
        )?;
        ensure_untouched(&what, &f32_bits(&scales[g..]), SENTINEL_F32_BITS)?;
        if zl > 0 {
            ensure_eq(&format!("{what} zero points"), &zps[..g], &c.zero_points)?;
            ensure_untouched(&what, &zps[g..], SENTINEL_I8)?;
        }
        ensure_eq(
            &format!("{what} codes"),
            &codes[..c.packed.len()],
            &c.packed,
        )?;
        ensure_untouched(&what, &codes[c.packed.len()..], SENTINEL_U8)?;

        let what = format!("dequantize_int4_groups({zl} zero points)");
        let scales: Vec<f32> = c.scale_bits.iter().map(|b| f32::from_bits(*b)).collect();
        let mut y = new_f32_out(n);
        dequantize_int4_groups(
            &c.packed,
            c.group_size,
            &scales,
            &c.zero_points[..zl],
            &mut y,
        )
        .map_err(|e| format!("{what}: {e:?}"))?;
        ensure_eq(&format!("{what} bits"), &f32_bits(&y), &c.y_bits)?;
    }
    Ok(())
}

fn run_file(file: &str, min_cases: usize) {
    let cases = parse_per_tensor(file);
    assert!(
        cases.len() >= min_cases,
        "{file}: only {} cases, expected at least {min_cases}",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check_case(c)
                .err()
                .map(|e| format!("{} (n = {}): {e}", c.name, c.x.len()))
        })
        .collect();
    report(file, cases.len(), &failures);
}

fn report(file: &str, total: usize, failures: &[String]) {
    if !failures.is_empty() {
        let shown: Vec<&str> = failures
            .iter()
            .take(MAX_REPORTED)
            .map(|s| s.as_str())
            .collect();
        panic!(
            "{file}: {} of {total} golden cases failed:\n  {}",
            failures.len(),
            shown.join("\n  ")
        );
    }
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[test]
fn golden_seed_example() {
    run_file("seed.txt", 4);
}

#[test]
fn golden_ties() {
    run_file("ties.txt", 30);
}

#[test]
fn golden_special_values() {
    run_file("special.txt", 100);
}

#[test]
fn golden_division_traps() {
    run_file("traps.txt", 6);
}

#[test]
fn golden_random_lengths_1_to_70() {
    run_file("random_small.txt", 140);
}

#[test]
fn golden_random_large() {
    run_file("random_large.txt", 4);
}

#[test]
fn golden_groups() {
    let file = "groups.txt";
    let cases = parse_groups(file);
    assert!(cases.len() >= 20, "{file}: only {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check_group_case(c).err().map(|e| {
                format!(
                    "{} (n = {}, group_size = {}): {e}",
                    c.name,
                    c.x.len(),
                    c.group_size
                )
            })
        })
        .collect();
    report(file, cases.len(), &failures);
}

/// The seed example's codes, hard-coded from the generator's output, so a data file emptied or
/// regenerated wrongly cannot silently pass.
#[test]
fn seed_example_is_pinned() {
    let cases = parse_per_tensor("seed.txt");
    let minmax = cases
        .iter()
        .find(|c| c.name == "seed_example_minmax")
        .expect("seed_example_minmax case");
    assert_eq!(minmax.q, [-1, 0, -3, 3, 5, -2, 7, -8]);
    assert_eq!(minmax.zero_point, -1);
    assert_eq!(minmax.scale_bits, 0x3f28_f5c2);
    assert_eq!(minmax.packed, [0x0f, 0x3d, 0xe5, 0x87]);
    let absmax = cases
        .iter()
        .find(|c| c.name == "seed_example_absmax")
        .expect("seed_example_absmax case");
    assert_eq!(absmax.q, [0, 1, -2, 4, 5, -1, 7, -6]);
    assert_eq!(absmax.zero_point, 0);
    assert_eq!(absmax.scale_bits, 0x3f3e_2be2);
}

/// The checker must be able to fail: one flipped bit in any golden quantity is reported.
#[test]
fn checker_detects_corrupted_goldens() {
    let cases = parse_per_tensor("seed.txt");
    let good = cases
        .iter()
        .find(|c| c.name == "seed_example_minmax")
        .expect("seed_example_minmax case");
    assert_eq!(check_case(good), Ok(()));

    let mut c = good.clone();
    c.scale_bits ^= 1;
    assert!(check_case(&c).is_err(), "a wrong scale bit went unnoticed");
    let mut c = good.clone();
    c.zero_point += 1;
    assert!(check_case(&c).is_err(), "a wrong zero point went unnoticed");
    let mut c = good.clone();
    c.q[2] += 1;
    assert!(check_case(&c).is_err(), "a wrong code went unnoticed");
    let mut c = good.clone();
    c.packed[1] ^= 0x10;
    assert!(
        check_case(&c).is_err(),
        "a wrong packed byte went unnoticed"
    );
    let mut c = good.clone();
    c.y_bits[5] ^= 1;
    assert!(
        check_case(&c).is_err(),
        "a wrong dequantized bit went unnoticed"
    );

    let groups = parse_groups("groups.txt");
    let good = groups.first().expect("a group case");
    assert_eq!(check_group_case(good), Ok(()));
    let mut c = good.clone();
    c.scale_bits[0] ^= 1;
    assert!(
        check_group_case(&c).is_err(),
        "a wrong group scale went unnoticed"
    );
    let mut c = good.clone();
    let last = c.y_bits.len() - 1;
    c.y_bits[last] ^= 1;
    assert!(
        check_group_case(&c).is_err(),
        "a wrong group output went unnoticed"
    );
}
