// Matrix products: matmul (plain and batched) and linear, each with its backward below the
// forward. Transposed operands (e.g. the views made in backward) go to the GEMM kernel as
// transpose flags instead of being copied.
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"

namespace radgal {

namespace {

// How GEMM reads the matrix formed by the last two dims of t: as stored, or as the transpose
// of a row-major matrix. Returns false when neither fits (the caller copies).
bool matrix_layout(const Tensor& t, int64_t& ld, bool& trans) {
  const int64_t r = t.size(-2), c = t.size(-1);
  const int64_t s0 = t.strides()[t.dim() - 2], s1 = t.strides()[t.dim() - 1];
  if ((s1 == 1 || c == 1) && (s0 >= c || r == 1)) {
    trans = false;
    ld = r == 1 ? c : s0;
    return true;
  }
  if ((s0 == 1 || r == 1) && (s1 >= r || c == 1)) {
    trans = true;
    ld = c == 1 ? r : s1;
    return true;
  }
  return false;
}

dispatch::MatrixArg matrix_arg(const Tensor& t) {
  dispatch::MatrixArg arg{&t, 0, 0, false};
  if (!matrix_layout(t, arg.ld, arg.trans)) {
    throw std::logic_error("matmul: operand layout not readable by GEMM; it must be copied");
  }
  return arg;
}

// Forward only: y = a @ b for 2-D or 3-D operands (a 2-D side is shared by every batch).
Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
  NoGradGuard no_grad;
  int64_t ld;
  bool trans;
  const Tensor a = matrix_layout(a_in, ld, trans) ? a_in : a_in.contiguous();
  const Tensor b = matrix_layout(b_in, ld, trans) ? b_in : b_in.contiguous();
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const bool batched = a.dim() == 3 || b.dim() == 3;
  const int64_t batches = a.dim() == 3 ? a.size(0) : (b.dim() == 3 ? b.size(0) : 1);
  const int64_t a_step = a.dim() == 3 ? a.strides()[0] : 0;
  const int64_t b_step = b.dim() == 3 ? b.strides()[0] : 0;

  Tensor y = batched ? Tensor::empty({batches, m, n}) : Tensor::empty({m, n});
  dispatch::MatrixArg am = matrix_arg(a), bm = matrix_arg(b);
  for (int64_t i = 0; i < batches; ++i) {
    am.offset = i * a_step;
    bm.offset = i * b_step;
    dispatch::gemm("matmul", m, n, k, am, bm, 0.f, y, i * m * n);
  }
  return y;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  require_defined("matmul", a, "left operand");
  require_defined("matmul", b, "right operand");
  const auto fail = [&](const std::string& why) {
    shape_error("matmul",
                why + ": " + shape_to_string(a.shape()) + " x " + shape_to_string(b.shape()));
  };
  if (a.dim() < 2 || a.dim() > 3 || b.dim() < 2 || b.dim() > 3) {
    fail("operands must be 2-D or 3-D (batched)");
  }
  if (a.size(-1) != b.size(-2)) fail("inner dimensions differ");
  if (a.dim() == 3 && b.dim() == 3 && a.size(0) != b.size(0)) fail("batch sizes differ");

  Tensor y = matmul_forward(a, b);
  if (should_record({a, b})) {
    // da = g b^T needs b, db = a^T g needs a; keep only what will be read.
    const Tensor as = b.requires_grad() ? a.detach() : Tensor();
    const Tensor bs = a.requires_grad() ? b.detach() : Tensor();
    record(
        y, "matmul", {a, b},
        [as, bs, sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
          // A 2-D operand shared over batches sums its gradient over them (sum_to).
          Tensor da, db;
          if (needs[0]) da = sum_to(matmul_forward(g, bs.transpose(-1, -2)), sa);
          if (needs[1]) db = sum_to(matmul_forward(as.transpose(-1, -2), g), sb);
          return std::vector<Tensor>{da, db};
        });
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  require_defined("linear", x, "input");
  require_defined("linear", weight, "weight");
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1)) {
    shape_error("linear", "input " + shape_to_string(x.shape()) + " does not match weight " +
                              shape_to_string(weight.shape()) +
                              " (expected (..., in) and (out, in))");
  }
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    shape_error("linear", "bias " + shape_to_string(bias.shape()) + " does not match weight " +
                              shape_to_string(weight.shape()));
  }
  if (x.dim() != 2) {
    // (..., in): fold the leading dims into rows; the reshapes carry the gradient.
    Shape out_shape(x.shape().begin(), x.shape().end() - 1);
    out_shape.push_back(weight.size(0));
    return linear(x.reshape({-1, x.size(-1)}), weight, bias).reshape(out_shape);
  }

  Tensor y = matmul_forward(x, weight.transpose(0, 1));
  if (bias.defined()) {
    NoGradGuard no_grad;
    dispatch::binary("linear", dispatch::BinaryOp::add, y, bias.expand(y.shape()), y);
  }
  if (should_record({x, weight, bias})) {
    const Tensor xs = weight.requires_grad() ? x.detach() : Tensor();
    const Tensor ws = x.requires_grad() ? weight.detach() : Tensor();
    record(y, "linear", {x, weight, bias},
           [xs, ws](const Tensor& g, const std::vector<bool>& needs) {
             Tensor dx, dw, db;
             if (needs[0]) dx = matmul_forward(g, ws);                  // (n, out) (out, in)
             if (needs[1]) dw = matmul_forward(g.transpose(0, 1), xs);  // (out, n) (n, in)
             if (needs[2]) db = sum(g, {0});
             return std::vector<Tensor>{dx, dw, db};
           });
  }
  return y;
}

}  // namespace radgal
