// Stats and comparison reports: stats.json, CSV, PNG plots and index.html.
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/micro/stats.h"
#include "emgan/report/charts.h"
#include "emgan/report/html.h"
#include "micro_detail.h"

namespace emgan::micro {

namespace {

std::vector<std::string> axis_names(const MicroStats& s) {
  return detail::axis_names(s.shape.size());
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
  const auto conn = detail::connectivity_names(s.shape.size());
  for (const auto& name : conn) header.push_back(name);
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : s.phases) {
    std::vector<std::string> row{std::to_string(p.phase), fmt(p.value), fmt(p.fraction), fmt(p.surface_area),
                                 fmt(p.isotropy)};
    for (size_t a = 0; a < axes.size(); ++a) row.push_back(a < p.chords.size() ? fmt(p.chords[a].mean) : "-");
    for (size_t a = 0; a < axes.size(); ++a) row.push_back(a < p.tau.size() ? tau_cell(p.tau[a]) : "-");
    for (size_t a = 0; a < axes.size(); ++a) row.push_back(a < p.tau.size() ? fmt(p.tau[a].d_rel) : "-");
    for (size_t a = 0; a < conn.size(); ++a)
      row.push_back(a < p.connectivity.size() && std::isfinite(p.connectivity[a])
                        ? fmt(p.connectivity[a])
                        : "-");
    rows.push_back(row);
  }
  r.table(header, rows,
          "per-phase statistics (lengths in voxels); connectivity = fraction of the phase in the "
          "largest "
          "4-connected cluster of " +
              std::to_string(s.cluster_window) + " px tiles of the slices" +
              (s.shape.size() == 3 ? " normal to the axis" : "") + ", mean over the tiles");
  if (!s.interfaces.empty()) {
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& i : s.interfaces)
      items.emplace_back(
          "interface area " + std::to_string(i.a) + "|" + std::to_string(i.b) + " (1/voxel)",
          fmt(i.area));
    r.key_values(items);
  }
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
      for (size_t a = 0; a < p.connectivity.size(); ++a)
        csv << p.phase << ",connectivity," << (p.connectivity.size() > 1 ? axes[a] : std::string())
            << "," << p.connectivity[a] << "\n";
      for (size_t a = 0; a < p.tau.size(); ++a) {
        csv << p.phase << ",tau," << axes[a] << "," << (p.tau[a].percolating ? std::to_string(p.tau[a].tau) : "inf") << "\n";
        csv << p.phase << ",d_rel," << axes[a] << "," << p.tau[a].d_rel << "\n";
      }
    }
    for (const auto& i : s.interfaces)
      csv << "-1,interface_" << i.a << "_" << i.b << ",," << i.area << "\n";
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
      for (size_t a = 0; a < pc.chord_distance.size(); ++a)
        rows.push_back(
            {ph, "chord distribution " + axes[a], "", "", fmt(pc.chord_distance[a]) + " (TV)"});
      for (size_t a = 0; a < pc.connectivity_diff.size(); ++a)
        rows.push_back({ph,
                        pc.connectivity_diff.size() > 1
                            ? "connectivity, slices normal to " + axes[a]
                            : std::string("connectivity"),
                        fmt(pr.connectivity[a]), fmt(po.connectivity[a]),
                        fmt(pc.connectivity_diff[a]) + " (abs)"});
      for (size_t a = 0; a < pc.tau_rel_diff.size(); ++a)
        rows.push_back({ph, "tau " + axes[a], tau_cell(pr.tau[a]), tau_cell(po.tau[a]),
                        fmt(100.0 * pc.tau_rel_diff[a]) + " %"});
      rows.push_back({ph, "isotropy", fmt(pr.isotropy), fmt(po.isotropy), fmt(po.isotropy - pr.isotropy)});
    }
    for (const auto& i : c.interfaces)
      rows.push_back({std::to_string(i.a) + "|" + std::to_string(i.b), "interface area",
                      fmt(i.real), fmt(i.other), fmt(100.0 * i.rel_diff) + " %"});
    if (c.tpb_rel_diff)
      rows.push_back({"all", "TPB density", fmt(*c.real.tpb_density), fmt(*c.other.tpb_density),
                      fmt(100.0 * *c.tpb_rel_diff) + " %"});
    const std::string caption =
        "differences: fraction absolute, S2 RMS over r, chord distribution = total variation "
        "distance between "
        "the chord-length distributions (0 = same, 1 = disjoint), connectivity (fraction of the "
        "phase in "
        "the largest cluster of " +
        std::to_string(c.real.cluster_window) +
        " px tiles of the slices) absolute, others relative to " + real_name;
    r.table(header, rows, caption);
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

