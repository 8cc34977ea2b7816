// Helpers shared by the kernel tests: seeded random buffers, sentinel-filled outputs and a
// whole-buffer comparison with an error model.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace radgal::test {

inline std::vector<float> random_floats(size_t count, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (auto& e : v) e = dist(rng);
  return v;
}

// Small integers: sums and products of a few hundred of them are exact in float.
inline std::vector<float> random_integers(size_t count, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<float> v(count);
  for (auto& e : v) e = static_cast<float>(dist(rng));
  return v;
}

// Outputs start as NaN so that any element a kernel forgets to write fails the comparison.
inline std::vector<float> sentinel(size_t count) {
  return std::vector<float>(count, std::numeric_limits<float>::quiet_NaN());
}

inline double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

inline double abs_dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(static_cast<double>(a[i]) * b[i]);
  return s;
}

// Checks |got[i] - ref[i]| <= atol + rtol * scale[i] for every i, where scale[i] is the sum of
// the absolute values of the terms that made ref[i]: float rounding error grows with it, not
// with |ref[i]| (which may be near zero after cancellation). An empty scale means |ref[i]|.
// On failure reports the first few mismatches and the worst error.
inline void check_close(const std::vector<float>& got, const std::vector<double>& ref,
                        const std::vector<double>& scale, double rtol, double atol,
                        const std::string& what) {
  REQUIRE_MESSAGE(got.size() == ref.size(),
                  what << ": size " << got.size() << " vs " << ref.size());
  size_t bad = 0;
  double worst = 0.0;
  size_t worst_index = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double s = scale.empty() ? std::fabs(ref[i]) : scale[i];
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const bool ok = err <= atol + rtol * s;  // false for NaN
    if (!ok || std::isnan(err)) {
      if (bad < 5) first << "\n  [" << i << "] got " << got[i] << ", expected " << ref[i];
      ++bad;
    }
    if (!(err <= worst)) {
      worst = err;
      worst_index = i;
    }
  }
  INFO(what << ": " << bad << " of " << got.size() << " elements out of tolerance (atol " << atol
            << ", rtol " << rtol << "); worst error " << worst << " at [" << worst_index << "]"
            << first.str());
  CHECK(bad == 0);
}

inline void check_close(const std::vector<float>& got, const std::vector<double>& ref, double rtol,
                        double atol, const std::string& what) {
  check_close(got, ref, {}, rtol, atol, what);
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t ua, ub;
    static_assert(sizeof(float) == sizeof(uint32_t));
    std::memcpy(&ua, &a[i], sizeof ua);
    std::memcpy(&ub, &b[i], sizeof ub);
    if (ua != ub) return false;
  }
  return true;
}

}  // namespace radgal::test
