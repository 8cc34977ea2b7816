// Small helpers for the tensor tests: whole-tensor comparison with a max-error report.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace radgal::test {

// Checks shape and every value of `t` against `expected` within atol + rtol * |expected|, and
// reports the worst element on failure.
inline void check_values(const Tensor& t, const std::vector<float>& expected, float atol = 1e-5f,
                         float rtol = 1e-5f) {
  const std::vector<float> got = t.to_vector();
  REQUIRE(got.size() == expected.size());
  size_t worst = 0;
  double worst_excess = 0;
  bool ok = true;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - expected[i]);
    const double budget = atol + rtol * std::fabs(expected[i]);
    const bool same_nan = std::isnan(got[i]) && std::isnan(expected[i]);
    if (!same_nan && !(err <= budget)) {
      ok = false;
      if (err - budget > worst_excess || std::isnan(err)) {
        worst_excess = err - budget;
        worst = i;
      }
    }
  }
  INFO("worst element " << worst << ": got " << got[worst] << ", expected " << expected[worst]);
  CHECK(ok);
}

inline void check_shape(const Tensor& t, const Shape& s) {
  INFO("shape " << shape_to_string(t.shape()) << ", expected " << shape_to_string(s));
  CHECK(t.shape() == s);
}

}  // namespace radgal::test
