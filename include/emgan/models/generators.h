#pragma once
/// \file generators.h
/// Generators: the pix2pix U-Net, the CycleGAN ResNet generator and the Keras pix2pix
/// of Lawrence et al. 2020. The module trees of UNet and ResNet mirror
/// pytorch-CycleGAN-and-pix2pix's networks.py (parameter names match its state_dict);
/// see docs/MODELS.md.
#include "emgan/models/model.h"
#include "emgan/nn/blocks.h"

namespace emgan::models {

/// Options of UNetGenerator; the defaults are pix2pix's `unet_256` (with 1 channel in
/// and out, as EM images are grey).
struct UNetOptions {
  /// Input image channels.
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Output image channels.
  TORCH_ARG(int64_t, out_channels) = 1;
  /// Number of stride-2 down-samplings (8 = unet_256, 7 = unet_128); inputs are padded
  /// to a multiple of 2^depth pixels.
  TORCH_ARG(int64_t, depth) = 8;
  /// Feature maps of the first level (pix2pix ngf); level i has ngf * min(2^i, max_mult).
  TORCH_ARG(int64_t, ngf) = 64;
  /// Cap of the width multiplier.
  TORCH_ARG(int64_t, max_mult) = 8;
  /// Kernel size of every (transposed) convolution, pixels (>= 2).
  TORCH_ARG(int64_t, kernel_size) = 4;
  /// "batch", "instance" or "none"; convolutions have a bias unless "batch".
  TORCH_ARG(std::string, norm) = "batch";
  /// Dropout probability in the up paths of the `dropout_layers` levels just outside
  /// the innermost one (pix2pix: 0.5 in three).
  TORCH_ARG(double, dropout) = 0.5;
  /// How many levels get dropout (clamped to depth - 2).
  TORCH_ARG(int64_t, dropout_layers) = 3;
  /// Output activation: "tanh", "sigmoid" or "none" (regression in physical units).
  TORCH_ARG(std::string, output_activation) = "tanh";
  /// Weight initialisation (nn::init_weights): normal, xavier, kaiming, orthogonal, default.
  TORCH_ARG(std::string, init) = "normal";
  /// Gain / standard deviation of the initialisation.
  TORCH_ARG(double, init_gain) = 0.02;
};
void to_json(Json& j, const UNetOptions& o);
void from_json(const Json& j, UNetOptions& o);

/// One level of the U-Net (pix2pix UnetSkipConnectionBlock): child "model", a
/// Sequential [LeakyReLU, Conv, Norm, <inner block>, ReLU, ConvTranspose, Norm,
/// (Dropout)] (outermost: [Conv, <inner>, ReLU, ConvTranspose, (Tanh)]; innermost:
/// [LeakyReLU, Conv, ReLU, ConvTranspose, Norm]). Non-outermost levels return
/// cat(x, model(x)) along channels.
class UNetBlockImpl : public torch::nn::Module {
 public:
  UNetBlockImpl(const UNetOptions& o, int64_t level, int64_t outer_nc, int64_t inner_nc, int64_t input_nc,
                std::shared_ptr<UNetBlockImpl> inner);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential model{nullptr};

