// End-to-end tests of the conv-to-multislice translation workflow on generated pairs
// (and on the real pairs of ../shared/data when present).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <regex>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/data/split.h"
#include "emgan/io/image.h"
#include "emgan/models/model.h"
#include "emgan/workflows/demo.h"
#include "emgan/workflows/translate.h"
#include "test_util.h"

namespace fs = std::filesystem;
using emgan::workflows::TranslateSettings;

namespace {

TranslateSettings small_settings(const fs::path& data, const fs::path& out, const std::string& model) {
  TranslateSettings s;
  s.data = data.string();
  s.out = out.string();
  s.model = model;
  s.folds = 3;
  s.panels = 1;
  s.runtime.device = "cpu";
  s.runtime.threads = 1;
  auto& p = s.pix2pix;
  p.preset = "";
  p.generator = "unet";
  p.generator_options = emgan::Json{{"depth", 3}, {"ngf", 4}, {"norm", "instance"}, {"dropout", 0.0},
                                    {"output_activation", "none"}};
  p.discriminator = "patchgan";
  p.discriminator_options = emgan::Json{{"ndf", 4}, {"n_layers", 2}, {"norm", "instance"}};
  p.epochs = 2;
  p.crop = 32;
  p.batch_size = 2;
  p.crops_per_image = 1;
  return s;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  return lines;
}

}  // namespace

TEST(Translate, CvOnGeneratedPairsWritesCsvReportAndDisjointFolds) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 6, 40, 56, 1);
  // poly; pix2pix's default (adversarial weight 0: no discriminator); the pix2pix GAN.
  for (const std::string model : {"poly", "pix2pix", "pix2pix-gan"}) {
    auto s = small_settings(dir / "data", dir / model, model == "poly" ? "poly" : "pix2pix");
    if (model == "pix2pix-gan") s.pix2pix.lambda_gan = 1.0;
    const auto summary = emgan::workflows::run_cv(s);
    EXPECT_EQ(summary.rows.size(), 6u) << model;
    EXPECT_TRUE(std::regex_match(summary.last_line(),
                                 std::regex(R"(mean_frac_rmse=[0-9.]+ mean_ssim=-?[0-9.]+ folds=3 images=6)")))
        << summary.last_line();
    const auto lines = read_lines(dir / model / "cv.csv");
    ASSERT_EQ(lines.size(), 7u);
    EXPECT_EQ(lines[0].rfind("fold,material,id,frac_rmse,ssim,psnr", 0), 0u) << lines[0];
    EXPECT_TRUE(fs::exists(dir / model / "index.html"));
    EXPECT_TRUE(fs::exists(dir / model / "config.json"));
    EXPECT_TRUE(fs::exists(dir / model / "fold_0" / "panels.png"));
    // Every image is tested exactly once, and never in its own training set.
    auto split = emgan::data::load_split(dir / model);
    std::set<std::string> seen;
    for (int f = 0; f < split.k; ++f) {
      for (const auto& item : split.test_items(f)) {
        EXPECT_TRUE(seen.insert(item.key()).second) << item.key() << " in two test folds";
        for (const auto& tr : split.train_items(f)) EXPECT_FALSE(tr == item) << item.key();
      }
    }
    EXPECT_EQ(seen.size(), 6u);
  }
  EXPECT_TRUE(fs::exists(dir / "pix2pix" / "fold_0" / "eval.csv"));
  EXPECT_TRUE(fs::exists(dir / "pix2pix" / "error_per_epoch.png"));
  // The discriminator is trained (its loss logged) only with an adversarial weight.
  const auto header = [&](const std::string& run) { return read_lines(dir / run / "fold_0" / "metrics.csv").at(0); };
  EXPECT_EQ(header("pix2pix").find("loss_d"), std::string::npos) << header("pix2pix");
  EXPECT_NE(header("pix2pix-gan").find("loss_d"), std::string::npos) << header("pix2pix-gan");
}

TEST(Translate, FoldsAreReproducibleWithTheSeed) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 6, 40, 48, 2);
  auto a = small_settings(dir / "data", dir / "a", "poly");
  auto b = small_settings(dir / "data", dir / "b", "poly");
  emgan::workflows::run_cv(a);
  emgan::workflows::run_cv(b);
  EXPECT_EQ(emgan::data::load_split(dir / "a").to_json(), emgan::data::load_split(dir / "b").to_json());
  EXPECT_EQ(read_lines(dir / "a" / "cv.csv"), read_lines(dir / "b" / "cv.csv"));
}

