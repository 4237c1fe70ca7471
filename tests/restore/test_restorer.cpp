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
