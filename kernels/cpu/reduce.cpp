// Reductions (CPU). Work is split over independent outputs; a long single reduction (one output,
// many inputs) is cut into fixed-size blocks whose partial sums are added in block order, so the
// answer is the same on one thread or many.
#include "kernels/cpu/reduce.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace radgal::kernels::cpu {

namespace {

constexpr int64_t kSumBlock = 1 << 14;  // elements per partial sum of a long reduction

double sum_contiguous(const float* x, int64_t n) {
  // Four independent accumulators let the compiler keep a vector of doubles busy.
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    acc[0] += x[i];
    acc[1] += x[i + 1];
    acc[2] += x[i + 2];
    acc[3] += x[i + 3];
  }
  for (; i < n; ++i) acc[0] += x[i];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

template <class Better>
void extreme_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y,
                    int64_t* index, Better better) {
  const int64_t outputs = outer * inner;
#pragma omp parallel for schedule(static) if (outputs * r >= (1 << 15) && outputs > 1)
  for (int64_t out = 0; out < outputs; ++out) {
    const int64_t o = out / inner, i = out % inner;
    const float* base = x + o * r * inner + i;
    float best = base[0];
    int64_t best_j = 0;
    for (int64_t j = 1; j < r && !std::isnan(best); ++j) {
      const float v = base[j * inner];
      if (better(v, best) || std::isnan(v)) {
        best = v;
        best_j = j;
      }
    }
    y[out] = best;
    index[out] = best_j;
  }
}

}  // namespace

void sum_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y) {
  if (inner == 1 && outer < 4 && r > 2 * kSumBlock) {
    // Few long rows: parallelise inside each row over fixed blocks.
    const int64_t blocks = (r + kSumBlock - 1) / kSumBlock;
    std::vector<double> partial(blocks);
    for (int64_t o = 0; o < outer; ++o) {
      const float* row = x + o * r;
#pragma omp parallel for schedule(static)
      for (int64_t b = 0; b < blocks; ++b) {
        partial[b] = sum_contiguous(row + b * kSumBlock, std::min(kSumBlock, r - b * kSumBlock));
      }
      double total = 0;
      for (double p : partial) total += p;
      y[o] = static_cast<float>(total);
    }
    return;
  }

  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * r >= (1 << 15) && outer > 1)
    for (int64_t o = 0; o < outer; ++o) y[o] = static_cast<float>(sum_contiguous(x + o * r, r));
    return;
  }

  // inner > 1: add whole rows of length inner, which vectorises over i. Split over (o, i-block).
  constexpr int64_t kTile = 256;
  const int64_t tiles = (inner + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (outer * r * inner >= (1 << 15) && outer * tiles > 1)
  for (int64_t t = 0; t < outer * tiles; ++t) {
    const int64_t o = t / tiles, i0 = (t % tiles) * kTile, len = std::min(kTile, inner - i0);
    double acc[kTile];
    for (int64_t i = 0; i < len; ++i) acc[i] = 0.0;
    const float* base = x + o * r * inner + i0;
    for (int64_t j = 0; j < r; ++j) {
      const float* row = base + j * inner;
      for (int64_t i = 0; i < len; ++i) acc[i] += row[i];
    }
    float* out = y + o * inner + i0;
    for (int64_t i = 0; i < len; ++i) out[i] = static_cast<float>(acc[i]);
  }
}

void max_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y,
                int64_t* index) {
  extreme_reduce(outer, r, inner, x, y, index, [](float v, float best) { return v > best; });
}

void min_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y,
                int64_t* index) {
  extreme_reduce(outer, r, inner, x, y, index, [](float v, float best) { return v < best; });
}

}  // namespace radgal::kernels::cpu
