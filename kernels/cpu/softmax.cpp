// Softmax family (CPU). Rows are independent, so they are split over threads; each row is
// computed in a fixed order by one thread.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace radgal::kernels::cpu {

void softmax_forward(int64_t outer, int64_t r, int64_t inner, const float* x, float* y,
                     bool log) {
  const int64_t rows = outer * inner;
#pragma omp parallel for schedule(static) if (rows * r >= (1 << 15) && rows > 1)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t o = row / inner, i = row % inner;
    const float* xs = x + o * r * inner + i;
    float* ys = y + o * r * inner + i;
    float peak = -INFINITY;
    for (int64_t j = 0; j < r; ++j) peak = std::max(peak, xs[j * inner]);
    // A row of all -inf has no finite maximum; shift by 0 so the result is NaN like PyTorch.
    if (std::isinf(peak)) peak = 0.f;
    double total = 0;
    for (int64_t j = 0; j < r; ++j) total += std::exp(xs[j * inner] - peak);
    if (log) {
      const float lse = static_cast<float>(std::log(total)) + peak;
      for (int64_t j = 0; j < r; ++j) ys[j * inner] = xs[j * inner] - lse;
    } else {
      const float scale = static_cast<float>(1.0 / total);
      for (int64_t j = 0; j < r; ++j) ys[j * inner] = std::exp(xs[j * inner] - peak) * scale;
    }
  }
}

void softmax_backward(int64_t outer, int64_t r, int64_t inner, const float* y, const float* dy,
                      float* dx, bool log) {
  const int64_t rows = outer * inner;
#pragma omp parallel for schedule(static) if (rows * r >= (1 << 15) && rows > 1)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t o = row / inner, i = row % inner;
    const int64_t base = o * r * inner + i;
    double dot = 0;
    if (log) {
      for (int64_t j = 0; j < r; ++j) dot += dy[base + j * inner];
      for (int64_t j = 0; j < r; ++j) {
        const int64_t k = base + j * inner;
        dx[k] = dy[k] - std::exp(y[k]) * static_cast<float>(dot);
      }
    } else {
      for (int64_t j = 0; j < r; ++j) dot += double(dy[base + j * inner]) * y[base + j * inner];
      for (int64_t j = 0; j < r; ++j) {
        const int64_t k = base + j * inner;
        dx[k] = y[k] * (dy[k] - static_cast<float>(dot));
      }
    }
  }
}

float cross_entropy_forward(int64_t n, int64_t c, const float* logits, const int64_t* targets,
                            const float* weights, float eps, float* dlogits) {
  auto w = [&](int64_t k) { return weights ? weights[k] : 1.f; };
  double weight_total = 0;
  for (int64_t i = 0; i < n; ++i) weight_total += w(targets[i]);
  if (weight_total == 0) {
    throw std::runtime_error(
        "cross_entropy: the class weights of the batch's targets sum to 0, so the weighted mean "
        "is undefined");
  }

  // Per sample: coefficient q_k on -log p_k, then d/dlogit_j of sum_k q_k (-log p_k) is
  // p_j * sum_k q_k - q_j.
  double loss = 0;
  std::vector<float> logp(c), q(c);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits + i * c;
    softmax_forward(1, c, 1, row, logp.data(), /*log=*/true);
    double q_total = 0;
    for (int64_t k = 0; k < c; ++k) {
      q[k] = eps / static_cast<float>(c) * w(k) + (k == targets[i] ? (1.f - eps) * w(k) : 0.f);
      q_total += q[k];
      if (q[k] != 0.f) loss -= double(q[k]) * logp[k];  // 0 * -inf would be NaN
    }
    for (int64_t k = 0; k < c; ++k) {
      dlogits[i * c + k] = static_cast<float>(
          (std::exp(double(logp[k])) * q_total - q[k]) / weight_total);
    }
  }
  return static_cast<float>(loss / weight_total);
}

}  // namespace radgal::kernels::cpu
