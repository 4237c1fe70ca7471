// Stats and comparison reports: stats.json, CSV, PNG plots and index.html.
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/micro/stats.h"
#include "emgan/report/charts.h"
#include "emgan/report/html.h"

namespace emgan::micro {

namespace {

std::vector<std::string> axis_names(const MicroStats& s) {
  return s.shape.size() == 3 ? std::vector<std::string>{"z", "y", "x"} : std::vector<std::string>{"y", "x"};
}

std::vector<double> radii(size_t n) {
  std::vector<double> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = static_cast<double>(i);
  return r;
}

/// Chord length distribution as (lengths, fraction of chords), up to the longest
/// length that holds chords.
std::pair<std::vector<double>, std::vector<double>> chord_curve(const Chords& c, size_t up_to = 0) {
  size_t last = c.counts.size();
  while (last > 1 && c.counts[last - 1] == 0) --last;
  if (up_to > 0) last = std::min(std::max(last, size_t{2}), up_to);
  std::vector<double> x, y;
  for (size_t l = 1; l < last; ++l) {
    x.push_back(static_cast<double>(l));
    y.push_back(c.number > 0 ? static_cast<double>(c.counts[l]) / static_cast<double>(c.number) : 0.0);
  }
  return {x, y};
}

size_t chord_extent(const Chords& c) {
  size_t last = c.counts.size();
  while (last > 1 && c.counts[last - 1] == 0) --last;
  return last;
}

std::string fmt(double v) { return report::format_number(v, 4); }

std::string tau_cell(const TauResult& t) {
  if (!t.percolating) return "inf (not percolating)";
  return fmt(t.tau) + (t.converged ? "" : " (not converged)");
}

std::string phase_name(const PhaseStats& p) {
  std::ostringstream os;
  os << "phase " << p.phase << " (value " << report::format_number(p.value, 4) << ")";
  return os.str();
}

void summary_table(report::Report& r, const MicroStats& s) {
  const auto axes = axis_names(s);
  std::vector<std::string> header{"phase", "value", "fraction", "surface area (1/voxel)", "isotropy (S2 RMS)"};
  for (const auto& a : axes) header.push_back("mean chord " + a);
  for (const auto& a : axes) header.push_back("tau " + a);
  for (const auto& a : axes) header.push_back("D_rel " + a);
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : s.phases) {
    std::vector<std::string> row{std::to_string(p.phase), fmt(p.value), fmt(p.fraction), fmt(p.surface_area),
                                 fmt(p.isotropy)};
    for (size_t a = 0; a < axes.size(); ++a) row.push_back(a < p.chords.size() ? fmt(p.chords[a].mean) : "-");
    for (size_t a = 0; a < axes.size(); ++a) row.push_back(a < p.tau.size() ? tau_cell(p.tau[a]) : "-");
    for (size_t a = 0; a < axes.size(); ++a) row.push_back(a < p.tau.size() ? fmt(p.tau[a].d_rel) : "-");
    rows.push_back(row);
  }
  r.table(header, rows, "per-phase statistics (lengths in voxels)");
  if (s.tpb_density)
    r.key_values({{"triple-phase boundary density", fmt(*s.tpb_density) + (s.shape.size() == 3 ? " edges per voxel"
                                                                                               : " corners per pixel")}});
}

std::vector<std::pair<std::string, std::string>> timing_items(const MicroStats& s) {
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& [k, v] : s.seconds) items.emplace_back(k, report::format_number(v, 3) + " s");
  return items;
}

}  // namespace

