#include "emgan/models/vae.h"

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/models/dcgan.h"
#include "emgan/nn/conv_transpose.h"

namespace emgan::models {

namespace {
constexpr int64_t kWidths[5] = {32, 64, 128, 256, 512};
int64_t w(int64_t i, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(kWidths[i]) * width)));
}
}  // namespace

void VaeOptions::validate() const {
  EMGAN_CHECK(ConfigError, image_size >= 32 && image_size % 32 == 0, "vae: image_size = ", image_size,
              " must be a multiple of 32 (64, 128, 256)");
  EMGAN_CHECK(ConfigError, channels >= 1, "vae: channels = ", channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, latent >= 1, "vae: latent = ", latent, " must be >= 1");
  EMGAN_CHECK(ConfigError, width > 0.0, "vae: width = ", width, " must be > 0");
  check_choice("vae: output", output, {"softmax", "tanh"});
}

VaeEncoderImpl::VaeEncoderImpl(VaeOptions options_) : options(std::move(options_)) {
  options.validate();
  body_ = register_module("body", torch::nn::Sequential());
  int64_t in = options.channels;
  for (int64_t i = 0; i < 5; ++i) {
    body_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, w(i, options.width), 4).stride(2).padding(1)));
    body_->push_back(torch::nn::BatchNorm2d(w(i, options.width)));
    body_->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)));
    in = w(i, options.width);
  }
  const int64_t s = options.image_size / 32;
  mu_ = register_module("mu", torch::nn::Linear(in * s * s, options.latent));
  logvar_ = register_module("logvar", torch::nn::Linear(in * s * s, options.latent));
}

std::pair<torch::Tensor, torch::Tensor> VaeEncoderImpl::forward(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == options.channels && x.size(2) == options.image_size &&
                               x.size(3) == options.image_size,
              "vae encoder: input of shape ", x.sizes(), " does not match [N, ", options.channels, ", ",
              options.image_size, ", ", options.image_size, "]");
  const auto h = body_->forward(x).flatten(1);
  return {mu_->forward(h), logvar_->forward(h)};
}

VaeDecoderImpl::VaeDecoderImpl(VaeOptions options_) : options(std::move(options_)) {
  options.validate();
  const int64_t s = options.image_size / 32;
  fc_ = register_module("fc", torch::nn::Linear(options.latent, w(4, options.width) * s * s));
  body_ = register_module("body", torch::nn::Sequential());
  body_->push_back(torch::nn::BatchNorm2d(w(4, options.width)));
  body_->push_back(torch::nn::ReLU());
  for (int64_t i = 4; i >= 0; --i) {
    const int64_t out = i > 0 ? w(i - 1, options.width) : options.channels;
    body_->push_back(emgan::nn::FastConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(w(i, options.width), out, 4).stride(2).padding(1)));
    if (i > 0) {
      body_->push_back(torch::nn::BatchNorm2d(out));
      body_->push_back(torch::nn::ReLU());
    }
  }
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z) {
  EMGAN_CHECK(ConfigError, z.dim() == 2 && z.size(1) == options.latent, "vae decoder: latent of shape ", z.sizes(),
              " does not match [N, ", options.latent, "]");
  const int64_t s = options.image_size / 32;
  const auto h = fc_->forward(z).view({z.size(0), w(4, options.width), s, s});
  return generative_output(body_->forward(h), options.output);
}

torch::Tensor kl_divergence(const torch::Tensor& mu, const torch::Tensor& logvar) {
  return (-0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean();
}

}  // namespace emgan::models
