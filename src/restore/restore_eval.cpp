// `emgan restore eval`: the restorer and the classical baselines on real or swept data.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <sstream>

#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/dataset.h"
#include "emgan/io/image.h"
#include "emgan/metrics/metrics.h"
#include "emgan/report/charts.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"
#include "emgan/report/html.h"
#include "emgan/restore/restore.h"

namespace emgan::restore {

namespace {

torch::Tensor read_2d(const fs::path& path) {
  auto img = io::read_image(path);
  EMGAN_CHECK(IoError, img.data.dim() == 3, path.string(), ": expected a 2D image, got a volume ", img.data.sizes());
  return img.data.mean(0).to(torch::kFloat32).contiguous();
}

struct Case {
  std::string id;
  torch::Tensor truth, scan, mask;  // [H, W] CPU
};

struct SetData {
  std::string name;
  std::vector<Case> cases;
};

std::string fmt(double v, int p = 4) { return report::format_number(v, p); }

}  // namespace

std::string EvalSummary::last_line() const {
  if (mean.empty()) return "no results";
  const auto& [set, methods] = *mean.begin();
  std::string best;
  double best_rms = INFINITY;
  for (const auto& [m, r] : methods)
    if (m != "restorer" && r.rms_range < best_rms) {
      best_rms = r.rms_range;
      best = m;
    }
  std::ostringstream os;
  os.precision(4);
  os << set << ": best_baseline=" << best << " rms=" << best_rms << "%";
  const auto it = methods.find("restorer");
  if (it != methods.end())
    os << " restorer rms=" << it->second.rms_range << "% (" << 100.0 * (1.0 - it->second.rms_range / best_rms)
       << "% lower)";
  os << " noise_floor=" << methods.begin()->second.noise_floor << "% clean:";
  if (!best.empty()) os << " best=" << methods.at(best).clean_rms << "%";
  if (it != methods.end()) os << " restorer=" << it->second.clean_rms << "%";
  return os.str();
}

EvalSummary run_restore_eval(const RestoreEvalSettings& s) {
  EMGAN_CHECK(ConfigError, !s.data.empty(), "restore eval: --data (folder of truth*, mask*, partial_scan*) is required");
  for (const auto& m : s.methods) check_choice("restore eval: method", m, kBaselineNames);
  for (auto c : s.coverages)
    EMGAN_CHECK(ConfigError, c > 0.0 && c <= 1.0, "restore eval: coverage ", c, " must be in (0, 1]");
  check_choice("restore eval: path", s.path, kPathKinds);
  check_choice("restore eval: given_scan", s.given_scan, {"truth", "file"});
  EMGAN_CHECK(ConfigError, s.max_images >= 0, "restore eval: max_images ", s.max_images, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.max_distance >= 1, "restore eval: max_distance ", s.max_distance, " must be >= 1");
  const auto device = apply_runtime(s.runtime);
  const fs::path run = s.out;
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));

  // Find truth<ID>, mask<ID>, partial_scan<ID>.
  const auto files = data::list_image_files(s.data, false);
  std::map<std::string, fs::path> truths, masks, scans;
  for (const auto& f : files) {
    const auto stem = f.stem().string();
    if (stem.rfind("truth", 0) == 0) truths[stem.substr(5)] = f;
    if (stem.rfind("mask", 0) == 0) masks[stem.substr(4)] = f;
    if (stem.rfind("partial_scan", 0) == 0) scans[stem.substr(12)] = f;
  }
  EMGAN_CHECK(ConfigError, !truths.empty(), "restore eval: no truth* images in ", s.data,
              " (expected e.g. truth-1.tif with mask-1.tif and partial_scan-1.tif)");
  if (s.max_images > 0)
    while (static_cast<int64_t>(truths.size()) > s.max_images) truths.erase(std::prev(truths.end()));
  std::vector<SetData> sets;
  std::map<std::string, torch::Tensor> truth_img;
  for (const auto& [id, f] : truths) truth_img[id] = read_2d(f);
  if (s.given) {
    SetData given{"given", {}};
    for (const auto& [id, f] : truths) {
      if (!masks.count(id)) continue;
      const auto raw_mask = read_2d(masks[id]);
      Case c{id, truth_img[id], {}, binarize_mask(raw_mask)};
      if (!torch::equal(c.mask, raw_mask) && id == truths.begin()->first)
        log_info("restore eval: " + masks[id].string() + " is a weighted mask (mean " +
                 fmt(raw_mask.mean().item<double>()) + "); sampled = its " +
                 std::to_string(c.mask.sum().item<int64_t>()) + " largest-weight pixels");
      const bool from_file = s.given_scan == "file" && scans.count(id);
      c.scan = from_file ? read_2d(scans[id]) : c.truth * c.mask;
      check_scan_and_mask(c.scan, c.mask, (scans.count(id) ? scans[id] : f).string() + " / " + masks[id].string());
      check_scan_and_mask(c.truth, c.mask, f.string() + " / " + masks[id].string());
      given.cases.push_back(c);
    }
    if (!given.cases.empty()) sets.push_back(given);
  }
  for (auto cov : s.coverages) {
    std::ostringstream name;
    name.precision(3);
    name << s.path << "-1/" << 1.0 / cov;
    SetData set{name.str(), {}};
    for (const auto& [id, t] : truth_img) {
      ScanPathOptions po;
      po.coverage = cov;
      po.seed = s.runtime.seed;
      const auto m = path_mask(make_path(s.path, t.size(0), t.size(1), po));
      set.cases.push_back(Case{id, t, t * m, m});
    }
    sets.push_back(set);
  }
  EMGAN_CHECK(ConfigError, !sets.empty(), "restore eval: nothing to evaluate in ", s.data,
              ": no mask<ID> files beside the truths and no --coverages given");

  models::LoadedRestorer model;
  std::vector<std::string> methods = s.methods;
  if (!s.model.empty()) {
    model = models::load_restorer(s.model, device);
    methods.push_back("restorer");
  }
  EMGAN_CHECK(ConfigError, !methods.empty(), "restore eval: no methods (give --methods or --model)");

  EvalSummary summary;
  report::Report rep("Partial-scan restoration: evaluation");
  rep.section("Protocol")
      .paragraph("Every image is restored from its partial scan by each method; the truth is used only to score. "
                 "RMS error in % of the truth's range (max - min), MSE in truth units^2, SSIM and PSNR with the "
                 "truth's range, fractional RMSE in % of the truth's std. Baselines: nearest = nearest sampled "
                 "pixel (jump flooding); linear = pixel-adaptive normalised convolution; harmonic / biharmonic = "
                 "membrane / thin-plate inpainting by conjugate gradients.");
  std::vector<report::Series> sweep_series;
  std::map<std::string, std::vector<double>> sweep_x, sweep_y;
  int64_t total = 0;
  for (const auto& set : sets) total += static_cast<int64_t>(set.cases.size() * methods.size());
  Progress progress("restore eval", total, "img");
  int64_t done = 0;
  for (size_t si = 0; si < sets.size(); ++si) {
    const auto& set = sets[si];
    std::map<std::string, torch::Tensor> err_sum, err_cnt, spec_sum;
    torch::Tensor spec_truth;
    std::vector<std::vector<torch::Tensor>> panel_rows;
    std::vector<std::string> row_labels;
    for (const auto& c : set.cases) {
      const auto truth = c.truth.to(device).view({1, 1, c.truth.size(0), c.truth.size(1)});
      const auto scan = c.scan.to(device).view_as(truth);
      const auto mask = (c.mask.to(device).view_as(truth) > 0.5).to(torch::kFloat32);
      const double range = (truth.max() - truth.min()).item<double>();
      EMGAN_CHECK(ConfigError, range > 0.0, "restore eval: truth ", c.id, " is constant");
      const double coverage = mask_coverage(mask);
      const auto dist = nearest_sample(mask).distance;
      const double floor = 100.0 * metrics::noise_sigma(truth) / range * std::sqrt(std::max(0.0, 1.0 - coverage));
      auto ts = radial_power_spectrum(c.truth);
      spec_truth = spec_truth.defined() ? spec_truth + ts : ts;
      std::vector<torch::Tensor> panels = {c.truth.unsqueeze(0), c.scan.unsqueeze(0)};
      for (const auto& m : methods) {
        const auto t0 = std::chrono::steady_clock::now();
        torch::Tensor pred;
        if (m == "restorer")
          pred = restore_with_model(model, scan[0][0], mask[0][0]).view_as(truth);
        else
          pred = classical_restore(m, scan, mask, s.baseline);
        pred.sum().item<double>();  // waits for the device
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto im = metrics::image_metrics(pred, truth, range);
        EvalRow r;
        r.set = set.name;
        r.image = c.id;
        r.method = m;
        r.coverage = coverage;
        r.rms_range = 100.0 * im.rmse / range;
        r.frac_rmse = im.frac_rmse_percent;
        r.mse = im.mse;
        r.ssim = im.ssim;
        r.psnr = im.psnr_db;
        r.seconds = secs;
        r.noise_floor = floor;
        r.clean_rms = std::sqrt(std::max(0.0, r.rms_range * r.rms_range - floor * floor));
        summary.rows.push_back(r);
        auto [e, n] = error_by_distance(pred, truth, dist, s.max_distance);
        e = torch::nan_to_num(e, 0.0) * n / range * 100.0;
        err_sum[m] = err_sum[m].defined() ? err_sum[m] + e : e;
        err_cnt[m] = err_cnt[m].defined() ? err_cnt[m] + n : n;
        auto ps = radial_power_spectrum(pred);
        spec_sum[m] = spec_sum[m].defined() ? spec_sum[m] + ps : ps;
        if (static_cast<int64_t>(panel_rows.size()) < s.panels) panels.push_back(pred[0].cpu());
        progress.update(++done, set.name + " " + c.id + " " + m);
      }
      if (static_cast<int64_t>(panel_rows.size()) < s.panels) {
        panel_rows.push_back(panels);
        row_labels.push_back(c.id);
      }
    }
    // Means.
    auto& mean = summary.mean[set.name];
    for (const auto& m : methods) {
      EvalRow acc;
      acc.set = set.name;
      acc.image = "mean";
      acc.method = m;
      double n = 0;
      for (const auto& r : summary.rows)
        if (r.set == set.name && r.method == m) {
          acc.coverage += r.coverage;
          acc.rms_range += r.rms_range;
          acc.frac_rmse += r.frac_rmse;
          acc.mse += r.mse;
          acc.ssim += r.ssim;
          acc.psnr += r.psnr;
          acc.seconds += r.seconds;
          acc.noise_floor += r.noise_floor;
          acc.clean_rms += r.clean_rms;
          n += 1;
        }
      acc.coverage /= n;
      acc.rms_range /= n;
      acc.frac_rmse /= n;
      acc.mse /= n;
      acc.ssim /= n;
      acc.psnr /= n;
      acc.seconds /= n;
      acc.noise_floor /= n;
      acc.clean_rms /= n;
      mean[m] = acc;
      sweep_x[m].push_back(1.0 / acc.coverage);
      sweep_y[m].push_back(acc.rms_range);
    }
    // Figures of this set.
    const std::string tag = std::to_string(si);
    std::vector<report::Series> dist_series, spec_series;
    const auto nb = s.max_distance + 1;
    std::vector<double> dx(static_cast<size_t>(nb));
    for (int64_t k = 0; k < nb; ++k) dx[static_cast<size_t>(k)] = static_cast<double>(k);
    const auto nf = spec_truth.size(0);
    const double side = static_cast<double>(2 * nf);
    std::vector<double> fx;
    for (int64_t k = 1; k < nf; ++k) fx.push_back(static_cast<double>(k) / side);
    auto spec_vec = [&](const torch::Tensor& t) {
      std::vector<double> v;
      for (int64_t k = 1; k < nf; ++k) v.push_back(t[k].item<double>() / static_cast<double>(set.cases.size()));
      return v;
    };
    spec_series.emplace_back("truth", fx, spec_vec(spec_truth));
    for (const auto& m : methods) {
      auto e = err_sum[m] / err_cnt[m].clamp_min(1.0);
      std::vector<double> y;
      for (int64_t k = 0; k < nb; ++k)
        y.push_back(err_cnt[m][k].item<double>() > 0 ? e[k].item<double>() : std::nan(""));
      dist_series.emplace_back(m, dx, y);
      spec_series.emplace_back(m, fx, spec_vec(spec_sum[m]));
    }
    report::write_line_chart(run / ("error_vs_distance_" + tag + ".png"), dist_series,
                             report::ChartOptions()
                                 .title("Mean |error| vs distance to the path, " + set.name)
                                 .x_label("distance from nearest scanned pixel (px)")
                                 .y_label("mean |error| (% of range)"));
    report::write_line_chart(run / ("spectrum_" + tag + ".png"), spec_series,
                             report::ChartOptions()
                                 .title("Radial power spectrum, " + set.name)
                                 .x_label("spatial frequency (cycles/px)")
                                 .y_label("power")
                                 .log_y(true));
    if (si == 0) {
      fs::copy_file(run / ("error_vs_distance_" + tag + ".png"), run / "error_vs_distance.png",
                    fs::copy_options::overwrite_existing);
      fs::copy_file(run / ("spectrum_" + tag + ".png"), run / "spectrum.png", fs::copy_options::overwrite_existing);
    }
    std::vector<std::string> titles = {"truth", "partial scan"};
    for (const auto& m : methods) titles.push_back(m);
    report::GridOptions go;
    go.column_titles(titles).row_labels(row_labels).window_mode(report::WindowMode::kRow);
    if (!panel_rows.empty()) report::write_grid_png(run / ("panels_" + tag + ".png"), panel_rows, go);
    // Report section.
    std::vector<std::vector<std::string>> table;
    for (const auto& m : methods) {
      const auto& r = mean[m];
      table.push_back({m, fmt(r.rms_range), fmt(r.clean_rms), fmt(r.frac_rmse), fmt(r.mse, 3), fmt(r.ssim),
                       fmt(r.psnr), fmt(r.seconds, 3)});
    }
    rep.section("Set " + set.name + " (" + std::to_string(set.cases.size()) + " images, mean coverage " +
                fmt(mean[methods.front()].coverage) + ")")
        .table({"method", "RMS % of range", "vs noise-free truth (est.)", "frac. RMSE %", "MSE", "SSIM", "PSNR dB",
                "s / image"},
               table)
        .paragraph("Noise floor: the truths carry noise of their own (estimated per image with Immerkaer's "
                   "operator, metrics::noise_sigma); a perfect, noise-free restoration would still score about " +
                   fmt(mean[methods.front()].noise_floor) +
                   " % RMS against them (noise sigma x sqrt(1 - coverage), mean over the images). No method can "
                   "go far below it; fine structure at the pixel scale reads as noise, so it is an upper estimate "
                   "there. The column \"vs noise-free truth\" is sqrt(RMS^2 - floor^2) per image: the part of the error a "
                   "restoration can still reduce.")
        .image_row({{"error_vs_distance_" + tag + ".png", "error vs distance from the path"},
                    {"spectrum_" + tag + ".png", "power spectrum, restored vs true"}},
                   600);
    if (!panel_rows.empty()) rep.image("panels_" + tag + ".png", "truth, partial scan, restorations");
  }
  progress.finish();
  if (sets.size() > 1) {
    for (const auto& m : methods) sweep_series.emplace_back(m, sweep_x[m], sweep_y[m]);
    for (auto& sr : sweep_series) sr.markers = true;
    report::write_line_chart(run / "coverage_sweep.png", sweep_series,
                             report::ChartOptions()
                                 .title("RMS error vs 1/coverage")
                                 .x_label("1 / coverage")
                                 .y_label("RMS error (% of range)"));
    rep.section("Coverage sweep").image("coverage_sweep.png", "mean RMS error of every set");
  }
  // Tables.
  std::ostringstream csv, sum;
  csv.precision(8);
  sum.precision(8);
  csv << "set,image,method,coverage,rms_range_percent,frac_rmse_percent,mse,ssim,psnr_db,seconds,noise_floor_percent,clean_rms_percent\n";
  for (const auto& r : summary.rows)
    csv << r.set << ',' << r.image << ',' << r.method << ',' << r.coverage << ',' << r.rms_range << ','
        << r.frac_rmse << ',' << r.mse << ',' << r.ssim << ',' << r.psnr << ',' << r.seconds << ',' << r.noise_floor
        << ',' << r.clean_rms << '\n';
  sum << "set,method,coverage,rms_range_percent,frac_rmse_percent,mse,ssim,psnr_db,seconds,noise_floor_percent,"
         "clean_rms_percent\n";
  Json js = Json::object();
  for (const auto& [set, ms] : summary.mean)
    for (const auto& [m, r] : ms) {
      sum << set << ',' << m << ',' << r.coverage << ',' << r.rms_range << ',' << r.frac_rmse << ',' << r.mse << ','
          << r.ssim << ',' << r.psnr << ',' << r.seconds << ',' << r.noise_floor << ',' << r.clean_rms
          << '\n';
      js[set][m] = {{"coverage", r.coverage}, {"rms_range_percent", r.rms_range}, {"frac_rmse_percent", r.frac_rmse},
                    {"mse", r.mse},           {"ssim", r.ssim},                   {"psnr_db", r.psnr},
                    {"seconds", r.seconds},   {"noise_floor_percent", r.noise_floor},
                    {"clean_rms_percent", r.clean_rms}};
    }
  write_text_atomic(run / "eval.csv", csv.str());
  write_text_atomic(run / "summary.csv", sum.str());
  save_json_file(run / "summary.json", js);
  rep.section("Result").paragraph(summary.last_line());
  rep.write(run);
  return summary;
}

}  // namespace emgan::restore
