// The fused attention-gate kernel against a per-pixel reference in double written from the
// header's definition (forward and every gradient), on the AG-CNN's three gate geometries and on
// awkward ones; plus thread-count independence, optional outputs and bad arguments.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/attention_gate.h"
#include "tests/kernels/kernel_test_util.h"

namespace {

using radgal::kernels::cpu::attention_gate_backward;
using radgal::kernels::cpu::attention_gate_forward;
using radgal::kernels::cpu::AttentionGateShape;
using namespace radgal::test;

std::string describe(const AttentionGateShape& s) {
  std::ostringstream o;
  o << "x " << s.n << "x" << s.c << "x" << s.h << "x" << s.w << ", inter " << s.inter << ", grid "
    << s.gh << "x" << s.gw;
  return o.str();
}

struct Inputs {
  std::vector<float> x, theta, phi, psi_w, psi_b, dpsi;
};

Inputs make_inputs(const AttentionGateShape& s, uint32_t seed) {
  Inputs in;
  in.x = random_floats(s.n * s.c * s.h * s.w, seed);
  in.theta = random_floats(s.inter * s.c, seed + 1);
  in.phi = random_floats(s.n * s.inter * s.gh * s.gw, seed + 2);
  in.psi_w = random_floats(s.inter, seed + 3);
  in.psi_b = {0.75f};
  in.dpsi = random_floats(s.n * s.h * s.w, seed + 4);
  return in;
}

// Source coordinate along one axis for align_corners = false, in float as resize.h defines it
// (at a source coordinate near 17 a float ulp is 2e-6, which a small weight turns into a large
// relative change), and its two taps.
struct Tap {
  int64_t lo, hi;
  double w_lo, w_hi;
};
Tap tap(int64_t d, int64_t in, int64_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const double src = std::max(0.0f, scale * (static_cast<float>(d) + 0.5f) - 0.5f);
  const int64_t lo = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
  const double frac = std::min(1.0, src - lo);
  return {lo, std::min(lo + 1, in - 1), 1.0 - frac, frac};
}

// Everything in double; scales are sums of |terms| for the error model of check_close.
struct Reference {
  std::vector<double> psi, psi_scale;
  std::vector<double> dx, dx_scale, dtheta, dtheta_scale, dphi, dphi_scale, dpsi_w, dpsi_w_scale;
  double dpsi_b = 0, dpsi_b_scale = 0;
};

Reference reference(const AttentionGateShape& s, const Inputs& in) {
  Reference r;
  const int64_t plane = s.h * s.w, grid = s.gh * s.gw;
  r.psi.assign(s.n * plane, 0.0);
  r.psi_scale.assign(s.n * plane, 0.0);
  r.dx.assign(in.x.size(), 0.0);
  r.dx_scale.assign(in.x.size(), 0.0);
  r.dtheta.assign(in.theta.size(), 0.0);
  r.dtheta_scale.assign(in.theta.size(), 0.0);
  r.dphi.assign(in.phi.size(), 0.0);
  r.dphi_scale.assign(in.phi.size(), 0.0);
  r.dpsi_w.assign(s.inter, 0.0);
  r.dpsi_w_scale.assign(s.inter, 0.0);
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t y = 0; y < s.h; ++y)
      for (int64_t x = 0; x < s.w; ++x) {
        const Tap ty = tap(y, s.gh, s.h), tx = tap(x, s.gw, s.w);
        const int64_t p = i * plane + y * s.w + x;
        const double g = in.dpsi[p];
        double psi = in.psi_b[0], scale = std::fabs(in.psi_b[0]);
        r.dpsi_b += g;
        r.dpsi_b_scale += std::fabs(g);
        for (int64_t k = 0; k < s.inter; ++k) {
          const float* ph = in.phi.data() + (i * s.inter + k) * grid;
          const int64_t corner[4] = {ty.lo * s.gw + tx.lo, ty.lo * s.gw + tx.hi,
                                     ty.hi * s.gw + tx.lo, ty.hi * s.gw + tx.hi};
          const double weight[4] = {ty.w_lo * tx.w_lo, ty.w_lo * tx.w_hi, ty.w_hi * tx.w_lo,
                                    ty.w_hi * tx.w_hi};
          double t = 0, t_scale = 0;
          for (int q = 0; q < 4; ++q) {
            t += weight[q] * ph[corner[q]];
            t_scale += std::fabs(weight[q] * ph[corner[q]]);
          }
          for (int64_t c = 0; c < s.c; ++c) {
            const double term = static_cast<double>(in.theta[k * s.c + c]) *
                                in.x[(i * s.c + c) * plane + y * s.w + x];
            t += term;
            t_scale += std::fabs(term);
          }
          const double f = std::max(t, 0.0);
          psi += in.psi_w[k] * f;
          scale += std::fabs(in.psi_w[k]) * t_scale;
          r.dpsi_w[k] += f * g;
          r.dpsi_w_scale[k] += t_scale * std::fabs(g);
          if (t <= 0) continue;
          const double dt = in.psi_w[k] * g;
          for (int64_t c = 0; c < s.c; ++c) {
            const int64_t xi = (i * s.c + c) * plane + y * s.w + x;
            r.dx[xi] += in.theta[k * s.c + c] * dt;
            r.dx_scale[xi] += std::fabs(in.theta[k * s.c + c] * dt);
            r.dtheta[k * s.c + c] += in.x[xi] * dt;
            r.dtheta_scale[k * s.c + c] += std::fabs(in.x[xi] * dt);
          }
          for (int q = 0; q < 4; ++q) {
            const int64_t pi = (i * s.inter + k) * grid + corner[q];
            r.dphi[pi] += weight[q] * dt;
            r.dphi_scale[pi] += std::fabs(weight[q] * dt);
          }
        }
        r.psi[p] = psi;
        r.psi_scale[p] = scale;
      }
  return r;
}

