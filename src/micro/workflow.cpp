// `emgan micro stats`: load, phases, statistics, comparison, report.
#include "emgan/micro/workflow.h"

#include <torch/torch.h>

#include <sstream>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"

namespace emgan::micro {

void to_json(Json& j, const StatsRunSettings& s) {
  j = Json{{"input", s.input},   {"compare", s.compare}, {"out", s.out},
           {"phases", s.phases}, {"region", s.region},   {"compare_region", s.compare_region},
           {"blocks", s.blocks}, {"stats", s.stats},     {"runtime", s.runtime}};
}

void from_json(const Json& j, StatsRunSettings& s) {
  const StatsRunSettings d;
  s.input = j.value("input", d.input);
  s.compare = j.value("compare", d.compare);
  s.out = j.value("out", d.out);
  s.phases = j.value("phases", d.phases);
  s.region = j.value("region", d.region);
  s.compare_region = j.value("compare_region", d.compare_region);
  s.blocks = j.value("blocks", d.blocks);
  s.stats = j.value("stats", d.stats);
  s.runtime = j.value("runtime", d.runtime);
}

void validate(const StatsRunSettings& s) {
  EMGAN_CHECK(ConfigError, !s.input.empty(), "micro stats: no input image or volume given");
  EMGAN_CHECK(ConfigError, s.phases == 0 || (s.phases >= 2 && s.phases <= 8), "micro stats: --phases ", s.phases,
              " must be 0 (detect) or 2..8");
  EMGAN_CHECK(ConfigError, s.stats.max_r >= 0, "micro stats: --max-r ", s.stats.max_r, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.stats.cluster_window >= 2, "micro stats: --cluster-window ",
              s.stats.cluster_window, " must be >= 2 pixels");
  EMGAN_CHECK(ConfigError, s.stats.tau.tolerance() > 0.0, "micro stats: tau tolerance ", s.stats.tau.tolerance(),
              " must be > 0");
  EMGAN_CHECK(ConfigError, s.stats.tau.max_iterations() >= 1, "micro stats: tau max iterations ",
              s.stats.tau.max_iterations(), " must be >= 1");
  EMGAN_CHECK(ConfigError, s.stats.tau.omega() >= 0.0 && s.stats.tau.omega() < 2.0, "micro stats: omega ",
              s.stats.tau.omega(), " must be 0 (automatic) or in (0, 2)");
  EMGAN_CHECK(ConfigError, !s.out.empty(), "micro stats: --out must not be empty");
  EMGAN_CHECK(ConfigError, s.blocks >= 1, "micro stats: --blocks ", s.blocks,
              " must be >= 1 (1 = the whole sample)");
}

torch::Tensor crop_region(const torch::Tensor& t, const std::string& region, const std::string& source) {
  if (region.empty()) return t;
  const std::string name = source.empty() ? std::string("region") : source;
  std::vector<std::string> parts;
  std::stringstream ss(region);
  std::string part;
  while (std::getline(ss, part, ',')) parts.push_back(part);
  EMGAN_CHECK(ConfigError, static_cast<int64_t>(parts.size()) == t.dim(), name, ": region \"", region, "\" has ",
              parts.size(), " ranges but the data has ", t.dim(), " axes ", t.sizes(),
              "; expected one \"a:b\" per axis, e.g. \"0:128,:,:\"");
  auto out = t;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const auto& p = parts[d];
    const auto colon = p.find(':');
    EMGAN_CHECK(ConfigError, colon != std::string::npos, name, ": region range \"", p, "\" (axis ", d,
                ") must be \"a:b\"");
    const int64_t n = t.size(d);
    int64_t a = 0, b = n;
    try {
      if (colon > 0) a = std::stoll(p.substr(0, colon));
      if (colon + 1 < p.size()) b = std::stoll(p.substr(colon + 1));
    } catch (const std::exception&) {
      throw ConfigError(::emgan::detail::concat(name, ": region range \"", p, "\" (axis ", d,
                                                ") is not two integers \"a:b\""));
    }
    EMGAN_CHECK(ConfigError, a >= 0 && b <= n && a + 2 <= b, name, ": region range ", a, ":", b, " on axis ", d,
                " is outside 0..", n, " or shorter than 2 voxels");
    out = out.narrow(d, a, b - a);
  }
  return out.contiguous();
}

