// Label codes, source names, subsets and the stratified validation split.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "data/labels.h"
#include "data/subsets.h"
#include "data_test_util.h"

using radgal::Subset;

namespace {

std::pair<int, int> class_counts(const radgal::LabeledSet& s) {
  int fri = 0, frii = 0;
  for (int t : s.targets) (t == 0 ? fri : frii) += 1;
  return {fri, frii};
}

}  // namespace

TEST_CASE("labels: codes are described digit by digit") {
  auto d = radgal::describe_label_code(102);
  REQUIRE(d);
  CHECK(d->fr_class == "FRI");
  CHECK(d->confidence == "confident");
  CHECK(d->morphology == "wide-angle tail");
  d = radgal::describe_label_code(201);
  CHECK(d->morphology == "double-double");
  d = radgal::describe_label_code(310);
  CHECK(d->fr_class == "hybrid");
  CHECK(d->confidence == "uncertain");
  CHECK(d->morphology == "-");
  CHECK(radgal::describe_label_code(104)->morphology == "head-tail");
  CHECK_FALSE(radgal::describe_label_code(400));
  CHECK_FALSE(radgal::describe_label_code(105));
  CHECK_FALSE(radgal::describe_label_code(120));
  CHECK_FALSE(radgal::describe_label_code(302));
  CHECK(radgal::parse_label_code("210") == 210);
  CHECK_FALSE(radgal::parse_label_code("FRI"));
  CHECK_FALSE(radgal::parse_label_code("2100"));
}

TEST_CASE("labels: source names from batch and FITS file names") {
  auto s = radgal::parse_source_name("./MiraBest_data/100_188.320+019.481_0.2282_0049.17.png");
  REQUIRE(s);
  CHECK(s->stem == "100_188.320+019.481_0.2282_0049.17");
  CHECK(s->code == 100);
  CHECK(s->ra_deg == doctest::Approx(188.320));
  CHECK(s->dec_deg == doctest::Approx(19.481));
  CHECK(s->redshift == doctest::Approx(0.2282));
  CHECK(s->size_arcsec == doctest::Approx(49.17));
  s = radgal::parse_source_name("/x/y/210_348.925-000.435_0.0910_0050.37.fits.fz");
  REQUIRE(s);
  CHECK(s->stem == "210_348.925-000.435_0.0910_0050.37");
  CHECK(s->dec_deg == doctest::Approx(-0.435));
  CHECK(radgal::parse_source_name("210_348.925-000.435_0.0910_0050.37")->size_arcsec ==
        doctest::Approx(50.37));
  CHECK_FALSE(radgal::parse_source_name("54_FRICAT_FR1_example.png"));
  CHECK_FALSE(radgal::parse_source_name("100_188.320_0.2282_0049.17.png"));
  CHECK_FALSE(radgal::parse_source_name("100_188.320+019.481_0.2282_inf.png"));
  CHECK_FALSE(radgal::parse_source_name(""));
}

TEST_CASE("subsets: MiraBest subsets have the published sizes") {
  const radgal::ImageSet all = radgal::read_batch_dir(radgal::test::kMiraBestBatches, "all");
  const radgal::ImageSet test = radgal::read_batch_dir(radgal::test::kMiraBestBatches, "test");
  // MiraBest confident: 397 FRI + 436 FRII, of which 49 + 55 in test_batch.
  CHECK(class_counts(select_subset(all, Subset::confident)) == std::make_pair(397, 436));
  CHECK(class_counts(select_subset(test, Subset::confident)) == std::make_pair(49, 55));
  // Full (no hybrids): 591 + 631; the published full test set has 153 images.
  CHECK(class_counts(select_subset(all, Subset::full)) == std::make_pair(591, 631));
  CHECK(select_subset(test, Subset::full).size() == 153);
  CHECK(class_counts(select_subset(all, Subset::uncertain)) == std::make_pair(194, 195));
  CHECK(class_counts(select_subset(all, Subset::hybrid)) == std::make_pair(19, 15));
  CHECK_THROWS_WITH(select_subset(all, Subset::frdeep), doctest::Contains("frdeep needs FRI"));

  // Selection keeps order and the original label indices.
  const radgal::LabeledSet conf = select_subset(test, Subset::confident);
  for (size_t i = 0; i < conf.size(); ++i) {
    const std::string code = conf.images.label_names[size_t(conf.images.labels[i])];
    CHECK(conf.targets[i] == (code[0] == '1' ? 0 : 1));
    CHECK(code[1] == '0');
  }
  CHECK(radgal::parse_subset("full") == Subset::full);
  CHECK_THROWS_WITH(radgal::parse_subset("all"), doctest::Contains("expected confident"));
}

