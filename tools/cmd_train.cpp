// `radgal train`: trains a classifier on a MiraBest or FRDEEP-F subset and writes a run directory
// (train/trainer.h lists its files). With --resume it continues the run in --out from its
// checkpoint, bit for bit; options left out are taken from the checkpoint, options given must
// match it.
//
// The defaults are the CPU recipe: AdamW with a one-cycle schedule at a high peak rate, batch 16,
// the published augmentation (rotation +-180 degrees, shift +-2 px, scale 0.9-1.1) plus flips,
// label smoothing, and the weights of the last epochs averaged (SWA). The README's "Results"
// gives the measurements behind each choice.
#include <omp.h>
#include <unistd.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "data/batches.h"
#include "data/md5.h"
#include "data/subsets.h"
#include "nn/models.h"
#include "tools/cli_support.h"
#include "tools/commands.h"
#include "tools/inference.h"
#include "tools/input_paths.h"
#include "train/checkpoint.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace radgal::tools {

namespace {

namespace fs = std::filesystem;

// A folder holding batches.meta, or one whose batches/ subfolder does (../shared/data/mirabest).
std::string find_batch_dir(const std::string& dir) {
  if (fs::exists(fs::path(dir) / "batches.meta")) return dir;
  if (fs::exists(fs::path(dir) / "batches" / "batches.meta")) {
    return (fs::path(dir) / "batches").string();
  }
  throw std::runtime_error(dir + ": not a batch folder (no batches.meta in it or in " + dir +
                           "/batches)");
}

// The SWA epochs run at this share of the peak rate (6e-4 for the recipe's 2e-3), chosen on the
// 20% validation split against a tenth and a half of it (README, "Results").
constexpr double kSwaLrShare = 0.3;

// The recipe's defaults; everything can be overridden on the command line.
TrainConfig recipe_defaults() {
  TrainConfig c;
  c.model.arch = "agcnn";
  c.model.norm = "softmax";
  c.model.aggregation = "concat";
  c.model.gates = 3;
  c.model.dropout = 0.0f;
  c.optimizer = "adamw";
  c.lr = 2e-3;
  c.weight_decay = 1e-4;
  c.label_smoothing = 0.1;
  c.epochs = 75;
  c.batch_size = 16;
  c.schedule.kind = ScheduleKind::onecycle;
  c.schedule.pct_start = 0.2;
  c.augment = true;
  c.augment_options.hflip = true;
  c.augment_options.lossless_fraction = 0.5f;
  c.augment_options.interpolation = Interpolation::cubic;
  // Stochastic weight averaging over the last fifth of the epochs (train/swa.h).
  c.swa_epochs = 15;
  c.swa_lr = kSwaLrShare * c.lr;
  // The settings above were chosen on a 20% validation split; the final model then trains on
  // every training image and keeps the last epoch.
  c.val_fraction = 0.0;
  return c;
}

// Ctrl-C during training: checkpoints are written atomically after every epoch, so stopping at
// any moment is safe; say so and how to continue, or that there is nothing to continue yet. Only
// async-signal-safe calls in the handler.
char g_resume_message[1024] = {}, g_restart_message[1024] = {}, g_checkpoint_path[1024] = {};

void on_interrupt(int) {
  // access() is async-signal-safe; checkpoints appear by rename, so one that exists is whole.
  const bool saved = access(g_checkpoint_path, F_OK) == 0;
  const char* message = saved ? g_resume_message : g_restart_message;
  const ssize_t n = write(STDERR_FILENO, message, std::strlen(message));
  (void)n;
  _exit(130);
}

void install_interrupt_hint(const std::string& out_dir) {
  std::snprintf(g_resume_message, sizeof g_resume_message,
                "\nradgal train: interrupted. The last finished epoch is saved; continue with\n"
                "  radgal train --out %s --resume\n",
                out_dir.c_str());
  std::snprintf(g_restart_message, sizeof g_restart_message,
                "\nradgal train: interrupted before the first epoch ended; there is nothing to "
                "resume. Remove %s if it exists and start again.\n",
                out_dir.c_str());
  std::snprintf(g_checkpoint_path, sizeof g_checkpoint_path, "%s/checkpoint.safetensors",
                out_dir.c_str());
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

std::string with_thousands(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

}  // namespace

int cmd_train(const Args& args) {
  CLI::App app{"Train a classifier on a MiraBest or FRDEEP-F subset; writes RUN_DIR with the best "
               "model (model.safetensors), checkpoint.safetensors, config.json and history.csv.",
               "train"};
  const TrainConfig d = recipe_defaults();
  std::string data_dir, out_dir, subset = d.subset, arch = d.model.arch, norm = d.model.norm,
                                 aggregation = d.model.aggregation, optimizer = d.optimizer,
                                 schedule = to_string(d.schedule.kind);
  int gates = d.model.gates, threads = 0;
  float dropout = d.model.dropout;
  int64_t epochs = d.epochs, batch = d.batch_size, patience = d.patience, limit = 0;
  double lr = d.lr, weight_decay = d.weight_decay, val_fraction = d.val_fraction,
         label_smoothing = d.label_smoothing, warmup = d.schedule.pct_start, clip = 0,
         ema = d.ema_decay, lossless = d.augment_options.lossless_fraction, swa_lr = 0,
         mixup = d.mixup_alpha, distill = 0.5;
  int64_t swa_epochs = 0, teacher_views = d.teacher_views;
  std::string teacher, init;
  uint64_t seed = d.seed;
  bool resume = false, no_augment = false, verbose_flag = false;

  // Each configuration option, with how it applies to a TrainConfig when given.
  std::vector<std::pair<CLI::Option*, std::function<void(TrainConfig&)>>> settings;
  auto setting = [&](CLI::Option* o, std::function<void(TrainConfig&)> apply) {
    settings.emplace_back(o, std::move(apply));
    return o;
  };
  // Registered further down; the settings read them only after parsing.
  CLI::Option *swa_option = nullptr, *swa_lr_option = nullptr, *distill_option = nullptr;
  app.add_option("--data", data_dir, "batch folder: MiraBest or FRDEEP-F (holding batches.meta, "
                                     "or its parent)");
  app.add_option("--out", out_dir, "run directory to write")->required();
  setting(app.add_option("--subset", subset,
                         "confident | full | uncertain | frdeep (default confident)")
              ->check(CLI::IsMember({"confident", "full", "uncertain", "frdeep"})),
          [&](TrainConfig& c) { c.subset = subset; });
  std::string extra_subset;
  setting(app.add_option("--extra-train", extra_subset,
                         "also train on this subset's training images, never validated on "
                         "(uncertain with --subset confident, or the reverse; all of them, "
                         "whatever --limit says)")
              ->check(CLI::IsMember({"confident", "uncertain"})),
          [&](TrainConfig& c) { c.extra_subset = extra_subset; });
  setting(app.add_option("--model", arch, "agcnn | cnn | classic (default agcnn)")
              ->check(CLI::IsMember({"agcnn", "cnn", "classic"})),
          [&](TrainConfig& c) { c.model.arch = arch; });
  setting(app.add_option("--norm", norm,
                         "attention normalisation: softmax | range_norm | sigmoid | "
                         "std_mean_norm | tanh (default softmax)")
              ->check(CLI::IsMember({"softmax", "range_norm", "sigmoid", "std_mean_norm", "tanh"})),
          [&](TrainConfig& c) { c.model.norm = norm; });
  setting(app.add_option("--aggregation", aggregation,
                         "concat | mean | deep_sup | ft (default concat)")
              ->check(CLI::IsMember({"concat", "mean", "deep_sup", "ft"})),
          [&](TrainConfig& c) { c.model.aggregation = aggregation; });
  setting(app.add_option("--gates", gates, "attention gates 0..3 (default 3)")
              ->check(CLI::Range(0, 3)),
          [&](TrainConfig& c) { c.model.gates = gates; });
  setting(app.add_option("--dropout", dropout, "dropout on the gate vectors (default 0)")
              ->check(CLI::Range(0.0, 0.95)),
          [&](TrainConfig& c) { c.model.dropout = dropout; });
  setting(app.add_option("--epochs", epochs, "passes over the training set (default 75)")
              ->check(CLI::Range(int64_t{1}, int64_t{100000})),
          [&](TrainConfig& c) {
            c.epochs = epochs;
            // The recipe averages the last fifth of the epochs, however many there are.
            if (swa_option->count() == 0 && c.swa_epochs > 0) c.swa_epochs = epochs / 5;
          });
  setting(app.add_option("--batch", batch, "images per step (default 16)")
              ->check(CLI::Range(int64_t{1}, int64_t{4096})),
          [&](TrainConfig& c) { c.batch_size = batch; });
  setting(app.add_option("--lr", lr, "learning rate; the peak for onecycle and cosine "
                                     "(default 2e-3)")
              ->check(CLI::PositiveNumber),
          [&](TrainConfig& c) {
            c.lr = lr;
            if (swa_lr_option->count() == 0) c.swa_lr = kSwaLrShare * lr;
          });
  setting(app.add_option("--optimizer", optimizer, "adamw | adam | sgd (default adamw)")
              ->check(CLI::IsMember({"adam", "adamw", "sgd"})),
          [&](TrainConfig& c) { c.optimizer = optimizer; });
  setting(app.add_option("--weight-decay", weight_decay, "(default 1e-4)")
              ->check(CLI::NonNegativeNumber),
          [&](TrainConfig& c) { c.weight_decay = weight_decay; });
  setting(app.add_option("--schedule", schedule,
                         "none | step | cosine | onecycle | plateau (default onecycle)")
              ->check(CLI::IsMember({"none", "step", "cosine", "onecycle", "plateau"})),
          [&](TrainConfig& c) { c.schedule.kind = parse_schedule(schedule); });
  setting(app.add_option("--warmup", warmup,
                         "warm-up share of all steps for onecycle and cosine (default 0.2)")
              ->check(CLI::Range(0.0, 0.9)),
          [&](TrainConfig& c) {
            c.schedule.pct_start = warmup;
            c.schedule.warmup_fraction = warmup;
          });
  setting(app.add_option("--label-smoothing", label_smoothing, "(default 0.1)")
              ->check(CLI::Range(0.0, 0.5)),
          [&](TrainConfig& c) { c.label_smoothing = label_smoothing; });
  CLI::Option* ema_option = setting(app.add_option("--ema", ema,
                         "decay of an exponential moving average of the weights, validated and "
                         "kept instead of SWA (default 0: off)")
              ->check(CLI::Range(0.0, 0.9999)),
          [&](TrainConfig& c) {
            c.ema_decay = ema;
            if (ema > 0 && swa_option->count() == 0) c.swa_epochs = 0;
          });
  swa_option = setting(app.add_option("--swa-epochs", swa_epochs,
                         "stochastic weight averaging: train the last N epochs at the constant "
                         "rate --swa-lr and keep the mean of their weights, with batch-norm "
                         "statistics estimated for it (default 15, a fifth of --epochs; 0: off)")
              ->check(CLI::NonNegativeNumber),
          [&](TrainConfig& c) {
            c.swa_epochs = swa_epochs;
            if (swa_epochs > 0 && ema_option->count() == 0) c.ema_decay = 0;
            if (swa_epochs > 0 && c.swa_lr == 0) c.swa_lr = kSwaLrShare * c.lr;  // older configs
          });
  swa_lr_option = setting(app.add_option("--swa-lr", swa_lr,
                                         "the constant rate of the SWA epochs (default 6e-4, or "
                                         "0.3 x --lr with --lr)")
              ->check(CLI::PositiveNumber),
          [&](TrainConfig& c) { c.swa_lr = swa_lr; });
  setting(app.add_option("--clip-grad", clip, "clip the global gradient norm (0: off)")
              ->check(CLI::NonNegativeNumber),
          [&](TrainConfig& c) { c.clip_grad_norm = clip; });
  setting(app.add_option("--lossless", lossless,
                         "share of training images only turned by quarter turns and flipped, "
                         "without interpolation, so sharp images stay in the training "
                         "distribution (default 0.5)")
              ->check(CLI::Range(0.0, 1.0)),
          [&](TrainConfig& c) { c.augment_options.lossless_fraction = float(lossless); });
  std::string interpolation = to_string(d.augment_options.interpolation);
  setting(app.add_option("--interpolation", interpolation,
                         "resampling of the rotated, shifted and scaled training images: "
                         "bilinear (as published) | cubic (sharper; default cubic)")
              ->check(CLI::IsMember({"bilinear", "cubic"})),
          [&](TrainConfig& c) {
            c.augment_options.interpolation = parse_interpolation(interpolation);
          });
  setting(app.add_option("--mixup", mixup,
                         "mixup: blend each training batch with a shuffled copy of itself, "
                         "weight ~ Beta(A, A), and the losses alike (default 0: off)")
              ->check(CLI::Range(0.0, 10.0)),
          [&](TrainConfig& c) { c.mixup_alpha = mixup; });
  setting(app.add_option("--teacher", teacher,
                         "knowledge distillation: a trained model (file or run directory) whose "
                         "class probabilities, averaged over --teacher-views augmented views of "
                         "each training image, are blended into the targets")
              ->check(CLI::ExistingPath),
          [&](TrainConfig& c) {
            c.teacher = fs::absolute(teacher).lexically_normal().string();
            if (distill_option->count() == 0) c.distill_weight = distill;
          });
  distill_option = setting(app.add_option("--distill", distill,
                                          "the teacher's share of each target (default 0.5 with "
                                          "--teacher)")
              ->check(CLI::Range(0.0, 1.0)),
          [&](TrainConfig& c) { c.distill_weight = distill; });
  setting(app.add_option("--teacher-views", teacher_views,
                         "augmented views per image averaged for the teacher's probabilities "
                         "(default 16; 0: one plain pass)")
              ->check(CLI::Range(int64_t{0}, int64_t{1024})),
          [&](TrainConfig& c) { c.teacher_views = teacher_views; });
  setting(app.add_option("--init", init,
                         "start from this model's weights (file or run directory, same "
                         "architecture) instead of random ones: fine-tuning, retraining on new "
                         "data")
              ->check(CLI::ExistingPath),
          [&](TrainConfig& c) { c.init = fs::absolute(init).lexically_normal().string(); });
  setting(app.add_flag("--no-augment", no_augment, "train on the images as stored"),
          [&](TrainConfig& c) { c.augment = !no_augment; });
  setting(app.add_option("--seed", seed, "seed of the split, weights, order, augmentation and "
                                         "dropout (default 0)")
              ->transform(unsigned_integer()),
          [&](TrainConfig& c) {
            c.seed = seed;
            c.split_seed = seed;
          });
  setting(app.add_option("--val-fraction", val_fraction,
                         "share of the training batches held out for validation, which then "
                         "chooses the saved epoch (default 0: train on all and keep the last)")
              ->check(CLI::Range(0.0, 0.9)),
          [&](TrainConfig& c) { c.val_fraction = val_fraction; });
  setting(app.add_option("--patience", patience,
                         "stop after N epochs without a lower validation loss (0: never)")
              ->check(CLI::NonNegativeNumber),
          [&](TrainConfig& c) { c.patience = patience; });
  setting(app.add_option("--limit", limit,
                         "use only N images of the subset, evenly spaced through it (quick "
                         "checks; 0: all)")
              ->check(CLI::NonNegativeNumber),
          [&](TrainConfig& c) { c.limit = limit; });
  app.add_flag("--resume", resume, "continue the run in --out from its checkpoint");
  app.add_option("--threads", threads, "CPU threads (default: all)")->check(CLI::Range(1, 1024));
  app.add_flag("--verbose", verbose_flag, "timing and memory on stderr");
  if (auto code = parse_command_line(app, args)) return *code;
  if (verbose_flag) set_verbose(true);
  if (threads > 0) omp_set_num_threads(threads);

  // The configuration: the recipe (or the checkpoint's, when resuming) with the options given.
  const std::string checkpoint_path = out_dir + "/checkpoint.safetensors";
  TrainConfig config = d;
  if (resume) {
    if (!fs::exists(checkpoint_path)) {
      throw std::runtime_error(checkpoint_path + ": no checkpoint to resume from");
    }
    config = TrainConfig::from_json(read_checkpoint(checkpoint_path).train_config);
  } else if (fs::exists(checkpoint_path)) {
    throw std::runtime_error(out_dir + " already holds a run; add --resume to continue it, or "
                                       "choose another --out");
  } else if (fs::is_directory(out_dir) && !fs::is_empty(out_dir)) {
    // A folder with files but no checkpoint is either someone else's folder or a run stopped
    // before its first epoch ended; writing config.json and model.safetensors into it could
    // destroy files the user cares about.
    throw std::runtime_error(out_dir + " is not empty and holds no radgal checkpoint; choose an "
                                       "empty or new --out (a run stopped before its first "
                                       "epoch ended has nothing to resume: remove it and rerun)");
  } else if (fs::exists(out_dir) && !fs::is_directory(out_dir)) {
    throw std::runtime_error(out_dir + " exists and is not a folder");
  }
  for (auto& [option, apply] : settings)
    if (option->count() > 0) apply(config);
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (config.data_dir.empty()) throw std::runtime_error("--data is required");
  config.validate();

  // The data.
  const std::string batch_dir = find_batch_dir(config.data_dir);
  reject_special_batch_files(batch_dir);
  config.data_dir = fs::absolute(batch_dir).lexically_normal().string();
  const ImageSet release = read_batch_dir(batch_dir, "train");
  LabeledSet all;
  try {
    all = select_subset(release, parse_subset(config.subset));
  } catch (const std::exception& e) {
    // The usual cause: FRDEEP-F data with the default MiraBest subset, or the reverse.
    throw std::runtime_error(std::string(e.what()) + "\n---> HINT: --subset frdeep for FRDEEP-F, "
                             "--subset confident or full for MiraBest");
  }
  all = evenly_spaced(all, static_cast<size_t>(config.limit));
  auto [train, val] = split_train_val(all, config.val_fraction, config.split_seed);
  size_t extra_images = 0;
  if (!config.extra_subset.empty()) {
    const LabeledSet extra = select_subset(release, parse_subset(config.extra_subset));
    extra_images = extra.size();
    train = concatenate(train, extra);
  }
  if (all.images.height != config.model.image_size) {
    config.model.image_size = static_cast<int>(all.images.height);
    config.validate();
  }

  install_interrupt_hint(out_dir);

  // The teacher's probabilities, computed afresh on resume from the same file, views and seed;
  // before the Trainer exists, so a teacher that cannot be read leaves no run directory behind.
  int64_t teacher_agrees = 0;
  std::vector<float> teacher_p_frii;
  if (config.distill_weight > 0) {
    nn::LoadedModel teacher_model;
    std::string teacher_md5;
    try {
      teacher_model = nn::load_model(config.teacher);
      teacher_md5 = md5_hex_of_file(teacher_model.path);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("the teacher (--teacher): ") + e.what());
    }
    // The same path with other contents would distil from another model: a resumed run would
    // no longer be the run it continues.
    if (resume && !config.teacher_md5.empty() && config.teacher_md5 != teacher_md5) {
      throw std::runtime_error(teacher_model.path + ": the teacher's file has changed since the "
                               "run began (MD5 " + config.teacher_md5 + ", now " + teacher_md5 +
                               "); resuming would distil from another model");
    }
    config.teacher_md5 = teacher_md5;
    InferenceOptions io;
    io.batch_size = 32;
    io.tta = static_cast<int>(config.teacher_views);
    io.seed = config.seed;
    io.progress_label = "teacher";
    const InferenceResult r =
        run_inference(*teacher_model.model, train.images.image(0), int64_t(train.size()),
                      train.images.height, train.images.width, io);
    for (size_t i = 0; i < train.size(); ++i)
      teacher_agrees += (r.p_frii[i] > 0.5f ? 1 : 0) == train.targets[i];
    teacher_p_frii = r.p_frii;
  }

  Trainer trainer(config, train, val, out_dir);
  if (config.distill_weight > 0) trainer.set_teacher_targets(std::move(teacher_p_frii));
  if (resume) trainer.resume(checkpoint_path);

  const int64_t params = trainer.model().parameter_count();
  std::printf("model     %s, %s parameters\n", config.model.describe().c_str(),
              with_thousands(params).c_str());
  std::printf("data      %s: %s, %zu train, %zu validation\n", batch_dir.c_str(),
              config.subset.c_str(), train.size() - extra_images, val.size());
  if (extra_images > 0) {
    std::printf("          + %zu %s training images (trained on, not validated on)\n",
                extra_images, config.extra_subset.c_str());
  }
  const int threads_used = omp_get_max_threads();
  std::printf("training  %s lr %.3g, %s schedule, %lld epoch%s of batch %lld, seed %llu, "
              "%d thread%s\n",
              config.optimizer.c_str(), config.lr, to_string(config.schedule.kind).c_str(),
              static_cast<long long>(config.epochs), config.epochs == 1 ? "" : "s",
              static_cast<long long>(config.batch_size),
              static_cast<unsigned long long>(config.seed), threads_used,
              threads_used == 1 ? "" : "s");
  if (config.ema_decay > 0) {
    std::printf("averaging weights with decay %g (%s)\n", config.ema_decay,
                config.val_fraction > 0 ? "validated and saved" : "saved");
  }
  if (config.swa_epochs > 0) {
    std::printf("averaging weights of the last %s at lr %.3g (SWA, batch-norm statistics "
                "re-estimated; %s)\n",
                config.swa_epochs == 1 ? "epoch"
                                       : (std::to_string(config.swa_epochs) + " epochs").c_str(),
                config.swa_lr,
                config.val_fraction > 0 ? "validated and saved" : "saved");
  }
  if (config.mixup_alpha > 0) {
    std::printf("mixup     batches blended with a shuffled copy, weight ~ Beta(%g, %g)\n",
                config.mixup_alpha, config.mixup_alpha);
  }
  if (config.augment) {
    const AugmentOptions& a = config.augment_options;
    // "lossless": the share of images only turned by quarter turns (and flipped), --lossless.
    std::printf("augment   rotate +-%g deg, shift +-%g px, scale %g-%g%s; %s resampling; %g%% "
                "lossless\n",
                a.max_rotation_deg, a.max_shift_px, a.scale_min, a.scale_max,
                a.hflip || a.vflip ? ", flip" : "", to_string(a.interpolation),
                100.0 * a.lossless_fraction);
  } else {
    std::printf("augment   none: the images as stored\n");
  }
  if (!config.init.empty()) std::printf("init      from %s\n", config.init.c_str());
  if (config.distill_weight > 0) {
    std::printf("distil    from %s: %s per image, weight %g; it agrees with %lld of %zu "
                "training labels\n",
                config.teacher.c_str(),
                config.teacher_views > 0
                    ? ("mean of " + std::to_string(config.teacher_views) + " augmented views")
                          .c_str()
                    : "one plain pass",
                config.distill_weight, static_cast<long long>(teacher_agrees), train.size());
  }
  if (resume) {
    std::printf("resumed   after epoch %lld\n", static_cast<long long>(trainer.epochs_done()));
  }
  std::printf("\n");
  std::fflush(stdout);

  trainer.fit(&std::cout);

  const int64_t best = trainer.best_epoch();
  const EpochRecord& b = trainer.history()[size_t(std::max<int64_t>(best, 1) - 1)];
  if (std::isnan(b.val_loss)) {
    std::printf("\nkept      epoch %lld, the last (no validation set to choose by)\n",
                static_cast<long long>(best));
  } else {
    std::printf("\nbest      epoch %lld: val loss %.4f, val accuracy %.2f%%\n",
                static_cast<long long>(best), b.val_loss, 100.0 * b.val_accuracy);
  }
  std::printf("saved     %s/model.safetensors (evaluate: radgal evaluate %s)\n", out_dir.c_str(),
              out_dir.c_str());
  if (verbose()) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::fprintf(stderr, "train: %s in all, peak memory %.0f MiB\n",
                 format_duration(trainer.history().back().elapsed_seconds).c_str(),
                 double(usage.ru_maxrss) / 1024.0);
  }
  return 0;
}

}  // namespace radgal::tools
