//! Opening a model: a safetensors file, a sharded model's `*.safetensors.index.json`, or a GGUF
//! file, each memory-mapped, as one list of tensors (GGUF dims and types) plus the metadata the
//! output starts from.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use memmap2::Mmap;

use crate::gguf::{self, Value};
use crate::safetensors_file as st;

/// An input file, mapped.
pub struct Source {
    pub path: PathBuf,
    pub map: Mmap,
}

/// One tensor to write: where its bytes are and what they are.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub ggml_type: u32,
    /// Innermost first.
    pub ne: Vec<u64>,
    /// Index into [`Model::files`].
    pub file: usize,
    pub start: usize,
    pub len: usize,
}

/// What kind of input this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gguf,
    Safetensors,
}

pub struct Model {
    pub kind: Kind,
    pub files: Vec<Source>,
    pub tensors: Vec<Tensor>,
    /// The metadata to write (before `general.file_type` is set).
    pub kv: Vec<(String, Value)>,
    pub alignment: u64,
    /// Every file read (index and config included), for the OUTPUT != INPUT check.
    pub read_paths: Vec<PathBuf>,
}

impl Model {
    pub fn bytes(&self, t: &Tensor) -> &[u8] {
        &self.files[t.file].map[t.start..t.start + t.len]
    }

    /// Tells the kernel that bytes `from..from + len` of tensor `t` have been used, so their
    /// pages leave this process's resident set: memory stays bounded by the work in flight, not
    /// by the model's size.
    pub fn release(&self, t: &Tensor, from: usize, len: usize) {
        let map = &self.files[t.file].map;
        let start = t.start + from;
        if len == 0 || start.checked_add(len).is_none_or(|e| e > map.len()) {
            return;
        }
        // SAFETY: the map is a shared, read-only mapping of a file that this program never
        // writes; after MADV_DONTNEED a page is read back from the file on its next access with
        // the same contents, so a reference into the range still reads the same bytes.
        let _ =
            unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len) };
    }
}

/// The prefix under which a safetensors file's `__metadata__` entries are stored.
pub const ST_META_PREFIX: &str = "safetensors.metadata.";

fn map(path: &Path) -> Result<Mmap> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("{}: cannot stat", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a regular file", path.display());
    }
    // SAFETY: the map is only read. Another process truncating the file while we run could
    // still fault the read (SIGBUS); no portable way around that short of copying the model.
    let m = unsafe { Mmap::map(&f) }
        .with_context(|| format!("{}: cannot memory-map", path.display()))?;
    // Tensors are read once, front to back: let the kernel read ahead and drop pages behind.
    let _ = m.advise(memmap2::Advice::Sequential);
    Ok(m)
}

/// Opens INPUT, choosing the kind by content (the GGUF magic) or by name (`.json`: a shard index).
pub fn open(path: &Path) -> Result<Model> {
    let name = path.to_string_lossy();
    if name.ends_with(".json") {
        return open_index(path);
    }
    let m = map(path)?;
    if m.starts_with(gguf::MAGIC) {
        return open_gguf(path, m);
    }
    open_safetensors(&[path.to_path_buf()], path)
}

fn open_gguf(path: &Path, map: Mmap) -> Result<Model> {
    let h = gguf::parse(&map).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let tensors = h
        .tensors
        .iter()
        .map(|t| Tensor {
            name: t.name.clone(),
            ggml_type: t.ggml_type,
            ne: t.ne.clone(),
            file: 0,
            // parse() checked data_start + offset + size <= file length.
            start: (h.data_start + t.offset) as usize,
            len: t.size as usize,
        })
        .collect();
    Ok(Model {
        kind: Kind::Gguf,
        files: vec![Source {
            path: path.to_path_buf(),
            map,
        }],
        tensors,
        kv: h.kv,
        alignment: h.alignment,
        read_paths: vec![path.to_path_buf()],
    })
}

/// `general.name` from the file name: `model.safetensors` and `model.safetensors.index.json`
/// give "model".
fn model_name(path: &Path) -> String {
    let f = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let f = f.strip_suffix(".json").unwrap_or(&f);
    let f = f.strip_suffix(".index").unwrap_or(f);
    let f = f.strip_suffix(".safetensors").unwrap_or(f);
    f.to_string()
}

