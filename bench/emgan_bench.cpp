// emgan_bench: timing of emgan's hot paths, one line of `key=value` figures per
// measurement (settings included), so a line of BENCHMARKS.md can be re-run.
//
//   emgan_bench pix2pix-step --batch 3 --size 256 --threads 2 --warmup 1 --steps 3
//   emgan_bench pix2pix-step --batch 1 --sizes 128,256,512,1024   (scaling with image size)
//   emgan_bench infer --arch unet_256,lawrence2020 --sizes 256,512 --batches 1,16
//   emgan_bench pix2pix-step --precision bf16   (forwards + losses under autocast; also `infer`)
//   emgan_bench poly-fit [--data <tree of conv/multislice pairs>]
//   emgan_bench conv-transpose --batch 3 --size 256   (U-Net up path: ATen vs the oneDNN route)
//   emgan_bench data --files 64 --file-size 512 --crop 256 --batch 16
//   emgan_bench restorer-infer --models ede,reduced --sizes 512      (restore workflow built)
//   emgan_bench slicegan --widths 1,0.125 --volume-size 256          (generate workflow built)
//
// Every mode ends with `peak_rss_mb=` (VmHWM of /proc/self/status: the largest
// resident set of the process, so of that mode). Lines of one size or model also carry
// their own `peak_rss_mb=`: the peak is reset before each (clear_refs 5) where the kernel
// allows it (`rss_reset=1`). With a list of sizes, `ratio_to_prev_size=` is the median
// time over the previous size's (same batch). Times are wall-clock (steady_clock) around
// whole steps; on CUDA the device is synchronised first.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "emgan/core/error.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"
#include "emgan/data/augment.h"
#include "emgan/data/crop.h"
#include "emgan/data/dataset.h"
#include "emgan/data/loader.h"
#include "emgan/data/normalize.h"
#include "emgan/io/image.h"
#include "emgan/losses/gan.h"
#include "emgan/nn/conv_transpose.h"
#include "emgan/models/model.h"
#include "emgan/models/poly.h"
#include "emgan/train/optim.h"
#include "emgan/train/pix2pix.h"
#ifdef EMGAN_WITH_RESTORE
#include "emgan/models/restorer.h"
#include "emgan/restore/restore.h"
#endif
#ifdef EMGAN_WITH_GENERATE
#include "emgan/generate/generate.h"
#include "emgan/models/slicegan.h"
#endif

namespace {

using emgan::Json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// ---- settings ---------------------------------------------------------------------------

/// Settings shared by every mode.
struct CommonSettings {
  int threads = 2;             ///< intra-op threads (at::set_num_threads); 0 = torch's default
  int interop_threads = 0;     ///< inter-op threads (at::set_num_interop_threads); 0 = torch's default
  std::string device = "cpu";  ///< cpu | cuda | cuda:N | auto
  int warmup = 1;              ///< untimed repetitions first
  int steps = 3;               ///< timed repetitions
  uint64_t seed = 0;           ///< seed of torch's generator
  bool mkldnn = true;          ///< oneDNN (mkldnn) kernels on the CPU
  bool channels_last = false;  ///< 4-D weights and inputs in channels-last memory format
  /// Route of 2D transposed convolutions: native | onednn | auto (emgan/nn/conv_transpose.h)
  std::string conv_transpose = "auto";
};

/// Settings of `pix2pix-step`.
struct StepSettings {
  int64_t batch = 3;                 ///< images per step
  int64_t size = 256;                ///< image side, px (when `sizes` is empty)
  std::vector<int64_t> sizes;        ///< image sides, px, one line each (scaling); excludes `size`
  std::string generator = "unet_256";
  std::string gan_loss = "lsgan";    ///< lsgan (as the Python peer) | vanilla (BCE, pix2pix paper)
  double dropout = 0.5;              ///< U-Net dropout (0 for deterministic numerics checks)
  std::string save_init;             ///< folder: write G.pt, D.pt (initial weights) there
  bool print_losses = false;         ///< one `step=` line of losses per step (warmup included)
  /// "library" (emgan's "adam": train::FusedAdam, one-pass CPU update) or "torch"
  /// (torch::optim::Adam as it ships, for comparison)
  std::string optimizer = "library";
  bool release_grads = false;        ///< library: drop gradients after the update (zero_grad then fills nothing)
  /// fp32 | bf16 (forward passes and losses under autocast to bfloat16; weights, gradients
  /// and optimizer state stay fp32: mixed precision)
  std::string precision = "fp32";
};

/// Settings of `infer`.
struct InferSettings {
  std::vector<std::string> archs = {"unet_256", "lawrence2020"};
  std::vector<int64_t> sizes = {256, 512};
  std::vector<int64_t> batches = {1, 16};
  bool inference_mode = true;  ///< c10::InferenceMode (else NoGradGuard)
  std::string precision = "fp32";  ///< fp32 | bf16 (forward under autocast to bfloat16)
};

#ifdef EMGAN_WITH_RESTORE
/// Settings of `restorer-infer`.
struct RestorerInferSettings {
  /// "ede" (RestorerOptions' defaults: Ede's widths) and/or "reduced" (the generator
  /// default of `emgan restore train`, RestoreTrainSettings::generator)
  std::vector<std::string> models = {"ede", "reduced"};
  std::vector<int64_t> sizes = {512};  ///< image sides, px (multiples of the model's stride)
  std::vector<int64_t> batches = {1};  ///< images per forward
  double coverage = 0.05;              ///< fraction of pixels scanned in the random mask
  bool inference_mode = true;          ///< c10::InferenceMode (else NoGradGuard)
};
#endif

#ifdef EMGAN_WITH_GENERATE
/// `emgan generate train`'s defaults: the SliceGAN training settings below start from them.
const emgan::generate::GenerateTrainSettings& generate_defaults() {
  static const emgan::generate::GenerateTrainSettings defaults;
  return defaults;
}

/// Settings of `slicegan`; the training defaults are `emgan generate train`'s.
struct SliceGanSettings {
  /// Layer-width multipliers of the timed training iteration.
  std::vector<double> widths = {1.0, 0.125};
  int64_t batch = generate_defaults().batch_size;                  ///< volumes per iteration
  int64_t real_batch = generate_defaults().real_batch;             ///< real crops per critic step and axis (0 = batch)
  /// slices of each volume per axis the critics see (0 = all)
  int64_t slices_per_volume = generate_defaults().slices_per_volume;
  int64_t critic_steps = generate_defaults().critic_steps;         ///< critic updates per generator update
  int64_t latent_channels = generate_defaults().latent_channels;   ///< z
  int64_t latent_size = generate_defaults().latent_size;           ///< training latent side (4 -> 64^3)
  double gp_lambda = generate_defaults().gp_lambda;                ///< WGAN-GP weight
  int64_t channels = 3;                                            ///< phases (softmax output)
  std::string upsample = generate_defaults().g_upsample;  ///< last layer: transposed | resize
  bool step = true;                                                ///< time the training iteration
  int64_t volume_size = 256;                                       ///< generated volume side, voxels (0 = none)
  std::vector<double> volume_widths = {0.125};                     ///< width multipliers of the generation
};
#endif

/// Settings of `poly-fit`.
struct PolySettings {
  std::string data = std::string(EMGAN_BENCH_SHARED_DATA) + "/stem-conv2multislice";
  int64_t predict_size = 256;  ///< side of the predicted image, px
};

/// Settings of `data`.
struct DataSettings {
  std::string dir;             ///< where to write the generated files ("" = a temporary folder, removed)
  int64_t files = 64;          ///< generated input/target pairs
  int64_t file_size = 512;     ///< side of each generated image, px
  std::string ext = "tif";     ///< file format of the generated images (float32)
  int64_t crop = 256;          ///< random crop side, px
  int64_t batch = 16;          ///< images per batch
  int64_t prefetch = 2;        ///< batches prepared ahead by the loader thread (0 = inline)
  int64_t epochs = 2;          ///< timed passes over the files (after `warmup` passes)
};

// ---- helpers ------------------------------------------------------------------------------

/// VmHWM of the process, MB (-1 where /proc cannot be read).
double vm_hwm_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      double kb = 0;
      ss >> kb;
      return kb / 1024.0;
    }
  }
  return -1.0;
}

