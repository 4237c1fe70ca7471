// Generators and discriminators: registry, options, shapes, gradients, structure.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/models/discriminators.h"
#include "emgan/models/generators.h"
#include "model_test_util.h"

namespace em = emgan::models;
using emgan::Json;

namespace {

int64_t parameter_count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

template <typename Impl>
int64_t count_modules(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& c : m.modules()) n += dynamic_cast<const Impl*>(c.get()) != nullptr;
  return n;
}

void expect_every_parameter_has_gradient(const torch::nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << name << ": no gradient reaches " << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << name << ": zero gradient at " << p.key();
  }
}

}  // namespace

TEST(Generators, EveryRegisteredOneKeepsTheImageSize) {
  for (const auto& name : em::generator_registry().names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(11);
    auto g = em::make_generator(name, emgan::test::small_generator_options(name));
    EXPECT_EQ(g->in_channels(), 1);
    EXPECT_EQ(g->out_channels(), 1);
    for (auto [h, w] : {std::pair<int64_t, int64_t>{32, 32}, {197, 259}, {21, 9}}) {
      g->train();
      auto y = g->forward(torch::randn({2, 1, h, w}));
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 1, h, w})) << h << "x" << w;
      EXPECT_LT(y.abs().max().item<float>(), 1.0f) << "tanh output";
    }
    g->eval();
    EXPECT_EQ(g->forward(torch::randn({1, 1, 5, 3})).sizes(), (std::vector<int64_t>{1, 1, 5, 3}));
  }
}

TEST(Generators, GradientReachesEveryParameter) {
  for (const auto& name : em::generator_registry().names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(12);
    auto g = em::make_generator(name, emgan::test::small_generator_options(name));
    g->train();
    auto y = g->forward(torch::randn({2, 1, 33, 47}));
    (y * torch::randn_like(y)).sum().backward();
    expect_every_parameter_has_gradient(*g, name);
  }
}

TEST(Generators, ChannelsAndOutputActivation) {
  torch::manual_seed(13);
  for (const std::string name : {"unet", "resnet", "lawrence2020"}) {
    SCOPED_TRACE(name);
    Json o = emgan::test::small_generator_options(name);
    o["in_channels"] = 3;
    o["out_channels"] = 2;
    o["output_activation"] = "sigmoid";
    auto g = em::make_generator(name, o);
    auto y = g->forward(torch::randn({1, 3, 20, 24}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 2, 20, 24}));
    EXPECT_GT(y.min().item<float>(), 0.0f);
    o["output_activation"] = "none";
    auto linear = em::make_generator(name, o);
    EXPECT_EQ(count_modules<torch::nn::TanhImpl>(*linear) + count_modules<torch::nn::SigmoidImpl>(*linear), 0);
    try {
      g->forward(torch::randn({1, 1, 20, 24}));
      FAIL() << "wrong channel count accepted";
    } catch (const emgan::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("[N, 3, H, W]"), std::string::npos) << e.what();
    }
  }
}

TEST(Generators, Unet256MatchesPix2pixParameterCount) {
  // Reference: scripts/check_python_load.py --reference-counts, which builds
  // pytorch-CycleGAN-and-pix2pix's UnetGenerator(3, 3, 8, 64, BatchNorm2d, use_dropout=True)
  // (and ResnetGenerator / NLayerDiscriminator) in Python torch 1.13.
  auto unet = em::make_generator("unet_256", {{"in_channels", 3}, {"out_channels", 3}});
  EXPECT_EQ(parameter_count(*unet), 54413955);
  EXPECT_EQ(count_modules<torch::nn::DropoutImpl>(*unet), 3) << "dropout in the three levels inside the innermost";
  EXPECT_EQ(count_modules<torch::nn::ConvTranspose2dImpl>(*unet), 8);
  // Default unet has 1 channel in and out.
  EXPECT_EQ(parameter_count(*em::make_generator("unet")), 54407809);
  auto resnet = em::make_generator("resnet_9blocks", {{"in_channels", 3}, {"out_channels", 3}});
  EXPECT_EQ(parameter_count(*resnet), 11378179);
  auto patch = em::make_discriminator("patchgan", {{"in_channels", 6}});
  EXPECT_EQ(parameter_count(*patch), 2768705);
}

TEST(Generators, Lawrence2020Structure) {
  auto g = std::dynamic_pointer_cast<em::Lawrence2020GeneratorImpl>(em::make_generator("lawrence2020"));
  ASSERT_TRUE(g);
  auto params = g->named_parameters();
  const std::vector<int64_t> ch{64, 128, 256, 512, 512, 512, 512};
  for (size_t i = 0; i < ch.size(); ++i) {
    const std::string down = "down" + std::to_string(i);
    const auto w = params[down + ".conv.weight"];
    EXPECT_EQ(w.sizes(), (std::vector<int64_t>{ch[i], i == 0 ? 1 : ch[i - 1], 7, 7})) << down;
    EXPECT_TRUE(params.contains(down + ".conv.bias"));
    EXPECT_EQ(params.contains(down + ".norm.weight"), i > 0) << "no norm on the first down";
  }
  for (size_t j = 0; j < 6; ++j) {
    const std::string up = "up" + std::to_string(j);
    const auto w = params[up + ".conv.weight"];
    EXPECT_EQ(w.size(0), ch[5 - j]) << up;
    EXPECT_EQ(w.size(2), 4) << up;
    EXPECT_TRUE(params.contains(up + ".norm.weight")) << up;
  }
  EXPECT_EQ(params["final.conv.weight"].sizes(), (std::vector<int64_t>{1, 128, 7, 7}));
  EXPECT_EQ(count_modules<torch::nn::TanhImpl>(*g), 1);
  EXPECT_EQ(count_modules<torch::nn::BatchNorm2dImpl>(*g), 12);
  EXPECT_DOUBLE_EQ(g->options_json().at("norm_momentum").get<double>(), 0.2);
}

