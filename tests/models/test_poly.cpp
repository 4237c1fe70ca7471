// Tests of the polynomial baseline (emgan/models/poly.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "emgan/core/error.h"
#include "emgan/models/poly.h"
#include "test_util.h"

namespace em = emgan::models;

namespace {

/// Random positive images of varying odd/even sizes (values 0.2 .. 1.2).
std::vector<torch::Tensor> random_images(int n, int64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> out;
  for (int i = 0; i < n; ++i) {
    const int64_t h = 11 + 3 * i, w = 13 + 2 * i;
    out.push_back(torch::rand({h, w}, torch::kDouble) + 0.2);
  }
  return out;
}

/// y = a + b*x[i,j] + c*x[i,j-1]^2 + d*x[i,j]^3 with reflection at the left border
/// (x[i,-1] = x[i,1]), computed by plain loops: an implementation independent of
/// PolyRegression::features.
torch::Tensor known_polynomial(const torch::Tensor& x, double a, double b, double c, double d) {
  auto xa = x.accessor<double, 2>();
  torch::Tensor y = torch::empty_like(x);
  auto ya = y.accessor<double, 2>();
  for (int64_t i = 0; i < x.size(0); ++i)
    for (int64_t j = 0; j < x.size(1); ++j) {
      const double left = xa[i][j == 0 ? 1 : j - 1];
      ya[i][j] = a + b * xa[i][j] + c * left * left + d * std::pow(xa[i][j], 3);
    }
  return y;
}

double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max() / b.to(torch::kDouble).abs().max())
      .item<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const emgan::ConfigError& e) {
    return e.what();
  }
  return "no ConfigError";
}

}  // namespace

TEST(PolyRegression, RecoversKnownPolynomialExactly) {
  const auto xs = random_images(4, 1);
  std::vector<torch::Tensor> ys;
  const double a = 0.3, b = -1.7, c = 2.5, d = 0.8;
  for (const auto& x : xs) ys.push_back(known_polynomial(x, a, b, c, d));
  em::PolyRegression model(em::PolyOptions().window(3).degree(3).normalization("none").scale_output(false));
  model.fit(xs, ys);
  ASSERT_EQ(model.num_features(), 3 * 9 + 1);
  EXPECT_FALSE(model.ridge_used());
  // Column order: powers 1..3 of the 9 window pixels (row-major), then the intercept.
  // Centre = window index 4, left neighbour = index 3.
  torch::Tensor expected = torch::zeros({28}, torch::kDouble);
  expected[4] = b;
  expected[9 + 3] = c;
  expected[18 + 4] = d;
  expected[27] = a;
  EXPECT_LT((model.coefficients() - expected).abs().max().item<double>(), 1e-6);
  torch::manual_seed(7);
  const torch::Tensor test = torch::rand({9, 12}, torch::kDouble) + 0.2;
  EXPECT_LT(max_rel_diff(model.predict(test), known_polynomial(test, a, b, c, d)), 1e-6);
}

TEST(PolyRegression, RecoversPolynomialUnderGlobalNormalizations) {
  // A polynomial of x is a polynomial of x / s of the same degree for one global s.
  const auto xs = random_images(3, 2);
  std::vector<torch::Tensor> ys;
  for (const auto& x : xs) ys.push_back(known_polynomial(x, 0.1, 0.5, -0.4, 1.2));
  torch::manual_seed(8);
  const torch::Tensor test = torch::rand({10, 7}, torch::kDouble) + 0.2;
  const torch::Tensor truth = known_polynomial(test, 0.1, 0.5, -0.4, 1.2);
  for (const std::string norm : {"none", "dataset"}) {
    em::PolyRegression model(em::PolyOptions().window(3).degree(3).normalization(norm).scale_output(false));
    model.fit(xs, ys);
    EXPECT_LT(max_rel_diff(model.predict(test), truth), 1e-6) << norm;
  }
}

