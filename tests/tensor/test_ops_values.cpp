// Hand-computed values for each operator family, forward and backward. Every expected number
// here is worked out in the comment beside it (or by an explicit formula in the test), so a
// failure points at the operator, not at a reference implementation.
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

TEST_CASE("unary operators and their derivatives") {
  const std::vector<float> v = {-2.f, -0.5f, 0.f, 1.f, 3.f};
  const auto run = [&](auto f, std::vector<float> expect_y, std::vector<float> expect_dx) {
    Tensor x = leaf(v, {5});
    Tensor y = f(x);
    check_values(y, expect_y, 1e-5f, 1e-5f);
    sum(y).backward();
    check_values(x.grad(), expect_dx, 1e-5f, 1e-5f);
  };
  SUBCASE("relu") {
    run([](const Tensor& x) { return relu(x); }, {0, 0, 0, 1, 3}, {0, 0, 0, 1, 1});
  }
  SUBCASE("leaky_relu") {
    run([](const Tensor& x) { return leaky_relu(x, 0.1f); }, {-0.2f, -0.05f, 0, 1, 3},
        {0.1f, 0.1f, 0.1f, 1, 1});
  }
  SUBCASE("abs") {
    run([](const Tensor& x) { return abs(x); }, {2, 0.5f, 0, 1, 3}, {-1, -1, 0, 1, 1});
  }
  SUBCASE("neg") {
    run([](const Tensor& x) { return -x; }, {2, 0.5f, 0, -1, -3}, {-1, -1, -1, -1, -1});
  }
  SUBCASE("pow 2") {
    run([](const Tensor& x) { return pow(x, 2.f); }, {4, 0.25f, 0, 1, 9}, {-4, -1, 0, 2, 6});
  }
  SUBCASE("scalar add and mul") {
    run([](const Tensor& x) { return x * 3.f + 1.f; }, {-5, -0.5f, 1, 4, 10}, {3, 3, 3, 3, 3});
  }
  SUBCASE("exp") {
    std::vector<float> e;
    for (float a : v) e.push_back(std::exp(a));
    run([](const Tensor& x) { return exp(x); }, e, e);
  }
  SUBCASE("sigmoid") {
    // sigmoid(-2) = 1 / (1 + e^2) = 0.11920292; derivative s (1 - s).
    std::vector<float> s, ds;
    for (float a : v) {
      s.push_back(1.f / (1.f + std::exp(-a)));
      ds.push_back(s.back() * (1 - s.back()));
    }
    CHECK(s[0] == doctest::Approx(0.11920292f));
    run([](const Tensor& x) { return sigmoid(x); }, s, ds);
  }
  SUBCASE("tanh") {
    std::vector<float> t, dt;
    for (float a : v) {
      t.push_back(std::tanh(a));
      dt.push_back(1 - t.back() * t.back());
    }
    run([](const Tensor& x) { return tanh(x); }, t, dt);
  }
}

TEST_CASE("log, sqrt and division on positive inputs") {
  Tensor x = leaf({1, 4, 9}, {3});
  Tensor y = sqrt(x);
  check_values(y, {1, 2, 3});
  sum(y).backward();
  check_values(x.grad(), {0.5f, 0.25f, 1.f / 6});  // 1 / (2 sqrt x)

  Tensor z = leaf({1, 2, 4}, {3});
  Tensor lz = log(z);
  check_values(lz, {0, std::log(2.f), std::log(4.f)});
  sum(lz).backward();
  check_values(z.grad(), {1, 0.5f, 0.25f});

  Tensor a = leaf({6, 8}, {2}), b = leaf({3, -2}, {2});
  Tensor q = a / b;
  check_values(q, {2, -4});
  sum(q).backward();
  check_values(a.grad(), {1.f / 3, -0.5f});      // 1 / b
  check_values(b.grad(), {-6.f / 9, -8.f / 4});  // -a / b^2
}

