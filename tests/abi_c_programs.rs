//! Compiles the C programs in `examples-c/` (for readers) and `tests/c/` (test suites) with
//! `-std=c99 -Wall -Wextra -Wpedantic -Werror`, links each against the built static library and
//! against the shared library, runs them and checks their exit status and output. See `tests/common/mod.rs` for how the libraries and the
//! compiler are found.

mod common;

use common::{build, c_test_source, example_source, libraries, require_header, run_ok, Lang, Link};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn build_example(file: &str, link: Link) -> PathBuf {
    require_header();
    let stem = file.trim_end_matches(".c");
    build(stem, &[example_source(file)], Lang::C99, link, &[])
}

fn build_c_test(file: &str, link: Link) -> PathBuf {
    require_header();
    let stem = file.trim_end_matches(".c");
    build(stem, &[c_test_source(file)], Lang::C99, link, &[])
}

// ---------------------------------------------------------------------------------------------
// seed_example.c

/// `name: v1 v2 ...` lines (`#` lines are comments).
fn parse_named_lines(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((name, values)) = line.split_once(':') {
            let values = values.split_whitespace().map(str::to_string).collect();
            map.insert(name.trim().to_string(), values);
        }
    }
    map
}

fn floats32(map: &BTreeMap<String, Vec<String>>, key: &str) -> Vec<f32> {
    values(map, key)
        .iter()
        .map(|v| {
            v.parse::<f32>()
                .unwrap_or_else(|e| panic!("{key}: {v:?} is not a float: {e}"))
        })
        .collect()
}

fn floats64(map: &BTreeMap<String, Vec<String>>, key: &str) -> Vec<f64> {
    values(map, key)
        .iter()
        .map(|v| {
            v.parse::<f64>()
                .unwrap_or_else(|e| panic!("{key}: {v:?} is not a float: {e}"))
        })
        .collect()
}

fn ints(map: &BTreeMap<String, Vec<String>>, key: &str) -> Vec<i64> {
    values(map, key)
        .iter()
        .map(|v| {
            v.parse::<i64>()
                .unwrap_or_else(|e| panic!("{key}: {v:?} is not an integer: {e}"))
        })
        .collect()
}

fn bytes(map: &BTreeMap<String, Vec<String>>, key: &str) -> Vec<u8> {
    values(map, key)
        .iter()
        .map(|v| {
            // "0x%02x" here, decimal "%u" in the numpy reference
            match v.strip_prefix("0x") {
                Some(hex) => u8::from_str_radix(hex, 16),
                None => v.parse::<u8>(),
            }
            .unwrap_or_else(|e| panic!("{key}: {v:?} is not a byte: {e}"))
        })
        .collect()
}

fn values<'a>(map: &'a BTreeMap<String, Vec<String>>, key: &str) -> &'a [String] {
    map.get(key)
        .unwrap_or_else(|| panic!("no `{key}:` line; lines: {:?}", map.keys()))
}

fn assert_f32_bits_eq(got: &[f32], want: &[f32], what: &str) {
    let g: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
    let w: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        g, w,
        "{what}: got {got:?}, expected {want:?} (compared bit for bit)"
    );
}

fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        let ok = g == w || (g - w).abs() <= rel * g.abs().max(w.abs()) + 1e-30;
        assert!(
            ok,
            "{what}: got {got:?}, expected {want:?} (relative tolerance {rel})"
        );
    }
}

/// The seed example's expected values, worked out by hand from docs/contract.md §2 (the integer
/// codes and packed bytes) and computed here in f32 with the §2 formulas (scale and dequantized
/// values), independently of the library.
struct SeedExpected {
    scale: f32,
    zero_point: i64,
    quantized: [i64; 8],
    packed: [u8; 4],
}

const SEED_VALUES: [f32; 8] = [0.1, 0.5, -1.3, 2.7, 3.9, -0.8, 5.2, -4.7];

fn seed_expected_minmax() -> SeedExpected {
    // minmax: lo = min(0, min x) = -4.7, hi = max(0, max x) = 5.2.
    //   scale = (5.2 - (-4.7)) / 15 in float32 = 9.9 / 15 ~= 0.66
    //   zero_point = rne(-8 - lo / scale) = rne(-8 + 4.7 / 0.66) = rne(-8 + 7.1212) = rne(-0.879)
    //              = -1
    //   q = clamp(rne(x / scale) + zero_point, -8, 7):
    //      0.1 / 0.66 =  0.152 ->  0 -> -1        3.9 / 0.66 =  5.909 ->  6 ->  5
    //      0.5 / 0.66 =  0.758 ->  1 ->  0       -0.8 / 0.66 = -1.212 -> -1 -> -2
    //     -1.3 / 0.66 = -1.970 -> -2 -> -3        5.2 / 0.66 =  7.879 ->  8 ->  7
    //      2.7 / 0.66 =  4.091 ->  4 ->  3       -4.7 / 0.66 = -7.121 -> -7 -> -8
    //   packed (low nibble first, two's complement): (-1, 0) -> 0x0f, (-3, 3) -> 0x3d,
    //   (5, -2) -> 0xe5, (7, -8) -> 0x87
    let lo = -4.7f32;
    let hi = 5.2f32;
    SeedExpected {
        scale: (hi - lo) / 15.0,
        zero_point: -1,
        quantized: [-1, 0, -3, 3, 5, -2, 7, -8],
        packed: [0x0f, 0x3d, 0xe5, 0x87],
    }
}

