#include "data/loader.h"

#include <algorithm>
#include <stdexcept>

namespace radgal {

namespace {

// splitmix64 finaliser: turns (seed, epoch, position) into well-separated generator seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t stream_seed(uint64_t seed, int64_t epoch, uint64_t salt) {
  return mix(mix(mix(seed) ^ uint64_t(epoch)) ^ salt);
}

constexpr uint64_t kOrderSalt = ~uint64_t(0);

}  // namespace

Tensor images_to_tensor(const uint8_t* pixels, int64_t n, int64_t h, int64_t w) {
  Tensor t = Tensor::empty({n, 1, h, w});
  float* out = t.data();
  for (int64_t i = 0; i < n * h * w; ++i) out[i] = float(pixels[i]) / 127.5f - 1.f;
  return t;
}

Loader::Loader(const LabeledSet& set, LoaderOptions options)
    : set_(std::make_shared<const LabeledSet>(set)), options_(options) {
  if (options_.batch_size < 1) throw std::runtime_error("Loader: batch_size must be >= 1");
  if (options_.prefetch < 0) throw std::runtime_error("Loader: prefetch must be >= 0");
  if (set_->images.size() != set_->targets.size()) {
    throw std::runtime_error("Loader: the set has " + std::to_string(set_->images.size()) +
                             " images but " + std::to_string(set_->targets.size()) + " targets");
  }
}

Loader::~Loader() {
  stop();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = int64_t(set_->size()), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

Batch Loader::make_batch(int64_t epoch, const std::vector<size_t>& order, int64_t b) const {
  const ImageSet& images = set_->images;
  const int64_t h = images.height, w = images.width, hw = h * w;
  const int64_t first = b * options_.batch_size;
  const int64_t count = std::min<int64_t>(options_.batch_size, int64_t(order.size()) - first);
  Batch batch;
  batch.images = Tensor::empty({count, 1, h, w});
  float* out = batch.images.data();
  for (int64_t k = 0; k < count; ++k) {
    const size_t index = order[size_t(first + k)];
    batch.indices.push_back(int64_t(index));
    batch.targets.push_back(set_->targets[index]);
    float* dst = out + k * hw;
    if (options_.augment) {
      Generator gen(stream_seed(options_.seed, epoch, uint64_t(first + k)));
      augment_image(images.image(index), h, w, options_.augment_options, gen, dst);
      for (int64_t i = 0; i < hw; ++i) dst[i] = dst[i] / 127.5f - 1.f;
    } else {
      const uint8_t* src = images.image(index);
      for (int64_t i = 0; i < hw; ++i) dst[i] = float(src[i]) / 127.5f - 1.f;
    }
  }
  return batch;
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  ready_.clear();
  cancel_ = false;
  done_ = true;
  error_ = nullptr;
}

void Loader::produce(int64_t epoch, std::vector<size_t> order) {
  const int64_t batches = batches_per_epoch();
  for (int64_t b = 0; b < batches; ++b) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return cancel_ || int(ready_.size()) < options_.prefetch; });
      if (cancel_) return;
    }
    Batch batch;
    try {
      batch = make_batch(epoch, order, b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      done_ = true;
      changed_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.push_back(std::move(batch));
    changed_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = true;
  changed_.notify_all();
}

void Loader::start_epoch(int64_t epoch) {
  stop();
  epoch_ = epoch;
  next_batch_ = 0;
  order_.resize(set_->size());
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  if (options_.shuffle) {
    Generator gen(stream_seed(options_.seed, epoch, kOrderSalt));
    gen.shuffle(order_);
  }
  if (options_.prefetch > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = false;
    worker_ = std::thread(&Loader::produce, this, epoch, order_);
  }
}

bool Loader::next(Batch& out) {
  if (epoch_ < 0 || next_batch_ >= batches_per_epoch()) return false;
  if (options_.prefetch == 0) {
    out = make_batch(epoch_, order_, next_batch_++);
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || error_ || done_; });
  if (ready_.empty()) {
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      next_batch_ = batches_per_epoch();
      std::rethrow_exception(e);
    }
    return false;
  }
  out = std::move(ready_.front());
  ready_.pop_front();
  ++next_batch_;
  changed_.notify_all();
  return true;
}

}  // namespace radgal
