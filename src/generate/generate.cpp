#include "emgan/generate/generate.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/generate/property.h"
#include "emgan/generate/source.h"
#include "emgan/generate/volume_io.h"
#include "emgan/io/image.h"
#include "emgan/micro/phases.h"
#include "emgan/micro/stats.h"
#include "emgan/report/report.h"
#include "emgan/train/checkpoint.h"
#include "emgan/train/optim.h"
#include "recipe.h"

namespace emgan::generate {

namespace {

constexpr const char* kCheckpointFormat = "emgan-generate-checkpoint";
constexpr const char* kModelFormat = "emgan-generate-model";

std::string fmt(double v, int precision = 4) { return report::format_number(v, precision); }

std::string join_numbers(const std::vector<double>& v, int precision = 4) {
  std::vector<std::string> s;
  for (double x : v) s.push_back(std::isnan(x) ? "-" : fmt(x, precision));
  return join(s, ",");
}

// ---- archives ------------------------------------------------------------------------

void write_archive(const fs::path& path, const Json& meta,
                   const std::vector<std::pair<std::string, torch::nn::Module*>>& modules,
                   const std::vector<std::pair<std::string, torch::optim::Optimizer*>>& optimizers, bool rng) {
  torch::serialize::OutputArchive root;
  root.write("meta", c10::IValue(meta.dump()));
  torch::serialize::OutputArchive models;
  for (const auto& [name, module] : modules) {
    torch::serialize::OutputArchive a;
    module->save(a);
    models.write(name, a);
  }
  root.write("models", models);
  if (!optimizers.empty()) {
    torch::serialize::OutputArchive opts;
    for (const auto& [name, opt] : optimizers) {
      torch::serialize::OutputArchive a;
      opt->save(a);
      opts.write(name, a);
    }
    root.write("optimizers", opts);
  }
  if (rng) root.write("rng_cpu", train::get_rng_state().cpu);
  train::write_archive_atomic(path, root);
}

Json read_archive_meta(torch::serialize::InputArchive& root, const fs::path& path, const std::string& format) {
  c10::IValue v;
  EMGAN_CHECK(IoError, root.try_read("meta", v) && v.isString(), path.string(), ": not an emgan generate file (no meta)");
  Json meta = Json::parse(v.toStringRef(), nullptr, false);
  EMGAN_CHECK(IoError, !meta.is_discarded() && meta.value("format", "") == format, path.string(),
              ": not an emgan generate file of format '", format, "'");
  return meta;
}

void load_modules(torch::serialize::InputArchive& root, const fs::path& path,
                  const std::vector<std::pair<std::string, torch::nn::Module*>>& modules) {
  torch::serialize::InputArchive models;
  EMGAN_CHECK(IoError, root.try_read("models", models), path.string(), ": no models in the file");
  for (const auto& [name, module] : modules) {
    torch::serialize::InputArchive a;
    EMGAN_CHECK(IoError, models.try_read(name, a), path.string(), ": module '", name, "' is missing");
    train::load_module_checked(*module, a, path.string() + ": module " + name);
  }
}

// ---- metrics log ---------------------------------------------------------------------

void append_metrics(const fs::path& path, const std::vector<std::string>& names, int64_t iteration, double seconds,
                    const std::map<std::string, double>& m) {
  // A resumed run whose log has other columns (written by an older version): rewrite it
  // under the new header, the old rows' missing columns as nan, so every row lines up.
  if (fs::exists(path)) {
    const auto old = report::read_metrics_log(path);
    std::vector<std::string> want = {"iteration", "time"};
    want.insert(want.end(), names.begin(), names.end());
    if (!old.columns.empty() && old.columns != want) {
      std::ostringstream out;
      for (size_t c = 0; c < want.size(); ++c) out << (c ? "," : "") << want[c];
      out << "\n" << std::setprecision(8);
      for (size_t r = 0; r < old.rows(); ++r) {
        for (size_t c = 0; c < want.size(); ++c)
          out << (c ? "," : "") << (old.has(want[c]) ? old.column(want[c])[r] : std::nan(""));
        out << "\n";
      }
      write_text_atomic(path, out.str());
      log_info(path.string() +
               ": rewritten with the columns of this version (missing values as nan)");
    }
  }
  const bool fresh = !fs::exists(path);
  std::ofstream out(path, std::ios::app);
  EMGAN_CHECK(IoError, out.good(), path.string(), ": cannot append to the metrics log");
  if (fresh) {
    out << "iteration,time";
    for (const auto& n : names) out << "," << n;
    out << "\n";
  }
  out << iteration << "," << std::setprecision(6) << seconds;
  for (const auto& n : names) {
    const auto it = m.find(n);
    out << "," << std::setprecision(8) << (it == m.end() ? std::nan("") : it->second);
  }
  out << "\n";
}

// ---- micro stats comparison ----------------------------------------------------------

/// Slice connectivity (micro::slice_connectivity) per phase of n-phase samples [N, C,
/// H, W] or volumes [N, C, D, H, W] (labels = argmax over C): each 2D sample is one
/// slice; for volumes, the mean over the three slice normals. Tiles of `window` px.
std::vector<double> samples_connectivity(const torch::Tensor& x, int64_t window) {
  const auto labels = x.argmax(1).to(torch::kCPU);
  std::vector<double> out;
  for (int64_t p = 0; p < x.size(1); ++p) {
    const auto mask = labels == p;
    if (mask.dim() == 3) {
      out.push_back(micro::slice_connectivity(mask, window, 0));
      continue;
    }
    double sum = 0.0;
    int64_t k = 0;
    for (int64_t normal = 1; normal <= 3; ++normal) {
      const auto m = mask.movedim(normal, 1);
      const double c = micro::slice_connectivity(m.reshape({-1, m.size(2), m.size(3)}), window, 0);
      if (std::isfinite(c)) {
        sum += c;
        ++k;
      }
    }
    out.push_back(k > 0 ? sum / static_cast<double>(k) : std::nan(""));
  }
  return out;
}

/// Label map of a real reference file, encoded as the model's training data.
torch::Tensor reference_labels(const fs::path& path, const Encoding& enc) {
  return micro::labels_from_one_hot(TrainingData::encode(io::read_image(path).data, enc, path.string()));
}

}  // namespace

// ---- property control ------------------------------------------------------------------

std::vector<double> per_phase_fractions(const std::vector<double>& given, int64_t phases,
                                        const std::string& what) {
  EMGAN_CHECK(ConfigError, static_cast<int64_t>(given.size()) <= phases, what, ": ", given.size(),
              " values for ", phases, " phases");
  std::vector<double> out(static_cast<size_t>(phases), std::nan(""));
  std::copy(given.begin(), given.end(), out.begin());
  double sum = 0.0;
  bool all = true;
  for (double v : out) {
    if (std::isnan(v)) {
      all = false;
      continue;
    }
    EMGAN_CHECK(ConfigError, v >= 0.0 && v <= 1.0, what, ": ", v, " must be in [0, 1]");
    sum += v;
  }
  EMGAN_CHECK(ConfigError, sum <= 1.0 + 1e-3, what, ": the values sum to ", sum, " > 1");
  EMGAN_CHECK(ConfigError, !all || std::abs(sum - 1.0) <= 1e-3, what, ": a full set of ", phases,
              " values must sum to 1, got ", sum);
  return out;
}

std::vector<double> requested_fractions(const GenerateTrainSettings& settings,
                                        const Encoding& encoding) {
  if (settings.target_fractions.empty()) return {};
  EMGAN_CHECK(ConfigError, encoding.kind == "phases",
              "target_fractions need n-phase data; the data is ", encoding.kind);
  return per_phase_fractions(settings.target_fractions, encoding.channels, "target_fractions");
}

torch::Tensor fraction_loss(const torch::Tensor& x, const std::vector<double>& targets, double weight) {
  auto loss = torch::zeros({}, x.options());
  if (targets.empty()) return loss;
  EMGAN_CHECK(ConfigError, x.dim() >= 3 && x.size(1) == static_cast<int64_t>(targets.size()), "fraction_loss: ",
              targets.size(), " targets for an output of shape ", x.sizes());
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const auto f = x.mean(dims);
  for (size_t p = 0; p < targets.size(); ++p)
    if (!std::isnan(targets[p])) loss = loss + (f[static_cast<int64_t>(p)] - targets[p]).pow(2);
  return weight * loss;
}

namespace {
/// Share of each of the `c` labels 0..c-1 among the elements of `labels` (any shape, device).
std::vector<double> label_shares(const torch::Tensor& labels, int64_t c) {
  const auto f = (torch::bincount(labels.flatten().to(torch::kCPU), {}, c).to(torch::kDouble) /
                  static_cast<double>(labels.numel()))
                     .contiguous();
  return std::vector<double>(f.data_ptr<double>(), f.data_ptr<double>() + c);
}
}  // namespace

std::vector<double> label_fractions(const torch::Tensor& x) {
  return label_shares(x.argmax(1), x.size(1));
}

/// Model channels `[N, C, H, W]` as the mode-collapse check compares them: n-phase
/// output as one-hot argmax phases (what a sample's file holds), other kinds as is.
torch::Tensor as_compared(const torch::Tensor& x, const Encoding& enc) {
  return enc.kind == "phases"
             ? torch::one_hot(x.argmax(1), x.size(1)).permute({0, 3, 1, 2}).to(torch::kFloat)
             : x;
}

double mean_pairwise_distance(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(0) >= 2, "mean_pairwise_distance: needs >= 2 images [N, C, H, W], got ",
              x.sizes());
  const auto flat = x.flatten(1).to(torch::kDouble);
  // Exact pairwise distances ([N, N], compute mode 2: no |a|^2 + |b|^2 - 2ab shortcut),
  // without the [N, N, C H W] difference tensor: 256 crops of 3 x 64 x 64 would need 13 GB.
  const auto d = torch::cdist(flat.unsqueeze(0), flat.unsqueeze(0), 2.0, 2).squeeze(0);
  const int64_t n = x.size(0);
  return (d.sum() / std::sqrt(static_cast<double>(flat.size(1))) / static_cast<double>(n * (n - 1)))
      .item<double>();
}

