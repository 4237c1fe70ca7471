// Augmentation (paired geometry, identities, noise statistics) and the DataLoader
// (every sample once, seeded order, errors, resume, shutdown).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "emgan/core/error.h"
#include "emgan/data/augment.h"
#include "emgan/data/crop.h"
#include "emgan/data/dataset.h"
#include "emgan/data/loader.h"
#include "test_util.h"

using namespace emgan;
using namespace emgan::data;

namespace {

const Json kPipeline = Json::parse(R"([
  {"type": "flip_h", "p": 0.5}, {"type": "flip_v", "p": 0.5}, {"type": "rot90", "p": 1},
  {"type": "shift_scale_rotate", "p": 1, "shift": 0.1, "scale_min": 0.8, "scale_max": 1.2, "rotate_deg": 40,
   "padding": "reflection"}
])");

std::shared_ptr<TensorDataset> numbered(int n, int64_t size = 6) {
  std::vector<Sample> s;
  for (int i = 0; i < n; ++i) {
    s.push_back(Sample{torch::full({1, size, size}, static_cast<float>(i)),
                       torch::full({1, size, size}, -1.f * i), std::to_string(i), "", "", ""});
  }
  return std::make_shared<TensorDataset>(s);
}

std::vector<std::string> epoch_ids(DataLoader& loader) {
  std::vector<std::string> ids;
  while (auto b = loader.next()) ids.insert(ids.end(), b->ids.begin(), b->ids.end());
  return ids;
}

/// Fails on sample `bad`; optionally slow, to test shutdown.
class FailingDataset : public Dataset {
 public:
  FailingDataset(size_t n, size_t bad, int delay_ms = 0) : n_(n), bad_(bad), delay_ms_(delay_ms) {}
  size_t size() const override { return n_; }
  using Dataset::get;
  Sample get(size_t i) const override {
    if (delay_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    if (i == bad_) throw IoError("cannot read 'broken_" + std::to_string(i) + ".tif'");
    return Sample{torch::zeros({1, 2, 2}), {}, id(i), "", "", ""};
  }
  std::string id(size_t i) const override { return std::to_string(i); }

 private:
  size_t n_, bad_;
  int delay_ms_;
};

}  // namespace

TEST(DataAugment, PairedGeometryKeepsInputAndTargetAligned) {
  const Compose aug = Compose::from_json(kPipeline);
  const auto x = torch::rand({1, 16, 16});
  int changed = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    torch::Tensor in = x.clone(), tg = x * 3 + 1;
    auto gen = make_generator(seed);
    aug.apply(in, tg, gen);
    // Bilinear sampling with reflection commutes with a pointwise affine map.
    EXPECT_TRUE(torch::allclose(tg, in * 3 + 1, 1e-4, 1e-4)) << "seed " << seed;
    changed += !torch::allclose(in, x, 1e-3, 1e-3);
  }
  EXPECT_GE(changed, 7);
  // Batches: every element aligned, elements augmented differently.
  torch::Tensor in = x.unsqueeze(0).repeat({4, 1, 1, 1}), tg = in * 3 + 1;
  auto gen = make_generator(1);
  aug.apply(in, tg, gen);
  EXPECT_TRUE(torch::allclose(tg, in * 3 + 1, 1e-4, 1e-4));
  EXPECT_FALSE(torch::allclose(in[0], in[1], 1e-3, 1e-3));
}

TEST(DataAugment, SameSeedSameResult) {
  const Compose aug = Compose::from_json(kPipeline);
  const auto x = torch::rand({2, 12, 12});
  torch::Tensor a = x.clone(), b = x.clone(), none;
  auto g1 = make_generator(5), g2 = make_generator(5);
  aug.apply(a, none, g1);
  aug.apply(b, none, g2);
  EXPECT_TRUE(torch::equal(a, b));
}