// The strict protocol cannot see a test image's target: scaling one target by 1000
// leaves every prediction unchanged (only the errors of that image change).
TEST(Translate, StrictProtocolPredictionIgnoresTestTargets) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "clean").string(), 6, 40, 48, 3);
  fs::copy(dir / "clean", dir / "corrupt", fs::copy_options::recursive);
  for (const std::string model : {"poly", "pix2pix"}) {
    auto s = small_settings(dir / "clean", dir / ("run_clean_" + model), model);
    emgan::workflows::run_cv(s);
    // Corrupt the target of one test image of fold 0 in the copy.
    auto split = emgan::data::load_split(dir / ("run_clean_" + model));
    const std::string id = split.test_items(0).front().id;
    const fs::path target = dir / "corrupt" / "synthetic" / "synthetic_multislice" / ("synthetic_" + id + "_cl160mm_ss.tif");
    ASSERT_TRUE(fs::exists(target));
    auto t = emgan::io::read_image(target).data;
    emgan::io::write_image(target, t * 1000.0);
    auto c = small_settings(dir / "corrupt", dir / ("run_corrupt_" + model), model);
    emgan::workflows::run_cv(c);
    const fs::path rel = fs::path("fold_0") / "predictions" / ("synthetic_" + id + ".tif");
    auto p_clean = emgan::io::read_image(dir / ("run_clean_" + model) / rel).data;
    auto p_corrupt = emgan::io::read_image(dir / ("run_corrupt_" + model) / rel).data;
    EXPECT_TRUE(torch::equal(p_clean, p_corrupt)) << model << ": the prediction of " << id << " changed";
  }
}

TEST(Translate, PredictWritesFullSizeTiffs) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 4, 40, 60, 4);
  auto s = small_settings(dir / "data", dir / "run", "pix2pix");
  s.folds = 2;
  emgan::workflows::run_train(s);
  emgan::workflows::PredictSettings p;
  p.model = {(dir / "run" / "model").string()};
  p.input = (dir / "data" / "synthetic" / "synthetic_convolution").string();
  p.output = (dir / "pred").string();
  p.runtime.threads = 1;
  EXPECT_EQ(emgan::workflows::run_predict(p), 4);
  auto in = emgan::io::read_image(dir / "data" / "synthetic" / "synthetic_convolution" / "synthetic_convolution_0.txt").data;
  auto out = emgan::io::read_image(dir / "pred" / "synthetic_convolution_0.tif").data;
  EXPECT_EQ(in.sizes(), out.sizes());
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_TRUE(fs::exists(dir / "pred" / "synthetic_convolution_0.png"));
}

