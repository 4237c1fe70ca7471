// Particle measurement, mask statistics and random masks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/data/sample.h"
#include "emgan/segment/analysis.h"
#include "emgan/segment/particles.h"
#include "emgan/segment/morphology.h"
#include "emgan/segment/phantom.h"
#include "emgan/segment/segmenter.h"

using namespace emgan;
using namespace emgan::segment;

namespace {
/// Random ellipses of 14 px mean diameter, variability 0.4, 100 per 512^2, on 256^2.
RandomMaskSettings ellipse_settings() {
  RandomMaskSettings s;
  s.height = s.width = 256;
  s.mean_diameter = 14;
  s.size_variability = 0.4;
  s.particles_per_512 = 100;
  return s;
}
}  // namespace

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

// Rough masks of real images carry false positives: support specks far smaller than
// the particles (here more specks than particles) and merged support patches far
// larger. The default fit leaves them out and gives the ellipses' own statistics; the
// fit without limits (the fit before MaskFitSettings) is far off.
TEST(Particles, FitIgnoresSpecksAndMergedPatches) {
  const RandomMaskSettings s = ellipse_settings();
  auto gen = data::make_generator(5);
  using torch::indexing::Slice;
  std::vector<torch::Tensor> clean, noisy, specks, patches;
  double placed_ellipses = 0;
  for (int i = 0; i < 4; ++i) {
    const auto m = random_mask(s, gen);
    placed_ellipses += static_cast<double>(m.ellipses.size());
    auto occupied = dilate(m.mask, 3);
    auto speck = torch::zeros_like(m.mask), patch = torch::zeros_like(m.mask);
    auto place = [&](torch::Tensor& into, int64_t side, int64_t wanted) {
      for (int64_t placed = 0, tries = 0; placed < wanted && tries < 2000; ++tries) {
        const int64_t y = 2 + data::uniform_int(gen, 256 - side - 4), x = 2 + data::uniform_int(gen, 256 - side - 4);
        if (occupied.index({Slice(y - 2, y + side + 2), Slice(x - 2, x + side + 2)}).any().item<bool>()) continue;
        into.index_put_({Slice(y, y + side), Slice(x, x + side)}, true);
        occupied.index_put_({Slice(y - 2, y + side + 2), Slice(x - 2, x + side + 2)}, true);
        ++placed;
      }
    };
    place(patch, 40, 1);   // 1600 px, > 8 x the median ellipse area (~150 px)
    place(speck, 3, 50);   // 9 px each, twice as many as the ellipses
    clean.push_back(m.mask);
    specks.push_back(speck);
    patches.push_back(patch);
    noisy.push_back(m.mask | speck | patch);
  }
  const MaskFitSettings none{0.0, 0.0, 0.0};
  const auto truth = fit_mask_statistics(clean, {}, none);
  const auto old_fit = fit_mask_statistics(noisy, {}, none);
  const auto st = fit_mask_statistics(noisy);
  ASSERT_GT(truth.measured, 60);
  // Without limits the specks halve the mean size and triple the count.
  EXPECT_LT(old_fit.mean_diameter_px, 0.8 * truth.mean_diameter_px);
  EXPECT_GT(old_fit.particles_per_512, 2.0 * truth.particles_per_512);
  // With the default limits: the ellipses' statistics.
  EXPECT_NEAR(st.mean_diameter_px, truth.mean_diameter_px, 0.03 * truth.mean_diameter_px);
  EXPECT_NEAR(st.std_diameter_px, truth.std_diameter_px, 0.1 * truth.std_diameter_px);
  EXPECT_NEAR(st.particles_per_512, truth.particles_per_512, 0.05 * truth.particles_per_512);
  // The border-corrected count of the inner particles matches the ellipses placed (centres in the image).
  const double placed_per_512 = placed_ellipses / 4.0 * 4.0;
  EXPECT_NEAR(st.particles_per_512, placed_per_512, 0.1 * placed_per_512);
  EXPECT_NEAR(st.mean_aspect, truth.mean_aspect, 0.02);
  EXPECT_EQ(st.measured, truth.measured);
  EXPECT_GT(st.rejected, 150);
  EXPECT_GT(st.min_area_px, 9.0);
  EXPECT_LT(st.min_area_px, 0.3 * 3.1416 * 49);
  EXPECT_LT(st.max_area_px, 1600.0);
  // The fit on the clean masks is unchanged by the default limits.
  const auto clean_fit = fit_mask_statistics(clean);
  EXPECT_EQ(clean_fit.measured, truth.measured);
  EXPECT_DOUBLE_EQ(clean_fit.mean_diameter_px, truth.mean_diameter_px);
  // Cleaning at the fitted minimum area removes every speck and keeps the ellipses and patches.
  for (size_t i = 0; i < noisy.size(); ++i) {
    const auto c = clean_mask(noisy[i], st.min_area_px);
    EXPECT_FALSE((c & specks[i]).any().item<bool>()) << "mask " << i;
    EXPECT_TRUE(torch::equal(c & patches[i], patches[i])) << "mask " << i;
    EXPECT_GE((c & clean[i]).sum().item<int64_t>(), clean[i].sum().item<int64_t>() - 20) << "mask " << i;
  }
  // Random masks from these statistics draw no particle at a size the fit took for a false positive.
  auto rs = settings_from_statistics(st, 256, 256);
  EXPECT_NEAR(rs.min_diameter, 2.0 * std::sqrt(st.min_area_px / 3.14159265358979), 1e-9);
  EXPECT_NEAR(rs.max_diameter, 2.0 * std::sqrt(st.max_area_px / 3.14159265358979), 1e-9);
  rs.size_variability = 0.9;  // a law reaching below the limit
  const auto drawn = random_mask(rs, gen);
  ASSERT_GT(drawn.ellipses.size(), 10u);
  for (const auto& e : drawn.ellipses) EXPECT_GE(e.diameter(), rs.min_diameter - 1e-9);
  RandomMaskSettings bad = rs;
  bad.min_diameter = 3.0 * rs.mean_diameter;
  EXPECT_THROW(bad.validate(), ConfigError);
}

