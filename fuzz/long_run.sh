#!/usr/bin/env bash
# A long local fuzzing campaign: every target, one after the other, one process at a time (the
# machine's cores are shared), in three passes: without a sanitizer (several times the executions
# per second), every input's main call run under every SIMD level of the CPU and compared byte
# for byte (fuzz/src/lib.rs, `at_every_level`); the same with QUANTIZE_FUZZ_LEVELS=best (the best
# level only, checked against the references: about 1.3x the executions per second); then with
# AddressSanitizer, every level again (so the avx2 and scalar kernels run under ASan too). The
# binaries are copied first, so editing the fuzz crate meanwhile does not change what runs.
# Logs and a summary go to $OUT (default fuzz/corpus-run/long-<date>); new inputs to
# fuzz/corpus-run/<target>; crashes to fuzz/artifacts/<target>/.
#
#   fuzz/long_run.sh [s per target: no sanitizer, all levels] [s: no sanitizer, best level only]
#                    [s: ASan, all levels]
set -euo pipefail
cd "$(dirname "$0")"
all_s=${1:-300}
best_s=${2:-150}
asan_s=${3:-150}
out=${OUT:-corpus-run/long-$(date -u +%Y%m%dT%H%M%S)}
unset CARGO_TARGET_DIR QUANTIZE_MAX_ISA QUANTIZE_FUZZ_LEVELS
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}  # as cargo fuzz run sets it
targets=$(cargo +nightly fuzz list)
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p "$out/none" "$out/address"

for san in none address; do
    cargo +nightly fuzz build -s "$san" >"$out/build-$san.log" 2>&1
    for t in $targets; do cp "$bin/$t" "$out/$san/$t"; done
done

for pass in none:all:$all_s none:best:$best_s address:all:$asan_s; do
    IFS=: read -r san levels secs <<<"$pass"
    for t in $targets; do
        mkdir -p "corpus-run/$t" "artifacts/$t"
        echo "$(date -u +%FT%TZ) $san $levels $t ${secs}s" >>"$out/progress"
        set +e
        QUANTIZE_FUZZ_LEVELS=$levels "$out/$san/$t" -max_total_time="$secs" -timeout=10 \
            -print_final_stats=1 -artifact_prefix="artifacts/$t/" "corpus-run/$t" "corpus/$t" \
            >"$out/$san-$levels-$t.log" 2>&1
        rc=$?
        set -e
        log="$out/$san-$levels-$t.log"
        runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        echo "$san $levels $t rc=$rc execs=${runs:-?} last: $last" >>"$out/summary"
    done
done
echo "$(date -u +%FT%TZ) done" >>"$out/progress"
