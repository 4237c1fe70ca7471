// Test-time averaging over mirror views of the pixel grid (nn::average_mirror_views).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/nn/mirror_views.h"

namespace en = emgan::nn;

namespace {
/// A map with no symmetry: an asymmetric 3x3 filter plus a term that grows along W.
torch::Tensor skewed(const torch::Tensor& x) {
  const auto k = torch::arange(9, torch::kFloat32).view({1, 1, 3, 3}) - 3.0f;
  const auto w = torch::arange(x.size(-1), torch::kFloat32).view({1, 1, 1, -1});
  return torch::conv2d(x, k, {}, 1, 1) + 0.1 * x * w;
}
double gap(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

TEST(MirrorViews, OneViewIsTheMapItself) {
  torch::manual_seed(0);
  const auto x = torch::rand({2, 1, 9, 13});
  EXPECT_TRUE(torch::equal(en::average_mirror_views(x, 1, skewed), skewed(x)));
  EXPECT_GT(gap(skewed(x.flip({-1})), skewed(x).flip({-1})), 0.1);  // the map is not symmetric
}

TEST(MirrorViews, AveragesAreEquivariantToTheirViews) {
  torch::manual_seed(1);
  const auto x = torch::rand({1, 1, 9, 13});  // not square: transposed views change the shape
  auto avg = [](const torch::Tensor& t, int64_t v) { return en::average_mirror_views(t, v, skewed); };
  EXPECT_LT(gap(avg(x.flip({-1}), 2), avg(x, 2).flip({-1})), 1e-5);
  EXPECT_GT(gap(avg(x.flip({-2}), 2), avg(x, 2).flip({-2})), 0.1);
  EXPECT_LT(gap(avg(x.flip({-2}), 4), avg(x, 4).flip({-2})), 1e-5);
  EXPECT_GT(gap(avg(x.transpose(-2, -1), 4), avg(x, 4).transpose(-2, -1)), 0.1);
  const auto a8 = avg(x, 8);
  EXPECT_EQ(a8.sizes(), x.sizes());
  EXPECT_LT(gap(avg(x.transpose(-2, -1), 8), a8.transpose(-2, -1)), 1e-5);
  EXPECT_LT(gap(avg(torch::rot90(x, 1, {2, 3}), 8), torch::rot90(a8, 1, {2, 3})), 1e-5);
  // The mean of the eight mapped-back outputs, written out.
  torch::Tensor sum = torch::zeros_like(x);
  for (int64_t k = 0; k < 4; ++k)
    for (bool flip : {false, true}) {
      auto t = torch::rot90(x, k, {2, 3});
      if (flip) t = t.flip({3});
      auto y = skewed(t.contiguous());
      if (flip) y = y.flip({3});
      sum += torch::rot90(y, -k, {2, 3});
    }
  EXPECT_LT(gap(a8, sum / 8.0), 1e-5);
}

TEST(MirrorViews, RejectsOtherCounts) {
  const auto x = torch::rand({4, 4});
  for (int64_t v : {0, 3, 5, 16}) EXPECT_THROW(en::average_mirror_views(x, v, skewed), emgan::ConfigError) << v;
  EXPECT_THROW(en::check_mirror_views(6, "--tta-views"), emgan::ConfigError);
  EXPECT_THROW(en::average_mirror_views(torch::rand({4}), 2, skewed), emgan::ConfigError);
}
