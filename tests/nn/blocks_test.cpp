// Blocks, padding helpers and weight initialisation of emgan::nn.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "emgan/core/error.h"
#include "emgan/nn/blocks.h"
#include "emgan/nn/weight_norms.h"

namespace en = emgan::nn;

namespace {
std::set<std::string> child_names(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& c : m.named_children()) out.insert(c.key());
  return out;
}
std::set<std::string> param_names(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters()) out.insert(p.key());
  return out;
}
}  // namespace

TEST(ConvBlock, SamePaddingGivesCeilOfInputOverStride) {
  torch::manual_seed(1);
  en::ConvBlock block(en::ConvBlockOptions(2, 3, 7).stride(2).norm("none"));
  for (auto [h, w] : {std::pair<int64_t, int64_t>{197, 259}, {16, 16}, {5, 8}, {1, 1}}) {
    auto y = block->forward(torch::randn({1, 2, h, w}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 3, (h + 1) / 2, (w + 1) / 2})) << h << "x" << w;
  }
  en::ConvBlock explicit_pad(en::ConvBlockOptions(2, 3, 3).padding(1).padding_mode("reflect").norm("none"));
  EXPECT_EQ(explicit_pad->forward(torch::randn({1, 2, 9, 10})).sizes(), (std::vector<int64_t>{1, 3, 9, 10}));
}

TEST(ConvBlock, PadSamePutsTheOddPixelAtTheEnd) {
  auto x = torch::arange(1, 26, torch::kFloat).reshape({1, 1, 5, 5});
  auto y = en::pad_same(x, 4, 1);  // total padding 3: 1 before, 2 after
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 8, 8}));
  EXPECT_TRUE(torch::equal(y.narrow(2, 1, 5).narrow(3, 1, 5), x));
  EXPECT_EQ(y.narrow(2, 6, 2).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(y.narrow(2, 0, 1).abs().sum().item<float>(), 0.0f);
}

TEST(ConvBlock, ChildrenBiasAndOrder) {
  en::ConvBlock bn(en::ConvBlockOptions(2, 4, 3));
  EXPECT_EQ(child_names(*bn), (std::set<std::string>{"conv", "norm", "act"}));
  EXPECT_EQ(param_names(*bn), (std::set<std::string>{"conv.weight", "norm.weight", "norm.bias"}))
      << "no conv bias before batch norm";
  en::ConvBlock inst(en::ConvBlockOptions(2, 4, 3).norm("instance").activation("none").dropout(0.5));
  EXPECT_EQ(child_names(*inst), (std::set<std::string>{"conv", "norm", "drop"}));
  EXPECT_EQ(param_names(*inst), (std::set<std::string>{"conv.weight", "conv.bias"}));
  en::ConvBlock sn(en::ConvBlockOptions(2, 4, 3).norm("none").spectral_norm(true));
  EXPECT_EQ(param_names(*sn), (std::set<std::string>{"conv.weight_orig", "conv.bias"}));

  // relu last: non-negative; relu first then batch norm: zero mean per channel.
  torch::manual_seed(2);
  auto x = torch::randn({4, 2, 8, 8});
  en::ConvBlock norm_act(en::ConvBlockOptions(2, 4, 3).activation("relu"));
  EXPECT_GE(norm_act->forward(x).min().item<float>(), 0.0f);
  en::ConvBlock act_norm(en::ConvBlockOptions(2, 4, 3).activation("relu").activation_first(true));
  auto y = act_norm->forward(x);
  EXPECT_LT(y.min().item<float>(), 0.0f);
  EXPECT_LT(y.mean({0, 2, 3}).abs().max().item<float>(), 1e-5f);
}

TEST(ConvBlock, UnknownNamesAreConfigErrors) {
  try {
    en::ConvBlock(en::ConvBlockOptions(1, 1, 3).norm("group"));
    FAIL() << "no error";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'group'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("batch, instance, none"), std::string::npos) << e.what();
  }
  EXPECT_THROW(en::ConvBlock(en::ConvBlockOptions(1, 1, 3).activation("gelu")), emgan::ConfigError);
  EXPECT_THROW(en::ConvBlock(en::ConvBlockOptions(1, 1, 3).dropout(1.0)), emgan::ConfigError);
  EXPECT_THROW(en::ConvBlock(en::ConvBlockOptions(0, 1, 3)), emgan::ConfigError);
  EXPECT_THROW(en::make_norm("layer", 3), emgan::ConfigError);
  EXPECT_THROW(en::DeconvBlock(en::DeconvBlockOptions(1, 1, 4).mode("pixelshuffle")), emgan::ConfigError);
}

