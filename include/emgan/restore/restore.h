#pragma once
/// \file restore.h
/// The partial-scan restoration workflow: `emgan scanpath`, `emgan restore data|train|
/// predict|eval`. Settings structs (JSON round-trip, strict keys) + run_* functions.
///
/// Intensity convention: the restorer works on scans normalised per image from the
/// sampled pixels only: lo/hi = 0.5 / 99.5 percentiles of the sampled values, scan'
/// = (scan - lo) / (hi - lo) at sampled pixels, 0 elsewhere; its output is mapped
/// back with the same lo/hi, so predictions are in the scan's own units. Training
/// does the same on every crop (the target with the crop's lo/hi).
///
/// Evaluation metrics (per image, then the mean): RMS error in percent of the true
/// image's range (100 RMSE / (max - min of the truth), Ede's figure for images
/// scaled to [0, 1]), MSE (truth units^2), SSIM and PSNR with data range = the
/// truth's range, and the fractional RMSE (100 RMSE / std of the truth).
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/runtime.h"
#include "emgan/losses/alrc.h"
#include "emgan/models/restorer.h"
#include "emgan/restore/ops.h"
#include "emgan/restore/scan_path.h"
#include "emgan/restore/synthetic.h"

namespace emgan::restore {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BaselineOptions, sigma, max_iterations, tolerance)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SyntheticMicrographOptions, size, noise_probability, min_dose, max_dose)

// --- scanpath ---------------------------------------------------------------------------

/// Settings of `emgan scanpath spiral|grid|lines|random`.
struct ScanPathSettings {
  std::string kind = "spiral";  ///< spiral | grid | lines | random
  int64_t height = 512;         ///< frame rows, px
  int64_t width = 512;          ///< frame columns, px
  ScanPathOptions path;         ///< coverage, step, jitter ... (see scan_path.h)
  double blur = 0.0;            ///< Gaussian sigma of the beam spread written as mask_blurred.tif, px (0 = none)
  std::string out = "scanpath"; ///< output folder: positions.csv, mask.tif, mask.png (+ mask_blurred.tif)
};

/// What a scan path run produced.
struct ScanPathResult {
  int64_t probes = 0;
  double nominal_coverage = 0.0;
  double achieved_coverage = 0.0;
  /// "kind=spiral probes=N nominal_coverage=0.05 achieved_coverage=0.0498 (1/20.1)"
  std::string last_line() const;
};

/// Writes the path's positions.csv, mask.tif (float32 0/1), mask.png and, with blur > 0,
/// mask_blurred.tif/.png into `settings.out`.
ScanPathResult run_scanpath(const ScanPathSettings& settings);

/// Settings of `emgan scanpath rasterise`.
struct RasteriseSettings {
  std::string csv;              ///< probe positions and intensities (columns x, y, intensity)
  int64_t height = 0;           ///< frame rows, px (> 0)
  int64_t width = 0;            ///< frame columns, px (> 0)
  std::string out = "rasterised";  ///< folder: partial_scan.tif, mask.tif (+ PNGs)
};

/// Rasterises the CSV; returns the achieved coverage.
double run_rasterise(const RasteriseSettings& settings);

// --- data ---------------------------------------------------------------------------------

/// Settings of `emgan restore data` (synthetic training micrographs).
struct RestoreDataSettings {
  std::string out = "data/restore-synthetic";
  int64_t count = 200;
  uint64_t seed = 0;
  SyntheticMicrographOptions synthetic;
};

/// Writes the micrographs; returns their number.
int64_t run_restore_data(const RestoreDataSettings& settings);

// --- train --------------------------------------------------------------------------------

