// Knowledge distillation and --init in the trainer: the blended targets, that a teacher which
// repeats the labels trains exactly as plain cross-entropy does (to rounding), that a teacher
// steers training, resume bit for bit, the setting's JSON and refusals; and starting from a saved
// model's weights.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/models.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

using namespace radgal;
using radgal::test::TempDir;
using radgal::test::weights_of;

namespace {

// The teacher's p(FRII) that repeats the labels, or contradicts them.
std::vector<float> labels_as_probabilities(const LabeledSet& set, bool inverted) {
  std::vector<float> p;
  for (int64_t t : set.targets) p.push_back(float(inverted ? 1 - t : t));
  return p;
}

}  // namespace

TEST_CASE("distillation: the targets blend the smoothed label with the teacher's probabilities") {
  // Image 0 (label FRII) sits at position 2 of the set, image 1 (label FRI) at position 0.
  const std::vector<float> teacher = {0.2f, 0.9f, 0.6f};
  const Tensor q = distillation_targets({1, 0}, {2, 0}, teacher, 0.25, 0.1);
  CHECK(q.shape() == Shape{2, 2});
  const std::vector<float> v = q.to_vector();
  // Smoothed labels: FRII -> (0.05, 0.95), FRI -> (0.95, 0.05).
  CHECK(v[0] == doctest::Approx(0.75 * 0.05 + 0.25 * 0.4));
  CHECK(v[1] == doctest::Approx(0.75 * 0.95 + 0.25 * 0.6));
  CHECK(v[2] == doctest::Approx(0.75 * 0.95 + 0.25 * 0.8));
  CHECK(v[3] == doctest::Approx(0.75 * 0.05 + 0.25 * 0.2));
  for (int i = 0; i < 2; ++i) CHECK(v[2 * i] + v[2 * i + 1] == doctest::Approx(1.0));

  // Weight 0 is the smoothed label, weight 1 the teacher alone.
  CHECK(distillation_targets({1}, {1}, teacher, 0.0, 0.0).to_vector() ==
        std::vector<float>{0.f, 1.f});
  const std::vector<float> only = distillation_targets({1}, {0}, teacher, 1.0, 0.1).to_vector();
  CHECK(only[0] == doctest::Approx(0.8));
  CHECK(only[1] == doctest::Approx(0.2));

  // An index outside the teacher's targets is an error, not a read past the end.
  CHECK_THROWS_AS(distillation_targets({0}, {3}, teacher, 0.5, 0.0), std::out_of_range);
}

TEST_CASE("distillation in training: a teacher that repeats the labels changes nothing") {
  const LabeledSet train = radgal::test::toy_set(20, 16, 1), val = radgal::test::toy_set(8, 16, 2);
  TrainConfig plain = radgal::test::tiny_config();
  plain.label_smoothing = 0;  // one-hot targets, so the blend with one-hot labels is the label
  // Plain SGD keeps rounding differences at rounding size (Adam would magnify the noise-level
  // gradients of converged weights into full steps).
  plain.optimizer = "sgd";
  plain.lr = 0.05;
  TrainConfig distilled = plain;
  distilled.distill_weight = 0.5;
  distilled.teacher = "/teacher.safetensors";  // recorded only; the targets come from the caller

  Trainer a(plain, train, val);
  a.fit();
  Trainer b(distilled, train, val);
  b.set_teacher_targets(labels_as_probabilities(train, false));
  b.fit();
  const std::vector<float> wa = weights_of(a), wb = weights_of(b);
  REQUIRE(wa.size() == wb.size());
  // Fused and composed cross-entropy round differently; over two epochs that stays tiny.
  for (size_t i = 0; i < wa.size(); ++i) REQUIRE(wb[i] == doctest::Approx(wa[i]).epsilon(1e-4));
  CHECK(b.history()[1].train_loss == doctest::Approx(a.history()[1].train_loss).epsilon(1e-4));
}

TEST_CASE("distillation in training: the teacher steers the model, resume stays bit for bit") {
  const LabeledSet train = radgal::test::toy_set(24, 16, 1), val = radgal::test::toy_set(16, 16, 2);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 6;
  c.augment = false;
  c.model.dropout = 0;
  c.distill_weight = 1.0;
  c.teacher = "/teacher.safetensors";

  // A teacher that contradicts every label, followed alone: the model learns the opposite of
  // the labels, so it is wrong on (nearly) all validation images; one that agrees is right.
  Trainer against(c, train, val);
  against.set_teacher_targets(labels_as_probabilities(train, true));
  against.fit();
  Trainer with(c, train, val);
  with.set_teacher_targets(labels_as_probabilities(train, false));
  with.fit();
  CHECK(with.history().back().val_accuracy > 0.9);
  CHECK(against.history().back().val_accuracy < 0.1);

  // Resume: the same targets again after the restart give the same bits (here with mixup too,
  // whose partners' targets blend as the images do).
  c.distill_weight = 0.6;
  c.mixup_alpha = 0.4;
  c.epochs = 2;
  const std::vector<float> soft = {0.1f, 0.7f, 0.4f, 0.95f, 0.5f, 0.3f, 0.8f, 0.2f,
                                   0.1f, 0.7f, 0.4f, 0.95f, 0.5f, 0.3f, 0.8f, 0.2f,
                                   0.1f, 0.7f, 0.4f, 0.95f, 0.5f, 0.3f, 0.8f, 0.2f};
  Trainer straight(c, train, val);
  straight.set_teacher_targets(soft);
  straight.fit();
  TempDir dir("distill-resume");
  {
    Trainer first(c, train, val, dir.str());
    first.set_teacher_targets(soft);
    first.run_epoch();
  }
  Trainer second(c, train, val, dir.str());
  second.set_teacher_targets(soft);
  second.resume(dir.str("checkpoint.safetensors"));
  second.fit();
  CHECK(weights_of(second) == weights_of(straight));
  CHECK(second.history()[1].train_loss == straight.history()[1].train_loss);
}

