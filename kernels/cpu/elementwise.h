// Elementwise kernels on raw float buffers (CPU): strided copy, broadcasting binary operators,
// and unary operators with their derivatives. Outputs are OVERWRITTEN and dense (row-major over
// the given shape) unless a stride for them is given.
#pragma once

#include <cstdint>
#include <vector>

namespace radgal::kernels::cpu {

// dst[i...] = src[i...] for every index of `shape`; both sides strided (src strides may be 0).
void copy_strided(const std::vector<int64_t>& shape, const float* src,
                  const std::vector<int64_t>& src_strides, float* dst,
                  const std::vector<int64_t>& dst_strides);

// dst[i] = value for i < n.
void fill(int64_t n, float value, float* dst);

enum class BinaryOp { add, sub, mul, div };

// y (dense, `shape`) = a op b, with a and b read through strides over `shape` (0 = broadcast).
void binary(BinaryOp op, const std::vector<int64_t>& shape, const float* a,
            const std::vector<int64_t>& a_strides, const float* b,
            const std::vector<int64_t>& b_strides, float* y);

// y += x for n dense elements (gradient accumulation).
void accumulate(int64_t n, const float* x, float* y);

enum class UnaryOp {
  neg,
  exp,
  log,
  sqrt,
  abs,
  relu,
  leaky_relu,  // leaky_relu: param = negative slope
  sigmoid,
  tanh,
  pow,  // pow: param = exponent
  add_scalar,
  mul_scalar  // param = the scalar
};

// y = f(x) for n dense elements.
void unary_forward(UnaryOp op, int64_t n, const float* x, float param, float* y);
// dx = dy * f'(x), reading whichever of x (the input) and y (the forward output) the derivative
// needs: x for log, abs, relu, leaky_relu, pow; y for exp, sqrt, sigmoid, tanh; neither for
// neg, add_scalar, mul_scalar. A pointer that is not read may be null.
void unary_backward(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                    float param, float* dx);

}  // namespace radgal::kernels::cpu
