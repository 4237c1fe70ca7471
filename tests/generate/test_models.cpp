// Architectures of the generative models: shapes, exact layer geometry, slicing,
// periodic volumes, the gradient penalty on known cases, save/load round trips.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <set>

#include "emgan/core/error.h"
#include "emgan/losses/gan.h"
#include "emgan/models/dcgan.h"
#include "emgan/models/slicegan.h"
#include "emgan/models/vae.h"
#include "test_util.h"

using namespace emgan;
using models::SliceGanGeneratorImpl;

namespace {

/// Saves `a`, loads into `b`, returns the path (round trip through a file).
template <typename M>
void round_trip(M& a, M& b, const std::filesystem::path& file) {
  torch::serialize::OutputArchive out;
  a->save(out);
  out.save_to(file.string());
  torch::serialize::InputArchive in;
  in.load_from(file.string());
  b->load(in);
}

/// Round trip `a` into `b`, then both in eval mode must give the same output for `x`.
template <typename M>
void expect_equal_after_round_trip(M& a, M& b, const std::filesystem::path& file, const torch::Tensor& x) {
  round_trip(a, b, file);
  a->eval();
  b->eval();
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x))) << file;
}

models::SliceGanGeneratorOptions tiny_g(int64_t channels = 3,
                                        const std::string& upsample = "transposed") {
  models::SliceGanGeneratorOptions o;
  o.latent_channels = 4;
  o.channels = channels;
  o.width = 1.0 / 32.0;
  o.upsample = upsample;
  return o;
}

const std::vector<std::string> kUpsamples = {"transposed", "resize"};

/// `got` equals `ref` (a fast form and its definition), and so do their gradients with
/// respect to each of `inputs` under one random output gradient.
void expect_same_values_and_gradients(const torch::Tensor& got, const torch::Tensor& ref,
                                      const std::vector<torch::Tensor>& inputs) {
  EXPECT_TRUE(torch::allclose(got, ref, 1e-4, 1e-5)) << (got - ref).abs().max().item<double>();
  const auto g = torch::randn_like(ref);
  const auto ref_grads = torch::autograd::grad({ref}, inputs, {g});
  const auto got_grads = torch::autograd::grad({got}, inputs, {g});
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_TRUE(torch::allclose(got_grads[i], ref_grads[i], 1e-4, 1e-4))
        << "gradient " << i << ": " << (got_grads[i] - ref_grads[i]).abs().max().item<double>();
}

}  // namespace

TEST(SliceGan, OutputSizesFollowThePaddings) {
  EXPECT_EQ(SliceGanGeneratorImpl::output_size(4), 64);
  EXPECT_EQ(SliceGanGeneratorImpl::output_size(5), 96);
  EXPECT_EQ(SliceGanGeneratorImpl::output_size(6), 128);
  EXPECT_EQ(SliceGanGeneratorImpl::output_size(2), 0);
  EXPECT_EQ(SliceGanGeneratorImpl::output_size(3, true), 96);
  EXPECT_EQ(SliceGanGeneratorImpl::latent_size_for(64), 4);
  EXPECT_EQ(SliceGanGeneratorImpl::latent_size_for(100), 6);
  EXPECT_EQ(SliceGanGeneratorImpl::latent_size_for(100, true), 4);
}

