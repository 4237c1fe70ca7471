// ALRC and the image pool.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "emgan/core/error.h"
#include "emgan/losses/alrc.h"
#include "emgan/losses/image_pool.h"
#include "test_util.h"

namespace l = emgan::losses;
using emgan::Json;

TEST(Alrc, InitialThresholdFollowsTheFormula) {
  l::Alrc alrc;
  EXPECT_DOUBLE_EQ(alrc.state().mu1, 25.0);
  EXPECT_DOUBLE_EQ(alrc.state().mu2, 900.0);
  EXPECT_DOUBLE_EQ(alrc.threshold(), 25.0 + 3.0 * std::sqrt(900.0 - 625.0));
}

TEST(Alrc, ClipsASpikeExactlyAndUpdatesMoments) {
  l::Alrc alrc;
  const double limit = 25.0 + 3.0 * std::sqrt(275.0);
  auto x = torch::tensor({10.0}, torch::kDouble).requires_grad_(true);
  auto loss = (x * x).sum() * 10.0;  // L = 1000, dL/dx = 200
  auto clipped = alrc(loss);
  EXPECT_NEAR(clipped.item<double>(), limit, 1e-9);
  clipped.backward();
  // The factor limit / L is a constant: the gradient is scaled by it.
  EXPECT_NEAR(x.grad().item<double>(), 200.0 * limit / 1000.0, 1e-9);
  EXPECT_NEAR(alrc.state().mu1, 0.999 * 25.0 + 0.001 * limit, 1e-12);
  EXPECT_NEAR(alrc.state().mu2, 0.999 * 900.0 + 0.001 * limit * limit, 1e-9);
  EXPECT_EQ(alrc.state().steps, 1);
  EXPECT_EQ(alrc.state().clipped, 1);
}

TEST(Alrc, PassesOrdinaryLossesAndCanUpdateWithTheRawLoss) {
  l::Alrc alrc;
  auto loss = torch::tensor(10.0, torch::kDouble);
  auto out = alrc(loss);
  EXPECT_TRUE(out.is_same(loss));
  EXPECT_NEAR(alrc.state().mu1, 0.999 * 25.0 + 0.001 * 10.0, 1e-12);
  EXPECT_NEAR(alrc.state().mu2, 0.999 * 900.0 + 0.001 * 100.0, 1e-12);
  EXPECT_EQ(alrc.state().clipped, 0);

  l::AlrcOptions raw;
  raw.update_with_clipped = false;
  l::Alrc unclipped(raw);
  unclipped(torch::tensor(1000.0, torch::kDouble));
  EXPECT_NEAR(unclipped.state().mu1, 0.999 * 25.0 + 0.001 * 1000.0, 1e-12);
  EXPECT_NEAR(unclipped.state().mu2, 0.999 * 900.0 + 0.001 * 1e6, 1e-9);
}

TEST(Alrc, ThresholdAdaptsToTheLossScale) {
  l::Alrc alrc;
  for (int i = 0; i < 20000; ++i) alrc(torch::tensor(0.1 + 0.01 * (i % 3), torch::kDouble));
  EXPECT_NEAR(alrc.state().mu1, 0.11, 1e-3);
  EXPECT_LT(alrc.threshold(), 0.2);
  EXPECT_NEAR(alrc(torch::tensor(5.0, torch::kDouble)).item<double>(), alrc.threshold() + 0.0,
              0.05);
}

TEST(Alrc, IgnoresNonFiniteLossesAndRejectsBadInput) {
  l::Alrc alrc;
  auto nan = torch::tensor(std::nan(""), torch::kDouble);
  EXPECT_TRUE(std::isnan(alrc(nan).item<double>()));
  EXPECT_EQ(alrc.state().steps, 0);
  EXPECT_DOUBLE_EQ(alrc.state().mu1, 25.0);
  EXPECT_THROW(alrc(torch::ones({2})), emgan::ConfigError);
  l::AlrcOptions bad;
  bad.decay = 1.0;
  EXPECT_THROW(l::Alrc{bad}, emgan::ConfigError);
  bad = {};
  bad.mu2_init = 100;  // < 25^2
  EXPECT_THROW(l::Alrc{bad}, emgan::ConfigError);
}

TEST(Alrc, StateRoundTripsThroughJson) {
  l::Alrc a;
  a(torch::tensor(1000.0));
  a(torch::tensor(3.0));
  Json j = a.state();
  l::Alrc b;
  b.load_state(j.get<l::AlrcState>());
  EXPECT_DOUBLE_EQ(b.state().mu1, a.state().mu1);
  EXPECT_DOUBLE_EQ(b.state().mu2, a.state().mu2);
  EXPECT_EQ(b.state().steps, 2);
  EXPECT_EQ(b.state().clipped, 1);
  EXPECT_DOUBLE_EQ(a(torch::tensor(500.0)).item<double>(), b(torch::tensor(500.0)).item<double>());
  l::AlrcState bad;
  bad.mu2 = -1;
  EXPECT_THROW(b.load_state(bad), emgan::ConfigError);
  // Options load as settings.
  auto o = emgan::settings_from_json<l::AlrcOptions>(Json{{"n_sigma", 2.0}}, "test");
  EXPECT_DOUBLE_EQ(o.n_sigma, 2.0);
  EXPECT_DOUBLE_EQ(o.decay, 0.999);
}

