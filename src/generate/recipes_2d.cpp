// The 2D recipes: DCGAN (Radford et al. 2016), VAE (Kingma and Welling 2014) and
// VAE/GAN (Larsen et al. 2016).
#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/losses/gan.h"
#include "emgan/models/dcgan.h"
#include "emgan/models/vae.h"
#include "emgan/report/grid.h"
#include "recipe.h"

namespace emgan::generate::detail {

torch::Tensor Recipe::encode(const torch::Tensor&) {
  throw ConfigError("this model has no encoder (reconstruction needs vae or vaegan)");
}
torch::Tensor Recipe::decode(const torch::Tensor&) { throw ConfigError("this model has no 2D decoder"); }
void Recipe::reset_critics(const std::vector<std::string>&) {
  throw ConfigError("reset_critics: only slicegan has per-axis critics");
}

torch::Tensor with_norm_stats(torch::nn::Module& module, bool batch_stats, const std::function<torch::Tensor()>& fn) {
  torch::NoGradGuard no_grad;
  const bool was_training = module.is_training();
  std::vector<torch::Tensor> saved;
  for (const auto& b : module.buffers()) saved.push_back(b.clone());
  module.train(batch_stats);
  auto x = fn();
  module.train(was_training);
  auto buffers = module.buffers();
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  return x;
}

namespace {

/// Per-image reconstruction loss summed over pixels and channels, averaged over the
/// batch: cross-entropy against one-hot phases, squared error for intensities.
torch::Tensor reconstruction_loss(const torch::Tensor& out, const torch::Tensor& target, bool phases) {
  const int64_t n = out.size(0);
  if (phases) return -(target * (out + 1e-7).log()).sum() / static_cast<double>(n);
  return (out - target).pow(2).sum() / static_cast<double>(n);
}

class TwoDRecipe : public Recipe {
 public:
  TwoDRecipe(const GenerateTrainSettings& s, const Encoding& enc, const torch::Device& device)
      : s_(s),
        phases_(enc.kind == "phases"),
        targets_(requested_fractions(s, enc)),
        device_(device),
        gan_(losses::make_gan_loss(
            s.gan_loss, s.gan_loss == "wgan" ? Json{{"gp_lambda", s.gp_lambda}} : Json::object())) {
    EMGAN_CHECK(ConfigError, s.critic_input == "soft" || phases_, "critic_input = ", s.critic_input,
                " needs n-phase data (one-hot phases); these data are ", enc.kind);
    const std::string output = phases_ ? "softmax" : "tanh";
    const bool has_d = s.model != "vae";
    has_e_ = s.model != "dcgan";
    latent_ = s.latent > 0 ? s.latent : (s.model == "dcgan" ? s.image_size / 2 : 64);
    auto adam = [&](std::vector<torch::Tensor> params) {
      return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(s.optimizer().lr).betas({s.optimizer().beta1, s.optimizer().beta2}));
    };
    const int64_t base = std::max<int64_t>(1, static_cast<int64_t>(std::lround(64.0 * s.width)));
    models::VaeOptions vo;  // the VAE's encoder and decoder
    vo.image_size = s.image_size;
    vo.channels = enc.channels;
    vo.latent = latent_;
    vo.width = s.width;
    vo.output = output;
    if (s.model == "vae") {
      decoder_vae_ = models::VaeDecoder(vo);
      decoder_vae_->to(device);
      opt_g_ = adam(decoder_vae_->parameters());
    } else {
      models::DcganGeneratorOptions go;
      go.image_size = s.image_size;
      go.latent = latent_;
      go.channels = enc.channels;
      go.ngf = base;
      go.norm = s.g_norm;
      go.upsample = s.g_upsample;
      go.output = output;
      generator_ = models::DcganGenerator(go);
      generator_->to(device);
      opt_g_ = adam(generator_->parameters());
    }
    if (has_e_) {
      encoder_ = models::VaeEncoder(vo);
      encoder_->to(device);
      opt_e_ = adam(encoder_->parameters());
    }
    if (has_d) {
      models::DcganDiscriminatorOptions dopt;
      dopt.image_size = s.image_size;
      dopt.channels = enc.channels;
      dopt.ndf = base;
      dopt.spectral_norm = s.spectral_norm;
      dopt.minibatch_std = s.minibatch_std;
      discriminator_ = models::DcganDiscriminator(dopt);
      discriminator_->to(device);
      opt_d_ = adam(discriminator_->parameters());
    }
  }

