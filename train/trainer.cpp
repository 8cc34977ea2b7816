#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/checkpoint.h"
#include "train/mixup.h"
#include "train/progress.h"

namespace radgal {

namespace {

namespace fs = std::filesystem;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reads key into out when present; a value of the wrong type names the key.
template <typename T>
void read_key(const nlohmann::json& j, const char* key, T& out, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument("train config: " + where + key + " has the wrong type (" +
                                j.at(key).dump() + ")");
  }
}

const nlohmann::json& section(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::object();
  return j.is_object() && j.contains(key) ? j.at(key) : empty;
}

// Rescales the gradients so that their global L2 norm is at most max_norm (as PyTorch's
// clip_grad_norm_ with a 1e-6 guard).
void clip_gradients(const std::vector<Tensor>& parameters, double max_norm) {
  double sum = 0;
  for (const Tensor& p : parameters) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    for (float v : g.to_vector()) sum += double(v) * double(v);
  }
  const double norm = std::sqrt(sum);
  if (!(norm > max_norm)) return;
  const float scale = static_cast<float>(max_norm / (norm + 1e-6));
  for (const Tensor& p : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous();
      const_cast<Tensor&>(p).set_grad(g);
    }
    float* d = g.data();
    for (int64_t i = 0, n = g.numel(); i < n; ++i) d[i] *= scale;
  }
}

// Keeps the mixup generator's seeds apart from the other streams derived from the run's seed.
constexpr uint64_t kMixupStream = 0x6d69787570000000ull;  // "mixup"

