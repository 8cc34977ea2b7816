// Stochastic weight averaging (SWA; Izmailov et al., "Averaging Weights Leads to Wider Optima
// and Better Generalization", 2018): the plain mean of the weights at the end of each of the last
// epochs of a run, trained at a constant learning rate, and batch-norm statistics estimated
// afresh for those averaged weights.
//
// The constant rate keeps the weights moving around a wide region of low training loss; their
// mean lies nearer its centre than any single iterate, which on a small data set such as MiraBest
// makes the one model less sensitive to the seed (a cheap stand-in for an ensemble).
//
// Contracts
// - add() folds one snapshot in: avg += (w - avg) / n after the n-th call, so after n calls every
//   parameter is the mean of the n snapshots. Buffers are copied from the latest snapshot: the
//   running statistics of no single iterate fit the mean weights, so recompute_batch_norm() must
//   run before the average is evaluated.
// - recompute_batch_norm() resets every BatchNorm2d's running statistics and sets them to the mean
//   over the batches that forward_next_batch() runs (momentum 1/k at the k-th batch), in
//   training mode without gradients; the modules' momentum and mode are restored afterwards.
// - The state (averaged tensors and snapshot count) round-trips exactly through state()/load().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/safetensors.h"

namespace radgal {

class WeightSwa {
 public:
  // Holds a copy of the model's parameters and buffers; no snapshot counted yet.
  explicit WeightSwa(const nn::Module& model);

  void add(const nn::Module& model);

  int64_t count() const { return count_; }
  // The averaged parameters then buffers, by name (the layout of nn::state_of).
  const nn::NamedTensors& state() const { return average_; }

  // Restores a saved average; names and shapes must match (throws std::runtime_error naming
  // `source`).
  void load(const nn::NamedTensors& average, int64_t count, const std::string& source);

 private:
  int64_t count_ = 0;
  nn::NamedTensors average_;
  std::vector<bool> is_parameter_;
};

// forward_next_batch runs the model forward on the next batch and returns true, or returns false
// when there are no more batches. Returns the number of batches used; throws
// std::invalid_argument when there were none.
int64_t recompute_batch_norm(nn::Module& model, const std::function<bool()>& forward_next_batch);

}  // namespace radgal