TEST(SliceGan, FullWidthLayersAreThoseOfThePaper) {
  models::SliceGanGenerator g(models::SliceGanGeneratorOptions{});
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> paddings;
  for (const auto& m : g->modules(false))
    if (auto* c = m->as<torch::nn::ConvTranspose3d>()) {
      shapes.push_back(c->weight.sizes().vec());
      EXPECT_EQ(c->options.stride()->at(0), 2);
      paddings.push_back(c10::get<torch::ExpandingArray<3>>(c->options.padding())->at(0));
    }
  const std::vector<std::vector<int64_t>> expected = {
      {32, 512, 4, 4, 4}, {512, 256, 4, 4, 4}, {256, 128, 4, 4, 4}, {128, 64, 4, 4, 4}, {64, 3, 4, 4, 4}};
  EXPECT_EQ(shapes, expected);
  EXPECT_EQ(paddings, (std::vector<int64_t>{2, 2, 2, 2, 3}));

  // The resize variant: the first four transposed convolutions, then a 3x3x3
  // convolution with bias from 64 channels to the phases.
  models::SliceGanGeneratorOptions rc;
  rc.upsample = "resize";
  models::SliceGanGenerator r(rc);
  shapes.clear();
  std::vector<std::vector<int64_t>> conv3d;
  for (const auto& m : r->modules(false)) {
    if (auto* c = m->as<torch::nn::ConvTranspose3d>()) shapes.push_back(c->weight.sizes().vec());
    if (auto* c = m->as<torch::nn::Conv3d>()) {
      conv3d.push_back(c->weight.sizes().vec());
      EXPECT_TRUE(c->bias.defined());
    }
  }
  EXPECT_EQ(shapes, std::vector<std::vector<int64_t>>(expected.begin(), expected.begin() + 4));
  EXPECT_EQ(conv3d, (std::vector<std::vector<int64_t>>{{3, 64, 3, 3, 3}}));
  rc.upsample = "bilinear";
  EXPECT_THROW(rc.validate(), ConfigError);

  models::SliceGanCritic d(models::SliceGanCriticOptions{});
  shapes.clear();
  paddings.clear();
  for (const auto& m : d->modules(false))
    if (auto* c = m->as<torch::nn::Conv2d>()) {
      shapes.push_back(c->weight.sizes().vec());
      paddings.push_back(c10::get<torch::ExpandingArray<2>>(c->options.padding())->at(0));
    }
  const std::vector<std::vector<int64_t>> expected_d = {
      {64, 3, 4, 4}, {128, 64, 4, 4}, {256, 128, 4, 4}, {512, 256, 4, 4}, {1, 512, 4, 4}};
  EXPECT_EQ(shapes, expected_d);
  EXPECT_EQ(paddings, (std::vector<int64_t>{1, 1, 1, 1, 0}));
}

TEST(SliceGan, ShapesAndOutputRanges) {
  torch::manual_seed(0);
  models::SliceGanGenerator g(tiny_g());
  for (const auto& upsample : kUpsamples) {
    SCOPED_TRACE(upsample);
    models::SliceGanGenerator gu(tiny_g(3, upsample));
    const auto v = gu->forward(torch::randn({2, 4, 4, 4, 4}));
    EXPECT_EQ(v.sizes(), (std::vector<int64_t>{2, 3, 64, 64, 64}));
    EXPECT_TRUE(torch::allclose(v.sum(1), torch::ones({2, 64, 64, 64}), 1e-5,
                                1e-5));  // softmax over phases
    auto grey_o = tiny_g(1, upsample);
    grey_o.output = "tanh";
    models::SliceGanGenerator grey(grey_o);
    const auto gv = grey->forward(torch::randn({1, 4, 5, 4, 6}));  // a box: each side on its own
    EXPECT_EQ(gv.sizes(), (std::vector<int64_t>{1, 1, 96, 64, 128}));
    EXPECT_GE(gv.min().item<double>(), 0.0);
    EXPECT_LE(gv.max().item<double>(), 1.0);
  }

  models::SliceGanCriticOptions co;
  co.width = 1.0 / 32.0;
  models::SliceGanCritic d(co);
  EXPECT_EQ(d->forward(torch::randn({5, 3, 64, 64})).sizes(), (std::vector<int64_t>{5, 1, 1, 1}));
  EXPECT_THROW(d->forward(torch::randn({5, 3, 32, 32})), ConfigError);
  EXPECT_THROW(g->forward(torch::randn({1, 3, 4, 4, 4})), ConfigError);
  auto bad = tiny_g(1);
  EXPECT_THROW(bad.validate(), ConfigError);  // softmax with one channel
}

TEST(SliceGan, SlicesAreExactlyTheVolumePlanes) {
  const auto vol = torch::arange(2 * 3 * 4 * 5 * 6, torch::kFloat).reshape({2, 3, 4, 5, 6});
  const auto x = models::volume_slices(vol, 0);
  const auto y = models::volume_slices(vol, 1);
  const auto z = models::volume_slices(vol, 2);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{8, 3, 5, 6}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{10, 3, 4, 6}));
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{12, 3, 4, 5}));
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(x[n * 4 + i], vol[n].select(1, i)));
    for (int64_t i = 0; i < 5; ++i) EXPECT_TRUE(torch::equal(y[n * 5 + i], vol[n].select(2, i)));
    for (int64_t i = 0; i < 6; ++i) EXPECT_TRUE(torch::equal(z[n * 6 + i], vol[n].select(3, i)));
  }
  EXPECT_THROW(models::volume_slices(vol, 3), ConfigError);
  EXPECT_THROW(models::volume_slices(vol[0], 0), ConfigError);
}

