// GEMM (CPU) through Eigen's blocked matrix product on mapped row-major buffers. Transposes are
// expressed as Eigen transpose views, so no operand is copied here.
//
// Threads: Eigen's own OpenMP split depends on the thread count and changes the rounding, so
// the product is instead cut here into fixed blocks of whole rows or columns of C (sizes from
// the shape only) that OpenMP threads share. Inside a parallel region with more than one thread
// Eigen runs single-threaded, and a product small enough to stay in one block is also below
// Eigen's own threshold for starting threads. Every element of C therefore sees the same
// arithmetic whatever the thread count.
#include "kernels/cpu/gemm.h"

#include <Eigen/Core>
#include <algorithm>

namespace radgal::kernels::cpu {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class A, class B>
void multiply_into(const A& a, const B& b, float alpha, float beta, Map& c) {
  if (beta == 0.f) {
    c.noalias() = alpha * (a * b);
  } else {
    c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

// Products below this many multiply-adds stay in one block (Eigen alone would not split them
// either: it starts threads only from 2 x 50000).
constexpr int64_t kMinParallelWork = 100000;
constexpr int64_t kBlock = 128;  // rows or columns of C per block

void gemm_block(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc) {
  Map cm(c, m, n, Eigen::OuterStride<>(ldc));
  const ConstMap am(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  const ConstMap bm(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) multiply_into(am, bm, alpha, beta, cm);
  if (!trans_a && trans_b) multiply_into(am, bm.transpose(), alpha, beta, cm);
  if (trans_a && !trans_b) multiply_into(am.transpose(), bm, alpha, beta, cm);
  if (trans_a && trans_b) multiply_into(am.transpose(), bm.transpose(), alpha, beta, cm);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  Map cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == 0.f) {
      cm.setZero();
    } else {
      cm *= beta;
    }
    return;
  }
  if (m * n * k < kMinParallelWork) {
    gemm_block(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }

  // Even a single block runs inside the parallel region, which keeps Eigen from splitting it.
  // Split the longer side of C. Row block i of C needs row block i of op(A): rows of A, or
  // columns of the stored A when transposed. Likewise for column blocks and op(B).
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  const int64_t blocks = (extent + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t start = blk * kBlock, len = std::min(kBlock, extent - start);
    if (split_rows) {
      const float* a_block = trans_a ? a + start : a + start * lda;
      gemm_block(trans_a, trans_b, len, n, k, alpha, a_block, lda, b, ldb, beta, c + start * ldc,
                 ldc);
    } else {
      const float* b_block = trans_b ? b + start * ldb : b + start;
      gemm_block(trans_a, trans_b, m, len, k, alpha, a, lda, b_block, ldb, beta, c + start, ldc);
    }
  }
}

}  // namespace radgal::kernels::cpu
