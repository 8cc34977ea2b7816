// Reductions: sum, mean, max, min, var, argmax, each with its backward below the forward.
// sum reduces one run of adjacent axes at a time as a dense (outer, r, inner) block, so common
// cases (last axes, first axis, NCHW channel sums) need no transposed copy.
#include <algorithm>
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"

namespace radgal {

namespace {

// Input shape with the reduced axes set to 1, and the output shape the caller asked for.
struct ReducedShapes {
  Shape keep, out;
};

ReducedShapes reduced_shapes(const Shape& in, const std::vector<int64_t>& axes, bool keepdim) {
  ReducedShapes r{in, {}};
  for (int64_t a : axes) r.keep[a] = 1;
  for (size_t d = 0; d < in.size(); ++d) {
    const bool reduced = std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end();
    if (!reduced || keepdim) r.out.push_back(r.keep[d]);
  }
  return r;
}

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= s[d];
  return p;
}

// Gradient of a reduction broadcast back over the input (a stride-0 view, not a copy).
Tensor expand_reduced_grad(const Tensor& g, const Shape& keep, const Shape& in) {
  return g.reshape(keep).expand(in);
}

// Max or min over `axes`. Axes that form one run are reduced in place as an (outer, r, inner)
// block; other sets are first moved last by a transposed copy. The index of the winner, within
// the reduced block in row-major order, is kept for backward.
Tensor extreme(const char* op, bool is_max, const Tensor& a, const std::vector<int64_t>& axes_in,
               bool keepdim) {
  require_defined(op, a, "input");
  const std::vector<int64_t> axes = normalize_axes(op, axes_in, a.shape());
  const ReducedShapes shapes = reduced_shapes(a.shape(), axes, keepdim);
  int64_t r = 1;
  for (int64_t d : axes) r *= a.shape()[d];
  if (r == 0) shape_error(op, "cannot reduce over an empty axis of " + shape_to_string(a.shape()));

  const bool one_run = axes.empty() || axes.back() - axes.front() + 1 == int64_t(axes.size());
  std::vector<int64_t> order;  // permutation that moves the reduced axes last
  Tensor x;
  int64_t outer, inner;
  {
    NoGradGuard no_grad;
    if (one_run) {
      x = a.contiguous();
      outer = axes.empty() ? 1 : product(a.shape(), 0, axes.front());
      inner = axes.empty() ? 1 : product(a.shape(), axes.back() + 1, a.shape().size());
    } else {
      for (int64_t d = 0; d < a.dim(); ++d) {
        if (std::find(axes.begin(), axes.end(), d) == axes.end()) order.push_back(d);
      }
      order.insert(order.end(), axes.begin(), axes.end());
      x = a.permute(order).contiguous();
      outer = shape_numel(shapes.keep);
      inner = 1;
    }
  }
  Tensor y = Tensor::empty(shapes.out);
  auto index = std::make_shared<std::vector<int64_t>>();
  dispatch::extreme_reduce(op, is_max, x, outer, r, inner, y, *index);

  if (should_record({a})) {
    record(
        y, op, {a},
        [index, order, x_shape = x.shape(), r, inner](const Tensor& g, const std::vector<bool>&) {
          // dx is zero except at each winner, which receives its output's gradient.
          Tensor dx = Tensor::zeros(x_shape);
          const Tensor gc = g.contiguous();
          const float* gp = gc.data();
          float* dp = dx.data();
          const int64_t outputs = static_cast<int64_t>(index->size());
          for (int64_t out = 0; out < outputs; ++out) {
            const int64_t o = out / inner, i = out % inner;
            dp[(o * r + (*index)[out]) * inner + i] = gp[out];
          }
          if (order.empty()) return std::vector<Tensor>{dx};
          std::vector<int64_t> inverse(order.size());
          for (size_t k = 0; k < order.size(); ++k) inverse[order[k]] = static_cast<int64_t>(k);
          return std::vector<Tensor>{dx.permute(inverse)};
        });
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes_in, bool keepdim) {
  require_defined("sum", a, "input");
  const std::vector<int64_t> axes = normalize_axes("sum", axes_in, a.shape());
  const ReducedShapes shapes = reduced_shapes(a.shape(), axes, keepdim);

  Tensor cur;
  {
    NoGradGuard no_grad;
    cur = a.contiguous();
  }
  Shape cur_shape = a.shape();
  // Reduce runs of adjacent axes from the last run to the first.
  size_t i = axes.size();
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && axes[j - 1] == axes[j] - 1) --j;
    const size_t first = axes[j], last = axes[i - 1] + 1;
    const int64_t outer = product(cur_shape, 0, first);
    const int64_t r = product(cur_shape, first, last);
    const int64_t inner = product(cur_shape, last, cur_shape.size());
    for (size_t d = first; d < last; ++d) cur_shape[d] = 1;
    Tensor next = Tensor::empty(cur_shape);
    dispatch::sum_reduce("sum", cur, outer, r, inner, next);
    cur = next;
    i = j;
  }
  Tensor y = axes.empty() ? a.detach().clone() : cur;
  {
    NoGradGuard no_grad;
    y = y.reshape(shapes.out);
  }
  if (should_record({a})) {
    record(y, "sum", {a},
           [keep = shapes.keep, in = a.shape()](const Tensor& g, const std::vector<bool>&) {
             return std::vector<Tensor>{expand_reduced_grad(g, keep, in)};
           });
  }
  return y;
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& axes_in, bool keepdim) {
  require_defined("mean", a, "input");
  const std::vector<int64_t> axes = normalize_axes("mean", axes_in, a.shape());
  int64_t count = 1;
  for (int64_t d : axes) count *= a.shape()[d];
  return mul(sum(a, axes, keepdim), 1.f / static_cast<float>(count));
}

Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  return extreme("max", true, a, axes, keepdim);
}

Tensor min(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  return extreme("min", false, a, axes, keepdim);
}

Tensor var(const Tensor& a, const std::vector<int64_t>& axes_in, bool keepdim, int correction) {
  require_defined("var", a, "input");
  const std::vector<int64_t> axes = normalize_axes("var", axes_in, a.shape());
  int64_t count = 1;
  for (int64_t d : axes) count *= a.shape()[d];
  // Built from differentiable pieces, so its backward, 2 (x - mean) / (count - correction),
  // comes from theirs.
  const Tensor centred = sub(a, mean(a, axes, /*keepdim=*/true));
  const Tensor squares = sum(mul(centred, centred), axes, keepdim);
  return mul(squares, 1.f / static_cast<float>(count - correction));
}

std::vector<int64_t> argmax(const Tensor& a, int64_t axis) {
  require_defined("argmax", a, "input");
  const int64_t d = normalize_axis("argmax", axis, a.shape());
  const int64_t r = a.shape()[d];
  if (r == 0) shape_error("argmax", "empty axis in " + shape_to_string(a.shape()));
  const Tensor x = a.detach().contiguous();
  const int64_t outer = product(a.shape(), 0, d), inner = product(a.shape(), d + 1, a.dim());
  Tensor y = Tensor::empty({outer, inner});
  std::vector<int64_t> index;
  dispatch::extreme_reduce("argmax", true, x, outer, r, inner, y, index);
  return index;
}

}  // namespace radgal
