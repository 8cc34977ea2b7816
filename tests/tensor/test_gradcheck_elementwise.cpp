// Gradient checks of the elementwise operators of tensor/ops.h, with broadcasting in both
// directions, rank-0 operands and tensors used twice (gradients must accumulate).
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "gradcheck.h"

using namespace radgal;
using namespace radgal::testing;

namespace {

// Pairs of operand shapes: equal, b broadcast into a, a broadcast into b, both broadcast,
// rank 0 on either side, size-1 and prime sizes.
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3, 4}, {3, 4}},          {{2, 3, 5}, {5}}, {{5}, {2, 3, 5}}, {{1, 5}, {4, 1}},
    {{4, 1, 3}, {2, 1}},       {{}, {3, 2}},     {{3, 2}, {}},     {{1}, {7}},
    {{2, 1, 1, 3}, {1, 5, 1}}, {{1, 1}, {1, 1}}};

std::string pair_name(const std::string& op, const Shape& a, const Shape& b) {
  return op + " " + shape_to_string(a) + " with " + shape_to_string(b);
}

}  // namespace

TEST_SUITE_BEGIN("grad");

TEST_CASE("gradcheck: add, sub, mul with broadcasting") {
  // add and sub are linear; mul is linear in each single element. Exact differences, so the
  // tolerance only covers float rounding of outputs of order 1 (linear_options).
  Generator gen(11);
  for (const auto& [sa, sb] : kBroadcastPairs) {
    const Tensor a = uniform_tensor(sa, gen), b = uniform_tensor(sb, gen);
    check_gradients_match(
        pair_name("add", sa, sb), [](const std::vector<Tensor>& in) { return add(in[0], in[1]); },
        {a, b}, linear_options());
    check_gradients_match(
        pair_name("sub", sa, sb), [](const std::vector<Tensor>& in) { return sub(in[0], in[1]); },
        {a, b}, linear_options());
    check_gradients_match(
        pair_name("mul", sa, sb), [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); },
        {a, b}, linear_options());
    check_gradients_match(
        pair_name("operators + - *", sa, sb),
        [](const std::vector<Tensor>& in) { return (in[0] + in[1]) * in[0] - in[1]; }, {a, b},
        smooth_options());
  }
}

TEST_CASE("gradcheck: div with broadcasting") {
  // 1/b is smooth for |b| >= 0.5; its third derivative there is at most ~100, so the 4-point
  // truncation error h^4 f^(5) / 30 stays below 1e-6. Numerator linear.
  Generator gen(12);
  for (const auto& [sa, sb] : kBroadcastPairs) {
    const Tensor a = uniform_tensor(sa, gen), b = away_from_zero(sb, gen, 0.5f, 1.5f);
    check_gradients_match(
        pair_name("div", sa, sb), [](const std::vector<Tensor>& in) { return div(in[0], in[1]); },
        {a, b}, smooth_options(5e-4, 2e-3));
    check_gradients_match(
        pair_name("operator /", sa, sb),
        [](const std::vector<Tensor>& in) { return in[0] / in[1]; }, {a, b},
        smooth_options(5e-4, 2e-3));
  }
}

