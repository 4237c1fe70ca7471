// The pix2pix recipe: step order (D on a detached fake, then G with D frozen),
// plain-regression mode and option checks.
#include <gtest/gtest.h>

#include "emgan/core/error.h"
#include "emgan/train/pix2pix.h"
#include "test_util.h"
#include "tiny.h"

using namespace emgan;
using namespace emgan::train;
using emgan::test::TinyD;
using emgan::test::TinyG;

namespace {

/// SGD that runs a hook just before each step, to look at the state at that moment.
class SpySgd : public torch::optim::SGD {
 public:
  SpySgd(std::vector<torch::Tensor> params, double lr)
      : torch::optim::SGD(std::move(params), torch::optim::SGDOptions(lr)) {}
  torch::Tensor step(LossClosure closure = nullptr) override {
    ++steps;
    if (on_step) on_step();
    return torch::optim::SGD::step(closure);
  }
  std::function<void()> on_step;
  int steps = 0;
};

bool all_undefined_grads(const torch::nn::Module& m) {
  for (const auto& p : m.parameters()) {
    if (p.grad().defined()) return false;
  }
  return true;
}

}  // namespace

TEST(Pix2Pix, StepOrderFollowsTheReference) {
  torch::manual_seed(1);
  TinyG g;
  TinyD d(2);
  auto opt_g = std::make_shared<SpySgd>(g->parameters(), 0.1);
  auto opt_d = std::make_shared<SpySgd>(d->parameters(), 0.1);
  GanLossFns gan = bce_gan_loss();
  torch::Tensor g_step_logits;
  auto g_loss = gan.generator;
  gan.generator = [&](const torch::Tensor& fake_logits) {
    g_step_logits = fake_logits.detach().clone();
    return g_loss(fake_logits);
  };
  Pix2PixRecipe recipe(torch::nn::AnyModule(g), torch::nn::AnyModule(d), opt_g, opt_d, gan, l1_loss(),
                       Pix2PixOptions{});
  const Batch batch = emgan::test::tiny_batch(0, 0);
  const auto g0 = emgan::test::snapshot(*g);
  TinyG g_before = std::dynamic_pointer_cast<emgan::test::TinyGImpl>(g->clone());

  bool d_step_seen = false;
  bool g_step_seen = false;
  std::map<std::string, torch::Tensor> d_grads_at_d_step;
  std::map<std::string, torch::Tensor> d_after_d_step;
  opt_d->on_step = [&] {
    d_step_seen = true;
    EXPECT_FALSE(g_step_seen) << "D must step before G";
    EXPECT_TRUE(all_undefined_grads(*g)) << "D's loss sent gradients into G (fake not detached)";
    EXPECT_TRUE(emgan::test::all_equal(emgan::test::snapshot(*g), g0));
    for (const auto& kv : d->named_parameters()) {
      EXPECT_TRUE(kv.value().requires_grad());
      ASSERT_TRUE(kv.value().grad().defined());
      d_grads_at_d_step[kv.key()] = kv.value().grad().clone();
    }
  };
  opt_g->on_step = [&] {
    g_step_seen = true;
    EXPECT_TRUE(d_step_seen);
    for (const auto& kv : d->named_parameters()) {
      EXPECT_FALSE(kv.value().requires_grad()) << "D not frozen during the G step: " << kv.key();
      EXPECT_TRUE(torch::equal(kv.value().grad(), d_grads_at_d_step[kv.key()]))
          << "the G step changed D's gradient " << kv.key();
      d_after_d_step[kv.key()] = kv.value().detach().clone();
    }
    double g_grad = 0;
    for (const auto& p : g->parameters()) g_grad += p.grad().abs().sum().item<double>();
    EXPECT_GT(g_grad, 0.0);
  };

  const StepResult r = recipe.step(batch);
  EXPECT_EQ(opt_d->steps, 1);
  EXPECT_EQ(opt_g->steps, 1);
  for (const auto& kv : d->named_parameters()) {
    EXPECT_TRUE(kv.value().requires_grad()) << "D not re-enabled: " << kv.key();
    EXPECT_TRUE(torch::equal(kv.value(), d_after_d_step[kv.key()])) << "D changed by the G step";
  }
  EXPECT_FALSE(emgan::test::all_equal(emgan::test::snapshot(*g), g0));

  // G's adversarial term used the already-updated D on the (pre-update) fake.
  {
    torch::NoGradGuard ng;
    const auto fake0 = g_before->forward(batch.input);
    const auto expect = d->forward(torch::cat({batch.input, fake0}, 1));
    EXPECT_TRUE(torch::allclose(g_step_logits, expect, 1e-5, 1e-6));
  }
  for (const char* key : {"loss_d", "loss_g", "loss_g_gan", "loss_g_rec"}) EXPECT_TRUE(r.losses.count(key)) << key;
  EXPECT_NEAR(r.losses.at("loss_g"), r.losses.at("loss_g_gan") + 100.0 * r.losses.at("loss_g_rec"), 1e-4);
}