TEST(SliceGan, RandomSlicesAreDistinctPlanesOfTheirOwnVolume) {
  torch::manual_seed(2);
  const auto vol = torch::randn({3, 2, 6, 7, 8});
  for (int64_t axis = 0; axis < 3; ++axis) {
    const int64_t side = vol.size(axis + 2);
    const auto all = models::volume_slices(vol, axis);
    const auto some = models::random_volume_slices(vol, axis, 4);
    ASSERT_EQ(some.size(0), 3 * 4);
    ASSERT_EQ(some.sizes().slice(1), all.sizes().slice(1));
    for (int64_t n = 0; n < 3; ++n) {
      std::set<int64_t> found;
      for (int64_t k = 0; k < 4; ++k) {
        int64_t match = -1;
        for (int64_t i = 0; i < side; ++i)
          if (torch::equal(some[n * 4 + k], all[n * side + i])) match = i;
        EXPECT_GE(match, 0) << "axis " << axis << " volume " << n << ": row " << k
                            << " is no slice of its volume";
        found.insert(match);
      }
      EXPECT_EQ(found.size(), 4u) << "axis " << axis << " volume " << n
                                  << ": a slice was drawn twice";
    }
    // All of them (0, or as many as the side): exactly volume_slices.
    EXPECT_TRUE(torch::equal(models::random_volume_slices(vol, axis, 0), all));
    EXPECT_TRUE(torch::equal(models::random_volume_slices(vol, axis, side), all));
  }
  // Gradients reach the drawn slices only.
  const auto v = torch::zeros({1, 1, 5, 4, 4}, torch::requires_grad());
  models::random_volume_slices(v, 0, 2).sum().backward();
  EXPECT_EQ(v.grad().sum(1).sum({2, 3}).gt(0).sum().item<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(v.grad().sum().item<double>(), 2.0 * 16.0);
}

TEST(SliceGan, PeriodicVolumesTile) {
  for (const auto& upsample : kUpsamples) {
    SCOPED_TRACE(upsample);
    torch::manual_seed(1);
    models::SliceGanGenerator g(tiny_g(3, upsample));
    g->eval();
    torch::NoGradGuard no_grad;
    const auto z = torch::randn({1, 4, 2, 2, 2});
    const auto one = g->forward(z, true);
    ASSERT_EQ(one.sizes(), (std::vector<int64_t>{1, 3, 64, 64, 64}));
    // A latent tiled twice along each axis gives the volume tiled twice: the volume
    // is exactly periodic, its faces join seamlessly.
    const auto two = g->forward(z.repeat({1, 1, 2, 2, 2}), true);
    ASSERT_EQ(two.sizes(), (std::vector<int64_t>{1, 3, 128, 128, 128}));
    EXPECT_TRUE(torch::allclose(two, one.repeat({1, 1, 2, 2, 2}), 1e-5, 1e-6));
    // The periodic layer computes the same as the padded one away from the borders:
    // the interior of a non-periodic volume from a circularly extended latent matches.
    const auto ext = g->forward(z.repeat({1, 1, 4, 4, 4}), false);
    ASSERT_EQ(ext.size(2), 192);
    EXPECT_TRUE(torch::allclose(ext.slice(2, 64, 128).slice(3, 64, 128).slice(4, 64, 128), one,
                                1e-5, 1e-6));
  }
}

TEST(SliceGan, ResizeLayerIsUpsamplingThenConvolution) {
  // The one transposed convolution equals its definition, computed the long way:
  // trilinear 2x upsampling, a 3x3x3 convolution, a crop of one voxel per side
  // (periodic: circular padding by 2 first, the crop at 5), values and gradients.
  namespace F = torch::nn::functional;
  torch::manual_seed(4);
  const auto w = torch::randn({2, 3, 3, 3, 3}, torch::requires_grad());
  const auto b = torch::randn({2}, torch::requires_grad());
  for (const bool periodic : {false, true}) {
    SCOPED_TRACE(periodic ? "periodic" : "non-periodic");
    const auto x = torch::randn({2, 3, 5, 6, 7}, torch::requires_grad());
    const auto in =
        periodic ? F::pad(x, F::PadFuncOptions({2, 2, 2, 2, 2, 2}).mode(torch::kCircular)) : x;
    const auto up = F::interpolate(in, F::InterpolateFuncOptions()
                                           .scale_factor(std::vector<double>{2.0, 2.0, 2.0})
                                           .mode(torch::kTrilinear)
                                           .align_corners(false));
    auto ref = torch::conv3d(up, w, b);
    for (int64_t d = 2; d < 5; ++d)
      ref = ref.narrow(d, periodic ? 5 : 1, periodic ? 2 * x.size(d) : 2 * x.size(d) - 4);
    const auto got = models::resize_upsample_conv3d(x, w, b, periodic);
    ASSERT_EQ(got.sizes(), ref.sizes());
    expect_same_values_and_gradients(got, ref, {x, w, b});
  }
  EXPECT_THROW(models::resize_upsample_conv3d(torch::randn({1, 3, 4, 4, 4}),
                                              torch::randn({2, 3, 4, 4, 4}), {}),
               ConfigError);
}

TEST(SliceGan, ResizeLayerHasNoStridePattern) {
  // The first four layers with constant weights 1 / (8 in) map a constant field of ones
  // to ones (kernel 4, stride 2: every output voxel takes 2 x 2 x 2 taps). The last
  // layer with random weights then shows what it does to a constant field: the
  // transposed convolution gives the stride-2 pattern (even and odd voxels see
  // different taps), the resize layer (2x upsampling, then a convolution) a constant.
  torch::NoGradGuard no_grad;
  for (const auto& upsample : kUpsamples) {
    torch::manual_seed(3);
    auto o = tiny_g(1, upsample);
    o.output = "tanh";
    models::SliceGanGenerator g(o);
    g->eval();
    for (auto& p : g->named_parameters()) {
      const auto& key = p.key();
      if (key.rfind("norms.", 0) == 0) continue;
      const bool inner = key.rfind("convs.", 0) == 0 && key.substr(6, 1) != "4";
      if (inner)
        p.value().fill_(1.0 / (8.0 * static_cast<double>(p.value().size(0))));
      else
        p.value().normal_(0.0, 0.3);
    }
    const auto v = g->forward(torch::ones({1, 4, 3, 3, 3}), /*periodic=*/true);
    const double spread = (v.max() - v.min()).item<double>();
    if (upsample == "resize")
      EXPECT_LT(spread, 1e-5) << "resize: a constant field must stay constant";
    else
      EXPECT_GT(spread, 1e-2) << "transposed: the stride pattern should show on a constant field";
  }
}

TEST(SliceGan, GradientPenaltyKnownValues) {
  // Linear critic D(x) = sum(2 x): the gradient is 2 everywhere, |grad| = 2 sqrt(n),
  // for every interpolate: GP = lambda (2 sqrt(16) - 1)^2 = 10 * 49.
  const auto real = torch::rand({3, 1, 4, 4});
  const auto fake = torch::rand({3, 1, 4, 4});
  const auto linear = [](const torch::Tensor& x) { return (2.0 * x).sum({1, 2, 3}); };
  EXPECT_NEAR(losses::gradient_penalty(linear, real, fake, 10.0).item<double>(), 490.0, 1e-3);
  // Quadratic critic D(x) = |x|^2 / 2 with real == fake: grad = x, |x| = 3 -> 10 (3 - 1)^2.
  auto x = torch::zeros({2, 1, 1, 9});
  x.fill_(1.0);
  const auto quad = [](const torch::Tensor& t) { return 0.5 * t.pow(2).sum({1, 2, 3}); };
  EXPECT_NEAR(losses::gradient_penalty(quad, x, x, 10.0).item<double>(), 40.0, 1e-4);
}

TEST(SliceGan, SaveLoadRoundTrip) {
  const auto dir = test::temp_dir();
  torch::manual_seed(2);
  for (const auto& upsample : kUpsamples) {
    models::SliceGanGenerator a(tiny_g(3, upsample)), b(tiny_g(3, upsample));
    a->forward(torch::randn({2, 4, 4, 4, 4}));  // moves the batch-norm statistics
    expect_equal_after_round_trip(a, b, dir / ("g_" + upsample + ".pt"),
                                  torch::randn({1, 4, 4, 4, 4}));
  }
  models::SliceGanCriticOptions co;
  co.width = 1.0 / 32.0;
  models::SliceGanCritic c(co), d(co);
  round_trip(c, d, dir / "d.pt");
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_TRUE(torch::equal(c->forward(x), d->forward(x)));
}

TEST(Dcgan, ShapesForEverySize) {
  torch::manual_seed(3);
  for (int64_t s : {64, 128, 256}) {
    models::DcganGeneratorOptions go;
    go.image_size = s;
    go.latent = s / 2;
    go.ngf = 4;
    go.channels = 3;
    go.output = "softmax";
    go.norm = s == 128 ? "instance" : "batch";
    models::DcganGenerator g(go);
    const auto x = g->forward(torch::randn({2, s / 2}));
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{2, 3, s, s}));
    models::DcganDiscriminatorOptions dopt;
    dopt.image_size = s;
    dopt.channels = 3;
    dopt.ndf = 4;
    dopt.spectral_norm = s != 256;
    models::DcganDiscriminator d(dopt);
    EXPECT_EQ(d->forward(x).sizes(), (std::vector<int64_t>{2, 1, 1, 1}));
  }
  EXPECT_EQ(models::dcgan_layers(64), 4);
  EXPECT_EQ(models::dcgan_layers(256), 6);
  EXPECT_THROW(models::dcgan_layers(100), ConfigError);
}

