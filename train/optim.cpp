#include "train/optim.h"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace radgal {

namespace {

// Counts are stored as float32, which holds every integer up to 2^24 exactly.
constexpr int64_t kLargestExactCount = int64_t{1} << 24;

Tensor count_tensor(int64_t count) {
  return Tensor::from_vector({static_cast<float>(count)}, {1});
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

// ---- Optimizer ------------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<Tensor> parameters, double lr,
                     std::vector<std::string> buffer_names)
    : parameters_(std::move(parameters)), buffer_names_(std::move(buffer_names)) {
  set_lr(lr);
  std::set<const void*> seen;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    const std::string which = "optimizer: parameter " + std::to_string(i);
    require(p.defined(), which + " is an undefined tensor");
    require(p.dtype() == DType::f32 && p.device() == Device::cpu(),
            which + " is not a float32 CPU tensor");
    require(p.is_contiguous(), which + " is not contiguous");
    require(p.is_leaf(), which + " is not a leaf of the autograd graph");
    // The same tensor twice would be updated twice per step.
    require(seen.insert(p.impl_.get()).second, which + " appears twice in the parameter list");
  }
  parameter_steps_.assign(parameters_.size(), 0);
  buffers_.resize(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t b = 0; b < buffer_names_.size(); ++b) {
      buffers_[i].push_back(Tensor::zeros(parameters_[i].shape()));
    }
  }
}

void Optimizer::set_lr(double lr) {
  require(std::isfinite(lr) && lr >= 0.0,
          "optimizer: the learning rate must be finite and >= 0, got " + std::to_string(lr));
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (Tensor& p : parameters_) p.zero_grad();
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++step_count_;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    if (grad.shape() != p.shape()) {
      throw std::runtime_error(name() + " step: gradient of parameter " + std::to_string(i) +
                               " has shape " + shape_to_string(grad.shape()) + ", the parameter " +
                               shape_to_string(p.shape()));
    }
    const Tensor g = grad.contiguous();
    std::vector<float*> buffers;
    for (Tensor& b : buffers_[i]) buffers.push_back(b.data());
    ++parameter_steps_[i];
    update(p.data(), g.data(), p.numel(), buffers, parameter_steps_[i]);
  }
}

NamedTensorList Optimizer::state_tensors() const {
  if (step_count_ >= kLargestExactCount) {
    throw std::runtime_error(name() + ": " + std::to_string(step_count_) +
                             " steps cannot be saved exactly as float32 counts");
  }
  NoGradGuard no_grad;
  NamedTensorList state;
  state.emplace_back("optim.step", count_tensor(step_count_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string prefix = "optim." + std::to_string(i) + ".";
    state.emplace_back(prefix + "step", count_tensor(parameter_steps_[i]));
    for (size_t b = 0; b < buffer_names_.size(); ++b) {
      state.emplace_back(prefix + buffer_names_[b], buffers_[i][b].clone());
    }
  }
  return state;
}

void Optimizer::load_state_tensors(const NamedTensorList& state) {
  const std::string where = name() + " load_state_tensors: ";
  std::map<std::string, const Tensor*> given;
  for (const auto& [key, t] : state) {
    if (!given.emplace(key, &t).second) throw std::runtime_error(where + "'" + key + "' twice");
  }

  // Everything is checked before anything is written, so a bad state leaves this optimiser as
  // it was.
  std::set<std::string> used;
  auto find = [&](const std::string& key, const Shape& shape) -> const Tensor& {
    const auto it = given.find(key);
    if (it == given.end() || !it->second->defined()) {
      throw std::runtime_error(where + "missing '" + key + "' (was the state saved by " + name() +
                               " over the same parameters?)");
    }
    if (it->second->shape() != shape) {
      throw std::runtime_error(where + "'" + key + "' has shape " +
                               shape_to_string(it->second->shape()) + ", expected " +
                               shape_to_string(shape));
    }
    used.insert(key);
    return *it->second;
  };
  auto count = [&](const std::string& key) -> int64_t {
    const float v = find(key, {1}).item();
    if (!(v >= 0.f && v < static_cast<float>(kLargestExactCount)) || v != std::floor(v)) {
      throw std::runtime_error(where + "'" + key + "' = " + std::to_string(v) +
                               " is not a step count");
    }
    return static_cast<int64_t>(v);
  };

  const int64_t step_count = count("optim.step");
  std::vector<int64_t> parameter_steps(parameters_.size());
  std::vector<std::vector<const Tensor*>> buffers(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string prefix = "optim." + std::to_string(i) + ".";
    parameter_steps[i] = count(prefix + "step");
    if (parameter_steps[i] > step_count) {
      throw std::runtime_error(where + "'" + prefix + "step' exceeds 'optim.step'");
    }
    for (const std::string& b : buffer_names_) {
      buffers[i].push_back(&find(prefix + b, parameters_[i].shape()));
    }
  }
  for (const auto& [key, t] : given) {
    if (!used.count(key)) {
      throw std::runtime_error(where + "unexpected tensor '" + key + "' (a state saved by " +
                               "another optimiser or over other parameters?)");
    }
  }

  NoGradGuard no_grad;
  step_count_ = step_count;
  parameter_steps_ = parameter_steps;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t b = 0; b < buffer_names_.size(); ++b) buffers_[i][b].copy_(*buffers[i][b]);
  }
}

