// Morphology of tensors: Otsu, distance transform, components, watershed, rough masks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <queue>

#include "emgan/core/error.h"
#include "emgan/segment/morphology.h"
#include "emgan/segment/phantom.h"
#include "emgan/segment/segmenter.h"

using namespace emgan;
using namespace emgan::segment;

namespace {

torch::Tensor disc(int64_t h, int64_t w, double cx, double cy, double r) {
  const auto ys = torch::arange(h, torch::kFloat32).view({-1, 1});
  const auto xs = torch::arange(w, torch::kFloat32).view({1, -1});
  return ((xs - cx).pow(2) + (ys - cy).pow(2)) <= r * r;
}

// Brute-force Euclidean distance to the nearest background pixel (outside = background).
torch::Tensor brute_edt(const torch::Tensor& mask) {
  const int64_t h = mask.size(0), w = mask.size(1);
  auto m = mask.accessor<bool, 2>();
  auto out = torch::zeros({h, w}, torch::kFloat32);
  auto o = out.accessor<float, 2>();
  for (int64_t i = 0; i < h; ++i) {
    for (int64_t j = 0; j < w; ++j) {
      if (!m[i][j]) continue;
      double best = std::min({i + 1, j + 1, h - i, w - j});
      best *= best;
      for (int64_t a = 0; a < h; ++a)
        for (int64_t b = 0; b < w; ++b)
          if (!m[a][b]) best = std::min<double>(best, (a - i) * (a - i) + (b - j) * (b - j));
      o[i][j] = static_cast<float>(std::sqrt(best));
    }
  }
  return out;
}

int64_t brute_components(const torch::Tensor& mask) {
  const int64_t h = mask.size(0), w = mask.size(1);
  auto m = mask.accessor<bool, 2>();
  std::vector<char> seen(static_cast<size_t>(h * w), 0);
  int64_t count = 0;
  for (int64_t s = 0; s < h * w; ++s) {
    if (!m[s / w][s % w] || seen[s]) continue;
    ++count;
    std::queue<int64_t> q;
    q.push(s);
    seen[s] = 1;
    while (!q.empty()) {
      const auto p = q.front();
      q.pop();
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int64_t y = p / w + dy, x = p % w + dx;
          if (y < 0 || x < 0 || y >= h || x >= w || !m[y][x] || seen[y * w + x]) continue;
          seen[y * w + x] = 1;
          q.push(y * w + x);
        }
    }
  }
  return count;
}

}  // namespace

TEST(Morphology, OtsuSeparatesTwoModes) {
  auto x = torch::cat({torch::full({100}, 0.2), torch::full({300}, 0.8)});
  const double t = otsu_threshold(x);
  EXPECT_GT(t, 0.2);
  EXPECT_LT(t, 0.8);
  EXPECT_DOUBLE_EQ(otsu_threshold(torch::full({10}, 3.0)), 3.0);
}

TEST(Morphology, DistanceTransformMatchesBruteForce) {
  torch::manual_seed(3);
  const auto mask = disc(20, 23, 10, 9, 7) | (torch::rand({20, 23}) > 0.6);
  const auto fast = distance_transform(mask, 32);
  EXPECT_TRUE(torch::allclose(fast, brute_edt(mask), 1e-4, 1e-4));
  // A 5x5 block in a 7x7 background frame: centre 3 px from the background.
  auto block = torch::zeros({7, 7}, torch::kBool);
  block.index_put_({torch::indexing::Slice(1, 6), torch::indexing::Slice(1, 6)}, true);
  EXPECT_FLOAT_EQ(distance_transform(block)[3][3].item<float>(), 3.0f);
}

TEST(Morphology, ComponentsMatchBruteForce) {
  torch::manual_seed(5);
  const auto mask = torch::rand({31, 29}) > 0.55;
  int64_t count = 0;
  const auto labels = label_components(mask, &count);
  EXPECT_EQ(count, brute_components(mask));
  EXPECT_EQ(labels.max().item<int64_t>(), count);
  EXPECT_TRUE(torch::equal(labels > 0, mask));
  // Diagonal neighbours are one component (8-connectivity).
  auto diag = torch::eye(6, torch::kBool);
  label_components(diag, &count);
  EXPECT_EQ(count, 1);
}