torch::Tensor straight_through_one_hot(const torch::Tensor& probs) {
  EMGAN_CHECK(ConfigError, probs.dim() >= 2 && probs.size(1) >= 2,
              "straight_through_one_hot: expected phases [N, C >= 2, ...], got ", probs.sizes());
  const auto hard = torch::zeros_like(probs).scatter_(1, probs.argmax(1, /*keepdim=*/true), 1.0);
  return hard + (probs - probs.detach());  // exactly hard: (1 + p) - p may round
}

double uncertain_share(const torch::Tensor& probs, double below) {
  EMGAN_CHECK(ConfigError, probs.dim() >= 2 && probs.size(0) >= 2,
              "uncertain_share: expected phases [C >= 2, ...], got ", probs.sizes());
  return (std::get<0>(probs.max(0)) < below).to(torch::kDouble).mean().item<double>();
}

FractionCalibration calibrate_fractions(const torch::Tensor& probs,
                                        const std::vector<double>& targets, double tolerance,
                                        int max_iterations) {
  EMGAN_CHECK(ConfigError, probs.dim() >= 2 && probs.size(0) >= 2,
              "calibrate_fractions: expected phases [C >= 2, ...], got ", probs.sizes());
  const int64_t c = probs.size(0);
  EMGAN_CHECK(ConfigError, static_cast<int64_t>(targets.size()) == c, "fractions: ", targets.size(),
              " values for ", c, " phases (NaN for a phase without a target)");
  per_phase_fractions(targets, c, "fractions");
  EMGAN_CHECK(ConfigError, max_iterations >= 1,
              "calibrate_fractions: max_iterations = ", max_iterations, " must be >= 1");

  const auto logp = probs.to(torch::kFloat).clamp_min(1e-30).log();
  const double n = static_cast<double>(probs[0].numel());
  const double tol = std::max(tolerance, 1.0 / n);
  std::vector<int64_t> shape(static_cast<size_t>(probs.dim()), 1);
  shape[0] = c;
  const auto shifted = [&](const std::vector<double>& b) {
    return logp + torch::tensor(b, torch::kDouble).to(logp.device(), torch::kFloat).view(shape);
  };
  const auto labels_for = [&](const std::vector<double>& b) { return shifted(b).argmax(0); };
  const auto fractions_of = [&](const torch::Tensor& labels) { return label_shares(labels, c); };
  const auto error_of = [&](const std::vector<double>& f) {
    double e = 0.0;
    for (int64_t p = 0; p < c; ++p)
      if (!std::isnan(targets[p])) e = std::max(e, std::abs(f[p] - targets[p]));
    return e;
  };

  FractionCalibration out;
  const auto labels0 = logp.argmax(0);
  out.before = fractions_of(labels0);
  std::vector<double> b(static_cast<size_t>(c), 0.0), best = b;
  std::vector<double> f = out.before;
  double err = error_of(f), best_err = err, step = 1.0;
  int it = 1;
  // Each update moves a phase's log-prior by the log of its fraction's shortfall; the
  // argmax responds less than a softmax would (confident voxels do not move), so the
  // step grows while the error falls and halves when it overshoots.
  while (err > tol && it < max_iterations) {
    const auto prev = b;
    for (int64_t p = 0; p < c; ++p) {
      if (std::isnan(targets[p])) continue;
      const double ratio =
          std::log(std::max(targets[p], 0.5 / n)) - std::log(std::max(f[p], 0.5 / n));
      b[p] += std::clamp(step * ratio, -2.0, 2.0);
    }
    const auto fb = fractions_of(labels_for(b));
    ++it;
    const double e = error_of(fb);
    if (e < err) {
      f = fb;
      err = e;
      step = std::min(step * 1.5, 16.0);
      if (e < best_err) {
        best_err = e;
        best = b;
      }
    } else {
      b = prev;  // overshot: retry from the last better offsets with a smaller step
      step *= 0.5;
      if (step < 1e-3) break;
    }
  }
  const auto labels = labels_for(best);
  out.offsets = best;
  out.after = fractions_of(labels);
  out.max_error = error_of(out.after);
  out.changed_share = (labels != labels0).to(torch::kDouble).mean().item<double>();
  out.iterations = it;
  out.tolerance = tol;
  out.probs = torch::softmax(shifted(best), 0).to(probs.dtype());
  return out;
}

torch::Tensor mode_seeking_loss(const torch::Tensor& x, const torch::Tensor& z, double weight) {
  EMGAN_CHECK(ConfigError, x.dim() >= 1 && z.dim() >= 1 && x.size(0) == z.size(0),
              "mode_seeking_loss: batch sizes differ: samples ", x.sizes(), ", latents ",
              z.sizes());
  const int64_t half = x.size(0) / 2;
  if (weight == 0.0 || half == 0) return torch::zeros({}, x.options());
  const auto dx = (x.narrow(0, 0, half) - x.narrow(0, half, half)).abs().mean();
  const auto dz = (z.narrow(0, 0, half) - z.narrow(0, half, half)).abs().mean();
  return weight / (dx / dz + 1e-5);
}

std::pair<double, double> volume_diversity(const torch::Tensor& volumes, const TrainingData& data,
                                           const Encoding& enc) {
  EMGAN_CHECK(ConfigError, volumes.dim() == 5 && volumes.size(0) >= 2,
              "volume_diversity: needs >= 2 volumes [N, C, D, H, W], got ", volumes.sizes());
  const int64_t n = volumes.size(0);
  double d = 0.0, r = 0.0;
  for (int64_t axis = 0; axis < 3; ++axis) {
    const auto planes = volumes.select(axis + 2, volumes.size(axis + 2) / 2).to(torch::kCPU);
    EMGAN_CHECK(ConfigError, planes.size(2) == planes.size(3),
                "volume_diversity: volumes of shape ", volumes.sizes(), " are not cubes");
    d += mean_pairwise_distance(as_compared(planes, enc)) / 3.0;
    r += mean_pairwise_distance(
             as_compared(data.crops(axis, n, planes.size(2)).to(torch::kCPU), enc)) /
         3.0;
  }
  return {d, r};
}

// ---- settings ----------------------------------------------------------------------------

const OptimizerSettings& ModelOptimizers::of(const std::string& model) const {
  if (model == "slicegan") return slicegan;
  if (model == "dcgan") return dcgan;
  if (model == "vae") return vae;
  if (model == "vaegan") return vaegan;
  throw ConfigError("model '" + model + "' is not one of slicegan, dcgan, vae, vaegan");
}

OptimizerSettings& ModelOptimizers::of(const std::string& model) {
  return const_cast<OptimizerSettings&>(static_cast<const ModelOptimizers&>(*this).of(model));
}