std::vector<std::pair<std::string, torch::Tensor>> split_blocks(const torch::Tensor& labels,
                                                                int64_t blocks,
                                                                const std::string& source) {
  const std::string name = source.empty() ? std::string("labels") : source;
  EMGAN_CHECK(ConfigError, labels.dim() == 2 || labels.dim() == 3, name,
              ": blocks need a 2D or 3D sample, got shape ", labels.sizes());
  EMGAN_CHECK(ConfigError, blocks >= 1, name, ": blocks = ", blocks, " must be >= 1");
  const int64_t dims = labels.dim();
  std::vector<int64_t> side(dims);
  for (int64_t d = 0; d < dims; ++d) {
    side[d] = labels.size(d) / blocks;
    EMGAN_CHECK(ConfigError, side[d] >= 8, name, ": ", blocks, " blocks along axis ", d,
                " of size ", labels.size(d), " would be ", side[d],
                " voxels long; expected >= 8 (use fewer blocks)");
  }
  int64_t count = 1;
  for (int64_t d = 0; d < dims; ++d) count *= blocks;
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i;
    std::vector<int64_t> index(dims);
    for (int64_t d = dims - 1; d >= 0; --d) {
      index[d] = rest % blocks;
      rest /= blocks;
    }
    auto t = labels;
    std::string region;
    for (int64_t d = 0; d < dims; ++d) {
      const int64_t a = index[d] * side[d];
      t = t.narrow(d, a, side[d]);
      region += (d ? "," : "") + std::to_string(a) + ":" + std::to_string(a + side[d]);
    }
    out.emplace_back(region, t.contiguous());
  }
  return out;
}

PhaseMap load_phases(const fs::path& path, int64_t phases, const std::string& region) {
  EMGAN_CHECK(IoError, fs::exists(path), path.string(), ": no such file");
  const auto image = io::read_image(path);
  auto grey = squeeze_channels(image.data, path.string());
  grey = crop_region(grey, region, path.string());
  return to_phases(grey, phases, path.string());
}

namespace {

MicroStats analyse(const std::string& file, const std::string& region, const StatsRunSettings& s,
                   torch::Device device) {
  const auto map = load_phases(file, s.phases, region);
  std::ostringstream os;
  os << file << ": " << map.phases() << " phases, values";
  for (double v : map.values) os << " " << v;
  if (map.thresholded) os << " (Otsu thresholded)";
  log_info(os.str());
  const std::string source = region.empty() ? file : file + "[" + region + "]";
  return compute_stats(map.labels.to(device), s.stats, map.values, source, /*verbose=*/true);
}

/// Every block of `file` (cropped to `region`) analysed on its own, with a progress line.
BlockStats analyse_blocks(const std::string& file, const std::string& region,
                          const StatsRunSettings& s, torch::Device device) {
  const auto map = load_phases(file, s.phases, region);
  BlockStats b;
  b.source = region.empty() ? file : file + "[" + region + "]";
  const auto parts = split_blocks(map.labels, s.blocks, b.source);
  std::ostringstream os;
  os << b.source << ": " << map.phases() << " phases, " << parts.size() << " blocks of "
     << parts.front().second.sizes();
  log_info(os.str());
  Progress progress("micro stats blocks", static_cast<int64_t>(parts.size()), "block");
  for (const auto& [reg, labels] : parts) {
    b.regions.push_back(reg);
    b.blocks.push_back(compute_stats(labels.to(device), s.stats, map.values,
                                     b.source + " block " + reg,
                                     /*verbose=*/false));
    progress.update(static_cast<int64_t>(b.blocks.size()));
  }
  progress.finish();
  b.spread = stat_spread(b.blocks);
  return b;
}

}  // namespace

StatsRunResult run_stats(const StatsRunSettings& s) {
  validate(s);
  const auto device = apply_runtime(s.runtime);
  ensure_dir(s.out);
  save_json_file(fs::path(s.out) / "config.json", Json(s));
  StatsRunResult result;
  if (s.blocks > 1) {
    result.blocks = analyse_blocks(s.input, s.region, s, device);
    if (!s.compare.empty()) {
      result.compare_blocks = analyse_blocks(s.compare, s.compare_region, s, device);
      if (result.compare_blocks->blocks.front().shape != result.blocks->blocks.front().shape)
        log_info("warning: the blocks of " + s.compare + " differ in shape from those of " +
                 s.input +
                 "; statistics such as tortuosity and their spread depend on the block size");
    }
    result.table = format_spread(result.blocks->spread,
                                 result.compare_blocks ? &result.compare_blocks->spread : nullptr);
    result.report = write_blocks_report(s.out, *result.blocks,
                                        result.compare_blocks ? &*result.compare_blocks : nullptr);
    return result;
  }
  result.stats = analyse(s.input, s.region, s, device);
  std::ostringstream table;
  table << format_stats(result.stats);
  if (!s.compare.empty()) {
    auto other = analyse(s.compare, s.compare_region, s, device);
    table << "\n" << format_stats(other);
    result.comparison = compare_stats(result.stats, other);
    table << "\n" << format_comparison(*result.comparison);
    result.report = write_comparison_report(s.out, *result.comparison, "input", "compare");
  } else {
    result.report = write_stats_report(s.out, result.stats);
  }
  result.table = table.str();
  return result;
}

}  // namespace emgan::micro
