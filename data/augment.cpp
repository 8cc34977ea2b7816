#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace radgal {

const char* to_string(Interpolation interpolation) {
  return interpolation == Interpolation::cubic ? "cubic" : "bilinear";
}

Interpolation parse_interpolation(const std::string& name) {
  if (name == "bilinear") return Interpolation::bilinear;
  if (name == "cubic") return Interpolation::cubic;
  throw std::invalid_argument("unknown interpolation '" + name + "' (bilinear or cubic)");
}

namespace {

// Keys' cubic convolution weights (a = -0.5) of the four taps at offsets -1, 0, 1, 2 from the
// sample's integer part, for the fractional part t in [0, 1). They sum to 1 for every t.
void cubic_weights(float t, float wt[4]) {
  constexpr float a = -0.5f;
  // inner: taps at most one pixel away; outer: taps between one and two pixels away.
  auto inner = [](float d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };
  auto outer = [](float d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };
  wt[0] = outer(1 + t);
  wt[1] = inner(t);
  wt[2] = inner(1 - t);
  wt[3] = outer(2 - t);
}

}  // namespace

AffineParams draw_augment(const AugmentOptions& o, Generator& gen) {
  if (o.max_rotation_deg < 0 || o.max_shift_px < 0 || !(o.scale_min > 0) ||
      o.scale_max < o.scale_min || !(o.lossless_fraction >= 0 && o.lossless_fraction <= 1)) {
    throw std::runtime_error(
        "augment: bad options (negative range, scale_min > scale_max or a lossless fraction "
        "outside [0, 1])");
  }
  AffineParams p;
  // Each draw happens unconditionally so the generator advances the same way for any options.
  const float angle = gen.uniform(-1.f, 1.f);
  const float sx = gen.uniform(-1.f, 1.f);
  const float sy = gen.uniform(-1.f, 1.f);
  const float s = gen.uniform();
  const float hcoin = gen.uniform();
  const float vcoin = gen.uniform();
  const float lossless_coin = gen.uniform();
  p.angle_deg = angle * o.max_rotation_deg;
  p.shift_x = sx * o.max_shift_px;
  p.shift_y = sy * o.max_shift_px;
  p.scale = o.scale_min + (o.scale_max - o.scale_min) * s;
  p.hflip = o.hflip && hcoin < 0.5f;
  p.vflip = o.vflip && vcoin < 0.5f;
  if (lossless_coin < o.lossless_fraction) {
    // The angle draw, uniform in [-1, 1), picks one of the four quarter turns.
    const int quarter = std::min(3, static_cast<int>((angle + 1.f) * 2.f));
    p.angle_deg = 90.f * float(quarter);
    p.shift_x = p.shift_y = 0;
    p.scale = 1;
  }
  return p;
}

void apply_affine(const uint8_t* in, int64_t h, int64_t w, const AffineParams& p, float* out,
                  Interpolation interpolation) {
  if (!(p.scale > 0)) throw std::runtime_error("apply_affine: scale must be positive");
  double c, s;
  const double quarters = double(p.angle_deg) / 90.0;
  if (quarters == std::round(quarters) && std::abs(quarters) < 1e6) {
    // A quarter turn takes exact cosines and sines, so pixel centres land on pixel centres and
    // the image is moved without interpolation.
    const int q = ((static_cast<int>(std::round(quarters)) % 4) + 4) % 4;
    c = q == 0 ? 1 : (q == 2 ? -1 : 0);
    s = q == 1 ? 1 : (q == 3 ? -1 : 0);
  } else {
    const double theta = p.angle_deg * M_PI / 180.0;
    c = std::cos(theta);
    s = std::sin(theta);
  }
  const double cx = 0.5 * double(w - 1), cy = 0.5 * double(h - 1);
  auto at = [&](int64_t x, int64_t y) -> float {
    return x >= 0 && x < w && y >= 0 && y < h ? float(in[y * w + x]) : 0.f;
  };
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      // Undo shift, scale, rotation (forward: x' = c dx + s dy, y' = -s dx + c dy), then flips.
      const double ux = (double(x) - cx - p.shift_x) / p.scale;
      const double uy = (double(y) - cy - p.shift_y) / p.scale;
      double dx = c * ux - s * uy;
      double dy = s * ux + c * uy;
      if (p.hflip) dx = -dx;
      if (p.vflip) dy = -dy;
      const double sxp = cx + dx, syp = cy + dy;
      if (!(std::abs(sxp) < 1e9 && std::abs(syp) < 1e9)) {  // far outside, or NaN parameters
        out[y * w + x] = 0.f;
        continue;
      }
      const double fx0 = std::floor(sxp), fy0 = std::floor(syp);
      const float fx = float(sxp - fx0), fy = float(syp - fy0);
      const int64_t x0 = int64_t(fx0), y0 = int64_t(fy0);
      if (interpolation == Interpolation::bilinear) {
        out[y * w + x] = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
                         fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        continue;
      }
      float wx[4], wy[4];
      cubic_weights(fx, wx);
      cubic_weights(fy, wy);
      float v = 0;
      for (int j = 0; j < 4; ++j) {
        float row = 0;
        for (int i = 0; i < 4; ++i) row += wx[i] * at(x0 - 1 + i, y0 - 1 + j);
        v += wy[j] * row;
      }
      out[y * w + x] = std::clamp(v, 0.f, 255.f);
    }
  }
}

void augment_image(const uint8_t* in, int64_t h, int64_t w, const AugmentOptions& options,
                   Generator& gen, float* out) {
  apply_affine(in, h, w, draw_augment(options, gen), out, options.interpolation);
}

}  // namespace radgal
