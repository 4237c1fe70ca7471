// The SliceGAN training recipe (Kench and Cooper 2021): WGAN-GP, critic_steps critic
// updates per generator update, each critic fed real 2D crops and the slices of the
// generated volumes along its axis.
#include <array>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/losses/gan.h"
#include "emgan/models/slicegan.h"
#include "recipe.h"

namespace emgan::generate::detail {

namespace {

class SliceGanRecipe : public Recipe {
 public:
  SliceGanRecipe(const GenerateTrainSettings& s, const Encoding& enc, const torch::Device& device)
      : settings_(s), targets_(requested_fractions(s, enc)), device_(device) {
    EMGAN_CHECK(ConfigError, s.critic_input == "soft" || enc.kind == "phases",
                "critic_input = ", s.critic_input,
                " needs n-phase data (one-hot phases); these data are ", enc.kind);
    models::SliceGanGeneratorOptions go;
    go.latent_channels = s.latent_channels;
    go.channels = enc.channels;
    go.width = s.width;
    go.output = enc.kind == "phases" ? "softmax" : "tanh";
    go.upsample = s.g_upsample;
    generator_ = models::SliceGanGenerator(go);
    generator_->to(device);
    critic_options_.channels = enc.channels;
    critic_options_.width = s.width;
    // Three critics (one per slicing axis) for three training images or a volume;
    // one shared critic for a single (isotropic) image.
    const int64_t n_critics = (enc.volume || s.data.size() == 3) ? 3 : 1;
    for (int64_t i = 0; i < n_critics; ++i) {
      critics_.push_back(models::SliceGanCritic(critic_options_));
      critics_.back()->to(device);
    }
    opt_g_ = adam(generator_->parameters());
    for (auto& c : critics_) opt_d_.push_back(adam(c->parameters()));
    size_ = models::SliceGanGeneratorImpl::output_size(s.latent_size);
    EMGAN_CHECK(ConfigError, size_ >= 64, "slicegan: latent_size ", s.latent_size, " gives ", size_,
                "-voxel volumes; the critic needs >= 64 (latent_size >= 4)");
  }

  std::vector<std::pair<std::string, torch::nn::Module*>> modules() override {
    std::vector<std::pair<std::string, torch::nn::Module*>> m = {{"G", generator_.get()}};
    for (size_t i = 0; i < critics_.size(); ++i) m.emplace_back("D" + std::to_string(i), critics_[i].get());
    return m;
  }
  std::vector<std::pair<std::string, torch::nn::Module*>> inference_modules() override {
    return {{"G", generator_.get()}};
  }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimizers() override {
    std::vector<std::pair<std::string, torch::optim::Optimizer*>> o = {{"G", opt_g_.get()}};
    for (size_t i = 0; i < opt_d_.size(); ++i) o.emplace_back("D" + std::to_string(i), opt_d_[i].get());
    return o;
  }
  std::vector<std::string> metric_names() const override {
    std::vector<std::string> names = {"loss_d", "loss_g",        "wasserstein",
                                      "gp",     "fraction_loss", "mode_seeking"};
    // The Wasserstein estimate of each axis' slices (volume dims D, H, W = z, y, x of micro
    // stats): which critic lets the generator through.
    for (const char* a : {"z", "y", "x"}) names.push_back(std::string("wasserstein_") + a);
    for (int64_t p = 0; p < generator_->options.channels && generator_->options.output == "softmax"; ++p)
      names.push_back("fraction_" + std::to_string(p));
    return names;
  }
  bool volumetric() const override { return true; }

  void reset_critics(const std::vector<std::string>& axes) override {
    EMGAN_CHECK(ConfigError, critics_.size() == 3 || axes.size() == 3,
                "reset_critics = ", join(axes),
                ": this run has one critic shared by the three axes (one isotropic training "
                "image); restart it with reset_critics = z,y,x");
    for (const auto& a : axes) {
      // Axis names in the order of the volume dims, as the wasserstein_<axis> columns.
      const auto axis = std::string("zyx").find(a);
      EMGAN_CHECK(ConfigError, a.size() == 1 && axis != std::string::npos, "reset_critics: axis '",
                  a, "' is not one of: z, y, x");
      const auto i = critics_.size() == 1 ? size_t{0} : axis;
      critics_[i] = models::SliceGanCritic(critic_options_);
      critics_[i]->to(device_);
      opt_d_[i] = adam(critics_[i]->parameters());
    }
  }

  torch::Tensor latent(int64_t n, int64_t l) const {
    return torch::randn({n, settings_.latent_channels, l, l, l}, torch::TensorOptions().device(device_));
  }

  std::unique_ptr<torch::optim::Adam> adam(std::vector<torch::Tensor> params) const {
    const auto& o = settings_.optimizer();
    return std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
  }

