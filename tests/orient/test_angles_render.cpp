// Symmetry-aware angles and the polygon renderer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/orient/angles.h"
#include "emgan/orient/render.h"

using namespace emgan::orient;

namespace {

PolygonBatch one(int64_t n, double theta, double radius = 10.0, double cx = 0.0, double cy = 0.0) {
  auto f = [](double v) { return torch::tensor({v}, torch::kFloat32); };
  return {torch::tensor({n}), f(theta), f(radius), f(cx), f(cy), f(1.0)};
}

}  // namespace

TEST(OrientRender, RotationBySymmetryPeriodRendersIdentically) {
  for (int64_t n = 3; n <= 8; ++n) {
    const double period = 360.0 / n;
    const auto a = render_polygons(one(n, 7.3, 11.0, 0.4, -0.7), 32, 4);
    const auto b = render_polygons(one(n, 7.3 + period, 11.0, 0.4, -0.7), 32, 4);
    const auto c = render_polygons(one(n, 7.3 + period / 2, 11.0, 0.4, -0.7), 32, 4);
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-3) << "n=" << n;
    EXPECT_GT((a - c).abs().max().item<double>(), 0.2) << "n=" << n;  // half a period is a different image
  }
}

TEST(OrientRender, CoveredAreaMatchesPolygonArea) {
  for (int64_t n : {3, 4, 6, 8}) {
    const double r = 12.0;
    const double area = 0.5 * n * r * r * std::sin(2.0 * M_PI / n);
    const double sum = render_polygons(one(n, 13.0, r), 48, 4).sum().item<double>();
    EXPECT_NEAR(sum, area, 0.01 * area) << "n=" << n;
  }
}

TEST(OrientRender, ZeroAngleVertexPointsAlongX) {
  // A triangle at 0 degrees has a vertex at +x: the right half holds less mass than a
  // triangle pointing left (60 degrees) but reaches further right.
  const auto img = render_polygons(one(3, 0.0, 12.0), 32, 4)[0][0];
  const double c = 15.5;
  EXPECT_GT(img[16][static_cast<int64_t>(c + 10)].item<double>(), 0.5);  // vertex at x = c + 12
  EXPECT_LT(img[16][static_cast<int64_t>(c - 8)].item<double>(), 0.5);   // the opposite edge at x = c - 6
}

TEST(OrientRender, DifferentiableInAngleAndRejectsBadSize) {
  auto b = one(4, 10.0);
  b.theta_deg.set_requires_grad(true);
  const auto target = render_polygons(one(4, 20.0), 32, 2);
  torch::mse_loss(render_polygons(b, 32, 2), target).backward();
  EXPECT_LT(b.theta_deg.grad().item<double>(), 0.0);  // increasing theta reduces the loss
  EXPECT_THROW(render_polygons(one(4, 0.0), 2, 2), emgan::ConfigError);
}

TEST(OrientRender, NoiseMeanAndDoseDependentVariance) {
  torch::manual_seed(1);
  const auto clean = torch::full({2, 1, 64, 64}, 0.5);
  const auto noisy = add_noise(clean, torch::tensor({100.0, 10.0}), 0.0);
  EXPECT_NEAR(noisy.mean().item<double>(), 0.5, 0.01);
  EXPECT_NEAR(noisy[0].var().item<double>(), 0.5 / 100.0, 0.001);
  EXPECT_NEAR(noisy[1].var().item<double>(), 0.5 / 10.0, 0.01);
  const auto gauss = add_noise(clean, torch::tensor({0.0, 0.0}), 0.1);
  EXPECT_NEAR(gauss.std().item<double>(), 0.1, 0.005);
}

