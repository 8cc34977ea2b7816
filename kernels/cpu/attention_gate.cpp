// Fused attention-gate scores. Work goes pixel by pixel with the inter channels innermost:
// phi is first transposed to (gh, gw, inter), blended between the two grid rows of the output
// row, then for each pixel t (inter) = two grid columns blended + theta^T x. Every loop over
// the inter channels is contiguous, so the compiler vectorises it and the upsampling needs no
// gathers; the backward spreads dt onto the grid row the same way, without scattered adds.
#include "kernels/cpu/attention_gate.h"


#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/resize.h"

namespace radgal::kernels::cpu {
namespace {

void check_args(const AttentionGateShape& s, std::initializer_list<const void*> buffers,
                const char* op) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(std::string("kernels/cpu/attention_gate: ") + op + ": " + what);
  };
  const int64_t extents[] = {s.n, s.c, s.h, s.w, s.inter, s.gh, s.gw};
  for (int64_t e : extents) {
    if (e < 1 || e >= (int64_t{1} << 31))
      fail("every extent must lie in [1, 2^31) (x " + std::to_string(s.n) + "x" +
           std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) +
           ", inter " + std::to_string(s.inter) + ", grid " + std::to_string(s.gh) + "x" +
           std::to_string(s.gw) + ")");
  }
  for (const void* b : buffers)
    if (b == nullptr) fail("a buffer is null");
}

// a . b over 8 float lanes added pairwise: a fixed order, so the result is the same wherever it
// runs, and a loop the compiler turns into vector multiply-adds.
float dot(const float* a, const float* b, int64_t count) {
  constexpr int kLanes = 8;
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += a[i + l] * b[i + l];
  for (int l = 0; i < count; ++i, ++l) lane[l] += a[i] * b[i];
  for (int width = kLanes / 2; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) lane[l] += lane[l + width];
  return lane[0];
}

// The taps of both axes, theta transposed to (c, inter) and phi to (n, gh, gw, inter).
struct Prepared {
  const AttentionGateShape& s;
  BilinearTaps rows, cols;
  std::vector<float> theta_t, phi_t;

  Prepared(const AttentionGateShape& shape, const float* theta, const float* phi)
      : s(shape),
        rows(bilinear_taps(shape.gh, shape.h, /*align_corners=*/false)),
        cols(bilinear_taps(shape.gw, shape.w, /*align_corners=*/false)),
        theta_t(shape.c * shape.inter),
        phi_t(shape.n * shape.gh * shape.gw * shape.inter) {
    for (int64_t k = 0; k < s.inter; ++k)
      for (int64_t c = 0; c < s.c; ++c) theta_t[c * s.inter + k] = theta[k * s.c + c];
    const int64_t grid = s.gh * s.gw;
    for (int64_t i = 0; i < s.n; ++i)
      for (int64_t k = 0; k < s.inter; ++k)
        for (int64_t q = 0; q < grid; ++q)
          phi_t[(i * grid + q) * s.inter + k] = phi[(i * s.inter + k) * grid + q];
  }

  // grid_row (gw, inter): image i's phi blended between the two grid rows of output row oy.
  void blend_rows(int64_t i, int64_t oy, float* grid_row) const {
    const float w_top = rows.w_lo[oy], w_bottom = rows.w_hi[oy];
    const float* top = phi_t.data() + ((i * s.gh + rows.lo[oy]) * s.gw) * s.inter;
    const float* bottom = phi_t.data() + ((i * s.gh + rows.hi[oy]) * s.gw) * s.inter;
    for (int64_t j = 0; j < s.gw * s.inter; ++j)
      grid_row[j] = w_top * top[j] + w_bottom * bottom[j];
  }

  // t (inter) at pixel (oy, ox) of image i, from its blended grid row.
  void pre_activation(const float* x_img, const float* grid_row, int64_t oy, int64_t ox,
                      float* t) const {
    const float w_lo = cols.w_lo[ox], w_hi = cols.w_hi[ox];
    const float* left = grid_row + cols.lo[ox] * s.inter;
    const float* right = grid_row + cols.hi[ox] * s.inter;
    for (int64_t k = 0; k < s.inter; ++k) t[k] = w_lo * left[k] + w_hi * right[k];
    const int64_t plane = s.h * s.w, at = oy * s.w + ox;
    for (int64_t c = 0; c < s.c; ++c) {
      const float xv = x_img[c * plane + at];
      const float* th = theta_t.data() + c * s.inter;
      for (int64_t k = 0; k < s.inter; ++k) t[k] += xv * th[k];
    }
  }
};

}  // namespace

void attention_gate_forward(const AttentionGateShape& s, const float* x, const float* theta,
                            const float* phi, const float* psi_w, const float* psi_b,
                            float* psi) {
  check_args(s, {x, theta, phi, psi_w, psi_b, psi}, "attention_gate_forward");
  const Prepared prep(s, theta, phi);
  const int64_t plane = s.h * s.w, rows = s.n * s.h;
  const float bias = *psi_b;
  // Rows of all images are shared among threads; each psi row is written by one thread.
#pragma omp parallel
  {
    std::vector<float> grid_row(s.gw * s.inter), t(s.inter);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r / s.h, oy = r % s.h;
      const float* x_img = x + i * s.c * plane;
      prep.blend_rows(i, oy, grid_row.data());
      float* out = psi + i * plane + oy * s.w;
      for (int64_t ox = 0; ox < s.w; ++ox) {
        prep.pre_activation(x_img, grid_row.data(), oy, ox, t.data());
        for (int64_t k = 0; k < s.inter; ++k) t[k] = std::max(t[k], 0.0f);
        out[ox] = dot(psi_w, t.data(), s.inter) + bias;
      }
    }
  }
}

