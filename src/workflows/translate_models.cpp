// The two translators of the conv-to-multislice workflow (poly, pix2pix): training,
// prediction, and their model folders.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/augment.h"
#include "emgan/data/crop.h"
#include "emgan/data/normalize.h"
#include "emgan/data/sample.h"
#include "emgan/losses/gan.h"
#include "emgan/losses/reconstruction.h"
#include "emgan/models/model.h"
#include "emgan/models/poly.h"
#include "emgan/nn/mirror_views.h"
#include "emgan/train/optim.h"
#include "emgan/train/pix2pix.h"
#include "emgan/train/trainer.h"
#include "emgan/workflows/translate.h"

namespace emgan::workflows {

namespace {

constexpr const char* kFormat = "emgan-translate";

torch::Tensor as_chw(const torch::Tensor& x, const std::string& what) {
  if (x.dim() == 2) return x.unsqueeze(0);
  EMGAN_CHECK(ConfigError, x.dim() == 3 && x.size(0) == 1, what, ": expected a single-channel image [1, H, W] or [H, W], got shape ",
              x.sizes());
  return x;
}

/// The maximum of an image, by which the loader of Lawrence et al. divided it.
torch::Tensor own_max(const torch::Tensor& x) {
  auto m = x.max();
  EMGAN_CHECK(Error, m.item<double>() > 0, "image maximum ", m.item<double>(), " must be > 0 to divide by it");
  return m;
}

/// Scale of the targets, fitted on the training targets only: the largest target
/// value of each material (mode "material") or of all training targets ("dataset").
/// A material not seen in training uses the pooled scale.
struct TargetScaler {
  std::string mode = "dataset";
  std::map<std::string, double> scales;
  double pooled = 1.0;

  void fit(const std::vector<torch::Tensor>& targets, const std::vector<std::string>& groups) {
    pooled = 0.0;
    for (size_t i = 0; i < targets.size(); ++i) {
      const double m = targets[i].max().item<double>();
      pooled = std::max(pooled, m);
      if (mode == "material" && i < groups.size()) scales[groups[i]] = std::max(scales[groups[i]], m);
    }
    EMGAN_CHECK(Error, pooled > 0, "translate: the training targets have no positive value to scale by");
  }
  double scale(const std::string& group) const {
    auto it = scales.find(group);
    return it == scales.end() || it->second <= 0 ? pooled : it->second;
  }
  Json to_json() const { return Json{{"mode", mode}, {"scales", scales}, {"pooled", pooled}}; }
  static TargetScaler from_json(const Json& j) {
    TargetScaler t;
    t.mode = j.at("mode").get<std::string>();
    t.scales = j.at("scales").get<std::map<std::string, double>>();
    t.pooled = j.at("pooled").get<double>();
    return t;
  }
};

// ---------------------------------------------------------------------------------
/// Sorted names of a map's keys.
template <class Map>
std::vector<std::string> key_names(const Map& m) {
  std::vector<std::string> names;
  for (const auto& kv : m) names.push_back(kv.first);
  return names;
}

class PolyTranslator : public Translator {
 public:
  PolyTranslator(models::PolyRegression poly, std::string protocol)
      : poly_(std::move(poly)), protocol_(std::move(protocol)) {}
  std::string kind() const override { return "poly"; }
  std::vector<std::string> materials() const override { return key_names(poly_.group_gains()); }
  std::string protocol() const override { return protocol_; }
  torch::Tensor predict(const torch::Tensor& convolution, const std::string& group) override {
    auto x = as_chw(convolution, "poly input");
    return poly_.predict(x[0], group).unsqueeze(0).to(torch::kFloat32);
  }
  void save(const fs::path& dir) const override {
    ensure_dir(dir);
    poly_.save(dir / "poly.json");
    save_json_file(dir / "model.json",
                   Json{{"format", kFormat}, {"kind", "poly"}, {"weights", "poly.json"}, {"protocol", protocol_}});
  }
  const models::PolyRegression& poly() const { return poly_; }

