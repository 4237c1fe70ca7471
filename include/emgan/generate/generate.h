#pragma once
/// \file generate.h
/// `emgan generate train|sample`: generative models of microstructures.
///
/// Models (see docs/GENERATE.md):
/// - "slicegan" (Kench and Cooper 2021): a 3D generator trained from 2D images by
///   WGAN-GP critics that see slices of the generated volume along x, y and z;
///   isotropic (one image, one critic for all axes) or anisotropic (three images, one
///   per axis, or a volume's slices: three critics).
/// - "dcgan", "vae", "vaegan": 2D generators of `image_size` px images.
///
/// A run directory RUN holds config.json (the effective settings), metrics.csv,
/// checkpoint.pt (atomic; `resume` continues from it), model.pt (the generator and
/// what is needed to decode its output), curves.png, samples/ and index.html.
#include <torch/types.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"

namespace emgan::generate {

/// Adam settings of one model.
struct OptimizerSettings {
  double lr = 1e-4;     ///< learning rate
  double beta1 = 0.9;   ///< first-moment decay
  double beta2 = 0.99;  ///< second-moment decay
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OptimizerSettings, lr, beta1, beta2)

/// Adam settings per model, each defaulting to its paper's values; only the entry of
/// the trained model is used, and all are saved in config.json. The CLI's `--lr`,
/// `--beta1`, `--beta2` set the entry of the chosen `--model`.
struct ModelOptimizers {
  OptimizerSettings slicegan{1e-4, 0.9, 0.99};  ///< Kench and Cooper 2021
  OptimizerSettings dcgan{2e-4, 0.5, 0.999};    ///< Radford et al. 2016
  OptimizerSettings vae{1e-3, 0.9, 0.999};      ///< the usual Adam defaults for a VAE
  OptimizerSettings vaegan{2e-4, 0.5, 0.999};   ///< DCGAN settings (its decoder and discriminator are DCGAN's)
  /// The entry of `model` (slicegan | dcgan | vae | vaegan); ConfigError otherwise.
  const OptimizerSettings& of(const std::string& model) const;
  /// Mutable entry of `model`.
  OptimizerSettings& of(const std::string& model);
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ModelOptimizers, slicegan, dcgan, vae, vaegan)

/// Keys `generate train` adds to a run's config.json beside the settings: derived ones
/// (encoding, effective_optimizer) and the run's histories (critic_resets, lr_changes).
/// They are dropped when that file is loaded back as settings.
inline const std::vector<std::string> kRunInfoKeys = {"encoding", "effective_optimizer",
                                                      "critic_resets", "lr_changes"};

/// Settings of `emgan generate train`. Fields marked (slicegan) or (2d) are used by
/// those models only.
struct GenerateTrainSettings {
  std::string model = "slicegan";      ///< slicegan | dcgan | vae | vaegan
  /// Training sources: one 2D image (isotropic), three 2D images for the x, y and z
  /// slicing directions (anisotropic, slicegan), a 3D volume (slices of it), or any
  /// number of 2D images (2d models).
  std::vector<std::string> data;
  std::string out = "runs/generate";   ///< run directory
  int64_t phases = 0;                  ///< > 0: number of phases (Otsu thresholds for a grey image); 0 = detect
  bool grey = false;                   ///< model grey intensities instead of phases
  bool resume = false;                 ///< continue from RUN/checkpoint.pt
  int64_t iterations = 2000;           ///< generator steps
  int64_t batch_size = 8;              ///< volumes (slicegan) or images (2d) per generator step
  ModelOptimizers optim;               ///< Adam settings per model (only `model`'s entry is used)
  double width = 1.0;                  ///< multiplier of every inner layer width (small for CPU and tests)
  /// Random symmetries of the real training crops: none | flips | dihedral (flips and
  /// 90-degree rotations: only for materials isotropic in the image plane). See
  /// augment_crops and docs/GENERATE.md for what it does to DCGAN collapse.
  std::string augment = "none";
  // ---- slicegan
  int64_t latent_channels = 32;        ///< (slicegan) channels of the latent field z
  int64_t latent_size = 4;             ///< (slicegan) training latent side; 4 -> 64^3 volumes, 64 px critic input
  int64_t critic_steps =
      5;  ///< (slicegan; dcgan with gan_loss wgan) critic steps per generator step
  int64_t real_batch = 0;              ///< (slicegan) real crops per critic step and axis; 0 = batch_size
  /// (slicegan) slices of each generated volume the critics see per axis, drawn at
  /// random at every step; 0 = all of them (SliceGAN's). A subset cuts the critics'
  /// work in proportion (the CPU recipe; docs/GENERATE.md).
  int64_t slices_per_volume = 0;
  double gp_lambda = 10.0;             ///< (slicegan; 2d with gan_loss wgan) WGAN-GP weight
  /// Target fraction per phase (property control; empty = none). Either one value
  /// per phase summing to 1 or one value for phase 0..k-1 each.
  std::vector<double> target_fractions = {};
  double fraction_weight = 10.0;       ///< weight of the fraction loss sum_p (f_p - t_p)^2
  /// (slicegan) weight of the mode-seeking term mode_seeking_loss in the generator loss
  /// (against a generator that ignores its latent field); 0 = off (SliceGAN's).
  double mode_seeking = 0.0;
  /// (slicegan, dcgan, vaegan) the generator's last layer: transposed (the papers') |
  /// resize (2x upsampling, trilinear in 3D and bilinear in 2D, then a 3x3(x3) convolution;
  /// SliceGAN's code default; no checkerboard).
  std::string g_upsample = "transposed";
  /// (slicegan, dcgan, vaegan; n-phase) what the critics see of a generated volume or
  /// image: soft (its softmax probabilities, SliceGAN's) | hard (its one-hot argmax
  /// phases, the phases a sample file holds, with straight-through gradients,
  /// straight_through_one_hot). Soft outputs let the generator hedge a voxel between two
  /// phases; argmax then decides it (docs/GENERATE.md).
  std::string critic_input = "soft";
  /// (slicegan, on --resume) critics to start afresh, by slicing axis: any of z, y, x
  /// (the volume dims D, H, W, as micro stats names them). Each named critic gets new
  /// random weights and a new Adam state; the others and the generator continue. For a
  /// critic that lets the generator through along its axis (its Wasserstein estimate,
  /// metrics.csv wasserstein_z/_y/_x, the lowest). A one-off action: the run's
  /// config.json records it under critic_resets (iteration and axes) and keeps this
  /// list empty, so resuming again with that config does not reset again. A single
  /// shared critic (one isotropic image) serves all three axes: name all three.
  std::vector<std::string> reset_critics;
  // ---- 2d models
  int64_t image_size = 64;             ///< (2d) 64, 128 or 256
  int64_t latent = 0;                  ///< (2d) latent size; 0 = image_size / 2 (dcgan), 64 (vae, vaegan)
  std::string g_norm = "batch";        ///< (dcgan) generator norm: batch | instance
  bool spectral_norm = true;           ///< (dcgan, vaegan) spectral normalisation on the discriminator
  /// (dcgan, vaegan) adversarial loss: vanilla (binary cross-entropy, the papers') |
  /// lsgan | hinge | wgan (WGAN-GP with gp_lambda; dcgan then takes critic_steps
  /// discriminator steps per generator step).
  std::string gan_loss = "vanilla";
  /// (dcgan, vaegan) instance noise: standard deviation of Gaussian noise added to every
  /// discriminator input (real and fake), decreasing linearly to 0 at the last
  /// iteration; 0 = none. Real n-phase crops are exactly one-hot and fakes are softmax
  /// values: without noise the discriminator can tell them apart by that alone.
  double instance_noise = 0.0;
  bool minibatch_std = false;  ///< (dcgan, vaegan) minibatch standard deviation channel in the
                               ///< discriminator (against collapse)
  double kl_weight = 1.0;              ///< (vae, vaegan) weight of the KL term
  double gamma = 1.0;                  ///< (vaegan) weight of the feature reconstruction (squared error of D features, summed per image) in the decoder loss, beside the adversarial term
  double pixel_weight = 1.0;           ///< (vaegan) weight of the pixel reconstruction loss (as the vae's) added to the encoder and decoder losses; 0 = Larsen et al.'s feature-only reconstruction, which collapsed on the real electrode (docs/GENERATE.md)
  /// Iterations between mode-collapse checks (2D: diversity of 64 samples against 64
  /// real crops; slicegan: of the central slices of 16 volumes against 16 real crops per
  /// axis, volume_diversity; RUN/diversity.csv, a warning below 0.5); 0 = none. The check
  /// draws its random numbers aside, so the training itself is the same with or without it.
  int64_t diversity_every = 250;
  // ---- bookkeeping
  int64_t log_every = 10;              ///< iterations between metrics rows
  int64_t checkpoint_every = 100;      ///< iterations between checkpoints
  /// Iterations between model snapshots RUN/snapshots/model_<iteration>.pt (the
  /// inference weights, as model.pt: `generate sample --model` takes them), to sample
  /// and compare any point of a run afterwards; 0 = none.
  int64_t snapshot_every = 0;
  int64_t sample_size = 0;             ///< (slicegan) side of the volume sampled into the report; 0 = training size
  /// The end-of-training comparison with a real training volume/image includes the
  /// tortuosity solves (for a 256^3 volume nine solves on the reference, minutes on a CPU).
  bool report_tortuosity = true;
  RuntimeSettings runtime;
  /// The Adam settings of the trained model.
  const OptimizerSettings& optimizer() const { return optim.of(model); }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    GenerateTrainSettings, model, data, out, phases, grey, resume, iterations, batch_size, optim,
    width, augment, latent_channels, latent_size, critic_steps, real_batch, slices_per_volume,
    gp_lambda, target_fractions, fraction_weight, mode_seeking, g_upsample, critic_input,
    reset_critics, image_size, latent, g_norm, spectral_norm, minibatch_std, gan_loss,
    instance_noise, kl_weight, gamma, pixel_weight, diversity_every, log_every, checkpoint_every,
    snapshot_every, sample_size, report_tortuosity, runtime)

/// Checks choices and ranges; throws ConfigError naming the setting and value.
void validate(const GenerateTrainSettings& settings);

/// The result of a training run.
struct TrainSummary {
  int64_t iterations = 0;                    ///< generator steps done in total
  std::map<std::string, double> last;        ///< last logged metrics
  std::vector<double> requested_fractions;   ///< per phase (empty when none requested)
  std::vector<double> achieved_fractions;    ///< per phase, of the report sample (n-phase data)
  fs::path model;                            ///< RUN/model.pt
  /// "iterations=<n> loss_g=<x> loss_d=<y>" (+ achieved fractions)
  std::string last_line() const;
};

/// `emgan generate train`: trains, writes the run directory, returns the summary.
TrainSummary run_train(const GenerateTrainSettings& settings);

/// Settings of `emgan generate sample`.
struct GenerateSampleSettings {
  std::string model;              ///< run directory or its model.pt
  std::string out = "samples";    ///< output folder
  int64_t count = 1;              ///< volumes (slicegan) or images (2d) to generate
  int64_t size = 0;               ///< slicegan: volume side in voxels (0 = the training size); 2d: ignored
  bool periodic = false;          ///< slicegan: periodic volumes (side rounded up to a multiple of 32)
  std::string compare = "";       ///< real image/volume: micro statistics of every sample against it
  bool tortuosity = true;         ///< with compare: include the tortuosity solves (the slow part)
  std::vector<std::string> reconstruct = {};  ///< vae/vaegan: images to reconstruct (and interpolate between the first two)
  /// Batch norm statistics of the generator when sampling: "batch" (those of the
  /// generated batch, as in training) or "running" (the running averages, eval mode).
  /// See docs/GENERATE.md for the measured difference.
  std::string norm_stats = "batch";
  /// n-phase models: phase fractions every sample is calibrated to (calibrate_fractions:
  /// a per-phase shift of the log-probabilities; k < phases values leave phases k.. free).
  /// Empty = no calibration.
  std::vector<double> fractions = {};
  /// n-phase models: calibrate every sample to the model's requested (training target)
  /// fractions; ConfigError when the model has none or with `fractions`.
  bool match_fractions = false;
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GenerateSampleSettings, model, out, count, size,
                                                periodic, compare, tortuosity, reconstruct,
                                                norm_stats, fractions, match_fractions, runtime)

/// The result of sampling.
struct SampleSummary {
  std::vector<fs::path> files;                  ///< main file of every sample (.tif)
  std::vector<std::vector<double>> fractions;   ///< per sample, per phase: argmax fractions (n-phase models)
  std::vector<std::vector<double>> soft_fractions;  ///< per sample, per phase: mean softmax probability
  std::vector<double>
      uncertain;  ///< per sample (n-phase models): uncertain_share, pixels argmax decides
  std::vector<double> requested_fractions;      ///< from the model (empty when none)
  /// With fractions or match_fractions: the targets (NaN = free phase) and, per sample,
  /// the argmax fractions before calibration and the share of voxels that changed phase.
  std::vector<double> calibration_targets;
  std::vector<std::vector<double>> fractions_before;
  std::vector<double> changed_share;
  Json comparison;                              ///< per sample stats comparison (when compare was given)
  /// 2D models with compare and count >= 2: mean_pairwise_distance of the samples
  /// (argmax phases one-hot) and of `count` random real crops (NaN otherwise).
  double diversity = std::nan("");
  double real_diversity = std::nan("");  ///< see diversity
  /// With compare and count >= 2 (RUN/stats_pooled.json; null otherwise). 2D n-phase
  /// models: the statistics of all samples together against `count` real crops, and a
  /// second real set against the first. slicegan: the compared volumes (up to 4)
  /// together against the real volume, and the standard deviation between volumes of
  /// each tortuosity difference (tau_rel_diff_sd, per phase and axis).
  Json pooled;
  /// "samples=<n> fractions=<f0>,<f1>,... soft=<s0>,... uncertain=<u>" of the first sample
  std::string last_line() const;
};

/// `emgan generate sample`: writes samples + index.html into `settings.out`.
SampleSummary run_sample(const GenerateSampleSettings& settings);

}  // namespace emgan::generate
