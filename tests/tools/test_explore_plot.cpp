// The PNG plotting library behind explore's (and evaluate's) figures: colours, drawing
// primitives, text, resampling against values worked by hand, layout sizes and PNG output.
#include <doctest/doctest.h>
#include <stb_image.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "tools/plot.h"

namespace plot = radgal::plot;
using plot::Canvas;
using plot::Rgb;

namespace {

bool same(Rgb a, Rgb b) {
  return a.r == b.r && a.g == b.g && a.b == b.b;
}

int count_not(const Canvas& c, Rgb background) {
  int n = 0;
  for (int y = 0; y < c.height(); ++y) {
    for (int x = 0; x < c.width(); ++x) n += !same(c.get(x, y), background);
  }
  return n;
}

}  // namespace

TEST_CASE("plot: magma runs from near black to pale yellow, brightening steadily") {
  CHECK(same(plot::magma(0.f), {0, 0, 4}));
  CHECK(same(plot::magma(1.f), {252, 253, 191}));
  CHECK(same(plot::magma(-3.f), plot::magma(0.f)));
  CHECK(same(plot::magma(7.f), plot::magma(1.f)));
  CHECK(same(plot::magma(NAN), plot::kMissing));
  double previous = -1;
  for (int i = 0; i <= 64; ++i) {
    const Rgb c = plot::magma(float(i) / 64);
    const double luma = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
    CHECK(luma >= previous - 1.0);  // rounding may wobble by a grey level
    previous = luma;
  }
  CHECK(same(plot::magma(5.f, 0.f, 10.f), plot::magma(0.5f)));
  CHECK(same(plot::magma(3.f, 2.f, 2.f), plot::magma(0.5f)));
  CHECK(same(plot::palette(0), plot::palette(8)));
  CHECK_FALSE(same(plot::palette(0), plot::palette(1)));
}

TEST_CASE("plot: canvas drawing is clipped and blends as specified") {
  Canvas c(10, 8, plot::kWhite);
  c.set(-1, 3, plot::kBlack);
  c.set(10, 3, plot::kBlack);
  c.fill_rect(-5, -5, 100, 100, plot::kBlack, 0.5f);  // covers everything, half strength
  CHECK(same(c.get(0, 0), {128, 128, 128}));
  CHECK(same(c.get(9, 7), {128, 128, 128}));
  CHECK_THROWS(c.get(10, 0));
  c.draw_line(0, 0, 9, 7, {255, 0, 0});
  CHECK(same(c.get(0, 0), {255, 0, 0}));
  CHECK(same(c.get(9, 7), {255, 0, 0}));
  c.draw_line(0, 0, 1e300, -1e300, plot::kBlack);  // far away: clamped, returns quickly
  c.draw_line(NAN, 0, 3, 3, plot::kBlack);         // not finite: nothing drawn
  c.draw_circle(5, 4, 2, {0, 0, 255}, true);
  CHECK(same(c.get(5, 4), {0, 0, 255}));
  CHECK_THROWS(Canvas(0, 5));
  const Canvas big = c.scaled(3);
  CHECK(big.width() == 30);
  CHECK(same(big.get(16, 13), c.get(5, 4)));
}

TEST_CASE("plot: text stays inside its measured box, odd bytes do not crash") {
  Canvas c(200, 60, plot::kWhite);
  const std::string text = "FRII 0.975";
  const int w = Canvas::text_width(text, 2), h = Canvas::text_height(text, 2);
  CHECK(w > 0);
  c.draw_text(10, 10, text, plot::kBlack, 2);
  int inside = 0, outside = 0;
  for (int y = 0; y < c.height(); ++y) {
    for (int x = 0; x < c.width(); ++x) {
      if (same(c.get(x, y), plot::kWhite)) continue;
      const bool in = x >= 10 && x < 10 + w && y >= 10 && y < 10 + h + 2;
      (in ? inside : outside) += 1;
    }
  }
  CHECK(inside > 50);
  CHECK(outside == 0);
  // Every glyph of a string of zeros is drawn completely (a zero needs the most quads).
  Canvas zeros(400, 20, plot::kWhite);
  zeros.draw_text(0, 0, "0000000000", plot::kBlack);
  Canvas one(20, 20, plot::kWhite);
  one.draw_text(0, 0, "0", plot::kBlack);
  CHECK(count_not(zeros, plot::kWhite) == 10 * count_not(one, plot::kWhite));
  c.draw_text(0, 40, "caf\xc3\xa9 \x01\x7f", plot::kBlack);
  c.draw_text(150, 55, "up", plot::kBlack, 1, true);
}