void validate(const GenerateTrainSettings& s) {
  check_choice("model", s.model, {"slicegan", "dcgan", "vae", "vaegan"});
  EMGAN_CHECK(ConfigError, !s.data.empty(), "generate train: --data is required (an image, three images or a volume)");
  for (const auto& d : s.data) EMGAN_CHECK(IoError, fs::exists(d), d, ": training data file not found");
  EMGAN_CHECK(ConfigError, s.model != "slicegan" || s.data.size() == 1 || s.data.size() == 3,
              "slicegan: --data takes 1 image (isotropic), 3 images (x, y, z: anisotropic) or 1 volume; got ",
              s.data.size(), " files");
  EMGAN_CHECK(ConfigError, s.phases >= 0, "phases = ", s.phases, " must be >= 0 (0 = detect)");
  EMGAN_CHECK(ConfigError, s.iterations >= 1, "iterations = ", s.iterations, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.batch_size >= 1, "batch_size = ", s.batch_size, " must be >= 1");
  for (const std::string m : {"slicegan", "dcgan", "vae", "vaegan"}) {
    const auto& o = s.optim.of(m);
    EMGAN_CHECK(ConfigError, o.lr > 0.0, "optim.", m, ".lr = ", o.lr, " must be > 0");
    EMGAN_CHECK(ConfigError, o.beta1 >= 0.0 && o.beta1 < 1.0, "optim.", m, ".beta1 = ", o.beta1, " must be in [0, 1)");
    EMGAN_CHECK(ConfigError, o.beta2 >= 0.0 && o.beta2 < 1.0, "optim.", m, ".beta2 = ", o.beta2, " must be in [0, 1)");
  }
  EMGAN_CHECK(ConfigError, s.width > 0.0, "width = ", s.width, " must be > 0");
  check_choice("augment", s.augment, {"none", "flips", "dihedral"});
  check_choice("gan_loss", s.gan_loss, {"vanilla", "lsgan", "hinge", "wgan"});
  EMGAN_CHECK(ConfigError, s.instance_noise >= 0.0, "instance_noise = ", s.instance_noise,
              " must be >= 0");
  EMGAN_CHECK(ConfigError, s.diversity_every >= 0, "diversity_every = ", s.diversity_every,
              " must be >= 0 (0 = no checks)");
  EMGAN_CHECK(ConfigError, s.critic_steps >= 1, "critic_steps = ", s.critic_steps, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.slices_per_volume >= 0, "slices_per_volume = ", s.slices_per_volume,
              " must be >= 0 (0 = every slice)");
  EMGAN_CHECK(ConfigError, s.latent_size >= 4, "latent_size = ", s.latent_size, " must be >= 4 (64^3 volumes, the critic's 64 px)");
  EMGAN_CHECK(ConfigError, s.gp_lambda >= 0.0, "gp_lambda = ", s.gp_lambda, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.fraction_weight >= 0.0, "fraction_weight = ", s.fraction_weight, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.mode_seeking >= 0.0, "mode_seeking = ", s.mode_seeking,
              " must be >= 0 (0 = off)");
  EMGAN_CHECK(ConfigError, s.mode_seeking == 0.0 || s.batch_size >= 2,
              "mode_seeking = ", s.mode_seeking,
              " needs batch_size >= 2 (it compares pairs of samples), got ", s.batch_size);
  EMGAN_CHECK(ConfigError, s.image_size == 64 || s.image_size == 128 || s.image_size == 256, "image_size = ",
              s.image_size, " must be 64, 128 or 256");
  check_choice("g_norm", s.g_norm, {"batch", "instance"});
  check_choice("g_upsample", s.g_upsample, {"transposed", "resize"});
  EMGAN_CHECK(ConfigError, s.g_upsample == "transposed" || s.model != "vae",
              "g_upsample = ", s.g_upsample,
              " applies to slicegan, dcgan and vaegan; the vae's decoder has no resize layer (use "
              "transposed)");
  check_choice("critic_input", s.critic_input, {"soft", "hard"});
  EMGAN_CHECK(ConfigError, s.critic_input == "soft" || s.model != "vae",
              "critic_input = ", s.critic_input,
              " applies to slicegan, dcgan and vaegan; the vae has no discriminator (use soft)");
  for (size_t i = 0; i < s.reset_critics.size(); ++i) {
    check_choice("reset_critics", s.reset_critics[i], {"z", "y", "x"});
    EMGAN_CHECK(
        ConfigError,
        std::find(s.reset_critics.begin(), s.reset_critics.begin() + static_cast<std::ptrdiff_t>(i),
                  s.reset_critics[i]) == s.reset_critics.begin() + static_cast<std::ptrdiff_t>(i),
        "reset_critics names axis '", s.reset_critics[i], "' twice");
  }
  EMGAN_CHECK(ConfigError, s.reset_critics.empty() || (s.model == "slicegan" && s.resume),
              "reset_critics = ", join(s.reset_critics),
              " restarts critics of a slicegan run being resumed; it needs --model slicegan and "
              "--resume (model ",
              s.model, ", resume ", s.resume ? "true" : "false", ")");
  EMGAN_CHECK(ConfigError, s.log_every >= 1 && s.checkpoint_every >= 1, "log_every and checkpoint_every must be >= 1");
  EMGAN_CHECK(ConfigError, s.snapshot_every >= 0, "snapshot_every = ", s.snapshot_every,
              " must be >= 0 (0 = none)");
  EMGAN_CHECK(ConfigError, s.kl_weight >= 0.0 && s.gamma >= 0.0 && s.pixel_weight >= 0.0, "kl_weight ", s.kl_weight,
              ", gamma ", s.gamma, " and pixel_weight ", s.pixel_weight, " must be >= 0");
}

std::string TrainSummary::last_line() const {
  std::ostringstream os;
  os << "iterations=" << iterations;
  for (const auto& key : {"loss_g", "loss_d"})
    if (last.count(key)) os << " " << key << "=" << fmt(last.at(key));
  if (!achieved_fractions.empty()) os << " fractions=" << join_numbers(achieved_fractions);
  if (!requested_fractions.empty()) os << " requested=" << join_numbers(requested_fractions);
  return os.str();
}

std::string SampleSummary::last_line() const {
  std::ostringstream os;
  os << "samples=" << files.size();
  if (!fractions.empty()) os << " fractions=" << join_numbers(fractions.front());
  if (!soft_fractions.empty()) os << " soft=" << join_numbers(soft_fractions.front());
  if (!uncertain.empty()) os << " uncertain=" << fmt(uncertain.front());
  if (!fractions_before.empty())
    os << " before_calibration=" << join_numbers(fractions_before.front())
       << " changed=" << fmt(changed_share.front());
  if (!std::isnan(diversity)) os << " diversity=" << fmt(diversity) << " real_diversity=" << fmt(real_diversity);
  if (!requested_fractions.empty()) os << " requested=" << join_numbers(requested_fractions);
  if (!pooled.is_null()) {
    // Worst phase (and axis) of the pooled comparison (compare_pooled_2d,
    // compare_pooled_volumes).
    double f = 0.0, s2 = 0.0, sa = 0.0, tau = -1.0;
    for (const auto& d : pooled["generated"]["differences"]) {
      f = std::max(f, d["fraction_abs_diff"].get<double>());
      s2 = std::max(s2, d["s2_rms_diff_mean"].get<double>());
      if (d["surface_rel_diff"].is_number())
        sa = std::max(sa, std::abs(d["surface_rel_diff"].get<double>()));
      for (const auto& t : d["tau_rel_diff"])
        if (t.is_number()) tau = std::max(tau, std::abs(t.get<double>()));
    }
    double inter = -1.0;
    for (const auto& d : pooled["generated"].value("interface_differences", Json::array()))
      if (d["rel_diff"].is_number()) inter = std::max(inter, std::abs(d["rel_diff"].get<double>()));
    os << " pooled_max_fraction_diff=" << fmt(f) << " pooled_max_s2_rms=" << fmt(s2)
       << " pooled_max_surface_diff=" << fmt(sa);
    if (inter >= 0.0) os << " pooled_max_interface_diff=" << fmt(inter);
    if (tau >= 0.0) os << " pooled_max_tau_diff=" << fmt(tau);
  }
  return os.str();
}

namespace detail {

std::unique_ptr<Recipe> make_recipe(const GenerateTrainSettings& settings, const Encoding& encoding,
                                    const torch::Device& device) {
  if (settings.model == "slicegan") return make_slicegan_recipe(settings, encoding, device);
  return make_2d_recipe(settings, encoding, device);
}

}  // namespace detail