fn seed_expected_absmax() -> SeedExpected {
    // absmax: a = max |x| = 5.2, scale = 5.2 / 7 ~= 0.742857 in float32, zero_point = 0,
    //   q = clamp(rne(x / scale), -8, 7):
    //      0.1 -> 0.135 -> 0     2.7 -> 3.635 -> 4     5.2 -> 7.000 -> 7 (either side of 7)
    //      0.5 -> 0.673 -> 1     3.9 -> 5.250 -> 5    -4.7 -> -6.327 -> -6
    //     -1.3 -> -1.750 -> -2  -0.8 -> -1.077 -> -1
    //   (3.9 / 0.742857 is 5.2500004 or 5.2499995 in float32, not a tie either way)
    //   packed: (0, 1) -> 0x10, (-2, 4) -> 0x4e, (5, -1) -> 0xf5, (7, -6) -> 0xa7
    SeedExpected {
        scale: 5.2f32 / 7.0,
        zero_point: 0,
        quantized: [0, 1, -2, 4, 5, -1, 7, -6],
        packed: [0x10, 0x4e, 0xf5, 0xa7],
    }
}

/// The label lines that open the two blocks of the seed example's output.
const SEED_LABELS: [&str; 2] = [
    "# minmax (QUANTIZE_SCALE_MINMAX, the seed's default)",
    "# absmax (QUANTIZE_SCALE_ABSMAX)",
];

fn check_seed_output_against_hand_derived_values(stdout: &str) {
    // each block is labelled: the minmax block on the first line, the absmax block before its
    // first line
    assert_eq!(stdout.lines().next(), Some(SEED_LABELS[0]), "first line");
    let absmax_label = stdout.lines().position(|l| l == SEED_LABELS[1]);
    let absmax_first = stdout.lines().position(|l| l.starts_with("absmax_"));
    assert!(
        absmax_label.is_some() && absmax_label.map(|i| i + 1) == absmax_first,
        "no {:?} line right before the absmax block",
        SEED_LABELS[1]
    );
    let map = parse_named_lines(stdout);
    for (prefix, want) in [
        ("", seed_expected_minmax()),
        ("absmax_", seed_expected_absmax()),
    ] {
        let key = |k: &str| format!("{prefix}{k}");
        assert_f32_bits_eq(
            &floats32(&map, &key("original")),
            &SEED_VALUES,
            &key("original"),
        );
        assert_eq!(
            ints(&map, &key("quantized")),
            want.quantized,
            "{}",
            key("quantized")
        );
        assert_f32_bits_eq(&floats32(&map, &key("scale")), &[want.scale], &key("scale"));
        assert_eq!(
            ints(&map, &key("zero_point")),
            [want.zero_point],
            "{}",
            key("zero_point")
        );
        assert_eq!(
            bytes(&map, &key("packed")),
            want.packed,
            "{}",
            key("packed")
        );
        assert_eq!(
            ints(&map, &key("unpacked")),
            want.quantized,
            "{}",
            key("unpacked")
        );
        // y = (float)(q - zero_point) * scale: one float32 multiplication
        let dequantized: Vec<f32> = want
            .quantized
            .iter()
            .map(|&q| (q - want.zero_point) as f32 * want.scale)
            .collect();
        assert_f32_bits_eq(
            &floats32(&map, &key("dequantized")),
            &dequantized,
            &key("dequantized"),
        );
        // error = x - y, exact in double; the mean is a sum of 8 terms: order matters little
        let error: Vec<f64> = SEED_VALUES
            .iter()
            .zip(&dequantized)
            .map(|(&x, &y)| f64::from(x) - f64::from(y))
            .collect();
        // printed with 9 significant digits
        assert_close(&floats64(&map, &key("error")), &error, 1e-8, &key("error"));
        let mean = error.iter().map(|e| e.abs()).sum::<f64>() / 8.0;
        let max = error.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        assert_close(
            &floats64(&map, &key("mean_abs_error")),
            &[mean],
            1e-8,
            &key("mean_abs_error"),
        );
        assert_close(
            &floats64(&map, &key("max_abs_error")),
            &[max],
            1e-8,
            &key("max_abs_error"),
        );
        // the invariant of §2: |x - y| <= scale / 2 (plus rounding)
        assert!(
            max <= f64::from(want.scale) / 2.0 * (1.0 + 1e-6),
            "{}: {max} > scale / 2",
            key("max_abs_error")
        );
    }
}