TEST(OrientRender, CentreOnMassCentresAShiftedParticle) {
  const auto img = render_polygons(one(5, 3.0, 8.0, 6.0, -4.0), 32, 4);
  const auto c = centre_on_mass(img, 0.0)[0][0];
  const auto ys = torch::arange(32, torch::kFloat32).view({32, 1});
  const auto xs = torch::arange(32, torch::kFloat32).view({1, 32});
  const double m = c.sum().item<double>();
  EXPECT_NEAR((c * xs).sum().item<double>() / m, 15.5, 0.3);
  EXPECT_NEAR((c * ys).sum().item<double>() / m, 15.5, 0.3);
  const auto p = preprocess(img, 1.0);
  EXPECT_NEAR(p.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(p.std().item<double>(), 1.0, 1e-2);
}

TEST(OrientAngles, PeriodicLossIsZeroForAnglesEqualModuloSymmetry) {
  const auto order = torch::tensor({3, 4, 6, 8});
  const auto theta = torch::tensor({10.0, 89.0, 1.0, 44.0});
  const auto shifted = theta + torch::tensor({120.0, -90.0, 180.0, 135.0});  // k * 360/n
  EXPECT_LT(periodic_loss(encode_angle(theta, order), encode_angle(shifted, order)).item<double>(), 1e-6);
  EXPECT_GT(periodic_loss(encode_angle(theta, order), encode_angle(theta + 10.0, order)).item<double>(), 0.05);
}

TEST(OrientAngles, PeriodicLossHasNoWrapPenaltyButMseHas) {
  // A square at 89 and 1 degrees: 2 degrees apart through the wrap.
  const auto order = torch::tensor({4});
  const auto a = torch::tensor({89.0}), b = torch::tensor({1.0});
  const double periodic = periodic_loss(encode_angle(a, order), encode_angle(b, order)).item<double>();
  EXPECT_NEAR(periodic, 1.0 - std::cos(8.0 * M_PI / 180.0), 1e-5);  // psi differs by 4 x 2 degrees
  const double mse = angle_mse_loss(a, b, order).item<double>();
  EXPECT_NEAR(mse, std::pow(88.0 / 90.0, 2), 1e-5);
  EXPECT_GT(mse, 50 * periodic);
}

TEST(OrientAngles, SymmetricErrorGoldenValuesAndDecodeRoundTrip) {
  const auto order = torch::tensor({4, 3, 6, 8});
  const auto err = symmetric_error_deg(torch::tensor({89.0, 119.0, 30.0, 0.0}), torch::tensor({1.0, 1.0, 0.0, 22.5}), order);
  EXPECT_NEAR(err[0].item<double>(), 2.0, 1e-4);
  EXPECT_NEAR(err[1].item<double>(), 2.0, 1e-4);
  EXPECT_NEAR(err[2].item<double>(), 30.0, 1e-4);
  EXPECT_NEAR(err[3].item<double>(), 22.5, 1e-4);
  const auto theta = torch::tensor({100.0, -5.0, 59.0, 44.9});
  const auto back = decode_angle(3.0 * encode_angle(theta, order), order);
  const auto expect = torch::remainder(theta, 360.0 / order.to(torch::kFloat32));
  EXPECT_LT(symmetric_error_deg(back, expect, order).max().item<double>(), 1e-3);
  EXPECT_TRUE((back >= 0).all().item<bool>());
  EXPECT_TRUE((back < 360.0 / order.to(torch::kFloat32)).all().item<bool>());
}

TEST(OrientAngles, RotatePhaseAddsAngles) {
  const auto order = torch::tensor({5});
  const auto v = rotate_phase(encode_angle(torch::tensor({3.0}), order), torch::tensor({5 * 4.0 * M_PI / 180.0}));
  EXPECT_NEAR(decode_angle(v, order).item<double>(), 7.0, 1e-4);
}

TEST(OrientAngles, OffsetConsistencyLossZeroModuloSymmetryPositiveOtherwise) {
  const auto order = torch::tensor({3, 4, 6, 8});
  const auto theta_a = torch::tensor({10.0, 80.0, 55.0, 1.0});
  const auto offset = torch::tensor({15.0, 12.0, 9.0, 20.0});
  const auto period = 360.0 / order.to(torch::kFloat32);
  // b predicted one period (and minus two periods) away from a + offset: consistent.
  const auto pa = 2.0 * encode_angle(theta_a, order);  // not unit length: normalised inside
  const auto pb = encode_angle(theta_a + offset + period * torch::tensor({1.0, -2.0, 0.0, 3.0}), order);
  EXPECT_LT(offset_consistency_loss(pa, pb, order, offset).item<double>(), 1e-6);
  // 3 degrees off: 1 - cos(n x 3 degrees) on average (golden).
  const auto off = encode_angle(theta_a + offset + 3.0, order);
  double expect = 0.0;
  for (int n : {3, 4, 6, 8}) expect += (1.0 - std::cos(n * 3.0 * M_PI / 180.0)) / 4.0;
  EXPECT_NEAR(offset_consistency_loss(pa, off, order, offset).item<double>(), expect, 1e-5);
  // A network ignoring the offset (same phase for a and b) is penalised.
  EXPECT_GT(offset_consistency_loss(pa, pa, order, offset).item<double>(), 0.1);
}

TEST(OrientAngles, SpreadPenaltyCatchesPerShapeCollapseThatABatchMeanMisses) {
  // Two shapes collapsed to opposite constant phases: the batch-wide mean is 0, the
  // per-shape penalty is 1.
  const auto order = torch::tensor({3, 3, 3, 4, 4, 4});
  const auto collapsed = torch::tensor({{1.0, 0.0}, {1.0, 0.0}, {1.0, 0.0}, {-1.0, 0.0}, {-1.0, 0.0}, {-1.0, 0.0}});
  EXPECT_NEAR(collapsed.mean(0).pow(2).sum().item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(phase_spread_penalty(collapsed, order, 3, 8).item<double>(), 1.0, 1e-5);
  // Evenly spread phases within each shape: 0.
  const auto psi = torch::tensor({0.0, 120.0, 240.0, 30.0, 150.0, 270.0}) * (M_PI / 180.0);
  const auto spread = torch::stack({torch::cos(psi), torch::sin(psi)}, 1);
  EXPECT_LT(phase_spread_penalty(spread, order, 3, 8).item<double>(), 1e-6);
}

TEST(OrientRender, AngleKeepingAugmentationKeepsTheAngle) {
  const auto img = render_polygons(one(4, 12.0, 9.0), 48, 4);
  // All zero: only normalised.
  EXPECT_TRUE(torch::allclose(augment_same_angle(img, 0.0, 0.0, 0.0), normalise_images(img), 1e-5, 1e-5));
  // The 4th angular moment about the centre gives 4 x theta; a rescaled copy keeps it.
  auto phase = [](const torch::Tensor& x) {
    const auto c = (x.size(3) - 1) / 2.0;
    const auto r = torch::arange(x.size(3), torch::kFloat32) - c;
    const auto yy = r.view({-1, 1}).expand({x.size(2), x.size(3)}), xx = r.view({1, -1}).expand({x.size(2), x.size(3)});
    const auto phi = torch::atan2(-yy, xx);  // counter-clockwise on screen
    const auto w = torch::relu(x[0][0]);
    return std::atan2((w * torch::sin(4 * phi)).sum().item<double>(), (w * torch::cos(4 * phi)).sum().item<double>()) /
           4.0 * 180.0 / M_PI;
  };
  torch::manual_seed(0);
  const auto aug = augment_same_angle(img.repeat({4, 1, 1, 1}), 0.3, 0.0, 0.0);
  EXPECT_GT((aug - normalise_images(img)).abs().max().item<double>(), 0.1);  // the size did change
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(phase(aug.slice(0, i, i + 1)), phase(img), 1.0);
  EXPECT_THROW(augment_same_angle(img, -0.1, 0.0, 0.0), emgan::ConfigError);
}

TEST(OrientRender, AngleKeepingAugmentationOfProfilesScalesAndShiftsAlongTheLength) {
  const auto profile = render_polygons(one(4, 12.0, 9.0), 48, 4).sum(2);  // [1, 1, 48]
  EXPECT_TRUE(torch::allclose(augment_same_angle(profile, 0.0, 0.0, 0.0), normalise_images(profile), 1e-5, 1e-5));
  // Width (second moment about the centroid) of the part above the background.
  auto moments = [](const torch::Tensor& p) {
    const auto w = torch::relu(p.flatten() - p.flatten().min());
    const auto x = torch::arange(p.size(-1), torch::kFloat32);
    const double m = (w * x).sum().item<double>() / w.sum().item<double>();
    return std::make_pair(m, std::sqrt((w * (x - m).square()).sum().item<double>() / w.sum().item<double>()));
  };
  const auto [c0, w0] = moments(profile);
  torch::manual_seed(1);
  const double scale = 0.3;
  const auto scaled = augment_same_angle(profile.repeat({6, 1, 1}), scale, 0.0, 0.0);
  ASSERT_EQ(scaled.sizes(), torch::IntArrayRef({6, 1, 48}));
  double lo = 10, hi = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const auto [c, w] = moments(scaled[i]);
    EXPECT_NEAR(c, c0, 0.3) << i;  // scaled about the centre, where the particle sits
    lo = std::min(lo, w / w0);
    hi = std::max(hi, w / w0);
  }
  EXPECT_GT(lo, 1.0 / (1.0 + scale) - 0.03);
  EXPECT_LT(hi, 1.0 + scale + 0.03);
  EXPECT_GT(hi - lo, 0.05);  // the factors differ
  const auto shifted = augment_same_angle(profile.repeat({6, 1, 1}), 0.0, 3.0, 0.0);
  double moved = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const auto [c, w] = moments(shifted[i]);
    EXPECT_LE(std::abs(c - c0), 3.0 + 0.1) << i;
    EXPECT_NEAR(w, w0, 0.05 * w0) << i;
    moved = std::max(moved, std::abs(c - c0));
  }
  EXPECT_GT(moved, 0.5);
}