fs::path write_stats_report(const fs::path& dir, const MicroStats& s) {
  ensure_dir(dir);
  save_json_file(dir / "stats.json", s.to_json());
  const auto axes = axis_names(s);
  {
    std::ostringstream csv;
    csv << "phase,statistic,axis,value\n";
    for (const auto& p : s.phases) {
      csv << p.phase << ",fraction,," << p.fraction << "\n" << p.phase << ",surface_area,," << p.surface_area << "\n";
      csv << p.phase << ",isotropy,," << p.isotropy << "\n";
      for (size_t a = 0; a < p.chords.size(); ++a) csv << p.phase << ",mean_chord," << axes[a] << "," << p.chords[a].mean << "\n";
      for (size_t a = 0; a < p.tau.size(); ++a) {
        csv << p.phase << ",tau," << axes[a] << "," << (p.tau[a].percolating ? std::to_string(p.tau[a].tau) : "inf") << "\n";
        csv << p.phase << ",d_rel," << axes[a] << "," << p.tau[a].d_rel << "\n";
      }
    }
    if (s.tpb_density) csv << "-1,tpb_density,," << *s.tpb_density << "\n";
    write_text_atomic(dir / "stats.csv", csv.str());
  }
  report::Report r("Microstructure statistics: " + (s.source.empty() ? std::string("labels") : s.source));
  r.section("Summary");
  std::ostringstream shape;
  for (size_t i = 0; i < s.shape.size(); ++i) shape << (i ? " x " : "") << s.shape[i];
  r.key_values({{"source", s.source}, {"shape", shape.str()}, {"phases", std::to_string(s.num_phases)},
                {"S2 range", "r = 0.." + std::to_string(s.max_r) + " voxels"}});
  summary_table(r, s);
  r.section("Two-point correlation");
  std::vector<std::pair<std::string, std::string>> s2_images, chord_images;
  for (const auto& p : s.phases) {
    std::vector<report::Series> series;
    for (size_t a = 0; a < p.s2.size(); ++a) series.emplace_back("axis " + axes[a], radii(p.s2[a].size()), p.s2[a]);
    const std::string file = "s2_phase" + std::to_string(p.phase) + ".png";
    report::write_line_chart(dir / file, series,
                             report::ChartOptions().title("S2, " + phase_name(p)).x_label("r (voxels)").y_label("S2(r)"));
    s2_images.emplace_back(file, "S2 of " + phase_name(p) + " along each axis");
    std::vector<report::Series> cs;
    size_t extent = 2;
    for (const auto& c : p.chords) extent = std::max(extent, chord_extent(c));
    for (size_t a = 0; a < p.chords.size(); ++a) {
      auto [x, y] = chord_curve(p.chords[a], extent);
      if (!x.empty()) cs.emplace_back("axis " + axes[a], x, y);
    }
    if (!cs.empty()) {
      const std::string cf = "chords_phase" + std::to_string(p.phase) + ".png";
      report::write_line_chart(dir / cf, cs,
                               report::ChartOptions()
                                   .title("chord lengths, " + phase_name(p))
                                   .x_label("chord length (voxels)")
                                   .y_label("fraction of chords"));
      chord_images.emplace_back(cf, "chord length distribution of " + phase_name(p));
    }
  }
  r.image_row(s2_images, 480);
  r.section("Chord length distributions");
  if (!chord_images.empty()) r.image_row(chord_images, 480);
  r.section("Timing");
  r.key_values(timing_items(s), "wall time of each statistic (all phases)");
  r.section("Definitions");
  r.paragraph(
      "S2: non-periodic two-point correlation along each axis. Surface area: voxel faces between the phase and "
      "another phase per voxel, the outer boundary not counted. Chords: runs of the phase along each axis, those "
      "touching the sample boundary left out. Tortuosity: TauFactor method (steady diffusion, 1/0 at two opposite "
      "faces, no flux through the sides, only the percolating cluster conducts); tau = fraction / D_rel. See "
      "docs/MICRO.md.");
  r.json(Json{{"shape", s.shape}, {"num_phases", s.num_phases}, {"max_r", s.max_r}}, "analysis");
  return r.write(dir);
}

