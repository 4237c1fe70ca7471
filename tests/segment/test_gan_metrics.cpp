// CycleGAN loss terms with known answers; Fréchet / kernel distances.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/models/discriminators.h"
#include "emgan/models/generators.h"
#include "emgan/segment/cyclegan.h"
#include "emgan/segment/feature_distance.h"
#include "emgan/segment/phantom.h"
#include "emgan/train/optim.h"

using namespace emgan;
using namespace emgan::segment;

TEST(CycleGan, CycleAndIdentityTermsKnownAnswer) {
  const auto a = torch::randn({2, 1, 8, 8}), b = torch::randn({2, 1, 8, 8});
  // G_AB adds 1, G_BA subtracts 1: perfect cycles, identity error 1 per pixel each way.
  auto plus = [](const torch::Tensor& x) { return x + 1; };
  auto minus = [](const torch::Tensor& x) { return x - 1; };
  auto t = cycle_terms(plus, minus, a, b, 10.0, 0.5);
  EXPECT_NEAR(t.cycle_a.item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(t.cycle_b.item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(t.idt_a.item<double>(), 5.0, 1e-5);  // 10 * 0.5 * |b + 1 - b|
  EXPECT_NEAR(t.idt_b.item<double>(), 5.0, 1e-5);
  // G_AB doubles, G_BA identity: cycle_a = 10 * mean|a|.
  auto twice = [](const torch::Tensor& x) { return 2 * x; };
  auto same = [](const torch::Tensor& x) { return x; };
  t = cycle_terms(twice, same, a, b, 10.0, 0.0);
  EXPECT_NEAR(t.cycle_a.item<double>(), 10.0 * a.abs().mean().item<double>(), 1e-5);
  EXPECT_NEAR(t.cycle_b.item<double>(), 10.0 * b.abs().mean().item<double>(), 1e-5);
  EXPECT_EQ(t.idt_a.item<double>(), 0.0);
}

TEST(CycleGan, RecipeStepsAndReportsLosses) {
  torch::manual_seed(0);
  const Json g{{"ngf", 4}, {"n_blocks", 1}};
  const Json d{{"in_channels", 1}, {"ndf", 4}, {"n_layers", 1}, {"norm", "instance"}};
  auto g_ab = models::make_generator("resnet", g), g_ba = models::make_generator("resnet", g);
  auto d_a = models::make_discriminator("patchgan", d), d_b = models::make_discriminator("patchgan", d);
  train::OptimizerOptions oo;
  std::vector<torch::Tensor> pg = g_ab->parameters(), pd = d_a->parameters();
  for (const auto& p : g_ba->parameters()) pg.push_back(p);
  for (const auto& p : d_b->parameters()) pd.push_back(p);
  const auto before = g_ab->parameters()[0].clone();
  CycleGanRecipe r(g_ab, g_ba, d_a, d_b, train::make_optimizer(pg, oo), train::make_optimizer(pd, oo),
                   losses::make_gan_loss("lsgan"));
  train::Batch batch;
  batch.input = torch::rand({1, 1, 16, 16}) * 2 - 1;
  batch.target = torch::rand({1, 1, 16, 16}) * 2 - 1;
  const auto res = r.step(batch);
  for (const char* k : {"loss_g", "loss_cycle", "loss_idt", "loss_d_a", "loss_d_b"}) EXPECT_TRUE(res.losses.count(k)) << k;
  EXPECT_FALSE(torch::equal(before, g_ab->parameters()[0]));
  EXPECT_TRUE(d_a->parameters()[0].requires_grad());
}

TEST(FeatureDistance, GoldenShiftAndIdentity) {
  torch::manual_seed(1);
  const auto a = torch::randn({200, 3}, torch::kFloat64);
  const auto shift = torch::tensor({1.0, 2.0, 0.0}, torch::kFloat64);
  EXPECT_NEAR(frechet_distance(a, a + shift), 5.0, 1e-6);  // |shift|^2, same covariance
  EXPECT_NEAR(frechet_distance(a, a), 0.0, 1e-6);
  EXPECT_NEAR(kernel_distance(a, a.clone()), kernel_distance(a, a), 1e-12);
  // Scaling one set by 2 in 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2 = mu^2 + var(a).
  const auto x = torch::randn({500, 1}, torch::kFloat64);
  const double var = x.var().item<double>(), mu = x.mean().item<double>();
  EXPECT_NEAR(frechet_distance(x, 2 * x), mu * mu + var, 1e-6);
  EXPECT_THROW(frechet_distance(a, torch::randn({5, 4})), ConfigError);
}

TEST(FeatureDistance, IdenticalSetsZeroAndNoiseIncreasesIt) {
  PhantomSettings ps;
  ps.size = 48;
  ps.seed = 3;
  std::vector<torch::Tensor> real;
  for (int i = 0; i < 8; ++i) real.push_back(make_phantom(ps, i).image[0].clamp(0, 1));
  auto fx = make_feature_extractor("");
  EXPECT_NE(fx->name().find("randconv"), std::string::npos);
  const auto same = image_set_distance(real, real, *fx);
  EXPECT_LT(same.frechet, 1e-5);
  double last_fd = same.frechet, last_kid = same.kernel;
  auto gen = torch::make_generator<at::CPUGeneratorImpl>(5);
  for (double sigma : {0.05, 0.1, 0.2, 0.4}) {
    std::vector<torch::Tensor> noisy;
    for (const auto& r : real) noisy.push_back(r + sigma * torch::randn(r.sizes(), gen));
    const auto d = image_set_distance(real, noisy, *fx);
    EXPECT_GT(d.frechet, last_fd) << "sigma " << sigma;
    EXPECT_GT(d.kernel, last_kid) << "sigma " << sigma;
    last_fd = d.frechet;
    last_kid = d.kernel;
  }
}
