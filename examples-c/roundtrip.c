/*
 * roundtrip.c - round-trip accuracy and consistency of the int4 API, checked from C.
 *
 * For many lengths (including 0, odd counts and lengths around SIMD widths), several kinds of
 * pseudo-random data (fixed seed, own generator, so every run and every platform sees the same
 * numbers), both scale methods and several group sizes, this program checks:
 *
 *   - the codes, scale and zero point against an independent C implementation of
 *     docs/contract.md §2 (the "oracle" below: plain float arithmetic, one rounding per operation);
 *   - dequantized values against (float)(q - zero_point) * scale, bit for bit, and the
 *     invariant |x - y| <= scale / 2 (plus a few ulps of max|x|), and x == 0 => y == 0;
 *   - pack / unpack against the ONNX nibble layout, and that no byte past what n needs is
 *     written;
 *   - the fused functions against quantize + pack and unpack + dequantize, bit for bit;
 *   - group-wise quantization: each group equals per-tensor quantization of its slice, and
 *     group_size >= n equals per-tensor quantization;
 *   - quantize_measure_error against statistics computed here in double precision;
 *   - n == 0: QUANTIZE_ERR_EMPTY_INPUT from the per-tensor quantizers, QUANTIZE_OK elsewhere.
 *
 * It prints error statistics per case and a checksum of every code and scale produced; the
 * output must not depend on the SIMD level (QUANTIZE_MAX_ISA). Exit status 0 only if every
 * check passed.
 */
#undef NDEBUG
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize.h"

#define GUARD 16           /* sentinel bytes after every output buffer */
#define SENTINEL 0xA5

static unsigned long checks;
static unsigned long failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "roundtrip.c:%d: ", __LINE__);                                             \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        if (++failures >= 25) {                                                                    \
            fprintf(stderr, "roundtrip: too many failures, stopping\n");                           \
            exit(EXIT_FAILURE);                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            FAIL(__VA_ARGS__);                                                                     \
        }                                                                                          \
    } while (0)

/* The context of the case being checked, for failure messages. */
static const char *cur_kind = "";
static const char *cur_method = "";
static size_t cur_n;

static void expect_status(quantize_status got, quantize_status want, const char *what)
{
    checks++;
    if (got != want) {
        FAIL("%s (n=%lu kind=%s method=%s): status %d (%s), expected %d (%s)", what,
             (unsigned long)cur_n, cur_kind, cur_method, (int)got, quantize_status_message(got),
             (int)want, quantize_status_message(want));
    }
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size == 0 ? 1 : size);
    if (p == NULL) {
        fprintf(stderr, "roundtrip: out of memory (%lu bytes)\n", (unsigned long)size);
        exit(EXIT_FAILURE);
    }
    return p;
}

/* ---- checksum of everything the library produced (FNV-1a, 64 bit) ---- */

static unsigned long long checksum = 1469598103934665603ULL;

static void hash_bytes(const void *p, size_t len)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < len; i++) {
        checksum ^= b[i];
        checksum *= 1099511628211ULL;
    }
}

/* ---- pseudo-random numbers: splitmix64 with a fixed seed ---- */

static unsigned long long rng_state = 0x2545F4914F6CDD1DULL;

