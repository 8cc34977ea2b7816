// The training loop: early stopping's direction, bit-identical resume, the best model kept on
// disk, the run directory's files, and a smoke test on real MiraBest images (loss falls, the
// training set is learnt well above chance).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "data/batches.h"
#include "nn/models.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

using radgal::EarlyStopping;
using radgal::LabeledSet;
using radgal::Trainer;
using radgal::TrainConfig;
using radgal::test::TempDir;

namespace {

void check_identical(const radgal::nn::NamedTensors& a, const radgal::nn::NamedTensors& b,
                     const std::string& what) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [name, ta] = a.tensors[i];
    REQUIRE(name == b.tensors[i].first);
    const std::vector<float> va = ta.to_vector(), vb = b.tensors[i].second.to_vector();
    REQUIRE(va.size() == vb.size());
    size_t differing = 0;
    for (size_t k = 0; k < va.size(); ++k) differing += va[k] != vb[k];  // exact, bit for bit
    CHECK_MESSAGE(differing == 0, what << ": " << name << " differs in " << differing << " of "
                                       << va.size() << " values");
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The central 64 x 64 of each 150 x 150 image, averaged over 2 x 2 blocks: 32 x 32 images that
// keep the sources' shapes and make a training step cheap.
LabeledSet shrink(const LabeledSet& in) {
  const int64_t side = 32, crop = 64, off = (150 - crop) / 2;
  LabeledSet out = in;
  out.images.height = out.images.width = side;
  out.images.pixels.assign(in.size() * side * side, 0);
  for (size_t i = 0; i < in.size(); ++i) {
    const uint8_t* src = in.images.image(i);
    uint8_t* dst = out.images.pixels.data() + i * side * side;
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x) {
        int sum = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) sum += src[(off + 2 * y + dy) * 150 + off + 2 * x + dx];
        dst[y * side + x] = uint8_t((sum + 2) / 4);
      }
  }
  return out;
}

}  // namespace

TEST_CASE("trainer: early stopping treats LOWER validation loss as better") {
  EarlyStopping es(2);
  CHECK(es.observe(1.0));   // the first value is the best so far
  CHECK(!es.observe(1.5));  // higher: worse
  CHECK(es.bad_epochs() == 1);
  CHECK(es.observe(0.5));  // lower: better, resets the count
  CHECK(es.best() == 0.5);
  CHECK(es.bad_epochs() == 0);
  CHECK(!es.observe(0.5));  // equal: not an improvement
  CHECK(!es.should_stop());
  CHECK(!es.observe(0.7));
  CHECK(es.should_stop());  // two epochs without improvement with patience 2
  CHECK(es.best() == 0.5);

  EarlyStopping never(0);
  for (int i = 0; i < 10; ++i) never.observe(1.0 + i);
  CHECK(!never.should_stop());
}

TEST_CASE("trainer: the configuration survives JSON and bad settings are refused") {
  TrainConfig c = radgal::test::tiny_config();
  c.schedule.kind = radgal::ScheduleKind::plateau;
  c.schedule.plateau_patience = 4;
  c.augment_options.scale_min = 0.85f;
  c.split_seed = 12345678901234ull;
  const TrainConfig back = TrainConfig::from_json(nlohmann::json::parse(c.to_json().dump()));
  CHECK(back.to_json() == c.to_json());
  CHECK(back.augment_options.scale_min == 0.85f);
  CHECK(c.to_json()["data"]["subset"] == "confident");
  TrainConfig extra = c;
  extra.extra_subset = "uncertain";
  CHECK(TrainConfig::from_json(extra.to_json()).extra_subset == "uncertain");
  nlohmann::json older = extra.to_json();
  older["data"].erase("extra_subset");
  CHECK(TrainConfig::from_json(older).extra_subset.empty());
  // The resampling survives JSON; a config written before it existed reads as bilinear, and an
  // unknown name is refused with the key it came from.
  TrainConfig sharp = c;
  sharp.augment_options.interpolation = radgal::Interpolation::cubic;
  CHECK(sharp.to_json()["augment"]["interpolation"] == "cubic");
  CHECK(TrainConfig::from_json(sharp.to_json()).augment_options.interpolation ==
        radgal::Interpolation::cubic);
  nlohmann::json before = sharp.to_json();
  before["augment"].erase("interpolation");
  CHECK(TrainConfig::from_json(before).augment_options.interpolation ==
        radgal::Interpolation::bilinear);
  before["augment"]["interpolation"] = "nearest";
  CHECK_THROWS_WITH_AS(TrainConfig::from_json(before),
                       doctest::Contains("augment.interpolation: unknown interpolation 'nearest'"),
                       std::invalid_argument);
  extra.subset = "full";  // full already holds the uncertain images
  CHECK_THROWS_WITH_AS(extra.validate(), doctest::Contains("share no image"),
                       std::invalid_argument);

  TrainConfig bad = c;
  bad.optimizer = "rmsprop";
  CHECK_THROWS_AS(bad.validate(), std::invalid_argument);
  bad = c;
  bad.lr = 0;
  CHECK_THROWS_AS(bad.validate(), std::invalid_argument);
  CHECK_THROWS_AS(TrainConfig::from_json({{"epochs", "many"}}), std::invalid_argument);
  // Settings that follow the validation loss need a validation set.
  bad = c;
  bad.val_fraction = 0;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("plateau schedule"),
                       std::invalid_argument);
  bad.schedule.kind = radgal::ScheduleKind::onecycle;
  CHECK_NOTHROW(bad.validate());
  bad.patience = 3;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("patience"), std::invalid_argument);
}

