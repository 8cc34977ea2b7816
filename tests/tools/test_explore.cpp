// radgal explore, run in-process: the counts of the real releases (data README), a FITS folder
// with a broken file, the bias check on a set built to have a known AUC, and usage errors.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/batches.h"
#include "data/fits.h"
#include "data/image.h"
#include "tests/tools/test_evaluate_support.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace {

const std::string kShared = RADGAL_SHARED_DATA_DIR;

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = fs::temp_directory_path() /
            ("radgal_explore_test_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("explore: MiraBest batches give the README's counts per code and split") {
  TempDir dir("mirabest");
  const int rc = radgal::tools::cmd_explore(
      {"--data", kShared + "/mirabest/batches", "--json", dir.file("r.json"), "--threads", "2"});
  CHECK(rc == 0);
  const nlohmann::json j = read_json(dir.file("r.json"));
  CHECK(j["total"] == 1256);
  CHECK(j["dataset"] == "MiraBest");
  CHECK(j["blank_images"].empty());
  const std::map<std::string, int> all = {{"100", 339}, {"102", 49},  {"104", 9}, {"110", 191},
                                          {"112", 3},   {"200", 432}, {"201", 4}, {"210", 195},
                                          {"300", 19},  {"310", 15}};
  const std::map<std::string, int> test = {{"100", 42}, {"102", 6},  {"104", 1}, {"110", 24},
                                           {"112", 1},  {"200", 54}, {"201", 1}, {"210", 24},
                                           {"300", 2},  {"310", 2}};
  CHECK(j["classes"].get<std::map<std::string, int>>() == all);
  CHECK(j["splits"]["test"].get<std::map<std::string, int>>() == test);
  for (const auto& f : j["release_files"]) CHECK(f["official"] == true);
  // Angular size and redshift come from the file names of every image.
  CHECK(j["features"]["size_arcsec"]["classes"]["FRI"]["n"] == 591);
  CHECK(j["features"]["redshift"]["classes"]["FRII"]["n"] == 631);
  CHECK(j["features"]["size_arcsec"].contains("separation_auc"));
}

TEST_CASE("explore: FRDEEP-F batches hold 600 images") {
  TempDir dir("frdeep");
  REQUIRE(radgal::tools::cmd_explore({"--data", kShared + "/frdeep-f/batches", "--json",
                                      dir.file("r.json"), "--plots", dir.file("plots")}) == 0);
  const nlohmann::json j = read_json(dir.file("r.json"));
  CHECK(j["total"] == 600);
  CHECK(j["classes"]["FRI"] == 264);
  CHECK(j["classes"]["FRII"] == 336);
  CHECK(j["splits"]["test"]["FRI"] == 22);
  // Image 9 of data_batch_11 is all zero.
  REQUIRE(j["blank_images"].size() == 1);
  CHECK(j["blank_images"][0] == "13_FRICAT_FR1_example.png");
  // FRDEEP-F names carry no size or redshift.
  CHECK_FALSE(j["features"].contains("size_arcsec"));
  for (const char* png :
       {"class_counts.png", "samples.png", "bias_auc.png", "hist_pixel_sum.png"}) {
    CAPTURE(png);
    const radgal::GreyImage img = radgal::read_image(dir.file("plots/") + png);
    CHECK(img.width > 100);
  }
}

TEST_CASE("explore: a FITS folder is prepared on the way, a broken file is skipped") {
  TempDir dir("fits");
  fs::create_directories(dir.file("fits"));
  for (const char* name : {"100_010.451-009.284_0.0529_0080.60.fits.fz",
                           "200_035.137+000.468_0.2721_0014.68.fits.fz"}) {
    fs::create_symlink(kShared + "/mirabest/fits/" + name, dir.file("fits/") + name);
  }
  std::ofstream(dir.file("fits/210_000.000+000.000_0.1000_0010.00.fits")) << "not FITS";
  const int rc = radgal::tools::cmd_explore(
      {"--data", dir.file("fits"), "--json", dir.file("r.json"), "--plots", dir.file("plots")});
  CHECK(rc == 0);
  const nlohmann::json j = read_json(dir.file("r.json"));
  CHECK(j["total"] == 2);
  CHECK(j["failed_files"] == 1);
  CHECK(j["classes"]["100"] == 1);
  CHECK(j["classes"]["200"] == 1);
  CHECK(j["features"]["invalid_pixels"]["classes"]["FRII"]["max"] == 69);
  CHECK(j["features"]["noise_mjy"]["classes"]["FRI"]["n"] == 1);
  CHECK(fs::exists(dir.file("plots/samples.png")));
}

