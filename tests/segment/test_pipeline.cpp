// Steps of the label-free pipeline as functions: the random masks' ellipse list and
// its redrawing, and the label consistency measurement.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/segment/pipeline.h"
#include "test_util.h"

using namespace emgan;
using namespace emgan::segment;

namespace {

torch::Tensor read_mask(const fs::path& path) { return binarize_mask(io::read_image(path).data); }

// Discs of the given radii at fixed centres on a `size` x `size` grid, bool.
torch::Tensor discs(int64_t size, const std::vector<std::array<double, 3>>& cxy_r) {
  const auto ys = torch::arange(size, torch::kFloat32).view({-1, 1});
  const auto xs = torch::arange(size, torch::kFloat32).view({1, -1});
  auto m = torch::zeros({size, size}, torch::kBool);
  for (const auto& d : cxy_r) m = m | ((xs - d[0]).pow(2) + (ys - d[1]).pow(2) <= d[2] * d[2]);
  return m;
}

}  // namespace

TEST(SegmentPipeline, EllipseListRedrawsTheRandomMasksAndGrowsThem) {
  const auto dir = test::temp_dir();
  RandomMasksSettings s;
  s.out = (dir / "masks").string();
  s.count = 3;
  s.masks.height = s.masks.width = 96;
  s.masks.mean_diameter = 12;
  s.masks.particles_per_512 = 300;
  s.seed = 4;
  const auto placed = run_random_masks(s);
  ASSERT_GT(placed, 5);
  ASSERT_TRUE(fs::exists(dir / "masks/ellipses.json"));

  // Grow 0 reproduces every mask pixel for pixel.
  EXPECT_EQ(run_redraw_masks(dir / "masks", dir / "same", 0.0), 3);
  // Grow +1 px: a superset, larger by about the perimeter; -1 px: a subset.
  EXPECT_EQ(run_redraw_masks(dir / "masks", dir / "grown", 1.0), 3);
  EXPECT_EQ(run_redraw_masks(dir / "masks", dir / "shrunk", -1.0), 3);
  for (const char* name : {"mask_0000.png", "mask_0001.png", "mask_0002.png"}) {
    const auto m = read_mask(dir / "masks" / name);
    const auto same = read_mask(dir / "same" / name);
    const auto grown = read_mask(dir / "grown" / name);
    const auto shrunk = read_mask(dir / "shrunk" / name);
    EXPECT_TRUE(torch::equal(m, same)) << name;
    EXPECT_TRUE((grown | m).equal(grown)) << name << ": the grown mask lost pixels";
    EXPECT_TRUE((shrunk & m).equal(shrunk)) << name << ": the shrunk mask gained pixels";
    const double a = m.sum().item<double>(), ag = grown.sum().item<double>(), as = shrunk.sum().item<double>();
    EXPECT_GT(ag, 1.2 * a) << name;
    EXPECT_LT(as, 0.8 * a) << name;
  }

  // A damaged list is refused with the file and the value named.
  auto list = load_json_file(dir / "masks/ellipses.json");
  list["mask_0000.png"][0]["a"] = -2.0;
  save_json_file(dir / "masks/ellipses.json", list);
  try {
    run_redraw_masks(dir / "masks", dir / "bad", 0.5);
    FAIL() << "a negative semi-axis was accepted";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("ellipses.json"), std::string::npos) << what;
    EXPECT_NE(what.find("a -2"), std::string::npos) << what;
  }
}

