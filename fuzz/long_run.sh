#!/usr/bin/env bash
# A long local fuzzing campaign: every target, one after the other, one process at a time (the
# machine's cores are shared), first without a sanitizer (several times the executions per
# second), then with AddressSanitizer. The binaries are copied first, so editing the fuzz crate
# meanwhile does not change what runs. Logs and a summary go to $OUT (default
# fuzz/corpus-run/long-<date>); new inputs to fuzz/corpus-run/<target>; crashes to
# fuzz/artifacts/<target>/.
#
#   fuzz/long_run.sh [seconds per target without sanitizer] [seconds per target with ASan]
set -euo pipefail
cd "$(dirname "$0")"
none_s=${1:-360}
asan_s=${2:-300}
out=${OUT:-corpus-run/long-$(date -u +%Y%m%dT%H%M%S)}
unset CARGO_TARGET_DIR
targets=$(cargo +nightly fuzz list)
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p "$out/none" "$out/address"

for san in none address; do
    cargo +nightly fuzz build -s "$san" >"$out/build-$san.log" 2>&1
    for t in $targets; do cp "$bin/$t" "$out/$san/$t"; done
done

for san in none address; do
    secs=$none_s
    [ "$san" = address ] && secs=$asan_s
    for t in $targets; do
        mkdir -p "corpus-run/$t" "artifacts/$t"
        echo "$(date -u +%FT%TZ) $san $t ${secs}s" >>"$out/progress"
        set +e
        "$out/$san/$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
            -artifact_prefix="artifacts/$t/" "corpus-run/$t" "corpus/$t" >"$out/$san-$t.log" 2>&1
        rc=$?
        set -e
        runs=$(grep -E '^stat::number_of_executed_units' "$out/$san-$t.log" | awk '{print $2}')
        last=$(grep -E '^#[0-9]+' "$out/$san-$t.log" | tail -n 1)
        echo "$san $t rc=$rc execs=${runs:-?} last: $last" >>"$out/summary"
    done
done
echo "$(date -u +%FT%TZ) done" >>"$out/progress"