namespace {

/// Writes sample files for model-channel samples `x` into `dir`; returns the main
/// files and the report image rows.
struct WrittenSamples {
  std::vector<fs::path> files;
  std::vector<std::vector<double>> fractions;
  std::vector<std::vector<double>> soft_fractions;         ///< mean softmax probability per phase
  std::vector<double> uncertain;                           ///< uncertain_share per sample
  std::vector<std::pair<std::string, std::string>> images;  ///< relative path, caption
  std::vector<torch::Tensor> decoded;                      ///< file values, [D, H, W] or [C, H, W]
  std::vector<torch::Tensor> labels;                       ///< phase labels (n-phase), [D, H, W] or [H, W]
};

WrittenSamples write_samples(const fs::path& root, const std::string& sub, const torch::Tensor& x,
                             const TrainingData& codec, bool volumetric) {
  constexpr int64_t kGridMax = 64;
  WrittenSamples w;
  const fs::path dir = root / sub;
  ensure_dir(dir);
  const bool phases = codec.encoding().kind == "phases";
  std::vector<std::vector<torch::Tensor>> grid_rows(1);
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto one = x[i];
    if (phases) {
      w.fractions.push_back(label_fractions(one.unsqueeze(0)));
      const auto soft = one.flatten(1).mean(1).to(torch::kCPU, torch::kDouble).contiguous();
      w.soft_fractions.emplace_back(soft.data_ptr<double>(), soft.data_ptr<double>() + soft.numel());
      w.uncertain.push_back(uncertain_share(one));
      w.labels.push_back(micro::labels_from_one_hot(one));
    }
    auto decoded = codec.decode(one).to(torch::kCPU, torch::kFloat);
    const std::string stem = "sample_" + std::to_string(i);
    if (volumetric) {
      if (!phases && decoded.dim() == 4) decoded = decoded.size(0) == 1 ? decoded[0] : decoded.mean(0);
      const auto files = write_volume_files(dir, stem, decoded, phases);
      w.files.push_back(files.tiff);
      w.images.emplace_back(sub + "/" + files.slices.filename().string(), stem + ": central x-y, x-z, y-z slices");
    } else {
      const auto image = phases ? decoded.unsqueeze(0) : decoded;
      const fs::path tif = dir / (stem + ".tif");
      io::write_image(tif, image);
      w.files.push_back(tif);
      if (i < kGridMax) {  // the grid shows the first 64; every sample is written
        if (grid_rows.back().size() >= 8) grid_rows.emplace_back();
        grid_rows.back().push_back(image.size(0) == 3 ? image : image[0]);
      }
    }
    w.decoded.push_back(decoded);
  }
  if (!volumetric) {
    auto options = report::GridOptions().window_mode(report::WindowMode::kFixed).panel_scale(x.size(-1) < 96 ? 2 : 1);
    const auto lo = std::min_element(w.decoded.begin(), w.decoded.end(), [](auto& a, auto& b) {
                      return a.min().template item<double>() < b.min().template item<double>();
                    })->min().item<double>();
    const auto hi = std::max_element(w.decoded.begin(), w.decoded.end(), [](auto& a, auto& b) {
                      return a.max().template item<double>() < b.max().template item<double>();
                    })->max().item<double>();
    options.fixed_window(report::Window{lo, hi > lo ? hi : lo + 1.0});
    if (phases) options.colormap(report::Colormap::kViridis);
    report::write_grid_png(dir / "grid.png", grid_rows, options);
    w.images.emplace_back(sub + "/grid.png", x.size(0) > kGridMax ? "the first 64 generated samples"
                                                                  : "generated samples");
  }
  return w;
}

/// Mean of the finite values of `v` times `scale` (of their absolute values when
/// `absolute`), for a report cell ("-" when none is finite).
std::string mean_finite_cell(const std::vector<double>& v, double scale, bool absolute) {
  double sum = 0.0;
  int64_t k = 0;
  for (double d : v)
    if (std::isfinite(d)) {
      sum += absolute ? std::abs(d) : d;
      ++k;
    }
  return k ? fmt(scale * sum / static_cast<double>(k), 3) : std::string("-");
}

/// Mean |relative tortuosity difference| over the axes where both are finite, in %,
/// for a report cell ("-" when none is).
std::string mean_abs_tau_diff(const micro::PhaseComparison& pc) {
  return mean_finite_cell(pc.tau_rel_diff, 100.0, true);
}

/// Mean signed connectivity difference (generated - real) over the slice normals
/// where both are finite, for a report cell ("-" when none is).
std::string mean_conn_diff(const micro::PhaseComparison& pc) {
  return mean_finite_cell(pc.connectivity_diff, 1.0, false);
}

/// Sample standard deviation of the finite values of `v` (NaN where fewer than 2 are).
double finite_sd(const std::vector<double>& v) {
  std::vector<double> x;
  for (double d : v)
    if (std::isfinite(d)) x.push_back(d);
  if (x.size() < 2) return std::nan("");
  double mean = 0.0, sq = 0.0;
  for (double d : x) mean += d / static_cast<double>(x.size());
  for (double d : x) sq += (d - mean) * (d - mean);
  return std::sqrt(sq / static_cast<double>(x.size() - 1));
}

/// "a / b / c" of `v` scaled, "-" for non-finite entries (a report cell per axis).
std::string axes_cell(const std::vector<double>& v, double scale) {
  if (v.empty()) return "not solved (--tortuosity)";
  std::string out;
  for (size_t a = 0; a < v.size(); ++a)
    out += (a ? " / " : "") + (std::isfinite(v[a]) ? fmt(scale * v[a], 3) : std::string("-"));
  return out;
}

/// Two or more generated volumes compared with one real volume: their statistics taken
/// together (micro::pooled_stats: tortuosity = mean fraction / mean relative diffusivity)
/// against the real ones, and the spread of each volume's tortuosity difference. One
/// volume's tortuosity scatters (by up to 30 points between two 256^3 volumes of one model
/// on the real electrode): a difference inside that spread is what one volume cannot
/// tell apart. Writes DIR/stats_pooled/, adds a table to `rep`, returns the JSON of
/// stats_pooled.json.
Json compare_pooled_volumes(const fs::path& dir, const fs::path& reference,
                            const micro::MicroStats& real,
                            const std::vector<micro::MicroStats>& volumes,
                            const std::vector<micro::StatsComparison>& each, report::Report& rep) {
  const auto pooled = micro::compare_stats(real, micro::pooled_stats(volumes, "generated volumes"));
  micro::write_comparison_report(dir / "stats_pooled", pooled, "real", "generated (pooled)");
  Json sds = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (size_t p = 0; p < pooled.phases.size(); ++p) {
    const auto& pc = pooled.phases[p];
    std::vector<double> sd(pc.tau_rel_diff.size(), std::nan(""));
    for (size_t a = 0; a < sd.size(); ++a) {
      std::vector<double> per_volume;
      for (const auto& c : each) {
        EMGAN_CHECK(ConfigError,
                    p < c.phases.size() && c.phases[p].phase == pc.phase &&
                        a < c.phases[p].tau_rel_diff.size(),
                    "the generated volumes have different phases or axes");
        per_volume.push_back(c.phases[p].tau_rel_diff[a]);
      }
      sd[a] = finite_sd(per_volume);
    }
    sds.push_back(finite_or_null(sd));
    rows.push_back({std::to_string(pc.phase), fmt(pc.fraction_abs_diff), fmt(pc.s2_rms_diff_mean),
                    fmt(100.0 * pc.surface_rel_diff, 3), axes_cell(pc.tau_rel_diff, 100.0),
                    axes_cell(sd, 100.0)});
    log_info(
        "phase " + std::to_string(pc.phase) + ", " + std::to_string(volumes.size()) +
        " volumes pooled: fraction diff " + fmt(pc.fraction_abs_diff) + ", S2 RMS diff " +
        fmt(pc.s2_rms_diff_mean) + ", surface diff " + fmt(100.0 * pc.surface_rel_diff, 3) +
        " %, tau diff % (z / y / x) " + axes_cell(pc.tau_rel_diff, 100.0) +
        (sd.empty() ? std::string() : ", spread between volumes (sd) " + axes_cell(sd, 100.0)));
  }
  rep.section("Statistics of all volumes taken together");
  rep.paragraph("The " + std::to_string(volumes.size()) +
                " compared volumes taken together (fractions, S2 and surface area averaged; "
                "tortuosity = mean fraction / mean relative diffusivity) against " +
                reference.string() +
                ", and the standard deviation of each volume's own tortuosity difference: one "
                "volume's tortuosity scatters, and a difference within that spread is what a "
                "single volume cannot tell. Plots in stats_pooled/index.html.");
  rep.table({"phase", "|fraction diff|", "S2 RMS diff", "surface diff %", "tau diff % (z / y / x)",
             "tau diff sd between volumes, points (z / y / x)"},
            rows,
            "Targets (SliceGAN paper): fractions within 0.01, S2 within 0.01 RMS, surface and "
            "tortuosity within 10 %");
  return Json{{"volumes", volumes.size()},
              {"reference", reference.string()},
              {"generated", pooled.to_json()},
              {"tau_rel_diff_sd", sds}};
}

