//! The conversion: plan every tensor, write the GGUF header, then stream the tensors in order
//! (copied, or quantized in parallel row chunks), into a temporary file renamed at the end.

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quantize::formats::{dequantize_blocks, quantize_blocks_from, BlockFormat};
use quantize::Error as QError;
use quantize::Floats;
use rayon::prelude::*;
use regex::Regex;

use crate::ggml;
use crate::gguf::{self, Value};
use crate::input::{self, Model, Tensor};

/// Input bytes per parallel work item: big enough to amortise the task, small enough that
/// threads x 4 of them (one batch in flight) stay a few tens of MiB whatever the model size.
const CHUNK_BYTES: usize = 4 << 20;
/// Work items per thread in one batch: some slack so a slow item does not idle the others.
const CHUNKS_PER_THREAD: usize = 4;

pub struct Options {
    pub input: PathBuf,
    pub output: PathBuf,
    pub format: BlockFormat,
    pub threads: usize,
    pub keep: Vec<Regex>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Measure each quantized tensor's SQNR (costs a dequantization; skipped when nobody
    /// will see it).
    pub stats: bool,
    pub report: Option<PathBuf>,
}

/// One row of the final table.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    pub name: String,
    /// Outermost first (PyTorch/numpy order).
    pub shape: Vec<u64>,
    pub type_in: String,
    pub type_out: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub quantized: bool,
    /// None for copied tensors (and when statistics were not asked for).
    pub sqnr_db: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub input: PathBuf,
    pub output: PathBuf,
    pub format: BlockFormat,
    pub tensors: Vec<TensorReport>,
    pub seconds: f64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// A file that is removed when dropped unless kept: every error path (and a panic's unwinding)
/// takes the temporary output away with it.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
        forget_temp(&self.path);
    }
}

/// Temporary files in existence, for [`remove_temp_files`] (a signal skips the destructors).
static TEMPS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn forget_temp(p: &Path) {
    if let Ok(mut v) = TEMPS.lock() {
        v.retain(|q| q != p);
    }
}

/// Removes every temporary file this process still has: the SIGINT/SIGTERM handler's cleanup,
/// so an interrupted run leaves nothing behind either.
pub fn remove_temp_files() {
    if let Ok(v) = TEMPS.lock() {
        for p in v.iter() {
            let _ = fs::remove_file(p);
        }
    }
}

/// The folder a path is in ("." for a bare name) and its file name.
fn split_path(p: &Path, what: &str) -> Result<(PathBuf, std::ffi::OsString)> {
    let name = p
        .file_name()
        .ok_or_else(|| anyhow!("{}: {what} is not a file path", p.display()))?
        .to_os_string();
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok((dir, name)),
        _ => bail!(
            "{}: {what} folder {} does not exist",
            p.display(),
            dir.display()
        ),
    }
}

/// Whether `a` (which may not exist) is the same file as `b`: same device and inode, which
/// also catches hard links, symlinks and different spellings of one path.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn temp_path(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let mut n = std::ffi::OsString::from(".");
    n.push(name);
    n.push(format!(".tmp-{}", std::process::id()));
    dir.join(n)
}

fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> Result<(File, TempFile)> {
    let path = temp_path(dir, name);
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    if let Ok(mut v) = TEMPS.lock() {
        v.push(path.clone());
    }
    Ok((f, TempFile { path, keep: false }))
}