 private:
  bool outermost_ = false;
};
TORCH_MODULE(UNetBlock);

/// The pix2pix U-Net generator. Child "model" is the outermost UNetBlock.
class UNetGeneratorImpl : public ImageToImage {
 public:
  explicit UNetGeneratorImpl(UNetOptions options = {});
  torch::Tensor forward(torch::Tensor x) override;
  std::string arch() const override { return "unet"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.in_channels(); }
  int64_t out_channels() const override { return options.out_channels(); }
  UNetOptions options;
  UNetBlock model{nullptr};
};
TORCH_MODULE(UNetGenerator);

/// Options of ResNetGenerator; defaults are CycleGAN's `resnet_9blocks` (1 channel).
struct ResNetOptions {
  /// Input image channels.
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Output image channels.
  TORCH_ARG(int64_t, out_channels) = 1;
  /// Feature maps of the first 7x7 convolution.
  TORCH_ARG(int64_t, ngf) = 64;
  /// Residual blocks at the lowest resolution.
  TORCH_ARG(int64_t, n_blocks) = 9;
  /// Stride-2 down-samplings (CycleGAN: 2); inputs are padded to a multiple of 2^this.
  TORCH_ARG(int64_t, n_downsampling) = 2;
  /// "batch", "instance" or "none" (CycleGAN: instance).
  TORCH_ARG(std::string, norm) = "instance";
  /// Dropout probability inside each residual block (0 = none, CycleGAN default).
  TORCH_ARG(double, dropout) = 0.0;
  /// Output activation: "tanh", "sigmoid" or "none".
  TORCH_ARG(std::string, output_activation) = "tanh";
  /// Weight initialisation (nn::init_weights).
  TORCH_ARG(std::string, init) = "normal";
  /// Gain / standard deviation of the initialisation.
  TORCH_ARG(double, init_gain) = 0.02;
};
void to_json(Json& j, const ResNetOptions& o);
void from_json(const Json& j, ResNetOptions& o);

/// A residual block: x + conv_block(x), conv_block = [ReflectionPad(1), Conv3x3, Norm,
/// ReLU, (Dropout), ReflectionPad(1), Conv3x3, Norm].
class ResNetBlockImpl : public torch::nn::Module {
 public:
  ResNetBlockImpl(int64_t dim, const std::string& norm, double dropout, bool bias);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential conv_block{nullptr};
};
TORCH_MODULE(ResNetBlock);

/// The CycleGAN ResNet generator; child "model" is one Sequential as in networks.py.
class ResNetGeneratorImpl : public ImageToImage {
 public:
  explicit ResNetGeneratorImpl(ResNetOptions options = {});
  torch::Tensor forward(torch::Tensor x) override;
  std::string arch() const override { return "resnet"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.in_channels(); }
  int64_t out_channels() const override { return options.out_channels(); }
  ResNetOptions options;
  torch::nn::Sequential model{nullptr};
};
TORCH_MODULE(ResNetGenerator);

/// Options of Lawrence2020Generator, the Keras pix2pix U-Net of Lawrence et al. 2020
/// (conv-to-multislice STEM translation); defaults are the paper's network.
struct Lawrence2020Options {
  /// Input image channels.
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Output image channels.
  TORCH_ARG(int64_t, out_channels) = 1;
  /// Stride-2 down-samplings; inputs are padded to a multiple of 2^depth.
  TORCH_ARG(int64_t, depth) = 7;
  /// Feature maps of the first level; level i has ngf * min(2^i, max_mult).
  TORCH_ARG(int64_t, ngf) = 64;
  /// Cap of the width multiplier.
  TORCH_ARG(int64_t, max_mult) = 8;
  /// Kernel of the down convolutions (stride 2, 'same').
  TORCH_ARG(int64_t, down_kernel) = 7;
  /// Kernel of the up convolutions (after 2x nearest upsampling, stride 1, 'same').
  TORCH_ARG(int64_t, up_kernel) = 4;
  /// Kernel of the final convolution (after the last upsampling).
  TORCH_ARG(int64_t, final_kernel) = 7;
  /// "batch", "instance" or "none" (none on the first down in any case).
  TORCH_ARG(std::string, norm) = "batch";
  /// Batch norm momentum, PyTorch convention (Keras momentum 0.8 -> 0.2).
  TORCH_ARG(double, norm_momentum) = 0.2;
  /// Norm epsilon (Keras default 1e-3).
  TORCH_ARG(double, norm_eps) = 1e-3;
  /// Dropout in the up blocks (Keras-GAN pix2pix: 0).
  TORCH_ARG(double, dropout) = 0.0;
  /// Output activation: "tanh", "sigmoid" or "none" (physical-unit regression).
  TORCH_ARG(std::string, output_activation) = "tanh";
  /// Weight initialisation (nn::init_weights).
  TORCH_ARG(std::string, init) = "normal";
  /// Gain / standard deviation of the initialisation.
  TORCH_ARG(double, init_gain) = 0.02;
};
void to_json(Json& j, const Lawrence2020Options& o);
void from_json(const Json& j, Lawrence2020Options& o);

/// Children: "down0".."down{depth-1}" (nn::ConvBlock: conv stride 2 'same' ->
/// LeakyReLU 0.2 -> norm), "up0".."up{depth-2}" (nn::DeconvBlock, upsample mode: 2x
/// nearest -> conv 'same' -> ReLU -> norm, then concatenated with the skip),
/// "final" (2x nearest upsample -> conv 'same' + output activation).
/// Inputs are reflect-padded to a multiple of 2^depth and cropped back; in training
/// with batch norm and a single image, to at least 2^(depth+1) (batch norm needs more
/// than one value per channel at the innermost level).
class Lawrence2020GeneratorImpl : public ImageToImage {
 public:
  explicit Lawrence2020GeneratorImpl(Lawrence2020Options options = {});
  torch::Tensor forward(torch::Tensor x) override;
  std::string arch() const override { return "lawrence2020"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.in_channels(); }
  int64_t out_channels() const override { return options.out_channels(); }
  Lawrence2020Options options;

 private:
  std::vector<nn::ConvBlock> down_;
  std::vector<nn::DeconvBlock> up_;
  nn::DeconvBlock final_{nullptr};
};
TORCH_MODULE(Lawrence2020Generator);

}  // namespace emgan::models