TEST(PolyRegression, PerImageNormalizationsMatchTheirDefinition) {
  // Targets defined on the normalised image u (computed here independently): the fit
  // is exact only if the model normalises each image exactly so.
  auto normalised = [](const torch::Tensor& x, const std::string& norm) {
    const double mean = x.mean().item<double>(), mx = x.max().item<double>(), mn = x.min().item<double>();
    const double sd = std::sqrt(((x - mean) * (x - mean)).mean().item<double>());
    if (norm == "max") return x / mx;
    if (norm == "mean") return x / mean;
    if (norm == "std") return x / sd;
    if (norm == "meanstd") return (x - mean) / sd;
    return (x - mn) / (mx - mn);  // minmax
  };
  const auto xs = random_images(3, 12);
  torch::manual_seed(13);
  const torch::Tensor test = 5.0 * torch::rand({8, 9}, torch::kDouble) + 0.5;
  for (const std::string norm : {"max", "mean", "std", "meanstd", "minmax"}) {
    std::vector<torch::Tensor> ys;
    for (const auto& x : xs) ys.push_back(known_polynomial(normalised(x, norm), 0.2, 0.9, -0.3, 0.05));
    em::PolyRegression model(em::PolyOptions().window(3).degree(3).normalization(norm).scale_output(false));
    model.fit(xs, ys);
    const torch::Tensor truth = known_polynomial(normalised(test, norm), 0.2, 0.9, -0.3, 0.05);
    EXPECT_LT(max_rel_diff(model.predict(test), truth), 1e-6) << norm;
  }
}

TEST(PolyRegression, ScaleOutputRecoversScaledPolynomial) {
  // y = s * (0.2 + 0.9 (x/s) - 0.3 (x/s)^2), s = max of the image: exact with "max".
  const auto xs = random_images(3, 3);
  auto target = [](const torch::Tensor& x) {
    const double s = x.max().item<double>();
    const torch::Tensor u = x / s;
    return s * (0.2 + 0.9 * u - 0.3 * u * u);
  };
  std::vector<torch::Tensor> ys;
  for (const auto& x : xs) ys.push_back(target(x));
  em::PolyRegression model(em::PolyOptions().window(1).degree(2).normalization("max").scale_output(true));
  model.fit(xs, ys);
  const torch::Tensor test = 3.0 * xs[0].flip(0);
  EXPECT_LT(max_rel_diff(model.predict(test), target(test)), 1e-6);
}

TEST(PolyRegression, PredictionHasTheInputSizeAndShape) {
  const auto xs = random_images(2, 4);
  std::vector<torch::Tensor> ys{xs[0] * 2, xs[1] * 2};
  for (const std::string cross : {"none", "centre", "near"}) {
    em::PolyRegression model(em::PolyOptions().window(7).degree(2).cross(cross));
    model.fit(xs, ys);
    for (const auto& size : std::vector<std::vector<int64_t>>{{5, 9}, {1, 7, 3}, {1, 1}, {2, 3}, {1, 13, 11}}) {
      const torch::Tensor in = torch::rand(size, torch::kFloat) + 0.1;
      const torch::Tensor out = model.predict(in);
      EXPECT_EQ(out.sizes(), in.sizes()) << cross;
      EXPECT_EQ(out.scalar_type(), torch::kFloat);
      EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
    }
  }
}

TEST(PolyRegression, FeatureCountsMatchTheDocumentedLayout) {
  EXPECT_EQ(em::PolyRegression(em::PolyOptions().window(5).degree(3)).num_features(), 76);
  EXPECT_EQ(em::PolyRegression(em::PolyOptions().window(5).degree(3).cross("centre")).num_features(), 100);
  EXPECT_EQ(em::PolyRegression(em::PolyOptions().window(5).degree(3).cross("near")).num_features(), 112);
  EXPECT_EQ(em::PolyRegression(em::PolyOptions().window(5).degree(3).cross("all")).num_features(), 376);
  EXPECT_EQ(em::PolyRegression(em::PolyOptions().window(3).degree(1).log_centre(true)).num_features(), 11);
  em::PolyRegression m(em::PolyOptions().window(3).degree(2).cross("all").log_centre(true));
  const torch::Tensor x = torch::rand({4, 5}, torch::kDouble) + 0.1;
  EXPECT_EQ(m.features(x).sizes(), (std::vector<int64_t>{20, m.num_features()}));
}