/// The largest VmHWM read so far (before and after resets), MB.
double g_peak_seen = 0.0;

/// The largest resident set of the whole process, MB, across resets (the kernel's
/// VmHWM may read lower after a reset than an earlier reading of it).
double peak_rss_mb() {
  g_peak_seen = std::max(g_peak_seen, vm_hwm_mb());
  return g_peak_seen;
}

/// Resets VmHWM to the current resident set (`echo 5 > /proc/self/clear_refs`), so
/// that vm_hwm_mb() afterwards is the peak of what follows. False where not allowed.
bool reset_peak_rss() {
  peak_rss_mb();
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

/// VmHWM since the last reset_peak_rss(), MB (also counted in peak_rss_mb()).
double line_peak_rss_mb() {
  const double v = vm_hwm_mb();
  g_peak_seen = std::max(g_peak_seen, v);
  return v;
}

/// First line of an exception's message (c10::Error without its backtrace).
std::string short_what(const std::exception& e) {
  std::string w;
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e))
    w = ce->what_without_backtrace();
  else
    w = e.what();
  w = w.substr(0, w.find('\n'));
  std::replace(w.begin(), w.end(), '"', '\'');
  return w;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = -1;
  in >> a;
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << a;
  return os.str();
}

void print_rss(const std::string& mode) {
  std::cout << "bench=" << mode << " peak_rss_mb=" << std::fixed << std::setprecision(1) << peak_rss_mb()
            << " load1=" << load_average() << std::endl;
}

/// Median, mean and min of a list of milliseconds.
struct Stats {
  double median = 0, mean = 0, min = 0;
};

Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(n);
  s.min = v.front();
  return s;
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

/// Applies threads, mkldnn and the seed; returns the device.
torch::Device apply_common(const CommonSettings& c) {
  EMGAN_CHECK(emgan::ConfigError, c.threads >= 0, "--threads = ", c.threads, " must be >= 0");
  EMGAN_CHECK(emgan::ConfigError, c.interop_threads >= 0, "--interop-threads = ", c.interop_threads,
              " must be >= 0");
  EMGAN_CHECK(emgan::ConfigError, c.warmup >= 0 && c.steps >= 1, "--warmup = ", c.warmup, " / --steps = ", c.steps,
              ": need warmup >= 0 and steps >= 1");
  if (c.interop_threads > 0) at::set_num_interop_threads(c.interop_threads);
  if (c.threads > 0) at::set_num_threads(c.threads);
  at::globalContext().setUserEnabledMkldnn(c.mkldnn);
  emgan::nn::set_conv_transpose_mode(c.conv_transpose);
  torch::manual_seed(c.seed);
  return emgan::parse_device(c.device);
}

std::string common_line(const CommonSettings& c, const torch::Device& device) {
  std::ostringstream os;
  os << "threads=" << at::get_num_threads() << " interop=" << at::get_num_interop_threads()
     << " device=" << device.str() << " mkldnn=" << (c.mkldnn ? 1 : 0)
     << " channels_last=" << (c.channels_last ? 1 : 0) << " conv_transpose=" << c.conv_transpose << " warmup=" << c.warmup << " steps=" << c.steps
     << " seed=" << c.seed << " torch=" << TORCH_VERSION << " load1=" << load_average();
  return os.str();
}

