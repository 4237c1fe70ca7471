// Display windows, colormaps, the bitmap font, the Canvas and image grids.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/report/canvas.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"
#include "test_util.h"

namespace er = emgan::report;

namespace {

// The 8-bit value of channel c of pixel (y, x) of a [3, H, W] image in [0, 1].
int px(const torch::Tensor& img, int64_t c, int64_t y, int64_t x) {
  return static_cast<int>(std::lround(img[c][y][x].item<double>() * 255.0));
}

}  // namespace

TEST(Display, AutoWindowIsNumpyPercentile) {
  // 0, 1, ..., 1000: numpy.percentile(x, [0.5, 99.5]) = [5.0, 995.0]; a hot pixel
  // at 1e9 and NaNs must not move the window much.
  auto x = torch::arange(0, 1001, torch::kFloat);
  auto w = er::auto_window(x);
  EXPECT_NEAR(w.lo, 5.0, 1e-9);
  EXPECT_NEAR(w.hi, 995.0, 1e-9);
  auto y = torch::cat({x, torch::tensor({1e9f, NAN, INFINITY})});
  w = er::auto_window(y, 0.0, 99.0);
  EXPECT_NEAR(w.lo, 0.0, 1e-9);
  EXPECT_NEAR(w.hi, 0.99 * 1001.0, 1e-6);  // 1002 finite values: position 0.99 * 1001
  // A constant image gets a window of width 1 around its value.
  w = er::auto_window(torch::full({4, 4}, 3.0));
  EXPECT_DOUBLE_EQ(w.lo, 2.5);
  EXPECT_DOUBLE_EQ(w.hi, 3.5);
  EXPECT_THROW(er::auto_window(x, 50.0, 10.0), emgan::ConfigError);
}

TEST(Display, SymmetricWindow) {
  auto d = torch::tensor({-0.2f, 0.1f, 0.4f, -1.0f});
  auto w = er::symmetric_window(d, 100.0);
  EXPECT_NEAR(w.lo, -1.0, 1e-7);
  EXPECT_NEAR(w.hi, 1.0, 1e-7);
  w = er::symmetric_window(torch::zeros({3}));
  EXPECT_DOUBLE_EQ(w.hi, 1.0);
}

TEST(Display, ToDisplayMapsWindowToBytes) {
  auto x = torch::tensor({-1.0f, 0.0f, 0.5f, 1.0f, 2.0f, NAN});
  auto d = er::to_display(x, 0.0, 1.0);
  EXPECT_EQ(d.scalar_type(), torch::kUInt8);
  const std::vector<int> expected = {0, 0, 128, 255, 255, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(d[i].item<int>(), expected[i]) << "value " << i;
  EXPECT_THROW(er::to_display(x, 1.0, 1.0), emgan::ConfigError);
}

TEST(Display, Colormaps) {
  auto u = torch::tensor({0.0f, 0.5f, 1.0f}).view({1, 1, 3});
  auto grey = er::apply_colormap(u, er::Colormap::kGrey);
  ASSERT_EQ(grey.sizes(), (std::vector<int64_t>{3, 1, 3}));
  EXPECT_EQ(px(grey, 0, 0, 1), 128);
  auto vir = er::apply_colormap(u, er::Colormap::kViridis);
  // matplotlib's viridis: 0 -> #440154, 0.5 -> #21918c, 1 -> #fde725
  EXPECT_EQ(px(vir, 0, 0, 0), 0x44);
  EXPECT_EQ(px(vir, 2, 0, 0), 0x54);
  EXPECT_EQ(px(vir, 1, 0, 1), 0x91);
  EXPECT_EQ(px(vir, 0, 0, 2), 0xfd);
  auto div = er::apply_colormap(u, er::Colormap::kDiverging);
  // Centre white-ish, negative blue, positive red.
  EXPECT_GT(px(div, 0, 0, 1), 240);
  EXPECT_GT(px(div, 2, 0, 0), px(div, 0, 0, 0));
  EXPECT_GT(px(div, 0, 0, 2), px(div, 2, 0, 2));
  EXPECT_THROW(er::colormap_from_string("jet"), emgan::ConfigError);
}

TEST(Font, TextWidthAndMask) {
  EXPECT_EQ(er::text_width("", 2), 0);
  EXPECT_EQ(er::text_width("A", 1), 5);
  EXPECT_EQ(er::text_width("Hello", 2), (5 * 6 - 1) * 2);
  EXPECT_EQ(er::text_width("1 \xC3\x85", 1), 3 * 6 - 1);  // "1 Å": Å is one glyph
  EXPECT_EQ(er::text_height(3), 27);
  auto m = er::text_mask("Hello", 2);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{18, 58}));
  // '|' is one column of 7 pixels; at scale 3 it is 3 columns x 21 rows of ink.
  auto bar = er::text_mask("|", 3);
  EXPECT_EQ(bar.sum().item<double>(), 3 * 21);
  EXPECT_EQ(bar.index({torch::indexing::Slice(), 6}).sum().item<double>(), 21);
  EXPECT_EQ(bar.index({torch::indexing::Slice(), 5}).sum().item<double>(), 0);
  // Every printable ASCII glyph but the space has ink; descenders reach below the baseline.
  for (char c = 33; c < 127; ++c) EXPECT_GT(er::text_mask(std::string(1, c)).sum().item<double>(), 0) << c;
  EXPECT_EQ(er::text_mask(" ").sum().item<double>(), 0);
  EXPECT_GT(er::text_mask("g").index({torch::indexing::Slice(7, 9)}).sum().item<double>(), 0);
  EXPECT_EQ(er::text_mask("a").index({torch::indexing::Slice(7, 9)}).sum().item<double>(), 0);
  // Unknown characters are drawn as '?'.
  EXPECT_TRUE(torch::equal(er::text_mask("\xE2\x82\xAC"), er::text_mask("?")));  // €
  EXPECT_THROW(er::text_width("x", 0), emgan::ConfigError);
}

