/*
 * errors.c - every status code, the check order and the "outputs untouched" rules of
 * docs/contract.md §4, provoked from C; plus the metadata functions and macros of §3.
 *
 * All inputs live in one arena and all outputs in another. Before each call the output arena is
 * filled with a sentinel byte and the input arena is copied; after it, every byte the call was
 * not allowed to write must be unchanged (on an error: every byte; on success: every byte past
 * what n needs). Inputs must never change.
 *
 * Exit status 0 only if every check passed; each failure is reported on stderr with its line.
 */
#undef NDEBUG
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize.h"

#define ARENA 4096
#define SENTINEL 0xA5

static union {
    double align_double;
    uint64_t align_u64;
    unsigned char b[ARENA];
} in_mem, out_mem;
static unsigned char in_copy[ARENA];
static unsigned char allowed_in[ARENA], allowed_out[ARENA];

#define IN (in_mem.b)
#define OUT (out_mem.b)
#define F(base, off) ((float *)(void *)((base) + (off)))
#define I8(base, off) ((int8_t *)((base) + (off)))
#define U8(base, off) ((uint8_t *)((base) + (off)))

/* element counts whose byte size exceeds PTRDIFF_MAX (isize::MAX) */
#define HUGE_N_FLOAT ((size_t)PTRDIFF_MAX / sizeof(float) + 1)
#define HUGE_N_BYTE ((size_t)PTRDIFF_MAX + 1)

static unsigned long checks;
static unsigned long failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "errors.c:%d: ", __LINE__);                                                \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            FAIL("check failed: %s", #cond);                                                       \
        }                                                                                          \
    } while (0)

/* Marks bytes a successful call may write (inside either arena; anything else is ignored). */
static void allow(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t in0 = (uintptr_t)IN, out0 = (uintptr_t)OUT;
    if (a >= in0 && a < in0 + ARENA) {
        assert(a - in0 + len <= ARENA);
        memset(allowed_in + (a - in0), 1, len);
    } else if (a >= out0 && a < out0 + ARENA) {
        assert(a - out0 + len <= ARENA);
        memset(allowed_out + (a - out0), 1, len);
    }
}

static void begin(void)
{
    memset(OUT, SENTINEL, ARENA);
    memcpy(in_copy, IN, ARENA);
}

static const char *status_name(quantize_status s)
{
    switch (s) {
    case QUANTIZE_OK: return "OK";
    case QUANTIZE_ERR_NULL_POINTER: return "NULL_POINTER";
    case QUANTIZE_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case QUANTIZE_ERR_EMPTY_INPUT: return "EMPTY_INPUT";
    case QUANTIZE_ERR_NON_FINITE: return "NON_FINITE";
    case QUANTIZE_ERR_BUFFER_TOO_SMALL: return "BUFFER_TOO_SMALL";
    case QUANTIZE_ERR_VALUE_OUT_OF_RANGE: return "VALUE_OUT_OF_RANGE";
    case QUANTIZE_ERR_LENGTH: return "LENGTH";
    case QUANTIZE_ERR_MISALIGNED: return "MISALIGNED";
    case QUANTIZE_ERR_OVERLAP: return "OVERLAP";
    case QUANTIZE_ERR_INTERNAL: return "INTERNAL";
    default: return "unknown";
    }
}

/* statuses seen at least once, to prove every code was provoked */
static int seen[100];

static void end(int line, const char *expr, quantize_status got, quantize_status want)
{
    size_t i;
    checks++;
    if (got >= 0 && got < 100) {
        seen[got] = 1;
    }
    if (got != want) {
        fprintf(stderr, "errors.c:%d: %s\n    returned %d %s (%s), expected %d %s\n", line, expr,
                (int)got, status_name(got), quantize_status_message(got), (int)want,
                status_name(want));
        failures++;
    }
    for (i = 0; i < ARENA; i++) {
        if (OUT[i] != SENTINEL && !allowed_out[i]) {
            fprintf(stderr,
                    "errors.c:%d: %s\n    (status %s) wrote output byte %lu, which it must not\n",
                    line, expr, status_name(got), (unsigned long)i);
            failures++;
            break;
        }
    }
    for (i = 0; i < ARENA; i++) {
        if (IN[i] != in_copy[i] && !allowed_in[i]) {
            fprintf(stderr, "errors.c:%d: %s\n    (status %s) modified input byte %lu\n", line,
                    expr, status_name(got), (unsigned long)i);
            failures++;
            break;
        }
    }
    memset(allowed_in, 0, ARENA);
    memset(allowed_out, 0, ARENA);
}

