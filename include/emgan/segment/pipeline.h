#pragma once
/// \file pipeline.h
/// The steps of the label-free (tandem-GAN) pipeline as folder-to-folder functions,
/// one per CLI verb, and `run_pipeline` chaining them:
///   1. rough masks of a subset of the real images (run_rough),
///   2. mask statistics (run_stats) and random masks from them (run_random_masks),
///   3. morphology GAN: pix2pix (rough mask -> real image), applied to the random
///      masks = 1st generation of images with known masks (run_morphology_gan),
///   4. contrast GAN: CycleGAN between the 1st generation and real images
///      (cyclegan.h, run_contrast_gan; can be switched off in run_pipeline),
///   5. the segmenter trained on (generated image, random mask) pairs,
///   6. its probability threshold calibrated on the real images against their cleaned
///      rough masks (calibrate_threshold).
#include <torch/types.h>

#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"
#include "emgan/segment/cyclegan.h"
#include "emgan/segment/morphology.h"
#include "emgan/segment/particles.h"
#include "emgan/segment/segmenter.h"

namespace emgan::segment {

/// Settings of `emgan segment rough`.
struct RoughSettings {
  std::string images;          ///< image file or folder
  std::string out = "rough";   ///< folder of the masks (PNG 0/255, same stems)
  int64_t limit = 0;           ///< first N images only (0 = all)
  RoughMaskSettings rough;
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RoughSettings, images, out, limit, rough, runtime)

/// Writes a rough mask per image; returns how many.
int64_t run_rough(const RoughSettings& settings);

/// Fits the statistics of the masks of folder `masks` (fit_mask_statistics) and writes
/// them as JSON to `out` (when not empty).
MaskStatistics run_stats(const fs::path& masks, const fs::path& out, const WatershedSettings& split = {},
                         const MaskFitSettings& fit = {});

/// Writes the masks of folder `masks` into `out` (PNG 0/255, same stems) cleaned by
/// clean_mask(mask, min_area, fill); returns how many.
int64_t run_clean_masks(const fs::path& masks, const fs::path& out, double min_area, bool fill = true);

/// Settings of `emgan segment masks`.
struct RandomMasksSettings {
  std::string stats;           ///< statistics JSON of `segment stats` ("" = the settings below)
  std::string out = "random_masks";  ///< folder of the masks (PNG 0/255, mask_NNNN.png)
  int64_t count = 100;         ///< masks to draw
  RandomMaskSettings masks;    ///< size, shape and count laws (overridden by `stats` when given)
  uint64_t seed = 0;           ///< seed of the draws
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RandomMasksSettings, stats, out, count, masks, seed)

/// Draws settings.count masks into settings.out; returns the particles placed. The
/// placed ellipses are listed in settings.out/ellipses.json (mask file name -> list
/// of {cx, cy, a, b, angle in radians}), so the masks can be redrawn (run_redraw_masks).
int64_t run_random_masks(const RandomMasksSettings& settings);

/// Redraws the masks of a `run_random_masks` folder from its ellipses.json with every
/// semi-axis changed by `grow` px (negative shrinks; each semi-axis stays >= 0.5 px)
/// into `out` (PNG 0/255, same names); grow 0 reproduces the masks exactly. Returns
/// the masks written.
int64_t run_redraw_masks(const fs::path& masks, const fs::path& out, double grow);

/// How far the particles of generated images extend beyond (or fall short of) the
/// masks they were generated from, as the rough method sees them (label consistency).
struct LabelOffset {
  int64_t particles = 0;   ///< mask particles measured (those not cut by the image border)
  int64_t missed = 0;      ///< of them, particles with no rough pixel within 3 px
  /// Median over the found particles of d(rough) - d(mask), the equivalent diameters
  /// of the rough pixels attributed to a particle and of its mask, px.
  double median_diameter_difference_px = 0.0;
  double median_mask_diameter_px = 0.0;  ///< median d(mask) of the found particles, px
  /// Semi-axis change that makes the masks agree: half the median difference, limited
  /// to +-1/4 of the median mask diameter, px.
  double offset_px = 0.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LabelOffset, particles, missed, median_diameter_difference_px,
                                                median_mask_diameter_px, offset_px)

/// Measures the LabelOffset of generated `images` (folder, stems as in `masks`) and
/// their `masks` (folder of PNG masks): the rough method (`rough`) segments each
/// image; each rough pixel within 3 px of a mask particle is attributed to the
/// nearest one (ties to the larger label); particles cut by the border are left out.
LabelOffset measure_label_offset(const fs::path& images, const fs::path& masks, const RoughMaskSettings& rough);

/// A segmenter's probability threshold calibrated against reference masks.
struct ThresholdCalibration {
  double threshold = 0.5;   ///< the chosen threshold (0.5 when nothing could be measured)
  /// At it: the mean (10 % trimmed at each end) over the reference particles found of
  /// d(segmenter) - d(reference), px.
  double mean_diameter_difference_px = 0.0;
  int64_t particles = 0;    ///< reference particles measured (not cut by the border)
  /// Of them, not found at the chosen threshold: segmenter pixels within 3 px cover less
  /// than 1/4 of the reference particle's area (rough-mask specks the segmenter rejects).
  int64_t missed = 0;
  std::vector<double> thresholds;   ///< the candidates
  std::vector<double> differences;  ///< mean difference at each, px (null where rejected: flooded)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ThresholdCalibration, threshold, mean_diameter_difference_px,
                                                particles, missed, thresholds, differences)

/// Chooses the probability threshold (0.20, 0.25, ..., 0.80) at which the particles the
/// segmenter finds in `images` have the equivalent diameters of the same particles in
/// the `reference` masks (same stems): the threshold whose mean per-particle diameter
/// difference (pixels attributed as in measure_label_offset; particles found by the
/// segmenter only; 10 % trimmed at each end) is nearest 0: the mean diameter, which a
/// PSD reports, is what it calibrates. A threshold
/// that marks more than twice the reference's particle area is rejected (the
/// background floods). The label-free pipeline calibrates its segmenter on the real
/// images against their cleaned rough masks: the segmenter then finds the particles
/// the GANs taught it and draws their boundaries where the rough method draws them on
/// real images, whatever the GANs' blur taught it.
ThresholdCalibration calibrate_threshold(Segmenter& segmenter, const fs::path& images, const fs::path& reference);
/// The same on probability maps (float `[H, W]`) and their reference masks (bool).
ThresholdCalibration calibrate_threshold(const std::vector<torch::Tensor>& probabilities,
                                         const std::vector<torch::Tensor>& references);

/// calibrate_threshold, then stores the threshold in the model file's meta (atomically,
/// with the calibration under "threshold_calibration"); predict, analyze and watch use
/// it unless given a threshold.
ThresholdCalibration run_calibrate_threshold(const fs::path& model, const fs::path& images, const fs::path& reference,
                                             int64_t tta_views, const RuntimeSettings& runtime);

/// Settings of the morphology GAN (pix2pix mask -> image) and its application.
struct MorphologyGanSettings {
  std::string images;          ///< real images (subset 1)
  std::string masks;           ///< their rough masks (same stems)
  std::string apply_masks;     ///< masks to turn into images (the random masks); "" = none
  std::string out = "morphology_gan";  ///< run folder; generated images in out/generated
  int64_t epochs = 20;         ///< passes over the pairs
  int64_t crop = 128;          ///< training crop side, px
  int64_t crops_per_image = 4; ///< crops per image per epoch
  int64_t batch_size = 4;      ///< crops per step
  int64_t ngf = 32;            ///< generator width (U-Net)
  int64_t depth = 5;           ///< U-Net depth
  int64_t ndf = 32;            ///< PatchGAN width
  double lr = 2e-4;            ///< Adam learning rate (beta1 0.5)
  double lambda_rec = 100.0;   ///< L1 weight
  double noise_channel = 1.0;  ///< std of a noise channel given to G beside the mask (0 = none)
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MorphologyGanSettings, images, masks, apply_masks, out, epochs, crop,
                                                crops_per_image, batch_size, ngf, depth, ndf, lr, lambda_rec,
                                                noise_channel, runtime)

/// Trains the morphology GAN and writes out/generator.pt; with apply_masks, writes
/// out/generated/<stem>.tif (float32 in [0, 1]). Returns the images generated.
int64_t run_morphology_gan(const MorphologyGanSettings& settings);

/// Settings of `emgan segment pipeline`.
struct PipelineSettings {
  std::string images;            ///< folder of real, unlabelled images
  std::string out = "runs/tgan"; ///< run folder
  /// Real images used for the rough masks and the morphology GAN (subset 1; 0 = all).
  int64_t subset = 0;
  int64_t random_masks = 64;     ///< random masks (= generated training pairs)
  int64_t mask_size = 256;       ///< side of the random masks and generated images, px
  RoughMaskSettings rough;
  WatershedSettings split;
  MaskFitSettings fit;           ///< which rough particles the statistics trust (false-positive limits)
  /// Pair the morphology GAN's images with the rough masks cleaned of the components
  /// below the fitted minimum area (holes filled), written to rough_clean/; false =
  /// the rough masks as they are.
  bool clean_rough = true;
  MorphologyGanSettings morphology;   ///< images / masks / out are set by the pipeline
  bool contrast = true;               ///< run the contrast GAN (step 4); false = train on the 1st generation
  ContrastGanSettings contrast_gan;   ///< generated / real / out are set by the pipeline
  /// Label consistency (between steps 4 and 5): measure with the rough method how far
  /// the generated particles extend beyond their random masks (measure_label_offset,
  /// written to label_offset.json) and train the segmenter on the random masks redrawn
  /// with that offset (labels/), so that it learns the boundary the rough method finds
  /// on real images rather than the GANs' blur; false = the random masks as drawn.
  bool match_labels = false;
  /// Step 6: calibrate the segmenter's probability threshold on the real images against
  /// their cleaned rough masks (run_calibrate_threshold; threshold_calibration.json).
  bool calibrate = true;
  SegmentTrainSettings segmenter;     ///< images / masks / out are set by the pipeline
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PipelineSettings, images, out, subset, random_masks, mask_size,
                                                rough, split, fit, clean_rough, morphology, contrast, contrast_gan,
                                                match_labels, calibrate, segmenter, runtime)

/// Runs steps 1 to 6 into settings.out (rough/, stats.json, rough_clean/, random_masks/,
/// morphology_gan/, contrast_gan/, [label_offset.json, labels/,] segmenter/,
/// threshold_calibration.json, index.html) and returns the segmenter's model file.
fs::path run_pipeline(const PipelineSettings& settings);

}  // namespace emgan::segment
