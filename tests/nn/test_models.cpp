// nn/module, nn/layers, nn/models: naming, parameter counts (AGCNN.md section 1.8, counted by hand
// and against the published state dicts), initialisation, attention normalisations, the
// batch-composition independence of evaluation, and load_state's refusals.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/models.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using radgal::Generator;
using radgal::Shape;
using radgal::Tensor;
using radgal::nn::ModelConfig;
using radgal::nn::NormScope;

namespace {

ModelConfig config(const std::string& arch, const std::string& norm = "range_norm",
                   const std::string& aggregation = "ft", int gates = 3, int image_size = 150) {
  ModelConfig c;
  c.arch = arch;
  c.norm = norm;
  c.aggregation = aggregation;
  c.gates = gates;
  c.image_size = image_size;
  return c;
}

std::shared_ptr<radgal::nn::Classifier> model(const ModelConfig& c, uint64_t seed = 1) {
  Generator g(seed);
  return radgal::nn::make_model(c, g);
}

// Images in [-1, 1] with a bright blob, like normalised radio images (mostly -1 background).
Tensor images(int64_t n, int64_t size, uint64_t seed) {
  Generator g(seed);
  std::vector<float> v(static_cast<size_t>(n * size * size), -1.f);
  for (int64_t i = 0; i < n; ++i) {
    const float cx = g.uniform(0.3f, 0.7f) * size, cy = g.uniform(0.3f, 0.7f) * size;
    const float r = g.uniform(0.05f, 0.2f) * size;
    for (int64_t y = 0; y < size; ++y) {
      for (int64_t x = 0; x < size; ++x) {
        const float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        v[(i * size + y) * size + x] =
            -1.f + 2.f * std::exp(-d2 / (2 * r * r)) + 0.05f * g.uniform();
      }
    }
  }
  return Tensor::from_vector(v, {n, 1, size, size});
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  float m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

}  // namespace

TEST_CASE("parameter counts match the published network (AGCNN.md 1.8)") {
  CHECK(model(config("agcnn", "range_norm", "ft", 3))->parameter_count() == 101447);
  CHECK(model(config("agcnn", "range_norm", "concat", 3))->parameter_count() == 101429);
  CHECK(model(config("agcnn", "range_norm", "mean", 3))->parameter_count() == 101433);
  CHECK(model(config("agcnn", "range_norm", "deep_sup", 3))->parameter_count() == 101543);
  CHECK(model(config("agcnn", "range_norm", "ft", 2))->parameter_count() == 96884);
  CHECK(model(config("agcnn", "range_norm", "ft", 1))->parameter_count() == 91661);
  CHECK(model(config("agcnn", "range_norm", "ft", 0))->parameter_count() == 95750);
  CHECK(model(config("cnn"))->parameter_count() == 95750);
  CHECK(model(config("classic"))->parameter_count() == 181550);
  // The normalisation has no parameters.
  CHECK(model(config("agcnn", "softmax"))->parameter_count() == 101447);
}

TEST_CASE("tensor names equal the published state_dict names") {
  // From the published agcnn_*.weights.safetensors (which omit the unused fc1/fc2/fc3 and
  // num_batches_tracked): 11 conv + 11 bnorm layers, 3 gates, classifiers.0-2 and classifier.
  std::set<std::string> expected;
  for (const char* s : {"1a", "1b", "1c", "2a", "2b", "2c", "3a", "3b", "3c", "4a", "4b"}) {
    for (const char* p : {"weight", "bias"}) expected.insert(std::string("conv") + s + "." + p);
    for (const char* p : {"weight", "bias", "running_mean", "running_var"}) {
      expected.insert(std::string("bnorm") + s + "." + p);
    }
  }
  for (int k = 1; k <= 3; ++k) {
    for (const char* p : {"theta.weight", "phi.weight", "psi.weight", "psi.bias"}) {
      expected.insert("attention" + std::to_string(k) + "." + p);
    }
    expected.insert("classifiers." + std::to_string(k - 1) + ".weight");
    expected.insert("classifiers." + std::to_string(k - 1) + ".bias");
  }
  expected.insert("classifier.weight");
  expected.insert("classifier.bias");

  const auto m = model(config("agcnn"));
  std::set<std::string> ours;
  int tracked = 0;
  for (auto& [name, t] : radgal::nn::state_of(*m).tensors) {
    if (name.size() > 20 && name.substr(name.size() - 20) == ".num_batches_tracked") {
      ++tracked;
      CHECK(t.numel() == 1);
      continue;
    }
    ours.insert(name);
  }
  CHECK(ours == expected);
  CHECK(tracked == 11);

  // Shapes of a few that are easy to get wrong.
  const auto state = radgal::nn::state_of(*m);
  CHECK(state.find("attention1.theta.weight")->shape() == Shape{64, 32, 1, 1});
  CHECK(state.find("attention3.theta.weight")->shape() == Shape{64, 6, 1, 1});
  CHECK(state.find("attention2.phi.weight")->shape() == Shape{64, 64, 1, 1});
  CHECK(state.find("attention2.psi.weight")->shape() == Shape{1, 64, 1, 1});
  CHECK(state.find("classifiers.2.weight")->shape() == Shape{2, 6});
  CHECK(state.find("classifier.weight")->shape() == Shape{2, 6});
  // Parameters come first, buffers after.
  CHECK(state.tensors.front().first == "conv1a.weight");
  CHECK(state.tensors.back().first == "bnorm4b.num_batches_tracked");
}

TEST_CASE("initialisation follows the published recipe and is fixed by the seed") {
  const auto m = model(config("agcnn"), 7);
  const auto state = radgal::nn::state_of(*m);
  auto stats = [&](const std::string& name) {
    const auto v = state.find(name)->to_vector();
    double mean = 0, sq = 0, lo = 1e30, hi = -1e30;
    for (float x : v) {
      mean += x;
      lo = std::min(lo, double(x));
      hi = std::max(hi, double(x));
    }
    mean /= v.size();
    for (float x : v) sq += (x - mean) * (x - mean);
    return std::vector<double>{mean, std::sqrt(sq / v.size()), lo, hi};
  };
  // Kaiming normal, fan_in 64*9 = 576: std sqrt(2/576) = 0.0589 (36,864 draws: within ~2 %).
  auto s = stats("conv4b.weight");
  CHECK(std::abs(s[0]) < 0.002);
  CHECK(s[1] == doctest::Approx(std::sqrt(2.0 / 576)).epsilon(0.03));
  // Gate convs are Kaiming normal too: phi fan_in 64 -> std 0.177 (4,096 draws).
  s = stats("attention1.phi.weight");
  CHECK(s[1] == doctest::Approx(std::sqrt(2.0 / 64)).epsilon(0.06));
  // Conv bias U(+-1/sqrt(576)).
  s = stats("conv4b.bias");
  CHECK(s[2] >= -1 / 24.0);
  CHECK(s[3] <= 1 / 24.0);
  // BN gamma ~ N(1, 0.02), beta 0, running stats 0 / 1.
  s = stats("bnorm4b.weight");
  CHECK(std::abs(s[0] - 1) < 0.01);
  CHECK(s[1] == doctest::Approx(0.02).epsilon(0.35));
  CHECK(stats("bnorm4b.bias")[3] == 0);
  CHECK(stats("bnorm4b.running_var")[2] == 1);
  // psi bias 10.
  for (int k = 1; k <= 3; ++k) {
    CHECK(state.find("attention" + std::to_string(k) + ".psi.bias")->item() == 10.f);
  }
  // Linear U(+-1/sqrt(fan_in)): classifiers.0 has fan_in 32.
  s = stats("classifiers.0.weight");
  CHECK(s[2] >= -1 / std::sqrt(32.0));
  CHECK(s[3] <= 1 / std::sqrt(32.0));

  // Same seed, same network; another seed, another network.
  const auto same = radgal::nn::state_of(*model(config("agcnn"), 7));
  const auto other = radgal::nn::state_of(*model(config("agcnn"), 8));
  CHECK(same.find("conv2b.weight")->to_vector() == state.find("conv2b.weight")->to_vector());
  CHECK(other.find("conv2b.weight")->to_vector() != state.find("conv2b.weight")->to_vector());
}

TEST_CASE("train() and eval() reach every child") {
  const auto m = model(config("agcnn", "range_norm", "ft", 3, 32));
  m->eval();
  Tensor x = images(2, 32, 3);
  const auto a = m->forward(x).logits;
  const auto b = m->forward(x).logits;
  CHECK(a.to_vector() == b.to_vector());  // no dropout, no statistics updates
  CHECK(radgal::nn::state_of(*m).find("bnorm1a.num_batches_tracked")->item() == 0.f);

  m->train();
  CHECK(m->is_training());
  m->forward(x);
  const auto state = radgal::nn::state_of(*m);
  CHECK(state.find("bnorm1a.num_batches_tracked")->item() == 1.f);
  CHECK(state.find("bnorm4b.num_batches_tracked")->item() == 1.f);
  // The running statistics moved (momentum 0.1 towards the batch statistics).
  CHECK(state.find("bnorm1a.running_mean")->to_vector() != std::vector<float>(6, 0.f));
}

TEST_CASE("is_batch_counter names only batch-norm step counters") {
  CHECK(radgal::nn::is_batch_counter("bnorm1a.num_batches_tracked"));
  CHECK(radgal::nn::is_batch_counter("num_batches_tracked"));
  CHECK_FALSE(radgal::nn::is_batch_counter("bnorm1a.running_mean"));
  CHECK_FALSE(radgal::nn::is_batch_counter("bnorm1a.my_num_batches_tracked"));
  CHECK_FALSE(radgal::nn::is_batch_counter("tracked"));
}

TEST_CASE("apply() visits the model and every descendant once") {
  const auto m = model(config("agcnn", "softmax", "concat", 3, 32));
  int modules = 0, batch_norms = 0;
  m->apply([&](radgal::nn::Module& child) {
    ++modules;
    batch_norms += dynamic_cast<radgal::nn::BatchNorm2d*>(&child) != nullptr;
  });
  CHECK(batch_norms == 11);  // one per 3x3 convolution: 3 + 3 + 3 + 2
  // The model, 11 convolutions and batch norms, 3 gates with theta, phi and psi, 3 dropouts,
  // the classifier.
  CHECK(modules == 1 + 22 + 3 * 4 + 3 + 1);
}

TEST_CASE("attention normalisations on a hand-made psi") {
  // Two images of 1x2x2: image 0 psi = 1 2 3 5, image 1 psi = -1 0 0 1.
  const Tensor psi = Tensor::from_vector({1, 2, 3, 5, -1, 0, 0, 1}, {2, 1, 2, 2});
  auto values = [&](const std::string& norm, NormScope scope) {
    return radgal::nn::normalise_attention(psi, norm, scope).to_vector();
  };
  auto check_all = [](const std::vector<float>& got, const std::vector<float>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]));
  };
  // range_norm, per image: (psi - min) / (max - min).
  check_all(values("range_norm", NormScope::per_image), {0, 0.25f, 0.5f, 1, 0, 0.5f, 0.5f, 1});
  // range_norm over the batch: min -1, max 5.
  check_all(values("range_norm", NormScope::batch),
            {2 / 6.f, 3 / 6.f, 4 / 6.f, 1, 0, 1 / 6.f, 1 / 6.f, 2 / 6.f});
  // std_mean_norm divides by max, not by the range: ((psi - min) / max - 0.5) / 0.25.
  check_all(values("std_mean_norm", NormScope::per_image),
            {-2, (1 / 5.f - 0.5f) / 0.25f, (2 / 5.f - 0.5f) / 0.25f, (4 / 5.f - 0.5f) / 0.25f, -2,
             2, 2, 6});
  check_all(values("std_mean_norm", NormScope::batch),
            {(2 / 5.f - 0.5f) / 0.25f, (3 / 5.f - 0.5f) / 0.25f, (4 / 5.f - 0.5f) / 0.25f,
             (6 / 5.f - 0.5f) / 0.25f, -2, (1 / 5.f - 0.5f) / 0.25f, (1 / 5.f - 0.5f) / 0.25f,
             (2 / 5.f - 0.5f) / 0.25f});
  // softmax over each image's positions.
  const float z0 = std::exp(1.f) + std::exp(2.f) + std::exp(3.f) + std::exp(5.f);
  const float z1 = std::exp(-1.f) + 2 + std::exp(1.f);
  check_all(values("softmax", NormScope::batch),
            {std::exp(1.f) / z0, std::exp(2.f) / z0, std::exp(3.f) / z0, std::exp(5.f) / z0,
             std::exp(-1.f) / z1, 1 / z1, 1 / z1, std::exp(1.f) / z1});
  check_all(
      values("sigmoid", NormScope::batch),
      {1 / (1 + std::exp(-1.f)), 1 / (1 + std::exp(-2.f)), 1 / (1 + std::exp(-3.f)),
       1 / (1 + std::exp(-5.f)), 1 / (1 + std::exp(1.f)), 0.5f, 0.5f, 1 / (1 + std::exp(-1.f))});
  check_all(values("tanh", NormScope::batch),
            {std::tanh(1.f), std::tanh(2.f), std::tanh(3.f), std::tanh(5.f), std::tanh(-1.f), 0, 0,
             std::tanh(1.f)});
  // A constant map gives 0, not NaN.
  const Tensor flat = Tensor::full({1, 1, 2, 2}, 3.f);
  CHECK(radgal::nn::normalise_attention(flat, "range_norm", NormScope::per_image).to_vector() ==
        std::vector<float>(4, 0.f));
  CHECK_THROWS_AS(radgal::nn::normalise_attention(psi, "l2", NormScope::batch),
                  std::invalid_argument);
}