TEST_CASE("sum and mean over axes, with and without keepdim") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(sum(x), {21});
  check_shape(sum(x), {});
  check_values(sum(x, {0}), {5, 7, 9});
  check_values(sum(x, {-1}), {6, 15});
  check_shape(sum(x, {1}, true), {2, 1});
  check_values(mean(x, {1}), {2, 5});
  check_values(mean(x), {3.5f});

  Tensor m = mean(x, {0});
  (m * Tensor::from_vector({1, 2, 3}, {3})).backward(Tensor::ones({3}));
  check_values(x.grad(), {0.5f, 1, 1.5f, 0.5f, 1, 1.5f});

  // Non-adjacent axes of a 4-D tensor, like a per-channel sum over (n, h, w).
  Tensor y = Tensor::arange(24).reshape({2, 3, 2, 2});
  // channel c holds 4c..4c+3 in batch 0 (sum 16c + 6) and 12+4c..15+4c in batch 1 (sum
  // 16c + 54): total 32c + 60.
  check_values(sum(y, {0, 2, 3}), {60, 92, 124});
  check_values(sum(y.permute({1, 0, 2, 3}), {1, 2, 3}), {60, 92, 124});
}

TEST_CASE("max and min send the gradient to the first extreme position") {
  Tensor x = leaf({1, 5, 5, 2, -3, 0}, {2, 3});
  Tensor m = max(x, {1});
  check_values(m, {5, 2});
  sum(m).backward();
  check_values(x.grad(), {0, 1, 0, 1, 0, 0});

  Tensor y = leaf({1, 5, 5, 2, -3, 0}, {2, 3});
  Tensor n = min(y, {0});
  check_values(n, {1, -3, 0});
  sum(n).backward();
  check_values(y.grad(), {1, 0, 0, 0, 1, 1});

  check_values(max(Tensor::from_vector({3, 9, 1, 9}, {2, 2})), {9});
  CHECK(argmax(Tensor::from_vector({0.1f, 0.7f, 0.2f, 3, 2, 3}, {2, 3}), 1) ==
        std::vector<int64_t>{1, 0});
  CHECK(argmax(Tensor::from_vector({0.1f, 0.7f, 0.2f, 3, 2, 3}, {2, 3}), 0) ==
        std::vector<int64_t>{1, 1, 1});
}

TEST_CASE("var with population and sample correction") {
  // [1, 2, 3, 4]: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5.
  Tensor x = leaf({1, 2, 3, 4}, {4});
  check_values(var(x), {1.25f});
  check_values(var(x, {}, false, 1), {5.f / 3});
  sum(var(x)).backward();
  check_values(x.grad(), {-0.75f, -0.25f, 0.25f, 0.75f});  // 2 (x - mean) / 4
}

TEST_CASE("matmul, batched matmul and their gradients") {
  // [[1, 2, 3], [4, 5, 6]] x [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]]
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor c = matmul(a, b);
  check_values(c, {4, 5, 10, 11});
  sum(c).backward();
  check_values(a.grad(), {1, 1, 2, 1, 1, 2});  // row sums of b
  check_values(b.grad(), {5, 5, 7, 7, 9, 9});  // column sums of a

  // A transposed view goes into GEMM without a copy and gives the same product.
  Tensor at = Tensor::from_vector({1, 4, 2, 5, 3, 6}, {3, 2}).transpose(0, 1);
  check_values(matmul(at, b.detach()), {4, 5, 10, 11});

  Tensor p = Tensor::arange(12).reshape({2, 2, 3});
  Tensor q = Tensor::ones({2, 3, 1});
  check_values(matmul(p, q), {3, 12, 21, 30});
  check_values(matmul(p, Tensor::ones({3, 1})), {3, 12, 21, 30});
  CHECK_THROWS_AS(matmul(p, Tensor::ones({3, 3, 1})), ShapeError);
}

TEST_CASE("linear with bias, and its gradients") {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  Tensor w = leaf({1, 0, 1, 1, 0, 2}, {3, 2});  // (out 3, in 2)
  Tensor b = leaf({0.5f, -1, 0}, {3});
  Tensor y = linear(x, w, b);
  // x w^T = [[1, 3, 4], [3, 7, 8]], plus bias.
  check_values(y, {1.5f, 2, 4, 3.5f, 6, 8});
  sum(y).backward();
  check_values(x.grad(), {2, 3, 2, 3});  // column sums of w
  check_values(w.grad(), {4, 6, 4, 6, 4, 6});
  check_values(b.grad(), {2, 2, 2});
  check_shape(linear(Tensor::zeros({4, 5, 2}), w.detach(), Tensor()), {4, 5, 3});
  CHECK_THROWS_AS(linear(Tensor::zeros({2, 3}), w, b), ShapeError);
}

