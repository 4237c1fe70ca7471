// Golden values of the microstructure statistics.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/micro/stats.h"

namespace micro = emgan::micro;
using torch::indexing::Slice;

namespace {

/// Brute-force non-periodic S2 along `axis` of a small mask.
std::vector<double> s2_brute(const torch::Tensor& mask, int64_t axis, int64_t max_r) {
  const auto m = mask.to(torch::kDouble);
  const int64_t n = m.size(axis);
  std::vector<double> out;
  for (int64_t r = 0; r <= max_r; ++r) {
    const auto a = m.narrow(axis, 0, n - r);
    const auto b = m.narrow(axis, r, n - r);
    out.push_back((a * b).mean().item<double>());
  }
  return out;
}

/// Stripes along the last axis: `width` voxels of phase 1, then `width` of phase 0, ...
torch::Tensor stripes(int64_t rows, int64_t cols, int64_t width) {
  auto x = torch::arange(cols, torch::kLong);
  auto line = (torch::floor_divide(x, width) % 2 == 0).to(torch::kLong);
  return line.unsqueeze(0).expand({rows, cols}).contiguous();
}

}  // namespace

TEST(Stats, VolumeFraction) {
  auto l = torch::zeros({4, 5}, torch::kLong);
  l.index_put_({Slice(0, 2), Slice()}, 1);
  EXPECT_DOUBLE_EQ(micro::volume_fraction(l, 1), 0.5);
  EXPECT_DOUBLE_EQ(micro::volume_fraction(l, 2), 0.0);
}

TEST(Stats, S2OfZeroIsTheFractionAndMatchesBruteForce) {
  torch::manual_seed(7);
  const auto mask = torch::rand({9, 7, 6}) < 0.3;
  const double fraction = mask.to(torch::kDouble).mean().item<double>();
  for (int64_t axis = 0; axis < 3; ++axis) {
    const int64_t max_r = mask.size(axis) - 1;
    const auto s2 = micro::two_point_correlation(mask, axis, max_r);
    const auto ref = s2_brute(mask, axis, max_r);
    ASSERT_EQ(s2.size(), ref.size());
    EXPECT_DOUBLE_EQ(s2[0], fraction);
    for (size_t r = 0; r < s2.size(); ++r) EXPECT_NEAR(s2[r], ref[r], 1e-5) << "axis " << axis << " r " << r;
  }
}

TEST(Stats, S2OfStripesAndCheckerboard) {
  // Alternating columns 1,0,1,0,...: along x S2 = 0.5 at even r, 0 at odd r; along y 0.5.
  const auto l = stripes(6, 10, 1);
  const auto sx = micro::two_point_correlation(l == 1, 1, 6);
  const auto sy = micro::two_point_correlation(l == 1, 0, 5);
  for (size_t r = 0; r < sx.size(); ++r) EXPECT_NEAR(sx[r], r % 2 == 0 ? 0.5 : 0.0, 1e-6) << r;
  for (double v : sy) EXPECT_NEAR(v, 0.5, 1e-6);
  // Checkerboard: the same alternation along both axes.
  auto i = torch::arange(8).view({8, 1});
  auto j = torch::arange(8).view({1, 8});
  const auto board = ((i + j) % 2 == 0);
  for (int64_t axis = 0; axis < 2; ++axis) {
    const auto s = micro::two_point_correlation(board, axis, 7);
    for (size_t r = 0; r < s.size(); ++r) EXPECT_NEAR(s[r], r % 2 == 0 ? 0.5 : 0.0, 1e-6);
  }
  // Periodic S2 of stripes of width 2 over a whole number of periods: 1/2, 1/4, 0, 1/4, 1/2.
  const auto s4 = micro::two_point_correlation(stripes(3, 8, 2) == 1, 1, 4, /*periodic=*/true);
  const std::vector<double> expect{0.5, 0.25, 0.0, 0.25, 0.5};
  for (size_t r = 0; r < expect.size(); ++r) EXPECT_NEAR(s4[r], expect[r], 1e-6);
  EXPECT_THROW(micro::two_point_correlation(board, 0, 8), emgan::ConfigError);
  EXPECT_THROW(micro::two_point_correlation(board, 2, 3), emgan::ConfigError);
}