// A segmenter's support specks (2-3 px across, more of them than particles) pull the
// PSD's mean diameter far down; the size filter of `segment analyze` (the relative
// minimum area of the mask statistics, over all images of the analysis together)
// leaves exactly them out and gives back the ellipses' PSD.
TEST(Particles, PsdSizeFilterDropsSpecks) {
  const RandomMaskSettings s = ellipse_settings();
  auto gen = data::make_generator(11);
  using torch::indexing::Slice;
  std::vector<std::vector<Particle>> with_specks, clean;
  std::vector<double> known;  // drawn diameters of the ellipses that do not touch the border
  int64_t specks_inner = 0;
  for (int i = 0; i < 3; ++i) {
    const auto m = random_mask(s, gen);
    auto labels = m.labels.clone();
    int64_t next = static_cast<int64_t>(m.ellipses.size()) + 1;
    auto occupied = dilate(m.mask, 2);
    for (int64_t placed = 0, tries = 0; placed < 60 && tries < 4000; ++tries) {
      const int64_t side = 2 + data::uniform_int(gen, 2);  // 2 or 3 px: areas 4-9 px
      const int64_t y = 2 + data::uniform_int(gen, 250 - side), x = 2 + data::uniform_int(gen, 250 - side);
      if (occupied.index({Slice(y - 2, y + side + 2), Slice(x - 2, x + side + 2)}).any().item<bool>()) continue;
      labels.index_put_({Slice(y, y + side), Slice(x, x + side)}, next++);
      occupied.index_put_({Slice(y - 2, y + side + 2), Slice(x - 2, x + side + 2)}, true);
      ++placed;
      ++specks_inner;
    }
    clean.push_back(measure_particles(m.labels));
    with_specks.push_back(measure_particles(labels));
    for (const auto& p : clean.back()) {
      if (!p.touches_border) known.push_back(m.ellipses[static_cast<size_t>(p.label - 1)].diameter());
    }
  }
  ASSERT_GT(known.size(), 50u);
  ASSERT_GT(specks_inner, static_cast<int64_t>(known.size()));
  // The filter of `segment analyze` by default: relative minimum area, no maximum.
  const MaskFitSettings defaults{0.2, 0.0, 0.0};
  const auto truth = summarize_sizes(known);
  const auto on = select_psd_particles(with_specks, true, defaults);
  const auto off = select_psd_particles(with_specks, true, MaskFitSettings{0.0, 0.0, 0.0});
  const auto m_on = summarize_sizes(on.diameters_px), m_off = summarize_sizes(off.diameters_px);
  // On: every speck out, every ellipse in, the ellipses' mean diameter.
  EXPECT_EQ(on.below_min, specks_inner);
  EXPECT_EQ(on.above_max, 0);
  EXPECT_EQ(m_on.count, truth.count);
  EXPECT_NEAR(m_on.mean, truth.mean, 0.03 * truth.mean);
  EXPECT_GT(on.limits.min_px, 9.0);
  EXPECT_EQ(on.limits.max_px, 0.0);
  EXPECT_EQ(summarize_sizes(on.unfiltered_px).count, m_off.count);
  // Off: the specks count and the mean falls far below.
  EXPECT_EQ(off.below_min, 0);
  EXPECT_EQ(m_off.count, truth.count + specks_inner);
  EXPECT_LT(m_off.mean, 0.7 * truth.mean);
  // Per-particle use: the specks are marked, the ellipses measured or cut by the border.
  for (size_t i = 0; i < with_specks.size(); ++i) {
    for (size_t k = 0; k < with_specks[i].size(); ++k) {
      const bool speck = k >= clean[i].size();
      const auto use = on.use[i][k];
      if (speck) EXPECT_EQ(use, ParticleUse::kBelowMinArea) << "image " << i << " particle " << k;
      else EXPECT_NE(use, ParticleUse::kBelowMinArea) << "image " << i << " particle " << k;
    }
  }
  // On clean label images the filter changes nothing.
  const auto clean_on = select_psd_particles(clean, true, defaults);
  EXPECT_EQ(clean_on.below_min, 0);
  EXPECT_EQ(clean_on.diameters_px, on.diameters_px);
  // The limits come from all images together: an image of specks only is filtered by the others' median.
  std::vector<std::vector<Particle>> specks_apart = {clean[0], clean[1], {}};
  for (size_t k = clean[2].size(); k < with_specks[2].size(); ++k) specks_apart[2].push_back(with_specks[2][k]);
  const auto apart = select_psd_particles(specks_apart, true, defaults);
  EXPECT_EQ(apart.below_min, static_cast<int64_t>(specks_apart[2].size()));
  // A maximum area, when asked for, leaves out the largest ellipses; a bad ratio names its value.
  MaskFitSettings with_max{0.2, 1.5, 0.0};
  const auto capped = select_psd_particles(with_specks, true, with_max);
  EXPECT_GT(capped.above_max, 0);
  try {
    select_psd_particles(with_specks, true, MaskFitSettings{1.5, 0.0, 0.0});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("min_area_ratio 1.5"), std::string::npos) << e.what();
  }
}