nn::NamedTensors clone_state(const nn::NamedTensors& state) {
  nn::NamedTensors out;
  for (const auto& [name, t] : state.tensors) out.add(name, t.clone());
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

// ---- TrainConfig ------------------------------------------------------------------------------

nlohmann::json TrainConfig::to_json() const {
  const ScheduleOptions& s = schedule;
  const AugmentOptions& a = augment_options;
  return {
      {"data",
       {{"dir", data_dir},
        {"subset", subset},
        {"extra_subset", extra_subset},
        {"val_fraction", val_fraction},
        {"split_seed", split_seed},
        {"limit", limit}}},
      {"model", model.to_json()},
      {"optimizer",
       {{"name", optimizer},
        {"lr", lr},
        {"weight_decay", weight_decay},
        {"momentum", momentum},
        {"nesterov", nesterov},
        {"clip_grad_norm", clip_grad_norm},
        {"ema_decay", ema_decay}}},
      {"swa", {{"epochs", swa_epochs}, {"lr", swa_lr}}},
      {"schedule",
       {{"kind", to_string(s.kind)},
        {"min_lr", s.min_lr},
        {"step_epochs", s.step_epochs},
        {"gamma", s.gamma},
        {"warmup_fraction", s.warmup_fraction},
        {"pct_start", s.pct_start},
        {"div_factor", s.div_factor},
        {"final_div_factor", s.final_div_factor},
        {"plateau_factor", s.plateau_factor},
        {"plateau_threshold", s.plateau_threshold},
        {"plateau_patience", s.plateau_patience}}},
      {"augment",
       {{"enabled", augment},
        {"max_rotation_deg", a.max_rotation_deg},
        {"max_shift_px", a.max_shift_px},
        {"scale_min", a.scale_min},
        {"scale_max", a.scale_max},
        {"hflip", a.hflip},
        {"vflip", a.vflip},
        {"lossless_fraction", a.lossless_fraction},
        {"interpolation", to_string(a.interpolation)},
        {"mixup_alpha", mixup_alpha}}},
      {"distill",
       {{"weight", distill_weight},
        {"teacher", teacher},
        {"views", teacher_views},
        {"md5", teacher_md5}}},
      {"init", init},
      {"label_smoothing", label_smoothing},
      {"epochs", epochs},
      {"batch_size", batch_size},
      {"patience", patience},
      {"seed", seed},
  };
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("train config: expected a JSON object");
  TrainConfig c;
  const auto& d = section(j, "data");
  read_key(d, "dir", c.data_dir, "data.");
  read_key(d, "subset", c.subset, "data.");
  read_key(d, "extra_subset", c.extra_subset, "data.");
  read_key(d, "val_fraction", c.val_fraction, "data.");
  read_key(d, "split_seed", c.split_seed, "data.");
  read_key(d, "limit", c.limit, "data.");
  if (j.contains("model")) c.model = nn::ModelConfig::from_json(j.at("model"));
  const auto& o = section(j, "optimizer");
  read_key(o, "name", c.optimizer, "optimizer.");
  read_key(o, "lr", c.lr, "optimizer.");
  read_key(o, "weight_decay", c.weight_decay, "optimizer.");
  read_key(o, "momentum", c.momentum, "optimizer.");
  read_key(o, "nesterov", c.nesterov, "optimizer.");
  read_key(o, "clip_grad_norm", c.clip_grad_norm, "optimizer.");
  read_key(o, "ema_decay", c.ema_decay, "optimizer.");
  const auto& w = section(j, "swa");
  read_key(w, "epochs", c.swa_epochs, "swa.");
  read_key(w, "lr", c.swa_lr, "swa.");
  const auto& s = section(j, "schedule");
  std::string kind = to_string(c.schedule.kind);
  read_key(s, "kind", kind, "schedule.");
  c.schedule.kind = parse_schedule(kind);
  read_key(s, "min_lr", c.schedule.min_lr, "schedule.");
  read_key(s, "step_epochs", c.schedule.step_epochs, "schedule.");
  read_key(s, "gamma", c.schedule.gamma, "schedule.");
  read_key(s, "warmup_fraction", c.schedule.warmup_fraction, "schedule.");
  read_key(s, "pct_start", c.schedule.pct_start, "schedule.");
  read_key(s, "div_factor", c.schedule.div_factor, "schedule.");
  read_key(s, "final_div_factor", c.schedule.final_div_factor, "schedule.");
  read_key(s, "plateau_factor", c.schedule.plateau_factor, "schedule.");
  read_key(s, "plateau_threshold", c.schedule.plateau_threshold, "schedule.");
  read_key(s, "plateau_patience", c.schedule.plateau_patience, "schedule.");
  const auto& a = section(j, "augment");
  read_key(a, "enabled", c.augment, "augment.");
  read_key(a, "max_rotation_deg", c.augment_options.max_rotation_deg, "augment.");
  read_key(a, "max_shift_px", c.augment_options.max_shift_px, "augment.");
  read_key(a, "scale_min", c.augment_options.scale_min, "augment.");
  read_key(a, "scale_max", c.augment_options.scale_max, "augment.");
  read_key(a, "hflip", c.augment_options.hflip, "augment.");
  read_key(a, "vflip", c.augment_options.vflip, "augment.");
  read_key(a, "lossless_fraction", c.augment_options.lossless_fraction, "augment.");
  std::string interpolation = to_string(c.augment_options.interpolation);
  read_key(a, "interpolation", interpolation, "augment.");
  try {
    c.augment_options.interpolation = parse_interpolation(interpolation);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("train config: augment.interpolation: ") + e.what());
  }
  read_key(a, "mixup_alpha", c.mixup_alpha, "augment.");
  const auto& k = section(j, "distill");
  read_key(k, "weight", c.distill_weight, "distill.");
  read_key(k, "teacher", c.teacher, "distill.");
  read_key(k, "views", c.teacher_views, "distill.");
  read_key(k, "md5", c.teacher_md5, "distill.");
  read_key(j, "init", c.init, "");
  read_key(j, "label_smoothing", c.label_smoothing, "");
  read_key(j, "epochs", c.epochs, "");
  read_key(j, "batch_size", c.batch_size, "");
  read_key(j, "patience", c.patience, "");
  read_key(j, "seed", c.seed, "");
  return c;
}

