#include "emgan/models/generators.h"

#include <algorithm>

#include "emgan/core/error.h"
#include "json_fields.h"
#include "emgan/nn/conv_transpose.h"
#include "emgan/nn/weight_norms.h"

namespace emgan::models {

namespace {

const std::vector<std::string> kOutputActivations = {"tanh", "sigmoid", "none"};

void check_positive(const std::string& model, const std::string& key, int64_t value, int64_t min = 1) {
  EMGAN_CHECK(ConfigError, value >= min, model, ": ", key, " = ", value, " must be >= ", min);
}

void check_dropout(const std::string& model, double p) {
  EMGAN_CHECK(ConfigError, p >= 0.0 && p < 1.0, model, ": dropout = ", p, " must be in [0, 1)");
}

void check_common(const std::string& model, const std::string& norm, const std::string& out_act,
                  const std::string& init, double gain) {
  nn::check_norm(model + ": norm", norm);
  check_choice(model + ": output_activation", out_act, kOutputActivations);
  check_choice(model + ": init", init, nn::kInitNames);
  EMGAN_CHECK(ConfigError, gain > 0.0, model, ": init_gain = ", gain, " must be > 0");
}

void check_input(const std::string& model, const torch::Tensor& x, int64_t channels) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == channels && x.size(2) >= 1 && x.size(3) >= 1, model,
              ": input of shape ", x.sizes(), " does not match [N, ", channels, ", H, W]");
}

torch::nn::AnyModule output_activation(const std::string& name) {
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  return {};
}

int64_t width(int64_t ngf, int64_t level, int64_t max_mult) {
  int64_t mult = 1;
  for (int64_t i = 0; i < level && mult < max_mult; ++i) mult *= 2;
  return ngf * std::min(mult, max_mult);
}

}  // namespace

// ---- UNet ------------------------------------------------------------------------------

void to_json(Json& j, const UNetOptions& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, in_channels, out_channels, depth, ngf, max_mult, kernel_size, norm, dropout,
                 dropout_layers, output_activation, init, init_gain);
}
void from_json(const Json& j, UNetOptions& o) {
  EMGAN_JSON_GET(j, o, in_channels, out_channels, depth, ngf, max_mult, kernel_size, norm, dropout,
                 dropout_layers, output_activation, init, init_gain);
}

UNetBlockImpl::UNetBlockImpl(const UNetOptions& o, int64_t level, int64_t outer_nc, int64_t inner_nc,
                             int64_t input_nc, std::shared_ptr<UNetBlockImpl> inner)
    : outermost_(level == 0) {
  const bool innermost = !inner;
  const bool bias = o.norm() != "batch";
  const int64_t k = o.kernel_size();
  const int64_t pad = (k - 1) / 2;
  const int64_t out_pad = 2 + 2 * pad - k;
  const int64_t first_dropout = o.depth() - 1 - std::min(o.dropout_layers(), o.depth() - 2);
  const bool dropout = !outermost_ && !innermost && o.dropout() > 0.0 && level >= first_dropout;
  torch::nn::Conv2d downconv(torch::nn::Conv2dOptions(input_nc, inner_nc, k).stride(2).padding(pad).bias(bias));
  auto downrelu = [] { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)); };
  auto uprelu = [] { return torch::nn::ReLU(torch::nn::ReLUOptions(true)); };
  auto upconv = [&](int64_t in, bool with_bias) {
    return emgan::nn::FastConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(in, outer_nc, k).stride(2).padding(pad).output_padding(out_pad).bias(with_bias));
  };
  model = torch::nn::Sequential();
  if (outermost_) {
    model->push_back(downconv);
    model->push_back(UNetBlock(inner));
    model->push_back(uprelu());
    model->push_back(upconv(inner_nc * 2, true));
    auto act = output_activation(o.output_activation());
    if (!act.is_empty()) model->push_back(act);
  } else if (innermost) {
    model->push_back(downrelu());
    model->push_back(downconv);
    model->push_back(uprelu());
    model->push_back(upconv(inner_nc, bias));
    model->push_back(nn::make_norm(o.norm(), outer_nc));
  } else {
    model->push_back(downrelu());
    model->push_back(downconv);
    model->push_back(nn::make_norm(o.norm(), inner_nc));
    model->push_back(UNetBlock(inner));
    model->push_back(uprelu());
    model->push_back(upconv(inner_nc * 2, bias));
    model->push_back(nn::make_norm(o.norm(), outer_nc));
    if (dropout) model->push_back(torch::nn::Dropout(torch::nn::DropoutOptions(o.dropout())));
  }
  register_module("model", model);
}

