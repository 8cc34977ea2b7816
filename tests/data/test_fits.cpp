// FITS reader: real FIRST cutouts and broken or unusual files made here with CFITSIO and zlib.
#include <doctest/doctest.h>
#include <fitsio.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "data/fits.h"
#include "data/labels.h"
#include "data_test_util.h"

using radgal::FitsImage;
using radgal::read_fits;
using radgal::test::TempDir;

namespace {

// Runs a CFITSIO call sequence for a test file and fails the test on any error.
struct FitsWriter {
  fitsfile* f = nullptr;
  int status = 0;
  explicit FitsWriter(const std::string& path) {
    std::filesystem::remove(path);
    fits_create_diskfile(&f, path.c_str(), &status);
    REQUIRE(status == 0);
  }
  void image(int bitpix, std::vector<long> axes) {
    fits_create_img(f, bitpix, int(axes.size()), axes.data(), &status);
    REQUIRE(status == 0);
  }
  void key_double(const char* key, double value) {
    fits_update_key(f, TDOUBLE, key, &value, nullptr, &status);
    REQUIRE(status == 0);
  }
  void key_long(const char* key, long value) {
    fits_update_key(f, TLONG, key, &value, nullptr, &status);
    REQUIRE(status == 0);
  }
  template <typename T>
  void pixels(int datatype, std::vector<T> values) {
    long first[4] = {1, 1, 1, 1};
    fits_write_pix(f, datatype, first, long(values.size()), values.data(), &status);
    REQUIRE(status == 0);
  }
  ~FitsWriter() {
    int s = 0;
    if (f) fits_close_file(f, &s);
  }
  void close() {
    fits_close_file(f, &status);
    f = nullptr;
    REQUIRE(status == 0);
  }
};

std::string error_of(const std::string& path) {
  try {
    read_fits(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("fits: real FIRST cutouts are tile-compressed with an empty primary HDU") {
  const std::string name = "100_010.451-009.284_0.0529_0080.60.fits.fz";
  const FitsImage img = read_fits(radgal::test::kMiraBestFits + "/" + name);
  CHECK(img.width == 300);
  CHECK(img.height == 300);
  CHECK(img.hdu == 2);
  CHECK(img.bitpix == -32);
  CHECK(img.invalid_count() == 0);
  REQUIRE(img.wcs.present);
  CHECK(img.wcs.ctype[0] == "RA---TAN");
  CHECK(img.wcs.ctype[1] == "DEC--TAN");
  CHECK(img.wcs.cdelt[0] == doctest::Approx(-0.0005));
  CHECK(img.wcs.crpix[0] == doctest::Approx(150.5));
  // The centre of the cutout is the catalogue position written in the file name.
  const auto source = radgal::parse_source_name(name);
  REQUIRE(source);
  const auto centre = img.wcs.pixel_to_world(149.5, 149.5);
  CHECK(centre.first == doctest::Approx(source->ra_deg).epsilon(1e-5));
  CHECK(centre.second == doctest::Approx(source->dec_deg).epsilon(1e-4));
  // Surface brightness in Jy/beam: FIRST noise is ~0.15 mJy, sources reach tens of mJy.
  double peak = 0;
  for (float v : img.pixels) peak = std::max(peak, double(v));
  CHECK(peak > 1e-3);
  CHECK(peak < 10.0);
}

TEST_CASE("fits: a real cutout with NaN edges reports them in the mask") {
  const FitsImage img =
      read_fits(radgal::test::kMiraBestFits + "/200_035.137+000.468_0.2721_0014.68.fits.fz");
  CHECK(img.invalid_count() == 69);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    if (img.invalid[i] != (std::isfinite(img.pixels[i]) ? 0 : 1)) {
      FAIL("mask disagrees with the pixel at " << i);
    }
  }
}

TEST_CASE("fits: TAN projection matches the gnomonic formula worked by hand") {
  radgal::Wcs wcs;
  wcs.present = true;
  wcs.ctype[0] = "RA---TAN";
  wcs.ctype[1] = "DEC--TAN";
  wcs.crpix[0] = wcs.crpix[1] = 1;  // array position (0, 0)
  wcs.cdelt[0] = wcs.cdelt[1] = 0.01;
  // 100 pixels along x from (0, 0) on the equator: xi = 1 degree, RA = atan(xi) = 0.9998984 deg.
  auto p = wcs.pixel_to_world(100, 0);
  CHECK(p.first == doctest::Approx(0.9998984).epsilon(1e-7));
  CHECK(p.second == doctest::Approx(0.0));
  p = wcs.pixel_to_world(0, 100);
  CHECK(p.first == doctest::Approx(0.0));
  CHECK(p.second == doctest::Approx(0.9998984).epsilon(1e-7));
  // Negative RA offsets wrap into [0, 360).
  p = wcs.pixel_to_world(-100, 0);
  CHECK(p.first == doctest::Approx(359.0001016).epsilon(1e-9));
}

TEST_CASE("fits: write_fits round trip keeps pixels, row order and WCS") {
  TempDir dir;
  radgal::Wcs wcs;
  wcs.present = true;
  wcs.ctype[0] = "RA---TAN";
  wcs.ctype[1] = "DEC--TAN";
  wcs.crval[0] = 150.5;
  wcs.crval[1] = 2.25;
  wcs.crpix[0] = 2;
  wcs.crpix[1] = 1.5;
  wcs.cdelt[0] = -0.0005;
  wcs.cdelt[1] = 0.0005;
  std::vector<float> px = {1, 2, 3, 4, 5, 6};  // width 3, height 2
  radgal::write_fits(dir.file("a.fits"), px, 3, 2, wcs);
  const FitsImage img = read_fits(dir.file("a.fits"));
  CHECK(img.width == 3);
  CHECK(img.height == 2);
  CHECK(img.hdu == 1);
  CHECK(img.pixels == px);
  CHECK(img.wcs.present);
  CHECK(img.wcs.ctype[0] == "RA---TAN");
  CHECK(img.wcs.crval[0] == 150.5);
  CHECK(img.wcs.cdelt[1] == 0.0005);
  CHECK(img.path == dir.file("a.fits"));
}

TEST_CASE("fits: integer images apply BSCALE, BZERO and BLANK") {
  TempDir dir;
  const std::string path = dir.file("int16.fits");
  {
    FitsWriter w(path);
    w.image(SHORT_IMG, {2, 2});
    w.key_double("BSCALE", 0.5);
    w.key_double("BZERO", 100.0);
    w.key_long("BLANK", -32768);
    // Write the stored integers themselves, not physical values.
    fits_set_bscale(w.f, 1.0, 0.0, &w.status);
    w.pixels<short>(TSHORT, {0, 10, -32768, 32767});
    w.close();
  }
  const FitsImage img = read_fits(path);
  CHECK(img.bitpix == 16);
  CHECK(img.pixels[0] == 100.0f);
  CHECK(img.pixels[1] == 105.0f);
  CHECK(std::isnan(img.pixels[2]));
  CHECK(img.pixels[3] == doctest::Approx(100.0 + 0.5 * 32767));
  CHECK(img.invalid == std::vector<uint8_t>{0, 0, 1, 0});
}

TEST_CASE("fits: every BITPIX reads with its value") {
  TempDir dir;
  struct Case {
    int bitpix, datatype;
  };
  for (Case c :
       {Case{BYTE_IMG, TBYTE}, Case{SHORT_IMG, TSHORT}, Case{LONG_IMG, TINT},
        Case{LONGLONG_IMG, TLONGLONG}, Case{FLOAT_IMG, TFLOAT}, Case{DOUBLE_IMG, TDOUBLE}}) {
    CAPTURE(c.bitpix);
    const std::string path = dir.file("b" + std::to_string(c.bitpix + 100) + ".fits");
    {
      FitsWriter w(path);
      w.image(c.bitpix, {3, 1});
      w.pixels<double>(TDOUBLE, {0, 7, 200});
      w.close();
    }
    const FitsImage img = read_fits(path);
    CHECK(img.bitpix == c.bitpix);
    CHECK(img.pixels == std::vector<float>{0, 7, 200});
  }
}

TEST_CASE("fits: NaN and infinities are masked, doubles beyond float range become invalid") {
  TempDir dir;
  const std::string path = dir.file("special.fits");
  const double inf = std::numeric_limits<double>::infinity();
  {
    FitsWriter w(path);
    w.image(DOUBLE_IMG, {5, 1});
    w.pixels<double>(TDOUBLE, {1.0, std::nan(""), inf, -inf, 1e300});
    w.close();
  }
  const FitsImage img = read_fits(path);
  CHECK(img.invalid == std::vector<uint8_t>{0, 1, 1, 1, 1});
  CHECK(img.pixels[0] == 1.0f);
  CHECK(img.invalid_count() == 4);
}

TEST_CASE("fits: a 4-D cube with length-1 axes reads as 2-D, a real cube is refused") {
  TempDir dir;
  {
    FitsWriter w(dir.file("cube4.fits"));
    w.image(FLOAT_IMG, {3, 2, 1, 1});
    w.pixels<float>(TFLOAT, {1, 2, 3, 4, 5, 6});
    w.close();
  }
  const FitsImage img = read_fits(dir.file("cube4.fits"));
  CHECK(img.width == 3);
  CHECK(img.height == 2);
  CHECK(img.pixels == std::vector<float>{1, 2, 3, 4, 5, 6});

  {
    FitsWriter w(dir.file("cube3.fits"));
    w.image(FLOAT_IMG, {2, 2, 2});
    w.pixels<float>(TFLOAT, {1, 2, 3, 4, 5, 6, 7, 8});
    w.close();
  }
  const std::string error = error_of(dir.file("cube3.fits"));
  CHECK(error.find("cube3.fits") != std::string::npos);
  CHECK(error.find("2 x 2 x 2") != std::string::npos);
}

TEST_CASE("fits: an empty primary HDU is skipped for the image in the extension") {
  TempDir dir;
  const std::string path = dir.file("ext.fits");
  {
    FitsWriter w(path);
    w.image(SHORT_IMG, {});
    w.image(FLOAT_IMG, {2, 2});
    w.pixels<float>(TFLOAT, {9, 8, 7, 6});
    w.close();
  }
  const FitsImage img = read_fits(path);
  CHECK(img.hdu == 2);
  CHECK(img.pixels == std::vector<float>{9, 8, 7, 6});
}

TEST_CASE("fits: gzip-compressed and tile-compressed files read like plain ones") {
  TempDir dir;
  std::vector<float> px(64 * 48);
  for (size_t i = 0; i < px.size(); ++i) px[i] = float(int(i % 37) - 18);
  radgal::write_fits(dir.file("plain.fits"), px, 64, 48);

  const std::vector<uint8_t> raw = radgal::test::read_bytes(dir.file("plain.fits"));
  gzFile gz = gzopen(dir.file("plain.fits.gz").c_str(), "wb");
  REQUIRE(gz);
  REQUIRE(gzwrite(gz, raw.data(), unsigned(raw.size())) == int(raw.size()));
  gzclose(gz);
  FitsImage img = read_fits(dir.file("plain.fits.gz"));
  CHECK(img.pixels == px);

  // Rice tile compression of integers is lossless, so the values must survive exactly.
  {
    FitsWriter w(dir.file("tiled.fits.fz"));
    fits_set_compression_type(w.f, RICE_1, &w.status);
    w.image(SHORT_IMG, {64, 48});
    w.pixels<short>(TSHORT, std::vector<short>(px.begin(), px.end()));
    w.close();
  }
  img = read_fits(dir.file("tiled.fits.fz"));
  CHECK(img.hdu == 2);
  CHECK(img.pixels == px);
}

TEST_CASE("fits: broken files give errors naming the file and CFITSIO's reason") {
  TempDir dir;
  std::vector<float> px(100 * 100, 1.f);
  radgal::write_fits(dir.file("whole.fits"), px, 100, 100);
  std::vector<uint8_t> bytes = radgal::test::read_bytes(dir.file("whole.fits"));

  SUBCASE("truncated in the data") {
    bytes.resize(bytes.size() / 2);
    radgal::test::write_bytes(dir.file("cut.fits"), bytes);
    const std::string e = error_of(dir.file("cut.fits"));
    CHECK(e.find("cut.fits") != std::string::npos);
    CHECK(e.find("CFITSIO") != std::string::npos);
  }
  SUBCASE("truncated in the header") {
    bytes.resize(1000);
    radgal::test::write_bytes(dir.file("head.fits"), bytes);
    CHECK(error_of(dir.file("head.fits")).find("head.fits") != std::string::npos);
  }
  SUBCASE("empty") {
    radgal::test::write_bytes(dir.file("empty.fits"), nullptr, 0);
    CHECK(error_of(dir.file("empty.fits")).find("empty.fits") != std::string::npos);
  }
  SUBCASE("not FITS") {
    radgal::test::write_text(dir.file("text.fits"), "this is not a FITS file\n");
    const std::string e = error_of(dir.file("text.fits"));
    CHECK(e.find("text.fits") != std::string::npos);
    CHECK(e.find("CFITSIO") != std::string::npos);
  }
  SUBCASE("missing") {
    CHECK(error_of(dir.file("nothing.fits")).find("nothing.fits") != std::string::npos);
  }
  SUBCASE("a folder") {
    CHECK_FALSE(error_of(dir.path()).empty());
  }
  SUBCASE("no image at all") {
    FitsWriter w(dir.file("empty_image.fits"));
    w.image(FLOAT_IMG, {});
    w.close();
    const std::string e = error_of(dir.file("empty_image.fits"));
    CHECK(e.find("no HDU holds an image") != std::string::npos);
  }
  SUBCASE("a header asking for a huge image is refused before allocating") {
    std::string header;
    for (const char* card : {"SIMPLE  =                    T", "BITPIX  =                  -32",
                             "NAXIS   =                    2", "NAXIS1  =               100000",
                             "NAXIS2  =               100000", "END"}) {
      std::string c = card;
      c.resize(80, ' ');
      header += c;
    }
    header.resize(2880, ' ');
    radgal::test::write_text(dir.file("huge.fits"), header);
    const std::string e = error_of(dir.file("huge.fits"));
    CHECK(e.find("huge.fits") != std::string::npos);
    CHECK(e.find("100000 x 100000 is outside") != std::string::npos);
  }
  SUBCASE("a name with FITS filename syntax is taken literally") {
    radgal::write_fits(dir.file("odd[1].fits"), px, 100, 100);
    CHECK(read_fits(dir.file("odd[1].fits")).width == 100);
  }
}

TEST_CASE("fits: all-NaN and all-zero images read with a full mask or none") {
  TempDir dir;
  std::vector<float> nan(20 * 10, std::nanf(""));
  radgal::write_fits(dir.file("nan.fits"), nan, 20, 10);
  CHECK(read_fits(dir.file("nan.fits")).invalid_count() == 200);
  radgal::write_fits(dir.file("zero.fits"), std::vector<float>(200, 0.f), 20, 10);
  CHECK(read_fits(dir.file("zero.fits")).invalid_count() == 0);
}
