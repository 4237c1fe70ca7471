// GAN and reconstruction losses: golden values on tiny tensors, gradients,
// registries, the WGAN-GP gradient penalty.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/losses/gan.h"
#include "emgan/losses/reconstruction.h"

namespace l = emgan::losses;
using emgan::Json;

namespace {
double value(const torch::Tensor& t) {
  EXPECT_EQ(t.dim(), 0);
  return t.item<double>();
}
torch::Tensor dt(std::initializer_list<double> v) {
  return torch::tensor(std::vector<double>(v), torch::kDouble);
}
double softplus(double x) { return std::log1p(std::exp(x)); }
}  // namespace

TEST(GanLoss, VanillaIsBinaryCrossEntropyOnLogits) {
  auto loss = l::make_gan_loss("vanilla");
  EXPECT_NEAR(value(loss->discriminator_loss(dt({0.0, 0.0}), dt({0.0}))), 2 * std::log(2.0), 1e-12);
  // BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x)
  EXPECT_NEAR(value(loss->discriminator_loss(dt({2.0}), dt({-1.0}))),
              softplus(-2.0) + softplus(-1.0), 1e-12);
  EXPECT_NEAR(value(loss->generator_loss(dt({-1.0, 3.0}))), 0.5 * (softplus(1.0) + softplus(-3.0)),
              1e-12);
  auto smooth = l::make_gan_loss("vanilla", {{"real_label", 0.9}});
  // BCE(0, 0.9) = log 2 for any target
  EXPECT_NEAR(value(smooth->generator_loss(dt({0.0}))), std::log(2.0), 1e-12);
  EXPECT_NEAR(value(smooth->generator_loss(dt({1.0}))), 0.9 * softplus(-1.0) + 0.1 * softplus(1.0),
              1e-12);
}

TEST(GanLoss, LeastSquares) {
  auto loss = l::make_gan_loss("lsgan");
  // real: mean((0.5-1)^2, (1.5-1)^2) = 0.25; fake: 0.5^2 = 0.25
  EXPECT_NEAR(value(loss->discriminator_loss(dt({0.5, 1.5}), dt({0.5}))), 0.5, 1e-12);
  EXPECT_NEAR(value(loss->generator_loss(dt({0.5, 3.0}))), 0.5 * (0.25 + 4.0), 1e-12);
}

TEST(GanLoss, Hinge) {
  auto loss = l::make_gan_loss("hinge");
  // real: mean(relu(1 - 0.5), relu(1 - 2)) = 0.25; fake: mean(relu(1 - 2), relu(1 + 0)) = 0.5
  EXPECT_NEAR(value(loss->discriminator_loss(dt({0.5, 2.0}), dt({-2.0, 0.0}))), 0.75, 1e-12);
  EXPECT_NEAR(value(loss->generator_loss(dt({-2.0, 0.0}))), 1.0, 1e-12);
}

