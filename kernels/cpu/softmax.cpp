// Softmax family (CPU), vectorised through Eigen array expressions (SIMD exp). Rows, or tiles
// of columns when the softmax axis is not the last, are independent and split over threads;
// each is computed by one thread in a fixed order. Sums are accumulated in double.
#include "kernels/cpu/softmax.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace radgal::kernels::cpu {

namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;
// A dense (r, inner) block, one softmax per column.
using RowMajorArray = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Block = Eigen::Map<RowMajorArray, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstBlock = Eigen::Map<const RowMajorArray, Eigen::Unaligned, Eigen::OuterStride<>>;

// One contiguous row of length r (the softmax axis is the last one).
void softmax_row(int64_t r, const float* x, float* y, bool log) {
  ConstArrayMap xs(x, r);
  ArrayMap ys(y, r);
  float peak = xs.maxCoeff();
  // A row of all -inf has no finite maximum; shift by 0 so the result is NaN like PyTorch.
  if (std::isinf(peak)) peak = 0.f;
  ys = (xs - peak).exp();
  const double total = ys.cast<double>().sum();
  if (log) {
    ys = xs - (static_cast<float>(std::log(total)) + peak);
  } else {
    ys *= static_cast<float>(1.0 / total);
  }
}

// Columns [i0, i0 + len) of one (r, inner) block: every step sweeps whole rows.
void softmax_columns(int64_t r, int64_t inner, int64_t i0, int64_t len, const float* x, float* y,
                     bool log) {
  const ConstBlock xs(x + i0, r, len, Eigen::OuterStride<>(inner));
  Block ys(y + i0, r, len, Eigen::OuterStride<>(inner));
  Eigen::ArrayXXf peak = xs.colwise().maxCoeff();
  peak = (peak.isInf()).select(0.f, peak);
  ys = (xs.rowwise() - peak.row(0)).exp();
  const Eigen::ArrayXXf total = ys.cast<double>().colwise().sum().cast<float>();
  if (log) {
    ys = xs.rowwise() - (peak + total.log()).row(0);
  } else {
    ys.rowwise() /= total.row(0);
  }
}

// Calls body(o, i0, len) over every (block o, column tile) pair, split over threads.
template <class Body>
void for_each_tile(int64_t outer, int64_t r, int64_t inner, Body body) {
  constexpr int64_t kTile = 256;
  const int64_t tiles = (inner + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (outer * r * inner >= (1 << 15) && outer * tiles > 1)
  for (int64_t t = 0; t < outer * tiles; ++t) {
    const int64_t o = t / tiles, i0 = (t % tiles) * kTile;
    body(o, i0, std::min(kTile, inner - i0));
  }
}

}  // namespace

void softmax_forward(int64_t outer, int64_t r, int64_t inner, const float* x, float* y, bool log) {
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * r >= (1 << 15) && outer > 1)
    for (int64_t o = 0; o < outer; ++o) softmax_row(r, x + o * r, y + o * r, log);
    return;
  }
  for_each_tile(outer, r, inner, [&](int64_t o, int64_t i0, int64_t len) {
    softmax_columns(r, inner, i0, len, x + o * r * inner, y + o * r * inner, log);
  });
}

void softmax_backward(int64_t outer, int64_t r, int64_t inner, const float* y, const float* dy,
                      float* dx, bool log) {
  for_each_tile(outer, r, inner, [&](int64_t o, int64_t i0, int64_t len) {
    const int64_t base = o * r * inner + i0;
    const Eigen::OuterStride<> stride(inner);
    const ConstBlock ys(y + base, r, len, stride), dys(dy + base, r, len, stride);
    Block dxs(dx + base, r, len, stride);
    if (log) {
      const Eigen::ArrayXXf total = dys.cast<double>().colwise().sum().cast<float>();
      dxs = dys - ys.exp().rowwise() * total.row(0);
    } else {
      const Eigen::ArrayXXf dot = (dys * ys).cast<double>().colwise().sum().cast<float>();
      dxs = ys * (dys.rowwise() - dot.row(0));
    }
  });
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
      dlogits[i * c + k] =
          static_cast<float>((std::exp(double(logp[k])) * q_total - q[k]) / weight_total);
    }
  }
  return static_cast<float>(loss / weight_total);
}

}  // namespace radgal::kernels::cpu
