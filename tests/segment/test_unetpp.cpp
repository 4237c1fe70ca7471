// UNet++ shapes, deep supervision, save/load; segmentation losses.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/models/unetpp.h"
#include "emgan/segment/segmenter.h"
#include "test_util.h"

using namespace emgan;
using models::UNetPlusPlusOptions;

namespace {
int64_t param_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST(UNetPlusPlus, ShapesForAnySize) {
  torch::manual_seed(0);
  for (const std::string enc : {"resnet18", "plain"}) {
    for (const std::string dec : {"nested", "unet"}) {
      models::UNetPlusPlus net(UNetPlusPlusOptions().encoder(enc).decoder(dec).depth(3).width(8).classes(2));
      const auto y = net->forward(torch::randn({2, 1, 37, 45}));
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 2, 37, 45})) << enc << " " << dec;
    }
  }
}

TEST(UNetPlusPlus, DeepSupervisionHasOneHeadPerTopNode) {
  torch::manual_seed(0);
  models::UNetPlusPlus net(UNetPlusPlusOptions().encoder("resnet18").depth(4).width(8).deep_supervision(true));
  net->eval();
  const auto x = torch::randn({1, 1, 32, 32});
  const auto heads = net->forward_heads(x);
  ASSERT_EQ(heads.size(), 4u);
  for (const auto& h : heads) EXPECT_EQ(h.sizes(), (std::vector<int64_t>{1, 1, 32, 32}));
  EXPECT_TRUE(torch::allclose(net->forward(x), torch::stack(heads).mean(0)));
  EXPECT_THROW(models::UNetPlusPlus(UNetPlusPlusOptions().decoder("unet").deep_supervision(true)), ConfigError);
  EXPECT_THROW(models::UNetPlusPlus(UNetPlusPlusOptions().depth(6)), ConfigError);
  // The nested decoder has more nodes than the plain U-Net decoder; ResNet-34 more blocks than -18.
  models::UNetPlusPlus nested(UNetPlusPlusOptions().encoder("resnet18").depth(3).width(8));
  models::UNetPlusPlus unet(UNetPlusPlusOptions().encoder("resnet18").decoder("unet").depth(3).width(8));
  models::UNetPlusPlus r34(UNetPlusPlusOptions().encoder("resnet34").depth(3).width(8));
  EXPECT_GT(param_count(*nested), param_count(*unet));
  EXPECT_GT(param_count(*r34), param_count(*nested));
}

TEST(UNetPlusPlus, SaveLoadRoundTrip) {
  models::register_unetpp();
  torch::manual_seed(1);
  auto net = models::make_generator("unetpp", Json{{"encoder", "resnet18"}, {"depth", 3}, {"width", 8},
                                                  {"deep_supervision", true}});
  net->eval();
  const auto path = test::temp_dir() / "seg.pt";
  models::save_model(*net, path, Json{{"task", "segment"}});
  models::ModelInfo info;
  auto back = models::load_generator(path, torch::kCPU, &info);
  back->eval();
  EXPECT_EQ(info.arch, "unetpp");
  const auto x = torch::randn({1, 1, 24, 24});
  EXPECT_TRUE(torch::allclose(net->forward(x), back->forward(x)));
  EXPECT_THROW(models::make_generator("unetpp", Json{{"encoder", "vgg"}}), ConfigError);
}

TEST(SegmentLosses, FocalAndJaccardGoldenValues) {
  // p = 0.5 on a particle pixel: -0.25 * 0.5^2 * log(0.5).
  const auto f = segment::focal_loss(torch::zeros({1, 1, 1, 1}), torch::ones({1, 1, 1, 1}));
  EXPECT_NEAR(f.item<double>(), 0.25 * 0.25 * std::log(2.0), 1e-6);
  // Background pixel: alpha_t = 0.75.
  const auto b = segment::focal_loss(torch::zeros({1, 1, 1, 1}), torch::zeros({1, 1, 1, 1}));
  EXPECT_NEAR(b.item<double>(), 0.75 * 0.25 * std::log(2.0), 1e-6);
  const auto t = (torch::rand({1, 1, 8, 8}) > 0.5).to(torch::kFloat32);
  EXPECT_NEAR(segment::jaccard_loss((t * 2 - 1) * 30, t).item<double>(), 0.0, 1e-3);
  EXPECT_GT(segment::jaccard_loss(-(t * 2 - 1) * 30, t).item<double>(), 0.9);
}

TEST(SegmentScores, KnownConfusion) {
  auto truth = torch::zeros({4, 4}, torch::kBool);
  truth.index_put_({torch::indexing::Slice(0, 2)}, true);  // 8 particle pixels
  auto pred = truth.clone();
  pred.index_put_({2, 0}, true);  // 1 false positive
  const auto sc = segment::score_masks({pred}, {truth});
  EXPECT_NEAR(sc.iou_particle, 8.0 / 9.0, 1e-9);
  EXPECT_NEAR(sc.iou_background, 7.0 / 8.0, 1e-9);
  EXPECT_NEAR(sc.pixel_accuracy, 15.0 / 16.0, 1e-9);
  EXPECT_NEAR(sc.dice_particle, 16.0 / 17.0, 1e-9);
  EXPECT_NEAR(sc.mean_iou, 0.5 * (8.0 / 9.0 + 7.0 / 8.0), 1e-9);
}

TEST(Segmenter, AveragedViewsMakeThePredictionMirrorEquivariant) {
  models::register_unetpp();
  torch::manual_seed(2);
  auto net = models::make_generator("unetpp", Json{{"encoder", "resnet18"}, {"depth", 3}, {"width", 8}});
  const auto path = test::temp_dir() / "seg_views.pt";
  models::save_model(*net, path, Json{{"task", "segment"}});
  segment::Segmenter seg(path, torch::kCPU);
  const auto x = torch::rand({40, 48});  // not square: the transposed views change the shape
  auto gap = [&](const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); };
  // One view: an untrained network is far from mirror-symmetric.
  const auto p1 = seg.probability(x);
  EXPECT_GT(gap(seg.probability(x.flip({1})), p1.flip({1})), 1e-3);
  // Two views: equivariant to the left-right flip, not yet to the transpose.
  seg.set_views(2);
  const auto p2 = seg.probability(x);
  EXPECT_LT(gap(seg.probability(x.flip({1})), p2.flip({1})), 1e-5);
  EXPECT_GT(gap(seg.probability(x.t().contiguous()), p2.t()), 1e-3);
  // Eight views: the whole symmetry group of the pixel grid.
  seg.set_views(8);
  const auto p8 = seg.probability(x);
  EXPECT_EQ(p8.sizes(), x.sizes());
  EXPECT_LT(gap(seg.probability(x.flip({0})), p8.flip({0})), 1e-5);
  EXPECT_LT(gap(seg.probability(x.t().contiguous()), p8.t()), 1e-5);
  EXPECT_LT(gap(seg.probability(torch::rot90(x, 1, {0, 1}).contiguous()), torch::rot90(p8, 1, {0, 1})), 1e-5);
  EXPECT_THROW(seg.set_views(3), ConfigError);
  EXPECT_THROW(seg.set_views(0), ConfigError);
}
