// `radgal evaluate`, run in-process: the published model's numbers on the real test set, the JSON
// report and plots, batch-size independence, run directories (subset default and the validation
// split), and clear refusals of bad model files and bad arguments.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/models.h"
#include "tensor/random.h"
#include "tests/tools/test_evaluate_support.h"
#include "tools/commands.h"

using radgal::testing::run_captured;
using radgal::testing::shared_data;
using radgal::testing::TempDir;

namespace {

const std::string kConfidentWeights = "reference/agcnn_mirabest_confident.weights.safetensors";

std::string error_of(const radgal::tools::Args& args) {
  try {
    run_captured(radgal::tools::cmd_evaluate, args);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

bool is_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, 8);
  return in.gcount() == 8 && std::string(head, 8) == "\x89PNG\r\n\x1a\n";
}

}  // namespace

TEST_CASE("evaluate: the published MiraBest-confident model scores 95.19% (99 of 104)") {
  TempDir dir;
  const auto r = run_captured(
      radgal::tools::cmd_evaluate,
      {"--weights", shared_data(kConfidentWeights), "--data", shared_data("mirabest/batches"),
       "--json", dir.file("metrics.json"), "--plots", dir.file("plots")});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("accuracy  95.19% (99 of 104)") != std::string::npos);
  CHECK(r.out.find("subset confident") != std::string::npos);  // inferred from the file name
  CHECK(r.out.find("FRI        0.978   0.918  0.947       49") != std::string::npos);
  CHECK(r.out.find("FRII       0.931   0.982  0.956       55") != std::string::npos);

  std::ifstream in(dir.file("metrics.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["accuracy"].get<double>() == doctest::Approx(99.0 / 104.0));
  CHECK(j["n"].get<int>() == 104);
  CHECK(j["confusion"] == nlohmann::json({{45, 4}, {1, 54}}));
  CHECK(j["classes"]["FRI"]["precision"].get<double>() == doctest::Approx(45.0 / 46.0));
  CHECK(j["classes"]["FRI"]["recall"].get<double>() == doctest::Approx(45.0 / 49.0));
  CHECK(j["classes"]["FRII"]["recall"].get<double>() == doctest::Approx(54.0 / 55.0));
  CHECK(j["classes"]["FRII"]["f1"].get<double>() == doctest::Approx(108.0 / 113.0));
  // With the published single-pass probabilities sklearn's roc_auc_score gives 0.96067.
  CHECK(j["auc"].get<double>() == doctest::Approx(0.96067).epsilon(2e-4));
  CHECK(j["model"]["config"]["norm"] == "range_norm");
  // Per image: the probability, the true class and the file name, in test_batch order; the
  // confusion matrix follows from them.
  const auto p = j["p_frii"].get<std::vector<double>>();
  const auto t = j["targets"].get<std::vector<int>>();
  const auto names = j["filenames"].get<std::vector<std::string>>();
  REQUIRE(p.size() == 104);
  REQUIRE(t.size() == 104);
  REQUIRE(names.size() == 104);
  int confusion[2][2] = {{0, 0}, {0, 0}};
  for (size_t i = 0; i < p.size(); ++i) ++confusion[t[i]][p[i] > 0.5 ? 1 : 0];
  CHECK(confusion[0][0] == 45);
  CHECK(confusion[0][1] == 4);
  CHECK(confusion[1][0] == 1);
  CHECK(confusion[1][1] == 54);
  CHECK(names[0].find(".png") != std::string::npos);
  CHECK(is_png(dir.file("plots/roc.png")));
  CHECK(is_png(dir.file("plots/confusion.png")));
}

TEST_CASE("evaluate: results do not depend on the batch size, TTA is seeded") {
  const radgal::tools::Args base = {"--weights",
                                    shared_data("reference/agcnn_frdeep_f.weights.safetensors"),
                                    "--data", shared_data("frdeep-f")};  // resolves batches/
  auto json_of = [&](radgal::tools::Args extra) {
    TempDir dir;
    radgal::tools::Args args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--json");
    args.push_back(dir.file("m.json"));
    const auto r = run_captured(radgal::tools::cmd_evaluate, args);
    REQUIRE(r.code == 0);
    std::ifstream in(dir.file("m.json"));
    return nlohmann::json::parse(in);
  };
  const nlohmann::json one = json_of({"--batch", "1"}), seven = json_of({"--batch", "7"});
  CHECK(one["accuracy"].get<double>() == doctest::Approx(0.88));
  CHECK(one["accuracy"] == seven["accuracy"]);
  CHECK(one["auc"].get<double>() == doctest::Approx(seven["auc"].get<double>()).epsilon(1e-9));
  CHECK(one["confusion"] == seven["confusion"]);
#if !defined(__SANITIZE_ADDRESS__)
  // An augmented pass: the same seed gives the same answer at another batch size.
  const nlohmann::json a = json_of({"--tta", "1", "--seed", "5", "--batch", "16"});
  const nlohmann::json b = json_of({"--tta", "1", "--seed", "5", "--batch", "3"});
  CHECK(a["tta"] == 1);
  CHECK(a["auc"].get<double>() == doctest::Approx(b["auc"].get<double>()).epsilon(1e-9));
  CHECK(a["confusion"] == b["confusion"]);
  CHECK(a["tta_interpolation"] == "bilinear");
  // Cubic views are other views: the same seed draws the same maps, resampled differently.
  const nlohmann::json c = json_of({"--tta", "1", "--seed", "5", "--tta-interpolation", "cubic"});
  CHECK(c["tta_interpolation"] == "cubic");
  CHECK(c["p_frii"] != a["p_frii"]);
  const nlohmann::json d = json_of(
      {"--tta", "1", "--seed", "5", "--tta-interpolation", "cubic", "--batch", "3"});
  CHECK(c["auc"].get<double>() == doctest::Approx(d["auc"].get<double>()).epsilon(1e-9));
  CHECK(c["confusion"] == d["confusion"]);
#endif
}

TEST_CASE("evaluate: a run directory supplies the subset and the validation split") {
  TempDir run;
  // A small untrained classic CNN stands in for a trained model: only the plumbing is tested.
  radgal::nn::ModelConfig config;
  config.arch = "classic";
  radgal::Generator init(3);
  auto model = radgal::nn::make_model(config, init);
  radgal::nn::save_model(run.file("model.safetensors"), *model);
  // The layout `radgal train` writes (TrainConfig::to_json): data settings under "data".
  std::ofstream(run.file("config.json"))
      << R"({"data": {"dir": ")" << shared_data("frdeep-f/batches")
      << R"(", "subset": "frdeep", "val_fraction": 0.2, "split_seed": 7}, "seed": 1})";

  auto r = run_captured(radgal::tools::cmd_evaluate, {run.path.string()});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("subset frdeep, test split, 50 images (22 FRI, 28 FRII)") != std::string::npos);
  CHECK(r.out.find("model     classic") != std::string::npos);

  // FRDEEP-F training batches: 242 FRI + 308 FRII; 20 % of each class -> 48 + 62.
  r = run_captured(
      radgal::tools::cmd_evaluate,
      {run.path.string(), "--data", shared_data("frdeep-f/batches"), "--split", "val"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("val split, 110 images (48 FRI, 62 FRII)") != std::string::npos);

  // config.json being a directory: named, not a raw stream error.
  TempDir odd;
  radgal::nn::save_model(odd.file("model.safetensors"), *model);
  std::filesystem::create_directory(odd.file("config.json"));
  const std::string expected = odd.file("config.json") + ": not a regular file (a directory?)";
  CHECK(error_of({odd.path.string()}) == expected);

  // A weights file carries no split.
  CHECK(error_of({"--weights", run.file("model.safetensors"), "--data",
                  shared_data("frdeep-f/batches"), "--subset", "frdeep", "--split", "val"})
            .find("--split val needs a run directory") != std::string::npos);
}