/* TRY(expected status, call): run the call between begin() and end() */
#define TRY(want, call)                                                                            \
    do {                                                                                           \
        quantize_status got_;                                                                      \
        begin();                                                                                   \
        got_ = (call);                                                                             \
        end(__LINE__, #call, got_, (want));                                                        \
    } while (0)

/* ---- standard inputs ---- */

#define XS F(IN, 0)           /* 16 floats: the seed's values, then more */
#define CODES I8(IN, 64)      /* 16 int4 codes */
#define PACKED U8(IN, 128)    /* 8 packed bytes */
#define SCALES F(IN, 192)     /* 8 group scales */
#define ZPS I8(IN, 256)       /* 8 group zero points */
#define BLOCK_X F(IN, 1024)   /* 96 floats for block formats */
#define BLOCK_B U8(IN, 2048)  /* 3 blocks of up to 20 bytes */
#define MIS_F_IN F(IN, 3585)  /* an odd address */

#define Q I8(OUT, 0)          /* int8 codes out */
#define PK U8(OUT, 64)        /* packed bytes out */
#define SCALE F(OUT, 256)     /* scale out */
#define ZP I8(OUT, 260)       /* zero point out */
#define Y F(OUT, 512)         /* up to 128 floats out */
#define SC_OUT F(OUT, 1536)   /* group scales out */
#define ZP_OUT I8(OUT, 1600)  /* group zero points out */
#define STATS ((quantize_error_stats *)(void *)(OUT + 2048))
#define MIS_STATS ((quantize_error_stats *)(void *)(OUT + 2049))
#define BLK U8(OUT, 2560)     /* block bytes out */
#define Y_BLK F(OUT, 3072)    /* 96 floats out */
#define MIS_F_OUT F(OUT, 3585) /* an odd address */

static void setup_inputs(void)
{
    static const float xs[16] = {0.1f,  0.5f,  -1.3f, 2.7f, 3.9f, -0.8f, 5.2f,  -4.7f,
                                 -2.0f, 0.25f, 1.0f,  7.5f, 0.0f, -6.0f, 0.75f, 3.0f};
    static const int8_t codes[16] = {-1, 0, -3, 3, 5, -2, 7, -8, 1, 2, 3, 4, -4, -5, -6, -7};
    static const uint8_t packed[8] = {0x0F, 0x3D, 0xE5, 0x87, 0x21, 0x43, 0xBC, 0x9A};
    static const float scales[8] = {0.5f, 0.25f, 2.0f, 1.0f, 0.125f, 4.0f, 8.0f, 16.0f};
    static const int8_t zps[8] = {-1, 0, 3, -8, 7, 2, -3, 1};
    size_t i;
    memset(IN, 0, ARENA);
    memcpy(XS, xs, sizeof xs);
    memcpy(CODES, codes, sizeof codes);
    memcpy(PACKED, packed, sizeof packed);
    memcpy(SCALES, scales, sizeof scales);
    memcpy(ZPS, zps, sizeof zps);
    for (i = 0; i < 96; i++) {
        BLOCK_X[i] = (float)((int)(i * 37 % 23) - 11) * 0.125f;
    }
}

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- quantize_to_int4 ---- */

static void test_quantize_to_int4(void)
{
    const float big = 85070591730234615865843651857942052864.0f; /* 2^126 */
    const float above = f32_from_bits(0x7E800001u);               /* next float above 2^126 */
    setup_inputs();
    assert(big == ldexpf(1.0f, 126) && above > big);

    allow(Q, 8);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4(XS, 8, QUANTIZE_SCALE_MINMAX, Q, SCALE, ZP));
    {
        static const int8_t want[8] = {-1, 0, -3, 3, 5, -2, 7, -8};
        CHECK(memcmp(Q, want, 8) == 0);
        CHECK(*ZP == -1);
    }
    allow(Q, 8);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4(XS, 8, QUANTIZE_SCALE_ABSMAX, Q, SCALE, ZP));
    CHECK(*ZP == 0);

    /* 1. invalid parameters */
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(XS, 8, 2, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(XS, 8, 0xFFFFFFFFu, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(XS, 8, 0x80000000u, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(XS, HUGE_N_FLOAT, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(XS, SIZE_MAX, 0, Q, SCALE, ZP));
    /* invalid parameters come before NULL pointers and alignment */
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(NULL, 8, 2, NULL, NULL, NULL));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(MIS_F_IN, 8, 7, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4(XS, 0, 2, Q, SCALE, ZP));

    /* 2. NULL pointers */
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(NULL, 8, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(XS, 8, 0, NULL, SCALE, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(XS, 8, 0, Q, NULL, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(XS, 8, 1, Q, SCALE, NULL));
    /* scalar out-pointers are required even when n is 0 (NULL comes before EMPTY_INPUT) */
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(XS, 0, 0, Q, NULL, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(NULL, 0, 0, NULL, SCALE, NULL));
    /* NULL comes before misalignment */
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(MIS_F_IN, 8, 0, NULL, SCALE, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4(XS, 8, 0, Q, MIS_F_OUT, NULL));

    /* 3. alignment, checked even when n is 0 */
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4(MIS_F_IN, 8, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4(MIS_F_IN, 0, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4(XS, 8, 1, Q, MIS_F_OUT, ZP));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4(XS, 0, 1, Q, MIS_F_OUT, ZP));
    /* misalignment comes before overlap: a misaligned scale inside dst */
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4(XS, 8, 0, Q, F(OUT, 1), ZP));

    /* 5. overlap: of an output with the input, and of outputs with each other */
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, I8(IN, 0), SCALE, ZP));
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, I8(IN, 31), SCALE, ZP));
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, Q, F(OUT, 4), ZP));   /* scale in dst */
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, Q, SCALE, I8(OUT, 7))); /* zp in dst */
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, Q, SCALE, I8(OUT, 259))); /* zp in scale */
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, Q, F(IN, 28), ZP));   /* scale in src */
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, Q, SCALE, I8(IN, 0))); /* zp in src */
    /* the scalars need their bytes even when n is 0, and overlap comes before EMPTY_INPUT */
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 0, 0, Q, SCALE, I8(OUT, 258)));
    /* overlap comes before the data: NaN input, dst over src */
    XS[2] = NAN;
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4(XS, 8, 0, I8(IN, 0), SCALE, ZP));
    setup_inputs();
    /* adjacent buffers do not overlap: dst right after src, zero point right after dst */
    allow(I8(IN, 32), 8);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4(XS, 8, 0, I8(IN, 32), SCALE, ZP));
    setup_inputs();
    allow(Q, 8);
    allow(F(OUT, 12), 4);
    allow(I8(OUT, 8), 1);
    TRY(QUANTIZE_OK, quantize_to_int4(XS, 8, 0, Q, F(OUT, 12), I8(OUT, 8)));
    /* with n == 0, dst needs no bytes: dst "over" src is not an overlap */
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_to_int4(XS, 0, 0, I8(IN, 0), SCALE, ZP));

    /* 6. empty input */
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_to_int4(XS, 0, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_to_int4(NULL, 0, 1, NULL, SCALE, ZP));

    /* 7. data: non-finite and out-of-range values, first bad item wins */
    XS[3] = NAN;
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_to_int4(XS, 8, 1, Q, SCALE, ZP));
    setup_inputs();
    XS[0] = INFINITY;
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    setup_inputs();
    XS[7] = -INFINITY;
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_to_int4(XS, 8, 1, Q, SCALE, ZP));
    setup_inputs();
    XS[7] = above;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_to_int4(XS, 8, 1, Q, SCALE, ZP));
    XS[7] = -above;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    XS[7] = FLT_MAX;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_to_int4(XS, 8, 1, Q, SCALE, ZP));
    XS[1] = 3e38f;
    XS[2] = NAN;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    XS[1] = NAN;
    XS[2] = 3e38f;
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    setup_inputs();
    /* exactly 2^126 is accepted, at both ends, with both methods */
    XS[6] = big;
    XS[7] = -big;
    allow(Q, 8);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4(XS, 8, 0, Q, SCALE, ZP));
    CHECK(isfinite(*SCALE) && *SCALE > 0.0f);
    allow(Q, 8);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4(XS, 8, 1, Q, SCALE, ZP));
    CHECK(isfinite(*SCALE) && *SCALE > 0.0f);
    setup_inputs();
}

/* ---- quantize_to_int4_packed ---- */

static void test_quantize_to_int4_packed(void)
{
    setup_inputs();
    allow(PK, 4);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4_packed(XS, 8, 0, PK, 4, SCALE, ZP));
    {
        static const uint8_t want[4] = {0x0F, 0x3D, 0xE5, 0x87};
        CHECK(memcmp(PK, want, 4) == 0);
    }
    /* a longer dst: only the bytes n needs are written; an odd n pads with a 0 nibble */
    allow(PK, 4);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4_packed(XS, 7, 0, PK, 64, SCALE, ZP));
    CHECK((PK[3] & 0xF0) == 0);
    /* a stated length larger than any buffer is fine: nothing past n's bytes is touched */
    allow(PK, 4);
    allow(SCALE, 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4_packed(XS, 8, 0, PK, SIZE_MAX, SCALE, ZP));
    /* a scale right after the bytes n needs does not overlap, whatever dst_len says */
    allow(PK, 4);
    allow(F(OUT, 68), 4);
    allow(ZP, 1);
    TRY(QUANTIZE_OK, quantize_to_int4_packed(XS, 8, 0, PK, 64, F(OUT, 68), ZP));

    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_to_int4_packed(XS, 8, 2, PK, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_to_int4_packed(XS, 8, 0xFFFFFFFFu, PK, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_to_int4_packed(XS, HUGE_N_FLOAT, 0, PK, SIZE_MAX, SCALE, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4_packed(NULL, 8, 0, PK, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4_packed(XS, 8, 0, NULL, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4_packed(XS, 8, 0, PK, 4, NULL, ZP));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4_packed(XS, 8, 0, PK, 4, SCALE, NULL));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_to_int4_packed(MIS_F_IN, 8, 0, PK, 4, NULL, ZP));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4_packed(MIS_F_IN, 8, 0, PK, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4_packed(MIS_F_IN, 0, 0, PK, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_to_int4_packed(XS, 8, 0, PK, 4, MIS_F_OUT, ZP));
    /* NULL with length 0 is an empty buffer: too small for 8 codes */
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, quantize_to_int4_packed(XS, 8, 0, NULL, 0, SCALE, ZP));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, quantize_to_int4_packed(XS, 8, 0, PK, 3, SCALE, ZP));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, quantize_to_int4_packed(XS, 9, 0, PK, 4, SCALE, ZP));
    /* BUFFER_TOO_SMALL comes before OVERLAP: dst over src, first too short, then long enough */
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_to_int4_packed(XS, 8, 0, U8(IN, 4), 3, SCALE, ZP));
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4_packed(XS, 8, 0, U8(IN, 4), 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4_packed(XS, 8, 0, PK, 4, F(OUT, 64), ZP));
    TRY(QUANTIZE_ERR_OVERLAP, quantize_to_int4_packed(XS, 8, 0, PK, 4, SCALE, I8(OUT, 67)));
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_to_int4_packed(XS, 0, 0, PK, 4, SCALE, ZP));
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_to_int4_packed(NULL, 0, 1, NULL, 0, SCALE, ZP));
    /* lengths come before data */
    XS[0] = NAN;
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, quantize_to_int4_packed(XS, 8, 0, PK, 3, SCALE, ZP));
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_to_int4_packed(XS, 8, 0, PK, 4, SCALE, ZP));
    XS[0] = 0.0f;
    XS[7] = -1e38f;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_to_int4_packed(XS, 8, 1, PK, 4, SCALE, ZP));
    setup_inputs();
}

