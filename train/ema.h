// Weight averaging: an exponential moving average (EMA, Polyak averaging) of a model's parameters
// and batch-norm running statistics, updated after every optimiser step.
//
// The averaged weights are a single model that is evaluated once per image like any other; on
// small, noisy training sets such as MiraBest they generalise better than the last iterate
// because they smooth out the step-to-step noise of small batches.
//
// Contracts
// - update() after optimiser step n (n = 1, 2, ...) sets avg = d * avg + (1 - d) * w with
//   d = min(decay, (1 + n) / (10 + n)): early on the average follows the weights closely, so a
//   short run is not dominated by the random initial weights.
// - Buffers other than running statistics (batch-norm num_batches_tracked) are copied, not
//   averaged.
// - The state (averaged tensors and update count) round-trips exactly through state()/load().
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.h"
#include "nn/safetensors.h"

namespace radgal {

class WeightEma {
 public:
  // Starts from a copy of the model's current parameters and buffers. decay in (0, 1).
  WeightEma(const nn::Module& model, double decay);

  void update(const nn::Module& model);

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  // The averaged parameters then buffers, by name (the layout of nn::state_of).
  const nn::NamedTensors& state() const { return average_; }

  // Restores a saved average; its names and shapes must match the model this one was built for
  // (throws std::runtime_error naming `source`).
  void load(const nn::NamedTensors& average, int64_t updates, const std::string& source);

 private:
  double decay_;
  int64_t updates_ = 0;
  nn::NamedTensors average_;
  std::vector<bool> averaged_;  // per tensor: averaged (true) or copied (false)
};

}  // namespace radgal
