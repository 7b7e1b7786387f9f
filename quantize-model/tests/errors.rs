//! Every bad input: the run fails with one line on stderr naming the file (and the tensor and
//! element where there is one), writes nothing, leaves no temporary file, never panics.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use quantize_model::gguf::{self, TensorInfo, Value};
use quantize_model::testmodel::{f16_bytes, f32_bytes, normal};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A two-tensor safetensors file: "w" (F32 [4, 64]) then "b" (F32 [64]).
fn good_st() -> Vec<u8> {
    let w = f32_bytes(&normal(1, 256, 1.0));
    let b = f32_bytes(&normal(2, 64, 1.0));
    safetensors(&[("w", "F32", &[4, 64], &w), ("b", "F32", &[64], &b)], 0)
}

/// A safetensors file with this JSON header and `data` bytes.
fn raw_st(json: &str, data: usize) -> Vec<u8> {
    let mut v = (json.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v.resize(v.len() + data, 0);
    v
}

fn fails(dir: &Path, input: &Path, ty: &str, needles: &[&str]) -> String {
    let out = dir.join("out.gguf");
    expect_failure(dir, &[p(input), p(&out), "--type", ty], needles)
}

#[test]
fn unreadable_and_malformed_safetensors() {
    let dir = scratch("bad_st");
    let missing = dir.join("nope.safetensors");
    fails(&dir, &missing, "q4_0", &["nope.safetensors", "cannot open"]);
    let empty = write(&dir, "empty.safetensors", b"");
    fails(&dir, &empty, "q4_0", &["empty.safetensors", "truncated"]);
    let short = write(&dir, "short.safetensors", &[1, 2, 3]);
    fails(&dir, &short, "q4_0", &["short.safetensors", "truncated"]);
    let mut past = good_st();
    let n = past.len() as u64;
    past[..8].copy_from_slice(&n.to_le_bytes());
    let past = write(&dir, "past.safetensors", &past);
    fails(
        &dir,
        &past,
        "q4_0",
        &["past.safetensors", "header length", "past the end"],
    );
    let huge = write(&dir, "huge.safetensors", &u64::MAX.to_le_bytes());
    fails(&dir, &huge, "q4_0", &["huge.safetensors", "header length"]);
    let json = write(&dir, "json.safetensors", &raw_st("{\"w\": {\"dtype\": ", 0));
    fails(&dir, &json, "q4_0", &["json.safetensors", "not valid JSON"]);
    let notobj = write(&dir, "arr.safetensors", &raw_st("[1, 2]", 0));
    fails(
        &dir,
        &notobj,
        "q4_0",
        &["arr.safetensors", "not valid JSON"],
    );
    // Truncated data: the last tensor's offsets now lie past the end.
    let mut cut = good_st();
    cut.truncate(cut.len() - 4);
    let cut = write(&dir, "cut.safetensors", &cut);
    fails(
        &dir,
        &cut,
        "q4_0",
        &["cut.safetensors", "tensor 'b'", "outside the data"],
    );
    let over = raw_st(
        r#"{"a":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]},"b":{"dtype":"F32","shape":[2,32],"data_offsets":[128,384]}}"#,
        384,
    );
    let over = write(&dir, "over.safetensors", &over);
    fails(
        &dir,
        &over,
        "q4_0",
        &["over.safetensors", "tensor 'b'", "overlaps"],
    );
    let gap = raw_st(
        r#"{"a":{"dtype":"F32","shape":[2,32],"data_offsets":[8,264]}}"#,
        264,
    );
    let gap = write(&dir, "gap.safetensors", &gap);
    fails(
        &dir,
        &gap,
        "q4_0",
        &["gap.safetensors", "tensor 'a'", "gaps"],
    );
    let trail = raw_st(
        r#"{"a":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]}}"#,
        260,
    );
    let trail = write(&dir, "trail.safetensors", &trail);
    fails(&dir, &trail, "q4_0", &["trail.safetensors", "trailing"]);
    let shape = raw_st(
        r#"{"a":{"dtype":"F16","shape":[2,32],"data_offsets":[0,256]}}"#,
        256,
    );
    let shape = write(&dir, "shape.safetensors", &shape);
    fails(
        &dir,
        &shape,
        "q4_0",
        &[
            "shape.safetensors",
            "tensor 'a'",
            "shape [2, 32]",
            "256 bytes",
        ],
    );
    let dtype = raw_st(
        r#"{"a":{"dtype":"F99","shape":[2,32],"data_offsets":[0,256]}}"#,
        256,
    );
    let dtype = write(&dir, "dtype.safetensors", &dtype);
    fails(
        &dir,
        &dtype,
        "q4_0",
        &["dtype.safetensors", "tensor 'a'", "F99"],
    );
    let u8t = raw_st(
        r#"{"a":{"dtype":"U8","shape":[2,32],"data_offsets":[0,64]}}"#,
        64,
    );
    let u8t = write(&dir, "u8.safetensors", &u8t);
    fails(
        &dir,
        &u8t,
        "q4_0",
        &["u8.safetensors", "tensor 'a'", "U8", "no GGUF type"],
    );
    let dup = raw_st(
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        8,
    );
    let dup = write(&dir, "dup.safetensors", &dup);
    fails(
        &dir,
        &dup,
        "q4_0",
        &["dup.safetensors", "'a' appears twice"],
    );
    let five = raw_st(
        r#"{"a":{"dtype":"F32","shape":[1,1,1,1,32],"data_offsets":[0,128]}}"#,
        128,
    );
    let five = write(&dir, "five.safetensors", &five);
    fails(
        &dir,
        &five,
        "q4_0",
        &["five.safetensors", "tensor 'a'", "5 dimensions"],
    );
    let meta = raw_st(r#"{"__metadata__": {"x": 1}}"#, 0);
    let meta = write(&dir, "meta.safetensors", &meta);
    fails(&dir, &meta, "q4_0", &["meta.safetensors", "__metadata__"]);
}

#[test]
fn values_the_format_cannot_take() {
    let dir = scratch("bad_values");
    // A NaN at element 300 of a [4, 128] F32 matrix: row 2, column 44.
    let mut x = normal(5, 512, 1.0);
    x[300] = f32::NAN;
    let a = f32_bytes(&x);
    let m = write(
        &dir,
        "nan.safetensors",
        &safetensors(
            &[
                ("ok", "F32", &[1, 32], &a[..128]),
                ("w", "F32", &[4, 128], &a),
            ],
            0,
        ),
    );
    fails(
        &dir,
        &m,
        "q4_0",
        &[
            "nan.safetensors",
            "tensor 'w'",
            "element 300 ",
            "row 2, column 44",
            "NaN",
        ],
    );
    // -inf in F16 (0xfc00), in the second batch of a big tensor under one thread.
    let mut y = normal(6, 4500 * 1024, 1.0);
    y[4200 * 1024 + 7] = f32::NEG_INFINITY;
    let h = f16_bytes(&y);
    let m = write(
        &dir,
        "inf.safetensors",
        &safetensors(&[("big", "F16", &[4500, 1024], &h)], 0),
    );
    let out = dir.join("out.gguf");
    let idx = (4200 * 1024 + 7).to_string();
    expect_failure(
        &dir,
        &[p(&m), p(&out), "--type", "q4_k", "--threads", "1"],
        &[
            "inf.safetensors",
            "tensor 'big'",
            &format!("element {idx} "),
            "row 4200, column 7",
            "-inf",
        ],
    );
    // BF16 +inf (0x7f80).
    let mut b = vec![0u8; 2 * 64];
    b[2 * 33..2 * 33 + 2].copy_from_slice(&0x7f80u16.to_le_bytes());
    let m = write(
        &dir,
        "bf.safetensors",
        &safetensors(&[("b", "BF16", &[2, 32], &b)], 0),
    );
    fails(
        &dir,
        &m,
        "iq4_nl",
        &[
            "bf.safetensors",
            "tensor 'b'",
            "element 33 ",
            "row 1, column 1",
            "inf",
        ],
    );
    // A value whose block scale overflows fp16: block 2 (elements 64..96) of a Q4_0 row.
    let mut z = normal(7, 128, 1.0);
    z[70] = 1e30;
    let zb = f32_bytes(&z);
    let m = write(
        &dir,
        "big.safetensors",
        &safetensors(&[("z", "F32", &[2, 64], &zb)], 0),
    );
    fails(
        &dir,
        &m,
        "q4_0",
        &[
            "big.safetensors",
            "tensor 'z'",
            "block 2 ",
            "elements 64..96",
            "row 1",
            "out of range",
        ],
    );
}

#[test]
fn shards_and_config() {
    let dir = scratch("bad_shards");
    std::fs::write(dir.join("a.safetensors"), good_st()).unwrap();
    let idx = write(
        &dir,
        "m.safetensors.index.json",
        br#"{"weight_map": {"w": "a.safetensors", "v": "b.safetensors"}}"#,
    );
    fails(&dir, &idx, "q4_0", &["b.safetensors", "cannot open"]);
    let idx = write(
        &dir,
        "m2.safetensors.index.json",
        br#"{"weight_map": {"w": "a.safetensors", "zz": "a.safetensors"}}"#,
    );
    fails(
        &dir,
        &idx,
        "q4_0",
        &[
            "m2.safetensors.index.json",
            "tensor 'zz'",
            "not in its shard",
        ],
    );
    let idx = write(
        &dir,
        "m3.safetensors.index.json",
        br#"{"weight_map": {"w": "../a.safetensors"}}"#,
    );
    fails(
        &dir,
        &idx,
        "q4_0",
        &["m3.safetensors.index.json", "tensor 'w'", "not a file name"],
    );
    let idx = write(&dir, "m4.safetensors.index.json", br#"{"weight_map": [1]}"#);
    fails(
        &dir,
        &idx,
        "q4_0",
        &["m4.safetensors.index.json", "weight_map"],
    );
    let idx = write(&dir, "m5.safetensors.index.json", b"{\"weight_map\": ");
    fails(
        &dir,
        &idx,
        "q4_0",
        &["m5.safetensors.index.json", "not valid JSON"],
    );
    std::fs::write(dir.join("config.json"), b"{model_type").unwrap();
    let a = dir.join("a.safetensors");
    fails(&dir, &a, "q4_0", &["config.json", "not valid JSON"]);
}

fn gguf_file(kv: &[(String, Value)], tensors: &[(&str, u32, &[u64])], extra: i64) -> Vec<u8> {
    let mut infos: Vec<TensorInfo> = tensors
        .iter()
        .map(|(n, t, ne)| {
            let ty = quantize_model::ggml::by_id(*t).unwrap();
            let size = quantize_model::ggml::tensor_bytes(ty, ne).unwrap();
            TensorInfo {
                name: n.to_string(),
                ne: ne.to_vec(),
                ggml_type: *t,
                offset: 0,
                size,
            }
        })
        .collect();
    let len = gguf::layout(&mut infos, 32);
    let mut f = gguf::write_header(kv, &infos, 32);
    f.resize((f.len() as i64 + len as i64 + extra) as usize, 0);
    f
}

#[test]
fn malformed_gguf() {
    let dir = scratch("bad_gguf");
    let kv = vec![("general.architecture".to_string(), Value::str("llama"))];
    let t: [(&str, u32, &[u64]); 2] = [("a", 0, &[64, 2]), ("b", 0, &[32])];
    let ok = gguf_file(&kv, &t, 0);
    let cut = write(&dir, "cut.gguf", &ok[..ok.len() - 1]);
    fails(
        &dir,
        &cut,
        "q4_0",
        &["cut.gguf", "tensor 'b'", "past the end"],
    );
    let hdr = write(&dir, "hdr.gguf", &ok[..30]);
    fails(&dir, &hdr, "q4_0", &["hdr.gguf", "truncated"]);
    let mut v1 = ok.clone();
    v1[4] = 1;
    let v1 = write(&dir, "v1.gguf", &v1);
    fails(&dir, &v1, "q4_0", &["v1.gguf", "version 1"]);
    let mut count = ok.clone();
    count[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let count = write(&dir, "count.gguf", &count);
    fails(&dir, &count, "q4_0", &["count.gguf", "cannot fit"]);
    let unk = gguf_file(&kv, &[("a", 0, &[64, 2])], 0);
    // Patch the type of tensor "a" (after its dims) to an unknown id.
    let pos = unk
        .windows(1 + 4 + 16)
        .position(|w| w[0] == b'a' && w[1..5] == 2u32.to_le_bytes())
        .unwrap();
    let mut unk = unk;
    unk[pos + 21..pos + 25].copy_from_slice(&77u32.to_le_bytes());
    let unk = write(&dir, "unk.gguf", &unk);
    fails(
        &dir,
        &unk,
        "q4_0",
        &["unk.gguf", "tensor 'a'", "unknown ggml type 77"],
    );
    let q: [(&str, u32, &[u64]); 1] = [("q", 2, &[48, 2])];
    let bad = std::panic::catch_unwind(|| gguf_file(&kv, &q, 0));
    assert!(bad.is_err(), "48 values are not whole Q4_0 blocks");
    let align = vec![("general.alignment".to_string(), Value::U32(48))];
    let al = write(&dir, "align.gguf", &gguf_file(&align, &t, 0));
    fails(&dir, &al, "q4_0", &["align.gguf", "general.alignment"]);
    let garbage = write(&dir, "garbage.gguf", b"GGUF\x03\x00\x00\x00");
    fails(&dir, &garbage, "q4_0", &["garbage.gguf", "truncated"]);
}

#[test]
fn output_problems_and_arguments() {
    let dir = scratch("bad_output");
    let m = write(&dir, "m.safetensors", &good_st());
    let before = std::fs::read(&m).unwrap();
    let missing = dir.join("no/such/folder/out.gguf");
    expect_failure(
        &dir,
        &[p(&m), p(&missing), "--type", "q4_0"],
        &["no/such/folder", "does not exist"],
    );
    // The input itself, by another spelling, through a symlink and through a hard link.
    let other = dir.join(".").join("m.safetensors");
    expect_failure(
        &dir,
        &[p(&m), p(&other), "--type", "q4_0"],
        &["the output is the input"],
    );
    std::os::unix::fs::symlink(&m, dir.join("link.safetensors")).unwrap();
    std::fs::hard_link(&m, dir.join("hard.safetensors")).unwrap();
    let link = dir.join("link.safetensors");
    expect_failure(
        &dir,
        &[p(&m), p(&link), "--type", "q4_0"],
        &["the output is the input"],
    );
    expect_failure(
        &dir,
        &[p(&link), p(&dir.join("hard.safetensors")), "--type", "q4_0"],
        &["the output is the input"],
    );
    assert_eq!(std::fs::read(&m).unwrap(), before, "input untouched");
    let out = dir.join("o.gguf");
    expect_failure(&dir, &[p(&m), p(&out), "--type", "q5_0"], &["q5_0", "q4_0"]);
    expect_failure(&dir, &[p(&m), p(&out)], &["--type"]);
    expect_failure(
        &dir,
        &[p(&m), p(&out), "--type", "q4_0", "--keep", "(unclosed"],
        &["--keep", "(unclosed"],
    );
    expect_failure(
        &dir,
        &[p(&m), p(&out), "--type", "q4_0", "--threads", "0"],
        &["--threads"],
    );
    expect_failure(
        &dir,
        &[
            p(&m),
            p(&out),
            "--type",
            "q4_0",
            "--report",
            p(&dir.join("x/r.csv")),
        ],
        &["r.csv", "does not exist"],
    );
    expect_failure(
        &dir,
        &[p(&m), p(&out), "--type", "q4_0", "--report", p(&m)],
        &["the report is the input"],
    );
    // The folder is not writable as a file: the output path names a folder.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let out = run(&[p(&m), p(&dir.join("sub")), "--type", "q4_0"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).matches('\n').count(),
        1
    );
    assert!(listing(&dir.join("sub")).is_empty());
}

#[test]
fn interrupted_run_leaves_nothing() {
    let dir = scratch("interrupted");
    let x = f32_bytes(&normal(9, 8192 * 1024, 1.0));
    let m = write(
        &dir,
        "m.safetensors",
        &safetensors(&[("w", "F32", &[8192, 1024], &x)], 0),
    );
    let before = listing(&dir);
    let out = dir.join("o.gguf");
    let child = std::process::Command::new(BIN)
        .args([p(&m), p(&out), "--type", "q4_k", "--threads", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the temporary file, then SIGTERM the run while it writes.
    let t0 = std::time::Instant::now();
    while listing(&dir).len() == before.len() {
        assert!(t0.elapsed().as_secs() < 60, "no temporary file appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "finished before the signal?");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches('\n').count(), 1, "{err}");
    assert!(err.contains("interrupted"));
    assert_eq!(listing(&dir), before);
}
