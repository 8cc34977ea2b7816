// MiraBest images from raw FIRST cutouts, the way the dataset's authors made them:
//
//   1. invalid (NaN / inf) pixels set to 0;
//   2. sigma-clipped statistics over the whole image: centre = median, spread = standard
//      deviation (ddof 0), values farther than 3 sigma from the centre dropped, repeated up to
//      5 times or until nothing more is dropped; the noise sigma is the standard deviation of
//      what remains (astropy's sigma_clipped_stats with its defaults);
//   3. every pixel at or below 3 sigma (the value itself, not median + 3 sigma) set to 0;
//   4. the central 150 x 150 crop (rows and columns 75..224 of a 300 x 300 cutout);
//   5. optionally (only the later builder did this) a circular mask: pixels farther from the
//      crop centre than the source's radius set to 0, the scaling taken from inside only;
//   6. a linear min-max scale to 0..255 and truncation to 8 bits.
//
// The batches in the MiraBest release were made from unquantised cutouts; the cutouts in the
// data folder are fpack-quantised, so a few pixels near the threshold land on the other side of
// it and the result agrees with the release to about 0.1 grey levels per image, not bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "data/fits.h"

namespace radgal {

struct SigmaClipStats {
  double mean = 0, median = 0, stddev = 0;  // of the values that survived the clipping
  int64_t count = 0;                        // how many survived
  int iterations = 0;                       // clipping passes made
};

// Sigma-clipped statistics of values[0, n); every value must be finite. Throws when n is 0.
SigmaClipStats sigma_clipped_stats(const float* values, int64_t n, double sigma = 3.0,
                                   int max_iterations = 5);

struct PrepareOptions {
  double clip_sigma = 3.0;  // clipping width for the noise statistics
  int clip_iterations = 5;
  double threshold_sigma = 3.0;  // pixels <= threshold_sigma * noise sigma become 0
  int64_t crop = 150;            // side of the central crop
  // The later builder's circular mask. Its radius in pixels is
  // min(ceil(ceil(source_size_arcsec / pixel_scale_arcsec) / 2) * mask_scale, crop / 2),
  // or crop / 2 when source_size_arcsec is 0.
  bool circular_mask = false;
  double source_size_arcsec = 0;
  double pixel_scale_arcsec = 1.8;
  double mask_scale = 1.0;  // the builder's notebook variant uses 1.5
};

struct PreparedImage {
  std::vector<uint8_t> pixels;       // crop * crop
  SigmaClipStats noise;              // the clipped statistics of step 2
  int64_t invalid_pixels = 0;        // NaN / inf pixels in the input
  float crop_min = 0, crop_max = 0;  // the scaling range of step 6, in the input's units
};

// Throws when the image is smaller than the crop. A crop that is constant after thresholding
// (an empty or all-NaN cutout) gives all zeros.
PreparedImage prepare_mirabest_detailed(const FitsImage& image, const PrepareOptions& options = {});

std::vector<uint8_t> prepare_mirabest(const FitsImage& image, const PrepareOptions& options = {});

}  // namespace radgal