void TrainConfig::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("train config: " + what); };
  if (optimizer != "adam" && optimizer != "adamw" && optimizer != "sgd")
    fail("optimizer '" + optimizer + "' is not adam, adamw or sgd");
  if (!(lr > 0) || !std::isfinite(lr)) fail("the learning rate must be positive");
  if (!(weight_decay >= 0)) fail("weight decay must not be negative");
  if (!(momentum >= 0 && momentum < 1)) fail("momentum must lie in [0, 1)");
  if (!(clip_grad_norm >= 0)) fail("clip_grad_norm must not be negative");
  if (!(ema_decay >= 0 && ema_decay < 1)) fail("the EMA decay must lie in [0, 1)");
  if (!(label_smoothing >= 0 && label_smoothing < 1)) fail("label smoothing must lie in [0, 1)");
  if (swa_epochs < 0) fail("swa_epochs must not be negative");
  if (swa_epochs > 0) {
    if (swa_epochs >= epochs) {
      fail("swa_epochs (" + std::to_string(swa_epochs) + ") must be fewer than the epochs (" +
           std::to_string(epochs) + "): the schedule needs at least one epoch before averaging");
    }
    if (!(swa_lr > 0) || !std::isfinite(swa_lr)) fail("SWA needs a positive swa_lr");
    if (ema_decay > 0) fail("SWA and the EMA are two kinds of weight averaging; choose one");
    if (patience > 0) fail("SWA with early stopping could stop before the averaging; choose one");
  }
  if (epochs < 1) fail("epochs must be at least 1");
  if (batch_size < 1) fail("the batch size must be at least 1");
  if (patience < 0) fail("patience must not be negative");
  if (!(val_fraction >= 0 && val_fraction < 1)) fail("the validation fraction must lie in [0, 1)");
  if (patience > 0 && val_fraction == 0)
    fail("patience (early stopping) needs a validation set: give a validation fraction above 0");
  if (schedule.kind == ScheduleKind::plateau && val_fraction == 0)
    fail("the plateau schedule follows the validation loss: give a validation fraction above 0");
  if (limit < 0) fail("limit must not be negative");
  if (!extra_subset.empty() &&
      !((subset == "confident" && extra_subset == "uncertain") ||
        (subset == "uncertain" && extra_subset == "confident"))) {
    fail("extra training subset '" + extra_subset + "' with subset '" + subset +
         "': only confident with uncertain (or the reverse), which share no image");
  }
  const AugmentOptions& a = augment_options;
  if (!(a.scale_min > 0 && a.scale_min <= a.scale_max))
    fail("augmentation scale range must satisfy 0 < scale_min <= scale_max");
  if (!(a.max_rotation_deg >= 0 && a.max_shift_px >= 0))
    fail("augmentation rotation and shift must not be negative");
  if (!(a.lossless_fraction >= 0 && a.lossless_fraction <= 1))
    fail("the lossless augmentation fraction must lie in [0, 1]");
  if (!(mixup_alpha >= 0) || !std::isfinite(mixup_alpha))
    fail("the mixup alpha must be 0 (off) or positive");
  if (!(distill_weight >= 0 && distill_weight <= 1))
    fail("the distillation weight must lie in [0, 1]");
  if (distill_weight > 0 && teacher.empty())
    fail("distillation needs a teacher model file (--teacher)");
  if (distill_weight == 0 && !teacher.empty())
    fail("a teacher is only used with a distillation weight above 0");
  if (teacher_views < 0 || teacher_views > 1024)
    fail("the teacher's views must lie in [0, 1024]");
  model.validate();
}

// ---- EpochRecord ------------------------------------------------------------------------------

nlohmann::json EpochRecord::to_json() const {
  // NaN is not JSON; a missing validation set is written as null.
  auto num = [](double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); };
  return {{"epoch", epoch},
          {"train_loss", train_loss},
          {"train_accuracy", train_accuracy},
          {"val_loss", num(val_loss)},
          {"val_accuracy", num(val_accuracy)},
          {"lr", lr},
          {"images_per_second", images_per_second},
          {"elapsed_seconds", elapsed_seconds},
          {"best", best}};
}