TEST_CASE("softmax and log_softmax of [1, 2, 3]") {
  // e^k / (e + e^2 + e^3) = 0.09003057, 0.24472847, 0.66524096; log: those minus ln(sum) =
  // k - 3.40760596.
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor s = softmax(x, 0);
  check_values(s, {0.09003057f, 0.24472847f, 0.66524096f});
  check_values(log_softmax(x, -1), {-2.40760596f, -1.40760596f, -0.40760596f});

  // d/dx of s_2 is s_2 (e_2 - s): [-s0 s2, -s1 s2, s2 (1 - s2)].
  s.backward(Tensor::from_vector({0, 0, 1}, {3}));
  check_values(x.grad(), {-0.05989317f, -0.16280376f, 0.22269693f});

  // Large logits do not overflow; rows along axis 0 of a 2-D tensor.
  check_values(softmax(Tensor::from_vector({1000, 0, 1001, 0}, {2, 2}), 0),
               {0.26894142f, 0.5f, 0.73105858f, 0.5f});
}

TEST_CASE("cross_entropy with class weights and label smoothing") {
  const std::vector<float> logits = {1, 2, 3, 0.5f, -1, 2};
  const std::vector<int64_t> targets = {2, 0};
  const std::vector<float> w = {1, 2, 0.5f};
  const float eps = 0.2f;

  // Independent formula: loss_i = (1 - eps) w[t] (-log p_t) + eps / C sum_k w[k] (-log p_k),
  // divided by sum_i w[t_i] = 0.5 + 1.
  double total = 0;
  for (int i = 0; i < 2; ++i) {
    const float* z = &logits[3 * i];
    const double lse = std::log(std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]));
    total += (1 - eps) * w[targets[i]] * (lse - z[targets[i]]);
    for (int k = 0; k < 3; ++k) total += eps / 3 * w[k] * (lse - z[k]);
  }
  const float expected = static_cast<float>(total / 1.5);

  Tensor x = leaf(logits, {2, 3});
  Tensor loss = cross_entropy(x, targets, w, eps);
  CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-6));
  CHECK(loss.item() == doctest::Approx(1.6494482f).epsilon(1e-6));  // torch.nn.functional
  loss.backward();
  check_values(x.grad(),
               {-0.00643153f, 0.01444092f, -0.00800934f, -0.45702219f, -0.06194467f, 0.51896685f});

  // Plain mean cross-entropy, gradient (softmax - onehot) / n.
  Tensor y = leaf(logits, {2, 3});
  Tensor plain = cross_entropy(y, targets);
  CHECK(plain.item() == doctest::Approx(1.0744586f).epsilon(1e-6));
  plain.backward();
  check_values(y.grad(),
               {0.04501529f, 0.12236425f, -0.1673795f, -0.41235480f, 0.01955629f, 0.39279851f});

  CHECK_THROWS_AS(cross_entropy(x, {0, 3}), std::out_of_range);
  CHECK_THROWS_AS(cross_entropy(x, {0}), ShapeError);
}

