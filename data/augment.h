// Seeded image augmentation: rotation by any angle, shift, isotropic scale and flips, applied as
// one affine map about the image centre and sampled bilinearly or bicubically.
//
// Contracts
// - in: h * w uint8 grey levels; out: h * w floats in grey levels (0-255), overwritten. in and
//   out must not overlap.
// - The output pixel (x, y) takes the input value at the inverse-mapped point; points outside
//   the input read as 0 (the sky background of a thresholded radio image), and each of the four
//   bilinear neighbours outside the image contributes 0.
// - Geometry (x right, y down, centre ((w - 1) / 2, (h - 1) / 2)): the input is first flipped
//   (hflip mirrors x, vflip mirrors y), then rotated by angle_deg counter-clockwise as the image
//   is displayed, then scaled by `scale`, then shifted by (shift_x, shift_y) pixels.
// - draw_augment draws exactly seven numbers from the generator, in the order angle, shift x,
//   shift y, scale, hflip coin, vflip coin, lossless coin, whatever the options, so the stream
//   position after a call never depends on which augmentations are enabled. Angles are uniform
//   in [-max_rotation_deg, max_rotation_deg], shifts in [-max_shift_px, max_shift_px], scale in
//   [scale_min, scale_max]; each enabled flip happens with probability 1/2.
// - Lossless draws: with probability lossless_fraction the draw is instead a rotation by a
//   multiple of 90 degrees (each of the four equally likely, taken from the angle draw) with the
//   enabled flips and no shift or scaling. Such a map moves whole pixels, so the image keeps its
//   sharpness: a model that only ever sees interpolated (slightly blurred) training images meets
//   a different distribution in the sharp, unrotated test images.
// - Interpolation::cubic samples a 4 x 4 neighbourhood with Keys' cubic convolution kernel
//   (a = -0.5, the "bicubic" of most image libraries). It reproduces polynomials up to degree two
//   exactly and blurs far less than bilinear sampling, which averages neighbours; its overshoot
//   next to sharp edges is clamped to the grey-level range [0, 255] the stored images live in.
//   Neighbours outside the image read as 0 here too. Bilinear is the published augmentation.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/random.h"

namespace radgal {

enum class Interpolation { bilinear, cubic };

const char* to_string(Interpolation interpolation);
// "bilinear" or "cubic"; anything else throws std::invalid_argument naming the accepted values.
Interpolation parse_interpolation(const std::string& name);

struct AugmentOptions {
  float max_rotation_deg = 180;
  float max_shift_px = 2;
  float scale_min = 0.9f, scale_max = 1.1f;
  bool hflip = false, vflip = false;
  float lossless_fraction = 0;  // share of draws that only rotate by k * 90 degrees and flip
  Interpolation interpolation = Interpolation::bilinear;
};

struct AffineParams {
  float angle_deg = 0, shift_x = 0, shift_y = 0, scale = 1;
  bool hflip = false, vflip = false;
};

AffineParams draw_augment(const AugmentOptions& options, Generator& gen);

void apply_affine(const uint8_t* in, int64_t h, int64_t w, const AffineParams& params, float* out,
                  Interpolation interpolation = Interpolation::bilinear);

// draw_augment then apply_affine.
void augment_image(const uint8_t* in, int64_t h, int64_t w, const AugmentOptions& options,
                   Generator& gen, float* out);

}  // namespace radgal