fn finish(f: File, mut tmp: TempFile, dest: &Path, dir: &Path) -> Result<()> {
    f.sync_all()
        .with_context(|| format!("{}: cannot sync", tmp.path.display()))?;
    drop(f);
    fs::rename(&tmp.path, dest)
        .with_context(|| format!("{}: cannot rename into place", dest.display()))?;
    tmp.keep = true;
    // Make the rename itself durable; a failure here leaves a complete file, so it is ignored.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What becomes of one input tensor.
struct Plan {
    quantize: bool,
    out: gguf::TensorInfo,
}

/// The metadata to write: the model's, with `general.file_type` set (in place, or added) and
/// `general.quantization_version` added when missing.
fn output_kv(model: &Model, file_type: u32) -> Vec<(String, Value)> {
    let mut kv = model.kv.clone();
    // A key added goes after the last general.* key, with its kind, not after the model's own.
    let add = |kv: &mut Vec<(String, Value)>, key: &str, v: Value| {
        let at = kv
            .iter()
            .rposition(|(k, _)| k.starts_with("general."))
            .map_or(0, |i| i + 1);
        kv.insert(at, (key.into(), v));
    };
    if !kv.iter().any(|(k, _)| k == "general.quantization_version") {
        add(&mut kv, "general.quantization_version", Value::U32(2));
    }
    match kv.iter_mut().find(|(k, _)| k == "general.file_type") {
        Some((_, v)) => *v = Value::U32(file_type),
        None => add(&mut kv, "general.file_type", Value::U32(file_type)),
    }
    kv
}

/// Whether a tensor is quantized: a float type, at least 2 dims, whole blocks per row, no
/// `--keep` match.
pub fn is_quantized(t: &Tensor, format: BlockFormat, keep: &[Regex]) -> bool {
    ggml::float_size(t.ggml_type).is_some()
        && t.ne.len() >= 2
        && t.ne[0].is_multiple_of(format.elements() as u64)
        && !keep.iter().any(|r| r.is_match(&t.name))
}

pub fn run(opts: &Options) -> Result<Summary> {
    let start = Instant::now();
    let fmt = opts.format;
    let (qtype, file_type) = ggml::gguf_types(fmt).ok_or_else(|| {
        anyhow!(
            "format {} has no GGUF type known to this program",
            fmt.name()
        )
    })?;
    let (out_dir, out_name) = split_path(&opts.output, "output")?;
    let report_dir = match &opts.report {
        Some(r) => Some(split_path(r, "report")?),
        None => None,
    };

    let model = input::open(&opts.input)?;
    for p in &model.read_paths {
        if same_file(&opts.output, p) {
            bail!(
                "{}: the output is the input file {}",
                opts.output.display(),
                p.display()
            );
        }
        if let Some(r) = &opts.report {
            if same_file(r, p) {
                bail!(
                    "{}: the report is the input file {}",
                    r.display(),
                    p.display()
                );
            }
        }
    }
    if let Some(r) = &opts.report {
        if same_file(r, &opts.output) || r.as_path() == opts.output.as_path() {
            bail!(
                "{}: the report and the output are the same file",
                r.display()
            );
        }
    }

    let mut plans = Vec::with_capacity(model.tensors.len());
    for t in &model.tensors {
        let quantize = is_quantized(t, fmt, &opts.keep);
        let (ggml_type, size) = if quantize {
            let qt = ggml::by_id(qtype).ok_or_else(|| anyhow!("no size for ggml type {qtype}"))?;
            let size = ggml::tensor_bytes(qt, &t.ne)
                .ok_or_else(|| anyhow!("tensor '{}': quantized size overflows", t.name))?;
            (qtype, size)
        } else {
            (t.ggml_type, t.len as u64)
        };
        plans.push(Plan {
            quantize,
            out: gguf::TensorInfo {
                name: t.name.clone(),
                ne: t.ne.clone(),
                ggml_type,
                offset: 0,
                size,
            },
        });
    }
    let mut infos: Vec<gguf::TensorInfo> = plans.iter().map(|p| p.out.clone()).collect();
    let data_len = gguf::layout(&mut infos, model.alignment);
    let header = gguf::write_header(&output_kv(&model, file_type), &infos, model.alignment);

    let (file, tmp) = create_temp(&out_dir, &out_name)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let werr = |e: std::io::Error| anyhow!("{}: write failed: {e}", tmp.path.display());
    w.write_all(&header).map_err(werr)?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .context("cannot start the worker threads")?;
    let total_in: u64 = model.tensors.iter().map(|t| t.len as u64).sum();
    let pb = if opts.progress {
        let pb = ProgressBar::with_draw_target(Some(total_in), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {wide_msg}",
        ) {
            pb.set_style(style);
        }
        pb
    } else {
        ProgressBar::hidden()
    };

    let mut reports = Vec::with_capacity(plans.len());
    let mut bufs = [Vec::new(), Vec::new()];
    let mut pos = 0u64;
    let zeros = vec![0u8; model.alignment as usize];
    for ((t, plan), info) in model.tensors.iter().zip(&plans).zip(&infos) {
        pb.set_message(t.name.clone());
        w.write_all(&zeros[..(info.offset - pos) as usize])
            .map_err(werr)?;
        let src = model.bytes(t);
        let sqnr = if plan.quantize {
            let file = &model.files[t.file].path;
            let done = |from: usize, len: usize| model.release(t, from, len);
            quantize_tensor(
                fmt, t, src, &pool, &mut w, &pb, opts.stats, &mut bufs, &done,
            )
            .map_err(|e| match e {
                TensorError::Io(e) => werr(e),
                TensorError::Data(msg) => {
                    anyhow!("{}: tensor '{}': {msg}", file.display(), t.name)
                }
            })?
        } else {
            for (i, piece) in src.chunks(CHUNK_BYTES).enumerate() {
                w.write_all(piece).map_err(werr)?;
                model.release(t, i * CHUNK_BYTES, piece.len());
                pb.inc(piece.len() as u64);
            }
            None
        };
        pos = info.offset + info.size;
        reports.push(TensorReport {
            name: t.name.clone(),
            shape: t.ne.iter().rev().copied().collect(),
            type_in: ggml::name(t.ggml_type),
            type_out: ggml::name(info.ggml_type),
            bytes_in: t.len as u64,
            bytes_out: info.size,
            quantized: plan.quantize,
            sqnr_db: sqnr,
        });
    }
    w.write_all(&zeros[..(data_len - pos) as usize])
        .map_err(werr)?;
    pb.finish_and_clear();
    let file = w
        .into_inner()
        .map_err(|e| anyhow!("{}: write failed: {}", tmp.path.display(), e.error()))?;
    let bytes_written = header.len() as u64 + data_len;
    let summary = Summary {
        input: opts.input.clone(),
        output: opts.output.clone(),
        format: fmt,
        tensors: reports,
        seconds: start.elapsed().as_secs_f64(),
        bytes_read: total_in,
        bytes_written,
    };
    // The report is written (and renamed) before the output: a failure leaves neither.
    if let (Some(r), Some((rdir, rname))) = (&opts.report, &report_dir) {
        let text = if r.extension().is_some_and(|e| e == "json") {
            crate::report::json(&summary)
        } else {
            crate::report::csv(&summary)
        };
        let (mut rf, rtmp) = create_temp(rdir, rname)?;
        rf.write_all(text.as_bytes())
            .with_context(|| format!("{}: write failed", rtmp.path.display()))?;
        finish(rf, rtmp, r, rdir)?;
    }
    finish(file, tmp, &opts.output, &out_dir)?;
    Ok(summary)
}

enum TensorError {
    Io(std::io::Error),
    Data(String),
}

thread_local! {
    /// Each worker's copy of rows whose bytes are not aligned for their element type.
    static COPY32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static COPY16: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
    /// Each worker's original and dequantized floats for the error statistics.
    static STATS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The bytes viewed in place as elements of `T` (f32 or u16), when they are aligned for it and
/// the machine is little-endian (file data is little-endian).
fn view<T: Copy>(bytes: &[u8]) -> Option<&[T]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    // SAFETY: T is f32 or u16, for which every bit pattern is valid.
    let (pre, mid, post) = unsafe { bytes.align_to::<T>() };
    (pre.is_empty() && post.is_empty()).then_some(mid)
}

/// An IEEE half (binary16) to f32, exactly.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match exp {
        0 => {
            // Zero or subnormal: man * 2^-24 is exact in f32.
            let v = man as f32 * (1.0 / 16_777_216.0);
            if sign != 0 {
                -v
            } else {
                v
            }
        }
        31 => f32::from_bits(sign | 0x7f80_0000 | (man << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (man << 13)),
    }
}