/* ---- dequantize_from_int4 ---- */

static void test_dequantize_from_int4(void)
{
    size_t i;
    setup_inputs();
    allow(Y, 8 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_from_int4(CODES, 8, 0.5f, -1, Y));
    for (i = 0; i < 8; i++) {
        CHECK(Y[i] == (float)(CODES[i] + 1) * 0.5f);
    }
    /* any finite scale, negative too; a scale no quantizer makes may overflow to inf */
    allow(Y, 8 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_from_int4(CODES, 8, -0.25f, 0, Y));
    CHECK(Y[6] == -1.75f);
    CODES[0] = 7;
    allow(Y, sizeof(float));
    TRY(QUANTIZE_OK, dequantize_from_int4(CODES, 1, 3e38f, -8, Y));
    CHECK(isinf(Y[0]) && Y[0] > 0.0f);
    setup_inputs();
    TRY(QUANTIZE_OK, dequantize_from_int4(NULL, 0, 1.0f, 0, NULL));
    TRY(QUANTIZE_OK, dequantize_from_int4(CODES, 0, 1.0f, 0, Y));

    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, dequantize_from_int4(CODES, HUGE_N_FLOAT, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_from_int4(NULL, 8, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_from_int4(CODES, 8, 1.0f, 0, NULL));
    TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_from_int4(NULL, 8, 1.0f, 0, MIS_F_OUT));
    TRY(QUANTIZE_ERR_MISALIGNED, dequantize_from_int4(CODES, 8, 1.0f, 0, MIS_F_OUT));
    TRY(QUANTIZE_ERR_MISALIGNED, dequantize_from_int4(CODES, 0, 1.0f, 0, MIS_F_OUT));
    TRY(QUANTIZE_ERR_MISALIGNED, dequantize_from_int4(NULL, 0, NAN, 8, MIS_F_OUT));
    TRY(QUANTIZE_ERR_OVERLAP, dequantize_from_int4(CODES, 8, 1.0f, 0, F(IN, 60)));
    TRY(QUANTIZE_ERR_OVERLAP, dequantize_from_int4(CODES, 8, 1.0f, 99, F(IN, 64)));
    allow(F(IN, 72), 8 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_from_int4(CODES, 8, 1.0f, 0, F(IN, 72))); /* adjacent */
    setup_inputs();

    /* data: zero point first, then scale, then codes in index order */
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, 1.0f, 8, Y));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, 1.0f, -9, Y));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, 1.0f, 127, Y));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_from_int4(CODES, 8, NAN, 0, Y));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_from_int4(CODES, 8, INFINITY, 0, Y));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_from_int4(CODES, 8, -INFINITY, 0, Y));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, NAN, 8, Y));
    CODES[7] = 8;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_from_int4(CODES, 8, NAN, 0, Y));
    /* the bad code is not among the first 7 */
    allow(Y, 7 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_from_int4(CODES, 7, 1.0f, 0, Y));
    CODES[7] = -9;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, 1.0f, 0, Y));
    CODES[7] = -128;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 8, 1.0f, 0, Y));
    CODES[0] = 127;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4(CODES, 1, 1.0f, 0, Y));
    setup_inputs();
}

/* ---- dequantize_from_int4_packed ---- */

static void test_dequantize_from_int4_packed(void)
{
    static const int8_t want[7] = {-1, 0, -3, 3, 5, -2, 7};
    size_t i;
    setup_inputs();
    allow(Y, 7 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_from_int4_packed(PACKED, 4, 7, 2.0f, 1, Y));
    for (i = 0; i < 7; i++) {
        CHECK(Y[i] == (float)(want[i] - 1) * 2.0f);
    }
    TRY(QUANTIZE_OK, dequantize_from_int4_packed(NULL, 0, 0, 1.0f, 0, NULL));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        dequantize_from_int4_packed(PACKED, SIZE_MAX, HUGE_N_FLOAT, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_from_int4_packed(NULL, 4, 8, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_from_int4_packed(PACKED, 4, 8, 1.0f, 0, NULL));
    TRY(QUANTIZE_ERR_MISALIGNED, dequantize_from_int4_packed(PACKED, 4, 8, 1.0f, 0, MIS_F_OUT));
    TRY(QUANTIZE_ERR_MISALIGNED, dequantize_from_int4_packed(PACKED, 4, 0, 1.0f, 0, MIS_F_OUT));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, dequantize_from_int4_packed(PACKED, 3, 8, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, dequantize_from_int4_packed(PACKED, 4, 9, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, dequantize_from_int4_packed(NULL, 0, 1, 1.0f, 0, Y));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        dequantize_from_int4_packed(PACKED, 3, 8, 1.0f, 0, F(IN, 128)));
    TRY(QUANTIZE_ERR_OVERLAP, dequantize_from_int4_packed(PACKED, 4, 8, 1.0f, 0, F(IN, 128)));
    TRY(QUANTIZE_ERR_OVERLAP, dequantize_from_int4_packed(PACKED, 4, 8, 1.0f, 0, F(IN, 124)));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4_packed(PACKED, 4, 8, 1.0f, 8, Y));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        dequantize_from_int4_packed(PACKED, 4, 8, 1.0f, -9, Y));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_from_int4_packed(PACKED, 4, 8, NAN, 0, Y));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_from_int4_packed(PACKED, 4, 8, -INFINITY, 0, Y));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, dequantize_from_int4_packed(PACKED, 4, 8, NAN, 8, Y));
}

/* ---- pack / unpack ---- */

