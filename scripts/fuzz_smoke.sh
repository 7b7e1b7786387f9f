#!/usr/bin/env bash
# Fuzz smoke test of libquantize's C ABI (the cargo-fuzz crate in fuzz/; see fuzz/README.md).
#
#   1. installs cargo-fuzz if missing (needs a nightly toolchain: `rustup toolchain install nightly`);
#   2. runs every fuzz target for FUZZ_SECONDS seconds (default 20), AddressSanitizer on, every
#      input's main call compared across all SIMD levels of the CPU (see step 3), starting
#      from the committed seeds in fuzz/corpus/<target>/ and keeping what it finds in the
#      git-ignored fuzz/corpus-run/<target>/; any crash fails the script (the input is saved
#      under fuzz/artifacts/<target>/);
#   3. replays the committed corpus (and fuzz/corpus-run/ if present) three times: with
#      QUANTIZE_MAX_ISA unset, =avx2 and =scalar. Every target runs its main C call under each
#      SIMD level at or below that cap in one process and asserts that all of them return the
#      same status and bytes (fuzz/src/lib.rs, `at_every_level`), and checks the contract at
#      the cap's level; so the corpus is compared across all levels, and the references are
#      checked at the best level, at avx2 and at scalar (selected the normal way, through
#      QUANTIZE_MAX_ISA). Steps 2 and 3 fail if fewer levels than the CPU has were compared.
#
# Every target `cargo fuzz list` names runs, so a new one (such as `half`, the float16/bfloat16
# functions) is included without a change here; it needs committed seeds in fuzz/corpus/<target>/
# (checked before anything is built). With the CI's FUZZ_SECONDS=20 the script takes about
# 11 targets x 20 s plus the build and the replays.
#
# Environment: FUZZ_SECONDS (per target, default 20; 0 skips step 2), FUZZ_TARGETS (space
# separated, default all), FUZZ_TOOLCHAIN (default nightly), FUZZ_SANITIZER (address | none,
# default address).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
sanitizer=${FUZZ_SANITIZER:-address}
# cargo-fuzz keeps its own target dir (fuzz/target) unless told otherwise.
unset CARGO_TARGET_DIR
# Every level is compared: the script sets QUANTIZE_MAX_ISA itself where it wants a cap.
unset QUANTIZE_MAX_ISA QUANTIZE_FUZZ_LEVELS

fail() {
    echo "fuzz_smoke: FAILED: $*" >&2
    exit 1
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz_smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo "+$toolchain" --version >/dev/null 2>&1 ||
    fail "toolchain '$toolchain' missing (rustup toolchain install $toolchain)"

fuzz() { cargo "+$toolchain" fuzz "$@"; }

targets=${FUZZ_TARGETS:-$(fuzz list)}
echo "fuzz_smoke: targets: $(echo $targets)"
for t in $targets; do
    [ -n "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ] || fail "no seeds in fuzz/corpus/$t/"
done
fuzz build -s "$sanitizer" || fail "build"

if [ "$seconds" -gt 0 ]; then
    for t in $targets; do
        mkdir -p "fuzz/corpus-run/$t"
        echo "fuzz_smoke: fuzzing $t for ${seconds}s"
        log="fuzz/corpus-run/$t.log"
        if ! fuzz run -s "$sanitizer" "$t" "fuzz/corpus-run/$t" "fuzz/corpus/$t" -- \
            -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
            tail -n 60 "$log" >&2
            fail "fuzz target $t crashed (input saved under fuzz/artifacts/$t/, log $log)"
        fi
        grep -E '^#[0-9]+ +DONE' "$log" || true
        grep -E '^stat::number_of_executed_units' "$log" || true
    done
fi

# A SIMD level this CPU surely has (the library may add more above it), or none.
simd=
case "$(uname -m)" in
x86_64) grep -qw avx2 /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && simd=avx2 ;;
aarch64) simd=neon ;;
esac
# check_levels LOG CAP: the levels the run compared (printed once per process) must end with
# scalar, include $simd unless CAP is scalar, and be exactly "scalar" (CAP scalar) or
# "avx2 scalar" (CAP avx2): so the per-input comparison is never silently a single level.
# quantize-model's header parser targets call no kernel: they have no levels to compare.
no_levels=" safetensors_header gguf_header "
check_levels() {
    local got t
    t=$(basename "$1")
    t=${t%%.*}
    [[ "$no_levels" == *" $t "* ]] && return 0
    got=$(grep -m1 '^quantize_fuzz: SIMD levels compared:' "$1" | sed 's/^.*compared: //')
    case "$2:$got" in
    scalar:scalar | avx2:"avx2 scalar") ;;
    avx2:scalar) [ "$simd" != avx2 ] || fail "$1: levels compared '$got' under QUANTIZE_MAX_ISA=avx2" ;;
    best:*scalar) [ -z "$simd" ] || [[ " $got " == *" $simd "* ]] || fail "$1: levels compared '$got', no $simd" ;;
    *) fail "$1: levels compared '$got' (QUANTIZE_MAX_ISA=$2)" ;;
    esac
}

if [ "$seconds" -gt 0 ]; then
    for t in $targets; do check_levels "fuzz/corpus-run/$t.log" best; done
fi

# Replay the corpora under each cap; every input compares the levels at or below it.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
for t in $targets; do
    dirs=("fuzz/corpus/$t")
    [ -d "fuzz/corpus-run/$t" ] && dirs+=("fuzz/corpus-run/$t")
    for cap in best avx2 scalar; do
        log="$logs/$t.$cap.log"
        isa=()
        [ "$cap" = best ] || isa=("QUANTIZE_MAX_ISA=$cap")
        env "${isa[@]}" cargo "+$toolchain" fuzz run -s "$sanitizer" "$t" "${dirs[@]}" -- -runs=0 \
            >"$log" 2>&1 || { tail -n 40 "$log" >&2; fail "replay of $t (QUANTIZE_MAX_ISA=$cap)"; }
        check_levels "$log" "$cap"
        inputs=$(grep -oE 'INITED.*' "$log" | head -n 1)
        echo "fuzz_smoke: replayed $t, QUANTIZE_MAX_ISA=$cap, levels $(grep -m1 '^quantize_fuzz: SIMD levels' "$log" | sed 's/^.*compared: //'): ${inputs:-?}"
    done
done
echo "fuzz_smoke: OK"
