#include "emgan/nn/weight_norms.h"

#include <type_traits>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/nn/conv_transpose.h"

namespace emgan::nn {

namespace F = torch::nn::functional;

namespace {

template <typename Holder>
detail::WrappedLayer wrap(Holder layer, int64_t out_dim) {
  EMGAN_CHECK(ConfigError, !layer.is_empty(), "weight normalisation: the layer to wrap is empty");
  detail::WrappedLayer w;
  w.weight = layer->weight;
  w.bias = layer->bias;
  w.out_dim = out_dim;
  w.set_weight = [layer](const torch::Tensor& weight) mutable { layer->weight = weight; };
  if constexpr (std::is_same_v<Holder, torch::nn::ConvTranspose2d>) {
    // 2D transposed convolutions run through emgan::nn::conv_transpose2d (oneDNN on the CPU).
    w.forward = [layer](const torch::Tensor& x) mutable {
      return conv_transpose2d(x, layer->weight, layer->bias, layer->options);
    };
  } else {
    w.forward = [layer](const torch::Tensor& x) mutable { return layer->forward(x); };
  }
  return w;
}

}  // namespace

// ---- SpectralNorm --------------------------------------------------------------------

SpectralNormImpl::SpectralNormImpl(torch::nn::Conv1d layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 0));
}
SpectralNormImpl::SpectralNormImpl(torch::nn::Conv2d layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 0));
}
SpectralNormImpl::SpectralNormImpl(torch::nn::Conv3d layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 0));
}
SpectralNormImpl::SpectralNormImpl(torch::nn::ConvTranspose1d layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 1));
}
SpectralNormImpl::SpectralNormImpl(torch::nn::ConvTranspose2d layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 1));
}
SpectralNormImpl::SpectralNormImpl(torch::nn::ConvTranspose3d layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 1));
}
SpectralNormImpl::SpectralNormImpl(torch::nn::Linear layer, SpectralNormOptions o) : options(o) {
  init(wrap(std::move(layer), 0));
}

void SpectralNormImpl::init(detail::WrappedLayer layer) {
  EMGAN_CHECK(ConfigError, options.n_power_iterations() >= 0, "SpectralNorm: n_power_iterations = ",
              options.n_power_iterations(), " must be >= 0");
  EMGAN_CHECK(ConfigError, options.eps() > 0.0, "SpectralNorm: eps = ", options.eps(), " must be > 0");
  layer_ = std::move(layer);
  // Same order of registration as torch.nn.utils.spectral_norm: bias stays, the weight
  // becomes weight_orig, then the u and v buffers.
  if (layer_.bias.defined()) bias = register_parameter("bias", layer_.bias);
  weight_orig = register_parameter("weight_orig", layer_.weight);
  const torch::Tensor mat = weight_matrix().detach();
  torch::NoGradGuard no_grad;
  const auto eps = F::NormalizeFuncOptions().dim(0).eps(options.eps());
  weight_u = register_buffer("weight_u", F::normalize(torch::randn({mat.size(0)}, mat.options()), eps));
  weight_v = register_buffer("weight_v", F::normalize(torch::randn({mat.size(1)}, mat.options()), eps));
}

torch::Tensor SpectralNormImpl::weight_matrix() const {
  torch::Tensor w = weight_orig;
  if (layer_.out_dim != 0) {
    std::vector<int64_t> perm{layer_.out_dim};
    for (int64_t d = 0; d < w.dim(); ++d) {
      if (d != layer_.out_dim) perm.push_back(d);
    }
    w = w.permute(perm);
  }
  return w.reshape({w.size(0), -1});
}

torch::Tensor SpectralNormImpl::normalized_weight(bool power_iteration) {
  const torch::Tensor mat = weight_matrix();
  if (power_iteration && options.n_power_iterations() > 0) {
    torch::NoGradGuard no_grad;
    const auto eps = F::NormalizeFuncOptions().dim(0).eps(options.eps());
    for (int64_t i = 0; i < options.n_power_iterations(); ++i) {
      weight_v.copy_(F::normalize(torch::mv(mat.t(), weight_u), eps));
      weight_u.copy_(F::normalize(torch::mv(mat, weight_v), eps));
    }
  }
  // Clones: the buffers are updated in place by the next forward, the graph keeps these.
  const torch::Tensor u = weight_u.clone();
  const torch::Tensor v = weight_v.clone();
  const torch::Tensor sigma = torch::dot(u, torch::mv(mat, v));
  return weight_orig / sigma;
}

torch::Tensor SpectralNormImpl::forward(torch::Tensor x) {
  layer_.set_weight(normalized_weight(is_training()));
  return layer_.forward(x);
}

// ---- WeightNorm ----------------------------------------------------------------------

WeightNormImpl::WeightNormImpl(torch::nn::Conv1d layer) { init(wrap(std::move(layer), 0)); }
WeightNormImpl::WeightNormImpl(torch::nn::Conv2d layer) { init(wrap(std::move(layer), 0)); }
WeightNormImpl::WeightNormImpl(torch::nn::Conv3d layer) { init(wrap(std::move(layer), 0)); }
WeightNormImpl::WeightNormImpl(torch::nn::ConvTranspose1d layer) { init(wrap(std::move(layer), 0)); }
WeightNormImpl::WeightNormImpl(torch::nn::ConvTranspose2d layer) { init(wrap(std::move(layer), 0)); }
WeightNormImpl::WeightNormImpl(torch::nn::ConvTranspose3d layer) { init(wrap(std::move(layer), 0)); }
WeightNormImpl::WeightNormImpl(torch::nn::Linear layer) { init(wrap(std::move(layer), 0)); }

