#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace radgal {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Half a cosine from start (pct = 0) to end (pct = 1), as torch's _annealing_cos.
double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1.0);
}

}  // namespace

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "none") return ScheduleKind::none;
  if (name == "step") return ScheduleKind::step;
  if (name == "cosine") return ScheduleKind::cosine;
  if (name == "onecycle") return ScheduleKind::onecycle;
  if (name == "plateau") return ScheduleKind::plateau;
  throw std::invalid_argument("schedule: unknown kind '" + name +
                              "' (expected none, step, cosine, onecycle or plateau)");
}

std::string to_string(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::none: return "none";
    case ScheduleKind::step: return "step";
    case ScheduleKind::cosine: return "cosine";
    case ScheduleKind::onecycle: return "onecycle";
    case ScheduleKind::plateau: return "plateau";
  }
  return "none";
}

void ScheduleOptions::validate() const {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("schedule: " + what);
  };
  if (!(base_lr > 0) || !std::isfinite(base_lr)) fail("the learning rate must be positive");
  if (steps_per_epoch < 1) fail("steps_per_epoch must be at least 1");
  if (total_steps < 1) fail("total_steps must be at least 1");
  if (min_lr < 0) fail("min_lr must not be negative");
  if (kind == ScheduleKind::step && (step_epochs < 1 || !(gamma > 0)))
    fail("step needs step_epochs >= 1 and gamma > 0");
  if (kind == ScheduleKind::cosine && !(warmup_fraction >= 0 && warmup_fraction < 1))
    fail("cosine needs 0 <= warmup_fraction < 1");
  if (kind == ScheduleKind::onecycle &&
      !(pct_start > 0 && pct_start < 1 && div_factor > 0 && final_div_factor > 0))
    fail("onecycle needs 0 < pct_start < 1 and positive div factors");
  if (kind == ScheduleKind::onecycle && pct_start * double(total_steps) - 1 <= 0)
    fail("onecycle needs more steps: its warm-up (pct_start " + std::to_string(pct_start) +
         " of " + std::to_string(total_steps) +
         " steps) is under 2 steps; train more epochs, use a smaller --batch or a longer "
         "--warmup, or choose --schedule cosine");
  if (kind == ScheduleKind::plateau &&
      !(plateau_factor > 0 && plateau_factor < 1 && plateau_patience >= 0))
    fail("plateau needs 0 < factor < 1 and patience >= 0");
}

LrSchedule::LrSchedule(const ScheduleOptions& options) : options_(options) {
  options_.validate();
  plateau_lr_ = options_.base_lr;
}

double LrSchedule::lr_at(int64_t step) const {
  const ScheduleOptions& o = options_;
  const double s = double(std::max<int64_t>(step, 0));
  switch (o.kind) {
    case ScheduleKind::none:
      return o.base_lr;

    case ScheduleKind::step: {
      const int64_t epoch = std::max<int64_t>(step, 0) / o.steps_per_epoch;
      return o.base_lr * std::pow(o.gamma, double(epoch / o.step_epochs));
    }

    case ScheduleKind::cosine: {
      const int64_t warmup = std::llround(o.warmup_fraction * double(o.total_steps));
      if (step < warmup) return o.base_lr * (s + 1.0) / double(warmup);
      const int64_t span = o.total_steps - 1 - warmup;
      const double pct = span > 0 ? std::min(1.0, (s - double(warmup)) / double(span)) : 1.0;
      return cosine_anneal(o.base_lr, o.min_lr, pct);
    }

    case ScheduleKind::onecycle: {
      const double initial = o.base_lr / o.div_factor;
      const double final_lr = initial / o.final_div_factor;
      const double peak_step = o.pct_start * double(o.total_steps) - 1.0;
      const double last_step = double(o.total_steps - 1);
      if (s <= peak_step) return cosine_anneal(initial, o.base_lr, s / peak_step);
      return cosine_anneal(o.base_lr, final_lr, (s - peak_step) / (last_step - peak_step));
    }

    case ScheduleKind::plateau:
      return plateau_lr_;
  }
  return o.base_lr;
}

void LrSchedule::end_epoch(double val_loss) {
  if (options_.kind != ScheduleKind::plateau) return;
  const bool improved =
      !plateau_has_best_ || val_loss < plateau_best_ * (1.0 - options_.plateau_threshold);
  if (improved) {
    plateau_best_ = val_loss;
    plateau_has_best_ = true;
    plateau_bad_epochs_ = 0;
    return;
  }
  if (++plateau_bad_epochs_ > options_.plateau_patience) {
    const double reduced = std::max(plateau_lr_ * options_.plateau_factor, options_.min_lr);
    // torch ignores reductions smaller than 1e-8, so a rate sitting at min_lr stays put.
    if (plateau_lr_ - reduced > 1e-8) plateau_lr_ = reduced;
    plateau_bad_epochs_ = 0;
  }
}

nlohmann::json LrSchedule::state() const {
  return {{"kind", to_string(options_.kind)},
          {"plateau_lr", plateau_lr_},
          {"plateau_best", plateau_best_},
          {"plateau_has_best", plateau_has_best_},
          {"plateau_bad_epochs", plateau_bad_epochs_}};
}

void LrSchedule::load_state(const nlohmann::json& state) {
  try {
    if (state.at("kind").get<std::string>() != to_string(options_.kind))
      throw std::invalid_argument("it belongs to a '" + state.at("kind").get<std::string>() +
                                  "' schedule, not '" + to_string(options_.kind) + "'");
    plateau_lr_ = state.at("plateau_lr").get<double>();
    plateau_best_ = state.at("plateau_best").get<double>();
    plateau_has_best_ = state.at("plateau_has_best").get<bool>();
    plateau_bad_epochs_ = state.at("plateau_bad_epochs").get<int64_t>();
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("schedule: cannot restore the saved state: ") +
                                e.what());
  }
}

}  // namespace radgal
