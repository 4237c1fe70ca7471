// Phase detection, Otsu thresholding and one-hot encoding.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/micro/phases.h"
#include "emgan/micro/workflow.h"

namespace micro = emgan::micro;

TEST(Phases, DetectsLabelValuesInOrder) {
  auto img = torch::tensor({170.f, 0.f, 85.f, 85.f, 0.f, 170.f}).reshape({2, 3});
  const auto map = micro::detect_phases(img, micro::kMaxDetectedPhases, "three.tif");
  ASSERT_EQ(map.phases(), 3);
  EXPECT_EQ(map.values, (std::vector<double>{0.0, 85.0, 170.0}));
  EXPECT_FALSE(map.thresholded);
  EXPECT_EQ(map.labels.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(map.labels, torch::tensor({2, 0, 1, 1, 0, 2}, torch::kLong).reshape({2, 3})));
}

TEST(Phases, GreyImageIsRefusedWithAHint) {
  auto grey = torch::arange(0, 400, torch::kFloat).reshape({20, 20});
  try {
    micro::detect_phases(grey, micro::kMaxDetectedPhases, "grey.png");
    FAIL() << "a 400-value grey image must not become 400 phases";
  } catch (const emgan::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("grey.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("400 distinct values"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--phases"), std::string::npos) << msg;
  }
}

TEST(Phases, ConstantAndNonFiniteImagesAreRefused) {
  EXPECT_THROW(micro::detect_phases(torch::ones({4, 4})), emgan::ConfigError);
  auto bad = torch::zeros({4, 4});
  bad[0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(micro::detect_phases(bad), emgan::ConfigError);
  EXPECT_THROW(micro::threshold_phases(torch::ones({4, 4}), 2), emgan::ConfigError);
}

TEST(Phases, OtsuSplitsThreeNoisyLevels) {
  torch::manual_seed(3);
  // Three grey levels 20, 120, 220 with noise sd 8: thresholds near 70 and 170.
  auto truth = torch::randint(0, 3, {40, 40}, torch::kLong);
  auto grey = (20.0 + 100.0 * truth.to(torch::kFloat)) + 8.0 * torch::randn({40, 40});
  const auto map = micro::threshold_phases(grey, 3, "grey.tif");
  ASSERT_EQ(map.thresholds.size(), 2u);
  EXPECT_NEAR(map.thresholds[0], 70.0, 12.0);
  EXPECT_NEAR(map.thresholds[1], 170.0, 12.0);
  EXPECT_TRUE(map.thresholded);
  EXPECT_TRUE(torch::equal(map.labels, truth));
  EXPECT_NEAR(map.values[1], 120.0, 2.0);
}

TEST(Phases, ToPhasesKeepsValuesWhenTheCountMatches) {
  auto img = torch::tensor({0.f, 255.f, 255.f, 0.f}).reshape({2, 2});
  const auto map = micro::to_phases(img, 2);
  EXPECT_FALSE(map.thresholded);
  EXPECT_EQ(map.values, (std::vector<double>{0.0, 255.0}));
}

TEST(Phases, OneHotRoundTrip) {
  auto labels = torch::randint(0, 3, {3, 4, 5}, torch::kLong);
  const auto oh = micro::one_hot(labels, 3);
  EXPECT_EQ(oh.sizes(), (std::vector<int64_t>{3, 3, 4, 5}));
  EXPECT_TRUE(torch::allclose(oh.sum(0), torch::ones({3, 4, 5})));
  EXPECT_TRUE(torch::equal(micro::labels_from_one_hot(oh), labels));
  EXPECT_THROW(micro::one_hot(labels, 2), emgan::ConfigError);
}

TEST(Phases, SqueezeChannelsAndRegions) {
  EXPECT_EQ(micro::squeeze_channels(torch::zeros({1, 5, 6})).sizes(), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(micro::squeeze_channels(torch::zeros({1, 4, 5, 6})).sizes(), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(micro::squeeze_channels(torch::zeros({3, 5, 6})).sizes(), (std::vector<int64_t>{5, 6}));
  EXPECT_THROW(micro::squeeze_channels(torch::zeros({2, 5, 6}), "two.tif"), emgan::ConfigError);
  auto v = torch::arange(4 * 5 * 6).reshape({4, 5, 6});
  const auto c = micro::crop_region(v, "1:3,:,2:", "v");
  EXPECT_EQ(c.sizes(), (std::vector<int64_t>{2, 5, 4}));
  EXPECT_EQ(c[0][0][0].item<int64_t>(), v[1][0][2].item<int64_t>());
  EXPECT_THROW(micro::crop_region(v, "0:9,:,:", "v"), emgan::ConfigError);
  EXPECT_THROW(micro::crop_region(v, "0:2,:", "v"), emgan::ConfigError);
  EXPECT_THROW(micro::crop_region(v, "a:b,:,:", "v"), emgan::ConfigError);
}
