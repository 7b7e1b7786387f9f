//! Shared pieces of libquantize's fuzz targets: structured input ([`draw`]), C-style buffers
//! ([`mem`]), the contract's check order ([`expect`]) and independent references ([`oracle`]).
//!
//! Every target calls the `extern "C"` functions of `quantize::ffi` the way a C program does,
//! with raw pointers into buffers allocated here, and asserts the contract on every input.

pub mod draw;
pub mod expect;
pub mod mem;
pub mod oracle;

use std::io::Write;

/// Status codes, written out from DESIGN.md §3 (not taken from the library).
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

/// One fuzz input being run: its choices, and a digest of everything the library returned.
///
/// The digest is for comparing SIMD levels. The level is fixed per process (QUANTIZE_MAX_ISA),
/// so `scripts/fuzz_smoke.sh` replays the same corpus under each level with the environment
/// variable QUANTIZE_FUZZ_DIGEST naming a file; every input then appends one line
/// "<hash of input> <hash of all statuses and buffer contents after the calls>", and the files
/// of the levels must be equal once sorted (the level used is written to "<file>.kernel").
/// Without the variable nothing is written.
pub struct Case<'a> {
    pub d: draw::Draw<'a>,
    input: u64,
    obs: u64,
}

impl<'a> Case<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Case {
            d: draw::Draw::new(data),
            input: fnv(data),
            obs: 0xcbf2_9ce4_8422_2325,
        }
    }

    /// Whether a digest is being written (QUANTIZE_FUZZ_DIGEST is set).
    pub fn digesting() -> bool {
        digest_path().is_some()
    }

    /// Adds bytes to the observation digest (only when digesting: it costs time).
    pub fn observe(&mut self, bytes: &[u8]) {
        if !Self::digesting() {
            return;
        }
        for &b in bytes {
            self.obs ^= u64::from(b);
            self.obs = self.obs.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Adds a status and every allocation of `mem` to the digest.
    pub fn observe_call(&mut self, status: i32, mem: &mem::Mem) {
        if !Self::digesting() {
            return;
        }
        self.observe(&status.to_le_bytes());
        for (_, b) in mem.snapshot() {
            self.observe(&b);
        }
    }

    /// Writes the digest line if QUANTIZE_FUZZ_DIGEST is set.
    pub fn finish(self) {
        if let Some(p) = digest_path() {
            static LEVEL: std::sync::Once = std::sync::Once::new();
            LEVEL.call_once(|| {
                std::fs::write(format!("{p}.kernel"), kernel_name()).expect("write the level file");
            });
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("open the digest file");
            writeln!(f, "{:016x} {:016x}", self.input, self.obs).expect("write the digest file");
        }
    }
}

fn digest_path() -> Option<&'static String> {
    static PATH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PATH.get_or_init(|| std::env::var("QUANTIZE_FUZZ_DIGEST").ok())
        .as_ref()
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

/// n values whose byte size exceeds isize::MAX (phase 1 of §4), for a `size`-byte element.
pub fn huge_n(d: &mut draw::Draw, size: usize) -> usize {
    let first_bad = (isize::MAX as usize) / size + 1;
    match d.byte() % 4 {
        0 => first_bad,
        1 => usize::MAX,
        2 => first_bad + d.range(0, 1 << 20) * 32,
        _ => usize::MAX - d.range(0, 1 << 20),
    }
}
