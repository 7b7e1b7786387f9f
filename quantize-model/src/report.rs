//! The end-of-run table, and the `--report` file (CSV, or JSON for a `.json` name).

use std::fmt::Write;

use crate::convert::Summary;

fn shape(s: &[u64]) -> String {
    s.iter().map(u64::to_string).collect::<Vec<_>>().join("x")
}

fn sqnr(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.is_infinite() => if x > 0.0 { "inf" } else { "-inf" }.into(),
        Some(x) => format!("{x:.2}"),
    }
}

/// The human table: one line per tensor, then the totals.
pub fn table(s: &Summary) -> String {
    let head = [
        "tensor",
        "shape",
        "type",
        "bytes in",
        "bytes out",
        "SQNR dB",
    ];
    let rows: Vec<[String; 6]> = s
        .tensors
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                shape(&t.shape),
                format!("{} -> {}", t.type_in, t.type_out),
                t.bytes_in.to_string(),
                t.bytes_out.to_string(),
                sqnr(t.sqnr_db),
            ]
        })
        .collect();
    let mut w = head.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, r: &[String]| {
        // Text columns left-aligned, numbers right-aligned.
        let _ = writeln!(
            out,
            "{:<a$}  {:<b$}  {:<c$}  {:>d$}  {:>e$}  {:>f$}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3],
            e = w[4],
            f = w[5]
        );
    };
    line(&mut out, &head.map(String::from));
    for r in &rows {
        line(&mut out, r);
    }
    let q = s.tensors.iter().filter(|t| t.quantized).count();
    let written: u64 = s.tensors.iter().map(|t| t.bytes_out).sum();
    let _ = writeln!(
        out,
        "{} tensors ({} quantized to {}, {} copied): {:.2} MB -> {:.2} MB of tensor data ({:.2} MB file) in {:.2} s, {:.2} GB/s read",
        s.tensors.len(),
        q,
        s.format.name(),
        s.tensors.len() - q,
        s.bytes_read as f64 / 1e6,
        written as f64 / 1e6,
        s.bytes_written as f64 / 1e6,
        s.seconds,
        s.bytes_read as f64 / 1e9 / s.seconds.max(1e-9),
    );
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV: a header line, then one line per tensor; `sqnr_db` is empty for copied tensors and
/// `inf` for an exact one.
pub fn csv(s: &Summary) -> String {
    let mut out = String::from("name,shape,type_in,type_out,bytes_in,bytes_out,sqnr_db\n");
    for t in &s.tensors {
        let q = match t.sqnr_db {
            None => String::new(),
            Some(_) => sqnr(t.sqnr_db),
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            csv_field(&t.name),
            shape(&t.shape),
            t.type_in,
            t.type_out,
            t.bytes_in,
            t.bytes_out,
            q
        );
    }
    out
}

/// JSON: the run's totals and a `tensors` array; `sqnr_db` is null for copied tensors and the
/// string "inf" for an exact one (JSON has no infinity).
pub fn json(s: &Summary) -> String {
    let tensors: Vec<serde_json::Value> = s
        .tensors
        .iter()
        .map(|t| {
            let q = match t.sqnr_db {
                None => serde_json::Value::Null,
                Some(x) if x.is_finite() => x.into(),
                Some(x) => sqnr(Some(x)).into(),
            };
            serde_json::json!({
                "name": t.name,
                "shape": t.shape,
                "type_in": t.type_in,
                "type_out": t.type_out,
                "bytes_in": t.bytes_in,
                "bytes_out": t.bytes_out,
                "sqnr_db": q,
            })
        })
        .collect();
    let v = serde_json::json!({
        "input": s.input.to_string_lossy(),
        "output": s.output.to_string_lossy(),
        "type": s.format.name(),
        "seconds": s.seconds,
        "bytes_read": s.bytes_read,
        "bytes_written": s.bytes_written,
        "tensors": tensors,
    });
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    text.push('\n');
    text
}
