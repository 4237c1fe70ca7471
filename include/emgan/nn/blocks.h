#pragma once
/// \file blocks.h
/// Building blocks of the image-to-image networks: norm and activation layers chosen
/// by name, a convolution block (conv -> norm -> activation -> dropout), an up-sampling
/// block (transposed conv, or nearest-neighbour upsample + conv), TensorFlow-style
/// "same" padding, and padding of an image up to a multiple of a network's stride.
///
/// All tensors are `[N, C, H, W]` (volumes `[N, C, D, H, W]` where noted); values are
/// whatever the caller feeds (no range assumed), unitless network activations.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace emgan::nn {

/// Normalisation layer names accepted everywhere a `norm` option appears.
extern const std::vector<std::string> kNormNames;  // batch, instance, none
/// Activation names accepted everywhere an `activation` option appears.
extern const std::vector<std::string> kActivationNames;  // relu, leaky_relu, tanh, sigmoid, none

/// Throws ConfigError unless `norm` is one of kNormNames; `what` names the option.
void check_norm(const std::string& what, const std::string& norm);
/// Throws ConfigError unless `activation` is one of kActivationNames.
void check_activation(const std::string& what, const std::string& activation);

/// A norm layer over `channels` feature maps: "batch" -> BatchNorm{2,3}d (affine,
/// running statistics; `momentum` as in PyTorch, i.e. 1 - Keras' momentum), "instance"
/// -> InstanceNorm{2,3}d (no affine parameters, no running statistics, as pix2pix),
/// "none" -> Identity. `dims` is 2 for images, 3 for volumes.
torch::nn::AnyModule make_norm(const std::string& norm, int64_t channels, int dims = 2,
                               double momentum = 0.1, double eps = 1e-5);

/// An activation layer: "relu", "leaky_relu" (negative `slope`), "tanh", "sigmoid",
/// "none" (Identity).
torch::nn::AnyModule make_activation(const std::string& activation, double slope = 0.2);

/// Applies the named activation functionally (same names as make_activation).
torch::Tensor apply_activation(const torch::Tensor& x, const std::string& activation,
                               double slope = 0.2);

/// Pads the last two dimensions of `x` ([N, C, H, W]) with zeros as TensorFlow's
/// padding='same' does for a convolution of `kernel_size` and `stride`: the output
/// has ceil(H / stride) x ceil(W / stride) pixels, the odd pixel of padding goes to
/// the bottom/right.
torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel_size, int64_t stride);

/// Where an image sits inside its padded version (see pad_to_multiple).
struct PadBox {
  int64_t top = 0;     ///< rows added above, pixels
  int64_t left = 0;    ///< columns added on the left, pixels
  int64_t height = 0;  ///< original height, pixels
  int64_t width = 0;   ///< original width, pixels
};

/// Pads `x` ([N, C, H, W]) so that H and W become multiples of `multiple`, split
/// evenly between both sides (the odd pixel at the bottom/right), by reflection
/// (repeated when the padding exceeds the image; replication for 1-pixel images).
/// The padded size is also at least `min_size` (rounded up to the multiple).
/// Returns the padded tensor; `box` receives where the original lies.
torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple, PadBox* box, int64_t min_size = 1);

/// Crops `y` ([N, C, H', W'], the same spatial size as the padded input) back to `box`.
torch::Tensor crop_to_box(const torch::Tensor& y, const PadBox& box);

