#pragma once
/// \file discriminators.h
/// Discriminators: the pix2pix PatchGAN (NLayerDiscriminator, optionally spectrally
/// normalised), a multi-scale wrapper (pix2pixHD), and the Keras PatchGAN of
/// Lawrence et al. 2020. Input: [N, in_channels, H, W], for pix2pix the concatenated
/// (input, output) pair. Output: logits maps [N, 1, h, w].
#include "emgan/models/model.h"
#include "emgan/nn/blocks.h"

namespace emgan::models {

/// Options of PatchGANDiscriminator; defaults are pix2pix's `basic` (70x70 patches)
/// for one grey input and one grey output channel.
struct PatchGANOptions {
  /// Input channels (pix2pix: input + output channels).
  TORCH_ARG(int64_t, in_channels) = 2;
  /// Feature maps of the first layer.
  TORCH_ARG(int64_t, ndf) = 64;
  /// Stride-2 convolutions (pix2pix n_layers; 3 = the 70x70 PatchGAN), followed by
  /// two stride-1 convolutions (the last one to 1 channel).
  TORCH_ARG(int64_t, n_layers) = 3;
  /// Kernel size, pixels (pix2pix: 4, padding 1).
  TORCH_ARG(int64_t, kernel_size) = 4;
  /// "batch", "instance" or "none"; convolutions have a bias unless "batch".
  TORCH_ARG(std::string, norm) = "batch";
  /// Wrap every convolution in nn::SpectralNorm (usually with norm "none").
  TORCH_ARG(bool, spectral_norm) = false;
  /// Weight initialisation (nn::init_weights).
  TORCH_ARG(std::string, init) = "normal";
  /// Gain / standard deviation of the initialisation.
  TORCH_ARG(double, init_gain) = 0.02;
};
void to_json(Json& j, const PatchGANOptions& o);
void from_json(const Json& j, PatchGANOptions& o);

/// pix2pix NLayerDiscriminator; child "model" is the Sequential of networks.py
/// [Conv, LeakyReLU, (Conv, Norm, LeakyReLU) x n_layers, Conv]. With spectral_norm
/// each Conv is an nn::SpectralNorm (names weight_orig, weight_u, weight_v, bias).
/// With kernel 4 the output has floor(H / 2^n_layers) - 2 rows (each stride-2 layer
/// halves, rounding down; each stride-1 layer removes one), likewise for W.
class PatchGANDiscriminatorImpl : public Discriminator {
 public:
  explicit PatchGANDiscriminatorImpl(PatchGANOptions options = {});
  std::vector<torch::Tensor> forward(torch::Tensor x) override;
  std::string arch() const override { return "patchgan"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.in_channels(); }
  /// The single logits map.
  torch::Tensor logits(const torch::Tensor& x);
  PatchGANOptions options;
  torch::nn::Sequential model{nullptr};
};
TORCH_MODULE(PatchGANDiscriminator);

/// Options of MultiScaleDiscriminator.
struct MultiScaleOptions {
  /// Number of scales (>= 1); scale s sees the input down-sampled s times.
  TORCH_ARG(int64_t, n_scales) = 3;
  /// Options of the PatchGAN used at each scale.
  TORCH_ARG(PatchGANOptions, patchgan) = {};
};
void to_json(Json& j, const MultiScaleOptions& o);
void from_json(const Json& j, MultiScaleOptions& o);

/// One PatchGAN per scale (children "scale0", "scale1", ...), the input down-sampled
/// between scales by average pooling 3x3, stride 2, padding 1, not counting the
/// padding (as pix2pixHD). Returns the logits maps, finest scale first.
class MultiScaleDiscriminatorImpl : public Discriminator {
 public:
  explicit MultiScaleDiscriminatorImpl(MultiScaleOptions options = {});
  std::vector<torch::Tensor> forward(torch::Tensor x) override;
  std::string arch() const override { return "multiscale_patchgan"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.patchgan().in_channels(); }
  MultiScaleOptions options;

 private:
  std::vector<PatchGANDiscriminator> scales_;
};
TORCH_MODULE(MultiScaleDiscriminator);

/// Options of Lawrence2020Discriminator (Keras-GAN pix2pix discriminator).
struct Lawrence2020PatchGANOptions {
  /// Input channels: the concatenated (convolution, multislice) pair.
  TORCH_ARG(int64_t, in_channels) = 2;
  /// Feature maps of the first layer; layer i has ndf * min(2^i, 8).
  TORCH_ARG(int64_t, ndf) = 64;
  /// Stride-2 convolution layers.
  TORCH_ARG(int64_t, n_layers) = 4;
  /// Kernel size of every convolution ('same' padding).
  TORCH_ARG(int64_t, kernel_size) = 4;
  /// "batch", "instance" or "none" (none on the first layer in any case).
  TORCH_ARG(std::string, norm) = "batch";
  /// Batch norm momentum, PyTorch convention (Keras 0.8 -> 0.2).
  TORCH_ARG(double, norm_momentum) = 0.2;
  /// Norm epsilon (Keras default 1e-3).
  TORCH_ARG(double, norm_eps) = 1e-3;
  /// Wrap every convolution in nn::SpectralNorm.
  TORCH_ARG(bool, spectral_norm) = false;
  /// Weight initialisation (nn::init_weights).
  TORCH_ARG(std::string, init) = "normal";
  /// Gain / standard deviation of the initialisation.
  TORCH_ARG(double, init_gain) = 0.02;
};
void to_json(Json& j, const Lawrence2020PatchGANOptions& o);
void from_json(const Json& j, Lawrence2020PatchGANOptions& o);

/// Children "layer0".."layer{n-1}" (nn::ConvBlock: conv stride 2 'same' -> LeakyReLU
/// 0.2 -> norm, none on layer0) and "out" (conv stride 1 'same' to 1 channel).
/// Output [N, 1, ceil(H / 2^n), ceil(W / 2^n)].
class Lawrence2020DiscriminatorImpl : public Discriminator {
 public:
  explicit Lawrence2020DiscriminatorImpl(Lawrence2020PatchGANOptions options = {});
  std::vector<torch::Tensor> forward(torch::Tensor x) override;
  std::string arch() const override { return "lawrence2020_patchgan"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.in_channels(); }
  Lawrence2020PatchGANOptions options;

 private:
  std::vector<nn::ConvBlock> layers_;
  nn::ConvBlock out_{nullptr};
};
TORCH_MODULE(Lawrence2020Discriminator);

}  // namespace emgan::models