TEST(Canvas, LinesRectsAndText) {
  er::Canvas c(40, 60);
  const er::Color red{1, 0, 0};
  c.line(5, 10.5, 50, 10.5, red, 1.0);
  const auto& p = c.pixels();
  EXPECT_EQ(px(p, 0, 10, 20), 255);
  EXPECT_EQ(px(p, 1, 10, 20), 0);
  EXPECT_EQ(px(p, 1, 12, 20), 255);  // untouched: white
  EXPECT_EQ(px(p, 1, 10, 55), 255);  // beyond the end
  c.fill_rect(0, 20, 10, 30, er::Color{0, 0, 1}, 0.5);
  EXPECT_EQ(px(p, 0, 25, 5), 128);
  EXPECT_EQ(px(p, 2, 25, 5), 255);
  EXPECT_EQ(px(p, 0, 25, 10), 255);  // x1 exclusive
  // Text: exactly the ink of the mask turns black.
  er::Canvas t(30, 80);
  t.text(3, 4, "Ab9", er::Color{0, 0, 0}, 2);
  const double ink = (1.0 - t.pixels()[0]).sum().item<double>();
  EXPECT_NEAR(ink, er::text_mask("Ab9", 2).sum().item<double>(), 1e-3);
  // Markers: a circle of diameter 9 covers its centre, not 6 pixels away; a cross not its corner box.
  er::Canvas mk(30, 30);
  mk.markers({10.5, 22.5}, {10.5, 10.5}, er::Marker::kCircle, 9.0, red);
  EXPECT_EQ(px(mk.pixels(), 1, 10, 10), 0);
  EXPECT_EQ(px(mk.pixels(), 1, 10, 14), 0);
  EXPECT_EQ(px(mk.pixels(), 1, 16, 10), 255);
  EXPECT_EQ(px(mk.pixels(), 1, 10, 16), 255);  // between the two markers
  mk.markers({10.5}, {22.5}, er::Marker::kPlus, 9.0, red);
  EXPECT_EQ(px(mk.pixels(), 1, 22, 14), 0);
  EXPECT_EQ(px(mk.pixels(), 1, 19, 7), 255);
  // A polyline with a NaN point leaves a gap.
  er::Canvas g(20, 100);
  g.polyline({0, 30, NAN, 70, 100}, {10.5, 10.5, 10.5, 10.5, 10.5}, red, 1.0);
  EXPECT_EQ(px(g.pixels(), 1, 10, 15), 0);
  EXPECT_EQ(px(g.pixels(), 1, 10, 50), 255);
  EXPECT_EQ(px(g.pixels(), 1, 10, 85), 0);
}

TEST(Canvas, DashedLongSegmentTerminatesAndAlternates) {
  // A long dashed segment: the dash bookkeeping once stalled forever when the rounding
  // remainder of a dash fell below the spacing of doubles near the position.
  const er::Color red{1.0, 0.0, 0.0};
  er::Canvas c(20, 64);
  c.polyline({0.0, 1000.0}, {10.5, 10.5}, red, 1.0, /*dash=*/6.0);
  int on = 0, off = 0;
  for (int x = 0; x < 64; ++x) (px(c.pixels(), 1, 10, x) < 128 ? on : off) += 1;
  EXPECT_GT(on, 30);   // dashes of 6 px, gaps of 3.6 px: about 5/8 of the row
  EXPECT_GT(off, 12);
  EXPECT_EQ(px(c.pixels(), 1, 10, 2), 0);    // inside the first dash [0, 6)
  EXPECT_EQ(px(c.pixels(), 1, 10, 7), 255);  // inside the first gap [6, 9.6), clear of the caps
}

