// Hand-computed values for the NCHW operators at the tensor level: conv2d, pooling, batch norm
// and bilinear resize, forward and backward, plus their shape errors; the fused attention-gate
// scores against the chain of operators they replace. The arithmetic lives in
// kernels/cpu; these tests check the wiring around it (shapes, options, gradient routing,
// running statistics).
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "tests/tensor/tensor_test_util.h"

using namespace radgal;
using radgal::test::check_shape;
using radgal::test::check_values;

namespace {

Tensor leaf(const std::vector<float>& v, const Shape& s) {
  Tensor t = Tensor::from_vector(v, s);
  t.set_requires_grad();
  return t;
}

}  // namespace

TEST_SUITE_BEGIN("cpu");

TEST_CASE("conv2d: 2x2 kernel on a 3x3 image, values and gradients") {
  // x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[1, 0], [0, -1]], bias 0.5:
  // y[i, j] = x[i, j] - x[i + 1, j + 1] + 0.5 = -3.5 everywhere.
  Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = leaf({1, 0, 0, -1}, {1, 1, 2, 2});
  Tensor b = leaf({0.5f}, {1});
  Tensor y = conv2d(x, w, b);
  check_shape(y, {1, 1, 2, 2});
  check_values(y, {-3.5f, -3.5f, -3.5f, -3.5f});
  sum(y).backward();
  // dw[p, q] = sum of the 2x2 window of x starting at (p, q); db = number of outputs.
  check_values(w.grad(), {12, 16, 24, 28});
  check_values(b.grad(), {4});
  // dx[i, j] = sum of w over the outputs that read x[i, j].
  check_values(x.grad(), {1, 1, 0, 1, 0, -1, 0, -1, -1});
}

TEST_CASE("conv2d: padding and stride, and no bias") {
  // Padding 1, stride 2: windows start at -1 and 1. Only the kernel taps that land inside
  // the image count: (-1, -1) sees x00 * -1; (-1, 1) sees x02 * -1; (1, -1) sees x20 * -1;
  // (1, 1) sees x11 - x22.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = Tensor::from_vector({1, 0, 0, -1}, {1, 1, 2, 2});
  check_values(conv2d(x, w, Tensor(), {2, 1, 1}), {-1, -3, -7, -4});
  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({1, 2, 2, 2}), Tensor()), ShapeError);
  CHECK_THROWS_AS(conv2d(x, w, Tensor::zeros({2})), ShapeError);
  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({1, 1, 5, 5}), Tensor()), ShapeError);
  // (4 - 5) / 2 + 1 would be 1 with C++ division; the kernel does not fit, so it must throw.
  CHECK_THROWS_AS(
      conv2d(Tensor::zeros({1, 1, 4, 4}), Tensor::zeros({1, 1, 5, 5}), Tensor(), {2, 0, 1}),
      ShapeError);
  CHECK_THROWS_AS(conv2d(x.reshape({3, 3}), w, Tensor()), ShapeError);
}

TEST_CASE("max_pool2d and avg_pool2d, with and without padding") {
  Tensor x = leaf(Tensor::arange(16).to_vector(), {1, 1, 4, 4});
  Tensor m = max_pool2d(x, {2, 2, 0});
  check_values(m, {5, 7, 13, 15});
  sum(m).backward();
  check_values(x.grad(), {0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1});

  Tensor y = leaf(Tensor::arange(16).to_vector(), {1, 1, 4, 4});
  Tensor a = avg_pool2d(y, {2, 0, 0});  // stride 0 means stride = kernel
  check_values(a, {2.5f, 4.5f, 10.5f, 12.5f});
  sum(a).backward();
  check_values(y.grad(), std::vector<float>(16, 0.25f));

  // Padding 1: padded cells count in the divisor, so a corner window holds one value / 4.
  Tensor p = avg_pool2d(Tensor::arange(16).reshape({1, 1, 4, 4}), {2, 2, 1});
  check_shape(p, {1, 1, 3, 3});
  check_values(p.reshape({9}).slice(0, 0, 5), {0, 0.75f, 0.75f, 3, 7.5f});
  // Padding never wins a max: all-negative input, padded window still picks a real value.
  check_values(max_pool2d(Tensor::full({1, 1, 2, 2}, -3.f), {2, 2, 1}), {-3, -3, -3, -3});
  CHECK_THROWS_AS(max_pool2d(x, {2, 2, 2}), std::invalid_argument);  // padding > kernel / 2
  CHECK_THROWS_AS(max_pool2d(Tensor::zeros({1, 1, 1, 1}), {2, 2, 0}), ShapeError);

  check_values(global_avg_pool2d(Tensor::arange(8).reshape({1, 2, 2, 2})), {1.5f, 5.5f});
}

