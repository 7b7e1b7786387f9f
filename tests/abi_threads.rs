//! Many threads calling every function of the C API at once, on shared read-only inputs, get
//! exactly what one thread gets, bit for bit: outputs, statuses, partial writes on bad data and
//! the metadata strings. And once the SIMD level has been chosen (the first call), no C function
//! allocates: a counting global allocator watches every call, per thread.
//!
//! Under Miri (scripts/miri.sh) the inputs are small, so Miri's data-race detector checks the
//! same calls.

mod common;

use common::alloc::{allocations as ffi_allocations, ffi, CountingAllocator};
use quantize::ffi::*;
use quantize::stats::ErrorStats;
use std::ffi::{c_char, CStr};
use std::sync::Barrier;

// ---------------------------------------------------------------------------------------------
// Allocation counting: only inside `ffi(...)`, only on the calling thread (tests/common/alloc.rs).

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---------------------------------------------------------------------------------------------
// Inputs and the record of one round.

/// Elements of the main input: odd, and not a multiple of any SIMD width (small under Miri).
const N: usize = if cfg!(miri) { 2 * 32 + 3 } else { 30_011 };
const THREADS: usize = if cfg!(miri) { 3 } else { 8 };
const ROUNDS: usize = if cfg!(miri) { 1 } else { 2 };

const SENTINEL: u8 = common::sentinel::BYTE;

const FORMATS: [(quantize_block_format, &str); 4] = [
    (QUANTIZE_FORMAT_Q4_0, "q4_0"),
    (QUANTIZE_FORMAT_Q4_1, "q4_1"),
    (QUANTIZE_FORMAT_IQ4_NL, "iq4_nl"),
    (QUANTIZE_FORMAT_MXFP4, "mxfp4"),
];
const CODEBOOKS: [(quantize_codebook, &str); 2] = [
    (QUANTIZE_CODEBOOK_NF4, "nf4"),
    (QUANTIZE_CODEBOOK_FP4, "fp4"),
];
const METHODS: [(quantize_scale_method, &str); 2] = [
    (QUANTIZE_SCALE_MINMAX, "minmax"),
    (QUANTIZE_SCALE_ABSMAX, "absmax"),
];

/// Shared, read-only inputs.
struct Inputs {
    /// N finite values of varied magnitude.
    x: Vec<f32>,
    /// `x` with a NaN two thirds of the way in.
    with_nan: Vec<f32>,
    /// Pseudo-random bytes: untrusted block and code bytes.
    noise: Vec<u8>,
}

