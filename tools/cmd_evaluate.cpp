// `radgal evaluate`: a trained classifier on a labelled test (or validation) set. Prints
// per-class precision, recall, F1 and support, accuracy, ROC AUC and the confusion matrix as a
// table; optionally writes a JSON report and ROC / confusion-matrix PNGs.
//
// Evaluation runs in batches, in evaluation mode, where radgal's attention normalisation is per
// image (nn/models.h), so the numbers do not depend on the batch size; they equal those of the
// published one-image-at-a-time reference outputs.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/batches.h"
#include "data/subsets.h"
#include "nn/models.h"
#include "tools/cli_support.h"
#include "tools/commands.h"
#include "tools/inference.h"
#include "tools/input_paths.h"
#include "tools/output_paths.h"
#include "tools/plot.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace radgal::tools {

namespace {

namespace fs = std::filesystem;

// The first of several dotted key paths present in a JSON object ("data.subset" or "subset"), so
// the run configuration may nest its data settings or not.
const nlohmann::json* find_setting(const nlohmann::json& config,
                                   const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    const nlohmann::json* node = &config;
    size_t start = 0;
    while (node && start <= path.size()) {
      const size_t dot = path.find('.', start);
      const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
      node = node->is_object() && node->contains(key) ? &(*node)[key] : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (node && !node->is_null()) return node;
  }
  return nullptr;
}

// A published weights file names its training set: agcnn_mirabest_confident, ..._full, frdeep_f.
std::string subset_from_file_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (name.find("mirabest_confident") != std::string::npos) return "confident";
  if (name.find("mirabest_full") != std::string::npos) return "full";
  if (name.find("frdeep") != std::string::npos) return "frdeep";
  return "";
}

// A folder holding batches.meta, or one whose batches/ subfolder does (../shared/data/mirabest).
std::string resolve_batch_dir(const std::string& dir) {
  if (fs::exists(fs::path(dir) / "batches.meta")) return dir;
  if (fs::exists(fs::path(dir) / "batches" / "batches.meta"))
    return (fs::path(dir) / "batches").string();
  throw std::runtime_error(dir + ": not a batch folder (no batches.meta in it or in " + dir +
                           "/batches)");
}

struct RunSettings {
  std::string subset, data_dir;
  std::optional<double> val_fraction;  // 0: the run kept no validation split
  std::optional<uint64_t> split_seed;  // any uint64_t: train accepts the whole range
  size_t limit = 0;                    // train --limit: the split was made from these images
};

RunSettings read_run_settings(const std::string& run_dir, const nn::LoadedModel& loaded) {
  RunSettings s;
  const fs::path config_path = fs::path(run_dir) / "config.json";
  if (fs::is_directory(run_dir) && fs::exists(config_path)) {
    if (!fs::is_regular_file(config_path)) {
      throw std::runtime_error(config_path.string() + ": not a regular file (a directory?)");
    }
    std::ifstream in(config_path);
    if (!in) throw std::runtime_error(config_path.string() + ": cannot open");
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(config_path.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (auto* v = find_setting(config, {"data.subset", "subset"}); v && v->is_string()) {
      s.subset = v->get<std::string>();
    }
    if (auto* v = find_setting(config, {"data.dir", "data_dir"}); v && v->is_string()) {
      s.data_dir = v->get<std::string>();
    }
    if (auto* v = find_setting(config, {"data.val_fraction", "val_fraction", "split.val_fraction"});
        v && v->is_number()) {
      s.val_fraction = v->get<double>();
    }
    if (auto* v = find_setting(
            config, {"data.split_seed", "split_seed", "split.seed", "data.seed", "seed"});
        v && v->is_number_unsigned()) {
      s.split_seed = v->get<uint64_t>();
    }
    if (auto* v = find_setting(config, {"data.limit", "limit"}); v && v->is_number_unsigned()) {
      s.limit = v->get<size_t>();
    }
  }
  if (s.subset.empty()) {
    const auto it = loaded.metadata.find("radgal.subset");
    if (it != loaded.metadata.end()) s.subset = it->second;
  }
  return s;
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * v);
  return buf;
}

