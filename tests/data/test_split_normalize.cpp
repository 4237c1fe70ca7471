// k-fold splits (stratified, reproducible, saved) and the normalisation strategies.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "emgan/core/error.h"
#include "emgan/data/dataset.h"
#include "emgan/data/normalize.h"
#include "emgan/data/split.h"
#include "test_util.h"

using namespace emgan;
using namespace emgan::data;

namespace {

/// 40 items in 3 groups, sized like the real data (2, 20, 18).
std::vector<SplitItem> real_like_items() {
  std::vector<SplitItem> items;
  for (int i : {3, 17}) items.push_back({std::to_string(i), "Pt"});
  for (int i = 0; i < 20; ++i) items.push_back({std::to_string(i), "Pt-Mo5"});
  for (int i = 2; i < 20; ++i) items.push_back({std::to_string(i), "Pt-Mo50"});
  return items;
}

std::multiset<std::string> keys_of(const std::vector<SplitItem>& items) {
  std::multiset<std::string> k;
  for (const auto& it : items) k.insert(it.key());
  return k;
}

}  // namespace

TEST(DataSplit, StratifiedFoldsPartitionTheImages) {
  const auto items = real_like_items();
  const KFoldSplit s = make_kfold(items, 5, 7, true);
  ASSERT_EQ(s.folds.size(), 5u);
  // Every image in exactly one test fold.
  const auto all = keys_of(s.all_items());
  EXPECT_EQ(all, keys_of(items));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), items.size());
  for (int f = 0; f < 5; ++f) {
    EXPECT_EQ(s.test_items(f).size(), 8u);
    // Train and test of a fold never share an image.
    const auto test = keys_of(s.test_items(f));
    for (const auto& it : s.train_items(f)) EXPECT_EQ(test.count(it.key()), 0u) << it.key();
    EXPECT_EQ(s.train_items(f).size() + s.test_items(f).size(), items.size());
    // Stratified: each group spread evenly (20 / 5 = 4 and 18 / 5 = 3..4 per fold).
    std::map<std::string, int> per_group;
    for (const auto& it : s.test_items(f)) ++per_group[it.group];
    EXPECT_EQ(per_group["Pt-Mo5"], 4);
    EXPECT_GE(per_group["Pt-Mo50"], 3);
    EXPECT_LE(per_group["Pt-Mo50"], 4);
    EXPECT_LE(per_group["Pt"], 1);
  }
}

TEST(DataSplit, ReproducibleWithTheSeedAndDifferentWithAnother) {
  const auto items = real_like_items();
  auto shuffled = items;
  seeded_shuffle(shuffled, 99);  // the input order does not matter
  EXPECT_EQ(make_kfold(items, 5, 1, true).to_json(), make_kfold(shuffled, 5, 1, true).to_json());
  EXPECT_NE(make_kfold(items, 5, 1, true).to_json(), make_kfold(items, 5, 2, true).to_json());
  EXPECT_NE(make_kfold(items, 5, 1, false).to_json(), make_kfold(items, 5, 2, false).to_json());
  const auto plain = make_kfold(items, 4, 3, false);
  EXPECT_EQ(keys_of(plain.all_items()), keys_of(items));
  for (const auto& fold : plain.folds) EXPECT_EQ(fold.size(), 10u);
}

TEST(DataSplit, SavesLoadsAndMapsToTheDataset) {
  const auto dir = test::temp_dir();
  std::vector<Sample> samples;
  for (const auto& it : real_like_items())
    samples.push_back(Sample{torch::zeros({1, 2, 2}), {}, it.id, it.group, "", ""});
  TensorDataset ds(samples);
  const KFoldSplit s = make_kfold(split_items(ds), 5, 11, true);
  const auto path = save_split(s, dir / "run");
  EXPECT_EQ(path.filename(), "split.json");
  const KFoldSplit back = load_split(dir / "run");
  EXPECT_EQ(back.to_json(), s.to_json());
  EXPECT_EQ(back.k, 5);
  EXPECT_TRUE(back.stratified);
  const auto test_idx = back.test_indices(2, ds);
  const auto train_idx = back.train_indices(2, ds);
  EXPECT_EQ(test_idx.size() + train_idx.size(), ds.size());
  std::set<size_t> all(test_idx.begin(), test_idx.end());
  all.insert(train_idx.begin(), train_idx.end());
  EXPECT_EQ(all.size(), ds.size());
  for (size_t i : test_idx) EXPECT_EQ(keys_of(s.test_items(2)).count(ds.key(i)), 1u);

  Json bad = s.to_json();
  bad["folds"][1].push_back(bad["folds"][0][0]);
  EXPECT_THROW(KFoldSplit::from_json(bad), ConfigError);
  Json missing = s.to_json();
  missing["folds"][0][0]["id"] = "nope";
  EXPECT_THROW(KFoldSplit::from_json(missing).test_indices(0, ds), ConfigError);
  EXPECT_THROW(make_kfold(real_like_items(), 1, 0), ConfigError);
  EXPECT_THROW(make_kfold({{"a", ""}, {"b", ""}}, 3, 0), ConfigError);
  EXPECT_THROW(make_kfold({{"a", ""}, {"a", ""}}, 2, 0), ConfigError);
}

