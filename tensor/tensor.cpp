// Tensor: storage, factories, element access, and the views (reshape, permute, slice, expand,
// ...) with their backward rules. Views never copy; reshape and contiguous copy only when the
// layout requires it.
#include "tensor/tensor.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/storage.h"

namespace radgal {

// ---- names and shapes --------------------------------------------------------------------------

std::string to_string(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
  }
  return "unknown";
}

std::string to_string(Device device) {
  return device.kind == DeviceKind::cpu ? "cpu" : "cuda:" + std::to_string(device.index);
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t step = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = step;
    step *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

size_t dtype_size(DType dtype) {
  return dtype == DType::f32 ? 4 : 2;
}

Storage::Storage(size_t bytes_, DType dtype_, Device device_)
    : bytes(bytes_), dtype(dtype_), device(device_) {
  data = dispatch::allocate(bytes, device);
}

Storage::~Storage() {
  dispatch::release(data, bytes, device);
}

// ---- factories ---------------------------------------------------------------------------------

namespace {

TensorImpl& impl_of(const Tensor& t, const char* what) {
  if (!t.impl_) throw std::runtime_error(std::string(what) + ": the tensor is undefined");
  return *t.impl_;
}

// A view sharing t's storage, without autograd history.
Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
  Tensor v;
  v.impl_ = std::make_shared<TensorImpl>();
  v.impl_->storage = t.impl_->storage;
  v.impl_->shape = std::move(shape);
  v.impl_->strides = std::move(strides);
  v.impl_->offset = offset;
  return v;
}

void check_shape(const char* op, const Shape& shape) {
  for (int64_t s : shape) {
    if (s < 0) shape_error(op, "negative size in shape " + shape_to_string(shape));
  }
}

// Strides that let a tensor of (shape, strides) be read as new_shape without copying, if any.
// Dimensions are matched in chunks that are contiguous in memory, as in PyTorch's view.
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides,
                                  const Shape& new_shape) {
  if (shape.empty() || shape_numel(shape) == 0) return contiguous_strides(new_shape);
  Shape out(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    const bool chunk_ends =
        d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      out[view_d] = view_numel * chunk_stride;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_stride = strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const char* op, const Shape& from, const Shape& to) {
  Shape shape = to;
  int64_t known = 1, unknown = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (unknown >= 0) shape_error(op, "only one -1 allowed in " + shape_to_string(to));
      unknown = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      shape_error(op, "negative size in " + shape_to_string(to));
    } else {
      known *= shape[i];
    }
  }
  const int64_t n = shape_numel(from);
  if (unknown >= 0) {
    if (known == 0 || n % known != 0) {
      shape_error(op, "cannot view " + shape_to_string(from) + " as " + shape_to_string(to));
    }
    shape[unknown] = n / known;
  }
  if (shape_numel(shape) != n) {
    shape_error(op, "cannot view " + shape_to_string(from) + " (" + std::to_string(n) +
                        " elements) as " + shape_to_string(to));
  }
  return shape;
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape("Tensor::empty", shape);
  Tensor t;
  t.impl_ = std::make_shared<TensorImpl>();
  t.impl_->storage =
      std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), dtype, device);
  t.impl_->shape = shape;
  t.impl_->strides = contiguous_strides(shape);
  return t;
}

Tensor Tensor::zeros(const Shape& shape) {
  return full(shape, 0.f);
}
Tensor Tensor::ones(const Shape& shape) {
  return full(shape, 1.f);
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(float value) {
  return full({}, value);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  check_shape("Tensor::from_vector", shape);
  if (static_cast<int64_t>(values.size()) != shape_numel(shape)) {
    shape_error("Tensor::from_vector", std::to_string(values.size()) +
                                           " values do not fill shape " + shape_to_string(shape));
  }
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::arange(int64_t n) {
  Tensor t = empty({n});
  float* p = t.data();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(i);
  return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, float mean, float stddev) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = gen.normal(mean, stddev);
  return t;
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, float low, float high) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = gen.uniform(low, high);
  return t;
}

// ---- accessors ---------------------------------------------------------------------------------

const Shape& Tensor::shape() const {
  return impl_of(*this, "Tensor::shape").shape;
}
const Shape& Tensor::strides() const {
  return impl_of(*this, "Tensor::strides").strides;
}
int64_t Tensor::offset() const {
  return impl_of(*this, "Tensor::offset").offset;
}
int64_t Tensor::dim() const {
  return static_cast<int64_t>(shape().size());
}

int64_t Tensor::size(int64_t d) const {
  return shape()[normalize_axis("Tensor::size", d, shape())];
}

int64_t Tensor::numel() const {
  return shape_numel(shape());
}
DType Tensor::dtype() const {
  return impl_of(*this, "Tensor::dtype").storage->dtype;
}
Device Tensor::device() const {
  return impl_of(*this, "Tensor::device").storage->device;
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = impl_of(*this, "Tensor::is_contiguous");
  int64_t step = 1;
  for (int64_t d = static_cast<int64_t>(t.shape.size()) - 1; d >= 0; --d) {
    if (t.shape[d] == 1) continue;
    if (t.strides[d] != step) return false;
    step *= t.shape[d];
  }
  return true;
}

