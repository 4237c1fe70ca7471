// `emgan restore train` and the model-side helpers (restore_with_model, predict).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/dataset.h"
#include "emgan/io/image.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"
#include "emgan/report/html.h"
#include "emgan/report/metrics_log.h"
#include "emgan/restore/restore.h"
#include "emgan/train/checkpoint.h"

namespace emgan::restore {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// `[H, W]` float32 CPU from an image file's `[C, H, W]` (channels averaged).
torch::Tensor read_2d(const fs::path& path) {
  auto img = io::read_image(path);
  EMGAN_CHECK(IoError, img.data.dim() == 3, path.string(), ": expected a 2D image, got a volume ", img.data.sizes());
  return img.data.mean(0).to(torch::kFloat32).contiguous();
}

/// 0.5 / 99.5 percentiles of the sampled values of `scan` (`mask` > 0.5).
std::pair<double, double> sample_scale(const torch::Tensor& scan, const torch::Tensor& mask) {
  auto vals = scan.masked_select(mask > 0.5).to(torch::kFloat32);
  if (vals.numel() > 1000000) vals = vals.slice(0, 0, vals.numel(), vals.numel() / 1000000 + 1);
  const double lo = torch::quantile(vals, 0.005).item<double>();
  double hi = torch::quantile(vals, 0.995).item<double>();
  if (!(hi - lo > 1e-12)) hi = lo + 1.0;
  return {lo, hi};
}

std::mt19937_64 make_rng(uint64_t seed) { return std::mt19937_64(seed * 0x9E3779B97F4A7C15ULL + 7ULL); }

}  // namespace

torch::Tensor restore_with_model(models::Restorer& model, const torch::Tensor& scan, const torch::Tensor& mask,
                                 const std::string& base, const BaselineOptions& baseline) {
  check_scan_and_mask(scan, mask, "restore");
  const bool with_base = base != "none";
  EMGAN_CHECK(ConfigError, with_base == model->options.residual, "restore: base '", base, "' does not fit a ",
              model->options.residual ? "residual restorer (it needs a classical base)"
                                      : "plain restorer (it takes no base)");
  const auto h = scan.size(-2), w = scan.size(-1);
  const auto dev = model->parameters().front().device();
  auto s = scan.reshape({h, w}).to(dev, torch::kFloat32);
  auto m = (mask.reshape({h, w}) > 0.5).to(dev, torch::kFloat32);
  const auto [lo, hi] = sample_scale(s, m);
  auto x = torch::stack({(s - lo) / (hi - lo) * m, m}).unsqueeze(0);
  const auto st = model->stride();
  const auto ph = (st - h % st) % st, pw = (st - w % st) % st;
  torch::NoGradGuard no_grad;
  torch::Tensor b;
  if (with_base) b = classical_restore(base, x.narrow(1, 0, 1), x.narrow(1, 1, 1), baseline);
  if (ph > 0 || pw > 0) {
    x = torch::constant_pad_nd(x, {0, pw, 0, ph}, 0.0);
    if (with_base)
      b = torch::nn::functional::pad(b, torch::nn::functional::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate));
  }
  if (with_base) x = torch::cat({x, b}, 1);
  model->eval();
  auto y = model->forward(x)[0][0].slice(0, 0, h).slice(1, 0, w);
  y = y * (hi - lo) + lo;
  return m * s + (1.0 - m) * y;
}

torch::Tensor restore_with_model(models::LoadedRestorer& loaded, const torch::Tensor& scan, const torch::Tensor& mask) {
  const auto base = loaded.meta.value("base", std::string("none"));
  BaselineOptions bo;
  if (loaded.meta.contains("baseline")) bo = loaded.meta.at("baseline").get<BaselineOptions>();
  return restore_with_model(loaded.model, scan, mask, base, bo);
}

