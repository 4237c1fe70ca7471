// The verbs of the translation workflow: cross-validation (with its report),
// training on all pairs, prediction, nested tuning.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>

#include "emgan/core/fs.h"
#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/dataset.h"
#include "emgan/data/sample.h"
#include "emgan/data/split.h"
#include "emgan/io/image.h"
#include "emgan/metrics/metrics.h"
#include "emgan/report/report.h"
#include "emgan/workflows/translate.h"

namespace emgan::workflows {

namespace {

/// The published per-fold fractional RMSE (%) of Lawrence et al. 2020 (pix2pix).
const std::vector<double> kPublishedFolds = {7, 8, 12, 9, 18};

struct Pairs {
  std::vector<torch::Tensor> inputs, targets;
  std::vector<std::string> ids, groups, input_paths;
  std::shared_ptr<data::PairedFolderDataset> dataset;
};

Pairs load_pairs(const TranslateSettings& s) {
  EMGAN_CHECK(ConfigError, !s.data.empty(), "translate: --data is required (a folder of convolution/multislice pairs)");
  data::PairedFolderOptions o;
  if (!s.input_pattern.empty()) o.input_pattern(s.input_pattern);
  if (!s.target_pattern.empty()) o.target_pattern(s.target_pattern);
  o.preload(true);
  Pairs p;
  p.dataset = data::PairedFolderDataset::from_tree(s.data, o);
  for (size_t i = 0; i < p.dataset->size(); ++i) {
    auto sample = p.dataset->get(i);
    EMGAN_CHECK(IoError, sample.input.size(0) == 1, sample.input_path, ": ", sample.input.size(0),
                " channels; translation expects single-channel images");
    p.inputs.push_back(sample.input);
    p.targets.push_back(sample.target);
    p.ids.push_back(sample.id);
    p.groups.push_back(sample.group);
    p.input_paths.push_back(sample.input_path);
  }
  return p;
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? std::nan("") : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double acc = 0;
  for (double x : v) acc += (x - m) * (x - m);
  return std::sqrt(acc / static_cast<double>(v.size() - 1));
}

std::string fmt(double v, int precision = 3) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

/// Target in the units the protocol compares in.
torch::Tensor eval_target(const torch::Tensor& target, const std::string& protocol) {
  return protocol == "paper" ? target / target.max() : target;
}

/// Per-image figures: fractional RMSE (%), SSIM and PSNR with the true image's range.
CvRow score(const torch::Tensor& pred, const torch::Tensor& truth) {
  CvRow r;
  const double range = (truth.max() - truth.min()).item<double>();
  r.frac_rmse = metrics::frac_rmse(pred, truth);
  r.ssim = metrics::ssim(pred, truth, range > 0 ? range : 1.0);
  r.psnr = metrics::psnr(pred, truth, range > 0 ? range : 1.0);
  const double pmax = pred.max().item<double>(), tmax = truth.max().item<double>();
  if (pmax > 0 && tmax > 0) {
    auto pn = pred / pmax, tn = truth / tmax;
    const double rn = (tn.max() - tn.min()).item<double>();
    r.frac_rmse_max = metrics::frac_rmse(pn, tn);
    r.ssim_max = metrics::ssim(pn, tn, rn > 0 ? rn : 1.0);
  } else {
    r.frac_rmse_max = r.ssim_max = std::nan("");
  }
  return r;
}

void write_cv_csv(const fs::path& path, const std::vector<CvRow>& rows) {
  std::ostringstream os;
  os << "fold,material,id,frac_rmse,ssim,psnr,frac_rmse_max,ssim_max\n";
  os << std::setprecision(8);
  for (const auto& r : rows) {
    os << r.fold << "," << r.material << "," << r.id << "," << r.frac_rmse << "," << r.ssim << "," << r.psnr << ","
       << r.frac_rmse_max << "," << r.ssim_max << "\n";
  }
  write_text_atomic(path, os.str());
}

CvSummary summarize(std::vector<CvRow> rows, int64_t folds) {
  CvSummary s;
  s.rows = std::move(rows);
  s.folds = folds;
  std::vector<double> f, ss, ps, fm, sm;
  std::map<int64_t, std::vector<double>> per_fold;
  for (const auto& r : s.rows) {
    fm.push_back(r.frac_rmse_max);
    sm.push_back(r.ssim_max);
    f.push_back(r.frac_rmse);
    ss.push_back(r.ssim);
    ps.push_back(r.psnr);
    per_fold[r.fold].push_back(r.frac_rmse);
  }
  s.mean_frac_rmse = mean_of(f);
  s.std_frac_rmse = std_of(f);
  s.mean_ssim = mean_of(ss);
  s.mean_psnr = mean_of(ps);
  s.mean_frac_rmse_max = mean_of(fm);
  s.mean_ssim_max = mean_of(sm);
  for (const auto& kv : per_fold) s.worst_fold_frac_rmse = std::max(s.worst_fold_frac_rmse, mean_of(kv.second));
  return s;
}

std::string protocol_text(const TranslateSettings& s) {
  std::ostringstream os;
  os << s.folds << "-fold cross-validation by whole image (seed " << s.runtime.seed << ", "
     << (s.stratified ? "stratified by material folder" : "not stratified") << "). ";
  if (s.protocol == "strict") {
    os << "Strict protocol: each test image is predicted from its convolution image and what was fitted on the "
          "training folds only (inputs normalised per image from the input itself; intensities brought to the "
          "target's units by a scale or gain fitted on the training images of the same material — the material, "
          "the sub-folder name, is metadata the user has for any image, not a property of its target; a material "
          "unseen in training falls back to all training images). Predictions and errors are in the multislice image's physical units (fraction "
          "of the incident beam); nothing about a test target, not even its maximum, is used to predict it. ";
  } else {
    os << "Paper protocol (for comparison with the published table only): each input and each target is divided "
          "by its own maximum, as the published loader did, and errors are computed in those units; the test "
          "target's maximum is known to the evaluation. ";
  }
  os << "Per image: fractional RMSE = RMSE / population standard deviation of the true image (%), SSIM (Gaussian "
        "window sigma 1.5, data range = max - min of the true image) and PSNR (same range). Training uses random "
        "crops of the training images; every test image is predicted whole, at its own size.";
  return os.str();
}

/// Writes the comparison panels of one fold: convolution / prediction / multislice /
/// difference, prediction, target and difference on one contrast scale per row.
void write_panels(const fs::path& path, const std::vector<torch::Tensor>& in, const std::vector<torch::Tensor>& pred,
                  const std::vector<torch::Tensor>& truth, const std::vector<std::string>& labels) {
  if (in.empty()) return;
  std::vector<std::vector<torch::Tensor>> rows;
  for (size_t i = 0; i < in.size(); ++i) rows.push_back({in[i], pred[i], truth[i], pred[i] - truth[i]});
  auto opts = report::comparison_options(true, static_cast<int64_t>(rows.size()), true);
  opts.column_titles({"convolution", "prediction", "multislice", "prediction - multislice"});
  opts.row_labels(labels);
  int64_t largest = 0;
  for (const auto& t : truth) largest = std::max({largest, t.size(-1), t.size(-2)});
  if (largest < 128) opts.panel_scale(2);  // small images are shown twice as large
  report::write_grid_png(path, rows, opts);
}

/// Fold error per epoch, from the folds' eval logs.
void write_epoch_curves(const fs::path& run, const std::vector<int64_t>& folds, report::Report& rep) {
  std::vector<report::Series> series;
  for (int64_t f : folds) {
    const fs::path log = run / ("fold_" + std::to_string(f)) / "eval.csv";
    if (!fs::exists(log)) continue;
    auto table = report::read_metrics_log(log);
    if (!table.has("test_frac_rmse") || !table.has("epoch")) continue;
    report::Series s;
    s.name = "fold " + std::to_string(f);
    s.x = table.column("epoch");
    for (auto& x : s.x) x += 1;  // epochs counted from 1 in the figure
    s.y = table.column("test_frac_rmse");
    s.markers = s.x.size() < 30;
    series.push_back(s);
  }
  if (series.empty()) return;
  report::write_line_chart(run / "error_per_epoch.png", series,
                           report::ChartOptions()
                               .title("Test-fold error after each epoch")
                               .x_label("epoch")
                               .y_label("fractional RMSE (%)"));
  rep.image("error_per_epoch.png",
            "Mean fractional RMSE of each test fold after every epoch (monitoring only: no epoch is selected by it).");
}

/// What every translate verb does first: check the settings, choose the device,
/// create the run folder, write the effective config and read the pairs.
/// The "Results" section of a cross-validation report: per-fold table beside the
/// published figures, the key figures and the per-material table.
void add_results(report::Report& rep, const CvSummary& summary, const std::string& protocol,
                 const std::string& model, const std::string& device) {
  const auto& rows = summary.rows;
  std::vector<std::vector<std::string>> table;
  std::map<int64_t, std::vector<const CvRow*>> by_fold;
  for (const auto& r : rows) by_fold[r.fold].push_back(&r);
  std::vector<double> times;
  for (const auto& r : rows) times.push_back(r.predict_s);
  for (const auto& kv : by_fold) {
    std::vector<double> f, ss, ps, fm, sm;
    for (const auto* r : kv.second) {
      f.push_back(r->frac_rmse);
      ss.push_back(r->ssim);
      ps.push_back(r->psnr);
      fm.push_back(r->frac_rmse_max);
      sm.push_back(r->ssim_max);
    }
    const size_t k = static_cast<size_t>(kv.first);
    table.push_back({std::to_string(kv.first), std::to_string(kv.second.size()), fmt(mean_of(f), 2),
                     fmt(std_of(f), 2), fmt(mean_of(ss), 4), fmt(mean_of(ps), 2), fmt(mean_of(fm), 2),
                     fmt(mean_of(sm), 4), k < kPublishedFolds.size() ? fmt(kPublishedFolds[k], 0) : "-"});
  }
  table.push_back({"all", std::to_string(rows.size()), fmt(summary.mean_frac_rmse, 2), fmt(summary.std_frac_rmse, 2),
                   fmt(summary.mean_ssim, 4), fmt(summary.mean_psnr, 2), fmt(summary.mean_frac_rmse_max, 2),
                   fmt(summary.mean_ssim_max, 4), "10.8"});
  rep.section("Results")
      .paragraph("Published: pix2pix GAN of Lawrence et al. 2020, 5-fold fractional RMSE 7, 8, 12, 9, 18 % (mean "
                 "10.8 %), SSIM 0.89 on fold 1 (their folds and loader, each image scaled by its own maximum); "
                 "polynomial model of Combs et al. 2019: slightly over 9 % on average. Their folds are not ours: "
                 "compare means, not fold by fold.")
      .table({"fold", "images", "frac RMSE %", "std %", "SSIM", "PSNR dB", "frac RMSE % (max-scaled)",
              "SSIM (max-scaled)", "published frac RMSE %"},
             table,
             "Protocol: " + protocol + "; model: " + model)
      .paragraph("Max-scaled columns: the same predictions, prediction and truth each divided by its own maximum "
                 "before comparing (the paper-comparable figure; it uses the truth's maximum at evaluation only, "
                 "never to predict).")
      .key_values({{"mean fractional RMSE", fmt(summary.mean_frac_rmse, 2) + " %"},
                   {"worst fold", fmt(summary.worst_fold_frac_rmse, 2) + " %"},
                   {"mean SSIM", fmt(summary.mean_ssim, 4)},
                   {"mean PSNR", fmt(summary.mean_psnr, 2) + " dB"},
                   {"prediction time per image (mean)", fmt(mean_of(times), 4) + " s"},
                   {"device", device}});
  std::map<std::string, std::vector<double>> by_mat;
  for (const auto& r : rows) by_mat[r.material].push_back(r.frac_rmse);
  std::vector<std::vector<std::string>> mat_rows;
  for (const auto& kv : by_mat)
    mat_rows.push_back({kv.first, std::to_string(kv.second.size()), fmt(mean_of(kv.second), 2)});
  rep.table({"material", "images", "frac RMSE %"}, mat_rows, "Per material");
}

/// summary.json of a cross-validation.
Json summary_json(const CvSummary& summary, const std::string& protocol, const std::string& model) {
  std::vector<double> times;
  for (const auto& r : summary.rows) times.push_back(r.predict_s);
  return Json{{"mean_frac_rmse", summary.mean_frac_rmse}, {"std_frac_rmse", summary.std_frac_rmse},
              {"worst_fold_frac_rmse", summary.worst_fold_frac_rmse}, {"mean_ssim", summary.mean_ssim},
              {"mean_psnr", summary.mean_psnr}, {"folds", summary.folds},
              {"mean_frac_rmse_max", summary.mean_frac_rmse_max}, {"mean_ssim_max", summary.mean_ssim_max},
              {"images", summary.rows.size()}, {"mean_predict_s", mean_of(times)},
              {"protocol", protocol}, {"model", model}};
}

struct PreparedRun {
  torch::Device device;
  fs::path run;
  Pairs pairs;
};

PreparedRun prepare_run(const TranslateSettings& s, const Json& config) {
  validate(s);
  const torch::Device device = apply_runtime(s.runtime);
  const fs::path run = s.out;
  ensure_dir(run);
  save_json_file(run / "config.json", config);
  return PreparedRun{device, run, load_pairs(s)};
}

}  // namespace

std::string CvSummary::last_line() const {
  std::ostringstream os;
  os << "mean_frac_rmse=" << fmt(mean_frac_rmse, 3) << " mean_ssim=" << fmt(mean_ssim, 4) << " folds=" << folds
     << " images=" << rows.size();
  return os.str();
}

CvSummary run_cv(const TranslateSettings& given) {
  const TranslateSettings s = resolve_automatic(given);
  PreparedRun prep = prepare_run(s, Json(s));
  const torch::Device device = prep.device;
  const fs::path& run = prep.run;
  Pairs& pairs = prep.pairs;
  const int64_t n = static_cast<int64_t>(pairs.inputs.size());
  EMGAN_CHECK(ConfigError, n >= s.folds, s.data, ": ", n, " pairs are too few for ", s.folds, " folds");
  auto split = data::make_kfold(data::split_items(*pairs.dataset), static_cast<int>(s.folds), s.runtime.seed,
                                s.stratified);
  data::save_split(split, run);
  log_info("translate cv: " + std::to_string(n) + " pairs, " + std::to_string(s.folds) + " folds, model " + s.model +
           ", protocol " + s.protocol + ", device " + device.str());

  std::vector<int64_t> folds;
  for (int64_t f = 0; f < s.folds; ++f)
    if (s.only_fold < 0 || s.only_fold == f) folds.push_back(f);

  report::Report rep("emgan translate cv — " + s.model);
  rep.section("Protocol").paragraph(protocol_text(s));
  std::vector<CvRow> rows;
  std::vector<std::pair<std::string, std::string>> panel_images;
  std::vector<torch::Tensor> all_pred, all_truth;  // pixel values of every test image, for the histogram
  Progress progress("translate cv folds", static_cast<int64_t>(folds.size()), "fold");
  int64_t done = 0;
  for (int64_t f : folds) {
    const fs::path fold_dir = run / ("fold_" + std::to_string(f));
    const auto train_idx = split.train_indices(static_cast<int>(f), *pairs.dataset);
    const auto test_idx = split.test_indices(static_cast<int>(f), *pairs.dataset);
    std::vector<torch::Tensor> tx, ty;
    std::vector<std::string> tg;
    for (size_t i : train_idx) {
      tx.push_back(pairs.inputs[i]);
      ty.push_back(pairs.targets[i]);
      tg.push_back(pairs.groups[i]);
    }
    TranslateEvalFn eval = [&](int64_t, Translator& t) {
      std::vector<double> fr, ss;
      for (size_t i : test_idx) {
        auto pred = t.predict(pairs.inputs[i], pairs.groups[i]);
        auto r = score(pred, eval_target(pairs.targets[i], s.protocol));
        fr.push_back(r.frac_rmse);
        ss.push_back(r.ssim);
      }
      return std::map<std::string, double>{{"test_frac_rmse", mean_of(fr)}, {"test_ssim", mean_of(ss)}};
    };
    auto translator = train_translator(s, tx, ty, tg, fold_dir, device, eval);
    translator->save(fold_dir / "model");

    std::vector<torch::Tensor> pin, ppred, ptruth;
    std::vector<std::string> plabels;
    for (size_t i : test_idx) {
      const auto t0 = std::chrono::steady_clock::now();
      auto pred = translator->predict(pairs.inputs[i], pairs.groups[i]);
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      auto truth = eval_target(pairs.targets[i], s.protocol);
      CvRow r = score(pred, truth);
      r.fold = f;
      r.material = pairs.groups[i];
      r.id = pairs.ids[i];
      r.predict_s = dt;
      rows.push_back(r);
      all_pred.push_back(pred.flatten());
      all_truth.push_back(truth.flatten());
      io::write_image(fold_dir / "predictions" / (r.material + "_" + r.id + ".tif"), pred);
      if (static_cast<int64_t>(pin.size()) < s.panels) {
        pin.push_back(pairs.inputs[i]);
        ppred.push_back(pred);
        ptruth.push_back(truth);
        plabels.push_back(r.material + " " + r.id + " (" + fmt(r.frac_rmse, 1) + "%)");
      }
    }
    const std::string panel = "fold_" + std::to_string(f) + "/panels.png";
    write_panels(run / panel, pin, ppred, ptruth, plabels);
    if (!pin.empty()) panel_images.push_back({panel, "fold " + std::to_string(f)});
    write_cv_csv(run / "cv.csv", rows);  // after every fold, so a stopped run keeps its figures
    progress.update(++done, "fold " + std::to_string(f) + " done");
  }
  progress.finish();

  CvSummary summary = summarize(rows, static_cast<int64_t>(folds.size()));
  write_cv_csv(run / "cv.csv", rows);

  add_results(rep, summary, s.protocol, s.model, device.str());
  if (!panel_images.empty()) {
    rep.section("Test images");
    rep.paragraph("Per fold, the first test images: convolution input (own contrast window), prediction, multislice "
                  "truth and their difference; prediction, truth and difference share one contrast scale per row.");
    for (const auto& pi : panel_images) rep.image(pi.first, pi.second);
  }
  if (!all_pred.empty()) {
    report::write_histogram(run / "intensity_histogram.png",
                            {{"multislice (truth)", torch::cat(all_truth), std::nullopt},
                             {"prediction", torch::cat(all_pred), std::nullopt}},
                            report::HistogramOptions().bins(60).chart(
                                report::ChartOptions()
                                    .title("Pixel intensities of all test images")
                                    .x_label(s.protocol == "paper" ? "intensity / image max" : "fraction of beam")
                                    .y_label("pixels")
                                    .log_y(true)));
    rep.image("intensity_histogram.png", "Histogram of predicted and true pixel values over every test image.");
  }
  rep.section("Error per epoch");
  write_epoch_curves(run, folds, rep);
  for (int64_t f : folds) {
    const fs::path log = run / ("fold_" + std::to_string(f)) / "metrics.csv";
    if (fs::exists(log) && report::read_metrics_log(log).rows() > 0) {
      const std::string png = "fold_" + std::to_string(f) + "/learning_curves.png";
      report::write_learning_curves(log, run / png);
      rep.image(png, "Training losses, fold " + std::to_string(f));
    }
  }
  rep.section("Configuration").json(Json(s), "config.json (effective settings)");
  rep.write(run);
  save_json_file(run / "summary.json", summary_json(summary, s.protocol, s.model));
  return summary;
}

namespace {

/// (fold, material, id) of the rows of a `translate cv` run's cv.csv.
std::vector<std::tuple<int64_t, std::string, std::string>> read_cv_keys(const fs::path& csv) {
  std::ifstream in(csv);
  EMGAN_CHECK(IoError, in.good(), csv.string(), ": cannot read; expected the cv.csv of a `translate cv` run");
  std::string line;
  std::getline(in, line);
  EMGAN_CHECK(IoError, line.rfind("fold,material,id,", 0) == 0, csv.string(), ": header '", line,
              "'; expected 'fold,material,id,...' (a translate cv table)");
  std::vector<std::tuple<int64_t, std::string, std::string>> keys;
  int64_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const auto cells = split_csv_line(line);
    EMGAN_CHECK(IoError, cells.size() >= 3, csv.string(), ": line ", line_no, " '", line,
                "' has fewer than 3 columns (fold, material, id)");
    int64_t fold = -1;
    try {
      fold = std::stoll(cells[0]);
    } catch (const std::exception&) {
      throw IoError(csv.string() + ": line " + std::to_string(line_no) + ": fold '" + cells[0] +
                    "' is not an integer");
    }
    keys.emplace_back(fold, cells[1], cells[2]);
  }
  return keys;
}

}  // namespace

