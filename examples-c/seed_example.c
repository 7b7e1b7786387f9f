/*
 * seed_example.c - the seed package's "Complete Example" (USAGE.rst), in C.
 *
 *   float_values = [0.1, 0.5, -1.3, 2.7, 3.9, -0.8, 5.2, -4.7]
 *   quantize -> pack -> unpack -> dequantize -> error per value -> mean / max absolute error
 *
 * done once with QUANTIZE_SCALE_MINMAX (the seed's default) and once with QUANTIZE_SCALE_ABSMAX
 * (every line prefixed "absmax_"). Each block starts with a label line, "# minmax ..." or
 * "# absmax ...". Output is one line per quantity, `name: v1 v2 ...`, floats as "%.9g" (enough
 * digits to identify a float32 exactly), integers as "%d", bytes as "0x%02x".
 * The Rust test suite (tests/abi_c_programs.rs) compiles this program, runs it and compares its
 * output with a reference made independently with numpy.
 *
 * Build by hand:  cc -std=c99 -I include examples-c/seed_example.c -L <dir> -lquantize
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "quantize.h"

#define N 8

/* Every libquantize call returns a status: stop with its explanation on anything but OK. */
static void check(quantize_status status, const char *what)
{
    if (status != QUANTIZE_OK) {
        fprintf(stderr, "seed_example: %s failed: %s (status %d)\n", what,
                quantize_status_message(status), (int)status);
        exit(EXIT_FAILURE);
    }
}

static void print_floats(const char *prefix, const char *name, const float *v, size_t n)
{
    size_t i;
    printf("%s%s:", prefix, name);
    for (i = 0; i < n; i++) {
        printf(" %.9g", (double)v[i]);
    }
    printf("\n");
}

static void print_doubles(const char *prefix, const char *name, const double *v, size_t n)
{
    size_t i;
    printf("%s%s:", prefix, name);
    for (i = 0; i < n; i++) {
        printf(" %.9g", v[i]);
    }
    printf("\n");
}

static void print_codes(const char *prefix, const char *name, const int8_t *v, size_t n)
{
    size_t i;
    printf("%s%s:", prefix, name);
    for (i = 0; i < n; i++) {
        printf(" %d", (int)v[i]);
    }
    printf("\n");
}

static void print_bytes(const char *prefix, const char *name, const uint8_t *v, size_t n)
{
    size_t i;
    printf("%s%s:", prefix, name);
    for (i = 0; i < n; i++) {
        printf(" 0x%02x", (unsigned)v[i]);
    }
    printf("\n");
}

static void run(const float *values, quantize_scale_method method, const char *prefix,
                const char *label)
{
    int8_t quantized[N];
    float scale;
    int8_t zero_point;
    /* two int4 codes per byte: the packed size is given by the library, as a macro for
       static buffers and as a function otherwise */
    uint8_t packed[QUANTIZE_PACKED_LEN(N)];
    int8_t unpacked[N];
    float dequantized[N];
    double error[N];
    double sum_abs = 0.0, max_abs = 0.0, mean_abs;
    quantize_error_stats stats;
    size_t i;

    if (quantize_packed_len(N) != sizeof packed) {
        fprintf(stderr, "seed_example: quantize_packed_len(%d) = %lu, QUANTIZE_PACKED_LEN = %lu\n",
                N, (unsigned long)quantize_packed_len(N), (unsigned long)sizeof packed);
        exit(EXIT_FAILURE);
    }

    /* quantized, scale, zero_point = quantize_to_int4(float_values, scale_method=...) */
    check(quantize_to_int4(values, N, method, quantized, &scale, &zero_point), "quantize_to_int4");
    /* packed = pack_int4_to_int8(quantized) */
    check(pack_int4_to_int8(quantized, N, packed, sizeof packed), "pack_int4_to_int8");
    /* unpacked = unpack_int8_to_int4(packed)[:len(float_values)]: the C call takes the count,
       so there is no padding to trim */
    check(unpack_int8_to_int4(packed, sizeof packed, unpacked, N), "unpack_int8_to_int4");
    /* dequantized = dequantize_from_int4(quantized, scale, zero_point) */
    check(dequantize_from_int4(unpacked, N, scale, zero_point, dequantized),
          "dequantize_from_int4");

    /* error = float_values - dequantized; the difference of two floats is exact in double */
    for (i = 0; i < N; i++) {
        error[i] = (double)values[i] - (double)dequantized[i];
        sum_abs += fabs(error[i]);
        if (fabs(error[i]) > max_abs) {
            max_abs = fabs(error[i]);
        }
    }
    mean_abs = sum_abs / N;

    /* the library's own error statistics must agree with the hand-made ones */
    check(quantize_measure_error(values, dequantized, N, &stats), "quantize_measure_error");
    if (fabs(stats.mean_abs_error - mean_abs) > 1e-12 * mean_abs ||
        stats.max_abs_error != max_abs || fabs(error[stats.max_abs_index]) != max_abs) {
        fprintf(stderr,
                "seed_example: quantize_measure_error disagrees: mean %.17g vs %.17g, "
                "max %.17g vs %.17g at index %lu\n",
                stats.mean_abs_error, mean_abs, stats.max_abs_error, max_abs,
                (unsigned long)stats.max_abs_index);
        exit(EXIT_FAILURE);
    }

    printf("# %s\n", label);
    print_floats(prefix, "original", values, N);
    print_codes(prefix, "quantized", quantized, N);
    print_floats(prefix, "scale", &scale, 1);
    print_codes(prefix, "zero_point", &zero_point, 1);
    print_bytes(prefix, "packed", packed, sizeof packed);
    print_codes(prefix, "unpacked", unpacked, N);
    print_floats(prefix, "dequantized", dequantized, N);
    print_doubles(prefix, "error", error, N);
    print_doubles(prefix, "mean_abs_error", &stats.mean_abs_error, 1);
    print_doubles(prefix, "max_abs_error", &stats.max_abs_error, 1);
    printf("%smax_abs_index: %lu\n", prefix, (unsigned long)stats.max_abs_index);
    print_doubles(prefix, "mean_squared_error", &stats.mean_squared_error, 1);
    print_doubles(prefix, "rmse", &stats.rmse, 1);
    print_doubles(prefix, "sqnr_db", &stats.sqnr_db, 1);
}

int main(void)
{
    static const float float_values[N] = {0.1f, 0.5f, -1.3f, 2.7f, 3.9f, -0.8f, 5.2f, -4.7f};

    run(float_values, QUANTIZE_SCALE_MINMAX, "",
        "minmax (QUANTIZE_SCALE_MINMAX, the seed's default)");
    run(float_values, QUANTIZE_SCALE_ABSMAX, "absmax_", "absmax (QUANTIZE_SCALE_ABSMAX)");
    return EXIT_SUCCESS;
}