TEST(PolyRegression, SaveLoadRoundTripGivesIdenticalPredictions) {
  const auto xs = random_images(3, 5);
  std::vector<torch::Tensor> ys;
  for (const auto& x : xs) ys.push_back(0.05 * x.pow(2) + 0.01 * x.roll(1, 1));
  em::PolyRegression model(em::PolyOptions().window(5).degree(3).cross("centre").log_centre(true));
  model.fit(xs, ys, {"a", "b", "a"});
  const auto path = emgan::test::temp_dir() / "poly.json";
  model.save(path);
  const auto loaded = em::PolyRegression::load(path);
  EXPECT_EQ(em::poly_options_to_json(loaded.options()), em::poly_options_to_json(model.options()));
  EXPECT_TRUE(torch::equal(loaded.coefficients(), model.coefficients().cpu()));
  EXPECT_EQ(loaded.group_gains(), model.group_gains());
  const torch::Tensor test = torch::rand({1, 17, 15}) + 0.2;
  for (const std::string g : {"a", "b", ""}) EXPECT_TRUE(torch::equal(loaded.predict(test, g), model.predict(test, g)));
}

TEST(PolyRegression, LoadRejectsOtherFilesNamingThem) {
  const auto dir = emgan::test::temp_dir();
  std::ofstream(dir / "other.json") << R"({"format": "emgan-model", "version": 1})";
  std::ofstream(dir / "garbage.json") << "not json";
  for (const std::string name : {"other.json", "garbage.json"}) {
    try {
      em::PolyRegression::load(dir / name);
      ADD_FAILURE() << "no IoError for " << name;
    } catch (const emgan::IoError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(em::PolyRegression::load(dir / "missing.json"), emgan::IoError);
}

TEST(PolyRegression, NormalisationIsFittedOnlyOnTheTrainingImages) {
  auto xs = random_images(3, 6);
  std::vector<torch::Tensor> ys;
  for (const auto& x : xs) ys.push_back(0.1 * x);
  double train_max = 0.0;
  for (const auto& x : xs) train_max = std::max(train_max, x.max().item<double>());
  em::PolyRegression model(em::PolyOptions().window(3).degree(2).normalization("dataset").scale_output(false));
  model.fit(xs, ys, {"m1", "m2", "m1"});
  EXPECT_DOUBLE_EQ(model.dataset_scale(), train_max);
  // Group gains are ratios of training sums only.
  const double g1 = (ys[0].sum() + ys[2].sum()).item<double>() / (xs[0].sum() + xs[2].sum()).item<double>();
  EXPECT_NEAR(model.group_gains().at("m1"), g1, 1e-12);
  // Predicting an image far outside the training range changes nothing fitted.
  const auto before = model.to_json();
  const torch::Tensor big = 100.0 * xs[0];
  model.predict(big, "m1");
  EXPECT_EQ(model.to_json(), before);
  // The fitted map extrapolates exactly: y / gain = x (both gains are 0.1 here).
  EXPECT_LT(max_rel_diff(model.predict(big, "m1"), g1 * big), 1e-6);
}

TEST(PolyRegression, CorruptedTestTargetCannotChangeThePrediction) {
  // Leave-one-out as cross-validation does it: fit on the other pairs, predict the
  // held-out input. Corrupting the held-out target (even with NaN) must not change
  // its prediction; corrupting a training target must.
  auto xs = random_images(4, 9);
  std::vector<torch::Tensor> ys;
  for (const auto& x : xs) ys.push_back(0.02 + 0.05 * x + 0.01 * x.pow(3));
  const std::vector<std::string> groups{"p", "q", "p", "q"};
  auto predict_held_out = [&](const std::vector<torch::Tensor>& targets, size_t test) {
    std::vector<torch::Tensor> tx, ty;
    std::vector<std::string> tg;
    for (size_t i = 0; i < xs.size(); ++i)
      if (i != test) {
        tx.push_back(xs[i]);
        ty.push_back(targets[i]);
        tg.push_back(groups[i]);
      }
    em::PolyRegression model;  // defaults
    model.fit(tx, ty, tg);
    return model.predict(xs[test], groups[test]);
  };
  const torch::Tensor clean = predict_held_out(ys, 2);
  auto corrupted = ys;
  corrupted[2] = torch::full_like(ys[2], std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(torch::equal(predict_held_out(corrupted, 2), clean));
  corrupted[2] = ys[2] * 1000.0;
  EXPECT_TRUE(torch::equal(predict_held_out(corrupted, 2), clean));
  corrupted = ys;
  corrupted[0] = ys[0] * 3.0;
  EXPECT_FALSE(torch::allclose(predict_held_out(corrupted, 2), clean));
}

TEST(PolyRegression, BadOptionsThrowConfigErrorNamingTheValue) {
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().window(4)); }).find("window = 4"), std::string::npos);
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().window(9)); }).find("window = 9"), std::string::npos);
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().degree(0)); }).find("degree = 0"), std::string::npos);
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().normalization("zscore")); }).find("zscore"),
            std::string::npos);
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().cross("pairs")); }).find("pairs"), std::string::npos);
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().normalization("meanstd").scale_output(true)); })
                .find("meanstd"),
            std::string::npos);
  EXPECT_NE(error_of([] { em::PolyRegression(em::PolyOptions().window(7).cross("all")); }).find("window = 7"),
            std::string::npos);
  EXPECT_NE(error_of([] { em::poly_options_from_json({{"degree", 0}}, "cfg.json"); }).find("cfg.json"),
            std::string::npos);
  EXPECT_NE(error_of([] { em::poly_options_from_json({{"windw", 3}}, "cfg.json"); }).find("windw"),
            std::string::npos);
}

