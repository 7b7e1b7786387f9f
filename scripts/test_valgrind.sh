#!/usr/bin/env bash
# Runs the C programs of examples-c/ (seed_example.c, roundtrip.c) and tests/c/errors.c, built without
# sanitizers, under Valgrind's memcheck:
#   valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
# against the static and the shared library (release profile, as shipped, with debug info), at
# the SIMD levels Valgrind can run: QUANTIZE_MAX_ISA=scalar, avx2 (if the CPU has it) and the
# default. Valgrind does not emulate AVX-512 (it hides it in CPUID, so the library's run-time
# detection picks AVX2 under Valgrind); the default level is run only if it differs from those.
# The AVX-512 kernels are covered by scripts/test_sanitizers.sh instead.
#
# memcheck sees the library's own loads and stores: reads of uninitialised memory, accesses
# outside heap blocks, leaks and bad frees anywhere in the process.
#
# Usage: scripts/test_valgrind.sh      (from anywhere; Linux, gcc)
# Env:   CARGO_TARGET_DIR (default: <repo>/target), CC (default gcc).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT=$CARGO_TARGET_DIR/valgrind
CC=${CC:-gcc}
mkdir -p "$OUT"

command -v valgrind >/dev/null || apt_install valgrind
command -v "$CC" >/dev/null || apt_install gcc
log "$(valgrind --version), $("$CC" --version | head -n1)"

VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --track-origins=yes)
C_FLAGS=(-std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -g -I "$ROOT/include")
PROOF_FLAGS=(-std=c99 -O2 -g)
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
PROGRAMS=(seed_example roundtrip errors)
# program_source NAME: where a program of PROGRAMS lives (examples for readers, or test suites).
program_source() {
    if [ -e "$ROOT/tests/c/$1.c" ]; then echo "$ROOT/tests/c/$1.c"; else echo "$ROOT/examples-c/$1.c"; fi
}

# proof that memcheck is live: a read one past a heap block must fail the run
cat >"$OUT/proof_heap_overflow.c" <<'EOF'
#include <stdlib.h>
int main(int argc, char **argv)
{
    volatile size_t i = 8 + (size_t)(argc - 1);
    unsigned char *p = malloc(8);
    int v;
    (void)argv;
    if (p == NULL) return 2;
    v = p[i];
    free(p);
    return v == 1 ? 3 : 0;
}
EOF
"$CC" "${PROOF_FLAGS[@]}" "$OUT/proof_heap_overflow.c" -o "$OUT/proof_heap_overflow"
if "${VALGRIND[@]}" "$OUT/proof_heap_overflow" 2>"$OUT/proof.stderr"; then
    die "valgrind did not report a deliberate heap overflow"
fi
grep -q 'Invalid read of size 1' "$OUT/proof.stderr" || {
    cat "$OUT/proof.stderr" >&2
    die "valgrind failed the proof without the expected report"
}
log "proof: valgrind reports a deliberate heap overflow"

log "building libquantize (release)"
cargo build --release --lib --quiet
LIB_DIR=$CARGO_TARGET_DIR/release
SO_DIR=$OUT/shared-lib
shared_lib_dir "$LIB_DIR/libquantize.so" "$SO_DIR"
for p in "${PROGRAMS[@]}"; do
    "$CC" "${C_FLAGS[@]}" "$(program_source "$p")" "$LIB_DIR/libquantize.a" "${STATIC_LIBS[@]}" \
        -o "$OUT/$p-static"
    "$CC" "${C_FLAGS[@]}" "$(program_source "$p")" -L "$SO_DIR" -Wl,-rpath,"$SO_DIR" -lquantize \
        -lm -o "$OUT/$p-shared"
done
grep -q "$SO_DIR/libquantize.so" <<<"$(ldd "$OUT/errors-shared")" || die "errors-shared does not load $SO_DIR/libquantize.so*"

# which level does the library pick under valgrind, uncapped?
default_kernel=$(env -u QUANTIZE_MAX_ISA valgrind -q "$OUT/errors-static" | sed -n 's/^kernel: //p' | head -n1)
native_kernel=$(env -u QUANTIZE_MAX_ISA "$OUT/errors-static" | sed -n 's/^kernel: //p' | head -n1)
log "kernel natively: $native_kernel; under valgrind: $default_kernel"
LEVELS=(scalar)
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo; then LEVELS+=(avx2); fi
case " ${LEVELS[*]} " in
*" $default_kernel "*) ;;
*) LEVELS+=(default) ;;
esac
if [ "$native_kernel" != "$default_kernel" ]; then
    log "note: valgrind hides $native_kernel; its kernels are not run here (see test_sanitizers.sh)"
fi

for link in static shared; do
    for level in "${LEVELS[@]}"; do
        for p in "${PROGRAMS[@]}"; do
            t0=$SECONDS
            err=$OUT/$p-$link-$level.stderr
            outf=$OUT/$p-$link-$level.stdout
            if [ "$level" = default ]; then
                env -u QUANTIZE_MAX_ISA "${VALGRIND[@]}" "$OUT/$p-$link" >"$outf" 2>"$err" || {
                    tail -n 80 "$err" >&2
                    die "$p ($link, $level) under valgrind: exit status $?"
                }
            else
                QUANTIZE_MAX_ISA=$level "${VALGRIND[@]}" "$OUT/$p-$link" >"$outf" 2>"$err" || {
                    tail -n 80 "$err" >&2
                    die "$p ($link, $level) under valgrind: exit status $?"
                }
            fi
            # -q: valgrind prints nothing unless it found something
            if grep -q '^==[0-9]*==' "$err"; then
                cat "$err" >&2
                die "$p ($link, $level): valgrind reported problems"
            fi
            case $p in
            roundtrip | errors)
                grep -Eq "^$p: [0-9]+ checks, 0 failures$" <<<"$(tail -n1 "$outf")" ||
                    die "$p ($link, $level): unexpected summary '$(tail -n1 "$outf")'"
                ;;
            esac
            kernel=$(sed -n 's/^kernel: //p' "$outf" | head -n1)
            if [ -n "$kernel" ] && [ "$level" != default ] && [ "$kernel" != "$level" ]; then
                die "$p ($link): QUANTIZE_MAX_ISA=$level ran kernel $kernel"
            fi
            log "$p ($link, QUANTIZE_MAX_ISA=$level): clean in $((SECONDS - t0))s${kernel:+, kernel: $kernel}"
        done
    done
done

log "test_valgrind.sh: all passed in $((SECONDS - START))s"
