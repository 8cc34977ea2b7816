#include "tools/plot.h"

#include <fcntl.h>
#include <stb_easy_font.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace radgal::plot {

namespace {

// stb_easy_font indexes its glyph table by (char - 32): anything outside printable ASCII would
// read outside the table, so it becomes '?'.
std::string printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c != '\n' && (c < 32 || c > 126)) c = '?';
  }
  return out;
}

Rgb lerp(Rgb a, Rgb b, float t) {
  auto mix = [t](uint8_t x, uint8_t y) { return uint8_t(std::lround(x + (float(y) - x) * t)); };
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

// Anchor colours of the map at t = 0, 1/8, ..., 1, interpolated linearly between.
constexpr Rgb kMagma[9] = {{0, 0, 4},      {28, 16, 68},    {79, 18, 123},
                           {129, 37, 129}, {181, 54, 122},  {229, 80, 100},
                           {251, 135, 97}, {254, 194, 135}, {252, 253, 191}};

constexpr Rgb kPalette[8] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                             {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};

void finite_range(const std::vector<double>& v, double& lo, double& hi) {
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
}

void finite_range(const float* v, int64_t n, float& lo, float& hi) {
  lo = INFINITY;
  hi = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) continue;
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  if (!(lo <= hi)) lo = hi = 0.f;
}

// Axis limits from the data: NaN options are filled from [lo, hi] padded by 5 %.
void axis_limits(double& min, double& max, double lo, double hi) {
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi == lo) {
    const double pad = lo == 0 ? 0.5 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double pad = 0.05 * (hi - lo);
  if (std::isnan(min)) min = lo - pad;
  if (std::isnan(max)) max = hi + pad;
  if (!(max > min)) max = min + 1;
}

// A step of 1, 2 or 5 times a power of ten giving about `target` intervals.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double m = raw / power;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

// Multiples of step inside [lo, hi]; none when the range is degenerate or not finite.
std::vector<double> ticks(double lo, double hi, double step) {
  std::vector<double> out;
  if (!(step > 0) || !std::isfinite(lo) || !std::isfinite(hi) || (hi - lo) / step > 100) return out;
  for (double k = std::ceil(lo / step); k * step <= hi + 1e-9 * step; k += 1)
    out.push_back(k * step);
  return out;
}

std::string format_number(double v, double step) {
  char buf[32];
  if (v != 0 && (std::abs(v) >= 1e6 || std::abs(v) < 1e-4)) {
    std::snprintf(buf, sizeof buf, "%.2g", v);
  } else {
    const int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6),
                  std::abs(v) < step * 1e-6 ? 0.0 : v);
  }
  return buf;
}

// `text` cut in the middle ("start...end") until it is at most max_width pixels wide at `scale`.
std::string shortened_to_width(const std::string& text, int max_width, int scale) {
  if (Canvas::text_width(text, scale) <= max_width) return text;
  for (size_t keep = text.size(); keep-- > 0;) {
    const size_t head = (keep + 1) / 2, tail = keep - head;
    const std::string cut = text.substr(0, head) + "..." + text.substr(text.size() - tail);
    if (Canvas::text_width(cut, scale) <= max_width) return cut;
  }
  return "";
}

// A centred title at double size, or normal size when that would not fit the width.
void draw_title(Canvas& c, const std::string& title, int y) {
  const int scale = Canvas::text_width(title, 2) <= c.width() - 10 ? 2 : 1;
  c.draw_text((c.width() - Canvas::text_width(title, scale)) / 2, y, title, kBlack, scale);
}

// The plotting area of a chart with its frame, ticks, labels and title already drawn.
struct Frame {
  Canvas canvas;
  int left = 72, right = 20, top = 34, bottom = 52;
  double x_min, x_max, y_min, y_max;

  int plot_w() const { return canvas.width() - left - right; }
  int plot_h() const { return canvas.height() - top - bottom; }
  double px(double x) const { return left + (x - x_min) / (x_max - x_min) * plot_w(); }
  double py(double y) const { return top + plot_h() - (y - y_min) / (y_max - y_min) * plot_h(); }

