"""Independent check of quantize-model's output with the `gguf` Python package's GGUFReader.

Usage: gguf_reader_check.py QUANTIZE_MODEL_BINARY WORK_DIR

Makes the test model (the tool's hidden make-test-model), converts it to every type the tool
lists in --help, and checks with gguf.GGUFReader, against the safetensors source read here with
numpy: tensor names and order, dims (innermost first), GGML type, copied bytes identical,
metadata; quantized bytes equal to gguf.quants.quantize where gguf implements the format's
quantizer (Q4_0, Q4_1, MXFP4); for every type, gguf.quants.dequantize of the quantized bytes is close to
the original (SQNR) and gives the SQNR the tool's JSON report states. Then a GGUF written by
gguf.GGUFWriter goes through the tool and keeps every metadata key.
"""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, LlamaFileType as F

TOOL = sys.argv[1]
WORK = Path(sys.argv[2])

# The type each --type writes, and general.file_type, from the gguf package's own enums.
TYPES = {
    "q4_0": (T.Q4_0, F.MOSTLY_Q4_0),
    "q4_1": (T.Q4_1, F.MOSTLY_Q4_1),
    "iq4_nl": (T.IQ4_NL, F.MOSTLY_IQ4_NL),
    "mxfp4": (T.MXFP4, F.MOSTLY_MXFP4_MOE),
    "q4_k": (T.Q4_K, F.MOSTLY_Q4_K_S),
    "iq4_xs": (T.IQ4_XS, F.MOSTLY_IQ4_XS),
    "nvfp4": (T.NVFP4, F.MOSTLY_NVFP4),
}
# gguf's numpy quantizers that are ggml's bytes exactly on this data.
EXACT_QUANTIZE = {"q4_0", "q4_1", "mxfp4"}
ST_TYPES = {"F32": T.F32, "F16": T.F16, "BF16": T.BF16, "I64": T.I64}

checks = 0
failures = []


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    r = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"quantize-model {' '.join(map(str, args))} failed: {r.stderr}")
    return r.stdout


def read_safetensors(path):
    """(name, dtype, shape, raw bytes) in data order, with numpy only."""
    b = path.read_bytes()
    n = int.from_bytes(b[:8], "little")
    header = json.loads(b[8 : 8 + n])
    header.pop("__metadata__", None)
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    data = b[8 + n :]
    return [(k, v["dtype"], v["shape"], data[v["data_offsets"][0] : v["data_offsets"][1]]) for k, v in items]


def widen(dtype, raw):
    if dtype == "F32":
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if dtype == "F16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float32)
    if dtype == "BF16":
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    raise ValueError(dtype)


def field(reader, key):
    f = reader.fields[key]
    return f.contents()


def sqnr_db(x, y):
    x = x.astype(np.float64)
    noise = np.sum((x - y.astype(np.float64)) ** 2)
    return math.inf if noise == 0 else 10 * math.log10(np.sum(x * x) / noise)


run("make-test-model", WORK)
model = WORK / "model.safetensors"
source = read_safetensors(model)
help_text = run("--help")
listed = re.search(r"possible values: ([^\]]+)\]", help_text).group(1).replace(",", " ").split()
print("types:", " ".join(listed))
check(set(listed) <= set(TYPES), f"every listed type is known here: {listed}")

