// The operators on Tensor, each differentiable. Every function here dispatches on the device of
// its inputs (tensor/dispatch.cpp) to a kernel in kernels/<device>/, records its backward on the
// tape when an input requires a gradient, and returns a new tensor (never writes an input).
//
// Shape errors throw radgal::ShapeError with the operation name and every shape involved, e.g.
//   "add: cannot broadcast [2, 3] with [4]".
// Layout: images are NCHW. Axes may be negative (counted from the end).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace radgal {

struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class Generator;

// ---- elementwise, with numpy-style broadcasting -------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float b);
Tensor mul(const Tensor& a, float b);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor pow(const Tensor& a, float exponent);
Tensor abs(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor leaky_relu(const Tensor& a, float negative_slope = 0.01f);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, float b);
Tensor operator-(const Tensor& a, float b);
Tensor operator*(const Tensor& a, float b);
Tensor operator/(const Tensor& a, float b);
Tensor operator-(const Tensor& a);

// ---- reductions (empty axes = all axes) ------------------------------------------------------
Tensor sum(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// max/min: the gradient goes to the first position holding the extreme value.
Tensor max(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor min(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false);
// correction = 0 is the population variance, 1 the sample variance.
Tensor var(const Tensor& a, const std::vector<int64_t>& axes = {}, bool keepdim = false,
           int correction = 0);
std::vector<int64_t> argmax(const Tensor& a, int64_t axis);  // a is 2-D; per row; not recorded

// ---- linear algebra ------------------------------------------------------------------------
// matmul: (m, k) x (k, n) -> (m, n), and batched (b, m, k) x (b, k, n) -> (b, m, n).
Tensor matmul(const Tensor& a, const Tensor& b);
// linear: x (n, in), weight (out, in), bias (out) or undefined -> (n, out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- softmax and losses ----------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t axis);      // max-subtracted, stable
Tensor log_softmax(const Tensor& x, int64_t axis);  // log-sum-exp, stable
// Cross-entropy from logits (n, c) against class indices; mean over the batch, weighted as
// PyTorch does (sum of w[y_i] * loss_i / sum of w[y_i]). class_weights may be empty.
// label_smoothing eps mixes the one-hot target with the uniform distribution.
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& targets,
                     const std::vector<float>& class_weights = {}, float label_smoothing = 0.f);
// Cross-entropy against target distributions: mean over the batch of -sum_k q_ik log p_ik, with
// p = softmax(logits) and q (n, c) rows of non-negative numbers summing to 1 (checked to 1e-4;
// knowledge distillation's soft labels). No gradient flows into q.
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs);

// ---- convolution and pooling (NCHW) ------------------------------------------------------------
struct Conv2dOptions {
  int64_t stride = 1, padding = 0, dilation = 1;
};
// x (n, c_in, h, w), weight (c_out, c_in, kh, kw), bias (c_out) or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options = {});

struct Pool2dOptions {
  int64_t kernel = 2, stride = 2, padding = 0;  // floor mode; stride 0 means stride = kernel
};
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
// Average pool; padded cells count in the divisor (PyTorch's count_include_pad = true).
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor global_avg_pool2d(const Tensor& x);  // (n, c, h, w) -> (n, c)

// Batch norm over (n, c, h, w) with per-channel gamma and beta (c). In training it normalises
// with the batch statistics (biased variance) and updates running_mean and running_var in place
// with the unbiased variance: r = (1 - momentum) r + momentum * batch. In evaluation it uses the
// running statistics. running_* are plain tensors (never require a gradient).
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    Tensor& running_mean, Tensor& running_var, bool training,
                    float momentum = 0.1f, float eps = 1e-5f);

// Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p).
// Identity when !training or p == 0.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);

// Bilinear resize of (n, c, h, w) to (n, c, out_h, out_w). align_corners = false uses
// src = (dst + 0.5) * in / out - 0.5, clamped at 0; true uses src = dst * (in - 1) / (out - 1).
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);

// The additive attention gate's scores before normalisation, fused (Oktay et al. 2018):
//   relu(conv2d(x, theta) + upsample_bilinear2d(phi, h, w, false)) -> conv2d(., psi_w, psi_b)
// x (n, c, h, w), theta (inter, c, 1, 1), phi (n, inter, gh, gw) already through its own 1x1
// conv, psi_w (1, inter, 1, 1), psi_b (1) -> (n, 1, h, w). Same values as the chain, without
// its four (n, inter, h, w) intermediates; gradients reach all five inputs.
Tensor attention_gate_scores(const Tensor& x, const Tensor& theta, const Tensor& phi,
                             const Tensor& psi_w, const Tensor& psi_b);

// ---- shape operators ---------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& tensors, int64_t axis);
Tensor stack(const std::vector<Tensor>& tensors, int64_t axis);
Tensor flatten(const Tensor& x, int64_t start_dim = 1, int64_t end_dim = -1);
// Constant padding of the last len(pads)/2 dims; pads = {left, right, top, bottom, ...} in the
// order PyTorch's F.pad uses (last dim first).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value = 0.f);

}  // namespace radgal
