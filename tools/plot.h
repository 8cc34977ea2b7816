// A small raster plotting library for the figures the `radgal` commands write: histograms, bar and
// line plots (ROC curves), heat-map matrices (confusion matrices), image grids and attention-map
// overlays. Everything draws into an RGB Canvas that is written as PNG (stb_image_write); text
// uses the stb_easy_font bitmap font, so no font files or system libraries are needed.
//
// Contracts
// - Coordinates are pixels, x to the right and y downwards, origin at the top-left corner.
//   Drawing outside the canvas is clipped silently, never an error.
// - Grey and heat images are row-major, h rows of w values; the pointer must hold h * w values.
// - Non-finite values (NaN, +-inf) in plotted data are skipped (lines, histograms, bars) or drawn
//   in the `missing` colour (images, matrices); they never abort a figure.
// - Automatic axis limits: a limit left NaN is taken from the finite data, padded by 5 %.
// - Canvas::write_png writes atomically (temporary file in the same folder, then rename) and
//   throws std::runtime_error naming the path when it cannot.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace radgal::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kGrey{128, 128, 128};
constexpr Rgb kMissing{0, 160, 0};  // non-finite pixels in images and matrices

// Categorical colours for series and classes: 0 blue, 1 orange, 2 green, 3 red, 4 purple, ...
// (cycles after 8). FRI is drawn with palette(0) and FRII with palette(1) throughout radgal.
Rgb palette(int index);

// A perceptually ordered dark-to-bright colour map in the style of matplotlib's "magma":
// t = 0 is near black, t = 1 near pale yellow; t is clamped to [0, 1], NaN gives kMissing.
Rgb magma(float t);

// The same map over a range: lo maps to 0, hi to 1 (lo == hi maps everything to 0.5).
Rgb magma(float value, float lo, float hi);

class Canvas {
 public:
  Canvas() = default;
  Canvas(int width, int height, Rgb background = kWhite);  // throws if a side is < 1

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb get(int x, int y) const;                              // throws outside the canvas
  const std::vector<uint8_t>& rgb() const { return rgb_; }  // width * height * 3 bytes

  void set(int x, int y, Rgb c);
  void blend(int x, int y, Rgb c, float alpha);  // alpha 0 keeps the pixel, 1 replaces it
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c, float alpha = 1.f);  // x1, y1 exclusive
  void draw_rect(int x0, int y0, int x1, int y1, Rgb c);                     // 1-pixel outline
  void draw_line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1);
  void draw_circle(double cx, double cy, double radius, Rgb c, bool filled);

  // Text with its top-left corner at (x, y); scale multiplies the 7-pixel-high bitmap font.
  // Lines are split at '\n'. vertical = true draws the text rotated 90 degrees
  // counter-clockwise (for y-axis labels), with (x, y) its bottom-left corner.
  void draw_text(int x, int y, const std::string& text, Rgb c, int scale = 1,
                 bool vertical = false);
  static int text_width(const std::string& text, int scale = 1);
  static int text_height(const std::string& text, int scale = 1);

  // Copies src with its top-left corner at (x, y), clipped.
  void blit(const Canvas& src, int x, int y);

  // Nearest-neighbour magnification by an integer factor (for small images in grids).
  Canvas scaled(int factor) const;

  void write_png(const std::string& path) const;

 private:
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> rgb_;
};

// ---------------------------------------------------------------------------------------------
// Images

// Grey image to RGB: lo maps to black and hi to white, clamped. lo and hi NaN (the default) take
// the finite min and max of the image.
Canvas grey_image(const float* pixels, int h, int w, float lo = NAN, float hi = NAN);
Canvas grey_image(const uint8_t* pixels, int h, int w);  // 0 black, 255 white

// Scalar field through magma; lo/hi NaN take the finite min and max.
Canvas heat_image(const float* values, int h, int w, float lo = NAN, float hi = NAN);

// Bilinear resampling of a (h, w) field to (out_h, out_w), pixel centres aligned (like PyTorch's
// interpolate with align_corners = false). Used to bring a 37x37 attention map onto 150x150.
std::vector<float> resize_bilinear(const float* values, int h, int w, int out_h, int out_w);

