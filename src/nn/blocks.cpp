#include "emgan/nn/blocks.h"

#include <algorithm>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/nn/conv_transpose.h"
#include "emgan/nn/weight_norms.h"

namespace emgan::nn {

namespace F = torch::nn::functional;

const std::vector<std::string> kNormNames = {"batch", "instance", "none"};
const std::vector<std::string> kActivationNames = {"relu", "leaky_relu", "tanh", "sigmoid", "none"};

void check_norm(const std::string& what, const std::string& norm) { check_choice(what, norm, kNormNames); }

void check_activation(const std::string& what, const std::string& activation) {
  check_choice(what, activation, kActivationNames);
}

torch::nn::AnyModule make_norm(const std::string& norm, int64_t channels, int dims, double momentum,
                               double eps) {
  check_norm("norm", norm);
  EMGAN_CHECK(ConfigError, dims == 2 || dims == 3, "make_norm: dims = ", dims, " must be 2 or 3");
  EMGAN_CHECK(ConfigError, channels >= 1, "make_norm: channels = ", channels, " must be >= 1");
  if (norm == "batch") {
    if (dims == 2) {
      return torch::nn::AnyModule(torch::nn::BatchNorm2d(
          torch::nn::BatchNorm2dOptions(channels).momentum(momentum).eps(eps)));
    }
    return torch::nn::AnyModule(
        torch::nn::BatchNorm3d(torch::nn::BatchNorm3dOptions(channels).momentum(momentum).eps(eps)));
  }
  if (norm == "instance") {
    if (dims == 2) {
      return torch::nn::AnyModule(torch::nn::InstanceNorm2d(
          torch::nn::InstanceNorm2dOptions(channels).eps(eps).affine(false).track_running_stats(false)));
    }
    return torch::nn::AnyModule(torch::nn::InstanceNorm3d(
        torch::nn::InstanceNorm3dOptions(channels).eps(eps).affine(false).track_running_stats(false)));
  }
  return torch::nn::AnyModule(torch::nn::Identity());
}

torch::nn::AnyModule make_activation(const std::string& activation, double slope) {
  check_activation("activation", activation);
  if (activation == "relu") return torch::nn::AnyModule(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
  if (activation == "leaky_relu") {
    return torch::nn::AnyModule(
        torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(slope).inplace(true)));
  }
  if (activation == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (activation == "sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  return torch::nn::AnyModule(torch::nn::Identity());
}

torch::Tensor apply_activation(const torch::Tensor& x, const std::string& activation, double slope) {
  if (activation == "relu") return torch::relu(x);
  if (activation == "leaky_relu") return torch::leaky_relu(x, slope);
  if (activation == "tanh") return torch::tanh(x);
  if (activation == "sigmoid") return torch::sigmoid(x);
  check_activation("activation", activation);
  return x;
}

torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel_size, int64_t stride) {
  EMGAN_CHECK(ConfigError, x.dim() == 4, "pad_same: expected a [N, C, H, W] tensor, got ", x.sizes());
  auto amounts = [&](int64_t n) {
    const int64_t out = (n + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel_size - n, 0);
    return std::pair<int64_t, int64_t>(total / 2, total - total / 2);
  };
  const auto [top, bottom] = amounts(x.size(2));
  const auto [left, right] = amounts(x.size(3));
  if (top == 0 && bottom == 0 && left == 0 && right == 0) return x;
  return F::pad(x, F::PadFuncOptions({left, right, top, bottom}));
}

torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple, PadBox* box, int64_t min_size) {
  EMGAN_CHECK(ConfigError, x.dim() == 4, "pad_to_multiple: expected a [N, C, H, W] tensor, got ", x.sizes());
  EMGAN_CHECK(ConfigError, multiple >= 1, "pad_to_multiple: multiple = ", multiple, " must be >= 1");
  const int64_t h = x.size(2), w = x.size(3);
  EMGAN_CHECK(ConfigError, h >= 1 && w >= 1, "pad_to_multiple: empty image ", x.sizes());
  auto target = [&](int64_t n) {
    return (std::max(n, min_size) + multiple - 1) / multiple * multiple;
  };
  const int64_t ph = target(h) - h;
  const int64_t pw = target(w) - w;
  int64_t top = ph / 2, bottom = ph - top, left = pw / 2, right = pw - left;
  if (box) *box = PadBox{top, left, h, w};
  torch::Tensor y = x;
  while (top > 0 || bottom > 0 || left > 0 || right > 0) {
    const int64_t ch = y.size(2), cw = y.size(3);
    if (ch == 1 || cw == 1) {
      y = F::pad(y, F::PadFuncOptions({left, right, top, bottom}).mode(torch::kReplicate));
      break;
    }
    const int64_t st = std::min(top, ch - 1), sb = std::min(bottom, ch - 1);
    const int64_t sl = std::min(left, cw - 1), sr = std::min(right, cw - 1);
    y = F::pad(y, F::PadFuncOptions({sl, sr, st, sb}).mode(torch::kReflect));
    top -= st;
    bottom -= sb;
    left -= sl;
    right -= sr;
  }
  return y;
}

torch::Tensor crop_to_box(const torch::Tensor& y, const PadBox& box) {
  if (y.size(2) == box.height && y.size(3) == box.width) return y;
  return y.narrow(2, box.top, box.height).narrow(3, box.left, box.width);
}

namespace {

void check_common(const std::string& block, int64_t in, int64_t out, int64_t kernel,
                  const std::string& norm, const std::string& activation, double dropout) {
  EMGAN_CHECK(ConfigError, in >= 1, block, ": in_channels = ", in, " must be >= 1");
  EMGAN_CHECK(ConfigError, out >= 1, block, ": out_channels = ", out, " must be >= 1");
  EMGAN_CHECK(ConfigError, kernel >= 1, block, ": kernel_size = ", kernel, " must be >= 1");
  check_norm(block + ": norm", norm);
  check_activation(block + ": activation", activation);
  EMGAN_CHECK(ConfigError, dropout >= 0.0 && dropout < 1.0, block, ": dropout = ", dropout,
              " must be in [0, 1)");
}

// Registers norm/activation/dropout of a block in the order they run.
void add_tail(torch::nn::Module& self, torch::nn::AnyModule& norm, torch::nn::AnyModule& act,
              torch::nn::AnyModule& drop, const std::string& norm_name, int64_t channels, double momentum,
              double eps, const std::string& act_name, double slope, bool activation_first, double dropout) {
  if (norm_name != "none") norm = make_norm(norm_name, channels, 2, momentum, eps);
  if (act_name != "none") act = make_activation(act_name, slope);
  if (activation_first) {
    if (!act.is_empty()) self.register_module("act", act.ptr());
    if (!norm.is_empty()) self.register_module("norm", norm.ptr());
  } else {
    if (!norm.is_empty()) self.register_module("norm", norm.ptr());
    if (!act.is_empty()) self.register_module("act", act.ptr());
  }
  if (dropout > 0.0) {
    drop = torch::nn::AnyModule(torch::nn::Dropout(torch::nn::DropoutOptions(dropout)));
    self.register_module("drop", drop.ptr());
  }
}

torch::Tensor run_tail(torch::Tensor x, torch::nn::AnyModule& norm, torch::nn::AnyModule& act,
                       torch::nn::AnyModule& drop, bool activation_first) {
  if (activation_first) {
    if (!act.is_empty()) x = act.forward(x);
    if (!norm.is_empty()) x = norm.forward(x);
  } else {
    if (!norm.is_empty()) x = norm.forward(x);
    if (!act.is_empty()) x = act.forward(x);
  }
  if (!drop.is_empty()) x = drop.forward(x);
  return x;
}

torch::nn::detail::conv_padding_mode_t padding_mode(const std::string& block, const std::string& mode) {
  check_choice(block + ": padding_mode", mode, {"zeros", "reflect", "replicate"});
  if (mode == "reflect") return torch::kReflect;
  if (mode == "replicate") return torch::kReplicate;
  return torch::kZeros;
}

}  // namespace

ConvBlockImpl::ConvBlockImpl(ConvBlockOptions opts) : options(std::move(opts)) {
  const auto& o = options;
  check_common("ConvBlock", o.in_channels(), o.out_channels(), o.kernel_size(), o.norm(), o.activation(),
               o.dropout());
  EMGAN_CHECK(ConfigError, o.stride() >= 1, "ConvBlock: stride = ", o.stride(), " must be >= 1");
  EMGAN_CHECK(ConfigError, o.padding() >= -1, "ConvBlock: padding = ", o.padding(),
              " must be >= 0, or -1 for 'same'");
  const bool bias = o.bias().has_value() ? *o.bias() : o.norm() != "batch";
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                             .stride(o.stride())
                             .padding(std::max<int64_t>(o.padding(), 0))
                             .padding_mode(padding_mode("ConvBlock", o.padding_mode()))
                             .bias(bias));
  if (o.spectral_norm()) {
    conv_ = torch::nn::AnyModule(SpectralNorm(conv));
  } else {
    conv_ = torch::nn::AnyModule(conv);
  }
  register_module("conv", conv_.ptr());
  add_tail(*this, norm_, act_, drop_, o.norm(), o.out_channels(), o.norm_momentum(), o.norm_eps(),
           o.activation(), o.slope(), o.activation_first(), o.dropout());
}

