// The stats workflow end to end (library and CLI) on generated data, and the real
// electrode volume when ../shared is present.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/micro/workflow.h"
#include "test_util.h"

namespace micro = emgan::micro;
namespace fs = std::filesystem;
using torch::indexing::Slice;

namespace {

using Run = emgan::test::CliRun;
using emgan::test::run_cli;

/// A 3-phase uint8 volume (values 0, 85, 170) of blobs, [1, D, H, W].
torch::Tensor blob_volume(int64_t side, uint64_t seed) {
  torch::manual_seed(seed);
  auto noise = torch::rand({1, 1, side, side, side});
  auto smooth = torch::avg_pool3d(noise, 5, 1, 2);
  auto flat = smooth.flatten();
  auto sorted = std::get<0>(flat.sort());
  const double t1 = sorted[static_cast<int64_t>(0.45 * flat.numel())].item<double>();
  const double t2 = sorted[static_cast<int64_t>(0.85 * flat.numel())].item<double>();
  auto labels = (smooth > t1).to(torch::kFloat) + (smooth > t2).to(torch::kFloat);
  return (labels * 85.0).squeeze(0);
}

}  // namespace

TEST(MicroWorkflow, StatsAndCompareThroughTheCli) {
  const auto dir = emgan::test::temp_dir();
  emgan::io::WriteOptions u8;
  u8.dtype = "uint8";
  emgan::io::write_image(dir / "a.tif", blob_volume(24, 1), u8);
  emgan::io::write_image(dir / "b.tif", blob_volume(24, 2), u8);
  const auto one = run_cli("micro stats " + (dir / "a.tif").string() + " --out " + (dir / "one").string() +
                           " --max-r 8 --threads 1");
  ASSERT_EQ(one.code, 0) << one.out;
  EXPECT_NE(one.out.find("fraction"), std::string::npos) << one.out;
  for (const char* f : {"stats.json", "stats.csv", "index.html", "config.json", "s2_phase0.png", "chords_phase2.png"})
    EXPECT_TRUE(fs::exists(dir / "one" / f)) << f;
  const auto j = emgan::load_json_file(dir / "one" / "stats.json");
  ASSERT_EQ(j["phases"].size(), 3u);
  EXPECT_NEAR(j["phases"][0]["fraction"].get<double>(), 0.45, 0.01);
  EXPECT_EQ(j["phases"][1]["value"].get<double>(), 85.0);

  const auto two = run_cli("micro stats " + (dir / "a.tif").string() + " --compare " + (dir / "b.tif").string() +
                           " --out " + (dir / "two").string() + " --max-r 8 --no-tortuosity --threads 1");
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_NE(two.out.find("difference"), std::string::npos) << two.out;
  for (const char* f : {"stats.json", "comparison.csv", "index.html", "fractions.png", "s2_phase1_axisz.png",
                        "chords_phase1_axisx.png"})
    EXPECT_TRUE(fs::exists(dir / "two" / f)) << f;
  const auto jc = emgan::load_json_file(dir / "two" / "stats.json");
  EXPECT_EQ(jc["differences"].size(), 3u);
  EXPECT_LT(jc["differences"][0]["fraction_abs_diff"].get<double>(), 0.01);
}