 private:
  models::PolyRegression poly_;
  std::string protocol_;
};

// ---------------------------------------------------------------------------------
class Pix2PixTranslator : public Translator {
 public:
  /// `base`, when given, is a fitted polynomial model: the network then sees the
  /// normalised convolution image and the base prediction (2 channels) and predicts
  /// the residual target - base, in target-scale units.
  Pix2PixTranslator(models::GeneratorPtr g, data::NormalizerPtr input_norm, TargetScaler target_scale,
                    std::string protocol, std::shared_ptr<models::PolyRegression> base, torch::Device device)
      : g_(std::move(g)),
        input_norm_(std::move(input_norm)),
        target_scale_(std::move(target_scale)),
        protocol_(std::move(protocol)),
        base_(std::move(base)),
        device_(device) {}
  std::string kind() const override { return "pix2pix"; }
  std::string protocol() const override { return protocol_; }
  std::vector<std::string> materials() const override {
    std::set<std::string> names;
    if (protocol_ != "paper")
      for (const auto& kv : target_scale_.scales) names.insert(kv.first);
    if (base_)
      for (const auto& kv : base_->group_gains()) names.insert(kv.first);
    return {names.begin(), names.end()};
  }

  /// Prediction options (saved with the model): 8-fold flip/rotation averaging, and
  /// "running" or "batch" batch-norm statistics.
  bool set_tta(bool tta) override {
    tta_ = tta;
    return true;
  }
  bool tta() const { return tta_; }
  void set_norm_stats(const std::string& mode) {
    check_choice("pix2pix.norm_stats", mode, {"running", "batch"});
    norm_stats_ = mode;
  }
  /// The same model with other generator weights (e.g. the raw weights beside an EMA).
  std::unique_ptr<Pix2PixTranslator> with_generator(models::GeneratorPtr g) const {
    auto t = std::make_unique<Pix2PixTranslator>(std::move(g), input_norm_, target_scale_, protocol_, base_, device_);
    t->tta_ = tta_;
    t->norm_stats_ = norm_stats_;
    return t;
  }

  /// Target units per network unit for an image of material `group`.
  double unit(const std::string& group) const { return protocol_ == "paper" ? 1.0 : target_scale_.scale(group); }

  /// The base prediction `[1, H, W]` (target units; zeros without a base model).
  torch::Tensor base_prediction(const torch::Tensor& x, const std::string& group) const {
    if (!base_) return torch::zeros_like(x);
    return base_->predict(x[0], group).unsqueeze(0).to(torch::kFloat32);
  }

  /// The network's input `[C, H, W]` for a convolution image `[1, H, W]`.
  torch::Tensor network_input(const torch::Tensor& x, const torch::Tensor& base, const std::string& group) const {
    auto xin = input_norm_->forward(x).value;
    if (!base_) return xin;
    return torch::cat({xin, base / unit(group)}, 0);
  }

  torch::Tensor predict(const torch::Tensor& convolution, const std::string& group) override {
    torch::NoGradGuard no_grad;
    auto x = as_chw(convolution, "pix2pix input").to(torch::kFloat32);
    const bool was_training = g_->is_training();
    g_->eval();
    auto base = base_prediction(x, group);
    auto y = run_network(network_input(x, base, group).unsqueeze(0).to(device_)).squeeze(0).to(torch::kCPU);
    if (was_training) g_->train();
    return y * unit(group) + base;
  }

  /// The generator on one input `[1, C, H, W]` (eval mode, no grad), with the
  /// configured batch-norm statistics and test-time augmentation.
  torch::Tensor run_network(const torch::Tensor& in) {
    return nn::average_mirror_views(in, tta_ ? 8 : 1, [&](const torch::Tensor& t) { return forward_once(t); });
  }

  torch::Tensor forward_once(const torch::Tensor& in) {
    if (norm_stats_ != "batch") return g_->forward(in);
    // Batch norm layers normalise by this image's statistics; their running averages
    // (which training mode would update) are restored afterwards.
    std::vector<std::pair<torch::nn::Module*, std::vector<torch::Tensor>>> saved;
    for (const auto& m : g_->modules(/*include_self=*/false)) {
      if (m->as<torch::nn::BatchNorm2d>() == nullptr) continue;
      std::vector<torch::Tensor> buffers;
      for (const auto& b : m->buffers()) buffers.push_back(b.clone());
      m->train(true);
      saved.emplace_back(m.get(), std::move(buffers));
    }
    auto y = g_->forward(in);
    for (auto& [m, buffers] : saved) {
      m->train(false);
      auto now = m->buffers();
      for (size_t i = 0; i < now.size(); ++i) now[i].copy_(buffers[i]);
    }
    return y;
  }

  void save(const fs::path& dir) const override {
    ensure_dir(dir);
    models::save_model(*g_, dir / "generator.pt");
    Json j{{"format", kFormat},
           {"kind", "pix2pix"},
           {"weights", "generator.pt"},
           {"protocol", protocol_},
           {"input_norm", input_norm_->to_json()},
           {"target_scale", target_scale_.to_json()},
           {"base", base_ ? "poly.json" : ""},
           {"tta", tta_},
           {"norm_stats", norm_stats_}};
    if (base_) base_->save(dir / "poly.json");
    save_json_file(dir / "model.json", j);
  }

