// Gradient checks of the reductions: single, multiple and negative axes, with and without
// keepdim, and the all-axes form.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gradcheck.h"

using namespace radgal;
using namespace radgal::testing;

namespace {

struct AxesCase {
  Shape shape;
  std::vector<int64_t> axes;
};

const std::vector<AxesCase> kAxesCases = {{{7}, {}},
                                          {{7}, {0}},
                                          {{2, 3, 5}, {}},
                                          {{2, 3, 5}, {0}},
                                          {{2, 3, 5}, {1}},
                                          {{2, 3, 5}, {-1}},
                                          {{2, 3, 5}, {0, 2}},
                                          {{2, 3, 5}, {-1, -3}},
                                          {{2, 3, 5}, {0, 1, 2}},
                                          {{3, 1, 5}, {1}},
                                          {{1, 4, 1, 3}, {1, -1}},
                                          {{1}, {0}}};

std::string axes_name(const std::string& op, const AxesCase& c, bool keepdim) {
  std::string axes = "{";
  for (size_t i = 0; i < c.axes.size(); ++i) {
    axes += (i ? ", " : "") + std::to_string(c.axes[i]);
  }
  return op + " " + shape_to_string(c.shape) + " axes " + axes + "}" + (keepdim ? " keepdim" : "");
}

}  // namespace

TEST_SUITE_BEGIN("grad");

TEST_CASE("gradcheck: sum and mean") {
  // Linear: exact differences.
  Generator gen(21);
  for (const AxesCase& c : kAxesCases) {
    for (bool keepdim : {false, true}) {
      const Tensor x = uniform_tensor(c.shape, gen);
      const auto axes = c.axes;
      check_gradients_match(
          axes_name("sum", c, keepdim),
          [axes, keepdim](const std::vector<Tensor>& in) { return sum(in[0], axes, keepdim); }, {x},
          linear_options());
      check_gradients_match(
          axes_name("mean", c, keepdim),
          [axes, keepdim](const std::vector<Tensor>& in) { return mean(in[0], axes, keepdim); },
          {x}, linear_options());
    }
  }
}

TEST_CASE("gradcheck: max and min with distinct values") {
  // Piecewise linear. Values are distinct and 0.1 apart, the step 2^-5 keeps every difference
  // on one linear piece (no change of the winning element), so differences are exact.
  Generator gen(22);
  GradcheckOptions o = linear_options();
  o.step = 1.f / 32;
  for (const AxesCase& c : kAxesCases) {
    for (bool keepdim : {false, true}) {
      const Tensor x = distinct_values(c.shape, gen);
      const auto axes = c.axes;
      check_gradients_match(
          axes_name("max", c, keepdim),
          [axes, keepdim](const std::vector<Tensor>& in) { return max(in[0], axes, keepdim); }, {x},
          o);
      check_gradients_match(
          axes_name("min", c, keepdim),
          [axes, keepdim](const std::vector<Tensor>& in) { return min(in[0], axes, keepdim); }, {x},
          o);
    }
  }
}

TEST_CASE("max and min send the gradient of a tie to the first extreme position") {
  // The documented tie rule, checked by hand: no finite difference exists at a tie.
  const Tensor x = Tensor::from_vector({1.f, 3.f, 3.f, -2.f, -2.f, 0.f}, {2, 3});
  for (bool use_max : {true, false}) {
    Tensor leaf = x.clone().detach();
    leaf.set_requires_grad(true);
    const Tensor r = use_max ? max(leaf, {1}) : min(leaf, {1});
    sum(r).backward();
    const std::vector<float> expected =
        use_max ? std::vector<float>{0, 1, 0, 0, 0, 1} : std::vector<float>{1, 0, 0, 1, 0, 0};
    CHECK(leaf.grad().to_vector() == expected);
  }
}

TEST_CASE("gradcheck: var") {
  // Quadratic in each element: the 4-point stencil is exact, so only rounding of the float
  // mean and sum of squares remains (outputs of order 1, a few ulp / h).
  Generator gen(23);
  for (const AxesCase& c : kAxesCases) {
    for (bool keepdim : {false, true}) {
      for (int correction : {0, 1}) {
        // The sample variance of a single element divides by zero: skip those reductions.
        int64_t reduced = 1;
        if (c.axes.empty()) {
          reduced = shape_numel(c.shape);
        } else {
          for (int64_t a : c.axes) {
            reduced *= c.shape[static_cast<size_t>(a < 0 ? a + c.shape.size() : a)];
          }
        }
        if (correction == 1 && reduced < 2) continue;
        const Tensor x = uniform_tensor(c.shape, gen);
        const auto axes = c.axes;
        check_gradients_match(
            axes_name("var correction " + std::to_string(correction), c, keepdim),
            [axes, keepdim, correction](const std::vector<Tensor>& in) {
              return var(in[0], axes, keepdim, correction);
            },
            {x}, smooth_options(1e-4, 1e-3));
      }
    }
  }
}

TEST_CASE("argmax picks the first maximum of each row") {
  const Tensor x = Tensor::from_vector({0.f, 2.f, 1.f, 5.f, 5.f, -1.f, -3.f, -2.f, -2.f}, {3, 3});
  CHECK(argmax(x, 1) == std::vector<int64_t>{1, 0, 1});
  CHECK(argmax(x, -1) == std::vector<int64_t>{1, 0, 1});
  CHECK(argmax(x, 0) == std::vector<int64_t>{1, 1, 0});
}

TEST_SUITE_END();
