// Spectral and weight normalisation wrappers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "emgan/nn/weight_norms.h"
#include "test_util.h"

namespace en = emgan::nn;

namespace {
double largest_singular_value(const torch::Tensor& m) { return torch::linalg_svdvals(m.detach()).max().item<double>(); }

}  // namespace

TEST(SpectralNorm, GoldenDiagonalMatrix) {
  torch::nn::Linear lin(torch::nn::LinearOptions(2, 2).bias(false));
  {
    torch::NoGradGuard g;
    lin->weight.copy_(torch::tensor({{3.0f, 0.0f}, {0.0f, 1.0f}}));
  }
  en::SpectralNorm sn(lin);
  auto x = torch::eye(2);
  for (int i = 0; i < 30; ++i) sn->forward(x);
  // W / sigma_max = diag(1, 1/3); with input I the output is W^T.
  sn->eval();
  auto y = sn->forward(x);
  EXPECT_TRUE(torch::allclose(y, torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f / 3.0f}}), 1e-5, 1e-5)) << y;
}

TEST(SpectralNorm, ConvergesToUnitSpectralNormOnEveryLayerKind) {
  torch::manual_seed(7);
  struct Case {
    std::string name;
    en::SpectralNorm sn;
    torch::Tensor x;
    int64_t rows;
  };
  std::vector<Case> cases;
  cases.push_back({"conv2d", en::SpectralNorm(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 5, 3))),
                   torch::randn({1, 3, 6, 6}), 5});
  cases.push_back({"conv_transpose2d",
                   en::SpectralNorm(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(3, 5, 4).stride(2))),
                   torch::randn({1, 3, 4, 4}), 5});
  cases.push_back({"conv3d", en::SpectralNorm(torch::nn::Conv3d(torch::nn::Conv3dOptions(2, 4, 3))),
                   torch::randn({1, 2, 4, 4, 4}), 4});
  cases.push_back({"linear", en::SpectralNorm(torch::nn::Linear(7, 6)), torch::randn({2, 7}), 6});
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    {
      torch::NoGradGuard g;
      c.sn->weight_orig.mul_(10.0);  // far from spectral norm 1
    }
    EXPECT_EQ(c.sn->weight_matrix().size(0), c.rows) << "output features index the matrix rows";
    c.sn->train();
    for (int i = 0; i < 60; ++i) c.sn->forward(c.x);
    const auto w = c.sn->normalized_weight(false);
    const double sigma_orig = largest_singular_value(c.sn->weight_matrix());
    EXPECT_GT(sigma_orig, 2.0);
    // Reshape the normalised weight exactly as weight_orig: it is weight_orig / sigma.
    const double ratio = (c.sn->weight_orig.norm() / w.norm()).item<double>();
    EXPECT_NEAR(ratio, sigma_orig, 1e-3 * sigma_orig) << "sigma estimate = largest singular value";
    EXPECT_NEAR(largest_singular_value(c.sn->weight_matrix() / ratio), 1.0, 1e-3);
    // Output is the plain layer's with the normalised weight (checked for Linear).
    if (c.name == "linear") {
      c.sn->eval();
      auto y = c.sn->forward(c.x);
      auto ref = torch::nn::functional::linear(c.x, w, c.sn->bias);
      EXPECT_TRUE(torch::allclose(y, ref, 1e-5, 1e-6));
    }
  }
}

TEST(SpectralNorm, PowerIterationOnlyInTraining) {
  torch::manual_seed(8);
  en::SpectralNorm sn(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3)));
  auto x = torch::randn({1, 2, 5, 5});
  auto u0 = sn->weight_u.clone();
  sn->eval();
  sn->forward(x);
  EXPECT_TRUE(torch::equal(u0, sn->weight_u));
  sn->train();
  sn->forward(x);
  EXPECT_FALSE(torch::equal(u0, sn->weight_u));
  EXPECT_NEAR(sn->weight_u.norm().item<double>(), 1.0, 1e-6);
}

TEST(SpectralNorm, NamesGradientsAndSavedBuffers) {
  torch::manual_seed(9);
  en::SpectralNorm sn(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3)));
  std::set<std::string> params, buffers;
  for (const auto& p : sn->named_parameters()) params.insert(p.key());
  for (const auto& b : sn->named_buffers()) buffers.insert(b.key());
  EXPECT_EQ(params, (std::set<std::string>{"weight_orig", "bias"}));
  EXPECT_EQ(buffers, (std::set<std::string>{"weight_u", "weight_v"}));

  auto x = torch::randn({2, 2, 6, 6});
  sn->forward(x).pow(2).sum().backward();
  EXPECT_GT(sn->weight_orig.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(sn->bias.grad().abs().sum().item<float>(), 0.0f);

  for (int i = 0; i < 5; ++i) sn->forward(x);
  const auto path = emgan::test::temp_dir() / "sn.pt";
  torch::save(sn, path.string());
  torch::manual_seed(99);
  en::SpectralNorm other(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3)));
  ASSERT_FALSE(torch::equal(other->weight_u, sn->weight_u));
  torch::load(other, path.string());
  EXPECT_TRUE(torch::equal(other->weight_u, sn->weight_u));
  EXPECT_TRUE(torch::equal(other->weight_v, sn->weight_v));
  sn->eval();
  other->eval();
  EXPECT_TRUE(torch::equal(sn->forward(x), other->forward(x)));
}

TEST(WeightNorm, SameFunctionAtStartAndScaleInvariantDirection) {
  torch::manual_seed(10);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  auto x = torch::randn({2, 3, 6, 6});
  auto before = conv->forward(x).detach();
  en::WeightNorm wn(conv);
  EXPECT_EQ(wn->weight_g.sizes(), (std::vector<int64_t>{4, 1, 1, 1}));
  EXPECT_TRUE(torch::allclose(wn->forward(x), before, 1e-5, 1e-5));
  {
    torch::NoGradGuard g;
    wn->weight_v.mul_(3.0);
  }
  EXPECT_TRUE(torch::allclose(wn->forward(x), before, 1e-5, 1e-5)) << "only the direction of v counts";
  {
    torch::NoGradGuard g;
    wn->weight_g.mul_(2.0);
  }
  auto b = wn->bias.view({1, 4, 1, 1});
  EXPECT_TRUE(torch::allclose(wn->forward(x) - b, 2.0 * (before - b), 1e-4, 1e-5));
  wn->forward(x).sum().backward();
  EXPECT_GT(wn->weight_g.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(wn->weight_v.grad().abs().sum().item<float>(), 0.0f);
  std::set<std::string> params;
  for (const auto& p : wn->named_parameters()) params.insert(p.key());
  EXPECT_EQ(params, (std::set<std::string>{"weight_g", "weight_v", "bias"}));
}
