#include "emgan/segment/analysis.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

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
  return os.str();
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
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) header.push_back(cell);
  }
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
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    EMGAN_CHECK(IoError, cells.size() == header.size(), csv.string(), ": line ", row, " has ", cells.size(),
                " cells, expected ", header.size());
    if (!include_border && cells[cb] == "1") continue;
    out.push_back(std::stod(cells[cd]));
  }
  return out;
}

namespace {

// Grey image with particle outlines (yellow) and excluded border particles (red).
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
  if (sum.mask_source == "model") seg = std::make_unique<Segmenter>(s.model, device);

  std::ostringstream csv;
  csv << "image,label,area,diameter,major,minor,aspect,ellipticity,cx_px,cy_px,touches_border,unit\n";
  std::vector<double> diam;
  double pixel_nm_seen = -1;
  bool mixed_pixel_size = false;
  const int64_t n = static_cast<int64_t>(images.empty() ? masks.size() : images.size());
  Progress progress("analyze", n, "img");
  std::vector<std::pair<std::string, std::string>> overlay_files;
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
    double px_nm = s.pixel_size_nm > 0 ? s.pixel_size_nm : pixel_size_nm_of(meta.pixel_size_x, meta.unit);
    if (pixel_nm_seen < 0) pixel_nm_seen = px_nm;
    if (std::abs(px_nm - pixel_nm_seen) > 1e-12) mixed_pixel_size = true;
    const double scale = px_nm > 0 ? px_nm : 1.0;
    const std::string unit = px_nm > 0 ? "nm" : "px";
    torch::Tensor labels;
    const auto particles = analyze_mask(mask.to(device), s.split, &labels);
    std::vector<int64_t> border_ids;
    for (const auto& p : particles) {
      csv << stem << ',' << p.label << ',' << p.area_px * scale * scale << ',' << p.eq_diameter_px * scale << ','
          << p.major_px * scale << ',' << p.minor_px * scale << ',' << p.aspect << ',' << 1.0 - p.aspect << ','
          << p.cx << ',' << p.cy << ',' << (p.touches_border ? 1 : 0) << ',' << unit << '\n';
      if (p.touches_border) border_ids.push_back(p.label);
      if (s.exclude_border && p.touches_border) continue;
      diam.push_back(p.eq_diameter_px * scale);
    }
    sum.particles += static_cast<int64_t>(particles.size());
    if (i < s.overlays) {
      const auto base = image.defined() ? image.cpu() : mask.to(torch::kFloat32).cpu() * 0.5;
      const auto ids = torch::tensor(border_ids, torch::kLong);
      const auto name = "overlays/" + stem + ".png";
      report::write_png(out / name, overlay(base, labels.cpu(), ids));
      overlay_files.emplace_back(name, stem);
    }
    progress.update(i + 1);
  }
  progress.finish();
  sum.images = n;
  sum.unit = pixel_nm_seen > 0 && !mixed_pixel_size ? "nm" : "px";
  EMGAN_CHECK(ConfigError, !mixed_pixel_size,
              "segment analyze: the images have different pixel sizes; analyze them separately or give --pixel-size");
  sum.diameter = summarize_sizes(diam);
  write_text_atomic(out / "particles.csv", csv.str());

  std::vector<report::HistogramSeries> hs;
  hs.push_back({"measured", torch::tensor(diam, torch::kFloat64), std::nullopt});
  if (!s.truth_csv.empty()) {
    auto truth = read_truth_diameters(s.truth_csv);
    if (sum.unit == "nm") {
      for (auto& t : truth) t *= pixel_nm_seen;
    }
    sum.truth = summarize_sizes(truth);
    if (sum.truth.mean > 0) sum.mean_error_percent = 100.0 * (sum.diameter.mean - sum.truth.mean) / sum.truth.mean;
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
      {"particles measured", std::to_string(sum.diameter.count) + (s.exclude_border ? " (border particles excluded)" : "")},
      {"mean diameter", report::format_number(sum.diameter.mean) + " " + sum.unit},
      {"standard deviation", report::format_number(sum.diameter.std) + " " + sum.unit},
      {"median", report::format_number(sum.diameter.median) + " " + sum.unit}};
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
