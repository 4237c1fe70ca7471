#pragma once
/// \file normalize.h
/// Invertible intensity normalisation, stored with the model (to_json/from_json).
///
/// Every strategy has the form  y = (g(x) - offset) / scale  with g(x) = x, or
/// g(x) = log(x - log_shift) for "log"; its inverse is x = g^-1(y * scale + offset).
/// The parameters (Stats) come either from the image being normalised ("minmax",
/// "meanstd", "log": per image) or from fit() on the training split only
/// ("dataset_scale", "dataset_meanstd").
///
/// No strategy may use the target of a test sample at prediction time: per-image
/// statistics come from the tensor passed to forward(), which at prediction time is
/// the input; to bring a prediction back to target units use a dataset-level
/// strategy for targets (fitted on the training targets), whose Stats need no image.
///
/// | name            | stats from      | y                                        | range of y |
/// | none            | -               | x                                        | as x |
/// | minmax          | the image       | (x - min) / (max - min)                  | [0, 1] |
/// | meanstd         | the image       | (x - mean) / std                         | ~N(0,1) |
/// | log             | the image       | (z - zmin) / (zmax - zmin), see below    | [0, 1] |
/// | dataset_scale   | fit()           | (x - lo) / (hi - lo), see below          | ~[0, 1] |
/// | dataset_meanstd | fit()           | (x - mean) / std, all training pixels    | ~N(0,1) |
///
/// "log": z = log(x - min + eps * (max - min)) with the image's min and max and
/// option eps (default 1e-3), so the darkest pixel maps to log(eps * range).
/// "dataset_scale": hi = the maximum over the training images, lo = 0 (or their
/// minimum with option {"offset": true}).
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/registry.h"

namespace emgan::data {

/// Parameters of one normalisation. Tensors broadcast against the image: scalars
/// for forward(), `[N, 1, 1, 1]` (rank of the batch) for forward_batch().
struct NormStats {
  torch::Tensor offset;     ///< subtracted after g (image units, or log units for "log")
  torch::Tensor scale;      ///< divided by after subtracting offset (> 0)
  torch::Tensor log_shift;  ///< "log" only: g(x) = log(x - log_shift); undefined otherwise
};

/// A normalised tensor and the parameters that invert it.
struct Normalized {
  torch::Tensor value;
  NormStats stats;
};

/// Base class of the strategies; build them with make_normalizer().
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  /// Registered name ("minmax", ...).
  virtual std::string name() const = 0;
  /// Fits dataset-level parameters on the training images (any shapes, image
  /// units). Per-image strategies ignore it. Throws ConfigError for an empty list.
  virtual void fit(const std::vector<torch::Tensor>& train_images);
  /// Whether fit() is needed before forward() (dataset-level strategies).
  virtual bool needs_fit() const { return false; }
  virtual bool is_fitted() const { return true; }
  /// Normalises one image (any shape; per-image stats over all its elements).
  virtual Normalized forward(const torch::Tensor& image) const = 0;
  /// Normalises a batch `[N, ...]`, per-image stats per element of dim 0.
  virtual Normalized forward_batch(const torch::Tensor& batch) const;
  /// Inverse of forward with the given stats (broadcast against `y`).
  torch::Tensor inverse(const torch::Tensor& y, const NormStats& stats) const;
  /// Stats of a dataset-level strategy (no image needed); throws ConfigError for a
  /// per-image strategy or before fit().
  virtual NormStats dataset_stats() const;
  /// {"name": ..., options..., fitted parameters...}: enough for from_json.
  virtual Json to_json() const = 0;

 protected:
  /// Computes per-image stats of `x` over dims `dims` (empty = all), kept for broadcasting.
  virtual NormStats compute_stats(const torch::Tensor& x,
                                  const std::vector<int64_t>& dims) const = 0;
  /// Applies the stats.
  torch::Tensor apply(const torch::Tensor& x, const NormStats& stats) const;
};

using NormalizerPtr = std::shared_ptr<Normalizer>;

/// The registry of strategies: each factory takes the Json of to_json() (name key
/// optional) with options such as {"eps": 1e-3} for "log" or {"offset": true} for
/// "dataset_scale"; unknown keys are ConfigErrors.
Registry<NormalizerPtr, const Json&>& normalizer_registry();

/// Builds strategy `name` with `options` (see normalizer_registry()).
NormalizerPtr make_normalizer(const std::string& name, const Json& options = Json::object());
/// Rebuilds a normaliser (with its fitted parameters) from to_json().
NormalizerPtr normalizer_from_json(const Json& j);

}  // namespace emgan::data
