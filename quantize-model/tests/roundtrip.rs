//! Runs the binary on models it must convert and checks the GGUF it writes: every quantized
//! tensor equals the library's quantize_blocks on the (independently widened) rows byte for
//! byte, every other tensor is byte-identical, metadata and layout as documented.

mod common;

use std::path::Path;

use common::*;
use quantize::formats::{quantize_blocks, BlockFormat};
use quantize_model::gguf::{self, TensorInfo, Value};
use quantize_model::testmodel;

/// What the output must hold for one input tensor.
struct Want<'a> {
    name: &'a str,
    ggml_type: u32,
    /// Outermost first.
    shape: Vec<u64>,
    bytes: &'a [u8],
    quantize: bool,
}

fn check_tensors(out: &Gguf, want: &[Want], format: BlockFormat) {
    let names: Vec<&str> = out.h.tensors.iter().map(|t| t.name.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|w| w.name).collect();
    assert_eq!(names, want_names, "tensor order");
    let (qtype, _) = expected_types(format.name());
    for (t, w) in out.h.tensors.iter().zip(want) {
        let ne: Vec<u64> = w.shape.iter().rev().copied().collect();
        assert_eq!(t.ne, ne, "{}: dims innermost first", w.name);
        assert_eq!(t.offset % out.h.alignment, 0, "{}: aligned", w.name);
        let data = out.data(w.name);
        if w.quantize {
            assert_eq!(t.ggml_type, qtype, "{}", w.name);
            let x = floats(w.ggml_type, w.bytes);
            let mut q = vec![0u8; x.len() / format.elements() * format.bytes()];
            quantize_blocks(format, &x, &mut q).unwrap();
            assert!(
                data == q.as_slice(),
                "{}: quantized bytes differ from quantize_blocks",
                w.name
            );
        } else {
            assert_eq!(t.ggml_type, w.ggml_type, "{}: copied type", w.name);
            assert!(data == w.bytes, "{}: copied bytes differ", w.name);
        }
    }
    // The data section ends padded to the alignment, right at the end of the file.
    let end = out
        .h
        .tensors
        .iter()
        .map(|t| t.offset + t.size)
        .max()
        .unwrap_or(0);
    assert_eq!(
        out.bytes.len() as u64,
        out.h.data_start + end.next_multiple_of(out.h.alignment)
    );
    assert_eq!(out.h.version, 3);
}

fn st_type(dtype: &str) -> u32 {
    match dtype {
        "F32" => 0,
        "F16" => 1,
        "BF16" => 30,
        "I64" => 27,
        d => panic!("{d}"),
    }
}

