"""Turns criterion's results (target/criterion) into the README's throughput table.

Each benchmark group is "<level>/<n>"; every benchmark's throughput is n float32 values. The
ratio column divides by the baseline of the same group: baseline_write for operations that
produce floats (dequantize*), baseline_read for everything else.
"""
import json
import os
import sys


def load(root):
    rows = {}
    for dirpath, _, files in os.walk(root):
        if "benchmark.json" in files and os.path.basename(dirpath) == "new":
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                meta = json.load(f)
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
            level, n = meta["group_id"].split("/")
            seconds = est["median"]["point_estimate"] * 1e-9
            gbps = meta["throughput"]["Bytes"] / seconds / 1e9
            rows[(level, int(n), meta["function_id"])] = gbps
    return rows


def main():
    rows = load(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    levels = sorted({k[0] for k in rows}, key=lambda l: l == "scalar")
    sizes = sorted({k[1] for k in rows})
    ops = sorted({k[2] for k in rows if not k[2].startswith("baseline")})
    head = "| operation | n |"
    rule = "|---|---:|"
    for level in levels:
        head += f" {level} GB/s | {level} ratio |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for n in sizes:
        for base in ("baseline_read", "baseline_write", "baseline_copy"):
            line = f"| {base} | {n} |"
            for level in levels:
                v = rows.get((level, n, base))
                line += f" {v:.1f} | 1.00 |" if v else " | |"
            print(line)
        for op in ops:
            line = f"| {op} | {n} |"
            base = "baseline_write" if op.startswith("dequantize") else "baseline_read"
            for level in levels:
                v, b = rows.get((level, n, op)), rows.get((level, n, base))
                line += f" {v:.1f} | {v / b:.2f} |" if v and b else " | |"
            print(line)


if __name__ == "__main__":
    main()
