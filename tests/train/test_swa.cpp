// Stochastic weight averaging (train/swa.h): the running mean by hand, the batch-norm statistics
// estimated as a plain mean over batches, the state round trip and refusals, and its place in
// the trainer: the constant rate of the last epochs, the saved model is the mean of the
// snapshots with fresh batch-norm statistics, and resuming in the averaging phase is exact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/models.h"
#include "tensor/random.h"
#include "train/checkpoint.h"
#include "train/swa.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

using radgal::LabeledSet;
using radgal::Tensor;
using radgal::Trainer;
using radgal::TrainConfig;
using radgal::WeightSwa;
using radgal::test::TempDir;

namespace {

std::shared_ptr<radgal::nn::Classifier> tiny_model(uint64_t seed) {
  radgal::Generator init(seed);
  return radgal::nn::make_model(radgal::test::tiny_config().model, init);
}

const Tensor& find(const radgal::nn::NamedTensors& s, const std::string& name) {
  const Tensor* t = s.find(name);
  REQUIRE(t != nullptr);
  return *t;
}

TrainConfig swa_config() {
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 4;
  c.swa_epochs = 2;
  c.swa_lr = 5e-4;
  return c;
}

}  // namespace

TEST_CASE("swa: parameters are the mean of the snapshots, buffers the latest") {
  auto a = tiny_model(1), b = tiny_model(2), c = tiny_model(3);
  WeightSwa swa(*a);
  CHECK(swa.count() == 0);
  swa.add(*a);
  swa.add(*b);
  swa.add(*c);
  CHECK(swa.count() == 3);
  const auto sa = radgal::nn::state_of(*a), sb = radgal::nn::state_of(*b),
             sc = radgal::nn::state_of(*c);
  const size_t n_params = a->named_parameters().size();
  REQUIRE(swa.state().tensors.size() == sa.tensors.size());
  double worst = 0;
  for (size_t i = 0; i < sa.tensors.size(); ++i) {
    const std::vector<float> got = swa.state().tensors[i].second.to_vector(),
                             va = sa.tensors[i].second.to_vector(),
                             vb = sb.tensors[i].second.to_vector(),
                             vc = sc.tensors[i].second.to_vector();
    for (size_t k = 0; k < got.size(); ++k) {
      const double want = i < n_params ? (double(va[k]) + vb[k] + vc[k]) / 3.0 : double(vc[k]);
      worst = std::max(worst, std::abs(got[k] - want));
    }
  }
  CHECK(worst < 1e-6);
  // The seeds differ, so the mean is not any one snapshot: the test can tell.
  CHECK(find(swa.state(), "conv1a.weight").to_vector() != find(sc, "conv1a.weight").to_vector());
}

TEST_CASE("swa: batch-norm statistics are the plain mean over the batches") {
  radgal::Generator init(5), data(6);
  radgal::nn::BatchNorm2d bn(3, init);
  bn.eval();
  std::vector<Tensor> batches;
  for (int k = 0; k < 4; ++k) {
    batches.push_back(Tensor::randn({2 + k, 3, 4, 5}, data, 0.5f * k, 1.f + k));
  }
  size_t next = 0;
  const int64_t used = radgal::recompute_batch_norm(bn, [&] {
    if (next == batches.size()) return false;
    bn.forward(batches[next++]);
    return true;
  });
  CHECK(used == 4);
  CHECK(bn.momentum() == doctest::Approx(0.1f));  // restored
  CHECK_FALSE(bn.is_training());                  // restored
  // Expected: per channel, mean over batches of the batch mean and of the unbiased batch variance.
  const std::vector<float> mean = bn.running_mean.to_vector(), var = bn.running_var.to_vector();
  for (int64_t ch = 0; ch < 3; ++ch) {
    double mean_sum = 0, var_sum = 0;
    for (const Tensor& x : batches) {
      const std::vector<float> v = x.to_vector();
      const int64_t n = x.shape()[0], hw = 20, count = n * hw;
      double s = 0, s2 = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < hw; ++p) s += v[size_t((i * 3 + ch) * hw + p)];
      const double m = s / double(count);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < hw; ++p) {
          const double d = v[size_t((i * 3 + ch) * hw + p)] - m;
          s2 += d * d;
        }
      mean_sum += m;
      var_sum += s2 / double(count - 1);
    }
    CHECK(mean[size_t(ch)] == doctest::Approx(mean_sum / 4).epsilon(1e-5));
    CHECK(var[size_t(ch)] == doctest::Approx(var_sum / 4).epsilon(1e-5));
  }
}

TEST_CASE("swa: no batches is refused and leaves the statistics as they were") {
  radgal::Generator init(5);
  radgal::nn::BatchNorm2d bn(2, init);
  bn.running_mean.fill_(0.25f);
  bn.running_var.fill_(2.f);
  CHECK_THROWS_WITH_AS(radgal::recompute_batch_norm(bn, [] { return false; }),
                       doctest::Contains("no batches"), std::invalid_argument);
  CHECK(bn.running_mean.to_vector() == std::vector<float>{0.25f, 0.25f});
  CHECK(bn.running_var.to_vector() == std::vector<float>{2.f, 2.f});
  CHECK(bn.momentum() == doctest::Approx(0.1f));
  CHECK_THROWS_AS(bn.set_momentum(0.f), std::invalid_argument);
  CHECK_THROWS_AS(bn.set_momentum(1.5f), std::invalid_argument);
}