TEST_CASE("evaluate: --split val on a run without a validation set says so, any seed reads") {
  TempDir run;
  radgal::nn::ModelConfig config;
  config.arch = "classic";
  radgal::Generator init(3);
  radgal::nn::save_model(run.file("model.safetensors"), *radgal::nn::make_model(config, init));
  auto write_config = [&](const std::string& val_fraction, const std::string& split_seed) {
    std::ofstream(run.file("config.json"))
        << R"({"data": {"dir": ")" << shared_data("frdeep-f/batches")
        << R"(", "subset": "frdeep", "val_fraction": )" << val_fraction
        << R"(, "split_seed": )" << split_seed << "}}";
  };

  // `radgal train --val-fraction 0` trains on every training image and keeps none apart.
  write_config("0.0", "7");
  const std::string message = error_of({run.path.string(), "--split", "val"});
  CHECK_MESSAGE(message.find(run.path.string() +
                             ": the run has no validation split (it was trained with "
                             "--val-fraction 0); evaluate it on --split test") !=
                    std::string::npos,
                message);

  // The largest seed train accepts is stored as the unsigned number it is.
  write_config("0.2", "18446744073709551615");
  const auto r = run_captured(radgal::tools::cmd_evaluate,
                              {run.path.string(), "--split", "val", "--threads", "1"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("val split, 110 images (48 FRI, 62 FRII)") != std::string::npos);
}