TEST_CASE("trainer: 2 epochs straight equal 1 epoch + resume + 1 epoch, bit for bit") {
  const LabeledSet train = radgal::test::toy_set(20, 16, 1), val = radgal::test::toy_set(8, 16, 2);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 2;

  TempDir straight_dir("resume-straight"), split_dir("resume-split");
  Trainer straight(c, train, val, straight_dir.str());
  straight.fit();

  {
    Trainer first(c, train, val, split_dir.str());
    first.run_epoch();
  }  // the first session ends here, as a process would
  Trainer second(c, train, val, split_dir.str());
  second.resume(split_dir.str("checkpoint.safetensors"));
  CHECK(second.epochs_done() == 1);
  second.fit();
  CHECK(second.epochs_done() == 2);

  check_identical(radgal::nn::state_of(straight.model()), radgal::nn::state_of(second.model()),
                  "final weights");
  check_identical(straight.best_state(), second.best_state(), "best weights");
  const radgal::Checkpoint a = radgal::read_checkpoint(straight_dir.str("checkpoint.safetensors"));
  const radgal::Checkpoint b = radgal::read_checkpoint(split_dir.str("checkpoint.safetensors"));
  REQUIRE(a.optimizer.size() == b.optimizer.size());
  for (size_t i = 0; i < a.optimizer.size(); ++i)
    CHECK(a.optimizer[i].second.to_vector() == b.optimizer[i].second.to_vector());
  CHECK(a.state["dropout_rng"] == b.state["dropout_rng"]);
  for (int e = 0; e < 2; ++e) {
    CHECK(straight.history()[e].train_loss == second.history()[e].train_loss);
    CHECK(straight.history()[e].val_loss == second.history()[e].val_loss);
  }
}

TEST_CASE("trainer: resume refuses a checkpoint of other settings") {
  const LabeledSet train = radgal::test::toy_set(8, 16, 1), val = radgal::test::toy_set(4, 16, 2);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 1;
  c.schedule.kind = radgal::ScheduleKind::cosine;
  TempDir dir("resume-mismatch");
  Trainer(c, train, val, dir.str()).fit();
  TrainConfig other = c;
  other.lr = 1e-2;
  Trainer t(other, train, val);
  try {
    t.resume(dir.str("checkpoint.safetensors"));
    FAIL("a checkpoint of another learning rate was accepted");
  } catch (const std::runtime_error& e) {
    CHECK_MESSAGE(std::string(e.what()).find("/optimizer/lr") != std::string::npos, e.what());
  }
}

