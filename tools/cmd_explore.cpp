// radgal explore: look at a data set before training on it. Reads a batch folder, a folder of
// FITS cutouts (prepared as MiraBest images on the way) or a .rgis image set, and reports the
// class table, per-class distributions of source and pixel features, and a bias check: a
// feature that alone separates FRI from FRII is something a classifier could learn instead of
// morphology.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/batches.h"
#include "data/fits.h"
#include "data/labels.h"
#include "data/prepare.h"
#include "tools/cli_support.h"
#include "tools/commands.h"
#include "tools/input_paths.h"
#include "tools/output_paths.h"
#include "tools/plot.h"
#include "train/progress.h"

namespace radgal::tools {

namespace {

namespace fs = std::filesystem;

// A feature whose FRI-vs-FRII ROC AUC (or 1 - AUC) reaches this separates the classes well
// enough on its own to be a shortcut a model could take.
constexpr double kBiasAuc = 0.75;
constexpr int64_t kSide = 150;

// One image of the data set and what we know about it.
struct Item {
  std::string name;
  std::string split;     // "train", "test" or "all"
  std::string label;     // label name: a MiraBest code such as "100", or "FRI" / "FRII"
  std::string fr_class;  // "FRI", "FRII", "hybrid" or "" when unknown
  std::map<std::string, double> features;
};

struct Dataset {
  std::string source_kind;  // "batches", "fits" or "image set"
  std::string dataset;      // "MiraBest", "FRDEEP-F" or ""
  std::vector<Item> items;
  std::vector<uint8_t> pixels;  // items.size() * 150 * 150, for the sample grid
  std::vector<ReleaseCheck> release;
  std::vector<std::string> label_order;  // label names in table order
  int failed = 0;
};

// Features and their units, in report order.
const std::vector<std::pair<std::string, std::string>> kFeatures = {
    {"size_arcsec", "largest angular size (arcsec, from the name)"},
    {"redshift", "redshift (from the name)"},
    {"pixel_sum", "sum of pixels / 255"},
    {"nonzero_fraction", "fraction of non-zero pixels"},
    {"mean_nonzero", "mean of the non-zero pixels (grey levels)"},
    {"radius90_px", "radius holding 90% of the pixel sum (pixels)"},
    {"peak_mjy", "peak surface brightness (mJy/beam, raw FITS)"},
    {"noise_mjy", "clipped noise sigma (mJy/beam, raw FITS)"},
    {"invalid_pixels", "NaN/inf pixels in the raw FITS"},
};

std::string fr_class_of(const std::string& label) {
  if (label == "FRI" || label == "FRII") return label;
  if (const auto code = parse_label_code(label)) return describe_label_code(*code)->fr_class;
  return "";
}

// Pixel features of one 150 x 150 8-bit image.
void add_pixel_features(const uint8_t* img, std::map<std::string, double>& f) {
  double sum = 0;
  int64_t nonzero = 0;
  std::vector<std::pair<double, double>> radial;  // (distance from centre, value)
  for (int64_t y = 0; y < kSide; ++y) {
    for (int64_t x = 0; x < kSide; ++x) {
      const double v = img[y * kSide + x];
      if (v == 0) continue;
      sum += v;
      ++nonzero;
      radial.emplace_back(std::hypot(x - 74.5, y - 74.5), v);
    }
  }
  f["pixel_sum"] = sum / 255.0;
  f["nonzero_fraction"] = double(nonzero) / double(kSide * kSide);
  f["mean_nonzero"] = nonzero ? sum / double(nonzero) : 0.0;
  std::sort(radial.begin(), radial.end());
  double acc = 0, r90 = 0;
  for (const auto& [r, v] : radial) {
    acc += v;
    r90 = r;
    if (acc >= 0.9 * sum) break;
  }
  f["radius90_px"] = r90;
}

void add_name_features(const std::string& name, std::map<std::string, double>& f) {
  if (const auto s = parse_source_name(name)) {
    f["size_arcsec"] = s->size_arcsec;
    f["redshift"] = s->redshift;
  }
}

Dataset load_batches(const std::string& dir) {
  Dataset d;
  d.source_kind = "batches";
  const std::string meta_path = (fs::path(dir) / "batches.meta").string();
  const BatchMeta meta = read_batch_meta(meta_path);
  d.dataset = identify_dataset(meta.label_names);
  d.label_order = meta.label_names;
  d.release.push_back(check_release_file(meta_path, d.dataset));
  const std::vector<std::string> files = batch_files(dir, "all");
  ProgressBar bar("explore", int64_t(files.size()), "file");
  for (const std::string& file : files) {
    d.release.push_back(check_release_file(file, d.dataset));
    const ImageSet part = read_batch_file(file);
    const std::string split = fs::path(file).filename() == "test_batch" ? "test" : "train";
    for (size_t i = 0; i < part.size(); ++i) {
      if (part.labels[i] >= int(meta.label_names.size())) {
        throw std::runtime_error(file + ": image " + std::to_string(i) + " has label " +
                                 std::to_string(part.labels[i]) + " beyond batches.meta");
      }
      Item item;
      item.name = part.filenames[i];
      item.split = split;
      item.label = meta.label_names[size_t(part.labels[i])];
      d.items.push_back(item);
    }
    d.pixels.insert(d.pixels.end(), part.pixels.begin(), part.pixels.end());
    bar.update();
  }
  bar.finish();
  return d;
}

Dataset load_image_set(const std::string& path) {
  Dataset d;
  d.source_kind = "image set";
  const ImageSet set = read_image_set(path);
  if (set.height != kSide || set.width != kSide) {
    throw std::runtime_error(path + ": images are " + std::to_string(set.height) + " x " +
                             std::to_string(set.width) + ", explore expects 150 x 150");
  }
  d.label_order = set.label_names;
  d.dataset = identify_dataset(set.label_names);
  for (size_t i = 0; i < set.size(); ++i) {
    Item item;
    item.name = set.filenames[i];
    item.split = "all";
    item.label = set.label_names.empty() ? "?" : set.label_names[size_t(set.labels[i])];
    d.items.push_back(item);
  }
  d.pixels = set.pixels;
  return d;
}

Dataset load_fits(const std::string& dir, int threads) {
  Dataset d;
  d.source_kind = "fits";
  const std::vector<std::string> files = list_fits_files(dir);
  std::vector<Item> items(files.size());
  std::vector<std::vector<uint8_t>> images(files.size());
  std::vector<std::string> errors(files.size());
  {
    ProgressBar bar("explore", int64_t(files.size()), "file");
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t i = 0; i < files.size(); ++i) {
      Item& item = items[i];
      item.name = fs::path(files[i]).filename().string();
      item.split = "all";
      const auto source = parse_source_name(files[i]);
      item.label = source ? std::to_string(source->code) : "unknown";
      try {
        reject_special_file(files[i]);  // a named pipe would block the open
        const FitsImage image = read_fits(files[i]);
        const PreparedImage p = prepare_mirabest_detailed(image);
        images[i] = p.pixels;
        float peak = 0;
        for (size_t k = 0; k < image.pixels.size(); ++k) {
          if (!image.invalid[k]) peak = std::max(peak, image.pixels[k]);
        }
        item.features["peak_mjy"] = 1000.0 * peak;
        item.features["noise_mjy"] = 1000.0 * p.noise.stddev;
        item.features["invalid_pixels"] = double(p.invalid_pixels);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
#pragma omp critical(radgal_explore_progress)
      bar.update();
    }
    bar.finish();
  }
  std::set<std::string> labels;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!errors[i].empty()) {
      std::fprintf(stderr, "radgal explore: skipped %s\n", errors[i].c_str());
      ++d.failed;
      continue;
    }
    labels.insert(items[i].label);
    d.items.push_back(items[i]);
    d.pixels.insert(d.pixels.end(), images[i].begin(), images[i].end());
  }
  const std::vector<std::string> mirabest = {"100", "102", "104", "110", "112",
                                             "200", "201", "210", "300", "310"};
  d.label_order = mirabest;
  for (const std::string& l : labels) {
    if (std::find(mirabest.begin(), mirabest.end(), l) == mirabest.end())
      d.label_order.push_back(l);
  }
  d.dataset = labels.size() > labels.count("unknown") ? "MiraBest" : "";
  return d;
}