static void test_pack_unpack(void)
{
    static const int8_t want_unpacked[7] = {-1, 0, -3, 3, 5, -2, 7};
    setup_inputs();
    allow(PK, 4);
    TRY(QUANTIZE_OK, pack_int4_to_int8(CODES, 8, PK, 4));
    CHECK(PK[0] == 0x0F && PK[1] == 0x3D && PK[2] == 0xE5 && PK[3] == 0x87);
    allow(PK, 4);
    TRY(QUANTIZE_OK, pack_int4_to_int8(CODES, 7, PK, 64));
    CHECK(PK[0] == 0x0F && PK[1] == 0x3D && PK[2] == 0xE5 && PK[3] == 0x07);
    allow(PK, 1);
    TRY(QUANTIZE_OK, pack_int4_to_int8(CODES + 7, 1, PK, SIZE_MAX));
    CHECK(PK[0] == 0x08);
    TRY(QUANTIZE_OK, pack_int4_to_int8(NULL, 0, NULL, 0));
    TRY(QUANTIZE_OK, pack_int4_to_int8(CODES, 0, PK, 4));

    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, pack_int4_to_int8(CODES, HUGE_N_BYTE, PK, SIZE_MAX));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, pack_int4_to_int8(CODES, SIZE_MAX, PK, SIZE_MAX));
    TRY(QUANTIZE_ERR_NULL_POINTER, pack_int4_to_int8(NULL, 8, PK, 4));
    TRY(QUANTIZE_ERR_NULL_POINTER, pack_int4_to_int8(CODES, 8, NULL, 4));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, pack_int4_to_int8(CODES, 8, NULL, 0));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, pack_int4_to_int8(CODES, 8, PK, 3));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, pack_int4_to_int8(CODES, 1, PK, 0));
    /* in place: too small first, then overlapping */
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, pack_int4_to_int8(CODES, 8, U8(IN, 64), 3));
    TRY(QUANTIZE_ERR_OVERLAP, pack_int4_to_int8(CODES, 8, U8(IN, 64), 4));
    TRY(QUANTIZE_ERR_OVERLAP, pack_int4_to_int8(CODES, 8, U8(IN, 70), 4));
    allow(U8(IN, 72), 4);
    TRY(QUANTIZE_OK, pack_int4_to_int8(CODES, 8, U8(IN, 72), 4)); /* adjacent */
    setup_inputs();
    CODES[5] = 8;
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, pack_int4_to_int8(CODES, 8, PK, 3));
    TRY(QUANTIZE_ERR_OVERLAP, pack_int4_to_int8(CODES, 8, U8(IN, 64), 4));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, pack_int4_to_int8(CODES, 8, PK, 4));
    CODES[5] = -9;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, pack_int4_to_int8(CODES, 8, PK, 4));
    CODES[5] = 127;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, pack_int4_to_int8(CODES, 8, PK, 4));
    setup_inputs();

    /* unpack sign-extends and ignores the padding nibble (0x8 here) of an odd count */
    allow(Q, 7);
    TRY(QUANTIZE_OK, unpack_int8_to_int4(PACKED, 4, Q, 7));
    CHECK(memcmp(Q, want_unpacked, 7) == 0);
    allow(Q, 7);
    TRY(QUANTIZE_OK, unpack_int8_to_int4(PACKED, SIZE_MAX, Q, 7));
    TRY(QUANTIZE_OK, unpack_int8_to_int4(NULL, 0, NULL, 0));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, unpack_int8_to_int4(PACKED, SIZE_MAX, Q, HUGE_N_BYTE));
    TRY(QUANTIZE_ERR_NULL_POINTER, unpack_int8_to_int4(NULL, 4, Q, 8));
    TRY(QUANTIZE_ERR_NULL_POINTER, unpack_int8_to_int4(PACKED, 4, NULL, 8));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, unpack_int8_to_int4(NULL, 0, Q, 1));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, unpack_int8_to_int4(PACKED, 3, Q, 8));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, unpack_int8_to_int4(PACKED, 3, I8(IN, 126), 8));
    TRY(QUANTIZE_ERR_OVERLAP, unpack_int8_to_int4(PACKED, 4, I8(IN, 126), 8));
    TRY(QUANTIZE_ERR_OVERLAP, unpack_int8_to_int4(PACKED, 4, I8(IN, 131), 8));
    allow(I8(IN, 120), 8);
    TRY(QUANTIZE_OK, unpack_int8_to_int4(PACKED, 4, I8(IN, 120), 8)); /* adjacent */
    setup_inputs();
}

/* ---- group-wise ---- */

static void test_groups(void)
{
    size_t i;
    setup_inputs();
    /* 12 values, groups of 4: 3 groups, 6 code bytes */
    allow(PK, 6);
    allow(SC_OUT, 3 * sizeof(float));
    allow(ZP_OUT, 3);
    TRY(QUANTIZE_OK, quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    allow(PK, 6);
    allow(SC_OUT, 3 * sizeof(float));
    allow(ZP_OUT, 3);
    TRY(QUANTIZE_OK, quantize_int4_groups(XS, 12, 4, 0, PK, 64, SC_OUT, 16, ZP_OUT, 16));
    /* ABSMAX: zero points optional; if given, all written as 0 */
    allow(PK, 6);
    allow(SC_OUT, 3 * sizeof(float));
    TRY(QUANTIZE_OK, quantize_int4_groups(XS, 12, 4, 1, PK, 6, SC_OUT, 3, NULL, 0));
    allow(PK, 6);
    allow(SC_OUT, 3 * sizeof(float));
    allow(ZP_OUT, 3);
    TRY(QUANTIZE_OK, quantize_int4_groups(XS, 12, 4, 1, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    CHECK(ZP_OUT[0] == 0 && ZP_OUT[1] == 0 && ZP_OUT[2] == 0);
    TRY(QUANTIZE_OK, quantize_int4_groups(NULL, 0, 4, 0, NULL, 0, NULL, 0, NULL, 0));
    TRY(QUANTIZE_OK, quantize_int4_groups(XS, 0, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));

    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_int4_groups(XS, 12, 0, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_int4_groups(NULL, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_int4_groups(XS, 12, 4, 2, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_int4_groups(XS, 12, 4, 0xFFFFFFFFu, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_int4_groups(XS, HUGE_N_FLOAT, 1u << 20, 0, PK,
                                                            SIZE_MAX, SC_OUT, SIZE_MAX, ZP_OUT,
                                                            SIZE_MAX));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        quantize_int4_groups(NULL, 12, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        quantize_int4_groups(XS, 12, 4, 0, NULL, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, NULL, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, NULL, 3));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, MIS_F_OUT, 3, NULL, 3));
    TRY(QUANTIZE_ERR_MISALIGNED,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, MIS_F_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_MISALIGNED,
        quantize_int4_groups(MIS_F_IN, 12, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_MISALIGNED,
        quantize_int4_groups(MIS_F_IN, 0, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_int4_groups(XS, 12, 4, 0, PK, 5, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 2, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 2));
    /* MINMAX needs its zero points */
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, NULL, 0));
    /* ABSMAX: none or all */
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_int4_groups(XS, 12, 4, 1, PK, 6, SC_OUT, 3, ZP_OUT, 2));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 2, I8(IN, 0), 3));
    /* overlaps: codes over src, scales over codes, zero points over scales */
    TRY(QUANTIZE_ERR_OVERLAP,
        quantize_int4_groups(XS, 12, 4, 0, U8(IN, 40), 6, SC_OUT, 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_OVERLAP, quantize_int4_groups(XS, 12, 4, 0, PK, 6, F(OUT, 68), 3, ZP_OUT, 3));
    TRY(QUANTIZE_ERR_OVERLAP,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, I8(OUT, 1544), 3));
    TRY(QUANTIZE_ERR_OVERLAP,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, I8(IN, 47), 3));
    /* bytes past what n needs are free for other buffers, whatever the stated lengths */
    allow(PK, 6);
    allow(F(OUT, 72), 3 * sizeof(float));
    allow(I8(OUT, 84), 3);
    TRY(QUANTIZE_OK, quantize_int4_groups(XS, 12, 4, 0, PK, 64, F(OUT, 72), 16, I8(OUT, 84), 16));

    /* bad data in group 1 of 3: group 2's outputs are never written */
    XS[5] = NAN;
    allow(PK, 4);
    allow(SC_OUT, 2 * sizeof(float));
    allow(ZP_OUT, 2);
    TRY(QUANTIZE_ERR_NON_FINITE,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    XS[5] = 1e38f;
    allow(PK, 4);
    allow(SC_OUT, 2 * sizeof(float));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        quantize_int4_groups(XS, 12, 4, 1, PK, 6, SC_OUT, 3, NULL, 0));
    XS[11] = INFINITY;
    allow(PK, 4);
    allow(SC_OUT, 2 * sizeof(float));
    allow(ZP_OUT, 2);
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        quantize_int4_groups(XS, 12, 4, 0, PK, 6, SC_OUT, 3, ZP_OUT, 3));
    setup_inputs();

    /* dequantize_int4_groups: PACKED holds 16 codes, SCALES and ZPS 8 groups */
    allow(Y, 12 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, Y));
    for (i = 0; i < 12; i++) {
        int8_t code = (int8_t)((i % 2 == 0 ? PACKED[i / 2] & 0x0F : PACKED[i / 2] >> 4));
        code = (int8_t)(code >= 8 ? code - 16 : code);
        CHECK(Y[i] == (float)(code - ZPS[i / 4]) * SCALES[i / 4]);
    }
    allow(Y, 12 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_int4_groups(PACKED, 64, 12, 4, SCALES, 8, ZPS, 8, Y));
    allow(Y, 12 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, NULL, 0, Y));
    CHECK(Y[4] == 5.0f * 0.25f); /* element 4: low nibble of 0xE5, group 1, zero point 0 */
    /* inputs may alias each other: codes read from the scales' bytes */
    allow(Y, 12 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_int4_groups(U8(IN, 192), 6, 12, 4, SCALES, 3, NULL, 0, Y));
    TRY(QUANTIZE_OK, dequantize_int4_groups(NULL, 0, 0, 4, NULL, 0, NULL, 0, NULL));

    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        dequantize_int4_groups(PACKED, 6, 12, 0, SCALES, 3, ZPS, 3, Y));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        dequantize_int4_groups(PACKED, SIZE_MAX, HUGE_N_FLOAT, 4, SCALES, SIZE_MAX, ZPS,
                               SIZE_MAX, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_int4_groups(NULL, 6, 12, 4, SCALES, 3, ZPS, 3, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        dequantize_int4_groups(PACKED, 6, 12, 4, NULL, 3, ZPS, 3, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, NULL, 3, Y));
    TRY(QUANTIZE_ERR_NULL_POINTER,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, NULL));
    TRY(QUANTIZE_ERR_MISALIGNED,
        dequantize_int4_groups(PACKED, 6, 12, 4, MIS_F_IN, 3, ZPS, 3, Y));
    TRY(QUANTIZE_ERR_MISALIGNED,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, MIS_F_OUT));
    TRY(QUANTIZE_ERR_MISALIGNED,
        dequantize_int4_groups(PACKED, 6, 0, 4, SCALES, 3, ZPS, 3, MIS_F_OUT));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        dequantize_int4_groups(PACKED, 5, 12, 4, SCALES, 3, ZPS, 3, Y));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 2, ZPS, 3, Y));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 2, Y));
    TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 2, ZPS, 3, F(IN, 192)));
    TRY(QUANTIZE_ERR_OVERLAP,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, F(IN, 192)));
    TRY(QUANTIZE_ERR_OVERLAP,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, F(IN, 88)));
    TRY(QUANTIZE_ERR_OVERLAP,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, F(IN, 256)));

    /* data: group by group, each group's zero point before its scale; nothing after the bad
       group is written */
    ZPS[0] = 8;
    SCALES[0] = NAN;
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, Y));
    ZPS[0] = 0;
    ZPS[1] = -9;
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, Y));
    setup_inputs();
    SCALES[1] = INFINITY;
    ZPS[2] = 8;
    allow(Y, 4 * sizeof(float));
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, Y));
    SCALES[1] = 1.0f;
    allow(Y, 8 * sizeof(float));
    TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        dequantize_int4_groups(PACKED, 6, 12, 4, SCALES, 3, ZPS, 3, Y));
    setup_inputs();
}