static unsigned long long rng_next(void)
{
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform in [0, 1), 24 random bits: exact in float */
static float rng_unit(void)
{
    return (float)(rng_next() >> 40) * (1.0f / 16777216.0f);
}

/* uniform in [-1, 1) */
static float rng_signed(void)
{
    return rng_unit() * 2.0f - 1.0f;
}

/* ---- test data ---- */

enum kind {
    KIND_UNIFORM,     /* symmetric, magnitude 1 */
    KIND_POSITIVE,    /* all >= 0, magnitude 100 */
    KIND_NEGATIVE,    /* all <= 0, magnitude 0.001 */
    KIND_BLOCKY,      /* magnitude changes every 37 elements, 1e-3 .. 1e3 */
    KIND_SPARSE,      /* mostly exact zeros */
    KIND_ZEROS,       /* all zero (+0 and -0) */
    KIND_CONSTANT,    /* every element the same value */
    KIND_HUGE,        /* near the largest accepted magnitude, 2^126 */
    KIND_SUBNORMAL,   /* subnormal floats: the scale underflows or is subnormal */
    KIND_COUNT
};

static const char *const kind_names[KIND_COUNT] = {
    "uniform", "positive", "negative", "blocky", "sparse", "zeros", "constant", "huge", "subnormal",
};

static void fill(float *x, size_t n, enum kind kind)
{
    size_t i;
    float magnitude = 1.0f;
    float constant = rng_signed() * 3.0f;
    for (i = 0; i < n; i++) {
        switch (kind) {
        case KIND_UNIFORM:
            x[i] = rng_signed();
            break;
        case KIND_POSITIVE:
            x[i] = rng_unit() * 100.0f;
            break;
        case KIND_NEGATIVE:
            x[i] = -rng_unit() * 0.001f;
            break;
        case KIND_BLOCKY:
            if (i % 37 == 0) {
                magnitude = (float)pow(10.0, (double)(rng_next() % 7) - 3.0);
            }
            x[i] = rng_signed() * magnitude;
            break;
        case KIND_SPARSE:
            x[i] = (rng_next() % 8 == 0) ? rng_signed() * 10.0f : 0.0f;
            break;
        case KIND_ZEROS:
            x[i] = (i % 3 == 0) ? -0.0f : 0.0f;
            break;
        case KIND_CONSTANT:
            x[i] = constant;
            break;
        case KIND_HUGE:
            x[i] = rng_signed() * 8.0e37f;
            break;
        case KIND_SUBNORMAL:
            /* multiples of the smallest subnormal, 2^-149, between -40 and 40 of them */
            x[i] = (float)((double)((long)(rng_next() % 81) - 40) * (double)FLT_MIN *
                           (double)FLT_EPSILON);
            break;
        default:
            assert(0);
        }
    }
}

/* ---- the oracle: docs/contract.md §2 written out in plain C ---- */

static int clamp_code(long v)
{
    return v < -8 ? -8 : (v > 7 ? 7 : (int)v);
}

/* rne(v): nearbyintf rounds in the current rounding mode, which is to-nearest-even by default */
static long rne(float v)
{
    return (long)nearbyintf(v);
}

static void oracle_quantize(const float *x, size_t n, quantize_scale_method method, int8_t *q,
                            float *scale_out, int8_t *zero_point_out)
{
    float scale;
    int zp = 0;
    size_t i;
    if (method == QUANTIZE_SCALE_MINMAX) {
        float lo = 0.0f, hi = 0.0f;
        for (i = 0; i < n; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        scale = (hi - lo) / 15.0f;
        if (scale != 0.0f) {
            zp = clamp_code(rne(-8.0f - lo / scale));
        }
    } else {
        float a = 0.0f;
        for (i = 0; i < n; i++) {
            a = fabsf(x[i]) > a ? fabsf(x[i]) : a;
        }
        scale = a / 7.0f;
    }
    if (scale == 0.0f) { /* all zero, or the scale underflowed */
        *scale_out = 1.0f;
        *zero_point_out = 0;
        memset(q, 0, n);
        return;
    }
    for (i = 0; i < n; i++) {
        q[i] = (int8_t)clamp_code(rne(x[i] / scale) + zp);
    }
    *scale_out = scale;
    *zero_point_out = (int8_t)zp;
}

static float oracle_dequantize(int8_t q, int8_t zero_point, float scale)
{
    return (float)(q - zero_point) * scale;
}

/* code i of an ONNX-layout packed stream, sign-extended */
static int8_t nibble(const uint8_t *packed, size_t i)
{
    int v = (i % 2 == 0) ? (packed[i / 2] & 0x0F) : (packed[i / 2] >> 4);
    return (int8_t)(v >= 8 ? v - 16 : v);
}

static int same_float_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void expect_untouched(const void *p, size_t len, const char *what)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < len; i++) {
        if (b[i] != SENTINEL) {
            FAIL("%s (n=%lu kind=%s method=%s): byte %lu past the end was written (0x%02x)", what,
                 (unsigned long)cur_n, cur_kind, cur_method, (unsigned long)i, (unsigned)b[i]);
            return;
        }
    }
    checks++;
}

