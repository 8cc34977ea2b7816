#include "train/swa.h"

#include <algorithm>
#include <stdexcept>

#include "nn/layers.h"
#include "nn/models.h"
#include "train/average.h"

namespace radgal {

WeightSwa::WeightSwa(const nn::Module& model) {
  average_ = nn::state_of(model);
  is_parameter_.assign(average_.tensors.size(), false);
  std::fill_n(is_parameter_.begin(), model.named_parameters().size(), true);
}

void WeightSwa::add(const nn::Module& model) {
  const auto live = model.named_tensors();
  if (live.size() != average_.tensors.size()) {
    throw std::logic_error("WeightSwa::add: the model's tensors changed");
  }
  ++count_;
  // Kept in float like the weights; (w - avg) / n is the running mean's exact recurrence.
  const float inv = 1.f / static_cast<float>(count_);
  NoGradGuard no_grad;
  for (size_t i = 0; i < live.size(); ++i) {
    const Tensor w = live[i].second.contiguous();
    Tensor& avg = average_.tensors[i].second;
    if (w.numel() != avg.numel()) throw std::logic_error("WeightSwa::add: a shape changed");
    const float* src = w.data();
    float* dst = avg.data();
    const int64_t n = w.numel();
    if (is_parameter_[i] && count_ > 1) {
      for (int64_t k = 0; k < n; ++k) dst[k] += (src[k] - dst[k]) * inv;
    } else {
      std::copy(src, src + n, dst);
    }
  }
}

void WeightSwa::load(const nn::NamedTensors& average, int64_t count, const std::string& source) {
  if (count < 0) throw std::runtime_error(source + ": negative SWA snapshot count");
  average_ = copy_in_layout(average_, average, source, "SWA");
  count_ = count;
}

int64_t recompute_batch_norm(nn::Module& model, const std::function<bool()>& forward_next_batch) {
  std::vector<std::pair<nn::BatchNorm2d*, float>> norms;  // with the momentum to restore
  model.apply([&](nn::Module& m) {
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m)) norms.emplace_back(bn, bn->momentum());
  });
  const bool was_training = model.is_training();
  model.train();
  NoGradGuard no_grad;
  std::vector<Tensor> saved;  // put back when there turn out to be no batches
  for (auto& [bn, momentum] : norms) {
    saved.push_back(bn->running_mean.clone());
    saved.push_back(bn->running_var.clone());
    bn->running_mean.fill_(0.f);
    bn->running_var.fill_(1.f);
  }
  int64_t batches = 0;
  while (true) {
    for (auto& [bn, momentum] : norms) bn->set_momentum(1.f / static_cast<float>(batches + 1));
    if (!forward_next_batch()) break;
    ++batches;
  }
  for (auto& [bn, momentum] : norms) bn->set_momentum(momentum);
  model.train(was_training);
  if (batches == 0) {
    for (size_t i = 0; i < norms.size(); ++i) {
      norms[i].first->running_mean.copy_(saved[2 * i]);
      norms[i].first->running_var.copy_(saved[2 * i + 1]);
    }
    throw std::invalid_argument("recompute_batch_norm: no batches to estimate from");
  }
  return batches;
}

}  // namespace radgal