/* ---- ggml block formats ---- */

static uint16_t f16_bits_le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void test_blocks(void)
{
    static const size_t bytes[4] = {18, 20, 18, 17};
    quantize_block_format f;
    size_t i;
    setup_inputs();
    for (f = 0; f < 4; f++) {
        size_t bb = bytes[f];
        CHECK(quantize_block_elements(f) == 32);
        CHECK(quantize_block_bytes(f) == bb);
        allow(BLK, 3 * bb);
        TRY(QUANTIZE_OK, quantize_blocks(f, BLOCK_X, 96, BLK, 3 * bb));
        allow(BLK, 3 * bb);
        TRY(QUANTIZE_OK, quantize_blocks(f, BLOCK_X, 96, BLK, SIZE_MAX));
        /* decode what was just encoded (the arena is reset by each call: copy it to IN) */
        memcpy(BLOCK_B, BLK, 3 * bb);
        allow(Y_BLK, 96 * sizeof(float));
        TRY(QUANTIZE_OK, dequantize_blocks(f, BLOCK_B, 3 * bb, Y_BLK, 96));
        TRY(QUANTIZE_OK, quantize_blocks(f, NULL, 0, NULL, 0));
        TRY(QUANTIZE_OK, dequantize_blocks(f, NULL, 0, NULL, 0));

        TRY(QUANTIZE_ERR_NULL_POINTER, quantize_blocks(f, NULL, 32, BLK, bb));
        TRY(QUANTIZE_ERR_NULL_POINTER, quantize_blocks(f, BLOCK_X, 32, NULL, bb));
        TRY(QUANTIZE_ERR_MISALIGNED, quantize_blocks(f, MIS_F_IN, 32, BLK, bb));
        TRY(QUANTIZE_ERR_MISALIGNED, quantize_blocks(f, MIS_F_IN, 0, BLK, bb));
        TRY(QUANTIZE_ERR_LENGTH, quantize_blocks(f, BLOCK_X, 33, BLK, 3 * bb));
        TRY(QUANTIZE_ERR_LENGTH, quantize_blocks(f, BLOCK_X, 31, BLK, 3 * bb));
        TRY(QUANTIZE_ERR_LENGTH, quantize_blocks(f, BLOCK_X, 33, BLK, 0)); /* before too small */
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, quantize_blocks(f, BLOCK_X, 32, BLK, bb - 1));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, quantize_blocks(f, BLOCK_X, 32, NULL, 0));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
            quantize_blocks(f, BLOCK_X, 32, U8(IN, 1024), bb - 1));
        TRY(QUANTIZE_ERR_OVERLAP, quantize_blocks(f, BLOCK_X, 32, U8(IN, 1100), bb));
        /* a NaN in block 1 of 3: block 2 is never written */
        BLOCK_X[40] = NAN;
        allow(BLK, 2 * bb);
        TRY(QUANTIZE_ERR_NON_FINITE, quantize_blocks(f, BLOCK_X, 96, BLK, 3 * bb));
        BLOCK_X[40] = -INFINITY;
        allow(BLK, 2 * bb);
        TRY(QUANTIZE_ERR_NON_FINITE, quantize_blocks(f, BLOCK_X, 96, BLK, 3 * bb));
        setup_inputs();

        TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_blocks(f, NULL, bb, Y_BLK, 32));
        TRY(QUANTIZE_ERR_NULL_POINTER, dequantize_blocks(f, BLOCK_B, bb, NULL, 32));
        TRY(QUANTIZE_ERR_MISALIGNED, dequantize_blocks(f, BLOCK_B, bb, MIS_F_OUT, 32));
        TRY(QUANTIZE_ERR_MISALIGNED, dequantize_blocks(f, BLOCK_B, bb, MIS_F_OUT, 0));
        TRY(QUANTIZE_ERR_LENGTH, dequantize_blocks(f, BLOCK_B, 3 * bb, Y_BLK, 31));
        TRY(QUANTIZE_ERR_LENGTH, dequantize_blocks(f, BLOCK_B, 0, Y_BLK, 33));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, dequantize_blocks(f, BLOCK_B, bb - 1, Y_BLK, 32));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL, dequantize_blocks(f, NULL, 0, Y_BLK, 32));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
            dequantize_blocks(f, BLOCK_B, bb - 1, F(IN, 2048), 32));
        TRY(QUANTIZE_ERR_OVERLAP, dequantize_blocks(f, BLOCK_B, bb, F(IN, 2048), 32));
    }

    /* invalid formats */
    CHECK(quantize_block_elements(7) == 0 && quantize_block_bytes(7) == 0);
    CHECK(quantize_block_elements(0xFFFFFFFFu) == 0 && quantize_block_bytes(0xFFFFFFFFu) == 0);
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_blocks(7, BLOCK_X, 32, BLK, 64));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_blocks(0xFFFFFFFFu, BLOCK_X, 32, BLK, 64));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_blocks(7, NULL, 33, NULL, 0));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_blocks(0, BLOCK_X, HUGE_N_FLOAT, BLK, SIZE_MAX));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, dequantize_blocks(7, BLOCK_B, 64, Y_BLK, 32));
    /* the super-block formats: 256 and 64 values per block */
    CHECK(quantize_block_elements(QUANTIZE_FORMAT_Q4_K) == 256 &&
          quantize_block_bytes(QUANTIZE_FORMAT_Q4_K) == 144);
    CHECK(quantize_block_elements(QUANTIZE_FORMAT_IQ4_XS) == 256 &&
          quantize_block_bytes(QUANTIZE_FORMAT_IQ4_XS) == 136);
    CHECK(quantize_block_elements(QUANTIZE_FORMAT_NVFP4) == 64 &&
          quantize_block_bytes(QUANTIZE_FORMAT_NVFP4) == 36);
    TRY(QUANTIZE_ERR_LENGTH, quantize_blocks(QUANTIZE_FORMAT_Q4_K, BLOCK_X, 32, BLK, 64));
    TRY(QUANTIZE_ERR_LENGTH, quantize_blocks(QUANTIZE_FORMAT_NVFP4, BLOCK_X, 32, BLK, 64));
    /* half-precision siblings: the type is checked first, then the 2-byte alignment */
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_blocks_from(QUANTIZE_FORMAT_Q4_0, 3, BLOCK_X, 32, BLK, 64));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_blocks_from(7, QUANTIZE_FLOAT_F16, NULL, 33, NULL, 0));
    TRY(QUANTIZE_ERR_MISALIGNED,
        quantize_blocks_from(QUANTIZE_FORMAT_Q4_0, QUANTIZE_FLOAT_BF16,
                             (const char *)BLOCK_X + 1, 32, BLK, 64));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        dequantize_blocks_into(QUANTIZE_FORMAT_Q4_0, BLOCK_B, 64, 0xFFFFFFFFu, Y_BLK, 32));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, dequantize_blocks(0x80000000u, BLOCK_B, 64, Y_BLK, 32));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        dequantize_blocks(0, BLOCK_B, SIZE_MAX, Y_BLK, HUGE_N_FLOAT));

    /* a scale the fp16 formats cannot hold (ggml would store inf); MXFP4's e8m0 can hold it */
    BLOCK_X[33] = 1e9f;
    for (f = 0; f < 3; f++) {
        allow(BLK, bytes[f]);
        TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE, quantize_blocks(f, BLOCK_X, 96, BLK, 3 * bytes[f]));
    }
    /* within one block, a non-finite element comes before a scale the format cannot hold */
    BLOCK_X[60] = NAN;
    for (f = 0; f < 4; f++) {
        allow(BLK, bytes[f]);
        TRY(QUANTIZE_ERR_NON_FINITE, quantize_blocks(f, BLOCK_X, 96, BLK, 3 * bytes[f]));
    }
    setup_inputs();

    /* Q4_0 by hand: d = 1.0 (fp16 0x3C00), every byte 0x9A -> low nibble 10 - 8 = 2 for
       elements 0..15, high nibble 9 - 8 = 1 for elements 16..31 */
    BLOCK_B[0] = 0x00;
    BLOCK_B[1] = 0x3C;
    memset(BLOCK_B + 2, 0x9A, 16);
    allow(Y_BLK, 32 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_blocks(QUANTIZE_FORMAT_Q4_0, BLOCK_B, 18, Y_BLK, 32));
    for (i = 0; i < 32; i++) {
        CHECK(Y_BLK[i] == (i < 16 ? 2.0f : 1.0f));
    }
    /* blocks whose scale fields are not finite: NON_FINITE, and later blocks untouched */
    for (f = 0; f < 4; f++) {
        size_t bb = bytes[f];
        memset(BLOCK_B, 0x11, 3 * bb);
        if (f == QUANTIZE_FORMAT_MXFP4) {
            BLOCK_B[bb] = 0xFF; /* e8m0 NaN in block 1 */
        } else {
            BLOCK_B[bb] = 0x00; /* fp16 +inf in block 1 */
            BLOCK_B[bb + 1] = 0x7C;
            CHECK(f16_bits_le(BLOCK_B + bb) == 0x7C00);
        }
        allow(Y_BLK, 32 * sizeof(float));
        TRY(QUANTIZE_ERR_NON_FINITE, dequantize_blocks(f, BLOCK_B, 3 * bb, Y_BLK, 96));
        if (f != QUANTIZE_FORMAT_MXFP4) {
            BLOCK_B[bb + 1] = 0x7E; /* fp16 NaN */
            allow(Y_BLK, 32 * sizeof(float));
            TRY(QUANTIZE_ERR_NON_FINITE, dequantize_blocks(f, BLOCK_B, 3 * bb, Y_BLK, 96));
        }
    }
    /* Q4_1's minimum field (bytes 2..3) non-finite */
    memset(BLOCK_B, 0x11, 20);
    BLOCK_B[2] = 0x00;
    BLOCK_B[3] = 0xFC; /* fp16 -inf */
    TRY(QUANTIZE_ERR_NON_FINITE, dequantize_blocks(QUANTIZE_FORMAT_Q4_1, BLOCK_B, 20, Y_BLK, 32));
    setup_inputs();
}

