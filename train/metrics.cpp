#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace radgal {

namespace {

double ratio(int64_t num, int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

ClassMetrics class_metrics(int64_t tp, int64_t fp, int64_t fn) {
  ClassMetrics m;
  m.precision = ratio(tp, tp + fp);
  m.recall = ratio(tp, tp + fn);
  // sklearn computes F1 as 2 tp / (2 tp + fp + fn), which is 0 (not NaN) when all three are 0.
  m.f1 = ratio(2 * tp, 2 * tp + fp + fn);
  m.support = tp + fn;
  return m;
}

// ROC points as sklearn's roc_curve builds them: cumulative true and false positive counts at each
// distinct score, from the highest score down.
void roc_curve(const std::vector<int>& targets, const std::vector<double>& scores,
               BinaryReport& r) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });

  std::vector<int64_t> tps, fps;
  std::vector<double> thresholds;
  int64_t tp = 0;
  for (size_t i = 0; i < n; ++i) {
    tp += targets[order[i]];
    const bool last_of_value = i + 1 == n || scores[order[i + 1]] != scores[order[i]];
    if (!last_of_value) continue;
    tps.push_back(tp);
    fps.push_back(static_cast<int64_t>(i + 1) - tp);
    thresholds.push_back(scores[order[i]]);
  }

  // drop_intermediate: keep the end points and every point where the curve bends.
  std::vector<size_t> keep;
  for (size_t i = 0; i < tps.size(); ++i) {
    const bool interior = i > 0 && i + 1 < tps.size();
    const bool straight = interior && fps[i + 1] - 2 * fps[i] + fps[i - 1] == 0 &&
                          tps[i + 1] - 2 * tps[i] + tps[i - 1] == 0;
    if (tps.size() <= 2 || !straight) keep.push_back(i);
  }

  const int64_t total_p = tps.back(), total_n = fps.back();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.fpr = {total_n > 0 ? 0.0 : nan};
  r.tpr = {total_p > 0 ? 0.0 : nan};
  r.thresholds = {std::numeric_limits<double>::infinity()};
  for (size_t i : keep) {
    r.fpr.push_back(total_n > 0 ? static_cast<double>(fps[i]) / total_n : nan);
    r.tpr.push_back(total_p > 0 ? static_cast<double>(tps[i]) / total_p : nan);
    r.thresholds.push_back(thresholds[i]);
  }

  r.auc = nan;
  if (total_p > 0 && total_n > 0) {
    double area = 0;
    for (size_t i = 1; i < r.fpr.size(); ++i) {
      area += (r.fpr[i] - r.fpr[i - 1]) * (r.tpr[i] + r.tpr[i - 1]) / 2;
    }
    r.auc = area;
  }
}

}  // namespace

BinaryReport evaluate_binary(const std::vector<int>& targets, const std::vector<double>& p_frii) {
  if (targets.size() != p_frii.size()) {
    throw std::invalid_argument("evaluate_binary: " + std::to_string(targets.size()) +
                                " targets but " + std::to_string(p_frii.size()) + " scores");
  }
  if (targets.empty()) throw std::invalid_argument("evaluate_binary: no samples");
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] != 0 && targets[i] != 1) {
      throw std::invalid_argument("evaluate_binary: target " + std::to_string(i) + " is " +
                                  std::to_string(targets[i]) + ", expected 0 (FRI) or 1 (FRII)");
    }
    if (std::isnan(p_frii[i])) {
      throw std::invalid_argument("evaluate_binary: score " + std::to_string(i) + " is NaN");
    }
  }

  BinaryReport r;
  r.n = static_cast<int64_t>(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    const int predicted = p_frii[i] > 0.5 ? 1 : 0;
    ++r.confusion[targets[i]][predicted];
  }
  const auto& c = r.confusion;
  r.accuracy = ratio(c[0][0] + c[1][1], r.n);
  r.fri = class_metrics(c[0][0], c[1][0], c[0][1]);
  r.frii = class_metrics(c[1][1], c[0][1], c[1][0]);
  roc_curve(targets, p_frii, r);
  return r;
}

}  // namespace radgal