TEST_CASE("plot: bilinear resampling matches align_corners = false worked by hand") {
  // [[0, 1], [2, 3]] to 4 x 4: source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25
  // (clamped to 1) along each axis.
  const float in[] = {0, 1, 2, 3};
  const std::vector<float> out = plot::resize_bilinear(in, 2, 2, 4, 4);
  const float expected[] = {0,   0.25, 0.75, 1,   0.5, 0.75, 1.25, 1.5,
                            1.5, 1.75, 2.25, 2.5, 2,   2.25, 2.75, 3};
  for (int i = 0; i < 16; ++i) CHECK(out[size_t(i)] == doctest::Approx(expected[i]));
  // Same size is the identity; downsampling by two averages 2 x 2 blocks.
  CHECK(plot::resize_bilinear(in, 2, 2, 2, 2) == std::vector<float>(in, in + 4));
  const std::vector<float> down = plot::resize_bilinear(expected, 4, 4, 2, 2);
  CHECK(down[0] == doctest::Approx(0.375));
  CHECK_THROWS(plot::resize_bilinear(in, 2, 2, 0, 4));
}

TEST_CASE("plot: overlay leaves the image where attention is lowest and colours the peak") {
  std::vector<float> grey(6 * 6);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = float(i);
  std::vector<float> heat(3 * 3, 0.f);
  heat[4] = 1.f;  // the centre of a 3 x 3 map
  const Canvas base = plot::grey_image(grey.data(), 6, 6);
  const Canvas over = plot::overlay(grey.data(), 6, 6, heat.data(), 3, 3, 1.f);
  CHECK(same(over.get(0, 0), base.get(0, 0)));  // attention 0 there
  // Near the centre the map is 1 after resampling, so alpha * t = 1: pure magma(1).
  CHECK(same(over.get(2, 2), plot::magma(1.f)));
  const std::vector<float> flat(9, 0.5f);
  const Canvas none = plot::overlay(grey.data(), 6, 6, flat.data(), 3, 3, 1.f);
  CHECK(count_not(none, plot::kWhite) == count_not(base, plot::kWhite));
  CHECK(same(none.get(3, 3), base.get(3, 3)));
}

TEST_CASE("plot: charts and layouts have the promised sizes and survive odd data") {
  plot::ChartOptions o;
  o.title = "t";
  o.width = 400;
  o.height = 300;
  plot::Series s;
  s.name = "a";
  s.x = {0, 1, NAN, 3};
  s.y = {1, 2, 3, INFINITY};
  CHECK(plot::line_plot({s}, o).width() == 400);
  CHECK(plot::line_plot({}, o).height() == 300);
  CHECK(plot::roc_plot({s}, "roc").width() == 520);
  plot::HistogramSeries h;
  h.values = {1, 1, 2, NAN, 5};
  CHECK(plot::histogram({h}, 10, o).width() == 400);
  CHECK(plot::histogram({plot::HistogramSeries{}}, 0, o, true).width() == 400);
  CHECK(plot::bar_plot({"x", "y"}, {{1, -2}, {3}}, {"p", "q"}, o).width() == 400);
  // A reference line is drawn only when it lies inside the axis range; bars whose base (0) lies
  // below the range start at the bottom axis instead of spilling over the labels.
  o.y_min = 0.5;
  o.y_max = 1.0;
  o.y_reference = 0.75;
  const Canvas with_line = plot::bar_plot({"a"}, {{0.6}}, {}, o);
  o.y_reference = 2.0;
  const Canvas without = plot::bar_plot({"a"}, {{0.6}}, {}, o);
  CHECK(count_not(with_line, plot::kWhite) > count_not(without, plot::kWhite));
  CHECK(same(without.get(200, without.height() - 30), plot::kWhite));
  const Canvas m = plot::matrix_plot({{10, 0}, {2, 8}}, {"FRI", "FRII"}, {"FRI", "FRII"}, o);
  CHECK(m.width() > 100);
  CHECK(plot::colour_bar(100, 0.f, 1.f, "p").height() == 100);

  // 3 tiles of 10 x 10 in 2 columns with a 6-pixel gap: 6 + 2 * (10 + 6) on each side.
  std::vector<plot::Tile> tiles(3);
  for (plot::Tile& t : tiles) t.image = Canvas(10, 10, plot::kBlack);
  const Canvas grid = plot::image_grid(tiles, 2);
  CHECK(grid.width() == 38);
  CHECK(grid.height() == 38);
  CHECK(same(grid.get(6, 6), plot::kBlack));
  CHECK(same(grid.get(5, 5), plot::kWhite));
  CHECK(plot::hstack({Canvas(5, 7), Canvas(3, 2)}, 1).width() == 9);
  CHECK(plot::vstack({Canvas(5, 7), Canvas(3, 2)}, 1).height() == 10);
}