/// Settings of `emgan restore train`.
struct RestoreTrainSettings {
  std::string data;                  ///< folder of micrographs (any readable format, searched recursively)
  std::string out = "runs/restore";  ///< run directory
  /// Generator; the default is a reduced-width Ede network trainable on a CPU
  /// (Ede's: inner_widths {64, 128, 256, 512, 768}, outer_width 64).
  models::RestorerOptions generator = [] {
    models::RestorerOptions o;
    o.inner_widths = {24, 48, 96, 128};
    o.inner_res_blocks = 2;
    o.outer_width = 16;
    o.outer_res_blocks = 1;
    return o;
  }();
  /// Classical base: none | nearest | linear | harmonic | biharmonic. Not none: the
  /// network also receives this interpolation of the normalised scan as a third input
  /// channel and predicts a residual added to it (generator.in_channels and
  /// generator.residual are set from it), its output layers starting at zero, so the
  /// untrained restorer reproduces the baseline exactly. Recorded in the model.
  std::string base = "harmonic";
  /// Settings of the base interpolation (recorded in the model, reused by predict/eval).
  BaselineOptions baseline;
  models::CropDiscriminatorOptions discriminator;
  double lambda_adv = 0.0;        ///< weight of the adversarial (LSGAN) term; 0 = non-adversarial restorer
  double lambda_aux = 1.0;        ///< weight of the ancillary (half-size) MSE
  double target_blur = 0.0;       ///< Gaussian sigma applied to the target of the MSE, px (0 = none)
  /// ALRC of each MSE (moments in units of MSE of [0, 1]-scaled crops).
  losses::AlrcOptions alrc = [] {
    losses::AlrcOptions a;
    a.mu1_init = 0.05;
    a.mu2_init = 0.005;
    return a;
  }();
  int64_t crop = 128;             ///< training crop side, px (divisible by the generator's stride)
  int64_t batch_size = 8;
  int64_t steps = 2000;           ///< optimisation steps
  double lr = 5e-4;               ///< Adam learning rate of G (D uses the same)
  double beta1 = 0.9;             ///< Adam beta1
  std::string schedule = "cosine";  ///< constant | cosine (to lr / 20 at the last step)
  std::string path = "spiral";    ///< spiral | grid | lines | random | mixed (per sample)
  double min_coverage = 0.05;     ///< coverage of each sample drawn log-uniformly in [min, max]
  double max_coverage = 0.05;
  int64_t path_frame = 512;       ///< paths are drawn on a frame of this side and a crop window taken, px
  double dose = 0.0;              ///< > 0: Poisson noise at this many counts per pixel at full scale
  bool augment = true;            ///< random flips / 90-degree rotations of the crops
  int64_t log_every = 20;         ///< metrics log row every N steps
  int64_t checkpoint_every = 200; ///< checkpoint every N steps
  bool resume = false;            ///< continue from RUN/checkpoint.pt
  RuntimeSettings runtime;
};

/// Checks ranges and choices; ConfigError naming the setting and value.
void validate(const RestoreTrainSettings& settings);

/// `emgan restore train`; writes RUN/config.json, metrics.csv, checkpoint.pt,
/// model/ (restorer.json + restorer.pt), curves.png, index.html. A non-finite loss
/// throws TrainingError (the last checkpoint is kept). Returns the final mean MSE.
double run_restore_train(const RestoreTrainSettings& settings);

// --- predict ------------------------------------------------------------------------------

/// Restores `scan` `[H, W]` sampled where `mask` `[H, W]` > 0.5 with `model` (any size:
/// padded to the model's stride: scan and mask with 0, the base by edge replication);
/// returns `[H, W]` in the scan's units, with the sampled pixels kept exactly. `base`
/// (none | a baseline name) must match how the model was trained: a residual model
/// needs a base, a plain one none (ConfigError otherwise). Runs on the model's device.
torch::Tensor restore_with_model(models::Restorer& model, const torch::Tensor& scan, const torch::Tensor& mask,
                                 const std::string& base = "none", const BaselineOptions& baseline = {});

/// The same with the base and baseline settings recorded in the loaded model's metadata
/// (`base`, `baseline`; models without them: none).
torch::Tensor restore_with_model(models::LoadedRestorer& loaded, const torch::Tensor& scan, const torch::Tensor& mask);

/// Settings of `emgan restore predict`.
struct RestorePredictSettings {
  std::string model;                 ///< RUN/model folder
  std::string scan;                  ///< partial scan image
  std::string mask;                  ///< its sampling mask (0/1, or weights: binarised by binarize_mask)
  std::string out = "restored";      ///< folder: <scan stem>_restored.tif (float32) + .png
  int64_t repeat = 3;                ///< timed repetitions after one warm-up run
  RuntimeSettings runtime;
};

/// `emgan restore predict`; returns the median seconds per restoration.
double run_restore_predict(const RestorePredictSettings& settings);

