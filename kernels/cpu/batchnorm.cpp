// Batch normalisation on (n, c, hw) float buffers. Channels are independent and shared among
// threads; each channel's sums run in one thread, in a fixed order, in double (a 16 x 150 x 150
// channel sums 360,000 values, where float sums lose several digits), over 16 lanes
// (lane_sums.h).
// A null gamma or beta counts as 1 or 0; a null dgamma or dbeta is not written.
#include "kernels/cpu/batchnorm.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/lane_sums.h"

namespace radgal::kernels::cpu {
namespace {

void check_shape(const BatchNormShape& s, const char* op) {
  if (s.n < 1 || s.c < 1 || s.hw < 1)
    throw std::runtime_error(std::string("kernels/cpu/batchnorm: ") + op +
                             ": every extent must be >= 1 (n " + std::to_string(s.n) + ", c " +
                             std::to_string(s.c) + ", hw " + std::to_string(s.hw) + ")");
  const int64_t limit = int64_t{1} << 40;
  if (s.n >= limit || s.c >= limit || s.hw >= limit || s.n * s.hw >= limit)
    throw std::runtime_error(std::string("kernels/cpu/batchnorm: ") + op +
                             ": the tensor is too large");
}

void check_pointer(const void* p, const char* name, const char* op) {
  if (p == nullptr)
    throw std::runtime_error(std::string("kernels/cpu/batchnorm: ") + op + ": " + name +
                             " is null");
}

void check_eps(float eps, const char* op) {
  if (!(eps >= 0.0f) || !std::isfinite(eps))
    throw std::runtime_error(std::string("kernels/cpu/batchnorm: ") + op +
                             ": eps must be finite and >= 0, got " + std::to_string(eps));
}

// The (n, hw) values of channel ch are n runs of hw floats, hw * c apart.
template <typename F>
void for_each_in_channel(const BatchNormShape& s, int64_t ch, F&& f) {
  for (int64_t i = 0; i < s.n; ++i) {
    const int64_t base = (i * s.c + ch) * s.hw;
    for (int64_t j = 0; j < s.hw; ++j) f(base + j);
  }
}

// Sum over channel ch of term(flat index), in double.
template <typename Term>
double channel_sum(const BatchNormShape& s, int64_t ch, Term&& term) {
  LaneSums sum;
  for (int64_t i = 0; i < s.n; ++i) {
    const int64_t base = (i * s.c + ch) * s.hw;
    sum.add(s.hw, [&](int64_t j) { return term(base + j); });
  }
  return sum.total();
}

// Sums of dy and of dy * (x - mean) * invstd over channel ch, in one pass.
void gradient_sums(const BatchNormShape& s, int64_t ch, const float* x, const float* dy,
                   double mean, double invstd, double& sum_dy, double& sum_dy_xhat) {
  LaneSums a, b;
  for (int64_t i = 0; i < s.n; ++i) {
    const float* x_run = x + (i * s.c + ch) * s.hw;
    const float* dy_run = dy + (i * s.c + ch) * s.hw;
    a.add_with(
        b, s.hw, [&](int64_t j) { return static_cast<double>(dy_run[j]); },
        [&](int64_t j) { return dy_run[j] * ((x_run[j] - mean) * invstd); });
  }
  sum_dy = a.total();
  sum_dy_xhat = b.total();
}

float gamma_of(const float* gamma, int64_t ch) {
  return gamma != nullptr ? gamma[ch] : 1.0f;
}
float beta_of(const float* beta, int64_t ch) {
  return beta != nullptr ? beta[ch] : 0.0f;
}

}  // namespace

void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* gamma,
                              const float* beta, float eps, float* y, float* save_mean,
                              float* save_invstd, float* batch_var_unbiased) {
  const char* op = "batch_norm_forward_train";
  check_shape(s, op);
  check_eps(eps, op);
  check_pointer(x, "x", op);
  check_pointer(y, "y", op);
  check_pointer(save_mean, "save_mean", op);
  check_pointer(save_invstd, "save_invstd", op);
  check_pointer(batch_var_unbiased, "batch_var_unbiased", op);
  const int64_t count = s.n * s.hw;
  if (count < 2)
    throw std::runtime_error(
        "kernels/cpu/batchnorm: batch_norm_forward_train: a channel needs more than one value in "
        "training (n * hw = 1); use evaluation mode or a larger batch");

#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < s.c; ++ch) {
    // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels
    // badly when the mean is large against the spread.
    const double sum = channel_sum(s, ch, [&](int64_t i) { return static_cast<double>(x[i]); });
    const double mean = sum / static_cast<double>(count);
    const double squares = channel_sum(s, ch, [&](int64_t i) {
      const double d = x[i] - mean;
      return d * d;
    });
    const double var = squares / static_cast<double>(count);
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));

    save_mean[ch] = static_cast<float>(mean);
    save_invstd[ch] = static_cast<float>(invstd);
    batch_var_unbiased[ch] = static_cast<float>(squares / static_cast<double>(count - 1));

    // Centring before scaling keeps full precision when the mean is large against the spread.
    const float centre = static_cast<float>(mean);
    const float scale = static_cast<float>(gamma_of(gamma, ch) * invstd);
    const float shift = beta_of(beta, ch);
    for_each_in_channel(s, ch, [&](int64_t i) { y[i] = (x[i] - centre) * scale + shift; });
  }
}

