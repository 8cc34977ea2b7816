// The two convolution algorithms behind conv.h, exposed so that tests can check each on every
// shape and benchmarks can compare them. Code outside kernels/, tests and bench should call
// conv.h, which picks an algorithm by shape alone (never by thread count), so its results are
// reproducible everywhere.
//
//   im2col + GEMM  every geometry; Eigen's GEMM on blocks of the column matrix.
//   direct         stride 1, not pointwise; register tiles of a few output channels, no column
//                  matrix. Faster where channels are few and im2col's copy dominates.
//
// Both write their outputs (OVERWRITE) and split work into (image, block of output rows) items
// fixed by the per-image shape, so each is bitwise reproducible across thread counts.
#pragma once

#include <cstdint>

#include "kernels/cpu/conv.h"

namespace radgal::kernels::cpu {

// A convolution as the algorithms see it: the public shape, with separate and possibly negative
// paddings (negative = crop) and an explicit output size, which the transposed convolution of
// backward_input needs.
struct ConvGeometry {
  int64_t n, c_in, h, w;
  int64_t c_out, kh, kw;
  int64_t stride, pad_h, pad_w, dilation;
  int64_t out_h, out_w;

  int64_t patch() const { return c_in * kh * kw; }  // rows of the im2col matrix
  int64_t out_plane() const { return out_h * out_w; }
  // A 1x1 stride-1 unpadded convolution reads its input plane as the im2col matrix itself.
  bool pointwise() const {
    return kh == 1 && kw == 1 && stride == 1 && pad_h == 0 && pad_w == 0 && out_h == h &&
           out_w == w;
  }
};

// The geometry of a checked public shape.
ConvGeometry conv_geometry(const Conv2dShape& s);

// With stride 1, backward_input is a forward convolution: dx = conv(dy, flipped) where
// flipped (c_in, c_out, kh, kw) holds weight[o][i][kh-1-a][kw-1-b] at [i][o][a][b], padded by
// dilation * (k - 1) - pad on each side. Requires g.stride == 1.
ConvGeometry backward_input_geometry(const ConvGeometry& g);
void flip_weight_for_backward_input(const ConvGeometry& g, const float* weight, float* flipped);

// The algorithm conv.h uses for this geometry (measured on the AG-CNN layers, bench/README.md):
// forward (and stride-1 backward_input) goes direct with at most 8 output channels, or 16 on
// rows of at least 64 pixels; backward_weight goes direct with at most 8 output channels.
// Anything else, and everything direct does not support, uses im2col + GEMM.
bool direct_conv_preferred_forward(const ConvGeometry& g);
bool direct_conv_preferred_weight(const ConvGeometry& g);
// Whether the direct algorithm can compute this geometry at all.
bool direct_conv_supports(const ConvGeometry& g);

// y (n, c_out, out_h, out_w) = conv(x, weight) + bias; bias may be null.
void im2col_conv_forward(const ConvGeometry& g, const float* x, const float* weight,
                         const float* bias, float* y);
void direct_conv_forward(const ConvGeometry& g, const float* x, const float* weight,
                         const float* bias, float* y);

// dweight (c_out, c_in, kh, kw) = sum over the batch of dy correlated with x.
void im2col_conv_backward_weight(const ConvGeometry& g, const float* x, const float* dy,
                                 float* dweight);
void direct_conv_backward_weight(const ConvGeometry& g, const float* x, const float* dy,
                                 float* dweight);

}  // namespace radgal::kernels::cpu
