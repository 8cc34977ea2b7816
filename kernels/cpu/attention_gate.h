// The additive attention gate's scores in one pass (CPU). For image i and pixel p of x:
//
//   t[k, p]  = sum_c theta[k, c] * x[i, c, p]  +  up(phi[i, k])[p]          k = 0 .. inter-1
//   psi[i, p] = psi_b + sum_k psi_w[k] * max(t[k, p], 0)
//
// where up() is the bilinear resize (align_corners = false) of phi's (gh, gw) grid to x's (h, w).
// This is theta (1x1 conv, no bias), phi's upsampling, the add, the ReLU and psi (1x1 conv to one
// channel) fused: the unfused chain writes and reads four (n, inter, h, w) tensors, 92 MB per
// direction for the AG-CNN's first gate at batch 16, where this one keeps a single row of t.
// The backward recomputes t row by row instead of storing it.
//
// Images are shared among threads; parameter gradients are summed per image and then over the
// images in order, so results do not depend on the thread count. Outputs are OVERWRITTEN.
#pragma once

#include <cstdint>

namespace radgal::kernels::cpu {

struct AttentionGateShape {
  int64_t n, c, h, w;  // x
  int64_t inter;       // channels of theta and phi (64 in the AG-CNN)
  int64_t gh, gw;      // phi's grid before upsampling
};

// x (n, c, h, w), theta (inter, c), phi (n, inter, gh, gw), psi_w (inter), psi_b (1)
// -> psi (n, h, w).
void attention_gate_forward(const AttentionGateShape& s, const float* x, const float* theta,
                            const float* phi, const float* psi_w, const float* psi_b, float* psi);

// dpsi (n, h, w) -> dx (n, c, h, w), dtheta (inter, c), dphi (n, inter, gh, gw), dpsi_w (inter),
// dpsi_b (1). Any output pointer may be null when that gradient is not wanted.
void attention_gate_backward(const AttentionGateShape& s, const float* x, const float* theta,
                             const float* phi, const float* psi_w, const float* dpsi, float* dx,
                             float* dtheta, float* dphi, float* dpsi_w, float* dpsi_b);

}  // namespace radgal::kernels::cpu
