#!/usr/bin/env bash
# Times ggml's reference quantizers (plain C, -O2, baseline x86-64: no -march) against this
# library on the same input, in one process, and prints ours/ggml per format (above 1: ours is
# faster). Not run by CI or the tests; ggml's code is compiled from the given tree in a temp
# directory and never copied into this repository.
#
# Usage: scripts/bench_ggml.sh /path/to/ggml [levels...]
#   levels: the QUANTIZE_MAX_ISA caps to time ours at (default: scalar). One driver run per level.
# Environment: BENCH_GGML_MIB (input size, default 64), BENCH_GGML_SECONDS (time budget per
# format and side, default 3; at least 3 rounds each), BENCH_GGML_FORMATS (comma-separated
# format names to keep, e.g. Q4_0,Q4_1; default all), BENCH_GGML_KEEP (a directory to build the
# driver in and keep, instead of a temporary one), CC (default cc).
#
# What is compared: quantize_row_{q4_0,q4_1,mxfp4,q4_K,nvfp4}_ref and quantize_iq4_nl /
# quantize_iq4_xs with no importance matrix (what ggml_quantize_chunk runs, hence what GGUF files
# hold), against quantize_blocks of the same format. The driver also checks that both wrote the
# same bytes.
set -euo pipefail
ggml=${1:?usage: scripts/bench_ggml.sh /path/to/ggml [levels...]}
shift
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(scalar)
ggml=$(cd "$ggml" && pwd)
[ -f "$ggml/src/ggml-quants.c" ] || { echo "no src/ggml-quants.c under $ggml" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
cc=${CC:-cc}

cargo build --release --lib >&2
if [ -n "${BENCH_GGML_KEEP:-}" ]; then
    # Keep the driver (e.g. for perf record): BENCH_GGML_KEEP=dir.
    tmp=$BENCH_GGML_KEEP
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi

inc=(-I"$ggml/include" -I"$ggml/src" -I"$ggml/src/ggml-cpu")
# ggml's quantizers alone: baseline x86-64, -O2, as a distribution's generic build would.
"$cc" -O2 -std=gnu11 -w "${inc[@]}" -c "$ggml/src/ggml-quants.c" -o "$tmp/ggml-quants.o"
has_nvfp4=0
grep -q 'quantize_row_nvfp4_ref' "$ggml/src/ggml-quants.c" && has_nvfp4=1

cat > "$tmp/driver.c" <<'C'
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ggml.h"
#include "ggml-quants.h"
#include "quantize.h"

/* The few ggml symbols ggml-quants.c refers to outside the quantizers timed here. */
void ggml_abort(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "ggml_abort %s:%d\n", file, line);
    abort();
}
size_t ggml_row_size(enum ggml_type t, int64_t n) { (void)t; (void)n; abort(); }
size_t ggml_type_size(enum ggml_type t) { (void)t; abort(); }
const char *ggml_type_name(enum ggml_type t) { (void)t; return "?"; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef void (*ggml_fn)(const float *x, void *y, int64_t n);

static void g_q4_0(const float *x, void *y, int64_t n) { quantize_row_q4_0_ref(x, y, n); }
static void g_q4_1(const float *x, void *y, int64_t n) { quantize_row_q4_1_ref(x, y, n); }
static void g_mxfp4(const float *x, void *y, int64_t n) { quantize_row_mxfp4_ref(x, y, n); }
static void g_q4_K(const float *x, void *y, int64_t n) { quantize_row_q4_K_ref(x, y, n); }
/* Rows of 4096 values, as a model's tensors have; no importance matrix. */
static void g_iq4_nl(const float *x, void *y, int64_t n) { quantize_iq4_nl(x, y, n / 4096, 4096, NULL); }
static void g_iq4_xs(const float *x, void *y, int64_t n) { quantize_iq4_xs(x, y, n / 4096, 4096, NULL); }
#if HAS_NVFP4
static void g_nvfp4(const float *x, void *y, int64_t n) { quantize_row_nvfp4_ref(x, y, n); }
#endif

int main(int argc, char **argv) {
    const char *level = argc > 1 ? argv[1] : "scalar";
    size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
    double budget = argc > 3 ? atof(argv[3]) : 3.0;
    const char *only = argc > 4 ? argv[4] : "";
    /* Before the library's first call: the level is chosen once. */
    setenv("QUANTIZE_MAX_ISA", level, 1);
    size_t n = mib << 18; /* floats */
    float *x = malloc(n * sizeof *x);
    uint8_t *a = malloc(n), *b = malloc(n);
    if (!x || !a || !b) return 1;
    /* The throughput bench's input: roughly normal (sum of four uniforms), xorshift64. */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float u = 0;
        for (int k = 0; k < 64; k += 16) u += (float)((s >> k) & 0xFFFF) / 65536.0f;
        x[i] = (u - 2.0f) * 1.7f;
    }
    struct { const char *name; quantize_block_format f; ggml_fn g; } fmts[] = {
        {"Q4_0", QUANTIZE_FORMAT_Q4_0, g_q4_0},
        {"Q4_1", QUANTIZE_FORMAT_Q4_1, g_q4_1},
        {"MXFP4", QUANTIZE_FORMAT_MXFP4, g_mxfp4},
        {"IQ4_NL", QUANTIZE_FORMAT_IQ4_NL, g_iq4_nl},
        {"Q4_K", QUANTIZE_FORMAT_Q4_K, g_q4_K},
        {"IQ4_XS", QUANTIZE_FORMAT_IQ4_XS, g_iq4_xs},
#if HAS_NVFP4
        {"NVFP4", QUANTIZE_FORMAT_NVFP4, g_nvfp4},
#endif
    };
    printf("level %s (quantize_kernel_name: %s), %zu MiB of float32; best of at least 3 rounds\n",
           level, quantize_kernel_name(), mib);
    printf("| format | ours GB/s | ggml GB/s | ours/ggml | same bytes |\n|---|---:|---:|---:|---|\n");
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
        if (*only) {
            /* Keep the format if its name is one of the comma-separated names. */
            size_t l = strlen(fmts[k].name);
            const char *p = only;
            int keep = 0;
            for (; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (!strncasecmp(p, fmts[k].name, l) && (p[l] == ',' || p[l] == 0)) keep = 1;
            if (!keep) continue;
        }
        size_t len = n / quantize_block_elements(fmts[k].f) * quantize_block_bytes(fmts[k].f);
        double to = 1e30, tg = 1e30, begin = now();
        /* Alternate ours and ggml's so both see the same machine load. */
        for (int r = 0; r < 3 || now() - begin < 2 * budget; r++) {
            double t0 = now();
            if (quantize_blocks(fmts[k].f, x, n, a, len) != QUANTIZE_OK) { puts("error"); return 1; }
            double t1 = now();
            fmts[k].g(x, b, (int64_t)n);
            double t2 = now();
            if (t1 - t0 < to) to = t1 - t0;
            if (t2 - t1 < tg) tg = t2 - t1;
            if (r >= 50) break;
        }
        double gb = n * 4.0 / 1e9;
        printf("| %s | %.3g | %.3g | %.2f | %s |\n", fmts[k].name, gb / to, gb / tg, tg / to,
               memcmp(a, b, len) ? "NO" : "yes");
        fflush(stdout);
    }
    return 0;
}
C
"$cc" -O2 -std=gnu11 -DHAS_NVFP4=$has_nvfp4 "${inc[@]}" -I"$root/include" -c "$tmp/driver.c" -o "$tmp/driver.o"
"$cc" -o "$tmp/driver" "$tmp/driver.o" "$tmp/ggml-quants.o" "$root/target/release/libquantize.a" \
    -lpthread -ldl -lm
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ggml: $ggml ($("$cc" --version | head -1), -O2, no -march)"
for level in "${levels[@]}"; do
    "$tmp/driver" "$level" "${BENCH_GGML_MIB:-64}" "${BENCH_GGML_SECONDS:-3}" "${BENCH_GGML_FORMATS:-}"
done