impl Inputs {
    fn new() -> Inputs {
        let x: Vec<f32> = (0..N)
            .map(|i| ((i as f32) * 0.618_034).sin() * (1.0 + (i % 97) as f32))
            .collect();
        let mut with_nan = x.clone();
        with_nan[N / 3 * 2] = f32::NAN;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let noise = (0..N)
            .map(|_| {
                // xorshift64*
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        Inputs { x, with_nan, noise }
    }
}

/// Every call of a round: a label, the status, and every byte of every output buffer (outputs
/// start filled with a sentinel, so partial writes are recorded too).
#[derive(PartialEq)]
struct Record(Vec<(String, i32, Vec<u8>)>);

impl Record {
    fn push(&mut self, what: String, status: i32, bytes: Vec<u8>) {
        self.0.push((what, status, bytes));
    }

    /// Panics with the first call whose result differs from `want`'s.
    fn assert_same_as(&self, want: &Record, who: &str) {
        assert_eq!(
            self.0.len(),
            want.0.len(),
            "{who}: a different number of calls"
        );
        for (got, want) in self.0.iter().zip(&want.0) {
            assert!(
                got == want,
                "{who}: `{}` differs from the single-threaded run (status {} vs {})",
                got.0,
                got.1,
                want.1
            );
        }
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn i8_bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&c| c as u8).collect()
}

fn sentinel_f32(n: usize) -> Vec<f32> {
    vec![f32::from_bits(u32::from_ne_bytes([SENTINEL; 4])); n]
}

fn stats_bytes(s: &ErrorStats) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [
        s.mean_abs_error,
        s.max_abs_error,
        s.mean_squared_error,
        s.rmse,
        s.sqnr_db,
    ] {
        b.extend(v.to_le_bytes());
    }
    b.extend((s.max_abs_index as u64).to_le_bytes());
    b
}

fn c_string(p: *const c_char) -> Vec<u8> {
    assert!(!p.is_null());
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// quantize_measure_error(x, y), recorded.
fn measure(rec: &mut Record, what: &str, x: &[f32], y: &[f32]) {
    let mut stats = ErrorStats::default();
    let n = x.len().min(y.len());
    // SAFETY: both inputs hold n floats; stats is a valid out-pointer.
    let s = ffi(|| unsafe { quantize_measure_error(x.as_ptr(), y.as_ptr(), n, &mut stats) });
    assert_eq!(s, QUANTIZE_OK, "quantize_measure_error after {what}");
    rec.push(
        format!("quantize_measure_error({what})"),
        s,
        stats_bytes(&stats),
    );
}

// ---------------------------------------------------------------------------------------------
// One round: every C function, on the shared inputs.

fn round(inp: &Inputs) -> Record {
    let mut rec = Record(Vec::new());
    int4_round(inp, &mut rec);
    groups_round(inp, &mut rec);
    blocks_round(inp, &mut rec);
    codebook_round(inp, &mut rec);
    metadata_round(&mut rec);
    rec
}

fn int4_round(inp: &Inputs, rec: &mut Record) {
    let x = &inp.x;
    let n = x.len();
    let plen = ffi(|| quantize_packed_len(n));
    rec.push("quantize_packed_len".into(), 0, plen.to_le_bytes().to_vec());
    for (method, name) in METHODS {
        // SAFETY (every call below): each pointer is valid for the length passed with it, and
        // no output overlaps another buffer.
        let mut q = vec![SENTINEL as i8; n];
        let (mut scale, mut zp) = (0.0f32, 0i8);
        let s = ffi(|| unsafe {
            quantize_to_int4(x.as_ptr(), n, method, q.as_mut_ptr(), &mut scale, &mut zp)
        });
        assert_eq!(s, QUANTIZE_OK, "quantize_to_int4 {name}");
        let mut bytes = i8_bytes(&q);
        bytes.extend(scale.to_le_bytes());
        bytes.push(zp as u8);
        rec.push(format!("quantize_to_int4 {name}"), s, bytes);

        let mut y = sentinel_f32(n);
        let s = ffi(|| unsafe { dequantize_from_int4(q.as_ptr(), n, scale, zp, y.as_mut_ptr()) });
        assert_eq!(s, QUANTIZE_OK, "dequantize_from_int4 {name}");
        rec.push(format!("dequantize_from_int4 {name}"), s, f32_bytes(&y));
        measure(rec, &format!("int4 {name}"), x, &y);

        let mut packed = vec![SENTINEL; plen];
        let s = ffi(|| unsafe { pack_int4_to_int8(q.as_ptr(), n, packed.as_mut_ptr(), plen) });
        assert_eq!(s, QUANTIZE_OK, "pack_int4_to_int8 {name}");
        rec.push(format!("pack_int4_to_int8 {name}"), s, packed.clone());

        let mut unpacked = vec![SENTINEL as i8; n];
        let s =
            ffi(|| unsafe { unpack_int8_to_int4(packed.as_ptr(), plen, unpacked.as_mut_ptr(), n) });
        assert_eq!(s, QUANTIZE_OK, "unpack_int8_to_int4 {name}");
        rec.push(
            format!("unpack_int8_to_int4 {name}"),
            s,
            i8_bytes(&unpacked),
        );

        let mut fused = vec![SENTINEL; plen];
        let (mut fscale, mut fzp) = (0.0f32, 0i8);
        let s = ffi(|| unsafe {
            quantize_to_int4_packed(
                x.as_ptr(),
                n,
                method,
                fused.as_mut_ptr(),
                plen,
                &mut fscale,
                &mut fzp,
            )
        });
        assert_eq!(s, QUANTIZE_OK, "quantize_to_int4_packed {name}");
        let mut bytes = fused.clone();
        bytes.extend(fscale.to_le_bytes());
        bytes.push(fzp as u8);
        rec.push(format!("quantize_to_int4_packed {name}"), s, bytes);

        let mut fy = sentinel_f32(n);
        let s = ffi(|| unsafe {
            dequantize_from_int4_packed(fused.as_ptr(), plen, n, fscale, fzp, fy.as_mut_ptr())
        });
        assert_eq!(s, QUANTIZE_OK, "dequantize_from_int4_packed {name}");
        rec.push(
            format!("dequantize_from_int4_packed {name}"),
            s,
            f32_bytes(&fy),
        );

        // bad data: a NaN leaves every output untouched
        let mut bad_q = vec![SENTINEL as i8; n];
        let (mut bscale, mut bzp) = (-1.0f32, 99i8);
        let s = ffi(|| unsafe {
            quantize_to_int4(
                inp.with_nan.as_ptr(),
                n,
                method,
                bad_q.as_mut_ptr(),
                &mut bscale,
                &mut bzp,
            )
        });
        assert_eq!(
            s, QUANTIZE_ERR_NON_FINITE,
            "quantize_to_int4 {name} with a NaN"
        );
        let mut bytes = i8_bytes(&bad_q);
        bytes.extend(bscale.to_le_bytes());
        bytes.push(bzp as u8);
        rec.push(format!("quantize_to_int4 {name} NaN"), s, bytes);
    }

    // bad data: a code outside -8..7 near the end
    let mut codes: Vec<i8> = inp.noise.iter().map(|&b| (b & 0x0F) as i8 - 8).collect();
    codes[n - 2] = 8;
    let mut y = sentinel_f32(n);
    let s = ffi(|| unsafe { dequantize_from_int4(codes.as_ptr(), n, 0.5, -3, y.as_mut_ptr()) });
    assert_eq!(
        s, QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        "dequantize_from_int4 code 8"
    );
    rec.push("dequantize_from_int4 code 8".into(), s, f32_bytes(&y));
    // untrusted packed bytes: every byte is a valid pair of codes
    let mut y = sentinel_f32(n);
    let s = ffi(|| unsafe {
        dequantize_from_int4_packed(inp.noise.as_ptr(), plen, n, 0.25, 2, y.as_mut_ptr())
    });
    assert_eq!(s, QUANTIZE_OK, "dequantize_from_int4_packed of noise");
    rec.push("dequantize_from_int4_packed noise".into(), s, f32_bytes(&y));
}

fn groups_round(inp: &Inputs, rec: &mut Record) {
    let x = &inp.x;
    let n = x.len();
    let plen = quantize_packed_len(n);
    for (method, name) in METHODS {
        for gs in [1usize, 32, 100, n, n + 7] {
            let count = ffi(|| quantize_group_count(n, gs));
            rec.push(
                format!("quantize_group_count {gs}"),
                0,
                count.to_le_bytes().to_vec(),
            );
            // zero points: all of them, or (ABSMAX) none
            let zp_lens: &[usize] = if method == QUANTIZE_SCALE_ABSMAX {
                &[0, 1]
            } else {
                &[1]
            };
            for &with_zp in zp_lens {
                let zlen = count * with_zp;
                let mut codes = vec![SENTINEL; plen];
                let mut scales = sentinel_f32(count);
                let mut zps = vec![SENTINEL as i8; zlen];
                // SAFETY (this call and the next): each pointer is valid for its length, and
                // no output overlaps another buffer.
                let s = ffi(|| unsafe {
                    quantize_int4_groups(
                        x.as_ptr(),
                        n,
                        gs,
                        method,
                        codes.as_mut_ptr(),
                        plen,
                        scales.as_mut_ptr(),
                        count,
                        if zlen == 0 {
                            std::ptr::null_mut()
                        } else {
                            zps.as_mut_ptr()
                        },
                        zlen,
                    )
                });
                let what = format!("int4 groups {name} gs={gs} zp={with_zp}");
                assert_eq!(s, QUANTIZE_OK, "quantize_{what}");
                let mut bytes = codes.clone();
                bytes.extend(f32_bytes(&scales));
                bytes.extend(i8_bytes(&zps));
                rec.push(format!("quantize_{what}"), s, bytes);

                let mut y = sentinel_f32(n);
                let s = ffi(|| unsafe {
                    dequantize_int4_groups(
                        codes.as_ptr(),
                        plen,
                        n,
                        gs,
                        scales.as_ptr(),
                        count,
                        if zlen == 0 {
                            std::ptr::null()
                        } else {
                            zps.as_ptr()
                        },
                        zlen,
                        y.as_mut_ptr(),
                    )
                });
                assert_eq!(s, QUANTIZE_OK, "dequantize_{what}");
                rec.push(format!("dequantize_{what}"), s, f32_bytes(&y));
                measure(rec, &what, x, &y);
            }
        }
        // bad data: groups before the NaN's group are written, none after it
        let gs = 64;
        let count = quantize_group_count(n, gs);
        let mut codes = vec![SENTINEL; plen];
        let mut scales = sentinel_f32(count);
        let mut zps = vec![SENTINEL as i8; count];
        // SAFETY: as above.
        let s = ffi(|| unsafe {
            quantize_int4_groups(
                inp.with_nan.as_ptr(),
                n,
                gs,
                method,
                codes.as_mut_ptr(),
                plen,
                scales.as_mut_ptr(),
                count,
                zps.as_mut_ptr(),
                count,
            )
        });
        assert_eq!(
            s, QUANTIZE_ERR_NON_FINITE,
            "quantize_int4_groups {name} NaN"
        );
        let mut bytes = codes;
        bytes.extend(f32_bytes(&scales));
        bytes.extend(i8_bytes(&zps));
        rec.push(format!("quantize_int4_groups {name} NaN"), s, bytes);
    }
}

/// Makes every block's scale fields finite (fp16: clear the top exponent bit; E8M0: no 0xFF), so
/// the whole stream of untrusted bytes dequantizes.
fn tame(format: quantize_block_format, bytes: &mut [u8]) {
    let bb = quantize_block_bytes(format);
    for block in bytes.chunks_exact_mut(bb) {
        match format {
            QUANTIZE_FORMAT_Q4_1 => {
                block[1] &= 0xBF;
                block[3] &= 0xBF;
            }
            QUANTIZE_FORMAT_MXFP4 => {
                if block[0] == 0xFF {
                    block[0] = 0x7F;
                }
            }
            _ => block[1] &= 0xBF,
        }
    }
}

fn blocks_round(inp: &Inputs, rec: &mut Record) {
    let nb = inp.x.len() / 32 * 32;
    let x = &inp.x[..nb];
    for (format, name) in FORMATS {
        let elements = ffi(|| quantize_block_elements(format));
        let bb = ffi(|| quantize_block_bytes(format));
        assert_eq!(elements, 32, "quantize_block_elements({name})");
        let need = nb / elements * bb;
        let mut blocks = vec![SENTINEL; need];
        // SAFETY (every call below): each pointer is valid for the length passed with it, and
        // no output overlaps another buffer.
        let s =
            ffi(|| unsafe { quantize_blocks(format, x.as_ptr(), nb, blocks.as_mut_ptr(), need) });
        assert_eq!(s, QUANTIZE_OK, "quantize_blocks {name}");
        rec.push(format!("quantize_blocks {name}"), s, blocks.clone());

        let mut y = sentinel_f32(nb);
        let s =
            ffi(|| unsafe { dequantize_blocks(format, blocks.as_ptr(), need, y.as_mut_ptr(), nb) });
        assert_eq!(s, QUANTIZE_OK, "dequantize_blocks {name}");
        rec.push(format!("dequantize_blocks {name}"), s, f32_bytes(&y));
        measure(rec, &format!("blocks {name}"), x, &y);

        // bad data: a NaN; blocks after its block are not written
        let mut bad = vec![SENTINEL; need];
        let s = ffi(|| unsafe {
            quantize_blocks(format, inp.with_nan.as_ptr(), nb, bad.as_mut_ptr(), need)
        });
        assert_eq!(s, QUANTIZE_ERR_NON_FINITE, "quantize_blocks {name} NaN");
        rec.push(format!("quantize_blocks {name} NaN"), s, bad);

        // untrusted bytes as they come (a NON_FINITE scale field stops the stream), and tamed
        let raw = &inp.noise[..need];
        let mut y = sentinel_f32(nb);
        let s =
            ffi(|| unsafe { dequantize_blocks(format, raw.as_ptr(), need, y.as_mut_ptr(), nb) });
        assert!(
            s == QUANTIZE_OK || s == QUANTIZE_ERR_NON_FINITE,
            "dequantize_blocks {name} of noise: status {s}"
        );
        rec.push(format!("dequantize_blocks {name} noise"), s, f32_bytes(&y));
        let mut tamed = raw.to_vec();
        tame(format, &mut tamed);
        let mut y = sentinel_f32(nb);
        let s =
            ffi(|| unsafe { dequantize_blocks(format, tamed.as_ptr(), need, y.as_mut_ptr(), nb) });
        assert_eq!(s, QUANTIZE_OK, "dequantize_blocks {name} of tamed noise");
        rec.push(
            format!("dequantize_blocks {name} tamed noise"),
            s,
            f32_bytes(&y),
        );
    }
}

fn codebook_round(inp: &Inputs, rec: &mut Record) {
    let x = &inp.x;
    let n = x.len();
    let plen = quantize_packed_len(n);
    for (book, name) in CODEBOOKS {
        for bs in [32usize, 64, 4096] {
            let count = quantize_group_count(n, bs);
            let mut codes = vec![SENTINEL; plen];
            let mut absmax = sentinel_f32(count);
            // SAFETY (every call below): each pointer is valid for the length passed with it,
            // and no output overlaps another buffer.
            let s = ffi(|| unsafe {
                quantize_codebook_blocks(
                    book,
                    x.as_ptr(),
                    n,
                    bs,
                    codes.as_mut_ptr(),
                    plen,
                    absmax.as_mut_ptr(),
                    count,
                )
            });
            let what = format!("codebook_blocks {name} bs={bs}");
            assert_eq!(s, QUANTIZE_OK, "quantize_{what}");
            let mut bytes = codes.clone();
            bytes.extend(f32_bytes(&absmax));
            rec.push(format!("quantize_{what}"), s, bytes);

            let mut y = sentinel_f32(n);
            let s = ffi(|| unsafe {
                dequantize_codebook_blocks(
                    book,
                    codes.as_ptr(),
                    plen,
                    n,
                    bs,
                    absmax.as_ptr(),
                    count,
                    y.as_mut_ptr(),
                )
            });
            assert_eq!(s, QUANTIZE_OK, "dequantize_{what}");
            rec.push(format!("dequantize_{what}"), s, f32_bytes(&y));
            measure(rec, &what, x, &y);

            // untrusted codes (every byte is valid) with the real scales, then a NaN scale in
            // the last block
            let mut y = sentinel_f32(n);
            let s = ffi(|| unsafe {
                dequantize_codebook_blocks(
                    book,
                    inp.noise.as_ptr(),
                    plen,
                    n,
                    bs,
                    absmax.as_ptr(),
                    count,
                    y.as_mut_ptr(),
                )
            });
            assert_eq!(s, QUANTIZE_OK, "dequantize_{what} noise");
            rec.push(format!("dequantize_{what} noise"), s, f32_bytes(&y));
            let mut bad_absmax = absmax.clone();
            bad_absmax[count - 1] = f32::NAN;
            let mut y = sentinel_f32(n);
            let s = ffi(|| unsafe {
                dequantize_codebook_blocks(
                    book,
                    codes.as_ptr(),
                    plen,
                    n,
                    bs,
                    bad_absmax.as_ptr(),
                    count,
                    y.as_mut_ptr(),
                )
            });
            assert_eq!(s, QUANTIZE_ERR_NON_FINITE, "dequantize_{what} NaN absmax");
            rec.push(format!("dequantize_{what} NaN absmax"), s, f32_bytes(&y));
        }
        // bad data: a NaN input
        let bs = 64;
        let count = quantize_group_count(n, bs);
        let mut codes = vec![SENTINEL; plen];
        let mut absmax = sentinel_f32(count);
        // SAFETY: as above.
        let s = ffi(|| unsafe {
            quantize_codebook_blocks(
                book,
                inp.with_nan.as_ptr(),
                n,
                bs,
                codes.as_mut_ptr(),
                plen,
                absmax.as_mut_ptr(),
                count,
            )
        });
        assert_eq!(
            s, QUANTIZE_ERR_NON_FINITE,
            "quantize_codebook_blocks {name} NaN"
        );
        let mut bytes = codes;
        bytes.extend(f32_bytes(&absmax));
        rec.push(format!("quantize_codebook_blocks {name} NaN"), s, bytes);
    }
}

fn metadata_round(rec: &mut Record) {
    for status in (-2..=12).chain([98, 99, 100, i32::MIN, i32::MAX]) {
        let p = ffi(|| quantize_status_message(status));
        rec.push(format!("quantize_status_message({status})"), 0, c_string(p));
    }
    let p = ffi(|| quantize_version());
    rec.push("quantize_version".into(), 0, c_string(p));
    let v = ffi(|| quantize_version_number());
    rec.push(
        "quantize_version_number".into(),
        0,
        v.to_le_bytes().to_vec(),
    );
    let p = ffi(|| quantize_kernel_name());
    rec.push("quantize_kernel_name".into(), 0, c_string(p));
    for format in [7u32, 99, u32::MAX] {
        let sizes = ffi(|| {
            [
                quantize_block_elements(format),
                quantize_block_bytes(format),
            ]
        });
        assert_eq!(sizes, [0, 0], "sizes of unknown format {format}");
    }
    let sizes = ffi(|| {
        [
            quantize_packed_len(usize::MAX),
            quantize_group_count(usize::MAX, 1),
            quantize_group_count(7, 0),
        ]
    });
    rec.push(
        "size helpers at the limits".into(),
        0,
        sizes.iter().flat_map(|s| s.to_le_bytes()).collect(),
    );
}

// ---------------------------------------------------------------------------------------------

#[test]
fn many_threads_calling_every_function_at_once_agree_with_one_thread_and_never_allocate() {
    let inputs = Inputs::new();
    // The first call picks the SIMD level (allocating a little, once); after it, nothing does.
    let _ = quantize::kernel_name();
    let before = ffi_allocations();
    let expected = round(&inputs);
    assert_eq!(
        ffi_allocations() - before,
        0,
        "C functions allocated on the single-threaded run"
    );
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let records: Vec<Record> = (0..ROUNDS).map(|_| round(&inputs)).collect();
                    (records, ffi_allocations())
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            let (records, allocations) = match h.join() {
                Ok(r) => r,
                Err(e) => std::panic::resume_unwind(e),
            };
            for (r, got) in records.iter().enumerate() {
                got.assert_same_as(&expected, &format!("thread {t} round {r}"));
            }
            assert_eq!(allocations, 0, "thread {t}: C functions allocated");
        }
    });
}

