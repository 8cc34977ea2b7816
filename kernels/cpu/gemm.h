// Matrix multiply on raw row-major float buffers (CPU), in the BLAS convention:
//   C (m, n) = alpha * op(A) * op(B) + beta * C
// op(A) is A (m, k) stored with row stride lda, or, when trans_a, the transpose of a stored
// (k, m) matrix with row stride lda; likewise B. With beta == 0, C is OVERWRITTEN (its old
// contents, even NaN, are ignored); otherwise it is scaled and added to.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace radgal::kernels::cpu
