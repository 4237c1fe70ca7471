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

torch::Tensor resize_upsample_conv2d(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias) {
  EMGAN_CHECK(ConfigError,
              x.dim() == 4 && weight.dim() == 4 && weight.size(1) == x.size(1) &&
                  weight.size(2) == 3 && weight.size(3) == 3,
              "resize_upsample_conv2d: input ", x.sizes(), " and weight ", weight.sizes(),
              " do not match [N, C_in, H, W] and [C_out, C_in, 3, 3]");
  // Bilinear 2x upsampling (align_corners false) is a stride-2 transposed convolution with
  // h = (1/4, 3/4, 3/4, 1/4) per axis, except at its clamped border pixels. With x's
  // border replicated once, the upsampled map's pixels 1 .. 2(H + 2) - 2 are exactly the
  // upsampling of x with one replicated pixel per side, the padding the convolution needs.
  // The 3x3 cross-correlation w after it makes one transposed convolution with the 6x6
  // kernel flip(w) (*) h; padding 4 keeps the 2H x 2W centre.
  const int64_t c_out = weight.size(0), c_in = weight.size(1);
  const auto kernel = nn::resize_conv_kernel(weight);
  // Replication by concatenation: its backward is a plain sum, cheaper on the CPU than
  // replication padding's.
  const int64_t rows = x.size(2), cols = x.size(3);
  auto padded = torch::cat({x.narrow(2, 0, 1), x, x.narrow(2, rows - 1, 1)}, 2);
  padded = torch::cat({padded.narrow(3, 0, 1), padded, padded.narrow(3, cols - 1, 1)}, 3);
  return nn::conv_transpose2d(
      padded, kernel, bias, torch::nn::ConvTranspose2dOptions(c_in, c_out, 6).stride(2).padding(4));
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
    resize_conv_ = register_module(
        "resize_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, options.channels, 3)));
  } else {
    body_->push_back(emgan::nn::FastConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(width, options.channels, 4).stride(2).padding(1)));
  }
}

torch::Tensor DcganGeneratorImpl::forward(const torch::Tensor& z) {
  EMGAN_CHECK(ConfigError, z.dim() == 2 && z.size(1) == options.latent, "dcgan generator: latent of shape ",
              z.sizes(), " does not match [N, ", options.latent, "]");
  auto x = body_->forward(z.view({z.size(0), options.latent, 1, 1}));
  if (resize_conv_) x = resize_upsample_conv2d(x, resize_conv_->weight, resize_conv_->bias);
  return generative_output(x, options.output);
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