TEST(Pix2Pix, ZeroGanWeightIsPlainRegression) {
  torch::manual_seed(2);
  TinyG g;
  TinyD d(2);
  auto opt_g = std::make_shared<SpySgd>(g->parameters(), 0.1);
  auto opt_d = std::make_shared<SpySgd>(d->parameters(), 0.1);
  Pix2PixOptions o;
  o.lambda_gan = 0;
  o.lambda_rec = 1;
  GanLossFns gan;
  gan.discriminator = [](const torch::Tensor&, const torch::Tensor&) -> torch::Tensor {
    ADD_FAILURE() << "D loss called in regression mode";
    return torch::zeros({});
  };
  Pix2PixRecipe recipe(torch::nn::AnyModule(g), torch::nn::AnyModule(d), opt_g, opt_d, gan, l1_loss(), o);
  const auto d0 = emgan::test::snapshot(*d);
  const Batch batch = emgan::test::tiny_batch(0, 1);
  const double l1_before = (recipe.generate(batch.input) - batch.target).abs().mean().item<double>();
  const StepResult r = recipe.step(batch);
  EXPECT_EQ(opt_d->steps, 0);
  EXPECT_TRUE(emgan::test::all_equal(emgan::test::snapshot(*d), d0));
  EXPECT_EQ(r.losses.size(), 2u);
  EXPECT_NEAR(r.losses.at("loss_g_rec"), l1_before, 1e-6);
  EXPECT_DOUBLE_EQ(r.losses.at("loss_g"), r.losses.at("loss_g_rec"));

  // Without any discriminator at all.
  Pix2PixRecipe plain(torch::nn::AnyModule(g), torch::nn::AnyModule(), opt_g, nullptr, GanLossFns{}, l1_loss(), o);
  EXPECT_EQ(plain.modules().size(), 1u);
  EXPECT_EQ(plain.optimizers().size(), 1u);
  EXPECT_NO_THROW(plain.step(batch));
}

TEST(Pix2Pix, UnconditionalDiscriminatorSeesOnlyTheImage) {
  torch::manual_seed(3);
  TinyG g;
  TinyD d(1);
  auto opt_g = std::make_shared<torch::optim::Adam>(g->parameters(), torch::optim::AdamOptions(1e-3));
  auto opt_d = std::make_shared<torch::optim::Adam>(d->parameters(), torch::optim::AdamOptions(1e-3));
  Pix2PixOptions o;
  o.conditional = false;
  int64_t pooled = 0;
  Pix2PixRecipe recipe(torch::nn::AnyModule(g), torch::nn::AnyModule(d), opt_g, opt_d, bce_gan_loss(),
                       l1_loss(), o);
  recipe.set_fake_pool([&](const torch::Tensor& x) {
    EXPECT_EQ(x.size(1), 1);
    EXPECT_FALSE(x.requires_grad());
    ++pooled;
    return x;
  });
  const StepResult r = recipe.step(emgan::test::tiny_batch(1, 0));
  EXPECT_EQ(pooled, 1);
  EXPECT_TRUE(std::isfinite(r.losses.at("loss_d")));
}

TEST(Pix2Pix, PenaltyTermIsAddedToTheDiscriminatorLoss) {
  torch::manual_seed(4);
  TinyG g;
  TinyD d(2);
  auto opt_g = std::make_shared<torch::optim::SGD>(g->parameters(), torch::optim::SGDOptions(0.0 + 1e-9));
  auto opt_d = std::make_shared<torch::optim::SGD>(d->parameters(), torch::optim::SGDOptions(1e-9));
  GanLossFns gan = bce_gan_loss();
  gan.penalty = [](const std::function<torch::Tensor(const torch::Tensor&)>& dfn, const torch::Tensor& real,
                   const torch::Tensor& fake) {
    EXPECT_EQ(real.sizes(), fake.sizes());
    return 0.0 * dfn(real).mean() + 7.0;
  };
  Pix2PixRecipe with(torch::nn::AnyModule(g), torch::nn::AnyModule(d), opt_g, opt_d, gan, l1_loss(), {});
  torch::manual_seed(5);
  const auto batch = emgan::test::tiny_batch(0, 0);
  const double loss_with = with.step(batch).losses.at("loss_d");
  torch::manual_seed(4);
  TinyG g2;
  TinyD d2(2);
  auto og2 = std::make_shared<torch::optim::SGD>(g2->parameters(), torch::optim::SGDOptions(1e-9));
  auto od2 = std::make_shared<torch::optim::SGD>(d2->parameters(), torch::optim::SGDOptions(1e-9));
  Pix2PixRecipe without(torch::nn::AnyModule(g2), torch::nn::AnyModule(d2), og2, od2, bce_gan_loss(), l1_loss(), {});
  EXPECT_NEAR(loss_with - without.step(batch).losses.at("loss_d"), 7.0, 1e-5);
}

TEST(Pix2Pix, OptionsAreChecked) {
  TinyG g;
  auto opt_g = std::make_shared<torch::optim::SGD>(g->parameters(), torch::optim::SGDOptions(0.1));
  try {
    Pix2PixRecipe r(torch::nn::AnyModule(g), torch::nn::AnyModule(), opt_g, nullptr, bce_gan_loss(), l1_loss(), {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lambda_gan = 1"), std::string::npos) << e.what();
  }
  Pix2PixOptions o;
  o.lambda_rec = -1;
  EXPECT_THROW(o.validate(), ConfigError);
  auto back = settings_from_json<Pix2PixOptions>(Json{{"lambda_gan", 0.0}}, "run.json");
  EXPECT_EQ(back.lambda_gan, 0.0);
  EXPECT_EQ(back.lambda_rec, 100.0);
}
