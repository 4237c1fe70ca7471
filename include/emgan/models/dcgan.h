#pragma once
/// \file dcgan.h
/// DCGAN (Radford et al. 2016) for 2D microstructure images of 64, 128 or 256 px.
/// - Generator: latent `[N, latent]` -> `[N, C, S, S]`: a 4 x 4 transposed
///   convolution from the latent vector, then log2(S) - 2 transposed convolutions
///   (kernel 4, stride 2, padding 1) halving the width down to `ngf`, norm (batch or
///   instance) + ReLU between them; softmax over channels (n-phase) or (tanh + 1) / 2
///   (grey/colour, values in (0, 1)). The last layer may instead be a resize
///   convolution (`upsample = "resize"`).
/// - Discriminator: `[N, C, S, S]` -> logits `[N, 1, 1, 1]`: log2(S) - 2 convolutions
///   (kernel 4, stride 2, padding 1) doubling the width from `ndf`, LeakyReLU 0.2,
///   spectral normalisation on every convolution (default) or batch norm after all
///   but the first, then (optionally) a minibatch standard deviation channel and a
///   4 x 4 convolution to one logit. features() gives the activations before that
///   last convolution (used by VAE-GAN).
#include <torch/torch.h>

#include <string>

#include "emgan/core/config.h"

namespace emgan::models {

/// Options of the DCGAN generator.
struct DcganGeneratorOptions {
  int64_t image_size = 64;          ///< S: 64, 128 or 256
  int64_t latent = 32;              ///< latent vector length (materials DCGANs: S / 2)
  int64_t channels = 1;             ///< output channels (phases, 1 grey, 3 colour)
  int64_t ngf = 64;                 ///< width of the last hidden layer (doubles towards the latent)
  std::string norm = "batch";       ///< batch | instance
  std::string output = "tanh";      ///< softmax (n-phase) | tanh (scaled to (0, 1))
  /// Last layer: transposed (DCGAN's: kernel 4, stride 2) | resize (bilinear 2x
  /// upsampling, then a 3 x 3 convolution with replicated borders: every output pixel
  /// sees the same taps, so no stride-2 checkerboard; Odena et al. 2016).
  std::string upsample = "transposed";
  void validate() const;            ///< ConfigError naming the field and value
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DcganGeneratorOptions, image_size, latent, channels,
                                                ngf, norm, output, upsample)

/// Options of the DCGAN discriminator.
struct DcganDiscriminatorOptions {
  int64_t image_size = 64;          ///< S: 64, 128 or 256
  int64_t channels = 1;             ///< input channels
  int64_t ndf = 64;                 ///< width of the first layer (doubles each layer)
  bool spectral_norm = true;        ///< spectral normalisation (else batch norm after the first layer)
  /// Minibatch standard deviation (Karras et al. 2018): before the last convolution, one
  /// more channel holding the mean over features of their standard deviation across the
  /// batch, so the discriminator sees how alike the images of a batch are (a batch of
  /// collapsed fakes is easy to tell from a real batch). features() is unchanged.
  bool minibatch_std = false;
  void validate() const;            ///< ConfigError naming the field and value
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DcganDiscriminatorOptions, image_size, channels,
                                                ndf, spectral_norm, minibatch_std)

/// The DCGAN generator; also the decoder of the VAE-GAN.
class DcganGeneratorImpl : public torch::nn::Module {
 public:
  explicit DcganGeneratorImpl(DcganGeneratorOptions options = {});
  /// z: `[N, latent]` -> `[N, channels, S, S]`.
  torch::Tensor forward(const torch::Tensor& z);
  DcganGeneratorOptions options;

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Conv2d resize_conv_{nullptr};  ///< the last layer of the resize variant
};
TORCH_MODULE(DcganGenerator);

/// The DCGAN discriminator.
class DcganDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DcganDiscriminatorImpl(DcganDiscriminatorOptions options = {});
  /// x: `[N, channels, S, S]` -> logits `[N, 1, 1, 1]`.
  torch::Tensor forward(const torch::Tensor& x);
  /// x -> the activations `[N, ndf * 2^(L-1), 4, 4]` before the last convolution.
  torch::Tensor features(const torch::Tensor& x);
  DcganDiscriminatorOptions options;

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Sequential head_{nullptr};
};
TORCH_MODULE(DcganDiscriminator);

/// Number of stride-2 layers of a DCGAN of side S (64 -> 4, 128 -> 5, 256 -> 6).
int64_t dcgan_layers(int64_t image_size);

/// The resize variant's last layer: bilinear upsampling by exactly 2 (align_corners false)
/// of `x` [N, C_in, H, W], then a 3x3 convolution (`weight` [C_out, C_in, 3, 3], `bias` may
/// be undefined) over the upsampled map with replicated borders: [N, C_out, 2H, 2W].
/// Computed as one stride-2 transposed convolution of `x` (its border pixels replicated
/// once) with the 6x6 kernel flip(w) (*) (1/4, 3/4, 3/4, 1/4)^2 (emgan::nn::conv_transpose2d):
/// equal to the two steps, without the 4x larger map; differentiable.
torch::Tensor resize_upsample_conv2d(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias);

/// Applies the chosen output activation over channels: softmax (dim 1) or (tanh + 1) / 2.
torch::Tensor generative_output(const torch::Tensor& logits, const std::string& output);

}  // namespace emgan::models