  Frame(const ChartOptions& o, double xmin, double xmax, double ymin, double ymax,
        bool x_ticks = true)
      : canvas(std::max(o.width, 200), std::max(o.height, 150)),
        x_min(xmin),
        x_max(xmax),
        y_min(ymin),
        y_max(ymax) {
    const Rgb grid{230, 230, 230};
    const double ystep = nice_step(y_max - y_min, 5);
    for (double v : ticks(y_min, y_max, ystep)) {
      const int y = int(std::lround(py(v)));
      canvas.draw_line(left, y, left + plot_w(), y, grid);
      canvas.draw_line(left - 4, y, left, y, kBlack);
      const std::string label = format_number(v, ystep);
      canvas.draw_text(left - 7 - Canvas::text_width(label), y - 3, label, kBlack);
    }
    if (x_ticks) {
      const double xstep = nice_step(x_max - x_min, std::max(2, plot_w() / 90));
      for (double v : ticks(x_min, x_max, xstep)) {
        const int x = int(std::lround(px(v)));
        canvas.draw_line(x, top, x, top + plot_h(), grid);
        canvas.draw_line(x, top + plot_h(), x, top + plot_h() + 4, kBlack);
        const std::string label = format_number(v, xstep);
        canvas.draw_text(x - Canvas::text_width(label) / 2, top + plot_h() + 8, label, kBlack);
      }
    }
    canvas.draw_rect(left, top, left + plot_w() + 1, top + plot_h() + 1, kBlack);
    draw_title(canvas, o.title, 8);
    canvas.draw_text(left + (plot_w() - Canvas::text_width(o.x_label)) / 2, canvas.height() - 18,
                     o.x_label, kBlack);
    canvas.draw_text(10, top + (plot_h() + Canvas::text_width(o.y_label)) / 2, o.y_label, kBlack, 1,
                     true);
  }

  // A dashed horizontal line at y, when y lies inside the axis range.
  void reference_line(double y) {
    if (!(y >= y_min && y <= y_max)) return;
    const double py_ref = py(y);
    for (int x = left; x < left + plot_w(); x += 10) {
      canvas.draw_line(x, py_ref, std::min(x + 5, left + plot_w()), py_ref, {200, 0, 0}, 2);
    }
  }

  void legend(const std::vector<std::pair<std::string, Rgb>>& entries, bool bottom_right) {
    int width = 0, count = 0;
    for (const auto& e : entries) {
      if (e.first.empty()) continue;
      width = std::max(width, Canvas::text_width(e.first));
      ++count;
    }
    if (!count) return;
    const int box_w = width + 34, box_h = count * 14 + 8;
    const int x0 = left + plot_w() - box_w - 8;
    const int y0 = bottom_right ? top + plot_h() - box_h - 8 : top + 8;
    canvas.fill_rect(x0, y0, x0 + box_w, y0 + box_h, kWhite, 0.85f);
    canvas.draw_rect(x0, y0, x0 + box_w, y0 + box_h, kGrey);
    int y = y0 + 6;
    for (const auto& e : entries) {
      if (e.first.empty()) continue;
      canvas.fill_rect(x0 + 6, y + 1, x0 + 22, y + 8, e.second);
      canvas.draw_text(x0 + 28, y, e.first, kBlack);
      y += 14;
    }
  }
};

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

Rgb palette(int index) {
  return kPalette[((index % 8) + 8) % 8];
}

Rgb magma(float t) {
  if (std::isnan(t)) return kMissing;
  t = std::clamp(t, 0.f, 1.f) * 8.f;
  const int i = std::min(int(t), 7);
  return lerp(kMagma[i], kMagma[i + 1], t - float(i));
}

Rgb magma(float value, float lo, float hi) {
  if (std::isnan(value)) return kMissing;
  return magma(hi > lo ? (value - lo) / (hi - lo) : 0.5f);
}

