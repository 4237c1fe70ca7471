#include "emgan/segment/cyclegan.h"

#include <algorithm>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/augment.h"
#include "emgan/data/sample.h"
#include "emgan/io/image.h"
#include "emgan/report/grid.h"
#include "emgan/report/html.h"
#include "emgan/report/metrics_log.h"
#include "emgan/segment/morphology.h"
#include "emgan/segment/segmenter.h"
#include "emgan/train/optim.h"
#include "emgan/train/pix2pix.h"

namespace emgan::segment {

CycleTerms cycle_terms(const ImageMap& g_ab, const ImageMap& g_ba, const torch::Tensor& real_a,
                       const torch::Tensor& real_b, double lambda_cycle, double lambda_identity) {
  CycleTerms t;
  t.fake_b = g_ab(real_a);
  t.fake_a = g_ba(real_b);
  t.cycle_a = lambda_cycle * (g_ba(t.fake_b) - real_a).abs().mean();
  t.cycle_b = lambda_cycle * (g_ab(t.fake_a) - real_b).abs().mean();
  if (lambda_identity > 0) {
    t.idt_a = lambda_cycle * lambda_identity * (g_ab(real_b) - real_b).abs().mean();
    t.idt_b = lambda_cycle * lambda_identity * (g_ba(real_a) - real_a).abs().mean();
  } else {
    t.idt_a = torch::zeros({}, real_a.options());
    t.idt_b = torch::zeros({}, real_a.options());
  }
  return t;
}

namespace {

class PoolState : public train::Stateful {
 public:
  PoolState(std::shared_ptr<losses::ImagePool> pool, std::string prefix)
      : pool_(std::move(pool)), prefix_(std::move(prefix)) {}
  void save(torch::serialize::OutputArchive& a) const override { pool_->save(a, prefix_); }
  void load(torch::serialize::InputArchive& a) override { pool_->load(a, prefix_); }

