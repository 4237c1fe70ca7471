#pragma once
/// \file morphology.h
/// Binary image analysis with tensor operations (runs on the device of its input):
/// Gaussian smoothing, Otsu threshold, disk dilation/erosion, hole filling,
/// connected components, the Euclidean distance transform and a marker-based
/// watershed on it that splits touching particles.
///
/// Images and masks here are 2-D `[H, W]` tensors: images float (any range), masks
/// bool (true = particle), label images int64 (0 = background, 1..K = particles).
/// Connectivity is 8 (pixels touching by a corner belong to one component).
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "emgan/core/config.h"

namespace emgan::segment {

/// Gaussian blur of an `[H, W]` float image; `sigma` in pixels (0 = unchanged),
/// separable, reflect padding (replicate where the image is smaller than the kernel).
torch::Tensor gaussian_blur(const torch::Tensor& image, double sigma);

/// Otsu's threshold of the finite values of `image` (any shape) over `bins` equal
/// bins between its minimum and maximum: the value separating the two classes with
/// the largest between-class variance. A constant image returns its value.
double otsu_threshold(const torch::Tensor& image, int64_t bins = 256);

/// Dilation of a bool `[H, W]` mask by a disk of `radius` pixels (0 = unchanged).
torch::Tensor dilate(const torch::Tensor& mask, int64_t radius);
/// Erosion by a disk of `radius` pixels; pixels outside the image count as
/// foreground, so particles cut by the border are not eroded from it.
torch::Tensor erode(const torch::Tensor& mask, int64_t radius);
/// Opening (erosion then dilation): removes specks narrower than the disk.
torch::Tensor open(const torch::Tensor& mask, int64_t radius);
/// Closing (dilation then erosion): bridges gaps narrower than the disk.
torch::Tensor close(const torch::Tensor& mask, int64_t radius);

/// Fills the holes of a bool `[H, W]` mask: background regions (8-connected) that do
/// not touch the image border become foreground.
torch::Tensor fill_holes(const torch::Tensor& mask);

/// Connected components (8-connectivity) of a bool `[H, W]` mask: int64 `[H, W]`
/// labels 1..K in raster order of each component's first pixel, 0 = background.
/// `count`, when given, receives K.
torch::Tensor label_components(const torch::Tensor& mask, int64_t* count = nullptr);

/// Relabels an int64 label image to consecutive labels 1..K (0 stays 0), keeping the
/// order of the old labels. `count` receives K.
torch::Tensor relabel_consecutive(const torch::Tensor& labels, int64_t* count = nullptr);

/// Removes the components of `labels` with fewer than `min_area` pixels and relabels
/// the rest consecutively.
torch::Tensor remove_small(const torch::Tensor& labels, int64_t min_area, int64_t* count = nullptr);

/// Grows the particles of an int64 `[H, W]` label image (0 = background) into the
/// background by `steps` pixel layers (3x3 neighbourhoods; where two particles reach
/// one pixel, the larger label wins). Labels already set never change.
torch::Tensor grow_labels(const torch::Tensor& labels, int64_t steps);

/// Euclidean distance (pixels) of every foreground pixel of a bool `[H, W]` mask to
/// the nearest background pixel (0 on background); outside the image counts as
/// background. Exact for distances up to `max_distance` pixels (two separable
/// lower-envelope passes over a window of that half-width); larger distances are
/// clamped to about `max_distance`. float32, same device.
torch::Tensor distance_transform(const torch::Tensor& mask, int64_t max_distance = 64);

/// Settings of the splitting of touching particles.
struct WatershedSettings {
  /// Minimum dynamic of a distance-transform maximum to seed its own particle, px:
  /// two discs whose neck is narrower than their radius minus this are split; larger
  /// values merge more (h-maxima transform).
  double h = 1.5;
  /// Step between the flooding levels, px.
  double level_step = 0.5;
  /// Half-width of the exact distance transform window, px (particles up to about
  /// twice this in diameter are measured exactly).
  int64_t max_distance = 64;
  /// Particles smaller than this many pixels are dropped.
  int64_t min_area = 4;
  /// false: no splitting, the connected components are the particles.
  bool split = true;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WatershedSettings, h, level_step, max_distance, min_area,
                                                split)

/// Regional maxima of `dist` (a distance map, 0 on background) with a dynamic of at
/// least `h`, bool: the regional maxima (connected plateaus) of the h-maxima
/// transform reconstruction_by_dilation(dist - h, dist), on foreground pixels. One
/// connected marker per dome, even when the dome's top value is reached at separate
/// pixels. Components lower than h get no marker.
torch::Tensor h_maxima(const torch::Tensor& dist, double h);

/// Splits a bool `[H, W]` mask into particles: markers are the h-maxima of the
/// distance transform, flooded down level by level within the mask (a watershed of
/// the negated distance); foreground pixels no marker reaches keep their connected
/// component. Returns int64 labels 1..K (consecutive), `count` receives K.
torch::Tensor watershed_split(const torch::Tensor& mask, const WatershedSettings& settings = {},
                              int64_t* count = nullptr);

/// Settings of the built-in rough segmentation (threshold + morphology).
struct RoughMaskSettings {
  /// "otsu" (one global threshold) or "local" (local mean + offset * local std).
  std::string method = "otsu";
  /// Smoothing before thresholding, px (Gaussian sigma; 0 = none).
  double smooth_sigma = 1.0;
  /// Background flattening: the image minus its Gaussian blur of this sigma, px
  /// (0 = none); removes slow support thickness changes.
  double background_sigma = 40.0;
  /// "local": sigma of the local mean and standard deviation, px.
  double local_sigma = 20.0;
  /// "local": threshold = local mean + offset * local std.
  double local_offset = 0.5;
  /// Particles are dark on a bright background (bright-field TEM) instead of bright
  /// (HAADF).
  bool dark_particles = false;
  /// Opening radius, px (removes noise specks; 0 = none).
  int64_t open_radius = 1;
  /// Closing radius, px (0 = none).
  int64_t close_radius = 1;
  /// Fill holes inside particles.
  bool fill = true;
  /// Components smaller than this are dropped, px.
  int64_t min_area = 9;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RoughMaskSettings, method, smooth_sigma, background_sigma,
                                                local_sigma, local_offset, dark_particles, open_radius,
                                                close_radius, fill, min_area)

/// Throws ConfigError naming `source`, the field and its value when out of range.
void validate(const RoughMaskSettings& settings, const std::string& source = "rough");

/// Rough particle mask of an `[H, W]` (or `[1, H, W]`) image: flatten, smooth,
/// threshold, open, close, fill, drop small components. bool `[H, W]`, same device.
torch::Tensor rough_mask(const torch::Tensor& image, const RoughMaskSettings& settings = {});

/// `image` (`[H, W]` or `[C, H, W]`, any range or bit depth) as float `[H, W]` in
/// [0, 1]: channels averaged, then the 0.5 and 99.5 percentiles mapped to 0 and 1
/// and clamped. A constant image becomes 0.
torch::Tensor normalize_image(const torch::Tensor& image);

/// A mask file's content (`[H, W]` or `[C, H, W]`, any values) as bool `[H, W]`:
/// channel 0 above half of its maximum. `binary`, when given, is set to whether the
/// input held at most two distinct values.
torch::Tensor binarize_mask(const torch::Tensor& mask, bool* binary = nullptr);

}  // namespace emgan::segment
