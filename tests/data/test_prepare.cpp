// MiraBest preparation: sigma clipping and the whole pipeline against numpy
// (tests/data/make_data_fixtures.py), edge cases, and a handful of real cutouts against the
// release batches.
#include <doctest/doctest.h>

#include <cmath>

#include "data/batches.h"
#include "data/labels.h"
#include "data/md5.h"
#include "data/prepare.h"
#include "data_test_util.h"

using radgal::FitsImage;
using radgal::PrepareOptions;

namespace {

// The float32 formulas of make_data_fixtures.py, evaluated in the same order.
std::vector<float> clip_input() {
  std::vector<float> v(2000);
  for (int64_t i = 0; i < 2000; ++i) v[size_t(i)] = float((i * 7919) % 1001 - 500) * 2e-6f;
  for (size_t i = 0; i < v.size(); i += 97) v[i] = 0.05f;
  v[5] = -0.02f;
  return v;
}

FitsImage synthetic_cutout() {
  FitsImage img;
  img.width = img.height = 300;
  img.pixels.resize(300 * 300);
  img.invalid.assign(300 * 300, 0);
  for (int64_t y = 0; y < 300; ++y) {
    for (int64_t x = 0; x < 300; ++x) {
      const int64_t k = ((y * 300 + x) * 2654435761LL) % 2001 - 1000;
      float v = float(k) * 1e-6f;
      const int64_t d2 = (x - 150) * (x - 150) + (y - 150) * (y - 150);
      if (d2 >= 400 && d2 < 1600) v += 0.004f + 1e-5f * float(x + y);
      if (d2 < 16) v += 0.02f;
      img.pixels[size_t(y * 300 + x)] = v;
    }
  }
  return img;
}

FitsImage constant_image(int64_t side, float value) {
  FitsImage img;
  img.width = img.height = side;
  img.pixels.assign(size_t(side * side), value);
  img.invalid.assign(size_t(side * side), std::isfinite(value) ? 0 : 1);
  return img;
}

}  // namespace

TEST_CASE("prepare: sigma-clipped statistics match numpy's astropy-style clipping") {
  const auto& ref = radgal::test::fixtures()["sigma_clip"];
  const std::vector<float> v = clip_input();
  const radgal::SigmaClipStats s = radgal::sigma_clipped_stats(v.data(), int64_t(v.size()));
  CHECK(s.count == ref["count"].get<int64_t>());
  CHECK(s.iterations == ref["iterations"].get<int>());
  CHECK(s.median == doctest::Approx(ref["median"].get<double>()).epsilon(1e-9));
  CHECK(s.mean == doctest::Approx(ref["mean"].get<double>()).epsilon(1e-6));
  CHECK(s.stddev == doctest::Approx(ref["stddev"].get<double>()).epsilon(1e-9));
}

TEST_CASE("prepare: sigma clipping worked by hand") {
  // {1, 2, 3, 4, 100}: median 3, std 39.0; nothing is beyond 3 sigma, so one pass keeps all.
  const float a[] = {1, 2, 3, 4, 100};
  radgal::SigmaClipStats s = radgal::sigma_clipped_stats(a, 5);
  CHECK(s.count == 5);
  CHECK(s.iterations == 1);
  CHECK(s.median == 3.0);
  CHECK(s.mean == doctest::Approx(22.0));
  // Twenty values alternating 0 and 1 plus one 50: the 50 lies beyond 3 sigma of the median 1
  // (std 10.6) in pass one; pass two drops nothing, and the median of the even count is 0.5.
  std::vector<float> b;
  for (int i = 0; i < 20; ++i) b.push_back(float(i % 2));
  b.push_back(50);
  s = radgal::sigma_clipped_stats(b.data(), int64_t(b.size()));
  CHECK(s.count == 20);
  CHECK(s.iterations == 2);
  CHECK(s.median == 0.5);
  CHECK(s.stddev == doctest::Approx(0.5));
  CHECK_THROWS(radgal::sigma_clipped_stats(a, 0));
}