TEST(DataSplit, NestedSplitStaysInsideTheTrainingFolds) {
  const KFoldSplit outer = make_kfold(real_like_items(), 5, 5, true);
  for (int f = 0; f < 5; ++f) {
    const KFoldSplit inner = nested_split(outer, f, 4);
    EXPECT_EQ(keys_of(inner.all_items()), keys_of(outer.train_items(f)));
    const auto test = keys_of(outer.test_items(f));
    for (const auto& it : inner.all_items()) EXPECT_EQ(test.count(it.key()), 0u);
    EXPECT_EQ(inner.to_json(), nested_split(outer, f, 4).to_json());
  }
  EXPECT_NE(nested_split(outer, 0, 4).to_json(), nested_split(outer, 1, 4).to_json());
}

TEST(DataNormalize, EveryStrategyInverts) {
  const auto names = normalizer_registry().names();
  EXPECT_EQ(names, (std::vector<std::string>{"dataset_meanstd", "dataset_scale", "log", "meanstd",
                                             "minmax", "none"}));
  torch::manual_seed(1);
  const auto x = torch::rand({1, 9, 11}) * 0.12 - 0.001;  // like the targets, with a tiny negative
  const auto batch = torch::rand({3, 1, 6, 5}) * 40 + 2;
  for (const auto& name : names) {
    auto n = make_normalizer(name);
    if (n->needs_fit()) {
      EXPECT_FALSE(n->is_fitted());
      EXPECT_THROW(n->forward(x), ConfigError) << name;
      n->fit({x, batch});
    }
    const Normalized y = n->forward(x);
    EXPECT_TRUE(torch::allclose(n->inverse(y.value, y.stats), x, 1e-4, 1e-6)) << name;
    const Normalized yb = n->forward_batch(batch);
    EXPECT_TRUE(torch::allclose(n->inverse(yb.value, yb.stats), batch, 1e-4, 1e-4)) << name;
    // The JSON form rebuilds the same normaliser.
    auto back = normalizer_from_json(n->to_json());
    EXPECT_EQ(back->to_json(), n->to_json()) << name;
    EXPECT_TRUE(torch::allclose(back->forward(x).value, y.value)) << name;
  }
}

TEST(DataNormalize, PerImageStrategiesUseTheImageItself) {
  const auto x = torch::tensor({2.f, 4.f, 6.f, 8.f}).reshape({1, 2, 2});
  const auto mm = make_normalizer("minmax")->forward(x).value;
  EXPECT_TRUE(torch::allclose(mm, torch::tensor({0.f, 1 / 3.f, 2 / 3.f, 1.f}).reshape({1, 2, 2})));
  const auto ms = make_normalizer("meanstd")->forward(x).value;
  EXPECT_NEAR(ms.mean().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(ms.std(false).item<double>(), 1.0, 1e-5);
  const auto lg = make_normalizer("log", Json{{"eps", 0.5}})->forward(x);
  // z = log(x - 2 + 0.5 * 6) = log(3, 5, 7, 9), min-max scaled.
  const double z0 = std::log(3.0), z1 = std::log(5.0), z3 = std::log(9.0);
  EXPECT_NEAR(lg.value.flatten()[1].item<double>(), (z1 - z0) / (z3 - z0), 1e-6);
  EXPECT_NEAR(lg.value.min().item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(lg.value.max().item<double>(), 1.0, 1e-6);
  // Batches: stats per element.
  const auto b = torch::stack({x, x * 10});
  const auto nb = make_normalizer("minmax")->forward_batch(b).value;
  EXPECT_TRUE(torch::allclose(nb[0], nb[1]));
  // A constant image does not divide by zero.
  EXPECT_TRUE(torch::isfinite(make_normalizer("meanstd")->forward(torch::ones({1, 3, 3})).value)
                  .all()
                  .item<bool>());
}

TEST(DataNormalize, DatasetScaleFitsOnlyOnWhatFitGets) {
  auto n = make_normalizer("dataset_scale");
  n->fit({torch::full({1, 2, 2}, 1.0), torch::tensor({0.f, 2.f}).reshape({1, 1, 2})});
  const auto test_image = torch::tensor({0.f, 10.f}).reshape({1, 1, 2});
  // Scaled by the training maximum (2), not by the test image's own range.
  EXPECT_TRUE(torch::allclose(n->forward(test_image).value, test_image / 2));
  EXPECT_EQ(n->to_json()["scale_value"].get<double>(), 2.0);
  EXPECT_TRUE(
      torch::allclose(n->inverse(torch::ones({1}), n->dataset_stats()), torch::full({1}, 2.0)));
  auto off = make_normalizer("dataset_scale", Json{{"offset", true}});
  off->fit({torch::tensor({-1.f, 3.f})});
  EXPECT_TRUE(torch::allclose(off->forward(torch::tensor({-1.f, 1.f, 3.f})).value,
                              torch::tensor({0.f, 0.5f, 1.f})));
  auto ms = make_normalizer("dataset_meanstd");
  ms->fit({torch::tensor({1.f, 3.f}), torch::tensor({1.f, 3.f})});
  EXPECT_TRUE(
      torch::allclose(ms->forward(torch::tensor({2.f, 4.f})).value, torch::tensor({0.f, 2.f})));
  EXPECT_THROW(make_normalizer("minmax")->dataset_stats(), ConfigError);
}

TEST(DataNormalize, RegistryErrorsNameTheProblem) {
  try {
    make_normalizer("zscore");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("minmax"), std::string::npos) << e.what();
  }
  try {
    make_normalizer("log", Json{{"epsilon", 1}});
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("epsilon"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_normalizer("log", Json{{"eps", -1}}), ConfigError);
  EXPECT_THROW(make_normalizer("minmax")->fit({}), ConfigError);
}
