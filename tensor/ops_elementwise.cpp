// Elementwise operators with numpy broadcasting, each with its backward right below it.
// Binary backward reduces the gradient back to each input's shape with sum_to.
#include <cmath>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"

namespace radgal {

namespace {

using dispatch::BinaryOp;
using dispatch::UnaryOp;

Tensor binary_forward(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  require_defined(op, a, "left operand");
  require_defined(op, b, "right operand");
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor y = Tensor::empty(shape);
  NoGradGuard no_grad;  // the expands below are plumbing, not part of the graph
  dispatch::binary(op, kind, a.expand(shape), b.expand(shape), y);
  return y;
}

// Which of input x and output y the derivative of each unary op reads; only those are saved.
bool backward_reads_input(UnaryOp kind) {
  return kind == UnaryOp::log || kind == UnaryOp::abs || kind == UnaryOp::relu ||
         kind == UnaryOp::leaky_relu || kind == UnaryOp::pow;
}
bool backward_reads_output(UnaryOp kind) {
  return kind == UnaryOp::exp || kind == UnaryOp::sqrt || kind == UnaryOp::sigmoid ||
         kind == UnaryOp::tanh;
}

// y = f(x) elementwise. Saved tensors are detached (no cycle through y's own node).
Tensor unary(const char* op, UnaryOp kind, const Tensor& x_in, float param) {
  require_defined(op, x_in, "input");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  dispatch::unary_forward(op, kind, x, param, y);
  if (should_record({x})) {
    const Tensor xs = backward_reads_input(kind) ? x.detach() : Tensor();
    const Tensor ys = backward_reads_output(kind) ? y.detach() : Tensor();
    record(y, op, {x},
           [op, kind, param, xs, ys, shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
             Tensor dx = Tensor::empty(shape);
             dispatch::unary_backward(op, kind, xs, ys, g.contiguous(), param, dx);
             return std::vector<Tensor>{dx};
           });
  }
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward("add", BinaryOp::add, a, b);
  if (should_record({a, b})) {
    record(y, "add", {a, b},
           [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
             return std::vector<Tensor>{needs[0] ? sum_to(g, sa) : Tensor(),
                                        needs[1] ? sum_to(g, sb) : Tensor()};
           });
  }
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward("sub", BinaryOp::sub, a, b);
  if (should_record({a, b})) {
    record(y, "sub", {a, b},
           [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
             return std::vector<Tensor>{needs[0] ? sum_to(g, sa) : Tensor(),
                                        needs[1] ? sum_to(neg(g), sb) : Tensor()};
           });
  }
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward("mul", BinaryOp::mul, a, b);
  if (should_record({a, b})) {
    // Each side needs only the other operand.
    Tensor keep_a = b.requires_grad() ? a.detach() : Tensor();
    Tensor keep_b = a.requires_grad() ? b.detach() : Tensor();
    record(y, "mul", {a, b},
           [keep_a, keep_b, sa = a.shape(), sb = b.shape()](const Tensor& g,
                                                            const std::vector<bool>& needs) {
             return std::vector<Tensor>{needs[0] ? sum_to(mul(g, keep_b), sa) : Tensor(),
                                        needs[1] ? sum_to(mul(g, keep_a), sb) : Tensor()};
           });
  }
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward("div", BinaryOp::div, a, b);
  if (should_record({a, b})) {
    // d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b = -y/b.
    Tensor keep_y = b.requires_grad() ? y.detach() : Tensor();
    record(y, "div", {a, b},
           [keep_y, bs = b.detach(), sa = a.shape(), sb = b.shape()](
               const Tensor& g, const std::vector<bool>& needs) {
             Tensor g_over_b = div(g, bs);
             return std::vector<Tensor>{
                 needs[0] ? sum_to(g_over_b, sa) : Tensor(),
                 needs[1] ? sum_to(neg(mul(g_over_b, keep_y)), sb) : Tensor()};
           });
  }
  return y;
}

Tensor add(const Tensor& a, float b) {
  return unary("add", UnaryOp::add_scalar, a, b);
}
Tensor mul(const Tensor& a, float b) {
  return unary("mul", UnaryOp::mul_scalar, a, b);
}
Tensor neg(const Tensor& a) {
  return unary("neg", UnaryOp::neg, a, 0.f);
}
Tensor exp(const Tensor& a) {
  return unary("exp", UnaryOp::exp, a, 0.f);
}
Tensor log(const Tensor& a) {
  return unary("log", UnaryOp::log, a, 0.f);
}
Tensor sqrt(const Tensor& a) {
  return unary("sqrt", UnaryOp::sqrt, a, 0.f);
}
Tensor pow(const Tensor& a, float exponent) {
  return unary("pow", UnaryOp::pow, a, exponent);
}
Tensor abs(const Tensor& a) {
  return unary("abs", UnaryOp::abs, a, 0.f);
}
Tensor relu(const Tensor& a) {
  return unary("relu", UnaryOp::relu, a, 0.f);
}
Tensor leaky_relu(const Tensor& a, float negative_slope) {
  return unary("leaky_relu", UnaryOp::leaky_relu, a, negative_slope);
}
Tensor sigmoid(const Tensor& a) {
  return unary("sigmoid", UnaryOp::sigmoid, a, 0.f);
}
Tensor tanh(const Tensor& a) {
  return unary("tanh", UnaryOp::tanh, a, 0.f);
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
Tensor operator+(const Tensor& a, float b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, float b) {
  return add(a, -b);
}
Tensor operator*(const Tensor& a, float b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, float b) {
  return mul(a, 1.f / b);
}
Tensor operator-(const Tensor& a) {
  return neg(a);
}

}  // namespace radgal