TEST_CASE("prepare: a synthetic cutout matches numpy's preparation exactly") {
  const auto& ref = radgal::test::fixtures()["synthetic_prepare"];
  const radgal::PreparedImage p = radgal::prepare_mirabest_detailed(synthetic_cutout());
  CHECK(p.noise.stddev == doctest::Approx(ref["noise_stddev"].get<double>()).epsilon(1e-9));
  int nonzero = 0;
  for (uint8_t v : p.pixels) nonzero += v > 0;
  CHECK(nonzero == ref["nonzero"].get<int>());
  for (const auto& px : ref["pixels"]) {
    const int y = px["y"].get<int>(), x = px["x"].get<int>();
    CAPTURE(y);
    CAPTURE(x);
    CHECK(int(p.pixels[size_t(y * 150 + x)]) == px["value"].get<int>());
  }
  CHECK(radgal::md5_hex(p.pixels.data(), p.pixels.size()) == ref["md5"].get<std::string>());
}

TEST_CASE("prepare: the circular mask keeps only the source's disc") {
  FitsImage img = synthetic_cutout();
  PrepareOptions options;
  options.circular_mask = true;
  options.source_size_arcsec = 36;  // 20 pixels across: radius ceil(20 / 2) = 10
  const std::vector<uint8_t> masked = radgal::prepare_mirabest(img, options);
  int outside_nonzero = 0, inside_nonzero = 0;
  for (int y = 0; y < 150; ++y) {
    for (int x = 0; x < 150; ++x) {
      const int d2 = (x - 75) * (x - 75) + (y - 75) * (y - 75);
      (d2 > 100 ? outside_nonzero : inside_nonzero) += masked[size_t(y * 150 + x)] > 0;
    }
  }
  CHECK(outside_nonzero == 0);
  CHECK(inside_nonzero > 0);
  // Without a size the radius is half the crop: the ring (radius 20..40) survives.
  options.source_size_arcsec = 0;
  const std::vector<uint8_t> wide = radgal::prepare_mirabest(img, options);
  CHECK(wide[size_t(75 * 150 + 75 + 30)] > 0);
}

TEST_CASE("prepare: all-NaN, all-zero and too-small images have documented results") {
  const radgal::PreparedImage nan = radgal::prepare_mirabest_detailed(constant_image(300, NAN));
  CHECK(nan.invalid_pixels == 90000);
  CHECK(nan.pixels == std::vector<uint8_t>(22500, 0));
  CHECK(radgal::prepare_mirabest(constant_image(300, 0.f)) == std::vector<uint8_t>(22500, 0));
  CHECK(radgal::prepare_mirabest(constant_image(150, 1.f)) == std::vector<uint8_t>(22500, 0));
  CHECK_THROWS_WITH_AS(radgal::prepare_mirabest(constant_image(100, 1.f)),
                       doctest::Contains("smaller than the 150 x 150 crop"), std::runtime_error);
}

TEST_CASE("prepare: real cutouts agree with their release images") {
  // Test-batch images 0, 1 and 156, and data_batch_4 images 45 and 104, whose cutouts have
  // NaN edges. The release was made from unquantised cutouts, so agreement is to a small mean
  // absolute difference in grey levels, not bit for bit.
  const std::pair<const char*, size_t> cases[] = {{"test_batch", 0},
                                                  {"test_batch", 1},
                                                  {"test_batch", 156},
                                                  {"data_batch_4", 45},
                                                  {"data_batch_4", 104}};
  for (const auto& [batch, index] : cases) {
    const radgal::ImageSet set =
        radgal::read_batch_file(radgal::test::kMiraBestBatches + "/" + batch);
    const auto name = radgal::parse_source_name(set.filenames[index]);
    REQUIRE(name);
    CAPTURE(name->stem);
    const FitsImage img =
        radgal::read_fits(radgal::test::kMiraBestFits + "/" + name->stem + ".fits.fz");
    const std::vector<uint8_t> p = radgal::prepare_mirabest(img);
    double mad = 0;
    for (size_t i = 0; i < p.size(); ++i) mad += std::abs(int(p[i]) - int(set.image(index)[i]));
    mad /= double(p.size());
    CHECK(mad < 0.1);
  }
}
