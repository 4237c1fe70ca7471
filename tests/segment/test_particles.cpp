// Particle measurement, mask statistics and random masks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/data/sample.h"
#include "emgan/segment/analysis.h"
#include "emgan/segment/particles.h"
#include "emgan/segment/phantom.h"

using namespace emgan;
using namespace emgan::segment;

TEST(Particles, MeasuresAnEllipse) {
  Ellipse e;
  e.cx = 40;
  e.cy = 30;
  e.a = 15;
  e.b = 7;
  e.angle = 0.5;
  const auto win = ellipse_window(e, 64, 80, 0.0, torch::TensorOptions());
  auto labels = torch::zeros({64, 80}, torch::kLong);
  using torch::indexing::Slice;
  labels.index_put_({Slice(win.y0, win.y1), Slice(win.x0, win.x1)}, (win.rho2 <= 1).to(torch::kLong));
  const auto ps = measure_particles(labels);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_NEAR(ps[0].eq_diameter_px, e.diameter(), 0.03 * e.diameter());
  EXPECT_NEAR(ps[0].major_px, 30.0, 1.0);
  EXPECT_NEAR(ps[0].minor_px, 14.0, 1.0);
  EXPECT_NEAR(ps[0].angle_deg, 0.5 * 180 / M_PI, 2.0);
  EXPECT_NEAR(ps[0].cx, 40, 0.2);
  EXPECT_FALSE(ps[0].touches_border);
}

TEST(Particles, RandomEllipsesNeverOverlap) {
  RandomMaskSettings s;
  s.height = s.width = 128;
  s.particles_per_512 = 600;  // crowded: many rejected placements
  s.min_gap = 0;
  auto gen = data::make_generator(7);
  const auto m = random_mask(s, gen);
  ASSERT_GT(m.ellipses.size(), 20u);
  auto cover = torch::zeros({128, 128}, torch::kInt);
  using torch::indexing::Slice;
  for (const auto& e : m.ellipses) {
    const auto w = ellipse_window(e, 128, 128, 0.0, torch::TensorOptions());
    const auto rows = Slice(w.y0, w.y1), cols = Slice(w.x0, w.x1);
    cover.index_put_({rows, cols}, cover.index({rows, cols}) + (w.rho2 <= 1).to(torch::kInt));
  }
  EXPECT_LE(cover.max().item<int>(), 1);
  EXPECT_TRUE(torch::equal(cover > 0, m.mask));
  // With a gap of 1 px no two particles touch: one component per ellipse.
  s.min_gap = 1;
  s.particles_per_512 = 300;
  const auto g = random_mask(s, gen);
  int64_t count = 0;
  label_components(g.mask, &count);
  EXPECT_EQ(count, static_cast<int64_t>(g.ellipses.size()));
}

TEST(Particles, RandomMasksFollowTheFittedDistributions) {
  RandomMaskSettings s;
  s.height = s.width = 256;
  s.mean_diameter = 14;
  s.size_variability = 0.5;
  s.aspect_min = 0.6;
  s.particles_per_512 = 200;
  auto gen = data::make_generator(11);
  std::vector<torch::Tensor> masks;
  std::vector<double> drawn;
  for (int i = 0; i < 8; ++i) {
    const auto m = random_mask(s, gen);
    masks.push_back(m.mask);
    for (const auto& e : m.ellipses) drawn.push_back(e.diameter());
  }
  // The drawn ellipses follow the law: mean 14, std 14 * 0.5 / sqrt(3).
  const auto d = summarize_sizes(drawn);
  EXPECT_NEAR(d.mean, 14.0, 0.6);
  EXPECT_NEAR(d.std, 14.0 * 0.5 / std::sqrt(3.0), 0.6);
  // Fitting the masks gives back the settings.
  const auto st = fit_mask_statistics(masks);
  EXPECT_NEAR(st.particles_per_512, 200.0, 20.0);
  EXPECT_NEAR(st.mean_diameter_px, 14.0, 0.7);
  const auto back = settings_from_statistics(st, 256, 256);
  EXPECT_NEAR(back.size_variability, 0.5, 0.1);
  EXPECT_NEAR(back.mean_diameter, 14.0, 0.7);
  EXPECT_NEAR(0.5 * (back.aspect_min + back.aspect_max), 0.8, 0.06);
}