// ---------------------------------------------------------------------------------------------
// Canvas

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width < 1 || height < 1 || int64_t(width) * height > (int64_t(1) << 28)) {
    throw std::runtime_error("plot::Canvas: bad size " + std::to_string(width) + " x " +
                             std::to_string(height));
  }
  rgb_.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb Canvas::get(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) {
    throw std::out_of_range("plot::Canvas::get: outside the canvas");
  }
  const uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::blend(int x, int y, Rgb c, float alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  if (!(alpha > 0)) return;
  set(x, y, lerp(get(x, y), c, std::min(alpha, 1.f)));
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c, float alpha) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, width_);
  y1 = std::min(y1, height_);
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      if (alpha >= 1.f) {
        set(x, y, c);
      } else {
        blend(x, y, c, alpha);
      }
    }
  }
}

void Canvas::draw_rect(int x0, int y0, int x1, int y1, Rgb c) {
  draw_line(x0, y0, x1 - 1, y0, c);
  draw_line(x0, y1 - 1, x1 - 1, y1 - 1, c);
  draw_line(x0, y0, x0, y1 - 1, c);
  draw_line(x1 - 1, y0, x1 - 1, y1 - 1, c);
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Rgb c, int thickness) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  // Clamp far-away end points so a line to a huge coordinate cannot loop for long.
  const double limit = 4.0 * (width_ + height_);
  x0 = std::clamp(x0, -limit, limit);
  x1 = std::clamp(x1, -limit, limit);
  y0 = std::clamp(y0, -limit, limit);
  y1 = std::clamp(y1, -limit, limit);
  const int steps = int(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
  const int half = (thickness - 1) / 2;
  for (int i = 0; i <= steps; ++i) {
    const double t = steps ? double(i) / steps : 0.0;
    const int x = int(std::lround(x0 + (x1 - x0) * t));
    const int y = int(std::lround(y0 + (y1 - y0) * t));
    if (thickness <= 1) {
      set(x, y, c);
    } else {
      fill_rect(x - half, y - half, x - half + thickness, y - half + thickness, c);
    }
  }
}

void Canvas::draw_circle(double cx, double cy, double radius, Rgb c, bool filled) {
  if (!std::isfinite(cx) || !std::isfinite(cy) || !(radius >= 0) ||
      radius > 4 * (width_ + height_)) {
    return;
  }
  const int r = int(std::ceil(radius));
  for (int dy = -r; dy <= r; ++dy) {
    for (int dx = -r; dx <= r; ++dx) {
      const double d = std::sqrt(double(dx * dx + dy * dy));
      if (filled ? d <= radius : std::abs(d - radius) < 0.5) {
        set(int(std::lround(cx)) + dx, int(std::lround(cy)) + dy, c);
      }
    }
  }
}

