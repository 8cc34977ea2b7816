#include "train/ema.h"

#include <algorithm>
#include <stdexcept>

#include "nn/layers.h"
#include "nn/models.h"
#include "train/average.h"

namespace radgal {

WeightEma::WeightEma(const nn::Module& model, double decay) : decay_(decay) {
  if (!(decay > 0 && decay < 1)) {
    throw std::invalid_argument("WeightEma: the decay must lie in (0, 1), got " +
                                std::to_string(decay));
  }
  average_ = nn::state_of(model);
  for (const auto& [name, t] : average_.tensors) {
    averaged_.push_back(!nn::is_batch_counter(name));
  }
}

void WeightEma::update(const nn::Module& model) {
  const auto live = model.named_tensors();
  if (live.size() != average_.tensors.size()) {
    throw std::logic_error("WeightEma::update: the model's tensors changed");
  }
  ++updates_;
  const double n = static_cast<double>(updates_);
  const float d = static_cast<float>(std::min(decay_, (1.0 + n) / (10.0 + n)));
  NoGradGuard no_grad;
  for (size_t i = 0; i < live.size(); ++i) {
    const Tensor w = live[i].second.contiguous();
    Tensor& avg = average_.tensors[i].second;
    if (w.numel() != avg.numel()) throw std::logic_error("WeightEma::update: a shape changed");
    const float* src = w.data();
    float* dst = avg.data();
    const int64_t count = w.numel();
    if (averaged_[i]) {
      for (int64_t k = 0; k < count; ++k) dst[k] = d * dst[k] + (1.f - d) * src[k];
    } else {
      std::copy(src, src + count, dst);
    }
  }
}

void WeightEma::load(const nn::NamedTensors& average, int64_t updates,
                     const std::string& source) {
  if (updates < 0) throw std::runtime_error(source + ": negative EMA update count");
  average_ = copy_in_layout(average_, average, source, "averaged");
  updates_ = updates;
}

}  // namespace radgal
