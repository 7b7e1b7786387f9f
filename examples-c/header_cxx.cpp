// header_cxx.cpp - quantize.h from C++17: the header's extern "C" guards, types and macros work
// in C++, and a program calling the library links and runs. Built and run by tests/abi_header_c.rs
// with -std=c++17 -Wall -Wextra -Wpedantic -Werror, against the static and the shared library.

#include "quantize.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

static_assert(sizeof(quantize_status) == 4 && std::is_signed<quantize_status>::value,
              "quantize_status is int32_t");
static_assert(sizeof(quantize_scale_method) == 4 && std::is_unsigned<quantize_scale_method>::value,
              "quantize_scale_method is uint32_t");
#ifdef QUANTIZE_FORMAT_Q4_0
static_assert(sizeof(quantize_block_format) == 4 && std::is_unsigned<quantize_block_format>::value,
              "quantize_block_format is uint32_t");
#endif
static_assert(std::is_standard_layout<quantize_error_stats>::value &&
                  std::is_trivially_copyable<quantize_error_stats>::value,
              "quantize_error_stats is a plain C struct");
static_assert(QUANTIZE_PACKED_LEN(9) == 5, "QUANTIZE_PACKED_LEN is a constant expression");

namespace {

bool ok(quantize_status status, const char *what)
{
    if (status != QUANTIZE_OK) {
        std::fprintf(stderr, "header_cxx: %s: %s (status %d)\n", what,
                     quantize_status_message(status), static_cast<int>(status));
        return false;
    }
    return true;
}

}  // namespace

int main()
{
    const std::vector<float> x{0.1f, 0.5f, -1.3f, 2.7f, 3.9f, -0.8f, 5.2f, -4.7f};
    std::vector<std::uint8_t> packed(quantize_packed_len(x.size()));
    std::vector<float> y(x.size());
    float scale = 0.0f;
    std::int8_t zero_point = 0;
    quantize_error_stats stats{};

    if (!ok(quantize_to_int4_packed(x.data(), x.size(), QUANTIZE_SCALE_MINMAX, packed.data(),
                                    packed.size(), &scale, &zero_point),
            "quantize_to_int4_packed") ||
        !ok(dequantize_from_int4_packed(packed.data(), packed.size(), x.size(), scale, zero_point,
                                        y.data()),
            "dequantize_from_int4_packed") ||
        !ok(quantize_measure_error(x.data(), y.data(), x.size(), &stats),
            "quantize_measure_error")) {
        return 1;
    }

    // the seed example's codes, worked out by hand in tests/abi_c_programs.rs
    const std::uint8_t want[4] = {0x0f, 0x3d, 0xe5, 0x87};
    if (packed.size() != 4 || std::memcmp(packed.data(), want, 4) != 0 || zero_point != -1) {
        std::fprintf(stderr, "header_cxx: unexpected packed codes or zero point %d\n",
                     static_cast<int>(zero_point));
        return 1;
    }
    if (!(stats.max_abs_error <= scale / 2.0 * (1.0 + 1e-6)) || !std::isfinite(stats.sqnr_db)) {
        std::fprintf(stderr, "header_cxx: max error %.9g exceeds scale / 2 = %.9g\n",
                     stats.max_abs_error, scale / 2.0);
        return 1;
    }
    if (quantize_status_message(12345) == nullptr || quantize_version() == nullptr ||
        quantize_kernel_name() == nullptr) {
        std::fprintf(stderr, "header_cxx: a metadata function returned NULL\n");
        return 1;
    }

    std::printf("header_cxx: version %s (%u), kernel %s, scale %.9g, max error %.9g\n",
                quantize_version(), static_cast<unsigned>(quantize_version_number()),
                quantize_kernel_name(), static_cast<double>(scale), stats.max_abs_error);
    std::printf("header_cxx: ok\n");
    return 0;
}