void validate(const RestoreTrainSettings& s) {
  EMGAN_CHECK(ConfigError, !s.data.empty(), "restore train: --data (a folder of micrographs) is required");
  s.generator.validate();
  check_choice("restore train: base", s.base, {"none", "nearest", "linear", "harmonic", "biharmonic"});
  if (s.lambda_adv > 0.0) s.discriminator.validate();
  EMGAN_CHECK(ConfigError, s.lambda_adv >= 0.0 && s.lambda_aux >= 0.0, "restore train: lambda_adv ", s.lambda_adv,
              " and lambda_aux ", s.lambda_aux, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.target_blur >= 0.0, "restore train: target_blur ", s.target_blur, " must be >= 0");
  const int64_t stride = int64_t{2} << (s.generator.inner_widths.size() - 1);
  EMGAN_CHECK(ConfigError, s.crop >= 16 && s.crop % stride == 0, "restore train: crop ", s.crop,
              " px must be >= 16 and divisible by the generator's stride ", stride);
  EMGAN_CHECK(ConfigError, s.batch_size >= 1, "restore train: batch_size ", s.batch_size, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.steps >= 1, "restore train: steps ", s.steps, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.lr > 0.0, "restore train: lr ", s.lr, " must be > 0");
  EMGAN_CHECK(ConfigError, s.beta1 >= 0.0 && s.beta1 < 1.0, "restore train: beta1 ", s.beta1, " must be in [0, 1)");
  check_choice("restore train: schedule", s.schedule, {"constant", "cosine"});
  check_choice("restore train: path", s.path, {"spiral", "grid", "lines", "random", "mixed"});
  EMGAN_CHECK(ConfigError, s.min_coverage > 0.0 && s.max_coverage <= 1.0 && s.min_coverage <= s.max_coverage,
              "restore train: coverage range [", s.min_coverage, ", ", s.max_coverage,
              "] must satisfy 0 < min <= max <= 1");
  EMGAN_CHECK(ConfigError, s.path_frame >= s.crop, "restore train: path_frame ", s.path_frame,
              " px must be >= crop ", s.crop);
  EMGAN_CHECK(ConfigError, s.dose >= 0.0, "restore train: dose ", s.dose, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.log_every >= 1 && s.checkpoint_every >= 1, "restore train: log_every ", s.log_every,
              " and checkpoint_every ", s.checkpoint_every, " must be >= 1");
}

namespace {

/// One training sample: input [2, c, c], target [1, c, c] (both normalised).
struct Sample {
  torch::Tensor input;
  torch::Tensor target;
};

Sample make_sample(const std::vector<torch::Tensor>& images, const RestoreTrainSettings& s, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const auto c = s.crop;
  const auto& img = images[static_cast<size_t>(rng() % images.size())];
  const auto h = img.size(0), w = img.size(1);
  const auto r = static_cast<int64_t>(rng() % static_cast<uint64_t>(h - c + 1));
  const auto q = static_cast<int64_t>(rng() % static_cast<uint64_t>(w - c + 1));
  auto crop = img.slice(0, r, r + c).slice(1, q, q + c);
  if (s.augment) {
    const auto k = static_cast<int64_t>(rng() % 4);
    if (k) crop = torch::rot90(crop, k, {0, 1});
    if (rng() % 2) crop = crop.flip({1});
  }
  crop = crop.contiguous();
  // Path on a larger frame, random window.
  std::string kind = s.path;
  if (kind == "mixed") {
    static const std::vector<std::string> kinds = {"spiral", "spiral", "grid", "random"};
    kind = kinds[rng() % kinds.size()];
  }
  ScanPathOptions po;
  po.coverage = std::exp(std::log(s.min_coverage) + u01(rng) * (std::log(s.max_coverage) - std::log(s.min_coverage)));
  po.seed = rng();
  po.rotation = u01(rng) * 2.0 * kPi;
  po.refine_tolerance = 0.02;
  const auto f = s.path_frame;
  po.center_dx = (u01(rng) - 0.5) * 0.25 * static_cast<double>(f);
  po.center_dy = (u01(rng) - 0.5) * 0.25 * static_cast<double>(f);
  const auto full = path_mask(make_path(kind, f, f, po));
  const auto mr = static_cast<int64_t>(rng() % static_cast<uint64_t>(f - c + 1));
  const auto mq = static_cast<int64_t>(rng() % static_cast<uint64_t>(f - c + 1));
  auto mask = full.slice(0, mr, mr + c).slice(1, mq, mq + c).contiguous();
  if (mask.sum().item<double>() < 1.0) mask[c / 2][c / 2] = 1.0f;
  auto scan = crop;
  if (s.dose > 0.0) {
    const double lo = crop.min().item<double>(), hi = crop.max().item<double>();
    const double span = hi > lo ? hi - lo : 1.0;
    auto unit = ((crop - lo) / span).clamp_min(0.0);
    scan = torch::poisson(unit * s.dose) / s.dose * span + lo;
  }
  const auto [lo, hi] = sample_scale(scan, mask);
  Sample out;
  out.input = torch::stack({(scan - lo) / (hi - lo) * mask, mask});
  out.target = ((crop - lo) / (hi - lo)).unsqueeze(0);
  return out;
}

double lsgan(const std::vector<torch::Tensor>& scores, double label, torch::Tensor* loss) {
  torch::Tensor total;
  for (const auto& sc : scores) {
    auto l = (sc - label).square().mean();
    total = total.defined() ? total + l : l;
  }
  *loss = total / static_cast<double>(scores.size());
  return loss->item<double>();
}

}  // namespace