/* the allowance docs/contract.md §2 gives beyond scale / 2: float rounding of the order of one
   ulp of max|x| (here 4 ulps), and a few subnormal steps when the scale itself is subnormal */
static double allowance(const float *x, size_t n)
{
    double maxabs = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        maxabs = fabs((double)x[i]) > maxabs ? fabs((double)x[i]) : maxabs;
    }
    return 4.0 * FLT_EPSILON * maxabs + 16.0 * (double)FLT_MIN * (double)FLT_EPSILON;
}

static void check_bound(const float *x, const float *y, size_t n, float scale, const char *what)
{
    double bound = (double)scale / 2.0 + allowance(x, n);
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= bound) || (x[i] == 0.0f && y[i] != 0.0f)) {
            FAIL("%s (n=%lu kind=%s method=%s): |x - y| = %.9g at %lu (x=%.9g y=%.9g), bound "
                 "%.9g",
                 what, (unsigned long)cur_n, cur_kind, cur_method, d, (unsigned long)i,
                 (double)x[i], (double)y[i], bound);
            return;
        }
    }
    checks++;
}

/* quantize_measure_error against sums made here in double precision */
static void check_stats(const float *x, const float *y, size_t n, quantize_error_stats *out)
{
    double sum_abs = 0.0, sum_sq = 0.0, sum_x2 = 0.0, max_abs = 0.0, sqnr;
    size_t i, max_index = 0;
    quantize_error_stats s;
    memset(&s, SENTINEL, sizeof s);
    if (n == 0) {
        expect_status(quantize_measure_error(x, y, n, &s), QUANTIZE_ERR_EMPTY_INPUT,
                      "quantize_measure_error(n = 0)");
        expect_untouched(&s, sizeof s, "stats after EMPTY_INPUT");
        memset(out, 0, sizeof *out);
        return;
    }
    expect_status(quantize_measure_error(x, y, n, &s), QUANTIZE_OK, "quantize_measure_error");
    for (i = 0; i < n; i++) {
        double d = (double)x[i] - (double)y[i];
        sum_abs += fabs(d);
        sum_sq += d * d;
        sum_x2 += (double)x[i] * (double)x[i];
        if (fabs(d) > max_abs) {
            max_abs = fabs(d);
            max_index = i;
        }
    }
    if (sum_sq == 0.0) {
        sqnr = INFINITY;
    } else if (sum_x2 == 0.0) {
        sqnr = -INFINITY;
    } else {
        sqnr = 10.0 * log10(sum_x2 / sum_sq);
    }
    /* the summation order is the library's; allow for it in the last bits */
    CHECK(fabs(s.mean_abs_error - sum_abs / (double)n) <= 1e-12 * (sum_abs / (double)n),
          "mean_abs_error %.17g, expected %.17g (n=%lu)", s.mean_abs_error, sum_abs / (double)n,
          (unsigned long)n);
    CHECK(s.max_abs_error == max_abs, "max_abs_error %.17g, expected %.17g", s.max_abs_error,
          max_abs);
    CHECK(s.max_abs_index == max_index, "max_abs_index %lu, expected %lu",
          (unsigned long)s.max_abs_index, (unsigned long)max_index);
    CHECK(fabs(s.mean_squared_error - sum_sq / (double)n) <= 1e-12 * (sum_sq / (double)n),
          "mean_squared_error %.17g, expected %.17g", s.mean_squared_error, sum_sq / (double)n);
    CHECK(fabs(s.rmse - sqrt(sum_sq / (double)n)) <= 1e-12 * sqrt(sum_sq / (double)n),
          "rmse %.17g, expected %.17g", s.rmse, sqrt(sum_sq / (double)n));
    if (isinf(sqnr)) {
        CHECK(s.sqnr_db == sqnr, "sqnr_db %.17g, expected %.17g", s.sqnr_db, sqnr);
    } else {
        CHECK(fabs(s.sqnr_db - sqnr) <= 1e-9, "sqnr_db %.17g, expected %.17g", s.sqnr_db, sqnr);
    }
    *out = s;
}

