// Batch norm kernels against a double-precision re-implementation; the training backward is
// also checked against central differences of that reference forward, so the formula itself is
// tested, not only its transcription.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/batchnorm.h"
#include "tests/kernels/kernel_test_util.h"

namespace {

using radgal::kernels::cpu::batch_norm_backward_eval;
using radgal::kernels::cpu::batch_norm_backward_train;
using radgal::kernels::cpu::batch_norm_forward_eval;
using radgal::kernels::cpu::batch_norm_forward_train;
using radgal::kernels::cpu::BatchNormShape;
using namespace radgal::test;

std::string describe(const BatchNormShape& s) {
  std::ostringstream o;
  o << "n " << s.n << " c " << s.c << " hw " << s.hw;
  return o.str();
}

size_t size_of(const BatchNormShape& s) {
  return s.n * s.c * s.hw;
}
int64_t channel_of(const BatchNormShape& s, size_t i) {
  return (i / s.hw) % s.c;
}

struct Statistics {
  std::vector<double> mean, var;  // biased variance
};

Statistics reference_statistics(const BatchNormShape& s, const std::vector<double>& x) {
  Statistics st{std::vector<double>(s.c, 0.0), std::vector<double>(s.c, 0.0)};
  const double count = static_cast<double>(s.n * s.hw);
  for (size_t i = 0; i < x.size(); ++i) st.mean[channel_of(s, i)] += x[i] / count;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - st.mean[channel_of(s, i)];
    st.var[channel_of(s, i)] += d * d / count;
  }
  return st;
}

std::vector<double> reference_train_forward(const BatchNormShape& s, const std::vector<double>& x,
                                            const std::vector<double>& gamma,
                                            const std::vector<double>& beta, double eps) {
  const Statistics st = reference_statistics(s, x);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t c = channel_of(s, i);
    y[i] = (x[i] - st.mean[c]) / std::sqrt(st.var[c] + eps) * gamma[c] + beta[c];
  }
  return y;
}

std::vector<double> widen(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

std::vector<BatchNormShape> shapes() {
  return {{1, 1, 2}, {2, 3, 7}, {3, 1, 1}, {4, 5, 13}, {1, 6, 150}, {5, 2, 37 * 37}};
}

constexpr float kEps = 1e-5f;

}  // namespace

TEST_CASE("batch_norm_forward_train matches the double-precision reference") {
  uint32_t seed = 1;
  for (const BatchNormShape& s : shapes()) {
    INFO(describe(s));
    const auto x = random_floats(size_of(s), seed++, -2.0f, 3.0f);
    const auto gamma = random_floats(s.c, seed++, 0.5f, 1.5f);
    const auto beta = random_floats(s.c, seed++);
    auto y = sentinel(size_of(s));
    auto mean = sentinel(s.c), invstd = sentinel(s.c), var_unbiased = sentinel(s.c);
    batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), kEps, y.data(), mean.data(),
                             invstd.data(), var_unbiased.data());

    const Statistics st = reference_statistics(s, widen(x));
    std::vector<double> ref_invstd(s.c), ref_unbiased(s.c);
    const double count = static_cast<double>(s.n * s.hw);
    for (int64_t c = 0; c < s.c; ++c) {
      ref_invstd[c] = 1.0 / std::sqrt(st.var[c] + kEps);
      ref_unbiased[c] = st.var[c] * count / (count - 1);
    }
    check_close(mean, st.mean, 1e-6, 1e-7, "save_mean");
    check_close(invstd, ref_invstd, 1e-6, 0, "save_invstd");
    check_close(var_unbiased, ref_unbiased, 1e-6, 1e-7, "batch_var_unbiased");
    check_close(y, reference_train_forward(s, widen(x), widen(gamma), widen(beta), kEps), 1e-5,
                1e-5, "y");
  }
}

TEST_CASE("batch_norm_forward_train keeps precision when the mean dwarfs the spread") {
  const BatchNormShape s{4, 2, 50};
  auto x = random_floats(size_of(s), 7, -1.0f, 1.0f);
  for (float& v : x) v += 1000.0f;
  const std::vector<float> gamma = {1.0f, 2.0f}, beta = {0.0f, -1.0f};
  std::vector<float> y(size_of(s)), mean(2), invstd(2), var(2);
  batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), kEps, y.data(), mean.data(),
                           invstd.data(), var.data());
  // The float mean itself is only good to half an ulp of 1000 (3e-5), which bounds y.
  check_close(y, reference_train_forward(s, widen(x), widen(gamma), widen(beta), kEps), 0, 2e-4,
              "y");
}

