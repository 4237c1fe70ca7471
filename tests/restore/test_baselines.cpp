// Classical restorations, nearest-sample search, spectra and error-vs-distance.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/restore/ops.h"
#include "emgan/restore/scan_path.h"

namespace r = emgan::restore;

namespace {

constexpr double kPi = 3.14159265358979323846;

torch::Tensor smooth_field(int64_t n) {
  auto y = torch::arange(n, torch::kFloat32).view({n, 1});
  auto x = torch::arange(n, torch::kFloat32).view({1, n});
  return (torch::sin(2 * kPi * x / 40.0) + torch::cos(2 * kPi * y / 53.0) + 0.01f * x).view({1, 1, n, n});
}

torch::Tensor spiral_mask(int64_t n, double c) {
  r::ScanPathOptions o;
  o.coverage = c;
  return r::path_mask(r::spiral_path(n, n, o)).view({1, 1, n, n});
}

double rms(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).square().mean().sqrt().item<double>(); }

}  // namespace

TEST(NearestSample, OneSeedGivesEuclideanDistances) {
  auto m = torch::zeros({1, 1, 21, 17});
  m[0][0][5][9] = 1;
  const auto ns = r::nearest_sample(m);
  auto y = torch::arange(21, torch::kFloat32).view({21, 1});
  auto x = torch::arange(17, torch::kFloat32).view({1, 17});
  auto expected = ((y - 5).square() + (x - 9).square()).sqrt();
  EXPECT_TRUE(torch::allclose(ns.distance[0][0], expected));
  EXPECT_TRUE((ns.index == 5 * 17 + 9).all().item<bool>());
}

TEST(NearestSample, ManySeedsMatchBruteForce) {
  torch::manual_seed(0);
  auto m = (torch::rand({1, 1, 24, 24}) < 0.03).to(torch::kFloat32);
  m[0][0][0][0] = 1;
  const auto ns = r::nearest_sample(m);
  auto pts = m[0][0].nonzero().to(torch::kFloat32);  // [P, 2]
  auto grid = torch::stack(torch::meshgrid({torch::arange(24, torch::kFloat32), torch::arange(24, torch::kFloat32)},
                                           "ij"),
                           -1)
                  .view({-1, 1, 2});
  auto brute = (grid - pts.view({1, -1, 2})).square().sum(-1).sqrt();
  brute = std::get<0>(brute.min(1)).view({24, 24});
  EXPECT_LT((ns.distance[0][0] - brute).abs().max().item<double>(), 1e-4);
}

TEST(Baselines, ReproduceASmoothFieldFromItsSamples) {
  const auto f = smooth_field(96);
  const auto m = spiral_mask(96, 0.1);
  const auto s = f * m;
  const double range = (f.max() - f.min()).item<double>();
  const std::map<std::string, double> tolerance = {
      {"nearest", 0.08}, {"linear", 0.06}, {"harmonic", 0.06}, {"biharmonic", 0.025}};
  for (const auto& name : r::kBaselineNames) {
    const auto out = r::classical_restore(name, s, m);
    const double e = rms(out, f) / range;
    EXPECT_LT(e, tolerance.at(name)) << name;
    // Sampled pixels are kept exactly.
    EXPECT_TRUE(torch::equal(out * m, s)) << name;
  }
  // Smoother methods do better than nearest on a smooth field.
  EXPECT_LT(rms(r::classical_restore("biharmonic", s, m), f), rms(r::classical_restore("nearest", s, m), f));
}

TEST(Baselines, ConstantFieldIsExact) {
  auto f = torch::full({1, 1, 32, 32}, 2.5f);
  const auto m = spiral_mask(32, 0.1);
  for (const auto& name : r::kBaselineNames)
    EXPECT_LT((r::classical_restore(name, f * m, m) - f).abs().max().item<double>(), 1e-4) << name;
}

TEST(Baselines, BadInputIsRejected) {
  auto s = torch::zeros({1, 1, 16, 16});
  EXPECT_THROW(r::classical_restore("kriging", s, s), emgan::ConfigError);
  EXPECT_THROW(r::nearest_fill(s, torch::zeros({1, 1, 16, 16})), emgan::ConfigError);
  EXPECT_THROW(r::nearest_fill(s, torch::ones({1, 1, 16, 15})), emgan::ConfigError);
}

TEST(Spectrum, SinusoidPeaksAtItsFrequency) {
  const int64_t n = 64;
  auto x = torch::arange(n, torch::kFloat64).view({1, n}).expand({n, n});
  auto img = torch::sin(2 * kPi * x * 8.0 / static_cast<double>(n));
  const auto p = r::radial_power_spectrum(img);
  ASSERT_EQ(p.size(0), 32);
  EXPECT_EQ(p.argmax().item<int64_t>(), 8);
}

TEST(ErrorByDistance, AveragesPerDistanceBin) {
  auto pred = torch::tensor({1.0, 2.0, 3.0, 5.0});
  auto truth = torch::zeros({4});
  auto dist = torch::tensor({0.0, 1.2, 0.9, 7.0});
  const auto [e, n] = r::error_by_distance(pred, truth, dist, 2);
  EXPECT_DOUBLE_EQ(e[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(e[1].item<double>(), 2.5);
  EXPECT_TRUE(std::isnan(e[2].item<double>()));
  EXPECT_DOUBLE_EQ(n.sum().item<double>(), 3.0);
}