/* ---- per-tensor: quantize, pack, unpack, dequantize, fused forms ---- */

static void check_tensor(const float *x, size_t n, quantize_scale_method method)
{
    size_t plen = quantize_packed_len(n);
    int8_t *q = (int8_t *)xmalloc(n + GUARD);
    int8_t *want_q = (int8_t *)xmalloc(n);
    int8_t *u = (int8_t *)xmalloc(n + GUARD);
    /* packed buffers at an odd address: byte buffers need no alignment */
    uint8_t *pk_mem = (uint8_t *)xmalloc(plen + GUARD + 1);
    uint8_t *fused_mem = (uint8_t *)xmalloc(plen + GUARD + 1);
    uint8_t *pk = pk_mem + 1, *fused = fused_mem + 1;
    float *y = (float *)xmalloc((n + GUARD) * sizeof(float));
    float *y_fused = (float *)xmalloc((n + GUARD) * sizeof(float));
    float scale, fused_scale, want_scale;
    int8_t zp, fused_zp, want_zp;
    quantize_error_stats stats;
    size_t i;

    memset(q, SENTINEL, n + GUARD);
    memset(pk, SENTINEL, plen + GUARD);
    memset(fused, SENTINEL, plen + GUARD);
    memset(u, SENTINEL, n + GUARD);
    memset(y, SENTINEL, (n + GUARD) * sizeof(float));
    memset(y_fused, SENTINEL, (n + GUARD) * sizeof(float));
    memset(&scale, SENTINEL, sizeof scale);
    memset(&zp, SENTINEL, sizeof zp);
    memset(&fused_scale, SENTINEL, sizeof fused_scale);
    memset(&fused_zp, SENTINEL, sizeof fused_zp);

    if (n == 0) {
        expect_status(quantize_to_int4(x, 0, method, q, &scale, &zp), QUANTIZE_ERR_EMPTY_INPUT,
                      "quantize_to_int4(n = 0)");
        expect_status(quantize_to_int4_packed(x, 0, method, fused, plen + GUARD, &fused_scale,
                                              &fused_zp),
                      QUANTIZE_ERR_EMPTY_INPUT, "quantize_to_int4_packed(n = 0)");
        expect_untouched(&scale, sizeof scale, "scale after EMPTY_INPUT");
        expect_untouched(&zp, sizeof zp, "zero_point after EMPTY_INPUT");
        expect_untouched(&fused_scale, sizeof fused_scale, "fused scale after EMPTY_INPUT");
        expect_untouched(&fused_zp, sizeof fused_zp, "fused zero_point after EMPTY_INPUT");
        expect_untouched(fused, plen + GUARD, "fused codes after EMPTY_INPUT");
        /* the element-wise functions accept n == 0 and write nothing */
        expect_status(pack_int4_to_int8(q, 0, pk, plen + GUARD), QUANTIZE_OK, "pack(n = 0)");
        expect_status(unpack_int8_to_int4(pk, 0, u, 0), QUANTIZE_OK, "unpack(n = 0)");
        expect_status(dequantize_from_int4(q, 0, 1.0f, 0, y), QUANTIZE_OK, "dequantize(n = 0)");
        expect_status(dequantize_from_int4_packed(pk, 0, 0, 1.0f, 0, y), QUANTIZE_OK,
                      "dequantize_from_int4_packed(n = 0)");
        expect_untouched(q, GUARD, "codes after n = 0");
        expect_untouched(pk, GUARD, "packed after n = 0");
        expect_untouched(u, GUARD, "unpacked after n = 0");
        expect_untouched(y, GUARD * sizeof(float), "dequantized after n = 0");
        check_stats(x, y, 0, &stats);
        goto done;
    }

    /* quantize, against the oracle */
    expect_status(quantize_to_int4(x, n, method, q, &scale, &zp), QUANTIZE_OK,
                  "quantize_to_int4");
    expect_untouched(q + n, GUARD, "quantize_to_int4 codes");
    oracle_quantize(x, n, method, want_q, &want_scale, &want_zp);
    CHECK(same_float_bits(scale, want_scale), "scale %.9g, oracle %.9g (n=%lu kind=%s method=%s)",
          (double)scale, (double)want_scale, (unsigned long)n, cur_kind, cur_method);
    CHECK(zp == want_zp, "zero point %d, oracle %d (n=%lu kind=%s method=%s)", zp, want_zp,
          (unsigned long)n, cur_kind, cur_method);
    CHECK(isfinite(scale) && scale > 0.0f, "scale %.9g is not finite and positive", (double)scale);
    CHECK(zp >= -8 && zp <= 7, "zero point %d outside -8..7", zp);
    CHECK(method == QUANTIZE_SCALE_MINMAX || zp == 0, "absmax zero point %d", zp);
    for (i = 0; i < n; i++) {
        if (q[i] != want_q[i]) {
            FAIL("code %d at %lu, oracle %d (x=%.9g scale=%.9g zp=%d n=%lu kind=%s method=%s)",
                 q[i], (unsigned long)i, want_q[i], (double)x[i], (double)scale, zp,
                 (unsigned long)n, cur_kind, cur_method);
            break;
        }
    }
    checks++;
    hash_bytes(q, n);
    hash_bytes(&scale, sizeof scale);
    hash_bytes(&zp, sizeof zp);

    /* pack: ONNX layout, padding nibble 0, nothing written past plen */
    expect_status(pack_int4_to_int8(q, n, pk, plen + GUARD), QUANTIZE_OK, "pack_int4_to_int8");
    expect_untouched(pk + plen, GUARD, "pack_int4_to_int8");
    for (i = 0; i < n; i++) {
        if (nibble(pk, i) != q[i]) {
            FAIL("packed nibble %lu is %d, code %d (n=%lu)", (unsigned long)i, nibble(pk, i), q[i],
                 (unsigned long)n);
            break;
        }
    }
    CHECK(n % 2 == 0 || (pk[plen - 1] >> 4) == 0, "padding nibble 0x%x, expected 0 (n=%lu)",
          (unsigned)(pk[plen - 1] >> 4), (unsigned long)n);

    /* unpack gives the codes back */
    expect_status(unpack_int8_to_int4(pk, plen, u, n), QUANTIZE_OK, "unpack_int8_to_int4");
    expect_untouched(u + n, GUARD, "unpack_int8_to_int4");
    CHECK(memcmp(u, q, n) == 0, "unpack(pack(q)) != q (n=%lu)", (unsigned long)n);

    /* dequantize: the formula bit for bit, and the error bound */
    expect_status(dequantize_from_int4(q, n, scale, zp, y), QUANTIZE_OK, "dequantize_from_int4");
    expect_untouched(y + n, GUARD * sizeof(float), "dequantize_from_int4");
    for (i = 0; i < n; i++) {
        if (!same_float_bits(y[i], oracle_dequantize(q[i], zp, scale))) {
            FAIL("dequantized %.9g at %lu, formula %.9g (n=%lu)", (double)y[i], (unsigned long)i,
                 (double)oracle_dequantize(q[i], zp, scale), (unsigned long)n);
            break;
        }
    }
    checks++;
    check_bound(x, y, n, scale, "per-tensor round trip");

    /* fused forms equal the two-step forms bit for bit */
    expect_status(quantize_to_int4_packed(x, n, method, fused, plen + GUARD, &fused_scale,
                                          &fused_zp),
                  QUANTIZE_OK, "quantize_to_int4_packed");
    CHECK(memcmp(fused, pk, plen) == 0, "fused packed codes differ (n=%lu kind=%s method=%s)",
          (unsigned long)n, cur_kind, cur_method);
    expect_untouched(fused + plen, GUARD, "quantize_to_int4_packed");
    CHECK(same_float_bits(fused_scale, scale) && fused_zp == zp,
          "fused scale/zero point %.9g/%d differ from %.9g/%d", (double)fused_scale, fused_zp,
          (double)scale, zp);
    expect_status(dequantize_from_int4_packed(pk, plen, n, scale, zp, y_fused), QUANTIZE_OK,
                  "dequantize_from_int4_packed");
    CHECK(memcmp(y_fused, y, n * sizeof(float)) == 0,
          "fused dequantize differs (n=%lu kind=%s method=%s)", (unsigned long)n, cur_kind,
          cur_method);
    expect_untouched(y_fused + n, GUARD * sizeof(float), "dequantize_from_int4_packed");

    check_stats(x, y, n, &stats);
    printf("n=%lu kind=%s method=%s scale=%.9g zero_point=%d mean_abs=%.9g max_abs=%.9g "
           "max_abs_index=%lu rmse=%.9g sqnr_db=%.6f\n",
           (unsigned long)n, cur_kind, cur_method, (double)scale, zp, stats.mean_abs_error,
           stats.max_abs_error, (unsigned long)stats.max_abs_index, stats.rmse, stats.sqnr_db);

done:
    free(q);
    free(want_q);
    free(u);
    free(pk_mem);
    free(fused_mem);
    free(y);
    free(y_fused);
}