TEST(Dcgan, ResizeLayerIsUpsamplingThenConvolution) {
  // The one transposed convolution equals its definition, computed the long way: bilinear
  // 2x upsampling, one replicated pixel per side, a 3x3 convolution; values and gradients.
  namespace F = torch::nn::functional;
  torch::manual_seed(5);
  const auto w = torch::randn({2, 3, 3, 3}, torch::requires_grad());
  const auto b = torch::randn({2}, torch::requires_grad());
  const auto x = torch::randn({2, 3, 5, 7}, torch::requires_grad());
  const auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                        .scale_factor(std::vector<double>{2.0, 2.0})
                                        .mode(torch::kBilinear)
                                        .align_corners(false));
  const auto ref =
      torch::conv2d(F::pad(up, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate)), w, b);
  const auto got = models::resize_upsample_conv2d(x, w, b);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 2, 10, 14}));
  expect_same_values_and_gradients(got, ref, {x, w, b});
  EXPECT_THROW(models::resize_upsample_conv2d(x, torch::randn({2, 3, 4, 4}), {}), ConfigError);
  EXPECT_THROW(models::resize_upsample_conv2d(x, torch::randn({2, 4, 3, 3}), {}), ConfigError);
}

TEST(Dcgan, ResizeLastLayerHasNoStridePattern) {
  // Every layer but the last with constant weights (1 / in for the first, 1 / (4 in) for the
  // stride-2 ones: four taps per input channel inside the image) and batch norm in eval mode
  // (the identity) maps z = 1 to a constant map, away from the borders the zero padding
  // reaches (15 px at 64). The last layer with random weights then shows what it does to a
  // constant map: the transposed convolution gives the stride-2 pattern (even and odd pixels
  // see different taps), the resize layer (2x upsampling, then a 3x3 convolution) a constant.
  torch::NoGradGuard no_grad;
  for (const std::string upsample : {"transposed", "resize"}) {
    SCOPED_TRACE(upsample);
    torch::manual_seed(3);
    models::DcganGeneratorOptions go;
    go.latent = 4;
    go.ngf = 2;
    go.channels = 3;
    go.output = "tanh";
    go.upsample = upsample;
    models::DcganGenerator g(go);
    g->eval();
    std::vector<torch::Tensor> convs;
    for (auto& p : g->parameters())
      if (p.dim() == 4) convs.push_back(p);
    ASSERT_EQ(convs.size(), 5u);
    for (size_t i = 0; i + 1 < convs.size(); ++i)
      convs[i].fill_(1.0 / ((i == 0 ? 1.0 : 4.0) * static_cast<double>(convs[i].size(0))));
    convs.back().normal_(0.0, 0.3);
    const auto y = g->forward(torch::ones({1, 4}));
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 3, 64, 64}));
    const auto inner = y.slice(2, 16, 48).slice(3, 16, 48);
    const double spread = (inner.amax({2, 3}) - inner.amin({2, 3})).max().item<double>();
    if (upsample == "resize") {
      EXPECT_EQ(convs.back().sizes(), (std::vector<int64_t>{3, 2, 3, 3}));
      EXPECT_LT(spread, 1e-5) << "resize: a constant map must stay constant";
    } else {
      EXPECT_GT(spread, 1e-2) << "transposed: the stride pattern should show on a constant map";
    }
  }
  models::DcganGeneratorOptions bad;
  bad.upsample = "nearest";
  try {
    bad.validate();
    ADD_FAILURE() << "upsample = nearest was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("nearest"), std::string::npos) << e.what();
  }
}

