// softmax, log_softmax and cross_entropy, each with its backward below the forward, and
// soft_cross_entropy composed of them.
#include <cmath>
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"

namespace radgal {

namespace {

Tensor softmax_family(const char* op, const Tensor& x_in, int64_t axis, bool log) {
  require_defined(op, x_in, "input");
  const int64_t d = normalize_axis(op, axis, x_in.shape());
  Tensor x;
  {
    NoGradGuard no_grad;
    x = x_in.contiguous();
  }
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.shape()[i];
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  const int64_t r = x.shape()[d];

  Tensor y = Tensor::empty(x.shape());
  dispatch::softmax_forward(op, x, outer, r, inner, log, y);
  if (should_record({x_in})) {
    record(y, op, {x_in},
           [op, ys = y.detach(), outer, r, inner, log](const Tensor& g, const std::vector<bool>&) {
             Tensor dx = Tensor::empty(ys.shape());
             dispatch::softmax_backward(op, ys, g.contiguous(), outer, r, inner, log, dx);
             return std::vector<Tensor>{dx};
           });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  return softmax_family("softmax", x, axis, false);
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  return softmax_family("log_softmax", x, axis, true);
}

Tensor cross_entropy(const Tensor& logits_in, const std::vector<int64_t>& targets,
                     const std::vector<float>& class_weights, float label_smoothing) {
  require_defined("cross_entropy", logits_in, "logits");
  if (logits_in.dim() != 2) {
    shape_error("cross_entropy",
                "logits must be (n, c), got " + shape_to_string(logits_in.shape()));
  }
  const int64_t n = logits_in.size(0), c = logits_in.size(1);
  if (static_cast<int64_t>(targets.size()) != n) {
    shape_error("cross_entropy", std::to_string(targets.size()) + " targets for logits " +
                                     shape_to_string(logits_in.shape()));
  }
  if (n == 0) shape_error("cross_entropy", "empty batch " + shape_to_string(logits_in.shape()));
  if (!class_weights.empty() && static_cast<int64_t>(class_weights.size()) != c) {
    shape_error("cross_entropy", std::to_string(class_weights.size()) +
                                     " class weights for logits " +
                                     shape_to_string(logits_in.shape()));
  }
  for (int64_t t : targets) {
    if (t < 0 || t >= c) {
      throw std::out_of_range("cross_entropy: target " + std::to_string(t) + " outside [0, " +
                              std::to_string(c) + ")");
    }
  }
  if (!(label_smoothing >= 0.f && label_smoothing <= 1.f)) {
    throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1], got " +
                                std::to_string(label_smoothing));
  }

  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = logits_in.contiguous();
  }
  // The gradient of the loss is a by-product of the forward pass; backward only scales it.
  Tensor dlogits = Tensor::empty({n, c});
  const float loss = dispatch::cross_entropy_forward("cross_entropy", logits, targets,
                                                     class_weights, label_smoothing, dlogits);
  Tensor y = Tensor::scalar(loss);
  if (should_record({logits_in})) {
    record(y, "cross_entropy", {logits_in}, [dlogits](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{mul(dlogits, g.item())};
    });
  }
  return y;
}

Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs) {
  require_defined("soft_cross_entropy", logits, "logits");
  require_defined("soft_cross_entropy", target_probs, "target_probs");
  if (logits.dim() != 2 || target_probs.shape() != logits.shape()) {
    shape_error("soft_cross_entropy", "logits must be (n, c) and targets the same shape, got " +
                                          shape_to_string(logits.shape()) + " and " +
                                          shape_to_string(target_probs.shape()));
  }
  const int64_t n = logits.size(0), c = logits.size(1);
  if (n == 0) shape_error("soft_cross_entropy", "empty batch " + shape_to_string(logits.shape()));
  const Tensor q = target_probs.detach().contiguous();
  const std::vector<float> values = q.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double row = 0;
    for (int64_t k = 0; k < c; ++k) {
      const float v = values[size_t(i * c + k)];
      if (!(v >= 0.f && v <= 1.f)) {
        throw std::invalid_argument("soft_cross_entropy: target " + std::to_string(v) +
                                    " in row " + std::to_string(i) + " is not a probability");
      }
      row += v;
    }
    if (std::abs(row - 1.0) > 1e-4) {
      throw std::invalid_argument("soft_cross_entropy: target row " + std::to_string(i) +
                                  " sums to " + std::to_string(row) + ", not 1");
    }
  }
  return neg(sum(mul(log_softmax(logits, 1), q))) / static_cast<float>(n);
}

}  // namespace radgal
