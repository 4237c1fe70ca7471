#pragma once
/// \file cyclegan.h
/// The contrast GAN of the tandem-GAN pipeline (step 4): CycleGAN (Zhu et al. 2017)
/// between domain A (1st-generation images made by the morphology GAN) and domain B
/// (real images), so that G_AB gives A images the contrast and noise of B while the
/// cycle loss keeps their geometry, i.e. the masks stay valid. ResNet generators,
/// PatchGAN discriminators, least-squares GAN loss, cycle weight 10, identity weight
/// 0.5 (relative to the cycle weight, as in the reference code), image pools of 50,
/// learning rate constant for half the epochs and then linearly decayed to 0.
///
/// Step order (pytorch-CycleGAN-and-pix2pix): fakes and reconstructions; the
/// generators' step with both discriminators frozen (GAN + cycle + identity terms);
/// then each discriminator's step on a real and a pooled, detached fake, loss halved.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "emgan/core/config.h"
#include "emgan/core/runtime.h"
#include "emgan/losses/gan.h"
#include "emgan/losses/image_pool.h"
#include "emgan/models/model.h"
#include "emgan/train/trainer.h"

namespace emgan::segment {

/// An image-to-image map used by the loss helpers ([N, C, H, W] -> same shape).
using ImageMap = std::function<torch::Tensor(const torch::Tensor&)>;

/// The cycle and identity terms of the generators' loss (each already weighted):
/// cycle_a = lambda_cycle |G_BA(G_AB(a)) - a|_1, cycle_b likewise; idt_a =
/// lambda_cycle lambda_identity |G_AB(b) - b|_1 (G_AB should leave B images alone),
/// idt_b = lambda_cycle lambda_identity |G_BA(a) - a|_1. Means over elements.
struct CycleTerms {
  torch::Tensor cycle_a, cycle_b, idt_a, idt_b;
  torch::Tensor fake_b, fake_a;  ///< G_AB(a), G_BA(b), for the adversarial terms
};
CycleTerms cycle_terms(const ImageMap& g_ab, const ImageMap& g_ba, const torch::Tensor& real_a,
                       const torch::Tensor& real_b, double lambda_cycle, double lambda_identity);

/// Weights of the CycleGAN recipe.
struct CycleGanOptions {
  double lambda_cycle = 10.0;    ///< weight of the cycle-consistency L1 terms
  double lambda_identity = 0.5;  ///< identity weight, relative to lambda_cycle (0 = none)
  int64_t pool_size = 50;        ///< fakes kept in each discriminator's image pool
  uint64_t seed = 0;             ///< seed of the pools
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CycleGanOptions, lambda_cycle, lambda_identity, pool_size, seed)

/// CycleGAN as a Recipe: batch.input = real A [N, C, H, W], batch.target = real B
/// (same shape, unpaired). Reports loss_g, loss_g_gan, loss_cycle, loss_idt, loss_d_a,
/// loss_d_b. Modules "G_AB", "G_BA", "D_A", "D_B"; optimizers "G" (both generators)
/// and "D" (both discriminators).
class CycleGanRecipe : public train::Recipe {
 public:
  CycleGanRecipe(models::GeneratorPtr g_ab, models::GeneratorPtr g_ba, models::DiscriminatorPtr d_a,
                 models::DiscriminatorPtr d_b, train::OptimizerPtr opt_g, train::OptimizerPtr opt_d,
                 std::shared_ptr<losses::GanLoss> gan, CycleGanOptions options = {});
  train::StepResult step(const train::Batch& batch) override;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules() const override;
  std::map<std::string, train::OptimizerPtr> optimizers() const override;
  const models::GeneratorPtr& g_ab() const { return g_ab_; }

 private:
  models::GeneratorPtr g_ab_, g_ba_;
  models::DiscriminatorPtr d_a_, d_b_;
  train::OptimizerPtr opt_g_, opt_d_;
  std::shared_ptr<losses::GanLoss> gan_;
  CycleGanOptions options_;
  std::shared_ptr<losses::ImagePool> pool_a_, pool_b_;
};

/// Settings of `emgan segment contrast`.
struct ContrastGanSettings {
  std::string generated;          ///< 1st-generation images (domain A)
  std::string real;               ///< real images (domain B)
  std::string out = "contrast_gan";  ///< run folder; 2nd generation in out/generated
  int64_t epochs = 10;            ///< passes (constant lr for the first half, then linear decay to 0)
  int64_t steps_per_epoch = 50;   ///< optimisation steps per epoch
  int64_t batch_size = 1;         ///< crops per step (CycleGAN: 1)
  int64_t crop = 128;             ///< crop side, px
  int64_t ngf = 32;               ///< ResNet generator width (CycleGAN: 64)
  int64_t n_blocks = 6;           ///< residual blocks (CycleGAN: 9 at 256 px)
  int64_t ndf = 32;               ///< PatchGAN width (CycleGAN: 64)
  double lr = 2e-4;               ///< Adam learning rate (beta1 0.5)
  CycleGanOptions cycle;          ///< loss weights and pools
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ContrastGanSettings, generated, real, out, epochs, steps_per_epoch,
                                                batch_size, crop, ngf, n_blocks, ndf, lr, cycle, runtime)

/// Trains the contrast GAN, writes out/g_ab.pt and passes every image of
/// `generated` through G_AB into out/generated/<stem>.tif (float32 in [0, 1]).
/// Returns the images written.
int64_t run_contrast_gan(const ContrastGanSettings& settings);

}  // namespace emgan::segment
