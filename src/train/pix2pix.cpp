#include "emgan/train/pix2pix.h"

#include <cmath>

#include "emgan/core/error.h"

namespace emgan::train {

void set_requires_grad(torch::nn::Module& module, bool on) {
  for (auto& p : module.parameters(true)) p.set_requires_grad(on);
}

GanLossFns bce_gan_loss() {
  GanLossFns fns;
  fns.discriminator = [](const torch::Tensor& real, const torch::Tensor& fake) {
    auto l_real = torch::binary_cross_entropy_with_logits(real, torch::ones_like(real));
    auto l_fake = torch::binary_cross_entropy_with_logits(fake, torch::zeros_like(fake));
    return 0.5 * (l_real + l_fake);
  };
  fns.generator = [](const torch::Tensor& fake) {
    return torch::binary_cross_entropy_with_logits(fake, torch::ones_like(fake));
  };
  return fns;
}

ReconstructionLoss l1_loss() {
  return [](const torch::Tensor& output, const torch::Tensor& target) {
    return (output - target).abs().mean();
  };
}

void Pix2PixOptions::validate(const std::string& source) const {
  EMGAN_CHECK(ConfigError, lambda_gan >= 0 && std::isfinite(lambda_gan), source, ".lambda_gan = ",
              lambda_gan, " must be >= 0");
  EMGAN_CHECK(ConfigError, lambda_rec >= 0 && std::isfinite(lambda_rec), source, ".lambda_rec = ",
              lambda_rec, " must be >= 0");
  EMGAN_CHECK(ConfigError, lambda_gan > 0 || lambda_rec > 0, source,
              ": lambda_gan and lambda_rec are both 0 (nothing to train)");
}

namespace {

/// Restores D's requires_grad even when the G step throws.
class FreezeGuard {
 public:
  explicit FreezeGuard(torch::nn::Module* module) : module_(module) {
    if (module_) set_requires_grad(*module_, false);
  }
  ~FreezeGuard() {
    if (module_) set_requires_grad(*module_, true);
  }
  FreezeGuard(const FreezeGuard&) = delete;
  FreezeGuard& operator=(const FreezeGuard&) = delete;

 private:
  torch::nn::Module* module_;
};

}  // namespace

Pix2PixRecipe::Pix2PixRecipe(torch::nn::AnyModule generator, torch::nn::AnyModule discriminator,
                             OptimizerPtr opt_g, OptimizerPtr opt_d, GanLossFns gan_loss,
                             ReconstructionLoss rec_loss, Pix2PixOptions options)
    : g_(std::move(generator)),
      d_(std::move(discriminator)),
      opt_g_(std::move(opt_g)),
      opt_d_(std::move(opt_d)),
      gan_(std::move(gan_loss)),
      rec_(std::move(rec_loss)),
      options_(options) {
  options_.validate();
  EMGAN_CHECK(ConfigError, !g_.is_empty(), "pix2pix: no generator given");
  EMGAN_CHECK(ConfigError, opt_g_ != nullptr, "pix2pix: no generator optimizer given");
  if (options_.lambda_rec > 0) {
    EMGAN_CHECK(ConfigError, static_cast<bool>(rec_), "pix2pix: lambda_rec = ", options_.lambda_rec,
                " but no reconstruction loss given");
  }
  if (uses_d()) {
    EMGAN_CHECK(ConfigError, !d_.is_empty(), "pix2pix: lambda_gan = ", options_.lambda_gan,
                " needs a discriminator (or set lambda_gan = 0 for plain regression)");
    EMGAN_CHECK(ConfigError, opt_d_ != nullptr, "pix2pix: lambda_gan = ", options_.lambda_gan,
                " needs a discriminator optimizer");
    EMGAN_CHECK(ConfigError, gan_.discriminator && gan_.generator, "pix2pix: lambda_gan = ",
                options_.lambda_gan, " needs GAN loss functions for D and G");
  }
}

std::map<std::string, std::shared_ptr<torch::nn::Module>> Pix2PixRecipe::modules() const {
  std::map<std::string, std::shared_ptr<torch::nn::Module>> out{{"G", g_.ptr()}};
  if (!d_.is_empty()) out["D"] = d_.ptr();
  return out;
}

std::map<std::string, OptimizerPtr> Pix2PixRecipe::optimizers() const {
  std::map<std::string, OptimizerPtr> out{{"G", opt_g_}};
  if (opt_d_) out["D"] = opt_d_;
  return out;
}

torch::Tensor Pix2PixRecipe::d_input(const torch::Tensor& input, const torch::Tensor& image) const {
  return options_.conditional ? torch::cat({input, image}, 1) : image;
}

torch::Tensor Pix2PixRecipe::generate(const torch::Tensor& input) {
  torch::NoGradGuard guard;
  return g_.forward(input);
}

StepResult Pix2PixRecipe::step(const Batch& batch) {
  EMGAN_CHECK(ConfigError, batch.input.defined() && batch.target.defined(),
              "pix2pix: a batch needs both input and target");
  StepResult result;
  const torch::Tensor fake = g_.forward(batch.input);
  EMGAN_CHECK(ConfigError, fake.sizes() == batch.target.sizes(), "pix2pix: G output shape ",
              fake.sizes(), " differs from the target shape ", batch.target.sizes());

  if (uses_d()) {
    // D step on the detached fake (no gradient reaches G) and on the real pair.
    set_requires_grad(*d_.ptr(), true);
    opt_d_->zero_grad();
    torch::Tensor fake_pair = d_input(batch.input, fake).detach();
    if (pool_) fake_pair = pool_(fake_pair).detach();
    const torch::Tensor real_pair = d_input(batch.input, batch.target);
    const torch::Tensor pred_fake = d_.forward(fake_pair);
    const torch::Tensor pred_real = d_.forward(real_pair);
    torch::Tensor loss_d = gan_.discriminator(pred_real, pred_fake);
    if (gan_.penalty) {
      auto d_fn = [this](const torch::Tensor& x) { return d_.forward(x); };
      loss_d = loss_d + gan_.penalty(d_fn, real_pair, fake_pair);
    }
    loss_d.backward();
    opt_d_->step();
    result.losses["loss_d"] = loss_d.item<double>();
  }

  {
    // G step with D frozen: gradients flow through D into G, D's parameters get none.
    FreezeGuard freeze(uses_d() ? d_.ptr().get() : nullptr);
    opt_g_->zero_grad();
    torch::Tensor loss_g = torch::zeros({}, fake.options());
    if (uses_d()) {
      const torch::Tensor loss_gan = gan_.generator(d_.forward(d_input(batch.input, fake)));
      loss_g = loss_g + options_.lambda_gan * loss_gan;
      result.losses["loss_g_gan"] = loss_gan.item<double>();
    }
    if (options_.lambda_rec > 0) {
      const torch::Tensor loss_rec = rec_(fake, batch.target);
      loss_g = loss_g + options_.lambda_rec * loss_rec;
      result.losses["loss_g_rec"] = loss_rec.item<double>();
    }
    loss_g.backward();
    opt_g_->step();
    result.losses["loss_g"] = loss_g.item<double>();
  }
  return result;
}

}  // namespace emgan::train
