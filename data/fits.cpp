#include "data/fits.h"

#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace radgal {

namespace {

// A FIRST cutout has 9e4 pixels and a FIRST survey field 2e6; a header asking for more than
// this (8192 x 8192) is far more likely broken than real, and a tile-compressed file can ask for
// it in a few bytes, so it is refused before anything is allocated.
constexpr int64_t kMaxPixels = int64_t(1) << 26;
constexpr int kMaxAxes = 9;  // FITS allows up to 999, CFITSIO's image routines handle this many

std::string cfitsio_message(int status) {
  char text[FLEN_STATUS] = {};
  fits_get_errstatus(status, text);
  std::string message = text;
  // CFITSIO keeps a stack of detail lines; the most specific one is usually the first.
  char line[FLEN_ERRMSG] = {};
  std::string detail;
  while (fits_read_errmsg(line)) {
    if (detail.empty()) detail = line;
  }
  if (!detail.empty() && detail != message) message += " (" + detail + ")";
  return message + " [CFITSIO status " + std::to_string(status) + "]";
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("read_fits: " + path + ": " + what);
}

void check(int status, const std::string& path, const char* step) {
  if (status) fail(path, std::string(step) + ": " + cfitsio_message(status));
}

// Closes the file on every exit path; a close error after a successful read is not interesting.
struct FitsCloser {
  fitsfile* file = nullptr;
  ~FitsCloser() {
    int status = 0;
    if (file) fits_close_file(file, &status);
  }
};

bool read_double_key(fitsfile* file, const char* key, double& value) {
  int status = 0;
  double v = 0;
  fits_read_key(file, TDOUBLE, key, &v, nullptr, &status);
  if (status) {
    fits_clear_errmsg();
    return false;
  }
  value = v;
  return true;
}

std::string read_string_key(fitsfile* file, const char* key) {
  int status = 0;
  char value[FLEN_VALUE] = {};
  fits_read_key(file, TSTRING, key, value, nullptr, &status);
  if (status) {
    fits_clear_errmsg();
    return "";
  }
  return value;
}

Wcs read_wcs(fitsfile* file) {
  Wcs wcs;
  bool found = true;
  for (int axis = 0; axis < 2; ++axis) {
    const std::string n = std::to_string(axis + 1);
    wcs.ctype[axis] = read_string_key(file, ("CTYPE" + n).c_str());
    found &= read_double_key(file, ("CRVAL" + n).c_str(), wcs.crval[axis]);
    found &= read_double_key(file, ("CRPIX" + n).c_str(), wcs.crpix[axis]);
    // Some writers give only the CD matrix; its diagonal is the scale when there is no rotation.
    const std::string cd = "CD" + n + "_" + n;
    found &= read_double_key(file, ("CDELT" + n).c_str(), wcs.cdelt[axis]) ||
             read_double_key(file, cd.c_str(), wcs.cdelt[axis]);
  }
  wcs.present = found;
  return wcs;
}

}  // namespace

int64_t FitsImage::invalid_count() const {
  int64_t n = 0;
  for (uint8_t v : invalid) n += v;
  return n;
}

std::pair<double, double> Wcs::pixel_to_world(double x, double y) const {
  // Intermediate coordinates in degrees; FITS pixel numbers are 1-based.
  const double dx = cdelt[0] * (x + 1.0 - crpix[0]);
  const double dy = cdelt[1] * (y + 1.0 - crpix[1]);
  const bool tan = ctype[0].size() >= 8 && ctype[0].compare(5, 3, "TAN") == 0;
  if (!tan) return {crval[0] + dx, crval[1] + dy};

  const double deg = M_PI / 180.0;
  const double xi = dx * deg, eta = dy * deg;
  const double ra0 = crval[0] * deg, dec0 = crval[1] * deg;
  const double d = std::cos(dec0) - eta * std::sin(dec0);
  double ra = (ra0 + std::atan2(xi, d)) / deg;
  const double dec =
      std::atan2(std::sin(dec0) + eta * std::cos(dec0), std::sqrt(xi * xi + d * d)) / deg;
  ra = std::fmod(ra, 360.0);
  if (ra < 0) ra += 360.0;
  return {ra, dec};
}

