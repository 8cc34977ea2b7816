// Shape operators that copy: concat, stack, pad (and the free flatten, a view). Each backward
// slices the incoming gradient back into the pieces.
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"

namespace radgal {

Tensor concat(const std::vector<Tensor>& tensors, int64_t axis) {
  if (tensors.empty()) throw std::invalid_argument("concat: no tensors given");
  for (const Tensor& t : tensors) require_defined("concat", t, "an input");
  const Shape& first = tensors[0].shape();
  const int64_t d = normalize_axis("concat", axis, first);
  Shape out_shape = first;
  out_shape[d] = 0;
  for (const Tensor& t : tensors) {
    Shape expected = first;
    expected[d] = t.dim() == static_cast<int64_t>(first.size()) ? t.shape()[d] : -1;
    if (t.shape() != expected) {
      std::string all;
      for (const Tensor& u : tensors) all += (all.empty() ? "" : ", ") + shape_to_string(u.shape());
      shape_error("concat",
                  "shapes must match except along axis " + std::to_string(d) + ": " + all);
    }
    out_shape[d] += t.shape()[d];
  }

  Tensor y = Tensor::empty(out_shape);
  std::vector<int64_t> starts;
  {
    NoGradGuard no_grad;
    int64_t start = 0;
    for (const Tensor& t : tensors) {
      starts.push_back(start);
      y.slice(d, start, start + t.shape()[d]).copy_(t);
      start += t.shape()[d];
    }
  }
  bool any = false;
  for (const Tensor& t : tensors) any = any || should_record({t});
  if (any) {
    std::vector<int64_t> lengths;
    for (const Tensor& t : tensors) lengths.push_back(t.shape()[d]);
    record(y, "concat", tensors,
           [d, starts, lengths](const Tensor& g, const std::vector<bool>& needs) {
             std::vector<Tensor> grads(starts.size());
             for (size_t i = 0; i < starts.size(); ++i) {
               if (needs[i]) grads[i] = g.slice(d, starts[i], starts[i] + lengths[i]);
             }
             return grads;
           });
  }
  return y;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t axis) {
  if (tensors.empty()) throw std::invalid_argument("stack: no tensors given");
  for (const Tensor& t : tensors) {
    require_defined("stack", t, "an input");
    if (t.shape() != tensors[0].shape()) {
      shape_error("stack", "all shapes must be equal, got " + shape_to_string(tensors[0].shape()) +
                               " and " + shape_to_string(t.shape()));
    }
  }
  std::vector<Tensor> lifted;
  for (const Tensor& t : tensors) lifted.push_back(t.unsqueeze(axis));
  return concat(lifted, axis);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  require_defined("flatten", x, "input");
  return x.flatten(start_dim, end_dim);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value) {
  require_defined("pad", x, "input");
  const int64_t padded_dims = static_cast<int64_t>(pads.size()) / 2;
  if (pads.size() % 2 != 0 || padded_dims > x.dim()) {
    shape_error("pad", std::to_string(pads.size()) + " pad values for shape " +
                           shape_to_string(x.shape()) + " (need an even count, 2 per dim)");
  }
  // pads[2i], pads[2i + 1] belong to dimension rank - 1 - i. Negative pads crop.
  Shape out_shape = x.shape();
  std::vector<int64_t> src_begin(x.dim(), 0), src_end = x.shape(), dst_begin(x.dim(), 0);
  for (int64_t i = 0; i < padded_dims; ++i) {
    const int64_t d = x.dim() - 1 - i, before = pads[2 * i], after = pads[2 * i + 1];
    out_shape[d] = x.shape()[d] + before + after;
    if (out_shape[d] < 0) {
      shape_error("pad", "pads " + shape_to_string(pads) + " crop more than the whole of " +
                             shape_to_string(x.shape()));
    }
    src_begin[d] = before < 0 ? -before : 0;
    src_end[d] = x.shape()[d] - (after < 0 ? -after : 0);
    dst_begin[d] = before > 0 ? before : 0;
  }

  Tensor y = Tensor::full(out_shape, value);
  bool empty_region = false;
  for (int64_t d = 0; d < x.dim(); ++d) empty_region = empty_region || src_end[d] <= src_begin[d];
  {
    NoGradGuard no_grad;
    if (!empty_region) {
      Tensor src = x, dst = y;
      for (int64_t d = 0; d < x.dim(); ++d) {
        src = src.slice(d, src_begin[d], src_end[d]);
        dst = dst.slice(d, dst_begin[d], dst_begin[d] + src_end[d] - src_begin[d]);
      }
      dst.copy_(src);
    }
  }
  if (should_record({x})) {
    record(y, "pad", {x},
           [in_shape = x.shape(), src_begin, src_end, dst_begin, empty_region](
               const Tensor& g, const std::vector<bool>&) {
             Tensor dx = Tensor::zeros(in_shape);
             if (!empty_region) {
               Tensor src = g, dst = dx;
               for (size_t d = 0; d < in_shape.size(); ++d) {
                 src = src.slice(d, dst_begin[d], dst_begin[d] + src_end[d] - src_begin[d]);
                 dst = dst.slice(d, src_begin[d], src_end[d]);
               }
               dst.copy_(src);
             }
             return std::vector<Tensor>{dx};
           });
  }
  return y;
}

}  // namespace radgal
