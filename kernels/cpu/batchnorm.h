// Batch normalisation over (n, c, hw) float buffers (CPU): per-channel statistics over n * hw.
// Outputs are OVERWRITTEN.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

struct BatchNormShape {
  int64_t n, c, hw;  // x is (n, c, hw) dense
};

// Training: batch mean and biased variance; writes y, save_mean (c), save_invstd (c) =
// 1 / sqrt(var + eps), and batch_var_unbiased (c) for the running-statistics update.
void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* gamma,
                              const float* beta, float eps, float* y, float* save_mean,
                              float* save_invstd, float* batch_var_unbiased);
// Evaluation with running statistics.
void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, const float* running_mean,
                             const float* running_var, float eps, float* y);
// Backward of the training forward: dx, dgamma (c), dbeta (c).
void batch_norm_backward_train(const BatchNormShape& s, const float* x, const float* dy,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, float* dx, float* dgamma, float* dbeta);
// Backward of the evaluation forward (statistics are constants): dx, dgamma, dbeta.
void batch_norm_backward_eval(const BatchNormShape& s, const float* x, const float* dy,
                              const float* gamma, const float* running_mean,
                              const float* running_var, float eps, float* dx, float* dgamma,
                              float* dbeta);

}  // namespace radgal::kernels::cpu
