#!/usr/bin/env bash
# One table of every SIMD level this CPU has (scalar, and neon or avx2/avx512), in one run: GB/s
# of float32 and the ratio to the read or write baseline timed in the same process, out of cache
# (64 MiB) and in cache (256 KiB), with the CPU model and the load average. Markdown, for the
# README. Takes about a minute per level (QUANTIZE_BENCH_ROW_SECONDS, default 1, is the time
# budget of one row; QUANTIZE_BENCH_FILTER and QUANTIZE_BENCH_SIZES=out|in narrow the run).
# Usage: scripts/bench_levels.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUANTIZE_BENCH_LEVELS=all cargo bench --bench throughput
