//! Throughput of every hot operation, with read, write and copy bandwidth baselines measured in
//! the same run so results can be read as ratios (the machines are shared and noisy).
//!
//! The SIMD level is the library's choice; run again with QUANTIZE_MAX_ISA=scalar for the scalar
//! level. `scripts/bench.sh` does both and prints the table of the README.
//! `QUANTIZE_BENCH_LEVELS=all` (`scripts/bench_levels.sh`) prints one Markdown table of every
//! level this CPU has (see [`all_levels`]).

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use quantize::codebook::{
    absmax_len, codes_len, dequantize_codebook, dequantize_codebook_into, quantize_codebook,
    quantize_codebook_from, Codebook,
};
use quantize::float::{f32_to_bf16, f32_to_f16};
use quantize::formats::{
    blocks_len, dequantize_blocks, dequantize_blocks_into, quantize_blocks, quantize_blocks_from,
    BlockFormat,
};
use quantize::groups::{
    dequantize_int4_groups, dequantize_int4_groups_into, group_count, quantize_int4_groups,
    quantize_int4_groups_from,
};
use quantize::int4::*;
use quantize::pack::{pack_int4_to_int8, packed_len, unpack_int8_to_int4};
use quantize::stats::measure_error;
use quantize::{FloatType, Floats, FloatsMut};
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

/// In cache (64K floats = 256 KiB) and out of cache (16M floats = 64 MiB).
const SIZES: [usize; 2] = [64 << 10, 16 << 20];