  std::map<std::string, double> step(const TrainingData& data, double) override {
    generator_->train();
    const int64_t b = settings_.batch_size;
    const int64_t br = settings_.real_batch > 0 ? settings_.real_batch : b;
    double loss_d = 0.0, wdist = 0.0, gp_sum = 0.0;
    std::array<double, 3> wdist_axis{};  // per axis, mean over the critic steps
    int64_t terms = 0;
    set_critics_grad(true);
    for (int64_t c = 0; c < settings_.critic_steps; ++c) {
      torch::Tensor fake;
      {
        torch::NoGradGuard no_grad;
        fake = critic_view(generator_->forward(latent(b, settings_.latent_size)));
      }
      for (int64_t axis = 0; axis < 3; ++axis) {
        auto& critic = critics_[critics_.size() == 1 ? 0 : static_cast<size_t>(axis)];
        auto& opt = *opt_d_[critics_.size() == 1 ? 0 : static_cast<size_t>(axis)];
        const auto real = augment_crops(data.crops(axis, br, size_), settings_.augment);
        const auto fake_slices =
            models::random_volume_slices(fake, axis, settings_.slices_per_volume);
        const auto pick = torch::randperm(fake_slices.size(0), torch::TensorOptions().dtype(torch::kLong))
                              .narrow(0, 0, std::min<int64_t>(br, fake_slices.size(0)))
                              .to(device_);
        const auto fake_gp = fake_slices.index_select(0, pick);
        const auto real_gp = real.narrow(0, 0, fake_gp.size(0));
        opt.zero_grad();
        const auto out_real = critic->forward(real).mean();
        const auto out_fake = critic->forward(fake_slices).mean();
        const auto gp = losses::gradient_penalty([&](const torch::Tensor& x) { return critic->forward(x); },
                                                 real_gp, fake_gp, settings_.gp_lambda);
        const auto loss = out_fake - out_real + gp;
        loss.backward();
        opt.step();
        loss_d += loss.item<double>();
        const double w = (out_real - out_fake).item<double>();
        wdist += w;
        wdist_axis[static_cast<size_t>(axis)] += w / static_cast<double>(settings_.critic_steps);
        gp_sum += gp.item<double>();
        ++terms;
      }
    }
    set_critics_grad(false);
    opt_g_->zero_grad();
    const auto z = latent(b, settings_.latent_size);
    const auto fake = generator_->forward(z);
    const auto seen = critic_view(fake);
    auto adv = torch::zeros({}, fake.options());
    for (int64_t axis = 0; axis < 3; ++axis) {
      auto& critic = critics_[critics_.size() == 1 ? 0 : static_cast<size_t>(axis)];
      adv = adv -
            critic->forward(models::random_volume_slices(seen, axis, settings_.slices_per_volume))
                .mean();
    }
    const auto floss = fraction_loss(fake, targets_, settings_.fraction_weight);
    const auto ms = mode_seeking_loss(fake, z, settings_.mode_seeking);
    const auto loss_g = adv + floss + ms;
    loss_g.backward();
    opt_g_->step();
    set_critics_grad(true);
    std::map<std::string, double> m = {{"loss_d", loss_d / static_cast<double>(terms)},
                                       {"loss_g", adv.item<double>()},
                                       {"wasserstein", wdist / static_cast<double>(terms)},
                                       {"gp", gp_sum / static_cast<double>(terms)},
                                       {"fraction_loss", floss.item<double>()},
                                       {"mode_seeking", ms.item<double>()}};
    for (size_t a = 0; a < 3; ++a) m[std::string("wasserstein_") + "zyx"[a]] = wdist_axis[a];
    if (generator_->options.output == "softmax") {
      const auto f = fake.detach().mean({0, 2, 3, 4}).to(torch::kCPU, torch::kDouble);
      for (int64_t p = 0; p < f.size(0); ++p) m["fraction_" + std::to_string(p)] = f[p].item<double>();
    }
    return m;
  }

  torch::Tensor sample(int64_t count, int64_t size, bool periodic, bool batch_stats) override {
    const int64_t want = size > 0 ? size : size_;
    const int64_t l = models::SliceGanGeneratorImpl::latent_size_for(want, periodic);
    return with_norm_stats(*generator_, batch_stats, [&] {
      std::vector<torch::Tensor> out;
      for (int64_t i = 0; i < count; ++i) {
        auto v = generator_->forward(latent(1, l), periodic);
        if (!periodic) v = v.narrow(2, 0, want).narrow(3, 0, want).narrow(4, 0, want);
        out.push_back(v);
      }
      return torch::cat(out);
    });
  }

 private:
  /// The generated volume as the critics see it (critic_input).
  torch::Tensor critic_view(const torch::Tensor& fake) const {
    return settings_.critic_input == "hard" ? straight_through_one_hot(fake) : fake;
  }

  void set_critics_grad(bool on) {
    for (auto& c : critics_)
      for (auto& p : c->parameters()) p.set_requires_grad(on);
  }

  GenerateTrainSettings settings_;
  std::vector<double> targets_;
  torch::Device device_;
  models::SliceGanGenerator generator_{nullptr};
  models::SliceGanCriticOptions critic_options_;
  std::vector<models::SliceGanCritic> critics_;
  std::unique_ptr<torch::optim::Adam> opt_g_;
  std::vector<std::unique_ptr<torch::optim::Adam>> opt_d_;
  int64_t size_ = 64;
};

}  // namespace

std::unique_ptr<Recipe> make_slicegan_recipe(const GenerateTrainSettings& settings, const Encoding& encoding,
                                             const torch::Device& device) {
  return std::make_unique<SliceGanRecipe>(settings, encoding, device);
}

}  // namespace emgan::generate::detail