/// Little-endian F32, F16 or BF16 bytes to f32 (cleared and refilled).
pub fn widen(dtype: u32, bytes: &[u8], out: &mut Vec<f32>) {
    out.clear();
    match dtype {
        ggml::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        ),
        ggml::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)),
        ),
        _ => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
    }
}

/// F16 or BF16 bit patterns as the library's input type.
fn half(dtype: u32, h: &[u16]) -> Floats<'_> {
    if dtype == ggml::BF16 {
        Floats::Bf16(h)
    } else {
        Floats::F16(h)
    }
}

/// Quantizes whole rows of `dtype` (F32, F16 or BF16, little-endian `bytes`) into `out`: the one
/// place the library is called to quantize. The rows go to `quantize_blocks_from` in place (the
/// library widens half precision itself, chunk by chunk); only rows that are not aligned for
/// their element type (a safetensors data section may start at any byte) are first copied into
/// this thread's reusable buffer.
pub fn quantize_row(
    format: BlockFormat,
    dtype: u32,
    bytes: &[u8],
    out: &mut [u8],
) -> quantize::Result<()> {
    if dtype == ggml::F32 {
        if let Some(x) = view::<f32>(bytes) {
            return quantize_blocks_from(format, Floats::F32(x), out);
        }
        return COPY32.with(|c| {
            let mut c = c.borrow_mut();
            c.clear();
            c.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            quantize_blocks_from(format, Floats::F32(&c), out)
        });
    }
    if let Some(h) = view::<u16>(bytes) {
        return quantize_blocks_from(format, half(dtype, h), out);
    }
    COPY16.with(|c| {
        let mut c = c.borrow_mut();
        c.clear();
        c.extend(
            bytes
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]])),
        );
        quantize_blocks_from(format, half(dtype, &c), out)
    })
}