float* Tensor::data() {
  const TensorImpl& t = impl_of(*this, "Tensor::data");
  if (t.storage->dtype != DType::f32 || t.storage->device.kind != DeviceKind::cpu) {
    throw std::runtime_error(
        "Tensor::data: float pointers exist only for f32 tensors on the "
        "CPU (this one is " +
        to_string(t.storage->dtype) + " on " + to_string(t.storage->device) + ")");
  }
  return static_cast<float*>(t.storage->data) + t.offset;
}

const float* Tensor::data() const {
  return const_cast<Tensor*>(this)->data();
}

float Tensor::item() const {
  if (numel() != 1) {
    shape_error("Tensor::item", "needs exactly one element, shape is " + shape_to_string(shape()));
  }
  return *data();
}

std::vector<float> Tensor::to_vector() const {
  const Tensor c = contiguous();
  return std::vector<float>(c.data(), c.data() + c.numel());
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  const Shape& s = shape();
  if (index.size() != s.size()) {
    shape_error("Tensor::at",
                std::to_string(index.size()) + " indices for shape " + shape_to_string(s));
  }
  int64_t pos = 0, d = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= s[d]) {
      shape_error("Tensor::at", "index " + std::to_string(i) + " out of range in dimension " +
                                    std::to_string(d) + " of " + shape_to_string(s));
    }
    pos += i * strides()[d++];
  }
  return data()[pos];
}

// ---- views -------------------------------------------------------------------------------------

Tensor Tensor::view(const Shape& new_shape_in) const {
  const Shape new_shape = infer_shape("view", shape(), new_shape_in);
  const auto strides_opt = view_strides(shape(), strides(), new_shape);
  if (!strides_opt) {
    shape_error("view", "cannot view " + shape_to_string(shape()) + " as " +
                            shape_to_string(new_shape) +
                            " without copying (the layout is not contiguous); use reshape");
  }
  Tensor out = make_view(*this, new_shape, *strides_opt, offset());
  if (should_record({*this})) {
    const Shape in_shape = shape();
    record(out, "view", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g.reshape(in_shape)};
    });
  }
  return out;
}

Tensor Tensor::reshape(const Shape& new_shape_in) const {
  const Shape new_shape = infer_shape("reshape", shape(), new_shape_in);
  if (view_strides(shape(), strides(), new_shape)) return view(new_shape);
  return contiguous().view(new_shape);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  const Shape& s = shape();
  if (dims.size() != s.size()) {
    shape_error("permute", "order of " + std::to_string(dims.size()) + " dims for shape " +
                               shape_to_string(s));
  }
  std::vector<int64_t> order(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape new_shape(s.size()), new_strides(s.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = normalize_axis("permute", dims[i], s);
    if (seen[d]) shape_error("permute", "dimension " + std::to_string(d) + " repeated");
    seen[d] = true;
    order[i] = d;
    inverse[d] = static_cast<int64_t>(i);
    new_shape[i] = s[d];
    new_strides[i] = strides()[d];
  }
  Tensor out = make_view(*this, new_shape, new_strides, offset());
  if (should_record({*this})) {
    record(out, "permute", {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g.permute(inverse)};
    });
  }
  return out;
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> order(dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[normalize_axis("transpose", a, shape())],
            order[normalize_axis("transpose", b, shape())]);
  return permute(order);
}

Tensor Tensor::slice(int64_t d_in, int64_t start, int64_t end, int64_t step) const {
  const int64_t d = normalize_axis("slice", d_in, shape());
  if (step < 1) shape_error("slice", "step must be at least 1, got " + std::to_string(step));
  const int64_t n = shape()[d];
  // Python rules: negative bounds count from the end, then both are clamped into [0, n].
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  const int64_t length = (end - start + step - 1) / step;

  Shape new_shape = shape(), new_strides = strides();
  new_shape[d] = length;
  new_strides[d] *= step;
  Tensor out = make_view(*this, new_shape, new_strides, offset() + start * strides()[d]);
  if (should_record({*this})) {
    const Shape in_shape = shape();
    record(out, "slice", {*this},
           [in_shape, d, start, end, step](const Tensor& g, const std::vector<bool>&) {
             Tensor grad = Tensor::zeros(in_shape);
             grad.slice(d, start, end, step).copy_(g);
             return std::vector<Tensor>{grad};
           });
  }
  return out;
}

