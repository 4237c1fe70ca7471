#pragma once
/// \file reconstruction.h
/// Pixel-wise reconstruction losses of image translation, built by name:
/// "l1", "mse", "l1+mse" (weighted sum; the STEM conv-to-multislice paper's 50:50)
/// and "ssim" (1 - SSIM, differentiable).
///
/// All take a prediction and a target of the same shape (`[N, C, H, W]`, also
/// `[C, H, W]` or `[H, W]` for "ssim"), floating point, on any one device, and
/// return a 0-dim tensor (mean over every element; for "ssim" 1 minus the mean
/// SSIM over the cropped map of every image and channel).
#include <torch/types.h>

#include <memory>
#include <string>

#include "emgan/core/config.h"
#include "emgan/core/registry.h"

namespace emgan::losses {

/// Options of "l1+mse": loss = l1_weight * L1 + mse_weight * MSE.
struct L1MseOptions {
  double l1_weight = 0.5;   ///< weight of the mean absolute error, >= 0
  double mse_weight = 0.5;  ///< weight of the mean squared error, >= 0 (not both 0)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(L1MseOptions, l1_weight, mse_weight)

/// Options of "ssim": loss = 1 - SSIM (Wang et al. 2004, see metrics::ssim_map).
struct SsimLossOptions {
  /// Span of the values the loss sees, in their unit: 1 for [0, 1], 2 for [-1, 1].
  /// Required: the default 0 is rejected, so a config must state it.
  double data_range = 0.0;
  double sigma = 1.5;     ///< Gaussian window standard deviation, pixels
  double truncate = 3.5;  ///< window radius in sigmas (11x11 window by default)
  double k1 = 0.01;       ///< luminance constant, C1 = (k1 * data_range)^2
  double k2 = 0.03;       ///< contrast constant, C2 = (k2 * data_range)^2
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SsimLossOptions, data_range, sigma, truncate, k1,
                                                k2)

/// A reconstruction objective between a prediction and its target.
class ReconstructionLoss {
 public:
  virtual ~ReconstructionLoss() = default;
  /// The registry name.
  virtual std::string name() const = 0;
  /// The effective hyperparameters (round-trip through the registry).
  virtual Json options() const = 0;
  /// The loss, a 0-dim tensor that is differentiable with respect to `pred`.
  /// Throws ConfigError when the shapes differ.
  virtual torch::Tensor operator()(const torch::Tensor& pred,
                                   const torch::Tensor& target) const = 0;
};

/// The table of reconstruction losses: name -> factory taking options as JSON.
Registry<std::shared_ptr<ReconstructionLoss>, const Json&>& reconstruction_loss_registry();

/// reconstruction_loss_registry().create(name, options).
std::shared_ptr<ReconstructionLoss> make_reconstruction_loss(const std::string& name,
                                                             const Json& options = Json::object());

}  // namespace emgan::losses
