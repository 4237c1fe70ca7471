#pragma once
/// \file grid.h
/// Image grids: rows of panels (e.g. input / output / target / difference for each
/// sample) with column titles, row labels and shared contrast windows, rendered with
/// tensor operations on the device of the panels.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emgan/report/canvas.h"
#include "emgan/report/display.h"

namespace emgan::report {

/// Which panels share one contrast window.
enum class WindowMode {
  kRow,     ///< the panels of a row share one window (input, output, target comparable)
  kColumn,  ///< the panels of a column share one window across all rows
  kPanel,   ///< every panel has its own window
  kFixed,   ///< every panel uses GridOptions::fixed_window
};

/// Parses "row", "column", "panel", "fixed"; throws ConfigError naming the value.
WindowMode window_mode_from_string(const std::string& name);

/// Settings of an image grid.
struct GridOptions {
  /// Titles drawn above the columns (fewer than columns: the rest are untitled).
  TORCH_ARG(std::vector<std::string>, column_titles) = {};
  /// Labels drawn left of the rows (fewer than rows: the rest are unlabelled).
  TORCH_ARG(std::vector<std::string>, row_labels) = {};
  /// Which panels share a contrast window.
  TORCH_ARG(WindowMode, window_mode) = WindowMode::kRow;
  /// Window used by WindowMode::kFixed, in the unit of the images.
  TORCH_ARG(Window, fixed_window) = {};
  /// Lower and upper percentiles (0..100) of the automatic windows.
  TORCH_ARG(double, low_percentile) = 0.5;
  TORCH_ARG(double, high_percentile) = 99.5;
  /// Columns (0-based) that do not join the shared row window but get their own
  /// window (e.g. an input of another modality than output and target).
  TORCH_ARG(std::vector<int64_t>, own_window_columns) = {};
  /// Columns (0-based) holding signed differences: diverging colormap and a window
  /// symmetric around 0 (shared by the difference panels of a row, or of a column
  /// with WindowMode::kColumn).
  TORCH_ARG(std::vector<int64_t>, difference_columns) = {};
  /// Colormap of the other panels.
  TORCH_ARG(Colormap, colormap) = Colormap::kGrey;
  /// Integer upsampling (nearest neighbour) of every panel, >= 1, for small images.
  TORCH_ARG(int64_t, panel_scale) = 1;
  /// Gap between cells and around the grid, pixels.
  TORCH_ARG(int64_t, gap) = 6;
  /// Scale of the bitmap font (>= 1; 2 gives 14-pixel capitals).
  TORCH_ARG(int, text_scale) = 2;
  /// Print each row's window ("0.12 .. 3.4") under its label.
  TORCH_ARG(bool, show_window) = true;
  /// Colour of the background and the gaps.
  TORCH_ARG(Color, background) = Color{1.0, 1.0, 1.0};
  /// Colour of titles and labels.
  TORCH_ARG(Color, text_color) = Color{0.1, 0.1, 0.1};
};

/// One panel's window as used by a grid (for captions and tests).
struct PanelWindow {
  Window window;
  Colormap colormap = Colormap::kGrey;
};

/// The windows render_grid uses for `rows` (same layout as `rows`; undefined panels
/// get the default window).
std::vector<std::vector<PanelWindow>> grid_windows(const std::vector<std::vector<torch::Tensor>>& rows,
                                                   const GridOptions& options = {});

/// Renders rows of panels into one RGB image `[3, H, W]` float in [0, 1], on the
/// device of the first defined panel. Panels are `[H, W]`, `[1, H, W]`, `[1, 1, H, W]`
/// (scalar) or `[3, H, W]` (RGB, windowed but not colour-mapped); an undefined tensor
/// leaves its cell empty. Rows may have different lengths. Cells are as tall as the
/// tallest panel of their row and as wide as the widest of their column; a smaller
/// panel is centred in its cell. Throws ConfigError for an empty grid or a panel of
/// another shape, naming its row and column.
torch::Tensor render_grid(const std::vector<std::vector<torch::Tensor>>& rows, const GridOptions& options = {});

/// render_grid, written as PNG (see write_png).
void write_grid_png(const fs::path& path, const std::vector<std::vector<torch::Tensor>>& rows,
                    const GridOptions& options = {});

/// Rows of a prediction figure: for each sample n of `[N, C, H, W]` batches, the
/// panels input[n], output[n], target[n] and output[n] - target[n] (first channel of
/// each). `input` may be undefined (the column is then left out). At most
/// `max_rows` samples (> 0) are taken.
std::vector<std::vector<torch::Tensor>> comparison_rows(const torch::Tensor& input, const torch::Tensor& output,
                                                        const torch::Tensor& target, int64_t max_rows = 8);

/// GridOptions for comparison_rows: titles "input", "output", "target",
/// "output - target", rows labelled "sample 0", ..., the difference column
/// diverging, the input with its own window when `input_own_window` (input and
/// target of different modalities).
GridOptions comparison_options(bool has_input, int64_t rows, bool input_own_window = true);

}  // namespace emgan::report