/// Moves every 4-D parameter of `module` to channels-last memory (same values).
void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters(true)) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor memory_format(const torch::Tensor& x, bool channels_last) {
  return channels_last && x.dim() == 4 ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

// ---- mixed precision ----------------------------------------------------------------------

/// True for `--precision bf16`, false for fp32 (ConfigError otherwise).
bool parse_bf16(const std::string& mode, const std::string& precision) {
  EMGAN_CHECK(emgan::ConfigError, precision == "fp32" || precision == "bf16", mode, ": --precision '", precision,
              "' is not one of: fp32, bf16");
  return precision == "bf16";
}

/// Autocast to bfloat16 on `device`'s type for the guard's lifetime, as
/// `torch.autocast(device_type, dtype=torch.bfloat16)`: CPU autocast on the CPU, the GPU
/// autocast (set_enabled + set_autocast_gpu_dtype) on CUDA. Restores the previous
/// state (enabled flag and dtype) on exit and clears the cast cache when the outermost
/// autocast region ends (cached low-precision copies of weights would be stale after
/// the optimizer step). Does nothing when `enabled` is false.
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, c10::DeviceType type) : active_(enabled), cuda_(type == c10::DeviceType::CUDA) {
    if (!active_) return;
    EMGAN_CHECK(emgan::ConfigError, type == c10::DeviceType::CPU || cuda_, "--precision bf16: no autocast for device ",
                c10::DeviceTypeName(type));
    if (cuda_) {
      prev_enabled_ = at::autocast::is_enabled();
      prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      prev_enabled_ = at::autocast::is_cpu_enabled();
      prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda_) {
      at::autocast::set_enabled(prev_enabled_);
      at::autocast::set_autocast_gpu_dtype(prev_dtype_);
    } else {
      at::autocast::set_cpu_enabled(prev_enabled_);
      at::autocast::set_autocast_cpu_dtype(prev_dtype_);
    }
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_;
  bool cuda_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

/// `t` in fp32 when autocast made it bf16/fp16 (losses reduce in fp32, as autocast's fp32
/// policy for mse_loss does for the Python peer's LSGAN; emgan's LSGAN is pow + mean,
/// which autocast would leave in bf16), else `t` itself.
torch::Tensor loss_input(const torch::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf ? t.to(at::kFloat) : t;
}

/// A module whose forward runs under AutocastGuard (bf16); the wrapped module is its
/// only child, so parameters(), train()/eval() and freezing reach it unchanged.
struct AutocastModuleImpl : torch::nn::Module {
  AutocastModuleImpl(torch::nn::AnyModule inner, c10::DeviceType type) : inner_(std::move(inner)), type_(type) {
    register_module("inner", inner_.ptr());
  }
  torch::Tensor forward(torch::Tensor x) {
    AutocastGuard guard(true, type_);
    torch::Tensor y = inner_.forward<torch::Tensor>(std::move(x));
    out_dtype = y.scalar_type();
    return y;
  }
  torch::nn::AnyModule inner_;
  c10::DeviceType type_;
  at::ScalarType out_dtype = at::kFloat;  ///< dtype of the last output (what autocast made of it)
};
TORCH_MODULE(AutocastModule);

/// Single-scale view of a discriminator (the recipe takes one logits tensor).
struct SingleScaleDImpl : torch::nn::Module {
  explicit SingleScaleDImpl(emgan::models::DiscriminatorPtr d) : d_(register_module("net", std::move(d))) {}
  torch::Tensor forward(torch::Tensor x) { return d_->forward(std::move(x)).at(0); }
  emgan::models::DiscriminatorPtr d_;
};
TORCH_MODULE(SingleScaleD);

template <typename F>
std::vector<double> time_runs(const CommonSettings& c, const torch::Device& device, F&& run) {
  for (int i = 0; i < c.warmup; ++i) run();
  sync(device);
  std::vector<double> ms;
  for (int i = 0; i < c.steps; ++i) {
    const auto t0 = Clock::now();
    run();
    sync(device);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return ms;
}

std::string fmt(double v, int precision = 2) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

// ---- modes ------------------------------------------------------------------------------

/// The pix2pix step of ../shared/peers/pix2pix_reference.py: unet_256 + PatchGAN
/// basic (ndf 64, 3 layers, batch norm), D on the detached fake then G with D frozen,
/// 0.5 * GAN loss for D, GAN + 100 * L1 for G, Adam(2e-4, 0.5, 0.999) for both.
void run_step(const CommonSettings& c, const StepSettings& s) {
  const std::vector<int64_t> sizes = s.sizes.empty() ? std::vector<int64_t>{s.size} : s.sizes;
  for (const int64_t size : sizes)
    EMGAN_CHECK(emgan::ConfigError, s.batch >= 1 && size >= 1, "pix2pix-step: --batch = ", s.batch, " / size ", size,
                " must be >= 1");
  const bool bf16 = parse_bf16("pix2pix-step", s.precision);
  const torch::Device device = apply_common(c);
  auto g = emgan::models::make_generator(s.generator, Json{{"dropout", s.dropout}});
  auto d = emgan::models::make_discriminator("patchgan", Json{{"in_channels", g->in_channels() + g->out_channels()}});
  if (!s.save_init.empty()) {
    fs::create_directories(s.save_init);
    emgan::models::save_model(*g, fs::path(s.save_init) / "G.pt");
    emgan::models::save_model(*d, fs::path(s.save_init) / "D.pt");
  }
  g->to(device);
  d->to(device);
  if (c.channels_last) {
    to_channels_last(*g);
    to_channels_last(*d);
  }
  emgan::train::OptimizerOptions oo;  // adam, lr 2e-4, beta1 0.5, beta2 0.999 (pix2pix)
  EMGAN_CHECK(emgan::ConfigError, s.optimizer == "torch" || s.optimizer == "library", "pix2pix-step: --optimizer '",
              s.optimizer, "' is not one of: library, torch");
  oo.release_grads = s.release_grads;
  auto make_opt = [&](std::vector<torch::Tensor> params) -> emgan::train::OptimizerPtr {
    if (s.optimizer == "torch")
      return std::make_shared<torch::optim::Adam>(
          std::move(params), torch::optim::AdamOptions(oo.lr).betas(std::make_tuple(oo.beta1, oo.beta2)).eps(oo.eps));
    return emgan::train::make_optimizer(std::move(params), oo);
  };
  auto opt_g = make_opt(g->parameters());
  auto opt_d = make_opt(d->parameters());
  auto gan = emgan::losses::make_gan_loss(s.gan_loss);
  emgan::train::GanLossFns fns;
  fns.discriminator = [gan](const torch::Tensor& r, const torch::Tensor& f) {
    return 0.5 * gan->discriminator_loss(r, f);
  };
  fns.generator = [gan](const torch::Tensor& f) { return gan->generator_loss(f); };
  emgan::train::ReconstructionLoss rec = emgan::train::l1_loss();
  torch::nn::AnyModule g_module(g);
  torch::nn::AnyModule d_module{SingleScaleD(d)};
  // --precision bf16: G's and D's forward passes and the losses under autocast (as
  // `with torch.autocast(...)` around the forward + loss code in Python; the losses take
  // fp32 upcasts of bf16 outputs, see loss_input); backward and the optimizer steps
  // outside it, on the fp32 weights.
  AutocastModule g_autocast{nullptr};
  AutocastModule d_autocast{nullptr};
  if (bf16) {
    const c10::DeviceType type = device.type();
    g_autocast = AutocastModule(g_module, type);
    d_autocast = AutocastModule(d_module, type);
    g_module = torch::nn::AnyModule(g_autocast);
    d_module = torch::nn::AnyModule(d_autocast);
    fns.discriminator = [f = fns.discriminator, type](const torch::Tensor& r, const torch::Tensor& fk) {
      AutocastGuard guard(true, type);
      return f(loss_input(r), loss_input(fk));
    };
    fns.generator = [f = fns.generator, type](const torch::Tensor& fk) {
      AutocastGuard guard(true, type);
      return f(loss_input(fk));
    };
    rec = [f = rec, type](const torch::Tensor& out, const torch::Tensor& target) {
      AutocastGuard guard(true, type);
      return f(loss_input(out), loss_input(target));
    };
  }
  emgan::train::Pix2PixOptions po;
  po.lambda_gan = 1.0;
  po.lambda_rec = 100.0;
  emgan::train::Pix2PixRecipe recipe(std::move(g_module), std::move(d_module), opt_g, opt_d, fns, rec, po);
  recipe.set_training(true);

  // One line per size with the same networks and optimizers (their state carries
  // over; the cost of a step does not depend on it).
  double prev_ms = 0.0;
  int64_t prev_size = 0;
  for (const int64_t size : sizes) {
    // As the Python comparison script: seed, then A and B from torch.randn on the CPU.
    torch::manual_seed(c.seed);
    emgan::train::Batch batch;
    batch.input = memory_format(torch::randn({s.batch, g->in_channels(), size, size}).to(device), c.channels_last);
    batch.target = memory_format(torch::randn({s.batch, g->out_channels(), size, size}).to(device), c.channels_last);

    int step_no = 0;
    emgan::train::StepResult last;
    auto run = [&] {
      last = recipe.step(batch);
      ++step_no;
      if (s.print_losses) {
        // No precision= here: scripts/bench_compare_peer.py reads every field as a loss.
        std::cout << "step=" << step_no << std::setprecision(9);
        for (const auto& [k, v] : last.losses) std::cout << " " << k << "=" << v;
        std::cout << std::endl;
      }
    };
    const bool reset = reset_peak_rss();
    Stats st;
    try {
      st = stats_of(time_runs(c, device, run));
    } catch (const std::exception& e) {  // e.g. a side too small for the generator's depth
      std::cout << "bench=pix2pix-step generator=" << s.generator << " batch=" << s.batch << " size=" << size
                << " precision=" << s.precision << " skipped=\"" << short_what(e) << "\"" << std::endl;
      continue;
    }
    std::cout << "bench=pix2pix-step generator=" << s.generator << " discriminator=patchgan gan_loss=" << s.gan_loss
              << " dropout=" << s.dropout << " optimizer=" << s.optimizer
              << " release_grads=" << (s.release_grads ? 1 : 0) << " batch=" << s.batch << " size=" << size
              << " precision=" << s.precision;
    if (bf16)
      std::cout << " g_out_dtype=" << c10::toString(g_autocast->out_dtype)
                << " d_out_dtype=" << c10::toString(d_autocast->out_dtype);
    std::cout << " " << common_line(c, device) << " median_ms=" << fmt(st.median) << " mean_ms=" << fmt(st.mean)
              << " min_ms=" << fmt(st.min)
              << " images_per_s=" << fmt(1e3 * static_cast<double>(s.batch) / st.median, 3)
              << " ms_per_mpixel=" << fmt(st.median / (static_cast<double>(s.batch * size * size) * 1e-6), 1);
    if (prev_size > 0)
      std::cout << " prev_size=" << prev_size << " ratio_to_prev_size=" << fmt(st.median / prev_ms, 3);
    std::cout << " rss_reset=" << (reset ? 1 : 0) << " peak_rss_mb=" << fmt(line_peak_rss_mb(), 1) << std::endl;
    std::cout << "bench=pix2pix-step size=" << size << " precision=" << s.precision
              << " losses_after_steps=" << step_no << std::setprecision(7);
    for (const auto& [k, v] : last.losses) std::cout << " " << k << "=" << v;
    std::cout << std::endl;
    prev_ms = st.median;
    prev_size = size;
  }
  print_rss("pix2pix-step");
}

void run_infer(const CommonSettings& c, const InferSettings& s) {
  const bool bf16 = parse_bf16("infer", s.precision);
  const torch::Device device = apply_common(c);
  for (const auto& arch : s.archs) {
    // The translation workflow's default network: lawrence2020 on (conv image, poly prediction).
    const Json opts = arch == "lawrence2020" ? Json{{"in_channels", 2}, {"output_activation", "none"}} : Json::object();
    auto g = emgan::models::make_generator(arch, opts);
    g->to(device);
    g->eval();
    if (c.channels_last) to_channels_last(*g);
    std::map<int64_t, std::pair<int64_t, double>> prev;  // batch -> (size, median ms) of the previous size
    for (const int64_t size : s.sizes) {
      for (const int64_t b : s.batches) {
        EMGAN_CHECK(emgan::ConfigError, size >= 1 && b >= 1, "infer: size ", size, " / batch ", b, " must be >= 1");
        const torch::Tensor x =
            memory_format(torch::randn({b, g->in_channels(), size, size}).to(device), c.channels_last);
        at::ScalarType out_dtype = at::kFloat;
        auto run = [&] {
          AutocastGuard autocast(bf16, device.type());
          if (s.inference_mode) {
            c10::InferenceMode guard;
            out_dtype = g->forward(x).scalar_type();
          } else {
            torch::NoGradGuard guard;
            out_dtype = g->forward(x).scalar_type();
          }
        };
        const bool reset = reset_peak_rss();
        Stats st;
        try {
          st = stats_of(time_runs(c, device, run));
        } catch (const std::exception& e) {  // e.g. a side too small for the generator's depth
          std::cout << "bench=infer arch=" << arch << " size=" << size << " batch=" << b
                    << " precision=" << s.precision << " skipped=\""
                    << short_what(e) << "\"" << std::endl;
          continue;
        }
        std::cout << "bench=infer arch=" << arch << " size=" << size << " batch=" << b
                  << " grad_mode=" << (s.inference_mode ? "inference_mode" : "no_grad")
                  << " precision=" << s.precision << " out_dtype=" << c10::toString(out_dtype) << " "
                  << common_line(c, device) << " median_ms=" << fmt(st.median) << " mean_ms=" << fmt(st.mean)
                  << " min_ms=" << fmt(st.min) << " images_per_s=" << fmt(1e3 * static_cast<double>(b) / st.median, 3)
                  << " ms_per_mpixel=" << fmt(st.median / (static_cast<double>(b * size * size) * 1e-6), 1);
        if (prev.count(b))
          std::cout << " prev_size=" << prev[b].first << " ratio_to_prev_size=" << fmt(st.median / prev[b].second, 3);
        std::cout << " rss_reset=" << (reset ? 1 : 0) << " peak_rss_mb=" << fmt(line_peak_rss_mb(), 1)
                  << " peak_rss_mb_so_far=" << fmt(peak_rss_mb(), 1) << std::endl;
        prev[b] = {size, st.median};
      }
    }
  }
  print_rss("infer");
}


/// Settings of `conv-transpose`.
struct ConvTransposeSettings {
  int64_t batch = 3;   ///< images per forward/backward
  int64_t size = 256;  ///< image side of the U-Net whose up path is timed, px
  int64_t ngf = 64;    ///< U-Net width (unet_256: 64)
  int rounds = 3;      ///< alternations native / onednn per layer
};

/// Forward + backward (input, weight and bias gradients) of each transposed convolution
/// of a unet_256-style up path (4x4, stride 2, padding 1), native ATen vs the oneDNN
/// route, alternating; one line per layer and a total, with the route `auto` would take.
void run_conv_transpose(const CommonSettings& c, const ConvTransposeSettings& s) {
  const torch::Device device = apply_common(c);
  EMGAN_CHECK(emgan::ConfigError, s.batch >= 1 && s.size >= 2 && s.ngf >= 1 && s.rounds >= 1,
              "conv-transpose: --batch ", s.batch, ", --size ", s.size, ", --ngf ", s.ngf, ", --rounds ", s.rounds,
              ": need batch >= 1, size >= 2, ngf >= 1, rounds >= 1");
  // (in, out, input side) from the innermost level out, as the U-Net's up path.
  std::vector<std::array<int64_t, 3>> layers;
  const int64_t depth = static_cast<int64_t>(std::round(std::log2(static_cast<double>(s.size))));
  const std::vector<int64_t> mult{1, 2, 4, 8};
  for (int64_t level = depth - 1; level >= 0; --level) {
    const int64_t outer = level == 0 ? 1 : s.ngf * mult[std::min<int64_t>(level - 1, 3)];
    const int64_t inner = s.ngf * mult[std::min<int64_t>(level, 3)];
    const int64_t in = level == depth - 1 ? inner : 2 * inner;
    layers.push_back({in, outer, s.size >> (level + 1)});
  }
  const std::string saved_mode = emgan::nn::conv_transpose_mode();
  double total_native = 0, total_onednn = 0, total_auto = 0;
  for (const auto& [cin, cout, side] : layers) {
    const auto options = torch::nn::ConvTranspose2dOptions(cin, cout, 4).stride(2).padding(1);
    torch::nn::ConvTranspose2d layer(options);
    layer->to(device);
    const torch::Tensor x = torch::randn({s.batch, cin, side, side}, device).requires_grad_();
    emgan::nn::set_conv_transpose_mode("auto");
    const bool auto_onednn = emgan::nn::conv_transpose_uses_onednn(x, layer->weight, options);
    std::vector<double> native, onednn;
    for (int r = 0; r < s.rounds; ++r) {
      for (const std::string mode : {"native", "onednn"}) {
        emgan::nn::set_conv_transpose_mode(mode);
        auto ms = time_runs(c, device, [&] {
          layer->zero_grad();
          x.mutable_grad() = torch::Tensor();
          emgan::nn::conv_transpose2d(x, layer->weight, layer->bias, options).sum().backward();
        });
        auto& dst = mode == "native" ? native : onednn;
        dst.insert(dst.end(), ms.begin(), ms.end());
      }
    }
    const double n = stats_of(native).median, o = stats_of(onednn).median;
    total_native += n;
    total_onednn += o;
    total_auto += auto_onednn ? o : n;
    std::cout << "bench=conv-transpose in=" << cin << " out=" << cout << " input_side=" << side
              << " batch=" << s.batch << " native_median_ms=" << fmt(n) << " onednn_median_ms=" << fmt(o)
              << " onednn_over_native=" << fmt(o / n, 3) << " auto=" << (auto_onednn ? "onednn" : "native") << " "
              << common_line(c, device) << std::endl;
  }
  emgan::nn::set_conv_transpose_mode(saved_mode);
  std::cout << "bench=conv-transpose total size=" << s.size << " ngf=" << s.ngf << " batch=" << s.batch
            << " native_ms=" << fmt(total_native) << " onednn_ms=" << fmt(total_onednn) << " auto_ms=" << fmt(total_auto)
            << " auto_over_native=" << fmt(total_auto / total_native, 3) << " rounds=" << s.rounds << std::endl;
  print_rss("conv-transpose");
}

#ifdef EMGAN_WITH_RESTORE
/// The generator default of `emgan restore train` (a reduced-width Ede network).
emgan::models::RestorerOptions reduced_restorer_options() {
  static const emgan::restore::RestoreTrainSettings defaults;
  return defaults.generator;
}

/// The restore workflow's restorer (`emgan restore predict` calls forward() on
/// (partial scan, mask) `[N, 2, H, W]`), in eval mode: ms per image.
void run_restorer_infer(const CommonSettings& c, const RestorerInferSettings& s) {
  EMGAN_CHECK(emgan::ConfigError, s.coverage > 0.0 && s.coverage <= 1.0, "restorer-infer: --coverage = ", s.coverage,
              " must be in (0, 1]");
  const torch::Device device = apply_common(c);
  for (const auto& name : s.models) {
    emgan::models::RestorerOptions o;  // "ede": the defaults are Ede's widths
    if (name == "reduced")
      o = reduced_restorer_options();
    else
      EMGAN_CHECK(emgan::ConfigError, name == "ede", "restorer-infer: --models entry '", name,
                  "' is not one of: ede, reduced");
    o.in_channels = 2;
    o.residual = false;
    emgan::models::Restorer model(o);
    model->to(device);
    model->eval();
    if (c.channels_last) to_channels_last(*model);
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    std::ostringstream widths;
    for (size_t k = 0; k < o.inner_widths.size(); ++k) widths << (k ? "," : "") << o.inner_widths[k];
    std::map<int64_t, std::pair<int64_t, double>> prev;
    for (const int64_t size : s.sizes) {
      for (const int64_t b : s.batches) {
        EMGAN_CHECK(emgan::ConfigError, size >= 1 && b >= 1 && size % model->stride() == 0, "restorer-infer: size ",
                    size, " / batch ", b, ": need batch >= 1 and a size that is a positive multiple of ",
                    model->stride());
        torch::manual_seed(c.seed);
        const auto mask = torch::bernoulli(torch::full({b, 1, size, size}, s.coverage));
        const auto x = memory_format(torch::cat({torch::rand({b, 1, size, size}) * mask, mask}, 1).to(device),
                                     c.channels_last);
        auto run = [&] {
          if (s.inference_mode) {
            c10::InferenceMode guard;
            model->forward(x);
          } else {
            torch::NoGradGuard guard;
            model->forward(x);
          }
        };
        const bool reset = reset_peak_rss();
        const Stats st = stats_of(time_runs(c, device, run));
        std::cout << "bench=restorer-infer model=" << name << " inner_widths=" << widths.str()
                  << " inner_res_blocks=" << o.inner_res_blocks << " outer_width=" << o.outer_width
                  << " outer_res_blocks=" << o.outer_res_blocks << " weight_norm=" << (o.weight_norm ? 1 : 0)
                  << " params=" << params << " in_channels=2 size=" << size << " batch=" << b
                  << " grad_mode=" << (s.inference_mode ? "inference_mode" : "no_grad") << " "
                  << common_line(c, device) << " median_ms=" << fmt(st.median) << " mean_ms=" << fmt(st.mean)
                  << " min_ms=" << fmt(st.min) << " ms_per_image=" << fmt(st.median / static_cast<double>(b))
                  << " images_per_s=" << fmt(1e3 * static_cast<double>(b) / st.median, 3);
        if (prev.count(b))
          std::cout << " prev_size=" << prev[b].first << " ratio_to_prev_size=" << fmt(st.median / prev[b].second, 3);
        std::cout << " rss_reset=" << (reset ? 1 : 0) << " peak_rss_mb=" << fmt(line_peak_rss_mb(), 1) << std::endl;
        prev[b] = {size, st.median};
      }
    }
  }
  print_rss("restorer-infer");
}
#endif

#ifdef EMGAN_WITH_GENERATE
/// One SliceGAN iteration as `emgan generate train --model slicegan` runs it (three
/// critics, one per axis; `critic_steps` WGAN-GP critic updates on the slices of a
/// no-grad fake batch, then one generator update through all three critics), with fixed
/// random "real" crops (reading and cropping the training images is not timed), no
/// fraction loss. Then the generation of one `volume_size`^3 volume (eval mode,
/// InferenceMode) from a latent enlarged to latent_size_for(volume_size).
void run_slicegan(const CommonSettings& c, const SliceGanSettings& s) {
  EMGAN_CHECK(emgan::ConfigError, s.batch >= 1 && s.critic_steps >= 1 && s.real_batch >= 0 && s.volume_size >= 0,
              "slicegan: need --batch >= 1, --critic-steps >= 1, --real-batch >= 0, --volume-size >= 0 (got ",
              s.batch, ", ", s.critic_steps, ", ", s.real_batch, ", ", s.volume_size, ")");
  const torch::Device device = apply_common(c);
  const emgan::generate::OptimizerSettings adam_settings = emgan::generate::ModelOptimizers{}.slicegan;
  auto count = [](torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
  };
  auto make_generator = [&](double width) {
    emgan::models::SliceGanGeneratorOptions go;
    go.latent_channels = s.latent_channels;
    go.channels = s.channels;
    go.width = width;
    go.output = "softmax";
    go.upsample = s.upsample;
    emgan::models::SliceGanGenerator g(go);
    g->to(device);
    return g;
  };
  for (const double width : s.step ? s.widths : std::vector<double>{}) {
    torch::manual_seed(c.seed);
    auto g = make_generator(width);
    g->train();
    emgan::models::SliceGanCriticOptions co;
    co.channels = s.channels;
    co.width = width;
    std::vector<emgan::models::SliceGanCritic> critics;
    auto adam = [&](std::vector<torch::Tensor> params) {
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(adam_settings.lr).betas({adam_settings.beta1, adam_settings.beta2}));
    };
    auto opt_g = adam(g->parameters());
    std::vector<std::unique_ptr<torch::optim::Adam>> opt_d;
    for (int axis = 0; axis < 3; ++axis) {
      critics.push_back(emgan::models::SliceGanCritic(co));
      critics.back()->to(device);
      opt_d.push_back(adam(critics.back()->parameters()));
    }
    const int64_t side = emgan::models::SliceGanGeneratorImpl::output_size(s.latent_size);
    const int64_t br = s.real_batch > 0 ? s.real_batch : s.batch;
    std::vector<torch::Tensor> real;  // softmax of noise: phase probabilities, as one-hot crops would be
    for (int axis = 0; axis < 3; ++axis)
      real.push_back(torch::softmax(torch::randn({br, s.channels, side, side}), 1).to(device));
    auto latent = [&] {
      return torch::randn({s.batch, s.latent_channels, s.latent_size, s.latent_size, s.latent_size},
                          torch::TensorOptions().device(device));
    };
    auto set_critics_grad = [&](bool on) {
      for (auto& critic : critics)
        for (auto& p : critic->parameters()) p.set_requires_grad(on);
    };
    double loss_d = 0.0, loss_g = 0.0;
    auto iteration = [&] {
      set_critics_grad(true);
      for (int64_t k = 0; k < s.critic_steps; ++k) {
        torch::Tensor fake;
        {
          torch::NoGradGuard no_grad;
          fake = g->forward(latent());
        }
        for (int64_t axis = 0; axis < 3; ++axis) {
          auto& critic = critics[static_cast<size_t>(axis)];
          auto& opt = *opt_d[static_cast<size_t>(axis)];
          const auto fake_slices =
              emgan::models::random_volume_slices(fake, axis, s.slices_per_volume);
          const auto pick = torch::randperm(fake_slices.size(0), torch::TensorOptions().dtype(torch::kLong))
                                .narrow(0, 0, std::min<int64_t>(br, fake_slices.size(0)))
                                .to(device);
          const auto fake_gp = fake_slices.index_select(0, pick);
          const auto real_gp = real[static_cast<size_t>(axis)].narrow(0, 0, fake_gp.size(0));
          opt.zero_grad();
          const auto out_real = critic->forward(real[static_cast<size_t>(axis)]).mean();
          const auto out_fake = critic->forward(fake_slices).mean();
          const auto gp = emgan::losses::gradient_penalty([&](const torch::Tensor& x) { return critic->forward(x); },
                                                          real_gp, fake_gp, s.gp_lambda);
          const auto loss = out_fake - out_real + gp;
          loss.backward();
          opt.step();
          loss_d = loss.item<double>();
        }
      }
      set_critics_grad(false);
      opt_g->zero_grad();
      const auto fake = g->forward(latent());
      auto adv = torch::zeros({}, fake.options());
      for (int64_t axis = 0; axis < 3; ++axis)
        adv = adv -
              critics[static_cast<size_t>(axis)]
                  ->forward(emgan::models::random_volume_slices(fake, axis, s.slices_per_volume))
                  .mean();
      adv.backward();
      opt_g->step();
      loss_g = adv.item<double>();
    };
    const bool reset = reset_peak_rss();
    const Stats st = stats_of(time_runs(c, device, iteration));
    std::cout << "bench=slicegan part=step width=" << width << " g_params=" << count(*g)
              << " d_params_each=" << count(*critics[0]) << " critics=3 batch=" << s.batch
              << " real_batch=" << br << " slices_per_volume=" << s.slices_per_volume
              << " critic_steps=" << s.critic_steps << " latent_channels=" << s.latent_channels
              << " latent_size=" << s.latent_size << " volume=" << side
              << " channels=" << s.channels << " upsample=" << s.upsample
              << " adam=" << adam_settings.lr << "/" << adam_settings.beta1 << "/"
              << adam_settings.beta2 << " " << common_line(c, device)
              << " median_ms=" << fmt(st.median) << " mean_ms=" << fmt(st.mean)
              << " min_ms=" << fmt(st.min) << " iterations_per_s=" << fmt(1e3 / st.median, 4)
              << " loss_d=" << fmt(loss_d, 4) << " loss_g=" << fmt(loss_g, 4)
              << " rss_reset=" << (reset ? 1 : 0) << " peak_rss_mb=" << fmt(line_peak_rss_mb(), 1)
              << std::endl;
  }
  for (const double width : s.volume_size > 0 ? s.volume_widths : std::vector<double>{}) {
    torch::manual_seed(c.seed);
    auto g = make_generator(width);
    g->eval();
    const int64_t l = emgan::models::SliceGanGeneratorImpl::latent_size_for(s.volume_size);
    const int64_t out_side = emgan::models::SliceGanGeneratorImpl::output_size(l);
    const auto z = torch::randn({1, s.latent_channels, l, l, l}, torch::TensorOptions().device(device));
    auto run = [&] {
      c10::InferenceMode guard;
      const auto v = g->forward(z);
      return v.narrow(2, 0, s.volume_size).narrow(3, 0, s.volume_size).narrow(4, 0, s.volume_size);
    };
    const bool reset = reset_peak_rss();
    const Stats st = stats_of(time_runs(c, device, run));
    std::cout << "bench=slicegan part=generate width=" << width << " g_params=" << count(*g)
              << " latent=" << s.latent_channels << "x" << l << "^3 output=" << out_side << "^3 volume="
              << s.volume_size << "^3 channels=" << s.channels << " grad_mode=inference_mode "
              << common_line(c, device) << " median_s=" << fmt(st.median * 1e-3, 3)
              << " mean_s=" << fmt(st.mean * 1e-3, 3) << " min_s=" << fmt(st.min * 1e-3, 3)
              << " rss_reset=" << (reset ? 1 : 0) << " peak_rss_mb=" << fmt(line_peak_rss_mb(), 1) << std::endl;
  }
  print_rss("slicegan");
}
#endif

void run_poly(const CommonSettings& c, const PolySettings& s) {
  const torch::Device device = apply_common(c);
  if (!fs::is_directory(s.data)) {
    std::cout << "bench=poly-fit skipped: no data folder " << s.data << std::endl;
    return;
  }
  auto ds = emgan::data::PairedFolderDataset::from_tree(s.data);
  std::vector<torch::Tensor> xs, ys;
  std::vector<std::string> groups;
  const auto t_read = Clock::now();
  for (size_t i = 0; i < ds->size(); ++i) {
    const auto sample = ds->get(i);
    xs.push_back(sample.input.to(device));
    ys.push_back(sample.target.to(device));
    groups.push_back(sample.group);
  }
  const double read_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_read).count();
  emgan::models::PolyRegression poly;
  const Stats fit = stats_of(time_runs(c, device, [&] { poly.fit(xs, ys, groups); }));
  const Json opts = emgan::models::poly_options_to_json(poly.options());
  std::cout << "bench=poly-fit pairs=" << xs.size() << " image=" << xs[0].size(-2) << "x" << xs[0].size(-1)
            << " pixels=" << poly.training_pixels() << " features=" << poly.num_features() << " options="
            << opts.dump() << " read_ms=" << fmt(read_ms) << " " << common_line(c, device)
            << " fit_median_ms=" << fmt(fit.median) << " fit_mean_ms=" << fmt(fit.mean) << std::endl;
  torch::manual_seed(c.seed);
  const torch::Tensor img =
      (torch::rand({s.predict_size, s.predict_size}) * xs[0].max().item<double>()).to(xs[0].options());
  const Stats pred = stats_of(time_runs(c, device, [&] { poly.predict(img, groups[0]); }));
  std::cout << "bench=poly-predict size=" << s.predict_size << " " << common_line(c, device)
            << " median_ms=" << fmt(pred.median, 3) << " mean_ms=" << fmt(pred.mean, 3) << std::endl;
  print_rss("poly-fit");
}