TEST_CASE("attention maps have the right shape and range for every normalisation") {
  const int64_t n = 3, size = 32;
  const Tensor x = images(n, size, 11);
  const Shape shapes[] = {{n, 1, 8, 8}, {n, 1, 16, 16}, {n, 1, 32, 32}};
  for (const char* norm : {"sigmoid", "softmax", "range_norm", "std_mean_norm", "tanh"}) {
    CAPTURE(norm);
    const auto m = model(config("agcnn", norm, "ft", 3, size), 5);
    m->eval();
    const auto out = m->forward(x);
    CHECK(out.logits.shape() == Shape{n, 2});
    REQUIRE(out.attention.size() == 3);
    for (int k = 0; k < 3; ++k) {
      CAPTURE(k);
      CHECK(out.attention[k].shape() == shapes[k]);
      const int64_t hw = shapes[k][2] * shapes[k][3];
      const auto a = out.attention[k].to_vector();
      for (int64_t i = 0; i < n; ++i) {
        const auto first = a.begin() + i * hw, last = first + hw;
        const float lo = *std::min_element(first, last), hi = *std::max_element(first, last);
        double total = 0;
        for (auto it = first; it != last; ++it) total += *it;
        const std::string nm = norm;
        if (nm == "sigmoid") {
          // (0, 1) mathematically; psi starts near 10, where float rounding may reach 1.
          CHECK(lo > 0.f);
          CHECK(hi <= 1.f);
        } else if (nm == "softmax") {
          CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
          CHECK(lo > 0.f);
        } else if (nm == "range_norm") {
          CHECK(lo == 0.f);  // per image in evaluation mode: both ends attained
          CHECK(hi == doctest::Approx(1.f).epsilon(1e-6));
        } else if (nm == "std_mean_norm") {
          CHECK(lo == -2.f);  // (min - min) / max - 0.5 over 0.25
        } else {
          CHECK(lo >= -1.f);
          CHECK(hi <= 1.f);
        }
      }
    }
  }
}

