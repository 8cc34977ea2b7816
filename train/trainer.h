// The training loop: epochs of augmented mini-batches, a validation pass after each, learning-rate
// schedule, early stopping on the validation loss with the best model kept, and checkpoints from
// which a run continues bit for bit.
//
// Contracts
// - A run is a pure function of its TrainConfig and data at a fixed thread count: the seed fixes
//   the initial weights (make_model), the dropout stream (the model's dropout generator) and the
//   loader's order and augmentation (a function of seed and epoch). A resumed run restores
//   weights, batch-norm statistics, optimiser state, dropout generator, schedule and
//   early-stopping state and history, so `2 epochs` and `1 epoch, resume, 1 epoch` end with
//   identical bits.
// - Validation: evaluation mode, no augmentation, no gradient; the loss is the plain mean
//   cross-entropy (no label smoothing) over the validation set. An epoch is "best" when its
//   validation loss is strictly lower than every earlier epoch's; the best weights are kept (and
//   written to RUN_DIR/model.safetensors). Without a validation set every epoch counts as best,
//   so the last model is kept.
// - Weight averaging (ema_decay > 0): after every optimiser step the running average of the
//   weights is updated (train/ema.h); validation, the best weights and model.safetensors then use
//   the averaged weights, while training continues from the live ones.
// - Stochastic weight averaging (swa_epochs K > 0): the schedule covers the first epochs - K
//   epochs; the last K train at the constant rate swa_lr, and after each the weights join the
//   plain mean (train/swa.h), whose batch-norm statistics are then estimated afresh over one pass
//   of augmented training batches (loader epoch `epochs + epoch`, so the training stream is
//   untouched). Validation, the best weights and model.safetensors use that mean from then on.
//   Not combined with ema_decay or early stopping (validate() refuses).
// - Mixup (mixup_alpha > 0) and distillation (distill_weight > 0) touch only the training loss:
//   validation (always against the labels) and the SWA batch-norm pass see unblended images.
//   With both, a blended image's target is the same blend of the two images' targets. The
//   training accuracy counts a blended image as correct when the prediction is the label of the
//   heavier of its two parts.
// - Early stopping (patience P > 0): training ends after P consecutive epochs that are not best.
// - Files, when a run directory is given (all written atomically, see train/checkpoint.h):
//     model.safetensors       best weights and buffers, metadata radgal.config and radgal.format
//     checkpoint.safetensors  after every epoch: the state to resume from
//     config.json             the TrainConfig (written at the start)
//     history.csv             one row per finished epoch
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/loader.h"
#include "data/subsets.h"
#include "nn/models.h"
#include "train/ema.h"
#include "train/optim.h"
#include "train/schedule.h"
#include "train/swa.h"

namespace radgal {

struct TrainConfig {
  // Data (recorded for the run directory; the Trainer receives the sets themselves).
  std::string data_dir;
  std::string subset = "confident";
  // Non-empty: this subset's training images are added to the training set after the split, so
  // they are trained on but never validated on (confident runs with "uncertain", or the reverse;
  // the two are disjoint).
  std::string extra_subset;
  double val_fraction = 0.2;
  uint64_t split_seed = 0;
  int64_t limit = 0;  // > 0: only this many images of the subset, evenly spaced (quick checks)

  nn::ModelConfig model;

  // Optimisation.
  std::string optimizer = "adamw";  // adam | adamw | sgd
  double lr = 2e-3;                 // peak rate for onecycle and cosine
  double weight_decay = 1e-4;       // L2 for adam and sgd, decoupled for adamw
  double momentum = 0.9;            // sgd
  bool nesterov = true;             // sgd
  double clip_grad_norm = 0.0;      // > 0: scale gradients down to this global L2 norm
  double label_smoothing = 0.0;
  double ema_decay = 0.0;  // > 0: validate and keep an exponential moving average of the weights
  // > 0: stochastic weight averaging (train/swa.h) over the last swa_epochs epochs, trained at the
  // constant rate swa_lr; the schedule then spans the epochs before them.
  int64_t swa_epochs = 0;
  double swa_lr = 0.0;
  int64_t epochs = 30, batch_size = 16;
  ScheduleOptions schedule;  // kind and shape; base_lr, steps_per_epoch and total_steps are set
                             // from lr, the data size and epochs
  int64_t patience = 0;      // early stopping; 0 = never stop early

  bool augment = true;
  AugmentOptions augment_options;
  // > 0: mixup (Zhang et al. 2018). Each training batch is blended with a shuffled copy of
  // itself, x = lambda x_i + (1 - lambda) x_j with one lambda ~ Beta(alpha, alpha) per batch, and
  // the loss is the same blend of the two images' losses. Drawn from a generator seeded by
  // (seed, epoch), so resuming at an epoch boundary continues bit for bit.
  double mixup_alpha = 0.0;

  // > 0: knowledge distillation (Hinton et al. 2015). Each training image's target becomes
  // (1 - distill_weight) * its (smoothed) label + distill_weight * the teacher's class
  // probabilities for it, the mean over teacher_views augmented views (0: one plain pass) of the
  // image as stored. The caller computes those probabilities from the model file `teacher` and
  // hands them to the Trainer (set_teacher_targets); the path is recorded here. The training loss
  // (history's train_loss) is then the cross-entropy against these blended targets.
  double distill_weight = 0.0;
  std::string teacher;
  int64_t teacher_views = 16;
  std::string teacher_md5;  // of the teacher's file when the run began; resume checks it

