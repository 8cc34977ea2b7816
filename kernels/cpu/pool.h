// Max and average pooling on raw NCHW float buffers (CPU). Global average pooling needs no kernel
// of its own: tensor/ops_nn.cpp builds it as a mean over the spatial axes.
// Floor mode. Outputs are OVERWRITTEN.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

struct Pool2dShape {
  int64_t n, c, h, w;
  int64_t kernel, stride, pad;
  int64_t out_h() const { return (h + 2 * pad - kernel) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - kernel) / stride + 1; }
};

// y (n, c, out_h, out_w); argmax holds, per output, the flat index h_i * w + w_i of the winner
// inside its (n, c) plane (first maximum in row-major window order; padding never wins).
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax);
// dx (n, c, h, w) is zeroed then receives dy at the argmax positions.
void max_pool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx);

// Padded cells count in the divisor (kernel * kernel always).
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);

}  // namespace radgal::kernels::cpu
