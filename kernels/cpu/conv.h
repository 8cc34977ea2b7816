// Convolution on raw NCHW float buffers (CPU). Every buffer is dense and row-major; the shapes
// are given explicitly. Outputs are OVERWRITTEN, never accumulated into.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

struct Conv2dShape {
  int64_t n, c_in, h, w;          // input  (n, c_in, h, w)
  int64_t c_out, kh, kw;          // weight (c_out, c_in, kh, kw)
  int64_t stride = 1, pad = 0, dilation = 1;
  int64_t out_h() const { return (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1; }
};

// y (n, c_out, out_h, out_w) = conv(x, weight) + bias; bias may be null.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    float* y);
// dx (n, c_in, h, w) from dy (n, c_out, out_h, out_w).
void conv2d_backward_input(const Conv2dShape& s, const float* dy, const float* weight, float* dx);
// dweight (c_out, c_in, kh, kw) and dbias (c_out, may be null), summed over the batch.
void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dweight,
                            float* dbias);

}  // namespace radgal::kernels::cpu
