#include "data/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

namespace radgal {

namespace {

// Decoding a picture larger than this is refused: it would be a mosaic, not a cutout, and a
// hostile header could otherwise ask for gigabytes.
constexpr int64_t kMaxPixels = int64_t(1) << 26;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("read_image: " + path + ": " + what);
}

// Decoded samples (channels per pixel: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) to grey levels.
template <typename Sample>
void to_grey(const Sample* samples, int width, int height, int channels, float unit,
             GreyImage& image) {
  const int64_t n = int64_t(width) * height;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const Sample* p = samples + i * channels;
    const float grey = channels <= 2
                           ? float(p[0])
                           : 0.299f * float(p[0]) + 0.587f * float(p[1]) + 0.114f * float(p[2]);
    image.pixels[size_t(i)] = grey * unit;
  }
}

}  // namespace

GreyImage read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file");
  const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>()};
  if (bytes.empty()) fail(path, "the file is empty");
  if (bytes.size() > size_t(1) << 31) fail(path, "the file is larger than 2 GiB");
  const int size = int(bytes.size());

  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(bytes.data(), size, &width, &height, &channels)) {
    fail(path, std::string("not a readable PNG or JPEG image (") + stbi_failure_reason() + ")");
  }
  if (width < 1 || height < 1 || int64_t(width) * height > kMaxPixels) {
    fail(path, "image size " + std::to_string(width) + " x " + std::to_string(height) +
                   " is outside 1 .. " + std::to_string(kMaxPixels) + " pixels");
  }

  GreyImage image;
  image.bits = stbi_is_16_bit_from_memory(bytes.data(), size) ? 16 : 8;
  if (image.bits == 16) {
    std::unique_ptr<stbi_us, void (*)(void*)> data(
        stbi_load_16_from_memory(bytes.data(), size, &width, &height, &channels, 0),
        stbi_image_free);
    if (!data) fail(path, std::string("cannot decode (") + stbi_failure_reason() + ")");
    to_grey(data.get(), width, height, channels, 1.0f / 257.0f, image);
  } else {
    std::unique_ptr<stbi_uc, void (*)(void*)> data(
        stbi_load_from_memory(bytes.data(), size, &width, &height, &channels, 0), stbi_image_free);
    if (!data) fail(path, std::string("cannot decode (") + stbi_failure_reason() + ")");
    to_grey(data.get(), width, height, channels, 1.0f, image);
  }
  return image;
}

void write_grey_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height) {
  if (width < 1 || height < 1 || width > (1 << 20) || height > (1 << 20)) {
    throw std::runtime_error("write_grey_png: " + path + ": bad size " + std::to_string(width) +
                             " x " + std::to_string(height));
  }
  if (!stbi_write_png(path.c_str(), int(width), int(height), 1, pixels, int(width))) {
    throw std::runtime_error("write_grey_png: " + path + ": cannot write the file");
  }
}

}  // namespace radgal