TEST_CASE("batch_norm2d: training statistics, running update, evaluation") {
  // One channel holding 1, 2, 3, 6: mean 3, biased variance 14 / 4 = 3.5, unbiased 14 / 3.
  Tensor x = leaf({1, 2, 3, 6}, {2, 1, 1, 2});
  Tensor gamma = leaf({2}, {1}), beta = leaf({1}, {1});
  Tensor running_mean = Tensor::zeros({1}), running_var = Tensor::ones({1});
  Tensor y = batch_norm2d(x, gamma, beta, running_mean, running_var, true, 0.1f, 0.f);
  const float s = std::sqrt(3.5f);
  check_values(y, {1 - 4 / s, 1 - 2 / s, 1, 1 + 6 / s});
  check_values(running_mean, {0.3f});                     // 0.9 * 0 + 0.1 * 3
  check_values(running_var, {0.9f + 0.1f * 14.f / 3.f});  // 0.9 * 1 + 0.1 * unbiased

  // sum(y) = 4 beta whatever x and gamma are, so dx = 0 and dgamma = sum(xhat) = 0.
  sum(y).backward();
  check_values(x.grad(), {0, 0, 0, 0}, 1e-5f);
  check_values(gamma.grad(), {0}, 1e-5f);
  check_values(beta.grad(), {4});

  // Evaluation uses the running statistics and leaves them alone.
  Tensor e = batch_norm2d(x.detach(), gamma.detach(), beta.detach(), running_mean, running_var,
                          false, 0.1f, 0.f);
  const float rv = 0.9f + 0.1f * 14.f / 3.f;
  check_values(e.reshape({4}).slice(0, 0, 1), {2 * (1 - 0.3f) / std::sqrt(rv) + 1});
  check_values(running_mean, {0.3f});

  Tensor single = Tensor::zeros({1, 1, 1, 1});
  CHECK_THROWS_AS(batch_norm2d(single, gamma, beta, running_mean, running_var, true), ShapeError);
  Tensor wrong = Tensor::zeros({2});
  CHECK_THROWS_AS(batch_norm2d(x, gamma, beta, wrong, running_var, true), ShapeError);
}

