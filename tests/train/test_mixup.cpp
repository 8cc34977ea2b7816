// Mixup: the drawn weight and permutation, the blend of images and labels, and its place in the
// training loop (it changes training, a seed still fixes the run, resume stays bit for bit, the
// setting survives the config's JSON and bad values are refused).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "tensor/random.h"
#include "train/mixup.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

using namespace radgal;
using radgal::test::TempDir;
using radgal::test::weights_of;

TEST_CASE("mixup: partners form a uniformly random permutation and lambda lies in [0, 1]") {
  Generator g(11);
  const size_t n = 5;
  std::vector<std::vector<int>> counts(n, std::vector<int>(n, 0));
  const int draws = 10000;
  double lambda_sum = 0;
  for (int d = 0; d < draws; ++d) {
    const Mixup m = draw_mixup(g, n, 0.3);
    REQUIRE(m.partner.size() == n);
    std::vector<size_t> sorted = m.partner;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);  // a permutation
    REQUIRE(m.lambda >= 0.f);
    REQUIRE(m.lambda <= 1.f);
    lambda_sum += m.lambda;
    for (size_t i = 0; i < n; ++i) ++counts[i][m.partner[i]];
  }
  CHECK(lambda_sum / draws == doctest::Approx(0.5).epsilon(0.03));  // Beta(a, a) is symmetric
  // Every position meets every partner about draws / n = 2000 times (sd ~ 40).
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) CHECK(std::abs(counts[i][j] - draws / int(n)) < 200);

  // One generator state, one draw.
  Generator a(3), b(3);
  const Mixup ma = draw_mixup(a, 16, 0.2), mb = draw_mixup(b, 16, 0.2);
  CHECK(ma.lambda == mb.lambda);
  CHECK(ma.partner == mb.partner);
}

TEST_CASE("mixup: images and labels are blended with their partners") {
  // Three images of 2 x 2 pixels, image i filled with 10 * (i + 1) plus the pixel index.
  std::vector<float> values;
  for (int i = 0; i < 3; ++i)
    for (int p = 0; p < 4; ++p) values.push_back(float(10 * (i + 1) + p));
  const Tensor images = Tensor::from_vector(values, {3, 1, 2, 2});
  Mixup m;
  m.lambda = 0.25f;
  m.partner = {2, 0, 1};
  const Tensor out = blend_images(images, m);
  CHECK(out.shape() == images.shape());
  const std::vector<float> v = out.to_vector();
  for (int i = 0; i < 3; ++i)
    for (int p = 0; p < 4; ++p) {
      const float own = float(10 * (i + 1) + p);
      const float other = float(10 * (int(m.partner[size_t(i)]) + 1) + p);
      CHECK(v[size_t(i * 4 + p)] == doctest::Approx(0.25f * own + 0.75f * other));
    }
  CHECK(images.to_vector() == values);  // the input is left as it was

  CHECK(partner_targets({0, 1, 1}, m) == std::vector<int64_t>{1, 0, 1});

  Mixup identity;
  identity.lambda = 1.f;
  identity.partner = {1, 2, 0};
  CHECK(blend_images(images, identity).to_vector() == values);

  // A non-contiguous batch (a transposed view) blends its logical contents.
  const Tensor transposed = images.transpose(2, 3);
  const Tensor out_t = blend_images(transposed, m);
  CHECK(out_t.to_vector() == blend_images(transposed.contiguous(), m).to_vector());

  Mixup wrong;
  wrong.partner = {0, 1};
  CHECK_THROWS_AS(blend_images(images, wrong), std::invalid_argument);
  CHECK_THROWS_AS(partner_targets({0, 1, 0}, wrong), std::invalid_argument);
}

TEST_CASE("mixup in training: changes the run, a seed fixes it, resume stays bit for bit") {
  const LabeledSet train = radgal::test::toy_set(20, 16, 1), val = radgal::test::toy_set(8, 16, 2);
  TrainConfig plain = radgal::test::tiny_config();
  plain.epochs = 2;
  TrainConfig mixed = plain;
  mixed.mixup_alpha = 0.4;

  Trainer without(plain, train, val);
  without.fit();
  Trainer with(mixed, train, val);
  with.fit();
  Trainer again(mixed, train, val);
  again.fit();
  CHECK(weights_of(with) != weights_of(without));
  CHECK(weights_of(with) == weights_of(again));
  CHECK(with.history()[1].train_loss == again.history()[1].train_loss);
  CHECK(with.history()[1].train_loss != without.history()[1].train_loss);

  TempDir split_dir("mixup-resume");
  {
    Trainer first(mixed, train, val, split_dir.str());
    first.run_epoch();
  }
  Trainer second(mixed, train, val, split_dir.str());
  second.resume(split_dir.str("checkpoint.safetensors"));
  second.fit();
  CHECK(weights_of(second) == weights_of(with));
  CHECK(second.history()[1].train_loss == with.history()[1].train_loss);

  // A checkpoint of a run without mixup is not continued with it.
  TempDir plain_dir("mixup-mismatch");
  {
    Trainer first(plain, train, val, plain_dir.str());
    first.run_epoch();
  }
  Trainer other(mixed, train, val, plain_dir.str());
  CHECK_THROWS_WITH_AS(other.resume(plain_dir.str("checkpoint.safetensors")),
                       doctest::Contains("mixup_alpha"), std::runtime_error);
}

TEST_CASE("mixup: the setting survives JSON, older configs read it as off, bad values fail") {
  TrainConfig c = radgal::test::tiny_config();
  c.mixup_alpha = 0.2;
  const TrainConfig back = TrainConfig::from_json(nlohmann::json::parse(c.to_json().dump()));
  CHECK(back.mixup_alpha == 0.2);
  nlohmann::json older = c.to_json();
  older["augment"].erase("mixup_alpha");
  CHECK(TrainConfig::from_json(older).mixup_alpha == 0.0);

  TrainConfig bad = c;
  bad.mixup_alpha = -0.1;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("mixup"), std::invalid_argument);
  bad.mixup_alpha = std::nan("");
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("mixup"), std::invalid_argument);
  bad.mixup_alpha = 0;
  CHECK_NOTHROW(bad.validate());
}
