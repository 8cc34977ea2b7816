// conv2d forward / backward kernels against a direct seven-loop convolution in double, over
// awkward shapes, plus the adjoint identities, finite differences, exact small-integer cases,
// thread-count independence and argument checks.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_algorithms.h"
#include "tests/kernels/kernel_test_util.h"

namespace {

using radgal::kernels::cpu::conv2d_backward_input;
using radgal::kernels::cpu::conv2d_backward_weight;
using radgal::kernels::cpu::conv2d_forward;
using radgal::kernels::cpu::Conv2dShape;
using radgal::kernels::cpu::ConvGeometry;
using namespace radgal::test;

Conv2dShape make_shape(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out, int64_t kh,
                       int64_t kw, int64_t stride, int64_t pad, int64_t dilation) {
  Conv2dShape s{n, c_in, h, w, c_out, kh, kw};
  s.stride = stride;
  s.pad = pad;
  s.dilation = dilation;
  return s;
}

std::string describe(const Conv2dShape& s) {
  std::ostringstream o;
  o << "n " << s.n << " c_in " << s.c_in << " " << s.h << "x" << s.w << " c_out " << s.c_out
    << " kernel " << s.kh << "x" << s.kw << " stride " << s.stride << " pad " << s.pad
    << " dilation " << s.dilation;
  return o.str();
}

size_t x_size(const Conv2dShape& s) {
  return s.n * s.c_in * s.h * s.w;
}
size_t w_size(const Conv2dShape& s) {
  return s.c_out * s.c_in * s.kh * s.kw;
}
size_t y_size(const Conv2dShape& s) {
  return s.n * s.c_out * s.out_h() * s.out_w();
}

// Calls f(n, co, oy, ox, ci, ki, kj, x_index, w_index, y_index) for every term of the
// convolution sum whose input position lies inside the image (padding contributes zero).
template <typename F>
void for_each_term(const Conv2dShape& s, F&& f) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox)
          for (int64_t ci = 0; ci < s.c_in; ++ci)
            for (int64_t ki = 0; ki < s.kh; ++ki)
              for (int64_t kj = 0; kj < s.kw; ++kj) {
                const int64_t iy = oy * s.stride - s.pad + ki * s.dilation;
                const int64_t ix = ox * s.stride - s.pad + kj * s.dilation;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                f(((n * s.c_in + ci) * s.h + iy) * s.w + ix,
                  ((co * s.c_in + ci) * s.kh + ki) * s.kw + kj,
                  ((n * s.c_out + co) * oh + oy) * ow + ox);
              }
}

struct Reference {
  std::vector<double> value, scale;  // scale: sum of |terms| (the error model of check_close)
};

Reference reference_forward(const Conv2dShape& s, const std::vector<float>& x,
                            const std::vector<float>& w, const std::vector<float>* bias) {
  Reference r{std::vector<double>(y_size(s)), std::vector<double>(y_size(s))};
  const int64_t plane = s.out_h() * s.out_w();
  if (bias != nullptr)
    for (size_t i = 0; i < r.value.size(); ++i) {
      const double b = (*bias)[(i / plane) % s.c_out];
      r.value[i] = b;
      r.scale[i] = std::fabs(b);
    }
  for_each_term(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    const double t = static_cast<double>(x[xi]) * w[wi];
    r.value[yi] += t;
    r.scale[yi] += std::fabs(t);
  });
  return r;
}

Reference reference_backward_input(const Conv2dShape& s, const std::vector<float>& dy,
                                   const std::vector<float>& w) {
  Reference r{std::vector<double>(x_size(s)), std::vector<double>(x_size(s))};
  for_each_term(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    const double t = static_cast<double>(dy[yi]) * w[wi];
    r.value[xi] += t;
    r.scale[xi] += std::fabs(t);
  });
  return r;
}

Reference reference_backward_weight(const Conv2dShape& s, const std::vector<float>& x,
                                    const std::vector<float>& dy) {
  Reference r{std::vector<double>(w_size(s)), std::vector<double>(w_size(s))};
  for_each_term(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    const double t = static_cast<double>(dy[yi]) * x[xi];
    r.value[wi] += t;
    r.scale[wi] += std::fabs(t);
  });
  return r;
}

Reference reference_backward_bias(const Conv2dShape& s, const std::vector<float>& dy) {
  Reference r{std::vector<double>(s.c_out), std::vector<double>(s.c_out)};
  const int64_t plane = s.out_h() * s.out_w();
  for (size_t i = 0; i < dy.size(); ++i) {
    r.value[(i / plane) % s.c_out] += dy[i];
    r.scale[(i / plane) % s.c_out] += std::fabs(dy[i]);
  }
  return r;
}

