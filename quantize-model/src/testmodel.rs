//! A small deterministic test model (the hidden `make-test-model DIR` subcommand): a few F32,
//! F16 and BF16 matrices, 1-D norm and bias vectors, a matrix whose rows are whole Q4_0 blocks but
//! not whole Q4_K superblocks, and an int64 tensor, as `DIR/model.safetensors` plus a
//! `DIR/config.json`. For the demo and the tests; needs no Python.

use std::path::Path;

use anyhow::{Context, Result};

use crate::safetensors_file;

/// Deterministic standard normal samples (xorshift64* and Box-Muller).
pub struct Normal(u64);

impl Normal {
    pub fn new(seed: u64) -> Self {
        Normal(seed | 1)
    }
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn sample(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// f32 to IEEE half, round to nearest even (for test data; values here are small and finite).
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = x.abs();
    if a.is_nan() {
        return sign | 0x7e00;
    }
    if a >= 65520.0 {
        return sign | 0x7c00;
    }
    if a < 6.103_515_6e-5 {
        // Subnormal half: a multiple of 2^-24, rounded to nearest even by the f32 arithmetic.
        let m = (a * 16_777_216.0).round_ties_even() as u16;
        return sign | m;
    }
    let e = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let m = b & 0x7f_ffff;
    let mut h = ((e as u32) << 10) | (m >> 13);
    let rest = m & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// f32 to bfloat16, round to nearest even.
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((b >> 16) & 1);
    (b.wrapping_add(round) >> 16) as u16
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| f32_to_f16(x).to_le_bytes())
        .collect()
}

pub fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| f32_to_bf16(x).to_le_bytes())
        .collect()
}

/// `n` normal samples times `scale`.
pub fn normal(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut g = Normal::new(seed);
    (0..n).map(|_| g.sample() * scale).collect()
}

/// The test model's tensors: (name, dtype, shape, bytes).
pub fn tensors() -> Vec<(String, &'static str, Vec<u64>, Vec<u8>)> {
    let h = 256;
    let mut t = Vec::new();
    let mut add = |name: &str, dtype: &'static str, shape: &[u64], data: Vec<u8>| {
        t.push((name.to_string(), dtype, shape.to_vec(), data));
    };
    add(
        "model.embed_tokens.weight",
        "F16",
        &[64, h],
        f16_bytes(&normal(1, 64 * 256, 0.02)),
    );
    add(
        "model.layers.0.input_layernorm.weight",
        "F32",
        &[h],
        f32_bytes(
            &normal(2, 256, 0.1)
                .iter()
                .map(|x| 1.0 + x)
                .collect::<Vec<_>>(),
        ),
    );
    add(
        "model.layers.0.self_attn.q_proj.weight",
        "BF16",
        &[h, h],
        bf16_bytes(&normal(3, 256 * 256, 0.02)),
    );
    add(
        "model.layers.0.self_attn.q_proj.bias",
        "F32",
        &[h],
        f32_bytes(&normal(4, 256, 0.01)),
    );
    add(
        "model.layers.0.mlp.up_proj.weight",
        "F32",
        &[512, h],
        f32_bytes(&normal(5, 512 * 256, 0.02)),
    );
    add(
        "model.layers.0.mlp.down_proj.weight",
        "F32",
        &[h, 512],
        f32_bytes(&normal(6, 256 * 512, 0.02)),
    );
    add(
        "model.layers.0.conv1d.weight",
        "F32",
        &[16, 96],
        f32_bytes(&normal(7, 16 * 96, 0.05)),
    );
    add(
        "model.position_ids",
        "I64",
        &[1, 128],
        (0..128i64).flat_map(|i| i.to_le_bytes()).collect(),
    );
    add(
        "lm_head.weight",
        "F16",
        &[64, h],
        f16_bytes(&normal(8, 64 * 256, 0.02)),
    );
    t
}

/// Writes `dir/model.safetensors` and `dir/config.json` (creating `dir`).
pub fn make(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let ts = tensors();
    let refs: Vec<(&str, &str, &[u64], &[u8])> = ts
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice()))
        .collect();
    let file = safetensors_file::write(&refs, &[("format", "pt")]);
    let p = dir.join("model.safetensors");
    std::fs::write(&p, file).with_context(|| format!("{}: cannot write", p.display()))?;
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 256,\n  \"num_hidden_layers\": 1,\n  \"vocab_size\": 64\n}\n",
    )
    .with_context(|| format!("{}: cannot write", cfg.display()))?;
    Ok(())
}
