#include "nn/layers.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace radgal::nn {

namespace {

Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, Generator& init) {
  const float bound = 1.f / std::sqrt(static_cast<float>(fan_in));
  return Tensor::uniform(shape, init, -bound, bound);
}

void require_positive(const char* layer, const char* what, int64_t v) {
  if (v < 1) {
    throw std::invalid_argument(std::string(layer) + ": " + what + " must be >= 1, got " +
                                std::to_string(v));
  }
}

}  // namespace

Conv2d::Conv2d(int64_t c_in, int64_t c_out, int64_t kernel, Generator& init, int64_t stride,
               int64_t padding, bool with_bias)
    : options_{stride, padding, 1} {
  require_positive("Conv2d", "c_in", c_in);
  require_positive("Conv2d", "c_out", c_out);
  require_positive("Conv2d", "kernel", kernel);
  const int64_t fan_in = c_in * kernel * kernel;
  const float stddev = std::sqrt(2.f / static_cast<float>(fan_in));
  weight =
      register_parameter("weight", Tensor::randn({c_out, c_in, kernel, kernel}, init, 0.f, stddev));
  if (with_bias) bias = register_parameter("bias", uniform_fan_in({c_out}, fan_in, init));
}

Tensor Conv2d::forward(const Tensor& x) const {
  return conv2d(x, weight, bias, options_);
}

BatchNorm2d::BatchNorm2d(int64_t channels, Generator& init, float momentum, float eps)
    : momentum_(momentum), eps_(eps) {
  require_positive("BatchNorm2d", "channels", channels);
  weight = register_parameter("weight", Tensor::randn({channels}, init, 1.f, 0.02f));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::scalar(0.f));
}

bool is_batch_counter(const std::string& tensor_name) {
  static const std::string counter = "num_batches_tracked";
  const size_t n = tensor_name.size(), c = counter.size();
  return n >= c && tensor_name.compare(n - c, c, counter) == 0 &&
         (n == c || tensor_name[n - c - 1] == '.');
}

void BatchNorm2d::set_momentum(float momentum) {
  if (!(momentum > 0.f && momentum <= 1.f)) {
    throw std::invalid_argument("BatchNorm2d: momentum must lie in (0, 1], got " +
                                std::to_string(momentum));
  }
  momentum_ = momentum;
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (is_training()) num_batches_tracked.data()[0] += 1.f;
  return batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), momentum_, eps_);
}

Linear::Linear(int64_t in, int64_t out, Generator& init, bool with_bias) {
  require_positive("Linear", "in", in);
  require_positive("Linear", "out", out);
  weight = register_parameter("weight", uniform_fan_in({out, in}, in, init));
  if (with_bias) bias = register_parameter("bias", uniform_fan_in({out}, in, init));
}

Tensor Linear::forward(const Tensor& x) const {
  return linear(x, weight, bias);
}

Tensor Dropout::forward(const Tensor& x) const {
  return dropout(x, p_, is_training(), *rng_);
}

}  // namespace radgal::nn