// Sizes 1, odd and prime; batch 1 and > 1; stride 1/2/3; padding 0/1/2; dilation 1/2;
// kernels 1/3/5 and non-square; 1x1 with stride or padding (not the pointwise shortcut); images
// tall enough to split into several row blocks; a batch with more blocks than reduction groups.
std::vector<Conv2dShape> awkward_shapes() {
  return {
      make_shape(1, 1, 1, 1, 1, 1, 1, 1, 0, 1),    make_shape(2, 3, 7, 11, 4, 3, 3, 1, 1, 1),
      make_shape(1, 2, 13, 5, 3, 5, 5, 1, 2, 1),   make_shape(3, 2, 13, 5, 5, 3, 3, 2, 1, 1),
      make_shape(2, 3, 11, 7, 2, 3, 3, 3, 0, 1),   make_shape(2, 2, 9, 10, 3, 3, 3, 1, 2, 2),
      make_shape(2, 5, 7, 7, 3, 1, 1, 1, 0, 1),    make_shape(1, 4, 6, 9, 2, 1, 1, 2, 0, 1),
      make_shape(2, 3, 5, 6, 2, 1, 1, 1, 1, 1),    make_shape(1, 1, 17, 19, 1, 3, 3, 1, 1, 1),
      make_shape(2, 1, 5, 8, 6, 3, 5, 1, 1, 1),    make_shape(1, 3, 5, 5, 2, 5, 5, 1, 0, 1),
      make_shape(1, 2, 4, 4, 3, 3, 3, 2, 2, 2),    make_shape(1, 6, 40, 37, 16, 3, 3, 1, 1, 1),
      make_shape(1, 8, 3, 40, 5, 3, 3, 1, 1, 1),   make_shape(2, 2, 1, 9, 3, 1, 3, 1, 0, 1),
      make_shape(4, 3, 12, 12, 5, 3, 3, 1, 1, 1),  make_shape(1, 2, 13, 11, 3, 3, 3, 3, 2, 2),
      make_shape(2, 16, 19, 19, 7, 1, 1, 1, 0, 1), make_shape(1, 1, 150, 3, 2, 3, 3, 1, 1, 1),
      make_shape(2, 3, 14, 9, 12, 3, 3, 1, 2, 2),  make_shape(1, 10, 9, 41, 9, 3, 2, 1, 1, 1),
  };
}

constexpr double kRtol = 1e-5;  // float accumulation of at most a few thousand terms
constexpr double kAtol = 1e-6;

}  // namespace

TEST_CASE("conv2d_forward matches a direct convolution") {
  uint32_t seed = 1;
  for (const Conv2dShape& s : awkward_shapes()) {
    INFO(describe(s));
    const auto x = random_floats(x_size(s), seed++);
    const auto w = random_floats(w_size(s), seed++);
    const auto b = random_floats(s.c_out, seed++);

    auto y = sentinel(y_size(s));
    conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    const Reference ref = reference_forward(s, x, w, &b);
    check_close(y, ref.value, ref.scale, kRtol, kAtol, "forward with bias");

    auto y_plain = sentinel(y_size(s));
    conv2d_forward(s, x.data(), w.data(), nullptr, y_plain.data());
    const Reference ref_plain = reference_forward(s, x, w, nullptr);
    check_close(y_plain, ref_plain.value, ref_plain.scale, kRtol, kAtol, "forward without bias");
  }
}

TEST_CASE("conv2d_backward_input matches the direct transposed convolution") {
  uint32_t seed = 100;
  for (const Conv2dShape& s : awkward_shapes()) {
    INFO(describe(s));
    const auto dy = random_floats(y_size(s), seed++);
    const auto w = random_floats(w_size(s), seed++);
    auto dx = sentinel(x_size(s));
    conv2d_backward_input(s, dy.data(), w.data(), dx.data());
    const Reference ref = reference_backward_input(s, dy, w);
    check_close(dx, ref.value, ref.scale, kRtol, kAtol, "backward_input");
  }
}

