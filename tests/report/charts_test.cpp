// Ticks, histograms, line/histogram/bar charts and learning curves from metrics logs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/report/charts.h"
#include "emgan/report/metrics_log.h"
#include "test_util.h"

namespace er = emgan::report;

namespace {

// Mask [H, W] of pixels within `tol` (8-bit units) of colour c in a [3, H, W] image.
torch::Tensor near_color(const torch::Tensor& img, er::Color c, double tol = 30.0) {
  auto target = torch::tensor({c.r, c.g, c.b}, torch::kFloat).view({3, 1, 1});
  return ((img - target).abs() * 255.0).amax(0) <= tol;
}

// Mean row and column of the true pixels of a mask.
std::pair<double, double> centroid(const torch::Tensor& mask) {
  auto idx = torch::nonzero(mask).to(torch::kDouble);
  return {idx.select(1, 0).mean().item<double>(), idx.select(1, 1).mean().item<double>()};
}

}  // namespace

TEST(Ticks, NiceSteps) {
  EXPECT_DOUBLE_EQ(er::nice_step(0.13), 0.2);
  EXPECT_DOUBLE_EQ(er::nice_step(3.0), 5.0);
  EXPECT_DOUBLE_EQ(er::nice_step(7.0), 10.0);
  EXPECT_DOUBLE_EQ(er::nice_step(1000.0), 1000.0);
  const std::vector<double> expected = {0, 0.2, 0.4, 0.6, 0.8, 1.0};
  auto t = er::nice_ticks(0.0, 1.0, 6);
  ASSERT_EQ(t.size(), expected.size());
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], expected[i], 1e-12);
  t = er::nice_ticks(-3.7, 12.2, 5);  // step 5: -0, 5, 10
  ASSERT_EQ(t.size(), 3u);
  EXPECT_DOUBLE_EQ(t[0], 0.0);
  EXPECT_DOUBLE_EQ(t[2], 10.0);
  t = er::nice_ticks(1013.0, 1187.0, 6);  // step 50 (raw 34.8)
  EXPECT_DOUBLE_EQ(t.front(), 1050.0);
  EXPECT_DOUBLE_EQ(t.back(), 1150.0);
  EXPECT_EQ(er::format_tick(0.4, 0.2), "0.4");
  EXPECT_EQ(er::format_tick(1500.0, 500.0), "1500");
  EXPECT_EQ(er::format_tick(2.5e-5, 5e-6), "2.5e-5");
  EXPECT_EQ(er::format_tick(3e6, 1e6), "3e6");
  EXPECT_EQ(er::format_tick(1e-17, 0.2), "0");
  EXPECT_EQ(er::format_tick(-0.05, 0.05), "-0.05");
  auto lt = er::log_ticks(0.001, 10.0);
  EXPECT_EQ(lt, (std::vector<double>{0.001, 0.01, 0.1, 1.0, 10.0}));
  lt = er::log_ticks(1.0, 20.0);
  EXPECT_EQ(lt, (std::vector<double>{1.0, 2.0, 5.0, 10.0, 20.0}));
  EXPECT_THROW(er::nice_ticks(0, 1, 1), emgan::ConfigError);
}

TEST(Histogram, CountsAndBins) {
  auto h = er::histogram(torch::tensor({0.0, 0.1, 0.5, 0.9, 1.0, 7.0, std::nan("")}), 2, 0.0, 1.0);
  EXPECT_EQ(h.counts, (std::vector<double>{2.0, 3.0}));
  EXPECT_EQ(h.edges, (std::vector<double>{0.0, 0.5, 1.0}));
  auto d = er::histogram(torch::tensor({0.0, 0.1, 0.5, 0.9}), 2, 0.0, 1.0, true);
  EXPECT_DOUBLE_EQ(d.counts[0] * 0.5 + d.counts[1] * 0.5, 1.0);
  // Edges from data: nice, covering every value of both samples.
  torch::manual_seed(3);
  auto a = torch::randn({500}) * 2.0 + 10.0;
  auto b = torch::randn({300}) + 14.0;
  auto e = er::auto_bin_edges({a, b});
  EXPECT_LE(e.front(), std::min(a.min().item<double>(), b.min().item<double>()));
  EXPECT_GE(e.back(), std::max(a.max().item<double>(), b.max().item<double>()));
  EXPECT_GE(e.size(), 6u);
  EXPECT_LE(e.size(), 101u);
  const double step = e[1] - e[0];
  EXPECT_DOUBLE_EQ(er::nice_step(step * 0.999), er::nice_step(step));
  EXPECT_EQ(er::auto_bin_edges({a}, 7).size(), 8u);
}

