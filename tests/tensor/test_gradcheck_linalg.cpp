// Gradient checks of matmul and linear over awkward sizes (1, primes, batch 1 and > 1).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gradcheck.h"

using namespace radgal;
using namespace radgal::testing;

TEST_SUITE_BEGIN("grad");

TEST_CASE("gradcheck: matmul") {
  // Linear in each single element: exact differences. Outputs are sums of up to 7 products of
  // numbers in [-1, 1], so rounding stays near 1e-6.
  Generator gen(31);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{1, 1}, {1, 1}},       {{3, 5}, {5, 2}},       {{7, 1}, {1, 3}},      {{1, 7}, {7, 1}},
      {{2, 3, 4}, {2, 4, 5}}, {{1, 2, 3}, {1, 3, 1}}, {{3, 1, 7}, {3, 7, 2}}};
  for (const auto& [sa, sb] : cases) {
    check_gradients_match(
        "matmul " + shape_to_string(sa) + " x " + shape_to_string(sb),
        [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
        {uniform_tensor(sa, gen), uniform_tensor(sb, gen)}, linear_options());
  }
}

TEST_CASE("gradcheck: matmul of transposed views") {
  // A transposed operand is not contiguous: the backward must honour its strides.
  Generator gen(32);
  check_gradients_match(
      "matmul a^T b^T",
      [](const std::vector<Tensor>& in) {
        return matmul(in[0].transpose(0, 1), in[1].transpose(0, 1));
      },
      {uniform_tensor({5, 3}, gen), uniform_tensor({2, 5}, gen)}, linear_options());
}

TEST_CASE("gradcheck: linear") {
  Generator gen(33);
  struct Case {
    int64_t n, in, out;
    bool bias;
  };
  for (const Case& c : std::vector<Case>{{1, 1, 1, true},
                                         {1, 7, 3, true},
                                         {5, 7, 3, true},
                                         {5, 7, 3, false},
                                         {2, 1, 5, true},
                                         {3, 11, 2, false}}) {
    const std::string name = "linear n " + std::to_string(c.n) + " in " + std::to_string(c.in) +
                             " out " + std::to_string(c.out) + (c.bias ? " bias" : "");
    std::vector<Tensor> values = {uniform_tensor({c.n, c.in}, gen),
                                  uniform_tensor({c.out, c.in}, gen)};
    if (c.bias) values.push_back(uniform_tensor({c.out}, gen));
    const bool bias = c.bias;
    check_gradients_match(
        name,
        [bias](const std::vector<Tensor>& in) {
          return linear(in[0], in[1], bias ? in[2] : Tensor());
        },
        values, linear_options());
  }
}

TEST_SUITE_END();