TEST(Dcgan, SaveLoadRoundTrip) {
  const auto dir = test::temp_dir();
  models::DcganGeneratorOptions go;
  go.ngf = 4;
  models::DcganGenerator a(go), b(go);
  expect_equal_after_round_trip(a, b, dir / "g.pt", torch::randn({2, 32}));
  models::DcganDiscriminatorOptions dopt;
  dopt.ndf = 4;
  models::DcganDiscriminator c(dopt), d(dopt);
  expect_equal_after_round_trip(c, d, dir / "d.pt", torch::rand({2, 1, 64, 64}));
}

TEST(Dcgan, MinibatchStdLetsTheDiscriminatorSeeABatchOfLookalikes) {
  torch::manual_seed(7);
  models::DcganDiscriminatorOptions dopt;
  dopt.ndf = 4;
  dopt.spectral_norm =
      true;  // no batch norm: without the std channel, images are judged one by one
  const auto a = torch::rand({1, 1, 64, 64}), b = torch::rand({1, 1, 64, 64});
  for (bool mbstd : {false, true}) {
    dopt.minibatch_std = mbstd;
    models::DcganDiscriminator d(dopt);
    d->eval();  // spectral norm: no power iteration between the two calls
    torch::NoGradGuard no_grad;
    const auto mixed = d->forward(torch::cat({a, b}));  // a beside a different image
    const auto twins = d->forward(torch::cat({a, a}));  // a beside itself: std 0
    EXPECT_EQ(mixed.sizes(), (std::vector<int64_t>{2, 1, 1, 1}));
    EXPECT_EQ(d->features(a).size(1), 32) << "features() stay those of the body";
    const double change = (mixed[0] - twins[0]).abs().item<double>();
    if (mbstd)
      EXPECT_GT(change, 1e-6) << "the logit of a must depend on the rest of its batch";
    else
      EXPECT_LT(change, 1e-6) << "without the std channel the logit of a is a's alone";
  }
  // Round trip with the extra input channel of the last convolution.
  const auto dir = test::temp_dir();
  models::DcganDiscriminator c(dopt), e(dopt);
  expect_equal_after_round_trip(c, e, dir / "d.pt", torch::rand({3, 1, 64, 64}));
}