/// Micro statistics of (up to 4) n-phase samples against `reference` (a real image or
/// volume with the model's phase values); writes DIR/stats_<i>/ reports, adds a
/// summary table to `rep` and returns the comparisons as JSON. With two or more volumes
/// and `pooled` given, also compare_pooled_volumes into `*pooled`.
Json compare_samples(const fs::path& dir, const fs::path& reference, const WrittenSamples& w,
                     const Encoding& enc, bool tortuosity, report::Report& rep,
                     Json* pooled = nullptr) {
  EMGAN_CHECK(ConfigError, enc.kind == "phases", "--compare needs an n-phase model; this one models ", enc.kind);
  Json all = Json::array();
  const auto real_labels = reference_labels(reference, enc);
  micro::StatsSettings ss;
  ss.tortuosity = tortuosity;
  log_info("statistics of the reference " + reference.string());
  const auto real = micro::compute_stats(real_labels, ss, enc.values, reference.string(), false);
  rep.section("Statistics against the real data");
  rep.paragraph("Reference: " + reference.string() + ". Differences are generated minus real. Targets (SliceGAN " +
                "paper): fractions within 0.01 absolute, S2 within 0.01 RMS, surface area and tortuosity within 10 %.");
  std::vector<std::vector<std::string>> rows;
 const size_t compared = std::min<size_t>(w.labels.size(), 4);
 std::vector<micro::MicroStats> volumes;
 std::vector<micro::StatsComparison> each;
 for (size_t i = 0; i < compared; ++i) {
   log_info("statistics of sample " + std::to_string(i));
   const auto other =
       micro::compute_stats(w.labels[i], ss, enc.values, "sample_" + std::to_string(i), false);
   const auto cmp = micro::compare_stats(real, other);
   volumes.push_back(other);
   each.push_back(cmp);
   const std::string sub = "stats_" + std::to_string(i);
   micro::write_comparison_report(dir / sub, cmp, "real", "generated");
   all.push_back(cmp.to_json());
   for (const auto& pc : cmp.phases) {
     const auto& rp = real.phase(pc.phase);
     const auto& op = other.phase(pc.phase);
     rows.push_back({std::to_string(i), std::to_string(pc.phase), fmt(rp.fraction),
                     fmt(op.fraction), fmt(pc.fraction_abs_diff), fmt(pc.s2_rms_diff_mean),
                     fmt(rp.surface_area), fmt(op.surface_area),
                     fmt(100.0 * pc.surface_rel_diff, 3), mean_conn_diff(pc),
                     mean_abs_tau_diff(pc)});
   }
  }
  rep.table(
      {"sample", "phase", "fraction real", "fraction gen", "|diff|", "S2 RMS diff", "surface real",
       "surface gen", "surface diff %", "connectivity diff", "mean |tau diff| %"},
      rows,
      "Per-phase statistics; connectivity = fraction of the phase in the largest cluster of " +
          std::to_string(real.cluster_window) +
          " px tiles of the slices (generated - real, mean over the slice normals; > 0 = more "
          "connected, the usual sign of "
          "too low a tortuosity); full reports (S2 curves, chords, tortuosity) in "
          "stats_<i>/index.html");
  if (pooled && compared >= 2 && w.labels.front().dim() == 3)
    *pooled = compare_pooled_volumes(dir, reference, real, volumes, each, rep);
  return all;
}

/// 2D models: the statistics of all samples taken together against as many random
/// real crops of the same size from `real` (read from `reference`), and, as the
/// yardstick, a second set of real crops against the first (what the statistics differ
/// by between two real sets of that size). Writes DIR/stats_pooled/ and a report table;
/// returns both sets of differences as JSON.
Json compare_pooled_2d(const fs::path& dir, const TrainingData& real, const fs::path& reference,
                       const WrittenSamples& w, const Encoding& enc, int64_t size, bool tortuosity,
                       report::Report& rep) {
  micro::StatsSettings ss;
  ss.tortuosity = tortuosity;
  const auto n = static_cast<int64_t>(w.labels.size());
  const auto pooled = [&](const std::vector<torch::Tensor>& labels, const std::string& name) {
    std::vector<micro::MicroStats> all;
    for (size_t i = 0; i < labels.size(); ++i)
      all.push_back(
          micro::compute_stats(labels[i], ss, enc.values, name + " " + std::to_string(i)));
    return micro::pooled_stats(all, name);
  };
  const auto real_crops = [&] {
    const auto c = real.random_crops(n, size).to(torch::kCPU);
    std::vector<torch::Tensor> labels;
    for (int64_t i = 0; i < n; ++i) labels.push_back(micro::labels_from_one_hot(c[i]));
    return labels;
  };
  log_info("pooled statistics of " + std::to_string(n) + " samples and 2 x " + std::to_string(n) +
           " real " + std::to_string(size) + " px crops of " + reference.string());
  const auto generated = pooled(w.labels, "generated samples");
  const auto real_a = pooled(real_crops(), "real crops");
  const auto real_b = pooled(real_crops(), "real crops (second set)");
  const auto cmp = micro::compare_stats(real_a, generated);
  const auto base = micro::compare_stats(real_a, real_b);
  micro::write_comparison_report(dir / "stats_pooled", cmp, "real crops", "generated");
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < cmp.phases.size() && i < base.phases.size(); ++i) {
    const auto& g = cmp.phases[i];
    const auto& b = base.phases[i];
    const auto& rp = real_a.phase(g.phase);
    rows.push_back({std::to_string(g.phase), fmt(rp.fraction),
                    fmt(generated.phase(g.phase).fraction), fmt(g.fraction_abs_diff),
                    fmt(b.fraction_abs_diff), fmt(g.s2_rms_diff_mean), fmt(b.s2_rms_diff_mean),
                    fmt(100.0 * g.surface_rel_diff, 3), fmt(100.0 * b.surface_rel_diff, 3),
                    mean_conn_diff(g), mean_conn_diff(b), mean_abs_tau_diff(g),
                    mean_abs_tau_diff(b)});
  }
  rep.section("Statistics of all samples against real crops");
  rep.paragraph("The " + std::to_string(n) +
                " samples taken together (fractions, S2 and surface area averaged, "
                "tortuosity = mean fraction / mean relative diffusivity) against " +
                std::to_string(n) + " random " + std::to_string(size) + " px crops of " +
                reference.string() +
                "; 'real vs real' compares a second set of as many crops with the first: the "
                "differences two real sets of this size show. Plots in stats_pooled/index.html.");
  rep.table(
      {"phase", "fraction real", "fraction gen", "|diff| gen", "|diff| real vs real", "S2 RMS gen",
       "S2 RMS real vs real", "surface diff % gen", "surface diff % real vs real",
       "connectivity diff gen", "connectivity diff real vs real", "mean |tau diff| % gen",
       "mean |tau diff| % real vs real"},
      rows,
      "Targets (SliceGAN paper): fractions within 0.01, S2 within 0.01 RMS, surface and tortuosity "
      "within 10 %");
  if (!cmp.interfaces.empty()) {
    std::vector<std::vector<std::string>> pairs;
    for (size_t i = 0; i < cmp.interfaces.size() && i < base.interfaces.size(); ++i) {
      const auto& g = cmp.interfaces[i];
      pairs.push_back({std::to_string(g.a) + "|" + std::to_string(g.b), fmt(g.real), fmt(g.other),
                       fmt(100.0 * g.rel_diff, 3), fmt(100.0 * base.interfaces[i].rel_diff, 3)});
    }
    rep.table({"phases", "interface area real", "interface area gen", "diff % gen",
               "diff % real vs real"},
              pairs,
              "Interface area of each pair of phases (faces per pixel): which phases the surfaces "
              "face. A phase's surface area is the sum of its interfaces.");
  }
  const auto base_json = base.to_json();
  return Json{{"count", n},
              {"crop_size", size},
              {"reference", reference.string()},
              {"generated", cmp.to_json()},
              {"real_vs_real", base_json["differences"]},
              {"real_vs_real_interfaces", base_json["interface_differences"]}};
}

/// What was measured to keep `settings`' model from collapsing, as "; ..." (or "").
std::string collapse_remedy(const GenerateTrainSettings& settings) {
  if (settings.model == "slicegan" && settings.mode_seeking == 0.0)
    return "; measured on real data: at reduced widths SliceGAN's generator stopped using its "
           "latent field within 100 iterations, and --mode-seeking 1 kept it in use "
           "(docs/GENERATE.md)";
  if (settings.model != "dcgan" || !settings.spectral_norm) return "";
  return "; measured on real data: the spectral-norm discriminator (the default) collapsed, "
         "--no-spectral-norm (the original DCGAN's batch norm) did not (docs/GENERATE.md)";
}

fs::path model_path_of(const fs::path& p) { return fs::is_directory(p) ? p / "model.pt" : p; }

/// A run's history under `key` (critic_resets, lr_changes): the entries of the saved
/// config.json, plus `entry` unless null; written into `config` only when not empty.
void carry_history(Json& config, const Json& saved, const char* key, const Json& entry) {
  Json history = saved.is_object() && saved.contains(key) ? saved.at(key) : Json::array();
  if (!entry.is_null()) history.push_back(entry);
  if (!history.empty()) config[key] = history;
}

}  // namespace