TEST_CASE("subsets: concatenate keeps both sets' images, labels and order") {
  const radgal::ImageSet train = radgal::read_batch_dir(radgal::test::kMiraBestBatches, "train");
  const radgal::LabeledSet conf = select_subset(train, Subset::confident);
  const radgal::LabeledSet unc = select_subset(train, Subset::uncertain);
  const radgal::LabeledSet both = radgal::concatenate(conf, unc);
  REQUIRE(both.size() == conf.size() + unc.size());
  CHECK(both.images.pixels.size() == both.size() * 150 * 150);
  for (size_t i : {size_t(0), conf.size() - 1, conf.size(), both.size() - 1}) {
    const bool first = i < conf.size();
    const radgal::LabeledSet& from = first ? conf : unc;
    const size_t j = first ? i : i - conf.size();
    CHECK(both.targets[i] == from.targets[j]);
    CHECK(both.images.filenames[i] == from.images.filenames[j]);
    CHECK(both.images.label_names[size_t(both.images.labels[i])] ==
          from.images.label_names[size_t(from.images.labels[j])]);
    CHECK(std::equal(from.images.image(j), from.images.image(j) + 150 * 150,
                     both.images.image(i)));
  }
  // The two MiraBest subsets share no image: together they are the full subset's images.
  CHECK(both.size() == select_subset(train, Subset::full).size());

  radgal::LabeledSet small;
  small.images.height = small.images.width = 2;
  small.images.label_names = conf.images.label_names;
  small.images.pixels.assign(4, 0);
  small.images.labels.push_back(0);
  small.targets.push_back(0);
  CHECK_THROWS(radgal::concatenate(conf, small));  // another image size
}

TEST_CASE("subsets: evenly_spaced keeps images i * size / count, or all of them") {
  radgal::LabeledSet set;
  set.images.height = set.images.width = 1;
  set.images.label_names = {"FRI", "FRII"};
  for (int i = 0; i < 10; ++i) {
    set.targets.push_back(i < 5 ? 0 : 1);  // sorted by class, as the batches are
    set.images.labels.push_back(i < 5 ? 0 : 1);
    set.images.filenames.push_back(std::to_string(i));
    set.images.pixels.push_back(uint8_t(i));
  }
  const radgal::LabeledSet four = radgal::evenly_spaced(set, 4);
  CHECK(four.images.pixels == std::vector<uint8_t>{0, 2, 5, 7});
  CHECK(four.targets == std::vector<int>{0, 0, 1, 1});  // both classes, not the first four
  CHECK(radgal::evenly_spaced(set, 0).size() == 10);
  CHECK(radgal::evenly_spaced(set, 10).size() == 10);
  CHECK(radgal::evenly_spaced(set, 25).size() == 10);
}

TEST_CASE("subsets: FRDEEP-F maps FRI/FRII and refuses MiraBest subsets") {
  const radgal::ImageSet test = radgal::read_batch_dir(radgal::test::kFrdeepBatches, "test");
  CHECK(class_counts(select_subset(test, Subset::frdeep)) == std::make_pair(22, 28));
  CHECK_THROWS(select_subset(test, Subset::confident));
}

TEST_CASE("subsets: the validation split is stratified, disjoint, complete and seeded") {
  radgal::LabeledSet set;
  set.images.height = set.images.width = 1;
  set.images.label_names = {"FRI", "FRII"};
  for (int i = 0; i < 103; ++i) {
    const int target = i % 3 == 0 ? 1 : 0;  // 35 FRII, 68 FRI
    set.targets.push_back(target);
    set.images.labels.push_back(target);
    set.images.filenames.push_back(std::to_string(i));
    set.images.pixels.push_back(uint8_t(i));
  }
  const auto [train, val] = radgal::split_train_val(set, 0.2, 7);
  CHECK(class_counts(val) == std::make_pair(14, 7));  // round(0.2 * 68), round(0.2 * 35)
  CHECK(train.size() + val.size() == 103);
  std::set<int> seen;
  for (uint8_t p : train.images.pixels) seen.insert(p);
  for (uint8_t p : val.images.pixels) seen.insert(p);
  CHECK(seen.size() == 103);
  // Images travel with their targets and names, and keep their relative order.
  for (size_t i = 0; i < val.size(); ++i) {
    CHECK(val.targets[i] == (val.images.pixels[i] % 3 == 0 ? 1 : 0));
    CHECK(val.images.filenames[i] == std::to_string(val.images.pixels[i]));
    if (i) CHECK(val.images.pixels[i - 1] < val.images.pixels[i]);
  }
  // Same seed, same split; another seed, another split.
  CHECK(radgal::split_train_val(set, 0.2, 7).second.images.pixels == val.images.pixels);
  CHECK(radgal::split_train_val(set, 0.2, 8).second.images.pixels != val.images.pixels);
  CHECK(radgal::split_train_val(set, 0.0, 7).second.size() == 0);
  CHECK_THROWS(radgal::split_train_val(set, 1.0, 7));
  CHECK_THROWS(radgal::split_train_val(set, -0.1, 7));
}