#[test]
fn safetensors_model_every_format() {
    let dir = scratch("st_every_format");
    let out = run(&["make-test-model", p(&dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = dir.join("model.safetensors");
    let ts = testmodel::tensors();
    for format in BlockFormat::ALL {
        let dest = dir.join(format!("out-{}.gguf", format.name()));
        let out = run(&[
            p(&model),
            p(&dest),
            "--type",
            format.name(),
            "--keep",
            r"^lm_head\.",
            "--threads",
            "2",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "stderr not a terminal: no progress bar"
        );
        let table = String::from_utf8_lossy(&out.stdout);
        for (n, ..) in &ts {
            assert!(table.contains(n.as_str()), "table lacks {n}");
        }
        let g = Gguf::read(&dest);
        let want: Vec<Want> = ts
            .iter()
            .map(|(n, d, s, b)| {
                let float = matches!(*d, "F32" | "F16" | "BF16");
                Want {
                    name: n,
                    ggml_type: st_type(d),
                    shape: s.clone(),
                    bytes: b,
                    quantize: float
                        && s.len() >= 2
                        && s[s.len() - 1] % format.elements() as u64 == 0
                        && !n.starts_with("lm_head."),
                }
            })
            .collect();
        // The test model has a matrix of 96-value rows: quantized in 32-blocks, not in 256s.
        let conv = want
            .iter()
            .find(|w| w.name == "model.layers.0.conv1d.weight")
            .unwrap();
        assert_eq!(conv.quantize, format.elements() == 32);
        check_tensors(&g, &want, format);
        let keys: Vec<&str> = g.h.kv.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "general.architecture",
                "general.name",
                "general.quantization_version",
                "general.file_type",
                "safetensors.metadata.format"
            ]
        );
        assert_eq!(g.get("general.architecture"), Some(&Value::str("llama")));
        assert_eq!(g.get("general.name"), Some(&Value::str("model")));
        assert_eq!(g.get("general.quantization_version"), Some(&Value::U32(2)));
        let (_, ft) = expected_types(format.name());
        assert_eq!(g.get("general.file_type"), Some(&Value::U32(ft)));
        assert_eq!(
            g.get("safetensors.metadata.format"),
            Some(&Value::str("pt"))
        );
        assert_eq!(g.h.alignment, 32);
    }
}

#[test]
fn unaligned_data_threads_and_chunks() {
    // A tensor larger than one batch of work items with one thread (4 MiB chunks x 4), data
    // starting at an odd file offset, and F16/BF16 rows whose bytes are odd-aligned too.
    let dir = scratch("st_unaligned");
    let big = testmodel::normal(11, 4500 * 1024, 0.03);
    let big = testmodel::f32_bytes(&big);
    let h = testmodel::f16_bytes(&testmodel::normal(12, 64 * 64, 1.0));
    let b = testmodel::bf16_bytes(&testmodel::normal(13, 3 * 64, 100.0));
    let tensors: [(&str, &str, &[u64], &[u8]); 3] = [
        ("h", "F16", &[64, 64], &h),
        ("big", "F32", &[4500, 1024], &big),
        ("b", "BF16", &[3, 64], &b),
    ];
    for pad in [1usize, 2, 3] {
        let model = dir.join(format!("m{pad}.safetensors"));
        std::fs::write(&model, safetensors(&tensors, pad)).unwrap();
        let mut outs = Vec::new();
        for threads in ["1", "3"] {
            let dest = dir.join(format!("o{pad}-{threads}.gguf"));
            let out = run(&[
                p(&model),
                p(&dest),
                "--type",
                "q4_0",
                "--threads",
                threads,
                "--quiet",
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout.is_empty() && out.stderr.is_empty(),
                "--quiet prints nothing"
            );
            outs.push(std::fs::read(&dest).unwrap());
        }
        assert!(outs[0] == outs[1], "output depends on --threads");
        let g = Gguf::read(&dir.join(format!("o{pad}-1.gguf")));
        let want: Vec<Want> = tensors
            .iter()
            .map(|(n, d, s, b)| Want {
                name: n,
                ggml_type: st_type(d),
                shape: s.to_vec(),
                bytes: b,
                quantize: true,
            })
            .collect();
        check_tensors(&g, &want, BlockFormat::Q4_0);
    }
}

#[test]
fn sharded_model() {
    let dir = scratch("sharded");
    let a = testmodel::f32_bytes(&testmodel::normal(21, 4 * 64, 1.0));
    let b = testmodel::bf16_bytes(&testmodel::normal(22, 2 * 32, 1.0));
    let c = testmodel::f32_bytes(&testmodel::normal(23, 64, 1.0));
    let d = testmodel::f16_bytes(&testmodel::normal(24, 8 * 32, 1.0));
    let s1 = safetensors(
        &[("x.a", "F32", &[4, 64], &a), ("x.b", "BF16", &[2, 32], &b)],
        0,
    );
    let s2 = safetensors(
        &[("y.c", "F32", &[64], &c), ("y.d", "F16", &[8, 32], &d)],
        0,
    );
    std::fs::write(dir.join("model-00002-of-00002.safetensors"), s2).unwrap();
    std::fs::write(dir.join("model-00001-of-00002.safetensors"), s1).unwrap();
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        r#"{"metadata": {"total_size": 2000}, "weight_map": {
            "y.d": "model-00002-of-00002.safetensors", "x.a": "model-00001-of-00002.safetensors",
            "y.c": "model-00002-of-00002.safetensors", "x.b": "model-00001-of-00002.safetensors"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), r#"{"model_type": "qwen2"}"#).unwrap();
    let dest = dir.join("out.gguf");
    let out = run(&[
        p(&dir.join("model.safetensors.index.json")),
        p(&dest),
        "--type",
        "iq4_nl",
        "-q",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g = Gguf::read(&dest);
    let want = [
        Want {
            name: "x.a",
            ggml_type: 0,
            shape: vec![4, 64],
            bytes: &a,
            quantize: true,
        },
        Want {
            name: "x.b",
            ggml_type: 30,
            shape: vec![2, 32],
            bytes: &b,
            quantize: true,
        },
        Want {
            name: "y.c",
            ggml_type: 0,
            shape: vec![64],
            bytes: &c,
            quantize: false,
        },
        Want {
            name: "y.d",
            ggml_type: 1,
            shape: vec![8, 32],
            bytes: &d,
            quantize: true,
        },
    ];
    check_tensors(&g, &want, BlockFormat::Iq4Nl);
    assert_eq!(g.get("general.architecture"), Some(&Value::str("qwen2")));
    assert_eq!(g.get("general.name"), Some(&Value::str("model")));
}

/// A GGUF input with every value type, nested arrays, a custom alignment, general.file_type
/// in the middle and no quantization_version.
fn gguf_input(path: &Path, tensors: &[(&str, u32, &[u64], &[u8])]) {
    let kv: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::str("llama")),
        ("general.alignment".into(), Value::U32(64)),
        ("general.file_type".into(), Value::U32(1)),
        ("general.name".into(), Value::str("tiny")),
        ("llama.u8".into(), Value::U8(200)),
        ("llama.i8".into(), Value::I8(-5)),
        ("llama.u16".into(), Value::U16(60000)),
        ("llama.i16".into(), Value::I16(-300)),
        ("llama.i32".into(), Value::I32(-70000)),
        ("llama.f32".into(), Value::F32(1.5)),
        ("llama.bool".into(), Value::Bool(1)),
        ("llama.u64".into(), Value::U64(1 << 40)),
        ("llama.i64".into(), Value::I64(-(1 << 40))),
        ("llama.f64".into(), Value::F64(0.25)),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(8, vec![Value::str("<s>"), Value::str("a"), Value::str("b")]),
        ),
        (
            "tokenizer.ggml.scores".into(),
            Value::Array(6, vec![Value::F32(0.0), Value::F32(-1.0), Value::F32(-2.0)]),
        ),
        (
            "x.nested".into(),
            Value::Array(
                9,
                vec![
                    Value::Array(5, vec![Value::I32(1)]),
                    Value::Array(5, vec![]),
                ],
            ),
        ),
    ];
    let mut infos: Vec<TensorInfo> = tensors
        .iter()
        .map(|(n, t, ne, b)| TensorInfo {
            name: n.to_string(),
            ne: ne.to_vec(),
            ggml_type: *t,
            offset: 0,
            size: b.len() as u64,
        })
        .collect();
    let len = gguf::layout(&mut infos, 64);
    let mut file = gguf::write_header(&kv, &infos, 64);
    let start = file.len();
    file.resize(start + len as usize, 0);
    for (i, (_, _, _, b)) in infos.iter().zip(tensors) {
        let o = start + i.offset as usize;
        file[o..o + b.len()].copy_from_slice(b);
    }
    std::fs::write(path, file).unwrap();
}

#[test]
fn gguf_model_keeps_metadata_and_order() {
    let dir = scratch("gguf_in");
    let w = testmodel::f16_bytes(&testmodel::normal(31, 512 * 8, 1.0));
    let v = testmodel::f32_bytes(&testmodel::normal(32, 256 * 3, 1.0));
    let q8: Vec<u8> = (0..34 * 8).map(|i| (i * 7) as u8).collect(); // Q8_0, copied as is
    let n = testmodel::f32_bytes(&testmodel::normal(33, 256, 1.0));
    let bf = testmodel::bf16_bytes(&testmodel::normal(34, 256 * 2 * 2, 1.0));
    // ne innermost first, as GGUF stores it.
    let tensors: [(&str, u32, &[u64], &[u8]); 5] = [
        ("blk.0.ffn.weight", 1, &[512, 8], &w),
        ("blk.0.attn_q.weight", 0, &[256, 3], &v),
        ("blk.0.q8.weight", 8, &[256], &q8),
        ("blk.0.norm.weight", 0, &[256], &n),
        ("blk.0.3d.weight", 30, &[256, 2, 2], &bf),
    ];
    let model = dir.join("tiny.gguf");
    gguf_input(&model, &tensors);
    let input = Gguf::read(&model);
    let dest = dir.join("out.gguf");
    let out = run(&[
        p(&model),
        p(&dest),
        "--type",
        "q4_1",
        "--quiet",
        "--keep",
        "attn_q",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g = Gguf::read(&dest);
    assert_eq!(g.h.alignment, 64);
    // Every key, in order, same types and values; file_type changed in place; the missing
    // quantization_version added after the last general.* key.
    let mut want = input.h.kv.clone();
    want[2].1 = Value::U32(3);
    want.insert(4, ("general.quantization_version".into(), Value::U32(2)));
    assert_eq!(g.h.kv, want);
    let wants: Vec<Want> = tensors
        .iter()
        .map(|(n, t, ne, b)| Want {
            name: n,
            ggml_type: *t,
            shape: ne.iter().rev().copied().collect(),
            bytes: b,
            quantize: matches!(*n, "blk.0.ffn.weight" | "blk.0.3d.weight"),
        })
        .collect();
    check_tensors(&g, &wants, BlockFormat::Q4_1);
}

#[test]
fn report_files() {
    let dir = scratch("report");
    assert!(run(&["make-test-model", p(&dir)]).status.success());
    let model = dir.join("model.safetensors");
    let out = run(&[
        p(&model),
        p(&dir.join("o.gguf")),
        "--type",
        "q4_0",
        "-q",
        "--report",
        p(&dir.join("r.csv")),
    ]);
    assert!(out.status.success() && out.stdout.is_empty());
    let csv = std::fs::read_to_string(dir.join("r.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "name,shape,type_in,type_out,bytes_in,bytes_out,sqnr_db"
    );
    assert_eq!(lines.len(), 1 + testmodel::tensors().len());
    assert!(lines.contains(&"model.layers.0.input_layernorm.weight,256,F32,F32,1024,1024,"));
    let up = lines
        .iter()
        .find(|l| l.starts_with("model.layers.0.mlp.up_proj.weight,"))
        .unwrap();
    let f: Vec<&str> = up.split(',').collect();
    assert_eq!(&f[1..6], ["512x256", "F32", "Q4_0", "524288", "73728"]);
    let sqnr: f64 = f[6].parse().unwrap();
    assert!(
        (15.0..30.0).contains(&sqnr),
        "Q4_0 on normal data: about 21 dB, got {sqnr}"
    );

    let out = run(&[
        p(&model),
        p(&dir.join("o2.gguf")),
        "--type",
        "q4_0",
        "-q",
        "--report",
        p(&dir.join("r.json")),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(v["type"], "q4_0");
    let ts = v["tensors"].as_array().unwrap();
    assert_eq!(ts.len(), testmodel::tensors().len());
    let norm = ts
        .iter()
        .find(|t| t["name"] == "model.layers.0.input_layernorm.weight")
        .unwrap();
    assert!(norm["sqnr_db"].is_null());
    assert_eq!(norm["shape"], serde_json::json!([256]));
    let emb = ts
        .iter()
        .find(|t| t["name"] == "model.embed_tokens.weight")
        .unwrap();
    assert_eq!(emb["type_in"], "F16");
    assert!(emb["sqnr_db"].as_f64().unwrap() > 15.0);
}

#[test]
fn replaces_an_existing_output_only_when_done() {
    let dir = scratch("replace");
    assert!(run(&["make-test-model", p(&dir)]).status.success());
    let dest = dir.join("o.gguf");
    std::fs::write(&dest, b"old").unwrap();
    let out = run(&[
        p(&dir.join("model.safetensors")),
        p(&dest),
        "--type",
        "mxfp4",
        "-q",
    ]);
    assert!(out.status.success());
    assert!(std::fs::read(&dest).unwrap().starts_with(b"GGUF"));
    assert_eq!(
        listing(&dir),
        ["config.json", "model.safetensors", "o.gguf"]
    );
}

#[test]
fn widening_is_exact_for_every_half() {
    // The program widens F16/BF16 itself for the SQNR and to find a bad element: every bit
    // pattern must give the same f32 as the test's conversion by the definition.
    for h in 0..=u16::MAX {
        let got = quantize_model::convert::f16_to_f32(h);
        let want = half(h);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "f16 {h:#06x}: {got} vs {want}"
        );
        let mut v = Vec::new();
        quantize_model::convert::widen(30, &h.to_le_bytes(), &mut v);
        assert_eq!(v[0].to_bits(), bfloat(h).to_bits());
        // The test model's rounding: back to the same half for every non-NaN value.
        if !want.is_nan() {
            assert_eq!(testmodel::f32_to_f16(want), h, "{want}");
        }
    }
}
