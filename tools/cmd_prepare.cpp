// radgal prepare: raw FIRST cutouts -> MiraBest images (data/prepare.h), optionally compared with
// the release batches and written as a compact image-set file for training.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/batches.h"
#include "data/fits.h"
#include "data/labels.h"
#include "data/prepare.h"
#include "tools/cli_support.h"
#include "tools/commands.h"
#include "tools/input_paths.h"
#include "tools/output_paths.h"
#include "train/progress.h"

namespace radgal::tools {

namespace {

namespace fs = std::filesystem;

// The agreement the preparation must reach with the release (mean absolute difference per
// image, grey levels): the fpack quantisation of the cutouts moves a few threshold pixels.
constexpr double kTargetMedian = 0.01, kTargetWithin = 0.1, kTargetFraction = 0.99,
                 kTargetMax = 0.5;

struct Prepared {
  std::string path, stem, error;
  std::optional<SourceName> source;
  std::vector<uint8_t> pixels;
  int64_t invalid = 0;
};

double percentile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  // numpy's default (linear) percentile, so the median of an even count is the mean of two
  const double at = q * double(v.size() - 1);
  const size_t i = size_t(at);
  const double f = at - double(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

std::string stem_of(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (const char* ext : {".gz", ".fz"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      name.resize(name.size() - e.size());
    }
  }
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// A folder holding batches/ stands for that batch folder, as in train and evaluate.
std::string resolve_batch_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "batches.meta", ec) &&
      fs::exists(fs::path(dir) / "batches" / "batches.meta", ec)) {
    return (fs::path(dir) / "batches").string();
  }
  return dir;
}

}  // namespace