  torch::nn::Module* g() { return generator_ ? static_cast<torch::nn::Module*>(generator_.get()) : decoder_vae_.get(); }
  torch::Tensor gen(const torch::Tensor& z) { return generator_ ? generator_->forward(z) : decoder_vae_->forward(z); }

  std::vector<std::pair<std::string, torch::nn::Module*>> modules() override {
    std::vector<std::pair<std::string, torch::nn::Module*>> m = {{"G", g()}};
    if (encoder_) m.emplace_back("E", encoder_.get());
    if (discriminator_) m.emplace_back("D", discriminator_.get());
    return m;
  }
  std::vector<std::pair<std::string, torch::nn::Module*>> inference_modules() override {
    std::vector<std::pair<std::string, torch::nn::Module*>> m = {{"G", g()}};
    if (encoder_) m.emplace_back("E", encoder_.get());
    return m;
  }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimizers() override {
    std::vector<std::pair<std::string, torch::optim::Optimizer*>> o = {{"G", opt_g_.get()}};
    if (opt_e_) o.emplace_back("E", opt_e_.get());
    if (opt_d_) o.emplace_back("D", opt_d_.get());
    return o;
  }
  std::vector<std::string> metric_names() const override {
    if (s_.model == "dcgan") return {"loss_d", "loss_g", "fraction_loss"};
    if (s_.model == "vae") return {"loss_d", "loss_g", "recon", "kl", "fraction_loss"};
    return {"loss_d", "loss_g", "recon", "kl", "feature_recon", "fraction_loss"};
  }
  bool volumetric() const override { return false; }
  int64_t image_size() const override { return s_.image_size; }

  torch::Tensor noise(int64_t n) const { return torch::randn({n, latent_}, torch::TensorOptions().device(device_)); }

  std::map<std::string, double> step(const TrainingData& data, double progress) override {
    g()->train();
    const auto real = augment_crops(data.random_crops(s_.batch_size, s_.image_size), s_.augment);
    noise_sigma_ = s_.instance_noise * (1.0 - progress);
    if (s_.model == "dcgan") return dcgan_step(real, data);
    if (s_.model == "vae") return vae_step(real);
    return vaegan_step(real);
  }

  /// The discriminator's logits of `x` seen through instance noise (Sonderby et al.
  /// 2017): Gaussian noise of the current sigma on real and fake inputs alike, so
  /// one-hot real phases and softmax fakes are not told apart by their values alone.
  torch::Tensor judge(const torch::Tensor& x) {
    if (noise_sigma_ <= 0.0) return discriminator_->forward(x);
    return discriminator_->forward(x + noise_sigma_ * torch::randn_like(x));
  }

  /// A generated image as the discriminator sees it (critic_input): its softmax
  /// probabilities, or its one-hot argmax phases with straight-through gradients.
  torch::Tensor seen(const torch::Tensor& fake) const {
    return s_.critic_input == "hard" ? straight_through_one_hot(fake) : fake;
  }

  /// The discriminator loss of one batch, with the gradient penalty of "wgan".
  torch::Tensor d_loss(const torch::Tensor& real, const torch::Tensor& fake) {
    auto loss = gan_->discriminator_loss(judge(real), judge(fake));
    const double w = gan_->gradient_penalty_weight();
    if (w > 0.0)
      loss = loss + losses::gradient_penalty([&](const torch::Tensor& x) { return judge(x); }, real,
                                             fake, w);
    return loss;
  }

  /// D steps (critic_steps of them for "wgan", each on new real crops and fakes, one
  /// otherwise), then one G step.
  std::map<std::string, double> dcgan_step(const torch::Tensor& real, const TrainingData& data) {
    const int64_t d_steps = s_.gan_loss == "wgan" ? s_.critic_steps : 1;
    torch::Tensor loss_d;
    for (int64_t k = 0; k + 1 < d_steps; ++k) {
      torch::Tensor fake;
      {
        torch::NoGradGuard no_grad;
        fake = seen(gen(noise(real.size(0))));
      }
      const auto r = augment_crops(data.random_crops(real.size(0), s_.image_size), s_.augment);
      opt_d_->zero_grad();
      loss_d = d_loss(r, fake);
      loss_d.backward();
      opt_d_->step();
    }
    const auto fake = gen(noise(real.size(0)));
    const auto fake_seen = seen(fake);
    opt_d_->zero_grad();
    loss_d = d_loss(real, fake_seen.detach());
    loss_d.backward();
    opt_d_->step();
    opt_g_->zero_grad();
    const auto adv = gan_->generator_loss(judge(fake_seen));
    const auto floss = fraction_loss(fake, targets_, s_.fraction_weight);
    (adv + floss).backward();
    opt_g_->step();
    return {{"loss_d", loss_d.item<double>()}, {"loss_g", adv.item<double>()}, {"fraction_loss", floss.item<double>()}};
  }