TEST(Vae, ShapesKlAndRoundTrip) {
  const auto dir = test::temp_dir();
  models::VaeOptions o;
  o.width = 0.125;
  o.channels = 2;
  o.output = "softmax";
  models::VaeEncoder e(o), e2(o);
  models::VaeDecoder d(o), d2(o);
  const auto x = torch::rand({3, 2, 64, 64});
  const auto [mu, logvar] = e->forward(x);
  EXPECT_EQ(mu.sizes(), (std::vector<int64_t>{3, 64}));
  EXPECT_EQ(logvar.sizes(), (std::vector<int64_t>{3, 64}));
  EXPECT_EQ(d->forward(mu).sizes(), (std::vector<int64_t>{3, 2, 64, 64}));
  // KL of N(0, I) against itself is 0; of N(1, I): sum over 64 dims of 1/2.
  EXPECT_NEAR(models::kl_divergence(torch::zeros({2, 64}), torch::zeros({2, 64})).item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(models::kl_divergence(torch::ones({2, 64}), torch::zeros({2, 64})).item<double>(), 32.0, 1e-5);
  round_trip(e, e2, dir / "e.pt");
  round_trip(d, d2, dir / "d.pt");
  e->eval();
  e2->eval();
  d->eval();
  d2->eval();
  EXPECT_TRUE(torch::equal(e->forward(x).first, e2->forward(x).first));
  EXPECT_TRUE(torch::equal(d->forward(mu.detach()), d2->forward(mu.detach())));
  o.image_size = 48;
  EXPECT_THROW(o.validate(), ConfigError);
}
