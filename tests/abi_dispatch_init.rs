//! The SIMD level is chosen once, at first use, by whichever thread gets there first: sixteen
//! threads race on their very first call into the library (each starting with a different
//! function, released together by a Barrier), and all of them must see the same kernel and get
//! identical results, equal to a single-threaded run afterwards.
//!
//! This is its own test binary so the dispatch cache is fresh: nothing in this process calls the
//! library before the barrier (the other test here only starts child processes). That test runs
//! the race again in fresh child processes, once per `QUANTIZE_MAX_ISA` value, and checks that
//! every SIMD level produces the same bytes as the scalar reference.

mod common;

use common::alloc::{bytes as counters, ffi, CountingAllocator};
use quantize::ffi::*;
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::sync::Barrier;

const THREADS: usize = 16;
/// Elements per call (a multiple of 32, plus an odd tail for the int4 functions).
const N: usize = if cfg!(miri) {
    2 * 32 + 1
} else {
    4096 + 32 * 3 + 1
};

/// Set in child processes started by `every_simd_cap_gives_the_scalar_results`.
const CHILD_VAR: &str = "QUANTIZE_DISPATCH_INIT_CHILD";

// ---------------------------------------------------------------------------------------------
// Allocation counting inside library calls, per thread (tests/common/alloc.rs).

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---------------------------------------------------------------------------------------------
// The calls: every function that goes through the kernels, and a few that do not.

fn input() -> Vec<f32> {
    (0..N)
        .map(|i| ((i as f32) * 0.377).cos() * (0.5 + (i % 13) as f32))
        .collect()
}

type Results = BTreeMap<&'static str, Vec<u8>>;

fn bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn bytes_i8(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&c| c as u8).collect()
}

