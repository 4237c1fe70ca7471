// Adversarial and reconstruction losses (gan.h, reconstruction.h).
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/losses/gan.h"
#include "emgan/losses/reconstruction.h"
#include "emgan/metrics/metrics.h"

namespace emgan::losses {
namespace {

Json options_object(const Json& j) { return j.is_null() ? Json::object() : j; }

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

void check_logits(const torch::Tensor& t, const char* what) {
  EMGAN_CHECK(ConfigError, t.defined() && t.numel() > 0, "gan loss: ", what,
              " logits are empty or undefined");
}

// --- GAN losses ---------------------------------------------------------------

class LabelGanLoss : public GanLoss {
 public:
  LabelGanLoss(std::string name, GanLabelOptions options)
      : name_(std::move(name)), options_(options) {
    EMGAN_CHECK(ConfigError,
                std::isfinite(options_.real_label) && std::isfinite(options_.fake_label),
                "gan loss '", name_, "': labels real_label=", options_.real_label,
                " fake_label=", options_.fake_label, " must be finite");
  }
  std::string name() const override { return name_; }
  Json options() const override { return options_; }

 protected:
  /// Distance of logits to a constant target, averaged over elements.
  virtual torch::Tensor distance(const torch::Tensor& logits, double label) const = 0;

  torch::Tensor discriminator_term(const torch::Tensor& real,
                                   const torch::Tensor& fake) const override {
    return distance(real, options_.real_label) + distance(fake, options_.fake_label);
  }
  torch::Tensor generator_term(const torch::Tensor& fake) const override {
    return distance(fake, options_.real_label);
  }

 private:
  std::string name_;
  GanLabelOptions options_;
};

class VanillaGanLoss : public LabelGanLoss {
 public:
  explicit VanillaGanLoss(GanLabelOptions o) : LabelGanLoss("vanilla", o) {}

 protected:
  torch::Tensor distance(const torch::Tensor& logits, double label) const override {
    return torch::binary_cross_entropy_with_logits(logits, torch::full_like(logits, label));
  }
};

class LsGanLoss : public LabelGanLoss {
 public:
  explicit LsGanLoss(GanLabelOptions o) : LabelGanLoss("lsgan", o) {}

 protected:
  torch::Tensor distance(const torch::Tensor& logits, double label) const override {
    return (logits - label).pow(2).mean();
  }
};

class HingeGanLoss : public GanLoss {
 public:
  std::string name() const override { return "hinge"; }
  Json options() const override { return Json::object(); }

 protected:
  torch::Tensor discriminator_term(const torch::Tensor& real,
                                   const torch::Tensor& fake) const override {
    return torch::relu(1.0 - real).mean() + torch::relu(1.0 + fake).mean();
  }
  torch::Tensor generator_term(const torch::Tensor& fake) const override { return -fake.mean(); }
};

class WganLoss : public GanLoss {
 public:
  explicit WganLoss(WganOptions o) : options_(o) {
    EMGAN_CHECK(ConfigError, std::isfinite(o.gp_lambda) && o.gp_lambda >= 0,
                "gan loss 'wgan': gp_lambda ", o.gp_lambda, " is invalid; expected >= 0");
  }
  std::string name() const override { return "wgan"; }
  Json options() const override { return options_; }
  double gradient_penalty_weight() const override { return options_.gp_lambda; }

 protected:
  torch::Tensor discriminator_term(const torch::Tensor& real,
                                   const torch::Tensor& fake) const override {
    return fake.mean() - real.mean();
  }
  torch::Tensor generator_term(const torch::Tensor& fake) const override { return -fake.mean(); }

