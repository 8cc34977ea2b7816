// Reductions on raw float buffers (CPU). The input is viewed as a dense (outer, r, inner) block
// and reduced over the middle axis, giving a dense (outer, inner) output that is OVERWRITTEN.
// Any set of adjacent axes of a contiguous tensor maps onto this form.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

// y[o, i] = sum over j of x[o, j, i]. Accumulates in double; the order of additions is fixed,
// so the result does not depend on the thread count.
void sum_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y);

// y[o, i] = max (or min) over j of x[o, j, i]; index[o, i] = the first j holding it. NaN wins
// over every number, as in PyTorch. r must be at least 1.
void max_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y, int64_t* index);
void min_reduce(int64_t outer, int64_t r, int64_t inner, const float* x, float* y, int64_t* index);

}  // namespace radgal::kernels::cpu