// ---- SGD ------------------------------------------------------------------------------------

SGD::SGD(std::vector<Tensor> parameters, double lr, double momentum, bool nesterov,
         double weight_decay)
    : Optimizer(std::move(parameters), lr,
                momentum != 0.0 ? std::vector<std::string>{"momentum_buffer"}
                                : std::vector<std::string>{}),
      momentum_(momentum),
      weight_decay_(weight_decay),
      nesterov_(nesterov) {
  require(std::isfinite(momentum) && momentum >= 0.0, "sgd: momentum must be >= 0");
  require(std::isfinite(weight_decay) && weight_decay >= 0.0, "sgd: weight_decay must be >= 0");
  require(!nesterov || momentum > 0.0, "sgd: Nesterov momentum needs momentum > 0");
}

// The arithmetic is float32 in the order torch.optim.SGD uses, so trajectories agree with
// PyTorch's to a few ulp.
void SGD::update(float* param, const float* grad, int64_t n, std::vector<float*>& buffers,
                 int64_t param_step) {
  const float weight_decay = static_cast<float>(weight_decay_);
  const float momentum = static_cast<float>(momentum_);
  const float neg_lr = static_cast<float>(-lr());
  float* buffer = momentum_ != 0.0 ? buffers[0] : nullptr;
  for (int64_t k = 0; k < n; ++k) {
    float g = grad[k];
    if (weight_decay_ != 0.0) g = g + weight_decay * param[k];
    if (buffer) {
      buffer[k] = param_step == 1 ? g : buffer[k] * momentum + g;
      g = nesterov_ ? g + momentum * buffer[k] : buffer[k];
    }
    param[k] = param[k] + neg_lr * g;
  }
}

// ---- Adam, AdamW ------------------------------------------------------------------------------

Adam::Adam(std::vector<Tensor> parameters, double lr, double beta1, double beta2, double eps,
           double weight_decay)
    : Adam(std::move(parameters), lr, beta1, beta2, eps, weight_decay, false) {}

Adam::Adam(std::vector<Tensor> parameters, double lr, double beta1, double beta2, double eps,
           double weight_decay, bool decoupled)
    : Optimizer(std::move(parameters), lr, {"exp_avg", "exp_avg_sq"}),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay),
      decoupled_(decoupled) {
  const std::string who = decoupled ? "adamw: " : "adam: ";
  require(beta1 >= 0.0 && beta1 < 1.0, who + "beta1 must lie in [0, 1)");
  require(beta2 >= 0.0 && beta2 < 1.0, who + "beta2 must lie in [0, 1)");
  require(std::isfinite(eps) && eps >= 0.0, who + "eps must be >= 0");
  require(std::isfinite(weight_decay) && weight_decay >= 0.0, who + "weight_decay must be >= 0");
}

AdamW::AdamW(std::vector<Tensor> parameters, double lr, double beta1, double beta2, double eps,
             double weight_decay)
    : Adam(std::move(parameters), lr, beta1, beta2, eps, weight_decay, true) {}

// Scalars are computed in double and rounded once to float, elementwise work is float32, in
// the order of torch.optim.Adam's single-tensor path.
void Adam::update(float* param, const float* grad, int64_t n, std::vector<float*>& buffers,
                  int64_t param_step) {
  const double t = static_cast<double>(param_step);
  const double bias_correction1 = 1.0 - std::pow(beta1_, t);
  const double bias_correction2 = 1.0 - std::pow(beta2_, t);
  const float neg_step_size = static_cast<float>(-(lr() / bias_correction1));
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float one_minus_beta1 = static_cast<float>(1.0 - beta1_);
  const float beta2 = static_cast<float>(beta2_);
  const float one_minus_beta2 = static_cast<float>(1.0 - beta2_);
  const float eps = static_cast<float>(eps_);
  const float weight_decay = static_cast<float>(weight_decay_);
  const float decay_factor = static_cast<float>(1.0 - lr() * weight_decay_);
  float* exp_avg = buffers[0];
  float* exp_avg_sq = buffers[1];
  for (int64_t k = 0; k < n; ++k) {
    float g = grad[k];
    if (weight_decay_ != 0.0) {
      if (decoupled_) {
        param[k] = param[k] * decay_factor;
      } else {
        g = g + weight_decay * param[k];
      }
    }
    exp_avg[k] = exp_avg[k] + one_minus_beta1 * (g - exp_avg[k]);
    exp_avg_sq[k] = exp_avg_sq[k] * beta2 + one_minus_beta2 * g * g;
    const float denom = std::sqrt(exp_avg_sq[k]) / bias_correction2_sqrt + eps;
    param[k] = param[k] + neg_step_size * (exp_avg[k] / denom);
  }
}

}  // namespace radgal
