// Softmax, log-softmax and cross-entropy on raw float buffers (CPU). The softmax axis is the
// middle axis of a dense (outer, r, inner) block. Outputs are OVERWRITTEN.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

// y = softmax(x) (or log_softmax when log) along the middle axis; the row maximum is subtracted
// first so large logits do not overflow.
void softmax_forward(int64_t outer, int64_t r, int64_t inner, const float* x, float* y, bool log);
// dx from dy and the forward OUTPUT y:
//   softmax:     dx = y * (dy - sum_j dy_j y_j)
//   log_softmax: dx = dy - exp(y) * sum_j dy_j
void softmax_backward(int64_t outer, int64_t r, int64_t inner, const float* y, const float* dy,
                      float* dx, bool log);

// Cross-entropy from logits (n, c) and targets in [0, c), as PyTorch defines it with class
// weights w (c, or null for all ones) and label smoothing eps:
//   loss_i = (1 - eps) w[t_i] (-log p_i,t_i) + (eps / c) sum_k w[k] (-log p_i,k)
//   loss   = sum_i loss_i / sum_i w[t_i]
// Returns the loss and writes dlogits (n, c), the gradient of the loss itself.
// Throws std::runtime_error if sum_i w[t_i] is 0 (the weighted mean is undefined).
float cross_entropy_forward(int64_t n, int64_t c, const float* logits, const int64_t* targets,
                            const float* weights, float eps, float* dlogits);

}  // namespace radgal::kernels::cpu