// --- eval ---------------------------------------------------------------------------------

/// Settings of `emgan restore eval`.
struct RestoreEvalSettings {
  /// Folder of truth<ID>.<ext> files, with mask<ID> and partial_scan<ID> beside them
  /// when acquired masks are to be evaluated (e.g. truth-1.tif, mask-1.tif, partial_scan-1.tif).
  std::string data;
  std::string model = "";            ///< restorer folder (RUN/model); "" = baselines only
  std::vector<std::string> methods = {"nearest", "linear", "harmonic", "biharmonic"};  ///< baselines
  /// Coverage sweep: for each, a `path` mask made for the truths and partial = truth * mask.
  std::vector<double> coverages = {};
  std::string path = "spiral";       ///< path kind of the sweep
  bool given = true;                 ///< evaluate the given masks/partial scans when present
  /// Where the sampled intensities of the given set come from: "truth" (the truth at
  /// the sampled pixels, as a detector would read them) or "file" (partial_scan<ID>
  /// as it is). The provided real examples store a rescaled, mask-weighted network
  /// input (see docs/RESTORE.md), so "truth" is the default.
  std::string given_scan = "truth";
  std::string out = "runs/restore-eval";
  int64_t max_images = 0;            ///< evaluate only the first N truths in ID order (0 = all)
  int64_t max_distance = 30;         ///< error-vs-distance curve up to this many px
  int64_t panels = 5;                ///< images shown per set in the report
  BaselineOptions baseline;
  RuntimeSettings runtime;
};

/// One image, one method, one set.
struct EvalRow {
  std::string set;      ///< "given" or "spiral-1/20" ...
  std::string image;    ///< ID
  std::string method;   ///< baseline name or "restorer"
  double coverage = 0;  ///< achieved, fraction
  double rms_range = 0; ///< % of the truth's range
  double frac_rmse = 0; ///< % of the truth's std
  double mse = 0;
  double ssim = 0;
  double psnr = 0;      ///< dB
  double seconds = 0;   ///< restoration time
  /// RMS % of range that a perfect, noise-free restoration would still score against
  /// this truth: the truth's own noise (metrics::noise_sigma, % of range) x
  /// sqrt(1 - coverage) (sampled pixels score 0). Same for every method of an image.
  double noise_floor = 0;
  /// Estimated RMS % of range against the noise-free truth: sqrt(rms_range^2 -
  /// noise_floor^2) (the truth's noise is independent of any restoration at the
  /// unsampled pixels, so the squared errors add; 0 when the difference is negative).
  double clean_rms = 0;
};

/// Means per (set, method).
struct EvalSummary {
  std::vector<EvalRow> rows;
  std::map<std::string, std::map<std::string, EvalRow>> mean;  ///< mean[set][method]
  /// "given: best_baseline=<m> rms=<x>% restorer rms=<y>% (<z>% lower) noise_floor=<f>%
  /// clean: best=<x'>% restorer=<y'>%" for the first set (clean = EvalRow::clean_rms).
  std::string last_line() const;
};

/// `emgan restore eval`: writes RUN/eval.csv, summary.csv, error_vs_distance.png,
/// spectrum.png, coverage_sweep.png, panels and index.html.
EvalSummary run_restore_eval(const RestoreEvalSettings& settings);

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ScanPathOptions, coverage, step, center_dx, center_dy, rotation,
                                                refine_tolerance, momentum, jitter, every, seed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ScanPathSettings, kind, height, width, path, blur, out)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RasteriseSettings, csv, height, width, out)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RestoreDataSettings, out, count, seed, synthetic)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RestoreTrainSettings, data, out, generator, base, baseline, discriminator,
                                                lambda_adv,
                                                lambda_aux, target_blur, alrc, crop, batch_size, steps, lr, beta1,
                                                schedule, path, min_coverage, max_coverage, path_frame, dose, augment,
                                                log_every, checkpoint_every, resume, runtime)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RestorePredictSettings, model, scan, mask, out, repeat, runtime)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RestoreEvalSettings, data, model, methods, coverages, path, given,
                                                given_scan, out,
                                                max_images, max_distance, panels, baseline, runtime)

}  // namespace emgan::restore