TEST(MicroWorkflow, BlocksSplitTheSampleAndReportTheSpread) {
  // split_blocks: every block is the labels of its region, the remainder is left out.
  const auto labels = torch::arange(20 * 17 * 16, torch::kLong).reshape({20, 17, 16});
  const auto parts = micro::split_blocks(labels, 2, "t");
  ASSERT_EQ(parts.size(), 8u);
  EXPECT_EQ(parts[0].first, "0:10,0:8,0:8");
  EXPECT_EQ(parts[1].first, "0:10,0:8,8:16");
  EXPECT_EQ(parts[7].first, "10:20,8:16,8:16");  // y: 17 = 2 x 8 + 1 left out
  for (const auto& [region, block] : parts)
    EXPECT_TRUE(torch::equal(block, micro::crop_region(labels, region))) << region;
  EXPECT_THROW(micro::split_blocks(labels, 3, "t"), emgan::ConfigError);  // 17 / 3 = 5 voxels < 8
  try {
    micro::split_blocks(torch::zeros({40, 12}, torch::kLong), 2, "small.tif");
    ADD_FAILURE() << "6-pixel blocks accepted";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("small.tif"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("would be 6 voxels long"), std::string::npos) << e.what();
  }

  // Through the CLI: a volume against itself has the same spread, difference 0.
  const auto dir = emgan::test::temp_dir();
  emgan::io::WriteOptions u8;
  u8.dtype = "uint8";
  emgan::io::write_image(dir / "a.tif", blob_volume(32, 3), u8);
  const auto r = run_cli("micro stats " + (dir / "a.tif").string() + " --compare " +
                         (dir / "a.tif").string() + " --blocks 2 --max-r 6 --no-tortuosity --out " +
                         (dir / "blocks").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f :
       {"blocks.json", "blocks.csv", "spread.csv", "index.html", "spread_phase0.png"})
    EXPECT_TRUE(fs::exists(dir / "blocks" / f)) << f;
  const auto j = emgan::load_json_file(dir / "blocks" / "blocks.json");
  ASSERT_EQ(j["input"]["blocks"].size(), 8u);
  // The spread's mean fraction is the mean over the blocks, each one the fraction of its region.
  const auto whole = micro::load_phases(dir / "a.tif").labels;
  double sum = 0.0;
  for (const auto& [region, block] : micro::split_blocks(whole, 2))
    sum += block.eq(1).to(torch::kDouble).mean().item<double>();
  for (const auto& s : j["input"]["spread"])
    if (s["phase"] == 1 && s["statistic"] == "fraction") {
      EXPECT_NEAR(s["mean"].get<double>(), sum / 8.0, 1e-9);
      EXPECT_GT(s["sd"].get<double>(), 0.0);
    }
  EXPECT_EQ(j["input"]["spread"], j["compare"]["spread"]);
  const auto bad = run_cli("micro stats " + (dir / "a.tif").string() + " --blocks 0 --out " +
                           (dir / "bad").string());
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("--blocks 0 must be >= 1"), std::string::npos) << bad.out;
}

TEST(MicroWorkflow, BadInputsAreNamed) {
  const auto dir = emgan::test::temp_dir();
  const auto missing = run_cli("micro stats " + (dir / "nope.tif").string() + " --out " + (dir / "o").string());
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.out.find("nope.tif"), std::string::npos) << missing.out;
  // An unsegmented grey image: refused with a hint, then thresholded with --phases.
  auto grey = torch::linspace(0, 255, 32 * 32).reshape({1, 32, 32});
  emgan::io::write_image(dir / "grey.tif", grey);
  const auto refused = run_cli("micro stats " + (dir / "grey.tif").string() + " --out " + (dir / "o").string());
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.out.find("grey.tif"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--phases"), std::string::npos) << refused.out;
  micro::StatsRunSettings s;
  s.input = (dir / "grey.tif").string();
  s.phases = 2;
  s.out = (dir / "grey").string();
  s.runtime.threads = 1;
  const auto r = micro::run_stats(s);
  ASSERT_EQ(r.stats.phases.size(), 2u);
  EXPECT_NEAR(r.stats.phases[0].fraction, 0.5, 0.02);
  s.region = "0:8,0:8,0:8";  // 3 ranges for a 2D image
  EXPECT_THROW(micro::run_stats(s), emgan::ConfigError);
}

TEST(MicroWorkflow, RealElectrodeVolume) {
  EMGAN_REQUIRE_SHARED("microstructure/electrode-3phase-256cube.tiff");
  const auto path = emgan::test::shared_data() / "microstructure/electrode-3phase-256cube.tiff";
  const auto map = micro::load_phases(path);
  ASSERT_EQ(map.phases(), 3);
  ASSERT_EQ(map.labels.dim(), 3);
  const std::vector<double> expected{0.450, 0.400, 0.150};
  for (int64_t p = 0; p < 3; ++p)
    EXPECT_NEAR(micro::volume_fraction(map.labels, p), expected[p], 0.01) << "phase " << p;
  // A 64^3 sub-cube keeps the test fast: every phase conducts along z.
  const auto sub = map.labels.index({Slice(0, 64), Slice(0, 64), Slice(0, 64)}).contiguous();
  micro::StatsSettings s;
  s.max_r = 20;
  const auto st = micro::compute_stats(sub, s, map.values, "electrode[0:64]");
  ASSERT_EQ(st.phases.size(), 3u);
  for (const auto& p : st.phases) {
    EXPECT_NEAR(p.s2[0][0], p.fraction, 1e-12);
    EXPECT_GT(p.surface_area, 0.0);
    ASSERT_EQ(p.tau.size(), 3u);
    EXPECT_TRUE(p.tau[0].converged);
    if (p.tau[0].percolating) {
      EXPECT_GE(p.tau[0].tau, 1.0) << "phase " << p.phase;
      EXPECT_LT(p.tau[0].tau, 50.0) << "phase " << p.phase;
    }
  }
  ASSERT_TRUE(st.tpb_density.has_value());
  EXPECT_GT(*st.tpb_density, 0.0);
}
