#pragma once
/// \file phases.h
/// From a loaded image or volume to a phase label map, and back.
///
/// A label map is an int64 tensor `[H, W]` (image) or `[D, H, W]` (volume) with
/// values 0..P-1, one per phase, on any device. Phases are numbered in increasing
/// order of the original sample value (the darkest phase is 0), and the original
/// value of every phase is kept in PhaseMap::values so results can name it.
///
/// A segmented (n-phase) file has few distinct values (e.g. {0, 85, 170}); a grey
/// image that was never segmented has hundreds, and must not silently become
/// hundreds of phases: detect_phases throws a ConfigError that suggests
/// `--phases N` (multi-level Otsu thresholding into N phases) instead.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace emgan::micro {

/// A phase label map and where its labels came from.
struct PhaseMap {
  torch::Tensor labels;        ///< int64 `[H, W]` or `[D, H, W]`, values 0..P-1
  std::vector<double> values;  ///< P original sample values (detected) or class means (thresholded)
  std::vector<double> thresholds;  ///< P-1 thresholds used (thresholded only; empty when detected)
  bool thresholded = false;    ///< true when made by threshold_phases
  int64_t phases() const { return static_cast<int64_t>(values.size()); }  ///< P
};

/// Most distinct values detect_phases accepts as an n-phase label image.
constexpr int64_t kMaxDetectedPhases = 16;

/// The label-ready grey tensor of an io::Image: `[C, H, W]` -> `[H, W]`,
/// `[C, D, H, W]` -> `[D, H, W]` (io::read_image's layouts). One channel is taken
/// as it is; colour (C = 3 or 4) becomes the mean of R, G, B. Throws ConfigError
/// naming `source` for other channel counts or ranks.
torch::Tensor squeeze_channels(const torch::Tensor& image, const std::string& source = "");

/// Detects the phases of a label image `[H, W]` or `[D, H, W]` (any dtype, any
/// device): its distinct finite values, mapped in increasing order to 0..P-1.
/// Throws ConfigError naming `source` when there are more than `max_phases`
/// distinct values (an unsegmented grey image: "use --phases N to threshold it"),
/// when a value is NaN/Inf, or when there is only one value (no microstructure).
PhaseMap detect_phases(const torch::Tensor& image, int64_t max_phases = kMaxDetectedPhases,
                       const std::string& source = "");

/// Multi-level Otsu thresholds of `image` (any shape/device, finite values) into
/// `phases` (2..8) classes: the `phases`-1 thresholds, increasing, that maximise
/// the between-class variance of a 256-bin histogram over [min, max].
std::vector<double> otsu_thresholds(const torch::Tensor& image, int64_t phases);

/// Segments a grey image `[H, W]` or `[D, H, W]` into `phases` (2..8) phases by
/// multi-level Otsu thresholds (label k = values in (t_{k-1}, t_k]); values are the
/// class means. Throws ConfigError naming `source` for a constant image.
PhaseMap threshold_phases(const torch::Tensor& image, int64_t phases, const std::string& source = "");

/// detect_phases when `phases` is 0, else threshold_phases with `phases` classes
/// (an image that already has exactly `phases` distinct values is detected, not
/// thresholded, so its original values are kept).
PhaseMap to_phases(const torch::Tensor& image, int64_t phases = 0, const std::string& source = "");

/// One-hot encoding of a label map `[...]` (int64, 0..phases-1) as float32
/// `[phases, ...]` on the same device (channel p is 1 where the label is p).
torch::Tensor one_hot(const torch::Tensor& labels, int64_t phases);

/// Labels from a one-hot or softmax tensor `[P, ...]`: argmax over the first axis,
/// int64 `[...]`.
torch::Tensor labels_from_one_hot(const torch::Tensor& channels);

}  // namespace emgan::micro