TEST(DeconvBlock, UpSamplesExactlyForAnyKernel) {
  torch::manual_seed(3);
  auto x = torch::randn({2, 3, 5, 7});
  for (int64_t k : {2, 3, 4, 5, 7}) {
    en::DeconvBlock t(en::DeconvBlockOptions(3, 2, k).norm("instance"));
    EXPECT_EQ(t->forward(x).sizes(), (std::vector<int64_t>{2, 2, 10, 14})) << "transposed k=" << k;
    en::DeconvBlock u(en::DeconvBlockOptions(3, 2, k).mode("upsample").norm("batch"));
    EXPECT_EQ(u->forward(x).sizes(), (std::vector<int64_t>{2, 2, 10, 14})) << "upsample k=" << k;
  }
  en::DeconvBlock sn(en::DeconvBlockOptions(3, 2, 4).spectral_norm(true).norm("none"));
  EXPECT_EQ(sn->forward(x).sizes(), (std::vector<int64_t>{2, 2, 10, 14}));
}

TEST(PadToMultiple, ReflectsAndCropsBack) {
  torch::manual_seed(4);
  auto x = torch::randn({1, 2, 197, 259});
  en::PadBox box;
  auto p = en::pad_to_multiple(x, 128, &box);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{1, 2, 256, 384}));
  EXPECT_EQ(box.top, 29);
  EXPECT_EQ(box.left, 62);
  EXPECT_TRUE(torch::equal(en::crop_to_box(p, box), x));
  // Reflection: the row above the image mirrors its second row.
  EXPECT_TRUE(torch::equal(p.select(2, box.top - 1).narrow(2, box.left, 259), x.select(2, 1)));

  auto small = torch::randn({1, 1, 3, 2});  // padding larger than the image: repeated reflection
  auto ps = en::pad_to_multiple(small, 16, &box);
  ASSERT_EQ(ps.sizes(), (std::vector<int64_t>{1, 1, 16, 16}));
  EXPECT_TRUE(torch::equal(en::crop_to_box(ps, box), small));
  auto one = torch::full({1, 1, 1, 1}, 2.5f);
  auto p1 = en::pad_to_multiple(one, 8, &box);
  EXPECT_TRUE(torch::equal(p1, torch::full({1, 1, 8, 8}, 2.5f)));
  auto pm = en::pad_to_multiple(torch::randn({1, 1, 4, 4}), 4, &box, 8);
  EXPECT_EQ(pm.sizes(), (std::vector<int64_t>{1, 1, 8, 8}));
}

TEST(InitWeights, NormalAsPix2pix) {
  torch::manual_seed(5);
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 64, 4)),
                            torch::nn::BatchNorm2d(4096),
                            torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(64, 32, 4)),
                            en::SpectralNorm(torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 64, 4))));
  en::init_weights(*net, "normal", 0.02);
  auto conv = net[0]->as<torch::nn::Conv2d>();
  EXPECT_NEAR(conv->weight.std().item<double>(), 0.02, 0.0005);
  EXPECT_NEAR(conv->weight.mean().item<double>(), 0.0, 0.0005);
  EXPECT_EQ(conv->bias.abs().sum().item<float>(), 0.0f);
  auto bn = net[1]->as<torch::nn::BatchNorm2d>();
  EXPECT_NEAR(bn->weight.mean().item<double>(), 1.0, 0.002);
  EXPECT_NEAR(bn->weight.std().item<double>(), 0.02, 0.002);
  EXPECT_EQ(bn->bias.abs().sum().item<float>(), 0.0f);
  EXPECT_NEAR(net[2]->as<torch::nn::ConvTranspose2d>()->weight.std().item<double>(), 0.02, 0.0005);
  auto sn = net[3]->as<en::SpectralNorm>();
  EXPECT_NEAR(sn->weight_orig.std().item<double>(), 0.02, 0.0005);
  EXPECT_EQ(sn->bias.abs().sum().item<float>(), 0.0f);
}

TEST(InitWeights, XavierKaimingOrthogonalDefault) {
  torch::manual_seed(6);
  torch::nn::Linear lin(256, 128);
  en::init_weights(*lin, "xavier", 1.0);
  EXPECT_NEAR(lin->weight.std().item<double>(), std::sqrt(2.0 / (256 + 128)), 0.002);
  en::init_weights(*lin, "kaiming", 1.0);
  EXPECT_NEAR(lin->weight.std().item<double>(), std::sqrt(2.0 / 256), 0.003);
  en::init_weights(*lin, "orthogonal", 2.0);
  auto wwt = torch::mm(lin->weight, lin->weight.t());
  EXPECT_TRUE(torch::allclose(wwt, 4.0 * torch::eye(128), 1e-4, 1e-4));
  auto before = lin->weight.clone();
  en::init_weights(*lin, "default", 1.0);
  EXPECT_TRUE(torch::equal(before, lin->weight));
  EXPECT_THROW(en::init_weights(*lin, "uniformish"), emgan::ConfigError);
}