TEST(OrientAngles, FoldedAnglesGoldenValues) {
  const auto n = torch::tensor({4, 4, 4, 3, 3, 6});
  const auto theta = torch::tensor({10.0f, 80.0f, -10.0f, 100.0f, 50.0f, 359.0f});
  const auto f = fold_angle_deg(theta, n);
  // Square: 80 ~ -10 ~ 10; triangle: 100 ~ -20 ~ 20, 50 ~ -70 ~ 50 (fold into [0, 60]).
  const std::vector<double> expect{10, 10, 10, 20, 50, 1};
  for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(f[i].item<double>(), expect[static_cast<size_t>(i)], 1e-4) << i;
  const auto e = folded_error_deg(torch::tensor({44.0f, 2.0f}), torch::tensor({-44.0f, 89.0f}), torch::tensor({4, 4}));
  EXPECT_NEAR(e[0].item<double>(), 0.0, 1e-4);   // mirror
  EXPECT_NEAR(e[1].item<double>(), 1.0, 1e-4);   // 2 vs fold(89) = 1
  const auto ph = fold_phase(torch::tensor({{0.0f, -2.0f}, {3.0f, 4.0f}}));
  EXPECT_NEAR(ph[0][1].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(ph[1][0].item<double>(), 0.6, 1e-6);
  const auto sq = square_phase(torch::tensor({{0.0f, 1.0f}}));
  EXPECT_NEAR(sq[0][0].item<double>(), -1.0, 1e-6);
}

TEST(OrientAngles, FoldedConsistencyLossZeroForTrueFoldedPhasesOfEitherSign) {
  torch::manual_seed(4);
  const int64_t m = 200;
  const auto order = torch::randint(3, 9, {m});
  const auto theta_a = torch::rand({m}) * 360.0 - 180.0;  // both signs
  const auto offset = torch::rand({m}) * 15.0 + 5.0;
  const auto theta_b = theta_a + offset;
  // A network that only knows |theta|: random sign of the phase it outputs, any scale.
  const auto sign_a = torch::randint(0, 2, {m}) * 2 - 1, sign_b = torch::randint(0, 2, {m}) * 2 - 1;
  auto out = [&](const torch::Tensor& t, const torch::Tensor& sign) {
    const auto e = encode_angle(t, order);
    return torch::stack({e.select(1, 0), e.select(1, 1) * sign}, 1) * 2.5;
  };
  const auto loss = folded_consistency_loss(out(theta_a, sign_a), out(theta_b, sign_b), order, offset);
  EXPECT_LT(loss.item<double>(), 1e-5);
  // Wrong offset or a constant output: clearly positive.
  EXPECT_GT(folded_consistency_loss(out(theta_a, sign_a), out(theta_b + 7.0, sign_b), order, offset).item<double>(), 0.02);
  const auto constant = torch::tensor({{1.0f, 0.3f}}).expand({m, 2});
  EXPECT_GT(folded_consistency_loss(constant, constant, order, offset).item<double>(), 0.05);
}

TEST(OrientRender, ProfilePreprocessingCentresAndNormalises) {
  const auto img = render_polygons(one(5, 12.0, 8.0, 0.0, 0.0), 32, 4);
  const auto moved = render_polygons(one(5, 12.0, 8.0, 4.0, 1.0), 32, 4);
  const auto a = preprocess_profiles(img.sum(2), 0.0), b = preprocess_profiles(moved.sum(2), 0.0);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{1, 1, 32}));
  EXPECT_LT((a - b).abs().max().item<double>(), 0.05);  // the 4 px shift is undone
  EXPECT_NEAR(a.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(a.std().item<double>(), 1.0, 1e-3);
  EXPECT_THROW(preprocess_profiles(img, 1.0), emgan::ConfigError);  // an image, not a profile
}