TEST(Charts, LineChartDrawsSeriesWhereExpected) {
  er::Series flat{"flat", {}, std::vector<double>(11, 1.0)};
  er::Series falling{"falling", {}, {}};
  for (int i = 0; i <= 10; ++i) falling.y.push_back(2.0 - 0.2 * i);
  er::ChartOptions o;
  o.title("Two series").x_label("step").y_label("loss").width(640).height(400);
  auto img = er::render_line_chart({flat, falling}, o);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 400, 640}));
  auto blue = near_color(img, er::palette(0), 20);
  auto orange = near_color(img, er::palette(1), 20);
  ASSERT_GT(blue.sum().item<int64_t>(), 300);  // a line ~500 px long, 2 px wide
  ASSERT_GT(orange.sum().item<int64_t>(), 300);
  // The flat series is a horizontal line half-way up the plot (the legend swatch aside).
  EXPECT_NEAR(centroid(blue).first, 190.0, 40.0);
  // The falling series is high on the left and low on the right.
  auto left = orange.slice(1, 0, 250), right = orange.slice(1, 390, 640);
  EXPECT_LT(centroid(left).first, centroid(right).first - 100.0);
  // The title and labels put dark ink at the top and bottom edges.
  EXPECT_GT((img.slice(1, 0, 30) < 0.3).sum().item<int64_t>(), 50);
  EXPECT_GT((img.slice(1, 370, 400) < 0.3).sum().item<int64_t>(), 50);
  // Log axis: values <= 0 are not drawn; nothing positive is an error.
  o.log_y(true);
  EXPECT_NO_THROW(er::render_line_chart({falling}, o));
  EXPECT_THROW(er::render_line_chart({er::Series{"neg", {}, {-1.0, -2.0}}}, o), emgan::ConfigError);
  EXPECT_THROW(er::render_line_chart({er::Series{"bad", {1, 2, 3}, {1, 2}}}, er::ChartOptions()), emgan::ConfigError);
}

TEST(Charts, HistogramAndBarChartPngs) {
  torch::manual_seed(4);
  const auto dir = emgan::test::temp_dir();
  auto truth = torch::randn({400}) * 1.5 + 8.0;
  auto pred = torch::randn({400}) * 1.0 + 12.0;
  er::HistogramOptions ho;
  ho.chart(er::ChartOptions().title("Particle sizes").x_label("diameter (nm)"));
  er::write_histogram(dir / "hist.png", {{"true", truth, {}}, {"predicted", pred, {}}}, ho);
  auto img = emgan::io::read_image(dir / "hist.png").data / 255.0;
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 500, 800}));
  // Outlines in both colours; the true sizes lie left of the predicted ones.
  auto a = near_color(img, er::palette(0), 25), b = near_color(img, er::palette(1), 25);
  ASSERT_GT(a.sum().item<int64_t>(), 100);
  ASSERT_GT(b.sum().item<int64_t>(), 100);
  EXPECT_LT(centroid(a).second, centroid(b).second - 60.0);

  er::write_bar_chart(dir / "bars.png", {"fold 0", "fold 1", "fold 2"},
                      {{"ours", {3.0, 6.0, 9.0}, {}}, {"published", {4.0, 4.0, 4.0}, {}}},
                      er::ChartOptions().title("RMSE per fold").y_label("RMSE (%)"));
  auto bars = emgan::io::read_image(dir / "bars.png").data / 255.0;
  auto ours = near_color(bars, er::palette(0), 30);
  // The bar of fold 2 (value 9) is three times as tall as that of fold 0 (value 3).
  // Bar height = the most common non-zero column count (the legend swatch's outline aside).
  auto cols = ours.sum(0);
  const auto height = [&](int64_t a, int64_t b) {
    auto c = cols.slice(0, a, b);
    return std::get<0>(torch::mode(c.masked_select(c > 0))).item<int64_t>();
  };
  const auto h0 = height(0, 300), h2 = height(500, 800);
  EXPECT_NEAR(static_cast<double>(h2) / static_cast<double>(h0), 3.0, 0.15);
  EXPECT_THROW(er::render_bar_chart({"a"}, {{"x", {1.0, 2.0}, {}}}), emgan::ConfigError);
}