void Canvas::draw_text(int x, int y, const std::string& text, Rgb c, int scale, bool vertical) {
  if (text.empty()) return;
  scale = std::max(scale, 1);
  std::string s = printable(text);
  if (vertical) {
    // Draw horizontally on a scratch canvas, then turn it counter-clockwise onto this one.
    Canvas scratch(text_width(text, scale) + 1, text_height(text, scale) + 1, kWhite);
    scratch.draw_text(0, 0, text, kBlack, scale);
    for (int sy = 0; sy < scratch.height(); ++sy) {
      for (int sx = 0; sx < scratch.width(); ++sx) {
        if (scratch.get(sx, sy).r < 128) set(x + sy, y - sx, c);
      }
    }
    return;
  }
  // The font's documentation quotes ~270 bytes of vertex data per character on average, but a
  // '0' takes twice that; 1 KiB per character cannot truncate any glyph.
  std::vector<char> buffer(s.size() * 1024 + 64);
  const int quads = stb_easy_font_print(0, 0, s.data(), nullptr, buffer.data(), int(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    float v[4][4];  // x, y, z, colour bytes (unused)
    std::memcpy(v, buffer.data() + size_t(q) * 64, sizeof v);
    const int qx0 = int(std::lround(v[0][0])), qy0 = int(std::lround(v[0][1]));
    const int qx1 = int(std::lround(v[2][0])), qy1 = int(std::lround(v[2][1]));
    fill_rect(x + std::min(qx0, qx1) * scale, y + std::min(qy0, qy1) * scale,
              x + std::max(qx0, qx1) * scale, y + std::max(qy0, qy1) * scale, c);
  }
}

int Canvas::text_width(const std::string& text, int scale) {
  if (text.empty()) return 0;
  std::string s = printable(text);
  return stb_easy_font_width(s.data()) * std::max(scale, 1);
}

int Canvas::text_height(const std::string& text, int scale) {
  if (text.empty()) return 0;
  std::string s = printable(text);
  return stb_easy_font_height(s.data()) * std::max(scale, 1);
}

void Canvas::blit(const Canvas& src, int x, int y) {
  for (int sy = 0; sy < src.height(); ++sy) {
    for (int sx = 0; sx < src.width(); ++sx) set(x + sx, y + sy, src.get(sx, sy));
  }
}

Canvas Canvas::scaled(int factor) const {
  factor = std::max(factor, 1);
  Canvas out(width_ * factor, height_ * factor);
  for (int y = 0; y < out.height(); ++y) {
    for (int x = 0; x < out.width(); ++x) out.set(x, y, get(x / factor, y / factor));
  }
  return out;
}

void Canvas::write_png(const std::string& path) const {
  std::vector<uint8_t> png;
  if (!stbi_write_png_to_func(append_bytes, &png, width_, height_, 3, rgb_.data(), width_ * 3)) {
    throw std::runtime_error("plot: " + path + ": PNG encoding failed");
  }
  // A short temporary name in the same folder (so the rename is atomic): appending a suffix to
  // the file name would push a valid 255-byte name over the limit.
  static std::atomic<unsigned> temp_count{0};
  const size_t slash = path.rfind('/');
  const std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
                          ".rgtmp." + std::to_string(::getpid()) + "." +
                          std::to_string(temp_count++);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    throw std::runtime_error("plot: " + path + ": cannot create " + tmp + ": " +
                             std::strerror(errno));
  }
  const bool written = std::fwrite(png.data(), 1, png.size(), f) == png.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("plot: " + path + ": cannot write: " + reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Images

Canvas grey_image(const float* pixels, int h, int w, float lo, float hi) {
  float flo, fhi;
  finite_range(pixels, int64_t(h) * w, flo, fhi);
  if (std::isnan(lo)) lo = flo;
  if (std::isnan(hi)) hi = fhi;
  Canvas out(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float v = pixels[size_t(y) * w + x];
      if (!std::isfinite(v)) {
        out.set(x, y, kMissing);
        continue;
      }
      const float t = hi > lo ? std::clamp((v - lo) / (hi - lo), 0.f, 1.f) : 0.f;
      const uint8_t g = uint8_t(std::lround(t * 255.f));
      out.set(x, y, {g, g, g});
    }
  }
  return out;
}

Canvas grey_image(const uint8_t* pixels, int h, int w) {
  Canvas out(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t g = pixels[size_t(y) * w + x];
      out.set(x, y, {g, g, g});
    }
  }
  return out;
}

Canvas heat_image(const float* values, int h, int w, float lo, float hi) {
  float flo, fhi;
  finite_range(values, int64_t(h) * w, flo, fhi);
  if (std::isnan(lo)) lo = flo;
  if (std::isnan(hi)) hi = fhi;
  Canvas out(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float v = values[size_t(y) * w + x];
      out.set(x, y, std::isfinite(v) ? magma(v, lo, hi) : kMissing);
    }
  }
  return out;
}

std::vector<float> resize_bilinear(const float* values, int h, int w, int out_h, int out_w) {
  if (h < 1 || w < 1 || out_h < 1 || out_w < 1) {
    throw std::runtime_error("plot::resize_bilinear: empty size");
  }
  std::vector<float> out(size_t(out_h) * out_w);
  const double sy = double(h) / out_h, sx = double(w) / out_w;
  for (int y = 0; y < out_h; ++y) {
    // Source coordinate of the output pixel centre, clamped at the borders.
    const double fy = std::max((y + 0.5) * sy - 0.5, 0.0);
    const int y0 = std::min(int(fy), h - 1), y1 = std::min(y0 + 1, h - 1);
    const double ty = fy - y0;
    for (int x = 0; x < out_w; ++x) {
      const double fx = std::max((x + 0.5) * sx - 0.5, 0.0);
      const int x0 = std::min(int(fx), w - 1), x1 = std::min(x0 + 1, w - 1);
      const double tx = fx - x0;
      const double top = (1 - tx) * values[size_t(y0) * w + x0] + tx * values[size_t(y0) * w + x1];
      const double bot = (1 - tx) * values[size_t(y1) * w + x0] + tx * values[size_t(y1) * w + x1];
      out[size_t(y) * out_w + x] = float((1 - ty) * top + ty * bot);
    }
  }
  return out;
}

