#include "emgan/models/discriminators.h"

#include <algorithm>

#include "emgan/core/error.h"
#include "emgan/nn/weight_norms.h"
#include "json_fields.h"

namespace emgan::models {

namespace F = torch::nn::functional;

namespace {

void check_positive(const std::string& model, const std::string& key, int64_t value, int64_t min = 1) {
  EMGAN_CHECK(ConfigError, value >= min, model, ": ", key, " = ", value, " must be >= ", min);
}

void check_init(const std::string& model, const std::string& init, double gain) {
  check_choice(model + ": init", init, nn::kInitNames);
  EMGAN_CHECK(ConfigError, gain > 0.0, model, ": init_gain = ", gain, " must be > 0");
}

void check_input(const std::string& model, const torch::Tensor& x, int64_t channels) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == channels && x.size(2) >= 1 && x.size(3) >= 1, model,
              ": input of shape ", x.sizes(), " does not match [N, ", channels, ", H, W]");
}

torch::nn::AnyModule conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias,
                          bool spectral) {
  torch::nn::Conv2d c(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
  return spectral ? torch::nn::AnyModule(nn::SpectralNorm(c)) : torch::nn::AnyModule(c);
}

torch::nn::LeakyReLU leaky() {
  return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2).inplace(true));
}

}  // namespace

// ---- PatchGAN --------------------------------------------------------------------------

void to_json(Json& j, const PatchGANOptions& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, in_channels, ndf, n_layers, kernel_size, norm, spectral_norm, init, init_gain);
}
void from_json(const Json& j, PatchGANOptions& o) {
  EMGAN_JSON_GET(j, o, in_channels, ndf, n_layers, kernel_size, norm, spectral_norm, init, init_gain);
}

PatchGANDiscriminatorImpl::PatchGANDiscriminatorImpl(PatchGANOptions o) : options(std::move(o)) {
  const std::string name = "patchgan";
  check_positive(name, "in_channels", options.in_channels());
  check_positive(name, "ndf", options.ndf());
  check_positive(name, "n_layers", options.n_layers(), 0);
  EMGAN_CHECK(ConfigError, options.n_layers() <= 12, name, ": n_layers = ", options.n_layers(), " must be <= 12");
  check_positive(name, "kernel_size", options.kernel_size(), 2);
  nn::check_norm(name + ": norm", options.norm());
  check_init(name, options.init(), options.init_gain());
  const int64_t k = options.kernel_size();
  const int64_t pad = (k - 1) / 2;
  const bool bias = options.norm() != "batch";
  const bool sn = options.spectral_norm();
  const int64_t ndf = options.ndf();
  model = torch::nn::Sequential();
  model->push_back(conv(options.in_channels(), ndf, k, 2, pad, true, sn));
  model->push_back(leaky());
  int64_t mult = 1;
  for (int64_t n = 1; n <= options.n_layers(); ++n) {
    const int64_t prev = mult;
    mult = std::min<int64_t>(int64_t{1} << n, 8);
    const int64_t stride = n < options.n_layers() ? 2 : 1;
    model->push_back(conv(ndf * prev, ndf * mult, k, stride, pad, bias, sn));
    model->push_back(nn::make_norm(options.norm(), ndf * mult));
    model->push_back(leaky());
  }
  model->push_back(conv(ndf * mult, 1, k, 1, pad, true, sn));
  register_module("model", model);
  nn::init_weights(*this, options.init(), options.init_gain());
}

torch::Tensor PatchGANDiscriminatorImpl::logits(const torch::Tensor& x) {
  check_input("patchgan", x, options.in_channels());
  return model->forward(x);
}

std::vector<torch::Tensor> PatchGANDiscriminatorImpl::forward(torch::Tensor x) { return {logits(x)}; }

// ---- multi-scale -----------------------------------------------------------------------

void to_json(Json& j, const MultiScaleOptions& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, n_scales, patchgan);
}
void from_json(const Json& j, MultiScaleOptions& o) { EMGAN_JSON_GET(j, o, n_scales, patchgan); }