// matplotlib's "Blues" (ColorBrewer, 9 classes), light to dark.
plot::Rgb blues(double t) {
  static const plot::Rgb stops[] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239},
                                    {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                    {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 8.0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  auto lerp = [f](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + f * (b - a)));
  };
  return {lerp(stops[i].r, stops[i + 1].r), lerp(stops[i].g, stops[i + 1].g),
          lerp(stops[i].b, stops[i + 1].b)};
}

// The confusion matrix as the published figures show it: rows true, columns predicted, each row
// normalised to per cent, cells shaded with Blues, the per cent and the count in each cell.
plot::Canvas confusion_figure(const BinaryReport& r, const std::string& title) {
  const int cell = 130, left = 110, top = 60, width = left + 2 * cell + 30;
  const int height = top + 2 * cell + 60;
  plot::Canvas c(width, height);
  c.draw_text((width - plot::Canvas::text_width(title, 2)) / 2, 16, title, plot::kBlack, 2);
  const char* names[2] = {"FRI", "FRII"};
  for (int t = 0; t < 2; ++t) {
    const int64_t row_total = r.confusion[t][0] + r.confusion[t][1];
    for (int p = 0; p < 2; ++p) {
      const double share = row_total ? static_cast<double>(r.confusion[t][p]) / row_total : 0.0;
      const int x0 = left + p * cell, y0 = top + t * cell;
      c.fill_rect(x0, y0, x0 + cell, y0 + cell, blues(share));
      c.draw_rect(x0, y0, x0 + cell, y0 + cell, plot::kGrey);
      const plot::Rgb ink = share > 0.5 ? plot::kWhite : plot::kBlack;
      char line1[32], line2[32];
      std::snprintf(line1, sizeof line1, "%.1f%%", 100.0 * share);
      std::snprintf(line2, sizeof line2, "(%lld)", static_cast<long long>(r.confusion[t][p]));
      c.draw_text(x0 + (cell - plot::Canvas::text_width(line1, 3)) / 2, y0 + cell / 2 - 26, line1,
                  ink, 3);
      c.draw_text(x0 + (cell - plot::Canvas::text_width(line2, 2)) / 2, y0 + cell / 2 + 8, line2,
                  ink, 2);
    }
    c.draw_text(left - 12 - plot::Canvas::text_width(names[t], 2), top + t * cell + cell / 2 - 7,
                names[t], plot::kBlack, 2);
    c.draw_text(left + t * cell + (cell - plot::Canvas::text_width(names[t], 2)) / 2,
                top + 2 * cell + 10, names[t], plot::kBlack, 2);
  }
  c.draw_text(left + cell - plot::Canvas::text_width("predicted", 2) / 2, top + 2 * cell + 34,
              "predicted", plot::kBlack, 2);
  c.draw_text(16, top + cell + plot::Canvas::text_width("true", 2) / 2, "true", plot::kBlack, 2,
              /*vertical=*/true);
  return c;
}