TEST_CASE("soft_cross_entropy against its formula, and equal to cross_entropy on smoothed labels") {
  const std::vector<float> logits = {1, 2, 3, 0.5f, -1, 2};
  const std::vector<float> q = {0.1f, 0.3f, 0.6f, 0.7f, 0.2f, 0.1f};

  // Independent formula: mean_i sum_k q_ik (lse_i - z_ik); gradient (softmax - q) / n.
  double total = 0;
  std::vector<float> grad(6);
  for (int i = 0; i < 2; ++i) {
    const float* z = &logits[3 * i];
    const double lse = std::log(std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]));
    for (int k = 0; k < 3; ++k) {
      total += q[3 * i + k] * (lse - z[k]);
      grad[3 * i + k] = static_cast<float>((std::exp(z[k] - lse) - q[3 * i + k]) / 2);
    }
  }
  Tensor x = leaf(logits, {2, 3});
  Tensor loss = soft_cross_entropy(x, Tensor::from_vector(q, {2, 3}));
  CHECK(loss.item() == doctest::Approx(total / 2).epsilon(1e-6));
  loss.backward();
  check_values(x.grad(), grad);

  // The smoothed one-hot rows give exactly what cross_entropy with label smoothing gives.
  const float eps = 0.2f;
  const std::vector<int64_t> targets = {2, 0};
  std::vector<float> smoothed(6, eps / 3);
  smoothed[2] += 1 - eps;
  smoothed[3] += 1 - eps;
  Tensor a = leaf(logits, {2, 3}), b = leaf(logits, {2, 3});
  Tensor soft = soft_cross_entropy(a, Tensor::from_vector(smoothed, {2, 3}));
  Tensor hard = cross_entropy(b, targets, {}, eps);
  CHECK(soft.item() == doctest::Approx(hard.item()).epsilon(1e-6));
  soft.backward();
  hard.backward();
  check_values(a.grad(), b.grad().to_vector());

  // The targets get no gradient, even when they ask for one.
  Tensor t = leaf(q, {2, 3});
  soft_cross_entropy(leaf(logits, {2, 3}), t).backward();
  CHECK_FALSE(t.grad().defined());

  // Not distributions, or shapes that do not fit.
  CHECK_THROWS_WITH_AS(soft_cross_entropy(x, Tensor::from_vector({0.5f, 0.5f, 0.5f, 1, 0, 0},
                                                                 {2, 3})),
                       doctest::Contains("row 0 sums to 1.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(soft_cross_entropy(x, Tensor::from_vector({1, 0, 0, 1.5f, -0.5f, 0},
                                                                 {2, 3})),
                       doctest::Contains("row 1 is not a probability"), std::invalid_argument);
  CHECK_THROWS_AS(soft_cross_entropy(x, Tensor::from_vector({1, 0, 0}, {1, 3})), ShapeError);
  CHECK_THROWS_AS(soft_cross_entropy(Tensor::from_vector({1, 2, 3}, {3}),
                                     Tensor::from_vector({1, 0, 0}, {3})),
                  ShapeError);
}

TEST_CASE("concat, stack and pad, forward and backward") {
  Tensor a = leaf({1, 2, 3, 4}, {2, 2});
  Tensor b = leaf({5, 6}, {2, 1});
  Tensor c = concat({a, b}, 1);
  check_values(c, {1, 2, 5, 3, 4, 6});
  c.backward(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}));
  check_values(a.grad(), {1, 2, 4, 5});
  check_values(b.grad(), {3, 6});
  CHECK_THROWS_AS(concat({a, b}, 0), ShapeError);

  Tensor s = stack({Tensor::arange(2), Tensor::ones({2})}, 1);
  check_values(s, {0, 1, 1, 1});

  Tensor p = leaf({1, 2, 3, 4}, {1, 2, 2});
  Tensor q = pad(p, {1, 0, 0, 1}, -1.f);  // last dim: 1 left; middle dim: 1 bottom
  check_shape(q, {1, 3, 3});
  check_values(q, {-1, 1, 2, -1, 3, 4, -1, -1, -1});
  q.backward(Tensor::arange(9).reshape({1, 3, 3}));
  check_values(p.grad(), {1, 2, 4, 5});
  check_values(pad(Tensor::arange(4), {-1, -2}), {1});  // negative pads crop
}

TEST_CASE("dropout scales kept values and draws from the generator") {
  Generator gen(5);
  Tensor x = leaf(std::vector<float>(1000, 1.f), {1000});
  Tensor y = dropout(x, 0.25f, true, gen);
  int kept = 0;
  for (float v : y.to_vector()) {
    CHECK((v == 0.f || v == doctest::Approx(4.f / 3)));
    kept += v != 0.f;
  }
  CHECK(kept > 700);
  CHECK(kept < 800);
  sum(y).backward();
  CHECK(x.grad().to_vector() == y.to_vector());  // same mask, input was ones

  Generator again(5);
  CHECK(dropout(x.detach(), 0.25f, true, again).to_vector() == y.to_vector());
  CHECK(dropout(x, 0.25f, false, gen).storage_id() == x.storage_id());
  check_values(dropout(Tensor::ones({3}), 1.f, true, gen), {0, 0, 0});
}

TEST_SUITE_END();