torch::Tensor ConvBlockImpl::forward(torch::Tensor x) {
  if (options.padding() < 0) x = pad_same(x, options.kernel_size(), options.stride());
  x = conv_.forward(x);
  return run_tail(x, norm_, act_, drop_, options.activation_first());
}

DeconvBlockImpl::DeconvBlockImpl(DeconvBlockOptions opts) : options(std::move(opts)) {
  const auto& o = options;
  check_common("DeconvBlock", o.in_channels(), o.out_channels(), o.kernel_size(), o.norm(),
               o.activation(), o.dropout());
  EMGAN_CHECK(ConfigError, o.scale() >= 1, "DeconvBlock: scale = ", o.scale(), " must be >= 1");
  check_choice("DeconvBlock: mode", o.mode(), {"transposed", "upsample"});
  const bool bias = o.bias().has_value() ? *o.bias() : o.norm() != "batch";
  if (o.mode() == "transposed") {
    const int64_t k = o.kernel_size(), s = o.scale();
    const int64_t pad = std::max<int64_t>((k - s + 1) / 2, 0);
    const int64_t out_pad = s + 2 * pad - k;
    EMGAN_CHECK(ConfigError, out_pad >= 0 && out_pad < s, "DeconvBlock: kernel_size = ", k,
                " cannot up-sample exactly by scale = ", s);
    const auto conv_options = torch::nn::ConvTranspose2dOptions(o.in_channels(), o.out_channels(), k)
                                  .stride(s)
                                  .padding(pad)
                                  .output_padding(out_pad)
                                  .bias(bias);
    conv_ = o.spectral_norm() ? torch::nn::AnyModule(SpectralNorm(torch::nn::ConvTranspose2d(conv_options)))
                              : torch::nn::AnyModule(FastConvTranspose2d(conv_options));
  } else {
    torch::nn::Conv2d conv(
        torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size()).bias(bias));
    conv_ = o.spectral_norm() ? torch::nn::AnyModule(SpectralNorm(conv)) : torch::nn::AnyModule(conv);
  }
  register_module("conv", conv_.ptr());
  add_tail(*this, norm_, act_, drop_, o.norm(), o.out_channels(), o.norm_momentum(), o.norm_eps(),
           o.activation(), o.slope(), o.activation_first(), o.dropout());
}

torch::Tensor DeconvBlockImpl::forward(torch::Tensor x) {
  if (options.mode() == "upsample") {
    if (options.scale() > 1) {
      const double s = static_cast<double>(options.scale());
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .scale_factor(std::vector<double>{s, s})
                                .mode(torch::kNearest));
    }
    x = pad_same(x, options.kernel_size(), 1);
  }
  x = conv_.forward(x);
  return run_tail(x, norm_, act_, drop_, options.activation_first());
}

}  // namespace emgan::nn
