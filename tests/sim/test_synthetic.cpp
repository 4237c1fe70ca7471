#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/sim/synthetic.h"

TEST(Synthetic, SameSeedSamePairOtherSeedOther) {
  auto a = emgan::sim::make_synthetic_pair(3);
  auto b = emgan::sim::make_synthetic_pair(3);
  auto c = emgan::sim::make_synthetic_pair(4);
  EXPECT_TRUE(torch::equal(a.convolution, b.convolution));
  EXPECT_TRUE(torch::equal(a.multislice, b.multislice));
  EXPECT_FALSE(torch::equal(a.convolution, c.convolution));
}

TEST(Synthetic, ShapesUnitsAndNonlinearity) {
  emgan::sim::SyntheticPairOptions o;
  o.height = 70;
  o.width = 90;
  auto p = emgan::sim::make_synthetic_pair(1, o);
  EXPECT_EQ(p.convolution.sizes(), (std::vector<int64_t>{1, 70, 90}));
  EXPECT_EQ(p.multislice.sizes(), (std::vector<int64_t>{1, 70, 90}));
  // Target in fractions of the beam: positive and well below 1.
  EXPECT_GT(p.multislice.min().item<float>(), 0.0f);
  EXPECT_LT(p.multislice.max().item<float>(), 1.0f);
  // The mapping is not a single linear scale: the ratio of the centre (thick) to a
  // point near the edge (thin) differs between the two images.
  auto conv_ratio = p.convolution.max() / p.convolution.mean();
  auto ms_ratio = p.multislice.max() / p.multislice.mean();
  EXPECT_GT(std::abs((conv_ratio - ms_ratio).item<float>()), 0.1f);
}

TEST(Synthetic, RejectsTinyImages) {
  emgan::sim::SyntheticPairOptions o;
  o.height = 8;
  EXPECT_THROW(emgan::sim::make_synthetic_pair(0, o), emgan::ConfigError);
}
