// FITS images through CFITSIO: plain, gzip-compressed (.gz) and tile-compressed (.fz) files.
//
// Contracts
// - read_fits takes the first HDU that holds an image of at least two axes, so a file whose
//   primary HDU is empty (NAXIS = 0, the fpack layout) reads its image from the extension.
// - BITPIX 8, 16, 32, 64, -32 and -64 are accepted; BSCALE and BZERO are applied; integer pixels
//   equal to BLANK become NaN. Axes beyond the second must have length 1 (a 1 x 1 x 300 x 300
//   radio cube reads as a 300 x 300 image); anything else is an error.
// - pixels are width * height floats, row-major in file order: pixels[y * width + x] is FITS
//   pixel (x + 1, y + 1), so row 0 is the first row stored (the bottom of the image as FITS
//   viewers show it). This is the order numpy/astropy give, which the MiraBest images were cut in.
// - invalid[i] is 1 where pixels[i] is NaN or +-inf (including BLANK and values beyond the float
//   range), else 0. Callers must keep invalid pixels out of statistics, scaling and training.
// - Errors throw std::runtime_error naming the file and carrying CFITSIO's own message.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace radgal {

// The basic celestial WCS of an image: enough to name the sky position of a pixel.
struct Wcs {
  bool present = false;          // CRVAL, CRPIX and CDELT (or CDi_i) found for both axes
  std::string ctype[2];          // e.g. "RA---TAN", "DEC--TAN"
  double crval[2] = {0.0, 0.0};  // world coordinate at the reference pixel (degrees)
  double crpix[2] = {0.0, 0.0};  // reference pixel, 1-based FITS convention
  double cdelt[2] = {0.0, 0.0};  // degrees per pixel along x and y

  // World coordinates (degrees) of the 0-based array position (x, y) of FitsImage::pixels.
  // The TAN (gnomonic) projection is inverted exactly; any other projection is treated as a
  // linear offset from CRVAL, which is accurate only near the reference pixel.
  std::pair<double, double> pixel_to_world(double x, double y) const;
};

struct FitsImage {
  int64_t width = 0, height = 0;
  std::vector<float> pixels;     // width * height, see the contract above
  std::vector<uint8_t> invalid;  // width * height, 1 = NaN or +-inf
  Wcs wcs;
  std::string path;
  int hdu = 0;     // 1-based number of the HDU the image came from
  int bitpix = 0;  // BITPIX of the stored data (ZBITPIX for tile-compressed files)

  int64_t invalid_count() const;
};

FitsImage read_fits(const std::string& path);

// The FITS files of a folder (names ending .fits, .fit, .fts, optionally followed by .gz or .fz),
// sorted by name; not recursive. Throws when dir is not a readable folder.
std::vector<std::string> list_fits_files(const std::string& dir);

// Writes a float image as a plain single-HDU FITS file with BITPIX -32 (row 0 first, the same
// order read_fits returns) and the WCS keywords when wcs.present. Used by tests and tools to make
// FITS files; throws naming the path. Overwrites an existing file.
void write_fits(const std::string& path, const std::vector<float>& pixels, int64_t width,
                int64_t height, const Wcs& wcs = {});

}  // namespace radgal