TEST(Stats, SurfaceAreaOfACubeInsideAVolume) {
  auto l = torch::zeros({20, 20, 20}, torch::kLong);
  l.index_put_({Slice(5, 15), Slice(5, 15), Slice(5, 15)}, 1);
  EXPECT_DOUBLE_EQ(micro::surface_area(l, 1), 0.075);  // 600 faces / 8000 voxels
  EXPECT_DOUBLE_EQ(micro::surface_area(l, 0), 0.075);  // the outer boundary does not count
  auto sq = torch::zeros({10, 10}, torch::kLong);
  sq.index_put_({Slice(2, 6), Slice(3, 7)}, 1);
  EXPECT_DOUBLE_EQ(micro::surface_area(sq, 1), 16.0 / 100.0);
}

// Three blocks: x < 2 phase 0; x >= 2, y < 2 phase 1; x >= 2, y >= 2 phase 2, in 4^3.
// Each pair meets on one 4 x 2 plane: 8 faces in 64 voxels.
TEST(Stats, InterfaceAreasOfThreeBlocks) {
  auto l = torch::zeros({4, 4, 4}, torch::kLong);
  l.index_put_({Slice(), Slice(0, 2), Slice(2, 4)}, 1);
  l.index_put_({Slice(), Slice(2, 4), Slice(2, 4)}, 2);
  EXPECT_DOUBLE_EQ(micro::interface_area(l, 0, 1), 8.0 / 64.0);
  EXPECT_DOUBLE_EQ(micro::interface_area(l, 2, 0), 8.0 / 64.0);
  EXPECT_DOUBLE_EQ(micro::interface_area(l, 1, 2), 8.0 / 64.0);
  EXPECT_DOUBLE_EQ(micro::interface_area(l, 1, 3), 0.0);  // a phase that is not there
  EXPECT_THROW(micro::interface_area(l, 1, 1), emgan::ConfigError);
  // The cube of the surface test: its one interface is its surface.
  auto cube = torch::zeros({20, 20, 20}, torch::kLong);
  cube.index_put_({Slice(5, 15), Slice(5, 15), Slice(5, 15)}, 1);
  EXPECT_DOUBLE_EQ(micro::interface_area(cube, 1, 0), 0.075);
  // A random 2D and 3D map: each phase's surface is the sum of its interfaces.
  torch::manual_seed(5);
  for (const auto& r : {torch::randint(0, 4, {9, 11, 7}, torch::kLong),
                        torch::randint(0, 3, {13, 10}, torch::kLong)}) {
    const int64_t phases = r.max().item<int64_t>() + 1;
    for (int64_t p = 0; p < phases; ++p) {
      double sum = 0.0;
      for (int64_t q = 0; q < phases; ++q)
        if (q != p) sum += micro::interface_area(r, p, q);
      EXPECT_NEAR(sum, micro::surface_area(r, p), 1e-12) << p;
    }
  }
  // compute_stats measures every pair (3+ phases), pools them and compares them.
  micro::StatsSettings no_tau;
  no_tau.tortuosity = false;
  const auto st = micro::compute_stats(l, no_tau);
  ASSERT_EQ(st.interfaces.size(), 3u);
  EXPECT_EQ(st.interfaces[1].a, 0);
  EXPECT_EQ(st.interfaces[1].b, 2);
  EXPECT_DOUBLE_EQ(st.interfaces[1].area, 0.125);
  EXPECT_EQ(st.to_json()["interfaces"].size(), 3u);
  EXPECT_TRUE(
      micro::compute_stats((l > 0).to(torch::kLong), no_tau).interfaces.empty());  // 2 phases
  auto moved = l.clone();  // phase 1 and 2 swap one block column: more 0|1, less 0|2
  moved.index_put_({Slice(), Slice(2, 3), Slice(2, 3)}, 1);
  const auto other = micro::compute_stats(moved, no_tau);
  const auto pooled = micro::pooled_stats({st, other}, "both");
  ASSERT_EQ(pooled.interfaces.size(), 3u);
  EXPECT_DOUBLE_EQ(pooled.interfaces[0].area,
                   0.5 * (st.interfaces[0].area + other.interfaces[0].area));
  const auto c = micro::compare_stats(st, other);
  ASSERT_EQ(c.interfaces.size(), 3u);
  EXPECT_DOUBLE_EQ(c.interfaces[0].real, 0.125);
  EXPECT_DOUBLE_EQ(c.interfaces[0].rel_diff, (other.interfaces[0].area - 0.125) / 0.125);
  EXPECT_GT(c.interfaces[0].rel_diff, 0.0);
  EXPECT_NE(micro::format_comparison(c).find("interface_0|1"), std::string::npos);
  EXPECT_NE(c.to_csv().find("-1,interface_0_2,"), std::string::npos);
  EXPECT_EQ(c.to_json()["interface_differences"].size(), 3u);
}