struct Outputs {
  std::vector<float> psi, dx, dtheta, dphi, dpsi_w, dpsi_b;
};

Outputs run(const AttentionGateShape& s, const Inputs& in) {
  Outputs o;
  o.psi = sentinel(s.n * s.h * s.w);
  o.dx = sentinel(in.x.size());
  o.dtheta = sentinel(in.theta.size());
  o.dphi = sentinel(in.phi.size());
  o.dpsi_w = sentinel(s.inter);
  o.dpsi_b = sentinel(1);
  attention_gate_forward(s, in.x.data(), in.theta.data(), in.phi.data(), in.psi_w.data(),
                         in.psi_b.data(), o.psi.data());
  attention_gate_backward(s, in.x.data(), in.theta.data(), in.phi.data(), in.psi_w.data(),
                          in.dpsi.data(), o.dx.data(), o.dtheta.data(), o.dphi.data(),
                          o.dpsi_w.data(), o.dpsi_b.data());
  return o;
}

// The AG-CNN's gates (x of 32, 16 and 6 channels at 37, 75 and 150, all gated by an 18 x 18
// grid of 64 channels) and small awkward ones: one pixel, a grid larger than x (downsampling),
// non-square sizes, one channel.
const std::vector<AttentionGateShape> kShapes = {
    {2, 32, 37, 37, 64, 18, 18}, {2, 16, 75, 75, 64, 18, 18}, {1, 6, 150, 150, 64, 18, 18},
    {3, 1, 1, 1, 1, 1, 1},       {2, 3, 5, 7, 4, 9, 11},      {1, 2, 17, 3, 5, 2, 6},
    {4, 5, 33, 20, 3, 7, 1},
};

}  // namespace