Tensor Tensor::select(int64_t d_in, int64_t index) const {
  const int64_t d = normalize_axis("select", d_in, shape());
  const int64_t n = shape()[d];
  if (index < -n || index >= n) {
    shape_error("select", "index " + std::to_string(index) + " out of range for dimension " +
                              std::to_string(d) + " of " + shape_to_string(shape()));
  }
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& target_in) const {
  const Shape& s = shape();
  if (target_in.size() < s.size()) {
    shape_error("expand", "cannot expand " + shape_to_string(s) + " to fewer dimensions " +
                              shape_to_string(target_in));
  }
  const size_t lead = target_in.size() - s.size();
  Shape target = target_in, new_strides(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      if (target[i] < 0) shape_error("expand", "-1 not allowed for new leading dimensions");
      continue;
    }
    const int64_t have = s[i - lead];
    if (target[i] == -1) target[i] = have;
    if (have == target[i]) {
      new_strides[i] = strides()[i - lead];
    } else if (have != 1) {
      shape_error("expand",
                  "cannot expand " + shape_to_string(s) + " to " + shape_to_string(target_in));
    }
  }
  Tensor out = make_view(*this, target, new_strides, offset());
  if (should_record({*this})) {
    const Shape in_shape = s;
    record(out, "expand", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{sum_to(g, in_shape)};
    });
  }
  return out;
}

Tensor Tensor::squeeze(int64_t d_in) const {
  const int64_t d = normalize_axis("squeeze", d_in, shape());
  if (shape()[d] != 1) return *this;  // like PyTorch: squeezing a non-1 dimension is a no-op
  Shape new_shape = shape();
  new_shape.erase(new_shape.begin() + d);
  return view(new_shape);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  const int64_t rank = dim();
  if (d < -(rank + 1) || d > rank) {
    shape_error("unsqueeze", "dimension " + std::to_string(d) + " out of range for shape " +
                                 shape_to_string(shape()));
  }
  if (d < 0) d += rank + 1;
  Shape new_shape = shape();
  new_shape.insert(new_shape.begin() + d, 1);
  return view(new_shape);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t a = normalize_axis("flatten", start_dim, shape());
  const int64_t b = normalize_axis("flatten", end_dim, shape());
  if (a > b)
    shape_error("flatten", "start_dim comes after end_dim for " + shape_to_string(shape()));
  Shape new_shape(shape().begin(), shape().begin() + a);
  int64_t merged = 1;
  for (int64_t d = a; d <= b; ++d) merged *= shape()[d];
  new_shape.push_back(merged);
  new_shape.insert(new_shape.end(), shape().begin() + b + 1, shape().end());
  return reshape(new_shape);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  dispatch::copy("clone", *this, out);
  if (should_record({*this})) {
    record(out, "clone", {*this},
           [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
  }
  return out;
}

// ---- in-place writes (never recorded) ----------------------------------------------------------

void Tensor::fill_(float value) {
  if (is_contiguous()) {
    dispatch::fill("fill_", *this, value);
  } else {
    copy_(Tensor::scalar(value).expand(shape()));
  }
}

void Tensor::copy_(const Tensor& src) {
  require_defined("copy_", src, "source");
  if (src.shape() != shape()) {
    shape_error("copy_", "source shape " + shape_to_string(src.shape()) +
                             " differs from destination shape " + shape_to_string(shape()));
  }
  NoGradGuard no_grad;
  // Reading and writing overlapping memory in one pass could read already-written values.
  const Tensor from = src.storage_id() == storage_id() ? src.clone() : src;
  dispatch::copy("copy_", from, *this);
}

// ---- autograd hooks ----------------------------------------------------------------------------

bool Tensor::requires_grad() const {
  const TensorImpl& t = impl_of(*this, "Tensor::requires_grad");
  return t.requires_grad || t.grad_fn != nullptr;
}

Tensor& Tensor::set_requires_grad(bool on) {
  TensorImpl& t = impl_of(*this, "Tensor::set_requires_grad");
  if (t.grad_fn) {
    throw std::runtime_error(
        "Tensor::set_requires_grad: only leaves can be marked; this tensor "
        "was made by '" +
        t.grad_fn->name + "' (use detach() first)");
  }
  t.requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const {
  return impl_of(*this, "Tensor::is_leaf").grad_fn == nullptr;
}
Tensor Tensor::grad() const {
  return impl_of(*this, "Tensor::grad").grad;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && g.shape() != shape()) {
    shape_error("Tensor::set_grad", "gradient shape " + shape_to_string(g.shape()) +
                                        " differs from tensor shape " + shape_to_string(shape()));
  }
  impl_of(*this, "Tensor::set_grad").grad = g;
}

void Tensor::zero_grad() {
  impl_of(*this, "Tensor::zero_grad").grad = Tensor();
}

void Tensor::backward() {
  if (numel() != 1) {
    shape_error("backward", "backward() without a gradient needs a one-element tensor, shape is " +
                                shape_to_string(shape()) + "; pass grad_output");
  }
  run_backward(*this, Tensor::ones(shape()));
}

void Tensor::backward(const Tensor& grad_output) {
  run_backward(*this, grad_output);
}

Tensor Tensor::detach() const {
  impl_of(*this, "Tensor::detach");
  return make_view(*this, shape(), strides(), offset());
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  return impl_of(*this, "Tensor::grad_fn").grad_fn;
}

const void* Tensor::storage_id() const {
  return impl_of(*this, "Tensor::storage_id").storage.get();
}

}  // namespace radgal
