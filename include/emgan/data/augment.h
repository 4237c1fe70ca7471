#pragma once
/// \file augment.h
/// Augmentation on tensors (CPU or GPU; the result stays on the input's device).
/// Images are `[C, H, W]` or batches `[N, C, H, W]` (each element of a batch draws
/// its own parameters). Paired augmentation applies the same geometry to input and
/// target; noise is added to the input only. All randomness comes from the CPU
/// torch::Generator passed in (see make_generator), so a seed gives the same result
/// on every device.
///
/// Pipeline JSON (Compose::from_json), a list of steps, each with "type" and "p"
/// (probability of applying it, default 1):
///   [{"type": "flip_h", "p": 0.5}, {"type": "flip_v", "p": 0.5}, {"type": "rot90", "p": 1},
///    {"type": "shift_scale_rotate", "p": 0.5, "shift": 0.0625, "scale_min": 0.9,
///     "scale_max": 1.1, "rotate_deg": 45, "padding": "reflection", "fill": 0},
///    {"type": "gaussian_noise", "p": 0.5, "sigma": 0.01},
///    {"type": "poisson_noise", "p": 0.5, "dose": 1000}]
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/registry.h"
#include "emgan/data/sample.h"

namespace emgan::data {

/// One augmentation step.
class Augmentation {
 public:
  explicit Augmentation(double p) : p_(p) {}
  virtual ~Augmentation() = default;
  /// Registered type name.
  virtual std::string type() const = 0;
  /// Applies the step (with probability p) to `input` and, for geometric steps,
  /// to `target` (may be undefined). Both `[C, H, W]` or both `[N, C, H, W]`.
  void apply(torch::Tensor& input, torch::Tensor& target, torch::Generator& gen) const;
  /// {"type": ..., "p": ..., options...}
  virtual Json to_json() const = 0;
  double probability() const { return p_; }

 protected:
  /// Applies the step to one image `[C, H, W]` (and target), unconditionally.
  virtual void apply_one(torch::Tensor& input, torch::Tensor& target,
                         torch::Generator& gen) const = 0;
  double p_;
};

using AugmentationPtr = std::shared_ptr<Augmentation>;

/// Registry of steps by "type"; each factory takes the step's Json.
Registry<AugmentationPtr, const Json&>& augmentation_registry();

/// A sequence of steps applied in order.
class Compose {
 public:
  Compose() = default;
  explicit Compose(std::vector<AugmentationPtr> steps) : steps_(std::move(steps)) {}
  /// Builds from a JSON list (see the file comment); ConfigError naming the step
  /// index and key for an unknown type, unknown key or bad value.
  static Compose from_json(const Json& j);
  Json to_json() const;
  /// Applies every step to `input` and `target` (target may be undefined).
  void apply(torch::Tensor& input, torch::Tensor& target, torch::Generator& gen) const;
  /// Applies to a Sample (same geometry for input and target).
  Sample apply(Sample sample, torch::Generator& gen) const;
  bool empty() const { return steps_.empty(); }
  const std::vector<AugmentationPtr>& steps() const { return steps_; }

 private:
  std::vector<AugmentationPtr> steps_;
};

// --- deterministic building blocks (used by the steps; handy in tests) ----------

/// Rotates the last two dims by k * 90 degrees counter-clockwise (k any integer).
torch::Tensor rotate90(const torch::Tensor& x, int64_t k);

/// Affine warp of `x` (`[C, H, W]` or `[N, C, H, W]`) about the image centre:
/// rotation by `angle_deg` (counter-clockwise), isotropic `scale` (> 1 enlarges),
/// then a shift of (`shift_x`, `shift_y`) in fractions of the width/height. Square
/// pixels are kept for non-square images. `mode`: "bilinear" or "nearest";
/// `padding`: "zeros" (filled with `fill`), "border" or "reflection".
torch::Tensor affine_warp(const torch::Tensor& x, double angle_deg, double scale, double shift_x,
                          double shift_y, const std::string& mode = "bilinear",
                          const std::string& padding = "reflection", double fill = 0.0);

/// `x + sigma * N(0, 1)` (sigma in image units).
torch::Tensor gaussian_noise(const torch::Tensor& x, double sigma, torch::Generator& gen);

/// Shot noise at `dose` electrons per pixel for an image in [0, 1] (1 = full dose):
/// Poisson(clamp(x, 0) * dose) / dose. Mean ~ x, variance x / dose.
torch::Tensor poisson_noise(const torch::Tensor& x, double dose, torch::Generator& gen);

}  // namespace emgan::data