/// Call number `which` (0..CALLS) on `x`, its outputs appended to `out`. The calls only read
/// `x` and fixed data, so they may run in any order.
fn call(which: usize, x: &[f32], out: &mut Results) {
    let n = x.len();
    let plen = quantize_packed_len(n);
    let codes: Vec<i8> = (0..n).map(|i| (i % 16) as i8 - 8).collect();
    let packed: Vec<u8> = (0..plen).map(|i| (i * 37 + 11) as u8).collect();
    let nb = n / 32 * 32;
    // SAFETY (every call below): each pointer is valid for the length passed with it, and no
    // output overlaps another buffer.
    match which {
        0 => {
            let name = ffi(|| quantize_kernel_name());
            // SAFETY: a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(name) }.to_bytes().to_vec();
            out.insert("quantize_kernel_name", name);
        }
        1 => {
            let mut q = vec![0i8; n];
            let (mut scale, mut zp) = (0.0f32, 0i8);
            let s = ffi(|| unsafe {
                quantize_to_int4(
                    x.as_ptr(),
                    n,
                    QUANTIZE_SCALE_MINMAX,
                    q.as_mut_ptr(),
                    &mut scale,
                    &mut zp,
                )
            });
            assert_eq!(s, QUANTIZE_OK);
            let mut b = bytes_i8(&q);
            b.extend(scale.to_le_bytes());
            b.push(zp as u8);
            out.insert("quantize_to_int4", b);
        }
        2 => {
            let mut y = vec![0.0f32; n];
            let s = ffi(|| unsafe {
                dequantize_from_int4(codes.as_ptr(), n, 0.37, -2, y.as_mut_ptr())
            });
            assert_eq!(s, QUANTIZE_OK);
            out.insert("dequantize_from_int4", bytes_f32(&y));
        }
        3 => {
            let mut p = vec![0u8; plen];
            let s = ffi(|| unsafe { pack_int4_to_int8(codes.as_ptr(), n, p.as_mut_ptr(), plen) });
            assert_eq!(s, QUANTIZE_OK);
            out.insert("pack_int4_to_int8", p);
        }
        4 => {
            let mut u = vec![0i8; n];
            let s =
                ffi(|| unsafe { unpack_int8_to_int4(packed.as_ptr(), plen, u.as_mut_ptr(), n) });
            assert_eq!(s, QUANTIZE_OK);
            out.insert("unpack_int8_to_int4", bytes_i8(&u));
        }
        5 => {
            let mut p = vec![0u8; plen];
            let (mut scale, mut zp) = (0.0f32, 0i8);
            let s = ffi(|| unsafe {
                quantize_to_int4_packed(
                    x.as_ptr(),
                    n,
                    QUANTIZE_SCALE_ABSMAX,
                    p.as_mut_ptr(),
                    plen,
                    &mut scale,
                    &mut zp,
                )
            });
            assert_eq!(s, QUANTIZE_OK);
            p.extend(scale.to_le_bytes());
            p.push(zp as u8);
            out.insert("quantize_to_int4_packed", p);
        }
        6 => {
            let mut y = vec![0.0f32; n];
            let s = ffi(|| unsafe {
                dequantize_from_int4_packed(packed.as_ptr(), plen, n, 1.5, 3, y.as_mut_ptr())
            });
            assert_eq!(s, QUANTIZE_OK);
            out.insert("dequantize_from_int4_packed", bytes_f32(&y));
        }
        7 => {
            let gs = 32;
            let count = quantize_group_count(n, gs);
            let mut c = vec![0u8; plen];
            let mut scales = vec![0.0f32; count];
            let mut zps = vec![0i8; count];
            let s = ffi(|| unsafe {
                quantize_int4_groups(
                    x.as_ptr(),
                    n,
                    gs,
                    QUANTIZE_SCALE_MINMAX,
                    c.as_mut_ptr(),
                    plen,
                    scales.as_mut_ptr(),
                    count,
                    zps.as_mut_ptr(),
                    count,
                )
            });
            assert_eq!(s, QUANTIZE_OK);
            let mut y = vec![0.0f32; n];
            let s = ffi(|| unsafe {
                dequantize_int4_groups(
                    c.as_ptr(),
                    plen,
                    n,
                    gs,
                    scales.as_ptr(),
                    count,
                    zps.as_ptr(),
                    count,
                    y.as_mut_ptr(),
                )
            });
            assert_eq!(s, QUANTIZE_OK);
            c.extend(bytes_f32(&scales));
            c.extend(bytes_i8(&zps));
            c.extend(bytes_f32(&y));
            out.insert("int4 groups", c);
        }
        8 => {
            let y: Vec<f32> = x.iter().map(|v| v * 0.75 + 0.125).collect();
            let mut stats = quantize::stats::ErrorStats::default();
            let s =
                ffi(|| unsafe { quantize_measure_error(x.as_ptr(), y.as_ptr(), n, &mut stats) });
            assert_eq!(s, QUANTIZE_OK);
            let mut b = Vec::new();
            for v in [
                stats.mean_abs_error,
                stats.max_abs_error,
                stats.mean_squared_error,
                stats.rmse,
                stats.sqnr_db,
            ] {
                b.extend(v.to_le_bytes());
            }
            b.extend((stats.max_abs_index as u64).to_le_bytes());
            out.insert("quantize_measure_error", b);
        }
        9 => {
            let mut all = Vec::new();
            for f in [
                QUANTIZE_FORMAT_Q4_0,
                QUANTIZE_FORMAT_Q4_1,
                QUANTIZE_FORMAT_IQ4_NL,
                QUANTIZE_FORMAT_MXFP4,
            ] {
                let need = nb / 32 * quantize_block_bytes(f);
                let mut b = vec![0u8; need];
                let s = ffi(|| unsafe { quantize_blocks(f, x.as_ptr(), nb, b.as_mut_ptr(), need) });
                assert_eq!(s, QUANTIZE_OK);
                let mut y = vec![0.0f32; nb];
                let s =
                    ffi(|| unsafe { dequantize_blocks(f, b.as_ptr(), need, y.as_mut_ptr(), nb) });
                assert_eq!(s, QUANTIZE_OK);
                all.extend(b);
                all.extend(bytes_f32(&y));
            }
            out.insert("blocks", all);
        }
        10 => {
            let mut all = Vec::new();
            for book in [QUANTIZE_CODEBOOK_NF4, QUANTIZE_CODEBOOK_FP4] {
                let bs = 64;
                let count = quantize_group_count(n, bs);
                let mut c = vec![0u8; plen];
                let mut absmax = vec![0.0f32; count];
                let s = ffi(|| unsafe {
                    quantize_codebook_blocks(
                        book,
                        x.as_ptr(),
                        n,
                        bs,
                        c.as_mut_ptr(),
                        plen,
                        absmax.as_mut_ptr(),
                        count,
                    )
                });
                assert_eq!(s, QUANTIZE_OK);
                let mut y = vec![0.0f32; n];
                let s = ffi(|| unsafe {
                    dequantize_codebook_blocks(
                        book,
                        c.as_ptr(),
                        plen,
                        n,
                        bs,
                        absmax.as_ptr(),
                        count,
                        y.as_mut_ptr(),
                    )
                });
                assert_eq!(s, QUANTIZE_OK);
                all.extend(c);
                all.extend(bytes_f32(&absmax));
                all.extend(bytes_f32(&y));
            }
            out.insert("codebooks", all);
        }
        _ => unreachable!("call {which}"),
    }
}

const CALLS: usize = 11;

/// Every call, starting with call `first`; the kernel name as the safe API reports it too.
fn all_calls(first: usize, x: &[f32]) -> Results {
    let mut out = Results::new();
    for k in 0..CALLS {
        call((first + k) % CALLS, x, &mut out);
    }
    out.insert("kernel_name()", quantize::kernel_name().as_bytes().to_vec());
    out
}

