/* error_handling.c - checking a libquantize status: every fallible function returns a
 * quantize_status, QUANTIZE_OK (0) or a QUANTIZE_ERR_* code; quantize_status_message names it.
 * On an argument error nothing is written. (tests/c/errors.c provokes every status.) */
#include <stdio.h>

#include "quantize.h"

int main(void)
{
    const float x[3] = {0.5f, -1.0f, 2.0f};
    int8_t codes[3];
    float scale = 0.0f;
    int8_t zero_point = 0;

    /* The scale out-pointer is missing: the call fails before reading or writing anything. */
    quantize_status s = quantize_to_int4(x, 3, QUANTIZE_SCALE_MINMAX, codes, NULL, &zero_point);
    if (s != QUANTIZE_OK)
        printf("quantize_to_int4: %s (%d)\n", quantize_status_message(s), (int)s);

    s = quantize_to_int4(x, 3, QUANTIZE_SCALE_MINMAX, codes, &scale, &zero_point);
    if (s != QUANTIZE_OK) {
        fprintf(stderr, "quantize_to_int4: %s\n", quantize_status_message(s));
        return 1;
    }
    printf("quantize_to_int4: %s, scale %g, zero point %d\n", quantize_status_message(s),
           (double)scale, zero_point);
    return 0;
}
