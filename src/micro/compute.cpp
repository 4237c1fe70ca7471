// compute_stats: every statistic of a label map, timed, and its JSON/text forms.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <limits>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/micro/stats.h"
#include "micro_detail.h"

namespace emgan::micro {

void to_json(Json& j, const StatsSettings& s) {
  j = Json{{"max_r", s.max_r},
           {"periodic", s.periodic},
           {"edge_chords", s.edge_chords},
           {"tortuosity", s.tortuosity},
           {"cluster_window", s.cluster_window},
           {"tau_tolerance", s.tau.tolerance()},
           {"tau_max_iterations", s.tau.max_iterations()},
           {"tau_omega", s.tau.omega()},
           {"tau_check_every", s.tau.check_every()},
           {"tau_multilevel", s.tau.multilevel()},
           {"tau_tensor_ops", s.tau.tensor_ops()},
           {"phases", s.phases}};
}

void from_json(const Json& j, StatsSettings& s) {
  const StatsSettings d;
  s.max_r = j.value("max_r", d.max_r);
  s.periodic = j.value("periodic", d.periodic);
  s.edge_chords = j.value("edge_chords", d.edge_chords);
  s.tortuosity = j.value("tortuosity", d.tortuosity);
  s.cluster_window = j.value("cluster_window", d.cluster_window);
  s.tau.tolerance(j.value("tau_tolerance", d.tau.tolerance()));
  s.tau.max_iterations(j.value("tau_max_iterations", d.tau.max_iterations()));
  s.tau.omega(j.value("tau_omega", d.tau.omega()));
  s.tau.check_every(j.value("tau_check_every", d.tau.check_every()));
  s.tau.multilevel(j.value("tau_multilevel", d.tau.multilevel()));
  s.tau.tensor_ops(j.value("tau_tensor_ops", d.tau.tensor_ops()));
  s.phases = j.value("phases", d.phases);
}

const PhaseStats& MicroStats::phase(int64_t phase) const {
  for (const auto& p : phases)
    if (p.phase == phase) return p;
  throw ConfigError(::emgan::detail::concat(source.empty() ? std::string("stats") : source, ": phase ", phase,
                                   " was not analysed"));
}

namespace {

Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

Json chords_json(const Chords& c) {
  size_t last = c.counts.size();
  while (last > 0 && c.counts[last - 1] == 0) --last;
  return Json{{"number", c.number}, {"mean", c.mean},
              {"counts", std::vector<int64_t>(c.counts.begin(), c.counts.begin() + static_cast<long>(last))}};
}

double rms_diff(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = std::min(a.size(), b.size());
  if (n == 0) return 0.0;
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(n));
}

/// Wall and CPU time of one statistic, added to the totals on stop().
class Timer {
 public:
  Timer(MicroStats& st, const char* key) : st_(st), key_(key) {}
  void stop() {
    st_.seconds[key_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    st_.cpu_seconds[key_] += static_cast<double>(std::clock() - cpu_) / CLOCKS_PER_SEC;
  }

 private:
  MicroStats& st_;
  const char* key_;
  std::chrono::steady_clock::time_point wall_ = std::chrono::steady_clock::now();
  std::clock_t cpu_ = std::clock();
};

}  // namespace

Json MicroStats::to_json() const {
  Json j;
  j["source"] = source;
  j["shape"] = shape;
  j["num_phases"] = num_phases;
  j["max_r"] = max_r;
  j["cluster_window"] = cluster_window;
  j["axes"] = detail::axis_names(shape.size());
  j["tpb_density"] = tpb_density ? number(*tpb_density) : Json(nullptr);
  Json inter = Json::array();
  for (const auto& i : interfaces) inter.push_back(Json{{"phases", {i.a, i.b}}, {"area", i.area}});
  j["interfaces"] = inter;
  j["seconds"] = seconds;
  j["cpu_seconds"] = cpu_seconds;
  Json ps = Json::array();
  for (const auto& p : phases) {
    Json jp;
    jp["phase"] = p.phase;
    jp["value"] = number(p.value);
    jp["fraction"] = p.fraction;
    jp["surface_area"] = p.surface_area;
    jp["isotropy"] = p.isotropy;
    jp["s2"] = p.s2;
    Json conn = Json::array();
    for (double v : p.connectivity) conn.push_back(number(v));
    jp["connectivity"] = conn;
    Json ch = Json::array();
    for (const auto& c : p.chords) ch.push_back(chords_json(c));
    jp["chords"] = ch;
    Json tau = Json::array();
    for (const auto& t : p.tau) {
      tau.push_back(Json{{"axis", t.axis},
                         {"percolating", t.percolating},
                         {"percolating_fraction", t.percolating_fraction},
                         {"d_rel", t.d_rel},
                         {"tau", number(t.tau)},
                         {"iterations", t.iterations},
                         {"converged", t.converged},
                         {"imbalance", number(t.imbalance)},
                         {"seconds", t.seconds}});
    }
    jp["tortuosity"] = tau;
    ps.push_back(jp);
  }
  j["phases"] = ps;
  return j;
}

MicroStats compute_stats(const torch::Tensor& labels_in, const StatsSettings& settings,
                         const std::vector<double>& values, const std::string& source, bool verbose) {
  const std::string name = source.empty() ? std::string("labels") : source;
  detail::check_labels(labels_in, name.c_str());
  const auto labels = labels_in.to(torch::kLong);
  const int64_t lo = labels.min().item<int64_t>();
  const int64_t hi = labels.max().item<int64_t>();
  EMGAN_CHECK(ConfigError, lo >= 0, name, ": negative phase label ", lo, "; expected labels 0..P-1");
  MicroStats st;
  st.source = source;
  st.shape = labels.sizes().vec();
  st.num_phases = std::max<int64_t>(hi + 1, static_cast<int64_t>(values.size()));
  const int64_t dims = labels.dim();
  const int64_t smallest = *std::min_element(st.shape.begin(), st.shape.end());
  EMGAN_CHECK(ConfigError, smallest >= 2, name, ": every side must be >= 2 voxels, got shape ", labels.sizes());
  st.max_r = settings.max_r > 0 ? settings.max_r : std::min<int64_t>(100, smallest / 2);
  EMGAN_CHECK(ConfigError, settings.cluster_window >= 2, name, ": --cluster-window ",
              settings.cluster_window, " must be >= 2 pixels");
  st.cluster_window = settings.cluster_window;
  EMGAN_CHECK(ConfigError, st.max_r < smallest, name, ": --max-r ", st.max_r,
              " must be smaller than the smallest side (", smallest, " voxels)");
  std::vector<int64_t> which = settings.phases;
  if (which.empty())
    for (int64_t p = 0; p < st.num_phases; ++p) which.push_back(p);
  for (const char* key : {"fraction", "s2", "surface", "chords", "connectivity", "tau"})
    st.seconds[key] = st.cpu_seconds[key] = 0.0;
  auto log = [&](const std::string& msg) {
    if (verbose) log_info(msg);
  };
  for (int64_t p : which) {
    EMGAN_CHECK(ConfigError, p >= 0 && p < st.num_phases, name, ": phase ", p, " requested, but labels are 0..",
                st.num_phases - 1);
    PhaseStats ps;
    ps.phase = p;
    ps.value = p < static_cast<int64_t>(values.size()) ? values[p] : static_cast<double>(p);
    const auto mask = labels == p;
    Timer t_fraction(st, "fraction");
    ps.fraction = mask.to(torch::kDouble).mean().item<double>();
    t_fraction.stop();
    Timer t_s2(st, "s2");
    for (int64_t a = 0; a < dims; ++a) ps.s2.push_back(two_point_correlation(mask, a, st.max_r, settings.periodic));
    t_s2.stop();
    double iso = 0.0;
    for (int64_t a = 0; a < dims; ++a)
      for (int64_t b = a + 1; b < dims; ++b) iso = std::max(iso, rms_diff(ps.s2[a], ps.s2[b]));
    ps.isotropy = iso;
    Timer t_surface(st, "surface");
    ps.surface_area = surface_area(labels, p);
    t_surface.stop();
    Timer t_chords(st, "chords");
    for (int64_t a = 0; a < dims; ++a) ps.chords.push_back(chord_lengths(mask, a, settings.edge_chords));
    t_chords.stop();
    Timer t_conn(st, "connectivity");
    if (dims == 2)
      ps.connectivity.push_back(slice_connectivity(mask, st.cluster_window));
    else
      for (int64_t a = 0; a < dims; ++a)
        ps.connectivity.push_back(slice_connectivity(mask, st.cluster_window, a));
    t_conn.stop();
    if (settings.tortuosity) {
      Timer t_tau(st, "tau");
      for (int64_t a = 0; a < dims; ++a) {
        const std::clock_t c0 = std::clock();
        ps.tau.push_back(tortuosity(mask, a, settings.tau));
        const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
        const auto& t = ps.tau.back();
        std::ostringstream os;
        os << name << ": phase " << p << " axis " << a << ": tau " << t.tau << " (" << t.iterations
           << " sweeps, " << std::fixed << std::setprecision(1) << t.seconds << " s wall, " << cpu << " s cpu)";
        log(os.str());
      }
      t_tau.stop();
    }
    st.phases.push_back(std::move(ps));
  }
  if (st.num_phases >= 3) {
    Timer t_interfaces(st, "interfaces");
    for (size_t i = 0; i < st.phases.size(); ++i)
      for (size_t k = i + 1; k < st.phases.size(); ++k) {
        const int64_t a = st.phases[i].phase, b = st.phases[k].phase;
        st.interfaces.push_back({a, b, interface_area(labels, a, b)});
      }
    t_interfaces.stop();
  }
  if (st.num_phases == 3 && hi == 2) {
    Timer t_tpb(st, "tpb");
    st.tpb_density = tpb_density(labels);
    t_tpb.stop();
  }
  return st;
}

MicroStats pooled_stats(const std::vector<MicroStats>& sets, const std::string& source) {
  EMGAN_CHECK(ConfigError, !sets.empty(), source, ": pooled statistics of an empty set of samples");
  const auto& first = sets.front();
  const double n = static_cast<double>(sets.size());
  for (const auto& s : sets) {
    EMGAN_CHECK(ConfigError,
                s.shape.size() == first.shape.size() && s.max_r == first.max_r &&
                    s.num_phases == first.num_phases && s.phases.size() == first.phases.size() &&
                    s.cluster_window == first.cluster_window,
                source, ": cannot pool ", s.source, " (", s.shape.size(), "D, S2 to r = ", s.max_r,
                ", ", s.num_phases, " phases, cluster window ", s.cluster_window, ") with ",
                first.source, " (", first.shape.size(), "D, S2 to r = ", first.max_r, ", ",
                first.num_phases, " phases, cluster window ", first.cluster_window, ")");
    EMGAN_CHECK(ConfigError, s.interfaces.size() == first.interfaces.size(), source, ": ", s.source,
                " measured ", s.interfaces.size(), " phase interfaces but ", first.source, " ",
                first.interfaces.size());
    for (size_t i = 0; i < s.phases.size(); ++i)
      EMGAN_CHECK(ConfigError,
                  s.phases[i].phase == first.phases[i].phase &&
                      s.phases[i].tau.size() == first.phases[i].tau.size(),
                  source, ": ", s.source, " analysed other phases or axes than ", first.source);
  }
  MicroStats out;
  out.source = source;
  out.shape = first.shape;
  out.num_phases = first.num_phases;
  out.max_r = first.max_r;
  out.cluster_window = first.cluster_window;
  for (const auto& s : sets)
    for (const auto& [k, v] : s.seconds) {
      out.seconds[k] += v;
      out.cpu_seconds[k] += s.cpu_seconds.count(k) ? s.cpu_seconds.at(k) : 0.0;
    }
  for (size_t i = 0; i < first.phases.size(); ++i) {
    PhaseStats ps;
    ps.phase = first.phases[i].phase;
    ps.value = first.phases[i].value;
    ps.s2 = first.phases[i].s2;
    for (auto& curve : ps.s2) std::fill(curve.begin(), curve.end(), 0.0);
    ps.chords.resize(first.phases[i].chords.size());
    ps.tau.resize(first.phases[i].tau.size());
    // Connectivity: the mean over the samples whose tiles held the phase (NaN when none did).
    std::vector<double> conn_sum(first.phases[i].connectivity.size(), 0.0);
    std::vector<int64_t> conn_n(conn_sum.size(), 0);
    for (const auto& s : sets) {
      const auto& p = s.phases[i];
      ps.fraction += p.fraction / n;
      ps.surface_area += p.surface_area / n;
      for (size_t a = 0; a < conn_sum.size() && a < p.connectivity.size(); ++a)
        if (std::isfinite(p.connectivity[a])) {
          conn_sum[a] += p.connectivity[a];
          ++conn_n[a];
        }
      for (size_t a = 0; a < ps.s2.size(); ++a)
        for (size_t r = 0; r < ps.s2[a].size(); ++r) ps.s2[a][r] += p.s2[a][r] / n;
      for (size_t a = 0; a < ps.chords.size(); ++a) {
        auto& c = ps.chords[a];
        const auto& pc = p.chords[a];
        if (c.counts.size() < pc.counts.size()) c.counts.resize(pc.counts.size(), 0);
        for (size_t l = 0; l < pc.counts.size(); ++l) c.counts[l] += pc.counts[l];
        c.number += pc.number;
        c.mean += pc.mean * static_cast<double>(pc.number);  // total length, divided below
      }
      for (size_t a = 0; a < ps.tau.size(); ++a) {
        auto& t = ps.tau[a];
        const auto& pt = p.tau[a];
        t.axis = pt.axis;
        t.d_rel += pt.d_rel / n;
        t.percolating_fraction += pt.percolating_fraction / n;
        t.iterations = std::max(t.iterations, pt.iterations);
        t.imbalance = std::max(t.imbalance, pt.imbalance);
        t.seconds += pt.seconds;
      }
    }
    for (auto& c : ps.chords) c.mean = c.number > 0 ? c.mean / static_cast<double>(c.number) : 0.0;
    for (size_t a = 0; a < conn_sum.size(); ++a)
      ps.connectivity.push_back(conn_n[a] > 0 ? conn_sum[a] / static_cast<double>(conn_n[a])
                                              : std::numeric_limits<double>::quiet_NaN());
    for (size_t a = 0; a < ps.tau.size(); ++a) {
      auto& t = ps.tau[a];
      t.percolating = t.d_rel > 0.0;
      t.tau = t.percolating ? ps.fraction / t.d_rel : std::numeric_limits<double>::infinity();
      t.converged = std::all_of(sets.begin(), sets.end(),
                                [&](const MicroStats& s) { return s.phases[i].tau[a].converged; });
    }
    for (size_t a = 0; a < ps.s2.size(); ++a)
      for (size_t b = a + 1; b < ps.s2.size(); ++b)
        ps.isotropy = std::max(ps.isotropy, rms_diff(ps.s2[a], ps.s2[b]));
    out.phases.push_back(std::move(ps));
  }
  out.interfaces = first.interfaces;
  for (size_t i = 0; i < out.interfaces.size(); ++i) {
    out.interfaces[i].area = 0.0;
    for (const auto& s : sets) out.interfaces[i].area += s.interfaces[i].area / n;
  }
  if (std::all_of(sets.begin(), sets.end(),
                  [](const MicroStats& s) { return s.tpb_density.has_value(); })) {
    double tpb = 0.0;
    for (const auto& s : sets) tpb += *s.tpb_density / n;
    out.tpb_density = tpb;
  }
  return out;
}

std::string format_stats(const MicroStats& st) {
  const bool three = st.shape.size() == 3;
  const auto axes = detail::axis_names(st.shape.size());
  std::ostringstream os;
  os << (st.source.empty() ? std::string("labels") : st.source) << ": shape";
  for (auto s : st.shape) os << " " << s;
  os << ", " << st.num_phases << " phases, S2 up to r = " << st.max_r << "\n";
  os << std::left << std::setw(7) << "phase" << std::setw(9) << "value" << std::setw(10) << "fraction"
     << std::setw(10) << "surface";
  for (const auto& a : axes) os << std::setw(9) << ("chord_" + a);
  for (const auto& a : axes) os << std::setw(9) << ("tau_" + a);
  for (const auto& a : three ? axes : std::vector<std::string>{""})
    os << std::setw(9) << (a.empty() ? std::string("conn") : "conn_" + a);
  os << "isotropy\n";
  os << std::fixed;
  for (const auto& p : st.phases) {
    os << std::setw(7) << p.phase << std::setw(9) << std::setprecision(1) << p.value << std::setw(10)
       << std::setprecision(4) << p.fraction << std::setw(10) << p.surface_area;
    for (const auto& c : p.chords) os << std::setw(9) << std::setprecision(2) << c.mean;
    for (size_t a = 0; a < axes.size(); ++a) {
      if (a < p.tau.size()) {
        const auto& t = p.tau[a];
        std::ostringstream cell;
        if (!t.percolating)
          cell << "inf";
        else
          cell << std::fixed << std::setprecision(3) << t.tau << (t.converged ? "" : "*");
        os << std::setw(9) << cell.str();
      } else {
        os << std::setw(9) << "-";
      }
    }
    for (double v : p.connectivity) {
      std::ostringstream cell;
      if (std::isfinite(v))
        cell << std::fixed << std::setprecision(3) << v;
      else
        cell << "-";
      os << std::setw(9) << cell.str();
    }
    os << std::setprecision(4) << p.isotropy << "\n";
  }
  if (!st.interfaces.empty()) {
    os << "interface area (faces per voxel):";
    for (const auto& i : st.interfaces)
      os << " " << i.a << "|" << i.b << " " << std::setprecision(4) << i.area;
    os << "\n";
  }
  if (st.tpb_density) os << "triple-phase boundary density: " << std::setprecision(5) << *st.tpb_density
                         << (three ? " edges per voxel\n" : " corners per pixel\n");
  os << "surface = faces per voxel; chord = mean chord length (voxels); tau inf = not percolating; * = not converged\n";
  os << "conn = fraction of the phase in the largest cluster of " << st.cluster_window << " x "
     << st.cluster_window << " tiles of the slices" << (three ? " normal to the axis" : "") << "\n";
  os << "time (s, wall / cpu):";
  for (const auto& [k, v] : st.seconds) {
    const auto cpu = st.cpu_seconds.find(k);
    os << " " << k << " " << std::setprecision(2) << v << "/" << (cpu != st.cpu_seconds.end() ? cpu->second : 0.0);
  }
  os << "\n";
  return os.str();
}

// ---------------------------------------------------------------- comparison

StatsComparison compare_stats(const MicroStats& real, const MicroStats& other) {
  const auto nm = [](const MicroStats& s) { return s.source.empty() ? std::string("stats") : s.source; };
  EMGAN_CHECK(ConfigError, real.shape.size() == other.shape.size(), "compare: ", nm(real), " is ", real.shape.size(),
              "D but ", nm(other), " is ", other.shape.size(), "D; compare images with images, volumes with volumes");
  EMGAN_CHECK(ConfigError, real.num_phases == other.num_phases, "compare: ", nm(real), " has ", real.num_phases,
              " phases but ", nm(other), " has ", other.num_phases);
  EMGAN_CHECK(ConfigError, real.cluster_window == other.cluster_window, "compare: ", nm(real),
              " was measured with a cluster window of ", real.cluster_window, " pixels but ",
              nm(other), " with ", other.cluster_window,
              "; connectivity depends on the window, use the same one");
  StatsComparison c;
  c.real = real;
  c.other = other;
  const auto rel = [](double o, double r) {
    return (std::isfinite(o) && std::isfinite(r) && r != 0.0) ? (o - r) / r : std::numeric_limits<double>::quiet_NaN();
  };
  for (const auto& pr : real.phases) {
    const PhaseStats* po = nullptr;
    for (const auto& q : other.phases)
      if (q.phase == pr.phase) po = &q;
    if (po == nullptr) continue;
    PhaseComparison pc;
    pc.phase = pr.phase;
    pc.fraction_abs_diff = std::abs(po->fraction - pr.fraction);
    const size_t axes = std::min(pr.s2.size(), po->s2.size());
    double sum = 0.0;
    for (size_t a = 0; a < axes; ++a) {
      pc.s2_rms_diff.push_back(rms_diff(pr.s2[a], po->s2[a]));
      sum += pc.s2_rms_diff.back();
    }
    pc.s2_rms_diff_mean = axes > 0 ? sum / static_cast<double>(axes) : 0.0;
    pc.surface_rel_diff = rel(po->surface_area, pr.surface_area);
    for (size_t a = 0; a < std::min(pr.tau.size(), po->tau.size()); ++a)
      pc.tau_rel_diff.push_back(rel(po->tau[a].tau, pr.tau[a].tau));
    for (size_t a = 0; a < std::min(pr.chords.size(), po->chords.size()); ++a) {
      pc.mean_chord_rel_diff.push_back(rel(po->chords[a].mean, pr.chords[a].mean));
      pc.chord_distance.push_back(chord_distance(pr.chords[a], po->chords[a]));
    }
    for (size_t a = 0; a < std::min(pr.connectivity.size(), po->connectivity.size()); ++a)
      pc.connectivity_diff.push_back(po->connectivity[a] - pr.connectivity[a]);
    c.phases.push_back(pc);
  }
  if (real.tpb_density && other.tpb_density) c.tpb_rel_diff = rel(*other.tpb_density, *real.tpb_density);
  for (const auto& ir : real.interfaces)
    for (const auto& io : other.interfaces)
      if (ir.a == io.a && ir.b == io.b)
        c.interfaces.push_back({ir.a, ir.b, ir.area, io.area, rel(io.area, ir.area)});
  return c;
}

Json StatsComparison::to_json() const {
  Json diffs = Json::array();
  for (const auto& p : phases) {
    Json taus = Json::array(), chords = Json::array(), chord_dist = Json::array(),
         conn = Json::array();
    for (double v : p.tau_rel_diff) taus.push_back(number(v));
    for (double v : p.mean_chord_rel_diff) chords.push_back(number(v));
    for (double v : p.chord_distance) chord_dist.push_back(number(v));
    for (double v : p.connectivity_diff) conn.push_back(number(v));
    diffs.push_back(Json{{"phase", p.phase},
                         {"fraction_abs_diff", p.fraction_abs_diff},
                         {"s2_rms_diff", p.s2_rms_diff},
                         {"s2_rms_diff_mean", p.s2_rms_diff_mean},
                         {"surface_rel_diff", number(p.surface_rel_diff)},
                         {"tau_rel_diff", taus},
                         {"mean_chord_rel_diff", chords},
                         {"chord_distance", chord_dist},
                         {"connectivity_diff", conn}});
  }
  Json j{{"real", real.to_json()}, {"other", other.to_json()}, {"differences", diffs}};
  j["tpb_rel_diff"] = tpb_rel_diff ? number(*tpb_rel_diff) : Json(nullptr);
  Json inter = Json::array();
  for (const auto& i : interfaces)
    inter.push_back(Json{{"phases", {i.a, i.b}},
                         {"real", i.real},
                         {"other", i.other},
                         {"rel_diff", number(i.rel_diff)}});
  j["interface_differences"] = inter;
  return j;
}

namespace {

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os << std::setprecision(8) << v;
  return os.str();
}

}  // namespace

