#!/usr/bin/env bash
# A long local fuzzing campaign: every target, one after the other, one process at a time (the
# machine's cores are shared), in three passes: without a sanitizer (several times the executions
# per second) at the machine's best SIMD level, the same under QUANTIZE_MAX_ISA=avx2, then with
# AddressSanitizer at the best level. (The targets compare every result with independent
# references, so each level is checked on its own; scripts/fuzz_smoke.sh also diffs the levels.) The binaries are copied first, so editing the fuzz crate
# meanwhile does not change what runs. Logs and a summary go to $OUT (default
# fuzz/corpus-run/long-<date>); new inputs to fuzz/corpus-run/<target>; crashes to
# fuzz/artifacts/<target>/.
#
#   fuzz/long_run.sh [s per target: no sanitizer, best] [s: no sanitizer, avx2] [s: ASan, best]
set -euo pipefail
cd "$(dirname "$0")"
best_s=${1:-240}
avx2_s=${2:-160}
asan_s=${3:-240}
out=${OUT:-corpus-run/long-$(date -u +%Y%m%dT%H%M%S)}
unset CARGO_TARGET_DIR
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}  # as cargo fuzz run sets it
targets=$(cargo +nightly fuzz list)
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p "$out/none" "$out/address"

for san in none address; do
    cargo +nightly fuzz build -s "$san" >"$out/build-$san.log" 2>&1
    for t in $targets; do cp "$bin/$t" "$out/$san/$t"; done
done

for pass in none:best:$best_s none:avx2:$avx2_s address:best:$asan_s; do
    IFS=: read -r san level secs <<<"$pass"
    for t in $targets; do
        mkdir -p "corpus-run/$t" "artifacts/$t"
        echo "$(date -u +%FT%TZ) $san $level $t ${secs}s" >>"$out/progress"
        set +e
        if [ "$level" = best ]; then
            env -u QUANTIZE_MAX_ISA "$out/$san/$t" -max_total_time="$secs" -timeout=10 \
                -print_final_stats=1 -artifact_prefix="artifacts/$t/" "corpus-run/$t" "corpus/$t" \
                >"$out/$san-$level-$t.log" 2>&1
        else
            QUANTIZE_MAX_ISA=$level "$out/$san/$t" -max_total_time="$secs" -timeout=10 \
                -print_final_stats=1 -artifact_prefix="artifacts/$t/" "corpus-run/$t" "corpus/$t" \
                >"$out/$san-$level-$t.log" 2>&1
        fi
        rc=$?
        set -e
        log="$out/$san-$level-$t.log"
        runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        echo "$san $level $t rc=$rc execs=${runs:-?} last: $last" >>"$out/summary"
    done
done
echo "$(date -u +%FT%TZ) done" >>"$out/progress"
