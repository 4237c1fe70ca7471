// Image metrics: golden values, an independent naive SSIM, and agreement with
// scikit-image on real image pairs (reference values from ssim_reference.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/metrics/metrics.h"
#include "test_util.h"

namespace m = emgan::metrics;

namespace {

/// SSIM map of one 2D image computed the slow, obvious way: for each pixel a
/// weighted sum over the 11x11 window with explicit symmetric indices.
double naive_ssim_mean(const torch::Tensor& x2d, const torch::Tensor& y2d, double range) {
  auto x = x2d.to(torch::kDouble).contiguous();
  auto y = y2d.to(torch::kDouble).contiguous();
  const int64_t h = x.size(0), w = x.size(1), r = 5;
  auto xa = x.accessor<double, 2>();
  auto ya = y.accessor<double, 2>();
  std::vector<double> g(11);
  double s = 0;
  for (int k = -5; k <= 5; ++k) s += g[k + 5] = std::exp(-0.5 * k * k / (1.5 * 1.5));
  for (auto& v : g) v /= s;
  auto refl = [](int64_t i, int64_t n) {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
  };
  const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2);
  double total = 0;
  int64_t count = 0;
  for (int64_t i = r; i < h - r; ++i) {
    for (int64_t j = r; j < w - r; ++j) {
      double mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
      for (int64_t a = -r; a <= r; ++a) {
        for (int64_t b = -r; b <= r; ++b) {
          const double wt = g[a + r] * g[b + r];
          const double xv = xa[refl(i + a, h)][refl(j + b, w)],
                       yv = ya[refl(i + a, h)][refl(j + b, w)];
          mx += wt * xv, my += wt * yv, mxx += wt * xv * xv, myy += wt * yv * yv,
              mxy += wt * xv * yv;
        }
      }
      const double vx = mxx - mx * mx, vy = myy - my * my, vxy = mxy - mx * my;
      total += (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      ++count;
    }
  }
  return total / count;
}

}  // namespace

TEST(PixelMetrics, GoldenValuesOfAConstantOffset) {
  auto target = torch::tensor({0.0, 1.0, 2.0, 3.0}, torch::kDouble).view({2, 2});
  auto pred = target + 0.1;
  EXPECT_NEAR(m::mse(pred, target), 0.01, 1e-12);
  EXPECT_NEAR(m::rmse(pred, target), 0.1, 1e-12);
  // population std of {0, 1, 2, 3} is sqrt(1.25)
  EXPECT_NEAR(m::frac_rmse(pred, target), 100.0 * 0.1 / std::sqrt(1.25), 1e-9);
  // PSNR of MSE 0.01 with range 1 is 20 dB; with range 3 it is 10 log10(900).
  EXPECT_NEAR(m::psnr(pred, target, 1.0), 20.0, 1e-9);
  EXPECT_NEAR(m::psnr(pred, target, 3.0), 10.0 * std::log10(900.0), 1e-9);
  EXPECT_TRUE(std::isinf(m::psnr(target, target, 1.0)));
}

