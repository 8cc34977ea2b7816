// Elementwise kernels (CPU). The transcendental functions go through Eigen's array expressions,
// which evaluate exp/log/tanh/logistic with SIMD; the rest are plain loops the compiler
// vectorises. The operator switch sits outside every loop.
#include "kernels/cpu/elementwise.h"

#include <Eigen/Core>
#include <cmath>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided.h"

namespace radgal::kernels::cpu {

namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// One row of y = op(a, b) where a and b advance by sa and sb (each 0 or 1 in the common
// cases, which get their own instantiation so the loop vectorises).
template <class Op>
void binary_row(Op op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                float* y) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = *b;
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = *a;
    for (int64_t i = 0; i < n; ++i) y[i] = op(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i * sa], b[i * sb]);
  }
}

template <class Op>
void binary_strided(Op op, Dims shape, const float* a, Dims sa, const float* b, Dims sb, float* y) {
  Dims sy(shape.size());
  int64_t step = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    sy[d] = step;
    step *= shape[d];
  }
  coalesce(shape, {&sa, &sb, &sy});
  const Dims* strides[3] = {&sa, &sb, &sy};
  const int64_t inner_a = sa.back(), inner_b = sb.back();
  for_each_row(shape, strides, [&](const int64_t* off, int64_t n) {
    binary_row(op, n, a + off[0], inner_a, b + off[1], inner_b, y + off[2]);
  });
}

}  // namespace

void copy_strided(const Dims& shape_in, const float* src, const Dims& src_strides_in, float* dst,
                  const Dims& dst_strides_in) {
  Dims shape = shape_in, ss = src_strides_in, ds = dst_strides_in;
  for (int64_t n : shape) {
    if (n == 0) return;
  }
  coalesce(shape, {&ss, &ds});
  const Dims* strides[2] = {&ss, &ds};
  const int64_t s_in = ss.back(), s_out = ds.back();
  for_each_row(shape, strides, [&](const int64_t* off, int64_t n) {
    const float* s = src + off[0];
    float* d = dst + off[1];
    if (s_in == 1 && s_out == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = s[i];
    } else if (s_in == 0 && s_out == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = *s;
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * s_out] = s[i * s_in];
    }
  });
}

void fill(int64_t n, float value, float* dst) {
  parallel_range(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = value;
  });
}

void binary(BinaryOp op, const Dims& shape, const float* a, const Dims& a_strides, const float* b,
            const Dims& b_strides, float* y) {
  for (int64_t n : shape) {
    if (n == 0) return;
  }
  switch (op) {
    case BinaryOp::add:
      binary_strided([](float u, float v) { return u + v; }, shape, a, a_strides, b, b_strides, y);
      break;
    case BinaryOp::sub:
      binary_strided([](float u, float v) { return u - v; }, shape, a, a_strides, b, b_strides, y);
      break;
    case BinaryOp::mul:
      binary_strided([](float u, float v) { return u * v; }, shape, a, a_strides, b, b_strides, y);
      break;
    case BinaryOp::div:
      binary_strided([](float u, float v) { return u / v; }, shape, a, a_strides, b, b_strides, y);
      break;
  }
}

void accumulate(int64_t n, const float* x, float* y) {
  parallel_range(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] += x[i];
  });
}

void unary_forward(UnaryOp op, int64_t n, const float* x_ptr, float param, float* y_ptr) {
  parallel_range(n, [&](int64_t begin, int64_t end) {
    const int64_t len = end - begin;
    const float* x = x_ptr + begin;
    float* y = y_ptr + begin;
    ConstArrayMap xa(x, len);
    ArrayMap ya(y, len);
    switch (op) {
      case UnaryOp::neg:
        for (int64_t i = 0; i < len; ++i) y[i] = -x[i];
        break;
      case UnaryOp::exp:
        ya = xa.exp();
        break;
      case UnaryOp::log:
        ya = xa.log();
        break;
      case UnaryOp::sqrt:
        ya = xa.sqrt();
        break;
      case UnaryOp::abs:
        for (int64_t i = 0; i < len; ++i) y[i] = std::fabs(x[i]);
        break;
      case UnaryOp::relu:
        for (int64_t i = 0; i < len; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
        break;
      case UnaryOp::leaky_relu:
        for (int64_t i = 0; i < len; ++i) y[i] = x[i] > 0.f ? x[i] : x[i] * param;
        break;
      case UnaryOp::sigmoid:
        ya = xa.logistic();
        break;
      case UnaryOp::tanh:
        ya = xa.tanh();
        break;
      case UnaryOp::pow:
        if (param == 2.f) {
          for (int64_t i = 0; i < len; ++i) y[i] = x[i] * x[i];
        } else {
          for (int64_t i = 0; i < len; ++i) y[i] = std::pow(x[i], param);
        }
        break;
      case UnaryOp::add_scalar:
        for (int64_t i = 0; i < len; ++i) y[i] = x[i] + param;
        break;
      case UnaryOp::mul_scalar:
        for (int64_t i = 0; i < len; ++i) y[i] = x[i] * param;
        break;
    }
  });
}

void unary_backward(UnaryOp op, int64_t n, const float* x_ptr, const float* y_ptr,
                    const float* dy_ptr, float param, float* dx_ptr) {
  parallel_range(n, [&](int64_t begin, int64_t end) {
    const int64_t len = end - begin;
    const float* x = x_ptr ? x_ptr + begin : nullptr;
    const float* y = y_ptr ? y_ptr + begin : nullptr;
    const float* dy = dy_ptr + begin;
    float* dx = dx_ptr + begin;
    switch (op) {
      case UnaryOp::neg:
        for (int64_t i = 0; i < len; ++i) dx[i] = -dy[i];
        break;
      case UnaryOp::exp:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * y[i];
        break;
      case UnaryOp::log:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] / x[i];
        break;
      case UnaryOp::sqrt:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * 0.5f / y[i];
        break;
      case UnaryOp::abs:
        // d|x|/dx at 0 is taken as 0, like PyTorch's sign(0).
        for (int64_t i = 0; i < len; ++i) {
          dx[i] = x[i] > 0.f ? dy[i] : (x[i] < 0.f ? -dy[i] : 0.f);
        }
        break;
      case UnaryOp::relu:
        for (int64_t i = 0; i < len; ++i) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
        break;
      case UnaryOp::leaky_relu:
        for (int64_t i = 0; i < len; ++i) dx[i] = x[i] > 0.f ? dy[i] : dy[i] * param;
        break;
      case UnaryOp::sigmoid:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
        break;
      case UnaryOp::tanh:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
        break;
      case UnaryOp::pow:
        // PyTorch's rule: the derivative of x^0 is 0 everywhere, even at x = 0.
        if (param == 0.f) {
          for (int64_t i = 0; i < len; ++i) dx[i] = 0.f;
        } else if (param == 2.f) {
          for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * 2.f * x[i];
        } else {
          for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * param * std::pow(x[i], param - 1.f);
        }
        break;
      case UnaryOp::add_scalar:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i];
        break;
      case UnaryOp::mul_scalar:
        for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * param;
        break;
    }
  });
}

}  // namespace radgal::kernels::cpu
