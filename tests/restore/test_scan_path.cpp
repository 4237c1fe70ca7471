// Scan paths: coverage, mask exactness, rasterising, bad input.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <set>

#include "emgan/core/error.h"
#include "emgan/restore/scan_path.h"
#include "test_util.h"

namespace r = emgan::restore;

namespace {

std::set<std::pair<int64_t, int64_t>> rounded(const r::ScanPath& p) {
  std::set<std::pair<int64_t, int64_t>> s;
  for (size_t i = 0; i < p.x.size(); ++i) s.insert({std::lround(p.y[i]), std::lround(p.x[i])});
  return s;
}

void expect_mask_is_path(const r::ScanPath& p) {
  const auto mask = r::path_mask(p);
  const auto expected = rounded(p);
  auto nz = mask.nonzero();
  ASSERT_EQ(nz.size(0), static_cast<int64_t>(expected.size()));
  std::set<std::pair<int64_t, int64_t>> got;
  for (int64_t i = 0; i < nz.size(0); ++i) got.insert({nz[i][0].item<int64_t>(), nz[i][1].item<int64_t>()});
  EXPECT_EQ(got, expected);
  EXPECT_EQ(mask.sum().item<double>(), static_cast<double>(expected.size()));  // 0/1 only
}

}  // namespace

TEST(ScanPath, SpiralCoverageMatchesTheRequest) {
  for (double c : {0.1, 0.05, 0.02, 0.01}) {
    r::ScanPathOptions o;
    o.coverage = c;
    const auto p = r::spiral_path(256, 256, o);
    const double got = r::mask_coverage(r::path_mask(p));
    EXPECT_NEAR(got / c, 1.0, 0.03) << "coverage " << c;
    EXPECT_EQ(p.kind, "spiral");
  }
}

TEST(ScanPath, SpiralWithoutRefinementIsStillClose) {
  r::ScanPathOptions o;
  o.coverage = 0.05;
  o.refine_tolerance = 0.0;
  const double got = r::mask_coverage(r::path_mask(r::spiral_path(256, 256, o)));
  EXPECT_NEAR(got / 0.05, 1.0, 0.15);
}

TEST(ScanPath, SpiralIsAContinuousOrderedPath) {
  r::ScanPathOptions o;
  o.coverage = 0.05;
  const auto p = r::spiral_path(128, 128, o);
  // Inside the frame the probes are 'step' apart; jumps only where the spiral leaves the frame.
  int64_t jumps = 0;
  for (int64_t i = 1; i < p.size(); ++i)
    if (std::hypot(p.x[i] - p.x[i - 1], p.y[i] - p.y[i - 1]) > 1.5) ++jumps;
  EXPECT_LT(jumps, p.size() / 50);
  // It starts at the centre.
  EXPECT_NEAR(p.x.front(), 63.5, 1e-9);
  EXPECT_NEAR(p.y.front(), 63.5, 1e-9);
}

TEST(ScanPath, GridCoverageMatchesTheRequest) {
  for (double c : {0.1, 0.05, 0.02}) {
    r::ScanPathOptions o;
    o.coverage = c;
    o.seed = 3;
    const auto p = r::grid_path(256, 256, o);
    // Within 5 %, or within one more pair of lines (the coverage of a grid is
    // quantised by its whole number of lines: about 2 / 256 per pair here).
    const double got = r::mask_coverage(r::path_mask(p));
    EXPECT_LE(std::abs(got - c), std::max(0.05 * c, 2.0 / 256.0)) << "coverage " << c;
  }
}

TEST(ScanPath, GridLinesAreJittered) {
  r::ScanPathOptions o;
  o.coverage = 0.05;
  o.seed = 1;
  const auto p = r::grid_path(128, 128, o);
  std::set<double> ys;
  for (int64_t i = 0; i < 128; ++i) ys.insert(std::round(p.y[i] * 100));
  EXPECT_GT(ys.size(), 3u);  // the first horizontal line wanders
  o.jitter = 0.0;
  const auto straight = r::grid_path(128, 128, o);
  ys.clear();
  for (int64_t i = 0; i < 128; ++i) ys.insert(std::round(straight.y[i] * 100));
  EXPECT_EQ(ys.size(), 1u);
}

TEST(ScanPath, MasksMarkExactlyThePath) {
  r::ScanPathOptions o;
  o.coverage = 0.04;
  o.seed = 5;
  for (const auto& kind : r::kPathKinds) expect_mask_is_path(r::make_path(kind, 64, 80, o));
}

