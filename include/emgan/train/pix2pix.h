#pragma once
/// \file pix2pix.h
/// The pix2pix recipe (Isola et al. 2017; the step order of pytorch-CycleGAN-and-pix2pix):
///   1. fake = G(input)
///   2. D step: D sees cat(input, fake).detach() (through the optional image pool) and
///      cat(input, target); loss_d = gan.discriminator(real_logits, fake_logits)
///      (+ gan.penalty); backward; opt_d step
///   3. D's parameters get requires_grad = false
///   4. G step: loss_g = lambda_gan * gan.generator(D(cat(input, fake))) +
///      lambda_rec * rec(fake, target); backward; opt_g step
///   5. D's parameters get requires_grad = true again
/// With lambda_gan = 0 the recipe is plain regression: D is never run nor stepped
/// (it may be absent). With `conditional = false` D sees only the image, not the pair.
#include <torch/torch.h>

#include <functional>

#include "emgan/train/trainer.h"

namespace emgan::train {

/// The GAN objective as functions of discriminator logits, so any GAN loss (vanilla,
/// least squares, hinge, WGAN-GP) plugs in.
struct GanLossFns {
  /// Discriminator loss from D's outputs on real and on (detached) fake samples.
  std::function<torch::Tensor(const torch::Tensor& real_logits, const torch::Tensor& fake_logits)>
      discriminator;
  /// Generator (adversarial) loss from D's outputs on fake samples.
  std::function<torch::Tensor(const torch::Tensor& fake_logits)> generator;
  /// Optional extra D term (e.g. WGAN gradient penalty) from D itself and the real and
  /// detached fake samples D was shown (both [N, C, H, W]).
  std::function<torch::Tensor(const std::function<torch::Tensor(const torch::Tensor&)>& d,
                              const torch::Tensor& real, const torch::Tensor& fake)>
      penalty;
};

/// Reconstruction loss rec(output, target) -> scalar (L1, MSE, SSIM, ALRC-wrapped ...).
using ReconstructionLoss =
    std::function<torch::Tensor(const torch::Tensor& output, const torch::Tensor& target)>;

/// The reference GAN loss of pix2pix ("vanilla"): D loss = 0.5 * (BCE(real, 1) +
/// BCE(fake, 0)) with logits, G loss = BCE(fake, 1).
GanLossFns bce_gan_loss();

/// Mean absolute error, the reference reconstruction loss of pix2pix.
ReconstructionLoss l1_loss();

/// Weights and options of the pix2pix recipe.
struct Pix2PixOptions {
  /// Weight of the adversarial term of G's loss (>= 0; 0 = plain regression, no D).
  double lambda_gan = 1.0;
  /// Weight of the reconstruction term of G's loss (>= 0; pix2pix uses 100 with L1).
  double lambda_rec = 100.0;
  /// D judges (input, output) pairs concatenated on channels (true, pix2pix) or the
  /// output alone (false).
  bool conditional = true;

  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "pix2pix") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Pix2PixOptions, lambda_gan, lambda_rec, conditional)

/// Recipe for paired image-to-image translation: batch.input [N, Cin, H, W] ->
/// G -> [N, Cout, H, W] compared with batch.target [N, Cout, H, W]. D takes
/// [N, Cin + Cout, H, W] (conditional) or [N, Cout, H, W] and returns logits of any shape.
/// Reported losses: loss_d, loss_g_gan (when lambda_gan > 0), loss_g_rec, loss_g.
class Pix2PixRecipe : public Recipe {
 public:
  /// `discriminator` and `opt_d` may be empty/null when options.lambda_gan == 0.
  Pix2PixRecipe(torch::nn::AnyModule generator, torch::nn::AnyModule discriminator,
                OptimizerPtr opt_g, OptimizerPtr opt_d, GanLossFns gan_loss,
                ReconstructionLoss rec_loss, Pix2PixOptions options = {});

  /// Image history for D (e.g. an image pool of 50): maps the detached fake samples D
  /// is about to see to those it is shown. Register its state with register_state()
  /// for exact resumes.
  void set_fake_pool(std::function<torch::Tensor(const torch::Tensor&)> pool) {
    pool_ = std::move(pool);
  }

  StepResult step(const Batch& batch) override;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules() const override;
  std::map<std::string, OptimizerPtr> optimizers() const override;

  /// G(input) in the current mode, without gradients.
  torch::Tensor generate(const torch::Tensor& input);

  torch::nn::AnyModule& generator() { return g_; }
  torch::nn::AnyModule& discriminator() { return d_; }
  const Pix2PixOptions& options() const { return options_; }

 private:
  torch::Tensor d_input(const torch::Tensor& input, const torch::Tensor& image) const;
  bool uses_d() const { return options_.lambda_gan > 0; }

  torch::nn::AnyModule g_;
  torch::nn::AnyModule d_;
  OptimizerPtr opt_g_;
  OptimizerPtr opt_d_;
  GanLossFns gan_;
  ReconstructionLoss rec_;
  Pix2PixOptions options_;
  std::function<torch::Tensor(const torch::Tensor&)> pool_;
};

/// Sets requires_grad of every parameter of `module`.
void set_requires_grad(torch::nn::Module& module, bool on);

}  // namespace emgan::train