nlohmann::json class_json(const ClassMetrics& m) {
  return {{"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}, {"support", m.support}};
}

}  // namespace

int cmd_evaluate(const Args& args) {
  CLI::App app{
      "Evaluate a trained classifier on a labelled set: per-class precision, recall and "
      "F1, accuracy, ROC AUC and the confusion matrix.",
      "evaluate"};
  std::vector<std::string> run_dirs;
  std::string weights, data_dir, subset, split = "test", json_path, plots_dir;
  int tta = 0, threads = 0;
  uint64_t seed = 0;
  // One image at a time is the fastest on a CPU (its activations stay in cache) and the leanest
  // (about 50 MB peak; each further image in a batch adds about 35 MB).
  int64_t batch = 1;
  bool verbose_flag = false;
  auto* run_opt = app.add_option("run_dir", run_dirs,
                                 "run directory written by radgal train; several form an "
                                 "ensemble whose probabilities are averaged (soft vote)");
  auto* weights_opt = app.add_option("--weights", weights,
                                     "a model file instead of a run: radgal's .safetensors or a "
                                     "published AGRadGalNet state dict");
  run_opt->excludes(weights_opt);
  app.add_option("--data", data_dir,
                 "batch folder (holding batches.meta and test_batch); default: the run's data "
                 "folder");
  app.add_option("--subset", subset,
                 "confident | full | uncertain | frdeep (default: the run's training subset, or "
                 "inferred from a published file's name)")
      ->check(CLI::IsMember({"confident", "full", "uncertain", "hybrid", "frdeep"}));
  app.add_option("--split", split, "test (test_batch) or val (the run's validation split)")
      ->check(CLI::IsMember({"test", "val"}));
  app.add_option("--tta", tta, "average p over N random affine augmentations (0: one plain pass)")
      ->check(CLI::Range(0, 100000));
  std::string tta_interpolation = "bilinear";
  app.add_option("--tta-interpolation", tta_interpolation,
                 "resampling of the --tta views: bilinear (as published) | cubic (what radgal "
                 "train's default recipe trains with)")
      ->check(CLI::IsMember({"bilinear", "cubic"}));
  app.add_option("--seed", seed, "seed of the test-time augmentations")
      ->transform(unsigned_integer());
  app.add_option("--json", json_path, "write the metrics as JSON to this file");
  app.add_option("--plots", plots_dir, "write roc.png and confusion.png into this folder");
  app.add_option("--batch", batch, "images per forward pass")->check(CLI::Range(1, 4096));
  app.add_option("--threads", threads, "CPU threads (default: all)")->check(CLI::Range(1, 1024));
  app.add_flag("--verbose", verbose_flag, "report timing on stderr");
  if (auto code = parse_command_line(app, args)) return *code;
  if (run_dirs.empty() && weights.empty()) {
    std::fprintf(stderr, "radgal evaluate: give a run directory or --weights FILE\n");
    return 2;
  }
  const std::string run_dir = run_dirs.empty() ? "" : run_dirs.front();
  if (verbose_flag) set_verbose(true);
  if (threads > 0) omp_set_num_threads(threads);

  // Output paths are checked before the work, so a bad path fails at once and leaves nothing.
  if (!json_path.empty()) require_writable_parent(json_path, "--json");
  if (!plots_dir.empty()) require_writable_dir(plots_dir, "--plots");

  // The model and what it was trained on.
  const std::string model_source = run_dir.empty() ? weights : run_dir;
  // The first model decides the subset and data; an ensemble's other members are checked
  // against it below.
  std::vector<nn::LoadedModel> members;
  for (const std::string& source : run_dirs.empty() ? std::vector<std::string>{weights} : run_dirs)
    members.push_back(nn::load_model(source));
  const nn::LoadedModel& loaded = members.front();
  const RunSettings settings = read_run_settings(model_source, loaded);
  if (subset.empty()) subset = settings.subset;
  if (subset.empty() && !weights.empty()) subset = subset_from_file_name(weights);
  if (subset.empty()) {
    throw std::runtime_error(model_source +
                             ": cannot tell which subset the model was trained on; pass --subset");
  }
  if (subset == "hybrid") {
    // The hybrid targets are confident (300) vs uncertain (310) hybrids, not FRI vs FRII, so an
    // FRI/FRII report of them would be mislabelled.
    throw std::runtime_error(
        "evaluate does not support subset hybrid: its targets are confident vs uncertain hybrids "
        "(300 vs 310), not FRI vs FRII; use confident, full, uncertain or frdeep");
  }

  // The labelled images.
  if (data_dir.empty()) data_dir = settings.data_dir;
  if (data_dir.empty()) throw std::runtime_error("give the labelled images with --data DIR");
  const std::string batch_dir = resolve_batch_dir(data_dir);
  reject_special_batch_files(batch_dir);
  LabeledSet set;
  if (split == "test") {
    set = select_subset(read_batch_dir(batch_dir, "test"), parse_subset(subset));
  } else {
    if (members.size() > 1) {
      // Each run holds out its own validation split (it depends on the run's seed), so there
      // is no validation set common to the members.
      throw std::runtime_error("--split val takes one run directory; an ensemble's runs each "
                               "hold out a different validation split");
    }
    if (!run_dir.empty() && settings.val_fraction == 0.0) {
      throw std::runtime_error(run_dir +
                               ": the run has no validation split (it was trained with "
                               "--val-fraction 0); evaluate it on --split test");
    }
    if (!settings.val_fraction || !(*settings.val_fraction > 0 && *settings.val_fraction < 1) ||
        !settings.split_seed) {
      throw std::runtime_error(
          "--split val needs a run directory whose config.json records the validation fraction "
          "and split seed" +
          std::string(run_dir.empty() ? " (a weights file has none)" : ""));
    }
    const LabeledSet train = evenly_spaced(
        select_subset(read_batch_dir(batch_dir, "train"), parse_subset(subset)), settings.limit);
    set = split_train_val(train, *settings.val_fraction, *settings.split_seed).second;
  }
  if (set.size() == 0) throw std::runtime_error(batch_dir + ": no images in subset " + subset);
  const int64_t h = set.images.height, w = set.images.width;
  for (const nn::LoadedModel& m : members) {
    if (h != m.config.image_size || w != m.config.image_size) {
      throw std::runtime_error(batch_dir + ": images are " + std::to_string(w) + "x" +
                               std::to_string(h) + ", the model " + m.path + " expects " +
                               std::to_string(m.config.image_size) + "x" +
                               std::to_string(m.config.image_size));
    }
  }
  for (size_t i = 1; i < run_dirs.size(); ++i) {
    const std::string other = read_run_settings(run_dirs[i], members[i]).subset;
    if (!other.empty() && other != settings.subset) {
      throw std::runtime_error(run_dirs[i] + ": trained on subset " + other + ", but " +
                               run_dir + " on " + settings.subset +
                               "; an ensemble's runs must share their classes");
    }
  }

  InferenceOptions options;
  options.batch_size = batch;
  options.tta = tta;
  options.seed = seed;
  options.tta_interpolation = parse_interpolation(tta_interpolation);
  options.progress_label = "evaluate";
  const auto start = std::chrono::steady_clock::now();
  // Soft vote: the members' p(FRII) averaged per image.
  std::vector<double> p_frii(set.size(), 0.0);
  std::vector<BinaryReport> member_reports;
  for (const nn::LoadedModel& m : members) {
    const InferenceResult result = run_inference(*m.model, set.images.pixels.data(),
                                                 static_cast<int64_t>(set.size()), h, w, options);
    const std::vector<double> p(result.p_frii.begin(), result.p_frii.end());
    member_reports.push_back(evaluate_binary(set.targets, p));
    for (size_t i = 0; i < p.size(); ++i) p_frii[i] += p[i] / double(members.size());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const BinaryReport r = evaluate_binary(set.targets, p_frii);

  // The table.
  const int64_t correct = r.confusion[0][0] + r.confusion[1][1];
  if (members.size() == 1) {
    std::printf("model     %s, %lld parameters\n          %s\n",
                loaded.config.describe().c_str(),
                static_cast<long long>(loaded.model->parameter_count()), loaded.path.c_str());
  } else {
    std::printf("ensemble  %zu models, probabilities averaged\n", members.size());
    for (size_t i = 0; i < members.size(); ++i) {
      std::printf("  %-40s %s alone: %s, AUC %.4f\n", members[i].path.c_str(),
                  members[i].config.describe().c_str(),
                  percent(member_reports[i].accuracy).c_str(), member_reports[i].auc);
    }
  }
  std::printf("data      %s: subset %s, %s split, %lld images (%lld FRI, %lld FRII)\n",
              batch_dir.c_str(), subset.c_str(), split.c_str(), static_cast<long long>(r.n),
              static_cast<long long>(r.fri.support), static_cast<long long>(r.frii.support));
  if (tta > 0) {
    std::printf("passes    %d augmented (seed %llu, %s resampling), probabilities averaged\n",
                tta, static_cast<unsigned long long>(seed), tta_interpolation.c_str());
  } else {
    std::printf("passes    1, no augmentation\n");
  }
  std::printf("\nclass  precision  recall     f1  support\n");
  const std::pair<const char*, const ClassMetrics*> rows[] = {{"FRI", &r.fri}, {"FRII", &r.frii}};
  for (const auto& [name, m] : rows) {
    std::printf("%-5s  %9.3f  %6.3f  %5.3f  %7lld\n", name, m->precision, m->recall, m->f1,
                static_cast<long long>(m->support));
  }
  std::printf("\naccuracy  %s (%lld of %lld)\n", percent(r.accuracy).c_str(),
              static_cast<long long>(correct), static_cast<long long>(r.n));
  if (std::isnan(r.auc)) {
    std::printf("ROC AUC   undefined (only one class present)\n");
  } else {
    std::printf("ROC AUC   %.4f\n", r.auc);
  }
  std::printf("\nconfusion (rows true, columns predicted)\n        FRI  FRII\n");
  std::printf("FRI   %5lld %5lld\nFRII  %5lld %5lld\n", static_cast<long long>(r.confusion[0][0]),
              static_cast<long long>(r.confusion[0][1]), static_cast<long long>(r.confusion[1][0]),
              static_cast<long long>(r.confusion[1][1]));
  if (verbose()) {
    const double images =
        static_cast<double>(r.n) * std::max(1, tta) * static_cast<double>(members.size());
    std::fprintf(stderr,
                 "evaluate: %.0f forward passes in %s (%.1f img/s, batch %lld, %d threads)\n",
                 images, format_duration(seconds).c_str(), images / seconds,
                 static_cast<long long>(batch), omp_get_max_threads());
  }

  if (!json_path.empty()) {
    nlohmann::json j;
    j["accuracy"] = r.accuracy;
    j["auc"] = std::isnan(r.auc) ? nlohmann::json() : nlohmann::json(r.auc);
    j["classes"] = {{"FRI", class_json(r.fri)}, {"FRII", class_json(r.frii)}};
    j["confusion"] = {{r.confusion[0][0], r.confusion[0][1]},
                      {r.confusion[1][0], r.confusion[1][1]}};
    j["n"] = r.n;
    j["model"] = {{"path", loaded.path},
                  {"config", loaded.config.to_json()},
                  {"published", loaded.published}};
    if (members.size() > 1) {
      j["ensemble"] = nlohmann::json::array();
      for (size_t i = 0; i < members.size(); ++i) {
        const BinaryReport& m = member_reports[i];
        j["ensemble"].push_back(
            {{"path", members[i].path},
             {"config", members[i].config.to_json()},
             {"accuracy", m.accuracy},
             {"auc", std::isnan(m.auc) ? nlohmann::json() : nlohmann::json(m.auc)}});
      }
    }
    j["data"] = {{"dir", batch_dir}, {"subset", subset}, {"split", split}};
    j["tta"] = tta;
    j["tta_interpolation"] = tta_interpolation;
    j["seed"] = seed;
    j["p_frii"] = p_frii;  // per image, in the order of the set (test_batch order)
    j["targets"] = set.targets;  // the same images' true classes (0 FRI, 1 FRII)
    j["filenames"] = set.images.filenames;
    // The ROC curve without its first point, whose threshold is +infinity (not valid JSON).
    j["roc"] = {{"fpr", std::vector<double>(r.fpr.begin() + 1, r.fpr.end())},
                {"tpr", std::vector<double>(r.tpr.begin() + 1, r.tpr.end())},
                {"thresholds", std::vector<double>(r.thresholds.begin() + 1, r.thresholds.end())}};
    write_text_file(json_path, j.dump(2) + "\n");
  }

  if (!plots_dir.empty()) {
    if (!std::isnan(r.auc)) {
      plot::Series curve;
      char name[64];
      if (members.size() == 1) {
        std::snprintf(name, sizeof name, "%s (AUC %.3f)", loaded.config.arch.c_str(), r.auc);
      } else {
        std::snprintf(name, sizeof name, "ensemble of %zu (AUC %.3f)", members.size(), r.auc);
      }
      curve.name = name;
      curve.x = r.fpr;
      curve.y = r.tpr;
      curve.colour = plot::palette(0);
      plot::roc_plot({curve}, "ROC, " + subset + " " + split).write_png(plots_dir + "/roc.png");
    }
    confusion_figure(r, "Confusion (%), " + subset + " " + split)
        .write_png(plots_dir + "/confusion.png");
  }
  return 0;
}

}  // namespace radgal::tools
