// Bilinear resize against hand-computed values (the ones F.interpolate(mode="bilinear") gives
// for these inputs) and a per-pixel reference in double written from the header's definition.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/resize.h"
#include "tests/kernels/kernel_test_util.h"

namespace {

using radgal::kernels::cpu::upsample_bilinear2d_backward;
using radgal::kernels::cpu::upsample_bilinear2d_forward;
using namespace radgal::test;

struct ResizeCase {
  int64_t planes, h, w, out_h, out_w;
};

std::string describe(const ResizeCase& r, bool align_corners) {
  std::ostringstream o;
  o << r.planes << " planes " << r.h << "x" << r.w << " -> " << r.out_h << "x" << r.out_w
    << (align_corners ? " align_corners" : "");
  return o.str();
}

// Source coordinate of output index d along an axis of in -> out samples, per resize.h.
double source_coordinate(int64_t d, int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out == 1 ? 0.0 : d * static_cast<double>(in - 1) / (out - 1);
  return std::max(0.0, (d + 0.5) * in / out - 0.5);
}

// Calls f(input index, output index, weight) for the four taps of every output pixel.
template <typename F>
void for_each_tap(const ResizeCase& r, bool align_corners, F&& f) {
  for (int64_t p = 0; p < r.planes; ++p)
    for (int64_t oy = 0; oy < r.out_h; ++oy)
      for (int64_t ox = 0; ox < r.out_w; ++ox) {
        const double sy = source_coordinate(oy, r.h, r.out_h, align_corners);
        const double sx = source_coordinate(ox, r.w, r.out_w, align_corners);
        const int64_t y0 = static_cast<int64_t>(std::floor(sy));
        const int64_t x0 = static_cast<int64_t>(std::floor(sx));
        const int64_t y1 = std::min(y0 + 1, r.h - 1), x1 = std::min(x0 + 1, r.w - 1);
        const double fy = sy - y0, fx = sx - x0;
        const int64_t out = (p * r.out_h + oy) * r.out_w + ox;
        const int64_t in = p * r.h * r.w;
        f(in + y0 * r.w + x0, out, (1 - fy) * (1 - fx));
        f(in + y0 * r.w + x1, out, (1 - fy) * fx);
        f(in + y1 * r.w + x0, out, fy * (1 - fx));
        f(in + y1 * r.w + x1, out, fy * fx);
      }
}

std::vector<ResizeCase> cases() {
  return {{1, 1, 1, 1, 1},       {2, 1, 1, 4, 3}, {1, 18, 18, 37, 37}, {2, 18, 18, 75, 75},
          {1, 18, 18, 150, 150}, {3, 7, 5, 3, 2}, {1, 5, 4, 1, 1},     {2, 3, 7, 3, 7},
          {1, 13, 11, 29, 5},    {1, 2, 9, 17, 4}};
}

}  // namespace

TEST_CASE("upsample_bilinear2d_forward matches hand-computed values") {
  const std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> y = sentinel(16);
  upsample_bilinear2d_forward(1, 2, 2, 4, 4, false, x.data(), y.data());
  const std::vector<double> half_pixel = {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5,
                                          2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0};
  check_close(y, half_pixel, 0, 1e-6, "align_corners false");

  y = sentinel(9);
  upsample_bilinear2d_forward(1, 2, 2, 3, 3, true, x.data(), y.data());
  const std::vector<double> corners = {1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0};
  check_close(y, corners, 0, 1e-6, "align_corners true");

  // Downsampling 4 -> 2 without corner alignment samples at 0.5 and 2.5.
  const std::vector<float> row = {0, 10, 20, 30};
  std::vector<float> half = sentinel(2);
  upsample_bilinear2d_forward(1, 1, 4, 1, 2, false, row.data(), half.data());
  check_close(half, {5.0, 25.0}, 0, 1e-5, "downsample");
}

TEST_CASE("upsample_bilinear2d forward and backward match the per-pixel reference") {
  uint32_t seed = 1;
  for (const ResizeCase& r : cases()) {
    for (bool align_corners : {false, true}) {
      INFO(describe(r, align_corners));
      const size_t in_size = r.planes * r.h * r.w, out_size = r.planes * r.out_h * r.out_w;
      const auto x = random_floats(in_size, seed++);
      const auto dy = random_floats(out_size, seed++);

      auto y = sentinel(out_size);
      upsample_bilinear2d_forward(r.planes, r.h, r.w, r.out_h, r.out_w, align_corners, x.data(),
                                  y.data());
      std::vector<double> y_ref(out_size, 0.0);
      for_each_tap(r, align_corners,
                   [&](int64_t i, int64_t o, double wt) { y_ref[o] += wt * x[i]; });
      check_close(y, y_ref, 0, 1e-5, "forward");

      auto dx = sentinel(in_size);
      upsample_bilinear2d_backward(r.planes, r.h, r.w, r.out_h, r.out_w, align_corners, dy.data(),
                                   dx.data());
      std::vector<double> dx_ref(in_size, 0.0), scale(in_size, 0.0);
      for_each_tap(r, align_corners, [&](int64_t i, int64_t o, double wt) {
        dx_ref[i] += wt * dy[o];
        scale[i] += std::fabs(wt * dy[o]);
      });
      check_close(dx, dx_ref, scale, 1e-5, 1e-6, "backward");

      // Adjoint identity <resize(x), dy> = <x, resize_backward(dy)>.
      CHECK(dot(y, dy) == doctest::Approx(dot(x, dx)).epsilon(1e-5).scale(1.0));
    }
  }
}

TEST_CASE("upsample_bilinear2d to the same size copies the input") {
  const auto x = random_floats(3 * 7 * 5, 99);
  for (bool align_corners : {false, true}) {
    auto y = sentinel(x.size());
    upsample_bilinear2d_forward(3, 7, 5, 7, 5, align_corners, x.data(), y.data());
    CHECK(bitwise_equal(x, y));
  }
}

TEST_CASE("upsample_bilinear2d rejects bad extents and null buffers") {
  std::vector<float> buf(64, 0.0f);
  float* b = buf.data();
  CHECK_THROWS_AS(upsample_bilinear2d_forward(0, 2, 2, 4, 4, false, b, b), std::runtime_error);
  CHECK_THROWS_AS(upsample_bilinear2d_forward(1, 2, 2, 0, 4, false, b, b), std::runtime_error);
  CHECK_THROWS_AS(upsample_bilinear2d_forward(1, 2, 2, 4, 4, false, nullptr, b),
                  std::runtime_error);
  CHECK_THROWS_AS(upsample_bilinear2d_backward(1, -2, 2, 4, 4, true, b, b), std::runtime_error);
}
