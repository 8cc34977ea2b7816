// Inputs that are not regular files. Opening a named pipe for reading blocks until a writer
// appears, so a command handed one (by mistake, or inside a data folder) would wait forever: every
// command must refuse it with "<path>: not a regular file" before opening it, and refuse a folder
// given where a file is expected the same way. The pipes here are watched (WatchedFifo), so a
// command that does open one fails the test instead of hanging it.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "data/image.h"
#include "tests/tools/test_evaluate_support.h"
#include "tools/commands.h"

namespace fs = std::filesystem;
using radgal::testing::run_captured;
using radgal::testing::shared_data;
using radgal::testing::TempDir;
using radgal::testing::WatchedFifo;

namespace {

const std::string kWeights = "reference/agcnn_mirabest_confident.weights.safetensors";

template <typename Command>
std::string error_of(Command command, const radgal::tools::Args& args) {
  try {
    const auto r = run_captured(command, args);
    return "(no exception; exit code " + std::to_string(r.code) + ", stderr: " + r.err + ")";
  } catch (const std::exception& e) {
    return e.what();
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A batch folder of links to the MiraBest release files, except `pipe_name`, which is left out
// for the caller to make as a pipe.
void link_mirabest_batches(const std::string& folder, const std::string& pipe_name) {
  fs::create_directories(folder);
  for (const auto& entry : fs::directory_iterator(shared_data("mirabest/batches"))) {
    const std::string name = entry.path().filename().string();
    if (name != pipe_name) fs::create_symlink(entry.path(), fs::path(folder) / name);
  }
}

}  // namespace

TEST_CASE("inputs: predict refuses a named pipe or a folder among its files, classifies the rest") {
  TempDir dir;
  WatchedFifo pipe(dir.file("pipe.png"));
  const std::string folder = dir.file("folder.png");
  fs::create_directory(folder);
  const std::string good = dir.file("ramp.png");
  std::vector<uint8_t> pixels(150 * 150);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i % 251);
  radgal::write_grey_png(good, pixels.data(), 150, 150);

  const auto r = run_captured(radgal::tools::cmd_predict,
                              {"--model", shared_data(kWeights), pipe.path(), folder, good,
                               "--threads", "1", "--json", dir.file("p.json")});
  CHECK(r.code == 1);
  CHECK_FALSE(pipe.opened());
  CHECK_MESSAGE(contains(r.err, pipe.path() + ": not a regular file"), r.err);
  CHECK_MESSAGE(contains(r.err, folder + ": not a regular file"), r.err);
  CHECK(contains(r.out, good));
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(dir.file("p.json")));
  CHECK(j["predictions"].size() == 1);
  CHECK(j["errors"].size() == 2);

  // A pipe given as the model.
  WatchedFifo model(dir.file("model.safetensors"));
  CHECK(contains(error_of(radgal::tools::cmd_predict, {"--model", model.path(), good}),
                 model.path() + ": is not a regular file"));
  CHECK_FALSE(model.opened());
}

TEST_CASE("inputs: evaluate and train refuse a named pipe as the model or in the batch folder") {
  TempDir dir;
  WatchedFifo weights(dir.file("weights.safetensors"));
  std::string message = error_of(radgal::tools::cmd_evaluate,
                                 {"--weights", weights.path(), "--data",
                                  shared_data("mirabest/batches"), "--subset", "confident"});
  CHECK_MESSAGE(contains(message, weights.path() + ": is not a regular file"), message);
  CHECK_FALSE(weights.opened());

  // evaluate reads the test batch.
  link_mirabest_batches(dir.file("test_pipe"), "test_batch");
  WatchedFifo test_batch(dir.file("test_pipe/test_batch"));
  message = error_of(radgal::tools::cmd_evaluate,
                     {"--weights", shared_data(kWeights), "--data", dir.file("test_pipe")});
  CHECK_MESSAGE(contains(message, test_batch.path() + ": not a regular file"), message);
  CHECK_FALSE(test_batch.opened());

  // train reads the training batches.
  link_mirabest_batches(dir.file("train_pipe"), "data_batch_3");
  WatchedFifo train_batch(dir.file("train_pipe/data_batch_3"));
  message = error_of(radgal::tools::cmd_train, {"--data", dir.file("train_pipe"), "--out",
                                                dir.file("run"), "--threads", "1"});
  CHECK_MESSAGE(contains(message, train_batch.path() + ": not a regular file"), message);
  CHECK_FALSE(train_batch.opened());
}

TEST_CASE("inputs: prepare and explore skip a named pipe in a FITS folder, explore refuses one") {
  TempDir dir;
  fs::create_directory(dir.file("fits"));
  const std::string cutout = "100_010.451-009.284_0.0529_0080.60.fits.fz";
  fs::create_symlink(shared_data("mirabest/fits/" + cutout), dir.file("fits/" + cutout));
  WatchedFifo pipe(dir.file("fits/200_000.000+000.000_0.1000_0010.00.fits"));

  auto r = run_captured(radgal::tools::cmd_prepare, {"--fits", dir.file("fits"), "--threads", "1",
                                                     "--json", dir.file("prepare.json")});
  CHECK(r.code == 1);  // one file could not be prepared
  CHECK_MESSAGE(contains(r.err, "skipped " + pipe.path() + ": not a regular file"), r.err);
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(dir.file("prepare.json")));
  CHECK(j["files"] == 2);
  CHECK(j["failed"] == 1);

  r = run_captured(radgal::tools::cmd_explore, {"--data", dir.file("fits"), "--threads", "1"});
  CHECK(r.code == 0);
  CHECK_MESSAGE(contains(r.err, "skipped " + pipe.path() + ": not a regular file"), r.err);

  // Given as the data itself (where an image-set file or a folder is expected).
  r = run_captured(radgal::tools::cmd_explore, {"--data", pipe.path()});
  CHECK(r.code == 1);
  CHECK_MESSAGE(contains(r.err, pipe.path() + ": not a regular file"), r.err);
  CHECK_FALSE(pipe.opened());
}
