#include "data/subsets.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/labels.h"
#include "tensor/random.h"

namespace radgal {

Subset parse_subset(const std::string& name) {
  if (name == "confident") return Subset::confident;
  if (name == "full") return Subset::full;
  if (name == "uncertain") return Subset::uncertain;
  if (name == "hybrid") return Subset::hybrid;
  if (name == "frdeep") return Subset::frdeep;
  throw std::runtime_error("unknown subset '" + name +
                           "' (expected confident, full, uncertain, hybrid or frdeep)");
}

std::string subset_name(Subset subset) {
  switch (subset) {
    case Subset::confident:
      return "confident";
    case Subset::full:
      return "full";
    case Subset::uncertain:
      return "uncertain";
    case Subset::hybrid:
      return "hybrid";
    case Subset::frdeep:
      return "frdeep";
  }
  return "?";
}

int subset_target(const std::string& label_name, Subset subset) {
  if (subset == Subset::frdeep) {
    if (label_name == "FRI") return 0;
    if (label_name == "FRII") return 1;
    return -1;
  }
  const auto code = parse_label_code(label_name);
  if (!code) return -1;
  const int cls = *code / 100, confidence = *code / 10 % 10;
  switch (subset) {
    case Subset::confident:
      return cls < 3 && confidence == 0 ? cls - 1 : -1;
    case Subset::full:
      return cls < 3 ? cls - 1 : -1;
    case Subset::uncertain:
      return cls < 3 && confidence == 1 ? cls - 1 : -1;
    case Subset::hybrid:
      return cls == 3 ? confidence : -1;
    case Subset::frdeep:
      break;
  }
  return -1;
}

LabeledSet take(const LabeledSet& set, const std::vector<size_t>& indices) {
  LabeledSet out;
  const ImageSet& in = set.images;
  out.images.height = in.height;
  out.images.width = in.width;
  out.images.label_names = in.label_names;
  const size_t image_bytes = size_t(in.height * in.width);
  out.images.pixels.reserve(indices.size() * image_bytes);
  for (size_t i : indices) {
    if (i >= set.size()) throw std::out_of_range("take: index beyond the set");
    out.images.pixels.insert(out.images.pixels.end(), in.image(i), in.image(i) + image_bytes);
    out.images.labels.push_back(in.labels[i]);
    out.images.filenames.push_back(i < in.filenames.size() ? in.filenames[i] : std::string());
    out.targets.push_back(set.targets[i]);
  }
  return out;
}

LabeledSet evenly_spaced(const LabeledSet& set, size_t count) {
  if (count == 0 || count >= set.size()) return set;
  std::vector<size_t> keep(count);
  for (size_t i = 0; i < count; ++i) keep[i] = i * set.size() / count;
  return take(set, keep);
}

LabeledSet concatenate(const LabeledSet& a, const LabeledSet& b) {
  LabeledSet out = a;
  out.images.append(b.images);
  out.targets.insert(out.targets.end(), b.targets.begin(), b.targets.end());
  return out;
}

LabeledSet select_subset(const ImageSet& images, Subset subset) {
  std::vector<int> target_of_label;
  bool any = false;
  for (const std::string& name : images.label_names) {
    target_of_label.push_back(subset_target(name, subset));
    any |= target_of_label.back() >= 0;
  }
  if (!any) {
    std::string names;
    for (const std::string& n : images.label_names) names += (names.empty() ? "" : " ") + n;
    throw std::runtime_error("select_subset: subset '" + subset_name(subset) +
                             "' has no class among the label names [" + names + "]" +
                             (subset == Subset::frdeep ? " (frdeep needs FRI FRII)"
                                                       : " (MiraBest subsets need label codes)"));
  }
  LabeledSet all;
  all.images = images;
  std::vector<size_t> chosen;
  for (size_t i = 0; i < images.size(); ++i) {
    const int label = images.labels[i];
    const int target =
        label >= 0 && size_t(label) < target_of_label.size() ? target_of_label[size_t(label)] : -1;
    all.targets.push_back(target);
    if (target >= 0) chosen.push_back(i);
  }
  return take(all, chosen);
}

std::pair<LabeledSet, LabeledSet> split_train_val(const LabeledSet& set, double val_fraction,
                                                  uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) {
    throw std::runtime_error("split_train_val: val_fraction must lie in [0, 1), got " +
                             std::to_string(val_fraction));
  }
  Generator gen(seed);
  std::vector<size_t> train, val;
  const int max_target =
      set.targets.empty() ? -1 : *std::max_element(set.targets.begin(), set.targets.end());
  for (int t = 0; t <= max_target; ++t) {
    std::vector<size_t> members;
    for (size_t i = 0; i < set.size(); ++i) {
      if (set.targets[i] == t) members.push_back(i);
    }
    gen.shuffle(members);  // the same split on every platform
    const size_t n_val = size_t(std::llround(val_fraction * double(members.size())));
    val.insert(val.end(), members.begin(), members.begin() + n_val);
    train.insert(train.end(), members.begin() + n_val, members.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  return {take(set, train), take(set, val)};
}

}  // namespace radgal