TEST(MetricsLog, ReadsCsvAndJsonLinesAndPlots) {
  const auto dir = emgan::test::temp_dir();
  {
    std::ofstream f(dir / "metrics.csv");
    f << "step,epoch,loss_g,loss_d,lr\n";
    for (int i = 0; i < 50; ++i)
      f << i * 10 << "," << i / 10 << "," << 5.0 * std::exp(-i / 15.0) + 0.5 << ","
        << (i == 7 ? std::string("") : std::to_string(0.7 + 0.01 * (i % 3))) << ",0.0002\n";
  }
  auto t = er::read_metrics_log(dir / "metrics.csv");
  ASSERT_EQ(t.columns, (std::vector<std::string>{"step", "epoch", "loss_g", "loss_d", "lr"}));
  ASSERT_EQ(t.rows(), 50u);
  EXPECT_DOUBLE_EQ(t.column("step")[3], 30.0);
  EXPECT_TRUE(std::isnan(t.column("loss_d")[7]));
  EXPECT_THROW(t.column("nope"), emgan::ConfigError);
  auto series = er::learning_curve_series(t);
  ASSERT_EQ(series.size(), 2u);  // loss_g, loss_d (step, epoch, lr are bookkeeping)
  EXPECT_EQ(series[0].name, "loss_g");
  EXPECT_DOUBLE_EQ(series[1].x[3], 30.0);
  // Smoothing adds a faint raw curve under each smoothed one.
  auto smooth = er::learning_curve_series(t, er::LearningCurveOptions().smoothing(0.6).columns({"loss_g"}));
  ASSERT_EQ(smooth.size(), 2u);
  EXPECT_LT(smooth[0].opacity, 1.0);
  EXPECT_DOUBLE_EQ(smooth[1].y[0], t.column("loss_g")[0]);  // debiased EMA starts at the first value

  er::write_learning_curves(dir / "metrics.csv", dir / "curves.png");
  auto img = emgan::io::read_image(dir / "curves.png").data / 255.0;
  EXPECT_EQ(img.sizes(), (std::vector<int64_t>{3, 500, 800}));
  EXPECT_GT(near_color(img, er::palette(0), 20).sum().item<int64_t>(), 300);
  EXPECT_GT(near_color(img, er::palette(1), 20).sum().item<int64_t>(), 300);

  {
    std::ofstream f(dir / "metrics.jsonl");
    f << "{\"step\": 1, \"loss\": 2.5, \"phase\": \"train\"}\n\n{\"step\": 2, \"loss\": 2.0, \"psnr\": 21.5}\n";
  }
  auto j = er::read_metrics_log(dir / "metrics.jsonl");
  ASSERT_EQ(j.columns, (std::vector<std::string>{"step", "loss", "psnr"}));
  EXPECT_TRUE(std::isnan(j.column("psnr")[0]));
  EXPECT_DOUBLE_EQ(j.column("psnr")[1], 21.5);
  {
    std::ofstream f(dir / "bad.csv");
    f << "a,b\n1,2\n1,2,3\n";
  }
  try {
    er::read_metrics_log(dir / "bad.csv");
    FAIL() << "expected IoError";
  } catch (const emgan::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(er::read_metrics_log(dir / "missing.csv"), emgan::IoError);
}
