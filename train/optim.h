// Optimisers: SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight decay added to the
// gradient) and AdamW (decoupled weight decay), following torch.optim's update rules.
//
// Contracts
// - An optimiser holds Tensor handles to the parameters (shared storage with the model) and
//   updates them IN PLACE in step(), under NoGradGuard, from their .grad(). Parameters must be
//   contiguous float32 leaves.
// - A parameter whose gradient is undefined at a step is skipped and its state does not advance,
//   as in PyTorch (so parameters that never receive a gradient are never touched, even by weight
//   decay). Each parameter therefore keeps its own update count, which Adam's bias correction
//   uses; step_count() counts calls to step().
// - zero_grad() drops the gradients (the next backward writes fresh ones).
// - lr() / set_lr(): the learning rate used by the next step; schedules call set_lr between
//   steps. It is not part of the exported state (a schedule recomputes it on resume).
// - state_tensors() returns a snapshot (copies) of the whole state as named float32 tensors:
//     "optim.step"            shape [1], the number of step() calls
//     "optim.<i>.step"        shape [1], updates applied to parameter i
//     "optim.<i>.<buffer>"    shape of parameter i: "momentum_buffer" (SGD with momentum),
//                             "exp_avg" and "exp_avg_sq" (Adam, AdamW)
//   Counts are stored as floats, exact up to 2^24 steps (state_tensors() throws beyond).
//   load_state_tensors() needs exactly these names and shapes (an optimiser of the same kind and
//   hyperparameters over the same parameter list) and restores the state bit for bit, so a
//   resumed run continues exactly as the uninterrupted one would.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace radgal {

using NamedTensorList = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Applies one update to every parameter that has a gradient.
  virtual void step();
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t step_count() const { return step_count_; }
  const std::vector<Tensor>& parameters() const { return parameters_; }
  virtual std::string name() const = 0;  // "sgd", "adam", "adamw"

  NamedTensorList state_tensors() const;
  void load_state_tensors(const NamedTensorList& state);

 protected:
  // buffer_names: the per-parameter state buffers this optimiser keeps (zero-initialised).
  Optimizer(std::vector<Tensor> parameters, double lr, std::vector<std::string> buffer_names);

  // Updates parameter i in place. param and grad hold n floats (grad is read-only), buffers[b]
  // is the b-th state buffer of this parameter (n floats), param_step its update count
  // including this update (1 on the first).
  virtual void update(float* param, const float* grad, int64_t n, std::vector<float*>& buffers,
                      int64_t param_step) = 0;

 private:
  std::vector<Tensor> parameters_;
  double lr_;
  int64_t step_count_ = 0;
  std::vector<int64_t> parameter_steps_;
  std::vector<std::string> buffer_names_;
  std::vector<std::vector<Tensor>> buffers_;  // [parameter][buffer], each shaped like the parameter
};

// g = grad + weight_decay p (L2);  with momentum: b = g on a parameter's first update, else
// b = momentum b + g (dampening 0);  g = nesterov ? g + momentum b : b;  p -= lr g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> parameters, double lr, double momentum = 0.0, bool nesterov = false,
      double weight_decay = 0.0);
  std::string name() const override { return "sgd"; }

 protected:
  void update(float* param, const float* grad, int64_t n, std::vector<float*>& buffers,
              int64_t param_step) override;

 private:
  double momentum_, weight_decay_;
  bool nesterov_;
};

// Adam with bias correction and eps added outside the square root, as torch.optim.Adam:
//   g = grad + weight_decay p (L2);  m = m + (1 - b1)(g - m);  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)       t: the parameter's count
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0.0);
  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }

 protected:
  Adam(std::vector<Tensor> parameters, double lr, double beta1, double beta2, double eps,
       double weight_decay, bool decoupled);
  void update(float* param, const float* grad, int64_t n, std::vector<float*>& buffers,
              int64_t param_step) override;

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
};

// AdamW: Adam whose weight decay is decoupled from the gradient: p is first multiplied by
// (1 - lr weight_decay), then the Adam update runs on the plain gradient. The default
// weight_decay is PyTorch's (1e-2).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 1e-2);
};

}  // namespace radgal