TEST(GanLoss, Wasserstein) {
  auto loss = l::make_gan_loss("wgan");
  EXPECT_NEAR(value(loss->discriminator_loss(dt({1.0, 3.0}), dt({-1.0, 0.0}))), -0.5 - 2.0, 1e-12);
  EXPECT_NEAR(value(loss->generator_loss(dt({-1.0, 0.0}))), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(loss->gradient_penalty_weight(), 10.0);
  EXPECT_DOUBLE_EQ(l::make_gan_loss("wgan", {{"gp_lambda", 5}})->gradient_penalty_weight(), 5.0);
  EXPECT_DOUBLE_EQ(l::make_gan_loss("hinge")->gradient_penalty_weight(), 0.0);
}

TEST(GanLoss, MultiScaleAveragesScales) {
  for (const auto& name : l::gan_loss_registry().names()) {
    auto loss = l::make_gan_loss(name);
    auto r1 = dt({0.3, -0.2}), r2 = dt({1.5}), f1 = dt({-0.7}), f2 = dt({0.1, 0.4, 2.0});
    const double d =
        0.5 * (value(loss->discriminator_loss(r1, f1)) + value(loss->discriminator_loss(r2, f2)));
    EXPECT_NEAR(value(loss->discriminator_loss(std::vector<torch::Tensor>{r1, r2}, {f1, f2})), d,
                1e-12)
        << name;
    const double g = 0.5 * (value(loss->generator_loss(f1)) + value(loss->generator_loss(f2)));
    EXPECT_NEAR(value(loss->generator_loss(std::vector<torch::Tensor>{f1, f2})), g, 1e-12) << name;
    EXPECT_THROW(loss->discriminator_loss(std::vector<torch::Tensor>{r1, r2}, {f1}),
                 emgan::ConfigError);
    EXPECT_THROW(loss->generator_loss(std::vector<torch::Tensor>{}), emgan::ConfigError);
  }
}

TEST(GanLoss, GradientsFlowToLogits) {
  torch::manual_seed(0);
  for (const auto& name : l::gan_loss_registry().names()) {
    auto loss = l::make_gan_loss(name);
    auto real = torch::randn({2, 1, 3, 3}).requires_grad_(true);
    auto fake = torch::randn({2, 1, 3, 3}).requires_grad_(true);
    loss->discriminator_loss(real, fake).backward();
    ASSERT_TRUE(real.grad().defined() && fake.grad().defined()) << name;
    EXPECT_GT(real.grad().abs().sum().item<double>(), 0) << name;
    EXPECT_GT(fake.grad().abs().sum().item<double>(), 0) << name;
    auto fake2 = torch::randn({2, 1, 3, 3}).requires_grad_(true);
    loss->generator_loss(fake2).backward();
    EXPECT_GT(fake2.grad().abs().sum().item<double>(), 0) << name;
  }
}

TEST(GanLoss, RegistryListsNamesAndRejectsUnknowns) {
  EXPECT_EQ(l::gan_loss_registry().names(),
            (std::vector<std::string>{"hinge", "lsgan", "vanilla", "wgan"}));
  try {
    l::make_gan_loss("bce");
    FAIL() << "no exception";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lsgan"), std::string::npos) << e.what();
  }
  EXPECT_THROW(l::make_gan_loss("vanilla", {{"gp_lambda", 1}}), emgan::ConfigError);
  EXPECT_THROW(l::make_gan_loss("hinge", {{"real_label", 1}}), emgan::ConfigError);
  EXPECT_THROW(l::make_gan_loss("wgan", {{"gp_lambda", -1}}), emgan::ConfigError);
  EXPECT_THROW(l::make_gan_loss("lsgan", {{"real_label", "one"}}), emgan::ConfigError);
  auto a = l::make_gan_loss("lsgan", {{"real_label", 0.9}});
  auto b = l::make_gan_loss(a->name(), a->options());
  EXPECT_EQ(b->options(), a->options());
  EXPECT_DOUBLE_EQ(b->options().at("real_label").get<double>(), 0.9);
}

TEST(GradientPenalty, ZeroForAUnitNormLinearCritic) {
  torch::manual_seed(1);
  auto w = torch::randn({1, 2, 3, 3}, torch::kDouble);
  w = w / w.norm();
  auto critic = [&](const torch::Tensor& x) { return (x * w).sum({1, 2, 3}); };
  auto real = torch::randn({4, 2, 3, 3}, torch::kDouble);
  auto fake = torch::randn({4, 2, 3, 3}, torch::kDouble);
  EXPECT_NEAR(value(l::gradient_penalty(critic, real, fake, 10.0)), 0.0, 1e-12);
  // A critic of gradient norm 2 costs lambda * (2 - 1)^2.
  auto steep = [&](const torch::Tensor& x) { return (2.0 * x * w).sum({1, 2, 3}); };
  EXPECT_NEAR(value(l::gradient_penalty(steep, real, fake, 10.0)), 10.0, 1e-9);
  EXPECT_THROW(l::gradient_penalty(critic, real, fake, -1.0), emgan::ConfigError);
  EXPECT_THROW(l::gradient_penalty(critic, real, fake.narrow(0, 0, 2), 1.0), emgan::ConfigError);
}

TEST(GradientPenalty, ReachesTheCriticsParameters) {
  torch::manual_seed(2);
  torch::nn::Sequential critic(torch::nn::Flatten(), torch::nn::Linear(8, 4), torch::nn::Tanh(),
                               torch::nn::Linear(4, 1));
  auto real = torch::randn({3, 2, 2, 2});
  auto fake = torch::randn({3, 2, 2, 2}, torch::requires_grad());  // detached inside
  auto gp = l::gradient_penalty([&](const torch::Tensor& x) { return critic->forward(x); }, real,
                                fake, 10.0);
  EXPECT_GT(value(gp), 0.0);
  gp.backward();
  // grad_x D does not depend on the output bias (parameter 3); all others are reached.
  const auto params = critic->parameters();
  ASSERT_EQ(params.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << i;
    EXPECT_TRUE(torch::isfinite(params[i].grad()).all().item<bool>()) << i;
    EXPECT_GT(params[i].grad().abs().sum().item<double>(), 0.0) << i;
  }
  EXPECT_FALSE(fake.grad().defined());
}

TEST(ReconstructionLoss, GoldenValues) {
  auto pred = dt({1.0, 2.0, 4.0, 0.0});
  auto target = dt({1.0, 1.0, 1.0, 1.0});
  // |d| = 0 1 3 1 -> L1 1.25; d^2 = 0 1 9 1 -> MSE 2.75
  EXPECT_NEAR(value((*l::make_reconstruction_loss("l1"))(pred, target)), 1.25, 1e-12);
  EXPECT_NEAR(value((*l::make_reconstruction_loss("mse"))(pred, target)), 2.75, 1e-12);
  EXPECT_NEAR(value((*l::make_reconstruction_loss("l1+mse"))(pred, target)),
              0.5 * 1.25 + 0.5 * 2.75, 1e-12);
  auto weighted = l::make_reconstruction_loss("l1+mse", {{"l1_weight", 1.0}, {"mse_weight", 0.1}});
  EXPECT_NEAR(value((*weighted)(pred, target)), 1.25 + 0.275, 1e-12);
  EXPECT_EQ(weighted->options(), (Json{{"l1_weight", 1.0}, {"mse_weight", 0.1}}));
}

TEST(ReconstructionLoss, RejectsBadOptionsAndShapes) {
  EXPECT_EQ(l::reconstruction_loss_registry().names(),
            (std::vector<std::string>{"l1", "l1+mse", "mse", "ssim"}));
  EXPECT_THROW(l::make_reconstruction_loss("l2"), emgan::ConfigError);
  EXPECT_THROW(l::make_reconstruction_loss("l1", {{"weight", 1}}), emgan::ConfigError);
  EXPECT_THROW(l::make_reconstruction_loss("l1+mse", {{"l1_weight", -1}}), emgan::ConfigError);
  EXPECT_THROW(l::make_reconstruction_loss("l1+mse", {{"l1_weight", 0}, {"mse_weight", 0}}),
               emgan::ConfigError);
  try {
    l::make_reconstruction_loss("ssim");
    FAIL() << "no exception";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data_range"), std::string::npos) << e.what();
  }
  EXPECT_THROW(l::make_reconstruction_loss("ssim", {{"data_range", 1}, {"sigma", 0}}),
               emgan::ConfigError);
  auto l1 = l::make_reconstruction_loss("l1");
  EXPECT_THROW((*l1)(torch::zeros({2, 1, 4, 4}), torch::zeros({1, 1, 4, 4})),
               emgan::ConfigError);  // no broadcasting
}

TEST(ReconstructionLoss, SsimIsOneMinusSsimWithFiniteGradient) {
  torch::manual_seed(3);
  auto loss = l::make_reconstruction_loss("ssim", {{"data_range", 2.0}});
  EXPECT_DOUBLE_EQ(loss->options().at("data_range").get<double>(), 2.0);
  auto target = torch::rand({2, 1, 16, 16}) * 2 - 1;
  EXPECT_NEAR(value((*loss)(target, target)), 0.0, 1e-6);
  auto pred = (target + 0.3 * torch::randn({2, 1, 16, 16})).requires_grad_(true);
  auto v = (*loss)(pred, target);
  EXPECT_GT(value(v), 0.05);
  EXPECT_LT(value(v), 1.0);
  v.backward();
  ASSERT_TRUE(pred.grad().defined());
  EXPECT_TRUE(torch::isfinite(pred.grad()).all().item<bool>());
  EXPECT_GT(pred.grad().abs().sum().item<double>(), 0.0);
  // A small step against the gradient lowers the loss.
  auto stepped = (pred.detach() - 0.5 * pred.grad() / pred.grad().abs().max());
  EXPECT_LT(value((*loss)(stepped, target)), value(v));
}

TEST(ReconstructionLoss, GradientFlowsForAllLosses) {
  torch::manual_seed(4);
  for (const auto& name : l::reconstruction_loss_registry().names()) {
    Json opts = name == "ssim" ? Json{{"data_range", 1.0}} : Json::object();
    auto loss = l::make_reconstruction_loss(name, opts);
    auto pred = torch::rand({1, 1, 12, 12}).requires_grad_(true);
    (*loss)(pred, torch::rand({1, 1, 12, 12})).backward();
    ASSERT_TRUE(pred.grad().defined()) << name;
    EXPECT_GT(pred.grad().abs().sum().item<double>(), 0.0) << name;
    EXPECT_EQ(l::make_reconstruction_loss(name, loss->options())->options(), loss->options())
        << name;
  }
}

TEST(Losses, RunOnGpu_CUDA) {
  auto cuda = torch::Device(torch::kCUDA);
  auto real = torch::randn({2, 1, 4, 4}, cuda);
  auto fake = torch::randn({2, 1, 4, 4}, cuda);
  for (const auto& name : l::gan_loss_registry().names()) {
    auto d = l::make_gan_loss(name)->discriminator_loss(real, fake);
    EXPECT_TRUE(d.is_cuda()) << name;
  }
  auto ssim = l::make_reconstruction_loss("ssim", {{"data_range", 1.0}});
  auto pred = torch::rand({1, 1, 16, 16}, cuda).requires_grad_(true);
  auto target = torch::rand({1, 1, 16, 16}, cuda);
  auto v = (*ssim)(pred, target);
  v.backward();
  EXPECT_NEAR(value(v.cpu()), value((*ssim)(pred.detach().cpu(), target.cpu())), 1e-5);
  auto w = torch::randn({1, 1, 4, 4}, cuda);
  w = w / w.norm();
  auto gp = l::gradient_penalty(
      [&](const torch::Tensor& x) {
        return (x * w).sum({1, 2, 3});
      },
      real, fake, 10.0);
  EXPECT_TRUE(gp.is_cuda());
  EXPECT_NEAR(value(gp.cpu()), 0.0, 1e-6);
}