TEST(Grid, SizeAndSharedRowWindow) {
  // Two 4x5 panels in one row: a spans 0..1, b spans 0..0.5. Shared row window
  // (percentiles 0 and 100) is [0, 1]: b's 0.5 shows as 128, a's 1 as 255.
  auto a = torch::zeros({4, 5});
  a[0][0] = 1.0;
  auto b = torch::zeros({4, 5});
  b[0][0] = 0.5;
  er::GridOptions o;
  o.low_percentile(0.0).high_percentile(100.0).gap(6).show_window(false);
  auto img = er::render_grid({{a, b}}, o);
  // margin 6 + 5 + gap 6 + 5 + margin 6 wide; 6 + 4 + 6 high
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 16, 28}));
  EXPECT_EQ(px(img, 0, 6, 6), 255);   // a[0][0]
  EXPECT_EQ(px(img, 0, 6, 17), 128);  // b[0][0]
  EXPECT_EQ(px(img, 0, 7, 17), 0);    // b elsewhere
  EXPECT_EQ(px(img, 0, 0, 0), 255);   // background
  auto w = er::grid_windows({{a, b}}, o);
  EXPECT_DOUBLE_EQ(w[0][1].window.hi, 1.0);
  // Per panel: b's 0.5 is now its own maximum, white.
  o.window_mode(er::WindowMode::kPanel);
  img = er::render_grid({{a, b}}, o);
  EXPECT_EQ(px(img, 0, 6, 17), 255);
  // Per column across two rows: column 1 holds b and 2b, so b's 0.5 is half of 1.
  o.window_mode(er::WindowMode::kColumn);
  img = er::render_grid({{a, b}, {a, b * 2}}, o);
  ASSERT_EQ(img.size(1), 6 + 4 + 6 + 4 + 6);
  EXPECT_EQ(px(img, 0, 6, 17), 128);
  EXPECT_EQ(px(img, 0, 16, 17), 255);
}

TEST(Grid, TitlesLabelsDifferencesAndMixedSizes) {
  torch::manual_seed(1);
  auto big = torch::rand({1, 20, 30});
  auto small = torch::rand({10, 12});
  auto diff = torch::randn({20, 30});
  er::GridOptions o;
  o.column_titles({"input", "output", "diff"}).row_labels({"sample 0", "s1"}).difference_columns({2}).gap(4);
  auto img = er::render_grid({{big, small, diff}, {small, torch::Tensor(), diff}}, o);
  EXPECT_EQ(img.size(0), 3);
  const int64_t label_w = er::text_width("sample 0", 2);
  EXPECT_GT(img.size(2), label_w + 30 + 30 + 30);
  EXPECT_GT(img.size(1), 20 + 20 + er::text_height(2));
  auto w = er::grid_windows({{big, small, diff}}, o);
  EXPECT_EQ(w[0][2].colormap, er::Colormap::kDiverging);
  EXPECT_DOUBLE_EQ(w[0][2].window.lo, -w[0][2].window.hi);
  // The difference panel is coloured (not grey): some pixel has R != B.
  EXPECT_GT((img[0] - img[2]).abs().max().item<double>(), 0.2);
  // Bad panels name their cell.
  try {
    er::render_grid({{big}, {torch::zeros({2, 3, 4, 5})}}, o);
    FAIL() << "expected ConfigError";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("row 1, column 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(er::render_grid({{torch::Tensor()}}, o), emgan::ConfigError);
}

TEST(Grid, ComparisonRowsAndPng) {
  torch::manual_seed(2);
  auto input = torch::rand({3, 1, 8, 8});
  auto target = torch::rand({3, 1, 16, 16});
  auto output = target + 0.1 * torch::randn({3, 1, 16, 16});
  auto rows = er::comparison_rows(input, output, target, 2);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows[0].size(), 4u);
  EXPECT_TRUE(torch::allclose(rows[1][3], output[1][0] - target[1][0]));
  auto o = er::comparison_options(true, 2);
  o.panel_scale(4);
  const auto dir = emgan::test::temp_dir();
  er::write_grid_png(dir / "grid.png", rows, o);
  auto back = emgan::io::read_image(dir / "grid.png");
  auto rendered = er::render_grid(rows, o);
  ASSERT_EQ(back.data.sizes(), rendered.sizes());
  EXPECT_TRUE(torch::equal(back.data, er::to_uint8_cpu(rendered).to(torch::kFloat)));
  EXPECT_THROW(er::comparison_rows(input, output, target.slice(2, 0, 8), 2), emgan::ConfigError);
}

TEST(Grid, RendersOnTheDevice_CUDA) {
  auto a = torch::rand({1, 16, 16}, torch::Device(torch::kCUDA));
  auto img = er::render_grid({{a, a * 2}}, er::GridOptions().show_window(false));
  EXPECT_TRUE(img.is_cuda());
  auto cpu = er::render_grid({{a.cpu(), a.cpu() * 2}}, er::GridOptions().show_window(false));
  EXPECT_LT((img.cpu() - cpu).abs().max().item<double>(), 1e-5);
}
