#pragma once
/// \file charts.h
/// Line charts, histograms and bar charts drawn on a Canvas: axes with "nice"
/// 1-2-5 ticks, tick labels, axis labels, title and legend. Each chart returns an
/// RGB image `[3, H, W]` float in [0, 1] (CPU) or writes it as PNG.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emgan/report/canvas.h"
#include "emgan/report/display.h"

namespace emgan::report {

/// Up to about `max_ticks` (>= 2) tick values covering [lo, hi], spaced by
/// 1, 2 or 5 x 10^k, all inside [lo, hi] (up to rounding). lo == hi gives {lo}.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);

/// The 1, 2 or 5 x 10^k step closest above `raw_step` (> 0).
double nice_step(double raw_step);

/// Tick label of `value` on an axis with tick spacing `step`: as many decimals as
/// the step needs ("0.25", "1500"), scientific ("2e-05", "1.5e+06") for very small
/// or large magnitudes; "0" for values within step/1000 of 0.
std::string format_tick(double value, double step);

/// Tick values for a logarithmic axis over [lo, hi] (lo > 0): powers of 10, and
/// 2 and 5 times them when the range spans fewer than three decades.
std::vector<double> log_ticks(double lo, double hi);

/// Settings shared by the charts. Sizes are pixels.
struct ChartOptions {
  TORCH_ARG(std::string, title) = "";
  TORCH_ARG(std::string, x_label) = "";
  TORCH_ARG(std::string, y_label) = "";
  TORCH_ARG(int64_t, width) = 800;   ///< image width, >= 200
  TORCH_ARG(int64_t, height) = 500;  ///< image height, >= 150
  TORCH_ARG(bool, log_y) = false;    ///< logarithmic y axis (values <= 0 are not drawn)
  TORCH_ARG(bool, legend) = true;    ///< legend box in a corner when there are named series
  TORCH_ARG(bool, grid) = true;      ///< light grid lines at the ticks
  TORCH_ARG(int, text_scale) = 2;    ///< scale of the bitmap font for labels (>= 1)
  TORCH_ARG(double, line_width) = 2.0;  ///< series line width
  /// Axis ranges; unset = from the data with a small margin.
  TORCH_ARG(std::optional<double>, x_min) = std::nullopt;
  TORCH_ARG(std::optional<double>, x_max) = std::nullopt;
  TORCH_ARG(std::optional<double>, y_min) = std::nullopt;
  TORCH_ARG(std::optional<double>, y_max) = std::nullopt;
};

/// One named series of a line chart.
struct Series {
  Series() = default;
  /// A plain line: `name` in the legend, points (x[i], y[i]) (x empty = 0, 1, 2, ...).
  Series(std::string name_, std::vector<double> x_, std::vector<double> y_)
      : name(std::move(name_)), x(std::move(x_)), y(std::move(y_)) {}

  std::string name;        ///< legend entry ("" = none)
  std::vector<double> x;   ///< abscissae (same length as y); empty = 0, 1, 2, ...
  std::vector<double> y;   ///< ordinates; NaN/Inf leave a gap
  std::optional<Color> color;  ///< unset = palette(index of the series)
  bool markers = false;    ///< draw a marker at every point
  bool dashed = false;     ///< dashed line
  bool line = true;        ///< draw the connecting line
  double opacity = 1.0;    ///< 0..1, e.g. faint raw values under a smoothed curve
};

/// A line chart of `series` (at least one with a point). Throws ConfigError for
/// mismatched x/y lengths or bad options, naming the series or option.
torch::Tensor render_line_chart(const std::vector<Series>& series, const ChartOptions& options = {});
void write_line_chart(const fs::path& path, const std::vector<Series>& series, const ChartOptions& options = {});

/// Counts of values in equal bins.
struct Histogram {
  std::vector<double> edges;   ///< bins + 1 increasing bin edges
  std::vector<double> counts;  ///< bins counts (or densities, see histogram())
};

/// Histogram of the finite values of `values` (any shape, any device) in `bins`
/// (>= 1) equal bins over [lo, hi] (values outside are ignored; the last bin
/// includes hi). `density` divides by (count x bin width) so the area is 1.
Histogram histogram(const torch::Tensor& values, int64_t bins, double lo, double hi, bool density = false);

/// Bin edges from data: a range covering all finite values of `samples` (snapped
/// outwards to the 1-2-5 tick step) and a bin count from the Freedman-Diaconis rule
/// on the pooled values, clamped to [5, 100]; `bins` > 0 forces the count.
std::vector<double> auto_bin_edges(const std::vector<torch::Tensor>& samples, int64_t bins = 0);

/// One data set of a histogram chart.
struct HistogramSeries {
  std::string name;              ///< legend entry
  torch::Tensor values;          ///< any shape, any device; non-finite values ignored
  std::optional<Color> color;    ///< unset = palette(index)
};

/// Settings of a histogram chart beyond ChartOptions.
struct HistogramOptions {
  TORCH_ARG(ChartOptions, chart) = {};
  TORCH_ARG(int64_t, bins) = 0;         ///< 0 = from the data (auto_bin_edges)
  TORCH_ARG(bool, density) = false;     ///< normalise each series to unit area
  TORCH_ARG(double, fill_opacity) = 0.45;  ///< opacity of the bars (overlays stay visible)
};

/// Histograms of one or more data sets over common bins, overlaid (filled bars
/// with an outline), e.g. predicted vs true particle sizes.
torch::Tensor render_histogram(const std::vector<HistogramSeries>& series, const HistogramOptions& options = {});
void write_histogram(const fs::path& path, const std::vector<HistogramSeries>& series,
                     const HistogramOptions& options = {});

/// One group of bars of a bar chart: `values[i]` is the bar of category i.
struct BarSeries {
  std::string name;
  std::vector<double> values;
  std::optional<Color> color;
};

/// Bars for `categories` (labels under the axis), one bar per series side by side
/// in each category. Every series needs one value per category.
torch::Tensor render_bar_chart(const std::vector<std::string>& categories, const std::vector<BarSeries>& series,
                               const ChartOptions& options = {});
void write_bar_chart(const fs::path& path, const std::vector<std::string>& categories,
                     const std::vector<BarSeries>& series, const ChartOptions& options = {});

}  // namespace emgan::report
