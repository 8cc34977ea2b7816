// Module: a thing with named parameters (trained), named buffers (saved but not trained, such as
// batch-norm running statistics), children, and a training/evaluation mode.
//
// Names are dotted paths built from the registration names, e.g. "conv1a.weight" or
// "attention1.theta.weight"; they are the tensor names in safetensors files.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace radgal::nn {

class Module {
 public:
  virtual ~Module() = default;

  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Parameters then buffers, as live handles (not copies): the order of saved files.
  std::vector<std::pair<std::string, Tensor>> named_tensors() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;

  // Calls fn on this module, then on every descendant, depth first in registration order.
  void apply(const std::function<void(Module&)>& fn);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

 protected:
  // Registration returns the tensor so a constructor can write `w_ = register_parameter(...)`.
  // Tensors are handles: the module and the caller share the same storage.
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  bool training_ = true;
  // std::vector of pairs keeps registration order, which is the order of saved files.
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> parameters_;
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace radgal::nn