TEST(PixelMetrics, PerImageValuesAreAveragedOverTheBatch) {
  auto target = torch::zeros({2, 1, 3, 3});
  auto pred = target.clone();
  pred[0].fill_(1.0);  // image 0: MSE 1, image 1: MSE 0
  auto per = m::rmse_per_image(pred, target);
  ASSERT_EQ(per.sizes(), torch::IntArrayRef({2}));
  EXPECT_DOUBLE_EQ(per[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(per[1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(m::rmse(pred, target), 0.5);  // mean of per-image RMSE, not sqrt of mean MSE
  EXPECT_DOUBLE_EQ(m::mse(pred, target), 0.5);
}

TEST(PixelMetrics, RejectsBadArguments) {
  auto a = torch::rand({4, 4});
  EXPECT_THROW(m::psnr(a, a, 0.0), emgan::ConfigError);
  EXPECT_THROW(m::psnr(a, a, -1.0), emgan::ConfigError);
  EXPECT_THROW(m::psnr(a, a, std::nan("")), emgan::ConfigError);
  EXPECT_THROW(m::mse(a, torch::rand({4, 5})), emgan::ConfigError);
  EXPECT_THROW(m::mse(torch::rand({4}), torch::rand({4})), emgan::ConfigError);
  try {
    m::ssim(a, a, -2.0);
    FAIL() << "no exception";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("-2"), std::string::npos) << e.what();
  }
}

TEST(Ssim, WindowIsElevenPixelsByDefault) {
  EXPECT_EQ(m::ssim_window_size(), 11);
  EXPECT_EQ(m::ssim_window_size(m::SsimOptions().sigma(1.0)), 9);  // radius int(3.5 + 0.5) = 4
  EXPECT_THROW(m::ssim_window_size(m::SsimOptions().sigma(0.0)), emgan::ConfigError);
}

TEST(Ssim, IdenticalImagesGiveOne) {
  torch::manual_seed(1);
  auto a = torch::rand({2, 3, 16, 17});
  EXPECT_NEAR(m::ssim(a, a, 1.0), 1.0, 1e-12);
  EXPECT_TRUE(torch::allclose(m::ssim_map(a, a, 1.0), torch::ones_like(a), 1e-5, 1e-5));
}

TEST(Ssim, ConstantImagesGiveTheLuminanceTerm) {
  // With no variance SSIM = (2 a b + C1) / (a^2 + b^2 + C1).
  auto x = torch::full({12, 12}, 0.2, torch::kDouble);
  auto y = torch::full({12, 12}, 0.6, torch::kDouble);
  const double c1 = 1e-4;
  EXPECT_NEAR(m::ssim(x, y, 1.0), (2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1), 1e-12);
}

TEST(Ssim, MatchesANaiveImplementation) {
  torch::manual_seed(2);
  auto x = torch::rand({15, 19}, torch::kDouble);
  auto y = (x + 0.2 * torch::rand({15, 19}, torch::kDouble)).clamp(0, 1);
  EXPECT_NEAR(m::ssim(x, y, 1.0), naive_ssim_mean(x, y, 1.0), 1e-12);
  EXPECT_NEAR(m::ssim(x, y, 0.5), naive_ssim_mean(x, y, 0.5), 1e-12);
}

TEST(Ssim, ChannelsAndBatchAreAveraged) {
  torch::manual_seed(3);
  auto x = torch::rand({2, 3, 12, 13}, torch::kDouble);
  auto y = torch::rand({2, 3, 12, 13}, torch::kDouble);
  auto per = m::ssim_per_image(x, y, 1.0);
  for (int n = 0; n < 2; ++n) {
    double mean = 0;
    for (int c = 0; c < 3; ++c) mean += m::ssim(x[n][c], y[n][c], 1.0) / 3;
    EXPECT_NEAR(per[n].item<double>(), mean, 1e-12);
  }
  EXPECT_NEAR(m::ssim(x, y, 1.0), per.mean().item<double>(), 1e-12);
  EXPECT_NEAR(m::ssim(x[0], y[0], 1.0), per[0].item<double>(), 1e-12);  // [C, H, W] is one image
}

TEST(Ssim, MapKeepsShapeAndFloat32) {
  torch::manual_seed(4);
  auto x = torch::rand({3, 12, 12});
  auto y = torch::rand({3, 12, 12});
  auto map = m::ssim_map(x, y, 1.0);
  EXPECT_EQ(map.sizes(), x.sizes());
  EXPECT_EQ(map.scalar_type(), torch::kFloat);
  EXPECT_NEAR(m::cropped_mean(map).item<double>(), m::ssim(x, y, 1.0), 1e-5);
}

TEST(Ssim, RejectsImagesSmallerThanTheWindow) {
  auto a = torch::rand({10, 30});
  EXPECT_THROW(m::ssim(a, a, 1.0), emgan::ConfigError);
}

TEST(ImageMetrics, ComputesAllWithTheTargetRangeByDefault) {
  torch::manual_seed(5);
  auto target = torch::rand({1, 1, 16, 16}) * 2.0 + 1.0;
  auto pred = target + 0.05 * torch::randn({1, 1, 16, 16});
  auto all = m::image_metrics(pred, target);
  const double range = (target.max() - target.min()).item<double>();
  EXPECT_NEAR(all.data_range, range, 1e-12);
  EXPECT_DOUBLE_EQ(all.mse, m::mse(pred, target));
  EXPECT_DOUBLE_EQ(all.rmse, m::rmse(pred, target));
  EXPECT_DOUBLE_EQ(all.frac_rmse_percent, m::frac_rmse(pred, target));
  EXPECT_DOUBLE_EQ(all.psnr_db, m::psnr(pred, target, range));
  EXPECT_DOUBLE_EQ(all.ssim, m::ssim(pred, target, range));
  auto items = all.items();
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].first, "mse");
  EXPECT_EQ(items[4].first, "ssim");
  emgan::Json j = all;
  EXPECT_DOUBLE_EQ(j.at("psnr_db").get<double>(), all.psnr_db);
  EXPECT_DOUBLE_EQ(j.get<m::ImageMetrics>().ssim, all.ssim);

  auto explicit_range = m::image_metrics(pred, target, 10.0);
  EXPECT_DOUBLE_EQ(explicit_range.data_range, 10.0);
  EXPECT_THROW(m::image_metrics(pred, torch::ones_like(target)), emgan::ConfigError);
  EXPECT_THROW(m::image_metrics(pred, target, 0.0), emgan::ConfigError);
}

// Reference values: tests/metrics/ssim_reference.py with scikit-image 0.19.3
// (Debian 12 python3-skimage), structural_similarity(pred, target,
// gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R) on
// float64 copies of the images.
TEST(Ssim, AgreesWithScikitImageOnRealImages) {
  EMGAN_REQUIRE_SHARED("stem-conv2multislice");
  EMGAN_REQUIRE_SHARED("partial-stem-examples");
  const auto data = emgan::test::shared_data();
  auto read = [&](const std::string& rel) {
    return emgan::io::read_image(data / rel).data.to(torch::kDouble).squeeze(0);
  };
  auto minmax = [](const torch::Tensor& a) { return (a - a.min()) / (a.max() - a.min()); };

  // 1. pt_mo5_0 multislice against 0.9 * roll(itself, (1, 2)) + 0.002, R = max - min.
  {
    auto t = read("stem-conv2multislice/Pt-Mo5/Pt-Mo_multislice/pt_mo5_0_cl160mm_ss.tif");
    auto p = 0.9 * torch::roll(t, {1, 2}, {0, 1}) + 0.002;
    const double range = (t.max() - t.min()).item<double>();
    EXPECT_NEAR(range, 0.081505041918717325, 1e-12);
    EXPECT_NEAR(m::ssim(p, t, range), 0.85679509143618326, 1e-4);
  }
  // 2. Pt_convolution_3.txt (pred) against Pt_3_cl160mm_ss.tif (target), both min-max
  //    scaled to [0, 1], R = 1.
  {
    auto conv = minmax(read("stem-conv2multislice/Pt/Pt_convolution/Pt_convolution_3.txt"));
    auto ms = minmax(read("stem-conv2multislice/Pt/Pt_multislice_16_phonons/Pt_3_cl160mm_ss.tif"));
    EXPECT_NEAR(m::ssim(conv, ms, 1.0), 0.69031988544507061, 1e-4);
  }
  // 3.-4. partial_scan-N.tif (pred) against truth-N.tif (target), R = 1.
  {
    auto t1 = read("partial-stem-examples/truth-1.tif");
    auto p1 = read("partial-stem-examples/partial_scan-1.tif");
    EXPECT_NEAR(m::ssim(p1, t1, 1.0), 0.21359569234625581, 1e-4);
    auto t2 = read("partial-stem-examples/truth-2.tif");
    auto p2 = read("partial-stem-examples/partial_scan-2.tif");
    EXPECT_NEAR(m::ssim(p2, t2, 1.0), 0.010556773824817702, 1e-4);
    // The same in float32 (the dtype a training loop uses) stays within 1e-4.
    EXPECT_NEAR(m::cropped_mean(m::ssim_map(p1.to(torch::kFloat), t1.to(torch::kFloat), 1.0))
                    .item<double>(),
                0.21359569234625581, 1e-4);
  }
}

TEST(Ssim, MatchesCpuOnGpu_CUDA) {
  torch::manual_seed(6);
  auto x = torch::rand({2, 1, 32, 30});
  auto y = torch::rand({2, 1, 32, 30});
  auto cuda = torch::Device(torch::kCUDA);
  EXPECT_NEAR(m::ssim(x.to(cuda), y.to(cuda), 1.0), m::ssim(x, y, 1.0), 1e-10);
  EXPECT_NEAR(m::psnr(x.to(cuda), y.to(cuda), 1.0), m::psnr(x, y, 1.0), 1e-10);
  auto map = m::ssim_map(x.to(cuda), y.to(cuda), 1.0);
  EXPECT_TRUE(map.is_cuda());
  EXPECT_TRUE(torch::allclose(map.cpu(), m::ssim_map(x, y, 1.0), 1e-4, 1e-5));
}

// --- noise estimate --------------------------------------------------------------

namespace {
/// A smooth 2D field that is not of the f(x) + g(y) form the operator cancels exactly.
torch::Tensor smooth_field(int64_t n) {
  auto y = torch::arange(n, torch::kDouble).view({n, 1});
  auto x = torch::arange(n, torch::kDouble).view({1, n});
  return 0.5 + 0.2 * torch::sin(x / 9.0) * torch::cos(y / 13.0) + 0.1 * torch::exp(-((x - 60).square() + (y - 80).square()) / 800.0);
}
}  // namespace

TEST(NoiseSigma, SeparableFieldsReadAsNoiseFree) {
  const int64_t n = 64;
  auto y = torch::arange(n, torch::kDouble).view({n, 1});
  auto x = torch::arange(n, torch::kDouble).view({1, n});
  auto f = torch::sin(x / 3.0) + torch::cos(y / 2.0).square() + 0.01 * x * y;
  EXPECT_LT(m::noise_sigma(f), 1e-12);
}

TEST(NoiseSigma, RecoversTheSigmaOfAddedWhiteNoise) {
  torch::manual_seed(3);
  const auto clean = smooth_field(256);
  EXPECT_LT(m::noise_sigma(clean), 2e-4);  // smooth structure contributes almost nothing
  double prev = m::noise_sigma(clean);
  for (double sigma : {0.01, 0.03, 0.1}) {
    const auto noisy = clean + sigma * torch::randn_like(clean);
    const double est = m::noise_sigma(noisy);
    EXPECT_NEAR(est, sigma, 0.04 * sigma) << "sigma " << sigma;
    EXPECT_GT(est, prev);
    prev = est;
  }
}

TEST(NoiseSigma, PerImageAndPerChannel) {
  torch::manual_seed(4);
  auto batch = smooth_field(128).to(torch::kFloat32).expand({2, 2, 128, 128}).clone();
  batch[0] += 0.02 * torch::randn({2, 128, 128});
  batch[1][0] += 0.05 * torch::randn({128, 128});  // channel 1 of image 1 stays clean
  const auto s = m::noise_sigma_per_image(batch);
  ASSERT_EQ(s.sizes(), torch::IntArrayRef({2}));
  EXPECT_NEAR(s[0].item<double>(), 0.02, 0.002);
  EXPECT_NEAR(s[1].item<double>(), 0.025, 0.0025);  // mean of 0.05 and ~0
  EXPECT_THROW(m::noise_sigma(torch::zeros({2, 5})), emgan::ConfigError);
}