TEST(PolyRegression, BadDataThrowsNamingThePair) {
  em::PolyRegression model;
  auto xs = random_images(2, 10);
  std::vector<torch::Tensor> ys{xs[0].clone(), xs[1].clone()};
  EXPECT_NE(error_of([&] { model.fit(xs, {ys[0], ys[1].slice(0, 1)}); }).find("pair 1"), std::string::npos);
  EXPECT_NE(error_of([&] { model.fit(xs, {ys[0]}); }).find("1 targets"), std::string::npos);
  std::vector<torch::Tensor> nan{xs[0].clone(), xs[1].clone()};
  nan[1][0][0] = std::numeric_limits<double>::quiet_NaN();
  try {
    model.fit(nan, ys);
    ADD_FAILURE() << "no error for NaN input";
  } catch (const emgan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("pair 1: input"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.predict(xs[0]), emgan::Error);  // not fitted
  model.fit(xs, ys);
  EXPECT_THROW(model.predict(torch::zeros({4, 4})), emgan::Error);  // max = 0: no scale
  EXPECT_THROW(model.predict(torch::rand({2, 4, 4})), emgan::ConfigError);
}

TEST(PolyRegression, FitsOnTheGpuLikeOnTheCpu_CUDA) {
  const auto xs = random_images(3, 11);
  std::vector<torch::Tensor> ys, xg, yg;
  for (const auto& x : xs) ys.push_back(0.03 * x + 0.02 * x.pow(2));
  for (size_t i = 0; i < xs.size(); ++i) {
    xg.push_back(xs[i].cuda());
    yg.push_back(ys[i].cuda());
  }
  em::PolyRegression cpu, gpu;
  cpu.fit(xs, ys);
  gpu.fit(xg, yg);
  EXPECT_TRUE(gpu.coefficients().is_cuda());
  const torch::Tensor out = gpu.predict(xg[0]);
  EXPECT_TRUE(out.is_cuda());
  EXPECT_LT(max_rel_diff(out.cpu(), cpu.predict(xs[0])), 1e-6);
}