CvSummary run_ensemble(const EnsembleSettings& e) {
  EMGAN_CHECK(ConfigError, e.runs.size() >= 2, "translate ensemble: ", e.runs.size(),
              " run(s) given; expected two or more `translate cv` run folders (--runs A B ...)");
  // The runs must share what decides the folds and the units of the predictions.
  std::vector<TranslateSettings> cfg;
  for (const auto& r : e.runs) {
    const fs::path c = fs::path(r) / "config.json";
    EMGAN_CHECK(IoError, fs::exists(c), c.string(), ": not found; expected a `translate cv` run folder");
    cfg.push_back(load_json_file(c).get<TranslateSettings>());
  }
  const TranslateSettings& s = cfg.front();
  for (size_t i = 1; i < cfg.size(); ++i) {
    const auto& o = cfg[i];
    const std::string c = (fs::path(e.runs[i]) / "config.json").string();
    auto same = [&](const std::string& what, const std::string& got, const std::string& want) {
      EMGAN_CHECK(ConfigError, got == want, c, ": ", what, " = '", got, "'; expected '", want, "' as in ",
                  (fs::path(e.runs[0]) / "config.json").string(), " (ensemble members share data, folds and protocol)");
    };
    same("data", fs::weakly_canonical(o.data).string(), fs::weakly_canonical(s.data).string());
    same("folds", std::to_string(o.folds), std::to_string(s.folds));
    same("seed", std::to_string(o.runtime.seed), std::to_string(s.runtime.seed));
    same("stratified", o.stratified ? "true" : "false", s.stratified ? "true" : "false");
    same("protocol", o.protocol, s.protocol);
    same("input_pattern", o.input_pattern, s.input_pattern);
    same("target_pattern", o.target_pattern, s.target_pattern);
  }

  // Which runs predicted each test image.
  std::map<std::tuple<int64_t, std::string, std::string>, std::vector<fs::path>> members;
  for (const auto& r : e.runs)
    for (const auto& [fold, mat, id] : read_cv_keys(fs::path(r) / "cv.csv"))
      members[{fold, mat, id}].push_back(fs::path(r) / ("fold_" + std::to_string(fold)) / "predictions" /
                                         (mat + "_" + id + ".tif"));
  EMGAN_CHECK(ConfigError, !members.empty(), "translate ensemble: the runs' cv.csv files list no test image");
  size_t k = 0;
  for (const auto& kv : members) k = std::max(k, kv.second.size());
  for (const auto& [key, paths] : members)
    EMGAN_CHECK(ConfigError, paths.size() == k, "translate ensemble: test image ", std::get<1>(key), " ",
                std::get<2>(key), " (fold ", std::get<0>(key), ") is predicted by ", paths.size(), " run(s); expected ",
                k, " like the other images (give every member's runs, covering the same folds)");
  EMGAN_CHECK(ConfigError, k >= 2, "translate ensemble: every test image is predicted by one run only; expected the "
                                   "runs of two or more members");

  const fs::path run = e.out;
  ensure_dir(run);
  save_json_file(run / "config.json", Json(e));
  Pairs pairs = load_pairs(s);
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (size_t i = 0; i < pairs.ids.size(); ++i) index[{pairs.groups[i], pairs.ids[i]}] = i;
  log_info("translate ensemble: " + std::to_string(members.size()) + " test images, " + std::to_string(k) +
           " members, protocol " + s.protocol);

  std::vector<CvRow> rows;
  std::set<int64_t> folds;
  std::map<int64_t, std::vector<size_t>> panel_idx;
  std::map<int64_t, std::vector<torch::Tensor>> panel_pred;
  Progress progress("translate ensemble", static_cast<int64_t>(members.size()), "img");
  int64_t done = 0;
  for (const auto& [key, paths] : members) {
    const auto& [fold, mat, id] = key;
    const auto it = index.find({mat, id});
    EMGAN_CHECK(ConfigError, it != index.end(), paths.front().string(), ": image ", mat, " ", id, " is not in ", s.data);
    const auto truth = eval_target(pairs.targets[it->second], s.protocol);
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor sum;
    for (const auto& p : paths) {
      auto pred = data::load_checked_image(p).to(torch::kFloat64);
      EMGAN_CHECK(IoError, pred.sizes() == truth.sizes(), p.string(), ": shape ", pred.sizes(), "; expected ",
                  truth.sizes(), " (the size of ", mat, " ", id, ")");
      sum = sum.defined() ? sum + pred : pred;
    }
    const auto pred = (sum / static_cast<double>(paths.size())).to(torch::kFloat32);
    CvRow r = score(pred, truth);
    r.fold = fold;
    r.material = mat;
    r.id = id;
    r.predict_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rows.push_back(r);
    folds.insert(fold);
    io::write_image(run / ("fold_" + std::to_string(fold)) / "predictions" / (mat + "_" + id + ".tif"), pred);
    if (static_cast<int64_t>(panel_idx[fold].size()) < s.panels) {
      panel_idx[fold].push_back(it->second);
      panel_pred[fold].push_back(pred);
    }
    progress.update(++done);
  }
  progress.finish();
  CvSummary summary = summarize(rows, static_cast<int64_t>(folds.size()));
  write_cv_csv(run / "cv.csv", summary.rows);

  report::Report rep("emgan translate ensemble — " + std::to_string(k) + " members");
  std::string member_list;
  for (const auto& r : e.runs) member_list += (member_list.empty() ? "" : ", ") + r;
  rep.section("Protocol")
      .paragraph("Each test image's prediction is the mean of the predictions of " + std::to_string(k) +
                 " members (cross-validation runs on the same folds: " + member_list +
                 "); each member predicted it without having trained on it. The members' protocol:")
      .paragraph(protocol_text(s));
  add_results(rep, summary, s.protocol, "ensemble of " + std::to_string(k), "(predictions read from the runs)");
  rep.section("Test images");
  for (const auto& [fold, idx] : panel_idx) {
    std::vector<torch::Tensor> in, truth;
    std::vector<std::string> labels;
    for (size_t j = 0; j < idx.size(); ++j) {
      in.push_back(pairs.inputs[idx[j]]);
      truth.push_back(eval_target(pairs.targets[idx[j]], s.protocol));
      labels.push_back(pairs.groups[idx[j]] + " " + pairs.ids[idx[j]]);
    }
    const std::string panel = "fold_" + std::to_string(fold) + "/panels.png";
    write_panels(run / panel, in, panel_pred[fold], truth, labels);
    rep.image(panel, "fold " + std::to_string(fold) + ": input, ensemble prediction, truth, difference");
  }
  rep.section("Configuration").json(Json(e), "config.json");
  rep.write(run);
  save_json_file(run / "summary.json", summary_json(summary, s.protocol, "ensemble"));
  return summary;
}