std::string StatsComparison::to_csv() const {
  std::ostringstream os;
  os << "phase,statistic,axis,real,other,difference\n";
  auto row = [&](int64_t p, const std::string& stat, const std::string& axis, double r, double o, double d) {
    os << p << "," << stat << "," << axis << "," << csv_number(r) << "," << csv_number(o) << "," << csv_number(d)
       << "\n";
  };
  for (const auto& pc : phases) {
    const auto& r = real.phase(pc.phase);
    const auto& o = other.phase(pc.phase);
    row(pc.phase, "fraction", "", r.fraction, o.fraction, pc.fraction_abs_diff);
    for (size_t a = 0; a < pc.s2_rms_diff.size(); ++a)
      row(pc.phase, "s2_rms", std::to_string(a), std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::quiet_NaN(), pc.s2_rms_diff[a]);
    row(pc.phase, "surface_area", "", r.surface_area, o.surface_area, pc.surface_rel_diff);
    for (size_t a = 0; a < pc.mean_chord_rel_diff.size(); ++a)
      row(pc.phase, "mean_chord", std::to_string(a), r.chords[a].mean, o.chords[a].mean, pc.mean_chord_rel_diff[a]);
    for (size_t a = 0; a < pc.chord_distance.size(); ++a)
      row(pc.phase, "chord_distance", std::to_string(a), std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::quiet_NaN(), pc.chord_distance[a]);
    for (size_t a = 0; a < pc.connectivity_diff.size(); ++a)
      row(pc.phase, "connectivity", pc.connectivity_diff.size() > 1 ? std::to_string(a) : "",
          r.connectivity[a], o.connectivity[a], pc.connectivity_diff[a]);
    for (size_t a = 0; a < pc.tau_rel_diff.size(); ++a)
      row(pc.phase, "tau", std::to_string(a), r.tau[a].tau, o.tau[a].tau, pc.tau_rel_diff[a]);
    row(pc.phase, "isotropy", "", r.isotropy, o.isotropy, o.isotropy - r.isotropy);
  }
  for (const auto& i : interfaces)
    row(-1, "interface_" + std::to_string(i.a) + "_" + std::to_string(i.b), "", i.real, i.other,
        i.rel_diff);
  if (tpb_rel_diff) row(-1, "tpb_density", "", *real.tpb_density, *other.tpb_density, *tpb_rel_diff);
  return os.str();
}