  std::map<std::string, double> vae_step(const torch::Tensor& real) {
    encoder_->train();
    const auto [mu, logvar] = encoder_->forward(real);
    const auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
    const auto rec = gen(z);
    const auto recon = reconstruction_loss(rec, real, phases_);
    const auto kl = models::kl_divergence(mu, logvar);
    const auto floss = fraction_loss(gen(noise(real.size(0))), targets_, s_.fraction_weight);
    const auto loss = recon + s_.kl_weight * kl + floss;
    opt_e_->zero_grad();
    opt_g_->zero_grad();
    loss.backward();
    opt_e_->step();
    opt_g_->step();
    return {{"loss_d", 0.0}, {"loss_g", loss.item<double>()}, {"recon", recon.item<double>()},
            {"kl", kl.item<double>()}, {"fraction_loss", floss.item<double>()}};
  }

  /// Larsen et al. 2016: encoder loss = KL + feature reconstruction; decoder loss =
  /// gamma * feature reconstruction + adversarial (on reconstructions and prior
  /// samples); discriminator on real vs both kinds of fakes.
  std::map<std::string, double> vaegan_step(const torch::Tensor& real) {
    encoder_->train();
    const int64_t n = real.size(0);
    const auto [mu, logvar] = encoder_->forward(real);
    const auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
    const auto rec = gen(z);
    const auto prior = gen(noise(n));
    const auto rec_seen = seen(rec);
    const auto prior_seen = seen(prior);
    opt_d_->zero_grad();
    const auto real_logits = judge(real);
    auto loss_d = gan_->discriminator_loss(real_logits, judge(rec_seen.detach())) +
                  gan_->discriminator_loss(real_logits, judge(prior_seen.detach()));
    if (const double w = gan_->gradient_penalty_weight(); w > 0.0)
      loss_d = loss_d + losses::gradient_penalty([&](const torch::Tensor& x) { return judge(x); },
                                                 real, prior_seen.detach(), w);
    loss_d.backward();
    opt_d_->step();
    for (auto& p : discriminator_->parameters()) p.set_requires_grad(false);
    const auto f_real = discriminator_->features(real).detach();
    // Per-image sum over the feature map, averaged over the batch: the same scale as the
    // KL (a per-image sum over the latent) and the pixel reconstruction loss. An
    // element mean made it ~1e3 times smaller than the KL, and the encoder collapsed
    // onto the prior (measured: identical samples, empty reconstructions).
    const auto feat =
        (discriminator_->features(rec_seen) - f_real).pow(2).sum() / static_cast<double>(n);
    const auto kl = models::kl_divergence(mu, logvar);
    const auto adv =
        gan_->generator_loss(judge(rec_seen)) + gan_->generator_loss(judge(prior_seen));
    const auto floss = fraction_loss(prior, targets_, s_.fraction_weight);
    // Pixel anchor (pixel_weight): without it the encoder collapsed onto the prior on the
    // real electrode (KL ~1, empty reconstructions, samples all alike); with it the
    // decoder has to use z (measured in docs/GENERATE.md).
    const auto recon = reconstruction_loss(rec, real, phases_);
    const auto pix = s_.pixel_weight * recon;
    const auto loss_e = s_.kl_weight * kl + feat + pix;
    const auto loss_g = s_.gamma * feat + adv + floss + pix;
    const auto e_params = encoder_->parameters();
    const auto g_params = g()->parameters();
    const auto grads_e = torch::autograd::grad({loss_e}, e_params, {}, /*retain_graph=*/true);
    const auto grads_g = torch::autograd::grad({loss_g}, g_params, {}, /*retain_graph=*/false, false, true);
    for (size_t i = 0; i < e_params.size(); ++i) e_params[i].mutable_grad() = grads_e[i];
    for (size_t i = 0; i < g_params.size(); ++i)
      g_params[i].mutable_grad() = grads_g[i].defined() ? grads_g[i] : torch::zeros_like(g_params[i]);
    opt_e_->step();
    opt_g_->step();
    for (auto& p : discriminator_->parameters()) p.set_requires_grad(true);
    return {{"loss_d", loss_d.item<double>()}, {"loss_g", adv.item<double>()},
            {"recon", recon.item<double>()}, {"kl", kl.item<double>()},
            {"feature_recon", feat.item<double>()}, {"fraction_loss", floss.item<double>()}};
  }