 private:
  WganOptions options_;
};

// --- reconstruction losses --------------------------------------------------------

void check_same_shape(const std::string& name, const torch::Tensor& pred,
                      const torch::Tensor& target) {
  EMGAN_CHECK(ConfigError, pred.defined() && target.defined(), "loss '", name,
              "': undefined tensor");
  EMGAN_CHECK(ConfigError, pred.sizes() == target.sizes(), "loss '", name, "': pred shape ",
              shape_str(pred), " differs from target shape ", shape_str(target),
              "; expected equal shapes");
}

class L1Loss : public ReconstructionLoss {
 public:
  std::string name() const override { return "l1"; }
  Json options() const override { return Json::object(); }
  torch::Tensor operator()(const torch::Tensor& pred, const torch::Tensor& target) const override {
    check_same_shape(name(), pred, target);
    return (pred - target).abs().mean();
  }
};

class MseLoss : public ReconstructionLoss {
 public:
  std::string name() const override { return "mse"; }
  Json options() const override { return Json::object(); }
  torch::Tensor operator()(const torch::Tensor& pred, const torch::Tensor& target) const override {
    check_same_shape(name(), pred, target);
    return (pred - target).pow(2).mean();
  }
};

class L1MseLoss : public ReconstructionLoss {
 public:
  explicit L1MseLoss(L1MseOptions o) : options_(o) {
    EMGAN_CHECK(ConfigError, std::isfinite(o.l1_weight) && o.l1_weight >= 0,
                "loss 'l1+mse': l1_weight ", o.l1_weight, " is invalid; expected >= 0");
    EMGAN_CHECK(ConfigError, std::isfinite(o.mse_weight) && o.mse_weight >= 0,
                "loss 'l1+mse': mse_weight ", o.mse_weight, " is invalid; expected >= 0");
    EMGAN_CHECK(ConfigError, o.l1_weight + o.mse_weight > 0,
                "loss 'l1+mse': l1_weight and mse_weight are both 0; expected at least one > 0");
  }
  std::string name() const override { return "l1+mse"; }
  Json options() const override { return options_; }
  torch::Tensor operator()(const torch::Tensor& pred, const torch::Tensor& target) const override {
    check_same_shape(name(), pred, target);
    auto d = pred - target;
    return options_.l1_weight * d.abs().mean() + options_.mse_weight * d.pow(2).mean();
  }

 private:
  L1MseOptions options_;
};

class SsimLoss : public ReconstructionLoss {
 public:
  explicit SsimLoss(SsimLossOptions o) : options_(o) {
    EMGAN_CHECK(ConfigError, std::isfinite(o.data_range) && o.data_range > 0,
                "loss 'ssim': data_range ", o.data_range,
                " is invalid; expected the value span of the images (> 0), e.g. 2 for [-1, 1]");
    ssim_ = metrics::SsimOptions().sigma(o.sigma).truncate(o.truncate).k1(o.k1).k2(o.k2);
    metrics::ssim_window_size(ssim_);  // validates sigma, truncate, k1, k2
  }
  std::string name() const override { return "ssim"; }
  Json options() const override { return options_; }
  torch::Tensor operator()(const torch::Tensor& pred, const torch::Tensor& target) const override {
    check_same_shape(name(), pred, target);
    auto map = metrics::ssim_map(pred, target, options_.data_range, ssim_);
    return 1.0 - metrics::cropped_mean(map, ssim_);
  }

