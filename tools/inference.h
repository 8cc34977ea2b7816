// Running a trained classifier over images: the input scaling, batched evaluation-mode forward
// passes, optional test-time augmentation, and the attention overlay. Shared by `radgal evaluate`,
// `radgal predict` and the fidelity tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/augment.h"
#include "nn/models.h"
#include "tools/plot.h"

namespace radgal::tools {

// The network input from grey levels 0-255: (n, 1, h, w) of (v / 255 - 0.5) / 0.5, so background
// 0 becomes -1 and 255 becomes +1 (what the published network was trained on).
Tensor grey_levels_to_input(const float* grey, int64_t n, int64_t h, int64_t w);
Tensor grey_levels_to_input(const uint8_t* grey, int64_t n, int64_t h, int64_t w);

struct InferenceOptions {
  int64_t batch_size = 1;
  int tta = 0;        // 0: one plain pass; N > 0: mean of N randomly augmented passes
  uint64_t seed = 0;  // seeds the augmentations
  // Resampling of the augmented views: the published bilinear, or the cubic kernel a model
  // trained with --interpolation cubic has seen.
  Interpolation tta_interpolation = Interpolation::bilinear;
  bool keep_attention = false;
  std::string progress_label;  // non-empty: draw a progress bar with this label
};

struct InferenceResult {
  std::vector<float> p_fri, p_frii;  // per image, softmax of the logits (averaged over passes)
  // keep_attention: per image, the gate maps (attention1.., each H x W row-major) of the plain
  // pass (or of the first augmented pass with tta > 0).
  std::vector<std::vector<std::vector<float>>> attention;
  std::vector<std::pair<int64_t, int64_t>> attention_sizes;  // (H, W) per gate
};

// Runs `model` in evaluation mode, without recording gradients, over n images of h x w grey
// levels (uint8). With tta = N the i-th image of pass r is augmented by data/augment.h's random
// affine (rotation +-180 degrees, shift +-2 px, scale 0.9-1.1, fill 0, resampled as
// options.tta_interpolation says) drawn from a generator seeded with (seed, r, i), so results do
// not depend on batch size or thread count.
InferenceResult run_inference(nn::Classifier& model, const uint8_t* images, int64_t n, int64_t h,
                              int64_t w, const InferenceOptions& options);
// The same for float grey levels (PNG/JPEG input); tta is not supported here.
InferenceResult run_inference(nn::Classifier& model, const float* images, int64_t n, int64_t h,
                              int64_t w, const InferenceOptions& options);

// The published overlay (Bowles et al.'s mask_on_image): every gate map is bilinearly resized to
// h x w and the maps are averaged; image and map are each min-max normalised to [0, 1]; the map
// is coloured with magma and added to the grey image (as RGB), and the sum is divided by its
// maximum.
plot::Canvas attention_overlay(const float* grey, int64_t h, int64_t w,
                               const std::vector<std::vector<float>>& maps,
                               const std::vector<std::pair<int64_t, int64_t>>& sizes);

// The overlay as `radgal predict --maps` writes it: plot::image_figure of attention_overlay,
// magnified twice, under `title`, with a colour bar labelled "attention" running from the
// smallest to the largest finite value of the gate-averaged map (the values the overlay's
// colours span). (2 w + 120) x (2 h + 54) pixels for h >= 20.
plot::Canvas attention_figure(const float* grey, int64_t h, int64_t w,
                              const std::vector<std::vector<float>>& maps,
                              const std::vector<std::pair<int64_t, int64_t>>& sizes,
                              const std::string& title);

// The gate-averaged map at h x w (before normalisation), as used by attention_overlay.
std::vector<float> mean_attention_map(const std::vector<std::vector<float>>& maps,
                                      const std::vector<std::pair<int64_t, int64_t>>& sizes,
                                      int64_t h, int64_t w);

}  // namespace radgal::tools
