// `radgal predict`, run in-process: PNG files of the published test images give the published
// probabilities, a raw FITS cutout is prepared and classified, overlays are written, and bad
// inputs and bad model files are reported clearly.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "data/batches.h"
#include "data/image.h"
#include "data/subsets.h"
#include "nn/models.h"
#include "nn/safetensors.h"
#include "tests/tools/test_evaluate_support.h"
#include "tools/commands.h"

using radgal::testing::run_captured;
using radgal::testing::shared_data;
using radgal::testing::TempDir;

namespace {

const std::string kWeights = "reference/agcnn_mirabest_confident.weights.safetensors";

}  // namespace

TEST_CASE("predict: PNG copies of the test images give the published probabilities") {
  TempDir dir;
  const radgal::LabeledSet set = radgal::select_subset(
      radgal::read_batch_dir(shared_data("mirabest/batches"), "test"), radgal::Subset::confident);
  const radgal::nn::NamedTensors ref = radgal::nn::read_safetensors(
      shared_data("reference/agcnn_mirabest_confident.outputs.safetensors"));
  const std::vector<float> published = ref.find("probabilities")->to_vector();

  // Images 0-2 (FRI; the model calls #2 FRII) and 60-62 (FRII).
  const std::vector<size_t> picked = {0, 1, 2, 60, 61, 62};
  radgal::tools::Args args = {"--model", shared_data(kWeights), "--json", dir.file("p.json"),
                              "--maps",  dir.file("maps")};
  for (size_t i : picked) {
    const std::string path = dir.file("image" + std::to_string(i) + ".png");
    radgal::write_grey_png(path, set.images.image(i), 150, 150);
    args.push_back(path);
  }
  const auto r = run_captured(radgal::tools::cmd_predict, args);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("class  p(class)  p(FRII)  file") == 0);

  std::ifstream in(dir.file("p.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  REQUIRE(j["predictions"].size() == picked.size());
  CHECK(j["errors"].empty());
  for (size_t k = 0; k < picked.size(); ++k) {
    const nlohmann::json& p = j["predictions"][k];
    const size_t i = picked[k];
    CAPTURE(i);
    CHECK(std::abs(p["p_frii"].get<double>() - published[2 * i + 1]) < 1e-4);
    CHECK(p["class"] == (published[2 * i + 1] > published[2 * i] ? "FRII" : "FRI"));
    // The overlay figure: the 150 x 150 overlay magnified twice, a title band above it and a
    // colour bar to its right (tools/inference.h: 2 w + 120 by 2 h + 54 pixels).
    const radgal::GreyImage figure = radgal::read_image(p["map"].get<std::string>());
    CHECK(figure.width == 420);
    CHECK(figure.height == 354);
    CHECK(figure.channels == 3);
  }
}

TEST_CASE("predict: attention figures carry a title and a colour bar beside the overlay") {
  TempDir dir;
  const radgal::LabeledSet set = radgal::select_subset(
      radgal::read_batch_dir(shared_data("mirabest/batches"), "test"), radgal::Subset::confident);
  const std::string image = dir.file("frii_source.png");
  radgal::write_grey_png(image, set.images.image(60), 150, 150);
  const auto r = run_captured(
      radgal::tools::cmd_predict,
      {"--model", shared_data(kWeights), image, "--maps", dir.file("maps"), "--threads", "1"});
  REQUIRE(r.code == 0);
  const radgal::GreyImage figure = radgal::read_image(dir.file("maps/frii_source.attention.png"));
  // Larger than the bare 150 x 150 overlay, and still a plain 8-bit RGB PNG.
  REQUIRE(figure.width == 420);
  REQUIRE(figure.height == 354);
  CHECK(figure.channels == 3);
  CHECK(figure.bits == 8);
  auto at = [&](int64_t x, int64_t y) { return figure.pixels[size_t(y * figure.width + x)]; };
  // The title band above the image holds dark text on white.
  int dark_in_title = 0;
  for (int64_t y = 0; y < 44; ++y) {
    for (int64_t x = 0; x < figure.width; ++x) dark_in_title += at(x, y) < 100;
  }
  CHECK(dark_in_title > 50);
  // The colour bar (magma, low at the bottom) brightens from bottom to top.
  const int64_t bar_x = 10 + 300 + 10 + 9;
  CHECK(at(bar_x, 44 + 290) < 40);
  CHECK(at(bar_x, 44 + 5) > 180);
  CHECK(at(bar_x, 44 + 100) > at(bar_x, 44 + 200));
}

TEST_CASE("predict: a raw FITS cutout is prepared and classified, bad files are reported") {
  TempDir dir;
  // A confident FRI (label 100); its batch image is classified FRI with p(FRII) < 1e-6.
  const std::string fits = shared_data("mirabest/fits/100_010.451-009.284_0.0529_0080.60.fits.fz");
  const std::string small = dir.file("small.png");
  std::vector<uint8_t> pixels(64 * 64, 0);
  radgal::write_grey_png(small, pixels.data(), 64, 64);
  const std::string text = dir.file("notes.png");
  std::ofstream(text) << "not an image";

  const auto r = run_captured(radgal::tools::cmd_predict,
                              {"--model", shared_data(kWeights), fits, small, text,
                               dir.file("missing.fits"), "--json", dir.file("p.json")});
  CHECK(r.code == 1);  // some files failed; the others were still classified
  CHECK(r.out.find("FRI ") != std::string::npos);
  CHECK(r.err.find(small + ": image is 64x64, the model expects 150x150") != std::string::npos);
  CHECK(r.err.find(text + ": not a FITS, PNG or JPEG file") != std::string::npos);
  CHECK(r.err.find(dir.file("missing.fits") + ": cannot open the file") != std::string::npos);
  std::ifstream in(dir.file("p.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  REQUIRE(j["predictions"].size() == 1);
  CHECK(j["predictions"][0]["class"] == "FRI");
  CHECK(j["predictions"][0]["p_frii"].get<double>() < 0.01);
  CHECK(j["errors"].size() == 3);
}

TEST_CASE("predict: wrong model files and options are refused clearly") {
  TempDir dir;
  const std::string image = dir.file("ramp.png");
  std::vector<uint8_t> pixels(150 * 150);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i % 251);
  radgal::write_grey_png(image, pixels.data(), 150, 150);

  // Truncated model.
  const std::string cut = dir.file("cut.safetensors");
  std::filesystem::copy_file(shared_data(kWeights), cut);
  std::filesystem::resize_file(cut, 4096);
  CHECK_THROWS_WITH_AS(run_captured(radgal::tools::cmd_predict, {"--model", cut, image}),
                       doctest::Contains((cut + ": not a safetensors file or truncated").c_str()),
                       std::runtime_error);

  // A run directory without a model.
  CHECK_THROWS_WITH_AS(
      run_captured(radgal::tools::cmd_predict, {"--model", dir.path.string() + "/", image}),
      doctest::Contains("not a run directory"), std::runtime_error);

  // Overlays need attention gates.
  radgal::nn::ModelConfig cnn;
  cnn.arch = "cnn";
  radgal::Generator init(2);
  const std::string cnn_path = dir.file("cnn.safetensors");
  radgal::nn::save_model(cnn_path, *radgal::nn::make_model(cnn, init));
  CHECK_THROWS_WITH_AS(run_captured(radgal::tools::cmd_predict,
                                    {"--model", cnn_path, image, "--maps", dir.file("maps")}),
                       doctest::Contains("--maps: the cnn model has no attention gates"),
                       std::runtime_error);
  // Without --maps the gate-less model classifies.
  const auto r = run_captured(radgal::tools::cmd_predict, {"--model", cnn_path, image});
  CHECK(r.code == 0);

  const auto usage = run_captured(radgal::tools::cmd_predict, {image});
  CHECK(usage.code == 2);
  CHECK(usage.err.find("--model is required") != std::string::npos);
}

TEST_CASE("predict: blank images, undecodable images and unwritable maps are per-file errors") {
  TempDir dir;
  const radgal::LabeledSet set = radgal::select_subset(
      radgal::read_batch_dir(shared_data("mirabest/batches"), "test"), radgal::Subset::confident);
  const std::string good = dir.file("good.png");
  radgal::write_grey_png(good, set.images.image(0), 150, 150);
  const std::string blank = dir.file("blank.png");
  std::vector<uint8_t> zeros(150 * 150, 0);
  radgal::write_grey_png(blank, zeros.data(), 150, 150);
  // A PNG signature followed by garbage.
  const std::string corrupt = dir.file("corrupt.png");
  std::ofstream(corrupt, std::ios::binary) << "\x89PNG\r\n\x1a\n" << std::string(200, 'x');
  // A 245-byte input name: its map name (stem + ".attention.png") is exactly 255 bytes, the limit.
  const std::string longest = dir.file(std::string(241, 'a') + ".png");
  radgal::write_grey_png(longest, set.images.image(1), 150, 150);
  // A 254-byte input name whose map name would be 264 bytes: that map alone fails.
  const std::string too_long = dir.file(std::string(250, 'b') + ".png");
  radgal::write_grey_png(too_long, set.images.image(2), 150, 150);

  const auto r = run_captured(radgal::tools::cmd_predict,
                              {"--model", shared_data(kWeights), blank, good, corrupt, longest,
                               too_long, "--maps", dir.file("maps"), "--json", dir.file("p.json")});
  CHECK(r.code == 1);
  CHECK(r.err.find("radgal predict: error: " + blank +
                   ": blank image: no pixel above the noise, nothing to classify\n") !=
        std::string::npos);
  CHECK(r.err.find("read_image") == std::string::npos);
  CHECK(r.err.find("()") == std::string::npos);
  CHECK(r.err.find(corrupt + ": ") != std::string::npos);
  CHECK(r.err.find(corrupt + ": " + corrupt) == std::string::npos);
  CHECK(r.err.find(too_long + ": cannot write its map") != std::string::npos);
  CHECK(r.out.find(blank) == std::string::npos);
  CHECK(r.out.find(good) != std::string::npos);
  CHECK(r.out.find(longest) != std::string::npos);
  CHECK(std::filesystem::exists(dir.file("maps/good.attention.png")));
  CHECK(std::filesystem::exists(dir.file("maps/" + std::string(241, 'a') + ".attention.png")));
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(dir.file("p.json")));
  CHECK(j["errors"].size() == 3);
  // No temporary files are left behind.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("maps"))) {
    CHECK(e.path().filename().string().rfind(".rgtmp", 0) != 0);
    ++entries;
  }
  CHECK(entries == 2);
}

TEST_CASE("predict: bad output paths fail before any work") {
  TempDir dir;
  const std::string model = shared_data(kWeights);
  const std::string image = dir.file("missing.png");  // never read: the paths fail first
  CHECK_THROWS_WITH_AS(
      run_captured(radgal::tools::cmd_predict,
                   {"--model", model, image, "--json", dir.file("no/such/folder/p.json")}),
      doctest::Contains("does not exist"), std::runtime_error);
  std::ofstream(dir.file("file")) << "in the way";
  CHECK_THROWS_WITH_AS(
      run_captured(radgal::tools::cmd_predict,
                   {"--model", model, image, "--maps", dir.file("file/maps")}),
      doctest::Contains(("--maps " + dir.file("file/maps") + ": cannot create").c_str()),
      std::runtime_error);
}