/* ---- group-wise ---- */

static void check_groups(const float *x, size_t n, size_t group_size,
                         quantize_scale_method method)
{
    size_t groups = quantize_group_count(n, group_size);
    size_t plen = quantize_packed_len(n);
    uint8_t *codes = (uint8_t *)xmalloc(plen + GUARD);
    uint8_t *codes_nozp = (uint8_t *)xmalloc(plen + GUARD);
    float *scales = (float *)xmalloc((groups + GUARD) * sizeof(float));
    float *scales_nozp = (float *)xmalloc((groups + GUARD) * sizeof(float));
    int8_t *zps = (int8_t *)xmalloc(groups + GUARD);
    float *y = (float *)xmalloc((n + GUARD) * sizeof(float));
    float *y_nozp = (float *)xmalloc((n + GUARD) * sizeof(float));
    int8_t *want_q = (int8_t *)xmalloc(group_size < n ? group_size : n);
    quantize_error_stats stats;
    size_t g, i, want_groups = n == 0 ? 0 : n / group_size + (n % group_size != 0);

    CHECK(groups == want_groups, "quantize_group_count(%lu, %lu) = %lu, expected %lu",
          (unsigned long)n, (unsigned long)group_size, (unsigned long)groups,
          (unsigned long)want_groups);
    memset(codes, SENTINEL, plen + GUARD);
    memset(codes_nozp, SENTINEL, plen + GUARD);
    memset(scales, SENTINEL, (groups + GUARD) * sizeof(float));
    memset(scales_nozp, SENTINEL, (groups + GUARD) * sizeof(float));
    memset(zps, SENTINEL, groups + GUARD);
    memset(y, SENTINEL, (n + GUARD) * sizeof(float));
    memset(y_nozp, SENTINEL, (n + GUARD) * sizeof(float));

    /* every buffer longer than needed: nothing past what n needs is written */
    expect_status(quantize_int4_groups(x, n, group_size, method, codes, plen + GUARD, scales,
                                       groups + GUARD, zps, groups + GUARD),
                  QUANTIZE_OK, "quantize_int4_groups");
    expect_untouched(codes + plen, GUARD, "quantize_int4_groups codes");
    expect_untouched(scales + groups, GUARD * sizeof(float), "quantize_int4_groups scales");
    expect_untouched(zps + groups, GUARD, "quantize_int4_groups zero points");
    hash_bytes(codes, plen);
    hash_bytes(scales, groups * sizeof(float));
    hash_bytes(zps, groups);

    /* each group is per-tensor quantization of its slice: against the oracle and against the
       library's own per-tensor function */
    for (g = 0; g < groups; g++) {
        size_t start = g * group_size;
        size_t len = n - start < group_size ? n - start : group_size;
        float want_scale, lib_scale;
        int8_t want_zp, lib_zp;
        int8_t *lib_q = (int8_t *)xmalloc(len);
        oracle_quantize(x + start, len, method, want_q, &want_scale, &want_zp);
        expect_status(quantize_to_int4(x + start, len, method, lib_q, &lib_scale, &lib_zp),
                      QUANTIZE_OK, "quantize_to_int4 of one group");
        if (!same_float_bits(scales[g], want_scale) || zps[g] != want_zp ||
            !same_float_bits(scales[g], lib_scale) || zps[g] != lib_zp) {
            FAIL("group %lu of %lu (group_size=%lu n=%lu kind=%s method=%s): scale %.9g zp %d, "
                 "oracle %.9g %d, per-tensor %.9g %d",
                 (unsigned long)g, (unsigned long)groups, (unsigned long)group_size,
                 (unsigned long)n, cur_kind, cur_method, (double)scales[g], zps[g],
                 (double)want_scale, want_zp, (double)lib_scale, lib_zp);
            free(lib_q);
            break;
        }
        for (i = 0; i < len; i++) {
            if (nibble(codes, start + i) != want_q[i] || want_q[i] != lib_q[i]) {
                FAIL("group %lu element %lu (group_size=%lu n=%lu kind=%s method=%s): code %d, "
                     "oracle %d, per-tensor %d",
                     (unsigned long)g, (unsigned long)i, (unsigned long)group_size,
                     (unsigned long)n, cur_kind, cur_method, nibble(codes, start + i), want_q[i],
                     lib_q[i]);
                break;
            }
        }
        free(lib_q);
    }
    checks++;
    CHECK(n % 2 == 0 || (codes[plen - 1] >> 4) == 0, "group codes padding nibble not 0");

    /* group_size >= n is per-tensor quantization, packed */
    if (n > 0 && group_size >= n) {
        uint8_t *pk = (uint8_t *)xmalloc(plen);
        float scale;
        int8_t zp;
        expect_status(quantize_to_int4_packed(x, n, method, pk, plen, &scale, &zp), QUANTIZE_OK,
                      "quantize_to_int4_packed");
        CHECK(memcmp(pk, codes, plen) == 0 && same_float_bits(scale, scales[0]) && zp == zps[0],
              "group_size %lu >= n = %lu differs from per-tensor quantization",
              (unsigned long)group_size, (unsigned long)n);
        free(pk);
    }

    /* dequantize: the formula per group, bit for bit, and the error bound per group */
    expect_status(dequantize_int4_groups(codes, plen, n, group_size, scales, groups, zps, groups,
                                         y),
                  QUANTIZE_OK, "dequantize_int4_groups");
    expect_untouched(y + n, GUARD * sizeof(float), "dequantize_int4_groups");
    for (i = 0; i < n; i++) {
        g = i / group_size;
        if (!same_float_bits(y[i], oracle_dequantize(nibble(codes, i), zps[g], scales[g]))) {
            FAIL("group dequantize %.9g at %lu, formula %.9g (group_size=%lu n=%lu)",
                 (double)y[i], (unsigned long)i,
                 (double)oracle_dequantize(nibble(codes, i), zps[g], scales[g]),
                 (unsigned long)group_size, (unsigned long)n);
            break;
        }
    }
    checks++;
    for (g = 0; g < groups; g++) {
        size_t start = g * group_size;
        size_t len = n - start < group_size ? n - start : group_size;
        check_bound(x + start, y + start, len, scales[g], "group round trip");
    }

    if (method == QUANTIZE_SCALE_ABSMAX) {
        /* zero points are optional for ABSMAX: same codes and scales without them */
        expect_status(quantize_int4_groups(x, n, group_size, method, codes_nozp, plen + GUARD,
                                           scales_nozp, groups + GUARD, NULL, 0),
                      QUANTIZE_OK, "quantize_int4_groups(ABSMAX, no zero points)");
        CHECK(memcmp(codes_nozp, codes, plen) == 0 &&
                  memcmp(scales_nozp, scales, groups * sizeof(float)) == 0,
              "ABSMAX without zero points differs (group_size=%lu n=%lu)",
              (unsigned long)group_size, (unsigned long)n);
        for (g = 0; g < groups; g++) {
            CHECK(zps[g] == 0, "ABSMAX group zero point %d", zps[g]);
        }
    }
    /* zero_points_len 0 when dequantizing: every zero point is 0 */
    expect_status(dequantize_int4_groups(codes, plen, n, group_size, scales, groups, NULL, 0,
                                         y_nozp),
                  QUANTIZE_OK, "dequantize_int4_groups(no zero points)");
    for (i = 0; i < n; i++) {
        g = i / group_size;
        if (!same_float_bits(y_nozp[i], oracle_dequantize(nibble(codes, i), 0, scales[g]))) {
            FAIL("group dequantize without zero points: %.9g at %lu, formula %.9g",
                 (double)y_nozp[i], (unsigned long)i,
                 (double)oracle_dequantize(nibble(codes, i), 0, scales[g]));
            break;
        }
    }
    checks++;

    if (n > 0) {
        check_stats(x, y, n, &stats);
        printf("  group_size=%lu groups=%lu mean_abs=%.9g max_abs=%.9g max_abs_index=%lu "
               "rmse=%.9g sqnr_db=%.6f\n",
               (unsigned long)group_size, (unsigned long)groups, stats.mean_abs_error,
               stats.max_abs_error, (unsigned long)stats.max_abs_index, stats.rmse,
               stats.sqnr_db);
    }

    free(codes);
    free(codes_nozp);
    free(scales);
    free(scales_nozp);
    free(zps);
    free(y);
    free(y_nozp);
    free(want_q);
}