TEST(Stats, TriplePhaseBoundaryOfThreeBlocks) {
  // x < 2: phase 0; x >= 2, y < 2: phase 1; x >= 2, y >= 2: phase 2. The three meet
  // along one line parallel to z: 4 voxel edges in a 4^3 volume.
  auto l = torch::zeros({4, 4, 4}, torch::kLong);
  l.index_put_({Slice(), Slice(0, 2), Slice(2, 4)}, 1);
  l.index_put_({Slice(), Slice(2, 4), Slice(2, 4)}, 2);
  EXPECT_DOUBLE_EQ(micro::tpb_density(l), 4.0 / 64.0);
  EXPECT_DOUBLE_EQ(micro::tpb_density(l[0]), 1.0 / 16.0);  // 2D: one corner in 16 pixels
  EXPECT_THROW(micro::tpb_density((l > 0).to(torch::kLong)), emgan::ConfigError);
}

TEST(Stats, ChordsOfStripes) {
  // 111000111000 along x: one interior chord of each phase per row (length 3).
  const auto l = stripes(5, 12, 3);
  const auto c1 = micro::chord_lengths(l == 1, 1);
  EXPECT_EQ(c1.number, 5);
  EXPECT_DOUBLE_EQ(c1.mean, 3.0);
  EXPECT_EQ(c1.counts[3], 5);
  const auto c0 = micro::chord_lengths(l == 0, 1);
  EXPECT_EQ(c0.number, 5);
  EXPECT_DOUBLE_EQ(c0.mean, 3.0);
  const auto all = micro::chord_lengths(l == 1, 1, /*edge_chords=*/true);
  EXPECT_EQ(all.number, 10);
  // Along y every chord spans the sample: none is interior; all have length 5.
  EXPECT_EQ(micro::chord_lengths(l == 1, 0).number, 0);
  const auto ey = micro::chord_lengths(l == 1, 0, true);
  EXPECT_EQ(ey.number, 6);  // 6 columns of phase 1
  EXPECT_DOUBLE_EQ(ey.mean, 5.0);
  // Checkerboard: every chord has length 1 along both axes.
  auto i = torch::arange(8).view({8, 1});
  auto j = torch::arange(8).view({1, 8});
  const auto board = ((i + j) % 2 == 0);
  for (int64_t axis = 0; axis < 2; ++axis) {
    const auto c = micro::chord_lengths(board, axis);
    EXPECT_DOUBLE_EQ(c.mean, 1.0);
    EXPECT_EQ(c.number, 8 * 3);  // 4 chords per line, one of them touching the boundary
  }
}

TEST(Stats, TortuosityOfAStraightChannelIsOne) {
  auto m = torch::zeros({24, 10, 10}, torch::kBool);
  m.index_put_({Slice(), Slice(3, 7), Slice(2, 5)}, true);  // 4 x 3 channel along z
  const auto t = micro::tortuosity(m, 0);
  EXPECT_TRUE(t.percolating);
  EXPECT_TRUE(t.converged);
  EXPECT_NEAR(t.d_rel, 12.0 / 100.0, 1e-4);
  EXPECT_NEAR(t.tau, 1.0, 1e-3);
  // Fully open volume, 2D as well.
  EXPECT_NEAR(micro::tortuosity(torch::ones({16, 9}, torch::kBool), 1).tau, 1.0, 1e-3);
  // The channel does not connect the faces normal to y or x: infinite tau.
  const auto ty = micro::tortuosity(m, 1);
  EXPECT_FALSE(ty.percolating);
  EXPECT_TRUE(std::isinf(ty.tau));
  EXPECT_EQ(ty.d_rel, 0.0);
}

TEST(Stats, NonPercolatingPhaseHasInfiniteTau) {
  auto m = torch::ones({12, 8, 8}, torch::kBool);
  m.index_put_({6, Slice(), Slice()}, false);  // a closed wall across the transport axis
  const auto t = micro::tortuosity(m, 0);
  EXPECT_FALSE(t.percolating);
  EXPECT_TRUE(std::isinf(t.tau));
  EXPECT_EQ(micro::percolating_cluster(m, 0).sum().item<int64_t>(), 0);
  EXPECT_TRUE(micro::tortuosity(m, 1).percolating);
}

