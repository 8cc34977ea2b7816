// train/metrics against scikit-learn: the cases and sklearn's answers come from
// tests/fixtures/metrics/make_metrics_fixtures.py (metrics_cases.json).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace {

nlohmann::json load_cases() {
  const std::string path = std::string(RADGAL_FIXTURES_DIR) + "/metrics/metrics_cases.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return nlohmann::json::parse(in)["cases"];
}

void check_curve(const std::vector<double>& ours, const nlohmann::json& expected,
                 const std::string& what, size_t skip = 0) {
  REQUIRE_MESSAGE(ours.size() == expected.size() + skip,
                  what << ": " << ours.size() - skip << " points, sklearn has " << expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK_MESSAGE(std::abs(ours[i + skip] - expected[i].get<double>()) < 1e-12,
                  what << "[" << i + skip << "]: ours " << ours[i + skip] << ", sklearn "
                       << expected[i].get<double>());
  }
}

}  // namespace

TEST_CASE("evaluate_binary matches scikit-learn on every fixture case") {
  const nlohmann::json cases = load_cases();
  REQUIRE(cases.size() >= 10);
  for (const auto& c : cases) {
    const std::string name = c["name"].get<std::string>();
    CAPTURE(name);
    const auto targets = c["targets"].get<std::vector<int>>();
    const auto scores = c["scores"].get<std::vector<double>>();
    const radgal::BinaryReport r = radgal::evaluate_binary(targets, scores);

    CHECK(r.n == static_cast<int64_t>(targets.size()));
    CHECK(r.accuracy == doctest::Approx(c["accuracy"].get<double>()).epsilon(1e-12));
    const radgal::ClassMetrics* classes[2] = {&r.fri, &r.frii};
    for (int k = 0; k < 2; ++k) {
      CAPTURE(k);
      CHECK(classes[k]->precision == doctest::Approx(c["precision"][k].get<double>()));
      CHECK(classes[k]->recall == doctest::Approx(c["recall"][k].get<double>()));
      CHECK(classes[k]->f1 == doctest::Approx(c["f1"][k].get<double>()));
      CHECK(classes[k]->support == c["support"][k].get<int64_t>());
      for (int p = 0; p < 2; ++p) CHECK(r.confusion[k][p] == c["confusion"][k][p].get<int64_t>());
    }

    if (c["auc"].is_null()) {
      CHECK(std::isnan(r.auc));
      continue;
    }
    CHECK(r.auc == doctest::Approx(c["auc"].get<double>()).epsilon(1e-12));
    check_curve(r.fpr, c["fpr"], "fpr");
    check_curve(r.tpr, c["tpr"], "tpr");
    REQUIRE(!r.thresholds.empty());
    CHECK(std::isinf(r.thresholds[0]));
    check_curve(r.thresholds, c["thresholds_after_first"], "thresholds", 1);
  }
}

TEST_CASE("evaluate_binary: hand-computed small case") {
  // targets 0 0 1 1 1, scores .2 .6 .7 .4 .9 -> predicted 0 1 1 0 1.
  // confusion [[1, 1], [1, 2]]; FRI P = 1/2, R = 1/2; FRII P = 2/3, R = 2/3; accuracy 3/5.
  // Pairs (pos, neg) ranked correctly: .7>.2,.7>.6, .4>.2, .9>.2,.9>.6 = 5 of 6 -> AUC 5/6.
  const auto r = radgal::evaluate_binary({0, 0, 1, 1, 1}, {0.2, 0.6, 0.7, 0.4, 0.9});
  CHECK(r.confusion[0][0] == 1);
  CHECK(r.confusion[0][1] == 1);
  CHECK(r.confusion[1][0] == 1);
  CHECK(r.confusion[1][1] == 2);
  CHECK(r.accuracy == doctest::Approx(0.6));
  CHECK(r.fri.precision == doctest::Approx(0.5));
  CHECK(r.frii.recall == doctest::Approx(2.0 / 3.0));
  CHECK(r.frii.f1 == doctest::Approx(2.0 / 3.0));
  CHECK(r.auc == doctest::Approx(5.0 / 6.0));
}

TEST_CASE("evaluate_binary rejects bad input with a clear message") {
  CHECK_THROWS_WITH_AS(radgal::evaluate_binary({0, 1}, {0.5}),
                       doctest::Contains("2 targets but 1 scores"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(radgal::evaluate_binary({}, {}), doctest::Contains("no samples"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(radgal::evaluate_binary({0, 2}, {0.1, 0.2}),
                       doctest::Contains("target 1 is 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(radgal::evaluate_binary({0, 1}, {0.1, NAN}),
                       doctest::Contains("score 1 is NaN"), std::invalid_argument);
}
