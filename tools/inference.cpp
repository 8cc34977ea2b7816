#include "tools/inference.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "data/augment.h"
#include "tensor/ops.h"
#include "train/progress.h"

namespace radgal::tools {

namespace {

// One generator per (seed, pass, image): a splitmix64-style mix so nearby triples give unrelated
// streams.
uint64_t mix_seed(uint64_t seed, uint64_t pass, uint64_t image) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (pass + 1) + 0xD1B54A32D192ED03ull * (image + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <typename Pixel>
Tensor to_input(const Pixel* grey, int64_t n, int64_t h, int64_t w) {
  Tensor x = Tensor::empty({n, 1, h, w});
  float* out = x.data();
  for (int64_t i = 0; i < n * h * w; ++i)
    out[i] = (static_cast<float>(grey[i]) / 255.f - 0.5f) / 0.5f;
  return x;
}

// The shared loop: `fill(pass, first, count, out)` writes count images (grey levels 0-255, h x w
// each) starting at image `first` for pass `pass`.
template <typename Fill>
InferenceResult run_batches(nn::Classifier& model, int64_t n, int64_t h, int64_t w,
                            const InferenceOptions& options, Fill&& fill) {
  if (n < 0 || h < 1 || w < 1) throw std::invalid_argument("run_inference: bad image count/size");
  if (options.batch_size < 1) throw std::invalid_argument("run_inference: batch size must be >= 1");
  NoGradGuard no_grad;
  model.eval();

  InferenceResult result;
  result.p_fri.assign(static_cast<size_t>(n), 0.f);
  result.p_frii.assign(static_cast<size_t>(n), 0.f);
  if (options.keep_attention) result.attention.resize(static_cast<size_t>(n));
  const int passes = std::max(1, options.tta);

  std::unique_ptr<ProgressBar> progress;
  if (!options.progress_label.empty()) {
    progress = std::make_unique<ProgressBar>(options.progress_label, n * passes);
  }
  std::vector<float> grey;
  for (int pass = 0; pass < passes; ++pass) {
    for (int64_t first = 0; first < n; first += options.batch_size) {
      const int64_t count = std::min(options.batch_size, n - first);
      grey.resize(static_cast<size_t>(count * h * w));
      fill(pass, first, count, grey.data());
      const nn::ClassifierOutput out = model.forward(to_input(grey.data(), count, h, w));
      const std::vector<float> p = softmax(out.logits, 1).to_vector();  // (count, 2)
      for (int64_t i = 0; i < count; ++i) {
        result.p_fri[first + i] += p[2 * i];
        result.p_frii[first + i] += p[2 * i + 1];
      }
      if (options.keep_attention && pass == 0) {
        if (result.attention_sizes.empty()) {
          for (const Tensor& a : out.attention)
            result.attention_sizes.emplace_back(a.size(2), a.size(3));
        }
        for (const Tensor& a : out.attention) {
          const std::vector<float> all = a.to_vector();
          const size_t plane = static_cast<size_t>(a.size(2) * a.size(3));
          for (int64_t i = 0; i < count; ++i) {
            result.attention[first + i].emplace_back(all.begin() + i * plane,
                                                     all.begin() + (i + 1) * plane);
          }
        }
      }
      if (progress) progress->update(count);
    }
  }
  if (progress) progress->finish();
  for (int64_t i = 0; i < n; ++i) {
    result.p_fri[i] /= static_cast<float>(passes);
    result.p_frii[i] /= static_cast<float>(passes);
  }
  return result;
}

}  // namespace

Tensor grey_levels_to_input(const float* grey, int64_t n, int64_t h, int64_t w) {
  return to_input(grey, n, h, w);
}

Tensor grey_levels_to_input(const uint8_t* grey, int64_t n, int64_t h, int64_t w) {
  return to_input(grey, n, h, w);
}

InferenceResult run_inference(nn::Classifier& model, const uint8_t* images, int64_t n, int64_t h,
                              int64_t w, const InferenceOptions& options) {
  AugmentOptions augment;  // the published RandomAffine: +-180 deg, +-2 px, 0.9-1.1
  augment.interpolation = options.tta_interpolation;
  return run_batches(model, n, h, w, options,
                     [&](int pass, int64_t first, int64_t count, float* out) {
                       for (int64_t i = 0; i < count; ++i) {
                         const uint8_t* src = images + (first + i) * h * w;
                         float* dst = out + i * h * w;
                         if (options.tta > 0) {
                           Generator rng(mix_seed(options.seed, pass, first + i));
                           augment_image(src, h, w, augment, rng, dst);
                         } else {
                           std::copy(src, src + h * w, dst);
                         }
                       }
                     });
}

InferenceResult run_inference(nn::Classifier& model, const float* images, int64_t n, int64_t h,
                              int64_t w, const InferenceOptions& options) {
  if (options.tta > 0) {
    throw std::invalid_argument("run_inference: test-time augmentation needs 8-bit images");
  }
  return run_batches(model, n, h, w, options, [&](int, int64_t first, int64_t count, float* out) {
    std::copy(images + first * h * w, images + (first + count) * h * w, out);
  });
}

std::vector<float> mean_attention_map(const std::vector<std::vector<float>>& maps,
                                      const std::vector<std::pair<int64_t, int64_t>>& sizes,
                                      int64_t h, int64_t w) {
  if (maps.empty() || maps.size() != sizes.size()) {
    throw std::invalid_argument("mean_attention_map: need one size per map and at least one map");
  }
  std::vector<float> mean(static_cast<size_t>(h * w), 0.f);
  for (size_t k = 0; k < maps.size(); ++k) {
    const auto [mh, mw] = sizes[k];
    const std::vector<float> resized =
        plot::resize_bilinear(maps[k].data(), static_cast<int>(mh), static_cast<int>(mw),
                              static_cast<int>(h), static_cast<int>(w));
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += resized[i];
  }
  for (float& v : mean) v /= static_cast<float>(maps.size());
  return mean;
}

namespace {

// attention_overlay from the gate-averaged map (h x w).
plot::Canvas overlay_of_mean_map(const float* grey, int64_t h, int64_t w,
                                 const std::vector<float>& map) {
  const size_t n = static_cast<size_t>(h * w);
  auto unit_range = [n](const float* v) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
      if (std::isfinite(v[i])) {
        lo = std::min(lo, v[i]);
        hi = std::max(hi, v[i]);
      }
    }
    std::vector<float> out(n, 0.f);
    if (hi > lo) {
      for (size_t i = 0; i < n; ++i) out[i] = std::isfinite(v[i]) ? (v[i] - lo) / (hi - lo) : 0.f;
    }
    return out;
  };
  const std::vector<float> g = unit_range(grey), t = unit_range(map.data());