// ---------------------------------------------------------------------------------------------
// Statistics

struct Summary {
  int64_t n = 0;
  double min = NAN, median = NAN, mean = NAN, max = NAN;
};

Summary summarise(std::vector<double> v) {
  Summary s;
  s.n = int64_t(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  const size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  return s;
}

// Mann-Whitney ROC AUC of `score` for positives (FRII) over negatives (FRI); ties count 1/2.
double roc_auc(const std::vector<double>& negatives, const std::vector<double>& positives) {
  std::vector<std::pair<double, int>> all;
  for (double v : negatives) all.emplace_back(v, 0);
  for (double v : positives) all.emplace_back(v, 1);
  std::sort(all.begin(), all.end());
  double rank_sum = 0;  // of the positives, 1-based ranks with ties averaged
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = 0.5 * double(i + 1 + j);
    for (size_t k = i; k < j; ++k) rank_sum += all[k].second ? rank : 0.0;
    i = j;
  }
  const double np = double(positives.size()), nn = double(negatives.size());
  return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

// The best accuracy a single threshold on the feature reaches (either direction).
double best_threshold_accuracy(const std::vector<double>& negatives,
                               const std::vector<double>& positives) {
  std::vector<std::pair<double, int>> all;
  for (double v : negatives) all.emplace_back(v, 0);
  for (double v : positives) all.emplace_back(v, 1);
  std::sort(all.begin(), all.end());
  const double n = double(all.size());
  // Threshold below everything: "positive above" predicts all positive.
  double neg_below = 0, pos_below = 0;
  double best = std::max(double(positives.size()), double(negatives.size())) / n;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) {
      (all[j].second ? pos_below : neg_below) += 1;
      ++j;
    }
    const double above_is_positive = (neg_below + double(positives.size()) - pos_below) / n;
    best = std::max({best, above_is_positive, 1.0 - above_is_positive});
    i = j;
  }
  return best;
}