#[test]
fn seed_example_linked_statically_matches_values_derived_by_hand_from_design_rules() {
    let exe = build_example("seed_example.c", Link::Static);
    check_seed_output_against_hand_derived_values(&run_ok(&exe, &[]));
}

#[test]
fn seed_example_linked_dynamically_matches_values_derived_by_hand_from_design_rules() {
    let exe = build_example("seed_example.c", Link::Shared);
    check_seed_output_against_hand_derived_values(&run_ok(&exe, &[]));
}

/// The numpy reference (tests/data/int4/seed_example.txt, made by scripts/gen_int4_vectors.py):
/// every quantity it lists must be in the program's output with the same values. Its names are
/// `original`, `minmax.<name>` and `absmax.<name>`; the program prints `<name>` for minmax (the
/// seed's default) and `absmax_<name>`. Integers and bytes must match exactly, float32
/// quantities bit for bit, and error values (double here, possibly float32 in numpy) to a
/// relative 1e-6.
#[test]
fn seed_example_output_matches_independent_numpy_reference_file() {
    let reference = common::golden::path("int4", "seed_example.txt");
    let text = std::fs::read_to_string(&reference)
        .unwrap_or_else(|e| panic!("{}: {e}", reference.display()));
    let want = parse_named_lines(&text);
    assert!(
        want.len() >= 19,
        "{} lists only {:?}",
        reference.display(),
        want.keys()
    );
    for link in [Link::Static, Link::Shared] {
        let exe = build_example("seed_example.c", link);
        let got = parse_named_lines(&run_ok(&exe, &[]));
        for key in want.keys() {
            let (ours, base) = if let Some(b) = key.strip_prefix("minmax.") {
                (b.to_string(), b)
            } else if let Some(b) = key.strip_prefix("absmax.") {
                (format!("absmax_{b}"), b)
            } else {
                (key.clone(), key.as_str())
            };
            let what = format!("{key} / {ours} ({link:?})");
            let (g, w) = (&got, &want);
            match base {
                "quantized" | "zero_point" | "unpacked" | "max_abs_index" => {
                    assert_eq!(ints(g, &ours), ints(w, key), "{what}")
                }
                "packed" => assert_eq!(bytes(g, &ours), bytes(w, key), "{what}"),
                "original" | "scale" | "dequantized" => {
                    assert_f32_bits_eq(&floats32(g, &ours), &floats32(w, key), &what)
                }
                _ => assert_close(&floats64(g, &ours), &floats64(w, key), 1e-6, &what),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// roundtrip.c

fn check_roundtrip_summary(stdout: &str) {
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("roundtrip: ") && last.ends_with(" 0 failures"),
        "unexpected last line {last:?}"
    );
    // every length of the brief was run, both methods, every group size
    for n in [1, 2, 3, 15, 16, 17, 31, 33, 1000, 100001] {
        for method in ["minmax", "absmax"] {
            let head = format!("n={n} kind=uniform method={method} ");
            assert!(stdout.contains(&head), "no line starting {head:?}");
        }
    }
    for gs in [1, 2, 7, 32, 64, 128, 100001, 100006] {
        let head = format!("  group_size={gs} ");
        assert!(stdout.contains(&head), "no line starting {head:?}");
    }
}

#[test]
fn roundtrip_linked_statically_is_accurate_consistent_and_identical_at_every_simd_level() {
    let exe = build_example("roundtrip.c", Link::Static);
    let best = run_ok(&exe, &[]);
    check_roundtrip_summary(&best);
    // the statistics and the checksum of every code and scale must not depend on the kernel
    let scalar = run_ok(&exe, &[("QUANTIZE_MAX_ISA", "scalar")]);
    assert!(
        best == scalar,
        "roundtrip output differs between the default SIMD level and QUANTIZE_MAX_ISA=scalar; \
         first difference: {:?}",
        best.lines().zip(scalar.lines()).find(|(a, b)| a != b)
    );
}

#[test]
fn roundtrip_linked_dynamically_is_accurate_and_consistent() {
    let exe = build_example("roundtrip.c", Link::Shared);
    check_roundtrip_summary(&run_ok(&exe, &[]));
}

// ---------------------------------------------------------------------------------------------
// tests/c/errors.c

fn check_errors_output(stdout: &str) {
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("errors: ") && last.ends_with(" 0 failures"),
        "unexpected last line {last:?}"
    );
    for family in ["blocks", "codebooks"] {
        assert!(
            stdout.lines().any(|l| l == format!("{family}: tested")),
            "errors.c did not report testing the {family}"
        );
    }
    // the library reports the crate's version, through the functions and the macros
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().expect("major");
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().expect("minor");
    let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().expect("patch");
    let version = format!("{major}.{minor}.{patch}");
    let number = major * 10000 + minor * 100 + patch;
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&format!("version: {version}").as_str()),
        "no `version: {version}` line"
    );
    assert!(
        lines.contains(&format!("version_number: {number}").as_str()),
        "no `version_number: {number}` line"
    );
    assert!(
        lines.contains(&format!("version_macros: {version} {number}").as_str()),
        "no `version_macros: {version} {number}` line"
    );
}