TEST(OrientAngles, CrossPenaltyChargesOnlyPairsThatStraddleAMirrorPoint) {
  const auto order = torch::tensor({4, 4});
  const auto offset = torch::tensor({10.0f, 10.0f});  // phase offset n x 10 = 40 degrees
  // The degenerate constant output psi = 20 degrees (phase) satisfies psi_a + psi_b = 40.
  const auto c = encode_angle(torch::tensor({5.0f, 5.0f}), order);
  EXPECT_LT(folded_consistency_loss(c, c, order, offset, 0.0).item<double>(), 1e-6);
  // With the penalty: min(0.3, the other branch's 1 - cos 40 = 0.234) in both directions.
  EXPECT_NEAR(folded_consistency_loss(c, c, order, offset, 0.3).item<double>(), 1 - std::cos(40 * M_PI / 180), 1e-4);
  // True folded phases of pairs away from the mirror points (theta 12 -> 22 and -30 -> -20,
  // |theta| in [0, 45]) cost nothing with the penalty.
  const auto a = encode_angle(torch::tensor({12.0f, 30.0f}), order), b = encode_angle(torch::tensor({22.0f, 20.0f}), order);
  EXPECT_LT(folded_consistency_loss(a, b, order, offset, 0.3).item<double>(), 1e-6);
}

