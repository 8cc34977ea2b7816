// Tensor: an n-dimensional view (shape, strides, offset) onto shared, 64-byte aligned storage,
// plus the autograd hooks. The operators live in tensor/ops.h.
//
// Contracts
// - Shapes and strides are in elements, not bytes. A tensor of rank 0 is a scalar.
// - Views (reshape of a contiguous tensor, permute, transpose, slice, expand, squeeze,
//   unsqueeze) share storage with their source: writing through one is seen by the other.
// - dtype is float32 everywhere on the CPU. The dtype and device fields exist so the CUDA
//   backend and half precision can slot in behind the same operator names.
// - Autograd: an operator whose input requires a gradient records a node on the tape. backward()
//   walks the graph in reverse topological order; gradients of leaves ACCUMULATE into .grad()
//   (a tensor used twice receives the sum), and the graph is freed after the walk.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace radgal {

using Shape = std::vector<int64_t>;

enum class DType { f32, f16, bf16 };
enum class DeviceKind { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

std::string to_string(DType dtype);
std::string to_string(Device device);
std::string shape_to_string(const Shape& shape);  // "[2, 3, 150, 150]"
int64_t shape_numel(const Shape& shape);

class Generator;  // tensor/random.h
struct Node;      // tensor/autograd.h
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor; defined() is false

  // Factories. All of them return contiguous tensors that do not require a gradient.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor arange(int64_t n);  // 0, 1, ..., n-1 as floats
  static Tensor randn(const Shape& shape, Generator& gen, float mean = 0.f, float stddev = 1.f);
  static Tensor uniform(const Shape& shape, Generator& gen, float low = 0.f, float high = 1.f);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t offset() const;
  int64_t dim() const;
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;

  // Raw access to float32 data on the CPU, already advanced by offset(). Element (i, j, ...) is
  // at data()[i * strides()[0] + j * strides()[1] + ...].
  float* data();
  const float* data() const;
  float item() const;                   // the single value of a one-element tensor
  std::vector<float> to_vector() const;  // row-major copy of the logical contents
  float at(std::initializer_list<int64_t> index) const;

  // Views and copies. reshape returns a view when the layout allows it, else a copy.
  Tensor reshape(const Shape& shape) const;  // one entry may be -1
  Tensor view(const Shape& shape) const;     // like reshape, but throws instead of copying
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // slice of length 1, dimension removed
  Tensor expand(const Shape& shape) const;          // broadcast: size-1 dims get stride 0
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;  // self if already contiguous
  Tensor clone() const;       // always a fresh contiguous copy, recorded by autograd

  // In-place writes that autograd does not record (parameter updates, initialisation).
  void fill_(float value);
  void copy_(const Tensor& src);  // shapes must match; src may be any layout

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);  // only on leaves
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& g);
  void zero_grad();      // drops the gradient (next backward writes a fresh one)
  void backward();       // this must hold one element; seeds the walk with 1
  void backward(const Tensor& grad_output);
  Tensor detach() const;  // same storage, no history
  const std::shared_ptr<Node>& grad_fn() const;

  // Identity of the underlying storage, for tests of view semantics.
  const void* storage_id() const;

  std::shared_ptr<TensorImpl> impl_;
};

// Turns off recording on this thread while alive (evaluation, optimiser steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};
bool grad_enabled();

}  // namespace radgal
