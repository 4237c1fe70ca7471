// The restorer network and its crop discriminators: shapes, gradients, save/load.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/models/restorer.h"
#include "emgan/restore/restore.h"
#include "test_util.h"

namespace m = emgan::models;

namespace {

m::RestorerOptions tiny() {
  m::RestorerOptions o;
  o.inner_widths = {4, 8, 8};
  o.inner_res_blocks = 1;
  o.outer_width = 4;
  o.outer_res_blocks = 1;
  return o;
}

/// tiny() refining a base prediction given as the third input channel.
m::RestorerOptions tiny_residual() {
  auto o = tiny();
  o.in_channels = 3;
  o.residual = true;
  return o;
}

}  // namespace

TEST(Restorer, ShapesOfBothOutputs) {
  torch::manual_seed(0);
  m::Restorer g(tiny());
  EXPECT_EQ(g->stride(), 8);
  const auto out = g->forward_both(torch::randn({2, 2, 32, 48}));
  EXPECT_EQ(out.full.sizes(), (std::vector<int64_t>{2, 1, 32, 48}));
  EXPECT_EQ(out.half.sizes(), (std::vector<int64_t>{2, 1, 16, 24}));
  try {
    g->forward(torch::randn({1, 2, 36, 32}));
    FAIL() << "size 36 accepted with stride 8";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("divisible by 8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g->forward(torch::randn({1, 1, 32, 32})), emgan::ConfigError);
}

TEST(Restorer, EdeWidthsBuildAndUseWeightNorm) {
  m::RestorerOptions o;  // Ede's widths
  m::Restorer g(o);
  EXPECT_EQ(g->stride(), 32);
  bool has_g = false;
  for (const auto& p : g->named_parameters()) has_g = has_g || p.key().find("weight_g") != std::string::npos;
  EXPECT_TRUE(has_g);
  m::RestorerOptions bad = tiny();
  bad.inner_widths = {4, 0};
  EXPECT_THROW(m::Restorer{bad}, emgan::ConfigError);
}

TEST(Restorer, GradientsReachEveryParameter) {
  torch::manual_seed(1);
  m::Restorer g(tiny());
  const auto out = g->forward_both(torch::randn({1, 2, 16, 16}));
  (out.full.square().mean() + out.half.square().mean()).backward();
  for (const auto& p : g->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
}

TEST(Restorer, SaveLoadRoundTrip) {
  torch::manual_seed(2);
  m::Restorer g(tiny());
  g->eval();
  const auto x = torch::randn({1, 2, 16, 16});
  const auto y = g->forward(x);
  const auto dir = emgan::test::temp_dir();
  m::save_restorer(g, dir / "model", {{"note", "test"}});
  auto loaded = m::load_restorer(dir / "model", torch::kCPU);
  EXPECT_TRUE(torch::allclose(loaded.model->forward(x), y, 1e-5, 1e-6));
  EXPECT_EQ(loaded.meta.at("note"), "test");
  EXPECT_THROW(m::load_restorer(dir / "nothing", torch::kCPU), emgan::IoError);
}

TEST(CropDiscriminator, OneScorePerScaleAtSharedLocations) {
  torch::manual_seed(3);
  m::CropDiscriminatorOptions o;
  o.scales = {0.25, 0.5, 1.0};
  o.size = 16;
  o.width = 4;
  o.layers = 2;
  m::CropDiscriminator d(o);
  EXPECT_EQ(d->crop_side(0, 64), 16);
  const auto corners = d->sample_corners(64, 64);
  ASSERT_EQ(corners.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_LE(corners[k][0] + d->crop_side(k, 64), 64);
    EXPECT_LE(corners[k][1] + d->crop_side(k, 64), 64);
  }
  const auto scores = d->forward(torch::randn({5, 1, 64, 64}), corners);
  ASSERT_EQ(scores.size(), 3u);
  for (const auto& s : scores) EXPECT_EQ(s.sizes(), (std::vector<int64_t>{5, 1}));
  bool spectral = false;
  for (const auto& p : d->named_buffers()) spectral = spectral || p.key().find("weight_u") != std::string::npos;
  EXPECT_TRUE(spectral);
  EXPECT_THROW(d->forward(torch::randn({1, 1, 64, 64}), {{0, 0}}), emgan::ConfigError);
}

TEST(Restorer, RestoreWithModelKeepsSamplesAndPads) {
  torch::manual_seed(4);
  m::Restorer g(tiny());
  auto scan = torch::rand({30, 21});
  auto mask = (torch::rand({30, 21}) < 0.2).to(torch::kFloat32);
  mask[0][0] = 1;
  const auto y = emgan::restore::restore_with_model(g, scan * mask, mask);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{30, 21}));
  EXPECT_TRUE(torch::allclose(y * mask, scan * mask));
  EXPECT_THROW(emgan::restore::restore_with_model(g, scan, torch::zeros({30, 21})), emgan::ConfigError);
}

TEST(Restorer, ResidualModeStartsAtTheBaseAndCanLearn) {
  torch::manual_seed(5);
  m::Restorer g(tiny_residual());
  const auto x = torch::rand({2, 3, 16, 24});
  const auto out = g->forward_both(x);
  const auto base = x.narrow(1, 2, 1);
  EXPECT_TRUE(torch::equal(out.full, base));
  EXPECT_TRUE(torch::allclose(out.half, torch::avg_pool2d(base, 2)));
  // The zero output layers still receive gradients, so training moves away from the base.
  torch::optim::SGD opt(g->parameters(), torch::optim::SGDOptions(0.1));
  (g->forward(x) - base - 0.5).square().mean().backward();
  opt.step();
  EXPECT_GT((g->forward(x) - base).abs().max().item<double>(), 1e-4);
  auto bad = tiny();
  bad.in_channels = 1;
  bad.residual = true;
  EXPECT_THROW(m::Restorer{bad}, emgan::ConfigError);
}

TEST(Restorer, UntrainedResidualRestorerReproducesItsBaseline) {
  torch::manual_seed(6);
  m::Restorer g(tiny_residual());
  // Odd size: the model pads to its stride (the base by edge replication) and crops back.
  const auto yy = torch::arange(30, torch::kFloat32).view({30, 1}).expand({30, 21});
  const auto xx = torch::arange(21, torch::kFloat32).view({1, 21}).expand({30, 21});
  const auto truth = 2.0 + torch::sin(yy / 4.0) * torch::cos(xx / 5.0);
  auto mask = (torch::rand({30, 21}) < 0.25).to(torch::kFloat32);
  for (const std::string base : {"linear", "harmonic"}) {
    const auto want = emgan::restore::classical_restore(base, (truth * mask).view({1, 1, 30, 21}),
                                                        mask.view({1, 1, 30, 21}))[0][0];
    const auto got = emgan::restore::restore_with_model(g, truth * mask, mask, base);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-4) << base;
    EXPECT_TRUE(torch::equal(got * mask, truth * mask)) << base;
  }
  // The base travels with the saved model.
  const auto dir = emgan::test::temp_dir();
  m::save_restorer(g, dir / "model", {{"base", "linear"}, {"baseline", emgan::restore::BaselineOptions{}}});
  auto loaded = m::load_restorer(dir / "model", torch::kCPU);
  EXPECT_TRUE(loaded.model->options.residual);
  const auto want = emgan::restore::classical_restore("linear", (truth * mask).view({1, 1, 30, 21}),
                                                      mask.view({1, 1, 30, 21}))[0][0];
  EXPECT_LT((emgan::restore::restore_with_model(loaded, truth * mask, mask) - want).abs().max().item<double>(), 1e-4);
  // A residual model without a base, or a plain one with a base, is refused.
  EXPECT_THROW(emgan::restore::restore_with_model(g, truth * mask, mask), emgan::ConfigError);
  m::Restorer plain(tiny());
  EXPECT_THROW(emgan::restore::restore_with_model(plain, truth * mask, mask, "linear"), emgan::ConfigError);
}
