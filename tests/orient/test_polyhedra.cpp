// 3D shapes, projections, rotation groups and distances modulo symmetry.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/orient/polyhedra.h"

using namespace emgan::orient;

TEST(OrientPolyhedra, GroupSizes) {
  EXPECT_EQ(rotation_group("T").size(0), 12);
  EXPECT_EQ(rotation_group("O").size(0), 24);
  EXPECT_EQ(rotation_group("I").size(0), 60);
  EXPECT_EQ(rotation_group("D5").size(0), 10);
  const auto g = rotation_group("I");
  const auto eye = torch::eye(3).expand({60, 3, 3});
  EXPECT_LT((torch::matmul(g, g.transpose(1, 2)) - eye).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(rotation_group("Q"), emgan::ConfigError);
}

TEST(OrientPolyhedra, EveryShapeIsInvariantUnderItsGroup) {
  torch::manual_seed(0);
  const auto r = rotation_from_6d(torch::randn({1, 6}));
  for (const auto& name : polyhedron_names()) {
    const auto shape = make_polyhedron(name);
    const auto group = rotation_group(shape.group);
    const auto base = project_polyhedron(shape, r, 24, 9.0, 1);
    const auto rg = torch::matmul(r.expand({group.size(0), 3, 3}), group);
    const auto all = project_polyhedron(shape, rg, 24, 9.0, 1);
    EXPECT_LT((all - base).abs().max().item<double>(), 1e-3) << name;
    EXPECT_GT(base.max().item<double>(), 5.0) << name;  // a solid, chords of several pixels
  }
}

TEST(OrientPolyhedra, CubeProjectionGoldenValues) {
  // A cube of circumradius sqrt(3) * 5 px has half-side 5 px: seen face-on, a 10 x 10
  // square of chord 10; the integral is the volume 1000 px^3.
  const auto shape = make_polyhedron("cube");
  const auto img = project_polyhedron(shape, torch::eye(3).unsqueeze(0), 32, std::sqrt(3.0) * 5.0, 4);
  EXPECT_NEAR(img.max().item<double>(), 10.0, 1e-3);
  EXPECT_NEAR(img.sum().item<double>(), 1000.0, 5.0);
  // Any rotation keeps the volume.
  const auto tilted = project_polyhedron(shape, axis_angle_rotation(torch::tensor({33.0}), {1, 1, 0}), 32,
                                         std::sqrt(3.0) * 5.0, 4);
  EXPECT_NEAR(tilted.sum().item<double>(), 1000.0, 10.0);
}

TEST(OrientPolyhedra, DistanceModuloGroupIsZeroForEquivalentRotations) {
  torch::manual_seed(1);
  for (const char* name : {"T", "O", "I", "D5"}) {
    const auto group = rotation_group(name);
    const int64_t g = group.size(0);
    const auto a = rotation_from_6d(torch::randn({g, 6}));
    const auto b = torch::matmul(a, group);
    EXPECT_LT(geodesic_mod_group_deg(a, b, group).max().item<double>(), 0.1) << name;
    EXPECT_GT(geodesic_deg(a, b).max().item<double>(), 60.0) << name;  // plain distance is not zero
  }
  // A 10-degree turn about z is 10 degrees modulo any group (all group angles >= 36).
  const auto a = torch::eye(3).unsqueeze(0);
  const auto b = axis_angle_rotation(torch::tensor({10.0}), {0, 0, 1});
  EXPECT_NEAR(geodesic_mod_group_deg(a, b, rotation_group("O")).item<double>(), 10.0, 0.05);
  // 80 degrees about z is 10 degrees away from the cube's 90-degree symmetry.
  const auto c = axis_angle_rotation(torch::tensor({80.0}), {0, 0, 1});
  EXPECT_NEAR(geodesic_mod_group_deg(a, c, rotation_group("O")).item<double>(), 10.0, 0.05);
}

TEST(OrientPolyhedra, SixDRepresentationRoundTrip) {
  torch::manual_seed(2);
  const auto r = rotation_from_6d(torch::randn({8, 6}));
  EXPECT_LT((torch::det(r) - 1).abs().max().item<double>(), 1e-5);
  const auto back = rotation_from_6d(rotation_to_6d(r));
  EXPECT_LT(geodesic_deg(r, back).max().item<double>(), 0.1);
}

TEST(OrientPolyhedra, SingleAxisTiltOrdersPeriodsAndMirror) {
  // Tilt about the image y axis: the projection repeats with period 360/k, differs half
  // a period on, and equals the one at -theta (the beam cannot tell z from -z).
  const std::vector<std::pair<std::string, int64_t>> expected{
      {"tetrahedron", 2}, {"cube", 4}, {"octahedron", 4}, {"cuboctahedron", 4},
      {"decahedron", 5},  {"icosahedron", 5}, {"truncated_octahedron", 4}};
  ASSERT_EQ(expected.size(), polyhedron_names().size());
  for (const auto& [name, k] : expected) {
    EXPECT_EQ(tilt_order(name), k) << name;
    const double period = 360.0 / static_cast<double>(k);
    const double t = 0.23 * period;  // a generic tilt (not a mirror point)
    const auto angles = torch::tensor({t, t + period, t + 2 * period, -t, t + period / 2, t + 0.1 * period});
    const auto img = project_polyhedron(make_polyhedron(name), tilt_rotations(name, angles), 32, 12.0, 2);
    const auto diff = [&](int64_t i) { return (img[i] - img[0]).abs().max().item<double>(); };
    EXPECT_LT(diff(1), 1e-3) << name << ": not periodic with " << period;
    EXPECT_LT(diff(2), 1e-3) << name;
    EXPECT_LT(diff(3), 1e-3) << name << ": projection at -theta differs (mirror)";
    EXPECT_GT(diff(4), 0.5) << name << ": half the period gives the same projection (period too long)";
    EXPECT_GT(diff(5), 0.5) << name << ": a tenth of the period gives the same projection";
  }
  EXPECT_THROW(tilt_order("sphere"), emgan::ConfigError);
}

TEST(OrientPolyhedra, ProjectionCentreOffsetShiftsTheImage) {
  const auto shape = make_polyhedron("octahedron");
  const auto r = tilt_rotations("octahedron", torch::tensor({17.0, 17.0}));
  const auto img = project_polyhedron(shape, r, 32, 8.0, 1, torch::tensor({0.0f, 3.0f}), torch::tensor({0.0f, -2.0f}));
  // Whole-pixel shift: the second image is the first moved 3 px right and 2 px up.
  const auto moved = torch::roll(img[0], {-2, 3}, {1, 2});
  EXPECT_LT((img[1] - moved).abs().max().item<double>(), 1e-3);
  EXPECT_NEAR(img[1].sum().item<double>(), img[0].sum().item<double>(), 1e-2);
}