TEST_CASE("explore: the bias check finds a feature with a known AUC") {
  // FRI images have k = 1..5 full-scale pixels, FRII images k = 3..7, so the pixel sum is k.
  // Mann-Whitney by hand: FRII beats FRI in 19 of the 25 pairs and ties in 3, so
  // AUC = (19 + 3 / 2) / 25 = 0.82; the best single threshold classifies 7 of 10.
  TempDir dir("bias");
  radgal::ImageSet set;
  set.label_names = {"100", "200"};
  for (int cls = 0; cls < 2; ++cls) {
    for (int k = 1; k <= 5; ++k) {
      std::vector<uint8_t> img(150 * 150, 0);
      const int count = k + 2 * cls;
      for (int p = 0; p < count; ++p) img[size_t(75 * 150 + 70 + p)] = 255;
      set.pixels.insert(set.pixels.end(), img.begin(), img.end());
      set.labels.push_back(cls);
      set.filenames.push_back(std::to_string(cls) + "_" + std::to_string(k));
    }
  }
  radgal::write_image_set(dir.file("s.rgis"), set);
  REQUIRE(radgal::tools::cmd_explore(
              {"--data", dir.file("s.rgis"), "--json", dir.file("r.json")}) == 0);
  const nlohmann::json j = read_json(dir.file("r.json"));
  const auto& f = j["features"]["pixel_sum"];
  CHECK(f["auc_frii_over_fri"].get<double>() == doctest::Approx(0.82));
  CHECK(f["best_threshold_accuracy"].get<double>() == doctest::Approx(0.7));
  CHECK(f["bias_warning"] == true);
  CHECK(j["warnings"].size() >= 1);
  CHECK_FALSE(f.contains("histogram_clipped_at"));
}

TEST_CASE("explore: a heavy-tailed feature's histogram ends at the 99th percentile") {
  // 99 images of 1..5 full-scale pixels and one almost full image: pixel sums 1..5 and 22499.
  // The 99th percentile of the 100 sums (index 98 of the sorted list) is 5.
  TempDir dir("tail");
  radgal::ImageSet set;
  set.label_names = {"100", "200"};
  for (int i = 0; i < 100; ++i) {
    std::vector<uint8_t> img(150 * 150, 0);
    const int count = i == 99 ? 150 * 150 - 1 : 1 + i % 5;
    for (int p = 0; p < count; ++p) img[size_t(p)] = 255;
    set.pixels.insert(set.pixels.end(), img.begin(), img.end());
    set.labels.push_back(i % 2);
    set.filenames.push_back(std::to_string(i));
  }
  radgal::write_image_set(dir.file("s.rgis"), set);
  REQUIRE(radgal::tools::cmd_explore({"--data", dir.file("s.rgis"), "--json", dir.file("r.json"),
                                      "--plots", dir.file("plots")}) == 0);
  const nlohmann::json j = read_json(dir.file("r.json"));
  CHECK(j["features"]["pixel_sum"]["histogram_clipped_at"].get<double>() == doctest::Approx(5));
  CHECK(j["blank_images"].empty());
  CHECK(fs::exists(dir.file("plots/hist_pixel_sum.png")));
}

TEST_CASE("explore: usage errors and missing data") {
  TempDir dir("usage");
  CHECK(radgal::tools::cmd_explore({}) == 2);
  CHECK(radgal::tools::cmd_explore({"--data"}) == 2);
  CHECK(radgal::tools::cmd_explore({"--data", dir.file("x"), "--bogus"}) == 2);
  CHECK(radgal::tools::cmd_explore({"--help"}) == 0);
  CHECK(radgal::tools::cmd_explore({"--data", dir.file("missing")}) == 1);
  fs::create_directories(dir.file("empty"));
  CHECK(radgal::tools::cmd_explore({"--data", dir.file("empty")}) == 1);
  // Output paths are checked before the data are read: nothing is written when one is bad.
  const std::string batches = kShared + "/mirabest/batches";
  CHECK(radgal::tools::cmd_explore({"--data", batches, "--json", dir.file("nowhere/r.json")}) == 1);
  std::ofstream(dir.file("a_file")) << "x";
  CHECK(radgal::tools::cmd_explore({"--data", batches, "--json", dir.file("r.json"), "--plots",
                                    dir.file("a_file/plots")}) == 1);
  CHECK_FALSE(fs::exists(dir.file("r.json")));
}

TEST_CASE("explore: bad output paths are named as evaluate and predict name them") {
  TempDir dir("output-words");
  const std::string batches = kShared + "/mirabest/batches";
  auto err_of = [&](const radgal::tools::Args& args) {
    const auto r = radgal::testing::run_captured(radgal::tools::cmd_explore, args);
    CHECK(r.code == 1);
    return r.err;
  };
  std::string err = err_of({"--data", batches, "--json", dir.file("nowhere/r.json")});
  CHECK_MESSAGE(err == "radgal explore: --json " + dir.file("nowhere/r.json") + ": the folder " +
                           dir.file("nowhere") + " does not exist\n",
                err);
  std::ofstream(dir.file("a_file")) << "x";
  err = err_of({"--data", batches, "--json", dir.file("a_file/r.json")});
  CHECK_MESSAGE(err == "radgal explore: --json " + dir.file("a_file/r.json") + ": " +
                           dir.file("a_file") + " is not a folder\n",
                err);
  fs::create_directories(dir.file("folder"));
  err = err_of({"--data", batches, "--json", dir.file("folder")});
  CHECK_MESSAGE(err == "radgal explore: --json " + dir.file("folder") + ": is a folder\n", err);
  err = err_of({"--data", batches, "--plots", dir.file("a_file/plots")});
  CHECK_MESSAGE(err.rfind("radgal explore: --plots " + dir.file("a_file/plots") +
                              ": cannot create the folder",
                          0) == 0,
                err);
}