  torch::Tensor sample(int64_t count, int64_t, bool, bool batch_stats) override {
    return with_norm_stats(*g(), batch_stats, [&] { return gen(noise(count)); });
  }

  torch::Tensor encode(const torch::Tensor& x) override {
    if (!encoder_) return Recipe::encode(x);
    torch::NoGradGuard no_grad;
    encoder_->eval();
    auto mu = encoder_->forward(x.to(device_)).first;
    encoder_->train();
    return mu;
  }
  torch::Tensor decode(const torch::Tensor& z) override {
    torch::NoGradGuard no_grad;
    g()->eval();
    auto x = gen(z);
    g()->train();
    return x;
  }

 private:
  GenerateTrainSettings s_;
  bool phases_;
  std::vector<double> targets_;
  torch::Device device_;
  std::shared_ptr<losses::GanLoss> gan_;
  bool has_e_ = false;
  int64_t latent_ = 64;
  double noise_sigma_ = 0.0;  ///< instance noise of the current iteration
  models::DcganGenerator generator_{nullptr};
  models::VaeDecoder decoder_vae_{nullptr};
  models::VaeEncoder encoder_{nullptr};
  models::DcganDiscriminator discriminator_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_g_, opt_e_, opt_d_;
};

}  // namespace

std::unique_ptr<Recipe> make_2d_recipe(const GenerateTrainSettings& settings, const Encoding& encoding,
                                       const torch::Device& device) {
  return std::make_unique<TwoDRecipe>(settings, encoding, device);
}

void reconstruct_report(Recipe& recipe, const std::vector<std::string>& images, const TrainingData& codec,
                        const fs::path& out, report::Report& rep) {
  const int64_t size = recipe.image_size();
  EMGAN_CHECK(ConfigError, size > 0, "--reconstruct needs a 2D model (vae or vaegan)");
  std::vector<torch::Tensor> xs;
  for (const auto& path : images) {
    auto x = TrainingData::encode(io::read_image(path).data, codec.encoding(), path);
    EMGAN_CHECK(ConfigError, x.dim() == 3 && x.size(1) >= size && x.size(2) >= size, path, ": image of shape ",
                x.sizes(), " is smaller than the model's ", size, " x ", size, " px");
    xs.push_back(x.narrow(1, 0, size).narrow(2, 0, size));
  }
  const auto batch = torch::stack(xs);
  const auto mu = recipe.encode(batch);
  const auto rec = recipe.decode(mu);
  auto show = [&](const torch::Tensor& t) {
    const auto d = codec.decode(t.to(torch::kCPU)).to(torch::kFloat);
    return d.dim() == 2 ? d : (d.size(0) == 3 ? d : d[0]);
  };
  std::vector<std::vector<torch::Tensor>> rows;
  for (int64_t i = 0; i < batch.size(0); ++i) rows.push_back({show(batch[i]), show(rec[i])});
  report::write_grid_png(out / "reconstructions.png", rows,
                         report::GridOptions().column_titles({"input", "reconstruction"}).panel_scale(size < 96 ? 2 : 1));
  rep.section("Reconstructions").image("reconstructions.png", "input crops (top-left) and their reconstructions");
  if (batch.size(0) >= 2) {
    std::vector<torch::Tensor> row;
    const int64_t steps = 8;
    std::vector<torch::Tensor> zs;
    for (int64_t k = 0; k < steps; ++k) {
      const double t = static_cast<double>(k) / static_cast<double>(steps - 1);
      zs.push_back((1.0 - t) * mu[0] + t * mu[1]);
    }
    const auto inter = recipe.decode(torch::stack(zs));
    for (int64_t k = 0; k < steps; ++k) row.push_back(show(inter[k]));
    report::write_grid_png(out / "interpolation.png", {row}, report::GridOptions().panel_scale(size < 96 ? 2 : 1));
    rep.image("interpolation.png", "latent interpolation from image 1 to image 2 (8 steps)");
  }
}

}  // namespace emgan::generate::detail