fs::path write_comparison_report(const fs::path& dir, const StatsComparison& c, const std::string& real_name,
                                 const std::string& other_name) {
  ensure_dir(dir);
  save_json_file(dir / "stats.json", c.to_json());
  write_text_atomic(dir / "comparison.csv", c.to_csv());
  const auto axes = axis_names(c.real);
  report::Report r("Microstructure comparison: " + real_name + " vs " + other_name);
  r.section("Summary");
  r.key_values({{real_name, c.real.source}, {other_name, c.other.source}});
  {
    std::vector<std::string> header{"phase", "statistic", real_name, other_name, "difference"};
    std::vector<std::vector<std::string>> rows;
    for (const auto& pc : c.phases) {
      const auto& pr = c.real.phase(pc.phase);
      const auto& po = c.other.phase(pc.phase);
      const auto ph = std::to_string(pc.phase);
      rows.push_back({ph, "volume fraction", fmt(pr.fraction), fmt(po.fraction), fmt(pc.fraction_abs_diff) + " (abs)"});
      for (size_t a = 0; a < pc.s2_rms_diff.size(); ++a)
        rows.push_back({ph, "S2 along " + axes[a], "", "", fmt(pc.s2_rms_diff[a]) + " (RMS)"});
      rows.push_back({ph, "surface area", fmt(pr.surface_area), fmt(po.surface_area),
                      fmt(100.0 * pc.surface_rel_diff) + " %"});
      for (size_t a = 0; a < pc.mean_chord_rel_diff.size(); ++a)
        rows.push_back({ph, "mean chord " + axes[a], fmt(pr.chords[a].mean), fmt(po.chords[a].mean),
                        fmt(100.0 * pc.mean_chord_rel_diff[a]) + " %"});
      for (size_t a = 0; a < pc.tau_rel_diff.size(); ++a)
        rows.push_back({ph, "tau " + axes[a], tau_cell(pr.tau[a]), tau_cell(po.tau[a]),
                        fmt(100.0 * pc.tau_rel_diff[a]) + " %"});
      rows.push_back({ph, "isotropy", fmt(pr.isotropy), fmt(po.isotropy), fmt(po.isotropy - pr.isotropy)});
    }
    if (c.tpb_rel_diff)
      rows.push_back({"all", "TPB density", fmt(*c.real.tpb_density), fmt(*c.other.tpb_density),
                      fmt(100.0 * *c.tpb_rel_diff) + " %"});
    r.table(header, rows, "differences: fraction absolute, S2 RMS over r, others relative to " + real_name);
  }
  {
    std::vector<std::string> cats;
    report::BarSeries br{real_name, {}, std::nullopt}, bo{other_name, {}, std::nullopt};
    for (const auto& pc : c.phases) {
      cats.push_back("phase " + std::to_string(pc.phase));
      br.values.push_back(c.real.phase(pc.phase).fraction);
      bo.values.push_back(c.other.phase(pc.phase).fraction);
    }
    report::write_bar_chart(dir / "fractions.png", cats, {br, bo},
                            report::ChartOptions().title("volume fractions").y_label("fraction").y_min(0.0));
    r.image("fractions.png", "volume fraction per phase", 480);
  }
  r.section("Two-point correlation");
  std::vector<std::pair<std::string, std::string>> chord_images;
  for (const auto& pc : c.phases) {
    const auto& pr = c.real.phase(pc.phase);
    const auto& po = c.other.phase(pc.phase);
    std::vector<std::pair<std::string, std::string>> s2_images;
    for (size_t a = 0; a < std::min(pr.s2.size(), po.s2.size()); ++a) {
      const std::string tag = "phase" + std::to_string(pc.phase) + "_axis" + axes[a];
      report::Series sr(real_name, radii(pr.s2[a].size()), pr.s2[a]);
      report::Series so(other_name, radii(po.s2[a].size()), po.s2[a]);
      report::write_line_chart(dir / ("s2_" + tag + ".png"), {sr, so},
                               report::ChartOptions()
                                   .title("S2, phase " + std::to_string(pc.phase) + ", axis " + axes[a])
                                   .x_label("r (voxels)")
                                   .y_label("S2(r)"));
      s2_images.emplace_back("s2_" + tag + ".png", "phase " + std::to_string(pc.phase) + " along " + axes[a] +
                                                       ": RMS diff " + fmt(pc.s2_rms_diff[a]));
      const size_t extent = std::max(chord_extent(pr.chords[a]), chord_extent(po.chords[a]));
      auto [xr, yr] = chord_curve(pr.chords[a], extent);
      auto [xo, yo] = chord_curve(po.chords[a], extent);
      if (!xr.empty() || !xo.empty()) {
        std::vector<report::Series> cs;
        if (!xr.empty()) cs.emplace_back(real_name, xr, yr);
        if (!xo.empty()) {
          cs.emplace_back(other_name, xo, yo);
        }
        report::write_line_chart(dir / ("chords_" + tag + ".png"), cs,
                                 report::ChartOptions()
                                     .title("chords, phase " + std::to_string(pc.phase) + ", axis " + axes[a])
                                     .x_label("chord length (voxels)")
                                     .y_label("fraction of chords"));
        chord_images.emplace_back("chords_" + tag + ".png", "chord lengths, phase " + std::to_string(pc.phase) +
                                                                " along " + axes[a]);
      }
    }
    r.image_row(s2_images, 400);
  }
  r.section("Chord length distributions");
  if (!chord_images.empty()) r.image_row(chord_images, 400);
  r.section("Timing");
  r.key_values(timing_items(c.real), real_name + ": wall time of each statistic");
  r.key_values(timing_items(c.other), other_name + ": wall time of each statistic");
  return r.write(dir);
}

}  // namespace emgan::micro