TEST_CASE("gradcheck: a tensor used twice accumulates its gradient") {
  Generator gen(13);
  const Tensor x = uniform_tensor({2, 3}, gen);
  check_gradients_match(
      "x * x", [](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {x},
      smooth_options());
  check_gradients_match(
      "x + x", [](const std::vector<Tensor>& in) { return add(in[0], in[0]); }, {x},
      linear_options());
  check_gradients_match(
      "x - x * 3 + exp(x)",
      [](const std::vector<Tensor>& in) { return add(sub(in[0], mul(in[0], 3.f)), exp(in[0])); },
      {x}, smooth_options());
}

TEST_CASE("gradcheck: operators with a float") {
  // All linear: exact differences.
  Generator gen(14);
  for (const Shape& s : std::vector<Shape>{{}, {1}, {7}, {2, 3, 5}}) {
    const Tensor x = uniform_tensor(s, gen);
    const std::string n = shape_to_string(s);
    check_gradients_match(
        "add float " + n, [](const std::vector<Tensor>& in) { return add(in[0], 2.5f); }, {x},
        linear_options());
    check_gradients_match(
        "mul float " + n, [](const std::vector<Tensor>& in) { return mul(in[0], -1.75f); }, {x},
        linear_options());
    check_gradients_match(
        "x + f, x - f, x * f, x / f " + n,
        [](const std::vector<Tensor>& in) { return ((in[0] + 1.f) * 3.f - 0.5f) / 4.f; }, {x},
        linear_options());
    check_gradients_match(
        "neg " + n, [](const std::vector<Tensor>& in) { return neg(in[0]); }, {x},
        linear_options());
    check_gradients_match(
        "unary - " + n, [](const std::vector<Tensor>& in) { return -in[0]; }, {x},
        linear_options());
  }
}

TEST_CASE("gradcheck: smooth unary functions") {
  Generator gen(15);
  for (const Shape& s : std::vector<Shape>{{}, {1}, {7}, {2, 3, 5}}) {
    const std::string n = shape_to_string(s);
    // exp on [-2, 2]: outputs up to 7.4, so forward rounding is ~4e-7 / h ~ 5e-5 absolute.
    check_gradients_match(
        "exp " + n, [](const std::vector<Tensor>& in) { return exp(in[0]); },
        {uniform_tensor(s, gen, -2.f, 2.f)}, smooth_options(3e-4, 1e-3));
    // log and sqrt on [0.2, 3]: derivatives up to 5 and 1.1; kept well away from 0, where the
    // stencil's truncation error would blow up (f^(5) of log at 0.2 is 7.5e4, times h^4 / 30).
    check_gradients_match(
        "log " + n, [](const std::vector<Tensor>& in) { return log(in[0]); },
        {uniform_tensor(s, gen, 0.2f, 3.f)}, smooth_options(3e-4, 1e-3));
    check_gradients_match(
        "sqrt " + n, [](const std::vector<Tensor>& in) { return sqrt(in[0]); },
        {uniform_tensor(s, gen, 0.2f, 3.f)}, smooth_options(3e-4, 1e-3));
    // sigmoid and tanh: bounded outputs and derivatives; 1e-4 covers rounding near saturation.
    check_gradients_match(
        "sigmoid " + n, [](const std::vector<Tensor>& in) { return sigmoid(in[0]); },
        {uniform_tensor(s, gen, -4.f, 4.f)}, smooth_options(1e-4, 1e-3));
    check_gradients_match(
        "tanh " + n, [](const std::vector<Tensor>& in) { return tanh(in[0]); },
        {uniform_tensor(s, gen, -3.f, 3.f)}, smooth_options(1e-4, 1e-3));
  }
}

TEST_CASE("gradcheck: pow") {
  Generator gen(16);
  const Shape s = {3, 5};
  // Integer exponents on any sign; polynomials of degree <= 4 make the 4-point stencil exact.
  for (float p : {1.f, 2.f, 3.f}) {
    check_gradients_match(
        "pow " + std::to_string(p), [p](const std::vector<Tensor>& in) { return pow(in[0], p); },
        {uniform_tensor(s, gen, -1.5f, 1.5f)}, smooth_options(2e-4, 1e-3));
  }
  // Fractional and negative exponents on positive bases in [0.3, 2]: smooth there.
  for (float p : {0.5f, -1.5f, 2.5f}) {
    check_gradients_match(
        "pow " + std::to_string(p), [p](const std::vector<Tensor>& in) { return pow(in[0], p); },
        {uniform_tensor(s, gen, 0.3f, 2.f)}, smooth_options(5e-4, 2e-3));
  }
}

TEST_CASE("gradcheck: piecewise-linear unary functions away from their kink") {
  // abs, relu and leaky_relu are linear on each side of 0; inputs keep |x| >= 0.1 > 2h, so the
  // differences never cross the kink and are exact.
  Generator gen(17);
  for (const Shape& s : std::vector<Shape>{{}, {1}, {7}, {2, 3, 5}}) {
    const std::string n = shape_to_string(s);
    GradcheckOptions o = linear_options();
    o.step = 1.f / 32;
    check_gradients_match(
        "abs " + n, [](const std::vector<Tensor>& in) { return abs(in[0]); },
        {away_from_zero(s, gen)}, o);
    check_gradients_match(
        "relu " + n, [](const std::vector<Tensor>& in) { return relu(in[0]); },
        {away_from_zero(s, gen)}, o);
    check_gradients_match(
        "leaky_relu default " + n, [](const std::vector<Tensor>& in) { return leaky_relu(in[0]); },
        {away_from_zero(s, gen)}, o);
    check_gradients_match(
        "leaky_relu 0.2 " + n,
        [](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.2f); },
        {away_from_zero(s, gen)}, o);
  }
}

TEST_SUITE_END();
