#include "train/average.h"

#include <stdexcept>

namespace radgal {

nn::NamedTensors copy_in_layout(const nn::NamedTensors& layout, const nn::NamedTensors& saved,
                                const std::string& source, const std::string& what) {
  if (saved.tensors.size() != layout.tensors.size()) {
    throw std::runtime_error(source + ": the " + what + " weights hold " +
                             std::to_string(saved.tensors.size()) + " tensors, the model " +
                             std::to_string(layout.tensors.size()));
  }
  nn::NamedTensors copy;
  for (const auto& [name, want] : layout.tensors) {
    const Tensor* t = saved.find(name);
    if (t == nullptr) {
      throw std::runtime_error(source + ": " + what + " weights lack '" + name + "'");
    }
    if (t->shape() != want.shape()) {
      throw std::runtime_error(source + ": " + what + " tensor '" + name +
                               "' has another shape than the model's");
    }
    copy.add(name, t->contiguous().clone());
  }
  return copy;
}

}  // namespace radgal
