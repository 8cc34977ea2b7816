// `radgal demo`: a quick end-to-end check that needs no data. It draws a synthetic two-class set
// of small radio-galaxy-like images, trains a small CNN on it with the real training loop and
// reports test accuracy.
//
// The toy classes mimic the Fanaroff-Riley morphologies at 32 x 32 pixels:
//   class 0 ("FRI-like")   a bright centred core with two short, fading jets
//   class 1 ("FRII-like")  two bright lobes at opposite ends, 4-11 px from the centre, with at
//                          most a fainter core
// each at a random orientation and size, with Gaussian noise, then clipped at zero and scaled to
// 0-255 as MiraBest's images were.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "data/subsets.h"
#include "tensor/random.h"
#include "tools/cli_support.h"
#include "tools/commands.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace radgal::tools {

namespace {

constexpr int64_t kSide = 32;
constexpr double kPi = 3.14159265358979323846;

void add_blob(std::vector<float>& img, double cx, double cy, double sigma, double amplitude) {
  for (int64_t y = 0; y < kSide; ++y)
    for (int64_t x = 0; x < kSide; ++x) {
      const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      img[size_t(y * kSide + x)] += float(amplitude * std::exp(-r2 / (2 * sigma * sigma)));
    }
}

LabeledSet synthetic_set(int64_t n, uint64_t seed) {
  LabeledSet set;
  set.images.height = set.images.width = kSide;
  set.images.label_names = {"FRI", "FRII"};
  Generator gen(seed);
  const double c = (kSide - 1) / 2.0;
  std::vector<float> img(size_t(kSide * kSide));
  for (int64_t i = 0; i < n; ++i) {
    const int target = int(gen.below(2));
    std::fill(img.begin(), img.end(), 0.f);
    const double angle = gen.uniform(0.f, float(2 * kPi));
    const double ux = std::cos(angle), uy = std::sin(angle);
    const double cx = c + gen.uniform(-1.5f, 1.5f), cy = c + gen.uniform(-1.5f, 1.5f);
    if (target == 0) {
      add_blob(img, cx, cy, gen.uniform(1.5f, 2.5f), 1.0);
      const double jet = gen.uniform(5.f, 11.f), strength = gen.uniform(0.4f, 0.8f);
      for (double t = 1.5; t < jet; t += 0.75) {  // fading jets on both sides
        const double a = strength * (1.0 - t / jet);
        add_blob(img, cx + t * ux, cy + t * uy, 1.2, a);
        add_blob(img, cx - t * ux, cy - t * uy, 1.2, a);
      }
    } else {
      const double r = gen.uniform(4.f, 11.f);
      add_blob(img, cx + r * ux, cy + r * uy, gen.uniform(1.2f, 2.5f), gen.uniform(0.5f, 1.f));
      add_blob(img, cx - r * ux, cy - r * uy, gen.uniform(1.2f, 2.5f), gen.uniform(0.5f, 1.f));
      add_blob(img, cx, cy, 1.5, gen.uniform(0.f, 0.6f));
    }
    float peak = 0;
    for (float& v : img) {
      v = std::max(0.f, v + gen.normal(0.f, 0.12f));
      peak = std::max(peak, v);
    }
    for (float v : img) set.images.pixels.push_back(uint8_t(std::lround(255.f * v / peak)));
    set.images.labels.push_back(target);
    set.images.filenames.push_back("synthetic_" + std::to_string(i));
    set.targets.push_back(target);
  }
  return set;
}

}  // namespace

int cmd_demo(const Args& args) {
  CLI::App app{"Train a small CNN on synthetic FRI/FRII-like images (32 x 32) and report its test "
               "accuracy: a quick check of the whole training path without data.",
               "demo"};
  int64_t epochs = 4, images = 512;
  uint64_t seed = 0;
  int threads = 0;
  app.add_option("--epochs", epochs, "passes over the training images (default 4)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  app.add_option("--images", images, "training images (default 512)")
      ->check(CLI::Range(int64_t{32}, int64_t{1000000}));
  app.add_option("--seed", seed, "seed of the images, weights and training (default 0)")
      ->transform(unsigned_integer());
  app.add_option("--threads", threads, "CPU threads (default: all)")->check(CLI::Range(1, 1024));
  if (auto code = parse_command_line(app, args)) return *code;
  if (threads > 0) omp_set_num_threads(threads);

  // Three independent draws, so the test images are new to the model.
  const LabeledSet train = synthetic_set(images, seed * 3 + 1);
  const LabeledSet val = synthetic_set(std::max<int64_t>(64, images / 4), seed * 3 + 2);
  const LabeledSet test = synthetic_set(256, seed * 3 + 3);

  TrainConfig config;
  config.subset = "synthetic";
  config.model.arch = "cnn";
  config.model.image_size = kSide;
  config.optimizer = "adamw";
  config.lr = 3e-3;
  config.weight_decay = 1e-4;
  config.epochs = epochs;
  config.batch_size = 32;
  config.schedule.kind = ScheduleKind::onecycle;
  config.schedule.pct_start = 0.25;
  config.augment = false;  // the images already come at random orientations
  config.seed = seed;

  std::printf("demo      %lld synthetic %lldx%lld images (centred core vs two lobes), small CNN "
              "(%s), %d threads\n\n",
              static_cast<long long>(images), static_cast<long long>(kSide),
              static_cast<long long>(kSide), config.model.arch.c_str(), omp_get_max_threads());
  std::fflush(stdout);
  Trainer trainer(config, train, val);
  trainer.fit(&std::cout);
  trainer.restore_best();

  const EvalResult r = evaluate_set(trainer.model(), test);
  const BinaryReport report = evaluate_binary(test.targets, r.p_frii);
  std::printf("\ntest      %zu new images: accuracy %.2f%%, ROC AUC %.4f (best epoch %lld, %s)\n",
              test.size(), 100.0 * report.accuracy, report.auc,
              static_cast<long long>(trainer.best_epoch()),
              format_duration(trainer.history().back().elapsed_seconds).c_str());
  return 0;
}

}  // namespace radgal::tools
