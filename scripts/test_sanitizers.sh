#!/usr/bin/env bash
# Runs the C programs of examples-c/ (seed_example.c, roundtrip.c) and tests/c/errors.c under
# AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, built by gcc with
#   -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# and linked against
#   1. libquantize.a built normally (stable): only the C side is instrumented. The library's own
#      loads and stores are not checked here, but malloc/free of the whole process are (leaks,
#      double frees), and so is everything the C programs do with what the library returns;
#   2. libquantize.so built normally: the same, through the shared library;
#   3. libquantize.a built by nightly rustc with -Zsanitizer=address, dev and release profiles:
#      every memory access of the library's own code is checked too (the precompiled standard
#      library is not instrumented). gcc's libasan provides the runtime for both sides (rustc
#      does not put an ASan runtime into a staticlib; the instrumentation ABI, v8, matches).
# Each program runs at every SIMD level this CPU has (QUANTIZE_MAX_ISA=scalar, avx2, default).
#
# It also proves the sanitizers are live: a C heap overflow, a C signed overflow, a Rust heap
# overflow in a staticlib built exactly like libquantize in mode 3, and (mode 3) an
# out-of-bounds read inside libquantize itself (a C caller that claims two blocks but allocated
# one), each linked like the examples, must be reported; the examples must link libasan, and
# libquantize's own objects in mode 3 must call the ASan check functions.
#
# Usage: scripts/test_sanitizers.sh        (from anywhere; Linux x86-64 or aarch64, gcc)
# Env:   CARGO_TARGET_DIR (default: <repo>/target), CC (default gcc),
#        QUANTIZE_SAN_SKIP_NIGHTLY=1 to skip mode 3 (it installs a nightly toolchain otherwise).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT=$CARGO_TARGET_DIR/sanitizers
CC=${CC:-gcc}
mkdir -p "$OUT"

SAN_FLAGS=("-fsanitize=address,undefined" -fno-omit-frame-pointer -fno-sanitize-recover=all)
C_FLAGS=(-std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -I "$ROOT/include")
# the deliberately broken proof programs: optimised like the examples, no -Werror
PROOF_FLAGS=(-std=c99 -O1 -g)
# what `rustc --print native-static-libs` reports for a Rust staticlib on Linux, plus libm
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# ---- tools -------------------------------------------------------------------------------------
command -v "$CC" >/dev/null || apt_install gcc
command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int main(void) { return 0; }\n' >"$probe_dir/ok.c"
if ! "$CC" "${SAN_FLAGS[@]}" "$probe_dir/ok.c" -o "$probe_dir/ok" 2>/dev/null; then
    log "$CC cannot link -fsanitize=address,undefined: installing the sanitizer runtimes"
    gcc_major=$("$CC" -dumpversion | cut -d. -f1)
    apt_install "libgcc-${gcc_major}-dev"
    "$CC" "${SAN_FLAGS[@]}" "$probe_dir/ok.c" -o "$probe_dir/ok" || die "$CC -fsanitize=address,undefined does not work"
fi
log "$("$CC" --version | head -n1)"

# ---- proofs that the sanitizers are live ---------------------------------------------------------
# expect_report NAME PATTERN CMD...: CMD must fail and print PATTERN on stderr.
expect_report() {
    local name=$1 pattern=$2
    shift 2
    local err=$OUT/$name.stderr
    if "$@" >/dev/null 2>"$err"; then
        die "$name: the deliberate bug was NOT reported (exit 0); the sanitizer is not active"
    fi
    grep -q -- "$pattern" "$err" || {
        cat "$err" >&2
        die "$name: failed without the expected report '$pattern'"
    }
    log "proof $name: reported as expected ($(grep -m1 -o -- "$pattern.*" "$err" | cut -c1-100))"
}

cat >"$OUT/proof_heap_overflow.c" <<'EOF'
#include <stdlib.h>
int main(int argc, char **argv)
{
    /* sizes known only at run time, so that ASan (not UBSan's object-size check) reports it */
    volatile size_t size = 8 + (size_t)(argc - 1);
    volatile size_t i = size; /* one past the end */
    unsigned char *p = malloc(size);
    int v;
    (void)argv;
    if (p == NULL) return 2;
    v = p[i];
    free(p);
    return v == 1 ? 3 : 0;
}
EOF
cat >"$OUT/proof_signed_overflow.c" <<'EOF'
#include <limits.h>
int main(int argc, char **argv)
{
    volatile int x = INT_MAX;
    (void)argv;
    x = x + argc; /* signed overflow: undefined */
    return x == 0;
}
EOF
"$CC" "${PROOF_FLAGS[@]}" "${SAN_FLAGS[@]}" "$OUT/proof_heap_overflow.c" -o "$OUT/proof_heap_overflow"
"$CC" "${PROOF_FLAGS[@]}" "${SAN_FLAGS[@]}" "$OUT/proof_signed_overflow.c" -o "$OUT/proof_signed_overflow"
expect_report c-heap-overflow "AddressSanitizer: heap-buffer-overflow" "$OUT/proof_heap_overflow"
expect_report c-signed-overflow "runtime error: signed integer overflow" "$OUT/proof_signed_overflow"

