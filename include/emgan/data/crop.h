#pragma once
/// \file crop.h
/// Cropping and padding of `[C, H, W]` images (also `[N, C, H, W]` batches: the
/// last two dimensions are the image). Real pairs differ in size (197-259 px a
/// side): training takes random crops of one size, padding images that are smaller;
/// inference pads to a multiple of the network's stride and crops back.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "emgan/data/sample.h"

namespace emgan::data {

/// Padding of the last two dimensions, in pixels.
struct Padding {
  int64_t top = 0;
  int64_t bottom = 0;
  int64_t left = 0;
  int64_t right = 0;
  bool empty() const { return top == 0 && bottom == 0 && left == 0 && right == 0; }
};

/// Pads the last two dimensions of `x` (any rank >= 2). `mode`: "reflect" (mirror
/// without repeating the edge; repeated as often as needed when the padding is
/// larger than the image), "replicate", or "constant" (with `value`, in image units).
/// Throws ConfigError for another mode.
torch::Tensor pad(const torch::Tensor& x, const Padding& padding,
                  const std::string& mode = "reflect", double value = 0.0);

/// Removes `padding` again (inverse of pad).
torch::Tensor unpad(const torch::Tensor& x, const Padding& padding);

/// The padding that brings a `height` x `width` image up to multiples of
/// `multiple` (split evenly, the extra pixel at the bottom/right).
Padding padding_to_multiple(int64_t height, int64_t width, int64_t multiple);

/// Pads to multiples of `multiple` (e.g. 2^depth of a U-Net); returns the padded
/// tensor and fills `applied` with the padding to pass to unpad().
torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple, Padding* applied,
                              const std::string& mode = "reflect", double value = 0.0);

/// Options of random_crop / center_crop.
struct CropOptions {
  /// Crop height and width in pixels (> 0).
  TORCH_ARG(int64_t, height) = 256;
  TORCH_ARG(int64_t, width) = 256;
  /// How an image smaller than the crop is padded first: "reflect", "replicate", "constant".
  TORCH_ARG(std::string, pad_mode) = "reflect";
  /// Fill value of "constant" padding (image units).
  TORCH_ARG(double, pad_value) = 0.0;
};

/// Pads (centred) as needed and crops a random `height` x `width` window of the
/// input; the target gets the same window. Positions are drawn from `gen`.
Sample random_crop(const Sample& sample, const CropOptions& options, torch::Generator& gen);

/// The centred window (padding first as needed), the same for input and target.
Sample center_crop(const Sample& sample, const CropOptions& options);

/// The window of the last two dimensions with top-left corner (`y0`, `x0`) and size
/// `height` x `width` (a view); throws ConfigError when it does not fit inside.
torch::Tensor crop(const torch::Tensor& x, int64_t y0, int64_t x0, int64_t height, int64_t width);

}  // namespace emgan::data