  std::vector<float> rgb(3 * n);
  float peak = 0.f;
  for (size_t i = 0; i < n; ++i) {
    const plot::Rgb c = plot::magma(t[i]);
    rgb[3 * i + 0] = g[i] + c.r / 255.f;
    rgb[3 * i + 1] = g[i] + c.g / 255.f;
    rgb[3 * i + 2] = g[i] + c.b / 255.f;
    peak = std::max({peak, rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]});
  }
  plot::Canvas canvas(static_cast<int>(w), static_cast<int>(h));
  const float scale = peak > 0.f ? 255.f / peak : 0.f;
  auto to_byte = [scale](float v) {
    return static_cast<uint8_t>(std::clamp(v * scale, 0.f, 255.f));
  };
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y * w + x);
      canvas.set(static_cast<int>(x), static_cast<int>(y),
                 {to_byte(rgb[3 * i]), to_byte(rgb[3 * i + 1]), to_byte(rgb[3 * i + 2])});
    }
  }
  return canvas;
}

}  // namespace

plot::Canvas attention_overlay(const float* grey, int64_t h, int64_t w,
                               const std::vector<std::vector<float>>& maps,
                               const std::vector<std::pair<int64_t, int64_t>>& sizes) {
  return overlay_of_mean_map(grey, h, w, mean_attention_map(maps, sizes, h, w));
}

plot::Canvas attention_figure(const float* grey, int64_t h, int64_t w,
                              const std::vector<std::vector<float>>& maps,
                              const std::vector<std::pair<int64_t, int64_t>>& sizes,
                              const std::string& title) {
  const std::vector<float> map = mean_attention_map(maps, sizes, h, w);
  float lo = INFINITY, hi = -INFINITY;
  for (float v : map) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return plot::image_figure(overlay_of_mean_map(grey, h, w, map), 2, title, lo, hi, "attention");
}

}  // namespace radgal::tools
