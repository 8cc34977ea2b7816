// Augmentation: exact pixel permutations for the right angles and flips, bilinear values for
// sub-pixel shifts, and the seeded draw.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "data/augment.h"

using radgal::AffineParams;

namespace {

constexpr int64_t kN = 5;

std::vector<uint8_t> ramp() {
  std::vector<uint8_t> v(kN * kN);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(10 + 7 * i);
  return v;
}

std::vector<float> apply(const std::vector<uint8_t>& in, const AffineParams& p) {
  std::vector<float> out(in.size(), -1.f);
  radgal::apply_affine(in.data(), kN, kN, p, out.data());
  return out;
}

float in_at(const std::vector<uint8_t>& in, int64_t row, int64_t col) {
  return float(in[size_t(row * kN + col)]);
}

}  // namespace

TEST_CASE("augment: identity parameters copy the image exactly") {
  const auto in = ramp();
  const auto out = apply(in, AffineParams{});
  for (size_t i = 0; i < in.size(); ++i) CHECK(out[i] == float(in[i]));
}

TEST_CASE("augment: right angles and flips permute pixels") {
  const auto in = ramp();
  AffineParams p;
  p.angle_deg = 90;  // counter-clockwise as displayed: the right edge moves to the top
  auto out = apply(in, p);
  for (int64_t y = 0; y < kN; ++y) {
    for (int64_t x = 0; x < kN; ++x) {
      CHECK(out[size_t(y * kN + x)] == doctest::Approx(in_at(in, x, kN - 1 - y)).epsilon(1e-4));
    }
  }
  p.angle_deg = 180;
  out = apply(in, p);
  for (int64_t i = 0; i < kN * kN; ++i) {
    CHECK(out[size_t(i)] == doctest::Approx(float(in[size_t(kN * kN - 1 - i)])).epsilon(1e-4));
  }
  p = AffineParams{};
  p.hflip = true;
  out = apply(in, p);
  for (int64_t y = 0; y < kN; ++y) {
    for (int64_t x = 0; x < kN; ++x) CHECK(out[size_t(y * kN + x)] == in_at(in, y, kN - 1 - x));
  }
  p.hflip = false;
  p.vflip = true;
  out = apply(in, p);
  for (int64_t y = 0; y < kN; ++y) {
    for (int64_t x = 0; x < kN; ++x) CHECK(out[size_t(y * kN + x)] == in_at(in, kN - 1 - y, x));
  }
}

TEST_CASE("augment: shifts move content and fill with zero, half pixels average") {
  const auto in = ramp();
  AffineParams p;
  p.shift_x = 1;  // content moves one pixel to the right
  auto out = apply(in, p);
  for (int64_t y = 0; y < kN; ++y) {
    CHECK(out[size_t(y * kN)] == 0.f);
    for (int64_t x = 1; x < kN; ++x) CHECK(out[size_t(y * kN + x)] == in_at(in, y, x - 1));
  }
  p.shift_x = 0;
  p.shift_y = 0.5f;  // each output row is the mean of two input rows
  out = apply(in, p);
  for (int64_t x = 0; x < kN; ++x) {
    CHECK(out[size_t(x)] == doctest::Approx(0.5f * in_at(in, 0, x)));
    for (int64_t y = 1; y < kN; ++y) {
      CHECK(out[size_t(y * kN + x)] ==
            doctest::Approx(0.5f * (in_at(in, y - 1, x) + in_at(in, y, x))));
    }
  }
}

TEST_CASE("augment: scaling about the centre") {
  const std::vector<uint8_t> flat(kN * kN, 200);
  AffineParams p;
  p.scale = 0.5f;  // shrinks: the corners sample outside and fall to 0, the centre stays
  std::vector<float> out(flat.size());
  radgal::apply_affine(flat.data(), kN, kN, p, out.data());
  CHECK(out[size_t(2 * kN + 2)] == 200.f);
  CHECK(out[0] == 0.f);
  p.scale = 2.f;  // magnifies: centre pixel (2, 2) samples (2, 2); (0, 0) samples (1, 1)
  const auto in = ramp();
  const auto big = apply(in, p);
  CHECK(big[size_t(2 * kN + 2)] == in_at(in, 2, 2));
  CHECK(big[0] == in_at(in, 1, 1));
}