// An attention map drawn over a grey image: the heat field (hh, hw) is resized bilinearly to the
// image's (h, w), normalised to [0, 1] by its own finite min and max, coloured with magma and
// blended with weight alpha * t (so low attention leaves the image visible and high attention
// shows strongly). The grey image is scaled by its own min and max.
Canvas overlay(const float* grey, int h, int w, const float* heat, int hh, int hw,
               float alpha = 0.6f);

// A colour bar (for heat images and overlays): vertical, magma from lo (bottom) to hi (top),
// with the two values written beside it.
Canvas colour_bar(int height, float lo, float hi, const std::string& label = "");

// ---------------------------------------------------------------------------------------------
// Charts. Every chart draws a frame, ticks with numbers, axis labels, a title and (when any series
// has a name) a legend in the top-right corner.

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 640, height = 440;
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;
  bool diagonal = false;             // dashed y = x line (chance level of a ROC curve)
  bool legend_bottom_right = false;  // ROC curves leave the top-right corner free
  double y_reference = NAN;          // a dashed horizontal line there (e.g. a warning level)
};

struct Series {
  std::string name;  // legend entry; empty = no entry
  std::vector<double> x, y;
  Rgb colour = {31, 119, 180};
  int thickness = 2;
  bool markers = false;  // a small filled circle at every point
  bool steps = false;    // draw as a staircase (horizontal then vertical), as ROC curves are
};

Canvas line_plot(const std::vector<Series>& series, const ChartOptions& options);

// ROC curves: x = false-positive rate, y = true-positive rate, both fixed to [0, 1], the chance
// diagonal drawn, the curve drawn as a staircase. Name each series with its AUC, e.g.
// "AG-CNN (AUC 0.975)".
Canvas roc_plot(const std::vector<Series>& curves, const std::string& title);

struct HistogramSeries {
  std::string name;
  std::vector<double> values;  // non-finite values are ignored
  Rgb colour = {31, 119, 180};
};

// Overlaid histograms on shared bin edges (bins equal-width bins over the finite range of all
// series, or over [x_min, x_max] when given), drawn as translucent bars with outlines. density =
// true divides each series' counts by its own total so classes of different size compare.
Canvas histogram(const std::vector<HistogramSeries>& series, int bins, const ChartOptions& options,
                 bool density = false);

// Vertical bars, one per label; values.size() series drawn side by side inside each label's slot.
// values[s][i] is the height of series s at label i.
Canvas bar_plot(const std::vector<std::string>& labels,
                const std::vector<std::vector<double>>& values,
                const std::vector<std::string>& series_names, const ChartOptions& options);

// A matrix as coloured cells (magma over the finite range, or [lo, hi] when given) with row and
// column labels and, when annotate is true, each value written in its cell in a contrasting
// colour (integers without decimals). A confusion matrix is rows = true class, columns =
// predicted class.
Canvas matrix_plot(const std::vector<std::vector<double>>& values,
                   const std::vector<std::string>& row_labels,
                   const std::vector<std::string>& col_labels, const ChartOptions& options,
                   bool annotate = true, double lo = NAN, double hi = NAN);

// ---------------------------------------------------------------------------------------------
// Layout

struct Tile {
  Canvas image;
  std::string caption;  // written under the image, cut to the tile width
};

// Tiles left to right, top to bottom, columns per row, each cell as large as the largest tile,
// with gap pixels between them and an optional title on top.
Canvas image_grid(const std::vector<Tile>& tiles, int columns, const std::string& title = "",
                  int gap = 6);

// Side by side (hstack) or one above the other (vstack), aligned to the top / left.
Canvas hstack(const std::vector<Canvas>& parts, int gap = 8);
Canvas vstack(const std::vector<Canvas>& parts, int gap = 8);

// One image as a figure: `title` centred in a band on top (double size when it fits, else normal
// size, shortened in the middle with "..." when even that does not fit), the image magnified
// `magnify` times (nearest neighbour) with its top-left corner at (10, 44), and
// colour_bar(lo, hi, bar_label) as high as the magnified image in a 100-pixel slot to its right.
// For an image of w x h the figure is (magnify w + 120) x (max(magnify h, 40) + 54) pixels,
// whatever the title and the numbers; a bar whose numbers need more than the slot is cut off at
// the right edge.
Canvas image_figure(const Canvas& image, int magnify, const std::string& title, float lo, float hi,
                    const std::string& bar_label);

}  // namespace radgal::plot
