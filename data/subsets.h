// The labelled subsets of MiraBest and FRDEEP-F, and the canonical train / validation split.
//
// Subsets (label code -> target, 0 = FRI, 1 = FRII):
//   confident  MiraBest* of the papers: 100 102 104 -> 0; 200 201 -> 1
//   full       confident and uncertain FRI/FRII, no hybrids: 100 102 104 110 112 -> 0;
//              200 201 210 -> 1
//   uncertain  110 112 -> 0; 210 -> 1
//   hybrid     the hybrids, following the later MiraBest loader: 300 (confident) -> 0,
//              310 (uncertain) -> 1. These targets are not FR classes.
//   frdeep     FRDEEP-F: FRI -> 0, FRII -> 1
// Images whose code is not in the subset are left out; the others keep their order.
//
// The canonical split: test_batch is the test set; the validation set is carved from the
// training batches, stratified by target, with a seeded shuffle. Augmentation is for training
// only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/batches.h"

namespace radgal {

enum class Subset { confident, full, uncertain, hybrid, frdeep };

Subset parse_subset(const std::string& name);  // throws listing the valid names
std::string subset_name(Subset subset);

struct LabeledSet {
  ImageSet images;           // the selected images, labels still index images.label_names
  std::vector<int> targets;  // 0 = FRI, 1 = FRII (see the hybrid note above)
  size_t size() const { return targets.size(); }
};

// Throws when the set's label_names do not fit the subset (MiraBest codes for the first four,
// FRI/FRII for frdeep).
LabeledSet select_subset(const ImageSet& images, Subset subset);

// The target of a label name under a subset, or -1 when the subset leaves that label out.
int subset_target(const std::string& label_name, Subset subset);

// Stratified by target: from each class, round(val_fraction * class size) images chosen by a
// shuffle seeded with `seed` go to validation (second), the rest to training (first). Both keep
// the original relative order. val_fraction must lie in [0, 1).
std::pair<LabeledSet, LabeledSet> split_train_val(const LabeledSet& set, double val_fraction,
                                                  uint64_t seed);

// The images at the given indices, in that order.
LabeledSet take(const LabeledSet& set, const std::vector<size_t>& indices);

// `count` images spread evenly through the set (index i * size / count), all of them when count
// is 0 or not below the size: the batches are sorted by class, so the first images would be one
// class. What `radgal train --limit` keeps, and what evaluate then rebuilds the split from.
LabeledSet evenly_spaced(const LabeledSet& set, size_t count);

// a's images, then b's (same image size and label names, as ImageSet::append requires).
LabeledSet concatenate(const LabeledSet& a, const LabeledSet& b);

}  // namespace radgal