TEST(SegmentPipeline, LabelOffsetMeasuresHowFarGeneratedParticlesExtendBeyondTheirMasks) {
  const auto dir = test::temp_dir();
  fs::create_directories(dir / "images");
  fs::create_directories(dir / "masks");
  // Masks: discs of radius 5 and 7; "generated" images draw the same particles with
  // radius 6 and 8 (1 px wider), bright on a noisy support; a third particle of the
  // mask is absent from the image (missed); one disc is cut by the border (left out).
  const int64_t n = 96;
  const std::vector<std::array<double, 3>> mask_discs = {{20, 20, 5}, {60, 30, 7}, {30, 70, 5}, {70, 72, 6}, {94, 50, 6}};
  const std::vector<std::array<double, 3>> image_discs = {{20, 20, 6}, {60, 30, 8}, {30, 70, 6}, {94, 50, 7}};
  torch::manual_seed(3);
  for (int i = 0; i < 2; ++i) {
    const auto name = "mask_000" + std::to_string(i);
    io::WriteOptions u8;
    u8.dtype = "uint8";
    io::write_image(dir / "masks" / (name + ".png"), discs(n, mask_discs).to(torch::kUInt8).unsqueeze(0) * 255, u8);
    const auto img = discs(n, image_discs).to(torch::kFloat32) * 0.8f + 0.1f + 0.02f * torch::randn({n, n});
    io::write_image(dir / "images" / (name + ".tif"), img.unsqueeze(0));
  }
  RoughMaskSettings rough;
  rough.background_sigma = 0;  // a flat support: keep the test about the offset
  const auto off = measure_label_offset(dir / "images", dir / "masks", rough);
  EXPECT_EQ(off.particles, 8);  // 4 of the 5 discs per mask (one touches the border), 2 masks
  EXPECT_EQ(off.missed, 2);     // the disc at (70, 72) is not in the image
  // Radius +1 px: the diameter +2 px (within pixelisation).
  EXPECT_NEAR(off.median_diameter_difference_px, 2.0, 0.5);
  EXPECT_NEAR(off.offset_px, 1.0, 0.25);
  EXPECT_NEAR(off.median_mask_diameter_px, 11.0, 1.5);

  // The same images measured against masks that already match: no offset.
  const auto self = measure_label_offset(dir / "images", dir / "images", rough);
  EXPECT_EQ(self.missed, 0);
  EXPECT_NEAR(self.median_diameter_difference_px, 0.0, 0.5);

  // A mask without its image is named.
  io::WriteOptions u8;
  u8.dtype = "uint8";
  io::write_image(dir / "masks/mask_0009.png", torch::zeros({1, n, n}, torch::kUInt8), u8);
  try {
    measure_label_offset(dir / "images", dir / "masks", rough);
    FAIL() << "a mask without an image was accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("mask_0009"), std::string::npos) << e.what();
  }
}

TEST(SegmentPipeline, ThresholdCalibrationPutsTheBoundaryWhereTheReferenceHasIt) {
  // Probability falling smoothly across radius 8 (p = 1 / (1 + exp((r - 8) / 1.5))):
  // the boundary at threshold t lies at r = 8 + 1.5 ln(1 / t - 1), so reference discs
  // of radius 7 want t = 1 / (1 + exp(-1 / 1.5)) = 0.66 and of radius 9, 0.34.
  const int64_t n = 64;
  const auto ys = torch::arange(n, torch::kFloat32).view({-1, 1});
  const auto xs = torch::arange(n, torch::kFloat32).view({1, -1});
  const auto r = torch::sqrt((xs - 20).pow(2) + (ys - 24).pow(2));
  const auto r2 = torch::sqrt((xs - 44).pow(2) + (ys - 40).pow(2));
  const auto prob = torch::maximum(torch::sigmoid(-(r - 8) / 1.5), torch::sigmoid(-(r2 - 8) / 1.5));
  const auto ref7 = (r <= 7) | (r2 <= 7);
  const auto ref9 = (r <= 9) | (r2 <= 9);
  const auto c7 = calibrate_threshold({prob, prob}, {ref7, ref7});
  EXPECT_NEAR(c7.threshold, 0.66, 0.06);
  EXPECT_EQ(c7.particles, 4);
  EXPECT_EQ(c7.missed, 0);
  EXPECT_LT(std::abs(c7.mean_diameter_difference_px), 0.6);
  const auto c9 = calibrate_threshold({prob}, {ref9});
  EXPECT_NEAR(c9.threshold, 0.34, 0.06);
  ASSERT_EQ(c9.thresholds.size(), c9.differences.size());
  // Lower thresholds draw larger particles.
  for (size_t i = 1; i < c9.differences.size(); ++i) EXPECT_LE(c9.differences[i], c9.differences[i - 1] + 1e-9);

  // A background at probability 0.32 floods every threshold below it: those are
  // rejected (NaN), so even a reference wanting a very low threshold gets one above
  // (0.35 or 0.40: they draw the same pixels here, and ties go to the one nearer 0.5).
  const auto flooded = torch::maximum(prob, torch::full_like(prob, 0.32));
  const auto c12 = calibrate_threshold({flooded}, {(r <= 12) | (r2 <= 12)});
  EXPECT_GT(c12.threshold, 0.34) << Json(c12).dump();
  EXPECT_LT(c12.threshold, 0.41) << Json(c12).dump();
  EXPECT_TRUE(std::isnan(c12.differences.front()));

  // Nothing to measure: the threshold stays 0.5.
  const auto none = calibrate_threshold({prob}, {torch::zeros_like(ref7)});
  EXPECT_EQ(none.particles, 0);
  EXPECT_DOUBLE_EQ(none.threshold, 0.5);
  EXPECT_THROW(calibrate_threshold({prob}, {}), ConfigError);
}
