// PNG and JPEG images through stb_image, as grey levels.
//
// Contracts
// - 8-bit and 16-bit PNG, grey or colour, with or without alpha, and baseline/progressive JPEG.
// - pixels are width * height floats in grey levels 0-255, row-major, row 0 at the top of the
//   picture. 16-bit samples are divided by 257 so 65535 maps to 255 exactly.
// - Colour becomes luminance with the Rec. 601 weights 0.299 R + 0.587 G + 0.114 B (the
//   weights PIL's convert("L") uses); alpha is ignored.
// - Errors throw std::runtime_error naming the file and stb_image's reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace radgal {

struct GreyImage {
  int64_t width = 0, height = 0;
  std::vector<float> pixels;  // width * height, 0-255
  int channels = 0;           // channels stored in the file (1 grey .. 4 RGBA)
  int bits = 8;               // bits per sample in the file (8 or 16)
};

GreyImage read_image(const std::string& path);

// Writes an 8-bit grey PNG (row 0 at the top); throws naming the path. Used by tests and tools.
void write_grey_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height);

}  // namespace radgal
