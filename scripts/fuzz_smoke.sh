#!/usr/bin/env bash
# Fuzz smoke test of libquantize's C ABI (the cargo-fuzz crate in fuzz/; see fuzz/README.md).
#
#   1. installs cargo-fuzz if missing (needs a nightly toolchain: `rustup toolchain install nightly`);
#   2. runs every fuzz target for FUZZ_SECONDS seconds (default 20), AddressSanitizer on, starting
#      from the committed seeds in fuzz/corpus/<target>/ and keeping what it finds in the
#      git-ignored fuzz/corpus-run/<target>/; any crash fails the script (the input is saved
#      under fuzz/artifacts/<target>/);
#   3. replays the committed corpus (and fuzz/corpus-run/ if present) once per SIMD level,
#      QUANTIZE_MAX_ISA=scalar, avx2 and the machine's best, each writing a digest of every
#      status and output byte per input; the digests must be identical, so every level returns
#      exactly what the scalar reference returns on every corpus input.
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

# Replay under each SIMD level and compare digests.
digests=$(mktemp -d)
trap 'rm -rf "$digests"' EXIT
for t in $targets; do
    dirs=("fuzz/corpus/$t")
    [ -d "fuzz/corpus-run/$t" ] && dirs+=("fuzz/corpus-run/$t")
    for level in scalar avx2 best; do
        out="$digests/$t.$level"
        : >"$out"
        for dir in "${dirs[@]}"; do
            if [ "$level" = best ]; then
                env -u QUANTIZE_MAX_ISA QUANTIZE_FUZZ_DIGEST="$out.part" \
                    cargo "+$toolchain" fuzz run -s "$sanitizer" "$t" "$dir" -- -runs=0 \
                    >"$out.log" 2>&1 || { tail -n 40 "$out.log" >&2; fail "replay of $dir under $level"; }
            else
                QUANTIZE_MAX_ISA=$level QUANTIZE_FUZZ_DIGEST="$out.part" \
                    cargo "+$toolchain" fuzz run -s "$sanitizer" "$t" "$dir" -- -runs=0 \
                    >"$out.log" 2>&1 || { tail -n 40 "$out.log" >&2; fail "replay of $dir under $level"; }
            fi
            [ -f "$out.part" ] || fail "replay of $dir under $level wrote no digest"
            cat "$out.part" >>"$out"
            rm -f "$out.part"
        done
        sort -u -o "$out" "$out"
        kernel=$(cat "$out.part.kernel" 2>/dev/null || echo '?')
        echo "fuzz_smoke: replayed $t under QUANTIZE_MAX_ISA=$level (kernel $kernel): $(wc -l <"$out") inputs"
        if [ "$level" = scalar ] && [ "$kernel" != scalar ]; then
            fail "QUANTIZE_MAX_ISA=scalar ran kernel $kernel"
        fi
    done
    for level in avx2 best; do
        if ! cmp -s "$digests/$t.scalar" "$digests/$t.$level"; then
            diff "$digests/$t.scalar" "$digests/$t.$level" | head -n 10 >&2
            fail "$t: level $level differs from scalar on the inputs above (hash of input, hash of results)"
        fi
    done
done
echo "fuzz_smoke: OK"
