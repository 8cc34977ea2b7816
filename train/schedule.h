// Learning-rate schedules. Each gives the rate for optimiser step s (0-based: the rate the s-th
// call to Optimizer::step() uses), and follows the matching torch.optim.lr_scheduler class so
// recipes carry over:
//
//   none      base_lr at every step
//   step      base_lr * gamma^floor(epoch / step_epochs), epoch = s / steps_per_epoch  (StepLR)
//   cosine    linear warm-up from base_lr / w to base_lr over the first w = round(warmup_fraction
//             * total_steps) steps, then half a cosine from base_lr down to min_lr at the last
//             step
//   onecycle  OneCycleLR with cosine annealing, two phases: from base_lr / div_factor up to
//             base_lr at step pct_start * total_steps - 1, then down to
//             base_lr / div_factor / final_div_factor at step total_steps - 1
//   plateau   ReduceLROnPlateau (mode "min", relative threshold, no cooldown): after each epoch
//             end_epoch(val_loss) counts epochs without a relative improvement of the best
//             validation loss by plateau_threshold; more than plateau_patience of them multiply
//             the rate by plateau_factor (not below min_lr) and reset the count
//
// Only plateau has state that evolves; state()/load_state() carry it through checkpoints exactly
// (doubles round-trip through JSON).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace radgal {

enum class ScheduleKind { none, step, cosine, onecycle, plateau };

ScheduleKind parse_schedule(const std::string& name);  // throws std::invalid_argument
std::string to_string(ScheduleKind kind);

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::none;
  double base_lr = 1e-3;  // the peak rate of cosine and onecycle
  int64_t steps_per_epoch = 1, total_steps = 1;
  double min_lr = 0.0;  // cosine's final rate and plateau's floor
  int64_t step_epochs = 10;
  double gamma = 0.1;
  double warmup_fraction = 0.1;
  double pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;
  double plateau_factor = 0.5, plateau_threshold = 1e-4;
  int64_t plateau_patience = 2;

  void validate() const;  // throws std::invalid_argument naming the bad option
};

class LrSchedule {
 public:
  explicit LrSchedule(const ScheduleOptions& options);

  double lr_at(int64_t step) const;
  void end_epoch(double val_loss);  // plateau bookkeeping; other kinds ignore it

  const ScheduleOptions& options() const { return options_; }
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  ScheduleOptions options_;
  double plateau_lr_ = 0.0;  // the current rate of plateau
  double plateau_best_ = 0.0;
  bool plateau_has_best_ = false;
  int64_t plateau_bad_epochs_ = 0;
};

}  // namespace radgal