torch::Tensor UNetBlockImpl::forward(torch::Tensor x) {
  if (outermost_) return model->forward(x);
  // As pix2pix: the in-place LeakyReLU at the start of `model` also acts on the skip.
  torch::Tensor y = model->forward(x);
  return torch::cat({x, y}, 1);
}

UNetGeneratorImpl::UNetGeneratorImpl(UNetOptions o) : options(std::move(o)) {
  const std::string name = "unet";
  check_positive(name, "in_channels", options.in_channels());
  check_positive(name, "out_channels", options.out_channels());
  check_positive(name, "depth", options.depth(), 2);
  EMGAN_CHECK(ConfigError, options.depth() <= 16, name, ": depth = ", options.depth(), " must be <= 16");
  check_positive(name, "ngf", options.ngf());
  check_positive(name, "max_mult", options.max_mult());
  check_positive(name, "kernel_size", options.kernel_size());
  check_positive(name, "dropout_layers", options.dropout_layers(), 0);
  check_dropout(name, options.dropout());
  check_common(name, options.norm(), options.output_activation(), options.init(), options.init_gain());
  const int64_t d = options.depth();
  std::shared_ptr<UNetBlockImpl> block;
  for (int64_t level = d - 1; level >= 0; --level) {
    const int64_t inner_nc = width(options.ngf(), level, options.max_mult());
    const int64_t outer_nc = level == 0 ? options.out_channels() : width(options.ngf(), level - 1, options.max_mult());
    const int64_t input_nc = level == 0 ? options.in_channels() : outer_nc;
    block = std::make_shared<UNetBlockImpl>(options, level, outer_nc, inner_nc, input_nc, block);
  }
  model = register_module("model", UNetBlock(block));
  nn::init_weights(*this, options.init(), options.init_gain());
}

torch::Tensor UNetGeneratorImpl::forward(torch::Tensor x) {
  check_input("unet", x, options.in_channels());
  nn::PadBox box;
  const torch::Tensor padded = nn::pad_to_multiple(x, int64_t{1} << options.depth(), &box);
  return nn::crop_to_box(model->forward(padded), box);
}

// ---- ResNet ----------------------------------------------------------------------------

void to_json(Json& j, const ResNetOptions& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, in_channels, out_channels, ngf, n_blocks, n_downsampling, norm, dropout,
                 output_activation, init, init_gain);
}
void from_json(const Json& j, ResNetOptions& o) {
  EMGAN_JSON_GET(j, o, in_channels, out_channels, ngf, n_blocks, n_downsampling, norm, dropout,
                 output_activation, init, init_gain);
}

ResNetBlockImpl::ResNetBlockImpl(int64_t dim, const std::string& norm, double dropout, bool bias) {
  auto conv = [&] { return torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 3).bias(bias)); };
  conv_block = torch::nn::Sequential();
  conv_block->push_back(torch::nn::ReflectionPad2d(1));
  conv_block->push_back(conv());
  conv_block->push_back(nn::make_norm(norm, dim));
  conv_block->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
  if (dropout > 0.0) conv_block->push_back(torch::nn::Dropout(torch::nn::DropoutOptions(dropout)));
  conv_block->push_back(torch::nn::ReflectionPad2d(1));
  conv_block->push_back(conv());
  conv_block->push_back(nn::make_norm(norm, dim));
  register_module("conv_block", conv_block);
}