void run_data(const CommonSettings& c, const DataSettings& s) {
  EMGAN_CHECK(emgan::ConfigError, s.files >= 1 && s.file_size >= s.crop && s.crop >= 1 && s.batch >= 1,
              "data: need files >= 1, file_size >= crop >= 1, batch >= 1 (got files ", s.files, ", file_size ",
              s.file_size, ", crop ", s.crop, ", batch ", s.batch, ")");
  const torch::Device device = apply_common(c);
  const bool temporary = s.dir.empty();
  const fs::path root =
      temporary ? fs::temp_directory_path() / ("emgan_bench_data_" + std::to_string(::getpid())) : fs::path(s.dir);
  fs::create_directories(root / "input");
  fs::create_directories(root / "target");
  for (int64_t i = 0; i < s.files; ++i) {
    const auto in = root / "input" / ("img_convolution_" + std::to_string(i) + "." + s.ext);
    const auto tg = root / "target" / ("img_" + std::to_string(i) + "_cl100mm." + s.ext);
    if (!fs::exists(in)) emgan::io::write_image(in, torch::rand({1, s.file_size, s.file_size}));
    if (!fs::exists(tg)) emgan::io::write_image(tg, torch::rand({1, s.file_size, s.file_size}));
  }
  auto ds = std::make_shared<emgan::data::PairedFolderDataset>(
      root / "input", root / "target", emgan::data::PairedFolderOptions().cache(false));
  auto norm = emgan::data::make_normalizer("meanstd");
  const auto aug = emgan::data::Compose::from_json(
      Json::parse(R"([{"type": "flip_h", "p": 0.5}, {"type": "flip_v", "p": 0.5}, {"type": "rot90", "p": 1}])"));
  const auto crop = emgan::data::CropOptions().height(s.crop).width(s.crop);
  emgan::data::SampleTransform transform = [&](emgan::data::Sample sample, uint64_t seed) {
    auto gen = emgan::data::make_generator(seed);
    sample = emgan::data::random_crop(sample, crop, gen);
    sample.input = norm->forward(sample.input).value;
    sample.target = norm->forward(sample.target).value;
    return aug.apply(std::move(sample), gen);
  };
  emgan::data::LoaderOptions lo;
  lo.batch_size = s.batch;
  lo.seed = c.seed;
  lo.drop_last = true;
  lo.prefetch = s.prefetch;
  emgan::data::DataLoader loader(ds, lo, {}, transform);
  int64_t images = 0;
  auto epoch = [&] {
    while (auto b = loader.next()) {
      b->input.to(device);
      b->target.to(device);
      images += b->size();
    }
  };
  for (int i = 0; i < c.warmup; ++i) epoch();
  images = 0;
  const auto t0 = Clock::now();
  for (int64_t e = 0; e < s.epochs; ++e) epoch();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "bench=data files=" << s.files << " file_size=" << s.file_size << " ext=" << s.ext
            << " crop=" << s.crop << " batch=" << s.batch << " prefetch=" << s.prefetch << " epochs=" << s.epochs
            << " pipeline=read+meanstd+flip_h,flip_v,rot90+collate " << common_line(c, device)
            << " images=" << images << " seconds=" << fmt(secs, 3)
            << " images_per_s=" << fmt(static_cast<double>(images) / secs, 1) << std::endl;
  if (temporary) fs::remove_all(root);
  print_rss("data");
}