struct FeatureReport {
  std::string name, description;
  std::map<std::string, Summary> by_class;
  double auc = NAN, separation = NAN, accuracy = NAN;
  bool biased = false;
  // Where the histogram's axis ends when a few huge values (bright sources, NaN-edged cutouts)
  // would squeeze every other image into the first bin: the 99th percentile, with the tail piled
  // into the last bin. NaN: the full range is drawn.
  double plot_clip = NAN;
};

double heavy_tail_clip(std::vector<double> all) {
  if (all.empty()) return NAN;
  std::sort(all.begin(), all.end());
  const double p99 = all[size_t(0.99 * double(all.size() - 1))];
  const bool heavy = p99 > all.front() && all.back() - all.front() > 5 * (p99 - all.front());
  return heavy ? p99 : NAN;
}

std::vector<FeatureReport> analyse(const Dataset& d, std::vector<std::string>& warnings) {
  std::vector<FeatureReport> reports;
  for (const auto& [name, description] : kFeatures) {
    FeatureReport r;
    r.name = name;
    r.description = description;
    std::map<std::string, std::vector<double>> values;
    bool any = false;
    for (const Item& item : d.items) {
      auto it = item.features.find(name);
      if (it == item.features.end() || !std::isfinite(it->second)) continue;
      values[item.fr_class.empty() ? "unknown" : item.fr_class].push_back(it->second);
      any = true;
    }
    if (!any) continue;
    std::vector<double> all;
    for (const auto& [cls, v] : values) {
      r.by_class[cls] = summarise(v);
      all.insert(all.end(), v.begin(), v.end());
    }
    r.plot_clip = heavy_tail_clip(all);
    const auto& fri = values["FRI"];
    const auto& frii = values["FRII"];
    if (fri.size() >= 5 && frii.size() >= 5) {
      r.auc = roc_auc(fri, frii);
      r.separation = std::max(r.auc, 1.0 - r.auc);
      r.accuracy = best_threshold_accuracy(fri, frii);
      r.biased = r.separation >= kBiasAuc;
      if (r.biased) {
        char text[256];
        std::snprintf(text, sizeof text,
                      "%s alone separates FRI from FRII (AUC %.3f, best single-threshold "
                      "accuracy %.1f%%): a classifier could learn it instead of morphology",
                      name.c_str(), r.separation, 100 * r.accuracy);
        warnings.push_back(text);
      }
    }
    values.erase("unknown");
    reports.push_back(r);
  }
  return reports;
}

