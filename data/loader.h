// Batches of normalised image tensors for training and evaluation, prepared on a background
// thread while the caller works on the previous batch.
//
// Contracts
// - Batch::images is (B, 1, H, W) float32: pixel / 255, then (x - 0.5) / 0.5, so 0 -> -1 and
//   255 -> 1 (the published network's input scaling). targets[b] is the image's target and
//   indices[b] its position in the LabeledSet.
// - The order of an epoch and every augmentation in it are a pure function of (seed, epoch):
//   start_epoch(e) after a restart reproduces the stream of the original run bit for bit, at any
//   prefetch depth. Each image's augmentation uses its own generator, seeded from (seed, epoch,
//   position in the epoch).
// - shuffle = false keeps the set's order (evaluation). The last batch is smaller unless
//   drop_last. augment = false gives the images exactly as stored (validation and test).
// - next() rethrows, on the caller's thread, any error the background thread met.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/subsets.h"
#include "tensor/tensor.h"

namespace radgal {

struct Batch {
  Tensor images;  // (B, 1, H, W)
  std::vector<int64_t> targets, indices;
};

struct LoaderOptions {
  int64_t batch_size = 16;
  bool shuffle = true;
  bool augment = false;
  AugmentOptions augment_options;
  bool drop_last = false;
  uint64_t seed = 0;
  int prefetch = 2;  // batches prepared ahead; 0 prepares each batch inside next()
};

class Loader {
 public:
  // Keeps its own copy of the set.
  Loader(const LabeledSet& set, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  void start_epoch(int64_t epoch);
  bool next(Batch& out);  // false at the end of the epoch (or before the first start_epoch)
  int64_t batches_per_epoch() const;
  size_t size() const { return set_->size(); }

 private:
  Batch make_batch(int64_t epoch, const std::vector<size_t>& order, int64_t b) const;
  void stop();
  void produce(int64_t epoch, std::vector<size_t> order);

  std::shared_ptr<const LabeledSet> set_;
  LoaderOptions options_;

  int64_t epoch_ = -1, next_batch_ = 0;
  std::vector<size_t> order_;

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool cancel_ = false, done_ = true;
  std::exception_ptr error_;
};

// A uint8 image block (n, h, w) as a (n, 1, h, w) tensor with the normalisation above.
Tensor images_to_tensor(const uint8_t* pixels, int64_t n, int64_t h, int64_t w);

}  // namespace radgal