/// Where in `bytes` (whole rows that failed with `e`) the failure is: re-quantizes block by
/// block; for a non-finite value, the first NaN or infinity of the failing block. Returns the
/// element index within `bytes`, the error and the offending value if one was found.
fn locate(
    format: BlockFormat,
    dtype: u32,
    bytes: &[u8],
    e: QError,
) -> (usize, QError, Option<f32>) {
    let esz = ggml::float_size(dtype).unwrap_or(4);
    let blk = format.elements();
    let mut tmp = vec![0u8; format.bytes()];
    for (b, block) in bytes.chunks(blk * esz).enumerate() {
        if let Err(e) = quantize_row(format, dtype, block, &mut tmp) {
            if e == QError::NonFinite {
                let mut v = Vec::new();
                widen(dtype, block, &mut v);
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return (b * blk + i, e, Some(v[i]));
                }
            }
            return (b * blk, e, None);
        }
    }
    (0, e, None)
}

/// Sum of squared errors and of squared originals of one quantized chunk.
fn chunk_stats(format: BlockFormat, dtype: u32, src: &[u8], q: &[u8]) -> (f64, f64) {
    STATS.with(|s| {
        let (x, y) = &mut *s.borrow_mut();
        widen(dtype, src, x);
        y.clear();
        y.resize(x.len(), 0.0);
        if x.is_empty() || dequantize_blocks(format, q, y).is_err() {
            return (0.0, 0.0);
        }
        let signal: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        match quantize::stats::measure_error(x, y) {
            Ok(st) => (st.mean_squared_error * x.len() as f64, signal),
            Err(_) => (f64::NAN, signal),
        }
    })
}