/// The single-threaded record is itself reproducible, and it is not trivially empty: the rounds
/// compare real outputs.
#[test]
#[cfg_attr(miri, ignore = "checks the test itself; slow under Miri")]
fn a_round_is_deterministic_and_covers_every_function() {
    let inputs = Inputs::new();
    let a = round(&inputs);
    let b = round(&inputs);
    a.assert_same_as(&b, "second round");
    let labels: Vec<&str> = a.0.iter().map(|(l, _, _)| l.as_str()).collect();
    for f in [
        "quantize_to_int4 ",
        "dequantize_from_int4 ",
        "pack_int4_to_int8",
        "unpack_int8_to_int4",
        "quantize_to_int4_packed",
        "dequantize_from_int4_packed",
        "quantize_int4 groups",
        "dequantize_int4 groups",
        "quantize_group_count",
        "quantize_packed_len",
        "quantize_blocks q4_0",
        "quantize_blocks q4_1",
        "quantize_blocks iq4_nl",
        "quantize_blocks mxfp4",
        "dequantize_blocks q4_0",
        "dequantize_blocks q4_1",
        "dequantize_blocks iq4_nl",
        "dequantize_blocks mxfp4",
        "quantize_codebook_blocks nf4",
        "quantize_codebook_blocks fp4",
        "dequantize_codebook_blocks nf4",
        "dequantize_codebook_blocks fp4",
        "quantize_measure_error",
        "quantize_status_message",
        "quantize_version",
        "quantize_version_number",
        "quantize_kernel_name",
    ] {
        assert!(
            labels.iter().any(|l| l.starts_with(f)),
            "no call of {f:?} in a round"
        );
    }
    // the outputs are real data, not sentinels
    let q4 =
        a.0.iter()
            .find(|(l, _, _)| l == "dequantize_blocks q4_0")
            .expect("q4_0 round trip");
    assert!(q4.2.chunks_exact(4).any(|c| c != [SENTINEL; 4]));
}

/// The counter this file relies on does see allocations made inside `ffi(...)`, and only those.
#[test]
fn the_allocation_counter_counts() {
    let before = ffi_allocations();
    let outside = std::hint::black_box(vec![1u8; 3]);
    assert_eq!(ffi_allocations(), before);
    let inside = ffi(|| std::hint::black_box(vec![2u8; 5]));
    assert_eq!(ffi_allocations(), before + 1);
    drop((outside, inside));
}