TEST(DataAugment, RotationsAndAffineIdentities) {
  const auto x = torch::rand({2, 7, 7});
  EXPECT_TRUE(torch::equal(rotate90(rotate90(rotate90(rotate90(x, 1), 1), 1), 1), x));
  EXPECT_TRUE(torch::equal(rotate90(x, 4), x));
  EXPECT_TRUE(torch::equal(rotate90(x, -1), rotate90(x, 3)));
  // Counter-clockwise as displayed: the top row becomes the left column, reversed.
  const auto r = rotate90(x, 1);
  EXPECT_TRUE(torch::equal(r[0].select(1, 0), x[0][0].flip({0})));
  EXPECT_TRUE(torch::allclose(affine_warp(x, 0, 1, 0, 0), x, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(affine_warp(x, 90, 1, 0, 0), r, 1e-4, 1e-5));
  const auto rect = torch::rand({1, 6, 10});
  EXPECT_TRUE(torch::allclose(affine_warp(rect, 0, 1, 0, 0, "nearest", "zeros"), rect, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(affine_warp(rect, 180, 1, 0, 0), rect.flip({1, 2}), 1e-4, 1e-5));
  // A shift of one pixel to the right; the new left column is the fill value.
  const auto shifted = affine_warp(rect, 0, 1, 1.0 / 10, 0, "bilinear", "zeros", 7.0);
  EXPECT_TRUE(torch::allclose(shifted.narrow(2, 1, 9), rect.narrow(2, 0, 9), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(shifted.select(2, 0), torch::full({1, 6}, 7.0), 1e-4, 1e-5));
  // Scale 2 about the centre: the centre pixel stays.
  const auto odd = torch::rand({1, 9, 9});
  EXPECT_NEAR(affine_warp(odd, 0, 2, 0, 0)[0][4][4].item<float>(), odd[0][4][4].item<float>(),
              1e-5);
}

TEST(DataAugment, NoiseStatistics) {
  torch::manual_seed(0);
  const auto x = torch::rand({1, 64, 64}) * 0.8 + 0.1;
  auto gen = make_generator(2);
  const auto high = poisson_noise(x, 1e6, gen);
  EXPECT_LT((high - x).abs().max().item<double>(), 0.01);
  EXPECT_NEAR((high - x).mean().item<double>(), 0.0, 1e-4);
  const double dose = 100;
  const auto low = poisson_noise(x, dose, gen);
  EXPECT_NEAR((low - x).mean().item<double>(), 0.0, 0.005);
  const double var = (low - x).var().item<double>();
  EXPECT_NEAR(var / (x.mean().item<double>() / dose), 1.0, 0.1);
  // Counts: multiples of 1 / dose.
  EXPECT_TRUE(torch::allclose(low * dose, torch::round(low * dose), 0, 1e-3));
  const auto g = gaussian_noise(x, 0.05, gen);
  EXPECT_NEAR((g - x).std().item<double>(), 0.05, 0.003);
  // Noise goes to the input only.
  const Compose noise = Compose::from_json(Json::parse(R"([{"type":"gaussian_noise","sigma":0.1},
                                                            {"type":"poisson_noise","dose":50}])"));
  torch::Tensor in = x.clone(), tg = x.clone();
  noise.apply(in, tg, gen);
  EXPECT_TRUE(torch::equal(tg, x));
  EXPECT_FALSE(torch::allclose(in, x, 1e-3, 1e-3));
}

TEST(DataAugment, ProbabilityZeroIsIdentityAndJsonRoundTrips) {
  Json j = kPipeline;
  for (auto& step : j) step["p"] = 0.0;
  const auto x = torch::rand({1, 8, 8});
  torch::Tensor in = x.clone(), tg;
  auto gen = make_generator(0);
  Compose::from_json(j).apply(in, tg, gen);
  EXPECT_TRUE(torch::equal(in, x));
  const Compose c = Compose::from_json(kPipeline);
  EXPECT_EQ(Compose::from_json(c.to_json()).to_json(), c.to_json());
  EXPECT_EQ(c.steps().size(), 4u);
  try {
    Compose::from_json(Json::parse(R"([{"type":"flip_h"},{"type":"twirl"}])"));
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("step 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("twirl"), std::string::npos) << msg;
    EXPECT_NE(msg.find("poisson_noise"), std::string::npos) << msg;  // lists the known types
  }
  EXPECT_THROW(Compose::from_json(Json::parse(R"([{"type":"flip_h","p":2}])")), ConfigError);
  EXPECT_THROW(Compose::from_json(Json::parse(R"([{"type":"poisson_noise","dose":0}])")),
               ConfigError);
  EXPECT_THROW(Compose::from_json(Json::parse(R"([{"type":"gaussian_noise","sigmaa":1}])")),
               ConfigError);
}

TEST(DataAugment, SameResultOnGpu_CUDA) {
  const Json j =
      Json::parse(R"([{"type":"flip_h","p":0.5},{"type":"rot90"},{"type":"shift_scale_rotate"},
                                  {"type":"gaussian_noise","sigma":0.1},{"type":"poisson_noise","dose":100}])");
  const Compose aug = Compose::from_json(j);
  const auto x = torch::rand({3, 1, 16, 16});
  torch::Tensor a = x.clone(), ta = x.clone(), b = x.cuda(), tb = x.cuda();
  auto g1 = make_generator(4), g2 = make_generator(4);
  aug.apply(a, ta, g1);
  aug.apply(b, tb, g2);
  EXPECT_TRUE(b.is_cuda());
  EXPECT_TRUE(torch::allclose(a, b.cpu(), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(ta, tb.cpu(), 1e-4, 1e-4));
}

TEST(DataLoader, EverySampleOncePerEpochInASeededOrder) {
  auto ds = numbered(10);
  DataLoader loader(ds, LoaderOptions{3, true, 42, false, 2});
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  std::vector<std::vector<std::string>> epochs;
  for (int e = 0; e < 3; ++e) {
    std::vector<int64_t> sizes;
    std::vector<std::string> ids;
    while (auto b = loader.next()) {
      sizes.push_back(b->size());
      ids.insert(ids.end(), b->ids.begin(), b->ids.end());
      for (int64_t i = 0; i < b->size(); ++i) {
        EXPECT_EQ(b->input[i][0][0][0].item<float>(), std::stof(b->ids[static_cast<size_t>(i)]));
        EXPECT_EQ(b->target[i][0][0][0].item<float>(), -std::stof(b->ids[static_cast<size_t>(i)]));
      }
    }
    EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 3, 1}));
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 10u);
    EXPECT_EQ(ids.size(), 10u);
    epochs.push_back(ids);
  }
  EXPECT_NE(epochs[0], epochs[1]);  // reshuffled every epoch
  DataLoader same(ds, LoaderOptions{3, true, 42, false, 0});
  EXPECT_EQ(epoch_ids(same), epochs[0]);
  EXPECT_EQ(epoch_ids(same), epochs[1]);
  DataLoader other(ds, LoaderOptions{3, true, 43, false, 1});
  EXPECT_NE(epoch_ids(other), epochs[0]);
  DataLoader ordered(ds, LoaderOptions{4, false, 0, true, 2});
  EXPECT_EQ(ordered.batches_per_epoch(), 2);
  EXPECT_EQ(epoch_ids(ordered), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"}));
  DataLoader subset(ds, LoaderOptions{2, true, 1, false, 1}, {1, 3, 5});
  const auto sub = epoch_ids(subset);
  EXPECT_EQ(std::set<std::string>(sub.begin(), sub.end()), (std::set<std::string>{"1", "3", "5"}));
  EXPECT_THROW(DataLoader(ds, LoaderOptions{20, true, 0, true, 1}), ConfigError);
  EXPECT_THROW(DataLoader(ds, LoaderOptions{2, true, 0, false, 1}, {10}), ConfigError);
}

TEST(DataLoader, ResumedPositionReproducesTheRemainingBatches) {
  auto ds = numbered(9, 12);
  const Compose aug = Compose::from_json(kPipeline);
  const SampleTransform transform = [&aug](Sample s, uint64_t seed) {
    auto gen = make_generator(seed);
    s = random_crop(s, CropOptions().height(8).width(8), gen);
    s.input = s.input + torch::randn(s.input.sizes(), gen);  // randomness from the seed only
    return aug.apply(std::move(s), gen);
  };
  const LoaderOptions opts{2, true, 7, false, 2};
  std::vector<Batch> straight;
  LoaderPosition saved;
  {
    DataLoader a(ds, opts, {}, transform);
    epoch_ids(a);  // epoch 0
    a.next();      // epoch 1, batch 0
    saved = LoaderPosition::from_json(a.position().to_json());
    EXPECT_EQ(saved, (LoaderPosition{1, 1}));
    while (auto b = a.next()) straight.push_back(*b);
    while (auto b = a.next()) straight.push_back(*b);  // epoch 2
  }
  DataLoader resumed(ds, opts, {}, transform);
  resumed.set_position(saved);
  std::vector<Batch> again;
  while (auto b = resumed.next()) again.push_back(*b);
  while (auto b = resumed.next()) again.push_back(*b);
  ASSERT_EQ(again.size(), straight.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].ids, straight[i].ids);
    EXPECT_TRUE(torch::equal(again[i].input, straight[i].input));
    EXPECT_TRUE(torch::equal(again[i].target, straight[i].target));
  }
  // Without a background thread the batches are the same.
  DataLoader sync(ds, LoaderOptions{2, true, 7, false, 0}, {}, transform);
  sync.set_position(saved);
  EXPECT_TRUE(torch::equal(sync.next()->input, straight[0].input));
  EXPECT_EQ(sync.batch_indices(saved).size(), 2u);
}

TEST(DataLoader, WorkerExceptionsReachTheConsumer) {
  auto ds = std::make_shared<FailingDataset>(6, 3);
  for (int64_t prefetch : {0, 2}) {
    DataLoader loader(ds, LoaderOptions{2, false, 0, false, prefetch});
    ASSERT_TRUE(loader.next().has_value());  // samples 0, 1
    try {
      loader.next();  // samples 2, 3
      ADD_FAILURE() << "no exception";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find("broken_3.tif"), std::string::npos);
    }
    EXPECT_EQ(loader.position(), (LoaderPosition{0, 1}));
    loader.set_position({0, 2});
    auto b = loader.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->ids, (std::vector<std::string>{"4", "5"}));
  }
}

TEST(DataLoader, DestroyedMidEpochWithoutHanging) {
  auto ds = std::make_shared<FailingDataset>(100, 1000, 2);
  const auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, LoaderOptions{4, true, 0, false, 2});
    ASSERT_TRUE(loader.next().has_value());
  }
  { DataLoader untouched(ds, LoaderOptions{4, true, 0, false, 2}); }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}
