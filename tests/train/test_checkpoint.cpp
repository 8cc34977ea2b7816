// Checkpoint files: a round trip keeps every tensor and setting exactly, a failed write leaves
// the previous file intact, and files that are not checkpoints are refused with a clear message.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "train/checkpoint.h"
#include "trainer_test_util.h"

using radgal::Checkpoint;
using radgal::Tensor;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Checkpoint sample_checkpoint(int64_t weights, float fill) {
  Checkpoint c;
  c.model_config = {{"arch", "agcnn"}, {"gates", 3}};
  c.train_config = {{"epochs", 30}, {"optimizer", {{"lr", 0.0021}}}};
  // A double that is not exact in float and a 64-bit integer above 2^53 must survive.
  c.state = {{"best", 0.1 + 0.2}, {"rng", {uint64_t(18446744073709551557ull), 3}}};
  std::vector<float> w(static_cast<size_t>(weights));
  for (size_t i = 0; i < w.size(); ++i) w[i] = fill + 1e-3f * float(i) + 1e-9f;
  c.model.add("conv1a.weight", Tensor::from_vector(w, {weights}));
  c.model.add("bnorm1a.running_var", Tensor::full({2}, 0.75f));
  c.best_model.add("conv1a.weight", Tensor::full({weights}, fill * 2));
  c.best_model.add("bnorm1a.running_var", Tensor::full({2}, 0.5f));
  c.optimizer.emplace_back("optim.step", Tensor::full({1}, 12.f));
  c.optimizer.emplace_back("optim.0.exp_avg", Tensor::full({weights}, -3.25f));
  return c;
}

void check_same(const radgal::nn::NamedTensors& a, const radgal::nn::NamedTensors& b) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CHECK(a.tensors[i].first == b.tensors[i].first);
    CHECK(a.tensors[i].second.shape() == b.tensors[i].second.shape());
    CHECK(a.tensors[i].second.to_vector() == b.tensors[i].second.to_vector());
  }
}

int temporary_files_in(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("checkpoint: round trip keeps tensors, configuration and state exactly") {
  radgal::test::TempDir dir("checkpoint-roundtrip");
  const std::string path = dir.str("checkpoint.safetensors");
  const Checkpoint written = sample_checkpoint(5, 0.3f);
  radgal::write_checkpoint(path, written);
  const Checkpoint read = radgal::read_checkpoint(path);

  check_same(read.model, written.model);
  check_same(read.best_model, written.best_model);
  REQUIRE(read.optimizer.size() == written.optimizer.size());
  for (size_t i = 0; i < read.optimizer.size(); ++i) {
    CHECK(read.optimizer[i].first == written.optimizer[i].first);
    CHECK(read.optimizer[i].second.to_vector() == written.optimizer[i].second.to_vector());
  }
  CHECK(read.model_config == written.model_config);
  CHECK(read.train_config == written.train_config);
  CHECK(read.state == written.state);
  CHECK(read.state["best"].get<double>() == 0.1 + 0.2);
  CHECK(read.state["rng"][0].get<uint64_t>() == 18446744073709551557ull);
}

TEST_CASE("checkpoint: a write that fails part-way leaves the previous checkpoint intact") {
  radgal::test::TempDir dir("checkpoint-atomic");
  const std::string path = dir.str("checkpoint.safetensors");
  radgal::write_checkpoint(path, sample_checkpoint(4, 1.f));
  const std::string before = read_bytes(path);
  REQUIRE(before.size() > 100);

  // Cap the size of files this process may write below the new checkpoint's size: the kernel
  // fails the write() part-way (EFBIG), as a full disk would.
  rlimit old_limit{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 2048;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  std::string message;
  try {
    radgal::write_checkpoint(path, sample_checkpoint(20000, 2.f));
  } catch (const std::exception& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  CHECK(threw);
  CHECK_MESSAGE(message.find(path) != std::string::npos, message);
  CHECK(read_bytes(path) == before);
  CHECK(temporary_files_in(dir.str()) == 0);
  const Checkpoint still = radgal::read_checkpoint(path);
  CHECK(still.model.tensors[0].second.numel() == 4);
}

TEST_CASE("checkpoint: other files are refused with the reason") {
  radgal::test::TempDir dir("checkpoint-refuse");
  const std::string path = dir.str("model.safetensors");
  radgal::nn::NamedTensors plain;
  plain.add("conv1a.weight", Tensor::ones({2}));
  radgal::nn::write_safetensors(path, plain);
  try {
    radgal::read_checkpoint(path);
    FAIL("a plain safetensors file was accepted as a checkpoint");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("not a radgal checkpoint") != std::string::npos);
  }
  CHECK_THROWS_AS(radgal::read_checkpoint(dir.str("missing.safetensors")), std::runtime_error);
}

TEST_CASE("checkpoint: write_file_atomic replaces content and reports a missing folder") {
  radgal::test::TempDir dir("checkpoint-text");
  const std::string path = dir.str("history.csv");
  radgal::write_file_atomic(path, "a,b\n1,2\n");
  radgal::write_file_atomic(path, "a,b\n3,4\n");
  CHECK(read_bytes(path) == "a,b\n3,4\n");
  CHECK(temporary_files_in(dir.str()) == 0);
  try {
    radgal::write_file_atomic(dir.str("no/such/folder/file.txt"), "x");
    FAIL("writing into a missing folder succeeded");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("no/such/folder/file.txt") != std::string::npos);
  }
}
