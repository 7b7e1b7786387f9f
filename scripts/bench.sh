#!/usr/bin/env bash
# Runs the throughput benchmark at the best SIMD level and at the scalar level, then prints the
# README's table: GB/s of float32 processed (median) and the ratio to the read or write baseline
# measured in the same run (quantizers and scans read floats: read baseline; dequantizers write
# floats: write baseline). Usage: scripts/bench.sh [criterion filter, e.g. 16777216]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
filter=${1:-}
rm -rf target/criterion
cargo bench --bench throughput -- ${filter:+"$filter"}
QUANTIZE_MAX_ISA=scalar cargo bench --bench throughput -- ${filter:+"$filter"}
python3 scripts/bench_table.py target/criterion