EpochRecord EpochRecord::from_json(const nlohmann::json& j) {
  auto num = [&](const char* key) {
    return j.at(key).is_null() ? std::numeric_limits<double>::quiet_NaN()
                               : j.at(key).get<double>();
  };
  EpochRecord r;
  r.epoch = j.at("epoch").get<int64_t>();
  r.train_loss = num("train_loss");
  r.train_accuracy = num("train_accuracy");
  r.val_loss = num("val_loss");
  r.val_accuracy = num("val_accuracy");
  r.lr = num("lr");
  r.images_per_second = num("images_per_second");
  r.elapsed_seconds = num("elapsed_seconds");
  r.best = j.at("best").get<bool>();
  return r;
}

// ---- EarlyStopping ----------------------------------------------------------------------------

EarlyStopping::EarlyStopping(int64_t patience) : patience_(patience) {}

bool EarlyStopping::observe(double val_loss) {
  if (!has_best_ || val_loss < best_) {
    best_ = val_loss;
    has_best_ = true;
    bad_epochs_ = 0;
    return true;
  }
  ++bad_epochs_;
  return false;
}

nlohmann::json EarlyStopping::state() const {
  return {{"best", best_}, {"has_best", has_best_}, {"bad_epochs", bad_epochs_}};
}

void EarlyStopping::load_state(const nlohmann::json& state) {
  best_ = state.at("best").get<double>();
  has_best_ = state.at("has_best").get<bool>();
  bad_epochs_ = state.at("bad_epochs").get<int64_t>();
}

// ---- helpers ------------------------------------------------------------------------------------

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c,
                                          const std::vector<Tensor>& parameters) {
  if (c.optimizer == "adam") {
    return std::make_unique<Adam>(parameters, c.lr, 0.9, 0.999, 1e-8, c.weight_decay);
  }
  if (c.optimizer == "adamw") {
    return std::make_unique<AdamW>(parameters, c.lr, 0.9, 0.999, 1e-8, c.weight_decay);
  }
  if (c.optimizer == "sgd") {
    return std::make_unique<SGD>(parameters, c.lr, c.momentum, c.nesterov, c.weight_decay);
  }
  throw std::invalid_argument("make_optimizer: unknown optimizer '" + c.optimizer + "'");
}

Tensor distillation_targets(const std::vector<int64_t>& labels,
                            const std::vector<int64_t>& indices,
                            const std::vector<float>& teacher_p_frii, double weight,
                            double smoothing) {
  const size_t n = labels.size();
  std::vector<float> rows(2 * n);
  for (size_t i = 0; i < n; ++i) {
    const double p = teacher_p_frii.at(size_t(indices.at(i)));
    for (int k = 0; k < 2; ++k) {
      const double label = (labels[i] == k ? 1.0 - smoothing : 0.0) + smoothing / 2;
      const double teacher = k == 1 ? p : 1.0 - p;
      rows[2 * i + size_t(k)] = static_cast<float>((1.0 - weight) * label + weight * teacher);
    }
  }
  return Tensor::from_vector(rows, {int64_t(n), 2});
}

EvalResult evaluate_set(nn::Classifier& model, const LabeledSet& set, int64_t batch_size) {
  EvalResult r;
  const int64_t n = static_cast<int64_t>(set.size());
  if (n == 0) {
    r.loss = r.accuracy = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  const int64_t h = set.images.height, w = set.images.width;
  double loss_sum = 0;
  int64_t correct = 0;
  r.p_frii.reserve(n);
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    const Tensor x = images_to_tensor(set.images.image(begin), count, h, w);
    const std::vector<int64_t> targets(set.targets.begin() + begin,
                                       set.targets.begin() + begin + count);
    const Tensor logits = model.forward(x).logits;
    loss_sum += double(cross_entropy(logits, targets).item()) * double(count);
    const std::vector<float> p = softmax(logits, 1).to_vector();
    for (int64_t i = 0; i < count; ++i) {
      r.p_frii.push_back(p[2 * i + 1]);
      const int64_t predicted = p[2 * i + 1] > p[2 * i] ? 1 : 0;
      correct += predicted == targets[i];
    }
  }
  model.train(was_training);
  r.loss = loss_sum / double(n);
  r.accuracy = double(correct) / double(n);
  return r;
}