torch::Tensor ResNetBlockImpl::forward(torch::Tensor x) { return x + conv_block->forward(x); }

ResNetGeneratorImpl::ResNetGeneratorImpl(ResNetOptions o) : options(std::move(o)) {
  const std::string name = "resnet";
  check_positive(name, "in_channels", options.in_channels());
  check_positive(name, "out_channels", options.out_channels());
  check_positive(name, "ngf", options.ngf());
  check_positive(name, "n_blocks", options.n_blocks(), 0);
  check_positive(name, "n_downsampling", options.n_downsampling(), 0);
  EMGAN_CHECK(ConfigError, options.n_downsampling() <= 8, name, ": n_downsampling = ", options.n_downsampling(),
              " must be <= 8");
  check_dropout(name, options.dropout());
  check_common(name, options.norm(), options.output_activation(), options.init(), options.init_gain());
  const bool bias = options.norm() != "batch";
  const int64_t ngf = options.ngf();
  auto relu = [] { return torch::nn::ReLU(torch::nn::ReLUOptions(true)); };
  model = torch::nn::Sequential();
  model->push_back(torch::nn::ReflectionPad2d(3));
  model->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels(), ngf, 7).bias(bias)));
  model->push_back(nn::make_norm(options.norm(), ngf));
  model->push_back(relu());
  for (int64_t i = 0; i < options.n_downsampling(); ++i) {
    const int64_t mult = int64_t{1} << i;
    model->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(ngf * mult, ngf * mult * 2, 3).stride(2).padding(1).bias(bias)));
    model->push_back(nn::make_norm(options.norm(), ngf * mult * 2));
    model->push_back(relu());
  }
  const int64_t mult = int64_t{1} << options.n_downsampling();
  for (int64_t i = 0; i < options.n_blocks(); ++i) {
    model->push_back(ResNetBlock(ngf * mult, options.norm(), options.dropout(), bias));
  }
  for (int64_t i = 0; i < options.n_downsampling(); ++i) {
    const int64_t m = int64_t{1} << (options.n_downsampling() - i);
    model->push_back(emgan::nn::FastConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(ngf * m, ngf * m / 2, 3).stride(2).padding(1).output_padding(1).bias(bias)));
    model->push_back(nn::make_norm(options.norm(), ngf * m / 2));
    model->push_back(relu());
  }
  model->push_back(torch::nn::ReflectionPad2d(3));
  model->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ngf, options.out_channels(), 7)));
  auto act = output_activation(options.output_activation());
  if (!act.is_empty()) model->push_back(act);
  register_module("model", model);
  nn::init_weights(*this, options.init(), options.init_gain());
}

torch::Tensor ResNetGeneratorImpl::forward(torch::Tensor x) {
  check_input("resnet", x, options.in_channels());
  const int64_t multiple = int64_t{1} << options.n_downsampling();
  nn::PadBox box;
  // At least 2 pixels at the lowest resolution (its reflection padding needs them).
  const torch::Tensor padded = nn::pad_to_multiple(x, multiple, &box, 2 * multiple);
  return nn::crop_to_box(model->forward(padded), box);
}

// ---- Lawrence et al. 2020 --------------------------------------------------------------

void to_json(Json& j, const Lawrence2020Options& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, in_channels, out_channels, depth, ngf, max_mult, down_kernel, up_kernel, final_kernel,
                 norm, norm_momentum, norm_eps, dropout, output_activation, init, init_gain);
}
void from_json(const Json& j, Lawrence2020Options& o) {
  EMGAN_JSON_GET(j, o, in_channels, out_channels, depth, ngf, max_mult, down_kernel, up_kernel, final_kernel,
                 norm, norm_momentum, norm_eps, dropout, output_activation, init, init_gain);
}

