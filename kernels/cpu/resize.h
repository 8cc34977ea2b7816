// Bilinear resize of (n*c) planes of h x w to out_h x out_w (CPU). Outputs are OVERWRITTEN.
// align_corners = false: src = max(0, (dst + 0.5) * in / out - 0.5); true: src = dst * (in - 1)
// / (out - 1) (0 when out == 1). Neighbours are clamped at the last row/column.
#pragma once

#include <cstdint>
#include <vector>

namespace radgal::kernels::cpu {

// For each output index along one axis: the two source indices and their weights, computed in
// float the way PyTorch's CPU kernel does. Shared with the fused attention gate.
struct BilinearTaps {
  std::vector<int64_t> lo, hi;
  std::vector<float> w_lo, w_hi;
};
BilinearTaps bilinear_taps(int64_t in, int64_t out, bool align_corners);

void upsample_bilinear2d_forward(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                 int64_t out_w, bool align_corners, const float* x, float* y);
// dx (planes, h, w) is zeroed, then receives the transposed interpolation of dy.
void upsample_bilinear2d_backward(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                  int64_t out_w, bool align_corners, const float* dy, float* dx);

}  // namespace radgal::kernels::cpu