TEST_CASE("distillation: missing or malformed teacher targets are refused") {
  const LabeledSet train = radgal::test::toy_set(10, 16, 1), val = radgal::test::toy_set(4, 16, 2);
  TrainConfig c = radgal::test::tiny_config();
  c.distill_weight = 0.5;
  c.teacher = "/teacher.safetensors";
  Trainer t(c, train, val);
  CHECK_THROWS_WITH_AS(t.run_epoch(), doctest::Contains("set_teacher_targets"), std::logic_error);
  CHECK_THROWS_WITH_AS(t.set_teacher_targets(std::vector<float>(9, 0.5f)),
                       doctest::Contains("9 teacher targets for 10 training images"),
                       std::invalid_argument);
  std::vector<float> bad(10, 0.5f);
  bad[3] = 1.5f;
  CHECK_THROWS_WITH_AS(t.set_teacher_targets(bad), doctest::Contains("not a probability"),
                       std::invalid_argument);
  bad[3] = std::nanf("");
  CHECK_THROWS_AS(t.set_teacher_targets(bad), std::invalid_argument);
}

TEST_CASE("distillation and init: the settings survive JSON, older configs read them as off") {
  TrainConfig c = radgal::test::tiny_config();
  c.distill_weight = 0.3;
  c.teacher = "/runs/teacher/model.safetensors";
  c.teacher_views = 8;
  c.init = "/runs/start/model.safetensors";
  const TrainConfig back = TrainConfig::from_json(nlohmann::json::parse(c.to_json().dump()));
  CHECK(back.distill_weight == 0.3);
  CHECK(back.teacher == c.teacher);
  CHECK(back.teacher_views == 8);
  CHECK(back.init == c.init);

  nlohmann::json older = c.to_json();
  older.erase("distill");
  older.erase("init");
  const TrainConfig old = TrainConfig::from_json(older);
  CHECK(old.distill_weight == 0.0);
  CHECK(old.teacher.empty());
  CHECK(old.teacher_views == 16);
  CHECK(old.init.empty());

  TrainConfig bad = c;
  bad.distill_weight = 1.5;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("distillation weight"),
                       std::invalid_argument);
  bad.distill_weight = 0.5;
  bad.teacher.clear();
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("needs a teacher"), std::invalid_argument);
  bad.distill_weight = 0;
  bad.teacher = "/t.safetensors";
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("only used with a distillation weight"),
                       std::invalid_argument);
  bad.distill_weight = 0.5;
  bad.teacher_views = -1;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("views"), std::invalid_argument);
  bad.teacher_views = 0;
  CHECK_NOTHROW(bad.validate());
}

TEST_CASE("init: a run starts from a saved model's weights, and refuses another architecture") {
  const LabeledSet train = radgal::test::toy_set(20, 16, 1), val = radgal::test::toy_set(4, 16, 2);
  const TrainConfig c = radgal::test::tiny_config();
  TempDir dir("init");
  Trainer source(c, train, val, dir.str("source"));
  source.fit();
  const std::string file = dir.str("source/model.safetensors");

  TrainConfig from = c;
  from.seed = 99;  // other random weights, replaced by the file's
  from.init = file;
  Trainer started(from, train, val);
  const nn::NamedTensors saved = nn::state_of(*nn::load_model(file).model);
  const nn::NamedTensors now = nn::state_of(started.model());
  REQUIRE(saved.tensors.size() == now.tensors.size());
  for (size_t i = 0; i < now.tensors.size(); ++i) {
    CHECK_MESSAGE(now.tensors[i].second.to_vector() == saved.tensors[i].second.to_vector(),
                  now.tensors[i].first);
  }
  TrainConfig fresh = c;
  fresh.seed = 99;
  Trainer random_start(fresh, train, val);
  CHECK(weights_of(random_start) != weights_of(started));

  // Dropout may differ; the architecture may not.
  TrainConfig other_dropout = from;
  other_dropout.model.dropout = 0.5f;
  CHECK_NOTHROW(Trainer(other_dropout, train, val));
  TrainConfig other_norm = from;
  other_norm.model.norm = "sigmoid";
  CHECK_THROWS_WITH_AS(Trainer(other_norm, train, val),
                       doctest::Contains("--init needs the same architecture"),
                       std::invalid_argument);
  TrainConfig missing = from;
  missing.init = dir.str("nowhere.safetensors");
  CHECK_THROWS_WITH_AS(Trainer(missing, train, val), doctest::Contains("nowhere.safetensors"),
                       std::runtime_error);
}
