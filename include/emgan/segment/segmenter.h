#pragma once
/// \file segmenter.h
/// The particle segmenter (step 5 of the tandem-GAN pipeline, and the "true labels"
/// upper bound): a UNet++ (models/unetpp.h) trained on (image, mask) pairs with focal
/// + Jaccard loss, AdamW and a step schedule; prediction of masks; segmentation
/// scores (pixel accuracy, per-class IoU, mean IoU, Dice).
///
/// Images of any size, channel count or bit depth are normalised per image
/// (normalize_image: 0.5 / 99.5 percentiles to [0, 1]); masks of any values are
/// binarised at half their maximum (a warning names a non-binary mask).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"
#include "emgan/models/model.h"

namespace emgan::segment {

// --- losses ------------------------------------------------------------------------

/// Binary focal loss (Lin et al. 2017) of logits against a 0/1 target of the same
/// shape: mean of -alpha_t (1 - p_t)^gamma log p_t, alpha_t = alpha for particle
/// pixels and 1 - alpha for background. 0-dim tensor.
torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& target, double alpha = 0.25,
                         double gamma = 2.0);

/// Soft Jaccard loss: 1 - (sum p t + eps) / (sum p + sum t - sum p t + eps) over the
/// whole batch, p = sigmoid(logits), eps = 1. 0-dim tensor.
torch::Tensor jaccard_loss(const torch::Tensor& logits, const torch::Tensor& target);

// --- data --------------------------------------------------------------------------

/// An image with its mask, read and normalised.
struct LabelledImage {
  std::string name;      ///< file stem
  torch::Tensor image;   ///< float `[H, W]` in [0, 1]
  torch::Tensor mask;    ///< bool `[H, W]`
};

/// Image files of a folder that io::read_image accepts (sorted), or the file itself.
std::vector<fs::path> list_images(const fs::path& path);

/// Reads the images of `images` and their masks from `masks` (matched by file stem,
/// any readable format). IoError naming the folder when an image has no mask (with
/// `skip_unmatched`, such images are left out); a mask of another size than its
/// image is ConfigError naming both.
std::vector<LabelledImage> read_pairs(const fs::path& images, const fs::path& masks, bool skip_unmatched = false);

// --- training ----------------------------------------------------------------------

/// Settings of `emgan segment train` (defaults: the recipe; use a smaller
/// network, crop and epochs on a CPU).
struct SegmentTrainSettings {
  std::string images;                       ///< folder of images
  std::string masks;                        ///< folder of masks (same stems)
  std::string out = "runs/segment";         ///< run directory (model.pt, report)
  /// Options of the UNet++ (models/unetpp.h); in_channels / classes are set to 1.
  Json model = Json{{"encoder", "resnet34"}, {"decoder", "nested"}, {"depth", 5}, {"width", 64},
                    {"deep_supervision", false}};
  int64_t epochs = 150;                     ///< passes over the training images
  int64_t batch_size = 4;                   ///< crops per step
  int64_t crop = 256;                       ///< side of the training crops, px (<= image side)
  int64_t crops_per_image = 1;              ///< crops taken from each image per epoch
  double lr = 3e-4;                         ///< AdamW learning rate
  double weight_decay = 5e-4;               ///< AdamW decoupled weight decay
  int64_t step_size = 5;                    ///< step schedule: epochs between lr decays
  double gamma = 0.9;                       ///< step schedule: decay factor
  double focal_alpha = 0.25;                ///< focal loss alpha (weight of particle pixels)
  double focal_gamma = 2.0;                 ///< focal loss focusing exponent
  double jaccard_weight = 1.0;              ///< weight of the Jaccard loss beside the focal loss
  double p_flip = 0.5;                      ///< probability of a random flip / 90-degree turn
  double p_shift_scale_rotate = 0.5;        ///< probability of a shift-scale-rotate
  double p_noise = 0.5;                     ///< probability of added Gaussian noise
  double noise_sigma = 0.05;                ///< its standard deviation (image range [0, 1])
  double val_fraction = 0.0;                ///< images held out for validation scores per epoch
  bool resume = false;                      ///< continue from RUN/checkpoints/last.pt
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SegmentTrainSettings, images, masks, out, model, epochs,
                                                batch_size, crop, crops_per_image, lr, weight_decay, step_size,
                                                gamma, focal_alpha, focal_gamma, jaccard_weight, p_flip,
                                                p_shift_scale_rotate, p_noise, noise_sigma, val_fraction, resume,
                                                runtime)