/// `model_type` of the `config.json` beside `path`, if there is one. A config.json that exists
/// but cannot be read or parsed is an error (it would silently give "unknown").
fn architecture(path: &Path, read: &mut Vec<PathBuf>) -> Result<String> {
    let cfg = path.with_file_name("config.json");
    if !cfg.exists() {
        return Ok("unknown".into());
    }
    read.push(cfg.clone());
    let text = std::fs::read(&cfg).with_context(|| format!("{}: cannot read", cfg.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow!("{}: not valid JSON: {e}", cfg.display()))?;
    Ok(match v.get("model_type") {
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => "unknown".into(),
    })
}

fn open_index(path: &Path) -> Result<Model> {
    let text = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow!("{}: not valid JSON: {e}", path.display()))?;
    let Some(wm) = v.get("weight_map").and_then(|w| w.as_object()) else {
        bail!("{}: no \"weight_map\" object", path.display());
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut shards: Vec<String> = Vec::new();
    for (tensor, file) in wm {
        let Some(file) = file.as_str() else {
            bail!(
                "{}: weight_map entry of tensor '{tensor}' is not a string",
                path.display()
            );
        };
        // Shards live beside the index: no absolute path or parent-folder step.
        let p = Path::new(file);
        if file.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!(
                "{}: tensor '{tensor}': shard name '{file}' is not a file name beside the index",
                path.display()
            );
        }
        if !shards.iter().any(|s| s == file) {
            shards.push(file.to_string());
        }
    }
    // Shard names are numbered (model-00001-of-00003.safetensors): sorted is model order.
    shards.sort();
    let paths: Vec<PathBuf> = shards.iter().map(|s| dir.join(s)).collect();
    let mut m = open_safetensors(&paths, path)?;
    // The index decides which tensors make the model: each must be in the shard it names.
    for (tensor, file) in wm {
        let file = file.as_str().unwrap_or_default();
        let fi = shards.iter().position(|s| s == file).unwrap_or(0);
        if !m.tensors.iter().any(|t| &t.name == tensor && t.file == fi) {
            bail!(
                "{}: tensor '{tensor}': not in its shard {}",
                path.display(),
                paths[fi].display()
            );
        }
    }
    m.tensors.retain(|t| wm.contains_key(&t.name));
    m.read_paths.push(path.to_path_buf());
    Ok(m)
}

/// Opens safetensors files as one model; `named` is the path INPUT gave (for general.name and
/// the config.json beside it).
fn open_safetensors(paths: &[PathBuf], named: &Path) -> Result<Model> {
    let mut files = Vec::new();
    let mut tensors = Vec::new();
    let mut meta: Vec<(String, String)> = Vec::new();
    for (fi, p) in paths.iter().enumerate() {
        let m = map(p)?;
        let h = st::parse(&m).map_err(|e| anyhow!("{}: {e}", p.display()))?;
        for t in h.tensors {
            let Some(ggml_type) = st::ggml_type(t.dtype) else {
                bail!(
                    "{}: tensor '{}': dtype {} has no GGUF type (GGUF stores F32, F16, BF16, F64, I8, I16, I32, I64)",
                    p.display(),
                    t.name,
                    t.dtype
                );
            };
            if tensors.iter().any(|x: &Tensor| x.name == t.name) {
                bail!(
                    "{}: tensor '{}' is also in an earlier shard",
                    p.display(),
                    t.name
                );
            }
            // GGUF needs at least one dim; a scalar is stored as [1]. More than 4 do not fit.
            let mut ne: Vec<u64> = t.shape.iter().rev().copied().collect();
            if ne.is_empty() {
                ne.push(1);
            }
            if ne.len() > gguf::MAX_DIMS {
                bail!(
                    "{}: tensor '{}': {} dimensions, GGUF allows at most {}",
                    p.display(),
                    t.name,
                    ne.len(),
                    gguf::MAX_DIMS
                );
            }
            tensors.push(Tensor {
                name: t.name,
                ggml_type,
                ne,
                file: fi,
                start: t.start as usize,
                len: (t.end - t.start) as usize,
            });
        }
        // The first shard that has a key wins.
        for (k, v) in h.metadata {
            if !meta.iter().any(|(mk, _)| *mk == k) {
                meta.push((k, v));
            }
        }
        files.push(Source {
            path: p.clone(),
            map: m,
        });
    }
    meta.sort();
    let mut read_paths = paths.to_vec();
    let arch = architecture(named, &mut read_paths)?;
    let mut kv = vec![
        ("general.architecture".to_string(), Value::str(&arch)),
        ("general.name".to_string(), Value::str(&model_name(named))),
        ("general.quantization_version".to_string(), Value::U32(2)),
    ];
    for (k, v) in meta {
        kv.push((format!("{ST_META_PREFIX}{k}"), Value::Str(v.into_bytes())));
    }
    Ok(Model {
        kind: Kind::Safetensors,
        files,
        tensors,
        kv,
        alignment: gguf::DEFAULT_ALIGNMENT,
        read_paths,
    })
}