/* ---- NF4 / FP4 codebooks ---- */

#define CB_CODES U8(IN, 2048)   /* packed codes in (48 bytes) */
#define CB_ABSMAX F(IN, 2304)   /* 3 absmax in */
#define CB_ABSMAX_OUT F(OUT, 2816) /* 3 absmax out */

static void test_codebooks(void)
{
    quantize_codebook c;
    size_t i;
    setup_inputs();
    for (c = 0; c < 2; c++) {
        /* 96 floats, blocks of 32: 48 code bytes, 3 absmax */
        allow(BLK, 48);
        allow(CB_ABSMAX_OUT, 3 * sizeof(float));
        TRY(QUANTIZE_OK, quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 48, CB_ABSMAX_OUT, 3));
        /* odd n, partial last block: 25 bytes and 2 absmax, nothing past them */
        allow(BLK, 25);
        allow(CB_ABSMAX_OUT, 2 * sizeof(float));
        TRY(QUANTIZE_OK,
            quantize_codebook_blocks(c, BLOCK_X, 49, 32, BLK, SIZE_MAX, CB_ABSMAX_OUT, 3));
        TRY(QUANTIZE_OK, quantize_codebook_blocks(c, NULL, 0, 64, NULL, 0, NULL, 0));
        TRY(QUANTIZE_OK, dequantize_codebook_blocks(c, NULL, 0, 0, 64, NULL, 0, NULL));

        /* parameters first: bad block sizes, even with NULL buffers */
        TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
            quantize_codebook_blocks(c, NULL, 96, 0, NULL, 0, NULL, 0));
        TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
            quantize_codebook_blocks(c, BLOCK_X, 96, 48, BLK, 48, CB_ABSMAX_OUT, 3));
        TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
            quantize_codebook_blocks(c, BLOCK_X, 96, 8192, BLK, 48, CB_ABSMAX_OUT, 3));
        TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
            dequantize_codebook_blocks(c, CB_CODES, 48, 96, 16, CB_ABSMAX, 3, Y_BLK));
        TRY(QUANTIZE_ERR_NULL_POINTER,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, NULL, 48, CB_ABSMAX_OUT, 3));
        TRY(QUANTIZE_ERR_NULL_POINTER,
            dequantize_codebook_blocks(c, CB_CODES, 48, 96, 32, NULL, 3, Y_BLK));
        TRY(QUANTIZE_ERR_MISALIGNED,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 48, MIS_F_OUT, 3));
        TRY(QUANTIZE_ERR_MISALIGNED,
            dequantize_codebook_blocks(c, CB_CODES, 48, 0, 32, CB_ABSMAX, 3, MIS_F_OUT));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 47, CB_ABSMAX_OUT, 3));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 48, CB_ABSMAX_OUT, 2));
        TRY(QUANTIZE_ERR_BUFFER_TOO_SMALL,
            dequantize_codebook_blocks(c, CB_CODES, 47, 96, 32, CB_ABSMAX, 3, Y_BLK));
        TRY(QUANTIZE_ERR_OVERLAP,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 48, (float *)(void *)BLK, 3));
        TRY(QUANTIZE_ERR_OVERLAP,
            dequantize_codebook_blocks(c, CB_CODES, 48, 96, 32, CB_ABSMAX, 3,
                                       (float *)(void *)CB_CODES));
        /* bad data in block 1: block 0 written, blocks 1 and 2 not */
        BLOCK_X[40] = NAN;
        allow(BLK, 16);
        allow(CB_ABSMAX_OUT, sizeof(float));
        TRY(QUANTIZE_ERR_NON_FINITE,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 48, CB_ABSMAX_OUT, 3));
        BLOCK_X[40] = 1e38f;
        allow(BLK, 16);
        allow(CB_ABSMAX_OUT, sizeof(float));
        TRY(QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
            quantize_codebook_blocks(c, BLOCK_X, 96, 32, BLK, 48, CB_ABSMAX_OUT, 3));
        setup_inputs();
        memset(CB_CODES, 0x7F, 48);
        CB_ABSMAX[0] = 2.0f;
        CB_ABSMAX[1] = INFINITY;
        CB_ABSMAX[2] = 1.0f;
        allow(Y_BLK, 32 * sizeof(float));
        TRY(QUANTIZE_ERR_NON_FINITE,
            dequantize_codebook_blocks(c, CB_CODES, 48, 96, 32, CB_ABSMAX, 3, Y_BLK));
        CB_ABSMAX[1] = -3.0f;
        allow(Y_BLK, 96 * sizeof(float));
        TRY(QUANTIZE_OK, dequantize_codebook_blocks(c, CB_CODES, 48, 96, 32, CB_ABSMAX, 3, Y_BLK));
        setup_inputs();
    }
    /* NF4 by hand: byte 0x7F = first element code 7 (0.0), second code 15 (1.0) */
    memset(CB_CODES, 0x7F, 16);
    CB_ABSMAX[0] = 2.0f;
    allow(Y_BLK, 32 * sizeof(float));
    TRY(QUANTIZE_OK, dequantize_codebook_blocks(QUANTIZE_CODEBOOK_NF4, CB_CODES, 16, 32, 32,
                                                CB_ABSMAX, 1, Y_BLK));
    for (i = 0; i < 32; i++) {
        CHECK(Y_BLK[i] == (i % 2 == 0 ? 0.0f : 2.0f));
    }
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        quantize_codebook_blocks(2, BLOCK_X, 96, 32, BLK, 48, CB_ABSMAX_OUT, 3));
    TRY(QUANTIZE_ERR_INVALID_ARGUMENT,
        dequantize_codebook_blocks(0xFFFFFFFFu, CB_CODES, 48, 96, 32, CB_ABSMAX, 3, Y_BLK));
    setup_inputs();
}

