// The batch loader: normalisation, order, the (seed, epoch) determinism at any prefetch depth,
// and clean shutdown.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "data/loader.h"

using radgal::Batch;
using radgal::Loader;
using radgal::LoaderOptions;

namespace {

radgal::LabeledSet make_set(int n, int64_t side = 6) {
  radgal::LabeledSet set;
  set.images.height = set.images.width = side;
  set.images.label_names = {"FRI", "FRII"};
  for (int i = 0; i < n; ++i) {
    set.targets.push_back(i % 2);
    set.images.labels.push_back(i % 2);
    set.images.filenames.push_back(std::to_string(i));
    for (int64_t p = 0; p < side * side; ++p)
      set.images.pixels.push_back(uint8_t((i * 31 + p) % 256));
  }
  return set;
}

// Every batch of one epoch, flattened: indices, then image values.
std::pair<std::vector<int64_t>, std::vector<float>> run_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<int64_t> indices;
  std::vector<float> values;
  Batch b;
  while (loader.next(b)) {
    indices.insert(indices.end(), b.indices.begin(), b.indices.end());
    const std::vector<float> v = b.images.to_vector();
    values.insert(values.end(), v.begin(), v.end());
  }
  return {indices, values};
}

}  // namespace

TEST_CASE("loader: images_to_tensor maps 0 to -1 and 255 to 1") {
  const uint8_t px[] = {0, 255, 51, 204};
  const radgal::Tensor t = radgal::images_to_tensor(px, 1, 2, 2);
  CHECK(t.shape() == radgal::Shape{1, 1, 2, 2});
  const std::vector<float> v = t.to_vector();
  CHECK(v[0] == -1.f);
  CHECK(v[1] == 1.f);
  CHECK(v[2] == doctest::Approx(-0.6f));
  CHECK(v[3] == doctest::Approx(0.6f));
}

TEST_CASE("loader: without shuffle the batches follow the set, last one smaller") {
  const radgal::LabeledSet set = make_set(10);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  Loader loader(set, o);
  CHECK(loader.batches_per_epoch() == 3);
  Batch b;
  CHECK_FALSE(loader.next(b));  // no epoch started yet
  loader.start_epoch(0);
  std::vector<int64_t> sizes;
  int64_t expected_index = 0;
  while (loader.next(b)) {
    sizes.push_back(b.images.size(0));
    CHECK(b.images.shape() == radgal::Shape{b.images.size(0), 1, 6, 6});
    const std::vector<float> v = b.images.to_vector();
    for (size_t k = 0; k < b.indices.size(); ++k) {
      CHECK(b.indices[k] == expected_index);
      CHECK(b.targets[k] == expected_index % 2);
      const uint8_t* img = set.images.image(size_t(expected_index));
      for (int p = 0; p < 36; ++p) CHECK(v[k * 36 + size_t(p)] == float(img[p]) / 127.5f - 1.f);
      ++expected_index;
    }
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK_FALSE(loader.next(b));

  o.drop_last = true;
  Loader dropping(set, o);
  CHECK(dropping.batches_per_epoch() == 2);
}

TEST_CASE("loader: shuffled epochs are permutations, a pure function of (seed, epoch)") {
  const radgal::LabeledSet set = make_set(23);
  LoaderOptions o;
  o.batch_size = 5;
  o.seed = 42;
  o.augment = true;
  o.augment_options.hflip = true;
  Loader a(set, o);
  const auto e0 = run_epoch(a, 0);
  const auto e1 = run_epoch(a, 1);
  std::vector<int64_t> sorted = e0.first;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(23);
  std::iota(all.begin(), all.end(), 0);
  CHECK(sorted == all);
  CHECK(e0.first != e1.first);

  // A fresh loader resuming at epoch 1, with any prefetch depth, gives the same stream.
  for (int prefetch : {0, 1, 4}) {
    CAPTURE(prefetch);
    o.prefetch = prefetch;
    Loader b(set, o);
    const auto again = run_epoch(b, 1);
    CHECK(again.first == e1.first);
    CHECK(again.second == e1.second);
  }
  o.seed = 43;
  Loader c(set, o);
  CHECK(run_epoch(c, 1).first != e1.first);
}

TEST_CASE("loader: restarting mid-epoch and destroying with batches pending are clean") {
  const radgal::LabeledSet set = make_set(40);
  LoaderOptions o;
  o.batch_size = 3;
  o.prefetch = 3;
  Batch b;
  {
    Loader loader(set, o);
    loader.start_epoch(0);
    REQUIRE(loader.next(b));
    loader.start_epoch(0);  // abandon the rest of the epoch
    int n = 0;
    while (loader.next(b)) ++n;
    CHECK(n == loader.batches_per_epoch());
    loader.start_epoch(1);
    REQUIRE(loader.next(b));
  }  // destroyed with the producer blocked on a full queue
  LoaderOptions empty_batches;
  empty_batches.batch_size = 0;
  CHECK_THROWS(Loader(set, empty_batches));
}
