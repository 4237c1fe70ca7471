#pragma once
/// \file translate.h
/// Conv-to-multislice translation: a model maps a fast, inaccurate convolution
/// STEM image to the accurate multislice image, in the multislice image's physical
/// units (fraction of the incident beam).
///
/// Models: "pix2pix" (a generator + PatchGAN trained with the pix2pix recipe; the
/// "lawrence2020" preset is the network of Lawrence et al. 2020) and "poly" (the
/// polynomial regression of Combs et al. 2019).
///
/// Protocol of `translate cv` (written into every report):
/// - k-fold cross-validation by whole image, seeded, stratified by material
///   (the first-level sub-folder of the data tree);
/// - "strict" (default): a test image is predicted from its convolution image and
///   what was fitted on the training folds only; inputs are normalised per image
///   from the input itself, targets by a dataset-level scale fitted on the training
///   targets; predictions are compared in physical units;
/// - "paper": as the published loader did, each image (input and target) is
///   divided by its own maximum and the error is computed in those units; the test
///   target's maximum is then known to the evaluation (not to the model); reported
///   beside the strict figure for comparison only;
/// - per image: fractional RMSE (RMSE / population std of the true image, %), SSIM
///   (data range = the true image's max - min), PSNR (same range); per fold and
///   overall mean and standard deviation; beside them the paper-comparable figures
///   of the same predictions, prediction and truth each divided by its own maximum.
#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"