TEST_CASE("conv2d_backward_weight matches the direct batch sum") {
  uint32_t seed = 200;
  for (const Conv2dShape& s : awkward_shapes()) {
    INFO(describe(s));
    const auto x = random_floats(x_size(s), seed++);
    const auto dy = random_floats(y_size(s), seed++);
    auto dw = sentinel(w_size(s));
    auto db = sentinel(s.c_out);
    conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
    const Reference ref_w = reference_backward_weight(s, x, dy);
    const Reference ref_b = reference_backward_bias(s, dy);
    check_close(dw, ref_w.value, ref_w.scale, kRtol, kAtol, "backward_weight dweight");
    check_close(db, ref_b.value, ref_b.scale, kRtol, kAtol, "backward_weight dbias");

    auto dw_only = sentinel(w_size(s));
    conv2d_backward_weight(s, x.data(), dy.data(), dw_only.data(), nullptr);
    CHECK(bitwise_equal(dw_only, dw));
  }
}

TEST_CASE("both convolution algorithms match the direct reference where they apply") {
  // conv.h picks one algorithm per shape; here each runs on every shape it supports, so both
  // stay tested whatever the choice. backward_input (stride 1) is a forward convolution.
  namespace cpu = radgal::kernels::cpu;
  using Forward = void (*)(const ConvGeometry&, const float*, const float*, const float*, float*);
  using Weight = void (*)(const ConvGeometry&, const float*, const float*, float*);
  struct Algorithm {
    const char* name;
    Forward forward;
    Weight weight;
    bool (*supports)(const ConvGeometry&);
  };
  const Algorithm algorithms[] = {
      {"im2col", cpu::im2col_conv_forward, cpu::im2col_conv_backward_weight,
       [](const ConvGeometry&) { return true; }},
      {"direct", cpu::direct_conv_forward, cpu::direct_conv_backward_weight,
       cpu::direct_conv_supports}};

  uint32_t seed = 700;
  for (const Conv2dShape& s : awkward_shapes()) {
    const ConvGeometry g = cpu::conv_geometry(s);
    const auto x = random_floats(x_size(s), seed++);
    const auto w = random_floats(w_size(s), seed++);
    const auto b = random_floats(s.c_out, seed++);
    const auto dy = random_floats(y_size(s), seed++);
    for (const Algorithm& a : algorithms) {
      INFO(a.name << ": " << describe(s));
      if (a.supports(g)) {
        auto y = sentinel(y_size(s));
        a.forward(g, x.data(), w.data(), b.data(), y.data());
        const Reference ref = reference_forward(s, x, w, &b);
        check_close(y, ref.value, ref.scale, kRtol, kAtol, "forward");

        auto dw = sentinel(w_size(s));
        a.weight(g, x.data(), dy.data(), dw.data());
        const Reference ref_w = reference_backward_weight(s, x, dy);
        check_close(dw, ref_w.value, ref_w.scale, kRtol, kAtol, "backward_weight");
      }
      if (s.stride != 1) continue;
      const ConvGeometry t = cpu::backward_input_geometry(g);
      if (!a.supports(t)) continue;
      std::vector<float> flipped(w_size(s));
      cpu::flip_weight_for_backward_input(g, w.data(), flipped.data());
      auto dx = sentinel(x_size(s));
      a.forward(t, dy.data(), flipped.data(), nullptr, dx.data());
      const Reference ref_dx = reference_backward_input(s, dy, w);
      check_close(dx, ref_dx.value, ref_dx.scale, kRtol, kAtol, "backward_input");
    }
  }
  const ConvGeometry strided = cpu::conv_geometry(make_shape(1, 1, 5, 5, 1, 3, 3, 2, 0, 1));
  std::vector<float> buf(64, 0.0f);
  CHECK_THROWS_AS(cpu::direct_conv_forward(strided, buf.data(), buf.data(), nullptr, buf.data()),
                  std::runtime_error);
}

TEST_CASE("conv2d_backward_weight keeps an infinite input out of taps that never read it") {
  // Without padding, the last input column is read only by the last kernel column; the first
  // kernel column's gradient must stay finite (vector lanes past the output edge must not
  // multiply it by a zero dy and produce NaN).
  namespace cpu = radgal::kernels::cpu;
  const Conv2dShape s = make_shape(2, 2, 6, 21, 3, 3, 3, 1, 0, 1);
  auto x = random_floats(x_size(s), 800);
  for (int64_t p = 0; p < s.n * s.c_in; ++p)
    for (int64_t r = 0; r < s.h; ++r) x[(p * s.h + r) * s.w + s.w - 1] = INFINITY;
  const auto dy = random_floats(y_size(s), 801);
  const ConvGeometry g = cpu::conv_geometry(s);
  for (auto weight : {cpu::im2col_conv_backward_weight, cpu::direct_conv_backward_weight}) {
    std::vector<float> dw(w_size(s));
    weight(g, x.data(), dy.data(), dw.data());
    for (size_t i = 0; i < dw.size(); i += s.kw) CHECK(std::isfinite(dw[i]));
    CHECK(!std::isfinite(dw[s.kw - 1]));
  }
}