Lawrence2020GeneratorImpl::Lawrence2020GeneratorImpl(Lawrence2020Options o) : options(std::move(o)) {
  const std::string name = "lawrence2020";
  check_positive(name, "in_channels", options.in_channels());
  check_positive(name, "out_channels", options.out_channels());
  check_positive(name, "depth", options.depth());
  EMGAN_CHECK(ConfigError, options.depth() <= 16, name, ": depth = ", options.depth(), " must be <= 16");
  check_positive(name, "ngf", options.ngf());
  check_positive(name, "max_mult", options.max_mult());
  check_positive(name, "down_kernel", options.down_kernel());
  check_positive(name, "up_kernel", options.up_kernel());
  check_positive(name, "final_kernel", options.final_kernel());
  check_dropout(name, options.dropout());
  EMGAN_CHECK(ConfigError, options.norm_momentum() >= 0.0 && options.norm_momentum() <= 1.0, name,
              ": norm_momentum = ", options.norm_momentum(), " must be in [0, 1]");
  EMGAN_CHECK(ConfigError, options.norm_eps() > 0.0, name, ": norm_eps = ", options.norm_eps(), " must be > 0");
  check_common(name, options.norm(), options.output_activation(), options.init(), options.init_gain());
  const int64_t d = options.depth();
  std::vector<int64_t> ch;
  for (int64_t i = 0; i < d; ++i) ch.push_back(width(options.ngf(), i, options.max_mult()));
  for (int64_t i = 0; i < d; ++i) {
    auto block = nn::ConvBlock(nn::ConvBlockOptions(i == 0 ? options.in_channels() : ch[i - 1], ch[i],
                                                    options.down_kernel())
                                   .stride(2)
                                   .padding(-1)
                                   .norm(i == 0 ? "none" : options.norm())
                                   .norm_momentum(options.norm_momentum())
                                   .norm_eps(options.norm_eps())
                                   .activation("leaky_relu")
                                   .slope(0.2)
                                   .activation_first(true)
                                   .bias(true));
    down_.push_back(register_module("down" + std::to_string(i), block));
  }
  for (int64_t j = 0; j + 1 < d; ++j) {
    const int64_t skip = d - 2 - j;
    const int64_t in = j == 0 ? ch[d - 1] : 2 * ch[skip + 1];
    auto block = nn::DeconvBlock(nn::DeconvBlockOptions(in, ch[skip], options.up_kernel())
                                     .scale(2)
                                     .mode("upsample")
                                     .norm(options.norm())
                                     .norm_momentum(options.norm_momentum())
                                     .norm_eps(options.norm_eps())
                                     .activation("relu")
                                     .activation_first(true)
                                     .dropout(options.dropout())
                                     .bias(true));
    up_.push_back(register_module("up" + std::to_string(j), block));
  }
  final_ = register_module(
      "final", nn::DeconvBlock(nn::DeconvBlockOptions(d >= 2 ? 2 * ch[0] : ch[0], options.out_channels(),
                                                      options.final_kernel())
                                   .scale(2)
                                   .mode("upsample")
                                   .norm("none")
                                   .activation(options.output_activation())
                                   .bias(true)));
  nn::init_weights(*this, options.init(), options.init_gain());
}

torch::Tensor Lawrence2020GeneratorImpl::forward(torch::Tensor x) {
  check_input("lawrence2020", x, options.in_channels());
  nn::PadBox box;
  const int64_t multiple = int64_t{1} << options.depth();
  // Batch norm in training needs more than one value per channel: with a single image
  // the innermost level must keep at least 2x2 pixels.
  const bool single_batch_norm = is_training() && x.size(0) == 1 && options.norm() == "batch";
  torch::Tensor h = nn::pad_to_multiple(x, multiple, &box, single_batch_norm ? 2 * multiple : 1);
  std::vector<torch::Tensor> skips;
  for (auto& block : down_) {
    h = block->forward(h);
    skips.push_back(h);
  }
  const int64_t d = options.depth();
  for (size_t j = 0; j < up_.size(); ++j) {
    h = up_[j]->forward(h);
    h = torch::cat({h, skips[static_cast<size_t>(d - 2) - j]}, 1);
  }
  return nn::crop_to_box(final_->forward(h), box);
}

}  // namespace emgan::models