for name in listed:
    qtype, ftype = TYPES[name]
    blck, _ = gguf.GGML_QUANT_SIZES[qtype]
    out = WORK / f"out-{name}.gguf"
    report = WORK / f"report-{name}.json"
    run(model, out, "--type", name, "--keep", r"^lm_head\.", "--quiet", "--report", report)
    stated = {t["name"]: t["sqnr_db"] for t in json.loads(report.read_text())["tensors"]}
    r = gguf.GGUFReader(out)
    check(field(r, "general.file_type") == int(ftype), f"{name}: general.file_type {int(ftype)}")
    check(field(r, "general.architecture") == "llama", f"{name}: general.architecture")
    check(field(r, "general.name") == "model", f"{name}: general.name")
    check(field(r, "general.quantization_version") == 2, f"{name}: quantization_version")
    check(field(r, "safetensors.metadata.format") == "pt", f"{name}: __metadata__ entry")
    check([t.name for t in r.tensors] == [s[0] for s in source], f"{name}: tensor names and order")
    for t, (tname, dtype, shape, raw) in zip(r.tensors, source):
        what = f"{name}: {tname}"
        check(list(map(int, t.shape)) == list(reversed(shape)), f"{what}: dims innermost first")
        quantized = (
            dtype in ("F32", "F16", "BF16")
            and len(shape) >= 2
            and shape[-1] % blck == 0
            and not tname.startswith("lm_head.")
        )
        if not quantized:
            check(t.tensor_type == ST_TYPES[dtype], f"{what}: copied type")
            check(t.data.tobytes() == raw, f"{what}: copied bytes")
            check(stated[tname] is None, f"{what}: no SQNR for a copied tensor")
            continue
        check(t.tensor_type == qtype, f"{what}: type {qtype.name}")
        x = widen(dtype, raw).reshape(-1, shape[-1])
        got = np.frombuffer(t.data.tobytes(), dtype=np.uint8)
        if name in EXACT_QUANTIZE:
            want = gguf.quants.quantize(x, qtype)
            check(got.tobytes() == want.tobytes(), f"{what}: bytes equal gguf.quants.quantize")
        y = gguf.quants.dequantize(got.reshape(x.shape[0], -1), qtype).reshape(x.shape)
        s = sqnr_db(x, y)
        check(s > 15.0, f"{what}: dequantized SQNR {s:.2f} dB > 15 dB (4-bit on normal data)")
        check(abs(s - stated[tname]) < 0.01, f"{what}: SQNR {s:.3f} as reported ({stated[tname]:.3f})")

# A GGUF made by the gguf package: every key survives, in order, with its type and value.
w = gguf.GGUFWriter(WORK / "in.gguf", "llama")
w.add_name("tiny")
w.add_uint32("llama.block_count", 1)
w.add_float32("llama.rope.freq_base", 10000.0)
w.add_bool("llama.use_parallel_residual", True)
w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a"])
w.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.5])
w.add_int64("x.i64", -(1 << 40))
w.add_file_type(int(F.MOSTLY_F16))
rng = np.random.default_rng(0)
w.add_tensor("blk.0.ffn_up.weight", (rng.standard_normal((8, 256)) * 0.02).astype(np.float16))
w.add_tensor("blk.0.attn_norm.weight", np.ones(256, dtype=np.float32))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
run(WORK / "in.gguf", WORK / "re.gguf", "--type", "q4_0", "--quiet")
a, b = gguf.GGUFReader(WORK / "in.gguf"), gguf.GGUFReader(WORK / "re.gguf")
keys_a = [k for k in a.fields if not k.startswith("GGUF.")]
keys_b = [k for k in b.fields if not k.startswith("GGUF.")]
extra = [k for k in keys_b if k not in keys_a]
check([k for k in keys_b if k in keys_a] == keys_a, "GGUF input: every key kept, in order")
check(extra in ([], ["general.quantization_version"]), f"GGUF input: only quantization_version added ({extra})")
for k in keys_a:
    fa, fb = a.fields[k], b.fields[k]
    check(fa.types == fb.types, f"GGUF input: {k} type")
    if k != "general.file_type":
        check(fa.contents() == fb.contents(), f"GGUF input: {k} value")
check(field(b, "general.file_type") == int(F.MOSTLY_Q4_0), "GGUF input: file_type now Q4_0")
check([t.name for t in b.tensors] == [t.name for t in a.tensors], "GGUF input: tensor order")
x = np.asarray(a.tensors[0].data, dtype=np.float32)
check(b.tensors[0].tensor_type == T.Q4_0, "GGUF input: F16 matrix quantized")
check(b.tensors[0].data.tobytes() == gguf.quants.quantize(x, T.Q4_0).tobytes(), "GGUF input: Q4_0 bytes")
check(b.tensors[1].data.tobytes() == a.tensors[1].data.tobytes(), "GGUF input: 1-D copied")

print(f"gguf_reader_check: {checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
