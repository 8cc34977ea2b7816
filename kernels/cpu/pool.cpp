// Max and average pooling on NCHW float buffers. Each (n, c) plane is independent, so planes are
// shared among threads and each plane is computed by one thread in a fixed order: results do
// not depend on the thread count.
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace radgal::kernels::cpu {
namespace {

void check_shape(const Pool2dShape& s, const char* op) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(std::string("kernels/cpu/pool: ") + op + ": " + what);
  };
  if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1)
    fail("every extent must be >= 1 (n " + std::to_string(s.n) + ", c " + std::to_string(s.c) +
         ", h " + std::to_string(s.h) + ", w " + std::to_string(s.w) + ")");
  if (s.kernel < 1 || s.stride < 1 || s.pad < 0)
    fail("kernel and stride must be >= 1 and padding >= 0 (kernel " + std::to_string(s.kernel) +
         ", stride " + std::to_string(s.stride) + ", pad " + std::to_string(s.pad) + ")");
  // Larger padding would let a window lie entirely in the padding, where nothing can win.
  if (s.pad > s.kernel / 2)
    fail("padding " + std::to_string(s.pad) + " exceeds half the kernel (" +
         std::to_string(s.kernel) + ")");
  const int64_t limit = int64_t{1} << 31;
  if (s.n >= limit || s.c >= limit || s.kernel >= limit || s.stride >= limit)
    fail("an extent is >= 2^31");
  // argmax is an int32 index into one plane.
  if (s.h >= limit || s.w >= limit || s.h * s.w > std::numeric_limits<int32_t>::max())
    fail("plane of " + std::to_string(s.h) + "x" + std::to_string(s.w) +
         " is too large for int32 argmax indices");
  if (s.h + 2 * s.pad < s.kernel || s.w + 2 * s.pad < s.kernel)
    fail("kernel " + std::to_string(s.kernel) + " is larger than the padded input (" +
         std::to_string(s.h + 2 * s.pad) + "x" + std::to_string(s.w + 2 * s.pad) + ")");
}

void check_pointer(const void* p, const char* name, const char* op) {
  if (p == nullptr)
    throw std::runtime_error(std::string("kernels/cpu/pool: ") + op + ": " + name + " is null");
}

// The part [lo, hi) of the window starting at `start` that lies inside [0, size).
void clip_window(int64_t start, int64_t kernel, int64_t size, int64_t& lo, int64_t& hi) {
  lo = std::max<int64_t>(start, 0);
  hi = std::min(start + kernel, size);
}

}  // namespace

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const char* op = "max_pool2d_forward";
  check_shape(s, op);
  check_pointer(x, "x", op);
  check_pointer(y, "y", op);
  check_pointer(argmax, "argmax", op);
  const int64_t out_h = s.out_h(), out_w = s.out_w();
  const int64_t planes = s.n * s.c;

#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float* in = x + p * s.h * s.w;
    float* out = y + p * out_h * out_w;
    int32_t* index = argmax + p * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      int64_t y0, y1;
      clip_window(oy * s.stride - s.pad, s.kernel, s.h, y0, y1);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        int64_t x0, x1;
        clip_window(ox * s.stride - s.pad, s.kernel, s.w, x0, x1);
        // Strictly greater keeps the first maximum in row-major order; a NaN wins over any
        // number (the first NaN stays), so NaN propagates as in other frameworks.
        int64_t best = y0 * s.w + x0;
        float best_value = in[best];
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            const float v = in[iy * s.w + ix];
            if (v > best_value || (std::isnan(v) && !std::isnan(best_value))) {
              best_value = v;
              best = iy * s.w + ix;
            }
          }
        }
        out[oy * out_w + ox] = best_value;
        index[oy * out_w + ox] = static_cast<int32_t>(best);
      }
    }
  }
}

void max_pool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const char* op = "max_pool2d_backward";
  check_shape(s, op);
  check_pointer(dy, "dy", op);
  check_pointer(argmax, "argmax", op);
  check_pointer(dx, "dx", op);
  const int64_t out_plane = s.out_h() * s.out_w();
  const int64_t in_plane = s.h * s.w;
  const int64_t planes = s.n * s.c;

  // A corrupt argmax would write outside the plane; it is checked rather than trusted, and the
  // error is reported after the parallel loop (exceptions may not leave an OpenMP region).
  bool bad_index = false;
#pragma omp parallel for schedule(static) reduction(|| : bad_index)
  for (int64_t p = 0; p < planes; ++p) {
    float* out = dx + p * in_plane;
    const float* grad = dy + p * out_plane;
    const int32_t* index = argmax + p * out_plane;
    std::fill(out, out + in_plane, 0.0f);
    for (int64_t o = 0; o < out_plane; ++o) {
      const int64_t i = index[o];
      if (i < 0 || i >= in_plane) {
        bad_index = true;
        continue;
      }
      out[i] += grad[o];
    }
  }
  if (bad_index)
    throw std::runtime_error(
        "kernels/cpu/pool: max_pool2d_backward: argmax holds an index outside the " +
        std::to_string(s.h) + "x" + std::to_string(s.w) + " plane");
}

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const char* op = "avg_pool2d_forward";
  check_shape(s, op);
  check_pointer(x, "x", op);
  check_pointer(y, "y", op);
  const int64_t out_h = s.out_h(), out_w = s.out_w();
  const int64_t planes = s.n * s.c;
  const float scale = 1.0f / static_cast<float>(s.kernel * s.kernel);

#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float* in = x + p * s.h * s.w;
    float* out = y + p * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      int64_t y0, y1;
      clip_window(oy * s.stride - s.pad, s.kernel, s.h, y0, y1);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        int64_t x0, x1;
        clip_window(ox * s.stride - s.pad, s.kernel, s.w, x0, x1);
        float sum = 0.0f;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) sum += in[iy * s.w + ix];
        out[oy * out_w + ox] = sum * scale;
      }
    }
  }
}

void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  const char* op = "avg_pool2d_backward";
  check_shape(s, op);
  check_pointer(dy, "dy", op);
  check_pointer(dx, "dx", op);
  const int64_t out_h = s.out_h(), out_w = s.out_w();
  const int64_t planes = s.n * s.c;
  const float scale = 1.0f / static_cast<float>(s.kernel * s.kernel);

#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    float* out = dx + p * s.h * s.w;
    const float* grad = dy + p * out_h * out_w;
    std::fill(out, out + s.h * s.w, 0.0f);
    for (int64_t oy = 0; oy < out_h; ++oy) {
      int64_t y0, y1;
      clip_window(oy * s.stride - s.pad, s.kernel, s.h, y0, y1);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        int64_t x0, x1;
        clip_window(ox * s.stride - s.pad, s.kernel, s.w, x0, x1);
        const float g = grad[oy * out_w + ox] * scale;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) out[iy * s.w + ix] += g;
      }
    }
  }
}

}  // namespace radgal::kernels::cpu