// ---- Trainer ----------------------------------------------------------------------------------

Trainer::Trainer(const TrainConfig& config, const LabeledSet& train, const LabeledSet& val,
                 const std::string& run_dir)
    : config_(config), run_dir_(run_dir), val_(val), early_stopping_(config.patience) {
  config_.validate();
  if (train.size() == 0) throw std::invalid_argument("Trainer: the training set is empty");
  train_size_ = static_cast<int64_t>(train.size());

  Generator init(config_.seed);
  model_ = nn::make_model(config_.model, init);
  if (!config_.init.empty()) {
    const nn::LoadedModel start = nn::load_model(config_.init);
    const nn::ModelConfig& a = start.config;
    const nn::ModelConfig& b = config_.model;
    if (a.arch != b.arch || a.norm != b.norm || a.aggregation != b.aggregation ||
        a.gates != b.gates || a.image_size != b.image_size) {
      throw std::invalid_argument(start.path + ": holds the model " + a.describe() +
                                  ", but this run trains a " + b.describe() +
                                  "; --init needs the same architecture");
    }
    nn::load_state(*model_, nn::state_of(*start.model), start.path);
  }
  optimizer_ = make_optimizer(config_, model_->parameters());

  LoaderOptions lo;
  lo.batch_size = config_.batch_size;
  lo.shuffle = true;
  lo.augment = config_.augment;
  lo.augment_options = config_.augment_options;
  lo.seed = config_.seed;
  loader_ = std::make_unique<Loader>(train, lo);

  ScheduleOptions so = config_.schedule;
  so.base_lr = config_.lr;
  so.steps_per_epoch = loader_->batches_per_epoch();
  so.total_steps = so.steps_per_epoch * (config_.epochs - config_.swa_epochs);
  schedule_ = std::make_unique<LrSchedule>(so);

  if (config_.ema_decay > 0) ema_ = std::make_unique<WeightEma>(*model_, config_.ema_decay);
  if (config_.swa_epochs > 0) swa_ = std::make_unique<WeightSwa>(*model_);

  best_state_ = nn::state_of(*model_);
  session_start_ = now_seconds();

  if (!run_dir_.empty()) {
    fs::create_directories(run_dir_);
    write_file_atomic(run_dir_ + "/config.json", config_.to_json().dump(2) + "\n");
  }
}

Trainer::~Trainer() = default;

void Trainer::set_teacher_targets(std::vector<float> p_frii) {
  if (static_cast<int64_t>(p_frii.size()) != train_size_) {
    throw std::invalid_argument("Trainer: " + std::to_string(p_frii.size()) +
                                " teacher targets for " + std::to_string(train_size_) +
                                " training images");
  }
  for (float p : p_frii) {
    if (!(p >= 0.f && p <= 1.f)) {
      throw std::invalid_argument("Trainer: teacher target " + std::to_string(p) +
                                  " is not a probability");
    }
  }
  teacher_p_frii_ = std::move(p_frii);
}