namespace {

Json spread_json(const std::vector<StatSpread>& spread) {
  Json j = Json::array();
  for (const auto& s : spread)
    j.push_back({{"phase", s.phase},
                 {"statistic", s.name},
                 {"n", s.n},
                 {"infinite", s.infinite},
                 {"mean", finite_or_null(s.mean)},
                 {"sd", s.sd},
                 {"min", finite_or_null(s.min)},
                 {"max", finite_or_null(s.max)}});
  return j;
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  if (!std::isfinite(v)) return "inf";
  std::ostringstream os;
  os.precision(8);
  os << v;
  return os.str();
}

}  // namespace

fs::path write_blocks_report(const fs::path& dir, const BlockStats& input,
                             const BlockStats* other) {
  ensure_dir(dir);
  auto blocks_json = [](const BlockStats& b) {
    Json blocks = Json::array();
    for (size_t i = 0; i < b.blocks.size(); ++i)
      blocks.push_back({{"region", b.regions[i]}, {"stats", b.blocks[i].to_json()}});
    return Json{{"source", b.source}, {"blocks", blocks}, {"spread", spread_json(b.spread)}};
  };
  Json all{{"input", blocks_json(input)}};
  if (other) all["compare"] = blocks_json(*other);
  save_json_file(dir / "blocks.json", all);
  {
    std::ostringstream csv;
    csv << "sample,block,region,phase,statistic,value\n";
    auto rows = [&](const std::string& sample, const BlockStats& b) {
      for (size_t i = 0; i < b.blocks.size(); ++i) {
        const auto one = stat_spread({b.blocks[i]});
        for (const auto& s : one)
          csv << sample << "," << i << ",\"" << b.regions[i] << "\"," << s.phase << "," << s.name
              << "," << csv_number(s.n ? s.mean : std::numeric_limits<double>::infinity()) << "\n";
      }
    };
    rows("input", input);
    if (other) rows("compare", *other);
    write_text_atomic(dir / "blocks.csv", csv.str());
  }
  {
    std::ostringstream csv;
    csv << "phase,statistic,n,infinite,mean,sd,min,max";
    if (other)
      csv << ",compare_n,compare_infinite,compare_mean,compare_sd,compare_min,compare_max,"
             "difference,difference_in_sd";
    csv << "\n";
    for (const auto& s : input.spread) {
      csv << s.phase << "," << s.name << "," << s.n << "," << s.infinite << ","
          << csv_number(s.mean) << "," << csv_number(s.sd) << "," << csv_number(s.min) << ","
          << csv_number(s.max);
      if (other) {
        const auto* o = find_spread(other->spread, s.phase, s.name);
        if (o) {
          const double diff = spread_difference(s, *o);
          csv << "," << o->n << "," << o->infinite << "," << csv_number(o->mean) << ","
              << csv_number(o->sd) << "," << csv_number(o->min) << "," << csv_number(o->max) << ","
              << csv_number(diff) << "," << csv_number(spread_difference_in_sd(s, *o));
        } else {
          csv << ",,,,,,,,";
        }
      }
      csv << "\n";
    }
    write_text_atomic(dir / "spread.csv", csv.str());
  }
  report::Report r("Microstructure statistics of blocks: " + input.source +
                   (other ? " vs " + other->source : ""));
  r.section("Summary");
  std::vector<std::pair<std::string, std::string>> kv{
      {"input", input.source}, {"input blocks", std::to_string(input.blocks.size())}};
  if (!input.blocks.empty()) {
    std::ostringstream shape;
    for (size_t i = 0; i < input.blocks.front().shape.size(); ++i)
      shape << (i ? " x " : "") << input.blocks.front().shape[i];
    kv.emplace_back("block shape", shape.str());
  }
  if (other) {
    kv.emplace_back("compare", other->source);
    kv.emplace_back("compare blocks", std::to_string(other->blocks.size()));
  }
  r.key_values(kv);
  r.paragraph(
      "Each block is analysed as a sample of its own; the table gives the mean, the standard "
      "deviation (n - 1) and "
      "the range of every statistic over the blocks. The input's spread is the natural variation "
      "of the material "
      "at this block size: a generated sample whose means differ from the input's by less than "
      "about one sd is "
      "as close as two parts of the real material are. Tortuosity: blocks where the phase does not "
      "percolate are "
      "counted apart (inf) and left out of the mean.");
  {
    std::vector<std::string> header{"phase", "statistic", "n", "input mean", "sd", "min", "max"};
    if (other) {
      for (const char* h : {"compare n", "compare mean", "compare sd", "compare min", "compare max",
                            "difference", "difference / input sd"})
        header.push_back(h);
    }
    std::vector<std::vector<std::string>> rows;
    auto f = [](double v) {
      return std::isfinite(v) ? fmt(v) : (std::isnan(v) ? std::string("-") : "inf");
    };
    for (const auto& s : input.spread) {
      std::vector<std::string> row{
          s.phase < 0 ? std::string("all") : std::to_string(s.phase),
          s.name,
          std::to_string(s.n) + (s.infinite ? " (+" + std::to_string(s.infinite) + " inf)" : ""),
          f(s.mean),
          f(s.sd),
          f(s.min),
          f(s.max)};
      if (other) {
        const auto* o = find_spread(other->spread, s.phase, s.name);
        if (o) {
          const double diff = spread_difference(s, *o);
          row.insert(
              row.end(),
              {std::to_string(o->n) +
                   (o->infinite ? " (+" + std::to_string(o->infinite) + " inf)" : ""),
               f(o->mean), f(o->sd), f(o->min), f(o->max),
               detail::compared_absolutely(s.name) ? f(diff) + " (abs)" : f(100.0 * diff) + " %",
               f(spread_difference_in_sd(s, *o))});
        } else {
          row.insert(row.end(), 7, "-");
        }
      }
      rows.push_back(row);
    }
    r.table(header, rows, "statistics over the blocks (lengths in voxels)");
  }
  if (other) {
    r.section("Differences against the natural spread");
    std::vector<std::pair<std::string, std::string>> images;
    std::map<int64_t, std::vector<const StatSpread*>> by_phase;
    for (const auto& s : input.spread)
      if (s.phase >= 0) by_phase[s.phase].push_back(&s);
    for (const auto& [phase, stats] : by_phase) {
      std::vector<std::string> cats;
      report::BarSeries sd{"input sd (%)", {}, std::nullopt},
          diff{"|difference of means| (%)", {}, std::nullopt};
      for (const auto* s : stats) {
        const auto* o = find_spread(other->spread, s->phase, s->name);
        if (!o || s->name == "isotropy" || !std::isfinite(s->mean) || s->mean == 0.0 ||
            !std::isfinite(o->mean))
          continue;
        std::string label = s->name;  // short labels under the bars: "chord z", "tau z", "surface"
        if (label.rfind("mean_chord_", 0) == 0) label = "chord " + label.substr(11);
        if (label.rfind("tau_", 0) == 0) label = "tau " + label.substr(4);
        if (label.rfind("connectivity", 0) == 0) label = "conn" + label.substr(12);
        if (label == "surface_area") label = "surface";
        cats.push_back(label);
        sd.values.push_back(100.0 * s->sd / std::abs(s->mean));
        diff.values.push_back(100.0 * std::abs(o->mean - s->mean) / std::abs(s->mean));
      }
      if (cats.empty()) continue;
      const std::string file = "spread_phase" + std::to_string(phase) + ".png";
      report::write_bar_chart(
          dir / file, cats, {sd, diff},
          report::ChartOptions()
              .title("phase " + std::to_string(phase) + ": difference vs natural spread")
              .y_label("% of the input mean")
              .y_min(0.0));
      images.emplace_back(
          file, "phase " + std::to_string(phase) +
                    ": the input's relative sd between blocks beside the relative difference of "
                    "the means");
    }
    if (!images.empty()) r.image_row(images, 560);
  }
  r.section("Blocks");
  {
    std::vector<std::vector<std::string>> rows;
    auto add = [&](const std::string& sample, const BlockStats& b) {
      for (size_t i = 0; i < b.blocks.size(); ++i) {
        std::ostringstream fr;
        for (const auto& p : b.blocks[i].phases) fr << (p.phase ? " / " : "") << fmt(p.fraction);
        rows.push_back({sample, b.regions[i], fr.str()});
      }
    };
    add("input", input);
    if (other) add("compare", *other);
    r.table({"sample", "region", "fractions (phase 0 / 1 / ...)"}, rows,
            "every block (all numbers: blocks.csv)");
  }
  return r.write(dir);
}

}  // namespace emgan::micro
