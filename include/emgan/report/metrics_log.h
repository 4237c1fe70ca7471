#pragma once
/// \file metrics_log.h
/// Reading a run's metrics log and plotting learning curves from it.
#include <torch/arg.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "emgan/core/fs.h"
#include "emgan/report/charts.h"

namespace emgan::report {

/// A metrics log as columns of numbers.
struct MetricsTable {
  std::vector<std::string> columns;          ///< column names, in file order
  std::vector<std::vector<double>> values;   ///< values[c][row]; NaN where a cell is empty or not a number

  /// Number of rows.
  size_t rows() const { return values.empty() ? 0 : values.front().size(); }
  /// True when a column of that name exists.
  bool has(const std::string& name) const;
  /// The values of column `name`; throws ConfigError listing the known columns.
  const std::vector<double>& column(const std::string& name) const;
};

/// Reads a metrics log: CSV (".csv": a header row of names, then rows of numbers
/// separated by commas; empty cells and non-numbers read as NaN) or JSON lines
/// (".jsonl"/".json": one object per line, numeric members become columns in order
/// of first appearance). Throws IoError naming the file and line for a missing file,
/// a row with more cells than the header or an invalid JSON line.
MetricsTable read_metrics_log(const fs::path& path);

/// Settings of a learning-curves figure.
struct LearningCurveOptions {
  /// Column used as abscissa; "" or absent = the first of "step", "iteration",
  /// "epoch" present, else the row number.
  TORCH_ARG(std::string, x_column) = "";
  /// Columns drawn, one series each; empty = every column except the abscissa and
  /// the bookkeeping columns (step, iteration, epoch, time, lr, images_per_s...).
  TORCH_ARG(std::vector<std::string>, columns) = {};
  /// Exponential moving average weight in [0, 1) of the smoothed curve; > 0 draws
  /// the raw values faint under the smoothed curve.
  TORCH_ARG(double, smoothing) = 0.0;
  /// Chart settings (title defaults to "Learning curves").
  TORCH_ARG(ChartOptions, chart) = ChartOptions().title("Learning curves");
};

/// The series of a learning-curves chart from `table` (see LearningCurveOptions).
std::vector<Series> learning_curve_series(const MetricsTable& table, const LearningCurveOptions& options = {});

/// Renders the learning curves of `table`, `[3, H, W]` float in [0, 1].
torch::Tensor render_learning_curves(const MetricsTable& table, const LearningCurveOptions& options = {});

/// Reads the metrics log `log_path` and writes its learning curves to `png_path`.
void write_learning_curves(const fs::path& log_path, const fs::path& png_path,
                           const LearningCurveOptions& options = {});

}  // namespace emgan::report