TEST_CASE("batch_norm_backward_train matches the formula and finite differences") {
  uint32_t seed = 100;
  for (const BatchNormShape& s : shapes()) {
    if (s.n * s.hw < 2) continue;
    INFO(describe(s));
    const auto x = random_floats(size_of(s), seed++, -2.0f, 3.0f);
    const auto gamma = random_floats(s.c, seed++, 0.5f, 1.5f);
    const auto beta = random_floats(s.c, seed++);
    const auto dy = random_floats(size_of(s), seed++);
    std::vector<float> y(size_of(s)), mean(s.c), invstd(s.c), var(s.c);
    batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), kEps, y.data(), mean.data(),
                             invstd.data(), var.data());
    auto dx = sentinel(size_of(s)), dgamma = sentinel(s.c), dbeta = sentinel(s.c);
    batch_norm_backward_train(s, x.data(), dy.data(), gamma.data(), mean.data(), invstd.data(),
                              dx.data(), dgamma.data(), dbeta.data());

    // The stated formula, in double from the saved statistics.
    const double count = static_cast<double>(s.n * s.hw);
    std::vector<double> sum_dy(s.c, 0.0), sum_dy_xhat(s.c, 0.0), dx_ref(size_of(s));
    auto xhat = [&](size_t i) {
      const int64_t c = channel_of(s, i);
      return (x[i] - static_cast<double>(mean[c])) * invstd[c];
    };
    for (size_t i = 0; i < x.size(); ++i) {
      sum_dy[channel_of(s, i)] += dy[i];
      sum_dy_xhat[channel_of(s, i)] += dy[i] * xhat(i);
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t c = channel_of(s, i);
      dx_ref[i] = gamma[c] * static_cast<double>(invstd[c]) / count *
                  (count * dy[i] - sum_dy[c] - xhat(i) * sum_dy_xhat[c]);
    }
    check_close(dx, dx_ref, 1e-4, 1e-5, "dx (formula)");
    check_close(dgamma, sum_dy_xhat, 1e-5, 1e-5, "dgamma");
    check_close(dbeta, sum_dy, 1e-5, 1e-5, "dbeta");

    // Central differences of L = <y(x, gamma, beta), dy> in double, at a few points.
    auto loss = [&](const std::vector<double>& xd, const std::vector<double>& gd,
                    const std::vector<double>& bd) {
      const auto yd = reference_train_forward(s, xd, gd, bd, kEps);
      double l = 0;
      for (size_t i = 0; i < yd.size(); ++i) l += yd[i] * dy[i];
      return l;
    };
    auto central = [&](std::vector<double>& v, size_t i, std::vector<double>& xd,
                       std::vector<double>& gd, std::vector<double>& bd) {
      const double h = 1e-6, saved = v[i];
      v[i] = saved + h;
      const double up = loss(xd, gd, bd);
      v[i] = saved - h;
      const double down = loss(xd, gd, bd);
      v[i] = saved;
      return (up - down) / (2 * h);
    };
    auto xd = widen(x), gd = widen(gamma), bd = widen(beta);
    const size_t step = std::max<size_t>(1, x.size() / 12);
    for (size_t i = 0; i < x.size(); i += step)
      CHECK(central(xd, i, xd, gd, bd) == doctest::Approx(dx[i]).epsilon(1e-3).scale(1e-3));
    for (int64_t c = 0; c < s.c; ++c) {
      CHECK(central(gd, c, xd, gd, bd) == doctest::Approx(dgamma[c]).epsilon(1e-4));
      CHECK(central(bd, c, xd, gd, bd) == doctest::Approx(dbeta[c]).epsilon(1e-4));
    }
  }
}