void run_train(const TranslateSettings& given) {
  const TranslateSettings s = resolve_automatic(given);
  PreparedRun prep = prepare_run(s, Json(s));
  const torch::Device device = prep.device;
  const fs::path& run = prep.run;
  Pairs& pairs = prep.pairs;
  auto translator = train_translator(s, pairs.inputs, pairs.targets, pairs.groups, run, device);
  translator->save(run / "model");
  log_info("model written to " + (run / "model").string());
  const auto materials = translator->materials();
  if (materials.size() >= 2) {
    log_info("the model was fitted per material (" + join(materials) +
             "): `translate predict` needs --material NAME (or 'pooled' for another material)");
  }
}

std::string predict_group(const std::string& material, const std::vector<std::string>& model_materials,
                          const std::string& model_path) {
  if (model_materials.size() < 2 || material == "pooled") return "";
  const std::string list = join(model_materials);
  EMGAN_CHECK(ConfigError, !material.empty(), model_path, ": the model was fitted per material (", list,
              "): its units differ between them. Name the images' material with --material NAME, or --material "
              "pooled for a material it was not trained on");
  EMGAN_CHECK(ConfigError, std::find(model_materials.begin(), model_materials.end(), material) != model_materials.end(),
              model_path, ": material '", material, "' is not one the model was fitted on (", list,
              "); use --material pooled for a material it was not trained on");
  return material;
}

