#pragma once
/// \file source.h
/// Training data of the generative models: 2D images or a 3D volume, encoded once
/// (n-phase one-hot, grey or colour scaled to [0, 1]) and kept whole on the device;
/// training batches are random crops drawn from it on demand, so a large image is
/// never cut into all its crops in memory.
#include <torch/types.h>

#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::generate {

/// How the values of the training data are modelled.
struct Encoding {
  /// "phases" (one channel per phase, one-hot), "grey" (1 channel in [0, 1]) or
  /// "colour" (3 channels in [0, 1]).
  std::string kind = "phases";
  int64_t channels = 0;            ///< model channels: phases, 1 or 3
  std::vector<double> values;      ///< phases: original sample value of each phase
  std::vector<double> thresholds;  ///< phases made by Otsu thresholds: the P-1 thresholds (else empty)
  double low = 0.0;                ///< grey/colour: file value mapped to 0
  double high = 1.0;               ///< grey/colour: file value mapped to 1
  bool volume = false;             ///< the source is one 3D volume (slices along each axis)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Encoding, kind, channels, values, thresholds, low, high, volume)

/// Encoded training data: one or more 2D images `[C, H, W]` or one volume
/// `[C, D, H, W]`, channels as in `encoding`, float32 on one device.
class TrainingData {
 public:
  /// Reads `paths` and encodes them. `phases` > 0 forces that many phases (Otsu
  /// thresholds for a grey image); `grey` models intensities instead of phases.
  /// With neither, a label image with few distinct values is detected as n-phase,
  /// colour (3-4 channels) stays colour, and a grey image with many distinct values
  /// is a ConfigError asking for `--phases N` or `--grey` (never hundreds of phases).
  /// All files must give the same encoding (the first file's phase values are used
  /// for the others; a file with a value not among them is a ConfigError).
  static TrainingData load(const std::vector<std::string>& paths, int64_t phases, bool grey,
                           const torch::Device& device);

  /// Encodes one file image `[C, H, W]` or `[C, D, H, W]` (file values) with an
  /// existing encoding -> model channels on the CPU. ConfigError naming `source` for
  /// a value that is not a phase value.
  static torch::Tensor encode(const torch::Tensor& image, const Encoding& encoding, const std::string& source);

  /// Builds from already-encoded tensors (images `[C, H, W]` or one `[C, D, H, W]`).
  TrainingData(std::vector<torch::Tensor> items, Encoding encoding);
  TrainingData() = default;

  const Encoding& encoding() const { return encoding_; }
  const std::vector<torch::Tensor>& items() const { return items_; }
  /// True when the data is one 3D volume.
  bool is_volume() const;
  /// The source files (empty when built from tensors).
  const std::vector<std::string>& paths() const { return paths_; }

  /// `n` random `size` x `size` crops `[n, C, size, size]` for the critic of `axis`
  /// (0, 1, 2): from image `axis` when there are three images (anisotropic), from the
  /// only image otherwise (isotropic), or from random slices of the volume
  /// perpendicular to `axis`. Positions come from torch's seeded generator.
  /// ConfigError when an image is smaller than `size`.
  torch::Tensor crops(int64_t axis, int64_t n, int64_t size) const;

  /// `n` random crops `[n, C, size, size]` from any image (2D models).
  torch::Tensor random_crops(int64_t n, int64_t size) const;

  /// Per-channel mean of all data (phase fractions for n-phase data).
  std::vector<double> channel_means() const;

  /// Model channels `[C, ...]` back to file values: phases -> label argmax mapped to
  /// the phase values `[...]`; grey/colour -> low + x (high - low) `[C, ...]`.
  torch::Tensor decode(const torch::Tensor& channels) const;

 private:
  std::vector<torch::Tensor> items_;
  Encoding encoding_;
  std::vector<std::string> paths_;
};

/// Random symmetries of crops `[N, C, S, S]`, each crop its own draw from torch's
/// seeded generator: "none" (returned as is), "flips" (horizontal and vertical
/// flips, each with probability 1/2: keeps which directions are horizontal and
/// vertical, so layers stay layers) or "dihedral" (all 8 flips and 90-degree
/// rotations with equal probability: for materials that are isotropic in the
/// image plane). ConfigError for another mode.
torch::Tensor augment_crops(const torch::Tensor& crops, const std::string& mode);

}  // namespace emgan::generate
