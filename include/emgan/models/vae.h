#pragma once
/// \file vae.h
/// Convolutional variational autoencoder (Kingma and Welling 2014) for 2D images.
/// - Encoder: `[N, C, S, S]` -> (mu, logvar) `[N, latent]` each: 5 convolutions
///   (kernel 4, stride 2, padding 1; widths 32, 64, 128, 256, 512 times `width`),
///   batch norm + LeakyReLU 0.2, then two linear maps of the `[512w, S/32, S/32]` map.
/// - Decoder: `[N, latent]` -> `[N, C, S, S]`: a linear map to `[512w, S/32, S/32]`,
///   then 5 transposed convolutions (kernel 4, stride 2, padding 1) back to C,
///   batch norm + ReLU between them, softmax (n-phase) or (tanh + 1) / 2 output.
#include <torch/torch.h>

#include <string>
#include <utility>

#include "emgan/core/config.h"

namespace emgan::models {

/// Options of the VAE.
struct VaeOptions {
  int64_t image_size = 64;        ///< S, a multiple of 32 (64, 128, 256)
  int64_t channels = 1;           ///< image channels
  int64_t latent = 64;            ///< latent size
  double width = 1.0;             ///< multiplier of the widths 32..512 (> 0)
  std::string output = "tanh";    ///< softmax | tanh (scaled to (0, 1))
  void validate() const;          ///< ConfigError naming the field and value
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(VaeOptions, image_size, channels, latent, width, output)

/// The encoder.
class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(VaeOptions options = {});
  /// x `[N, C, S, S]` -> (mu, logvar), each `[N, latent]`.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);
  VaeOptions options;

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear mu_{nullptr}, logvar_{nullptr};
};
TORCH_MODULE(VaeEncoder);

/// The decoder.
class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(VaeOptions options = {});
  /// z `[N, latent]` -> `[N, C, S, S]`.
  torch::Tensor forward(const torch::Tensor& z);
  VaeOptions options;

 private:
  torch::nn::Linear fc_{nullptr};
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(VaeDecoder);

/// KL(N(mu, exp(logvar)) || N(0, I)) summed over the latent, averaged over the batch; 0-dim.
torch::Tensor kl_divergence(const torch::Tensor& mu, const torch::Tensor& logvar);

}  // namespace emgan::models