// ---------------------------------------------------------------------------------------------
// Output

// The class, confidence and morphology a label stands for ("-" where it says nothing).
void describe(const std::string& label, std::string& cls, std::string& confidence,
              std::string& morphology) {
  cls = confidence = morphology = "-";
  if (label == "FRI" || label == "FRII") {
    cls = label;
    return;
  }
  if (const auto code = parse_label_code(label)) {
    const LabelCode c = *describe_label_code(*code);
    cls = c.fr_class;
    confidence = c.confidence;
    morphology = c.morphology;
  }
}

void write_plots(const std::string& dir, const Dataset& d,
                 const std::vector<FeatureReport>& reports,
                 const std::map<std::string, std::map<std::string, int64_t>>& counts,
                 const std::vector<std::string>& splits, int samples_per_label,
                 std::vector<std::string>& written) {
  fs::create_directories(dir);
  auto save = [&](const plot::Canvas& c, const std::string& name) {
    const std::string path = (fs::path(dir) / name).string();
    c.write_png(path);
    written.push_back(path);
  };

  // class counts per split
  std::vector<std::string> labels;
  std::vector<std::vector<double>> values(splits.size());
  for (const std::string& l : d.label_order) {
    int64_t total = 0;
    for (const std::string& s : splits) total += counts.at(s).count(l) ? counts.at(s).at(l) : 0;
    if (!total) continue;
    labels.push_back(l);
    for (size_t s = 0; s < splits.size(); ++s) {
      const auto& c = counts.at(splits[s]);
      values[s].push_back(c.count(l) ? double(c.at(l)) : 0.0);
    }
  }
  plot::ChartOptions bars;
  bars.title = "images per label";
  bars.x_label = "label";
  bars.y_label = "images";
  bars.width = std::max(480, 60 * int(labels.size()) + 120);
  save(plot::bar_plot(labels, values, splits, bars), "class_counts.png");

  // per-class histograms of every feature
  for (const FeatureReport& r : reports) {
    std::vector<plot::HistogramSeries> series;
    int colour = 0;
    for (const char* cls : {"FRI", "FRII", "hybrid"}) {
      plot::HistogramSeries s;
      s.name = cls;
      s.colour = plot::palette(colour++);
      for (const Item& item : d.items) {
        auto it = item.features.find(r.name);
        if (item.fr_class == cls && it != item.features.end()) s.values.push_back(it->second);
      }
      if (!s.values.empty()) series.push_back(s);
    }
    const bool clipped = std::isfinite(r.plot_clip);
    if (clipped) {
      for (auto& series_values : series) {
        for (double& v : series_values.values) v = std::min(v, r.plot_clip);
      }
    }
    plot::ChartOptions o;
    char title[160];
    if (std::isfinite(r.auc)) {
      std::snprintf(title, sizeof title, "%s: FRI vs FRII AUC %.2f%s", r.name.c_str(), r.separation,
                    r.biased ? " (bias warning)" : "");
    } else {
      std::snprintf(title, sizeof title, "%s", r.name.c_str());
    }
    o.title = title;
    o.x_label = r.description + (clipped ? ", clipped at the 99th percentile" : "");
    save(plot::histogram(series, 30, o, true), "hist_" + r.name + ".png");
  }

  // the bias check at a glance
  std::vector<std::string> names;
  std::vector<double> separation;
  for (const FeatureReport& r : reports) {
    if (!std::isfinite(r.separation)) continue;
    names.push_back(r.name);
    separation.push_back(r.separation);
  }
  if (!names.empty()) {
    plot::ChartOptions o;
    o.title = "bias check: FRI vs FRII AUC of each feature alone (warn at 0.75)";
    o.y_label = "max(AUC, 1 - AUC)";
    o.y_min = 0.5;
    o.y_max = 1.0;
    o.y_reference = kBiasAuc;
    o.width = std::max(640, 110 * int(names.size()));
    save(plot::bar_plot(names, {separation}, {}, o), "bias_auc.png");
  }

  // sample images, one row per label
  std::vector<plot::Tile> tiles;
  int columns = samples_per_label;
  for (const std::string& l : d.label_order) {
    std::vector<size_t> members;
    for (size_t i = 0; i < d.items.size(); ++i) {
      if (d.items[i].label == l) members.push_back(i);
    }
    if (members.empty()) continue;
    for (int k = 0; k < samples_per_label; ++k) {
      plot::Tile t;
      if (k < int(members.size())) {
        // spread the picks over the label's images
        const size_t i = members[size_t(k) * members.size() / size_t(samples_per_label)];
        t.image = plot::grey_image(d.pixels.data() + i * kSide * kSide, int(kSide), int(kSide));
        t.caption = l + (k == 0 ? " (" + std::to_string(members.size()) + ")" : "");
      } else {
        t.image = plot::Canvas(int(kSide), int(kSide), plot::kWhite);
      }
      tiles.push_back(t);
    }
  }
  if (!tiles.empty())
    save(plot::image_grid(tiles, columns, "sample images per label"), "samples.png");
}

}  // namespace