TEST(OrientAngles, RelativeCrossPenaltyFollowsTheOffset) {
  // Penalty x (1 - cos(n offset)): half of what a constant output pays on the branch
  // that does not cross, for every offset, where a constant 0.3 exceeded that cost at
  // small phase offsets (order 2, offset 10 degrees: 1 - cos 20 = 0.060).
  const auto order = torch::tensor({2, 4});
  const auto offset = torch::tensor({10.0f, 10.0f});  // phase offsets 20 and 40 degrees
  const auto c = encode_angle(torch::tensor({5.0f, 5.0f}), order);  // phases 10, 20: psi_a + psi_b = n offset
  const double c20 = 1 - std::cos(20 * M_PI / 180), c40 = 1 - std::cos(40 * M_PI / 180);
  // Per pair min(penalty, the non-crossing branch 1 - cos(n offset)), averaged.
  EXPECT_NEAR(folded_consistency_loss(c, c, order, offset, 0.3).item<double>(), 0.5 * (c20 + c40), 1e-4);
  EXPECT_NEAR(folded_consistency_loss(c, c, order, offset, 0.5, true).item<double>(), 0.5 * 0.5 * (c20 + c40), 1e-4);
  // A pair at its true angles that straddles the mirror point (theta -3 -> 7: folded 3
  // and 7, phases 6 and 14) against a dead zone at the mirror point (both at 0). a -> b:
  // the non-crossing branch, 1 - cos 12; b -> a: the crossing one, residual 0 + penalty.
  const auto o2 = torch::tensor({2});
  const auto one = torch::tensor({10.0f});
  const auto a = encode_angle(torch::tensor({3.0f}), o2), b = encode_angle(torch::tensor({7.0f}), o2);
  const auto dead = encode_angle(torch::tensor({0.0f}), o2);
  const double c12 = 1 - std::cos(12 * M_PI / 180);
  auto loss = [&](const torch::Tensor& x, const torch::Tensor& y, double pen, bool rel) {
    return folded_consistency_loss(x, y, o2, one, pen, rel).item<double>();
  };
  EXPECT_NEAR(loss(a, b, 0.5, true), 0.5 * (c12 + 0.5 * c20), 1e-4);
  EXPECT_NEAR(loss(dead, dead, 0.5, true), c20, 1e-4);
  // Relative: the truth is cheaper than the dead zone. Constant 0.3: the dead zone is
  // cheaper (b -> a pays min(0.3, 1 - cos 28)), which is what the tetrahedron learned.
  EXPECT_LT(loss(a, b, 0.5, true), loss(dead, dead, 0.5, true));
  EXPECT_GT(loss(a, b, 0.3, false), loss(dead, dead, 0.3, false));
  // Pairs away from the mirror points pay nothing in either mode.
  const auto p = encode_angle(torch::tensor({20.0f}), o2), q = encode_angle(torch::tensor({30.0f}), o2);
  EXPECT_LT(loss(p, q, 0.5, true), 1e-6);
  EXPECT_LT(loss(p, q, 0.3, false), 1e-6);
}

