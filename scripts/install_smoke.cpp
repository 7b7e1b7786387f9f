// C++17 smoke test of an installed libquantize: the header compiles as C++ (extern "C"
// guards), links through pkg-config, and the group-wise API round-trips within half a scale.
#include <quantize.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

static_assert(std::is_same_v<quantize_status, std::int32_t>);
static_assert(std::is_same_v<quantize_scale_method, std::uint32_t>);
static_assert(QUANTIZE_OK == 0 && QUANTIZE_ERR_INTERNAL == 99);

namespace {

bool check(bool ok, const char *what) {
    if (!ok) std::fprintf(stderr, "install_smoke.cpp: check failed: %s\n", what);
    return ok;
}

}  // namespace

int main() {
    constexpr std::size_t n = 100, group = 32;
    std::vector<float> values(n);
    for (std::size_t i = 0; i < n; i++) values[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;

    const std::size_t groups = quantize_group_count(n, group);
    std::vector<std::uint8_t> codes(quantize_packed_len(n));
    std::vector<float> scales(groups), restored(n);
    std::vector<std::int8_t> zero_points(groups);
    quantize_status st = quantize_int4_groups(values.data(), n, group, QUANTIZE_SCALE_MINMAX,
                                              codes.data(), codes.size(), scales.data(),
                                              scales.size(), zero_points.data(),
                                              zero_points.size());
    if (!check(st == QUANTIZE_OK, quantize_status_message(st))) return 1;
    st = dequantize_int4_groups(codes.data(), codes.size(), n, group, scales.data(),
                                scales.size(), zero_points.data(), zero_points.size(),
                                restored.data());
    if (!check(st == QUANTIZE_OK, quantize_status_message(st))) return 1;
    for (std::size_t i = 0; i < n; i++) {
        if (!check(std::fabs(values[i] - restored[i]) <= scales[i / group] / 2 * 1.0001f,
                   "group round trip within half a scale"))
            return 1;
    }
    quantize_error_stats stats{};
    st = quantize_measure_error(values.data(), restored.data(), n, &stats);
    if (!check(st == QUANTIZE_OK && stats.sqnr_db > 20.0, "error statistics")) return 1;
    if (!check(std::string(quantize_version()) ==
                   std::to_string(QUANTIZE_VERSION_MAJOR) + "." +
                       std::to_string(QUANTIZE_VERSION_MINOR) + "." +
                       std::to_string(QUANTIZE_VERSION_PATCH),
               "version"))
        return 1;
    std::printf("libquantize %s from C++17: %zu groups, SQNR %.1f dB\n", quantize_version(),
                groups, stats.sqnr_db);
    return 0;
}
