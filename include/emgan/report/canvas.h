#pragma once
/// \file canvas.h
/// A small raster canvas and a built-in bitmap font, enough for figure labels and
/// charts without any plotting library.
///
/// Coordinates are in pixels, x to the right and y downwards, (0, 0) the top-left
/// corner of the top-left pixel; pixel (i, j) covers [i, i+1) x [j, j+1). Shapes are
/// rasterised on the CPU into coverage masks (anti-aliased lines and markers) and
/// composited onto the canvas with tensor operations on the canvas's device.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emgan/report/display.h"

namespace emgan::report {

/// The bitmap font: every glyph is 5 x 7 pixels (capitals and digits) in a cell of
/// 6 x 9 (one column of spacing, two rows for the descenders of g, j, p, q, y).
/// ASCII 32..126 plus the EM units "Å", "µ", "°" and "±" (UTF-8); any other
/// character is drawn as "?".
namespace font {
constexpr int kGlyphWidth = 5;   ///< ink columns of a glyph, pixels at scale 1
constexpr int kGlyphHeight = 7;  ///< cap height, pixels at scale 1
constexpr int kAdvance = 6;      ///< horizontal advance per character at scale 1
constexpr int kCellHeight = 9;   ///< cap height plus descender rows at scale 1
}  // namespace font

/// Width in pixels of `text` drawn at integer `scale` (>= 1): characters x 6 x scale
/// minus the trailing spacing column; 0 for an empty string.
int64_t text_width(const std::string& text, int scale = 1);

/// Height in pixels of one line of text at `scale`, including descenders (9 x scale).
int64_t text_height(int scale = 1);

/// The ink of `text` as a float mask `[H, W]` in {0, 1} (H = text_height(scale),
/// W = text_width(text, scale)) on the CPU; row 0 is the top of the capitals.
torch::Tensor text_mask(const std::string& text, int scale = 1);

/// Horizontal anchoring of text relative to the x given.
enum class Align { kLeft, kCenter, kRight };

/// Marker shapes for scatter points and legends.
enum class Marker { kCircle, kSquare, kCross, kPlus, kDiamond };

/// An RGB raster image `[3, H, W]` float in [0, 1] with drawing primitives.
class Canvas {
 public:
  /// A `height` x `width` canvas (pixels, >= 1) filled with `background`, on `device`.
  Canvas(int64_t height, int64_t width, Color background = {1.0, 1.0, 1.0},
         torch::Device device = torch::Device(torch::kCPU));

  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  /// The pixels, `[3, H, W]` float32 in [0, 1]; may be modified directly.
  torch::Tensor& pixels() { return pixels_; }
  const torch::Tensor& pixels() const { return pixels_; }

  /// Fills the rectangle [x0, x1) x [y0, y1) (clipped) with `color`, blended with
  /// opacity `alpha` in [0, 1].
  void fill_rect(double x0, double y0, double x1, double y1, Color color, double alpha = 1.0);
  /// Outlines the rectangle [x0, x1) x [y0, y1) with lines `thickness` pixels wide,
  /// drawn inside it.
  void stroke_rect(double x0, double y0, double x1, double y1, Color color, double thickness = 1.0);
  /// An anti-aliased line from (x0, y0) to (x1, y1), `thickness` pixels wide.
  void line(double x0, double y0, double x1, double y1, Color color, double thickness = 1.0);
  /// An anti-aliased polyline through the points (xs[i], ys[i]); a non-finite point
  /// breaks the line (a gap). `dash` > 0 draws dashes of that length (pixels);
  /// `alpha` in [0, 1] is the opacity.
  void polyline(const std::vector<double>& xs, const std::vector<double>& ys, Color color,
                double thickness = 1.0, double dash = 0.0, double alpha = 1.0);
  /// Markers of `size` pixels (diameter) centred on each finite (xs[i], ys[i]).
  void markers(const std::vector<double>& xs, const std::vector<double>& ys, Marker shape,
               double size, Color color);
  /// Draws `text` with its top (cap line) at `y`, anchored at `x` by `align`, with
  /// the bitmap font at integer `scale`. `vertical` rotates it 90 degrees
  /// counter-clockwise (reading upwards); then `x` is the left edge and `y` the
  /// anchor along the text.
  void text(double x, double y, const std::string& text, Color color, int scale = 2,
            Align align = Align::kLeft, bool vertical = false);
  /// Copies an RGB `[3, h, w]` (or grey `[1, h, w]`) image in [0, 1] with its
  /// top-left corner at pixel (x, y), clipped to the canvas; moved to the canvas's
  /// device if needed.
  void paste(const torch::Tensor& image, int64_t x, int64_t y);
  /// Blends `color` through a coverage mask `[h, w]` (values in [0, 1], any device)
  /// placed with its top-left corner at pixel (x, y), clipped to the canvas.
  void blend_mask(const torch::Tensor& mask, int64_t x, int64_t y, Color color, double alpha = 1.0);

  /// Writes the canvas as an 8-bit RGB PNG (see write_png).
  void save_png(const fs::path& path) const;

 private:
  int64_t height_;
  int64_t width_;
  torch::Tensor pixels_;
};

}  // namespace emgan::report