TEST_CASE("conv2d backward kernels satisfy the adjoint identities") {
  // <conv(x), dy> = <x, backward_input(dy)> = <w, backward_weight(x, dy)> without bias.
  uint32_t seed = 300;
  for (const Conv2dShape& s : awkward_shapes()) {
    INFO(describe(s));
    const auto x = random_floats(x_size(s), seed++);
    const auto w = random_floats(w_size(s), seed++);
    const auto dy = random_floats(y_size(s), seed++);
    auto y = sentinel(y_size(s));
    auto dx = sentinel(x_size(s));
    auto dw = sentinel(w_size(s));
    conv2d_forward(s, x.data(), w.data(), nullptr, y.data());
    conv2d_backward_input(s, dy.data(), w.data(), dx.data());
    conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), nullptr);

    const double forward_side = dot(y, dy);
    const double tolerance = 1e-5 * (abs_dot(y, dy) + abs_dot(x, dx) + abs_dot(w, dw)) + 1e-9;
    CHECK(std::fabs(dot(x, dx) - forward_side) <= tolerance);
    CHECK(std::fabs(dot(w, dw) - forward_side) <= tolerance);
  }
}

TEST_CASE("conv2d gradients agree with finite differences of the forward") {
  // L(x, w, b) = <conv(x, w) + b, dy>, evaluated in double from the float forward. L is linear,
  // so a large step leaves only the forward's rounding in the difference quotient.
  const Conv2dShape s = make_shape(2, 3, 9, 8, 4, 3, 3, 2, 1, 1);
  auto x = random_floats(x_size(s), 401);
  auto w = random_floats(w_size(s), 402);
  auto b = random_floats(s.c_out, 403);
  const auto dy = random_floats(y_size(s), 404);
  auto loss = [&] {
    std::vector<float> y(y_size(s));
    conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    return dot(y, dy);
  };
  std::vector<float> dx(x_size(s)), dw(w_size(s)), db(s.c_out);
  conv2d_backward_input(s, dy.data(), w.data(), dx.data());
  conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());

  const double step = 0.5;
  auto difference = [&](float& v) {
    const float saved = v;
    v = saved + static_cast<float>(step);
    const double up = loss();
    v = saved - static_cast<float>(step);
    const double down = loss();
    v = saved;
    return (up - down) / (2 * step);
  };
  for (size_t i = 0; i < x.size(); i += 7)
    CHECK(difference(x[i]) == doctest::Approx(dx[i]).epsilon(1e-4));
  for (size_t i = 0; i < w.size(); i += 5)
    CHECK(difference(w[i]) == doctest::Approx(dw[i]).epsilon(1e-4));
  for (size_t i = 0; i < b.size(); ++i)
    CHECK(difference(b[i]) == doctest::Approx(db[i]).epsilon(1e-4));
}

TEST_CASE("conv2d is exact on small integers") {
  // Every product and partial sum is an integer below 2^24, so any summation order gives the
  // exact result: equality, not tolerance.
  const std::vector<Conv2dShape> shapes = {make_shape(3, 4, 10, 9, 5, 3, 3, 1, 1, 1),
                                           make_shape(2, 3, 11, 13, 2, 3, 3, 2, 2, 2),
                                           make_shape(2, 6, 8, 8, 4, 1, 1, 1, 0, 1)};
  uint32_t seed = 500;
  for (const Conv2dShape& s : shapes) {
    INFO(describe(s));
    const auto x = random_integers(x_size(s), seed++, -4, 4);
    const auto w = random_integers(w_size(s), seed++, -3, 3);
    const auto b = random_integers(s.c_out, seed++, -5, 5);
    const auto dy = random_integers(y_size(s), seed++, -3, 3);
    auto y = sentinel(y_size(s));
    auto dx = sentinel(x_size(s));
    auto dw = sentinel(w_size(s));
    auto db = sentinel(s.c_out);
    conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    conv2d_backward_input(s, dy.data(), w.data(), dx.data());
    conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
    check_close(y, reference_forward(s, x, w, &b).value, 0, 0, "forward");
    check_close(dx, reference_backward_input(s, dy, w).value, 0, 0, "backward_input");
    check_close(dw, reference_backward_weight(s, x, dy).value, 0, 0, "backward_weight");
    check_close(db, reference_backward_bias(s, dy).value, 0, 0, "backward bias");
  }
}