#[test]
fn errors_linked_statically_provokes_every_status_in_design_check_order_without_writing_outputs() {
    let exe = build_c_test("errors.c", Link::Static);
    check_errors_output(&run_ok(&exe, &[]));
}

#[test]
fn errors_linked_dynamically_provokes_every_status_in_design_check_order_without_writing_outputs() {
    let exe = build_c_test("errors.c", Link::Shared);
    check_errors_output(&run_ok(&exe, &[]));
}

#[test]
fn errors_reports_scalar_kernel_when_max_isa_is_lowered_to_scalar() {
    let exe = build_c_test("errors.c", Link::Static);
    let stdout = run_ok(&exe, &[("QUANTIZE_MAX_ISA", "scalar")]);
    check_errors_output(&stdout);
    assert!(
        stdout.lines().any(|l| l == "kernel: scalar"),
        "QUANTIZE_MAX_ISA=scalar did not select the scalar kernel:\n{}",
        stdout
            .lines()
            .filter(|l| l.starts_with("kernel"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// error_handling.c

/// The reader's error example prints the NULL_POINTER status and its message, then the
/// successful call's message, scale and zero point: the library's own strings and values.
fn check_error_handling_output(stdout: &str) {
    let message = |s: i32| {
        // SAFETY: quantize_status_message returns a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(quantize::ffi::quantize_status_message(s)) }
            .to_str()
            .expect("UTF-8 message")
            .to_string()
    };
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "unexpected output:\n{stdout}");
    assert_eq!(
        lines[0],
        format!(
            "quantize_to_int4: {} ({})",
            message(quantize::ffi::QUANTIZE_ERR_NULL_POINTER),
            quantize::ffi::QUANTIZE_ERR_NULL_POINTER
        )
    );
    let mut codes = [0i8; 3];
    let p = quantize::int4::quantize_to_int4(
        &[0.5, -1.0, 2.0],
        quantize::int4::ScaleMethod::MinMax,
        &mut codes,
    )
    .expect("the example's input quantizes");
    let rest = lines[1]
        .strip_prefix(&format!(
            "quantize_to_int4: {}, scale ",
            message(quantize::ffi::QUANTIZE_OK)
        ))
        .unwrap_or_else(|| panic!("unexpected second line {:?}", lines[1]));
    let (scale, zp) = rest
        .split_once(", zero point ")
        .unwrap_or_else(|| panic!("unexpected second line {:?}", lines[1]));
    let scale: f64 = scale.parse().expect("scale");
    // %g prints 6 significant digits
    assert!(
        (scale - f64::from(p.scale)).abs() <= 1e-6 * f64::from(p.scale).abs(),
        "scale {scale} != {}",
        p.scale
    );
    assert_eq!(zp.parse::<i8>().expect("zero point"), p.zero_point);
}

#[test]
fn error_handling_example_prints_the_status_messages_linked_statically() {
    let exe = build_example("error_handling.c", Link::Static);
    check_error_handling_output(&run_ok(&exe, &[]));
}

#[test]
fn error_handling_example_prints_the_status_messages_linked_dynamically() {
    let exe = build_example("error_handling.c", Link::Shared);
    check_error_handling_output(&run_ok(&exe, &[]));
}

#[test]
fn libraries_under_test_are_the_ones_this_cargo_invocation_built() {
    let libs = libraries();
    for lib in [&libs.static_lib, &libs.shared_lib] {
        assert!(
            lib.is_file(),
            "{} is not a file ({})",
            lib.display(),
            libs.origin
        );
    }
    eprintln!(
        "static: {}\nshared: {}\n({})",
        libs.static_lib.display(),
        libs.shared_lib.display(),
        libs.origin
    );
}