TEST(Stats, DeadEndsAndIslandsDoNotConduct) {
  auto channel = torch::zeros({20, 12, 12}, torch::kBool);
  channel.index_put_({Slice(), Slice(4, 8), Slice(4, 8)}, true);
  auto decorated = channel.clone();
  decorated.index_put_({10, Slice(8, 12), Slice(4, 8)}, true);  // a dead-end pocket, one layer thick
  decorated.index_put_({Slice(2, 5), Slice(0, 2), Slice(0, 2)}, true);    // an island
  const auto a = micro::tortuosity(channel, 0);
  const auto b = micro::tortuosity(decorated, 0);
  EXPECT_NEAR(b.d_rel, a.d_rel, 1e-4);
  EXPECT_NEAR(b.percolating_fraction, a.percolating_fraction + 16.0 / 2880.0, 1e-9);
  // tau counts the whole phase: more phase for the same flux is more tortuous.
  const double fraction = decorated.to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(b.tau, fraction / a.d_rel, 1e-3);
  EXPECT_GT(b.tau, 1.05);
}

TEST(Stats, TortuosityOfABentChannelAndSolverAgreement) {
  // A channel that steps sideways half way: longer path, tau > 1.
  auto m = torch::zeros({64, 6, 64}, torch::kBool);
  m.index_put_({Slice(0, 36), Slice(), Slice(4, 16)}, true);
  m.index_put_({Slice(28, 36), Slice(), Slice(4, 52)}, true);
  m.index_put_({Slice(28, 64), Slice(), Slice(40, 52)}, true);
  micro::TauOptions fine;
  fine.tolerance(1e-5);
  const auto multi = micro::tortuosity(m, 0, fine);
  const auto plain = micro::tortuosity(m, 0, micro::TauOptions().tolerance(1e-5).multilevel(false));
  EXPECT_TRUE(multi.converged);
  EXPECT_TRUE(plain.converged);
  EXPECT_GT(multi.tau, 1.5);
  EXPECT_NEAR(multi.tau, plain.tau, 1e-3 * plain.tau);
  // The 2D slice gives the same answer (the structure is constant along y).
  const auto flat = micro::tortuosity(m.select(1, 0), 0, fine);
  EXPECT_NEAR(flat.tau, plain.tau, 1e-3 * plain.tau);
  // The tensor-operation solver (used on GPUs) runs the same scheme: same sweeps, same tau.
  const auto tensor = micro::tortuosity(m, 0, micro::TauOptions().tolerance(1e-5).tensor_ops(true));
  EXPECT_EQ(tensor.iterations, multi.iterations);
  EXPECT_NEAR(tensor.tau, multi.tau, 1e-9 * multi.tau);
  // The iteration guard stops with converged = false.
  const auto capped = micro::tortuosity(m, 0, micro::TauOptions().max_iterations(3).multilevel(false));
  EXPECT_FALSE(capped.converged);
  EXPECT_EQ(capped.iterations, 3);
}

