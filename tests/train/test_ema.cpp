// The weight average (train/ema.h) by hand, its state round trip and refusals, and its place in
// the trainer: validation and model.safetensors use the averaged weights, and a resumed run with
// averaging still equals an uninterrupted one bit for bit.
#include <doctest/doctest.h>

#include <string>

#include "nn/layers.h"
#include "nn/models.h"
#include "train/checkpoint.h"
#include "train/ema.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

using radgal::LabeledSet;
using radgal::Trainer;
using radgal::TrainConfig;
using radgal::WeightEma;
using radgal::test::TempDir;

namespace {

std::shared_ptr<radgal::nn::Classifier> tiny_model() {
  radgal::Generator init(3);
  return radgal::nn::make_model(radgal::test::tiny_config().model, init);
}

// Sets every parameter and buffer of the model to `value`.
void fill_model(const radgal::nn::Module& m, float value) {
  for (auto& [name, t] : m.named_parameters()) {
    float* d = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = value;
  }
  for (auto& [name, t] : m.named_buffers()) {
    float* d = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = value;
  }
}

}  // namespace

TEST_CASE("ema: the average follows d = min(decay, (1 + n) / (10 + n)), counters are copied") {
  auto model = tiny_model();
  fill_model(*model, 0.f);
  WeightEma ema(*model, 0.5);
  fill_model(*model, 1.f);
  ema.update(*model);  // n = 1: d = min(0.5, 2/11) = 2/11, avg = 9/11
  ema.update(*model);  // n = 2: d = min(0.5, 3/12) = 0.25, avg = 0.25 * 9/11 + 0.75
  fill_model(*model, 3.f);
  ema.update(*model);  // n = 3: d = min(0.5, 4/13) = 4/13
  CHECK(ema.updates() == 3);
  const double after2 = 0.25 * (9.0 / 11.0) + 0.75;
  const double expected = (4.0 / 13.0) * after2 + (9.0 / 13.0) * 3.0;
  int averaged = 0, copied = 0;
  for (const auto& [name, t] : ema.state().tensors) {
    const bool counter = radgal::nn::is_batch_counter(name);
    const float want = counter ? 3.f : float(expected);
    (counter ? copied : averaged) += 1;
    for (float v : t.to_vector()) REQUIRE_MESSAGE(v == doctest::Approx(want).epsilon(1e-6), name);
  }
  CHECK(averaged > 10);
  CHECK(copied > 0);

  // Late in a run the decay itself rules: at n = 20, (1 + n) / (10 + n) = 0.7 > 0.5.
  fill_model(*model, 0.f);
  WeightEma late(*model, 0.5);
  for (int i = 0; i < 19; ++i) late.update(*model);
  fill_model(*model, 1.f);
  late.update(*model);
  CHECK(late.state().tensors[0].second.to_vector()[0] == doctest::Approx(0.5).epsilon(1e-6));

  CHECK_THROWS_AS(WeightEma(*model, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(WeightEma(*model, 0.0), std::invalid_argument);
}

TEST_CASE("ema: the average is a snapshot, and load restores it or names the problem") {
  auto model = tiny_model();
  WeightEma ema(*model, 0.9);
  const std::vector<float> first = ema.state().tensors[0].second.to_vector();
  fill_model(*model, 5.f);  // changing the model does not change the average until update()
  CHECK(ema.state().tensors[0].second.to_vector() == first);
  ema.update(*model);

  WeightEma other(*tiny_model(), 0.9);
  other.load(ema.state(), ema.updates(), "test");
  CHECK(other.updates() == 1);
  for (size_t i = 0; i < ema.state().tensors.size(); ++i)
    CHECK(other.state().tensors[i].second.to_vector() == ema.state().tensors[i].second.to_vector());

  radgal::nn::NamedTensors missing = ema.state();
  missing.tensors.pop_back();
  CHECK_THROWS_WITH_AS(other.load(missing, 1, "file.safetensors"),
                       doctest::Contains("file.safetensors"), std::runtime_error);
  radgal::nn::NamedTensors renamed = ema.state();
  renamed.tensors[0].first = "nonsense.weight";
  CHECK_THROWS_AS(other.load(renamed, 1, "x"), std::runtime_error);
}

TEST_CASE("ema: the trainer validates and saves the averaged weights, resume stays exact") {
  const LabeledSet train = radgal::test::toy_set(20, 16, 1), val = radgal::test::toy_set(8, 16, 2);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 2;
  c.ema_decay = 0.9;

  TempDir straight_dir("ema-straight"), split_dir("ema-split");
  Trainer straight(c, train, val, straight_dir.str());
  straight.fit();
  {
    Trainer first(c, train, val, split_dir.str());
    first.run_epoch();
  }
  Trainer second(c, train, val, split_dir.str());
  second.resume(split_dir.str("checkpoint.safetensors"));
  second.fit();

  const radgal::Checkpoint a = radgal::read_checkpoint(straight_dir.str("checkpoint.safetensors"));
  const radgal::Checkpoint b = radgal::read_checkpoint(split_dir.str("checkpoint.safetensors"));
  REQUIRE(!a.ema_model.tensors.empty());
  REQUIRE(a.ema_model.tensors.size() == b.ema_model.tensors.size());
  CHECK(a.state["ema_updates"] == b.state["ema_updates"]);
  CHECK(a.state["ema_updates"].get<int64_t>() > 0);
  for (size_t i = 0; i < a.ema_model.tensors.size(); ++i) {
    CHECK(a.ema_model.tensors[i].second.to_vector() == b.ema_model.tensors[i].second.to_vector());
  }
  for (int e = 0; e < 2; ++e) CHECK(straight.history()[e].val_loss == second.history()[e].val_loss);

  // The saved model is the best epoch's average, not the live weights.
  const radgal::nn::LoadedModel saved = radgal::nn::load_model(straight_dir.str());
  const auto saved_state = radgal::nn::state_of(*saved.model);
  const auto live = radgal::nn::state_of(straight.model());
  bool differs_from_live = false;
  for (size_t i = 0; i < saved_state.tensors.size(); ++i) {
    CHECK(saved_state.tensors[i].second.to_vector() ==
          straight.best_state().tensors[i].second.to_vector());
    differs_from_live |=
        saved_state.tensors[i].second.to_vector() != live.tensors[i].second.to_vector();
  }
  CHECK(differs_from_live);
  if (straight.best_epoch() == 2) {
    for (size_t i = 0; i < saved_state.tensors.size(); ++i)
      CHECK(saved_state.tensors[i].second.to_vector() ==
            a.ema_model.tensors[i].second.to_vector());
  }

  // A run without averaging refuses nothing of this; one that averages needs the average.
  TrainConfig plain = c;
  plain.ema_decay = 0;
  TempDir plain_dir("ema-plain");
  Trainer(plain, train, val, plain_dir.str()).run_epoch();
  Trainer wants_average(c, train, val);
  CHECK_THROWS_AS(wants_average.resume(plain_dir.str("checkpoint.safetensors")),
                  std::runtime_error);
}
