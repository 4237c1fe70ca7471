// End to end on tiny phantoms through the CLI.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>

#include "emgan/core/config.h"
#include "emgan/models/model.h"
#include "test_util.h"

namespace {

using Run = emgan::test::CliRun;

Run run(const std::string& args) { return emgan::test::run_cli(args); }

}  // namespace

TEST(SegmentCli, PhantomRoughEvaluateAnalyze) {
  const auto dir = emgan::test::temp_dir();
  const auto ph = (dir / "ph").string();
  auto r = run("phantom particles --out " + ph + " --count 2 --size 128 --seed 3 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "ph/images/particles_001.tif"));
  EXPECT_TRUE(std::filesystem::exists(dir / "ph/masks/particles_001.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "ph/particles.csv"));

  r = run("segment rough --images " + ph + "/images --out " + (dir / "rough").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("segment evaluate --pred " + (dir / "rough").string() + " --truth " + ph + "/masks --out " +
          (dir / "scores.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto scores = emgan::load_json_file(dir / "scores.json");
  EXPECT_GT(scores.at("mean_iou").get<double>(), 0.6);

  // PSD of the true masks in nm (the phantom TIFFs carry 0.2 nm pixels).
  r = run("segment analyze --images " + ph + "/images --masks " + ph + "/masks --truth " + ph +
          "/particles.csv --out " + (dir / "psd").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("nm"), std::string::npos) << r.out;
  const auto sum = emgan::load_json_file(dir / "psd/summary.json");
  EXPECT_EQ(sum.at("unit").get<std::string>(), "nm");
  EXPECT_LT(std::abs(sum.at("mean_error_percent").get<double>()), 5.0);
  EXPECT_TRUE(std::filesystem::exists(dir / "psd/psd.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "psd/index.html"));
  // The size filter is on by default; true masks have no specks, so it changes (almost) nothing.
  EXPECT_GT(sum.at("min_area_px").get<double>(), 0.0);
  EXPECT_LE(sum.at("excluded_small").get<int64_t>(), 1);
  EXPECT_EQ(sum.at("max_area_px").get<double>(), 0.0);  // no maximum area by default
  r = run("segment analyze --masks " + ph + "/masks --out " + (dir / "psd_bad").string() +
          " --min-area-ratio 2 --threads 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("min_area_ratio 2"), std::string::npos) << r.out;

  // Mask statistics with the false-positive limits, and the rough masks cleaned at the fitted minimum area.
  r = run("segment stats --masks " + (dir / "rough").string() + " --out " + (dir / "stats.json").string() +
          " --clean " + (dir / "rough_clean").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto st = emgan::load_json_file(dir / "stats.json");
  EXPECT_GT(st.at("min_area_px").get<double>(), 0.0);
  EXPECT_GT(st.at("measured").get<int64_t>(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "rough_clean/particles_001.png"));
  r = run("segment stats --masks " + (dir / "rough").string() + " --out " + (dir / "bad.json").string() +
          " --min-area-ratio 2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("min_area_ratio 2"), std::string::npos) << r.out;

  // Bad input: a missing folder is a clear error, not a crash.
  r = run("segment rough --images " + (dir / "nope").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("nope"), std::string::npos) << r.out;
}

TEST(SegmentCli, WatchSkipsCorruptFilesAndKeepsGoing) {
  const auto dir = emgan::test::temp_dir();
  const auto ph = (dir / "ph").string();
  auto r = run("phantom particles --out " + ph + " --count 2 --size 96 --seed 8 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  std::filesystem::create_directories(dir / "incoming");
  std::filesystem::copy_file(dir / "ph/images/particles_000.tif", dir / "incoming/a.tif");
  { std::ofstream(dir / "incoming/b.tif") << "not a tiff"; }
  std::filesystem::copy_file(dir / "ph/images/particles_001.tif", dir / "incoming/c.tif");
  r = run("segment watch " + (dir / "incoming").string() + " --out " + (dir / "watch").string() +
          " --poll 0.05 --settle 0.1 --max-images 3 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("images=2 failed=1"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "watch/errors.log"));
  EXPECT_TRUE(std::filesystem::exists(dir / "watch/latency.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir / "watch/particles.csv"));
  // The running PSD's size filter (on by default) reports its limits and what it left out.
  const auto ws = emgan::load_json_file(dir / "watch/summary.json");
  EXPECT_GT(ws.at("min_area_px").get<double>(), 0.0);
  EXPECT_GE(ws.at("excluded_small").get<int64_t>(), 0);
}

TEST(SegmentCli, TinyPipelineThenPredict) {
  const auto dir = emgan::test::temp_dir();
  const auto ph = (dir / "ph").string();
  auto r = run("phantom particles --out " + ph + " --count 2 --size 64 --seed 5 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto runp = (dir / "run").string();
  r = run("segment pipeline --images " + ph + "/images --out " + runp +
          " --random-masks 2 --mask-size 64 --gan-epochs 1 --gan-crop 32 --gan-ngf 8 --epochs 1 --crop 32"
          " --batch-size 2 --encoder resnet18 --depth 3 --width 8 --contrast-epochs 1 --contrast-steps 2"
          " --contrast-crop 32 --contrast-ngf 4 --contrast-blocks 1 --match-labels --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "run/stats.json"));
  // --match-labels: the offset measured on the generated images and the redrawn labels.
  EXPECT_TRUE(std::filesystem::exists(dir / "run/random_masks/ellipses.json"));
  const auto offset = emgan::load_json_file(dir / "run/label_offset.json");
  EXPECT_GE(offset.at("particles").get<int64_t>(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/labels/mask_0001.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/rough_clean/particles_000.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/random_masks/mask_0001.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/morphology_gan/generated/mask_0001.tif"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/contrast_gan/generated/mask_0001.tif"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/segmenter/model.pt"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/index.html"));
  // Step 6: the threshold calibrated on the real images is stored in the model's meta.
  const auto cal = emgan::load_json_file(dir / "run/threshold_calibration.json");
  const double t = cal.at("threshold").get<double>();
  EXPECT_GE(t, 0.2);
  EXPECT_LE(t, 0.8);
  EXPECT_DOUBLE_EQ(emgan::models::read_model_info(dir / "run/segmenter/model.pt").meta.at("threshold").get<double>(), t);
  r = run("segment calibrate --model " + runp + "/segmenter/model.pt --images " + ph + "/images --masks " + runp +
          "/rough_clean --tta-views 1 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"threshold\""), std::string::npos) << r.out;
  r = run("segment calibrate --model " + runp + "/segmenter/model.pt --images " + ph + "/images --masks " +
          (dir / "nothing").string() + " --threads 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("nothing"), std::string::npos) << r.out;
  r = run("segment predict --model " + runp + "/segmenter/model.pt --input " + ph + "/images --output " +
          (dir / "pred").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "pred/particles_000.png"));
}