TEST(Stats, ComputeStatsOfARandomThreePhaseVolume) {
  torch::manual_seed(11);
  const auto labels = torch::randint(0, 3, {16, 16, 16}, torch::kLong);
  micro::StatsSettings s;
  s.max_r = 6;
  const auto st = micro::compute_stats(labels, s, {0.0, 85.0, 170.0}, "random");
  ASSERT_EQ(st.phases.size(), 3u);
  double total = 0.0;
  for (const auto& p : st.phases) {
    total += p.fraction;
    ASSERT_EQ(p.s2.size(), 3u);
    EXPECT_EQ(p.s2[0].size(), 7u);
    EXPECT_DOUBLE_EQ(p.s2[1][0], p.fraction);
    // Uncorrelated voxels: S2(r > 0) ~ fraction^2; the axes agree closely.
    EXPECT_NEAR(p.s2[2][3], p.fraction * p.fraction, 0.02);
    EXPECT_LT(p.isotropy, 0.02);
    EXPECT_EQ(p.tau.size(), 3u);
    EXPECT_EQ(p.chords.size(), 3u);
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(st.phase(1).value, 85.0);
  ASSERT_TRUE(st.tpb_density.has_value());
  EXPECT_GT(*st.tpb_density, 0.0);
  EXPECT_THROW(st.phase(5), emgan::ConfigError);
  const auto j = st.to_json();
  EXPECT_EQ(j["phases"].size(), 3u);
  EXPECT_TRUE(j["phases"][0].contains("tortuosity"));
  EXPECT_FALSE(micro::format_stats(st).empty());
  EXPECT_THROW(micro::compute_stats(labels, micro::StatsSettings{20}), emgan::ConfigError);
  EXPECT_THROW(micro::compute_stats(labels.to(torch::kFloat)), emgan::ConfigError);
}

TEST(Stats, ChordDistanceIsTheTotalVariationBetweenLengthDistributions) {
  const auto chords = [](std::vector<int64_t> counts) {
    micro::Chords c;
    c.counts = counts;
    for (size_t l = 0; l < counts.size(); ++l) {
      c.number += counts[l];
      c.mean += static_cast<double>(counts[l] * static_cast<int64_t>(l));
    }
    if (c.number > 0) c.mean /= static_cast<double>(c.number);
    return c;
  };
  const auto a = chords({0, 1, 1});        // lengths 1 and 2
  const auto a10 = chords({0, 10, 10});    // the same distribution from ten times the chords
  const auto b = chords({0, 1, 0, 1});     // lengths 1 and 3: half the mass moved
  const auto c = chords({0, 0, 0, 0, 5});  // only length 4: nothing shared with a
  EXPECT_DOUBLE_EQ(micro::chord_distance(a, a), 0.0);
  EXPECT_DOUBLE_EQ(micro::chord_distance(a, a10), 0.0);
  EXPECT_DOUBLE_EQ(micro::chord_distance(a, b), 0.5);
  EXPECT_DOUBLE_EQ(micro::chord_distance(b, a), 0.5);
  EXPECT_DOUBLE_EQ(micro::chord_distance(a, c), 1.0);
  // {1: 3/4, 2: 1/4} vs {1: 1/2, 2: 1/2}: 0.5 * (1/4 + 1/4).
  EXPECT_DOUBLE_EQ(micro::chord_distance(chords({0, 3, 1}), a), 0.25);
  EXPECT_TRUE(std::isnan(micro::chord_distance(a, chords({0, 0, 0}))));
  // Same mean chord (3), different distributions: lengths all 3 vs half 2 and half 4.
  const auto l3 = chords({0, 0, 0, 4});
  const auto l24 = chords({0, 0, 2, 0, 2});
  EXPECT_DOUBLE_EQ(l3.mean, l24.mean);
  EXPECT_DOUBLE_EQ(micro::chord_distance(l3, l24), 1.0);
  // Through compare_stats: stripes of width 3 vs width 2 and 4 alternating, along x.
  auto even = torch::zeros({6, 24}, torch::kLong);
  auto mixed = torch::zeros({6, 24}, torch::kLong);
  for (int64_t x = 0; x < 24; ++x) {
    even.index_put_({Slice(), x}, (x / 3) % 2);
    const int64_t cell = x % 12;  // 2 of phase 1, 4 of 0, 4 of 1, 2 of 0 -> chords 2, 4, 4, 2
    mixed.index_put_({Slice(), x}, (cell < 2 || (cell >= 6 && cell < 10)) ? 1 : 0);
  }
  micro::StatsSettings s;
  s.max_r = 4;
  s.tortuosity = false;
  const auto cmp = micro::compare_stats(micro::compute_stats(even, s, {}, "even"),
                                        micro::compute_stats(mixed, s, {}, "mixed"));
  ASSERT_EQ(cmp.phases.size(), 2u);
  for (const auto& pc : cmp.phases) {
    ASSERT_EQ(pc.chord_distance.size(), 2u);
    EXPECT_TRUE(std::isnan(pc.chord_distance[0]));  // along y every chord touches the border
    EXPECT_DOUBLE_EQ(pc.chord_distance[1], 1.0);    // all 3 vs only 2 and 4
  }
  EXPECT_NE(cmp.to_csv().find("chord_distance"), std::string::npos);
  EXPECT_NE(micro::format_comparison(cmp).find("chord_dist_x"), std::string::npos);
  EXPECT_TRUE(cmp.to_json()["differences"][0].contains("chord_distance"));
}

TEST(Stats, SliceConnectivityIsTheLargestClusterShareOfEachTile) {
  // 2D, one 8 x 8 tile: clusters of 6 and 2 pixels (4-connected; the diagonal pixel
  // at (5, 5) touches the 6-cluster only at a corner, so it is a third cluster of 1).
  auto m = torch::zeros({8, 8}, torch::kBool);
  m.index_put_({Slice(0, 2), Slice(0, 3)}, true);  // 6
  m.index_put_({4, Slice(6, 8)}, true);            // 2
  m.index_put_({2, 3}, true);                      // 1, diagonal to (1, 2)
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(m, 8), 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(m, 64),
                   6.0 / 9.0);  // a side shorter than the window: one tile
  // Window 4: four tiles; top-left holds 6 of the 6 + 1 pixels in it ... (2, 3) is in
  // the top-left tile (rows 0-3, cols 0-3): 6 / 7; top-right none; bottom-left none;
  // bottom-right holds the 2-cluster: 1. Mean over the two tiles with the phase.
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(m, 4), 0.5 * (6.0 / 7.0 + 1.0));
  // The rest of a side beyond the last whole tile is left out: 10 x 10, window 4,
  // the phase only in rows 8-9 -> no tile holds it.
  auto edge = torch::zeros({10, 10}, torch::kBool);
  edge.index_put_({Slice(8, 10), Slice()}, true);
  EXPECT_TRUE(std::isnan(micro::slice_connectivity(edge, 4)));
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(edge, 10), 1.0);
  EXPECT_TRUE(std::isnan(micro::slice_connectivity(torch::zeros({8, 8}), 4)));
  // 3D: tubes along z at (y, x) in {0, 4}^2 of a 4 x 8 x 8 volume. Slices normal to z
  // show four separate dots (1/4); slices normal to y or x show two separate lines
  // (1/2) where they cut the tubes and nothing elsewhere (left out).
  auto tubes = torch::zeros({4, 8, 8}, torch::kBool);
  for (int64_t y : {0, 4})
    for (int64_t x : {0, 4}) tubes.index_put_({Slice(), y, x}, true);
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(tubes, 8, 0), 0.25);
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(tubes, 8, 1), 0.5);
  EXPECT_DOUBLE_EQ(micro::slice_connectivity(tubes.to(torch::kFloat), 8, 2), 0.5);
  EXPECT_THROW(micro::slice_connectivity(tubes, 8, 3), emgan::ConfigError);
  EXPECT_THROW(micro::slice_connectivity(tubes, 1, 0), emgan::ConfigError);
  EXPECT_THROW(micro::slice_connectivity(m, 8, 0), emgan::ConfigError);  // 2D takes no normal

  // Through compute_stats and compare_stats: a 2 x 2 checkerboard of blocks vs
  // horizontal bands of the same fraction. The bands' phase is one cluster per band
  // (two bands in a tile: 1/2); the checkerboard's blocks of 4 are separate (1/4).
  micro::StatsSettings s;
  s.max_r = 2;
  s.tortuosity = false;
  s.cluster_window = 8;
  auto checker = torch::zeros({8, 8}, torch::kLong);
  auto bands = torch::zeros({8, 8}, torch::kLong);
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x) {
      checker.index_put_({y, x}, ((y / 2) + (x / 2)) % 2);
      bands.index_put_({y, x}, (y / 2) % 2);
    }
  const auto sc = micro::compute_stats(checker, s, {}, "checker");
  const auto sb = micro::compute_stats(bands, s, {}, "bands");
  EXPECT_EQ(sc.cluster_window, 8);
  ASSERT_EQ(sc.phases[1].connectivity.size(), 1u);
  EXPECT_DOUBLE_EQ(sc.phases[1].connectivity[0], 1.0 / 8.0);  // 8 blocks of phase 1
  EXPECT_DOUBLE_EQ(sb.phases[1].connectivity[0], 0.5);
  const auto cmp = micro::compare_stats(sc, sb);
  ASSERT_EQ(cmp.phases[1].connectivity_diff.size(), 1u);
  EXPECT_DOUBLE_EQ(cmp.phases[1].connectivity_diff[0],
                   0.5 - 1.0 / 8.0);  // signed: bands are more connected
  EXPECT_NE(cmp.to_csv().find("1,connectivity,,0.125,0.5,0.375"), std::string::npos)
      << cmp.to_csv();
  EXPECT_TRUE(cmp.to_json()["differences"][1].contains("connectivity_diff"));
  EXPECT_NE(micro::format_comparison(cmp).find("connectivity"), std::string::npos);
  EXPECT_NE(micro::format_stats(sc).find("conn"), std::string::npos);
  // Pooled: the mean of the samples; spread: absolute differences.
  EXPECT_DOUBLE_EQ(micro::pooled_stats({sc, sb}, "both").phases[1].connectivity[0],
                   0.5 * (0.125 + 0.5));
  const auto spread_c = micro::stat_spread({sc, sc});
  const auto spread_b = micro::stat_spread({sb, sb});
  const auto* conn = micro::find_spread(spread_c, 1, "connectivity");
  ASSERT_NE(conn, nullptr);
  EXPECT_DOUBLE_EQ(
      micro::spread_difference(*conn, *micro::find_spread(spread_b, 1, "connectivity")), 0.375);
  // Different windows do not compare.
  s.cluster_window = 4;
  const auto sb4 = micro::compute_stats(bands, s, {}, "bands, window 4");
  EXPECT_THROW(micro::compare_stats(sc, sb4), emgan::ConfigError);
  EXPECT_THROW(micro::pooled_stats({sc, sb4}, "mixed"), emgan::ConfigError);
  s.cluster_window = 1;
  EXPECT_THROW(micro::compute_stats(bands, s, {}, "bad window"), emgan::ConfigError);
}