/// Options of ConvBlock: conv -> norm -> activation -> dropout (or conv -> activation
/// -> norm -> dropout with activation_first, the Keras pix2pix order).
struct ConvBlockOptions {
  ConvBlockOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  /// Input channels (>= 1).
  TORCH_ARG(int64_t, in_channels);
  /// Output channels (>= 1).
  TORCH_ARG(int64_t, out_channels);
  /// Square kernel size in pixels (>= 1).
  TORCH_ARG(int64_t, kernel_size);
  /// Stride in pixels (>= 1).
  TORCH_ARG(int64_t, stride) = 1;
  /// Padding per side in pixels; -1 = TensorFlow "same" padding (output =
  /// ceil(input / stride), zeros, odd pixel at the end).
  TORCH_ARG(int64_t, padding) = -1;
  /// How explicit padding (padding >= 0) is filled: "zeros", "reflect", "replicate".
  TORCH_ARG(std::string, padding_mode) = "zeros";
  /// Norm layer: "batch", "instance", "none".
  TORCH_ARG(std::string, norm) = "batch";
  /// Batch norm momentum (PyTorch convention: weight of the new batch statistics).
  TORCH_ARG(double, norm_momentum) = 0.1;
  /// Batch/instance norm epsilon.
  TORCH_ARG(double, norm_eps) = 1e-5;
  /// Activation: "relu", "leaky_relu", "tanh", "sigmoid", "none".
  TORCH_ARG(std::string, activation) = "relu";
  /// Negative slope of leaky_relu.
  TORCH_ARG(double, slope) = 0.2;
  /// true: activation before the norm (Keras pix2pix); false: norm then activation.
  TORCH_ARG(bool, activation_first) = false;
  /// Dropout probability after the block, in [0, 1).
  TORCH_ARG(double, dropout) = 0.0;
  /// Wrap the convolution in SpectralNorm.
  TORCH_ARG(bool, spectral_norm) = false;
  /// Convolution bias; unset = bias unless the norm is "batch" (which cancels it).
  TORCH_ARG(c10::optional<bool>, bias) = c10::nullopt;
};

/// Conv2d (optionally spectrally normalised) + norm + activation + dropout.
/// Children: "conv" (Conv2d or SpectralNorm), "norm", "act", "drop" (each only when
/// present). Input [N, in_channels, H, W] -> [N, out_channels, H', W'].
class ConvBlockImpl : public torch::nn::Module {
 public:
  explicit ConvBlockImpl(ConvBlockOptions options);
  torch::Tensor forward(torch::Tensor x);
  ConvBlockOptions options;

 private:
  torch::nn::AnyModule conv_, norm_, act_, drop_;
};
TORCH_MODULE(ConvBlock);

/// Options of DeconvBlock: up-sampling by `scale`, then norm/activation/dropout as in
/// ConvBlock.
struct DeconvBlockOptions {
  DeconvBlockOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  /// Input channels (>= 1).
  TORCH_ARG(int64_t, in_channels);
  /// Output channels (>= 1).
  TORCH_ARG(int64_t, out_channels);
  /// Square kernel size in pixels (>= 1).
  TORCH_ARG(int64_t, kernel_size);
  /// Up-sampling factor (>= 1): output is scale x the input size.
  TORCH_ARG(int64_t, scale) = 2;
  /// "transposed": ConvTranspose2d with stride `scale` and padding chosen so the output
  /// is exactly scale x the input; "upsample": nearest-neighbour upsample then a
  /// stride-1 conv with "same" padding (no checkerboard artefacts).
  TORCH_ARG(std::string, mode) = "transposed";
  /// Norm layer: "batch", "instance", "none".
  TORCH_ARG(std::string, norm) = "batch";
  /// Batch norm momentum (PyTorch convention).
  TORCH_ARG(double, norm_momentum) = 0.1;
  /// Batch/instance norm epsilon.
  TORCH_ARG(double, norm_eps) = 1e-5;
  /// Activation: "relu", "leaky_relu", "tanh", "sigmoid", "none".
  TORCH_ARG(std::string, activation) = "relu";
  /// Negative slope of leaky_relu.
  TORCH_ARG(double, slope) = 0.2;
  /// true: activation before the norm; false: norm then activation.
  TORCH_ARG(bool, activation_first) = false;
  /// Dropout probability after the block, in [0, 1).
  TORCH_ARG(double, dropout) = 0.0;
  /// Wrap the convolution in SpectralNorm.
  TORCH_ARG(bool, spectral_norm) = false;
  /// Convolution bias; unset = bias unless the norm is "batch".
  TORCH_ARG(c10::optional<bool>, bias) = c10::nullopt;
};

/// Up-sampling block. Children: "conv" (ConvTranspose2d, Conv2d or SpectralNorm),
/// "norm", "act", "drop". Input [N, in_channels, H, W] -> [N, out_channels, sH, sW].
class DeconvBlockImpl : public torch::nn::Module {
 public:
  explicit DeconvBlockImpl(DeconvBlockOptions options);
  torch::Tensor forward(torch::Tensor x);
  DeconvBlockOptions options;

 private:
  torch::nn::AnyModule conv_, norm_, act_, drop_;
};
TORCH_MODULE(DeconvBlock);

}  // namespace emgan::nn