/// 10 log10(signal / noise), +inf when exact.
pub fn sqnr_db(noise: f64, signal: f64) -> f64 {
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

/// Quantizes one tensor's rows batch by batch and writes them in order. Two output buffers take
/// turns: while the pool quantizes batch k+1 into one, this thread writes batch k from the other
/// (so writing, which costs about as much as quantizing, overlaps it), then releases batch k's
/// input pages.
#[allow(clippy::too_many_arguments)]
fn quantize_tensor(
    fmt: BlockFormat,
    t: &Tensor,
    src: &[u8],
    pool: &rayon::ThreadPool,
    w: &mut (impl Write + Send),
    pb: &ProgressBar,
    stats: bool,
    bufs: &mut [Vec<u8>; 2],
    done: &dyn Fn(usize, usize),
) -> std::result::Result<Option<f64>, TensorError> {
    let esz = ggml::float_size(t.ggml_type).unwrap_or(4);
    let row = t.ne[0] as usize;
    let row_in = row * esz;
    let row_out = row / fmt.elements() * fmt.bytes();
    if row_in == 0 || src.is_empty() {
        return Ok(stats.then_some(f64::INFINITY));
    }
    let nrows = src.len() / row_in;
    let chunk_rows = (CHUNK_BYTES / row_in).max(1);
    let batch_rows = chunk_rows * CHUNKS_PER_THREAD * pool.current_num_threads();
    let (mut noise, mut signal) = (0.0f64, 0.0f64);
    for b in bufs.iter_mut() {
        b.resize(batch_rows.min(nrows) * row_out, 0);
    }
    let [buf_a, buf_b] = bufs;
    let (mut cur, mut prev) = (buf_a, buf_b);
    // The batch written while the next one is quantized: its rows, and its length in `prev`.
    let mut pending: Option<(usize, usize, usize)> = None;
    let finish = |(b0, b1, _): (usize, usize, usize)| {
        done(b0 * row_in, (b1 - b0) * row_in);
        pb.inc(((b1 - b0) * row_in) as u64);
    };
    for b0 in (0..nrows).step_by(batch_rows) {
        let b1 = (b0 + batch_rows).min(nrows);
        let out = &mut cur[..(b1 - b0) * row_out];
        let (results, written) = std::thread::scope(|s| {
            let writer = pending.map(|(_, _, len)| {
                let data = &prev[..len];
                let w = &mut *w;
                s.spawn(move || w.write_all(data))
            });
            let results: Vec<_> = pool.install(|| {
                out.par_chunks_mut(chunk_rows * row_out)
                    .enumerate()
                    .map(|(i, o)| {
                        let r0 = b0 + i * chunk_rows;
                        let s = &src[r0 * row_in..(r0 + o.len() / row_out) * row_in];
                        match quantize_row(fmt, t.ggml_type, s, o) {
                            Err(e) => {
                                let (at, e, v) = locate(fmt, t.ggml_type, s, e);
                                Err((r0 * row + at, e, v))
                            }
                            Ok(()) if stats => Ok(chunk_stats(fmt, t.ggml_type, s, o)),
                            Ok(()) => Ok((0.0, 0.0)),
                        }
                    })
                    .collect()
            });
            let written = writer.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (results, written)
        });
        if let Some(r) = written {
            r.map_err(TensorError::Io)?;
        }
        if let Some(p) = pending.take() {
            finish(p);
        }
        // The first failing chunk in row order, so the element named does not depend on timing.
        for r in results {
            match r {
                Ok((n, s)) => {
                    noise += n;
                    signal += s;
                }
                Err((at, e, v)) => return Err(TensorError::Data(describe(fmt, row, at, e, v))),
            }
        }
        pending = Some((b0, b1, out.len()));
        std::mem::swap(&mut cur, &mut prev);
    }
    if let Some(p) = pending {
        w.write_all(&prev[..p.2]).map_err(TensorError::Io)?;
        finish(p);
    }
    Ok(stats.then(|| sqnr_db(noise, signal)))
}

fn describe(fmt: BlockFormat, row: usize, at: usize, e: QError, v: Option<f32>) -> String {
    let (r, c) = (at / row, at % row);
    match (e, v) {
        (QError::NonFinite, Some(v)) => {
            format!("element {at} (row {r}, column {c}) is {v}; {} needs finite values", fmt.name())
        }
        (QError::ValueOutOfRange, _) => format!(
            "block {} (elements {at}..{}, row {r}, columns {c}..{}) is out of range for {}: it holds a value the format cannot represent",
            at / fmt.elements(),
            at + fmt.elements(),
            c + fmt.elements(),
            fmt.name()
        ),
        (e, _) => format!("element {at} (row {r}, column {c}): {e}"),
    }
}