int64_t run_predict(const PredictSettings& s) {
  EMGAN_CHECK(ConfigError, !s.model.empty(), "translate predict: --model is required (RUN/model)");
  EMGAN_CHECK(ConfigError, !s.input.empty(), "translate predict: --input is required (a file or a folder)");
  check_choice("tta", s.tta, {"model", "on", "off"});
  const torch::Device device = apply_runtime(s.runtime);
  struct Member {
    std::unique_ptr<Translator> translator;
    std::string group;
  };
  std::vector<Member> members;
  for (const auto& path : s.model) {
    Member m{load_translator(path, device), ""};
    m.group = predict_group(s.material, m.translator->materials(), path);
    if (s.tta != "model" && !m.translator->set_tta(s.tta == "on") && s.tta == "on")
      log_info("warning: " + path + ": a " + m.translator->kind() + " model has no test-time averaging; --tta on ignored");
    if (!members.empty())
      EMGAN_CHECK(ConfigError, m.translator->protocol() == members.front().translator->protocol(), path,
                  ": protocol '", m.translator->protocol(), "' differs from ", s.model.front(), "'s '",
                  members.front().translator->protocol(),
                  "': an ensemble averages predictions in the same units (strict: physical; paper: each image / its max)");
    members.push_back(std::move(m));
  }
  if (members.size() > 1) log_info("ensemble of " + std::to_string(members.size()) + " models: predictions averaged");
  std::vector<fs::path> files;
  if (fs::is_directory(s.input)) {
    files = data::list_image_files(s.input);
    EMGAN_CHECK(IoError, !files.empty(), s.input, ": no readable images in this folder");
  } else {
    EMGAN_CHECK(IoError, fs::exists(s.input), s.input, ": no such file or folder");
    files.push_back(s.input);
  }
  ensure_dir(s.output);
  save_json_file(fs::path(s.output) / "config.json", Json(s));
  Progress progress("translate predict", static_cast<int64_t>(files.size()), "img");
  int64_t done = 0;
  for (const auto& f : files) {
    auto x = data::load_checked_image(f);
    EMGAN_CHECK(IoError, x.dim() == 3 && x.size(0) == 1, f.string(), ": shape ", x.sizes(),
                "; expected a single-channel 2D image");
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor y;
    for (auto& m : members) {
      auto p = m.translator->predict(x, m.group);
      y = y.defined() ? y + p : p;
    }
    if (members.size() > 1) y = y / static_cast<double>(members.size());
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const fs::path out = fs::path(s.output) / (f.stem().string() + ".tif");
    io::write_image(out, y);
    if (s.png) {
      auto w = report::auto_window(y);
      report::write_png(fs::path(s.output) / (f.stem().string() + ".png"),
                        report::render_scalar(y[0], w, report::Colormap::kGrey));
    }
    std::cout << f.filename().string() << " -> " << out.string() << " (" << y.size(1) << "x" << y.size(2) << ", "
              << fmt(dt, 4) << " s)" << std::endl;
    progress.update(++done);
  }
  progress.finish();
  return done;
}