MultiScaleDiscriminatorImpl::MultiScaleDiscriminatorImpl(MultiScaleOptions o) : options(std::move(o)) {
  check_positive("multiscale_patchgan", "n_scales", options.n_scales());
  EMGAN_CHECK(ConfigError, options.n_scales() <= 8, "multiscale_patchgan: n_scales = ", options.n_scales(),
              " must be <= 8");
  for (int64_t s = 0; s < options.n_scales(); ++s) {
    scales_.push_back(register_module("scale" + std::to_string(s), PatchGANDiscriminator(options.patchgan())));
  }
}

std::vector<torch::Tensor> MultiScaleDiscriminatorImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> out;
  for (size_t s = 0; s < scales_.size(); ++s) {
    out.push_back(scales_[s]->logits(x));
    if (s + 1 < scales_.size()) {
      x = F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(2).padding(1).count_include_pad(false));
    }
  }
  return out;
}

// ---- Lawrence et al. 2020 --------------------------------------------------------------

void to_json(Json& j, const Lawrence2020PatchGANOptions& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, in_channels, ndf, n_layers, kernel_size, norm, norm_momentum, norm_eps, spectral_norm, init,
                 init_gain);
}
void from_json(const Json& j, Lawrence2020PatchGANOptions& o) {
  EMGAN_JSON_GET(j, o, in_channels, ndf, n_layers, kernel_size, norm, norm_momentum, norm_eps, spectral_norm, init,
                 init_gain);
}

Lawrence2020DiscriminatorImpl::Lawrence2020DiscriminatorImpl(Lawrence2020PatchGANOptions o)
    : options(std::move(o)) {
  const std::string name = "lawrence2020_patchgan";
  check_positive(name, "in_channels", options.in_channels());
  check_positive(name, "ndf", options.ndf());
  check_positive(name, "n_layers", options.n_layers());
  EMGAN_CHECK(ConfigError, options.n_layers() <= 12, name, ": n_layers = ", options.n_layers(), " must be <= 12");
  check_positive(name, "kernel_size", options.kernel_size());
  nn::check_norm(name + ": norm", options.norm());
  EMGAN_CHECK(ConfigError, options.norm_momentum() >= 0.0 && options.norm_momentum() <= 1.0, name,
              ": norm_momentum = ", options.norm_momentum(), " must be in [0, 1]");
  EMGAN_CHECK(ConfigError, options.norm_eps() > 0.0, name, ": norm_eps = ", options.norm_eps(), " must be > 0");
  check_init(name, options.init(), options.init_gain());
  int64_t in = options.in_channels();
  for (int64_t i = 0; i < options.n_layers(); ++i) {
    const int64_t out = options.ndf() * std::min<int64_t>(int64_t{1} << i, 8);
    auto block = nn::ConvBlock(nn::ConvBlockOptions(in, out, options.kernel_size())
                                   .stride(2)
                                   .padding(-1)
                                   .norm(i == 0 ? "none" : options.norm())
                                   .norm_momentum(options.norm_momentum())
                                   .norm_eps(options.norm_eps())
                                   .activation("leaky_relu")
                                   .slope(0.2)
                                   .activation_first(true)
                                   .spectral_norm(options.spectral_norm())
                                   .bias(true));
    layers_.push_back(register_module("layer" + std::to_string(i), block));
    in = out;
  }
  out_ = register_module("out", nn::ConvBlock(nn::ConvBlockOptions(in, 1, options.kernel_size())
                                                  .stride(1)
                                                  .padding(-1)
                                                  .norm("none")
                                                  .activation("none")
                                                  .spectral_norm(options.spectral_norm())
                                                  .bias(true)));
  nn::init_weights(*this, options.init(), options.init_gain());
}

std::vector<torch::Tensor> Lawrence2020DiscriminatorImpl::forward(torch::Tensor x) {
  check_input("lawrence2020_patchgan", x, options.in_channels());
  for (auto& layer : layers_) x = layer->forward(x);
  return {out_->forward(x)};
}

}  // namespace emgan::models
