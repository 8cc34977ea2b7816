// PNG/JPEG reader: files written here (8-bit by stb_image_write, 16-bit by a minimal PNG encoder
// below) and the real processed MiraBest PNGs.
#include <doctest/doctest.h>
#include <stb_image_write.h>
#include <zlib.h>

#include <cmath>

#include "data/batches.h"
#include "data/image.h"
#include "data_test_util.h"

using radgal::read_image;
using radgal::test::TempDir;

namespace {

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

void put_chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  put_be32(png, uint32_t(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put_be32(png, uint32_t(crc32(0, body.data(), uInt(body.size()))));
}

// A 16-bit PNG (colour type 0 grey or 2 RGB), filter 0 on every row, samples big-endian.
std::vector<uint8_t> png16(int width, int height, int channels, const std::vector<uint16_t>& s) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, uint32_t(width));
  put_be32(ihdr, uint32_t(height));
  ihdr.insert(ihdr.end(), {16, uint8_t(channels == 1 ? 0 : 2), 0, 0, 0});
  put_chunk(png, "IHDR", ihdr);
  std::vector<uint8_t> raw;
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    for (int i = 0; i < width * channels; ++i) {
      const uint16_t v = s[size_t(y * width * channels + i)];
      raw.push_back(uint8_t(v >> 8));
      raw.push_back(uint8_t(v & 0xff));
    }
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::vector<uint8_t> z(size);
  REQUIRE(compress(z.data(), &size, raw.data(), uLong(raw.size())) == Z_OK);
  z.resize(size);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  return png;
}

std::string error_of(const std::string& path) {
  try {
    read_image(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("image: 8-bit grey PNG round trip is exact") {
  TempDir dir;
  std::vector<uint8_t> px(7 * 5);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7);
  radgal::write_grey_png(dir.file("g.png"), px.data(), 7, 5);
  const radgal::GreyImage img = read_image(dir.file("g.png"));
  CHECK(img.width == 7);
  CHECK(img.height == 5);
  CHECK(img.bits == 8);
  CHECK(img.channels == 1);
  for (size_t i = 0; i < px.size(); ++i) CHECK(img.pixels[i] == float(px[i]));
}

TEST_CASE("image: colour PNG becomes Rec. 601 luminance, alpha ignored") {
  TempDir dir;
  const uint8_t rgba[] = {255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 128, 10, 20, 30, 255};
  REQUIRE(stbi_write_png(dir.file("c.png").c_str(), 2, 2, 4, rgba, 8));
  const radgal::GreyImage img = read_image(dir.file("c.png"));
  CHECK(img.channels == 4);
  CHECK(img.pixels[0] == doctest::Approx(0.299 * 255));
  CHECK(img.pixels[1] == doctest::Approx(0.587 * 255));
  CHECK(img.pixels[2] == doctest::Approx(0.114 * 255));
  CHECK(img.pixels[3] == doctest::Approx(0.299 * 10 + 0.587 * 20 + 0.114 * 30));
}

TEST_CASE("image: 16-bit grey and colour PNG scale 65535 to 255") {
  TempDir dir;
  radgal::test::write_bytes(dir.file("g16.png"), png16(2, 2, 1, {0, 257, 65535, 1000}));
  radgal::GreyImage img = read_image(dir.file("g16.png"));
  CHECK(img.bits == 16);
  CHECK(img.pixels[0] == 0.f);
  CHECK(img.pixels[1] == doctest::Approx(1.0));
  CHECK(img.pixels[2] == doctest::Approx(255.0));
  CHECK(img.pixels[3] == doctest::Approx(1000.0 / 257.0));

  radgal::test::write_bytes(dir.file("c16.png"), png16(1, 1, 3, {65535, 0, 65535}));
  img = read_image(dir.file("c16.png"));
  CHECK(img.bits == 16);
  CHECK(img.channels == 3);
  CHECK(img.pixels[0] == doctest::Approx((0.299 + 0.114) * 255));
}

TEST_CASE("image: JPEG of a flat grey field reads close to its level") {
  TempDir dir;
  std::vector<uint8_t> px(32 * 32, 100);
  REQUIRE(stbi_write_jpg(dir.file("f.jpg").c_str(), 32, 32, 1, px.data(), 100));
  const radgal::GreyImage img = read_image(dir.file("f.jpg"));
  CHECK(img.width == 32);
  for (float v : img.pixels) CHECK(std::abs(v - 100.f) <= 1.f);
}

TEST_CASE("image: broken files give errors naming the file") {
  TempDir dir;
  std::vector<uint8_t> px(64 * 64, 50);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = uint8_t(i);
  radgal::write_grey_png(dir.file("whole.png"), px.data(), 64, 64);
  std::vector<uint8_t> bytes = radgal::test::read_bytes(dir.file("whole.png"));

  SUBCASE("empty") {
    radgal::test::write_bytes(dir.file("empty.png"), nullptr, 0);
    CHECK(error_of(dir.file("empty.png")).find("empty.png") != std::string::npos);
  }
  SUBCASE("truncated") {
    bytes.resize(bytes.size() / 2);
    radgal::test::write_bytes(dir.file("cut.png"), bytes);
    CHECK(error_of(dir.file("cut.png")).find("cut.png") != std::string::npos);
  }
  SUBCASE("header only") {
    bytes.resize(20);
    radgal::test::write_bytes(dir.file("hdr.png"), bytes);
    CHECK(error_of(dir.file("hdr.png")).find("hdr.png") != std::string::npos);
  }
  SUBCASE("not an image") {
    radgal::test::write_text(dir.file("text.png"), "SIMPLE  =                    T");
    CHECK(error_of(dir.file("text.png")).find("not a readable PNG or JPEG") != std::string::npos);
  }
  SUBCASE("missing") {
    CHECK(error_of(dir.file("none.png")).find("cannot open") != std::string::npos);
  }
}

TEST_CASE("image: a real processed MiraBest PNG equals its image in the batches") {
  // 200_172.397_+002.292.png of mirabest/png is byte for byte image 78 of data_batch_6, the
  // source 200_172.397+002.292 (an independent check of both readers and of the row order).
  const radgal::GreyImage png =
      read_image(radgal::test::kShared + "/mirabest/png/200_172.397_+002.292.png");
  REQUIRE(png.width == 150);
  REQUIRE(png.height == 150);
  const radgal::ImageSet set =
      radgal::read_batch_file(radgal::test::kMiraBestBatches + "/data_batch_6");
  REQUIRE(set.filenames[78].find("200_172.397+002.292") != std::string::npos);
  int differ = 0;
  for (int i = 0; i < 150 * 150; ++i) differ += png.pixels[size_t(i)] != float(set.image(78)[i]);
  CHECK(differ == 0);
}