// A model fitted on two materials has per-material units (target scale, polynomial
// gain): `translate predict` must be told the material, uses exactly that material's
// fit, and averages several models when given more than one.
TEST(Translate, PredictUsesTheNamedMaterialAndAveragesSeveralModels) {
  const auto dir = emgan::test::temp_dir();
  // Two materials whose multislice units differ by a factor of 3.
  for (const auto& [material, seed] : std::vector<std::pair<std::string, uint64_t>>{{"matA", 11}, {"matB", 12}}) {
    emgan::workflows::write_synthetic_pairs((dir / ("gen_" + material)).string(), 4, 40, 48, seed);
    fs::create_directories(dir / "data");
    fs::rename(dir / ("gen_" + material) / "synthetic", dir / "data" / material);
  }
  for (const auto& e : fs::directory_iterator(dir / "data" / "matB" / "synthetic_multislice")) {
    auto t = emgan::io::read_image(e.path()).data;
    emgan::io::write_image(e.path(), t * 3.0);
  }
  auto poly = small_settings(dir / "data", dir / "poly", "poly");
  emgan::workflows::run_train(poly);
  auto pix = small_settings(dir / "data", dir / "pix", "pix2pix");
  emgan::workflows::run_train(pix);
  const fs::path input = dir / "data" / "matB" / "synthetic_convolution" / "synthetic_convolution_1.txt";
  const auto x = emgan::io::read_image(input).data;
  auto predict = [&](std::vector<std::string> models, const std::string& material, const std::string& name) {
    emgan::workflows::PredictSettings p;
    p.model = std::move(models);
    p.input = input.string();
    p.output = (dir / name).string();
    p.material = material;
    p.png = false;
    p.runtime.threads = 1;
    EXPECT_EQ(emgan::workflows::run_predict(p), 1);
    return emgan::io::read_image(dir / name / "synthetic_convolution_1.tif").data;
  };
  const std::string poly_model = (dir / "poly" / "model").string(), pix_model = (dir / "pix" / "model").string();
  auto poly_t = emgan::workflows::load_translator(poly_model, torch::kCPU);
  auto pix_t = emgan::workflows::load_translator(pix_model, torch::kCPU);
  EXPECT_EQ(poly_t->materials(), (std::vector<std::string>{"matA", "matB"}));
  EXPECT_EQ(pix_t->materials(), (std::vector<std::string>{"matA", "matB"}));
  EXPECT_EQ(poly_t->protocol(), "strict");

  // No material, or one the models do not know: refused, naming the model and the materials.
  for (const std::string material : {"", "matC"}) {
    try {
      predict({poly_model}, material, "refused");
      ADD_FAILURE() << "material '" << material << "' was accepted";
    } catch (const emgan::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(poly_model), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("matA, matB"), std::string::npos) << e.what();
    }
  }
  // The named material's fit, not the pooled one (they differ: the units differ 3x).
  const auto b = predict({poly_model}, "matB", "poly_b");
  EXPECT_TRUE(torch::allclose(b, poly_t->predict(x, "matB"), 1e-5, 1e-7));
  const auto pooled = predict({poly_model}, "pooled", "poly_pooled");
  EXPECT_TRUE(torch::allclose(pooled, poly_t->predict(x, ""), 1e-5, 1e-7));
  EXPECT_GT((b - pooled).abs().max().item<double>(), 1e-3 * b.abs().max().item<double>());
  // Two models: the mean of their predictions.
  const auto both = predict({poly_model, pix_model}, "matB", "both");
  const auto expected = (poly_t->predict(x, "matB") + pix_t->predict(x, "matB")) / 2.0;
  EXPECT_TRUE(torch::allclose(both, expected, 1e-4, 1e-6)) << (both - expected).abs().max().item<double>();
  // Models trained under different protocols (units) are not averaged.
  auto paper = small_settings(dir / "data", dir / "poly_paper", "poly");
  paper.protocol = "paper";
  emgan::workflows::run_train(paper);
  EXPECT_THROW(predict({poly_model, (dir / "poly_paper" / "model").string()}, "matB", "mixed"),
               emgan::ConfigError);
}

TEST(Translate, BadInputNamesTheFile) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 4, 40, 48, 5);
  const fs::path conv = dir / "data" / "synthetic" / "synthetic_convolution";
  const fs::path ms = dir / "data" / "synthetic" / "synthetic_multislice";
  auto expect_error = [&](const std::string& what, const std::string& needle) {
    auto s = small_settings(dir / "data", dir / "run", "poly");
    try {
      emgan::workflows::run_cv(s);
      ADD_FAILURE() << what << ": no error";
    } catch (const emgan::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << what << ": " << e.what();
    }
  };
  // An input without its target.
  fs::copy_file(conv / "synthetic_convolution_0.txt", conv / "synthetic_convolution_9.txt");
  expect_error("unpaired input", "synthetic_convolution_9.txt");
  fs::remove(conv / "synthetic_convolution_9.txt");
  // Mismatched shapes.
  const auto saved = emgan::io::read_image(ms / "synthetic_1_cl160mm_ss.tif").data;
  emgan::io::write_image(ms / "synthetic_1_cl160mm_ss.tif", torch::ones({1, 20, 20}));
  expect_error("shape mismatch", "synthetic_1_cl160mm_ss.tif");
  // NaN in an image.
  auto nan = saved.clone();
  nan[0][3][3] = std::nanf("");
  emgan::io::write_image(ms / "synthetic_1_cl160mm_ss.tif", nan);
  expect_error("NaN", "synthetic_1_cl160mm_ss.tif");
  emgan::io::write_image(ms / "synthetic_1_cl160mm_ss.tif", saved);
  // A folder with no pairs.
  fs::create_directories(dir / "empty");
  auto s = small_settings(dir / "empty", dir / "run2", "poly");
  EXPECT_THROW(emgan::workflows::run_cv(s), emgan::Error);
  // A model file of another kind: a bare generator file, or any JSON.
  auto g = emgan::models::make_generator("unet", emgan::Json{{"depth", 2}, {"ngf", 2}});
  emgan::models::save_model(*g, dir / "g.pt");
  try {
    emgan::workflows::load_translator(dir / "g.pt", torch::kCPU);
    ADD_FAILURE() << "a generator file loaded as a translation model";
  } catch (const emgan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("g.pt"), std::string::npos) << e.what();
  }
  emgan::save_json_file(dir / "other.json", emgan::Json{{"format", "emgan-segment"}});
  try {
    emgan::workflows::load_translator(dir / "other.json", torch::kCPU);
    ADD_FAILURE() << "a model of another workflow loaded";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("other.json"), std::string::npos) << e.what();
  }
}