TEST_CASE("trainer: the run directory keeps the best model by validation loss") {
  const LabeledSet train = radgal::test::toy_set(24, 16, 3), val = radgal::test::toy_set(8, 16, 4);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 4;
  c.lr = 2e-2;  // large steps, so validation loss goes up as well as down
  c.schedule.kind = radgal::ScheduleKind::none;
  TempDir dir("best-model");
  Trainer t(c, train, val, dir.str());
  std::ostringstream log;
  t.fit(&log);
  REQUIRE(t.history().size() == 4);

  // "best" marks exactly the epochs whose validation loss is below every earlier one.
  double lowest = INFINITY;
  for (const auto& r : t.history()) {
    CHECK(r.best == (r.val_loss < lowest));
    lowest = std::min(lowest, r.val_loss);
  }
  // model.safetensors holds the best epoch's weights.
  const radgal::nn::LoadedModel saved = radgal::nn::load_model(dir.str());
  check_identical(radgal::nn::state_of(*saved.model), t.best_state(), "model.safetensors");
  CHECK(saved.config.to_json() == c.model.to_json());
  CHECK(saved.metadata.at("radgal.epoch") == std::to_string(t.best_epoch()));

  // The other files.
  const std::string csv = read_text(dir.str("history.csv"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 5);  // header and 4 epochs
  const auto config = nlohmann::json::parse(read_text(dir.str("config.json")));
  CHECK(config["data"]["subset"] == "confident");
  CHECK(config["model"]["image_size"] == 16);
  // The log: a header and one line per epoch.
  const std::string text = log.str();
  CHECK(text.find("val loss") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 5);
}

TEST_CASE("trainer: epoch lines line up under the header, with and without validation") {
  const LabeledSet train = radgal::test::toy_set(16, 16, 7), val = radgal::test::toy_set(8, 16, 8);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 1;
  c.schedule.kind = radgal::ScheduleKind::none;
  const std::string header = Trainer::summary_header();
  // The end of every header column (names are apart by two spaces or more, words of one name
  // by one): where each field of an epoch line must end too.
  std::vector<size_t> column_ends;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] != ' ' && (i + 1 == header.size() || header.compare(i + 1, 2, "  ") == 0))
      column_ends.push_back(i);
  REQUIRE(column_ends.size() == 8);
  column_ends.erase(column_ends.begin());  // "epoch" is left-aligned
  for (bool with_val : {true, false}) {
    INFO("validation set: " << std::string(with_val ? "yes" : "no"));
    Trainer t(c, train, with_val ? val : LabeledSet{}, "");
    std::ostringstream log;
    t.fit(&log);
    std::string line = log.str().substr(log.str().find('\n') + 1);
    line = line.substr(0, line.find('\n'));
    CHECK(line.find("nan") == std::string::npos);
    if (!with_val) CHECK(line.find("  -  ") != std::string::npos);
    for (size_t end : column_ends) {
      INFO("column ending at " << end << " in\n" << header << "\n" << line);
      REQUIRE(end < line.size());
      CHECK(line[end] != ' ');
      CHECK((end + 1 == line.size() || line[end + 1] == ' '));
    }
  }
}

TEST_CASE("trainer: patience stops the run and keeps the best epoch") {
  const LabeledSet train = radgal::test::toy_set(16, 16, 5), val = radgal::test::toy_set(8, 16, 6);
  TrainConfig c = radgal::test::tiny_config();
  c.epochs = 30;
  c.lr = 1e-9;  // nothing changes, so validation loss never improves after epoch 1
  c.schedule.kind = radgal::ScheduleKind::none;
  c.model.dropout = 0;
  c.augment = false;
  c.patience = 2;
  Trainer t(c, train, val);
  t.fit();
  CHECK(t.stopped_early());
  CHECK(t.epochs_done() <= 4);
  CHECK(t.best_epoch() >= 1);
}

TEST_CASE("trainer: smoke test on real MiraBest images: loss falls, training set learnt") {
  const std::string batch = std::string(RADGAL_SHARED_DATA_DIR) + "/mirabest/batches";
  radgal::ImageSet images = radgal::read_batch_file(batch + "/data_batch_1");
  images.label_names = radgal::read_batch_meta(batch + "/batches.meta").label_names;
  const LabeledSet confident = shrink(radgal::select_subset(images, radgal::Subset::confident));
  REQUIRE(confident.size() > 60);

  TrainConfig c = radgal::test::tiny_config();
  c.model.image_size = 32;
  c.model.dropout = 0;
  c.epochs = 6;
  c.batch_size = 16;
  c.augment = false;
  c.label_smoothing = 0;
  c.lr = 5e-3;
  Trainer t(c, confident, LabeledSet{});
  t.fit();
  const auto& h = t.history();
  INFO("train loss " << h.front().train_loss << " -> " << h.back().train_loss << ", accuracy "
                     << h.back().train_accuracy);
  CHECK(h.back().train_loss < 0.8 * h.front().train_loss);
  const radgal::EvalResult fit = radgal::evaluate_set(t.model(), confident);
  CHECK(fit.accuracy > 0.75);
}