TEST_CASE("upsample_bilinear2d in both corner conventions") {
  // x = [[0, 1], [2, 3]] = column + 2 * row, so every output is column' + 2 * row' with the
  // source coordinates of the convention.
  Tensor x = leaf({0, 1, 2, 3}, {1, 1, 2, 2});
  Tensor a = upsample_bilinear2d(x, 3, 3, true);  // sources 0, 0.5, 1
  check_values(a, {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  sum(a).backward();
  // Each source row gets weights 1 + 0.5 + 0 summed over output rows, same for columns.
  check_values(x.grad(), {2.25f, 2.25f, 2.25f, 2.25f});

  // align_corners = false, 2 -> 4: sources clamp(-0.25) = 0, 0.25, 0.75, 1.25 -> last = 1.
  Tensor b = upsample_bilinear2d(x.detach(), 4, 4, false);
  check_values(b, {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f,
                   2.75f, 3});
  CHECK_THROWS_AS(upsample_bilinear2d(x, 0, 4, false), ShapeError);
}

TEST_CASE("attention_gate_scores equals conv, upsample, add, relu, conv, with gradients") {
  // The AG-CNN's first and third gate geometries and an odd one; values and all five gradients
  // of the fused operator against the unfused chain (itself gradient-checked elsewhere).
  struct Case {
    Shape x, phi;
  };
  const std::vector<Case> cases = {{{2, 6, 150, 150}, {2, 64, 18, 18}},
                                   {{2, 32, 37, 37}, {2, 64, 18, 18}},
                                   {{3, 2, 7, 5}, {3, 4, 3, 4}}};
  Generator gen(61);
  for (const Case& c : cases) {
    INFO("x " << shape_to_string(c.x) << ", phi " << shape_to_string(c.phi));
    const int64_t inter = c.phi[1];
    auto make = [&](const Shape& s) {
      Tensor t = Tensor::uniform(s, gen, -1.f, 1.f);
      t.set_requires_grad();
      return t;
    };
    Tensor x = make(c.x), theta = make({inter, c.x[1], 1, 1}), phi = make(c.phi);
    Tensor psi_w = make({1, inter, 1, 1}), psi_b = make({1});
    const Tensor weights = Tensor::uniform({c.x[0], 1, c.x[2], c.x[3]}, gen, -1.f, 1.f);

    const Tensor fused = attention_gate_scores(x, theta, phi, psi_w, psi_b);
    check_shape(fused, {c.x[0], 1, c.x[2], c.x[3]});
    sum(fused * weights).backward();
    std::vector<Tensor> fused_grads;
    for (Tensor* t : {&x, &theta, &phi, &psi_w, &psi_b}) {
      fused_grads.push_back(t->grad());
      t->zero_grad();
    }

    const Tensor up = upsample_bilinear2d(phi, c.x[2], c.x[3], /*align_corners=*/false);
    const Tensor chain = conv2d(relu(conv2d(x, theta, Tensor()) + up), psi_w, psi_b);
    check_values(fused, chain.to_vector(), 1e-5f, 1e-5f);
    sum(chain * weights).backward();
    int j = 0;
    for (Tensor* t : {&x, &theta, &phi, &psi_w, &psi_b}) {
      INFO("gradient of input " << j);
      // Gradients of theta and psi_w sum ~10^5 terms; their rounding grows with that.
      check_values(fused_grads[j++], t->grad().to_vector(), 2e-4f, 1e-4f);
    }
  }
}

TEST_CASE("attention_gate_scores refuses shapes that do not fit together") {
  Generator gen(62);
  const Tensor x = Tensor::uniform({2, 3, 8, 8}, gen);
  const Tensor theta = Tensor::uniform({4, 3, 1, 1}, gen);
  const Tensor phi = Tensor::uniform({2, 4, 2, 2}, gen);
  const Tensor psi_w = Tensor::uniform({1, 4, 1, 1}, gen);
  const Tensor psi_b = Tensor::uniform({1}, gen);
  CHECK_NOTHROW(attention_gate_scores(x, theta, phi, psi_w, psi_b));
  CHECK_THROWS_WITH_AS(attention_gate_scores(x, Tensor::uniform({4, 2, 1, 1}, gen), phi, psi_w,
                                             psi_b),
                       doctest::Contains("theta"), ShapeError);
  CHECK_THROWS_WITH_AS(attention_gate_scores(x, theta, Tensor::uniform({1, 4, 2, 2}, gen), psi_w,
                                             psi_b),
                       doctest::Contains("phi"), ShapeError);
  CHECK_THROWS_WITH_AS(attention_gate_scores(x, theta, Tensor::uniform({2, 5, 2, 2}, gen), psi_w,
                                             psi_b),
                       doctest::Contains("phi"), ShapeError);
  CHECK_THROWS_WITH_AS(attention_gate_scores(x, theta, phi, Tensor::uniform({1, 3, 1, 1}, gen),
                                             psi_b),
                       doctest::Contains("psi weight"), ShapeError);
  CHECK_THROWS_WITH_AS(attention_gate_scores(x, theta, phi, psi_w, Tensor::uniform({2}, gen)),
                       doctest::Contains("psi weight"), ShapeError);
  CHECK_THROWS_AS(attention_gate_scores(Tensor::uniform({3, 8, 8}, gen), theta, phi, psi_w, psi_b),
                  ShapeError);
}

TEST_SUITE_END();