# ---- building and running the examples ----------------------------------------------------------
PROGRAMS=(seed_example roundtrip errors)
# program_source NAME: where a program of PROGRAMS lives (examples for readers, or test suites).
program_source() {
    if [ -e "$ROOT/tests/c/$1.c" ]; then echo "$ROOT/tests/c/$1.c"; else echo "$ROOT/examples-c/$1.c"; fi
}
LEVELS=(scalar)
case "$(uname -m)" in
x86_64)
    grep -qw avx2 /proc/cpuinfo && LEVELS+=(avx2)
    ;;
esac
LEVELS+=(default)

# build_programs TAG LINK_ARGS...: the three programs, instrumented, linked with LINK_ARGS.
build_programs() {
    local tag=$1
    shift
    local p
    for p in "${PROGRAMS[@]}"; do
        "$CC" "${C_FLAGS[@]}" "${SAN_FLAGS[@]}" "$(program_source "$p")" "$@" -o "$OUT/$p-$tag"
        # the sanitizer runtime is really linked in
        # (grep -q on a pipe would make the writer fail with SIGPIPE under pipefail)
        if ! grep -q libasan <<<"$(ldd "$OUT/$p-$tag")"; then
            grep -q '__asan_init' <<<"$(nm "$OUT/$p-$tag")" || die "$p-$tag is not linked with ASan"
        fi
    done
}

# run_programs TAG: every program at every level; exit status 0, no sanitizer report, and the
# programs' own "0 failures" summaries.
run_programs() {
    local tag=$1 p level err outf t0
    for level in "${LEVELS[@]}"; do
        for p in "${PROGRAMS[@]}"; do
            err=$OUT/$p-$tag-$level.stderr
            outf=$OUT/$p-$tag-$level.stdout
            t0=$SECONDS
            if [ "$level" = default ]; then
                env -u QUANTIZE_MAX_ISA "$OUT/$p-$tag" >"$outf" 2>"$err" || {
                    tail -n 60 "$err" >&2
                    die "$p ($tag, $level) exited with status $?"
                }
            else
                QUANTIZE_MAX_ISA=$level "$OUT/$p-$tag" >"$outf" 2>"$err" || {
                    tail -n 60 "$err" >&2
                    die "$p ($tag, $level) exited with status $?"
                }
            fi
            if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$err"; then
                cat "$err" >&2
                die "$p ($tag, $level): sanitizer report"
            fi
            case $p in
            roundtrip | errors)
                grep -Eq "^$p: [0-9]+ checks, 0 failures$" <<<"$(tail -n1 "$outf")" ||
                    die "$p ($tag, $level): unexpected summary '$(tail -n1 "$outf")'"
                ;;
            esac
            log "$p ($tag, QUANTIZE_MAX_ISA=$level): ok in $((SECONDS - t0))s$(
                grep -m1 '^kernel: ' "$outf" | sed 's/^/, /' || true
            )"
        done
    done
}

log "mode 1/2: libquantize built normally (stable), C side instrumented"
cargo build --lib --quiet
LIB_DIR=$CARGO_TARGET_DIR/debug
if [ ! -f "$LIB_DIR/libquantize.a" ] || [ ! -f "$LIB_DIR/libquantize.so" ]; then
    die "no libquantize.a/.so in $LIB_DIR"
fi
build_programs static "$LIB_DIR/libquantize.a" "${STATIC_LIBS[@]}"
run_programs static
SO_DIR=$OUT/shared-lib
shared_lib_dir "$LIB_DIR/libquantize.so" "$SO_DIR"
build_programs shared -L "$SO_DIR" -Wl,-rpath,"$SO_DIR" -lquantize -lm
grep -q "$SO_DIR/libquantize.so" <<<"$(ldd "$OUT/roundtrip-shared")" || die "roundtrip-shared does not load $SO_DIR/libquantize.so*"
run_programs shared

if [ "${QUANTIZE_SAN_SKIP_NIGHTLY:-0}" = 1 ]; then
    log "mode 3 skipped (QUANTIZE_SAN_SKIP_NIGHTLY=1)"
