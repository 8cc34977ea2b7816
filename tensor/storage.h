// Storage: one 64-byte aligned allocation shared by every view onto it, and TensorImpl, the
// per-view record (shape, strides, offset) plus the autograd fields. Internal to tensor/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/tensor.h"

namespace radgal {

size_t dtype_size(DType dtype);

struct Storage {
  // Allocates `bytes` (rounded up to a multiple of 64) on `device`. Contents are uninitialised.
  Storage(size_t bytes, DType dtype, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data = nullptr;
  size_t bytes = 0;
  DType dtype = DType::f32;
  Device device;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;  // in elements
  int64_t offset = 0;    // in elements

  // Autograd. A leaf has no grad_fn; requires_grad is set by the user on leaves only. A tensor
  // produced by a recorded operator has a grad_fn and counts as requiring a gradient.
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  Tensor grad;
};

// Row-major strides of a dense tensor of `shape`.
Shape contiguous_strides(const Shape& shape);

}  // namespace radgal
