// The layers the networks are built from. Each owns its parameters (registered under the names
// PyTorch uses, so state_dict files load by name) and initialises them from a Generator at
// construction, so a seed fixes the whole network.
//
// Initialisation (the published AG-CNN's recipe, used for every network in radgal):
// - Conv2d weight: Kaiming normal, fan_in, a = 0: N(0, 2 / fan_in), fan_in = c_in * k * k.
// - Conv2d bias, Linear weight and bias: PyTorch's default U(-1/sqrt(fan_in), +1/sqrt(fan_in)).
// - BatchNorm2d: gamma ~ N(1, 0.02), beta = 0, running mean 0, running variance 1.
// Draws happen in a fixed order: weight, then bias, layer by layer in construction order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace radgal::nn {

// x (n, c_in, h, w) -> (n, c_out, h_out, w_out). Parameters: weight (c_out, c_in, k, k), bias
// (c_out) when with_bias.
class Conv2d : public Module {
 public:
  Conv2d(int64_t c_in, int64_t c_out, int64_t kernel, Generator& init, int64_t stride = 1,
         int64_t padding = 0, bool with_bias = true);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;  // bias undefined when constructed without one

 private:
  Conv2dOptions options_;
};

// Batch normalisation over (n, c, h, w). Parameters weight (gamma) and bias (beta), buffers
// running_mean, running_var and num_batches_tracked (a scalar; counted as a float, exact up to
// 2^24 steps). In training mode it normalises with the batch statistics and updates the running
// ones with momentum 0.1; in evaluation mode it uses the running statistics.
// running = (1 - momentum) * running + momentum * batch statistic (the variance unbiased), so
// momentum 1/k at the k-th batch makes the running statistics the plain mean over k batches.
class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int64_t channels, Generator& init, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x);

  float momentum() const { return momentum_; }
  void set_momentum(float momentum);  // in (0, 1]

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  float momentum_, eps_;
};

// True for the name of a batch-norm step counter ("<path>.num_batches_tracked" or the bare
// name): a buffer that counts steps, so weight averages copy it rather than average it, and model
// files may leave it out.
bool is_batch_counter(const std::string& tensor_name);

// x (n, in) -> (n, out). Parameters weight (out, in), bias (out).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, Generator& init, bool with_bias = true);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
};

// Inverted dropout drawing its masks from a generator the owner keeps alive (the network's
// dropout stream), active only in training mode.
class Dropout : public Module {
 public:
  Dropout(float p, Generator& rng) : p_(p), rng_(&rng) {}
  Tensor forward(const Tensor& x) const;
  float p() const { return p_; }

 private:
  float p_;
  Generator* rng_;
};

// Max pooling, floor mode.
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0) : options_{kernel, stride, 0} {}
  Tensor forward(const Tensor& x) const { return max_pool2d(x, options_); }

 private:
  Pool2dOptions options_;
};

// An ordered list of children named "0", "1", ... (PyTorch's nn.ModuleList).
template <typename M>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> m) {
    items_.push_back(register_module(std::to_string(items_.size()), std::move(m)));
  }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_[i]; }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace radgal::nn