TrainSummary run_train(const GenerateTrainSettings& settings_in) {
  auto settings = settings_in;
  validate(settings);
  const auto device = apply_runtime(settings.runtime);
  const fs::path run(settings.out);
  ensure_dir(run);
  const fs::path ckpt = run / "checkpoint.pt";
  EMGAN_CHECK(ConfigError, settings.resume || !fs::exists(ckpt), run.string(),
              " already holds a checkpoint; pass --resume to continue it or choose another --out");
  EMGAN_CHECK(ConfigError, settings.reset_critics.empty() || fs::exists(ckpt), ckpt.string(),
              ": not found; reset_critics = ", join(settings.reset_critics),
              " restarts critics of a run that has one (a new run's critics are new already)");
  auto data = TrainingData::load(settings.data, settings.phases, settings.grey, device);
  const auto& enc = data.encoding();
  log_info("training data: " + enc.kind + ", " + std::to_string(enc.channels) + " channel(s)" +
           (enc.kind == "phases" ? " (phase values " + join_numbers(enc.values) + ", fractions " +
                                       join_numbers(data.channel_means()) + ")"
                                 : ""));
  Json config = settings;
  config["encoding"] = enc;
  config["effective_optimizer"] = settings.optimizer();
  // Resuming with other network settings than the run was trained with cannot load its
  // weights: say which, before anything of the run is overwritten.
  const Json saved = settings.resume && fs::exists(run / "config.json")
                         ? load_json_file(run / "config.json")
                         : Json(nullptr);
  if (fs::exists(ckpt) && !saved.is_null()) {
    std::string diffs;
    for (const char* key : {"model", "width", "latent_channels", "latent", "image_size",
                            "g_upsample", "g_norm", "spectral_norm", "minibatch_std"})
      if (saved.contains(key) && saved.at(key) != config.at(key))
        diffs += std::string(diffs.empty() ? "" : ", ") + key + " " + saved.at(key).dump() +
                 " -> " + config.at(key).dump();
    if (saved.contains("encoding") && saved.at("encoding").contains("channels") &&
        saved.at("encoding").at("channels") != enc.channels)
      diffs += std::string(diffs.empty() ? "" : ", ") + "channels " +
               saved.at("encoding").at("channels").dump() + " -> " + std::to_string(enc.channels);
    EMGAN_CHECK(ConfigError, diffs.empty(), ckpt.string(),
                ": the run was trained with other network settings (", diffs,
                "); resume it with its own: generate train --config ",
                (run / "config.json").string(), " --resume [--iterations N ...]");
  }
  auto recipe = detail::make_recipe(settings, enc, device);
  const auto requested = requested_fractions(settings, enc);

  int64_t start = 0;
  if (settings.resume && fs::exists(ckpt)) {
    torch::serialize::InputArchive root;
    train::read_archive(ckpt, root, device);
    const auto meta = read_archive_meta(root, ckpt, kCheckpointFormat);
    EMGAN_CHECK(ConfigError, meta.value("model", "") == settings.model, ckpt.string(), ": holds a ",
                meta.value("model", "?"), " run, not ", settings.model);
    load_modules(root, ckpt, recipe->modules());
    torch::serialize::InputArchive opts;
    EMGAN_CHECK(IoError, root.try_read("optimizers", opts), ckpt.string(), ": no optimizer states");
    for (const auto& [name, opt] : recipe->optimizers()) {
      torch::serialize::InputArchive a;
      EMGAN_CHECK(IoError, opts.try_read(name, a), ckpt.string(), ": optimizer '", name, "' is missing");
      opt->load(a);
      train::set_lr(*opt, settings.optimizer().lr);  // the lr given now applies (e.g. lowered after a non-finite loss)
    }
    torch::Tensor rng;
    if (root.try_read("rng_cpu", rng)) train::set_rng_state({rng.to(torch::kCPU), {}});
    start = meta.at("iteration").get<int64_t>();
    log_info("resumed " + ckpt.string() + " at iteration " + std::to_string(start));
  }
  // Critics restarted on this resume: done once, and recorded in the run's history rather
  // than as a setting (resuming again with the saved config must not restart them again).
  if (!settings.reset_critics.empty()) {
    recipe->reset_critics(settings.reset_critics);
    log_info("critics " + join(settings.reset_critics) +
             " restarted (new weights, new Adam state) at iteration " + std::to_string(start));
  }
  config["reset_critics"] = Json::array();
  carry_history(config, saved, "critic_resets",
                settings.reset_critics.empty()
                    ? Json(nullptr)
                    : Json{{"iteration", start}, {"axes", settings.reset_critics}});
  // A learning rate changed on resume (lowered late in training, or after a non-finite loss)
  // is said and kept in the run's history: config.json alone would show only the last one.
  Json lr_change;
  if (start > 0 && saved.contains("effective_optimizer") &&
      saved.at("effective_optimizer").contains("lr")) {
    const double before = saved.at("effective_optimizer").at("lr").get<double>();
    const double now = settings.optimizer().lr;
    if (now != before) {
      lr_change = Json{{"iteration", start}, {"from", before}, {"to", now}};
      std::ostringstream msg;
      msg << "learning rate " << before << " -> " << now << " from iteration " << start
          << " (recorded in config.json as lr_changes)";
      log_info(msg.str());
    }
  }
  carry_history(config, start > 0 ? saved : Json(nullptr), "lr_changes", lr_change);
  save_json_file(run / "config.json", config);
  auto save_checkpoint = [&](int64_t iteration) {
    Json meta{{"format", kCheckpointFormat}, {"version", 1}, {"model", settings.model}, {"iteration", iteration}};
    write_archive(ckpt, meta, recipe->modules(), recipe->optimizers(), true);
  };

  const auto names = recipe->metric_names();
  const fs::path log_path = run / "metrics.csv";
  if (start == 0 && fs::exists(log_path)) fs::remove(log_path);
  // Mode-collapse checks during training: 64 samples against 64 real crops (2D models);
  // the central slices of 16 volumes against 16 real crops per axis (slicegan).
  const fs::path diversity_path = run / "diversity.csv";
  if (start == 0 && fs::exists(diversity_path)) fs::remove(diversity_path);
  const bool check_diversity = settings.diversity_every > 0;
  const int64_t diversity_n = recipe->volumetric() ? 16 : 64;
  double diversity_ratio = std::nan("");
  // With n-phase data the checks also log the slice connectivity of each phase in the
  // samples and in real crops (docs/MICRO.md): it ranks the tortuosity error in seconds.
  const bool log_connectivity = enc.kind == "phases";
  std::vector<std::string> diversity_names = {"diversity", "real_diversity", "ratio"};
  if (log_connectivity)
    for (int64_t p = 0; p < enc.channels; ++p) {
      diversity_names.push_back("connectivity_" + std::to_string(p));
      diversity_names.push_back("real_connectivity_" + std::to_string(p));
    }
  int64_t connectivity_window = 0;
  const std::string collapse_hint = collapse_remedy(settings);
  auto diversity_check = [&](int64_t iteration, double seconds) {
    const auto rng =
        train::get_rng_state();  // drawn aside: training continues as without the check
    const auto x = recipe->sample(diversity_n, 0, false, true);
    double d = 0.0, r = 0.0;
    if (recipe->volumetric()) {
      std::tie(d, r) = volume_diversity(x, data, enc);
    } else {
      d = mean_pairwise_distance(as_compared(x.to(torch::kCPU), enc));
      r = mean_pairwise_distance(
          as_compared(data.random_crops(diversity_n, recipe->image_size()).to(torch::kCPU), enc));
    }
    std::map<std::string, double> row;
    if (log_connectivity) {
      // Real crops of the samples' slice size: 64 per axis (volumes) or 64 (images).
      const int64_t side = x.size(-1);
      connectivity_window = side;
      std::vector<double> real_conn(static_cast<size_t>(enc.channels), 0.0);
      const int64_t axes = recipe->volumetric() ? 3 : 1;
      for (int64_t axis = 0; axis < axes; ++axis) {
        const auto crops =
            recipe->volumetric() ? data.crops(axis, 64, side) : data.random_crops(64, side);
        const auto c = samples_connectivity(crops, side);
        for (size_t p = 0; p < c.size(); ++p) real_conn[p] += c[p] / static_cast<double>(axes);
      }
      const auto gen_conn = samples_connectivity(x, side);
      for (int64_t p = 0; p < enc.channels; ++p) {
        row["connectivity_" + std::to_string(p)] = gen_conn[static_cast<size_t>(p)];
        row["real_connectivity_" + std::to_string(p)] = real_conn[static_cast<size_t>(p)];
      }
    }
    train::set_rng_state(rng);
    // Early samples are all alike before they are anything: warn on a drop below 0.5
    // after the samples had been diverse, once per drop.
    // A SliceGAN generator's volumes differ from the start (its latent is a field): a
    // first check below 0.5 is already a collapse.
    const bool was_diverse =
        diversity_ratio >= 0.5 || (recipe->volumetric() && std::isnan(diversity_ratio));
    // Training images no larger than the crops give identical real crops: no yardstick.
    diversity_ratio = r > 0.0 ? d / r : std::nan("");
    row["diversity"] = d;
    row["real_diversity"] = r;
    row["ratio"] = diversity_ratio;
    append_metrics(diversity_path, diversity_names, iteration, seconds, row);
    if (diversity_ratio < 0.5 && was_diverse)
      log_info("warning: at iteration " + std::to_string(iteration) + " the samples are " +
               fmt(diversity_ratio, 3) +
               " as diverse as real crops (< 0.5): the generator is collapsing (diversity.csv)" +
               collapse_hint);
  };
  // The model file (model.pt and the snapshots): inference modules + everything needed
  // to rebuild and decode.
  const auto model_meta = [&](int64_t iteration) {
    Json meta{{"format", kModelFormat},
              {"version", 1},
              {"model", settings.model},
              {"settings", settings},
              {"encoding", enc},
              {"iteration", iteration},
              {"requested_fractions", finite_or_null(requested)}};
    return meta;
  };
  Progress progress("generate " + settings.model + (start > 0 ? " (resumed at " + std::to_string(start) + ")" : ""),
                    std::max<int64_t>(settings.iterations - start, 0), "it");
  TrainSummary summary;
  std::map<std::string, double> m;
  for (int64_t it = start; it < settings.iterations; ++it) {
    m = recipe->step(data, static_cast<double>(it) / static_cast<double>(settings.iterations));
    for (const auto& [k, v] : m)
      EMGAN_CHECK(TrainingError, std::isfinite(v), "generate ", settings.model, ": non-finite ", k, " = ", v,
                  " at iteration ", it + 1, "; stopped. ",
                  fs::exists(ckpt) ? "The last good checkpoint is " + ckpt.string() +
                                         " (continue with --resume, e.g. with a lower --lr)"
                                   : std::string("No checkpoint was written yet; lower --lr and start again"));
    const int64_t done = it + 1;
    if (done % settings.log_every == 0 || done == settings.iterations)
      append_metrics(log_path, names, done, progress.elapsed(), m);
    if (check_diversity && (done % settings.diversity_every == 0 || done == settings.iterations))
      diversity_check(done, progress.elapsed());
    if (done % settings.checkpoint_every == 0 || done == settings.iterations) save_checkpoint(done);
    if (settings.snapshot_every > 0 && done % settings.snapshot_every == 0) {
      ensure_dir(run / "snapshots");
      write_archive(run / "snapshots" / ("model_" + std::to_string(done) + ".pt"), model_meta(done),
                    recipe->inference_modules(), {}, false);
    }
    std::ostringstream fields;
    fields << "loss_d=" << fmt(m["loss_d"]) << " loss_g=" << fmt(m["loss_g"]);
    if (!std::isnan(diversity_ratio)) fields << " diversity=" << fmt(diversity_ratio, 2);
    if (m.count("fraction_loss") && !requested.empty()) fields << " frac_loss=" << fmt(m["fraction_loss"]);
    progress.update(done - start, fields.str());
  }
  progress.finish();
  summary.iterations = settings.iterations;
  summary.last = m;
  summary.requested_fractions = requested;

  summary.model = run / "model.pt";
  write_archive(summary.model, model_meta(settings.iterations), recipe->inference_modules(), {},
                false);

  // Report: curves, samples, fractions, statistics.
  report::Report rep("emgan generate train: " + settings.model);
  rep.section("Run");
  rep.key_values({{"model", settings.model},
                  {"data", join(settings.data)},
                  {"encoding", enc.kind + " (" + std::to_string(enc.channels) + " channels)"},
                  {"iterations", std::to_string(settings.iterations)},
                  {"seconds", fmt(progress.elapsed())}});
  if (fs::exists(log_path) && report::read_metrics_log(log_path).rows() >= 1) {
    report::write_learning_curves(log_path, run / "curves.png",
                                  report::LearningCurveOptions().columns({"loss_d", "loss_g"}));
    rep.section("Training curves").image("curves.png", "critic / discriminator and generator losses");
    const auto log = report::read_metrics_log(log_path);
    if (std::find(log.columns.begin(), log.columns.end(), "wasserstein_y") != log.columns.end()) {
      report::write_learning_curves(
          log_path, run / "wasserstein.png",
          report::LearningCurveOptions()
              .columns({"wasserstein_z", "wasserstein_y", "wasserstein_x"})
              .chart(report::ChartOptions().title(
                  "Wasserstein estimate of each slicing axis' critic")));
      rep.image("wasserstein.png",
                "each critic's estimate of the distance between real slices and the generated "
                "volumes' slices along its axis (metrics.csv wasserstein_z/_y/_x): a critic "
                "whose curve stays below the others lets the generator through along its axis; "
                "generate train --resume --reset-critics AXIS restarts it (docs/GENERATE.md)");
    }
  }
  if (std::isfinite(diversity_ratio) && fs::exists(diversity_path)) {
    report::write_learning_curves(
        diversity_path, run / "diversity.png",
        report::LearningCurveOptions().columns({"ratio"}).chart(
            report::ChartOptions().title("Diversity of samples / real crops").y_min(0.0)));
    rep.section("Mode-collapse checks")
        .image("diversity.png",
               (recipe->volumetric()
                    ? std::string("mean pairwise distance of the central slices (per axis) of 16 "
                                  "volumes over that of 16 real crops, every ")
                    : std::string("mean pairwise distance of 64 samples over that of 64 real "
                                  "crops, every ")) +
                   std::to_string(settings.diversity_every) +
                   " iterations (diversity.csv); below 0.5 the samples are a few images over and "
                   "over" +
                   (recipe->volumetric() ? " (in 3D: the generator ignores its latent field and "
                                           "repeats one pattern)"
                                         : ""));
    if (log_connectivity && connectivity_window > 0) {
      report::write_learning_curves(
          diversity_path, run / "connectivity.png",
          report::LearningCurveOptions()
              .columns(std::vector<std::string>(diversity_names.begin() + 3, diversity_names.end()))
              .chart(report::ChartOptions()
                         .title("Slice connectivity: samples and real crops")
                         .y_min(0.0)));
      rep.image("connectivity.png",
                "per phase, the share of its pixels in the largest 4-connected cluster of a " +
                    std::to_string(connectivity_window) + " px " +
                    (recipe->volumetric()
                         ? std::string("slice of the volumes (mean over the three normals)")
                         : std::string("sample")) +
                    " beside the same for 64 real crops" +
                    (recipe->volumetric() ? " per axis" : "") +
                    " (diversity.csv): a phase above its real curve has larger clusters than the "
                    "real one and "
                    "usually too low a tortuosity (docs/MICRO.md)");
    }
    if (diversity_ratio < 0.5)
      rep.paragraph(
          "warning: the final model's samples are " + fmt(diversity_ratio, 3) +
          " as diverse as real crops: collapsed (or not yet diverse). If earlier checks were "
          "higher, "
          "train again with fewer --iterations; docs/GENERATE.md lists what was measured to help" +
          (collapse_hint.empty() ? std::string(".") : collapse_hint + "."));
  }
  const int64_t count = recipe->volumetric() ? 1 : 16;
  const auto x = recipe->sample(count, settings.sample_size, false, GenerateSampleSettings{}.norm_stats == "batch");
  const auto w = write_samples(run, "samples", x, data, recipe->volumetric());
  rep.section("Samples").image_row(w.images);
  if (!w.fractions.empty()) {
    summary.achieved_fractions = w.fractions.front();
    const auto real_f = data.channel_means();
    std::vector<std::vector<std::string>> rows;
    for (size_t p = 0; p < real_f.size(); ++p)
      rows.push_back({std::to_string(p), fmt(enc.values[p]), fmt(real_f[p]),
                      requested.empty() || std::isnan(requested[p]) ? "-" : fmt(requested[p]),
                      fmt(summary.achieved_fractions[p])});
    rep.table({"phase", "value", "training data", "requested", "achieved (sample 0)"}, rows, "Phase fractions");
  }
  // Statistics against the training data when it is a single real image/volume of
  // matching dimension (a 3D volume for slicegan, a 2D image for 2D models).
  if (enc.kind == "phases" && settings.data.size() == 1 && (enc.volume == recipe->volumetric())) {
    if (settings.report_tortuosity)
      log_info("report: statistics of the samples against " + settings.data.front() +
               " with tortuosity (diffusion solves; --no-report-tortuosity skips them)");
    const auto cmp =
        compare_samples(run, settings.data.front(), w, enc, settings.report_tortuosity, rep);
    save_json_file(run / "stats_comparison.json", cmp);
  }
  rep.section("Configuration").json(config, "config.json");
  rep.write(run);
  return summary;
}

