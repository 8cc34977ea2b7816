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
  // Eight double lanes (two AVX registers) that the compiler vectorises; each float is widened
  // before it is added, so the error does not grow with n the way a float running sum's does.
  constexpr int64_t kLanes = 8;
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] += x[i + l];
  }
  for (; i < n; ++i) lanes[0] += x[i];
  double total = 0;
  for (int64_t l = 0; l < kLanes; ++l) total += lanes[l];
  return total;
}

// A value replaces the best so far when it is strictly better, or when it is the first NaN.
template <class Better>
bool replaces(Better better, float v, float best) {
  return better(v, best) || (v != v && best == best);
}

template <class Better>
void extreme_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y,
                    int64_t* index, Better better) {
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * r >= (1 << 15) && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const float* row = x + o * r;
      float best = row[0];
      int64_t best_j = 0;
      for (int64_t j = 1; j < r; ++j) {
        if (replaces(better, row[j], best)) {
          best = row[j];
          best_j = j;
        }
      }
      y[o] = best;
      index[o] = best_j;
    }
    return;
  }
  // inner > 1: sweep whole rows of length inner so reads stay sequential.
#pragma omp parallel for schedule(static) if (outer * r * inner >= (1 << 15) && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    const float* base = x + o * r * inner;
    float* best = y + o * inner;
    int64_t* best_j = index + o * inner;
    for (int64_t i = 0; i < inner; ++i) {
      best[i] = base[i];
      best_j[i] = 0;
    }
    for (int64_t j = 1; j < r; ++j) {
      const float* row = base + j * inner;
      for (int64_t i = 0; i < inner; ++i) {
        if (replaces(better, row[i], best[i])) {
          best[i] = row[i];
          best_j[i] = j;
        }
      }
    }
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

void max_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y, int64_t* index) {
  extreme_reduce(outer, r, inner, x, y, index, [](float v, float best) { return v > best; });
}

void min_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y, int64_t* index) {
  extreme_reduce(outer, r, inner, x, y, index, [](float v, float best) { return v < best; });
}

}  // namespace radgal::kernels::cpu
