// Layout coverage for the tensor-level kernels: GEMM with every transpose combination and
// strided operands, softmax and reductions along a middle axis, NaN propagation, and results
// that do not depend on the OpenMP thread count.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "tests/tensor/tensor_test_util.h"

using namespace radgal;
using radgal::test::check_values;

namespace {

// Plain triple loop in double: the reference for matmul.
std::vector<float> reference_matmul(const Tensor& a, const Tensor& b) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  std::vector<float> c(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += double(a.at({i, p})) * b.at({p, j});
      c[i * n + j] = static_cast<float>(acc);
    }
  }
  return c;
}

// Runs f once with 1 thread and once with 2, and returns both results.
template <class F>
std::pair<std::vector<float>, std::vector<float>> with_one_and_two_threads(F f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> one = f();
  omp_set_num_threads(2);
  std::vector<float> two = f();
  omp_set_num_threads(saved);
  return {one, two};
}

}  // namespace

TEST_SUITE_BEGIN("cpu");

TEST_CASE("matmul reads transposed and row-strided operands correctly") {
  Generator gen(11);
  // Awkward sizes, including ones large enough for the blocked parallel path.
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                         {3, 5, 7},
                         {17, 1, 9},
                         {130, 33, 260},
                         {300, 70, 5}}) {
    CAPTURE(m);
    CAPTURE(k);
    CAPTURE(n);
    const Tensor a = Tensor::randn({m, k}, gen), b = Tensor::randn({k, n}, gen);
    const std::vector<float> expected = reference_matmul(a, b);
    const Tensor at = a.transpose(0, 1).contiguous().transpose(0, 1);  // column-major a
    const Tensor bt = b.transpose(0, 1).contiguous().transpose(0, 1);
    check_values(matmul(a, b), expected, 1e-4f, 1e-4f);
    check_values(matmul(at, b), expected, 1e-4f, 1e-4f);
    check_values(matmul(a, bt), expected, 1e-4f, 1e-4f);
    check_values(matmul(at, bt), expected, 1e-4f, 1e-4f);
    // A column slice: rows keep their stride but are shorter than it.
    const Tensor wide = Tensor::randn({m, k + 3}, gen);
    const Tensor sliced = wide.slice(1, 2, k + 2);
    check_values(matmul(sliced, b), reference_matmul(sliced, b), 1e-4f, 1e-4f);
    // A stepped slice cannot be read by GEMM directly and is copied.
    const Tensor stepped = Tensor::randn({m, 2 * k}, gen).slice(1, 0, 2 * k, 2);
    check_values(matmul(stepped, b), reference_matmul(stepped, b), 1e-4f, 1e-4f);
  }
}

TEST_CASE("softmax, log_softmax, sum and max along a middle axis") {
  // (2, 3, 2): softmax over axis 1 compares x[o, :, i].
  Tensor x = Tensor::from_vector({1, 0, 2, 0, 3, 0, 0, 5, 0, 5, 0, 5}, {2, 3, 2});
  const float s1 = std::exp(1.f), s2 = std::exp(2.f), s3 = std::exp(3.f), z = s1 + s2 + s3;
  check_values(softmax(x, 1), {s1 / z, 1.f / 3, s2 / z, 1.f / 3, s3 / z, 1.f / 3, 1.f / 3, 1.f / 3,
                               1.f / 3, 1.f / 3, 1.f / 3, 1.f / 3});
  const float lz = std::log(z);
  check_values(log_softmax(x, 1).select(0, 0),
               {1 - lz, -std::log(3.f), 2 - lz, -std::log(3.f), 3 - lz, -std::log(3.f)});
  check_values(sum(x, {1}), {6, 0, 0, 15});
  check_values(max(x, {1}), {3, 0, 0, 5});
  check_values(min(x, {0, 2}), {0, 0, 0});

  // Gradient of max along the middle axis lands on the first winner of each column.
  Tensor leaf = x.clone();
  leaf.set_requires_grad();
  sum(max(leaf, {1})).backward();
  check_values(leaf.grad(), {0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0});
  // Non-adjacent axes take the transposed path and agree with reducing one axis at a time.
  Tensor y = Tensor::randn({3, 4, 5}, *std::make_unique<Generator>(2));
  check_values(max(y, {0, 2}), max(max(y, {2}), {0}).to_vector());
}

TEST_CASE("NaN propagates through max, min, sum and softmax") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector({1, nan, 3, 4}, {2, 2});
  CHECK(std::isnan(max(x, {1}).at({0})));
  CHECK(max(x, {1}).at({1}) == 4);
  CHECK(std::isnan(min(x, {0}).at({1})));
  CHECK(std::isnan(sum(x).item()));
  CHECK(std::isnan(softmax(x, 1).at({0, 0})));
  CHECK(softmax(x, 1).at({1, 1}) == doctest::Approx(0.7310586f));
}

TEST_CASE("softmax of extreme logits stays finite") {
  const float inf = std::numeric_limits<float>::infinity();
  check_values(softmax(Tensor::from_vector({-inf, 0, -inf}, {3}), 0), {0, 1, 0});
  check_values(log_softmax(Tensor::from_vector({-1e30f, 0}, {2}), 0), {-1e30f, 0});
  check_values(softmax(Tensor::from_vector({88, 89, 90}, {3}), 0),
               {0.09003057f, 0.24472847f, 0.66524096f});
}

TEST_CASE("operators give bit-identical results on one and two threads") {
  Generator gen(3);
  const Tensor x = Tensor::randn({4, 8, 60, 70}, gen);
  const Tensor att = Tensor::randn({4, 1, 60, 70}, gen);
  const Tensor a = Tensor::randn({300, 200}, gen), b = Tensor::randn({200, 150}, gen);
  const auto check_same = [](auto f) {
    auto [one, two] = with_one_and_two_threads(f);
    CHECK(one == two);
  };
  check_same([&] { return (x * att + 1.f).to_vector(); });
  check_same([&] { return sigmoid(x).to_vector(); });
  check_same([&] { return sum(x).to_vector(); });
  check_same([&] { return sum(x, {0, 2, 3}).to_vector(); });
  check_same([&] { return mean(x, {1}).to_vector(); });
  check_same([&] { return max(x, {2, 3}).to_vector(); });
  check_same([&] { return softmax(x, 1).to_vector(); });
  check_same([&] { return log_softmax(x.reshape({4, 8, -1}), 2).to_vector(); });
  check_same([&] { return matmul(a, b).to_vector(); });
  check_same([&] { return matmul(a.transpose(0, 1), a).to_vector(); });
  check_same([&] {
    Tensor leaf = x.clone();
    leaf.set_requires_grad();
    sum(softmax(leaf * att, 1) * x).backward();
    return leaf.grad().to_vector();
  });
}

TEST_CASE("a long sum is accurate to float rounding of the result") {
  // 1e6 copies of 0.1f: a naive float running sum drifts by about 1 %.
  Tensor x = Tensor::full({1000000}, 0.1f);
  CHECK(sum(x).item() == doctest::Approx(1e6 * 0.1f).epsilon(1e-6));
  CHECK(mean(x.reshape({1000, 1000}), {0}).at({7}) == doctest::Approx(0.1f).epsilon(1e-6));
}

TEST_SUITE_END();
