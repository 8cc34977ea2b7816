#include "data/prepare.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace radgal {

namespace {

// numpy's median: the middle value, or the mean of the two middle values for an even count.
double median_of(std::vector<float>& scratch) {  // reorders scratch
  const size_t n = scratch.size();
  const size_t mid = n / 2;
  std::nth_element(scratch.begin(), scratch.begin() + mid, scratch.end());
  const double upper = scratch[mid];
  if (n % 2) return upper;
  const double lower = *std::max_element(scratch.begin(), scratch.begin() + mid);
  return 0.5 * (lower + upper);
}

void mean_and_stddev(const std::vector<float>& v, double& mean, double& stddev) {
  double sum = 0;
  for (float x : v) sum += x;
  mean = sum / double(v.size());
  double squares = 0;
  for (float x : v) squares += (x - mean) * (x - mean);
  stddev = std::sqrt(squares / double(v.size()));  // ddof 0, as numpy.std
}

}  // namespace

SigmaClipStats sigma_clipped_stats(const float* values, int64_t n, double sigma,
                                   int max_iterations) {
  if (n <= 0) throw std::runtime_error("sigma_clipped_stats: no values");
  // Every statistic here ignores order, so the median's partial sort works in place.
  std::vector<float> kept(values, values + n);
  SigmaClipStats s;
  for (int pass = 0; pass < max_iterations; ++pass) {
    const double centre = median_of(kept);
    double mean, stddev;
    mean_and_stddev(kept, mean, stddev);
    const double lo = centre - sigma * stddev, hi = centre + sigma * stddev;
    const size_t before = kept.size();
    kept.erase(std::remove_if(kept.begin(), kept.end(), [&](float x) { return x < lo || x > hi; }),
               kept.end());
    ++s.iterations;
    if (kept.size() == before) break;
  }
  // A clip can only drop values strictly beyond 3 sigma of the centre, so something remains.
  s.median = median_of(kept);
  mean_and_stddev(kept, s.mean, s.stddev);
  s.count = int64_t(kept.size());
  return s;
}

PreparedImage prepare_mirabest_detailed(const FitsImage& image, const PrepareOptions& options) {
  const int64_t w = image.width, h = image.height, c = options.crop;
  if (c < 1 || w < c || h < c) {
    throw std::runtime_error("prepare_mirabest: " + image.path + ": the image is " +
                             std::to_string(w) + " x " + std::to_string(h) + ", smaller than the " +
                             std::to_string(c) + " x " + std::to_string(c) + " crop");
  }
  const int64_t n = w * h;
  if (int64_t(image.pixels.size()) != n) {
    throw std::runtime_error("prepare_mirabest: " + image.path + ": pixel count does not match");
  }

  PreparedImage out;
  // 1. invalid pixels to 0
  std::vector<float> img(image.pixels);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(img[i])) {
      img[i] = 0.f;
      ++out.invalid_pixels;
    }
  }

  // 2 and 3. noise from the clipped statistics, everything at or below the threshold to 0
  out.noise = sigma_clipped_stats(img.data(), n, options.clip_sigma, options.clip_iterations);
  const double threshold = options.threshold_sigma * out.noise.stddev;
  for (float& v : img) {
    if (v <= threshold) v = 0.f;
  }

  // 4. central crop, placed as the builder's crop_centre does: start = size / 2 - crop / 2
  const int64_t y0 = h / 2 - c / 2, x0 = w / 2 - c / 2;
  std::vector<float> crop(c * c);
  for (int64_t y = 0; y < c; ++y) {
    std::copy_n(&img[(y0 + y) * w + x0], c, &crop[y * c]);
  }

  // 5. optional circular mask about pixel (c / 2, c / 2)
  std::vector<uint8_t> inside(c * c, 1);
  if (options.circular_mask) {
    double radius = double(c / 2);
    if (options.source_size_arcsec > 0) {
      const double diameter_px = std::ceil(options.source_size_arcsec / options.pixel_scale_arcsec);
      radius = std::min(std::ceil(diameter_px / 2.0) * options.mask_scale, radius);
    }
    const double centre = double(c / 2);
    for (int64_t y = 0; y < c; ++y) {
      for (int64_t x = 0; x < c; ++x) {
        const double dx = x - centre, dy = y - centre;
        inside[y * c + x] = dx * dx + dy * dy <= radius * radius;
      }
    }
  }

  // 6. min-max scale to 0..255 over the (masked) crop, in float32 arithmetic as numpy does it
  // on a float32 image, then truncation
  float lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < c * c; ++i) {
    if (!inside[i]) continue;
    lo = std::min(lo, crop[i]);
    hi = std::max(hi, crop[i]);
  }
  out.crop_min = lo;
  out.crop_max = hi;
  out.pixels.assign(c * c, 0);
  if (!(hi > lo)) return out;
  const float range = hi - lo;
  for (int64_t i = 0; i < c * c; ++i) {
    if (!inside[i]) continue;
    const float v = (crop[i] - lo) / range * 255.0f;
    out.pixels[i] = v <= 0.f ? 0 : v >= 255.f ? 255 : uint8_t(v);
  }
  return out;
}

std::vector<uint8_t> prepare_mirabest(const FitsImage& image, const PrepareOptions& options) {
  return prepare_mirabest_detailed(image, options).pixels;
}

}  // namespace radgal
