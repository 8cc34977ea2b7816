// Max and average pooling against plain window loops in double, with ties, NaN, overlapping
// windows and padding, plus the adjoint identity of average pooling and argument checks.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/pool.h"
#include "tests/kernels/kernel_test_util.h"

namespace {

using radgal::kernels::cpu::avg_pool2d_backward;
using radgal::kernels::cpu::avg_pool2d_forward;
using radgal::kernels::cpu::max_pool2d_backward;
using radgal::kernels::cpu::max_pool2d_forward;
using radgal::kernels::cpu::Pool2dShape;
using namespace radgal::test;

std::string describe(const Pool2dShape& s) {
  std::ostringstream o;
  o << "n " << s.n << " c " << s.c << " " << s.h << "x" << s.w << " kernel " << s.kernel
    << " stride " << s.stride << " pad " << s.pad;
  return o.str();
}

size_t in_size(const Pool2dShape& s) {
  return s.n * s.c * s.h * s.w;
}
size_t out_size(const Pool2dShape& s) {
  return s.n * s.c * s.out_h() * s.out_w();
}

std::vector<Pool2dShape> awkward_shapes() {
  return {{1, 1, 1, 1, 1, 1, 0},   {2, 3, 7, 11, 2, 2, 0},  {1, 2, 13, 5, 3, 2, 1},
          {2, 1, 9, 9, 3, 1, 1},   {1, 2, 10, 7, 3, 3, 0},  {3, 2, 5, 6, 2, 1, 1},
          {1, 1, 75, 75, 2, 2, 0}, {2, 3, 37, 37, 2, 2, 0}, {1, 1, 2, 2, 5, 2, 2},
          {1, 2, 8, 3, 4, 3, 2}};
}

struct MaxReference {
  std::vector<double> y;
  std::vector<int32_t> argmax;
};

// The window's cells in row-major order; the first strictly larger value takes over.
MaxReference reference_max(const Pool2dShape& s, const std::vector<float>& x) {
  MaxReference r;
  const int64_t oh = s.out_h(), ow = s.out_w();
  for (int64_t p = 0; p < s.n * s.c; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        bool found = false;
        double best = 0;
        int32_t where = -1;
        for (int64_t a = 0; a < s.kernel; ++a)
          for (int64_t b = 0; b < s.kernel; ++b) {
            const int64_t iy = oy * s.stride - s.pad + a, ix = ox * s.stride - s.pad + b;
            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
            const double v = x[(p * s.h + iy) * s.w + ix];
            if (!found || v > best) {
              found = true;
              best = v;
              where = static_cast<int32_t>(iy * s.w + ix);
            }
          }
        r.y.push_back(best);
        r.argmax.push_back(where);
      }
  return r;
}

std::vector<double> reference_avg(const Pool2dShape& s, const std::vector<float>& x) {
  std::vector<double> y;
  const int64_t oh = s.out_h(), ow = s.out_w();
  for (int64_t p = 0; p < s.n * s.c; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double sum = 0;
        for (int64_t a = 0; a < s.kernel; ++a)
          for (int64_t b = 0; b < s.kernel; ++b) {
            const int64_t iy = oy * s.stride - s.pad + a, ix = ox * s.stride - s.pad + b;
            if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) sum += x[(p * s.h + iy) * s.w + ix];
          }
        y.push_back(sum / static_cast<double>(s.kernel * s.kernel));
      }
  return y;
}

std::vector<double> reference_avg_backward(const Pool2dShape& s, const std::vector<float>& dy) {
  std::vector<double> dx(in_size(s), 0.0);
  const int64_t oh = s.out_h(), ow = s.out_w();
  for (int64_t p = 0; p < s.n * s.c; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t a = 0; a < s.kernel; ++a)
          for (int64_t b = 0; b < s.kernel; ++b) {
            const int64_t iy = oy * s.stride - s.pad + a, ix = ox * s.stride - s.pad + b;
            if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
              dx[(p * s.h + iy) * s.w + ix] +=
                  dy[(p * oh + oy) * ow + ox] / static_cast<double>(s.kernel * s.kernel);
          }
  return dx;
}

}  // namespace

TEST_CASE("max_pool2d forward and backward match plain window loops") {
  uint32_t seed = 1;
  for (const Pool2dShape& s : awkward_shapes()) {
    INFO(describe(s));
    // Values on a coarse grid so that windows often hold ties.
    const auto x = random_integers(in_size(s), seed++, -3, 3);
    auto y = sentinel(out_size(s));
    std::vector<int32_t> argmax(out_size(s), -7);
    max_pool2d_forward(s, x.data(), y.data(), argmax.data());
    const MaxReference ref = reference_max(s, x);
    check_close(y, ref.y, 0, 0, "max forward");
    CHECK(argmax == ref.argmax);

    const auto dy = random_floats(out_size(s), seed++);
    auto dx = sentinel(in_size(s));
    max_pool2d_backward(s, dy.data(), argmax.data(), dx.data());
    std::vector<double> dx_ref(in_size(s), 0.0);
    const int64_t in_plane = s.h * s.w, out_plane = s.out_h() * s.out_w();
    for (size_t o = 0; o < dy.size(); ++o)
      dx_ref[(o / out_plane) * in_plane + ref.argmax[o]] += dy[o];
    check_close(dx, dx_ref, 1e-6, 0, "max backward");
  }
}