void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             float eps, float* y) {
  const char* op = "batch_norm_forward_eval";
  check_shape(s, op);
  check_eps(eps, op);
  check_pointer(x, "x", op);
  check_pointer(running_mean, "running_mean", op);
  check_pointer(running_var, "running_var", op);
  check_pointer(y, "y", op);

#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < s.c; ++ch) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[ch]) + eps);
    const double g = gamma_of(gamma, ch);
    const float scale = static_cast<float>(g * invstd);
    const float shift = static_cast<float>(beta_of(beta, ch) - running_mean[ch] * g * invstd);
    for_each_in_channel(s, ch, [&](int64_t i) { y[i] = x[i] * scale + shift; });
  }
}

void batch_norm_backward_train(const BatchNormShape& s, const float* x, const float* dy,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               float* dx, float* dgamma, float* dbeta) {
  const char* op = "batch_norm_backward_train";
  check_shape(s, op);
  check_pointer(x, "x", op);
  check_pointer(dy, "dy", op);
  check_pointer(save_mean, "save_mean", op);
  check_pointer(save_invstd, "save_invstd", op);
  check_pointer(dx, "dx", op);
  const double count = static_cast<double>(s.n * s.hw);

#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < s.c; ++ch) {
    const double mean = save_mean[ch];
    const double invstd = save_invstd[ch];
    double sum_dy, sum_dy_xhat;
    gradient_sums(s, ch, x, dy, mean, invstd, sum_dy, sum_dy_xhat);
    if (dgamma != nullptr) dgamma[ch] = static_cast<float>(sum_dy_xhat);
    if (dbeta != nullptr) dbeta[ch] = static_cast<float>(sum_dy);

    // dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)), written as
    // a * dy + b * (x - mean) + c with per-channel constants.
    const double k = gamma_of(gamma, ch) * invstd;
    const float a = static_cast<float>(k);
    const float b = static_cast<float>(-k * invstd * sum_dy_xhat / count);
    const float c = static_cast<float>(-k * sum_dy / count);
    const float centre = static_cast<float>(mean);
    for_each_in_channel(s, ch, [&](int64_t i) { dx[i] = a * dy[i] + b * (x[i] - centre) + c; });
  }
}

void batch_norm_backward_eval(const BatchNormShape& s, const float* x, const float* dy,
                              const float* gamma, const float* running_mean,
                              const float* running_var, float eps, float* dx, float* dgamma,
                              float* dbeta) {
  const char* op = "batch_norm_backward_eval";
  check_shape(s, op);
  check_eps(eps, op);
  check_pointer(x, "x", op);
  check_pointer(dy, "dy", op);
  check_pointer(running_mean, "running_mean", op);
  check_pointer(running_var, "running_var", op);
  check_pointer(dx, "dx", op);

#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < s.c; ++ch) {
    const double mean = running_mean[ch];
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[ch]) + eps);
    const float scale = static_cast<float>(gamma_of(gamma, ch) * invstd);
    double sum_dy, sum_dy_xhat;
    gradient_sums(s, ch, x, dy, mean, invstd, sum_dy, sum_dy_xhat);
    // After the sums: dx may be the same buffer as dy.
    for_each_in_channel(s, ch, [&](int64_t i) { dx[i] = dy[i] * scale; });
    if (dgamma != nullptr) dgamma[ch] = static_cast<float>(sum_dy_xhat);
    if (dbeta != nullptr) dbeta[ch] = static_cast<float>(sum_dy);
  }
}

}  // namespace radgal::kernels::cpu
