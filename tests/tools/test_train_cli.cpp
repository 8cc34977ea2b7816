// `radgal train` and `radgal demo` end to end, in-process: usage errors (the seed check is shared
// with evaluate), a two-epoch run on a few real MiraBest images that writes a complete run
// directory, and the guards around --resume.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "nn/models.h"
#include "tensor/random.h"
#include "tests/tools/test_evaluate_support.h"
#include "tools/commands.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;
using radgal::tools::Args;

namespace {

struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& name) {
    radgal::Generator g(uint64_t(reinterpret_cast<uintptr_t>(this)));
    path = fs::temp_directory_path() /
           ("radgal-cli-" + name + "-" + std::to_string(g.next_u64() % 1000000007ull));
    fs::remove_all(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const std::string kMiraBest = std::string(RADGAL_SHARED_DATA_DIR) + "/mirabest";

Args tiny_run(const std::string& out, const std::string& epochs) {
  return {"--data", kMiraBest, "--limit", "24", "--val-fraction", "0.25", "--epochs", epochs,
          "--batch", "8", "--threads", "1", "--seed", "3", "--out", out};
}

}  // namespace

TEST_CASE("train cli: usage errors return 2, bad data throws naming the folder") {
  CHECK(radgal::tools::cmd_train({}) == 2);
  CHECK(radgal::tools::cmd_train({"--out", "x", "--optimizer", "rmsprop"}) == 2);
  CHECK(radgal::tools::cmd_train({"--help"}) == 0);
  ScratchDir dir("bad-data");
  try {
    radgal::tools::cmd_train({"--data", "/nonexistent/folder", "--out", dir.path.string()});
    FAIL("a missing data folder was accepted");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/folder") != std::string::npos);
  }
}

TEST_CASE("seed options: negative, signed and out-of-range seeds are usage errors") {
  using radgal::testing::run_captured;
  // CLI11 reads unsigned options with strtoull, which wraps "-1" to 18446744073709551615.
  const std::string refused[] = {
      "-1", "-0", "+5", " 5", "1.5", "0x10", "18446744073709551616", "99999999999999999999"};
  for (const std::string& seed : refused) {
    CAPTURE(seed);
    auto r = run_captured(radgal::tools::cmd_train, {"--seed", seed, "--out", "x"});
    CHECK(r.code == 2);
    const std::string expected =
        "--seed: must be a whole number from 0 to 18446744073709551615, got " + seed;
    CHECK_MESSAGE(r.err.find(expected) != std::string::npos, r.err);
    CHECK(run_captured(radgal::tools::cmd_train, {"--seed=" + seed, "--out", "x"}).code == 2);
    CHECK(run_captured(radgal::tools::cmd_evaluate, {"--seed", seed, "run"}).code == 2);
    CHECK(run_captured(radgal::tools::cmd_demo, {"--seed", seed, "--images", "32", "--epochs",
                                                 "1", "--threads", "1"})
              .code == 2);
  }
  // The whole range is accepted (the run then fails on its missing data, after parsing).
  const std::string accepted[] = {"0", "18446744073709551615"};
  for (const std::string& seed : accepted) {
    CAPTURE(seed);
    CHECK_THROWS_WITH(run_captured(radgal::tools::cmd_train,
                                   {"--seed", seed, "--data", "/nonexistent", "--out", "x"}),
                      doctest::Contains("/nonexistent: not a batch folder"));
  }
  // Leading zeros are decimal, not octal: seed 010 is seed 10.
  const auto r = run_captured(radgal::tools::cmd_evaluate,
                              {"--weights",
                               radgal::testing::shared_data(
                                   "reference/agcnn_frdeep_f.weights.safetensors"),
                               "--data", radgal::testing::shared_data("frdeep-f"), "--tta", "1",
                               "--seed", "010", "--threads", "1"});
  REQUIRE(r.code == 0);
  CHECK_MESSAGE(r.out.find("augmented (seed 10, bilinear resampling)") != std::string::npos, r.out);
}

TEST_CASE("train cli: a short real run writes the run directory, resume guards hold") {
  ScratchDir dir("run");
  const std::string out = dir.path.string();
  REQUIRE(radgal::tools::cmd_train(tiny_run(out, "2")) == 0);

  for (const char* file : {"model.safetensors", "checkpoint.safetensors", "config.json",
                           "history.csv"}) {
    CHECK_MESSAGE(fs::exists(dir.path / file), file);
  }
  std::ifstream in(dir.path / "config.json");
  const nlohmann::json config = nlohmann::json::parse(in);
  CHECK(config["data"]["subset"] == "confident");
  CHECK(config["data"]["limit"] == 24);
  CHECK(radgal::read_checkpoint(out + "/checkpoint.safetensors").state["history"].size() == 2);
  CHECK(config["seed"] == 3);
  CHECK(config["model"]["arch"] == "agcnn");

  // The model file loads as what evaluate and predict read.
  const radgal::nn::LoadedModel loaded = radgal::nn::load_model(out);
  CHECK(!loaded.published);
  CHECK(loaded.config.norm == "softmax");
  const radgal::Checkpoint c = radgal::read_checkpoint(out + "/checkpoint.safetensors");
  CHECK(c.state["epochs_done"] == 2);

  // Starting over in the same folder would overwrite the run: refused.
  CHECK_THROWS_AS(radgal::tools::cmd_train(tiny_run(out, "2")), std::runtime_error);
  // Resuming with another epoch count would not continue the same schedule: refused by name.
  Args longer = tiny_run(out, "3");
  longer.push_back("--resume");
  try {
    radgal::tools::cmd_train(longer);
    FAIL("a resume with other settings was accepted");
  } catch (const std::runtime_error& e) {
    CHECK_MESSAGE(std::string(e.what()).find("/epochs") != std::string::npos, e.what());
  }
  // The validation split evaluate rebuilds is the run's own: 6 of the 24 images --limit kept.
  const auto val = radgal::testing::run_captured(
      radgal::tools::cmd_evaluate, {out, "--split", "val", "--threads", "1"});
  CHECK(val.code == 0);
  CHECK_MESSAGE(val.out.find("val split, 6 images") != std::string::npos, val.out);
  // Resuming a finished run with the settings left out takes them from the checkpoint.
  CHECK(radgal::tools::cmd_train({"--out", out, "--resume", "--threads", "1"}) == 0);
}

TEST_CASE("train cli: without a validation set the last epoch is kept and said so") {
  ScratchDir dir("no-val");
  Args args = tiny_run(dir.path.string(), "2");
  args[5] = "0";  // --val-fraction
  REQUIRE(args[4] == "--val-fraction");
  args.insert(args.end(), {"--ema", "0.9"});
  const auto r = radgal::testing::run_captured(radgal::tools::cmd_train, args);
  CHECK(r.code == 0);
  INFO(r.out);
  CHECK(r.out.find("kept      epoch 2, the last (no validation set to choose by)") !=
        std::string::npos);
  CHECK(r.out.find("nan") == std::string::npos);
  CHECK(r.out.find("averaging weights with decay 0.9 (saved)") != std::string::npos);
  CHECK(radgal::read_checkpoint(dir.path.string() + "/checkpoint.safetensors")
            .state["history"]
            .size() == 2);
}

TEST_CASE("train cli: the recipe's weight averaging follows --epochs, --lr and --ema, --mixup") {
  auto config_of = [](const ScratchDir& dir) {
    std::ifstream in(dir.path / "config.json");
    return nlohmann::json::parse(in);
  };
  // Five epochs of nine training images: cheap enough for the sanitizer build too, with enough
  // steps (3 an epoch) for the one-cycle warm-up.
  auto small_run = [](const ScratchDir& dir) {
    Args args = tiny_run(dir.path.string(), "5");
    REQUIRE(args[2] == "--limit");
    REQUIRE(args[8] == "--batch");
    args[3] = "12";
    args[9] = "4";
    return args;
  };
  {  // SWA over the last fifth of the epochs, at 0.3 of the peak rate
    ScratchDir dir("swa-fifth");
    Args args = small_run(dir);
    args.insert(args.end(), {"--lr", "1e-3"});
    const auto r = radgal::testing::run_captured(radgal::tools::cmd_train, args);
    REQUIRE(r.code == 0);
    INFO(r.out);
    CHECK(r.out.find("averaging weights of the last epoch at lr 0.0003 (SWA") != std::string::npos);
    const auto c = config_of(dir);
    CHECK(c["swa"]["epochs"] == 1);
    CHECK(c["swa"]["lr"].get<double>() == doctest::Approx(3e-4));
    CHECK(c["optimizer"]["ema_decay"].get<double>() == 0.0);
  }
  {  // --ema chooses the other kind of averaging (here with mixup, said in the header)
    ScratchDir dir("swa-ema");
    Args args = small_run(dir);
    args.insert(args.end(), {"--ema", "0.9", "--mixup", "0.3"});
    const auto r = radgal::testing::run_captured(radgal::tools::cmd_train, args);
    REQUIRE(r.code == 0);
    INFO(r.out);
    CHECK(r.out.find("SWA") == std::string::npos);
    CHECK(r.out.find("mixup     batches blended with a shuffled copy, weight ~ Beta(0.3, 0.3)") !=
          std::string::npos);
    const auto c = config_of(dir);
    CHECK(c["swa"]["epochs"] == 0);
    CHECK(c["augment"]["mixup_alpha"].get<double>() == doctest::Approx(0.3));
    CHECK(c["augment"]["interpolation"] == "cubic");
    CHECK(r.out.find("augment   rotate +-180 deg, shift +-2 px, scale 0.9-1.1, flip; cubic "
                     "resampling; 50% lossless\n") != std::string::npos);
  }
  {  // --interpolation bilinear: said in the header, kept in the config; others are usage errors
    ScratchDir dir("bilinear");
    Args args = small_run(dir);
    args.insert(args.end(), {"--interpolation", "bilinear", "--lossless", "0.25"});
    const auto r = radgal::testing::run_captured(radgal::tools::cmd_train, args);
    REQUIRE(r.code == 0);
    INFO(r.out);
    CHECK(r.out.find("flip; bilinear resampling; 25% lossless") != std::string::npos);
    CHECK(config_of(dir)["augment"]["interpolation"] == "bilinear");
    ScratchDir plain("no-augment");
    Args as_stored = small_run(plain);
    as_stored.push_back("--no-augment");
    const auto p = radgal::testing::run_captured(radgal::tools::cmd_train, as_stored);
    REQUIRE(p.code == 0);
    CHECK(p.out.find("augment   none: the images as stored") != std::string::npos);
    CHECK(config_of(plain)["augment"]["enabled"] == false);
    ScratchDir other("cubic-bad");
    Args bad = small_run(other);
    bad.insert(bad.end(), {"--interpolation", "lanczos"});
    CHECK(radgal::testing::run_captured(radgal::tools::cmd_train, bad).code == 2);
  }
  {  // both asked for: refused before any work
    ScratchDir dir("swa-both");
    Args args = small_run(dir);
    args.insert(args.end(), {"--ema", "0.9", "--swa-epochs", "2"});
    CHECK_THROWS_WITH_AS(radgal::tools::cmd_train(args), doctest::Contains("choose one"),
                         std::invalid_argument);
    CHECK_FALSE(fs::exists(dir.path / "checkpoint.safetensors"));
  }
}

TEST_CASE("train cli: --teacher distils a trained model, --init starts from one") {
  // A teacher: five epochs on twelve real images (8 train, 4 validation).
  auto small_run = [](const ScratchDir& dir, const std::string& epochs) {
    Args args = tiny_run(dir.path.string(), epochs);
    REQUIRE(args[2] == "--limit");
    REQUIRE(args[8] == "--batch");
    args[3] = "12";
    args[9] = "4";
    return args;
  };
  ScratchDir teacher("teacher");
  REQUIRE(radgal::tools::cmd_train(small_run(teacher, "5")) == 0);
  const std::string teacher_dir = teacher.path.string();

  ScratchDir student("student");
  Args args = small_run(student, "5");
  args.insert(args.end(), {"--teacher", teacher_dir, "--teacher-views", "2", "--distill", "0.7",
                           "--init", teacher_dir + "/model.safetensors"});
  const auto r = radgal::testing::run_captured(radgal::tools::cmd_train, args);
  REQUIRE(r.code == 0);
  INFO(r.out);
  const std::string absolute_teacher = fs::absolute(teacher_dir).lexically_normal().string();
  CHECK(r.out.find("init      from " + absolute_teacher + "/model.safetensors") !=
        std::string::npos);
  CHECK(r.out.find("distil    from " + absolute_teacher +
                   ": mean of 2 augmented views per image, weight 0.7; it agrees with ") !=
        std::string::npos);
  CHECK(r.out.find(" of 8 training labels") != std::string::npos);
  std::ifstream in(student.path / "config.json");
  const nlohmann::json c = nlohmann::json::parse(in);
  CHECK(c["distill"]["teacher"] == absolute_teacher);
  CHECK(c["distill"]["views"] == 2);
  CHECK(c["distill"]["weight"].get<double>() == doctest::Approx(0.7));
  CHECK(c["init"] == absolute_teacher + "/model.safetensors");
  CHECK(c["distill"]["md5"].get<std::string>().size() == 32);
  // Resuming recomputes the teacher's targets from the recorded file...
  CHECK(radgal::tools::cmd_train({"--out", student.path.string(), "--resume", "--threads", "1"}) ==
        0);
  // ... and refuses when that file now holds another model.
  ScratchDir keep("teacher-copy");
  fs::create_directories(keep.path);
  fs::copy_file(teacher.path / "model.safetensors", keep.path / "model.safetensors");
  fs::copy_file(student.path / "model.safetensors", teacher.path / "model.safetensors",
                fs::copy_options::overwrite_existing);
  CHECK_THROWS_WITH_AS(
      radgal::tools::cmd_train({"--out", student.path.string(), "--resume", "--threads", "1"}),
      doctest::Contains("the teacher's file has changed since the run began"),
      std::runtime_error);
  fs::copy_file(keep.path / "model.safetensors", teacher.path / "model.safetensors",
                fs::copy_options::overwrite_existing);

  // Refused before any work: a weight without a teacher, and a start of another architecture.
  ScratchDir refused("distill-refused");
  Args no_teacher = small_run(refused, "5");
  no_teacher.insert(no_teacher.end(), {"--distill", "0.5"});
  CHECK_THROWS_WITH_AS(radgal::tools::cmd_train(no_teacher), doctest::Contains("needs a teacher"),
                       std::invalid_argument);
  Args other_arch = small_run(refused, "5");
  other_arch.insert(other_arch.end(), {"--init", teacher_dir, "--norm", "sigmoid"});
  CHECK_THROWS_WITH_AS(radgal::tools::cmd_train(other_arch),
                       doctest::Contains("--init needs the same architecture"),
                       std::invalid_argument);
  CHECK_FALSE(fs::exists(refused.path / "checkpoint.safetensors"));
  // A teacher file that cannot be read is named, and leaves no run directory to clear away.
  const fs::path broken = teacher.path / "broken.safetensors";
  {
    std::ifstream whole(teacher.path / "model.safetensors", std::ios::binary);
    std::string head(200, '\0');
    whole.read(head.data(), 200);
    std::ofstream(broken, std::ios::binary) << head;
  }
  Args broken_teacher = small_run(refused, "5");
  broken_teacher.insert(broken_teacher.end(), {"--teacher", broken.string()});
  CHECK_THROWS_WITH_AS(radgal::tools::cmd_train(broken_teacher),
                       doctest::Contains("broken.safetensors"), std::runtime_error);
  CHECK_FALSE(fs::exists(refused.path));
}

TEST_CASE("train cli: --extra-train adds the uncertain images to training only") {
  ScratchDir dir("extra");
  // The small classic CNN, one epoch: the check is on which images go where.
  Args args = tiny_run(dir.path.string(), "1");
  args.insert(args.end(), {"--extra-train", "uncertain", "--model", "classic", "--batch", "64",
                           "--schedule", "none", "--swa-epochs", "0"});
  args.erase(args.begin() + 8, args.begin() + 10);  // the tiny run's --batch 8
  const auto r = radgal::testing::run_captured(radgal::tools::cmd_train, args);
  REQUIRE(r.code == 0);
  INFO(r.out);
  // --limit 24 of the confident images: 18 train, 6 validation; then the 340 uncertain ones.
  CHECK(r.out.find("confident, 18 train, 6 validation") != std::string::npos);
  CHECK(r.out.find("+ 340 uncertain training images (trained on, not validated on)") !=
        std::string::npos);
  std::ifstream in(dir.path / "config.json");
  CHECK(nlohmann::json::parse(in)["data"]["extra_subset"] == "uncertain");

  ScratchDir overlap("extra-overlap");
  Args full = tiny_run(overlap.path.string(), "1");
  full.insert(full.end(), {"--subset", "full", "--extra-train", "uncertain"});
  CHECK_THROWS_WITH_AS(radgal::tools::cmd_train(full), doctest::Contains("share no image"),
                       std::invalid_argument);
}

TEST_CASE("demo cli: trains on synthetic images and returns 0") {
  CHECK(radgal::tools::cmd_demo({"--images", "128", "--epochs", "2", "--threads", "1"}) == 0);
  CHECK(radgal::tools::cmd_demo({"--epochs", "0"}) == 2);
}