TEST_CASE("swa: state round trip and refusals") {
  auto a = tiny_model(1), b = tiny_model(2);
  WeightSwa swa(*a);
  swa.add(*a);
  swa.add(*b);
  WeightSwa copy(*a);
  copy.load(swa.state(), swa.count(), "test");
  CHECK(copy.count() == 2);
  for (size_t i = 0; i < swa.state().tensors.size(); ++i)
    CHECK(copy.state().tensors[i].second.to_vector() == swa.state().tensors[i].second.to_vector());

  radgal::nn::NamedTensors missing = swa.state();
  missing.tensors.pop_back();
  CHECK_THROWS_WITH_AS(copy.load(missing, 2, "f.safetensors"),
                       doctest::Contains("f.safetensors"), std::runtime_error);
  CHECK_THROWS_AS(copy.load(swa.state(), -1, "f"), std::runtime_error);
}

TEST_CASE("swa: configurations that cannot work are refused") {
  TrainConfig c = swa_config();
  CHECK_NOTHROW(c.validate());
  c.swa_epochs = c.epochs;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("swa_epochs"), std::invalid_argument);
  c = swa_config();
  c.swa_lr = 0;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("swa_lr"), std::invalid_argument);
  c = swa_config();
  c.ema_decay = 0.99;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("EMA"), std::invalid_argument);
  c = swa_config();
  c.patience = 2;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("early stopping"), std::invalid_argument);
  c = swa_config();
  c.swa_epochs = -1;
  CHECK_THROWS_AS(c.validate(), std::invalid_argument);
  // The settings survive the JSON round trip (config.json, checkpoints, resume checks).
  const TrainConfig back = TrainConfig::from_json(swa_config().to_json());
  CHECK(back.swa_epochs == 2);
  CHECK(back.swa_lr == 5e-4);
}

TEST_CASE("trainer: SWA trains its epochs at the constant rate and keeps the mean") {
  // No validation set: every epoch counts as best, so the kept model is that of the last epoch.
  const LabeledSet train = radgal::test::toy_set(24, 16, 1);
  const TrainConfig c = swa_config();
  Trainer t(c, train, LabeledSet{});
  std::vector<radgal::nn::NamedTensors> live;
  while (!t.finished()) {
    t.run_epoch();
    live.push_back(radgal::nn::state_of(t.model()));
  }
  REQUIRE(t.history().size() == 4);
  CHECK(t.history()[0].lr != doctest::Approx(5e-4));
  CHECK(t.history()[1].lr < 1e-5);  // the schedule ends with epoch 2 of 4
  CHECK(t.history()[2].lr == doctest::Approx(5e-4));
  CHECK(t.history()[3].lr == doctest::Approx(5e-4));

  WeightSwa swa(t.model());
  auto snapshot = tiny_model(0);
  for (int e = 2; e < 4; ++e) {
    radgal::nn::load_state(*snapshot, live[size_t(e)], "snapshot");
    swa.add(*snapshot);
  }
  const radgal::nn::NamedTensors& kept = t.best_state();
  const size_t n_params = t.model().named_parameters().size();
  for (size_t i = 0; i < n_params; ++i) {
    INFO(kept.tensors[i].first);
    CHECK(kept.tensors[i].second.to_vector() == swa.state().tensors[i].second.to_vector());
  }
  // Fresh batch-norm statistics, not the live model's; the live model trains on unaveraged.
  CHECK(find(kept, "bnorm1a.running_mean").to_vector() !=
        find(live[3], "bnorm1a.running_mean").to_vector());
  CHECK(find(kept, "conv1a.weight").to_vector() != find(live[3], "conv1a.weight").to_vector());
  const auto now = radgal::nn::state_of(t.model());
  CHECK(find(now, "conv1a.weight").to_vector() == find(live[3], "conv1a.weight").to_vector());
}

TEST_CASE("trainer: resuming inside the SWA epochs equals an uninterrupted run, bit for bit") {
  const LabeledSet train = radgal::test::toy_set(20, 16, 1), val = radgal::test::toy_set(8, 16, 2);
  const TrainConfig c = swa_config();
  TempDir straight_dir("swa-straight"), split_dir("swa-split");
  Trainer straight(c, train, val, straight_dir.str());
  straight.fit();
  {
    Trainer first(c, train, val, split_dir.str());
    for (int e = 0; e < 3; ++e) first.run_epoch();  // one snapshot in the mean
  }
  Trainer second(c, train, val, split_dir.str());
  second.resume(split_dir.str("checkpoint.safetensors"));
  second.fit();
  const auto a = radgal::read_checkpoint(straight_dir.str("checkpoint.safetensors"));
  const auto b = radgal::read_checkpoint(split_dir.str("checkpoint.safetensors"));
  CHECK(a.state["swa_count"] == 2);
  CHECK(b.state["swa_count"] == 2);
  for (const auto* pair : {&a.model, &a.best_model, &a.swa_model}) {
    const radgal::nn::NamedTensors& other = pair == &a.model        ? b.model
                                            : pair == &a.best_model ? b.best_model
                                                                    : b.swa_model;
    REQUIRE(pair->tensors.size() == other.tensors.size());
    REQUIRE(!pair->tensors.empty());
    for (size_t i = 0; i < pair->tensors.size(); ++i) {
      INFO(pair->tensors[i].first);
      CHECK(pair->tensors[i].second.to_vector() == other.tensors[i].second.to_vector());
    }
  }
  CHECK(straight.history()[3].val_loss == second.history()[3].val_loss);
}
