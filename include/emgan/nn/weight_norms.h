#pragma once
/// \file weight_norms.h
/// Re-parametrisations of a layer's weight, as torch.nn.utils does them in Python:
/// - SpectralNorm (Miyato et al. 2018): W = W_orig / sigma, sigma = u^T W_mat v, with
///   one power iteration per forward in training mode (none in eval mode) updating the
///   persistent buffers u and v. W_mat is the weight reshaped to [out, -1]; for
///   transposed convolutions the output channels are dimension 1, as in PyTorch.
/// - WeightNorm (Salimans & Kingma 2016): W = g * v / ||v||, the norm taken over all
///   dimensions but 0.
///
/// The wrapper takes over the weight and bias of the wrapped layer; its parameter and
/// buffer names are those of torch.nn.utils.spectral_norm / weight_norm
/// (`weight_orig`, `weight_u`, `weight_v`, `bias`; `weight_g`, `weight_v`, `bias`), so a
/// saved module maps 1:1 onto a Python layer with the same utility applied.
/// Wrappable layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d, Linear. The wrapped layer
/// itself is not registered as a child (its own `weight` is recomputed each forward).
#include <torch/torch.h>

#include <functional>

namespace emgan::nn {

/// Options of SpectralNorm.
struct SpectralNormOptions {
  /// Power iterations per forward in training mode (>= 0; PyTorch's default 1).
  TORCH_ARG(int64_t, n_power_iterations) = 1;
  /// Epsilon of the vector normalisation.
  TORCH_ARG(double, eps) = 1e-12;
};

namespace detail {
/// The wrapped layer: how to run it with a given weight.
struct WrappedLayer {
  std::function<void(const torch::Tensor&)> set_weight;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  torch::Tensor weight;  ///< the layer's original weight parameter
  torch::Tensor bias;    ///< its bias (undefined when it has none)
  int64_t out_dim = 0;   ///< dimension of the weight indexing output features
};
}  // namespace detail

/// Spectral normalisation of a layer's weight (see the file comment).
/// forward: the wrapped layer's input -> its output, computed with W_orig / sigma.
class SpectralNormImpl : public torch::nn::Module {
 public:
  explicit SpectralNormImpl(torch::nn::Conv1d layer, SpectralNormOptions options = {});
  explicit SpectralNormImpl(torch::nn::Conv2d layer, SpectralNormOptions options = {});
  explicit SpectralNormImpl(torch::nn::Conv3d layer, SpectralNormOptions options = {});
  explicit SpectralNormImpl(torch::nn::ConvTranspose1d layer, SpectralNormOptions options = {});
  explicit SpectralNormImpl(torch::nn::ConvTranspose2d layer, SpectralNormOptions options = {});
  explicit SpectralNormImpl(torch::nn::ConvTranspose3d layer, SpectralNormOptions options = {});
  explicit SpectralNormImpl(torch::nn::Linear layer, SpectralNormOptions options = {});

  torch::Tensor forward(torch::Tensor x);

  /// The normalised weight W_orig / sigma; runs the power iteration (updating u, v)
  /// only when `power_iteration` is true.
  torch::Tensor normalized_weight(bool power_iteration);

  /// W_orig reshaped to the [out, -1] matrix whose largest singular value is estimated.
  torch::Tensor weight_matrix() const;

  SpectralNormOptions options;
  torch::Tensor weight_orig;  ///< parameter, the layer's weight before normalisation
  torch::Tensor bias;         ///< parameter (undefined when the layer has no bias)
  torch::Tensor weight_u;     ///< buffer [out], left singular vector estimate
  torch::Tensor weight_v;     ///< buffer [in * k...], right singular vector estimate

 private:
  void init(detail::WrappedLayer layer);
  detail::WrappedLayer layer_;
};
TORCH_MODULE(SpectralNorm);

/// Weight normalisation W = g * v / ||v|| over all dimensions but 0 (see file comment).
/// At construction g = ||W|| and v = W, so the layer computes the same as before.
class WeightNormImpl : public torch::nn::Module {
 public:
  explicit WeightNormImpl(torch::nn::Conv1d layer);
  explicit WeightNormImpl(torch::nn::Conv2d layer);
  explicit WeightNormImpl(torch::nn::Conv3d layer);
  explicit WeightNormImpl(torch::nn::ConvTranspose1d layer);
  explicit WeightNormImpl(torch::nn::ConvTranspose2d layer);
  explicit WeightNormImpl(torch::nn::ConvTranspose3d layer);
  explicit WeightNormImpl(torch::nn::Linear layer);

  torch::Tensor forward(torch::Tensor x);

  /// g * v / ||v||.
  torch::Tensor normalized_weight() const;

  /// Sets g to ||v|| (after v was re-initialised), so that W = v.
  void reset_magnitude();

  torch::Tensor weight_g;  ///< parameter [out, 1, ...], magnitude per output slice
  torch::Tensor weight_v;  ///< parameter, direction, shaped like the weight
  torch::Tensor bias;      ///< parameter (undefined when the layer has no bias)

 private:
  void init(detail::WrappedLayer layer);
  detail::WrappedLayer layer_;
};
TORCH_MODULE(WeightNorm);

/// Initialises every layer of `module` (recursively) as pix2pix's init_weights does:
/// convolution / linear weights (also `weight_orig` / `weight_v` of the wrappers above)
/// with `kind` = "normal" (N(0, gain)), "xavier" (Xavier normal, gain), "kaiming"
/// (Kaiming normal, fan_in, a = 0) or "orthogonal" (gain); their biases to 0; batch
/// norm weights N(1, gain) and biases 0. "default" leaves LibTorch's initialisation.
/// Uses torch's global generator (seed it for reproducible weights).
void init_weights(torch::nn::Module& module, const std::string& kind = "normal",
                  double gain = 0.02);

/// Initialisation names accepted by init_weights.
extern const std::vector<std::string> kInitNames;

}  // namespace emgan::nn
