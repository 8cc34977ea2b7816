// Strided iteration over dense or broadcast layouts, shared by the CPU kernels.
//
// A layout is a shape plus, per operand, one stride per dimension (in elements; 0 for a
// broadcast dimension). coalesce() merges neighbouring dimensions that every operand walks
// contiguously, so most real layouts end up as one or two dimensions; for_each_row() then calls
// a body once per innermost row, where the compiler can vectorise the body's plain loop.
#pragma once

#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace radgal::kernels::cpu {

using Dims = std::vector<int64_t>;

// Drops size-1 dimensions and merges dimension d into d + 1 when every operand has
// stride[d] == stride[d + 1] * shape[d + 1]. Always leaves at least one dimension.
inline void coalesce(Dims& shape, std::vector<Dims*> strides) {
  Dims out_shape;
  std::vector<Dims> out_strides(strides.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out_shape.empty();
    for (size_t k = 0; merge && k < strides.size(); ++k) {
      merge = out_strides[k].back() == (*strides[k])[d] * shape[d];
    }
    if (merge) {
      out_shape.back() *= shape[d];
      for (size_t k = 0; k < strides.size(); ++k) out_strides[k].back() = (*strides[k])[d];
    } else {
      out_shape.push_back(shape[d]);
      for (size_t k = 0; k < strides.size(); ++k) out_strides[k].push_back((*strides[k])[d]);
    }
  }
  if (out_shape.empty()) {
    out_shape.push_back(1);
    for (auto& s : out_strides) s.push_back(0);
  }
  shape = out_shape;
  for (size_t k = 0; k < strides.size(); ++k) *strides[k] = out_strides[k];
}

// Calls body(offsets, row_length) for every innermost row of `shape`, where offsets[k] is the
// element offset of operand k at the start of the row. Rows are split statically over OpenMP
// threads when there is enough work; each row is handled by exactly one thread, so results do
// not depend on the thread count.
template <size_t N, class Body>
void for_each_row(const Dims& shape, const Dims* const (&strides)[N], Body body) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t row_length = shape[rank - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const bool parallel = rows > 1 && rows * row_length >= (1 << 15);

#pragma omp parallel if (parallel)
  {
    // Static split of [0, rows) without a per-row index division: each thread walks its own
    // block with a multi-index counter.
#ifdef _OPENMP
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
#else
    const int64_t threads = 1, t = 0;
#endif
    const int64_t begin = rows * t / threads, end = rows * (t + 1) / threads;
    if (begin < end) {
      Dims index(rank > 1 ? rank - 1 : 1, 0);
      int64_t offsets[N] = {};
      int64_t rest = begin;
      for (int64_t d = rank - 2; d >= 0; --d) {
        index[d] = rest % shape[d];
        rest /= shape[d];
        for (size_t k = 0; k < N; ++k) offsets[k] += index[d] * (*strides[k])[d];
      }
      for (int64_t row = begin; row < end; ++row) {
        body(offsets, row_length);
        for (int64_t d = rank - 2; d >= 0; --d) {
          for (size_t k = 0; k < N; ++k) offsets[k] += (*strides[k])[d];
          if (++index[d] < shape[d]) break;
          for (size_t k = 0; k < N; ++k) offsets[k] -= shape[d] * (*strides[k])[d];
          index[d] = 0;
        }
      }
    }
  }
}

}  // namespace radgal::kernels::cpu