void Trainer::resume(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);

  // The run must be the same one: every setting but the data folder's location.
  // Read through TrainConfig so that keys added since the checkpoint was written take their
  // defaults instead of counting as differences.
  nlohmann::json saved, ours = config_.to_json();
  try {
    saved = TrainConfig::from_json(c.train_config).to_json();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  saved["data"].erase("dir");
  ours["data"].erase("dir");
  if (saved != ours) {
    std::string differences;
    const nlohmann::json patch = nlohmann::json::diff(saved, ours);
    for (const auto& op : patch) {
      const std::string key = op.at("path").get<std::string>();
      differences += "\n  " + key + ": checkpoint " +
                     (saved.contains(nlohmann::json::json_pointer(key))
                          ? saved.at(nlohmann::json::json_pointer(key)).dump()
                          : "(absent)") +
                     ", now " +
                     (ours.contains(nlohmann::json::json_pointer(key))
                          ? ours.at(nlohmann::json::json_pointer(key)).dump()
                          : "(absent)");
    }
    throw std::runtime_error(path + ": the checkpoint was written with other settings:" +
                             differences);
  }

  try {
    nn::load_state(*model_, c.model, path);
    // Validates the best weights against the model before keeping them.
    Generator scratch_init(0);
    auto scratch = nn::make_model(config_.model, scratch_init);
    nn::load_state(*scratch, c.best_model, path + " (best weights)");
    best_state_ = c.best_model;
    optimizer_->load_state_tensors(c.optimizer);
    if (ema_) {
      if (c.ema_model.tensors.empty()) {
        throw std::runtime_error(path + ": checkpoint holds no averaged weights");
      }
      ema_->load(c.ema_model, c.state.at("ema_updates").get<int64_t>(), path);
    }
    if (swa_) {
      if (c.swa_model.tensors.empty()) {
        throw std::runtime_error(path + ": checkpoint holds no SWA weights");
      }
      swa_->load(c.swa_model, c.state.at("swa_count").get<int64_t>(), path);
    }

    const nlohmann::json& s = c.state;
    schedule_->load_state(s.at("schedule"));
    early_stopping_.load_state(s.at("early_stopping"));
    history_.clear();
    for (const auto& r : s.at("history")) history_.push_back(EpochRecord::from_json(r));
    stopped_early_ = s.at("stopped_early").get<bool>();
    Generator::State rng{};
    const auto& saved_rng = s.at("dropout_rng");
    if (saved_rng.size() != rng.size()) throw std::runtime_error("dropout_rng has a wrong size");
    for (size_t i = 0; i < rng.size(); ++i) rng[i] = saved_rng[i].get<uint64_t>();
    model_->dropout_rng().set_state(rng);
    elapsed_before_ = s.at("elapsed_seconds").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": checkpoint state is incomplete (" + e.what() + ")");
  }
  if (history_.size() != static_cast<size_t>(c.state.at("epochs_done").get<int64_t>())) {
    throw std::runtime_error(path + ": checkpoint history does not match its epoch count");
  }
  session_start_ = now_seconds();
}

bool Trainer::finished() const { return stopped_early_ || epochs_done() >= config_.epochs; }

int64_t Trainer::best_epoch() const {
  int64_t best = 0;
  for (const EpochRecord& r : history_)
    if (r.best) best = r.epoch;
  return best;
}

void Trainer::restore_best() { nn::load_state(*model_, best_state_, "the best weights"); }

bool Trainer::in_swa_phase(int64_t epoch) const {
  return swa_ && epoch >= config_.epochs - config_.swa_epochs;
}

void Trainer::load_swa_weights(int64_t epoch) {
  nn::load_state(*model_, swa_->state(), "the SWA weights");
  // Dropout draws during the estimate must not shift the training run's dropout stream.
  const Generator::State rng = model_->dropout_rng().state();
  loader_->start_epoch(config_.epochs + epoch);
  Batch batch;
  recompute_batch_norm(*model_, [&] {
    if (!loader_->next(batch)) return false;
    model_->forward(batch.images);
    return true;
  });
  model_->dropout_rng().set_state(rng);
}

