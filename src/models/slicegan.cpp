#include "emgan/models/slicegan.h"

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/nn/conv_transpose.h"

namespace emgan::models {

namespace {

constexpr int64_t kGeneratorWidths[4] = {512, 256, 128, 64};
constexpr int64_t kGeneratorPadding[5] = {2, 2, 2, 2, 3};
constexpr int64_t kCriticWidths[4] = {64, 128, 256, 512};
constexpr int64_t kCriticPadding[5] = {1, 1, 1, 1, 0};

/// A generator layer's transposed convolution (kernel 4, stride 2, padding `p`) through
/// emgan::nn::conv_transpose3d (oneDNN on the CPU, ATen elsewhere).
torch::Tensor transposed(const torch::nn::ConvTranspose3dImpl& conv, const torch::Tensor& x,
                         int64_t p) {
  return nn::conv_transpose3d(
      x, conv.weight, conv.bias,
      torch::nn::ConvTranspose3dOptions(conv.weight.size(0), conv.weight.size(1), 4)
          .stride(2)
          .padding(p));
}

/// Circular padding of 2 latent voxels per side, then the transposed convolution
/// without padding, then the crop that keeps one period aligned as the padded
/// (non-periodic) layer would align it: o = 2 i + k - p.
torch::Tensor periodic_transposed(const torch::nn::ConvTranspose3dImpl& conv,
                                  const torch::Tensor& x, int64_t p) {
  namespace F = torch::nn::functional;
  const auto padded = F::pad(x, F::PadFuncOptions({2, 2, 2, 2, 2, 2}).mode(torch::kCircular));
  auto y = transposed(conv, padded, 0);
  const int64_t left = p + 4;
  for (int64_t d = 2; d < 5; ++d) y = y.narrow(d, left, 2 * x.size(d));
  return y;
}

}  // namespace

int64_t scaled_width(int64_t base, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(base) * width)));
}

void SliceGanGeneratorOptions::validate() const {
  EMGAN_CHECK(ConfigError, latent_channels >= 1, "slicegan generator: latent_channels = ", latent_channels,
              " must be >= 1");
  EMGAN_CHECK(ConfigError, channels >= 1, "slicegan generator: channels = ", channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, width > 0.0 && std::isfinite(width), "slicegan generator: width = ", width,
              " must be > 0");
  check_choice("slicegan generator: output", output, {"softmax", "tanh"});
  check_choice("slicegan generator: upsample", upsample, {"transposed", "resize"});
  EMGAN_CHECK(ConfigError, output != "softmax" || channels >= 2, "slicegan generator: output softmax needs >= 2 ",
              "phase channels, got channels = ", channels, " (use output tanh for grey data)");
}

void SliceGanCriticOptions::validate() const {
  EMGAN_CHECK(ConfigError, channels >= 1, "slicegan critic: channels = ", channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, width > 0.0 && std::isfinite(width), "slicegan critic: width = ", width, " must be > 0");
}

SliceGanGeneratorImpl::SliceGanGeneratorImpl(SliceGanGeneratorOptions options_) : options(std::move(options_)) {
  options.validate();
  convs_ = register_module("convs", torch::nn::ModuleList());
  norms_ = register_module("norms", torch::nn::ModuleList());
  int64_t in = options.latent_channels;
  auto add_transposed = [&](int64_t i, int64_t out) {
    convs_->push_back(torch::nn::ConvTranspose3d(torch::nn::ConvTranspose3dOptions(in, out, 4)
                                                     .stride(2)
                                                     .padding(kGeneratorPadding[i])
                                                     .bias(false)));
    in = out;
  };
  for (int64_t i = 0; i < 4; ++i) {
    add_transposed(i, scaled_width(kGeneratorWidths[i], options.width));
    norms_->push_back(torch::nn::BatchNorm3d(in));
  }
  if (options.upsample == "resize")
    resize_conv_ = register_module(
        "resize_conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(in, options.channels, 3)));
  else
    add_transposed(4, options.channels);
}

torch::Tensor SliceGanGeneratorImpl::forward(const torch::Tensor& z, bool periodic) {
  EMGAN_CHECK(ConfigError, z.dim() == 5 && z.size(1) == options.latent_channels, "slicegan generator: latent of shape ",
              z.sizes(), " does not match [N, ", options.latent_channels, ", l, l, l]");
  for (int64_t d = 2; d < 5; ++d)
    EMGAN_CHECK(ConfigError, output_size(z.size(d), periodic) >= 1, "slicegan generator: latent side ", z.size(d),
                " is too small (non-periodic needs >= 3)");
  auto x = z;
  auto transposed_layer = [&](int64_t i) {
    const auto* conv = convs_[i]->as<torch::nn::ConvTranspose3d>();
    x = periodic ? periodic_transposed(*conv, x, kGeneratorPadding[i])
                 : transposed(*conv, x, kGeneratorPadding[i]);
  };
  for (int64_t i = 0; i < 4; ++i) {
    transposed_layer(i);
    x = torch::relu(norms_[i]->as<torch::nn::BatchNorm3d>()->forward(x));
  }
  if (resize_conv_)
    x = resize_upsample_conv3d(x, resize_conv_->weight, resize_conv_->bias, periodic);
  else
    transposed_layer(4);
  if (options.output == "softmax") return torch::softmax(x, 1);
  return 0.5 * (torch::tanh(x) + 1.0);
}

int64_t SliceGanGeneratorImpl::output_size(int64_t latent_size, bool periodic) {
  if (periodic) return 32 * latent_size;
  int64_t s = latent_size;
  for (int64_t i = 0; i < 5; ++i) {
    s = 2 * (s - 1) - 2 * kGeneratorPadding[i] + 4;
    if (s < 1) return 0;
  }
  return s;
}

int64_t SliceGanGeneratorImpl::latent_size_for(int64_t size, bool periodic) {
  EMGAN_CHECK(ConfigError, size >= 1, "slicegan: volume size ", size, " must be >= 1");
  int64_t l = 1;
  while (output_size(l, periodic) < size) ++l;
  return l;
}

SliceGanCriticImpl::SliceGanCriticImpl(SliceGanCriticOptions options_) : options(std::move(options_)) {
  options.validate();
  convs_ = register_module("convs", torch::nn::ModuleList());
  int64_t in = options.channels;
  for (int64_t i = 0; i < 5; ++i) {
    const int64_t out = i < 4 ? scaled_width(kCriticWidths[i], options.width) : 1;
    convs_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 4).stride(2).padding(kCriticPadding[i])));
    in = out;
  }
}

