#include "emgan/models/dcgan.h"

#include "emgan/core/error.h"
#include "emgan/nn/conv_transpose.h"
#include "emgan/nn/weight_norms.h"

namespace emgan::models {

int64_t dcgan_layers(int64_t image_size) {
  EMGAN_CHECK(ConfigError, image_size == 64 || image_size == 128 || image_size == 256, "dcgan: image_size = ",
              image_size, " must be 64, 128 or 256");
  int64_t n = 0;
  for (int64_t s = image_size; s > 4; s /= 2) ++n;
  return n;
}

torch::Tensor generative_output(const torch::Tensor& logits, const std::string& output) {
  if (output == "softmax") return torch::softmax(logits, 1);
  return 0.5 * (torch::tanh(logits) + 1.0);
}

void DcganGeneratorOptions::validate() const {
  dcgan_layers(image_size);
  EMGAN_CHECK(ConfigError, latent >= 1, "dcgan generator: latent = ", latent, " must be >= 1");
  EMGAN_CHECK(ConfigError, channels >= 1, "dcgan generator: channels = ", channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, ngf >= 1, "dcgan generator: ngf = ", ngf, " must be >= 1");
  check_choice("dcgan generator: norm", norm, {"batch", "instance"});
  check_choice("dcgan generator: output", output, {"softmax", "tanh"});
  check_choice("dcgan generator: upsample", upsample, {"transposed", "resize"});
}

void DcganDiscriminatorOptions::validate() const {
  dcgan_layers(image_size);
  EMGAN_CHECK(ConfigError, channels >= 1, "dcgan discriminator: channels = ", channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, ndf >= 1, "dcgan discriminator: ndf = ", ndf, " must be >= 1");
}

DcganGeneratorImpl::DcganGeneratorImpl(DcganGeneratorOptions options_) : options(std::move(options_)) {
  options.validate();
  const int64_t n = dcgan_layers(options.image_size);
  body_ = register_module("body", torch::nn::Sequential());
  auto norm = [&](int64_t c) {
    if (options.norm == "batch") return torch::nn::AnyModule(torch::nn::BatchNorm2d(c));
    return torch::nn::AnyModule(torch::nn::InstanceNorm2d(torch::nn::InstanceNorm2dOptions(c).affine(true)));
  };
  int64_t width = options.ngf << (n - 1);
  body_->push_back(emgan::nn::FastConvTranspose2d(torch::nn::ConvTranspose2dOptions(options.latent, width, 4).bias(false)));
  body_->push_back(norm(width));
  body_->push_back(torch::nn::ReLU());
  for (int64_t i = 1; i < n; ++i) {
    const int64_t next = width / 2;
    body_->push_back(
        emgan::nn::FastConvTranspose2d(torch::nn::ConvTranspose2dOptions(width, next, 4).stride(2).padding(1).bias(false)));
    body_->push_back(norm(next));
    body_->push_back(torch::nn::ReLU());
    width = next;
  }
  if (options.upsample == "resize") {
    body_->push_back(torch::nn::Upsample(torch::nn::UpsampleOptions()
                                             .scale_factor(std::vector<double>{2.0, 2.0})
                                             .mode(torch::kBilinear)
                                             .align_corners(false)));
    body_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(width, options.channels, 3)
                                           .padding(1)
                                           .padding_mode(torch::kReplicate)));
  } else {
    body_->push_back(emgan::nn::FastConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(width, options.channels, 4).stride(2).padding(1)));
  }
}

torch::Tensor DcganGeneratorImpl::forward(const torch::Tensor& z) {
  EMGAN_CHECK(ConfigError, z.dim() == 2 && z.size(1) == options.latent, "dcgan generator: latent of shape ",
              z.sizes(), " does not match [N, ", options.latent, "]");
  return generative_output(body_->forward(z.view({z.size(0), options.latent, 1, 1})), options.output);
}

DcganDiscriminatorImpl::DcganDiscriminatorImpl(DcganDiscriminatorOptions options_) : options(std::move(options_)) {
  options.validate();
  const int64_t n = dcgan_layers(options.image_size);
  body_ = register_module("body", torch::nn::Sequential());
  head_ = register_module("head", torch::nn::Sequential());
  auto conv = [&](int64_t in, int64_t out, int64_t stride, int64_t pad) {
    torch::nn::Conv2d c(torch::nn::Conv2dOptions(in, out, 4).stride(stride).padding(pad));
    if (options.spectral_norm) return torch::nn::AnyModule(nn::SpectralNorm(c));
    return torch::nn::AnyModule(c);
  };
  int64_t in = options.channels, width = options.ndf;
  for (int64_t i = 0; i < n; ++i) {
    body_->push_back(conv(in, width, 2, 1));
    if (i > 0 && !options.spectral_norm) body_->push_back(torch::nn::BatchNorm2d(width));
    body_->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)));
    in = width;
    width *= 2;
  }
  head_->push_back(conv(in + (options.minibatch_std ? 1 : 0), 1, 1, 0));
}

torch::Tensor DcganDiscriminatorImpl::features(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == options.channels && x.size(2) == options.image_size &&
                               x.size(3) == options.image_size,
              "dcgan discriminator: input of shape ", x.sizes(), " does not match [N, ", options.channels, ", ",
              options.image_size, ", ", options.image_size, "]");
  return body_->forward(x);
}

torch::Tensor DcganDiscriminatorImpl::forward(const torch::Tensor& x) {
  auto f = features(x);
  if (options.minibatch_std) {
    // Population standard deviation over the batch of every feature, averaged: one
    // number per batch, broadcast as an extra channel (sqrt of var + eps: finite
    // gradients for a batch of one or of identical images).
    const auto sd = (f.var(0, /*unbiased=*/false) + 1e-8).sqrt().mean();
    f = torch::cat({f, sd.expand({f.size(0), 1, f.size(2), f.size(3)})}, 1);
  }
  return head_->forward(f);
}

}  // namespace emgan::models