TEST(Translate, RejectsBadSettings) {
  TranslateSettings s;
  s.data = "x";
  s.model = "cnn";
  EXPECT_THROW(emgan::workflows::validate(s), emgan::ConfigError);
  s.model = "poly";
  s.folds = 1;
  EXPECT_THROW(emgan::workflows::validate(s), emgan::ConfigError);
  s.folds = 5;
  s.protocol = "leaky";
  EXPECT_THROW(emgan::workflows::validate(s), emgan::ConfigError);
}

// Automatic learning rate and beta1 (-1): regression 5e-4 / 0.9, with the adversarial
// term the pix2pix recipe's 2e-4 / 0.5; values given explicitly are kept, bad ones refused.
TEST(Translate, AutomaticLearningRateFollowsTheAdversarialWeight) {
  TranslateSettings s;
  s.data = "x";
  auto r = emgan::workflows::resolve_automatic(s);
  EXPECT_DOUBLE_EQ(r.pix2pix.lr, 5e-4);
  EXPECT_DOUBLE_EQ(r.pix2pix.beta1, 0.9);
  s.pix2pix.lambda_gan = 1.0;
  r = emgan::workflows::resolve_automatic(s);
  EXPECT_DOUBLE_EQ(r.pix2pix.lr, 2e-4);
  EXPECT_DOUBLE_EQ(r.pix2pix.beta1, 0.5);
  s.pix2pix.lr = 1e-3;
  s.pix2pix.beta1 = 0.8;
  r = emgan::workflows::resolve_automatic(s);
  EXPECT_DOUBLE_EQ(r.pix2pix.lr, 1e-3);
  EXPECT_DOUBLE_EQ(r.pix2pix.beta1, 0.8);
  EXPECT_NO_THROW(emgan::workflows::validate(s));
  s.pix2pix.beta1 = 1.0;
  EXPECT_THROW(emgan::workflows::validate(s), emgan::ConfigError);
  s.pix2pix.beta1 = -1.0;
  s.pix2pix.lr = 0.0;
  EXPECT_THROW(emgan::workflows::validate(s), emgan::ConfigError);
}