TEST(Particles, FitSettingsValidation) {
  MaskFitSettings f;
  f.min_area_ratio = 1.5;
  try {
    f.validate("stats");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("min_area_ratio 1.5"), std::string::npos) << e.what();
  }
  f = MaskFitSettings{};
  f.max_area_ratio = 0.5;
  EXPECT_THROW(fit_mask_statistics({torch::zeros({8, 8}, torch::kBool)}, {}, f), ConfigError);
  EXPECT_THROW(clean_mask(torch::zeros({8, 8}, torch::kBool), -1.0), ConfigError);
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

TEST(Particles, MatchComparesEachParticleWithTheTestPixelsAroundIt) {
  // Reference discs of radius 6; the test draws them with radius 7, plus a speck far
  // away, and misses the third; a fourth disc is cut by the border (left out).
  const int64_t n = 80;
  const auto ys = torch::arange(n, torch::kFloat32).view({-1, 1});
  const auto xs = torch::arange(n, torch::kFloat32).view({1, -1});
  const auto disc = [&](double cx, double cy, double r) { return (xs - cx).pow(2) + (ys - cy).pow(2) <= r * r; };
  const auto reference = disc(15, 15, 6) | disc(45, 20, 6) | disc(20, 55, 6) | disc(79, 60, 6);
  const auto test = disc(15, 15, 7) | disc(45, 20, 7) | disc(60, 60, 2) | disc(79, 60, 7);
  ParticleMatch m;
  match_particles(reference, test, m, 0.25);
  EXPECT_EQ(m.particles, 3);
  EXPECT_EQ(m.missed, 1);
  ASSERT_EQ(m.test_diameters.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(m.test_diameters[i] / m.reference_diameters[i], 7.0 / 6.0, 0.04);
  // The scores report the same, as the median ratio over the found particles.
  const auto sc = score_masks({test}, {reference});
  EXPECT_EQ(sc.particles, 3);
  EXPECT_EQ(sc.particles_found, 2);
  EXPECT_NEAR(sc.diameter_ratio, 7.0 / 6.0, 0.04);
  // A test pixel covering under a quarter of a particle does not find it.
  ParticleMatch tiny;
  match_particles(reference, disc(15, 15, 2), tiny, 0.25);
  EXPECT_EQ(tiny.missed, tiny.particles);
  EXPECT_THROW(match_particles(reference, test.index({torch::indexing::Slice(0, 10)}), tiny), ConfigError);
}

TEST(Particles, SignificanceTellsParticlesFromSupportTextureAtAnyDose) {
  // A support of smooth texture (blurred noise, std ~0.05) plus white shot noise; a
  // real particle (disc r 6, +0.3) and a "speck" that is only a bright patch of the
  // texture, marked as a detection. With strong white noise
  // (std 0.3, per-pixel contrast/noise = 1) the particle still stands out: the
  // measure compares it with the support's means over its own size.
  const int64_t n = 128;
  torch::manual_seed(5);
  const auto ys = torch::arange(n, torch::kFloat32).view({-1, 1});
  const auto xs = torch::arange(n, torch::kFloat32).view({1, -1});
  auto texture = gaussian_blur(torch::randn({n, n}), 2.0);
  texture = texture / texture.std() * 0.05;
  const auto particle = (xs - 40).pow(2) + (ys - 40).pow(2) <= 36;
  // The speck: a bright patch of the texture away from the particle (+1.5 std, a
  // typical false detection; the texture's extremes are ambiguous by nature).
  auto away = (texture - 1.5 * texture.std()).abs();
  away.index_put_({torch::indexing::Slice(0, 64), torch::indexing::Slice(0, 64)}, 1e9);
  const auto peak = away.argmin().item<int64_t>();
  const double py = static_cast<double>(peak / n), px = static_cast<double>(peak % n);
  const auto speck = ((xs - px).pow(2) + (ys - py).pow(2) <= 9) & ~dilate(particle, 6);
  auto labels = torch::zeros({n, n}, torch::kLong);
  labels.masked_fill_(particle, 1);
  labels.masked_fill_(speck, 2);
  for (double noise : {0.02, 0.3}) {
    const auto image = 0.2 + texture + 0.3 * particle.to(torch::kFloat32) + noise * torch::randn({n, n});
    auto ps = measure_particles(labels);
    ASSERT_EQ(ps.size(), 2u);
    measure_significance(image, labels, ps);
    EXPECT_GT(ps[0].significance, 4.0) << "noise " << noise;
    EXPECT_LT(ps[1].significance, 2.0) << "noise " << noise;
    // Dark particles on a bright support: the same numbers (the sign follows the majority).
    auto dark = measure_particles(labels);
    measure_significance(1.0 - image, labels, dark);
    EXPECT_NEAR(dark[0].significance, ps[0].significance, 1e-6);
    // The PSD leaves the speck out as faint, and only with the filter on.
    const auto on = select_psd_particles({ps}, true, MaskFitSettings{0.0, 0.0, 0.0}, 2.0);
    EXPECT_EQ(on.use[0][0], ParticleUse::kMeasured);
    EXPECT_EQ(on.use[0][1], ParticleUse::kFaint);
    EXPECT_EQ(on.faint, 1);
    const auto off = select_psd_particles({ps}, true, MaskFitSettings{0.0, 0.0, 0.0}, 0.0);
    EXPECT_EQ(off.use[0][1], ParticleUse::kMeasured);
  }
  // Not measurable (no particle): nothing to do; mismatched sizes are refused.
  std::vector<Particle> none;
  measure_significance(torch::zeros({n, n}), torch::zeros({n, n}, torch::kLong), none);
  auto ps = measure_particles(labels);
  EXPECT_THROW(measure_significance(torch::zeros({n, 10}), labels, ps), ConfigError);
}