double Trainer::train_one_epoch(int64_t epoch, double& accuracy, double& lr) {
  model_->train();
  loader_->start_epoch(epoch);
  ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config_.epochs),
                  train_size_);
  const std::vector<Tensor> parameters = model_->parameters();
  // The mixup stream of this epoch: a function of (seed, epoch) only, like the loader's.
  Generator mixing(config_.seed * 0x9e3779b97f4a7c15ull + uint64_t(epoch) + kMixupStream);
  double loss_sum = 0;
  int64_t seen = 0, correct = 0;
  Batch batch;
  while (loader_->next(batch)) {
    lr = in_swa_phase(epoch) ? config_.swa_lr : schedule_->lr_at(optimizer_->step_count());
    optimizer_->set_lr(lr);
    optimizer_->zero_grad();
    const float smoothing = float(config_.label_smoothing);
    // One mixup draw per batch, shared by the blended images and whichever targets they meet.
    std::optional<Mixup> m;
    if (config_.mixup_alpha > 0) m = draw_mixup(mixing, batch.targets.size(), config_.mixup_alpha);
    const Tensor logits =
        model_->forward(m ? blend_images(batch.images, *m) : batch.images).logits;
    std::vector<int64_t> heavier = batch.targets;  // the label that training accuracy counts
    if (m && m->lambda < 0.5f) heavier = partner_targets(batch.targets, *m);
    Tensor loss;
    if (config_.distill_weight > 0) {
      Tensor q = distillation_targets(batch.targets, batch.indices, teacher_p_frii_,
                                      config_.distill_weight, config_.label_smoothing);
      if (m) q = blend_images(q, *m);  // the targets blend as the images do
      loss = soft_cross_entropy(logits, q);
    } else if (m) {
      loss = cross_entropy(logits, batch.targets, {}, smoothing) * m->lambda +
             cross_entropy(logits, partner_targets(batch.targets, *m), {}, smoothing) *
                 (1.f - m->lambda);
    } else {
      loss = cross_entropy(logits, batch.targets, {}, smoothing);
    }
    loss.backward();
    if (config_.clip_grad_norm > 0) clip_gradients(parameters, config_.clip_grad_norm);
    optimizer_->step();
    if (ema_) ema_->update(*model_);

    const int64_t count = static_cast<int64_t>(batch.targets.size());
    const double batch_loss = loss.item();
    if (!std::isfinite(batch_loss)) {
      throw std::runtime_error("training diverged: the loss became " + fixed(batch_loss, 4) +
                               " in epoch " + std::to_string(epoch + 1) +
                               "; try a lower --lr or gradient clipping");
    }
    loss_sum += batch_loss * double(count);
    const std::vector<int64_t> predicted = argmax(logits.detach(), 1);
    for (int64_t i = 0; i < count; ++i) correct += predicted[i] == heavier[i];
    seen += count;
    bar.update(count);
    bar.set_postfix("loss " + fixed(loss_sum / double(seen), 4));
  }
  bar.finish();
  accuracy = double(correct) / double(seen);
  return loss_sum / double(seen);
}

EpochRecord Trainer::run_epoch() {
  if (finished()) throw std::logic_error("Trainer::run_epoch: the run has already finished");
  const int64_t epoch = epochs_done();
  if (config_.distill_weight > 0 && teacher_p_frii_.empty()) {
    throw std::logic_error("Trainer::run_epoch: distillation needs set_teacher_targets first");
  }
  EpochRecord r;
  r.epoch = epoch + 1;

  const double start = now_seconds();
  r.train_loss = train_one_epoch(epoch, r.train_accuracy, r.lr);
  r.images_per_second = double(train_size_) / std::max(1e-9, now_seconds() - start);

  EvalResult v;
  nn::NamedTensors averaged;  // the SWA mean with its batch-norm statistics, in the SWA phase
  if (in_swa_phase(epoch)) {
    swa_->add(*model_);
    const nn::NamedTensors live = nn::state_of(*model_);
    load_swa_weights(epoch);
    averaged = nn::state_of(*model_);
    v = evaluate_set(*model_, val_);
    nn::load_state(*model_, live, "the training weights");
  } else if (ema_) {
    const nn::NamedTensors live = nn::state_of(*model_);
    nn::load_state(*model_, ema_->state(), "the averaged weights");
    v = evaluate_set(*model_, val_);
    nn::load_state(*model_, live, "the training weights");
  } else {
    v = evaluate_set(*model_, val_);
  }
  r.val_loss = v.loss;
  r.val_accuracy = v.accuracy;
  if (val_.size() > 0) schedule_->end_epoch(v.loss);
  r.best = val_.size() == 0 ? true : early_stopping_.observe(v.loss);
  if (r.best) {
    best_state_ = !averaged.tensors.empty() ? std::move(averaged)
                  : ema_                    ? clone_state(ema_->state())
                                            : nn::state_of(*model_);
  }
  stopped_early_ = early_stopping_.should_stop();
  r.elapsed_seconds = elapsed_before_ + (now_seconds() - session_start_);
  history_.push_back(r);

  write_files(r.best);
  return r;
}