int cmd_explore(const Args& args) {
  CLI::App app{
      "Look at a data set before training: class table, per-class distributions of "
      "angular size, redshift and pixel statistics, a bias check, and figures.",
      "explore"};
  std::string data, json_path, plots_dir;
  int threads = omp_get_num_procs();
  int samples = 6;
  bool verbose = false;
  app.add_option("--data", data,
                 "a batch folder (batches.meta, data_batch_*, test_batch), a folder of FITS "
                 "cutouts, or a .rgis image set")
      ->required();
  app.add_option("--json", json_path, "write the report as JSON to this file");
  app.add_option("--plots", plots_dir, "write PNG figures into this folder");
  app.add_option("--samples", samples, "sample images per label in samples.png")
      ->check(CLI::Range(1, 20));
  app.add_option("--threads", threads, "worker threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--verbose", verbose, "more detail");
  if (const auto exit_code = parse_command_line(app, args)) return *exit_code;
  set_verbose(verbose);
  // Output paths are checked before any work; the plots folder is made only when --json is fine.
  std::string problem = json_path.empty() ? "" : writable_parent_problem(json_path, "--json");
  if (problem.empty() && !plots_dir.empty()) problem = writable_dir_problem(plots_dir, "--plots");
  if (!problem.empty()) {
    std::fprintf(stderr, "radgal explore: %s\n", problem.c_str());
    return 1;
  }

  // 1. load
  Dataset d;
  std::error_code ec;
  if (fs::is_directory(data, ec) && fs::exists(fs::path(data) / "batches.meta", ec)) {
    reject_special_batch_files(data);
    d = load_batches(data);
  } else if (fs::is_directory(data, ec)) {
    if (list_fits_files(data).empty()) {
      std::fprintf(stderr, "radgal explore: %s has neither batches.meta nor FITS files\n",
                   data.c_str());
      return 1;
    }
    d = load_fits(data, threads);
  } else if (fs::is_regular_file(data, ec)) {
    d = load_image_set(data);
  } else if (const std::string problem = special_file_problem(data); !problem.empty()) {
    std::fprintf(stderr, "radgal explore: %s: %s\n", data.c_str(), problem.c_str());
    return 1;
  } else {
    std::fprintf(stderr, "radgal explore: %s does not exist\n", data.c_str());
    return 1;
  }
  if (d.items.empty()) {
    std::fprintf(stderr, "radgal explore: no images could be read from %s\n", data.c_str());
    return 1;
  }

  // 2. features
#pragma omp parallel for schedule(static) num_threads(threads)
  for (size_t i = 0; i < d.items.size(); ++i) {
    Item& item = d.items[i];
    item.fr_class = fr_class_of(item.label);
    add_name_features(item.name, item.features);
    add_pixel_features(d.pixels.data() + i * kSide * kSide, item.features);
  }

  // 3. class table
  std::vector<std::string> splits;
  for (const char* s : {"train", "test", "all"}) {
    for (const Item& item : d.items) {
      if (item.split == s) {
        splits.push_back(s);
        break;
      }
    }
  }
  std::map<std::string, std::map<std::string, int64_t>> counts;  // split -> label -> n
  std::map<std::string, int64_t> totals;
  for (const std::string& s : splits) counts[s];
  for (const Item& item : d.items) {
    ++counts[item.split][item.label];
    ++totals[item.label];
  }
  std::printf("radgal explore: %s (%s%s), %zu images\n", data.c_str(),
              d.dataset.empty() ? "unknown data set" : d.dataset.c_str(),
              d.source_kind == "batches" ? ", batched release"
              : d.source_kind == "fits"  ? ", FITS cutouts prepared as MiraBest images"
                                         : ", image set",
              d.items.size());
  int official = 0, differ = 0;
  for (const ReleaseCheck& r : d.release) {
    official += r.official();
    differ += r.differs();
    if (r.differs()) {
      std::printf("warning: %s differs from the official %s release file (md5 %s, expected %s)\n",
                  r.path.c_str(), r.dataset.c_str(), r.md5.c_str(), r.expected_md5.c_str());
    }
  }
  if (!d.release.empty()) {
    std::printf("release files: %d of %zu are the official %s release%s\n", official,
                d.release.size(), d.dataset.empty() ? "?" : d.dataset.c_str(),
                differ ? " (see warnings)" : "");
  }
  if (d.failed) std::printf("warning: %d files could not be read (see stderr)\n", d.failed);
  // An image whose pixels are all equal holds no source (FRDEEP-F has an all-zero one).
  std::vector<std::string> blank;
  for (size_t i = 0; i < d.items.size(); ++i) {
    const uint8_t* img = d.pixels.data() + i * kSide * kSide;
    if (std::all_of(img, img + kSide * kSide, [&](uint8_t v) { return v == img[0]; })) {
      blank.push_back(d.items[i].name.empty() ? "image " + std::to_string(i) : d.items[i].name);
    }
  }
  if (!blank.empty()) {
    std::string names;
    for (size_t i = 0; i < std::min<size_t>(blank.size(), 10); ++i) {
      names += (i ? ", " : "") + blank[i];
    }
    if (blank.size() > 10) names += ", ...";
    std::printf("warning: %zu blank images (all pixels equal): %s\n", blank.size(), names.c_str());
  }

  std::printf("\n%5s %6s  %-7s %-10s %-16s", "label", "count", "class", "confidence", "morphology");
  for (const std::string& s : splits) std::printf(" %6s", s.c_str());
  std::printf("  %s\n", "code");
  nlohmann::json classes = nlohmann::json::object();
  int index = 0;
  for (const std::string& l : d.label_order) {
    const int64_t total = totals.count(l) ? totals[l] : 0;
    classes[l] = total;
    std::string cls, confidence, morphology;
    describe(l, cls, confidence, morphology);
    std::printf("%5d %6lld  %-7s %-10s %-16s", index++, (long long)total, cls.c_str(),
                confidence.c_str(), morphology.c_str());
    for (const std::string& s : splits) {
      std::printf(" %6lld", (long long)(counts[s].count(l) ? counts[s][l] : 0));
    }
    std::printf("  %s\n", l.c_str());
  }
  std::printf("%5s %6zu", "total", d.items.size());
  std::printf("  %-7s %-10s %-16s", "", "", "");
  for (const std::string& s : splits) {
    int64_t n = 0;
    for (const auto& kv : counts[s]) n += kv.second;
    std::printf(" %6lld", (long long)n);
  }
  std::printf("\n");

  // FR-class totals per confidence (the MiraBest subsets)
  std::map<std::string, std::map<std::string, int64_t>> by_class;  // class -> confidence -> n
  for (const Item& item : d.items) {
    std::string cls, confidence, morphology;
    describe(item.label, cls, confidence, morphology);
    ++by_class[cls][confidence];
  }
  std::printf("\nby class:");
  for (const auto& [cls, per_conf] : by_class) {
    int64_t n = 0;
    for (const auto& kv : per_conf) n += kv.second;
    std::printf("  %s %lld", cls.c_str(), (long long)n);
    if (per_conf.count("confident")) {
      std::printf(" (%lld confident)", (long long)per_conf.at("confident"));
    }
  }
  std::printf("\n");

  // 4. distributions and the bias check
  std::vector<std::string> warnings;
  const std::vector<FeatureReport> reports = analyse(d, warnings);
  std::printf("\n%-17s %-7s %6s %10s %10s %10s %10s\n", "feature", "class", "n", "min", "median",
              "mean", "max");
  for (const FeatureReport& r : reports) {
    for (const auto& [cls, s] : r.by_class) {
      std::printf("%-17s %-7s %6lld %10.4g %10.4g %10.4g %10.4g\n", r.name.c_str(), cls.c_str(),
                  (long long)s.n, s.min, s.median, s.mean, s.max);
    }
  }
  std::printf("\nbias check (FRI vs FRII from one feature alone; warning at AUC >= %.2f):\n",
              kBiasAuc);
  std::printf("%-17s %8s %10s  %s\n", "feature", "AUC", "accuracy", "verdict");
  for (const FeatureReport& r : reports) {
    if (!std::isfinite(r.auc)) continue;
    std::printf("%-17s %8.3f %9.1f%%  %s\n", r.name.c_str(), r.separation, 100 * r.accuracy,
                r.biased ? "WARNING: separates the classes" : "ok");
  }
  for (const std::string& w : warnings) std::printf("warning: %s\n", w.c_str());

  // 5. figures
  std::vector<std::string> written;
  if (!plots_dir.empty()) {
    write_plots(plots_dir, d, reports, counts, splits, samples, written);
    std::printf("\nwrote %zu figures to %s\n", written.size(), plots_dir.c_str());
  }

  // 6. JSON
  if (!json_path.empty()) {
    nlohmann::json j;
    j["data"] = data;
    j["source_kind"] = d.source_kind;
    j["dataset"] = d.dataset;
    j["total"] = d.items.size();
    j["classes"] = classes;
    for (const std::string& s : splits) j["splits"][s] = counts[s];
    j["release_files"] = nlohmann::json::array();
    for (const ReleaseCheck& r : d.release) {
      j["release_files"].push_back(
          {{"name", r.name}, {"md5", r.md5}, {"official", r.official()}, {"differs", r.differs()}});
    }
    j["features"] = nlohmann::json::object();
    for (const FeatureReport& r : reports) {
      nlohmann::json f;
      f["description"] = r.description;
      for (const auto& [cls, s] : r.by_class) {
        f["classes"][cls] = {
            {"n", s.n}, {"min", s.min}, {"median", s.median}, {"mean", s.mean}, {"max", s.max}};
      }
      if (std::isfinite(r.auc)) {
        f["auc_frii_over_fri"] = r.auc;
        f["separation_auc"] = r.separation;
        f["best_threshold_accuracy"] = r.accuracy;
        f["bias_warning"] = r.biased;
      }
      if (std::isfinite(r.plot_clip)) f["histogram_clipped_at"] = r.plot_clip;
      j["features"][r.name] = f;
    }
    j["bias_auc_threshold"] = kBiasAuc;
    j["warnings"] = warnings;
    j["plots"] = written;
    j["failed_files"] = d.failed;
    j["blank_images"] = blank;
    write_text_file(json_path, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace radgal::tools
