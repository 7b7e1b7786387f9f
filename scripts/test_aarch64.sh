#!/usr/bin/env bash
# Cross-builds libquantize for aarch64-unknown-linux-gnu and runs its tests under qemu user-mode
# emulation, so the NEON kernels are checked against the scalar reference on an x86-64 machine.
#
#   bash scripts/test_aarch64.sh
#
# Installs what it lacks: the rustup target, and Debian's qemu-user (or qemu-user-static) and
# gcc-aarch64-linux-gnu (the linker and the aarch64 C library that qemu -L points at), running
# `apt-get update` only when something is missing. Needs root or sudo for that.
#
# What runs, twice (QUANTIZE_MAX_ISA unset, then =scalar):
#   - the library's unit tests (the kernel tests compare every level, NEON included, with the
#     scalar reference bit for bit; kernels::aarch64 tests check NEON is the level in use);
#   - every integration test in tests/ except those that compile C programs or generate the
#     header (abi_c_programs, abi_header_c, abi_header): they need a C toolchain and programs run for the
#     target, which this script does not set up; the x86-64 suite runs them.
# Before the tests, clippy with -D warnings for the target (code x86-64's clippy never sees).
# Then it checks that the NEON kernel functions (neon, neon_blocks, the lane
# primitives of lanes::aarch64::neon and the NEON instances of the kernels written once in kernels::simd)
# in an optimised build contain no fused multiply-add instruction.
# Little-endian only: aarch64_be (big-endian) is out of scope and not tested.
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=aarch64-unknown-linux-gnu
say() { printf '== test_aarch64 [%ss]: %s\n' "$SECONDS" "$*"; }
die() {
    printf '== test_aarch64: FAILED: %s\n' "$*" >&2
    exit 1
}

# --- tools -----------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx "$TARGET"; then
    say "adding the rustup target $TARGET"
    rustup target add "$TARGET" || die "rustup target add $TARGET"
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
find_qemu() { command -v qemu-aarch64 || command -v qemu-aarch64-static || true; }
SYSROOT=/usr/aarch64-linux-gnu
missing=()
[ -n "$(find_qemu)" ] || missing+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] && [ -e "$SYSROOT/lib/libc.so" ] ||
    missing+=(libc6-dev-arm64-cross)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq || die "apt-get update"
    apt_install() { "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
    for p in "${missing[@]}"; do
        case $p in
        qemu-user) apt_install qemu-user || apt_install qemu-user-static || die "no qemu-user package" ;;
        *) apt_install "$p" || die "apt-get install $p" ;;
        esac
    done
fi
QEMU=$(find_qemu)
[ -n "$QEMU" ] || die "qemu-aarch64 not found after installing"
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || die "no aarch64 C library under $SYSROOT"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$QEMU -L $SYSROOT"
say "runner: $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER ($("$QEMU" --version | head -n1))"

# --- lints -----------------------------------------------------------------------------------
# Code compiled only for aarch64 (and x86-only code left unused there) is invisible to the
# x86-64 clippy run.
say "cargo clippy --target $TARGET --all-targets -- -D warnings"
cargo clippy --quiet --target "$TARGET" --all-targets -- -D warnings || die "clippy for $TARGET"

# --- tests -----------------------------------------------------------------------------------
skipped=(abi_c_programs abi_header_c abi_header)
test_args=(--lib)
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case " ${skipped[*]} " in
    *" $name "*) continue ;;
    esac
    test_args+=(--test "$name")
done
say "skipping integration tests that compile C or generate the header: ${skipped[*]}"
# This test re-executes its own binary as child processes; under qemu-user that needs binfmt_misc,
# which this machine does not register. Its subject (the dispatch cap) is covered on aarch64 by
# kernels::aarch64::tests::active_level_follows_the_environment.
libtest_args=(-- --skip every_simd_cap_gives_the_scalar_results)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Each run must show these tests passing; the first two fail unless NEON is listed and active.
must_pass=(
    kernels::aarch64::tests::neon_is_the_best_level_here
    kernels::aarch64::tests::active_level_follows_the_environment
    kernels::tests::scan_matches_reference
    kernels::tests::quantize_and_dequantize_match_reference
    kernels::tests::code_kernels_match_reference
    kernels::tests::error_sums_match_reference
    kernels::tests_blocks::block_quantizers_match_scalar
    kernels::tests_blocks::block_dequantizers_match_scalar
    kernels::lanes::aarch64::tests::float_primitives_follow_the_documented_x86_semantics
    kernels::simd::superblocks::tests::q4_k_codes_match_nearest_int
)
run_tests() { # $1: QUANTIZE_MAX_ISA value, or "" for unset
    local what=${1:-unset}
    say "cargo test --target $TARGET ${test_args[*]} (QUANTIZE_MAX_ISA=$what)"
    local t0=$SECONDS
    if [ -n "$1" ]; then
        QUANTIZE_MAX_ISA=$1 cargo test --target "$TARGET" "${test_args[@]}" "${libtest_args[@]}" 2>&1 | tee "$log"
    else
        env -u QUANTIZE_MAX_ISA cargo test --target "$TARGET" "${test_args[@]}" "${libtest_args[@]}" 2>&1 | tee "$log"
    fi
    for t in "${must_pass[@]}"; do
        grep -qxF "test $t ... ok" "$log" || die "test $t did not run and pass (QUANTIZE_MAX_ISA=$what)"
    done
    local n
    n=$(grep -cE '^test result: ok\.' "$log" || true)
    say "QUANTIZE_MAX_ISA=$what: $n test binaries passed in $((SECONDS - t0)) s"
}
run_tests ""
run_tests scalar

# --- no fused multiply-add in the NEON kernels ------------------------------------------------
say "checking the optimised NEON kernels for fused multiply-add"
cargo build --quiet --release --lib --target "$TARGET"
so="${CARGO_TARGET_DIR:-target}/$TARGET/release/libquantize.so"
[ -f "$so" ] || die "$so not built"
aarch64-linux-gnu-objdump -d --no-show-raw-insn -C "$so" >"$log"
# Instructions of the functions whose demangled name is in kernels::aarch64::neon (the
# per-tensor table, error_sums and the half-precision entries) or neon_blocks (block formats,
# codebooks, groups), in kernels::lanes::aarch64::neon (the lane primitives, where not
# inlined) or in the `neon` instance of a kernels::simd module (kernels::simd::int4::neon,
# kernels::simd::multi_block::neon, ...). At least 20: the kernel tables hold the addresses of
# 9 + 11 functions (named ones or closures named after the table), so none of them can be
# inlined away; the simd instances they call may be inlined into them, and are then checked
# as part of them.
awk '/^[0-9a-f]+ <.*kernels::(aarch64::neon(_blocks)?|lanes::aarch64::neon|simd::[a-z0-9_]+::neon)::/ { f = 1; n++; print "  " $0; next }
     /^[0-9a-f]+ </ { f = 0 }
     f && $2 ~ /^(fmla|fmls|fmadd|fmsub|fnmadd|fnmsub|fmlal|fmlsl)/ { bad++; print }
     END { printf "%d NEON kernel functions, %d fused multiply-add instructions\n", n, bad + 0
           exit (n < 20 || bad > 0) }' "$log" || die "NEON kernels missing from the build or using FMA"

say "passed"
