// Device dispatch: every operator in tensor/ops.h computes through these functions, which check
// dtype and device and call the kernel for that device (kernels::cpu today). A CUDA backend slots
// in here behind the same names; until then a CUDA tensor gets a clear error naming the op.
// Internal to tensor/.
//
// Conventions: `op` is the user-facing operator name for error messages. Tensors said to be
// dense must be contiguous (callers make them so); outputs are OVERWRITTEN.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/attention_gate.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/pool.h"
#include "tensor/tensor.h"

namespace radgal::dispatch {

using kernels::cpu::BinaryOp;
using kernels::cpu::UnaryOp;

// Throws unless every defined tensor is float32 and all sit on one device; returns the device.
Device check_inputs(const char* op, std::initializer_list<const Tensor*> tensors);

// Allocation of uninitialised, 64-byte aligned storage for `bytes` on `device`; release takes
// the same byte count back. Large host blocks are cached for reuse (see dispatch.cpp).
void* allocate(size_t bytes, Device device);
void release(void* data, size_t bytes, Device device);

// dst = src elementwise; same shape, any layouts (src may be expanded).
void copy(const char* op, const Tensor& src, Tensor& dst);
void fill(const char* op, Tensor& dst, float value);  // dst dense
// y (dense) = a op b, where a and b have already been expanded to y's shape.
void binary(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b, Tensor& y);
void accumulate(const char* op, const Tensor& x, Tensor& y);  // y += x, both dense
void unary_forward(const char* op, UnaryOp kind, const Tensor& x, float param, Tensor& y);
// x or y may be undefined when the op's derivative does not read it.
void unary_backward(const char* op, UnaryOp kind, const Tensor& x, const Tensor& y,
                    const Tensor& dy, float param, Tensor& dx);

// x dense viewed as (outer, r, inner) -> y dense (outer, inner).
void sum_reduce(const char* op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                Tensor& y);
void extreme_reduce(const char* op, bool is_max, const Tensor& x, int64_t outer, int64_t r,
                    int64_t inner, Tensor& y, std::vector<int64_t>& index);

// C = op(A) op(B) for matrices given as (pointer offset, row stride, transposed) inside tensors.
struct MatrixArg {
  const Tensor* tensor;
  int64_t offset;  // elements from tensor->data()
  int64_t ld;
  bool trans;
};
void gemm(const char* op, int64_t m, int64_t n, int64_t k, const MatrixArg& a, const MatrixArg& b,
          float beta, Tensor& c, int64_t c_offset);

void softmax_forward(const char* op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                     bool log, Tensor& y);
void softmax_backward(const char* op, const Tensor& y, const Tensor& dy, int64_t outer, int64_t r,
                      int64_t inner, bool log, Tensor& dx);
float cross_entropy_forward(const char* op, const Tensor& logits,
                            const std::vector<int64_t>& targets, const std::vector<float>& weights,
                            float eps, Tensor& dlogits);

// Convolution, pooling, batch norm and resize: every tensor dense, shapes as in the kernel
// headers (kernels/cpu/*.h). Optional tensors (bias, dbias) may be undefined / null.
using kernels::cpu::BatchNormShape;
using kernels::cpu::Conv2dShape;
using kernels::cpu::Pool2dShape;
void conv2d_forward(const char* op, const Conv2dShape& s, const Tensor& x, const Tensor& weight,
                    const Tensor& bias, Tensor& y);
void conv2d_backward_input(const char* op, const Conv2dShape& s, const Tensor& dy,
                           const Tensor& weight, Tensor& dx);
void conv2d_backward_weight(const char* op, const Conv2dShape& s, const Tensor& x, const Tensor& dy,
                            Tensor& dweight, Tensor* dbias);
void max_pool2d_forward(const char* op, const Pool2dShape& s, const Tensor& x, Tensor& y,
                        std::vector<int32_t>& argmax);
void max_pool2d_backward(const char* op, const Pool2dShape& s, const Tensor& dy,
                         const std::vector<int32_t>& argmax, Tensor& dx);
void avg_pool2d_forward(const char* op, const Pool2dShape& s, const Tensor& x, Tensor& y);
void avg_pool2d_backward(const char* op, const Pool2dShape& s, const Tensor& dy, Tensor& dx);
void batch_norm_forward_train(const char* op, const BatchNormShape& s, const Tensor& x,
                              const Tensor& gamma, const Tensor& beta, float eps, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd, Tensor& var_unbiased);
void batch_norm_forward_eval(const char* op, const BatchNormShape& s, const Tensor& x,
                             const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, float eps, Tensor& y);
void batch_norm_backward_train(const char* op, const BatchNormShape& s, const Tensor& x,
                               const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
                               const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                               Tensor& dbeta);
void batch_norm_backward_eval(const char* op, const BatchNormShape& s, const Tensor& x,
                              const Tensor& dy, const Tensor& gamma, const Tensor& running_mean,
                              const Tensor& running_var, float eps, Tensor& dx, Tensor& dgamma,
                              Tensor& dbeta);
void upsample_bilinear2d_forward(const char* op, int64_t planes, int64_t h, int64_t w,
                                 int64_t out_h, int64_t out_w, bool align_corners, const Tensor& x,
                                 Tensor& y);
void upsample_bilinear2d_backward(const char* op, int64_t planes, int64_t h, int64_t w,
                                  int64_t out_h, int64_t out_w, bool align_corners,
                                  const Tensor& dy, Tensor& dx);

// The fused attention-gate scores (kernels/cpu/attention_gate.h). Gradient outputs that are
// not wanted are null.
using kernels::cpu::AttentionGateShape;
void attention_gate_forward(const char* op, const AttentionGateShape& s, const Tensor& x,
                            const Tensor& theta, const Tensor& phi, const Tensor& psi_w,
                            const Tensor& psi_b, Tensor& psi);
void attention_gate_backward(const char* op, const AttentionGateShape& s, const Tensor& x,
                             const Tensor& theta, const Tensor& phi, const Tensor& psi_w,
                             const Tensor& dpsi, Tensor* dx, Tensor* dtheta, Tensor* dphi,
                             Tensor* dpsi_w, Tensor* dpsi_b);

}  // namespace radgal::dispatch