TEST_CASE("evaluation does not depend on batch composition, training uses the batch range") {
  const int64_t n = 3, size = 32;
  const Tensor x = images(n, size, 21);
  for (const char* norm : {"range_norm", "std_mean_norm"}) {
    CAPTURE(norm);
    auto m = model(config("agcnn", norm, "ft", 3, size), 9);
    m->eval();
    const auto batch = m->forward(x);
    for (int64_t i = 0; i < n; ++i) {
      const auto single = m->forward(x.slice(0, i, i + 1).contiguous());
      CHECK(max_abs_diff(single.logits, batch.logits.slice(0, i, i + 1)) < 1e-5f);
      CHECK(max_abs_diff(single.attention[2], batch.attention[2].slice(0, i, i + 1)) < 1e-6f);
    }
  }

  // The published batch-global behaviour, kept for training: min 0 and max 1 over the whole
  // batch, so not every image reaches 1.
  auto m = std::dynamic_pointer_cast<radgal::nn::AttentionGatedCNN>(
      model(config("agcnn", "range_norm", "ft", 3, size), 9));
  REQUIRE(m);
  m->eval();
  m->set_norm_scope(NormScope::batch, NormScope::batch);
  const auto a = m->forward(x).attention[0].to_vector();
  CHECK(*std::min_element(a.begin(), a.end()) == 0.f);
  CHECK(*std::max_element(a.begin(), a.end()) == doctest::Approx(1.f));
  int images_reaching_one = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (*std::max_element(a.begin() + i * 64, a.begin() + (i + 1) * 64) > 0.99999f) {
      ++images_reaching_one;
    }
  }
  CHECK(images_reaching_one < n);
}