fn data(n: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Roughly normal: sum of uniforms, centred.
            let u = |k: u32| ((s >> k) & 0xFFFF) as f32 / 65536.0;
            (u(0) + u(16) + u(32) + u(48) - 2.0) * 1.7
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let level = quantize::kernel_name();
    for n in SIZES {
        let x = data(n);
        let mut group = c.benchmark_group(format!("{level}/{n}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500));
        // Throughput in bytes of float32 processed, for every operation.
        group.throughput(Throughput::Bytes((n * 4) as u64));

        // Baselines: read n floats, write n floats, copy n floats.
        group.bench_function(BenchmarkId::new("baseline_read", n), |b| {
            b.iter(|| black_box(read_all(bytemuck_u64(black_box(&x)))))
        });
        group.bench_function(BenchmarkId::new("baseline_read_prefetch", n), |b| {
            b.iter(|| black_box(read_all_prefetch(bytemuck_u64(black_box(&x)))))
        });
        let mut out = vec![0.0f32; n];
        group.bench_function(BenchmarkId::new("baseline_write", n), |b| {
            b.iter(|| {
                out.fill(black_box(1.5));
                black_box(&out);
            })
        });
        group.bench_function(BenchmarkId::new("baseline_copy", n), |b| {
            b.iter(|| {
                out.copy_from_slice(black_box(&x));
                black_box(&out);
            })
        });

        let mut q = vec![0i8; n];
        group.bench_function(BenchmarkId::new("quantize_to_int4", n), |b| {
            b.iter(|| quantize_to_int4(black_box(&x), ScaleMethod::MinMax, &mut q).unwrap())
        });
        let mut packed = vec![0u8; packed_len(n)];
        group.bench_function(BenchmarkId::new("quantize_to_int4_packed", n), |b| {
            b.iter(|| {
                quantize_to_int4_packed(black_box(&x), ScaleMethod::MinMax, &mut packed).unwrap()
            })
        });
        let p = quantize_to_int4_packed(&x, ScaleMethod::MinMax, &mut packed).unwrap();
        quantize_to_int4(&x, ScaleMethod::MinMax, &mut q).unwrap();
        group.bench_function(BenchmarkId::new("dequantize_from_int4", n), |b| {
            b.iter(|| dequantize_from_int4(black_box(&q), p, &mut out).unwrap())
        });
        group.bench_function(BenchmarkId::new("dequantize_from_int4_packed", n), |b| {
            b.iter(|| dequantize_from_int4_packed(black_box(&packed), p, &mut out).unwrap())
        });
        group.bench_function(BenchmarkId::new("pack_int4_to_int8", n), |b| {
            b.iter(|| pack_int4_to_int8(black_box(&q), &mut packed).unwrap())
        });
        group.bench_function(BenchmarkId::new("unpack_int8_to_int4", n), |b| {
            b.iter(|| unpack_int8_to_int4(black_box(&packed), &mut q).unwrap())
        });
        let gs = 32;
        let count = group_count(n, gs);
        let (mut scales, mut zps) = (vec![0.0f32; count], vec![0i8; count]);
        group.bench_function(BenchmarkId::new("quantize_int4_groups_32", n), |b| {
            b.iter(|| {
                quantize_int4_groups(
                    black_box(&x),
                    gs,
                    ScaleMethod::MinMax,
                    &mut packed,
                    &mut scales,
                    &mut zps,
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("dequantize_int4_groups_32", n), |b| {
            b.iter(|| {
                dequantize_int4_groups(black_box(&packed), gs, &scales, &zps, &mut out).unwrap()
            })
        });
        dequantize_from_int4_packed(&packed, p, &mut out).unwrap();
        group.bench_function(BenchmarkId::new("measure_error", n), |b| {
            b.iter(|| measure_error(black_box(&x), black_box(&out)).unwrap())
        });

        // ggml block formats (IQ4_NL's scale search is slow on the scalar level: fewer samples).
        for f in BlockFormat::ALL {
            let mut blocks = vec![0u8; blocks_len(f, n).unwrap()];
            let name = f.name();
            if f == BlockFormat::Iq4Nl && n > 1 << 20 {
                group.sample_size(10);
            }
            group.bench_function(BenchmarkId::new(format!("quantize_{name}"), n), |b| {
                b.iter(|| quantize_blocks(f, black_box(&x), &mut blocks).unwrap())
            });
            group.sample_size(20);
            group.bench_function(BenchmarkId::new(format!("dequantize_{name}"), n), |b| {
                b.iter(|| dequantize_blocks(f, black_box(&blocks), &mut out).unwrap())
            });
        }
        // NF4/FP4 codebooks in blocks of 64 (bitsandbytes' default).
        let bs = 64;
        let mut codes = vec![0u8; codes_len(n)];
        let mut absmax = vec![0.0f32; absmax_len(n, bs)];
        for book in Codebook::ALL {
            let name = book.name();
            group.bench_function(BenchmarkId::new(format!("quantize_{name}_64"), n), |b| {
                b.iter(|| {
                    quantize_codebook(book, black_box(&x), bs, &mut codes, &mut absmax).unwrap()
                })
            });
            group.bench_function(BenchmarkId::new(format!("dequantize_{name}_64"), n), |b| {
                b.iter(|| {
                    dequantize_codebook(book, black_box(&codes), bs, &absmax, &mut out).unwrap()
                })
            });
        }
        group.finish();
    }
}

/// Reads every word (XOR of all of them) at the widest vector width this CPU has, with several
/// independent accumulators, so the read baseline is limited by the memory system, not by the
/// loop. (The library's own kernels use the same widths.)
fn read_all(words: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available.
            return unsafe { read_avx512::<false>(words) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available.
            return unsafe { read_avx2::<false>(words) };
        }
    }
    xor_words::<false>(words)
}

/// [`read_all`] with software prefetching, as the library's streaming kernels do: on this class
/// of machine a single thread reads markedly faster with it, so this is the stricter baseline.
fn read_all_prefetch(words: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available.
            return unsafe { read_avx512::<true>(words) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available.
            return unsafe { read_avx2::<true>(words) };
        }
    }
    xor_words::<true>(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn read_avx512<const PREFETCH: bool>(words: &[u64]) -> u64 {
    xor_words::<PREFETCH>(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_avx2<const PREFETCH: bool>(words: &[u64]) -> u64 {
    xor_words::<PREFETCH>(words)
}

/// XOR of all words through 32 independent lanes (four 512-bit or eight 256-bit vectors),
/// optionally prefetching 8 KiB ahead as the library's streaming kernels do.
#[inline(always)]
// The index only steers the x86-64 prefetch.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn xor_words<const PREFETCH: bool>(words: &[u64]) -> u64 {
    let mut acc = [0u64; 32];
    let mut chunks = words.chunks_exact(32);
    for (i, c) in (&mut chunks).enumerate() {
        #[cfg(target_arch = "x86_64")]
        for l in 0..4 * usize::from(PREFETCH) {
            let ahead = words.as_ptr().wrapping_add(32 * i + 1024 + 8 * l);
            // SAFETY: a prefetch accepts any address and never faults.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    ahead.cast(),
                )
            };
        }
        for (a, &w) in acc.iter_mut().zip(c) {
            *a ^= w;
        }
    }
    let tail = chunks.remainder().iter().fold(0u64, |a, &w| a ^ w);
    acc.iter().fold(tail, |a, &w| a ^ w)
}

/// The floats' bytes as u64 words (for a read baseline that vectorises).
fn bytemuck_u64(x: &[f32]) -> &[u64] {
    // SAFETY: any bit pattern is a valid u64.
    let (head, words, _) = unsafe { x.align_to::<u64>() };
    assert!(head.is_empty());
    words
}

/// `QUANTIZE_BENCH_RATIOS=1 cargo bench --bench throughput`: instead of criterion, time each
/// operation alternately with its baseline (read for quantizers, write for dequantizers) and
/// print the best time of each over many rounds as a ratio. `QUANTIZE_BENCH_FILTER=a,b` keeps
/// only the operations whose name contains one of the comma-separated texts (`QUANTIZE_BENCH_SIZES`
/// = `out` or `in` keeps only the out-of-cache or in-cache size). On a shared, loaded machine the best
/// of many alternating rounds is far steadier than baselines measured minutes apart.
fn ratios() {
    let level = quantize::kernel_name();
    println!(
        "level {level}: op GiB/s, baseline GiB/s, ratio; for quantizers also the prefetching \
         read baseline and the ratio to it (float32 bytes / best time)"
    );
    let sizes = std::env::var("QUANTIZE_BENCH_SIZES").unwrap_or_default();
    for n in SIZES {
        if (sizes == "out" && n <= 1 << 16) || (sizes == "in" && n > 1 << 16) {
            continue;
        }
        let x = data(n);
        let (rounds, reps) = if n <= 1 << 16 { (300, 10) } else { (25, 1) };
        let mut sink = vec![0.0f32; n];
        let mut read = || {
            black_box(read_all(bytemuck_u64(black_box(&x))));
        };
        let mut read_pf = || {
            black_box(read_all_prefetch(bytemuck_u64(black_box(&x))));
        };
        let mut write = || {
            sink.fill(black_box(1.5));
            black_box(&sink);
        };
        let filter = std::env::var("QUANTIZE_BENCH_FILTER").unwrap_or_default();
        let mut run = |name: &str, base: &mut dyn FnMut(), op: &mut dyn FnMut()| {
            if !filter.split(',').any(|f| name.contains(f)) {
                return;
            }
            let quantizer = !name.starts_with("de");
            let time = |f: &mut dyn FnMut()| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                t.elapsed().as_secs_f64() / reps as f64
            };
            let (mut tb, mut to, mut tp) = (f64::MAX, f64::MAX, f64::MAX);
            for _ in 0..rounds {
                tb = tb.min(time(base));
                to = to.min(time(op));
                if quantizer {
                    tp = tp.min(time(&mut read_pf));
                }
            }
            let gib = |t: f64| (n * 4) as f64 / t / (1u64 << 30) as f64;
            let pf = if quantizer {
                format!("{:>7.2}  {:.2}", gib(tp), tp / to)
            } else {
                String::new()
            };
            println!(
                "{n:>9} {name:<28} {:>7.2} {:>7.2}  {:.2}   {pf}",
                gib(to),
                gib(tb),
                tb / to
            );
        };
        let mut packed = vec![0u8; packed_len(n)];
        let mut out = vec![0.0f32; n];
        let p = quantize_to_int4_packed(&x, ScaleMethod::MinMax, &mut packed).unwrap();
        run("quantize_to_int4_packed", &mut read, &mut || {
            quantize_to_int4_packed(black_box(&x), ScaleMethod::MinMax, &mut packed).unwrap();
        });
        run("dequantize_from_int4_packed", &mut write, &mut || {
            dequantize_from_int4_packed(black_box(&packed), p, &mut out).unwrap();
        });
        for gs in [32, 128] {
            let count = group_count(n, gs);
            let (mut scales, mut zps) = (vec![0.0f32; count], vec![0i8; count]);
            run(
                &format!("quantize_int4_groups_{gs}"),
                &mut read,
                &mut || {
                    quantize_int4_groups(
                        black_box(&x),
                        gs,
                        ScaleMethod::MinMax,
                        &mut packed,
                        &mut scales,
                        &mut zps,
                    )
                    .unwrap();
                },
            );
            run(
                &format!("dequantize_int4_groups_{gs}"),
                &mut write,
                &mut || {
                    dequantize_int4_groups(black_box(&packed), gs, &scales, &zps, &mut out)
                        .unwrap();
                },
            );
        }
        for f in BlockFormat::ALL {
            let mut blocks = vec![0u8; blocks_len(f, n).unwrap()];
            let name = f.name();
            // The scale searches are slow on the scalar level out of cache: in cache only.
            let slow = matches!(
                f,
                BlockFormat::Iq4Nl | BlockFormat::Q4K | BlockFormat::Iq4Xs
            ) && level == "scalar";
            if !slow || n <= 1 << 16 {
                run(&format!("quantize_{name}"), &mut read, &mut || {
                    quantize_blocks(f, black_box(&x), &mut blocks).unwrap();
                });
            }
            quantize_blocks(f, &x, &mut blocks).unwrap();
            run(&format!("dequantize_{name}"), &mut write, &mut || {
                dequantize_blocks(f, black_box(&blocks), &mut out).unwrap();
            });
        }
        let mut codes = vec![0u8; codes_len(n)];
        let mut absmax = vec![0.0f32; absmax_len(n, 64)];
        for book in Codebook::ALL {
            let name = book.name();
            run(&format!("quantize_{name}_64"), &mut read, &mut || {
                quantize_codebook(book, black_box(&x), 64, &mut codes, &mut absmax).unwrap();
            });
            run(&format!("dequantize_{name}_64"), &mut write, &mut || {
                dequantize_codebook(book, black_box(&codes), 64, &absmax, &mut out).unwrap();
            });
        }
    }
}

/// A half-precision output buffer of type `t`.
fn out_of(t: FloatType, d: &mut [u16]) -> FloatsMut<'_> {
    match t {
        FloatType::F16 => FloatsMut::F16(d),
        _ => FloatsMut::Bf16(d),
    }
}

/// Half-precision input and output against float32, in the ratios mode: each `_from` (`_into`)
/// operation on float16 and bfloat16 data timed alternately with the same operation on the
/// float32 data (the same values), best of many rounds, printed as values per second of both and
/// the ratio half / float32 (above 1: the half-precision path processes more values per second).
/// `QUANTIZE_BENCH_FILTER=half` runs only these rows (after the small-input table).
fn half_ratios() {
    let level = quantize::kernel_name();
    println!(
        "level {level}: half precision against float32, G values/s of float32 and of half, \
         ratio half / float32"
    );
    let filter = std::env::var("QUANTIZE_BENCH_FILTER").unwrap_or_default();
    for n in SIZES {
        let x = data(n);
        let f16: Vec<u16> = x.iter().map(|&v| f32_to_f16(v)).collect();
        let bf16: Vec<u16> = x.iter().map(|&v| f32_to_bf16(v)).collect();
        let half = |t: FloatType| -> Floats<'_> {
            match t {
                FloatType::F16 => Floats::F16(&f16),
                _ => Floats::Bf16(&bf16),
            }
        };
        let (rounds, reps) = if n <= 1 << 16 { (300, 10) } else { (25, 1) };
        let run =
            |name: &str, t: FloatType, f32_op: &mut dyn FnMut(), half_op: &mut dyn FnMut()| {
                let name = format!("half {name} {}", t.name());
                if !name.contains(filter.as_str()) {
                    return;
                }
                let time = |f: &mut dyn FnMut()| {
                    let t = Instant::now();
                    for _ in 0..reps {
                        f();
                    }
                    t.elapsed().as_secs_f64() / reps as f64
                };
                // At most about 3 s per row (Q4_K, IQ4_XS and the scalar level are slow), at
                // least 5 rounds.
                let (mut tf, mut th) = (f64::MAX, f64::MAX);
                let begin = Instant::now();
                for r in 0..rounds {
                    tf = tf.min(time(f32_op));
                    th = th.min(time(half_op));
                    if r >= 4 && begin.elapsed() > Duration::from_secs(3) {
                        break;
                    }
                }
                let gv = |t: f64| n as f64 / t / 1e9;
                println!(
                    "{n:>9} {name:<34} {:>7.2} {:>7.2}  {:.2}",
                    gv(tf),
                    gv(th),
                    tf / th
                );
            };
        // Separate outputs for the float32 and the half-precision operation (timed alternately).
        let (mut pa, mut pb) = (vec![0u8; packed_len(n)], vec![0u8; packed_len(n)]);
        let mut out = vec![0.0f32; n];
        let mut out16 = vec![0u16; n];
        let count = group_count(n, 32);
        let (mut sa, mut za) = (vec![0.0f32; count], vec![0i8; count]);
        let (mut sb, mut zb) = (vec![0.0f32; count], vec![0i8; count]);
        let (mut ca, mut cb) = (vec![0u8; codes_len(n)], vec![0u8; codes_len(n)]);
        let (mut aa, mut ab) = (
            vec![0.0f32; absmax_len(n, 64)],
            vec![0.0f32; absmax_len(n, 64)],
        );
        for t in [FloatType::F16, FloatType::Bf16] {
            run(
                "quantize_to_int4_packed_from",
                t,
                &mut || {
                    quantize_to_int4_packed(black_box(&x), ScaleMethod::MinMax, &mut pa).unwrap();
                },
                &mut || {
                    quantize_to_int4_packed_from(black_box(half(t)), ScaleMethod::MinMax, &mut pb)
                        .unwrap();
                },
            );
            let p = quantize_to_int4_packed(&x, ScaleMethod::MinMax, &mut pa).unwrap();
            run(
                "dequantize_from_int4_packed_into",
                t,
                &mut || dequantize_from_int4_packed(black_box(&pa), p, &mut out).unwrap(),
                &mut || {
                    dequantize_from_int4_packed_into(black_box(&pa), p, out_of(t, &mut out16))
                        .unwrap();
                },
            );
            run(
                "quantize_int4_groups_from_32",
                t,
                &mut || {
                    let m = ScaleMethod::MinMax;
                    quantize_int4_groups(black_box(&x), 32, m, &mut pa, &mut sa, &mut za).unwrap();
                },
                &mut || {
                    let m = ScaleMethod::MinMax;
                    quantize_int4_groups_from(black_box(half(t)), 32, m, &mut pb, &mut sb, &mut zb)
                        .unwrap();
                },
            );
            run(
                "dequantize_int4_groups_into_32",
                t,
                &mut || dequantize_int4_groups(black_box(&pa), 32, &sa, &za, &mut out).unwrap(),
                &mut || {
                    dequantize_int4_groups_into(
                        black_box(&pa),
                        32,
                        &sa,
                        &za,
                        out_of(t, &mut out16),
                    )
                    .unwrap();
                },
            );
            for f in BlockFormat::ALL {
                let mut ba = vec![0u8; blocks_len(f, n).unwrap()];
                let mut bb = ba.clone();
                let name = f.name();
                // Out of cache, skip the quantizers that are far from memory speed anyway (their
                // in-cache rows show the conversions' cost): seconds per call.
                let slow = match f {
                    BlockFormat::Q4K | BlockFormat::Iq4Xs => true,
                    BlockFormat::Iq4Nl => level == "scalar",
                    _ => false,
                };
                if !slow || n <= 1 << 16 {
                    run(
                        &format!("quantize_blocks_from {name}"),
                        t,
                        &mut || quantize_blocks(f, black_box(&x), &mut ba).unwrap(),
                        &mut || quantize_blocks_from(f, black_box(half(t)), &mut bb).unwrap(),
                    );
                }
                quantize_blocks(f, &x, &mut ba).unwrap();
                run(
                    &format!("dequantize_blocks_into {name}"),
                    t,
                    &mut || dequantize_blocks(f, black_box(&ba), &mut out).unwrap(),
                    &mut || {
                        dequantize_blocks_into(f, black_box(&ba), out_of(t, &mut out16)).unwrap();
                    },
                );
            }
            for book in Codebook::ALL {
                let name = book.name();
                run(
                    &format!("quantize_codebook_from {name}_64"),
                    t,
                    &mut || {
                        quantize_codebook(book, black_box(&x), 64, &mut ca, &mut aa).unwrap();
                    },
                    &mut || {
                        quantize_codebook_from(book, black_box(half(t)), 64, &mut cb, &mut ab)
                            .unwrap();
                    },
                );
                run(
                    &format!("dequantize_codebook_into {name}_64"),
                    t,
                    &mut || dequantize_codebook(book, black_box(&ca), 64, &aa, &mut out).unwrap(),
                    &mut || {
                        dequantize_codebook_into(
                            book,
                            black_box(&ca),
                            64,
                            &aa,
                            out_of(t, &mut out16),
                        )
                        .unwrap();
                    },
                );
            }
        }
    }
}

/// Nanoseconds per call on small inputs (n < 64), for comparing levels: the SIMD kernels must
/// not be slower than the scalar ones there.
fn small_inputs() {
    let level = quantize::kernel_name();
    println!("level {level}: small inputs, best ns per call");
    let time = |f: &mut dyn FnMut()| {
        let mut best = f64::MAX;
        for _ in 0..200 {
            let t = Instant::now();
            for _ in 0..100 {
                f();
            }
            best = best.min(t.elapsed().as_secs_f64() / 100.0);
        }
        best * 1e9
    };
    for n in [1usize, 7, 32, 63] {
        let x = data(n);
        let mut packed = vec![0u8; packed_len(n)];
        let mut out = vec![0.0f32; n];
        let t1 = time(&mut || {
            quantize_to_int4_packed(black_box(&x), ScaleMethod::MinMax, &mut packed).unwrap();
        });
        let p = quantize_to_int4_packed(&x, ScaleMethod::MinMax, &mut packed).unwrap();
        let t2 = time(&mut || {
            dequantize_from_int4_packed(black_box(&packed), p, &mut out).unwrap();
        });
        let count = group_count(n, 32);
        let (mut scales, mut zps) = (vec![0.0f32; count], vec![0i8; count]);
        let t3 = time(&mut || {
            quantize_int4_groups(
                black_box(&x),
                32,
                ScaleMethod::MinMax,
                &mut packed,
                &mut scales,
                &mut zps,
            )
            .unwrap();
        });
        let mut codes = vec![0u8; codes_len(n)];
        let mut absmax = vec![0.0f32; absmax_len(n, 64)];
        let t4 = time(&mut || {
            quantize_codebook(Codebook::Nf4, black_box(&x), 64, &mut codes, &mut absmax).unwrap();
        });
        let t5 = time(&mut || {
            dequantize_codebook(Codebook::Nf4, black_box(&codes), 64, &absmax, &mut out).unwrap();
        });
        println!(
            "n={n:>2}: int4 packed q {t1:6.1} dq {t2:6.1} | groups32 q {t3:6.1} | nf4 q {t4:6.1} dq {t5:6.1}"
        );
    }
    for f in BlockFormat::ALL {
        // One block: 32 values, 64 (NVFP4) or 256 (Q4_K, IQ4_XS).
        let x = data(f.elements());
        let mut blocks = vec![0u8; f.bytes()];
        let mut out = vec![0.0f32; f.elements()];
        let tq = time(&mut || quantize_blocks(f, black_box(&x), &mut blocks).unwrap());
        let td = time(&mut || dequantize_blocks(f, black_box(&blocks), &mut out).unwrap());
        println!(
            "one {} block: quantize {tq:6.1} dequantize {td:6.1}",
            f.name()
        );
    }
}

/// The operations of the all-levels table, in its row order: (row name, quantizer or not).
const LEVEL_ROWS: [(&str, bool); 21] = [
    ("Q4_0 quantize", true),
    ("Q4_0 dequantize", false),
    ("Q4_1 quantize", true),
    ("Q4_1 dequantize", false),
    ("MXFP4 quantize", true),
    ("MXFP4 dequantize", false),
    ("IQ4_NL quantize", true),
    ("IQ4_NL dequantize", false),
    ("Q4_K quantize", true),
    ("Q4_K dequantize", false),
    ("IQ4_XS quantize", true),
    ("IQ4_XS dequantize", false),
    ("NVFP4 quantize", true),
    ("NVFP4 dequantize", false),
    ("groups-32 absmax quantize", true),
    ("groups-32 absmax dequantize", false),
    ("groups-128 minmax quantize", true),
    ("groups-128 minmax dequantize", false),
    ("per-tensor quantize packed", true),
    ("NF4-64 quantize", true),
    ("NF4-64 dequantize", false),
];

/// Child of [`all_levels`] (`QUANTIZE_BENCH_LEVELS=child`, the level fixed by QUANTIZE_MAX_ISA):
/// times each operation of [`LEVEL_ROWS`] alternately with its baseline (the prefetching read
/// for quantizers, the write for dequantizers), best of the rounds that fit in QUANTIZE_BENCH_ROW_SECONDS (default
/// 1; at least one round, so an operation slower than that still gets one), and prints one line
/// per operation and size: `row<TAB>level<TAB>n<TAB>name<TAB>op seconds<TAB>baseline seconds`.
fn level_rows() {
    let level = quantize::kernel_name();
    let budget: f64 = std::env::var("QUANTIZE_BENCH_ROW_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let sizes = std::env::var("QUANTIZE_BENCH_SIZES").unwrap_or_default();
    let filter = std::env::var("QUANTIZE_BENCH_FILTER").unwrap_or_default();
    for n in SIZES {
        if (sizes == "out" && n <= 1 << 16) || (sizes == "in" && n > 1 << 16) {
            continue;
        }
        let x = data(n);
        // In cache one call is microseconds: time batches of 10.
        let (max_rounds, reps) = if n <= 1 << 16 { (300, 10) } else { (25, 1) };
        let mut sink = vec![0.0f32; n];
        // The prefetching read: on some machines (this project's shared VMs among them) a plain
        // streaming read out of cache runs at a tenth of the memory bandwidth, which would make
        // every quantizer look faster than reading its input.
        let mut read = || {
            black_box(read_all_prefetch(bytemuck_u64(black_box(&x))));
        };
        let mut write = || {
            sink.fill(black_box(1.5));
            black_box(&sink);
        };
        let mut run = |row: usize, op: &mut dyn FnMut()| {
            let (name, quantizer) = LEVEL_ROWS[row];
            if !filter.split(',').any(|f| name.contains(f)) {
                return;
            }
            let base: &mut dyn FnMut() = if quantizer { &mut read } else { &mut write };
            let time = |f: &mut dyn FnMut()| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                t.elapsed().as_secs_f64() / reps as f64
            };
            let (mut tb, mut to) = (f64::MAX, f64::MAX);
            let begin = Instant::now();
            for _ in 0..max_rounds {
                tb = tb.min(time(base));
                to = to.min(time(op));
                if begin.elapsed().as_secs_f64() > budget {
                    break;
                }
            }
            println!("row\t{level}\t{n}\t{name}\t{to:e}\t{tb:e}");
        };
        let mut out = vec![0.0f32; n];
        let mut row = 0;
        for f in [
            BlockFormat::Q4_0,
            BlockFormat::Q4_1,
            BlockFormat::Mxfp4,
            BlockFormat::Iq4Nl,
            BlockFormat::Q4K,
            BlockFormat::Iq4Xs,
            BlockFormat::Nvfp4,
        ] {
            let mut blocks = vec![0u8; blocks_len(f, n).unwrap()];
            run(row, &mut || {
                quantize_blocks(f, black_box(&x), &mut blocks).unwrap();
            });
            quantize_blocks(f, &x, &mut blocks).unwrap();
            run(row + 1, &mut || {
                dequantize_blocks(f, black_box(&blocks), &mut out).unwrap();
            });
            row += 2;
        }
        let mut packed = vec![0u8; packed_len(n)];
        let count = group_count(n, 32);
        let (mut scales, mut zps) = (vec![0.0f32; count], vec![0i8; 0]);
        run(row, &mut || {
            let m = ScaleMethod::AbsMax;
            quantize_int4_groups(black_box(&x), 32, m, &mut packed, &mut scales, &mut zps).unwrap();
        });
        quantize_int4_groups(
            &x,
            32,
            ScaleMethod::AbsMax,
            &mut packed,
            &mut scales,
            &mut zps,
        )
        .unwrap();
        run(row + 1, &mut || {
            dequantize_int4_groups(black_box(&packed), 32, &scales, &zps, &mut out).unwrap();
        });
        // Groups of 128 with zero points: GPTQ's and AWQ's shape.
        let count = group_count(n, 128);
        let (mut scales, mut zps) = (vec![0.0f32; count], vec![0i8; count]);
        let m = ScaleMethod::MinMax;
        run(row + 2, &mut || {
            quantize_int4_groups(black_box(&x), 128, m, &mut packed, &mut scales, &mut zps)
                .unwrap();
        });
        quantize_int4_groups(&x, 128, m, &mut packed, &mut scales, &mut zps).unwrap();
        run(row + 3, &mut || {
            dequantize_int4_groups(black_box(&packed), 128, &scales, &zps, &mut out).unwrap();
        });
        run(row + 4, &mut || {
            quantize_to_int4_packed(black_box(&x), ScaleMethod::MinMax, &mut packed).unwrap();
        });
        let mut codes = vec![0u8; codes_len(n)];
        let mut absmax = vec![0.0f32; absmax_len(n, 64)];
        let book = Codebook::Nf4;
        run(row + 5, &mut || {
            quantize_codebook(book, black_box(&x), 64, &mut codes, &mut absmax).unwrap();
        });
        quantize_codebook(book, &x, 64, &mut codes, &mut absmax).unwrap();
        run(row + 6, &mut || {
            dequantize_codebook(book, black_box(&codes), 64, &absmax, &mut out).unwrap();
        });
    }
}

/// `QUANTIZE_BENCH_LEVELS=all`: runs this binary once per SIMD level this CPU has (the child
/// mode [`level_rows`], with QUANTIZE_MAX_ISA set; a cap this CPU cannot reach gives a lower
/// level, which is then not repeated) and prints one Markdown table per size: GB/s of float32
/// per level and the ratio to the read (quantizers: the prefetching read) or write
/// (dequantizers) baseline measured alternately in the same process. The CPU model and the load average come first.
/// QUANTIZE_BENCH_FILTER, QUANTIZE_BENCH_SIZES and QUANTIZE_BENCH_ROW_SECONDS are passed on.
fn all_levels() {
    let exe = std::env::current_exe().expect("the bench's own path");
    let first_line = |path: &str, key: &str| -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        let line = text
            .lines()
            .find(|l| key.is_empty() || l.starts_with(key))?;
        Some(
            line.split_once(':')
                .map_or(line, |(_, v)| v)
                .trim()
                .to_string(),
        )
    };
    let cpu = first_line("/proc/cpuinfo", "model name")
        .or_else(|| first_line("/proc/cpuinfo", "CPU part").map(|p| format!("CPU part {p}")))
        .unwrap_or_else(|| "unknown CPU".into());
    let load = first_line("/proc/loadavg", "").map_or_else(
        || "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    );
    println!("CPU: {cpu}; load average at start: {load}\n");
    // (level, n, name) -> (op seconds, baseline seconds)
    let mut rows: Vec<(String, usize, String, f64, f64)> = Vec::new();
    let mut levels: Vec<String> = Vec::new();
    let child = |cap: &str, mode: &str| {
        let out = Command::new(&exe)
            .env("QUANTIZE_BENCH_LEVELS", mode)
            .env("QUANTIZE_MAX_ISA", cap)
            .env_remove("QUANTIZE_BENCH_RATIOS")
            .output()
            .expect("the bench re-run for one level");
        assert!(out.status.success(), "level {cap}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for cap in ["avx512", "avx2", "neon", "scalar"] {
        // A cap this CPU cannot reach gives a lower level: measure each level once.
        let level = child(cap, "name").trim().to_string();
        if levels.contains(&level) {
            continue;
        }
        levels.push(level);
        for line in child(cap, "child").lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 6 || f[0] != "row" {
                continue;
            }
            let t = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            rows.push((
                f[1].into(),
                f[2].parse().unwrap_or(0),
                f[3].into(),
                t(f[4]),
                t(f[5]),
            ));
        }
    }
    for n in SIZES {
        if !rows.iter().any(|r| r.1 == n) {
            continue;
        }
        let place = if n > 1 << 16 {
            "out of cache"
        } else {
            "in cache"
        };
        println!(
            "{} MiB of float32 ({place}): GB/s of float32, and × the read (quantizers; a read \
             with software prefetching, as the SIMD kernels do) or write (dequantizers) baseline \
             timed alternately in the same process\n",
            n as f64 * 4.0 / (1u64 << 20) as f64
        );
        let mut head = String::from("| operation |");
        let mut rule = String::from("|---|");
        for l in &levels {
            head += &format!(" {l} GB/s | {l} × base |");
            rule += "---:|---:|";
        }
        println!("{head}\n{rule}");
        let gb = |t: f64| n as f64 * 4.0 / t / 1e9;
        // The baselines, as the best over every row of the level.
        for (base, quantizer) in [
            ("read baseline (prefetching)", true),
            ("write baseline", false),
        ] {
            let mut line = format!("| {base} |");
            for l in &levels {
                let best = rows
                    .iter()
                    .filter(|r| &r.0 == l && r.1 == n)
                    .filter(|r| LEVEL_ROWS.iter().any(|&(o, q)| o == r.2 && q == quantizer))
                    .map(|r| r.4)
                    .fold(f64::MAX, f64::min);
                line += &if best < f64::MAX {
                    format!(" {:.1} | 1 |", gb(best))
                } else {
                    " | |".into()
                };
            }
            println!("{line}");
        }
        for (name, _) in LEVEL_ROWS {
            let mut line = format!("| {name} |");
            let mut any = false;
            for l in &levels {
                match rows.iter().find(|r| &r.0 == l && r.1 == n && r.2 == name) {
                    Some(r) => {
                        any = true;
                        line += &format!(" {:.2} | {:.2} |", gb(r.3), r.4 / r.3);
                    }
                    None => line += " | |",
                }
            }
            if any {
                println!("{line}");
            }
        }
        println!();
    }
    let load = first_line("/proc/loadavg", "").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("load average at the end: {}", load.join(" "));
}

criterion_group!(throughput, benches);

fn main() {
    match std::env::var("QUANTIZE_BENCH_LEVELS").as_deref() {
        Ok("all") => return all_levels(),
        Ok("child") => return level_rows(),
        Ok("name") => return println!("{}", quantize::kernel_name()),
        _ => {}
    }
    if std::env::var_os("QUANTIZE_BENCH_RATIOS").is_some() {
        small_inputs();
        ratios();
        half_ratios();
        return;
    }
    if std::env::var_os("QUANTIZE_BENCH_SMALL").is_some() {
        small_inputs();
        return;
    }
    throughput();
    Criterion::default().configure_from_args().final_summary();
}