void Trainer::write_files(bool improved) {
  if (run_dir_.empty()) return;
  const EpochRecord& last = history_.back();

  // The best model first: a crash before the checkpoint is written repeats this epoch on
  // resume, which rewrites the same file.
  if (improved) {
    std::map<std::string, std::string> meta = {
        {"radgal.subset", config_.subset},
        {"radgal.epoch", std::to_string(last.epoch)},
        {"radgal.seed", std::to_string(config_.seed)}};
    if (!std::isnan(last.val_loss)) meta["radgal.val_loss"] = fixed(last.val_loss, 6);
    nn::save_model_state(run_dir_ + "/model.safetensors", config_.model, best_state_, meta);
  }

  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& r : history_) history.push_back(r.to_json());
  Generator::State rng = model_->dropout_rng().state();
  Checkpoint c;
  c.model_config = config_.model.to_json();
  c.train_config = config_.to_json();
  c.state = {{"epochs_done", epochs_done()},
             {"steps_done", optimizer_->step_count()},
             {"history", history},
             {"early_stopping", early_stopping_.state()},
             {"schedule", schedule_->state()},
             {"stopped_early", stopped_early_},
             {"dropout_rng", std::vector<uint64_t>(rng.begin(), rng.end())},
             {"elapsed_seconds", last.elapsed_seconds}};
  c.model = nn::state_of(*model_);
  c.best_model = best_state_;
  if (ema_) {
    c.ema_model = ema_->state();
    c.state["ema_updates"] = ema_->updates();
  }
  if (swa_) {
    c.swa_model = swa_->state();
    c.state["swa_count"] = swa_->count();
  }
  c.optimizer = optimizer_->state_tensors();
  write_checkpoint(run_dir_ + "/checkpoint.safetensors", c);

  std::ostringstream csv;
  csv << "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,images_per_second,"
         "elapsed_seconds,best\n";
  char row[256];
  for (const EpochRecord& r : history_) {
    std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,%.6f,%.6f,%.6e,%.2f,%.1f,%d\n",
                  static_cast<long long>(r.epoch), r.train_loss, r.train_accuracy, r.val_loss,
                  r.val_accuracy, r.lr, r.images_per_second, r.elapsed_seconds, r.best ? 1 : 0);
    csv << row;
  }
  write_file_atomic(run_dir_ + "/history.csv", csv.str());
}

std::string Trainer::summary_header() {
  return "epoch    train loss  train acc  val loss  val acc        lr   img/s  elapsed";
}

std::string Trainer::summary_line(const EpochRecord& r) const {
  char buf[256];
  const std::string epoch = std::to_string(r.epoch) + "/" + std::to_string(config_.epochs);
  // Without a validation set (--val-fraction 0) its columns show "-", not nan.
  char val_loss[32] = "-", val_accuracy[32] = "-";
  if (!std::isnan(r.val_loss)) std::snprintf(val_loss, sizeof val_loss, "%.4f", r.val_loss);
  if (!std::isnan(r.val_accuracy))
    std::snprintf(val_accuracy, sizeof val_accuracy, "%.2f%%", 100.0 * r.val_accuracy);
  std::snprintf(buf, sizeof buf, "%-8s %10.4f  %8.2f%%  %8s  %7s  %8.2e  %6.1f  %7s%s",
                epoch.c_str(), r.train_loss, 100.0 * r.train_accuracy, val_loss, val_accuracy,
                r.lr, r.images_per_second, format_duration(r.elapsed_seconds).c_str(),
                r.best ? "  *" : "");
  return buf;
}

void Trainer::fit(std::ostream* log) {
  if (log) *log << summary_header() << '\n' << std::flush;
  if (log) {
    for (const EpochRecord& r : history_) *log << summary_line(r) << '\n';
  }
  while (!finished()) {
    const EpochRecord r = run_epoch();
    if (log) *log << summary_line(r) << '\n' << std::flush;
  }
  if (log && stopped_early_) {
    *log << "stopped early: no validation improvement in " << config_.patience
         << " epochs; best epoch " << best_epoch() << '\n';
  }
}

}  // namespace radgal