std::string format_comparison(const StatsComparison& c) {
  const auto axes = detail::axis_names(c.real.shape.size());
  std::ostringstream os;
  os << "real: " << c.real.source << "\nother: " << c.other.source << "\n";
  os << std::left << std::setw(7) << "phase" << std::setw(16) << "statistic" << std::setw(12) << "real"
     << std::setw(12) << "other" << "difference\n";
  auto fmt = [](double v, int prec) {
    std::ostringstream s;
    if (std::isnan(v))
      s << "nan";
    else if (std::isinf(v))
      s << "inf";
    else
      s << std::fixed << std::setprecision(prec) << v;
    return s.str();
  };
  auto line = [&](int64_t p, const std::string& stat, const std::string& r, const std::string& o, const std::string& d) {
    os << std::setw(7) << p << std::setw(16) << stat << std::setw(12) << r << std::setw(12) << o << d << "\n";
  };
  for (const auto& pc : c.phases) {
    const auto& r = c.real.phase(pc.phase);
    const auto& o = c.other.phase(pc.phase);
    line(pc.phase, "fraction", fmt(r.fraction, 4), fmt(o.fraction, 4), fmt(pc.fraction_abs_diff, 4) + " abs");
    for (size_t a = 0; a < pc.s2_rms_diff.size(); ++a)
      line(pc.phase, "S2_" + axes[a], "", "", fmt(pc.s2_rms_diff[a], 4) + " RMS");
    line(pc.phase, "surface", fmt(r.surface_area, 4), fmt(o.surface_area, 4),
         fmt(100.0 * pc.surface_rel_diff, 1) + " %");
    for (size_t a = 0; a < pc.mean_chord_rel_diff.size(); ++a)
      line(pc.phase, "chord_" + axes[a], fmt(r.chords[a].mean, 2), fmt(o.chords[a].mean, 2),
           fmt(100.0 * pc.mean_chord_rel_diff[a], 1) + " %");
    for (size_t a = 0; a < pc.chord_distance.size(); ++a)
      line(pc.phase, "chord_dist_" + axes[a], "", "", fmt(pc.chord_distance[a], 4) + " TV");
    const auto conn_names = detail::connectivity_names(c.real.shape.size());
    for (size_t a = 0; a < pc.connectivity_diff.size(); ++a)
      line(pc.phase, conn_names[a], fmt(r.connectivity[a], 4), fmt(o.connectivity[a], 4),
           fmt(pc.connectivity_diff[a], 4) + " abs");
    for (size_t a = 0; a < pc.tau_rel_diff.size(); ++a)
      line(pc.phase, "tau_" + axes[a], fmt(r.tau[a].tau, 3), fmt(o.tau[a].tau, 3),
           fmt(100.0 * pc.tau_rel_diff[a], 1) + " %");
  }
  for (const auto& i : c.interfaces)
    line(-1, "interface_" + std::to_string(i.a) + "|" + std::to_string(i.b), fmt(i.real, 4),
         fmt(i.other, 4), fmt(100.0 * i.rel_diff, 1) + " %");
  if (c.tpb_rel_diff)
    line(-1, "tpb_density", fmt(*c.real.tpb_density, 5), fmt(*c.other.tpb_density, 5),
         fmt(100.0 * *c.tpb_rel_diff, 1) + " %");
  return os.str();
}

}  // namespace emgan::micro