TEST(Morphology, FillHolesAndOpening) {
  const auto ring = disc(21, 21, 10, 10, 8) & ~disc(21, 21, 10, 10, 4);
  EXPECT_TRUE(torch::equal(fill_holes(ring), disc(21, 21, 10, 10, 8)));
  auto speck = disc(21, 21, 10, 10, 5);
  speck.index_put_({0, 0}, true);
  const auto opened = open(speck, 1);
  EXPECT_FALSE(opened[0][0].item<bool>());
  EXPECT_TRUE(opened[10][10].item<bool>());
}

TEST(Morphology, WatershedSplitsTwoTouchingDiscs) {
  const auto two = disc(40, 60, 18, 20, 9) | disc(40, 60, 35, 20, 9);
  int64_t cc = 0;
  label_components(two, &cc);
  ASSERT_EQ(cc, 1);  // they touch
  int64_t count = 0;
  const auto labels = watershed_split(two, {}, &count);
  EXPECT_EQ(count, 2);
  // Each part is about one disc, split at the neck.
  const auto area = torch::bincount(labels.flatten());
  const double disc_area = disc(40, 60, 18, 20, 9).sum().item<double>();
  EXPECT_NEAR(area[1].item<double>(), disc_area, 0.1 * disc_area);
  EXPECT_NEAR(area[2].item<double>(), disc_area, 0.1 * disc_area);
  EXPECT_NE(labels[20][18].item<int64_t>(), labels[20][35].item<int64_t>());
  // One elongated particle stays whole.
  const auto ys = torch::arange(40, torch::kFloat32).view({-1, 1});
  const auto xs = torch::arange(60, torch::kFloat32).view({1, -1});
  const auto ellipse = ((xs - 30) / 16).pow(2) + ((ys - 20) / 8).pow(2) <= 1;
  watershed_split(ellipse, {}, &count);
  EXPECT_EQ(count, 1);
}

TEST(Morphology, RoughMaskFindsPhantomParticles) {
  PhantomSettings ps;
  ps.size = 96;
  ps.count = 1;
  ps.seed = 4;
  const auto p = make_phantom(ps, 0);
  const auto m = rough_mask(p.image, {});
  const auto sc = score_masks({m}, {p.mask});
  EXPECT_GT(sc.iou_particle, 0.5);
  EXPECT_GT(sc.mean_iou, 0.7);
}

TEST(Morphology, NormalizeAndBinarize) {
  const auto img = torch::arange(0, 1000, torch::kFloat32).view({1, 10, 100}) * 65.0;
  const auto n = normalize_image(img);
  EXPECT_EQ(n.sizes(), (std::vector<int64_t>{10, 100}));
  EXPECT_FLOAT_EQ(n.min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(n.max().item<float>(), 1.0f);
  bool binary = true;
  const auto m = binarize_mask(torch::tensor({0.f, 10.f, 200.f, 255.f}).view({2, 2}), &binary);
  EXPECT_FALSE(binary);
  EXPECT_EQ(m.sum().item<int64_t>(), 2);
  EXPECT_THROW(rough_mask(img[0], RoughMaskSettings{"median"}), ConfigError);
}

TEST(Morphology, GrowLabelsFillsTheBackgroundLayerByLayerLargerLabelWinning) {
  auto labels = torch::zeros({9, 9}, torch::kLong);
  labels.index_put_({4, 1}, 1);
  labels.index_put_({4, 7}, 2);
  EXPECT_TRUE(torch::equal(emgan::segment::grow_labels(labels, 0), labels));
  const auto one = emgan::segment::grow_labels(labels, 1);
  EXPECT_EQ((one == 1).sum().item<int64_t>(), 9);  // a 3x3 square
  EXPECT_EQ((one == 2).sum().item<int64_t>(), 9);
  // After 3 layers both reach column 4; the contested pixels go to the larger label.
  const auto three = emgan::segment::grow_labels(labels, 3);
  EXPECT_EQ(three[4][4].item<int64_t>(), 2);
  EXPECT_EQ(three[4][3].item<int64_t>(), 1);
  EXPECT_EQ(three[4][1].item<int64_t>(), 1);  // set labels never change
  EXPECT_EQ(three[0][0].item<int64_t>(), 0);  // 4 layers away
  EXPECT_THROW(emgan::segment::grow_labels(labels, -1), emgan::ConfigError);
}
