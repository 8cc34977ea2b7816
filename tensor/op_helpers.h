// Helpers shared by the operator files: axis normalisation, broadcasting, shape errors, and
// sum_to (the reduction that undoes a broadcast in backward). Internal to tensor/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace radgal {

// Throws ShapeError("<op>: <message>").
[[noreturn]] void shape_error(const char* op, const std::string& message);

// Maps axis in [-rank, rank) onto [0, rank); throws a ShapeError naming op and shape otherwise.
int64_t normalize_axis(const char* op, int64_t axis, const Shape& shape);
// Sorted, deduplicated, normalised axes; empty means all axes.
std::vector<int64_t> normalize_axes(const char* op, const std::vector<int64_t>& axes,
                                    const Shape& shape);

// numpy broadcasting of two shapes; throws "<op>: cannot broadcast [..] with [..]".
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Sums grad (of a broadcast result) down to `shape`, the shape of the input that was broadcast.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Throws unless t is defined; names the op and the argument.
void require_defined(const char* op, const Tensor& t, const char* what);

}  // namespace radgal
