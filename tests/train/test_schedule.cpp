// Learning-rate schedules: values at known steps worked out by hand, and whole sequences against
// torch.optim.lr_scheduler (tests/fixtures/make_schedule_fixtures.py -> schedule/).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "train/schedule.h"

using radgal::LrSchedule;
using radgal::ScheduleKind;
using radgal::ScheduleOptions;

namespace {

// Rates are compared relative to their size: torch computes some of them recursively (StepLR
// multiplies the previous rate), radgal in closed form, so the last bits may differ.
void check_rate(double ours, double expected, const std::string& what) {
  CHECK_MESSAGE(std::abs(ours - expected) <= 1e-12 * std::abs(expected) + 1e-18,
                what << ": ours " << ours << ", expected " << expected);
}

ScheduleOptions options_from(const nlohmann::json& c) {
  ScheduleOptions o;
  o.kind = radgal::parse_schedule(c["kind"].get<std::string>());
  o.base_lr = c["base_lr"];
  o.total_steps = c["total_steps"];
  o.steps_per_epoch = c["steps_per_epoch"];
  if (c.contains("pct_start")) o.pct_start = c["pct_start"];
  if (c.contains("div_factor")) o.div_factor = c["div_factor"];
  if (c.contains("final_div_factor")) o.final_div_factor = c["final_div_factor"];
  if (c.contains("step_epochs")) o.step_epochs = c["step_epochs"];
  if (c.contains("gamma")) o.gamma = c["gamma"];
  if (c.contains("warmup_fraction")) o.warmup_fraction = c["warmup_fraction"];
  if (c.contains("min_lr")) o.min_lr = c["min_lr"];
  if (c.contains("plateau_factor")) o.plateau_factor = c["plateau_factor"];
  if (c.contains("plateau_patience")) o.plateau_patience = c["plateau_patience"];
  if (c.contains("plateau_threshold")) o.plateau_threshold = c["plateau_threshold"];
  return o;
}

}  // namespace

TEST_CASE("schedule: step halves the rate every two epochs") {
  ScheduleOptions o;
  o.kind = ScheduleKind::step;
  o.base_lr = 0.1;
  o.steps_per_epoch = 4;
  o.total_steps = 40;
  o.step_epochs = 2;
  o.gamma = 0.5;
  LrSchedule s(o);
  check_rate(s.lr_at(0), 0.1, "epoch 0");
  check_rate(s.lr_at(7), 0.1, "last step of epoch 1");
  check_rate(s.lr_at(8), 0.05, "first step of epoch 2");
  check_rate(s.lr_at(16), 0.025, "epoch 4");
  check_rate(s.lr_at(39), 0.1 / 16, "epoch 9");
}

TEST_CASE("schedule: cosine with warm-up at hand-computed steps") {
  // 10 steps, warm-up round(0.2 * 10) = 2 steps: 1e-3 * 1/2, 1e-3 * 2/2; then a half cosine over
  // the remaining 7 intervals from 1e-3 (step 2) to min_lr 1e-4 (step 9).
  ScheduleOptions o;
  o.kind = ScheduleKind::cosine;
  o.base_lr = 1e-3;
  o.min_lr = 1e-4;
  o.total_steps = 10;
  o.warmup_fraction = 0.2;
  LrSchedule s(o);
  check_rate(s.lr_at(0), 0.5e-3, "warm-up step 0");
  check_rate(s.lr_at(1), 1e-3, "warm-up step 1");
  check_rate(s.lr_at(2), 1e-3, "cosine start");
  // Step 2 + 3.5 would be the midpoint; step 9 is the end.
  check_rate(s.lr_at(9), 1e-4, "cosine end");
  const double pct = 3.0 / 7.0;  // step 5
  check_rate(s.lr_at(5), 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(M_PI * pct)), "step 5");
}

TEST_CASE("schedule: one-cycle starts at lr / div, peaks at pct_start, ends at lr / div / final") {
  ScheduleOptions o;
  o.kind = ScheduleKind::onecycle;
  o.base_lr = 2e-3;
  o.total_steps = 11;
  o.pct_start = 0.5;  // peak at step 0.5 * 11 - 1 = 4.5, between steps 4 and 5
  o.div_factor = 20;
  o.final_div_factor = 100;
  LrSchedule s(o);
  check_rate(s.lr_at(0), 1e-4, "start");
  check_rate(s.lr_at(10), 1e-6, "end");
  // Step 4 is 4/4.5 of the way up: 1e-4 + (2e-3 - 1e-4) (1 - cos(pi 8/9)) / 2.
  check_rate(s.lr_at(4), 1e-4 + 1.9e-3 * (1 - std::cos(M_PI * 8.0 / 9.0)) / 2, "step 4");
  CHECK(s.lr_at(4) < 2e-3);
  CHECK(s.lr_at(5) < 2e-3);
}

TEST_CASE("schedule: plateau halves after more than `patience` epochs without improvement") {
  ScheduleOptions o;
  o.kind = ScheduleKind::plateau;
  o.base_lr = 1.0;
  o.plateau_factor = 0.5;
  o.plateau_patience = 1;
  LrSchedule s(o);
  s.end_epoch(1.0);  // first value: the best
  CHECK(s.lr_at(0) == 1.0);
  s.end_epoch(1.0);  // one bad epoch: within patience
  CHECK(s.lr_at(0) == 1.0);
  s.end_epoch(2.0);  // two bad epochs: halve
  CHECK(s.lr_at(0) == 0.5);
  s.end_epoch(0.5);  // improvement
  s.end_epoch(0.6);
  CHECK(s.lr_at(0) == 0.5);

  // The state survives a round trip through JSON exactly.
  LrSchedule restored(o);
  restored.load_state(nlohmann::json::parse(s.state().dump()));
  s.end_epoch(0.7);
  restored.end_epoch(0.7);
  CHECK(s.lr_at(0) == 0.25);
  CHECK(restored.lr_at(0) == 0.25);
}

TEST_CASE("schedule: bad options and names are rejected") {
  CHECK_THROWS_AS(radgal::parse_schedule("linear"), std::invalid_argument);
  ScheduleOptions o;
  o.base_lr = -1;
  CHECK_THROWS_AS(LrSchedule{o}, std::invalid_argument);
  o.base_lr = 1e-3;
  o.kind = ScheduleKind::onecycle;
  o.total_steps = 1;
  CHECK_THROWS_AS(LrSchedule{o}, std::invalid_argument);
  ScheduleOptions p;
  p.kind = ScheduleKind::plateau;
  LrSchedule plateau(p);
  ScheduleOptions c;
  c.kind = ScheduleKind::cosine;
  LrSchedule cosine(c);
  CHECK_THROWS_AS(cosine.load_state(plateau.state()), std::invalid_argument);
}

TEST_CASE("schedule: sequences match torch.optim.lr_scheduler") {
  const std::string path = std::string(RADGAL_FIXTURES_DIR) + "/schedule/torch_schedules.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  const nlohmann::json cases = nlohmann::json::parse(in)["cases"];
  for (const auto& [name, c] : cases.items()) {
    LrSchedule s(options_from(c));
    const auto& rates = c["rates"];
    for (size_t i = 0; i < rates.size(); ++i) {
      const int64_t step = c["kind"] == "plateau" ? 0 : int64_t(i);
      check_rate(s.lr_at(step), rates[i].get<double>(), name + " step " + std::to_string(i));
      if (c.contains("val_losses")) s.end_epoch(c["val_losses"][i].get<double>());
    }
  }
}