FitsImage read_fits(const std::string& path) {
  FitsCloser closer;
  int status = 0;
  // The disk-file variant takes the name literally: no "[ext]" or "!" filename syntax, so any
  // path opens as itself. Compression (.gz, .fz) is still recognised from the content.
  fits_open_diskfile(&closer.file, path.c_str(), READONLY, &status);
  check(status, path, "cannot open as FITS");

  int hdu_count = 0;
  fits_get_num_hdus(closer.file, &hdu_count, &status);
  check(status, path, "cannot count HDUs");

  FitsImage image;
  image.path = path;
  long axes[kMaxAxes] = {};
  int naxis = 0;
  for (int hdu = 1; hdu <= hdu_count && !image.hdu; ++hdu) {
    int type = 0;
    fits_movabs_hdu(closer.file, hdu, &type, &status);
    check(status, path, ("cannot move to HDU " + std::to_string(hdu)).c_str());
    if (type != IMAGE_HDU) continue;  // compressed images report IMAGE_HDU too
    int bitpix = 0;
    fits_get_img_param(closer.file, kMaxAxes, &bitpix, &naxis, axes, &status);
    check(status, path, ("cannot read the image parameters of HDU " + std::to_string(hdu)).c_str());
    if (naxis < 2) continue;  // empty primary (NAXIS = 0) or a 1-D spectrum
    image.hdu = hdu;
    image.bitpix = bitpix;
  }
  if (!image.hdu) {
    fail(path, "no HDU holds an image with two or more axes (" + std::to_string(hdu_count) +
                   " HDU(s) in the file)");
  }
  if (naxis > kMaxAxes) {
    fail(path, "HDU " + std::to_string(image.hdu) + " has " + std::to_string(naxis) + " axes");
  }
  std::string shape = std::to_string(axes[0]);
  for (int i = 1; i < naxis; ++i) shape += " x " + std::to_string(axes[i]);
  for (int i = 2; i < naxis; ++i) {
    if (axes[i] != 1) {
      fail(path, "HDU " + std::to_string(image.hdu) + " is a cube of " + shape +
                     "; only axes of length 1 beyond the second can be read as a 2-D image");
    }
  }
  if (axes[0] < 1 || axes[1] < 1 || axes[0] > kMaxPixels || axes[1] > kMaxPixels ||
      axes[0] * axes[1] > kMaxPixels) {
    fail(path,
         "image size " + shape + " is outside 1 .. " + std::to_string(kMaxPixels) + " pixels");
  }
  image.width = axes[0];
  image.height = axes[1];
  const int64_t n = image.width * image.height;

  // Read as double so 64-bit integers and doubles keep their value until the one conversion to
  // float below, where anything beyond the float range turns into inf and is marked invalid.
  // CFITSIO applies BSCALE/BZERO and flags BLANK integers and NaN floats in `nulls`.
  std::vector<double> values(n);
  std::vector<char> nulls(n, 0);
  long first[kMaxAxes];
  for (long& f : first) f = 1;
  int any_null = 0;
  fits_read_pixnull(closer.file, TDOUBLE, first, n, values.data(), nulls.data(), &any_null,
                    &status);
  check(status, path, ("cannot read the pixels of HDU " + std::to_string(image.hdu)).c_str());

  image.pixels.resize(n);
  image.invalid.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const float v = nulls[i] ? std::numeric_limits<float>::quiet_NaN() : float(values[i]);
    image.pixels[i] = v;
    image.invalid[i] = std::isfinite(v) ? 0 : 1;
  }
  image.wcs = read_wcs(closer.file);
  return image;
}

std::vector<std::string> list_fits_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw std::runtime_error("list_fits_files: " + dir + ": no such folder");
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error("list_fits_files: " + dir + ": not a folder");
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (ends_with(name, ".gz") || ends_with(name, ".fz")) name.resize(name.size() - 3);
    if (ends_with(name, ".fits") || ends_with(name, ".fit") || ends_with(name, ".fts")) {
      files.push_back(entry.path().string());
    }
  }
  if (ec) throw std::runtime_error("list_fits_files: " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

void write_fits(const std::string& path, const std::vector<float>& pixels, int64_t width,
                int64_t height, const Wcs& wcs) {
  auto fail_write = [&](int status) {
    throw std::runtime_error("write_fits: " + path + ": " + cfitsio_message(status));
  };
  if (width < 1 || height < 1 || int64_t(pixels.size()) != width * height) {
    throw std::runtime_error("write_fits: " + path + ": " + std::to_string(pixels.size()) +
                             " pixels do not make a " + std::to_string(width) + " x " +
                             std::to_string(height) + " image");
  }
  std::remove(path.c_str());  // CFITSIO refuses to overwrite
  FitsCloser closer;
  int status = 0;
  fits_create_diskfile(&closer.file, path.c_str(), &status);
  if (status) fail_write(status);
  long axes[2] = {long(width), long(height)};
  fits_create_img(closer.file, FLOAT_IMG, 2, axes, &status);
  if (wcs.present) {
    for (int axis = 0; axis < 2; ++axis) {
      const std::string n = std::to_string(axis + 1);
      char ctype[FLEN_VALUE] = {};
      std::snprintf(ctype, sizeof ctype, "%s", wcs.ctype[axis].c_str());
      double crval = wcs.crval[axis], crpix = wcs.crpix[axis], cdelt = wcs.cdelt[axis];
      fits_update_key(closer.file, TSTRING, ("CTYPE" + n).c_str(), ctype, nullptr, &status);
      fits_update_key(closer.file, TDOUBLE, ("CRVAL" + n).c_str(), &crval, nullptr, &status);
      fits_update_key(closer.file, TDOUBLE, ("CRPIX" + n).c_str(), &crpix, nullptr, &status);
      fits_update_key(closer.file, TDOUBLE, ("CDELT" + n).c_str(), &cdelt, nullptr, &status);
    }
  }
  long first[2] = {1, 1};
  fits_write_pix(closer.file, TFLOAT, first, width * height, const_cast<float*>(pixels.data()),
                 &status);
  if (status) fail_write(status);
  fits_close_file(closer.file, &status);
  closer.file = nullptr;
  if (status) fail_write(status);
}

}  // namespace radgal
