#include "emgan/segment/analysis.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "emgan/core/fs.h"
#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/report/charts.h"
#include "emgan/report/display.h"
#include "emgan/report/html.h"
#include "emgan/segment/segmenter.h"

namespace emgan::segment {

SizeSummary summarize_sizes(const std::vector<double>& v) {
  SizeSummary s;
  s.count = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(ss / static_cast<double>(v.size()));
  auto sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const size_t m = sorted.size() / 2;
  s.median = sorted.size() % 2 ? sorted[m] : 0.5 * (sorted[m - 1] + sorted[m]);
  return s;
}

std::string AnalysisSummary::last_line() const {
  std::ostringstream os;
  os << "particles=" << diameter.count << " mean_diameter=" << diameter.mean << ' ' << unit << " std=" << diameter.std;
  if (truth.count > 0) os << " truth_mean=" << truth.mean << " error=" << mean_error_percent << '%';
  if (min_area_px > 0) os << " excluded_small=" << excluded_small << " (area below " << min_area_px << " px)";
  if (max_area_px > 0) os << " excluded_large=" << excluded_large << " (area above " << max_area_px << " px)";
  if (excluded_faint > 0) os << " excluded_faint=" << excluded_faint;
  return os.str();
}

MaskFitSettings AnalyzeSettings::fit_settings() const {
  if (!size_filter) return MaskFitSettings{0.0, 0.0, 0.0};
  return MaskFitSettings{min_area_ratio, max_area_ratio, min_area_px};
}

const char* to_string(ParticleUse use) {
  switch (use) {
    case ParticleUse::kMeasured: return "";
    case ParticleUse::kBorder: return "border";
    case ParticleUse::kBelowMinArea: return "below_min_area";
    case ParticleUse::kAboveMaxArea: return "above_max_area";
    case ParticleUse::kFaint: return "faint";
  }
  return "";
}

PsdSelection select_psd_particles(const std::vector<std::vector<Particle>>& per_image, bool exclude_border,
                                  const MaskFitSettings& fit, double min_significance) {
  PsdSelection sel;
  const auto faint = [&](const Particle& p) {
    return min_significance > 0 && std::isfinite(p.significance) && p.significance < min_significance;
  };
  std::vector<double> inner_areas;
  for (const auto& ps : per_image) {
    for (const auto& p : ps) {
      if (!p.touches_border && !faint(p)) inner_areas.push_back(p.area_px);
    }
  }
  sel.limits = fit_area_limits(inner_areas, fit);
  for (const auto& ps : per_image) {
    auto& use = sel.use.emplace_back();
    for (const auto& p : ps) {
      if (exclude_border && p.touches_border) {
        use.push_back(ParticleUse::kBorder);
        continue;
      }
      if (faint(p)) {
        use.push_back(ParticleUse::kFaint);
        ++sel.faint;
        continue;
      }
      sel.unfiltered_px.push_back(p.eq_diameter_px);
      if (p.area_px < sel.limits.min_px) {
        use.push_back(ParticleUse::kBelowMinArea);
        ++sel.below_min;
      } else if (sel.limits.max_px > 0 && p.area_px > sel.limits.max_px) {
        use.push_back(ParticleUse::kAboveMaxArea);
        ++sel.above_max;
      } else {
        use.push_back(ParticleUse::kMeasured);
        sel.diameters_px.push_back(p.eq_diameter_px);
      }
    }
  }
  return sel;
}

double pixel_size_nm_of(double size, const std::string& unit) {
  if (!(size > 0)) return 0.0;
  if (unit == "nm") return size;
  if (unit == "Å" || unit == "A" || unit == "angstrom" || unit == "Angstrom") return 0.1 * size;
  if (unit == "pm") return 1e-3 * size;
  if (unit == "µm" || unit == "um" || unit == "micron") return 1e3 * size;
  return 0.0;
}

std::vector<Particle> analyze_mask(const torch::Tensor& mask, const WatershedSettings& split, torch::Tensor* labels) {
  const auto l = watershed_split(mask, split);
  if (labels) *labels = l;
  return measure_particles(l);
}

std::vector<double> read_truth_diameters(const fs::path& csv, bool include_border) {
  std::ifstream in(csv);
  EMGAN_CHECK(IoError, in.good(), csv.string(), ": cannot open the truth CSV");
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_csv_line(line);
  const auto col = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    EMGAN_CHECK(IoError, it != header.end(), csv.string(), ": no column '", name, "' in the header '", line, "'");
    return static_cast<size_t>(it - header.begin());
  };
  const size_t cd = col("diameter_px"), cb = col("touches_border");
  std::vector<double> out;
  int64_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty()) continue;
    const auto cells = split_csv_line(line);
    EMGAN_CHECK(IoError, cells.size() == header.size(), csv.string(), ": line ", row, " has ", cells.size(),
                " cells, expected ", header.size());
    if (!include_border && cells[cb] == "1") continue;
    out.push_back(std::stod(cells[cd]));
  }
  return out;
}

