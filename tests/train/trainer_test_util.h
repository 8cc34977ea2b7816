// Small data sets and configurations for the trainer and checkpoint tests: tiny images and the
// smallest AG-CNN so every test runs in seconds, also under the sanitizers.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/subsets.h"
#include "tensor/random.h"
#include "train/trainer.h"

namespace radgal::test {

// n images of side x side: class 1 has a bright spot left of the centre, class 0 right of it,
// on faint noise. Learnable in a few steps; alternating targets.
inline LabeledSet toy_set(int64_t n, int64_t side, uint64_t seed) {
  LabeledSet set;
  set.images.height = set.images.width = side;
  set.images.label_names = {"FRI", "FRII"};
  set.images.pixels.assign(size_t(n * side * side), 0);
  Generator gen(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int target = int(i % 2);
    uint8_t* img = set.images.pixels.data() + i * side * side;
    for (int64_t p = 0; p < side * side; ++p) img[p] = uint8_t(gen.below(20));
    const int64_t cx = target ? side / 4 : 3 * side / 4, cy = side / 2;
    for (int64_t y = cy - 2; y <= cy + 2; ++y)
      for (int64_t x = cx - 2; x <= cx + 2; ++x) img[y * side + x] = 255;
    set.images.labels.push_back(target);
    set.images.filenames.push_back("toy_" + std::to_string(i));
    set.targets.push_back(target);
  }
  return set;
}

// The AG-CNN at its smallest input (16 x 16) with all three gates, so dropout, attention and
// every head take part.
inline TrainConfig tiny_config() {
  TrainConfig c;
  c.model.arch = "agcnn";
  c.model.norm = "softmax";
  c.model.aggregation = "concat";
  c.model.gates = 3;
  c.model.dropout = 0.2f;
  c.model.image_size = 16;
  c.optimizer = "adamw";
  c.lr = 3e-3;
  c.weight_decay = 1e-4;
  c.label_smoothing = 0.05;
  c.epochs = 2;
  c.batch_size = 8;
  c.schedule.kind = ScheduleKind::onecycle;
  c.augment = true;
  c.augment_options.hflip = true;
  c.seed = 7;
  return c;
}

// Every parameter and buffer of the trainer's model, flattened in state order: two runs are
// the same when these are equal.
inline std::vector<float> weights_of(Trainer& t) {
  std::vector<float> all;
  for (const auto& [name, tensor] : nn::state_of(t.model()).tensors) {
    const std::vector<float> v = tensor.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// A fresh, empty folder under the system temporary directory, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    Generator g(uint64_t(reinterpret_cast<uintptr_t>(this)) ^ uint64_t(::getpid()));
    path = std::filesystem::temp_directory_path() /
           ("radgal-" + name + "-" + std::to_string(g.next_u64() % 1000000007ull));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str(const std::string& leaf = "") const {
    return leaf.empty() ? path.string() : (path / leaf).string();
  }
};

}  // namespace radgal::test