/* ---- quantize_measure_error ---- */

static void test_measure_error(void)
{
    quantize_error_stats s;
    setup_inputs();
    /* inputs may alias: a perfect reconstruction */
    allow(STATS, sizeof(quantize_error_stats));
    TRY(QUANTIZE_OK, quantize_measure_error(XS, XS, 8, STATS));
    memcpy(&s, STATS, sizeof s);
    CHECK(s.mean_abs_error == 0.0 && s.max_abs_error == 0.0 && s.mean_squared_error == 0.0);
    CHECK(s.rmse == 0.0 && s.max_abs_index == 0);
    CHECK(isinf(s.sqnr_db) && s.sqnr_db > 0.0);
    /* x all zero, y not: -inf dB; the first index of the largest error */
    allow(STATS, sizeof(quantize_error_stats));
    TRY(QUANTIZE_OK, quantize_measure_error(F(IN, 400), XS + 8, 8, STATS));
    memcpy(&s, STATS, sizeof s);
    CHECK(isinf(s.sqnr_db) && s.sqnr_db < 0.0);
    CHECK(s.max_abs_error == 7.5 && s.max_abs_index == 3);
    CHECK(s.mean_abs_error == (2.0 + 0.25 + 1.0 + 7.5 + 0.0 + 6.0 + 0.75 + 3.0) / 8.0);
    /* both all zero: exact */
    allow(STATS, sizeof(quantize_error_stats));
    TRY(QUANTIZE_OK, quantize_measure_error(F(IN, 400), F(IN, 440), 8, STATS));
    memcpy(&s, STATS, sizeof s);
    CHECK(isinf(s.sqnr_db) && s.sqnr_db > 0.0 && s.max_abs_error == 0.0);
    /* differences are taken in double: +-FLT_MAX do not overflow */
    XS[0] = FLT_MAX;
    XS[8] = -FLT_MAX;
    allow(STATS, sizeof(quantize_error_stats));
    TRY(QUANTIZE_OK, quantize_measure_error(XS, XS + 8, 1, STATS));
    memcpy(&s, STATS, sizeof s);
    CHECK(s.max_abs_error == 2.0 * (double)FLT_MAX && isfinite(s.mean_squared_error));
    setup_inputs();

    TRY(QUANTIZE_ERR_INVALID_ARGUMENT, quantize_measure_error(XS, XS, HUGE_N_FLOAT, STATS));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_measure_error(NULL, XS, 8, STATS));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_measure_error(XS, NULL, 8, STATS));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_measure_error(XS, XS, 8, NULL));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_measure_error(XS, XS, 0, NULL));
    TRY(QUANTIZE_ERR_NULL_POINTER, quantize_measure_error(MIS_F_IN, XS, 8, NULL));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_measure_error(XS, XS, 8, MIS_STATS));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_measure_error(XS, XS, 0, MIS_STATS));
    TRY(QUANTIZE_ERR_MISALIGNED, quantize_measure_error(XS, MIS_F_IN, 8, STATS));
    TRY(QUANTIZE_ERR_OVERLAP,
        quantize_measure_error(XS, XS, 8, (quantize_error_stats *)(void *)(IN + 16)));
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_measure_error(XS, XS, 0, STATS));
    TRY(QUANTIZE_ERR_EMPTY_INPUT, quantize_measure_error(NULL, NULL, 0, STATS));
    XS[8 + 6] = NAN;
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_measure_error(XS, XS + 8, 8, STATS));
    XS[8 + 6] = 0.0f;
    XS[2] = -INFINITY;
    TRY(QUANTIZE_ERR_NON_FINITE, quantize_measure_error(XS, XS + 8, 8, STATS));
    setup_inputs();
}

/* ---- metadata: messages, version, kernel, sizes, ABI types ---- */