Canvas overlay(const float* grey, int h, int w, const float* heat, int hh, int hw, float alpha) {
  Canvas out = grey_image(grey, h, w);
  const std::vector<float> field = resize_bilinear(heat, hh, hw, h, w);
  float lo, hi;
  finite_range(field.data(), int64_t(field.size()), lo, hi);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float v = field[size_t(y) * w + x];
      if (!std::isfinite(v)) continue;
      const float t = hi > lo ? (v - lo) / (hi - lo) : 0.f;
      out.blend(x, y, magma(t), alpha * t);
    }
  }
  return out;
}

Canvas colour_bar(int height, float lo, float hi, const std::string& label) {
  height = std::max(height, 40);
  const std::string top = format_number(hi, std::abs(hi - lo) / 10 + 1e-30);
  const std::string bottom = format_number(lo, std::abs(hi - lo) / 10 + 1e-30);
  const int text_w = std::max({Canvas::text_width(top), Canvas::text_width(bottom), 10});
  Canvas out(16 + 6 + text_w + 16, height);
  const int bar_top = 4, bar_bottom = height - 5;
  for (int y = bar_top; y <= bar_bottom; ++y) {
    const float t = float(bar_bottom - y) / float(std::max(bar_bottom - bar_top, 1));
    out.fill_rect(2, y, 16, y + 1, magma(t));
  }
  out.draw_rect(2, bar_top, 16, bar_bottom + 1, kBlack);
  out.draw_text(20, bar_top, top, kBlack);
  out.draw_text(20, bar_bottom - 7, bottom, kBlack);
  out.draw_text(out.width() - 12, (height + Canvas::text_width(label)) / 2, label, kBlack, 1, true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Charts

Canvas line_plot(const std::vector<Series>& series, const ChartOptions& o) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Series& s : series) {
    finite_range(s.x, xlo, xhi);
    finite_range(s.y, ylo, yhi);
  }
  double xmin = o.x_min, xmax = o.x_max, ymin = o.y_min, ymax = o.y_max;
  axis_limits(xmin, xmax, xlo, xhi);
  axis_limits(ymin, ymax, ylo, yhi);
  Frame f(o, xmin, xmax, ymin, ymax);
  if (o.diagonal) {
    const double a = std::max(xmin, ymin), b = std::min(xmax, ymax);
    for (int i = 0; i < 40; i += 2) {
      const double t0 = a + (b - a) * i / 40.0, t1 = a + (b - a) * (i + 1) / 40.0;
      f.canvas.draw_line(f.px(t0), f.py(t0), f.px(t1), f.py(t1), kGrey);
    }
  }
  std::vector<std::pair<std::string, Rgb>> legend;
  for (const Series& s : series) {
    legend.emplace_back(s.name, s.colour);
    const size_t n = std::min(s.x.size(), s.y.size());
    bool have_previous = false;
    double px0 = 0, py0 = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_previous = false;  // a gap in the line
        continue;
      }
      const double px = f.px(s.x[i]), py = f.py(s.y[i]);
      if (have_previous) {
        if (s.steps) {
          f.canvas.draw_line(px0, py0, px, py0, s.colour, s.thickness);
          f.canvas.draw_line(px, py0, px, py, s.colour, s.thickness);
        } else {
          f.canvas.draw_line(px0, py0, px, py, s.colour, s.thickness);
        }
      }
      if (s.markers) f.canvas.draw_circle(px, py, 2.5, s.colour, true);
      px0 = px;
      py0 = py;
      have_previous = true;
    }
  }
  f.reference_line(o.y_reference);
  f.legend(legend, o.legend_bottom_right);
  return f.canvas;
}

