// radgal prepare, run in-process on a handful of real cutouts: the comparison with the release,
// the compact image-set output, and broken input.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/batches.h"
#include "data/fits.h"
#include "data/prepare.h"
#include "tests/tools/test_evaluate_support.h"
#include "tools/commands.h"

namespace fs = std::filesystem;

namespace {

const std::string kShared = RADGAL_SHARED_DATA_DIR;

// Two confident FRI, one FRII with NaN edges, one uncertain FRI, one hybrid.
const char* const kCutouts[] = {
    "100_010.451-009.284_0.0529_0080.60.fits.fz", "100_016.236+000.073_0.2797_0058.67.fits.fz",
    "200_035.137+000.468_0.2721_0014.68.fits.fz", "110_345.859-000.360_0.3441_0033.79.fits.fz",
    "310_162.788+010.641_0.1313_0021.56.fits.fz"};

struct Folder {
  fs::path path;
  Folder() {
    path = fs::temp_directory_path() / ("radgal_prepare_test_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path / "fits");
    for (const char* name : kCutouts) {
      fs::create_symlink(kShared + "/mirabest/fits/" + name, path / "fits" / name);
    }
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str(const std::string& name) const { return (path / name).string(); }
};

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("prepare command: a handful of cutouts meet the target against the release") {
  Folder f;
  const int rc = radgal::tools::cmd_prepare(
      {"--fits", f.str("fits"), "--compare", kShared + "/mirabest/batches", "--json",
       f.str("r.json"), "--out", f.str("set.rgis"), "--threads", "2"});
  CHECK(rc == 0);
  const nlohmann::json j = read_json(f.str("r.json"));
  CHECK(j["images"] == 5);
  CHECK(j["failed"] == 0);
  CHECK(j["with_invalid_pixels"] == 2);
  CHECK(j["median_mad"].get<double>() < 0.01);
  CHECK(j["max_mad"].get<double>() <= 0.5);
  CHECK(j["frac_within_0_1"].get<double>() >= 0.99);
  CHECK(j["target_met"] == true);
  // The release has 1256 images; five were compared.
  CHECK(j["batch_images_without_fits"] == 1251);

  // The image set holds the same images prepare_mirabest makes, with labels from the names.
  const radgal::ImageSet set = radgal::read_image_set(f.str("set.rgis"));
  REQUIRE(set.size() == 5);
  for (size_t i = 0; i < set.size(); ++i) {
    const std::string stem = set.filenames[i];
    CAPTURE(stem);
    CHECK(set.label_names[size_t(set.labels[i])] == stem.substr(0, 3));
    const std::vector<uint8_t> expected =
        radgal::prepare_mirabest(radgal::read_fits(f.str("fits/") + stem + ".fits.fz"));
    CHECK(std::equal(expected.begin(), expected.end(), set.image(i)));
  }
  // The release split travels with the images: only the hybrid 310_162.788+010.641 is in
  // test_batch, so the file can stand in for the batch folder.
  const radgal::ImageSet test = radgal::read_batch_dir(f.str("set.rgis"), "test");
  REQUIRE(test.size() == 1);
  CHECK(test.filenames[0] == "310_162.788+010.641_0.1313_0021.56");
  CHECK(radgal::read_batch_dir(f.str("set.rgis"), "train").size() == 4);
  CHECK(radgal::read_batch_dir(f.str("set.rgis"), "all").size() == 5);
}

TEST_CASE("prepare command: broken input and usage errors") {
  Folder f;
  std::ofstream(f.str("fits/200_000.000+000.000_0.1000_0010.00.fits")) << "SIMPLE  =  broken";
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--json", f.str("r.json")}) == 1);
  const nlohmann::json j = read_json(f.str("r.json"));
  CHECK(j["failed"] == 1);
  CHECK(j["files"] == 6);

  // Without --compare the image set records no split.
  fs::remove(f.str("fits/200_000.000+000.000_0.1000_0010.00.fits"));
  REQUIRE(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--out", f.str("s.rgis")}) == 0);
  CHECK(radgal::read_batch_dir(f.str("s.rgis"), "all").size() == 5);
  CHECK_THROWS_WITH(radgal::read_batch_dir(f.str("s.rgis"), "train"),
                    doctest::Contains("records no train/test split"));

  fs::create_directories(f.str("none"));
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("none")}) == 1);
  CHECK(radgal::tools::cmd_prepare({}) == 2);
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--threads", "0"}) == 2);
  for (const char* scale : {"0", "-1", "nan", "inf"}) {
    CAPTURE(scale);
    CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--mask-scale", scale}) == 2);
  }
  CHECK(radgal::tools::cmd_prepare({"--help"}) == 0);
  CHECK_THROWS_WITH(radgal::tools::cmd_prepare({"--fits", f.str("missing")}),
                    doctest::Contains("no such folder"));
  // Output paths are checked before any work: nothing is written when one is bad.
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--out", f.str("o.rgis"), "--json",
                                    f.str("nowhere/r.json")}) == 1);
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--json", f.str("j.json"), "--out",
                                    f.str("nowhere/o.rgis")}) == 1);
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--out", f.str("fits")}) == 1);
  CHECK(radgal::tools::cmd_prepare(
            {"--fits", f.str("fits"), "--json", f.str("j.json"), "--compare", f.str("none")}) == 1);
  CHECK_FALSE(fs::exists(f.str("o.rgis")));
  CHECK_FALSE(fs::exists(f.str("j.json")));
  // The folder holding batches/ stands for it, as in train and evaluate.
  CHECK(radgal::tools::cmd_prepare({"--fits", f.str("fits"), "--compare", kShared + "/mirabest",
                                    "--json", f.str("c.json")}) == 0);
  CHECK(read_json(f.str("c.json"))["images"] == 5);
}

TEST_CASE("prepare command: bad output paths are named as evaluate and predict name them") {
  Folder f;
  auto err_of = [&](const radgal::tools::Args& args) {
    const auto r = radgal::testing::run_captured(radgal::tools::cmd_prepare, args);
    CHECK(r.code == 1);
    return r.err;
  };
  std::string err = err_of({"--fits", f.str("fits"), "--out", f.str("fits")});
  CHECK_MESSAGE(err == "radgal prepare: --out " + f.str("fits") + ": is a folder\n", err);
  err = err_of({"--fits", f.str("fits"), "--json", f.str("nowhere/r.json")});
  CHECK_MESSAGE(err == "radgal prepare: --json " + f.str("nowhere/r.json") + ": the folder " +
                           f.str("nowhere") + " does not exist\n",
                err);
  std::ofstream(f.str("a_file")) << "x";
  err = err_of({"--fits", f.str("fits"), "--out", f.str("a_file/set.rgis")});
  CHECK_MESSAGE(err == "radgal prepare: --out " + f.str("a_file/set.rgis") + ": " +
                           f.str("a_file") + " is not a folder\n",
                err);
}
