#pragma once
/// \file poly.h
/// The polynomial baseline of the conv-to-multislice translation (Combs et al. 2019):
/// each multislice pixel is a polynomial of the convolution pixels in a k x k window
/// around it, fitted by ordinary least squares over all training pixels.
///
/// Prediction of one image (x = convolution image, physical units of its file):
///   s      = per-image scale of x from x alone (see `normalization`), or the
///            dataset scale fitted on the training inputs;
///   x_n    = (x - offset) / s;
///   y_hat  = gain_g * (scale_output ? s : 1) * (features(x_n) . beta)
/// where gain_g is 1 unless the model was fitted with groups (materials): then gain_g
/// = sum(training targets of group g) / sum(training inputs of group g), computed from
/// the training images only (the pooled ratio of all training images for a group not
/// seen in training). y_hat is in the multislice image's units (fraction of beam);
/// prediction reads only the input image (and its group name), never a target.
///
/// Features of pixel (i, j), in this column order (window offsets row-major,
/// dy, dx = -r..r with r = k/2, borders reflect-padded without repeating the edge):
///   1. for p = 1..degree, for each window pixel w: w^p            (degree * k^2)
///   2. cross terms, products of two different window pixels:
///        "none": none; "centre": centre * w for every other w      (k^2 - 1)
///        "near": every pair within the central 3x3 (9 choose 2)     (36, k >= 3)
///        "all":  every pair of the window, k <= 5                   (k^2 (k^2-1)/2)
///   3. if log_centre: log(max(centre, log_eps * max|x_n|))          (1)
///   4. the intercept 1                                              (1)
/// See docs/POLY.md for the measured effect of each option on the real data.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::models {

/// Settings of PolyRegression. Defaults are the best setting of docs/POLY.md.
struct PolyOptions {
  /// Window side k (odd: 1, 3, 5 or 7), pixels.
  TORCH_ARG(int64_t, window) = 5;
  /// Highest power d of each window pixel (1..6).
  TORCH_ARG(int64_t, degree) = 3;
  /// Cross terms: "none", "centre", "near" or "all" (see the file comment).
  TORCH_ARG(std::string, cross) = "none";
  /// Adds log of the (normalised, clamped) centre pixel as a feature.
  TORCH_ARG(bool, log_centre) = false;
  /// Clamp of the log feature, relative to the image's max |x_n| (> 0), unitless.
  TORCH_ARG(double, log_eps) = 1e-6;
  /// Input normalisation before the features: "none", "max" (x / max x), "mean"
  /// (x / mean x), "std" (x / std x), "meanstd" ((x - mean) / std), "minmax"
  /// ((x - min) / (max - min)), all per image from the input alone, or "dataset"
  /// (x / the largest value of the training inputs, fitted in fit()).
  TORCH_ARG(std::string, normalization) = "max";
  /// Multiplies the prediction by the per-image scale s (and fits y / s): the
  /// polynomial then maps shapes, s carries the intensity. Only for "max", "mean",
  /// "std" (the others have an offset or no per-image scale).
  TORCH_ARG(bool, scale_output) = true;
  /// Relative ridge added to the unit-diagonal (Jacobi-scaled) normal matrix only when
  /// its Cholesky factorisation fails (a singular or numerically indefinite system).
  TORCH_ARG(double, ridge) = 1e-10;
};

/// Throws ConfigError naming the option and value unless `options` is valid.
void validate(const PolyOptions& options);
/// Normalisation names accepted by PolyOptions::normalization.
const std::vector<std::string>& poly_normalizations();
/// Cross-term names accepted by PolyOptions::cross.
const std::vector<std::string>& poly_cross_terms();
/// Options as JSON (every field) and back; from_json takes defaults for missing keys
/// and throws ConfigError naming `source` for unknown keys, wrong types, bad values.
Json poly_options_to_json(const PolyOptions& options);
PolyOptions poly_options_from_json(const Json& j, const std::string& source);

/// The fitted polynomial model. Copyable; holds float64 coefficients on the device of
/// the last fit (or the CPU after load; predict moves them to the input's device).
class PolyRegression {
 public:
  /// Validates `options` (ConfigError).
  explicit PolyRegression(PolyOptions options = {});

  /// Fits by OLS over every pixel of the pairs. inputs[i]: convolution image
  /// [H_i, W_i] or [1, H_i, W_i], any float dtype, any device, finite; targets[i]: the
  /// multislice image of the same shape (fraction of beam). Sizes may differ between
  /// pairs. `groups` is empty or one name per pair (the material); with names, a gain
  /// per group is fitted (see the file comment). X^T X and X^T y are accumulated in
  /// float64 image by image, so memory does not grow with the number of pixels.
  /// Throws ConfigError/Error naming the pair index for bad shapes, non-finite values
  /// or a zero normalisation scale. Refitting replaces the previous fit.
  void fit(const std::vector<torch::Tensor>& inputs, const std::vector<torch::Tensor>& targets,
           const std::vector<std::string>& groups = {});

  /// Predicts the multislice image of one convolution image [H, W] or [1, H, W] (any
  /// size, float dtype, device) -> the same shape and dtype (float32 for non-float
  /// input), fraction of beam. `group` selects the fitted gain ("" or an unknown group:
  /// the pooled gain). Throws Error if not fitted.
  torch::Tensor predict(const torch::Tensor& input, const std::string& group = "") const;

  /// The feature matrix [H*W, num_features()] (float64, row-major pixels) of an
  /// already normalised image x_n [H, W].
  torch::Tensor features(const torch::Tensor& normalized) const;
  /// Number of feature columns (intercept included).
  int64_t num_features() const;

  /// Normalises one input image [H, W] as predict does: returns x_n (float64) and
  /// sets `scale` to s (the factor the prediction is multiplied by when
  /// scale_output is set, else 1). Throws Error for a zero or non-finite scale.
  torch::Tensor normalize(const torch::Tensor& image, double* scale) const;

  bool fitted() const { return coefficients_.defined(); }
  const PolyOptions& options() const { return options_; }
  /// beta, float64 [num_features()], undefined before fit.
  const torch::Tensor& coefficients() const { return coefficients_; }
  /// The "dataset" normalisation scale (largest training input value), 1 otherwise.
  double dataset_scale() const { return dataset_scale_; }
  /// Fitted gain per group (empty when fitted without groups) and the pooled gain.
  const std::map<std::string, double>& group_gains() const { return group_gains_; }
  double pooled_gain() const { return pooled_gain_; }
  /// True when the Cholesky factorisation failed and the ridge was used.
  bool ridge_used() const { return ridge_used_; }
  /// Number of training pixels of the last fit.
  int64_t training_pixels() const { return training_pixels_; }

  /// The whole model (format tag, options, normalisation, gains, coefficients with
  /// full double precision) as JSON, and back (IoError/ConfigError naming `source`).
  Json to_json() const;
  static PolyRegression from_json(const Json& j, const std::string& source);

  /// Writes the model as one JSON file, atomically. Throws Error if not fitted.
  void save(const fs::path& path) const;
  /// Reads a file written by save(); a file of another kind is an IoError naming it.
  static PolyRegression load(const fs::path& path);

  /// The `format` tag of a saved model.
  static constexpr const char* kFormat = "emgan-poly";

 private:
  double group_gain(const std::string& group) const;

  PolyOptions options_;
  torch::Tensor coefficients_;
  double dataset_scale_ = 1.0;
  std::map<std::string, double> group_gains_;
  double pooled_gain_ = 1.0;
  bool ridge_used_ = false;
  int64_t training_pixels_ = 0;
};

}  // namespace emgan::models