TEST(Registry, UnknownNamesAndOptionsAreConfigErrors) {
  try {
    em::make_generator("unet_512");
    FAIL() << "no error";
  } catch (const emgan::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown generator 'unet_512'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("lawrence2020"), std::string::npos) << msg;
  }
  try {
    em::make_discriminator("pixelgan");
    FAIL() << "no error";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("patchgan"), std::string::npos) << e.what();
  }
  try {
    em::make_generator("unet", {{"ngff", 8}});
    FAIL() << "no error";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'ngff'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(em::make_generator("unet", {{"ngf", "wide"}}), emgan::ConfigError);
  EXPECT_THROW(em::make_generator("unet", {{"depth", 1}}), emgan::ConfigError);
  EXPECT_THROW(em::make_generator("resnet", {{"norm", "group"}}), emgan::ConfigError);
  EXPECT_THROW(em::make_generator("lawrence2020", {{"output_activation", "relu"}}), emgan::ConfigError);
  EXPECT_THROW(em::make_discriminator("multiscale_patchgan", {{"patchgan", {{"nfd", 3}}}}), emgan::ConfigError);
  EXPECT_THROW(em::make_discriminator("patchgan", Json::array()), emgan::ConfigError);
  for (const std::string name : {"unet", "unet_256", "unet_128", "resnet", "resnet_9blocks", "resnet_6blocks",
                                 "lawrence2020"}) {
    EXPECT_TRUE(em::generator_registry().contains(name)) << name;
  }
}

TEST(Registry, OptionsRoundTripThroughTheArchitectureName) {
  torch::manual_seed(14);
  for (const auto& name : em::generator_registry().names()) {
    auto g = em::make_generator(name, emgan::test::small_generator_options(name));
    auto again = em::make_generator(g->arch(), g->options_json());
    EXPECT_EQ(again->options_json(), g->options_json()) << name;
    EXPECT_EQ(parameter_count(*again), parameter_count(*g)) << name;
  }
  auto u128 = em::make_generator("unet_128", {{"ngf", 2}});
  EXPECT_EQ(u128->options_json().at("depth"), 7);
  EXPECT_EQ(count_modules<torch::nn::DropoutImpl>(*u128), 2);
  EXPECT_EQ(em::make_generator("resnet_6blocks", {{"ngf", 2}})->options_json().at("n_blocks"), 6);
  EXPECT_EQ(em::make_generator("resnet_6blocks", {{"ngf", 2}, {"n_blocks", 4}})->options_json().at("n_blocks"), 4);
  for (const auto& name : em::discriminator_registry().names()) {
    auto d = em::make_discriminator(name, emgan::test::small_discriminator_options(name));
    auto again = em::make_discriminator(d->arch(), d->options_json());
    EXPECT_EQ(again->options_json(), d->options_json()) << name;
  }
}

TEST(Discriminators, OutputMapsPerScale) {
  torch::manual_seed(15);
  auto patch = em::make_discriminator("patchgan", {{"ndf", 4}});
  auto out = patch->forward(torch::randn({2, 2, 64, 64}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{2, 1, 6, 6})) << "pix2pix 70x70 PatchGAN on 64x64";

  auto multi = em::make_discriminator("multiscale_patchgan", {{"n_scales", 3}, {"patchgan", {{"ndf", 4}, {"n_layers", 2}}}});
  auto maps = multi->forward(torch::randn({1, 2, 64, 64}));
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].sizes(), (std::vector<int64_t>{1, 1, 14, 14}));
  EXPECT_EQ(maps[1].sizes(), (std::vector<int64_t>{1, 1, 6, 6}));
  EXPECT_EQ(maps[2].sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(multi->named_children().size(), 3u);

  auto lawrence = em::make_discriminator("lawrence2020_patchgan", {{"ndf", 4}});
  auto l = lawrence->forward(torch::randn({1, 2, 197, 259}));
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].sizes(), (std::vector<int64_t>{1, 1, 13, 17})) << "4 stride-2 'same' convs: ceil(H/16)";
  auto full = em::make_discriminator("lawrence2020_patchgan");
  auto p = full->named_parameters();
  EXPECT_EQ(p["layer3.conv.weight"].sizes(), (std::vector<int64_t>{512, 256, 4, 4}));
  EXPECT_FALSE(p.contains("layer0.norm.weight"));
  EXPECT_EQ(p["out.conv.weight"].sizes(), (std::vector<int64_t>{1, 512, 4, 4}));
}

TEST(Discriminators, SpectralNormAndGradients) {
  for (const auto& name : em::discriminator_registry().names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(16);
    auto d = em::make_discriminator(name, emgan::test::small_discriminator_options(name));
    d->train();
    auto maps = d->forward(torch::randn({2, 2, 64, 48}));
    torch::Tensor loss = torch::zeros({});
    for (const auto& m : maps) loss = loss + (m * torch::randn_like(m)).sum();
    loss.backward();
    expect_every_parameter_has_gradient(*d, name);
  }
  auto sn = em::make_discriminator("patchgan", {{"ndf", 4}, {"spectral_norm", true}, {"norm", "none"}});
  int64_t wrapped = 0, orig = 0;
  for (const auto& p : sn->named_parameters()) orig += p.key().find("weight_orig") != std::string::npos;
  for (const auto& b : sn->named_buffers()) wrapped += b.key().find("weight_u") != std::string::npos;
  EXPECT_EQ(orig, 5);
  EXPECT_EQ(wrapped, 5);
  EXPECT_EQ(count_modules<emgan::nn::SpectralNormImpl>(*sn), 5);
}