static void test_metadata(void)
{
    static const quantize_status known[] = {
        QUANTIZE_OK,
        QUANTIZE_ERR_NULL_POINTER,
        QUANTIZE_ERR_INVALID_ARGUMENT,
        QUANTIZE_ERR_EMPTY_INPUT,
        QUANTIZE_ERR_NON_FINITE,
        QUANTIZE_ERR_BUFFER_TOO_SMALL,
        QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        QUANTIZE_ERR_LENGTH,
        QUANTIZE_ERR_MISALIGNED,
        QUANTIZE_ERR_OVERLAP,
        QUANTIZE_ERR_INTERNAL,
    };
    static const int32_t unknown[] = {-1, 10, 11, 98, 100, 12345, INT32_MIN, INT32_MAX};
    static const size_t lens[] = {0, 1, 2, 3, 4, 5, 100, 101, SIZE_MAX - 1, SIZE_MAX};
    static const uint8_t packed_static[QUANTIZE_PACKED_LEN(9)] = {0};
    char buf[64];
    size_t i, j;
    const char *v, *k;

    /* the numeric values are part of the ABI */
    CHECK(QUANTIZE_OK == 0 && QUANTIZE_ERR_NULL_POINTER == 1 && QUANTIZE_ERR_INVALID_ARGUMENT == 2);
    CHECK(QUANTIZE_ERR_EMPTY_INPUT == 3 && QUANTIZE_ERR_NON_FINITE == 4);
    CHECK(QUANTIZE_ERR_BUFFER_TOO_SMALL == 5 && QUANTIZE_ERR_VALUE_OUT_OF_RANGE == 6);
    CHECK(QUANTIZE_ERR_LENGTH == 7 && QUANTIZE_ERR_MISALIGNED == 8 && QUANTIZE_ERR_OVERLAP == 9);
    CHECK(QUANTIZE_ERR_INTERNAL == 99);
    CHECK(QUANTIZE_SCALE_MINMAX == 0 && QUANTIZE_SCALE_ABSMAX == 1);
    CHECK(QUANTIZE_FORMAT_Q4_0 == 0 && QUANTIZE_FORMAT_Q4_1 == 1);
    CHECK(QUANTIZE_FORMAT_IQ4_NL == 2 && QUANTIZE_FORMAT_MXFP4 == 3);
    CHECK(QUANTIZE_CODEBOOK_NF4 == 0 && QUANTIZE_CODEBOOK_FP4 == 1);
    CHECK(sizeof(quantize_status) == 4 && (quantize_status)-1 < 0);
    CHECK(sizeof(quantize_scale_method) == 4 && (quantize_scale_method)-1 > 0);
    CHECK(sizeof(quantize_block_format) == 4 && (quantize_block_format)-1 > 0);
    CHECK(sizeof(quantize_codebook) == 4 && (quantize_codebook)-1 > 0);
    CHECK(offsetof(quantize_error_stats, mean_abs_error) == 0);
    CHECK(offsetof(quantize_error_stats, max_abs_error) == 8);
    CHECK(offsetof(quantize_error_stats, mean_squared_error) == 16);
    CHECK(offsetof(quantize_error_stats, rmse) == 24);
    CHECK(offsetof(quantize_error_stats, sqnr_db) == 32);
    CHECK(offsetof(quantize_error_stats, max_abs_index) == 40);

    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *m = quantize_status_message(known[i]);
        CHECK(m != NULL && m[0] != '\0');
        if (m != NULL) {
            printf("status %d %s: %s\n", (int)known[i], status_name(known[i]), m);
            for (j = 0; j < i; j++) {
                const char *other = quantize_status_message(known[j]);
                if (other != NULL && strcmp(m, other) == 0) {
                    FAIL("statuses %d and %d have the same message", (int)known[i],
                         (int)known[j]);
                }
            }
        }
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *m = quantize_status_message(unknown[i]);
        CHECK(m != NULL && m[0] != '\0');
        if (m != NULL && i == 0) {
            printf("status unknown: %s\n", m);
        }
    }

    v = quantize_version();
    CHECK(v != NULL);
    sprintf(buf, "%d.%d.%d", (int)QUANTIZE_VERSION_MAJOR, (int)QUANTIZE_VERSION_MINOR,
            (int)QUANTIZE_VERSION_PATCH);
    CHECK(v != NULL && strcmp(v, buf) == 0);
    CHECK(QUANTIZE_VERSION_NUMBER ==
          QUANTIZE_VERSION_MAJOR * 10000 + QUANTIZE_VERSION_MINOR * 100 + QUANTIZE_VERSION_PATCH);
    CHECK(quantize_version_number() == (uint32_t)QUANTIZE_VERSION_NUMBER);
    printf("version: %s\n", v != NULL ? v : "(null)");
    printf("version_number: %lu\n", (unsigned long)quantize_version_number());
    printf("version_macros: %s %lu\n", buf, (unsigned long)QUANTIZE_VERSION_NUMBER);

    k = quantize_kernel_name();
    CHECK(k != NULL);
    if (k != NULL) {
        CHECK(strcmp(k, "scalar") == 0 || strcmp(k, "avx2") == 0 || strcmp(k, "avx512") == 0 ||
              strcmp(k, "neon") == 0);
        CHECK(strcmp(k, quantize_kernel_name()) == 0);
        printf("kernel: %s\n", k);
    }

    /* size helpers: function and macro agree, overflow-safe at SIZE_MAX */
    CHECK(sizeof packed_static == 5);
    for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        size_t want = n / 2 + n % 2;
        if (quantize_packed_len(n) != want || (size_t)QUANTIZE_PACKED_LEN(n) != want) {
            FAIL("packed length of %lu: quantize_packed_len %lu, QUANTIZE_PACKED_LEN %lu, "
                 "expected %lu",
                 (unsigned long)n, (unsigned long)quantize_packed_len(n),
                 (unsigned long)QUANTIZE_PACKED_LEN(n), (unsigned long)want);
        }
        checks++;
    }
    CHECK(quantize_group_count(0, 4) == 0);
    CHECK(quantize_group_count(5, 0) == 0);
    CHECK(quantize_group_count(0, 0) == 0);
    CHECK(quantize_group_count(8, 4) == 2);
    CHECK(quantize_group_count(9, 4) == 3);
    CHECK(quantize_group_count(1, SIZE_MAX) == 1);
    CHECK(quantize_group_count(SIZE_MAX, SIZE_MAX) == 1);
    CHECK(quantize_group_count(SIZE_MAX, 1) == SIZE_MAX);
    CHECK(quantize_group_count(SIZE_MAX, 2) == SIZE_MAX / 2 + 1);
#ifdef QUANTIZE_GROUP_COUNT
    CHECK(QUANTIZE_GROUP_COUNT((size_t)0, (size_t)4) == 0);
    CHECK(QUANTIZE_GROUP_COUNT((size_t)5, (size_t)0) == 0);
    CHECK(QUANTIZE_GROUP_COUNT((size_t)9, (size_t)4) == 3);
    CHECK(QUANTIZE_GROUP_COUNT(SIZE_MAX, (size_t)1) == SIZE_MAX);
    CHECK(QUANTIZE_GROUP_COUNT(SIZE_MAX, (size_t)2) == SIZE_MAX / 2 + 1);
    CHECK(QUANTIZE_GROUP_COUNT((size_t)1, SIZE_MAX) == 1);
    for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            CHECK((size_t)QUANTIZE_GROUP_COUNT(lens[i], lens[j]) ==
                  quantize_group_count(lens[i], lens[j]));
        }
    }
#endif
}

int main(void)
{
    static const quantize_status every[] = {
        QUANTIZE_OK,
        QUANTIZE_ERR_NULL_POINTER,
        QUANTIZE_ERR_INVALID_ARGUMENT,
        QUANTIZE_ERR_EMPTY_INPUT,
        QUANTIZE_ERR_NON_FINITE,
        QUANTIZE_ERR_BUFFER_TOO_SMALL,
        QUANTIZE_ERR_VALUE_OUT_OF_RANGE,
        QUANTIZE_ERR_LENGTH,
        QUANTIZE_ERR_MISALIGNED,
        QUANTIZE_ERR_OVERLAP,
    };
    size_t i;

    /* the misaligned pointers really are misaligned, the aligned ones aligned */
    assert((uintptr_t)MIS_F_IN % 2 == 1 && (uintptr_t)MIS_F_OUT % 2 == 1);
    assert((uintptr_t)MIS_STATS % 2 == 1 && (uintptr_t)STATS % 8 == 0);
    assert((uintptr_t)XS % 8 == 0 && (uintptr_t)Y % 8 == 0);

    test_metadata();
    test_quantize_to_int4();
    test_quantize_to_int4_packed();
    test_dequantize_from_int4();
    test_dequantize_from_int4_packed();
    test_pack_unpack();
    test_groups();
    test_blocks();
    printf("blocks: tested\n");
    test_codebooks();
    printf("codebooks: tested\n");
    test_measure_error();

    /* every status code except INTERNAL (a caught panic) was provoked at least once */
    for (i = 0; i < sizeof every / sizeof every[0]; i++) {
        if (!seen[every[i]]) {
            FAIL("status %d (%s) was never returned", (int)every[i], status_name(every[i]));
        }
    }

    printf("errors: %lu checks, %lu failures\n", checks, failures);
    if (failures != 0) {
        fprintf(stderr, "errors: %lu of %lu checks FAILED\n", failures, checks);
        return EXIT_FAILURE;
    }
    assert(failures == 0);
    return EXIT_SUCCESS;
}
