#pragma once
/// \file display.h
/// From measured values to pixels: contrast windows, colormaps and PNG output.
///
/// Everything here is tensor arithmetic on the device of the input (so images from
/// a model on the GPU are windowed there); only write_png copies to the CPU for
/// encoding. Display images are RGB `[3, H, W]` float tensors with values in [0, 1].
#include <torch/types.h>

#include <array>
#include <string>

#include "emgan/core/fs.h"

namespace emgan::report {

/// An RGB colour, each component in [0, 1].
struct Color {
  double r = 0.0;
  double g = 0.0;
  double b = 0.0;
  /// A colour from 8-bit components (0..255).
  static Color from_rgb8(int r, int g, int b);
  /// A colour from "#rrggbb"; throws ConfigError for another form.
  static Color from_hex(const std::string& hex);
  /// "#rrggbb" of this colour.
  std::string hex() const;
};

/// Colours used by the charts; palette(i) cycles through ten distinct colours
/// (those of matplotlib's "tab10", known to be legible and distinct).
Color palette(int index);

/// A contrast window: values `lo` map to black (or the low end of a colormap), `hi`
/// to white; both in the unit of the image (e.g. fraction of beam, counts).
struct Window {
  double lo = 0.0;
  double hi = 1.0;
};

/// The `low_percentile`..`high_percentile` window (percent, 0..100) of the finite
/// values of `x` (any shape, any device). Robust to a few hot or dead pixels. A
/// constant image gives a window of width 1 centred on its value; an image without
/// finite values gives [0, 1]. Very large tensors are subsampled with a fixed stride
/// (at most ~4 M values), so the result is deterministic.
Window auto_window(const torch::Tensor& x, double low_percentile = 0.5, double high_percentile = 99.5);

/// A window symmetric around 0, [-m, m] with m the `percentile` (0..100) of |x|;
/// for difference images shown with the diverging colormap. m = 1 when x is all 0.
Window symmetric_window(const torch::Tensor& x, double percentile = 99.5);

/// The window covering several tensors at once: auto_window of all their finite
/// values together (each is subsampled alone). Undefined tensors are skipped.
Window auto_window_of(const std::vector<torch::Tensor>& xs, double low_percentile = 0.5,
                      double high_percentile = 99.5);

/// `(x - lo) / (hi - lo)` clamped to [0, 1], float32, same shape and device as `x`.
/// NaN maps to 0. Throws ConfigError unless hi > lo (both finite).
torch::Tensor to_unit(const torch::Tensor& x, double lo, double hi);

/// The 8-bit display values of `x` in the window [lo, hi]: uint8 tensor (0..255,
/// rounded), same shape and device as `x`. Throws ConfigError unless hi > lo.
torch::Tensor to_display(const torch::Tensor& x, double lo, double hi);

/// Colormaps for scalar images.
enum class Colormap {
  kGrey,       ///< black to white
  kViridis,    ///< perceptually uniform, dark blue to yellow (matplotlib's viridis)
  kDiverging,  ///< blue - white - red (ColorBrewer RdBu reversed); 0.5 is white, for differences centred on 0
};

/// Parses "grey"/"gray", "viridis", "diverging"; throws ConfigError naming the value.
Colormap colormap_from_string(const std::string& name);

/// Maps values in [0, 1] (shape `[H, W]` or `[1, H, W]`, any device; clamped) to an
/// RGB image `[3, H, W]` float in [0, 1] on the same device, by linear interpolation
/// of the colormap's table.
torch::Tensor apply_colormap(const torch::Tensor& unit, Colormap colormap);

/// The RGB display image of a scalar image: window, then colormap. `x` is `[H, W]`
/// or `[1, H, W]`; a `[3, H, W]` input is taken as RGB and only windowed (each
/// channel with the same window). Returns `[3, H, W]` float in [0, 1], same device.
torch::Tensor render_scalar(const torch::Tensor& x, const Window& window, Colormap colormap = Colormap::kGrey);

/// Writes an RGB `[3, H, W]` (or grey `[1, H, W]` / `[H, W]`) image with values in
/// [0, 1] as an 8-bit PNG, atomically (through emgan::io::write_image). The tensor
/// may be on any device; it is converted there and copied to the CPU to encode.
void write_png(const fs::path& path, const torch::Tensor& image);

/// The `[3, H, W]` (or `[1, H, W]`) float [0, 1] image as a `[C, H, W]` uint8 CPU
/// tensor, rounded; what write_png encodes.
torch::Tensor to_uint8_cpu(const torch::Tensor& image);

}  // namespace emgan::report