TEST_CASE("batch_norm evaluation forward and backward use the running statistics") {
  uint32_t seed = 200;
  for (const BatchNormShape& s : shapes()) {
    INFO(describe(s));
    const auto x = random_floats(size_of(s), seed++, -2.0f, 3.0f);
    const auto gamma = random_floats(s.c, seed++, 0.5f, 1.5f);
    const auto beta = random_floats(s.c, seed++);
    const auto running_mean = random_floats(s.c, seed++);
    const auto running_var = random_floats(s.c, seed++, 0.1f, 2.0f);
    const auto dy = random_floats(size_of(s), seed++);

    auto y = sentinel(size_of(s));
    batch_norm_forward_eval(s, x.data(), gamma.data(), beta.data(), running_mean.data(),
                            running_var.data(), kEps, y.data());
    auto dx = sentinel(size_of(s)), dgamma = sentinel(s.c), dbeta = sentinel(s.c);
    batch_norm_backward_eval(s, x.data(), dy.data(), gamma.data(), running_mean.data(),
                             running_var.data(), kEps, dx.data(), dgamma.data(), dbeta.data());

    std::vector<double> y_ref(size_of(s)), dx_ref(size_of(s));
    std::vector<double> dgamma_ref(s.c, 0.0), dbeta_ref(s.c, 0.0);
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t c = channel_of(s, i);
      const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + kEps);
      const double xhat = (x[i] - static_cast<double>(running_mean[c])) * invstd;
      y_ref[i] = xhat * gamma[c] + beta[c];
      dx_ref[i] = dy[i] * gamma[c] * invstd;
      dgamma_ref[c] += dy[i] * xhat;
      dbeta_ref[c] += dy[i];
    }
    check_close(y, y_ref, 1e-5, 1e-5, "eval y");
    check_close(dx, dx_ref, 1e-5, 1e-6, "eval dx");
    check_close(dgamma, dgamma_ref, 1e-5, 1e-5, "eval dgamma");
    check_close(dbeta, dbeta_ref, 1e-5, 1e-5, "eval dbeta");
  }
}

TEST_CASE("batch_norm treats null gamma and beta as 1 and 0") {
  const BatchNormShape s{2, 3, 5};
  const auto x = random_floats(size_of(s), 300);
  const auto dy = random_floats(size_of(s), 301);
  const std::vector<float> ones(3, 1.0f), zeros(3, 0.0f);
  std::vector<float> y1(size_of(s)), y2(size_of(s)), m(3), is(3), v(3);
  batch_norm_forward_train(s, x.data(), ones.data(), zeros.data(), kEps, y1.data(), m.data(),
                           is.data(), v.data());
  batch_norm_forward_train(s, x.data(), nullptr, nullptr, kEps, y2.data(), m.data(), is.data(),
                           v.data());
  CHECK(bitwise_equal(y1, y2));
  std::vector<float> dx1(size_of(s)), dx2(size_of(s));
  batch_norm_backward_train(s, x.data(), dy.data(), ones.data(), m.data(), is.data(), dx1.data(),
                            nullptr, nullptr);
  batch_norm_backward_train(s, x.data(), dy.data(), nullptr, m.data(), is.data(), dx2.data(),
                            nullptr, nullptr);
  CHECK(bitwise_equal(dx1, dx2));
}

TEST_CASE("batch_norm rejects bad shapes, eps and a single value per channel") {
  std::vector<float> buf(16, 1.0f);
  float* b = buf.data();
  CHECK_THROWS_AS(batch_norm_forward_train({1, 2, 1}, b, b, b, kEps, b, b, b, b),
                  std::runtime_error);
  CHECK_THROWS_AS(batch_norm_forward_train({0, 2, 3}, b, b, b, kEps, b, b, b, b),
                  std::runtime_error);
  CHECK_THROWS_AS(batch_norm_forward_train({1, 2, 3}, b, b, b, -1.0f, b, b, b, b),
                  std::runtime_error);
  CHECK_THROWS_AS(batch_norm_forward_eval({1, 2, 3}, b, b, b, nullptr, b, kEps, b),
                  std::runtime_error);
  CHECK_THROWS_AS(batch_norm_backward_train({1, 2, 3}, b, b, b, b, b, nullptr, b, b),
                  std::runtime_error);
  CHECK_THROWS_AS(batch_norm_backward_eval({1, 0, 3}, b, b, b, b, b, kEps, b, b, b),
                  std::runtime_error);
}
