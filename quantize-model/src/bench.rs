//! `quantize-model bench`: how fast the tool is against the machine, in one run.
//!
//! It writes a model larger than the last-level cache (BF16 tensors of normal values) to a
//! scratch folder, then measures, alternately and best of several rounds (these machines are
//! shared and noisy, so ratios from one run are what counts):
//! - a plain read of the model file's pages with 1..=N threads (the memory-bound baseline: the
//!   file is in the page cache, mapped as the tool maps it);
//! - the library's own single call (`quantize_blocks_from` over one whole tensor, one thread);
//! - the tool itself (`convert::run`, no statistics) with 1..=N threads;
//! - writing as many bytes as the tool's output to a file in the same folder, with the fsync the
//!   tool does (the file system's speed bounds the tool's too);
//!
//! and prints GB/s of input read and the ratios the project's targets are stated in.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use quantize::formats::{blocks_len, quantize_blocks_from, BlockFormat};
use quantize::Floats;

use crate::{convert, safetensors_file, testmodel};

/// Rows and columns of each tensor (BF16): 32 MiB each.
const ROWS: usize = 4096;
const COLS: usize = 4096;

/// Writes `dir/model.safetensors` of `tensors` BF16 tensors; returns its size in bytes.
fn write_model(dir: &Path, tensors: usize) -> Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let data: Vec<Vec<u8>> = (0..tensors)
        .map(|i| testmodel::bf16_bytes(&testmodel::normal(100 + i as u64, ROWS * COLS, 0.02)))
        .collect();
    let names: Vec<String> = (0..tensors).map(|i| format!("layers.{i}.weight")).collect();
    let shape = [ROWS as u64, COLS as u64];
    let refs: Vec<(&str, &str, &[u64], &[u8])> = names
        .iter()
        .zip(&data)
        .map(|(n, d)| (n.as_str(), "BF16", &shape[..], d.as_slice()))
        .collect();
    let file = safetensors_file::write(&refs, &[]);
    let p = dir.join("model.safetensors");
    std::fs::write(&p, &file).with_context(|| format!("{}: cannot write", p.display()))?;
    Ok(file.len() as u64)
}

/// Reads every 8-byte word of `bytes` with `threads` threads (one contiguous share each).
fn read_all(bytes: &[u8], threads: usize) -> u64 {
    let share = bytes.len().div_ceil(threads).next_multiple_of(64);
    std::thread::scope(|s| {
        let handles: Vec<_> = bytes
            .chunks(share)
            .map(|part| {
                s.spawn(move || {
                    let mut acc = [0u64; 4];
                    for c in part.chunks_exact(32) {
                        for (a, w) in acc.iter_mut().zip(c.chunks_exact(8)) {
                            *a ^= u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
                        }
                    }
                    acc.iter().fold(0, |x, y| x ^ y)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .fold(0, |x, y| x ^ y)
    })
}

/// The best of `rounds` timings of `f`, in seconds.
fn best(rounds: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut t = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        f()?;
        t = t.min(start.elapsed().as_secs_f64());
    }
    Ok(t)
}

/// Runs the benchmark for `format` on a model of `tensors` 32 MiB tensors in `dir` (removed
/// afterwards), with up to `max_threads` threads.
pub fn run(dir: &Path, format: BlockFormat, tensors: usize, max_threads: usize) -> Result<()> {
    let size = write_model(dir, tensors)?;
    let input = dir.join("model.safetensors");
    let output = dir.join("out.gguf");
    let file = std::fs::File::open(&input)?;
    // SAFETY: the file is ours, written above, and nothing changes it while mapped.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let gb = size as f64 / 1e9;
    let rounds = 5;

    // The library's single call on one tensor, as BF16 bit patterns.
    let one: Vec<u16> = testmodel::bf16_bytes(&testmodel::normal(7, ROWS * COLS, 0.02))
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut dst = vec![0u8; blocks_len(format, one.len())?];
    let t_lib = best(rounds, || {
        quantize_blocks_from(format, Floats::Bf16(&one), &mut dst).map_err(anyhow::Error::from)
    })?;
    let lib_gbs = (one.len() * 2) as f64 / 1e9 / t_lib;

    println!(
        "model: {tensors} BF16 tensors of {ROWS}x{COLS}, {:.0} MiB; format {}; best of {rounds}",
        size as f64 / (1 << 20) as f64,
        format.name()
    );
    println!("library, one call on one tensor (1 thread): {lib_gbs:.2} GB/s of BF16 read");
    // The output's size, then a plain write of that many bytes with an fsync, in input GB/s.
    let probe = convert::Options {
        input: input.clone(),
        output: output.clone(),
        format,
        threads: 1,
        keep: Vec::new(),
        progress: false,
        stats: false,
        report: None,
    };
    convert::run(&probe)?;
    let out_len = std::fs::metadata(&output)?.len() as usize;
    let zeros = vec![0u8; out_len];
    let scratch = dir.join("write-baseline");
    let t_write = best(rounds, || {
        use std::io::Write;
        let mut f = std::fs::File::create(&scratch)?;
        f.write_all(&zeros)?;
        f.sync_all()?;
        Ok(())
    })?;
    println!(
        "plain write of the {:.0} MiB output with fsync: {:.2} GB/s, i.e. {:.2} GB/s of input",
        out_len as f64 / (1 << 20) as f64,
        out_len as f64 / 1e9 / t_write,
        gb / t_write
    );
    println!();
    println!("| threads | plain read GB/s | quantize-model GB/s | tool / read | tool / library (1 thread) | tool / write bound |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for threads in 1..=max_threads {
        let mut sink = 0u64;
        let t_read = best(rounds, || {
            sink ^= read_all(&map, threads);
            Ok(())
        })?;
        let opts = convert::Options {
            input: input.clone(),
            output: output.clone(),
            format,
            threads,
            keep: Vec::new(),
            progress: false,
            stats: false,
            report: None,
        };
        let t_tool = best(rounds, || convert::run(&opts).map(|_| ()))?;
        let (read_gbs, tool_gbs) = (gb / t_read, gb / t_tool);
        println!(
            "| {threads} | {read_gbs:.2} | {tool_gbs:.2} | {:.2} | {:.2} | {:.2} |{}",
            tool_gbs / read_gbs,
            tool_gbs / lib_gbs,
            tool_gbs / (gb / t_write),
            if sink == 42 { " " } else { "" } // keeps the reads alive
        );
    }
    drop(map);
    std::fs::remove_dir_all(dir).with_context(|| format!("{}: cannot remove", dir.display()))?;
    Ok(())
}