TEST(Stats, CompareGivesZeroForItselfAndKnownDifferences) {
  auto a = torch::zeros({12, 12, 12}, torch::kLong);
  a.index_put_({Slice(0, 6), Slice(), Slice()}, 1);  // fraction 0.5
  auto b = torch::zeros({12, 12, 12}, torch::kLong);
  b.index_put_({Slice(0, 3), Slice(), Slice()}, 1);  // fraction 0.25
  micro::StatsSettings s;
  s.max_r = 4;
  const auto sa = micro::compute_stats(a, s, {}, "a");
  const auto sb = micro::compute_stats(b, s, {}, "b");
  const auto self = micro::compare_stats(sa, sa);
  for (const auto& p : self.phases) {
    EXPECT_EQ(p.fraction_abs_diff, 0.0);
    EXPECT_EQ(p.s2_rms_diff_mean, 0.0);
    EXPECT_EQ(p.surface_rel_diff, 0.0);
    for (double d : p.chord_distance) EXPECT_TRUE(std::isnan(d) || d == 0.0);
  }
  const auto c = micro::compare_stats(sa, sb);
  ASSERT_EQ(c.phases.size(), 2u);
  EXPECT_NEAR(c.phases[1].fraction_abs_diff, 0.25, 1e-12);
  // Along y and x S2 is the fraction at every r: RMS difference 0.5 - 0.25.
  EXPECT_NEAR(c.phases[1].s2_rms_diff[1], 0.25, 1e-6);
  EXPECT_NEAR(c.phases[1].surface_rel_diff, 0.0, 1e-12);  // one interface of 144 faces each
  EXPECT_FALSE(c.to_csv().empty());
  EXPECT_TRUE(c.to_json().contains("differences"));
  const auto flat = micro::compute_stats(a[0], s, {}, "flat");
  EXPECT_THROW(micro::compare_stats(sa, flat), emgan::ConfigError);
}

