//! Shared pieces of libquantize's fuzz targets: structured input ([`draw`]), C-style buffers
//! ([`mem`]), the contract's check order ([`expect`]) and independent references ([`oracle`]).
//!
//! Every target calls the `extern "C"` functions of `quantize::ffi` the way a C program does,
//! with raw pointers into buffers allocated here, and asserts the contract on every input. Its
//! main call runs under every SIMD level this CPU has ([`at_every_level`]), which must all
//! return exactly what the best one does.
//!
//! Needs `--cfg fuzzing` (cargo-fuzz passes it), which gives the library its `fuzzing` hook.

pub mod draw;
pub mod expect;
pub mod half;
pub mod mem;
pub mod oracle;

/// Status codes, written out from docs/contract.md §3.4 (not taken from the library).
pub mod status {
    pub const OK: i32 = 0;
    pub const NULL_POINTER: i32 = 1;
    pub const INVALID_ARGUMENT: i32 = 2;
    pub const EMPTY_INPUT: i32 = 3;
    pub const NON_FINITE: i32 = 4;
    pub const BUFFER_TOO_SMALL: i32 = 5;
    pub const VALUE_OUT_OF_RANGE: i32 = 6;
    pub const LENGTH: i32 = 7;
    pub const MISALIGNED: i32 = 8;
    pub const OVERLAP: i32 = 9;
    pub const INTERNAL: i32 = 99;
}

/// FNV-1a, 64 bits.
pub fn fnv(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One fuzz input being run: its choices.
pub struct Case<'a> {
    pub d: draw::Draw<'a>,
}

impl<'a> Case<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Case {
            d: draw::Draw::new(data),
        }
    }
}

/// The SIMD levels every call is compared under, best first, scalar last: those this CPU can
/// run, at or below QUANTIZE_MAX_ISA's cap (`quantize::fuzzing::level_names`). With
/// QUANTIZE_FUZZ_LEVELS=best only the first (no comparison; for a faster pass).
pub fn levels() -> &'static [&'static str] {
    static LEVELS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    LEVELS.get_or_init(|| {
        let mut v = quantize::fuzzing::level_names();
        match std::env::var("QUANTIZE_FUZZ_LEVELS").as_deref() {
            Ok("best") => v.truncate(1),
            Ok("all") | Err(_) => {}
            Ok(other) => panic!("QUANTIZE_FUZZ_LEVELS={other}: expected all or best"),
        }
        assert_eq!(v.first().copied(), Some(kernel_name().as_str()));
        for &level in &v {
            let name = quantize::fuzzing::with_level(level, kernel_name);
            assert_eq!(
                name, level,
                "quantize_kernel_name() under with_level({level:?})"
            );
        }
        // scripts/fuzz_smoke.sh looks for this line.
        eprintln!("quantize_fuzz: SIMD levels compared: {}", v.join(" "));
        v
    })
}

/// Makes one C call on `mem`'s buffers under every level of [`levels`] and asserts that every
/// level returns the same status and leaves every byte of every allocation (outputs, inputs,
/// guard bytes) exactly as the first (best) level does; a difference panics naming both
/// levels, the call and the first differing byte. `before` is `mem.snapshot()` taken just
/// before: each level starts from it. Returns the first level's status, with `mem` as that
/// level left it, so the target's checks that follow (statuses, untouched bytes, references,
/// round trips) run once, on the best level's results; the other levels equal them.
///
/// Only the target's main call goes through here; the extra calls its checks make (round trips,
/// unfused forms, one-block calls) run once, at the best level.
pub fn at_every_level(
    what: &str,
    mem: &mem::Mem,
    before: &mem::Snapshot,
    f: impl Fn() -> i32,
) -> i32 {
    let levels = levels();
    let first = levels[0];
    let got = quantize::fuzzing::with_level(first, &f);
    if levels.len() == 1 {
        return got;
    }
    let after = mem.snapshot();
    for &level in &levels[1..] {
        mem.restore(before);
        let st = quantize::fuzzing::with_level(level, &f);
        assert_eq!(
            got, st,
            "SIMD levels differ: {what} returned status {got} under {first} but {st} under {level}"
        );
        for (k, ((_, a), (_, b))) in after.iter().zip(mem.snapshot()).enumerate() {
            if *a != b {
                let j = (0..a.len()).find(|&j| a[j] != b[j]).unwrap_or(0);
                panic!(
                    "SIMD levels differ: after {what} (status {got}), byte {j} of allocation {k} \
                     is {:#04x} under {first} but {:#04x} under {level}",
                    a[j], b[j]
                );
            }
        }
    }
    mem.restore(&after);
    got
}

/// Asserts a status, naming the call.
#[track_caller]
pub fn assert_status(got: i32, want: i32, what: &str) {
    assert_ne!(
        got,
        status::INTERNAL,
        "{what}: a panic was caught inside the library"
    );
    assert_eq!(
        got, want,
        "{what}: status {got}, the contract's check order gives {want}"
    );
}

/// The SIMD level in use, as the C function reports it.
pub fn kernel_name() -> String {
    // SAFETY: the function returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(quantize::ffi::quantize_kernel_name()) }
        .to_string_lossy()
        .into_owned()
}

/// The constants the targets assume equal the library's (checked once per process).
pub fn check_constants() {
    use quantize::ffi as f;
    use status::*;
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        assert_eq!(
            [
                f::QUANTIZE_OK,
                f::QUANTIZE_ERR_NULL_POINTER,
                f::QUANTIZE_ERR_INVALID_ARGUMENT,
                f::QUANTIZE_ERR_EMPTY_INPUT,
                f::QUANTIZE_ERR_NON_FINITE,
                f::QUANTIZE_ERR_BUFFER_TOO_SMALL,
                f::QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
                f::QUANTIZE_ERR_LENGTH,
                f::QUANTIZE_ERR_MISALIGNED,
                f::QUANTIZE_ERR_OVERLAP,
                f::QUANTIZE_ERR_INTERNAL
            ],
            [
                OK,
                NULL_POINTER,
                INVALID_ARGUMENT,
                EMPTY_INPUT,
                NON_FINITE,
                BUFFER_TOO_SMALL,
                VALUE_OUT_OF_RANGE,
                LENGTH,
                MISALIGNED,
                OVERLAP,
                INTERNAL
            ]
        );
        let name = kernel_name();
        assert!(
            ["scalar", "avx2", "avx512", "neon"].contains(&name.as_str()),
            "{name}"
        );
        if let Ok(cap) = std::env::var("QUANTIZE_MAX_ISA") {
            if cap.eq_ignore_ascii_case("scalar") {
                assert_eq!(
                    name, "scalar",
                    "QUANTIZE_MAX_ISA=scalar must select the scalar level"
                );
            }
        }
    });
}

/// n values whose byte size exceeds isize::MAX (check 1 of docs/contract.md §4.6), for a
/// `size`-byte element.
pub fn huge_n(d: &mut draw::Draw, size: usize) -> usize {
    let first_bad = (isize::MAX as usize) / size + 1;
    match d.byte() % 4 {
        0 => first_bad,
        1 => usize::MAX,
        2 => first_bad + d.range(0, 1 << 20) * 32,
        _ => usize::MAX - d.range(0, 1 << 20),
    }
}