void attention_gate_backward(const AttentionGateShape& s, const float* x, const float* theta,
                             const float* phi, const float* psi_w, const float* dpsi, float* dx,
                             float* dtheta, float* dphi, float* dpsi_w, float* dpsi_b) {
  check_args(s, {x, theta, phi, psi_w, dpsi}, "attention_gate_backward");
  const Prepared prep(s, theta, phi);
  const int64_t plane = s.h * s.w, grid = s.gh * s.gw;

  // Per-image sums of the parameter gradients in double (theta's as (c, inter)), added over the
  // images in order once every image is done. Within a row they gather in float.
  const int64_t per_image = s.c * s.inter + s.inter + 1;
  std::vector<double> partial(s.n * per_image, 0.0);

#pragma omp parallel
  {
    std::vector<float> grid_row(s.gw * s.inter), dgrid_row(s.gw * s.inter);
    std::vector<float> t(s.inter), dt(s.inter), row_theta(s.c * s.inter), row_psi_w(s.inter);
    std::vector<float> dphi_t(dphi ? grid * s.inter : 0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < s.n; ++i) {
      const float* x_img = x + i * s.c * plane;
      double* d_theta = partial.data() + i * per_image;
      double* d_psi_w = d_theta + s.c * s.inter;
      double* d_psi_b = d_psi_w + s.inter;
      std::fill(dphi_t.begin(), dphi_t.end(), 0.0f);

      for (int64_t oy = 0; oy < s.h; ++oy) {
        prep.blend_rows(i, oy, grid_row.data());
        std::fill(dgrid_row.begin(), dgrid_row.end(), 0.0f);
        std::fill(row_theta.begin(), row_theta.end(), 0.0f);
        std::fill(row_psi_w.begin(), row_psi_w.end(), 0.0f);
        float row_psi_b = 0.0f;
        const float* g_row = dpsi + i * plane + oy * s.w;
        for (int64_t ox = 0; ox < s.w; ++ox) {
          prep.pre_activation(x_img, grid_row.data(), oy, ox, t.data());
          const float g = g_row[ox];
          row_psi_b += g;
          // dt = psi_w * dpsi where t > 0, else 0 (the ReLU's gate). The gate is a 0/1 factor,
          // not a branch: a branch here goes either way at random, is mispredicted half the
          // time and keeps the loop from being vectorised.
          for (int64_t k = 0; k < s.inter; ++k) {
            const float on = static_cast<float>(t[k] > 0.0f);
            row_psi_w[k] += on * t[k] * g;
            dt[k] = on * psi_w[k] * g;
          }
          const int64_t at = oy * s.w + ox;
          for (int64_t c = 0; c < s.c; ++c) {
            const float xv = x_img[c * plane + at];
            float* acc = row_theta.data() + c * s.inter;
            for (int64_t k = 0; k < s.inter; ++k) acc[k] += xv * dt[k];
          }
          if (dx) {
            for (int64_t c = 0; c < s.c; ++c)
              dx[(i * s.c + c) * plane + at] =
                  dot(prep.theta_t.data() + c * s.inter, dt.data(), s.inter);
          }
          if (dphi) {
            const float w_lo = prep.cols.w_lo[ox], w_hi = prep.cols.w_hi[ox];
            float* left = dgrid_row.data() + prep.cols.lo[ox] * s.inter;
            float* right = dgrid_row.data() + prep.cols.hi[ox] * s.inter;
            for (int64_t k = 0; k < s.inter; ++k) left[k] += w_lo * dt[k];
            for (int64_t k = 0; k < s.inter; ++k) right[k] += w_hi * dt[k];
          }
        }
        *d_psi_b += row_psi_b;
        for (int64_t k = 0; k < s.inter; ++k) d_psi_w[k] += row_psi_w[k];
        for (int64_t j = 0; j < s.c * s.inter; ++j) d_theta[j] += row_theta[j];
        if (dphi) {
          // The upsampling's transpose along y: onto the two grid rows this row came from.
          const float w_top = prep.rows.w_lo[oy], w_bottom = prep.rows.w_hi[oy];
          float* top = dphi_t.data() + prep.rows.lo[oy] * s.gw * s.inter;
          float* bottom = dphi_t.data() + prep.rows.hi[oy] * s.gw * s.inter;
          for (int64_t j = 0; j < s.gw * s.inter; ++j) top[j] += w_top * dgrid_row[j];
          for (int64_t j = 0; j < s.gw * s.inter; ++j) bottom[j] += w_bottom * dgrid_row[j];
        }
      }
      if (dphi) {
        float* out = dphi + i * s.inter * grid;
        for (int64_t q = 0; q < grid; ++q)
          for (int64_t k = 0; k < s.inter; ++k) out[k * grid + q] = dphi_t[q * s.inter + k];
      }
    }
  }

  auto total = [&](int64_t offset) {
    double sum = 0.0;
    for (int64_t i = 0; i < s.n; ++i) sum += partial[i * per_image + offset];
    return static_cast<float>(sum);
  };
  if (dtheta)
    for (int64_t k = 0; k < s.inter; ++k)
      for (int64_t c = 0; c < s.c; ++c) dtheta[k * s.c + c] = total(c * s.inter + k);
  if (dpsi_w)
    for (int64_t k = 0; k < s.inter; ++k) dpsi_w[k] = total(s.c * s.inter + k);
  if (dpsi_b) *dpsi_b = total(s.c * s.inter + s.inter);
}

}  // namespace radgal::kernels::cpu