namespace {

// Grey image with particle outlines (yellow) and the particles left out of the PSD (red: cut by
// the border or outside the size filter's limits).
torch::Tensor overlay(const torch::Tensor& image01, const torch::Tensor& labels, const torch::Tensor& border_ids) {
  namespace F = torch::nn::functional;
  const auto l = labels.to(torch::kFloat64).unsqueeze(0).unsqueeze(0);
  const auto mx = F::max_pool2d(l, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  const auto mn = -F::max_pool2d(-l, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  const auto edge = ((mx != mn) & (l > 0)).squeeze(0).squeeze(0);
  const auto excluded = torch::isin(labels, border_ids) & (labels > 0);
  auto r = image01.clone(), g = image01.clone(), b = image01.clone();
  r = torch::where(edge, torch::ones_like(r), r);
  g = torch::where(edge & ~excluded, torch::ones_like(g), torch::where(edge, torch::zeros_like(g), g));
  b = torch::where(edge, torch::zeros_like(b), b);
  return torch::stack({r, g, b});
}

}  // namespace

AnalysisSummary run_analyze(const AnalyzeSettings& s) {
  EMGAN_CHECK(ConfigError, !s.images.empty() || !s.masks.empty(), "segment analyze: give --images and/or --masks");
  EMGAN_CHECK(ConfigError, s.pixel_size_nm >= 0, "pixel_size_nm ", s.pixel_size_nm, " must be >= 0");
  validate(s.rough, "rough");
  const auto fit = s.fit_settings();
  fit.validate("segment analyze: size filter");
  const auto device = apply_runtime(s.runtime);
  const fs::path out(s.out);
  ensure_dir(out / "overlays");
  save_json_file(out / "config.json", Json(s));

  // Which files: images drive the list when given, else the masks.
  std::vector<fs::path> images, masks;
  std::map<std::string, fs::path> mask_by_stem;
  if (!s.masks.empty()) {
    for (const auto& m : list_images(s.masks)) mask_by_stem[m.stem().string()] = m;
  }
  if (!s.images.empty()) {
    images = list_images(s.images);
    EMGAN_CHECK(IoError, !images.empty(), s.images, ": no readable image");
  } else {
    for (const auto& kv : mask_by_stem) masks.push_back(kv.second);
    EMGAN_CHECK(IoError, !masks.empty(), s.masks, ": no readable mask");
  }
  AnalysisSummary sum;
  sum.mask_source = !s.masks.empty() ? "masks" : (!s.model.empty() ? "model" : "rough");
  std::unique_ptr<Segmenter> seg;
  if (sum.mask_source == "model") {
    EMGAN_CHECK(ConfigError, s.threshold >= 0 && s.threshold < 1, "segment analyze: threshold ", s.threshold,
                " must be in (0, 1), or 0 for the model's own");
    seg = std::make_unique<Segmenter>(s.model, device);
    seg->set_views(s.tta_views);
  }

  // Pass 1: segment, split and measure every image (the size filter needs them all).
  struct Measured {
    std::string stem;
    std::vector<Particle> particles;
    torch::Tensor base, labels;  // kept for the overlays only
  };
  std::vector<Measured> measured;
  double pixel_nm_seen = -1;
  bool mixed_pixel_size = false;
  const int64_t n = static_cast<int64_t>(images.empty() ? masks.size() : images.size());
  Progress progress("analyze", n, "img");
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor image, mask;
    io::ImageMeta meta;
    std::string stem;
    if (!images.empty()) {
      const auto img = io::read_image(images[i]);
      meta = img.meta;
      stem = images[i].stem().string();
      image = normalize_image(img.data);
      if (sum.mask_source == "masks") {
        const auto it = mask_by_stem.find(stem);
        EMGAN_CHECK(IoError, it != mask_by_stem.end(), s.masks, ": no mask for image ", images[i].string());
        mask = binarize_mask(io::read_image(it->second).data);
        EMGAN_CHECK(ConfigError, mask.sizes() == image.sizes(), it->second.string(), ": mask size ", mask.sizes(),
                    " differs from the image's ", image.sizes());
      } else if (seg) {
        mask = seg->predict(img.data, s.threshold).cpu();
      } else {
        mask = rough_mask(img.data.to(device), s.rough).cpu();
      }
    } else {
      const auto m = io::read_image(masks[i]);
      meta = m.meta;
      stem = masks[i].stem().string();
      mask = binarize_mask(m.data);
    }
    const double px_nm = s.pixel_size_nm > 0 ? s.pixel_size_nm : pixel_size_nm_of(meta.pixel_size_x, meta.unit);
    if (pixel_nm_seen < 0) pixel_nm_seen = px_nm;
    if (std::abs(px_nm - pixel_nm_seen) > 1e-12) mixed_pixel_size = true;
    Measured m;
    m.stem = stem;
    m.particles = analyze_mask(mask.to(device), s.split, &m.labels);
    if (s.min_significance > 0 && image.defined()) measure_significance(image.to(device), m.labels, m.particles);
    if (i < s.overlays) {
      m.base = image.defined() ? image.cpu() : mask.to(torch::kFloat32).cpu() * 0.5;
      m.labels = m.labels.cpu();
    } else {
      m.labels = torch::Tensor();
    }
    sum.particles += static_cast<int64_t>(m.particles.size());
    measured.push_back(std::move(m));
    progress.update(i + 1);
  }
  progress.finish();
  sum.images = n;
  EMGAN_CHECK(ConfigError, !mixed_pixel_size,
              "segment analyze: the images have different pixel sizes; analyze them separately or give --pixel-size");
  sum.unit = pixel_nm_seen > 0 ? "nm" : "px";
  const double scale = pixel_nm_seen > 0 ? pixel_nm_seen : 1.0;

  // Pass 2: the PSD's particles (border, size filter over all images together).
  std::vector<std::vector<Particle>> per_image;
  for (const auto& m : measured) per_image.push_back(m.particles);
  const auto sel = select_psd_particles(per_image, s.exclude_border, fit, s.min_significance);
  sum.excluded_faint = sel.faint;
  sum.excluded_small = sel.below_min;
  sum.excluded_large = sel.above_max;
  sum.min_area_px = sel.limits.min_px;
  sum.max_area_px = sel.limits.max_px;
  std::vector<double> diam, unfiltered;
  for (double d : sel.diameters_px) diam.push_back(d * scale);
  for (double d : sel.unfiltered_px) unfiltered.push_back(d * scale);
  sum.diameter = summarize_sizes(diam);
  sum.unfiltered = summarize_sizes(unfiltered);

  std::ostringstream csv;
  csv << "image,label,area,diameter,major,minor,aspect,ellipticity,cx_px,cy_px,touches_border,significance,excluded,"
         "unit\n";
  std::vector<std::pair<std::string, std::string>> overlay_files;
  for (size_t i = 0; i < measured.size(); ++i) {
    const auto& m = measured[i];
    std::vector<int64_t> excluded_ids;
    for (size_t k = 0; k < m.particles.size(); ++k) {
      const auto& p = m.particles[k];
      const auto use = sel.use[i][k];
      csv << m.stem << ',' << p.label << ',' << p.area_px * scale * scale << ',' << p.eq_diameter_px * scale << ','
          << p.major_px * scale << ',' << p.minor_px * scale << ',' << p.aspect << ',' << 1.0 - p.aspect << ','
          << p.cx << ',' << p.cy << ',' << (p.touches_border ? 1 : 0) << ','
          << (std::isfinite(p.significance) ? std::to_string(p.significance) : std::string()) << ',' << to_string(use)
          << ',' << sum.unit
          << '\n';
      if (use != ParticleUse::kMeasured) excluded_ids.push_back(p.label);
    }
    if (m.base.defined()) {
      const auto ids = torch::tensor(excluded_ids, torch::kLong);
      const auto name = "overlays/" + m.stem + ".png";
      report::write_png(out / name, overlay(m.base, m.labels, ids));
      overlay_files.emplace_back(name, m.stem);
    }
  }
  write_text_atomic(out / "particles.csv", csv.str());

  std::vector<report::HistogramSeries> hs;
  hs.push_back({"measured", torch::tensor(diam, torch::kFloat64), std::nullopt});
  if (!s.truth_csv.empty()) {
    auto truth = read_truth_diameters(s.truth_csv);
    if (sum.unit == "nm") {
      for (auto& t : truth) t *= pixel_nm_seen;
    }
    sum.truth = summarize_sizes(truth);
    if (sum.truth.mean > 0) {
      sum.mean_error_percent = 100.0 * (sum.diameter.mean - sum.truth.mean) / sum.truth.mean;
      sum.unfiltered_error_percent = 100.0 * (sum.unfiltered.mean - sum.truth.mean) / sum.truth.mean;
    }
    hs.push_back({"truth", torch::tensor(truth, torch::kFloat64), std::nullopt});
  }
  std::vector<torch::Tensor> samples;
  for (const auto& h : hs) samples.push_back(h.values);
  std::ostringstream psd;
  psd << "bin_low,bin_high,count\n";
  if (!diam.empty()) {
    const auto edges = report::auto_bin_edges(samples, s.bins);
    const auto h = report::histogram(hs[0].values, static_cast<int64_t>(edges.size()) - 1, edges.front(), edges.back());
    for (size_t b = 0; b < h.counts.size(); ++b) psd << h.edges[b] << ',' << h.edges[b + 1] << ',' << h.counts[b] << '\n';
    report::HistogramOptions ho;
    ho.bins(static_cast<int64_t>(edges.size()) - 1);
    ho.chart(report::ChartOptions()
                 .title("Particle size distribution (n = " + std::to_string(diam.size()) + ")")
                 .x_label("equivalent diameter (" + sum.unit + ")")
                 .y_label("count"));
    report::write_histogram(out / "psd.png", hs, ho);
  }
  write_text_atomic(out / "psd.csv", psd.str());
  save_json_file(out / "summary.json", Json(sum));

  report::Report rep("Particle size distribution");
  std::vector<std::pair<std::string, std::string>> kv = {
      {"images", std::to_string(sum.images)},
      {"masks from", sum.mask_source},
      {"particles found", std::to_string(sum.particles)},
      {"particles measured", std::to_string(sum.diameter.count) + (s.exclude_border ? " (border particles excluded)" : "") +
                                 (s.size_filter ? " (size filter applied)" : "")},
      {"mean diameter", report::format_number(sum.diameter.mean) + " " + sum.unit},
      {"standard deviation", report::format_number(sum.diameter.std) + " " + sum.unit},
      {"median", report::format_number(sum.diameter.median) + " " + sum.unit}};
  {
    std::ostringstream f;
    if (!s.size_filter) {
      f << "off (every detection counts)";
    } else {
      const auto eq_d = [&](double area_px) {
        return report::format_number(2.0 * std::sqrt(area_px / 3.14159265358979323846) * scale) + " " + sum.unit;
      };
      f << sum.excluded_small << " detections below " << report::format_number(sum.min_area_px) << " px in area (diameter "
        << eq_d(sum.min_area_px) << ") excluded";
      if (sum.max_area_px > 0) {
        f << ", " << sum.excluded_large << " above " << report::format_number(sum.max_area_px) << " px in area (diameter "
          << eq_d(sum.max_area_px) << ")";
      }
      f << "; without the filter: " << sum.unfiltered.count << " particles, mean "
        << report::format_number(sum.unfiltered.mean) << " " << sum.unit;
      if (sum.truth.count > 0) f << " (" << report::format_number(sum.unfiltered_error_percent) << " %)";
    }
    kv.emplace_back("size filter", f.str());
  }
  kv.emplace_back("contrast filter",
                  s.min_significance > 0
                      ? std::to_string(sum.excluded_faint) + " detections standing out of the support by less than " +
                            report::format_number(s.min_significance) +
                            " standard deviations of its means at their scale excluded (faint)"
                      : std::string("off"));
  if (sum.unit == "px") kv.emplace_back("unit", "pixels: the files carry no pixel size (give --pixel-size)");
  if (sum.truth.count > 0) {
    kv.emplace_back("truth mean diameter", report::format_number(sum.truth.mean) + " " + sum.unit);
    kv.emplace_back("mean diameter error", report::format_number(sum.mean_error_percent) + " %");
  }
  rep.section("Summary").key_values(kv);
  if (fs::exists(out / "psd.png")) rep.image("psd.png", "equivalent diameters; CSV: psd.csv, particles.csv");
  if (!overlay_files.empty()) rep.section("Overlays").image_row(overlay_files, 256);
  rep.section("Configuration").json(Json(s), "effective settings");
  rep.write(out);
  return sum;
}

}  // namespace emgan::segment