namespace emgan::workflows {

/// Settings of the pix2pix translator.
struct Pix2PixTranslateSettings {
  /// "lawrence2020" (the network of Lawrence et al. 2020) or "" (use generator and
  /// discriminator below).
  std::string preset = "";
  std::string generator = "unet";       ///< generator registry name (when preset is "")
  /// Options of the generator (merged over the preset's). The default is a U-Net of
  /// depth 5, width 32, instance norm, linear output: trainable on a CPU.
  Json generator_options = Json{{"depth", 5}, {"ngf", 32}, {"norm", "instance"}, {"dropout", 0.0},
                                {"output_activation", "none"}};
  std::string discriminator = "patchgan";       ///< discriminator registry name (when preset is "")
  Json discriminator_options = Json{{"ndf", 32}, {"n_layers", 3}, {"norm", "instance"}};  ///< options of the discriminator
  std::string gan_loss = "lsgan";       ///< vanilla | lsgan | hinge | wgan
  std::string rec_loss = "l1";          ///< l1 | mse | l1+mse | ssim
  /// Weight of the adversarial loss. 0 (the default) trains the generator on the
  /// reconstruction loss alone and builds no discriminator: on the real conv ->
  /// multislice pairs it matched the GAN's test error at 80 epochs (12.64 vs 12.68 %,
  /// fold 1) at 2.3x less time per step, and that time buys more epochs
  /// (BENCHMARKS.md). 1 = the pix2pix recipe; lawrence2020: 50.
  double lambda_gan = 0.0;
  double lambda_rec = 100.0;            ///< weight of the reconstruction loss (lawrence2020: 50)
  std::string optimizer = "adam";       ///< adam | adamw | sgd | rmsprop
  /// Learning rate of G and D; -1 = automatic (resolve_automatic): 5e-4 for plain
  /// regression (lambda_gan = 0), 2e-4 (the pix2pix recipe's) with the adversarial term.
  double lr = -1.0;
  /// Adam beta1 (SGD momentum when optimizer is sgd); -1 = automatic: 0.9 for plain
  /// regression, 0.5 (pix2pix's) with the adversarial term. On the real pairs, fold 1 at
  /// 240 epochs: 2e-4/0.5 10.49 %, 5e-4/0.5 10.27 %, 5e-4/0.9 10.02 %; 5-fold at 480
  /// epochs: 10.06 -> 9.83 % (BENCHMARKS.md).
  double beta1 = -1.0;
  int64_t batch_size = 4;               ///< crops per step
  int64_t epochs = 480;                 ///< passes over the training images (half constant rate, half linear decay); 480: best measured (BENCHMARKS.md), 240 halves the time for +0.6 points
  int64_t steps_per_epoch = 0;          ///< 0 = ceil(training images / batch size) * crops_per_image
  int64_t crops_per_image = 4;          ///< random crops taken from each image per epoch
  int64_t crop = 96;                    ///< side of the training crops, px
  bool augment = true;                  ///< random flips and 90-degree rotations (same for input and target)
  std::string input_norm = "meanstd";   ///< per-image normalisation of the convolution image
  /// Strict protocol: targets are divided by the largest training-target value of
  /// their material ("material"; a material unseen in training uses all training
  /// targets) or of all training targets ("dataset"); predictions are multiplied back.
  std::string target_scale = "material";
  /// "poly": the network refines the polynomial model's prediction (it sees the
  /// convolution image and that prediction, and predicts the residual); "none": it
  /// maps the convolution image alone.
  std::string base = "poly";
  std::string schedule = "linear";      ///< learning-rate schedule: constant | linear | step | cosine
  int64_t eval_every = 1;               ///< test-fold error every N epochs (cv only; 0 = never)
  /// Exponential moving average of the generator's weights (decay per step; 0 = off).
  /// When on, predictions and the saved model use the averaged weights, and the
  /// per-epoch evaluation also logs the raw weights' error (`test_frac_rmse_raw`).
  double ema = 0.0;
  /// Test-time augmentation: average the network's output over the 8 flips/rotations
  /// of the input (the conv -> multislice map commutes with them). The per-epoch
  /// evaluation also logs the single-pass error (`test_frac_rmse_single`).
  bool tta = true;
  /// Batch-norm statistics at prediction: "running" (the averages collected in
  /// training) or "batch" (the image's own statistics, as the pix2pix paper's test
  /// protocol). No effect on networks without batch norm.
  std::string norm_stats = "running";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Pix2PixTranslateSettings, preset, generator,
                                                generator_options, discriminator,
                                                discriminator_options, gan_loss, rec_loss,
                                                lambda_gan, lambda_rec, optimizer, lr, beta1,
                                                batch_size, epochs, steps_per_epoch,
                                                crops_per_image, crop, augment, input_norm,
                                                target_scale, base, schedule, eval_every, ema,
                                                tta, norm_stats)

/// Settings of every `translate` verb.
struct TranslateSettings {
  std::string data;                 ///< data tree: <material>/<...convolution...>/ and <material>/<...multislice...>/
  std::string input_pattern = "";   ///< regex (one group = ID) of input names; "" = the default
  std::string target_pattern = "";  ///< regex of target names; "" = the default
  std::string model = "pix2pix";    ///< pix2pix | poly
  std::string out = "runs/translate";  ///< run directory
  int64_t folds = 5;                ///< k of the cross-validation
  bool stratified = true;           ///< stratify folds by material
  int64_t only_fold = -1;           ///< run one fold only (-1 = all)
  std::string protocol = "strict";  ///< strict | paper (see the file comment)
  bool resume = false;              ///< continue a stopped run from its checkpoints
  int64_t panels = 3;               ///< test images shown per fold in the report
  Pix2PixTranslateSettings pix2pix;
  Json poly = Json::object();       ///< options of the poly model (see models/poly.h)
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TranslateSettings, data, input_pattern,
                                                target_pattern, model, out, folds, stratified,
                                                only_fold, protocol, resume, panels, pix2pix,
                                                poly, runtime)

/// The settings with every automatic value (-1: pix2pix.lr, pix2pix.beta1) replaced by
/// the one it stands for; the verbs save and use these.
TranslateSettings resolve_automatic(TranslateSettings settings);

/// Checks choices and ranges; throws ConfigError naming the setting and value.
void validate(const TranslateSettings& settings);

/// One test image's figures.
struct CvRow {
  int64_t fold = 0;
  std::string material;
  std::string id;
  double frac_rmse = 0.0;  ///< %
  double ssim = 0.0;
  double psnr = 0.0;       ///< dB
  /// Paper-comparable figures: prediction and truth each divided by its own
  /// maximum before comparing (as the published loader scaled every image). This
  /// uses the true image's maximum at evaluation (never at prediction).
  double frac_rmse_max = 0.0;  ///< %
  double ssim_max = 0.0;
  double predict_s = 0.0;  ///< seconds to predict this image
};

/// The result of a cross-validation.
struct CvSummary {
  std::vector<CvRow> rows;
  double mean_frac_rmse = 0.0;
  double std_frac_rmse = 0.0;
  double mean_ssim = 0.0;
  double mean_psnr = 0.0;
  double worst_fold_frac_rmse = 0.0;
  double mean_frac_rmse_max = 0.0;  ///< paper-comparable (each image scaled by its own max), %
  double mean_ssim_max = 0.0;
  int64_t folds = 0;
  /// "mean_frac_rmse=<percent> mean_ssim=<x> folds=<k> images=<n>"
  std::string last_line() const;
};

/// A trained translation model: convolution image in, multislice image out.
class Translator {
 public:
  virtual ~Translator() = default;
  /// "pix2pix" or "poly".
  virtual std::string kind() const = 0;
  /// Predicts the multislice image `[1, H, W]` (physical units; with the "paper"
  /// protocol, units of the target divided by its own maximum) from a convolution
  /// image `[1, H, W]` or `[H, W]` of any size. Uses nothing but the input, its
  /// material name `group` ("" = unknown; only the poly model's per-material gain
  /// uses it) and what was fitted.
  virtual torch::Tensor predict(const torch::Tensor& convolution, const std::string& group = "") = 0;
  /// Writes the model into `dir` (model.json + weights), atomically per file.
  virtual void save(const fs::path& dir) const = 0;
  /// Turns the 8-fold flip/rotation averaging of predictions on or off; returns false
  /// (and changes nothing) for a model without it (poly).
  virtual bool set_tta(bool) { return false; }
  /// The materials the model fitted separately (a target scale or a polynomial gain
  /// per material), sorted; a prediction depends on which one is named when there are
  /// two or more. Empty when nothing was fitted per material.
  virtual std::vector<std::string> materials() const = 0;
  /// Units of the predictions: "strict" (physical units) or "paper" (the target divided
  /// by its own maximum).
  virtual std::string protocol() const = 0;
};

/// Epoch callback of training: (epoch, translator) -> metrics to log.
using TranslateEvalFn = std::function<std::map<std::string, double>(int64_t epoch, Translator&)>;

/// Trains a translator of `settings.model` on the pairs (inputs and targets in
/// file units, `[1, H, W]` each, any sizes; `groups` = material of each pair, or
/// empty) and writes its run files (metrics log, checkpoints) under `run_dir`.
std::unique_ptr<Translator> train_translator(const TranslateSettings& settings,
                                             const std::vector<torch::Tensor>& inputs,
                                             const std::vector<torch::Tensor>& targets,
                                             const std::vector<std::string>& groups,
                                             const fs::path& run_dir, torch::Device device,
                                             const TranslateEvalFn& eval = nullptr);

/// Loads a model written by Translator::save (a folder or its model.json); throws
/// ConfigError naming the file when it is not a translation model.
std::unique_ptr<Translator> load_translator(const fs::path& path, torch::Device device);

/// `emgan translate cv`: cross-validation; writes RUN/config.json, split.json,
/// cv.csv, per-fold folders and index.html; returns the summary.
CvSummary run_cv(const TranslateSettings& settings);

/// `emgan translate train`: trains on all pairs of `settings.data`, writes RUN/model.
void run_train(const TranslateSettings& settings);

/// Settings of `emgan translate predict`.
struct PredictSettings {
  /// Model folders (RUN/model) or their model.json files. With two or more, the
  /// prediction is the mean of the models' predictions (an ensemble; they must share
  /// the units, i.e. the protocol they were trained under).
  std::vector<std::string> model;
  std::string input;          ///< a convolution image file or a folder of them
  std::string output = "predictions";  ///< output folder: <name>.tif (float32, physical units) + <name>.png
  /// The material of the input images. Required for a model fitted on two or more
  /// materials (its target scale and polynomial gain are per material; without the
  /// right one the units are wrong): one of the model's materials, or "pooled" for a
  /// material it was not trained on (the scale and gain of all training images).
  /// Ignored by a model fitted on one material or none.
  std::string material = "";
  bool png = true;            ///< also write PNG previews
  /// Test-time flip/rotation averaging: "model" (as saved with the model), "on" or
  /// "off" (one pass: 8x faster).
  std::string tta = "model";
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PredictSettings, model, input, output, material, png, tta, runtime)

/// The group name to predict with, for `material` as given to `translate predict`
/// and a model fitted on `model_materials`: "" (the pooled fit) for "pooled" or a model
/// that does not depend on the material; else `material` itself. Throws ConfigError
/// naming `model_path`, the value and the model's materials when the model needs a
/// material and none, or one it does not know, is given.
std::string predict_group(const std::string& material, const std::vector<std::string>& model_materials,
                          const std::string& model_path);

/// `emgan translate predict`; returns the number of images written.
int64_t run_predict(const PredictSettings& settings);

/// Settings of `emgan translate ensemble`: the test predictions of several
/// cross-validation runs on the same data and folds, averaged image by image.
struct EnsembleSettings {
  /// `translate cv` run folders (config.json, cv.csv, fold_F/predictions/). Runs made
  /// with `--only-fold` count as one run each: every test image must be covered by the
  /// same number of runs (the members), and every run must share data, folds, seed,
  /// stratification and protocol.
  std::vector<std::string> runs;
  std::string out = "runs/translate-ensemble";  ///< run folder: cv.csv, summary.json, index.html, predictions
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EnsembleSettings, runs, out)

/// `emgan translate ensemble`: averages the members' predictions of every test image
/// (physical units; nothing of the target is used), scores the average as `translate
/// cv` does and writes the same figures and report. Throws ConfigError naming the run
/// and the value when the runs do not share data, folds or protocol, or cover the
/// images unevenly; IoError for a missing or unreadable file.
CvSummary run_ensemble(const EnsembleSettings& settings);

/// Settings of `emgan translate tune`: a grid searched inside the training folds.
struct TuneSettings {
  TranslateSettings base;                 ///< everything not in the grid
  std::vector<double> lr = {2e-3, 2e-4, 2e-5};
  std::vector<int64_t> batch_size = {1, 2, 3, 5, 8, 10, 12, 13, 15, 20};
  std::vector<std::string> optimizer = {"adam", "sgd"};
  std::vector<std::string> rec_loss = {"l1", "mse", "l1+mse"};
  int64_t inner_folds = 3;                ///< folds of the inner (tuning) split
  int64_t max_configs = 0;                ///< 0 = the whole grid; else the first N of a seeded shuffle
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TuneSettings, base, lr, batch_size, optimizer,
                                                rec_loss, inner_folds, max_configs)

/// `emgan translate tune`: nested cross-validation. For each outer fold, every
/// grid point is scored by an inner k-fold CV on the outer training images only;
/// the best is retrained on all of them and tested on the outer test fold.
/// Writes RUN/tune.csv (outer fold, grid point, inner score), RUN/cv.csv and the report.
CvSummary run_tune(const TuneSettings& settings);

}  // namespace emgan::workflows