TEST_CASE("plot: PNG files hold the canvas exactly and failures name the path") {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("radgal_plot_test_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  Canvas c(7, 3, {1, 2, 3});
  c.set(6, 2, {250, 100, 50});
  c.write_png(dir + "/c.png");
  int w = 0, h = 0, n = 0;
  unsigned char* data = stbi_load((dir + "/c.png").c_str(), &w, &h, &n, 3);
  REQUIRE(data);
  CHECK(w == 7);
  CHECK(h == 3);
  CHECK(std::equal(c.rgb().begin(), c.rgb().end(), data));
  stbi_image_free(data);
  CHECK_THROWS_WITH(c.write_png(dir + "/no/such/folder/c.png"), doctest::Contains("no/such"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("plot: an image figure puts title, magnified image and colour bar where promised") {
  // A 40 x 30 image with a different colour in every pixel, magnified twice.
  Canvas image(40, 30);
  for (int y = 0; y < 30; ++y) {
    for (int x = 0; x < 40; ++x) image.set(x, y, {uint8_t(6 * x), uint8_t(8 * y), 77});
  }
  const Canvas fig = plot::image_figure(image, 2, "image.png: FRII, p = 0.9990", 0.f, 0.02f, "a");
  REQUIRE(fig.width() == 2 * 40 + 120);
  REQUIRE(fig.height() == 2 * 30 + 54);
  int moved = 0;
  for (int y = 0; y < 60; ++y) {
    for (int x = 0; x < 80; ++x) moved += !same(fig.get(10 + x, 44 + y), image.get(x / 2, y / 2));
  }
  CHECK(moved == 0);
  // The title: dark text inside the band above the image, within the margins.
  int title_ink = 0;
  for (int y = 0; y < 44; ++y) {
    for (int x = 0; x < fig.width(); ++x) title_ink += fig.get(x, y).r < 128;
  }
  CHECK(title_ink > 100);
  // The bar in its slot right of the image, with its scale (0.02 at the top, 0 at the bottom),
  // exactly as colour_bar draws it: bright at the top, dark at the bottom.
  const int bar_x = 10 + 80 + 10 + 9;
  auto brightness = [&](int y) {
    const Rgb c = fig.get(bar_x, y);
    return c.r + c.g + c.b;
  };
  CHECK(brightness(44 + 6) > 600);
  CHECK(brightness(44 + 53) < 100);
  const Canvas bar = plot::colour_bar(60, 0.f, 0.02f, "a");
  int bar_differs = 0;
  for (int y = 0; y < bar.height(); ++y) {
    for (int x = 0; x < bar.width(); ++x)
      bar_differs += !same(fig.get(100 + x, 44 + y), bar.get(x, y));
  }
  CHECK(bar_differs == 0);

  // A title far too long for the figure is cut in the middle; the size does not change.
  const std::string long_name(300, 'n');
  const Canvas cut = plot::image_figure(image, 2, long_name + ".png: FRI", 0.f, 1.f, "a");
  CHECK(cut.width() == fig.width());
  CHECK(cut.height() == fig.height());
  int ink = 0, ink_in_margins = 0;
  for (int y = 0; y < 44; ++y) {
    for (int x = 0; x < cut.width(); ++x) {
      const bool dark = cut.get(x, y).r < 128;
      ink += dark;
      ink_in_margins += dark && (x < 10 || x >= cut.width() - 10);
    }
  }
  CHECK(ink > 100);
  CHECK(ink_in_margins == 0);
  // No finite attention value at all: the figure is still drawn.
  CHECK(plot::image_figure(image, 1, "", NAN, NAN, "").height() == 40 + 54);
}
