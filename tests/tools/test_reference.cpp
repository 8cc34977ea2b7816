// Proof of fidelity: radgal's AG-CNN, loaded with the three published AGRadGalNet weight files,
// computes what the original PyTorch code computed. For each set the test_batch images of the
// model's subset are read with data/batches.h, run one at a time in evaluation mode, and compared
// with the published probabilities (every image) and the three gates' attention maps (the first
// 8 images) to within 1e-4, and the single-pass accuracy must be the published one.
//
// The published probabilities are float32 results and for one image in 307 (mirabest_confident
// #74, logits near 81 and 83 built from range-normalised maps summed over 75 x 75 positions) the
// published value itself is 3.9e-4 away from the exact answer. The exact (float64) outputs from
// tests/fixtures/reference/make_float64_reference.py separate that rounding from a real
// difference: an image passes when |p - p_published| <= 1e-4 + |p_published - p_float64|, and
// every image must also lie within 1e-3 of the float64 answer (float32 rounding cannot explain
// more). The count of images within a plain 1e-4 is printed.
//
// Under AddressSanitizer (about 5x slower) only the first 8 images of each set run, which still
// covers every attention map; the accuracy check needs every image and is skipped there.
//
// It lives with the tools tests because it needs both nn and data (test_nn links nn only).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/batches.h"
#include "data/subsets.h"
#include "nn/models.h"
#include "tensor/ops.h"
#include "tools/inference.h"

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kImageLimit = 8;
#else
constexpr size_t kImageLimit = SIZE_MAX;
#endif

struct ReferenceSet {
  const char* name;     // agcnn_<name>.{weights,outputs}.safetensors
  const char* batches;  // folder under the shared data dir
  radgal::Subset subset;
  int correct, total;  // published single-pass accuracy
};

const ReferenceSet kSets[] = {
    {"mirabest_confident", "mirabest/batches", radgal::Subset::confident, 99, 104},
    {"mirabest_full", "mirabest/batches", radgal::Subset::full, 130, 153},
    {"frdeep_f", "frdeep-f/batches", radgal::Subset::frdeep, 44, 50},
};

void check_set(const ReferenceSet& set) {
  const std::string data = RADGAL_SHARED_DATA_DIR;
  const std::string prefix = data + "/reference/agcnn_" + set.name;
  const radgal::nn::LoadedModel loaded = radgal::nn::load_model(prefix + ".weights.safetensors");
  CHECK(loaded.published);
  CHECK(loaded.config.describe() == "agcnn (range_norm, ft, 3 gates)");
  const radgal::nn::NamedTensors ref =
      radgal::nn::read_safetensors(prefix + ".outputs.safetensors");

  const radgal::ImageSet test = radgal::read_batch_dir(data + "/" + set.batches, "test");
  const radgal::LabeledSet selected = radgal::select_subset(test, set.subset);

  // The selection must be the published one, image for image.
  const std::vector<float> label_index = ref.find("label_index")->to_vector();
  const std::vector<float> target = ref.find("target")->to_vector();
  REQUIRE(selected.size() == label_index.size());
  REQUIRE(static_cast<int>(selected.size()) == set.total);
  for (size_t i = 0; i < selected.size(); ++i) {
    REQUIRE(selected.images.labels[i] == static_cast<int>(label_index[i]));
    REQUIRE(selected.targets[i] == static_cast<int>(target[i]));
  }

  const std::vector<float> probabilities = ref.find("probabilities")->to_vector();
  std::ifstream exact_file(std::string(RADGAL_FIXTURES_DIR) + "/reference/float64_outputs.json");
  REQUIRE(exact_file.good());
  const std::vector<double> exact =
      nlohmann::json::parse(exact_file)[set.name]["p_frii"].get<std::vector<double>>();
  REQUIRE(exact.size() == selected.size());
  const radgal::Tensor* maps[3] = {ref.find("attention1"), ref.find("attention2"),
                                   ref.find("attention3")};
  const int64_t mapped = maps[0]->size(0);
  const int64_t h = selected.images.height, w = selected.images.width;
  const size_t count = std::min(selected.size(), kImageLimit);

  radgal::NoGradGuard no_grad;
  float worst_probability = 0, worst_map = 0;
  double worst_exact = 0;
  int correct = 0, within = 0;
  for (size_t i = 0; i < count; ++i) {
    const radgal::Tensor x = radgal::tools::grey_levels_to_input(selected.images.image(i), 1, h, w);
    const radgal::nn::ClassifierOutput out = loaded.model->forward(x);
    const std::vector<float> p = radgal::softmax(out.logits, 1).to_vector();
    float diff = 0;
    for (int k = 0; k < 2; ++k) diff = std::max(diff, std::abs(p[k] - probabilities[2 * i + k]));
    worst_probability = std::max(worst_probability, diff);
    within += diff <= 1e-4f;
    const double published_rounding = std::abs(probabilities[2 * i + 1] - exact[i]);
    const double from_exact = std::abs(p[1] - exact[i]);
    worst_exact = std::max(worst_exact, from_exact);
    CHECK_MESSAGE(diff <= 1e-4 + published_rounding,
                  "image " << i << ": p(FRII) " << p[1] << ", published "
                           << probabilities[2 * i + 1] << ", float64 " << exact[i]);
    CHECK_MESSAGE(from_exact <= 1e-3,
                  "image " << i << ": p(FRII) " << p[1] << ", float64 " << exact[i]);
    correct += (p[1] > p[0] ? 1 : 0) == selected.targets[i];

    if (static_cast<int64_t>(i) >= mapped) continue;
    REQUIRE(out.attention.size() == 3);
    for (int g = 0; g < 3; ++g) {
      const radgal::Tensor expected = maps[g]->select(0, static_cast<int64_t>(i));  // (1, H, W)
      REQUIRE(out.attention[g].shape() == radgal::Shape{1, 1, expected.size(1), expected.size(2)});
      const std::vector<float> ours = out.attention[g].to_vector(), theirs = expected.to_vector();
      for (size_t j = 0; j < ours.size(); ++j) {
        worst_map = std::max(worst_map, std::abs(ours[j] - theirs[j]));
      }
    }
  }
  MESSAGE(std::string(set.name) << ": " << count << " images, " << within
                                << " within 1e-4 of the published p; max |p - "
                                << "p_published| = " << worst_probability
                                << ", max |p - p_float64| = " << worst_exact
                                << ", max |alpha - alpha_published| = " << worst_map << " (first "
                                << mapped << "), accuracy " << correct << "/" << count);
  CHECK(worst_map < 1e-4f);
  if (count == selected.size()) CHECK(correct == set.correct);
}

}  // namespace

TEST_CASE("fidelity: agcnn_mirabest_confident reproduces the published outputs") {
  check_set(kSets[0]);
}

TEST_CASE("fidelity: agcnn_mirabest_full reproduces the published outputs") {
  check_set(kSets[1]);
}

TEST_CASE("fidelity: agcnn_frdeep_f reproduces the published outputs") {
  check_set(kSets[2]);
}