TEST(Stats, PooledStatsAverageTheSamplesAndPoolTheirChords) {
  // Stripes of width 2 and of width 4 along x over 16 x 16 images.
  const auto a = stripes(16, 16, 2);
  const auto b = stripes(16, 16, 4);
  micro::StatsSettings s;
  s.max_r = 6;
  const auto sa = micro::compute_stats(a, s, {}, "a");
  const auto sb = micro::compute_stats(b, s, {}, "b");
  const auto p = micro::pooled_stats({sa, sb}, "both");
  EXPECT_EQ(p.source, "both");
  ASSERT_EQ(p.phases.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& pa = sa.phases[i];
    const auto& pb = sb.phases[i];
    const auto& pp = p.phases[i];
    EXPECT_NEAR(pp.fraction, 0.5 * (pa.fraction + pb.fraction), 1e-12);
    EXPECT_NEAR(pp.surface_area, 0.5 * (pa.surface_area + pb.surface_area), 1e-12);
    for (size_t ax = 0; ax < 2; ++ax)
      for (size_t r = 0; r <= 6; ++r)
        EXPECT_NEAR(pp.s2[ax][r], 0.5 * (pa.s2[ax][r] + pb.s2[ax][r]), 1e-12);
    // Chords along x: lengths 2 and 4 pooled; the mean is over all chords.
    const auto& ca = pa.chords[1];
    const auto& cb = pb.chords[1];
    EXPECT_EQ(pp.chords[1].number, ca.number + cb.number);
    EXPECT_NEAR(pp.chords[1].mean,
                (2.0 * ca.number + 4.0 * cb.number) / static_cast<double>(ca.number + cb.number),
                1e-12);
    EXPECT_EQ(pp.chords[1].counts[2], ca.counts[2]);
    EXPECT_EQ(pp.chords[1].counts[4], cb.counts[4]);
    // Along y every stripe is a straight channel (tau 1); along x nothing percolates.
    ASSERT_EQ(pp.tau.size(), 2u);
    EXPECT_NEAR(pp.tau[0].tau, 1.0, 1e-3);
    EXPECT_FALSE(pp.tau[1].percolating);
    EXPECT_TRUE(std::isinf(pp.tau[1].tau));
  }
  // The isotropy follows the mean curves: S2 along y is the fraction at every r.
  EXPECT_GT(p.phases[1].isotropy, 0.0);
  // Itself pooled with itself is itself.
  const auto same = micro::compare_stats(sa, micro::pooled_stats({sa, sa}, "a twice"));
  for (const auto& d : same.phases) {
    EXPECT_NEAR(d.fraction_abs_diff, 0.0, 1e-12);
    EXPECT_NEAR(d.s2_rms_diff_mean, 0.0, 1e-12);
  }
  // Sets that cannot be pooled are named.
  s.max_r = 4;
  const auto other_r = micro::compute_stats(a, s, {}, "r4");
  EXPECT_THROW(micro::pooled_stats({sa, other_r}, "mixed"), emgan::ConfigError);
  EXPECT_THROW(micro::pooled_stats({}, "none"), emgan::ConfigError);
}