double run_restore_train(const RestoreTrainSettings& s) {
  validate(s);
  const auto device = apply_runtime(s.runtime);
  const fs::path run = s.out;
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));
  const auto files = data::list_image_files(s.data, true);
  EMGAN_CHECK(ConfigError, !files.empty(), "restore train: no readable images under ", s.data);
  std::vector<torch::Tensor> images;
  for (const auto& f : files) {
    auto img = read_2d(f);
    EMGAN_CHECK(ConfigError, img.size(0) >= s.crop && img.size(1) >= s.crop, f.string(), ": ", img.size(1), "x",
                img.size(0), " px is smaller than the crop ", s.crop);
    images.push_back(img);
  }
  log_info("restore train: " + std::to_string(images.size()) + " micrographs from " + s.data);

  auto gopt = s.generator;
  gopt.residual = s.base != "none";
  gopt.in_channels = gopt.residual ? 3 : 2;
  models::Restorer G(gopt);
  G->to(device);
  models::CropDiscriminator D{nullptr};
  const bool adversarial = s.lambda_adv > 0.0;
  torch::optim::Adam opt_g(G->parameters(), torch::optim::AdamOptions(s.lr).betas({s.beta1, 0.999}));
  std::unique_ptr<torch::optim::Adam> opt_d;
  if (adversarial) {
    D = models::CropDiscriminator(s.discriminator);
    D->to(device);
    opt_d = std::make_unique<torch::optim::Adam>(D->parameters(),
                                                 torch::optim::AdamOptions(s.lr).betas({s.beta1, 0.999}));
  }
  losses::Alrc alrc_full(s.alrc), alrc_aux(s.alrc);
  int64_t start = 0;
  const auto ckpt = run / "checkpoint.pt";
  auto rng = make_rng(s.runtime.seed);
  if (s.resume && fs::exists(ckpt)) {
    torch::serialize::InputArchive a;
    train::read_archive(ckpt, a, device);
    c10::IValue meta_v;
    a.read("meta", meta_v);
    const auto meta = Json::parse(meta_v.toStringRef());
    start = meta.at("step").get<int64_t>();
    torch::serialize::InputArchive ga, oga;
    a.read("G", ga);
    train::load_module_checked(*G, ga, ckpt.string() + " (G)");
    a.read("opt_G", oga);
    opt_g.load(oga);
    if (adversarial) {
      EMGAN_CHECK(ConfigError, meta.value("adversarial", false), ckpt.string(),
                  ": the checkpoint has no discriminator; resume with lambda_adv 0 or start a new run");
      torch::serialize::InputArchive da, oda;
      a.read("D", da);
      train::load_module_checked(*D, da, ckpt.string() + " (D)");
      a.read("opt_D", oda);
      opt_d->load(oda);
    }
    alrc_full.load_state(meta.at("alrc_full").get<losses::AlrcState>());
    alrc_aux.load_state(meta.at("alrc_aux").get<losses::AlrcState>());
    std::istringstream rs(meta.at("rng").get<std::string>());
    rs >> rng;
    torch::Tensor cpu_state;
    a.read("rng_cpu", cpu_state);
    train::set_rng_state(train::RngState{cpu_state, {}});
    log_info("restore train: resumed " + ckpt.string() + " at step " + std::to_string(start));
  }
  // Metrics log: keep rows up to the resumed step.
  const auto log_path = run / "metrics.csv";
  {
    std::string kept = "step,loss_g,mse,mse_aux,loss_adv,loss_d,alrc_threshold,lr,images_per_s\n";
    if (start > 0 && fs::exists(log_path)) {
      std::ifstream in(log_path);
      std::string line;
      std::getline(in, line);
      while (std::getline(in, line))
        if (!line.empty() && std::stoll(line.substr(0, line.find(','))) <= start) kept += line + "\n";
    }
    write_text_atomic(log_path, kept);
  }
  auto save_checkpoint = [&](int64_t step) {
    torch::serialize::OutputArchive a, ga, oga;
    G->save(ga);
    opt_g.save(oga);
    a.write("G", ga);
    a.write("opt_G", oga);
    if (adversarial) {
      torch::serialize::OutputArchive da, oda;
      D->save(da);
      opt_d->save(oda);
      a.write("D", da);
      a.write("opt_D", oda);
    }
    std::ostringstream rs;
    rs << rng;
    Json meta = {{"step", step},          {"adversarial", adversarial}, {"alrc_full", alrc_full.state()},
                 {"alrc_aux", alrc_aux.state()}, {"rng", rs.str()},      {"config", Json(s)}};
    a.write("meta", c10::IValue(meta.dump()));
    a.write("rng_cpu", train::get_rng_state().cpu);
    train::write_archive_atomic(ckpt, a);
  };

  // Counts from the resumed step, so the rate and ETA cover this session's steps only.
  Progress progress(start > 0 ? "restore train (resumed at step " + std::to_string(start) + ", " +
                                    std::to_string(s.steps) + " in all)"
                              : std::string("restore train"),
                    s.steps - start, "img");
  double run_mse = 0.0, run_aux = 0.0, run_adv = 0.0, run_d = 0.0, run_g = 0.0;
  int64_t run_n = 0;
  double last_mse = 0.0;
  auto t_log = std::chrono::steady_clock::now();
  Sample last;
  torch::Tensor last_out;
  for (int64_t step = start; step < s.steps; ++step) {
    const double lr = s.schedule == "cosine"
                          ? s.lr * (0.05 + 0.95 * 0.5 * (1.0 + std::cos(kPi * static_cast<double>(step) /
                                                                        static_cast<double>(s.steps))))
                          : s.lr;
    for (auto& g : opt_g.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    if (adversarial)
      for (auto& g : opt_d->param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    std::vector<torch::Tensor> xs, ys;
    for (int64_t b = 0; b < s.batch_size; ++b) {
      auto smp = make_sample(images, s, rng);
      xs.push_back(smp.input);
      ys.push_back(smp.target);
    }
    auto x = torch::stack(xs).to(device);
    auto y = torch::stack(ys).to(device);
    if (gopt.residual) {
      torch::NoGradGuard no_grad;
      x = torch::cat({x, classical_restore(s.base, x.narrow(1, 0, 1), x.narrow(1, 1, 1), s.baseline)}, 1);
    }
    if (s.target_blur > 0.0) y = gaussian_blur(y, s.target_blur) / gaussian_blur(torch::ones_like(y), s.target_blur);
    G->train();
    auto out = G->forward_both(x);
    double loss_d_v = 0.0, loss_adv_v = 0.0;
    std::vector<std::array<int64_t, 2>> corners;
    if (adversarial) {
      corners = D->sample_corners(s.crop, s.crop);
      opt_d->zero_grad();
      torch::Tensor lr_real, lr_fake;
      lsgan(D->forward(y, corners), 1.0, &lr_real);
      lsgan(D->forward(out.full.detach(), corners), 0.0, &lr_fake);
      auto loss_d = 0.5 * (lr_real + lr_fake);
      loss_d_v = loss_d.item<double>();
      EMGAN_CHECK(TrainingError, std::isfinite(loss_d_v), "restore train: discriminator loss ", loss_d_v,
                  " at step ", step, "; stopped, last checkpoint kept in ", ckpt.string());
      loss_d.backward();
      opt_d->step();
    }
    opt_g.zero_grad();
    auto mse = (out.full - y).square().mean();
    auto mse_aux = (out.half - torch::avg_pool2d(y, 2)).square().mean();
    auto loss = alrc_full(mse) + s.lambda_aux * alrc_aux(mse_aux);
    if (adversarial) {
      for (auto& p : D->parameters()) p.set_requires_grad(false);
      torch::Tensor adv;
      loss_adv_v = lsgan(D->forward(out.full, corners), 1.0, &adv);
      loss = loss + s.lambda_adv * adv;
      for (auto& p : D->parameters()) p.set_requires_grad(true);
    }
    const double loss_v = loss.item<double>();
    EMGAN_CHECK(TrainingError, std::isfinite(loss_v), "restore train: generator loss ", loss_v, " at step ", step,
                "; stopped, last checkpoint kept in ", ckpt.string());
    loss.backward();
    opt_g.step();
    last_mse = mse.item<double>();
    run_mse += last_mse;
    run_aux += mse_aux.item<double>();
    run_adv += loss_adv_v;
    run_d += loss_d_v;
    run_g += loss_v;
    ++run_n;
    const int64_t done = step + 1;
    if (done % s.log_every == 0 || done == s.steps) {
      const auto now = std::chrono::steady_clock::now();
      const double dt = std::chrono::duration<double>(now - t_log).count();
      t_log = now;
      std::ostringstream row;
      row.precision(6);
      const double n = static_cast<double>(run_n);
      row << done << ',' << run_g / n << ',' << run_mse / n << ',' << run_aux / n << ',' << run_adv / n << ','
          << run_d / n << ',' << alrc_full.threshold() << ',' << lr << ','
          << (dt > 0 ? n * static_cast<double>(s.batch_size) / dt : 0.0) << '\n';
      std::ofstream(log_path, std::ios::app) << row.str();
      std::ostringstream f;
      f.precision(4);
      f << "mse=" << run_mse / n << " aux=" << run_aux / n;
      if (adversarial) f << " adv=" << run_adv / n << " d=" << run_d / n;
      progress.update(done - start, f.str(), run_n * s.batch_size);
      run_mse = run_aux = run_adv = run_d = run_g = 0.0;
      run_n = 0;
    }
    if (done % s.checkpoint_every == 0 || done == s.steps) save_checkpoint(done);
    if (done == s.steps) {
      last.input = x.detach().cpu();
      last.target = y.detach().cpu();
      last_out = out.full.detach().cpu();
    }
  }
  progress.finish();
  Json meta = {{"train", Json(s)},
               {"steps", s.steps},
               {"base", s.base},
               {"baseline", s.baseline},
               {"normalisation", "sampled-pixel 0.5/99.5 percentiles"}};
  save_restorer(G, run / "model", meta);
  // Report.
  report::Report rep("Partial-scan restorer training");
  rep.section("Run").key_values({{"data", s.data},
                                 {"images", std::to_string(images.size())},
                                 {"steps", std::to_string(s.steps)},
                                 {"crop", std::to_string(s.crop)},
                                 {"coverage", report::format_number(s.min_coverage) + " .. " +
                                                  report::format_number(s.max_coverage)},
                                 {"path", s.path},
                                 {"lambda_adv", report::format_number(s.lambda_adv)}});
  try {
    report::LearningCurveOptions lco;
    lco.columns({"mse", "mse_aux"});
    if (adversarial) lco.columns({"mse", "mse_aux", "loss_adv", "loss_d"});
    report::write_learning_curves(log_path, run / "curves.png", lco);
    rep.image("curves.png", "learning curves (per-crop normalised MSE)");
  } catch (const Error& e) {
    log_info(std::string("restore train: no learning curves: ") + e.what());
  }
  if (last_out.defined()) {
    std::vector<std::vector<torch::Tensor>> rows;
    for (int64_t i = 0; i < std::min<int64_t>(4, last_out.size(0)); ++i)
      rows.push_back({last.input[i][0].unsqueeze(0), last_out[i], last.target[i]});
    report::GridOptions go;
    go.column_titles({"partial scan", "restored", "truth"});
    report::write_grid_png(run / "samples.png", rows, go);
    rep.image("samples.png", "last training batch");
  }
  rep.write(run);
  return last_mse;
}

double run_restore_predict(const RestorePredictSettings& s) {
  EMGAN_CHECK(ConfigError, !s.model.empty() && !s.scan.empty() && !s.mask.empty(),
              "restore predict: --model, --scan and --mask are required");
  EMGAN_CHECK(ConfigError, s.repeat >= 1, "restore predict: repeat ", s.repeat, " must be >= 1");
  const auto device = apply_runtime(s.runtime);
  auto loaded = models::load_restorer(s.model, device);
  const auto scan = read_2d(s.scan);
  const auto mask = binarize_mask(read_2d(s.mask));
  check_scan_and_mask(scan, mask, s.scan + " / " + s.mask);
  auto y = restore_with_model(loaded, scan, mask);  // warm-up
  std::vector<double> times;
  for (int64_t i = 0; i < s.repeat; ++i) {
    if (device.is_cuda()) torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    y = restore_with_model(loaded, scan, mask);
    if (device.is_cuda()) torch::cuda::synchronize();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const fs::path out = s.out;
  ensure_dir(out);
  const auto stem = fs::path(s.scan).stem().string();
  y = y.cpu();
  io::write_image(out / (stem + "_restored.tif"), y.unsqueeze(0));
  report::write_png(out / (stem + "_restored.png"), report::render_scalar(y, report::auto_window(y)));
  return times[times.size() / 2];
}

}  // namespace emgan::restore