TEST_CASE("every architecture and aggregation runs forward and backward") {
  std::vector<ModelConfig> configs;
  for (const char* agg : {"concat", "mean", "deep_sup", "ft"}) {
    for (int g = 0; g <= 3; ++g) configs.push_back(config("agcnn", "softmax", agg, g, 16));
  }
  configs.push_back(config("cnn", "range_norm", "ft", 3, 16));
  configs.push_back(config("classic", "range_norm", "ft", 3, 60));  // its smallest input
  for (const auto& c : configs) {
    CAPTURE(c.describe());
    const auto m = model(c, 2);
    m->train();
    const auto out = m->forward(images(2, c.image_size, 4));
    CHECK(out.logits.shape() == Shape{2, 2});
    CHECK(out.attention.size() == static_cast<size_t>(c.arch == "agcnn" ? c.gates : 0));
    radgal::cross_entropy(out.logits, {0, 1}).backward();
    // Every trained parameter receives a gradient.
    for (auto& [name, p] : m->named_parameters()) {
      CAPTURE(name);
      CHECK(p.grad().defined());
    }
  }
}

TEST_CASE("ft aggregation with 3 gates: dropout acts in training only") {
  const auto m = model(config("agcnn", "sigmoid", "ft", 3, 32), 3);
  const Tensor x = images(4, 32, 8);
  m->train();
  const auto a = m->forward(x).logits.to_vector();
  const auto b = m->forward(x).logits.to_vector();
  CHECK(a != b);  // different dropout masks (and batch statistics are the same input's)
  // Restoring the dropout stream reproduces the masks.
  const auto state = m->dropout_rng().state();
  const auto c = m->forward(x).logits.to_vector();
  m->dropout_rng().set_state(state);
  CHECK(m->forward(x).logits.to_vector() == c);
}