Canvas roc_plot(const std::vector<Series>& curves, const std::string& title) {
  ChartOptions o;
  o.title = title;
  o.x_label = "false-positive rate";
  o.y_label = "true-positive rate";
  o.width = o.height = 520;
  o.x_min = o.y_min = 0;
  o.x_max = o.y_max = 1;
  o.diagonal = true;
  o.legend_bottom_right = true;
  std::vector<Series> staircase = curves;
  for (Series& s : staircase) s.steps = true;
  return line_plot(staircase, o);
}

Canvas histogram(const std::vector<HistogramSeries>& series, int bins, const ChartOptions& o,
                 bool density) {
  bins = std::clamp(bins, 1, 1000);
  double lo = o.x_min, hi = o.x_max;
  if (std::isnan(lo) || std::isnan(hi)) {
    double dlo = INFINITY, dhi = -INFINITY;
    for (const HistogramSeries& s : series) finite_range(s.values, dlo, dhi);
    if (!(dlo <= dhi)) dlo = 0, dhi = 1;
    if (dhi == dlo) dlo -= 0.5, dhi += 0.5;
    if (std::isnan(lo)) lo = dlo;
    if (std::isnan(hi)) hi = dhi;
  }
  if (!(hi > lo)) hi = lo + 1;
  const double width = (hi - lo) / bins;

  std::vector<std::vector<double>> counts(series.size(), std::vector<double>(size_t(bins), 0.0));
  double top = 0;
  for (size_t s = 0; s < series.size(); ++s) {
    double total = 0;
    for (double v : series[s].values) {
      if (!std::isfinite(v) || v < lo || v > hi) continue;
      const int b = std::min(int((v - lo) / width), bins - 1);
      counts[s][size_t(b)] += 1;
      total += 1;
    }
    if (density && total > 0) {
      for (double& c : counts[s]) c /= total * width;
    }
    for (double c : counts[s]) top = std::max(top, c);
  }
  ChartOptions frame_options = o;
  if (frame_options.y_label.empty()) frame_options.y_label = density ? "density" : "count";
  Frame f(frame_options, lo, hi, 0, top > 0 ? top * 1.08 : 1);
  std::vector<std::pair<std::string, Rgb>> legend;
  for (size_t s = 0; s < series.size(); ++s) {
    const Rgb c = series[s].colour;
    legend.emplace_back(series[s].name, c);
    for (int b = 0; b < bins; ++b) {
      const double x0 = f.px(lo + b * width), x1 = f.px(lo + (b + 1) * width);
      const double y = f.py(counts[s][size_t(b)]), base = f.py(0);
      f.canvas.fill_rect(int(std::lround(x0)), int(std::lround(y)), int(std::lround(x1)),
                         int(std::lround(base)), c, 0.35f);
      f.canvas.draw_line(x0, y, x1, y, c, 2);
      const double next = b + 1 < bins ? f.py(counts[s][size_t(b + 1)]) : base;
      f.canvas.draw_line(x1, y, x1, next, c, 2);
      if (b == 0) f.canvas.draw_line(x0, base, x0, y, c, 2);
    }
  }
  f.reference_line(o.y_reference);
  f.legend(legend, o.legend_bottom_right);
  return f.canvas;
}