namespace {
// ||v|| over all dimensions but 0, shaped [out, 1, 1, ...] to broadcast against v.
torch::Tensor slice_norms(const torch::Tensor& v) {
  std::vector<int64_t> shape(static_cast<size_t>(v.dim()), 1);
  shape[0] = v.size(0);
  return v.reshape({v.size(0), -1}).norm(2, {1}).reshape(shape);
}
}  // namespace

void WeightNormImpl::init(detail::WrappedLayer layer) {
  layer_ = std::move(layer);
  if (layer_.bias.defined()) bias = register_parameter("bias", layer_.bias);
  torch::Tensor g;
  {
    torch::NoGradGuard no_grad;
    g = slice_norms(layer_.weight.detach()).clone();
  }
  weight_g = register_parameter("weight_g", g);
  weight_v = register_parameter("weight_v", layer_.weight);
}

torch::Tensor WeightNormImpl::normalized_weight() const { return weight_v * (weight_g / slice_norms(weight_v)); }

void WeightNormImpl::reset_magnitude() {
  torch::NoGradGuard no_grad;
  weight_g.copy_(slice_norms(weight_v));
}

torch::Tensor WeightNormImpl::forward(torch::Tensor x) {
  layer_.set_weight(normalized_weight());
  return layer_.forward(x);
}

// ---- init_weights --------------------------------------------------------------------

const std::vector<std::string> kInitNames = {"normal", "xavier", "kaiming", "orthogonal", "default"};

namespace {

void init_weight(torch::Tensor& w, const std::string& kind, double gain) {
  if (kind == "normal") {
    torch::nn::init::normal_(w, 0.0, gain);
  } else if (kind == "xavier") {
    torch::nn::init::xavier_normal_(w, gain);
  } else if (kind == "kaiming") {
    torch::nn::init::kaiming_normal_(w, 0.0, torch::kFanIn, torch::kLeakyReLU);
  } else if (kind == "orthogonal") {
    torch::nn::init::orthogonal_(w, gain);
  }
}

template <typename Impl>
bool init_layer(torch::nn::Module& m, const std::string& kind, double gain) {
  auto* layer = dynamic_cast<Impl*>(&m);
  if (!layer) return false;
  torch::NoGradGuard no_grad;
  init_weight(layer->weight, kind, gain);
  if (layer->bias.defined()) layer->bias.zero_();
  return true;
}

template <typename Impl>
bool init_batch_norm(torch::nn::Module& m, double gain) {
  auto* layer = dynamic_cast<Impl*>(&m);
  if (!layer) return false;
  torch::NoGradGuard no_grad;
  if (layer->weight.defined()) torch::nn::init::normal_(layer->weight, 1.0, gain);
  if (layer->bias.defined()) layer->bias.zero_();
  return true;
}

void init_module(torch::nn::Module& mod, const std::string& kind, double gain) {
  if (init_layer<torch::nn::Conv1dImpl>(mod, kind, gain) || init_layer<torch::nn::Conv2dImpl>(mod, kind, gain) ||
      init_layer<torch::nn::Conv3dImpl>(mod, kind, gain) ||
      init_layer<torch::nn::ConvTranspose1dImpl>(mod, kind, gain) ||
      init_layer<torch::nn::ConvTranspose2dImpl>(mod, kind, gain) ||
      init_layer<torch::nn::ConvTranspose3dImpl>(mod, kind, gain) ||
      init_layer<torch::nn::LinearImpl>(mod, kind, gain) || init_batch_norm<torch::nn::BatchNorm1dImpl>(mod, gain) ||
      init_batch_norm<torch::nn::BatchNorm2dImpl>(mod, gain) ||
      init_batch_norm<torch::nn::BatchNorm3dImpl>(mod, gain)) {
    return;
  }
  torch::NoGradGuard no_grad;
  if (auto* sn = dynamic_cast<SpectralNormImpl*>(&mod)) {
    init_weight(sn->weight_orig, kind, gain);
    if (sn->bias.defined()) sn->bias.zero_();
  } else if (auto* wn = dynamic_cast<WeightNormImpl*>(&mod)) {
    init_weight(wn->weight_v, kind, gain);
    wn->reset_magnitude();
    if (wn->bias.defined()) wn->bias.zero_();
  }
}

}  // namespace

void init_weights(torch::nn::Module& module, const std::string& kind, double gain) {
  check_choice("init", kind, kInitNames);
  EMGAN_CHECK(ConfigError, gain > 0.0, "init_gain = ", gain, " must be > 0");
  if (kind == "default") return;
  // The module itself by reference (it may not be held by a shared_ptr yet, e.g. when
  // a model initialises itself in its constructor), then its descendants.
  init_module(module, kind, gain);
  for (const auto& m : module.modules(/*include_self=*/false)) init_module(*m, kind, gain);
}

}  // namespace emgan::nn
