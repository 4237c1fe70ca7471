#pragma once
/// \file slicegan.h
/// SliceGAN (Kench and Cooper 2021): a 3D generator trained against 2D critics that
/// see slices of the generated volume along x, y and z.
///
/// - Generator: latent `[N, z, l, l, l]` -> volume `[N, C, S, S, S]` through 5
///   transposed 3D convolutions (kernel 4, stride 2, padding 2, 2, 2, 2, 3; channels
///   z -> 512 -> 256 -> 128 -> 64 -> C, the inner widths times `width`), batch norm +
///   ReLU after the first four, then softmax over channels (n-phase: C phases, one
///   channel per phase, values are phase probabilities) or a scaled tanh (grey or
///   colour: (tanh + 1) / 2, values in (0, 1)). S = 2 * (2 * (2 * (2 * (2l - 2) - 2) - 2) - 2) - 4;
///   l = 4 gives the 64-voxel cube of the paper, any larger l a larger volume.
///   Periodic mode: every layer pads its input circularly and crops its output so that
///   the volume tiles space seamlessly (S = 32 l); same weights.
///   Resize variant (`upsample = "resize"`, the default network of SliceGAN's published
///   code, `slicegan_rc_nets`): the fifth transposed convolution is replaced by trilinear
///   upsampling and a 3 x 3 x 3 convolution (with bias), which has no stride pattern
///   (the checkerboard of transposed convolutions). Here the upsampling is exactly 2x
///   and the convolution's output is cropped by one voxel per side, so the volume sizes
///   are those of the transposed generator (SliceGAN's code resizes to 2(s - 1), a
///   factor that depends on the volume size) and every voxel sees the same
///   neighbourhood at any volume size.
/// - Critic: 2D images `[N, C, 64, 64]` -> scores `[N, 1, 1, 1]` through 5 convolutions
///   (kernel 4, stride 2, padding 1, 1, 1, 1, 0; channels C -> 64 -> 128 -> 256 -> 512
///   -> 1, the inner widths times `width`), ReLU between them, no normalisation
///   (WGAN-GP).
/// - volume_slices(): the exact 2D batches the critics see.
#include <torch/torch.h>

#include <string>

#include "emgan/core/config.h"

namespace emgan::models {

/// Options of the SliceGAN generator.
struct SliceGanGeneratorOptions {
  int64_t latent_channels = 32;  ///< z, channels of the latent field (SliceGAN: 32)
  int64_t channels = 3;          ///< output channels: phases (n-phase), 1 (grey) or 3 (colour)
  double width = 1.0;            ///< multiplier of the inner widths 512, 256, 128, 64 (> 0; each >= 1 after rounding)
  std::string output = "softmax";  ///< softmax (n-phase) | tanh (grey/colour, scaled to (0, 1))
  /// Last layer: transposed (the paper's Table 1: a transposed convolution) | resize
  /// (SliceGAN's code default: trilinear 2x upsampling + 3 x 3 x 3 convolution).
  std::string upsample = "transposed";

  /// Throws ConfigError naming the field and its value when out of range.
  void validate() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SliceGanGeneratorOptions, latent_channels, channels,
                                                width, output, upsample)

/// Options of the SliceGAN 2D critic.
struct SliceGanCriticOptions {
  int64_t channels = 3;  ///< input channels (as the generator's output)
  double width = 1.0;    ///< multiplier of the inner widths 64, 128, 256, 512 (> 0)

  /// Throws ConfigError naming the field and its value when out of range.
  void validate() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SliceGanCriticOptions, channels, width)

/// The inner widths 512, 256, 128, 64 (generator) or 64, 128, 256, 512 (critic)
/// scaled by `width`, each at least 1.
int64_t scaled_width(int64_t base, double width);

/// The 3D generator (see the file comment).
class SliceGanGeneratorImpl : public torch::nn::Module {
 public:
  explicit SliceGanGeneratorImpl(SliceGanGeneratorOptions options = {});

  /// z: `[N, latent_channels, l, l, l]` (l >= 1, or any l, m, n for a box) ->
  /// `[N, channels, S, S, S]` with S = output_size(l, periodic). With `periodic`, the
  /// volume is periodic along every axis (its opposite faces join seamlessly).
  torch::Tensor forward(const torch::Tensor& z, bool periodic = false);

  /// Output side for a latent side `l` (>= 1): non-periodic 2(2(2(2(2l-2)-2)-2)-2)-4
  /// (l = 4 -> 64), periodic 32 l.
  static int64_t output_size(int64_t latent_size, bool periodic = false);

  /// The smallest latent side whose output side is >= `size` (>= 1).
  static int64_t latent_size_for(int64_t size, bool periodic = false);

  SliceGanGeneratorOptions options;

 private:
  torch::nn::ModuleList convs_{nullptr};
  torch::nn::ModuleList norms_{nullptr};
  torch::nn::Conv3d resize_conv_{nullptr};  ///< the last layer of the resize variant
};
TORCH_MODULE(SliceGanGenerator);

/// The 2D critic (see the file comment).
class SliceGanCriticImpl : public torch::nn::Module {
 public:
  explicit SliceGanCriticImpl(SliceGanCriticOptions options = {});

  /// x: `[N, channels, 64, 64]` (larger sides give a larger score map; < 64 is a ConfigError) -> `[N, 1, 1, 1]`
  /// unbounded Wasserstein scores.
  torch::Tensor forward(const torch::Tensor& x);

  SliceGanCriticOptions options;

 private:
  torch::nn::ModuleList convs_{nullptr};
};
TORCH_MODULE(SliceGanCritic);

/// All 2D slices of volumes `[N, C, D, H, W]` perpendicular to `axis` (0: along D,
/// "x"; 1: along H, "y"; 2: along W, "z") as one batch: axis 0 gives
/// `[N * D, C, H, W]` with element n * D + i = volume[n, :, i, :, :]; axis 1 gives
/// `[N * H, C, D, W]` with n * H + i = volume[n, :, :, i, :]; axis 2 gives
/// `[N * W, C, D, H]` with n * W + i = volume[n, :, :, :, i]. Differentiable.
torch::Tensor volume_slices(const torch::Tensor& volumes, int64_t axis);

/// `per_volume` distinct random slices of each volume perpendicular to `axis` (a subset
/// of volume_slices(): rows n * per_volume .. n * per_volume + per_volume - 1 are slices
/// of volume n, in random order); `per_volume` <= 0 or >= the volume's side gives all
/// of them, exactly volume_slices(). Differentiable; draws from torch's global generator.
/// SliceGAN feeds its critics every slice; a subset cuts the critics' work in proportion
/// (`slices_per_volume` of generate train).
torch::Tensor random_volume_slices(const torch::Tensor& volumes, int64_t axis, int64_t per_volume);

/// The resize variant's last layer: trilinear upsampling by exactly 2 (align_corners
/// false) of `x` [N, C_in, D, H, W], a 3x3x3 convolution without padding (`weight`
/// [C_out, C_in, 3, 3, 3], `bias` may be undefined), and a crop of one voxel per side:
/// [N, C_out, 2D - 4, 2H - 4, 2W - 4], the sizes of the transposed last layer (kernel 4,
/// padding 3). Periodic: `x` is padded circularly by 2 voxels first and the 2D x 2H x 2W
/// voxels aligned as the non-periodic ones are kept. Computed as one stride-2 transposed
/// convolution whose 6x6x6 kernel is the 3x3x3 one convolved with the upsampling's
/// (emgan::nn::conv_transpose3d); differentiable.
torch::Tensor resize_upsample_conv3d(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias, bool periodic = false);

}  // namespace emgan::models