TEST_CASE("load_state copies by name and refuses wrong files with a clear message") {
  auto source = model(config("agcnn"), 1);
  auto target = model(config("agcnn"), 2);
  radgal::nn::load_state(*target, radgal::nn::state_of(*source), "good.safetensors");
  CHECK(radgal::nn::state_of(*target).find("conv3b.weight")->to_vector() ==
        radgal::nn::state_of(*source).find("conv3b.weight")->to_vector());

  const auto before = radgal::nn::state_of(*target).find("conv1a.weight")->to_vector();
  auto fresh = model(config("agcnn"), 3);
  auto expect_error = [&](const radgal::nn::NamedTensors& file, const std::string& message) {
    CHECK_THROWS_WITH_AS(radgal::nn::load_state(*target, file, "model.safetensors"),
                         doctest::Contains(message.c_str()), std::runtime_error);
    // Nothing was copied.
    CHECK(radgal::nn::state_of(*target).find("conv1a.weight")->to_vector() == before);
  };

  // A gate with the wrong input width (a model from a different trunk).
  auto file = radgal::nn::state_of(*fresh);
  for (auto& [name, t] : file.tensors) {
    if (name == "attention1.theta.weight") t = Tensor::zeros({64, 16, 1, 1});
  }
  expect_error(file,
               "model.safetensors: tensor attention1.theta.weight has shape [64, 16, 1, 1], the "
               "agcnn (range_norm, ft, 3 gates) model expects [64, 32, 1, 1]");

  // A file from the gate-less network.
  expect_error(radgal::nn::state_of(*model(config("cnn"))),
               "model.safetensors: tensor attention1.theta.weight is missing; the agcnn "
               "(range_norm, ft, 3 gates) model expects it with shape [64, 32, 1, 1]");

  // An unexpected tensor.
  file = radgal::nn::state_of(*fresh);
  file.add("extra.weight", Tensor::zeros({3}));
  expect_error(file, "model.safetensors: tensor extra.weight [3] is not part of the agcnn");

  // Non-finite weights: counted and named, nothing copied.
  file = radgal::nn::state_of(*fresh);
  for (auto& [name, t] : file.tensors) {
    if (name != "conv1a.weight") continue;
    t = Tensor::from_vector(t.to_vector(), t.shape());
    t.data()[0] = std::nanf("");
    t.data()[3] = INFINITY;
    t.data()[5] = -INFINITY;
  }
  expect_error(file, "model.safetensors: tensor conv1a.weight holds 3 non-finite values");

  // The published files' extras and omissions are accepted: unused fc1..fc3, no
  // num_batches_tracked.
  file = radgal::nn::state_of(*fresh);
  file.tensors.erase(
      std::remove_if(
          file.tensors.begin(), file.tensors.end(),
          [](const auto& p) { return p.first.find("num_batches_tracked") != std::string::npos; }),
      file.tensors.end());
  file.add("fc1.weight", Tensor::zeros({256, 400}));
  file.add("fc3.bias", Tensor::zeros({2}));
  radgal::nn::load_state(*target, file, "published.safetensors");
  CHECK(radgal::nn::state_of(*target).find("conv1a.weight")->to_vector() ==
        radgal::nn::state_of(*fresh).find("conv1a.weight")->to_vector());
}