TEST(Stats, SpreadOverSamplesHasKnownMeansAndDeviations) {
  // Three hand-made samples: fractions 0.2, 0.4, 0.6 (mean 0.4, sd 0.2); tau along y
  // 2, 4 and infinite (not percolating: counted apart, mean 3 over the finite two).
  std::vector<micro::MicroStats> samples(3);
  const double fractions[3] = {0.2, 0.4, 0.6};
  const double taus[3] = {2.0, 4.0, 0.0};
  for (int i = 0; i < 3; ++i) {
    auto& s = samples[i];
    s.source = "s" + std::to_string(i);
    s.shape = {8, 8};
    s.num_phases = 1;
    micro::PhaseStats p;
    p.fraction = fractions[i];
    p.surface_area = 0.5;
    p.chords.resize(2);
    p.chords[0].mean = 3.0 + i;
    p.tau.resize(2);
    p.tau[0].percolating = i < 2;
    p.tau[0].tau = i < 2 ? taus[i] : std::numeric_limits<double>::infinity();
    p.tau[1].percolating = true;
    p.tau[1].tau = 1.0;
    s.phases.push_back(p);
    s.tpb_density = 0.1 * (i + 1);
    s.interfaces = {{0, 2, 0.01 * (i + 1)}};
  }
  const auto spread = micro::stat_spread(samples);
  auto get = [&](int64_t phase, const std::string& name) {
    for (const auto& s : spread)
      if (s.phase == phase && s.name == name) return s;
    ADD_FAILURE() << "no " << name;
    return micro::StatSpread{};
  };
  const auto f = get(0, "fraction");
  EXPECT_EQ(f.n, 3);
  EXPECT_NEAR(f.mean, 0.4, 1e-12);
  EXPECT_NEAR(f.sd, 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(f.min, 0.2);
  EXPECT_DOUBLE_EQ(f.max, 0.6);
  EXPECT_NEAR(get(0, "surface_area").sd, 0.0, 1e-12);
  EXPECT_NEAR(get(0, "mean_chord_y").mean, 4.0, 1e-12);
  const auto ty = get(0, "tau_y");
  EXPECT_EQ(ty.n, 2);
  EXPECT_EQ(ty.infinite, 1);
  EXPECT_NEAR(ty.mean, 3.0, 1e-12);
  EXPECT_NEAR(ty.sd, std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(get(0, "tau_x").mean, 1.0, 1e-12);
  const auto tpb = get(-1, "tpb_density");
  EXPECT_NEAR(tpb.mean, 0.2, 1e-12);
  EXPECT_NEAR(get(-1, "interface_0_2").mean, 0.02, 1e-12);
  EXPECT_EQ(spread.back().name, "tpb_density");  // the all-phase statistic comes last
  // The text table puts a second set beside the first, with the difference in sd.
  auto shifted = samples;
  for (auto& s : shifted) s.phases[0].fraction += 0.1;
  const auto other = micro::stat_spread(shifted);
  const auto text = micro::format_spread(spread, &other);
  EXPECT_NE(text.find("0.1 abs (0.5 sd)"), std::string::npos) << text;
  EXPECT_THROW(micro::stat_spread({}), emgan::ConfigError);
  auto three_d = samples[0];
  three_d.shape = {8, 8, 8};
  EXPECT_THROW(micro::stat_spread({samples[0], three_d}), emgan::ConfigError);
}