int cmd_prepare(const Args& args) {
  CLI::App app{
      "Turn raw FIRST FITS cutouts into MiraBest images (NaN to 0, 3-sigma clipped "
      "noise, threshold at 3 sigma, central 150x150 crop, min-max to 8 bits) and "
      "compare them with the release batches. Exit status 1 when a file cannot be "
      "prepared or the comparison misses its target.",
      "prepare"};
  std::string fits_dir, compare_dir, json_path, out_path;
  int threads = omp_get_num_procs();
  bool verbose = false, mask = false;
  double mask_scale = 1.0;
  app.add_option("--fits", fits_dir, "folder of FITS cutouts named CODE_RA+DEC_Z_SIZE.fits[.fz]")
      ->required();
  app.add_option("--compare", compare_dir,
                 "batch folder (or the folder holding batches/) to compare with; each image is "
                 "matched by its source name");
  app.add_option("--json", json_path, "write the comparison summary as JSON to this file");
  app.add_option("--out", out_path, "write the prepared images as a compact .rgis image set");
  app.add_flag("--mask", mask,
               "apply the later builder's circular mask (radius from the source size)");
  app.add_option("--mask-scale", mask_scale, "mask radius factor (the notebook variant used 1.5)");
  app.add_option("--threads", threads, "worker threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--verbose", verbose, "print every image's difference");
  if (const auto exit_code = parse_command_line(app, args)) return *exit_code;
  if (!(std::isfinite(mask_scale) && mask_scale > 0)) {
    std::fprintf(stderr, "radgal prepare: --mask-scale must be a positive number, got %s\n",
                 app.get_option("--mask-scale")->as<std::string>().c_str());
    return 2;
  }
  set_verbose(verbose);
  if (!compare_dir.empty()) {
    compare_dir = resolve_batch_dir(compare_dir);
    std::error_code ec;
    if (!fs::exists(compare_dir, ec)) {
      std::fprintf(stderr, "radgal prepare: --compare: no such folder: %s\n", compare_dir.c_str());
      return 1;
    }
    if (fs::is_directory(compare_dir, ec)) {
      reject_special_batch_files(compare_dir);
    } else if (const std::string problem = special_file_problem(compare_dir); !problem.empty()) {
      std::fprintf(stderr, "radgal prepare: --compare: %s: %s\n", compare_dir.c_str(),
                   problem.c_str());
      return 1;
    }
    if (!fs::is_regular_file(compare_dir, ec) &&
        !fs::exists(fs::path(compare_dir) / "batches.meta", ec)) {
      std::fprintf(stderr,
                   "radgal prepare: --compare: %s holds no batches.meta (nor a batches/ folder)\n",
                   compare_dir.c_str());
      return 1;
    }
  }
  for (const auto& [option, path] : {std::pair{"--json", json_path}, {"--out", out_path}}) {
    if (path.empty()) continue;
    if (const std::string problem = writable_parent_problem(path, option); !problem.empty()) {
      std::fprintf(stderr, "radgal prepare: %s\n", problem.c_str());
      return 1;
    }
  }

  // 1. prepare every cutout, in parallel
  const std::vector<std::string> files = list_fits_files(fits_dir);
  if (files.empty()) {
    std::fprintf(stderr, "radgal prepare: no FITS files in %s\n", fits_dir.c_str());
    return 1;
  }
  std::printf("radgal prepare: %zu FITS files from %s (%d threads)\n", files.size(),
              fits_dir.c_str(), threads);
  std::vector<Prepared> results(files.size());
  const auto start = std::chrono::steady_clock::now();
  {
    ProgressBar bar("prepare", int64_t(files.size()), "img");
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t i = 0; i < files.size(); ++i) {
      Prepared& r = results[i];
      r.path = files[i];
      r.stem = stem_of(files[i]);
      r.source = parse_source_name(files[i]);
      try {
        reject_special_file(files[i]);  // a named pipe would block the open
        const FitsImage image = read_fits(files[i]);
        PrepareOptions options;
        options.circular_mask = mask;
        options.mask_scale = mask_scale;
        if (r.source) options.source_size_arcsec = r.source->size_arcsec;
        const PreparedImage p = prepare_mirabest_detailed(image, options);
        r.pixels = p.pixels;
        r.invalid = p.invalid_pixels;
      } catch (const std::exception& e) {
        r.error = e.what();
      }
#pragma omp critical(radgal_prepare_progress)
      bar.update();
    }
    bar.finish();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int failed = 0, with_nan = 0;
  for (const Prepared& r : results) {
    if (!r.error.empty()) {
      ++failed;
      std::fprintf(stderr, "radgal prepare: skipped %s\n", r.error.c_str());
    }
    with_nan += r.invalid > 0;
  }
  std::printf("prepared %zu images in %s (%.0f img/s); %d with NaN/inf pixels, %d failed\n",
              files.size() - size_t(failed), format_duration(seconds).c_str(),
              double(files.size()) / std::max(seconds, 1e-9), with_nan, failed);

  nlohmann::json summary = {{"fits_dir", fits_dir}, {"files", files.size()},
                            {"failed", failed},     {"with_invalid_pixels", with_nan},
                            {"seconds", seconds},   {"threads", threads},
                            {"circular_mask", mask}};

  std::vector<std::string> split_of(results.size(), "none");  // release split, when matched
  // 2. comparison with the release batches
  bool target_met = true;
  if (!compare_dir.empty()) {
    // Training batches first, then the test batch: indices from test_start on are test images.
    ImageSet batches = read_batch_dir(compare_dir, "train");
    const size_t test_start = batches.size();
    batches.append(read_batch_dir(compare_dir, "test"));
    std::map<std::string, size_t> by_stem, by_key;
    for (size_t i = 0; i < batches.size(); ++i) {
      const auto s = parse_source_name(batches.filenames[i]);
      if (!s) continue;
      by_stem[s->stem] = i;
      by_key[source_key(*s)] = i;
    }
    std::vector<std::pair<double, std::string>> mads;
    std::vector<bool> batch_matched(batches.size(), false);
    int unmatched = 0;
    for (size_t k = 0; k < results.size(); ++k) {
      const Prepared& r = results[k];
      if (!r.error.empty()) continue;
      // Match by the whole name, else by code and position (the other fields are rounded).
      std::optional<size_t> match;
      if (auto it = by_stem.find(r.stem); it != by_stem.end()) {
        match = it->second;
      } else if (r.source) {
        const auto found = by_key.find(source_key(*r.source));
        if (found != by_key.end()) match = found->second;
      }
      if (!match) {
        ++unmatched;
        if (verbose) std::printf("  no batch image for %s\n", r.stem.c_str());
        continue;
      }
      batch_matched[*match] = true;
      split_of[k] = *match >= test_start ? "test" : "train";
      const uint8_t* ref = batches.image(*match);
      double sum = 0;
      for (size_t p = 0; p < r.pixels.size(); ++p) sum += std::abs(int(r.pixels[p]) - int(ref[p]));
      mads.emplace_back(sum / double(r.pixels.size()), r.stem);
      if (verbose) std::printf("  %-40s %.4f\n", r.stem.c_str(), mads.back().first);
    }
    int batch_only = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
      if (batch_matched[i]) continue;
      ++batch_only;
      if (verbose) std::printf("  no FITS file for %s\n", batches.filenames[i].c_str());
    }
    std::sort(mads.begin(), mads.end());
    std::vector<double> values;
    for (const auto& m : mads) values.push_back(m.first);
    double mean = 0;
    int within = 0;
    for (double v : values) {
      mean += v;
      within += v <= kTargetWithin;
    }
    const size_t n = values.size();
    mean = n ? mean / double(n) : 0;
    const double median = percentile_sorted(values, 0.5);
    const double max = n ? values.back() : 0;
    const double fraction = n ? double(within) / double(n) : 0;
    target_met =
        n > 0 && median < kTargetMedian && fraction >= kTargetFraction && max <= kTargetMax;

    std::printf(
        "compared with %s: %zu matched, %d without a batch image, %d batch images "
        "without a FITS file\n",
        compare_dir.c_str(), n, unmatched, batch_only);
    std::printf("mean absolute difference per image, in grey levels:\n");
    auto verdict = [](bool ok) { return ok ? "ok" : "MISSED"; };
    std::printf("  median      %8.4f   target < %.2f     %s\n", median, kTargetMedian,
                verdict(median < kTargetMedian));
    std::printf("  mean        %8.4f\n", mean);
    std::printf("  max         %8.4f   target <= %.1f     %s\n", max, kTargetMax,
                verdict(max <= kTargetMax));
    std::printf("  within 0.1  %7.2f %%   target >= %.0f %%    %s\n", 100 * fraction,
                100 * kTargetFraction, verdict(fraction >= kTargetFraction));
    std::printf("largest differences:\n");
    nlohmann::json worst = nlohmann::json::array();
    for (size_t k = 0; k < std::min<size_t>(5, n); ++k) {
      const auto& m = mads[n - 1 - k];
      std::printf("  %-40s %.4f\n", m.second.c_str(), m.first);
      worst.push_back({{"name", m.second}, {"mad", m.first}});
    }
    std::printf("target %s\n", target_met ? "met" : "MISSED");
    summary.update({{"compare_dir", compare_dir},
                    {"images", n},
                    {"median_mad", median},
                    {"mean_mad", mean},
                    {"max_mad", max},
                    {"frac_within_0_1", fraction},
                    {"fits_without_batch_image", unmatched},
                    {"batch_images_without_fits", batch_only},
                    {"worst", worst},
                    {"target_met", target_met}});
  }

  // 3. the compact image set, with the release split of every matched image
  if (!out_path.empty()) {
    ImageSet set;
    nlohmann::json splits = nlohmann::json::array();
    set.label_names = {"100", "102", "104", "110", "112", "200", "201", "210", "300", "310"};
    for (size_t k = 0; k < results.size(); ++k) {
      const Prepared& r = results[k];
      if (!r.error.empty()) continue;
      splits.push_back(split_of[k]);
      const std::string code = r.source ? std::to_string(r.source->code) : "unknown";
      auto it = std::find(set.label_names.begin(), set.label_names.end(), code);
      if (it == set.label_names.end()) it = set.label_names.insert(set.label_names.end(), code);
      set.labels.push_back(int(it - set.label_names.begin()));
      set.filenames.push_back(r.stem);
      set.pixels.insert(set.pixels.end(), r.pixels.begin(), r.pixels.end());
    }
    nlohmann::json meta = {{"made_by", "radgal prepare"},
                           {"fits_dir", fits_dir},
                           {"circular_mask", mask},
                           {"mask_scale", mask_scale}};
    if (!compare_dir.empty()) meta["splits"] = splits;  // "train", "test" or "none"
    write_image_set(out_path, set, meta.dump());
    std::printf("wrote %zu images to %s\n", set.size(), out_path.c_str());
    summary["out"] = out_path;
  }

  if (!json_path.empty()) {
    write_text_file(json_path, summary.dump(2) + "\n");
  }
  return failed > 0 || !target_met ? 1 : 0;
}

}  // namespace radgal::tools
