#pragma once
/// \file gan.h
/// Adversarial losses, built by name: "vanilla" (binary cross-entropy on logits,
/// Goodfellow et al. 2014 / pix2pix), "lsgan" (least squares, Mao et al. 2017),
/// "hinge" (Lim & Ye 2017; Miyato et al. 2018) and "wgan" (Wasserstein critic,
/// Arjovsky et al. 2017, with the gradient penalty of Gulrajani et al. 2017).
///
/// Logits are raw discriminator outputs of any shape (a PatchGAN gives
/// `[N, 1, h, w]`); every loss is the mean over their elements, so a 0-dim tensor
/// on the logits' device. For a multi-scale discriminator pass one logit tensor per
/// scale: the loss is the average over the scales.
///
/// The discriminator loss is the SUM of its real and its fake term (the papers'
/// definitions). pix2pix/CycleGAN optimise half of it for "vanilla" and "lsgan"
/// (`loss_D = 0.5 * (loss_D_real + loss_D_fake)`); a trainer that follows them
/// multiplies by 0.5 itself.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/registry.h"

namespace emgan::losses {

/// Target values of "vanilla" and "lsgan" (1 and 0 as in pix2pix; e.g. 0.9 for
/// one-sided label smoothing).
struct GanLabelOptions {
  double real_label = 1.0;  ///< target for real samples (and for the generator's fakes)
  double fake_label = 0.0;  ///< target for fake samples in the discriminator loss
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GanLabelOptions, real_label, fake_label)

/// Options of "wgan".
struct WganOptions {
  /// Weight of the gradient penalty (Gulrajani et al.: 10); 0 switches it off.
  double gp_lambda = 10.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WganOptions, gp_lambda)

/// One adversarial objective. Implementations define the single-scale terms; the
/// public functions take one logit tensor or one per scale.
class GanLoss {
 public:
  virtual ~GanLoss() = default;

  /// The registry name ("vanilla", "lsgan", "hinge", "wgan").
  virtual std::string name() const = 0;
  /// The effective hyperparameters, such that make_gan_loss(name(), options())
  /// builds an equal loss.
  virtual Json options() const = 0;

  /// Loss of the discriminator given its logits on real and on fake samples
  /// (shapes may differ); 0-dim tensor.
  torch::Tensor discriminator_loss(const torch::Tensor& real_logits,
                                   const torch::Tensor& fake_logits) const;
  /// Multi-scale form: the mean over scales of the single-scale loss; both vectors
  /// must have the same non-zero length (ConfigError otherwise).
  torch::Tensor discriminator_loss(const std::vector<torch::Tensor>& real_logits,
                                   const std::vector<torch::Tensor>& fake_logits) const;

  /// Loss of the generator given the discriminator's logits on its fakes; 0-dim.
  torch::Tensor generator_loss(const torch::Tensor& fake_logits) const;
  /// Multi-scale form: the mean over scales.
  torch::Tensor generator_loss(const std::vector<torch::Tensor>& fake_logits) const;

  /// Weight of the gradient penalty the trainer should add to the discriminator
  /// loss (see gradient_penalty); 0 for losses that use none.
  virtual double gradient_penalty_weight() const { return 0.0; }

 protected:
  virtual torch::Tensor discriminator_term(const torch::Tensor& real_logits,
                                           const torch::Tensor& fake_logits) const = 0;
  virtual torch::Tensor generator_term(const torch::Tensor& fake_logits) const = 0;
};

/// A critic/discriminator as a function of a batch `[N, ...]` to its logits.
using Critic = std::function<torch::Tensor(const torch::Tensor&)>;

/// WGAN-GP gradient penalty: lambda * mean_i (||grad_x D(x_i)||_2 - 1)^2 over the
/// samples x_i = a_i * real_i + (1 - a_i) * fake_i, a_i ~ U(0, 1) drawn from torch's
/// (seeded) generator, one per sample. `real` and `fake` have the same shape
/// `[N, ...]` and are detached; the result keeps the graph of `critic`'s
/// parameters (create_graph), so backward() on it reaches them. For a multi-scale
/// discriminator let `critic` return the sum of the per-scale mean logits.
/// 0-dim tensor on the inputs' device. lambda >= 0 (ConfigError otherwise).
torch::Tensor gradient_penalty(const Critic& critic, const torch::Tensor& real,
                               const torch::Tensor& fake, double lambda);

/// The table of adversarial losses: name -> factory taking options as JSON
/// ({} for defaults). Unknown names and unknown/mistyped option keys throw
/// ConfigError.
Registry<std::shared_ptr<GanLoss>, const Json&>& gan_loss_registry();

/// gan_loss_registry().create(name, options).
std::shared_ptr<GanLoss> make_gan_loss(const std::string& name,
                                       const Json& options = Json::object());

}  // namespace emgan::losses