TEST_CASE("evaluate: refuses a truncated model file and one of another architecture") {
  TempDir dir;
  const std::string source = shared_data(kConfidentWeights);
  const std::string data = shared_data("mirabest/batches");

  // Truncated: the first 100,000 bytes of the published file.
  const std::string cut = dir.file("agcnn_mirabest_confident_cut.safetensors");
  std::filesystem::copy_file(source, cut);
  std::filesystem::resize_file(cut, 100000);
  std::string message = error_of({"--weights", cut, "--data", data});
  CHECK(message.find(cut + ": truncated: tensor") != std::string::npos);

  // Not a model file at all.
  const std::string text = dir.file("notes.safetensors");
  std::ofstream(text) << "these are my notes, not a model\n";
  message = error_of({"--weights", text, "--data", data, "--subset", "confident"});
  CHECK(message.find(text + ": not a safetensors file") != std::string::npos);

  // The gate-less network's weights, without radgal metadata, read as a published AG-CNN.
  radgal::nn::ModelConfig cnn;
  cnn.arch = "cnn";
  radgal::Generator init(1);
  const std::string other = dir.file("agcnn_mirabest_confident_other.safetensors");
  radgal::nn::write_safetensors(other, radgal::nn::state_of(*radgal::nn::make_model(cnn, init)));
  message = error_of({"--weights", other, "--data", data});
  CHECK(message.find(other + ": tensor attention1.theta.weight is missing; the agcnn (range_norm, "
                             "ft, 3 gates) model expects it with shape [64, 32, 1, 1]") !=
        std::string::npos);

  // A radgal file whose config says agcnn but whose gate was built for another trunk.
  radgal::nn::ModelConfig agcnn;
  auto model = radgal::nn::make_model(agcnn, init);
  radgal::nn::NamedTensors state = radgal::nn::state_of(*model);
  for (auto& [name, t] : state.tensors) {
    if (name == "attention1.theta.weight") t = radgal::Tensor::zeros({64, 16, 1, 1});
  }
  state.metadata["radgal.format"] = "radgal-model-1";
  state.metadata["radgal.config"] = agcnn.to_json().dump();
  const std::string mismatched = dir.file("model.safetensors");
  radgal::nn::write_safetensors(mismatched, state);
  message = error_of({"--weights", mismatched, "--data", data, "--subset", "confident"});
  CHECK(message == mismatched +
                       ": tensor attention1.theta.weight has shape [64, 16, 1, 1], the agcnn "
                       "(range_norm, ft, 3 gates) model expects [64, 32, 1, 1]");
}

