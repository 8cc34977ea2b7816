#include "nn/module.h"

#include <stdexcept>

namespace radgal::nn {

namespace {

void check_name(const std::string& name, const char* what) {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument(std::string("Module: ") + what + " name '" + name +
                                "' must be non-empty and contain no '.'");
  }
}

}  // namespace

// Own tensors first, then each child's under "<child name>.", in registration order: the order
// of saved files.
std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, t] : parameters_) out.emplace_back(name, *t);
  for (const auto& [child_name, child] : children_) {
    for (auto& [name, t] : child->named_parameters()) out.emplace_back(child_name + "." + name, t);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, t] : buffers_) out.emplace_back(name, *t);
  for (const auto& [child_name, child] : children_) {
    for (auto& [name, t] : child->named_buffers()) out.emplace_back(child_name + "." + name, t);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_tensors() const {
  auto out = named_parameters();
  for (auto& b : named_buffers()) out.push_back(std::move(b));
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [name, child] : children_) child->apply(fn);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  check_name(name, "parameter");
  if (!t.defined()) throw std::invalid_argument("Module: parameter '" + name + "' is undefined");
  if (!t.requires_grad()) t.set_requires_grad(true);
  parameters_.emplace_back(name, std::make_unique<Tensor>(std::move(t)));
  return *parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name, "buffer");
  if (!t.defined()) throw std::invalid_argument("Module: buffer '" + name + "' is undefined");
  buffers_.emplace_back(name, std::make_unique<Tensor>(std::move(t)));
  return *buffers_.back().second;
}

}  // namespace radgal::nn