CvSummary run_tune(const TuneSettings& given) {
  TuneSettings t = given;
  t.base = resolve_automatic(t.base);
  TranslateSettings base = t.base;
  EMGAN_CHECK(ConfigError, base.model == "pix2pix", "translate tune: model = '", base.model,
              "'; the grid (lr, batch size, optimizer, loss) is of pix2pix");
  EMGAN_CHECK(ConfigError, t.inner_folds >= 2, "translate tune: inner_folds = ", t.inner_folds, " must be >= 2");
  EMGAN_CHECK(ConfigError, !t.lr.empty() && !t.batch_size.empty() && !t.optimizer.empty() && !t.rec_loss.empty(),
              "translate tune: every grid axis (lr, batch_size, optimizer, rec_loss) needs at least one value");
  PreparedRun prep = prepare_run(base, Json(t));
  const torch::Device device = prep.device;
  const fs::path& run = prep.run;
  Pairs& pairs = prep.pairs;
  auto split = data::make_kfold(data::split_items(*pairs.dataset), static_cast<int>(base.folds), base.runtime.seed,
                                base.stratified);
  data::save_split(split, run);

  std::vector<Pix2PixTranslateSettings> grid;
  for (double lr : t.lr)
    for (int64_t bs : t.batch_size)
      for (const auto& opt : t.optimizer)
        for (const auto& loss : t.rec_loss) {
          auto p = base.pix2pix;
          p.lr = lr;
          p.batch_size = bs;
          p.optimizer = opt;
          p.rec_loss = loss;
          p.eval_every = 0;
          grid.push_back(p);
        }
  data::seeded_shuffle(grid, data::mix_seed(base.runtime.seed, 99));
  if (t.max_configs > 0 && static_cast<size_t>(t.max_configs) < grid.size()) grid.resize(static_cast<size_t>(t.max_configs));

  auto subset = [&](const std::vector<size_t>& idx, std::vector<torch::Tensor>& x, std::vector<torch::Tensor>& y,
                    std::vector<std::string>& g) {
    for (size_t i : idx) {
      x.push_back(pairs.inputs[i]);
      y.push_back(pairs.targets[i]);
      g.push_back(pairs.groups[i]);
    }
  };
  std::ostringstream tune_csv;
  tune_csv << "outer_fold,config,lr,batch_size,optimizer,rec_loss,inner_frac_rmse\n";
  std::vector<CvRow> rows;
  std::vector<std::vector<std::string>> choice_rows;
  std::vector<int64_t> folds;
  for (int64_t f = 0; f < base.folds; ++f)
    if (base.only_fold < 0 || base.only_fold == f) folds.push_back(f);
  Progress progress("translate tune", static_cast<int64_t>(folds.size() * (grid.size() * t.inner_folds + 1)), "fit");
  int64_t done = 0;
  for (int64_t f : folds) {
    auto inner = data::nested_split(split, static_cast<int>(f), static_cast<int>(t.inner_folds));
    double best = std::numeric_limits<double>::infinity();
    size_t best_c = 0;
    for (size_t c = 0; c < grid.size(); ++c) {
      std::vector<double> scores;
      for (int64_t k = 0; k < t.inner_folds; ++k) {
        TranslateSettings s = base;
        s.pix2pix = grid[c];
        s.resume = false;
        std::vector<torch::Tensor> x, y, vx, vy;
        std::vector<std::string> g, vg;
        subset(data::indices_of(inner.train_items(static_cast<int>(k)), *pairs.dataset), x, y, g);
        const auto val_idx = data::indices_of(inner.test_items(static_cast<int>(k)), *pairs.dataset);
        const fs::path dir = run / "tune" / ("outer_" + std::to_string(f)) / ("config_" + std::to_string(c)) /
                             ("inner_" + std::to_string(k));
        auto model = train_translator(s, x, y, g, dir, device);
        for (size_t i : val_idx) {
          auto pred = model->predict(pairs.inputs[i], pairs.groups[i]);
          scores.push_back(score(pred, eval_target(pairs.targets[i], s.protocol)).frac_rmse);
        }
        progress.update(++done, "outer " + std::to_string(f) + " config " + std::to_string(c));
      }
      const double m = mean_of(scores);
      tune_csv << f << "," << c << "," << grid[c].lr << "," << grid[c].batch_size << "," << grid[c].optimizer << ","
               << grid[c].rec_loss << "," << m << "\n";
      write_text_atomic(run / "tune.csv", tune_csv.str());
      if (m < best) {
        best = m;
        best_c = c;
      }
    }
    // Retrain the chosen setting on the whole outer training set; test once.
    TranslateSettings s = base;
    s.pix2pix = grid[best_c];
    std::vector<torch::Tensor> x, y;
    std::vector<std::string> g;
    subset(split.train_indices(static_cast<int>(f), *pairs.dataset), x, y, g);
    auto model = train_translator(s, x, y, g, run / ("fold_" + std::to_string(f)), device);
    model->save(run / ("fold_" + std::to_string(f)) / "model");
    for (size_t i : split.test_indices(static_cast<int>(f), *pairs.dataset)) {
      auto pred = model->predict(pairs.inputs[i], pairs.groups[i]);
      CvRow r = score(pred, eval_target(pairs.targets[i], s.protocol));
      r.fold = f;
      r.material = pairs.groups[i];
      r.id = pairs.ids[i];
      rows.push_back(r);
    }
    choice_rows.push_back({std::to_string(f), fmt(grid[best_c].lr, 6), std::to_string(grid[best_c].batch_size),
                           grid[best_c].optimizer, grid[best_c].rec_loss, fmt(best, 2)});
    write_cv_csv(run / "cv.csv", rows);
    progress.update(++done, "outer " + std::to_string(f) + " tested");
  }
  progress.finish();
  CvSummary summary = summarize(rows, static_cast<int64_t>(folds.size()));
  report::Report rep("emgan translate tune");
  rep.section("Protocol")
      .paragraph(protocol_text(base) + " Nested: for each outer fold, every grid point is scored by a " +
                 std::to_string(t.inner_folds) +
                 "-fold cross-validation inside the outer training images only; the best is retrained on all of "
                 "them and tested once on the outer test fold, so the reported error has no leakage from tuning.")
      .section("Chosen settings per outer fold")
      .table({"outer fold", "lr", "batch", "optimizer", "loss", "inner frac RMSE %"}, choice_rows)
      .section("Results")
      .key_values({{"mean fractional RMSE (outer test folds)", fmt(summary.mean_frac_rmse, 2) + " %"},
                   {"worst fold", fmt(summary.worst_fold_frac_rmse, 2) + " %"},
                   {"mean SSIM", fmt(summary.mean_ssim, 4)}})
      .section("Configuration")
      .json(Json(t), "config.json");
  rep.write(run);
  return summary;
}

}  // namespace emgan::workflows