/// A short digest of the results without the kernel's name, for comparing child processes.
fn digest(r: &Results) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (k, v) in r {
        if k.contains("kernel_name") {
            continue;
        }
        for &b in k.as_bytes().iter().chain(v) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn kernel(r: &Results) -> String {
    String::from_utf8_lossy(&r["quantize_kernel_name"]).into_owned()
}

#[test]
fn sixteen_threads_racing_on_the_first_call_see_one_kernel_and_identical_results() {
    let x = input();
    let barrier = Barrier::new(THREADS);
    // Thread t starts with call t % CALLS: calls 0..=8 go through the SIMD dispatch, so at least
    // nine threads race to initialise it (blocks and codebooks do not use it).
    let per_thread: Vec<(Results, (usize, usize))> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (x, barrier) = (&x, &barrier);
                s.spawn(move || {
                    let mut first = Results::new();
                    barrier.wait();
                    // the very first call into the library on this thread, racing the others
                    call(t % CALLS, x, &mut first);
                    let mut all = all_calls(t % CALLS, x);
                    // the racing call got what the later one got
                    for (k, v) in &first {
                        assert_eq!(
                            &all[k], v,
                            "thread {t}: first `{k}` differs from a later one"
                        );
                    }
                    all.extend(first);
                    (all, counters())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    // single-threaded, after the race: the level is cached, nothing allocates
    let before = counters();
    let expected = all_calls(0, &x);
    assert_eq!(counters(), before, "calls after the first one allocated");
    let name = kernel(&expected);
    for (t, (got, _)) in per_thread.iter().enumerate() {
        assert_eq!(kernel(got), name, "thread {t} saw another kernel");
        for (k, v) in &expected {
            assert!(got.get(k) == Some(v), "thread {t}: `{k}` differs");
        }
    }
    // Choosing the level may allocate a little, once, and frees it before returning.
    let allocated: usize = per_thread.iter().map(|(_, c)| c.0).sum();
    let freed: usize = per_thread.iter().map(|(_, c)| c.1).sum();
    assert!(
        allocated <= 4096,
        "the racing threads' calls allocated {allocated} bytes in all"
    );
    assert_eq!(allocated, freed, "the library kept memory allocated");
    if cfg!(miri) {
        assert_eq!(
            name, "scalar",
            "SIMD kernels must be compiled out under Miri"
        );
    }
    // for the parent test (and for scripts/miri.sh, with --nocapture)
    println!("kernel: {name} digest: {}", digest(&expected));
    eprintln!("kernel: {name}; library calls allocated {allocated} bytes in all, and freed them");
}

/// Runs the race in fresh child processes, one per `QUANTIZE_MAX_ISA` value: each picks a level
/// no higher than asked, and every level gives the scalar reference's bytes.
#[test]
#[cfg_attr(miri, ignore = "starts processes")]
fn every_simd_cap_gives_the_scalar_results() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return; // only the race runs in a child
    }
    let exe = std::env::current_exe().expect("test executable");
    let run = |cap: Option<&str>| -> (String, String) {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "--exact",
            "sixteen_threads_racing_on_the_first_call_see_one_kernel_and_identical_results",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1");
        match cap {
            Some(c) => cmd.env("QUANTIZE_MAX_ISA", c),
            None => cmd.env_remove("QUANTIZE_MAX_ISA"),
        };
        let out = cmd.output().expect("running the test executable");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child with QUANTIZE_MAX_ISA={cap:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .filter(|l| l.contains(" digest: "))
            .find_map(|l| l.split_once("kernel: ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("no `kernel:` line from the child:\n{stdout}"));
        let (k, d) = line
            .split_once(" digest: ")
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        (k.to_string(), d.to_string())
    };
    let (scalar, reference) = run(Some("scalar"));
    assert_eq!(scalar, "scalar");
    // What this CPU offers, detected here without the library.
    #[cfg(target_arch = "x86_64")]
    let offered = [
        ("avx2", is_x86_feature_detected!("avx2")),
        (
            "avx512",
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vl"),
        ),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let offered: [(&str, bool); 0] = [];
    let order = ["scalar", "neon", "avx2", "avx512"];
    let rank = |k: &str| order.iter().position(|&o| o == k);
    for cap in [Some("avx2"), Some("avx512"), None] {
        let (k, d) = run(cap);
        assert!(rank(&k).is_some(), "unknown kernel {k:?}");
        if let Some(c) = cap {
            assert!(rank(&k) <= rank(c), "QUANTIZE_MAX_ISA={c} chose {k}");
            // on x86-64 the cap itself is chosen when the CPU has it
            if offered.iter().any(|&(l, has)| l == c && has) {
                assert_eq!(k, c, "QUANTIZE_MAX_ISA={c} on a CPU with {c}");
            }
        }
        assert_eq!(
            d, reference,
            "QUANTIZE_MAX_ISA={cap:?} ({k}) gives other bytes than the scalar reference"
        );
        eprintln!("QUANTIZE_MAX_ISA={cap:?}: kernel {k}");
    }
}

/// The counters this file relies on see allocations and frees made inside `ffi(...)`, and only
/// those. (No library call here: the race must be the first one.)
#[test]
fn the_allocation_counters_count() {
    let before = counters();
    let outside = std::hint::black_box(vec![1u8; 3]);
    assert_eq!(counters(), before);
    ffi(|| drop(std::hint::black_box(vec![2u8; 5])));
    assert_eq!(counters(), (before.0 + 5, before.1 + 5));
    drop(outside);
}