// An ensemble of cv runs averages the members' predictions image by image and scores
// the average; an ensemble of a run with itself gives that run's figures; runs on other
// folds, or covering the images unevenly, are refused.
TEST(Translate, EnsembleAveragesTheMembersPredictions) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 6, 40, 56, 1);
  auto a = small_settings(dir / "data", dir / "a", "poly");
  a.poly = emgan::Json{{"window", 1}, {"degree", 1}};
  auto b = small_settings(dir / "data", dir / "b", "poly");
  b.poly = emgan::Json{{"window", 3}, {"degree", 2}};
  const auto sa = emgan::workflows::run_cv(a);
  const auto sb = emgan::workflows::run_cv(b);

  emgan::workflows::EnsembleSettings e;
  e.runs = {a.out, b.out};
  e.out = (dir / "ab").string();
  const auto se = emgan::workflows::run_ensemble(e);
  ASSERT_EQ(se.rows.size(), 6u);
  EXPECT_TRUE(fs::exists(dir / "ab" / "index.html"));
  EXPECT_EQ(read_lines(dir / "ab" / "cv.csv").size(), 7u);
  for (const auto& r : se.rows) {
    const std::string name = r.material + "_" + r.id + ".tif";
    const fs::path fold = "fold_" + std::to_string(r.fold);
    const auto pa = emgan::io::read_image(dir / "a" / fold / "predictions" / name).data;
    const auto pb = emgan::io::read_image(dir / "b" / fold / "predictions" / name).data;
    const auto pe = emgan::io::read_image(dir / "ab" / fold / "predictions" / name).data;
    EXPECT_TRUE(torch::allclose(pe, (pa + pb) / 2, 1e-5, 1e-7)) << name;
  }
  // The two members differ, so the average is not either of them.
  EXPECT_NE(sa.mean_frac_rmse, sb.mean_frac_rmse);
  EXPECT_NE(se.mean_frac_rmse, sa.mean_frac_rmse);

  // A run averaged with itself reproduces its own figures.
  e.runs = {a.out, a.out};
  e.out = (dir / "aa").string();
  const auto saa = emgan::workflows::run_ensemble(e);
  EXPECT_NEAR(saa.mean_frac_rmse, sa.mean_frac_rmse, 1e-4);
  EXPECT_NEAR(saa.worst_fold_frac_rmse, sa.worst_fold_frac_rmse, 1e-4);

  // Other folds (another seed): refused, naming the setting.
  auto c = small_settings(dir / "data", dir / "c", "poly");
  c.runtime.seed = 7;
  emgan::workflows::run_cv(c);
  e.runs = {a.out, c.out};
  e.out = (dir / "ac").string();
  try {
    emgan::workflows::run_ensemble(e);
    ADD_FAILURE() << "runs with other folds were accepted";
  } catch (const emgan::ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("seed"), std::string::npos) << err.what();
  }
  // One fold of a member only: the images are covered unevenly.
  auto d = small_settings(dir / "data", dir / "d", "poly");
  d.only_fold = 1;
  emgan::workflows::run_cv(d);
  e.runs = {a.out, b.out, d.out};
  EXPECT_THROW(emgan::workflows::run_ensemble(e), emgan::ConfigError);
  e.runs = {a.out};
  EXPECT_THROW(emgan::workflows::run_ensemble(e), emgan::ConfigError);
}

// The polynomial baseline on the real pairs, 5 folds, strict protocol (~20 s).
TEST(Translate, PolyOnRealPairs) {
  EMGAN_REQUIRE_SHARED("stem-conv2multislice");
  const auto dir = emgan::test::temp_dir();
  TranslateSettings s;
  s.data = (emgan::test::shared_data() / "stem-conv2multislice").string();
  s.out = (dir / "poly").string();
  s.model = "poly";
  s.runtime.threads = 1;
  const auto summary = emgan::workflows::run_cv(s);
  EXPECT_EQ(summary.rows.size(), 40u);
  // A sanity bound (measured 18.6 %); a broken pipeline is far above it.
  EXPECT_LT(summary.mean_frac_rmse, 25.0);
  EXPECT_GT(summary.mean_ssim, 0.9);
}

// Nested tuning: the grid is scored on inner folds of the outer training images
// only; every outer test image is tested once.
TEST(Translate, TuneIsNestedAndTestsEveryImageOnce) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 6, 40, 48, 6);
  emgan::workflows::TuneSettings t;
  t.base = small_settings(dir / "data", dir / "tune", "pix2pix");
  t.base.pix2pix.epochs = 1;
  t.lr = {1e-3, 1e-4};
  t.batch_size = {2};
  t.optimizer = {"adam"};
  t.rec_loss = {"l1"};
  t.inner_folds = 2;
  const auto summary = emgan::workflows::run_tune(t);
  EXPECT_EQ(summary.rows.size(), 6u);
  const auto tune_rows = read_lines(dir / "tune" / "tune.csv");
  EXPECT_EQ(tune_rows.size(), 1u + 3u * 2u) << "one row per (outer fold, grid point)";
  EXPECT_TRUE(fs::exists(dir / "tune" / "index.html"));
  // The inner splits never contain the outer test images.
  auto outer = emgan::data::load_split(dir / "tune");
  for (int f = 0; f < outer.k; ++f) {
    auto inner = emgan::data::nested_split(outer, f, 2);
    for (const auto& item : inner.all_items())
      for (const auto& test : outer.test_items(f)) EXPECT_FALSE(item == test) << item.key();
  }
  t.base.model = "poly";
  EXPECT_THROW(emgan::workflows::run_tune(t), emgan::ConfigError);
}

