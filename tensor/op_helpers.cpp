// Shared operator helpers (see tensor/op_helpers.h).
#include "tensor/op_helpers.h"

#include <algorithm>

namespace radgal {

void shape_error(const char* op, const std::string& message) {
  throw ShapeError(std::string(op) + ": " + message);
}

int64_t normalize_axis(const char* op, int64_t axis, const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (axis < -rank || axis >= rank) {
    shape_error(
        op, "axis " + std::to_string(axis) + " out of range for shape " + shape_to_string(shape));
  }
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> normalize_axes(const char* op, const std::vector<int64_t>& axes,
                                    const Shape& shape) {
  std::vector<int64_t> out;
  if (axes.empty()) {
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) out.push_back(d);
    return out;
  }
  for (int64_t a : axes) out.push_back(normalize_axis(op, a, shape));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      shape_error(op, "cannot broadcast " + shape_to_string(a) + " with " + shape_to_string(b));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && grad.shape()[d] != 1)) axes.push_back(d);
  }
  if (axes.empty()) return grad.reshape(shape);
  return sum(grad, axes, /*keepdim=*/true).reshape(shape);
}

void require_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is undefined");
}

}  // namespace radgal
