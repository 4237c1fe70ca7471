#pragma once
/// \file scan_path.h
/// Partial STEM scan paths: the ordered probe positions a scan generator follows and
/// the sampling mask they make on the image grid (Ede & Beanland, Sci. Rep. 10, 8332
/// (2020): spiral and jittered-grid paths covering 1/10 .. 1/100 of the pixels).
///
/// Conventions: positions are in pixels of the image frame, x = column, y = row,
/// pixel centres at integer coordinates, frame [0, width - 1] x [0, height - 1].
/// A probe at (x, y) samples pixel (round(y), round(x)). The mask of a path is 1
/// exactly at the pixels its probes sample and 0 elsewhere, float32 `[H, W]`.
/// Coverage is the fraction of pixels sampled, in (0, 1].
///
/// Path generation is bookkeeping of a few thousand points and runs on the CPU;
/// masks are CPU tensors (move them to the model's device where they are used).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emgan/core/fs.h"

namespace emgan::restore {

/// An ordered scan path in one frame.
struct ScanPath {
  int64_t height = 0;                ///< frame rows, px
  int64_t width = 0;                 ///< frame columns, px
  std::vector<double> x;             ///< probe columns in scan order, px
  std::vector<double> y;             ///< probe rows in scan order, px (same length as x)
  std::string kind;                  ///< "spiral", "grid", "lines", "random" or "csv"
  double nominal_coverage = 0.0;     ///< coverage that was asked for, (0, 1]
  /// Number of probe positions.
  int64_t size() const { return static_cast<int64_t>(x.size()); }
};

/// Settings of the path generators (units: px; coverage a fraction in (0, 1]).
struct ScanPathOptions {
  double coverage = 0.05;     ///< fraction of the frame's pixels to sample, (0, 1]
  double step = 1.0;          ///< spacing of consecutive probes along the path, px (> 0, <= 1 keeps it connected)
  /// Spiral: centre offset from the frame centre, px; rotation of the start, rad.
  double center_dx = 0.0;
  double center_dy = 0.0;
  double rotation = 0.0;
  /// Refine the line spacing (spiral, grid) until the rasterised coverage is within
  /// this relative tolerance of the request (or 12 iterations); 0 = use the nominal spacing.
  double refine_tolerance = 0.01;
  /// Grid: momentum of the random walk of each line's offset, [0, 1).
  double momentum = 0.9;
  /// Grid: standard deviation of the offset's velocity change per px, px.
  double jitter = 0.15;
  /// Lines: sample every n-th row (0 = from the coverage, n = round(1 / coverage)).
  int64_t every = 0;
  uint64_t seed = 0;          ///< random choices (grid, random)
};

/// Archimedean spiral r = a * theta around the frame centre (plus offset), the
/// distance between turns d = 2 pi a set from the coverage (d ~ 1 / coverage) and
/// refined so the rasterised coverage matches; probes every `step` px of arc length
/// out to the farthest frame corner, keeping only those inside the frame.
/// ConfigError for coverage outside (0, 1], a frame side < 2 or step <= 0.
ScanPath spiral_path(int64_t height, int64_t width, const ScanPathOptions& options = {});

/// Jittered grid: rows and columns of lines d px apart (coverage ~ 2/d - 1/d^2),
/// each line's perpendicular offset a random walk with momentum (bounded to
/// +-d/2); horizontal lines scanned first (serpentine), then vertical lines.
ScanPath grid_path(int64_t height, int64_t width, const ScanPathOptions& options = {});

/// Every n-th row, scanned left to right (n from `every`, or round(1 / coverage)).
ScanPath lines_path(int64_t height, int64_t width, const ScanPathOptions& options = {});

/// round(coverage * H * W) distinct pixels drawn uniformly (seeded), in raster order.
ScanPath random_path(int64_t height, int64_t width, const ScanPathOptions& options = {});

/// Builds a path by kind ("spiral", "grid", "lines", "random"); ConfigError on another name.
ScanPath make_path(const std::string& kind, int64_t height, int64_t width,
                   const ScanPathOptions& options = {});

/// The path kinds make_path knows.
extern const std::vector<std::string> kPathKinds;

/// The sampling mask: float32 `[H, W]`, 1 at every pixel a probe samples, else 0.
/// ConfigError naming the probe when a position lies outside the frame
/// (beyond -0.5 .. side - 0.5).
torch::Tensor path_mask(const ScanPath& path);

/// Fraction of pixels of a mask `[..., H, W]` that are > 0.5 (over the whole tensor).
double mask_coverage(const torch::Tensor& mask);

/// Gaussian blur of a mask `[H, W]` (beam spread, `sigma` px > 0), rescaled so its
/// maximum is 1; float32 `[H, W]` in [0, 1], on the mask's device.
torch::Tensor blur_mask(const torch::Tensor& mask, double sigma);

/// Writes the probe positions as CSV "index,x,y" (px), atomically.
void write_positions_csv(const fs::path& path, const ScanPath& path_data);

/// A rasterised acquisition: partial scan and mask, both float32 `[H, W]`.
struct Rasterised {
  torch::Tensor scan;  ///< mean intensity of the probes of each sampled pixel, 0 elsewhere
  torch::Tensor mask;  ///< 1 where at least one probe fell, else 0
  int64_t probes = 0;  ///< rows read
};

/// Reads a CSV of probe positions and intensities (a header naming the columns
/// "x", "y" and "intensity" — "value" or "signal" also accepted — in any order,
/// other columns ignored) and rasterises it into a `height` x `width` frame.
/// IoError naming the file and line for a missing column, a bad number or a
/// position outside the frame; ConfigError for an empty file.
Rasterised rasterise_csv(const fs::path& csv, int64_t height, int64_t width);

/// A binary sampling mask from a weighted one (e.g. an anti-aliased path whose pixels
/// hold the fraction of the pixel the path covers): a 0/1 mask is returned as it is;
/// otherwise the K pixels of largest weight, K = round(sum of the weights) (the
/// number of pixel-equivalents sampled), so the coverage equals the mean weight.
/// float32 `[H, W]` 0/1 on the input's device.
torch::Tensor binarize_mask(const torch::Tensor& mask);

/// Checks a scan and a mask for restoration: same `[H, W]` size (any leading dims
/// of size 1 allowed) and at least one sampled pixel in every image. `what` names the
/// files in the messages (ConfigError).
void check_scan_and_mask(const torch::Tensor& scan, const torch::Tensor& mask, const std::string& what);

}  // namespace emgan::restore
