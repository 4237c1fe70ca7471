#pragma once
/// \file restorer.h
/// The partial-scan STEM restorer of Ede & Beanland (Sci. Rep. 10, 8332, 2020) and its
/// multi-scale crop discriminators.
///
/// Generator (RestorerImpl): input `[N, 2, H, W]` = (partial scan, path mask), H and W
/// divisible by stride(). Two stages:
/// - inner network at half resolution: the input average-pooled 2x, a 5x5 conv to
///   inner_widths[0], stride-2 3x3 convs to inner_widths[1..], residual blocks at the
///   bottom, 4x4 stride-2 transposed convs back up (additive skips from the encoder);
/// - ancillary trainer head: two convs turning the inner features into a half-size
///   restoration `[N, 1, H/2, W/2]` with its own loss (stabilises training; unused at
///   inference);
/// - outer network at full resolution: a 5x5 conv to outer_width, a stride-2 conv
///   to 2 outer_width, concatenated with the inner features, residual blocks, a
///   transposed conv back to full resolution (additive skip) and a 5x5 conv to one
///   channel with a linear output.
/// Residual mode (`residual`): the last input channel is a base estimate (e.g. a
/// classical interpolation); the outputs are base + network and base average-pooled
/// 2x + ancillary head. The final conv of both heads starts at zero (weight-norm
/// magnitude g = 0, bias 0), so an untrained restorer returns the base exactly.
/// Every conv is weight-normalised (option) and followed by LeakyReLU(slope), except
/// the output convs. Ede's widths: inner {64, 128, 256, 512, 768}, outer 64.
///
/// Discriminator (CropDiscriminatorImpl): one small spectrally normalised conv net per
/// scale; each sees a square crop of the same location whose side is a fraction of
/// the image side (Ede: 70, 140, 280 px of 512), resized to `size` px; outputs one
/// score per image and scale (least-squares GAN loss).
#include <torch/torch.h>

#include <array>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::models {

/// Settings of the restorer (widths and depths configurable; tests use tiny ones).
struct RestorerOptions {
  int64_t in_channels = 2;                           ///< partial scan + path mask
  std::vector<int64_t> inner_widths = {64, 128, 256, 512, 768};  ///< first: 5x5 conv; then one stride-2 conv each
  int64_t inner_res_blocks = 3;                      ///< residual blocks at the bottom of the inner network
  int64_t outer_width = 64;                          ///< width of the full-resolution stage
  int64_t outer_res_blocks = 3;                      ///< residual blocks of the outer network (at half resolution)
  double slope = 0.1;                                ///< LeakyReLU negative slope
  bool weight_norm = true;                           ///< weight-normalise every conv
  /// Last input channel = base estimate; outputs = base + network, output convs
  /// zero-initialised (see the file comment). Needs in_channels >= 2.
  bool residual = false;
  /// Throws ConfigError naming the field when a width is < 1 or a count < 0.
  void validate() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RestorerOptions, in_channels, inner_widths, inner_res_blocks,
                                                outer_width, outer_res_blocks, slope, weight_norm,
                                                residual)

/// Both outputs of the restorer.
struct RestorerOutput {
  torch::Tensor full;  ///< `[N, 1, H, W]` restoration, linear output
  torch::Tensor half;  ///< `[N, 1, H/2, W/2]` ancillary restoration (trainer head)
};

/// Ede's two-stage multi-scale generator (see the file comment).
class RestorerImpl : public torch::nn::Module {
 public:
  explicit RestorerImpl(RestorerOptions options = {});
  /// `x` `[N, in_channels, H, W]`, H and W divisible by stride() (ConfigError otherwise).
  RestorerOutput forward_both(const torch::Tensor& x);
  /// The full-resolution restoration only, `[N, 1, H, W]`.
  torch::Tensor forward(const torch::Tensor& x);
  /// Side divisibility the input needs: 2 * 2^(inner_widths.size() - 1).
  int64_t stride() const;
  RestorerOptions options;

 private:
  std::vector<torch::nn::Sequential> down_;  // inner encoder; down_[0] is the 5x5 conv
  torch::nn::ModuleList inner_res_;
  std::vector<torch::nn::Sequential> up_;    // inner decoder (transposed convs)
  torch::nn::Sequential aux_{nullptr};
  torch::nn::Sequential outer_in_{nullptr}, outer_down_{nullptr}, outer_merge_{nullptr};
  torch::nn::ModuleList outer_res_;
  torch::nn::Sequential outer_up_{nullptr}, outer_out_{nullptr};
};
TORCH_MODULE(Restorer);

/// Settings of the multi-scale crop discriminator.
struct CropDiscriminatorOptions {
  int64_t in_channels = 1;
  /// Crop sides as fractions of the image side (Ede: 70/512, 140/512, 280/512 of a
  /// 512 image; for training crops the default uses 1/4, 1/2, 1).
  std::vector<double> scales = {0.25, 0.5, 1.0};
  int64_t size = 32;     ///< every crop is resized to size x size px (>= 8)
  int64_t width = 32;    ///< channels of the first conv; doubled per layer up to 8x
  int64_t layers = 3;    ///< stride-2 convs per scale (>= 1)
  double slope = 0.2;    ///< LeakyReLU slope
  /// Throws ConfigError naming the field.
  void validate() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CropDiscriminatorOptions, in_channels, scales, size, width, layers,
                                                slope)

/// Spectrally normalised multi-scale crop discriminators (see the file comment).
class CropDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit CropDiscriminatorImpl(CropDiscriminatorOptions options = {});
  /// Random crop corners (row, column) per scale for images of side `side`, to be
  /// used for both real and restored batches (same locations). Uses torch's global generator.
  std::vector<std::array<int64_t, 2>> sample_corners(int64_t height, int64_t width) const;
  /// Scores `[N, 1]` per scale of the crops of `x` `[N, C, H, W]` at `corners`.
  std::vector<torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::array<int64_t, 2>>& corners);
  /// Crop side in px of scale `k` for an image side `side`.
  int64_t crop_side(size_t k, int64_t side) const;
  CropDiscriminatorOptions options;

 private:
  std::vector<torch::nn::Sequential> nets_;
};
TORCH_MODULE(CropDiscriminator);

/// Writes a restorer into `dir`: restorer.json (kind, options, `meta`) + restorer.pt,
/// atomically per file.
void save_restorer(Restorer& model, const fs::path& dir, const Json& meta = Json::object());

/// A restorer read back with its metadata.
struct LoadedRestorer {
  Restorer model{nullptr};
  Json meta;  ///< what save_restorer was given
};

/// Loads a restorer written by save_restorer from `dir` (or its restorer.json) onto
/// `device`, in eval mode; IoError naming the file when absent or not a restorer.
LoadedRestorer load_restorer(const fs::path& path, const torch::Device& device);

}  // namespace emgan::models
