// Augmentation: exact pixel permutations for the right angles and flips, bilinear values for
// sub-pixel shifts, the seeded draw, and cubic resampling (Keys' weights, exact on quadratic
// surfaces, clamped overshoot).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
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

// ---- cubic resampling ----------------------------------------------------------------------

namespace {

// The inverse map of the header's geometry (no flips): the input point sampled by output (x, y).
void source_point(const AffineParams& p, int64_t side, int64_t x, int64_t y, double& sx,
                  double& sy) {
  const double c0 = 0.5 * double(side - 1), th = p.angle_deg * M_PI / 180.0;
  const double ux = (double(x) - c0 - p.shift_x) / p.scale,
               uy = (double(y) - c0 - p.shift_y) / p.scale;
  sx = c0 + std::cos(th) * ux - std::sin(th) * uy;
  sy = c0 + std::sin(th) * ux + std::cos(th) * uy;
}

}  // namespace

TEST_CASE("augment, cubic: names, exact on whole-pixel maps") {
  CHECK(radgal::parse_interpolation("cubic") == radgal::Interpolation::cubic);
  CHECK(radgal::parse_interpolation("bilinear") == radgal::Interpolation::bilinear);
  CHECK(std::string(radgal::to_string(radgal::Interpolation::cubic)) == "cubic");
  CHECK_THROWS_WITH_AS(radgal::parse_interpolation("lanczos"),
                       doctest::Contains("bilinear or cubic"), std::invalid_argument);

  const auto in = ramp();
  for (const float angle : {0.f, 90.f, 180.f, -90.f}) {
    AffineParams p;
    p.angle_deg = angle;
    p.shift_x = 1;  // whole-pixel moves sample on pixel centres: the weights are (0, 1, 0, 0)
    std::vector<float> bi(in.size()), cu(in.size());
    radgal::apply_affine(in.data(), kN, kN, p, bi.data(), radgal::Interpolation::bilinear);
    radgal::apply_affine(in.data(), kN, kN, p, cu.data(), radgal::Interpolation::cubic);
    for (size_t i = 0; i < in.size(); ++i) CHECK(cu[i] == doctest::Approx(bi[i]).epsilon(1e-5));
  }
}

TEST_CASE("augment, cubic: a half-pixel shift has Keys' weights (-1, 9, 9, -1) / 16") {
  // A bright column on a flat background, far enough from the edges that all taps are inside.
  constexpr int64_t n = 11, col = 5;
  std::vector<uint8_t> img(size_t(n * n), 100);
  for (int64_t y = 0; y < n; ++y) img[size_t(y * n + col)] = 244;
  AffineParams p;
  p.shift_x = 0.5f;  // output x samples input x - 0.5: taps x - 2 .. x + 1
  std::vector<float> out(img.size());
  radgal::apply_affine(img.data(), n, n, p, out.data(), radgal::Interpolation::cubic);
  const float d = 144;  // the column's excess over the background
  for (int64_t y = 0; y < n; ++y) {
    // Left of the column the column is the outermost tap, weight minus one sixteenth.
    CHECK(out[size_t(y * n + col - 1)] == doctest::Approx(100 - d / 16));
    CHECK(out[size_t(y * n + col)] == doctest::Approx(100 + 9 * d / 16));
    CHECK(out[size_t(y * n + col + 1)] == doctest::Approx(100 + 9 * d / 16));
    CHECK(out[size_t(y * n + col + 2)] == doctest::Approx(100 - d / 16));
    CHECK(out[size_t(y * n + col + 3)] == doctest::Approx(100));
  }
  // Bilinear spreads the same column into two halves: lower peak, no undershoot.
  radgal::apply_affine(img.data(), n, n, p, out.data(), radgal::Interpolation::bilinear);
  CHECK(out[size_t(col)] == doctest::Approx(100 + d / 2));
  CHECK(out[size_t(col + 2)] == doctest::Approx(100));
}

TEST_CASE("augment, cubic: rotations and scalings of a quadratic surface are exact inside") {
  // Keys' kernel reproduces polynomials up to degree two; bilinear sampling does not.
  constexpr int64_t n = 11;
  auto f = [](double x, double y) { return x * x + x * y + 2 * y + 4; };  // whole grey levels
  std::vector<uint8_t> img(size_t(n * n));
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) img[size_t(y * n + x)] = uint8_t(f(double(x), double(y)));
  REQUIRE(f(n - 1, n - 1) <= 255);
  AffineParams p;
  p.angle_deg = 33;
  p.scale = 1.07f;
  p.shift_x = 0.3f;
  p.shift_y = -0.6f;
  std::vector<float> cu(img.size()), bi(img.size());
  radgal::apply_affine(img.data(), n, n, p, cu.data(), radgal::Interpolation::cubic);
  radgal::apply_affine(img.data(), n, n, p, bi.data(), radgal::Interpolation::bilinear);
  int inside = 0;
  double bilinear_worst = 0;
  for (int64_t y = 0; y < n; ++y) {
    for (int64_t x = 0; x < n; ++x) {
      double sx, sy;
      source_point(p, n, x, y, sx, sy);
      if (!(sx >= 1 && sy >= 1 && sx < n - 2 && sy < n - 2)) continue;  // a tap falls outside
      ++inside;
      const double want = f(sx, sy);
      CHECK(cu[size_t(y * n + x)] == doctest::Approx(want).epsilon(1e-5));
      bilinear_worst = std::max(bilinear_worst, std::abs(bi[size_t(y * n + x)] - want));
    }
  }
  CHECK(inside > 30);
  CHECK(bilinear_worst > 0.1);  // the surface is curved enough for the test to mean something
}

TEST_CASE("augment, cubic: overshoot at sharp edges is clamped to the grey-level range") {
  constexpr int64_t n = 8;
  std::vector<uint8_t> img(size_t(n * n), 0);
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = n / 2; x < n; ++x) img[size_t(y * n + x)] = 255;  // a step 0 -> 255
  AffineParams p;
  p.shift_x = 0.5f;
  std::vector<float> out(img.size());
  radgal::apply_affine(img.data(), n, n, p, out.data(), radgal::Interpolation::cubic);
  // Unclamped, the step would ring to -255/16 before it and 255 * 17/16 after it.
  for (const float v : out) {
    CHECK(v >= 0.f);
    CHECK(v <= 255.f);
  }
  CHECK(out[size_t(n / 2 - 1)] == 0.f);
  CHECK(out[size_t(n / 2 + 1)] == 255.f);
  CHECK(out[size_t(n / 2)] == doctest::Approx(127.5f));

  // augment_image passes the option through: a seeded draw differs between the two.
  radgal::AugmentOptions o;
  std::vector<float> a(img.size()), b(img.size());
  radgal::Generator g1(3), g2(3);
  radgal::augment_image(img.data(), n, n, o, g1, a.data());
  o.interpolation = radgal::Interpolation::cubic;
  radgal::augment_image(img.data(), n, n, o, g2, b.data());
  CHECK(a != b);
}