Canvas bar_plot(const std::vector<std::string>& labels,
                const std::vector<std::vector<double>>& values,
                const std::vector<std::string>& series_names, const ChartOptions& o) {
  const size_t n = labels.size();
  double top = 0, bottom = 0;
  for (const auto& s : values) finite_range(s, bottom, top);
  double ymin = std::isnan(o.y_min) ? std::min(0.0, bottom * 1.08) : o.y_min;
  double ymax = std::isnan(o.y_max) ? (top > 0 ? top * 1.08 : 1) : o.y_max;
  if (!(ymax > ymin)) ymax = ymin + 1;
  Frame f(o, 0, double(std::max<size_t>(n, 1)), ymin, ymax, false);
  const size_t groups = std::max<size_t>(values.size(), 1);
  for (size_t i = 0; i < n; ++i) {
    const double slot0 = f.px(double(i) + 0.1), slot1 = f.px(double(i) + 0.9);
    const double bar_w = (slot1 - slot0) / double(groups);
    for (size_t s = 0; s < values.size(); ++s) {
      if (i >= values[s].size() || !std::isfinite(values[s][i])) continue;
      const int x0 = int(std::lround(slot0 + bar_w * double(s)));
      const int x1 = int(std::lround(slot0 + bar_w * double(s + 1))) - 1;
      // Bars grow from 0, or from the nearest axis limit when 0 is outside the range.
      const double base = std::clamp(0.0, ymin, ymax);
      const double value = std::clamp(values[s][i], ymin, ymax);
      const int y0 = int(std::lround(f.py(std::max(value, base))));
      const int y1 = int(std::lround(f.py(std::min(value, base))));
      f.canvas.fill_rect(x0, y0, x1, y1 + 1, palette(int(s)));
    }
    const std::string& label = labels[i];
    const int cx = int(std::lround(f.px(double(i) + 0.5)));
    f.canvas.draw_text(cx - Canvas::text_width(label) / 2, f.top + f.plot_h() + 8, label, kBlack);
  }
  std::vector<std::pair<std::string, Rgb>> legend;
  for (size_t s = 0; s < series_names.size(); ++s)
    legend.emplace_back(series_names[s], palette(int(s)));
  f.reference_line(o.y_reference);
  f.legend(legend, o.legend_bottom_right);
  return f.canvas;
}