TEST_CASE("attention_gate: forward and gradients match a double-precision reference") {
  uint32_t seed = 700;
  for (const AttentionGateShape& s : kShapes) {
    const std::string what = describe(s);
    const Inputs in = make_inputs(s, seed += 10);
    const Reference r = reference(s, in);
    const Outputs o = run(s, in);
    // Float rounding: a few ulp of the sums of |terms| (each output is a sum of up to a few
    // thousand products).
    const double rtol = 2e-6, atol = 1e-6;
    check_close(o.psi, r.psi, r.psi_scale, rtol, atol, what + ": psi");
    check_close(o.dx, r.dx, r.dx_scale, rtol, atol, what + ": dx");
    check_close(o.dtheta, r.dtheta, r.dtheta_scale, rtol, atol, what + ": dtheta");
    check_close(o.dphi, r.dphi, r.dphi_scale, rtol, atol, what + ": dphi");
    check_close(o.dpsi_w, r.dpsi_w, r.dpsi_w_scale, rtol, atol, what + ": dpsi_w");
    check_close(o.dpsi_b, {r.dpsi_b}, {r.dpsi_b_scale}, rtol, atol, what + ": dpsi_b");
  }
}

TEST_CASE("attention_gate: results do not depend on the thread count") {
  const AttentionGateShape s{5, 6, 40, 40, 64, 18, 18};
  const Inputs in = make_inputs(s, 901);
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const Outputs one = run(s, in);
  omp_set_num_threads(3);
  const Outputs three = run(s, in);
  omp_set_num_threads(before);
  CHECK(bitwise_equal(one.psi, three.psi));
  CHECK(bitwise_equal(one.dx, three.dx));
  CHECK(bitwise_equal(one.dtheta, three.dtheta));
  CHECK(bitwise_equal(one.dphi, three.dphi));
  CHECK(bitwise_equal(one.dpsi_w, three.dpsi_w));
  CHECK(bitwise_equal(one.dpsi_b, three.dpsi_b));
}

TEST_CASE("attention_gate: unwanted gradients may be null and leave the others unchanged") {
  const AttentionGateShape s{2, 3, 9, 8, 4, 3, 3};
  const Inputs in = make_inputs(s, 911);
  const Outputs all = run(s, in);
  std::vector<float> dx = sentinel(in.x.size()), dphi = sentinel(in.phi.size());
  attention_gate_backward(s, in.x.data(), in.theta.data(), in.phi.data(), in.psi_w.data(),
                          in.dpsi.data(), dx.data(), nullptr, nullptr, nullptr, nullptr);
  CHECK(bitwise_equal(dx, all.dx));
  std::vector<float> dtheta = sentinel(in.theta.size());
  attention_gate_backward(s, in.x.data(), in.theta.data(), in.phi.data(), in.psi_w.data(),
                          in.dpsi.data(), nullptr, dtheta.data(), dphi.data(), nullptr, nullptr);
  CHECK(bitwise_equal(dtheta, all.dtheta));
  CHECK(bitwise_equal(dphi, all.dphi));
}

TEST_CASE("attention_gate: bad extents and null buffers are refused") {
  const AttentionGateShape good{1, 2, 4, 4, 3, 2, 2};
  const Inputs in = make_inputs(good, 921);
  std::vector<float> psi(16);
  auto forward = [&](const AttentionGateShape& s, const float* x) {
    attention_gate_forward(s, x, in.theta.data(), in.phi.data(), in.psi_w.data(),
                           in.psi_b.data(), psi.data());
  };
  CHECK_NOTHROW(forward(good, in.x.data()));
  AttentionGateShape zero_grid = good;
  zero_grid.gh = 0;
  CHECK_THROWS_WITH_AS(forward(zero_grid, in.x.data()),
                       doctest::Contains("every extent must lie in [1, 2^31)"),
                       std::runtime_error);
  AttentionGateShape negative = good;
  negative.inter = -3;
  CHECK_THROWS_AS(forward(negative, in.x.data()), std::runtime_error);
  CHECK_THROWS_WITH_AS(forward(good, nullptr), doctest::Contains("a buffer is null"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(
      attention_gate_backward(good, in.x.data(), in.theta.data(), in.phi.data(), nullptr,
                              in.dpsi.data(), nullptr, nullptr, nullptr, nullptr, nullptr),
      doctest::Contains("attention_gate_backward"), std::runtime_error);
}
