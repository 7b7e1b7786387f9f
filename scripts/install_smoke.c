/* Smoke test of an installed libquantize (scripts/test_install.sh builds it through pkg-config,
 * shared and static): the header's version macros agree with the library, and the seed's
 * round trip works and honours the error bound of docs/contract.md §2. Prints one line; exit
 * status 0 on success. */
#undef NDEBUG
#include <quantize.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                         \
        }                                                                     \
    } while (0)

int main(void) {
    enum { N = 9 };
    const float values[N] = {0.1f, 0.5f, -1.3f, 2.7f, 3.9f, -0.8f, 5.2f, -4.7f, 0.0f};
    int8_t q[N], unpacked[N];
    uint8_t packed[QUANTIZE_PACKED_LEN(N)];
    float restored[N], scale = 0.0f;
    int8_t zero_point = 0;
    quantize_error_stats stats;
    char version[32];
    size_t i;

    /* the header this program was compiled with matches the library it runs with */
    CHECK(quantize_version_number() == QUANTIZE_VERSION_NUMBER);
    snprintf(version, sizeof version, "%d.%d.%d", QUANTIZE_VERSION_MAJOR, QUANTIZE_VERSION_MINOR,
             QUANTIZE_VERSION_PATCH);
    CHECK(strcmp(quantize_version(), version) == 0);
    CHECK(sizeof packed == 5 && quantize_packed_len(N) == 5);

    CHECK(quantize_to_int4(values, N, QUANTIZE_SCALE_MINMAX, q, &scale, &zero_point) ==
          QUANTIZE_OK);
    CHECK(scale > 0.0f && zero_point >= -8 && zero_point <= 7);
    CHECK(pack_int4_to_int8(q, N, packed, sizeof packed) == QUANTIZE_OK);
    CHECK(unpack_int8_to_int4(packed, sizeof packed, unpacked, N) == QUANTIZE_OK);
    CHECK(memcmp(q, unpacked, N) == 0);
    CHECK(dequantize_from_int4(q, N, scale, zero_point, restored) == QUANTIZE_OK);
    CHECK(restored[N - 1] == 0.0f); /* 0 is exact */
    CHECK(quantize_measure_error(values, restored, N, &stats) == QUANTIZE_OK);
    CHECK(stats.max_abs_error <= scale / 2 * 1.0001);
    for (i = 0; i < N; i++) {
        CHECK(fabsf(values[i] - restored[i]) <= scale / 2 * 1.0001f);
    }

    /* errors are status codes with a message, and outputs stay untouched */
    {
        const float bad[3] = {1.0f, NAN, 2.0f};
        float s = -1.0f;
        int8_t z = 42;
        quantize_status st = quantize_to_int4(bad, 3, QUANTIZE_SCALE_ABSMAX, q, &s, &z);
        CHECK(st == QUANTIZE_ERR_NON_FINITE);
        CHECK(s == -1.0f && z == 42);
        CHECK(quantize_status_message(st) != NULL && quantize_status_message(st)[0] != '\0');
        CHECK(quantize_to_int4(values, N, 7, q, &s, &z) == QUANTIZE_ERR_INVALID_ARGUMENT);
    }

    printf("libquantize %s (%s kernel): %d values, scale %g, zero point %d, max error %g\n",
           quantize_version(), quantize_kernel_name(), N, (double)scale, zero_point,
           stats.max_abs_error);
    return 0;
}
