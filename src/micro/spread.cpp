// The spread of scalar statistics over several samples (blocks of one volume).
#include <cmath>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/micro/stats.h"
#include "micro_detail.h"

namespace emgan::micro {

namespace {

/// Adds `value` under `name` (phase `phase`) to the list of values in `into`, keeping
/// the first-seen order of the statistics in `order`.
struct Collector {
  std::vector<std::pair<int64_t, std::string>> order;
  std::map<std::pair<int64_t, std::string>, std::vector<double>> values;
  void add(int64_t phase, const std::string& name, double value) {
    const auto key = std::make_pair(phase, name);
    if (!values.count(key)) order.push_back(key);
    values[key].push_back(value);
  }
};

StatSpread summarise(int64_t phase, const std::string& name, const std::vector<double>& values) {
  StatSpread s;
  s.phase = phase;
  s.name = name;
  double sum = 0.0;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -std::numeric_limits<double>::infinity();
  for (double v : values) {
    if (!std::isfinite(v)) {
      ++s.infinite;
      continue;
    }
    ++s.n;
    sum += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  if (s.n == 0) {
    s.mean = s.min = s.max = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  s.mean = sum / static_cast<double>(s.n);
  double ss = 0.0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.sd = s.n > 1 ? std::sqrt(ss / static_cast<double>(s.n - 1)) : 0.0;
  return s;
}

std::string num(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "-" : "inf";
  std::ostringstream os;
  os << std::setprecision(4) << v;
  return os.str();
}

}  // namespace

std::vector<StatSpread> stat_spread(const std::vector<MicroStats>& samples) {
  EMGAN_CHECK(ConfigError, !samples.empty(), "stat_spread: no samples");
  const auto& first = samples.front();
  const auto axes = detail::axis_names(first.shape.size());
  Collector c;
  for (const auto& s : samples) {
    EMGAN_CHECK(ConfigError,
                s.shape.size() == first.shape.size() && s.phases.size() == first.phases.size(),
                "stat_spread: ", s.source, " (", s.shape.size(), "D, ", s.phases.size(),
                " phases) does not match ", first.source, " (", first.shape.size(), "D, ",
                first.phases.size(), " phases)");
    for (const auto& p : s.phases) {
      c.add(p.phase, "fraction", p.fraction);
      c.add(p.phase, "surface_area", p.surface_area);
      c.add(p.phase, "isotropy", p.isotropy);
      for (size_t a = 0; a < p.chords.size() && a < axes.size(); ++a)
        c.add(p.phase, "mean_chord_" + axes[a], p.chords[a].mean);
      const auto conn = detail::connectivity_names(first.shape.size());
      for (size_t a = 0; a < p.connectivity.size() && a < conn.size(); ++a)
        c.add(p.phase, conn[a], p.connectivity[a]);
      for (size_t a = 0; a < p.tau.size() && a < axes.size(); ++a)
        c.add(p.phase, "tau_" + axes[a],
              p.tau[a].percolating ? p.tau[a].tau : std::numeric_limits<double>::infinity());
    }
    for (const auto& i : s.interfaces)
      c.add(-1, "interface_" + std::to_string(i.a) + "_" + std::to_string(i.b), i.area);
    if (s.tpb_density) c.add(-1, "tpb_density", *s.tpb_density);
  }
  std::vector<StatSpread> out;
  for (const auto& key : c.order) {
    if (key.first < 0) continue;
    out.push_back(summarise(key.first, key.second, c.values.at(key)));
  }
  for (const auto& key : c.order)
    if (key.first < 0) out.push_back(summarise(key.first, key.second, c.values.at(key)));
  return out;
}

const StatSpread* find_spread(const std::vector<StatSpread>& spread, int64_t phase,
                              const std::string& name) {
  for (const auto& s : spread)
    if (s.phase == phase && s.name == name) return &s;
  return nullptr;
}

double spread_difference(const StatSpread& reference, const StatSpread& other) {
  const double diff = other.mean - reference.mean;
  return detail::compared_absolutely(reference.name) ? diff : diff / reference.mean;
}

double spread_difference_in_sd(const StatSpread& reference, const StatSpread& other) {
  return reference.sd > 0.0 ? (other.mean - reference.mean) / reference.sd
                            : std::numeric_limits<double>::quiet_NaN();
}

std::string format_spread(const std::vector<StatSpread>& spread,
                          const std::vector<StatSpread>* other) {
  std::ostringstream os;
  os << std::left << std::setw(6) << "phase" << std::setw(16) << "statistic" << std::setw(4) << "n"
     << std::setw(40) << "mean +- sd [min..max]";
  if (other)
    os << std::setw(4) << "n" << std::setw(40) << "other: mean +- sd [min..max]"
       << "difference of means";
  os << "\n";
  auto cell = [](const StatSpread& s) {
    std::string t = num(s.mean) + " +- " + num(s.sd) + " [" + num(s.min) + ".." + num(s.max) + "]";
    if (s.infinite > 0) t += " +" + std::to_string(s.infinite) + " inf";
    return t;
  };
  for (const auto& s : spread) {
    os << std::setw(6) << (s.phase < 0 ? std::string("all") : std::to_string(s.phase))
       << std::setw(16) << s.name << std::setw(4) << s.n << std::setw(40) << cell(s) + " ";
    if (other) {
      if (const auto* o = find_spread(*other, s.phase, s.name)) {
        os << std::setw(4) << o->n << std::setw(40) << cell(*o) + " ";
        const double diff = spread_difference(s, *o);
        if (detail::compared_absolutely(s.name))
          os << num(diff) << " abs";
        else
          os << num(100.0 * diff) << " %";
        if (s.sd > 0.0) os << " (" << num(spread_difference_in_sd(s, *o)) << " sd)";
      }
    }
    os << "\n";
  }
  os << "n = samples with a finite value; sd over the samples (n - 1); inf = not percolating (left "
        "out of the "
        "mean)\n";
  return os.str();
}

}  // namespace emgan::micro