TEST(Particles, DefaultsAndValidation) {
  const RandomMaskSettings s;
  EXPECT_DOUBLE_EQ(s.mean_diameter, 15.0);
  EXPECT_DOUBLE_EQ(s.size_variability, 0.8);
  EXPECT_DOUBLE_EQ(s.particles_per_512, 100.0);
  RandomMaskSettings bad;
  bad.size_variability = 1.2;
  EXPECT_THROW(bad.validate(), ConfigError);
}

TEST(Phantom, DeterministicWithExactMasks) {
  PhantomSettings ps;
  ps.size = 64;
  ps.seed = 9;
  const auto a = make_phantom(ps, 1), b = make_phantom(ps, 1), c = make_phantom(ps, 2);
  EXPECT_TRUE(torch::equal(a.image, b.image));
  EXPECT_FALSE(torch::equal(a.image, c.image));
  EXPECT_TRUE(torch::equal(a.mask, a.labels > 0));
  EXPECT_EQ(a.image.sizes(), (std::vector<int64_t>{1, 64, 64}));
  // Particles are brighter than the support.
  const auto img = a.image[0];
  EXPECT_GT(img.index({a.mask}).mean().item<double>(), img.index({~a.mask}).mean().item<double>() + 0.2);
}

// The true masks, split by the watershed, give back the known PSD. (This once found 32
// particles for 29: h_maxima gave two markers to one ellipse whose distance-map top
// value was reached at two separate pixels of its ridge.)
TEST(Phantom, PsdOfTrueMasksEqualsKnownPsd) {
  PhantomSettings ps;
  ps.size = 256;
  ps.seed = 2;
  ps.jitter_px = 0;
  std::vector<double> measured, known;
  for (int i = 0; i < 2; ++i) {
    const auto p = make_phantom(ps, i);
    WatershedSettings split;
    split.h = 3.0;
    for (const auto& q : analyze_mask(p.mask, split)) {
      if (!q.touches_border) measured.push_back(q.eq_diameter_px);
    }
    for (const auto& q : measure_particles(p.labels)) {
      if (!q.touches_border) known.push_back(p.ellipses[static_cast<size_t>(q.label - 1)].diameter());
    }
  }
  const auto m = summarize_sizes(measured), k = summarize_sizes(known);
  ASSERT_GT(k.count, 20);
  EXPECT_NEAR(m.mean, k.mean, 0.03 * k.mean);
  EXPECT_NEAR(m.std, k.std, 0.15 * k.std);
  EXPECT_NEAR(static_cast<double>(m.count), static_cast<double>(k.count), 0.1 * k.count);
}

TEST(Phantom, WatershedKeepsEveryIsolatedEllipseWhole) {
  PhantomSettings ps;
  ps.size = 256;
  ps.seed = 2;
  ps.jitter_px = 0;
  ps.min_gap = 2.0;  // no two particles touch: each must come out as exactly one piece
  const auto p = make_phantom(ps, 1);
  int64_t n = 0;
  watershed_split(p.mask, WatershedSettings{}, &n);
  EXPECT_EQ(n, static_cast<int64_t>(measure_particles(p.labels).size()));
}

TEST(Phantom, HardPresetDefeatsTheRoughMethod) {
  EXPECT_THROW(phantom_preset("impossible"), ConfigError);
  const auto particle_iou = [](const PhantomSettings& ps) {
    double inter = 0, uni = 0;
    for (int i = 0; i < 2; ++i) {
      const auto p = make_phantom(ps, i);
      const auto r = rough_mask(p.image[0]);
      inter += (r & p.mask).sum().item<double>();
      uni += (r | p.mask).sum().item<double>();
    }
    return inter / uni;
  };
  auto easy = phantom_preset("default"), hard = phantom_preset("hard");
  easy.size = hard.size = 256;
  easy.seed = hard.seed = 2;
  EXPECT_LT(hard.dose, easy.dose);
  EXPECT_LT(hard.mean_diameter, easy.mean_diameter);
  const double e = particle_iou(easy), h = particle_iou(hard);
  EXPECT_GT(e, 0.8);
  EXPECT_LT(h, e - 0.2);
}