// The siamese in-plane term and the zero fix rely on this sense: rotate_images turns
// clockwise on screen, so a polygon at theta turned by phi is the polygon at theta - phi.
TEST(OrientRender, RotatingAPolygonImageSubtractsTheAngle) {
  for (double phi : {17.0, -25.0, 100.0}) {  // 2 phi far from a multiple of 72
    const auto img = render_polygons(one(5, 9.0, 11.0), 40, 4);
    const auto turned = rotate_images(img, torch::tensor({phi}, torch::kFloat32));
    const auto minus = render_polygons(one(5, 9.0 - phi, 11.0), 40, 4);
    const auto plus = render_polygons(one(5, 9.0 + phi, 11.0), 40, 4);
    const double err = (turned - minus).abs().mean().item<double>();
    const double err_other = (turned - plus).abs().mean().item<double>();
    EXPECT_LT(err, 0.01) << "phi=" << phi;
    EXPECT_GT(err_other, 3.0 * err) << "phi=" << phi << ": " << err_other << " vs " << err;
  }
}

TEST(OrientAngles, CircularMeanRespectsThePeriod) {
  // Square (period 90): 88 and 2 average to 0 (not 45); triangle (period 120): 10, 20, 30 -> 20.
  const auto mean = circular_mean_deg(torch::tensor({{88.0f, 2.0f, 0.0f}, {10.0f, 20.0f, 30.0f}}),
                                      torch::tensor({4, 3}));
  const auto err = symmetric_error_deg(mean, torch::tensor({0.0f, 20.0f}), torch::tensor({4, 3}));
  EXPECT_LT(err.max().item<double>(), 1e-3) << mean;
}

TEST(OrientRender, RadialProfileIgnoresTheAngleButSeesTheSize) {
  // A square turned by 30 degrees has the same azimuthal mean; a larger square does not.
  const auto a = render_polygons(one(4, 0.0, 9.0), 32, 4);
  const auto b = render_polygons(one(4, 30.0, 9.0), 32, 4);
  const auto big = render_polygons(one(4, 0.0, 12.0), 32, 4);
  const auto pa = radial_profile(a, 16), pb = radial_profile(b, 16), pbig = radial_profile(big, 16);
  ASSERT_EQ(pa.sizes(), (torch::IntArrayRef{1, 16}));
  EXPECT_LT((pa - pb).abs().max().item<double>(), 0.05);
  EXPECT_GT((pa - pbig).abs().max().item<double>(), 0.3);
  // The rings of a square of circumradius 9 (inradius 6.4): full inside 6, empty beyond 9,
  // partly covered in between.
  EXPECT_NEAR(pa[0][3].item<double>(), 1.0, 0.02);
  EXPECT_NEAR(pa[0][12].item<double>(), 0.0, 0.02);
  EXPECT_GT(pa[0][7].item<double>(), 0.2);
  EXPECT_LT(pa[0][7].item<double>(), 0.95);
  EXPECT_THROW(radial_profile(torch::zeros({1, 1, 8, 9}), 4), emgan::ConfigError);
}