TEST_CASE("max_pool2d keeps the first maximum of a tie and never picks padding") {
  // A constant plane: every window's first in-image cell wins.
  const Pool2dShape s{1, 1, 5, 4, 3, 2, 1};
  const std::vector<float> x(20, -2.0f);
  std::vector<float> y(s.out_h() * s.out_w());
  std::vector<int32_t> argmax(y.size());
  max_pool2d_forward(s, x.data(), y.data(), argmax.data());
  // Windows start at rows -1, 1, 3 and columns -1, 1 (clipped at 0); the zero padding would
  // beat -2 if padding could win, which it must not.
  const std::vector<int32_t> expected = {0, 1, 4, 5, 12, 13};
  CHECK(argmax == expected);
  for (float v : y) CHECK(v == -2.0f);

  // Hand-made 2x2 windows: ties inside a window resolve to the earliest cell.
  const Pool2dShape t{1, 1, 2, 4, 2, 2, 0};
  const std::vector<float> z = {1, 5, 7, 7, 5, 2, 7, 0};
  std::vector<float> y2(2);
  std::vector<int32_t> a2(2);
  max_pool2d_forward(t, z.data(), y2.data(), a2.data());
  CHECK(y2 == std::vector<float>{5, 7});
  CHECK(a2 == std::vector<int32_t>{1, 2});
}

TEST_CASE("max_pool2d propagates NaN and accumulates overlapping windows") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Pool2dShape s{1, 1, 3, 3, 2, 1, 0};
  const std::vector<float> x = {0, 1, 2, 3, nan, 5, 6, 7, 8};
  std::vector<float> y(4);
  std::vector<int32_t> argmax(4);
  max_pool2d_forward(s, x.data(), y.data(), argmax.data());
  for (float v : y) CHECK(std::isnan(v));
  CHECK(argmax == std::vector<int32_t>{4, 4, 4, 4});

  // Every window picks the centre: its gradient is the sum of the four.
  const std::vector<float> dy = {1, 2, 3, 4};
  std::vector<float> dx = sentinel(9);
  max_pool2d_backward(s, dy.data(), argmax.data(), dx.data());
  CHECK(dx == std::vector<float>{0, 0, 0, 0, 10, 0, 0, 0, 0});
}

TEST_CASE("avg_pool2d forward and backward match plain window loops") {
  uint32_t seed = 100;
  for (const Pool2dShape& s : awkward_shapes()) {
    INFO(describe(s));
    const auto x = random_floats(in_size(s), seed++);
    auto y = sentinel(out_size(s));
    avg_pool2d_forward(s, x.data(), y.data());
    check_close(y, reference_avg(s, x), 1e-6, 1e-7, "avg forward");

    const auto dy = random_floats(out_size(s), seed++);
    auto dx = sentinel(in_size(s));
    avg_pool2d_backward(s, dy.data(), dx.data());
    check_close(dx, reference_avg_backward(s, dy), 1e-6, 1e-7, "avg backward");

    // Adjoint identity <avg(x), dy> = <x, avg_backward(dy)>.
    CHECK(dot(y, dy) == doctest::Approx(dot(x, dx)).epsilon(1e-5));
  }
}

TEST_CASE("avg_pool2d counts padded cells in the divisor") {
  const Pool2dShape s{1, 1, 2, 2, 2, 2, 1};  // windows of one real cell and three padded
  const std::vector<float> x = {4, 8, 12, 16};
  std::vector<float> y(4);
  avg_pool2d_forward(s, x.data(), y.data());
  CHECK(y == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("pooling rejects bad shapes and corrupt argmax") {
  std::vector<float> buf(64, 0.0f);
  std::vector<int32_t> idx(64, 0);
  auto max_forward = [&](const Pool2dShape& s) {
    max_pool2d_forward(s, buf.data(), buf.data(), idx.data());
  };
  CHECK_THROWS_AS(max_forward({0, 1, 4, 4, 2, 2, 0}), std::runtime_error);
  CHECK_THROWS_AS(max_forward({1, 1, 4, 4, 0, 2, 0}), std::runtime_error);
  CHECK_THROWS_AS(max_forward({1, 1, 4, 4, 2, 0, 0}), std::runtime_error);
  CHECK_THROWS_AS(max_forward({1, 1, 4, 4, 2, 2, 2}), std::runtime_error);  // pad > kernel / 2
  CHECK_THROWS_AS(max_forward({1, 1, 2, 2, 5, 1, 1}), std::runtime_error);  // kernel too large
  CHECK_THROWS_AS(max_forward({1, 1, 70000, 70000, 2, 2, 0}), std::runtime_error);  // int32
  CHECK_THROWS_AS(avg_pool2d_forward({1, 1, 4, 4, 2, 2, 0}, nullptr, buf.data()),
                  std::runtime_error);

  const Pool2dShape s{1, 1, 4, 4, 2, 2, 0};
  std::vector<int32_t> corrupt = {0, 1, 16, 3};
  CHECK_THROWS_AS(max_pool2d_backward(s, buf.data(), corrupt.data(), buf.data()),
                  std::runtime_error);
}
