#!/usr/bin/env bash
# Runs the scalar core and the C layer under Miri (nightly), which reports undefined behaviour:
# out-of-bounds or misaligned accesses, use of uninitialised memory, invalid slices made from C
# pointers, aliasing violations (Stacked Borrows), data races and leaks.
#
# Under Miri the crate compiles its SIMD kernels out (cfg(not(miri))), so the scalar reference
# is what runs; tests/abi_dispatch_init.rs asserts that quantize::kernel_name() is "scalar" there,
# and this script checks its output says so. The SIMD kernels are covered by
# scripts/test_sanitizers.sh and scripts/test_valgrind.sh instead.
#
# What runs: the unit tests (--lib) and the integration tests that drive the C functions and the
# core without large data or external processes: abi_contract, abi_check_order, codebook_abi,
# blocks_abi, blocks_errors, codebook_api, int4_golden, abi_threads, abi_dispatch_init. A few
# tests are skipped because they take minutes under Miri and exercise arithmetic, not memory
# (listed below with their cost on a 2-core machine); the whole run takes about 6 minutes there.
#
# Float results under Miri: Miri adds a random extra rounding error to operations Rust does not
# promise to be exact (libm functions such as log10, and powi). The library itself does not rely
# on their exact results, except quantize_measure_error's sqnr_db (10*log10); so the tests that
# compare such a result bit for bit between calls (abi_threads, abi_dispatch_init) and one unit test
# that compares 2.0f32.powi(126) with a constant run with -Zmiri-no-extra-rounding-error, and
# everything else runs with Miri's default (perturbed) floats.
#
# Usage: scripts/miri.sh        Env: CARGO_TARGET_DIR (default <repo>/target), MIRIFLAGS (added)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
USER_MIRIFLAGS=${MIRIFLAGS:-}

command -v rustup >/dev/null || die "rustup is needed to install the nightly Miri component"
if ! rustc +nightly -V >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
rustup component add --toolchain nightly miri rust-src
cargo +nightly miri --version
cargo +nightly miri setup >/dev/null

TIMINGS=()
# step LABEL EXTRA_MIRIFLAGS CARGO_ARGS... [-- TEST_ARGS...]
step() {
    local label=$1 flags=$2
    shift 2
    local t0=$SECONDS out
    out=$(mktemp)
    log "$label"
    if ! MIRIFLAGS="$flags $USER_MIRIFLAGS" cargo +nightly miri test --quiet "$@" 2>&1 | tee "$out"; then
        rm -f "$out"
        die "$label"
    fi
    # `cargo miri test` fails on a failing test; also refuse a run that tested nothing
    grep -Eq 'test result: ok\. [1-9][0-9]* passed' "$out" || {
        rm -f "$out"
        die "$label: no test ran"
    }
    LAST_OUTPUT=$(cat "$out")
    rm -f "$out"
    TIMINGS+=("$(printf '%4ds  %s' $((SECONDS - t0)) "$label")")
}

# --lib. Skipped (exhaustive numeric checks, no unsafe code involved):
#   reference::formats::fp16::tests::midpoints_round_to_nearest_even             ~75 s
#   reference::formats::fp16::tests::every_f16_converts_exactly_and_round_trips  ~40 s
#   reference::codebook::scalar::tests::counting_form_equals_bitsandbytes_trees  ~35 s
# and one run separately without extra float error (it compares 2.0f32.powi(126) exactly).
POWI_TEST=reference::codebook::scalar::tests::max_abs_input_is_two_to_the_126
step "unit tests (--lib)" "" --lib -- \
    --skip reference::formats::fp16::tests::midpoints_round_to_nearest_even \
    --skip reference::formats::fp16::tests::every_f16_converts_exactly_and_round_trips \
    --skip reference::codebook::scalar::tests::counting_form_equals_bitsandbytes_trees \
    --skip "$POWI_TEST"
step "unit test $POWI_TEST (exact floats)" "-Zmiri-no-extra-rounding-error" \
    --lib -- --exact "$POWI_TEST"

step "abi_contract" "" --test abi_contract
# the check-order table: under Miri only float32, single faults and the hand-written rows
step "abi_check_order" "" --test abi_check_order
step "codebook_abi" "" --test codebook_abi
# skipped: c_layer_gives_ggml_golden_bytes (~140 s; the same calls as the status tests, on
# golden data)
step "blocks_abi" "" --test blocks_abi -- --skip c_layer_gives_ggml_golden_bytes
step "blocks_errors" "" --test blocks_errors
# skipped: absmax_is_the_block_maximum_magnitude_for_every_block_size (~130 s) and
# zero_blocks_encode_zero_and_decode_to_zero (~55 s): every block size up to 4096, numerics only
step "codebook_api" "" --test codebook_api -- \
    --skip absmax_is_the_block_maximum_magnitude_for_every_block_size \
    --skip zero_blocks_encode_zero_and_decode_to_zero
# reads tests/data at run time: needs the file system. Skipped: golden_random_* (10+ minutes),
# golden_groups (~45 s) and checker_detects_corrupted_goldens (tests the test's own checker)
step "int4_golden" "-Zmiri-disable-isolation" --test int4_golden -- \
    --skip golden_random --skip golden_groups --skip checker_detects_corrupted_goldens
# many threads, small inputs: Miri's data-race detector watches every C function
step "abi_threads" "-Zmiri-no-extra-rounding-error" --test abi_threads
step "abi_dispatch_init" "-Zmiri-no-extra-rounding-error" --test abi_dispatch_init -- --nocapture
grep -q '^kernel: scalar;' <<<"$LAST_OUTPUT" ||
    grep -q 'kernel: scalar digest' <<<"$LAST_OUTPUT" ||
    die "quantize::kernel_name() is not \"scalar\" under Miri"
log "kernel under Miri: scalar"

printf '\nMiri timings:\n'
printf '  %s\n' "${TIMINGS[@]}"
log "miri.sh: all passed in $((SECONDS - START))s"