namespace {
/// A batch of `n` images [n, 1, 2, 2] whose pixels all equal their id.
torch::Tensor ids(int64_t first, int64_t n) {
  return torch::arange(first, first + n, torch::kFloat)
      .view({n, 1, 1, 1})
      .expand({n, 1, 2, 2})
      .contiguous();
}
std::vector<int64_t> id_list(const torch::Tensor& batch) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < batch.size(0); ++i)
    out.push_back(static_cast<int64_t>(batch[i][0][0][0].item<float>()));
  return out;
}
}  // namespace

TEST(ImagePool, FillsThenSwapsWithHistory) {
  l::ImagePoolOptions o;
  o.pool_size = 4;
  o.seed = 7;
  l::ImagePool pool(o);
  EXPECT_EQ(id_list(pool.query(ids(0, 4))),
            (std::vector<int64_t>{0, 1, 2, 3}));  // filling: returned as given
  EXPECT_EQ(pool.size(), 4);
  std::set<int64_t> given = {0, 1, 2, 3};
  std::set<int64_t> in_pool = {0, 1, 2, 3};
  int swapped = 0, total = 0;
  for (int64_t step = 0; step < 100; ++step) {
    auto batch = ids(4 + 2 * step, 2);
    auto out = pool.query(batch);
    ASSERT_EQ(out.sizes(), batch.sizes());
    auto out_ids = id_list(out);
    for (int i = 0; i < 2; ++i) {
      const int64_t fresh = 4 + 2 * step + i;
      ++total;
      if (out_ids[i] != fresh) {
        ++swapped;
        EXPECT_TRUE(in_pool.count(out_ids[i]))
            << "returned " << out_ids[i] << " was not in the pool";
        in_pool.erase(out_ids[i]);
        in_pool.insert(fresh);
        EXPECT_TRUE(given.count(out_ids[i]));
      }
      given.insert(fresh);
    }
  }
  EXPECT_EQ(pool.size(), 4);
  EXPECT_GT(swapped, 70);  // p = 0.5 of 200 draws: 100 +- 7 (1 sigma)
  EXPECT_LT(swapped, 130);
}

TEST(ImagePool, IsSeededAndLeavesTorchsGeneratorAlone) {
  l::ImagePoolOptions o;
  o.pool_size = 3;
  o.seed = 11;
  l::ImagePool a(o), b(o);
  torch::manual_seed(5);
  auto expected = torch::rand({3});
  torch::manual_seed(5);
  for (int64_t s = 0; s < 20; ++s) {
    EXPECT_EQ(id_list(a.query(ids(3 * s, 3))), id_list(b.query(ids(3 * s, 3))));
  }
  EXPECT_TRUE(torch::equal(torch::rand({3}), expected));
  o.seed = 12;
  l::ImagePool c(o), d(o);
  std::vector<int64_t> from_c, from_d;
  l::ImagePoolOptions o2 = o;
  o2.seed = 13;
  l::ImagePool e(o2);
  bool differs = false;
  for (int64_t s = 0; s < 20; ++s)
    differs |= id_list(c.query(ids(3 * s, 3))) != id_list(e.query(ids(3 * s, 3)));
  EXPECT_TRUE(differs);
}

TEST(ImagePool, ZeroSizeAndExtremeProbabilities) {
  l::ImagePoolOptions o;
  o.pool_size = 0;
  l::ImagePool none(o);
  auto batch = ids(0, 3).requires_grad_(true);
  auto out = none.query(batch);
  EXPECT_TRUE(torch::equal(out, batch));
  EXPECT_FALSE(out.requires_grad());
  o.pool_size = 2;
  o.swap_probability = 1.0;
  l::ImagePool always(o);
  always.query(ids(0, 2));
  auto swapped = id_list(always.query(ids(2, 2)));
  for (auto id : swapped) EXPECT_LT(id, 3) << "with p = 1 a stored image comes back";
  o.swap_probability = 0.0;
  l::ImagePool never(o);
  never.query(ids(0, 2));
  EXPECT_EQ(id_list(never.query(ids(2, 2))), (std::vector<int64_t>{2, 3}));
  o.swap_probability = 1.5;
  EXPECT_THROW(l::ImagePool{o}, emgan::ConfigError);
  o.swap_probability = 0.5;
  o.pool_size = -1;
  EXPECT_THROW(l::ImagePool{o}, emgan::ConfigError);
}

TEST(ImagePool, StateRoundTripsThroughAnArchive) {
  l::ImagePoolOptions o;
  o.pool_size = 5;
  o.seed = 3;
  l::ImagePool a(o);
  for (int64_t s = 0; s < 6; ++s) a.query(ids(2 * s, 2));
  const auto path = (emgan::test::temp_dir() / "pool.pt").string();
  {
    torch::serialize::OutputArchive archive;
    a.save(archive);
    archive.save_to(path);
  }
  l::ImagePoolOptions other = o;
  other.seed = 99;  // the saved generator state replaces it
  l::ImagePool b(other);
  {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    b.load(archive);
  }
  EXPECT_EQ(b.size(), 5);
  for (int64_t s = 6; s < 30; ++s)
    EXPECT_EQ(id_list(a.query(ids(2 * s, 2))), id_list(b.query(ids(2 * s, 2))));
  l::ImagePool c(o);
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  EXPECT_THROW(c.load(archive, "missing"), emgan::IoError);
}