Canvas matrix_plot(const std::vector<std::vector<double>>& values,
                   const std::vector<std::string>& row_labels,
                   const std::vector<std::string>& col_labels, const ChartOptions& o, bool annotate,
                   double lo, double hi) {
  const int rows = int(values.size());
  int cols = 0;
  for (const auto& r : values) cols = std::max(cols, int(r.size()));
  double dlo = INFINITY, dhi = -INFINITY;
  for (const auto& r : values) finite_range(r, dlo, dhi);
  if (std::isnan(lo)) lo = std::isfinite(dlo) ? dlo : 0;
  if (std::isnan(hi)) hi = std::isfinite(dhi) ? dhi : 1;

  int label_w = 0;
  for (const auto& l : row_labels) label_w = std::max(label_w, Canvas::text_width(l));
  const int left = label_w + 36, top = 40;
  const int cell = std::max(24, std::min((o.width - left - 20) / std::max(cols, 1),
                                         (o.height - top - 60) / std::max(rows, 1)));
  Canvas out(left + cell * std::max(cols, 1) + 20, top + cell * std::max(rows, 1) + 56);
  draw_title(out, o.title, 8);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < int(values[size_t(r)].size()); ++c) {
      const double v = values[size_t(r)][size_t(c)];
      const Rgb colour = std::isfinite(v) ? magma(float(v), float(lo), float(hi)) : kMissing;
      const int x0 = left + c * cell, y0 = top + r * cell;
      out.fill_rect(x0, y0, x0 + cell, y0 + cell, colour);
      if (!annotate || !std::isfinite(v)) continue;
      char text[32];
      if (v == std::round(v) && std::abs(v) < 1e9) {
        std::snprintf(text, sizeof text, "%.0f", v);
      } else {
        std::snprintf(text, sizeof text, "%.3g", v);
      }
      const float t = hi > lo ? float((v - lo) / (hi - lo)) : 0.5f;
      const Rgb ink = t < 0.6f ? kWhite : kBlack;
      const int scale = cell >= 60 ? 2 : 1;
      out.draw_text(x0 + (cell - Canvas::text_width(text, scale)) / 2, y0 + (cell - 7 * scale) / 2,
                    text, ink, scale);
    }
  }
  out.draw_rect(left, top, left + cell * cols + 1, top + cell * rows + 1, kBlack);
  for (int r = 0; r < rows && r < int(row_labels.size()); ++r) {
    out.draw_text(left - 6 - Canvas::text_width(row_labels[size_t(r)]),
                  top + r * cell + cell / 2 - 3, row_labels[size_t(r)], kBlack);
  }
  for (int c = 0; c < cols && c < int(col_labels.size()); ++c) {
    out.draw_text(left + c * cell + (cell - Canvas::text_width(col_labels[size_t(c)])) / 2,
                  top + rows * cell + 6, col_labels[size_t(c)], kBlack);
  }
  out.draw_text(left + (cell * cols - Canvas::text_width(o.x_label)) / 2, out.height() - 18,
                o.x_label, kBlack);
  out.draw_text(6, top + (cell * rows + Canvas::text_width(o.y_label)) / 2, o.y_label, kBlack, 1,
                true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layout

Canvas image_grid(const std::vector<Tile>& tiles, int columns, const std::string& title, int gap) {
  columns = std::max(columns, 1);
  gap = std::max(gap, 0);
  int tile_w = 1, tile_h = 1;
  bool captions = false;
  for (const Tile& t : tiles) {
    tile_w = std::max(tile_w, t.image.width());
    tile_h = std::max(tile_h, t.image.height());
    captions |= !t.caption.empty();
  }
  const int n = int(tiles.size());
  const int cols = std::min(columns, std::max(n, 1));
  const int rows = (n + cols - 1) / cols;
  const int caption_h = captions ? 12 : 0;
  const int title_h = title.empty() ? 0 : 26;
  Canvas out(gap + cols * (tile_w + gap),
             title_h + gap + std::max(rows, 1) * (tile_h + caption_h + gap));
  if (!title.empty()) {
    draw_title(out, title, 6);
  }
  for (int i = 0; i < n; ++i) {
    const int x = gap + (i % cols) * (tile_w + gap);
    const int y = title_h + gap + (i / cols) * (tile_h + caption_h + gap);
    out.blit(tiles[size_t(i)].image, x, y);
    std::string caption = tiles[size_t(i)].caption;
    while (!caption.empty() && Canvas::text_width(caption) > tile_w) caption.pop_back();
    out.draw_text(x, y + tiles[size_t(i)].image.height() + 3, caption, kBlack);
  }
  return out;
}

Canvas hstack(const std::vector<Canvas>& parts, int gap) {
  int w = 0, h = 1;
  for (const Canvas& c : parts) {
    w += c.width() + gap;
    h = std::max(h, c.height());
  }
  Canvas out(std::max(w - gap, 1), h);
  int x = 0;
  for (const Canvas& c : parts) {
    out.blit(c, x, 0);
    x += c.width() + gap;
  }
  return out;
}

Canvas vstack(const std::vector<Canvas>& parts, int gap) {
  int w = 1, h = 0;
  for (const Canvas& c : parts) {
    h += c.height() + gap;
    w = std::max(w, c.width());
  }
  Canvas out(w, std::max(h - gap, 1));
  int y = 0;
  for (const Canvas& c : parts) {
    out.blit(c, 0, y);
    y += c.height() + gap;
  }
  return out;
}

Canvas image_figure(const Canvas& image, int magnify, const std::string& title, float lo, float hi,
                    const std::string& bar_label) {
  // The layout promised in plot.h: margins of 10, a 44-pixel title band, a 100-pixel bar slot.
  constexpr int kMargin = 10, kTitleBand = 44, kBarSlot = 100;
  magnify = std::max(magnify, 1);
  const Canvas big = image.scaled(magnify);
  const int body_h = std::max(big.height(), 40);
  Canvas out(kMargin + big.width() + kMargin + kBarSlot, kTitleBand + body_h + kMargin);

  const int room = out.width() - 2 * kMargin;
  const int scale = Canvas::text_width(title, 2) <= room ? 2 : 1;
  const std::string shown = shortened_to_width(title, room, scale);
  out.draw_text((out.width() - Canvas::text_width(shown, scale)) / 2, (kTitleBand - 7 * scale) / 2,
                shown, kBlack, scale);

  out.blit(big, kMargin, kTitleBand);
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = hi = 0.f;  // labelled 0 rather than "nan"
  out.blit(colour_bar(body_h, lo, hi, bar_label), kMargin + big.width() + kMargin, kTitleBand);
  return out;
}

}  // namespace radgal::plot
