// Binary classification metrics with scikit-learn's semantics, so radgal's numbers compare with
// the published ones (which used sklearn): class 0 = FRI, class 1 = FRII (the positive class for
// the ROC curve).
//
// - Prediction: FRII when p_frii > 0.5, else FRI (argmax of (1 - p, p) with ties going to class
//   0, as numpy's argmax does).
// - precision, recall, f1 per class: sklearn's precision_recall_fscore_support(average=None) with
//   zero_division = 0: a ratio whose denominator is 0 is 0.
// - confusion[t][p]: count of true class t predicted as p (rows true, columns predicted).
// - fpr, tpr, thresholds: sklearn's roc_curve(targets, p_frii) with drop_intermediate = True:
//   one point per distinct score (ties form one step), collinear interior points dropped, and a
//   first point (0, 0) with threshold +infinity. When one class is absent the corresponding rate
//   is NaN, as in sklearn.
// - auc: trapezoidal area under that curve, equal to roc_auc_score; NaN when only one class is
//   present (sklearn raises an error there).
#pragma once

#include <cstdint>
#include <vector>

namespace radgal {

struct ClassMetrics {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;  // number of true members of the class
};

struct BinaryReport {
  double accuracy = 0, auc = 0;
  ClassMetrics fri, frii;
  int64_t confusion[2][2] = {{0, 0}, {0, 0}};  // rows true, columns predicted
  std::vector<double> fpr, tpr, thresholds;
  int64_t n = 0;
};

// targets: 0 (FRI) or 1 (FRII); p_frii in [0, 1] (any real score works for the ROC). Sizes must
// match and be non-zero; throws std::invalid_argument otherwise or on a target not in {0, 1}.
BinaryReport evaluate_binary(const std::vector<int>& targets, const std::vector<double>& p_frii);

}  // namespace radgal