torch::Tensor SliceGanCriticImpl::forward(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == options.channels && x.size(2) >= 64 && x.size(3) >= 64,
              "slicegan critic: input of shape ", x.sizes(), " does not match [N, ", options.channels,
              ", >=64, >=64] (64 x 64 slices give one score each)");
  auto y = x;
  for (int64_t i = 0; i < 5; ++i) {
    y = convs_[i]->as<torch::nn::Conv2d>()->forward(y);
    if (i < 4) y = torch::relu(y);
  }
  return y;
}

torch::Tensor volume_slices(const torch::Tensor& volumes, int64_t axis) {
  EMGAN_CHECK(ConfigError, volumes.dim() == 5, "volume_slices: volumes of shape ", volumes.sizes(),
              " do not match [N, C, D, H, W]");
  EMGAN_CHECK(ConfigError, axis >= 0 && axis <= 2, "volume_slices: axis ", axis, " must be 0, 1 or 2");
  const int64_t n = volumes.size(0), c = volumes.size(1), d = volumes.size(2), h = volumes.size(3),
                w = volumes.size(4);
  if (axis == 0) return volumes.permute({0, 2, 1, 3, 4}).reshape({n * d, c, h, w});
  if (axis == 1) return volumes.permute({0, 3, 1, 2, 4}).reshape({n * h, c, d, w});
  return volumes.permute({0, 4, 1, 2, 3}).reshape({n * w, c, d, h});
}

torch::Tensor resize_upsample_conv3d(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias, bool periodic) {
  EMGAN_CHECK(
      ConfigError,
      weight.dim() == 5 && weight.size(2) == 3 && weight.size(3) == 3 && weight.size(4) == 3,
      "resize_upsample_conv3d: weight of shape ", weight.sizes(),
      " does not match [C_out, C_in, 3, 3, 3]");
  // Trilinear 2x upsampling (align_corners false) is a stride-2 transposed convolution
  // with the kernel h = (1/4, 3/4, 3/4, 1/4) along each axis; followed by the 3x3x3
  // cross-correlation w it is one stride-2 transposed convolution with the 6x6x6 kernel
  // flip(w) (*) h (full convolution; h is symmetric), padding 4 for the crop. The
  // upsampling's clamped border voxels are exactly the ones the crop drops, so this equals
  // upsample + convolution + crop, through the oneDNN route and without the 8x larger map.
  const int64_t c_out = weight.size(0), c_in = weight.size(1);
  const auto kernel = nn::resize_conv_kernel(weight);
  const auto options = torch::nn::ConvTranspose3dOptions(c_in, c_out, 6).stride(2).padding(4);
  if (!periodic) return nn::conv_transpose3d(x, kernel, bias, options);
  // Periodic: 2 voxels of circular padding, then the 2 n voxels aligned as above.
  namespace F = torch::nn::functional;
  auto y =
      nn::conv_transpose3d(F::pad(x, F::PadFuncOptions({2, 2, 2, 2, 2, 2}).mode(torch::kCircular)),
                           kernel, bias, options);
  for (int64_t d = 2; d < 5; ++d) y = y.narrow(d, 4, 2 * x.size(d));
  return y;
}

torch::Tensor random_volume_slices(const torch::Tensor& volumes, int64_t axis, int64_t per_volume) {
  const auto all = volume_slices(volumes, axis);
  const int64_t n = volumes.size(0), side = all.size(0) / n;
  if (per_volume <= 0 || per_volume >= side) return all;
  const auto offsets = torch::arange(n, torch::kLong).mul_(side).unsqueeze(1);
  const auto pick = torch::argsort(torch::rand({n, side}), /*dim=*/1, /*descending=*/false)
                        .narrow(1, 0, per_volume)
                        .add_(offsets)
                        .flatten();
  return all.index_select(0, pick.to(volumes.device()));
}

}  // namespace emgan::models