else
    log "mode 3: libquantize itself instrumented (nightly, -Zsanitizer=address)"
    rustc +nightly -V >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
    TRIPLE=$(rustc +nightly -vV | sed -n 's/^host: //p')
    ASAN_TARGET=$CARGO_TARGET_DIR/asan
    NIGHTLY_FLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes"

    # proof: a Rust heap overflow in a staticlib built the same way is reported
    probe=$OUT/rust-probe
    mkdir -p "$probe/src"
    cat >"$probe/Cargo.toml" <<'EOF'
[package]
name = "asan_probe"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["staticlib"]

[workspace]
EOF
    cat >"$probe/src/lib.rs" <<'EOF'
/// Reads byte `i` of an 8-byte heap buffer: `i = 8` is a deliberate out-of-bounds read.
#[no_mangle]
pub extern "C" fn asan_probe_read(i: usize) -> u8 {
    let v = std::hint::black_box(vec![1u8; 8]);
    // SAFETY: none; this is the bug the sanitizer must report.
    unsafe { *v.as_ptr().add(i) }
}
EOF
    cat >"$probe/main.c" <<'EOF'
#include <stddef.h>
unsigned char asan_probe_read(size_t i);
int main(int argc, char **argv)
{
    (void)argv;
    return asan_probe_read((size_t)(7 + argc)) == 1;
}
EOF
    (cd "$probe" && RUSTFLAGS="$NIGHTLY_FLAGS" CARGO_TARGET_DIR="$ASAN_TARGET/probe" \
        cargo +nightly build --quiet --target "$TRIPLE")
    "$CC" "${PROOF_FLAGS[@]}" "${SAN_FLAGS[@]}" "$probe/main.c" \
        "$ASAN_TARGET/probe/$TRIPLE/debug/libasan_probe.a" "${STATIC_LIBS[@]}" -o "$OUT/proof_rust_heap_overflow"
    expect_report rust-heap-overflow "AddressSanitizer: heap-buffer-overflow" "$OUT/proof_rust_heap_overflow"
    grep -q 'asan_probe_read' "$OUT/rust-heap-overflow.stderr" || die "the Rust proof's report does not name the Rust function"

    cat >"$OUT/proof_library_overflow.c" <<'EOF'
#include <stdlib.h>
#include "quantize.h"
int main(int argc, char **argv)
{
    /* one Q4_0 block allocated, two claimed: the library reads the second one out of bounds */
    volatile size_t blocks = 1 + (size_t)(argc - 1);
    unsigned char *src = calloc(blocks, 18);
    float dst[64];
    quantize_status s;
    (void)argv;
    if (src == NULL) return 2;
    s = dequantize_blocks(QUANTIZE_FORMAT_Q4_0, src, 2 * 18, dst, 64);
    free(src);
    return s == 12345 ? 3 : (int)dst[0];
}
EOF
    for profile in dev release; do
        dir=debug
        [ "$profile" = release ] && dir=release
        # Line tables even in release, so reports name the library's source files.
        RUSTFLAGS="$NIGHTLY_FLAGS -Cdebuginfo=line-tables-only" CARGO_TARGET_DIR=$ASAN_TARGET \
            cargo +nightly build --lib --quiet --profile "$profile" --target "$TRIPLE"
        lib=$ASAN_TARGET/$TRIPLE/$dir/libquantize.a
        # libquantize's own object files (not only the standard library) call ASan's checks
        n_checks=$(grep -E -c ':quantize[-.][^:]*\.o: +U __asan_(report_|load|store)' <<<"$(nm -A "$lib" 2>/dev/null)" || true)
        [ "$n_checks" -gt 0 ] || die "libquantize's objects in $lib are not instrumented"
        log "$lib: $n_checks ASan check imports in libquantize's own objects"
        # proof: an out-of-bounds read inside libquantize (a caller that states a longer buffer
        # than it has) is reported from the library's own code
        "$CC" "${PROOF_FLAGS[@]}" "${SAN_FLAGS[@]}" -I "$ROOT/include" "$OUT/proof_library_overflow.c" \
            "$lib" "${STATIC_LIBS[@]}" -o "$OUT/proof_library_overflow-$profile"
        expect_report "library-overflow-$profile" "AddressSanitizer: heap-buffer-overflow" \
            "$OUT/proof_library_overflow-$profile"
        grep -Eq 'src/(formats|codebook|kernels|ffi)/[a-z0-9_/]+\.rs' "$OUT/library-overflow-$profile.stderr" ||
            die "the library proof's report has no frame in libquantize"
        build_programs "asan-$profile" "$lib" "${STATIC_LIBS[@]}"
        run_programs "asan-$profile"
    done
fi

log "test_sanitizers.sh: all passed in $((SECONDS - START))s"
