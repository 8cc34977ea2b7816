// `radgal predict`: classifies FITS cutouts and PNG/JPEG images with a trained model, prints one
// line per file, and optionally writes attention-map figures (the overlay under a title naming the
// file, class and probability, beside a colour bar of the attention values) and a JSON report.
//
// Raw FITS cutouts go through the MiraBest preparation (data/prepare.h: noise clip, central crop,
// min-max scale to 0-255); PNG and JPEG files must already be prepared images of the model's
// size (150 x 150). The file type comes from the file's first bytes, not its name.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/fits.h"
#include "data/image.h"
#include "data/prepare.h"
#include "nn/models.h"
#include "tools/cli_support.h"
#include "tools/commands.h"
#include "tools/inference.h"
#include "tools/input_paths.h"
#include "tools/output_paths.h"
#include "tools/plot.h"
#include "train/progress.h"

namespace radgal::tools {

namespace {

namespace fs = std::filesystem;

enum class FileKind { fits, picture, unknown };

FileKind sniff(const std::string& path) {
  reject_special_file(path);  // a named pipe would block the open below
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open the file");
  char head[9] = {};
  in.read(head, 8);
  const std::string h(head, static_cast<size_t>(in.gcount()));
  if (h.rfind("SIMPLE  ", 0) == 0) return FileKind::fits;
  if (h.size() >= 2 && static_cast<uint8_t>(h[0]) == 0x1f && static_cast<uint8_t>(h[1]) == 0x8b) {
    return FileKind::fits;  // gzip: CFITSIO reads .fits.gz transparently
  }
  if (h.rfind("\x89PNG", 0) == 0) return FileKind::picture;
  if (h.size() >= 3 && static_cast<uint8_t>(h[0]) == 0xff && static_cast<uint8_t>(h[1]) == 0xd8 &&
      static_cast<uint8_t>(h[2]) == 0xff) {
    return FileKind::picture;
  }
  return FileKind::unknown;
}

// The model input for one file, as grey levels 0-255 of size x size.
std::vector<float> read_input(const std::string& path, int64_t size) {
  switch (sniff(path)) {
    case FileKind::fits: {
      const FitsImage fits = read_fits(path);
      if (fits.width < size || fits.height < size) {
        throw std::runtime_error("FITS image is " + std::to_string(fits.width) + "x" +
                                 std::to_string(fits.height) + ", smaller than the " +
                                 std::to_string(size) + "x" + std::to_string(size) +
                                 " crop the model needs");
      }
      PrepareOptions options;
      options.crop = size;
      const std::vector<uint8_t> prepared = prepare_mirabest(fits, options);
      return std::vector<float>(prepared.begin(), prepared.end());
    }
    case FileKind::picture: {
      GreyImage image = read_image(path);
      if (image.width != size || image.height != size) {
        throw std::runtime_error("image is " + std::to_string(image.width) + "x" +
                                 std::to_string(image.height) + ", the model expects " +
                                 std::to_string(size) + "x" + std::to_string(size) +
                                 " (prepare raw cutouts with radgal prepare, or give the FITS)");
      }
      return std::move(image.pixels);
    }
    case FileKind::unknown:
      break;
  }
  throw std::runtime_error("not a FITS, PNG or JPEG file");
}

// Every pixel equal after preparation (an all-zero PNG, an all-NaN or constant FITS): the model
// would still output a confident class, so such an input is refused instead.
void require_not_blank(const std::vector<float>& pixels) {
  if (pixels.empty() ||
      std::all_of(pixels.begin(), pixels.end(), [&](float v) { return v == pixels[0]; })) {
    throw std::runtime_error("blank image: no pixel above the noise, nothing to classify");
  }
}

// "<path>: <problem>" once: drops the reader's "read_image: <path>: " style prefix, and says what
// an empty decoder reason means.
std::string tidy_error(const std::string& path, std::string what) {
  const std::vector<std::string> prefixes = {"read_image: ", "read_fits: ", path + ": "};
  for (const std::string& prefix : prefixes) {
    if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
  }
  const std::string empty_reason = " ()";
  if (what.size() >= empty_reason.size() &&
      what.compare(what.size() - empty_reason.size(), empty_reason.size(), empty_reason) == 0) {
    what.resize(what.size() - empty_reason.size());
    what += ": corrupt or unsupported image data";
  }
  return path + ": " + what;
}

// "dir/100_a.fits.fz" -> "100_a"
std::string stem_of(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  for (const char* ext : {".fz", ".gz", ".fits", ".fit", ".fts", ".png", ".jpg", ".jpeg"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      name.resize(name.size() - e.size());
    }
  }
  return name;
}

}  // namespace

int cmd_predict(const Args& args) {
  CLI::App app{
      "Classify radio-galaxy images as FRI or FRII: FITS cutouts (prepared the MiraBest "
      "way) or prepared 150x150 PNG/JPEG images.",
      "predict"};
  std::string model_path, maps_dir, json_path;
  std::vector<std::string> files;
  int threads = 0;
  // One image at a time is the fastest on a CPU (its activations stay in cache) and the leanest
  // (about 50 MB peak; each further image in a batch adds about 35 MB).
  int64_t batch = 1;
  bool verbose_flag = false;
  app.add_option("--model", model_path, "run directory or model .safetensors file")->required();
  app.add_option("files", files, "FITS, PNG or JPEG files")->required();
  app.add_option("--maps", maps_dir, "write an attention overlay PNG per image into this folder");
  app.add_option("--json", json_path, "write the predictions as JSON to this file");
  app.add_option("--batch", batch, "images per forward pass")->check(CLI::Range(1, 4096));
  app.add_option("--threads", threads, "CPU threads (default: all)")->check(CLI::Range(1, 1024));
  app.add_flag("--verbose", verbose_flag, "report timing on stderr");
  if (auto code = parse_command_line(app, args)) return *code;
  if (verbose_flag) set_verbose(true);
  if (threads > 0) omp_set_num_threads(threads);

  const nn::LoadedModel loaded = nn::load_model(model_path);
  const bool want_maps = !maps_dir.empty();
  if (want_maps && (loaded.config.arch != "agcnn" || loaded.config.gates == 0)) {
    throw std::runtime_error("--maps: the " + loaded.config.describe() +
                             " model has no attention gates");
  }
  // Output paths are checked before the work, so a bad path fails at once and leaves nothing.
  if (want_maps) require_writable_dir(maps_dir, "--maps");
  if (!json_path.empty()) require_writable_parent(json_path, "--json");
  const int64_t size = loaded.config.image_size;
  const auto start = std::chrono::steady_clock::now();

  // Read every file; a file that cannot be used is reported and skipped, the rest still run.
  std::vector<std::string> good;
  std::vector<float> grey;
  nlohmann::json errors = nlohmann::json::array();
  for (const std::string& f : files) {
    try {
      const std::vector<float> pixels = read_input(f, size);
      require_not_blank(pixels);
      grey.insert(grey.end(), pixels.begin(), pixels.end());
      good.push_back(f);
    } catch (const std::exception& e) {
      const std::string message = tidy_error(f, e.what());
      std::fprintf(stderr, "radgal predict: error: %s\n", message.c_str());
      errors.push_back({{"file", f}, {"error", message}});
    }
  }

  InferenceOptions options;
  options.batch_size = batch;
  options.keep_attention = want_maps;
  if (good.size() > 1) options.progress_label = "predict";
  const InferenceResult result = run_inference(
      *loaded.model, grey.data(), static_cast<int64_t>(good.size()), size, size, options);

  std::map<std::string, int> stems_used;
  nlohmann::json predictions = nlohmann::json::array();
  if (!good.empty()) std::printf("class  p(class)  p(FRII)  file\n");
  for (size_t i = 0; i < good.size(); ++i) {
    const bool frii = result.p_frii[i] > result.p_fri[i];
    const float winner = frii ? result.p_frii[i] : result.p_fri[i];
    std::printf("%-5s  %8.4f  %7.4f  %s\n", frii ? "FRII" : "FRI", winner, result.p_frii[i],
                good[i].c_str());
    nlohmann::json entry = {{"file", good[i]},
                            {"class", frii ? "FRII" : "FRI"},
                            {"p_fri", result.p_fri[i]},
                            {"p_frii", result.p_frii[i]}};
    if (want_maps) {
      std::string stem = stem_of(good[i]);
      const int seen = stems_used[stem]++;
      if (seen > 0) stem += "_" + std::to_string(seen + 1);
      const std::string out = (fs::path(maps_dir) / (stem + ".attention.png")).string();
      // One map that cannot be written (a name too long, a full disk) is that file's error; the
      // other files still get theirs.
      char title[64];
      std::snprintf(title, sizeof title, ": %s, p = %.4f", frii ? "FRII" : "FRI", winner);
      try {
        attention_figure(grey.data() + i * size * size, size, size, result.attention[i],
                         result.attention_sizes, fs::path(good[i]).filename().string() + title)
            .write_png(out);
        entry["map"] = out;
      } catch (const std::exception& e) {
        const std::string message = good[i] + ": cannot write its map: " + e.what();
        std::fprintf(stderr, "radgal predict: error: %s\n", message.c_str());
        errors.push_back({{"file", good[i]}, {"error", message}});
      }
    }
    predictions.push_back(entry);
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (verbose()) {
    std::fprintf(stderr, "predict: %zu files in %s (%.1f img/s, %d threads)\n", good.size(),
                 format_duration(seconds).c_str(), good.size() / seconds, omp_get_max_threads());
  }
  if (!json_path.empty()) {
    nlohmann::json j = {{"model", {{"path", loaded.path}, {"config", loaded.config.to_json()}}},
                        {"predictions", predictions},
                        {"errors", errors}};
    write_text_file(json_path, j.dump(2) + "\n");
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace radgal::tools