int main(void)
{
    static const size_t lengths[] = {0, 1, 2, 3, 15, 16, 17, 31, 33, 1000, 100001};
    static const size_t group_sizes[] = {1, 2, 7, 32, 64, 128};
    static const quantize_scale_method methods[] = {QUANTIZE_SCALE_MINMAX, QUANTIZE_SCALE_ABSMAX};
    static const char *const method_names[] = {"minmax", "absmax"};
    size_t li, gi, mi;
    int k;

#if FLT_EVAL_METHOD != 0
    fprintf(stderr, "roundtrip: needs FLT_EVAL_METHOD == 0 for its float oracle\n");
    return EXIT_FAILURE;
#endif

    for (li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        size_t n = lengths[li];
        /* the source at a varying float offset, so SIMD loads start at every alignment */
        size_t offset = li % 4;
        float *mem = (float *)xmalloc((n + offset) * sizeof(float));
        float *x = mem + offset;
        for (k = 0; k < KIND_COUNT; k++) {
            /* the largest length gets a smaller set of kinds, to keep the run short */
            if (n > 1000 && k != KIND_UNIFORM && k != KIND_BLOCKY && k != KIND_SPARSE) {
                continue;
            }
            fill(x, n, (enum kind)k);
            for (mi = 0; mi < 2; mi++) {
                cur_n = n;
                cur_kind = kind_names[k];
                cur_method = method_names[mi];
                check_tensor(x, n, methods[mi]);
                for (gi = 0; gi < sizeof group_sizes / sizeof group_sizes[0]; gi++) {
                    check_groups(x, n, group_sizes[gi], methods[mi]);
                }
                if (n > 0) {
                    check_groups(x, n, n, methods[mi]);     /* group_size = n */
                    check_groups(x, n, n + 5, methods[mi]); /* larger than n */
                } else {
                    float s;
                    uint8_t c;
                    expect_status(quantize_int4_groups(x, 0, 0, methods[mi], &c, 1, &s, 1, NULL,
                                                       0),
                                  QUANTIZE_ERR_INVALID_ARGUMENT, "quantize_int4_groups(gs = 0)");
                }
            }
        }
        free(mem);
    }

    printf("checksum: %016llx\n", checksum);
    printf("roundtrip: %lu checks, %lu failures\n", checks, failures);
    return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