// Test-time augmentation averages over the 8 flips/rotations, so a model without the
// (position-dependent) polynomial base predicts a rotated or flipped square image as
// the rotated or flipped prediction; the option is saved with the model. The EMA run
// logs the raw weights' and the single-pass error beside the main one.
TEST(Translate, TtaPredictionIsFlipRotationEquivariantAndSaved) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 6, 40, 48, 5);
  auto s = small_settings(dir / "data", dir / "run", "pix2pix");
  s.pix2pix.base = "none";
  s.pix2pix.tta = true;
  s.pix2pix.ema = 0.9;
  s.pix2pix.eval_every = 1;
  s.only_fold = 0;
  emgan::workflows::run_cv(s);
  const auto header = read_lines(dir / "run" / "fold_0" / "eval.csv").at(0);
  for (const std::string col : {"test_frac_rmse", "test_frac_rmse_raw", "test_frac_rmse_single"})
    EXPECT_NE(header.find(col), std::string::npos) << header;

  auto t = emgan::workflows::load_translator(dir / "run" / "fold_0" / "model", torch::kCPU);
  auto x = emgan::io::read_image(dir / "data" / "synthetic" / "synthetic_convolution" / "synthetic_convolution_0.txt")
               .data.to(torch::kFloat32);
  x = x.slice(-2, 0, 32).slice(-1, 0, 32).contiguous();  // square, a multiple of the U-Net's stride
  auto y = t->predict(x, "synthetic");
  for (int64_t k = 1; k < 4; ++k) {
    auto yr = t->predict(torch::rot90(x, k, {-2, -1}).contiguous(), "synthetic");
    EXPECT_TRUE(torch::allclose(yr, torch::rot90(y, k, {-2, -1}), 1e-4, 1e-5)) << "rotation " << k;
  }
  auto yf = t->predict(x.flip({-1}).contiguous(), "synthetic");
  EXPECT_TRUE(torch::allclose(yf, y.flip({-1}), 1e-4, 1e-5));
}

// norm_stats "batch" normalises by the image's own statistics and leaves the running
// averages untouched (the same prediction twice, and unlike "running").
TEST(Translate, BatchNormStatsAtPredictionKeepRunningAverages) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 4, 40, 48, 6);
  auto s = small_settings(dir / "data", dir / "run", "pix2pix");
  s.pix2pix.generator_options["norm"] = "batch";
  s.pix2pix.norm_stats = "batch";
  emgan::workflows::run_train(s);
  auto batch = emgan::workflows::load_translator(dir / "run" / "model", torch::kCPU);
  auto x = emgan::io::read_image(dir / "data" / "synthetic" / "synthetic_convolution" / "synthetic_convolution_1.txt")
               .data.to(torch::kFloat32);
  auto a = batch->predict(x, "synthetic");
  auto b = batch->predict(x, "synthetic");
  EXPECT_TRUE(torch::equal(a, b));
  // The same weights with the running averages.
  auto json = emgan::load_json_file(dir / "run" / "model" / "model.json");
  json["norm_stats"] = "running";
  emgan::save_json_file(dir / "run" / "model" / "model.json", json);
  auto running = emgan::workflows::load_translator(dir / "run" / "model", torch::kCPU);
  EXPECT_GT((running->predict(x, "synthetic") - a).abs().max().item<double>(), 1e-6);
  s.pix2pix.norm_stats = "median";
  EXPECT_THROW(emgan::workflows::validate(s), emgan::ConfigError);
}

// `translate predict --tta on|off|model` overrides the averaging saved with the model.
TEST(Translate, PredictTtaOverride) {
  const auto dir = emgan::test::temp_dir();
  emgan::workflows::write_synthetic_pairs((dir / "data").string(), 4, 40, 48, 7);
  auto s = small_settings(dir / "data", dir / "run", "pix2pix");
  s.pix2pix.tta = true;
  emgan::workflows::run_train(s);
  auto predict = [&](const std::string& tta) {
    emgan::workflows::PredictSettings p;
    p.model = {(dir / "run" / "model").string()};
    p.input = (dir / "data" / "synthetic" / "synthetic_convolution" / "synthetic_convolution_2.txt").string();
    p.output = (dir / ("pred_" + tta)).string();
    p.png = false;
    p.tta = tta;
    p.runtime.threads = 1;
    emgan::workflows::run_predict(p);
    return emgan::io::read_image(dir / ("pred_" + tta) / "synthetic_convolution_2.tif").data;
  };
  const auto saved = predict("model"), on = predict("on"), off = predict("off");
  EXPECT_TRUE(torch::equal(saved, on));
  EXPECT_GT((on - off).abs().max().item<double>(), 1e-6);
  EXPECT_THROW(predict("sometimes"), emgan::ConfigError);
}