namespace {

/// The fractions `generate sample` calibrates to (one per phase, NaN = free; empty =
/// no calibration), from --fractions or --match-fractions.
std::vector<double> calibration_targets(const GenerateSampleSettings& s,
                                        const std::vector<double>& requested, const Encoding& enc,
                                        const fs::path& model) {
  if (s.fractions.empty() && !s.match_fractions) return {};
  EMGAN_CHECK(ConfigError, s.fractions.empty() || !s.match_fractions,
              "generate sample: give --fractions or --match-fractions, not both");
  EMGAN_CHECK(ConfigError, enc.kind == "phases",
              "generate sample: fraction calibration needs an n-phase model; ", model.string(),
              " is ", enc.kind);
  if (s.match_fractions) {
    EMGAN_CHECK(
        ConfigError, !requested.empty(), "generate sample --match-fractions: ", model.string(),
        " was trained without target_fractions; give the fractions with --fractions F0 F1 ...");
    return requested;
  }
  return per_phase_fractions(s.fractions, enc.channels,
                             "generate sample --fractions (" + model.string() + ")");
}

}  // namespace

SampleSummary run_sample(const GenerateSampleSettings& s) {
  EMGAN_CHECK(ConfigError, !s.model.empty(), "generate sample: --model RUN is required");
  EMGAN_CHECK(ConfigError, s.count >= 1, "count = ", s.count, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.size >= 0, "size = ", s.size, " must be >= 0");
  check_choice("norm_stats", s.norm_stats, {"batch", "running"});
  const auto device = apply_runtime(s.runtime);
  const fs::path path = model_path_of(s.model);
  torch::serialize::InputArchive root;
  train::read_archive(path, root, device);
  const auto meta = read_archive_meta(root, path, kModelFormat);
  // Models written before the per-model optimiser settings hold flat lr/beta1/beta2
  // keys, which sampling does not need.
  Json stored = meta.at("settings");
  for (const char* legacy : {"lr", "beta1", "beta2"}) stored.erase(legacy);
  const auto settings = settings_from_json<GenerateTrainSettings>(stored, path.string());
  const auto enc = meta.at("encoding").get<Encoding>();
  auto recipe = detail::make_recipe(settings, enc, device);
  load_modules(root, path, recipe->inference_modules());
  // A codec for decoding: an empty stand-in with the model's encoding.
  const auto shape = enc.volume ? std::vector<int64_t>{enc.channels, 1, 1, 1} : std::vector<int64_t>{enc.channels, 1, 1};
  TrainingData codec({torch::zeros(shape)}, enc);

  const fs::path out(s.out);
  ensure_dir(out);
  SampleSummary summary;
  for (const auto& v : meta.at("requested_fractions"))
    summary.requested_fractions.push_back(v.is_null() ? std::nan("") : v.get<double>());
  report::Report rep("emgan generate sample: " + settings.model);
  rep.section("Model").key_values({{"model file", path.string()},
                                   {"model", settings.model},
                                   {"encoding", enc.kind},
                                   {"count", std::to_string(s.count)},
                                   {"periodic", s.periodic ? "yes" : "no"},
                                   {"batch norm statistics", s.norm_stats}});
  const auto x = recipe->sample(s.count, s.size, s.periodic, s.norm_stats == "batch");
  summary.calibration_targets = calibration_targets(s, summary.requested_fractions, enc, path);
  Json calibration = nullptr;
  if (!summary.calibration_targets.empty()) {
    calibration =
        Json{{"targets", finite_or_null(summary.calibration_targets)}, {"samples", Json::array()}};
    std::vector<std::vector<std::string>> rows;
    for (int64_t i = 0; i < x.size(0); ++i) {
      const auto cal = calibrate_fractions(x[i], summary.calibration_targets);
      x[i].copy_(cal.probs);
      summary.fractions_before.push_back(cal.before);
      summary.changed_share.push_back(cal.changed_share);
      calibration["samples"].push_back(Json{{"before", cal.before},
                                            {"after", cal.after},
                                            {"offsets", cal.offsets},
                                            {"changed_share", cal.changed_share},
                                            {"max_error", cal.max_error},
                                            {"iterations", cal.iterations}});
      log_info("sample " + std::to_string(i) + ": fractions " + join_numbers(cal.before) + " -> " +
               join_numbers(cal.after) + " (calibrated; " + fmt(100.0 * cal.changed_share, 3) +
               " % of the " + (x[i].dim() == 4 ? "voxels" : "pixels") + " changed phase)");
      if (cal.max_error > cal.tolerance)
        log_info("warning: sample " + std::to_string(i) + " is " + fmt(cal.max_error) +
                 " from a target fraction after " + std::to_string(cal.iterations) +
                 " iterations (too few voxels, or a phase the generator never draws)");
      for (size_t p = 0; p < cal.before.size(); ++p)
        rows.push_back(
            {std::to_string(i), std::to_string(p), fmt(cal.before[p]),
             std::isnan(summary.calibration_targets[p]) ? "-" : fmt(summary.calibration_targets[p]),
             fmt(cal.after[p]), fmt(cal.offsets[p], 3), fmt(100.0 * cal.changed_share, 3)});
    }
    rep.section("Fraction calibration")
        .table(
            {"sample", "phase", "generated", "target", "calibrated", "log-prior shift",
             "voxels changed %"},
            rows,
            "Every sample's phase probabilities were shifted by one log-prior per phase so that "
            "its argmax labels have the target fractions; the voxels that change phase are those "
            "the generator was least sure of (docs/GENERATE.md, \"Fraction calibration\")");
  }
  const auto w = write_samples(out, "samples", x, codec, recipe->volumetric());
  summary.files = w.files;
  summary.fractions = w.fractions;
  summary.soft_fractions = w.soft_fractions;
  summary.uncertain = w.uncertain;
  rep.section("Samples").image_row(w.images);
  if (!w.fractions.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < w.fractions.size(); ++i)
      for (size_t p = 0; p < w.fractions[i].size(); ++p)
        rows.push_back({std::to_string(i), std::to_string(p), fmt(enc.values[p]),
                        summary.requested_fractions.empty() || std::isnan(summary.requested_fractions[p])
                            ? "-"
                            : fmt(summary.requested_fractions[p]),
                        fmt(w.fractions[i][p]), fmt(w.soft_fractions[i][p])});
    rep.table({"sample", "phase", "value", "requested", "achieved", "soft (mean probability)"}, rows,
              "Phase fractions: achieved (argmax) vs requested; soft = mean softmax probability, what the "
              "training fraction columns of metrics.csv show");
    std::vector<std::vector<std::string>> urows;
    for (size_t i = 0; i < w.uncertain.size(); ++i)
      urows.push_back({std::to_string(i), fmt(w.uncertain[i])});
    rep.table({"sample", "uncertain share"}, urows,
              "Share of the pixels whose most likely phase has probability < 0.9: the part of the "
              "sample that the argmax decides, not the generator (0 = one-hot outputs)");
  }
  // 2D models compared with a real image: the source of the real crops of the
  // mode-collapse check and of the pooled statistics.
  std::optional<TrainingData> real_2d;
  if (!recipe->volumetric() && !s.compare.empty() && s.count >= 2)
    real_2d.emplace(std::vector<torch::Tensor>{TrainingData::encode(io::read_image(s.compare).data,
                                                                    enc, s.compare)},
                    enc);
  if (real_2d) {
    // Mode-collapse check: diversity of the samples against as many real crops.
    const auto crops = real_2d->crops(0, s.count, recipe->image_size());
    summary.diversity = mean_pairwise_distance(as_compared(x.to(torch::kCPU), enc));
    summary.real_diversity = mean_pairwise_distance(as_compared(crops.to(torch::kCPU), enc));
    rep.section("Mode-collapse check")
        .key_values({{"mean pairwise RMS distance, samples", fmt(summary.diversity)},
                     {"mean pairwise RMS distance, real crops", fmt(summary.real_diversity)},
                     {"ratio", fmt(summary.diversity / summary.real_diversity)}});
    if (summary.diversity < 0.5 * summary.real_diversity) {
      // Measured: collapsed DCGANs score 0.15-0.34 of real crops, healthy models 0.8-1.
      const std::string warning =
          "warning: the samples are " + fmt(summary.diversity / summary.real_diversity, 2) +
          " as diverse as real crops (< 0.5): the generator has collapsed to a few "
          "images; their statistics describe those few, not the material" +
          collapse_remedy(settings);
      log_info(warning);
      rep.paragraph(warning);
    }
  }
  if (!s.reconstruct.empty()) detail::reconstruct_report(*recipe, s.reconstruct, codec, out, rep);
  if (!s.compare.empty()) {
    summary.comparison =
        compare_samples(out, s.compare, w, enc, s.tortuosity, rep, &summary.pooled);
    save_json_file(out / "stats_comparison.json", summary.comparison);
    if (!summary.pooled.is_null()) save_json_file(out / "stats_pooled.json", summary.pooled);
    if (real_2d) {
      summary.pooled = compare_pooled_2d(out, *real_2d, s.compare, w, enc, recipe->image_size(),
                                         s.tortuosity, rep);
      save_json_file(out / "stats_pooled.json", summary.pooled);
    }
  }
  Json fr = Json::array();
  for (const auto& f : w.fractions) fr.push_back(f);
  save_json_file(out / "summary.json",
                 Json{{"files",
                       [&] {
                         Json a = Json::array();
                         for (const auto& f : w.files) a.push_back(f.string());
                         return a;
                       }()},
                      {"fractions", fr},
                      {"soft_fractions", w.soft_fractions},
                      {"uncertain", w.uncertain},
                      {"norm_stats", s.norm_stats},
                      {"calibration", calibration},
                      {"diversity", finite_or_null(summary.diversity)},
                      {"real_diversity", finite_or_null(summary.real_diversity)},
                      {"model", path.string()}});
  rep.write(out);
  return summary;
}

}  // namespace emgan::generate