 private:
  SsimLossOptions options_;
  metrics::SsimOptions ssim_;
};

template <typename T>
T parse(const Json& j, const std::string& what) {
  return settings_from_json<T>(options_object(j), what);
}

void check_no_options(const Json& j, const std::string& what) {
  const Json o = options_object(j);
  EMGAN_CHECK(ConfigError, o.is_object() && o.empty(), what, " takes no options, got ", o.dump());
}

}  // namespace

// --- GanLoss -------------------------------------------------------------------------

torch::Tensor GanLoss::discriminator_loss(const torch::Tensor& real_logits,
                                          const torch::Tensor& fake_logits) const {
  check_logits(real_logits, "real");
  check_logits(fake_logits, "fake");
  return discriminator_term(real_logits, fake_logits);
}

torch::Tensor GanLoss::discriminator_loss(const std::vector<torch::Tensor>& real_logits,
                                          const std::vector<torch::Tensor>& fake_logits) const {
  EMGAN_CHECK(ConfigError, !real_logits.empty() && real_logits.size() == fake_logits.size(),
              "gan loss '", name(), "': ", real_logits.size(), " real and ", fake_logits.size(),
              " fake scales; expected the same non-zero number");
  torch::Tensor sum = discriminator_loss(real_logits[0], fake_logits[0]);
  for (size_t i = 1; i < real_logits.size(); ++i)
    sum = sum + discriminator_loss(real_logits[i], fake_logits[i]);
  return sum / static_cast<double>(real_logits.size());
}

torch::Tensor GanLoss::generator_loss(const torch::Tensor& fake_logits) const {
  check_logits(fake_logits, "fake");
  return generator_term(fake_logits);
}

torch::Tensor GanLoss::generator_loss(const std::vector<torch::Tensor>& fake_logits) const {
  EMGAN_CHECK(ConfigError, !fake_logits.empty(), "gan loss '", name(),
              "': no scales of fake logits");
  torch::Tensor sum = generator_loss(fake_logits[0]);
  for (size_t i = 1; i < fake_logits.size(); ++i) sum = sum + generator_loss(fake_logits[i]);
  return sum / static_cast<double>(fake_logits.size());
}

torch::Tensor gradient_penalty(const Critic& critic, const torch::Tensor& real,
                               const torch::Tensor& fake, double lambda) {
  EMGAN_CHECK(ConfigError, std::isfinite(lambda) && lambda >= 0, "gradient_penalty: lambda ",
              lambda, " is invalid; expected >= 0");
  EMGAN_CHECK(ConfigError,
              real.defined() && fake.defined() && real.sizes() == fake.sizes() && real.dim() >= 1 &&
                  real.size(0) > 0,
              "gradient_penalty: real ", (real.defined() ? shape_str(real) : "undefined"),
              " and fake ", (fake.defined() ? shape_str(fake) : "undefined"),
              " must have the same shape [N, ...] with N > 0");
  const int64_t n = real.size(0);
  std::vector<int64_t> alpha_shape(static_cast<size_t>(real.dim()), 1);
  alpha_shape[0] = n;
  auto alpha = torch::rand(alpha_shape, real.options());
  auto x = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(true);
  auto out = critic(x);
  EMGAN_CHECK(ConfigError, out.defined() && out.requires_grad(),
              "gradient_penalty: the critic's output does not depend on its input");
  auto grad = torch::autograd::grad({out}, {x}, {torch::ones_like(out)}, /*retain_graph=*/true,
                                    /*create_graph=*/true)[0];
  auto norm = (grad.reshape({n, -1}).pow(2).sum(1) + 1e-12).sqrt();
  return lambda * (norm - 1.0).pow(2).mean();
}

Registry<std::shared_ptr<GanLoss>, const Json&>& gan_loss_registry() {
  static Registry<std::shared_ptr<GanLoss>, const Json&> registry = [] {
    Registry<std::shared_ptr<GanLoss>, const Json&> r("gan loss");
    r.add(
        "vanilla",
        [](const Json& j) -> std::shared_ptr<GanLoss> {
          return std::make_shared<VanillaGanLoss>(parse<GanLabelOptions>(j, "gan loss 'vanilla'"));
        },
        "binary cross-entropy on logits (pix2pix); options real_label, fake_label");
    r.add(
        "lsgan",
        [](const Json& j) -> std::shared_ptr<GanLoss> {
          return std::make_shared<LsGanLoss>(parse<GanLabelOptions>(j, "gan loss 'lsgan'"));
        },
        "least squares (Mao et al. 2017); options real_label, fake_label");
    r.add(
        "hinge",
        [](const Json& j) -> std::shared_ptr<GanLoss> {
          check_no_options(j, "gan loss 'hinge'");
          return std::make_shared<HingeGanLoss>();
        },
        "hinge loss (Lim & Ye 2017, SN-GAN)");
    r.add(
        "wgan",
        [](const Json& j) -> std::shared_ptr<GanLoss> {
          return std::make_shared<WganLoss>(parse<WganOptions>(j, "gan loss 'wgan'"));
        },
        "Wasserstein critic with gradient penalty (WGAN-GP); option gp_lambda");
    return r;
  }();
  return registry;
}

std::shared_ptr<GanLoss> make_gan_loss(const std::string& name, const Json& options) {
  return gan_loss_registry().create(name, options);
}

Registry<std::shared_ptr<ReconstructionLoss>, const Json&>& reconstruction_loss_registry() {
  static Registry<std::shared_ptr<ReconstructionLoss>, const Json&> registry = [] {
    Registry<std::shared_ptr<ReconstructionLoss>, const Json&> r("reconstruction loss");
    r.add(
        "l1",
        [](const Json& j) -> std::shared_ptr<ReconstructionLoss> {
          check_no_options(j, "loss 'l1'");
          return std::make_shared<L1Loss>();
        },
        "mean absolute error");
    r.add(
        "mse",
        [](const Json& j) -> std::shared_ptr<ReconstructionLoss> {
          check_no_options(j, "loss 'mse'");
          return std::make_shared<MseLoss>();
        },
        "mean squared error");
    r.add(
        "l1+mse",
        [](const Json& j) -> std::shared_ptr<ReconstructionLoss> {
          return std::make_shared<L1MseLoss>(parse<L1MseOptions>(j, "loss 'l1+mse'"));
        },
        "l1_weight * L1 + mse_weight * MSE (default 0.5 / 0.5)");
    r.add(
        "ssim",
        [](const Json& j) -> std::shared_ptr<ReconstructionLoss> {
          return std::make_shared<SsimLoss>(parse<SsimLossOptions>(j, "loss 'ssim'"));
        },
        "1 - SSIM (Wang et al. 2004); option data_range required");
    return r;
  }();
  return registry;
}

std::shared_ptr<ReconstructionLoss> make_reconstruction_loss(const std::string& name,
                                                             const Json& options) {
  return reconstruction_loss_registry().create(name, options);
}

}  // namespace emgan::losses