 private:
  std::shared_ptr<losses::ImagePool> pool_;
  std::string prefix_;
};

}  // namespace

CycleGanRecipe::CycleGanRecipe(models::GeneratorPtr g_ab, models::GeneratorPtr g_ba, models::DiscriminatorPtr d_a,
                               models::DiscriminatorPtr d_b, train::OptimizerPtr opt_g, train::OptimizerPtr opt_d,
                               std::shared_ptr<losses::GanLoss> gan, CycleGanOptions options)
    : g_ab_(std::move(g_ab)), g_ba_(std::move(g_ba)), d_a_(std::move(d_a)), d_b_(std::move(d_b)),
      opt_g_(std::move(opt_g)), opt_d_(std::move(opt_d)), gan_(std::move(gan)), options_(options) {
  EMGAN_CHECK(ConfigError, options_.lambda_cycle >= 0 && options_.lambda_identity >= 0, "cyclegan: lambda_cycle ",
              options_.lambda_cycle, " and lambda_identity ", options_.lambda_identity, " must be >= 0");
  losses::ImagePoolOptions po;
  po.pool_size = options_.pool_size;
  po.seed = options_.seed;
  pool_a_ = std::make_shared<losses::ImagePool>(po);
  po.seed = options_.seed + 1;
  pool_b_ = std::make_shared<losses::ImagePool>(po);
  register_state("pool_a", std::make_shared<PoolState>(pool_a_, "pool_a"));
  register_state("pool_b", std::make_shared<PoolState>(pool_b_, "pool_b"));
}

train::StepResult CycleGanRecipe::step(const train::Batch& batch) {
  const auto& real_a = batch.input;
  const auto& real_b = batch.target;
  EMGAN_CHECK(ConfigError, real_b.defined(), "cyclegan: the batch needs target = real B images");
  auto g_ab = [this](const torch::Tensor& x) { return g_ab_->forward(x); };
  auto g_ba = [this](const torch::Tensor& x) { return g_ba_->forward(x); };
  // Generators, discriminators frozen.
  train::set_requires_grad(*d_a_, false);
  train::set_requires_grad(*d_b_, false);
  opt_g_->zero_grad();
  auto t = cycle_terms(g_ab, g_ba, real_a, real_b, options_.lambda_cycle, options_.lambda_identity);
  const auto gan_g = gan_->generator_loss(d_b_->forward(t.fake_b)) + gan_->generator_loss(d_a_->forward(t.fake_a));
  const auto loss_g = gan_g + t.cycle_a + t.cycle_b + t.idt_a + t.idt_b;
  loss_g.backward();
  opt_g_->step();
  train::set_requires_grad(*d_a_, true);
  train::set_requires_grad(*d_b_, true);
  // Discriminators on real and pooled detached fakes.
  opt_d_->zero_grad();
  const auto fake_b = pool_b_->query(t.fake_b.detach());
  const auto fake_a = pool_a_->query(t.fake_a.detach());
  const auto loss_d_b = 0.5 * gan_->discriminator_loss(d_b_->forward(real_b), d_b_->forward(fake_b));
  const auto loss_d_a = 0.5 * gan_->discriminator_loss(d_a_->forward(real_a), d_a_->forward(fake_a));
  (loss_d_a + loss_d_b).backward();
  opt_d_->step();
  return {{{"loss_g", loss_g.item<double>()},
           {"loss_g_gan", gan_g.item<double>()},
           {"loss_cycle", (t.cycle_a + t.cycle_b).item<double>()},
           {"loss_idt", (t.idt_a + t.idt_b).item<double>()},
           {"loss_d_a", loss_d_a.item<double>()},
           {"loss_d_b", loss_d_b.item<double>()}}};
}

std::map<std::string, std::shared_ptr<torch::nn::Module>> CycleGanRecipe::modules() const {
  return {{"G_AB", g_ab_}, {"G_BA", g_ba_}, {"D_A", d_a_}, {"D_B", d_b_}};
}

std::map<std::string, train::OptimizerPtr> CycleGanRecipe::optimizers() const {
  return {{"G", opt_g_}, {"D", opt_d_}};
}

int64_t run_contrast_gan(const ContrastGanSettings& s) {
  EMGAN_CHECK(ConfigError, s.epochs >= 1 && s.steps_per_epoch >= 1 && s.batch_size >= 1 && s.crop >= 16,
              "contrast GAN: epochs ", s.epochs, ", steps_per_epoch ", s.steps_per_epoch, ", batch_size ",
              s.batch_size, " must be >= 1 and crop ", s.crop, " >= 16");
  const auto device = apply_runtime(s.runtime);
  const fs::path run(s.out);
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));
  auto read_all = [](const std::string& dir) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& f : list_images(dir)) out.emplace_back(f.stem().string(), normalize_image(io::read_image(f).data));
    EMGAN_CHECK(IoError, !out.empty(), dir, ": no readable image");
    return out;
  };
  const auto set_a = read_all(s.generated), set_b = read_all(s.real);
  int64_t crop = s.crop;
  for (const auto* set : {&set_a, &set_b}) {
    for (const auto& kv : *set) crop = std::min({crop, kv.second.size(0), kv.second.size(1)});
  }
  const Json gopt{{"in_channels", 1}, {"out_channels", 1}, {"ngf", s.ngf}, {"n_blocks", s.n_blocks},
                  {"norm", "instance"}, {"output_activation", "tanh"}};
  const Json dopt{{"in_channels", 1}, {"ndf", s.ndf}, {"n_layers", crop >= 64 ? 3 : 2}, {"norm", "instance"}};
  auto g_ab = models::make_generator("resnet", gopt), g_ba = models::make_generator("resnet", gopt);
  auto d_a = models::make_discriminator("patchgan", dopt), d_b = models::make_discriminator("patchgan", dopt);
  for (auto* m : std::vector<torch::nn::Module*>{g_ab.get(), g_ba.get(), d_a.get(), d_b.get()}) m->to(device);
  train::OptimizerOptions oo;
  oo.name = "adam";
  oo.lr = s.lr;
  oo.beta1 = 0.5;
  auto params = [](std::initializer_list<torch::nn::Module*> ms) {
    std::vector<torch::Tensor> p;
    for (auto* m : ms) {
      for (const auto& t : m->parameters()) p.push_back(t);
    }
    return p;
  };
  auto opt_g = train::make_optimizer(params({g_ab.get(), g_ba.get()}), oo);
  auto opt_d = train::make_optimizer(params({d_a.get(), d_b.get()}), oo);
  auto cyc = s.cycle;
  cyc.seed = s.runtime.seed;
  auto recipe = std::make_shared<CycleGanRecipe>(g_ab, g_ba, d_a, d_b, opt_g, opt_d, losses::make_gan_loss("lsgan"), cyc);
  const uint64_t seed = s.runtime.seed;
  auto source = std::make_shared<train::FunctionBatchSource>(s.steps_per_epoch, [=](int64_t epoch, int64_t index) {
    auto gen = data::make_generator(data::mix_seed(seed, epoch, index));
    auto draw = [&](const std::vector<std::pair<std::string, torch::Tensor>>& set) {
      std::vector<torch::Tensor> out;
      for (int64_t b = 0; b < s.batch_size; ++b) {
        const auto& img = set[static_cast<size_t>(data::uniform_int(gen, static_cast<int64_t>(set.size())))].second;
        const int64_t y0 = data::uniform_int(gen, img.size(0) - crop + 1);
        const int64_t x0 = data::uniform_int(gen, img.size(1) - crop + 1);
        using torch::indexing::Slice;
        auto c = img.index({Slice(y0, y0 + crop), Slice(x0, x0 + crop)}).unsqueeze(0) * 2.0 - 1.0;
        out.push_back(data::rotate90(c, data::uniform_int(gen, 4)));
      }
      return torch::stack(out).contiguous();
    };
    train::Batch batch;
    batch.input = draw(set_a);
    batch.target = draw(set_b);
    return batch;
  });
  train::TrainerOptions to;
  to.epochs = s.epochs;
  to.log_every = std::max<int64_t>(1, std::min<int64_t>(s.steps_per_epoch, 10));
  to.checkpoint_every = s.steps_per_epoch;
  to.seed = seed;
  train::Trainer trainer(to, recipe, source, device, run);
  trainer.set_config(Json(s));
  train::ScheduleOptions so;
  so.name = "linear";
  so.unit = "epoch";
  so.n_constant = (s.epochs + 1) / 2;
  so.n_decay = s.epochs - so.n_constant;
  trainer.add_scheduler("G", std::make_shared<train::LrScheduler>(opt_g, so));
  trainer.add_scheduler("D", std::make_shared<train::LrScheduler>(opt_d, so));
  trainer.fit();
  g_ab->eval();
  models::save_model(*g_ab, run / "g_ab.pt", Json{{"task", "contrast_gan"}, {"direction", "generated -> real"}});
  ensure_dir(run / "generated");
  std::vector<std::vector<torch::Tensor>> rows;
  int64_t done = 0;
  Progress progress("contrast", static_cast<int64_t>(set_a.size()), "img");
  for (const auto& kv : set_a) {
    torch::NoGradGuard guard;
    const auto x = (kv.second * 2.0 - 1.0).unsqueeze(0).unsqueeze(0).to(device);
    const auto y = ((g_ab->forward(x) + 1.0) * 0.5).clamp(0, 1).squeeze(0).cpu();
    io::write_image(run / "generated" / (kv.first + ".tif"), y);
    if (done < 3) rows.push_back({kv.second, y});
    progress.update(++done);
  }
  progress.finish();
  report::Report rep("Contrast GAN (CycleGAN, 1st generation -> real)");
  if (fs::exists(run / "metrics.csv")) {
    report::write_learning_curves(run / "metrics.csv", run / "learning_curves.png");
    rep.section("Training").image("learning_curves.png", "losses");
  }
  report::write_grid_png(run / "samples.png", rows);
  rep.section("Samples").image("samples.png", "1st generation | 2nd generation (G_AB)");
  rep.section("Configuration").json(Json(s), "effective settings");
  rep.write(run);
  return done;
}

}  // namespace emgan::segment