void add_common(CLI::App* app, CommonSettings& c) {
  app->add_option("--threads", c.threads, "intra-op CPU threads (0 = torch's default)");
  app->add_option("--interop-threads", c.interop_threads, "inter-op threads (0 = torch's default)");
  app->add_option("--device", c.device, "cpu | cuda | cuda:N | auto");
  app->add_option("--warmup", c.warmup, "untimed repetitions first");
  app->add_option("--steps", c.steps, "timed repetitions");
  app->add_option("--seed", c.seed, "seed of torch's generator");
  app->add_option("--mkldnn", c.mkldnn, "use oneDNN (mkldnn) kernels on the CPU (true|false)");
  app->add_flag("--channels-last", c.channels_last, "4-D weights and inputs in channels-last memory");
  app->add_option("--conv-transpose", c.conv_transpose,
                  "2D transposed convolutions: native (ATen) | onednn | auto (oneDNN for large maps)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emgan_bench: timing of emgan's training step, inference, poly fit, data pipeline, restorer and "
               "SliceGAN"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  CommonSettings common;
  StepSettings step;
  InferSettings infer;
  PolySettings poly;
  DataSettings data;

  auto* s = app.add_subcommand("pix2pix-step", "pix2pix training step (unet_256 + PatchGAN), as the Python peer");
  add_common(s, common);
  s->add_option("--batch", step.batch, "images per step");
  auto* size_opt = s->add_option("--size", step.size, "image side, px");
  s->add_option("--sizes", step.sizes, "image sides, px, one line each with the ratio to the previous (scaling)")
      ->delimiter(',')
      ->excludes(size_opt);
  s->add_option("--generator", step.generator, "generator registry name");
  s->add_option("--gan-loss", step.gan_loss, "lsgan (the peer's) | vanilla | hinge");
  s->add_option("--dropout", step.dropout, "U-Net dropout probability");
  s->add_option("--save-init", step.save_init, "folder to write the initial G.pt and D.pt into");
  s->add_flag("--print-losses", step.print_losses, "print the losses of every step");
  s->add_option("--optimizer", step.optimizer, "library (emgan's adam: one-pass CPU update) | torch (torch::optim::Adam)");
  s->add_option("--release-grads", step.release_grads, "library: drop gradients after each update (0|1)");
  s->add_option("--precision", step.precision,
                "fp32 | bf16 (forward passes and losses under autocast to bfloat16; fp32 weights and optimizer)");
  s->callback([&] { run_step(common, step); });

  auto* i = app.add_subcommand("infer", "generator inference");
  add_common(i, common);
  i->add_option("--arch", infer.archs, "generator names")->delimiter(',');
  i->add_option("--sizes", infer.sizes, "image sides, px (lines carry the ratio to the previous size)")
      ->delimiter(',');
  i->add_option("--batches", infer.batches, "batch sizes")->delimiter(',');
  i->add_option("--inference-mode", infer.inference_mode, "InferenceMode (true) or NoGradGuard (false)");
  i->add_option("--precision", infer.precision, "fp32 | bf16 (forward under autocast to bfloat16)");
  i->callback([&] { run_infer(common, infer); });

  auto* p = app.add_subcommand("poly-fit", "polynomial model: fit on the real pairs, predict one image");
  add_common(p, common);
  p->add_option("--data", poly.data, "tree of convolution/multislice pairs");
  p->add_option("--predict-size", poly.predict_size, "side of the predicted image, px");
  p->callback([&] { run_poly(common, poly); });

  auto* d = app.add_subcommand("data", "data pipeline: read + normalise + augment + batch");
  add_common(d, common);
  d->add_option("--dir", data.dir, "folder for the generated files (default: temporary, removed)");
  d->add_option("--files", data.files, "generated input/target pairs");
  d->add_option("--file-size", data.file_size, "side of the generated images, px");
  d->add_option("--ext", data.ext, "format of the generated files (tif, npy, mrc, txt)");
  d->add_option("--crop", data.crop, "random crop side, px");
  d->add_option("--batch", data.batch, "images per batch");
  d->add_option("--prefetch", data.prefetch, "batches prepared ahead by the loader thread");
  d->add_option("--epochs", data.epochs, "timed passes over the files");
  d->callback([&] { run_data(common, data); });

  ConvTransposeSettings ct;
  auto* t = app.add_subcommand("conv-transpose",
                               "transposed convolutions of a U-Net up path: native ATen vs the oneDNN route, per layer");
  add_common(t, common);
  t->add_option("--batch", ct.batch, "images per forward/backward");
  t->add_option("--size", ct.size, "image side of the U-Net, px");
  t->add_option("--ngf", ct.ngf, "U-Net width");
  t->add_option("--rounds", ct.rounds, "alternations native / onednn per layer (each: warmup + steps)");
  t->callback([&] { run_conv_transpose(common, ct); });

#ifdef EMGAN_WITH_RESTORE
  RestorerInferSettings restorer;
  auto* r = app.add_subcommand("restorer-infer", "partial-scan restorer inference (restore workflow), ms per image");
  add_common(r, common);
  r->add_option("--models", restorer.models,
                "ede (Ede's widths 64..768, outer 64) | reduced (emgan restore train's default generator)")
      ->delimiter(',');
  r->add_option("--sizes", restorer.sizes, "image sides, px (multiples of the model's stride)")->delimiter(',');
  r->add_option("--batches", restorer.batches, "images per forward")->delimiter(',');
  r->add_option("--coverage", restorer.coverage, "fraction of scanned pixels in the random mask input");
  r->add_option("--inference-mode", restorer.inference_mode, "InferenceMode (true) or NoGradGuard (false)");
  r->callback([&] { run_restorer_infer(common, restorer); });
#else
  app.add_subcommand("restorer-infer", "(not built: configure with the restore workflow in EMGAN_WORKFLOWS)")
      ->callback([] { throw emgan::ConfigError("restorer-infer: emgan_bench was built without the restore workflow"); });
#endif
#ifdef EMGAN_WITH_GENERATE
  SliceGanSettings slicegan;
  auto* g = app.add_subcommand("slicegan",
                               "SliceGAN training iteration (generator + 3 critics, WGAN-GP) and generation of a "
                               "large volume (generate workflow)");
  add_common(g, common);
  g->add_option("--widths", slicegan.widths, "width multipliers of the timed training iteration")->delimiter(',');
  g->add_option("--batch", slicegan.batch, "volumes per iteration (emgan generate train's --batch-size)");
  g->add_option("--real-batch", slicegan.real_batch, "real crops per critic step and axis (0 = batch)");
  g->add_option("--slices-per-volume", slicegan.slices_per_volume,
                "random slices of each volume per axis the critics see (0 = all)");
  g->add_option("--critic-steps", slicegan.critic_steps, "critic updates per generator update");
  g->add_option("--latent-channels", slicegan.latent_channels, "channels of the latent field z");
  g->add_option("--latent-size", slicegan.latent_size, "training latent side (4 -> 64^3 volumes)");
  g->add_option("--gp-lambda", slicegan.gp_lambda, "WGAN-GP weight");
  g->add_option("--channels", slicegan.channels, "phases (softmax channels)");
  g->add_option("--upsample", slicegan.upsample, "last generator layer: transposed | resize");
  g->add_option("--step", slicegan.step, "time the training iteration (true|false)");
  g->add_option("--volume-size", slicegan.volume_size, "side of the generated volume, voxels (0 = none)");
  g->add_option("--volume-widths", slicegan.volume_widths, "width multipliers of the generation")->delimiter(',');
  g->callback([&] { run_slicegan(common, slicegan); });
#else
  app.add_subcommand("slicegan", "(not built: configure with the generate workflow in EMGAN_WORKFLOWS)")
      ->callback([] { throw emgan::ConfigError("slicegan: emgan_bench was built without the generate workflow"); });
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "emgan_bench: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