TEST_CASE("evaluate: usage errors") {
  const std::string weights = shared_data(kConfidentWeights);
  auto code_of = [](const radgal::tools::Args& args) {
    return run_captured(radgal::tools::cmd_evaluate, args);
  };
  auto r = code_of({"--data", shared_data("mirabest/batches")});
  CHECK(r.code == 2);
  CHECK(r.err.find("give a run directory or --weights FILE") != std::string::npos);
  r = code_of({"--weights", weights, "--data", "x", "--subset", "everything"});
  CHECK(r.code == 2);
  r = code_of({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("--tta") != std::string::npos);

  CHECK(error_of({"--weights", weights}).find("give the labelled images with --data DIR") !=
        std::string::npos);
  CHECK(error_of({"--weights", weights, "--data", "/nonexistent"})
            .find("/nonexistent: not a batch folder") != std::string::npos);
  CHECK(error_of({"--weights", weights, "--data", shared_data("frdeep-f/batches")})
            .find("confident") != std::string::npos);  // MiraBest subset on FRDEEP labels
  CHECK(error_of(
            {"--weights", weights, "--data", shared_data("mirabest/batches"), "--subset", "hybrid"})
            .find("evaluate does not support subset hybrid: its targets are confident vs "
                  "uncertain hybrids (300 vs 310), not FRI vs FRII") != std::string::npos);
  TempDir dir;
  // Bad output paths fail before the model is even read.
  CHECK(error_of({"--weights", "/nonexistent.safetensors", "--json", dir.file("no/folder/m.json")})
            .find("--json " + dir.file("no/folder/m.json") + ": the folder " +
                  dir.file("no/folder") + " does not exist") != std::string::npos);
  std::ofstream(dir.file("file")) << "in the way";
  CHECK(error_of({"--weights", "/nonexistent.safetensors", "--plots", dir.file("file/plots")})
            .find("--plots " + dir.file("file/plots") + ": cannot create the folder") !=
        std::string::npos);
  const std::string anonymous = dir.file("weights.safetensors");
  std::filesystem::copy_file(weights, anonymous);
  CHECK(error_of({"--weights", anonymous, "--data", shared_data("mirabest/batches")})
            .find("cannot tell which subset the model was trained on; pass --subset") !=
        std::string::npos);
}

TEST_CASE("evaluate: several models form an ensemble whose p(FRII) is the members' mean") {
  const std::string a = shared_data("reference/agcnn_frdeep_f.weights.safetensors");
  const std::string b = shared_data(kConfidentWeights);
  const radgal::tools::Args data = {"--data", shared_data("frdeep-f"), "--subset", "frdeep"};
  auto json_of = [&](radgal::tools::Args models, std::string* out = nullptr) {
    TempDir dir;
    radgal::tools::Args args = models;
    args.insert(args.end(), data.begin(), data.end());
    args.push_back("--json");
    args.push_back(dir.file("m.json"));
    const auto r = run_captured(radgal::tools::cmd_evaluate, args);
    REQUIRE(r.code == 0);
    if (out) *out = r.out;
    std::ifstream in(dir.file("m.json"));
    return nlohmann::json::parse(in);
  };
  const nlohmann::json ja = json_of({a}), jb = json_of({b});
  std::string text;
  const nlohmann::json both = json_of({a, b}, &text);
  CHECK(ja["accuracy"].get<double>() == doctest::Approx(0.88));  // the published FRDEEP-F figure
  CHECK(text.find("ensemble  2 models, probabilities averaged") != std::string::npos);
  CHECK(text.find("alone: 88.00%") != std::string::npos);
  REQUIRE(both["ensemble"].size() == 2);
  CHECK(both["ensemble"][0]["accuracy"] == ja["accuracy"]);
  CHECK(both["ensemble"][1]["accuracy"] == jb["accuracy"]);
  const auto pa = ja["p_frii"].get<std::vector<double>>();
  const auto pb = jb["p_frii"].get<std::vector<double>>();
  const auto p = both["p_frii"].get<std::vector<double>>();
  REQUIRE(p.size() == 50);
  REQUIRE(pa.size() == 50);
  size_t differ_from_a = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    CHECK(p[i] == doctest::Approx((pa[i] + pb[i]) / 2).epsilon(1e-12));
    differ_from_a += std::abs(p[i] - pa[i]) > 1e-6;
  }
  CHECK(differ_from_a > 10);  // the second member really took part

  // The same model twice is the model.
  const nlohmann::json twice = json_of({a, a});
  CHECK(twice["accuracy"] == ja["accuracy"]);
  CHECK(twice["confusion"] == ja["confusion"]);

  // Validation splits differ between runs, so an ensemble has none.
  radgal::tools::Args val_args = {a, b, "--split", "val"};
  val_args.insert(val_args.end(), data.begin(), data.end());
  CHECK(error_of(val_args).find("--split val takes one run directory") != std::string::npos);
}