TEST(ScanPath, LinesAndRandomHaveExactCoverage) {
  r::ScanPathOptions o;
  o.every = 4;
  const auto mask = r::path_mask(r::lines_path(64, 50, o));
  EXPECT_DOUBLE_EQ(r::mask_coverage(mask), 0.25);
  EXPECT_EQ(mask[4].sum().item<double>(), 50.0);
  EXPECT_EQ(mask[5].sum().item<double>(), 0.0);
  r::ScanPathOptions ro;
  ro.coverage = 0.1;
  const auto rp = r::random_path(40, 50, ro);
  EXPECT_EQ(rp.size(), 200);
  EXPECT_DOUBLE_EQ(r::mask_coverage(r::path_mask(rp)), 0.1);
}

TEST(ScanPath, BadInputGivesClearErrors) {
  r::ScanPathOptions o;
  o.coverage = 0.0;
  try {
    r::spiral_path(64, 64, o);
    FAIL() << "coverage 0 accepted";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("coverage 0"), std::string::npos) << e.what();
  }
  o.coverage = 1.5;
  EXPECT_THROW(r::grid_path(64, 64, o), emgan::ConfigError);
  EXPECT_THROW(r::make_path("zigzag", 64, 64, {}), emgan::ConfigError);
  r::ScanPath p;
  p.height = 10;
  p.width = 10;
  p.x = {2.0, 10.2};
  p.y = {3.0, 3.0};
  try {
    r::path_mask(p);
    FAIL() << "position outside accepted";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("outside"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r::check_scan_and_mask(torch::zeros({8, 8}), torch::ones({8, 9}), "x"), emgan::ConfigError);
  try {
    r::check_scan_and_mask(torch::zeros({8, 8}), torch::zeros({8, 8}), "scan.tif / mask.tif");
    FAIL() << "empty mask accepted";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no sampled pixel"), std::string::npos) << e.what();
  }
}

TEST(ScanPath, GridCoverageOnALargeFrame) {
  for (double c : {0.1, 0.05}) {
    r::ScanPathOptions o;
    o.coverage = c;
    EXPECT_NEAR(r::mask_coverage(r::path_mask(r::grid_path(512, 512, o))) / c, 1.0, 0.05) << c;
  }
}

TEST(ScanPath, WeightedMasksAreBinarisedToTheirTotalWeight) {
  auto w = torch::zeros({4, 4});
  w[0][0] = 0.5;
  w[1][1] = 0.25;
  w[2][2] = 0.75;
  w[3][3] = 0.5;  // total 2 -> the two largest weights
  const auto b = r::binarize_mask(w);
  EXPECT_EQ(b.sum().item<double>(), 2.0);
  EXPECT_EQ(b[2][2].item<float>(), 1.0f);
  EXPECT_EQ(b[1][1].item<float>(), 0.0f);
  const auto binary = (torch::rand({5, 5}) > 0.5).to(torch::kFloat32);
  EXPECT_TRUE(torch::equal(r::binarize_mask(binary), binary));
  EXPECT_THROW(r::binarize_mask(torch::full({3, 3}, 0.01)), emgan::ConfigError);
}

TEST(ScanPath, BlurredMaskPeaksAtOne) {
  r::ScanPathOptions o;
  o.coverage = 0.05;
  const auto mask = r::path_mask(r::spiral_path(64, 64, o));
  const auto b = r::blur_mask(mask, 1.5);
  EXPECT_NEAR(b.max().item<double>(), 1.0, 1e-6);
  EXPECT_GT((b > 0.01).sum().item<int64_t>(), (mask > 0.5).sum().item<int64_t>());
  EXPECT_THROW(r::blur_mask(mask, 0.0), emgan::ConfigError);
}

TEST(ScanPath, RasterisesACsvOfProbes) {
  const auto dir = emgan::test::temp_dir();
  {
    std::ofstream f(dir / "probes.csv");
    f << "intensity,y,x\n1.0,0,0\n3.0,0.2,0.1\n5.0,2,3\n";
  }
  const auto r = r::rasterise_csv(dir / "probes.csv", 4, 5);
  EXPECT_EQ(r.probes, 3);
  EXPECT_FLOAT_EQ(r.scan[0][0].item<float>(), 2.0f);  // mean of the two probes of pixel (0, 0)
  EXPECT_FLOAT_EQ(r.scan[2][3].item<float>(), 5.0f);
  EXPECT_EQ(r.mask.sum().item<double>(), 2.0);
  {
    std::ofstream f(dir / "outside.csv");
    f << "x,y,intensity\n1,1,1\n7,1,2\n";
  }
  try {
    r::rasterise_csv(dir / "outside.csv", 4, 5);
    FAIL() << "outside position accepted";
  } catch (const emgan::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("outside.csv:3"), std::string::npos) << e.what();
  }
  {
    std::ofstream f(dir / "nocol.csv");
    f << "x,y\n1,1\n";
  }
  EXPECT_THROW(r::rasterise_csv(dir / "nocol.csv", 4, 5), emgan::IoError);
}