 private:
  models::GeneratorPtr g_;
  data::NormalizerPtr input_norm_;
  TargetScaler target_scale_;
  std::string protocol_;
  std::shared_ptr<models::PolyRegression> base_;
  torch::Device device_;
  bool tta_ = false;
  std::string norm_stats_ = "running";
};

/// Single-scale view of a discriminator for the pix2pix recipe (logits of scale 0).
struct SingleScaleDImpl : torch::nn::Module {
  explicit SingleScaleDImpl(models::DiscriminatorPtr d) : d_(register_module("net", std::move(d))) {}
  torch::Tensor forward(torch::Tensor x) {
    auto out = d_->forward(std::move(x));
    EMGAN_CHECK(ConfigError, out.size() == 1, "translate: the discriminator returns ", out.size(),
                " scales; the pix2pix recipe of this workflow takes a single-scale one");
    return out[0];
  }
  models::DiscriminatorPtr d_;
};
TORCH_MODULE(SingleScaleD);

Json merged(Json base, const Json& patch) {
  base.merge_patch(patch);
  return base;
}

std::unique_ptr<Translator> train_pix2pix(const TranslateSettings& s, const std::vector<torch::Tensor>& inputs,
                                          const std::vector<torch::Tensor>& targets,
                                          const std::vector<std::string>& groups, const fs::path& run_dir,
                                          torch::Device device, const TranslateEvalFn& eval) {
  const auto& p = s.pix2pix;
  const int64_t n = static_cast<int64_t>(inputs.size());
  EMGAN_CHECK(ConfigError, n > 0, "translate: no training pairs");

  // Normalisation: inputs per image from the input; targets by a scale fitted on
  // the training targets (strict) or by each target's own max (paper).
  auto input_norm = data::make_normalizer(p.input_norm);
  if (input_norm->needs_fit()) {  // a dataset-level input scale: fitted on the training inputs only
    std::vector<torch::Tensor> train_inputs;
    for (const auto& x : inputs) train_inputs.push_back(as_chw(x, "input").to(torch::kFloat32));
    input_norm->fit(train_inputs);
  }
  TargetScaler target_scale;
  target_scale.mode = p.target_scale;
  if (s.protocol == "strict") target_scale.fit(targets, groups);
  std::shared_ptr<models::PolyRegression> base;
  if (p.base == "poly") {
    base = std::make_shared<models::PolyRegression>(models::poly_options_from_json(s.poly, "poly"));
    std::vector<torch::Tensor> bx, by;
    for (int64_t i = 0; i < n; ++i) {
      bx.push_back(as_chw(inputs[i], "input")[0]);
      auto t = as_chw(targets[i], "target")[0];
      by.push_back(s.protocol == "paper" ? t / own_max(t) : t);
    }
    base->fit(bx, by, groups);
  }
  auto translator = std::make_unique<Pix2PixTranslator>(nullptr, input_norm, target_scale, s.protocol, base, device);
  std::vector<torch::Tensor> xs, ys;
  for (int64_t i = 0; i < n; ++i) {
    auto x = as_chw(inputs[i], "input").to(torch::kFloat32);
    auto t = as_chw(targets[i], "target").to(torch::kFloat32);
    const std::string g = i < static_cast<int64_t>(groups.size()) ? groups[static_cast<size_t>(i)] : "";
    if (s.protocol == "paper") t = t / own_max(t);
    auto b = translator->base_prediction(x, g);
    xs.push_back(translator->network_input(x, b, g));
    ys.push_back((t - b) / translator->unit(g));
  }

  // Networks.
  Json g_opts = p.generator_options;
  std::string g_name = p.generator, d_name = p.discriminator;
  Json d_opts = p.discriminator_options;
  if (p.preset == "lawrence2020") {
    g_name = "lawrence2020";
    d_name = "lawrence2020_patchgan";
    // The preset fixes the networks (generator/discriminator options are ignored),
    // with the paper's tanh output: targets (or residuals) in target-scale units lie
    // in [-1, 1].
    g_opts = Json{{"output_activation", "tanh"}};
    d_opts = Json::object();
  } else if (!p.preset.empty()) {
    throw ConfigError("translate: pix2pix.preset '" + p.preset + "' is not one of: lawrence2020, \"\"");
  }
  const int64_t in_ch = base ? 2 : 1;
  g_opts = merged(Json{{"in_channels", in_ch}}, g_opts);
  auto g = models::make_generator(g_name, g_opts);
  g->to(device);
  models::DiscriminatorPtr d;
  if (p.lambda_gan > 0) {
    d = models::make_discriminator(d_name, merged(Json{{"in_channels", in_ch + 1}}, d_opts));
    d->to(device);
  }

  train::OptimizerOptions oo;
  oo.name = p.optimizer;
  oo.lr = p.lr;
  if (p.optimizer == "sgd" || p.optimizer == "rmsprop") {
    oo.momentum = p.beta1;
  } else {
    oo.beta1 = p.beta1;
  }
  auto opt_g = train::make_optimizer(g->parameters(), oo);
  train::OptimizerPtr opt_d = d ? train::make_optimizer(d->parameters(), oo) : nullptr;

  auto gan = losses::make_gan_loss(p.gan_loss);
  train::GanLossFns fns;
  fns.discriminator = [gan](const torch::Tensor& r, const torch::Tensor& f) {
    return 0.5 * gan->discriminator_loss(r, f);
  };
  fns.generator = [gan](const torch::Tensor& f) { return gan->generator_loss(f); };
  if (gan->gradient_penalty_weight() > 0) {
    const double w = gan->gradient_penalty_weight();
    fns.penalty = [w](const std::function<torch::Tensor(const torch::Tensor&)>& critic, const torch::Tensor& real,
                      const torch::Tensor& fake) { return losses::gradient_penalty(critic, real, fake, w); };
  }
  auto rec = losses::make_reconstruction_loss(p.rec_loss);
  train::ReconstructionLoss rec_fn = [rec](const torch::Tensor& o, const torch::Tensor& t) { return (*rec)(o, t); };

  train::Pix2PixOptions po;
  po.lambda_gan = p.lambda_gan;
  po.lambda_rec = p.lambda_rec;
  torch::nn::AnyModule g_any(g);
  torch::nn::AnyModule d_any;
  if (d) d_any = torch::nn::AnyModule(SingleScaleD(d));
  auto recipe = std::make_shared<train::Pix2PixRecipe>(g_any, d_any, opt_g, opt_d, fns, rec_fn, po);

  // Data: per epoch a seeded order of (image, crop) draws; each batch's crops and
  // flips/rotations come from a generator seeded by (seed, epoch, batch).
  const int64_t draws = n * p.crops_per_image;
  const int64_t steps = p.steps_per_epoch > 0 ? p.steps_per_epoch : (draws + p.batch_size - 1) / p.batch_size;
  const uint64_t seed = s.runtime.seed;
  const int64_t crop = p.crop;
  const int64_t bs = p.batch_size;
  const bool augment = p.augment;
  auto source = std::make_shared<train::FunctionBatchSource>(steps, [=](int64_t epoch, int64_t index) {
    const auto order = data::seeded_permutation(static_cast<size_t>(draws), data::mix_seed(seed, 17, epoch));
    auto gen = data::make_generator(data::mix_seed(seed, epoch, index));
    std::vector<torch::Tensor> bx, by;
    for (int64_t b = 0; b < bs; ++b) {
      const int64_t k = static_cast<int64_t>(order[static_cast<size_t>((index * bs + b) % draws)]) % n;
      data::Sample sample;
      sample.input = xs[k];
      sample.target = ys[k];
      auto c = data::random_crop(sample, data::CropOptions().height(crop).width(crop), gen);
      if (augment) {
        const int64_t rot = data::uniform_int(gen, 4);
        const bool flip = data::uniform(gen) < 0.5;
        c.input = data::rotate90(c.input, rot);
        c.target = data::rotate90(c.target, rot);
        if (flip) {
          c.input = c.input.flip({-1});
          c.target = c.target.flip({-1});
        }
      }
      bx.push_back(c.input);
      by.push_back(c.target);
    }
    train::Batch batch;
    batch.input = torch::stack(bx).contiguous();
    batch.target = torch::stack(by).contiguous();
    return batch;
  });

  train::TrainerOptions to;
  to.epochs = p.epochs;
  to.log_every = std::max<int64_t>(1, std::min<int64_t>(steps, 10));
  to.checkpoint_every = steps;  // every epoch
  to.seed = seed;
  train::Trainer trainer(to, recipe, source, device, run_dir);
  trainer.set_config(Json(s));
  if (p.schedule != "constant") {
    train::ScheduleOptions so;
    so.name = p.schedule;
    so.unit = "epoch";
    so.n_constant = p.epochs / 2;
    so.n_decay = p.epochs - p.epochs / 2;
    so.t_max = p.epochs;
    so.step_size = std::max<int64_t>(1, p.epochs / 3);
    trainer.add_scheduler("G", std::make_shared<train::LrScheduler>(opt_g, so));
    if (opt_d) trainer.add_scheduler("D", std::make_shared<train::LrScheduler>(opt_d, so));
  }
  // The raw generator's translator; with an EMA, the returned one predicts with the
  // averaged copy (updated by the trainer after every step).
  auto raw = std::make_unique<Pix2PixTranslator>(g, input_norm, target_scale, s.protocol, base, device);
  raw->set_tta(p.tta);
  raw->set_norm_stats(p.norm_stats);
  std::shared_ptr<Pix2PixTranslator> raw_shared = std::move(raw);
  if (p.ema > 0) {
    auto g_ema = models::make_generator(g_name, g_opts);
    g_ema->to(device);
    trainer.add_ema("G", std::make_shared<train::Ema>(g, g_ema, p.ema));
    translator = raw_shared->with_generator(g_ema);
  } else {
    translator = raw_shared->with_generator(g);
  }
  if (eval && p.eval_every > 0) {
    Pix2PixTranslator* main = translator.get();
    const int64_t every = p.eval_every;
    const bool ema_on = p.ema > 0;
    trainer.add_epoch_callback([main, raw_shared, ema_on, eval, every](train::Trainer&, int64_t epoch) {
      if ((epoch + 1) % every != 0) return std::map<std::string, double>{};
      auto m = eval(epoch, *main);
      // The same epoch without each prediction option, so their gain is measured in the run.
      auto add = [&m](const std::map<std::string, double>& other, const std::string& suffix) {
        for (const auto& [k, v] : other) m[k + suffix] = v;
      };
      if (ema_on) add(eval(epoch, *raw_shared), "_raw");
      if (main->tta()) {
        main->set_tta(false);
        add(eval(epoch, *main), "_single");
        main->set_tta(true);
      }
      return m;
    });
  }
  if (s.resume && fs::exists(trainer.last_checkpoint())) {
    log_info("resuming from " + trainer.last_checkpoint().string());
    trainer.resume(trainer.last_checkpoint());
  }
  trainer.fit();
  return translator;
}

}  // namespace

TranslateSettings resolve_automatic(TranslateSettings s) {
  auto& p = s.pix2pix;
  const bool adversarial = p.lambda_gan > 0;
  if (p.lr == -1.0) p.lr = adversarial ? 2e-4 : 5e-4;
  if (p.beta1 == -1.0) p.beta1 = adversarial ? 0.5 : 0.9;
  return s;
}

void validate(const TranslateSettings& s) {
  check_choice("model", s.model, {"pix2pix", "poly"});
  check_choice("protocol", s.protocol, {"strict", "paper"});
  EMGAN_CHECK(ConfigError, s.folds >= 2, "folds = ", s.folds, " must be >= 2");
  EMGAN_CHECK(ConfigError, s.only_fold >= -1 && s.only_fold < s.folds, "only_fold = ", s.only_fold,
              " must be -1 (all) or in [0, ", s.folds, ")");
  EMGAN_CHECK(ConfigError, s.panels >= 0, "panels = ", s.panels, " must be >= 0");
  const auto& p = s.pix2pix;
  check_choice("pix2pix.gan_loss", p.gan_loss, {"vanilla", "lsgan", "hinge", "wgan"});
  check_choice("pix2pix.optimizer", p.optimizer, {"adam", "adamw", "sgd", "rmsprop"});
  check_choice("pix2pix.schedule", p.schedule, {"constant", "linear", "step", "cosine"});
  check_choice("pix2pix.target_scale", p.target_scale, {"material", "dataset"});
  check_choice("pix2pix.base", p.base, {"none", "poly"});
  check_choice("pix2pix.norm_stats", p.norm_stats, {"running", "batch"});
  EMGAN_CHECK(ConfigError, p.ema >= 0 && p.ema < 1, "pix2pix.ema = ", p.ema, " must be in [0, 1) (0 = off)");
  EMGAN_CHECK(ConfigError, p.batch_size >= 1, "pix2pix.batch_size = ", p.batch_size, " must be >= 1");
  EMGAN_CHECK(ConfigError, p.epochs >= 1, "pix2pix.epochs = ", p.epochs, " must be >= 1");
  EMGAN_CHECK(ConfigError, p.crop >= 8, "pix2pix.crop = ", p.crop, " px must be >= 8");
  EMGAN_CHECK(ConfigError, p.crops_per_image >= 1, "pix2pix.crops_per_image = ", p.crops_per_image,
              " must be >= 1");
  EMGAN_CHECK(ConfigError, p.lr > 0 || p.lr == -1.0, "pix2pix.lr = ", p.lr, " must be > 0 (or -1, automatic)");
  EMGAN_CHECK(ConfigError, (p.beta1 >= 0 && p.beta1 < 1) || p.beta1 == -1.0, "pix2pix.beta1 = ", p.beta1,
              " must be in [0, 1) (or -1, automatic)");
  EMGAN_CHECK(ConfigError, p.lambda_gan >= 0 && p.lambda_rec >= 0, "pix2pix.lambda_gan/lambda_rec = ",
              p.lambda_gan, "/", p.lambda_rec, " must be >= 0");
  if (s.model == "poly") models::poly_options_from_json(s.poly, "poly");
}

std::unique_ptr<Translator> train_translator(const TranslateSettings& given, const std::vector<torch::Tensor>& inputs,
                                             const std::vector<torch::Tensor>& targets,
                                             const std::vector<std::string>& groups, const fs::path& run_dir,
                                             torch::Device device, const TranslateEvalFn& eval) {
  const TranslateSettings s = resolve_automatic(given);
  validate(s);
  EMGAN_CHECK(ConfigError, inputs.size() == targets.size() && !inputs.empty(), "translate: ", inputs.size(),
              " inputs and ", targets.size(), " targets; expected the same non-zero number");
  ensure_dir(run_dir);
  if (s.model == "poly") {
    models::PolyRegression poly(models::poly_options_from_json(s.poly, "poly"));
    std::vector<torch::Tensor> x, y;
    for (size_t i = 0; i < inputs.size(); ++i) {
      x.push_back(as_chw(inputs[i], "input")[0].to(device));
      auto t = as_chw(targets[i], "target")[0].to(device);
      y.push_back(s.protocol == "paper" ? t / own_max(t) : t);
    }
    poly.fit(x, y, groups);
    return std::make_unique<PolyTranslator>(std::move(poly), s.protocol);
  }
  return train_pix2pix(s, inputs, targets, groups, run_dir, device, eval);
}

std::unique_ptr<Translator> load_translator(const fs::path& path, torch::Device device) {
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  const fs::path file = fs::is_directory(path) ? path / "model.json" : path;
  EMGAN_CHECK(IoError, fs::exists(file), file.string(), ": no such model file (expected RUN/model/model.json)");
  Json j;
  try {
    j = load_json_file(file);
  } catch (const ConfigError&) {
    throw ConfigError(file.string() + ": not a translation model (not a JSON model description)");
  }
  EMGAN_CHECK(ConfigError, j.is_object() && j.value("format", "") == kFormat, file.string(),
              ": not a translation model (format '", j.is_object() ? j.value("format", "") : "",
              "', expected '", kFormat, "'); is it a model of another workflow?");
  const std::string kind = j.value("kind", "");
  if (kind == "poly") {
    const std::string protocol = j.value("protocol", "strict");  // models of before 2026-11-22 lack it: strict
    check_choice(file.string() + ": protocol", protocol, {"strict", "paper"});
    return std::make_unique<PolyTranslator>(models::PolyRegression::load(dir / j.value("weights", "poly.json")),
                                            protocol);
  }
  EMGAN_CHECK(ConfigError, kind == "pix2pix", file.string(), ": unknown translator kind '", kind,
              "' (expected poly or pix2pix)");
  auto g = models::load_generator(dir / j.value("weights", "generator.pt"), device);
  auto in_norm = data::normalizer_from_json(j.at("input_norm"));
  std::shared_ptr<models::PolyRegression> base;
  const std::string base_file = j.value("base", "");
  if (!base_file.empty()) base = std::make_shared<models::PolyRegression>(models::PolyRegression::load(dir / base_file));
  auto t = std::make_unique<Pix2PixTranslator>(g, in_norm, TargetScaler::from_json(j.at("target_scale")),
                                               j.value("protocol", "strict"), base, device);
  t->set_tta(j.value("tta", false));
  t->set_norm_stats(j.value("norm_stats", std::string("running")));
  return t;
}

}  // namespace emgan::workflows
