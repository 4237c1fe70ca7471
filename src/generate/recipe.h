#pragma once
// Private to src/generate: one training recipe per model (modules, optimizers, one
// training iteration, sampling), and the run files shared by all of them.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emgan/generate/generate.h"
#include "emgan/generate/property.h"
#include "emgan/generate/source.h"
#include "emgan/report/html.h"

namespace emgan::generate::detail {

/// One model's training and sampling.
class Recipe {
 public:
  virtual ~Recipe() = default;
  /// Every module, by name, for checkpoints (generator first).
  virtual std::vector<std::pair<std::string, torch::nn::Module*>> modules() = 0;
  /// Modules needed for sampling (saved into model.pt).
  virtual std::vector<std::pair<std::string, torch::nn::Module*>> inference_modules() = 0;
  /// Every optimizer, by name.
  virtual std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimizers() = 0;
  /// Column names of the metrics step() returns, in order.
  virtual std::vector<std::string> metric_names() const = 0;
  /// One generator iteration (with its critic/discriminator steps); returns metrics.
  /// `progress`: the iteration's fraction of the run, in [0, 1) (for annealed terms).
  virtual std::map<std::string, double> step(const TrainingData& data, double progress) = 0;
  /// `count` samples in model channels: volumes `[count, C, S, S, S]` (slicegan, side
  /// `size`, 0 = training size) or images `[count, C, H, W]`; no grad. `batch_stats`:
  /// batch norm normalises with the statistics of the generated batch (each slicegan
  /// volume on its own, the `count` 2D images together), as during training; false:
  /// with the running statistics (eval mode). Running statistics are left unchanged.
  virtual torch::Tensor sample(int64_t count, int64_t size, bool periodic, bool batch_stats) = 0;
  /// True for 3D models.
  virtual bool volumetric() const = 0;
  /// (slicegan) gives the critics of `axes` ("z", "y", "x") new random weights and a new
  /// optimizer state (GenerateTrainSettings::reset_critics); ConfigError for other models.
  virtual void reset_critics(const std::vector<std::string>& axes);
  /// Encoder means `[N, latent]` of images `[N, C, S, S]` (vae, vaegan); ConfigError otherwise.
  virtual torch::Tensor encode(const torch::Tensor& x);
  /// Decoded images `[N, C, S, S]` of latents `[N, latent]` (2D models).
  virtual torch::Tensor decode(const torch::Tensor& z);
  /// Training crop side of the 2D models (0 for slicegan).
  virtual int64_t image_size() const { return 0; }
};

/// `emgan generate sample --reconstruct`: reconstructions of `images` (crops of
/// image_size from their top-left corner) and a latent interpolation between the
/// first two, written into `out` and added to `rep`.
void reconstruct_report(Recipe& recipe, const std::vector<std::string>& images, const TrainingData& codec,
                        const fs::path& out, report::Report& rep);

/// Runs `fn` with `module` in training mode (batch statistics) or eval mode, under no
/// grad, and restores its mode and batch-norm running statistics afterwards.
torch::Tensor with_norm_stats(torch::nn::Module& module, bool batch_stats, const std::function<torch::Tensor()>& fn);

/// Builds the recipe of `settings.model` for data encoded as `encoding`.
std::unique_ptr<Recipe> make_recipe(const GenerateTrainSettings& settings, const Encoding& encoding,
                                    const torch::Device& device);

std::unique_ptr<Recipe> make_slicegan_recipe(const GenerateTrainSettings& settings, const Encoding& encoding,
                                             const torch::Device& device);
std::unique_ptr<Recipe> make_2d_recipe(const GenerateTrainSettings& settings, const Encoding& encoding,
                                       const torch::Device& device);

}  // namespace emgan::generate::detail