TEST_CASE("conv2d results do not depend on the thread count or the batch") {
  const std::vector<Conv2dShape> shapes = {
      make_shape(3, 6, 31, 29, 16, 3, 3, 1, 1, 1), make_shape(1, 16, 18, 18, 8, 3, 3, 1, 1, 1),
      make_shape(2, 5, 23, 17, 7, 3, 3, 2, 1, 1), make_shape(5, 8, 20, 20, 12, 1, 1, 1, 0, 1)};
  const int saved_threads = omp_get_max_threads();
  uint32_t seed = 600;
  for (const Conv2dShape& s : shapes) {
    INFO(describe(s));
    const auto x = random_floats(x_size(s), seed++);
    const auto w = random_floats(w_size(s), seed++);
    const auto b = random_floats(s.c_out, seed++);
    const auto dy = random_floats(y_size(s), seed++);
    auto run = [&](int threads) {
      omp_set_num_threads(threads);
      std::vector<float> y(y_size(s)), dx(x_size(s)), dw(w_size(s)), db(s.c_out);
      conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
      conv2d_backward_input(s, dy.data(), w.data(), dx.data());
      conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
      return std::vector<std::vector<float>>{y, dx, dw, db};
    };
    const auto one = run(1);
    for (int threads : {2, 3, 4}) {
      const auto many = run(threads);
      CAPTURE(threads);
      for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], many[i]));
    }

    // Each image alone gives the same forward output as inside the batch.
    omp_set_num_threads(saved_threads);
    Conv2dShape single = s;
    single.n = 1;
    const size_t in_image = x_size(single), out_image = y_size(single);
    for (int64_t image = 0; image < s.n; ++image) {
      std::vector<float> y(out_image);
      conv2d_forward(single, x.data() + image * in_image, w.data(), b.data(), y.data());
      const std::vector<float> batched(one[0].begin() + image * out_image,
                                       one[0].begin() + (image + 1) * out_image);
      CHECK(bitwise_equal(y, batched));
    }
  }
  omp_set_num_threads(saved_threads);
}

TEST_CASE("conv2d rejects bad shapes and null buffers") {
  std::vector<float> buf(4096, 0.0f);
  const float* in = buf.data();
  float* out = buf.data();
  auto forward = [&](const Conv2dShape& s) { conv2d_forward(s, in, in, nullptr, out); };
  CHECK_THROWS_AS(forward(make_shape(0, 1, 4, 4, 1, 3, 3, 1, 0, 1)), std::runtime_error);
  CHECK_THROWS_AS(forward(make_shape(1, 1, 4, 4, 1, 0, 3, 1, 0, 1)), std::runtime_error);
  CHECK_THROWS_AS(forward(make_shape(1, 1, 4, 4, 1, 3, 3, 0, 0, 1)), std::runtime_error);
  CHECK_THROWS_AS(forward(make_shape(1, 1, 4, 4, 1, 3, 3, 1, -1, 1)), std::runtime_error);
  CHECK_THROWS_AS(forward(make_shape(1, 1, 4, 4, 1, 3, 3, 1, 0, 0)), std::runtime_error);
  // Kernel larger than the padded input: no output position.
  CHECK_THROWS_AS(forward(make_shape(1, 1, 2, 2, 1, 5, 5, 1, 1, 1)), std::runtime_error);
  CHECK_THROWS_AS(forward(make_shape(1, 1, 5, 5, 1, 3, 3, 1, 0, 3)), std::runtime_error);
  const Conv2dShape ok = make_shape(1, 1, 4, 4, 1, 3, 3, 1, 1, 1);
  CHECK_THROWS_AS(conv2d_forward(ok, nullptr, in, nullptr, out), std::runtime_error);
  CHECK_THROWS_AS(conv2d_backward_input(ok, in, in, nullptr), std::runtime_error);
  CHECK_THROWS_AS(conv2d_backward_weight(ok, in, nullptr, out, nullptr), std::runtime_error);
  try {
    forward(make_shape(1, 1, 2, 2, 1, 5, 5, 1, 1, 1));
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("conv2d_forward") != std::string::npos);
  }
}