/// Throws ConfigError naming the setting and its value.
void validate(const SegmentTrainSettings& settings);

/// Trains on `pairs` (already read) into settings.out: model.pt (the UNet++ with
/// meta {"task": "segment"}), config.json, metrics.csv, eval.csv (validation scores
/// when val_fraction > 0), checkpoints/, index.html. Returns the model file.
fs::path train_segmenter(const SegmentTrainSettings& settings, const std::vector<LabelledImage>& pairs);

/// read_pairs(settings.images, settings.masks), then train_segmenter.
fs::path run_segment_train(const SegmentTrainSettings& settings);

// --- prediction --------------------------------------------------------------------

/// A trained segmenter loaded from its model file.
class Segmenter {
 public:
  /// Loads `model_file` (a UNet++ saved by train_segmenter) onto `device`, eval mode.
  Segmenter(const fs::path& model_file, const torch::Device& device);
  /// Particle probability `[H, W]` in [0, 1] of an image (`[H, W]` or `[C, H, W]`,
  /// any range; normalised here).
  torch::Tensor probability(const torch::Tensor& image);
  /// probability > threshold, bool `[H, W]`; threshold 0 = the model's own (threshold()).
  torch::Tensor predict(const torch::Tensor& image, double threshold = 0.0);
  /// The model's probability threshold: its meta "threshold" (0.5 as trained; the
  /// label-free pipeline calibrates it, see calibrate_threshold).
  double threshold() const { return threshold_; }
  /// The model file's description (architecture, options, meta).
  const models::ModelInfo& info() const { return info_; }
  /// Test-time averaging: the probability is the mean over `views` mirror images of
  /// the input (nn::average_mirror_views: 1 = none, 2, 4, or 8 = the symmetries of the
  /// square pixel grid). ConfigError for any other count.
  void set_views(int64_t views);
  int64_t views() const { return views_; }
  const models::GeneratorPtr& network() const { return net_; }

 private:
  models::GeneratorPtr net_;
  torch::Device device_;
  int64_t views_ = 1;
  double threshold_ = 0.5;
  models::ModelInfo info_;
};

/// Settings of `emgan segment predict`.
struct SegmentPredictSettings {
  std::string model;                  ///< model.pt of a segment run
  std::string input;                  ///< image file or folder
  std::string output = "masks";       ///< folder of the masks (PNG 0/255, same stems)
 double threshold = 0.0;             ///< probability threshold (0 = the model's own)
  int64_t tta_views = 8;              ///< test-time averaged views (Segmenter::set_views)
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SegmentPredictSettings, model, input, output, threshold, tta_views,
                                                runtime)

/// Writes a mask per input image; returns how many.
int64_t run_segment_predict(const SegmentPredictSettings& settings);

// --- scores ------------------------------------------------------------------------

/// Segmentation scores of predicted against true masks (pooled over all pixels).
struct SegmentationScores {
  int64_t images = 0;
  double pixel_accuracy = 0.0;   ///< fraction of pixels right
  double iou_background = 0.0;   ///< IoU of the background class
  double iou_particle = 0.0;     ///< IoU of the particle class
  double mean_iou = 0.0;         ///< mean of the two
  double dice_particle = 0.0;    ///< Dice (F1) of the particle class
  /// Particle by particle (segment::match_particles, found = 1/4 of its area covered):
  /// true particles not cut by the border, those found, and the median over the found
  /// of d(predicted) / d(true), equivalent diameters (> 1: boundaries drawn outside the
  /// true ones; 0 when none is found).
  int64_t particles = 0;
  int64_t particles_found = 0;
  double diameter_ratio = 0.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SegmentationScores, images, pixel_accuracy, iou_background,
                                                iou_particle, mean_iou, dice_particle, particles, particles_found,
                                                diameter_ratio)

/// Scores of bool `[H, W]` predictions against truths (same count and shapes).
SegmentationScores score_masks(const std::vector<torch::Tensor>& predicted, const std::vector<torch::Tensor>& truth);

/// Scores of the masks in folder `predicted` against those in `truth` (by stem).
SegmentationScores score_mask_folders(const fs::path& predicted, const fs::path& truth);

/// Writes a bool `[H, W]` mask as an 8-bit PNG (0 / 255).
void write_mask_png(const fs::path& path, const torch::Tensor& mask);

}  // namespace emgan::segment