TEST_CASE("ModelConfig JSON round trip and validation") {
  ModelConfig c = config("agcnn", "softmax", "concat", 2, 150);
  c.dropout = 0.25f;
  const ModelConfig back = ModelConfig::from_json(c.to_json());
  CHECK(back.to_json() == c.to_json());
  CHECK(ModelConfig::from_json(nlohmann::json::object()).describe() ==
        "agcnn (range_norm, ft, 3 gates)");
  CHECK_THROWS_WITH_AS(ModelConfig::from_json({{"norm", "l2"}}),
                       doctest::Contains("norm 'l2' is not one of"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ModelConfig::from_json({{"gates", 4}}),
                       doctest::Contains("gates must be 0..3"), std::invalid_argument);
  CHECK_THROWS_AS(ModelConfig::from_json({{"gates", "three"}}), std::invalid_argument);
  CHECK_THROWS_AS(model(config("agcnn"))->forward(Tensor::zeros({1, 1, 64, 64})),
                  radgal::ShapeError);
}

TEST_CASE("save_model and load_model round trip a run's model file") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "radgal-models-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string dir = tmpl;

  auto m = model(config("agcnn", "softmax", "mean", 2, 32), 4);
  m->eval();
  radgal::nn::save_model(dir + "/model.safetensors", *m, {{"radgal.subset", "confident"}});
  const auto loaded = radgal::nn::load_model(dir);  // a run directory
  CHECK(loaded.path == dir + "/model.safetensors");
  CHECK(!loaded.published);
  CHECK(loaded.config.to_json() == m->config().to_json());
  CHECK(loaded.metadata.at("radgal.subset") == "confident");
  CHECK(!loaded.model->is_training());
  const Tensor x = images(2, 32, 6);
  CHECK(loaded.model->forward(x).logits.to_vector() == m->forward(x).logits.to_vector());

  CHECK_THROWS_WITH_AS(radgal::nn::load_model(dir + "/nothing"),
                       doctest::Contains("no such file or directory"), std::runtime_error);
  fs::remove(dir + "/model.safetensors");
  CHECK_THROWS_WITH_AS(radgal::nn::load_model(dir), doctest::Contains("not a run directory"),
                       std::runtime_error);
  // model.safetensors being a directory: a clear message naming it, not std::bad_alloc.
  fs::create_directory(dir + "/model.safetensors");
  CHECK_THROWS_WITH_AS(radgal::nn::load_model(dir),
                       doctest::Contains((dir + "/model.safetensors: is a directory").c_str()),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(radgal::nn::read_safetensors(dir),
                       doctest::Contains((dir + ": is a directory").c_str()), std::runtime_error);
  fs::remove_all(dir);
}