TEST_CASE("augment: the draw uses seven numbers and stays inside the options") {
  radgal::AugmentOptions o;
  o.max_rotation_deg = 30;
  o.max_shift_px = 3;
  o.scale_min = 0.8f;
  o.scale_max = 1.25f;
  radgal::Generator gen(11), reference(11);
  int hflips = 0;
  for (int i = 0; i < 400; ++i) {
    const AffineParams p = radgal::draw_augment(o, gen);
    CHECK(std::abs(p.angle_deg) <= 30.f);
    CHECK(std::abs(p.shift_x) <= 3.f);
    CHECK(std::abs(p.shift_y) <= 3.f);
    CHECK(p.scale >= 0.8f);
    CHECK(p.scale <= 1.25f);
    CHECK_FALSE(p.hflip);
    for (int k = 0; k < 7; ++k) reference.next_u64();
  }
  CHECK(gen.next_u64() == reference.next_u64());
  o.hflip = true;
  for (int i = 0; i < 400; ++i) hflips += radgal::draw_augment(o, gen).hflip;
  CHECK(hflips > 150);
  CHECK(hflips < 250);
  o.scale_min = 2.f;
  CHECK_THROWS(radgal::draw_augment(o, gen));
}

TEST_CASE("augment: the same seed gives the same image") {
  std::vector<uint8_t> img(32 * 32);
  for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t((i * 37) % 251);
  std::vector<float> a(img.size()), b(img.size());
  radgal::Generator g1(5), g2(5);
  radgal::augment_image(img.data(), 32, 32, radgal::AugmentOptions{}, g1, a.data());
  radgal::augment_image(img.data(), 32, 32, radgal::AugmentOptions{}, g2, b.data());
  CHECK(a == b);
  for (float v : a) {
    CHECK(v >= 0.f);
    CHECK(v <= 255.f);
  }
}

TEST_CASE("augment: lossless draws turn the image by quarter turns, pixel for pixel") {
  const int64_t n = 9;  // odd and even sides both keep pixel centres on pixel centres
  for (const int64_t w : {n, n + 1}) {
    std::vector<uint8_t> img(size_t(w * w));
    for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t((i * 53 + 7) % 251);
    radgal::AugmentOptions o;
    o.lossless_fraction = 1;
    o.hflip = o.vflip = false;
    radgal::Generator gen(5);
    int seen[4] = {0, 0, 0, 0};
    std::vector<float> out(img.size());
    for (int trial = 0; trial < 200; ++trial) {
      const AffineParams p = radgal::draw_augment(o, gen);
      REQUIRE(p.scale == 1.f);
      REQUIRE(p.shift_x == 0.f);
      const int q = int(p.angle_deg / 90.f);
      REQUIRE(p.angle_deg == 90.f * float(q));
      REQUIRE((q >= 0 && q < 4));
      ++seen[q];
      radgal::apply_affine(img.data(), w, w, p, out.data());
      // The expected pixel, by index arithmetic: a counter-clockwise quarter turn as displayed
      // (y down) sends the input pixel (x, y) to (y, w - 1 - x).
      size_t wrong = 0;
      for (int64_t y = 0; y < w; ++y)
        for (int64_t x = 0; x < w; ++x) {
          int64_t sx = x, sy = y;  // the input pixel that lands at (x, y)
          for (int k = 0; k < q; ++k) {
            const int64_t px = w - 1 - sy, py = sx;  // undo one turn
            sx = px;
            sy = py;
          }
          wrong += out[size_t(y * w + x)] != float(img[size_t(sy * w + sx)]);
        }
      CHECK_MESSAGE(wrong == 0, "side " << w << ", quarter turns " << q);
    }
    for (int q = 0; q < 4; ++q) CHECK(seen[q] > 25);
  }

  // The fraction is a probability: about 30% of draws are lossless at 0.3.
  radgal::AugmentOptions o;
  o.lossless_fraction = 0.3f;
  radgal::Generator gen(9);
  int lossless = 0;
  for (int i = 0; i < 1000; ++i) {
    const AffineParams p = radgal::draw_augment(o, gen);
    lossless += p.scale == 1.f && p.shift_x == 0.f && std::fmod(p.angle_deg, 90.f) == 0.f;
  }
  CHECK(lossless > 240);
  CHECK(lossless < 360);
  o.lossless_fraction = 1.5f;
  CHECK_THROWS(radgal::draw_augment(o, gen));
}