  // Non-empty: the run starts from this model file's weights and batch-norm statistics instead
  // of random ones (fine-tuning, retraining on new data). The file must hold the same
  // architecture (arch, norm, aggregation, gates, image size); dropout may differ.
  std::string init;

  uint64_t seed = 0;

  nlohmann::json to_json() const;
  // Missing keys keep their defaults; malformed values throw std::invalid_argument.
  static TrainConfig from_json(const nlohmann::json& j);
  void validate() const;  // throws std::invalid_argument naming the option
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;  // NaN without a validation set
  double lr = 0;                          // the rate of the epoch's last step
  double images_per_second = 0;           // training images / training seconds
  double elapsed_seconds = 0;             // since the run began, across resumes
  bool best = false;

  nlohmann::json to_json() const;
  static EpochRecord from_json(const nlohmann::json& j);
};

// Lower validation loss is better; equal is not an improvement.
class EarlyStopping {
 public:
  explicit EarlyStopping(int64_t patience = 0);

  bool observe(double val_loss);  // true when val_loss is a new best
  bool should_stop() const { return patience_ > 0 && bad_epochs_ >= patience_; }
  bool has_best() const { return has_best_; }
  double best() const { return best_; }
  int64_t bad_epochs() const { return bad_epochs_; }

  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  int64_t patience_;
  double best_ = 0;
  bool has_best_ = false;
  int64_t bad_epochs_ = 0;
};

// Optimiser named by config.optimizer over the model's parameters.
std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& config,
                                          const std::vector<Tensor>& parameters);

// The distillation targets of a batch, (n, 2): per image, (1 - weight) times its label smoothed
// as cross_entropy smooths (1 - smoothing + smoothing / 2 on the label, smoothing / 2 on the other
// class) plus weight times the teacher's (1 - p, p), p = teacher_p_frii[indices[i]].
Tensor distillation_targets(const std::vector<int64_t>& labels,
                            const std::vector<int64_t>& indices,
                            const std::vector<float>& teacher_p_frii, double weight,
                            double smoothing);

// Mean loss and accuracy of `model` over `set` in evaluation mode, without augmentation.
struct EvalResult {
  double loss = 0, accuracy = 0;
  std::vector<double> p_frii;  // per image, softmax of the logits
};
EvalResult evaluate_set(nn::Classifier& model, const LabeledSet& set, int64_t batch_size = 32);

class Trainer {
 public:
  // Builds the model (from config.model and config.seed) and the optimiser. run_dir empty: no
  // files are written. The sets are copied.
  Trainer(const TrainConfig& config, const LabeledSet& train, const LabeledSet& val,
          const std::string& run_dir = "");
  ~Trainer();

  // Distillation: the teacher's p(FRII) for every training image, in the order of the training
  // set given to the constructor. Required before the first epoch when config.distill_weight > 0
  // (run_epoch throws otherwise); values must lie in [0, 1].
  void set_teacher_targets(std::vector<float> p_frii);

  // Restores the state saved in a checkpoint written by a run of the same configuration
  // (throws std::runtime_error naming the file when it does not fit).
  void resume(const std::string& checkpoint_path);

  // One epoch: training, validation, schedule and early-stopping bookkeeping, files.
  EpochRecord run_epoch();
  bool finished() const;  // all epochs done, or stopped early
  bool stopped_early() const { return stopped_early_; }

  // run_epoch until finished. With `log`, prints a header and one aligned line per epoch.
  void fit(std::ostream* log = nullptr);

  nn::Classifier& model() { return *model_; }
  // The best weights so far (the current ones when no epoch has finished), loaded into the model
  // by restore_best().
  const nn::NamedTensors& best_state() const { return best_state_; }
  void restore_best();
  const std::vector<EpochRecord>& history() const { return history_; }
  const TrainConfig& config() const { return config_; }
  int64_t epochs_done() const { return static_cast<int64_t>(history_.size()); }
  int64_t best_epoch() const;  // 0 when none

  static std::string summary_header();
  std::string summary_line(const EpochRecord& r) const;

 private:
  void write_files(bool improved);
  double train_one_epoch(int64_t epoch, double& accuracy, double& lr);
  bool in_swa_phase(int64_t epoch) const;  // 0-based epoch
  // Loads the SWA mean into the model and estimates its batch-norm statistics.
  void load_swa_weights(int64_t epoch);

  TrainConfig config_;
  std::string run_dir_;
  std::shared_ptr<nn::Classifier> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<WeightEma> ema_;  // when config.ema_decay > 0
  std::unique_ptr<WeightSwa> swa_;  // when config.swa_epochs > 0
  std::unique_ptr<Loader> loader_;
  LabeledSet val_;
  int64_t train_size_ = 0;
  std::vector<float> teacher_p_frii_;  // distillation targets, per training image
  EarlyStopping early_stopping_;
  bool stopped_early_ = false;
  nn::NamedTensors best_state_;
  std::vector<EpochRecord> history_;
  double elapsed_before_ = 0;  // seconds spent by earlier sessions of a resumed run
  double session_start_ = 0;
};

}  // namespace radgal
