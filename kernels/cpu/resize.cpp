// Bilinear resize on (planes, h, w) float buffers. Source coordinates are computed in float the
// way PyTorch's CPU kernel does (scale in float, then scale * (dst + 0.5) - 0.5), so outputs
// match F.interpolate(mode="bilinear") to the last bit or two. Planes are shared among
// threads; each plane is written by one thread, so results do not depend on the thread count.
// Both directions work one axis at a time: a 16 x 64 x 18 x 18 -> 150 x 150 backward is 4x
// faster than scattering four weighted terms per output pixel.
#include "kernels/cpu/resize.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace radgal::kernels::cpu {

BilinearTaps bilinear_taps(int64_t in, int64_t out, bool align_corners) {
  BilinearTaps t;
  t.lo.resize(out);
  t.hi.resize(out);
  t.w_lo.resize(out);
  t.w_hi.resize(out);
  float scale;
  if (align_corners)
    scale = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  else
    scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = align_corners ? scale * static_cast<float>(d)
                              : scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    src = std::max(src, 0.0f);
    const int64_t lo = std::min(static_cast<int64_t>(src), in - 1);
    const float frac = std::clamp(src - static_cast<float>(lo), 0.0f, 1.0f);
    t.lo[d] = lo;
    t.hi[d] = std::min(lo + 1, in - 1);
    t.w_lo[d] = 1.0f - frac;
    t.w_hi[d] = frac;
  }
  return t;
}

namespace {

void check_args(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w, const void* in,
                const void* out, const char* op) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(std::string("kernels/cpu/resize: ") + op + ": " + what);
  };
  if (planes < 1 || h < 1 || w < 1 || out_h < 1 || out_w < 1)
    fail("every extent must be >= 1 (planes " + std::to_string(planes) + ", " + std::to_string(h) +
         "x" + std::to_string(w) + " -> " + std::to_string(out_h) + "x" + std::to_string(out_w) +
         ")");
  const int64_t limit = int64_t{1} << 31;
  if (planes >= limit || h >= limit || w >= limit || out_h >= limit || out_w >= limit)
    fail("an extent is >= 2^31");
  if (in == nullptr || out == nullptr) fail("a buffer is null");
}

}  // namespace

void upsample_bilinear2d_forward(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                 bool align_corners, const float* x, float* y) {
  check_args(planes, h, w, out_h, out_w, x, y, "upsample_bilinear2d_forward");
  const BilinearTaps rows = bilinear_taps(h, out_h, align_corners);
  const BilinearTaps cols = bilinear_taps(w, out_w, align_corners);
  std::vector<float> scratch(h * out_w * omp_get_max_threads());

  // Separable: every input row is first resized along x into `across` (h, out_w), then each
  // output row blends two of those rows, a contiguous loop the compiler vectorises. The sums
  // are the ones of the 2-D formula, w_y0 * (w_x0 * a + w_x1 * b) + w_y1 * (w_x0 * c + ...).
#pragma omp parallel
  {
    float* across = scratch.data() + h * out_w * omp_get_thread_num();
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const float* in = x + p * h * w;
      float* out = y + p * out_h * out_w;
      for (int64_t r = 0; r < h; ++r) {
        const float* src = in + r * w;
        float* dst = across + r * out_w;
        for (int64_t ox = 0; ox < out_w; ++ox)
          dst[ox] = cols.w_lo[ox] * src[cols.lo[ox]] + cols.w_hi[ox] * src[cols.hi[ox]];
      }
      for (int64_t oy = 0; oy < out_h; ++oy) {
        const float* top = across + rows.lo[oy] * out_w;
        const float* bottom = across + rows.hi[oy] * out_w;
        const float w_top = rows.w_lo[oy], w_bottom = rows.w_hi[oy];
        float* dst = out + oy * out_w;
        for (int64_t ox = 0; ox < out_w; ++ox) dst[ox] = w_top * top[ox] + w_bottom * bottom[ox];
      }
    }
  }
}

void upsample_bilinear2d_backward(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                  int64_t out_w, bool align_corners, const float* dy, float* dx) {
  check_args(planes, h, w, out_h, out_w, dy, dx, "upsample_bilinear2d_backward");
  const BilinearTaps rows = bilinear_taps(h, out_h, align_corners);
  const BilinearTaps cols = bilinear_taps(w, out_w, align_corners);
  std::vector<float> scratch(h * out_w * omp_get_max_threads());

  // The forward's transpose, also separable: output rows are first gathered into the input
  // rows they came from (contiguous, vectorised), then each of those is spread along x.
#pragma omp parallel
  {
    float* across = scratch.data() + h * out_w * omp_get_thread_num();
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const float* grad = dy + p * out_h * out_w;
      float* out = dx + p * h * w;
      std::fill(across, across + h * out_w, 0.0f);
      for (int64_t oy = 0; oy < out_h; ++oy) {
        float* top = across + rows.lo[oy] * out_w;
        float* bottom = across + rows.hi[oy] * out_w;
        const float w_top = rows.w_lo[oy], w_bottom = rows.w_hi[oy];
        const float* src = grad + oy * out_w;
        for (int64_t ox = 0; ox < out_w; ++ox) top[ox] += w_top * src[ox];
        for (int64_t ox = 0; ox < out_w; ++ox) bottom[ox] += w_bottom * src[ox];
      }
      std::fill(out, out + h * w, 0.0f);
      for (int64_t r = 0; r < h; ++r) {
        const float* src = across + r * out_w;
        float* dst = out + r * w;
        for (int64_t ox = 0; ox < out_w; ++ox) {
          dst[cols.lo[ox]] += cols.w_lo[ox] * src[ox];
          dst[cols.hi[ox]] += cols.w_hi[ox] * src[ox];
        }
      }
    }
  }
}

}  // namespace radgal::kernels::cpu
